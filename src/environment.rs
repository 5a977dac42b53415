//! One virtual environment with one NumPy in it: made for this run in a
//! temporary directory (`--fresh`), or taken from the persistent cache when a
//! checked entry is there, and made into it when not.
//!
//! Creation is checked, not assumed: after the install the environment's own
//! Python is asked which NumPy it imports and where its headers are. A cached
//! entry is checked before use: its marker must name the right NumPy, its
//! Python must exist, and every file NumPy's RECORD lists must be there with
//! its recorded size, so a deleted or truncated file means a rebuild, never a
//! wrong grid.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pep440_rs::Version;
use serde::{Deserialize, Serialize};

use crate::cache;
use crate::process::Spec;
use crate::python::{InstallError, Installer, Interpreter, venv_python};

/// A ready environment.
#[derive(Debug, Clone)]
pub struct NumpyEnv {
    pub numpy: Version,
    pub dir: PathBuf,
    pub python: PathBuf,
    /// `numpy.get_include()`.
    pub include: PathBuf,
    pub setup: Duration,
    /// Reused from the cache rather than made by this run.
    pub reused: bool,
}

/// Where an environment lives.
#[derive(Debug, Clone, Copy)]
pub enum EnvPlace<'a> {
    /// `dir` is made for this run only.
    Temporary { dir: &'a Path },
    /// Under the cache root, keyed by interpreter and NumPy version.
    Cached { root: &'a Path },
}

const CHECK: &str = "import json, numpy; print(json.dumps({'version': numpy.__version__, 'include': numpy.get_include()}))";
const MARKER: &str = "abimatrix-env.json";

#[derive(Deserialize)]
struct Check {
    version: String,
    include: PathBuf,
}

/// Written last into a cached environment: its presence means "complete".
#[derive(Serialize, Deserialize)]
struct Marker {
    numpy: String,
    /// `numpy.get_include()` relative to the environment (it moves once,
    /// from staging to its place).
    include: PathBuf,
    interpreter: PathBuf,
}

/// The environment with `numpy==version` for `interpreter` at `place`.
pub async fn ensure(
    installer: &Installer,
    interpreter: &Interpreter,
    version: &Version,
    place: EnvPlace<'_>,
) -> Result<NumpyEnv, InstallError> {
    let start = Instant::now();
    match place {
        EnvPlace::Temporary { dir } => {
            let include = create(installer, interpreter, version, dir).await?;
            Ok(NumpyEnv {
                numpy: version.clone(),
                dir: dir.to_path_buf(),
                python: venv_python(dir),
                include,
                setup: start.elapsed(),
                reused: false,
            })
        }
        EnvPlace::Cached { root } => {
            let parent = root.join("envs").join(cache::interpreter_key(interpreter));
            let dir = parent.join(version.to_string());
            if let Some(include) = valid(&dir, version) {
                return Ok(NumpyEnv {
                    numpy: version.clone(),
                    python: venv_python(&dir),
                    dir,
                    include,
                    setup: start.elapsed(),
                    reused: true,
                });
            }
            let io = |what: &str, e: std::io::Error| InstallError::Failed {
                what: format!("{what} in the cache at {}", parent.display()),
                detail: e.to_string(),
            };
            std::fs::create_dir_all(&parent).map_err(|e| io("creating a directory", e))?;
            let holder = tempfile::Builder::new()
                .prefix(".tmp-")
                .tempdir_in(&parent)
                .map_err(|e| io("creating a staging directory", e))?;
            let staging = holder.path().join("env");
            let include = create(installer, interpreter, version, &staging).await?;
            let marker = Marker {
                numpy: version.to_string(),
                include: include
                    .strip_prefix(&staging)
                    .unwrap_or(&include)
                    .to_path_buf(),
                interpreter: interpreter.executable.clone(),
            };
            let text = serde_json::to_string(&marker).unwrap_or_default();
            std::fs::write(staging.join(MARKER), text).map_err(|e| io("writing the marker", e))?;
            cache::publish(&staging, &dir, |d| valid(d, version).is_some())
                .map_err(|e| io("publishing the environment", e))?;
            let include = valid(&dir, version).ok_or_else(|| InstallError::Failed {
                what: format!("checking the numpy {version} environment"),
                detail: format!("{} is incomplete right after it was made", dir.display()),
            })?;
            Ok(NumpyEnv {
                numpy: version.clone(),
                python: venv_python(&dir),
                dir,
                include,
                setup: start.elapsed(),
                reused: false,
            })
        }
    }
}

/// Makes the environment at `dir` and returns `numpy.get_include()`.
async fn create(
    installer: &Installer,
    interpreter: &Interpreter,
    version: &Version,
    dir: &Path,
) -> Result<PathBuf, InstallError> {
    let python = installer.create_venv(interpreter, dir).await?;
    installer.install_numpy(&python, version).await?;
    let failed = |detail: String| InstallError::Failed {
        what: format!("checking the numpy {version} environment"),
        detail,
    };
    // This first import writes the bytecode of exactly the modules `import
    // numpy` needs (-I ignores PYTHONDONTWRITEBYTECODE), so cells and fork
    // servers don't each compile them. Compiling all of NumPy at install
    // (--compile-bytecode) measured 40% slower for a cold 7 x 7 grid and
    // bought nothing: probes import what this import imports.
    let finished = Spec::new(&python)
        .args(["-I", "-c", CHECK])
        .run()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !finished.success() {
        return Err(failed(finished.output()));
    }
    let check: Check =
        serde_json::from_str(finished.stdout.text.trim()).map_err(|e| failed(e.to_string()))?;
    if check.version != version.to_string() {
        return Err(failed(format!("it imports numpy {}", check.version)));
    }
    Ok(check.include)
}

/// The include directory of a complete, intact cached environment at `dir`
/// for `version`; `None` when anything is missing or changed.
pub fn valid(dir: &Path, version: &Version) -> Option<PathBuf> {
    let marker: Marker =
        serde_json::from_str(&std::fs::read_to_string(dir.join(MARKER)).ok()?).ok()?;
    if marker.numpy != version.to_string()
        || !venv_python(dir).exists()
        || !marker.interpreter.exists()
    {
        return None;
    }
    let include = dir.join(&marker.include);
    if !include.join("numpy").join("arrayobject.h").is_file() {
        return None;
    }
    record_intact(dir, version).then_some(include)
}

/// Every file NumPy's wheel RECORD lists with a size exists with that size.
/// Stat-only, so it costs milliseconds, not a hash of every file.
fn record_intact(dir: &Path, version: &Version) -> bool {
    let Some(site) = site_packages(dir) else {
        return false;
    };
    let record = site
        .join(format!("numpy-{version}.dist-info"))
        .join("RECORD");
    let Ok(text) = std::fs::read_to_string(&record) else {
        return false;
    };
    let mut checked = 0;
    for line in text.lines() {
        // path,hash,size; paths with commas are quoted, and none of NumPy's
        // are, so a plain rsplit is exact here.
        let mut parts = line.rsplitn(3, ',');
        let (Some(size), Some(_hash), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Ok(size) = size.trim().parse::<u64>() else {
            continue;
        };
        // Bytecode is Python's to rewrite (a newer pyc of the same source is
        // normal); the sources and binaries are what must be intact.
        if path.ends_with(".pyc") {
            continue;
        }
        match std::fs::metadata(site.join(path)) {
            Ok(m) if m.len() == size => checked += 1,
            _ => return false,
        }
    }
    checked > 0
}

fn site_packages(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir.join("lib"))
        .ok()?
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
}
