//! What a user reads at the command line, snapshot-tested with insta as
//! cargo-nextest tests its own: the `--help` of every command (found by
//! walking `matrix --help`, so a new command cannot go without one), and
//! the error of each exit status (1 and 130 with a real grid, 2 and 3
//! without). A change to any of these words shows as a snapshot diff to
//! review (`cargo insta review`, or accept the `.snap.new` files).
//!
//! What varies from one machine or run to the next is replaced before the
//! comparison: the project's temporary folder, the suite index's port,
//! durations and CPython's patch release.

use std::path::Path;
use std::process::Output;

use crate::common::{Project, matrix, numpy, text};

/// `text` with what varies between machines and runs replaced.
pub fn redact(text: &str, project: Option<&Path>) -> String {
    let mut out = text.to_string();
    if let Some(dir) = project {
        out = out.replace(&dir.display().to_string(), "[project]");
    }
    let rules: [(&str, &str); 5] = [
        (r"http://127\.0\.0\.1:\d+/", "http://127.0.0.1:[port]/"),
        (r"\b\d+(\.\d+)?(ms|s)\b", "[time]"),
        (r"CPython 3\.(\d+)\.\d+", "CPython 3.$1.[patch]"),
        (r"/[^ ]*/python3\.(\d+)", "[python3.$1]"),
        (r"/[^ ]*/v2/tools/uv/bin/uv", "[uv]"),
    ];
    for (pattern, with) in rules {
        out = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&out, with)
            .into_owned();
    }
    out
}

/// A command's exit status, stdout and stderr, as one text to snapshot.
fn shown(out: &Output, project: Option<&Path>) -> String {
    redact(
        &format!(
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            out.status.code(),
            text(&out.stdout),
            text(&out.stderr)
        ),
        project,
    )
}

/// The subcommands a `--help` lists under "Commands:" (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.split("\nCommands:\n")
        .nth(1)
        .map(|rest| {
            rest.lines()
                .take_while(|l| !l.trim().is_empty())
                .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
                .filter_map(|l| l.split_whitespace().next())
                .filter(|c| *c != "help")
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `matrix --help` and the `--help` of every command under it, at a fixed
/// width (clap wraps to `COLUMNS`).
#[test]
fn the_help_of_every_command() {
    let mut todo = vec![Vec::<String>::new()];
    let mut seen = Vec::new();
    while let Some(path) = todo.pop() {
        let out = matrix()
            .args(&path)
            .arg("--help")
            .env("COLUMNS", "100")
            .output()
            .expect("matrix");
        assert_eq!(out.status.code(), Some(0), "{path:?}");
        let help = text(&out.stdout);
        let name = if path.is_empty() {
            "help-matrix".to_string()
        } else {
            format!("help-{}", path.join("-"))
        };
        insta::assert_snapshot!(name, help);
        for sub in subcommands(&help) {
            let mut next = path.clone();
            next.push(sub);
            todo.push(next);
        }
        seen.push(path.join(" "));
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "",
            "cache",
            "cache clean",
            "cache info",
            "cache verify",
            "diff",
            "doctor",
            "explain",
            "init",
            "merge",
            "plan",
            "pythons",
            "report",
            "run",
        ],
        "every command has its help snapshot"
    );
}

/// Exit 2: a bad command line, a mistake in matrix.toml (located), no
/// matrix.toml at all; `doctor`'s bad option.
#[test]
fn exit_2_bad_command_line_or_config() {
    let p = Project::new();
    p.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
    insta::assert_snapshot!(
        "exit-2-bad-option",
        shown(&p.matrix_here(&["run", "--jobs", "0"]), Some(p.dir.path()))
    );
    insta::assert_snapshot!(
        "exit-2-doctor-bad-option",
        shown(
            &p.matrix_here(&["doctor", "--timeout", "soon"]),
            Some(p.dir.path())
        )
    );
    p.write(
        "matrix.toml",
        "[numpy]\nbuild = [\"1.26.*\"]\nruntime = [\"2.0.2\", \"2.x\"]\n",
    );
    insta::assert_snapshot!(
        "exit-2-bad-config",
        shown(&p.matrix_here(&["run"]), Some(p.dir.path()))
    );
    std::fs::remove_file(p.path("matrix.toml")).unwrap();
    insta::assert_snapshot!(
        "exit-2-no-config",
        shown(&p.matrix_here(&["run"]), Some(p.dir.path()))
    );
}

/// Exit 3: no such interpreter (for `run` and `doctor`), an index that
/// cannot be reached, a cache that cannot be written.
#[test]
fn exit_3_broken_environment() {
    let p = Project::new();
    p.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
    insta::assert_snapshot!(
        "exit-3-no-interpreter",
        shown(
            &p.matrix_here(&["run", "--python", "/nonexistent/bin/python3"]),
            Some(p.dir.path())
        )
    );
    insta::assert_snapshot!(
        "exit-3-doctor-no-interpreter",
        shown(
            &p.matrix_here(&["doctor", "--python", "/nonexistent/bin/python"]),
            Some(p.dir.path())
        )
    );
    p.write("a-file", "");
    insta::assert_snapshot!(
        "exit-3-unwritable-cache",
        shown(
            &p.matrix_here(&["run", "--cache-dir", "a-file/sub"]),
            Some(p.dir.path())
        )
    );
    // Port 9 (discard) on the loopback: nothing listens there.
    p.write(
        "matrix.toml",
        &format!(
            "{}index-url = \"http://127.0.0.1:9/simple\"\n",
            numpy(&["2.0.*"], &["2.0.*"])
        ),
    );
    insta::assert_snapshot!(
        "exit-3-unreachable-index",
        shown(
            &p.matrix_here(&["run", "--cache-dir", "cache"]),
            Some(p.dir.path())
        )
    );
}

/// Exit 1: a cell that did not do what matrix.toml expects, said in the
/// grid and after it (a real 1 × 1 grid).
#[test]
fn exit_1_a_cell_not_as_expected() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "[python]\nversions = [\"3.11\"]\n{}[[expect]]\nbuild = \">=2\"\nruntime = \">=2\"\noutcome = \"fail\"\n",
            numpy(&["2.0.*"], &["2.0.*"])
        ),
    );
    let out = p.matrix_here(&["run"]);
    let stdout = redact(&text(&out.stdout), Some(p.dir.path()));
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    insta::assert_snapshot!("exit-1-unexpected-cell", stdout);
}
