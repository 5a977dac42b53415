//! What fixes a broken environment, measured in the tool's own
//! environments, never guessed and never tried in the user's.
//!
//! Two questions, each answered by the grid machinery `matrix run` uses for
//! published packages (requirement rows installed from the index, their
//! dependencies per column with the column's NumPy pinned, the same probe,
//! isolation and classification), so every answer is a real import:
//! - under which NumPy does every broken package, at its installed version,
//!   import? One grid per package (each imports its own modules): the
//!   installed NumPy, the newest release of each minor series from the
//!   oldest any package declares (at most [`MAX_SERIES`]), and the newest.
//!   A column the package's metadata forbids is not run (as in `run`): a
//!   NumPy it admits and fails under is a wrong declaration.
//! - which release of each broken package imports under the installed
//!   NumPy? Its newer releases, newest first, at most [`MAX_TRIES`]: the
//!   newest of each minor series first, then the releases of the oldest
//!   series that passed, so the oldest passing release is found with few
//!   installs.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use pep440_rs::{Version, VersionSpecifiers};
use serde::Serialize;

use crate::outcome::{FailureReason, OutcomeKind};
use crate::plan::PlanOptions;
use crate::python::Interpreter;
use crate::results::{CellDoc, Document};

/// The most minor series of NumPy a grid spans.
pub const MAX_SERIES: usize = 8;
/// The most releases of one package tried under the installed NumPy.
pub const MAX_TRIES: usize = 8;
/// Of those, the most that are the newest of a minor series.
const MAX_SERIES_TRIES: usize = 5;

/// A broken package, as the grids need it.
#[derive(Debug, Clone)]
pub struct Broken {
    pub name: String,
    pub version: String,
    /// Top-level packages holding its C-API modules (the grid's imports).
    pub tops: Vec<String>,
    /// Its `Requires-Dist` lines on numpy.
    pub numpy_requires: Vec<String>,
}

/// Why the remedy could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum RemedyError {
    #[error("the grid for {what} is not a valid matrix: {error}")]
    Config { what: String, error: String },
    #[error("cannot plan the grid for {what}: {error}")]
    Plan {
        what: String,
        error: String,
        hint: Option<&'static str>,
    },
    #[error("cannot run the grid for {what}: {error}")]
    Run { what: String, error: String },
    #[error("cannot write the grid's matrix into {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl RemedyError {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            RemedyError::Plan { hint, .. } => *hint,
            RemedyError::Io { .. } => Some("set TMPDIR to a writable directory"),
            _ => None,
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
    /// The package's metadata forbids this NumPy (so it was not run).
    pub forbidden: bool,
}

impl Cell {
    fn of(c: &CellDoc) -> Cell {
        Cell {
            version: c
                .build
                .rsplit_once(' ')
                .map_or(c.build.clone(), |(_, v)| v.to_string()),
            numpy: c.runtime.clone(),
            outcome: c.outcome,
            reason: c.reason,
            message: c.message.clone(),
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
}

/// The installed version of one broken package under each NumPy.
#[derive(Debug, Clone, Serialize)]
pub struct PackageGrid {
    pub name: String,
    pub version: String,
    pub cells: Vec<Cell>,
}

/// The search for a release that imports under the installed NumPy.
#[derive(Debug, Clone, Serialize)]
pub struct Upgrade {
    pub name: String,
    pub installed: String,
    /// Every release tried, newest first.
    pub tried: Vec<Cell>,
    /// The oldest release of the run of passing ones from the newest.
    pub oldest_passing: Option<String>,
}

/// Everything measured about the fixes.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Remedy {
    /// The NumPy versions of the grids' columns, ascending.
    pub columns: Vec<String>,
    pub grids: Vec<PackageGrid>,
    pub upgrades: Vec<Upgrade>,
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

/// Runs one grid (its matrix as TOML) and returns its results; `run`
/// drives the plan (the app layer owns progress and signals).
pub type GridRunner<'a> =
    &'a mut dyn FnMut(
        Arc<crate::plan::Plan>,
        crate::config::Config,
    ) -> futures::future::BoxFuture<'static, Result<Document, String>>;

/// Measures both remedies for `broken`.
pub async fn measure(
    setup: &Setup,
    broken: &[Broken],
    runner: GridRunner<'_>,
) -> Result<Remedy, RemedyError> {
    let mut remedy = Remedy::default();
    let numpy_versions = releases(setup, "numpy").await;
    let lowest = lowest_series(&numpy_versions, broken, Some(&setup.interpreter.version));
    let runtime = runtime_requests(&setup.installed_numpy, lowest.as_ref());
    for b in broken {
        let toml = matrix(
            setup,
            &[format!("{}=={}", b.name, b.version)],
            &runtime,
            &b.tops,
        );
        let doc = run_grid(setup, &format!("{} {}", b.name, b.version), &toml, runner).await?;
        let cells: Vec<Cell> = doc.cells.iter().map(Cell::of).collect();
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
    remedy
        .columns
        .sort_by_key(|v| v.parse::<Version>().unwrap_or_else(|_| Version::new([0])));
    for b in broken {
        remedy.upgrades.push(upgrade(setup, b, runner).await?);
    }
    Ok(remedy)
}

/// The matrix of one remedy grid: requirement rows, NumPy columns, the
/// doctor's probe.
fn matrix(setup: &Setup, rows: &[String], runtime: &[String], tops: &[String]) -> String {
    let list = |v: &[String]| {
        v.iter()
            .map(|s| toml_string(s))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "[python]\ninterpreter = {}\n\n[numpy]\nruntime = [{}]\n\n[extension]\nrequirements = [{}]\nimports = [{}]\nprobe = {}\n\n[run]\ntimeout = \"{}s\"\n",
        toml_string(&setup.interpreter.executable.to_string_lossy()),
        list(runtime),
        list(rows),
        list(tops),
        toml_string(&grid_probe(tops)),
        setup.timeout.as_secs().max(1),
    )
}

fn toml_string(s: &str) -> String {
    // A JSON string is a valid TOML basic string.
    serde_json::to_string(s).unwrap_or_default()
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

async fn run_grid(
    setup: &Setup,
    what: &str,
    toml: &str,
    runner: GridRunner<'_>,
) -> Result<Document, RemedyError> {
    let path = setup
        .work
        .join(format!("{}.toml", what.replace([' ', '/'], "-")));
    std::fs::write(&path, toml).map_err(|source| RemedyError::Io {
        path: path.clone(),
        source,
    })?;
    let config = crate::config::Config::parse(&path, toml).map_err(|e| RemedyError::Config {
        what: what.to_string(),
        error: e.to_string(),
    })?;
    let plan = crate::plan::make(&config, &setup.options)
        .await
        .map_err(|e| RemedyError::Plan {
            what: what.to_string(),
            error: e.to_string(),
            hint: e.hint(),
        })?;
    runner(Arc::new(plan), config)
        .await
        .map_err(|error| RemedyError::Run {
            what: what.to_string(),
            error,
        })
}

/// The search for a release of `b` that imports under the installed NumPy.
async fn upgrade(
    setup: &Setup,
    b: &Broken,
    runner: GridRunner<'_>,
) -> Result<Upgrade, RemedyError> {
    let mut up = Upgrade {
        name: b.name.clone(),
        installed: b.version.clone(),
        tried: Vec::new(),
        oldest_passing: None,
    };
    let Ok(installed) = Version::from_str(&b.version) else {
        return Ok(up);
    };
    let newer: Vec<Version> = releases(setup, &b.name)
        .await
        .into_iter()
        .filter(|v| *v > installed)
        .collect();
    let first = newest_of_each_series(&newer, MAX_SERIES_TRIES);
    if first.is_empty() {
        return Ok(up);
    }
    let runtime = [setup.installed_numpy.clone()];
    let rows =
        |vs: &[Version]| -> Vec<String> { vs.iter().map(|v| format!("{}=={v}", b.name)).collect() };
    let what = format!("newer {}", b.name);
    let doc = run_grid(
        setup,
        &what,
        &matrix(setup, &rows(&first), &runtime, &b.tops),
        runner,
    )
    .await?;
    up.tried = ordered(&doc, &first);
    let Some(series) = oldest_passing(&up.tried) else {
        return Ok(up);
    };
    up.oldest_passing = Some(series.clone());
    // Within the oldest series that passed: its older releases.
    let Ok(passed) = Version::from_str(&series) else {
        return Ok(up);
    };
    let budget = MAX_TRIES.saturating_sub(first.len());
    let more: Vec<Version> = newer
        .iter()
        .rev()
        .filter(|v| crate::rules::series(v) == crate::rules::series(&passed) && **v < passed)
        .take(budget)
        .cloned()
        .collect();
    if more.is_empty() {
        return Ok(up);
    }
    let doc = run_grid(
        setup,
        &format!("older {}", b.name),
        &matrix(setup, &rows(&more), &runtime, &b.tops),
        runner,
    )
    .await?;
    let second = ordered(&doc, &more);
    // `more` continues the run that ended at `series`, which passed.
    up.oldest_passing = oldest_passing(&second).or(Some(series.clone()));
    let at = up
        .tried
        .iter()
        .position(|c| c.version == series)
        .map_or(up.tried.len(), |i| i + 1);
    up.tried.splice(at..at, second);
    Ok(up)
}

/// The final, unyanked releases of `project` with a wheel for
/// `interpreter`, oldest first (none when the index cannot be reached: the
/// search then has nothing to try, and says so).
async fn releases(setup: &Setup, project: &str) -> Vec<Version> {
    use crate::python::index;
    let interpreter = &setup.interpreter;
    let tags: std::collections::HashSet<&str> =
        interpreter.tags.iter().map(String::as_str).collect();
    let mut out: Vec<Version> =
        index::releases_remembered(interpreter, project, &setup.options.memo)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.yanked.is_none() && !r.version.any_prerelease())
            .filter(|r| !r.wheels.is_empty() && (tags.is_empty() || r.fits(&tags)))
            .map(|r| r.version)
            .collect();
    out.sort();
    out
}

/// The cells of `doc` in the order of `versions` (newest first).
fn ordered(doc: &Document, versions: &[Version]) -> Vec<Cell> {
    let cells: Vec<Cell> = doc.cells.iter().map(Cell::of).collect();
    versions
        .iter()
        .filter_map(|v| cells.iter().find(|c| c.version == v.to_string()).cloned())
        .collect()
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

/// From cells ordered newest first: the oldest of the unbroken run of
/// passes that starts at the newest; releases that did not run (no wheel,
/// forbidden) neither extend nor end it.
pub fn oldest_passing(cells: &[Cell]) -> Option<String> {
    let mut oldest = None;
    for c in cells.iter().filter(|c| c.ran()) {
        if !c.passed() {
            break;
        }
        oldest = Some(c.version.clone());
    }
    oldest
}

/// The oldest NumPy minor series any broken package declares for this
/// Python, kept to the newest [`MAX_SERIES`] series on the index.
pub fn lowest_series(
    numpy: &[Version],
    broken: &[Broken],
    python: Option<&Version>,
) -> Option<Version> {
    let series = newest_of_each_series(numpy, MAX_SERIES);
    let floor = series.last()?;
    let admitted = |v: &Version| {
        broken.iter().any(|b| {
            let specs = declared(&b.numpy_requires, python);
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

/// The specifiers of the `Requires-Dist: numpy ...` lines whose markers
/// hold for `python` (markers other than `python_version` /
/// `python_full_version` comparisons are taken to hold).
pub fn declared(lines: &[String], python: Option<&Version>) -> Vec<VersionSpecifiers> {
    lines
        .iter()
        .filter_map(|line| {
            let (req, marker) = line.split_once(';').unwrap_or((line, ""));
            if !marker_holds(marker, python) {
                return None;
            }
            let spec: String = req
                .trim()
                .trim_start_matches(|c: char| c.is_ascii_alphanumeric() || "-_.".contains(c))
                .chars()
                .filter(|c| !matches!(c, '(' | ')') && !c.is_whitespace())
                .collect();
            if spec.is_empty() {
                return None;
            }
            VersionSpecifiers::from_str(&spec).ok()
        })
        .collect()
}

/// Whether a marker holds for `python` (unknown: it holds), read as the
/// grid reads declarations.
fn marker_holds(marker: &str, python: Option<&Version>) -> bool {
    python.is_none_or(|p| crate::build::python_marker_holds(marker.trim(), p))
}

/// What to do, in words, from the measurements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advice {
    /// "pin numpy<2 (everything passes under 1.26.4)", or why none works.
    pub numpy: Option<String>,
    /// "upgrade pandas to >=2.2.2 (passes under numpy 2.0.2)", per package.
    pub upgrades: Vec<String>,
    /// Packages whose declared NumPy requirement admits a NumPy they fail
    /// under: (name, version, the NumPy versions).
    pub wrong_declarations: Vec<WrongDeclaration>,
    /// Packages installed beside a NumPy their metadata forbids.
    pub violated: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrongDeclaration {
    pub name: String,
    pub version: String,
    pub declared: Vec<String>,
    /// NumPy versions it admits and fails under.
    pub fails_under: Vec<String>,
}

/// The `Requires-Dist: numpy` lines whose markers hold for `python`.
pub fn applicable(lines: &[String], python: Option<&Version>) -> Vec<String> {
    lines
        .iter()
        .filter(|l| marker_holds(l.split_once(';').map_or("", |(_, m)| m), python))
        .cloned()
        .collect()
}

/// The advice `remedy` supports, for `broken` under `installed` NumPy on
/// `python`.
pub fn advise(
    remedy: &Remedy,
    broken: &[Broken],
    installed: &str,
    python: Option<&Version>,
) -> Advice {
    let passes_all = |numpy: &str| {
        !remedy.grids.is_empty()
            && remedy
                .grids
                .iter()
                .all(|g| g.cells.iter().any(|c| c.numpy == numpy && c.passed()))
    };
    let verdicts: Vec<(String, bool)> = remedy
        .columns
        .iter()
        .map(|v| (v.clone(), passes_all(v)))
        .collect();
    let numpy = if remedy.grids.is_empty() {
        None
    } else {
        Some(pin(&verdicts).unwrap_or_else(|| {
            "no NumPy tried makes every broken package import (see the grid)".to_string()
        }))
    };
    let upgrades = remedy
        .upgrades
        .iter()
        .map(|u| match &u.oldest_passing {
            Some(v) => format!(
                "upgrade {} to >={v} (passes under numpy {installed})",
                u.name
            ),
            None if u.tried.is_empty() => format!(
                "no newer release of {} than {} on the index to try",
                u.name, u.installed
            ),
            None => format!(
                "no newer release of {} tried ({}) passes under numpy {installed}",
                u.name,
                u.tried
                    .iter()
                    .map(|c| c.version.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
        .collect();
    let mut wrong_declarations = Vec::new();
    let mut violated = Vec::new();
    for g in &remedy.grids {
        let declared = broken
            .iter()
            .find(|b| b.name == g.name)
            .map(|b| applicable(&b.numpy_requires, python))
            .unwrap_or_default();
        let fails_under: Vec<String> = g
            .cells
            .iter()
            .filter(|c| c.ran() && !c.passed())
            .map(|c| c.numpy.clone())
            .collect();
        if !fails_under.is_empty() {
            wrong_declarations.push(WrongDeclaration {
                name: g.name.clone(),
                version: g.version.clone(),
                declared: declared.clone(),
                fails_under,
            });
        }
        if g.cells.iter().any(|c| c.numpy == installed && c.forbidden) {
            let mut line = format!(
                "{} {}'s metadata forbids the installed numpy {installed}",
                g.name, g.version
            );
            if !declared.is_empty() {
                let _ = write!(line, " (it declares {})", declared.join("; "));
            }
            line.push_str(": it was installed against its declaration (`pip check` says so too)");
            violated.push(line);
        }
    }
    Advice {
        numpy,
        upgrades,
        wrong_declarations,
        violated,
    }
}

/// "pin numpy<2 (everything passes under 1.26.4)" from the columns
/// (ascending) and whether everything passed in each: the unbroken block
/// of passes that holds the newest passing column, bounded by the minor
/// series of its failing neighbours.
pub fn pin(verdicts: &[(String, bool)]) -> Option<String> {
    let last = verdicts.iter().rposition(|(_, ok)| *ok)?;
    let first = verdicts[..last]
        .iter()
        .rposition(|(_, ok)| !*ok)
        .map_or(0, |i| i + 1);
    let series = |v: &str| -> String {
        let parts: Vec<&str> = v.split('.').collect();
        match parts.as_slice() {
            [major, "0", ..] => major.to_string(),
            [major, minor, ..] => format!("{major}.{minor}"),
            _ => v.to_string(),
        }
    };
    let mut bounds = Vec::new();
    if first > 0 {
        let v = &verdicts[first].0;
        let parts: Vec<&str> = v.split('.').collect();
        bounds.push(format!(
            ">={}",
            parts.get(..2).map_or(v.clone(), |p| p.join("."))
        ));
    }
    if let Some((next, _)) = verdicts.get(last + 1) {
        bounds.push(format!("<{}", series(next)));
    }
    let newest = &verdicts[last].0;
    Some(if bounds.is_empty() {
        format!("any numpy tried works; everything passes under {newest}")
    } else {
        format!(
            "pin numpy{} (everything passes under {newest})",
            bounds.join(",")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    fn cell(version: &str, outcome: OutcomeKind) -> Cell {
        Cell {
            version: version.into(),
            numpy: "2.0.2".into(),
            outcome,
            reason: None,
            message: String::new(),
            forbidden: false,
        }
    }

    #[test]
    fn the_pin_is_bounded_by_the_failing_neighbours() {
        let cols = |list: &[(&str, bool)]| -> Vec<(String, bool)> {
            list.iter().map(|(v, ok)| (v.to_string(), *ok)).collect()
        };
        assert_eq!(
            pin(&cols(&[
                ("1.25.2", true),
                ("1.26.4", true),
                ("2.0.2", false),
                ("2.4.1", false)
            ]))
            .as_deref(),
            Some("pin numpy<2 (everything passes under 1.26.4)")
        );
        assert_eq!(
            pin(&cols(&[
                ("1.26.4", false),
                ("2.0.2", true),
                ("2.1.3", true),
                ("2.2.6", false)
            ]))
            .as_deref(),
            Some("pin numpy>=2.0,<2.2 (everything passes under 2.1.3)")
        );
        assert_eq!(pin(&cols(&[("1.26.4", false), ("2.0.2", false)])), None);
        assert_eq!(
            pin(&cols(&[("1.26.4", true)])).as_deref(),
            Some("any numpy tried works; everything passes under 1.26.4")
        );
    }

    #[test]
    fn the_oldest_passing_release_ends_at_the_first_failure() {
        use OutcomeKind::*;
        let cells = [
            cell("3.0.0", Pass),
            cell("2.3.3", Unavailable),
            cell("2.2.3", Pass),
            cell("2.1.4", Fail),
            cell("2.0.0", Pass),
        ];
        assert_eq!(oldest_passing(&cells).as_deref(), Some("2.2.3"));
        assert_eq!(oldest_passing(&[cell("2.1.4", Crash)]), None);
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
    fn declared_requirements_follow_python_version_markers() {
        let lines = vec![
            "numpy (>=1.20.3) ; python_version < \"3.10\"".to_string(),
            "numpy (>=1.21.0) ; python_version >= \"3.10\"".to_string(),
            "numpy (>=1.23.2) ; python_version >= \"3.11\"".to_string(),
        ];
        let specs = declared(&lines, Some(&v("3.11.7")));
        assert_eq!(specs.len(), 2);
        assert!(specs.iter().all(|s| s.contains(&v("1.23.2"))));
        assert!(!specs.iter().all(|s| s.contains(&v("1.22.0"))));
        let specs = declared(&["numpy<1.28.0,>=1.21.6".to_string()], None);
        assert!(specs[0].contains(&v("1.26.4")) && !specs[0].contains(&v("2.0.2")));
    }

    #[test]
    fn the_range_grid_starts_at_the_oldest_declared_series() {
        let numpy: Vec<Version> = [
            "1.21.6", "1.22.4", "1.23.5", "1.24.4", "1.26.4", "2.0.2", "2.1.3",
        ]
        .iter()
        .map(|s| v(s))
        .collect();
        let broken = |req: &str| Broken {
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
    fn advice_names_the_pin_the_upgrade_and_the_wrong_declaration() {
        use OutcomeKind::*;
        let at = |numpy: &str, outcome, forbidden| Cell {
            numpy: numpy.into(),
            forbidden,
            ..cell("2.0.3", outcome)
        };
        let remedy = Remedy {
            columns: vec!["1.26.4".into(), "2.0.2".into()],
            grids: vec![PackageGrid {
                name: "pandas".into(),
                version: "2.0.3".into(),
                cells: vec![at("1.26.4", Pass, false), at("2.0.2", Fail, false)],
            }],
            upgrades: vec![Upgrade {
                name: "pandas".into(),
                installed: "2.0.3".into(),
                tried: vec![cell("2.2.2", Pass)],
                oldest_passing: Some("2.2.2".into()),
            }],
        };
        let broken = [Broken {
            name: "pandas".into(),
            version: "2.0.3".into(),
            tops: vec!["pandas".into()],
            numpy_requires: vec![
                "numpy>=1.23.2; python_version >= \"3.11\"".into(),
                "numpy>=1.21; python_version < \"3.11\"".into(),
            ],
        }];
        let a = advise(&remedy, &broken, "2.0.2", Some(&v("3.11.7")));
        assert_eq!(
            a.numpy.as_deref(),
            Some("pin numpy<2 (everything passes under 1.26.4)")
        );
        assert_eq!(
            a.upgrades,
            ["upgrade pandas to >=2.2.2 (passes under numpy 2.0.2)"]
        );
        assert_eq!(a.wrong_declarations.len(), 1);
        assert_eq!(a.wrong_declarations[0].fails_under, ["2.0.2"]);
        // Only the declaration that applies to this Python is quoted.
        assert_eq!(
            a.wrong_declarations[0].declared,
            ["numpy>=1.23.2; python_version >= \"3.11\""]
        );
        assert!(a.violated.is_empty());
    }
}
