//! Interpreter discovery and query: from what the user wrote ("python3", a
//! path) to an [`Interpreter`] we have run and know.
//!
//! A candidate is trusted only after it runs: a pyenv shim for a version that
//! is not selected exists on PATH but fails when started.

use std::path::{Path, PathBuf};

use std::os::unix::fs::MetadataExt as _;
use std::time::Duration;

use pep440_rs::Version;
use serde::{Deserialize, Serialize};

use crate::cache::memo::{Lasts, Memo};
use crate::process::{Exit, Spec};

/// How long a candidate may take to answer the query: a Python starts in
/// tens of milliseconds; anything that takes seconds is not one we want,
/// and must not hold up a run.
pub const QUERY_LIMIT: Duration = Duration::from_secs(10);

const QUERY: &str = include_str!("query.py");

/// A Python we have run, and what it told us about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Interpreter {
    /// `sys.executable`: the real binary, not a shim.
    pub executable: PathBuf,
    /// `platform.python_version()`, parsed: a version that does not parse
    /// is a query that failed, never a silent 0.
    pub version: Version,
    pub implementation: String,
    pub machine: String,
    pub platform: String,
    pub ext_suffix: String,
    pub cc: String,
    pub cflags: String,
    pub ccshared: String,
    pub ldshared: String,
    pub include: PathBuf,
    pub python_h: bool,
    /// The wheel tags it installs, best first: which NumPy releases it can
    /// have is decided from these and the index's file names.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Built with `Py_GIL_DISABLED` (`--disable-gil`, "3.13t"): an ABI of
    /// its own, with its own wheels (`cp313t`) and no stable ABI.
    #[serde(default)]
    pub free_threaded: bool,
}

impl Interpreter {
    /// "CPython 3.11.7"; "CPython 3.13.0t" for a free-threaded build.
    pub fn label(&self) -> String {
        format!(
            "{} {}{}",
            self.implementation,
            self.version,
            self.abi_flag()
        )
    }

    /// The Python axis's name for it: "3.11", "3.13t".
    pub fn short_label(&self) -> String {
        let (major, minor) = self.minor();
        format!("{major}.{minor}{}", self.abi_flag())
    }

    /// "t" for a free-threaded build, as CPython names its executable
    /// (`python3.13t`) and ABI (`cp313t`).
    fn abi_flag(&self) -> &'static str {
        if self.free_threaded { "t" } else { "" }
    }

    /// What identifies it in the cache: where its real binary is and what
    /// it reported being ("cpython-3.11.7-<hash>").
    pub fn cache_key(&self) -> String {
        let real =
            std::fs::canonicalize(&self.executable).unwrap_or_else(|_| self.executable.clone());
        let version = self.version.to_string();
        let short = format!(
            "{}-{version}{}",
            self.implementation.to_lowercase(),
            self.abi_flag()
        );
        let mut parts = vec![
            real.to_string_lossy().into_owned(),
            version.clone(),
            self.implementation.clone(),
            self.machine.clone(),
            self.ext_suffix.clone(),
        ];
        // Only when set: every GIL-enabled interpreter keeps its key.
        if self.free_threaded {
            parts.push("free-threaded".into());
        }
        let hash = crate::cache::digest(parts);
        format!("{short}-{hash}")
    }

    /// (major, minor): "3.11" picks an interpreter by this.
    pub fn minor(&self) -> (u64, u64) {
        let r = self.version.release();
        (
            r.first().copied().unwrap_or(0),
            r.get(1).copied().unwrap_or(0),
        )
    }
}

/// Why a named interpreter cannot be used, one variant per cause: each
/// cause has its own way out (`run --python`, `[python]` and `doctor
/// --python` all end here).
#[derive(Debug, Clone, thiserror::Error)]
pub enum InterpreterError {
    #[error("no interpreter named `{name}` on PATH")]
    NotFound { name: String },
    #[error("interpreter {path} does not exist")]
    Missing { path: PathBuf },
    #[error("{path} is a link to {target}, which does not exist")]
    DanglingLink { path: PathBuf, target: PathBuf },
    #[error("{path} is a folder, not an interpreter")]
    NotAFile { path: PathBuf },
    #[error("{path} is not executable")]
    NotExecutable { path: PathBuf },
    #[error("{path} is Python {version}: abimatrix needs Python 3")]
    Python2 { path: PathBuf, version: String },
    /// A Python 3 that started and failed: the interpreter itself is broken.
    #[error("{path} exists but does not run as Python: {detail}")]
    DoesNotRun { path: PathBuf, detail: String },
    #[error("{path} did not answer within {} s", QUERY_LIMIT.as_secs())]
    NoAnswer { path: PathBuf },
    #[error("{path} is not a Python interpreter: it answered {answer:?}")]
    NotPython { path: PathBuf, answer: String },
}

impl InterpreterError {
    pub fn hint(&self) -> &'static str {
        match self {
            InterpreterError::NotFound { .. } => {
                "`matrix pythons` lists every interpreter found; name one of them (e.g. \"3.11\" or \"/usr/bin/python3\")"
            }
            InterpreterError::Missing { .. } => {
                "check the path: one given on the command line is read from the folder matrix runs in, one in matrix.toml from the config's folder (`matrix pythons` lists every interpreter found)"
            }
            InterpreterError::DanglingLink { .. } => {
                "the interpreter it links to was moved or deleted (an environment made from a Python since removed?): recreate the environment, or name another interpreter"
            }
            InterpreterError::NotAFile { .. } => {
                "name the interpreter file itself: an environment's is bin/python inside it"
            }
            InterpreterError::NotExecutable { .. } => {
                "name the interpreter itself (an environment's is bin/python), or make the file executable (chmod +x)"
            }
            InterpreterError::Python2 { .. } => {
                "NumPy has needed Python 3 since 1.17: name a Python 3 interpreter (`matrix pythons` lists them)"
            }
            InterpreterError::DoesNotRun { .. } => {
                "the interpreter itself is broken (a moved or deleted virtual environment?): recreate the environment, or name another interpreter"
            }
            InterpreterError::NoAnswer { .. } | InterpreterError::NotPython { .. } => {
                "name a Python 3 interpreter, e.g. .venv/bin/python or /usr/bin/python3 (`matrix pythons` lists them)"
            }
        }
    }
}

/// What is wrong with the file at `path` before anything runs it: nothing
/// there, a link to nothing, a folder, no permission to execute.
pub fn check_file(path: &Path) -> Result<(), InterpreterError> {
    use std::os::unix::fs::PermissionsExt as _;
    let path_buf = || path.to_path_buf();
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(InterpreterError::NotAFile { path: path_buf() }),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => {
            Err(InterpreterError::NotExecutable { path: path_buf() })
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::read_link(path) {
            Ok(target) => Err(InterpreterError::DanglingLink {
                path: path_buf(),
                target,
            }),
            Err(_) => Err(InterpreterError::Missing { path: path_buf() }),
        },
        Err(e) => Err(InterpreterError::DoesNotRun {
            path: path_buf(),
            detail: e.to_string(),
        }),
    }
}

/// Why `path` could not be started at all.
pub fn spawn_failure(path: &Path, e: &std::io::Error) -> InterpreterError {
    let path = path.to_path_buf();
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => InterpreterError::NotExecutable { path },
        std::io::ErrorKind::IsADirectory => InterpreterError::NotAFile { path },
        // ENOEXEC: neither a program nor a script with a `#!` line.
        _ if e.raw_os_error() == Some(nix::libc::ENOEXEC) => InterpreterError::NotPython {
            path,
            answer: e.to_string(),
        },
        _ => InterpreterError::DoesNotRun {
            path,
            detail: e.to_string(),
        },
    }
}

/// Why `path`, which started but did not answer a query (it said `said`,
/// of which the first line is kept), is no Python 3 we can use: a Python 2
/// (which refuses `-I` before reading a line), a Python 3 that fails
/// (broken), or not Python at all. Asked in a form every Python since 2.3
/// runs.
pub async fn not_answered(path: &Path, said: &str) -> InterpreterError {
    let said = first_line(said);
    const VERSION: &str =
        "import sys; sys.stdout.write('abimatrix-python %d.%d.%d' % tuple(sys.version_info[:3]))";
    let answer = Spec::new(path)
        .args(["-E", "-s", "-c", VERSION])
        .timeout(QUERY_LIMIT)
        .run()
        .await
        .ok()
        .filter(|f| f.success())
        .and_then(|f| {
            f.stdout
                .text
                .strip_prefix("abimatrix-python ")
                .map(str::to_string)
        });
    let path = path.to_path_buf();
    match answer {
        Some(version) if version.starts_with("2.") => InterpreterError::Python2 { path, version },
        Some(_) => InterpreterError::DoesNotRun { path, detail: said },
        None => InterpreterError::NotPython { path, answer: said },
    }
}

/// A child's first non-empty line, at most 100 characters: what an error
/// message quotes of it (an interpreter that echoes the query would
/// otherwise fill the screen with it).
fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("nothing")
        .trim();
    let mut short: String = line.chars().take(100).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

/// Finds and queries the interpreter the user asked for.
pub async fn find(request: &str, memo: &Memo) -> Result<Interpreter, InterpreterError> {
    let candidate = if request.contains(std::path::MAIN_SEPARATOR) {
        let path = PathBuf::from(request);
        check_file(&path)?;
        path
    } else {
        which::which(request).map_err(|_| InterpreterError::NotFound {
            name: request.to_string(),
        })?
    };
    query_remembered(&candidate, memo).await
}

/// `query`, answered from the memo when the executable behind `path` is the
/// same file it was (its real path, size, mtime and inode): a warm run
/// starts no interpreter to learn what it already knows.
pub async fn query_remembered(path: &Path, memo: &Memo) -> Result<Interpreter, InterpreterError> {
    let key = std::fs::canonicalize(path).ok().and_then(|real| {
        let m = std::fs::metadata(&real).ok()?;
        Some(format!(
            // v2: the answer carries the wheel tags; v3: whether it is
            // free-threaded.
            "python-v3|{}|{}|{}|{}|{}",
            path.display(),
            real.display(),
            m.len(),
            m.mtime_nsec() + m.mtime() * 1_000_000_000,
            m.ino()
        ))
    });
    if let Some(found) = key.as_deref().and_then(|k| memo.get::<Interpreter>(k)) {
        if found.executable.exists() {
            return Ok(found);
        }
    }
    let found = query(path).await?;
    if let Some(k) = &key {
        memo.put(k, &found, Lasts::Always);
    }
    Ok(found)
}

/// Runs the query script in `path`, isolated from the user's environment.
pub async fn query(path: &Path) -> Result<Interpreter, InterpreterError> {
    query_within(path, QUERY_LIMIT).await
}

async fn query_within(path: &Path, limit: Duration) -> Result<Interpreter, InterpreterError> {
    let finished = Spec::new(path)
        .args(["-I", "-c", QUERY])
        .timeout(limit)
        .run()
        .await
        .map_err(|e| spawn_failure(path, &e.source))?;
    if let Exit::TimedOut(_) = finished.exit {
        return Err(InterpreterError::NoAnswer {
            path: path.to_path_buf(),
        });
    }
    if !finished.success() {
        return Err(not_answered(path, &finished.output()).await);
    }
    serde_json::from_str(finished.stdout.text.trim()).map_err(|_| InterpreterError::NotPython {
        path: path.to_path_buf(),
        answer: first_line(&finished.output()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn the_python_on_path_answers_the_query() {
        let i = find("python3", &Memo::default()).await.unwrap();
        assert_eq!(i.version.release()[0], 3, "{i:?}");
        assert!(i.executable.is_absolute());
        assert!(i.ext_suffix.ends_with(".so"), "{i:?}");
    }

    /// What the query prints on a free-threaded CPython 3.13.0 (recorded:
    /// see `testdata/cpython-3.13.0t.json`; no such interpreter runs here).
    fn free_threaded() -> Interpreter {
        serde_json::from_str(include_str!("testdata/cpython-3.13.0t.json")).unwrap()
    }

    #[test]
    fn a_free_threaded_interpreter_is_labelled_3_13t_and_keyed_apart() {
        let ft = free_threaded();
        assert!(ft.free_threaded);
        assert_eq!(ft.label(), "CPython 3.13.0t");
        assert_eq!(ft.short_label(), "3.13t");
        // Its wheels are cp313t, and abi3 is not among its tags.
        assert_eq!(ft.tags[0], "cp313-cp313t-manylinux_2_36_x86_64");
        assert!(ft.tags.iter().all(|t| !t.contains("abi3")));
        let mut gil = ft.clone();
        gil.free_threaded = false;
        assert_eq!(
            (gil.label().as_str(), gil.short_label().as_str()),
            ("CPython 3.13.0", "3.13")
        );
        assert_ne!(ft.cache_key(), gil.cache_key());
        assert!(
            ft.cache_key().starts_with("cpython-3.13.0t-"),
            "{}",
            ft.cache_key()
        );
        // An answer remembered before the field existed is a GIL build's.
        let mut old = serde_json::to_value(&gil).unwrap();
        old.as_object_mut().unwrap().remove("free_threaded");
        let old: Interpreter = serde_json::from_value(old).unwrap();
        assert!(!old.free_threaded);
    }

    /// The query's own fallback (no packaging to ask): a free-threaded
    /// build's tags name its own ABI and never abi3; a GIL build's do.
    #[tokio::test]
    async fn the_fallback_tags_follow_the_free_threaded_abi() {
        let code = format!(
            "ns = {{'__name__': 'query'}}\nexec({QUERY:?}, ns)\nimport json\nprint(json.dumps([ns['fallback_tags'](3, 13, t) for t in (True, False)]))"
        );
        let run = Spec::new("python3")
            .args(["-I", "-c", &code])
            .run()
            .await
            .unwrap();
        assert!(run.success(), "{}", run.output());
        let [ft, gil]: [Vec<String>; 2] = serde_json::from_str(run.stdout.text.trim()).unwrap();
        assert!(
            ft.iter().any(|t| t == "cp313-cp313t-linux_x86_64"),
            "{ft:?}"
        );
        assert!(
            ft.iter()
                .all(|t| !t.contains("abi3") && !t.contains("cp313-cp313-"))
        );
        assert!(
            gil.iter().any(|t| t == "cp313-abi3-linux_x86_64"),
            "{gil:?}"
        );
        assert!(gil.iter().all(|t| !t.contains("cp313t")));
    }

    #[tokio::test]
    async fn a_candidate_that_does_not_run_is_rejected_with_its_words() {
        let dir = tempfile::tempdir().unwrap();
        let shim = dir.path().join("python3.99");
        std::fs::write(
            &shim,
            "#!/bin/sh\necho 'pyenv: python3.99: command not found' >&2\nexit 127\n",
        )
        .unwrap();
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = query(&shim).await.unwrap_err();
        assert!(err.to_string().contains("command not found"), "{err}");
        let err = find(dir.path().join("nope").to_str().unwrap(), &Memo::default())
            .await
            .unwrap_err();
        assert!(matches!(err, InterpreterError::Missing { .. }));
        let err = find("no-such-python-abimatrix", &Memo::default())
            .await
            .unwrap_err();
        assert!(matches!(err, InterpreterError::NotFound { .. }));
    }

    #[tokio::test]
    async fn something_else_is_named_in_one_line() {
        // echo answers with the whole query script: one line of it is said.
        let err = query(Path::new("/bin/echo")).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("/bin/echo is not a Python interpreter: it answered \"-I -c"),
            "{text}"
        );
        assert!(text.len() < 200, "{text}");
        let err = query(Path::new("/bin/ls")).await.unwrap_err();
        assert!(err.to_string().lines().count() == 1, "{err}");
    }

    #[tokio::test]
    async fn a_candidate_that_does_not_answer_is_given_up_on() {
        let dir = tempfile::tempdir().unwrap();
        let hang = dir.path().join("python3.14");
        std::fs::write(&hang, "#!/bin/sh\nsleep 600\n").unwrap();
        std::fs::set_permissions(&hang, std::fs::Permissions::from_mode(0o755)).unwrap();
        let start = std::time::Instant::now();
        let err = query_within(&hang, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, InterpreterError::NoAnswer { .. }), "{err}");
        assert!(
            err.to_string().ends_with("did not answer within 10 s"),
            "{err}"
        );
        // The limit, not the 600 s sleep.
        assert!(start.elapsed() < Duration::from_secs(60));
    }
}
