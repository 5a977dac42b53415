//! What each cell is expected to do, and which rule said so: judging, kept
//! apart from running. The runner only observes outcomes; the reporter asks
//! [`Expectations::expected`] for each finished cell (and for each cell a
//! resumed run reads back from its journal), so a change to the
//! expectations never needs a cell to run again.
//!
//! The rules, in order: the last `[[expect]]` table whose specifiers all
//! match; else, for a cell the package's own declaration forbids (its build
//! requirements, or its metadata's NumPy requirement), "unavailable": that
//! is what the package says should happen; else the run's default, which is
//! either "pass" or NumPy's own published rules (`rules.rs`).
//!
//! Across Pythons ([`Expectations::expected_across`]), Python's own rules
//! come before the package's and the default: a build that does not load
//! under the cell's interpreter (an abi3 build below its version or on a
//! free-threaded Python, a build for another Python) is never tried, and
//! "unavailable" is what is expected of it, whatever the default.

use std::fmt;

use pep440_rs::{Version, VersionSpecifiers};

use crate::extension::PackageRow;
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
    /// The package's own declaration forbids the pair.
    Declared,
    /// Python's own ABI rules: the build does not load on the interpreter.
    PythonAbi,
    /// Nothing said otherwise: pass.
    Default,
}

impl fmt::Display for ExpectSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectSource::Table { line } => write!(f, "[[expect]] at line {line}"),
            ExpectSource::NumpyRules => f.write_str("numpy-rules"),
            ExpectSource::Declared => f.write_str("the package's own requirements"),
            ExpectSource::PythonAbi => f.write_str("python-abi"),
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
    /// A row of published code: the requirement as written, a wheel file
    /// glob, or the row's label.
    pub row: Option<String>,
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
    /// A row of published code: it has no NumPy of its own, so tables that
    /// name a build NumPy never apply to it; `row = ...` tables name it.
    Row(PackageRow),
    /// Nothing to test, and that is an answer, not a failure: `next` when
    /// no pre-release is newer than every release.
    Absent,
}

impl Side {
    fn fits(&self, spec: &Option<VersionSpecifiers>) -> bool {
        match (spec, self) {
            (None, _) => true,
            (Some(s), Side::Numpy(Some(v))) => s.contains(v),
            (Some(_), _) => false,
        }
    }

    fn fits_row(&self, pattern: &Option<String>) -> bool {
        match (pattern, self) {
            (None, _) => true,
            (Some(p), Side::Row(row)) => row.matches(p),
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
    /// override earlier ones. `forbidden`: the cell was not run because the
    /// package's own declaration forbids it.
    pub fn expected(
        &self,
        python: &Version,
        build: &Side,
        runtime: &Side,
        forbidden: bool,
    ) -> Expected {
        let python = Side::Numpy(Some(python.clone()));
        if let Some(t) = self.tables.iter().rev().find(|t| {
            python.fits(&t.python)
                && build.fits(&t.build)
                && build.fits_row(&t.row)
                && runtime.fits(&t.runtime)
        }) {
            return Expected {
                outcome: t.outcome,
                reason: t.reason,
                source: ExpectSource::Table { line: t.line },
            };
        }
        if forbidden {
            return Expected {
                outcome: OutcomeKind::Unavailable,
                reason: None,
                source: ExpectSource::Declared,
            };
        }
        if matches!(build, Side::Absent) || matches!(runtime, Side::Absent) {
            return Expected {
                outcome: OutcomeKind::Unavailable,
                reason: None,
                source: ExpectSource::Default,
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

impl Expectations {
    /// The expectation for a cell whose build was made for `abi` and runs
    /// under `python` (one build imported under many Pythons): tables
    /// first, as in [`Expectations::expected`]; then, where Python's rules
    /// say the build does not load there, "unavailable"
    /// ([`ExpectSource::PythonAbi`]); else as [`Expectations::expected`],
    /// with NumPy's rules unchanged under every Python.
    pub fn expected_across(
        &self,
        python: &rules::RuntimePython<'_>,
        abi: rules::BuildAbi,
        build: &Side,
        runtime: &Side,
        forbidden: bool,
    ) -> Expected {
        let tabled = self.expected(python.version, build, runtime, forbidden);
        if matches!(tabled.source, ExpectSource::Table { .. }) {
            return tabled;
        }
        match rules::python_gap(abi, python) {
            Some(_) => Expected {
                outcome: OutcomeKind::Unavailable,
                reason: None,
                source: ExpectSource::PythonAbi,
            },
            None => tabled,
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
            row: None,
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
            false,
        );
        assert_eq!(
            (got.outcome, got.source),
            (OutcomeKind::Fail, ExpectSource::Table { line: 5 })
        );
        let got = e.expected(
            &py,
            &Side::Numpy(Some(v("1.26.0"))),
            &Side::Numpy(Some(v("1.26.4"))),
            false,
        );
        assert_eq!(got.outcome, OutcomeKind::Crash);
        let got = e.expected(
            &py,
            &Side::Numpy(Some(v("2.0.2"))),
            &Side::Numpy(Some(v("2.0.2"))),
            false,
        );
        assert_eq!(
            (got.outcome, got.source),
            (OutcomeKind::Pass, ExpectSource::Default)
        );
    }

    fn row() -> Side {
        Side::Row(PackageRow::new(crate::extension::RowSource::Requirement(
            "pandas==2.0.3".into(),
        )))
    }

    #[test]
    fn tables_name_rows_and_a_declaration_is_expected_to_be_kept() {
        let mut t = table("", ">=2", OutcomeKind::Fail, 3);
        t.row = Some("pandas 2.0.3".into());
        let mut other = table("", "", OutcomeKind::Crash, 6);
        other.row = Some("scipy*".into());
        let e = Expectations {
            tables: vec![t, other],
            ..Expectations::default()
        };
        let py = v("3.11.7");
        let got = e.expected(&py, &row(), &Side::Numpy(Some(v("2.0.2"))), false);
        assert_eq!(
            (got.outcome, got.source),
            (OutcomeKind::Fail, ExpectSource::Table { line: 3 })
        );
        let got = e.expected(&py, &row(), &Side::Numpy(Some(v("1.26.4"))), true);
        assert_eq!(
            (got.outcome, got.source),
            (OutcomeKind::Unavailable, ExpectSource::Declared)
        );
        // A row table never applies to a build against a NumPy.
        let got = e.expected(
            &py,
            &Side::Numpy(Some(v("1.26.4"))),
            &Side::Numpy(Some(v("2.0.2"))),
            false,
        );
        assert_eq!(got.source, ExpectSource::Default);
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
        let got = e.expected(&py, &row(), &Side::Numpy(Some(v("2.0.2"))), false);
        assert_eq!(got.outcome, OutcomeKind::Crash);
        let got = e.expected(&py, &row(), &Side::Numpy(Some(v("1.26.4"))), false);
        assert_eq!(got.outcome, OutcomeKind::Pass);
        let got = e.expected(
            &py,
            &Side::Numpy(None),
            &Side::Numpy(Some(v("1.26.4"))),
            false,
        );
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
            false,
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
        let got = e.expected(&v("3.11.7"), &row(), &Side::Numpy(Some(v("2.0.2"))), false);
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
            e.expected(&v("3.9.18"), one, one, false).outcome,
            OutcomeKind::Fail
        );
        assert_eq!(
            e.expected(&v("3.12.1"), one, one, false).outcome,
            OutcomeKind::Pass
        );
    }

    /// An abi3 build for 3.9 is expected to import under every Python from
    /// 3.9 on by NumPy's rules, and to be unavailable below 3.9 and on a
    /// free-threaded Python, whatever the default; a table still wins.
    #[test]
    fn abi3_builds_are_expected_by_numpys_rules_from_their_version_on() {
        let rules = Expectations {
            default: DefaultExpectation::NumpyRules,
            ..Expectations::default()
        };
        let abi3 = rules::BuildAbi::Abi3("3.9".parse().unwrap());
        let (b2, b1, r2) = (
            Side::Numpy(Some(v("2.0.2"))),
            Side::Numpy(Some(v("1.26.4"))),
            Side::Numpy(Some(v("2.2.6"))),
        );
        fn at(version: &Version, free_threaded: bool) -> rules::RuntimePython<'_> {
            rules::RuntimePython {
                version,
                free_threaded,
            }
        }
        let (py312, py38, py313) = (v("3.12.1"), v("3.8.18"), v("3.13.0"));
        let got = rules.expected_across(&at(&py312, false), abi3, &b2, &r2, false);
        assert_eq!(
            (got.outcome, got.source),
            (OutcomeKind::Pass, ExpectSource::NumpyRules)
        );
        let got = rules.expected_across(&at(&py312, false), abi3, &b1, &r2, false);
        assert_eq!(
            (got.outcome, got.reason),
            (OutcomeKind::Fail, Some(FailureReason::AbiMajor))
        );
        for (python, ft) in [(&py38, false), (&py313, true)] {
            let got = rules.expected_across(&at(python, ft), abi3, &b2, &r2, false);
            assert_eq!(
                (got.outcome, got.source),
                (OutcomeKind::Unavailable, ExpectSource::PythonAbi),
                "{python} {ft}"
            );
            assert!(got.is_met_by(OutcomeKind::Unavailable, None));
            // Under the plain default too: the build is never tried there.
            let got =
                Expectations::default().expected_across(&at(python, ft), abi3, &b2, &r2, false);
            assert_eq!(got.source, ExpectSource::PythonAbi);
        }
        assert_eq!(ExpectSource::PythonAbi.to_string(), "python-abi");
        // A table naming the Python still decides.
        let mut t = table("", "", OutcomeKind::Crash, 8);
        t.python = spec("<3.9");
        let tabled = Expectations {
            tables: vec![t],
            ..rules
        };
        let got = tabled.expected_across(&at(&py38, false), abi3, &b2, &r2, false);
        assert_eq!(got.source, ExpectSource::Table { line: 8 });
        // A build for one Python is expected unavailable under another.
        let own = rules::BuildAbi::Specific {
            python: (3, 12),
            free_threaded: false,
        };
        let got = tabled.expected_across(&at(&py313, false), own, &b2, &r2, false);
        assert_eq!(got.outcome, OutcomeKind::Unavailable);
        let got = tabled.expected_across(&at(&py312, false), own, &b2, &r2, false);
        assert_eq!(got.outcome, OutcomeKind::Pass);
    }
}
