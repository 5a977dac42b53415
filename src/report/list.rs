//! `matrix run --list`: the cells a run would run and what each is
//! expected to do, as `nox --list` and `tox list` show sessions, with
//! nothing built or run. Versions are resolved (from the cache when it can
//! answer), so the list is the run's own.

use std::fmt::Write as _;

use super::wording::outcome_text;
use crate::config::Config;
use crate::extension::{Subject, SubjectKind};
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
            let expected = g.expected(&config.expectations, &build.side(), &runtime.side(), false);
            let e = Expectation::of(&expected);
            // What is already known not to run says why.
            // Below the limited API, nothing of the row loads at all.
            let gap = g.shared.as_ref().and_then(|s| s.gap.as_deref());
            let why = gap
                .or(build.unavailable())
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
    if let Some(line) = builds_across_pythons(plan) {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// How builds meet Pythons, when the run has builds and several Pythons:
/// made once and imported under every Python (limited API), or each
/// Python's own and never tried under another.
fn builds_across_pythons(plan: &Plan) -> Option<String> {
    let grids = &plan.header.grids;
    if grids.len() < 2 || matches!(plan.extension.subject, Subject::Rows(_)) {
        return None;
    }
    Some(match grids.iter().find_map(|g| g.shared.as_ref()) {
        Some(shared) => {
            let builder = grids.get(shared.builder);
            format!(
                "builds: made once, on {} (limited API {}, abi3: {}), and imported under every Python at or above {}{}",
                builder.map_or_else(String::new, |b| b.interpreter.label()),
                shared.limited,
                shared.declared,
                shared.limited,
                if builder.is_some_and(|b| b.builds_only) {
                    " (none of its own cells in this run)"
                } else {
                    ""
                }
            )
        }
        None if plan.extension.subject.kind() == SubjectKind::Project => {
            let oldest = crate::plan::first_builder(grids)
                .map_or_else(String::new, |g| grids[g].interpreter.label());
            format!(
                "builds: the project declares no abi3 wheel that abimatrix reads: {oldest} builds it first, and if its wheel is tagged abi3 every Python at or above that tag imports that one; otherwise, and always in a shard, a --python run or a build job, each Python builds its own"
            )
        }
        None => "builds: each Python's rows are built for that Python's own ABI and never tried under another Python (set [extension] limited-api to build once for every Python)".to_string(),
    })
}
