//! The shape of `matrix.toml` exactly as written. Every table denies unknown
//! keys (a typo must not silently fall back to a default), and values that
//! need a meaning check later keep their span.

use serde::Deserialize;
use toml::Spanned;

use crate::outcome::{FailureReason, OutcomeKind};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawConfig {
    #[serde(default)]
    pub python: RawPython,
    pub numpy: Option<RawNumpy>,
    pub extension: Option<RawExtension>,
    #[serde(default)]
    pub run: RawRun,
    #[serde(default)]
    pub expect: Vec<RawExpect>,
}

/// A pyproject.toml: only `[tool.abimatrix]` is ours; every other table is
/// someone else's and passes unread.
#[derive(Debug, Deserialize)]
pub(super) struct RawPyproject {
    pub tool: Option<RawTool>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawTool {
    pub abimatrix: Option<RawConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawPython {
    pub interpreter: Option<Spanned<String>>,
    pub versions: Option<Spanned<Vec<Spanned<String>>>>,
    /// The interpreter that builds a limited-API extension.
    pub build: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawNumpy {
    pub build: Option<Spanned<Vec<Spanned<String>>>>,
    pub runtime: Option<Spanned<Vec<Spanned<String>>>>,
    /// "newest" (each minor series' newest release) or "all".
    pub patches: Option<Spanned<String>>,
    /// Whether ranges and "all" include pre-releases.
    pub prereleases: Option<bool>,
    pub index_url: Option<Spanned<String>>,
    pub extra_index_urls: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawExtension {
    pub module: Option<Spanned<String>>,
    pub sources: Option<Spanned<Vec<Spanned<String>>>>,
    pub project: Option<Spanned<String>>,
    pub wheels: Option<Spanned<Vec<Spanned<String>>>>,
    pub requirement: Option<Spanned<String>>,
    pub requirements: Option<Spanned<Vec<Spanned<String>>>>,
    pub imports: Option<Spanned<Vec<Spanned<String>>>>,
    pub probe: Option<Spanned<String>>,
    pub probe_file: Option<Spanned<String>>,
    pub test: Option<Spanned<String>>,
    pub test_requires: Option<Spanned<Vec<Spanned<String>>>>,
    pub extras: Option<Spanned<Vec<Spanned<String>>>>,
    pub cflags: Option<Spanned<Vec<String>>>,
    pub ldflags: Option<Spanned<Vec<String>>>,
    pub include_dirs: Option<Spanned<Vec<Spanned<String>>>>,
    pub libraries: Option<Spanned<Vec<Spanned<String>>>>,
    pub library_dirs: Option<Spanned<Vec<Spanned<String>>>>,
    /// `Py_LIMITED_API` as a Python version ("3.9"): build for the stable ABI.
    pub limited_api: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawRun {
    pub timeout: Option<Spanned<String>>,
    pub build_timeout: Option<Spanned<String>>,
    pub jobs: Option<Spanned<i64>>,
    pub isolation: Option<crate::probe::Isolation>,
    pub expect: Option<crate::expect::DefaultExpectation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawExpect {
    pub python: Option<Spanned<String>>,
    pub build: Option<Spanned<String>>,
    pub runtime: Option<Spanned<String>>,
    pub row: Option<Spanned<String>>,
    pub outcome: Spanned<OutcomeKind>,
    pub reason: Option<Spanned<FailureReason>>,
}
