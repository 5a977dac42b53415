//! The `--json` results file: the [`Document`] itself, pretty-printed, with
//! the answer (see [`crate::results::answer`]) as one more top-level field,
//! `answer`, for readers that want the ranges without reading the cells.
//!
//! The answer is computed, never read back: loading a file ignores the
//! field (serde skips unknown fields), so files with and without it load
//! alike, and an answer cannot disagree with the cells it came from. Adding
//! it does not change the schema version, which guards what readers rely on.

use serde::Serialize;

use crate::results::Document;
use crate::results::answer::{self, ColumnAnswer, GridAnswer, RowAnswer};

/// The file's form: the document's fields, then `answer`.
#[derive(Serialize)]
struct WithAnswer<'a> {
    #[serde(flatten)]
    doc: &'a Document,
    answer: Vec<GridJson<'a>>,
}

#[derive(Serialize)]
struct GridJson<'a> {
    grid: usize,
    interpreter: &'a str,
    rows: Vec<RowJson<'a>>,
    columns: Vec<ColumnJson<'a>>,
}

/// A row with its PEP 440 specifiers (when it is one range) and its words.
#[derive(Serialize)]
struct RowJson<'a> {
    #[serde(flatten)]
    row: &'a RowAnswer,
    specifiers: Option<String>,
    text: String,
}

#[derive(Serialize)]
struct ColumnJson<'a> {
    #[serde(flatten)]
    column: &'a ColumnAnswer,
    text: String,
}

fn grid_json(g: &GridAnswer) -> GridJson<'_> {
    GridJson {
        grid: g.grid,
        interpreter: &g.interpreter,
        rows: g
            .rows
            .iter()
            .map(|row| RowJson {
                row,
                specifiers: row.works.specifiers(),
                text: row.to_string(),
            })
            .collect(),
        columns: g
            .columns
            .iter()
            .map(|column| ColumnJson {
                column,
                text: column.to_string(),
            })
            .collect(),
    }
}

pub fn render(doc: &Document) -> String {
    let answers = answer::answer(doc);
    let file = WithAnswer {
        doc,
        answer: answers.iter().map(grid_json).collect(),
    };
    // Plain strings and numbers: serializing cannot fail.
    let text =
        serde_json::to_string_pretty(&file).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    // Printed into a CI log (`matrix report --format json` in a job), a
    // child's `##[error]` inside a string would be a command: `[` as
    // `\u005b` reads back the same. (`#` is never JSON syntax, and no line
    // of pretty JSON starts with `:`.)
    super::sanitize::no_commands(&text, &JSON).into_owned()
}

const JSON: super::sanitize::Escapes = super::sanitize::Escapes {
    colon: "\\u003a",
    bracket: "\\u005b",
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    /// The file with the answer loads as the same document, and its answer
    /// holds each row's specifiers and words.
    #[test]
    fn the_answer_is_written_and_ignored_on_load() {
        for doc in [fixtures::answer(), fixtures::every_outcome()] {
            let text = render(&doc);
            let back = Document::parse(text.as_bytes()).expect("loads");
            assert_eq!(back, doc);
            // Written again from what was loaded: the same bytes.
            assert_eq!(render(&back), text);
        }
        let text = render(&fixtures::answer());
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let row = &value["answer"][0]["rows"][0];
        assert_eq!(row["build"], "1.26.4");
        assert_eq!(row["specifiers"], ">=1.24.4,<2.0.2");
        assert_eq!(row["works"]["kind"], "range");
        assert_eq!(row["passed"], 2);
        assert_eq!(
            value["answer"][0]["rows"][2]["works"]["kind"], "holes",
            "{text}"
        );
        // The document's own fields are all still there, first.
        assert!(text.starts_with("{\n  \"schema\": \"abimatrix.results\""));
    }
}
