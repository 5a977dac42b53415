//! The parts of the book that are generated from the code, and the tests
//! that keep them current: the command reference from the clap definitions
//! (`docs/src/reference/cli.md`) and the results file's JSON Schema from the
//! types `--json` serializes (`docs/src/reference/results.schema.json`).
//! Written by hand, either would drift the day an option or a field
//! changes; generated, a stale copy fails `cargo test`, and one command
//! writes them again:
//!
//! ```sh
//! ABIMATRIX_UPDATE_DOCS=1 cargo test --lib docs::
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::cli::Cli;

/// The environment variable that makes the tests write what they generate
/// instead of comparing it.
const UPDATE: &str = "ABIMATRIX_UPDATE_DOCS";

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/reference")
}

/// The command reference, in Markdown: every command, its arguments and
/// options with their help, defaults, possible values and the exit
/// statuses, as `matrix help` prints them.
pub fn cli_reference() -> String {
    let mut root = Cli::command();
    root.build();
    let mut out = String::new();
    out.push_str(
        "<!-- Generated from the clap definitions in src/cli.rs: do not edit.\n     \
         Regenerate with `ABIMATRIX_UPDATE_DOCS=1 cargo test --lib docs::`. -->\n\n\
         # Commands and options\n\n\
         Every command and option of `matrix`, generated from the definitions \
         `matrix --help` prints, so this page cannot drift from the binary. \
         `matrix help COMMAND` (or `matrix COMMAND --help`) prints the same on \
         the command line; `-h` prints a summary.\n\n",
    );
    // A table of contents, then one section per command.
    for sub in visible_subcommands(&root) {
        let _ = writeln!(
            out,
            "- [`matrix {}`](#matrix-{}): {}",
            sub.get_name(),
            sub.get_name(),
            first_line(sub.get_about())
        );
        for leaf in visible_subcommands(sub) {
            let _ = writeln!(
                out,
                "  - [`matrix {} {}`](#matrix-{}-{}): {}",
                sub.get_name(),
                leaf.get_name(),
                sub.get_name(),
                leaf.get_name(),
                first_line(leaf.get_about())
            );
        }
    }
    out.push('\n');
    command_section(&mut out, &root, "matrix", true);
    for sub in visible_subcommands(&root) {
        let name = format!("matrix {}", sub.get_name());
        command_section(&mut out, sub, &name, false);
        for leaf in visible_subcommands(sub) {
            command_section(
                &mut out,
                leaf,
                &format!("{name} {}", leaf.get_name()),
                false,
            );
        }
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

fn visible_subcommands(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
}

fn first_line(text: Option<&clap::builder::StyledStr>) -> String {
    text.map(|t| t.to_string())
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_string()
}

/// One command: what it does, its usage, its arguments and options, and
/// what it prints after the help (the exit statuses).
fn command_section(out: &mut String, cmd: &clap::Command, name: &str, root: bool) {
    let _ = writeln!(out, "## `{name}`\n");
    if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
        let _ = writeln!(out, "{}\n", prose(&about.to_string()));
    }
    let usage = cmd.clone().render_usage().to_string();
    let _ = writeln!(out, "```text\n{}\n```\n", usage.trim_end());
    let positionals: Vec<&clap::Arg> = cmd.get_positionals().filter(|a| !a.is_hide_set()).collect();
    if !positionals.is_empty() {
        out.push_str("Arguments:\n\n");
        for arg in positionals {
            let value = arg
                .get_value_names()
                .map(|v| v.iter().map(|n| format!("<{n}>")).collect::<Vec<_>>())
                .unwrap_or_default()
                .join(" ");
            let mut value = value;
            if arg.get_num_args().is_some_and(|n| n.max_values() > 1) {
                value.push_str("...");
            }
            item(out, &format!("`{value}`"), arg);
        }
        out.push('\n');
    }
    // Global options are listed once, under `matrix`.
    let options: Vec<&clap::Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set())
        .filter(|a| root || !a.is_global_set())
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
        .collect();
    if !options.is_empty() {
        out.push_str("Options:\n\n");
        for arg in options {
            let mut names = Vec::new();
            if let Some(s) = arg.get_short() {
                names.push(format!("`-{s}`"));
            }
            names.push(format!("`{arg}`"));
            item(out, &names.join(", "), arg);
        }
        out.push('\n');
    }
    if root {
        out.push_str(
            "Every command also takes `-h`/`--help`; `matrix` takes `-V`/`--version`. \
             The options above are global: each command takes them too.\n\n",
        );
    }
    if let Some(after) = cmd.get_after_long_help().or(cmd.get_after_help()) {
        let _ = writeln!(out, "```text\n{}\n```\n", after.to_string().trim_end());
    }
}

/// One argument as a list item: its names, then its help, default,
/// possible values and environment variable.
fn item(out: &mut String, names: &str, arg: &clap::Arg) {
    let help = arg
        .get_long_help()
        .or(arg.get_help())
        .map(|h| prose(&h.to_string()))
        .unwrap_or_default();
    let mut extra = Vec::new();
    if matches!(arg.get_action(), clap::ArgAction::Append) {
        extra.push("Repeatable.".to_string());
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|d| format!("`{}`", d.to_string_lossy()))
        .collect();
    if !defaults.is_empty() && !arg.is_hide_default_value_set() && arg.get_action().takes_values() {
        extra.push(format!("Default: {}.", defaults.join(", ")));
    }
    if let Some(env) = arg.get_env() {
        extra.push(format!("Environment: `{}`.", env.to_string_lossy()));
    }
    let mut text = indent(&help);
    if !extra.is_empty() {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&extra.join(" "));
    }
    let _ = write!(out, "- {names}: {text}");
    out.push('\n');
    let values: Vec<clap::builder::PossibleValue> = arg
        .get_possible_values()
        .into_iter()
        .filter(|v| !v.is_hide_set())
        .collect();
    if !values.is_empty() && arg.get_action().takes_values() {
        for v in values {
            match v.get_help() {
                Some(h) => {
                    let _ = writeln!(
                        out,
                        "  - `{}`: {}",
                        v.get_name(),
                        indent(&prose(&h.to_string()))
                    );
                }
                None => {
                    let _ = writeln!(out, "  - `{}`", v.get_name());
                }
            }
        }
    }
}

/// Help text as Markdown prose: a `<` outside code spans is text, not the
/// start of an HTML tag, and a sentence ends with its full stop.
fn prose(text: &str) -> String {
    let mut out = String::new();
    if text.trim().is_empty() {
        return out;
    }
    for (i, part) in text.trim().split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        if i % 2 == 0 {
            out.push_str(&part.replace('<', "&lt;"));
        } else {
            out.push_str(part);
        }
    }
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// Continuation lines of a list item's text, indented under it.
fn indent(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("  {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim_start()
        .to_string()
}

/// The schema as published: pretty JSON, one trailing newline.
pub fn results_schema() -> String {
    let mut text = serde_json::to_string_pretty(&crate::report::json::schema())
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// Compares `generated` with the file `name` of the reference, or writes it
/// when [`UPDATE`] is set. Returns what is stale, for one failure message.
fn check_or_write(name: &str, generated: &str) -> Option<String> {
    let path = docs_dir().join(name);
    if std::env::var_os(UPDATE).is_some() {
        if let Err(e) = std::fs::write(&path, generated) {
            return Some(format!("cannot write {}: {e}", path.display()));
        }
        return None;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    (current != generated).then(|| {
        let first = current
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(current.lines().count().min(generated.lines().count()));
        format!(
            "{} is stale (first difference at line {}: {:?} should be {:?})",
            path.display(),
            first + 1,
            current.lines().nth(first).unwrap_or("<end>"),
            generated.lines().nth(first).unwrap_or("<end>"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference pages generated from the code are the ones in the
    /// book; stale ones name the command that writes them again.
    #[test]
    fn the_generated_reference_is_current() {
        let stale: Vec<String> = [
            ("cli.md", cli_reference()),
            ("results.schema.json", results_schema()),
        ]
        .iter()
        .filter_map(|(name, text)| check_or_write(name, text))
        .collect();
        assert!(
            stale.is_empty(),
            "{}\nregenerate with: {UPDATE}=1 cargo test --lib docs::",
            stale.join("\n")
        );
    }

    /// Every option of every command is in its command's section of the
    /// reference, with its help and its possible values, and every
    /// command's text after the help (the exit statuses) is there too. Read
    /// from the clap definitions, so a change of wording elsewhere (another
    /// option's help, the exit codes) does not break this test, only a
    /// generator that leaves something out.
    #[test]
    fn the_command_reference_has_every_option() {
        let text = cli_reference();
        let mut root = Cli::command();
        root.build();
        let mut stack = vec![(String::from("matrix"), &root)];
        while let Some((name, cmd)) = stack.pop() {
            // The command's own section, up to the next one.
            let section = text
                .split(&format!("\n## `{name}`\n"))
                .nth(1)
                .and_then(|s| s.split("\n## ").next())
                .unwrap_or_else(|| panic!("no section for {name}"));
            let own = cmd
                .get_arguments()
                .filter(|a| !a.is_hide_set() && (name == "matrix" || !a.is_global_set()))
                .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"));
            for arg in own {
                if let Some(long) = arg.get_long() {
                    let entry = |end: &str| format!("`--{long}{end}");
                    assert!(
                        [entry("`"), entry(" <"), entry(" [<")]
                            .iter()
                            .any(|e| section.contains(&format!("- {e}"))
                                || section.contains(&format!(", {e}"))),
                        "{name} --{long}"
                    );
                }
                let help = arg
                    .get_long_help()
                    .or(arg.get_help())
                    .map(|h| prose(&h.to_string()));
                if let Some(first) = help.as_deref().and_then(|h| h.lines().next()) {
                    let first = first.trim().trim_end_matches('.');
                    assert!(
                        section.contains(first),
                        "{name} {}: {first:?}",
                        arg.get_id()
                    );
                }
                if arg.get_action().takes_values() {
                    for value in arg
                        .get_possible_values()
                        .iter()
                        .filter(|v| !v.is_hide_set())
                    {
                        let item = format!("  - `{}`", value.get_name());
                        assert!(section.contains(&item), "{name} {}: {item}", arg.get_id());
                    }
                }
            }
            if let Some(after) = cmd.get_after_long_help().or(cmd.get_after_help()) {
                let after = after.to_string();
                assert!(
                    section.contains(after.trim_end()),
                    "{name}: the text after the help"
                );
            }
            for sub in visible_subcommands(cmd) {
                stack.push((format!("{name} {}", sub.get_name()), sub));
            }
        }
    }

    /// The outcomes page names every outcome, failure reason and kind of
    /// unavailable cell the results file can hold, read from the generated
    /// schema, so a new variant cannot go undocumented.
    #[test]
    fn the_outcomes_page_names_every_outcome_reason_and_unavailable_kind() {
        let page = std::fs::read_to_string(docs_dir().join("outcomes.md")).expect("outcomes.md");
        let schema: serde_json::Value =
            serde_json::from_str(&results_schema()).expect("the schema is JSON");
        for def in ["OutcomeKind", "FailureReason", "Unavailability"] {
            // A plain `enum`, or a `oneOf` of `const`s when the variants
            // carry descriptions.
            let variants = &schema["$defs"][def];
            let names: Vec<&str> = match (variants["enum"].as_array(), variants["oneOf"].as_array())
            {
                (Some(values), _) => values.iter().filter_map(|v| v.as_str()).collect(),
                (None, Some(variants)) => variants
                    .iter()
                    .filter_map(|v| v["const"].as_str())
                    .collect(),
                (None, None) => Vec::new(),
            };
            assert!(!names.is_empty(), "{def} has no variants in the schema");
            for name in names {
                assert!(
                    page.contains(&format!("`{name}`")),
                    "docs/src/reference/outcomes.md does not name the {def} `{name}`"
                );
            }
        }
    }

    /// The exit statuses the reference page explains are exactly the ones
    /// `matrix --help` and `matrix doctor --help` list.
    #[test]
    fn the_exit_status_page_lists_the_codes_the_help_lists() {
        let page =
            std::fs::read_to_string(docs_dir().join("exit-codes.md")).expect("exit-codes.md");
        let mut root = Cli::command();
        root.build();
        let codes = |text: &str| -> std::collections::BTreeSet<String> {
            text.lines()
                .filter_map(|l| {
                    let l = l.trim_start_matches('|').trim_start();
                    let code: String = l.chars().take_while(char::is_ascii_digit).collect();
                    (!code.is_empty() && l[code.len()..].starts_with([' ', '|'])).then_some(code)
                })
                .collect()
        };
        for cmd in [&root, root.find_subcommand("doctor").expect("doctor")] {
            let help = cmd
                .get_after_long_help()
                .or(cmd.get_after_help())
                .expect("the exit statuses after the help")
                .to_string();
            let section = page
                .split(&format!("<!-- codes of `{}` -->", cmd.get_name()))
                .nth(1)
                .and_then(|s| s.split("<!-- end -->").next())
                .unwrap_or_else(|| panic!("exit-codes.md has no table for {}", cmd.get_name()));
            assert_eq!(
                codes(section),
                codes(&help),
                "the exit statuses of `{}` in docs/src/reference/exit-codes.md (left) are not the \
                 ones its --help lists (right): that table is written by hand; edit it between \
                 `<!-- codes of `{}` -->` and `<!-- end -->`, then regenerate the command \
                 reference with: {UPDATE}=1 cargo test --lib docs::",
                cmd.get_name(),
                cmd.get_name()
            );
        }
    }
}
