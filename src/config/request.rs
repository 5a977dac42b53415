//! What a user may ask for on a NumPy axis, before it meets a package index.
//!
//! `"1.26.4"` names one release; `"1.26.*"` a series, resolved to its newest
//! release with a wheel for the interpreter; `">=1.23,<3"` a range, expanded
//! to the newest release of every minor series in it that has such a wheel;
//! `"oldest"` and `"latest"` the oldest and newest releases with one;
//! `"all"` every release with one; `"next"` the newest pre-release newer
//! than every release (NumPy's next version, when it is in testing); a path
//! to a `.whl` (a glob, relative to the config) a NumPy built locally.
//! Keeping the request apart from the resolved versions (as uv keeps
//! `PythonRequest` apart from where an interpreter was found) lets the grid
//! show what was really installed while errors quote what was written.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifier, VersionSpecifiers};

/// One entry of `numpy.build` or `numpy.runtime`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NumpyRequest {
    /// An exact release, installed as `numpy==X`.
    Exact(Version),
    /// A `X.Y.*` series: the newest release of it with a usable wheel.
    Series(Version),
    /// PEP 440 specifiers: the newest release of each minor series in range.
    Range(VersionSpecifiers),
    /// The oldest release with a wheel for the interpreter.
    Oldest,
    /// The newest release with a wheel for the interpreter.
    Latest,
    /// Every release with a wheel for the interpreter.
    All,
    /// The newest pre-release newer than the newest release, if any.
    Next,
    /// Local wheel files (an absolute path, maybe a glob): the one that fits
    /// the interpreter.
    Wheel(PathBuf),
}

/// Which releases of a range (or `all`) a grid takes: the newest patch of
/// each minor series (the default), or every release.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Patches {
    #[default]
    Newest,
    All,
}

/// How `[numpy]` requests are resolved, beyond the requests themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    pub patches: Patches,
    /// Ranges and `all` include pre-releases (`prereleases = true`).
    pub prereleases: bool,
}

impl NumpyRequest {
    /// The requirement string handed to the installer for requests that
    /// resolve to one version (`numpy==1.26.*`); ranges are expanded first.
    pub fn requirement(&self) -> String {
        match self {
            NumpyRequest::Exact(v) => format!("numpy=={v}"),
            NumpyRequest::Series(v) => format!("numpy=={v}.*"),
            NumpyRequest::Range(s) => format!("numpy{s}"),
            NumpyRequest::Oldest | NumpyRequest::Latest | NumpyRequest::All => "numpy".to_string(),
            NumpyRequest::Next => "numpy --pre".to_string(),
            NumpyRequest::Wheel(p) => p.display().to_string(),
        }
    }

    /// The version written in the request (the series prefix for `X.Y.*`,
    /// the lowest version a range names), what `[[expect]]` ranges are
    /// matched against when nothing resolved; `oldest` and `latest` name
    /// none.
    pub fn nominal(&self) -> Option<Version> {
        match self {
            NumpyRequest::Exact(v) | NumpyRequest::Series(v) => Some(v.clone()),
            NumpyRequest::Range(s) => s.iter().map(|s| s.version().clone()).min(),
            NumpyRequest::Oldest
            | NumpyRequest::Latest
            | NumpyRequest::All
            | NumpyRequest::Next
            | NumpyRequest::Wheel(_) => None,
        }
    }

    /// Whether `version` is one this request could resolve to.
    pub fn matches(&self, version: &Version) -> bool {
        match self {
            NumpyRequest::Exact(v) => v == version,
            NumpyRequest::Series(prefix) => {
                VersionSpecifier::equals_star_version(prefix.clone()).contains(version)
            }
            NumpyRequest::Range(s) => s.contains(version),
            NumpyRequest::Oldest | NumpyRequest::Latest | NumpyRequest::All => true,
            NumpyRequest::Next => version.any_prerelease(),
            NumpyRequest::Wheel(_) => false,
        }
    }
}

impl fmt::Display for NumpyRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumpyRequest::Exact(v) => write!(f, "{v}"),
            NumpyRequest::Series(v) => write!(f, "{v}.*"),
            NumpyRequest::Range(s) => write!(f, "{s}"),
            NumpyRequest::Oldest => f.write_str("oldest"),
            NumpyRequest::Latest => f.write_str("latest"),
            NumpyRequest::All => f.write_str("all"),
            NumpyRequest::Next => f.write_str("next"),
            NumpyRequest::Wheel(p) => match p.file_name() {
                Some(name) => write!(f, "{}", name.to_string_lossy()),
                None => write!(f, "{}", p.display()),
            },
        }
    }
}

/// Why a string is not a NumPy request; shown after the config location.
pub const REQUEST_EXPECTED: &str = "expected an exact version like \"1.26.4\", a series like \"1.26.*\", a range like \">=1.23,<3\", \"oldest\", \"latest\", \"all\", \"next\" or a path to a .whl";

/// Why a string is not a NumPy request, with what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumpyRequestError {
    #[error("invalid version range \"{text}\" ({error}); {REQUEST_EXPECTED}")]
    Range {
        text: String,
        error: pep440_rs::VersionSpecifiersParseError,
    },
    #[error("empty version range \"{0}\"; {REQUEST_EXPECTED}")]
    EmptyRange(String),
    #[error("invalid version series \"{text}\" ({error}); {REQUEST_EXPECTED}")]
    Series {
        text: String,
        error: pep440_rs::VersionParseError,
    },
    #[error("invalid version \"{text}\" ({error}); {REQUEST_EXPECTED}")]
    Version {
        text: String,
        error: pep440_rs::VersionParseError,
    },
}

impl FromStr for NumpyRequest {
    type Err = NumpyRequestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        match text {
            "oldest" => return Ok(NumpyRequest::Oldest),
            "latest" => return Ok(NumpyRequest::Latest),
            "all" => return Ok(NumpyRequest::All),
            "next" => return Ok(NumpyRequest::Next),
            _ => {}
        }
        // Relative to the config: made absolute by the config's parser.
        if text.ends_with(".whl") {
            return Ok(NumpyRequest::Wheel(PathBuf::from(text)));
        }
        if text.starts_with(['<', '>', '=', '!', '~']) {
            let specs =
                VersionSpecifiers::from_str(text).map_err(|error| NumpyRequestError::Range {
                    text: s.to_string(),
                    error,
                })?;
            if specs.is_empty() {
                return Err(NumpyRequestError::EmptyRange(s.to_string()));
            }
            return Ok(NumpyRequest::Range(specs));
        }
        if let Some(prefix) = text.strip_suffix(".*") {
            let version = Version::from_str(prefix).map_err(|error| NumpyRequestError::Series {
                text: s.to_string(),
                error,
            })?;
            return Ok(NumpyRequest::Series(version));
        }
        let version = Version::from_str(text).map_err(|error| NumpyRequestError::Version {
            text: s.to_string(),
            error,
        })?;
        Ok(NumpyRequest::Exact(version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    #[test]
    fn parses_every_kind() {
        assert_eq!("1.26.4".parse(), Ok(NumpyRequest::Exact(v("1.26.4"))));
        assert_eq!("1.26.*".parse(), Ok(NumpyRequest::Series(v("1.26"))));
        assert_eq!("oldest".parse(), Ok(NumpyRequest::Oldest));
        assert_eq!(" latest ".parse(), Ok(NumpyRequest::Latest));
        let r: NumpyRequest = ">=1.23,<3".parse().unwrap();
        assert!(matches!(r, NumpyRequest::Range(_)));
        assert_eq!(r.nominal(), Some(v("1.23")));
        assert_eq!(NumpyRequest::Latest.nominal(), None);
        assert_eq!(
            "2.*".parse::<NumpyRequest>().unwrap().requirement(),
            "numpy==2.*"
        );
    }

    #[test]
    fn rejects_garbage_with_what_was_expected() {
        for bad in ["1.2x", "", ">=1.2x", "newest"] {
            let err = bad.parse::<NumpyRequest>().unwrap_err().to_string();
            assert!(err.contains("expected an exact version"), "{bad}: {err}");
        }
    }

    #[test]
    fn requests_match_only_their_releases() {
        let r: NumpyRequest = "1.26.*".parse().unwrap();
        assert!(r.matches(&v("1.26.4")));
        assert!(!r.matches(&v("1.27.0")));
        assert!(!r.matches(&v("1.2.6")));
        let r: NumpyRequest = ">=1.23,<2".parse().unwrap();
        assert!(r.matches(&v("1.26.4")) && !r.matches(&v("2.0.0")) && !r.matches(&v("1.22.4")));
    }
}
