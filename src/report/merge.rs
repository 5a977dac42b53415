//! Joining the results of the shards of one matrix into one document that
//! renders exactly like a single-machine run of the same matrix.

use super::model::{Document, GridDoc};

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
            if merged.cell(c.grid, &c.build, &c.runtime).is_some() {
                return Err(MergeError::Duplicate(format!(
                    "{}: {}",
                    c.interpreter,
                    c.pair()
                )));
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
