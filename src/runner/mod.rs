//! Scheduling a run: find the interpreters, resolve versions, then make
//! environments, build and probe as one dependency graph rather than phases,
//! so a runtime environment is made while a build compiles and a cell runs as
//! soon as its two inputs exist. All interpreters' grids share one graph and
//! one limit on concurrent work.
//!
//! The runner never prints. It sends [`Event`]s; the caller decides what to
//! show and what to keep (`runner::run(.., events)` feeding a reporter, as in
//! nextest). Nothing here is spawned onto the runtime: every piece of work is
//! a future owned by `run`, so dropping `run` (Ctrl-C) drops them all, and
//! each child's process-group guard kills what it started.

mod events;
mod select;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{Shared, join_all};
use pep440_rs::Version;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{OnceCell, Semaphore};

pub use events::{AxisEntry, BuildRecord, CellResult, Event, GridHeader, RunHeader};
pub use select::{SelectError, select_interpreters};

use crate::build::{self, Artifact, BuildPlace};
use crate::config::Config;
use crate::environment::{self, EnvPlace, NumpyEnv};
use crate::extension::{ExtensionKind, RowSource};
use crate::outcome::Outcome;
use crate::probe::{self, ForkServer, Isolation, ProbeFiles};
use crate::python::{InstallError, Installer, InstallerChoice, Interpreter};
use crate::resolve::Resolver;

/// Knobs that come from the command line rather than `matrix.toml`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Overrides `run.jobs`.
    pub jobs: Option<usize>,
    pub keep_envs: bool,
    pub installer: InstallerChoice,
    /// `None`: everything in temporary directories (`--fresh`).
    pub cache: Option<PathBuf>,
    /// Overrides `run.isolation`.
    pub isolation: Option<Isolation>,
    /// Run only shard K of N: runtime columns (over all grids, in order) are
    /// dealt round-robin, so each runtime environment lives on one shard and
    /// shards differ by at most one column.
    pub shard: Option<(usize, usize)>,
    /// Run only these (interpreter label, build, runtime) cells.
    pub only: Option<HashSet<(String, String, String)>>,
    /// Run wheel rows under NumPy versions their metadata forbids.
    pub ignore_requires: bool,
    /// Cells already done (from a journal, `--resume`): not run again.
    pub skip: HashSet<(String, String, String)>,
}

impl RunOptions {
    /// Whether the cell is part of this run.
    fn includes(&self, column: usize, interpreter: &str, build: &str, runtime: &str) -> bool {
        let in_shard = self.shard.is_none_or(|(k, n)| column % n == k - 1);
        let key = (
            interpreter.to_string(),
            build.to_string(),
            runtime.to_string(),
        );
        let in_only = self.only.as_ref().is_none_or(|only| only.contains(&key));
        in_shard && in_only && !self.skip.contains(&key)
    }
}

/// Failures that stop the whole run: the machine, not a cell, is at fault.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Interpreter(#[from] SelectError),
    /// Something named in matrix.toml does not exist (an interpreter, a
    /// NumPy version): a config error, located.
    #[error("{0}")]
    Config(crate::config::ConfigError, &'static str),
    #[error("cannot reach the package index: {0}")]
    Index(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl RunError {
    pub fn hint(&self) -> Option<String> {
        match self {
            RunError::Interpreter(e) => Some(e.hint()),
            RunError::Index(_) => Some(
                "check the network, or point uv/pip at a reachable index (UV_INDEX_URL, PIP_INDEX_URL)".into(),
            ),
            RunError::Io { context, .. } if context.contains("cache") => {
                Some("name a writable directory with --cache-dir, or run without the cache with --fresh".into())
            }
            RunError::Io { .. } => None,
            RunError::Config(_, hint) => Some((*hint).to_string()),
        }
    }
}

type SharedEnv = Shared<Pin<Box<dyn Future<Output = Result<Arc<NumpyEnv>, String>> + Send>>>;

/// Why a build row produced no artifact.
#[derive(Debug, Clone)]
enum RowProblem {
    /// Its NumPy environment could not be made.
    Env(String),
    /// The compiler said no; the log goes with every cell of the row.
    Compile { summary: String, log: String },
}

type SharedBuild = Shared<Pin<Box<dyn Future<Output = Result<Arc<Artifact>, RowProblem>> + Send>>>;

/// Everything the graph's nodes share.
struct Ctx {
    installer: Installer,
    ignore_requires: bool,
    cache: Option<PathBuf>,
    isolation: Isolation,
    config: Config,
    work: PathBuf,
    permits: Semaphore,
    events: UnboundedSender<Event>,
    probe: ProbeFiles,
}

impl Ctx {
    fn send(&self, event: Event) {
        // The receiver only goes away when the process is ending anyway.
        let _ = self.events.send(event);
    }
}

/// One interpreter's part of the graph.
struct Grid {
    index: usize,
    interpreter: Interpreter,
    python_version: Version,
    work: PathBuf,
    /// Fork servers by runtime version, started by the first cell that needs
    /// one; `Err` (it would not start) sends that version's cells to process
    /// mode.
    servers: HashMap<Version, OnceCell<Result<Arc<ForkServer>, String>>>,
}

/// Runs the whole matrix of `config`, reporting through `events`.
pub async fn run(
    config: &Config,
    options: &RunOptions,
    events: UnboundedSender<Event>,
) -> Result<(), RunError> {
    let started = Instant::now();
    let mut notes = Vec::new();
    let chosen = select_interpreters(&config.python)
        .await
        .map_err(
            |(index, e)| match config.python_spans.get(index).cloned().flatten() {
                Some(span) => RunError::Config(
                    config.error_at(span, format!("{e}")),
                    "`matrix pythons` lists every interpreter found and why others were rejected",
                ),
                None => RunError::Interpreter(e),
            },
        )?;
    for found in &chosen {
        if !found.interpreter.python_h {
            notes.push(format!(
                "{} has no Python.h under {}: builds will fail (install the Python development headers)",
                found.interpreter.label(),
                found.interpreter.include.display()
            ));
        }
    }
    if let Some(root) = &options.cache {
        // Checked up front: an unwritable or full cache is one clear error,
        // not a grid of "unavailable" cells.
        std::fs::create_dir_all(root)
            .and_then(|()| tempfile::NamedTempFile::new_in(root).map(drop))
            .map_err(|source| RunError::Io {
                context: format!("cannot write the cache at {}", root.display()),
                source,
            })?;
    }
    let installer =
        Installer::discover(options.installer, &chosen[0].interpreter, &mut notes).await;

    let work = tempfile::Builder::new()
        .prefix("abimatrix-")
        .tempdir()
        .map_err(|source| RunError::Io {
            context: "cannot create a temporary directory".into(),
            source,
        })?;
    let probe_dir = ProbeFiles::dir(
        options.cache.as_deref(),
        work.path(),
        &config.extension.probe,
    );
    let probe =
        ProbeFiles::write(&probe_dir, &config.extension.probe).map_err(|source| RunError::Io {
            context: format!("cannot write the probe into {}", work.path().display()),
            source,
        })?;

    // Resolve every interpreter's axes before any work: the table is shown
    // first, and an unreachable index stops the run before it starts.
    let resolver = Resolver::new(&installer);
    let axes = join_all(chosen.iter().map(|f| async {
        let build = match &config.extension.kind {
            // Published code: each wheel or requirement is a row.
            ExtensionKind::Rows(rows) => crate::resolve::ResolvedAxis {
                entries: rows
                    .iter()
                    .map(|r| AxisEntry {
                        request: r.to_string(),
                        version: None,
                        unavailable: None,
                        nominal: Version::new([0]),
                        row: Some(r.clone()),
                    })
                    .collect(),
                skipped: Vec::new(),
            },
            _ => resolver.axis(&f.interpreter, &config.build).await?,
        };
        let runtime = resolver.axis(&f.interpreter, &config.runtime).await?;
        Ok::<_, InstallError>((build, runtime))
    }))
    .await;
    let mut headers = Vec::new();
    for (found, axes) in chosen.iter().zip(axes) {
        let (build, runtime) = axes.map_err(|e| match e {
            InstallError::Index { detail } => RunError::Index(detail),
            other => RunError::Index(other.to_string()),
        })?;
        let mut skipped = build.skipped;
        for s in runtime.skipped {
            if !skipped.contains(&s) {
                skipped.push(s);
            }
        }
        headers.push(GridHeader {
            interpreter: found.interpreter.clone(),
            source: found.source.to_string(),
            build_axis: build.entries,
            runtime_axis: runtime.entries,
            skipped,
        });
    }
    check_requests_exist(config, &resolver, &chosen[0].interpreter, &headers).await?;
    drop(resolver);

    let jobs = options
        .jobs
        .or(config.jobs)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    // Which cells this run owns (all, a shard, or the ones to re-run).
    let mut selected: Vec<Vec<(usize, usize)>> = Vec::new();
    let mut column = 0;
    for h in &headers {
        let label = h.interpreter.label();
        let mut cells = Vec::new();
        for (ri, r) in h.runtime_axis.iter().enumerate() {
            for (bi, b) in h.build_axis.iter().enumerate() {
                if options.includes(column, &label, &b.label(), &r.label()) {
                    cells.push((bi, ri));
                }
            }
            column += 1;
        }
        selected.push(cells);
    }
    let header = RunHeader {
        grids: headers.clone(),
        matrix_id: config.matrix_id(),
        shard: options.shard,
        planned: selected.iter().map(Vec::len).sum(),
        installer: installer.describe(),
        extension: config.extension.label(),
        jobs,
        notes,
        work_dir: options.keep_envs.then(|| work.path().to_path_buf()),
        timeout: config.timeout,
    };
    let _ = events.send(Event::Started(Box::new(header)));

    let ctx = Arc::new(Ctx {
        installer,
        ignore_requires: options.ignore_requires,
        cache: options.cache.clone(),
        isolation: options.isolation.unwrap_or(config.isolation),
        config: config.clone(),
        work: work.path().to_path_buf(),
        permits: Semaphore::new(jobs),
        events,
        probe,
    });

    let mut cells = Vec::new();
    for (index, header) in headers.iter().enumerate() {
        let grid = Arc::new(Grid {
            index,
            interpreter: header.interpreter.clone(),
            python_version: Version::from_str(&header.interpreter.version)
                .unwrap_or_else(|_| Version::new([0])),
            work: ctx
                .work
                .join(format!("py{index}-{}", header.interpreter.version)),
            servers: header
                .versions()
                .into_iter()
                .map(|v| (v, OnceCell::new()))
                .collect(),
        });
        cells.extend(grid_cells(&ctx, &grid, header, &selected[index]));
    }
    join_all(cells).await;
    ctx.send(Event::Finished {
        duration: started.elapsed(),
    });

    if options.keep_envs {
        // Kept on purpose: the user asked to inspect the environments.
        let _ = work.keep();
    }
    Ok(())
}

/// A NumPy request that resolved to nothing because no such release exists
/// at all (not merely no wheel for this interpreter) is a mistake in the
/// file: say where.
async fn check_requests_exist(
    config: &Config,
    resolver: &Resolver<'_>,
    interpreter: &Interpreter,
    headers: &[GridHeader],
) -> Result<(), RunError> {
    for h in headers {
        for (axis, entries) in [("build", &h.build_axis), ("runtime", &h.runtime_axis)] {
            for e in entries
                .iter()
                .filter(|e| e.version.is_none() && e.row.is_none())
            {
                let Some(request) = config
                    .build
                    .iter()
                    .chain(&config.runtime)
                    .find(|r| r.to_string() == e.request)
                else {
                    continue;
                };
                match resolver.exists_on_index(interpreter, request).await {
                    Ok(false) => {
                        let span = config.numpy_span(axis, &e.request).unwrap_or(0..0);
                        return Err(RunError::Config(
                            config.error_at(
                                span,
                                format!(
                                    "no NumPy release on the package index matches \"{}\": expected an existing version",
                                    e.request
                                ),
                            ),
                            "`pip index versions numpy` lists the releases",
                        ));
                    }
                    Ok(true) => {}
                    Err(InstallError::Index { detail }) => return Err(RunError::Index(detail)),
                    Err(_) => {}
                }
            }
        }
    }
    Ok(())
}

/// The graph of one grid: one environment per distinct version, one build
/// per build version, one probe per selected (build, runtime) cell. The
/// environment and build nodes are lazy: only what a selected cell awaits is
/// ever made.
fn grid_cells(
    ctx: &Arc<Ctx>,
    grid: &Arc<Grid>,
    header: &GridHeader,
    selected: &[(usize, usize)],
) -> Vec<impl Future<Output = ()> + use<>> {
    let mut envs: HashMap<Version, SharedEnv> = HashMap::new();
    for v in header.versions() {
        envs.insert(
            v.clone(),
            env_node(ctx.clone(), grid.clone(), v).boxed().shared(),
        );
    }
    // Rows, by label: a build against a NumPy, or a published package.
    let mut builds: HashMap<String, SharedBuild> = HashMap::new();
    for b in &header.build_axis {
        let node = match (&b.version, &b.row) {
            (Some(v), _) => build_node(ctx.clone(), grid.clone(), v.clone(), envs[v].clone())
                .boxed()
                .shared(),
            (None, Some(row)) => row_node(ctx.clone(), grid.clone(), row.clone())
                .boxed()
                .shared(),
            (None, None) => continue,
        };
        builds.insert(b.label(), node);
    }
    let mut cells = Vec::new();
    for (bi, b) in header.build_axis.iter().enumerate() {
        for (ri, r) in header.runtime_axis.iter().enumerate() {
            if !selected.contains(&(bi, ri)) {
                continue;
            }
            let build = builds.get(&b.label()).cloned();
            let env = r.version.as_ref().map(|v| envs[v].clone());
            cells.push(cell_node(
                ctx.clone(),
                grid.clone(),
                b.clone(),
                r.clone(),
                build,
                env,
            ));
        }
    }
    cells
}

fn unavailable_message(e: &InstallError, interpreter: &Interpreter) -> String {
    match e {
        InstallError::NoWheel { requirement, .. } => {
            format!("no wheel of {requirement} for {}", interpreter.label())
        }
        other => other.to_string(),
    }
}

async fn env_node(
    ctx: Arc<Ctx>,
    grid: Arc<Grid>,
    version: Version,
) -> Result<Arc<NumpyEnv>, String> {
    let _permit = ctx.permits.acquire().await.map_err(|e| e.to_string())?;
    ctx.send(Event::EnvStarted {
        grid: grid.index,
        version: version.clone(),
    });
    let dir = grid.work.join("envs").join(version.to_string());
    let place = match &ctx.cache {
        Some(root) => EnvPlace::Cached { root },
        None => EnvPlace::Temporary { dir: &dir },
    };
    let result = environment::ensure(&ctx.installer, &grid.interpreter, &version, place)
        .await
        .map(Arc::new)
        .map_err(|e| unavailable_message(&e, &grid.interpreter));
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
    let _permit = ctx
        .permits
        .acquire()
        .await
        .map_err(|e| RowProblem::Env(e.to_string()))?;
    ctx.send(Event::BuildStarted {
        grid: grid.index,
        version: version.to_string(),
    });
    let out = grid.work.join("builds").join(version.to_string());
    let place = match &ctx.cache {
        Some(root) => BuildPlace::Cached { root },
        None => BuildPlace::Temporary { dir: &out },
    };
    let extension = &ctx.config.extension;
    let interpreter = &grid.interpreter;
    let result = match &extension.kind {
        ExtensionKind::Project(project) => {
            let key = crate::cache::digest([
                "project".to_string(),
                crate::package::source_hash(project),
                crate::cache::interpreter_key(interpreter),
                version.to_string(),
            ]);
            build::ensure(place, key, async |dir| {
                crate::package::build_project(&ctx.installer, interpreter, project, &version, dir)
                    .await
            })
            .await
        }
        _ => {
            build::ensure(
                place,
                build::key(extension, interpreter, &env),
                async |dir| build::compile(extension, interpreter, &env, &dir).await,
            )
            .await
        }
    };
    ctx.send(Event::BuildFinished(build_record(
        grid.index,
        version.to_string(),
        &result,
    )));
    result.map(Arc::new).map_err(|e| RowProblem::Compile {
        summary: e.summary,
        log: e.log,
    })
}

/// What the reporter is told of a finished row.
fn build_record(
    grid: usize,
    label: String,
    result: &Result<Artifact, build::BuildError>,
) -> BuildRecord {
    match result {
        Ok(a) => BuildRecord {
            grid,
            version: label,
            ok: true,
            reused: a.reused,
            summary: String::new(),
            log: a.log.clone(),
            duration: a.duration,
        },
        Err(e) => BuildRecord {
            grid,
            version: label,
            ok: false,
            reused: false,
            summary: e.summary.clone(),
            log: e.log.clone(),
            duration: Duration::ZERO,
        },
    }
}

/// A row of published code: the wheel or requirement and its dependencies
/// (not NumPy) installed into an artifact directory, once per interpreter.
async fn row_node(
    ctx: Arc<Ctx>,
    grid: Arc<Grid>,
    row: RowSource,
) -> Result<Arc<Artifact>, RowProblem> {
    let _permit = ctx
        .permits
        .acquire()
        .await
        .map_err(|e| RowProblem::Env(e.to_string()))?;
    let arg = row.install_arg();
    let identity = match &row {
        // A wheel file is keyed by its contents, not its name.
        RowSource::Wheel(path) => crate::cache::digest([std::fs::read(path).unwrap_or_default()]),
        RowSource::Requirement(r) => r.clone(),
    };
    let key = crate::cache::digest([
        "row".to_string(),
        identity,
        crate::cache::interpreter_key(&grid.interpreter),
    ]);
    let out = grid
        .work
        .join("rows")
        .join(crate::cache::digest([arg.as_str()]));
    let place = match &ctx.cache {
        Some(root) => BuildPlace::Cached { root },
        None => BuildPlace::Temporary { dir: &out },
    };
    ctx.send(Event::BuildStarted {
        grid: grid.index,
        version: row.to_string(),
    });
    let result = build::ensure(place, key, async |dir| {
        crate::package::install_row(&ctx.installer, &grid.interpreter, &arg, dir).await
    })
    .await;
    ctx.send(Event::BuildFinished(build_record(
        grid.index,
        row.to_string(),
        &result,
    )));
    result.map(Arc::new).map_err(|e| RowProblem::Compile {
        summary: e.summary,
        log: e.log,
    })
}

async fn cell_node(
    ctx: Arc<Ctx>,
    grid: Arc<Grid>,
    build: AxisEntry,
    runtime: AxisEntry,
    artifact: Option<SharedBuild>,
    env: Option<SharedEnv>,
) {
    let expected = ctx.config.expected(
        &grid.python_version,
        build.expectation_version(),
        runtime.expectation_version().unwrap_or(&runtime.nominal),
    );
    let mut result = CellResult {
        grid: grid.index,
        interpreter: grid.interpreter.label(),
        build: build.label(),
        runtime: runtime.label(),
        build_version: build.version.clone(),
        runtime_version: runtime.version.clone(),
        outcome: Outcome::Pass,
        expected,
        duration: Duration::ZERO,
        stdout: String::new(),
        stderr: String::new(),
        command: None,
    };
    let unavailable = |axis: &str, entry: &AxisEntry, why: &str| Outcome::Unavailable {
        message: format!("{axis} numpy {}: {why}", entry.label()),
    };
    result.outcome = match (artifact, env) {
        (None, _) => unavailable(
            "build",
            &build,
            build.unavailable.as_deref().unwrap_or("not resolved"),
        ),
        (_, None) => unavailable(
            "runtime",
            &runtime,
            runtime.unavailable.as_deref().unwrap_or("not resolved"),
        ),
        (Some(artifact), Some(env)) => match artifact.await {
            Err(RowProblem::Env(why)) => unavailable("build", &build, &why),
            Err(RowProblem::Compile { summary, log }) => {
                result.stderr = log;
                Outcome::BuildFailed { message: summary }
            }
            Ok(artifact) => match env.await {
                Err(why) => unavailable("runtime", &runtime, &why),
                Ok(env) => match allowed(&ctx, &grid, &build, &env).await {
                    Err(why) => Outcome::Unavailable { message: why },
                    Ok(()) => {
                        match probe_cell(&ctx, &grid, &build, &runtime, &artifact, &env).await {
                            Ok(run) => {
                                result.stdout = run.stdout;
                                result.stderr = run.stderr;
                                result.duration = run.duration;
                                result.command = Some(run.command);
                                run.outcome
                            }
                            Err(e) => Outcome::Unavailable { message: e },
                        }
                    }
                },
            },
        },
    };
    ctx.send(Event::CellFinished(Box::new(result)));
}

/// For a row of published code: whether its metadata allows this NumPy
/// (`--ignore-requires` runs the cell regardless).
async fn allowed(ctx: &Ctx, grid: &Grid, build: &AxisEntry, env: &NumpyEnv) -> Result<(), String> {
    let Some(row) = &build.row else { return Ok(()) };
    if ctx.ignore_requires {
        return Ok(());
    }
    crate::package::allows_numpy(
        &ctx.installer,
        &grid.interpreter,
        &row.install_arg(),
        &env.numpy,
    )
    .await
    .map_err(|why| {
        format!(
            "{row}'s metadata forbids numpy {}: {why} (--ignore-requires runs it anyway)",
            env.numpy
        )
    })
}

async fn probe_cell(
    ctx: &Ctx,
    grid: &Grid,
    build: &AxisEntry,
    runtime: &AxisEntry,
    artifact: &Artifact,
    env: &NumpyEnv,
) -> Result<probe::ProbeRun, String> {
    let _permit = ctx.permits.acquire().await.map_err(|e| e.to_string())?;
    let dir = cell_dir(&grid.work, &build.label(), &runtime.label());
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let extension = &ctx.config.extension;
    let timeout = ctx.config.timeout;
    if let Some(test) = &extension.test {
        // A user's command may do anything (threads, subprocesses): always a
        // process of its own.
        return Ok(probe::run_command(test, artifact, env, &dir, timeout).await);
    }
    let module = &extension.imports.join(",");
    if ctx.isolation == Isolation::Fork {
        if let Some(cell) = grid.servers.get(&env.numpy) {
            let server = cell
                .get_or_init(|| async {
                    ForkServer::start(&env.python, &ctx.probe, &probe::child_env())
                        .await
                        .map(Arc::new)
                })
                .await;
            if let Ok(server) = server {
                return Ok(probe::run_forked(
                    server, &ctx.probe, module, artifact, env, &dir, timeout,
                )
                .await);
            }
        }
    }
    Ok(probe::run(&ctx.probe, module, artifact, env, &dir, timeout).await)
}

fn cell_dir(work: &Path, build: &str, runtime: &str) -> PathBuf {
    work.join("cells").join(format!("{build}__{runtime}"))
}
