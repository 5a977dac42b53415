//! Advice for the first mistakes people make with a C extension, attached
//! to the cells they cause and shown under the grid and in `explain`:
//!
//! - a crash in the first NumPy call from sources that never call
//!   `import_array()` (NumPy's C-API table is then a null pointer);
//! - an `undefined symbol` at import that a `libraries` entry would
//!   resolve: the library that defines it is looked up on this machine.
//!
//! (A module that does not define `PyInit_<module>` is refused at build
//! time, with its own message: see `build::sources`.)

use std::path::{Path, PathBuf};

use crate::extension::{Extension, Subject};
use crate::outcome::{FailureReason, Outcome};

/// The hint for a cell of `extension` that ended with `outcome`.
pub fn for_cell(extension: &Extension, outcome: &Outcome) -> Option<String> {
    let Subject::Sources(sources) = &extension.subject else {
        return None;
    };
    match outcome {
        Outcome::Crash { name, .. } if name == "SIGSEGV" || name == "SIGBUS" => {
            let imports_api = sources.files.iter().any(|f| {
                f.contents.contains("import_array") || f.contents.contains("PyArray_ImportNumPyAPI")
            });
            (!imports_api).then(|| {
                "the sources never call import_array() (or PyArray_ImportNumPyAPI()): NumPy's C-API table stays empty and the first NumPy call crashes; call it in PyInit_".to_string()
                    + &sources.module
            })
        }
        Outcome::Fail(f) if f.reason == FailureReason::MissingSymbol => {
            let symbol = f.message.strip_prefix("undefined symbol: ")?.trim();
            if symbol.starts_with("Py") || symbol.starts_with("_Py") {
                return None;
            }
            Some(match library_defining(symbol) {
                Some(lib) if !sources.libraries.contains(&lib) => format!(
                    "{symbol} is defined by lib{lib} on this machine: add libraries = [\"{lib}\"] to [extension]"
                ),
                _ => format!(
                    "{symbol} is not linked in: add the library that defines it to extension.libraries (and its folder to library-dirs)"
                ),
            })
        }
        _ => None,
    }
}

/// The folders the system's linker searches, found once a run.
fn library_dirs() -> &'static [PathBuf] {
    static DIRS: std::sync::LazyLock<Vec<PathBuf>> = std::sync::LazyLock::new(search_dirs);
    &DIRS
}

fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = [
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib/aarch64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    // The compiler's own (libgomp lives there on Debian).
    if let Ok(out) = std::process::Command::new("cc")
        .arg("-print-libgcc-file-name")
        .output()
        && let Some(dir) = Path::new(String::from_utf8_lossy(&out.stdout).trim()).parent()
    {
        dirs.insert(0, dir.to_path_buf());
    }
    dirs
}

/// The name (`gomp` for libgomp.so) of a shared library on this machine
/// that exports `symbol`. Every cell of a row that misses a symbol asks
/// the same question: the answer is kept for the run.
pub fn library_defining(symbol: &str) -> Option<String> {
    static FOUND: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<String, Option<String>>>,
    > = std::sync::LazyLock::new(Default::default);
    if let Some(known) = FOUND.lock().ok().and_then(|f| f.get(symbol).cloned()) {
        return known;
    }
    let found = search_libraries(symbol);
    if let Ok(mut f) = FOUND.lock() {
        f.insert(symbol.to_string(), found.clone());
    }
    found
}

fn search_libraries(symbol: &str) -> Option<String> {
    use object::{Object as _, ObjectSymbol as _};
    for dir in library_dirs() {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .is_some_and(|n| n.starts_with("lib") && n.contains(".so"))
            })
            .collect();
        files.sort();
        for path in files {
            // Big libraries (LLVM, browsers' own) define no symbol a small
            // extension forgets to link; reading them would cost seconds.
            if std::fs::metadata(&path).map_or(true, |m| m.len() > 16 << 20) {
                continue;
            }
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            let Ok(file) = object::File::parse(&*data) else {
                continue;
            };
            let defines = file
                .dynamic_symbols()
                .any(|s| !s.is_undefined() && s.name().is_ok_and(|n| n == symbol));
            if defines {
                let name = path.file_name()?.to_string_lossy().into_owned();
                let stem = name.strip_prefix("lib")?.split(".so").next()?.to_string();
                return Some(stem);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Failure;

    fn sources(contents: &str) -> Extension {
        let mut e = Extension::sample();
        if let Subject::Sources(s) = &mut e.subject {
            s.files[0].contents = contents.into();
        }
        e
    }

    #[test]
    fn a_crash_without_import_array_says_so() {
        let crash = Outcome::Crash {
            signal: 11,
            name: "SIGSEGV".into(),
            traceback: None,
        };
        let hint = for_cell(
            &sources("PyMODINIT_FUNC PyInit_my_extension(void) { return m; }"),
            &crash,
        )
        .unwrap();
        assert!(
            hint.contains("import_array()") && hint.contains("PyInit_my_extension"),
            "{hint}"
        );
        assert_eq!(for_cell(&sources("import_array();"), &crash), None);
        assert_eq!(for_cell(&Extension::sample(), &Outcome::Pass), None);
    }

    #[test]
    fn an_undefined_symbol_names_the_library_that_defines_it() {
        // libm's cos is on every Linux machine that compiles C, and gcc's
        // OpenMP runtime beside gcc.
        assert_eq!(library_defining("cos").as_deref(), Some("m"));
        assert_eq!(
            library_defining("omp_get_max_threads").as_deref(),
            Some("gomp")
        );
        let fail = Outcome::Fail(Failure {
            reason: FailureReason::MissingSymbol,
            exception: Some("ImportError".into()),
            message: "undefined symbol: cos".into(),
        });
        let hint = for_cell(&Extension::sample(), &fail).unwrap();
        assert!(hint.contains("libraries = [\"m\"]"), "{hint}");
        let nowhere = Outcome::Fail(Failure {
            reason: FailureReason::MissingSymbol,
            exception: None,
            message: "undefined symbol: abimatrix_no_such_symbol".into(),
        });
        assert!(
            for_cell(&Extension::sample(), &nowhere)
                .unwrap()
                .contains("extension.libraries")
        );
    }
}
