//! JUnit XML: one test suite per interpreter, one test case per cell.
//! `fail` is a `<failure>`, `crash`, `timeout` and `build-failed` are
//! `<error>`s, `unavailable` is `<skipped>`; the cell's output goes in
//! system-out/system-err, after a first line with its expectation (the
//! JUnit schema has no per-case properties), so a consumer that only counts
//! failures still sees what abimatrix judged.

use std::fmt::Write as _;

use super::grid::outcome_text;
use crate::outcome::OutcomeKind;
use crate::results::Document;

/// Escapes text for XML, dropping characters XML 1.0 cannot carry at all
/// (a child process may write any bytes).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

pub fn render(doc: &Document) -> String {
    let count = |kinds: &[OutcomeKind], grid: Option<usize>| {
        doc.cells
            .iter()
            .filter(|c| grid.is_none_or(|g| c.grid == g) && kinds.contains(&c.outcome))
            .count()
    };
    const ERRORS: [OutcomeKind; 3] = [
        OutcomeKind::Crash,
        OutcomeKind::Timeout,
        OutcomeKind::BuildFailed,
    ];
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total_time: f64 = doc.cells.iter().map(|c| c.duration_s).sum();
    let _ = writeln!(
        out,
        "<testsuites name=\"abimatrix\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">",
        doc.cells.len(),
        count(&[OutcomeKind::Fail], None),
        count(&ERRORS, None),
        total_time
    );
    let extension = doc.extension.as_deref().unwrap_or("extension");
    for (index, grid) in doc.grids.iter().enumerate() {
        let cells: Vec<_> = doc.cells.iter().filter(|c| c.grid == index).collect();
        let time: f64 = cells.iter().map(|c| c.duration_s).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            escape(&format!("{} · {extension}", grid.interpreter.label)),
            cells.len(),
            count(&[OutcomeKind::Fail], Some(index)),
            count(&ERRORS, Some(index)),
            count(&[OutcomeKind::Unavailable], Some(index)),
            time
        );
        for c in cells {
            let _ = writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
                escape(&format!(
                    "abimatrix.{}.build-{}",
                    grid.interpreter.label.replace(' ', "-"),
                    c.build
                )),
                escape(&format!("numpy {} → {}", c.build, c.runtime)),
                c.duration_s
            );
            let message = escape(&c.message);
            let kind = escape(&outcome_text(c.outcome, c.reason));
            match c.outcome {
                OutcomeKind::Pass => {}
                OutcomeKind::Fail => {
                    let _ = writeln!(
                        out,
                        "      <failure type=\"{kind}\" message=\"{message}\">{message}</failure>"
                    );
                }
                OutcomeKind::Crash | OutcomeKind::Timeout | OutcomeKind::BuildFailed => {
                    let body = escape(c.traceback.as_deref().unwrap_or(&c.message));
                    let _ = writeln!(
                        out,
                        "      <error type=\"{kind}\" message=\"{message}\">{body}</error>"
                    );
                }
                OutcomeKind::Unavailable => {
                    let _ = writeln!(out, "      <skipped message=\"{message}\"/>");
                }
            }
            let verdict = format!(
                "abimatrix: {}: expected {} by {}; {} on {}\n",
                outcome_text(c.outcome, c.reason),
                outcome_text(c.expected.outcome, c.expected.reason),
                c.expected.rule(),
                if c.met {
                    "as expected"
                } else {
                    "NOT as expected"
                },
                c.platform
            );
            let _ = writeln!(
                out,
                "      <system-out>{}</system-out>",
                escape(&(verdict + &c.stdout))
            );
            if !c.stderr.is_empty() {
                let _ = writeln!(out, "      <system-err>{}</system-err>", escape(&c.stderr));
            }
            let _ = writeln!(out, "    </testcase>");
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("x\u{1}y\tz"), "x\u{FFFD}y\tz");
    }
}
