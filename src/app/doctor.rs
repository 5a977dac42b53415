//! `matrix doctor`: scan → trials → remedy → reports, and the exit status.
//! The stages are in `crate::doctor`; this file chooses the interpreter,
//! owns the working folder, runs the remedy grids with the same reporter
//! (progress) and runner as `matrix run`, and prints.

use std::io::{IsTerminal, Write as _};
use std::sync::Arc;
use std::time::Instant;

use super::files::write_file;
use super::{CommandError, interrupted, note};
use crate::cache::memo::{Memo, Network};
use crate::cli::DoctorArgs;
use crate::doctor::remedy::{self, Package, Setup};
use crate::doctor::{self, Diagnosis, DoctorError, advice, scan, trial};
use crate::plan::{Plan, PlanOptions};
use crate::python::InstallerChoice;
use crate::report::doctor::{Format, render};
use crate::report::{Progress, Reporter};
use crate::results::Document;
use crate::runner::RunError;

pub async fn doctor(args: DoctorArgs) -> Result<(), CommandError> {
    let mut stop = std::pin::pin!(interrupted());
    let d = tokio::select! {
        d = diagnose(&args) => d?,
        _ = &mut stop => return Err(CommandError::Interrupted),
    };
    let _ = write!(
        anstream::stdout(),
        "{}",
        crate::report::sanitize::shown(&render(&d, Format::Text))
    );
    let outputs = [
        (args.json.as_ref(), render(&d, Format::Json)),
        (args.markdown.as_ref(), render(&d, Format::Markdown)),
    ];
    let failed: Vec<_> = outputs
        .into_iter()
        .filter_map(|(path, text)| write_file(&text, path?).err())
        .collect();
    if !failed.is_empty() {
        return Err(CommandError::Write { failed, kept: None });
    }
    if d.broken().next().is_some() {
        return Err(CommandError::Unmet);
    }
    Ok(())
}

async fn diagnose(args: &DoctorArgs) -> Result<Diagnosis, DoctorError> {
    let start = Instant::now();
    let python = doctor::choose_python(args.python.as_deref())?;
    let work = tempfile::Builder::new()
        .prefix("abimatrix-doctor-")
        .tempdir()
        .map_err(DoctorError::Work)?;
    let environment = doctor::query(&python, work.path()).await?;
    let scan = {
        let (dirs, suffixes) = (
            environment.path.clone(),
            environment.extension_suffixes.clone(),
        );
        tokio::task::spawn_blocking(move || scan::scan(&dirs, &suffixes))
            .await
            .map_err(|e| DoctorError::Work(std::io::Error::other(e)))?
    };
    let jobs = args
        .jobs
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let numpy = scan.numpy.clone().unwrap_or_default();
    if scan.numpy.is_none() {
        note(format_args!(
            "{} has no numpy installed: every package that uses its C API will fail",
            python.display()
        ));
    }
    let trials = trial::try_all(
        &python,
        &scan.suspects,
        &numpy,
        work.path(),
        args.timeout,
        jobs,
    )
    .await
    .map_err(DoctorError::Work)?;
    let (broken, healthy) = (
        packages(&trials, &scan, false),
        packages(&trials, &scan, true),
    );
    let mut diagnosis = Diagnosis {
        environment,
        scan,
        trials,
        remedy: None,
        advice: None,
        remedy_error: None,
        duration: start.elapsed(),
    };
    if !broken.is_empty() && !args.no_remedy && !numpy.is_empty() {
        if !args.quiet {
            let names = broken
                .iter()
                .map(|b| format!("{} {}", b.name, b.version))
                .collect::<Vec<_>>()
                .join(", ");
            eprintln!(
                "measuring what fixes {} in abimatrix's own environments ...",
                crate::report::sanitize::shown(&names)
            );
        }
        match measure(
            args,
            &diagnosis,
            &broken,
            &healthy,
            &numpy,
            jobs,
            work.path(),
        )
        .await
        {
            Ok(r) => diagnosis.remedy = Some(r),
            Err(e) => diagnosis.remedy_error = Some(e),
        }
    }
    if !broken.is_empty() {
        let python = diagnosis.environment.version.parse().ok();
        let measured = diagnosis.remedy.clone().unwrap_or_default();
        let advice = advice::advise(
            &diagnosis.trials,
            &measured,
            &broken,
            &numpy,
            python.as_ref(),
        );
        diagnosis.advice = (!advice.is_empty()).then_some(advice);
    }
    diagnosis.duration = start.elapsed();
    Ok(diagnosis)
}

/// The suspects whose trial passed (`passed`) or failed, as the remedy
/// search takes them: with their top-level packages and NumPy requirement.
fn packages(trials: &[trial::Trial], scan: &scan::Scan, passed: bool) -> Vec<Package> {
    trials
        .iter()
        .filter(|t| t.passed() == passed)
        .filter_map(|t| scan.suspects.iter().find(|s| s.name == t.name))
        .map(|s| {
            let mut tops: Vec<String> = s
                .c_api_modules
                .iter()
                .filter_map(|m| m.split('.').next().map(String::from))
                .collect();
            tops.dedup();
            Package {
                name: s.name.clone(),
                version: s.version.clone(),
                tops,
                numpy_requires: s.numpy_requires.clone(),
            }
        })
        .collect()
}

async fn measure(
    args: &DoctorArgs,
    d: &Diagnosis,
    broken: &[Package],
    healthy: &[Package],
    numpy: &str,
    jobs: usize,
    work: &std::path::Path,
) -> Result<remedy::Remedy, remedy::RemedyError> {
    let root = crate::cache::root_in(args.cache_dir.as_deref());
    // Shared with runs, as a run holds it (see `cache::lock`).
    let _lock = super::run::lock_cache(&root).await;
    let network = if super::offline(args.offline) {
        Network::Offline
    } else {
        Network::Online
    };
    let memo = Arc::new(Memo::open(Some(Memo::path_in(&root)), network));
    let _written = Memo::flush_on_drop(&memo);
    let base = d.environment.base_executable.to_string_lossy().into_owned();
    let interpreter = crate::python::find(&base, &memo)
        .await
        .map_err(remedy::RemedyError::Base)?;
    let setup = Setup {
        interpreter,
        installed_numpy: numpy.to_string(),
        options: PlanOptions {
            jobs: Some(jobs),
            installer: Some(InstallerChoice::Auto),
            cache: Some(root.clone()),
            cache_root: root,
            memo,
            ..PlanOptions::default()
        },
        timeout: args.timeout,
        work: work.to_path_buf(),
    };
    let quiet = args.quiet;
    let mut runner = move |plan: Arc<Plan>, config: crate::config::Config| {
        let fut: futures::future::BoxFuture<'static, Result<Document, RunError>> =
            Box::pin(run_grid(plan, config, quiet));
        fut
    };
    remedy::measure(&setup, broken, healthy, &mut runner).await
}

/// One remedy grid through the runner and the reporter, as `matrix run`
/// does it (progress on stderr unless quiet).
async fn run_grid(
    plan: Arc<Plan>,
    config: crate::config::Config,
    quiet: bool,
) -> Result<Document, RunError> {
    let progress = Progress::new(std::io::stderr().is_terminal(), quiet);
    let mut reporter = Reporter::new(
        plan.header.clone(),
        config.expectations.clone(),
        progress,
        None,
    );
    // Ctrl-C is the doctor's own to handle: no stop here.
    let never = std::pin::pin!(std::future::pending::<()>());
    if let Some(Err(e)) =
        super::run::dispatch(plan, false, &mut reporter, never, Default::default()).await
    {
        return Err(e);
    }
    Ok(reporter.finish().document())
}
