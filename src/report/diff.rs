//! `matrix diff` and `run --baseline`: the cells that got worse, better or
//! changed reason, and the cells new or gone, one line each.

use std::fmt::Write as _;

use super::grid::{first_line, outcome_text};
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
            outcome_text(o.outcome, o.reason),
            outcome_text(n.outcome, n.reason),
            if n.message.is_empty() {
                String::new()
            } else {
                format!(": {}", first_line(&n.message))
            }
        );
    };
    for (title, list) in [
        ("worse", &d.worse),
        ("better", &d.better),
        ("changed", &d.changed),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "{} cell(s) got {title}:", list.len());
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
