//! The run's dependency graph: one environment per distinct NumPy, one
//! build per row, one dependency layer per row and column that needs one,
//! one probe per selected cell. Each node is a shared future started by the
//! first node that awaits it, so an environment is made while a build
//! compiles and a cell runs as soon as its inputs exist; only what a
//! selected cell awaits is ever made.
//!
//! This file is the wiring only: what waits for what, which events say so,
//! and what a failure upstream means for the cells downstream. What each
//! node *does* is behind [`Stages`] — the real one ([`super::executor`])
//! runs installers, compilers and probes; the tests below run the same
//! graph on fakes, with no process at all.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::Shared;
use pep440_rs::Version;

use super::EventSink;
use super::events::{BuildRecord, Built, CellResult, Event};
use crate::build::{Artifact, BuildError};
use crate::environment::NumpyEnv;
use crate::extension::PackageRow;
use crate::outcome::{Outcome, Unavailability};
use crate::plan::{AxisEntry, GridPlan};
use crate::probe::ProbeRun;
use crate::python::InstallError;

/// An environment node, awaited by every build and cell that needs it.
pub(super) type SharedEnv =
    Shared<Pin<Box<dyn Future<Output = Result<Arc<NumpyEnv>, InstallError>> + Send>>>;

/// Why a row produced no artifact.
#[derive(Debug, Clone)]
pub(super) enum RowProblem {
    /// Its NumPy environment could not be made.
    Env(InstallError),
    /// The build said no (or the project's own requirements forbid it);
    /// the log goes with every cell of the row.
    Build(BuildError),
}

type SharedBuild = Shared<Pin<Box<dyn Future<Output = Result<Arc<Artifact>, RowProblem>> + Send>>>;

/// Why a cell's dependencies could not be had.
#[derive(Debug, Clone)]
pub(super) enum LayerProblem {
    /// The row itself failed (its cells say why).
    Row,
    /// The package's metadata forbids the column's NumPy.
    Forbidden(String),
    Failed(BuildError),
}

/// A cell's dependencies beside its row (`None`: it needs none).
type SharedLayer =
    Shared<Pin<Box<dyn Future<Output = Result<Option<Arc<Artifact>>, LayerProblem>> + Send>>>;

/// Told when a node's work must really be done (not when it is reused).
pub(super) type Started<'a> = dyn Fn() + Send + Sync + 'a;

/// A row's artifact, and the NumPy requirement its package declares (read
/// from the artifact by the stage that made it; `None` for a plain build).
#[derive(Debug)]
pub(super) struct Made {
    pub artifact: Artifact,
    pub declares: Option<String>,
    /// The tag of the wheel the row installed (see [`Built::tag`]).
    pub tag: Option<String>,
}

/// Everything a cell runs with, once its inputs exist.
pub(super) struct CellWork {
    pub build: usize,
    pub runtime: usize,
    pub artifact: Arc<Artifact>,
    pub env: Arc<NumpyEnv>,
    /// The row's own build environment (NumPy rows), for a second build
    /// when the cached one proves damaged mid-run.
    pub build_env: Option<SharedEnv>,
    /// The cell's dependency layer, put on its path after the row.
    pub layer: Option<PathBuf>,
    /// The grid whose interpreter made the row (the cell's own, unless the
    /// row is shared across Pythons): a damaged row is made again there.
    pub builder: Arc<Grid>,
}

/// What the graph's nodes do. Each may take as long as it must; none
/// decides what its failure means downstream (the graph does).
pub(super) trait Stages: Send + Sync + 'static {
    /// The environment with `version` for `grid`.
    fn environment(
        &self,
        grid: &Grid,
        version: &Version,
        started: &Started<'_>,
    ) -> impl Future<Output = Result<NumpyEnv, InstallError>> + Send;

    /// The build row against `version` as an earlier run or a CI build job
    /// left it, if it is there and sound: it needs no environment.
    fn kept_build(
        &self,
        grid: &Grid,
        version: &Version,
    ) -> impl Future<Output = Option<Result<Made, BuildError>>> + Send;

    /// Makes the build row against `version`, in its environment `env`.
    fn build(
        &self,
        grid: &Grid,
        version: &Version,
        env: &NumpyEnv,
        started: &Started<'_>,
    ) -> impl Future<Output = Result<Made, BuildError>> + Send;

    /// A row of published code: the wheel or requirement itself.
    fn package_row(
        &self,
        grid: &Grid,
        row: &PackageRow,
        started: &Started<'_>,
    ) -> impl Future<Output = Result<Made, BuildError>> + Send;

    /// The dependencies of the row at `build` under the column's `numpy`
    /// (`None`: there are none).
    fn layer(
        &self,
        grid: &Grid,
        build: usize,
        numpy: &Version,
        row: &Artifact,
    ) -> impl Future<Output = Result<Option<Artifact>, LayerProblem>> + Send;

    /// Runs the cell: its probe or test command, once.
    fn cell(&self, grid: &Grid, cell: &CellWork) -> impl Future<Output = ProbeRun> + Send;

    /// The cell at `runtime` no longer needs its column (it ran, or never
    /// will): the stage may free what the column holds once its last cell
    /// is.
    fn cell_done(&self, grid: &Grid, runtime: usize) -> impl Future<Output = ()> + Send;

    /// Whatever it takes to believe the outcome of the cell's run (`run`):
    /// the run itself, or what a second look made of it (after
    /// [`Stages::cell_done`]: a column's fork server is not held while its
    /// failures are looked at again).
    fn believe(
        &self,
        grid: &Grid,
        cell: CellWork,
        run: ProbeRun,
    ) -> impl Future<Output = ProbeRun> + Send;
}

/// One interpreter's part of the graph.
pub(super) struct Grid {
    pub index: usize,
    pub plan: GridPlan,
    /// This grid's folder in the run's temporary directory.
    pub work: PathBuf,
    /// Where this grid's probe cells write their files ([`super::scratch`]).
    pub cells: PathBuf,
}

/// The graph of one run: the stages its nodes call and where events go.
pub(super) struct Graph<S> {
    pub stages: Arc<S>,
    pub events: EventSink,
    /// Whether a cell needs a dependency layer beside its row (packages
    /// and projects always; sources with `test-requires`).
    pub needs_layer: bool,
    /// The nodes made so far, over every grid: a row shared across Pythons
    /// (a limited-API build) is one node, built once, whichever grid's
    /// cells await it first.
    pub nodes: Arc<std::sync::Mutex<Nodes>>,
}

/// Environment and build nodes by the grid that makes them.
#[derive(Default)]
pub(super) struct Nodes {
    envs: HashMap<(usize, Version), SharedEnv>,
    rows: HashMap<(usize, usize), SharedBuild>,
}

impl<S> Clone for Graph<S> {
    fn clone(&self) -> Self {
        Graph {
            stages: self.stages.clone(),
            events: self.events.clone(),
            needs_layer: self.needs_layer,
            nodes: self.nodes.clone(),
        }
    }
}

impl<S: Stages> Graph<S> {
    fn send(&self, event: Event) {
        // The receiver only goes away when the process is ending anyway.
        let _ = self.events.send(event);
    }

    /// The build rows of one grid and nothing else (`run --build-only`).
    pub fn builds(&self, grid: &Arc<Grid>) -> Vec<impl Future<Output = ()> + use<S>> {
        if grid.plan.builder(grid.index) != grid.index {
            // Its rows are the build Python's, made by that grid.
            return Vec::new();
        }
        grid.plan
            .build_axis
            .iter()
            .filter_map(|b| match b {
                AxisEntry::Numpy { version, .. } => Some(version.clone()),
                _ => None,
            })
            .map(|version| {
                let env = self.env_node(grid, version.clone());
                self.clone()
                    .build_node(grid.clone(), version, env)
                    .map(drop)
            })
            .collect()
    }

    /// The cells of one grid, as futures ready to be awaited together.
    /// Its rows are made by `builder`'s grid (itself, unless they are
    /// shared across Pythons: [`GridPlan::shared`]).
    pub fn cells(
        &self,
        grid: &Arc<Grid>,
        builder: &Arc<Grid>,
    ) -> Vec<impl Future<Output = ()> + use<S>> {
        let envs: HashMap<Version, SharedEnv> = grid
            .plan
            .runtime_axis
            .iter()
            .filter_map(AxisEntry::version)
            .map(|v| (v.clone(), self.env_node(grid, v.clone())))
            .collect();
        let build_envs: HashMap<Version, SharedEnv> = builder
            .plan
            .build_axis
            .iter()
            .filter_map(AxisEntry::version)
            .map(|v| (v.clone(), self.env_node(builder, v.clone())))
            .collect();
        let builds = if grid.plan.shared.as_ref().is_some_and(|s| s.gap.is_some()) {
            // Nothing of the rows loads here: no cell awaits them.
            HashMap::new()
        } else {
            self.row_nodes(builder, &build_envs)
        };
        let mut layers: HashMap<(usize, Version), SharedLayer> = HashMap::new();
        grid.plan
            .cells
            .iter()
            .map(|&(bi, ri)| {
                let artifact = builds.get(&bi).cloned();
                let version = grid.plan.runtime_axis[ri].version();
                let layer = match (self.needs_layer, &artifact, version) {
                    (true, Some(row), Some(v)) => Some(
                        layers
                            .entry((bi, v.clone()))
                            .or_insert_with(|| self.layer_node(grid, bi, v.clone(), row.clone()))
                            .clone(),
                    ),
                    _ => None,
                };
                let inputs = CellInputs {
                    artifact,
                    env: version.map(|v| envs[v].clone()),
                    build_env: grid.plan.build_axis[bi]
                        .version()
                        .and_then(|v| build_envs.get(v).cloned()),
                    layer,
                    builder: builder.clone(),
                };
                self.clone().cell_node(grid.clone(), bi, ri, inputs)
            })
            .collect()
    }

    /// Rows, by position: a build against a NumPy, or a published package.
    fn row_nodes(
        &self,
        grid: &Arc<Grid>,
        envs: &HashMap<Version, SharedEnv>,
    ) -> HashMap<usize, SharedBuild> {
        let mut rows = HashMap::new();
        for (i, b) in grid.plan.build_axis.iter().enumerate() {
            if let Some(node) = self.known().rows.get(&(grid.index, i)) {
                rows.insert(i, node.clone());
                continue;
            }
            let node = match b {
                AxisEntry::Numpy { version, .. } => self
                    .detached()
                    .build_node(grid.clone(), version.clone(), envs[version].clone())
                    .boxed()
                    .shared(),
                AxisEntry::Row(row) => self
                    .detached()
                    .package_node(grid.clone(), row.clone())
                    .boxed()
                    .shared(),
                AxisEntry::Missing { .. } => continue,
            };
            self.known().rows.insert((grid.index, i), node.clone());
            rows.insert(i, node);
        }
        rows
    }

    /// A clone for a node kept in [`Nodes`]: without the nodes, or the map
    /// would hold itself (and the event sink, so the reporter never hears
    /// the end). The nodes kept never make nodes.
    fn detached(&self) -> Graph<S> {
        Graph {
            nodes: Default::default(),
            ..self.clone()
        }
    }

    /// The nodes made so far (a poisoned lock still holds whole maps).
    fn known(&self) -> std::sync::MutexGuard<'_, Nodes> {
        self.nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn env_node(&self, grid: &Arc<Grid>, version: Version) -> SharedEnv {
        let key = (grid.index, version.clone());
        if let Some(node) = self.known().envs.get(&key) {
            return node.clone();
        }
        let (g, grid) = (self.detached(), grid.clone());
        let node = async move {
            let started = || {
                g.send(Event::EnvStarted {
                    grid: grid.index,
                    version: version.clone(),
                })
            };
            let result = g
                .stages
                .environment(&grid, &version, &started)
                .await
                .map(Arc::new);
            g.send(Event::EnvFinished {
                grid: grid.index,
                version,
                result: result
                    .as_ref()
                    .map(|e| (e.setup, e.reused))
                    .map_err(Clone::clone),
            });
            result
        }
        .boxed()
        .shared();
        self.known().envs.insert(key, node.clone());
        node
    }

    /// A build row. One already made (in the cache, or in the artifacts a
    /// CI build job uploaded) needs no environment: a shard that tests
    /// uploaded builds makes none for their NumPy unless a column runs it.
    async fn build_node(
        self,
        grid: Arc<Grid>,
        version: Version,
        env: SharedEnv,
    ) -> Result<Arc<Artifact>, RowProblem> {
        let row = version.to_string();
        if let Some(kept) = self.stages.kept_build(&grid, &version).await {
            return self.finish_row(&grid, row, kept);
        }
        let env = env.await.map_err(RowProblem::Env)?;
        let started = || {
            self.send(Event::BuildStarted {
                grid: grid.index,
                row: row.clone(),
            })
        };
        let made = self.stages.build(&grid, &version, &env, &started).await;
        self.finish_row(&grid, row, made)
    }

    /// A row of published code, once per interpreter.
    async fn package_node(
        self,
        grid: Arc<Grid>,
        row: PackageRow,
    ) -> Result<Arc<Artifact>, RowProblem> {
        let started = || {
            self.send(Event::BuildStarted {
                grid: grid.index,
                row: row.to_string(),
            })
        };
        let made = self.stages.package_row(&grid, &row, &started).await;
        self.finish_row(&grid, row.to_string(), made)
    }

    /// Tells the reporter how a row ended and hands its artifact on.
    fn finish_row(
        &self,
        grid: &Grid,
        row: String,
        made: Result<Made, BuildError>,
    ) -> Result<Arc<Artifact>, RowProblem> {
        self.send(Event::BuildFinished(BuildRecord {
            grid: grid.index,
            row,
            result: made
                .as_ref()
                .map(|m| Built {
                    reused: m.artifact.reused,
                    duration: m.artifact.duration,
                    log: m.artifact.log.clone(),
                    declares: m.declares.clone(),
                    tag: m.tag.clone(),
                    forced: m.artifact.forced.clone(),
                    uncached: m.artifact.inputs.unkeyable.clone(),
                })
                .map_err(Clone::clone),
        }));
        made.map(|m| Arc::new(m.artifact))
            .map_err(RowProblem::Build)
    }

    /// A cell's dependencies, once its row exists; shared by the cells of
    /// the row and column.
    fn layer_node(
        &self,
        grid: &Arc<Grid>,
        build: usize,
        numpy: Version,
        row: SharedBuild,
    ) -> SharedLayer {
        let (g, grid) = (self.clone(), grid.clone());
        async move {
            let artifact = row.await.map_err(|_| LayerProblem::Row)?;
            g.stages
                .layer(&grid, build, &numpy, &artifact)
                .await
                .map(|layer| layer.map(Arc::new))
        }
        .boxed()
        .shared()
    }

    async fn cell_node(self, grid: Arc<Grid>, build: usize, runtime: usize, inputs: CellInputs) {
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
            row: None,
            hint: None,
        };
        match ready(&grid, build, runtime, inputs).await {
            Err((outcome, log)) => {
                self.stages.cell_done(&grid, runtime).await;
                result.outcome = outcome;
                result.stderr = log;
            }
            Ok(work) => {
                result.row = Some(work.artifact.clone());
                let run = self.stages.cell(&grid, &work).await;
                self.stages.cell_done(&grid, runtime).await;
                let run = self.stages.believe(&grid, work, run).await;
                result.outcome = run.outcome;
                result.stdout = run.stdout;
                result.stderr = run.stderr;
                result.duration = run.duration;
                result.command = Some(run.command);
                result.rerun = run.rerun;
            }
        }
        self.send(Event::CellFinished(Box::new(result)));
    }
}

/// What a cell awaits: its row, its runtime environment, the row's build
/// environment (NumPy rows) and its dependency layer.
struct CellInputs {
    artifact: Option<SharedBuild>,
    env: Option<SharedEnv>,
    build_env: Option<SharedEnv>,
    layer: Option<SharedLayer>,
    /// The grid whose interpreter made the row.
    builder: Arc<Grid>,
}

/// A cell's inputs, awaited: everything it runs with, or the outcome that
/// says why it cannot run (with the log that goes with it, a failed
/// build's).
async fn ready(
    grid: &Grid,
    build: usize,
    runtime: usize,
    inputs: CellInputs,
) -> Result<CellWork, (Outcome, String)> {
    let (b, r) = (
        &grid.plan.build_axis[build],
        &grid.plan.runtime_axis[runtime],
    );
    if let Some(why) = grid.plan.shared.as_ref().and_then(|s| s.gap.as_ref()) {
        return Err((
            Outcome::missing(Unavailability::PythonAbi, why.clone()),
            String::new(),
        ));
    }
    if let Some(why) = wheel_gap(b) {
        return Err((
            Outcome::missing(Unavailability::PythonAbi, why),
            String::new(),
        ));
    }
    let Some(artifact) = inputs.artifact else {
        return Err((missing("build", b), String::new()));
    };
    let Some(env) = inputs.env else {
        return Err((missing("runtime", r), String::new()));
    };
    let artifact = artifact
        .await
        .map_err(|p| row_outcome(p, b, &inputs.builder))?;
    let env = env.await.map_err(|why| {
        let outcome = unavailable(
            Unavailability::Environment,
            "runtime",
            r,
            &env_problem(&why, grid),
        );
        (outcome, String::new())
    })?;
    let layer = match inputs.layer {
        Some(layer) => layer.await.map_err(layer_outcome)?,
        None => None,
    };
    Ok(CellWork {
        build,
        runtime,
        artifact,
        env,
        build_env: inputs.build_env,
        layer: layer.map(|l| l.dir.clone()),
        builder: inputs.builder,
    })
}

/// Why a published row cannot load under this grid's Python, as the plan
/// found it ([`crate::extension::PackageRow::python_gap`]): said as such
/// rather than as the installer's refusal, and nothing is installed for it.
fn wheel_gap(entry: &AxisEntry) -> Option<String> {
    match entry {
        AxisEntry::Row(row) => row.python_gap.clone(),
        _ => None,
    }
}

/// A cell of an axis entry that was never resolved.
fn missing(axis: &str, entry: &AxisEntry) -> Outcome {
    let why = entry.unavailable().unwrap_or("not resolved");
    let kind = entry.gap().unwrap_or(Unavailability::NoWheel);
    unavailable(kind, axis, entry, &why)
}

fn unavailable(
    kind: Unavailability,
    axis: &str,
    entry: &AxisEntry,
    why: &dyn std::fmt::Display,
) -> Outcome {
    Outcome::missing(kind, format!("{axis} numpy {}: {why}", entry.label()))
}

/// What a row that was not made means for each of its cells.
fn row_outcome(problem: RowProblem, entry: &AxisEntry, grid: &Grid) -> (Outcome, String) {
    match problem {
        RowProblem::Env(why) => (
            unavailable(
                Unavailability::Environment,
                "build",
                entry,
                &env_problem(&why, grid),
            ),
            String::new(),
        ),
        RowProblem::Build(e) if e.is_forbidden() => (
            Outcome::missing(
                Unavailability::BuildRequirements,
                format!("{} (--ignore-requires builds it anyway)", e.summary()),
            ),
            e.log,
        ),
        RowProblem::Build(e) => (
            Outcome::BuildFailed {
                message: e.summary(),
            },
            e.log,
        ),
    }
}

/// What a layer that could not be had means for its cells.
fn layer_outcome(problem: LayerProblem) -> (Outcome, String) {
    match problem {
        LayerProblem::Forbidden(why) => (
            Outcome::missing(Unavailability::Metadata, why),
            String::new(),
        ),
        LayerProblem::Failed(e) => (
            Outcome::missing(
                Unavailability::Dependencies,
                format!("the cell's dependencies: {}", e.summary()),
            ),
            e.log,
        ),
        LayerProblem::Row => (Outcome::unavailable("the row was not made"), String::new()),
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
