//! What text a child wrote (a compiler, a build backend, uv, a probe, a
//! test command, an interpreter being queried, a package index) becomes
//! before this process shows it: one function per sink, used by every
//! renderer that writes to standard output or standard error.
//!
//! - [`terminal`]: a terminal, or a pipe or file a person may later read on
//!   one. Control characters other than newline and tab (`ESC ] 0 ; title
//!   BEL`, `ESC [ 2J`, a lone carriage return that rewinds the line), and
//!   the invisible format characters that can hide or reorder text (zero
//!   widths, bidirectional overrides: "Trojan Source"), are shown escaped:
//!   `\x1b`, `\u{202e}`. A CRLF line ending is a line ending. Done always,
//!   not only on a terminal: a pipe's text is read on a terminal sooner or
//!   later (`less -R`, `tee`, a CI log viewer), and what a script reads
//!   never depends on where the run started.
//! - [`ci_log`]: the log of a GitHub Actions job (`GITHUB_ACTIONS=true`),
//!   where both standard output and standard error are read for workflow
//!   commands. Everything [`terminal`] does, and no line of child text can
//!   be a command: a `:` that would start a line (after any whitespace or
//!   other invisible characters) as `::` is shown as `\x3a`, and the `[`
//!   of `##[` as `\x5b`. Why escape rather than GitHub's
//!   `::stop-commands::<token>`: (1) the runner's legacy parser matches
//!   `##[` *anywhere* in a line, and the log viewer draws `##[group]`,
//!   `##[error]` lines as folds and errors even while commands are stopped
//!   (the runner itself writes `::group::` as `##[group]`), so stopping
//!   commands does not stop the markup; (2) child text sits inside our own
//!   lines (a reason line, a progress line), and a stop/resume pair needs
//!   lines of its own, on two streams the runner reads concurrently;
//!   (3) a run killed between stop and resume would silence its own
//!   `::error` annotations. The runner compares with culture-sensitive
//!   `StartsWith("::")` and `IndexOf("##[")` (ICU), which skip ignorable
//!   characters: those are escaped by [`terminal`] first, and the `::` test
//!   skips every character that is not a letter, a digit or visible ASCII.
//!
//! Reports keep their own escaping, one place per format: HTML and JUnit
//! escape markup (`html::escape`, `junit::escape`), Markdown its cells
//! (`markdown::md`), JSON is JSON. Each also keeps `##[` and a leading `::`
//! from being read as commands when the report is printed into a CI log,
//! by that format's own lossless means.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Where this process's standard output and standard error go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// A terminal, a pipe or a file.
    Terminal,
    /// The log of a GitHub Actions job: it obeys workflow commands.
    CiLog,
}

/// Whether this process runs in a GitHub Actions job, whose log obeys
/// workflow commands. (Here, not in `github`: that module writes the
/// annotations and sanitizes them with this one.)
pub fn in_github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

impl Sink {
    /// The sink of this process: the CI log under `GITHUB_ACTIONS=true`.
    pub fn current() -> Sink {
        if in_github_actions() {
            Sink::CiLog
        } else {
            Sink::Terminal
        }
    }

    /// `text` (from a child) made safe for this sink.
    pub fn clean(self, text: &str) -> Cow<'_, str> {
        match self {
            Sink::Terminal => terminal(text),
            Sink::CiLog => ci_log(text),
        }
    }
}

/// `text` (from a child) made safe for this process's own output.
pub fn shown(text: &str) -> Cow<'_, str> {
    Sink::current().clean(text)
}

/// Child text for a terminal: control and invisible format characters
/// escaped, newline and tab kept, CRLF read as a line ending.
pub fn terminal(text: &str) -> Cow<'_, str> {
    // Most logs are printable ASCII: a byte scan decides for them.
    let plain = |b: &u8| matches!(b, b'\t' | b'\n' | 0x20..=0x7e);
    if text.as_bytes().iter().all(plain) || !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') {
            continue;
        }
        if needs_escape(c) {
            escape_char(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Child text for a GitHub Actions log: as for a terminal, and no line of
/// it can be read as a workflow command (see the module's documentation).
pub fn ci_log(text: &str) -> Cow<'_, str> {
    match terminal(text) {
        Cow::Borrowed(t) => no_commands(t, &LOG),
        Cow::Owned(t) => Cow::Owned(no_commands(&t, &LOG).into_owned()),
    }
}

/// How a format writes a `:` and a `[` without the characters themselves,
/// so its reader gets the same text back and a CI log reads no command.
#[derive(Debug)]
pub struct Escapes {
    pub colon: &'static str,
    pub bracket: &'static str,
}

/// The log's own: shown as text, like the terminal's `\x1b`.
pub const LOG: Escapes = Escapes {
    colon: "\\x3a",
    bracket: "\\x5b",
};

/// `text` (already escaped for its format, if it has one) with the first
/// `:` of a line that would start `::` and the `[` of every `##[` written
/// as `escapes` say. Every format that can be printed into a CI log passes
/// child text through this, each with its own escapes.
pub fn no_commands<'a>(text: &'a str, escapes: &Escapes) -> Cow<'a, str> {
    if !text.contains("::") && !text.contains("##[") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let rest = match command_start(line) {
            Some(at) => {
                out.push_str(&line[..at]);
                out.push_str(escapes.colon);
                &line[at + 1..]
            }
            None => line,
        };
        let mut done = 0;
        for (at, _) in rest.match_indices("##[") {
            out.push_str(&rest[done..at + 2]);
            out.push_str(escapes.bracket);
            done = at + 3;
        }
        out.push_str(&rest[done..]);
    }
    Cow::Owned(out)
}

/// Where `line` would start a workflow command: the byte offset of its
/// first letter, digit or visible ASCII character, when that begins `::`.
/// Everything before it (spaces, Unicode spaces, symbols, marks) is what
/// the runner's trim and its culture-aware comparison may pass over.
fn command_start(line: &str) -> Option<usize> {
    let (at, _) = line
        .char_indices()
        .find(|(_, c)| c.is_alphanumeric() || c.is_ascii_graphic())?;
    line[at..].starts_with("::").then_some(at)
}

/// Whether a terminal must not get `c` as it is.
fn needs_escape(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        c if c.is_control() => true,
        c => invisible(c),
    }
}

/// Unicode's default-ignorable code points (`DerivedCoreProperties.txt`):
/// drawn as nothing, they can hide text from a reader (zero widths, a
/// soft hyphen) or reorder it (bidirectional controls), and ICU ignores
/// them when the GitHub runner compares text.
fn invisible(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// `\x1b` for ASCII controls (as `cat -v` users and Rust's escapes read
/// them), `\u{202e}` beyond.
fn escape_char(c: char, out: &mut String) {
    let code = c as u32;
    if code < 0x80 {
        let _ = write!(out, "\\x{code:02x}");
    } else {
        let _ = write!(out, "\\u{{{code:x}}}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The payloads of issue 20, as a child writes them.
    const TITLE: &str = "\u{1b}]0;pwned\u{7}";
    const CLEAR: &str = "\u{1b}[2J";

    #[test]
    fn a_terminal_sees_escapes_as_text() {
        assert_eq!(
            terminal(&format!("a{TITLE}b{CLEAR}c")),
            "a\\x1b]0;pwned\\x07b\\x1b[2Jc"
        );
        // Newline and tab are layout, CRLF is a line end, a lone CR would
        // rewind the line over what came before it.
        assert_eq!(terminal("a\tb\r\nc\rd\n"), "a\tb\nc\\x0dd\n");
        assert_eq!(terminal("\u{7f}\u{85}\u{9b}"), "\\x7f\\u{85}\\u{9b}");
        // Text that hides or reorders what a reader sees.
        assert_eq!(
            terminal("ok\u{202e}gnp.exe\u{200b}"),
            "ok\\u{202e}gnp.exe\\u{200b}"
        );
        // Ordinary text, however foreign, is untouched and not copied.
        let plain = "error: 'PyArray_Foo' undeclared → numpy 2.0 ✓ 日本語 std::vector";
        assert!(matches!(terminal(plain), Cow::Borrowed(_)));
        assert_eq!(terminal(plain), plain);
    }

    #[test]
    fn no_line_of_child_text_is_a_workflow_command() {
        let payloads = [
            (
                "::error file=evil.c,line=1::pwned",
                "\\x3a:error file=evil.c,line=1::pwned",
            ),
            ("   ::add-mask::secret", "   \\x3a:add-mask::secret"),
            ("::stop-commands::tok", "\\x3a:stop-commands::tok"),
            ("\t::set-output name=x::y", "\t\\x3a:set-output name=x::y"),
            // Unicode spaces the runner's TrimStart removes too.
            (
                "\u{a0}\u{2003}::warning::x",
                "\u{a0}\u{2003}\\x3a:warning::x",
            ),
            // An ignorable character before the colons is escaped first.
            ("\u{200b}::error::x", "\\u{200b}::error::x"),
            ("x ##[error]pwned", "x ##\\x5berror]pwned"),
            ("###[group]a##[endgroup]", "###\\x5bgroup]a##\\x5bendgroup]"),
            ("#\u{200b}#[error]x", "#\\u{200b}#[error]x"),
        ];
        for (raw, shown) in payloads {
            assert_eq!(ci_log(raw), shown, "{raw:?}");
        }
        // Every line of a fragment, not only its first.
        assert_eq!(
            ci_log("x.c:1: error\n::error::a\r\n  ::debug::b\n"),
            "x.c:1: error\n\\x3a:error::a\n  \\x3a:debug::b\n"
        );
        // `::` after visible text starts nothing: C++ names stay as written.
        let cpp = "src/a.cpp:3:5: error: 'std::vector' has no member\n   12 |   ::std::size_t n;";
        assert_eq!(ci_log(cpp), cpp);
        // And the terminal's escapes apply as well.
        assert_eq!(ci_log(&format!("{CLEAR}::x::y")), "\\x1b[2J::x::y");
    }

    /// Whatever a child writes, after `ci_log` no line trims to `::` (by
    /// the runner's own definition of whitespace) and none holds `##[`, and
    /// no control character is left but newline and tab.
    #[test]
    fn no_payload_survives_in_any_position() {
        let pieces = [
            "::", "##[", "#", ":", " ", "\t", "\n", "\r", "\r\n", "\u{a0}", "\u{200b}", "\u{1b}",
            "\u{7}", "\u{85}", "\u{feff}", "error", "]", "[", "x",
        ];
        // Every sequence of up to four pieces.
        let mut texts = Vec::new();
        let mut level = vec![String::new()];
        for _ in 0..4 {
            level = level
                .iter()
                .flat_map(|t| pieces.iter().map(move |p| format!("{t}{p}")))
                .collect();
            texts.extend(level.iter().cloned());
        }
        for text in texts {
            let shown = ci_log(&text);
            for line in shown.split('\n') {
                assert!(!line.trim_start().starts_with("::"), "{text:?} → {shown:?}");
                assert!(!line.contains("##["), "{text:?} → {shown:?}");
                assert!(
                    !line.chars().any(|c| c.is_control() && c != '\t'),
                    "{text:?} → {shown:?}"
                );
            }
        }
    }

    #[test]
    fn the_sink_decides() {
        assert_eq!(Sink::Terminal.clean("::error::x"), "::error::x");
        assert_eq!(Sink::CiLog.clean("::error::x"), "\\x3a:error::x");
    }
}
