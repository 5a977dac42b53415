//! Executing a [`Plan`]: environments, builds and probes as one dependency
//! graph rather than phases. All interpreters' grids share one graph and
//! one limit on concurrent work.
//!
//! Two parts, as in nextest: the graph ([`graph`]) decides what waits for
//! what and what a failure means for the cells downstream; the executor
//! ([`executor`], one file per stage: environments, builds, layers, cells)
//! does the work, owns every child and every blocking read (hashing,
//! walks: on the blocking pool, so the timers that end cells keep firing).
//!
//! The runner never prints and never judges. It sends [`Event`]s; the caller
//! decides what to show, what to keep and what an outcome means (a
//! reporter, as in nextest; advice is `hints::Advice`'s, on the way).
//! Nothing here is spawned onto the runtime: every piece of work is a future
//! owned by `run`, so dropping `run` (Ctrl-C) drops them all, and each
//! child's process-group guard kills what it started.

mod builds;
mod cells;
mod environments;
mod events;
mod executor;
mod flight;
mod graph;
#[cfg(test)]
mod graph_tests;
mod layers;
mod proofs;
mod scratch;
mod servers;
mod wheel_tag;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures::future::join_all;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

pub use events::{BuildRecord, Built, CellResult, Event};
pub use wheel_tag::{Ahead, WheelTag, project_wheel_tag};

use crate::extension::Subject;
use crate::plan::Plan;
use crate::probe::ProbeFiles;

/// Where events go.
pub type EventSink = UnboundedSender<Event>;

/// A sink and the receiving end the reporter reads.
pub fn channel() -> (EventSink, UnboundedReceiver<Event>) {
    tokio::sync::mpsc::unbounded_channel()
}

/// What stops a run that has started.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot create a temporary directory: {0}")]
    TempDir(#[source] std::io::Error),
    #[error("cannot write the probe into {}: {source}", path.display())]
    ProbeFiles {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl RunError {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            RunError::TempDir(_) => Some("set TMPDIR to a writable directory with free space"),
            RunError::ProbeFiles { .. } => Some(
                "name a writable directory with --cache-dir, or run without the cache with --fresh",
            ),
        }
    }
}

/// Runs every cell of `plan`, reporting through `events`. Returns the work
/// directory when `keep` asks to keep it. `ahead`: what the build made
/// before the run learned ([`project_wheel_tag`]): the project's hash, and
/// with `--fresh` the folder it was made in (which becomes the run's) and
/// the row itself.
pub async fn run(
    plan: Arc<Plan>,
    keep: bool,
    events: EventSink,
    ahead: Ahead,
) -> Result<Option<PathBuf>, RunError> {
    let started = Instant::now();
    let Ahead {
        project_hash,
        fresh,
    } = ahead;
    let (work, row) = match fresh {
        Some((work, grid, version, made)) => (work, Some((grid, version, made))),
        None => (work_folder()?, None),
    };
    // Kept with the work folder when that is kept, else in RAM if it can be.
    let ram = if keep { None } else { scratch::ram_folder() };
    let probe_dir = ProbeFiles::dir(plan.cache.as_deref(), work.path(), &plan.header.probe.code);
    let probe = probe_files(&plan, probe_dir).await?;
    let executor = executor::Executor {
        ahead: std::sync::Mutex::new(row),
        project_hash: tokio::sync::OnceCell::new_with(project_hash),
        ..executor::Executor::new(plan.clone(), probe)
    };
    let graph = graph::Graph {
        stages: Arc::new(executor),
        events,
        needs_layer: match &plan.extension.subject {
            Subject::Sources(_) => !plan.extension.test_requires.is_empty(),
            Subject::Project(_) | Subject::Rows(_) => true,
        },
        nodes: Default::default(),
    };
    let grids: Vec<Arc<graph::Grid>> = plan
        .header
        .grids
        .iter()
        .enumerate()
        .map(|(index, grid)| {
            Arc::new(grid_in(
                work.path(),
                ram.as_ref().map(|r| r.path()),
                index,
                grid,
            ))
        })
        .collect();
    let mut cells = Vec::new();
    let mut builds = Vec::new();
    for grid in &grids {
        if plan.build_only {
            builds.extend(graph.builds(grid));
        } else {
            let builder = grids.get(grid.plan.builder(grid.index)).unwrap_or(grid);
            cells.extend(graph.cells(grid, builder));
        }
    }
    join_all(builds).await;
    join_all(cells).await;
    let _ = graph.events.send(Event::Finished {
        duration: started.elapsed(),
    });
    if keep {
        // Kept on purpose when the user asked to inspect the environments.
        return Ok(Some(work.keep()));
    }
    // With --fresh it holds every environment: removed off the runtime.
    crate::blocking::run(move || drop((work, ram))).await;
    Ok(None)
}

/// Grid `index`'s folders in the run's work folder (its cells' in `ram`
/// when there is one).
fn grid_in(
    work: &std::path::Path,
    ram: Option<&std::path::Path>,
    index: usize,
    grid: &crate::plan::GridPlan,
) -> graph::Grid {
    let folder = format!("py{index}-{}", grid.interpreter.version);
    graph::Grid {
        index,
        plan: grid.clone(),
        work: work.join(&folder),
        cells: match ram {
            Some(ram) => ram.join(&folder),
            None => work.join(&folder).join("cells"),
        },
    }
}

/// A run's temporary folder (`abimatrix-*` in TMPDIR).
fn work_folder() -> Result<tempfile::TempDir, RunError> {
    tempfile::Builder::new()
        .prefix("abimatrix-")
        .tempdir()
        .map_err(RunError::TempDir)
}

/// The probe's driver, fork server and code, written into `dir` (off the
/// runtime).
async fn probe_files(plan: &Plan, dir: PathBuf) -> Result<ProbeFiles, RunError> {
    let (at, code) = (dir.clone(), plan.header.probe.clone());
    crate::blocking::run(move || ProbeFiles::write(&at, &code))
        .await
        .map_err(|source| RunError::ProbeFiles { path: dir, source })
}
