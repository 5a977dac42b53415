//! Compiling C sources against one NumPy's headers, with the interpreter's
//! own compiler settings (sysconfig's CC, CFLAGS, CCSHARED, LDSHARED), the
//! way setuptools would but without its start-up cost.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{Artifact, BuildError, step};
use crate::environment::NumpyEnv;
use crate::extension::Sources;
use crate::process::Spec;
use crate::python::Interpreter;
use pep440_rs::Version;

/// The key of a build: sources, flags, module name, the interpreter and its
/// compiler settings, and the NumPy version (its headers).
pub fn key(sources: &Sources, interpreter: &Interpreter, numpy: &Version) -> String {
    let mut parts: Vec<Vec<u8>> = vec![
        interpreter.cache_key().into_bytes(),
        numpy.to_string().into_bytes(),
        sources.module.clone().into_bytes(),
    ];
    for s in &sources.files {
        parts.push(s.name.clone().into_bytes());
        parts.push(s.contents.clone().into_bytes());
    }
    // Every flag and folder of the compile and the link, each list tagged
    // so an entry cannot move from one list to the next unnoticed.
    for (tag, list) in [
        ("cflags", &sources.cflags),
        ("ldflags", &sources.ldflags),
        ("libraries", &sources.libraries),
    ] {
        parts.push(tag.as_bytes().to_vec());
        parts.extend(list.iter().map(|f| f.clone().into_bytes()));
    }
    for (tag, dirs) in [
        ("include-dirs", &sources.include_dirs),
        ("library-dirs", &sources.library_dirs),
    ] {
        parts.push(tag.as_bytes().to_vec());
        parts.extend(
            dirs.iter()
                .map(|d| d.to_string_lossy().into_owned().into_bytes()),
        );
    }
    for v in [
        &interpreter.cc,
        &interpreter.cflags,
        &interpreter.ccshared,
        &interpreter.ldshared,
    ] {
        parts.push(v.clone().into_bytes());
    }
    crate::cache::digest(parts)
}

/// A compiler's line worth showing in a summary.
fn compiler_error(line: &str) -> bool {
    line.contains("error")
}

/// Compiles `sources` against `env`'s NumPy into `out`: each source where
/// it is, by its absolute path (so the compiler's messages name the user's
/// own file and its "..." headers are found beside it), each object under a
/// name of its own (`obj/0-util.o`, `obj/1-util.o`: two `util.c` in two
/// folders do not collide), then the link, then a check that the module
/// defines `PyInit_<module>`.
pub async fn compile(
    sources: &Sources,
    interpreter: &Interpreter,
    env: &NumpyEnv,
    out: &Path,
    limit: std::time::Duration,
) -> Result<Artifact, BuildError> {
    let start = Instant::now();
    let mut log = String::new();
    let objects_dir = out.join("obj");
    std::fs::create_dir_all(&objects_dir).map_err(|e| {
        BuildError::new(format!("cannot create {}: {e}", objects_dir.display()), "")
    })?;
    let words = |what: &str, value: &str| {
        shlex::split(value)
            .ok_or_else(|| BuildError::new(format!("cannot parse sysconfig {what}: {value}"), ""))
    };
    let cc = words("CC", &interpreter.cc)?;
    let ldshared = words("LDSHARED", &interpreter.ldshared)?;
    let cflags = words("CFLAGS", &interpreter.cflags)?;
    let ccshared = words("CCSHARED", &interpreter.ccshared)?;
    let (Some(cc_prog), Some(ld_prog)) = (cc.first(), ldshared.first()) else {
        return Err(BuildError::new("sysconfig names no C compiler", ""));
    };

    let mut objects = Vec::new();
    let mut dep_files = Vec::new();
    for (i, source) in sources.files.iter().enumerate() {
        let src = match &source.path {
            Some(path) => path.clone(),
            None => {
                // The embedded sample: written into the build, once.
                let path = out.join("src").join(&source.name);
                std::fs::create_dir_all(out.join("src"))
                    .and_then(|()| std::fs::write(&path, &source.contents))
                    .map_err(|e| {
                        BuildError::new(format!("cannot write {}: {e}", path.display()), &log)
                    })?;
                path
            }
        };
        let stem = Path::new(&source.name)
            .file_stem()
            .map_or_else(|| "source".into(), |s| s.to_string_lossy().into_owned());
        let object = objects_dir.join(format!("{i}-{stem}.o"));
        let deps = objects_dir.join(format!("{i}-{stem}.d"));
        let mut spec = Spec::new(cc_prog)
            .args(&cc[1..])
            .args(&cflags)
            .args(&ccshared)
            .arg(format!("-I{}", interpreter.include.display()))
            .arg(format!("-I{}", env.include.display()));
        for dir in &sources.include_dirs {
            spec = spec.arg(format!("-I{}", dir.display()));
        }
        // -MD -MF: the compiler lists every file it read, so a warm run
        // rebuilds when a header changed, not only when a listed source did.
        spec = spec
            .args(&sources.cflags)
            .arg("-MD")
            .arg("-MF")
            .arg(&deps)
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&object)
            .cwd(out)
            .timeout(limit);
        step(spec, &mut log, None, compiler_error).await?;
        objects.push(object);
        dep_files.push(deps);
    }

    let module_path = out.join(format!("{}{}", sources.module, interpreter.ext_suffix));
    let mut spec = Spec::new(ld_prog)
        .args(&ldshared[1..])
        .args(&objects)
        .arg("-o")
        .arg(&module_path);
    for dir in &sources.library_dirs {
        spec = spec.arg(format!("-L{}", dir.display()));
    }
    for lib in &sources.libraries {
        spec = spec.arg(format!("-l{lib}"));
    }
    spec = spec.args(&sources.ldflags).cwd(out).timeout(limit);
    step(spec, &mut log, None, compiler_error).await?;
    check_init(&module_path, &sources.module, &log)?;
    // What the compiler read, but this build's own folder (the embedded
    // sample's source) and the NumPy environment's headers (the
    // environment's own manifest proves those).
    let mut inputs: Vec<PathBuf> = Vec::new();
    for d in &dep_files {
        let text = std::fs::read_to_string(d)
            .map_err(|e| BuildError::new(format!("cannot read {}: {e}", d.display()), &log))?;
        for path in dependencies(&text) {
            if !path.starts_with(out) && !path.starts_with(&env.dir) && !inputs.contains(&path) {
                inputs.push(path);
            }
        }
    }
    Ok(Artifact {
        dir: out.to_path_buf(),
        module_path,
        wheel: None,
        package: None,
        inputs,
        forced: None,
        log,
        duration: start.elapsed(),
        reused: false,
    })
}

/// The files a make-style dependency file (`-MD -MF`) lists as read.
fn dependencies(text: &str) -> Vec<PathBuf> {
    // "target.o: a.c b.h \\\n c.h": join the continued lines, drop the target,
    // and unescape "\\ " (a space in a name).
    let joined = text.replace("\\\n", " ");
    let Some((_, deps)) = joined.split_once(": ") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = deps.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                word.push(' ');
                chars.next();
            }
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    out.push(PathBuf::from(std::mem::take(&mut word)));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(PathBuf::from(word));
    }
    out
}

/// The `PyInit_*` functions a built module exports (its dynamic symbols).
pub fn init_functions(module: &Path) -> Result<Vec<String>, String> {
    use object::{Object as _, ObjectSymbol as _};
    let data =
        std::fs::read(module).map_err(|e| format!("cannot read {}: {e}", module.display()))?;
    let file = object::File::parse(&*data)
        .map_err(|e| format!("{} is not a shared object: {e}", module.display()))?;
    let mut names: Vec<String> = file
        .dynamic_symbols()
        .filter(|s| s.is_definition())
        .filter_map(|s| s.name().ok().map(str::to_string))
        .filter(|n| n.starts_with("PyInit_"))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Python imports `module` by calling `PyInit_<module>`: without it every
/// cell would fail with "dynamic module does not define module export
/// function". Said once, at build time, naming the key to change.
fn check_init(module_path: &Path, module: &str, log: &str) -> Result<(), BuildError> {
    let found = init_functions(module_path).map_err(|e| BuildError::new(e, log))?;
    let want = format!("PyInit_{module}");
    if found.contains(&want) {
        return Ok(());
    }
    let defines = match found.as_slice() {
        [] => "it defines no PyInit_ function at all".to_string(),
        names => format!("it defines {}", names.join(", ")),
    };
    Err(BuildError::new(
        format!(
            "the built module does not define {want}, so Python cannot import it as \"{module}\": {defines}; set extension.module in matrix.toml to the name the sources define (PyInit_<module>)"
        ),
        log,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extension::{Extension, Subject};

    #[test]
    fn dependency_files_are_read_as_make_writes_them() {
        let text = "/b/obj/0-ext.o: /p/src/ext.c /usr/include/stdio.h \\\n /p/my\\ dir/helper.h \\\n /e/numpy/arrayobject.h\n";
        assert_eq!(
            dependencies(text),
            [
                PathBuf::from("/p/src/ext.c"),
                PathBuf::from("/usr/include/stdio.h"),
                PathBuf::from("/p/my dir/helper.h"),
                PathBuf::from("/e/numpy/arrayobject.h"),
            ]
        );
        assert!(dependencies("garbage").is_empty());
    }

    /// Anything that changes the compile or the link changes the key: a
    /// warm run never reuses a build made without the library asked for.
    #[test]
    fn every_flag_and_folder_is_in_the_key() {
        let Subject::Sources(base) = Extension::sample().subject else {
            unreachable!()
        };
        let interpreter = crate::report::fixtures::interpreter("3.11.7");
        let numpy: Version = "2.0.2".parse().unwrap();
        let k = |s: &Sources| key(s, &interpreter, &numpy);
        let mut seen = vec![k(&base)];
        let edits: [fn(&mut Sources); 6] = [
            |s| s.cflags.push("-O3".into()),
            |s| s.ldflags.push("-Wl,-z,now".into()),
            |s| s.libraries.push("gomp".into()),
            |s| s.include_dirs.push("/inc".into()),
            |s| s.library_dirs.push("/lib".into()),
            |s| s.files[0].contents.push(' '),
        ];
        for edit in edits {
            let mut s = base.clone();
            edit(&mut s);
            let key = k(&s);
            assert!(!seen.contains(&key), "{s:?}");
            seen.push(key);
        }
        // A library name moved into the flags is another build too.
        let mut a = base.clone();
        a.libraries.push("m".into());
        let mut b = base.clone();
        b.ldflags.push("m".into());
        assert_ne!(k(&a), k(&b));
    }
}
