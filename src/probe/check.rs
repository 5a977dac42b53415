//! The probe compiled, not run, by the run's first interpreter before any
//! work: a syntax error is the config's mistake (exit 2, at the file, line
//! and column where it was written), not a `fail (other)` in every cell
//! after every build.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::process::Spec;

const SCRIPT: &str = include_str!("check.py");

/// How long compiling a probe may take (a fresh interpreter's start-up).
const LIMIT: Duration = Duration::from_secs(30);

/// Why the probe does not compile, as Python said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxProblem {
    /// 1-based, in the probe's own code; `None` when Python does not say.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// "SyntaxError: invalid syntax".
    pub message: String,
}

/// What check.py prints.
#[derive(Debug, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    line: Option<usize>,
    #[serde(default)]
    column: Option<usize>,
    #[serde(default)]
    message: String,
}

/// Could not ask the interpreter at all (it did not start, or answered
/// nonsense): the run goes on, and the cells say what the probe does.
#[derive(Debug, thiserror::Error)]
#[error("could not compile the probe with {python}: {detail}")]
pub struct CheckError {
    pub python: String,
    pub detail: String,
}

/// Compiles `code` (called `name`) with `python`.
pub async fn compile(
    python: &Path,
    code: &str,
    name: &str,
) -> Result<Option<SyntaxProblem>, CheckError> {
    let fail = |detail: String| CheckError {
        python: python.display().to_string(),
        detail,
    };
    let finished = Spec::new(python)
        .args(["-I", "-c", SCRIPT, name])
        .stdin(code.as_bytes().to_vec())
        .timeout(LIMIT)
        .run()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !finished.success() {
        return Err(fail(finished.output()));
    }
    let answer: Answer = serde_json::from_str(finished.stdout.text.trim())
        .map_err(|e| fail(format!("{e}: {}", finished.output())))?;
    Ok((!answer.ok).then_some(SyntaxProblem {
        line: answer.line,
        column: answer.column,
        message: answer.message,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn python() -> std::path::PathBuf {
        crate::python::find("python3", &Default::default())
            .await
            .unwrap()
            .executable
    }

    #[tokio::test]
    async fn a_syntax_error_says_where() {
        let py = python().await;
        assert_eq!(compile(&py, "assert 1 == 1\n", "p.py").await.unwrap(), None);
        let problem = compile(&py, "x = 1\nassert x ==\n", "p.py")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (problem.line, problem.column),
            (Some(2), Some(12)),
            "{problem:?}"
        );
        assert_eq!(problem.message, "SyntaxError: invalid syntax");
        let problem = compile(&py, "x = 1\0\n", "p.py").await.unwrap().unwrap();
        assert_eq!(problem.line, None, "{problem:?}");
    }
}
