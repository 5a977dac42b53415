//! `matrix run`: config → plan → runner → reporter → reports, and the exit
//! status. The files a run reads besides the config (a baseline, an earlier
//! run to re-run the failures of, a journal to resume) are gathered first in
//! [`Inputs`], so a typo costs nothing.

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

use super::files::{self, keep_last_results, write_outputs};
use super::{CommandError, interrupted, note, terminal, warning};
use crate::cache::memo::{Memo, Network};
use crate::cli::RunArgs;
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::hints::Advice;
use crate::outcome::{self, OutcomeKind};
use crate::plan::{self, Plan, PlanOptions, RunHeader};
use crate::python::PythonRequest;
use crate::report::{self, Progress, Reporter};
use crate::results::journal::{self, Journal};
use crate::results::{CellDoc, Document, compare, merge};
use crate::runner::{self, RunError};

pub async fn run(args: RunArgs) -> Result<(), CommandError> {
    let config = files::load_config(&args.config)?;
    let inputs = Inputs::read(&args, &config)?;
    let mut stop = std::pin::pin!(interrupted());
    // Held until the run ends: runs share the cache, `cache clean` and
    // `cache verify` wait for them (and they for those).
    let _lock = tokio::select! {
        l = lock_cache(&inputs.cache_root) => l,
        _ = &mut stop => return Err(CommandError::Interrupted),
    };
    // Whatever way this run ends, what it learned is written.
    let _memo = Memo::flush_on_drop(&inputs.options.memo);
    let started = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let plan = tokio::select! {
        p = plan::make(&config, &inputs.options) => Arc::new(p?),
        _ = &mut stop => return Err(CommandError::Interrupted),
    };
    if args.list {
        let _ = write!(
            anstream::stdout(),
            "{}",
            report::list::render(&plan, &config)
        );
        return Ok(());
    }
    let (config, plan, ahead) = tokio::select! {
        found = abi3_by_wheel(config, plan, &inputs.options) => found?,
        _ = &mut stop => return Err(CommandError::Interrupted),
    };
    let progress = Progress::new(std::io::stdout().is_terminal(), args.quiet);
    // A build-only run has no cell to journal (and must not end another
    // run's journal).
    let journal = (!args.build_only).then(|| inputs.open_journal());
    let mut reporter = Reporter::new(
        plan.header.clone(),
        config.expectations.clone(),
        progress,
        journal,
    );
    let ended = dispatch(plan.clone(), args.keep_envs, &mut reporter, stop, ahead).await;
    if ended.is_none() {
        // A second interrupt while we write what we have: leave at once.
        // Listened for on a thread of its own: what follows writes on the
        // runtime's one thread, which a stdout nobody reads holds for good.
        std::thread::spawn(|| {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(interrupted());
            std::process::exit(ExitStatus::Interrupted.code().into());
        });
    }
    let results = reporter.finish();
    // What stopped the run, said after what it has (a run that has no cell
    // has nothing to say).
    let mut problems = Vec::new();
    let kept_work = match ended {
        None => {
            problems.push(CommandError::Interrupted);
            None
        }
        Some(Err(e)) if results.cells.is_empty() => return Err(e.into()),
        Some(Err(e)) => {
            problems.push(e.into());
            None
        }
        Some(Ok(kept)) => kept,
    };
    if args.build_only {
        built(&results, &plan);
        return ending(problems);
    }
    let mut doc = inputs.combine(results.document(), &config, &plan.header);
    doc.config = Some(args.config.display().to_string());
    doc.date = Some(started.to_string());
    // Only reports show it: a run that writes none asks git nothing.
    let o = &args.outputs;
    if o.json.is_some() || o.junit.is_some() || o.markdown.is_some() || o.html.is_some() {
        // git is a child waited on: off the runtime.
        let dir = config.dir();
        doc.commit = crate::blocking::run(move || commit_of(&dir)).await;
    }
    let worse = show(&doc, &args, &inputs, kept_work.as_deref());
    // Kept for `matrix explain`; losing it is not worth failing the run.
    let json = report::render(&doc, report::Format::Json);
    let kept = keep_last_results(&json, &inputs.cache_root, &args.config);
    let failed = write_outputs(&doc, &json, &args.outputs);
    if !failed.is_empty() {
        // Before what stopped the run: the reports are what a user reads.
        problems.insert(0, CommandError::Write { failed, kept });
    } else if let Some(full) = disk_filled(&doc, &inputs.cache_root) {
        problems.insert(0, full);
    }
    if problems.is_empty() && (worse || crate::results::fails(&doc)) {
        return Err(CommandError::Unmet);
    }
    ending(problems)
}

/// A project that declares nothing abimatrix reads about Python's stable
/// ABI, planned again as built once when the wheel its build Python makes
/// comes out `abi3` ([`plan::wheel_to_ask`]): that wheel is built first,
/// where the run keeps its builds, so the run finds it there (with
/// `--fresh`, in the run's own folder, handed on in `Ahead`).
async fn abi3_by_wheel(
    config: Config,
    plan: Arc<Plan>,
    options: &PlanOptions,
) -> Result<(Config, Arc<Plan>, runner::Ahead), CommandError> {
    let Some(asked) = plan::wheel_to_ask(&config, &plan, options) else {
        return Ok((config, plan, runner::Ahead::default()));
    };
    let builder = plan.header.grids[asked].interpreter.clone();
    let started = || {
        note(format_args!(
            "building the project on {} first: if its wheel is tagged abi3, every Python imports that one",
            builder.label()
        ))
    };
    // What that build learned (the project's hash; with --fresh the row
    // itself) is handed to the run, which need not do it again.
    let runner::WheelTag { tag, ahead } =
        runner::project_wheel_tag(plan.clone(), asked, &started).await?;
    match tag.and_then(|t| plan::declared_by_wheel(&config, &builder, &t)) {
        Some(declared) => {
            let mut again = Arc::unwrap_or_clone(plan);
            plan::share_rows(&mut again, &declared, options)?;
            if let Some(abi) = &declared.abi {
                // Said with the run's header: nothing in the project's
                // files explains why its rows are built on one Python.
                again.header.notes.push(format!(
                    "{}: the project is built once, on that Python, and imported under every Python at or above {}",
                    abi.declared.as_deref().unwrap_or_default(),
                    abi.limited.value
                ));
            }
            Ok((declared, Arc::new(again), ahead))
        }
        None => Ok((config, plan, ahead)),
    }
}

/// What a finished run shows: its report (or answer), the annotations on
/// GitHub, where its work was kept, and what changed since the baseline;
/// whether it got worse than the baseline.
fn show(
    doc: &Document,
    args: &RunArgs,
    inputs: &Inputs,
    kept_work: Option<&std::path::Path>,
) -> bool {
    let _ = write!(
        anstream::stdout(),
        "{}",
        report::text::finished(doc, args.summary, terminal::width())
    );
    if report::github::enabled() {
        eprint!("{}", report::github::annotations(doc));
    }
    if let Some(kept) = kept_work {
        eprintln!("kept environments and builds in {}", kept.display());
    }
    let mut worse = false;
    if let Some(baseline) = &inputs.baseline {
        let d = compare::diff(baseline, doc);
        let _ = write!(
            anstream::stdout(),
            "\nsince the baseline: {}",
            report::sanitize::shown(&report::diff::render(&d))
        );
        worse = d.got_worse();
    }
    worse
}

/// How a run ends: well, or with what went wrong, in order.
fn ending(mut problems: Vec<CommandError>) -> Result<(), CommandError> {
    match problems.len() {
        0 => Ok(()),
        1 => Err(problems.remove(0)),
        _ => Err(CommandError::Several(problems)),
    }
}

/// Runs the plan, handing every event to the reporter as it comes (through
/// the judge that gives cells their advice, [`Advice`]), until the run ends
/// (`Some`) or a signal arrives (`None`). Dropping the runner's future on a
/// signal kills every child (process-group guards) and removes the
/// temporary directory; the events already sent are still reported, cells
/// still waiting for their advice without it.
pub(super) async fn dispatch(
    plan: Arc<Plan>,
    keep: bool,
    reporter: &mut Reporter,
    mut stop: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    ahead: runner::Ahead,
) -> Option<Result<Option<PathBuf>, RunError>> {
    let (sink, mut events) = runner::channel();
    let mut advice = Advice::new(&plan.extension);
    // Boxed so it can be dropped here, killing every child, before the
    // events already sent are drained.
    let mut run = Box::pin(runner::run(plan, keep, sink, ahead));
    let mut ended = None;
    let mut drained = false;
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = ticks.tick() => reporter.tick(),
            event = events.recv(), if !drained => match event {
                Some(e) => advice.pass(e).into_iter().for_each(|e| reporter.report(e)),
                // Every sender is gone: the run is over and drained.
                None => drained = true,
            },
            e = advice.next(), if advice.holding() => reporter.report(e),
            r = &mut run, if ended.is_none() => ended = Some(r),
            _ = &mut stop => break,
        }
        if drained && !advice.holding() {
            return ended;
        }
    }
    drop(run);
    while let Ok(e) = events.try_recv() {
        advice.pass(e).into_iter().for_each(|e| reporter.report(e));
    }
    advice
        .release()
        .into_iter()
        .for_each(|e| reporter.report(e));
    None
}

/// What a run reads besides the config, read before any work.
struct Inputs {
    options: PlanOptions,
    baseline: Option<Document>,
    /// `--rerun-failed`: the earlier results.
    previous: Option<Document>,
    /// `--resume`: the cells the journal already holds.
    journaled: Vec<CellDoc>,
    journal_path: PathBuf,
    journal_header: journal::Header,
    resume: bool,
    cache_root: PathBuf,
}

impl Inputs {
    fn read(args: &RunArgs, config: &Config) -> Result<Inputs, CommandError> {
        let load = |p: &Option<PathBuf>| p.as_deref().map(files::load_document).transpose();
        let baseline = load(&args.baseline)?;
        let cache_root = crate::cache::root_in(args.cache_dir.as_deref());
        // `--rerun-failed` alone: this config's last run.
        let rerun = args.rerun_failed.as_ref().map(|f| {
            if f.as_os_str().is_empty() {
                let (path, note) = files::default_results(&cache_root, &args.config);
                eprintln!("{note}");
                path
            } else {
                f.clone()
            }
        });
        let previous = load(&rerun)?;
        let journal_id = match args.shard {
            Some(s) => format!(
                "{}#shard-{}-of-{}",
                config.absolute_path().display(),
                s.index,
                s.total
            ),
            None => config.absolute_path().display().to_string(),
        };
        let journal_path = journal::path(&cache_root, &journal_id);
        let header = journal::Header::new(config.matrix_id(), config.fingerprint());
        let journaled = if args.resume {
            let (was, cells) = journal::read(&journal_path);
            if let Some(was) = was.filter(|w| w.matrix_id != header.matrix_id) {
                return Err(CommandError::Resume {
                    changed: was.changed(&header),
                    journal: journal_path,
                });
            }
            eprintln!(
                "resuming: {} cell(s) already done in {}",
                cells.len(),
                journal_path.display()
            );
            cells
        } else {
            Vec::new()
        };
        let network = match (super::offline(args.offline), args.refresh) {
            (true, _) => Network::Offline,
            (false, true) => Network::Refresh,
            (false, false) => Network::Online,
        };
        let memo = Memo::open((!args.fresh).then(|| Memo::path_in(&cache_root)), network);
        let options = PlanOptions {
            jobs: args.jobs.map(usize::from),
            installer: Some(args.installer),
            cache: (!args.fresh).then(|| cache_root.clone()),
            cache_root: cache_root.clone(),
            memo: Arc::new(memo),
            isolation: args.isolation,
            shard: args.shard,
            only: previous.as_ref().map(|p| {
                p.cells
                    .iter()
                    .filter(|c| c.outcome != OutcomeKind::Pass)
                    .map(CellDoc::key)
                    .collect()
            }),
            skip: journal::keys(&journaled),
            ignore_requires: args.ignore_requires,
            python: python_requests(&args.python)?,
            select: args.select.clone(),
            artifacts: args.artifacts.as_deref().map(crate::cache::resolved),
            build_only: args.build_only,
        };
        Ok(Inputs {
            options,
            baseline,
            previous,
            journaled,
            journal_path,
            journal_header: header,
            resume: args.resume,
            cache_root,
        })
    }

    /// The journal this run appends to; one that cannot be written is a
    /// note, not a failure (only `--resume` loses its footing).
    fn open_journal(&self) -> Journal {
        let (journal, problem) =
            Journal::open(self.journal_path.clone(), self.resume, &self.journal_header);
        if let Some(p) = problem {
            eprintln!("note: {p}");
        }
        journal
    }

    /// This run's document plus what it did not run: the journaled cells of
    /// a resumed run, the earlier passes of a re-run.
    fn combine(&self, mut doc: Document, config: &Config, header: &RunHeader) -> Document {
        if !self.journaled.is_empty() {
            let planned = doc.summary.planned + self.journaled.len();
            for c in &self.journaled {
                let Some(grid) = doc
                    .grids
                    .iter()
                    .position(|g| g.interpreter.label == c.interpreter)
                else {
                    continue;
                };
                if doc.find(&c.key()).is_none() {
                    let mut c = c.clone();
                    c.grid = grid;
                    rejudge(&mut c, config, header);
                    doc.cells.push(c);
                }
            }
            doc.sort_cells();
            doc.summarize(planned);
        }
        if let Some(previous) = &self.previous {
            doc = with_previous_passes(doc, previous.clone());
        }
        doc
    }
}

/// A journaled cell judged by the expectations of this run, not those of
/// the run that wrote the journal.
fn rejudge(c: &mut CellDoc, config: &Config, header: &RunHeader) {
    let Some(g) = header.grids.get(c.grid) else {
        return;
    };
    let side = |axis: &[crate::plan::AxisEntry], label: &str| {
        axis.iter().find(|a| a.label() == label).map(|a| a.side())
    };
    if let (Some(b), Some(r)) = (
        side(&g.build_axis, &c.build),
        side(&g.runtime_axis, &c.runtime),
    ) {
        let expected = g.expected(&config.expectations, &b, &r, c.forbidden);
        c.judge(&expected);
    }
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
    match merge::merge(vec![passed, doc.clone()], &names) {
        Ok(mut merged) => {
            // The earlier results are one input, not a shard of this run.
            merged.complete = doc.complete;
            merged.missing = doc.missing.clone();
            merged.duration_s = doc.duration_s;
            merged.selected = doc.selected.clone();
            merged
        }
        Err(e) => {
            // The run's own cells are reported all the same.
            warning(format_args!("cannot combine with the earlier results: {e}"));
            doc
        }
    }
}

/// A run's shared hold on the cache (see `cache::lock`), and the leftovers
/// of runs that were killed removed; a cache that cannot be locked (a
/// read-only one) is a note, and the run goes on.
pub(super) async fn lock_cache(root: &std::path::Path) -> Option<crate::cache::lock::CacheLock> {
    use crate::cache::lock::{Access, CacheLock};
    let waiting = {
        let root = root.to_path_buf();
        move || {
            eprintln!(
                "waiting for `matrix cache clean` or `matrix cache verify` to finish with {}",
                root.display()
            )
        }
    };
    let lock = match CacheLock::acquire_async(root.to_path_buf(), Access::Shared, waiting).await {
        Ok(lock) => lock,
        Err(e) => {
            eprintln!("note: {e}; going on without it");
            return None;
        }
    };
    let root = root.to_path_buf();
    let _ = tokio::task::spawn_blocking(move || crate::cache::sweep(&root)).await;
    Some(lock)
}

/// The first cell whose log says the disk filled up: that is the
/// machine's fault, reported as such (exit 3) with the way out.
fn disk_filled(doc: &Document, cache_root: &std::path::Path) -> Option<CommandError> {
    let c = doc.cells.iter().find(|c| {
        matches!(
            c.outcome,
            OutcomeKind::Unavailable | OutcomeKind::BuildFailed
        ) && outcome::disk_full(&c.message)
    })?;
    let line = c
        .message
        .lines()
        .find(|l| outcome::disk_full(l))
        .unwrap_or_default()
        .trim();
    Some(CommandError::DiskFull {
        build: c.build.clone(),
        runtime: c.runtime.clone(),
        outcome: c.outcome,
        line: line.to_string(),
        cache: cache_root.to_path_buf(),
    })
}

/// `--python` values, paths relative to the working folder (where the user
/// typed them).
pub(super) fn python_requests(values: &[String]) -> Result<Vec<PythonRequest>, CommandError> {
    let here = std::env::current_dir().unwrap_or_default();
    values
        .iter()
        .map(|v| {
            PythonRequest::parse(v, &here).map_err(|error| CommandError::Python {
                value: v.clone(),
                error,
            })
        })
        .collect()
}

/// The commit of the code under test: `GITHUB_SHA` in a GitHub Actions
/// job, else the HEAD of the git checkout that holds the config (if git is
/// there and it is one).
fn commit_of(dir: &std::path::Path) -> Option<String> {
    if let Ok(sha) = std::env::var("GITHUB_SHA")
        && !sha.is_empty()
    {
        return Some(sha);
    }
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--verify", "--quiet", "HEAD"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let sha = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !sha.is_empty()).then_some(sha)
}

/// The end of `run --build-only`: what was built where. A build that
/// failed is reported, not fatal: the shards that test it report its cells
/// as `build-failed`, judged by the config like any other.
fn built(results: &crate::results::RunResults, plan: &Plan) {
    let made = results
        .builds
        .iter()
        .filter(|b| matches!(&b.result, Ok(a) if !a.reused))
        .count();
    let reused = results
        .builds
        .iter()
        .filter(|b| matches!(&b.result, Ok(a) if a.reused))
        .count();
    let failed: Vec<_> = results
        .builds
        .iter()
        .filter(|b| b.result.is_err())
        .collect();
    let place = plan
        .artifacts
        .as_deref()
        .or(plan.cache.as_deref())
        .map_or_else(
            || "a temporary folder (--fresh: nothing is kept)".to_string(),
            |p| p.display().to_string(),
        );
    println!(
        "{} build(s): {made} made, {reused} already there, {} failed; kept in {place}",
        results.builds.len(),
        failed.len()
    );
    for b in failed {
        if let Err(e) = &b.result {
            note(format_args!("{} did not build: {}", b.row, e.summary()));
        }
    }
}
