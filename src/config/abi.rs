//! `[extension] limited-api` and `[python] build`: an extension built once
//! for Python's stable ABI, on one interpreter, to be imported under every
//! configured Python at or above that version.
//!
//! What is checked here is what the file alone can tell: the version is a
//! limited API that exists, the sources are C sources (a project sets
//! `Py_LIMITED_API` in its own build and says abi3 in its wheel's tag), the
//! flags do not set it a second time, the build interpreter is one
//! interpreter at or above the version, and at least one configured Python
//! could load the build. A Python below the version is not an error: its
//! cells are `unavailable` (the stable ABI promises nothing below), which
//! is an answer. Pythons named by path or command are checked once found.

use pep440_rs::Version;
use toml::Spanned;

use super::raw::RawExtension;
use super::{ConfigError, Err, Located};
use crate::python::PythonRequest;
use crate::python::abi::LimitedApi;

/// A build for the stable ABI: which limited API, and (when the file says)
/// which interpreter builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbiTarget {
    pub limited: Located<LimitedApi>,
    /// `[python] build`; `None`: the oldest configured Python that
    /// satisfies the version ([`crate::python::abi::default_builder`]).
    pub builder: Option<Located<PythonRequest>>,
    /// Where a project's own build files declare it (`None`: the config's
    /// `limited-api` says it).
    pub declared: Option<String>,
}

/// `extension.limited-api`, checked against the rest of `[extension]`.
pub(super) fn limited_api(
    ext: &RawExtension,
    err: &Err<'_>,
) -> Result<Option<Located<LimitedApi>>, ConfigError> {
    let Some(raw) = &ext.limited_api else {
        return Ok(None);
    };
    if ext.sources.is_none() && ext.project.is_none() {
        return Err(err(
            raw.span(),
            "extension.limited-api applies to C sources and projects: published wheels say which Pythons they are for in their tag (cp39-abi3), and an abi3 wheel is shown as one row across Pythons without it".into(),
        ));
    }
    let value: LimitedApi = raw
        .get_ref()
        .parse()
        .map_err(|e: crate::python::abi::LimitedApiError| err(raw.span(), e.to_string()))?;
    if let Some(flags) = &ext.cflags
        && flags
            .get_ref()
            .iter()
            .any(|f| f.trim_start().starts_with("-DPy_LIMITED_API"))
    {
        return Err(err(
            flags.span(),
            format!(
                "extension.cflags defines Py_LIMITED_API and extension.limited-api sets it too: drop the flag (limited-api = \"{value}\" compiles with {})",
                value.define()
            ),
        ));
    }
    Ok(Some(Located {
        value,
        span: Some(raw.span()),
    }))
}

/// `[python] build`, and the whole target checked against `python`.
pub(super) fn target(
    build: Option<&Spanned<String>>,
    limited: Option<Located<LimitedApi>>,
    python: &[Located<PythonRequest>],
    base: &std::path::Path,
    err: &Err<'_>,
) -> Result<Option<AbiTarget>, ConfigError> {
    let builder = build.map(|b| builder(b, base, err)).transpose()?;
    let Some(limited) = limited else {
        return match builder {
            Some(b) => Err(err(
                b.span.unwrap_or(0..0),
                "python.build names the interpreter that builds a limited-API extension: set extension.limited-api too (without it, each Python builds its own)".into(),
            )),
            None => Ok(None),
        };
    };
    let version = limited.value;
    if let Some(Located {
        value: PythonRequest::Version(v),
        span,
    }) = &builder
        && !version.admits(v)
    {
        return Err(err(
            span.clone().unwrap_or(0..0),
            format!(
                "python.build is {v}, older than extension.limited-api = \"{version}\": a build for the {version} limited API needs Python {version}'s headers; expected a Python {version} or newer"
            ),
        ));
    }
    if !python.iter().any(|p| could_load(&p.value, version)) {
        let span = limited.span.clone().unwrap_or(0..0);
        return Err(err(
            span,
            format!(
                "no Python in python.versions is {version} or newer: a build for the {version} limited API loads only on Python {version} and newer; expected a lower limited-api or a newer Python"
            ),
        ));
    }
    Ok(Some(AbiTarget {
        limited,
        builder,
        declared: None,
    }))
}

/// `[python] build`: one interpreter (a version, a path or a command).
fn builder(
    raw: &Spanned<String>,
    base: &std::path::Path,
    err: &Err<'_>,
) -> Result<Located<PythonRequest>, ConfigError> {
    let request =
        PythonRequest::parse(raw.get_ref(), base).map_err(|e| err(raw.span(), e.to_string()))?;
    if let PythonRequest::Range(_) = request {
        return Err(err(
            raw.span(),
            format!(
                "python.build is a range (\"{}\"): expected one interpreter, like \"3.9\", a path or a command",
                raw.get_ref().trim()
            ),
        ));
    }
    Ok(Located {
        value: request,
        span: Some(raw.span()),
    })
}

/// Whether a Python `request` could find is one the build loads on: a
/// version at or above it, a range that reaches it, or an interpreter
/// named by path or command (what it is, only running it tells).
fn could_load(request: &PythonRequest, limited: LimitedApi) -> bool {
    let (major, minor) = limited.python();
    match request {
        PythonRequest::Version(v) => limited.admits(v),
        // Some minor version from the limited one up, any patch of it.
        PythonRequest::Range(_) => {
            (minor..minor + 40).any(|m| request.could_be(&Version::new([major, m])))
        }
        PythonRequest::Path(_) | PythonRequest::Name(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    const NUMPY: &str = "[numpy]\nbuild = [\"2.0.2\"]\nruntime = [\"2.0.2\"]\n";

    fn parse(text: &str) -> Result<Config, super::ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.c"), "int x;").unwrap();
        std::fs::create_dir(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("pkg/pyproject.toml"), "").unwrap();
        Config::parse(&dir.path().join("matrix.toml"), text)
    }

    fn sources(extra: &str) -> String {
        format!("{NUMPY}[extension]\nmodule = \"m\"\nsources = [\"m.c\"]\n{extra}")
    }

    #[test]
    fn limited_api_is_read_as_a_version_with_its_span() {
        let c = parse(&sources("limited-api = \"3.9\"\n")).unwrap();
        let target = c.abi.expect("a target");
        assert_eq!(target.limited.value.to_string(), "3.9");
        assert_eq!(target.builder, None);
        let crate::extension::Subject::Sources(s) = &c.extension.subject else {
            panic!()
        };
        assert_eq!(s.limited_api, Some(target.limited.value));
        // Nothing written: nothing changes.
        let c = parse(&sources("")).unwrap();
        assert!(c.abi.is_none());
    }

    #[test]
    fn bad_limited_api_values_are_located() {
        for (value, want) in [
            ("3.9.1", "names a patch release"),
            ("3", "expected a Python minor version"),
            ("3.1", "from 3.2 on"),
            ("3.15t", "abi3t"),
        ] {
            let e = parse(&sources(&format!("limited-api = \"{value}\"\n"))).unwrap_err();
            assert_eq!((e.line, e.column), (7, 15), "{value}: {e}");
            assert!(e.message.contains(want), "{value}: {e}");
        }
        let e = parse(&sources("limited-api = 3.9\n")).unwrap_err();
        assert_eq!(e.line, 7, "{e}");
        assert!(e.message.contains("invalid type"), "{e}");
    }

    #[test]
    fn limited_api_is_for_c_sources_and_projects() {
        let e = parse(
            "[numpy]\nruntime = [\"2.0.2\"]\n[extension]\nrequirement = \"pyerfa==2.0.1.5\"\nimports = [\"erfa\"]\nlimited-api = \"3.9\"\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (6, 15), "{e}");
    }

    #[test]
    fn the_flag_is_not_set_twice() {
        let e = parse(&sources(
            "cflags = [\"-DPy_LIMITED_API=0x03090000\"]\nlimited-api = \"3.9\"\n",
        ))
        .unwrap_err();
        assert_eq!((e.line, e.column), (7, 10), "{e}");
        assert!(e.message.contains("drop the flag"), "{e}");
    }

    #[test]
    fn the_build_python_is_one_interpreter_at_or_above_the_version() {
        let c = parse(&format!(
            "[python]\nversions = [\"3.9\", \"3.12\"]\nbuild = \"3.10\"\n{}",
            sources("limited-api = \"3.9\"\n")
        ))
        .unwrap();
        let b = c.abi.unwrap().builder.unwrap();
        assert_eq!((b.value.to_string(), b.span), ("3.10".into(), Some(44..50)));
        let e = parse(&format!(
            "[python]\nbuild = \"3.8\"\n{}",
            sources("limited-api = \"3.9\"\n")
        ))
        .unwrap_err();
        assert_eq!((e.line, e.column), (2, 9), "{e}");
        assert!(
            e.message.contains("older than extension.limited-api"),
            "{e}"
        );
        let e = parse(&format!(
            "[python]\nbuild = \">=3.9\"\n{}",
            sources("limited-api = \"3.9\"\n")
        ))
        .unwrap_err();
        assert!(e.message.contains("is a range"), "{e}");
        // Without limited-api it means nothing: refused, located.
        let e = parse(&format!("[python]\nbuild = \"3.9\"\n{}", sources(""))).unwrap_err();
        assert_eq!((e.line, e.column), (2, 9), "{e}");
        assert!(e.message.contains("set extension.limited-api too"), "{e}");
    }

    #[test]
    fn some_configured_python_must_be_able_to_load_it() {
        let e = parse(&format!(
            "[python]\nversions = [\"3.9\", \"3.11\"]\n{}",
            sources("limited-api = \"3.12\"\n")
        ))
        .unwrap_err();
        assert_eq!((e.line, e.column), (9, 15), "{e}");
        assert!(
            e.message
                .contains("no Python in python.versions is 3.12 or newer"),
            "{e}"
        );
        // One is enough; the others' cells are unavailable, not an error.
        for versions in [
            "\"3.9\", \"3.12\"",
            "\">=3.10\"",
            "\"3.9\", \"/opt/py/bin/python3\"",
        ] {
            parse(&format!(
                "[python]\nversions = [{versions}]\n{}",
                sources("limited-api = \"3.12\"\n")
            ))
            .unwrap_or_else(|e| panic!("{versions}: {e}"));
        }
        let e = parse(&format!(
            "[python]\nversions = [\"<3.12\"]\n{}",
            sources("limited-api = \"3.12\"\n")
        ))
        .unwrap_err();
        assert!(e.message.contains("no Python"), "{e}");
        // The default Python (python3 on PATH) is not known before it runs.
        parse(&sources("limited-api = \"3.13\"\n")).unwrap();
    }

    /// The limited API and the build Python are part of what the matrix
    /// is (a resumed run must build what the interrupted one built); a
    /// matrix without them keeps its identity.
    #[test]
    fn they_are_in_the_matrix_identity() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.c"), "int x;").unwrap();
        let path = dir.path().join("matrix.toml");
        let id = |text: &str| Config::parse(&path, text).unwrap().matrix_id();
        let pythons = "[python]\nversions = [\"3.9\", \"3.12\"]\n";
        let plain = id(&format!("{pythons}{}", sources("")));
        let abi3 = id(&format!("{pythons}{}", sources("limited-api = \"3.9\"\n")));
        let abi312 = id(&format!("{pythons}{}", sources("limited-api = \"3.12\"\n")));
        let built = id(&format!(
            "{pythons}build = \"3.12\"\n{}",
            sources("limited-api = \"3.9\"\n")
        ));
        let all = [&plain, &abi3, &abi312, &built];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(plain, id(&format!("{pythons}{}", sources(""))));
    }
}
