//! The nodes of a run's dependency graph: one environment per distinct
//! NumPy, one build per row, one probe per selected cell. Each node is a
//! shared future started by the first node that awaits it, so an
//! environment is made while a build compiles and a cell runs as soon as its
//! two inputs exist; only what a selected cell awaits is ever made.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::Shared;
use pep440_rs::Version;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{OnceCell, Semaphore};

use super::events::{BuildRecord, Built, CellResult, Event};
use crate::build::{self, Artifact, BuildError};
use crate::cache::Place;
use crate::environment::{self, NumpyEnv};
use crate::extension::{RowSource, Subject};
use crate::outcome::Outcome;
use crate::plan::{AxisEntry, GridPlan, Plan};
use crate::probe::forkserver::ServerError;
use crate::probe::{self, ForkServer, Isolation, ProbeFiles, ProbeRun};
use crate::python::InstallError;

type SharedEnv = Shared<Pin<Box<dyn Future<Output = Result<Arc<NumpyEnv>, InstallError>> + Send>>>;

/// Why a row produced no artifact.
#[derive(Debug, Clone)]
enum RowProblem {
    /// Its NumPy environment could not be made.
    Env(InstallError),
    /// The build said no; the log goes with every cell of the row.
    Build(BuildError),
}

type SharedBuild = Shared<Pin<Box<dyn Future<Output = Result<Arc<Artifact>, RowProblem>> + Send>>>;

/// Everything the graph's nodes share.
pub(super) struct Ctx {
    pub plan: Arc<Plan>,
    pub work: PathBuf,
    pub permits: Semaphore,
    pub events: UnboundedSender<Event>,
    pub probe: ProbeFiles,
}

impl Ctx {
    fn send(&self, event: Event) {
        // The receiver only goes away when the process is ending anyway.
        let _ = self.events.send(event);
    }
}

/// One interpreter's part of the graph.
pub(super) struct Grid {
    pub index: usize,
    pub plan: GridPlan,
    pub work: PathBuf,
    /// Fork servers by runtime version, started by the first cell that needs
    /// one; `Err` (it would not start) sends that version's cells to process
    /// mode.
    servers: HashMap<Version, OnceCell<Result<Arc<ForkServer>, ServerError>>>,
}

impl Grid {
    pub fn new(index: usize, plan: GridPlan, work: PathBuf) -> Grid {
        let servers = plan
            .versions()
            .into_iter()
            .map(|v| (v, OnceCell::new()))
            .collect();
        Grid {
            index,
            plan,
            work,
            servers,
        }
    }
}

/// The cells of one grid, as futures ready to be awaited together.
pub(super) fn cells(ctx: &Arc<Ctx>, grid: &Arc<Grid>) -> Vec<impl Future<Output = ()> + use<>> {
    let mut envs: HashMap<Version, SharedEnv> = HashMap::new();
    for v in grid.plan.versions() {
        envs.insert(
            v.clone(),
            env_node(ctx.clone(), grid.clone(), v).boxed().shared(),
        );
    }
    // Rows, by position: a build against a NumPy, or a published package.
    let mut builds: HashMap<usize, SharedBuild> = HashMap::new();
    for (i, b) in grid.plan.build_axis.iter().enumerate() {
        let node = match b {
            AxisEntry::Numpy { version, .. } => build_node(
                ctx.clone(),
                grid.clone(),
                version.clone(),
                envs[version].clone(),
            )
            .boxed()
            .shared(),
            AxisEntry::Row(row) => row_node(ctx.clone(), grid.clone(), row.clone())
                .boxed()
                .shared(),
            AxisEntry::Missing { .. } => continue,
        };
        builds.insert(i, node);
    }
    grid.plan
        .cells
        .iter()
        .map(|&(bi, ri)| {
            let build = builds.get(&bi).cloned();
            let env = grid.plan.runtime_axis[ri]
                .version()
                .map(|v| envs[v].clone());
            cell_node(ctx.clone(), grid.clone(), bi, ri, build, env)
        })
        .collect()
}

fn place<'a>(ctx: &'a Ctx, cached: &'a Path, temporary: &'a Path) -> Place<'a> {
    match ctx.plan.cache {
        Some(_) => Place::Cached(cached),
        None => Place::Temporary(temporary),
    }
}

async fn env_node(
    ctx: Arc<Ctx>,
    grid: Arc<Grid>,
    version: Version,
) -> Result<Arc<NumpyEnv>, InstallError> {
    let _permit = ctx.permits.acquire().await;
    let interpreter = &grid.plan.interpreter;
    let temporary = grid.work.join("envs").join(version.to_string());
    let cached = ctx
        .plan
        .cache
        .as_deref()
        .map(|root| environment::cached_dir(root, interpreter, &version))
        .unwrap_or_default();
    let result = environment::ensure(
        &ctx.plan.installer,
        interpreter,
        &version,
        place(&ctx, &cached, &temporary),
        || {
            ctx.send(Event::EnvStarted {
                grid: grid.index,
                version: version.clone(),
            })
        },
    )
    .await
    .map(Arc::new);
    ctx.send(Event::EnvFinished {
        grid: grid.index,
        version,
        result: result
            .as_ref()
            .map(|e| (e.setup, e.reused))
            .map_err(Clone::clone),
    });
    result
}

async fn build_node(
    ctx: Arc<Ctx>,
    grid: Arc<Grid>,
    version: Version,
    env: SharedEnv,
) -> Result<Arc<Artifact>, RowProblem> {
    let env = env.await.map_err(RowProblem::Env)?;
    let _permit = ctx.permits.acquire().await;
    let row = version.to_string();
    let started = || {
        ctx.send(Event::BuildStarted {
            grid: grid.index,
            row: row.clone(),
        })
    };
    let interpreter = &grid.plan.interpreter;
    let temporary = grid.work.join("builds").join(&row);
    let installer = &ctx.plan.installer;
    let result = match &ctx.plan.extension.subject {
        Subject::Project(project) => {
            let key = crate::cache::digest([
                "project".to_string(),
                build::project::source_hash(project),
                crate::cache::interpreter_key(interpreter),
                row.clone(),
            ]);
            let cached = cached_build(&ctx, &key);
            build::ensure(place(&ctx, &cached, &temporary), async |dir: &Path| {
                started();
                build::project::build(installer, interpreter, project, &version, dir).await
            })
            .await
        }
        Subject::Sources(sources) => {
            let cached = cached_build(&ctx, &build::sources::key(sources, interpreter, &env));
            build::ensure(place(&ctx, &cached, &temporary), async |dir: &Path| {
                started();
                build::sources::compile(sources, interpreter, &env, dir).await
            })
            .await
        }
        Subject::Rows(_) => Err(BuildError::new(
            "published rows are not built against a NumPy",
            "",
        )),
    };
    finish_row(&ctx, &grid, row, result)
}

fn cached_build(ctx: &Ctx, key: &str) -> PathBuf {
    ctx.plan
        .cache
        .as_deref()
        .map(|root| build::cached_dir(root, key))
        .unwrap_or_default()
}

/// Tells the reporter how a row ended and hands its artifact on.
fn finish_row(
    ctx: &Ctx,
    grid: &Grid,
    row: String,
    result: Result<Artifact, BuildError>,
) -> Result<Arc<Artifact>, RowProblem> {
    ctx.send(Event::BuildFinished(BuildRecord {
        grid: grid.index,
        row,
        result: result
            .as_ref()
            .map(|a| Built {
                reused: a.reused,
                duration: a.duration,
                log: a.log.clone(),
            })
            .map_err(Clone::clone),
    }));
    result.map(Arc::new).map_err(RowProblem::Build)
}

/// A row of published code: the wheel or requirement and its dependencies
/// (not NumPy) installed into an artifact directory, once per interpreter.
async fn row_node(
    ctx: Arc<Ctx>,
    grid: Arc<Grid>,
    row: RowSource,
) -> Result<Arc<Artifact>, RowProblem> {
    let _permit = ctx.permits.acquire().await;
    let arg = row.install_arg();
    let identity = match &row {
        // A wheel file is keyed by its contents, not its name.
        RowSource::Wheel(path) => crate::cache::digest([std::fs::read(path).unwrap_or_default()]),
        RowSource::Requirement(r) => r.clone(),
    };
    let interpreter = &grid.plan.interpreter;
    let key = crate::cache::digest([
        "row".to_string(),
        identity,
        crate::cache::interpreter_key(interpreter),
    ]);
    let temporary = grid
        .work
        .join("rows")
        .join(crate::cache::digest([arg.as_str()]));
    let cached = cached_build(&ctx, &key);
    let result = build::ensure(place(&ctx, &cached, &temporary), async |dir: &Path| {
        ctx.send(Event::BuildStarted {
            grid: grid.index,
            row: row.to_string(),
        });
        build::rows::install(&ctx.plan.installer, interpreter, &arg, dir).await
    })
    .await;
    finish_row(&ctx, &grid, row.to_string(), result)
}

async fn cell_node(
    ctx: Arc<Ctx>,
    grid: Arc<Grid>,
    build: usize,
    runtime: usize,
    artifact: Option<SharedBuild>,
    env: Option<SharedEnv>,
) {
    let mut result = CellResult {
        grid: grid.index,
        build,
        runtime,
        outcome: Outcome::Pass,
        duration: Duration::ZERO,
        stdout: String::new(),
        stderr: String::new(),
        command: None,
    };
    let (b, r) = (
        &grid.plan.build_axis[build],
        &grid.plan.runtime_axis[runtime],
    );
    let unavailable =
        |axis: &str, entry: &AxisEntry, why: &dyn std::fmt::Display| Outcome::Unavailable {
            message: format!("{axis} numpy {}: {why}", entry.label()),
        };
    let missing = |e: &AxisEntry| e.unavailable().unwrap_or("not resolved").to_string();
    result.outcome = match (artifact, env) {
        (None, _) => unavailable("build", b, &missing(b)),
        (_, None) => unavailable("runtime", r, &missing(r)),
        (Some(artifact), Some(env)) => match artifact.await {
            Err(RowProblem::Env(why)) => unavailable("build", b, &env_problem(&why, &grid)),
            Err(RowProblem::Build(e)) => {
                result.stderr = e.log;
                Outcome::BuildFailed { message: e.summary }
            }
            Ok(artifact) => match env.await {
                Err(why) => unavailable("runtime", r, &env_problem(&why, &grid)),
                Ok(env) => match forbidden(&ctx, &grid, b, &env).await {
                    Some(outcome) => outcome,
                    None => {
                        let run = probe_cell(&ctx, &grid, build, runtime, &artifact, &env).await;
                        result.stdout = run.stdout;
                        result.stderr = run.stderr;
                        result.duration = run.duration;
                        result.command = Some(run.command);
                        run.outcome
                    }
                },
            },
        },
    };
    ctx.send(Event::CellFinished(Box::new(result)));
}

/// How an environment that could not be made is described in its cells.
fn env_problem(e: &InstallError, grid: &Grid) -> String {
    match e {
        InstallError::NoWheel { requirement, .. } => {
            format!(
                "no wheel of {requirement} for {}",
                grid.plan.interpreter.label()
            )
        }
        other => other.to_string(),
    }
}

/// For a row of published code: the outcome when its metadata forbids this
/// NumPy (`--ignore-requires` runs the cell regardless).
async fn forbidden(ctx: &Ctx, grid: &Grid, build: &AxisEntry, env: &NumpyEnv) -> Option<Outcome> {
    let AxisEntry::Row(row) = build else {
        return None;
    };
    if ctx.plan.ignore_requires {
        return None;
    }
    let why = build::rows::forbids_numpy(
        &ctx.plan.installer,
        &grid.plan.interpreter,
        &row.install_arg(),
        &env.numpy,
    )
    .await;
    let message = match why {
        Ok(None) => return None,
        Ok(Some(why)) => format!(
            "{row}'s metadata forbids numpy {}: {why} (--ignore-requires runs it anyway)",
            env.numpy
        ),
        Err(e) => format!(
            "cannot tell whether {row}'s metadata allows numpy {}: {e}",
            env.numpy
        ),
    };
    Some(Outcome::Unavailable { message })
}

async fn probe_cell(
    ctx: &Ctx,
    grid: &Grid,
    build: usize,
    runtime: usize,
    artifact: &Artifact,
    env: &NumpyEnv,
) -> ProbeRun {
    let _permit = ctx.permits.acquire().await;
    let dir = grid.work.join("cells").join(format!(
        "{}__{}",
        grid.plan.build_axis[build].label(),
        grid.plan.runtime_axis[runtime].label()
    ));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return ProbeRun {
            outcome: Outcome::Unavailable {
                message: format!("cannot create {}: {e}", dir.display()),
            },
            stdout: String::new(),
            stderr: String::new(),
            duration: Duration::ZERO,
            command: String::new(),
        };
    }
    let extension = &ctx.plan.extension;
    let timeout = ctx.plan.timeout;
    if let Some(test) = &extension.test {
        return probe::command::run(test, artifact, env, &dir, timeout).await;
    }
    let module = &extension.imports.join(",");
    if ctx.plan.isolation == Isolation::Fork {
        if let Some(cell) = grid.servers.get(&env.numpy) {
            let server = cell
                .get_or_init(|| async {
                    ForkServer::start(&env.python, &ctx.probe, &probe::child_env())
                        .await
                        .map(Arc::new)
                })
                .await;
            if let Ok(server) = server {
                return probe::run_forked(server, &ctx.probe, module, artifact, env, &dir, timeout)
                    .await;
            }
        }
    }
    probe::run(&ctx.probe, module, artifact, env, &dir, timeout).await
}
