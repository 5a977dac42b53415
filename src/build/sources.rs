//! Compiling C sources against one NumPy's headers, with the interpreter's
//! own compiler settings (sysconfig's CC, CFLAGS, CCSHARED, LDSHARED), the
//! way setuptools would but without its start-up cost. The compiler runs
//! with an environment the tool decides (`toolchain::PASSED`), never the
//! shell's whole one.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::toolchain::{self, Toolchain};
use super::{Artifact, BuildError, BuildFailure, Read, SymbolsError, depfile, step};
use crate::environment::NumpyEnv;
use crate::extension::Sources;
use crate::process::Spec;
use crate::python::Interpreter;
use pep440_rs::Version;

/// The key of a build: sources, flags, module name, the limited API it
/// targets, the interpreter and its compiler settings, and the NumPy
/// version (its headers). The compiler as
/// it runs now (what it is, where its `#include` looks) is checked at reuse
/// instead (`Toolchain::fingerprint`, kept with the build): a shard testing
/// uploaded builds finds them by this key without a compiler of its own.
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
    // Only when set, so every build keyed before it keeps its key.
    if let Some(limited) = sources.limited_api {
        parts.push(b"limited-api".to_vec());
        parts.push(limited.define().into_bytes());
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

/// sysconfig's settings split into words.
struct Settings {
    cc: Vec<String>,
    ldshared: Vec<String>,
    cflags: Vec<String>,
    ccshared: Vec<String>,
}

impl Settings {
    fn of(interpreter: &Interpreter) -> Result<Settings, BuildError> {
        let words = |what: &'static str, value: &str| {
            shlex::split(value).ok_or_else(|| BuildFailure::Sysconfig {
                what,
                value: value.to_string(),
            })
        };
        let settings = Settings {
            cc: words("CC", &interpreter.cc)?,
            ldshared: words("LDSHARED", &interpreter.ldshared)?,
            cflags: words("CFLAGS", &interpreter.cflags)?,
            ccshared: words("CCSHARED", &interpreter.ccshared)?,
        };
        if settings.cc.is_empty() || settings.ldshared.is_empty() {
            return Err(BuildFailure::NoCompiler.into());
        }
        Ok(settings)
    }

    /// The compile command up to its input and output: the compiler, its
    /// flags and include folders (NumPy's when `numpy` is given), in the
    /// environment the tool gives it.
    fn compile(&self, sources: &Sources, interpreter: &Interpreter, numpy: Option<&Path>) -> Spec {
        let mut spec = compiler_spec(&self.cc[0])
            .args(&self.cc[1..])
            .args(&self.cflags)
            .args(&self.ccshared)
            .arg(format!("-I{}", interpreter.include.display()));
        if let Some(numpy) = numpy {
            spec = spec.arg(format!("-I{}", numpy.display()));
        }
        for dir in &sources.include_dirs {
            spec = spec.arg(format!("-I{}", dir.display()));
        }
        spec.args(limited_flags(sources)).args(&sources.cflags)
    }
}

/// The flags of a limited-API build: `Py_LIMITED_API`, and an implicitly
/// declared function made an error. The limited API hides the full API's
/// macros and functions (`PyList_GET_ITEM`, `PyTuple_GET_SIZE`, ...);
/// gcc 12 only warns about a call to one and links a module that names it
/// as an undefined symbol, which no Python loads. gcc 14 and clang 16 make
/// it an error by themselves: with the flag every compiler says so at
/// build time, where the hint can name it.
fn limited_flags(sources: &Sources) -> Vec<String> {
    match sources.limited_api {
        Some(limited) => vec![
            limited.define(),
            "-Werror=implicit-function-declaration".to_string(),
        ],
        None => Vec::new(),
    }
}

/// The module's file name: `<module>.abi3.so` for a limited-API build
/// (every newer Python looks for that name), else the interpreter's own
/// suffix (`.cpython-312-x86_64-linux-gnu.so`: only it looks for that).
pub fn module_file(sources: &Sources, interpreter: &Interpreter) -> String {
    match sources.limited_api {
        Some(_) => format!("{}{}", sources.module, crate::python::abi::ABI3_SUFFIX),
        None => format!("{}{}", sources.module, interpreter.ext_suffix),
    }
}

/// `program` with the environment a compile or link gets: rebuilt from
/// nothing, with only `toolchain::PASSED` from the host.
fn compiler_spec(program: &str) -> Spec {
    let mut spec = Spec::new(program).env_clear();
    for (key, value) in toolchain::environment() {
        spec = spec.env(key, value);
    }
    spec
}

/// What the compiler of `interpreter` is and where it looks, for the
/// sources' flags and folders (asked once a run).
pub async fn toolchain(
    sources: &Sources,
    interpreter: &Interpreter,
) -> Result<Toolchain, BuildError> {
    let settings = Settings::of(interpreter)?;
    Toolchain::probe(
        settings.compile(sources, interpreter, None),
        &settings.cc[0],
    )
    .await
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
    toolchain: Option<&Toolchain>,
    out: &Path,
    limit: std::time::Duration,
) -> Result<Artifact, BuildError> {
    let start = Instant::now();
    let mut log = String::new();
    let objects_dir = out.join("obj");
    std::fs::create_dir_all(&objects_dir)
        .map_err(|e| BuildFailure::io(format!("cannot create {}", objects_dir.display()), e))?;
    let settings = Settings::of(interpreter)?;

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
                        let what = format!("cannot write {}", path.display());
                        BuildError::new(BuildFailure::io(what, e), &log)
                    })?;
                path
            }
        };
        let stem = Path::new(&source.name)
            .file_stem()
            .map_or_else(|| "source".into(), |s| s.to_string_lossy().into_owned());
        let object = objects_dir.join(format!("{i}-{stem}.o"));
        let deps = objects_dir.join(format!("{i}-{stem}.d"));
        // -MD -MF: the compiler lists every file it read, so a warm run
        // rebuilds when a header changed, not only when a listed source
        // did; -MT names the list's target plainly (see depfile.rs).
        let spec = settings
            .compile(sources, interpreter, Some(&env.include))
            .arg("-MD")
            .arg("-MF")
            .arg(&deps)
            .arg("-MT")
            .arg(depfile::TARGET)
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

    let module_path = out.join(module_file(sources, interpreter));
    let mut spec = compiler_spec(&settings.ldshared[0])
        .args(&settings.ldshared[1..])
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
    let read = read(&dep_files, sources, env, toolchain, out);
    Ok(Artifact {
        dir: out.to_path_buf(),
        module_path,
        wheel: None,
        package: None,
        inputs: read,
        forced: None,
        staging: None,
        log,
        duration: start.elapsed(),
        reused: false,
    })
}

/// What the compiles read, from their dependency files: every file but
/// this build's own folder (the embedded sample's source) and the NumPy
/// environment's headers (the environment's own manifest proves those);
/// where a header read instead could appear; or why the build cannot be
/// keyed by what it read.
fn read(
    dep_files: &[PathBuf],
    sources: &Sources,
    env: &NumpyEnv,
    toolchain: Option<&Toolchain>,
    out: &Path,
) -> Read {
    let mut listed: Vec<PathBuf> = Vec::new();
    for d in dep_files {
        let text = match crate::userfile::read_to_string(d, crate::userfile::TEXT_LIMIT) {
            Ok(text) => text,
            Err(e) => {
                return Read {
                    unkeyable: Some(format!("cannot read {}: {e}", d.display())),
                    ..Read::default()
                };
            }
        };
        let Ok(files) = depfile::parse(&text) else {
            return Read {
                unkeyable: Some(format!(
                    "{} does not read as a dependency list (a file name with a newline?)",
                    d.display()
                )),
                ..Read::default()
            };
        };
        // Relative names are the compiler's, in its working folder.
        for file in files.into_iter().map(|f| out.join(f)) {
            if !listed.contains(&file) {
                listed.push(file);
            }
        }
    }
    // A dependency that is not a regular file (`#include "/dev/stdin"`)
    // has no content to prove: hashing it could block or never end.
    if let Some((path, kind)) = listed.iter().find_map(|p| match std::fs::metadata(p) {
        Ok(m) if m.is_file() => None,
        Ok(m) => Some((p, crate::userfile::kind(m.file_type()))),
        Err(_) => Some((p, "gone")),
    }) {
        return Read {
            unkeyable: Some(format!("{} (which it read) is {kind}", path.display())),
            ..Read::default()
        };
    }
    // `#include "..."` looks in the including file's own folder first:
    // the folders of the user's files, then NumPy's headers, go first.
    let mut first: Vec<PathBuf> = Vec::new();
    for file in &listed {
        if let Some(dir) = file.parent()
            && sources.include_dirs.iter().any(|d| dir.starts_with(d))
            && !first.iter().any(|f| f == dir)
        {
            first.push(dir.to_path_buf());
        }
    }
    first.push(env.include.clone());
    let absent = toolchain.map_or_else(Vec::new, |t| t.absent(&listed, &first));
    Read {
        files: listed
            .into_iter()
            .filter(|p| !p.starts_with(out) && !p.starts_with(&env.dir))
            .collect(),
        absent,
        unkeyable: None,
        toolchain: toolchain.map(Toolchain::fingerprint),
    }
}

/// The `PyInit_*` functions a built module exports (its dynamic symbols).
pub fn init_functions(module: &Path) -> Result<Vec<String>, SymbolsError> {
    use object::{Object as _, ObjectSymbol as _};
    let data = std::fs::read(module).map_err(|e| SymbolsError::Read {
        path: module.to_path_buf(),
        source: std::sync::Arc::new(e),
    })?;
    let file = object::File::parse(&*data).map_err(|error| SymbolsError::NotSharedObject {
        path: module.to_path_buf(),
        error,
    })?;
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
    let found = init_functions(module_path).map_err(|e| BuildError::new(e.into(), log))?;
    if found.contains(&format!("PyInit_{module}")) {
        return Ok(());
    }
    let failure = BuildFailure::NoInit {
        module: module.to_string(),
        defines: found,
    };
    Err(BuildError::new(failure, log))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extension::{Extension, Subject};

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
        let edits: [fn(&mut Sources); 8] = [
            |s| s.cflags.push("-O3".into()),
            |s| s.ldflags.push("-Wl,-z,now".into()),
            |s| s.libraries.push("gomp".into()),
            |s| s.include_dirs.push("/inc".into()),
            |s| s.library_dirs.push("/lib".into()),
            |s| s.files[0].contents.push(' '),
            |s| s.limited_api = "3.9".parse().ok(),
            |s| s.limited_api = "3.12".parse().ok(),
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

    /// A limited-API build is compiled with `Py_LIMITED_API` and an
    /// undeclared function made an error, and named `.abi3.so`; any other
    /// keeps the interpreter's own suffix and flags.
    #[test]
    fn a_limited_api_build_is_flagged_and_named_abi3() {
        let Subject::Sources(mut sources) = Extension::sample().subject else {
            unreachable!()
        };
        let interpreter = crate::report::fixtures::interpreter("3.11.7");
        assert_eq!(
            module_file(&sources, &interpreter),
            "my_extension.cpython-311-x86_64-linux-gnu.so"
        );
        assert!(limited_flags(&sources).is_empty());
        sources.limited_api = "3.9".parse().ok();
        assert_eq!(module_file(&sources, &interpreter), "my_extension.abi3.so");
        assert_eq!(
            limited_flags(&sources),
            [
                "-DPy_LIMITED_API=0x03090000",
                "-Werror=implicit-function-declaration"
            ]
        );
    }
}
