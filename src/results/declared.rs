//! What a package declares against what the grid measured.
//!
//! A published wheel, a requirement row or a built project declares the
//! NumPy it works with (`Requires-Dist: numpy...`). The grid tested it
//! under real NumPy releases. A conclusion about that declaration is drawn
//! only from failures NumPy caused, and carries its evidence (the cells) and
//! the rule that drew it, row by row:
//!
//! - a **declaration error**: a NumPy the declaration admits under which the
//!   package fails, crashes or hangs *because of NumPy*: for a NumPy reason
//!   (abi-major, api-version, dtype-size, a missing NumPy symbol, a crash
//!   inside NumPy), or while it passes under another NumPy tested (the
//!   failure follows the NumPy version). This is the bug that reaches users:
//!   pip installs the pair and the import breaks. It fails the run unless
//!   the cells did what their expectations say.
//! - **not a NumPy problem**: a row that passes under no NumPy tested and
//!   fails for no NumPy reason (a probe's own bug, a missing test
//!   dependency, another package's import error) gets no verdict on its
//!   declaration, and says so.
//! - a **bound too strict**: a NumPy the declaration forbids under which the
//!   package passes (cells run with `--ignore-requires`), when the cells
//!   exercised it (a probe or a test command). A pass of the imports alone
//!   is reported as not proof.
//! - **a forced build** (made only because of `--ignore-requires`, against
//!   a NumPy the project's build requirements forbid) could not exist for a
//!   user: no verdict on its declaration.
//!
//! Pure: a function of a [`Document`]. The JSON writes the list as
//! `declarations`, and every report renders it from there.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use serde::Serialize;

use super::document::{AxisDoc, CellDoc, Document, GridDoc};
use crate::extension::Exercise;
use crate::outcome::{FailureReason, OutcomeKind};

/// How every report marks a build made only because of `--ignore-requires`.
pub const FORCED: &str = "built only because of --ignore-requires";

/// What the cells say about one row's declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// It admits a NumPy under which NumPy makes it fail.
    Error,
    /// It forbids a NumPy under which it passes, exercised.
    TooStrict,
    /// It forbids a NumPy under which it imports, but only importing was
    /// tested (or the results do not say what ran).
    Unproven,
    /// The row fails under every NumPy tested, for no NumPy reason.
    NotNumpy,
    /// Built only because of `--ignore-requires`.
    Forced,
    /// No cell contradicts it.
    Holds,
}

/// The rule that drew a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// Failed for a reason only NumPy gives.
    NumpyReason,
    /// Failed here, passed under another NumPy tested.
    VariesWithNumpy,
    /// Failed under every NumPy tested, never for a NumPy reason.
    SameUnderEveryNumpy,
    /// Passed under a forbidden NumPy, with the probe or the tests run.
    ForbiddenPassExercised,
    /// Passed under a forbidden NumPy, the imports alone tested.
    ForbiddenPassImportsOnly,
    /// A build the project's build requirements forbid.
    ForcedBuild,
    /// Admitted NumPys pass; forbidden ones that ran fail.
    Consistent,
}

/// One cell a verdict rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Evidence {
    pub runtime: String,
    pub outcome: OutcomeKind,
    pub reason: Option<FailureReason>,
    /// The declaration admits this NumPy.
    pub admitted: bool,
    /// The cell did what its expectation says.
    pub met: bool,
}

impl Evidence {
    fn of(c: &CellDoc, admitted: bool) -> Evidence {
        Evidence {
            runtime: c.runtime.clone(),
            outcome: c.outcome,
            reason: c.reason,
            admitted,
            met: c.met,
        }
    }

    fn outcome_text(&self) -> String {
        crate::outcome::describe(self.outcome, self.reason)
    }
}

/// One verdict on one row's declaration, with its cells and its rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Declaration {
    pub grid: usize,
    pub interpreter: String,
    pub row: String,
    /// The declared requirement ("numpy>=1.22.4,<2.3").
    pub declares: String,
    pub verdict: Verdict,
    pub rule: Rule,
    pub cells: Vec<Evidence>,
    /// For [`Rule::VariesWithNumpy`]: the NumPys the row passes under.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub passes_under: Vec<String>,
    /// What the cells ran (too strict and unproven say it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exercised: Option<Exercise>,
    /// For a forced build: why its build requirements forbid it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forced: Option<String>,
}

impl Declaration {
    /// Every cell did what its expectation says (an `[[expect]]` table,
    /// NumPy's rules): known, reported, not failing the run.
    pub fn expected(&self) -> bool {
        self.cells.iter().all(|c| c.met)
    }

    /// Whether it fails the run: a declaration error a cell not as
    /// expected shows.
    pub fn fails(&self) -> bool {
        self.verdict == Verdict::Error && !self.expected()
    }

    /// Whether a reader has anything to act on (every verdict but holds).
    pub fn is_finding(&self) -> bool {
        self.verdict != Verdict::Holds
    }

    /// The runtimes of the cells, "1.26.4, 2.0.2" (at most eight named).
    fn runtimes(&self) -> String {
        list(self.cells.iter().map(|c| c.runtime.clone()).collect())
    }

    /// "fail (dtype-size)" when every cell did the same, else each cell's.
    fn outcomes(&self) -> String {
        let distinct: HashSet<String> = self.cells.iter().map(Evidence::outcome_text).collect();
        if distinct.len() == 1 {
            return self
                .cells
                .first()
                .map(Evidence::outcome_text)
                .unwrap_or_default();
        }
        list(
            self.cells
                .iter()
                .map(|c| format!("{}: {}", c.runtime, c.outcome_text()))
                .collect(),
        )
    }

    /// The finding, in one line.
    pub fn text(&self) -> String {
        let subject = subject(&self.row);
        let (declares, runtimes, interpreter) =
            (&self.declares, self.runtimes(), &self.interpreter);
        match self.verdict {
            Verdict::Error => format!(
                "declaration error: {subject} declares {declares}, which admits numpy {runtimes}, but there it is {} ({interpreter}){}",
                self.outcomes(),
                if self.expected() { "; as expected" } else { "" }
            ),
            Verdict::TooStrict => format!(
                "bound too strict: {subject} declares {declares}, which forbids numpy {runtimes}, but it passes there ({interpreter}, --ignore-requires)"
            ),
            Verdict::Unproven => format!(
                "not proven too strict: {subject} declares {declares}, which forbids numpy {runtimes}, and it imports there ({interpreter}, --ignore-requires)"
            ),
            Verdict::NotNumpy => format!(
                "{subject} fails under every NumPy tested, and for no NumPy reason under numpy {runtimes} ({}; {interpreter}): not a NumPy problem — check the probe or the test dependencies",
                self.outcomes()
            ),
            Verdict::Forced => format!(
                "no verdict: {subject} was {FORCED} ({}), so its declaration ({declares}) is not judged ({interpreter})",
                self.forced
                    .as_deref()
                    .unwrap_or("its build requirements forbid it")
            ),
            Verdict::Holds => format!(
                "{subject} declares {declares}: no cell contradicts it (numpy {runtimes}; {interpreter})"
            ),
        }
    }

    /// The rule that drew it, in words.
    pub fn rule_text(&self) -> String {
        match self.rule {
            Rule::NumpyReason => {
                let reasons: Vec<String> =
                    self.cells
                        .iter()
                        .map(Evidence::outcome_text)
                        .fold(Vec::new(), |mut v, r| {
                            if !v.contains(&r) {
                                v.push(r);
                            }
                            v
                        });
                format!(
                    "NumPy caused it: {} is a failure only NumPy gives (abi-major, api-version, dtype-size, a missing NumPy symbol, a crash inside NumPy)",
                    reasons.join(", ")
                )
            }
            Rule::VariesWithNumpy => format!(
                "NumPy caused it: the failure follows the NumPy version (it passes under numpy {})",
                list(self.passes_under.clone())
            ),
            Rule::SameUnderEveryNumpy => format!(
                "no verdict on {}: it passes under no NumPy tested and fails for no NumPy reason",
                self.declares
            ),
            Rule::ForbiddenPassExercised => format!(
                "a pass under a NumPy it forbids, exercised by {}",
                self.exercised_text()
            ),
            Rule::ForbiddenPassImportsOnly => format!(
                "a pass of {} shows it imports, not that it works: a probe or a test command would (`probe`, `test` in matrix.toml)",
                self.exercised_text()
            ),
            Rule::ForcedBuild => {
                "a build that could not exist for a user gets no verdict of its own".to_string()
            }
            Rule::Consistent => {
                "every admitted NumPy that ran passes, or fails for no NumPy reason".to_string()
            }
        }
    }

    fn exercised_text(&self) -> String {
        match &self.exercised {
            Some(e) => e.to_string(),
            None => "cells these results do not describe (written before they said what ran)"
                .to_string(),
        }
    }
}

impl fmt::Display for Declaration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// "a, b, c" of at most eight, then how many more.
fn list(items: Vec<String>) -> String {
    const MOST: usize = 8;
    let more = items.len().saturating_sub(MOST);
    let shown = items.into_iter().take(MOST).collect::<Vec<_>>().join(", ");
    if more > 0 {
        format!("{shown} and {more} more")
    } else {
        shown
    }
}

/// How a row is named in a finding: a package row by its label, a build
/// row ("2.0.2") as the wheel built against that NumPy.
fn subject(row: &str) -> String {
    if Version::from_str(row).is_ok() {
        format!("the wheel built against numpy {row}")
    } else {
        row.to_string()
    }
}

/// Whether NumPy is the cause of a failed (or crashed) cell, on its own
/// evidence: a reason only NumPy gives, a loader error naming a NumPy
/// symbol, a crash whose innermost Python frame is inside NumPy.
pub fn numpy_reason(c: &CellDoc) -> bool {
    match (c.outcome, c.reason) {
        (
            OutcomeKind::Fail,
            Some(FailureReason::AbiMajor | FailureReason::ApiVersion | FailureReason::DtypeSize),
        ) => true,
        (OutcomeKind::Fail, Some(FailureReason::MissingSymbol)) => c
            .message
            .split("undefined symbol: ")
            .nth(1)
            .is_some_and(crate::outcome::numpy_symbol),
        (OutcomeKind::Crash, _) => c
            .traceback
            .as_deref()
            .unwrap_or("")
            .lines()
            .find(|l| l.trim_start().starts_with("File \""))
            .is_some_and(|l| l.contains("/numpy/")),
        _ => false,
    }
}

fn broke(kind: OutcomeKind) -> bool {
    matches!(
        kind,
        OutcomeKind::Fail | OutcomeKind::Crash | OutcomeKind::Timeout
    )
}

/// Every verdict of `doc` (holds included), in grid order.
pub fn check(doc: &Document) -> Vec<Declaration> {
    let mut out = Vec::new();
    for (gi, grid) in doc.grids.iter().enumerate() {
        // In the order of the rows, not the order builds finished in: the
        // same results read the same however the run went.
        let rows = grid
            .axes
            .build
            .iter()
            .filter_map(|a| grid.builds.iter().find(|b| b.numpy == a.label()));
        for build in rows {
            let Some(declares) = &build.declares else {
                continue;
            };
            let cells: Vec<&CellDoc> = doc
                .cells
                .iter()
                .filter(|c| c.grid == gi && c.build == build.numpy)
                .collect();
            let row = Row {
                grid: gi,
                interpreter: &grid.interpreter.label,
                name: &build.numpy,
                declares,
                exercised: doc.exercised.as_ref(),
            };
            if let Some(why) = &build.forced {
                let ran: Vec<Evidence> = cells
                    .iter()
                    .filter(|c| c.outcome != OutcomeKind::Unavailable)
                    .map(|c| Evidence::of(c, true))
                    .collect();
                let mut d = row.verdict(Verdict::Forced, Rule::ForcedBuild, ran);
                d.forced = Some(why.clone());
                out.push(d);
                continue;
            }
            let specs = declares.trim_start_matches("numpy").trim();
            // "numpy" alone admits every release.
            let specs = if specs.is_empty() { ">=0" } else { specs };
            let Ok(specs) = VersionSpecifiers::from_str(specs) else {
                continue;
            };
            out.extend(row.judge(grid, &cells, &specs));
        }
    }
    out
}

/// One row with a declaration, being judged.
struct Row<'a> {
    grid: usize,
    interpreter: &'a str,
    name: &'a str,
    declares: &'a str,
    exercised: Option<&'a Exercise>,
}

impl Row<'_> {
    fn verdict(&self, verdict: Verdict, rule: Rule, cells: Vec<Evidence>) -> Declaration {
        Declaration {
            grid: self.grid,
            interpreter: self.interpreter.to_string(),
            row: self.name.to_string(),
            declares: self.declares.to_string(),
            verdict,
            rule,
            cells,
            passes_under: Vec::new(),
            exercised: None,
            forced: None,
        }
    }

    /// The verdicts the row's cells draw.
    fn judge(
        &self,
        grid: &GridDoc,
        cells: &[&CellDoc],
        specs: &VersionSpecifiers,
    ) -> Vec<Declaration> {
        // The cells that ran under a resolved release, with whether the
        // declaration admits it.
        let ran: Vec<(&CellDoc, bool)> = cells
            .iter()
            .filter(|c| c.outcome == OutcomeKind::Pass || broke(c.outcome))
            .filter_map(|c| Some((*c, specs.contains(&runtime_version(grid, c)?))))
            .collect();
        let passes_under: Vec<String> = ran
            .iter()
            .filter(|(c, _)| c.outcome == OutcomeKind::Pass)
            .map(|(c, _)| c.runtime.clone())
            .collect();
        let mut by_reason = Vec::new();
        let mut by_variance = Vec::new();
        let mut not_numpy = Vec::new();
        let mut forbidden_passes = Vec::new();
        for (c, admitted) in &ran {
            let e = Evidence::of(c, *admitted);
            if c.outcome == OutcomeKind::Pass {
                if !admitted {
                    forbidden_passes.push(e);
                }
            } else if numpy_reason(c) {
                if *admitted {
                    by_reason.push(e);
                }
            } else if passes_under.is_empty() {
                not_numpy.push(e);
            } else if *admitted {
                by_variance.push(e);
            }
        }
        let mut out = Vec::new();
        if !by_reason.is_empty() {
            out.push(self.verdict(Verdict::Error, Rule::NumpyReason, by_reason));
        }
        if !by_variance.is_empty() {
            let mut d = self.verdict(Verdict::Error, Rule::VariesWithNumpy, by_variance);
            d.passes_under = passes_under.clone();
            out.push(d);
        }
        if !not_numpy.is_empty() {
            out.push(self.verdict(Verdict::NotNumpy, Rule::SameUnderEveryNumpy, not_numpy));
        }
        if !forbidden_passes.is_empty() {
            let exercised = self.exercised.is_some_and(Exercise::exercises);
            let (verdict, rule) = if exercised {
                (Verdict::TooStrict, Rule::ForbiddenPassExercised)
            } else {
                (Verdict::Unproven, Rule::ForbiddenPassImportsOnly)
            };
            let mut d = self.verdict(verdict, rule, forbidden_passes);
            d.exercised = self.exercised.cloned();
            out.push(d);
        }
        if out.is_empty() && !ran.is_empty() {
            let cells = ran.iter().map(|(c, a)| Evidence::of(c, *a)).collect();
            out.push(self.verdict(Verdict::Holds, Rule::Consistent, cells));
        }
        out
    }
}

fn runtime_version(grid: &GridDoc, c: &CellDoc) -> Option<Version> {
    grid.axes
        .runtime
        .iter()
        .find(|a| a.label() == c.runtime)
        .and_then(AxisDoc::version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;
    use crate::results::document::BuildDoc;
    use crate::results::document::tests::{cell, document};

    fn findings(doc: &Document) -> Vec<Declaration> {
        check(doc).into_iter().filter(|d| d.is_finding()).collect()
    }

    /// A package row "pkg 1.0" declaring `declares`, with cells
    /// (runtime, outcome, reason), under `exercised`.
    fn row(declares: &str, cells: &[(&str, OutcomeKind, Option<FailureReason>)]) -> Document {
        let cells = cells
            .iter()
            .map(|(runtime, kind, reason)| {
                let mut c = cell("pkg 1.0", runtime, *kind);
                c.reason = *reason;
                c
            })
            .collect();
        let mut doc = document(cells);
        doc.subject = Some("packages".into());
        doc.exercised = Some(Exercise::Probe {
            modules: vec!["pkg".into()],
        });
        doc.grids[0].builds = vec![BuildDoc {
            numpy: "pkg 1.0".into(),
            ok: true,
            reused: false,
            summary: String::new(),
            duration_s: 0.0,
            log: String::new(),
            declares: Some(declares.into()),
            tag: None,
            forced: None,
            python: None,
        }];
        doc
    }

    use FailureReason::{AbiMajor, DtypeSize, Other, WrongResult};
    use OutcomeKind::{Fail, Pass};

    #[test]
    fn a_numpy_reason_under_an_admitted_numpy_is_a_declaration_error_with_its_cells_and_rule() {
        let mut doc = fixtures::packages();
        let found = findings(&doc);
        // pandas 2.0.3 admits numpy 2.0.2 (>=1.23.2) and fails there with
        // dtype-size: a declaration error, expected by the fixture's table.
        assert_eq!(found.len(), 1, "{found:?}");
        let d = &found[0];
        assert_eq!(
            (d.row.as_str(), d.verdict, d.rule),
            ("pandas 2.0.3", Verdict::Error, Rule::NumpyReason)
        );
        assert_eq!(d.cells.len(), 1);
        assert_eq!(
            (d.cells[0].runtime.as_str(), d.cells[0].reason),
            ("2.0.2", Some(DtypeSize))
        );
        assert!(!d.fails(), "an [[expect]] table expects it");
        assert_eq!(
            d.text(),
            "declaration error: pandas 2.0.3 declares numpy>=1.21.0,>=1.23.2, which admits numpy 2.0.2, but there it is fail (dtype-size) (CPython 3.11.7); as expected"
        );
        assert!(
            d.rule_text()
                .starts_with("NumPy caused it: fail (dtype-size) is a failure only NumPy gives")
        );
        // Unexpected, it fails the run.
        let cell = doc
            .cells
            .iter_mut()
            .find(|c| c.build == "pandas 2.0.3" && c.runtime == "2.0.2")
            .unwrap();
        cell.met = false;
        assert!(findings(&doc)[0].fails());
    }

    /// The first case: a probe that asserts the wrong thing makes
    /// every cell that imports `fail (wrong-result)`. That is the same
    /// under every NumPy: no declaration error, "not a NumPy problem";
    /// the older release's dtype-size failure is still found.
    #[test]
    fn a_buggy_probe_is_not_a_declaration_error_and_the_true_one_still_is() {
        let doc = row(
            "numpy>1.13.3",
            &[
                ("1.26.4", Fail, Some(WrongResult)),
                ("2.0.2", Fail, Some(WrongResult)),
            ],
        );
        let found = findings(&doc);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].verdict, found[0].rule),
            (Verdict::NotNumpy, Rule::SameUnderEveryNumpy)
        );
        assert!(!found[0].fails());
        assert_eq!(
            found[0].text(),
            "pkg 1.0 fails under every NumPy tested, and for no NumPy reason under numpy 1.26.4, 2.0.2 (fail (wrong-result); CPython 3.11.7): not a NumPy problem — check the probe or the test dependencies"
        );

        // An older release: wrong-result under 1.26, dtype-size under 2.0.
        let doc = row(
            "numpy>1.13.3",
            &[
                ("1.26.4", Fail, Some(WrongResult)),
                ("2.0.2", Fail, Some(DtypeSize)),
            ],
        );
        let found = findings(&doc);
        let verdicts: Vec<(Verdict, Vec<&str>)> = found
            .iter()
            .map(|d| {
                (
                    d.verdict,
                    d.cells.iter().map(|c| c.runtime.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            verdicts,
            [
                (Verdict::Error, vec!["2.0.2"]),
                (Verdict::NotNumpy, vec!["1.26.4"])
            ]
        );
    }

    /// The second case: a missing test dependency fails every
    /// cell `other`; no declaration error. The same failure where the row
    /// passes under another NumPy follows the NumPy version: it is one.
    #[test]
    fn a_missing_dependency_is_not_numpys_but_a_failure_that_follows_numpy_is() {
        let doc = row(
            "numpy>=2",
            &[("2.0.2", Fail, Some(Other)), ("2.2.6", Fail, Some(Other))],
        );
        let found = findings(&doc);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].verdict, Verdict::NotNumpy);

        let doc = row(
            "numpy>=1.26",
            &[("1.26.4", Pass, None), ("2.0.2", Fail, Some(Other))],
        );
        let found = findings(&doc);
        assert_eq!(
            (found[0].verdict, found[0].rule),
            (Verdict::Error, Rule::VariesWithNumpy)
        );
        assert_eq!(found[0].passes_under, ["1.26.4"]);
        assert_eq!(
            found[0].rule_text(),
            "NumPy caused it: the failure follows the NumPy version (it passes under numpy 1.26.4)"
        );
    }

    /// A crash counts as NumPy's when its innermost frame is in NumPy; a
    /// missing symbol when the symbol is NumPy's.
    #[test]
    fn crashes_and_missing_symbols_are_numpys_only_on_their_own_evidence() {
        let mut c = cell("pkg 1.0", "2.0.2", OutcomeKind::Crash);
        c.traceback = Some("Fatal Python error: Segmentation fault\n\nCurrent thread 0x1 (most recent call first):\n  File \"/env/lib/python3.11/site-packages/numpy/core/_methods.py\", line 49 in _sum\n  File \"<probe>\", line 1".into());
        assert!(numpy_reason(&c));
        c.traceback = Some("Fatal Python error: Segmentation fault\n\n  File \"<probe>\", line 1\n  File \"/env/numpy/x.py\", line 2".into());
        assert!(!numpy_reason(&c), "the innermost frame is the probe's");
        let mut c = cell("pkg 1.0", "2.0.2", Fail);
        c.reason = Some(FailureReason::MissingSymbol);
        c.message = "undefined symbol: PyArray_RUNTIME_VERSION".into();
        assert!(numpy_reason(&c));
        c.message = "undefined symbol: omp_get_num_threads".into();
        assert!(!numpy_reason(&c));
        c.reason = Some(AbiMajor);
        assert!(numpy_reason(&c));
    }

    /// A pass under a forbidden NumPy is "too strict" only when the cells
    /// exercised the package; with imports alone it is not proof.
    #[test]
    fn too_strict_needs_a_pass_that_exercised_the_package() {
        let mut doc = row(
            "numpy>=1.23",
            &[("1.22.4", Pass, None), ("1.26.4", Pass, None)],
        );
        let found = findings(&doc);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].verdict, found[0].rule),
            (Verdict::TooStrict, Rule::ForbiddenPassExercised)
        );
        assert_eq!(
            found[0].text(),
            "bound too strict: pkg 1.0 declares numpy>=1.23, which forbids numpy 1.22.4, but it passes there (CPython 3.11.7, --ignore-requires)"
        );
        assert_eq!(
            found[0].rule_text(),
            "a pass under a NumPy it forbids, exercised by the probe, after importing pkg"
        );
        doc.exercised = Some(Exercise::Imports {
            modules: vec!["pkg".into()],
        });
        let found = findings(&doc);
        assert_eq!(
            (found[0].verdict, found[0].rule),
            (Verdict::Unproven, Rule::ForbiddenPassImportsOnly)
        );
        assert!(
            found[0]
                .rule_text()
                .starts_with("a pass of importing pkg only shows it imports, not that it works")
        );
        // Files from before the field: not known, so not proof.
        doc.exercised = None;
        assert_eq!(findings(&doc)[0].verdict, Verdict::Unproven);
        // A forbidden NumPy that fails for no NumPy reason while the row
        // passes elsewhere is the declaration being right.
        let doc = row(
            "numpy>=1.23",
            &[("1.22.4", Fail, Some(Other)), ("1.26.4", Pass, None)],
        );
        let all = check(&doc);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].verdict, Verdict::Holds);
    }

    /// Verdicts come in the order of the rows, whatever order the builds
    /// finished in (the same results always read the same).
    #[test]
    fn verdicts_follow_the_rows_not_the_order_builds_finished() {
        let mut doc = fixtures::declarations();
        let rows =
            |doc: &Document| -> Vec<String> { check(doc).into_iter().map(|d| d.row).collect() };
        let before = rows(&doc);
        assert_eq!(before.first().map(String::as_str), Some("cftime 1.6.2"));
        doc.grids[0].builds.reverse();
        assert_eq!(rows(&doc), before);
    }

    /// A build made only because of --ignore-requires gets no verdict of
    /// its own, whatever its cells did.
    #[test]
    fn a_forced_build_gets_no_verdict() {
        let mut doc = row(
            "numpy>=2",
            &[("1.26.4", Pass, None), ("2.0.2", Fail, Some(AbiMajor))],
        );
        doc.grids[0].builds[0].forced =
            Some("build requirements forbid numpy 1.26.4: numpy>=2.0.0rc1".into());
        let all = check(&doc);
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(
            (all[0].verdict, all[0].rule),
            (Verdict::Forced, Rule::ForcedBuild)
        );
        assert!(!all[0].fails());
        assert_eq!(
            all[0].text(),
            "no verdict: pkg 1.0 was built only because of --ignore-requires (build requirements forbid numpy 1.26.4: numpy>=2.0.0rc1), so its declaration (numpy>=2) is not judged (CPython 3.11.7)"
        );
    }
}
