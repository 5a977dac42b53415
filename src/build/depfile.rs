//! Reading the dependency file a compiler writes with `-MD -MF FILE`: the
//! list of every file it read, in Make's syntax.
//!
//! The escaping is the compilers' own, read from their sources rather than
//! guessed (GCC's `munge` in libcpp/mkdeps.cc, Clang's `PrintFilename` in
//! clang/lib/Frontend/DependencyFile.cpp), and checked against what GCC 12
//! writes for a folder named with every printable character:
//!
//! - `$` is written `$$`;
//! - `#` is written `\#` (backslashes before it are not doubled);
//! - a space (GCC: also a tab) is written `\ `, and the N backslashes
//!   before it are doubled, so 2N+1 backslashes and a space are N
//!   backslashes and a space in the name;
//! - nothing else: a `:` or a lone `\` is written as it is (so `\:` is a
//!   backslash and a colon, never an escaped colon), and a newline in a
//!   name cannot be written at all (such a name makes the list unreadable,
//!   and the build is then not cached: see `sources.rs`).
//!
//! Lines end in ` \` when continued. The target is named by `-MT` (see
//! [`TARGET`]), so the first `:` after it is the separator whatever the
//! build's own folder is called.

use std::path::PathBuf;

/// The target the compile names with `-MT`: a plain word, so finding the
/// separator never depends on how the object's path is spelled.
pub const TARGET: &str = "abimatrix-object";

/// Why a dependency file could not be read as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the dependency file does not start with \"{TARGET}:\" as asked with -MT")]
pub struct Unreadable;

/// The files a dependency file lists, in order, each once.
pub fn parse(text: &str) -> Result<Vec<PathBuf>, Unreadable> {
    let rest = text
        .trim_start()
        .strip_prefix(TARGET)
        .and_then(|r| r.strip_prefix(':'))
        .ok_or(Unreadable)?;
    let chars: Vec<char> = rest.chars().collect();
    let mut out: Vec<PathBuf> = Vec::new();
    let mut word = String::new();
    let mut started = false;
    let mut finish = |word: &mut String, started: &mut bool| {
        if *started {
            let path = PathBuf::from(std::mem::take(word));
            if !out.contains(&path) {
                out.push(path);
            }
        }
        *started = false;
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let run = chars[i..].iter().take_while(|&&c| c == '\\').count();
                let next = chars.get(i + run).copied();
                match next {
                    // `\` at the end of a line: the line continues.
                    Some('\n') if run == 1 => {
                        finish(&mut word, &mut started);
                        i += 2;
                        continue;
                    }
                    Some('\r') if run == 1 && chars.get(i + 2) == Some(&'\n') => {
                        finish(&mut word, &mut started);
                        i += 3;
                        continue;
                    }
                    // 2N+1 backslashes and a blank: N of them, and the
                    // blank in the name; 2N: N of them, then the name ends.
                    Some(' ' | '\t') => {
                        word.extend(std::iter::repeat_n('\\', run / 2));
                        started = true;
                        if run % 2 == 1 {
                            word.push(next.unwrap_or(' '));
                            i += run + 1;
                        } else {
                            i += run;
                        }
                        continue;
                    }
                    // `\#` is `#`; backslashes before it are as written.
                    Some('#') => {
                        word.extend(std::iter::repeat_n('\\', run - 1));
                        word.push('#');
                        started = true;
                        i += run + 1;
                        continue;
                    }
                    _ => {
                        word.extend(std::iter::repeat_n('\\', run));
                        started = true;
                        i += run;
                        continue;
                    }
                }
            }
            '$' if chars.get(i + 1) == Some(&'$') => {
                word.push('$');
                started = true;
                i += 2;
                continue;
            }
            c if c.is_whitespace() => finish(&mut word, &mut started),
            c => {
                word.push(c);
                started = true;
            }
        }
        i += 1;
    }
    finish(&mut word, &mut started);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<PathBuf> {
        list.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn continued_lines_and_plain_names() {
        let text = "abimatrix-object: /p/src/ext.c /usr/include/stdio.h \\\n /p/my\\ dir/helper.h \\\n /e/numpy/arrayobject.h\n";
        assert_eq!(
            parse(text).unwrap(),
            paths(&[
                "/p/src/ext.c",
                "/usr/include/stdio.h",
                "/p/my dir/helper.h",
                "/e/numpy/arrayobject.h"
            ])
        );
        assert_eq!(parse("garbage"), Err(Unreadable));
        assert_eq!(parse("other.o: a.c"), Err(Unreadable));
    }

    /// What GCC 12 wrote here for a folder named `a b#c$d:e%f\g&h`
    /// (`gcc -MD -MF out.d -c 'a b#c$d:e%f\g&h/s.c'`, the target renamed).
    #[test]
    fn what_gcc_12_writes_for_every_special_character() {
        let text = "abimatrix-object: a\\ b\\#c$$d:e%f\\g&h/s.c /usr/include/stdc-predef.h \\\n a\\ b\\#c$$d:e%f\\g&h/h.h\n";
        assert_eq!(
            parse(text).unwrap(),
            paths(&[
                "a b#c$d:e%f\\g&h/s.c",
                "/usr/include/stdc-predef.h",
                "a b#c$d:e%f\\g&h/h.h"
            ])
        );
    }

    /// Backslashes before a blank are doubled (2N+1 and the blank: N
    /// backslashes and the blank), before `#` not; `\:` is two characters.
    #[test]
    fn backslash_runs_follow_the_compilers_rules() {
        // Names `x\ y`, `x\#`, `a\:b`, `t\` + tab + `u`, `end\\`.
        let text = "abimatrix-object: x\\\\\\ y x\\\\# a\\:b t\\\\\\\tu";
        assert_eq!(
            parse(text).unwrap(),
            paths(&["x\\ y", "x\\#", "a\\:b", "t\\\tu"])
        );
        // 2N backslashes then a blank: N backslashes end the name.
        assert_eq!(
            parse("abimatrix-object: end\\\\ next").unwrap(),
            paths(&["end\\", "next"])
        );
    }

    #[test]
    fn a_name_listed_twice_is_read_once() {
        assert_eq!(
            parse("abimatrix-object: a.h b.h a.h\n").unwrap(),
            paths(&["a.h", "b.h"])
        );
    }
}
