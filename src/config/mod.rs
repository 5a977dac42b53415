//! `matrix.toml`: raw serde types in, a checked [`Config`] out.
//!
//! Parsing happens in two steps, as in nextest: serde turns the text into
//! [`raw`] types (rejecting unknown keys and wrong types with a span), then
//! [`Config::from_raw`] checks meaning (versions, paths, ranges) using the
//! `toml::Spanned` values kept for exactly that purpose. Either way the error
//! names the file, line and column and says what was expected.

mod diagnostic;
mod raw;
mod request;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use pep440_rs::{Version, VersionSpecifiers};
use toml::Spanned;

pub use diagnostic::ConfigError;
pub use request::NumpyRequest;

use crate::extension::{Extension, ExtensionKind, RowSource, SourceFile};
use crate::outcome::{FailureReason, OutcomeKind};
use crate::probe::Isolation;
use crate::python::PythonRequest;

/// The file `matrix init` writes, and the repository's own default matrix.
pub const STARTER: &str = include_str!("../../matrix.toml");

/// The default per-cell limit: a probe imports NumPy and calls one function,
/// so anything near this is a hang, not a slow machine.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A checked `matrix.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    /// The file's text, for errors found after parsing (at run time).
    pub text: std::sync::Arc<str>,
    /// Where each request was written (`None`: the default `python3`), so a
    /// Python or NumPy that turns out not to exist is located in the file.
    pub python_spans: Vec<Option<Span>>,
    pub build_spans: Vec<Span>,
    pub runtime_spans: Vec<Span>,
    /// The interpreters to run the grid under, in order; never empty.
    pub python: Vec<PythonRequest>,
    pub build: Vec<NumpyRequest>,
    pub runtime: Vec<NumpyRequest>,
    pub extension: Extension,
    pub timeout: Duration,
    /// `None`: as many as the machine has cores.
    pub jobs: Option<usize>,
    pub isolation: Isolation,
    /// `run.expect`: the default expectation.
    pub prediction: Prediction,
    pub expectations: Vec<Expectation>,
}

/// What a cell is expected to do when no `[[expect]]` table says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Prediction {
    /// Every cell passes.
    #[default]
    Pass,
    /// NumPy's published ABI/API rules (see `rules.rs`).
    NumpyRules,
}

/// One `[[expect]]` table: cells whose versions match get this outcome.
#[derive(Debug, Clone)]
pub struct Expectation {
    pub python: Option<VersionSpecifiers>,
    pub build: Option<VersionSpecifiers>,
    pub runtime: Option<VersionSpecifiers>,
    pub outcome: OutcomeKind,
    pub reason: Option<FailureReason>,
    /// Where it was written, so a report can say which rule applied.
    pub line: usize,
}

/// What a cell is expected to do, and which rule said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub outcome: OutcomeKind,
    pub reason: Option<FailureReason>,
    /// The `[[expect]]` line, or `None` for the default.
    pub line: Option<usize>,
    /// "numpy-rules" when predicted from NumPy's rules rather than written.
    pub source: Option<&'static str>,
}

impl Expected {
    pub fn is_met_by(&self, outcome: OutcomeKind, reason: Option<FailureReason>) -> bool {
        self.outcome == outcome && (self.reason.is_none() || self.reason == reason)
    }
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::whole_file(path, format!("cannot read the file: {e}")))?;
        Config::parse(path, &text)
    }

    /// Checks `text` as if read from `path` (relative paths in it are
    /// relative to `path`'s directory).
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let raw: raw::RawConfig = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            ConfigError::at(path, text, span, e.message().trim_end().to_string())
        })?;
        Config::from_raw(path, text, raw)
    }

    fn from_raw(path: &Path, text: &str, raw: raw::RawConfig) -> Result<Config, ConfigError> {
        let err =
            |span: std::ops::Range<usize>, msg: String| ConfigError::at(path, text, span, msg);
        let base = path.parent().unwrap_or(Path::new("."));

        let (python, python_spans): (Vec<_>, Vec<_>) =
            python_requests(raw.python, base, &err)?.into_iter().unzip();

        let numpy = raw.numpy.ok_or_else(|| {
            err(
                0..0,
                "missing table [numpy]: expected `build = [...]` and `runtime = [...]` lists of NumPy versions".into(),
            )
        })?;
        let extension = match raw.extension {
            None => Extension::sample(),
            Some(ext) => custom_extension(ext, base, &err)?,
        };
        let (build, build_spans) = if extension.has_build_axis() {
            requests(&numpy.build, "build", &err)?
        } else {
            if let Some(b) = &numpy.build {
                return Err(err(
                    b.span(),
                    "wheels have no build axis: drop numpy.build (each wheel or requirement is a row)".into(),
                ));
            }
            (Vec::new(), Vec::new())
        };
        let (runtime, runtime_spans) = requests(&numpy.runtime, "runtime", &err)?;

        let timeout = match raw.run.timeout {
            None => DEFAULT_TIMEOUT,
            Some(t) => {
                let d = humantime::parse_duration(t.get_ref()).map_err(|e| {
                    err(
                        t.span(),
                        format!("invalid timeout \"{}\" ({e}): expected a duration like \"30s\" or \"2m\"", t.get_ref()),
                    )
                })?;
                if d.is_zero() {
                    return Err(err(t.span(), "timeout must be longer than zero".into()));
                }
                d
            }
        };

        let jobs = match raw.run.jobs {
            None => None,
            Some(j) => match usize::try_from(*j.get_ref()) {
                Ok(0) => None,
                Ok(n) => Some(n),
                Err(_) => {
                    return Err(err(
                        j.span(),
                        "jobs must be a whole number of parallel jobs, 0 for one per core".into(),
                    ));
                }
            },
        };

        let mut expectations = Vec::new();
        for e in raw.expect {
            // The table's first key stands for the table (serde gives no span
            // for the `[[expect]]` header itself).
            let first = [&e.python, &e.build, &e.runtime]
                .into_iter()
                .filter_map(|s| s.as_ref().map(|s| s.span().start))
                .chain([e.outcome.span().start])
                .min()
                .unwrap_or(0);
            let line = text[..first.min(text.len())].matches('\n').count() + 1;
            let spec =
                |s: &Option<Spanned<String>>| -> Result<Option<VersionSpecifiers>, ConfigError> {
                    s.as_ref()
                    .map(|s| {
                        VersionSpecifiers::from_str(s.get_ref()).map_err(|e| {
                            err(
                                s.span(),
                                format!("invalid version range \"{}\": {e}; expected PEP 440 specifiers like \"<2\" or \">=1.25,<2.1\"", s.get_ref()),
                            )
                        })
                    })
                    .transpose()
                };
            let (python, build, runtime) = (spec(&e.python)?, spec(&e.build)?, spec(&e.runtime)?);
            let outcome = e.outcome.into_inner();
            if let Some(r) = &e.reason
                && outcome != OutcomeKind::Fail
            {
                return Err(err(
                    r.span(),
                    format!("a reason only applies to outcome = \"fail\", not \"{outcome}\""),
                ));
            }
            expectations.push(Expectation {
                python,
                build,
                runtime,
                outcome,
                reason: e.reason.map(Spanned::into_inner),
                line,
            });
        }

        Ok(Config {
            path: path.to_path_buf(),
            text: text.into(),
            python_spans,
            build_spans,
            runtime_spans,
            python,
            build,
            runtime,
            extension,
            timeout,
            jobs,
            isolation: raw.run.isolation.unwrap_or_default(),
            prediction: raw.run.expect.unwrap_or_default(),
            expectations,
        })
    }

    /// An error about the file found after parsing, at `span`.
    pub fn error_at(&self, span: Span, message: impl Into<String>) -> ConfigError {
        ConfigError::at(&self.path, &self.text, span, message)
    }

    /// Where NumPy request `request` of `axis` ("build"/"runtime") was written.
    pub fn numpy_span(&self, axis: &str, request: &str) -> Option<Span> {
        let (requests, spans) = match axis {
            "build" => (&self.build, &self.build_spans),
            _ => (&self.runtime, &self.runtime_spans),
        };
        requests
            .iter()
            .position(|r| r.to_string() == request)
            .and_then(|i| spans.get(i).cloned())
    }

    /// Identifies the matrix: what decides which cells exist and what they
    /// run (Pythons, NumPy requests, the extension), not how results are
    /// judged or shown. Shards of one matrix share it.
    pub fn matrix_id(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.python.iter().map(|p| format!("python {p}")));
        parts.extend(self.build.iter().map(|r| format!("build {r}")));
        parts.extend(self.runtime.iter().map(|r| format!("runtime {r}")));
        parts.push(self.extension.label());
        parts.extend(self.extension.imports.iter().cloned());
        parts.extend(self.extension.test.iter().cloned());
        for s in &self.extension.sources {
            parts.push(s.name.clone());
            parts.push(s.contents.clone());
        }
        parts.push(self.extension.probe.clone());
        parts.extend(self.extension.cflags.iter().cloned());
        crate::cache::digest(parts)
    }

    /// The expectation for a cell under Python `python`; later `[[expect]]`
    /// tables override earlier ones. A row of published code has no build
    /// NumPy (`build` is `None`): only tables that say nothing of `build`
    /// apply to it.
    pub fn expected(
        &self,
        python: &Version,
        build: Option<&Version>,
        runtime: &Version,
    ) -> Expected {
        let fits = |spec: &Option<VersionSpecifiers>, v: &Version| {
            spec.as_ref().is_none_or(|s| s.contains(v))
        };
        let fits_build = |spec: &Option<VersionSpecifiers>| match build {
            Some(v) => fits(spec, v),
            None => spec.is_none(),
        };
        self.expectations
            .iter()
            .rev()
            .find(|e| fits(&e.python, python) && fits_build(&e.build) && fits(&e.runtime, runtime))
            .map(|e| Expected {
                outcome: e.outcome,
                reason: e.reason,
                line: Some(e.line),
                source: None,
            })
            .unwrap_or_else(|| match (self.prediction, build) {
                (Prediction::NumpyRules, Some(build)) => {
                    crate::rules::predict(build, runtime, &self.extension.cflags)
                }
                _ => Expected {
                    outcome: OutcomeKind::Pass,
                    reason: None,
                    line: None,
                    source: None,
                },
            })
    }
}

fn python_requests(
    raw: raw::RawPython,
    base: &Path,
    err: &impl Fn(std::ops::Range<usize>, String) -> ConfigError,
) -> Result<Vec<(PythonRequest, Option<Span>)>, ConfigError> {
    match (raw.interpreter, raw.versions) {
        (Some(_), Some(v)) => Err(err(
            v.span(),
            "give either python.interpreter or python.versions, not both".into(),
        )),
        (Some(i), None) => Ok(vec![(
            PythonRequest::parse(i.get_ref(), base).map_err(|m| err(i.span(), m))?,
            Some(i.span()),
        )]),
        (None, Some(list)) => {
            if list.get_ref().is_empty() {
                return Err(err(
                    list.span(),
                    "python.versions is empty: expected at least one Python, like [\"3.12\"]"
                        .into(),
                ));
            }
            list.get_ref()
                .iter()
                .map(|item| {
                    PythonRequest::parse(item.get_ref(), base)
                        .map(|r| (r, Some(item.span())))
                        .map_err(|m| err(item.span(), m))
                })
                .collect()
        }
        (None, None) => Ok(vec![(PythonRequest::Name("python3".into()), None)]),
    }
}

type Span = std::ops::Range<usize>;

fn requests(
    list: &Option<Spanned<Vec<Spanned<String>>>>,
    axis: &str,
    err: &impl Fn(std::ops::Range<usize>, String) -> ConfigError,
) -> Result<(Vec<NumpyRequest>, Vec<Span>), ConfigError> {
    let Some(list) = list else {
        return Err(err(
            0..0,
            format!(
                "missing numpy.{axis}: expected a list of NumPy versions like [\"1.26.*\", \"2.0.2\"]"
            ),
        ));
    };
    if list.get_ref().is_empty() {
        return Err(err(
            list.span(),
            format!("numpy.{axis} is empty: expected at least one NumPy version"),
        ));
    }
    let mut out: Vec<NumpyRequest> = Vec::new();
    let mut spans = Vec::new();
    for item in list.get_ref() {
        let request = NumpyRequest::from_str(item.get_ref()).map_err(|m| err(item.span(), m))?;
        if out.contains(&request) {
            return Err(err(
                item.span(),
                format!("\"{request}\" is listed twice in numpy.{axis}"),
            ));
        }
        out.push(request);
        spans.push(item.span());
    }
    Ok((out, spans))
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn custom_extension(
    ext: raw::RawExtension,
    base: &Path,
    err: &impl Fn(std::ops::Range<usize>, String) -> ConfigError,
) -> Result<Extension, ConfigError> {
    // Exactly one subject.
    let requirements: Vec<Spanned<String>> = ext
        .requirement
        .into_iter()
        .chain(
            ext.requirements
                .map(Spanned::into_inner)
                .unwrap_or_default(),
        )
        .collect();
    let given: Vec<(&str, std::ops::Range<usize>)> = [
        ext.sources.as_ref().map(|s| ("sources", s.span())),
        ext.project.as_ref().map(|s| ("project", s.span())),
        ext.wheels.as_ref().map(|s| ("wheels", s.span())),
        requirements.first().map(|s| ("requirement", s.span())),
    ]
    .into_iter()
    .flatten()
    .collect();
    match given.as_slice() {
        [] => {
            return Err(err(
                0..0,
                "[extension] needs one of sources (C files), project (a pyproject.toml directory), wheels or requirement".into(),
            ));
        }
        [_] => {}
        [_, (name, span), ..] => {
            return Err(err(
                span.clone(),
                format!(
                    "extension.{name} given with extension.{}: give exactly one subject",
                    given[0].0
                ),
            ));
        }
    }

    let mut imports = Vec::new();
    if let Some(list) = &ext.imports {
        for m in list.get_ref() {
            let name = m.get_ref().trim();
            if !name.split('.').all(is_identifier) {
                return Err(err(
                    m.span(),
                    format!(
                        "invalid module \"{name}\": expected a dotted Python module name like \"pkg._native\""
                    ),
                ));
            }
            imports.push(name.to_string());
        }
    }
    let mut module = String::new();
    if let Some(m) = &ext.module {
        module = m.get_ref().trim().to_string();
        if !is_identifier(&module) {
            return Err(err(
                m.span(),
                format!(
                    "invalid module name \"{module}\": expected a Python identifier like \"my_extension\""
                ),
            ));
        }
    }

    let mut sources = Vec::new();
    let mut include_dirs = Vec::new();
    let kind = if let Some(list) = &ext.sources {
        if module.is_empty() {
            return Err(err(list.span(), "extension.sources needs extension.module: the module the sources define (PyInit_<module>)".into()));
        }
        if list.get_ref().is_empty() {
            return Err(err(
                list.span(),
                "extension.sources is empty: expected at least one C source file".into(),
            ));
        }
        for s in list.get_ref() {
            let path = base.join(s.get_ref());
            let contents = std::fs::read_to_string(&path).map_err(|e| {
                err(
                    s.span(),
                    format!("cannot read source file {}: {e}", path.display()),
                )
            })?;
            if let Some(dir) = path.parent() {
                // Sources may include their own headers with "...".
                if !include_dirs.contains(&dir.to_path_buf()) {
                    include_dirs.push(dir.to_path_buf());
                }
            }
            sources.push(SourceFile {
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "source.c".into()),
                contents,
            });
        }
        if imports.is_empty() {
            imports.push(module.clone());
        }
        ExtensionKind::Sources
    } else if let Some(p) = &ext.project {
        let path = base.join(p.get_ref());
        if !path.join("pyproject.toml").is_file() {
            return Err(err(
                p.span(),
                format!(
                    "{} has no pyproject.toml: expected a Python project directory",
                    path.display()
                ),
            ));
        }
        ExtensionKind::Project(path)
    } else if let Some(list) = &ext.wheels {
        let mut rows = Vec::new();
        for w in list.get_ref() {
            let pattern = base.join(w.get_ref());
            let mut matched: Vec<PathBuf> = glob::glob(&pattern.to_string_lossy())
                .map_err(|e| {
                    err(
                        w.span(),
                        format!("invalid pattern \"{}\": {e}", w.get_ref()),
                    )
                })?
                .filter_map(Result::ok)
                .filter(|p| p.extension().is_some_and(|e| e == "whl"))
                .collect();
            if matched.is_empty() {
                return Err(err(
                    w.span(),
                    format!("no wheel matches {}", pattern.display()),
                ));
            }
            matched.sort();
            rows.extend(matched.into_iter().map(RowSource::Wheel));
        }
        ExtensionKind::Rows(rows)
    } else {
        let mut rows = Vec::new();
        for r in &requirements {
            let text = r.get_ref().trim();
            if text.is_empty()
                || text.contains(char::is_whitespace) && !text.contains(['=', '<', '>', '~', '!'])
            {
                return Err(err(
                    r.span(),
                    format!("invalid requirement \"{text}\": expected one like \"pandas==2.0.3\""),
                ));
            }
            rows.push(RowSource::Requirement(text.to_string()));
        }
        ExtensionKind::Rows(rows)
    };
    if !matches!(kind, ExtensionKind::Sources) {
        if imports.is_empty() {
            let span = ext.project.as_ref().map(|p| p.span()).unwrap_or(0..0);
            return Err(err(span, "extension.imports is empty: name the modules to import, like [\"pkg\", \"pkg._native\"]".into()));
        }
        module = imports[0].clone();
    }

    let probe = match (ext.probe, ext.probe_file) {
        (Some(_), Some(f)) => {
            return Err(err(
                f.span(),
                "give either extension.probe or extension.probe-file, not both".into(),
            ));
        }
        (Some(code), None) => code,
        (None, Some(f)) => {
            let path = base.join(f.get_ref());
            std::fs::read_to_string(&path).map_err(|e| {
                err(
                    f.span(),
                    format!("cannot read probe file {}: {e}", path.display()),
                )
            })?
        }
        (None, None) => String::new(),
    };
    let test = match ext.test {
        Some(t) if t.get_ref().trim().is_empty() => {
            return Err(err(t.span(), "extension.test is empty: expected a command like \"python -m pytest -q --pyargs pkg\"".into()));
        }
        Some(t) => {
            if shlex::split(t.get_ref()).is_none() {
                return Err(err(
                    t.span(),
                    "extension.test is not a valid command line (unbalanced quotes?)".into(),
                ));
            }
            Some(t.into_inner())
        }
        None => None,
    };
    Ok(Extension {
        kind,
        module,
        imports,
        sources,
        probe,
        test,
        cflags: ext.cflags,
        include_dirs,
        builtin: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("matrix.toml"), text)
    }

    fn error(text: &str) -> ConfigError {
        match parse(text) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e,
        }
    }

    const MINIMAL: &str = "[numpy]\nbuild = [\"1.26.*\"]\nruntime = [\"2.0.2\"]\n";

    #[test]
    fn the_starter_file_is_valid_and_uses_the_sample() {
        let config = parse(STARTER).unwrap();
        assert!(config.extension.builtin);
        assert!(config.build.len() >= 2 && config.runtime.len() >= 2);
        assert!(!config.expectations.is_empty());
    }

    #[test]
    fn defaults() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.python, vec![PythonRequest::Name("python3".into())]);
        assert_eq!(c.python_spans, vec![None]);
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.jobs, None);
        assert_eq!(c.extension.module, "my_extension");
    }

    #[test]
    fn unknown_key_is_located_and_lists_what_is_allowed() {
        let e = error("[numpy]\nbuild = [\"1.26.*\"]\nruntme = [\"2.0.2\"]\n");
        assert_eq!((e.line, e.column), (3, 1));
        assert!(
            e.message.contains("unknown field `runtme`"),
            "{}",
            e.message
        );
        assert!(e.message.contains("runtime"), "{}", e.message);
    }

    #[test]
    fn wrong_type_is_located() {
        let e = error("[numpy]\nbuild = \"1.26.*\"\nruntime = [\"2.0.2\"]\n");
        assert_eq!((e.line, e.column), (2, 9));
        assert!(e.message.contains("expected a sequence"), "{}", e.message);
    }

    #[test]
    fn syntax_error_is_located() {
        let e = error("[numpy\nbuild = []\n");
        assert_eq!(e.line, 1);
        assert!(!e.message.is_empty());
    }

    #[test]
    fn bad_version_points_at_the_string() {
        let e = error("[numpy]\nbuild = [\"1.26.*\", \"1.2x\"]\nruntime = [\"2.0.2\"]\n");
        assert_eq!((e.line, e.column), (2, 20));
        assert!(
            e.message.contains("expected an exact version"),
            "{}",
            e.message
        );
        let shown = e.to_string();
        assert!(
            shown.starts_with("matrix.toml:2:20: invalid version \"1.2x\""),
            "{shown}"
        );
    }

    #[test]
    fn empty_and_missing_lists() {
        let e = error("[numpy]\nbuild = []\nruntime = [\"2.0.2\"]\n");
        assert_eq!((e.line, e.column), (2, 9));
        assert!(e.message.contains("empty"));
        let e = error("[numpy]\nbuild = [\"2.0.2\"]\n");
        assert!(e.message.contains("missing numpy.runtime"), "{}", e.message);
        let e = error("[run]\njobs = 2\n");
        assert!(e.message.contains("missing table [numpy]"), "{}", e.message);
    }

    #[test]
    fn duplicate_versions_are_rejected() {
        let e = error("[numpy]\nbuild = [\"2.0.2\", \"2.0.2\"]\nruntime = [\"2.0.2\"]\n");
        assert!(e.message.contains("listed twice"));
    }

    #[test]
    fn bad_timeout_and_jobs() {
        let e = error(&format!("{MINIMAL}[run]\ntimeout = \"soon\"\n"));
        assert_eq!((e.line, e.column), (5, 11));
        assert!(e.message.contains("expected a duration"));
        let e = error(&format!("{MINIMAL}[run]\njobs = -1\n"));
        assert_eq!(e.line, 5);
        let c = parse(&format!("{MINIMAL}[run]\ntimeout = \"2s\"\njobs = 3\n")).unwrap();
        assert_eq!((c.timeout, c.jobs), (Duration::from_secs(2), Some(3)));
    }

    #[test]
    fn expectations_override_in_order() {
        let c = parse(&format!(
            "{MINIMAL}[[expect]]\nbuild = \"<2\"\nruntime = \">=2\"\noutcome = \"fail\"\nreason = \"abi-major\"\n\
             [[expect]]\nbuild = \"==1.26.0\"\noutcome = \"crash\"\n"
        ))
        .unwrap();
        let v = |s: &str| Version::from_str(s).unwrap();
        let py = v("3.11.7");
        let e = c.expected(&py, Some(&v("1.26.4")), &v("2.0.2"));
        assert_eq!(
            (e.outcome, e.reason),
            (OutcomeKind::Fail, Some(FailureReason::AbiMajor))
        );
        assert_eq!(e.line, Some(5));
        assert_eq!(
            c.expected(&py, Some(&v("1.26.0")), &v("1.26.4")).outcome,
            OutcomeKind::Crash
        );
        assert_eq!(
            c.expected(&py, Some(&v("2.0.2")), &v("2.0.2")).outcome,
            OutcomeKind::Pass
        );
        assert!(e.is_met_by(OutcomeKind::Fail, Some(FailureReason::AbiMajor)));
        assert!(!e.is_met_by(OutcomeKind::Fail, Some(FailureReason::Other)));
    }

    /// A fuzz test of the loader: 20,000 deterministic mutations of valid
    /// configs (deleted, duplicated and inserted pieces, truncation, TOML
    /// punctuation in odd places) must each give Ok or a located error, and
    /// never a panic.
    #[test]
    fn the_loader_never_panics_on_mutated_input() {
        let seeds = [
            STARTER.to_string(),
            format!(
                "[python]\nversions = [\"3.9\", \">=3.11\"]\n{MINIMAL}[run]\nexpect = \"numpy-rules\"\nisolation = \"process\"\n\
                 [[expect]]\npython = \"<3.10\"\nbuild = \"<2\"\nruntime = \">=2\"\noutcome = \"fail\"\nreason = \"abi-major\"\n\
                 [extension]\nrequirement = \"pandas==2.0.3\"\nimports = [\"pandas\"]\n"
            ),
        ];
        let tokens = [
            "[",
            "]",
            "[[",
            "]]",
            "=",
            "\"",
            "'",
            ",",
            "\n",
            "#",
            "{",
            "}",
            ".*",
            ">=",
            "<",
            "~=",
            "\\",
            "é",
            "\u{0}",
            "1e999",
            "-1",
            "true",
            "0x",
            "[numpy]",
            "build",
            "runtime",
            "[[expect]]",
            "outcome",
            "\"\"\"",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            // xorshift64*: deterministic, so a failure reproduces.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n.max(1)
        };
        for i in 0..20_000 {
            let mut chars: Vec<char> = seeds[i % seeds.len()].chars().collect();
            for _ in 0..=next(4) {
                let at = next(chars.len() + 1);
                match next(5) {
                    0 => {
                        let end = (at + next(12)).min(chars.len());
                        chars.drain(at..end);
                    }
                    1 => chars
                        .splice(at..at, tokens[next(tokens.len())].chars())
                        .for_each(drop),
                    2 => chars.truncate(at),
                    3 => {
                        let end = (at + next(30)).min(chars.len());
                        let piece: Vec<char> = chars[at..end].to_vec();
                        chars.splice(at..at, piece).for_each(drop);
                    }
                    _ => {
                        if at < chars.len() {
                            chars[at] = tokens[next(tokens.len())].chars().next().unwrap_or('x');
                        }
                    }
                }
            }
            let text: String = chars.into_iter().collect();
            let result = std::panic::catch_unwind(|| parse(&text).map(|_| ()));
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => assert!(
                    e.line >= 1 || e.message.contains("missing"),
                    "unlocated error for\n{text}\n{e}"
                ),
                Err(_) => panic!("the loader panicked on:\n{text}"),
            }
        }
    }

    #[test]
    fn python_axis() {
        let c = parse(&format!(
            "[python]\nversions = [\"3.9\", \">=3.12\"]\n{MINIMAL}"
        ))
        .unwrap();
        assert_eq!(c.python.len(), 2);
        assert!(matches!(c.python[1], PythonRequest::Range(_)));
        let e = error(&format!(
            "[python]\nversions = [\"3.9\", \"3.x\"]\n{MINIMAL}"
        ));
        assert_eq!((e.line, e.column), (2, 20));
        assert!(
            e.message.contains("invalid Python version"),
            "{}",
            e.message
        );
        let e = error(&format!("[python]\nversions = []\n{MINIMAL}"));
        assert!(
            e.message.contains("python.versions is empty"),
            "{}",
            e.message
        );
        let e = error(&format!(
            "[python]\ninterpreter = \"python3\"\nversions = [\"3.9\"]\n{MINIMAL}"
        ));
        assert!(e.message.contains("not both"), "{}", e.message);
        let c = parse(&format!(
            "{MINIMAL}[[expect]]\npython = \"<3.10\"\nbuild = \"==1.22.*\"\noutcome = \"fail\"\nreason = \"api-version\"\n"
        ))
        .unwrap();
        let v = |s: &str| Version::from_str(s).unwrap();
        assert_eq!(
            c.expected(&v("3.9.18"), Some(&v("1.22.4")), &v("1.21.1"))
                .outcome,
            OutcomeKind::Fail
        );
        assert_eq!(
            c.expected(&v("3.12.1"), Some(&v("1.22.4")), &v("1.21.1"))
                .outcome,
            OutcomeKind::Pass
        );
    }

    #[test]
    fn bad_expectations() {
        let e = error(&format!("{MINIMAL}[[expect]]\noutcome = \"fial\"\n"));
        assert_eq!((e.line, e.column), (5, 11));
        assert!(
            e.message.contains("unknown variant `fial`"),
            "{}",
            e.message
        );
        let e = error(&format!(
            "{MINIMAL}[[expect]]\nbuild = \"<<2\"\noutcome = \"fail\"\n"
        ));
        assert!(e.message.contains("invalid version range"), "{}", e.message);
        let e = error(&format!(
            "{MINIMAL}[[expect]]\noutcome = \"pass\"\nreason = \"abi-major\"\n"
        ));
        assert!(e.message.contains("only applies"), "{}", e.message);
    }

    #[test]
    fn custom_extension_reads_sources_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.c"), "int x;").unwrap();
        let path = dir.path().join("matrix.toml");
        let text = format!(
            "{MINIMAL}[extension]\nmodule = \"m\"\nsources = [\"m.c\"]\nprobe = \"assert module\"\n"
        );
        let c = Config::parse(&path, &text).unwrap();
        assert_eq!(c.extension.module, "m");
        assert_eq!(c.extension.sources[0].contents, "int x;");
        assert_eq!(c.extension.include_dirs, vec![dir.path().to_path_buf()]);

        let text = format!("{MINIMAL}[extension]\nmodule = \"m\"\nsources = [\"gone.c\"]\n");
        let e = Config::parse(&path, &text).unwrap_err();
        assert_eq!((e.line, e.column), (6, 12));
        assert!(
            e.message.contains("cannot read source file"),
            "{}",
            e.message
        );

        let text = format!("{MINIMAL}[extension]\nmodule = \"not-valid\"\nsources = [\"m.c\"]\n");
        let e = Config::parse(&path, &text).unwrap_err();
        assert!(e.message.contains("invalid module name"), "{}", e.message);
    }
}
