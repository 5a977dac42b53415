//! `[extension]`: exactly one subject (sources, a project, wheels or
//! requirements), the modules to import, and the probe or test command.
//! Each subject is checked by its own function, so a key that only one kind
//! of subject understands is refused, located, for the others. Every path
//! is made absolute here, against the folder that holds the config file
//! (`base`, itself absolute), so no later stage depends on the working
//! folder.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::raw::RawExtension;
use super::{ConfigError, Err, Span};
use crate::extension::{Extension, ProbeOrigin, RowSource, SourceFile, Sources, Subject};

pub(super) fn parse(
    ext: RawExtension,
    base: &Path,
    err: &Err<'_>,
) -> Result<Extension, ConfigError> {
    let requirements: Vec<Spanned<String>> = ext
        .requirement
        .clone()
        .into_iter()
        .chain(
            ext.requirements
                .clone()
                .map(Spanned::into_inner)
                .unwrap_or_default(),
        )
        .collect();
    let given: Vec<(&str, Span)> = [
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
    let mut imports = imports(&ext, err)?;
    let subject = if let Some(list) = &ext.sources {
        let sources = sources(&ext, list, base, err)?;
        if imports.is_empty() {
            imports.push(sources.module.clone());
        }
        Subject::Sources(sources)
    } else {
        only_for_sources(&ext, err)?;
        let subject = if let Some(p) = &ext.project {
            project(p, base, err)?
        } else if let Some(list) = &ext.wheels {
            wheels(list, base, err)?
        } else {
            self::requirements(&requirements, err)?
        };
        if imports.is_empty() {
            let span = ext.project.as_ref().map(|p| p.span()).unwrap_or(0..0);
            return Err(err(
                span,
                "extension.imports is empty: name the modules to import, like [\"pkg\", \"pkg._native\"]".into(),
            ));
        }
        subject
    };
    let extras = match (&subject, &ext.extras) {
        (Subject::Sources(_), Some(e)) => {
            return Err(err(
                e.span(),
                "extension.extras applies to projects and package rows, not C sources".into(),
            ));
        }
        (_, Some(e)) => names(e, "extra", err)?,
        (_, None) => Vec::new(),
    };
    let (probe, probe_origin) = probe(ext.probe, ext.probe_file, base, err)?;
    Ok(Extension {
        subject,
        imports,
        probe,
        probe_origin,
        test: test(ext.test, err)?,
        test_requires: test_requires(ext.test_requires.as_ref(), base, err)?,
        extras,
    })
}

/// Plain names (extras, libraries): non-empty, no spaces or separators.
fn names(
    list: &Spanned<Vec<Spanned<String>>>,
    what: &str,
    err: &Err<'_>,
) -> Result<Vec<String>, ConfigError> {
    list.get_ref()
        .iter()
        .map(|n| {
            let name = n.get_ref().trim();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c))
            {
                Err(err(
                    n.span(),
                    format!("invalid {what} \"{name}\": expected a plain name like \"test\""),
                ))
            } else {
                Ok(name.to_string())
            }
        })
        .collect()
}

/// The headers in `dir` (what `Config::fingerprint` reads) are regular
/// files: a FIFO named `x.h` would block reading it, `/dev/zero` linked as
/// one would never end.
fn headers_are_files(dir: &Path, span: Span, err: &Err<'_>) -> Result<(), ConfigError> {
    for header in super::headers_in(dir) {
        if let Err(e) = crate::userfile::open(&header) {
            return Err(err(
                span,
                format!("cannot read header {}: {e}", header.display()),
            ));
        }
    }
    Ok(())
}

/// Paths relative to the config's folder, made absolute; each must be a
/// directory.
fn dirs(
    list: Option<&Spanned<Vec<Spanned<String>>>>,
    key: &str,
    base: &Path,
    err: &Err<'_>,
) -> Result<Vec<PathBuf>, ConfigError> {
    let mut out = Vec::new();
    for d in list.into_iter().flat_map(|l| l.get_ref()) {
        let path = base.join(d.get_ref());
        if !path.is_dir() {
            return Err(err(
                d.span(),
                format!("extension.{key}: {} is not a directory", path.display()),
            ));
        }
        out.push(path);
    }
    Ok(out)
}

/// `test-requires`: requirements as pip takes them, or `-r FILE` (FILE
/// relative to the config's folder, made absolute).
fn test_requires(
    list: Option<&Spanned<Vec<Spanned<String>>>>,
    base: &Path,
    err: &Err<'_>,
) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for r in list.into_iter().flat_map(|l| l.get_ref()) {
        let text = r.get_ref().trim();
        if let Some(file) = text.strip_prefix("-r").map(str::trim) {
            let path = base.join(file);
            if file.is_empty() || !path.exists() {
                return Err(err(
                    r.span(),
                    format!(
                        "extension.test-requires: no requirements file {}",
                        path.display()
                    ),
                ));
            }
            // uv reads it: a FIFO would block it, a device never end.
            if let Err(e) = crate::userfile::open(&path) {
                return Err(err(
                    r.span(),
                    format!(
                        "extension.test-requires: cannot read requirements file {}: {e}",
                        path.display()
                    ),
                ));
            }
            out.push(format!("-r {}", path.display()));
        } else if text.is_empty() || text.starts_with('-') {
            return Err(err(
                r.span(),
                format!(
                    "invalid test requirement \"{text}\": expected one like \"pytest>=8\" or \"-r requirements-test.txt\""
                ),
            ));
        } else {
            out.push(text.to_string());
        }
    }
    Ok(out)
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn imports(ext: &RawExtension, err: &Err<'_>) -> Result<Vec<String>, ConfigError> {
    let mut imports = Vec::new();
    for m in ext.imports.iter().flat_map(|l| l.get_ref()) {
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
    Ok(imports)
}

/// Keys that only C sources understand, refused for other subjects.
fn only_for_sources(ext: &RawExtension, err: &Err<'_>) -> Result<(), ConfigError> {
    let stray = [
        ext.module.as_ref().map(|m| ("module", m.span())),
        ext.cflags.as_ref().map(|c| ("cflags", c.span())),
        ext.ldflags.as_ref().map(|c| ("ldflags", c.span())),
        ext.include_dirs
            .as_ref()
            .map(|c| ("include-dirs", c.span())),
        ext.libraries.as_ref().map(|c| ("libraries", c.span())),
        ext.library_dirs
            .as_ref()
            .map(|c| ("library-dirs", c.span())),
    ];
    match stray.into_iter().flatten().next() {
        Some((key, span)) => Err(err(
            span,
            format!(
                "extension.{key} applies to C sources only; for projects and wheels, name the modules in extension.imports"
            ),
        )),
        None => Ok(()),
    }
}

fn sources(
    ext: &RawExtension,
    list: &Spanned<Vec<Spanned<String>>>,
    base: &Path,
    err: &Err<'_>,
) -> Result<Sources, ConfigError> {
    let Some(m) = &ext.module else {
        return Err(err(
            list.span(),
            "extension.sources needs extension.module: the module the sources define (PyInit_<module>)".into(),
        ));
    };
    let module = m.get_ref().trim().to_string();
    if !is_identifier(&module) {
        return Err(err(
            m.span(),
            format!(
                "invalid module name \"{module}\": expected a Python identifier like \"my_extension\""
            ),
        ));
    }
    if list.get_ref().is_empty() {
        return Err(err(
            list.span(),
            "extension.sources is empty: expected at least one C source file".into(),
        ));
    }
    let mut files = Vec::new();
    let mut include_dirs = dirs(ext.include_dirs.as_ref(), "include-dirs", base, err)?;
    for (dir, d) in include_dirs
        .iter()
        .zip(ext.include_dirs.iter().flat_map(|l| l.get_ref()))
    {
        headers_are_files(dir, d.span(), err)?;
    }
    for s in list.get_ref() {
        let path = base.join(s.get_ref());
        let contents = crate::userfile::read_to_string(&path, crate::userfile::TEXT_LIMIT)
            .map_err(|e| {
                err(
                    s.span(),
                    format!("cannot read source file {}: {e}", path.display()),
                )
            })?;
        if let Some(dir) = path.parent() {
            // A source's own folder is searched for "..." headers anyway
            // (it is compiled where it is); listed too, for headers a
            // source in another folder includes.
            if !include_dirs.iter().any(|d| d == dir) {
                headers_are_files(dir, s.span(), err)?;
                include_dirs.push(dir.to_path_buf());
            }
        }
        files.push(SourceFile {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "source.c".into()),
            path: Some(path),
            contents,
        });
    }
    let flags = |f: &Option<Spanned<Vec<String>>>| {
        f.as_ref().map(|c| c.get_ref().clone()).unwrap_or_default()
    };
    Ok(Sources {
        module,
        files,
        include_dirs,
        libraries: match &ext.libraries {
            Some(l) => names(l, "library", err)?,
            None => Vec::new(),
        },
        library_dirs: dirs(ext.library_dirs.as_ref(), "library-dirs", base, err)?,
        cflags: flags(&ext.cflags),
        ldflags: flags(&ext.ldflags),
        builtin: false,
        // Checked, with its span, by `abi::limited_api`.
        limited_api: ext
            .limited_api
            .as_ref()
            .and_then(|l| l.get_ref().parse().ok()),
    })
}

fn project(p: &Spanned<String>, base: &Path, err: &Err<'_>) -> Result<Subject, ConfigError> {
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
    Ok(Subject::Project(path))
}

fn wheels(
    list: &Spanned<Vec<Spanned<String>>>,
    base: &Path,
    err: &Err<'_>,
) -> Result<Subject, ConfigError> {
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
        if let Some((path, e)) = matched
            .iter()
            .find_map(|p| crate::userfile::open(p).err().map(|e| (p, e)))
        {
            return Err(err(
                w.span(),
                format!("cannot read wheel {}: {e}", path.display()),
            ));
        }
        matched.sort();
        rows.extend(matched.into_iter().map(RowSource::Wheel));
    }
    Ok(Subject::Rows(rows))
}

fn requirements(list: &[Spanned<String>], err: &Err<'_>) -> Result<Subject, ConfigError> {
    let mut rows = Vec::new();
    for r in list {
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
    Ok(Subject::Rows(rows))
}

/// The probe's code, and where it was written (for the errors and
/// tracebacks that point there).
fn probe(
    code: Option<Spanned<String>>,
    file: Option<Spanned<String>>,
    base: &Path,
    err: &Err<'_>,
) -> Result<(String, ProbeOrigin), ConfigError> {
    match (code, file) {
        (Some(_), Some(f)) => Err(err(
            f.span(),
            "give either extension.probe or extension.probe-file, not both".into(),
        )),
        (Some(code), None) => {
            let span = code.span();
            Ok((code.into_inner(), ProbeOrigin::Inline { span }))
        }
        (None, Some(f)) => {
            let path = base.join(f.get_ref());
            let code = crate::userfile::read_to_string(&path, crate::userfile::TEXT_LIMIT)
                .map_err(|e| {
                    err(
                        f.span(),
                        format!("cannot read probe file {}: {e}", path.display()),
                    )
                })?;
            Ok((
                code,
                ProbeOrigin::File {
                    written: f.into_inner(),
                },
            ))
        }
        (None, None) => Ok((String::new(), ProbeOrigin::Builtin)),
    }
}

fn test(raw: Option<Spanned<String>>, err: &Err<'_>) -> Result<Option<String>, ConfigError> {
    let Some(t) = raw else { return Ok(None) };
    if t.get_ref().trim().is_empty() {
        return Err(err(
            t.span(),
            "extension.test is empty: expected a command like \"python -m pytest -q --pyargs pkg\""
                .into(),
        ));
    }
    if shlex::split(t.get_ref()).is_none() {
        return Err(err(
            t.span(),
            "extension.test is not a valid command line (unbalanced quotes?)".into(),
        ));
    }
    Ok(Some(t.into_inner()))
}
