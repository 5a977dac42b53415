//! The cell stage: the row's artifact and the cell's layer on the path,
//! the probe (or the user's test command) run in the column's environment
//! — forked from the column's server, or in a process of its own. A
//! failure that could come from a damaged cache entry gets a second
//! opinion before it is believed ([`super::proofs`]). What the outcome
//! *means* (expected or not, which advice goes with it) is not decided
//! here: the reporter and the judges that read the events do that.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::executor::Executor;
use super::graph::{CellWork, Grid};
use super::proofs::RowProof;
use crate::build::Artifact;
use crate::environment::NumpyEnv;
use crate::outcome::Outcome;
use crate::probe::{self, Isolation, ProbeRun};

/// What a failure is taken for after its entries were proven.
enum Opinion {
    /// The entries are intact: the failure is the cell's own.
    Believed,
    /// An entry was damaged and made again: the cell runs again in it.
    Again {
        env: Box<NumpyEnv>,
        artifact: Box<Artifact>,
        note: String,
    },
    /// Its environment changed under it and could not be made again: the
    /// cell could not run (it is never the extension's failure).
    Unavailable(String),
}

impl Executor {
    /// The cell's probe, with the row's artifact and the cell's layer on its
    /// path.
    pub(super) async fn run_cell(&self, grid: &Grid, cell: &CellWork) -> ProbeRun {
        self.probe(
            grid,
            (cell.build, cell.runtime),
            &artifact_dirs(&cell.artifact, cell.layer.as_ref()),
            &cell.env,
            false,
        )
        .await
    }

    /// The cell's outcome once it can be believed: a failure that could
    /// come from a damaged cache entry, or from an environment whose files
    /// changed under the cell, gets its entries proven first; when one
    /// proved damaged and was made again, the cell runs once more, in a
    /// process of its own, and says so.
    pub(super) async fn believe_cell(
        &self,
        grid: &Grid,
        cell: CellWork,
        run: ProbeRun,
    ) -> ProbeRun {
        let ended = Instant::now();
        let CellWork {
            build,
            runtime,
            artifact,
            env,
            build_env,
            layer,
            builder,
        } = cell;
        if matches!(run.outcome, Outcome::Pass | Outcome::Unavailable { .. }) {
            return run;
        }
        // Whatever the failure says, an environment whose files changed
        // under the cell (a probe running as root wrote into NumPy) is to
        // blame before the extension is: the cheap check, a stat per file.
        let changed = self.changed(grid, &env, ended).await;
        if !suspicious(&run) && changed.is_none() {
            return run;
        }
        let build_env = match build_env {
            Some(e) => e.await.ok(),
            None => None,
        };
        let opinion = self
            .second_opinion(
                (grid, &builder),
                build,
                &env,
                changed,
                build_env.as_deref(),
                &artifact,
            )
            .await;
        let (env, artifact, note) = match opinion {
            Opinion::Believed => return run,
            Opinion::Unavailable(why) => {
                return ProbeRun {
                    outcome: Outcome::unavailable(why),
                    ..run
                };
            }
            Opinion::Again {
                env,
                artifact,
                note,
            } => (env, artifact, note),
        };
        let mut again = self
            .probe(
                grid,
                (build, runtime),
                &artifact_dirs(&artifact, layer.as_ref()),
                &env,
                true,
            )
            .await;
        again.stderr = format!(
            "[abimatrix: {note}; this is the cell's second run]\n{}",
            again.stderr
        );
        again
    }

    /// Proves the cell's environment and row to the last byte (when the
    /// run has a cache: `--fresh` entries were just made); when either is
    /// damaged (or already was, and was made again this run), makes it
    /// again and says so, for the cell to run once more (in a process of
    /// its own: a fork server may hold the damaged NumPy; the column's
    /// server is retired so later cells get one from the new environment).
    /// `changed`: the quick check found the environment changed since it
    /// was last proven.
    /// `grids`: the cell's and the one whose interpreter made its row.
    async fn second_opinion(
        &self,
        (grid, builder): (&Grid, &Grid),
        build: usize,
        env: &NumpyEnv,
        changed: Option<String>,
        build_env: Option<&NumpyEnv>,
        artifact: &Artifact,
    ) -> Opinion {
        if self.plan.cache.is_none() {
            return Opinion::Believed;
        }
        let mut notes = Vec::new();
        let env = match self.prove_environment(grid, env, changed).await {
            Ok((env, note)) => {
                notes.extend(note);
                env
            }
            Err(lost) => return Opinion::Unavailable(lost.to_string()),
        };
        let artifact = match self.prove_row(builder, build, artifact, build_env).await {
            RowProof::Intact => artifact.clone(),
            RowProof::Remade(made, note) => {
                notes.push(note);
                *made
            }
            RowProof::Lost => return Opinion::Believed,
        };
        if notes.is_empty() {
            Opinion::Believed
        } else {
            Opinion::Again {
                env: Box::new(env),
                artifact: Box::new(artifact),
                note: notes.join("; "),
            }
        }
    }

    /// One run of the cell at (`build`, `runtime`) with `artifacts` on its
    /// path, in `env`: forked from the column's server unless
    /// `own_process`, the isolation or a test command says otherwise.
    async fn probe(
        &self,
        grid: &Grid,
        (build, runtime): (usize, usize),
        artifacts: &[PathBuf],
        env: &NumpyEnv,
        own_process: bool,
    ) -> ProbeRun {
        let plan = &self.plan;
        // The column's server before a job slot: a cell waiting for a
        // server slot must not hold a job slot a build it waits on needs.
        let server = match (plan.isolation, own_process, &plan.extension.test) {
            (Isolation::Fork, false, None) => {
                self.lane(grid).columns.server(&self.probe, env).await
            }
            _ => None,
        };
        // A test command writes what it likes where it runs: on disk.
        let root = match &plan.extension.test {
            Some(_) => grid.work.join("cells"),
            None => grid.cells.clone(),
        };
        let dir = root.join(format!(
            "{}__{}",
            grid.plan.build_axis[build].label(),
            grid.plan.runtime_axis[runtime].label()
        ));
        if let Err(e) = tokio::fs::create_dir_all(&dir).await {
            return ProbeRun {
                outcome: Outcome::unavailable(format!("cannot create {}: {e}", dir.display())),
                stdout: String::new(),
                stderr: String::new(),
                duration: Duration::ZERO,
                command: String::new(),
                rerun: None,
            };
        }
        // The folder before the job slot: the slot is for the child's
        // time, and a cell that waits for one is ready the moment it frees.
        let permit = self.permits.acquire().await;
        let timeout = plan.header.timeout;
        if let Some(test) = &plan.extension.test {
            return probe::command::run(test, artifacts, env, &plan.config_dir, &dir, timeout)
                .await;
        }
        let module = &plan.extension.imports.join(",");
        if let Some(server) = server {
            return probe::run_forked(
                &server,
                &self.probe,
                module,
                artifacts,
                env,
                &dir,
                timeout,
                permit.ok(),
            )
            .await;
        }
        probe::run(&self.probe, module, artifacts, env, &dir, timeout).await
    }
}

/// What a cell puts on its path: the row's artifact, then its layer.
fn artifact_dirs(artifact: &Artifact, layer: Option<&PathBuf>) -> Vec<PathBuf> {
    std::iter::once(artifact.dir.clone())
        .chain(layer.cloned())
        .collect()
}

/// Whether a cell's failure could come from a damaged cache entry rather
/// than the extension: the loader's and Python's words for a broken file,
/// a NumPy that is not the environment's, or a crash.
fn suspicious(run: &ProbeRun) -> bool {
    const DAMAGE: [&str; 8] = [
        "file too short",
        "invalid ELF header",
        "wrong ELF class",
        "No module named 'numpy'",
        "No module named numpy",
        "is not what it claims",
        "cannot open shared object file",
        "bad marshal data",
    ];
    match &run.outcome {
        Outcome::Crash { .. } => true,
        Outcome::Fail(f) => DAMAGE
            .iter()
            .any(|d| f.message.contains(d) || run.stderr.contains(d)),
        _ => false,
    }
}
