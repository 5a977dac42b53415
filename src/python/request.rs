//! What the user asked for on the Python axis: a version ("3.12"), a range
//! (">=3.9,<3.14"), a path, or a command name; kept apart from where an
//! interpreter was found ([`super::PythonSource`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};

use super::Interpreter;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PythonRequest {
    /// "3.12" (any 3.12.x) or "3.12.1" (that release).
    Version(Version),
    /// One interpreter for each minor version in range.
    Range(VersionSpecifiers),
    /// An interpreter at this path (relative paths are relative to matrix.toml).
    Path(PathBuf),
    /// A command looked up on PATH ("python3", "python3.11").
    Name(String),
}

pub const PYTHON_EXPECTED: &str = "expected a version like \"3.12\", a range like \">=3.9,<3.14\", a path, or a command like \"python3\"";

/// Why a Python request could not be read; each says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PythonRequestError {
    #[error("empty Python request; {PYTHON_EXPECTED}")]
    Empty,
    #[error("invalid Python range \"{text}\" ({error}); {PYTHON_EXPECTED}")]
    Range {
        text: String,
        error: pep440_rs::VersionSpecifiersParseError,
    },
    #[error("invalid Python version \"{text}\" ({error}); {PYTHON_EXPECTED}")]
    Version {
        text: String,
        error: pep440_rs::VersionParseError,
    },
    #[error("invalid Python request \"{0}\"; {PYTHON_EXPECTED}")]
    Unknown(String),
}

impl PythonRequest {
    /// Parses `text`, resolving relative paths against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<PythonRequest, PythonRequestError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(PythonRequestError::Empty);
        }
        if t.contains('/') {
            let p = PathBuf::from(t);
            return Ok(PythonRequest::Path(if p.is_absolute() {
                p
            } else {
                base.join(p)
            }));
        }
        if t.starts_with(['<', '>', '=', '!', '~']) {
            let specs =
                VersionSpecifiers::from_str(t).map_err(|error| PythonRequestError::Range {
                    text: t.to_string(),
                    error,
                })?;
            return Ok(PythonRequest::Range(specs));
        }
        if t.starts_with(|c: char| c.is_ascii_digit()) {
            let v = Version::from_str(t).map_err(|error| PythonRequestError::Version {
                text: t.to_string(),
                error,
            })?;
            return Ok(PythonRequest::Version(v));
        }
        if t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
        {
            return Ok(PythonRequest::Name(t.to_string()));
        }
        Err(PythonRequestError::Unknown(t.to_string()))
    }

    /// Whether an interpreter whose name says `hint` ("3.14" for python3.14,
    /// "3.12.1" for pyenv's folder) could satisfy this request: only the
    /// candidates that could are run.
    pub fn could_be(&self, hint: &Version) -> bool {
        let h = hint.release();
        match self {
            PythonRequest::Version(want) => {
                let w = want.release();
                let n = w.len().min(h.len());
                w[..n] == h[..n]
            }
            PythonRequest::Range(specs) => {
                if h.len() >= 3 {
                    return specs.contains(hint);
                }
                // A minor version: any of its patches might be in range.
                let (major, minor) = (
                    h.first().copied().unwrap_or(0),
                    h.get(1).copied().unwrap_or(0),
                );
                specs.contains(&Version::new([major, minor, 0]))
                    || specs.contains(&Version::new([major, minor, 9999]))
                    || specs.iter().any(|s| {
                        let r = s.version().release();
                        r.len() >= 3 && r.starts_with(&[major, minor])
                    })
            }
            PythonRequest::Path(_) | PythonRequest::Name(_) => false,
        }
    }

    /// Whether a found interpreter satisfies a version or range request. A
    /// version says nothing of a free-threaded build ("3.13t"), which has
    /// an ABI and wheels of its own: it is named by its command
    /// (`python3.13t`) or path, never taken for "3.13".
    pub fn accepts(&self, interpreter: &Interpreter) -> bool {
        if interpreter.free_threaded {
            return false;
        }
        let found = &interpreter.version;
        match self {
            PythonRequest::Version(want) => {
                let (w, f) = (want.release(), found.release());
                f.len() >= w.len() && f[..w.len()] == *w
            }
            PythonRequest::Range(specs) => specs.contains(found),
            PythonRequest::Path(_) | PythonRequest::Name(_) => false,
        }
    }
}

impl fmt::Display for PythonRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PythonRequest::Version(v) => write!(f, "{v}"),
            PythonRequest::Range(s) => write!(f, "{s}"),
            PythonRequest::Path(p) => write!(f, "{}", p.display()),
            PythonRequest::Name(n) => f.write_str(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        let base = Path::new("/proj");
        assert!(matches!(
            PythonRequest::parse("3.12", base),
            Ok(PythonRequest::Version(_))
        ));
        assert!(matches!(
            PythonRequest::parse(">=3.9,<3.14", base),
            Ok(PythonRequest::Range(_))
        ));
        assert_eq!(
            PythonRequest::parse("venv/bin/python", base),
            Ok(PythonRequest::Path(PathBuf::from("/proj/venv/bin/python")))
        );
        assert_eq!(
            PythonRequest::parse("python3.11", base),
            Ok(PythonRequest::Name("python3.11".into()))
        );
        for bad in ["", "3.x", ">=3.x", "py thon"] {
            assert!(PythonRequest::parse(bad, base).is_err(), "{bad}");
        }
    }

    /// A free-threaded 3.13 (its recorded query answer) is not "3.13": it
    /// is a different ABI, kept apart unless named.
    #[test]
    fn a_version_never_means_a_free_threaded_build() {
        let base = Path::new("/");
        let recorded: Interpreter =
            serde_json::from_str(include_str!("testdata/cpython-3.13.0t.json")).unwrap();
        let mut gil = recorded.clone();
        gil.free_threaded = false;
        for request in ["3.13", "3.13.0", ">=3.9"] {
            let r = PythonRequest::parse(request, base).unwrap();
            assert!(r.accepts(&gil), "{request}");
            assert!(!r.accepts(&recorded), "{request}");
        }
    }

    #[test]
    fn names_that_say_another_version_are_not_candidates() {
        let base = Path::new("/");
        let v = |s: &str| Version::from_str(s).unwrap();
        let r = PythonRequest::parse("3.11", base).unwrap();
        assert!(r.could_be(&v("3.11")) && r.could_be(&v("3.11.7")));
        assert!(!r.could_be(&v("3.14")) && !r.could_be(&v("3.1")));
        let r = PythonRequest::parse(">=3.9,<3.14", base).unwrap();
        assert!(r.could_be(&v("3.13")) && !r.could_be(&v("3.14")) && !r.could_be(&v("3.8.18")));
        let r = PythonRequest::parse(">3.11.2,<3.11.5", base).unwrap();
        assert!(r.could_be(&v("3.11")), "a patch inside the range may exist");
    }
}
