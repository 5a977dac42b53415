//! The `--json` results file: the [`Document`] itself, pretty-printed.

use crate::results::Document;

pub fn render(doc: &Document) -> String {
    doc.to_json()
}
