//! Markdown: each grid as a table with a legend, the distinct failure
//! reasons and the answer (the runtime range each build works on), fit for
//! a CI step summary (`$GITHUB_STEP_SUMMARY`).

use std::fmt::Write as _;

use super::wording::{
    cell_outcome, counts_text, legend, outcome_text, reason_lines, rule_line, symbol,
};
use crate::results::Document;
use crate::results::answer;

/// Makes text safe inside a table cell or list item.
fn md(text: &str) -> String {
    // `*` too: "2.0.*:1.26.*" would turn into emphasis.
    text.replace('|', "\\|")
        .replace('*', "\\*")
        .replace('\n', " ")
}

pub fn render(doc: &Document) -> String {
    let mut out = String::new();
    let extension = doc.extension.as_deref().unwrap_or("extension");
    let _ = writeln!(out, "## abimatrix: {}\n", md(extension));
    for (index, grid) in doc.grids.iter().enumerate() {
        let _ = writeln!(out, "### {}\n", md(&grid.interpreter.label));
        if let Some(note) = super::wording::builds_only(doc, index) {
            let _ = writeln!(out, "{note}\n");
            continue;
        }
        write_table(doc, index, &mut out);
        let _ = writeln!(out, "\n{}\n", md(&legend(doc, index)));
        for note in super::wording::axis_notes(grid) {
            let _ = writeln!(out, "- {}", md(&note));
        }
        for line in reason_lines(doc, index) {
            let _ = writeln!(
                out,
                "- {} **{}** ({}): {}  \n  {}",
                symbol(line.kind),
                md(&line.name),
                line.count_text(),
                md(&line.message),
                md(&line.cells_text(12))
            );
            if let Some(hint) = &line.hint {
                let _ = writeln!(out, "  *hint:* {}", md(hint));
            }
        }
        let answer = answer::of_grid(doc, index);
        if !answer.rows.is_empty() {
            match super::wording::answer_scope(doc) {
                Some(scope) => {
                    let _ = writeln!(out, "\n**The answer**, {}\n", md(&scope));
                }
                None => out.push_str("\n**The answer**\n\n"),
            }
            for line in answer.lines() {
                let _ = writeln!(out, "- {}", md(&line));
            }
        }
        out.push('\n');
    }
    write_across(doc, &mut out);
    write_findings(doc, &mut out);
    write_unmet(doc, &mut out);
    let verdict = if !doc.complete {
        format!("**incomplete**: {}", md(&doc.incomplete_text()))
    } else if doc.summary.unmet == 0 {
        "every cell as expected".to_string()
    } else {
        format!("**{} unexpected**", doc.summary.unmet)
    };
    let _ = writeln!(out, "{} · {verdict}", counts_text(doc));
    // Printed into a CI log (`matrix report --format markdown` in a job),
    // a child's `##[error]` would be a command: `\[` is Markdown's own
    // escape of `[`. (No line of it starts with `:`.)
    super::sanitize::no_commands(&out, &MARKDOWN).into_owned()
}

/// Grid `index`'s table: build rows by runtime columns, each cell its
/// outcome's symbol (bold with `!` when not as expected).
fn write_table(doc: &Document, index: usize, out: &mut String) {
    let grid = &doc.grids[index];
    let _ = write!(out, "| {} |", super::wording::corner(doc));
    for r in &grid.axes.runtime {
        let _ = write!(out, " {} |", md(r.label()));
    }
    let _ = write!(out, "\n| --- |");
    for _ in &grid.axes.runtime {
        out.push_str(" :---: |");
    }
    out.push('\n');
    for b in &grid.axes.build {
        let _ = write!(
            out,
            "| **{}** |",
            md(&super::wording::row_title(doc, grid, b.label()))
        );
        for r in &grid.axes.runtime {
            let text = match doc.cell(index, b.label(), r.label()) {
                Some(c) if c.met => symbol(c.outcome).to_string(),
                Some(c) => format!("**{}!**", symbol(c.outcome)),
                None => super::wording::absent_symbol(doc).to_string(),
            };
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
}

/// The cells that did not do what was expected, each with its rule.
fn write_unmet(doc: &Document, out: &mut String) {
    let unmet: Vec<_> = doc.unmet().collect();
    if !unmet.is_empty() {
        let _ = writeln!(
            out,
            "**{} cell(s) did not do what was expected:**\n",
            unmet.len()
        );
        for c in unmet {
            let _ = writeln!(
                out,
                "- {}: {}: expected {} by {}, got {}",
                md(&c.interpreter),
                md(&c.pair()),
                outcome_text(c.expected.outcome, c.expected.reason),
                md(&c.expected.rule()),
                cell_outcome(c)
            );
        }
        out.push('\n');
    }
}

const MARKDOWN: super::sanitize::Escapes = super::sanitize::Escapes {
    colon: "\\:",
    bracket: "\\[",
};

/// What each package declares against what the grid measured.
fn write_findings(doc: &Document, out: &mut String) {
    let findings = super::wording::findings(doc);
    if findings.is_empty() {
        return;
    }
    out.push_str("**Declared vs measured**\n\n");
    for f in &findings {
        let _ = writeln!(out, "- {}  \n  *{}*", md(&f.text()), md(&rule_line(f)));
    }
    out.push('\n');
}

/// The answer of rows built once and imported under several Pythons.
fn write_across(doc: &Document, out: &mut String) {
    let shared = answer::across_pythons(doc);
    if shared.is_empty() {
        return;
    }
    out.push_str("**The answer across Pythons**\n\n");
    for row in &shared {
        let _ = writeln!(out, "- {}", md(&row.to_string()));
    }
    out.push('\n');
}
