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
    merged.sort_cells();
    merged.missing = missing(&merged, &present);
    merged.complete &= merged.missing.is_empty();
    let planned = merged.planned_by_axes();
    merged.summarize(planned);
    Ok(merged)
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

    #[test]
    fn an_interrupted_shard_makes_the_merge_incomplete() {
        let a = document(vec![cell("2.0.2", "2.0.2", OutcomeKind::Pass)]);
        let mut b = document(vec![cell("2.0.2", "1.26.4", OutcomeKind::Pass)]);
        b.complete = false;
        assert!(!merge(vec![a, b], &names(2)).unwrap().complete);
    }
}
