//! `matrix explain`: one cell, with what a maintainer needs to reproduce it
//! by hand: the interpreter, the environments, the exact build and probe
//! commands, and everything the child wrote.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::wording::{cell_outcome, outcome_text};
use crate::results::document::GridDoc;
use crate::results::{CellDoc, Document};

/// The cell's command, ready to run again (see `probe::rerun`).
#[derive(Debug, Clone)]
pub struct Again {
    /// One line for `sh -c`, from any folder.
    pub command: String,
    /// Where its files were written, and kept.
    pub dir: PathBuf,
    /// Folders it needs that no longer exist.
    pub missing: Vec<PathBuf>,
}

pub fn render(doc: &Document, c: &CellDoc, again: Option<&Again>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cell:        {} · {}: {}",
        c.interpreter,
        c.pair(),
        cell_outcome(c)
    );
    let _ = writeln!(
        out,
        "expected:    {} by {} ({})",
        outcome_text(c.expected.outcome, c.expected.reason),
        c.expected.rule(),
        if c.met {
            "as expected"
        } else {
            "NOT as expected"
        }
    );
    if !c.message.is_empty() {
        let _ = writeln!(out, "message:     {}", c.message);
    }
    if let Some(hint) = &c.hint {
        let _ = writeln!(out, "hint:        {hint}");
    }
    // A loaded document is checked (every cell's grid exists); a cell
    // handed in from elsewhere is shown without its grid rather than panic.
    let grid = doc.grids.get(c.grid);
    if let Some(g) = grid {
        let _ = writeln!(
            out,
            "interpreter: {} ({}, found in {}, {}-{})",
            g.interpreter.label,
            g.interpreter.executable.display(),
            g.interpreter.found_in,
            g.interpreter.platform,
            g.interpreter.machine
        );
    }
    if let Some(installer) = &doc.extension {
        let _ = writeln!(out, "subject:     {installer}");
    }
    // A package row's label is short; its file or requirement is here.
    if let Some(row) = grid
        .filter(|_| doc.has_package_rows())
        .and_then(|g| g.axes.build.iter().find(|a| a.label() == c.build))
    {
        let _ = writeln!(out, "row:         {} ({})", c.build, row.request);
    }
    build_section(grid, c, &mut out);
    run_again_section(c, again, &mut out);
    if let Some(tb) = &c.traceback {
        let _ = writeln!(out, "\ntraceback:\n{tb}");
    }
    for (name, text) in [("stdout", &c.stdout), ("stderr", &c.stderr)] {
        if !text.is_empty() {
            let _ = writeln!(out, "\n{name}:\n{}", text.trim_end());
        }
    }
    out
}

/// The build of the cell's row, with its log.
fn build_section(grid: Option<&GridDoc>, c: &CellDoc, out: &mut String) {
    match grid.and_then(|g| g.builds.iter().find(|b| b.numpy == c.build)) {
        Some(b) => {
            let _ = writeln!(
                out,
                "\nbuild against numpy {} ({}{}):",
                b.numpy,
                if b.ok { "ok" } else { "FAILED" },
                if b.reused {
                    ", reused from the cache"
                } else {
                    ""
                }
            );
            for line in b.log.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        None => {
            let _ = writeln!(out, "\nrow {}: no build log in these results", c.build);
        }
    }
}

/// How to run the cell again by hand.
fn run_again_section(c: &CellDoc, again: Option<&Again>, out: &mut String) {
    match (again, &c.command) {
        (Some(again), _) => {
            let _ = writeln!(
                out,
                "\nrun again by hand (what it needs is in {}, kept):\n  $ {}",
                again.dir.display(),
                again.command
            );
            for gone in &again.missing {
                let _ = writeln!(
                    out,
                    "  note: {} no longer exists (the run used --fresh, or the cache was cleaned): `matrix run -k '{}:{}'` makes it again",
                    gone.display(),
                    c.build,
                    c.runtime
                );
            }
        }
        (None, Some(cmd)) => {
            let _ = writeln!(
                out,
                "\nrun (the runtime environment is the directory of this python):\n  $ {cmd}"
            );
        }
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::OutcomeKind;
    use crate::report::fixtures;

    #[test]
    fn a_crash_a_build_failure_and_a_failure_with_markup() {
        let doc = fixtures::every_outcome();
        for kind in [
            OutcomeKind::Crash,
            OutcomeKind::BuildFailed,
            OutcomeKind::Fail,
            OutcomeKind::Unavailable,
        ] {
            let cell = doc.cells.iter().rev().find(|c| c.outcome == kind).unwrap();
            insta::assert_snapshot!(format!("explain-{kind}"), render(&doc, cell, None));
        }
    }

    #[test]
    fn a_cell_without_its_grid_is_shown_not_a_panic() {
        let mut doc = fixtures::every_outcome();
        let mut cell = doc.cells[0].clone();
        cell.grid = 9;
        doc.grids.clear();
        assert!(render(&doc, &cell, None).starts_with("cell:"));
    }
}
