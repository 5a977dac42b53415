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
use tokio::sync::Semaphore;
use tokio::sync::mpsc::UnboundedSender;

use super::events::{BuildRecord, Built, CellResult, Event};
use crate::build::toolchain::Toolchain;
use crate::build::{self, Artifact, BuildError, BuildFailure};
use crate::cache::Place;
use crate::cache::manifest::Depth;
use crate::cache::store::Store;
use crate::environment::{self, NumpyEnv};
use crate::extension::{PackageRow, RowSource, Subject};
use crate::outcome::{FailureReason, Outcome, Unavailability};
use crate::plan::{AxisEntry, GridPlan, Plan};
use crate::probe::{self, ForkServer, Isolation, ProbeFiles, ProbeRun};
use crate::python::InstallError;

type SharedEnv = Shared<Pin<Box<dyn Future<Output = Result<Arc<NumpyEnv>, InstallError>> + Send>>>;

/// Why a row produced no artifact.
#[derive(Debug, Clone)]
enum RowProblem {
    /// Its NumPy environment could not be made.
    Env(InstallError),
    /// The build said no (or the project's own requirements forbid it);
    /// the log goes with every cell of the row.
    Build(BuildError),
}

type SharedBuild = Shared<Pin<Box<dyn Future<Output = Result<Arc<Artifact>, RowProblem>> + Send>>>;

/// Why a cell's dependencies could not be had.
#[derive(Debug, Clone)]
enum LayerProblem {
    /// The row itself failed (its cells say why).
    Row,
    /// The package's metadata forbids the column's NumPy.
    Forbidden(String),
    Failed(BuildError),
}

/// A cell's dependencies beside its row (`None`: it needs none).
type SharedLayer =
    Shared<Pin<Box<dyn Future<Output = Result<Option<Arc<Artifact>>, LayerProblem>> + Send>>>;

/// What proving a cache entry to the last byte found this run.
#[derive(Debug, Clone)]
pub(super) enum Proof {
    Intact,
    /// It was damaged and was made again: why, for the cells that ran in
    /// it before (they run again).
    Remade(String),
}

/// Everything the graph's nodes share.
pub(super) struct Ctx {
    pub plan: Arc<Plan>,
    pub work: PathBuf,
    pub permits: Semaphore,
    /// How many fork servers may live at once (`jobs`).
    pub server_slots: Arc<Semaphore>,
    pub events: UnboundedSender<Event>,
    pub probe: ProbeFiles,
    /// Cache entries proven to the last byte (or made again) this run, for
    /// cells whose failure could come from a damaged entry; one at a time.
    pub proven: tokio::sync::Mutex<HashMap<PathBuf, Proof>>,
    /// A project's source tree, hashed once for every row's key.
    pub project_hash: std::sync::OnceLock<String>,
}

impl Ctx {
    fn send(&self, event: Event) {
        // The receiver only goes away when the process is ending anyway.
        let _ = self.events.send(event);
    }

    /// The store cached environments share files through (none with
    /// `--fresh`).
    fn store(&self) -> Option<Store> {
        self.plan.cache.as_deref().map(Store::in_root)
    }
}

/// One interpreter's part of the graph.
pub(super) struct Grid {
    pub index: usize,
    pub plan: GridPlan,
    pub work: PathBuf,
    /// Each runtime column's fork server, by NumPy version.
    columns: HashMap<Version, Column>,
    /// The C compiler as this interpreter's builds run it (asked once, by
    /// the first build that needs it), or why it could not say.
    toolchain: tokio::sync::OnceCell<Result<Arc<Toolchain>, BuildError>>,
}

/// A runtime column's fork server: started by the first of its cells that
/// runs, closed (and its memory given back) when the last is done. At most
/// `jobs` servers live at once ([`Ctx::server_slots`]): a grid of every
/// NumPy release has dozens of columns, and a server holding NumPy
/// imported costs tens of MiB.
struct Column {
    slot: tokio::sync::Mutex<Slot>,
    /// Cells of the column not done yet.
    remaining: std::sync::atomic::AtomicUsize,
}

enum Slot {
    Idle,
    Running {
        server: Arc<ForkServer>,
        /// Its place among the servers allowed at once, given back with it.
        _slot: tokio::sync::OwnedSemaphorePermit,
    },
    /// It would not start: the column's cells run in process mode.
    Failed,
    Closed,
}

impl Grid {
    pub fn new(index: usize, plan: GridPlan, work: PathBuf) -> Grid {
        let mut columns: HashMap<Version, Column> = HashMap::new();
        for &(_, ri) in &plan.cells {
            if let Some(v) = plan.runtime_axis[ri].version() {
                columns
                    .entry(v.clone())
                    .or_insert_with(|| Column {
                        slot: tokio::sync::Mutex::new(Slot::Idle),
                        remaining: Default::default(),
                    })
                    .remaining
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        Grid {
            index,
            plan,
            work,
            columns,
            toolchain: tokio::sync::OnceCell::new(),
        }
    }

    /// The fork server of `env`'s column, started if it is not (waiting for
    /// a server slot); `None` when it would not start.
    async fn server(&self, ctx: &Ctx, env: &NumpyEnv) -> Option<Arc<ForkServer>> {
        let column = self.columns.get(&env.numpy)?;
        let mut slot = column.slot.lock().await;
        match &*slot {
            Slot::Running { server, .. } => return Some(server.clone()),
            Slot::Failed => return None,
            Slot::Idle | Slot::Closed => {}
        }
        let permit = ctx.server_slots.clone().acquire_owned().await.ok()?;
        match ForkServer::start(&env.python, &ctx.probe, &probe::child_env()).await {
            Ok(server) => {
                let server = Arc::new(server);
                *slot = Slot::Running {
                    server: server.clone(),
                    _slot: permit,
                };
                Some(server)
            }
            Err(_) => {
                *slot = Slot::Failed;
                None
            }
        }
    }

    /// The compiler as this grid's builds of `sources` run it, asked once.
    async fn toolchain(
        &self,
        sources: &crate::extension::Sources,
    ) -> &Result<Arc<Toolchain>, BuildError> {
        self.toolchain
            .get_or_init(async || {
                build::sources::toolchain(sources, &self.plan.interpreter)
                    .await
                    .map(Arc::new)
            })
            .await
    }

    /// The fingerprint of the compiler this grid's C builds run, for
    /// reusing one (`None`: not C sources, or a compiler that cannot be
    /// asked, as on a shard that only tests uploaded builds).
    async fn fingerprint(&self, ctx: &Ctx) -> Option<String> {
        match &ctx.plan.extension.subject {
            Subject::Sources(sources) => self
                .toolchain(sources)
                .await
                .as_deref()
                .ok()
                .map(Toolchain::fingerprint),
            _ => None,
        }
    }

    /// The column of `version` loses its fork server (its environment was
    /// made again: the server may hold the damaged NumPy); its next cell
    /// starts one from the new environment. Cells running in the old one
    /// keep it until they end.
    async fn retire_server(&self, version: &Version) {
        let Some(column) = self.columns.get(version) else {
            return;
        };
        let mut slot = column.slot.lock().await;
        if matches!(*slot, Slot::Running { .. }) {
            *slot = Slot::Idle;
        }
    }

    /// One cell of the column of `version` is done; after the last, its
    /// server is closed and its slot freed.
    async fn cell_done(&self, version: &Version) {
        let Some(column) = self.columns.get(version) else {
            return;
        };
        if column
            .remaining
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            // Dropping the last handle kills the server's process group.
            *column.slot.lock().await = Slot::Closed;
        }
    }
}

/// The build rows of one grid and nothing else (`run --build-only`): each
/// made (or found) where the run keeps builds.
pub(super) fn builds(ctx: &Arc<Ctx>, grid: &Arc<Grid>) -> Vec<impl Future<Output = ()> + use<>> {
    grid.plan
        .build_axis
        .iter()
        .filter_map(|b| match b {
            AxisEntry::Numpy { version, .. } => Some(version.clone()),
            _ => None,
        })
        .map(|version| {
            let env = env_node(ctx.clone(), grid.clone(), version.clone())
                .boxed()
                .shared();
            build_node(ctx.clone(), grid.clone(), version, env).map(drop)
        })
        .collect()
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
    // Dependencies by row and runtime NumPy, for the subjects that have any.
    let mut layers: HashMap<(usize, Version), SharedLayer> = HashMap::new();
    let needs_layer = match &ctx.plan.extension.subject {
        Subject::Sources(_) => !ctx.plan.extension.test_requires.is_empty(),
        Subject::Project(_) | Subject::Rows(_) => true,
    };
    grid.plan
        .cells
        .iter()
        .map(|&(bi, ri)| {
            let build = builds.get(&bi).cloned();
            let version = grid.plan.runtime_axis[ri].version();
            let env = version.map(|v| envs[v].clone());
            let layer = match (needs_layer, &build, version) {
                (true, Some(row), Some(v)) => Some(
                    layers
                        .entry((bi, v.clone()))
                        .or_insert_with(|| {
                            layer_node(ctx.clone(), grid.clone(), bi, v.clone(), row.clone())
                                .boxed()
                                .shared()
                        })
                        .clone(),
                ),
                _ => None,
            };
            // The row's own build environment, for a second build when the
            // cached one proves damaged mid-run.
            let build_env = grid.plan.build_axis[bi].version().map(|v| envs[v].clone());
            let inputs = CellInputs {
                artifact: build,
                env,
                build_env,
                layer,
            };
            cell_node(ctx.clone(), grid.clone(), bi, ri, inputs)
        })
        .collect()
}

/// Where an entry is made: in the folder that keeps it (the cache, or the
/// artifacts for builds), else (`--fresh`) in the run's temporary folder.
fn place<'a>(kept: Option<&'a Path>, temporary: &'a Path) -> Place<'a> {
    match kept {
        Some(dir) => Place::Cached(dir),
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
    let wheel = grid.plan.wheel_of(&version);
    let cached = ctx.plan.cache.as_deref().map(|root| match wheel {
        Some(w) => environment::cached_wheel_dir(root, interpreter, &version, w),
        None => environment::cached_dir(root, interpreter, &version),
    });
    let result = environment::ensure(
        &ctx.plan.installer,
        interpreter,
        &version,
        wheel,
        place(cached.as_deref(), &temporary),
        ctx.store().as_ref(),
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
    let row = version.to_string();
    // A build already made (in the cache, or in the artifacts a CI build
    // job uploaded) needs no environment: a shard that tests uploaded
    // builds makes none for their NumPy unless a column runs it.
    let kept = build_key(&ctx, &grid, &version).and_then(|key| kept_build(&ctx, &key));
    let compiler = grid.fingerprint(&ctx).await;
    if let Some(artifact) = kept
        .as_deref()
        .and_then(|dir| build::reuse(dir, compiler.as_deref()))
    {
        return finish_row(&ctx, &grid, row, admit(&ctx, artifact));
    }
    let env = env.await.map_err(RowProblem::Env)?;
    let _permit = ctx.permits.acquire().await;
    let started = || {
        ctx.send(Event::BuildStarted {
            grid: grid.index,
            row: row.clone(),
        })
    };
    let result = make_build(&ctx, &grid, &version, &env, kept.as_deref(), started).await;
    finish_row(&ctx, &grid, row, result.and_then(|a| admit(&ctx, a)))
}

/// A build as this run may use it. A build made only because of
/// `--ignore-requires` shares its key with the build the requirements
/// allow (the flag changes nothing for an allowed build, so it must not
/// change the key), so a run without the flag can find it kept: it is then
/// forbidden, in the words a fresh run would use.
fn admit(ctx: &Ctx, artifact: Artifact) -> Result<Artifact, BuildError> {
    match &artifact.forced {
        Some(why) if !ctx.plan.ignore_requires => Err(BuildError::new(
            BuildFailure::Forbidden {
                reason: why.clone(),
            },
            &format!(
                "# {why}: a build made with --ignore-requires is kept in {}, and this run is without it\n",
                artifact.dir.display()
            ),
        )),
        _ => Ok(artifact),
    }
}

/// A build row's artifact, from where builds are kept (`kept`: its entry
/// there, see [`kept_build`]) or made (`started` is told when it must be).
async fn make_build(
    ctx: &Ctx,
    grid: &Grid,
    version: &Version,
    env: &NumpyEnv,
    kept: Option<&Path>,
    started: impl Fn(),
) -> Result<Artifact, BuildError> {
    let row = version.to_string();
    let interpreter = &grid.plan.interpreter;
    let temporary = grid.work.join("builds").join(&row);
    let installer = &ctx.plan.installer;
    let place = place(kept, &temporary);
    match &ctx.plan.extension.subject {
        Subject::Project(project) => {
            let build = build::project::ProjectBuild {
                installer,
                interpreter,
                project,
                numpy: version,
                ignore_requires: ctx.plan.ignore_requires,
                limit: ctx.plan.build_timeout,
            };
            build::ensure(place, None, async |dir: &Path| {
                started();
                build.build(dir).await
            })
            .await
        }
        Subject::Sources(sources) => {
            let toolchain = grid.toolchain(sources).await;
            let compiler = toolchain.as_deref().ok().map(Toolchain::fingerprint);
            build::ensure(place, compiler.as_deref(), async |dir: &Path| {
                started();
                let limit = ctx.plan.build_timeout;
                let mut built = build::sources::compile(
                    sources,
                    interpreter,
                    env,
                    toolchain.as_deref().ok(),
                    dir,
                    limit,
                )
                .await?;
                if let Err(why) = toolchain {
                    built.inputs.unkeyable =
                        Some(format!("the compiler did not say where it looks: {why}"));
                }
                Ok(built)
            })
            .await
        }
        Subject::Rows(_) => Err(BuildFailure::RowsAreNotBuilt.into()),
    }
}

/// Where the cache keeps the entry with `key` (rows and dependency layers:
/// an artifacts folder holds builds only); `None` with `--fresh`.
fn cached_entry(ctx: &Ctx, key: &str) -> Option<PathBuf> {
    entry_in(ctx.plan.cache.as_deref(), key)
}

fn entry_in(root: Option<&Path>, key: &str) -> Option<PathBuf> {
    root.map(|root| build::cached_dir(root, key))
}

/// What names a build row's artifact: everything that goes into it (the
/// sources or the project's tree, the interpreter, the NumPy), so the cache
/// and an artifacts folder made on another machine are checked alike.
fn build_key(ctx: &Ctx, grid: &Grid, numpy: &Version) -> Option<String> {
    let interpreter = &grid.plan.interpreter;
    match &ctx.plan.extension.subject {
        Subject::Project(project) => Some(crate::cache::digest([
            "project".to_string(),
            // The tree is read once a run, not once a row.
            ctx.project_hash
                .get_or_init(|| build::project::source_hash(project))
                .clone(),
            interpreter.cache_key(),
            numpy.to_string(),
        ])),
        Subject::Sources(sources) => Some(build::sources::key(sources, interpreter, numpy)),
        Subject::Rows(_) => None,
    }
}

/// Where the build with `key` is kept: the artifacts folder when the run
/// has one, else the cache (`None` with `--fresh` and no artifacts).
fn kept_build(ctx: &Ctx, key: &str) -> Option<PathBuf> {
    entry_in(
        ctx.plan.artifacts.as_deref().or(ctx.plan.cache.as_deref()),
        key,
    )
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
                declares: a
                    .package
                    .as_deref()
                    .and_then(|p| build::declared_numpy(&a.dir, p, &grid.plan.interpreter.version)),
                forced: a.forced.clone(),
                uncached: a.inputs.unkeyable.clone(),
            })
            .map_err(Clone::clone),
    }));
    result.map(Arc::new).map_err(RowProblem::Build)
}

/// A row of published code: the wheel or requirement itself (its
/// dependencies come per column), once per interpreter.
async fn row_node(
    ctx: Arc<Ctx>,
    grid: Arc<Grid>,
    row: PackageRow,
) -> Result<Arc<Artifact>, RowProblem> {
    let _permit = ctx.permits.acquire().await;
    let started = || {
        ctx.send(Event::BuildStarted {
            grid: grid.index,
            row: row.to_string(),
        })
    };
    let result = make_package_row(&ctx, &grid, &row, started).await;
    finish_row(&ctx, &grid, row.to_string(), result)
}

async fn make_package_row(
    ctx: &Ctx,
    grid: &Grid,
    row: &PackageRow,
    started: impl Fn(),
) -> Result<Artifact, BuildError> {
    let identity = match &row.source {
        // A wheel file is keyed by its contents, not its name.
        // Hashed as it is read, never held whole.
        RowSource::Wheel(path) => crate::cache::manifest::hash_file(path).unwrap_or_default(),
        RowSource::Requirement(_) => build::rows::install_arg(row, &[]),
    };
    let interpreter = &grid.plan.interpreter;
    let key = crate::cache::digest(["row".to_string(), identity.clone(), interpreter.cache_key()]);
    let temporary = grid
        .work
        .join("rows")
        .join(crate::cache::digest([identity.as_str()]));
    let cached = cached_entry(ctx, &key);
    build::ensure(
        place(cached.as_deref(), &temporary),
        None,
        async |dir: &Path| {
            started();
            build::rows::install(&ctx.plan.installer, interpreter, row, dir).await
        },
    )
    .await
}

/// A cell's dependencies: the row's own (with extras) and the test
/// requirements, resolved with the column's NumPy pinned, installed beside
/// the row; shared by the columns whose resolution is the same.
async fn layer_node(
    ctx: Arc<Ctx>,
    grid: Arc<Grid>,
    build: usize,
    numpy: Version,
    row: SharedBuild,
) -> Result<Option<Arc<Artifact>>, LayerProblem> {
    let artifact = row.await.map_err(|_| LayerProblem::Row)?;
    let extension = &ctx.plan.extension;
    let mut inputs = Vec::new();
    match &grid.plan.build_axis[build] {
        AxisEntry::Row(row) => inputs.push(build::rows::install_arg(row, &extension.extras)),
        AxisEntry::Numpy { .. } => {
            if let Some(wheel) = &artifact.wheel {
                let extras = if extension.extras.is_empty() {
                    String::new()
                } else {
                    format!("[{}]", extension.extras.join(","))
                };
                inputs.push(format!("{}{extras}", wheel.display()));
            }
        }
        AxisEntry::Missing { .. } => {}
    }
    inputs.extend(extension.test_requires.iter().cloned());
    if inputs.is_empty() {
        return Ok(None);
    }
    let _permit = ctx.permits.acquire().await;
    let interpreter = &grid.plan.interpreter;
    let request = build::deps::Request {
        installer: &ctx.plan.installer,
        interpreter,
        inputs,
        package: artifact.package.clone(),
        numpy: &numpy,
        ignore_requires: ctx.plan.ignore_requires,
    };
    let pins = match remembered_resolution(&ctx, &request)
        .await
        .map_err(LayerProblem::Failed)?
    {
        build::deps::Resolution::Forbidden(why) => {
            let row = grid.plan.build_axis[build].label();
            return Err(LayerProblem::Forbidden(format!(
                "{row}'s metadata forbids numpy {numpy}: {why} (--ignore-requires runs it anyway)"
            )));
        }
        build::deps::Resolution::Pins(pins) if pins.is_empty() => return Ok(None),
        build::deps::Resolution::Pins(pins) => pins,
    };
    let mut parts = vec!["deps".to_string(), interpreter.cache_key()];
    parts.extend(pins.iter().cloned());
    let key = crate::cache::digest(parts);
    let cached = cached_entry(&ctx, &key);
    let temporary = grid.work.join("deps").join(&key);
    build::ensure(
        place(cached.as_deref(), &temporary),
        None,
        async |dir: &Path| build::deps::install(&ctx.plan.installer, interpreter, &pins, dir).await,
    )
    .await
    .map(|a| Some(Arc::new(a)))
    .map_err(LayerProblem::Failed)
}

/// What a cell awaits: its row, its runtime environment, the row's build
/// environment (NumPy rows) and its dependency layer.
struct CellInputs {
    artifact: Option<SharedBuild>,
    env: Option<SharedEnv>,
    build_env: Option<SharedEnv>,
    layer: Option<SharedLayer>,
}

async fn cell_node(
    ctx: Arc<Ctx>,
    grid: Arc<Grid>,
    build: usize,
    runtime: usize,
    inputs: CellInputs,
) {
    let CellInputs {
        artifact,
        env,
        build_env,
        layer,
    } = inputs;
    let mut result = CellResult {
        grid: grid.index,
        build,
        runtime,
        outcome: Outcome::Pass,
        duration: Duration::ZERO,
        stdout: String::new(),
        stderr: String::new(),
        command: None,
        rerun: None,
        hint: None,
    };
    let (b, r) = (
        &grid.plan.build_axis[build],
        &grid.plan.runtime_axis[runtime],
    );
    let unavailable = |kind, axis: &str, entry: &AxisEntry, why: &dyn std::fmt::Display| {
        Outcome::missing(kind, format!("{axis} numpy {}: {why}", entry.label()))
    };
    let missing = |axis: &str, e: &AxisEntry| {
        let why = e.unavailable().unwrap_or("not resolved");
        let kind = e.gap().unwrap_or(Unavailability::NoWheel);
        unavailable(kind, axis, e, &why)
    };
    // The row's artifact, for the hints that read what it left behind.
    let mut row = None;
    result.outcome = match (artifact, env) {
        (None, _) => missing("build", b),
        (_, None) => missing("runtime", r),
        (Some(artifact), Some(env)) => match artifact.await {
            Err(RowProblem::Env(why)) => unavailable(
                Unavailability::Environment,
                "build",
                b,
                &env_problem(&why, &grid),
            ),
            Err(RowProblem::Build(e)) if e.is_forbidden() => {
                let why = format!("{} (--ignore-requires builds it anyway)", e.summary());
                result.stderr = e.log;
                Outcome::missing(Unavailability::BuildRequirements, why)
            }
            Err(RowProblem::Build(e)) => {
                let message = e.summary();
                result.stderr = e.log;
                Outcome::BuildFailed { message }
            }
            Ok(artifact) => match env.await {
                Err(why) => unavailable(
                    Unavailability::Environment,
                    "runtime",
                    r,
                    &env_problem(&why, &grid),
                ),
                Ok(env) => {
                    let layer = match layer {
                        Some(layer) => layer.await,
                        None => Ok(None),
                    };
                    match layer {
                        Err(LayerProblem::Forbidden(why)) => {
                            Outcome::missing(Unavailability::Metadata, why)
                        }
                        Err(LayerProblem::Failed(e)) => {
                            let why = format!("the cell's dependencies: {}", e.summary());
                            result.stderr = e.log;
                            Outcome::missing(Unavailability::Dependencies, why)
                        }
                        Err(LayerProblem::Row) => Outcome::unavailable("the row was not made"),
                        Ok(layer) => {
                            row = Some(artifact.clone());
                            let layer = layer.map(|l| l.dir.clone());
                            let run = run_cell(
                                &ctx, &grid, build, runtime, &artifact, &env, build_env, layer,
                            )
                            .await;
                            result.stdout = run.stdout;
                            result.stderr = run.stderr;
                            result.duration = run.duration;
                            result.command = Some(run.command);
                            result.rerun = run.rerun;
                            run.outcome
                        }
                    }
                }
            },
        },
    };
    result.hint = hint(&ctx, &result.outcome, row.as_deref(), &result.stderr).await;
    if let Some(v) = r.version() {
        grid.cell_done(v).await;
    }
    ctx.send(Event::CellFinished(Box::new(result)));
}

/// Advice for the first mistake a cell's outcome points to: read from the
/// compiler and the machine's libraries, so off the runtime. `row` is the
/// row's artifact when it was made; `log` the failed build's log when not.
async fn hint(
    ctx: &Arc<Ctx>,
    outcome: &Outcome,
    row: Option<&Artifact>,
    log: &str,
) -> Option<String> {
    let sources = matches!(ctx.plan.extension.subject, Subject::Sources(_));
    let evidence = match outcome {
        Outcome::BuildFailed { .. } => crate::hints::Evidence {
            build_dir: None,
            build_log: log.to_string(),
        },
        // A crash's advice reads the row; a missing symbol's, the machine.
        Outcome::Crash { .. } if sources => crate::hints::Evidence {
            build_dir: row.map(|r| r.dir.clone()),
            build_log: row.map(|r| r.log.clone()).unwrap_or_default(),
        },
        Outcome::Fail(f) if sources && f.reason == FailureReason::MissingSymbol => {
            crate::hints::Evidence::default()
        }
        _ => return None,
    };
    let (ctx, outcome) = (ctx.clone(), outcome.clone());
    tokio::task::spawn_blocking(move || {
        crate::hints::for_cell(&ctx.plan.extension, &outcome, &evidence)
    })
    .await
    .ok()
    .flatten()
}

/// The cell's probe, with the row's artifact and the cell's layer on its
/// path. A failure that could come from a damaged cache entry gets a
/// second opinion ([`second_opinion`]); when an entry was damaged and made
/// again, the cell runs once more, in a process of its own, and says so.
#[allow(clippy::too_many_arguments)]
async fn run_cell(
    ctx: &Ctx,
    grid: &Grid,
    build: usize,
    runtime: usize,
    artifact: &Artifact,
    env: &NumpyEnv,
    build_env: Option<SharedEnv>,
    layer: Option<PathBuf>,
) -> ProbeRun {
    let dirs = |a: &Artifact| {
        [Some(a.dir.clone()), layer.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
    };
    let run = probe_cell(ctx, grid, build, runtime, &dirs(artifact), env, false).await;
    if matches!(run.outcome, Outcome::Pass | Outcome::Unavailable { .. }) {
        return run;
    }
    // Whatever the failure says, an environment whose files changed under
    // the cell (a probe running as root wrote into NumPy) is to blame
    // before the extension is: the cheap check, a stat per file.
    let changed = changed(ctx, env).await;
    if !suspicious(&run) && changed.is_none() {
        return run;
    }
    let build_env = match build_env {
        Some(e) => e.await.ok(),
        None => None,
    };
    let opinion = second_opinion(
        ctx,
        grid,
        build,
        env,
        changed,
        build_env.as_deref(),
        artifact,
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
    let mut again = probe_cell(ctx, grid, build, runtime, &dirs(&artifact), &env, true).await;
    again.stderr = format!(
        "[abimatrix: {note}; this is the cell's second run]\n{}",
        again.stderr
    );
    again
}

/// A layer's resolution, remembered for a day (a warm run runs no `uv pip
/// compile`); with `--offline`, only what is remembered.
async fn remembered_resolution(
    ctx: &Ctx,
    request: &build::deps::Request<'_>,
) -> Result<build::deps::Resolution, BuildError> {
    use crate::cache::memo::{Lasts, Network};
    let key = format!(
        "deps|{}|{}|{}|{}|{}",
        ctx.plan.installer.indexes.identity(),
        request.interpreter.cache_key(),
        request.inputs.join(";"),
        request.numpy,
        request.ignore_requires
    );
    if let Some(answer) = ctx.plan.memo.get(&key) {
        return Ok(answer);
    }
    if ctx.plan.memo.network() == Network::Offline {
        return Err(BuildFailure::OfflineDependencies {
            inputs: request.inputs.clone(),
            numpy: request.numpy.to_string(),
        }
        .into());
    }
    let answer = request.resolve().await?;
    ctx.plan.memo.put(&key, &answer, Lasts::Day);
    Ok(answer)
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

/// Why the cached environment `env` no longer holds what it was made with
/// (the quick check: a stat per file, a hash of what changed); `None` when
/// it does, or is not a cached one.
async fn changed(ctx: &Ctx, env: &NumpyEnv) -> Option<String> {
    ctx.plan.cache.as_ref()?;
    let (dir, numpy) = (env.dir.clone(), env.numpy.clone());
    tokio::task::spawn_blocking(move || {
        environment::valid(&dir, &numpy, Depth::Quick)
            .err()
            .map(|e| e.to_string())
    })
    .await
    .ok()
    .flatten()
}

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

/// Proves the cell's environment and row to the last byte; when either is
/// damaged (or already was, and was made again this run), makes it again
/// and says so, for the cell to run once more (in a process of its own: a
/// fork server may hold the damaged NumPy; the column's server is retired
/// so later cells get one from the new environment). `changed`: the quick
/// check found the environment changed since it was last proven.
async fn second_opinion(
    ctx: &Ctx,
    grid: &Grid,
    build: usize,
    env: &NumpyEnv,
    changed: Option<String>,
    build_env: Option<&NumpyEnv>,
    artifact: &Artifact,
) -> Opinion {
    if ctx.plan.cache.is_none() {
        return Opinion::Believed;
    }
    let mut proven = ctx.proven.lock().await;
    let mut notes = Vec::new();
    let mut env = env.clone();
    // Proven once a run, unless it changed since.
    let known = proven.get(&env.dir).filter(|_| changed.is_none()).cloned();
    match known {
        Some(Proof::Intact) => {}
        Some(Proof::Remade(note)) => notes.push(note),
        None => {
            let (dir, numpy) = (env.dir.clone(), env.numpy.clone());
            let deep = tokio::task::spawn_blocking(move || {
                environment::valid(&dir, &numpy, Depth::Deep)
                    .err()
                    .map(|e| e.to_string())
            })
            .await
            .ok()
            .flatten();
            match deep.or(changed) {
                None => {
                    proven.insert(env.dir.clone(), Proof::Intact);
                }
                Some(why) => {
                    let _ = std::fs::remove_dir_all(&env.dir);
                    let remade = environment::ensure(
                        &ctx.plan.installer,
                        &grid.plan.interpreter,
                        &env.numpy,
                        grid.plan.wheel_of(&env.numpy),
                        Place::Cached(&env.dir),
                        ctx.store().as_ref(),
                        || {},
                    )
                    .await;
                    env = match remade {
                        Ok(e) => e,
                        Err(e) => {
                            return Opinion::Unavailable(format!(
                                "the cached environment {} changed during the run ({why}) and could not be made again: {e}",
                                env.dir.display()
                            ));
                        }
                    };
                    grid.retire_server(&env.numpy).await;
                    let note = format!(
                        "the cached environment {} was damaged ({why}) and was made again",
                        env.dir.display()
                    );
                    proven.insert(env.dir.clone(), Proof::Remade(note.clone()));
                    notes.push(note);
                }
            }
        }
    }
    let mut artifact = artifact.clone();
    // A build this run made and did not cache is proven by having just
    // been made.
    if artifact.staging.is_none() && !proven.contains_key(&artifact.dir) {
        proven.insert(artifact.dir.clone(), Proof::Intact);
        let dir = artifact.dir.clone();
        let deep = tokio::task::spawn_blocking(move || build::verify_deep(&dir))
            .await
            .unwrap_or(Ok(()));
        if let Err(why) = deep {
            let _ = std::fs::remove_dir_all(&artifact.dir);
            let made = match &grid.plan.build_axis[build] {
                // Against the row's NumPy, never the column's: this build is
                // kept under the row's key.
                AxisEntry::Numpy { version, .. } => match build_env {
                    Some(build_env) => {
                        let kept = build_key(ctx, grid, version).and_then(|k| kept_build(ctx, &k));
                        make_build(ctx, grid, version, build_env, kept.as_deref(), || {})
                            .await
                            .ok()
                    }
                    None => None,
                },
                AxisEntry::Row(row) => make_package_row(ctx, grid, row, || {}).await.ok(),
                AxisEntry::Missing { .. } => None,
            };
            let Some(made) = made else {
                return Opinion::Believed;
            };
            artifact = made;
            notes.push(format!(
                "the cached build {} was damaged ({why}) and was made again",
                artifact.dir.display()
            ));
        }
    }
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

async fn probe_cell(
    ctx: &Ctx,
    grid: &Grid,
    build: usize,
    runtime: usize,
    artifacts: &[PathBuf],
    env: &NumpyEnv,
    own_process: bool,
) -> ProbeRun {
    // The column's server before a job slot: a cell waiting for a server
    // slot must not hold a job slot a build it waits on needs.
    let server = match (ctx.plan.isolation, own_process, &ctx.plan.extension.test) {
        (Isolation::Fork, false, None) => grid.server(ctx, env).await,
        _ => None,
    };
    let _permit = ctx.permits.acquire().await;
    let dir = grid.work.join("cells").join(format!(
        "{}__{}",
        grid.plan.build_axis[build].label(),
        grid.plan.runtime_axis[runtime].label()
    ));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return ProbeRun {
            outcome: Outcome::unavailable(format!("cannot create {}: {e}", dir.display())),
            stdout: String::new(),
            stderr: String::new(),
            duration: Duration::ZERO,
            command: String::new(),
            rerun: None,
        };
    }
    let extension = &ctx.plan.extension;
    let timeout = ctx.plan.header.timeout;
    if let Some(test) = &extension.test {
        return probe::command::run(test, artifacts, env, &ctx.plan.config_dir, &dir, timeout)
            .await;
    }
    let module = &extension.imports.join(",");
    if let Some(server) = server {
        return probe::run_forked(&server, &ctx.probe, module, artifacts, env, &dir, timeout).await;
    }
    probe::run(&ctx.probe, module, artifacts, env, &dir, timeout).await
}
