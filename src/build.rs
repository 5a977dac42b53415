//! Compiling the extension against one NumPy's headers, with the
//! interpreter's own compiler settings (sysconfig's CC, CFLAGS, CCSHARED,
//! LDSHARED), the way setuptools would but without its start-up cost.
//!
//! Every command and its output go into the build log, kept for the report:
//! a build failure is shown, not summarized away.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::environment::NumpyEnv;
use crate::extension::Extension;
use crate::process::Spec;
use crate::python::Interpreter;

/// A built module, importable from `dir`.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub dir: PathBuf,
    pub module_path: PathBuf,
    pub log: String,
    pub duration: Duration,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{summary}")]
pub struct BuildError {
    /// The first compiler error line, for the grid summary.
    pub summary: String,
    pub log: String,
}

/// Builds `extension` against `env`'s NumPy into `out`.
pub async fn build(
    extension: &Extension,
    interpreter: &Interpreter,
    env: &NumpyEnv,
    out: &Path,
) -> Result<Artifact, BuildError> {
    let start = Instant::now();
    let mut log = String::new();
    let fail = |summary: String, log: &str| BuildError {
        summary,
        log: log.to_string(),
    };
    let src_dir = out.join("src");
    std::fs::create_dir_all(&src_dir)
        .map_err(|e| fail(format!("cannot create {}: {e}", src_dir.display()), ""))?;

    let words = |what: &str, value: &str| {
        shlex::split(value).ok_or_else(|| BuildError {
            summary: format!("cannot parse sysconfig {what}: {value}"),
            log: String::new(),
        })
    };
    let cc = words("CC", &interpreter.cc)?;
    let ldshared = words("LDSHARED", &interpreter.ldshared)?;
    let cflags = words("CFLAGS", &interpreter.cflags)?;
    let ccshared = words("CCSHARED", &interpreter.ccshared)?;
    let (Some(cc_prog), Some(ld_prog)) = (cc.first(), ldshared.first()) else {
        return Err(fail("sysconfig names no C compiler".into(), ""));
    };

    let mut objects = Vec::new();
    for source in &extension.sources {
        let src = src_dir.join(&source.name);
        std::fs::write(&src, &source.contents)
            .map_err(|e| fail(format!("cannot write {}: {e}", src.display()), &log))?;
        let object = out.join(format!("{}.o", source.name));
        let mut spec = Spec::new(cc_prog)
            .args(&cc[1..])
            .args(&cflags)
            .args(&ccshared)
            .arg(format!("-I{}", interpreter.include.display()))
            .arg(format!("-I{}", env.include.display()));
        for dir in &extension.include_dirs {
            spec = spec.arg(format!("-I{}", dir.display()));
        }
        spec = spec
            .args(&extension.cflags)
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&object)
            .cwd(out);
        step(spec, &mut log).await?;
        objects.push(object);
    }

    let module_path = out.join(format!("{}{}", extension.module, interpreter.ext_suffix));
    let spec = Spec::new(ld_prog)
        .args(&ldshared[1..])
        .args(&objects)
        .arg("-o")
        .arg(&module_path)
        .cwd(out);
    step(spec, &mut log).await?;
    Ok(Artifact {
        dir: out.to_path_buf(),
        module_path,
        log,
        duration: start.elapsed(),
    })
}

/// Runs one compiler command, appending it and its output to `log`.
async fn step(spec: Spec, log: &mut String) -> Result<(), BuildError> {
    let _ = writeln!(log, "$ {}", spec.display());
    let finished = match spec.run().await {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(log, "{e}");
            return Err(BuildError {
                summary: e.to_string(),
                log: log.clone(),
            });
        }
    };
    let output = finished.output();
    if !output.is_empty() {
        let _ = writeln!(log, "{output}");
    }
    if finished.success() {
        return Ok(());
    }
    let summary = output
        .lines()
        .find(|l| l.contains("error"))
        .or_else(|| output.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("the compiler failed without output")
        .trim()
        .to_string();
    Err(BuildError {
        summary,
        log: log.clone(),
    })
}
