//! One build ahead of the run: the tag of the wheel a project comes out
//! as, when nothing abimatrix reads says so. A project whose backend makes
//! an `abi3` wheel without a declaration in setup.cfg or pyproject.toml
//! (setuptools' `options` in setup.py, a backend's own default) is then
//! planned like one that declares it: built once and imported under every
//! Python. The build is made as the run makes its rows, into the same
//! place: the cache, where the run that follows finds it kept, or (with
//! `--fresh`) the run's own temporary folder, which this build starts and
//! hands on to the run ([`Ahead`]), so that nothing is built twice; the
//! project tree's hash, made for the build's key, is handed on too. The
//! runner only reports the tag; what it means for the plan is the plan's
//! to say.

use std::sync::Arc;

use pep440_rs::Version;

use super::RunError;
use super::executor::Executor;
use super::graph::Made;
use crate::plan::{AxisEntry, Plan};
use crate::probe::ProbeFiles;

/// What the build ahead of the run found.
pub struct WheelTag {
    /// The wheel's tag. `None`: no such row, or the build failed (the run
    /// that follows says why, in the row's cells).
    pub tag: Option<String>,
    /// What the run need not do again: give it to [`super::run`].
    pub ahead: Ahead,
}

/// What the build ahead of the run learned, for the run to start from
/// (nothing, by default: a run that built nothing ahead).
#[derive(Default)]
pub struct Ahead {
    /// The project's tree, hashed for the build's key: the run keys its
    /// rows by the same hash rather than reading the tree again.
    pub(super) project_hash: Option<String>,
    /// When only this run can use the build (`--fresh`): the run's own
    /// temporary folder, which the build was made in and which the run
    /// takes as its own, and the build as the row it is (grid, NumPy).
    pub(super) fresh: Option<(tempfile::TempDir, usize, Version, Made)>,
}

/// The tag of the wheel grid `grid`'s Python builds against the first
/// NumPy of its build axis. `started` is told when the wheel is not kept
/// and must be built now.
pub async fn project_wheel_tag(
    plan: Arc<Plan>,
    grid: usize,
    started: &(dyn Fn() + Send + Sync),
) -> Result<WheelTag, RunError> {
    let none = WheelTag {
        tag: None,
        ahead: Ahead::default(),
    };
    let Some(grid_plan) = plan.header.grids.get(grid) else {
        return Ok(none);
    };
    let Some(version) = grid_plan.build_axis.iter().find_map(AxisEntry::version) else {
        return Ok(none);
    };
    let work = super::work_folder()?;
    // No cell runs here, but the executor is the run's, probe and all, in
    // the place the run keeps it (written once, found by the run).
    let dir = ProbeFiles::dir(plan.cache.as_deref(), work.path(), &plan.header.probe.code);
    let probe = super::probe_files(&plan, dir).await?;
    // The folders the run gives this grid, so a build made here is where
    // the run would have made it.
    let grid = super::grid_in(work.path(), None, grid, grid_plan);
    let executor = Executor::new(plan.clone(), probe);
    let made = executor.project_row(&grid, version, started).await;
    let tag = made.as_ref().and_then(|m| m.tag.clone());
    let fresh = match made {
        // Made in this folder (nowhere keeps builds): the run needs it.
        Some(made) if made.artifact.dir.starts_with(work.path()) => {
            Some((work, grid.index, version.clone(), made))
        }
        _ => {
            crate::blocking::run(move || drop(work)).await;
            None
        }
    };
    Ok(WheelTag {
        tag,
        ahead: Ahead {
            project_hash: executor.project_hash.into_inner(),
            fresh,
        },
    })
}
