//! What a package declares against what the grid measured.
//!
//! A published wheel, a requirement row or a built project declares the
//! NumPy it works with (`Requires-Dist: numpy...`). The grid tested it
//! under real NumPy releases. Two findings follow, cell by cell:
//!
//! - a **declaration error**: a NumPy the declaration admits under which the
//!   package fails, crashes or hangs. This is the bug that reaches users: pip
//!   installs the pair and the import breaks (a wheel built against a newer
//!   NumPy that declares an older floor). It fails the run unless the cell
//!   did what its expectation says (an `[[expect]]` table, or NumPy's rules
//!   predicting that a 1.x build fails under 2.x).
//! - a **bound too strict**: a NumPy the declaration forbids under which the
//!   package passes (seen with `--ignore-requires`, which runs those cells).

use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};

use super::document::{CellDoc, Document};
use crate::outcome::OutcomeKind;

/// One row's declaration against one column's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Admitted, and it fails (or crashes, or hangs) there.
    Wrong {
        interpreter: String,
        row: String,
        declares: String,
        runtime: String,
        outcome: String,
        /// The cell did what its expectation says (an `[[expect]]` table,
        /// NumPy's rules): known, reported, not failing the run.
        expected: bool,
    },
    /// Forbidden, and it passes there.
    TooStrict {
        interpreter: String,
        row: String,
        declares: String,
        runtime: String,
    },
}

impl Finding {
    /// Whether it fails the run.
    pub fn fails(&self) -> bool {
        matches!(
            self,
            Finding::Wrong {
                expected: false,
                ..
            }
        )
    }

    pub fn text(&self) -> String {
        match self {
            Finding::Wrong {
                interpreter,
                row,
                declares,
                runtime,
                outcome,
                expected,
            } => format!(
                "declaration error: {} declares {declares}, which admits numpy {runtime}, but there it is {outcome} ({interpreter}){}",
                subject(row),
                if *expected { "; as expected" } else { "" }
            ),
            Finding::TooStrict {
                interpreter,
                row,
                declares,
                runtime,
            } => format!(
                "bound too strict: {} declares {declares}, which forbids numpy {runtime}, but it passes there ({interpreter}, --ignore-requires)",
                subject(row)
            ),
        }
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

/// Every finding of `doc`, in grid order.
pub fn check(doc: &Document) -> Vec<Finding> {
    let mut out = Vec::new();
    for (gi, grid) in doc.grids.iter().enumerate() {
        for build in &grid.builds {
            let Some(declares) = &build.declares else {
                continue;
            };
            let specs = declares.trim_start_matches("numpy").trim();
            // "numpy" alone admits every release.
            let specs = if specs.is_empty() { ">=0" } else { specs };
            let Ok(specs) = VersionSpecifiers::from_str(specs) else {
                continue;
            };
            for c in doc
                .cells
                .iter()
                .filter(|c| c.grid == gi && c.build == build.numpy)
            {
                let Some(runtime) = runtime_version(grid, c) else {
                    continue;
                };
                let admitted = specs.contains(&runtime);
                let broke = matches!(
                    c.outcome,
                    OutcomeKind::Fail | OutcomeKind::Crash | OutcomeKind::Timeout
                );
                if admitted && broke {
                    out.push(Finding::Wrong {
                        interpreter: c.interpreter.clone(),
                        row: c.build.clone(),
                        declares: declares.clone(),
                        runtime: c.runtime.clone(),
                        outcome: crate::outcome::describe(c.outcome, c.reason),
                        expected: c.met,
                    });
                } else if !admitted && c.outcome == OutcomeKind::Pass {
                    out.push(Finding::TooStrict {
                        interpreter: c.interpreter.clone(),
                        row: c.build.clone(),
                        declares: declares.clone(),
                        runtime: c.runtime.clone(),
                    });
                }
            }
        }
    }
    out
}

fn runtime_version(grid: &super::document::GridDoc, c: &CellDoc) -> Option<Version> {
    grid.axes
        .runtime
        .iter()
        .find(|a| a.label() == c.runtime)
        .and_then(|a| a.version.as_deref())
        .and_then(|v| Version::from_str(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn an_admitted_failure_is_a_declaration_error_and_a_forbidden_pass_too_strict() {
        let mut doc = fixtures::packages();
        let findings = check(&doc);
        // pandas 2.0.3 admits numpy 2.0.2 (>=1.23.2) and fails there: a
        // declaration error, expected by the fixture's table at line 9.
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            matches!(&findings[0], Finding::Wrong { row, expected: true, .. } if row == "pandas 2.0.3")
        );
        assert!(!findings[0].fails(), "an [[expect]] table expects it");
        assert!(findings[0].text().ends_with("; as expected"));
        assert!(findings[0].text().starts_with("declaration error: pandas 2.0.3 declares numpy>=1.21.0,>=1.23.2, which admits numpy 2.0.2, but there it is fail (dtype-size)"));

        // Unexpected, it fails the run.
        let cell = doc
            .cells
            .iter_mut()
            .find(|c| c.build == "pandas 2.0.3" && c.runtime == "2.0.2")
            .unwrap();
        cell.expected.line = None;
        cell.met = false;
        assert!(check(&doc)[0].fails());

        // scipy forbids 2.0.2; run anyway (--ignore-requires), it passes.
        let cell = doc
            .cells
            .iter_mut()
            .find(|c| c.build == "scipy 1.11.4" && c.runtime == "2.0.2")
            .unwrap();
        cell.outcome = OutcomeKind::Pass;
        cell.forbidden = false;
        let findings = check(&doc);
        assert!(findings.iter().any(|f| matches!(f, Finding::TooStrict { row, runtime, .. } if row == "scipy 1.11.4" && runtime == "2.0.2")), "{findings:?}");
    }
}
