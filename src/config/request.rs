//! What a user may ask for on a NumPy axis, before it meets a package index.
//!
//! `"1.26.4"` names one release; `"1.26.*"` names a series and is resolved
//! later to the newest release of it that has a wheel for the interpreter.
//! Keeping the request apart from the resolved version (as uv keeps
//! `PythonRequest` apart from where an interpreter was found) lets the grid
//! show what was really installed while errors quote what was written.

use std::fmt;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifier};

/// One entry of `numpy.build` or `numpy.runtime`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NumpyRequest {
    /// An exact release, installed as `numpy==X`.
    Exact(Version),
    /// A `X.Y.*` series: the newest release of it with a usable wheel.
    Series(Version),
}

impl NumpyRequest {
    /// The requirement string handed to the installer (`numpy==1.26.*`).
    pub fn requirement(&self) -> String {
        match self {
            NumpyRequest::Exact(v) => format!("numpy=={v}"),
            NumpyRequest::Series(v) => format!("numpy=={v}.*"),
        }
    }

    /// The version written in the request (the series prefix for `X.Y.*`):
    /// what `[[expect]]` ranges are matched against when nothing resolved.
    pub fn nominal(&self) -> &Version {
        match self {
            NumpyRequest::Exact(v) | NumpyRequest::Series(v) => v,
        }
    }

    /// Whether `version` is one this request could resolve to.
    pub fn matches(&self, version: &Version) -> bool {
        match self {
            NumpyRequest::Exact(v) => v == version,
            NumpyRequest::Series(prefix) => {
                VersionSpecifier::equals_star_version(prefix.clone()).contains(version)
            }
        }
    }
}

impl fmt::Display for NumpyRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumpyRequest::Exact(v) => write!(f, "{v}"),
            NumpyRequest::Series(v) => write!(f, "{v}.*"),
        }
    }
}

/// Why a string is not a NumPy request; shown after the config location.
pub const REQUEST_EXPECTED: &str =
    "expected an exact version like \"1.26.4\" or a series like \"1.26.*\"";

impl FromStr for NumpyRequest {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if let Some(prefix) = text.strip_suffix(".*") {
            let version = Version::from_str(prefix)
                .map_err(|e| format!("invalid version series \"{s}\" ({e}); {REQUEST_EXPECTED}"))?;
            return Ok(NumpyRequest::Series(version));
        }
        if text.contains(['<', '>', '=', '!', '~', ',', '*']) {
            return Err(format!(
                "\"{s}\" is a range; {REQUEST_EXPECTED} (ranges are not supported yet)"
            ));
        }
        let version = Version::from_str(text)
            .map_err(|e| format!("invalid version \"{s}\" ({e}); {REQUEST_EXPECTED}"))?;
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
    fn parses_exact_and_series() {
        assert_eq!("1.26.4".parse(), Ok(NumpyRequest::Exact(v("1.26.4"))));
        assert_eq!("1.26.*".parse(), Ok(NumpyRequest::Series(v("1.26"))));
        assert_eq!(
            "2.*".parse::<NumpyRequest>().unwrap().requirement(),
            "numpy==2.*"
        );
    }

    #[test]
    fn rejects_garbage_and_ranges_with_what_was_expected() {
        let err = "1.2x".parse::<NumpyRequest>().unwrap_err();
        assert!(err.contains("expected an exact version"), "{err}");
        let err = ">=1.23".parse::<NumpyRequest>().unwrap_err();
        assert!(err.contains("range"), "{err}");
        assert!("".parse::<NumpyRequest>().is_err());
    }

    #[test]
    fn series_matches_only_its_releases() {
        let r: NumpyRequest = "1.26.*".parse().unwrap();
        assert!(r.matches(&v("1.26.4")));
        assert!(!r.matches(&v("1.27.0")));
        assert!(!r.matches(&v("1.2.6")));
    }
}
