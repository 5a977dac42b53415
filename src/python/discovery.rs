//! Finding every Python on this machine that a user could mean, and
//! choosing among them for a request.
//!
//! Candidates come from PATH (`python3.X`, `python3`, `python`), pyenv's
//! versions directory (`$PYENV_ROOT/versions/*`) and, when uv is at hand,
//! the Pythons uv installed (`uv python dir`). Every candidate is *run* once (the
//! query script); one that exists but does not run (a pyenv shim for a
//! version that is not selected, a dangling link) is rejected with the
//! reason, never trusted because of its name or place.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use futures::future::join_all;
use regex::Regex;

use pep440_rs::Version;

use super::{Interpreter, InterpreterError, PythonRequest, Uv, query_remembered};
use crate::cache::memo::Memo;

/// Where a candidate was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PythonSource {
    /// Named explicitly in matrix.toml.
    Explicit,
    SearchPath,
    Pyenv,
    Uv,
}

impl fmt::Display for PythonSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PythonSource::Explicit => "matrix.toml",
            PythonSource::SearchPath => "PATH",
            PythonSource::Pyenv => "pyenv",
            PythonSource::Uv => "uv",
        })
    }
}

#[derive(Debug, Clone)]
pub struct Found {
    /// Where it was found (may be a link or shim to `interpreter.executable`).
    pub path: PathBuf,
    pub source: PythonSource,
    pub interpreter: Interpreter,
}

#[derive(Debug, Clone)]
pub struct Rejected {
    pub path: PathBuf,
    pub source: PythonSource,
    pub reason: Rejection,
}

/// Why a candidate is not an interpreter, in words for a list that already
/// names its path (`matrix pythons`).
#[derive(Debug, Clone)]
pub enum Rejection {
    /// A link to nothing (`None`: where to could not be read).
    DanglingLink(Option<PathBuf>),
    /// It was asked, and is no interpreter abimatrix can use.
    Unusable(InterpreterError),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::DanglingLink(Some(target)) => {
                write!(f, "dangling link to {}", target.display())
            }
            Rejection::DanglingLink(None) => f.write_str("dangling link to ?"),
            Rejection::Unusable(e) => match e {
                InterpreterError::DoesNotRun { detail, .. } => write!(f, "does not run: {detail}"),
                InterpreterError::NoAnswer { .. } => write!(
                    f,
                    "did not answer within {} s",
                    super::interpreter::QUERY_LIMIT.as_secs()
                ),
                InterpreterError::NotPython { answer, .. } => {
                    write!(f, "not a Python interpreter: it answered {answer:?}")
                }
                other => other.fmt(f),
            },
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub found: Vec<Found>,
    pub rejected: Vec<Rejected>,
}

/// Where to look; from the process environment by default, from fakes in
/// tests.
#[derive(Debug, Clone, Default)]
pub struct SearchRoots {
    pub path: Option<OsString>,
    pub pyenv_root: Option<PathBuf>,
    pub uv: Option<Uv>,
}

impl SearchRoots {
    pub fn from_env(uv: Option<Uv>) -> SearchRoots {
        let pyenv_root = std::env::var_os("PYENV_ROOT")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|h| h.join(".pyenv")));
        SearchRoots {
            path: std::env::var_os("PATH"),
            pyenv_root,
            uv,
        }
    }
}

static PYTHON_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^python(3(\.\d+)?)?$").expect("constant pattern"));

/// A place an interpreter may be, and the version its name says, if any
/// (`python3.12`, pyenv's `versions/3.12.1`, uv's listing).
type Candidate = (PathBuf, PythonSource, Option<Version>);

/// The candidates on PATH and in pyenv, in order of preference (PATH
/// first, as a shell would).
fn local_candidates(roots: &SearchRoots) -> Vec<Candidate> {
    let mut out = Vec::new();
    if let Some(path) = &roots.path {
        for dir in std::env::split_paths(path) {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut names: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .filter(|e| PYTHON_NAME.is_match(&e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect();
            names.sort();
            out.extend(names.into_iter().map(|p| {
                let hint = p
                    .file_name()
                    .and_then(|n| {
                        n.to_string_lossy()
                            .strip_prefix("python")
                            .map(str::to_string)
                    })
                    .filter(|v| v.contains('.'))
                    .and_then(|v| v.parse().ok());
                (p, PythonSource::SearchPath, hint)
            }));
        }
    }
    if let Some(root) = &roots.pyenv_root {
        if let Ok(entries) = std::fs::read_dir(root.join("versions")) {
            let mut dirs: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
            dirs.sort();
            for d in dirs {
                let bin = d.join("bin");
                let exe = ["python3", "python"]
                    .iter()
                    .map(|n| bin.join(n))
                    .find(|p| p.symlink_metadata().is_ok());
                if let Some(exe) = exe {
                    let hint = d.file_name().and_then(|n| n.to_string_lossy().parse().ok());
                    out.push((exe, PythonSource::Pyenv, hint));
                }
            }
        }
    }
    out
}

/// The interpreters uv installed: `<uv python dir>/cpython-3.12.1-…/bin/python3`,
/// the version read from the folder's name.
async fn uv_candidates(uv: &super::Uv) -> Vec<Candidate> {
    let Ok(f) = uv.python_dir().timeout(UV_LIMIT).run().await else {
        return Vec::new();
    };
    let dir = PathBuf::from(f.stdout.text.trim());
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    dirs.sort();
    dirs.into_iter()
        .filter_map(|d| {
            let exe = ["python3", "python"]
                .iter()
                .map(|n| d.join("bin").join(n))
                .find(|p| p.exists())?;
            let name = d.file_name()?.to_string_lossy().into_owned();
            let hint = name.split('-').nth(1).and_then(|v| v.parse().ok());
            Some((exe, PythonSource::Uv, hint))
        })
        .collect()
}

/// How long `uv python dir` may take.
const UV_LIMIT: std::time::Duration = super::interpreter::QUERY_LIMIT;

/// Runs every candidate once and sorts them into found and rejected.
pub async fn discover(roots: &SearchRoots, memo: &Memo) -> Discovery {
    discover_for(roots, memo, &[]).await
}

/// The candidates that could answer `requests` (all, when there are none),
/// each run once (its answer remembered); uv's list is asked only when PATH
/// and pyenv do not answer every request. A candidate whose name says a
/// version no request accepts is not run: a hanging `python3.14` on PATH
/// does not hold up a run that asks for 3.11.
pub async fn discover_for(
    roots: &SearchRoots,
    memo: &Memo,
    requests: &[PythonRequest],
) -> Discovery {
    let wanted = |c: &Candidate| match &c.2 {
        Some(hint) if !requests.is_empty() => requests.iter().any(|r| r.could_be(hint)),
        _ => true,
    };
    let mut discovery = Discovery::default();
    let mut seen = HashSet::new();
    let mut executables = HashSet::new();
    let local: Vec<Candidate> = local_candidates(roots)
        .into_iter()
        .filter(|c| wanted(c))
        .collect();
    probe_all(local, memo, &mut seen, &mut executables, &mut discovery).await;
    let satisfied = !requests.is_empty()
        && requests
            .iter()
            .all(|r| discovery.found.iter().any(|f| r.accepts(&f.interpreter)));
    if let (false, Some(uv)) = (satisfied, &roots.uv) {
        let listed: Vec<Candidate> = uv_candidates(uv)
            .await
            .into_iter()
            .filter(|c| wanted(c))
            .collect();
        probe_all(listed, memo, &mut seen, &mut executables, &mut discovery).await;
    }
    discovery
}

async fn probe_all(
    candidates: Vec<Candidate>,
    memo: &Memo,
    seen: &mut HashSet<PathBuf>,
    executables: &mut HashSet<PathBuf>,
    discovery: &mut Discovery,
) {
    // The same file reached twice (PATH and uv both list it) is one candidate.
    let candidates: Vec<Candidate> = candidates
        .into_iter()
        .filter(|c| seen.insert(c.0.clone()))
        .collect();
    let answers = join_all(candidates.iter().map(|c| probe_candidate(&c.0, memo))).await;
    for ((path, source, _), answer) in candidates.into_iter().zip(answers) {
        match answer {
            Ok(interpreter) => {
                // Links and shims to one binary are one interpreter; the
                // first (most preferred) place it was found names it.
                let key = std::fs::canonicalize(&interpreter.executable)
                    .unwrap_or_else(|_| interpreter.executable.clone());
                if executables.insert(key) {
                    discovery.found.push(Found {
                        path,
                        source,
                        interpreter,
                    });
                }
            }
            Err(reason) => discovery.rejected.push(Rejected {
                path,
                source,
                reason,
            }),
        }
    }
}

async fn probe_candidate(path: &Path, memo: &Memo) -> Result<Interpreter, Rejection> {
    if path.symlink_metadata().is_ok() && !path.exists() {
        return Err(Rejection::DanglingLink(std::fs::read_link(path).ok()));
    }
    query_remembered(path, memo)
        .await
        .map_err(Rejection::Unusable)
}

/// Why a request found no interpreter: the request, and every interpreter
/// on this machine (as `matrix pythons` lists them), so the user sees what
/// there is to choose from.
#[derive(Debug, thiserror::Error)]
#[error("no interpreter matches python \"{request}\"; found: {}", found_text(.found))]
pub struct NoMatch {
    pub request: String,
    /// Each interpreter's version and where it was found, oldest first.
    pub found: Vec<(Version, PythonSource)>,
}

fn found_text(found: &[(Version, PythonSource)]) -> String {
    if found.is_empty() {
        return "none".into();
    }
    found
        .iter()
        .map(|(v, source)| format!("{v} ({source})"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl NoMatch {
    /// The same request, listing every interpreter `everything` found (a
    /// discovery of the whole machine: the one that found nothing ran only
    /// the candidates whose names could match).
    pub fn listing(self, everything: &Discovery) -> NoMatch {
        NoMatch {
            found: everything.versions(),
            ..self
        }
    }
}

impl Discovery {
    /// The interpreters for `request`: for a version, the best match; for a
    /// range, the best of each minor version in it.
    pub fn select(&self, request: &PythonRequest) -> Result<Vec<Found>, NoMatch> {
        let mut matching: Vec<&Found> = self
            .found
            .iter()
            .filter(|f| request.accepts(&f.interpreter))
            .collect();
        // Best first: can build extensions, then the newest patch, then the
        // order of discovery (the sort is stable).
        matching.sort_by_key(|f| {
            (
                std::cmp::Reverse(f.interpreter.python_h),
                std::cmp::Reverse(f.interpreter.version.clone()),
            )
        });
        let chosen: Vec<Found> = match request {
            PythonRequest::Version(_) => matching.into_iter().take(1).cloned().collect(),
            _ => {
                let mut minors = HashSet::new();
                let mut picked: Vec<Found> = matching
                    .into_iter()
                    .filter(|f| minors.insert(f.interpreter.minor()))
                    .cloned()
                    .collect();
                picked.sort_by_key(|f| f.interpreter.version.clone());
                picked
            }
        };
        if chosen.is_empty() {
            return Err(NoMatch {
                request: request.to_string(),
                found: self.versions(),
            });
        }
        Ok(chosen)
    }

    /// Every interpreter found, by version (oldest first), each once.
    fn versions(&self) -> Vec<(Version, PythonSource)> {
        let mut versions: Vec<(Version, PythonSource)> = self
            .found
            .iter()
            .map(|f| (f.interpreter.version.clone(), f.source))
            .collect();
        versions.sort();
        versions.dedup();
        versions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    /// A real executable that answers the query like a Python would.
    fn fake_python(path: &Path, version: &str, python_h: bool) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let json = format!(
            r#"{{"executable": "{exe}", "version": "{version}", "implementation": "CPython", "machine": "x86_64", "platform": "linux", "ext_suffix": ".so", "cc": "cc", "cflags": "", "ccshared": "-fPIC", "ldshared": "cc -shared", "include": "/nonexistent", "python_h": {python_h}}}"#,
            exe = path.display()
        );
        std::fs::write(path, format!("#!/bin/sh\ncat <<'EOF'\n{json}\nEOF\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn failing_shim(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            path,
            "#!/bin/sh\necho 'pyenv: python3.10: command not found' >&2\nexit 127\n",
        )
        .unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[tokio::test]
    async fn finds_runs_and_rejects_with_reasons() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        let pyenv = tmp.path().join("pyenv");
        fake_python(&bin.join("python3.42"), "3.42.1", true);
        failing_shim(&bin.join("python3.10"));
        std::fs::create_dir_all(&bin).unwrap();
        symlink(tmp.path().join("gone"), bin.join("python3")).unwrap();
        std::fs::write(bin.join("not-python"), "").unwrap();
        fake_python(&pyenv.join("versions/3.41.0/bin/python3"), "3.41.0", true);
        fake_python(&pyenv.join("versions/3.42.0/bin/python3"), "3.42.0", false);

        let roots = SearchRoots {
            path: Some(bin.clone().into_os_string()),
            pyenv_root: Some(pyenv.clone()),
            uv: None,
        };
        let d = discover(&roots, &Memo::default()).await;
        let found: Vec<(String, PythonSource)> = d
            .found
            .iter()
            .map(|f| (f.interpreter.version.to_string(), f.source))
            .collect();
        assert_eq!(
            found,
            vec![
                ("3.42.1".to_string(), PythonSource::SearchPath),
                ("3.41.0".to_string(), PythonSource::Pyenv),
                ("3.42.0".to_string(), PythonSource::Pyenv),
            ]
        );
        let rejected: Vec<(String, String)> = d
            .rejected
            .iter()
            .map(|r| {
                (
                    r.path.file_name().unwrap().to_string_lossy().into_owned(),
                    r.reason.to_string(),
                )
            })
            .collect();
        assert_eq!(rejected.len(), 2, "{rejected:?}");
        assert!(
            rejected
                .iter()
                .any(|(n, r)| n == "python3" && r.starts_with("dangling link to"))
        );
        assert!(
            rejected
                .iter()
                .any(|(n, r)| n == "python3.10" && r.contains("command not found"))
        );

        // "3.42" picks the newest patch that can build extensions.
        let base = Path::new("/");
        let pick = d
            .select(&PythonRequest::parse("3.42", base).unwrap())
            .unwrap();
        assert_eq!(pick.len(), 1);
        assert_eq!(pick[0].interpreter.version.to_string(), "3.42.1");
        // A range gives one per minor version, oldest first.
        let pick = d
            .select(&PythonRequest::parse(">=3.41", base).unwrap())
            .unwrap();
        let versions: Vec<String> = pick
            .iter()
            .map(|f| f.interpreter.version.to_string())
            .collect();
        assert_eq!(versions, ["3.41.0", "3.42.1"]);
        let err = d
            .select(&PythonRequest::parse("3.9", base).unwrap())
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("no interpreter matches python \"3.9\""),
            "{err}"
        );
        assert!(err.to_string().contains("3.41.0 (pyenv)"), "{err}");
    }
}
