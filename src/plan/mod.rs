//! Planning a run: from a checked config to a [`Plan`] of typed cells,
//! before any environment is made or any build starts.
//!
//! Interpreters are selected ([`select`]), every request on both NumPy axes
//! is resolved per interpreter ([`resolve`]), requests that name no release
//! at all are refused as config errors (located by position), and the cells
//! this run owns are chosen: all, a shard's, the ones to re-run, minus those
//! a journal already holds. The runner then only executes the plan; the
//! reporter shows the [`RunHeader`] before the first cell.

mod abi3;
mod axis;
mod interpreters;
mod resolve;
mod selector;
mod shard;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use pep440_rs::Version;

pub use abi3::{declared_by_wheel, first_builder, wheel_to_ask};
pub use axis::AxisEntry;
pub use interpreters::{NarrowError, SelectError, narrow, select_interpreters};
pub use resolve::{ResolvedAxis, Resolver};
pub use selector::{CellView, Selector};
pub use shard::{Shard, ShardPlan};

use crate::cache::memo::Memo;
use crate::config::{Axis, Config, ConfigError};
use crate::extension::{Exercise, Extension, Subject, SubjectKind};
use crate::probe::Isolation;
use crate::python::{
    Found, InstallError, Installer, InstallerChoice, Interpreter, PythonRequest, PythonSource,
};

/// A cell's identity across runs and files: the interpreter's label and the
/// row and column labels (full versions, or a row's label). The journal,
/// `--rerun-failed`, `diff` and `merge` all match cells by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey {
    pub interpreter: String,
    pub build: String,
    pub runtime: String,
}

impl fmt::Display for CellKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} → {}", self.interpreter, self.build, self.runtime)
    }
}

/// What the command line adds to the config.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Overrides `run.jobs`.
    pub jobs: Option<usize>,
    pub installer: Option<InstallerChoice>,
    /// `None`: everything in temporary directories (`--fresh`).
    pub cache: Option<PathBuf>,
    /// Where tools abimatrix installs for itself (uv) live, even with
    /// `--fresh`: the cache root the run would use.
    pub cache_root: PathBuf,
    /// What the index and the machine said before (and whether to ask).
    pub memo: Arc<Memo>,
    /// Overrides `run.isolation`.
    pub isolation: Option<Isolation>,
    pub shard: Option<Shard>,
    /// Run only these cells (`--rerun-failed`).
    pub only: Option<HashSet<CellKey>>,
    /// Cells already done (from a journal, `--resume`): not run again.
    pub skip: HashSet<CellKey>,
    /// Run wheel rows under NumPy versions their metadata forbids.
    pub ignore_requires: bool,
    /// `--artifacts DIR`: builds are kept (and looked up) there.
    pub artifacts: Option<PathBuf>,
    /// `--build-only`: make the builds, run no cell.
    pub build_only: bool,
    /// `--python`: narrows (or, with no `[python]` in the config, replaces)
    /// the interpreters.
    pub python: Vec<PythonRequest>,
    /// `-k`: run only the cells some selector picks (all when empty).
    pub select: Vec<Selector>,
}

/// One interpreter's grid, as resolved before any work starts.
#[derive(Debug, Clone)]
pub struct GridPlan {
    pub interpreter: Interpreter,
    /// Where the interpreter was found.
    pub source: PythonSource,
    /// Which Python of the shard plan's units it is.
    pub python_unit: usize,
    pub build_axis: Vec<AxisEntry>,
    pub runtime_axis: Vec<AxisEntry>,
    /// Series of requested ranges with no wheel for this interpreter.
    pub skipped: Vec<String>,
    /// The (build, runtime) positions this run owns.
    pub cells: Vec<(usize, usize)>,
    /// Rows shared across Pythons (a limited-API build, made once on the
    /// build Python); `None`: this grid builds its own rows, for its own
    /// Python only, and no other grid sees them.
    pub shared: Option<SharedRows>,
    /// Found only to make the shared rows: the build Python of a
    /// limited-API matrix that this run (a shard, `--python`) owns no
    /// cell of. Its grid builds, as a CI build job does, and has no cell.
    pub builds_only: bool,
}

/// Where a grid's rows come from when they are built once for every Python.
#[derive(Debug, Clone)]
pub struct SharedRows {
    /// The grid whose interpreter makes them.
    pub builder: usize,
    pub limited: crate::python::abi::LimitedApi,
    /// What says the rows are built once: the config's `limited-api`, or
    /// where a project's own build files declare its abi3 wheel.
    pub declared: String,
    /// Why they do not load under this grid's Python at all (below the
    /// limited API, free-threaded): every cell is unavailable.
    pub gap: Option<String>,
}

impl GridPlan {
    /// Every distinct resolved version on either axis.
    pub fn versions(&self) -> Vec<Version> {
        let mut out: Vec<Version> = Vec::new();
        for v in self
            .build_axis
            .iter()
            .chain(&self.runtime_axis)
            .filter_map(AxisEntry::version)
        {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        out
    }

    /// The local wheel a version is installed from, if it is one.
    pub fn wheel_of(&self, version: &Version) -> Option<&Path> {
        self.build_axis
            .iter()
            .chain(&self.runtime_axis)
            .find(|e| e.version() == Some(version))
            .and_then(|e| e.origin())
            .and_then(|o| o.wheel.as_deref())
    }

    /// The grid whose interpreter makes this grid's rows.
    pub fn builder(&self, own: usize) -> usize {
        self.shared.as_ref().map_or(own, |s| s.builder)
    }

    /// What `expectations` expect of the cell with these sides under this
    /// grid's Python: across Pythons for shared rows (Python's rules first,
    /// then NumPy's), else as one Python's grid.
    pub fn expected(
        &self,
        expectations: &crate::expect::Expectations,
        build: &crate::expect::Side,
        runtime: &crate::expect::Side,
        forbidden: bool,
    ) -> crate::expect::Expected {
        let version = &self.interpreter.version;
        match &self.shared {
            Some(shared) => expectations.expected_across(
                &crate::rules::RuntimePython::of(&self.interpreter),
                crate::rules::BuildAbi::Abi3(shared.limited),
                build,
                runtime,
                forbidden,
            ),
            None => match build {
                // A row the plan found cannot load under this Python (a
                // wheel file's tag, a pinned release's or a range's wheels
                // on the index): Python's ABI, unless a table says otherwise.
                crate::expect::Side::Row(row) if row.python_gap.is_some() => {
                    let tabled = expectations.expected(version, build, runtime, forbidden);
                    if matches!(tabled.source, crate::expect::ExpectSource::Table { .. }) {
                        return tabled;
                    }
                    crate::expect::Expected {
                        outcome: crate::outcome::OutcomeKind::Unavailable,
                        reason: None,
                        source: crate::expect::ExpectSource::PythonAbi,
                    }
                }
                _ => expectations.expected(version, build, runtime, forbidden),
            },
        }
    }

    /// The key of the cell at (build, runtime).
    pub fn key(&self, build: usize, runtime: usize) -> Option<CellKey> {
        Some(CellKey {
            interpreter: self.interpreter.label(),
            build: self.build_axis.get(build)?.label(),
            runtime: self.runtime_axis.get(runtime)?.label(),
        })
    }
}

/// What a run is, as reports show it: known once versions are resolved,
/// before any work starts.
#[derive(Debug, Clone)]
pub struct RunHeader {
    pub grids: Vec<GridPlan>,
    /// Identifies the matrix (see `Config::matrix_id`).
    pub matrix_id: String,
    pub shard: Option<Shard>,
    /// Every unit of the matrix and the shard that owns it: what a merge
    /// of shards checks itself against.
    pub shards: ShardPlan,
    pub installer: String,
    pub extension: String,
    /// What the rows are.
    pub subject: SubjectKind,
    /// What each cell runs (imports, probe or test command).
    pub exercised: Exercise,
    pub jobs: usize,
    pub notes: Vec<String>,
    /// Each cell's limit.
    pub timeout: Duration,
    /// The `-k` expressions, as typed (empty: every cell).
    pub selected: Vec<String>,
    /// The probe every cell runs, and where the user wrote it.
    pub probe: crate::probe::ProbeCode,
}

impl RunHeader {
    /// Cells this run will report.
    pub fn planned(&self) -> usize {
        self.grids.iter().map(|g| g.cells.len()).sum()
    }
}

/// Everything the runner needs, and nothing it must look up again.
#[derive(Debug, Clone)]
pub struct Plan {
    pub header: RunHeader,
    pub installer: Installer,
    pub extension: Extension,
    /// Each build step's limit (a cell's is the header's `timeout`).
    pub build_timeout: Duration,
    pub isolation: Isolation,
    pub ignore_requires: bool,
    pub cache: Option<PathBuf>,
    /// Where builds are kept instead of the cache (`--artifacts`).
    pub artifacts: Option<PathBuf>,
    /// Make the builds and stop.
    pub build_only: bool,
    /// The folder that holds the config: test commands run there, as tox
    /// and nox run theirs in their file's folder.
    pub config_dir: PathBuf,
    pub memo: Arc<Memo>,
}

/// What stops a run before it starts.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Something named in matrix.toml does not exist (an interpreter, a
    /// NumPy version): a config error, located.
    #[error("{error}")]
    Config {
        error: ConfigError,
        hint: &'static str,
    },
    #[error(transparent)]
    Select(SelectError),
    /// `--python` asks for Pythons the config does not list.
    #[error(transparent)]
    Narrow(NarrowError),
    /// `--shard K/N` with more shards than the matrix has units.
    #[error(
        "shard {shard} does not exist for this matrix: it has {units} unit(s) (Pythons × runtime NumPy requests), so at most {most} shard(s)"
    )]
    NoSuchShard {
        shard: Shard,
        units: usize,
        most: usize,
    },
    /// `--python` versions none of the interpreters the config chose has.
    #[error("--python {} matches none of the interpreters the config chose ({})", asked.join(" "), chosen.join(", "))]
    NoneChosen {
        asked: Vec<String>,
        chosen: Vec<String>,
    },
    /// `limited-api`: no Python of this run can make the rows every Python
    /// imports, or the one `[python] build` names cannot.
    #[error("{message}")]
    Builder { message: String, hint: &'static str },
    /// Versions could not be resolved at all.
    #[error("cannot resolve NumPy versions: {0}")]
    Resolve(InstallError),
    /// Checked up front: an unwritable or full cache is one clear error,
    /// not a grid of "unavailable" cells.
    #[error("cannot write the cache at {}: {source}", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl PlanError {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            PlanError::Config { hint, .. } => Some(hint),
            PlanError::Select(e) => Some(e.hint()),
            PlanError::Narrow(e) => Some(e.hint()),
            PlanError::NoSuchShard { .. } => {
                Some("`matrix plan --shards N` prints the shards to run")
            }
            PlanError::NoneChosen { .. } => Some("`matrix pythons` lists every interpreter found"),
            PlanError::Builder { hint, .. } => Some(hint),
            PlanError::Resolve(e) => e.hint(),
            PlanError::Cache { .. } => Some(
                "name a writable directory with --cache-dir, or run without the cache with --fresh",
            ),
        }
    }

    /// A mistake in the config (exit 2) rather than the machine (exit 3).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            PlanError::Config { .. }
                | PlanError::Narrow(_)
                | PlanError::NoSuchShard { .. }
                | PlanError::NoneChosen { .. }
                | PlanError::Builder { .. }
        )
    }
}

/// Plans the run of `config` with `options`.
pub async fn make(config: &Config, options: &PlanOptions) -> Result<Plan, PlanError> {
    let mut notes = Vec::new();
    let mut choice = narrow(&config.python, &options.python).map_err(PlanError::Narrow)?;
    let whole = choice.requests.clone();
    let matrix_pythons = matrix_pythons(config, &choice);
    let runtimes: Vec<String> = config.runtime.iter().map(|r| r.value.to_string()).collect();
    let shards = ShardPlan::new(
        &choice.names,
        &runtimes,
        options.shard.map_or(1, |s| s.total),
    );
    if let Some(s) = options.shard {
        narrow_to_shard(s, &shards, runtimes.len(), &mut choice)?;
    }
    let mut chosen = choose(config, options, &choice).await?;
    let mut builds_only = None;
    if options.shard.is_some() || !choice.filter.is_empty() {
        let build = abi3::build_python(config, &matrix_pythons);
        if let Some((unit, found)) =
            find_build_python(config, options, build, &matrix_pythons, &whole, &chosen).await?
        {
            builds_only = Some(found.interpreter.executable.clone());
            // In config order, as the whole run lists its grids.
            let at = chosen.partition_point(|(u, _)| *u <= unit);
            chosen.insert(at, (unit, found));
        }
    }
    if !options.build_only {
        check_probe(config, &chosen[0].1.interpreter, &options.memo).await?;
    }
    notes.extend(
        chosen
            .iter()
            .filter_map(|(_, f)| without_headers(&f.interpreter)),
    );
    for root in options.cache.iter().chain(&options.artifacts) {
        check_writable(root)?;
    }
    let installer = Installer::discover(
        options.installer.unwrap_or(InstallerChoice::Auto),
        &chosen[0].1.interpreter,
        &options.cache_root,
        &options.memo,
        &config.indexes,
        &mut notes,
    )
    .await;
    let resolver = Resolver::new(
        &installer,
        &options.memo,
        options.cache.as_deref(),
        config.resolution.clone(),
    );
    let mut grids = resolve_grids(config, &resolver, &chosen, builds_only.as_deref()).await?;
    select_cells(&mut grids, options, config, &shards);
    if options.build_only {
        grids.iter_mut().for_each(|g| g.cells.clear());
    }
    let jobs = options
        .jobs
        .or(config.jobs)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    Ok(Plan {
        header: RunHeader {
            grids,
            matrix_id: config.matrix_id(),
            shard: options.shard,
            shards,
            installer: installer.describe(),
            extension: config.extension.label(),
            subject: config.extension.subject.kind(),
            exercised: config.extension.exercise(),
            jobs,
            notes,
            timeout: config.timeout,
            selected: options.select.iter().map(ToString::to_string).collect(),
            probe: config.probe(),
        },
        installer,
        extension: config.extension.clone(),
        build_timeout: config.build_timeout,
        isolation: options.isolation.unwrap_or(config.isolation),
        ignore_requires: options.ignore_requires,
        cache: options.cache.clone(),
        artifacts: options.artifacts.clone(),
        build_only: options.build_only,
        config_dir: config.dir(),
        memo: options.memo.clone(),
    })
}

/// `choice` narrowed to the Pythons shard `s`'s units need: its CI job
/// installs no others. `runtimes`: how many runtime columns a Python has.
fn narrow_to_shard(
    s: Shard,
    shards: &ShardPlan,
    runtimes: usize,
    choice: &mut interpreters::PythonChoice,
) -> Result<(), PlanError> {
    if s.total > shards.shards {
        return Err(PlanError::NoSuchShard {
            shard: s,
            units: shards.units.len(),
            most: shards.shards,
        });
    }
    choice
        .requests
        .retain(|(p, _)| (p * runtimes..(p + 1) * runtimes).any(|u| s.owns(u, shards.units.len())));
    Ok(())
}

/// The note for an interpreter whose builds will fail for want of
/// Python.h (`None`: it has it).
fn without_headers(interpreter: &Interpreter) -> Option<String> {
    (!interpreter.python_h).then(|| {
        format!(
            "{} has no Python.h under {}: builds will fail (install the Python development headers)",
            interpreter.label(),
            interpreter.include.display()
        )
    })
}

/// `plan` as [`make`] makes it from `config` when `config` differs from the
/// one `plan` was made from only in its `abi` (a project found abi3 by its
/// wheel, [`declared_by_wheel`]): its grids share the build Python's rows
/// and their cells are chosen again. The interpreters and axes already
/// found are kept: finding them again cost as much as the rest of the
/// run's start.
pub fn share_rows(
    plan: &mut Plan,
    config: &Config,
    options: &PlanOptions,
) -> Result<(), PlanError> {
    abi3::share_builds(config, &mut plan.header.grids)?;
    select_cells(&mut plan.header.grids, options, config, &plan.header.shards);
    Ok(())
}

/// The interpreters of `choice` found on this machine, narrowed to the
/// ones `--python` filters for.
async fn choose(
    config: &Config,
    options: &PlanOptions,
    choice: &interpreters::PythonChoice,
) -> Result<Vec<(usize, Found)>, PlanError> {
    let mut chosen = select_interpreters(&choice.requests, &options.cache_root, &options.memo)
        .await
        .map_err(|(request, e)| match &request.span {
            Some(_) => PlanError::Config {
                error: config.error_at(request.span.clone(), e.to_string()),
                hint: "`matrix pythons` lists every interpreter found and why others were rejected",
            },
            None => PlanError::Select(e),
        })?;
    if !choice.filter.is_empty() {
        let found: Vec<String> = chosen.iter().map(|(_, f)| f.interpreter.label()).collect();
        chosen.retain(|(_, f)| choice.filter.iter().any(|w| w.accepts(&f.interpreter)));
        if chosen.is_empty() {
            return Err(PlanError::NoneChosen {
                asked: choice.filter.iter().map(|r| r.to_string()).collect(),
                chosen: found,
            });
        }
    }
    Ok(chosen)
}

/// The Pythons that are the matrix: the config's, unless the command line
/// replaced them (then its own); a shard or `--python` keeps fewer.
fn matrix_pythons(config: &Config, choice: &interpreters::PythonChoice) -> Vec<PythonRequest> {
    if choice.filter.is_empty() {
        choice
            .requests
            .iter()
            .map(|(_, r)| r.value.clone())
            .collect()
    } else {
        config.python.iter().map(|r| r.value.clone()).collect()
    }
}

/// The Pythons every shard of a limited-API matrix needs besides its own,
/// as `matrix plan` names them: the build Python, or every Python of the
/// matrix when only finding them says which one builds.
pub fn build_pythons(config: &Config, choice: &interpreters::PythonChoice) -> Vec<String> {
    let pythons = matrix_pythons(config, choice);
    match abi3::build_python(config, &pythons) {
        abi3::BuildPython::Own => Vec::new(),
        abi3::BuildPython::Request(r) => vec![r.to_string()],
        abi3::BuildPython::Oldest => pythons.iter().map(ToString::to_string).collect(),
    }
}

/// The build Python of a limited-API matrix when this run (a shard, or
/// `--python`) left it out: found all the same, because every row is made
/// there whichever Pythons import it, so a shard's cells are the whole
/// run's. Returns it with its Python's unit (past the units when the run
/// has none of it), or `None` when the run already has it.
async fn find_build_python(
    config: &Config,
    options: &PlanOptions,
    build: abi3::BuildPython,
    matrix_pythons: &[PythonRequest],
    whole: &[(usize, crate::config::Located<PythonRequest>)],
    chosen: &[(usize, Found)],
) -> Result<Option<(usize, Found)>, PlanError> {
    let requests: Vec<(usize, crate::config::Located<PythonRequest>)> = match build {
        abi3::BuildPython::Own => return Ok(None),
        abi3::BuildPython::Request(r) => vec![(
            0,
            crate::config::Located {
                value: r,
                span: None,
            },
        )],
        abi3::BuildPython::Oldest => matrix_pythons
            .iter()
            .cloned()
            .map(|value| crate::config::Located { value, span: None })
            .enumerate()
            .collect(),
    };
    let found = select_interpreters(&requests, &options.cache_root, &options.memo)
        .await
        .map_err(|(request, e)| PlanError::Builder {
            message: if requests.len() == 1 {
                format!(
                    "the build Python ({}) makes every row of this limited-API matrix, also for a shard or a --python run without its cells, and it was not found: {e}",
                    request.value
                )
            } else {
                format!(
                    "the build Python of this limited-API matrix (the oldest of [python] versions that can build) makes every row, also for a shard or a --python run without its cells; to know which it is every listed Python is looked for, and {} was not found: {e}",
                    request.value
                )
            },
            hint: "install the build Python on this machine (`matrix plan` lists it with each shard's Pythons), or name another in [python] build",
        })?;
    let found = match (&config.abi, found.len()) {
        (Some(target), n) if n > 1 => {
            let interpreters = found.iter().map(|(_, f)| &f.interpreter);
            crate::python::abi::default_builder(target.limited.value, interpreters)
                .and_then(|i| found.into_iter().nth(i))
        }
        _ => found.into_iter().next(),
    };
    let Some((_, found)) = found else {
        return Ok(None);
    };
    if chosen
        .iter()
        .any(|(_, f)| f.interpreter.executable == found.interpreter.executable)
    {
        return Ok(None);
    }
    let unit = whole
        .iter()
        .find(|(_, r)| r.value.accepts(&found.interpreter))
        .map_or(whole.len(), |(u, _)| *u);
    Ok(Some((unit, found)))
}

fn check_writable(root: &Path) -> Result<(), PlanError> {
    std::fs::create_dir_all(root)
        .and_then(|()| tempfile::NamedTempFile::new_in(root).map(drop))
        .map_err(|source| PlanError::Cache {
            path: root.to_path_buf(),
            source,
        })
}

/// Every interpreter's axes, resolved before any work: the table is shown
/// first, and an unreachable index stops the run before it starts.
async fn resolve_grids(
    config: &Config,
    resolver: &Resolver<'_>,
    chosen: &[(usize, Found)],
    builds_only: Option<&Path>,
) -> Result<Vec<GridPlan>, PlanError> {
    let values = |axis: Axis| config.axis(axis).iter().map(|r| &r.value);
    let axes = join_all(chosen.iter().map(|(_, f)| async {
        let build = match &config.extension.subject {
            // Published code: each wheel or requirement is a row.
            Subject::Rows(rows) => ResolvedAxis {
                entries: join_all(rows.iter().map(|r| resolver.row(&f.interpreter, r)))
                    .await
                    .into_iter()
                    .map(|r| r.map(AxisEntry::Row))
                    .collect::<Result<_, _>>()?,
                skipped: Vec::new(),
            },
            _ => resolver.axis(&f.interpreter, values(Axis::Build)).await?,
        };
        let runtime = resolver.axis(&f.interpreter, values(Axis::Runtime)).await?;
        Ok::<_, InstallError>((build, runtime))
    }))
    .await;
    let mut grids = Vec::new();
    for ((unit, found), axes) in chosen.iter().zip(axes) {
        let (build, runtime) = axes.map_err(PlanError::Resolve)?;
        let mut skipped = build.skipped;
        for s in runtime.skipped {
            if !skipped.contains(&s) {
                skipped.push(s);
            }
        }
        grids.push(GridPlan {
            interpreter: found.interpreter.clone(),
            source: found.source,
            python_unit: *unit,
            build_axis: build.entries,
            runtime_axis: runtime.entries,
            skipped,
            cells: Vec::new(),
            shared: None,
            builds_only: builds_only == Some(found.interpreter.executable.as_path()),
        });
    }
    if let Some((_, first)) = chosen.first() {
        check_requests_exist(config, resolver, &first.interpreter, &grids).await?;
    }
    abi3::share_builds(config, &mut grids)?;
    Ok(grids)
}

/// A NumPy request that resolved to nothing because no such release exists
/// at all (not merely no wheel for this interpreter) is a mistake in the
/// file: say where.
async fn check_requests_exist(
    config: &Config,
    resolver: &Resolver<'_>,
    interpreter: &Interpreter,
    grids: &[GridPlan],
) -> Result<(), PlanError> {
    for axis in [Axis::Build, Axis::Runtime] {
        for located in config.axis(axis) {
            let missing = grids.iter().any(|g| {
                let entries = match axis {
                    Axis::Build => &g.build_axis,
                    Axis::Runtime => &g.runtime_axis,
                };
                entries.iter().any(
                    |e| matches!(e, AxisEntry::Missing { request, .. } if *request == located.value),
                )
            });
            if !missing {
                continue;
            }
            match resolver.exists_on_index(interpreter, &located.value).await {
                Ok(false) => {
                    return Err(PlanError::Config {
                        error: config.error_at(
                            located.span.clone(),
                            format!(
                                "no NumPy release on the package index matches \"{}\": expected an existing version",
                                located.value
                            ),
                        ),
                        hint: "`pip index versions numpy` lists the releases",
                    });
                }
                Ok(true) => {}
                Err(e @ InstallError::Network { .. }) => return Err(PlanError::Resolve(e)),
                Err(_) => {}
            }
        }
    }
    Ok(())
}

/// The probe compiled by the run's first interpreter: one that does not
/// compile is the config's mistake, located where it was written. That a
/// probe compiles with an interpreter is remembered (a warm run starts no
/// Python for it).
async fn check_probe(
    config: &Config,
    interpreter: &Interpreter,
    memo: &Memo,
) -> Result<(), PlanError> {
    let extension = &config.extension;
    if extension.test.is_some() || extension.probe.trim().is_empty() {
        return Ok(());
    }
    let probe = config.probe();
    let key = format!(
        "probe compiles|{}|{}",
        interpreter.cache_key(),
        crate::cache::digest([probe.name.as_str(), probe.code.as_str()])
    );
    if memo.get::<bool>(&key) == Some(true) {
        return Ok(());
    }
    match crate::probe::check::compile(&interpreter.executable, &probe.code, &probe.name).await {
        Ok(None) => {
            memo.put(&key, &true, crate::cache::memo::Lasts::Always);
            Ok(())
        }
        Ok(Some(problem)) => Err(PlanError::Config {
            error: config.probe_error(
                problem.line,
                problem.column,
                format!(
                    "the probe does not compile ({}): {}",
                    interpreter.label(),
                    problem.message
                ),
            ),
            hint: "the probe is compiled by the run's first interpreter before anything is built or run",
        }),
        // An interpreter that cannot even compile says so in every cell.
        Err(_) => Ok(()),
    }
}

/// Which cells this run owns (all, a shard's, the ones to re-run, the
/// ones `-k` picks), minus those already done.
fn select_cells(
    grids: &mut [GridPlan],
    options: &PlanOptions,
    config: &Config,
    shards: &ShardPlan,
) {
    let runtimes = config.runtime.len();
    for g in grids {
        let mut cells = Vec::new();
        if g.builds_only {
            g.cells = cells;
            continue;
        }
        for (ri, column) in g.runtime_axis.iter().enumerate() {
            // Entries come from requests in config order; a request may
            // give several (a range of series), all in the request's unit.
            let request = config
                .runtime
                .iter()
                .position(|r| column_request(column) == Some(&r.value))
                .unwrap_or(0);
            let unit = g.python_unit * runtimes + request;
            if options
                .shard
                .is_some_and(|s| !s.owns(unit, shards.units.len()))
            {
                continue;
            }
            for (bi, row) in g.build_axis.iter().enumerate() {
                let Some(key) = g.key(bi, ri) else { continue };
                let in_only = options.only.as_ref().is_none_or(|only| only.contains(&key));
                let picked = options.select.is_empty()
                    || options.select.iter().any(|s| {
                        s.picks(&CellView {
                            python: &g.interpreter.version,
                            build: &key.build,
                            build_version: row.version(),
                            runtime: &key.runtime,
                            runtime_version: column.version(),
                        })
                    });
                if in_only && picked && !options.skip.contains(&key) {
                    cells.push((bi, ri));
                }
            }
        }
        g.cells = cells;
    }
}

fn column_request(entry: &AxisEntry) -> Option<&crate::config::NumpyRequest> {
    match entry {
        AxisEntry::Numpy { request, .. } | AxisEntry::Missing { request, .. } => Some(request),
        AxisEntry::Row(_) => None,
    }
}
