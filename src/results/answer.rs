//! The answer a maintainer asks for, read off the grid: per build row, the
//! runtime NumPy range it works on (as PEP 440 specifiers one could
//! declare), and per runtime column, the oldest build it runs. The grid
//! says the same cell by cell; at dozens of releases per axis nobody reads
//! it that way.
//!
//! Only what was measured counts. A cell that passed is a release the row
//! works on; one that failed, crashed or timed out is one it does not. A
//! build that failed or a cell that could not run (no wheel, forbidden by
//! the package's metadata) says nothing about the runtime: those are
//! counted and said apart, never folded into a range. Bounds are tested
//! releases, never guessed ones: nothing older than the oldest tested
//! release is claimed, and the upper bound is the lowest failing release
//! that was tested.
//!
//! Pure: a function of a [`Document`], rendered by every format.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;
use serde::Serialize;

use super::document::{AxisDoc, Document, GridDoc};
use crate::outcome::{OutcomeKind, Unavailability};
use crate::python::abi::abi3_of_tag;

/// The answer for one grid (one interpreter).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct GridAnswer {
    pub grid: usize,
    pub interpreter: String,
    /// One per build row, in the grid's order.
    pub rows: Vec<RowAnswer>,
    /// One per runtime column that resolved to a release, in the grid's order.
    pub columns: Vec<ColumnAnswer>,
}

/// Which runtime releases one build row (or package row) works on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct RowAnswer {
    /// The row's label: the build's NumPy version, or a package ("pandas 2.0.3").
    pub build: String,
    /// A published package rather than a build against a NumPy version.
    pub package: bool,
    pub works: Works,
    /// Cells that ran (pass, fail, crash, timeout) under a resolved release.
    pub tested: usize,
    pub passed: usize,
    /// Cells that are no evidence about the runtime, counted apart.
    pub build_failed: usize,
    pub unavailable: usize,
    /// Built only because of `--ignore-requires` (its build requirements
    /// forbid its NumPy): the range is of a build no user can have.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
}

/// The shape of the releases a row works on, in tested order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Works {
    /// No cell of the row ran: nothing is known about the runtime.
    Untested,
    /// Cells ran and none passed.
    Nowhere,
    /// One interval: from the lowest passing release up to (not including)
    /// the lowest failing release above it, if one was tested.
    Range {
        #[cfg_attr(test, schemars(with = "String"))]
        from: Version,
        #[cfg_attr(test, schemars(with = "Option<String>"))]
        below: Option<Version>,
    },
    /// The passing releases are not one interval: failures sit between.
    Holes { passes: Vec<Span>, fails: Vec<Span> },
}

/// A run of consecutive tested releases with the same verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Span {
    #[cfg_attr(test, schemars(with = "String"))]
    pub first: Version,
    #[cfg_attr(test, schemars(with = "String"))]
    pub last: Version,
}

/// Which builds one runtime column runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ColumnAnswer {
    /// The runtime NumPy release.
    pub runtime: String,
    pub runs: Runs,
    /// Rows that ran under this release.
    pub tested: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Runs {
    /// No row ran under this release (every build failed, say).
    NothingRan,
    /// Builds ran; none passed.
    NoBuild,
    /// Builds against NumPy: the oldest that works, and the newer ones that
    /// ran and did not.
    From { oldest: String, except: Vec<String> },
    /// Package rows have no order worth a "from": the ones that work.
    Packages { works: Vec<String> },
}

/// The answer of every grid of `doc`.
pub fn answer(doc: &Document) -> Vec<GridAnswer> {
    (0..doc.grids.len()).map(|i| of_grid(doc, i)).collect()
}

/// A verdict of one cell, as evidence: `Some(true)` works, `Some(false)`
/// does not, `None` says nothing about the runtime.
fn evidence(kind: OutcomeKind) -> Option<bool> {
    match kind {
        OutcomeKind::Pass => Some(true),
        OutcomeKind::Fail | OutcomeKind::Crash | OutcomeKind::Timeout => Some(false),
        OutcomeKind::BuildFailed | OutcomeKind::Unavailable => None,
    }
}

/// The answer of grid `index` of `doc` (empty for a grid that is not there).
pub fn of_grid(doc: &Document, index: usize) -> GridAnswer {
    let Some(grid) = doc.grids.get(index) else {
        return GridAnswer {
            grid: index,
            interpreter: String::new(),
            rows: Vec::new(),
            columns: Vec::new(),
        };
    };
    let package = doc.has_package_rows();
    let outcome = outcomes_by_position(doc, grid, index);
    let runtime_versions: Vec<Option<Version>> =
        grid.axes.runtime.iter().map(AxisDoc::version).collect();
    // A run that `-k` narrowed answers for what it selected: a row or
    // column with no selected cell is left out, not called untested.
    let selected = |row: Option<usize>, column: Option<usize>| {
        doc.selected.is_empty()
            || outcome.keys().any(|&(b, r)| {
                row.is_none_or(|want| want == b) && column.is_none_or(|want| want == r)
            })
    };
    let rows = grid
        .axes
        .build
        .iter()
        .enumerate()
        .filter(|(b, _)| selected(Some(*b), None))
        .map(|(b, axis)| {
            let mut tested = Vec::new();
            let (mut build_failed, mut unavailable) = (0, 0);
            for (r, version) in runtime_versions.iter().enumerate() {
                let Some(&kind) = outcome.get(&(b, r)) else {
                    continue;
                };
                match (evidence(kind), version) {
                    (Some(works), Some(v)) => tested.push((v.clone(), works)),
                    // A column that ran always has a release; skip one without.
                    (Some(_), None) => {}
                    (None, _) if kind == OutcomeKind::BuildFailed => build_failed += 1,
                    (None, _) => unavailable += 1,
                }
            }
            let tested = merge_same(tested);
            RowAnswer {
                build: axis.label().to_string(),
                package,
                passed: tested.iter().filter(|t| t.1).count(),
                tested: tested.len(),
                works: works(&tested),
                build_failed,
                unavailable,
                forced: grid
                    .builds
                    .iter()
                    .any(|x| x.numpy == axis.label() && x.forced.is_some()),
            }
        })
        .collect();
    let columns = column_answers(grid, &outcome, &runtime_versions, package, &selected);
    GridAnswer {
        grid: index,
        interpreter: grid.interpreter.label.clone(),
        rows,
        columns,
    }
}

/// Each cell's outcome in grid `index` by its (row, column) position.
fn outcomes_by_position(
    doc: &Document,
    grid: &GridDoc,
    index: usize,
) -> HashMap<(usize, usize), OutcomeKind> {
    // Each cell's outcome by (row, column) position: one pass over the
    // cells, not a search per pair (grids of every release are large).
    // Reversed so a label listed twice maps to its first entry, as
    // `CellDoc::position` does.
    let rows_at: HashMap<&str, usize> = grid
        .axes
        .build
        .iter()
        .enumerate()
        .map(|(i, a)| (a.label(), i))
        .rev()
        .collect();
    let columns_at: HashMap<&str, usize> = grid
        .axes
        .runtime
        .iter()
        .enumerate()
        .map(|(i, a)| (a.label(), i))
        .rev()
        .collect();
    let mut outcome: HashMap<(usize, usize), OutcomeKind> = HashMap::new();
    for c in doc.cells.iter().filter(|c| c.grid == index) {
        if let (Some(&b), Some(&r)) = (
            rows_at.get(c.build.as_str()),
            columns_at.get(c.runtime.as_str()),
        ) {
            outcome.insert((b, r), c.outcome);
        }
    }
    outcome
}

/// What runs under each column (a selected column with a release).
fn column_answers(
    grid: &GridDoc,
    outcome: &HashMap<(usize, usize), OutcomeKind>,
    runtime_versions: &[Option<Version>],
    package: bool,
    selected: &dyn Fn(Option<usize>, Option<usize>) -> bool,
) -> Vec<ColumnAnswer> {
    // Builds in version order for "from ... up"; package rows in the grid's.
    let mut builds: Vec<(usize, Option<Version>)> = grid
        .axes
        .build
        .iter()
        .enumerate()
        .map(|(i, a)| (i, a.version()))
        .collect();
    if !package {
        builds.retain(|b| b.1.is_some());
        builds.sort_by(|a, b| a.1.cmp(&b.1));
    }
    runtime_versions
        .iter()
        .enumerate()
        .filter(|(r, v)| v.is_some() && selected(None, Some(*r)))
        .map(|(r, _)| {
            let ran: Vec<(usize, bool)> = builds
                .iter()
                .filter_map(|(b, _)| {
                    outcome
                        .get(&(*b, r))
                        .and_then(|k| evidence(*k))
                        .map(|w| (*b, w))
                })
                .collect();
            let label = |b: usize| grid.axes.build[b].label().to_string();
            let runs = match ran.iter().position(|(_, w)| *w) {
                _ if ran.is_empty() => Runs::NothingRan,
                _ if package => Runs::Packages {
                    works: ran.iter().filter(|x| x.1).map(|x| label(x.0)).collect(),
                },
                None => Runs::NoBuild,
                Some(first) => Runs::From {
                    oldest: label(ran[first].0),
                    except: ran[first..]
                        .iter()
                        .filter(|x| !x.1)
                        .map(|x| label(x.0))
                        .collect(),
                },
            };
            ColumnAnswer {
                runtime: grid.axes.runtime[r].label().to_string(),
                runs,
                tested: ran.len(),
            }
        })
        .collect()
}

/// Sorted by version, one entry per release: a release listed twice (two
/// requests resolved to it) works only if it worked every time.
fn merge_same(mut tested: Vec<(Version, bool)>) -> Vec<(Version, bool)> {
    tested.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(Version, bool)> = Vec::with_capacity(tested.len());
    for (v, w) in tested {
        match out.last_mut() {
            Some(last) if last.0 == v => last.1 &= w,
            _ => out.push((v, w)),
        }
    }
    out
}

/// The shape of the passing releases among `tested` (release, works), in
/// any order.
pub fn works(tested: &[(Version, bool)]) -> Works {
    let tested = merge_same(tested.to_vec());
    let (Some(first), Some(last)) = (
        tested.iter().position(|t| t.1),
        tested.iter().rposition(|t| t.1),
    ) else {
        return if tested.is_empty() {
            Works::Untested
        } else {
            Works::Nowhere
        };
    };
    if tested[first..=last].iter().all(|t| t.1) {
        return Works::Range {
            from: tested[first].0.clone(),
            below: tested.get(last + 1).map(|t| t.0.clone()),
        };
    }
    // Runs of equal verdicts, in tested order.
    let (mut passes, mut fails) = (Vec::new(), Vec::new());
    let mut start = 0;
    for i in 1..=tested.len() {
        if i == tested.len() || tested[i].1 != tested[start].1 {
            let span = Span {
                first: tested[start].0.clone(),
                last: tested[i - 1].0.clone(),
            };
            if tested[start].1 {
                passes.push(span);
            } else {
                fails.push(span);
            }
            start = i;
        }
    }
    Works::Holes { passes, fails }
}

impl Works {
    /// The PEP 440 specifiers of a range (">=1.26.4,<2.1.3"); none for
    /// other shapes.
    pub fn specifiers(&self) -> Option<String> {
        match self {
            Works::Range { from, below: None } => Some(format!(">={from}")),
            Works::Range {
                from,
                below: Some(below),
            } => Some(format!(">={from},<{below}")),
            _ => None,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}–{}", self.first, self.last)
        }
    }
}

/// "a", "a and b", "a, b and c".
fn and_list<T: fmt::Display>(items: &[T]) -> String {
    let words: Vec<String> = items.iter().map(ToString::to_string).collect();
    match words.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl fmt::Display for RowAnswer {
    /// "built against 2.0.2: works on numpy >=1.23.5 (15 of 15 tested releases pass)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let forced = if self.forced {
            format!(" ({})", super::declared::FORCED)
        } else {
            String::new()
        };
        if self.package {
            write!(f, "{}{forced}: ", self.build)?;
        } else {
            write!(f, "built against {}{forced}: ", self.build)?;
        }
        let pass = if self.passed == 1 && self.tested == 1 {
            "passes"
        } else {
            "pass"
        };
        let counts = format!(
            "({} of {} {pass})",
            self.passed,
            plural(self.tested, "tested release", "tested releases")
        );
        match &self.works {
            Works::Untested if self.unavailable == 0 && self.build_failed > 0 => {
                return write!(
                    f,
                    "did not build ({}), so no runtime was tested",
                    plural(self.build_failed, "cell build-failed", "cells build-failed")
                );
            }
            Works::Untested => write!(f, "no runtime was tested")?,
            Works::Nowhere if self.tested == 1 => {
                write!(f, "does not work on the one tested release")?
            }
            Works::Nowhere => write!(f, "works on none of the {} tested releases", self.tested)?,
            Works::Range { .. } => write!(
                f,
                "works on numpy {} {counts}",
                self.works.specifiers().unwrap_or_default()
            )?,
            Works::Holes { passes, fails } => write!(
                f,
                "not one range: passes {}; fails {} {counts}",
                and_list(passes),
                and_list(fails)
            )?,
        }
        let mut apart = Vec::new();
        if self.build_failed > 0 {
            apart.push(format!("{} build-failed", self.build_failed));
        }
        if self.unavailable > 0 {
            apart.push(format!("{} unavailable", self.unavailable));
        }
        if !apart.is_empty() {
            write!(f, "; not counted: {}", and_list(&apart))?;
        }
        Ok(())
    }
}

impl fmt::Display for ColumnAnswer {
    /// "numpy 2.2.6 runs builds from 2.0.2 up".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let runtime = &self.runtime;
        match &self.runs {
            Runs::NothingRan => write!(f, "numpy {runtime}: nothing ran under it"),
            Runs::NoBuild => write!(
                f,
                "numpy {runtime}: no tested build works ({} ran)",
                self.tested
            ),
            Runs::From { oldest, except } if except.is_empty() => {
                write!(f, "numpy {runtime} runs builds from {oldest} up")
            }
            Runs::From { oldest, except } => write!(
                f,
                "numpy {runtime} runs builds from {oldest} up, except {}",
                and_list(except)
            ),
            Runs::Packages { works } if works.is_empty() => write!(
                f,
                "numpy {runtime} runs none of the {} that ran under it",
                plural(self.tested, "package", "packages"),
            ),
            Runs::Packages { works } => write!(
                f,
                "numpy {runtime} runs {} of {}: {}",
                works.len(),
                plural(self.tested, "package", "packages"),
                and_list(works)
            ),
        }
    }
}

impl GridAnswer {
    /// Every line of the answer: rows first, then columns.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.rows
            .iter()
            .map(ToString::to_string)
            .chain(self.columns.iter().map(ToString::to_string))
    }
}

/// One row built once and imported under several Pythons (an abi3 build
/// with `limited-api`, or a published abi3 wheel every Python installed):
/// what it works on across them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct SharedRowAnswer {
    /// The row's label: the build's NumPy version, or the published row.
    pub build: String,
    /// The Python that built it ("3.9"); `None` for a published wheel.
    pub built_on: Option<String>,
    /// A published row's wheel tag, the same under every Python that
    /// installed it ("cp39-abi3-manylinux_2_17_x86_64"); `None` for a build.
    pub wheel: Option<String>,
    /// The Pythons under which a cell of the row ran, oldest first.
    pub tested_pythons: Vec<String>,
    /// The Pythons that cannot load it: every cell there unavailable for
    /// Python's ABI (below the row's abi3 version, free-threaded).
    pub not_loaded: Vec<String>,
    /// The Pythons where no cell of it ran for any other reason (no NumPy
    /// wheel for that Python, a row its install could not make): nothing
    /// said about loading.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<String>,
    /// What it works on, when every Python that ran a NumPy agrees on it:
    /// the releases of every Python together. `None`: they disagree (see
    /// `by_python`).
    pub works: Option<Works>,
    /// Each tested Python's own answer, in `tested_pythons`' order.
    pub by_python: Vec<PythonWorks>,
    /// (Release, Python) cells that ran, and how many passed.
    pub tested: usize,
    pub passed: usize,
}

/// One Python's answer for a shared row.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PythonWorks {
    pub python: String,
    pub works: Works,
}

/// "3.12" of a grid's interpreter.
pub fn minor_of(grid: &GridDoc) -> String {
    grid.interpreter
        .version
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".")
}

/// The answers of the rows shared across Pythons, one per row of the grid
/// that built them; empty when no grid's rows are shared.
pub fn across_pythons(doc: &Document) -> Vec<SharedRowAnswer> {
    let Some(builder) = doc.grids.iter().find_map(|g| g.built_on.clone()) else {
        return published_abi3(doc);
    };
    let Some(home) = doc.grids.iter().find(|g| g.interpreter.label == builder) else {
        return Vec::new();
    };
    let mut sharing: Vec<(usize, &GridDoc)> = doc
        .grids
        .iter()
        .enumerate()
        .filter(|(_, g)| g.built_on.as_deref() == Some(builder.as_str()))
        .collect();
    sharing.sort_by_key(|(_, g)| Version::from_str(&g.interpreter.version).ok());
    home.axes
        .build
        .iter()
        .map(|row| {
            let mut answer = shared_row(doc, &sharing, row.label());
            answer.built_on = Some(minor_of(home));
            answer
        })
        .collect()
}

/// A project every Python of the run built for itself although each of its
/// wheels came out `abi3` for the same limited API (its build files declare
/// it where abimatrix does not read them, and the run was a shard, a
/// `--python` run or a build job, which ask no wheel first): that version,
/// which declared with `limited-api` would have the project built once in
/// every kind of run. `None` when the rows were shared, or any build's
/// wheel is not abi3.
pub fn undeclared_abi3(doc: &Document) -> Option<crate::python::abi::LimitedApi> {
    if doc.subject.as_deref() != Some("project") || doc.grids.iter().any(|g| g.built_on.is_some()) {
        return None;
    }
    let mut building = 0;
    let mut limited = None;
    for grid in &doc.grids {
        let made: Vec<_> = grid.builds.iter().filter(|b| b.ok).collect();
        building += usize::from(!made.is_empty());
        for b in made {
            let floor = b.tag.as_deref().and_then(abi3_of_tag)?;
            if limited.is_some_and(|l| l != floor) {
                return None;
            }
            limited = Some(floor);
        }
    }
    limited.filter(|_| building >= 2)
}

/// Published rows every Python installed as one and the same abi3 wheel
/// (its tag the same in every grid that installed it, two grids at least):
/// one row across Pythons, as a build made once is. A row some Python
/// installed as its own wheel (`cp312-cp312`) stays that Python's.
fn published_abi3(doc: &Document) -> Vec<SharedRowAnswer> {
    // A project's rows are each Python's own builds, abi3 or not.
    if !doc.has_package_rows() {
        return Vec::new();
    }
    let mut tags: Vec<(&str, Option<&str>, usize)> = Vec::new();
    for grid in &doc.grids {
        for b in grid.builds.iter().filter(|b| b.ok) {
            let tag = b.tag.as_deref();
            match tags.iter_mut().find(|(row, ..)| *row == b.numpy) {
                Some(seen) if seen.1 == tag => seen.2 += 1,
                Some(seen) => seen.1 = None,
                None => tags.push((&b.numpy, tag, 1)),
            }
        }
    }
    let mut sharing: Vec<(usize, &GridDoc)> = doc.grids.iter().enumerate().collect();
    sharing.sort_by_key(|(_, g)| Version::from_str(&g.interpreter.version).ok());
    tags.into_iter()
        .filter(|(_, tag, grids)| *grids >= 2 && tag.is_some_and(|t| abi3_of_tag(t).is_some()))
        .map(|(row, tag, _)| {
            let mut answer = shared_row(doc, &sharing, row);
            answer.wheel = tag.map(str::to_string);
            answer
        })
        .collect()
}

fn shared_row(doc: &Document, sharing: &[(usize, &GridDoc)], row: &str) -> SharedRowAnswer {
    let mut tested_pythons = Vec::new();
    let mut not_loaded = Vec::new();
    let mut not_run = Vec::new();
    let mut by_python = Vec::new();
    let mut all: Vec<(Version, bool)> = Vec::new();
    for &(index, grid) in sharing {
        let versions: HashMap<&str, Option<Version>> = grid
            .axes
            .runtime
            .iter()
            .map(|a| (a.label(), a.version()))
            .collect();
        let mut tested = Vec::new();
        let mut ran_any = false;
        let mut held = false;
        let mut python_abi = true;
        for c in doc
            .cells
            .iter()
            .filter(|c| c.grid == index && c.build == row)
        {
            held = true;
            python_abi &= c.unavailable == Some(Unavailability::PythonAbi);
            if let (Some(works), Some(Some(v))) =
                (evidence(c.outcome), versions.get(c.runtime.as_str()))
            {
                tested.push((v.clone(), works));
                ran_any = true;
            }
        }
        let python = minor_of(grid);
        if !held {
            // Not run here (a shard's or `--python`'s other Pythons, a
            // cell `-k` did not pick): says nothing about loading.
            continue;
        }
        if !ran_any {
            // "Cannot load it" is Python's rule, and only its cells say so;
            // a Python with no NumPy wheel for the column never tried.
            if python_abi {
                not_loaded.push(python);
            } else {
                not_run.push(python);
            }
            continue;
        }
        all.extend(tested.iter().cloned());
        by_python.push(PythonWorks {
            python: python.clone(),
            works: works(&tested),
        });
        tested_pythons.push(python);
    }
    // The Pythons agree when no release passed under one and failed under
    // another: then one answer over every Python's releases says it all.
    let mut verdicts: HashMap<&Version, (bool, bool)> = HashMap::new();
    for (v, w) in &all {
        let e = verdicts.entry(v).or_default();
        if *w { e.0 = true } else { e.1 = true }
    }
    let agree = verdicts.values().all(|(pass, fail)| !(*pass && *fail));
    SharedRowAnswer {
        build: row.to_string(),
        built_on: None,
        wheel: None,
        tested_pythons,
        not_loaded,
        not_run,
        works: agree.then(|| works(&all)),
        by_python,
        tested: all.len(),
        passed: all.iter().filter(|t| t.1).count(),
    }
}

impl fmt::Display for SharedRowAnswer {
    /// "built on 3.9 against 2.0.2: works on Python >=3.9 (3.9, 3.11, 3.12
    /// and 3.13 tested) with numpy >=1.26.4 (10 of 10 cells pass); 3.8
    /// cannot load it".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.built_on, &self.wheel) {
            (Some(python), _) => write!(f, "built on {python} against {}: ", self.build)?,
            // "cp39-abi3-manylinux_2_17_x86_64" -> "cp39-abi3".
            (None, Some(tag)) => write!(
                f,
                "{} ({} wheel): ",
                self.build,
                tag.splitn(3, '-').take(2).collect::<Vec<_>>().join("-")
            )?,
            (None, None) => write!(f, "{}: ", self.build)?,
        }
        let pythons = format!(
            "Python >={} ({} tested)",
            self.tested_pythons.first().map_or("?", String::as_str),
            and_list(&self.tested_pythons)
        );
        match &self.works {
            _ if self.tested_pythons.is_empty() => write!(f, "no Python ran it")?,
            Some(Works::Nowhere) => write!(f, "works under no tested Python and NumPy")?,
            Some(works @ Works::Range { .. }) => write!(
                f,
                "works on {pythons} with numpy {} ({} of {} pass)",
                works.specifiers().unwrap_or_default(),
                self.passed,
                plural(self.tested, "cell", "cells")
            )?,
            Some(Works::Holes { passes, fails }) => write!(
                f,
                "on {pythons}, not one NumPy range: passes {}; fails {}",
                and_list(passes),
                and_list(fails)
            )?,
            Some(Works::Untested) => write!(f, "no runtime was tested")?,
            None => {
                let each: Vec<String> = self
                    .by_python
                    .iter()
                    .map(|p| match p.works.specifiers() {
                        Some(s) => format!("{} numpy {s}", p.python),
                        None if p.works == Works::Nowhere => format!("{} nowhere", p.python),
                        None => format!("{} not one range", p.python),
                    })
                    .collect();
                write!(f, "differs by Python: {}", each.join("; "))?;
            }
        }
        // A build's Python gap is Python's rule; a published row that ran
        // nowhere under a Python may only have had no wheel there.
        let (cannot, none_ran): (&[String], Vec<&String>) = match self.built_on {
            Some(_) => (&self.not_loaded, self.not_run.iter().collect()),
            None => (&[], self.not_loaded.iter().chain(&self.not_run).collect()),
        };
        if !cannot.is_empty() {
            write!(f, "; {} cannot load it", and_list(cannot))?;
        }
        if !none_ran.is_empty() {
            write!(f, "; no cell ran under {}", and_list(&none_ran))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::document::tests::{cell, document};
    use pep440_rs::VersionSpecifiers;

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    /// Grids of 3.8, 3.9 and 3.12 sharing the rows 3.9 built (in that
    /// order of grids: 3.9 first, as the plan puts the build Python
    /// anywhere), each cell `(grid, build, runtime, outcome)`; an
    /// unavailable cell is so for Python's ABI, as the rows' gap under 3.8
    /// is in a real run.
    fn shared(cells: &[(usize, &str, &str, OutcomeKind)]) -> Document {
        use crate::results::document::tests::interpreter;
        let mut doc = document(
            cells
                .iter()
                .map(|&(g, b, r, k)| {
                    let mut c = cell(b, r, k);
                    c.grid = g;
                    if k == OutcomeKind::Unavailable {
                        c.unavailable = Some(Unavailability::PythonAbi);
                    }
                    c
                })
                .collect(),
        );
        let mut base = doc.grids[0].clone();
        base.built_on = Some("CPython 3.9.18".into());
        doc.grids = ["CPython 3.9.18", "CPython 3.12.1", "CPython 3.8.18"]
            .iter()
            .map(|label| {
                let mut g = base.clone();
                g.interpreter = interpreter(label);
                g
            })
            .collect();
        doc
    }

    /// `shared`'s grids as published rows: no Python built them; each
    /// grid installed `pyerfa 2.0.1.5` with the tag given for it (`None`:
    /// its install failed).
    fn published(tags: [Option<&str>; 3], cells: &[(usize, &str, &str, OutcomeKind)]) -> Document {
        let mut doc = shared(cells);
        doc.subject = Some("packages".into());
        for (grid, tag) in doc.grids.iter_mut().zip(tags) {
            grid.built_on = None;
            grid.builds = vec![crate::results::document::BuildDoc {
                numpy: "pyerfa 2.0.1.5".into(),
                ok: tag.is_some(),
                reused: false,
                summary: String::new(),
                duration_s: 0.0,
                log: String::new(),
                declares: None,
                forced: None,
                python: None,
                tag: tag.map(str::to_string),
            }];
        }
        doc
    }

    #[test]
    fn a_published_abi3_wheel_every_python_installed_is_one_row_across_pythons() {
        use OutcomeKind::*;
        let row = "pyerfa 2.0.1.5";
        let cells = [
            (0, row, "1.26.4", Pass),
            (0, row, "2.0.2", Pass),
            (1, row, "2.0.2", Pass),
            (2, row, "2.0.2", BuildFailed),
        ];
        let abi3 = Some("cp39-abi3-manylinux_2_17_x86_64");
        let rows = across_pythons(&published([abi3, abi3, None], &cells));
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].to_string(),
            "pyerfa 2.0.1.5 (cp39-abi3 wheel): works on Python >=3.9 (3.9 and 3.12 tested) with numpy >=1.26.4 (3 of 3 cells pass); no cell ran under 3.8"
        );
        assert_eq!(rows[0].wheel.as_deref(), abi3);
        assert_eq!(rows[0].built_on, None);
        // A wheel for one Python, or a different wheel under another, is
        // each Python's own row.
        let own = Some("cp312-cp312-manylinux_2_17_x86_64");
        assert!(across_pythons(&published([own, own, None], &cells)).is_empty());
        assert!(
            across_pythons(&published(
                [abi3, Some("cp310-abi3-linux_x86_64"), None],
                &cells
            ))
            .is_empty()
        );
        // One Python alone shares nothing; a project's rows are each
        // Python's own builds, abi3 or not.
        assert!(across_pythons(&published([abi3, None, None], &cells)).is_empty());
        let mut project = published([abi3, abi3, None], &cells);
        project.subject = Some("project".into());
        assert!(across_pythons(&project).is_empty());
    }

    #[test]
    fn a_project_each_python_built_as_abi3_is_named_for_limited_api() {
        let abi3 = Some("cp39-abi3-linux_x86_64");
        let project = |tags: [Option<&str>; 3]| {
            let mut doc = published(tags, &[]);
            doc.subject = Some("project".into());
            doc
        };
        let found = undeclared_abi3(&project([abi3, abi3, None])).map(|l| l.to_string());
        assert_eq!(found.as_deref(), Some("3.9"));
        // One Python's own wheel, two limited APIs, one Python, published
        // rows, or rows already built once: nothing to say.
        assert_eq!(
            undeclared_abi3(&project([abi3, Some("cp312-cp312-linux_x86_64"), None])),
            None
        );
        assert_eq!(
            undeclared_abi3(&project([abi3, Some("cp310-abi3-linux_x86_64"), None])),
            None
        );
        assert_eq!(undeclared_abi3(&project([abi3, None, None])), None);
        assert_eq!(undeclared_abi3(&published([abi3, abi3, None], &[])), None);
        let mut shared = project([abi3, abi3, None]);
        shared.grids[0].built_on = Some("CPython 3.9.18".into());
        assert_eq!(undeclared_abi3(&shared), None);
    }

    #[test]
    fn a_shared_row_gets_one_answer_with_its_pythons_when_they_agree() {
        use OutcomeKind::*;
        let doc = shared(&[
            (0, "2.0.2", "1.26.4", Fail),
            (0, "2.0.2", "2.0.2", Pass),
            (1, "2.0.2", "2.0.2", Pass),
            (1, "2.0.2", "2.1.3", Pass),
            (2, "2.0.2", "1.26.4", Unavailable),
            (2, "2.0.2", "2.0.2", Unavailable),
        ]);
        let rows = across_pythons(&doc);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].to_string(),
            "built on 3.9 against 2.0.2: works on Python >=3.9 (3.9 and 3.12 tested) with numpy >=2.0.2 (3 of 4 cells pass); 3.8 cannot load it"
        );
        assert_eq!(rows[0].tested_pythons, ["3.9", "3.12"]);
    }

    #[test]
    fn pythons_that_disagree_on_a_release_are_answered_each_on_its_own() {
        use OutcomeKind::*;
        let doc = shared(&[
            (0, "2.0.2", "2.0.2", Pass),
            (1, "2.0.2", "2.0.2", Crash),
            (2, "2.0.2", "2.0.2", Unavailable),
        ]);
        let rows = across_pythons(&doc);
        assert_eq!(rows[0].works, None);
        assert_eq!(
            rows[0].to_string(),
            "built on 3.9 against 2.0.2: differs by Python: 3.9 numpy >=2.0.2; 3.12 nowhere; 3.8 cannot load it"
        );
    }

    /// A Python whose cells these results do not hold (a shard's, or
    /// `--python`'s, other Pythons; cells `-k` did not pick) neither ran the
    /// row nor failed to load it: it is left out, not "cannot load it".
    #[test]
    fn a_python_without_cells_here_is_not_one_that_cannot_load() {
        use OutcomeKind::*;
        let doc = shared(&[
            (1, "2.0.2", "2.0.2", Pass),
            (2, "2.0.2", "2.0.2", Unavailable),
        ]);
        let rows = across_pythons(&doc);
        assert_eq!(
            rows[0].to_string(),
            "built on 3.9 against 2.0.2: works on Python >=3.12 (3.12 tested) with numpy >=2.0.2 (1 of 1 cell pass); 3.8 cannot load it"
        );
        assert_eq!(rows[0].not_loaded, ["3.8"]);
    }

    /// A Python whose cells are unavailable for another reason than
    /// Python's ABI (no NumPy wheel for it, as NumPy 2.0.2 has none for
    /// 3.13) never tried to load the row: "no cell ran under" it, never
    /// "cannot load it".
    #[test]
    fn a_python_without_a_numpy_wheel_is_not_one_that_cannot_load() {
        use OutcomeKind::*;
        let mut doc = shared(&[
            (0, "2.0.2", "2.0.2", Pass),
            (1, "2.0.2", "2.0.2", Pass),
            (2, "2.0.2", "2.0.2", Unavailable),
        ]);
        doc.cells[2].unavailable = Some(Unavailability::NoWheel);
        let rows = across_pythons(&doc);
        assert_eq!(
            rows[0].to_string(),
            "built on 3.9 against 2.0.2: works on Python >=3.9 (3.9 and 3.12 tested) with numpy >=2.0.2 (2 of 2 cells pass); no cell ran under 3.8"
        );
        assert!(rows[0].not_loaded.is_empty());
        assert_eq!(rows[0].not_run, ["3.8"]);
    }

    #[test]
    fn grids_that_share_nothing_have_no_answer_across_pythons() {
        let doc = document(vec![cell("2.0.2", "2.0.2", OutcomeKind::Pass)]);
        assert!(across_pythons(&doc).is_empty());
    }

    fn tested(list: &[(&str, bool)]) -> Vec<(Version, bool)> {
        list.iter().map(|(s, w)| (v(s), *w)).collect()
    }

    fn span(a: &str, b: &str) -> Span {
        Span {
            first: v(a),
            last: v(b),
        }
    }

    #[test]
    fn a_contiguous_run_with_failures_above_is_a_bounded_range() {
        let w = works(&tested(&[
            ("1.24.4", false),
            ("1.26.4", true),
            ("2.0.2", true),
            ("2.1.3", false),
            ("2.2.6", false),
        ]));
        assert_eq!(
            w,
            Works::Range {
                from: v("1.26.4"),
                below: Some(v("2.1.3"))
            }
        );
        assert_eq!(w.specifiers().as_deref(), Some(">=1.26.4,<2.1.3"));
    }

    /// The specifiers admit every passing release and no failing one.
    #[test]
    fn the_specifiers_admit_exactly_the_passing_releases() {
        let list = tested(&[
            ("1.23.5", false),
            ("1.24.4", true),
            ("1.26.4", true),
            ("2.0.2", false),
        ]);
        let spec = works(&list).specifiers().unwrap();
        let spec = VersionSpecifiers::from_str(&spec).unwrap();
        for (version, passed) in &list {
            assert_eq!(spec.contains(version), *passed, "{version} under {spec}");
        }
    }

    #[test]
    fn when_everything_passes_the_oldest_tested_is_still_the_lower_bound() {
        let w = works(&tested(&[
            ("1.23.5", true),
            ("2.0.2", true),
            ("2.2.6", true),
        ]));
        assert_eq!(w.specifiers().as_deref(), Some(">=1.23.5"));
    }

    #[test]
    fn holes_are_listed_with_the_passing_spans() {
        let w = works(&tested(&[
            ("1.26.4", true),
            ("2.0.2", true),
            ("2.1.3", false),
            ("2.2.6", true),
        ]));
        assert_eq!(
            w,
            Works::Holes {
                passes: vec![span("1.26.4", "2.0.2"), span("2.2.6", "2.2.6")],
                fails: vec![span("2.1.3", "2.1.3")],
            }
        );
        assert_eq!(w.specifiers(), None);
    }

    #[test]
    fn none_passing_and_nothing_tested_differ() {
        assert_eq!(
            works(&tested(&[("1.26.4", false), ("2.0.2", false)])),
            Works::Nowhere
        );
        assert_eq!(works(&[]), Works::Untested);
    }

    #[test]
    fn a_single_cell() {
        assert_eq!(
            works(&tested(&[("2.0.2", true)])).specifiers().as_deref(),
            Some(">=2.0.2")
        );
        assert_eq!(works(&tested(&[("2.0.2", false)])), Works::Nowhere);
    }

    /// Versions compare as releases, not as text or in the order given:
    /// 1.10 is newer than 1.9.
    #[test]
    fn input_in_any_order_is_read_in_version_order() {
        let w = works(&tested(&[
            ("1.10.4", false),
            ("1.9.3", true),
            ("1.8.2", true),
        ]));
        assert_eq!(w.specifiers().as_deref(), Some(">=1.8.2,<1.10.4"));
    }

    /// From a document: crashes and timeouts count as not working;
    /// build-failed and unavailable cells are counted apart.
    #[test]
    fn rows_of_a_document() {
        use OutcomeKind::*;
        let doc = document(vec![
            cell("1.26.4", "1.24.4", Pass),
            cell("1.26.4", "1.26.4", Pass),
            cell("1.26.4", "2.0.2", Crash),
            cell("1.26.4", "2.2.6", Timeout),
            cell("2.0.2", "1.24.4", Pass),
            cell("2.0.2", "1.26.4", Unavailable),
            cell("2.0.2", "2.0.2", Pass),
            cell("2.0.2", "2.2.6", Pass),
            cell("2.4.6", "1.24.4", BuildFailed),
            cell("2.4.6", "1.26.4", BuildFailed),
            cell("2.4.6", "2.0.2", BuildFailed),
            cell("2.4.6", "2.2.6", BuildFailed),
        ]);
        let a = of_grid(&doc, 0);
        let lines: Vec<String> = a.lines().collect();
        assert_eq!(
            lines,
            [
                "built against 1.26.4: works on numpy >=1.24.4,<2.0.2 (2 of 4 tested releases pass)",
                "built against 2.0.2: works on numpy >=1.24.4 (3 of 3 tested releases pass); not counted: 1 unavailable",
                "built against 2.4.6: did not build (4 cells build-failed), so no runtime was tested",
                "numpy 1.24.4 runs builds from 1.26.4 up",
                "numpy 1.26.4 runs builds from 1.26.4 up",
                "numpy 2.0.2 runs builds from 2.0.2 up",
                "numpy 2.2.6 runs builds from 2.0.2 up",
            ]
        );
        assert_eq!((a.rows[2].tested, a.rows[2].build_failed), (0, 4));
    }

    #[test]
    fn columns_name_the_newer_builds_that_fail_and_the_ones_that_run_nothing() {
        use OutcomeKind::*;
        let doc = document(vec![
            cell("1.26.4", "1.26.4", Pass),
            cell("2.0.2", "1.26.4", Pass),
            cell("2.3.5", "1.26.4", Fail),
            cell("1.26.4", "2.0.2", Fail),
            cell("2.0.2", "2.0.2", Fail),
            cell("2.3.5", "2.0.2", Crash),
        ]);
        let columns: Vec<String> = of_grid(&doc, 0)
            .columns
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            columns,
            [
                "numpy 1.26.4 runs builds from 1.26.4 up, except 2.3.5",
                "numpy 2.0.2: no tested build works (3 ran)",
            ]
        );
    }

    #[test]
    fn a_row_with_holes_and_one_that_passes_nowhere_read_as_such() {
        use OutcomeKind::*;
        let doc = document(vec![
            cell("1.26.4", "1.26.4", Pass),
            cell("1.26.4", "2.0.2", Pass),
            cell("1.26.4", "2.1.3", Fail),
            cell("1.26.4", "2.2.6", Pass),
            cell("2.4.6", "1.26.4", Fail),
        ]);
        let a = of_grid(&doc, 0);
        assert_eq!(
            a.rows[0].to_string(),
            "built against 1.26.4: not one range: passes 1.26.4–2.0.2 and 2.2.6; fails 2.1.3 (3 of 4 tested releases pass)"
        );
        assert_eq!(
            a.rows[1].to_string(),
            "built against 2.4.6: does not work on the one tested release"
        );
    }

    #[test]
    fn package_rows_are_named_as_packages() {
        let doc = crate::report::fixtures::packages();
        let lines: Vec<String> = of_grid(&doc, 0).lines().collect();
        assert_eq!(
            lines,
            [
                "pandas 2.0.3: works on numpy >=1.26.4,<2.0.2 (1 of 2 tested releases pass)",
                "scipy 1.11.4: works on numpy >=1.26.4 (1 of 1 tested release passes); not counted: 1 unavailable",
                "numpy 1.26.4 runs 2 of 2 packages: pandas 2.0.3 and scipy 1.11.4",
                "numpy 2.0.2 runs none of the 1 package that ran under it",
            ]
        );
    }
}
