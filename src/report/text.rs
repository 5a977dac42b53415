//! The terminal report: one grid per interpreter (rows = build NumPy,
//! columns = runtime NumPy), a legend, each distinct failure reason with its
//! cells and first message line, the answer read off the grid (which
//! runtime range each build works on), then what was not as expected and a
//! summary. Rendered to a string with ANSI styles; the caller writes it
//! through `anstream`, which strips them when not on a terminal.
//!
//! A grid of every release is hundreds of columns wide: on a terminal
//! narrower than the grid, [`for_terminal`] shows the answer instead (a
//! wrapped grid reads as noise), and says where the full grid is.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::sanitize::shown;
use super::wording::{
    Severity, cell_outcome, counts_text, legend, outcome_text, reason_lines, rule_line, severity,
    symbol, verdict_text,
};
use crate::outcome::OutcomeKind;
use crate::results::answer;
use crate::results::document::GridDoc;
use crate::results::{CellDoc, Document, Tally};

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
        if let Some(note) = super::wording::builds_only(doc, index) {
            let _ = writeln!(
                out,
                "{} · {extension}\n{}",
                paint(BOLD, &grid.interpreter.label),
                paint(DIM, note)
            );
            continue;
        }
        render_grid(doc, index, grid, extension, &mut out);
    }
    render_across(doc, &mut out);
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
    let corner = super::wording::corner(doc);
    let labels: Vec<&str> = grid.axes.runtime.iter().map(|a| a.label()).collect();
    let first_width = grid
        .axes
        .build
        .iter()
        .map(|a| {
            super::wording::row_title(doc, grid, a.label())
                .chars()
                .count()
        })
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
        let title = super::wording::row_title(doc, grid, row);
        let _ = write!(out, "{title:<first_width$}");
        for l in &labels {
            // The symbol sits under the version's last digits, with room for
            // the unexpected marker after it.
            let pad = l.chars().count().max(2).saturating_sub(2);
            let cell_text = match doc.cell(index, row, l) {
                Some(c) => {
                    let marker = if c.met { ' ' } else { '!' };
                    paint(style_of(c), &format!("{}{marker}", symbol(c.outcome)))
                }
                None => paint(DIM, &format!("{} ", super::wording::absent_symbol(doc))),
            };
            let _ = write!(out, "  {}{cell_text}", " ".repeat(pad));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", paint(DIM, &legend(doc, index)));
    for note in super::wording::axis_notes(grid) {
        let _ = writeln!(out, "{}", paint(DIM, &shown(&note)));
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
            shown(&line.message)
        );
        let _ = writeln!(out, "    {}", paint(DIM, &line.cells_text(8)));
        for l in &line.detail {
            let _ = writeln!(out, "    {}", paint(DIM, &shown(l)));
        }
        if let Some(hint) = &line.hint {
            let _ = writeln!(out, "    {} {}", paint(HINT, "hint:"), shown(hint));
        }
    }
    render_answer(doc, index, out);
}

/// The answer of grid `index`: each row's working runtime range, then
/// each column's oldest working build.
fn render_answer(doc: &Document, index: usize, out: &mut String) {
    let answer = answer::of_grid(doc, index);
    if answer.rows.is_empty() {
        return;
    }
    match super::wording::answer_scope(doc) {
        Some(scope) => {
            let _ = writeln!(out, "{} {scope}:", paint(BOLD, "answer,"));
        }
        None => {
            let _ = writeln!(out, "{}", paint(BOLD, "answer:"));
        }
    }
    for line in answer.lines() {
        let _ = writeln!(out, "    {line}");
    }
}

/// The answer of rows built once and imported under several Pythons.
fn render_across(doc: &Document, out: &mut String) {
    if let Some(limited) = answer::undeclared_abi3(doc) {
        let _ = writeln!(
            out,
            "\n{} every Python built its own wheel of the project, each tagged abi3 for {limited} (a whole run finds that and builds it once; a shard, a --python run or a build job does not): with `limited-api = \"{limited}\"` in [extension] it is built once, on one Python, and imported under every Python, in every kind of run",
            paint(HINT, "hint:")
        );
    }
    let shared = answer::across_pythons(doc);
    if shared.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{}", paint(BOLD, "answer across Pythons:"));
    for row in &shared {
        let _ = writeln!(out, "    {row}");
    }
}

/// `--summary`: the answer of every grid and the verdict, without the grids.
pub fn summary(doc: &Document) -> String {
    if doc.grids.is_empty() {
        return render(doc);
    }
    let mut out = String::new();
    render_answers(doc, &mut out);
    out.push('\n');
    render_summary(doc, &mut out);
    out
}

/// Each grid's interpreter and its answer.
fn render_answers(doc: &Document, out: &mut String) {
    let extension = doc.extension.as_deref().unwrap_or("extension");
    for (index, grid) in doc.grids.iter().enumerate() {
        if super::wording::builds_only(doc, index).is_some() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{} · {}",
            paint(BOLD, &grid.interpreter.label),
            extension
        );
        if let Some(scope) = super::wording::answer_scope(doc) {
            let _ = writeln!(out, "  answer, {scope}:");
        }
        for line in answer::of_grid(doc, index).lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    render_across(doc, out);
}

/// The report a finished run prints: only the answer with `--summary`
/// (`summary`), else [`for_terminal`].
pub fn finished(doc: &Document, summary: bool, width: Option<usize>) -> String {
    if summary {
        self::summary(doc)
    } else {
        for_terminal(doc, width)
    }
}

/// What `matrix run` prints on a terminal `width` columns wide (`None`:
/// not a terminal, where the whole report always goes): the whole report
/// when every grid fits, else the answer, the unexpected cells and where
/// the full grid is.
pub fn for_terminal(doc: &Document, width: Option<usize>) -> String {
    let widest = (0..doc.grids.len())
        .map(|i| grid_width(doc, i))
        .max()
        .unwrap_or(0);
    match width {
        Some(width) if widest > width => {
            let mut out = String::new();
            render_answers(doc, &mut out);
            out.push('\n');
            render_unmet(doc, &mut out);
            let _ = writeln!(
                out,
                "{}",
                paint(
                    DIM,
                    &format!(
                        "the grid is {widest} columns wide, the terminal {width}: the full grid is in the reports (--html PATH, or --json PATH and then `matrix report PATH`)"
                    )
                )
            );
            render_summary(doc, &mut out);
            out
        }
        _ => render(doc),
    }
}

/// How many columns the table of grid `index` takes (its widest line).
pub fn grid_width(doc: &Document, index: usize) -> usize {
    let Some(grid) = doc.grids.get(index) else {
        return 0;
    };
    let first = grid
        .axes
        .build
        .iter()
        .map(|a| {
            super::wording::row_title(doc, grid, a.label())
                .chars()
                .count()
        })
        .chain([super::wording::corner(doc).chars().count()])
        .max()
        .unwrap_or(0);
    first
        + grid
            .axes
            .runtime
            .iter()
            .map(|a| 2 + a.label().chars().count().max(2))
            .sum::<usize>()
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
            cell_outcome(c)
        );
    }
}

fn render_summary(doc: &Document, out: &mut String) {
    let verdict = Tally::of(doc);
    let mut findings = verdict.findings().peekable();
    if findings.peek().is_some() {
        let _ = writeln!(out, "{}", paint(BOLD, "declared vs measured:"));
        for f in findings {
            let style = match severity(f) {
                Severity::Fails => UNEXPECTED,
                Severity::Warning => EXPECTED_BAD,
                Severity::Note => DIM,
            };
            let _ = writeln!(out, "    {}", paint(style, &shown(&f.text())));
            let _ = writeln!(out, "        {}", paint(DIM, &shown(&rule_line(f))));
        }
        out.push('\n');
    }
    let style = if verdict.fails() { UNEXPECTED } else { PASS };
    let verdict = paint(style, &verdict_text(doc, &verdict));
    let time = doc
        .duration_s
        .map(|d| format!(" in {d:.1}s"))
        .unwrap_or_default();
    let _ = writeln!(out, "{} · {verdict}{time}", counts_text(doc));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The build Python of a shard or `--python` run that ran none of its
    /// cells is one line saying it built the rows, in every format, not a
    /// grid of blanks with "no runtime was tested"; with one of its cells
    /// it is a grid again.
    #[test]
    fn a_grid_that_only_built_the_rows_is_one_line() {
        let mut doc = fixtures::every_outcome();
        let builder = doc.grids[0].interpreter.label.clone();
        for g in &mut doc.grids {
            g.built_on = Some(builder.clone());
        }
        let kept = doc.cells.iter().find(|c| c.grid == 0).cloned().unwrap();
        doc.cells.retain(|c| c.grid != 0);
        let note = "builds only: every grid's rows were made on this Python (limited API); none of its own cells is in these results";
        let text = plain(&doc);
        assert!(text.contains(&format!("{builder} · ")), "{text}");
        assert!(text.contains(note), "{text}");
        assert_eq!(text.matches("built with ↓").count(), 1, "{text}");
        assert!(!text.contains("no runtime was tested"), "{text}");
        assert!(!summary(&doc).contains(&builder), "{}", summary(&doc));
        assert!(crate::report::markdown::render(&doc).contains(note));
        assert!(crate::report::html::render(&doc).contains(&crate::report::html::escape(note)));
        doc.cells.push(kept);
        assert!(!plain(&doc).contains(note));
    }
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

    /// The width the compact decision uses is the width the grid takes.
    #[test]
    fn grid_width_is_the_widest_line_of_the_table() {
        for doc in [
            fixtures::every_outcome(),
            fixtures::packages(),
            fixtures::answer(),
        ] {
            let text = plain(&doc);
            let widest = text
                .lines()
                .take_while(|l| !l.starts_with('✓'))
                .skip(1)
                .map(|l| l.trim_end().chars().count())
                .max()
                .unwrap_or(0);
            assert_eq!(grid_width(&doc, 0), widest, "{text}");
        }
    }

    #[test]
    fn a_grid_wider_than_the_terminal_gives_way_to_the_answer() {
        let doc = fixtures::answer();
        let width = grid_width(&doc, 0);
        let strip = |t: String| anstream::adapter::strip_str(&t).to_string();
        // Not a terminal, or wide enough: the whole report.
        assert_eq!(strip(for_terminal(&doc, None)), plain(&doc));
        assert_eq!(strip(for_terminal(&doc, Some(width))), plain(&doc));
        let narrow = strip(for_terminal(&doc, Some(width - 1)));
        assert!(
            !narrow.contains(super::super::wording::corner(&doc)),
            "{narrow}"
        );
        assert!(
            narrow.contains(
                "    built against 1.26.4: works on numpy >=1.24.4,<2.0.2 (2 of 5 tested releases pass)"
            ),
            "{narrow}"
        );
        assert!(
            narrow.contains("1 cell(s) did not do what was expected"),
            "{narrow}"
        );
        assert!(
            narrow.contains(&format!(
                "the grid is {width} columns wide, the terminal {}",
                width - 1
            )),
            "{narrow}"
        );
        assert!(narrow.ends_with("1 unexpected in 3.2s\n"), "{narrow}");
    }

    #[test]
    fn the_summary_is_the_answer_without_the_grid() {
        let doc = fixtures::answer();
        let text = anstream::adapter::strip_str(&summary(&doc)).to_string();
        assert!(!text.contains('✓'), "{text}");
        let full = plain(&doc);
        for line in text.lines().filter(|l| l.starts_with("    ")) {
            assert!(full.contains(line), "{line} is in the full report too");
        }
        assert!(text.lines().count() > 4, "{text}");
    }

    /// `-k` ran some cells: the others are blank (`–`) and named in the
    /// legend, and the answer says it is read from the selected cells only,
    /// leaving out the rows and columns that had none.
    #[test]
    fn a_selected_grid_reads_as_one() {
        let mut doc = fixtures::answer();
        doc.cells.retain(|c| c.build == "2.0.2");
        doc.selected = vec!["2.0.2".into()];
        let text = plain(&doc);
        let row = text.lines().find(|l| l.starts_with("1.26.4")).unwrap();
        assert!(
            row.chars().filter(|c| *c == '–').count() == doc.grids[0].axes.runtime.len(),
            "{text}"
        );
        assert!(
            text.contains("! not what was expected  – not selected by -k 2.0.2\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "answer, from the selected cells only (-k 2.0.2):\n    built against 2.0.2: "
            ),
            "{text}"
        );
        assert!(!text.contains("built against 1.26.4"), "{text}");
        assert!(!text.contains('?'), "{text}");
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
