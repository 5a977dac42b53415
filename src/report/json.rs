//! The `--json` results file: the [`Document`] as pretty JSON, written
//! atomically.

use std::path::Path;

use super::model::{Document, write_atomic};

pub fn write(doc: &Document, path: &Path) -> std::io::Result<()> {
    write_atomic(path, &doc.to_json())
}
