//! Trying each suspect where it is installed: one child process of the
//! user's own interpreter per package, so a segfault in one never stops
//! the others, with the same process groups, time limit, staged kill and
//! failure classification as a grid cell (`process::Spec`,
//! `probe::report::classify`).
//!
//! Read-only by construction: the child runs with `-I` (no `PYTHON*`
//! variables, no user site, no current folder on the path) and `-B` (no
//! `__pycache__` written into the environment), in a working folder of the
//! tool's own, where its result file goes too. It imports every compiled
//! module that uses NumPy's C API, not only the top-level package: `import
//! scipy` succeeds where `import scipy.linalg` fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt as _;
use serde::Deserialize;

use super::scan::Distribution;
use crate::outcome::{FailureReason, Outcome, classify_text};
use crate::probe::report::{ProbeReport, classify};
use crate::process::Spec;

/// The trial driver, written into the tool's own folder.
pub const DRIVER: &str = include_str!("trial.py");

/// The prefix of the line the driver prints before each import.
const IMPORTING: &str = "abimatrix-doctor: importing ";

/// One module that did not import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFailure {
    pub module: String,
    pub reason: FailureReason,
    /// The most telling line (NumPy's own words when it printed them).
    pub message: String,
}

/// What the trial of one package found.
#[derive(Debug, Clone)]
pub struct Trial {
    pub name: String,
    pub version: String,
    pub outcome: Outcome,
    /// The module being imported when it failed, crashed or hung.
    pub module: Option<String>,
    /// Every module that failed (a crash or timeout ends the list).
    pub failures: Vec<ModuleFailure>,
    /// How many modules were to be imported.
    pub modules: usize,
    pub duration: Duration,
    pub stdout: String,
    pub stderr: String,
    /// The command line, to repeat the trial by hand.
    pub command: String,
}

impl Trial {
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Pass
    }
}

#[derive(Debug, Deserialize)]
struct Extra {
    #[serde(default)]
    failures: Vec<RawFailure>,
}

#[derive(Debug, Deserialize)]
struct RawFailure {
    module: String,
    #[serde(default)]
    exception: Option<String>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    output: String,
}

/// What to import, in order: the C-API modules, then the top-level
/// packages (each once).
pub fn imports(d: &Distribution) -> Vec<String> {
    let mut out = d.c_api_modules.clone();
    for t in &d.top_level {
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out
}

/// Tries every suspect, `jobs` at once, each in its own child of `python`
/// with the time limit `timeout`; `work` is the tool's own folder.
pub async fn try_all(
    python: &Path,
    suspects: &[Distribution],
    numpy: &str,
    work: &Path,
    timeout: Duration,
    jobs: usize,
) -> std::io::Result<Vec<Trial>> {
    let driver = work.join("abimatrix_doctor_trial.py");
    std::fs::write(&driver, DRIVER)?;
    let mut cells = Vec::new();
    for (i, d) in suspects.iter().enumerate() {
        let dir = work.join(format!("trial-{i}"));
        std::fs::create_dir_all(&dir)?;
        cells.push((d, dir));
    }
    let trials = futures::stream::iter(cells)
        .map(|(d, dir)| try_one(python, &driver, d, numpy, dir, timeout))
        .buffered(jobs.max(1))
        .collect()
        .await;
    Ok(trials)
}

async fn try_one(
    python: &Path,
    driver: &Path,
    d: &Distribution,
    numpy: &str,
    dir: PathBuf,
    timeout: Duration,
) -> Trial {
    let modules = imports(d);
    let result = dir.join("result.json");
    let mut spec = Spec::new(python)
        .env_clear()
        .args(["-I", "-B", "-X", "faulthandler"])
        .arg(driver)
        .arg(&result)
        .args(&modules)
        .cwd(&dir);
    for (key, value) in crate::probe::child_env() {
        spec = spec.env(key, value);
    }
    // Ignored under -I, which -B already covers; said twice for any
    // child process a package's import starts.
    let spec = spec.env("PYTHONDONTWRITEBYTECODE", "1").timeout(timeout);
    let command = spec.display();
    let mut trial = Trial {
        name: d.name.clone(),
        version: d.version.clone(),
        outcome: Outcome::Pass,
        module: None,
        failures: Vec::new(),
        modules: modules.len(),
        duration: Duration::ZERO,
        stdout: String::new(),
        stderr: String::new(),
        command,
    };
    let finished = match spec.run().await {
        Ok(f) => f,
        Err(e) => {
            trial.outcome = Outcome::unavailable(format!("could not start the trial: {e}"));
            return trial;
        }
    };
    trial.duration = finished.duration;
    trial.stdout = finished.stdout.display();
    trial.stderr = finished.stderr.display();
    let text = std::fs::read_to_string(&result).unwrap_or_default();
    let report: Option<ProbeReport> = serde_json::from_str(&text).ok();
    let extra: Option<Extra> = serde_json::from_str(&text).ok();
    let raw = extra.map(|e| e.failures).unwrap_or_default();
    trial.failures = raw.iter().map(module_failure).collect();
    // The first failure's own output decides the package's reason: the
    // whole stderr holds every module's, and the first is the cause.
    let first_output = raw.first().map(|f| f.output.as_str()).unwrap_or_default();
    let stderr = format!("{first_output}\n{}", trial.stderr);
    trial.outcome = classify(
        finished.exit,
        report.as_ref(),
        &trial.stdout,
        &stderr,
        numpy,
    );
    trial.module = match &trial.outcome {
        Outcome::Pass => None,
        Outcome::Fail(_) => raw
            .first()
            .map(|f| f.module.clone())
            .or_else(|| last_import(&trial.stdout)),
        _ => last_import(&trial.stdout),
    };
    trial
}

fn module_failure(f: &RawFailure) -> ModuleFailure {
    let line = match &f.exception {
        Some(e) if !f.message.is_empty() => format!("{e}: {}", f.message),
        Some(e) => e.clone(),
        None => f.message.clone(),
    };
    let (reason, detail) = classify_text(&[&line, &f.output]);
    ModuleFailure {
        module: f.module.clone(),
        reason,
        message: detail.unwrap_or(line),
    }
}

/// The module the driver was importing when it stopped.
pub fn last_import(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(IMPORTING))
        .map(|m| m.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_being_imported_is_the_last_announced() {
        let out = "abimatrix-doctor: importing a._x\nnoise\nabimatrix-doctor: importing a\n";
        assert_eq!(last_import(out).as_deref(), Some("a"));
        assert_eq!(last_import("nothing"), None);
    }

    #[test]
    fn c_api_modules_come_before_the_top_levels() {
        let d = Distribution {
            name: "p".into(),
            version: "1".into(),
            dist_info: PathBuf::new(),
            numpy_requires: vec![],
            c_api_modules: vec!["p._a".into(), "p.sub._b".into()],
            top_level: vec!["p".into(), "q".into()],
        };
        assert_eq!(imports(&d), ["p._a", "p.sub._b", "p", "q"]);
    }

    #[test]
    fn a_module_failure_is_classified_from_its_own_output() {
        let f = module_failure(&RawFailure {
            module: "m._x".into(),
            exception: Some("ImportError".into()),
            message: "numpy.core.multiarray failed to import".into(),
            output: "\nA module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.0.2 as it may crash.\n".into(),
        });
        assert_eq!(f.reason, FailureReason::AbiMajor);
        assert!(
            f.message.starts_with("A module that was compiled"),
            "{}",
            f.message
        );
        let f = module_failure(&RawFailure {
            module: "m".into(),
            exception: Some("ValueError".into()),
            message: "boom".into(),
            output: String::new(),
        });
        assert_eq!(
            (f.reason, f.message.as_str()),
            (FailureReason::Other, "ValueError: boom")
        );
    }
}
