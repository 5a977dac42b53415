//! The journal: every finished cell, appended as one JSON line the moment it
//! finishes, so that a run killed in any way (even `kill -9` of matrix
//! itself) loses at most the cells still running. `matrix run --resume`
//! reads it back and runs only the cells it lacks.
//!
//! One journal per matrix (`matrix_id`), under the cache root. A run that
//! finishes removes its journal; an interrupted one leaves it.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::model::CellDoc;

pub struct Journal {
    path: PathBuf,
    file: Option<std::fs::File>,
}

/// A cell's identity in a journal: interpreter label, build, runtime.
pub type CellKey = (String, String, String);

pub fn path(cache_root: &Path, matrix_id: &str) -> PathBuf {
    cache_root
        .join("journals")
        .join(format!("{matrix_id}.jsonl"))
}

/// The cells a journal holds; unreadable lines (a line cut by the kill) are
/// skipped: those cells simply run again.
pub fn read(path: &Path) -> Vec<CellDoc> {
    std::fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .filter_map(|l| serde_json::from_str::<CellDoc>(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

pub fn keys(cells: &[CellDoc]) -> HashSet<CellKey> {
    cells
        .iter()
        .map(|c| (c.interpreter.clone(), c.build.clone(), c.runtime.clone()))
        .collect()
}

impl Journal {
    /// Opens the journal at `path`: appending when resuming, fresh otherwise.
    /// A journal that cannot be written is not fatal: the run goes on, and
    /// only `--resume` loses its footing (the error says so once).
    pub fn open(path: PathBuf, resume: bool) -> (Journal, Option<String>) {
        let opened = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .truncate(false)
                    .open(&path)
            })
            .and_then(|f| {
                if !resume {
                    f.set_len(0)?;
                }
                Ok(f)
            });
        match opened {
            Ok(file) => (
                Journal {
                    path,
                    file: Some(file),
                },
                None,
            ),
            Err(e) => {
                let why = format!(
                    "cannot write the journal {}: {e}; --resume will not work for this run",
                    path.display()
                );
                (Journal { path, file: None }, Some(why))
            }
        }
    }

    /// Appends one finished cell. One `write` per line, so a kill leaves
    /// whole lines and at most one cut line.
    pub fn record(&mut self, cell: &CellDoc) {
        if let Some(f) = &mut self.file {
            let mut line = serde_json::to_string(cell).unwrap_or_default();
            line.push('\n');
            let _ = f.write_all(line.as_bytes());
        }
    }

    /// The run finished: nothing to resume.
    pub fn finish(self) {
        drop(self.file);
        let _ = std::fs::remove_file(&self.path);
    }
}
