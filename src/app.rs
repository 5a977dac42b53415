//! The commands, wired together: config in, runner and reporter running side
//! by side, report out, error mapped to a documented exit status.

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;

use tokio::sync::mpsc;

use crate::cli::{
    CacheAction, CacheArgs, Cli, Command, DiffArgs, ExplainArgs, InitArgs, MergeArgs, Outputs,
    PlanArgs, PlanFormat, PythonsArgs, ReportArgs, RunArgs,
};
use crate::compare;
use crate::config::{Config, STARTER};
use crate::outcome::OutcomeKind;
use crate::python::{self, SearchRoots};
use crate::report::journal::{self, Journal};
use crate::report::model::CellDoc;
use crate::report::{self, Progress, RunResults};
use crate::report::{Document, Format};
use crate::runner::Event;
use crate::runner::{self, RunError, RunOptions};

/// Documented exit statuses (see `matrix --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Unexpected = 1,
    Usage = 2,
    Environment = 3,
    Interrupted = 130,
}

pub async fn main(cli: Cli) -> Exit {
    match cli.command {
        Command::Run(args) => run(args).await,
        Command::Init(args) => init(&args),
        Command::Pythons(args) => pythons(&args).await,
        Command::Cache(args) => cache_command(&args),
        Command::Report(args) => report_command(&args),
        Command::Diff(args) => diff_command(&args),
        Command::Plan(args) => plan_command(&args),
        Command::Merge(args) => merge_command(&args),
        Command::Explain(args) => explain_command(&args),
    }
}

fn cache_command(args: &CacheArgs) -> Exit {
    let root = crate::cache::root_in(args.cache_dir.as_deref());
    match args.action {
        CacheAction::Info => {
            println!("cache: {}", root.display());
            for (name, what) in [
                ("envs", "interpreters with environments"),
                ("builds", "builds"),
                ("tools", "tools"),
            ] {
                let (bytes, entries) = crate::cache::usage(&root.join(name));
                println!(
                    "  {name:<7} {entries:>4} {what:<31} {:>9.1} MiB",
                    bytes as f64 / (1024.0 * 1024.0)
                );
            }
            Exit::Ok
        }
        CacheAction::Clean => {
            if !root.exists() {
                println!("nothing to clean at {}", root.display());
                return Exit::Ok;
            }
            match std::fs::remove_dir_all(&root) {
                Ok(()) => {
                    println!("removed {}", root.display());
                    Exit::Ok
                }
                Err(e) => {
                    error(format_args!("cannot remove {}: {e}", root.display()));
                    Exit::Environment
                }
            }
        }
    }
}

async fn pythons(args: &PythonsArgs) -> Exit {
    let uv = which::which("uv").ok().or_else(|| {
        let cached = crate::cache::tools_dir().join("uv/bin/uv");
        cached.exists().then_some(cached)
    });
    let d = python::discover(&SearchRoots::from_env(uv)).await;
    if args.json {
        let found: Vec<serde_json::Value> = d
            .found
            .iter()
            .map(|f| {
                serde_json::json!({
                    "version": f.interpreter.version,
                    "implementation": f.interpreter.implementation,
                    "machine": f.interpreter.machine,
                    "executable": f.interpreter.executable,
                    "found_at": f.path,
                    "found_in": f.source.to_string(),
                    "can_build": f.interpreter.python_h,
                })
            })
            .collect();
        let rejected: Vec<serde_json::Value> = d
            .rejected
            .iter()
            .map(|r| serde_json::json!({"path": r.path, "found_in": r.source.to_string(), "reason": r.reason}))
            .collect();
        let doc = serde_json::json!({"found": found, "rejected": rejected});
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Exit::Ok;
    }
    let bold = anstyle::Style::new().bold();
    let dim = anstyle::Style::new().dimmed();
    let mut out = anstream::stdout();
    let _ = writeln!(
        out,
        "{bold}{:<10} {:<14} {:<8} {:<9} {:<6} path{bold:#}",
        "version", "implementation", "arch", "found in", "build"
    );
    for f in &d.found {
        let i = &f.interpreter;
        let build = if i.python_h { "yes" } else { "no" };
        let place = if f.path == i.executable {
            i.executable.display().to_string()
        } else {
            format!("{} → {}", f.path.display(), i.executable.display())
        };
        let _ = writeln!(
            out,
            "{:<10} {:<14} {:<8} {:<9} {:<6} {place}",
            i.version,
            i.implementation,
            i.machine,
            f.source.to_string(),
            build
        );
    }
    if !d.rejected.is_empty() {
        let _ = writeln!(out, "\n{bold}rejected{bold:#}");
        for r in &d.rejected {
            let _ = writeln!(
                out,
                "{} {dim}({}){dim:#}: {}",
                r.path.display(),
                r.source,
                r.reason
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{dim}\"build\": Python.h is present, so extensions can be compiled for it{dim:#}"
    );
    Exit::Ok
}

fn error(message: impl std::fmt::Display) {
    let style = anstyle::AnsiColor::Red.on_default().bold();
    let _ = writeln!(anstream::stderr(), "{style}error{style:#}: {message}");
}

fn hint(message: impl std::fmt::Display) {
    let style = anstyle::AnsiColor::Cyan.on_default().bold();
    let _ = writeln!(anstream::stderr(), "{style}hint{style:#}: {message}");
}

fn init(args: &InitArgs) -> Exit {
    if args.path.exists() && !args.force {
        error(format_args!("{} already exists", args.path.display()));
        hint("use --force to overwrite it");
        return Exit::Usage;
    }
    if let Err(e) = std::fs::write(&args.path, STARTER) {
        error(format_args!("cannot write {}: {e}", args.path.display()));
        return Exit::Environment;
    }
    println!(
        "wrote {}; run it with: matrix run -c {}",
        args.path.display(),
        args.path.display()
    );
    Exit::Ok
}

async fn run(args: RunArgs) -> Exit {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            error(&e);
            if e.line == 0 && !args.config.exists() {
                hint("create one with `matrix init`, or name another with -c FILE");
            }
            return Exit::Usage;
        }
    };
    // Files named on the command line are read before any work, so a typo
    // costs nothing.
    let load = |path: &Option<PathBuf>| path.as_deref().map(Document::load).transpose();
    let (baseline, previous) = match (load(&args.baseline), load(&args.rerun_failed)) {
        (Ok(b), Ok(p)) => (b, p),
        (Err(e), _) | (_, Err(e)) => {
            error(e);
            return Exit::Usage;
        }
    };
    let only = previous.as_ref().map(|p| {
        p.cells
            .iter()
            .filter(|c| c.outcome != OutcomeKind::Pass)
            .map(|c| (c.interpreter.clone(), c.build.clone(), c.runtime.clone()))
            .collect()
    });
    // The journal: per matrix (and shard), under the cache root.
    let cache_root = crate::cache::root_in(args.cache_dir.as_deref());
    let journal_id = match args.shard {
        Some((k, n)) => format!("{}-shard-{k}-of-{n}", config.matrix_id()),
        None => config.matrix_id(),
    };
    let journal_path = journal::path(&cache_root, &journal_id);
    let journaled = if args.resume {
        journal::read(&journal_path)
    } else {
        Vec::new()
    };
    if args.resume {
        eprintln!(
            "resuming: {} cell(s) already done in {}",
            journaled.len(),
            journal_path.display()
        );
    }
    let options = RunOptions {
        skip: journal::keys(&journaled),
        jobs: args.jobs.map(usize::from),
        keep_envs: args.keep_envs,
        installer: args.installer,
        cache: (!args.fresh).then(|| crate::cache::root_in(args.cache_dir.as_deref())),
        isolation: args.isolation,
        shard: args.shard,
        only,
        ignore_requires: args.ignore_requires,
    };

    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut progress = Progress::new(std::io::stdout().is_terminal(), args.quiet);
    let resume = args.resume;
    let collector = tokio::spawn(async move {
        let mut results = RunResults::default();
        let mut journal = None;
        while let Some(event) = rx.recv().await {
            progress.on(&event);
            results.on(&event);
            match &event {
                Event::Started(_) => {
                    let (j, problem) = Journal::open(journal_path.clone(), resume);
                    if let Some(p) = problem {
                        eprintln!("note: {p}");
                    }
                    journal = Some(j);
                }
                Event::CellFinished(cell) => {
                    if let (Some(j), Some(h)) = (&mut journal, &results.header) {
                        j.record(&CellDoc::from_result(cell, &h.grids));
                    }
                }
                _ => {}
            }
        }
        progress.finish();
        // Finished normally: nothing to resume. Interrupted: keep it.
        if results.complete() {
            if let Some(j) = journal {
                j.finish();
            }
        }
        results
    });

    // The run future owns every child; dropping it on a signal kills them
    // all (process-group guards) and removes the temporary directory.
    let outcome = tokio::select! {
        r = runner::run(&config, &options, tx) => Some(r),
        _ = interrupted() => None,
    };
    if outcome.is_none() {
        // A second interrupt while we write what we have: leave at once.
        tokio::spawn(async {
            interrupted().await;
            std::process::exit(Exit::Interrupted as i32);
        });
    }
    let results = collector.await.unwrap_or_default();

    if let Some(Err(e)) = &outcome {
        report_run_error(e);
        if let RunError::Config(..) = e {
            return Exit::Usage;
        }
        if results.cells.is_empty() {
            return Exit::Environment;
        }
    }
    let mut doc = Document::from_results(&results);
    if !journaled.is_empty() {
        doc = with_journaled(doc, journaled);
    }
    if let Some(previous) = previous {
        doc = with_previous_passes(doc, previous);
    }
    if results.header.is_some() {
        let _ = write!(anstream::stdout(), "{}", report::grid::render(&doc));
    }
    if let Some(h) = results.header.as_ref().and_then(|h| h.work_dir.as_ref()) {
        eprintln!("kept environments and builds in {}", h.display());
    }
    let mut worse = false;
    if let Some(baseline) = &baseline {
        let d = compare::diff(baseline, &doc);
        let _ = write!(anstream::stdout(), "\nsince the baseline: {}", d.render());
        worse = d.got_worse();
    }
    // Kept for `matrix explain`; losing it is not worth failing the run.
    let _ = std::fs::create_dir_all(crate::cache::root());
    let kept = report::json::write(&doc, &last_results_path()).is_ok();
    let failed = write_outputs(&doc, &args.outputs);
    if !failed.is_empty() {
        for e in &failed {
            error(e);
        }
        if kept {
            hint(format_args!(
                "the results are kept in {}; `matrix report {0} --format FORMAT -o PATH` writes them again",
                last_results_path().display()
            ));
        }
        return Exit::Environment;
    }
    if let Some(c) = doc.cells.iter().find(|c| {
        matches!(
            c.outcome,
            OutcomeKind::Unavailable | OutcomeKind::BuildFailed
        ) && crate::outcome::disk_full(&c.message)
    }) {
        let line = c
            .message
            .lines()
            .find(|l| crate::outcome::disk_full(l))
            .unwrap_or_default()
            .trim();
        error(format_args!(
            "the disk filled up ({} → {} is {}): {line}",
            c.build, c.runtime, c.outcome
        ));
        hint(format_args!(
            "free space there, or point --cache-dir at another disk (the cache is {}, temporary files go to {})",
            cache_root.display(),
            std::env::temp_dir().display()
        ));
        return Exit::Environment;
    }
    match outcome {
        None => Exit::Interrupted,
        Some(Err(_)) => Exit::Environment,
        Some(Ok(())) if worse || doc.unmet().next().is_some() || !doc.complete => Exit::Unexpected,
        Some(Ok(())) => Exit::Ok,
    }
}

/// A resumed run's report: the cells of this run plus those the journal
/// held, placed in this run's grids by interpreter.
fn with_journaled(mut doc: Document, journaled: Vec<CellDoc>) -> Document {
    let planned = doc.summary.planned + journaled.len();
    for mut c in journaled {
        let Some(grid) = doc
            .grids
            .iter()
            .position(|g| g.interpreter.label == c.interpreter)
        else {
            continue;
        };
        if doc.cell(grid, &c.build, &c.runtime).is_none() {
            c.grid = grid;
            doc.cells.push(c);
        }
    }
    doc.sort_cells();
    doc.summarize(planned);
    doc
}

/// A re-run's report: the re-run cells, plus the cells of the earlier
/// results that passed (and so were not re-run).
fn with_previous_passes(doc: Document, previous: Document) -> Document {
    let passed = Document {
        cells: previous
            .cells
            .iter()
            .filter(|c| c.outcome == OutcomeKind::Pass)
            .cloned()
            .collect(),
        ..previous
    };
    let names = ["the earlier results".to_string(), "this run".to_string()];
    match report::merge::merge(vec![passed, doc.clone()], &names) {
        Ok(mut merged) => {
            merged.complete = doc.complete;
            merged.duration_s = doc.duration_s;
            merged
        }
        Err(e) => {
            error(format_args!("cannot combine with the earlier results: {e}"));
            doc
        }
    }
}

/// Writes every requested report; one that cannot be written (a full disk, a
/// missing directory) does not stop the others. Returns what failed.
fn write_outputs(doc: &Document, outputs: &Outputs) -> Vec<String> {
    let mut failed = Vec::new();
    for (path, format) in [
        (&outputs.json, Format::Json),
        (&outputs.junit, Format::Junit),
        (&outputs.markdown, Format::Markdown),
        (&outputs.html, Format::Html),
    ] {
        if let Some(path) = path {
            if let Err(e) = report::write(doc, format, path) {
                failed.push(format!("cannot write {}: {e}", path.display()));
            }
        }
    }
    failed
}

/// Where every run leaves its results, for `matrix explain`.
fn last_results_path() -> PathBuf {
    crate::cache::root().join("last-results.json")
}

fn explain_command(args: &ExplainArgs) -> Exit {
    let path = args.results.clone().unwrap_or_else(last_results_path);
    let doc = match Document::load(&path) {
        Ok(d) => d,
        Err(e) => {
            error(e);
            if args.results.is_none() {
                hint("run `matrix run` first, or name a results file with --results");
            }
            return Exit::Usage;
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
    let (Some(grid), Some(cell)) = (grid, cell) else {
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
    print!("{}", report::explain::render(&doc, grid, cell));
    Exit::Ok
}

fn report_command(args: &ReportArgs) -> Exit {
    let doc = match Document::load(&args.results) {
        Ok(d) => d,
        Err(e) => {
            error(e);
            return Exit::Usage;
        }
    };
    let written = match &args.output {
        Some(path) => report::write(&doc, args.format, path)
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
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

fn diff_command(args: &DiffArgs) -> Exit {
    let (old, new) = match (Document::load(&args.old), Document::load(&args.new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => {
            error(e);
            return Exit::Usage;
        }
    };
    if old.matrix_id != new.matrix_id {
        let style = anstyle::AnsiColor::Yellow.on_default();
        let _ = writeln!(
            anstream::stderr(),
            "{style}note{style:#}: the two results are of different matrices; cells are compared where both have them"
        );
    }
    let d = compare::diff(&old, &new);
    print!("{}", d.render());
    if d.got_worse() {
        Exit::Unexpected
    } else {
        Exit::Ok
    }
}

fn plan_command(args: &PlanArgs) -> Exit {
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

fn merge_command(args: &MergeArgs) -> Exit {
    let mut docs = Vec::new();
    for path in &args.results {
        match Document::load(path) {
            Ok(d) => docs.push(d),
            Err(e) => {
                error(e);
                return Exit::Usage;
            }
        }
    }
    let names: Vec<String> = args
        .results
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    match report::merge::merge(docs, &names) {
        Ok(merged) => match report::write(&merged, Format::Json, &args.output) {
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
                error(format_args!("cannot write {}: {e}", args.output.display()));
                Exit::Environment
            }
        },
        Err(e) => {
            error(e);
            Exit::Usage
        }
    }
}

fn report_run_error(e: &RunError) {
    error(e);
    if let Some(h) = e.hint() {
        hint(h);
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}
