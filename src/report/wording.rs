//! The wording every format shares: an outcome's symbol and name, why a
//! cell could not run, the legend, the distinct reasons cells did not pass
//! (with their cells), the notes on releases and forced builds, the
//! findings on declarations, the counts line. Each renderer lays these out
//! its own way; none words them differently.

use std::collections::BTreeMap;

use crate::outcome::{OutcomeKind, Unavailability};
use crate::results::declared::{self, Declaration, Verdict};
use crate::results::{CellDoc, Document, Tally};

/// The one-character symbol of an outcome.
pub fn symbol(kind: OutcomeKind) -> char {
    match kind {
        OutcomeKind::Pass => '✓',
        OutcomeKind::Fail => '✗',
        OutcomeKind::Crash => '☠',
        // In DejaVu Sans, which Chromium and most terminals fall back to
        // (U+29D7, once used, is in neither DejaVu nor Liberation).
        OutcomeKind::Timeout => '◷',
        OutcomeKind::BuildFailed => '⚒',
        OutcomeKind::Unavailable => '·',
    }
}

/// What a grid shows where it has no cell: `–` for a cell `-k` did not
/// select, `?` for one these results do not hold (an interrupted run, a
/// shard's own file).
pub fn absent_symbol(doc: &Document) -> char {
    if doc.selected.is_empty() { '?' } else { '–' }
}

/// The legend line shared by every format, for grid `grid` of `doc`: every
/// outcome's symbol, the unexpected marker, and, when the grid has cells
/// these results do not hold, what its blank cells mean.
pub fn legend(doc: &Document, grid: usize) -> String {
    let mut line = format!(
        "{} pass  {} fail  {} crash  {} timeout  {} build-failed  {} unavailable  ! not what was expected",
        symbol(OutcomeKind::Pass),
        symbol(OutcomeKind::Fail),
        symbol(OutcomeKind::Crash),
        symbol(OutcomeKind::Timeout),
        symbol(OutcomeKind::BuildFailed),
        symbol(OutcomeKind::Unavailable)
    );
    if let Some(absent) = absent_text(doc, grid) {
        line.push_str("  ");
        line.push_str(&absent);
    }
    line
}

/// What the blank cells of grid `grid` mean ("– not selected by -k 2.0.*"),
/// when it has any.
fn absent_text(doc: &Document, grid: usize) -> Option<String> {
    let g = doc.grids.get(grid)?;
    let held = doc.cells.iter().filter(|c| c.grid == grid).count();
    if held >= g.axes.build.len() * g.axes.runtime.len() {
        return None;
    }
    Some(if doc.selected.is_empty() {
        format!("{} not in these results", absent_symbol(doc))
    } else {
        format!("{} not selected by {}", absent_symbol(doc), selection(doc))
    })
}

/// The `-k` expressions of a selected run, as typed: "-k 2.0.* -k :1.26.*".
pub fn selection(doc: &Document) -> String {
    doc.selected
        .iter()
        .map(|s| format!("-k {s}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where the answer of a selected run comes from ("from the selected cells
/// only (-k 2.0.*)"); `None` when every cell was selected.
pub fn answer_scope(doc: &Document) -> Option<String> {
    (!doc.selected.is_empty()).then(|| format!("from the selected cells only ({})", selection(doc)))
}

/// Why a cell could not run, in the words of every report.
pub fn unavailable_words(why: Unavailability) -> &'static str {
    match why {
        Unavailability::BuildRequirements => "build requirements forbid",
        Unavailability::Metadata => "wheel metadata forbids",
        Unavailability::NoWheel => "no wheel",
        Unavailability::Yanked => "yanked",
        Unavailability::NextIsNothing => "no pre-release to test",
        Unavailability::Environment => "environment could not be made",
        Unavailability::Dependencies => "dependencies could not be installed",
        Unavailability::PythonAbi => "built for another Python ABI",
        Unavailability::Other => "could not run",
    }
}

/// What a cell did, as every report words it: "fail (abi-major)",
/// "crash", "unavailable (wheel metadata forbids)".
pub fn cell_outcome(c: &CellDoc) -> String {
    match (c.outcome, c.unavailable) {
        (OutcomeKind::Unavailable, Some(why)) => {
            format!("unavailable ({})", unavailable_words(why))
        }
        _ => outcome_text(c.outcome, c.reason),
    }
}

/// What a reader must know about one cell beyond its outcome: its build
/// was made only because of `--ignore-requires`, or a release it ran is
/// yanked (the same lines [`axis_notes`] gives for the whole grid).
pub fn cell_notes(doc: &Document, c: &CellDoc) -> Vec<String> {
    let Some(grid) = doc.grids.get(c.grid) else {
        return Vec::new();
    };
    notes(grid)
        .into_iter()
        .filter(|(_, subject)| *subject == c.build || *subject == c.runtime)
        .map(|(note, _)| note)
        .collect()
}

/// The verdicts on declarations a reader can act on, as the JSON's
/// `declarations` holds them.
pub fn findings(doc: &Document) -> Vec<Declaration> {
    declared::check(doc)
        .into_iter()
        .filter(Declaration::is_finding)
        .collect()
}

/// "rule: ..." under a finding, in every report.
pub fn rule_line(d: &Declaration) -> String {
    format!("rule: {}", d.rule_text())
}

/// How loud a finding is: fails the run, needs a look, or is a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Fails,
    Warning,
    Note,
}

/// A verdict's name, as titles and test names give it.
pub fn verdict_words(v: Verdict) -> &'static str {
    match v {
        Verdict::Error => "declaration error",
        Verdict::TooStrict => "bound too strict",
        Verdict::Unproven => "not proven too strict",
        Verdict::NotNumpy => "not a NumPy problem",
        Verdict::Forced => "forced build",
        Verdict::Holds => "declaration holds",
    }
}

pub fn severity(d: &Declaration) -> Severity {
    match d.verdict {
        _ if d.fails() => Severity::Fails,
        Verdict::Error | Verdict::TooStrict | Verdict::NotNumpy => Severity::Warning,
        Verdict::Unproven | Verdict::Forced | Verdict::Holds => Severity::Note,
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
    /// What explains it at a glance: up to three "File ..." lines of the
    /// first crash's traceback, or the last lines of a failed build's log.
    pub detail: Vec<String>,
    /// Advice for the first mistake these cells point to, when there is one.
    pub hint: Option<String>,
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
            // Cells unavailable for different reasons are different lines:
            // a forbidding metadata is not a forbidding build requirement.
            OutcomeKind::Unavailable => c
                .unavailable
                .map(|w| unavailable_words(w).to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        groups.entry((c.outcome, detail)).or_default().push(c);
    }
    groups
        .into_iter()
        .map(|((kind, detail), cells)| {
            let name = match (kind, detail.is_empty()) {
                (_, true) => kind.to_string(),
                (OutcomeKind::Fail | OutcomeKind::Unavailable, false) => detail,
                (_, false) => format!("{kind} {detail}"),
            };
            let first = cells[0];
            let message = first_line(&first.message);
            let detail = if kind == OutcomeKind::BuildFailed {
                last_lines(&first.stderr, 5)
            } else {
                first
                    .traceback
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .filter(|l| l.trim_start().starts_with("File "))
                    .take(3)
                    .map(|l| l.trim().to_string())
                    .collect()
            };
            ReasonLine {
                kind,
                name,
                unexpected: cells.iter().filter(|c| !c.met).count(),
                hint: cells.iter().find_map(|c| c.hint.clone()),
                cells,
                message,
                detail,
            }
        })
        .collect()
}

/// The last `n` non-empty lines of a log, each shortened to fit.
pub fn last_lines(log: &str, n: usize) -> Vec<String> {
    let lines: Vec<String> = log
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .map(first_line)
        .collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// The corner of a grid: what rows and columns are.
pub fn corner(doc: &Document) -> &'static str {
    if doc.has_package_rows() {
        "package ↓ / numpy →"
    } else {
        "built with ↓ / runs on →"
    }
}

/// A message's first line, shortened to fit a summary.
pub use crate::outcome::first_line;

/// "fail (abi-major)", "pass".
pub use crate::outcome::describe as outcome_text;

/// The verdict, in plain words: incomplete, every cell as expected, or how
/// many were not.
pub fn verdict_text(doc: &Document, verdict: &Tally) -> String {
    let wrong = verdict.failing();
    if !verdict.complete {
        format!("INCOMPLETE: {}", doc.incomplete_text())
    } else if verdict.unmet == 0 && wrong == 0 {
        "every cell as expected".to_string()
    } else if verdict.unmet == 0 {
        format!("{wrong} declaration error(s)")
    } else {
        format!("{} unexpected", verdict.unmet)
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

/// What a reader must know about a grid's releases beyond their versions:
/// a yanked release (and why), one from an index other than PyPI, one
/// installed from a local wheel, a build made only because of
/// `--ignore-requires`. One line each, the same in every format.
pub fn axis_notes(grid: &crate::results::document::GridDoc) -> Vec<String> {
    notes(grid).into_iter().map(|(note, _)| note).collect()
}

/// Each note with the label of the row or column it is about.
fn notes(grid: &crate::results::document::GridDoc) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for b in &grid.builds {
        if let Some(why) = &b.forced {
            out.push((
                format!(
                    "the build against numpy {} was {}: {why}",
                    b.numpy,
                    declared::FORCED
                ),
                b.numpy.clone(),
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for a in grid.axes.build.iter().chain(&grid.axes.runtime) {
        if !seen.insert(a.label().to_string()) {
            continue;
        }
        if let Some(reason) = &a.yanked {
            // A package row's label names its package; a release's does not.
            let what = match &a.label {
                Some(label) => label.clone(),
                None => format!("numpy {}", a.label()),
            };
            let note = if reason.is_empty() {
                format!("{what} is yanked on the index")
            } else {
                format!("{what} is yanked on the index: {reason}")
            };
            out.push((note, a.label().to_string()));
        }
        if let Some(wheel) = &a.wheel {
            out.push((
                format!("numpy {} is the local wheel {}", a.label(), wheel.display()),
                a.label().to_string(),
            ));
        } else if let Some(index) = a
            .index
            .as_deref()
            .filter(|i| *i != crate::python::index::PYPI)
        {
            out.push((
                format!("numpy {} is from {index}", a.label()),
                a.label().to_string(),
            ));
        }
    }
    out
}

/// A row's name in the table: its label, and the Python that built it when
/// the rows are shared across Pythons ("2.0.2 · built on 3.9").
pub fn row_title(doc: &Document, grid: &crate::results::document::GridDoc, row: &str) -> String {
    let Some(label) = &grid.built_on else {
        return row.to_string();
    };
    let python = doc
        .grids
        .iter()
        .find(|g| &g.interpreter.label == label)
        .map_or(label.clone(), crate::results::answer::minor_of);
    format!("{row} · built on {python}")
}

/// What stands for grid `index` when it is only the build Python of these
/// results (a shard or `--python` run that made the rows there and ran none
/// of its cells): a grid of nothing but blanks would read as a Python that
/// ran nothing. `None` for any grid with a cell here.
pub fn builds_only(doc: &Document, index: usize) -> Option<&'static str> {
    let grid = doc.grids.get(index)?;
    let label = &grid.interpreter.label;
    let builds_here = grid.built_on.as_ref() == Some(label)
        && doc
            .grids
            .iter()
            .any(|g| g.built_on.as_ref() == Some(label) && &g.interpreter.label != label);
    let held = doc.cells.iter().any(|c| c.grid == index);
    (builds_here && !held).then_some(
        "builds only: every grid's rows were made on this Python (limited API); none of its own cells is in these results",
    )
}

#[cfg(test)]
mod tests {
    use crate::report::{Format, fixtures, render};

    /// Rows shared across Pythons (an abi3 build) name the Python that
    /// built them in every format that draws the grid; rows of a Python's
    /// own builds stay as they were.
    #[test]
    fn shared_rows_name_the_python_that_built_them_in_every_grid_format() {
        let mut doc = fixtures::every_outcome();
        let builder = doc.grids[0].interpreter.label.clone();
        doc.grids[1].built_on = Some(builder);
        for format in [Format::Text, Format::Markdown, Format::Html] {
            let out = render(&doc, format);
            assert!(
                out.contains("2.0.2 · built on 3.11"),
                "{format:?} does not name the build Python:\n{out}"
            );
            doc.grids[1].built_on = None;
            let plain = render(&doc, format);
            assert!(!plain.contains("built on"), "{format:?}:\n{plain}");
            doc.grids[1].built_on = Some(doc.grids[0].interpreter.label.clone());
        }
    }
}
