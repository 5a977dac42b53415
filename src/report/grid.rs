//! The terminal report: one grid (rows = build NumPy, columns = runtime
//! NumPy), a legend, and each distinct failure reason with its cells and
//! first message line. Rendered to a string with ANSI styles; the caller
//! writes it through `anstream`, which strips them when not on a terminal.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::results::RunResults;
use crate::outcome::{Outcome, OutcomeKind};
use crate::runner::{AxisEntry, CellResult, GridHeader};

const PASS: Style = AnsiColor::Green.on_default();
const EXPECTED_BAD: Style = AnsiColor::Yellow.on_default();
const UNEXPECTED: Style = AnsiColor::Red.on_default().bold();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

/// The one-character symbol of an outcome.
pub fn symbol(kind: OutcomeKind) -> char {
    match kind {
        OutcomeKind::Pass => '✓',
        OutcomeKind::Fail => '✗',
        OutcomeKind::Crash => '☠',
        OutcomeKind::Timeout => '⧗',
        OutcomeKind::BuildFailed => '⚒',
        OutcomeKind::Unavailable => '·',
    }
}

fn style_of(cell: &CellResult) -> Style {
    if !cell.met() {
        UNEXPECTED
    } else if cell.outcome.kind() == OutcomeKind::Pass {
        PASS
    } else if cell.outcome.kind() == OutcomeKind::Unavailable {
        DIM
    } else {
        EXPECTED_BAD
    }
}

fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// The whole terminal report: one grid per interpreter, then what was not
/// as expected and a summary line.
pub fn render(results: &RunResults) -> String {
    let mut out = String::new();
    let Some(header) = &results.header else {
        return "no results: the run stopped before any version was resolved\n".to_string();
    };
    for (index, grid) in header.grids.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        render_grid(results, index, grid, &header.extension, &mut out);
    }
    out.push('\n');
    render_unmet(results, &mut out);
    render_summary(results, &mut out);
    out
}

fn render_grid(
    results: &RunResults,
    index: usize,
    grid: &GridHeader,
    extension: &str,
    out: &mut String,
) {
    let _ = writeln!(
        out,
        "{} · {}",
        paint(BOLD, &grid.interpreter.label()),
        extension
    );
    let corner = "built with ↓ / runs on →";
    let labels: Vec<String> = grid.runtime_axis.iter().map(|a| a.label()).collect();
    let first_width = grid
        .build_axis
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
    for b in &grid.build_axis {
        let row = b.label();
        let _ = write!(out, "{:<first_width$}", row);
        for l in &labels {
            // The symbol sits under the version's last digits, with room for
            // the unexpected marker after it.
            let pad = l.chars().count().max(2).saturating_sub(2);
            let cell_text = match results.cell(index, &row, l) {
                Some(c) => {
                    let marker = if c.met() { ' ' } else { '!' };
                    paint(
                        style_of(c),
                        &format!("{}{marker}", symbol(c.outcome.kind())),
                    )
                }
                None => paint(DIM, "? "),
            };
            let _ = write!(out, "  {}{cell_text}", " ".repeat(pad));
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{}",
        paint(
            DIM,
            &format!(
                "{} pass  {} fail  {} crash  {} timeout  {} build-failed  {} unavailable  · ! = not what was expected",
                symbol(OutcomeKind::Pass),
                symbol(OutcomeKind::Fail),
                symbol(OutcomeKind::Crash),
                symbol(OutcomeKind::Timeout),
                symbol(OutcomeKind::BuildFailed),
                symbol(OutcomeKind::Unavailable)
            )
        )
    );
    render_reasons(results, index, grid, out);
}

/// What groups cells in the reason list: outcome plus its finer reason.
fn group_key(outcome: &Outcome) -> (OutcomeKind, String) {
    let detail = match outcome {
        Outcome::Fail(f) => f.reason.to_string(),
        Outcome::Crash { name, .. } => name.clone(),
        _ => String::new(),
    };
    (outcome.kind(), detail)
}

fn render_reasons(results: &RunResults, index: usize, grid: &GridHeader, out: &mut String) {
    let mut groups: BTreeMap<(OutcomeKind, String), Vec<&CellResult>> = BTreeMap::new();
    // Cells finish in any order; list them in grid order.
    let order = |c: &CellResult| {
        let pos = |axis: &[AxisEntry], label: &str| axis.iter().position(|a| a.label() == label);
        (
            pos(&grid.build_axis, &c.build),
            pos(&grid.runtime_axis, &c.runtime),
        )
    };
    let mut cells: Vec<&CellResult> = results.cells.iter().filter(|c| c.grid == index).collect();
    cells.sort_by_key(|c| order(c));
    for c in cells {
        if c.outcome.kind() != OutcomeKind::Pass {
            groups.entry(group_key(&c.outcome)).or_default().push(c);
        }
    }
    for ((kind, detail), cells) in &groups {
        let unexpected = cells.iter().filter(|c| !c.met()).count();
        let name = if detail.is_empty() {
            kind.to_string()
        } else if *kind == OutcomeKind::Fail {
            detail.clone()
        } else {
            format!("{kind} {detail}")
        };
        let expectation = match unexpected {
            0 => "expected".to_string(),
            n if n == cells.len() => "unexpected".to_string(),
            n => format!("{n} unexpected"),
        };
        let style = if unexpected > 0 {
            UNEXPECTED
        } else {
            EXPECTED_BAD
        };
        let plural = if cells.len() == 1 { "" } else { "s" };
        let _ = writeln!(
            out,
            "{} {} ({} cell{plural}, {expectation}): {}",
            paint(style, &symbol(*kind).to_string()),
            paint(BOLD, &name),
            cells.len(),
            first_line(&cells[0].outcome)
        );
        let shown: Vec<String> = cells
            .iter()
            .take(8)
            .map(|c| format!("{} → {}", c.build, c.runtime))
            .collect();
        let more = cells.len().saturating_sub(shown.len());
        let tail = if more > 0 {
            format!(", and {more} more")
        } else {
            String::new()
        };
        let _ = writeln!(out, "    {}{tail}", paint(DIM, &shown.join(", ")));
        if let Outcome::Crash {
            traceback: Some(tb),
            ..
        } = &cells[0].outcome
        {
            for line in tb
                .lines()
                .filter(|l| l.trim_start().starts_with("File "))
                .take(3)
            {
                let _ = writeln!(out, "    {}", paint(DIM, line.trim()));
            }
        }
    }
}

fn first_line(outcome: &Outcome) -> String {
    let message = outcome.message();
    let line = message.lines().next().unwrap_or("").trim();
    if line.chars().count() > 160 {
        let cut: String = line.chars().take(157).collect();
        format!("{cut}...")
    } else {
        line.to_string()
    }
}

fn render_unmet(results: &RunResults, out: &mut String) {
    let unmet: Vec<&CellResult> = results.unmet().collect();
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
        let expected = match c.expected.reason {
            Some(r) => format!("{} ({r})", c.expected.outcome),
            None => c.expected.outcome.to_string(),
        };
        let observed = match c.outcome.reason() {
            Some(r) => format!("{} ({r})", c.outcome.kind()),
            None => c.outcome.kind().to_string(),
        };
        let rule = c.expected.line.map_or_else(
            || "the default".to_string(),
            |l| format!("[[expect]] at line {l}"),
        );
        let _ = writeln!(
            out,
            "    {}: {} → {}: expected {expected} by {rule}, got {observed}",
            c.interpreter, c.build, c.runtime
        );
    }
}

fn render_summary(results: &RunResults, out: &mut String) {
    let mut parts = Vec::new();
    for kind in OutcomeKind::ALL {
        let n = results.count(kind);
        if n > 0 {
            parts.push(format!("{n} {kind}"));
        }
    }
    let unmet = results.unmet().count();
    let verdict = if !results.complete() {
        paint(
            UNEXPECTED,
            &format!(
                "INCOMPLETE: {} of {} cells finished",
                results.cells.len(),
                results.planned()
            ),
        )
    } else if unmet == 0 {
        paint(PASS, "every cell as expected")
    } else {
        paint(UNEXPECTED, &format!("{unmet} unexpected"))
    };
    let time = results
        .duration
        .map(|d| format!(" in {:.1}s", d.as_secs_f64()))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{} cells: {} · {verdict}{time}",
        results.cells.len(),
        parts.join(", ")
    );
}
