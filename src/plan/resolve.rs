//! From NumPy requests to the versions a grid really uses, per interpreter.
//!
//! Exact versions and series are checked or resolved by the installer for
//! exactly that interpreter's wheel tags; ranges are expanded into the minor
//! series the index has, each resolved the same way; `oldest`/`latest` ask
//! the resolver for the lowest/highest release with a wheel. Everything is
//! known before any environment is made, so the resolved table can be shown
//! first and a version without a wheel is `unavailable` from the start.

use std::collections::BTreeSet;

use futures::future::join_all;
use pep440_rs::Version;
use tokio::sync::OnceCell;

use super::AxisEntry;
use crate::config::NumpyRequest;
use crate::python::{InstallError, Installer, Interpreter, index_versions};

/// Resolves requests for any number of interpreters, fetching the index's
/// version list at most once per run.
pub struct Resolver<'a> {
    installer: &'a Installer,
    index: OnceCell<Result<Vec<Version>, InstallError>>,
}

/// One interpreter's axis, and what was asked for but has no wheel for it.
#[derive(Debug, Clone, Default)]
pub struct ResolvedAxis {
    pub entries: Vec<AxisEntry>,
    /// "1.25.* (from >=1.25,<2.1)": series in a range with no wheel here.
    pub skipped: Vec<String>,
}

impl<'a> Resolver<'a> {
    pub fn new(installer: &'a Installer) -> Resolver<'a> {
        Resolver {
            installer,
            index: OnceCell::new(),
        }
    }

    async fn index(&self, interpreter: &Interpreter) -> Result<Vec<Version>, InstallError> {
        self.index
            .get_or_init(|| index_versions(interpreter))
            .await
            .clone()
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
            NumpyRequest::Exact(_) | NumpyRequest::Series(_) | NumpyRequest::Latest => one(self
                .installer
                .resolve(interpreter, &request.requirement(), false)
                .await),
            NumpyRequest::Oldest => one(self.installer.resolve(interpreter, "numpy", true).await),
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
                        self.installer
                            .resolve(interpreter, &requirement, false)
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
    matches!(e, InstallError::Network { .. } | InstallError::Spawn { .. })
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
