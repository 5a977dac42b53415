//! What each cell is expected to do, and which rule said so: judging, kept
//! apart from running. The runner only observes outcomes; the reporter asks
//! [`Expectations::expected`] for each finished cell (and for each cell a
//! resumed run reads back from its journal), so a change to the
//! expectations never needs a cell to run again.
//!
//! The rules, in order: the last `[[expect]]` table whose specifiers all
//! match; else the run's default, which is either "pass" or NumPy's own
//! published rules (`rules.rs`).

use std::fmt;

use pep440_rs::{Version, VersionSpecifiers};

use crate::outcome::{FailureReason, OutcomeKind};
use crate::rules;

/// What a cell is expected to do when no `[[expect]]` table says
/// (`[run] expect = ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DefaultExpectation {
    /// Every cell passes.
    #[default]
    Pass,
    /// NumPy's published ABI/API rules (see `rules.rs`).
    NumpyRules,
}

/// Which rule set an expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectSource {
    /// The `[[expect]]` table starting at this line of the config.
    Table { line: usize },
    /// NumPy's published rules (`[run] expect = "numpy-rules"`).
    NumpyRules,
    /// Nothing said otherwise: pass.
    Default,
}

impl fmt::Display for ExpectSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectSource::Table { line } => write!(f, "[[expect]] at line {line}"),
            ExpectSource::NumpyRules => f.write_str("numpy-rules"),
            ExpectSource::Default => f.write_str("the default"),
        }
    }
}

/// What a cell is expected to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub outcome: OutcomeKind,
    /// Only for `fail`: the reason it must fail for (`None`: any reason).
    pub reason: Option<FailureReason>,
    pub source: ExpectSource,
}

impl Expected {
    pub fn is_met_by(&self, outcome: OutcomeKind, reason: Option<FailureReason>) -> bool {
        self.outcome == outcome && (self.reason.is_none() || self.reason == reason)
    }
}

/// One `[[expect]]` table: cells whose versions match get this outcome.
#[derive(Debug, Clone)]
pub struct ExpectTable {
    pub python: Option<VersionSpecifiers>,
    pub build: Option<VersionSpecifiers>,
    pub runtime: Option<VersionSpecifiers>,
    pub outcome: OutcomeKind,
    pub reason: Option<FailureReason>,
    /// Where it was written, so a report can say which rule applied.
    pub line: usize,
}

/// One axis of a cell, as far as judging is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    /// A NumPy release: resolved, or (for a request that resolved to
    /// nothing) the version written in the request, when it names one.
    Numpy(Option<Version>),
    /// A row of published code: it has no NumPy of its own, so only tables
    /// that say nothing of this axis apply to it.
    Row,
}

impl Side {
    fn fits(&self, spec: &Option<VersionSpecifiers>) -> bool {
        match (spec, self) {
            (None, _) => true,
            (Some(s), Side::Numpy(Some(v))) => s.contains(v),
            (Some(_), _) => false,
        }
    }
}

/// Every expectation of a matrix.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    pub tables: Vec<ExpectTable>,
    pub default: DefaultExpectation,
    /// The build's flags, for NumPy's rules (`-DNPY_TARGET_VERSION`).
    pub cflags: Vec<String>,
}

impl Expectations {
    /// The expectation for a cell under Python `python`; later tables
    /// override earlier ones.
    pub fn expected(&self, python: &Version, build: &Side, runtime: &Side) -> Expected {
        let python = Side::Numpy(Some(python.clone()));
        if let Some(t) =
            self.tables.iter().rev().find(|t| {
                python.fits(&t.python) && build.fits(&t.build) && runtime.fits(&t.runtime)
            })
        {
            return Expected {
                outcome: t.outcome,
                reason: t.reason,
                source: ExpectSource::Table { line: t.line },
            };
        }
        match (self.default, build, runtime) {
            (DefaultExpectation::NumpyRules, Side::Numpy(Some(b)), Side::Numpy(Some(r))) => {
                let p = rules::predict(b, r, &self.cflags);
                Expected {
                    outcome: p.outcome,
                    reason: p.reason,
                    source: ExpectSource::NumpyRules,
                }
            }
            _ => Expected {
                outcome: OutcomeKind::Pass,
                reason: None,
                source: ExpectSource::Default,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    fn spec(s: &str) -> Option<VersionSpecifiers> {
        Some(VersionSpecifiers::from_str(s).unwrap())
    }

    fn table(build: &str, runtime: &str, outcome: OutcomeKind, line: usize) -> ExpectTable {
        ExpectTable {
            python: None,
            build: (!build.is_empty()).then(|| spec(build)).flatten(),
            runtime: (!runtime.is_empty()).then(|| spec(runtime)).flatten(),
            outcome,
            reason: None,
            line,
        }
    }

    #[test]
    fn later_tables_override_earlier_ones() {
        let e = Expectations {
            tables: vec![
                table("<2", ">=2", OutcomeKind::Fail, 5),
                table("==1.26.0", "", OutcomeKind::Crash, 9),
            ],
            ..Expectations::default()
        };
        let py = v("3.11.7");
        let got = e.expected(
            &py,
            &Side::Numpy(Some(v("1.26.4"))),
            &Side::Numpy(Some(v("2.0.2"))),
        );
        assert_eq!(
            (got.outcome, got.source),
            (OutcomeKind::Fail, ExpectSource::Table { line: 5 })
        );
        let got = e.expected(
            &py,
            &Side::Numpy(Some(v("1.26.0"))),
            &Side::Numpy(Some(v("1.26.4"))),
        );
        assert_eq!(got.outcome, OutcomeKind::Crash);
        let got = e.expected(
            &py,
            &Side::Numpy(Some(v("2.0.2"))),
            &Side::Numpy(Some(v("2.0.2"))),
        );
        assert_eq!(
            (got.outcome, got.source),
            (OutcomeKind::Pass, ExpectSource::Default)
        );
    }

    #[test]
    fn rows_and_unnamed_versions_match_only_tables_silent_on_them() {
        let e = Expectations {
            tables: vec![
                table("<2", "", OutcomeKind::Fail, 3),
                table("", ">=2", OutcomeKind::Crash, 7),
            ],
            ..Expectations::default()
        };
        let py = v("3.11.7");
        // A row is never "<2"; but the runtime table applies to it.
        let got = e.expected(&py, &Side::Row, &Side::Numpy(Some(v("2.0.2"))));
        assert_eq!(got.outcome, OutcomeKind::Crash);
        let got = e.expected(&py, &Side::Row, &Side::Numpy(Some(v("1.26.4"))));
        assert_eq!(got.outcome, OutcomeKind::Pass);
        let got = e.expected(&py, &Side::Numpy(None), &Side::Numpy(Some(v("1.26.4"))));
        assert_eq!(got.outcome, OutcomeKind::Pass);
    }

    #[test]
    fn numpy_rules_apply_where_no_table_does() {
        let e = Expectations {
            default: DefaultExpectation::NumpyRules,
            ..Expectations::default()
        };
        let got = e.expected(
            &v("3.11.7"),
            &Side::Numpy(Some(v("1.26.4"))),
            &Side::Numpy(Some(v("2.0.2"))),
        );
        assert_eq!(
            (got.outcome, got.reason, got.source),
            (
                OutcomeKind::Fail,
                Some(FailureReason::AbiMajor),
                ExpectSource::NumpyRules
            )
        );
        assert!(got.is_met_by(OutcomeKind::Fail, Some(FailureReason::AbiMajor)));
        assert!(!got.is_met_by(OutcomeKind::Fail, Some(FailureReason::Other)));
        // A row has no build NumPy: the rules cannot speak, pass is expected.
        let got = e.expected(&v("3.11.7"), &Side::Row, &Side::Numpy(Some(v("2.0.2"))));
        assert_eq!(got.source, ExpectSource::Default);
    }

    #[test]
    fn python_specifiers_select_interpreters() {
        let mut t = table("", "", OutcomeKind::Fail, 4);
        t.python = spec("<3.10");
        let e = Expectations {
            tables: vec![t],
            ..Expectations::default()
        };
        let one = &Side::Numpy(Some(v("1.22.4")));
        assert_eq!(
            e.expected(&v("3.9.18"), one, one).outcome,
            OutcomeKind::Fail
        );
        assert_eq!(
            e.expected(&v("3.12.1"), one, one).outcome,
            OutcomeKind::Pass
        );
    }
}
