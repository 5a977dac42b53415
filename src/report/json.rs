//! The `--json` results file: the [`Document`] itself, pretty-printed, with
//! two more top-level fields for readers that want conclusions without
//! reading the cells: the answer (see [`crate::results::answer`]) as
//! `answer`, and the verdicts on what packages declare (see
//! [`crate::results::declared`]) as `declarations`, each with its row,
//! declared specifier, verdict, rule, cells and words. Every report renders
//! the findings from that same list.
//!
//! Both are computed, never read back: loading a file ignores the fields
//! (serde skips unknown fields), so files with and without them load
//! alike, and a conclusion cannot disagree with the cells it came from.

use serde::Serialize;

use crate::results::Document;
use crate::results::answer::{self, ColumnAnswer, GridAnswer, RowAnswer, SharedRowAnswer};
use crate::results::declared::{self, Declaration};

/// The file's form: the document's fields, then `answer` and
/// `declarations`.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
struct WithAnswer<'a> {
    #[serde(flatten)]
    doc: &'a Document,
    answer: Vec<GridJson<'a>>,
    /// Rows built once and imported under several Pythons (abi3 builds).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    answer_across_pythons: Vec<SharedJson>,
    declarations: Vec<DeclarationJson>,
}

/// A shared row's answer with its words.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
struct SharedJson {
    #[serde(flatten)]
    row: SharedRowAnswer,
    text: String,
}

/// A verdict on a declaration with its words, whether its cells were as
/// expected, and whether it fails the run.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
struct DeclarationJson {
    #[serde(flatten)]
    declaration: Declaration,
    expected: bool,
    fails: bool,
    text: String,
    rule_text: String,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
struct GridJson<'a> {
    grid: usize,
    interpreter: &'a str,
    rows: Vec<RowJson<'a>>,
    columns: Vec<ColumnJson<'a>>,
}

/// A row with its PEP 440 specifiers (when it is one range) and its words.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
struct RowJson<'a> {
    #[serde(flatten)]
    row: &'a RowAnswer,
    specifiers: Option<String>,
    text: String,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
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
        answer_across_pythons: answer::across_pythons(doc)
            .into_iter()
            .map(|row| SharedJson {
                text: row.to_string(),
                row,
            })
            .collect(),
        declarations: declared::check(doc)
            .into_iter()
            .map(|d| DeclarationJson {
                expected: d.expected(),
                fails: d.fails(),
                text: d.text(),
                rule_text: d.rule_text(),
                declaration: d,
            })
            .collect(),
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

/// The JSON Schema (draft 2020-12) of the file [`render`] writes, from
/// the same types: published as `docs/src/reference/results.schema.json`
/// (a unit test in `crate::docs` keeps it current). It describes what this
/// version writes, not every file it reads: `schema` and `schema_version`
/// are constants, fields written as `null` are required, and every object
/// is closed (`additionalProperties: false`), so a field the file gains
/// without the schema saying so fails validation.
#[cfg(test)]
pub(crate) fn schema() -> serde_json::Value {
    use schemars::Schema;
    use schemars::generate::SchemaSettings;
    use schemars::transform::RecursiveTransform;

    use crate::results::document::{SCHEMA, SCHEMA_VERSION};

    let closed = RecursiveTransform(|s: &mut Schema| {
        if s.get("properties").is_some() && s.get("additionalProperties").is_none() {
            s.insert("additionalProperties".into(), false.into());
        }
    });
    let root = SchemaSettings::draft2020_12()
        .for_serialize()
        .with_transform(closed)
        .into_generator()
        .into_root_schema_for::<WithAnswer<'static>>();
    let mut value = root.to_value();
    value["title"] = "abimatrix results file".into();
    value["description"] = format!(
        "What `matrix run --json`, `matrix merge` and `matrix report --format json` write \
         (schema version {SCHEMA_VERSION}): the results document, then the computed \
         `answer` and `declarations`."
    )
    .into();
    value["properties"]["schema"]["const"] = SCHEMA.into();
    value["properties"]["schema_version"]["const"] = SCHEMA_VERSION.into();
    value
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
        // Rows shared across Pythons too: their answer is written and
        // ignored on load the same way.
        let mut shared = fixtures::every_outcome();
        for g in 0..shared.grids.len() {
            shared.grids[g].built_on = Some(shared.grids[0].interpreter.label.clone());
        }
        let written = render(&shared);
        let value: serde_json::Value = serde_json::from_str(&written).unwrap();
        assert!(
            value["answer_across_pythons"][0]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("built on 3.11 against")),
            "{written}"
        );
        for doc in [fixtures::answer(), fixtures::every_outcome(), shared] {
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

    /// Each verdict on a declaration carries its row, specifier, verdict,
    /// rule and cells, and loading the file ignores them.
    #[test]
    fn declarations_carry_their_cells_and_rule() {
        let doc = fixtures::packages();
        let text = render(&doc);
        assert_eq!(Document::parse(text.as_bytes()).expect("loads"), doc);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let list = value["declarations"].as_array().unwrap();
        let pandas = list.iter().find(|d| d["row"] == "pandas 2.0.3").unwrap();
        assert_eq!(pandas["declares"], "numpy>=1.21.0,>=1.23.2");
        assert_eq!(pandas["verdict"], "error");
        assert_eq!(pandas["rule"], "numpy-reason");
        assert_eq!(pandas["cells"][0]["runtime"], "2.0.2");
        assert_eq!(pandas["cells"][0]["reason"], "dtype-size");
        assert_eq!(
            (pandas["expected"].as_bool(), pandas["fails"].as_bool()),
            (Some(true), Some(false))
        );
        assert!(
            pandas["text"]
                .as_str()
                .unwrap()
                .starts_with("declaration error: pandas 2.0.3")
        );
        assert!(
            pandas["rule_text"]
                .as_str()
                .unwrap()
                .starts_with("NumPy caused it")
        );
        let scipy = list.iter().find(|d| d["row"] == "scipy 1.11.4").unwrap();
        assert_eq!(scipy["verdict"], "holds", "{scipy}");
    }
}
