//! `matrix diff` and `run --baseline`: the cells that got worse, better or
//! changed reason, and the cells new or gone, one line each.

use std::fmt::Write as _;

use super::wording::{cell_outcome, first_line};
use crate::results::CellDoc;
use crate::results::compare::Diff;

pub fn render(d: &Diff<'_>) -> String {
    let mut out = String::new();
    if !d.built_on.is_empty() {
        // Said first: a row label then names another build in each file.
        let _ = writeln!(
            out,
            "rows built on another Python ({} Python(s)): a row is the same NumPy, not the same build",
            d.built_on.len()
        );
        let on = |python: &Option<String>| match python {
            Some(p) => format!("built on {p} (limited API)"),
            None => "its own build".to_string(),
        };
        for c in &d.built_on {
            let _ = writeln!(
                out,
                "    {}: {} before, {} now",
                c.python,
                on(&c.before),
                on(&c.now)
            );
        }
    }
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

    /// Two limited-API results whose rows were built on different Pythons:
    /// the diff says so before the cells, per runtime Python, and a cell
    /// is still named by its runtime Python.
    #[test]
    fn a_different_build_python_is_said() {
        let mut old = fixtures::every_outcome();
        let label = old.grids[0].interpreter.label.clone();
        old.grids
            .iter_mut()
            .for_each(|g| g.built_on = Some(label.clone()));
        let mut new = old.clone();
        let mut builder = new.grids[0].clone();
        builder.interpreter.label = "CPython 3.10.13".into();
        new.grids.push(builder);
        new.grids
            .iter_mut()
            .for_each(|g| g.built_on = Some("CPython 3.10.13".into()));
        new.cells[0].outcome = OutcomeKind::Crash;
        new.cells[0].reason = None;
        let text = render(&diff(&old, &new));
        let python = label.rsplit_once('.').unwrap().0;
        assert!(
            text.starts_with(&format!(
                "rows built on another Python (2 Python(s)): a row is the same NumPy, not the same build\n    {python}: built on {python} (limited API) before, built on CPython 3.10 (limited API) now\n"
            )),
            "{text}"
        );
        assert!(text.contains("1 cell(s) got worse:"), "{text}");
    }
}
