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

use crate::process::Exit;

/// Why a cell failed, classified from everything the child wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
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
    /// Python's own ABI, not NumPy's: the module takes a symbol of
    /// Python's C API this interpreter does not define (a full-API module
    /// claiming abi3, a limited-API build for a newer Python), or a
    /// module's own check of the Python it was compiled for refused it.
    PythonAbi,
    /// The module imported but the probe's checks did not hold.
    WrongResult,
    /// Anything else; the message says what.
    Other,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::AbiMajor => "abi-major",
            FailureReason::ApiVersion => "api-version",
            FailureReason::DtypeSize => "dtype-size",
            FailureReason::MissingSymbol => "missing-symbol",
            FailureReason::PythonAbi => "python-abi",
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
    /// Could not run: `why` says which kind of reason (a forbidding
    /// declaration is what the package says, and so what is expected unless
    /// a table says otherwise), `message` says it in full.
    Unavailable {
        message: String,
        why: Unavailability,
    },
}

/// Why a cell could not run, as a kind every report words the same way
/// (`report::wording::unavailable_words`); the cell's message has the detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Unavailability {
    /// The project's own build requirements forbid the row's NumPy: not
    /// built (`--ignore-requires` builds it anyway).
    BuildRequirements,
    /// The package's metadata (a wheel's `Requires-Dist`) forbids the
    /// column's NumPy: not installed together (`--ignore-requires` does).
    Metadata,
    /// The requested NumPy has no release with a wheel for the interpreter.
    NoWheel,
    /// Every release the request matches is yanked on the index (only an
    /// exact pin takes a yanked release).
    Yanked,
    /// `next` when no pre-release is newer than every release: nothing to
    /// test, and that is the answer.
    NextIsNothing,
    /// The NumPy environment could not be made.
    Environment,
    /// The cell's dependencies (the row's own, `test-requires`) could not
    /// be installed.
    Dependencies,
    /// The build's Python ABI does not load on this interpreter: an abi3
    /// build for a newer Python, an abi3 build on a free-threaded one, a
    /// build for another Python. Never tried: it could only crash or fail
    /// for a reason that is Python's, not NumPy's.
    PythonAbi,
    /// Anything else (a probe that could not start, a row not made).
    Other,
}

impl Unavailability {
    /// The package's own declaration forbids the pair: unavailable is then
    /// what the package says, and so what is expected.
    pub fn is_forbidden(self) -> bool {
        matches!(
            self,
            Unavailability::BuildRequirements | Unavailability::Metadata
        )
    }
}

/// The outcome's variant without its data: what expectations name and the
/// legend lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
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
    /// Could not run, for no reason of a kind reports name.
    pub fn unavailable(message: impl Into<String>) -> Outcome {
        Outcome::missing(Unavailability::Other, message)
    }

    /// Could not run, for a reason of kind `why`.
    pub fn missing(why: Unavailability, message: impl Into<String>) -> Outcome {
        Outcome::Unavailable {
            message: message.into(),
            why,
        }
    }

    /// Not run because the package's own declaration forbids it.
    pub fn is_forbidden(&self) -> bool {
        self.unavailability()
            .is_some_and(Unavailability::is_forbidden)
    }

    /// Why it could not run, for an unavailable cell.
    pub fn unavailability(&self) -> Option<Unavailability> {
        match self {
            Outcome::Unavailable { why, .. } => Some(*why),
            _ => None,
        }
    }

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
            Outcome::BuildFailed { message } | Outcome::Unavailable { message, .. } => {
                message.clone()
            }
        }
    }
}

impl Outcome {
    /// The outcome when how the child ended decides it on its own: a
    /// timeout, or a signal (a crash, with faulthandler's dump when it wrote
    /// one). `None` when it exited and its report or output must decide.
    pub fn of_exit(exit: Exit, stderr: &str) -> Option<Outcome> {
        match exit {
            Exit::TimedOut(limit) => Some(Outcome::Timeout { limit }),
            Exit::Signal(signal) => Some(Outcome::Crash {
                signal,
                name: signal_name(signal),
                traceback: faulthandler_dump(stderr),
            }),
            Exit::Code(_) => None,
        }
    }

    /// A failure classified from what the child wrote (`texts`, most
    /// telling first); `fallback` is the message when no known pattern
    /// matches.
    pub fn failure(texts: &[&str], exception: Option<String>, fallback: String) -> Outcome {
        let (reason, detail) = classify_text(texts);
        Outcome::Fail(Failure {
            reason,
            exception,
            message: detail.unwrap_or(fallback),
        })
    }
}

/// The outcome of a user's test command: its exit status decides pass or
/// fail, a signal decides crash; a failure is classified from its output.
pub fn classify_command(exit: Exit, stdout: &str, stderr: &str) -> Outcome {
    if let Some(o) = Outcome::of_exit(exit, stderr) {
        return o;
    }
    match exit {
        Exit::Code(0) => Outcome::Pass,
        Exit::Code(code) => {
            let last = last_line(stdout)
                .or_else(|| last_line(stderr))
                .unwrap_or("no output");
            Outcome::failure(
                &[stderr, stdout],
                None,
                format!("the test command exited with status {code}: {last}"),
            )
        }
        Exit::Signal(_) | Exit::TimedOut(_) => unreachable_outcome(exit),
    }
}

/// `of_exit` decides these; kept total without a panic.
fn unreachable_outcome(exit: Exit) -> Outcome {
    Outcome::unavailable(format!("unclassified child exit {exit:?}"))
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
        // Cython's check of the Python a module was compiled for (a
        // warning, an error under `-W error`): 3.x's wording, then 0.29's.
        rule(
            FailureReason::PythonAbi,
            r"compile time Python version \d+\.\d+ of module '[^']*' (?:does not match|was newer than) runtime version \d+\.\d+",
        ),
        rule(
            FailureReason::PythonAbi,
            r"compiletime version \d+\.\d+ of module '[^']*' does not match runtime version \d+\.\d+",
        ),
        rule(FailureReason::MissingSymbol, r"undefined symbol: \S+"),
    ]
});

/// Whether `symbol` is one of NumPy's own (its C API's names, npymath's):
/// a loader error naming it is NumPy's, however it starts.
pub fn numpy_symbol(symbol: &str) -> bool {
    const PREFIXES: [&str; 8] = [
        "PyArray",
        "_PyArray",
        "PyUFunc",
        "PyDataMem",
        "npy_",
        "_npy",
        "NPY_",
        "_Py_Numpy",
    ];
    PREFIXES.iter().any(|p| symbol.starts_with(p))
}

/// Whether `symbol` names Python's own C API (`Py*`, `_Py*`), not NumPy's.
pub fn python_symbol(symbol: &str) -> bool {
    (symbol.starts_with("Py") || symbol.starts_with("_Py")) && !numpy_symbol(symbol)
}

/// The reason for a failure, and the matched text (whitespace folded) as the
/// message, looking through every text the child produced.
pub fn classify_text(texts: &[&str]) -> (FailureReason, Option<String>) {
    for rule in RULES.iter() {
        for text in texts {
            if let Some(m) = rule.pattern.find(text) {
                let folded = m.as_str().split_whitespace().collect::<Vec<_>>().join(" ");
                return (refine(rule.reason, &folded), Some(folded));
            }
        }
    }
    (FailureReason::Other, None)
}

/// A loader error is Python's ABI when the symbol it names is Python's:
/// the loader words a missing `_PyLong_AsInt` and a missing `cblas_dgemm`
/// the same way, and only the first says the module was built for another
/// Python.
fn refine(reason: FailureReason, matched: &str) -> FailureReason {
    match matched.strip_prefix("undefined symbol: ") {
        Some(symbol) if reason == FailureReason::MissingSymbol && python_symbol(symbol) => {
            FailureReason::PythonAbi
        }
        _ => reason,
    }
}

pub fn last_line(text: &str) -> Option<&str> {
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

/// An outcome with its reason, as every report words it: "fail
/// (abi-major)", "crash".
pub fn describe(kind: OutcomeKind, reason: Option<FailureReason>) -> String {
    match reason {
        Some(r) => format!("{kind} ({r})"),
        None => kind.to_string(),
    }
}

/// A message's first line, shortened to fit a summary (every report's, and
/// the doctor's advice).
pub fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    if line.chars().count() > 160 {
        let cut: String = line.chars().take(157).collect();
        format!("{cut}...")
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real texts, as NumPy 1.26 / 2.0 print them (captured from this tool's
    // own sample extension).
    pub(crate) const ABI_MAJOR_STDERR: &str = "\nA module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.0.2 as it may crash. To support both 1.x and 2.x\nversions of NumPy, modules must be compiled with NumPy 2.0.\n";
    const API_V2_STDERR: &str = "RuntimeError: module was compiled against NumPy C-API version 0x12 (NumPy 2.0) but the running NumPy has C-API version 0x11. Check the section C-API incompatibility at the Troubleshooting ImportError section at https://numpy.org/devdocs/user/troubleshooting-importerror.html#c-api-incompatibility for indications on how to solve this problem.\n";
    const API_V1_STDERR: &str =
        "RuntimeError: module compiled against API version 0xf but this version of numpy is 0xe\n";

    #[test]
    fn abi_major_is_found_and_folded_to_one_line() {
        let (r, m) = classify_text(&[
            "ImportError: numpy.core.multiarray failed to import",
            ABI_MAJOR_STDERR,
        ]);
        assert_eq!(r, FailureReason::AbiMajor);
        assert_eq!(
            m.as_deref(),
            Some(
                "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.2 as it may crash."
            )
        );
    }

    #[test]
    fn api_version_both_wordings() {
        for stderr in [API_V1_STDERR, API_V2_STDERR] {
            assert_eq!(
                classify_text(&[stderr]).0,
                FailureReason::ApiVersion,
                "{stderr}"
            );
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
        assert_eq!(
            classify_text(&["ValueError: boom"]),
            (FailureReason::Other, None)
        );
    }

    /// Real messages, gathered on this machine (CPython 3.9-3.13 from
    /// pyenv, gcc 12): each is Python's ABI, never NumPy's.
    #[test]
    fn python_abi_failures_are_told_from_numpys() {
        for (stderr, want) in [
            // A full-API module named .abi3.so, built on 3.9, under 3.13.
            (
                "ImportError: /tmp/x/private_api.abi3.so: undefined symbol: _PyLong_AsInt",
                "undefined symbol: _PyLong_AsInt",
            ),
            // The sample with Py_LIMITED_API=0x030c0000, under 3.9.
            (
                "ImportError: /tmp/x/my_extension.abi3.so: undefined symbol: _Py_DecRef",
                "undefined symbol: _Py_DecRef",
            ),
            // The sample with Py_LIMITED_API=0x030d0000, under 3.9-3.12.
            (
                "ImportError: /tmp/x/my_extension.abi3.so: undefined symbol: Py_GetConstantBorrowed",
                "undefined symbol: Py_GetConstantBorrowed",
            ),
            // A full-API Cython 3.0 module built on 3.9, renamed .abi3.so,
            // under 3.12.
            (
                "ImportError: /tmp/x/cymod.abi3.so: undefined symbol: _PyUnicode_Ready",
                "undefined symbol: _PyUnicode_Ready",
            ),
            // The same under 3.10 with -W error: Cython's own check.
            (
                "Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\nRuntimeWarning: compile time Python version 3.9 of module 'cymod' does not match runtime version 3.10\n",
                "compile time Python version 3.9 of module 'cymod' does not match runtime version 3.10",
            ),
            (
                "RuntimeWarning: compiletime version 3.9 of module 'old' does not match runtime version 3.11",
                "compiletime version 3.9 of module 'old' does not match runtime version 3.11",
            ),
        ] {
            assert_eq!(
                classify_text(&["ImportError", stderr]),
                (FailureReason::PythonAbi, Some(want.to_string())),
                "{stderr}"
            );
        }
        // NumPy's own symbols and other libraries' stay missing-symbol.
        for symbol in [
            "PyArray_Foo",
            "_PyArray_Bar",
            "PyUFunc_X",
            "npy_sin",
            "omp_get_max_threads",
        ] {
            let text = format!("ImportError: /x/m.so: undefined symbol: {symbol}");
            assert_eq!(
                classify_text(&[&text]).0,
                FailureReason::MissingSymbol,
                "{symbol}"
            );
        }
        // NumPy's refusal wins when both are there (the loader stops first
        // in practice, so they never are).
        assert_eq!(
            classify_text(&[ABI_MAJOR_STDERR, "undefined symbol: _Py_DecRef"]).0,
            FailureReason::AbiMajor
        );
        assert_eq!(FailureReason::PythonAbi.to_string(), "python-abi");
    }

    #[test]
    fn signals_and_timeouts_decide_on_their_own() {
        let stderr = "Fatal Python error: Segmentation fault\n\nCurrent thread 0x1 (most recent call first):\n  File \"<probe>\", line 3\n";
        match Outcome::of_exit(Exit::Signal(11), stderr) {
            Some(Outcome::Crash {
                signal,
                name,
                traceback,
            }) => {
                assert_eq!((signal, name.as_str()), (11, "SIGSEGV"));
                assert!(traceback.unwrap().contains("<probe>"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(signal_name(6), "SIGABRT");
        assert_eq!(signal_name(99), "signal 99");
        let limit = Duration::from_secs(2);
        assert_eq!(
            Outcome::of_exit(Exit::TimedOut(limit), ""),
            Some(Outcome::Timeout { limit })
        );
        assert_eq!(Outcome::of_exit(Exit::Code(1), ""), None);
    }

    #[test]
    fn a_test_command_is_judged_by_its_status() {
        assert_eq!(classify_command(Exit::Code(0), "", ""), Outcome::Pass);
        let o = classify_command(Exit::Code(2), "1 failed\n", "");
        assert_eq!(o.kind(), OutcomeKind::Fail);
        assert_eq!(
            o.message(),
            "the test command exited with status 2: 1 failed"
        );
        let o = classify_command(Exit::Code(1), "", ABI_MAJOR_STDERR);
        assert_eq!(o.reason(), Some(FailureReason::AbiMajor));
        assert_eq!(
            classify_command(Exit::Signal(6), "", "").kind(),
            OutcomeKind::Crash
        );
    }

    #[test]
    fn disk_full_is_recognised_in_every_wording() {
        assert!(disk_full("OSError: [Errno 28] No space left on device"));
        assert!(disk_full("failed to write (os error 28)"));
        assert!(!disk_full("ImportError"));
    }
}
