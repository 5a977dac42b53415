//! The real [`Stages`]: what the graph's nodes do, with installers,
//! compilers and probes (nextest's executor: it owns every child and never
//! decides what an outcome means). One file per stage beside this one:
//! [`super::environments`], [`super::builds`], [`super::layers`],
//! [`super::cells`]; the fork servers of the runtime columns in
//! [`super::servers`], the proofs of cache entries in [`super::proofs`].
//!
//! The executor owns the limit on concurrent work (`jobs`): each stage
//! takes a permit for the part of its work that runs processes, so the
//! graph stays a description of what waits for what.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use pep440_rs::Version;
use tokio::sync::Semaphore;

use super::flight::Flights;
use super::graph::{CellWork, Grid, LayerProblem, Made, Stages, Started};
use super::servers::Columns;
use crate::build::toolchain::Toolchain;
use crate::build::{Artifact, BuildError};
use crate::cache::Place;
use crate::cache::store::Store;
use crate::environment::NumpyEnv;
use crate::extension::PackageRow;
use crate::plan::Plan;
use crate::probe::{ProbeFiles, ProbeRun};
use crate::python::InstallError;

/// Everything the stages share.
pub(super) struct Executor {
    pub plan: Arc<Plan>,
    /// How many pieces of work run at once (`jobs`).
    pub permits: Semaphore,
    pub probe: ProbeFiles,
    /// Cache entries proven to the last byte (or made again) this run, by
    /// folder: each proven once, by the first cell that needs it
    /// ([`super::proofs`]).
    pub proofs: Flights<PathBuf, Proof>,
    /// The last quick check of each cached environment a failed cell ran
    /// in, by folder: one check answers for every cell that ended before
    /// it started ([`Executor::changed`]).
    pub checks: Flights<PathBuf, QuickCheck>,
    /// The markers those checks read, kept between checks of the same
    /// environment while their files are unchanged.
    pub markers: Arc<crate::environment::Markers>,
    /// A project's source tree, hashed once for every row's key.
    pub project_hash: tokio::sync::OnceCell<String>,
    /// Per grid (by index): what its stages keep for the run.
    pub lanes: Vec<Lane>,
    /// The row made before the run began (`--fresh`, see
    /// [`super::wheel_tag`]): grid, NumPy and the build, taken by the
    /// first look for it.
    pub ahead: std::sync::Mutex<Option<(usize, Version, Made)>>,
}

/// What proving a cache entry found this run.
#[derive(Debug, Clone)]
pub(super) enum Proof {
    Intact,
    /// It was damaged and was made again: why, for the cells that ran in
    /// it before (they run again).
    Remade(String),
}

/// A quick check of a cached environment: when it started, and what it
/// found changed (`None`: nothing).
#[derive(Debug, Clone)]
pub(super) struct QuickCheck {
    pub started: Instant,
    /// How long it took.
    pub took: std::time::Duration,
    pub changed: Option<String>,
}

/// What the stages keep for one grid.
pub(super) struct Lane {
    /// Each runtime column's fork server.
    pub columns: Columns,
    /// The C compiler as this interpreter's builds run it (asked once, by
    /// the first build that needs it), or why it could not say.
    pub toolchain: tokio::sync::OnceCell<Result<Arc<Toolchain>, BuildError>>,
}

impl Executor {
    pub fn new(plan: Arc<Plan>, probe: ProbeFiles) -> Executor {
        let jobs = plan.header.jobs;
        // At most `jobs` fork servers live at once, over every grid.
        let servers = Arc::new(Semaphore::new(jobs));
        let lanes = plan
            .header
            .grids
            .iter()
            .map(|g| Lane {
                columns: Columns::new(g, servers.clone()),
                toolchain: tokio::sync::OnceCell::new(),
            })
            .collect();
        Executor {
            permits: Semaphore::new(jobs),
            probe,
            proofs: Flights::default(),
            checks: Flights::default(),
            markers: Arc::default(),
            project_hash: tokio::sync::OnceCell::new(),
            lanes,
            plan,
            ahead: std::sync::Mutex::new(None),
        }
    }

    /// The row made ahead of the run for `grid` against `version`, once.
    pub fn take_ahead(&self, grid: &Grid, version: &Version) -> Option<Made> {
        let mut ahead = self.ahead.lock().unwrap_or_else(|e| e.into_inner());
        match ahead.take() {
            Some((g, v, made)) if g == grid.index && &v == version => Some(made),
            other => {
                *ahead = other;
                None
            }
        }
    }

    pub fn lane(&self, grid: &Grid) -> &Lane {
        &self.lanes[grid.index]
    }

    /// The store cached environments share files through (none with
    /// `--fresh`).
    pub fn store(&self) -> Option<Store> {
        self.plan.cache.as_deref().map(Store::in_root)
    }
}

/// Where an entry is made: in the folder that keeps it (the cache, or the
/// artifacts for builds), else (`--fresh`) in the run's temporary folder.
pub(super) fn place<'a>(kept: Option<&'a Path>, temporary: &'a Path) -> Place<'a> {
    match kept {
        Some(dir) => Place::Cached(dir),
        None => Place::Temporary(temporary),
    }
}

impl Stages for Executor {
    async fn environment(
        &self,
        grid: &Grid,
        version: &Version,
        started: &Started<'_>,
    ) -> Result<NumpyEnv, InstallError> {
        let _permit = self.permits.acquire().await;
        self.make_environment(grid, version, started).await
    }

    async fn kept_build(&self, grid: &Grid, version: &Version) -> Option<Result<Made, BuildError>> {
        self.kept(grid, version).await
    }

    async fn build(
        &self,
        grid: &Grid,
        version: &Version,
        env: &NumpyEnv,
        started: &Started<'_>,
    ) -> Result<Made, BuildError> {
        let _permit = self.permits.acquire().await;
        let kept = self.kept_dir(grid, version).await;
        let made = self
            .make_build(grid, version, env, kept.as_deref(), started)
            .await;
        self.admitted(grid, made).await
    }

    async fn package_row(
        &self,
        grid: &Grid,
        row: &PackageRow,
        started: &Started<'_>,
    ) -> Result<Made, BuildError> {
        let _permit = self.permits.acquire().await;
        let made = self.make_package_row(grid, row, started).await;
        self.described(grid, made).await
    }

    async fn layer(
        &self,
        grid: &Grid,
        build: usize,
        numpy: &Version,
        row: &Artifact,
    ) -> Result<Option<Artifact>, LayerProblem> {
        self.make_layer(grid, build, numpy, row).await
    }

    async fn cell(&self, grid: &Grid, cell: &CellWork) -> ProbeRun {
        self.run_cell(grid, cell).await
    }

    async fn believe(&self, grid: &Grid, cell: CellWork, run: ProbeRun) -> ProbeRun {
        self.believe_cell(grid, cell, run).await
    }

    async fn cell_done(&self, grid: &Grid, runtime: usize) {
        if let Some(version) = grid.plan.runtime_axis[runtime].version() {
            self.lane(grid).columns.cell_done(version).await;
        }
    }
}

/// A folder under `root` named by `key`: where the cache keeps rows and
/// dependency layers (`None` with `--fresh`).
pub(super) fn entry_in(root: Option<&Path>, key: &str) -> Option<PathBuf> {
    root.map(|root| crate::build::cached_dir(root, key))
}
