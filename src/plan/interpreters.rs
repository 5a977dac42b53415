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

/// `--python` asked for Pythons the config does not list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--python {} matches none of the Pythons the config lists ({})", asked.join(" "), listed.join(", "))]
pub struct NarrowError {
    pub asked: Vec<String>,
    pub listed: Vec<String>,
}

impl NarrowError {
    pub fn hint(&self) -> &'static str {
        "--python narrows the Pythons of the config's [python]; drop it, or add the Python there"
    }
}

/// The interpreters for `requests` (each with the index of its Python in
/// the units), in order, each at most once; on error, the request that
/// found nothing.
pub async fn select_interpreters<'r>(
    requests: &'r [(usize, Located<PythonRequest>)],
    cache_root: &Path,
    memo: &Memo,
) -> Result<Vec<(usize, Found)>, (&'r Located<PythonRequest>, SelectError)> {
    let mut discovery: Option<Discovery> = None;
    let mut out: Vec<(usize, Found)> = Vec::new();
    // Discovery looks for what every version request could use, at once.
    let searched: Vec<PythonRequest> = requests
        .iter()
        .map(|(_, r)| r.value.clone())
        .filter(|r| matches!(r, PythonRequest::Version(_) | PythonRequest::Range(_)))
        .collect();
    for (unit, request) in requests {
        let chosen = select_one(&request.value, cache_root, memo, &searched, &mut discovery)
            .await
            .map_err(|e| (request, e))?;
        for f in chosen {
            if !out
                .iter()
                .any(|(_, o)| o.interpreter.executable == f.interpreter.executable)
            {
                out.push((*unit, f));
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
            match discovery.as_ref().map(|d| d.select(request)) {
                Some(Ok(found)) => found,
                // Nothing matched: say what there is, all of it. The
                // search above ran only the candidates whose names could
                // match; this one runs every candidate, as `matrix
                // pythons` does (their answers are remembered).
                Some(Err(none)) => {
                    let roots = SearchRoots::from_env(Uv::locate(cache_root));
                    let everything = python::discover(&roots, memo).await;
                    return Err(none.listing(&everything).into());
                }
                None => Vec::new(),
            }
        }
    })
}

/// The Python requests of a run: the config's, narrowed by `--python`
/// (tox's and nox's habit), and the names shards are cut over.
#[derive(Debug, Clone)]
pub struct PythonChoice {
    /// Each request with the index of its Python among `names`.
    pub requests: Vec<(usize, Located<PythonRequest>)>,
    /// The Pythons units are made of (see [`super::shard`]), as narrowed:
    /// `matrix plan` and `matrix run` given the same `--python` agree.
    pub names: Vec<String>,
    /// Command-line versions and ranges every chosen interpreter must
    /// satisfy (a config's `python3` is only known to be 3.12 once run).
    pub filter: Vec<PythonRequest>,
}

/// What `--python` leaves of the config's Python requests. With no
/// `[python]` in the config (the default `python3`), or a command or path
/// on the command line, the command line replaces them; otherwise it
/// narrows them: a config "3.12" stays for `--python 3.12` and goes for
/// `--python 3.11`, a config range ">=3.10" becomes "3.12". `Err` when
/// nothing is left, with what the config has.
pub fn narrow(
    config: &[Located<PythonRequest>],
    cli: &[PythonRequest],
) -> Result<PythonChoice, NarrowError> {
    let names = |rs: &mut dyn Iterator<Item = &PythonRequest>| rs.map(|r| r.to_string()).collect();
    let written = config.iter().any(|r| r.span.is_some());
    let concrete = |r: &PythonRequest| matches!(r, PythonRequest::Name(_) | PythonRequest::Path(_));
    if cli.is_empty() {
        return Ok(PythonChoice {
            requests: config.iter().cloned().enumerate().collect(),
            names: names(&mut config.iter().map(|r| &r.value)),
            filter: Vec::new(),
        });
    }
    if !written || cli.iter().any(concrete) {
        return Ok(PythonChoice {
            requests: cli
                .iter()
                .map(|r| Located {
                    value: r.clone(),
                    span: None,
                })
                .enumerate()
                .collect(),
            names: names(&mut cli.iter()),
            filter: Vec::new(),
        });
    }
    let mut requests = Vec::new();
    for c in config {
        let narrowed = cli.iter().find_map(|want| narrow_one(&c.value, want));
        if let Some(value) = narrowed {
            requests.push((
                requests.len(),
                Located {
                    value,
                    span: c.span.clone(),
                },
            ));
        }
    }
    if requests.is_empty() {
        return Err(NarrowError {
            asked: names(&mut cli.iter()),
            listed: names(&mut config.iter().map(|r| &r.value)),
        });
    }
    Ok(PythonChoice {
        names: names(&mut requests.iter().map(|(_, r)| &r.value)),
        requests,
        filter: cli.to_vec(),
    })
}

/// `config` narrowed by the version or range `want`, if they can meet.
fn narrow_one(config: &PythonRequest, want: &PythonRequest) -> Option<PythonRequest> {
    use PythonRequest::{Name, Path, Range, Version};
    match (config, want) {
        // One is a prefix of the other: the longer (more precise) one.
        (Version(c), Version(w)) => config.could_be(w).then(|| {
            if w.release().len() > c.release().len() {
                want
            } else {
                config
            }
            .clone()
        }),
        (Range(_), Version(w)) => config.could_be(w).then(|| want.clone()),
        (Version(c), Range(_)) => want.could_be(c).then(|| config.clone()),
        // Known only once found: kept, and filtered after.
        (Range(_) | Name(_) | Path(_), Range(_)) | (Name(_) | Path(_), Version(_)) => {
            Some(config.clone())
        }
        (_, Name(_) | Path(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requests(items: &[&str]) -> Vec<PythonRequest> {
        items
            .iter()
            .map(|s| PythonRequest::parse(s, Path::new("/p")).unwrap())
            .collect()
    }

    fn located(items: &[&str]) -> Vec<Located<PythonRequest>> {
        requests(items)
            .into_iter()
            .map(|value| Located {
                value,
                span: Some(0..1),
            })
            .collect()
    }

    fn chosen(c: &PythonChoice) -> Vec<(usize, String)> {
        c.requests
            .iter()
            .map(|(i, r)| (*i, r.value.to_string()))
            .collect()
    }

    #[test]
    fn the_command_line_narrows_what_the_config_lists() {
        let config = located(&["3.11", "3.12", ">=3.9,<3.11"]);
        let c = narrow(&config, &requests(&["3.12"])).unwrap();
        assert_eq!(chosen(&c), [(0, "3.12".to_string())]);
        assert_eq!(c.names, ["3.12"]);
        let c = narrow(&config, &requests(&["3.10", "3.11"])).unwrap();
        assert_eq!(
            chosen(&c),
            [(0, "3.11".to_string()), (1, "3.10".to_string())],
            "config order; a range narrows to the version"
        );
        let c = narrow(&config, &requests(&["3.12.4"])).unwrap();
        assert_eq!(chosen(&c), [(0, "3.12.4".to_string())]);
        assert_eq!(
            c.filter.len(),
            1,
            "and what was found is checked against it"
        );
        let e = narrow(&config, &requests(&["3.8"])).unwrap_err();
        assert_eq!(e.asked, ["3.8"]);
        assert_eq!(
            e.to_string(),
            "--python 3.8 matches none of the Pythons the config lists (3.11, 3.12, >=3.9, <3.11)"
        );
    }

    #[test]
    fn the_command_line_replaces_the_default_python() {
        let default = vec![Located {
            value: PythonRequest::Name("python3".into()),
            span: None,
        }];
        let c = narrow(&default, &requests(&["3.12", "3.13"])).unwrap();
        assert_eq!(
            chosen(&c),
            [(0, "3.12".to_string()), (1, "3.13".to_string())]
        );
        assert_eq!(c.names, ["3.12", "3.13"]);
        assert!(c.filter.is_empty());
        let c = narrow(&default, &[]).unwrap();
        assert_eq!(chosen(&c), [(0, "python3".to_string())]);
    }
}
