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

use std::sync::LazyLock;

use pep440_rs::Version;
use regex::Regex;

use crate::outcome::{FailureReason, OutcomeKind};

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
}
