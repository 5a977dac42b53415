//! The doctor's renderers: the terminal summary, Markdown (`--markdown`),
//! JSON (`--json`) and, per package whose declared NumPy requirement is
//! wrong, an issue report fit to paste into its tracker. Pure functions of
//! a [`Diagnosis`], snapshot-tested below; the app layer writes them.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::Diagnosis;
use super::advice::{Advice, WrongDeclaration};
use super::remedy::{Cell, Remedy, RemedyError, SkipReason, Upgrade};
use super::trial::Trial;
use crate::outcome::{Outcome, OutcomeKind};
use crate::report::wording::{first_line, outcome_text, symbol};

/// The schema of `--json`.
pub const SCHEMA: &str = "abimatrix.doctor";

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

/// The terminal summary: the environment and its scan, each trial, what
/// fixes it, the advice, and the closing count.
pub fn text(d: &Diagnosis) -> String {
    let mut out = String::new();
    scan_text(d, &mut out);
    if !d.trials.is_empty() {
        out.push('\n');
    }
    for t in &d.trials {
        let _ = writeln!(out, "{}", trial_line(t));
        for l in exception_lines(t) {
            let _ = writeln!(out, "    {l}");
        }
        if let Some(l) = failures_line(t) {
            let _ = writeln!(out, "    {l}");
        }
    }
    if let Some(r) = &d.remedy {
        remedy_text(r, d.scan.numpy.as_deref().unwrap_or("none"), &mut out);
    }
    if let Some(why) = &d.remedy_error {
        let _ = writeln!(
            out,
            "\nthe fixes could not be measured: {}",
            remedy_error_text(why)
        );
    }
    if let Some(a) = &d.advice {
        advice_text(a, &mut out);
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

/// Where the doctor looked and what the scan found in it.
fn scan_text(d: &Diagnosis, out: &mut String) {
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
}

/// The grid of what fixes it, the legend and the upgrade searches.
fn remedy_text(r: &Remedy, numpy: &str, out: &mut String) {
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
        if !u.tried.is_empty() || !u.skipped.is_empty() {
            let _ = writeln!(out, "{}", upgrade_search_text(u, numpy));
        }
    }
}

/// The advice, then each rule it violates and each wrong declaration.
fn advice_text(a: &Advice, out: &mut String) {
    out.push('\n');
    for line in advice_lines(a) {
        let _ = writeln!(out, "{line}");
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

/// `text` in a fenced code block whose fence no line of it can close.
fn fenced(text: &str) -> String {
    let mut fence = "```".to_string();
    while text.contains(fence.as_str()) {
        fence.push('`');
    }
    format!("{fence}\n{text}\n{fence}")
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
            let message = if !t.passed() && !t.missing.is_empty() {
                missing_text(t)
            } else {
                first_line(&t.outcome.message())
            };
            let _ = writeln!(
                out,
                "| {} {} | {} {} | {} | {} |",
                md(&t.name),
                md(&t.version),
                symbol(t.outcome.kind()),
                kind_text(&t.outcome),
                t.module.as_deref().map(md).unwrap_or_default(),
                md(&message)
            );
        }
        out.push('\n');
        for t in d.trials.iter().filter(|t| !t.error.is_empty()) {
            let _ = writeln!(
                out,
                "<details><summary>{} {}: the whole error</summary>\n\n{}\n</details>\n",
                md(&t.name),
                md(&t.version),
                fenced(&t.error)
            );
        }
    }
    if let Some(r) = &d.remedy {
        let _ = writeln!(out, "### What fixes it (measured)\n");
        md_grid(&mut out, r);
        out.push('\n');
        let numpy = d.scan.numpy.as_deref().unwrap_or("none");
        for u in &r.upgrades {
            if !u.tried.is_empty() || !u.skipped.is_empty() {
                for line in upgrade_search_text(u, numpy).lines() {
                    let _ = writeln!(out, "{}\n", md(line.trim_start()));
                }
            }
        }
    }
    if let Some(a) = &d.advice {
        for line in advice_lines(a) {
            match line.strip_prefix("→ ") {
                Some(l) => {
                    let _ = writeln!(out, "- {}", md(l));
                }
                None => {
                    let _ = writeln!(out, "  - {}", md(line.trim_start()));
                }
            }
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
    // The error in the user's environment, unless it is another
    // package's absence (never quoted: it is not the maintainer's NumPy
    // problem); else the grid's, made with the dependencies installed.
    let here = d
        .trials
        .iter()
        .find(|t| t.name == w.name && !t.passed() && t.missing.is_empty() && !t.error.is_empty());
    if let Some(t) = here {
        let _ = writeln!(
            out,
            "**The error** (`{}` raised it):\n\n{}\n",
            t.module.as_deref().unwrap_or(&t.name),
            fenced(&t.error)
        );
    } else if let Some(c) = d
        .remedy
        .iter()
        .flat_map(|r| &r.grids)
        .filter(|g| g.name == w.name)
        .flat_map(|g| g.cells.iter().filter(|c| g.numpy_caused(c)))
        .next()
    {
        let error = if c.error.is_empty() {
            &c.message
        } else {
            &c.error
        };
        let _ = writeln!(
            out,
            "**The error** (under numpy {}, in a fresh environment with its dependencies installed):\n\n{}\n",
            c.numpy,
            fenced(error)
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
            ..Remedy::default()
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
            v["error"] = json!(t.error);
            v["missing_dependencies"] = json!(t.missing);
            v["failures"] = t
                .failures
                .iter()
                .map(|f| {
                    json!({
                        "module": f.module,
                        "raised": f.raised,
                        "reason": f.reason,
                        "message": f.message,
                        "error": f.error,
                        "missing": f.missing,
                    })
                })
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
        "remedy_error": d.remedy_error.as_ref().map(remedy_error_text),
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
        let md = markdown(&d);
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
        let t = text(&d);
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
        let t = text(&d);
        assert!(t.contains("✗ pandas 2.0.3: missing dependency: pytz, python-dateutil (install them; not a NumPy problem), raised in pandas\n    ImportError: Unable to import required dependencies:\n    pytz: No module named 'pytz'\n    dateutil: No module named 'dateutil'\n"), "{t}");
        let pandas = d
            .advice
            .as_ref()
            .unwrap()
            .wrong_declarations
            .iter()
            .find(|w| w.name == "pandas")
            .unwrap();
        let report = issue(&d, pandas);
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
        let t = text(&d);
        assert!(
            t.ends_with("all 1 packages that use NumPy's C API import (41.3s)\n"),
            "{t}"
        );
        assert!(!t.contains("what fixes it"), "{t}");
    }
}
