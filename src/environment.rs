//! One virtual environment with one NumPy in it: made for this run in a
//! temporary directory (`--fresh`), or taken from the persistent cache when a
//! verified entry is there, and made into it when not.
//!
//! Creation is checked, not assumed: after the install the environment's own
//! Python is asked which NumPy it imports and where its headers are. A cached
//! entry carries a manifest (`cache::manifest`) of what proves it: every file
//! NumPy's RECORD lists, `pyvenv.cfg` and the interpreter behind
//! `bin/python`, each with its SHA-256. Before use it is checked (a stat per
//! file, a hash only of what changed), so a deleted, truncated or edited
//! file means a rebuild, never a wrong grid; `matrix cache verify` and a
//! suspicious cell failure check every hash.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pep440_rs::Version;
use serde::{Deserialize, Serialize};

use crate::cache::manifest::{Depth, Manifest, Verdict};
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
/// Written last into a cached environment: its presence means complete.
pub const MARKER: &str = "abimatrix-env.json";

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
    /// What the environment must contain, with the hashes that prove it.
    manifest: Manifest,
}

/// Where the cached environment of `interpreter` with `version` lives.
pub fn cached_dir(root: &Path, interpreter: &Interpreter, version: &Version) -> PathBuf {
    Bucket::Envs
        .dir(root)
        .join(interpreter.cache_key())
        .join(version.to_string())
}

/// Where the environment with a local NumPy wheel lives: beside the
/// index's releases, named by the wheel's contents too, so a wheel rebuilt
/// under the same name is a new environment.
pub fn cached_wheel_dir(
    root: &Path,
    interpreter: &Interpreter,
    version: &Version,
    wheel: &Path,
) -> PathBuf {
    let digest = crate::cache::manifest::hash_file(wheel).unwrap_or_default();
    cached_dir(root, interpreter, version).with_file_name(format!(
        "{version}+wheel-{}",
        &digest[..digest.len().min(16)]
    ))
}

/// The environment with `numpy==version` (or the local `wheel` of it) for
/// `interpreter` at `place`;
/// `started` is called when it must be made (not when it is reused).
pub async fn ensure(
    installer: &Installer,
    interpreter: &Interpreter,
    version: &Version,
    wheel: Option<&Path>,
    place: Place<'_>,
    started: impl FnOnce(),
) -> Result<NumpyEnv, InstallError> {
    let start = Instant::now();
    let make = async |dir: &Path| -> Result<PathBuf, InstallError> {
        started();
        let include = create(installer, interpreter, version, wheel, dir).await?;
        if matches!(place, Place::Cached(_)) {
            let marker = Marker {
                numpy: version.to_string(),
                include: include.strip_prefix(dir).unwrap_or(&include).to_path_buf(),
                interpreter: interpreter.executable.clone(),
                manifest: manifest(dir, version)
                    .map_err(|e| InstallError::io("recording what the environment holds", e))?,
            };
            cache::write_marker(&dir.join(MARKER), &marker)
                .map_err(|e| InstallError::io("writing the environment's marker", e))?;
        }
        Ok(include)
    };
    let ensured = cache::ensure(
        place,
        |dir| valid(dir, version, Depth::Quick).ok(),
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
    wheel: Option<&Path>,
    dir: &Path,
) -> Result<PathBuf, InstallError> {
    let python = installer.create_venv(interpreter, dir).await?;
    installer.install_numpy(&python, version, wheel).await?;
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

/// The files that prove an environment: `pyvenv.cfg`, `bin/python` (the
/// interpreter behind the link) and every file NumPy's RECORD lists
/// (bytecode aside: a newer .pyc of the same source is Python's to write).
fn manifest(dir: &Path, version: &Version) -> std::io::Result<Manifest> {
    let site = site_packages(dir).ok_or_else(|| std::io::Error::other("no site-packages"))?;
    let site_rel = site.strip_prefix(dir).unwrap_or(&site).to_path_buf();
    let record = site
        .join(format!("numpy-{version}.dist-info"))
        .join("RECORD");
    let text = std::fs::read_to_string(&record)?;
    let mut paths = vec!["pyvenv.cfg".to_string(), "bin/python".to_string()];
    for line in text.lines() {
        // path,hash,size; paths with commas are quoted, and none of NumPy's
        // are, so a plain split is exact here.
        let Some(path) = line.split(',').next().filter(|p| !p.is_empty()) else {
            continue;
        };
        if path.ends_with(".pyc") || path.starts_with("..") {
            continue;
        }
        paths.push(site_rel.join(path).to_string_lossy().into_owned());
    }
    Manifest::of(dir, paths.iter().map(String::as_str))
}

/// The include directory of a complete, intact cached environment at `dir`
/// for `version`, or why it is not one.
pub fn valid(dir: &Path, version: &Version, depth: Depth) -> Result<PathBuf, String> {
    let marker_path = dir.join(MARKER);
    let mut marker: Marker = cache::read_marker(&marker_path)
        .ok_or_else(|| format!("{} has no readable marker", dir.display()))?;
    if marker.numpy != version.to_string() {
        return Err(format!("{} holds numpy {}", dir.display(), marker.numpy));
    }
    if !marker.interpreter.exists() {
        return Err(format!(
            "its interpreter {} is gone",
            marker.interpreter.display()
        ));
    }
    match marker.manifest.check(dir, depth) {
        Verdict::Damaged(why) => Err(why),
        Verdict::Intact { reproven } => {
            if reproven {
                // Proven again: remember it, so the next check is a stat.
                let _ = cache::write_marker_atomic(&marker_path, &marker);
            }
            Ok(dir.join(&marker.include))
        }
    }
}

fn site_packages(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir.join("lib"))
        .ok()?
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
}
