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
    /// Taken from the cache rather than compiled by this run.
    pub reused: bool,
}

/// Where a build goes.
#[derive(Debug, Clone, Copy)]
pub enum BuildPlace<'a> {
    Temporary {
        dir: &'a Path,
    },
    /// Under the cache root, keyed by everything that affects the result.
    Cached {
        root: &'a Path,
    },
}

const MARKER: &str = "abimatrix-build.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct Marker {
    module: String,
    log: String,
}

/// The key of a build: sources, flags, module name, the interpreter and its
/// compiler settings, and the NumPy version (its headers).
pub fn key(extension: &Extension, interpreter: &Interpreter, env: &NumpyEnv) -> String {
    let mut parts: Vec<Vec<u8>> = vec![
        crate::cache::interpreter_key(interpreter).into_bytes(),
        env.numpy.to_string().into_bytes(),
        extension.module.clone().into_bytes(),
    ];
    for s in &extension.sources {
        parts.push(s.name.clone().into_bytes());
        parts.push(s.contents.clone().into_bytes());
    }
    parts.extend(extension.cflags.iter().map(|f| f.clone().into_bytes()));
    parts.extend(
        extension
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

/// The artifact `make` produces, at `place`: reused from the cache under
/// `key` when a complete entry is there, made (in staging, then renamed into
/// place) otherwise. Failures are not cached: they are quick to repeat and
/// the user is about to fix them.
pub async fn ensure(
    place: BuildPlace<'_>,
    key: String,
    make: impl AsyncFnOnce(PathBuf) -> Result<Artifact, BuildError>,
) -> Result<Artifact, BuildError> {
    let root = match place {
        BuildPlace::Temporary { dir } => return make(dir.to_path_buf()).await,
        BuildPlace::Cached { root } => root.join("builds"),
    };
    let dir = root.join(key);
    if let Some(artifact) = cached(&dir) {
        return Ok(artifact);
    }
    let io = |e: std::io::Error| BuildError {
        summary: format!("cannot use the build cache at {}: {e}", root.display()),
        log: String::new(),
    };
    std::fs::create_dir_all(&root).map_err(io)?;
    let holder = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(&root)
        .map_err(io)?;
    let staging = holder.path().join("build");
    let built = make(staging.clone()).await?;
    let marker = Marker {
        module: built
            .module_path
            .strip_prefix(&staging)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
        log: built.log.clone(),
    };
    std::fs::write(
        staging.join(MARKER),
        serde_json::to_string(&marker).unwrap_or_default(),
    )
    .map_err(io)?;
    crate::cache::publish(&staging, &dir, |d| cached(d).is_some()).map_err(io)?;
    let mut artifact = cached(&dir).ok_or_else(|| BuildError {
        summary: format!("the build at {} vanished after it was made", dir.display()),
        log: built.log.clone(),
    })?;
    artifact.reused = false;
    artifact.duration = built.duration;
    Ok(artifact)
}

fn cached(dir: &Path) -> Option<Artifact> {
    let marker: Marker =
        serde_json::from_str(&std::fs::read_to_string(dir.join(MARKER)).ok()?).ok()?;
    let module_path = dir.join(&marker.module);
    module_path.exists().then(|| Artifact {
        dir: dir.to_path_buf(),
        module_path,
        log: marker.log,
        duration: Duration::ZERO,
        reused: true,
    })
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{summary}")]
pub struct BuildError {
    /// The first compiler error line, for the grid summary.
    pub summary: String,
    pub log: String,
}

/// Compiles `extension` against `env`'s NumPy into `out`.
pub async fn compile(
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
        reused: false,
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
