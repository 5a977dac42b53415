//! Python's own ABI, as far as a build and an interpreter must agree on it:
//! the limited API a build targets (`Py_LIMITED_API`, the stable ABI
//! "abi3"), what an extension module's file name says it was built for,
//! and which of Python's symbols a built module takes from the interpreter.
//!
//! Why the file name and not the symbols decides what a module is: the
//! importer picks a module by its suffix (`EXTENSION_SUFFIXES`: the
//! interpreter's own `.cpython-312-x86_64-linux-gnu.so`, then `.abi3.so`,
//! then `.so`), and an abi3 module's symbols look much like any other's.
//! Checked on real modules: the sample built with `Py_LIMITED_API=0x03090000`
//! imports `_Py_Dealloc`, `_Py_NoneStruct`, `_PyArg_ParseTuple_SizeT` and
//! `_Py_BuildValue_SizeT` (all part of the stable ABI), and the same source
//! built without it imports exactly the same symbols; a full-API source that
//! only reads structs (`PyList_GET_ITEM`, `Py_TYPE(x)->tp_name`) imports no
//! symbol at all for it. What the symbols can show is a module that claims
//! abi3 and takes a private symbol outside the stable ABI
//! ([`private_imports`]): such a module loads only where that symbol
//! happens to exist (a full-API Cython module renamed `.abi3.so` took
//! `_PyUnicode_Ready`, gone in 3.12).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use pep440_rs::Version;

use super::Interpreter;

/// The oldest limited API: Python 3.2 introduced it (PEP 384).
const OLDEST_MINOR: u8 = 2;

/// The suffix of an abi3 module on Linux and macOS: every CPython 3.2 and
/// newer loads it. (The interpreter's own list is not asked: from 3.15 on
/// it puts `.abi3-<multiarch>.so` first, which only 3.15 and newer load.)
pub const ABI3_SUFFIX: &str = ".abi3.so";

/// The limited API a build targets, as `[extension] limited-api = "3.9"`
/// names it: the build sees only the API of that Python and older, and the
/// module loads on that Python and every newer GIL-enabled CPython 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LimitedApi {
    minor: u8,
}

/// Why a text does not name a limited API version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitedApiError {
    #[error(
        "invalid limited API version \"{0}\": expected a Python minor version like \"3.9\" (the oldest Python the build must load on)"
    )]
    NotAVersion(String),
    #[error(
        "limited API version \"{0}\" names a patch release: the limited API changes only with minor versions, so expected one like \"{1}\""
    )]
    Patch(String, String),
    #[error(
        "limited API version \"{0}\": the stable ABI exists for CPython 3 from 3.2 on, so expected a version like \"3.9\""
    )]
    OutOfRange(String),
    #[error(
        "limited API version \"{0}\": the free-threaded stable ABI (abi3t, PEP 803) starts with Python 3.15 and is not supported yet; expected a GIL-enabled version like \"3.9\""
    )]
    FreeThreaded(String),
}

impl LimitedApi {
    /// The oldest limited API there is (3.2): every GIL-enabled CPython 3
    /// at or above it.
    pub const OLDEST: LimitedApi = LimitedApi {
        minor: OLDEST_MINOR,
    };

    /// Python 3.`minor`'s limited API; `None` below 3.2.
    pub fn new(minor: u8) -> Option<LimitedApi> {
        (minor >= OLDEST_MINOR).then_some(LimitedApi { minor })
    }

    /// `(3, minor)`.
    pub fn python(self) -> (u64, u64) {
        (3, u64::from(self.minor))
    }

    /// `Py_LIMITED_API`'s value, in `PY_VERSION_HEX` form: 0x03090000.
    pub fn hex(self) -> u32 {
        0x0300_0000 | (u32::from(self.minor) << 16)
    }

    /// The compiler flag that selects it.
    pub fn define(self) -> String {
        format!("-DPy_LIMITED_API=0x{:08X}", self.hex())
    }

    /// Whether a Python of version `python` is at or above it (what the
    /// stable ABI promises to load on, GIL-enabled builds only).
    pub fn admits(self, python: &Version) -> bool {
        let r = python.release();
        let (major, minor) = (
            r.first().copied().unwrap_or(0),
            r.get(1).copied().unwrap_or(0),
        );
        (major, minor) >= self.python()
    }
}

impl fmt::Display for LimitedApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "3.{}", self.minor)
    }
}

impl FromStr for LimitedApi {
    type Err = LimitedApiError;

    fn from_str(text: &str) -> Result<LimitedApi, LimitedApiError> {
        let t = text.trim();
        let owned = || t.to_string();
        if t.ends_with('t') && t[..t.len() - 1].split('.').all(|p| p.parse::<u8>().is_ok()) {
            return Err(LimitedApiError::FreeThreaded(owned()));
        }
        let parts: Vec<&str> = t.split('.').collect();
        let numbers: Option<Vec<u8>> = parts
            .iter()
            .map(|p| {
                // "3.09" and "+3.9" are not how anyone writes a version.
                let plain = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
                let canonical = !(p.len() > 1 && p.starts_with('0'));
                (plain && canonical).then(|| p.parse::<u8>().ok()).flatten()
            })
            .collect();
        match numbers.as_deref() {
            Some([3, minor]) => LimitedApi::new(*minor).ok_or(LimitedApiError::OutOfRange(owned())),
            Some([3, minor, _]) => Err(LimitedApiError::Patch(owned(), format!("3.{minor}"))),
            Some([_, _] | [_, _, _]) => Err(LimitedApiError::OutOfRange(owned())),
            _ => Err(LimitedApiError::NotAVersion(owned())),
        }
    }
}

/// Why an interpreter cannot build for a limited API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuilderError {
    #[error("{python} is older than the {limited} limited API: its headers do not have it")]
    TooOld { python: String, limited: LimitedApi },
    #[error(
        "{python} is free-threaded: its headers refuse the limited API (\"The limited API is not currently supported in the free-threaded build\")"
    )]
    FreeThreaded { python: String },
}

#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "groundwork for issue 24's cross-Python plan and runner, which call it"
    )
)]
impl BuilderError {
    pub fn hint(&self) -> &'static str {
        "name a GIL-enabled Python at or above extension.limited-api in [python] build, or leave it out to build on the oldest configured Python that can"
    }
}

/// Whether `interpreter` can build for `limited`: a GIL-enabled Python at
/// or above it (the build compiles against its headers).
pub fn check_builder(limited: LimitedApi, interpreter: &Interpreter) -> Result<(), BuilderError> {
    if interpreter.free_threaded {
        return Err(BuilderError::FreeThreaded {
            python: interpreter.label(),
        });
    }
    if !limited.admits(&interpreter.version) {
        return Err(BuilderError::TooOld {
            python: interpreter.label(),
            limited,
        });
    }
    Ok(())
}

/// The interpreter that builds for `limited` when `[python] build` does not
/// say: the oldest of the configured ones that can ([`check_builder`]), as
/// cibuildwheel builds an abi3 wheel on the oldest Python it supports, so
/// the build sees no API newer than the oldest Python that loads it.
pub fn default_builder<'a>(
    limited: LimitedApi,
    configured: impl IntoIterator<Item = &'a Interpreter>,
) -> Option<usize> {
    configured
        .into_iter()
        .enumerate()
        .filter(|(_, i)| check_builder(limited, i).is_ok())
        .min_by(|(_, a), (_, b)| a.version.cmp(&b.version))
        .map(|(k, _)| k)
}

/// What an extension module's file name says it was built for: the suffix
/// the importer matches it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleTag {
    /// `name.abi3.so`: the stable ABI; loaded by every CPython 3.
    Abi3,
    /// `name.cpython-312-x86_64-linux-gnu.so`: one Python's own ABI
    /// (`free_threaded` for `cpython-313t`); no other Python looks for it.
    Specific {
        python: (u64, u64),
        free_threaded: bool,
    },
    /// `name.so`: no tag; every Python tries it, whatever it was built for.
    Untagged,
}

#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "groundwork for issue 24's cross-Python plan and runner, which call it"
    )
)]
impl ModuleTag {
    /// The tag in `file_name` (a `.so` module's name), `None` for a file
    /// that is not a POSIX extension module.
    pub fn of(file_name: &str) -> Option<ModuleTag> {
        let stem = file_name.strip_suffix(".so")?;
        let Some((_, tag)) = stem.split_once('.') else {
            return Some(ModuleTag::Untagged);
        };
        if tag == "abi3" {
            return Some(ModuleTag::Abi3);
        }
        // cpython-312-x86_64-linux-gnu, cpython-313t-..., cpython-39d-...
        let abi = tag.strip_prefix("cpython-")?.split('-').next()?;
        let digits: String = abi.chars().take_while(char::is_ascii_digit).collect();
        let flags = &abi[digits.len()..];
        let (major, minor) = digits.split_at(1.min(digits.len()));
        Some(ModuleTag::Specific {
            python: (major.parse().ok()?, minor.parse().ok()?),
            free_threaded: flags.contains('t'),
        })
    }
}

/// The symbols of Python's C API that `module` takes from the interpreter
/// (its undefined dynamic symbols named `Py*` or `_Py*`, NumPy's own
/// excepted), sorted.
#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "groundwork for issue 24's cross-Python plan and runner, which call it"
    )
)]
pub fn python_imports(module: &Path) -> Result<Vec<String>, std::io::Error> {
    use object::{Object as _, ObjectSymbol as _};
    let data = std::fs::read(module)?;
    let file = object::File::parse(&*data).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is not a shared object: {e}", module.display()),
        )
    })?;
    let mut names: Vec<String> = file
        .dynamic_symbols()
        .filter(|s| s.is_undefined())
        .filter_map(|s| s.name().ok().map(str::to_string))
        .filter(|n| crate::outcome::python_symbol(n))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The underscore names that are part of the stable ABI nonetheless (as
/// CPython 3.13's `Lib/test/test_stable_abi_ctypes.py` lists them): an
/// abi3 module may take these. Every other `_Py*` symbol is private.
const STABLE_PRIVATE: [&str; 32] = [
    "_PyArg_ParseTupleAndKeywords_SizeT",
    "_PyArg_ParseTuple_SizeT",
    "_PyArg_Parse_SizeT",
    "_PyArg_VaParseTupleAndKeywords_SizeT",
    "_PyArg_VaParse_SizeT",
    "_PyErr_BadInternalCall",
    "_PyObject_CallFunction_SizeT",
    "_PyObject_CallMethod_SizeT",
    "_PyObject_GC_New",
    "_PyObject_GC_NewVar",
    "_PyObject_GC_Resize",
    "_PyObject_New",
    "_PyObject_NewVar",
    "_PyState_AddModule",
    "_PyThreadState_Init",
    "_PyThreadState_Prealloc",
    "_PyWeakref_CallableProxyType",
    "_PyWeakref_ProxyType",
    "_PyWeakref_RefType",
    "_Py_BuildValue_SizeT",
    "_Py_CheckRecursiveCall",
    "_Py_Dealloc",
    "_Py_DecRef",
    "_Py_EllipsisObject",
    "_Py_FalseStruct",
    "_Py_IncRef",
    "_Py_NoneStruct",
    "_Py_NotImplementedStruct",
    "_Py_SetRefcnt",
    "_Py_SwappedOp",
    "_Py_TrueStruct",
    "_Py_VaBuildValue_SizeT",
];

/// Of `imports` (from [`python_imports`]), the private symbols outside the
/// stable ABI: a module tagged abi3 that takes one uses the full API, and
/// loads only on the Pythons that still define it.
#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "groundwork for issue 24's cross-Python plan and runner, which call it"
    )
)]
pub fn private_imports(imports: &[String]) -> Vec<&str> {
    imports
        .iter()
        .map(String::as_str)
        .filter(|n| n.starts_with("_Py") && !STABLE_PRIVATE.contains(n))
        .collect()
}

/// Why an abi3 module never runs on a free-threaded interpreter, as a
/// cell's message says it.
pub const FREE_THREADED_NO_ABI3: &str = "abi3 (limited-API) modules cannot load on a free-threaded Python: the stable ABI assumes the GIL-enabled object layout, and CPython 3.13t and 3.14t have no stable ABI (abi3t, PEP 803, starts with 3.15)";

/// The limited API a wheel tag says its wheel is built for (PEP 425:
/// `python-abi-platform`, each part a `.`-separated set, as a wheel's name
/// ends and its `WHEEL` file lists it): `cp39-abi3` is 3.9's stable ABI;
/// `None` for a wheel for one Python (`cp312-cp312`) or none
/// (`py3-none-any`). What the installer reads to pick a wheel is this tag,
/// so it is what decides which Pythons a wheel is for.
pub fn abi3_of_tag(tag: &str) -> Option<LimitedApi> {
    let parts: Vec<&str> = tag.split('-').collect();
    let [python, abi, _platform] = parts[..] else {
        return None;
    };
    if !abi.split('.').any(|a| a == "abi3") {
        return None;
    }
    python
        .split('.')
        .filter_map(|t| t.strip_prefix("cp3")?.parse::<u8>().ok())
        .min()
        .and_then(LimitedApi::new)
}

/// The tags an installed distribution's `*.dist-info/WHEEL` lists (`Tag:`
/// lines, PEP 427), as one wheel-name tag (`cp39-abi3-manylinux_2_17_x86_64`
/// for the first): what a row installed from a requirement was, since its
/// file name is gone once installed. `None` when `dir` holds no such file.
pub fn installed_tag(dir: &Path, package: &str) -> Option<String> {
    let wanted = package.replace('-', "_").to_lowercase();
    let entries = std::fs::read_dir(dir).ok()?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_lowercase();
        let Some(stem) = name.strip_suffix(".dist-info") else {
            continue;
        };
        if stem.split('-').next() != Some(wanted.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path().join("WHEEL")).ok()?;
        return text
            .lines()
            .find_map(|l| l.strip_prefix("Tag:"))
            .map(|t| t.trim().to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn a_limited_api_version_is_a_minor_version_of_python_3() {
        let api: LimitedApi = "3.9".parse().unwrap();
        assert_eq!(api.to_string(), "3.9");
        assert_eq!(api.hex(), 0x0309_0000);
        assert_eq!(api.define(), "-DPy_LIMITED_API=0x03090000");
        let api: LimitedApi = " 3.12 ".parse().unwrap();
        assert_eq!(api.define(), "-DPy_LIMITED_API=0x030C0000");
        assert!(api > "3.9".parse().unwrap());
        for (text, want) in [
            ("3.9.1", "names a patch release"),
            ("3", "expected a Python minor version"),
            ("", "expected a Python minor version"),
            ("3.x", "expected a Python minor version"),
            ("3.09", "expected a Python minor version"),
            ("+3.9", "expected a Python minor version"),
            ("3.1", "from 3.2 on"),
            ("2.7", "from 3.2 on"),
            ("4.0", "from 3.2 on"),
            ("3.999", "expected a Python minor version"),
            ("3.15t", "abi3t"),
            ("abi3", "expected a Python minor version"),
        ] {
            let e = text.parse::<LimitedApi>().unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn it_admits_its_own_python_and_every_newer_one() {
        let api: LimitedApi = "3.10".parse().unwrap();
        assert!(!api.admits(&v("3.9.18")));
        assert!(api.admits(&v("3.10.0")));
        assert!(api.admits(&v("3.13.0")));
        assert!(api.admits(&v("4.0")));
    }

    #[test]
    fn the_file_name_says_what_a_module_was_built_for() {
        assert_eq!(ModuleTag::of("my_extension.abi3.so"), Some(ModuleTag::Abi3));
        assert_eq!(
            ModuleTag::of("my_extension.cpython-39-x86_64-linux-gnu.so"),
            Some(ModuleTag::Specific {
                python: (3, 9),
                free_threaded: false
            })
        );
        assert_eq!(
            ModuleTag::of("_multiarray_umath.cpython-313t-x86_64-linux-gnu.so"),
            Some(ModuleTag::Specific {
                python: (3, 13),
                free_threaded: true
            })
        );
        assert_eq!(ModuleTag::of("m.so"), Some(ModuleTag::Untagged));
        assert_eq!(ModuleTag::of("m.pyd"), None);
        assert_eq!(ModuleTag::of("m.pypy39-pp73-x86_64-linux-gnu.so"), None);
    }

    #[test]
    fn private_symbols_outside_the_stable_abi_are_picked_out() {
        // What real modules took: the sample as abi3, a full-API Cython
        // module renamed .abi3.so (tests/... by hand, see the module doc).
        let abi3: Vec<String> = [
            "PyCapsule_GetPointer",
            "_PyArg_ParseTuple_SizeT",
            "_Py_BuildValue_SizeT",
            "_Py_Dealloc",
            "_Py_NoneStruct",
        ]
        .map(String::from)
        .to_vec();
        assert!(private_imports(&abi3).is_empty());
        let cython: Vec<String> = ["PyList_New", "_PyUnicode_Ready", "_PyLong_AsInt"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            private_imports(&cython),
            ["_PyUnicode_Ready", "_PyLong_AsInt"]
        );
    }

    /// A real full-API module (the interpreter's own `_json`) takes
    /// private symbols; read from its ELF dynamic symbols.
    #[test]
    fn a_full_api_module_takes_private_symbols() {
        let out = std::process::Command::new("python3")
            .args(["-I", "-c", "import _json; print(_json.__file__)"])
            .output()
            .unwrap();
        let path = String::from_utf8(out.stdout).unwrap();
        let imports = python_imports(Path::new(path.trim())).unwrap();
        assert!(imports.iter().any(|n| n == "PyErr_Occurred"), "{imports:?}");
        assert!(!private_imports(&imports).is_empty(), "{imports:?}");
        assert!(
            imports
                .iter()
                .all(|n| n.starts_with("Py") || n.starts_with("_Py"))
        );
        assert!(python_imports(Path::new("/etc/hostname")).is_err());
    }

    /// The oldest GIL-enabled Python at or above the version builds; a
    /// free-threaded or older one cannot (recorded answers, and the
    /// fixture's 3.x interpreters).
    #[test]
    fn the_oldest_python_that_can_builds() {
        let at = |v: &str| crate::report::fixtures::interpreter(v);
        let ft: Interpreter =
            serde_json::from_str(include_str!("testdata/cpython-3.13.0t.json")).unwrap();
        let configured = [
            at("3.12.1"),
            at("3.8.18"),
            ft.clone(),
            at("3.10.13"),
            at("3.9.18"),
        ];
        let api = |v: &str| v.parse::<LimitedApi>().unwrap();
        assert_eq!(default_builder(api("3.9"), &configured), Some(4));
        assert_eq!(default_builder(api("3.11"), &configured), Some(0));
        assert_eq!(default_builder(api("3.13"), &configured), None);
        assert_eq!(
            default_builder(api("3.13"), std::slice::from_ref(&ft)),
            None
        );
        let e = check_builder(api("3.9"), &ft).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("CPython 3.13.0t is free-threaded"),
            "{e}"
        );
        let e = check_builder(api("3.9"), &at("3.8.18")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "CPython 3.8.18 is older than the 3.9 limited API: its headers do not have it"
        );
        assert!(e.hint().contains("[python] build"));
        assert!(check_builder(api("3.9"), &at("3.9.18")).is_ok());
    }
    #[test]
    fn a_wheel_tag_says_which_limited_api_it_is_for() {
        let of = |n: &str| abi3_of_tag(n).map(|l| l.to_string());
        assert_eq!(
            of("cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64").as_deref(),
            Some("3.9")
        );
        assert_eq!(of("cp38.cp39-abi3-linux_x86_64").as_deref(), Some("3.8"));
        assert_eq!(of("cp312-cp312-manylinux_2_17_x86_64"), None);
        assert_eq!(of("py2.py3-none-any"), None);
        assert_eq!(of("py3-abi3-any"), None);
        assert_eq!(of("cp39-abi3"), None);
        assert_eq!(of(""), None);
    }

    #[test]
    fn an_installed_rows_tag_is_read_from_its_wheel_file() {
        let dir = tempfile::tempdir().unwrap();
        let info = dir.path().join("pyerfa-2.0.1.5.dist-info");
        std::fs::create_dir(&info).unwrap();
        std::fs::write(
            info.join("WHEEL"),
            "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp39-abi3-manylinux_2_17_x86_64\nTag: cp39-abi3-manylinux2014_x86_64\n",
        )
        .unwrap();
        assert_eq!(
            installed_tag(dir.path(), "pyerfa").as_deref(),
            Some("cp39-abi3-manylinux_2_17_x86_64")
        );
        assert_eq!(installed_tag(dir.path(), "numpy"), None);
    }
}
