//! Scheduling a run: resolve versions, make environments, build, probe, as
//! one dependency graph rather than phases, so a runtime environment is made
//! while a build compiles and a cell runs as soon as its two inputs exist.
//!
//! The runner never prints. It sends [`Event`]s; the caller decides what to
//! show and what to keep (`runner::run(.., events)` feeding a reporter, as in
//! nextest). Nothing here is spawned onto the runtime: every piece of work is
//! a future owned by `run`, so dropping `run` (Ctrl-C) drops them all, and
//! each child's process-group guard kills what it started.

mod events;

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{Shared, join_all};
use pep440_rs::Version;
use tokio::sync::Semaphore;
use tokio::sync::mpsc::UnboundedSender;

pub use events::{AxisEntry, BuildRecord, CellResult, Event, RunHeader};

use crate::build::{self, Artifact};
use crate::config::{Config, NumpyRequest};
use crate::environment::{self, NumpyEnv};
use crate::outcome::Outcome;
use crate::probe::{self, ProbeFiles};
use crate::python::{
    self, InstallError, Installer, InstallerChoice, Interpreter, InterpreterError,
};

/// Knobs that come from the command line rather than `matrix.toml`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Overrides `run.jobs`.
    pub jobs: Option<usize>,
    pub keep_envs: bool,
    pub installer: InstallerChoice,
}

/// Failures that stop the whole run: the machine, not a cell, is at fault.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Interpreter(#[from] InterpreterError),
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
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            RunError::Interpreter(e) => Some(e.hint()),
            RunError::Index(_) => Some(
                "check the network, or point uv/pip at a reachable index (UV_INDEX_URL, PIP_INDEX_URL)",
            ),
            RunError::Io { .. } => None,
        }
    }
}

type SharedResult<T> = Shared<Pin<Box<dyn Future<Output = Result<Arc<T>, String>> + Send>>>;

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
    interpreter: Interpreter,
    installer: Installer,
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

/// Runs the whole matrix of `config`, reporting through `events`.
pub async fn run(
    config: &Config,
    options: &RunOptions,
    events: UnboundedSender<Event>,
) -> Result<(), RunError> {
    let started = Instant::now();
    let interpreter = python::find(&config.python).await?;
    let mut notes = Vec::new();
    if !interpreter.python_h {
        notes.push(format!(
            "{} has no Python.h under {}: builds will fail (install the Python development headers)",
            interpreter.label(),
            interpreter.include.display()
        ));
    }
    let installer = Installer::discover(options.installer, &interpreter, &mut notes).await;

    let work = tempfile::Builder::new()
        .prefix("abimatrix-")
        .tempdir()
        .map_err(|source| RunError::Io {
            context: "cannot create a temporary directory".into(),
            source,
        })?;
    let probe = ProbeFiles::write(&work.path().join("probe"), &config.extension.probe).map_err(
        |source| RunError::Io {
            context: format!("cannot write the probe into {}", work.path().display()),
            source,
        },
    )?;

    let (build_axis, runtime_axis) = resolve_axes(config, &installer, &interpreter).await?;
    let jobs = options
        .jobs
        .or(config.jobs)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);

    let header = RunHeader {
        interpreter: interpreter.clone(),
        installer: installer.describe(),
        extension: config.extension.label(),
        build_axis: build_axis.clone(),
        runtime_axis: runtime_axis.clone(),
        jobs,
        notes,
        work_dir: options.keep_envs.then(|| work.path().to_path_buf()),
        timeout: config.timeout,
    };
    let _ = events.send(Event::Started(Box::new(header)));

    let ctx = Arc::new(Ctx {
        interpreter,
        installer,
        config: config.clone(),
        work: work.path().to_path_buf(),
        permits: Semaphore::new(jobs),
        events,
        probe,
    });

    // One environment per distinct version, one build per build version.
    let mut envs: HashMap<Version, SharedResult<NumpyEnv>> = HashMap::new();
    for v in build_axis
        .iter()
        .chain(&runtime_axis)
        .filter_map(|a| a.version.clone())
    {
        envs.entry(v.clone())
            .or_insert_with(|| env_node(ctx.clone(), v).boxed().shared());
    }
    let mut builds: HashMap<Version, SharedBuild> = HashMap::new();
    for v in build_axis.iter().filter_map(|a| a.version.clone()) {
        let env = envs[&v].clone();
        builds
            .entry(v.clone())
            .or_insert_with(|| build_node(ctx.clone(), v, env).boxed().shared());
    }

    let mut cells = Vec::new();
    for b in &build_axis {
        for r in &runtime_axis {
            let build = b.version.as_ref().map(|v| builds[v].clone());
            let env = r.version.as_ref().map(|v| envs[v].clone());
            cells.push(cell_node(ctx.clone(), b.clone(), r.clone(), build, env));
        }
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

/// Resolves every requested version once (the same request on both axes is
/// one query) and builds the two axes in the order the user wrote them.
async fn resolve_axes(
    config: &Config,
    installer: &Installer,
    interpreter: &Interpreter,
) -> Result<(Vec<AxisEntry>, Vec<AxisEntry>), RunError> {
    let mut distinct: Vec<&NumpyRequest> = Vec::new();
    for r in config.build.iter().chain(&config.runtime) {
        if !distinct.contains(&r) {
            distinct.push(r);
        }
    }
    let answers = join_all(distinct.iter().map(|r| installer.resolve(interpreter, r))).await;
    let mut resolved = HashMap::new();
    for (request, answer) in distinct.into_iter().zip(answers) {
        let entry = match answer {
            Ok(version) => AxisEntry {
                request: request.to_string(),
                version: Some(version),
                unavailable: None,
                nominal: request.nominal().clone(),
            },
            Err(InstallError::Index { detail }) => return Err(RunError::Index(detail)),
            Err(e) => AxisEntry {
                request: request.to_string(),
                version: None,
                unavailable: Some(unavailable_message(&e, interpreter)),
                nominal: request.nominal().clone(),
            },
        };
        resolved.insert(request.clone(), entry);
    }
    let axis = |requests: &[NumpyRequest]| {
        let mut out: Vec<AxisEntry> = Vec::new();
        for r in requests {
            let entry = resolved[r].clone();
            // "1.26.*" and "1.26.4" may name the same release: one column.
            if !out.iter().any(|e| e.label() == entry.label()) {
                out.push(entry);
            }
        }
        out
    };
    Ok((axis(&config.build), axis(&config.runtime)))
}

fn unavailable_message(e: &InstallError, interpreter: &Interpreter) -> String {
    match e {
        InstallError::NoWheel { requirement, .. } => {
            format!("no wheel of {requirement} for {}", interpreter.label())
        }
        other => other.to_string(),
    }
}

async fn env_node(ctx: Arc<Ctx>, version: Version) -> Result<Arc<NumpyEnv>, String> {
    let _permit = ctx.permits.acquire().await.map_err(|e| e.to_string())?;
    ctx.send(Event::EnvStarted {
        version: version.clone(),
    });
    let dir = ctx.work.join("envs").join(version.to_string());
    let result = environment::create(&ctx.installer, &ctx.interpreter, &version, &dir)
        .await
        .map(Arc::new)
        .map_err(|e| unavailable_message(&e, &ctx.interpreter));
    ctx.send(Event::EnvFinished {
        version,
        result: result.as_ref().map(|e| e.setup).map_err(Clone::clone),
    });
    result
}

async fn build_node(
    ctx: Arc<Ctx>,
    version: Version,
    env: SharedResult<NumpyEnv>,
) -> Result<Arc<Artifact>, RowProblem> {
    let env = env.await.map_err(RowProblem::Env)?;
    let _permit = ctx
        .permits
        .acquire()
        .await
        .map_err(|e| RowProblem::Env(e.to_string()))?;
    ctx.send(Event::BuildStarted {
        version: version.clone(),
    });
    let out = ctx.work.join("builds").join(version.to_string());
    let result = build::build(&ctx.config.extension, &ctx.interpreter, &env, &out).await;
    let record = match &result {
        Ok(a) => BuildRecord {
            version: version.clone(),
            ok: true,
            summary: String::new(),
            log: a.log.clone(),
            duration: a.duration,
        },
        Err(e) => BuildRecord {
            version: version.clone(),
            ok: false,
            summary: e.summary.clone(),
            log: e.log.clone(),
            duration: Duration::ZERO,
        },
    };
    ctx.send(Event::BuildFinished(record));
    result.map(Arc::new).map_err(|e| RowProblem::Compile {
        summary: e.summary,
        log: e.log,
    })
}

async fn cell_node(
    ctx: Arc<Ctx>,
    build: AxisEntry,
    runtime: AxisEntry,
    artifact: Option<SharedBuild>,
    env: Option<SharedResult<NumpyEnv>>,
) {
    let expected = ctx
        .config
        .expected(build.expectation_version(), runtime.expectation_version());
    let mut result = CellResult {
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
                Ok(env) => match probe_cell(&ctx, &build, &runtime, &artifact, &env).await {
                    Ok(run) => {
                        result.stdout = run.stdout;
                        result.stderr = run.stderr;
                        result.duration = run.duration;
                        result.command = Some(run.command);
                        run.outcome
                    }
                    Err(e) => Outcome::Unavailable { message: e },
                },
            },
        },
    };
    ctx.send(Event::CellFinished(Box::new(result)));
}

async fn probe_cell(
    ctx: &Ctx,
    build: &AxisEntry,
    runtime: &AxisEntry,
    artifact: &Artifact,
    env: &NumpyEnv,
) -> Result<probe::ProbeRun, String> {
    let _permit = ctx.permits.acquire().await.map_err(|e| e.to_string())?;
    let dir = cell_dir(&ctx.work, &build.label(), &runtime.label());
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(probe::run(
        &ctx.probe,
        &ctx.config.extension.module,
        artifact,
        env,
        &dir,
        ctx.config.timeout,
    )
    .await)
}

fn cell_dir(work: &Path, build: &str, runtime: &str) -> PathBuf {
    work.join("cells").join(format!("{build}__{runtime}"))
}
