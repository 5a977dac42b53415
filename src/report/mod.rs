//! Everything that turns results into something to read, and nothing else:
//! live progress ([`progress`]) fed by the [`Reporter`], and one renderer
//! per format, each a pure function of a results document (hyperfine's one
//! file per export format). The wording they share is in [`wording`].

pub mod cache;
pub mod diff;
pub mod doctor;
pub mod explain;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod github;
pub mod html;
pub mod json;
pub mod junit;
pub mod list;
pub mod markdown;
pub mod progress;
pub mod pythons;
pub mod reporter;
pub mod sanitize;
pub mod shards;
pub mod text;
pub mod wording;

pub use progress::Progress;
pub use reporter::Reporter;

use crate::results::Document;

/// Every format a report can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The terminal grid (ANSI colour stripped when not on a terminal).
    Text,
    Json,
    Junit,
    Markdown,
    Html,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Text,
        Format::Json,
        Format::Junit,
        Format::Markdown,
        Format::Html,
    ];
}

/// `doc` in `format`: each format's renderer is a pure function of the
/// document.
pub fn render(doc: &Document, format: Format) -> String {
    match format {
        Format::Text => text::render(doc),
        Format::Json => json::render(doc),
        Format::Junit => junit::render(doc),
        Format::Markdown => markdown::render(doc),
        Format::Html => html::render(doc),
    }
}

#[cfg(test)]
mod tests {
    //! Every format's whole output, pinned: each line a user reads, for
    //! every outcome kind (expected and unexpected), a run cut short,
    //! published packages as rows, and every shape of the answer.
    //! `cargo insta review` shows a change.
    use super::*;

    #[test]
    fn every_format_of_every_fixture() {
        let fixtures = [
            ("every-outcome", fixtures::every_outcome()),
            ("interrupted", fixtures::interrupted()),
            ("packages", fixtures::packages()),
            ("answer", fixtures::answer()),
        ];
        for format in Format::ALL {
            for (name, doc) in &fixtures {
                let text = render(doc, format);
                // The terminal's colours are tested in text.rs; here the words.
                let text = anstream::adapter::strip_str(&text).to_string();
                insta::assert_snapshot!(format!("{format:?}-{name}").to_lowercase(), text);
            }
        }
    }

    /// The findings on declarations, each with its rule, as every report
    /// shows them from the one list the JSON writes: the text report's
    /// section (the same in `--summary`), Markdown's, HTML's, JUnit's test
    /// cases and the annotations.
    #[test]
    fn every_finding_on_a_declaration_in_every_report() {
        let doc = fixtures::declarations();
        let text = anstream::adapter::strip_str(&render(&doc, Format::Text)).to_string();
        let section = |text: &str, from: &str| -> String {
            let start = text.find(from).unwrap_or(text.len());
            text[start..].to_string()
        };
        let summary = anstream::adapter::strip_str(&text::summary(&doc)).to_string();
        assert!(
            summary.contains(&section(&text, "declared vs measured:")),
            "{summary}"
        );
        let junit = render(&doc, Format::Junit);
        let out = format!(
            "--- text\n{}--- markdown\n{}--- html\n{}--- junit\n{}--- annotations\n{}",
            section(&text, "declared vs measured:"),
            section(&render(&doc, Format::Markdown), "**Declared vs measured**"),
            render(&doc, Format::Html)
                .lines()
                .filter(|l| l.contains("rule: ") || l.contains("only because"))
                .map(|l| format!("{l}\n"))
                .collect::<String>(),
            section(
                &junit,
                "    <testcase classname=\"abimatrix.CPython-3.11.7.declarations\""
            ),
            github::annotations(&doc)
                .lines()
                .filter(|l| !l.starts_with("::error file=matrix.toml,title=abimatrix%3A CPython"))
                .map(|l| format!("{l}\n"))
                .collect::<String>(),
        );
        insta::assert_snapshot!("declarations", out);
    }

    /// Each reason a cell could not run, in every report: the text and
    /// Markdown reports whole, the HTML and JUnit lines that speak of the
    /// cell, the annotations. One wording per reason, the same everywhere;
    /// cells of two reasons never share a line.
    #[test]
    fn every_reason_a_cell_could_not_run_in_every_report() {
        use crate::outcome::Unavailability;
        for (name, why) in [
            ("build-requirements", Unavailability::BuildRequirements),
            ("wheel-metadata", Unavailability::Metadata),
            ("no-wheel", Unavailability::NoWheel),
            ("yanked", Unavailability::Yanked),
            ("next-is-nothing", Unavailability::NextIsNothing),
        ] {
            let mut doc = fixtures::unavailable(why);
            doc.config = Some("matrix.toml".into());
            let words = wording::unavailable_words(why);
            let speaking = |text: &str| -> String {
                text.lines()
                    .filter(|l| l.contains(words) || l.contains("yanked"))
                    .map(|l| format!("{l}\n"))
                    .collect()
            };
            let text = anstream::adapter::strip_str(&render(&doc, Format::Text)).to_string();
            let out = format!(
                "--- text\n{text}--- markdown\n{}--- html\n{}--- junit\n{}--- annotations\n{}",
                render(&doc, Format::Markdown),
                speaking(&render(&doc, Format::Html)),
                speaking(&render(&doc, Format::Junit)),
                github::annotations(&doc),
            );
            // The reason's words head its own line in the text report.
            assert!(
                text.lines().any(|l| l.starts_with(&format!("· {words} ("))),
                "{name}: {text}"
            );
            insta::assert_snapshot!(format!("unavailable-{name}"), out);
        }
    }

    /// A report printed into a GitHub Actions log (`matrix report
    /// --format F` in a job) is read for workflow commands line by line:
    /// whatever a child wrote, no line of a report starts with `::` and
    /// none holds `##[`, and the file still reads back as what was written.
    #[test]
    fn no_report_carries_a_childs_workflow_command() {
        let mut doc = fixtures::every_outcome();
        let payload = "boom ##[error]pwned\n::error file=evil.c,line=1::pwned\n  ::add-mask::x";
        for c in &mut doc.cells {
            c.message = payload.into();
            c.stdout = payload.into();
            c.stderr = payload.into();
            c.traceback = Some(payload.into());
        }
        for format in [Format::Json, Format::Junit, Format::Markdown, Format::Html] {
            let text = render(&doc, format);
            for line in text.lines() {
                assert!(!line.trim_start().starts_with("::"), "{format:?}: {line}");
                assert!(!line.contains("##["), "{format:?}: {line}");
            }
        }
        let back = Document::parse(render(&doc, Format::Json).as_bytes()).expect("loads");
        assert_eq!(back, doc);
        let xml = render(&doc, Format::Junit);
        let parsed = roxmltree::Document::parse(&xml).expect("well-formed");
        let out = parsed
            .descendants()
            .find(|n| n.has_tag_name("system-err"))
            .and_then(|n| n.text());
        assert_eq!(out, Some(payload));
    }
}
