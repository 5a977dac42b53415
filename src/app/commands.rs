//! The commands over saved results: `report`, `diff`, `merge`, `explain`,
//! and `plan` (the shards of a CI job matrix). Each reads its files, calls
//! one operation of `results` or one renderer of `report`, and maps the
//! answer to an exit status.

use std::fmt::Write as _;
use std::io::Write as _;

use super::files::{load_document, write_report};
use super::{Exit, error, hint, note};
use crate::cli::{DiffArgs, ExplainArgs, MergeArgs, PlanArgs, PlanFormat, ReportArgs};
use crate::config::Config;
use crate::extension::Subject;
use crate::plan::{self, ShardPlan};
use crate::report::sanitize::shown;
use crate::report::{self, Format};
use crate::results::{compare, merge};

pub fn report(args: &ReportArgs) -> Exit {
    let doc = match load_document(&args.results) {
        Ok(d) => d,
        Err(exit) => return exit,
    };
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
    match written {
        Err(e) => {
            error(e);
            Exit::Environment
        }
        // Like `run`: a CI step can gate on the saved results.
        Ok(()) if crate::results::fails(&doc) => Exit::Unexpected,
        Ok(()) => Exit::Ok,
    }
}

pub fn diff(args: &DiffArgs) -> Exit {
    let (old, new) = match (load_document(&args.old), load_document(&args.new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(exit), _) | (_, Err(exit)) => return exit,
    };
    if old.matrix_id != new.matrix_id {
        note("the two results are of different matrices; cells are compared where both have them");
    }
    let d = compare::diff(&old, &new);
    print!("{}", shown(&report::diff::render(&d)));
    if !new.complete {
        // Cells of a lost shard would read as "gone", not as worse: an
        // incomplete grid fails the comparison on its own.
        error(format_args!(
            "{} is incomplete: {}",
            args.new.display(),
            new.incomplete_text()
        ));
        Exit::Unexpected
    } else if d.got_worse() {
        Exit::Unexpected
    } else {
        Exit::Ok
    }
}

/// The shards of a matrix, from its config alone (nothing is resolved or
/// looked for): what a CI job matrix fans out over.
pub fn plan(args: &PlanArgs) -> Exit {
    let config = match super::files::load_config(&args.config) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let python = match super::run::python_requests(&args.python) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let choice = match plan::narrow(&config.python, &python) {
        Ok(c) => c,
        Err(e) => {
            error(e);
            return Exit::Usage;
        }
    };
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
    match args.format {
        PlanFormat::Github => {
            let include: Vec<serde_json::Value> = (1..=shards.shards)
                .map(|k| {
                    let pythons = shards.pythons_of(k);
                    // setup-python takes versions, one per line.
                    let versions: Vec<&str> = pythons
                        .iter()
                        .copied()
                        .filter(|p| p.starts_with(|c: char| c.is_ascii_digit()))
                        .collect();
                    serde_json::json!({
                        "shard": format!("{k}/{}", shards.shards),
                        "index": k,
                        "total": shards.shards,
                        "name": shards.label_of(k),
                        "python": pythons,
                        "python-version": versions.join("\n"),
                    })
                })
                .collect();
            println!("{}", serde_json::json!({ "include": include }));
        }
        PlanFormat::Text => print!("{}", plan_text(&config, &shards)),
    }
    Exit::Ok
}

/// Each shard, the Pythons it needs and its cells (as requested: versions
/// are resolved when the shard runs).
fn plan_text(config: &Config, shards: &ShardPlan) -> String {
    let builds: Vec<String> = match &config.extension.subject {
        Subject::Rows(rows) => rows.iter().map(|r| r.written()).collect(),
        _ => config.build.iter().map(|b| b.value.to_string()).collect(),
    };
    let mut out = String::new();
    for k in 1..=shards.shards {
        let cells = shards.units_of(k).count() * builds.len();
        let _ = writeln!(
            out,
            "--shard {k}/{}  {}  ({cells} cell(s); Python {})",
            shards.shards,
            shards.label_of(k),
            shards.pythons_of(k).join(", ")
        );
        for u in shards.units_of(k) {
            for b in &builds {
                let _ = writeln!(out, "    {}: {b} → {}", u.python, u.runtime);
            }
        }
    }
    out
}

pub fn merge(args: &MergeArgs) -> Exit {
    let mut docs = Vec::new();
    for path in &args.results {
        match load_document(path) {
            Ok(d) => docs.push(d),
            Err(exit) => return exit,
        }
    }
    let names: Vec<String> = args
        .results
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let merged = match merge::merge(docs, &names) {
        Ok(m) => m,
        Err(e) => {
            error(e);
            return Exit::Usage;
        }
    };
    match write_report(&merged, Format::Json, &args.output) {
        Ok(()) => {
            println!(
                "merged {} results into {}: {}",
                args.results.len(),
                args.output.display(),
                report::grid::counts_text(&merged)
            );
            if merged.complete {
                Exit::Ok
            } else {
                // Written all the same: the cells that ran are worth a
                // report, and the gate on it fails for the same reason.
                error(format_args!(
                    "the merged grid is incomplete: {}",
                    merged.incomplete_text()
                ));
                hint(
                    "merge the results of every shard `matrix plan` listed (a CI job that died uploads none)",
                );
                Exit::Unexpected
            }
        }
        Err(e) => {
            error(e);
            Exit::Environment
        }
    }
}

pub fn explain(args: &ExplainArgs) -> Exit {
    let path = match &args.results {
        Some(p) => p.clone(),
        // Not in a project folder: another project's last run is not
        // explained in silence; it is named, for --results.
        None if !super::files::config_path(&args.config).exists() => {
            not_a_project(args);
            return Exit::Usage;
        }
        None => {
            let root = crate::cache::root_in(args.cache_dir.as_deref());
            let (path, note) = super::files::default_results(&root, &args.config);
            if let Some(note) = note {
                eprintln!("{note}");
            }
            path
        }
    };
    let doc = match load_document(&path) {
        Ok(d) => d,
        Err(exit) => {
            if args.results.is_none() {
                hint("run `matrix run` first, or name a results file with --results");
            }
            return exit;
        }
    };
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
        match &args.python {
            Some(want) => error(format_args!(
                "no grid for Python {want} in {}: it holds {}",
                path.display(),
                pythons()
            )),
            None => error(format_args!("{} holds no grid", path.display())),
        }
        hint("name one of its Pythons with --python (a version or its prefix, e.g. 3.11)");
        return Exit::Usage;
    };
    let label = &doc.grids[grid].interpreter.label;
    let Some(cell) = doc.cell(grid, &args.build, &args.runtime) else {
        error(format_args!(
            "no cell {} → {} in the {label} grid of {}",
            args.build,
            args.runtime,
            path.display()
        ));
        let cells: Vec<String> = doc
            .cells
            .iter()
            .filter(|c| c.grid == grid)
            .take(12)
            .map(|c| format!("{} {}", c.build, c.runtime))
            .collect();
        hint(format_args!(
            "cells of {label} there include: {}",
            cells.join(", ")
        ));
        if doc.grids.len() > 1 {
            hint(format_args!(
                "it also holds {}: name one with --python",
                pythons()
            ));
        }
        return Exit::Usage;
    };
    let again = match &cell.rerun {
        Some(rerun) => match prepare(rerun, &doc, args) {
            Ok(again) => Some(again),
            Err(exit) => return exit,
        },
        None => None,
    };
    // Everything the child wrote, as it wrote it, but never as commands to
    // the terminal or the CI log.
    print!(
        "{}",
        shown(&report::explain::render(&doc, cell, again.as_ref()))
    );
    Exit::Ok
}

/// Writes what the cell's command needs into `--keep DIR` (or a new
/// folder it keeps) and returns the command to print.
fn prepare(
    rerun: &crate::probe::rerun::Rerun,
    doc: &crate::results::Document,
    args: &ExplainArgs,
) -> Result<report::explain::Again, Exit> {
    let dir = match &args.keep {
        // Absolute: the printed command runs from any folder.
        Some(dir) => std::path::absolute(dir).unwrap_or_else(|_| dir.clone()),
        None => tempfile::Builder::new()
            .prefix("abimatrix-explain-")
            .tempdir()
            .map(tempfile::TempDir::keep)
            .map_err(|e| {
                error(format_args!(
                    "cannot create a folder for the cell's files: {e}"
                ));
                hint("name one with --keep DIR");
                Exit::Environment
            })?,
    };
    let command = rerun.prepare(doc.probe.as_ref(), &dir).map_err(|e| {
        error(&e);
        Exit::Environment
    })?;
    Ok(report::explain::Again {
        command,
        dir,
        missing: rerun.missing(),
    })
}

/// `explain` without `--results` where there is no config: says so, and
/// which last run it could read instead.
fn not_a_project(args: &ExplainArgs) {
    let here = std::env::current_dir()
        .map(|d| format!(" ({})", d.display()))
        .unwrap_or_default();
    let config = args.config.display();
    error(format_args!(
        "there is no {config} here{here}, so there is no last run of it to explain"
    ));
    let last = crate::cache::last_results(&crate::cache::root_in(args.cache_dir.as_deref()));
    let command = format!(
        "matrix explain {} {}",
        crate::process::quote(&args.build),
        crate::process::quote(&args.runtime)
    );
    match crate::results::Document::load(&last) {
        Ok(doc) => {
            let what = [
                doc.extension.clone(),
                doc.date.as_ref().map(|d| format!("run {d}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            hint(format_args!(
                "the last run on this machine ({what}) is {}: `{command} --results {}`; or run it from the project's folder (or with -c FILE)",
                last.display(),
                crate::process::quote(&last.to_string_lossy())
            ));
        }
        Err(_) => hint(format_args!(
            "run it from the project's folder (or with -c FILE), or name a results file: `{command} --results FILE`"
        )),
    }
}
