//! The run as it is known so far, folded from the runner's events. A run cut
//! short (Ctrl-C) still has every cell that finished: the reporter writes
//! whatever is here, marked incomplete.

use std::time::Duration;

use crate::outcome::OutcomeKind;
use crate::runner::{BuildRecord, CellResult, Event, RunHeader};

#[derive(Debug, Default, Clone)]
pub struct RunResults {
    pub header: Option<RunHeader>,
    pub builds: Vec<BuildRecord>,
    pub cells: Vec<CellResult>,
    /// Set by the `Finished` event; `None` means the run did not end normally.
    pub duration: Option<Duration>,
}

impl RunResults {
    pub fn on(&mut self, event: &Event) {
        match event {
            Event::Started(header) => self.header = Some((**header).clone()),
            Event::BuildFinished(record) => self.builds.push(record.clone()),
            Event::CellFinished(cell) => self.cells.push((**cell).clone()),
            Event::Finished { duration } => self.duration = Some(*duration),
            Event::EnvStarted { .. } | Event::EnvFinished { .. } | Event::BuildStarted { .. } => {}
        }
    }

    pub fn complete(&self) -> bool {
        self.duration.is_some()
    }

    /// Cells this run set out to report.
    pub fn planned(&self) -> usize {
        self.header.as_ref().map_or(0, |h| h.planned)
    }

    pub fn cell(&self, grid: usize, build: &str, runtime: &str) -> Option<&CellResult> {
        self.cells
            .iter()
            .find(|c| c.grid == grid && c.build == build && c.runtime == runtime)
    }

    pub fn unmet(&self) -> impl Iterator<Item = &CellResult> {
        self.cells.iter().filter(|c| !c.met())
    }

    pub fn count(&self, kind: OutcomeKind) -> usize {
        self.cells
            .iter()
            .filter(|c| c.outcome.kind() == kind)
            .count()
    }
}
