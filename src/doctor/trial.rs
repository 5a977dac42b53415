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
//!
//! A failure names the module that raised (from the traceback and the
//! compiled module whose initialisation it left, not the order of the
//! imports), keeps the whole error (what the import printed, the traceback
//! and every line of the exception), and says which other packages the
//! error names as missing: a package that cannot import `pytz` is not
//! broken by NumPy, and is reported apart (see `remedy`, which measures
//! NumPy's part with the dependencies installed).

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

/// The driver's file name, in the tool's folder (like every script of
/// abimatrix's, `abimatrix_*.py`: their frames are left out of the errors
/// shown).
const DRIVER_NAME: &str = "abimatrix_doctor_trial.py";

/// The prefix of the line the driver prints before each import.
const IMPORTING: &str = "abimatrix-doctor: importing ";

/// One module that did not import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFailure {
    /// The module the trial imported.
    pub module: String,
    /// The module that raised (importing `h5py._conv` runs `h5py`'s
    /// `__init__`, which imports `h5py._errors`, which raises).
    pub raised: String,
    pub reason: FailureReason,
    /// The most telling line (NumPy's own words when it printed them).
    pub message: String,
    /// The exception as Python prints it, every line.
    pub error: String,
    /// Top-level modules the error names as missing (not the package's
    /// own, not NumPy's).
    pub missing: Vec<String>,
}

/// Another package a trial's error says is missing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Missing {
    /// The module that could not be imported (`dateutil`).
    pub module: String,
    /// The requirement of the package that provides it, when one matches
    /// (`python-dateutil`).
    pub requirement: Option<String>,
}

impl Missing {
    /// What to install: the requirement, else the module's name.
    pub fn name(&self) -> &str {
        self.requirement.as_deref().unwrap_or(&self.module)
    }
}

/// What the trial of one package found.
#[derive(Debug, Clone)]
pub struct Trial {
    pub name: String,
    pub version: String,
    pub outcome: Outcome,
    /// The module that raised (a failure), or that was being imported
    /// when it crashed or hung.
    pub module: Option<String>,
    /// Every module that failed (a crash or timeout ends the list).
    pub failures: Vec<ModuleFailure>,
    /// The whole error of the first failure: what the import printed
    /// (NumPy's own explanation), then the traceback to the last line of
    /// the exception; a crash's faulthandler dump. Empty on a pass.
    pub error: String,
    /// Other packages the failures say are missing, in the order named.
    pub missing: Vec<Missing>,
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

    /// The exception of the first failure as Python prints it (every line
    /// of a multi-line message), when there is one.
    pub fn exception(&self) -> Option<&str> {
        self.failures
            .first()
            .map(|f| f.error.as_str())
            .filter(|e| !e.is_empty())
    }

    /// "pytz, python-dateutil".
    pub fn missing_names(&self) -> String {
        self.missing
            .iter()
            .map(Missing::name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Deserialize)]
struct Extra {
    #[serde(default)]
    failures: Vec<RawFailure>,
}

#[derive(Debug, Default, Deserialize)]
struct RawFailure {
    module: String,
    #[serde(default)]
    raised: Option<String>,
    #[serde(default)]
    exception: Option<String>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    traceback: String,
    #[serde(default)]
    output: String,
    #[serde(default)]
    missing: Vec<String>,
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
    let driver = work.join(DRIVER_NAME);
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
        error: String::new(),
        missing: Vec::new(),
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
        Outcome::Fail(_) => trial
            .failures
            .first()
            .map(|f| f.raised.clone())
            .or_else(|| last_import(&trial.stdout)),
        _ => last_import(&trial.stdout),
    };
    trial.error = match (&trial.outcome, raw.first()) {
        (Outcome::Pass, _) => String::new(),
        (Outcome::Crash { traceback, .. }, _) => traceback.clone().unwrap_or_default(),
        (_, Some(f)) => whole_error(&f.output, &f.traceback),
        (_, None) => trial.stderr.clone(),
    };
    let mut missing: Vec<String> = Vec::new();
    for m in trial.failures.iter().flat_map(|f| &f.missing) {
        if !missing.contains(m) {
            missing.push(m.clone());
        }
    }
    trial.missing = missing
        .into_iter()
        .map(|module| Missing {
            requirement: requirement_for(&module, &d.requires),
            module,
        })
        .collect();
    trial
}

/// What an import printed, then its traceback, without the frames of the
/// import machinery and of the trial driver and without the caret lines:
/// everything a maintainer needs, to the last line of the exception.
pub fn whole_error(output: &str, traceback: &str) -> String {
    // NumPy prints its stack right after "Traceback (most recent call
    // last):", without a line break.
    let output = output.replace(
        "Traceback (most recent call last):  File",
        "Traceback (most recent call last):\n  File",
    );
    let mut out = Vec::new();
    for text in [output.as_str(), traceback] {
        let mut skipping = false;
        for line in text.lines() {
            let trimmed = line.trim_start();
            if let Some(frame) = trimmed.strip_prefix("File \"") {
                // A frame's source line follows it, more indented.
                skipping = frame.starts_with("<frozen ") || is_ours(frame);
                if skipping {
                    continue;
                }
            } else if skipping && line.starts_with("    ") {
                continue;
            } else {
                skipping = false;
            }
            if trimmed.is_empty() || trimmed.chars().all(|c| matches!(c, '^' | '~')) {
                continue;
            }
            out.push(line);
        }
    }
    out.join("\n")
}

/// Whether a traceback frame (`/x/abimatrix_probe.py", line 86, in
/// probe`) is in one of abimatrix's own scripts: the trial driver, the
/// grid's probe and fork server are all named `abimatrix_*.py`.
fn is_ours(frame: &str) -> bool {
    let path = frame.split('"').next().unwrap_or_default();
    let file = path.rsplit('/').next().unwrap_or_default();
    file.starts_with("abimatrix_") && file.ends_with(".py")
}

/// The requirement of a package that provides `module`: the same name
/// (`pytz`), or the name with a `python-`/`py`/`-python` decoration
/// (`python-dateutil` for `dateutil`, `pyyaml` for `yaml`).
pub fn requirement_for(module: &str, requires: &[String]) -> Option<String> {
    let m = super::scan::normalize(module);
    let forms = [
        m.clone(),
        format!("python-{m}"),
        format!("py-{m}"),
        format!("py{m}"),
        format!("{m}-python"),
    ];
    requires
        .iter()
        .find(|r| forms.contains(&super::scan::normalize(r)))
        .cloned()
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
        raised: f.raised.clone().unwrap_or_else(|| f.module.clone()),
        reason,
        message: detail.unwrap_or(line.clone()),
        error: if f.error.is_empty() {
            line
        } else {
            f.error.clone()
        },
        missing: f.missing.clone(),
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
            requires: vec![],
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
            ..RawFailure::default()
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
            ..RawFailure::default()
        });
        assert_eq!(
            (f.reason, f.message.as_str()),
            (FailureReason::Other, "ValueError: boom")
        );
        assert_eq!(
            (f.raised.as_str(), f.error.as_str()),
            ("m", "ValueError: boom")
        );
    }

    /// cc3d 3.14.1 under NumPy 2.0.2, as the driver records it: NumPy's
    /// explanation with its stack, then the traceback Cython's import
    /// raised.
    #[test]
    fn the_whole_error_keeps_every_line_but_the_machinery() {
        let output = "\nA module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.0.2 as it may crash.\n\nTraceback (most recent call last):  File \"/tmp/w/abimatrix_doctor_trial.py\", line 175, in <module>\n    main(sys.argv[1], sys.argv[2:])\n  File \"/py/lib/python3.11/importlib/__init__.py\", line 126, in import_module\n    return _bootstrap._gcd_import(name[level:], package, level)\nAttributeError: _ARRAY_API not found\n";
        let traceback = "Traceback (most recent call last):\n  File \"/tmp/w/abimatrix_doctor_trial.py\", line 141, in main\n    importlib.import_module(name)\n  File \"<frozen importlib._bootstrap>\", line 1204, in _gcd_import\n  File \"/tmp/w/abimatrix_doctor_trial.py\", line 71, in wrapper\n    return method(self, arg)\n           ^^^^^^^^^^^^^^^^^\n  File \"cc3d.pyx\", line 1, in init cc3d\nImportError: numpy.core.multiarray failed to import (auto-generated)\nsecond line of the message\n";
        assert_eq!(
            whole_error(output, traceback),
            "A module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.0.2 as it may crash.\nTraceback (most recent call last):\n  File \"/py/lib/python3.11/importlib/__init__.py\", line 126, in import_module\n    return _bootstrap._gcd_import(name[level:], package, level)\nAttributeError: _ARRAY_API not found\nTraceback (most recent call last):\n  File \"cc3d.pyx\", line 1, in init cc3d\nImportError: numpy.core.multiarray failed to import (auto-generated)\nsecond line of the message"
        );
    }

    #[test]
    fn a_missing_module_is_matched_to_the_requirement_that_provides_it() {
        let requires: Vec<String> = ["numpy", "python-dateutil", "pytz", "PyYAML"]
            .map(String::from)
            .to_vec();
        let of = |m: &str| requirement_for(m, &requires);
        assert_eq!(of("pytz").as_deref(), Some("pytz"));
        assert_eq!(of("dateutil").as_deref(), Some("python-dateutil"));
        assert_eq!(of("yaml").as_deref(), Some("PyYAML"));
        assert_eq!(of("PIL"), None);
        let m = Missing {
            module: "PIL".into(),
            requirement: None,
        };
        assert_eq!(m.name(), "PIL");
    }
}
