//! Running one cell: the built module imported under one runtime NumPy in a
//! fresh, isolated child process; the seed's subprocess work-around, made
//! into a measurement.
//!
//! The child's environment is rebuilt from nothing: PYTHONPATH, PYTHONHOME
//! and friends from the host never reach it, and `-I` makes Python ignore
//! them and the user site-packages besides.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::build::Artifact;
use crate::environment::NumpyEnv;
use crate::outcome::{self, ChildExit, Outcome, ProbeReport};
use crate::process::{Ended, Spec};

/// The probe driver, written once per run to `driver_path`.
pub const DRIVER: &str = include_str!("probe.py");

/// Host variables a child may keep: enough to find programs and decode text,
/// nothing that changes what Python imports.
const KEPT_VARS: [&str; 6] = ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR"];

/// What the probe of one cell produced.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    pub outcome: Outcome,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
    pub command: String,
}

/// Files a probe needs, shared by every cell of a run.
#[derive(Debug, Clone)]
pub struct ProbeFiles {
    pub driver: PathBuf,
    pub code: PathBuf,
}

impl ProbeFiles {
    /// Writes the driver and the probe code into `dir`.
    pub fn write(dir: &Path, probe_code: &str) -> std::io::Result<ProbeFiles> {
        std::fs::create_dir_all(dir)?;
        let files = ProbeFiles {
            driver: dir.join("abimatrix_probe.py"),
            code: dir.join("probe_code.py"),
        };
        std::fs::write(&files.driver, DRIVER)?;
        std::fs::write(&files.code, probe_code)?;
        Ok(files)
    }
}

/// Runs the probe for `artifact` under `env`, in `work_dir` (the cell's own).
pub async fn run(
    files: &ProbeFiles,
    module: &str,
    artifact: &Artifact,
    env: &NumpyEnv,
    work_dir: &Path,
    timeout: Duration,
) -> ProbeRun {
    let result_file = work_dir.join("result.json");
    let mut spec = Spec::new(&env.python)
        .env_clear()
        .args(["-I", "-X", "faulthandler"])
        .arg(&files.driver)
        .arg(&artifact.dir)
        .arg(module)
        .arg(&files.code)
        .arg(&result_file)
        .cwd(work_dir)
        .timeout(timeout);
    for key in KEPT_VARS {
        if let Some(value) = std::env::var_os(key) {
            spec = spec.env(key, value);
        }
    }
    let command = spec.display();
    let expected = env.numpy.to_string();
    let finished = match spec.run().await {
        Ok(f) => f,
        Err(e) => {
            return ProbeRun {
                outcome: Outcome::Unavailable {
                    message: format!("could not start the probe: {e}"),
                },
                stdout: String::new(),
                stderr: String::new(),
                duration: Duration::ZERO,
                command,
            };
        }
    };
    let exit = match finished.ended {
        Ended::TimedOut(limit) => ChildExit::TimedOut(limit),
        Ended::Exited(status) => exit_of(status),
    };
    let report: Option<ProbeReport> = std::fs::read_to_string(&result_file)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let stdout = finished.stdout.display();
    let stderr = finished.stderr.display();
    let outcome = outcome::classify(exit, report.as_ref(), &stdout, &stderr, &expected);
    ProbeRun {
        outcome,
        stdout,
        stderr,
        duration: finished.duration,
        command,
    }
}

fn exit_of(status: std::process::ExitStatus) -> ChildExit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (_, Some(signal)) => ChildExit::Signal(signal),
        (Some(code), None) => ChildExit::Code(code),
        (None, None) => ChildExit::Code(-1),
    }
}
