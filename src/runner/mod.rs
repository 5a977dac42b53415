//! Executing a [`Plan`]: environments, builds and probes as one dependency
//! graph rather than phases (see [`graph`]). All interpreters' grids share
//! one graph and one limit on concurrent work.
//!
//! The runner never prints and never judges. It sends [`Event`]s; the caller
//! decides what to show and what to keep (a reporter, as in nextest).
//! Nothing here is spawned onto the runtime: every piece of work is a future
//! owned by `run`, so dropping `run` (Ctrl-C) drops them all, and each
//! child's process-group guard kills what it started.

mod events;
mod graph;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures::future::join_all;
use tokio::sync::Semaphore;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

pub use events::{BuildRecord, Built, CellResult, Event};

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
/// directory when `keep` asks to keep it.
pub async fn run(
    plan: Arc<Plan>,
    keep: bool,
    events: EventSink,
) -> Result<Option<PathBuf>, RunError> {
    let started = Instant::now();
    let work = tempfile::Builder::new()
        .prefix("abimatrix-")
        .tempdir()
        .map_err(RunError::TempDir)?;
    let probe_dir = ProbeFiles::dir(plan.cache.as_deref(), work.path(), &plan.header.probe.code);
    let probe = ProbeFiles::write(&probe_dir, &plan.header.probe).map_err(|source| {
        RunError::ProbeFiles {
            path: probe_dir.clone(),
            source,
        }
    })?;
    let ctx = Arc::new(graph::Ctx {
        permits: Semaphore::new(plan.header.jobs),
        server_slots: Arc::new(Semaphore::new(plan.header.jobs)),
        work: work.path().to_path_buf(),
        plan: plan.clone(),
        events,
        probe,
        proven: Default::default(),
        project_hash: Default::default(),
    });
    let mut cells = Vec::new();
    let mut builds = Vec::new();
    for (index, grid) in plan.header.grids.iter().enumerate() {
        let dir = ctx
            .work
            .join(format!("py{index}-{}", grid.interpreter.version));
        let grid = Arc::new(graph::Grid::new(index, grid.clone(), dir));
        if plan.build_only {
            builds.extend(graph::builds(&ctx, &grid));
        } else {
            cells.extend(graph::cells(&ctx, &grid));
        }
    }
    join_all(builds).await;
    join_all(cells).await;
    let _ = ctx.events.send(Event::Finished {
        duration: started.elapsed(),
    });
    // Kept on purpose when the user asked to inspect the environments.
    Ok(keep.then(|| work.keep()))
}
