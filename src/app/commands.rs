//! The commands over saved results: `report`, `diff`, `merge`, `explain`,
//! and `plan` (the shards of a CI job matrix). Each reads its files, calls
//! one operation of `results` or one renderer of `report`, and says how it
//! ended.

use std::io::Write as _;

use super::files::{load_document, write_report};
use super::{CommandError, note};
use crate::cli::{DiffArgs, ExplainArgs, MergeArgs, PlanArgs, PlanFormat, ReportArgs};
use crate::plan::{self, ShardPlan};
use crate::report::sanitize::shown;
use crate::report::{self, Format};
use crate::results::{compare, merge};

pub fn report(args: &ReportArgs) -> Result<(), CommandError> {
    let doc = load_document(&args.results)?;
    let written = match (&args.output, args.summary) {
        (Some(path), false) => write_report(&doc, args.format, path),
        (Some(path), true) => super::files::write_text(&report::text::summary(&doc), path),
        (None, false) => {
            let _ = write!(anstream::stdout(), "{}", report::render(&doc, args.format));
            Ok(())
        }
        (None, true) => {
            let _ = write!(anstream::stdout(), "{}", report::text::summary(&doc));
            Ok(())
        }
    };
    // The gate of a sharded CI run: annotate what it found. On stderr, which
    // the runner reads for commands too, so a JSON report on stdout stays JSON.
    if report::github::enabled() {
        eprint!("{}", report::github::annotations(&doc));
    }
    written?;
    // Like `run`: a CI step can gate on the saved results.
    if crate::results::fails(&doc) {
        return Err(CommandError::Unmet);
    }
    Ok(())
}

pub fn diff(args: &DiffArgs) -> Result<(), CommandError> {
    let old = load_document(&args.old)?;
    let new = load_document(&args.new)?;
    if old.matrix_id != new.matrix_id {
        note("the two results are of different matrices; cells are compared where both have them");
    }
    let d = compare::diff(&old, &new);
    print!("{}", shown(&report::diff::render(&d)));
    if !new.complete {
        // Cells of a lost shard would read as "gone", not as worse: an
        // incomplete grid fails the comparison on its own.
        return Err(CommandError::DiffIncomplete {
            path: args.new.clone(),
            why: new.incomplete_text(),
        });
    }
    if d.got_worse() {
        return Err(CommandError::Unmet);
    }
    Ok(())
}

/// The shards of a matrix, from its config alone (nothing is resolved or
/// looked for): what a CI job matrix fans out over.
pub fn plan(args: &PlanArgs) -> Result<(), CommandError> {
    let config = super::files::load_config(&args.config)?;
    let python = super::run::python_requests(&args.python)?;
    let choice = plan::narrow(&config.python, &python).map_err(plan::PlanError::Narrow)?;
    let runtimes: Vec<String> = config.runtime.iter().map(|r| r.value.to_string()).collect();
    let asked = usize::from(args.shards);
    let shards = ShardPlan::new(&choice.names, &runtimes, asked);
    if shards.shards < asked {
        note(format_args!(
            "{} shard(s), not {asked}: the matrix has {} unit(s) ({} Python(s) × {} runtime NumPy request(s)), and a shard never splits one (each runtime environment is made on one machine)",
            shards.shards,
            shards.units.len(),
            choice.names.len(),
            runtimes.len()
        ));
    }
    // A limited-API matrix makes its rows on one Python: every shard's job
    // needs it too.
    let build = plan::build_pythons(&config, &choice);
    let text = match args.format {
        PlanFormat::Github => report::shards::github(&shards, &build),
        PlanFormat::Text => report::shards::text(&config, &shards, &build),
    };
    print!("{text}");
    Ok(())
}

pub fn merge(args: &MergeArgs) -> Result<(), CommandError> {
    let docs = args
        .results
        .iter()
        .map(|path| load_document(path))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = args
        .results
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let merged = merge::merge(docs, &names)?;
    write_report(&merged, Format::Json, &args.output)?;
    println!(
        "merged {} results into {}: {}",
        args.results.len(),
        args.output.display(),
        report::wording::counts_text(&merged)
    );
    if !merged.complete {
        // Written all the same: the cells that ran are worth a report, and
        // the gate on it fails for the same reason.
        return Err(CommandError::MergeIncomplete {
            why: merged.incomplete_text(),
        });
    }
    Ok(())
}

pub fn explain(args: &ExplainArgs) -> Result<(), CommandError> {
    let path = match &args.results {
        Some(p) => p.clone(),
        // Not in a project folder: another project's last run is not
        // explained in silence; it is named, for --results.
        None if !super::files::config_path(&args.config).exists() => {
            return Err(not_a_project(args));
        }
        None => {
            let root = crate::cache::root_in(args.cache_dir.as_deref());
            let (path, note) = super::files::default_results(&root, &args.config);
            eprintln!("{note}");
            path
        }
    };
    let doc = crate::results::Document::load(&path).map_err(|e| match args.results {
        Some(_) => CommandError::Results(e),
        None => CommandError::NoLastRun(e),
    })?;
    let pythons = || {
        doc.grids
            .iter()
            .map(|g| g.interpreter.label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // `--python 3.1` is 3.1.x, not 3.11: a prefix of whole components.
    let grid = match &args.python {
        None if doc.grids.is_empty() => None,
        None => Some(0),
        Some(want) => doc.grids.iter().position(|g| {
            let v = &g.interpreter.version;
            v == want || v.starts_with(&format!("{want}."))
        }),
    };
    let Some(grid) = grid else {
        return Err(CommandError::NoGrid {
            path,
            want: args.python.clone(),
            pythons: pythons(),
        });
    };
    let label = &doc.grids[grid].interpreter.label;
    let Some(cell) = doc.cell(grid, &args.build, &args.runtime) else {
        return Err(CommandError::NoCell {
            build: args.build.clone(),
            runtime: args.runtime.clone(),
            label: label.clone(),
            path,
            cells: doc
                .cells
                .iter()
                .filter(|c| c.grid == grid)
                .take(12)
                .map(|c| format!("{} {}", c.build, c.runtime))
                .collect(),
            others: (doc.grids.len() > 1).then(pythons),
        });
    };
    let again = match &cell.rerun {
        Some(rerun) => Some(prepare(rerun, &doc, args)?),
        None => None,
    };
    // Everything the child wrote, as it wrote it, but never as commands to
    // the terminal or the CI log.
    print!(
        "{}",
        shown(&report::explain::render(&doc, cell, again.as_ref()))
    );
    Ok(())
}

/// Writes what the cell's command needs into `--keep DIR` (or a new
/// folder it keeps) and returns the command to print.
fn prepare(
    rerun: &crate::probe::rerun::Rerun,
    doc: &crate::results::Document,
    args: &ExplainArgs,
) -> Result<report::explain::Again, CommandError> {
    let dir = match &args.keep {
        // Absolute: the printed command runs from any folder.
        Some(dir) => std::path::absolute(dir).unwrap_or_else(|_| dir.clone()),
        None => tempfile::Builder::new()
            .prefix("abimatrix-explain-")
            .tempdir()
            .map(tempfile::TempDir::keep)
            .map_err(CommandError::Workdir)?,
    };
    let command = rerun.prepare(doc.probe.as_ref(), &dir)?;
    Ok(report::explain::Again {
        command,
        dir,
        missing: rerun.missing(),
    })
}

/// `explain` without `--results` where there is no config: says so, and
/// which last run it could read instead.
fn not_a_project(args: &ExplainArgs) -> CommandError {
    let last = crate::cache::last_results(&crate::cache::root_in(args.cache_dir.as_deref()));
    let what = crate::results::Document::load(&last).ok().map(|doc| {
        [
            doc.extension.clone(),
            doc.date.as_ref().map(|d| format!("run {d}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    });
    CommandError::NotAProject {
        config: args.config.clone(),
        here: std::env::current_dir().ok(),
        command: format!(
            "matrix explain {} {}",
            crate::process::quote(&args.build),
            crate::process::quote(&args.runtime)
        ),
        last: what.map(|what| (last, what)),
    }
}
