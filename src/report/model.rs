//! The results document: what a run found, as data every report renders
//! from and `--json` writes. Reports of a saved file (`matrix report`), of a
//! merged set of shards (`matrix merge`) and of a live run therefore look
//! exactly alike.
//!
//! The shape is versioned (`schema_version`): a reader checks the version
//! before reading further, and any incompatible change bumps it. Version 2:
//! one entry in `grids` per interpreter; every cell names its interpreter,
//! grid and platform.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::results::RunResults;
use crate::outcome::{FailureReason, Outcome, OutcomeKind};
use crate::runner::AxisEntry;

pub const SCHEMA: &str = "abimatrix.results";
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub schema: String,
    pub schema_version: u32,
    pub abimatrix_version: String,
    /// False when the run was interrupted: `cells` then holds only the cells
    /// that finished.
    pub complete: bool,
    pub duration_s: Option<f64>,
    pub installer: Option<String>,
    pub extension: Option<String>,
    pub timeout_s: Option<f64>,
    /// Identifies the matrix (config contents that decide the cells): shards
    /// and baselines of different matrices are not mixed.
    #[serde(default)]
    pub matrix_id: Option<String>,
    /// "K/N" when this is one shard of a sharded run.
    #[serde(default)]
    pub shard: Option<String>,
    pub grids: Vec<GridDoc>,
    pub cells: Vec<CellDoc>,
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridDoc {
    pub interpreter: InterpreterDoc,
    pub axes: Axes,
    /// Series inside requested ranges that have no wheel for this interpreter.
    #[serde(default)]
    pub skipped: Vec<String>,
    #[serde(default)]
    pub builds: Vec<BuildDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterpreterDoc {
    pub label: String,
    pub implementation: String,
    pub version: String,
    pub executable: PathBuf,
    pub found_in: String,
    pub machine: String,
    pub platform: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Axes {
    pub build: Vec<AxisDoc>,
    pub runtime: Vec<AxisDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AxisDoc {
    pub request: String,
    pub version: Option<String>,
    pub unavailable: Option<String>,
}

impl AxisDoc {
    pub fn label(&self) -> &str {
        self.version.as_deref().unwrap_or(&self.request)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildDoc {
    pub numpy: String,
    pub ok: bool,
    /// Taken from the cache rather than compiled by this run.
    #[serde(default)]
    pub reused: bool,
    pub summary: String,
    pub duration_s: f64,
    pub log: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    pub outcome: OutcomeKind,
    pub reason: Option<FailureReason>,
    /// The `[[expect]]` line that set it; null for the default.
    pub line: Option<usize>,
    /// "numpy-rules" when predicted from NumPy's published rules.
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellDoc {
    pub grid: usize,
    pub interpreter: String,
    /// "linux-x86_64": where the cell ran (shards may differ).
    #[serde(default)]
    pub platform: String,
    pub build: String,
    pub runtime: String,
    pub outcome: OutcomeKind,
    pub reason: Option<FailureReason>,
    pub exception: Option<String>,
    pub message: String,
    pub signal: Option<i32>,
    pub signal_name: Option<String>,
    pub traceback: Option<String>,
    pub expected: Expectation,
    pub met: bool,
    pub duration_s: f64,
    pub command: Option<String>,
    pub stdout: String,
    pub stderr: String,
}

impl CellDoc {
    /// The document form of a finished cell of the grids `grids`.
    pub fn from_result(
        c: &crate::runner::CellResult,
        grids: &[crate::runner::GridHeader],
    ) -> CellDoc {
        let (exception, signal, signal_name, traceback) = match &c.outcome {
            Outcome::Fail(f) => (f.exception.clone(), None, None, None),
            Outcome::Crash {
                signal,
                name,
                traceback,
            } => (None, Some(*signal), Some(name.clone()), traceback.clone()),
            _ => (None, None, None, None),
        };
        let platform = grids
            .get(c.grid)
            .map(|g| format!("{}-{}", g.interpreter.platform, g.interpreter.machine))
            .unwrap_or_default();
        CellDoc {
            grid: c.grid,
            interpreter: c.interpreter.clone(),
            platform,
            build: c.build.clone(),
            runtime: c.runtime.clone(),
            outcome: c.outcome.kind(),
            reason: c.outcome.reason(),
            exception,
            message: c.outcome.message(),
            signal,
            signal_name,
            traceback,
            expected: Expectation {
                outcome: c.expected.outcome,
                reason: c.expected.reason,
                line: c.expected.line,
                source: c.expected.source.map(str::to_string),
            },
            met: c.met(),
            duration_s: c.duration.as_secs_f64(),
            command: c.command.clone(),
            stdout: c.stdout.clone(),
            stderr: c.stderr.clone(),
        }
    }

    /// "1.26.4 → 2.0.2".
    pub fn pair(&self) -> String {
        format!("{} → {}", self.build, self.runtime)
    }

    /// Where the cell stands in a grid's axes, for ordering.
    pub fn position(&self, grid: &GridDoc) -> (usize, usize) {
        let pos = |axis: &[AxisDoc], label: &str| {
            axis.iter()
                .position(|a| a.label() == label)
                .unwrap_or(usize::MAX)
        };
        (
            pos(&grid.axes.build, &self.build),
            pos(&grid.axes.runtime, &self.runtime),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    pub planned: usize,
    pub finished: usize,
    pub met: usize,
    pub unmet: usize,
    pub by_outcome: BTreeMap<String, usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an abimatrix results file: {detail}")]
    Format { path: PathBuf, detail: String },
}

impl Document {
    /// The document of a (possibly unfinished) run.
    pub fn from_results(results: &RunResults) -> Document {
        let header = results.header.as_ref();
        let grids: Vec<GridDoc> = header
            .map(|h| {
                h.grids
                    .iter()
                    .enumerate()
                    .map(|(index, g)| GridDoc {
                        interpreter: InterpreterDoc {
                            label: g.interpreter.label(),
                            implementation: g.interpreter.implementation.clone(),
                            version: g.interpreter.version.clone(),
                            executable: g.interpreter.executable.clone(),
                            found_in: g.source.clone(),
                            machine: g.interpreter.machine.clone(),
                            platform: g.interpreter.platform.clone(),
                        },
                        axes: Axes {
                            build: axis(&g.build_axis),
                            runtime: axis(&g.runtime_axis),
                        },
                        skipped: g.skipped.clone(),
                        builds: results
                            .builds
                            .iter()
                            .filter(|b| b.grid == index)
                            .map(|b| BuildDoc {
                                numpy: b.version.to_string(),
                                ok: b.ok,
                                reused: b.reused,
                                summary: b.summary.clone(),
                                duration_s: b.duration.as_secs_f64(),
                                log: b.log.clone(),
                            })
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let cells = results
            .cells
            .iter()
            .map(|c| CellDoc::from_result(c, header.map_or(&[][..], |h| &h.grids[..])))
            .collect();
        let mut doc = Document {
            schema: SCHEMA.to_string(),
            schema_version: SCHEMA_VERSION,
            abimatrix_version: env!("CARGO_PKG_VERSION").to_string(),
            complete: results.complete(),
            duration_s: results.duration.map(|d| d.as_secs_f64()),
            installer: header.map(|h| h.installer.clone()),
            extension: header.map(|h| h.extension.clone()),
            timeout_s: header.map(|h| h.timeout.as_secs_f64()),
            matrix_id: header.map(|h| h.matrix_id.clone()),
            shard: header.and_then(|h| h.shard.map(|(k, n)| format!("{k}/{n}"))),
            grids,
            cells,
            summary: Summary::default(),
        };
        doc.sort_cells();
        doc.summarize(results.planned());
        doc
    }

    /// Cells in grid order (interpreter, build row, runtime column), so every
    /// rendering of the same results is the same, however cells finished.
    pub fn sort_cells(&mut self) {
        let grids = self.grids.clone();
        self.cells.sort_by_key(|c| {
            let (b, r) = grids
                .get(c.grid)
                .map_or((usize::MAX, usize::MAX), |g| c.position(g));
            (c.grid, b, r)
        });
    }

    /// Recomputes `summary` from the cells.
    pub fn summarize(&mut self, planned: usize) {
        let unmet = self.cells.iter().filter(|c| !c.met).count();
        let mut by_outcome = BTreeMap::new();
        for c in &self.cells {
            *by_outcome
                .entry(c.outcome.as_str().to_string())
                .or_insert(0) += 1;
        }
        self.summary = Summary {
            planned,
            finished: self.cells.len(),
            met: self.cells.len() - unmet,
            unmet,
            by_outcome,
        };
    }

    /// Cells planned by the axes.
    pub fn planned_by_axes(&self) -> usize {
        self.grids
            .iter()
            .map(|g| g.axes.build.len() * g.axes.runtime.len())
            .sum()
    }

    pub fn cell(&self, grid: usize, build: &str, runtime: &str) -> Option<&CellDoc> {
        self.cells
            .iter()
            .find(|c| c.grid == grid && c.build == build && c.runtime == runtime)
    }

    pub fn unmet(&self) -> impl Iterator<Item = &CellDoc> {
        self.cells.iter().filter(|c| !c.met)
    }

    pub fn count(&self, kind: OutcomeKind) -> usize {
        self.cells.iter().filter(|c| c.outcome == kind).count()
    }

    pub fn to_json(&self) -> String {
        // Plain strings and numbers: serializing cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Reads a results file, checking that it is one and of this version.
    pub fn load(path: &Path) -> Result<Document, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let format = |detail: String| LoadError::Format {
            path: path.to_path_buf(),
            detail,
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
        if value["schema"] != SCHEMA {
            return Err(format("no \"schema\": \"abimatrix.results\"".into()));
        }
        if value["schema_version"] != SCHEMA_VERSION {
            return Err(format(format!(
                "schema_version {} (this abimatrix reads {SCHEMA_VERSION})",
                value["schema_version"]
            )));
        }
        serde_json::from_value(value).map_err(|e| format(e.to_string()))
    }
}

fn axis(entries: &[AxisEntry]) -> Vec<AxisDoc> {
    entries
        .iter()
        .map(|a| AxisDoc {
            request: a.request.clone(),
            version: a.version.as_ref().map(ToString::to_string),
            unavailable: a.unavailable.clone(),
        })
        .collect()
}

/// Writes `text` to `path` atomically (temp file + rename), so a reader or a
/// crash mid-write never leaves half a file.
///
/// Only regular files are replaced that way. A path that already names
/// something else (`/dev/stdout`, a FIFO a CI step reads from, a device) is
/// written in place: renaming over it would swap the device for a file (as
/// root, even `/dev/full`) or fail for want of a writable `/dev`.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file());
    if special {
        let mut out = std::fs::OpenOptions::new().write(true).open(path)?;
        std::io::Write::write_all(&mut out, text.as_bytes())?;
        return std::io::Write::flush(&mut out);
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::write_atomic;

    #[test]
    fn a_regular_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, "old contents, longer than the new").unwrap();
        write_atomic(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no temporary file left beside it");
    }

    /// A FIFO (what `--json >(jq ...)` hands us) is written into, not
    /// renamed over: the reader at the other end gets the text.
    #[test]
    fn a_fifo_is_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write_atomic(&fifo, "through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe");
        let meta = std::fs::metadata(&fifo).unwrap();
        assert!(meta.file_type().is_fifo(), "the FIFO is still a FIFO");
    }
}
