//! Comparing two results: which cells got worse, which got better. Used by
//! `matrix diff` and `matrix run --baseline`, so a nightly job can say what
//! broke since yesterday and fail only then. Rendering is `report::diff`'s.
//!
//! Cells are matched by [`CellKey`], with one allowance: a nightly image may
//! bump the interpreter's patch release (3.11.7 → 3.11.8), so where each
//! side has exactly one interpreter of a minor series, the two are the same
//! interpreter for the comparison.

use std::collections::{BTreeMap, HashMap};

use super::document::{CellDoc, Document};
use crate::outcome::OutcomeKind;
use crate::plan::CellKey;

/// How bad an outcome is, for "worse" and "better". `unavailable` has no
/// rank: a cell that could not run says nothing about the extension.
fn rank(kind: OutcomeKind) -> Option<u8> {
    match kind {
        OutcomeKind::Pass => Some(0),
        OutcomeKind::Fail => Some(1),
        OutcomeKind::Timeout | OutcomeKind::BuildFailed => Some(2),
        OutcomeKind::Crash => Some(3),
        OutcomeKind::Unavailable => None,
    }
}

/// Interpreter label → the name it is compared under: "CPython 3.11" when
/// it is the only 3.11 of the document, else its full label.
fn aligned_interpreters(doc: &Document) -> HashMap<String, String> {
    let series = |label: &str| -> String {
        match label.rsplit_once('.') {
            Some((minor, _patch)) if label.matches('.').count() >= 2 => minor.to_string(),
            _ => label.to_string(),
        }
    };
    let mut count: HashMap<String, usize> = HashMap::new();
    for g in &doc.grids {
        *count.entry(series(&g.interpreter.label)).or_default() += 1;
    }
    doc.grids
        .iter()
        .map(|g| {
            let label = g.interpreter.label.clone();
            let s = series(&label);
            let name = if count[&s] == 1 { s } else { label.clone() };
            (label, name)
        })
        .collect()
}

fn keyed(doc: &Document) -> BTreeMap<CellKey, &CellDoc> {
    let names = aligned_interpreters(doc);
    doc.cells
        .iter()
        .map(|c| {
            let mut key = c.key();
            if let Some(name) = names.get(&c.interpreter) {
                key.interpreter = name.clone();
            }
            (key, c)
        })
        .collect()
}

#[derive(Debug, Default)]
pub struct Diff<'a> {
    pub worse: Vec<(&'a CellDoc, &'a CellDoc)>,
    pub better: Vec<(&'a CellDoc, &'a CellDoc)>,
    /// Same rank, different reason (fail api-version → fail abi-major).
    pub changed: Vec<(&'a CellDoc, &'a CellDoc)>,
    pub added: Vec<&'a CellDoc>,
    pub removed: Vec<&'a CellDoc>,
    /// Runtime Pythons whose rows were made on another Python in one file
    /// than in the other (a different build Python, or a limited-API build
    /// against the grid's own): the same row label is then not the same
    /// build, and its cells' changes may come from that.
    pub built_on: Vec<BuiltOnChange>,
}

/// Where one runtime Python's rows were built, before and now (`None`: by
/// that Python itself, for itself only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltOnChange {
    /// The runtime Python, as cells are compared under it ("CPython 3.12").
    pub python: String,
    pub before: Option<String>,
    pub now: Option<String>,
}

/// Runtime Python (as compared) → the Python its rows were built on (as
/// compared too, so a patch bump of the build Python is no change).
fn built_on(doc: &Document) -> BTreeMap<String, Option<String>> {
    let names = aligned_interpreters(doc);
    let name = |label: &String| names.get(label).cloned().unwrap_or_else(|| label.clone());
    doc.grids
        .iter()
        .map(|g| (name(&g.interpreter.label), g.built_on.as_ref().map(&name)))
        .collect()
}

pub fn diff<'a>(old: &'a Document, new: &'a Document) -> Diff<'a> {
    let before = keyed(old);
    let after = keyed(new);
    let mut d = Diff::default();
    for (k, n) in &after {
        match before.get(k) {
            None => d.added.push(n),
            Some(o) => match (rank(o.outcome), rank(n.outcome)) {
                (Some(a), Some(b)) if b > a => d.worse.push((o, n)),
                (Some(a), Some(b)) if b < a => d.better.push((o, n)),
                _ if o.outcome != n.outcome || o.reason != n.reason => d.changed.push((o, n)),
                _ => {}
            },
        }
    }
    d.removed = before
        .iter()
        .filter(|(k, _)| !after.contains_key(*k))
        .map(|(_, c)| *c)
        .collect();
    let was = built_on(old);
    for (python, now) in built_on(new) {
        if let Some(before) = was.get(&python)
            && *before != now
        {
            d.built_on.push(BuiltOnChange {
                python,
                before: before.clone(),
                now,
            });
        }
    }
    d
}

impl Diff<'_> {
    pub fn got_worse(&self) -> bool {
        !self.worse.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{FailureReason, OutcomeKind};
    use crate::results::document::tests::{cell, document};

    #[test]
    fn worse_better_changed_new_and_gone() {
        let old = document(vec![
            cell("1.26.4", "2.0.2", OutcomeKind::Pass),
            cell("2.0.2", "2.0.2", OutcomeKind::Crash),
            cell("1.26.4", "1.26.4", OutcomeKind::Fail),
            cell("2.0.2", "1.26.4", OutcomeKind::Pass),
        ]);
        let mut changed = cell("1.26.4", "1.26.4", OutcomeKind::Fail);
        changed.reason = Some(FailureReason::AbiMajor);
        let mut new = document(vec![
            cell("1.26.4", "2.0.2", OutcomeKind::Fail),
            cell("2.0.2", "2.0.2", OutcomeKind::Pass),
            changed,
            cell("2.4.6", "2.0.2", OutcomeKind::Pass),
        ]);
        new.grids[0]
            .axes
            .build
            .push(crate::results::document::AxisDoc {
                request: "2.4.*".into(),
                version: Some("2.4.6".parse().expect("a version")),
                unavailable: None,
                label: None,
                ..Default::default()
            });
        let d = diff(&old, &new);
        assert_eq!(d.worse.len(), 1);
        assert_eq!(d.worse[0].1.pair(), "1.26.4 → 2.0.2");
        assert_eq!(d.better.len(), 1);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.added.len(), 1);
        assert_eq!(d.removed.len(), 1);
        assert!(d.got_worse());
        assert!(!diff(&new, &new).got_worse());
    }

    #[test]
    fn a_patch_release_of_the_interpreter_is_the_same_interpreter() {
        let old = document(vec![cell("2.0.2", "2.0.2", OutcomeKind::Pass)]);
        let mut new = old.clone();
        new.grids[0].interpreter.label = "CPython 3.11.8".into();
        new.cells[0].interpreter = "CPython 3.11.8".into();
        new.cells[0].outcome = OutcomeKind::Crash;
        let d = diff(&old, &new);
        assert_eq!((d.worse.len(), d.added.len(), d.removed.len()), (1, 0, 0));
    }

    /// Two results of a limited-API matrix: cells are matched by runtime
    /// Python × build × runtime, and a runtime Python whose rows were built
    /// on another Python in each file is named (a patch bump of the build
    /// Python is not a change).
    #[test]
    fn rows_built_on_another_python_are_named() {
        use crate::results::document::tests::interpreter;
        let old = document(vec![cell("2.0.2", "2.0.2", OutcomeKind::Pass)]);
        // The 3.11 grid and a grid of the build Python `label`, both built on it.
        let built_on = |doc: &Document, label: &str| {
            let mut doc = doc.clone();
            let mut builder = doc.grids[0].clone();
            builder.interpreter = interpreter(label);
            doc.grids.truncate(1);
            doc.grids.push(builder);
            doc.grids
                .iter_mut()
                .for_each(|g| g.built_on = Some(label.into()));
            doc
        };
        let old = built_on(&old, "CPython 3.9.18");
        let patched = built_on(&old, "CPython 3.9.19");
        let d = diff(&old, &patched);
        assert!(d.built_on.is_empty(), "{:?}", d.built_on);

        let mut other = built_on(&old, "CPython 3.10.13");
        other.cells[0].outcome = OutcomeKind::Fail;
        other.cells[0].reason = Some(crate::outcome::FailureReason::Other);
        let d = diff(&old, &other);
        assert_eq!(
            d.worse.len(),
            1,
            "the 3.11 cell, matched by its runtime Python"
        );
        assert_eq!(
            d.built_on,
            [BuiltOnChange {
                python: "CPython 3.11".into(),
                before: Some("CPython 3.9".into()),
                now: Some("CPython 3.10".into()),
            }]
        );
        let mut own = old.clone();
        own.grids.iter_mut().for_each(|g| g.built_on = None);
        let d = diff(&old, &own);
        assert_eq!(d.built_on.len(), 2);
        assert_eq!(d.built_on[0].now, None);
    }

    #[test]
    fn unavailable_is_neither_worse_nor_better() {
        let old = document(vec![cell("2.0.2", "2.0.2", OutcomeKind::Pass)]);
        let new = document(vec![cell("2.0.2", "2.0.2", OutcomeKind::Unavailable)]);
        let d = diff(&old, &new);
        assert!(d.worse.is_empty() && d.better.is_empty());
        assert_eq!(d.changed.len(), 1);
    }
}
