//! Running one cell: the built module imported under one runtime NumPy in a
//! fresh, isolated child process; the seed's subprocess work-around, made
//! into a measurement.
//!
//! Two isolation modes give the same outcome on every cell. `process`
//! starts a new Python per cell; `fork` asks the environment's fork server
//! (see [`forkserver`]) for a child that has inherited an imported NumPy.
//! Either way the child's environment is rebuilt from nothing: PYTHONPATH,
//! PYTHONHOME and friends from the host never reach it, and `-I` makes Python
//! ignore them and the user site-packages besides. A user's `test` command
//! ([`command`]) always runs as a process of its own. What the probe script
//! reports back is typed in [`report`].

pub mod check;
pub mod command;
pub mod forkserver;
pub mod report;
pub mod rerun;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::environment::NumpyEnv;
use crate::outcome::Outcome;
use crate::process::{Captured, Exit, Holding, Spec, Unjoinable};

pub use forkserver::ForkServer;
use report::ProbeReport;

/// The probe driver, written once per run.
pub const DRIVER: &str = include_str!("probe.py");
/// The fork server, written once per run.
pub const SERVER: &str = include_str!("forkserver.py");

/// Host variables a child may keep: enough to find programs and decode text,
/// nothing that changes what Python imports.
const KEPT_VARS: [&str; 6] = ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR"];

/// How cells are isolated from each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// A child forked from a per-environment server that imported NumPy once.
    #[default]
    Fork,
    /// A new Python process per cell.
    Process,
}

/// What the probe of one cell produced.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    pub outcome: Outcome,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
    /// The process-mode command line the cell ran (in folders of the run).
    pub command: String,
    /// What it needs to run again by hand after the run (`explain`).
    pub rerun: Option<rerun::Rerun>,
}

/// The probe's code and where the user wrote it: tracebacks, assertion
/// messages and errors name that place (`tests/probe.py`, line 3), and
/// `explain` writes the code out again to re-run a cell by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ProbeCode {
    /// "tests/probe.py" (as the user gave it), "matrix.toml" for a probe
    /// written there, "<probe>" for the built-in sample's.
    pub name: String,
    /// The line of `name` the code's first line is on.
    pub first_line: usize,
    pub code: String,
}

impl ProbeCode {
    /// Code that is not in any file of the user's.
    pub fn unnamed(code: &str) -> ProbeCode {
        ProbeCode {
            name: "<probe>".to_string(),
            first_line: 1,
            code: code.to_string(),
        }
    }
}

/// Files a probe needs, shared by every cell of a run.
#[derive(Debug, Clone)]
pub struct ProbeFiles {
    pub driver: PathBuf,
    pub server: PathBuf,
    pub code: PathBuf,
    /// What the probe is called, and its first line there (see [`ProbeCode`]).
    pub name: String,
    pub first_line: usize,
}

impl ProbeFiles {
    /// Writes the driver, the fork server and the probe code into `dir`.
    /// Each file is written beside its place and renamed into it, so a run
    /// sharing `dir` (the cache's, named by content) never reads half a file.
    pub fn write(dir: &Path, probe: &ProbeCode) -> std::io::Result<ProbeFiles> {
        std::fs::create_dir_all(dir)?;
        let files = ProbeFiles {
            driver: dir.join("abimatrix_probe.py"),
            server: dir.join("abimatrix_forkserver.py"),
            code: dir.join("probe_code.py"),
            name: probe.name.clone(),
            first_line: probe.first_line,
        };
        for (path, text) in [
            (&files.driver, DRIVER),
            (&files.server, SERVER),
            (&files.code, probe.code.as_str()),
        ] {
            if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
                continue;
            }
            crate::cache::replace_file(path, text.as_bytes())?;
        }
        Ok(files)
    }

    /// Where a run keeps its probe files: in the cache, named by content, so
    /// the command of a cell can be re-run by hand after the run (`matrix
    /// explain`); in the run's own directory with `--fresh`.
    pub fn dir(cache: Option<&Path>, work: &Path, probe_code: &str) -> PathBuf {
        match cache {
            Some(root) => crate::cache::Bucket::Probes
                .dir(root)
                .join(crate::cache::digest([DRIVER, SERVER, probe_code])),
            None => work.join("probe"),
        }
    }
}

/// The variables a child is given, from the host's.
pub fn child_env() -> Vec<(String, OsString)> {
    KEPT_VARS
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| (k.to_string(), v)))
        .collect()
}

/// The row's artifact and the cell's dependencies as one `PYTHONPATH` (a
/// test command's). The probe gets each folder as an argument of its own
/// and never needs this.
pub fn search_path(artifacts: &[PathBuf]) -> Result<OsString, Unjoinable> {
    crate::process::search_list("PYTHONPATH", artifacts)
}

fn process_spec(
    files: &ProbeFiles,
    module: &str,
    artifacts: &[PathBuf],
    env: &NumpyEnv,
    work_dir: &Path,
) -> Spec {
    let mut spec = Spec::new(&env.python)
        .env_clear()
        .args(["-I", "-X", "faulthandler"])
        .arg(&files.driver)
        .arg(module)
        .arg(&files.code)
        .arg(work_dir.join("result.json"))
        .arg(&files.name)
        .arg(files.first_line.to_string())
        .args(artifacts)
        .cwd(work_dir);
    for (key, value) in child_env() {
        spec = spec.env(key, value);
    }
    spec
}

/// Runs the probe for `artifact` under `env` in a new process, in
/// `work_dir` (the cell's own).
pub async fn run(
    files: &ProbeFiles,
    module: &str,
    artifacts: &[PathBuf],
    env: &NumpyEnv,
    work_dir: &Path,
    timeout: Duration,
) -> ProbeRun {
    let spec = process_spec(files, module, artifacts, env, work_dir).timeout(timeout);
    let command = spec.display();
    let rerun = probe_rerun(module, artifacts, env);
    let finished = match spec.run().await {
        Ok(f) => f,
        Err(e) => return could_not_start(command, &e).with(rerun),
    };
    let mut run = conclude(
        finished.exit,
        &finished.stdout,
        &finished.stderr,
        work_dir,
        env,
        finished.duration,
        command,
    )
    .with(rerun);
    note_escaped(&mut run, &finished.escaped);
    run
}

/// What `explain` needs to run a probe cell again.
fn probe_rerun(module: &str, artifacts: &[PathBuf], env: &NumpyEnv) -> rerun::Rerun {
    rerun::Rerun::Probe {
        python: env.python.clone(),
        artifacts: artifacts.to_vec(),
        modules: module.to_string(),
    }
}

impl ProbeRun {
    fn with(self, rerun: rerun::Rerun) -> ProbeRun {
        ProbeRun {
            rerun: Some(rerun),
            ..self
        }
    }
}

/// Says, in the cell's output, which processes escaped its group and were
/// killed when it ended.
pub(crate) fn note_escaped(run: &mut ProbeRun, escaped: &[crate::process::Stray]) {
    for s in escaped {
        run.stderr.push_str(&format!(
            "\n[abimatrix: left running after the cell ended, outside its process group, and killed: {s}]"
        ));
    }
}

/// Runs the probe in a child forked by `server` (which runs in `env`).
///
/// `job`: the cell's job slot (if it holds one), given back as soon as the
/// child (and anything it left behind) is gone, before its files are read:
/// the next cell's child runs while this one's outcome is worked out.
#[allow(clippy::too_many_arguments)]
pub async fn run_forked(
    server: &ForkServer,
    files: &ProbeFiles,
    module: &str,
    artifacts: &[PathBuf],
    env: &NumpyEnv,
    work_dir: &Path,
    timeout: Duration,
    job: Option<tokio::sync::SemaphorePermit<'_>>,
) -> ProbeRun {
    let command = process_spec(files, module, artifacts, env, work_dir).display();
    let rerun = probe_rerun(module, artifacts, env);
    let (stdout, stderr) = (work_dir.join("stdout.txt"), work_dir.join("stderr.txt"));
    let start = Instant::now();
    let request = forkserver::Request {
        artifacts,
        module,
        cwd: work_dir,
        stdout: &stdout,
        stderr: &stderr,
        result: &work_dir.join("result.json"),
    };
    let exit = match server.run(files, request, timeout).await {
        Ok(exit) => exit,
        Err(e) => return could_not_start(command, &e).with(rerun),
    };
    // A forked cell writes to files, so nothing waits for a process that
    // left its group; one that still holds the cell's output is found (by
    // the files it holds and the folder it runs in), named, and killed.
    // Asking the kernel first costs nothing; the scan only runs then.
    let held = [&stdout, &stderr]
        .iter()
        .any(|p| crate::process::held_for_writing(p) != Some(false));
    let escaped = if held {
        crate::process::holders_off_runtime(vec![
            Holding::File(stdout.clone()),
            Holding::File(stderr.clone()),
            Holding::Cwd(work_dir.to_path_buf()),
        ])
        .await
    } else {
        Vec::new()
    };
    crate::process::kill(&escaped);
    drop(job);
    let mut run = conclude(
        exit,
        &Captured::read_file(&stdout),
        &Captured::read_file(&stderr),
        work_dir,
        env,
        start.elapsed(),
        command,
    )
    .with(rerun);
    note_escaped(&mut run, &escaped);
    run
}

fn could_not_start(command: String, why: &dyn std::fmt::Display) -> ProbeRun {
    could_not_start_the("probe", command, why)
}

/// A cell whose `what` (its probe, its test command) did not start.
fn could_not_start_the(what: &str, command: String, why: &dyn std::fmt::Display) -> ProbeRun {
    ProbeRun {
        outcome: Outcome::unavailable(format!("could not start the {what}: {why}")),
        stdout: String::new(),
        stderr: String::new(),
        duration: Duration::ZERO,
        command,
        rerun: None,
    }
}

/// The outcome from how the child ended, its result file and its output.
fn conclude(
    exit: Exit,
    stdout: &Captured,
    stderr: &Captured,
    work_dir: &Path,
    env: &NumpyEnv,
    duration: Duration,
    command: String,
) -> ProbeRun {
    let report = ProbeReport::read(&work_dir.join("result.json"));
    let (stdout, stderr) = (stdout.display(), stderr.display());
    let outcome = report::classify(
        exit,
        report.as_ref(),
        &stdout,
        &stderr,
        &env.numpy.to_string(),
    );
    ProbeRun {
        outcome,
        stdout,
        stderr,
        duration,
        command,
        rerun: None,
    }
}

#[cfg(test)]
mod tests {
    //! The probe driver and exit-status mapping, against tiny real children.
    //! The "environment" is the host Python behind a wrapper that puts a fake
    //! `numpy` (version 9.9.9) on its path, so these run without any wheel.
    use super::*;
    use crate::outcome::{FailureReason, OutcomeKind};
    use std::os::unix::fs::PermissionsExt;

    struct Setup {
        _dir: tempfile::TempDir,
        files_dir: PathBuf,
        artifacts: Vec<PathBuf>,
        env: NumpyEnv,
        work: PathBuf,
    }

    async fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let site = root.join("site");
        std::fs::create_dir_all(site.join("numpy")).unwrap();
        std::fs::write(site.join("numpy/__init__.py"), "__version__ = '9.9.9'\n").unwrap();
        let artifacts = root.join("artifact");
        std::fs::create_dir_all(&artifacts).unwrap();
        std::fs::write(artifacts.join("fake_ext.py"), "ANSWER = 42\n").unwrap();
        let real = crate::python::find("python3", &Default::default())
            .await
            .unwrap()
            .executable;
        let wrapper = root.join("python");
        // Drops -I (which would ignore PYTHONPATH) and keeps the rest.
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nshift\nPYTHONPATH='{}' exec '{}' \"$@\"\n",
                site.display(),
                real.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let work = root.join("cell");
        std::fs::create_dir_all(&work).unwrap();
        Setup {
            files_dir: root.join("probe"),
            artifacts: vec![artifacts.clone()],
            env: NumpyEnv {
                numpy: "9.9.9".parse().unwrap(),
                dir: root.to_path_buf(),
                python: wrapper,
                include: root.to_path_buf(),
                setup: Duration::ZERO,
                reused: false,
            },
            work,
            _dir: dir,
        }
    }

    /// Runs `code` in both isolation modes, checks they agree on the
    /// outcome, and returns the process-mode run.
    async fn probe(code: &str, timeout: Duration) -> ProbeRun {
        probe_of("fake_ext", Given::AsMade, code, timeout).await
    }

    /// How a test names the artifact folder to the probe.
    enum Given {
        AsMade,
        /// Through a link to it, in another folder.
        ThroughALink,
    }

    /// [`probe`] of the modules `module`, with the artifact as `given`.
    async fn probe_of(module: &str, given: Given, code: &str, timeout: Duration) -> ProbeRun {
        let mut s = setup().await;
        if let Given::ThroughALink = given {
            let link = s.files_dir.with_file_name("linked-artifact");
            std::os::unix::fs::symlink(&s.artifacts[0], &link).unwrap();
            s.artifacts = vec![link];
        }
        let files = ProbeFiles::write(&s.files_dir, &ProbeCode::unnamed(code)).unwrap();
        let process = run(&files, module, &s.artifacts, &s.env, &s.work, timeout).await;
        let _ = std::fs::remove_file(s.work.join("result.json"));
        let server = ForkServer::start(&s.env.python, &files, &child_env())
            .await
            .unwrap();
        let forked = run_forked(
            &server,
            &files,
            module,
            &s.artifacts,
            &s.env,
            &s.work,
            timeout,
            None,
        )
        .await;
        assert_eq!(
            (
                process.outcome.kind(),
                process.outcome.reason(),
                process.outcome.message()
            ),
            (
                forked.outcome.kind(),
                forked.outcome.reason(),
                forked.outcome.message()
            ),
            "process and fork modes disagree\nprocess stderr: {}\nforked stderr: {}",
            process.stderr,
            forked.stderr
        );
        if let (Outcome::Crash { traceback: a, .. }, Outcome::Crash { traceback: b, .. }) =
            (&process.outcome, &forked.outcome)
        {
            assert_eq!(
                a.is_some(),
                b.is_some(),
                "faulthandler output differs: {a:?} / {b:?}"
            );
        }
        process
    }

    const LIMIT: Duration = Duration::from_secs(20);

    #[tokio::test]
    async fn a_probe_that_holds_passes() {
        let r = probe("assert module.ANSWER == 42", LIMIT).await;
        assert_eq!(r.outcome, Outcome::Pass, "{}", r.stderr);
    }

    /// A module named in `module` must come from the cell's artifact: one
    /// found elsewhere on the path (here the environment's own `numpy`)
    /// is an import error naming where it came from, in both modes.
    #[tokio::test]
    async fn a_module_found_outside_the_artifact_is_refused() {
        let r = probe_of("numpy", Given::AsMade, "pass", LIMIT).await;
        let message = r.outcome.message();
        assert_eq!(r.outcome.kind(), OutcomeKind::Fail, "{}", r.stderr);
        assert!(
            message.contains("imported numpy from ")
                && message.contains("/site/numpy/__init__.py")
                && message.contains("not the artifact made for this cell"),
            "{message}"
        );
    }

    /// The artifact's folder given through a link (a cache under a linked
    /// home) is the same folder: its module is accepted.
    #[tokio::test]
    async fn an_artifact_given_through_a_link_is_its_folder() {
        let r = probe_of(
            "fake_ext",
            Given::ThroughALink,
            "assert module.ANSWER == 42",
            LIMIT,
        )
        .await;
        assert_eq!(r.outcome, Outcome::Pass, "{}", r.stderr);
    }

    #[tokio::test]
    async fn a_raising_probe_fails_with_the_exception() {
        let r = probe(
            "print('said before failing')\nraise ValueError('boom')",
            LIMIT,
        )
        .await;
        assert_eq!(
            r.stdout, "said before failing\n",
            "output before a failure is kept"
        );
        match r.outcome {
            Outcome::Fail(f) => {
                assert_eq!(f.reason, FailureReason::Other);
                assert_eq!(f.exception.as_deref(), Some("ValueError"));
                assert_eq!(
                    f.message,
                    "ValueError: boom — <probe>, line 2: raise ValueError('boom')"
                );
            }
            other => panic!("{other:?}"),
        }
        // The traceback names the probe and shows its line.
        assert!(
            r.stderr
                .contains("File \"<probe>\", line 2, in <module>\n    raise ValueError('boom')\n"),
            "{}",
            r.stderr
        );
    }

    #[tokio::test]
    async fn a_failed_assertion_is_a_wrong_result() {
        let r = probe("assert module.ANSWER == 41, 'expected 41'", LIMIT).await;
        assert_eq!(
            r.outcome.reason(),
            Some(FailureReason::WrongResult),
            "{:?}",
            r.outcome
        );
        // The probe's own message, then where it failed and what was compared.
        assert_eq!(
            r.outcome.message(),
            "expected 41 — <probe>, line 1: assert module.ANSWER == 41, 'expected 41'; left: 42, right: 41"
        );
    }

    #[tokio::test]
    async fn a_bare_failed_assertion_says_where_and_what() {
        let r = probe("x = 1\nassert module.ANSWER + x == 41", LIMIT).await;
        assert_eq!(r.outcome.reason(), Some(FailureReason::WrongResult));
        assert_eq!(
            r.outcome.message(),
            "<probe>, line 2: assert module.ANSWER + x == 41; left: 43, right: 41"
        );
        let r = probe("assert not module.ANSWER", LIMIT).await;
        assert_eq!(
            r.outcome.message(),
            "<probe>, line 1: assert not module.ANSWER; it was False"
        );
    }

    #[tokio::test]
    async fn a_silent_nonzero_exit_is_a_failure() {
        let r = probe("import os; os._exit(3)", LIMIT).await;
        assert_eq!(r.outcome.kind(), OutcomeKind::Fail);
        assert!(r.outcome.message().contains("status 3"), "{:?}", r.outcome);
    }

    #[tokio::test]
    async fn a_segfault_is_a_crash_with_the_faulthandler_traceback() {
        let r = probe("import ctypes\nctypes.string_at(0)", LIMIT).await;
        match r.outcome {
            Outcome::Crash {
                signal,
                name,
                traceback,
            } => {
                assert_eq!((signal, name.as_str()), (11, "SIGSEGV"));
                let tb = traceback.unwrap_or_default();
                assert!(tb.contains("<probe>"), "{tb}");
            }
            other => panic!("{other:?}\n{}", r.stderr),
        }
    }

    #[tokio::test]
    async fn an_abort_is_a_crash_with_sigabrt() {
        let r = probe("import os; os.abort()", LIMIT).await;
        assert!(
            matches!(&r.outcome, Outcome::Crash { name, .. } if name == "SIGABRT"),
            "{:?}",
            r.outcome
        );
    }

    #[tokio::test]
    async fn a_hang_is_a_timeout_soon_after_the_limit() {
        let limit = Duration::from_secs(1);
        let r = probe("import time; time.sleep(60)", limit).await;
        assert_eq!(r.outcome, Outcome::Timeout { limit });
        assert!(
            r.duration < limit + Duration::from_secs(2),
            "{:?}",
            r.duration
        );
    }
}
