//! The doctor's renderers: the terminal summary, Markdown (`--markdown`),
//! JSON (`--json`) and, per package whose declared NumPy requirement is
//! wrong, an issue report fit to paste into its tracker. Pure functions of
//! a [`Diagnosis`], snapshot-tested below; the app layer writes them.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::Diagnosis;
use super::remedy::{Cell, Remedy, WrongDeclaration};
use super::trial::Trial;
use crate::outcome::{Outcome, OutcomeKind};
use crate::report::grid::{first_line, outcome_text, symbol};

/// The schema of `--json`.
pub const SCHEMA: &str = "abimatrix.doctor";

/// "fail (dtype-size)", "crash (SIGSEGV)".
fn kind_text(o: &Outcome) -> String {
    match o {
        Outcome::Crash { name, .. } => format!("crash ({name})"),
        _ => outcome_text(o.kind(), o.reason()),
    }
}

/// "fail (dtype-size) in pandas._libs.algos: numpy.dtype size changed, …"
pub fn trial_line(t: &Trial) -> String {
    let mut line = format!(
        "{} {} {}: {}",
        symbol(t.outcome.kind()),
        t.name,
        t.version,
        kind_text(&t.outcome)
    );
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

/// The terminal summary.
pub fn text(d: &Diagnosis) -> String {
    let mut out = String::new();
    let e = &d.environment;
    let numpy = d.scan.numpy.as_deref().unwrap_or("none");
    let place = if e.virtualenv {
        format!("virtual environment {}", e.prefix.display())
    } else {
        format!("{}", e.prefix.display())
    };
    let _ = writeln!(
        out,
        "{} (CPython {}, {place}), numpy {numpy}",
        e.executable.display(),
        e.version
    );
    let _ = writeln!(
        out,
        "scanned {} distributions ({} compiled modules) in {:.2}s: {} use NumPy's C API",
        d.scan.scanned,
        d.scan.compiled_modules,
        d.scan.duration.as_secs_f64(),
        d.scan.suspects.len()
    );
    let width = d
        .scan
        .suspects
        .iter()
        .map(|s| s.name.len() + s.version.len() + 1)
        .max()
        .unwrap_or(0);
    for s in &d.scan.suspects {
        let declared = if s.numpy_requires.is_empty() {
            "declares no numpy requirement".to_string()
        } else {
            format!("declares {}", s.numpy_requires.join("; "))
        };
        let _ = writeln!(
            out,
            "  {:<width$}  {} C-API module(s); {declared}",
            format!("{} {}", s.name, s.version),
            s.c_api_modules.len()
        );
    }
    if !d.trials.is_empty() {
        out.push('\n');
    }
    for t in &d.trials {
        let _ = writeln!(out, "{}", trial_line(t));
        if let Some(l) = failures_line(t) {
            let _ = writeln!(out, "    {l}");
        }
    }
    if let Some(r) = &d.remedy {
        let _ = writeln!(
            out,
            "\nwhat fixes it, measured in abimatrix's own environments (yours is untouched):"
        );
        let rows = grid_rows(r);
        let first = rows
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0)
            .max(CORNER.chars().count());
        let _ = write!(out, "{CORNER:<first$}");
        for c in &r.columns {
            let _ = write!(out, "  {c:>6}");
        }
        out.push('\n');
        for (label, cells) in &rows {
            let _ = write!(out, "{label:<first$}");
            for (c, col) in cells.iter().zip(&r.columns) {
                let w = col.chars().count().max(6);
                let _ = write!(out, "  {c:>w$}");
            }
            out.push('\n');
        }
        let _ = writeln!(out, "{}", legend());
        for u in &r.upgrades {
            if !u.tried.is_empty() {
                let _ = writeln!(
                    out,
                    "{} releases tried under numpy {numpy}: {}",
                    u.name,
                    tried_text(&u.tried)
                );
            }
        }
    }
    if let Some(why) = &d.remedy_error {
        let _ = writeln!(out, "\nthe fixes could not be measured: {why}");
    }
    if let Some(a) = &d.advice {
        out.push('\n');
        if let Some(n) = &a.numpy {
            let _ = writeln!(out, "→ {n}");
        }
        for u in &a.upgrades {
            let _ = writeln!(out, "→ {u}");
        }
        for v in &a.violated {
            let _ = writeln!(out, "! {v}");
        }
        for w in &a.wrong_declarations {
            let _ = writeln!(out, "! {}", wrong_line(w));
        }
        if !a.wrong_declarations.is_empty() {
            let _ = writeln!(
                out,
                "  (--markdown PATH writes an issue report for each, fit to paste into its tracker)"
            );
        }
    }
    let broken = d.broken().count();
    let _ = writeln!(
        out,
        "\n{}",
        if d.trials.is_empty() {
            format!(
                "nothing to try: no installed package uses NumPy's C API ({:.1}s)",
                d.duration.as_secs_f64()
            )
        } else if broken == 0 {
            format!(
                "all {} packages that use NumPy's C API import ({:.1}s)",
                d.trials.len(),
                d.duration.as_secs_f64()
            )
        } else {
            format!(
                "{broken} of {} packages that use NumPy's C API do not import ({:.1}s)",
                d.trials.len(),
                d.duration.as_secs_f64()
            )
        }
    );
    out
}

fn wrong_line(w: &WrongDeclaration) -> String {
    let declared = if w.declared.is_empty() {
        "no numpy requirement at all".to_string()
    } else {
        w.declared.join("; ")
    };
    format!(
        "{} {} declares {declared}, which admits numpy {}, under which it fails: the declaration is wrong",
        w.name,
        w.version,
        w.fails_under.join(", ")
    )
}

fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn md_grid(out: &mut String, r: &Remedy) {
    let _ = write!(out, "| {CORNER} |");
    for c in &r.columns {
        let _ = write!(out, " {c} |");
    }
    let _ = write!(out, "\n| --- |");
    for _ in &r.columns {
        out.push_str(" :---: |");
    }
    out.push('\n');
    for (label, cells) in grid_rows(r) {
        let _ = writeln!(out, "| **{}** | {} |", md(&label), cells.join(" | "));
    }
    let _ = writeln!(out, "\n{}", legend());
}

/// `--markdown`: the whole diagnosis, then an issue report per wrong
/// declaration.
pub fn markdown(d: &Diagnosis) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## abimatrix doctor: {}\n",
        d.environment.executable.display()
    );
    let _ = writeln!(
        out,
        "CPython {}, numpy {}; {} distributions scanned, {} use NumPy's C API.\n",
        d.environment.version,
        d.scan.numpy.as_deref().unwrap_or("none"),
        d.scan.scanned,
        d.scan.suspects.len()
    );
    if !d.trials.is_empty() {
        let _ = writeln!(
            out,
            "| package | outcome | module | message |\n| --- | --- | --- | --- |"
        );
        for t in &d.trials {
            let _ = writeln!(
                out,
                "| {} {} | {} {} | {} | {} |",
                md(&t.name),
                md(&t.version),
                symbol(t.outcome.kind()),
                kind_text(&t.outcome),
                t.module.as_deref().map(md).unwrap_or_default(),
                md(&first_line(&t.outcome.message()))
            );
        }
        out.push('\n');
    }
    if let Some(r) = &d.remedy {
        let _ = writeln!(out, "### What fixes it (measured)\n");
        md_grid(&mut out, r);
        out.push('\n');
    }
    if let Some(a) = &d.advice {
        for line in a.numpy.iter().chain(&a.upgrades) {
            let _ = writeln!(out, "- {}", md(line));
        }
        for v in &a.violated {
            let _ = writeln!(out, "- ⚠ {}", md(v));
        }
        out.push('\n');
        for w in &a.wrong_declarations {
            out.push_str(&issue(d, w));
            out.push('\n');
        }
    }
    out
}

/// An issue report for a package whose declared NumPy requirement admits
/// a NumPy it fails under: what was installed, the exact error, the grid.
pub fn issue(d: &Diagnosis, w: &WrongDeclaration) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Issue report: {} {} fails under numpy {} which its metadata allows\n",
        w.name,
        w.version,
        w.fails_under.join(", ")
    );
    let declared = if w.declared.is_empty() {
        "(no numpy requirement)".to_string()
    } else {
        w.declared.join("; ")
    };
    let _ = writeln!(
        out,
        "`{} {}` declares `{}`, which admits numpy {}, but importing it under {} fails. \
         Installers trust the declaration, so users get this combination without any warning.\n",
        w.name,
        w.version,
        declared,
        w.fails_under.join(", "),
        if w.fails_under.len() == 1 {
            "that version"
        } else {
            "those versions"
        }
    );
    let _ = writeln!(
        out,
        "**Installed**: CPython {} on {}-{}, numpy {}, {} {} (wheels from PyPI).\n",
        d.environment.version,
        std::env::consts::OS,
        std::env::consts::ARCH,
        d.scan.numpy.as_deref().unwrap_or("none"),
        w.name,
        w.version
    );
    if let Some(t) = d.trials.iter().find(|t| t.name == w.name && !t.passed()) {
        let _ = writeln!(
            out,
            "**The error** (importing `{}`):\n\n```\n{}\n```\n",
            t.module.as_deref().unwrap_or(&t.name),
            excerpt(t)
        );
    } else if let Some(c) = d
        .remedy
        .iter()
        .flat_map(|r| &r.grids)
        .filter(|g| g.name == w.name)
        .flat_map(|g| &g.cells)
        .find(|c| c.ran() && !c.passed())
    {
        let _ = writeln!(
            out,
            "**The error** (under numpy {}):\n\n```\n{}\n```\n",
            c.numpy, c.message
        );
    }
    if let Some(r) = &d.remedy {
        let one = Remedy {
            columns: r.columns.clone(),
            grids: r
                .grids
                .iter()
                .filter(|g| g.name == w.name)
                .cloned()
                .collect(),
            upgrades: Vec::new(),
        };
        let _ = writeln!(
            out,
            "**The grid** (`{} {}` from PyPI imported, with each compiled module that uses NumPy's C API, under each NumPy, each in a fresh environment):\n",
            w.name, w.version
        );
        md_grid(&mut out, &one);
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Suggested fix: an upper bound on numpy in the metadata of {} {} (and new releases built against NumPy 2).\n\n*Measured with `matrix doctor` (abimatrix).*",
        w.name, w.version
    );
    out
}

/// The traceback's last lines and NumPy's own message, at most 30 lines.
fn excerpt(t: &Trial) -> String {
    // importlib's own frames and the caret lines say nothing to a
    // maintainer; the package's frames and the error do.
    let lines: Vec<&str> = t
        .stderr
        .lines()
        .filter(|l| {
            let s = l.trim();
            !s.is_empty()
                && !s.contains("<frozen importlib")
                && !s.chars().all(|c| matches!(c, '^' | '~'))
        })
        .collect();
    // The first failure's traceback is what matters: up to the first
    // exception line.
    let end = lines
        .iter()
        .position(|l| !l.starts_with(' ') && l.contains("Error"))
        .map_or(lines.len(), |i| i + 1);
    let start = end.saturating_sub(30);
    lines[start..end].join("\n")
}

fn outcome_json(o: &Outcome) -> Value {
    let mut v = json!({
        "outcome": o.kind(),
        "reason": o.reason(),
        "message": o.message(),
    });
    if let Outcome::Crash { signal, name, .. } = o {
        v["signal"] = json!(signal);
        v["signal_name"] = json!(name);
    }
    if let Outcome::Fail(f) = o {
        v["exception"] = json!(f.exception);
    }
    v
}

/// `--json`: the whole diagnosis, versioned.
pub fn to_json(d: &Diagnosis) -> String {
    let trials: Vec<Value> = d
        .trials
        .iter()
        .map(|t| {
            let mut v = outcome_json(&t.outcome);
            v["name"] = json!(t.name);
            v["version"] = json!(t.version);
            v["module"] = json!(t.module);
            v["modules"] = json!(t.modules);
            v["failures"] = t
                .failures
                .iter()
                .map(|f| json!({"module": f.module, "reason": f.reason, "message": f.message}))
                .collect();
            v["duration_s"] = json!((t.duration.as_secs_f64() * 1000.0).round() / 1000.0);
            v["command"] = json!(t.command);
            v["stdout"] = json!(t.stdout);
            v["stderr"] = json!(t.stderr);
            v
        })
        .collect();
    let issues: Vec<Value> = d
        .advice
        .iter()
        .flat_map(|a| &a.wrong_declarations)
        .map(|w| json!({"name": w.name, "version": w.version, "markdown": issue(d, w)}))
        .collect();
    let doc = json!({
        "schema": SCHEMA,
        "schema_version": 1,
        "environment": d.environment,
        "scan": d.scan,
        "trials": trials,
        "remedy": d.remedy,
        "remedy_error": d.remedy_error,
        "advice": d.advice,
        "issues": issues,
        "ok": d.broken().next().is_none(),
        "duration_s": (d.duration.as_secs_f64() * 1000.0).round() / 1000.0,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::doctor::remedy::{Advice, PackageGrid, Upgrade};
    use crate::doctor::scan::{Distribution, Scan};
    use crate::doctor::trial::ModuleFailure;
    use crate::doctor::{Diagnosis, Environment};
    use crate::outcome::{Failure, FailureReason};

    fn trial(name: &str, version: &str, outcome: Outcome, module: Option<&str>) -> Trial {
        Trial {
            name: name.into(),
            version: version.into(),
            outcome,
            module: module.map(String::from),
            failures: Vec::new(),
            modules: 3,
            duration: Duration::from_millis(120),
            stdout: String::new(),
            stderr: String::new(),
            command: format!("/env/bin/python -I -B trial.py {name}"),
        }
    }

    fn cell(version: &str, numpy: &str, outcome: OutcomeKind, forbidden: bool) -> Cell {
        Cell {
            version: version.into(),
            numpy: numpy.into(),
            outcome,
            reason: (outcome == OutcomeKind::Fail).then_some(FailureReason::DtypeSize),
            message: String::new(),
            forbidden,
        }
    }

    /// A diagnosis with every outcome a trial can have, and a remedy.
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
            c_api_modules: vec![format!("{name}._ext")],
            top_level: vec![name.into()],
        };
        let mut pandas = trial(
            "pandas",
            "2.0.3",
            Outcome::Fail(Failure {
                reason: FailureReason::DtypeSize,
                exception: Some("ValueError".into()),
                message: "numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject".into(),
            }),
            Some("pandas._libs.algos"),
        );
        pandas.failures = vec![
            ModuleFailure {
                module: "pandas._libs.algos".into(),
                reason: FailureReason::DtypeSize,
                message: "numpy.dtype size changed".into(),
            },
            ModuleFailure {
                module: "pandas".into(),
                reason: FailureReason::DtypeSize,
                message: "numpy.dtype size changed".into(),
            },
        ];
        pandas.stderr = "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nValueError: numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject\n".into();
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
                scanned: 9,
                compiled_modules: 50,
                duration: Duration::from_millis(31),
                numpy: Some("2.0.2".into()),
                suspects: vec![
                    dist("crashy", "1.0", ""),
                    dist("numexpr", "2.10.1", "numpy>=1.23.0"),
                    dist(
                        "pandas",
                        "2.0.3",
                        "numpy>=1.23.2; python_version >= \"3.11\"",
                    ),
                    dist("slow", "0.1", ""),
                ],
            },
            trials: vec![
                trial(
                    "crashy",
                    "1.0",
                    Outcome::Crash {
                        signal: 11,
                        name: "SIGSEGV".into(),
                        traceback: None,
                    },
                    Some("crashy._ext"),
                ),
                trial("numexpr", "2.10.1", Outcome::Pass, None),
                pandas,
                trial(
                    "slow",
                    "0.1",
                    Outcome::Timeout {
                        limit: Duration::from_secs(60),
                    },
                    Some("slow"),
                ),
            ],
            remedy: Some(Remedy {
                columns: vec!["1.26.4".into(), "2.0.2".into(), "2.4.1".into()],
                grids: vec![PackageGrid {
                    name: "pandas".into(),
                    version: "2.0.3".into(),
                    cells: vec![
                        cell("2.0.3", "1.26.4", OutcomeKind::Pass, false),
                        cell("2.0.3", "2.0.2", OutcomeKind::Fail, false),
                        cell("2.0.3", "2.4.1", OutcomeKind::Unavailable, true),
                    ],
                }],
                upgrades: vec![Upgrade {
                    name: "pandas".into(),
                    installed: "2.0.3".into(),
                    tried: vec![
                        cell("2.2.3", "2.0.2", OutcomeKind::Pass, false),
                        cell("2.2.2", "2.0.2", OutcomeKind::Pass, false),
                        cell("2.2.1", "2.0.2", OutcomeKind::Fail, false),
                    ],
                    oldest_passing: Some("2.2.2".into()),
                }],
            }),
            advice: Some(Advice {
                numpy: Some("pin numpy<2 (everything passes under 1.26.4)".into()),
                upgrades: vec!["upgrade pandas to >=2.2.2 (passes under numpy 2.0.2)".into()],
                wrong_declarations: vec![WrongDeclaration {
                    name: "pandas".into(),
                    version: "2.0.3".into(),
                    declared: vec!["numpy>=1.23.2; python_version >= \"3.11\"".into()],
                    fails_under: vec!["2.0.2".into()],
                }],
                violated: vec![],
            }),
            remedy_error: None,
            duration: Duration::from_millis(41_300),
        }
    }

    #[test]
    fn text_every_outcome() {
        insta::assert_snapshot!("doctor-text", text(&diagnosis()));
    }

    #[test]
    fn markdown_with_an_issue_report() {
        insta::assert_snapshot!("doctor-markdown", markdown(&diagnosis()));
    }

    #[test]
    fn json_is_versioned_and_complete() {
        let v: Value = serde_json::from_str(&to_json(&diagnosis())).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["ok"], false);
        assert_eq!(v["scan"]["scanned"], 9);
        assert_eq!(v["trials"][0]["signal_name"], "SIGSEGV");
        assert_eq!(v["trials"][2]["reason"], "dtype-size");
        assert_eq!(v["trials"][2]["module"], "pandas._libs.algos");
        assert_eq!(v["trials"][3]["outcome"], "timeout");
        assert_eq!(v["remedy"]["upgrades"][0]["oldest_passing"], "2.2.2");
        assert!(
            v["issues"][0]["markdown"]
                .as_str()
                .unwrap()
                .contains("ValueError: numpy.dtype size changed")
        );
    }

    #[test]
    fn a_healthy_environment_says_so() {
        let mut d = diagnosis();
        d.trials.retain(Trial::passed);
        d.remedy = None;
        d.advice = None;
        let t = text(&d);
        assert!(
            t.ends_with("all 1 packages that use NumPy's C API import (41.3s)\n"),
            "{t}"
        );
        assert!(!t.contains("what fixes it"), "{t}");
    }
}
