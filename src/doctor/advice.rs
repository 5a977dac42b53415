//! What to do, in words, from what the trials found and the remedy
//! measured: a judgment, kept apart from the measuring (`remedy`) and the
//! rendering (`report`). Each line says what it rests on: a missing
//! dependency is said first and never blamed on NumPy; NumPy's part is
//! taken from the grids made with the dependencies installed; a pin or an
//! upgrade says whether it was checked together with every package that
//! imports today; a declaration is called wrong only on failures NumPy
//! caused.

use std::fmt::Write as _;

use pep440_rs::Version;
use serde::Serialize;

use super::remedy::{Package, Remedy, SetCheck, Upgrade};
use super::scan::applicable;
use super::trial::Trial;
use crate::outcome::{describe, first_line};

/// What to do, in words, from the measurements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Advice {
    /// "install pytz, python-dateutil: pandas 2.0.3 needs them (not a
    /// NumPy problem)", per package whose error names missing packages.
    pub missing: Vec<String>,
    /// Whether NumPy breaks a package that failed here for another
    /// reason, measured with its dependencies installed.
    pub numpy_verdicts: Vec<String>,
    /// "pin numpy<2 (everything passes under 1.26.4)", or why none works.
    pub numpy: Option<String>,
    /// The pin with every package, installed together.
    pub numpy_check: Option<String>,
    /// "upgrade pandas to >=2.2.2 (...)", per package NumPy breaks.
    pub upgrades: Vec<String>,
    /// The upgrades with every other package, installed together.
    pub upgrades_check: Option<String>,
    /// Packages whose declared NumPy requirement admits a NumPy they fail
    /// under, because of NumPy.
    pub wrong_declarations: Vec<WrongDeclaration>,
    /// Packages installed beside a NumPy their metadata forbids.
    pub violated: Vec<String>,
}

impl Advice {
    /// Nothing to say (no remedy measured, no dependency missing).
    pub fn is_empty(&self) -> bool {
        *self == Advice::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrongDeclaration {
    pub name: String,
    pub version: String,
    pub declared: Vec<String>,
    /// NumPy versions it admits and fails under.
    pub fails_under: Vec<String>,
}

/// "install pytz, python-dateutil: pandas 2.0.3 needs them (not a NumPy
/// problem)".
pub fn missing_line(t: &Trial) -> String {
    let needs = if t.missing.len() == 1 {
        "needs it"
    } else {
        "needs them"
    };
    format!(
        "install {}: {} {} {needs} (not a NumPy problem)",
        t.missing_names(),
        t.name,
        t.version
    )
}

/// The advice the trials and `remedy` support, for `broken` under
/// `installed` NumPy on `python`.
pub fn advise(
    trials: &[Trial],
    remedy: &Remedy,
    broken: &[Package],
    installed: &str,
    python: Option<&Version>,
) -> Advice {
    let mut advice = Advice {
        missing: trials
            .iter()
            .filter(|t| !t.passed() && !t.missing.is_empty())
            .map(missing_line)
            .collect(),
        ..Advice::default()
    };
    for g in &remedy.grids {
        let Some(t) = trials.iter().find(|t| t.name == g.name) else {
            continue;
        };
        let Some(cell) = g.at(installed) else {
            continue;
        };
        let deps = if t.missing.is_empty() {
            "with its dependencies installed".to_string()
        } else {
            format!("with {} installed", t.missing_names())
        };
        let line = if cell.passed() {
            format!(
                "{deps}, {} {} imports under numpy {installed} (measured in a fresh environment): NumPy does not break it",
                g.name, g.version
            )
        } else if !t.missing.is_empty() && cell.ran() {
            format!(
                "NumPy also breaks {} {}: {deps}, it fails under numpy {installed} in a fresh environment ({}: {})",
                g.name,
                g.version,
                describe(cell.outcome, cell.reason),
                first_line(&cell.message)
            )
        } else {
            continue;
        };
        advice.numpy_verdicts.push(line);
    }
    if !remedy.upgrades.is_empty() {
        let verdicts = remedy.verdicts();
        advice.numpy = Some(pin(&verdicts).unwrap_or_else(|| {
            "no NumPy tried makes every broken package import (see the grid)".to_string()
        }));
        advice.numpy_check = remedy.pin_check.as_ref().map(check_line);
        advice.upgrades = remedy
            .upgrades
            .iter()
            .map(|u| upgrade_line(u, installed))
            .collect();
        advice.upgrades_check = remedy.upgrade_check.as_ref().map(check_line);
    }
    for g in &remedy.grids {
        let declared = broken
            .iter()
            .find(|b| b.name == g.name)
            .map(|b| applicable(&b.numpy_requires, python))
            .unwrap_or_default();
        // Only failures NumPy caused make a declaration wrong.
        let mut fails_under: Vec<String> = g
            .cells
            .iter()
            .filter(|c| g.numpy_caused(c))
            .map(|c| c.numpy.clone())
            .collect();
        fails_under.sort_by_key(|v| super::remedy::version_key(v));
        fails_under.dedup();
        if !fails_under.is_empty() {
            advice.wrong_declarations.push(WrongDeclaration {
                name: g.name.clone(),
                version: g.version.clone(),
                declared: declared.clone(),
                fails_under,
            });
        }
        if g.at(installed).is_some_and(|c| c.forbidden) {
            let mut line = format!(
                "{} {}'s metadata forbids the installed numpy {installed}",
                g.name, g.version
            );
            if !declared.is_empty() {
                let _ = write!(line, " (it declares {})", declared.join("; "));
            }
            line.push_str(": it was installed against its declaration (`pip check` says so too)");
            advice.violated.push(line);
        }
    }
    advice
}

/// "upgrade cc3d to >=3.16.1 (the oldest release that imports under numpy
/// 2.0.2; 3.16.0 below it does not)", or why there is none.
pub fn upgrade_line(u: &Upgrade, installed: &str) -> String {
    if let Some(e) = &u.index_error {
        return format!("no release of {} could be tried: {e}", u.name);
    }
    let Some(v) = &u.oldest_passing else {
        return if u.tried.is_empty() {
            format!(
                "no newer release of {} than {} with a wheel for this Python on the index to try",
                u.name, u.installed
            )
        } else {
            let newest = u.tried.first().map_or("", |c| c.version.as_str());
            format!(
                "no newer release of {} imports under numpy {installed} (the newest, {newest}, does not)",
                u.name
            )
        };
    };
    let mut line = format!(
        "upgrade {} to >={v} (the oldest release that imports under numpy {installed}",
        u.name
    );
    match &u.fails_below {
        Some(below) if u.narrowed => {
            let forbids = u
                .tried
                .iter()
                .any(|c| &c.version == below && c.forbidden && !c.ran());
            if forbids {
                let _ = write!(
                    line,
                    "; {below} below it forbids numpy {installed} in its metadata"
                );
            } else {
                let _ = write!(line, "; {below} below it does not");
            }
        }
        Some(below) => {
            let _ = write!(
                line,
                "; not narrowed further: the limit of {} tries was reached with releases between {below} and {v} untried",
                u.max_tries
            );
        }
        None => {
            let _ = write!(line, "; the installed {} below it does not", u.installed);
        }
    }
    if !u.out_of_order.is_empty() {
        let _ = write!(
            line,
            "; {} also imports, but a newer release does not",
            u.out_of_order.join(", ")
        );
    }
    line.push(')');
    line
}

/// "checked together in one fresh environment: numpy 1.26.4, a 1.0, b 2.0
/// all import", or what went wrong.
pub fn check_line(c: &SetCheck) -> String {
    if c.passed() {
        return format!(
            "checked together in one fresh environment: {}: all import",
            c.set()
        );
    }
    let first = first_line(&c.cell.message);
    if c.cell.ran() {
        format!(
            "checked together in one fresh environment: {}: {}: {first}: these do not work as a set",
            c.set(),
            describe(c.cell.outcome, c.cell.reason)
        )
    } else {
        format!("could not be checked together ({}): {first}", c.set())
    }
}

/// "pin numpy<2 (everything passes under 1.26.4)" from the columns
/// (ascending) and whether everything passed in each: the unbroken block
/// of passes that holds the newest passing column, bounded by the minor
/// series of its failing neighbours.
pub fn pin(verdicts: &[(String, bool)]) -> Option<String> {
    let last = verdicts.iter().rposition(|(_, ok)| *ok)?;
    let first = verdicts[..last]
        .iter()
        .rposition(|(_, ok)| !*ok)
        .map_or(0, |i| i + 1);
    let series = |v: &str| -> String {
        let parts: Vec<&str> = v.split('.').collect();
        match parts.as_slice() {
            [major, "0", ..] => major.to_string(),
            [major, minor, ..] => format!("{major}.{minor}"),
            _ => v.to_string(),
        }
    };
    let mut bounds = Vec::new();
    if first > 0 {
        let v = &verdicts[first].0;
        let parts: Vec<&str> = v.split('.').collect();
        bounds.push(format!(
            ">={}",
            parts.get(..2).map_or(v.clone(), |p| p.join("."))
        ));
    }
    if let Some((next, _)) = verdicts.get(last + 1) {
        bounds.push(format!("<{}", series(next)));
    }
    let newest = &verdicts[last].0;
    Some(if bounds.is_empty() {
        format!("any numpy tried works; everything passes under {newest}")
    } else {
        format!(
            "pin numpy{} (everything passes under {newest})",
            bounds.join(",")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::remedy::{Cell, PackageGrid, Pinned, SkipReason, Skipped};
    use crate::doctor::scan::declared;
    use crate::outcome::{FailureReason, OutcomeKind};

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    fn cell(version: &str, numpy: &str, outcome: OutcomeKind) -> Cell {
        Cell {
            version: version.into(),
            numpy: numpy.into(),
            outcome,
            reason: (outcome == OutcomeKind::Fail).then_some(FailureReason::DtypeSize),
            message: "numpy.dtype size changed".into(),
            error: String::new(),
            forbidden: false,
        }
    }

    #[test]
    fn the_pin_is_bounded_by_the_failing_neighbours() {
        let cols = |list: &[(&str, bool)]| -> Vec<(String, bool)> {
            list.iter().map(|(v, ok)| (v.to_string(), *ok)).collect()
        };
        assert_eq!(
            pin(&cols(&[
                ("1.25.2", true),
                ("1.26.4", true),
                ("2.0.2", false),
                ("2.4.1", false)
            ]))
            .as_deref(),
            Some("pin numpy<2 (everything passes under 1.26.4)")
        );
        assert_eq!(
            pin(&cols(&[
                ("1.26.4", false),
                ("2.0.2", true),
                ("2.1.3", true),
                ("2.2.6", false)
            ]))
            .as_deref(),
            Some("pin numpy>=2.0,<2.2 (everything passes under 2.1.3)")
        );
        assert_eq!(pin(&cols(&[("1.26.4", false), ("2.0.2", false)])), None);
        assert_eq!(
            pin(&cols(&[("1.26.4", true)])).as_deref(),
            Some("any numpy tried works; everything passes under 1.26.4")
        );
    }

    #[test]
    fn declared_requirements_follow_python_version_markers() {
        let lines = vec![
            "numpy (>=1.20.3) ; python_version < \"3.10\"".to_string(),
            "numpy (>=1.21.0) ; python_version >= \"3.10\"".to_string(),
            "numpy (>=1.23.2) ; python_version >= \"3.11\"".to_string(),
        ];
        let specs = declared(&lines, Some(&v("3.11.7")));
        assert_eq!(specs.len(), 2);
        assert!(specs.iter().all(|s| s.contains(&v("1.23.2"))));
        assert!(!specs.iter().all(|s| s.contains(&v("1.22.0"))));
        let specs = declared(&["numpy<1.28.0,>=1.21.6".to_string()], None);
        assert!(specs[0].contains(&v("1.26.4")) && !specs[0].contains(&v("2.0.2")));
    }

    fn upgrade() -> Upgrade {
        Upgrade {
            name: "h5py".into(),
            installed: "3.9.0".into(),
            candidates: 7,
            max_tries: 12,
            tried: vec![
                cell("3.16.0", "2.1.3", OutcomeKind::Pass),
                cell("3.13.0", "2.1.3", OutcomeKind::Pass),
                cell("3.12.1", "2.1.3", OutcomeKind::Pass),
                cell("3.11.0", "2.1.3", OutcomeKind::Pass),
                cell("3.10.0", "2.1.3", OutcomeKind::Fail),
            ],
            skipped: vec![Skipped {
                version: "3.12.0".into(),
                why: SkipReason::Yanked { reason: "".into() },
            }],
            oldest_passing: Some("3.11.0".into()),
            fails_below: Some("3.10.0".into()),
            narrowed: true,
            out_of_order: vec![],
            index_error: None,
        }
    }

    #[test]
    fn an_upgrade_says_what_bounds_it() {
        assert_eq!(
            upgrade_line(&upgrade(), "2.1.3"),
            "upgrade h5py to >=3.11.0 (the oldest release that imports under numpy 2.1.3; 3.10.0 below it does not)"
        );
        let mut u = upgrade();
        u.narrowed = false;
        u.skipped.clear();
        assert_eq!(
            upgrade_line(&u, "2.1.3"),
            "upgrade h5py to >=3.11.0 (the oldest release that imports under numpy 2.1.3; not narrowed further: the limit of 12 tries was reached with releases between 3.10.0 and 3.11.0 untried)"
        );
        u.oldest_passing = None;
        u.tried = vec![cell("3.16.0", "2.1.3", OutcomeKind::Fail)];
        assert_eq!(
            upgrade_line(&u, "2.1.3"),
            "no newer release of h5py imports under numpy 2.1.3 (the newest, 3.16.0, does not)"
        );
    }

    #[test]
    fn a_set_check_says_what_was_installed_together() {
        let mut c = SetCheck {
            numpy: "1.26.4".into(),
            packages: vec![
                Pinned {
                    name: "h5py".into(),
                    version: "3.9.0".into(),
                },
                Pinned {
                    name: "pykdtree".into(),
                    version: "1.4.3".into(),
                },
            ],
            cell: cell("3.9.0", "1.26.4", OutcomeKind::Pass),
        };
        assert_eq!(
            check_line(&c),
            "checked together in one fresh environment: numpy 1.26.4, h5py 3.9.0, pykdtree 1.4.3: all import"
        );
        c.cell = cell("3.9.0", "1.26.4", OutcomeKind::Fail);
        assert_eq!(
            check_line(&c),
            "checked together in one fresh environment: numpy 1.26.4, h5py 3.9.0, pykdtree 1.4.3: fail (dtype-size): numpy.dtype size changed: these do not work as a set"
        );
    }

    fn trial(name: &str, missing: &[(&str, Option<&str>)]) -> Trial {
        use crate::doctor::trial::Missing;
        Trial {
            name: name.into(),
            version: "2.0.3".into(),
            outcome: crate::outcome::Outcome::Fail(crate::outcome::Failure {
                reason: FailureReason::Other,
                exception: Some("ImportError".into()),
                message: "ImportError: Unable to import required dependencies:".into(),
            }),
            module: Some(name.into()),
            failures: vec![],
            error: String::new(),
            missing: missing
                .iter()
                .map(|(m, r)| Missing {
                    module: m.to_string(),
                    requirement: r.map(String::from),
                })
                .collect(),
            modules: 1,
            duration: std::time::Duration::ZERO,
            stdout: String::new(),
            stderr: String::new(),
            command: String::new(),
        }
    }

    /// The case of issue 22: pandas without pytz and dateutil beside NumPy
    /// 2: the missing packages first, then NumPy's own part, measured with
    /// them installed, with its own fix; the missing dependency's error
    /// makes no declaration wrong.
    #[test]
    fn a_missing_dependency_is_said_apart_from_what_numpy_breaks() {
        use OutcomeKind::*;
        let t = trial(
            "pandas",
            &[
                ("pytz", Some("pytz")),
                ("dateutil", Some("python-dateutil")),
            ],
        );
        let remedy = Remedy {
            columns: vec!["1.26.4".into(), "2.0.2".into()],
            grids: vec![PackageGrid {
                name: "pandas".into(),
                version: "2.0.3".into(),
                cells: vec![cell("2.0.3", "1.26.4", Pass), cell("2.0.3", "2.0.2", Fail)],
            }],
            upgrades: vec![Upgrade {
                name: "pandas".into(),
                installed: "2.0.3".into(),
                oldest_passing: Some("2.2.2".into()),
                fails_below: Some("2.2.1".into()),
                narrowed: true,
                ..Upgrade::default()
            }],
            ..Remedy::default()
        };
        let broken = [Package {
            name: "pandas".into(),
            version: "2.0.3".into(),
            tops: vec!["pandas".into()],
            numpy_requires: vec!["numpy>=1.23.2; python_version >= \"3.11\"".into()],
        }];
        let a = advise(
            std::slice::from_ref(&t),
            &remedy,
            &broken,
            "2.0.2",
            Some(&v("3.11.7")),
        );
        assert_eq!(
            a.missing,
            ["install pytz, python-dateutil: pandas 2.0.3 needs them (not a NumPy problem)"]
        );
        assert_eq!(
            a.numpy_verdicts,
            [
                "NumPy also breaks pandas 2.0.3: with pytz, python-dateutil installed, it fails under numpy 2.0.2 in a fresh environment (fail (dtype-size): numpy.dtype size changed)"
            ]
        );
        assert_eq!(
            a.numpy.as_deref(),
            Some("pin numpy<2 (everything passes under 1.26.4)")
        );
        assert_eq!(
            a.upgrades,
            [
                "upgrade pandas to >=2.2.2 (the oldest release that imports under numpy 2.0.2; 2.2.1 below it does not)"
            ]
        );
        assert_eq!(a.wrong_declarations.len(), 1);
        assert_eq!(a.wrong_declarations[0].fails_under, ["2.0.2"]);
        // Only the declaration that applies to this Python is quoted.
        assert_eq!(
            a.wrong_declarations[0].declared,
            ["numpy>=1.23.2; python_version >= \"3.11\""]
        );

        // With them installed it imports: NumPy is not to blame, and
        // nothing is pinned or upgraded.
        let fine = Remedy {
            grids: vec![PackageGrid {
                cells: vec![cell("2.0.3", "1.26.4", Pass), cell("2.0.3", "2.0.2", Pass)],
                ..remedy.grids[0].clone()
            }],
            upgrades: vec![],
            ..remedy.clone()
        };
        let a = advise(&[t], &fine, &broken, "2.0.2", Some(&v("3.11.7")));
        assert_eq!(
            a.numpy_verdicts,
            [
                "with pytz, python-dateutil installed, pandas 2.0.3 imports under numpy 2.0.2 (measured in a fresh environment): NumPy does not break it"
            ]
        );
        assert_eq!((a.numpy, a.upgrades.len()), (None, 0));
        assert!(a.wrong_declarations.is_empty());
        let one = trial("x", &[("PIL", None)]);
        assert_eq!(
            missing_line(&one),
            "install PIL: x 2.0.3 needs it (not a NumPy problem)"
        );
    }
}
