//! Proving a cache entry to the last byte when a cell's failure could come
//! from it, and making it again when it is damaged. Each entry is proven
//! once a run (an environment again when it changed since): the first cell
//! that needs an entry proven does it, and the cells of the same entry wait
//! for that answer. Only they wait: every entry has a slot of its own, so
//! hashing one environment never holds up the proof of another, and the
//! hashing itself runs off the runtime.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};

use super::executor::Executor;
use super::graph::Grid;
use crate::build::{self, Artifact};
use crate::environment::NumpyEnv;
use crate::plan::AxisEntry;

/// What proving an entry found this run.
#[derive(Debug, Clone)]
enum Proof {
    Intact,
    /// It was damaged and was made again: why, for the cells that ran in
    /// it before (they run again).
    Remade(String),
}

/// A cached environment that changed during the run and could not be made
/// again: its cells could not run (never the extension's failure).
#[derive(Debug, thiserror::Error)]
#[error(
    "the cached environment {} changed during the run ({why}) and could not be made again: {error}",
    dir.display()
)]
pub(super) struct EnvLost {
    dir: PathBuf,
    why: String,
    // In the message, not a `source`: the one line is what a cell shows.
    error: crate::python::InstallError,
}

/// One entry's proof: `None` until it has been proven.
type Slot = Arc<tokio::sync::Mutex<Option<Proof>>>;

/// The entries proven (or made again) this run, by folder.
#[derive(Default)]
pub(super) struct Proofs(std::sync::Mutex<HashMap<PathBuf, Slot>>);

impl Proofs {
    /// The slot of the entry at `dir` (the map's own lock is held only to
    /// find it).
    fn of(&self, dir: &Path) -> Slot {
        let mut slots = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(dir.to_path_buf()).or_default().clone()
    }
}

/// What proving a row found.
pub(super) enum RowProof {
    /// Intact, or proven already this run, or made this run and not cached.
    Intact,
    /// Damaged, and made again: the new row and the note that says so.
    Remade(Box<Artifact>, String),
    /// Damaged, and it could not be made again.
    Lost,
}

impl Executor {
    /// Proves the cached environment `env` (unless it was proven this run
    /// and has not `changed` since, per the quick check), making it again
    /// when damaged: the environment to run in, with the note that says it
    /// was made again; `Err`: it was damaged and could not be made again.
    pub(super) async fn prove_environment(
        &self,
        grid: &Grid,
        env: &NumpyEnv,
        changed: Option<String>,
    ) -> Result<(NumpyEnv, Option<String>), EnvLost> {
        let slot = self.proofs.of(&env.dir);
        let mut known = slot.lock().await;
        match known.clone().filter(|_| changed.is_none()) {
            Some(Proof::Intact) => return Ok((env.clone(), None)),
            Some(Proof::Remade(note)) => return Ok((env.clone(), Some(note))),
            None => {}
        }
        let Some(why) = self.damaged(env).await.or(changed) else {
            *known = Some(Proof::Intact);
            return Ok((env.clone(), None));
        };
        let remade = self
            .remake_environment(grid, env)
            .await
            .map_err(|error| EnvLost {
                dir: env.dir.clone(),
                why: why.clone(),
                error,
            })?;
        self.lane(grid).columns.retire(&remade.numpy).await;
        let note = format!(
            "the cached environment {} was damaged ({why}) and was made again",
            remade.dir.display()
        );
        *known = Some(Proof::Remade(note.clone()));
        Ok((remade, Some(note)))
    }

    /// Proves the row at `build` (made: `artifact`) to the last byte, once
    /// a run, and makes it again when damaged: against the row's own NumPy
    /// (`build_env`), never the column's, as it is kept under the row's
    /// key.
    pub(super) async fn prove_row(
        &self,
        grid: &Grid,
        build: usize,
        artifact: &Artifact,
        build_env: Option<&NumpyEnv>,
    ) -> RowProof {
        // A build this run made and did not cache is proven by having just
        // been made.
        if artifact.staging.is_some() {
            return RowProof::Intact;
        }
        let slot = self.proofs.of(&artifact.dir);
        let mut known = slot.lock().await;
        if known.is_some() {
            return RowProof::Intact;
        }
        *known = Some(Proof::Intact);
        let dir = artifact.dir.clone();
        let Err(why) = crate::blocking::run(move || build::verify_deep(&dir)).await else {
            return RowProof::Intact;
        };
        let gone = artifact.dir.clone();
        let _ = crate::blocking::run(move || std::fs::remove_dir_all(gone)).await;
        let made = match &grid.plan.build_axis[build] {
            AxisEntry::Numpy { version, .. } => match build_env {
                Some(env) => {
                    let kept = self.kept_dir(grid, version).await;
                    self.make_build(grid, version, env, kept.as_deref(), &|| {})
                        .await
                        .ok()
                }
                None => None,
            },
            AxisEntry::Row(row) => self.make_package_row(grid, row, &|| {}).await.ok(),
            AxisEntry::Missing { .. } => None,
        };
        match made {
            Some(made) => {
                let note = format!(
                    "the cached build {} was damaged ({why}) and was made again",
                    made.dir.display()
                );
                RowProof::Remade(Box::new(made), note)
            }
            None => RowProof::Lost,
        }
    }
}
