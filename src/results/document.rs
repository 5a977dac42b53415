//! The results document: what a run found, as data every report renders
//! from and `--json` writes. Reports of a saved file (`matrix report`), of a
//! merged set of shards (`matrix merge`) and of a live run therefore look
//! exactly alike.
//!
//! The shape is versioned (`schema_version`): a reader checks the version
//! before reading further, and any incompatible change bumps it. Version 2:
//! one entry in `grids` per interpreter; every cell names its interpreter,
//! grid and platform. Version 3: an unavailable cell says why as a kind
//! (`unavailable`), a build made only because of `--ignore-requires` says
//! so (`forced`), and the document says what each cell ran (`exercised`):
//! what the verdicts on declarations rest on. A version 2 file still loads,
//! brought up to 3 from its own words ([`upgrade_v2`]); any other version is
//! refused, naming it.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use pep440_rs::Version;
use serde::{Deserialize, Serialize};

use crate::expect::{ExpectSource, Expected};
use crate::extension::Exercise;
use crate::outcome::{FailureReason, Outcome, OutcomeKind, Unavailability};
use crate::plan::{AxisEntry, CellKey, GridPlan, ShardPlan};
use crate::runner::CellResult;

pub const SCHEMA: &str = "abimatrix.results";
pub const SCHEMA_VERSION: u32 = 3;
/// The oldest version this abimatrix reads (and upgrades).
pub const OLDEST_READ: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Document {
    pub schema: String,
    pub schema_version: u32,
    pub abimatrix_version: String,
    /// False when the run was interrupted: `cells` then holds only the cells
    /// that finished.
    pub complete: bool,
    pub duration_s: Option<f64>,
    pub installer: Option<String>,
    pub extension: Option<String>,
    pub timeout_s: Option<f64>,
    /// Identifies the matrix (config contents that decide the cells): shards
    /// and baselines of different matrices are not mixed.
    #[serde(default)]
    pub matrix_id: Option<String>,
    /// "K/N" when this is one shard of a sharded run.
    #[serde(default)]
    pub shard: Option<String>,
    /// What the rows are: "sources", "project" or "packages" (published
    /// wheels and requirements, whose rows are not NumPy versions).
    #[serde(default)]
    pub subject: Option<String>,
    /// Every unit of the matrix (Python × runtime request) and the shard
    /// that owns it: what `merge` checks a set of shards against. Absent
    /// from files written before shards knew their plan.
    #[serde(default)]
    pub plan: Option<ShardPlan>,
    /// When the run started (RFC 3339, UTC), and the commit of the code it
    /// tested (`GITHUB_SHA`, else the config's git checkout), when known.
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    /// The config's path as the run was given it (annotations point there).
    #[serde(default)]
    pub config: Option<String>,
    /// What each cell ran, and so what a pass shows (imports only, the
    /// probe, a test command). Absent from files before schema version 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exercised: Option<Exercise>,
    /// What is known to be missing: shards not merged, cells no input had.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// The `-k` expressions of a run that ran only the cells they pick, as
    /// typed: the grid's other cells were not selected (not missing), and
    /// the answer is read from the selected ones only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selected: Vec<String>,
    /// The probe the cells ran and where it was written, for `explain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<crate::probe::ProbeCode>,
    pub grids: Vec<GridDoc>,
    pub cells: Vec<CellDoc>,
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct GridDoc {
    pub interpreter: InterpreterDoc,
    /// The config's Python request this interpreter answers (the Python
    /// of its units in `plan`).
    #[serde(default)]
    pub python: Option<String>,
    pub axes: Axes,
    /// Series inside requested ranges that have no wheel for this interpreter.
    #[serde(default)]
    pub skipped: Vec<String>,
    #[serde(default)]
    pub builds: Vec<BuildDoc>,
    /// The Python that built this grid's rows, when they are built once and
    /// imported under every Python (`limited-api`): its builds are listed
    /// in that Python's grid. Absent: the grid built its own rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built_on: Option<String>,
    /// The runtime environments this run needed, made or reused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<EnvDoc>,
}

/// One NumPy environment of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct EnvDoc {
    pub numpy: String,
    pub ok: bool,
    /// Taken from the cache rather than made by this run.
    pub reused: bool,
    /// Making it (or checking the cached one).
    pub duration_s: f64,
    /// Why it could not be made.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct InterpreterDoc {
    pub label: String,
    pub implementation: String,
    pub version: String,
    pub executable: PathBuf,
    pub found_in: String,
    pub machine: String,
    pub platform: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Axes {
    pub build: Vec<AxisDoc>,
    pub runtime: Vec<AxisDoc>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct AxisDoc {
    pub request: String,
    // What the request resolved to; `None` when nothing could be had
    // (`unavailable` says why). A plain comment: a doc comment would
    // change the published JSON Schema's description.
    #[cfg_attr(test, schemars(with = "Option<String>"))]
    pub version: Option<Resolved>,
    pub unavailable: Option<String>,
    /// A package row's name and version ("pandas 2.0.3"); `request` then
    /// holds the wheel file or requirement as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The index the release came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// Yanked on the index, with its reason ("" when none was given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked: Option<String>,
    /// The local wheel file it was installed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wheel: Option<PathBuf>,
}

impl AxisDoc {
    /// What the grid calls the entry: a package row's name and version,
    /// else the version it resolved to, else the request as written.
    pub fn label(&self) -> &str {
        self.label
            .as_deref()
            .or(self.version.as_ref().map(Resolved::as_str))
            .unwrap_or(&self.request)
    }

    /// The version the request resolved to.
    pub fn version(&self) -> Option<Version> {
        self.version.as_ref().map(|v| v.version.clone())
    }
}

/// A version an axis entry resolved to, as a results file holds it: read
/// as a version when the file is loaded (a file whose version is not one
/// is refused there, at its line and column) and kept in the file's own
/// spelling, which the grid's labels and the cells' names use, so a file
/// is written back as it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Resolved {
    version: Version,
    text: String,
}

impl Resolved {
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl From<&Version> for Resolved {
    fn from(version: &Version) -> Resolved {
        Resolved {
            text: version.to_string(),
            version: version.clone(),
        }
    }
}

/// A resolved version in a results file that is not a version.
#[derive(Debug, thiserror::Error)]
#[error("\"{text}\" is not a version ({source})")]
pub struct NotAVersion {
    text: String,
    source: pep440_rs::VersionParseError,
}

impl TryFrom<String> for Resolved {
    type Error = NotAVersion;

    fn try_from(text: String) -> Result<Resolved, NotAVersion> {
        match text.parse() {
            Ok(version) => Ok(Resolved { version, text }),
            Err(source) => Err(NotAVersion { text, source }),
        }
    }
}

impl std::str::FromStr for Resolved {
    type Err = NotAVersion;

    fn from_str(text: &str) -> Result<Resolved, Self::Err> {
        Resolved::try_from(text.to_string())
    }
}

impl From<Resolved> for String {
    fn from(resolved: Resolved) -> String {
        resolved.text
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct BuildDoc {
    pub numpy: String,
    pub ok: bool,
    /// Taken from the cache rather than compiled by this run.
    #[serde(default)]
    pub reused: bool,
    pub summary: String,
    pub duration_s: f64,
    pub log: String,
    /// The NumPy requirement the row's package declares (published rows
    /// and projects), checked against what the grid measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declares: Option<String>,
    /// Built only because of `--ignore-requires`: why the project's own
    /// build requirements forbid it. No verdict is drawn on its declaration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced: Option<String>,
    /// The Python that made it, for a build imported under every Python
    /// (`limited-api`, e.g. "3.9.25"); absent for a grid's own build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// The wheel tag of the distribution the row installed (projects and
    /// published rows), e.g. "cp39-abi3-manylinux_2_17_x86_64": an `abi3`
    /// wheel is one row across Pythons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Expectation {
    pub outcome: OutcomeKind,
    pub reason: Option<FailureReason>,
    /// Which rule set it; in the file as `line` (the `[[expect]]` table's,
    /// null otherwise) and `source` ("numpy-rules", "declared", or null).
    #[serde(flatten, with = "source_fields")]
    #[cfg_attr(test, schemars(with = "source_fields::Fields"))]
    pub source: ExpectSource,
}

impl Expectation {
    pub fn of(e: &Expected) -> Expectation {
        Expectation {
            outcome: e.outcome,
            reason: e.reason,
            source: e.source,
        }
    }

    /// Which rule set it, in words.
    pub fn rule(&self) -> String {
        self.source.to_string()
    }

    /// The config's line that set it, for an `[[expect]]` table.
    pub fn line(&self) -> Option<usize> {
        match self.source {
            ExpectSource::Table { line } => Some(line),
            _ => None,
        }
    }

    pub fn is_met_by(&self, outcome: OutcomeKind, reason: Option<FailureReason>) -> bool {
        self.outcome == outcome && (self.reason.is_none() || self.reason == reason)
    }
}

/// [`ExpectSource`] as the results file has always written it: two
/// fields, `line` and `source`, so files of every version read alike.
mod source_fields {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::expect::ExpectSource;

    #[derive(Serialize, Deserialize)]
    #[cfg_attr(test, derive(schemars::JsonSchema))]
    pub(super) struct Fields {
        /// The `[[expect]]` table's line, when one set it.
        line: Option<usize>,
        /// "numpy-rules", "declared" or "python-abi" when that rule set it.
        #[serde(default)]
        source: Option<String>,
    }

    pub fn serialize<S: Serializer>(source: &ExpectSource, s: S) -> Result<S::Ok, S::Error> {
        let (line, source) = match *source {
            ExpectSource::Table { line } => (Some(line), None),
            ExpectSource::NumpyRules => (None, Some("numpy-rules")),
            ExpectSource::Declared => (None, Some("declared")),
            ExpectSource::PythonAbi => (None, Some("python-abi")),
            ExpectSource::Default => (None, None),
        };
        Fields {
            line,
            source: source.map(str::to_string),
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ExpectSource, D::Error> {
        let fields = Fields::deserialize(d)?;
        match (fields.source.as_deref(), fields.line) {
            (Some("numpy-rules"), _) => Ok(ExpectSource::NumpyRules),
            (Some("declared"), _) => Ok(ExpectSource::Declared),
            (Some("python-abi"), _) => Ok(ExpectSource::PythonAbi),
            (Some(other), _) => Err(serde::de::Error::unknown_variant(
                other,
                &["numpy-rules", "declared", "python-abi"],
            )),
            (None, Some(line)) => Ok(ExpectSource::Table { line }),
            (None, None) => Ok(ExpectSource::Default),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct CellDoc {
    pub grid: usize,
    pub interpreter: String,
    /// "linux-x86_64": where the cell ran (shards may differ).
    #[serde(default)]
    pub platform: String,
    pub build: String,
    pub runtime: String,
    pub outcome: OutcomeKind,
    pub reason: Option<FailureReason>,
    pub exception: Option<String>,
    pub message: String,
    pub signal: Option<i32>,
    pub signal_name: Option<String>,
    pub traceback: Option<String>,
    pub expected: Expectation,
    pub met: bool,
    pub duration_s: f64,
    pub command: Option<String>,
    pub stdout: String,
    pub stderr: String,
    /// Not run because the package's own declaration forbids the pair.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forbidden: bool,
    /// Why an unavailable cell could not run, as a kind every report words
    /// alike ("build-requirements", "metadata", "no-wheel", "yanked",
    /// "next-is-nothing", ...); `message` has the detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<Unavailability>,
    /// Advice for a first mistake the outcome points to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// What `command` needs to run again by hand after the run (`matrix
    /// explain` writes it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<crate::probe::rerun::Rerun>,
}

impl CellDoc {
    /// The document form of a finished cell of `grid` (index `index`),
    /// judged by `expected`.
    pub fn new(c: &CellResult, grid: &GridPlan, expected: &Expected) -> CellDoc {
        let (exception, signal, signal_name, traceback) = match &c.outcome {
            Outcome::Fail(f) => (f.exception.clone(), None, None, None),
            Outcome::Crash {
                signal,
                name,
                traceback,
            } => (None, Some(*signal), Some(name.clone()), traceback.clone()),
            _ => (None, None, None, None),
        };
        let label =
            |axis: &[AxisEntry], i: usize| axis.get(i).map(AxisEntry::label).unwrap_or_default();
        CellDoc {
            grid: c.grid,
            interpreter: grid.interpreter.label(),
            platform: format!("{}-{}", grid.interpreter.platform, grid.interpreter.machine),
            build: label(&grid.build_axis, c.build),
            runtime: label(&grid.runtime_axis, c.runtime),
            outcome: c.outcome.kind(),
            reason: c.outcome.reason(),
            exception,
            message: c.outcome.message(),
            signal,
            signal_name,
            traceback,
            expected: Expectation::of(expected),
            met: expected.is_met_by(c.outcome.kind(), c.outcome.reason()),
            duration_s: c.duration.as_secs_f64(),
            command: c.command.clone(),
            stdout: c.stdout.clone(),
            stderr: c.stderr.clone(),
            forbidden: c.outcome.is_forbidden(),
            unavailable: c.outcome.unavailability(),
            hint: c.hint.clone(),
            rerun: c.rerun.clone(),
        }
    }

    /// Judges the cell afresh (a resumed run's journaled cells).
    pub fn judge(&mut self, expected: &Expected) {
        self.expected = Expectation::of(expected);
        self.met = self.expected.is_met_by(self.outcome, self.reason);
    }

    /// Its identity across files.
    pub fn key(&self) -> CellKey {
        CellKey {
            interpreter: self.interpreter.clone(),
            build: self.build.clone(),
            runtime: self.runtime.clone(),
        }
    }

    /// "1.26.4 → 2.0.2".
    pub fn pair(&self) -> String {
        format!("{} → {}", self.build, self.runtime)
    }

    /// Where the cell stands in a grid's axes, for ordering.
    pub fn position(&self, grid: &GridDoc) -> (usize, usize) {
        let pos = |axis: &[AxisDoc], label: &str| {
            axis.iter()
                .position(|a| a.label() == label)
                .unwrap_or(usize::MAX)
        };
        (
            pos(&grid.axes.build, &self.build),
            pos(&grid.axes.runtime, &self.runtime),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Summary {
    pub planned: usize,
    pub finished: usize,
    pub met: usize,
    pub unmet: usize,
    #[serde(serialize_with = "by_name")]
    pub by_outcome: BTreeMap<OutcomeKind, usize>,
}

/// `by_outcome` in the order the file has always had: by the outcome's
/// name, not by the enum's order.
fn by_name<S: serde::Serializer>(
    counts: &BTreeMap<OutcomeKind, usize>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let named: BTreeMap<&str, usize> = counts.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    named.serialize(s)
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an abimatrix results file: {detail}")]
    Format {
        path: PathBuf,
        #[source]
        detail: FormatError,
    },
}

/// Why bytes are not a results document this version reads.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("no \"schema\": \"abimatrix.results\"")]
    Schema,
    #[error("schema_version {found} (this abimatrix reads {OLDEST_READ} to {SCHEMA_VERSION})")]
    Version { found: serde_json::Value },
    #[error(transparent)]
    Inconsistent(#[from] Inconsistency),
}

/// What a results document holds that its readers could not rely on (see
/// [`Document::check`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Inconsistency {
    #[error("cell {index} ({pair}) names grid {grid}, but there are {grids} grid(s)")]
    NoSuchGrid {
        index: usize,
        pair: String,
        grid: usize,
        grids: usize,
    },
    #[error("cell {index} ({pair}) is of {interpreter} but sits in the grid of {grid}")]
    OtherInterpreter {
        index: usize,
        pair: String,
        interpreter: String,
        grid: String,
    },
    #[error("cell {index} ({pair}) is not on the axes of its grid")]
    OffTheAxes { index: usize, pair: String },
    #[error("cell {0} appears twice")]
    Twice(String),
    #[error("cell {index} ({pair}) is {outcome} but says why it was unavailable")]
    UnavailableReason {
        index: usize,
        pair: String,
        outcome: OutcomeKind,
    },
}

impl Document {
    /// Cells in grid order (interpreter, build row, runtime column), so every
    /// rendering of the same results is the same, however cells finished.
    pub fn sort_cells(&mut self) {
        let grids = self.grids.clone();
        self.cells.sort_by_key(|c| {
            let (b, r) = grids
                .get(c.grid)
                .map_or((usize::MAX, usize::MAX), |g| c.position(g));
            (c.grid, b, r)
        });
    }

    /// Recomputes `summary` from the cells.
    pub fn summarize(&mut self, planned: usize) {
        let unmet = self.cells.iter().filter(|c| !c.met).count();
        let mut by_outcome = BTreeMap::new();
        for c in &self.cells {
            *by_outcome.entry(c.outcome).or_insert(0) += 1;
        }
        self.summary = Summary {
            planned,
            finished: self.cells.len(),
            met: self.cells.len() - unmet,
            unmet,
            by_outcome,
        };
    }

    /// Cells planned by the axes.
    pub fn planned_by_axes(&self) -> usize {
        self.grids
            .iter()
            .map(|g| g.axes.build.len() * g.axes.runtime.len())
            .sum()
    }

    pub fn cell(&self, grid: usize, build: &str, runtime: &str) -> Option<&CellDoc> {
        self.cells
            .iter()
            .find(|c| c.grid == grid && c.build == build && c.runtime == runtime)
    }

    /// The cell with `key`, in whichever grid holds it.
    pub fn find(&self, key: &CellKey) -> Option<&CellDoc> {
        self.cells.iter().find(|c| {
            c.runtime == key.runtime && c.build == key.build && c.interpreter == key.interpreter
        })
    }

    /// Whether rows are published packages rather than builds.
    pub fn has_package_rows(&self) -> bool {
        self.subject.as_deref() == Some("packages")
    }

    /// Why the results are not whole, for a verdict line: the shards and
    /// cells known to be missing, else how many cells finished.
    pub fn incomplete_text(&self) -> String {
        if self.missing.is_empty() {
            return format!(
                "{} of {} cells finished",
                self.cells.len(),
                self.summary.planned
            );
        }
        let (shards, cells): (Vec<&String>, Vec<&String>) =
            self.missing.iter().partition(|m| m.starts_with("shard "));
        let mut parts: Vec<String> = Vec::new();
        if !shards.is_empty() {
            let list: Vec<&str> = shards.iter().map(|s| s.as_str()).collect();
            parts.push(format!("missing {}", list.join(", ")));
        }
        if !cells.is_empty() {
            let shown: Vec<&str> = cells.iter().take(3).map(|s| s.as_str()).collect();
            let more = cells.len().saturating_sub(shown.len());
            parts.push(format!(
                "{} cell(s) in no input ({}{})",
                cells.len(),
                shown.join("; "),
                if more > 0 {
                    format!("; {more} more")
                } else {
                    String::new()
                }
            ));
        }
        parts.join("; ")
    }

    pub fn unmet(&self) -> impl Iterator<Item = &CellDoc> {
        self.cells.iter().filter(|c| !c.met)
    }

    pub fn count(&self, kind: OutcomeKind) -> usize {
        self.cells.iter().filter(|c| c.outcome == kind).count()
    }

    #[cfg(test)]
    pub fn to_json(&self) -> String {
        // Plain strings and numbers: serializing cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Reads a results file, checking that it is one, of this version, and
    /// consistent (see [`Document::check`]).
    pub fn load(path: &Path) -> Result<Document, LoadError> {
        let text = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Document::parse(&text).map_err(|detail| LoadError::Format {
            path: path.to_path_buf(),
            detail,
        })
    }

    /// Parses and checks the bytes of a results file.
    pub fn parse(bytes: &[u8]) -> Result<Document, FormatError> {
        let value: serde_json::Value = serde_json::from_slice(bytes)?;
        if value["schema"] != SCHEMA {
            return Err(FormatError::Schema);
        }
        let version = value["schema_version"]
            .as_u64()
            .filter(|v| (u64::from(OLDEST_READ)..=u64::from(SCHEMA_VERSION)).contains(v));
        let Some(version) = version else {
            return Err(FormatError::Version {
                found: value["schema_version"].clone(),
            });
        };
        let mut doc: Document = match serde_json::from_value(value) {
            Ok(doc) => doc,
            // The tree holds no positions, the bytes do: read them again
            // for the line and column of what is wrong (a version that is
            // not one, a field of the wrong type).
            Err(e) => {
                return Err(serde_json::from_slice::<Document>(bytes)
                    .err()
                    .unwrap_or(e)
                    .into());
            }
        };
        if version == 2 {
            upgrade_v2(&mut doc);
        }
        doc.check()?;
        Ok(doc)
    }

    /// What every reader relies on: each cell names a grid that exists and
    /// the interpreter of that grid, its row and column are on that grid's
    /// axes, no cell appears twice, and resolved versions are versions.
    pub fn check(&self) -> Result<(), Inconsistency> {
        let mut seen = HashSet::new();
        for (index, c) in self.cells.iter().enumerate() {
            let pair = || c.pair();
            let Some(g) = self.grids.get(c.grid) else {
                return Err(Inconsistency::NoSuchGrid {
                    index,
                    pair: pair(),
                    grid: c.grid,
                    grids: self.grids.len(),
                });
            };
            if c.interpreter != g.interpreter.label {
                return Err(Inconsistency::OtherInterpreter {
                    index,
                    pair: pair(),
                    interpreter: c.interpreter.clone(),
                    grid: g.interpreter.label.clone(),
                });
            }
            let (b, r) = c.position(g);
            if b == usize::MAX || r == usize::MAX {
                return Err(Inconsistency::OffTheAxes {
                    index,
                    pair: pair(),
                });
            }
            if !seen.insert(c.key()) {
                return Err(Inconsistency::Twice(c.key().to_string()));
            }
            if c.unavailable.is_some() && c.outcome != OutcomeKind::Unavailable {
                return Err(Inconsistency::UnavailableReason {
                    index,
                    pair: pair(),
                    outcome: c.outcome,
                });
            }
        }
        Ok(())
    }
}

/// A version 2 document brought up to version 3 from its own words: the
/// kind of each unavailable cell from its message (the wording version 2
/// wrote), a forced build from its log's `--ignore-requires` line. What
/// each cell ran was not recorded: `exercised` stays unknown, and no bound
/// is called too strict on its passes.
pub fn upgrade_v2(doc: &mut Document) {
    for c in doc
        .cells
        .iter_mut()
        .filter(|c| c.outcome == OutcomeKind::Unavailable && c.unavailable.is_none())
    {
        let m = c.message.as_str();
        c.unavailable = if c.forbidden && m.starts_with("build requirements forbid numpy") {
            Some(Unavailability::BuildRequirements)
        } else if c.forbidden {
            Some(Unavailability::Metadata)
        } else if m.contains("no NumPy pre-release is newer than") {
            Some(Unavailability::NextIsNothing)
        } else if m.contains("no wheel") || m.contains("no NumPy release") {
            Some(Unavailability::NoWheel)
        } else if m.starts_with("the cell's dependencies:") {
            Some(Unavailability::Dependencies)
        } else {
            None
        };
    }
    const FORCED: &str = "; --ignore-requires: building with numpy";
    for b in doc.grids.iter_mut().flat_map(|g| g.builds.iter_mut()) {
        if b.forced.is_none() {
            b.forced = b.log.lines().find_map(|l| {
                let (reason, _) = l.strip_prefix("# ")?.split_once(FORCED)?;
                Some(reason.to_string())
            });
        }
    }
    doc.schema_version = SCHEMA_VERSION;
}

#[cfg(test)]
pub(crate) mod tests {
    //! In-memory documents for the tests of every stage that reads one:
    //! merge, diff, journal and every renderer.
    use super::*;

    pub(crate) fn interpreter(label: &str) -> InterpreterDoc {
        InterpreterDoc {
            label: label.to_string(),
            implementation: "CPython".into(),
            version: label.trim_start_matches("CPython ").to_string(),
            executable: PathBuf::from("/usr/bin/python3.11"),
            found_in: "PATH".into(),
            machine: "x86_64".into(),
            platform: "linux".into(),
        }
    }

    /// An entry labelled `label`: a release ("2.0.2"), or a package row
    /// ("pkg 1.0").
    fn axis_doc(label: &str) -> AxisDoc {
        let version: Option<Resolved> = label.parse().ok();
        AxisDoc {
            request: format!("{}.*", label.rsplit_once('.').map_or(label, |p| p.0)),
            label: version.is_none().then(|| label.to_string()),
            version,
            unavailable: None,
            ..AxisDoc::default()
        }
    }

    /// A cell of "CPython 3.11.7" in grid 0 with `kind`, expected to do
    /// exactly that.
    pub(crate) fn cell(build: &str, runtime: &str, kind: OutcomeKind) -> CellDoc {
        let reason = (kind == OutcomeKind::Fail).then_some(FailureReason::Other);
        CellDoc {
            grid: 0,
            interpreter: "CPython 3.11.7".into(),
            platform: "linux-x86_64".into(),
            build: build.into(),
            runtime: runtime.into(),
            outcome: kind,
            reason,
            exception: None,
            message: String::new(),
            signal: None,
            signal_name: None,
            traceback: None,
            expected: Expectation {
                outcome: kind,
                reason,
                source: ExpectSource::Default,
            },
            met: true,
            duration_s: 0.25,
            command: None,
            stdout: String::new(),
            stderr: String::new(),
            forbidden: false,
            unavailable: None,
            hint: None,
            rerun: None,
        }
    }

    /// A one-grid document holding `cells`, its axes taken from them.
    pub(crate) fn document(cells: Vec<CellDoc>) -> Document {
        let mut build: Vec<String> = Vec::new();
        let mut runtime: Vec<String> = Vec::new();
        for c in &cells {
            if !build.contains(&c.build) {
                build.push(c.build.clone());
            }
            if !runtime.contains(&c.runtime) {
                runtime.push(c.runtime.clone());
            }
        }
        build.sort();
        runtime.sort();
        let mut doc = Document {
            schema: SCHEMA.into(),
            schema_version: SCHEMA_VERSION,
            abimatrix_version: "0.0.0-test".into(),
            complete: true,
            duration_s: Some(1.5),
            installer: Some("uv (/usr/bin/uv, from PATH)".into()),
            extension: Some("sample extension my_extension".into()),
            timeout_s: Some(60.0),
            matrix_id: Some("0123456789abcdef".into()),
            shard: None,
            subject: Some("sources".into()),
            plan: None,
            date: None,
            commit: None,
            config: None,
            exercised: None,
            missing: Vec::new(),
            selected: Vec::new(),
            probe: None,
            grids: vec![GridDoc {
                interpreter: interpreter("CPython 3.11.7"),
                python: Some("3.11".into()),
                axes: Axes {
                    build: build.iter().map(|b| axis_doc(b)).collect(),
                    runtime: runtime.iter().map(|r| axis_doc(r)).collect(),
                },
                skipped: Vec::new(),
                built_on: None,
                environments: Vec::new(),
                builds: Vec::new(),
            }],
            cells,
            summary: Summary::default(),
        };
        doc.sort_cells();
        let planned = doc.planned_by_axes();
        doc.summarize(planned);
        doc
    }

    #[test]
    fn a_document_round_trips_through_its_file_form() {
        let doc = document(vec![
            cell("1.26.4", "2.0.2", OutcomeKind::Fail),
            cell("2.0.2", "2.0.2", OutcomeKind::Pass),
        ]);
        let back = Document::parse(doc.to_json().as_bytes()).unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn every_rule_of_an_expectation_round_trips_in_the_files_own_fields() {
        let sources = [
            ExpectSource::Table { line: 7 },
            ExpectSource::NumpyRules,
            ExpectSource::Declared,
            ExpectSource::PythonAbi,
            ExpectSource::Default,
        ];
        let mut doc = document(vec![cell("2.0.2", "2.0.2", OutcomeKind::Pass)]);
        for source in sources {
            doc.cells[0].expected.source = source;
            let json: serde_json::Value = serde_json::from_str(&doc.to_json()).unwrap();
            let fields = &json["cells"][0]["expected"];
            let (line, named) = match source {
                ExpectSource::Table { line } => (serde_json::json!(line), serde_json::Value::Null),
                ExpectSource::NumpyRules => (serde_json::Value::Null, "numpy-rules".into()),
                ExpectSource::Declared => (serde_json::Value::Null, "declared".into()),
                ExpectSource::PythonAbi => (serde_json::Value::Null, "python-abi".into()),
                ExpectSource::Default => (serde_json::Value::Null, serde_json::Value::Null),
            };
            assert_eq!((&fields["line"], &fields["source"]), (&line, &named));
            let back = Document::parse(doc.to_json().as_bytes()).unwrap();
            assert_eq!(back.cells[0].expected.source, source);
        }
        let mut json: serde_json::Value = serde_json::from_str(&doc.to_json()).unwrap();
        json["cells"][0]["expected"]["source"] = "the moon".into();
        let refused = Document::parse(json.to_string().as_bytes()).unwrap_err();
        assert!(refused.to_string().contains("the moon"), "{refused}");
    }

    /// A resolved version that is not a version is refused as the file is
    /// read, where it stands: the error names the file, the line and column
    /// and what is wrong with the text, and nothing panics.
    #[test]
    fn a_version_that_is_not_one_is_refused_with_its_file_and_position() {
        let doc = document(vec![cell("2.0.2", "2.0.2", OutcomeKind::Pass)]);
        let good = doc.to_json();
        let text = good.replacen("\"version\": \"2.0.2\"", "\"version\": \"two\"", 1);
        assert_ne!(text, good, "the axes hold a version");
        let line = 1 + text
            .lines()
            .position(|l| l.contains("\"two\""))
            .expect("the line");
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("results.json");
        std::fs::write(&path, &text).expect("written");
        let error = Document::load(&path).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "{} is not an abimatrix results file: ",
                path.display()
            )),
            "{error}"
        );
        assert!(
            error.contains(&format!("at line {line} column ")),
            "{error}"
        );
        assert!(error.contains("\"two\" is not a version"), "{error}");
    }

    #[test]
    fn inconsistent_files_are_refused_with_what_is_wrong() {
        let good = document(vec![cell("2.0.2", "2.0.2", OutcomeKind::Pass)]);
        let bad = |edit: &dyn Fn(&mut Document)| {
            let mut d = good.clone();
            edit(&mut d);
            Document::parse(serde_json::to_string(&d).unwrap().as_bytes())
                .unwrap_err()
                .to_string()
        };
        assert!(bad(&|d| d.cells[0].grid = 3).contains("names grid 3"));
        assert!(bad(&|d| d.grids.clear()).contains("there are 0 grid(s)"));
        assert!(
            bad(&|d| d.cells[0].interpreter = "CPython 3.9.1".into()).contains("sits in the grid")
        );
        assert!(bad(&|d| d.cells[0].build = "9.9".into()).contains("not on the axes"));
        assert!(
            bad(&|d| {
                let c = d.cells[0].clone();
                d.cells.push(c)
            })
            .contains("appears twice")
        );
        assert!(matches!(
            Document::parse(b"{}").unwrap_err(),
            FormatError::Schema
        ));
        assert!(Document::parse(b"[1,").is_err());
    }

    /// A file written by the previous version (schema 2: no `unavailable`
    /// kinds, no `forced` builds, no `exercised`) loads, brought up to
    /// version 3 from its own words; versions this one cannot read are
    /// refused, naming both.
    #[test]
    fn a_version_2_file_loads_upgraded_and_others_are_refused() {
        let mut doc = crate::report::fixtures::packages();
        doc.grids[0].builds[0].log = "$ uv pip install numpy==1.26.4 numpy>=2.0.0rc1\n# build requirements forbid numpy 1.26.4: numpy>=2.0.0rc1; --ignore-requires: building with numpy 1.26.4 anyway, without them\n".into();
        let mut value: serde_json::Value = serde_json::from_str(&doc.to_json()).unwrap();
        value["schema_version"] = 2.into();
        value.as_object_mut().unwrap().remove("exercised");
        for c in value["cells"].as_array_mut().unwrap() {
            c.as_object_mut().unwrap().remove("unavailable");
        }
        let v2 = serde_json::to_vec(&value).unwrap();
        let back = Document::parse(&v2).expect("a version 2 file loads");
        assert_eq!(back.schema_version, SCHEMA_VERSION);
        let forbidden = back.cells.iter().find(|c| c.forbidden).unwrap();
        assert_eq!(forbidden.unavailable, Some(Unavailability::Metadata));
        assert_eq!(
            back.grids[0].builds[0].forced.as_deref(),
            Some("build requirements forbid numpy 1.26.4: numpy>=2.0.0rc1")
        );
        assert_eq!(back.exercised, None, "not recorded then, not guessed now");
        for version in [1, 4] {
            value["schema_version"] = version.into();
            let err = Document::parse(&serde_json::to_vec(&value).unwrap()).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("schema_version {version} (this abimatrix reads 2 to 3)")
            );
        }
        // A kind on a cell that ran is refused.
        let mut bad = doc.clone();
        bad.cells[0].unavailable = Some(Unavailability::NoWheel);
        assert!(matches!(
            Document::parse(bad.to_json().as_bytes()).unwrap_err(),
            FormatError::Inconsistent(Inconsistency::UnavailableReason { .. })
        ));
    }

    /// Mutated results files (bytes cut, flipped, fields dropped or
    /// retyped) must each load or be refused, never panic; and whatever
    /// loads must render in every format without a panic.
    #[test]
    fn loading_and_rendering_never_panic_on_mutated_files() {
        let mut seed = document(vec![
            cell("1.26.4", "2.0.2", OutcomeKind::Fail),
            cell("2.0.2", "2.0.2", OutcomeKind::Crash),
            cell("1.26.4", "1.26.4", OutcomeKind::Pass),
            cell("2.0.2", "1.26.4", OutcomeKind::Timeout),
        ]);
        seed.cells[0].met = false;
        let text = seed.to_json();
        let tokens = [
            "", "0", "-1", "99", "null", "\"\"", "[]", "{}", "\"x\"", "1e400", "true",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 33) as usize % n.max(1)
        };
        let mut loaded = 0;
        for _ in 0..3000 {
            let mut bytes = text.clone().into_bytes();
            match next(3) {
                0 => bytes.truncate(next(bytes.len())),
                1 => {
                    let at = next(bytes.len());
                    bytes[at] = b"{}[],:\"0a-"[next(10)];
                }
                _ => {
                    // Replace one JSON value (after a ": ") with another token.
                    let starts: Vec<usize> = text.match_indices(": ").map(|(i, _)| i + 2).collect();
                    let at = starts[next(starts.len())];
                    let end = text[at..].find([',', '\n']).map_or(text.len(), |e| at + e);
                    bytes.splice(at..end, tokens[next(tokens.len())].bytes());
                }
            }
            let result = std::panic::catch_unwind(|| {
                if let Ok(doc) = Document::parse(&bytes) {
                    for format in crate::report::Format::ALL {
                        let _ = crate::report::render(&doc, format);
                    }
                    if let Some(c) = doc.cells.first() {
                        let _ = crate::report::explain::render(&doc, c, None);
                    }
                    let _ =
                        crate::report::diff::render(&crate::results::compare::diff(&doc, &seed));
                    return true;
                }
                false
            });
            match result {
                Ok(ok) => loaded += usize::from(ok),
                Err(_) => panic!("panicked on:\n{}", String::from_utf8_lossy(&bytes)),
            }
        }
        assert!(
            loaded > 100,
            "the mutations should leave many files loadable ({loaded})"
        );
    }
}
