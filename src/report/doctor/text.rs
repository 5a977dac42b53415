//! The doctor's terminal summary: where it looked, each trial, what fixes
//! it, the advice, and the closing count.

use std::fmt::Write as _;

use super::*;
use crate::doctor::advice::WrongDeclaration;

/// The terminal summary: the environment and its scan, each trial, what
/// fixes it, the advice, and the closing count.
pub fn render(d: &Diagnosis) -> String {
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
