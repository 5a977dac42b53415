//! `-k/--select`: which cells of the grid to run, as nox's `-k` picks
//! sessions and pytest's picks tests.
//!
//! An expression is `[PYTHON/]BUILD[:RUNTIME]`. Each part is a glob over
//! the label (`2.0.*`, `pandas*`, `1.2?.4`), PEP 440 specifiers over the
//! version (`>=2`, `<2.1,!=2.0.0`), or empty / `*` for any. The Python part
//! also takes a version prefix (`3.12` is every 3.12.x). Several `-k` are
//! a union: a cell runs when any of them picks it.
//!
//! ```text
//! -k 2.0.2:1.26.*        built with 2.0.2, run under any 1.26
//! -k ':>=2'              every row, runtime NumPy 2 or newer
//! -k '3.12/<2:2.*'       on 3.12: 1.x builds under 2.x
//! -k 'pandas*'           the pandas rows of a package grid
//! ```

use std::fmt;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};

/// One part of a selector.
#[derive(Debug, Clone)]
enum Part {
    Any,
    Glob(glob::Pattern),
    Specs(VersionSpecifiers),
}

impl Part {
    fn parse(text: &str) -> Result<Part, String> {
        let t = text.trim();
        if t.is_empty() || t == "*" {
            return Ok(Part::Any);
        }
        if t.starts_with(['<', '>', '=', '!', '~']) {
            return VersionSpecifiers::from_str(t)
                .map(Part::Specs)
                .map_err(|e| format!("invalid version specifiers \"{t}\": {e}"));
        }
        glob::Pattern::new(t)
            .map(Part::Glob)
            .map_err(|e| format!("invalid pattern \"{t}\": {e}"))
    }

    /// Whether the part picks an axis entry with `label` (and `version`,
    /// for a NumPy release).
    fn picks(&self, label: &str, version: Option<&Version>) -> bool {
        match self {
            Part::Any => true,
            Part::Glob(g) => g.matches(label),
            Part::Specs(s) => version.is_some_and(|v| s.contains(v)),
        }
    }
}

/// One `-k` expression.
#[derive(Debug, Clone)]
pub struct Selector {
    text: String,
    python: Part,
    build: Part,
    runtime: Part,
}

/// What a selector is shown: a cell by its labels and versions.
pub struct CellView<'a> {
    pub python: &'a Version,
    pub build: &'a str,
    pub build_version: Option<&'a Version>,
    pub runtime: &'a str,
    pub runtime_version: Option<&'a Version>,
}

impl Selector {
    pub fn picks(&self, cell: &CellView<'_>) -> bool {
        let python = match &self.python {
            // "3.12" is a prefix: every 3.12.x.
            Part::Glob(g) if !g.as_str().contains(['*', '?', '[']) => {
                let want: Vec<&str> = g.as_str().split('.').collect();
                let have = cell.python.to_string();
                let have: Vec<&str> = have.split('.').collect();
                have.len() >= want.len() && have[..want.len()] == want[..]
            }
            other => other.picks(&cell.python.to_string(), Some(cell.python)),
        };
        python
            && self.build.picks(cell.build, cell.build_version)
            && self.runtime.picks(cell.runtime, cell.runtime_version)
    }
}

impl FromStr for Selector {
    type Err = String;

    fn from_str(text: &str) -> Result<Selector, String> {
        let (python, rest) = match text.split_once('/') {
            // A '/' inside specifiers or a glob is not the Python separator
            // only if the left side cannot be a Python part; keep it simple:
            // the first '/' separates.
            Some((py, rest)) => (Part::parse(py)?, rest),
            None => (Part::Any, text),
        };
        let (build, runtime) = match rest.split_once(':') {
            Some((b, r)) => (Part::parse(b)?, Part::parse(r)?),
            None => (Part::parse(rest)?, Part::Any),
        };
        Ok(Selector {
            text: text.to_string(),
            python,
            build,
            runtime,
        })
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    fn picks(expr: &str, py: &str, build: &str, runtime: &str) -> bool {
        let (p, b, r) = (v(py), build.parse().ok(), runtime.parse().ok());
        expr.parse::<Selector>().unwrap().picks(&CellView {
            python: &p,
            build,
            build_version: b.as_ref(),
            runtime,
            runtime_version: r.as_ref(),
        })
    }

    #[test]
    fn globs_specifiers_and_prefixes() {
        assert!(picks("2.0.2:1.26.*", "3.11.7", "2.0.2", "1.26.4"));
        assert!(!picks("2.0.2:1.26.*", "3.11.7", "2.0.2", "2.0.2"));
        assert!(picks(":>=2", "3.11.7", "1.26.4", "2.4.6"));
        assert!(!picks(":>=2", "3.11.7", "1.26.4", "1.26.4"));
        assert!(picks("3.12/<2:2.*", "3.12.1", "1.26.4", "2.0.2"));
        assert!(!picks("3.12/<2:2.*", "3.11.7", "1.26.4", "2.0.2"));
        assert!(
            !picks("3.1/", "3.11.7", "1.26.4", "2.0.2"),
            "3.1 is not a prefix of 3.11"
        );
        assert!(picks("pandas*", "3.11.7", "pandas 2.0.3", "2.0.2"));
        assert!(
            !picks(">=2", "3.11.7", "pandas 2.0.3", "2.0.2"),
            "a row has no NumPy version"
        );
        assert!(picks("*", "3.11.7", "x", "y") && picks("", "3.11.7", "x", "y"));
    }

    #[test]
    fn bad_expressions_say_why() {
        assert!(
            "<<2"
                .parse::<Selector>()
                .unwrap_err()
                .contains("invalid version specifiers")
        );
        assert!(
            ":[".parse::<Selector>()
                .unwrap_err()
                .contains("invalid pattern")
        );
    }
}
