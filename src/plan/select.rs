//! From `[python]` requests to the interpreters a run uses. A command name
//! or path is run directly (fast, no search); versions and ranges search the
//! machine once. A request that matches nothing stops the run before any
//! work, naming what was found.

use std::path::Path;

use crate::cache::memo::Memo;
use crate::config::Located;
use crate::python::{
    self, Discovery, Found, InterpreterError, NoMatch, PythonRequest, PythonSource, SearchRoots, Uv,
};

#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error(transparent)]
    Interpreter(#[from] InterpreterError),
    #[error(transparent)]
    NoMatch(#[from] NoMatch),
}

impl SelectError {
    pub fn hint(&self) -> &'static str {
        match self {
            SelectError::Interpreter(e) => e.hint(),
            SelectError::NoMatch(_) => {
                "`matrix pythons` lists every interpreter found and why others were rejected; install the missing one (e.g. with pyenv or uv python install)"
            }
        }
    }
}

/// The interpreters for `requests`, in order, each at most once; on error,
/// the request that found nothing.
pub async fn select_interpreters<'r>(
    requests: &'r [Located<PythonRequest>],
    cache_root: &Path,
    memo: &Memo,
) -> Result<Vec<Found>, (&'r Located<PythonRequest>, SelectError)> {
    let mut discovery: Option<Discovery> = None;
    let mut out: Vec<Found> = Vec::new();
    // Discovery looks for what every version request could use, at once.
    let searched: Vec<PythonRequest> = requests
        .iter()
        .map(|r| r.value.clone())
        .filter(|r| matches!(r, PythonRequest::Version(_) | PythonRequest::Range(_)))
        .collect();
    for request in requests {
        let chosen = select_one(&request.value, cache_root, memo, &searched, &mut discovery)
            .await
            .map_err(|e| (request, e))?;
        for f in chosen {
            if !out
                .iter()
                .any(|o| o.interpreter.executable == f.interpreter.executable)
            {
                out.push(f);
            }
        }
    }
    Ok(out)
}

async fn select_one(
    request: &PythonRequest,
    cache_root: &Path,
    memo: &Memo,
    searched: &[PythonRequest],
    discovery: &mut Option<Discovery>,
) -> Result<Vec<Found>, SelectError> {
    Ok(match request {
        PythonRequest::Name(name) => {
            let interpreter = python::find(name, memo).await?;
            vec![Found {
                path: interpreter.executable.clone(),
                source: PythonSource::SearchPath,
                interpreter,
            }]
        }
        PythonRequest::Path(path) => {
            let interpreter = python::find(&path.to_string_lossy(), memo).await?;
            vec![Found {
                path: path.clone(),
                source: PythonSource::Explicit,
                interpreter,
            }]
        }
        PythonRequest::Version(_) | PythonRequest::Range(_) => {
            if discovery.is_none() {
                let roots = SearchRoots::from_env(Uv::locate(cache_root));
                *discovery = Some(python::discover_for(&roots, memo, searched).await);
            }
            match discovery {
                Some(d) => d.select(request)?,
                None => Vec::new(),
            }
        }
    })
}
