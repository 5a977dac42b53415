//! Why a row produced no artifact, and why a cached build cannot be reused:
//! one variant per cause, each worded as the grid's summary line says it.
//! The whole log of a failed build travels beside its cause in
//! [`BuildError`], for the report.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::manifest::Damage;
use crate::process::{SpawnError, Unjoinable};
use crate::python::InstallError;

/// A row that produced no artifact: the cause (its summary line) and the
/// whole log (Clone, so it can travel in events).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{failure}")]
pub struct BuildError {
    pub failure: BuildFailure,
    pub log: String,
}

impl BuildError {
    pub fn new(failure: BuildFailure, log: &str) -> BuildError {
        BuildError {
            failure,
            log: log.to_string(),
        }
    }

    /// The most telling line, for the grid's summary.
    pub fn summary(&self) -> String {
        self.failure.to_string()
    }

    /// Not built because the project's own build requirements forbid the
    /// row's NumPy: its cells are unavailable (expected), not failed.
    pub fn is_forbidden(&self) -> bool {
        matches!(self.failure, BuildFailure::Forbidden { .. })
    }
}

impl From<BuildFailure> for BuildError {
    fn from(failure: BuildFailure) -> BuildError {
        BuildError::new(failure, "")
    }
}

/// The cause of a failed build, by kind.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BuildFailure {
    /// A step ran and failed: its output's most telling line, after the
    /// step's name (`what`) when it has one.
    #[error("{}{line}", step(what))]
    Step { what: Option<String>, line: String },
    /// A step ran past `[run] build-timeout`; `left` are the processes it
    /// started outside its process group, killed with it.
    #[error(
        "{}did not finish within {} (its process group was killed{}; [run] build-timeout sets the limit)",
        step(what),
        humantime::format_duration(*limit),
        left_text(left)
    )]
    TimedOut {
        what: Option<String>,
        limit: Duration,
        left: Vec<String>,
    },
    /// A step's program could not be started.
    #[error("{}{error}", step(what))]
    Spawn {
        what: Option<String>,
        error: Arc<SpawnError>,
    },
    /// The project's build requirements forbid the row's NumPy, in their
    /// words ("build requirements forbid numpy 1.26.4: numpy>=2").
    #[error("{reason}")]
    Forbidden { reason: String },
    /// A file or folder of the build could not be made or written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: Arc<std::io::Error>,
    },
    #[error("cannot read the build requirements: {0}")]
    BuildSystem(#[from] BuildSystemError),
    #[error(transparent)]
    Path(#[from] Unjoinable),
    /// The guarantee, checked after the build: it saw exactly this NumPy.
    #[error("the build environment ended with numpy {found} instead of {wanted}")]
    NumpyDiffers { found: String, wanted: String },
    #[error("the build produced no wheel")]
    NoWheel,
    #[error("{backend} answered no list of requirements")]
    NoRequirements { backend: String },
    #[error("cannot parse sysconfig {what}: {value}")]
    Sysconfig { what: &'static str, value: String },
    #[error("sysconfig names no C compiler")]
    NoCompiler,
    #[error(
        "the compiler did not say where #include looks (its `-E -v` output has no search list)"
    )]
    NoSearchList,
    #[error(transparent)]
    Symbols(#[from] SymbolsError),
    /// The module does not define `PyInit_<module>`: every import would
    /// fail with "dynamic module does not define module export function".
    #[error(
        "the built module does not define PyInit_{module}, so Python cannot import it as \"{module}\": {}; set extension.module in matrix.toml to the name the sources define (PyInit_<module>)",
        defines_text(defines)
    )]
    NoInit {
        module: String,
        defines: Vec<String>,
    },
    #[error(
        "building projects, installing package rows and test-requires need uv (the pip fallback does not do them)"
    )]
    NeedsUv,
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error("published rows are not built against a NumPy")]
    RowsAreNotBuilt,
    #[error(
        "offline, and not in the cache: the dependencies of {} with numpy {numpy} (run once without --offline)",
        inputs.join(", ")
    )]
    OfflineDependencies { inputs: Vec<String>, numpy: String },
    /// A project built once for every Python whose wheel is not tagged for
    /// the stable ABI it is declared for.
    #[error(
        "{declared}: the project built {wheel}, which is not tagged abi3 for {limited} or older, so it loads only on the Python that built it"
    )]
    NotAbi3 {
        wheel: String,
        limited: String,
        declared: String,
    },
}

impl BuildFailure {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> BuildFailure {
        BuildFailure::Io {
            what: what.into(),
            source: Arc::new(source),
        }
    }
}

fn step(what: &Option<String>) -> String {
    what.as_ref().map(|w| format!("{w}: ")).unwrap_or_default()
}

fn left_text(left: &[String]) -> String {
    if left.is_empty() {
        String::new()
    } else {
        format!(", and left running: {}, killed", left.join(", "))
    }
}

fn defines_text(defines: &[String]) -> String {
    if defines.is_empty() {
        "it defines no PyInit_ function at all".to_string()
    } else {
        format!("it defines {}", defines.join(", "))
    }
}

/// A project's `[build-system]` that cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BuildSystemError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: Arc<std::io::Error>,
    },
    #[error("{}: {message}", path.display())]
    Toml { path: PathBuf, message: String },
}

/// A built module whose exported functions cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SymbolsError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: Arc<std::io::Error>,
    },
    #[error("{} is not a shared object: {error}", path.display())]
    NotSharedObject { path: PathBuf, error: object::Error },
}

/// Why a cached build is not reused: it is made again.
#[derive(Debug, thiserror::Error)]
pub enum StaleBuild {
    #[error("{} has no readable marker", .0.display())]
    NoMarker(PathBuf),
    #[error("the compiler, or where its #include looks, is not what built {}", .0.display())]
    Compiler(PathBuf),
    #[error("{} is gone ({source})", path.display())]
    InputGone {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is now {kind}", path.display())]
    InputReplaced { path: PathBuf, kind: &'static str },
    #[error("{} changed since the build", .0.display())]
    InputChanged(PathBuf),
    #[error(
        "{} appeared since the build, where the compiler looks before the header it read",
        .0.display()
    )]
    Appeared(PathBuf),
    #[error(transparent)]
    Damaged(#[from] Damage),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each cause reads as the summary line did when it was a string.
    #[test]
    fn each_cause_reads_as_its_summary_line() {
        let failed = |what: Option<&str>, line: &str| BuildFailure::Step {
            what: what.map(str::to_string),
            line: line.to_string(),
        };
        assert_eq!(
            failed(Some("building the wheel"), "error: x").to_string(),
            "building the wheel: error: x"
        );
        assert_eq!(failed(None, "error: x").to_string(), "error: x");
        let slow = BuildFailure::TimedOut {
            what: None,
            limit: Duration::from_secs(2),
            left: vec!["ninja (pid 7)".into()],
        };
        assert_eq!(
            slow.to_string(),
            "did not finish within 2s (its process group was killed, and left running: ninja (pid 7), killed; [run] build-timeout sets the limit)"
        );
        let init = BuildFailure::NoInit {
            module: "ext".into(),
            defines: vec![],
        };
        assert!(
            init.to_string()
                .starts_with("the built module does not define PyInit_ext, so Python cannot import it as \"ext\": it defines no PyInit_ function at all;"),
            "{init}"
        );
        let forbidden = BuildError::from(BuildFailure::Forbidden {
            reason: "build requirements forbid numpy 1.26.4: numpy>=2".into(),
        });
        assert!(forbidden.is_forbidden());
        assert!(!BuildError::from(BuildFailure::NoWheel).is_forbidden());
    }
}
