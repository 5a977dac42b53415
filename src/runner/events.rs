//! What the runner tells the outside world. Events carry typed values and
//! positions in the plan (grid, row, column), never rendered text: the
//! reporter decides what to show and what to keep.

use std::sync::Arc;
use std::time::Duration;

use pep440_rs::Version;

use crate::build::{Artifact, BuildError};
use crate::outcome::Outcome;
use crate::python::InstallError;

/// A row that was made (or taken from the cache).
#[derive(Debug, Clone)]
pub struct Built {
    /// Taken from the cache.
    pub reused: bool,
    pub duration: Duration,
    pub log: String,
    /// The NumPy requirement the row's package declares (`Requires-Dist`),
    /// e.g. "numpy>=1.22.4,<2.3"; `None` for a plain build or none declared.
    pub declares: Option<String>,
    /// Made only because of `--ignore-requires`: why the project's build
    /// requirements forbid it.
    pub forced: Option<String>,
    /// Why the build was not cached and is made again on every run (a
    /// dependency that is not a regular file); said once, when it is made.
    pub uncached: Option<String>,
    /// The wheel tag of the row's installed distribution (projects and
    /// published rows: `cp39-abi3-manylinux_2_17_x86_64`), which says the
    /// Pythons it is for.
    pub tag: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BuildRecord {
    pub grid: usize,
    /// The row's label: a build NumPy version, or a wheel/requirement.
    pub row: String,
    pub result: Result<Built, BuildError>,
}

/// One finished cell, with everything a report or a person needs.
#[derive(Debug, Clone)]
pub struct CellResult {
    /// Index into the plan's grids.
    pub grid: usize,
    /// Row and column within that grid.
    pub build: usize,
    pub runtime: usize,
    pub outcome: Outcome,
    pub duration: Duration,
    pub stdout: String,
    pub stderr: String,
    /// The probe's command line, to reproduce the cell by hand.
    pub command: Option<String>,
    /// What that command needs to run again after the run (`explain`).
    pub rerun: Option<crate::probe::rerun::Rerun>,
    /// The row the cell ran, when it was made: what judgments that read a
    /// row's traces (its build folder, its log) look at.
    pub row: Option<Arc<Artifact>>,
    /// Advice for a first mistake this outcome points to. The runner never
    /// gives any: the judge the events pass through on their way to the
    /// reporter does (`hints::Advice`).
    pub hint: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Event {
    EnvStarted {
        grid: usize,
        version: Version,
    },
    EnvFinished {
        grid: usize,
        version: Version,
        /// Setup time and whether the environment came from the cache.
        result: Result<(Duration, bool), InstallError>,
    },
    BuildStarted {
        grid: usize,
        row: String,
    },
    BuildFinished(BuildRecord),
    CellFinished(Box<CellResult>),
    Finished {
        duration: Duration,
    },
}
