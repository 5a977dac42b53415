//! `matrix run --list`: the cells a run would run and what each is
//! expected to do, as `nox --list` and `tox list` show sessions, with
//! nothing built or run. Versions are resolved (from the cache when it can
//! answer), so the list is the run's own.

use std::fmt::Write as _;

use super::wording::outcome_text;
use crate::config::Config;
use crate::plan::Plan;
use crate::results::document::Expectation;

/// One line per cell: interpreter, build → runtime, expectation and the
/// rule that set it; then how many, and any `-k` hint.
pub fn render(plan: &Plan, config: &Config) -> String {
    let mut out = String::new();
    let mut rows = Vec::new();
    for g in &plan.header.grids {
        let mut cells = g.cells.clone();
        cells.sort_unstable();
        for (b, r) in cells {
            let (Some(build), Some(runtime)) = (g.build_axis.get(b), g.runtime_axis.get(r)) else {
                continue;
            };
            // A wheel row's own NumPy requirement is read when it is
            // installed; here every cell is listed as allowed.
            let expected = config.expectations.expected(
                &g.interpreter.version,
                &build.side(),
                &runtime.side(),
                false,
            );
            let e = Expectation::of(&expected);
            // What is already known not to run says why.
            let why = build
                .unavailable()
                .or(runtime.unavailable())
                .map(|w| format!("; unavailable: {w}"))
                .unwrap_or_default();
            let cell = format!(
                "{}: {} → {}",
                g.interpreter.label(),
                build.label(),
                runtime.label()
            );
            rows.push((
                cell,
                outcome_text(e.outcome, e.reason),
                format!("{}{why}", e.rule()),
            ));
        }
    }
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    for (cell, outcome, rule) in &rows {
        let pad = width - cell.chars().count();
        let _ = writeln!(out, "{cell}{:pad$}  expect {outcome} ({rule})", "");
    }
    let _ = writeln!(out, "{} cell(s)", rows.len());
    out
}
