//! Joining the results of the shards of one matrix into one document that
//! renders exactly like a single-machine run of the same matrix.

use super::document::{Document, GridDoc};

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
}

/// Merges `docs` (named by `names` in errors).
pub fn merge(docs: Vec<Document>, names: &[String]) -> Result<Document, MergeError> {
    let mut docs = docs.into_iter().zip(names.iter());
    let (first, first_name) = docs.next().ok_or(MergeError::Empty)?;
    let mut merged = Document {
        shard: None,
        cells: Vec::new(),
        grids: Vec::new(),
        ..first.clone()
    };
    for (doc, name) in std::iter::once((first, first_name)).chain(docs) {
        if doc.matrix_id != merged.matrix_id {
            return Err(MergeError::DifferentMatrix(
                first_name.clone(),
                name.clone(),
                merged.matrix_id.clone().unwrap_or_default(),
                doc.matrix_id.clone().unwrap_or_default(),
            ));
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
            if merged.find(&c.key()).is_some() {
                return Err(MergeError::Duplicate(c.key().to_string()));
            }
            merged.cells.push(c);
        }
    }
    merged.sort_cells();
    let planned = merged.planned_by_axes();
    merged.summarize(planned);
    Ok(merged)
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

    #[test]
    fn an_interrupted_shard_makes_the_merge_incomplete() {
        let a = document(vec![cell("2.0.2", "2.0.2", OutcomeKind::Pass)]);
        let mut b = document(vec![cell("2.0.2", "1.26.4", OutcomeKind::Pass)]);
        b.complete = false;
        assert!(!merge(vec![a, b], &names(2)).unwrap().complete);
    }
}
