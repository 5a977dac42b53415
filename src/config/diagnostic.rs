//! Turns a byte span in `matrix.toml` into the `file:line:column` form every
//! config error carries, with the offending line and a caret under it.
//!
//! Kept separate from parsing so that serde's errors (which come with a span)
//! and our own semantic checks (which use `toml::Spanned`) render the same.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A problem in a config file, located precisely enough to jump to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    /// 1-based line; 0 when the error has no location (e.g. unreadable file).
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    pub message: String,
    /// The source line, for the caret display.
    pub source_line: Option<String>,
}

impl ConfigError {
    /// An error at `span` of `source`.
    pub fn at(path: &Path, source: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let (line, column, text) = locate(source, span.start);
        ConfigError {
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
            source_line: Some(text.to_string()),
        }
    }

    /// An error about the file as a whole (missing, unreadable).
    pub fn whole_file(path: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message: message.into(),
            source_line: None,
        }
    }
}

/// 1-based line and column of byte `offset`, and the text of that line.
fn locate(source: &str, offset: usize) -> (usize, usize, &str) {
    let offset = offset.min(source.len());
    // Clamp to a char boundary so slicing below cannot panic on odd spans.
    let offset = (0..=offset)
        .rev()
        .find(|&i| source.is_char_boundary(i))
        .unwrap_or(0);
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i);
    let line = source[..offset].matches('\n').count() + 1;
    let column = source[line_start..offset].chars().count() + 1;
    (
        line,
        column,
        source[line_start..line_end].trim_end_matches('\r'),
    )
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.path.display(), self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )?;
        if let Some(text) = &self.source_line {
            let gutter = self.line.to_string();
            let pad = " ".repeat(gutter.len());
            let caret_pad: String = text
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n{pad} |\n{gutter} | {text}\n{pad} | {caret_pad}^")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_and_column() {
        let src = "a = 1\nbb = \"x\"\n";
        let err = ConfigError::at(Path::new("m.toml"), src, 11..12, "bad");
        assert_eq!((err.line, err.column), (2, 6));
        assert_eq!(err.source_line.as_deref(), Some("bb = \"x\""));
        let shown = err.to_string();
        assert!(shown.starts_with("m.toml:2:6: bad"), "{shown}");
        assert!(shown.ends_with("|      ^"), "{shown}");
    }

    #[test]
    fn span_past_the_end_is_clamped() {
        let err = ConfigError::at(Path::new("m.toml"), "ab", 10..12, "eof");
        assert_eq!((err.line, err.column), (1, 3));
    }

    #[test]
    fn multibyte_columns_count_characters() {
        let src = "x = \"é\" y";
        let err = ConfigError::at(Path::new("m.toml"), src, 9..10, "here");
        assert_eq!(err.column, 9);
    }
}
