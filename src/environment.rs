//! One virtual environment with one NumPy in it: made for this run in a
//! temporary directory (`--fresh`), or taken from the persistent cache when a
//! verified entry is there, and made into it when not.
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

use crate::cache::{self, Bucket, Place};
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

/// Where the cached environment of `interpreter` with `version` lives.
pub fn cached_dir(root: &Path, interpreter: &Interpreter, version: &Version) -> PathBuf {
    Bucket::Envs
        .dir(root)
        .join(cache::interpreter_key(interpreter))
        .join(version.to_string())
}

/// The environment with `numpy==version` for `interpreter` at `place`;
/// `started` is called when it must be made (not when it is reused).
pub async fn ensure(
    installer: &Installer,
    interpreter: &Interpreter,
    version: &Version,
    place: Place<'_>,
    started: impl FnOnce(),
) -> Result<NumpyEnv, InstallError> {
    let start = Instant::now();
    let make = async |dir: &Path| -> Result<PathBuf, InstallError> {
        started();
        let include = create(installer, interpreter, version, dir).await?;
        if matches!(place, Place::Cached(_)) {
            let marker = Marker {
                numpy: version.to_string(),
                include: include.strip_prefix(dir).unwrap_or(&include).to_path_buf(),
                interpreter: interpreter.executable.clone(),
            };
            cache::write_marker(&dir.join(MARKER), &marker)
                .map_err(|e| InstallError::io("writing the environment's marker", e))?;
        }
        Ok(include)
    };
    let ensured = cache::ensure(
        place,
        |dir| valid(dir, version),
        make,
        |what, e| InstallError::io(format!("{what} in the cache"), e),
    )
    .await?;
    let dir = match place {
        Place::Temporary(dir) | Place::Cached(dir) => dir.to_path_buf(),
    };
    Ok(NumpyEnv {
        numpy: version.clone(),
        python: venv_python(&dir),
        dir,
        include: ensured.value,
        setup: start.elapsed(),
        reused: ensured.reused,
    })
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
    let what = format!("checking the numpy {version} environment");
    // This first import writes the bytecode of exactly the modules `import
    // numpy` needs (-I ignores PYTHONDONTWRITEBYTECODE), so cells and fork
    // servers don't each compile them. Compiling all of NumPy at install
    // (--compile-bytecode) measured 40% slower for a cold 7 x 7 grid and
    // bought nothing: probes import what this import imports.
    let finished = Spec::new(&python).args(["-I", "-c", CHECK]).run().await?;
    if !finished.success() {
        return Err(InstallError::Failed {
            what,
            output: finished.output(),
        });
    }
    let check: Check = serde_json::from_str(finished.stdout.text.trim()).map_err(|_| {
        InstallError::Unexpected {
            what: what.clone(),
            output: finished.stdout.text.clone(),
        }
    })?;
    if check.version != version.to_string() {
        return Err(InstallError::Failed {
            what,
            output: format!("it imports numpy {}", check.version),
        });
    }
    Ok(check.include)
}

/// The include directory of a complete, intact cached environment at `dir`
/// for `version`; `None` when anything is missing or changed.
pub fn valid(dir: &Path, version: &Version) -> Option<PathBuf> {
    let marker: Marker = cache::read_marker(&dir.join(MARKER))?;
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
