//! What happened in one cell, as data: the reporter renders it, the
//! expectation check compares it, the JSON writer serializes it.
//!
//! Like nextest's `ExecutionResult`, "could not run" (build failed, no wheel)
//! is kept apart from "ran and failed", and "failed" apart from "crashed":
//! an ImportError is a clean refusal by NumPy, a SIGSEGV is memory corruption,
//! and users act on them differently.

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Why a cell failed, classified from everything the child wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureReason {
    /// Built against NumPy 1.x, imported under 2.x (or any ABI version change).
    AbiMajor,
    /// Built against a newer C-API feature version than the runtime offers.
    ApiVersion,
    /// Cython's `numpy.dtype size changed` struct-size check.
    DtypeSize,
    /// The dynamic loader could not resolve a symbol.
    MissingSymbol,
    /// The module imported but the probe's checks did not hold.
    WrongResult,
    /// Anything else; the message says what.
    Other,
}

impl FailureReason {
    pub const ALL: [FailureReason; 6] = [
        FailureReason::AbiMajor,
        FailureReason::ApiVersion,
        FailureReason::DtypeSize,
        FailureReason::MissingSymbol,
        FailureReason::WrongResult,
        FailureReason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::AbiMajor => "abi-major",
            FailureReason::ApiVersion => "api-version",
            FailureReason::DtypeSize => "dtype-size",
            FailureReason::MissingSymbol => "missing-symbol",
            FailureReason::WrongResult => "wrong-result",
            FailureReason::Other => "other",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed cell: the classified reason and the evidence for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub reason: FailureReason,
    /// The Python exception that ended the probe (`ImportError`), if any.
    pub exception: Option<String>,
    /// The most specific line the child wrote about the failure; for
    /// import_array() errors that is the RuntimeError printed to stderr,
    /// not the generic "failed to import" ImportError that follows it.
    pub message: String,
}

/// The outcome of one (build, runtime) cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(Failure),
    /// Killed by a signal; `traceback` is faulthandler's dump, when it wrote one.
    Crash {
        signal: i32,
        name: String,
        traceback: Option<String>,
    },
    /// Still running at the limit; its whole process group was killed.
    Timeout {
        limit: Duration,
    },
    /// The extension did not compile against this row's NumPy.
    BuildFailed {
        message: String,
    },
    /// This NumPy (build or runtime) has no wheel for the interpreter, or its
    /// environment could not be made; `message` says which.
    Unavailable {
        message: String,
    },
}

/// The outcome's variant without its data: what expectations name and the
/// legend lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    Pass,
    Fail,
    Crash,
    Timeout,
    BuildFailed,
    Unavailable,
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 6] = [
        OutcomeKind::Pass,
        OutcomeKind::Fail,
        OutcomeKind::Crash,
        OutcomeKind::Timeout,
        OutcomeKind::BuildFailed,
        OutcomeKind::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Pass => "pass",
            OutcomeKind::Fail => "fail",
            OutcomeKind::Crash => "crash",
            OutcomeKind::Timeout => "timeout",
            OutcomeKind::BuildFailed => "build-failed",
            OutcomeKind::Unavailable => "unavailable",
        }
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Outcome {
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Pass => OutcomeKind::Pass,
            Outcome::Fail(_) => OutcomeKind::Fail,
            Outcome::Crash { .. } => OutcomeKind::Crash,
            Outcome::Timeout { .. } => OutcomeKind::Timeout,
            Outcome::BuildFailed { .. } => OutcomeKind::BuildFailed,
            Outcome::Unavailable { .. } => OutcomeKind::Unavailable,
        }
    }

    pub fn reason(&self) -> Option<FailureReason> {
        match self {
            Outcome::Fail(f) => Some(f.reason),
            _ => None,
        }
    }

    /// One line a person can read in a summary.
    pub fn message(&self) -> String {
        match self {
            Outcome::Pass => String::new(),
            Outcome::Fail(f) => f.message.clone(),
            Outcome::Crash { signal, name, .. } => format!("killed by {name} (signal {signal})"),
            Outcome::Timeout { limit } => {
                format!("still running after {}", humantime::format_duration(*limit))
            }
            Outcome::BuildFailed { message } | Outcome::Unavailable { message } => message.clone(),
        }
    }
}

/// How the child process ended, as far as the OS says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildExit {
    Code(i32),
    Signal(i32),
    TimedOut(Duration),
}

/// What the probe script itself reported (see `probe/probe.py`); absent when
/// the child died before it could write.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProbeReport {
    /// `pass`, `wrong-result` or `error`.
    pub status: String,
    /// Where the probe was when it stopped: import-numpy, import-module, probe.
    #[serde(default)]
    pub stage: String,
    #[serde(default)]
    pub exception: Option<String>,
    #[serde(default)]
    pub message: String,
    /// `numpy.__version__` as imported by the child, once it got that far.
    #[serde(default)]
    pub numpy: Option<String>,
}

/// Decides a cell's outcome from how its child ended, what it reported and
/// what it wrote. `expected_numpy` guards against a pass under the wrong
/// NumPy, which would make the whole grid a lie.
pub fn classify(
    exit: ChildExit,
    report: Option<&ProbeReport>,
    stdout: &str,
    stderr: &str,
    expected_numpy: &str,
) -> Outcome {
    match exit {
        ChildExit::TimedOut(limit) => return Outcome::Timeout { limit },
        ChildExit::Signal(signal) => {
            return Outcome::Crash {
                signal,
                name: signal_name(signal),
                traceback: faulthandler_dump(stderr),
            };
        }
        ChildExit::Code(_) => {}
    }
    let Some(report) = report else {
        let code = match exit {
            ChildExit::Code(c) => c,
            _ => -1,
        };
        let (reason, detail) = classify_text(&[stderr, stdout]);
        let message = detail.unwrap_or_else(|| {
            last_line(stderr)
                .map(|l| format!("exited with status {code} before reporting: {l}"))
                .unwrap_or_else(|| format!("exited with status {code} before reporting"))
        });
        return Outcome::Fail(Failure {
            reason,
            exception: None,
            message,
        });
    };
    match report.status.as_str() {
        "pass" => match report.numpy.as_deref() {
            Some(found) if found != expected_numpy => Outcome::Fail(Failure {
                reason: FailureReason::Other,
                exception: None,
                message: format!(
                    "the probe imported numpy {found}, not {expected_numpy}: the runtime environment is not what it claims"
                ),
            }),
            _ => Outcome::Pass,
        },
        "wrong-result" => Outcome::Fail(Failure {
            reason: FailureReason::WrongResult,
            exception: report.exception.clone(),
            message: report.message.clone(),
        }),
        _ => {
            let exception_line = match &report.exception {
                Some(e) if !report.message.is_empty() => format!("{e}: {}", report.message),
                Some(e) => e.clone(),
                None => report.message.clone(),
            };
            let (reason, detail) = classify_text(&[&exception_line, stderr, stdout]);
            Outcome::Fail(Failure {
                reason,
                exception: report.exception.clone(),
                message: detail.unwrap_or(exception_line),
            })
        }
    }
}

/// The outcome of a user's test command: its exit status decides pass or
/// fail, a signal decides crash; a failure is classified from its output.
pub fn classify_command(exit: ChildExit, stdout: &str, stderr: &str) -> Outcome {
    match exit {
        ChildExit::TimedOut(limit) => Outcome::Timeout { limit },
        ChildExit::Signal(signal) => Outcome::Crash {
            signal,
            name: signal_name(signal),
            traceback: faulthandler_dump(stderr),
        },
        ChildExit::Code(0) => Outcome::Pass,
        ChildExit::Code(code) => {
            let (reason, detail) = classify_text(&[stderr, stdout]);
            let message = detail.unwrap_or_else(|| {
                let last = last_line(stdout)
                    .or_else(|| last_line(stderr))
                    .unwrap_or("no output");
                format!("the test command exited with status {code}: {last}")
            });
            Outcome::Fail(Failure {
                reason,
                exception: None,
                message,
            })
        }
    }
}

struct Rule {
    reason: FailureReason,
    pattern: Regex,
}

/// Known NumPy / loader messages, most specific first. The texts are NumPy's
/// own (`__multiarray_api.h` in 1.x and 2.x, Cython's `__Pyx_ImportType`).
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |reason, pattern: &str| Rule {
        reason,
        // The patterns are constants checked by the unit tests below.
        pattern: Regex::new(pattern).expect("built-in classification pattern"),
    };
    vec![
        rule(
            FailureReason::AbiMajor,
            r"A module that was compiled using NumPy 1\.x cannot be run in\s+NumPy \S+ as it may crash\.?",
        ),
        rule(
            FailureReason::AbiMajor,
            r"module compiled against ABI version 0x[0-9a-fA-F]+ but this version of numpy is 0x[0-9a-fA-F]+",
        ),
        rule(
            FailureReason::ApiVersion,
            r"module compiled against API version 0x[0-9a-fA-F]+ but this version of numpy is 0x[0-9a-fA-F]+",
        ),
        rule(
            FailureReason::ApiVersion,
            r"module was compiled against NumPy C-API version 0x[0-9a-fA-F]+ \(NumPy [^)]*\) but the running NumPy has C-API version 0x[0-9a-fA-F]+",
        ),
        rule(
            FailureReason::DtypeSize,
            r"numpy\.dtype size changed, may indicate binary incompatibility[^\n]*",
        ),
        rule(FailureReason::MissingSymbol, r"undefined symbol: \S+"),
    ]
});

/// The reason for a failure, and the matched text (whitespace folded) as the
/// message, looking through every text the child produced.
pub fn classify_text(texts: &[&str]) -> (FailureReason, Option<String>) {
    for rule in RULES.iter() {
        for text in texts {
            if let Some(m) = rule.pattern.find(text) {
                let folded = m.as_str().split_whitespace().collect::<Vec<_>>().join(" ");
                return (rule.reason, Some(folded));
            }
        }
    }
    (FailureReason::Other, None)
}

fn last_line(text: &str) -> Option<&str> {
    text.lines().rev().map(str::trim).find(|l| !l.is_empty())
}

/// faulthandler's dump, from "Fatal Python error" to the end.
fn faulthandler_dump(stderr: &str) -> Option<String> {
    stderr
        .find("Fatal Python error")
        .map(|i| stderr[i..].trim_end().to_string())
}

/// Whether a failed step's log says the disk filled up (ENOSPC, as uv, pip,
/// the compiler and Python all print it). A full disk says nothing about
/// NumPy compatibility, so the run reports it as a broken environment rather
/// than as a verdict on the cells it spoiled.
pub fn disk_full(log: &str) -> bool {
    log.contains("No space left on device") || log.contains("os error 28")
}

/// `SIGSEGV` for 11; a number the platform does not name is shown as such.
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {signal}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real texts, as NumPy 1.26 / 2.0 print them (captured from this tool's
    // own sample extension).
    const ABI_MAJOR_STDERR: &str = "\nA module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.0.2 as it may crash. To support both 1.x and 2.x\nversions of NumPy, modules must be compiled with NumPy 2.0.\n";
    const API_V2_STDERR: &str = "RuntimeError: module was compiled against NumPy C-API version 0x12 (NumPy 2.0) but the running NumPy has C-API version 0x11. Check the section C-API incompatibility at the Troubleshooting ImportError section at https://numpy.org/devdocs/user/troubleshooting-importerror.html#c-api-incompatibility for indications on how to solve this problem.\n";
    const API_V1_STDERR: &str =
        "RuntimeError: module compiled against API version 0xf but this version of numpy is 0xe\n";

    fn import_error() -> ProbeReport {
        ProbeReport {
            status: "error".into(),
            stage: "import-module".into(),
            exception: Some("ImportError".into()),
            message: "numpy.core.multiarray failed to import".into(),
            numpy: Some("2.0.2".into()),
        }
    }

    fn fail(outcome: Outcome) -> Failure {
        match outcome {
            Outcome::Fail(f) => f,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn abi_major_is_found_in_stderr_behind_a_generic_import_error() {
        let f = fail(classify(
            ChildExit::Code(1),
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
    fn api_version_both_wordings() {
        for stderr in [API_V1_STDERR, API_V2_STDERR] {
            let f = fail(classify(
                ChildExit::Code(1),
                Some(&import_error()),
                "",
                stderr,
                "2.0.2",
            ));
            assert_eq!(f.reason, FailureReason::ApiVersion, "{stderr}");
        }
        let (_, msg) = classify_text(&[API_V1_STDERR]);
        assert_eq!(
            msg.as_deref(),
            Some("module compiled against API version 0xf but this version of numpy is 0xe")
        );
    }

    #[test]
    fn dtype_size_and_missing_symbol() {
        let (r, _) = classify_text(&[
            "ValueError: numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject",
        ]);
        assert_eq!(r, FailureReason::DtypeSize);
        let (r, m) = classify_text(&["ImportError: /x/m.so: undefined symbol: PyArray_Foo"]);
        assert_eq!(r, FailureReason::MissingSymbol);
        assert_eq!(m.as_deref(), Some("undefined symbol: PyArray_Foo"));
    }

    #[test]
    fn unknown_error_is_other_with_the_exception_line() {
        let report = ProbeReport {
            message: "boom".into(),
            exception: Some("ValueError".into()),
            ..import_error()
        };
        let f = fail(classify(ChildExit::Code(1), Some(&report), "", "", "2.0.2"));
        assert_eq!(f.reason, FailureReason::Other);
        assert_eq!(f.message, "ValueError: boom");
    }

    #[test]
    fn wrong_result_is_a_failure_not_a_pass() {
        let report = ProbeReport {
            status: "wrong-result".into(),
            stage: "probe".into(),
            exception: Some("AssertionError".into()),
            message: "got (3, 2), expected (2, 3)".into(),
            numpy: Some("2.0.2".into()),
        };
        let f = fail(classify(ChildExit::Code(1), Some(&report), "", "", "2.0.2"));
        assert_eq!(f.reason, FailureReason::WrongResult);
    }

    #[test]
    fn pass_under_the_wrong_numpy_is_not_a_pass() {
        let report = ProbeReport {
            status: "pass".into(),
            numpy: Some("1.26.4".into()),
            ..import_error()
        };
        assert_eq!(
            classify(ChildExit::Code(0), Some(&report), "", "", "1.26.4"),
            Outcome::Pass
        );
        let f = fail(classify(ChildExit::Code(0), Some(&report), "", "", "2.0.2"));
        assert_eq!(f.reason, FailureReason::Other);
        assert!(f.message.contains("not 2.0.2"));
    }

    #[test]
    fn signals_and_timeouts() {
        let stderr = "Fatal Python error: Segmentation fault\n\nCurrent thread 0x1 (most recent call first):\n  File \"<probe>\", line 3\n";
        match classify(ChildExit::Signal(11), None, "", stderr, "2.0.2") {
            Outcome::Crash {
                signal,
                name,
                traceback,
            } => {
                assert_eq!((signal, name.as_str()), (11, "SIGSEGV"));
                assert!(traceback.unwrap().contains("<probe>"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(signal_name(6), "SIGABRT");
        let limit = Duration::from_secs(2);
        assert_eq!(
            classify(ChildExit::TimedOut(limit), None, "", "", "2.0.2"),
            Outcome::Timeout { limit }
        );
    }

    #[test]
    fn silent_nonzero_exit_is_a_failure_that_says_so() {
        let f = fail(classify(ChildExit::Code(3), None, "", "", "2.0.2"));
        assert_eq!(f.reason, FailureReason::Other);
        assert_eq!(f.message, "exited with status 3 before reporting");
    }
}
