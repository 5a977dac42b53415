//! JUnit XML: one test suite per interpreter, one test case per cell,
//! judged the way `matrix run` exits: a cell that did what the config
//! expects passes, whatever it did. An expected `fail (abi-major)` is a
//! green test case, so a CI test-report UI is red exactly when the run
//! failed. A cell that did not do what was expected is a `<failure>` (it
//! ran and answered otherwise: an unexpected pass or fail) or an `<error>`
//! (it crashed, timed out, did not build or could not be installed);
//! `unavailable` as expected is `<skipped>`.
//!
//! Every case's `system-out` starts with its expectation and its observed
//! outcome. The JUnit XSD has no per-case `<properties>`, so the suite's
//! `<properties>` carry what is shared (matrix, shard, platform, tool
//! version) and the file stays valid.

use std::fmt::Write as _;

use super::wording::{cell_notes, cell_outcome, outcome_text, rule_line, verdict_words};
use crate::outcome::OutcomeKind;
use crate::results::CellDoc;
use crate::results::Document;
use crate::results::declared::Declaration;
use crate::results::document::GridDoc;

/// Escapes text for XML element content, dropping characters XML 1.0
/// cannot carry at all (a child process may write any bytes).
pub fn escape(text: &str) -> String {
    xml(text, false)
}

/// Escapes text for an XML attribute value: as [`escape`], and newline,
/// carriage return and tab as character references, which an XML parser
/// keeps (raw, it turns each into a space: attribute-value normalization),
/// so a `message=` reads back with its lines.
pub fn escape_attr(text: &str) -> String {
    xml(text, true)
}

fn xml(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' if attribute => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    // The file printed into a CI log is read for commands too.
    super::sanitize::no_commands(&out, &super::html::ENTITIES).into_owned()
}

/// How a cell reads in JUnit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Passed,
    Skipped,
    Failure,
    Error,
}

fn verdict(c: &CellDoc) -> Status {
    match (c.met, c.outcome) {
        (true, OutcomeKind::Unavailable) => Status::Skipped,
        (true, _) => Status::Passed,
        (false, OutcomeKind::Pass | OutcomeKind::Fail) => Status::Failure,
        (false, _) => Status::Error,
    }
}

/// How a finding on a declaration reads in JUnit: one more test case of
/// its grid, failed exactly when it fails the run.
fn finding_verdict(d: &Declaration) -> Status {
    if d.fails() {
        Status::Failure
    } else {
        Status::Passed
    }
}

pub fn render(doc: &Document) -> String {
    let findings = super::wording::findings(doc);
    let count = |want: Status, grid: Option<usize>| {
        let in_grid = |g: usize| grid.is_none_or(|x| x == g);
        doc.cells
            .iter()
            .filter(|c| in_grid(c.grid) && verdict(c) == want)
            .count()
            + findings
                .iter()
                .filter(|d| in_grid(d.grid) && finding_verdict(d) == want)
                .count()
    };
    let tests = |grid: Option<usize>| {
        let in_grid = |g: usize| grid.is_none_or(|x| x == g);
        doc.cells.iter().filter(|c| in_grid(c.grid)).count()
            + findings.iter().filter(|d| in_grid(d.grid)).count()
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total_time: f64 = doc.cells.iter().map(|c| c.duration_s).sum();
    let _ = writeln!(
        out,
        "<testsuites name=\"abimatrix\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">",
        tests(None),
        count(Status::Failure, None),
        count(Status::Error, None),
        total_time
    );
    let extension = doc.extension.as_deref().unwrap_or("extension");
    for (index, grid) in doc.grids.iter().enumerate() {
        let cells: Vec<_> = doc.cells.iter().filter(|c| c.grid == index).collect();
        let time: f64 = cells.iter().map(|c| c.duration_s).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            escape_attr(&format!("{} · {extension}", grid.interpreter.label)),
            tests(Some(index)),
            count(Status::Failure, Some(index)),
            count(Status::Error, Some(index)),
            count(Status::Skipped, Some(index)),
            time
        );
        write_properties(&mut out, doc, grid);
        for c in cells {
            write_case(&mut out, doc, grid, c);
        }
        for d in findings.iter().filter(|d| d.grid == index) {
            write_finding(&mut out, grid, d);
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

fn write_properties(out: &mut String, doc: &Document, grid: &GridDoc) {
    let mut props: Vec<(&str, String)> = vec![
        ("abimatrix.version", doc.abimatrix_version.clone()),
        (
            "interpreter",
            grid.interpreter.executable.display().to_string(),
        ),
        ("platform", grid.interpreter.platform.clone()),
    ];
    if let Some(id) = &doc.matrix_id {
        props.push(("matrix", id.clone()));
    }
    if let Some(shard) = &doc.shard {
        props.push(("shard", shard.clone()));
    }
    if !doc.complete {
        props.push(("incomplete", doc.incomplete_text()));
    }
    let _ = writeln!(out, "    <properties>");
    for (name, value) in props {
        let _ = writeln!(
            out,
            "      <property name=\"{}\" value=\"{}\"/>",
            escape_attr(name),
            escape_attr(&value)
        );
    }
    let _ = writeln!(out, "    </properties>");
}

/// A finding on a declaration: its words, its rule and its cells.
fn write_finding(out: &mut String, grid: &GridDoc, d: &Declaration) {
    let words = verdict_words(d.verdict);
    let _ = writeln!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"0.000\">",
        escape(&format!(
            "abimatrix.{}.declarations",
            grid.interpreter.label.replace(' ', "-")
        )),
        escape(&format!("{}: {words}", d.row))
    );
    let body = format!("{}\n{}\n", d.text(), rule_line(d));
    if finding_verdict(d) == Status::Failure {
        let _ = writeln!(
            out,
            "      <failure type=\"{}\" message=\"{}\">{}</failure>",
            escape(words),
            escape(&d.text()),
            escape(&body)
        );
    }
    let _ = writeln!(out, "      <system-out>{}</system-out>", escape(&body));
    let _ = writeln!(out, "    </testcase>");
}

fn write_case(out: &mut String, doc: &Document, grid: &GridDoc, c: &CellDoc) {
    let _ = writeln!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
        escape_attr(&format!(
            "abimatrix.{}.build-{}",
            grid.interpreter.label.replace(' ', "-"),
            c.build
        )),
        escape_attr(&format!("numpy {} → {}", c.build, c.runtime)),
        c.duration_s
    );
    let observed = cell_outcome(c);
    let expected = outcome_text(c.expected.outcome, c.expected.reason);
    let message = format!(
        "expected {expected} ({}), got {observed}: {}",
        c.expected.rule(),
        c.message
    );
    let (message, message_attr) = (escape(&message), escape_attr(&message));
    let kind = escape_attr(&observed);
    match verdict(c) {
        Status::Passed => {}
        Status::Skipped => {
            let _ = writeln!(
                out,
                "      <skipped message=\"{}\"/>",
                escape_attr(&format!("{observed}: {}", c.message))
            );
        }
        Status::Failure => {
            let _ = writeln!(
                out,
                "      <failure type=\"{kind}\" message=\"{message_attr}\">{message}</failure>"
            );
        }
        Status::Error => {
            let body = escape(c.traceback.as_deref().unwrap_or(&c.message));
            let _ = writeln!(
                out,
                "      <error type=\"{kind}\" message=\"{message_attr}\">{body}</error>"
            );
        }
    }
    let mut header = format!(
        "abimatrix: expected {expected} ({}); observed {observed}; {} on {}\n",
        c.expected.rule(),
        if c.met {
            "as expected"
        } else {
            "NOT as expected"
        },
        c.platform
    );
    for note in cell_notes(doc, c) {
        let _ = writeln!(header, "abimatrix: {note}");
    }
    let _ = writeln!(
        out,
        "      <system-out>{}</system-out>",
        escape(&(header + &c.stdout))
    );
    if !c.stderr.is_empty() {
        let _ = writeln!(out, "      <system-err>{}</system-err>", escape(&c.stderr));
    }
    let _ = writeln!(out, "    </testcase>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_failures_pass_and_unexpected_cells_fail() {
        let doc = crate::report::fixtures::every_outcome();
        let xml = render(&doc);
        let parsed = roxmltree::Document::parse(&xml).expect("well-formed");
        let cases: Vec<_> = parsed
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), doc.cells.len());
        let has = |case: &roxmltree::Node, tag: &str| case.children().any(|n| n.has_tag_name(tag));
        let mut expected_failures = 0;
        for (case, cell) in cases.iter().zip(&doc.cells) {
            let red = has(case, "failure") || has(case, "error");
            assert_eq!(
                red,
                !cell.met,
                "{} is red exactly when unexpected",
                cell.pair()
            );
            if cell.met
                && cell.outcome != OutcomeKind::Pass
                && cell.outcome != OutcomeKind::Unavailable
            {
                expected_failures += 1;
            }
            let out = case
                .children()
                .find(|n| n.has_tag_name("system-out"))
                .and_then(|n| n.text())
                .unwrap_or_default();
            assert!(out.starts_with("abimatrix: expected "), "{out}");
            assert!(out.contains(&format!("observed {}", cell_outcome(cell))));
        }
        assert!(
            expected_failures > 0,
            "the fixture has expected failures to check"
        );
        let root = parsed.root_element();
        let unmet = doc.unmet().count();
        let failures: usize = root.attribute("failures").unwrap().parse().unwrap();
        let errors: usize = root.attribute("errors").unwrap().parse().unwrap();
        assert_eq!(failures + errors, unmet);
        assert!(
            parsed
                .descendants()
                .any(|n| n.has_tag_name("property") && n.attribute("name") == Some("matrix"))
        );
    }

    #[test]
    fn escapes_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("x\u{1}y\tz"), "x\u{FFFD}y\tz");
    }

    /// A parser turns raw newlines in an attribute into spaces; a
    /// multi-line message must read back with its lines, and a child's
    /// workflow command must not survive printing the file into a CI log.
    #[test]
    fn attributes_keep_their_lines_and_commands_stay_text() {
        let mut doc = crate::report::fixtures::every_outcome();
        let cell = doc
            .cells
            .iter_mut()
            .find(|c| !c.met)
            .expect("an unexpected cell");
        cell.message = "first line\n::error file=x::pwned\n\tthird ##[error]x".into();
        let message = cell.message.clone();
        let xml = render(&doc);
        assert!(!xml.contains("##["), "{xml}");
        assert!(
            !xml.lines().any(|l| l.trim_start().starts_with("::")),
            "{xml}"
        );
        let parsed = roxmltree::Document::parse(&xml).expect("well-formed");
        let attribute = parsed
            .descendants()
            .filter(|n| n.has_tag_name("failure") || n.has_tag_name("error"))
            .filter_map(|n| n.attribute("message"))
            .find(|m| m.contains("first line"))
            .expect("the cell's message");
        assert!(attribute.ends_with(&message), "{attribute:?}");
    }
}
