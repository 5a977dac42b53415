//! Where the probe was written, in the user's terms: `tests/probe.py` for
//! a `probe-file` (the path as given, beside the config as given), and
//! `matrix.toml` itself for a `probe = "..."` string, with the line its
//! code starts on. Tracebacks and assertion messages name that place, and a
//! probe that does not compile is an error there, with the caret every
//! config error has: inside the TOML string for an inline probe, which
//! takes mapping each character of the string's value back to the
//! characters written (escapes, a multi-line string's first newline).

use std::path::PathBuf;

use super::{Config, ConfigError};
use crate::extension::ProbeOrigin;
use crate::probe::ProbeCode;

impl Config {
    /// The probe every cell runs, named where it was written.
    pub fn probe(&self) -> ProbeCode {
        let code = self.extension.probe.clone();
        match &self.extension.probe_origin {
            ProbeOrigin::Builtin => ProbeCode::unnamed(&code),
            ProbeOrigin::File { written } => ProbeCode {
                name: self.probe_file(written).display().to_string(),
                first_line: 1,
                code,
            },
            ProbeOrigin::Inline { span } => match self.inline_lines(span) {
                Some(first_line) => ProbeCode {
                    name: self.path.display().to_string(),
                    first_line,
                    code,
                },
                // Escaped newlines: its lines are not the file's.
                None => ProbeCode {
                    name: "<extension.probe>".to_string(),
                    first_line: 1,
                    code,
                },
            },
        }
    }

    /// An error at `line` and `column` (1-based, as Python counts them in
    /// the probe's own code) of the probe: in the probe file, or in the
    /// config at the very character of the TOML string.
    pub fn probe_error(
        &self,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    ) -> ConfigError {
        let code = &self.extension.probe;
        let at = offset_of(code, line.unwrap_or(1), column.unwrap_or(1));
        match &self.extension.probe_origin {
            ProbeOrigin::File { written } => {
                ConfigError::at(&self.probe_file(written), code, at..at + 1, message)
            }
            ProbeOrigin::Inline { span } => {
                let token = self.text.get(span.clone()).unwrap_or_default();
                let inside = string_offsets(token)
                    .filter(|o| o.len() == code.len() + 1)
                    .and_then(|o| o.get(at).copied())
                    .unwrap_or(0);
                self.error_at(Some(span.start + inside..span.start + inside + 1), message)
            }
            ProbeOrigin::Builtin => self.error_at(None, message),
        }
    }

    /// A probe file as the user sees it: the path written in the config,
    /// beside the config as it was named (`tests/probe.py` for
    /// `matrix.toml`, `sub/tests/probe.py` for `-c sub/matrix.toml`).
    fn probe_file(&self, written: &str) -> PathBuf {
        self.path
            .parent()
            .map_or_else(|| PathBuf::from(written), |dir| dir.join(written))
    }

    /// The config line an inline probe's first line is on, when each of
    /// its lines is a line of the config (no newline written as `\n`).
    fn inline_lines(&self, span: &std::ops::Range<usize>) -> Option<usize> {
        let token = self.text.get(span.clone())?;
        let code = &self.extension.probe;
        let offsets = string_offsets(token).filter(|o| o.len() == code.len() + 1)?;
        let linear = code
            .bytes()
            .zip(&offsets)
            .all(|(b, &o)| b != b'\n' || token.as_bytes().get(o) == Some(&b'\n'));
        let first = span.start + offsets[0];
        linear.then(|| self.text[..first].matches('\n').count() + 1)
    }
}

/// The byte offset of 1-based `line` and `column` (in characters) in
/// `code`, clamped to the line.
fn offset_of(code: &str, line: usize, column: usize) -> usize {
    let start: usize = code
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &code[start.min(code.len())..];
    let text = rest.split('\n').next().unwrap_or("");
    let within = text
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(text.len(), |(i, _)| i);
    (start + within).min(code.len())
}

/// For a TOML string token as written (quotes included), where each byte
/// of its value comes from: one offset into `token` per byte of the value,
/// then one for its end. `None` for text that is not a string TOML accepts.
fn string_offsets(token: &str) -> Option<Vec<usize>> {
    let (quote, literal) = [("\"\"\"", false), ("'''", true), ("\"", false), ("'", true)]
        .into_iter()
        .find(|(q, _)| token.starts_with(q) && token.len() >= 2 * q.len())?;
    let start = quote.len();
    let end = token.len() - quote.len();
    let body = &token[..end];
    let multi = quote.len() == 3;
    let mut i = start;
    // A multi-line string drops a newline right after its opening quotes.
    if multi {
        if body[i..].starts_with("\r\n") {
            i += 2;
        } else if body[i..].starts_with('\n') {
            i += 1;
        }
    }
    let mut out = Vec::new();
    while i < end {
        let c = body[i..].chars().next()?;
        if literal || c != '\\' {
            out.extend((0..c.len_utf8()).map(|k| i + k));
            i += c.len_utf8();
            continue;
        }
        let escape = body[i + 1..].chars().next()?;
        match escape {
            'b' | 't' | 'n' | 'f' | 'r' | '"' | '\\' | 'e' => {
                out.push(i);
                i += 2;
            }
            'u' | 'U' | 'x' => {
                let digits = match escape {
                    'u' => 4,
                    'U' => 8,
                    _ => 2,
                };
                let hex = body.get(i + 2..i + 2 + digits)?;
                let decoded = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
                out.extend(std::iter::repeat_n(i, decoded.len_utf8()));
                i += 2 + digits;
            }
            // A line-ending backslash: the newline and the whitespace
            // after it are not part of the value.
            c if multi && c.is_whitespace() => {
                i += 1;
                while let Some(w) = body[i..].chars().next().filter(|w| w.is_whitespace()) {
                    i += w.len_utf8();
                }
            }
            _ => return None,
        }
    }
    out.push(end);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `token` with toml itself and checks that every byte of the
    /// value maps to the character that wrote it.
    fn check(token: &str) {
        let value: toml::Value = toml::from_str(&format!("v = {token}")).unwrap();
        let value = value["v"].as_str().unwrap().to_string();
        let offsets = string_offsets(token).unwrap();
        assert_eq!(offsets.len(), value.len() + 1, "{token}");
        for (i, b) in value.bytes().enumerate() {
            let written = token.as_bytes()[offsets[i]];
            assert!(written == b || written == b'\\', "{token} byte {i}");
        }
    }

    #[test]
    fn every_kind_of_toml_string_maps_back_to_what_was_written() {
        for token in [
            r#""assert module.answer() == 42""#,
            r#""a\tb\n\"c\" \u00e9 \U0001F600 é""#,
            "'C:\\path'",
            "\"\"\"\nx = 1\nassert x == 2\n\"\"\"",
            "\"\"\"x = \\\n    1\"\"\"",
            "'''\nraw \\n stays\n'''",
        ] {
            check(token);
        }
        assert_eq!(string_offsets(r#""bad \q""#), None);
    }

    #[test]
    fn lines_and_columns_are_byte_offsets_of_the_code() {
        let code = "x = 1\nassert é == (\n";
        assert_eq!(offset_of(code, 1, 1), 0);
        assert_eq!(offset_of(code, 2, 8), 6 + "assert ".len());
        assert_eq!(offset_of(code, 2, 10), 6 + "assert é ".len());
        assert_eq!(offset_of(code, 9, 9), code.len());
    }

    fn config(probe: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("matrix.toml");
        let text = format!(
            "[numpy]\nruntime = [\"2.0.*\"]\n[extension]\nrequirement = \"pkg==1.0\"\nimports = [\"pkg\"]\n{probe}\n"
        );
        let config = Config::parse(&path, &text).unwrap();
        (dir, config)
    }

    #[test]
    fn an_inline_probe_is_named_by_the_config_and_its_lines() {
        let (_dir, c) = config("probe = \"\"\"\nx = 1\nassert x == (2\"\"\"");
        let probe = c.probe();
        assert_eq!(probe.name, c.path.display().to_string());
        assert_eq!(probe.first_line, 7, "the line after the opening quotes");
        // Python's line 2, column 13 of the code is the config's line 8.
        let e = c.probe_error(Some(2), Some(13), "'(' was never closed".into());
        assert_eq!((e.line, e.column), (8, 13), "{e}");
        let (_dir, c) = config("probe = \"x = 1\\nassert x == (2\"");
        assert_eq!(c.probe().name, "<extension.probe>");
        let e = c.probe_error(Some(2), Some(13), "'(' was never closed".into());
        assert_eq!(
            (e.line, e.column),
            (6, 9 + 1 + "x = 1\\n".len() + 12),
            "{e}"
        );
    }

    #[test]
    fn a_probe_file_is_named_as_the_user_gave_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub/tests")).unwrap();
        std::fs::write(dir.path().join("sub/tests/probe.py"), "x = (\n").unwrap();
        let text = "[numpy]\nruntime = [\"2.0.*\"]\n[extension]\nrequirement = \"pkg==1.0\"\nimports = [\"pkg\"]\nprobe-file = \"tests/probe.py\"\n";
        let c = Config::parse(&dir.path().join("sub/matrix.toml"), text).unwrap();
        let probe = c.probe();
        assert_eq!(
            probe.name,
            dir.path().join("sub/tests/probe.py").display().to_string()
        );
        let e = c.probe_error(Some(1), Some(5), "'(' was never closed".into());
        assert_eq!(e.path, dir.path().join("sub/tests/probe.py"));
        assert_eq!((e.line, e.column), (1, 5));
        assert_eq!(e.source_line.as_deref(), Some("x = ("));
    }
}
