//! What the runner tells the outside world, and the records it hands over.

use std::time::Duration;

use pep440_rs::Version;

use crate::config::Expected;
use crate::outcome::Outcome;
use crate::python::Interpreter;

/// One row or column of a grid: what was asked for and what it became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxisEntry {
    /// As written in matrix.toml ("1.26.*", ">=1.23,<3").
    pub request: String,
    /// The release it resolved to, if any has a wheel.
    pub version: Option<Version>,
    /// Why there is no version.
    pub unavailable: Option<String>,
    /// The version written in the request (the prefix of a series), so a
    /// cell that could not run still matches `[[expect]]` ranges.
    pub nominal: Version,
    /// For a row of published code: the wheel or requirement (no version).
    pub row: Option<crate::extension::RowSource>,
}

impl AxisEntry {
    /// The resolved version when there is one, else the request.
    pub fn label(&self) -> String {
        self.version
            .as_ref()
            .map_or_else(|| self.request.clone(), ToString::to_string)
    }

    /// What expectations are matched against: the release, else the
    /// request; nothing for a row of published code (it has no NumPy).
    pub fn expectation_version(&self) -> Option<&Version> {
        if self.row.is_some() {
            return None;
        }
        Some(self.version.as_ref().unwrap_or(&self.nominal))
    }
}

/// One interpreter's grid, as resolved before any work starts.
#[derive(Debug, Clone)]
pub struct GridHeader {
    pub interpreter: Interpreter,
    /// Where the interpreter was found ("PATH", "pyenv", ...).
    pub source: String,
    pub build_axis: Vec<AxisEntry>,
    pub runtime_axis: Vec<AxisEntry>,
    /// Series of requested ranges with no wheel for this interpreter.
    pub skipped: Vec<String>,
}

impl GridHeader {
    /// Every distinct resolved version on either axis.
    pub fn versions(&self) -> Vec<Version> {
        let mut out: Vec<Version> = Vec::new();
        for v in self
            .build_axis
            .iter()
            .chain(&self.runtime_axis)
            .filter_map(|a| a.version.clone())
        {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    }
}

/// Known once versions are resolved, before any work starts.
#[derive(Debug, Clone)]
pub struct RunHeader {
    pub grids: Vec<GridHeader>,
    /// Identifies the matrix (see `Config::matrix_id`).
    pub matrix_id: String,
    /// (K, N) when running shard K of N.
    pub shard: Option<(usize, usize)>,
    /// Cells this run will report (all, a shard's, or those re-run).
    pub planned: usize,
    pub installer: String,
    pub extension: String,
    pub jobs: usize,
    pub notes: Vec<String>,
    /// Set when --keep-envs keeps the work directory.
    pub work_dir: Option<std::path::PathBuf>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct BuildRecord {
    pub grid: usize,
    /// The row: a build NumPy version, or a wheel/requirement label.
    pub version: String,
    pub ok: bool,
    /// Taken from the cache.
    pub reused: bool,
    pub summary: String,
    pub log: String,
    pub duration: Duration,
}

/// One finished cell, with everything a report or a person needs.
#[derive(Debug, Clone)]
pub struct CellResult {
    /// Index into `RunHeader::grids`.
    pub grid: usize,
    /// The interpreter's label ("CPython 3.11.7").
    pub interpreter: String,
    pub build: String,
    pub runtime: String,
    pub build_version: Option<Version>,
    pub runtime_version: Option<Version>,
    pub outcome: Outcome,
    pub expected: Expected,
    pub duration: Duration,
    pub stdout: String,
    pub stderr: String,
    /// The probe's command line, to reproduce the cell by hand.
    pub command: Option<String>,
}

impl CellResult {
    pub fn met(&self) -> bool {
        self.expected
            .is_met_by(self.outcome.kind(), self.outcome.reason())
    }
}

#[derive(Debug, Clone)]
pub enum Event {
    Started(Box<RunHeader>),
    EnvStarted {
        grid: usize,
        version: Version,
    },
    EnvFinished {
        grid: usize,
        version: Version,
        /// Setup time and whether the environment came from the cache.
        result: Result<(Duration, bool), String>,
    },
    BuildStarted {
        grid: usize,
        /// The row's label.
        version: String,
    },
    BuildFinished(BuildRecord),
    CellFinished(Box<CellResult>),
    Finished {
        duration: Duration,
    },
}
