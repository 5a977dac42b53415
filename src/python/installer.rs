//! Making virtual environments and putting NumPy wheels in them.
//!
//! uv does this in a fraction of pip's time, so it is preferred: from PATH,
//! else from our cache, else bootstrapped once with `pip install uv`. Where
//! even that fails, `python -m venv` + pip still work, slowly. Every install
//! is wheels-only: a NumPy built from source here would test our compiler
//! setup, not the wheel users get.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use pep440_rs::Version;

use super::Uv;
use super::index::Indexes;
use crate::cache::memo::{Lasts, Memo, Network};
use crate::process::{SpawnError, Spec};
use crate::python::Interpreter;

/// What creates environments and installs wheels: the tool, and the
/// indexes every command it runs (and every release list) is pointed at.
#[derive(Debug, Clone)]
pub struct Installer {
    pub tool: Tool,
    pub indexes: Indexes,
}

/// The tool that creates environments and installs wheels.
#[derive(Debug, Clone)]
pub enum Tool {
    Uv {
        uv: Uv,
        origin: UvOrigin,
    },
    Pip,
    /// Neither can work: installing uv failed for a reason the pip fallback
    /// would meet too (a full disk). Every operation says why, so the cells
    /// are reported with it rather than with pip's vaguer failure.
    Unusable(InstallError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UvOrigin {
    Path,
    Cache,
    Bootstrapped,
}

/// Where an install takes its files from, and how it places them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// Copies from the installer's cache, when it has the wheel: nothing
    /// written into the environment reaches anything else.
    Cached,
    /// Hard links into uv's cache (pip copies), for a caller that replaces
    /// every one at once (`cache::store`): the fastest install.
    Linked,
    /// Copies fetched from the index again, past the cache: for when the
    /// cache was found to hold a damaged copy.
    Again,
}

impl Fetch {
    /// uv's flags for it.
    fn uv_flags(self) -> &'static [&'static str] {
        match self {
            Fetch::Cached => &["--link-mode", "copy"],
            Fetch::Linked => &["--link-mode", "hardlink"],
            Fetch::Again => &["--link-mode", "copy", "--no-cache"],
        }
    }

    /// pip's flags for it.
    fn pip_flags(self) -> &'static [&'static str] {
        match self {
            Fetch::Cached | Fetch::Linked => &[],
            Fetch::Again => &["--no-cache-dir"],
        }
    }
}

/// What the user may force with `--installer` (and tests use to cover the
/// fallback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InstallerChoice {
    Auto,
    Uv,
    Pip,
}

/// Why an install or resolution did not give us what was asked, by cause:
/// each is reported in its own words (Clone, so it can travel in events).
#[derive(Debug, Clone, thiserror::Error)]
pub enum InstallError {
    /// The index has no release matching the request with a wheel for this
    /// interpreter: the cell is `unavailable`, not an error of ours.
    #[error("no wheel of {requirement} for this interpreter")]
    NoWheel { requirement: String, detail: String },
    /// The package index could not be reached: nothing will work.
    #[error("cannot reach the package index: {detail}")]
    Network { detail: String },
    /// The installer itself could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: Arc<std::io::Error>,
    },
    /// A command ran and said no; `output` is what it said.
    #[error("{what} failed: {output}")]
    Failed { what: String, output: String },
    /// A file or directory of ours could not be made or read.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: Arc<std::io::Error>,
    },
    /// A command succeeded but answered something we cannot read.
    #[error("{what}: unexpected answer: {output}")]
    Unexpected { what: String, output: String },
    /// `--offline`, and this is not in the cache.
    #[error("offline, and not in the cache: {what}")]
    Offline { what: String },
}

impl InstallError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> InstallError {
        InstallError::Io {
            what: what.into(),
            source: Arc::new(source),
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            InstallError::Network { .. } => Some(
                "check the network, or point uv/pip at a reachable index (UV_INDEX_URL, PIP_INDEX_URL)",
            ),
            InstallError::Spawn { .. } => {
                Some("--installer pip uses python -m venv + pip instead of uv")
            }
            InstallError::Io { .. } => Some(
                "name a writable directory with --cache-dir, or run without the cache with --fresh",
            ),
            InstallError::Offline { .. } => Some(
                "run once without --offline (and without UV_OFFLINE) to fetch it into the cache; later runs need no network",
            ),
            _ => None,
        }
    }
}

impl From<SpawnError> for InstallError {
    fn from(e: SpawnError) -> InstallError {
        InstallError::Spawn {
            program: e.program,
            source: Arc::new(e.source),
        }
    }
}

impl Installer {
    pub fn describe(&self) -> String {
        match &self.tool {
            Tool::Uv { uv, origin } => {
                let from = match origin {
                    UvOrigin::Path => "from PATH",
                    UvOrigin::Cache => "from the abimatrix cache",
                    UvOrigin::Bootstrapped => "bootstrapped into the abimatrix cache",
                };
                format!("uv ({}, {from})", uv.path.display())
            }
            Tool::Pip => "python -m venv + pip".to_string(),
            Tool::Unusable(why) => format!("none ({why})"),
        }
    }

    /// Picks the installer, pointed at `indexes`; `notes` receives what a
    /// user should know (a bootstrap, a fallback and why).
    pub async fn discover(
        choice: InstallerChoice,
        python: &Interpreter,
        cache_root: &Path,
        memo: &Memo,
        indexes: &Indexes,
        notes: &mut Vec<String>,
    ) -> Installer {
        let tool = Installer::tool(choice, python, cache_root, memo, indexes, notes).await;
        Installer {
            tool,
            indexes: indexes.clone(),
        }
    }

    async fn tool(
        choice: InstallerChoice,
        python: &Interpreter,
        cache_root: &Path,
        memo: &Memo,
        indexes: &Indexes,
        notes: &mut Vec<String>,
    ) -> Tool {
        if choice == InstallerChoice::Pip {
            return Tool::Pip;
        }
        let offline = memo.network() == Network::Offline;
        let uv = |path: PathBuf, origin| Tool::Uv {
            uv: Uv {
                path,
                offline,
                indexes: indexes.clone(),
            },
            origin,
        };
        if let Ok(path) = which::which("uv") {
            if runs_remembered(&path, memo).await {
                return uv(path, UvOrigin::Path);
            }
            notes.push(format!("ignoring {}: it does not run", path.display()));
        }
        let cached = Uv::cached_path(cache_root);
        if runs_remembered(&cached, memo).await {
            return uv(cached, UvOrigin::Cache);
        }
        if offline {
            notes.push("no uv in the cache and --offline: using python -m venv + pip".into());
            return Tool::Pip;
        }
        let tools = crate::cache::Bucket::Tools.dir(cache_root);
        match bootstrap_uv(python, &tools, indexes).await {
            Ok(path) => {
                notes.push(format!("installed uv into {}", path.display()));
                uv(path, UvOrigin::Bootstrapped)
            }
            Err(why @ BootstrapError::DiskFull(_)) => {
                notes.push(format!("uv could not be installed: {why}"));
                Tool::Unusable(InstallError::Failed {
                    what: format!("installing uv into {}", tools.display()),
                    output: why.to_string(),
                })
            }
            Err(why) => {
                notes.push(format!(
                    "uv is not available ({why}); falling back to python -m venv + pip, which is much slower"
                ));
                Tool::Pip
            }
        }
    }

    /// A new virtual environment for `python` at `dir`; returns its python.
    pub async fn create_venv(
        &self,
        python: &Interpreter,
        dir: &Path,
    ) -> Result<PathBuf, InstallError> {
        let spec = match &self.tool {
            Tool::Unusable(why) => return Err(why.clone()),
            Tool::Uv { uv, .. } => uv.venv(&python.executable, dir),
            Tool::Pip => Spec::new(&python.executable)
                .args(["-I", "-m", "venv"])
                .arg(dir),
        };
        let finished = spec.run().await?;
        if !finished.success() {
            return Err(InstallError::Failed {
                what: "creating a virtual environment".into(),
                output: finished.output(),
            });
        }
        Ok(venv_python(dir))
    }

    /// Installs exactly `numpy==version`, wheels only, into the environment
    /// whose interpreter is `venv_python`; from the installer's cache unless
    /// `fetch` says to fetch it again past it.
    pub async fn install_numpy(
        &self,
        venv_python: &Path,
        version: &Version,
        wheel: Option<&Path>,
        fetch: Fetch,
    ) -> Result<(), InstallError> {
        // A local wheel is installed from its file (its dependencies, none
        // for NumPy, would come from the index).
        let requirement = match wheel {
            Some(w) => w.display().to_string(),
            None => format!("numpy=={version}"),
        };
        let spec = match &self.tool {
            Tool::Unusable(why) => return Err(why.clone()),
            Tool::Uv { uv, .. } => uv
                .pip_install_placed(venv_python, fetch.uv_flags())
                .args(["--only-binary", ":all:"])
                .arg(&requirement),
            Tool::Pip => self
                .indexes
                .apply(Spec::new(venv_python))
                .args([
                    "-I",
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(fetch.pip_flags())
                .args(["--only-binary", ":all:"])
                .arg(&requirement),
        };
        let finished = spec.run().await?;
        if finished.success() {
            Ok(())
        } else {
            Err(install_error(&requirement, &finished))
        }
    }

    /// The version of distribution `name` that resolving `requirement` for
    /// `python` picks (a package row's "pandas>=2" becomes "pandas 2.2.3").
    pub async fn resolve_package(
        &self,
        python: &Interpreter,
        requirement: &str,
        name: &str,
    ) -> Result<Version, InstallError> {
        let requirement = requirement.to_string();
        let scratch =
            tempfile::tempdir().map_err(|e| InstallError::io("creating a scratch directory", e))?;
        let finished = match &self.tool {
            Tool::Unusable(why) => return Err(why.clone()),
            // `pip compile` resolves for exactly this interpreter's tags.
            Tool::Uv { uv, .. } => {
                uv.pip_compile(&python.executable)
                    .args(["--only-binary", ":all:"])
                    .cwd(scratch.path())
                    .stdin(requirement.clone())
                    .run()
                    .await?
            }
            Tool::Pip => {
                let spec = self
                    .indexes
                    .apply(Spec::new(&python.executable))
                    .args([
                        "-I",
                        "-m",
                        "pip",
                        "install",
                        "--dry-run",
                        "--ignore-installed",
                    ])
                    .args(["--quiet", "--disable-pip-version-check", "--report", "-"])
                    .args(["--only-binary", ":all:"])
                    .arg(&requirement)
                    .cwd(scratch.path());
                spec.run().await?
            }
        };
        if !finished.success() {
            return Err(install_error(&requirement, &finished));
        }
        let found = match &self.tool {
            Tool::Uv { .. } => parse_pin(&finished.stdout.text, name),
            Tool::Pip | Tool::Unusable(_) => parse_pip_report(&finished.stdout.text, name),
        };
        found.ok_or_else(|| InstallError::Unexpected {
            what: format!("resolving {requirement}"),
            output: finished.stdout.text.trim().to_string(),
        })
    }
}

/// The interpreter inside a virtual environment.
pub fn venv_python(dir: &Path) -> PathBuf {
    dir.join("bin").join("python")
}

/// `runs`, remembered for the binary as it is (size, mtime, inode): a
/// warm run starts no `uv --version`.
async fn runs_remembered(program: &Path, memo: &Memo) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(m) = std::fs::metadata(program) else {
        return false;
    };
    let key = format!(
        "uv-runs|{}|{}|{}|{}",
        program.display(),
        m.len(),
        m.mtime() * 1_000_000_000 + m.mtime_nsec(),
        m.ino()
    );
    if memo.get::<bool>(&key) == Some(true) {
        return true;
    }
    let ok = runs(program).await;
    if ok {
        memo.put(&key, &true, Lasts::Always);
    }
    ok
}

async fn runs(program: &Path) -> bool {
    if !program.exists() {
        return false;
    }
    let uv = Uv::new(program.to_path_buf());
    matches!(uv.version().run().await, Ok(f) if f.success())
}

/// Why uv could not be installed into the cache. A full disk is told
/// apart where its cause is known (the OS's error number, pip's own words):
/// no installer does better on a full disk, so the run stops instead of
/// falling back to pip.
#[derive(Debug, thiserror::Error)]
enum BootstrapError {
    #[error("cannot create {}: {source}", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot stage in {}: {source}", path.display())]
    Stage {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    #[error("pip install uv failed: {last_line}")]
    Pip { last_line: String },
    #[error("cannot move uv into place: {0}")]
    Move(std::io::Error),
    #[error("{} was installed but does not run", .0.display())]
    DoesNotRun(PathBuf),
    /// One of the above, because the disk is full.
    #[error(transparent)]
    DiskFull(Box<BootstrapError>),
}

impl BootstrapError {
    /// This error, as [`BootstrapError::DiskFull`] when the disk filled.
    fn classified(self, disk_full: bool) -> BootstrapError {
        if disk_full {
            BootstrapError::DiskFull(Box::new(self))
        } else {
            self
        }
    }

    fn io(e: &std::io::Error) -> bool {
        e.raw_os_error() == Some(nix::libc::ENOSPC)
    }
}

async fn bootstrap_uv(
    python: &Interpreter,
    tools: &Path,
    indexes: &Indexes,
) -> Result<PathBuf, BootstrapError> {
    std::fs::create_dir_all(tools).map_err(|source| {
        let full = BootstrapError::io(&source);
        BootstrapError::Create {
            path: tools.to_path_buf(),
            source,
        }
        .classified(full)
    })?;
    // Install beside the final place, then rename: a concurrent or killed
    // run never sees a half-installed uv.
    let staging = tempfile::tempdir_in(tools).map_err(|source| {
        let full = BootstrapError::io(&source);
        BootstrapError::Stage {
            path: tools.to_path_buf(),
            source,
        }
        .classified(full)
    })?;
    let finished = indexes
        .apply(Spec::new(&python.executable))
        .args([
            "-I",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--only-binary", ":all:", "--target"])
        .arg(staging.path())
        .arg("uv")
        .run()
        .await?;
    if !finished.success() {
        let out = finished.output();
        // pip's own words are all there is to tell a full disk by.
        return Err(BootstrapError::Pip {
            last_line: out.lines().last().unwrap_or("no output").to_string(),
        }
        .classified(crate::outcome::disk_full(&out)));
    }
    let target = tools.join("uv");
    let uv = target.join("bin").join("uv");
    if !runs(&uv).await {
        // A broken leftover is replaced; a working one (another run won the
        // race to install it) is kept, and the rename below then fails.
        let _ = std::fs::remove_dir_all(&target);
    }
    if let Err(e) = std::fs::rename(staging.path(), &target) {
        if !runs(&uv).await {
            let full = BootstrapError::io(&e);
            return Err(BootstrapError::Move(e).classified(full));
        }
    }
    if runs(&uv).await {
        Ok(uv)
    } else {
        Err(BootstrapError::DoesNotRun(uv))
    }
}

/// Sorts an installer's complaint: a hang, network trouble, no wheel, or
/// other.
fn install_error(requirement: &str, finished: &crate::process::Finished) -> InstallError {
    if let crate::process::Exit::TimedOut(limit) = finished.exit {
        return InstallError::Failed {
            what: format!("installing {requirement}"),
            output: format!(
                "did not finish within {} (its process group was killed)",
                humantime::format_duration(limit)
            ),
        };
    }
    classify_output(requirement, &finished.output())
}

fn classify_output(requirement: &str, output: &str) -> InstallError {
    const NETWORK: [&str; 7] = [
        "Failed to fetch",
        "error sending request",
        "dns error",
        "Connection refused",
        "NewConnectionError",
        "Network is unreachable",
        "Temporary failure in name resolution",
    ];
    const NO_WHEEL: [&str; 5] = [
        "has no usable wheels",
        "No solution found",
        "no matching distribution",
        "No matching distribution",
        "Could not find a version that satisfies",
    ];
    // uv with UV_OFFLINE: the wheel is not in its cache.
    if output.contains("etwork connectivity is disabled") || output.contains("offline mode") {
        return InstallError::Offline {
            what: format!("a wheel for {requirement} in uv's cache"),
        };
    }
    if NETWORK.iter().any(|p| output.contains(p)) {
        return InstallError::Network {
            detail: first_error_line(output),
        };
    }
    if NO_WHEEL.iter().any(|p| output.contains(p)) {
        return InstallError::NoWheel {
            requirement: requirement.to_string(),
            detail: output.trim().to_string(),
        };
    }
    InstallError::Failed {
        what: format!("installing {requirement}"),
        output: output.trim().to_string(),
    }
}

fn first_error_line(output: &str) -> String {
    output
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output")
        .to_string()
}

/// `numpy==1.26.4` in `uv pip compile` output.
fn parse_pin(output: &str, name: &str) -> Option<Version> {
    let want = normalized(name);
    output.lines().find_map(|l| {
        let (n, v) = l.trim().split_once("==")?;
        (normalized(n) == want).then(|| Version::from_str(v.trim()).ok())?
    })
}

/// A distribution name as PEP 503 compares them.
fn normalized(name: &str) -> String {
    super::index::normalize(name.trim())
}

/// The version pip's `--report` would install.
fn parse_pip_report(output: &str, name: &str) -> Option<Version> {
    let report: serde_json::Value = serde_json::from_str(output.trim()).ok()?;
    let want = normalized(name);
    report["install"]
        .as_array()?
        .iter()
        .find(|item| item["metadata"]["name"].as_str().map(normalized) == Some(want.clone()))
        .and_then(|item| item["metadata"]["version"].as_str())
        .and_then(|v| Version::from_str(v).ok())
}

#[cfg(test)]
mod tests {
    use super::BootstrapError;

    /// A full disk is told by the OS's error number, and kept as its own
    /// cause (the run stops rather than falling back to pip) in the words
    /// of the step it stopped.
    #[test]
    fn a_full_disk_is_its_own_cause_in_the_steps_words() {
        let full = std::io::Error::from_raw_os_error(nix::libc::ENOSPC);
        assert!(BootstrapError::io(&full));
        let denied = std::io::Error::from_raw_os_error(nix::libc::EACCES);
        assert!(!BootstrapError::io(&denied));
        let e = BootstrapError::Create {
            path: "/cache/tools".into(),
            source: full,
        }
        .classified(true);
        assert!(matches!(e, BootstrapError::DiskFull(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "cannot create /cache/tools: No space left on device (os error 28)"
        );
    }

    use super::*;

    #[test]
    fn parses_resolver_outputs() {
        assert_eq!(
            parse_pin("pandas==2.2.3\nnumpy==1.26.4\n", "numpy"),
            Version::from_str("1.26.4").ok()
        );
        assert_eq!(parse_pin("Resolved 1 package\n", "numpy"), None);
        assert_eq!(
            parse_pin("Fast_Histogram==0.14\n", "fast-histogram"),
            Version::from_str("0.14").ok()
        );
        let report = r#"{"install":[{"metadata":{"name":"numpy","version":"2.0.2"}}]}"#;
        assert_eq!(
            parse_pip_report(report, "numpy"),
            Version::from_str("2.0.2").ok()
        );
    }

    #[test]
    fn sorts_installer_errors() {
        let uv_no_wheel = "error: No solution found when resolving dependencies\n  cause: Because numpy==1.20.3 has no usable wheels";
        assert!(matches!(
            classify_output("numpy==1.20.3", uv_no_wheel),
            InstallError::NoWheel { .. }
        ));
        let pip_no_wheel =
            "ERROR: Could not find a version that satisfies the requirement numpy==1.20.3";
        assert!(matches!(
            classify_output("numpy==1.20.3", pip_no_wheel),
            InstallError::NoWheel { .. }
        ));
        let offline =
            "error: Failed to fetch: `https://pypi.org/simple/numpy/`\n  Caused by: dns error";
        assert!(matches!(
            classify_output("numpy==2.0.2", offline),
            InstallError::Network { .. }
        ));
        assert!(matches!(
            classify_output("numpy==2.0.2", "disk full"),
            InstallError::Failed { .. }
        ));
    }
}
