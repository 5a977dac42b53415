//! Everything a child prints is hostile: a compiler's diagnostics, a
//! probe's exception and a test command's output carry terminal escapes
//! and GitHub workflow commands, and the exact bytes matrix writes to its
//! stdout and stderr are checked on a terminal (`--color always`), in a
//! GitHub Actions log (`GITHUB_ACTIONS=true`) and from `explain`.

use crate::common::{self, Project, text};

/// What the children write: a window title (`ESC ] 0 ; title BEL`), a
/// screen clear (`ESC [ 2J`), and workflow commands at a line's start
/// (`::error`, `::add-mask::`, `::stop-commands::`, `::set-output`) and
/// mid-line (`##[error]`, which the runner's legacy parser finds anywhere).
const TITLE: &str = "\u{1b}]0;title\u{7}";
const CLEAR: &str = "\u{1b}[2J";

/// The sample, made to fail to build against NumPy 1.x with GCC's own
/// words carrying the payloads: a `#line` file name with a newline and
/// escapes in it (GCC prints it raw), then `#error`.
fn hostile_source() -> String {
    let payload = format!(
        "#include <numpy/arrayobject.h>\n\
         #if NPY_ABI_VERSION < 0x02000000\n\
         #line 1 \"x\\n::error file=evil.c,line=1::pwned\\033]0;title\\007\\033[2J\"\n\
         #error ::add-mask::secret ##[error]mid {TITLE} {CLEAR}\n\
         #endif\n"
    );
    common::SAMPLE_C.replacen("#include <numpy/arrayobject.h>\n", &payload, 1)
}

const PROBE: &str = r###"import sys
print("out \x1b]0;title\x07\n::set-output name=x::y")
print("::add-mask::secret\n  ::stop-commands::tok", file=sys.stderr)
raise ValueError("boom ##[error]pwned \x1b[2J\n::error file=evil.c,line=1::pwned")
"###;

const TEST_COMMAND: &str = r###"import sys
print("\x1b]0;title\x07\x1b[2J::error file=evil.c,line=1::pwned\n::add-mask::secret")
print("##[error]pwned\n::stop-commands::tok\n::set-output name=x::y", file=sys.stderr)
sys.exit(1)
"###;

/// A project with two configs: `matrix.toml` (the sample built against
/// 1.26, which fails, and 2.0, whose probe raises) and `test.toml` (the
/// 2.0 build tested by a command).
fn project() -> Project {
    let p = Project::new();
    p.write("ext/my_extension.c", &hostile_source());
    p.write("ext/probe.py", PROBE);
    p.write("ext/t.py", TEST_COMMAND);
    let extension = "[extension]\nmodule = \"my_extension\"\nsources = [\"ext/my_extension.c\"]\n";
    p.write(
        "matrix.toml",
        &format!(
            "{}{extension}probe-file = \"ext/probe.py\"\n",
            common::numpy(&["1.26.*", "2.0.*"], &["1.26.*"])
        ),
    );
    p.write(
        "test.toml",
        &format!(
            "{}{extension}test = \"python ext/t.py\"\n",
            common::numpy(&["2.0.*"], &["1.26.*"])
        ),
    );
    p
}

/// Lines that start (after whitespace, as the runner trims) with `::`
/// but are not one of matrix's own commands, and lines holding `##[`.
fn commands_from_children(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            let t = l.trim_start();
            let ours = t.starts_with("::group::abimatrix: ")
                || t == "::endgroup::"
                || (t.starts_with("::error file=") && t.contains(".toml,title=abimatrix%3A "));
            (t.starts_with("::") && !ours) || l.contains("##[")
        })
        .collect()
}

/// Every ESC in `out` starts one of matrix's own colours (`ESC [ … m`).
fn only_our_escapes(out: &str) -> bool {
    out.split('\u{1b}').skip(1).all(|after| {
        after.strip_prefix('[').is_some_and(|rest| {
            rest.find('m')
                .is_some_and(|end| rest[..end].chars().all(|c| c.is_ascii_digit() || c == ';'))
        })
    })
}

/// `matrix ARGS` in a GitHub Actions job, for a grid whose one cell is
/// unexpected (exit 1): no line of its stdout or stderr is a child's
/// command, and no escape or bell byte is left. Its stdout, stderr and
/// both for messages.
fn run_in_ci(p: &Project, args: &[&str]) -> (String, String, String) {
    let ci = p.matrix_here_with(args, &[("GITHUB_ACTIONS", "true")]);
    let (stdout, stderr) = (text(&ci.stdout), text(&ci.stderr));
    let dump = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_eq!(ci.status.code(), Some(1), "{dump}");
    for out in [&stdout, &stderr] {
        assert_eq!(commands_from_children(out), Vec::<&str>::new(), "{dump}");
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{dump}");
    }
    (stdout, stderr, dump)
}

#[test]
fn child_text_reaches_no_terminal_and_no_ci_log_as_a_command() {
    let p = project();
    // In a GitHub Actions job.
    let (stdout, stderr, dump) = run_in_ci(&p, &["run"]);
    // Each release not from PyPI says where it is from (the suite's index).
    let from = |v: &str| format!(" (numpy {v} is from {})", crate::suite::index_url());
    // The exact lines: the probe's message in the reason line, the
    // compiler's in the build's last lines, the progress line and the
    // annotations.
    for line in [
        "✗ other (1 cell, unexpected): ValueError: boom ##\\x5berror]pwned \\x1b[2J",
        "    x",
        "    \\x3a:error file=evil.c,line=1::pwned\\x1b]0;title\\x07\\x1b[2J:1:2: error: #error ::add-mask::secret ##\\x5berror]mid \\x1b]0;title\\x07 \\x1b[2J",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no line {line:?}\n{dump}"
        );
    }
    assert!(
        stderr.lines().any(|l| l.ends_with(
            " · against numpy 1.26.4 FAILED: ::error file=evil.c,line=1::pwned\\x1b]0;title\\x07\\x1b[2J:1:2: error: #error ::add-mask::secret ##\\x5berror]mid \\x1b]0;title\\x07 \\x1b[2J"
        )),
        "{dump}"
    );
    assert!(
        stderr.lines().any(|l| l.starts_with("::error file=matrix.toml,")
            && l.ends_with(&format!(
                "::expected pass (the default), got fail (other): ValueError: boom ##\\x5berror]pwned \\x1b[2J{}{}",
                from("1.26.4"),
                from("2.0.2")
            ))),
        "{dump}"
    );

    // On a terminal: the child's escapes are text, matrix's colours are not.
    let tty = p.matrix_here_with(&["--color", "always", "run", "--junit", "r.xml"], &[]);
    let (stdout, stderr) = (text(&tty.stdout), text(&tty.stderr));
    let dump = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert!(stdout.contains("\u{1b}[1m"), "coloured\n{dump}");
    assert!(only_our_escapes(&stdout), "{dump}");
    assert!(only_our_escapes(&stderr), "{dump}");
    assert!(
        !stdout.contains('\u{7}') && !stderr.contains('\u{7}'),
        "{dump}"
    );
    assert!(
        stdout.contains("ValueError: boom ##[error]pwned \\x1b[2J\n"),
        "a terminal is no CI log: its `##[` stays as written\n{dump}"
    );

    // The JUnit report: the message's lines survive in its `message=`
    // attribute (XML drops the escapes it cannot carry), and no line of the
    // file is a command.
    let xml = p.read("r.xml");
    assert_eq!(commands_from_children(&xml), Vec::<&str>::new(), "{xml}");
    let parsed = roxmltree::Document::parse(&xml).expect("well-formed");
    let message = parsed
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .find_map(|n| n.attribute("message"))
        .expect("the failing cell");
    assert!(
        message.contains(
            ": ValueError: boom ##[error]pwned \u{FFFD}[2J\n::error file=evil.c,line=1::pwned — ext/probe.py, line 4: "
        ),
        "{message:?}"
    );

    // `explain`, on a terminal and in a CI log, shows everything the probe
    // wrote, escaped.
    // `explain` keeps the probe's files in a new folder of TMPDIR: the
    // project's, not the system's /tmp.
    let here = p.dir.path().to_str().expect("utf-8");
    let explained = p.matrix_here_with(
        &["--color", "always", "explain", "2.0.2", "1.26.4"],
        &[("TMPDIR", here)],
    );
    let out = text(&explained.stdout);
    assert_eq!(
        explained.status.code(),
        Some(0),
        "{out}{}",
        text(&explained.stderr)
    );
    assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out}");
    assert!(
        out.contains("\nstdout:\nout \\x1b]0;title\\x07\n::set-output name=x::y\n"),
        "{out}"
    );
    let explained = p.matrix_here_with(
        &["explain", "2.0.2", "1.26.4"],
        &[("GITHUB_ACTIONS", "true"), ("TMPDIR", here)],
    );
    let out = text(&explained.stdout);
    assert_eq!(commands_from_children(&out), Vec::<&str>::new(), "{out}");
    for part in [
        "message:     ValueError: boom ##\\x5berror]pwned \\x1b[2J\n\\x3a:error file=evil.c,line=1::pwned — ext/probe.py, line 4: ",
        "\nstdout:\nout \\x1b]0;title\\x07\n\\x3a:set-output name=x::y\n",
        "\nstderr:\n\\x3a:add-mask::secret\n  \\x3a:stop-commands::tok\n",
    ] {
        assert!(out.contains(part), "no {part:?}\n{out}");
    }

    // A test command's output, in the grid and from `explain`.
    run_in_ci(&p, &["run", "-c", "test.toml"]);
    let explained = p.matrix_here_with(
        &["explain", "-c", "test.toml", "2.0.2", "1.26.4"],
        &[("GITHUB_ACTIONS", "true"), ("TMPDIR", here)],
    );
    let out = text(&explained.stdout);
    assert_eq!(commands_from_children(&out), Vec::<&str>::new(), "{out}");
    for part in [
        "\nstdout:\n\\x1b]0;title\\x07\\x1b[2J::error file=evil.c,line=1::pwned\n\\x3a:add-mask::secret\n",
        "\nstderr:\n##\\x5berror]pwned\n\\x3a:stop-commands::tok\n\\x3a:set-output name=x::y\n",
    ] {
        assert!(out.contains(part), "no {part:?}\n{out}");
    }
}
