//! Compiling C sources against one NumPy's headers, with the interpreter's
//! own compiler settings (sysconfig's CC, CFLAGS, CCSHARED, LDSHARED), the
//! way setuptools would but without its start-up cost.

use std::path::Path;
use std::time::Instant;

use super::{Artifact, BuildError, step};
use crate::environment::NumpyEnv;
use crate::extension::Sources;
use crate::process::Spec;
use crate::python::Interpreter;

/// The key of a build: sources, flags, module name, the interpreter and its
/// compiler settings, and the NumPy version (its headers).
pub fn key(sources: &Sources, interpreter: &Interpreter, env: &NumpyEnv) -> String {
    let mut parts: Vec<Vec<u8>> = vec![
        crate::cache::interpreter_key(interpreter).into_bytes(),
        env.numpy.to_string().into_bytes(),
        sources.module.clone().into_bytes(),
    ];
    for s in &sources.files {
        parts.push(s.name.clone().into_bytes());
        parts.push(s.contents.clone().into_bytes());
    }
    parts.extend(sources.cflags.iter().map(|f| f.clone().into_bytes()));
    parts.extend(
        sources
            .include_dirs
            .iter()
            .map(|d| d.to_string_lossy().into_owned().into_bytes()),
    );
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

/// Compiles `sources` against `env`'s NumPy into `out`.
pub async fn compile(
    sources: &Sources,
    interpreter: &Interpreter,
    env: &NumpyEnv,
    out: &Path,
) -> Result<Artifact, BuildError> {
    let start = Instant::now();
    let mut log = String::new();
    let src_dir = out.join("src");
    std::fs::create_dir_all(&src_dir)
        .map_err(|e| BuildError::new(format!("cannot create {}: {e}", src_dir.display()), ""))?;

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
    for source in &sources.files {
        let src = src_dir.join(&source.name);
        std::fs::write(&src, &source.contents)
            .map_err(|e| BuildError::new(format!("cannot write {}: {e}", src.display()), &log))?;
        let object = out.join(format!("{}.o", source.name));
        let mut spec = Spec::new(cc_prog)
            .args(&cc[1..])
            .args(&cflags)
            .args(&ccshared)
            .arg(format!("-I{}", interpreter.include.display()))
            .arg(format!("-I{}", env.include.display()));
        for dir in &sources.include_dirs {
            spec = spec.arg(format!("-I{}", dir.display()));
        }
        spec = spec
            .args(&sources.cflags)
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&object)
            .cwd(out);
        step(spec, &mut log, None, compiler_error).await?;
        objects.push(object);
    }

    let module_path = out.join(format!("{}{}", sources.module, interpreter.ext_suffix));
    let spec = Spec::new(ld_prog)
        .args(&ldshared[1..])
        .args(&objects)
        .arg("-o")
        .arg(&module_path)
        .cwd(out);
    step(spec, &mut log, None, compiler_error).await?;
    Ok(Artifact {
        dir: out.to_path_buf(),
        module_path,
        log,
        duration: start.elapsed(),
        reused: false,
    })
}
