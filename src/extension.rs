//! The subject under test, and how each cell exercises it.
//!
//! Three kinds of subject: C sources compiled here (the built-in sample is
//! one, embedded in the binary so `matrix run` works from any directory), a
//! Python project built into a wheel against each build NumPy, or published
//! wheels (files or requirements), which have no build axis: each is a row.
//! Whatever the kind, a row ends as an artifact directory that the probe puts
//! first on `sys.path` in a runtime environment holding only NumPy. What
//! only one kind has lives in that kind's variant, so no field means
//! nothing.

use std::fmt;
use std::path::PathBuf;

/// One C source. A user's source is compiled where it is, by its absolute
/// path, so the compiler's messages name the user's own file; its contents
/// are read once at load for the build's key. The embedded sample has no
/// file: it is written into its build directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Absolute; `None` for the embedded sample.
    pub path: Option<PathBuf>,
    pub name: String,
    pub contents: String,
}

/// C sources compiled against each build NumPy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    /// The module the sources define (`PyInit_<module>`).
    pub module: String,
    pub files: Vec<SourceFile>,
    /// `-I` folders: the ones named in matrix.toml, then each source's own.
    pub include_dirs: Vec<PathBuf>,
    /// `-l` names and `-L` folders for the link.
    pub libraries: Vec<String>,
    pub library_dirs: Vec<PathBuf>,
    pub cflags: Vec<String>,
    pub ldflags: Vec<String>,
    /// True for the embedded sample.
    pub builtin: bool,
    /// `limited-api`: compiled with `Py_LIMITED_API` for this Python and
    /// named `<module>.abi3.so`.
    pub limited_api: Option<crate::python::abi::LimitedApi>,
}

/// A row of published code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RowSource {
    /// A wheel file.
    Wheel(PathBuf),
    /// A requirement fetched from the index ("pandas==2.0.3").
    Requirement(String),
}

impl RowSource {
    /// What the installer is given (with `extras`, when there are any).
    pub fn install_arg(&self, extras: &[String]) -> String {
        let base = match self {
            RowSource::Wheel(p) => p.display().to_string(),
            RowSource::Requirement(r) => r.clone(),
        };
        if extras.is_empty() {
            return base;
        }
        let extras = format!("[{}]", extras.join(","));
        match self {
            RowSource::Wheel(_) => base + &extras,
            // "pandas==2.0.3" -> "pandas[test]==2.0.3".
            RowSource::Requirement(r) => {
                let name_end = r
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
                    .unwrap_or(r.len());
                format!("{}{extras}{}", &r[..name_end], &r[name_end..])
            }
        }
    }

    /// The distribution's name and, where the source says it, its version:
    /// a wheel's file name (PEP 427) or an exact `==` pin.
    pub fn declared(&self) -> (String, Option<String>) {
        match self {
            RowSource::Wheel(p) => {
                let file = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let mut parts = file.splitn(3, '-');
                let name = parts.next().unwrap_or_default().replace('_', "-");
                (name, parts.next().map(str::to_string))
            }
            RowSource::Requirement(r) => {
                let (name, rest) = split_requirement(r);
                let version = rest
                    .strip_prefix("==")
                    .map(str::trim)
                    .filter(|v| !v.is_empty() && !v.contains([',', '*', ';', ' ']));
                (name.to_string(), version.map(str::to_string))
            }
        }
    }

    /// The wheel file's name, or the requirement as written.
    pub fn written(&self) -> String {
        match self {
            RowSource::Wheel(p) => p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            RowSource::Requirement(r) => r.clone(),
        }
    }
}

/// A requirement's project name, and what follows its extras (the version
/// specifiers and markers, or `@ URL`), trimmed.
pub(crate) fn split_requirement(requirement: &str) -> (&str, &str) {
    let name_end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(requirement.len());
    let rest = requirement[name_end..].trim();
    let rest = rest.strip_prefix('[').map_or(rest, |x| {
        x.split_once(']').map_or("", |(_, tail)| tail.trim())
    });
    (&requirement[..name_end], rest)
}

/// A row of published code, named as grids show it ("pandas 2.1.4").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackageRow {
    pub source: RowSource,
    pub name: String,
    /// From the wheel's name or an exact pin, else as resolved for the
    /// interpreter; `None` only when it could not be resolved.
    pub version: Option<String>,
    /// Yanked on the index (PEP 592), with its reason ("" for none): only
    /// an exact pin takes a yanked release.
    pub yanked: Option<String>,
    /// Why the row cannot load under the interpreter it was resolved for,
    /// found by the plan before any install: a wheel file's tag (`cp39-abi3`
    /// under 3.8), a pinned release whose wheels for this platform on the
    /// index are all for other Pythons, or a range whose every release is.
    /// One value that the runner (nothing installed, `unavailable
    /// (python-abi)`) and the expectations read.
    pub python_gap: Option<String>,
}

impl PackageRow {
    /// The wheel tag a wheel file's name ends with (`cp39-abi3-manylinux…`,
    /// PEP 427); `None` for a requirement, whose wheel the installer picks.
    pub fn wheel_tag(&self) -> Option<String> {
        let RowSource::Wheel(path) = &self.source else {
            return None;
        };
        let name = path.file_name()?.to_str()?;
        let parts: Vec<&str> = name.strip_suffix(".whl")?.split('-').collect();
        Some(parts.get(parts.len().checked_sub(3)?..)?.join("-"))
    }

    /// A row whose version the source itself says (or none yet).
    pub fn new(source: RowSource) -> PackageRow {
        let (name, version) = source.declared();
        PackageRow {
            source,
            name,
            version,
            yanked: None,
            python_gap: None,
        }
    }

    /// Whether `[[expect]] row = pattern` names this row: the requirement as
    /// written, a glob over the wheel's file name (or path), or the label.
    pub fn matches(&self, pattern: &str) -> bool {
        let pattern = pattern.trim();
        if pattern == self.to_string() || pattern == self.source.written() {
            return true;
        }
        let Ok(glob) = glob::Pattern::new(pattern) else {
            return false;
        };
        match &self.source {
            RowSource::Wheel(p) => glob.matches(&self.source.written()) || glob.matches_path(p),
            RowSource::Requirement(r) => glob.matches(r),
        }
    }
}

impl fmt::Display for PackageRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{} {v}", self.name),
            None => f.write_str(&self.source.written()),
        }
    }
}

/// What is built or installed per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Sources(Sources),
    /// A Python project (pyproject.toml) built into a wheel against each
    /// build NumPy.
    Project(PathBuf),
    /// Published wheels or requirements: one row each, no build axis.
    Rows(Vec<RowSource>),
}

#[derive(Debug, Clone)]
pub struct Extension {
    pub subject: Subject,
    /// Modules the probe imports, in order; `module` is bound to the first.
    pub imports: Vec<String>,
    /// Python code run after the imports, with `np` and `module` bound; an
    /// `AssertionError` is a wrong result. Empty: importing is the test.
    pub probe: String,
    /// Where the probe was written.
    pub probe_origin: ProbeOrigin,
    /// A command run per cell instead of the probe (process isolation); its
    /// exit status decides pass or fail, a signal decides crash.
    pub test: Option<String>,
    /// Installed into each cell with the column's NumPy pinned (`-r FILE`
    /// entries hold absolute paths).
    pub test_requires: Vec<String>,
    /// Extras of the package under test (projects and package rows).
    pub extras: Vec<String>,
}

/// Where a probe's code was written: what its syntax errors point at and
/// its tracebacks name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProbeOrigin {
    /// The built-in sample's (or no probe).
    #[default]
    Builtin,
    /// `probe = "..."`: the string at `span` (its quotes included) of the
    /// config file.
    Inline { span: std::ops::Range<usize> },
    /// `probe-file = "..."`, as written (relative to the config's folder).
    File { written: String },
}

const SAMPLE_SOURCE: &str = include_str!("sample/my_extension.c");
const SAMPLE_PROBE: &str = include_str!("sample/probe.py");

/// What each cell runs, and so what a pass shows: that the modules import,
/// that the probe holds after importing them, or that the package's own
/// test command passes. A bound is called too strict only on a pass that
/// exercised the package (the probe or its tests), never on an import alone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Exercise {
    Imports { modules: Vec<String> },
    Probe { modules: Vec<String> },
    Test { command: String },
}

impl Exercise {
    /// Whether a pass shows more than that the modules import.
    pub fn exercises(&self) -> bool {
        !matches!(self, Exercise::Imports { .. })
    }
}

impl fmt::Display for Exercise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exercise::Imports { modules } => {
                write!(f, "importing {} only", modules.join(", "))
            }
            Exercise::Probe { modules } if modules.is_empty() => f.write_str("the probe"),
            Exercise::Probe { modules } => {
                write!(f, "the probe, after importing {}", modules.join(", "))
            }
            Exercise::Test { command } => write!(f, "the test command `{command}`"),
        }
    }
}

/// What kind of rows a subject has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    Sources,
    Project,
    /// Published wheels and requirements: rows are packages, not builds.
    Packages,
}

impl fmt::Display for SubjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubjectKind::Sources => "sources",
            SubjectKind::Project => "project",
            SubjectKind::Packages => "packages",
        })
    }
}

impl Subject {
    pub fn kind(&self) -> SubjectKind {
        match self {
            Subject::Sources(_) => SubjectKind::Sources,
            Subject::Project(_) => SubjectKind::Project,
            Subject::Rows(_) => SubjectKind::Packages,
        }
    }
}

impl Extension {
    /// `my_extension.get_array_dim`, from the seed write-up.
    pub fn sample() -> Extension {
        Extension {
            subject: Subject::Sources(Sources {
                module: "my_extension".to_string(),
                files: vec![SourceFile {
                    path: None,
                    name: "my_extension.c".to_string(),
                    contents: SAMPLE_SOURCE.to_string(),
                }],
                include_dirs: Vec::new(),
                libraries: Vec::new(),
                library_dirs: Vec::new(),
                cflags: Vec::new(),
                ldflags: Vec::new(),
                builtin: true,
                limited_api: None,
            }),
            imports: vec!["my_extension".to_string()],
            probe: SAMPLE_PROBE.to_string(),
            probe_origin: ProbeOrigin::Builtin,
            test: None,
            test_requires: Vec::new(),
            extras: Vec::new(),
        }
    }

    /// How the report names it.
    pub fn label(&self) -> String {
        match &self.subject {
            Subject::Sources(s) if s.builtin => format!("sample extension {}", s.module),
            Subject::Sources(s) => format!("extension {}", s.module),
            Subject::Project(p) => format!("project {}", p.display()),
            Subject::Rows(rows) => {
                let names: Vec<String> = rows.iter().map(RowSource::written).collect();
                format!("wheels {}", names.join(", "))
            }
        }
    }

    /// What a passing cell has shown works: the imports alone, the probe
    /// after them, or the test command.
    pub fn exercise(&self) -> Exercise {
        match (&self.test, self.probe.trim().is_empty()) {
            (Some(command), _) => Exercise::Test {
                command: command.clone(),
            },
            (None, true) => Exercise::Imports {
                modules: self.imports.clone(),
            },
            (None, false) => Exercise::Probe {
                modules: self.imports.clone(),
            },
        }
    }

    /// Whether rows are NumPy versions to build against (else published rows).
    pub fn has_build_axis(&self) -> bool {
        !matches!(self.subject, Subject::Rows(_))
    }

    /// The flags the sources are compiled with (none for other subjects):
    /// NumPy's rules read `NPY_TARGET_VERSION` from them.
    pub fn cflags(&self) -> &[String] {
        match &self.subject {
            Subject::Sources(s) => &s.cflags,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_named_by_distribution_and_version() {
        let wheel = RowSource::Wheel(PathBuf::from(
            "/p/dist/pandas-2.0.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        ));
        assert_eq!(PackageRow::new(wheel.clone()).to_string(), "pandas 2.0.3");
        let odd = RowSource::Wheel(PathBuf::from(
            "/p/Bottleneck-1.3.7-cp311-cp311-linux_x86_64.whl",
        ));
        assert_eq!(PackageRow::new(odd).to_string(), "Bottleneck 1.3.7");
        let pinned = RowSource::Requirement("scipy[test]==1.11.4".into());
        assert_eq!(pinned.declared(), ("scipy".into(), Some("1.11.4".into())));
        let ranged = RowSource::Requirement("pandas>=2,<3".into());
        assert_eq!(ranged.declared(), ("pandas".into(), None));
        assert_eq!(PackageRow::new(ranged).to_string(), "pandas>=2,<3");
    }

    #[test]
    fn extras_go_where_the_installer_expects_them() {
        let r = RowSource::Requirement("pandas==2.0.3".into());
        assert_eq!(
            r.install_arg(&["test".into(), "performance".into()]),
            "pandas[test,performance]==2.0.3"
        );
        assert_eq!(r.install_arg(&[]), "pandas==2.0.3");
        let w = RowSource::Wheel(PathBuf::from("/d/x-1.0-py3-none-any.whl"));
        assert_eq!(w.install_arg(&["a".into()]), "/d/x-1.0-py3-none-any.whl[a]");
    }

    #[test]
    fn expectations_name_rows_three_ways() {
        let row = PackageRow::new(RowSource::Wheel(PathBuf::from(
            "/p/dist/pandas-2.0.3-cp311-cp311-manylinux_2_17_x86_64.whl",
        )));
        assert!(row.matches("pandas 2.0.3"));
        assert!(row.matches("pandas-2.0.3-*.whl"));
        assert!(row.matches("/p/dist/*.whl"));
        assert!(!row.matches("pandas 2.1.0"));
        let req = PackageRow {
            source: RowSource::Requirement("pandas>=2".into()),
            name: "pandas".into(),
            version: Some("2.2.3".into()),
            yanked: None,
            python_gap: None,
        };
        assert!(req.matches("pandas>=2") && req.matches("pandas 2.2.3"));
        assert!(!req.matches("scipy*"));
    }
}
