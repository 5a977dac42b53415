//! Advice for the first mistakes people make with a C extension, attached
//! to the cells they cause and shown under the grid and in `explain`. Each
//! is read from what the compiler and the crash say, not from a search of
//! the source text (which finds a call in a comment, or misses one a macro
//! makes):
//!
//! - a crash in the first NumPy call from sources that never call
//!   `import_array()`: NumPy's C-API table is then a null pointer. Whether
//!   they call it is read from the preprocessed sources (the build's own
//!   compile commands with `-E`: comments and `#if 0` gone, macros
//!   expanded), in the lines that come from the user's files; and the
//!   crash must be one faulthandler places in a call into the extension,
//!   not inside NumPy's own code;
//! - a build that fails because NumPy's headers were not found
//!   (`numpy/arrayobject.h: No such file or directory`), or were included
//!   without their folder (`#include <arrayobject.h>`);
//! - a build that fails with the compiler's `Using deprecated NumPy API`
//!   warning in its log, or on `PyArrayObject` fields that
//!   `NPY_NO_DEPRECATED_API` hides;
//! - an `undefined symbol` at import that a `libraries` entry would
//!   resolve: the library that defines it is looked up on this machine;
//! - a limited-API build (`limited-api`) that does not compile because the
//!   sources use Python's full API: the first name the compiler reported
//!   that the limited API hides (gcc 12's words, read on real builds).
//!
//! (A module that does not define `PyInit_<module>` is refused at build
//! time, from the built module's own symbols: see `build::sources`.)
//!
//! Advice is a judgment, not part of running a cell: the runner only says
//! how a cell ended and which row it ran; [`Advice`] reads those events on
//! their way to the reporter. Looking costs a compiler run or a read of the
//! machine's libraries, so it happens only for cells that point at a
//! mistake, on the blocking pool ([`Hints::for_cell`] blocks), and each
//! answer is kept for the run ([`Hints`] holds them: nothing global).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};

use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;

use crate::extension::{Extension, Sources, Subject};
use crate::outcome::{FailureReason, Outcome};
use crate::runner::{CellResult, Event};

/// The judge between the runner and the reporter that gives each finished
/// cell its advice: events pass through [`Advice::pass`]; a cell whose
/// outcome points at a mistake waits while its advice is looked for (other
/// events go on meanwhile), then comes out of [`Advice::next`]. The run's
/// end waits for every such cell, so the reporter sees all cells first.
pub struct Advice {
    hints: Arc<Hints>,
    /// Cells whose advice is being looked for, by number.
    waiting: HashMap<usize, Box<CellResult>>,
    looking: FuturesUnordered<BoxFuture<'static, (usize, Option<String>)>>,
    numbered: usize,
    /// The run's end, held while cells wait.
    end: Option<Event>,
}

impl Advice {
    /// Advice for the cells of `extension`.
    pub fn new(extension: &Extension) -> Advice {
        Advice {
            hints: Arc::new(Hints::new(extension.clone())),
            waiting: HashMap::new(),
            looking: FuturesUnordered::new(),
            numbered: 0,
            end: None,
        }
    }

    /// `event`, passed on at once; or held (`None`): a cell whose advice
    /// must be looked for first, or the run's end while one is.
    pub fn pass(&mut self, event: Event) -> Option<Event> {
        let cell = match event {
            Event::CellFinished(cell) => cell,
            Event::Finished { .. } if !self.waiting.is_empty() => {
                self.end = Some(event);
                return None;
            }
            other => return Some(other),
        };
        let Some(evidence) = evidence(&self.hints.extension, &cell) else {
            return Some(Event::CellFinished(cell));
        };
        let (number, hints, outcome) = (self.numbered, self.hints.clone(), cell.outcome.clone());
        self.numbered += 1;
        self.waiting.insert(number, cell);
        self.looking.push(Box::pin(async move {
            let hint = crate::blocking::run(move || hints.for_cell(&outcome, &evidence)).await;
            (number, hint)
        }));
        None
    }

    /// Whether events are held.
    pub fn holding(&self) -> bool {
        !self.waiting.is_empty() || self.end.is_some()
    }

    /// The next held event that may go: a cell with its advice, or the
    /// run's end once no cell waits. Never resolves while nothing is held.
    /// Cancel-safe: dropped before it resolves, nothing is lost.
    pub async fn next(&mut self) -> Event {
        if let Some((number, hint)) = self.looking.next().await
            && let Some(mut cell) = self.waiting.remove(&number)
        {
            cell.hint = hint;
            return Event::CellFinished(cell);
        }
        match self.end.take() {
            Some(end) => end,
            None => std::future::pending().await,
        }
    }

    /// Everything held, without the advice still being looked for (a run
    /// cut short: the cells are kept, their advice is not worth waiting
    /// for).
    pub fn release(mut self) -> Vec<Event> {
        let mut cells: Vec<(usize, Box<CellResult>)> = self.waiting.drain().collect();
        cells.sort_by_key(|(number, _)| *number);
        let mut events: Vec<Event> = cells
            .into_iter()
            .map(|(_, cell)| Event::CellFinished(cell))
            .collect();
        events.extend(self.end.take());
        events
    }
}

/// What a cell's advice is read from, when its outcome points at a mistake
/// advice exists for: a failed build's log; for C sources, a crash's row
/// (its folder and log), or nothing more for a missing symbol (the
/// machine's libraries).
fn evidence(extension: &Extension, cell: &CellResult) -> Option<Evidence> {
    let sources = matches!(extension.subject, Subject::Sources(_));
    match &cell.outcome {
        Outcome::BuildFailed { .. } => Some(Evidence {
            build_dir: None,
            build_log: cell.stderr.clone(),
        }),
        Outcome::Crash { .. } if sources => Some(Evidence {
            build_dir: cell.row.as_ref().map(|r| r.dir.clone()),
            build_log: cell.row.as_ref().map(|r| r.log.clone()).unwrap_or_default(),
        }),
        Outcome::Fail(f) if sources && f.reason == FailureReason::MissingSymbol => {
            Some(Evidence::default())
        }
        _ => None,
    }
}

/// What a cell's row left behind, for the hints that read it.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The row's build folder (C sources: where its compile ran).
    pub build_dir: Option<PathBuf>,
    /// The row's build log: every compile command and what it printed.
    pub build_log: String,
}

/// What advice is given from, and what was found while looking, kept for
/// the run: a build folder's preprocessed answer, a symbol's library, the
/// linker's folders.
pub struct Hints {
    extension: Extension,
    /// Whether the sources built in a folder call `import_array()`.
    preprocessed: Mutex<HashMap<PathBuf, Option<bool>>>,
    /// The library that defines a symbol, by symbol.
    defining: Mutex<HashMap<String, Option<String>>>,
    /// The folders the system's linker searches, found once.
    library_dirs: OnceLock<Vec<PathBuf>>,
}

impl Hints {
    pub fn new(extension: Extension) -> Hints {
        Hints {
            extension,
            preprocessed: Mutex::default(),
            defining: Mutex::default(),
            library_dirs: OnceLock::new(),
        }
    }

    /// The hint for a cell that ended with `outcome`. Blocks (it may run
    /// the compiler or read libraries): call it off the runtime.
    pub fn for_cell(&self, outcome: &Outcome, evidence: &Evidence) -> Option<String> {
        let extension = &self.extension;
        match outcome {
            Outcome::BuildFailed { .. } => limited_api_said(extension, &evidence.build_log)
                .or_else(|| compiler_said(&evidence.build_log)),
            Outcome::Crash {
                name, traceback, ..
            } if name == "SIGSEGV" || name == "SIGBUS" => {
                let Subject::Sources(sources) = &extension.subject else {
                    return None;
                };
                if traceback.as_deref().is_some_and(inside_numpy) {
                    return None;
                }
                let dir = evidence.build_dir.as_deref()?;
                (self.calls_import_array(sources, dir, &evidence.build_log) == Some(false)).then(|| {
                format!(
                    "the sources never call import_array() (or PyArray_ImportNumPyAPI()), as the preprocessed sources show: NumPy's C-API table stays empty and the first NumPy call crashes; call it in PyInit_{}",
                    sources.module
                )
            })
            }
            Outcome::Fail(f) if f.reason == FailureReason::MissingSymbol => {
                let Subject::Sources(sources) = &extension.subject else {
                    return None;
                };
                let symbol = f.message.strip_prefix("undefined symbol: ")?.trim();
                if symbol.starts_with("Py") || symbol.starts_with("_Py") {
                    return None;
                }
                Some(match self.library_defining(symbol) {
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

    /// Whether the sources built in `dir` call `import_array()` (or
    /// `PyArray_ImportNumPyAPI()`), read from their preprocessed text: the
    /// build's compile commands (in `log`) run again with `-E`. `None` when
    /// it cannot be told (no compile command, the compiler failed, NumPy's
    /// headers not included at all). Kept per build folder for the run.
    fn calls_import_array(&self, sources: &Sources, dir: &Path, log: &str) -> Option<bool> {
        let known = |k: &HashMap<PathBuf, Option<bool>>| k.get(dir).copied();
        if let Some(known) = known(
            &self
                .preprocessed
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        ) {
            return known;
        }
        let answer = preprocessed_calls(sources, dir, log);
        self.preprocessed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(dir.to_path_buf(), answer);
        answer
    }

    /// The name (`gomp` for libgomp.so) of a shared library on this
    /// machine that exports `symbol`. Every cell of a row that misses a
    /// symbol asks the same question: the answer is kept for the run.
    fn library_defining(&self, symbol: &str) -> Option<String> {
        let defining = |d: &HashMap<String, Option<String>>| d.get(symbol).cloned();
        if let Some(known) = defining(&self.defining.lock().unwrap_or_else(PoisonError::into_inner))
        {
            return known;
        }
        let found = search_libraries(self.library_dirs.get_or_init(search_dirs), symbol);
        self.defining
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(symbol.to_string(), found.clone());
        found
    }
}

/// Whether faulthandler's dump places the crash inside NumPy's own Python
/// code (its innermost frame is a file of the numpy package): then NumPy
/// itself broke, and no advice about the extension applies.
fn inside_numpy(traceback: &str) -> bool {
    traceback
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with("File \""))
        .is_some_and(|l| l.contains("/numpy/"))
}

/// NumPy's public headers, by the name a source might include them
/// without their `numpy/` folder.
const NUMPY_HEADERS: [&str; 8] = [
    "arrayobject.h",
    "ndarrayobject.h",
    "ndarraytypes.h",
    "ufuncobject.h",
    "npy_common.h",
    "npy_math.h",
    "arrayscalars.h",
    "npy_2_compat.h",
];

/// Advice from what the compiler printed when a build failed.
fn compiler_said(log: &str) -> Option<String> {
    static MISSING: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r"fatal error: ['‘]?([^'‘’:\s]+\.h)['’]?:? (?:No such file or directory|file not found)",
        )
        .expect("constant pattern")
    });
    static HIDDEN: LazyLock<regex::Regex> = LazyLock::new(|| {
        // GCC quotes with ‘’ in a UTF-8 locale, ' otherwise.
        regex::Regex::new(r"['‘]PyArrayObject['’].* has no member named ['‘](\w+)['’]")
            .expect("constant pattern")
    });
    if let Some(header) = MISSING.captures(log).map(|c| c[1].to_string()) {
        if header.starts_with("numpy/") {
            return Some(format!(
                "the compiler did not find NumPy's headers ({header}): the build must add numpy.get_include() to its include folders (setuptools: Extension(..., include_dirs=[numpy.get_include()]); meson-python: dependency('numpy'))"
            ));
        }
        if NUMPY_HEADERS.contains(&header.as_str()) {
            return Some(format!(
                "{header} is one of NumPy's headers, which are included with their folder: #include <numpy/{header}>"
            ));
        }
    }
    if let Some(field) = HIDDEN.captures(log).map(|c| c[1].to_string()) {
        return Some(format!(
            "PyArrayObject's fields (here {field}) are hidden when NPY_NO_DEPRECATED_API is defined: use NumPy's accessors instead (PyArray_DATA, PyArray_NDIM, PyArray_DIMS, PyArray_STRIDES, ...)"
        ));
    }
    log.contains("Using deprecated NumPy API").then(|| {
        "the compiler warned that the sources use NumPy's deprecated API (\"Using deprecated NumPy API\"), which newer NumPy headers no longer offer: add #define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION before the NumPy includes (or cflags = [\"-DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION\"]) and replace what it then rejects".to_string()
    })
}

/// What the compiler said about a limited-API build that used the full
/// API: the first name it reported as undeclared (a function or macro the
/// limited API hides, `PyList_GET_ITEM`), unknown (`PyListObject`) or
/// opaque (`PyTypeObject`, whose fields `Py_TYPE(x)->tp_name` reads), with
/// the compiler's own suggestion when it made one; or the free-threaded
/// headers' refusal of the limited API.
fn limited_api_said(extension: &Extension, log: &str) -> Option<String> {
    static HIDDEN: LazyLock<regex::Regex> = LazyLock::new(|| {
        // GCC quotes with ‘’ in a UTF-8 locale, ' otherwise.
        regex::Regex::new(
            r"(?m)(implicit declaration of function|invalid use of incomplete typedef|unknown type name|dereferencing pointer to incomplete type) ['‘](_?Py\w+)['’]|['‘](_?Py\w+)['’] undeclared",
        )
        .expect("constant pattern")
    });
    static SUGGESTED: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"^[^\n]*?did you mean ['‘](\w+)['’]").expect("constant pattern")
    });
    let Subject::Sources(sources) = &extension.subject else {
        return None;
    };
    let limited = sources.limited_api?;
    let setting = format!("limited-api = \"{limited}\" ({})", limited.define());
    if log.contains("The limited API is not currently supported in the free-threaded build") {
        return Some(format!(
            "the build's Python is free-threaded, whose headers refuse the limited API ({setting}): build on a GIL-enabled Python ([python] build)"
        ));
    }
    let found = HIDDEN.captures(log)?;
    let (symbol, what) = match (found.get(2), found.get(3)) {
        (Some(name), _) => (
            name.as_str(),
            match &found[1] {
                "implicit declaration of function" => "is not declared by the limited API",
                "unknown type name" => "is not a type of the limited API",
                _ => "is opaque in the limited API (its fields are not part of it)",
            },
        ),
        (None, Some(name)) => (name.as_str(), "is not declared by the limited API"),
        (None, None) => return None,
    };
    let rest = &log[found.get(0).map_or(0, |m| m.start())..];
    let instead = match SUGGESTED.captures(rest).map(|c| c[1].to_string()) {
        Some(other) if other != symbol => format!(" (the compiler suggests {other})"),
        _ if symbol == "PyTypeObject" => {
            " (PyType_GetSlot, PyType_GetFlags and, from 3.11, PyType_GetName read a type)"
                .to_string()
        }
        _ => String::new(),
    };
    Some(format!(
        "{symbol} {what}: the sources use Python's full C API, which a build with {setting} cannot see; use the limited API's functions instead{instead}, or drop limited-api"
    ))
}

fn preprocessed_calls(sources: &Sources, dir: &Path, log: &str) -> Option<bool> {
    let commands: Vec<Vec<String>> = log
        .lines()
        .filter_map(|l| l.strip_prefix("$ "))
        .filter_map(shlex::split)
        .filter(|words| words.iter().any(|w| w == "-c"))
        .collect();
    if commands.is_empty() {
        return None;
    }
    let mut includes_numpy = false;
    for words in commands {
        let source = words
            .iter()
            .position(|w| w == "-c")
            .and_then(|i| words.get(i + 1))
            .map(PathBuf::from)?;
        let text = preprocess(&words, dir)?;
        let (numpy, calls) = scan(&text, &source, &sources.include_dirs);
        includes_numpy |= numpy;
        if calls {
            return Some(true);
        }
    }
    includes_numpy.then_some(false)
}

/// A compile command (`cc ... -c SRC -o OBJ`, with `-MD -MF DEP -MT
/// TARGET`) turned into the preprocessor's, run in `dir`; its output. The
/// dependency options go with `-MD` (`-MT` alone is an error to cc1).
fn preprocess(words: &[String], dir: &Path) -> Option<String> {
    let (program, args) = words.split_first()?;
    let kept = preprocessor_args(args);
    // A child like any other: its own process group and a time limit.
    // This runs on a blocking thread of the runtime, which may wait on it.
    let spec = crate::process::Spec::new(program)
        .args(&kept)
        .cwd(dir)
        .timeout(PREPROCESS_LIMIT);
    let finished = tokio::runtime::Handle::try_current()
        .ok()?
        .block_on(spec.run())
        .ok()?;
    // Cut short, the text may miss the very call: then nothing is said.
    (finished.success() && finished.stdout.dropped == 0).then_some(finished.stdout.text)
}

/// A compile command's arguments made the preprocessor's: `-c` becomes
/// `-E`, the output and every dependency-file option go.
fn preprocessor_args(args: &[String]) -> Vec<&str> {
    let mut kept: Vec<&str> = Vec::new();
    let mut skip = false;
    for w in args {
        if skip {
            skip = false;
            continue;
        }
        match w.as_str() {
            "-o" | "-MF" | "-MT" | "-MQ" => skip = true,
            "-MD" | "-MMD" | "-MP" => {}
            "-c" => kept.push("-E"),
            other => kept.push(other),
        }
    }
    kept
}

/// How long the preprocessor may take on one source.
const PREPROCESS_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// In preprocessed text: whether NumPy's C-API header was included, and
/// whether a line that comes from the user's own files (the source
/// itself, or a header in its include folders) calls `_import_array` (what
/// `import_array()` expands to) or `PyArray_ImportNumPyAPI`.
fn scan(text: &str, source: &Path, user_dirs: &[PathBuf]) -> (bool, bool) {
    static CALL: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"\b(_import_array|PyArray_ImportNumPyAPI)\s*\(")
            .expect("constant pattern")
    });
    let mut numpy = false;
    let mut users = true;
    for line in text.lines() {
        // A line marker: `# 12 "/path/file.h" 1 3`.
        if let Some(rest) = line.strip_prefix("# ")
            && let Some(file) = rest.split('"').nth(1)
        {
            let file = Path::new(file);
            numpy |= file.ends_with("__multiarray_api.h");
            users = file == source
                || (!file.components().any(|c| c.as_os_str() == "numpy")
                    && user_dirs.iter().any(|d| file.starts_with(d)));
            continue;
        }
        if users && CALL.is_match(line) {
            return (true, true);
        }
    }
    (numpy, false)
}

/// The folders the system's linker searches. Runs the compiler: called
/// on the blocking pool (from [`Hints::for_cell`]), where waiting on a
/// child is what a thread is for.
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

/// The library in `dirs` that exports `symbol` (see
/// [`Hints::library_defining`]).
fn search_libraries(dirs: &[PathBuf], symbol: &str) -> Option<String> {
    use object::{Object as _, ObjectSymbol as _};
    for dir in dirs {
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
    /// The build's own compile command, as the build log writes it, made
    /// the preprocessor's: no output, no dependency options (a `-MT` left
    /// without `-MD` is an error to cc1, and every hint was lost to it).
    #[test]
    fn a_compile_command_becomes_the_preprocessors() {
        let words: Vec<String> = shlex::split(
            "-O3 -fPIC -I/inc -MD -MF /b/obj/0-m.d -MT abimatrix-object -c /src/m.c -o /b/obj/0-m.o",
        )
        .unwrap_or_default();
        assert_eq!(
            super::preprocessor_args(&words),
            ["-O3", "-fPIC", "-I/inc", "-E", "/src/m.c"]
        );
    }

    use super::*;
    use crate::outcome::Failure;

    #[test]
    fn only_the_users_own_lines_count_as_calls() {
        let source = Path::new("/p/src/ext.c");
        let dirs = [PathBuf::from("/p/src")];
        let numpy = "# 1 \"/e/numpy/_core/include/numpy/__multiarray_api.h\" 1\nstatic int\n_import_array(void)\n{\n}\nstatic inline int PyArray_ImportNumPyAPI(void) { if (_import_array() < 0) return -1; }\n";
        let without = format!(
            "# 1 \"/p/src/ext.c\"\n{numpy}# 40 \"/p/src/ext.c\" 2\nPyObject *PyInit_ext(void)\n{{\n    return PyModule_Create(&ext);\n}}\n"
        );
        assert_eq!(scan(&without, source, &dirs), (true, false));
        let with = without.replace(
            "    return PyModule_Create",
            "    {if (_import_array() < 0) {PyErr_Print(); return NULL; } }\n    return PyModule_Create",
        );
        assert_eq!(scan(&with, source, &dirs), (true, true));
        // A user's header may make the call.
        let helper = format!(
            "{without}# 1 \"/p/src/helper.h\" 1\nstatic int setup(void) {{ return PyArray_ImportNumPyAPI(); }}\n"
        );
        assert_eq!(scan(&helper, source, &dirs), (true, true));
        assert_eq!(
            scan("# 1 \"/p/src/ext.c\"\nint x;\n", source, &dirs),
            (false, false)
        );
    }

    #[test]
    fn a_crash_inside_numpy_is_not_the_extensions() {
        let numpy = "Fatal Python error: Segmentation fault\n\nCurrent thread 0x1 (most recent call first):\n  File \"/env/lib/python3.11/site-packages/numpy/core/__init__.py\", line 24 in <module>\n  File \"<probe>\", line 1 in <module>\n";
        assert!(inside_numpy(numpy));
        let probe = "Fatal Python error: Segmentation fault\n\nCurrent thread 0x1 (most recent call first):\n  File \"tests/probe.py\", line 1 in <module>\n  File \"/c/abimatrix_probe.py\", line 131 in probe\n";
        assert!(!inside_numpy(probe));
    }

    #[test]
    fn what_the_compiler_said_about_numpys_headers() {
        let gcc = "/p/setup.py ...\nsrc/ext.c:3:10: fatal error: numpy/arrayobject.h: No such file or directory\n    3 | #include <numpy/arrayobject.h>\n";
        assert!(compiler_said(gcc).unwrap().contains("numpy.get_include()"));
        let clang = "src/ext.c:3:10: fatal error: 'arrayobject.h' file not found\n";
        assert_eq!(
            compiler_said(clang).unwrap(),
            "arrayobject.h is one of NumPy's headers, which are included with their folder: #include <numpy/arrayobject.h>"
        );
        let hidden = "src/ext.c:9:22: error: 'PyArrayObject' {aka 'struct tagPyArrayObject'} has no member named 'data'\n";
        assert!(compiler_said(hidden).unwrap().contains("here data"));
        let utf8 = "src/ext.c:9:22: error: ‘PyArrayObject’ {aka ‘struct tagPyArrayObject’} has no member named ‘nd’\n";
        assert!(compiler_said(utf8).unwrap().contains("here nd"));
        let deprecated = "warning: #warning \"Using deprecated NumPy API, disable it with \" \"#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION\" [-Wcpp]\nsrc/ext.c:12:5: error: 'NPY_CHAR' undeclared\n";
        assert!(
            compiler_said(deprecated)
                .unwrap()
                .contains("NPY_NO_DEPRECATED_API")
        );
        assert_eq!(compiler_said("src/ext.c:1:1: error: expected ';'"), None);
    }

    fn limited(version: &str) -> Extension {
        let mut ext = Extension::sample();
        if let Subject::Sources(s) = &mut ext.subject {
            s.limited_api = version.parse().ok();
        }
        ext
    }

    /// gcc 12's own words, from building full-API sources with
    /// `-DPy_LIMITED_API=0x03090000 -Werror=implicit-function-declaration`
    /// against CPython 3.9's and 3.13's headers, in both locales.
    #[test]
    fn a_limited_api_build_names_the_first_full_api_name_it_used() {
        let utf8 = "gcc -c full_api.c\nfull_api.c: In function ‘first’:\nfull_api.c:9:22: error: implicit declaration of function ‘PyList_GET_ITEM’; did you mean ‘PyList_GetItem’? [-Werror=implicit-function-declaration]\n    9 |     PyObject *item = PyList_GET_ITEM(list, 0);\nfull_api.c:17:45: error: invalid use of incomplete typedef ‘PyTypeObject’ {aka ‘struct _typeobject’}\ncc1: some warnings being treated as errors\n";
        let ext = limited("3.9");
        let hint = limited_api_said(&ext, utf8).unwrap();
        assert_eq!(
            hint,
            "PyList_GET_ITEM is not declared by the limited API: the sources use Python's full C API, which a build with limited-api = \"3.9\" (-DPy_LIMITED_API=0x03090000) cannot see; use the limited API's functions instead (the compiler suggests PyList_GetItem), or drop limited-api"
        );
        let c = utf8.replace(['‘', '’'], "'");
        assert_eq!(limited_api_said(&ext, &c).unwrap(), hint);
        // The struct first: its fields are what is hidden.
        let typeobject = "full_api.c:17:45: error: invalid use of incomplete typedef 'PyTypeObject' {aka 'struct _typeobject'}\n";
        let hint = limited_api_said(&ext, typeobject).unwrap();
        assert!(
            hint.starts_with("PyTypeObject is opaque in the limited API"),
            "{hint}"
        );
        assert!(hint.contains("PyType_GetSlot"), "{hint}");
        let list = "full2.c:11:5: error: unknown type name ‘PyListObject’; did you mean ‘PyLongObject’?\nfull2.c:11:24: error: ‘PyListObject’ undeclared (first use in this function); did you mean ‘PyLongObject’?\n";
        let hint = limited_api_said(&ext, list).unwrap();
        assert!(
            hint.starts_with("PyListObject is not a type of the limited API"),
            "{hint}"
        );
        // Another line's suggestion is not this name's.
        let private = "m.c:12:5: error: implicit declaration of function ‘_PyObject_GC_TRACK’ [-Werror=implicit-function-declaration]\nm.c:13:1: error: ‘x’ undeclared; did you mean ‘y’?\n";
        let hint = limited_api_said(&ext, private).unwrap();
        assert!(
            hint.starts_with("_PyObject_GC_TRACK is not declared"),
            "{hint}"
        );
        assert!(!hint.contains("suggests"), "{hint}");
        // The free-threaded headers refuse the limited API outright.
        let ft = "/py/include/python3.13t/Python.h:51:4: error: #error \"The limited API is not currently supported in the free-threaded build\"\n";
        assert!(
            limited_api_said(&ext, ft)
                .unwrap()
                .contains("free-threaded")
        );
        // Not a limited-API build, or nothing Python's: no such hint.
        assert_eq!(limited_api_said(&Extension::sample(), utf8), None);
        assert_eq!(limited_api_said(&ext, "m.c:1:1: error: expected ';'"), None);
        assert_eq!(
            limited_api_said(
                &ext,
                "m.c:3:5: error: implicit declaration of function ‘printf’"
            ),
            None
        );
        // Through the cell's hint, as the run asks for it.
        let failed = Outcome::BuildFailed {
            message: "full_api.c:9:22: error: implicit declaration of function".into(),
        };
        let evidence = Evidence {
            build_dir: None,
            build_log: utf8.into(),
        };
        assert!(
            Hints::new(ext.clone())
                .for_cell(&failed, &evidence)
                .unwrap()
                .starts_with("PyList_GET_ITEM")
        );
    }

    #[test]
    fn an_undefined_symbol_names_the_library_that_defines_it() {
        // libm's cos is on every Linux machine that compiles C, and gcc's
        // OpenMP runtime beside gcc.
        let hints = Hints::new(Extension::sample());
        assert_eq!(hints.library_defining("cos").as_deref(), Some("m"));
        assert_eq!(
            hints.library_defining("omp_get_max_threads").as_deref(),
            Some("gomp")
        );
        let fail = Outcome::Fail(Failure {
            reason: FailureReason::MissingSymbol,
            exception: Some("ImportError".into()),
            message: "undefined symbol: cos".into(),
        });
        let none = Evidence::default();
        let hint = hints.for_cell(&fail, &none).unwrap();
        assert!(hint.contains("libraries = [\"m\"]"), "{hint}");
        let nowhere = Outcome::Fail(Failure {
            reason: FailureReason::MissingSymbol,
            exception: None,
            message: "undefined symbol: abimatrix_no_such_symbol".into(),
        });
        assert!(
            hints
                .for_cell(&nowhere, &none)
                .unwrap()
                .contains("extension.libraries")
        );
        assert_eq!(hints.for_cell(&Outcome::Pass, &none), None);
    }

    fn finished(outcome: Outcome, stderr: &str) -> Box<CellResult> {
        Box::new(CellResult {
            grid: 0,
            build: 0,
            runtime: 0,
            outcome,
            duration: std::time::Duration::ZERO,
            stdout: String::new(),
            stderr: stderr.to_string(),
            command: None,
            rerun: None,
            row: None,
            hint: None,
        })
    }

    const NO_HEADERS: &str =
        "src/ext.c:3:10: fatal error: numpy/arrayobject.h: No such file or directory\n";

    /// Advice is the judge's, on the way from the runner to the reporter:
    /// a cell that needs none goes on at once, one that does waits for it
    /// (while other events go on), and the run's end waits for every cell.
    #[tokio::test]
    async fn advice_is_given_on_the_way_to_the_reporter_and_the_end_waits_for_it() {
        let mut advice = Advice::new(&Extension::sample());
        let end = || Event::Finished {
            duration: std::time::Duration::ZERO,
        };
        let passed = advice.pass(Event::CellFinished(finished(Outcome::Pass, "")));
        assert!(matches!(passed, Some(Event::CellFinished(c)) if c.hint.is_none()));
        let failed = Outcome::BuildFailed {
            message: "fatal error".into(),
        };
        assert!(
            advice
                .pass(Event::CellFinished(finished(failed, NO_HEADERS)))
                .is_none()
        );
        let env = Event::BuildStarted {
            grid: 0,
            row: "2.0.2".into(),
        };
        assert!(advice.pass(env).is_some(), "other events are not held");
        assert!(advice.pass(end()).is_none(), "the end waits for the cell");
        match advice.next().await {
            Event::CellFinished(c) => {
                let hint = c.hint.unwrap_or_default();
                assert!(hint.contains("numpy.get_include()"), "{hint}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(advice.next().await, Event::Finished { .. }));
        assert!(!advice.holding());
        // Nothing held: the end goes on at once.
        assert!(advice.pass(end()).is_some());
    }

    /// A run cut short keeps every finished cell, without the advice still
    /// being looked for.
    #[test]
    fn a_run_cut_short_keeps_the_cells_waiting_for_advice() {
        let mut advice = Advice::new(&Extension::sample());
        let failed = Outcome::BuildFailed {
            message: "fatal error".into(),
        };
        assert!(
            advice
                .pass(Event::CellFinished(finished(failed, NO_HEADERS)))
                .is_none()
        );
        let released = advice.release();
        assert!(
            matches!(&released[..], [Event::CellFinished(c)] if c.hint.is_none()),
            "{released:?}"
        );
    }
}
