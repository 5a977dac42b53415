//! Comparing two results: which cells got worse, which got better. Used by
//! `matrix diff` and `matrix run --baseline`, so a nightly job can say what
//! broke since yesterday and fail only then.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::outcome::OutcomeKind;
use crate::report::grid::outcome_text;
use crate::report::model::{CellDoc, Document};

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

/// A cell's identity across runs: interpreter (without the patch level,
/// which a nightly image may bump), build and runtime NumPy.
fn key(c: &CellDoc) -> (String, String, String) {
    let interpreter = match c.interpreter.rsplit_once('.') {
        Some((minor, _patch)) if c.interpreter.matches('.').count() >= 2 => minor.to_string(),
        _ => c.interpreter.clone(),
    };
    (interpreter, c.build.clone(), c.runtime.clone())
}

#[derive(Debug, Default)]
pub struct Diff<'a> {
    pub worse: Vec<(&'a CellDoc, &'a CellDoc)>,
    pub better: Vec<(&'a CellDoc, &'a CellDoc)>,
    /// Same rank, different reason (fail api-version → fail abi-major).
    pub changed: Vec<(&'a CellDoc, &'a CellDoc)>,
    pub added: Vec<&'a CellDoc>,
    pub removed: Vec<&'a CellDoc>,
}

pub fn diff<'a>(old: &'a Document, new: &'a Document) -> Diff<'a> {
    let before: BTreeMap<_, &CellDoc> = old.cells.iter().map(|c| (key(c), c)).collect();
    let after: BTreeMap<_, &CellDoc> = new.cells.iter().map(|c| (key(c), c)).collect();
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
    d
}

impl Diff<'_> {
    pub fn got_worse(&self) -> bool {
        !self.worse.is_empty()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, (o, n): &(&CellDoc, &CellDoc)| {
            let _ = writeln!(
                out,
                "    {}: {}: {} → {}{}",
                n.interpreter,
                n.pair(),
                outcome_text(o.outcome, o.reason),
                outcome_text(n.outcome, n.reason),
                if n.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", crate::report::grid::first_line(&n.message))
                }
            );
        };
        for (title, list) in [
            ("worse", &self.worse),
            ("better", &self.better),
            ("changed", &self.changed),
        ] {
            if !list.is_empty() {
                let _ = writeln!(out, "{} cell(s) got {title}:", list.len());
                for pair in list.iter() {
                    line(&mut out, pair);
                }
            }
        }
        for (title, list) in [("new", &self.added), ("gone", &self.removed)] {
            if !list.is_empty() {
                let _ = writeln!(out, "{} cell(s) {title}:", list.len());
                for c in list.iter() {
                    let _ = writeln!(
                        out,
                        "    {}: {}: {}",
                        c.interpreter,
                        c.pair(),
                        outcome_text(c.outcome, c.reason)
                    );
                }
            }
        }
        if out.is_empty() {
            out.push_str("no cell changed\n");
        }
        out
    }
}
