//! From NumPy requests to the versions a grid really uses, per interpreter.
//!
//! Exact versions and series are checked or resolved by the installer for
//! exactly that interpreter's wheel tags; ranges are expanded into the minor
//! series the index has, each resolved the same way; `oldest`/`latest` ask
//! the resolver for the lowest/highest release with a wheel. Everything is
//! known before any environment is made, so the resolved table can be shown
//! first and a version without a wheel is `unavailable` from the start.
//!
//! Every answer is remembered (`cache::memo`): a warm run asks the index
//! nothing; an exact version whose environment is in the cache is not even
//! looked up; `--offline` uses only what is remembered.

use std::collections::BTreeSet;

use futures::future::join_all;
use pep440_rs::Version;
use tokio::sync::OnceCell;

use serde::{Deserialize, Serialize};

use super::AxisEntry;
use crate::cache::memo::{Lasts, Memo, Network, index_identity};
use crate::config::NumpyRequest;
use crate::extension::{PackageRow, RowSource};
use crate::python::{InstallError, Installer, Interpreter, index_versions};

/// Resolves requests for any number of interpreters, fetching the index's
/// version list at most once per run.
pub struct Resolver<'a> {
    installer: &'a Installer,
    memo: &'a Memo,
    /// Where cached environments are (an exact version found there needs
    /// no index); `None` with `--fresh`.
    cache: Option<&'a std::path::Path>,
    index: OnceCell<Result<Vec<Version>, InstallError>>,
}

/// A remembered answer of the resolver.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Answer {
    Version(String),
    NoWheel { requirement: String },
}

/// One interpreter's axis, and what was asked for but has no wheel for it.
#[derive(Debug, Clone, Default)]
pub struct ResolvedAxis {
    pub entries: Vec<AxisEntry>,
    /// "1.25.* (from >=1.25,<2.1)": series in a range with no wheel here.
    pub skipped: Vec<String>,
}

impl<'a> Resolver<'a> {
    pub fn new(
        installer: &'a Installer,
        memo: &'a Memo,
        cache: Option<&'a std::path::Path>,
    ) -> Resolver<'a> {
        Resolver {
            installer,
            memo,
            cache,
            index: OnceCell::new(),
        }
    }

    /// Every release the index lists (remembered for a day).
    async fn index(&self, interpreter: &Interpreter) -> Result<Vec<Version>, InstallError> {
        self.index
            .get_or_init(|| async {
                let key = format!("index-versions|{}", index_identity());
                if let Some(list) = self.memo.get::<Vec<String>>(&key) {
                    return Ok(list.iter().filter_map(|v| v.parse().ok()).collect());
                }
                if self.memo.network() == Network::Offline {
                    return Err(InstallError::Offline {
                        what: "the list of NumPy releases on the index".into(),
                    });
                }
                let list = index_versions(interpreter).await?;
                let text: Vec<String> = list.iter().map(ToString::to_string).collect();
                self.memo.put(&key, &text, Lasts::Day);
                Ok(list)
            })
            .await
            .clone()
    }

    /// The release `requirement` resolves to for `interpreter` (or that it
    /// has none with a wheel), remembered: for good when it names one
    /// release, for a day when a newer one could appear.
    async fn resolve(
        &self,
        interpreter: &Interpreter,
        requirement: &str,
        lowest: bool,
        lasts: Lasts,
    ) -> Result<Version, InstallError> {
        let key = format!(
            "numpy|{}|{}|{requirement}|{lowest}",
            index_identity(),
            crate::cache::interpreter_key(interpreter)
        );
        match self.memo.get::<Answer>(&key) {
            Some(Answer::Version(v)) => {
                if let Ok(v) = v.parse() {
                    return Ok(v);
                }
            }
            Some(Answer::NoWheel { requirement }) => {
                return Err(InstallError::NoWheel {
                    requirement,
                    detail: "remembered from an earlier run".into(),
                });
            }
            None => {}
        }
        if self.memo.network() == Network::Offline {
            return Err(InstallError::Offline {
                what: format!("which release {requirement} is for {}", interpreter.label()),
            });
        }
        let answer = self
            .installer
            .resolve(interpreter, requirement, lowest)
            .await;
        match &answer {
            Ok(v) => self.memo.put(&key, &Answer::Version(v.to_string()), lasts),
            Err(InstallError::NoWheel { requirement, .. }) => self.memo.put(
                &key,
                &Answer::NoWheel {
                    requirement: requirement.clone(),
                },
                Lasts::Day,
            ),
            Err(_) => {}
        }
        answer
    }

    /// The axis for `requests` under `interpreter`, in request order, with
    /// duplicates (a series and an exact version naming one release) merged.
    /// Only an unreachable index (or an installer that cannot run) is an
    /// error; a request without a wheel is a missing entry.
    pub async fn axis<'r>(
        &self,
        interpreter: &Interpreter,
        requests: impl IntoIterator<Item = &'r NumpyRequest>,
    ) -> Result<ResolvedAxis, InstallError> {
        let parts = join_all(requests.into_iter().map(|r| self.request(interpreter, r))).await;
        let mut axis = ResolvedAxis::default();
        for part in parts {
            let part = part?;
            for entry in part.entries {
                if !axis.entries.iter().any(|e| e.label() == entry.label()) {
                    axis.entries.push(entry);
                }
            }
            axis.skipped.extend(part.skipped);
        }
        Ok(axis)
    }

    /// A package row, named by its version: the one its wheel or exact pin
    /// says, else the one the resolver picks for this interpreter
    /// (remembered for a day), so the grid says "pandas 2.2.3", not
    /// "pandas>=2".
    pub async fn row(
        &self,
        interpreter: &Interpreter,
        source: &RowSource,
    ) -> Result<PackageRow, InstallError> {
        let mut row = PackageRow::new(source.clone());
        let RowSource::Requirement(r) = source else {
            return Ok(row);
        };
        if row.version.is_some() {
            return Ok(row);
        }
        let key = format!(
            "row|{}|{}|{r}",
            index_identity(),
            crate::cache::interpreter_key(interpreter)
        );
        if let Some(v) = self.memo.get::<String>(&key) {
            row.version = Some(v);
            return Ok(row);
        }
        if self.memo.network() == Network::Offline {
            return Err(InstallError::Offline {
                what: format!("which release of {r} is for {}", interpreter.label()),
            });
        }
        match self
            .installer
            .resolve_package(interpreter, r, &row.name, false)
            .await
        {
            Ok(v) => {
                self.memo.put(&key, &v.to_string(), Lasts::Day);
                row.version = Some(v.to_string());
            }
            Err(e) if is_fatal(&e) => return Err(e),
            // The row's own install fails later with the resolver's words.
            Err(_) => {}
        }
        Ok(row)
    }

    /// Whether any release matching `request` exists on the index at all,
    /// for any interpreter.
    pub async fn exists_on_index(
        &self,
        interpreter: &Interpreter,
        request: &NumpyRequest,
    ) -> Result<bool, InstallError> {
        let index = self.index(interpreter).await?;
        Ok(match request {
            NumpyRequest::Oldest | NumpyRequest::Latest => !index.is_empty(),
            other => index.iter().any(|v| other.matches(v)),
        })
    }

    async fn request(
        &self,
        interpreter: &Interpreter,
        request: &NumpyRequest,
    ) -> Result<ResolvedAxis, InstallError> {
        let one = |answer: Result<Version, InstallError>| -> Result<ResolvedAxis, InstallError> {
            Ok(ResolvedAxis {
                entries: vec![entry(request, answer, interpreter)?],
                skipped: Vec::new(),
            })
        };
        match request {
            NumpyRequest::Exact(v) => {
                // Its environment in the cache is proof enough that it has a
                // wheel for this interpreter: no index needed.
                let cached = self.cache.map(|root| {
                    crate::environment::cached_dir(root, interpreter, v)
                        .join(crate::environment::MARKER)
                });
                if cached.is_some_and(|m| m.is_file()) {
                    return one(Ok(v.clone()));
                }
                one(self
                    .resolve(interpreter, &request.requirement(), false, Lasts::Always)
                    .await)
            }
            NumpyRequest::Series(_) | NumpyRequest::Latest => one(self
                .resolve(interpreter, &request.requirement(), false, Lasts::Day)
                .await),
            NumpyRequest::Oldest => one(self.resolve(interpreter, "numpy", true, Lasts::Day).await),
            NumpyRequest::Range(specs) => {
                let index = self.index(interpreter).await?;
                let series: BTreeSet<(u64, u64)> = index
                    .iter()
                    .filter(|v| specs.contains(v))
                    .map(|v| {
                        let r = v.release();
                        (
                            r.first().copied().unwrap_or(0),
                            r.get(1).copied().unwrap_or(0),
                        )
                    })
                    .collect();
                let answers = join_all(series.iter().map(|(major, minor)| {
                    let requirement = format!("numpy{specs},=={major}.{minor}.*");
                    async move {
                        self.resolve(interpreter, &requirement, false, Lasts::Day)
                            .await
                    }
                }))
                .await;
                let mut axis = ResolvedAxis::default();
                for ((major, minor), answer) in series.iter().zip(answers) {
                    match answer {
                        Ok(version) => axis.entries.push(AxisEntry::Numpy {
                            request: request.clone(),
                            version,
                        }),
                        Err(e) if is_fatal(&e) => return Err(e),
                        Err(_) => axis
                            .skipped
                            .push(format!("{major}.{minor}.* (from {request})")),
                    }
                }
                if axis.entries.is_empty() {
                    let why = if series.is_empty() {
                        format!("no NumPy release on the index matches {request}")
                    } else {
                        format!(
                            "no release in {request} has a wheel for {}",
                            interpreter.label()
                        )
                    };
                    axis.entries.push(AxisEntry::Missing {
                        request: request.clone(),
                        why,
                    });
                }
                Ok(axis)
            }
        }
    }
}

/// Errors that stop the run rather than leave one request without a wheel.
fn is_fatal(e: &InstallError) -> bool {
    matches!(
        e,
        InstallError::Network { .. } | InstallError::Spawn { .. } | InstallError::Offline { .. }
    )
}

/// An axis entry from one resolver answer; an unreachable index is an error.
fn entry(
    request: &NumpyRequest,
    answer: Result<Version, InstallError>,
    interpreter: &Interpreter,
) -> Result<AxisEntry, InstallError> {
    match answer {
        Ok(version) => Ok(AxisEntry::Numpy {
            request: request.clone(),
            version,
        }),
        Err(e) if is_fatal(&e) => Err(e),
        Err(InstallError::NoWheel { requirement, .. }) => Ok(AxisEntry::Missing {
            request: request.clone(),
            why: format!("no wheel of {requirement} for {}", interpreter.label()),
        }),
        Err(other) => Ok(AxisEntry::Missing {
            request: request.clone(),
            why: other.to_string(),
        }),
    }
}
