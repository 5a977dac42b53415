//! What the probe script reports about one cell (`result.json`, written by
//! `probe.py`), as a tagged enum: each status carries exactly what it has.
//! Absent when the child died before it could write; the exit status then
//! decides.

use serde::Deserialize;

use crate::outcome::{FailureReason, Outcome, last_line};
use crate::process::Exit;

/// Where the probe was when it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    ImportNumpy,
    ImportModule,
    Probe,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ProbeReport {
    /// Imported and the probe held, under `numpy` (`numpy.__version__`).
    Pass { numpy: String },
    /// The probe's `assert` did not hold.
    WrongResult {
        #[serde(default)]
        exception: Option<String>,
        #[serde(default)]
        message: String,
    },
    /// Anything else raised, at `stage`.
    Error {
        stage: Stage,
        #[serde(default)]
        exception: Option<String>,
        #[serde(default)]
        message: String,
        /// Where in the probe it was raised ("tests/probe.py, line 3:
        /// raise ValueError('boom')"), when it was.
        #[serde(default)]
        at: Option<String>,
    },
}

impl ProbeReport {
    /// Reads a result file; `None` when there is none or it is not one
    /// (a child that died mid-write).
    pub fn read(path: &std::path::Path) -> Option<ProbeReport> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }
}

/// Decides a cell's outcome from how its child ended, what it reported and
/// what it wrote. `expected_numpy` guards against a pass under the wrong
/// NumPy, which would make the whole grid a lie.
pub fn classify(
    exit: Exit,
    report: Option<&ProbeReport>,
    stdout: &str,
    stderr: &str,
    expected_numpy: &str,
) -> Outcome {
    if let Some(outcome) = Outcome::of_exit(exit, stderr) {
        return outcome;
    }
    let Some(report) = report else {
        let code = match exit {
            Exit::Code(c) => c,
            _ => -1,
        };
        let fallback = match last_line(stderr) {
            Some(l) => format!("exited with status {code} before reporting: {l}"),
            None => format!("exited with status {code} before reporting"),
        };
        return Outcome::failure(&[stderr, stdout], None, fallback);
    };
    match report {
        ProbeReport::Pass { numpy } if numpy != expected_numpy => Outcome::failure(
            &[],
            None,
            format!(
                "the probe imported numpy {numpy}, not {expected_numpy}: the runtime environment is not what it claims"
            ),
        ),
        ProbeReport::Pass { .. } => Outcome::Pass,
        ProbeReport::WrongResult { exception, message } => Outcome::Fail(crate::outcome::Failure {
            reason: FailureReason::WrongResult,
            exception: exception.clone(),
            message: message.clone(),
        }),
        ProbeReport::Error {
            exception,
            message,
            at,
            ..
        } => {
            let exception_line = match exception {
                Some(e) if !message.is_empty() => format!("{e}: {message}"),
                Some(e) => e.clone(),
                None => message.clone(),
            };
            // The probe's own line, when it raised: the grid says where
            // without a trip to `explain`.
            let said = match at {
                Some(at) => format!("{exception_line} \u{2014} {at}"),
                None => exception_line.clone(),
            };
            Outcome::failure(&[&exception_line, stderr, stdout], exception.clone(), said)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Failure, OutcomeKind};

    const ABI_MAJOR_STDERR: &str = "\nA module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.0.2 as it may crash. To support both 1.x and 2.x\nversions of NumPy, modules must be compiled with NumPy 2.0.\n";

    fn import_error() -> ProbeReport {
        ProbeReport::Error {
            stage: Stage::ImportModule,
            exception: Some("ImportError".into()),
            message: "numpy.core.multiarray failed to import".into(),
            at: None,
        }
    }

    fn fail(outcome: Outcome) -> Failure {
        match outcome {
            Outcome::Fail(f) => f,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn the_report_format_is_what_probe_py_writes() {
        let r: ProbeReport = serde_json::from_str(
            r#"{"status": "error", "stage": "import-module", "numpy": "2.0.2", "exception": "ImportError", "message": "x"}"#,
        )
        .unwrap();
        assert!(matches!(
            r,
            ProbeReport::Error {
                stage: Stage::ImportModule,
                ..
            }
        ));
        let r: ProbeReport =
            serde_json::from_str(r#"{"status": "pass", "stage": "probe", "numpy": "2.0.2"}"#)
                .unwrap();
        assert_eq!(
            r,
            ProbeReport::Pass {
                numpy: "2.0.2".into()
            }
        );
        assert!(serde_json::from_str::<ProbeReport>(r#"{"status": "maybe"}"#).is_err());
    }

    #[test]
    fn abi_major_is_found_in_stderr_behind_a_generic_import_error() {
        let f = fail(classify(
            Exit::Code(1),
            Some(&import_error()),
            "",
            ABI_MAJOR_STDERR,
            "2.0.2",
        ));
        assert_eq!(f.reason, FailureReason::AbiMajor);
        assert_eq!(f.exception.as_deref(), Some("ImportError"));
        assert_eq!(
            f.message,
            "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.2 as it may crash."
        );
    }

    #[test]
    fn unknown_error_is_other_with_the_exception_line() {
        let report = ProbeReport::Error {
            stage: Stage::Probe,
            exception: Some("ValueError".into()),
            message: "boom".into(),
            at: None,
        };
        let f = fail(classify(Exit::Code(1), Some(&report), "", "", "2.0.2"));
        assert_eq!(f.reason, FailureReason::Other);
        assert_eq!(f.message, "ValueError: boom");
        let report = ProbeReport::Error {
            stage: Stage::Probe,
            exception: Some("ValueError".into()),
            message: "boom".into(),
            at: Some("tests/probe.py, line 3: raise ValueError('boom')".into()),
        };
        let f = fail(classify(Exit::Code(1), Some(&report), "", "", "2.0.2"));
        assert_eq!(
            f.message,
            "ValueError: boom \u{2014} tests/probe.py, line 3: raise ValueError('boom')"
        );
    }

    #[test]
    fn wrong_result_is_a_failure_not_a_pass() {
        let report = ProbeReport::WrongResult {
            exception: Some("AssertionError".into()),
            message: "got (3, 2), expected (2, 3)".into(),
        };
        let f = fail(classify(Exit::Code(1), Some(&report), "", "", "2.0.2"));
        assert_eq!(f.reason, FailureReason::WrongResult);
    }

    #[test]
    fn pass_under_the_wrong_numpy_is_not_a_pass() {
        let report = ProbeReport::Pass {
            numpy: "1.26.4".into(),
        };
        assert_eq!(
            classify(Exit::Code(0), Some(&report), "", "", "1.26.4"),
            Outcome::Pass
        );
        let f = fail(classify(Exit::Code(0), Some(&report), "", "", "2.0.2"));
        assert_eq!(f.reason, FailureReason::Other);
        assert!(f.message.contains("not 2.0.2"));
    }

    #[test]
    fn silent_nonzero_exit_is_a_failure_that_says_so() {
        let f = fail(classify(Exit::Code(3), None, "", "", "2.0.2"));
        assert_eq!(f.reason, FailureReason::Other);
        assert_eq!(f.message, "exited with status 3 before reporting");
        assert_eq!(
            classify(Exit::Signal(11), None, "", "", "2.0.2").kind(),
            OutcomeKind::Crash
        );
    }
}
