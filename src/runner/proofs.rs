//! Proving a cache entry to the last byte when a cell's failure could come
//! from it, and making it again when it is damaged. Each entry is proven
//! once a run (an environment again when it changed since): the first cell
//! that needs an entry proven does it, and the cells of the same entry wait
//! for that answer ([`super::flight`]). Only they wait, and on no lock:
//! hashing one environment never holds up the proof of another, and the
//! hashing itself runs off the runtime.

use std::path::PathBuf;

use super::executor::{Executor, Proof};
use super::flight::Turn;
use super::graph::Grid;
use crate::build::{self, Artifact};
use crate::environment::NumpyEnv;
use crate::plan::AxisEntry;

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
        // A proof that failed (the ticket dropped) leaves the entry as it
        // was, for the next cell to try.
        let ticket = match self.proofs.turn(&env.dir, changed.is_some()).await {
            Turn::Known(Proof::Intact) => return Ok((env.clone(), None)),
            Turn::Known(Proof::Remade(note)) => return Ok((env.clone(), Some(note))),
            Turn::Mine(ticket) => ticket,
        };
        let Some(why) = self.damaged(env).await.or(changed) else {
            ticket.land(Proof::Intact);
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
        ticket.land(Proof::Remade(note.clone()));
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
        let ticket = match self.proofs.turn(&artifact.dir, false).await {
            Turn::Known(_) => return RowProof::Intact,
            Turn::Mine(ticket) => ticket,
        };
        // Proven once a run, whatever the proof finds: the cells that
        // waited for it take the row as it is then (made again in place, or
        // lost).
        let proof = self
            .remake_if_damaged(grid, build, artifact, build_env)
            .await;
        ticket.land(Proof::Intact);
        proof
    }

    /// Proves the row at `build` to the last byte and makes it again when
    /// damaged (see [`Executor::prove_row`]).
    async fn remake_if_damaged(
        &self,
        grid: &Grid,
        build: usize,
        artifact: &Artifact,
        build_env: Option<&NumpyEnv>,
    ) -> RowProof {
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
