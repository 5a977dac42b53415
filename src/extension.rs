//! The extension under test: C sources, the module they define, the probe
//! that exercises it, and extra compiler flags.
//!
//! The built-in sample is embedded in the binary so `matrix run` works from
//! any directory with no files but `matrix.toml`.

use std::path::PathBuf;

/// One C source, held in memory: sources are small, and holding them lets a
/// build be reproduced exactly even if the file changes mid-run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub name: String,
    pub contents: String,
}

#[derive(Debug, Clone)]
pub struct Extension {
    /// The Python module name; `PyInit_<module>` must exist in the sources.
    pub module: String,
    pub sources: Vec<SourceFile>,
    /// Python code run after the import, with `np` and `module` bound; an
    /// `AssertionError` is a wrong result. Empty: importing is the test.
    pub probe: String,
    pub cflags: Vec<String>,
    pub include_dirs: Vec<PathBuf>,
    /// True for the embedded sample.
    pub builtin: bool,
}

const SAMPLE_SOURCE: &str = include_str!("sample/my_extension.c");
const SAMPLE_PROBE: &str = include_str!("sample/probe.py");

impl Extension {
    /// `my_extension.get_array_dim`, from the seed write-up.
    pub fn sample() -> Extension {
        Extension {
            module: "my_extension".to_string(),
            sources: vec![SourceFile {
                name: "my_extension.c".to_string(),
                contents: SAMPLE_SOURCE.to_string(),
            }],
            probe: SAMPLE_PROBE.to_string(),
            cflags: Vec::new(),
            include_dirs: Vec::new(),
            builtin: true,
        }
    }

    /// How the report names it.
    pub fn label(&self) -> String {
        if self.builtin {
            format!("sample extension {}", self.module)
        } else {
            format!("extension {}", self.module)
        }
    }
}
