//! One virtual environment with one NumPy in it, made for this run.
//!
//! Creation is checked, not assumed: after the install the environment's own
//! Python is asked which NumPy it imports and where its headers are. That
//! first import also writes the bytecode cache, so cells don't each pay for
//! compiling NumPy's modules (they run with -I, which ignores
//! PYTHONDONTWRITEBYTECODE).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pep440_rs::Version;
use serde::Deserialize;

use crate::process::Spec;
use crate::python::{InstallError, Installer, Interpreter};

/// A ready environment.
#[derive(Debug, Clone)]
pub struct NumpyEnv {
    pub numpy: Version,
    pub dir: PathBuf,
    pub python: PathBuf,
    /// `numpy.get_include()`.
    pub include: PathBuf,
    pub setup: Duration,
}

const CHECK: &str = "import json, numpy; print(json.dumps({'version': numpy.__version__, 'include': numpy.get_include()}))";

#[derive(Deserialize)]
struct Check {
    version: String,
    include: PathBuf,
}

/// Creates `dir` with `numpy==version` for `interpreter`.
pub async fn create(
    installer: &Installer,
    interpreter: &Interpreter,
    version: &Version,
    dir: &Path,
) -> Result<NumpyEnv, InstallError> {
    let start = Instant::now();
    let python = installer.create_venv(interpreter, dir).await?;
    installer.install_numpy(&python, version).await?;
    let failed = |detail: String| InstallError::Failed {
        what: format!("checking the numpy {version} environment"),
        detail,
    };
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
    Ok(NumpyEnv {
        numpy: version.clone(),
        dir: dir.to_path_buf(),
        python,
        include: check.include,
        setup: start.elapsed(),
    })
}
