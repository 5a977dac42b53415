//! One build ahead of the run: the tag of the wheel a project comes out
//! as, when nothing abimatrix reads says so. A project whose backend makes
//! an `abi3` wheel without a declaration in setup.cfg or pyproject.toml
//! (setuptools' `options` in setup.py, a backend's own default) is then
//! planned like one that declares it: built once and imported under every
//! Python. The build is made as the run makes its rows, into the same
//! place (the cache, or a temporary folder with `--fresh`), so the run
//! that follows finds it kept. The runner only reports the tag; what it
//! means for the plan is the plan's to say.

use std::sync::Arc;

use super::RunError;
use super::executor::Executor;
use super::graph::Grid;
use crate::plan::{AxisEntry, Plan};

/// The tag of the wheel grid `grid`'s Python builds against the first
/// NumPy of its build axis. `Ok(None)`: no such row, or the build failed
/// (the run that follows says why, in the row's cells). `started` is told
/// when the wheel is not kept and must be built now.
pub async fn project_wheel_tag(
    plan: Arc<Plan>,
    grid: usize,
    started: &(dyn Fn() + Send + Sync),
) -> Result<Option<String>, RunError> {
    let Some(grid_plan) = plan.header.grids.get(grid) else {
        return Ok(None);
    };
    let Some(version) = grid_plan.build_axis.iter().find_map(AxisEntry::version) else {
        return Ok(None);
    };
    let work = super::work_folder()?;
    // No cell runs here, but the executor is the run's, probe and all.
    let probe = super::probe_files(&plan, work.path().join("probe")).await?;
    let grid = Grid {
        index: grid,
        plan: grid_plan.clone(),
        work: work.path().join("tag"),
        cells: work.path().join("cells"),
    };
    let tag = Executor::new(plan.clone(), probe)
        .project_tag(&grid, version, started)
        .await;
    crate::blocking::run(move || drop(work)).await;
    Ok(tag)
}
