//! GitHub Actions workflow commands: an `::error` annotation per cell that
//! did not do what the config expects (pointing at the `[[expect]]` table
//! it broke, else at the config), and a `::warning` when the grid is
//! incomplete. Shown on the run's summary page and the pull request, where
//! nobody has to read the log to find them. Pure text; the caller decides
//! when (`GITHUB_ACTIONS=true`).

use std::fmt::Write as _;

use super::wording::{
    Severity, cell_notes, cell_outcome, outcome_text, rule_line, severity, verdict_words,
};
use crate::results::Document;

/// Whether this process runs in a GitHub Actions job.
pub use super::sanitize::in_github_actions as enabled;

/// The annotations for `doc`; `config` is the config's path as the job
/// named it (relative to the checkout, as GitHub resolves it).
pub fn annotations(doc: &Document) -> String {
    let mut out = String::new();
    let file = doc.config.as_deref().unwrap_or("matrix.toml");
    for c in doc.unmet() {
        let mut props = format!("file={}", property(file));
        if let Some(line) = c.expected.line() {
            let _ = write!(props, ",line={line}");
        }
        let title = format!("abimatrix: {}: {} unexpected", c.interpreter, c.pair());
        let _ = write!(props, ",title={}", property(&title));
        let mut message = format!(
            "expected {} ({}), got {}: {}",
            outcome_text(c.expected.outcome, c.expected.reason),
            c.expected.rule(),
            cell_outcome(c),
            c.message.lines().next().unwrap_or_default()
        );
        for note in cell_notes(doc, c) {
            message.push_str(&format!(" ({note})"));
        }
        // The message is our command's data (never parsed again), but the
        // job's page shows it: a child's control characters as text.
        let message = super::sanitize::ci_log(&message);
        let _ = writeln!(out, "::error {props}::{}", data(&message));
    }
    // The findings on declarations: an error when one fails the run, a
    // warning when it needs a look, a notice otherwise.
    for d in super::wording::findings(doc) {
        let command = match severity(&d) {
            Severity::Fails => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let title = format!("abimatrix: {}: {}", verdict_words(d.verdict), d.row);
        let message = format!("{} — {}", d.text(), rule_line(&d));
        let message = super::sanitize::ci_log(&message);
        let _ = writeln!(
            out,
            "::{command} file={},title={}::{}",
            property(file),
            property(&title),
            data(&message)
        );
    }
    if !doc.complete {
        let _ = writeln!(
            out,
            "::warning file={},title={}::{}",
            property(file),
            property("abimatrix: incomplete grid"),
            data(&doc.incomplete_text())
        );
    }
    out
}

/// Opens a collapsed group in the log.
pub fn group(title: &str) -> String {
    format!("::group::{}", data(title))
}

pub const END_GROUP: &str = "::endgroup::";

/// Escapes a command's message (GitHub's `escapeData`).
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command's property value (GitHub's `escapeProperty`).
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn one_error_per_unexpected_cell_pointing_at_its_table() {
        let mut doc = fixtures::every_outcome();
        doc.config = Some("ci/matrix.toml".into());
        let text = annotations(&doc);
        assert_eq!(text.lines().count(), doc.unmet().count());
        assert!(
            text.lines()
                .all(|l| l.starts_with("::error file=ci/matrix.toml"))
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn an_incomplete_grid_is_a_warning_and_values_are_escaped() {
        let mut doc = fixtures::every_outcome();
        doc.complete = false;
        doc.missing = vec!["shard 2/3 (3.12: 2.0.*, 2.2.*)".into()];
        let text = annotations(&doc);
        let last = text.lines().last().unwrap_or_default();
        assert_eq!(
            last,
            "::warning file=matrix.toml,title=abimatrix%3A incomplete grid::missing shard 2/3 (3.12: 2.0.*, 2.2.*)"
        );
        assert_eq!(property("a:b,c\n%"), "a%3Ab%2Cc%0A%25");
    }
}
