//! The graph on fake stages: no process, no file. What it must get right on
//! its own — what waits for what, what is made once, what is not made at
//! all, and what a failure upstream means for each cell downstream — is
//! checked against a table of what each fake stage comes to.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use pep440_rs::Version;

use super::events::{CellResult, Event};
use super::graph::{CellWork, Graph, Grid, LayerProblem, Made, Stages, Started};
use crate::build::{Artifact, BuildError, BuildFailure};
use crate::config::NumpyRequest;
use crate::environment::NumpyEnv;
use crate::extension::{PackageRow, RowSource};
use crate::outcome::{Failure, FailureReason, Outcome, Unavailability};
use crate::plan::{AxisEntry, GridPlan};
use crate::probe::ProbeRun;
use crate::python::{InstallError, PythonSource};

/// Stages that do what their table says and write down what they did.
#[derive(Default)]
struct Fake {
    /// Environments that cannot be made, by version, with why.
    broken_envs: HashMap<&'static str, &'static str>,
    /// Environments already there: reused, not made.
    reused_envs: HashSet<&'static str>,
    /// Builds kept from an earlier run (or a CI build job), by version.
    kept: HashSet<&'static str>,
    /// Builds that fail, by version: (forbidden by the project, summary).
    failing: HashMap<&'static str, (bool, &'static str)>,
    /// Dependency layers that cannot be had, by column.
    layers: HashMap<&'static str, LayerProblem>,
    /// What each cell's probe ends with, by "build → runtime" (pass when
    /// not listed).
    outcomes: HashMap<&'static str, Outcome>,
    /// What the stages did, in order.
    log: Mutex<Vec<String>>,
}

impl Fake {
    fn did(&self, what: String) {
        self.log.lock().unwrap().push(what);
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn artifact(dir: &str, reused: bool) -> Artifact {
    Artifact {
        dir: PathBuf::from(dir),
        module_path: PathBuf::from(dir).join("m.so"),
        log: format!("log of {dir}"),
        duration: Duration::ZERO,
        reused,
        wheel: None,
        package: None,
        inputs: Default::default(),
        staging: None,
        forced: None,
    }
}

fn made(dir: &str, reused: bool) -> Made {
    Made {
        artifact: artifact(dir, reused),
        declares: None,
        tag: None,
    }
}

impl Stages for Fake {
    async fn environment(
        &self,
        _grid: &Grid,
        version: &Version,
        started: &Started<'_>,
    ) -> Result<NumpyEnv, InstallError> {
        let v = version.to_string();
        self.did(format!("env {v}"));
        // Work takes time: let every other node run meanwhile.
        tokio::task::yield_now().await;
        if let Some(why) = self.broken_envs.get(v.as_str()) {
            return Err(InstallError::Failed {
                what: format!("installing numpy {v}"),
                output: why.to_string(),
            });
        }
        let reused = self.reused_envs.contains(v.as_str());
        if !reused {
            started();
        }
        Ok(NumpyEnv {
            numpy: version.clone(),
            dir: PathBuf::from(format!("/envs/{v}")),
            python: PathBuf::from(format!("/envs/{v}/bin/python")),
            include: PathBuf::from(format!("/envs/{v}/include")),
            setup: Duration::ZERO,
            reused,
        })
    }

    async fn kept_build(
        &self,
        _grid: &Grid,
        version: &Version,
    ) -> Option<Result<Made, BuildError>> {
        let v = version.to_string();
        self.kept.contains(v.as_str()).then(|| {
            self.did(format!("kept {v}"));
            Ok(made(&format!("/builds/{v}"), true))
        })
    }

    async fn build(
        &self,
        _grid: &Grid,
        version: &Version,
        env: &NumpyEnv,
        started: &Started<'_>,
    ) -> Result<Made, BuildError> {
        let v = version.to_string();
        self.did(format!("build {v} in {}", env.dir.display()));
        started();
        tokio::task::yield_now().await;
        match self.failing.get(v.as_str()) {
            Some((true, summary)) => Err(BuildError::new(
                BuildFailure::Forbidden {
                    reason: summary.to_string(),
                },
                &format!("log of {v}"),
            )),
            Some((false, summary)) => Err(BuildError::new(
                BuildFailure::Step {
                    what: None,
                    line: summary.to_string(),
                },
                &format!("log of {v}"),
            )),
            None => Ok(made(&format!("/builds/{v}"), false)),
        }
    }

    async fn package_row(
        &self,
        _grid: &Grid,
        row: &PackageRow,
        started: &Started<'_>,
    ) -> Result<Made, BuildError> {
        self.did(format!("row {row}"));
        started();
        Ok(made(&format!("/rows/{}", row.name), false))
    }

    async fn layer(
        &self,
        _grid: &Grid,
        build: usize,
        numpy: &Version,
        row: &Artifact,
    ) -> Result<Option<Artifact>, LayerProblem> {
        let v = numpy.to_string();
        self.did(format!("layer {} under {v}", row.dir.display()));
        match self.layers.get(v.as_str()) {
            Some(problem) => Err(problem.clone()),
            None => Ok(Some(artifact(&format!("/deps/{build}-{v}"), false))),
        }
    }

    async fn cell(&self, grid: &Grid, cell: &CellWork) -> ProbeRun {
        let key = format!(
            "{} → {}",
            grid.plan.build_axis[cell.build].label(),
            grid.plan.runtime_axis[cell.runtime].label()
        );
        self.did(format!(
            "cell {key} with {} in {}{}",
            cell.artifact.dir.display(),
            cell.env.dir.display(),
            cell.layer
                .as_ref()
                .map(|l| format!(" and {}", l.display()))
                .unwrap_or_default()
        ));
        ProbeRun {
            outcome: self
                .outcomes
                .get(key.as_str())
                .cloned()
                .unwrap_or(Outcome::Pass),
            stdout: String::new(),
            stderr: String::new(),
            duration: Duration::ZERO,
            command: format!("probe {key}"),
            rerun: None,
        }
    }

    async fn cell_done(&self, grid: &Grid, runtime: usize) {
        self.did(format!("done {}", grid.plan.runtime_axis[runtime].label()));
    }

    async fn believe(&self, grid: &Grid, cell: CellWork, run: ProbeRun) -> ProbeRun {
        self.did(format!(
            "believe {} → {}",
            grid.plan.build_axis[cell.build].label(),
            grid.plan.runtime_axis[cell.runtime].label()
        ));
        run
    }
}

fn numpy(version: &str) -> AxisEntry {
    AxisEntry::Numpy {
        request: NumpyRequest::from_str(version).unwrap(),
        version: Version::from_str(version).unwrap(),
        origin: Default::default(),
    }
}

fn gap(request: &str, kind: Unavailability) -> AxisEntry {
    AxisEntry::Missing {
        request: NumpyRequest::from_str(request).unwrap(),
        why: format!("nothing for {request}"),
        kind,
    }
}

fn package(name: &str) -> AxisEntry {
    AxisEntry::Row(PackageRow::new(RowSource::Requirement(format!(
        "{name}==1.0"
    ))))
}

/// A grid of every cell of `build` × `runtime`.
fn grid(build: Vec<AxisEntry>, runtime: Vec<AxisEntry>) -> Arc<Grid> {
    let cells = (0..build.len())
        .flat_map(|b| (0..runtime.len()).map(move |r| (b, r)))
        .collect();
    Arc::new(Grid {
        index: 0,
        plan: GridPlan {
            interpreter: crate::report::fixtures::interpreter("3.11.7"),
            source: PythonSource::Pyenv,
            python_unit: 0,
            build_axis: build,
            runtime_axis: runtime,
            skipped: Vec::new(),
            cells,
            shared: None,
            builds_only: false,
        },
        work: PathBuf::from("/work"),
        cells: PathBuf::from("/work/cells"),
    })
}

/// What a run of the graph did: the events it sent and the stages' log.
struct Ran {
    events: Vec<Event>,
    log: Vec<String>,
}

impl Ran {
    /// Each finished cell, "build → runtime: outcome", in the order sent.
    fn cells(&self) -> Vec<&CellResult> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::CellFinished(c) => Some(&**c),
                _ => None,
            })
            .collect()
    }

    /// Where `what` is in the stages' log (it must be there, once).
    fn at(&self, what: &str) -> usize {
        let found: Vec<usize> = (0..self.log.len())
            .filter(|&i| self.log[i].starts_with(what))
            .collect();
        assert_eq!(found.len(), 1, "{what} once in {:#?}", self.log);
        found[0]
    }

    fn count(&self, what: &str) -> usize {
        self.log.iter().filter(|l| l.starts_with(what)).count()
    }
}

async fn run(fake: Fake, grid: &Arc<Grid>, needs_layer: bool, build_only: bool) -> Ran {
    let (events, mut received) = super::channel();
    let graph = Graph {
        stages: Arc::new(fake),
        events,
        needs_layer,
        nodes: Default::default(),
    };
    if build_only {
        join_all(graph.builds(grid)).await;
    } else {
        join_all(graph.cells(grid, grid)).await;
    }
    let stages = graph.stages.clone();
    drop(graph);
    let mut events = Vec::new();
    while let Some(e) = received.recv().await {
        events.push(e);
    }
    Ran {
        events,
        log: stages.log(),
    }
}

/// A cell as a line: "build → runtime: outcome (kind) message | log".
fn line(grid: &Grid, c: &CellResult) -> String {
    let (kind, message) = match &c.outcome {
        Outcome::Unavailable { message, why } => (format!("unavailable {why:?}"), message.clone()),
        Outcome::BuildFailed { message } => ("build-failed".to_string(), message.clone()),
        Outcome::Fail(f) => (format!("fail {:?}", f.reason), f.message.clone()),
        other => (format!("{other:?}"), String::new()),
    };
    format!(
        "{} → {}: {kind}: {message} | {}",
        grid.plan.build_axis[c.build].label(),
        grid.plan.runtime_axis[c.runtime].label(),
        c.stderr
    )
}

#[tokio::test]
async fn every_failure_upstream_says_what_it_means_in_each_cell_it_blocks() {
    let grid = grid(
        vec![
            numpy("2.0.2"),
            numpy("1.26.4"),
            numpy("2.1.3"),
            numpy("2.4.0"),
            gap("1.22.*", Unavailability::NoWheel),
        ],
        vec![
            numpy("1.26.4"),
            numpy("2.0.2"),
            gap("next", Unavailability::NextIsNothing),
        ],
    );
    let fake = Fake {
        broken_envs: [("2.0.2", "the disk is full")].into(),
        failing: [
            ("1.26.4", (false, "error: expected ';'")),
            ("2.1.3", (true, "numpy<2.1 is required")),
        ]
        .into(),
        outcomes: [(
            "2.4.0 → 1.26.4",
            Outcome::Fail(Failure {
                reason: FailureReason::MissingSymbol,
                exception: Some("ImportError".into()),
                message: "undefined symbol: cos".into(),
            }),
        )]
        .into(),
        ..Fake::default()
    };
    let ran = run(fake, &grid, false, false).await;
    let mut lines: Vec<String> = ran.cells().iter().map(|c| line(&grid, c)).collect();
    lines.sort();
    let env = "installing numpy 2.0.2 failed: the disk is full";
    let expected: Vec<String> = [
        "1.22.* → 1.26.4: unavailable NoWheel: build numpy 1.22.*: nothing for 1.22.* | ",
        "1.22.* → 2.0.2: unavailable NoWheel: build numpy 1.22.*: nothing for 1.22.* | ",
        "1.22.* → next: unavailable NoWheel: build numpy 1.22.*: nothing for 1.22.* | ",
        "1.26.4 → 1.26.4: build-failed: error: expected ';' | log of 1.26.4",
        "1.26.4 → 2.0.2: build-failed: error: expected ';' | log of 1.26.4",
        "1.26.4 → next: unavailable NextIsNothing: runtime numpy next: nothing for next | ",
        "2.0.2 → 1.26.4: unavailable Environment: build numpy 2.0.2: ENV | ",
        "2.0.2 → 2.0.2: unavailable Environment: build numpy 2.0.2: ENV | ",
        "2.0.2 → next: unavailable NextIsNothing: runtime numpy next: nothing for next | ",
        "2.1.3 → 1.26.4: unavailable BuildRequirements: numpy<2.1 is required (--ignore-requires builds it anyway) | log of 2.1.3",
        "2.1.3 → 2.0.2: unavailable BuildRequirements: numpy<2.1 is required (--ignore-requires builds it anyway) | log of 2.1.3",
        "2.1.3 → next: unavailable NextIsNothing: runtime numpy next: nothing for next | ",
        "2.4.0 → 1.26.4: fail MissingSymbol: undefined symbol: cos | ",
        "2.4.0 → 2.0.2: unavailable Environment: runtime numpy 2.0.2: ENV | ",
        "2.4.0 → next: unavailable NextIsNothing: runtime numpy next: nothing for next | ",
    ]
    .iter()
    .map(|l| l.replace("ENV", env))
    .collect();
    assert_eq!(lines, expected);
    // Only the cell that ran carries its row (what advice reads) and its
    // command.
    for c in ran.cells() {
        let ran_it = grid.plan.build_axis[c.build].label() == "2.4.0" && c.runtime == 0;
        assert_eq!(c.row.is_some(), ran_it, "{}", line(&grid, c));
        assert_eq!(c.command.is_some(), ran_it, "{}", line(&grid, c));
        assert_eq!(c.hint, None, "the runner never gives advice");
    }
    // The broken environment was tried once, for its row and its column.
    assert_eq!(ran.count("env 2.0.2"), 1);
    // A row whose environment failed is never built.
    assert_eq!(ran.count("build 2.0.2"), 0);
    // Every cell, run or not, is done once: its column can close.
    assert_eq!(ran.count("done"), 15);
}

#[tokio::test]
async fn each_node_runs_once_and_after_what_it_needs() {
    let grid = grid(
        vec![numpy("1.26.4"), numpy("2.0.2")],
        vec![numpy("1.26.4"), numpy("2.0.2"), numpy("2.4.0")],
    );
    let ran = run(Fake::default(), &grid, false, false).await;
    for v in ["1.26.4", "2.0.2", "2.4.0"] {
        let env = ran.at(&format!("env {v}"));
        if v != "2.4.0" {
            // A build runs in its own NumPy's environment, once made.
            assert!(
                env < ran.at(&format!("build {v} in /envs/{v}")),
                "{:#?}",
                ran.log
            );
        }
        for b in ["1.26.4", "2.0.2"] {
            let cell = ran.at(&format!("cell {b} → {v} with /builds/{b} in /envs/{v}"));
            assert!(
                env < cell && ran.at(&format!("build {b}")) < cell,
                "{:#?}",
                ran.log
            );
        }
    }
    // A column is done once per cell, each after its cell ran.
    assert_eq!(ran.count("done 2.4.0"), 2);
    assert!(
        ran.at("cell 2.0.2 → 2.4.0") < ran.log.iter().rposition(|l| l == "done 2.4.0").unwrap()
    );
    // And before its outcome is looked at again: a column's server is not
    // held while its failures are proven.
    assert_eq!(ran.count("believe "), 6);
    let released = ran.log.iter().position(|l| l == "done 2.4.0").unwrap();
    assert!(
        released
            < ran
                .log
                .iter()
                .position(|l| l.starts_with("believe ") && l.ends_with("→ 2.4.0"))
                .unwrap()
    );
    // The events say so: each environment and row started and finished
    // once, each before the cells that needed it.
    let position = |f: &dyn Fn(&Event) -> bool| ran.events.iter().position(f).unwrap();
    let count = |f: &dyn Fn(&Event) -> bool| ran.events.iter().filter(|e| f(e)).count();
    assert_eq!(count(&|e| matches!(e, Event::EnvStarted { .. })), 3);
    assert_eq!(count(&|e| matches!(e, Event::EnvFinished { .. })), 3);
    assert_eq!(count(&|e| matches!(e, Event::BuildStarted { .. })), 2);
    assert_eq!(count(&|e| matches!(e, Event::BuildFinished(_))), 2);
    assert_eq!(count(&|e| matches!(e, Event::CellFinished(_))), 6);
    let row_done = position(&|e| matches!(e, Event::BuildFinished(b) if b.row == "2.0.2"));
    let first_cell = position(&|e| matches!(e, Event::CellFinished(c) if c.build == 1));
    assert!(row_done < first_cell);
}

#[tokio::test]
async fn a_kept_build_makes_no_environment_unless_a_column_runs_it() {
    let kept = || Fake {
        kept: ["2.0.2"].into(),
        reused_envs: ["1.26.4"].into(),
        ..Fake::default()
    };
    let elsewhere = grid(vec![numpy("2.0.2")], vec![numpy("1.26.4")]);
    let ran = run(kept(), &elsewhere, false, false).await;
    assert_eq!(ran.count("env 2.0.2"), 0, "{:#?}", ran.log);
    assert_eq!(ran.count("build"), 0, "{:#?}", ran.log);
    ran.at("cell 2.0.2 → 1.26.4 with /builds/2.0.2 in /envs/1.26.4");
    // Nothing was made, so nothing said it started; the row says it was
    // reused.
    assert!(
        !ran.events
            .iter()
            .any(|e| matches!(e, Event::EnvStarted { .. } | Event::BuildStarted { .. }))
    );
    assert!(ran.events.iter().any(
        |e| matches!(e, Event::BuildFinished(b) if b.result.as_ref().is_ok_and(|b| b.reused))
    ));
    // Its own column needs its environment: made once, for the column.
    let own = grid(vec![numpy("2.0.2")], vec![numpy("2.0.2")]);
    let ran = run(kept(), &own, false, false).await;
    assert_eq!(ran.count("env 2.0.2"), 1);
    assert_eq!(ran.count("build"), 0);
}

#[tokio::test]
async fn build_only_makes_the_rows_and_nothing_else() {
    let grid = grid(
        vec![
            numpy("2.0.2"),
            numpy("1.26.4"),
            gap("1.22.*", Unavailability::NoWheel),
        ],
        vec![numpy("2.4.0")],
    );
    let fake = Fake {
        kept: ["1.26.4"].into(),
        ..Fake::default()
    };
    let ran = run(fake, &grid, false, true).await;
    assert_eq!(
        ran.log,
        ["env 2.0.2", "kept 1.26.4", "build 2.0.2 in /envs/2.0.2"],
        "no column's environment, none for a kept row, no cell"
    );
    assert_eq!(
        ran.events
            .iter()
            .filter(|e| matches!(e, Event::BuildFinished(_)))
            .count(),
        2
    );
}

#[tokio::test]
async fn dependency_layers_come_after_their_row_and_their_failures_reach_their_cells() {
    let grid = grid(
        vec![package("pandas")],
        vec![numpy("1.26.4"), numpy("2.0.2"), numpy("2.4.0")],
    );
    let fake = Fake {
        layers: [
            (
                "2.0.2",
                LayerProblem::Forbidden("pandas 1.0's metadata forbids numpy 2.0.2".into()),
            ),
            (
                "2.4.0",
                LayerProblem::Failed(BuildError::new(
                    BuildFailure::Step {
                        what: None,
                        line: "no solution".to_string(),
                    },
                    "uv said no",
                )),
            ),
        ]
        .into(),
        ..Fake::default()
    };
    let ran = run(fake, &grid, true, false).await;
    // The row is made once, with no environment of its own; each column's
    // layer after it.
    let row = ran.at("row pandas");
    for v in ["1.26.4", "2.0.2", "2.4.0"] {
        assert!(row < ran.at(&format!("layer /rows/pandas under {v}")));
    }
    ran.at("cell pandas 1.0 → 1.26.4 with /rows/pandas in /envs/1.26.4 and /deps/0-1.26.4");
    let mut lines: Vec<String> = ran.cells().iter().map(|c| line(&grid, c)).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "pandas 1.0 → 1.26.4: Pass:  | ",
            "pandas 1.0 → 2.0.2: unavailable Metadata: pandas 1.0's metadata forbids numpy 2.0.2 | ",
            "pandas 1.0 → 2.4.0: unavailable Dependencies: the cell's dependencies: no solution | uv said no",
        ]
    );
}
