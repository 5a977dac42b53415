//! The terminal report: one grid per interpreter (rows = build NumPy,
//! columns = runtime NumPy), a legend, each distinct failure reason with its
//! cells and first message line, then what was not as expected and a
//! summary. Rendered to a string with ANSI styles; the caller writes it
//! through `anstream`, which strips them when not on a terminal.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::model::{CellDoc, Document, GridDoc};
use crate::outcome::OutcomeKind;

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

/// The legend line shared by every format.
pub fn legend() -> String {
    format!(
        "{} pass  {} fail  {} crash  {} timeout  {} build-failed  {} unavailable  · ! = not what was expected",
        symbol(OutcomeKind::Pass),
        symbol(OutcomeKind::Fail),
        symbol(OutcomeKind::Crash),
        symbol(OutcomeKind::Timeout),
        symbol(OutcomeKind::BuildFailed),
        symbol(OutcomeKind::Unavailable)
    )
}

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
    let corner = "built with ↓ / runs on →";
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
        for l in &line.traceback {
            let _ = writeln!(out, "    {}", paint(DIM, l));
        }
    }
}

/// One distinct reason cells did not pass, within one grid.
pub struct ReasonLine<'a> {
    pub kind: OutcomeKind,
    /// "abi-major", "crash SIGSEGV", "timeout".
    pub name: String,
    pub cells: Vec<&'a CellDoc>,
    pub unexpected: usize,
    /// The first cell's first message line.
    pub message: String,
    /// Up to three "File ..." lines of the first crash's traceback.
    pub traceback: Vec<String>,
}

impl ReasonLine<'_> {
    /// "4 cells, expected" / "1 cell, unexpected" / "3 cells, 1 unexpected".
    pub fn count_text(&self) -> String {
        let n = self.cells.len();
        let plural = if n == 1 { "" } else { "s" };
        let expectation = match self.unexpected {
            0 => "expected".to_string(),
            u if u == n => "unexpected".to_string(),
            u => format!("{u} unexpected"),
        };
        format!("{n} cell{plural}, {expectation}")
    }

    /// The cells, at most `most` of them named.
    pub fn cells_text(&self, most: usize) -> String {
        let shown: Vec<String> = self.cells.iter().take(most).map(|c| c.pair()).collect();
        let more = self.cells.len().saturating_sub(shown.len());
        let tail = if more > 0 {
            format!(", and {more} more")
        } else {
            String::new()
        };
        format!("{}{tail}", shown.join(", "))
    }
}

/// The reasons of one grid, in outcome order, cells in grid order.
pub fn reason_lines(doc: &Document, grid: usize) -> Vec<ReasonLine<'_>> {
    let mut groups: BTreeMap<(OutcomeKind, String), Vec<&CellDoc>> = BTreeMap::new();
    for c in doc
        .cells
        .iter()
        .filter(|c| c.grid == grid && c.outcome != OutcomeKind::Pass)
    {
        let detail = match c.outcome {
            OutcomeKind::Fail => c.reason.map(|r| r.to_string()).unwrap_or_default(),
            OutcomeKind::Crash => c.signal_name.clone().unwrap_or_default(),
            _ => String::new(),
        };
        groups.entry((c.outcome, detail)).or_default().push(c);
    }
    groups
        .into_iter()
        .map(|((kind, detail), cells)| {
            let name = match (kind, detail.is_empty()) {
                (_, true) => kind.to_string(),
                (OutcomeKind::Fail, false) => detail,
                (_, false) => format!("{kind} {detail}"),
            };
            let first = cells[0];
            let message = first_line(&first.message);
            let traceback = first
                .traceback
                .as_deref()
                .unwrap_or("")
                .lines()
                .filter(|l| l.trim_start().starts_with("File "))
                .take(3)
                .map(|l| l.trim().to_string())
                .collect();
            ReasonLine {
                kind,
                name,
                unexpected: cells.iter().filter(|c| !c.met).count(),
                cells,
                message,
                traceback,
            }
        })
        .collect()
}

/// A message's first line, shortened to fit a summary.
pub fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    if line.chars().count() > 160 {
        let cut: String = line.chars().take(157).collect();
        format!("{cut}...")
    } else {
        line.to_string()
    }
}

/// "fail (abi-major)", "pass".
pub fn outcome_text(kind: OutcomeKind, reason: Option<crate::outcome::FailureReason>) -> String {
    match reason {
        Some(r) => format!("{kind} ({r})"),
        None => kind.to_string(),
    }
}

/// Which rule set a cell's expectation.
pub fn rule_text(c: &CellDoc) -> String {
    match (&c.expected.source, c.expected.line) {
        (Some(source), _) => source.clone(),
        (None, Some(l)) => format!("[[expect]] at line {l}"),
        (None, None) => "the default".to_string(),
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
            rule_text(c),
            outcome_text(c.outcome, c.reason)
        );
    }
}

/// "16 cells: 12 pass, 4 fail".
pub fn counts_text(doc: &Document) -> String {
    let parts: Vec<String> = OutcomeKind::ALL
        .iter()
        .map(|k| (k, doc.count(*k)))
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    format!("{} cells: {}", doc.cells.len(), parts.join(", "))
}

fn render_summary(doc: &Document, out: &mut String) {
    let unmet = doc.unmet().count();
    let verdict = if !doc.complete {
        paint(
            UNEXPECTED,
            &format!(
                "INCOMPLETE: {} of {} cells finished",
                doc.cells.len(),
                doc.summary.planned
            ),
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
