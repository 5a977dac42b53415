//! The reporter: every runner event goes through [`Reporter::report`],
//! which judges finished cells against the expectations and fans the result
//! out to live progress, the collected results and the journal (nextest's
//! `runner.run(|event| reporter.report(event))`). It owns no child and runs
//! no work, so a run cut short still leaves it holding every finished cell.

use crate::expect::Expectations;
use crate::plan::RunHeader;
use crate::results::journal::Journal;
use crate::results::{CellDoc, EnvRecord, RunResults};
use crate::runner::{CellResult, Event};

use super::progress::{Progress, Update};

pub struct Reporter {
    expectations: Expectations,
    progress: Progress,
    journal: Option<Journal>,
    results: RunResults,
}

impl Reporter {
    /// Starts reporting the run `header` describes.
    pub fn new(
        header: RunHeader,
        expectations: Expectations,
        mut progress: Progress,
        journal: Option<Journal>,
    ) -> Reporter {
        progress.started(&header);
        Reporter {
            expectations,
            progress,
            journal,
            results: RunResults::new(header),
        }
    }

    pub fn report(&mut self, event: Event) {
        match event {
            Event::EnvStarted { grid, version } => self.progress.on(Update::EnvStarted {
                grid,
                version: &version,
            }),
            Event::EnvFinished {
                grid,
                version,
                result,
            } => {
                self.progress.on(Update::EnvFinished {
                    grid,
                    version: &version,
                    result: &result,
                });
                self.results.environments.push(EnvRecord {
                    grid,
                    numpy: version,
                    result,
                });
            }
            Event::BuildStarted { grid, row } => {
                self.progress.on(Update::BuildStarted { grid, row: &row })
            }
            Event::BuildFinished(record) => {
                self.progress.on(Update::BuildFinished(&record));
                self.results.builds.push(record);
            }
            Event::CellFinished(cell) => {
                let Some(doc) = self.judge(&cell) else { return };
                self.progress.on(Update::Cell(&doc));
                if let Some(j) = &mut self.journal {
                    j.record(&doc);
                }
                self.results.cells.push(doc);
            }
            Event::Finished { duration } => {
                self.progress.on(Update::Finished(duration));
                self.results.duration = Some(duration);
            }
        }
    }

    /// The cell as the results keep it, judged.
    fn judge(&self, cell: &CellResult) -> Option<CellDoc> {
        let grid = self.results.header.grids.get(cell.grid)?;
        let expected = grid.expected(
            &self.expectations,
            &grid.build_axis.get(cell.build)?.side(),
            &grid.runtime_axis.get(cell.runtime)?.side(),
            cell.outcome.is_forbidden(),
        );
        Some(CellDoc::new(cell, grid, &expected))
    }

    /// Called every few seconds: a quiet log says what is still running.
    pub fn tick(&mut self) {
        self.progress.heartbeat();
    }

    /// Ends the live output and hands over what was collected. A finished
    /// run has nothing to resume, so its journal goes; an interrupted one
    /// keeps it.
    pub fn finish(mut self) -> RunResults {
        self.progress.finish();
        if self.results.complete()
            && let Some(j) = self.journal
        {
            j.finish();
        }
        self.results
    }
}
