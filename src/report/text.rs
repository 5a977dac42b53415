//! The terminal report: one grid per interpreter (rows = build NumPy,
//! columns = runtime NumPy), a legend, each distinct failure reason with its
//! cells and first message line, then what was not as expected and a
//! summary. Rendered to a string with ANSI styles; the caller writes it
//! through `anstream`, which strips them when not on a terminal.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::grid::{counts_text, legend, outcome_text, reason_lines, symbol};
use crate::outcome::OutcomeKind;
use crate::results::document::GridDoc;
use crate::results::{CellDoc, Document};

const PASS: Style = AnsiColor::Green.on_default();
const EXPECTED_BAD: Style = AnsiColor::Yellow.on_default();
const UNEXPECTED: Style = AnsiColor::Red.on_default().bold();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();
const HINT: Style = AnsiColor::Cyan.on_default().bold();

fn style_of(cell: &CellDoc) -> Style {
    if !cell.met {
        UNEXPECTED
    } else if cell.outcome == OutcomeKind::Pass {
        PASS
    } else if cell.outcome == OutcomeKind::Unavailable {
        DIM
    } else {
        EXPECTED_BAD
    }
}

fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// The whole terminal report.
pub fn render(doc: &Document) -> String {
    let mut out = String::new();
    if doc.grids.is_empty() {
        return "no results: the run stopped before any version was resolved\n".to_string();
    }
    let extension = doc.extension.as_deref().unwrap_or("extension");
    for (index, grid) in doc.grids.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        render_grid(doc, index, grid, extension, &mut out);
    }
    out.push('\n');
    render_unmet(doc, &mut out);
    render_summary(doc, &mut out);
    out
}

fn render_grid(doc: &Document, index: usize, grid: &GridDoc, extension: &str, out: &mut String) {
    let _ = writeln!(
        out,
        "{} · {}",
        paint(BOLD, &grid.interpreter.label),
        extension
    );
    let corner = super::grid::corner(doc);
    let labels: Vec<&str> = grid.axes.runtime.iter().map(|a| a.label()).collect();
    let first_width = grid
        .axes
        .build
        .iter()
        .map(|a| a.label().chars().count())
        .chain([corner.chars().count()])
        .max()
        .unwrap_or(0);
    let _ = write!(out, "{corner:<first_width$}");
    for l in &labels {
        let _ = write!(out, "  {l:>w$}", w = l.chars().count().max(2));
    }
    out.push('\n');
    for b in &grid.axes.build {
        let row = b.label();
        let _ = write!(out, "{row:<first_width$}");
        for l in &labels {
            // The symbol sits under the version's last digits, with room for
            // the unexpected marker after it.
            let pad = l.chars().count().max(2).saturating_sub(2);
            let cell_text = match doc.cell(index, row, l) {
                Some(c) => {
                    let marker = if c.met { ' ' } else { '!' };
                    paint(style_of(c), &format!("{}{marker}", symbol(c.outcome)))
                }
                None => paint(DIM, "? "),
            };
            let _ = write!(out, "  {}{cell_text}", " ".repeat(pad));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", paint(DIM, &legend()));
    for note in super::grid::axis_notes(grid) {
        let _ = writeln!(out, "{}", paint(DIM, &note));
    }
    for line in reason_lines(doc, index) {
        let style = if line.unexpected > 0 {
            UNEXPECTED
        } else {
            EXPECTED_BAD
        };
        let _ = writeln!(
            out,
            "{} {} ({}): {}",
            paint(style, &symbol(line.kind).to_string()),
            paint(BOLD, &line.name),
            line.count_text(),
            line.message
        );
        let _ = writeln!(out, "    {}", paint(DIM, &line.cells_text(8)));
        for l in &line.detail {
            let _ = writeln!(out, "    {}", paint(DIM, l));
        }
        if let Some(hint) = &line.hint {
            let _ = writeln!(out, "    {} {hint}", paint(HINT, "hint:"));
        }
    }
}

fn render_unmet(doc: &Document, out: &mut String) {
    let unmet: Vec<&CellDoc> = doc.unmet().collect();
    if unmet.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{}",
        paint(
            UNEXPECTED,
            &format!("{} cell(s) did not do what was expected:", unmet.len())
        )
    );
    for c in unmet {
        let _ = writeln!(
            out,
            "    {}: {}: expected {} by {}, got {}",
            c.interpreter,
            c.pair(),
            outcome_text(c.expected.outcome, c.expected.reason),
            c.expected.rule(),
            outcome_text(c.outcome, c.reason)
        );
    }
}

fn render_summary(doc: &Document, out: &mut String) {
    let unmet = doc.unmet().count();
    let verdict = if !doc.complete {
        paint(
            UNEXPECTED,
            &format!("INCOMPLETE: {}", doc.incomplete_text()),
        )
    } else if unmet == 0 {
        paint(PASS, "every cell as expected")
    } else {
        paint(UNEXPECTED, &format!("{unmet} unexpected"))
    };
    let time = doc
        .duration_s
        .map(|d| format!(" in {d:.1}s"))
        .unwrap_or_default();
    let _ = writeln!(out, "{} · {verdict}{time}", counts_text(doc));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    fn plain(doc: &Document) -> String {
        anstream::adapter::strip_str(&render(doc)).to_string()
    }

    #[test]
    fn unexpected_cells_are_red_and_expected_failures_yellow() {
        let text = render(&fixtures::every_outcome());
        let red = format!("{UNEXPECTED}☠!{UNEXPECTED:#}");
        let yellow = format!("{EXPECTED_BAD}✗ {EXPECTED_BAD:#}");
        assert!(text.contains(&red), "{text}");
        assert!(text.contains(&yellow), "{text}");
    }

    #[test]
    fn no_results() {
        let mut doc = fixtures::every_outcome();
        doc.grids.clear();
        doc.cells.clear();
        assert_eq!(
            plain(&doc),
            "no results: the run stopped before any version was resolved\n"
        );
    }
}
