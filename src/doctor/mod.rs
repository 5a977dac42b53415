//! `matrix doctor`: the grid's question asked of an environment a user
//! already has. Which installed package breaks under this NumPy, why, and
//! what (measured, not guessed) fixes it.
//!
//! One stage per file, as the run's pipeline: [`scan`] reads the
//! environment's files for suspects (nothing imported), [`trial`] imports
//! each in its own child process of the user's interpreter, [`remedy`]
//! measures fixes in the tool's own environments with the grid machinery
//! (its release search is [`search`]), [`advice`] judges what to do from
//! it all; `crate::report::doctor` renders it. The user's environment is only ever read:
//! its interpreter runs with `-I -B`, every trial install goes into the
//! tool's cache, and a test hashes every file of a real broken environment
//! before and after to hold this.

pub mod advice;
pub mod remedy;
pub mod scan;
pub mod search;
pub mod trial;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::process::Spec;

const QUERY: &str = include_str!("query.py");

/// What the user's interpreter says about itself and where its packages are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    pub executable: PathBuf,
    /// The interpreter the environment was made from.
    pub base_executable: PathBuf,
    pub prefix: PathBuf,
    pub version: String,
    pub virtualenv: bool,
    /// `sys.path` (as `-I` sees it), folders only.
    pub path: Vec<PathBuf>,
    pub extension_suffixes: Vec<String>,
}

/// Why the environment could not be examined at all (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    #[error("no Python to examine: {why}")]
    NoPython { why: String },
    #[error("{} does not run: {output}", python.display())]
    Broken { python: PathBuf, output: String },
    /// Missing, a folder, not executable, Python 2, not Python: each cause
    /// with its own hint, as for `run --python`.
    #[error(transparent)]
    Interpreter(#[from] crate::python::InterpreterError),
    #[error(transparent)]
    Spawn(#[from] crate::process::SpawnError),
    #[error("cannot make the doctor's working folder: {0}")]
    Work(#[source] std::io::Error),
}

impl DoctorError {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            DoctorError::NoPython { .. } => Some(
                "name the environment's interpreter with --python PATH (e.g. .venv/bin/python), or activate the environment",
            ),
            DoctorError::Broken { .. } | DoctorError::Spawn(_) => Some(
                "the interpreter itself is broken (a moved or deleted virtual environment?): recreate the environment",
            ),
            DoctorError::Interpreter(e) => Some(e.hint()),
            DoctorError::Work(_) => Some("set TMPDIR to a writable directory"),
        }
    }
}

/// The interpreter to examine: `--python`, else the active virtual
/// environment's, else `python3` on PATH.
pub fn choose_python(given: Option<&Path>) -> Result<PathBuf, DoctorError> {
    if let Some(p) = given {
        // Made absolute against the folder the user typed it in, not
        // resolved: the trials run from the tool's own folders, and a
        // virtual environment's `bin/python` link must stay the link.
        return Ok(std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(venv).join("bin").join("python"));
    }
    which::which("python3").map_err(|_| DoctorError::NoPython {
        why: "no --python, no VIRTUAL_ENV and no python3 on PATH".into(),
    })
}

/// Asks `python` (with `-I -B`, from a folder of the tool's own) where its
/// packages are.
pub async fn query(python: &Path, work: &Path) -> Result<Environment, DoctorError> {
    crate::python::check_file(python)?;
    let mut spec = Spec::new(python)
        .env_clear()
        .args(["-I", "-B", "-c", QUERY])
        .cwd(work)
        .timeout(Duration::from_secs(30));
    for (key, value) in crate::probe::child_env() {
        spec = spec.env(key, value);
    }
    let finished = spec
        .run()
        .await
        .map_err(|e| crate::python::spawn_failure(python, &e.source))?;
    let broken = |output: String| DoctorError::Broken {
        python: python.to_path_buf(),
        output,
    };
    if !finished.success() {
        let out = finished.output();
        if out.is_empty() {
            return Err(broken(format!(
                "it ended with {:?} and said nothing",
                finished.exit
            )));
        }
        // Python 2, or not Python at all, each said so; a Python 3 that
        // fails is broken, with what it said.
        return Err(match crate::python::not_answered(python, &out).await {
            crate::python::InterpreterError::DoesNotRun { .. } => broken(out),
            other => other.into(),
        });
    }
    serde_json::from_str(finished.stdout.text.trim()).map_err(|_| broken(finished.output()))
}

/// Everything the doctor found, for every renderer.
#[derive(Debug)]
pub struct Diagnosis {
    pub environment: Environment,
    pub scan: scan::Scan,
    pub trials: Vec<trial::Trial>,
    pub remedy: Option<remedy::Remedy>,
    pub advice: Option<advice::Advice>,
    /// Why the fixes were not measured, when they were not.
    pub remedy_error: Option<remedy::RemedyError>,
    pub duration: Duration,
}

impl Diagnosis {
    pub fn broken(&self) -> impl Iterator<Item = &trial::Trial> {
        self.trials.iter().filter(|t| !t.passed())
    }
}

/// Durations in JSON as seconds.
pub fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}
