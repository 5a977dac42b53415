//! The machine-readable results file. Its shape is versioned
//! (`schema_version`): a consumer checks the version before reading further,
//! and any incompatible change bumps it.
//!
//! Version 2: one entry in `grids` per interpreter (its resolved axes,
//! skipped series and builds); every cell names its interpreter and grid.

use std::path::Path;

use serde::Serialize;

use super::results::RunResults;
use crate::outcome::{FailureReason, Outcome, OutcomeKind};
use crate::runner::{AxisEntry, GridHeader};

pub const SCHEMA: &str = "abimatrix.results";
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    schema_version: u32,
    abimatrix_version: &'static str,
    /// False when the run was interrupted: `cells` then holds only the
    /// cells that finished.
    complete: bool,
    duration_s: Option<f64>,
    installer: Option<&'a str>,
    extension: Option<&'a str>,
    timeout_s: Option<f64>,
    grids: Vec<GridDoc<'a>>,
    cells: Vec<CellDoc<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct GridDoc<'a> {
    interpreter: InterpreterDoc<'a>,
    axes: Axes,
    /// Series inside requested ranges that have no wheel for this interpreter.
    skipped: &'a [String],
    builds: Vec<BuildDoc<'a>>,
}

#[derive(Serialize)]
struct InterpreterDoc<'a> {
    label: String,
    implementation: &'a str,
    version: &'a str,
    executable: &'a Path,
    found_in: &'a str,
    machine: &'a str,
    platform: &'a str,
}

#[derive(Serialize)]
struct Axes {
    build: Vec<AxisDoc>,
    runtime: Vec<AxisDoc>,
}

#[derive(Serialize)]
struct AxisDoc {
    request: String,
    version: Option<String>,
    unavailable: Option<String>,
}

#[derive(Serialize)]
struct BuildDoc<'a> {
    numpy: String,
    ok: bool,
    /// Taken from the cache rather than compiled by this run.
    reused: bool,
    summary: &'a str,
    duration_s: f64,
    log: &'a str,
}

#[derive(Serialize)]
struct Expectation {
    outcome: OutcomeKind,
    reason: Option<FailureReason>,
    /// The `[[expect]]` line that set it; null for the default (pass).
    line: Option<usize>,
}

#[derive(Serialize)]
struct CellDoc<'a> {
    grid: usize,
    interpreter: &'a str,
    build: &'a str,
    runtime: &'a str,
    outcome: OutcomeKind,
    reason: Option<FailureReason>,
    exception: Option<&'a str>,
    message: String,
    signal: Option<i32>,
    signal_name: Option<&'a str>,
    traceback: Option<&'a str>,
    expected: Expectation,
    met: bool,
    duration_s: f64,
    command: Option<&'a str>,
    stdout: &'a str,
    stderr: &'a str,
}

#[derive(Serialize)]
struct Summary {
    planned: usize,
    finished: usize,
    met: usize,
    unmet: usize,
    by_outcome: std::collections::BTreeMap<&'static str, usize>,
}

fn axis(entries: &[AxisEntry]) -> Vec<AxisDoc> {
    entries
        .iter()
        .map(|a| AxisDoc {
            request: a.request.clone(),
            version: a.version.as_ref().map(ToString::to_string),
            unavailable: a.unavailable.clone(),
        })
        .collect()
}

fn grid<'a>(index: usize, g: &'a GridHeader, results: &'a RunResults) -> GridDoc<'a> {
    GridDoc {
        interpreter: InterpreterDoc {
            label: g.interpreter.label(),
            implementation: &g.interpreter.implementation,
            version: &g.interpreter.version,
            executable: &g.interpreter.executable,
            found_in: &g.source,
            machine: &g.interpreter.machine,
            platform: &g.interpreter.platform,
        },
        axes: Axes {
            build: axis(&g.build_axis),
            runtime: axis(&g.runtime_axis),
        },
        skipped: &g.skipped,
        builds: results
            .builds
            .iter()
            .filter(|b| b.grid == index)
            .map(|b| BuildDoc {
                numpy: b.version.to_string(),
                ok: b.ok,
                reused: b.reused,
                summary: &b.summary,
                duration_s: b.duration.as_secs_f64(),
                log: &b.log,
            })
            .collect(),
    }
}

/// The results as pretty JSON.
pub fn to_string(results: &RunResults) -> String {
    let header = results.header.as_ref();
    let cells = results
        .cells
        .iter()
        .map(|c| {
            let (exception, signal, signal_name, traceback) = match &c.outcome {
                Outcome::Fail(f) => (f.exception.as_deref(), None, None, None),
                Outcome::Crash {
                    signal,
                    name,
                    traceback,
                } => (
                    None,
                    Some(*signal),
                    Some(name.as_str()),
                    traceback.as_deref(),
                ),
                _ => (None, None, None, None),
            };
            CellDoc {
                grid: c.grid,
                interpreter: &c.interpreter,
                build: &c.build,
                runtime: &c.runtime,
                outcome: c.outcome.kind(),
                reason: c.outcome.reason(),
                exception,
                message: c.outcome.message(),
                signal,
                signal_name,
                traceback,
                expected: Expectation {
                    outcome: c.expected.outcome,
                    reason: c.expected.reason,
                    line: c.expected.line,
                },
                met: c.met(),
                duration_s: c.duration.as_secs_f64(),
                command: c.command.as_deref(),
                stdout: &c.stdout,
                stderr: &c.stderr,
            }
        })
        .collect();
    let unmet = results.unmet().count();
    let doc = Document {
        schema: SCHEMA,
        schema_version: SCHEMA_VERSION,
        abimatrix_version: env!("CARGO_PKG_VERSION"),
        complete: results.complete(),
        duration_s: results.duration.map(|d| d.as_secs_f64()),
        installer: header.map(|h| h.installer.as_str()),
        extension: header.map(|h| h.extension.as_str()),
        timeout_s: header.map(|h| h.timeout.as_secs_f64()),
        grids: header
            .map(|h| {
                h.grids
                    .iter()
                    .enumerate()
                    .map(|(i, g)| grid(i, g, results))
                    .collect()
            })
            .unwrap_or_default(),
        cells,
        summary: Summary {
            planned: results.planned(),
            finished: results.cells.len(),
            met: results.cells.len() - unmet,
            unmet,
            by_outcome: OutcomeKind::ALL
                .iter()
                .map(|k| (k.as_str(), results.count(*k)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        },
    };
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Writes the results to `path` atomically (temp file + rename), so a reader
/// or a crash mid-write never leaves half a file.
pub fn write(results: &RunResults, path: &Path) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, to_string(results).as_bytes())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
