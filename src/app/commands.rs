//! The commands over saved results: `report`, `diff`, `merge`, `explain`,
//! and `plan` (the shards of a CI job matrix). Each reads its files, calls
//! one operation of `results` or one renderer of `report`, and maps the
//! answer to an exit status.

use std::io::Write as _;

use super::files::{load_document, write_report};
use super::{Exit, error, hint, note};
use crate::cli::{DiffArgs, ExplainArgs, MergeArgs, PlanArgs, PlanFormat, ReportArgs};
use crate::report::{self, Format};
use crate::results::{compare, merge};

pub fn report(args: &ReportArgs) -> Exit {
    let doc = match load_document(&args.results) {
        Ok(d) => d,
        Err(exit) => return exit,
    };
    let written = match &args.output {
        Some(path) => write_report(&doc, args.format, path),
        None => {
            let _ = write!(anstream::stdout(), "{}", report::render(&doc, args.format));
            Ok(())
        }
    };
    match written {
        Err(e) => {
            error(e);
            Exit::Environment
        }
        // Like `run`: a CI step can gate on the saved results.
        Ok(()) if doc.unmet().next().is_some() || !doc.complete => Exit::Unexpected,
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
    print!("{}", report::diff::render(&d));
    if d.got_worse() {
        Exit::Unexpected
    } else {
        Exit::Ok
    }
}

pub fn plan(args: &PlanArgs) -> Exit {
    let n = usize::from(args.shards);
    match args.format {
        PlanFormat::Github => {
            let include: Vec<serde_json::Value> = (1..=n)
                .map(|k| serde_json::json!({"shard": format!("{k}/{n}"), "index": k, "total": n}))
                .collect();
            println!("{}", serde_json::json!({ "include": include }));
        }
        PlanFormat::Text => {
            for k in 1..=n {
                println!("--shard {k}/{n}");
            }
        }
    }
    Exit::Ok
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
            Exit::Ok
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
        None => {
            let (path, note) = super::files::default_results(&args.config);
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
    let grid = match &args.python {
        None => Some(0),
        Some(want) => doc
            .grids
            .iter()
            .position(|g| g.interpreter.version.starts_with(want.as_str())),
    };
    let cell = grid.and_then(|g| doc.cell(g, &args.build, &args.runtime));
    let Some(cell) = cell else {
        error(format_args!(
            "no cell {} → {} in {}",
            args.build,
            args.runtime,
            path.display()
        ));
        let cells: Vec<String> = doc
            .cells
            .iter()
            .take(12)
            .map(|c| format!("{} {}", c.build, c.runtime))
            .collect();
        hint(format_args!("cells there include: {}", cells.join(", ")));
        return Exit::Usage;
    };
    print!("{}", report::explain::render(&doc, cell));
    Exit::Ok
}
