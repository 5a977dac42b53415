//! Finding the suspects: every installed distribution that ships a compiled
//! module using NumPy's C API, read from the files on disk, never by
//! importing anything (an import is what breaks; the scan must not).
//!
//! The rule, and why: a compiled module can only use NumPy's C API through
//! `import_array()` / `import_umath()` (or Cython's `cimport numpy`, which
//! calls them), and those leave fixed byte strings in the shared object:
//! the capsule names `_ARRAY_API` / `_UFUNC_API` that every NumPy since 1.0
//! and 2.x export, the module they are read from (`numpy.core._multiarray_umath`
//! in 1.x headers, `numpy._core._multiarray_umath` in 2.x), and the
//! `numpy.core.multiarray failed to import` text of Cython's `import_array`.
//! A module with none of them cannot call NumPy's C API (it may still
//! import numpy as a Python module, which no ABI change breaks). Only files
//! listed in the distribution's RECORD with one of the interpreter's own
//! extension suffixes count, so vendored libraries (`numpy.libs/*.so`)
//! are not mistaken for modules. NumPy itself is the provider, not a suspect.
//!
//! What is scanned: every `*.dist-info` folder on the interpreter's
//! `sys.path` (as `-I` sees it: no `PYTHONPATH`, no user site-packages);
//! the first of one name wins, as importlib would pick it. Legacy
//! `.egg-info` installs have no RECORD and are not scanned.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use regex::bytes::Regex;
use serde::Serialize;

/// The byte strings that mark a module as a user of NumPy's C API (see the
/// module doc). Shared with the grid probe, which applies the same rule to
/// other releases of a package.
pub const MARKERS: [&str; 6] = [
    "_ARRAY_API",
    "_UFUNC_API",
    "numpy.core._multiarray_umath",
    "numpy._core._multiarray_umath",
    "numpy.core.multiarray",
    "numpy._core.multiarray",
];

static MARKER: LazyLock<Regex> = LazyLock::new(|| {
    let alternatives: Vec<String> = MARKERS.iter().map(|m| regex::escape(m)).collect();
    // Built from constants; checked by the unit tests below.
    Regex::new(&alternatives.join("|")).expect("built-in marker pattern")
});

/// Whether the bytes of a compiled module carry NumPy's C-API markers.
pub fn uses_c_api(bytes: &[u8]) -> bool {
    MARKER.is_match(bytes)
}

/// An installed distribution, as its dist-info says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Distribution {
    pub name: String,
    pub version: String,
    pub dist_info: PathBuf,
    /// Its `Requires-Dist` lines that name numpy (extras aside), as written.
    pub numpy_requires: Vec<String>,
    /// The names of everything it requires (extras aside), as written:
    /// what a missing module is matched against.
    pub requires: Vec<String>,
    /// Compiled modules that use NumPy's C API, by import name, sorted.
    pub c_api_modules: Vec<String>,
    /// Its importable top-level packages and modules.
    pub top_level: Vec<String>,
}

/// What the scan found.
#[derive(Debug, Clone, Serialize)]
pub struct Scan {
    /// Distributions looked at.
    pub scanned: usize,
    /// Compiled modules read.
    pub compiled_modules: usize,
    #[serde(serialize_with = "crate::doctor::secs")]
    pub duration: Duration,
    /// The installed NumPy's version, if there is one.
    pub numpy: Option<String>,
    pub suspects: Vec<Distribution>,
}

/// Scans the distributions in `dirs` (in `sys.path` order); `suffixes` are
/// the interpreter's extension-module suffixes.
pub fn scan(dirs: &[PathBuf], suffixes: &[String]) -> Scan {
    let start = Instant::now();
    // Sorted once, not for each of the thousands of RECORD lines.
    let suffixes = &longest_first(suffixes);
    let mut seen = BTreeSet::new();
    let mut scanned = 0;
    let mut compiled_modules = 0;
    let mut numpy = None;
    let mut suspects = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut infos: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "dist-info") && p.is_dir())
            .collect();
        infos.sort();
        for info in infos {
            let Some(meta) = read_metadata(&info) else {
                continue;
            };
            if !seen.insert(normalize(&meta.name)) {
                continue;
            }
            scanned += 1;
            if normalize(&meta.name) == "numpy" {
                numpy = Some(meta.version.clone());
                continue;
            }
            let record = std::fs::read_to_string(info.join("RECORD")).unwrap_or_default();
            let paths = record_paths(&record);
            let mut modules = Vec::new();
            for path in &paths {
                let Some(module) = extension_module(path, suffixes) else {
                    continue;
                };
                compiled_modules += 1;
                // A file that cannot be read is not evidence of anything.
                if std::fs::read(dir.join(path)).is_ok_and(|b| uses_c_api(&b)) {
                    modules.push(module);
                }
            }
            if modules.is_empty() {
                continue;
            }
            modules.sort();
            suspects.push(Distribution {
                top_level: top_level(&info, &paths, suffixes),
                name: meta.name,
                version: meta.version,
                dist_info: info,
                numpy_requires: meta.numpy_requires,
                requires: meta.requires,
                c_api_modules: modules,
            });
        }
    }
    suspects.sort_by_key(|d| normalize(&d.name));
    Scan {
        scanned,
        compiled_modules,
        duration: start.elapsed(),
        numpy,
        suspects,
    }
}

/// PEP 503 normalization: `Foo_Bar.baz` and `foo-bar-baz` are one name.
pub use crate::python::index::normalize;

struct Metadata {
    name: String,
    version: String,
    numpy_requires: Vec<String>,
    requires: Vec<String>,
}

fn read_metadata(info: &Path) -> Option<Metadata> {
    let text = std::fs::read_to_string(info.join("METADATA")).ok()?;
    parse_metadata(&text)
}

/// Name, Version and the numpy lines of Requires-Dist, from the headers of
/// a METADATA file (the body after the first blank line is the README).
fn parse_metadata(text: &str) -> Option<Metadata> {
    let (mut name, mut version) = (None, None);
    let (mut numpy_requires, mut requires) = (Vec::new(), Vec::new());
    for line in text.lines() {
        // Headers end at the first empty line; a line that starts with
        // whitespace continues the header before it (a folded License),
        // even when it looks blank.
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(value.to_string()),
            "version" => version = Some(value.to_string()),
            "requires-dist" if !extra_only(value) => {
                if names_numpy(value) {
                    numpy_requires.push(value.to_string());
                }
                let end = value
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
                    .unwrap_or(value.len());
                if end > 0 && !requires.iter().any(|r| r == &value[..end]) {
                    requires.push(value[..end].to_string());
                }
            }
            _ => {}
        }
    }
    Some(Metadata {
        name: name?,
        version: version?,
        numpy_requires,
        requires,
    })
}

/// Whether a requirement is on numpy itself (not `numpy-quaternion`).
fn names_numpy(requirement: &str) -> bool {
    crate::build::project::requirement_name(requirement) == "numpy"
}

/// Whether a requirement applies only with an extra (`; extra == "test"`),
/// read as the build's declaration check reads it.
fn extra_only(requirement: &str) -> bool {
    requirement
        .split_once(';')
        .is_some_and(|(_, marker)| marker.contains("extra"))
}

/// The first column of each RECORD row (a CSV file; quoted when needed).
pub fn record_paths(record: &str) -> Vec<String> {
    record
        .lines()
        .filter_map(|line| {
            let path = if let Some(rest) = line.strip_prefix('"') {
                let mut out = String::new();
                let mut chars = rest.chars().peekable();
                while let Some(c) = chars.next() {
                    if c == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            out.push('"');
                        } else {
                            break;
                        }
                    } else {
                        out.push(c);
                    }
                }
                out
            } else {
                line.split(',').next().unwrap_or_default().to_string()
            };
            (!path.is_empty()).then_some(path)
        })
        .collect()
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// `suffixes`, the longest first.
pub fn longest_first(suffixes: &[String]) -> Vec<String> {
    let mut sorted = suffixes.to_vec();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    sorted
}

/// The import name of a RECORD path that is an extension module for this
/// interpreter (`pandas/_libs/algos.cpython-311-x86_64-linux-gnu.so` →
/// `pandas._libs.algos`); `None` for anything else. `suffixes` longest
/// first (see [`longest_first`]): `.cpython-311-x86_64-linux-gnu.so`
/// before `.so`.
pub fn extension_module(path: &str, suffixes: &[String]) -> Option<String> {
    let stem = suffixes
        .iter()
        .find_map(|s| path.strip_suffix(s.as_str()))?;
    let parts: Vec<&str> = stem.split('/').collect();
    parts
        .iter()
        .all(|p| is_identifier(p))
        .then(|| parts.join("."))
}

/// Importable top-level names: `top_level.txt` when the installer wrote
/// one, else the first component of RECORD paths that are packages
/// (`x/__init__.py`) or modules (`x.py`, `x.<suffix>`).
fn top_level(info: &Path, paths: &[String], suffixes: &[String]) -> Vec<String> {
    if let Ok(text) = std::fs::read_to_string(info.join("top_level.txt")) {
        let names: BTreeSet<String> = text
            .lines()
            .map(str::trim)
            .filter(|n| is_identifier(n))
            .map(String::from)
            .collect();
        if !names.is_empty() {
            return names.into_iter().collect();
        }
    }
    top_level_from_record(paths, suffixes)
}

pub fn top_level_from_record(paths: &[String], suffixes: &[String]) -> Vec<String> {
    let mut names = BTreeSet::new();
    for path in paths {
        let name = match path.split_once('/') {
            Some((first, "__init__.py")) => Some(first.to_string()),
            Some(_) => None,
            None => path
                .strip_suffix(".py")
                .map(String::from)
                .or_else(|| extension_module(path, suffixes)),
        };
        if let Some(n) = name.filter(|n| is_identifier(n)) {
            names.insert(n);
        }
    }
    names.into_iter().collect()
}

/// The specifiers of the `Requires-Dist: numpy ...` lines whose markers
/// hold for `python` (markers other than `python_version` /
/// `python_full_version` comparisons are taken to hold).
pub fn declared(
    lines: &[String],
    python: Option<&pep440_rs::Version>,
) -> Vec<pep440_rs::VersionSpecifiers> {
    lines
        .iter()
        .filter_map(|line| {
            let (req, marker) = line.split_once(';').unwrap_or((line, ""));
            if !marker_holds(marker, python) {
                return None;
            }
            let spec: String = req
                .trim()
                .trim_start_matches(|c: char| c.is_ascii_alphanumeric() || "-_.".contains(c))
                .chars()
                .filter(|c| !matches!(c, '(' | ')') && !c.is_whitespace())
                .collect();
            if spec.is_empty() {
                return None;
            }
            <pep440_rs::VersionSpecifiers as std::str::FromStr>::from_str(&spec).ok()
        })
        .collect()
}

/// Whether a marker holds for `python` (unknown: it holds), read as the
/// grid reads declarations.
fn marker_holds(marker: &str, python: Option<&pep440_rs::Version>) -> bool {
    python.is_none_or(|p| crate::build::python_marker_holds(marker.trim(), p))
}

/// The `Requires-Dist: numpy` lines whose markers hold for `python`.
pub fn applicable(lines: &[String], python: Option<&pep440_rs::Version>) -> Vec<String> {
    lines
        .iter()
        .filter(|l| marker_holds(l.split_once(';').map_or("", |(_, m)| m), python))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suffixes() -> Vec<String> {
        [".cpython-311-x86_64-linux-gnu.so", ".abi3.so", ".so"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn the_rule_finds_each_marker_and_nothing_else() {
        for m in MARKERS {
            let bytes = [b"\x7fELF\0\0".as_slice(), m.as_bytes(), b"\0tail"].concat();
            assert!(uses_c_api(&bytes), "{m}");
        }
        // A module that only imports numpy as Python, or another capsule.
        assert!(!uses_c_api(b"\0numpy\0PyImport_ImportModule\0_C_API\0"));
        assert!(!uses_c_api(b"numpy.core\0multiarray"));
    }

    #[test]
    fn extension_modules_are_named_by_their_import_path() {
        let s = suffixes();
        assert_eq!(
            extension_module("pandas/_libs/algos.cpython-311-x86_64-linux-gnu.so", &s).as_deref(),
            Some("pandas._libs.algos")
        );
        assert_eq!(
            extension_module("pkg/_native.abi3.so", &s).as_deref(),
            Some("pkg._native")
        );
        // Vendored libraries and data are not modules.
        assert_eq!(
            extension_module("numpy.libs/libopenblas64_p-r0.3.so", &s),
            None
        );
        assert_eq!(extension_module("../../lib/libfoo.so", &s), None);
        assert_eq!(extension_module("pandas/__init__.py", &s), None);
    }

    #[test]
    fn record_rows_are_read_as_csv() {
        let record = "pandas/__init__.py,sha256=abc,123\n\"odd, name/x.py\",sha256=def,4\npandas-2.0.3.dist-info/RECORD,,\n";
        assert_eq!(
            record_paths(record),
            [
                "pandas/__init__.py",
                "odd, name/x.py",
                "pandas-2.0.3.dist-info/RECORD"
            ]
        );
    }

    #[test]
    fn metadata_gives_the_numpy_requirements_without_extras() {
        let text = "Metadata-Version: 2.1\nName: pandas\nVersion: 2.0.3\nLicense: BSD\n        \n        Requires-Dist: numpy<0 (folded)\nRequires-Dist: python-dateutil (>=2.8.2)\nRequires-Dist: numpy (>=1.21.0) ; python_version >= \"3.10\"\nRequires-Dist: numpy-quaternion\nRequires-Dist: numpy>=1.26; extra == \"test\"\n\nRequires-Dist: numpy<0 (in the README)\n";
        let m = parse_metadata(text).unwrap();
        assert_eq!((m.name.as_str(), m.version.as_str()), ("pandas", "2.0.3"));
        assert_eq!(
            m.numpy_requires,
            ["numpy (>=1.21.0) ; python_version >= \"3.10\""]
        );
        assert_eq!(m.requires, ["python-dateutil", "numpy", "numpy-quaternion"]);
        assert!(parse_metadata("Name: x\n").is_none(), "no version");
    }

    #[test]
    fn top_levels_come_from_packages_and_modules() {
        let paths: Vec<String> = [
            "pkg/__init__.py",
            "pkg/sub/__init__.py",
            "single.py",
            "fast.cpython-311-x86_64-linux-gnu.so",
            "pkg-1.0.dist-info/METADATA",
            "../../bin/tool",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            top_level_from_record(&paths, &suffixes()),
            ["fast", "pkg", "single"]
        );
    }

    #[test]
    fn a_site_folder_is_scanned_for_suspects() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path();
        let dist = |name: &str, version: &str, files: &[(&str, &[u8])], requires: &str| {
            let info = site.join(format!("{name}-{version}.dist-info"));
            std::fs::create_dir_all(&info).unwrap();
            std::fs::write(
                info.join("METADATA"),
                format!("Name: {name}\nVersion: {version}\n{requires}"),
            )
            .unwrap();
            let mut record = String::new();
            for (path, bytes) in files {
                let full = site.join(path);
                std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                std::fs::write(&full, bytes).unwrap();
                record.push_str(&format!("{path},,\n"));
            }
            std::fs::write(info.join("RECORD"), record).unwrap();
        };
        let so = ".cpython-311-x86_64-linux-gnu.so";
        dist(
            "numpy",
            "2.0.2",
            &[(&format!("numpy/_core/_multiarray_umath{so}"), b"_ARRAY_API")],
            "",
        );
        dist(
            "uses_numpy",
            "1.0",
            &[
                ("uses_numpy/__init__.py", b""),
                (&format!("uses_numpy/_ext{so}"), b"\0_ARRAY_API\0"),
                (&format!("uses_numpy/_plain{so}"), b"\0nothing\0"),
            ],
            "Requires-Dist: numpy>=1.23\n",
        );
        dist(
            "plain",
            "3.0",
            &[
                ("plain/__init__.py", b""),
                (&format!("plain/_speedups{so}"), b"x"),
            ],
            "",
        );
        let scan = scan(&[site.to_path_buf()], &suffixes());
        assert_eq!(scan.scanned, 3);
        assert_eq!(scan.compiled_modules, 3, "numpy's own are not read");
        assert_eq!(scan.numpy.as_deref(), Some("2.0.2"));
        assert_eq!(scan.suspects.len(), 1, "{:?}", scan.suspects);
        let s = &scan.suspects[0];
        assert_eq!(s.name, "uses_numpy");
        assert_eq!(s.c_api_modules, ["uses_numpy._ext"]);
        assert_eq!(s.top_level, ["uses_numpy"]);
        assert_eq!(s.numpy_requires, ["numpy>=1.23"]);
    }
}
