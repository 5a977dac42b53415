//! `matrix.toml`: raw serde types in, a checked [`Config`] out.
//!
//! Parsing happens in two steps, as in nextest: serde turns the text into
//! [`raw`] types (rejecting unknown keys and wrong types with a span), then
//! [`Config::from_raw`] checks meaning (versions, paths, ranges) using the
//! `toml::Spanned` values kept for exactly that purpose. Either way the error
//! names the file, line and column and says what was expected. Every value
//! that a later stage may find wrong (an interpreter that does not exist, a
//! NumPy release the index lacks) keeps its span, so that error is located
//! too, by position rather than by comparing strings.

mod abi;
mod declared_abi;
mod diagnostic;
mod extension;
mod probe;
mod raw;
mod request;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use pep440_rs::VersionSpecifiers;
use toml::Spanned;

pub use abi::AbiTarget;
pub use diagnostic::ConfigError;
pub use request::{NumpyRequest, NumpyRequestError, Patches, Resolution};

use crate::expect::{ExpectTable, Expectations};
use crate::extension::{Extension, Subject};
use crate::outcome::OutcomeKind;
use crate::probe::Isolation;
use crate::python::PythonRequest;

/// The file `matrix init` writes, and the repository's own default matrix.
pub const STARTER: &str = include_str!("../../matrix.toml");

/// The default per-cell limit: a probe imports NumPy and calls one function,
/// so anything near this is a hang, not a slow machine.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The default limit on one build step (a compile, a project's build): a
/// large C++ project builds in minutes; an hour is a hang.
pub const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// A byte range of the config file.
pub type Span = std::ops::Range<usize>;

/// A value and where it was written (`None`: a default nobody wrote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub span: Option<Span>,
}

impl<T> Located<T> {
    /// A value no file holds (a default, a command-line value).
    pub fn unwritten(value: T) -> Located<T> {
        Located { value, span: None }
    }
}

/// The NumPy axes: what each row is built against, what each column runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Build,
    Runtime,
}

impl Axis {
    pub fn name(self) -> &'static str {
        match self {
            Axis::Build => "build",
            Axis::Runtime => "runtime",
        }
    }
}

/// A checked `matrix.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    /// The file's text, for errors found after parsing (at run time).
    pub text: std::sync::Arc<str>,
    /// The interpreters to run the grid under, in order; never empty.
    pub python: Vec<Located<PythonRequest>>,
    /// `[extension] limited-api` (with `[python] build`): the extension is
    /// built once per NumPy, for the stable ABI.
    pub abi: Option<AbiTarget>,
    pub build: Vec<Located<NumpyRequest>>,
    pub runtime: Vec<Located<NumpyRequest>>,
    /// `[numpy] patches` and `prereleases`.
    pub resolution: Resolution,
    /// `[numpy] index-url` and `extra-index-urls`.
    pub indexes: crate::python::Indexes,
    pub extension: Extension,
    pub timeout: Duration,
    /// Each build step's limit (`[run] build-timeout`).
    pub build_timeout: Duration,
    /// `None`: as many as the machine has cores.
    pub jobs: Option<usize>,
    pub isolation: Isolation,
    pub expectations: Expectations,
    /// The fingerprint, made once: it reads headers and hashes local
    /// wheels, and a run needs it for the journal and the plan.
    fingerprint: std::sync::OnceLock<Vec<(&'static str, String)>>,
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let bytes = crate::userfile::read_bytes(path, crate::userfile::TEXT_LIMIT)
            .map_err(|e| ConfigError::whole_file(path, format!("cannot read the file: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let bad = e.as_bytes().get(at).copied().unwrap_or(0);
            let shown = String::from_utf8_lossy(e.as_bytes()).into_owned();
            ConfigError::at(
                path,
                &shown,
                at..at + 1,
                format!(
                    "byte 0x{bad:02X} is not UTF-8: expected a UTF-8 text file (TOML is UTF-8)"
                ),
            )
        })?;
        Config::parse(path, &text)
    }

    /// Checks `text` as if read from `path` (relative paths in it are
    /// relative to `path`'s directory).
    /// A file named `pyproject.toml` holds the config in its
    /// `[tool.abimatrix]` table, with the same keys and the same located
    /// errors (lines and columns of the pyproject file).
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let syntax = |e: toml::de::Error| {
            let span = e.span().unwrap_or(0..0);
            ConfigError::at(path, text, span, e.message().trim_end().to_string())
        };
        let raw = if is_pyproject(path) {
            let doc: raw::RawPyproject = toml::from_str(text).map_err(syntax)?;
            doc.tool.and_then(|t| t.abimatrix).ok_or_else(|| {
                ConfigError::whole_file(
                    path,
                    "no [tool.abimatrix] table: expected the matrix there (the same keys as matrix.toml, under [tool.abimatrix], [tool.abimatrix.numpy], ...)",
                )
            })?
        } else {
            toml::from_str(text).map_err(syntax)?
        };
        Config::from_raw(path, text, raw)
    }

    fn from_raw(path: &Path, text: &str, raw: raw::RawConfig) -> Result<Config, ConfigError> {
        let err = |span: Span, msg: String| ConfigError::at(path, text, span, msg);
        // Every path in the file is relative to the folder that holds it,
        // made absolute once, here: `matrix run` in that folder, `-c
        // ../other/matrix.toml` and a test harness's absolute path all mean
        // the same files. Errors still name the path as the user gave it.
        let absolute = std::path::absolute(path).map_err(|e| {
            ConfigError::whole_file(path, format!("cannot tell where the file is: {e}"))
        })?;
        let base = absolute.parent().unwrap_or(Path::new("/"));

        let build_python = raw.python.build.clone();
        let python = python_requests(raw.python, base, &err)?;
        let numpy = raw.numpy.ok_or_else(|| {
            err(
                0..0,
                "missing table [numpy]: expected `build = [...]` and `runtime = [...]` lists of NumPy versions".into(),
            )
        })?;
        let (extension, limited) = match raw.extension {
            None => (Extension::sample(), None),
            Some(ext) => {
                let limited = abi::limited_api(&ext, &err)?;
                (extension::parse(ext, base, &err)?, limited)
            }
        };
        let abi = match (&limited, &extension.subject) {
            // A project that declares an abi3 wheel in its own build files
            // is built once like one whose config says so; where the file's
            // Pythons cannot use it (none configured at or above it), each
            // Python builds its own, as before.
            (None, Subject::Project(project)) if build_python.is_none() => {
                declared_abi::of_project(project).and_then(|(value, declared)| {
                    let limited = Located { value, span: None };
                    abi::target(None, Some(limited), &python, base, &err)
                        .ok()
                        .flatten()
                        .map(|t| AbiTarget {
                            declared: Some(declared),
                            ..t
                        })
                })
            }
            _ => abi::target(build_python.as_ref(), limited, &python, base, &err)?,
        };
        let resolution = resolution(&numpy, &err)?;
        let indexes = indexes(&numpy, &err)?;
        let build = if extension.has_build_axis() {
            requests(&numpy.build, Axis::Build, base, &err)?
        } else {
            if let Some(b) = &numpy.build {
                return Err(err(
                    b.span(),
                    "wheels have no build axis: drop numpy.build (each wheel or requirement is a row)".into(),
                ));
            }
            Vec::new()
        };
        let runtime = requests(&numpy.runtime, Axis::Runtime, base, &err)?;
        let timeout = duration(raw.run.timeout, "timeout", DEFAULT_TIMEOUT, &err)?;
        let build_timeout = duration(
            raw.run.build_timeout,
            "build-timeout",
            DEFAULT_BUILD_TIMEOUT,
            &err,
        )?;
        let jobs = jobs(raw.run.jobs, &err)?;
        let tables = raw
            .expect
            .into_iter()
            .map(|e| expect_table(e, text, &err))
            .collect::<Result<Vec<_>, _>>()?;
        let expectations = Expectations {
            tables,
            default: raw.run.expect.unwrap_or_default(),
            cflags: extension.cflags().to_vec(),
        };
        Ok(Config {
            path: path.to_path_buf(),
            text: text.into(),
            python,
            abi,
            build,
            runtime,
            resolution,
            indexes,
            extension,
            timeout,
            build_timeout,
            jobs,
            isolation: raw.run.isolation.unwrap_or_default(),
            expectations,
            fingerprint: Default::default(),
        })
    }

    /// A config made in code rather than read from a file (the doctor's
    /// grids): what a file with `[python] interpreter`, `[numpy] runtime`,
    /// an `[extension]` and `[run] timeout` gives, every other key at its
    /// default. Nothing is read from `path`: it names the config in errors,
    /// and its folder is the one a file there would have.
    pub fn of(
        path: PathBuf,
        python: PythonRequest,
        runtime: Vec<NumpyRequest>,
        extension: Extension,
        timeout: Duration,
    ) -> Config {
        let expectations = Expectations {
            tables: Vec::new(),
            default: Default::default(),
            cflags: extension.cflags().to_vec(),
        };
        Config {
            path,
            text: "".into(),
            python: vec![Located::unwritten(python)],
            build: Vec::new(),
            runtime: runtime.into_iter().map(Located::unwritten).collect(),
            resolution: Resolution::default(),
            indexes: Default::default(),
            extension,
            timeout,
            build_timeout: DEFAULT_BUILD_TIMEOUT,
            jobs: None,
            isolation: Isolation::default(),
            expectations,
            fingerprint: Default::default(),
            abi: None,
        }
    }

    /// An error about the file found after parsing, at `span` (the whole
    /// file when the value was not written in it).
    pub fn error_at(&self, span: Option<Span>, message: impl Into<String>) -> ConfigError {
        match span {
            Some(span) => ConfigError::at(&self.path, &self.text, span, message),
            None => ConfigError::whole_file(&self.path, message),
        }
    }

    /// The file's absolute path: what names this config in the cache (its
    /// journal, its last results).
    pub fn absolute_path(&self) -> PathBuf {
        std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone())
    }

    /// The folder that holds the file (absolute): what every path in it is
    /// relative to.
    pub fn dir(&self) -> PathBuf {
        self.absolute_path()
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
    }

    /// The requests of one NumPy axis.
    pub fn axis(&self, axis: Axis) -> &[Located<NumpyRequest>] {
        match axis {
            Axis::Build => &self.build,
            Axis::Runtime => &self.runtime,
        }
    }

    /// What decides which cells exist and what they run (Pythons, NumPy
    /// requests, the subject with its sources and headers, flags, imports,
    /// probe, test command and requirements), not how results are judged
    /// or shown: each part digested, named as a person would say it.
    pub fn fingerprint(&self) -> Vec<(&'static str, String)> {
        self.fingerprint
            .get_or_init(|| self.fingerprint_now())
            .clone()
    }

    fn fingerprint_now(&self) -> Vec<(&'static str, String)> {
        use crate::extension::Subject;
        let digest = |parts: Vec<String>| crate::cache::digest(parts);
        let mut sources = vec![self.extension.label()];
        if let Subject::Sources(s) = &self.extension.subject {
            for f in &s.files {
                sources.push(f.name.clone());
                sources.push(f.contents.clone());
            }
            // Headers beside the sources and in include-dirs: a resumed run
            // must build from what the interrupted one built from.
            for dir in &s.include_dirs {
                for h in headers_in(dir) {
                    sources.push(h.display().to_string());
                    // Hashed, never read whole; only a regular file.
                    sources.push(crate::cache::manifest::hash_file(&h).unwrap_or_default());
                }
            }
        }
        let mut flags: Vec<String> = self.extension.cflags().to_vec();
        if let Subject::Sources(s) = &self.extension.subject {
            flags.extend(s.ldflags.iter().cloned());
            flags.extend(s.libraries.iter().map(|l| format!("-l{l}")));
            flags.extend(s.library_dirs.iter().map(|d| format!("-L{}", d.display())));
            // Only when set: a matrix without it keeps its identity.
            flags.extend(s.limited_api.map(|l| l.define()));
        }
        let mut pythons: Vec<String> = self.python.iter().map(|p| p.value.to_string()).collect();
        if let Some(b) = self.abi.as_ref().and_then(|a| a.builder.as_ref()) {
            pythons.push(format!("build: {}", b.value));
        }
        vec![
            ("the Pythons", digest(pythons)),
            (
                "the build NumPy versions",
                digest(self.build.iter().map(|r| r.value.to_string()).collect()),
            ),
            (
                "the runtime NumPy versions",
                digest(self.runtime.iter().map(|r| r.value.to_string()).collect()),
            ),
            (
                "how NumPy versions are chosen (patches, pre-releases, indexes, local wheels)",
                digest(
                    [
                        format!("{:?}", self.resolution),
                        format!("{:?}", self.indexes),
                    ]
                    .into_iter()
                    .chain(
                        self.build
                            .iter()
                            .chain(&self.runtime)
                            .filter_map(|r| match &r.value {
                                NumpyRequest::Wheel(p) => Some(wheel_digest(p)),
                                _ => None,
                            }),
                    )
                    .collect(),
                ),
            ),
            ("the sources", digest(sources)),
            ("the flags", digest(flags)),
            (
                "the modules imported",
                digest(self.extension.imports.clone()),
            ),
            ("the probe", digest(vec![self.extension.probe.clone()])),
            (
                "the test command and its requirements",
                digest(
                    self.extension
                        .test
                        .iter()
                        .chain(&self.extension.test_requires)
                        .chain(&self.extension.extras)
                        .cloned()
                        .collect(),
                ),
            ),
        ]
    }

    /// Identifies the matrix: every part of its fingerprint. Shards of one
    /// matrix share it.
    pub fn matrix_id(&self) -> String {
        crate::cache::digest(
            self.fingerprint()
                .into_iter()
                .flat_map(|(k, v)| [k.to_string(), v]),
        )
    }
}

type Err<'a> = dyn Fn(Span, String) -> ConfigError + 'a;

/// The headers directly in `dir` (`.h`, `.hh`, `.hpp`, `.inc`), sorted:
/// what a resumed run must find as the interrupted one built from.
fn headers_in(dir: &Path) -> Vec<PathBuf> {
    let mut headers: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| ["h", "hh", "hpp", "inc"].contains(&&*e.to_string_lossy()))
        })
        .collect();
    headers.sort();
    headers
}

/// The contents of every file a wheel pattern matches, digested: a wheel
/// rebuilt under the same name is a different matrix.
fn wheel_digest(pattern: &Path) -> String {
    let mut parts = Vec::new();
    if let Ok(paths) = glob::glob(&pattern.to_string_lossy()) {
        for p in paths.flatten() {
            parts.push(p.display().to_string());
            parts.push(crate::cache::manifest::hash_file(&p).unwrap_or_default());
        }
    }
    crate::cache::digest(parts)
}

/// Whether `path` names a pyproject.toml (the config under
/// `[tool.abimatrix]`).
pub fn is_pyproject(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "pyproject.toml")
}

fn python_requests(
    raw: raw::RawPython,
    base: &Path,
    err: &Err<'_>,
) -> Result<Vec<Located<PythonRequest>>, ConfigError> {
    let one = |item: &Spanned<String>| {
        PythonRequest::parse(item.get_ref(), base)
            .map(|value| Located {
                value,
                span: Some(item.span()),
            })
            .map_err(|e| err(item.span(), e.to_string()))
    };
    match (raw.interpreter, raw.versions) {
        (Some(_), Some(v)) => Err(err(
            v.span(),
            "give either python.interpreter or python.versions, not both".into(),
        )),
        (Some(i), None) => Ok(vec![one(&i)?]),
        (None, Some(list)) => {
            if list.get_ref().is_empty() {
                return Err(err(
                    list.span(),
                    "python.versions is empty: expected at least one Python, like [\"3.12\"]"
                        .into(),
                ));
            }
            list.get_ref().iter().map(one).collect()
        }
        (None, None) => Ok(vec![Located {
            value: PythonRequest::Name("python3".into()),
            span: None,
        }]),
    }
}

fn resolution(numpy: &raw::RawNumpy, err: &Err<'_>) -> Result<Resolution, ConfigError> {
    let patches = match &numpy.patches {
        None => Patches::Newest,
        Some(p) => match p.get_ref().as_str() {
            "newest" => Patches::Newest,
            "all" => Patches::All,
            other => {
                return Err(err(
                    p.span(),
                    format!(
                        "numpy.patches is \"{other}\": expected \"newest\" (each series' newest release) or \"all\" (every release)"
                    ),
                ));
            }
        },
    };
    Ok(Resolution {
        patches,
        prereleases: numpy.prereleases.unwrap_or(false),
    })
}

fn indexes(numpy: &raw::RawNumpy, err: &Err<'_>) -> Result<crate::python::Indexes, ConfigError> {
    let url = |u: &Spanned<String>| -> Result<String, ConfigError> {
        let text = u.get_ref().trim();
        if text.contains("://") {
            Ok(text.to_string())
        } else {
            Err(err(
                u.span(),
                format!(
                    "\"{text}\" is not a URL: expected an index URL like \"https://pypi.anaconda.org/scientific-python-nightly-wheels/simple\""
                ),
            ))
        }
    };
    Ok(crate::python::Indexes {
        url: numpy.index_url.as_ref().map(url).transpose()?,
        extra: match &numpy.extra_index_urls {
            Some(list) => list.get_ref().iter().map(url).collect::<Result<_, _>>()?,
            None => Vec::new(),
        },
    })
}

fn requests(
    list: &Option<Spanned<Vec<Spanned<String>>>>,
    axis: Axis,
    base: &Path,
    err: &Err<'_>,
) -> Result<Vec<Located<NumpyRequest>>, ConfigError> {
    let axis = axis.name();
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
    let mut out: Vec<Located<NumpyRequest>> = Vec::new();
    for item in list.get_ref() {
        let mut request =
            NumpyRequest::from_str(item.get_ref()).map_err(|e| err(item.span(), e.to_string()))?;
        if let NumpyRequest::Wheel(path) = &request {
            let path = base.join(path);
            let pattern = path.to_string_lossy().into_owned();
            let found = glob::glob(&pattern)
                .map_err(|e| err(item.span(), format!("invalid wheel pattern: {e}")))?
                .flatten()
                .count();
            if found == 0 {
                return Err(err(
                    item.span(),
                    format!(
                        "no file matches {}: expected a NumPy wheel (relative paths are relative to this file)",
                        path.display()
                    ),
                ));
            }
            request = NumpyRequest::Wheel(path);
        }
        if out.iter().any(|o| o.value == request) {
            return Err(err(
                item.span(),
                format!("\"{request}\" is listed twice in numpy.{axis}"),
            ));
        }
        out.push(Located {
            value: request,
            span: Some(item.span()),
        });
    }
    Ok(out)
}

fn duration(
    raw: Option<Spanned<String>>,
    key: &str,
    default: Duration,
    err: &Err<'_>,
) -> Result<Duration, ConfigError> {
    let Some(t) = raw else {
        return Ok(default);
    };
    let d = humantime::parse_duration(t.get_ref()).map_err(|e| {
        err(
            t.span(),
            format!(
                "invalid {key} \"{}\" ({e}): expected a duration like \"30s\" or \"2m\"",
                t.get_ref()
            ),
        )
    })?;
    if d.is_zero() {
        return Err(err(t.span(), format!("{key} must be longer than zero")));
    }
    Ok(d)
}

fn jobs(raw: Option<Spanned<i64>>, err: &Err<'_>) -> Result<Option<usize>, ConfigError> {
    let Some(j) = raw else { return Ok(None) };
    match usize::try_from(*j.get_ref()) {
        Ok(0) => Ok(None),
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(err(
            j.span(),
            "jobs must be a whole number of parallel jobs, 0 for one per core".into(),
        )),
    }
}

fn expect_table(e: raw::RawExpect, text: &str, err: &Err<'_>) -> Result<ExpectTable, ConfigError> {
    // The table's first key stands for the table (serde gives no span for
    // the `[[expect]]` header itself).
    let first = [&e.python, &e.build, &e.runtime, &e.row]
        .into_iter()
        .filter_map(|s| s.as_ref().map(|s| s.span().start))
        .chain([e.outcome.span().start])
        .min()
        .unwrap_or(0);
    let line = text[..first.min(text.len())].matches('\n').count() + 1;
    let spec = |s: &Option<Spanned<String>>| -> Result<Option<VersionSpecifiers>, ConfigError> {
        s.as_ref()
            .map(|s| {
                VersionSpecifiers::from_str(s.get_ref()).map_err(|e| {
                    err(
                        s.span(),
                        format!(
                            "invalid version range \"{}\": {e}; expected PEP 440 specifiers like \"<2\" or \">=1.25,<2.1\"",
                            s.get_ref()
                        ),
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
    if let Some(r) = &e.row
        && r.get_ref().trim().is_empty()
    {
        return Err(err(
            r.span(),
            "an empty row pattern: expected the requirement as written, a wheel file glob or a label like \"pandas 2.1.4\"".into(),
        ));
    }
    Ok(ExpectTable {
        python,
        build,
        runtime,
        row: e.row.map(Spanned::into_inner),
        outcome,
        reason: e.reason.map(Spanned::into_inner),
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::DefaultExpectation;
    use crate::extension::Subject;
    use crate::outcome::FailureReason;

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
        assert!(matches!(&config.extension.subject, Subject::Sources(s) if s.builtin));
        assert!(config.build.len() >= 2 && config.runtime.len() >= 2);
        assert!(!config.expectations.tables.is_empty());
    }

    #[test]
    fn a_file_that_is_not_utf8_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("matrix.toml");
        std::fs::write(&path, b"[numpy]\nbuild = [\"1.26.*\"] # caf\xe9\n").unwrap();
        let e = Config::load(&path).unwrap_err();
        assert_eq!((e.line, e.column), (2, 25), "{e}");
        assert!(e.message.contains("byte 0xE9 is not UTF-8"), "{e}");
    }

    #[test]
    fn pyproject_holds_it_under_tool_abimatrix_with_located_errors() {
        let text = "[project]\nname = \"x\"\n\n[tool.abimatrix.numpy]\nbuild = [\"1.26.*\"]\nruntime = [\"2.0.2\"]\n";
        let c = Config::parse(Path::new("pyproject.toml"), text).unwrap();
        assert_eq!(c.runtime.len(), 1);
        let bad = text.replace("\"2.0.2\"", "\"2.x\"");
        let e = Config::parse(Path::new("pyproject.toml"), &bad).unwrap_err();
        assert_eq!((e.line, e.column), (6, 12), "{e}");
        let e =
            Config::parse(Path::new("pyproject.toml"), "[project]\nname = \"x\"\n").unwrap_err();
        assert!(e.message.contains("no [tool.abimatrix] table"), "{e}");
        let e = Config::parse(Path::new("pyproject.toml"), "[tool.abimatrix]\nnumpi = 1\n")
            .unwrap_err();
        assert_eq!((e.line, e.column), (2, 1), "{e}");
    }

    #[test]
    fn defaults() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(
            c.python,
            vec![Located {
                value: PythonRequest::Name("python3".into()),
                span: None
            }]
        );
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.jobs, None);
        assert_eq!(c.extension.imports, ["my_extension"]);
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
    fn expectation_tables_are_read_with_their_lines() {
        let c = parse(&format!(
            "{MINIMAL}[[expect]]\nbuild = \"<2\"\nruntime = \">=2\"\noutcome = \"fail\"\nreason = \"abi-major\"\n\
             [[expect]]\nbuild = \"==1.26.0\"\noutcome = \"crash\"\n[run]\nexpect = \"numpy-rules\"\n"
        ))
        .unwrap();
        let t = &c.expectations.tables;
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[0].line, t[0].outcome, t[0].reason),
            (5, OutcomeKind::Fail, Some(FailureReason::AbiMajor))
        );
        assert_eq!((t[1].line, t[1].outcome), (10, OutcomeKind::Crash));
        assert_eq!(c.expectations.default, DefaultExpectation::NumpyRules);
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
        assert!(matches!(c.python[1].value, PythonRequest::Range(_)));
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
        let py = c.expectations.tables[0].python.as_ref().unwrap();
        assert!(py.contains(&"3.9.18".parse().unwrap()));
        assert!(!py.contains(&"3.12.1".parse().unwrap()));
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
        let Subject::Sources(s) = &c.extension.subject else {
            panic!("{:?}", c.extension.subject)
        };
        assert_eq!(s.module, "m");
        assert_eq!(s.files[0].contents, "int x;");
        assert_eq!(s.include_dirs, vec![dir.path().to_path_buf()]);

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
