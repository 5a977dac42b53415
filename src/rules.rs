//! NumPy's published compatibility rules, as a prediction for every cell.
//!
//! From NumPy's C-API documentation and release notes:
//! - An extension built against NumPy 1.x cannot be imported under 2.x (the
//!   ABI version changed): `abi-major`.
//! - An extension needs, at run time, at least the C-API feature version it
//!   was built for. Before 1.25 that is the building NumPy's own version;
//!   from 1.25 on it is `NPY_TARGET_VERSION`, which defaults to the 1.19 API
//!   for 1.25 to 2.0, to 1.21 for 2.1 and 2.2, and to 1.23 for 2.3 and 2.4;
//!   an explicit `-DNPY_TARGET_VERSION=...` in the build flags overrides it.
//!   Too old a runtime: `api-version`.
//! - Otherwise the pair works: `pass`.
//!
//! And Python's own rules, which decide first whether a build is tried under
//! an interpreter at all ([`python_gap`]): a build for one Python's own ABI
//! loads on that Python only; an abi3 build (`Py_LIMITED_API` for 3.X) on
//! every GIL-enabled Python 3.X and newer, where NumPy's rules then apply
//! unchanged (checked by hand: the sample as abi3 for 3.9 against NumPy
//! 2.0.2 passes on 3.12 with 2.2.6; against 1.26.4 it fails abi-major
//! there, as under 3.9); never on a free-threaded Python (3.13t, 3.14t have
//! no stable ABI: abi3t arrives with 3.15).

use std::sync::LazyLock;

use pep440_rs::Version;
use regex::Regex;

use crate::outcome::{FailureReason, OutcomeKind};
use crate::python::abi::LimitedApi;

/// What NumPy's rules say a cell does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prediction {
    pub outcome: OutcomeKind,
    pub reason: Option<FailureReason>,
}

/// The C-API feature version (`NPY_API_VERSION`) of a NumPy release series.
pub fn api_version(major: u64, minor: u64) -> Option<u32> {
    Some(match (major, minor) {
        (1, 13) => 0xb,
        (1, 14) | (1, 15) => 0xc,
        (1, 16..=19) => 0xd,
        (1, 20) | (1, 21) => 0xe,
        (1, 22) => 0xf,
        (1, 23) | (1, 24) => 0x10,
        (1, 25) | (1, 26) => 0x11,
        (2, 0) => 0x12,
        (2, 1) | (2, 2) => 0x13,
        (2, 3) => 0x14,
        (2, 4) => 0x15,
        _ => return None,
    })
}

pub(crate) fn series(v: &Version) -> (u64, u64) {
    let r = v.release();
    (
        r.first().copied().unwrap_or(0),
        r.get(1).copied().unwrap_or(0),
    )
}

static TARGET_FLAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^-DNPY_TARGET_VERSION=(?:NPY_(\d+)_(\d+)_API_VERSION|(0x[0-9a-fA-F]+|\d+))$")
        .expect("constant pattern")
});

/// The C-API version a build against `build` requires at run time.
pub fn required_api(build: &Version, cflags: &[String]) -> Option<u32> {
    let (major, minor) = series(build);
    let honours_target = (major, minor) >= (1, 25);
    if honours_target {
        for flag in cflags {
            if let Some(c) = TARGET_FLAG.captures(flag.trim()) {
                if let (Some(a), Some(b)) = (c.get(1), c.get(2)) {
                    return api_version(a.as_str().parse().ok()?, b.as_str().parse().ok()?);
                }
                if let Some(n) = c.get(3) {
                    let n = n.as_str();
                    return match n.strip_prefix("0x") {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => n.parse().ok(),
                    };
                }
            }
        }
    }
    match (major, minor) {
        (1, 25) | (1, 26) | (2, 0) => Some(0xd),
        (2, 1) | (2, 2) => Some(0xe),
        (2, 3) | (2, 4) => Some(0x10),
        (m, n) if (m, n) < (1, 25) => api_version(m, n),
        // Newer than these rules know: assume the last known default.
        _ => Some(0x10),
    }
}

/// The predicted outcome of a cell.
pub fn predict(build: &Version, runtime: &Version, cflags: &[String]) -> Prediction {
    let fail = |reason| Prediction {
        outcome: OutcomeKind::Fail,
        reason: Some(reason),
    };
    let (bm, _) = series(build);
    let (rm, rn) = series(runtime);
    if bm < 2 && rm >= 2 {
        return fail(FailureReason::AbiMajor);
    }
    if let (Some(need), Some(have)) = (required_api(build, cflags), api_version(rm, rn)) {
        if have < need {
            return fail(FailureReason::ApiVersion);
        }
    }
    Prediction {
        outcome: OutcomeKind::Pass,
        reason: None,
    }
}

/// What a build was made for on the Python axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildAbi {
    /// The building interpreter's own ABI (`cpython-312`, `cpython-313t`):
    /// no other Python loads it. A per-Python build is planned in its own
    /// Python's grid; a published wheel tagged `cp312-cp312` is one.
    Specific {
        python: (u64, u64),
        free_threaded: bool,
    },
    /// The stable ABI of this limited API: every GIL-enabled Python at or
    /// above it loads it.
    Abi3(LimitedApi),
}

impl BuildAbi {
    /// What a wheel tag (`cp39-abi3-…`, `cp312-cp312-…`, `cp313-cp313t-…`)
    /// says its wheel was made for; `None` for one any Python 3 loads
    /// (`py3-none-any`) or a tag it cannot read.
    pub fn of_wheel_tag(tag: &str) -> Option<BuildAbi> {
        if let Some(limited) = crate::python::abi::abi3_of_tag(tag) {
            return Some(BuildAbi::Abi3(limited));
        }
        let parts: Vec<&str> = tag.split('-').collect();
        let [python, abi, _platform] = parts[..] else {
            return None;
        };
        let minor = |t: &str| t.strip_prefix("cp3")?.parse::<u64>().ok();
        let own = minor(python)?;
        let free_threaded = match abi.strip_prefix(&format!("cp3{own}")) {
            Some("t") => true,
            Some("" | "m") => false,
            _ => return None,
        };
        Some(BuildAbi::Specific {
            python: (3, own),
            free_threaded,
        })
    }
}

/// A runtime interpreter, as Python's rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimePython<'a> {
    pub version: &'a Version,
    pub free_threaded: bool,
}

impl<'a> RuntimePython<'a> {
    /// The Python `interpreter` is, as the rules read it.
    pub fn of(interpreter: &'a crate::python::Interpreter) -> RuntimePython<'a> {
        RuntimePython {
            version: &interpreter.version,
            free_threaded: interpreter.free_threaded,
        }
    }
}

impl RuntimePython<'_> {
    fn minor(&self) -> (u64, u64) {
        series(self.version)
    }

    /// "3.12", "3.13t".
    fn label(&self) -> String {
        let (major, minor) = self.minor();
        format!(
            "{major}.{minor}{}",
            if self.free_threaded { "t" } else { "" }
        )
    }
}

/// Why a build is not tried under an interpreter: its cells are
/// `unavailable` (python-abi), the message this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PythonGap {
    /// An abi3 build for 3.X under a Python older than 3.X: the stable ABI
    /// promises nothing below its version (a 3.12 build took `_Py_DecRef`,
    /// which 3.9 lacks; a 3.13 build `Py_GetConstantBorrowed`, which every
    /// older Python lacks).
    BelowLimited(LimitedApi),
    /// An abi3 build under a free-threaded Python.
    FreeThreaded,
    /// A build for one Python's own ABI under another Python.
    OtherPython {
        python: (u64, u64),
        free_threaded: bool,
    },
}

impl PythonGap {
    /// The sentence a cell's message starts with, for `python`.
    pub fn message(self, python: &RuntimePython<'_>) -> String {
        let here = python.label();
        match self {
            PythonGap::BelowLimited(limited) => format!(
                "built for the {limited} limited API (abi3), which loads on Python {limited} and newer, not {here}"
            ),
            PythonGap::FreeThreaded => format!(
                "Python {here} is free-threaded: {}",
                crate::python::abi::FREE_THREADED_NO_ABI3
            ),
            PythonGap::OtherPython {
                python: (major, minor),
                free_threaded,
            } => format!(
                "built for Python {major}.{minor}{}'s own ABI, which only that Python loads, not {here}",
                if free_threaded { "t" } else { "" }
            ),
        }
    }
}

/// Whether a build made for `build` loads under `python`, by Python's
/// rules alone; `None`: it does, and NumPy's rules decide the cell.
pub fn python_gap(build: BuildAbi, python: &RuntimePython<'_>) -> Option<PythonGap> {
    match build {
        BuildAbi::Abi3(_) if python.free_threaded => Some(PythonGap::FreeThreaded),
        BuildAbi::Abi3(limited) if !limited.admits(python.version) => {
            Some(PythonGap::BelowLimited(limited))
        }
        BuildAbi::Abi3(_) => None,
        BuildAbi::Specific {
            python: built,
            free_threaded,
        } if built != python.minor() || free_threaded != python.free_threaded => {
            Some(PythonGap::OtherPython {
                python: built,
                free_threaded,
            })
        }
        BuildAbi::Specific { .. } => None,
    }
}

/// The predicted outcome of a cell whose build was made for `abi` and runs
/// under `python`: unavailable where Python's rules say it does not load,
/// else NumPy's rules ([`predict`]), the same under every Python.
#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "groundwork for issue 24's cross-Python plan and runner, which call it"
    )
)]
pub fn predict_across(
    abi: BuildAbi,
    python: &RuntimePython<'_>,
    build: &Version,
    runtime: &Version,
    cflags: &[String],
) -> Prediction {
    match python_gap(abi, python) {
        Some(_) => Prediction {
            outcome: OutcomeKind::Unavailable,
            reason: None,
        },
        None => predict(build, runtime, cflags),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn p(build: &str, runtime: &str, cflags: &[&str]) -> (OutcomeKind, Option<FailureReason>) {
        let flags: Vec<String> = cflags.iter().map(|s| s.to_string()).collect();
        let e = predict(
            &Version::from_str(build).unwrap(),
            &Version::from_str(runtime).unwrap(),
            &flags,
        );
        (e.outcome, e.reason)
    }

    const PASS: (OutcomeKind, Option<FailureReason>) = (OutcomeKind::Pass, None);
    const API: (OutcomeKind, Option<FailureReason>) =
        (OutcomeKind::Fail, Some(FailureReason::ApiVersion));
    const ABI: (OutcomeKind, Option<FailureReason>) =
        (OutcomeKind::Fail, Some(FailureReason::AbiMajor));

    #[test]
    fn the_rules_on_cells_this_project_has_observed() {
        // Observed on CPython 3.9 and 3.11 (tests/pythons.rs, tests/run.rs).
        assert_eq!(p("1.22.4", "1.21.6", &[]), API);
        assert_eq!(p("1.22.4", "1.19.5", &[]), API);
        assert_eq!(p("1.25.2", "1.19.5", &[]), PASS);
        assert_eq!(p("1.26.4", "2.0.2", &[]), ABI);
        assert_eq!(p("2.0.2", "1.24.4", &[]), PASS);
        assert_eq!(p("2.4.6", "1.23.5", &[]), PASS);
        assert_eq!(p("1.22.4", "1.26.4", &[]), PASS);
    }

    #[test]
    fn targets_default_per_release_and_flags_override() {
        assert_eq!(p("2.2.6", "1.20.3", &[]), PASS);
        assert_eq!(p("2.2.6", "1.19.5", &[]), API);
        assert_eq!(p("2.4.6", "1.22.4", &[]), API);
        assert_eq!(
            p(
                "2.0.2",
                "1.26.4",
                &["-DNPY_TARGET_VERSION=NPY_2_0_API_VERSION"]
            ),
            API
        );
        assert_eq!(
            p(
                "2.0.2",
                "2.0.2",
                &["-DNPY_TARGET_VERSION=NPY_2_0_API_VERSION"]
            ),
            PASS
        );
        assert_eq!(p("1.26.4", "1.22.4", &["-DNPY_TARGET_VERSION=0x11"]), API);
        // Before 1.25 the flag does not exist; the build's own API counts.
        assert_eq!(
            p(
                "1.24.4",
                "1.22.4",
                &["-DNPY_TARGET_VERSION=NPY_1_19_API_VERSION"]
            ),
            API
        );
    }

    fn on(version: &str, free_threaded: bool) -> (Version, bool) {
        (Version::from_str(version).unwrap(), free_threaded)
    }

    fn gap(abi: BuildAbi, python: &(Version, bool)) -> Option<PythonGap> {
        python_gap(
            abi,
            &RuntimePython {
                version: &python.0,
                free_threaded: python.1,
            },
        )
    }

    #[test]
    fn an_abi3_build_loads_at_and_above_its_version_and_never_free_threaded() {
        let abi3 = BuildAbi::Abi3("3.9".parse().unwrap());
        for python in ["3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"] {
            assert_eq!(gap(abi3, &on(python, false)), None, "{python}");
        }
        let below = gap(abi3, &on("3.8.18", false)).unwrap();
        assert_eq!(below, PythonGap::BelowLimited("3.9".parse().unwrap()));
        let py38 = on("3.8.18", false);
        let py38 = RuntimePython {
            version: &py38.0,
            free_threaded: false,
        };
        assert_eq!(
            below.message(&py38),
            "built for the 3.9 limited API (abi3), which loads on Python 3.9 and newer, not 3.8"
        );
        let ft = on("3.13.0", true);
        assert_eq!(gap(abi3, &ft), Some(PythonGap::FreeThreaded));
        let ft = RuntimePython {
            version: &ft.0,
            free_threaded: true,
        };
        let message = PythonGap::FreeThreaded.message(&ft);
        assert!(
            message.starts_with("Python 3.13t is free-threaded: abi3")
                && message.contains("abi3t, PEP 803, starts with 3.15"),
            "{message}"
        );
        // 3.12's limited API is not 3.9's: below it, even where it would
        // happen to load (3.11 has _Py_DecRef), nothing is promised.
        let abi312 = BuildAbi::Abi3("3.12".parse().unwrap());
        assert!(gap(abi312, &on("3.11.7", false)).is_some());
        assert_eq!(gap(abi312, &on("3.12.1", false)), None);
    }

    #[test]
    fn a_version_specific_build_loads_on_its_own_python_only() {
        let own = BuildAbi::Specific {
            python: (3, 11),
            free_threaded: false,
        };
        assert_eq!(gap(own, &on("3.11.7", false)), None);
        assert_eq!(
            gap(own, &on("3.12.1", false)),
            Some(PythonGap::OtherPython {
                python: (3, 11),
                free_threaded: false
            })
        );
        let ft = BuildAbi::Specific {
            python: (3, 13),
            free_threaded: true,
        };
        assert_eq!(gap(ft, &on("3.13.0", true)), None);
        assert!(gap(ft, &on("3.13.0", false)).is_some());
        assert!(gap(own, &on("3.11.7", true)).is_some());
    }

    /// The issue's by-hand cells (this machine, pyenv's CPythons): the
    /// sample as abi3 for 3.9, built on 3.9 against 1.26.4 and 2.0.2, under
    /// newer Pythons and NumPys; NumPy's rules decide wherever it loads.
    #[test]
    fn numpys_rules_hold_under_every_python_an_abi3_build_loads_on() {
        let abi3 = BuildAbi::Abi3("3.9".parse().unwrap());
        let across = |build: &str, python: &str, runtime: &str| {
            let p = on(python, false);
            let e = predict_across(
                abi3,
                &RuntimePython {
                    version: &p.0,
                    free_threaded: false,
                },
                &Version::from_str(build).unwrap(),
                &Version::from_str(runtime).unwrap(),
                &[],
            );
            (e.outcome, e.reason)
        };
        for (python, runtime) in [
            ("3.9.18", "1.19.5"),
            ("3.9.18", "2.0.2"),
            ("3.11.7", "2.4.6"),
            ("3.12.1", "2.2.6"),
            ("3.13.0", "2.1.3"),
        ] {
            assert_eq!(across("2.0.2", python, runtime), PASS, "{python} {runtime}");
        }
        assert_eq!(across("1.26.4", "3.12.1", "1.26.4"), PASS);
        for (python, runtime) in [
            ("3.9.18", "2.0.2"),
            ("3.12.1", "2.2.6"),
            ("3.13.0", "2.4.6"),
        ] {
            assert_eq!(across("1.26.4", python, runtime), ABI, "{python} {runtime}");
        }
        assert_eq!(
            across("2.0.2", "3.8.18", "2.0.2"),
            (OutcomeKind::Unavailable, None)
        );
    }

    #[test]
    fn a_wheel_tag_says_which_pythons_load_its_wheel() {
        let v = |s: &str| Version::from_str(s).unwrap();
        let gap = |tag: &str, python: &str, free_threaded: bool| {
            let version = v(python);
            let python = RuntimePython {
                version: &version,
                free_threaded,
            };
            BuildAbi::of_wheel_tag(tag)
                .and_then(|abi| python_gap(abi, &python).map(|g| g.message(&python)))
        };
        let abi3 = "cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64";
        assert_eq!(gap(abi3, "3.12.1", false), None);
        assert_eq!(
            gap(abi3, "3.8.18", false).as_deref(),
            Some(
                "built for the 3.9 limited API (abi3), which loads on Python 3.9 and newer, not 3.8"
            )
        );
        assert!(gap(abi3, "3.13.0", true).unwrap().contains("free-threaded"));
        let own = "cp312-cp312-manylinux_2_17_x86_64";
        assert_eq!(gap(own, "3.12.1", false), None);
        assert!(
            gap(own, "3.11.9", false)
                .unwrap()
                .contains("Python 3.12's own ABI")
        );
        assert!(
            gap("cp313-cp313t-linux_x86_64", "3.13.0", false)
                .unwrap()
                .contains("3.13t")
        );
        assert_eq!(gap("cp37-cp37m-linux_x86_64", "3.7.17", false), None);
        assert_eq!(BuildAbi::of_wheel_tag("py3-none-any"), None);
        assert_eq!(
            BuildAbi::of_wheel_tag("pp39-pypy39_pp73-linux_x86_64"),
            None
        );
    }
}
