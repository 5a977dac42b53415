//! The environment stage: one virtual environment per interpreter and
//! NumPy, taken from the cache when a verified entry is there and made into
//! it when not (`--fresh`: in the run's own folder). Naming a local wheel's
//! entry hashes the wheel, and checking an entry stats (and maybe hashes)
//! its files: both off the runtime.

use std::path::PathBuf;
use std::time::Instant;

use pep440_rs::Version;

use super::executor::{Executor, QuickCheck, place};
use super::flight::Turn;
use super::graph::{Grid, Started};
use crate::cache::manifest::Depth;
use crate::environment::{self, NumpyEnv};
use crate::python::InstallError;

/// Quick checks of one environment take at most one part in `PACE` of the
/// time while its cells keep failing.
const PACE: u32 = 20;

/// The longest a failed cell waits for the next check to start (a check of
/// a large environment is slow, and the pause grows with it).
const MAX_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

impl Executor {
    /// The environment with `version` for `grid`, reused or made.
    pub(super) async fn make_environment(
        &self,
        grid: &Grid,
        version: &Version,
        started: &Started<'_>,
    ) -> Result<NumpyEnv, InstallError> {
        let temporary = grid.work.join("envs").join(version.to_string());
        let cached = self.cached_env_dir(grid, version).await;
        environment::ensure(
            &self.plan.installer,
            &grid.plan.interpreter,
            version,
            grid.plan.wheel_of(version),
            place(cached.as_deref(), &temporary),
            self.store().as_ref(),
            started,
        )
        .await
    }

    /// Where the cache keeps the environment with `version` (`None` with
    /// `--fresh`); one of a local wheel is named by the wheel's content.
    async fn cached_env_dir(&self, grid: &Grid, version: &Version) -> Option<PathBuf> {
        let root = self.plan.cache.clone()?;
        let interpreter = &grid.plan.interpreter;
        let Some(wheel) = grid.plan.wheel_of(version) else {
            return Some(environment::cached_dir(&root, interpreter, version));
        };
        let (interpreter, version, wheel) =
            (interpreter.clone(), version.clone(), wheel.to_path_buf());
        Some(
            crate::blocking::run(move || {
                environment::cached_wheel_dir(&root, &interpreter, &version, &wheel)
            })
            .await,
        )
    }

    /// Why the cached environment `env` no longer holds what it was made
    /// with (the quick check: a stat per file, a hash of what changed);
    /// `None` when it does, or is not a cached one. Asked by a cell that
    /// failed and `ended` then: a check that started after that answers
    /// for it, so the failed cells of a column that end while one check
    /// runs share the next (a column of failures is hundreds of cells, and
    /// a check a thousand stats).
    ///
    /// Checks of one environment are paced: the next starts no sooner than
    /// [`PACE`] times the last one's duration after the last one started,
    /// or once every cell of the column is done, whichever comes first.
    /// The failed cells that end meanwhile wait for it (a failure is
    /// reported that much later) and share it: without the pause the
    /// checks ran back to back for as long as a column kept failing, one
    /// core's worth of stats beside the cells (the every-release grid's 442
    /// failures took 128 checks of 954 files each, beside the 43 at the
    /// start).
    pub(super) async fn changed(
        &self,
        grid: &Grid,
        env: &NumpyEnv,
        ended: Instant,
    ) -> Option<String> {
        self.plan.cache.as_ref()?;
        let ticket = match self
            .checks
            .turn_unless(&env.dir, |last: &QuickCheck| last.started < ended)
            .await
        {
            Turn::Known(last) => return last.changed,
            Turn::Mine(ticket) => ticket,
        };
        if let Some(last) = ticket.before() {
            let pause = (last.took * PACE).min(MAX_PAUSE);
            // No pause once the column is done: no failure is left to
            // share the check with (and the run's last cells would wait).
            tokio::select! {
                () = tokio::time::sleep_until((last.started + pause).into()) => {}
                () = self.lane(grid).columns.drained(&env.numpy) => {}
            }
        }
        let started = Instant::now();
        let (dir, numpy, markers) = (env.dir.clone(), env.numpy.clone(), self.markers.clone());
        let changed = crate::blocking::run(move || {
            markers
                .valid(&dir, &numpy, Depth::Quick)
                .err()
                .map(|e| e.to_string())
        })
        .await;
        ticket.land(QuickCheck {
            started,
            took: started.elapsed(),
            changed: changed.clone(),
        });
        changed
    }

    /// Why the cached environment `env` is damaged, from every byte of it
    /// (the deep check); `None` when it is intact.
    pub(super) async fn damaged(&self, env: &NumpyEnv) -> Option<String> {
        let (dir, numpy) = (env.dir.clone(), env.numpy.clone());
        crate::blocking::run(move || {
            environment::valid(&dir, &numpy, Depth::Deep)
                .err()
                .map(|e| e.to_string())
        })
        .await
    }

    /// The cached environment `env` made again in its place (it was found
    /// damaged): what the cell runs in next.
    pub(super) async fn remake_environment(
        &self,
        grid: &Grid,
        env: &NumpyEnv,
    ) -> Result<NumpyEnv, InstallError> {
        let gone = env.dir.clone();
        let _ = crate::blocking::run(move || std::fs::remove_dir_all(gone)).await;
        environment::ensure(
            &self.plan.installer,
            &grid.plan.interpreter,
            &env.numpy,
            grid.plan.wheel_of(&env.numpy),
            crate::cache::Place::Cached(&env.dir),
            self.store().as_ref(),
            || {},
        )
        .await
    }
}
