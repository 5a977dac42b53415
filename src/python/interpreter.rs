//! Interpreter discovery and query: from what the user wrote ("python3", a
//! path) to an [`Interpreter`] we have run and know.
//!
//! A candidate is trusted only after it runs: a pyenv shim for a version that
//! is not selected exists on PATH but fails when started.

use std::path::{Path, PathBuf};

use pep440_rs::Version;
use serde::Deserialize;

use crate::process::Spec;

const QUERY: &str = include_str!("query.py");

/// A Python we have run, and what it told us about itself.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Interpreter {
    /// `sys.executable`: the real binary, not a shim.
    pub executable: PathBuf,
    /// `platform.python_version()`, parsed: a version that does not parse
    /// is a query that failed, never a silent 0.
    pub version: Version,
    pub implementation: String,
    pub machine: String,
    pub platform: String,
    pub ext_suffix: String,
    pub cc: String,
    pub cflags: String,
    pub ccshared: String,
    pub ldshared: String,
    pub include: PathBuf,
    pub python_h: bool,
}

impl Interpreter {
    /// "CPython 3.11.7".
    pub fn label(&self) -> String {
        format!("{} {}", self.implementation, self.version)
    }

    /// (major, minor): "3.11" picks an interpreter by this.
    pub fn minor(&self) -> (u64, u64) {
        let r = self.version.release();
        (
            r.first().copied().unwrap_or(0),
            r.get(1).copied().unwrap_or(0),
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InterpreterError {
    #[error("no interpreter named `{name}` on PATH")]
    NotFound { name: String },
    #[error("interpreter {path} does not exist")]
    Missing { path: PathBuf },
    #[error("{path} exists but does not run as Python: {detail}")]
    DoesNotRun { path: PathBuf, detail: String },
}

impl InterpreterError {
    pub fn hint(&self) -> &'static str {
        match self {
            InterpreterError::NotFound { .. } | InterpreterError::Missing { .. } => {
                "`matrix pythons` lists every interpreter found; name one of them in [python] (e.g. \"3.11\" or \"/usr/bin/python3\")"
            }
            InterpreterError::DoesNotRun { .. } => {
                "set [python] interpreter in matrix.toml to a working Python, e.g. \"python3.11\" or \"/usr/bin/python3\""
            }
        }
    }
}

/// Finds and queries the interpreter the user asked for.
pub async fn find(request: &str) -> Result<Interpreter, InterpreterError> {
    let candidate = if request.contains(std::path::MAIN_SEPARATOR) {
        let path = PathBuf::from(request);
        if !path.exists() {
            return Err(InterpreterError::Missing { path });
        }
        path
    } else {
        which::which(request).map_err(|_| InterpreterError::NotFound {
            name: request.to_string(),
        })?
    };
    query(&candidate).await
}

/// Runs the query script in `path`, isolated from the user's environment.
pub async fn query(path: &Path) -> Result<Interpreter, InterpreterError> {
    let does_not_run = |detail: String| InterpreterError::DoesNotRun {
        path: path.to_path_buf(),
        detail,
    };
    let finished = Spec::new(path)
        .args(["-I", "-c", QUERY])
        .run()
        .await
        .map_err(|e| does_not_run(e.source.to_string()))?;
    if !finished.success() {
        let output = finished.output();
        let first = output.lines().next().unwrap_or("no output").to_string();
        return Err(does_not_run(first));
    }
    serde_json::from_str(finished.stdout.text.trim())
        .map_err(|e| does_not_run(format!("unexpected answer to the query ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn the_python_on_path_answers_the_query() {
        let i = find("python3").await.unwrap();
        assert_eq!(i.version.release()[0], 3, "{i:?}");
        assert!(i.executable.is_absolute());
        assert!(i.ext_suffix.ends_with(".so"), "{i:?}");
    }

    #[tokio::test]
    async fn a_candidate_that_does_not_run_is_rejected_with_its_words() {
        let dir = tempfile::tempdir().unwrap();
        let shim = dir.path().join("python3.99");
        std::fs::write(
            &shim,
            "#!/bin/sh\necho 'pyenv: python3.99: command not found' >&2\nexit 127\n",
        )
        .unwrap();
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = query(&shim).await.unwrap_err();
        assert!(err.to_string().contains("command not found"), "{err}");
        let err = find(dir.path().join("nope").to_str().unwrap())
            .await
            .unwrap_err();
        assert!(matches!(err, InterpreterError::Missing { .. }));
        let err = find("no-such-python-abimatrix").await.unwrap_err();
        assert!(matches!(err, InterpreterError::NotFound { .. }));
    }
}
