//! `matrix diff` and `run --baseline`: the cells that got worse, better or
//! changed reason, and the cells new or gone, one line each.

use std::fmt::Write as _;

use super::wording::{cell_outcome, first_line};
use crate::results::CellDoc;
use crate::results::compare::Diff;

pub fn render(d: &Diff<'_>) -> String {
    let mut out = String::new();
    let line = |out: &mut String, (o, n): &(&CellDoc, &CellDoc)| {
        let _ = writeln!(
            out,
            "    {}: {}: {} → {}{}",
            n.interpreter,
            n.pair(),
            cell_outcome(o),
            cell_outcome(n),
            if n.message.is_empty() {
                String::new()
            } else {
                format!(": {}", first_line(&n.message))
            }
        );
    };
    for (title, list) in [
        ("got worse", &d.worse),
        ("got better", &d.better),
        ("changed reason", &d.changed),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "{} cell(s) {title}:", list.len());
            for pair in list.iter() {
                line(&mut out, pair);
            }
        }
    }
    for (title, list) in [("new", &d.added), ("gone", &d.removed)] {
        if !list.is_empty() {
            let _ = writeln!(out, "{} cell(s) {title}:", list.len());
            for c in list.iter() {
                let _ = writeln!(
                    out,
                    "    {}: {}: {}",
                    c.interpreter,
                    c.pair(),
                    cell_outcome(c)
                );
            }
        }
    }
    if out.is_empty() {
        out.push_str("no cell changed\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{FailureReason, OutcomeKind};
    use crate::report::fixtures;
    use crate::results::compare::diff;

    #[test]
    fn every_kind_of_change() {
        let old = fixtures::every_outcome();
        let mut new = old.clone();
        new.cells[0].outcome = OutcomeKind::Crash; // fail -> crash: worse
        new.cells[0].reason = None;
        new.cells[2].outcome = OutcomeKind::Pass; // crash -> pass: better
        new.cells[2].message.clear();
        new.cells[3].reason = Some(FailureReason::Other); // same rank, new reason
        let gone = new.cells.remove(1);
        let mut added = gone.clone();
        added.runtime = "2.4.6".into();
        new.cells.push(added);
        insta::assert_snapshot!(render(&diff(&old, &new)));
        assert_eq!(render(&diff(&old, &old)), "no cell changed\n");
    }
}
