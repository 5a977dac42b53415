//! Everything that turns results into something to read: live progress,
//! the terminal grid, the JSON file. One file per output.

pub mod explain;
pub mod grid;
pub mod html;
pub mod journal;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod merge;
pub mod model;
pub mod progress;
pub mod results;

pub use model::Document;
pub use progress::Progress;
pub use results::RunResults;

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

/// `doc` in `format`.
pub fn render(doc: &Document, format: Format) -> String {
    match format {
        Format::Text => grid::render(doc),
        Format::Json => doc.to_json(),
        Format::Junit => junit::render(doc),
        Format::Markdown => markdown::render(doc),
        Format::Html => html::render(doc),
    }
}

/// Writes `doc` in `format` to `path` atomically; text is written without
/// colour.
pub fn write(doc: &Document, format: Format, path: &std::path::Path) -> std::io::Result<()> {
    let text = render(doc, format);
    let text = if format == Format::Text {
        anstream::adapter::strip_str(&text).to_string()
    } else {
        text
    };
    model::write_atomic(path, &text)
}
