//! The doctor's renderers, one file per format: the terminal summary
//! ([`text`]), Markdown ([`markdown`], `--markdown`), JSON ([`json`],
//! `--json`) and, per package whose declared NumPy requirement is wrong, an
//! issue report fit to paste into its tracker ([`issue`]). Each is a pure
//! function of a [`Diagnosis`], chosen by [`Format`] as the grid's are by
//! [`super::Format`]; the app layer writes them. What several formats say
//! alike is here.

pub mod issue;
pub mod json;
pub mod markdown;
pub mod text;

use std::fmt::Write as _;

use crate::doctor::Diagnosis;
use crate::doctor::advice::Advice;
use crate::doctor::remedy::{Cell, Remedy, RemedyError, SkipReason, Upgrade};
use crate::doctor::trial::Trial;
use crate::outcome::{Outcome, OutcomeKind};
use crate::report::wording::{first_line, outcome_text, symbol};

/// Every format the doctor's findings are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The terminal summary.
    Text,
    Json,
    Markdown,
}

/// `d` in `format`: each format's renderer is a pure function of the
/// diagnosis.
pub fn render(d: &Diagnosis, format: Format) -> String {
    match format {
        Format::Text => text::render(d),
        Format::Json => json::render(d),
        Format::Markdown => markdown::render(d),
    }
}

/// "fail (dtype-size)", "crash (SIGSEGV)".
fn kind_text(o: &Outcome) -> String {
    match o {
        Outcome::Crash { name, .. } => format!("crash ({name})"),
        _ => outcome_text(o.kind(), o.reason()),
    }
}

/// "missing dependency: pytz, python-dateutil (install them; not a NumPy
/// problem)".
pub fn missing_text(t: &Trial) -> String {
    format!(
        "missing dependency: {} (install {}; not a NumPy problem)",
        t.missing_names(),
        if t.missing.len() == 1 { "it" } else { "them" }
    )
}

/// "fail (dtype-size) in pandas._libs.algos: numpy.dtype size changed, …";
/// a failure whose error names missing packages says that instead.
pub fn trial_line(t: &Trial) -> String {
    let mut line = format!("{} {} {}: ", symbol(t.outcome.kind()), t.name, t.version);
    if !t.passed() && !t.missing.is_empty() {
        line.push_str(&missing_text(t));
        if let Some(m) = &t.module {
            let _ = write!(line, ", raised in {m}");
        }
        return line;
    }
    line.push_str(&kind_text(&t.outcome));
    match &t.outcome {
        Outcome::Pass => {
            let _ = write!(line, " ({} modules imported)", t.modules);
        }
        other => {
            if let Some(m) = &t.module {
                let place = match other {
                    Outcome::Fail(_) => "in",
                    _ => "while importing",
                };
                let _ = write!(line, " {place} {m}");
            }
            let _ = write!(line, ": {}", first_line(&other.message()));
        }
    }
    line
}

/// The exception's lines to show under a trial's line: every line, when
/// the line above does not already say all of it.
fn exception_lines(t: &Trial) -> Vec<&str> {
    let Some(exception) = t.exception() else {
        return Vec::new();
    };
    let shown = first_line(&t.outcome.message());
    if t.missing.is_empty() && !exception.contains('\n') && exception.contains(shown.as_str()) {
        return Vec::new();
    }
    exception.lines().collect()
}

fn failures_line(t: &Trial) -> Option<String> {
    if t.failures.len() < 2 {
        return None;
    }
    let mut reasons: Vec<String> = t.failures.iter().map(|f| f.reason.to_string()).collect();
    reasons.sort();
    reasons.dedup();
    Some(format!(
        "{} of {} modules failed ({})",
        t.failures.len(),
        t.modules,
        reasons.join(", ")
    ))
}

fn grid_rows(remedy: &Remedy) -> Vec<(String, Vec<String>)> {
    remedy
        .grids
        .iter()
        .map(|g| {
            let cells = remedy
                .columns
                .iter()
                .map(|col| match g.cells.iter().find(|c| &c.numpy == col) {
                    Some(c) if c.forbidden => "⊘".to_string(),
                    Some(c) => symbol(c.outcome).to_string(),
                    None => "?".to_string(),
                })
                .collect();
            (format!("{} {}", g.name, g.version), cells)
        })
        .collect()
}

const CORNER: &str = "package ↓ / numpy →";

/// The grid's legend, with the grid renderers' symbols.
fn legend() -> String {
    format!(
        "{} pass  {} fail  {} crash  {} timeout  {} unavailable  ⊘ forbidden by the package's metadata (not run)",
        symbol(OutcomeKind::Pass),
        symbol(OutcomeKind::Fail),
        symbol(OutcomeKind::Crash),
        symbol(OutcomeKind::Timeout),
        symbol(OutcomeKind::Unavailable)
    )
}

/// "connected-components-3d releases tried under numpy 2.0.2 (bisection
/// over the 31 newer releases ..., at most 12 tries): 4.1.1 ✓, ...".
fn upgrade_search_text(u: &Upgrade, numpy: &str) -> String {
    let mut out = format!(
        "{} releases tried under numpy {numpy} (bisection over the {} newer release{} with a wheel for this Python, at most {} tries): {}",
        u.name,
        u.candidates,
        if u.candidates == 1 { "" } else { "s" },
        u.max_tries,
        tried_text(&u.tried)
    );
    let mut not_tried: Vec<String> = Vec::new();
    for s in &u.skipped {
        not_tried.push(match &s.why {
            SkipReason::Yanked { reason } if reason.is_empty() => format!("{} yanked", s.version),
            SkipReason::Yanked { reason } => format!("{} yanked ({reason})", s.version),
            SkipReason::NoWheel => format!("{} no wheel for this Python", s.version),
            SkipReason::NotInstalled { message } => {
                format!("{} not installable: {}", s.version, first_line(message))
            }
        });
    }
    if !not_tried.is_empty() {
        let _ = write!(out, "\n  not tried: {}", not_tried.join("; "));
    }
    out
}

fn tried_text(cells: &[Cell]) -> String {
    cells
        .iter()
        .map(|c| {
            let mark = if c.forbidden {
                '⊘'
            } else {
                symbol(c.outcome)
            };
            format!("{} {mark}", c.version)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The advice in the order a user acts on it: what is missing, NumPy's
/// part, the pin, the upgrades; each check under what it checked.
/// Why the fixes were not measured, with the way out when there is one.
fn remedy_error_text(e: &RemedyError) -> String {
    match e.hint() {
        Some(h) => format!("{e} (hint: {h})"),
        None => e.to_string(),
    }
}

fn advice_lines(a: &Advice) -> Vec<String> {
    let mut out = Vec::new();
    for line in a.missing.iter().chain(&a.numpy_verdicts) {
        out.push(format!("→ {line}"));
    }
    if let Some(n) = &a.numpy {
        out.push(format!("→ {n}"));
        if let Some(c) = &a.numpy_check {
            out.push(format!("  {c}"));
        }
    }
    for u in &a.upgrades {
        out.push(format!("→ {u}"));
    }
    if let Some(c) = &a.upgrades_check {
        out.push(format!("  {c}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use serde_json::Value;

    use super::*;
    use crate::doctor::advice::advise;
    use crate::doctor::remedy::{Package, PackageGrid, Pinned, SetCheck, Skipped, Upgrade};
    use crate::doctor::scan::{Distribution, Scan};
    use crate::doctor::trial::{Missing, ModuleFailure};
    use crate::doctor::{Diagnosis, Environment};
    use crate::outcome::{Failure, FailureReason};

    fn trial(name: &str, version: &str, outcome: Outcome, module: Option<&str>) -> Trial {
        Trial {
            name: name.into(),
            version: version.into(),
            outcome,
            module: module.map(String::from),
            failures: Vec::new(),
            error: String::new(),
            missing: Vec::new(),
            modules: 3,
            duration: Duration::from_millis(120),
            stdout: String::new(),
            stderr: String::new(),
            command: format!("/env/bin/python -I -B trial.py {name}"),
        }
    }

    fn failure(module: &str, raised: &str, reason: FailureReason, error: &str) -> ModuleFailure {
        ModuleFailure {
            module: module.into(),
            raised: raised.into(),
            reason,
            message: error.lines().next().unwrap_or_default().into(),
            error: error.into(),
            missing: Vec::new(),
        }
    }

    fn cell(version: &str, numpy: &str, outcome: OutcomeKind, forbidden: bool) -> Cell {
        Cell {
            version: version.into(),
            numpy: numpy.into(),
            outcome,
            reason: (outcome == OutcomeKind::Fail).then_some(FailureReason::DtypeSize),
            message: if outcome == OutcomeKind::Fail {
                "numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject".into()
            } else {
                String::new()
            },
            error: if outcome == OutcomeKind::Fail {
                "Traceback (most recent call last):\n  File \"pandas/_libs/algos.pyx\", line 1, in init pandas._libs.algos\nValueError: numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject".into()
            } else {
                String::new()
            },
            forbidden,
        }
    }

    const DTYPE: &str = "numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject";

    /// A diagnosis with every outcome a trial can have (a failure NumPy
    /// causes, one that is a missing dependency), a remedy with a search
    /// that skipped a yanked release, and both sets checked together.
    fn diagnosis() -> Diagnosis {
        let dist = |name: &str, version: &str, req: &str| Distribution {
            name: name.into(),
            version: version.into(),
            dist_info: PathBuf::from(format!("/env/site/{name}-{version}.dist-info")),
            numpy_requires: if req.is_empty() {
                vec![]
            } else {
                vec![req.into()]
            },
            requires: vec![],
            c_api_modules: vec![format!("{name}._ext")],
            top_level: vec![name.into()],
        };
        // h5py's case: importing h5py._conv runs h5py's __init__, and
        // h5py._errors raises.
        let mut h5py = trial(
            "h5py",
            "3.9.0",
            Outcome::Fail(Failure {
                reason: FailureReason::DtypeSize,
                exception: Some("ValueError".into()),
                message: DTYPE.into(),
            }),
            Some("h5py._errors"),
        );
        let raised = format!("ValueError: {DTYPE}");
        h5py.failures = vec![
            failure(
                "h5py._conv",
                "h5py._errors",
                FailureReason::DtypeSize,
                &raised,
            ),
            failure("h5py", "h5py._errors", FailureReason::DtypeSize, &raised),
        ];
        h5py.error = format!(
            "Traceback (most recent call last):\n  File \"/env/site/h5py/__init__.py\", line 25, in <module>\n    from . import _errors\n  File \"h5py/_errors.pyx\", line 1, in init h5py._errors\n{raised}"
        );
        // numexpr's case: NumPy's explanation, then import_array()'s
        // ImportError, which the whole error keeps.
        let mut numexpr = trial(
            "numexpr",
            "2.8.4",
            Outcome::Fail(Failure {
                reason: FailureReason::AbiMajor,
                exception: Some("ImportError".into()),
                message: "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.2 as it may crash.".into(),
            }),
            Some("numexpr.interpreter"),
        );
        numexpr.failures = vec![failure(
            "numexpr.interpreter",
            "numexpr.interpreter",
            FailureReason::AbiMajor,
            "ImportError: numpy.core.multiarray failed to import",
        )];
        numexpr.error = "A module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.0.2 as it may crash.\nAttributeError: _ARRAY_API not found\nTraceback (most recent call last):\n  File \"/env/site/numexpr/__init__.py\", line 24, in <module>\n    from numexpr.interpreter import MAX_THREADS\nImportError: numpy.core.multiarray failed to import".into();
        // pandas' case: its dependencies are not installed.
        let missing_error = "ImportError: Unable to import required dependencies:\npytz: No module named 'pytz'\ndateutil: No module named 'dateutil'";
        let mut pandas = trial(
            "pandas",
            "2.0.3",
            Outcome::Fail(Failure {
                reason: FailureReason::Other,
                exception: Some("ImportError".into()),
                message: "ImportError: Unable to import required dependencies:\npytz: No module named 'pytz'\ndateutil: No module named 'dateutil'".into(),
            }),
            Some("pandas"),
        );
        let mut f = failure(
            "pandas._libs.algos",
            "pandas",
            FailureReason::Other,
            missing_error,
        );
        f.missing = vec!["pytz".into(), "dateutil".into()];
        pandas.failures = vec![
            f.clone(),
            ModuleFailure {
                module: "pandas".into(),
                ..f
            },
        ];
        pandas.error = format!(
            "Traceback (most recent call last):\n  File \"/env/site/pandas/__init__.py\", line 37, in <module>\n    raise ImportError(\n{missing_error}"
        );
        pandas.missing = vec![
            Missing {
                module: "pytz".into(),
                requirement: Some("pytz".into()),
            },
            Missing {
                module: "dateutil".into(),
                requirement: Some("python-dateutil".into()),
            },
        ];
        let mut crashy = trial(
            "crashy",
            "1.0",
            Outcome::Crash {
                signal: 11,
                name: "SIGSEGV".into(),
                traceback: Some("Fatal Python error: Segmentation fault".into()),
            },
            Some("crashy._ext"),
        );
        crashy.error = "Fatal Python error: Segmentation fault".into();
        let trials = vec![
            crashy,
            h5py,
            trial("markupsafe_numpy", "1.0", Outcome::Pass, None),
            numexpr,
            pandas,
            trial(
                "slow",
                "0.1",
                Outcome::Timeout {
                    limit: Duration::from_secs(60),
                },
                Some("slow"),
            ),
        ];
        let grid = |name: &str, version: &str, under_2: OutcomeKind| PackageGrid {
            name: name.into(),
            version: version.into(),
            cells: vec![
                cell(version, "1.26.4", OutcomeKind::Pass, false),
                cell(version, "2.0.2", under_2, false),
                cell(version, "2.4.1", OutcomeKind::Unavailable, true),
            ],
        };
        let pinned = |name: &str, version: &str| Pinned {
            name: name.into(),
            version: version.into(),
        };
        let remedy = Remedy {
            columns: vec!["1.26.4".into(), "2.0.2".into(), "2.4.1".into()],
            grids: vec![
                grid("h5py", "3.9.0", OutcomeKind::Fail),
                grid("pandas", "2.0.3", OutcomeKind::Fail),
            ],
            upgrades: vec![
                Upgrade {
                    name: "h5py".into(),
                    installed: "3.9.0".into(),
                    candidates: 7,
                    max_tries: 12,
                    tried: vec![
                        cell("3.16.0", "2.0.2", OutcomeKind::Pass, false),
                        cell("3.13.0", "2.0.2", OutcomeKind::Pass, false),
                        cell("3.12.1", "2.0.2", OutcomeKind::Pass, false),
                        cell("3.11.0", "2.0.2", OutcomeKind::Pass, false),
                        cell("3.10.0", "2.0.2", OutcomeKind::Fail, false),
                    ],
                    skipped: vec![Skipped {
                        version: "3.12.0".into(),
                        why: SkipReason::Yanked {
                            reason: String::new(),
                        },
                    }],
                    oldest_passing: Some("3.11.0".into()),
                    fails_below: Some("3.10.0".into()),
                    narrowed: true,
                    out_of_order: vec![],
                    index_error: None,
                },
                Upgrade {
                    name: "pandas".into(),
                    installed: "2.0.3".into(),
                    candidates: 300,
                    max_tries: 12,
                    tried: vec![
                        cell("3.0.0", "2.0.2", OutcomeKind::Pass, false),
                        cell("2.2.2", "2.0.2", OutcomeKind::Pass, false),
                        cell("2.2.1", "2.0.2", OutcomeKind::Unavailable, true),
                    ],
                    oldest_passing: Some("2.2.2".into()),
                    fails_below: Some("2.2.1".into()),
                    narrowed: true,
                    ..Upgrade::default()
                },
            ],
            pin_check: Some(SetCheck {
                numpy: "1.26.4".into(),
                packages: vec![
                    pinned("h5py", "3.9.0"),
                    pinned("pandas", "2.0.3"),
                    pinned("markupsafe_numpy", "1.0"),
                ],
                cell: cell("3.9.0", "1.26.4", OutcomeKind::Pass, false),
            }),
            upgrade_check: Some(SetCheck {
                numpy: "2.0.2".into(),
                packages: vec![
                    pinned("h5py", "3.11.0"),
                    pinned("pandas", "2.2.2"),
                    pinned("markupsafe_numpy", "1.0"),
                ],
                cell: cell("3.11.0", "2.0.2", OutcomeKind::Pass, false),
            }),
        };
        let package = |name: &str, version: &str, req: &str| Package {
            name: name.into(),
            version: version.into(),
            tops: vec![name.into()],
            numpy_requires: vec![req.into()],
        };
        let broken = [
            package("h5py", "3.9.0", "numpy>=1.17.3"),
            package(
                "pandas",
                "2.0.3",
                "numpy>=1.23.2; python_version >= \"3.11\"",
            ),
        ];
        let advice = advise(
            &trials,
            &remedy,
            &broken,
            "2.0.2",
            Some(&"3.11.7".parse().unwrap()),
        );
        Diagnosis {
            environment: Environment {
                executable: "/env/bin/python".into(),
                base_executable: "/usr/bin/python3.11".into(),
                prefix: "/env".into(),
                version: "3.11.7".into(),
                virtualenv: true,
                path: vec!["/env/site".into()],
                extension_suffixes: vec![".so".into()],
            },
            scan: Scan {
                scanned: 12,
                compiled_modules: 50,
                duration: Duration::from_millis(31),
                numpy: Some("2.0.2".into()),
                suspects: vec![
                    dist("crashy", "1.0", ""),
                    dist("h5py", "3.9.0", "numpy>=1.17.3"),
                    dist("markupsafe_numpy", "1.0", ""),
                    dist("numexpr", "2.8.4", "numpy>=1.13.3"),
                    dist(
                        "pandas",
                        "2.0.3",
                        "numpy>=1.23.2; python_version >= \"3.11\"",
                    ),
                    dist("slow", "0.1", ""),
                ],
            },
            trials,
            remedy: Some(remedy),
            advice: Some(advice),
            remedy_error: None,
            duration: Duration::from_millis(41_300),
        }
    }

    #[test]
    fn text_every_outcome() {
        insta::assert_snapshot!("doctor-text", text::render(&diagnosis()));
    }

    #[test]
    fn markdown_with_an_issue_report() {
        insta::assert_snapshot!("doctor-markdown", markdown::render(&diagnosis()));
    }

    #[test]
    fn json_is_versioned_and_complete() {
        let v: Value = serde_json::from_str(&json::render(&diagnosis())).unwrap();
        assert_eq!(v["schema"], json::SCHEMA);
        assert_eq!(v["ok"], false);
        assert_eq!(v["scan"]["scanned"], 12);
        assert_eq!(v["trials"][0]["signal_name"], "SIGSEGV");
        assert_eq!(v["trials"][1]["reason"], "dtype-size");
        assert_eq!(v["trials"][1]["module"], "h5py._errors");
        assert_eq!(v["trials"][1]["failures"][0]["module"], "h5py._conv");
        assert_eq!(v["trials"][1]["failures"][0]["raised"], "h5py._errors");
        assert_eq!(
            v["trials"][4]["missing_dependencies"][1]["requirement"],
            "python-dateutil"
        );
        assert_eq!(v["trials"][5]["outcome"], "timeout");
        assert_eq!(v["remedy"]["upgrades"][0]["oldest_passing"], "3.11.0");
        assert_eq!(v["remedy"]["upgrades"][0]["fails_below"], "3.10.0");
        assert_eq!(v["remedy"]["upgrades"][0]["skipped"][0]["why"], "yanked");
        assert_eq!(v["remedy"]["pin_check"]["cell"]["outcome"], "pass");
        let issues = v["issues"].as_array().unwrap();
        assert_eq!(issues.len(), 2);
        let h5py = issues[0]["markdown"].as_str().unwrap();
        assert!(h5py.contains("(`h5py._errors` raised it)"), "{h5py}");
    }

    /// The numexpr report of issue 21 ended at NumPy's AttributeError;
    /// the last line is the ImportError import_array() raised.
    #[test]
    fn every_report_keeps_the_whole_error() {
        let d = diagnosis();
        let md = markdown::render(&d);
        let numexpr = md
            .split("<details><summary>numexpr 2.8.4")
            .nth(1)
            .and_then(|rest| rest.split("</details>").next())
            .unwrap();
        assert!(
            numexpr.contains("AttributeError: _ARRAY_API not found\nTraceback")
                && numexpr.contains("ImportError: numpy.core.multiarray failed to import\n```"),
            "{numexpr}"
        );
        let t = text::render(&d);
        assert!(
            t.contains("NumPy 2.0.2 as it may crash.\n    ImportError: numpy.core.multiarray failed to import\n"),
            "{t}"
        );
    }

    /// A missing dependency is said as such, every line of the error is
    /// shown, and no issue report quotes it: pandas' report quotes the
    /// grid's error, made with the dependencies installed.
    #[test]
    fn a_missing_dependency_is_never_quoted_as_numpys() {
        let d = diagnosis();
        let t = text::render(&d);
        assert!(t.contains("✗ pandas 2.0.3: missing dependency: pytz, python-dateutil (install them; not a NumPy problem), raised in pandas\n    ImportError: Unable to import required dependencies:\n    pytz: No module named 'pytz'\n    dateutil: No module named 'dateutil'\n"), "{t}");
        let pandas = d
            .advice
            .as_ref()
            .unwrap()
            .wrong_declarations
            .iter()
            .find(|w| w.name == "pandas")
            .unwrap();
        let report = issue::render(&d, pandas);
        assert!(!report.contains("pytz"), "{report}");
        assert!(
            report.contains("**The error** (under numpy 2.0.2, in a fresh environment with its dependencies installed)"),
            "{report}"
        );
    }

    #[test]
    fn a_healthy_environment_says_so() {
        let mut d = diagnosis();
        d.trials.retain(Trial::passed);
        d.remedy = None;
        d.advice = None;
        let t = text::render(&d);
        assert!(
            t.ends_with("all 1 packages that use NumPy's C API import (41.3s)\n"),
            "{t}"
        );
        assert!(!t.contains("what fixes it"), "{t}");
    }
}
