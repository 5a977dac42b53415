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

/// One C source, held in memory: sources are small, and holding them lets a
/// build be reproduced exactly even if the file changes mid-run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub name: String,
    pub contents: String,
}

/// C sources compiled against each build NumPy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    /// The module the sources define (`PyInit_<module>`).
    pub module: String,
    pub files: Vec<SourceFile>,
    pub include_dirs: Vec<PathBuf>,
    pub cflags: Vec<String>,
    /// True for the embedded sample.
    pub builtin: bool,
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
    /// What the installer is given.
    pub fn install_arg(&self) -> String {
        match self {
            RowSource::Wheel(p) => p.display().to_string(),
            RowSource::Requirement(r) => r.clone(),
        }
    }
}

impl fmt::Display for RowSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowSource::Wheel(p) => write!(
                f,
                "{}",
                p.file_name().map_or_else(
                    || p.display().to_string(),
                    |n| n.to_string_lossy().into_owned()
                )
            ),
            RowSource::Requirement(r) => f.write_str(r),
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
    /// A command run per cell instead of the probe (process isolation); its
    /// exit status decides pass or fail, a signal decides crash.
    pub test: Option<String>,
}

const SAMPLE_SOURCE: &str = include_str!("sample/my_extension.c");
const SAMPLE_PROBE: &str = include_str!("sample/probe.py");

impl Extension {
    /// `my_extension.get_array_dim`, from the seed write-up.
    pub fn sample() -> Extension {
        Extension {
            subject: Subject::Sources(Sources {
                module: "my_extension".to_string(),
                files: vec![SourceFile {
                    name: "my_extension.c".to_string(),
                    contents: SAMPLE_SOURCE.to_string(),
                }],
                include_dirs: Vec::new(),
                cflags: Vec::new(),
                builtin: true,
            }),
            imports: vec!["my_extension".to_string()],
            probe: SAMPLE_PROBE.to_string(),
            test: None,
        }
    }

    /// How the report names it.
    pub fn label(&self) -> String {
        match &self.subject {
            Subject::Sources(s) if s.builtin => format!("sample extension {}", s.module),
            Subject::Sources(s) => format!("extension {}", s.module),
            Subject::Project(p) => format!("project {}", p.display()),
            Subject::Rows(rows) => {
                let names: Vec<String> = rows.iter().map(ToString::to_string).collect();
                format!("wheels {}", names.join(", "))
            }
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
