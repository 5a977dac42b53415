//! Joining the results of the shards of one matrix into one document that
//! renders exactly like a single-machine run of the same matrix, and
//! saying what is missing when the set is not whole: every shard's
//! document carries the matrix's units and their owners, so a lost shard
//! (a CI job that died before uploading) makes the merge incomplete
//! instead of green.

use std::collections::BTreeSet;

use super::document::{Document, GridDoc};
use crate::plan::ShardPlan;

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge")]
    Empty,
    #[error(
        "{0} and {1} are results of different matrices (matrix_id {2} vs {3}); only shards of one matrix can be merged"
    )]
    DifferentMatrix(String, String, String, String),
    #[error("cell {0} appears in more than one input")]
    Duplicate(String),
    #[error(
        "{0} is shard {1} but {2} was cut into {3} shard(s); only shards of one `matrix plan` can be merged"
    )]
    DifferentCut(String, String, String, usize),
}

/// Merges `docs` (named by `names` in errors).
pub fn merge(docs: Vec<Document>, names: &[String]) -> Result<Document, MergeError> {
    let mut docs = docs.into_iter().zip(names.iter());
    let (first, first_name) = docs.next().ok_or(MergeError::Empty)?;
    let mut merged = Document {
        shard: None,
        plan: None,
        missing: Vec::new(),
        cells: Vec::new(),
        grids: Vec::new(),
        ..first.clone()
    };
    let mut present = BTreeSet::new();
    let mut seen = std::collections::HashSet::new();
    for (doc, name) in std::iter::once((first, first_name)).chain(docs) {
        if doc.matrix_id != merged.matrix_id {
            return Err(MergeError::DifferentMatrix(
                first_name.clone(),
                name.clone(),
                merged.matrix_id.clone().unwrap_or_default(),
                doc.matrix_id.clone().unwrap_or_default(),
            ));
        }
        if let Some(plan) = &doc.plan {
            match &merged.plan {
                Some(m) if m.shards != plan.shards => {
                    return Err(MergeError::DifferentCut(
                        name.clone(),
                        doc.shard.clone().unwrap_or_else(|| "1/1".into()),
                        first_name.clone(),
                        m.shards,
                    ));
                }
                Some(_) => {}
                None => merged.plan = Some(plan.clone()),
            }
            present.extend(shards_of(&doc, plan));
        }
        merged.complete &= doc.complete;
        merged.duration_s = match (merged.duration_s, doc.duration_s) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        // Grids are the same interpreter on the same platform; a shard run
        // elsewhere brings its own grid.
        let mut map = Vec::new();
        for g in &doc.grids {
            let at = merged.grids.iter().position(|m| same_grid(m, g));
            let index = match at {
                Some(i) => {
                    let m = &mut merged.grids[i];
                    for a in &g.axes.build {
                        if !m.axes.build.iter().any(|x| x.label() == a.label()) {
                            m.axes.build.push(a.clone());
                        }
                    }
                    for a in &g.axes.runtime {
                        if !m.axes.runtime.iter().any(|x| x.label() == a.label()) {
                            m.axes.runtime.push(a.clone());
                        }
                    }
                    for b in &g.builds {
                        if !m.builds.iter().any(|x| x.numpy == b.numpy) {
                            m.builds.push(b.clone());
                        }
                    }
                    for e in &g.environments {
                        if !m.environments.iter().any(|x| x.numpy == e.numpy) {
                            m.environments.push(e.clone());
                        }
                    }
                    i
                }
                None => {
                    merged.grids.push(g.clone());
                    merged.grids.len() - 1
                }
            };
            map.push(index);
        }
        for mut c in doc.cells {
            c.grid = map.get(c.grid).copied().unwrap_or(c.grid);
            // A set, not a search of the cells so far: shards of a grid of
            // every release hold thousands.
            if !seen.insert(c.key()) {
                return Err(MergeError::Duplicate(c.key().to_string()));
            }
            merged.cells.push(c);
        }
    }
    order_grids(&mut merged);
    merged.sort_cells();
    merged.missing = missing(&merged, &present);
    merged.complete &= merged.missing.is_empty();
    let planned = merged.planned_by_axes();
    merged.summarize(planned);
    Ok(merged)
}

/// Where grid `g` stands among the plan's Pythons: `plan.pythons.len()`
/// for a grid of none (the build Python of a `--python` run, found only
/// to make the rows).
fn rank(plan: &ShardPlan, g: &GridDoc) -> usize {
    g.python
        .as_deref()
        .and_then(|p| plan.pythons.iter().position(|x| x == p))
        .unwrap_or(plan.pythons.len())
}

/// The grids in the plan's order of Pythons, as one run lists them,
/// whichever shard was given first (a shard that does not own the build
/// Python of a limited-API matrix still has its grid, for the builds).
fn order_grids(doc: &mut Document) {
    let Some(plan) = &doc.plan else {
        return;
    };
    let mut order: Vec<usize> = (0..doc.grids.len()).collect();
    order.sort_by_key(|&i| rank(plan, &doc.grids[i]));
    let mut moved = vec![0; order.len()];
    for (new, &old) in order.iter().enumerate() {
        moved[old] = new;
    }
    let grids = std::mem::take(&mut doc.grids);
    let mut grids: Vec<Option<GridDoc>> = grids.into_iter().map(Some).collect();
    doc.grids = order.iter().filter_map(|&i| grids[i].take()).collect();
    for c in &mut doc.cells {
        c.grid = moved.get(c.grid).copied().unwrap_or(c.grid);
    }
}

/// Which shards of the plan an input is: all of them for an unsharded run.
fn shards_of(doc: &Document, plan: &ShardPlan) -> Vec<usize> {
    match doc.shard.as_deref().and_then(|s| s.split_once('/')) {
        Some((k, _)) => k.parse().ok().into_iter().collect(),
        None => (1..=plan.shards).collect(),
    }
}

/// The shards no input was, and the cells of the inputs' shards that no
/// input holds: what a complete set would have had.
fn missing(merged: &Document, present: &BTreeSet<usize>) -> Vec<String> {
    let Some(plan) = &merged.plan else {
        return Vec::new();
    };
    let mut out: Vec<String> = (1..=plan.shards)
        .filter(|k| !present.contains(k))
        .map(|k| format!("shard {k}/{} ({})", plan.shards, plan.label_of(k)))
        .collect();
    for (gi, g) in merged.grids.iter().enumerate() {
        if rank(plan, g) == plan.pythons.len() {
            // Not a Python of the plan: no unit, no cell owed.
            continue;
        }
        for r in &g.axes.runtime {
            // Cells of a lost shard are said once, as the shard.
            let owner = g
                .python
                .as_deref()
                .and_then(|p| plan.owner_of(p, &r.request));
            if owner.is_some_and(|k| !present.contains(&k)) {
                continue;
            }
            for b in &g.axes.build {
                if merged.cell(gi, b.label(), r.label()).is_none() {
                    out.push(format!(
                        "{}: {} → {}",
                        g.interpreter.label,
                        b.label(),
                        r.label()
                    ));
                }
            }
        }
    }
    out
}

fn same_grid(a: &GridDoc, b: &GridDoc) -> bool {
    a.interpreter.label == b.interpreter.label
        && a.interpreter.platform == b.interpreter.platform
        && a.interpreter.machine == b.interpreter.machine
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::OutcomeKind;
    use crate::results::CellDoc;
    use crate::results::document::tests::{cell, document};

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("shard{i}.json")).collect()
    }

    #[test]
    fn shards_merge_into_the_whole_grid() {
        let whole = document(vec![
            cell("1.26.4", "1.26.4", OutcomeKind::Pass),
            cell("1.26.4", "2.0.2", OutcomeKind::Fail),
            cell("2.0.2", "1.26.4", OutcomeKind::Pass),
            cell("2.0.2", "2.0.2", OutcomeKind::Pass),
        ]);
        let shard = |runtime: &str| {
            let mut d = whole.clone();
            d.cells.retain(|c| c.runtime == runtime);
            d.shard = Some("x".into());
            d
        };
        let merged = merge(vec![shard("2.0.2"), shard("1.26.4")], &names(2)).unwrap();
        assert_eq!(
            merged.cells, whole.cells,
            "cells in grid order, whatever the input order"
        );
        assert_eq!(merged.summary.planned, 4);
        assert!(merged.complete);
        assert_eq!(merged.shard, None);
    }

    #[test]
    fn duplicates_and_other_matrices_are_refused() {
        let a = document(vec![cell("2.0.2", "2.0.2", OutcomeKind::Pass)]);
        let e = merge(vec![a.clone(), a.clone()], &names(2)).unwrap_err();
        assert!(matches!(e, MergeError::Duplicate(_)), "{e}");
        let mut b = a.clone();
        b.matrix_id = Some("other".into());
        let e = merge(vec![a, b], &names(2)).unwrap_err();
        assert!(e.to_string().contains("different matrices"), "{e}");
        assert!(matches!(merge(vec![], &[]), Err(MergeError::Empty)));
    }

    /// Shard `k` of 2 of a 3.11 grid with runtime columns 1.26.* and 2.0.*
    /// (one unit each), holding `cells`.
    fn planned_shard(k: usize, cells: Vec<CellDoc>) -> Document {
        let mut d = document(vec![
            cell("1.26.4", "1.26.4", OutcomeKind::Pass),
            cell("1.26.4", "2.0.2", OutcomeKind::Pass),
        ]);
        d.grids[0].python = Some("3.11".into());
        d.plan = Some(ShardPlan::new(
            &["3.11".into()],
            &["1.26.*".into(), "2.0.*".into()],
            2,
        ));
        d.shard = Some(format!("{k}/2"));
        d.cells = cells;
        d
    }

    #[test]
    fn a_lost_shard_is_named_and_the_merge_is_incomplete() {
        let one = planned_shard(1, vec![cell("1.26.4", "1.26.4", OutcomeKind::Pass)]);
        let two = planned_shard(2, vec![cell("1.26.4", "2.0.2", OutcomeKind::Pass)]);
        let whole = merge(vec![one.clone(), two], &names(2)).unwrap();
        assert!(whole.complete, "{:?}", whole.missing);
        assert!(whole.missing.is_empty());

        let lost = merge(vec![one.clone()], &names(1)).unwrap();
        assert!(!lost.complete, "a lost shard cannot merge green");
        assert_eq!(lost.missing, ["shard 2/2 (3.11: 2.0.*)"]);
        assert!(lost.incomplete_text().contains("missing shard 2/2"));

        // A shard that came back without one of its cells.
        let empty = planned_shard(2, Vec::new());
        let holed = merge(vec![one, empty], &names(2)).unwrap();
        assert!(!holed.complete);
        assert_eq!(holed.missing, ["CPython 3.11.7: 1.26.4 → 2.0.2"]);
    }

    #[test]
    fn shards_of_different_cuts_are_refused() {
        let one = planned_shard(1, vec![cell("1.26.4", "1.26.4", OutcomeKind::Pass)]);
        let mut other = planned_shard(2, vec![cell("1.26.4", "2.0.2", OutcomeKind::Pass)]);
        other.plan = Some(ShardPlan::new(
            &["3.11".into()],
            &["1.26.*".into(), "2.0.*".into()],
            1,
        ));
        other.shard = None;
        let e = merge(vec![one, other], &names(2)).unwrap_err();
        assert!(matches!(e, MergeError::DifferentCut(..)), "{e}");
    }

    /// The whole run of a limited-API matrix over Pythons 3.12 and 3.9
    /// (config order), rows built on 3.9, cut into one shard per Python:
    /// shard 1 (3.12) still has 3.9's grid, holding the builds and no cell.
    fn abi3_shards() -> (Document, Document, Document) {
        use crate::results::document::tests::interpreter;
        let label = |g: usize| ["CPython 3.12.1", "CPython 3.9.18"][g];
        let cells: Vec<CellDoc> = [(0, OutcomeKind::Pass), (1, OutcomeKind::Fail)]
            .iter()
            .flat_map(|&(g, kind)| {
                ["1.26.4", "2.0.2"].map(|r| {
                    let mut c = cell("2.0.2", r, kind);
                    c.grid = g;
                    c.interpreter = label(g).into();
                    c
                })
            })
            .collect();
        let mut whole = document(cells.clone());
        let build = crate::results::document::BuildDoc {
            numpy: "2.0.2".into(),
            ok: true,
            reused: false,
            summary: String::new(),
            duration_s: 1.0,
            log: String::new(),
            declares: None,
            forced: None,
            python: Some(label(1).into()),
            tag: None,
        };
        let base = whole.grids[0].clone();
        whole.grids = ["3.12", "3.9"]
            .iter()
            .enumerate()
            .map(|(g, python)| {
                let mut grid = base.clone();
                grid.interpreter = interpreter(label(g));
                grid.python = Some(python.to_string());
                grid.built_on = Some(label(1).into());
                grid.builds = if g == 1 {
                    vec![build.clone()]
                } else {
                    Vec::new()
                };
                grid
            })
            .collect();
        whole.plan = Some(ShardPlan::new(
            &["3.12".into(), "3.9".into()],
            &["1.26.*".into(), "2.0.*".into()],
            2,
        ));
        whole.cells = cells;
        whole.sort_cells();
        whole.summarize(4);
        let mut one = whole.clone();
        one.shard = Some("1/2".into());
        one.cells.retain(|c| c.grid == 0);
        let mut two = whole.clone();
        two.shard = Some("2/2".into());
        two.grids.remove(0);
        two.cells.retain(|c| c.grid == 1);
        two.cells.iter_mut().for_each(|c| c.grid = 0);
        whole.plan.as_mut().unwrap().shards = 2;
        (whole, one, two)
    }

    /// Shards merge into the whole run's document in either order: its
    /// grids in config order (not the order the shards came in), `built_on`
    /// kept, the builds listed once in the build Python's grid, complete.
    #[test]
    fn shards_of_a_limited_api_matrix_merge_into_the_whole_run() {
        let (whole, one, two) = abi3_shards();
        for inputs in [vec![one.clone(), two.clone()], vec![two, one]] {
            let merged = merge(inputs, &names(2)).unwrap();
            assert!(merged.complete, "{:?}", merged.missing);
            let labels = |d: &Document| -> Vec<String> {
                d.grids
                    .iter()
                    .map(|g| g.interpreter.label.clone())
                    .collect()
            };
            assert_eq!(labels(&merged), labels(&whole));
            assert_eq!(merged.cells, whole.cells);
            assert_eq!(merged.grids, whole.grids);
            assert_eq!(merged.summary, whole.summary);
        }
    }

    /// A `--python 3.12` run of it: the build Python's grid is there for
    /// the builds only, a Python of no unit of the plan, and owes no cell.
    #[test]
    fn the_build_python_of_a_narrowed_run_owes_no_cell() {
        let (_, one, _) = abi3_shards();
        let mut narrowed = one;
        narrowed.shard = None;
        narrowed.plan = Some(ShardPlan::new(
            &["3.12".into()],
            &["1.26.*".into(), "2.0.*".into()],
            1,
        ));
        narrowed.grids[1].python = None;
        let merged = merge(vec![narrowed], &names(1)).unwrap();
        assert!(merged.missing.is_empty(), "{:?}", merged.missing);
        assert!(merged.complete);
    }

    #[test]
    fn an_interrupted_shard_makes_the_merge_incomplete() {
        let a = document(vec![cell("2.0.2", "2.0.2", OutcomeKind::Pass)]);
        let mut b = document(vec![cell("2.0.2", "1.26.4", OutcomeKind::Pass)]);
        b.complete = false;
        assert!(!merge(vec![a, b], &names(2)).unwrap().complete);
    }
}
