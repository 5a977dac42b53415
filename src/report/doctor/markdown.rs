//! The doctor's findings in Markdown (`--markdown`): the whole diagnosis,
//! then an issue report per wrong declaration.

use std::fmt::Write as _;

use super::*;

pub(super) fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// `text` in a fenced code block whose fence no line of it can close.
pub(super) fn fenced(text: &str) -> String {
    let mut fence = "```".to_string();
    while text.contains(fence.as_str()) {
        fence.push('`');
    }
    format!("{fence}\n{text}\n{fence}")
}

pub(super) fn md_grid(out: &mut String, r: &Remedy) {
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
pub fn render(d: &Diagnosis) -> String {
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
            out.push_str(&issue::render(d, w));
            out.push('\n');
        }
    }
    out
}
