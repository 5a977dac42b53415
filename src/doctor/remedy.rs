//! What fixes a broken environment, measured in the tool's own
//! environments, never guessed and never tried in the user's.
//!
//! Every answer is a real import made by the grid machinery `matrix run`
//! uses for published packages (requirement rows installed from the index,
//! their dependencies per column with the column's NumPy pinned, the same
//! probe, isolation and classification). Three questions:
//! - under which NumPy does every broken package, at its installed version
//!   and with its dependencies installed, import? One grid per package:
//!   the installed NumPy, the newest release of each minor series from the
//!   oldest any package declares (at most [`MAX_SERIES`]), and the newest.
//!   A column the package's metadata forbids is not run (as in `run`). The
//!   installed NumPy's column also says whether NumPy breaks the package at
//!   all: one that fails in the user's environment (a missing dependency)
//!   but imports here is not NumPy's problem.
//! - which release of each package NumPy breaks imports under the
//!   installed NumPy? The oldest of the run of passing releases, found by
//!   bisection over every newer release with a wheel for the interpreter
//!   ([`super::search`], at most [`super::search::MAX_TRIES`] tries).
//! - do the recommended fixes work *together*? The pin, and the upgrades,
//!   are each installed as one set in one fresh environment with every
//!   package that imports today, and every package is imported there.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use pep440_rs::Version;
use serde::Serialize;

use super::search::{self, Response, Search};
use crate::outcome::{FailureReason, OutcomeKind};
use crate::plan::PlanOptions;
use crate::python::Interpreter;
use crate::results::{CellDoc, Document};

/// The most minor series of NumPy a grid spans.
pub const MAX_SERIES: usize = 8;

/// An installed package the remedy measures: a broken one, or one that
/// imports today (checked beside the fixes).
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// Top-level packages holding its C-API modules (the grid's imports).
    pub tops: Vec<String>,
    /// Its `Requires-Dist` lines on numpy.
    pub numpy_requires: Vec<String>,
}

impl Package {
    fn pinned(&self, version: &str) -> Pinned {
        Pinned {
            name: self.name.clone(),
            version: version.to_string(),
        }
    }
}

/// Why the remedy could not be measured: which grid, and the error of the
/// stage that stopped it, with its hint.
#[derive(Debug, thiserror::Error)]
pub enum RemedyError {
    #[error("the grid for {what} is not a valid matrix: {error}")]
    Request {
        what: String,
        error: crate::config::NumpyRequestError,
    },
    /// The interpreter the user's environment was made from.
    #[error("cannot plan the grid for the base interpreter: {0}")]
    Base(#[source] crate::python::InterpreterError),
    #[error("cannot plan the grid for {what}: {error}")]
    Plan {
        what: String,
        #[source]
        error: Box<crate::plan::PlanError>,
    },
    #[error("cannot run the grid for {what}: {error}")]
    Run {
        what: String,
        #[source]
        error: crate::runner::RunError,
    },
}

impl RemedyError {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            RemedyError::Request { .. } => None,
            RemedyError::Base(e) => Some(e.hint()),
            RemedyError::Plan { error, .. } => error.hint(),
            RemedyError::Run { error, .. } => error.hint(),
        }
    }
}

/// One cell of a remedy grid, as the doctor reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// The row: a package version.
    pub version: String,
    pub numpy: String,
    pub outcome: OutcomeKind,
    pub reason: Option<FailureReason>,
    pub message: String,
    /// The whole error, as the cell's import printed it (empty on a pass).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// The package's metadata forbids this NumPy (so it was not run).
    pub forbidden: bool,
}

impl Cell {
    fn of(c: &CellDoc) -> Cell {
        let error = match c.outcome {
            OutcomeKind::Fail | OutcomeKind::Crash => super::trial::whole_error(&c.stderr, ""),
            _ => String::new(),
        };
        Cell {
            version: c
                .build
                .rsplit_once(' ')
                .map_or(c.build.clone(), |(_, v)| v.to_string()),
            numpy: c.runtime.clone(),
            outcome: c.outcome,
            reason: c.reason,
            message: c.message.clone(),
            error,
            forbidden: c.forbidden,
        }
    }

    pub fn passed(&self) -> bool {
        self.outcome == OutcomeKind::Pass
    }

    /// It ran, so it says something about the package (not forbidden, not
    /// without a wheel).
    pub fn ran(&self) -> bool {
        matches!(
            self.outcome,
            OutcomeKind::Pass | OutcomeKind::Fail | OutcomeKind::Crash | OutcomeKind::Timeout
        )
    }

    /// What the search makes of it.
    fn verdict(&self) -> Response {
        if self.passed() {
            Response::Pass
        } else if self.ran() || self.forbidden {
            Response::Fail
        } else {
            Response::NotRun
        }
    }
}

/// The installed version of one broken package under each NumPy.
#[derive(Debug, Clone, Serialize)]
pub struct PackageGrid {
    pub name: String,
    pub version: String,
    pub cells: Vec<Cell>,
}

impl PackageGrid {
    /// Its cell under `numpy`.
    pub fn at(&self, numpy: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.numpy == numpy)
    }

    /// Whether NumPy is what this cell's failure comes from: a reason
    /// only NumPy gives (an ABI or API version, a struct size, a missing
    /// symbol), a crash, or a failure that comes and goes with the NumPy
    /// version in this row. A failure the same under every NumPy (a
    /// missing dependency, the package's own bug) is not.
    pub fn numpy_caused(&self, cell: &Cell) -> bool {
        if !cell.ran() || cell.passed() {
            return false;
        }
        let numpy_reason = matches!(
            cell.reason,
            Some(
                FailureReason::AbiMajor
                    | FailureReason::ApiVersion
                    | FailureReason::DtypeSize
                    | FailureReason::MissingSymbol
            )
        );
        numpy_reason || cell.outcome == OutcomeKind::Crash || self.cells.iter().any(Cell::passed)
    }
}

/// A release of a package the search did not try, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub version: String,
    #[serde(flatten)]
    pub why: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum SkipReason {
    /// Yanked on the index (PEP 592): no installer picks it.
    Yanked { reason: String },
    /// No wheel for this interpreter.
    NoWheel,
    /// Tried, but could not be installed.
    NotInstalled { message: String },
}

/// The search for the oldest release that imports under the installed
/// NumPy.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Upgrade {
    pub name: String,
    pub installed: String,
    /// How many releases newer than the installed one have a wheel for
    /// the interpreter: the search space.
    pub candidates: usize,
    /// The most releases the search may try.
    pub max_tries: usize,
    /// Every release tried, newest first.
    pub tried: Vec<Cell>,
    /// Newer releases left out: yanked, without a wheel, not installable.
    pub skipped: Vec<Skipped>,
    /// The oldest release of the run of passing ones that ends at the
    /// newest: the upgrade.
    pub oldest_passing: Option<String>,
    /// The release just below it, tried and not passing (`None`: the
    /// installed one is below it).
    pub fails_below: Option<String>,
    /// Every release between the two was tried.
    pub narrowed: bool,
    /// Releases that passed below one that failed.
    pub out_of_order: Vec<String>,
    /// Why the releases could not be listed, when they could not.
    #[serde(serialize_with = "as_text")]
    pub index_error: Option<crate::python::InstallError>,
}

/// A package at a version, as installed in a set check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pinned {
    pub name: String,
    pub version: String,
}

/// A recommended set installed together in one fresh environment.
#[derive(Debug, Clone, Serialize)]
pub struct SetCheck {
    pub numpy: String,
    pub packages: Vec<Pinned>,
    /// The one cell: every package's modules imported.
    pub cell: Cell,
}

impl SetCheck {
    pub fn passed(&self) -> bool {
        self.cell.passed()
    }

    /// "numpy 1.26.4, connected-components-3d 3.14.1, pykdtree 1.4.3".
    pub fn set(&self) -> String {
        std::iter::once(format!("numpy {}", self.numpy))
            .chain(
                self.packages
                    .iter()
                    .map(|p| format!("{} {}", p.name, p.version)),
            )
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Everything measured about the fixes.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Remedy {
    /// The NumPy versions of the grids' columns, ascending.
    pub columns: Vec<String>,
    pub grids: Vec<PackageGrid>,
    pub upgrades: Vec<Upgrade>,
    /// The recommended NumPy with every package, installed together.
    pub pin_check: Option<SetCheck>,
    /// The upgrades with every other package, under the installed NumPy.
    pub upgrade_check: Option<SetCheck>,
}

impl Remedy {
    /// Per column (ascending): whether every broken package passes there.
    pub fn verdicts(&self) -> Vec<(String, bool)> {
        self.columns
            .iter()
            .map(|v| {
                let ok = !self.grids.is_empty()
                    && self.grids.iter().all(|g| g.at(v).is_some_and(Cell::passed));
                (v.clone(), ok)
            })
            .collect()
    }

    /// The newest NumPy under which every broken package passes.
    pub fn everything_passes_under(&self) -> Option<String> {
        self.verdicts()
            .into_iter()
            .rev()
            .find(|(_, ok)| *ok)
            .map(|(v, _)| v)
    }

    /// Whether NumPy breaks `name` at its installed version, with its
    /// dependencies installed, under the installed NumPy.
    pub fn numpy_breaks(&self, name: &str, installed_numpy: &str) -> Option<&Cell> {
        self.grids
            .iter()
            .find(|g| g.name == name)
            .and_then(|g| g.at(installed_numpy))
            .filter(|c| (c.ran() && !c.passed()) || c.forbidden)
    }
}

/// What the grids need from the command line and the machine.
pub struct Setup {
    /// The interpreter the user's environment was made from.
    pub interpreter: Interpreter,
    pub installed_numpy: String,
    pub options: PlanOptions,
    pub timeout: std::time::Duration,
    /// Where the grids' matrix files are written (the tool's own).
    pub work: PathBuf,
}

/// Runs one grid and returns its results; `run` drives the plan (the app
/// layer owns progress and signals).
pub type GridRunner<'a> = &'a mut dyn FnMut(
    Arc<crate::plan::Plan>,
    crate::config::Config,
) -> futures::future::BoxFuture<
    'static,
    Result<Document, crate::runner::RunError>,
>;

/// Measures the fixes for `broken`; `healthy` are the packages that import
/// today, installed beside the fixes when they are checked together.
pub async fn measure(
    setup: &Setup,
    broken: &[Package],
    healthy: &[Package],
    runner: GridRunner<'_>,
) -> Result<Remedy, RemedyError> {
    let mut remedy = Remedy::default();
    let numpy_versions = releases(setup, "numpy").await.unwrap_or_default();
    let numpy_versions: Vec<Version> = tryable(setup, &numpy_versions)
        .into_iter()
        .cloned()
        .collect();
    let lowest = lowest_series(&numpy_versions, broken, Some(&setup.interpreter.version));
    let runtime = runtime_requests(&setup.installed_numpy, lowest.as_ref());
    for b in broken {
        let grid = Grid::releases(b, std::slice::from_ref(&b.version), runtime.clone());
        let cells = run_grid(setup, &grid, runner).await?;
        for c in &cells {
            if c.numpy.parse::<Version>().is_ok() && !remedy.columns.contains(&c.numpy) {
                remedy.columns.push(c.numpy.clone());
            }
        }
        remedy.grids.push(PackageGrid {
            name: b.name.clone(),
            version: b.version.clone(),
            cells,
        });
    }
    remedy.columns.sort_by_key(|v| version_key(v));
    let installed = setup.installed_numpy.clone();
    // Only what NumPy breaks needs another release.
    for b in broken {
        if remedy.numpy_breaks(&b.name, &installed).is_some() {
            remedy.upgrades.push(upgrade(setup, b, runner).await?);
        }
    }
    if remedy.upgrades.is_empty() {
        // NumPy breaks none of them: neither a pin nor an upgrade is a fix.
        return Ok(remedy);
    }
    if let Some(numpy) = remedy.everything_passes_under() {
        let set: Vec<Pinned> = broken
            .iter()
            .chain(healthy)
            .map(|p| p.pinned(&p.version))
            .collect();
        let all: Vec<Package> = broken.iter().chain(healthy).cloned().collect();
        remedy.pin_check = Some(check_together(setup, &numpy, &all, set, runner).await?);
    }
    let mut set = Vec::new();
    let mut all = Vec::new();
    for p in broken.iter().chain(healthy) {
        let version = match remedy.upgrades.iter().find(|u| u.name == p.name) {
            Some(u) => match &u.oldest_passing {
                Some(v) => v.clone(),
                // Nothing to upgrade it to: the set cannot hold it.
                None => continue,
            },
            None => p.version.clone(),
        };
        set.push(p.pinned(&version));
        all.push(p.clone());
    }
    if remedy.upgrades.iter().any(|u| u.oldest_passing.is_some()) {
        remedy.upgrade_check = Some(check_together(setup, &installed, &all, set, runner).await?);
    }
    Ok(remedy)
}

/// One remedy grid: requirement rows, NumPy columns, the doctor's probe
/// over `packages` (the rows' own imports are the first's tops), and the
/// requirements installed beside each row.
struct Grid {
    what: String,
    rows: Vec<String>,
    runtime: Vec<String>,
    packages: Vec<Package>,
    beside: Vec<String>,
}

impl Grid {
    /// Releases of one package as rows, each imported alone.
    fn releases(p: &Package, versions: &[String], runtime: Vec<String>) -> Grid {
        Grid {
            what: format!("{} {}", p.name, versions.join(" ")),
            rows: versions
                .iter()
                .map(|v| format!("{}=={v}", p.name))
                .collect(),
            runtime,
            packages: vec![p.clone()],
            beside: Vec::new(),
        }
    }

    /// The grid as a config, made as a value: requirement rows, the
    /// runtime requests, the grid probe over every package's tops (the
    /// first package's are the imports), the others' pins beside the row.
    /// Its name says which grid it is (in the doctor's folder; no file is
    /// written).
    fn config(&self, setup: &Setup) -> Result<crate::config::Config, RemedyError> {
        use crate::extension::{Extension, ProbeOrigin, RowSource, Subject};
        let runtime = self
            .runtime
            .iter()
            .map(|r| r.parse())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| RemedyError::Request {
                what: self.what.clone(),
                error,
            })?;
        let mut tops: Vec<String> = Vec::new();
        for t in self.packages.iter().flat_map(|p| &p.tops) {
            if !tops.contains(t) {
                tops.push(t.clone());
            }
        }
        let extension = Extension {
            subject: Subject::Rows(
                self.rows
                    .iter()
                    .map(|r| RowSource::Requirement(r.clone()))
                    .collect(),
            ),
            imports: self
                .packages
                .first()
                .map(|p| p.tops.clone())
                .unwrap_or_default(),
            probe: grid_probe(&tops),
            probe_origin: ProbeOrigin::Builtin,
            test: None,
            test_requires: self.beside.clone(),
            extras: Vec::new(),
        };
        let path = setup
            .work
            .join(format!("{}.toml", self.what.replace([' ', '/'], "-")));
        Ok(crate::config::Config::of(
            path,
            crate::python::PythonRequest::Path(setup.interpreter.executable.clone()),
            runtime,
            extension,
            // Whole seconds, at least one, as `[run] timeout` takes them.
            std::time::Duration::from_secs(setup.timeout.as_secs().max(1)),
        ))
    }
}

/// The grid probe with the scan's markers and the packages' tops.
pub fn grid_probe(tops: &[String]) -> String {
    format!(
        "MARKERS = {}\nTOPS = {}\n{}",
        serde_json::to_string(&super::scan::MARKERS.to_vec()).unwrap_or_default(),
        serde_json::to_string(tops).unwrap_or_default(),
        include_str!("grid_probe.py")
    )
}

/// Runs `grid`; its cells as the doctor reports them.
async fn run_grid(
    setup: &Setup,
    grid: &Grid,
    runner: GridRunner<'_>,
) -> Result<Vec<Cell>, RemedyError> {
    let config = grid.config(setup)?;
    let plan = crate::plan::make(&config, &setup.options)
        .await
        .map_err(|error| RemedyError::Plan {
            what: grid.what.clone(),
            error: Box::new(error),
        })?;
    let doc = runner(Arc::new(plan), config)
        .await
        .map_err(|error| RemedyError::Run {
            what: grid.what.clone(),
            error,
        })?;
    Ok(doc.cells.iter().map(Cell::of).collect())
}

/// `set` installed together under `numpy` in one fresh environment (the
/// first as the row, the others beside it, dependencies resolved with
/// NumPy pinned), and every package of `all` imported there.
async fn check_together(
    setup: &Setup,
    numpy: &str,
    all: &[Package],
    set: Vec<Pinned>,
    runner: GridRunner<'_>,
) -> Result<SetCheck, RemedyError> {
    let requirement = |p: &Pinned| format!("{}=={}", p.name, p.version);
    let grid = Grid {
        what: format!("together under numpy {numpy}"),
        rows: set.first().map(requirement).into_iter().collect(),
        runtime: vec![numpy.to_string()],
        packages: all.to_vec(),
        beside: set.iter().skip(1).map(requirement).collect(),
    };
    let cells = run_grid(setup, &grid, runner).await?;
    let cell = cells.into_iter().next().unwrap_or_else(|| Cell {
        version: String::new(),
        numpy: numpy.to_string(),
        outcome: OutcomeKind::Unavailable,
        reason: None,
        message: "the grid made no cell".into(),
        error: String::new(),
        forbidden: false,
    });
    Ok(SetCheck {
        numpy: numpy.to_string(),
        packages: set,
        cell,
    })
}

/// The search for the oldest release of `b` that imports under the
/// installed NumPy (see [`super::search`]).
async fn upgrade(
    setup: &Setup,
    b: &Package,
    runner: GridRunner<'_>,
) -> Result<Upgrade, RemedyError> {
    let mut up = Upgrade {
        name: b.name.clone(),
        installed: b.version.clone(),
        max_tries: search::MAX_TRIES,
        ..Upgrade::default()
    };
    let Ok(installed) = Version::from_str(&b.version) else {
        return Ok(up);
    };
    let all = match releases(setup, &b.name).await {
        Ok(all) => all,
        Err(e) => {
            up.index_error = Some(e);
            return Ok(up);
        }
    };
    let newer: Vec<&crate::python::index::Release> = all
        .iter()
        .filter(|r| r.version > installed && !r.version.any_prerelease())
        .collect();
    let candidates: Vec<Version> = tryable(setup, &all)
        .into_iter()
        .filter(|v| **v > installed)
        .cloned()
        .collect();
    for r in &newer {
        let why = match &r.yanked {
            Some(reason) => SkipReason::Yanked {
                reason: reason.clone(),
            },
            None if !candidates.contains(&r.version) => SkipReason::NoWheel,
            None => continue,
        };
        up.skipped.push(Skipped {
            version: r.version.to_string(),
            why,
        });
    }
    up.candidates = candidates.len();
    let mut search = Search::new(candidates, search::MAX_TRIES);
    let runtime = vec![setup.installed_numpy.clone()];
    loop {
        let next = search.next();
        if next.is_empty() {
            break;
        }
        let versions: Vec<String> = next.iter().map(ToString::to_string).collect();
        let grid = Grid::releases(b, &versions, runtime.clone());
        let cells = run_grid(setup, &grid, runner).await?;
        for v in &next {
            let cell = cells.iter().find(|c| c.version == v.to_string());
            let verdict = cell.map_or(Response::NotRun, Cell::verdict);
            search.record(v, verdict);
            if verdict == Response::NotRun {
                up.skipped.push(Skipped {
                    version: v.to_string(),
                    why: SkipReason::NotInstalled {
                        message: cell.map_or_else(
                            || "the grid made no cell for it".to_string(),
                            |c| c.message.clone(),
                        ),
                    },
                });
            }
            if let Some(c) = cell {
                up.tried.push(c.clone());
            }
        }
    }
    up.tried
        .sort_by_key(|c| std::cmp::Reverse(version_key(&c.version)));
    up.skipped
        .sort_by_key(|s| std::cmp::Reverse(version_key(&s.version)));
    let c = search.conclusion();
    up.oldest_passing = c.oldest_passing.map(|v| v.to_string());
    up.fails_below = c.fails_below.map(|v| v.to_string());
    up.narrowed = c.narrowed;
    up.out_of_order = c.out_of_order.iter().map(ToString::to_string).collect();
    Ok(up)
}

/// An error in JSON as its words.
fn as_text<S: serde::Serializer>(
    e: &Option<crate::python::InstallError>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.collect_str(e),
        None => s.serialize_none(),
    }
}

/// A version string as a version to sort by (what does not parse sorts
/// first).
pub fn version_key(v: &str) -> Version {
    v.parse().unwrap_or_else(|_| Version::new([0]))
}

/// Every release of `project` on the index (from the remembered answer
/// when there is one), or why they could not be listed.
async fn releases(
    setup: &Setup,
    project: &str,
) -> Result<Vec<crate::python::index::Release>, crate::python::InstallError> {
    crate::python::index::releases_remembered(
        &setup.interpreter,
        project,
        // The doctor's grids name no index (their Config is ours): the
        // environment's, as uv and pip would use.
        &crate::python::index::Indexes::default(),
        &setup.options.memo,
    )
    .await
}

/// The final, unyanked releases with a wheel for the interpreter, oldest
/// first.
fn tryable<'a>(setup: &Setup, releases: &'a [crate::python::index::Release]) -> Vec<&'a Version> {
    let tags: std::collections::HashSet<&str> =
        setup.interpreter.tags.iter().map(String::as_str).collect();
    let mut out: Vec<&Version> = releases
        .iter()
        .filter(|r| r.yanked.is_none() && !r.version.any_prerelease())
        .filter(|r| !r.wheels.is_empty() && (tags.is_empty() || r.fits(&tags)))
        .map(|r| &r.version)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The newest release of each minor series, newest first, at most `n`.
pub fn newest_of_each_series(versions: &[Version], n: usize) -> Vec<Version> {
    let mut sorted = versions.to_vec();
    sorted.sort();
    let mut out: Vec<Version> = Vec::new();
    for v in sorted.into_iter().rev() {
        if out
            .last()
            .is_none_or(|last| crate::rules::series(last) != crate::rules::series(&v))
        {
            out.push(v);
        }
    }
    out.truncate(n);
    out
}

/// The oldest NumPy minor series any broken package declares for this
/// Python, kept to the newest [`MAX_SERIES`] series on the index.
pub fn lowest_series(
    numpy: &[Version],
    broken: &[Package],
    python: Option<&Version>,
) -> Option<Version> {
    let series = newest_of_each_series(numpy, MAX_SERIES);
    let floor = series.last()?;
    let admitted = |v: &Version| {
        broken.iter().any(|b| {
            let specs = super::scan::declared(&b.numpy_requires, python);
            specs.is_empty() || specs.iter().all(|s| s.contains(v))
        })
    };
    let lowest = series.iter().rev().find(|v| admitted(v)).unwrap_or(floor);
    Some(Version::new([
        crate::rules::series(lowest).0,
        crate::rules::series(lowest).1,
    ]))
}

/// The NumPy requests of the range grid: the installed one, every minor
/// series from `lowest` on, and the newest.
pub fn runtime_requests(installed: &str, lowest: Option<&Version>) -> Vec<String> {
    let mut out = vec![installed.to_string()];
    if let Some(l) = lowest {
        out.push(format!(">={l}"));
    }
    out.push("latest".to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    pub(crate) fn cell(version: &str, numpy: &str, outcome: OutcomeKind) -> Cell {
        Cell {
            version: version.into(),
            numpy: numpy.into(),
            outcome,
            reason: None,
            message: String::new(),
            error: String::new(),
            forbidden: false,
        }
    }

    #[test]
    fn series_are_picked_newest_first() {
        let vs: Vec<Version> = ["2.0.3", "2.1.0", "2.1.4", "2.2.0", "2.2.3", "3.0.0"]
            .iter()
            .map(|s| v(s))
            .collect();
        assert_eq!(
            newest_of_each_series(&vs, 3),
            [v("3.0.0"), v("2.2.3"), v("2.1.4")]
        );
    }

    #[test]
    fn the_range_grid_starts_at_the_oldest_declared_series() {
        let numpy: Vec<Version> = [
            "1.21.6", "1.22.4", "1.23.5", "1.24.4", "1.26.4", "2.0.2", "2.1.3",
        ]
        .iter()
        .map(|s| v(s))
        .collect();
        let broken = |req: &str| Package {
            name: "p".into(),
            version: "1".into(),
            tops: vec![],
            numpy_requires: vec![req.into()],
        };
        assert_eq!(
            lowest_series(&numpy, &[broken("numpy>=1.23.2")], None),
            Some(v("1.23"))
        );
        // Nothing declared: the oldest of the newest series kept.
        assert_eq!(lowest_series(&numpy, &[], None), Some(v("1.21")));
        assert_eq!(
            runtime_requests("2.0.2", Some(&v("1.23"))),
            ["2.0.2", ">=1.23", "latest"]
        );
    }

    #[test]
    fn a_failure_is_numpys_when_its_reason_or_the_row_says_so() {
        use OutcomeKind::*;
        let grid = |cells: Vec<Cell>| PackageGrid {
            name: "p".into(),
            version: "1".into(),
            cells,
        };
        let mut dtype = cell("1", "2.0.2", Fail);
        dtype.reason = Some(FailureReason::DtypeSize);
        let other = Cell {
            reason: Some(FailureReason::Other),
            ..cell("1", "2.0.2", Fail)
        };
        // The same failure under every NumPy: not NumPy's.
        let everywhere = grid(vec![
            Cell {
                numpy: "1.26.4".into(),
                ..other.clone()
            },
            other.clone(),
        ]);
        assert!(!everywhere.numpy_caused(&other));
        // It comes and goes with NumPy: NumPy's.
        let varies = grid(vec![cell("1", "1.26.4", Pass), other.clone()]);
        assert!(varies.numpy_caused(&other));
        assert!(grid(vec![dtype.clone()]).numpy_caused(&dtype));
        assert!(!varies.numpy_caused(&cell("1", "1.26.4", Pass)));
    }

    #[test]
    fn the_newest_column_where_everything_passes_is_the_pin() {
        use OutcomeKind::*;
        let remedy = Remedy {
            columns: vec!["1.26.4".into(), "2.0.2".into(), "2.1.3".into()],
            grids: vec![
                PackageGrid {
                    name: "a".into(),
                    version: "1".into(),
                    cells: vec![
                        cell("1", "1.26.4", Pass),
                        cell("1", "2.0.2", Pass),
                        cell("1", "2.1.3", Fail),
                    ],
                },
                PackageGrid {
                    name: "b".into(),
                    version: "1".into(),
                    cells: vec![
                        cell("1", "1.26.4", Pass),
                        cell("1", "2.0.2", Fail),
                        cell("1", "2.1.3", Pass),
                    ],
                },
            ],
            ..Remedy::default()
        };
        assert_eq!(remedy.everything_passes_under().as_deref(), Some("1.26.4"));
        assert!(remedy.numpy_breaks("a", "2.0.2").is_none());
        assert!(remedy.numpy_breaks("b", "2.0.2").is_some());
    }
}
