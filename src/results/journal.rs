//! The journal: every finished cell, appended as one JSON line the moment it
//! finishes, so that a run killed in any way (even `kill -9` of matrix
//! itself) loses at most the cells still running. `matrix run --resume`
//! reads it back and runs only the cells it lacks.
//!
//! One journal per config file (and shard), under the cache root; its first
//! line says what the matrix was (the config's fingerprint), so a resumed
//! run whose sources, flags, probe, Pythons or NumPy versions changed is
//! refused, with what changed, instead of mixing cells of two matrices. A
//! run that finishes removes its journal; an interrupted one leaves it.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::document::CellDoc;
use crate::cache::Bucket;
use crate::plan::CellKey;

pub struct Journal {
    path: PathBuf,
    file: Option<std::fs::File>,
}

/// The journal of the run named by `id` (the config's path and shard).
pub fn path(cache_root: &Path, id: &str) -> PathBuf {
    Bucket::Journals
        .dir(cache_root)
        .join(format!("{}.jsonl", crate::cache::digest([id])))
}

/// A journal's first line: the matrix it is of.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Header {
    pub abimatrix_journal: u32,
    pub matrix_id: String,
    /// The config's fingerprint: (what, digest) for each part.
    pub parts: Vec<(String, String)>,
}

impl Header {
    pub fn new(matrix_id: String, parts: Vec<(&'static str, String)>) -> Header {
        Header {
            abimatrix_journal: 1,
            matrix_id,
            parts: parts.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }
    }

    /// What differs from `now`, in words ("the probe, the flags").
    pub fn changed(&self, now: &Header) -> Vec<String> {
        now.parts
            .iter()
            .filter(|(k, v)| self.parts.iter().all(|(k2, v2)| k2 != k || v2 != v))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// What a journal holds: its header (absent in a journal cut before it
/// was written) and the cells; unreadable lines (a line cut by the kill)
/// are skipped: those cells simply run again.
pub fn read(path: &Path) -> (Option<Header>, Vec<CellDoc>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines();
    let header = lines
        .clone()
        .next()
        .and_then(|l| serde_json::from_str::<Header>(l).ok());
    if header.is_some() {
        lines.next();
    }
    let cells = lines
        .filter_map(|l| serde_json::from_str::<CellDoc>(l).ok())
        .collect();
    (header, cells)
}

fn ends_mid_line(path: &Path) -> bool {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut last = [0u8; 1];
    f.seek(SeekFrom::End(-1)).is_ok() && f.read_exact(&mut last).is_ok() && last[0] != b'\n'
}

pub fn keys(cells: &[CellDoc]) -> HashSet<CellKey> {
    cells.iter().map(CellDoc::key).collect()
}

impl Journal {
    /// Opens the journal at `path`: appending when resuming, fresh
    /// otherwise (starting with `header`). A journal that cannot be written
    /// is not fatal: the run goes on, and only `--resume` loses its footing
    /// (the error says so once).
    pub fn open(path: PathBuf, resume: bool, header: &Header) -> (Journal, Option<String>) {
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
            .and_then(|mut f| {
                if !resume || f.metadata()?.len() == 0 {
                    f.set_len(0)?;
                    let mut line = serde_json::to_string(header).map_err(std::io::Error::other)?;
                    line.push('\n');
                    f.write_all(line.as_bytes())?;
                } else if ends_mid_line(&path) {
                    // A kill mid-write left a cut line: end it, or the first
                    // cell of this run would be glued to it and lost.
                    f.write_all(b"\n")?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::document::tests::cell;

    #[test]
    fn cells_survive_a_kill_mid_line_and_resume_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(dir.path(), "m");
        let header = Header::new("id".into(), vec![("the probe", "p1".into())]);
        let (mut j, problem) = Journal::open(path.clone(), false, &header);
        assert!(problem.is_none());
        j.record(&cell("1.26.4", "2.0.2", crate::outcome::OutcomeKind::Fail));
        j.record(&cell("2.0.2", "2.0.2", crate::outcome::OutcomeKind::Pass));
        drop(j);
        // A kill mid-write leaves a cut line: skipped, that cell runs again.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"grid\": 0, \"interp");
        std::fs::write(&path, text).unwrap();
        let (h, back) = read(&path);
        assert_eq!(h.as_ref(), Some(&header));
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].build, "1.26.4");
        let keys = keys(&back);
        assert!(keys.contains(&back[1].key()));

        // Resuming appends; a fresh run starts the journal over.
        let (mut j, _) = Journal::open(path.clone(), true, &header);
        j.record(&cell("1.26.4", "1.26.4", crate::outcome::OutcomeKind::Pass));
        drop(j);
        assert_eq!(read(&path).1.len(), 3);
        let (j, _) = Journal::open(path.clone(), false, &header);
        assert_eq!(read(&path).1.len(), 0);
        j.finish();
        assert!(!path.exists(), "a finished run removes its journal");
    }

    #[test]
    fn an_unwritable_journal_is_a_note_not_a_failure() {
        let header = Header::new("id".into(), Vec::new());
        let (mut j, problem) =
            Journal::open(PathBuf::from("/proc/no/such/journal.jsonl"), false, &header);
        assert!(problem.unwrap().contains("--resume will not work"));
        j.record(&cell("1", "2", crate::outcome::OutcomeKind::Pass));
        assert!(read(Path::new("/proc/no/such/journal.jsonl")).1.is_empty());
    }

    #[test]
    fn a_changed_matrix_says_what_changed() {
        let was = Header::new(
            "a".into(),
            vec![("the probe", "p1".into()), ("the flags", "f".into())],
        );
        let now = Header::new(
            "b".into(),
            vec![("the probe", "p2".into()), ("the flags", "f".into())],
        );
        assert_eq!(was.changed(&now), ["the probe"]);
        assert!(was.changed(&was).is_empty());
    }
}
