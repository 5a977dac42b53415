//! The commands, wired together: each command group in its own file, every
//! error printed with its hint, every outcome mapped to a documented exit
//! status. Library code below this never prints and never exits.

mod commands;
mod doctor;
mod files;
mod list;
mod run;
mod system;
mod terminal;

use std::io::Write as _;

use crate::cli::{Cli, Command};
use crate::report::sanitize::shown;

/// Documented exit statuses (see `matrix --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Unexpected = 1,
    Usage = 2,
    Environment = 3,
    Interrupted = 130,
}

pub async fn main(cli: Cli) -> Exit {
    match cli.command {
        Command::Run(args) => run::run(args).await,
        Command::Init(args) => system::init(&args),
        Command::Pythons(args) => system::pythons(&args).await,
        Command::Cache(args) => system::cache(&args),
        Command::Report(args) => commands::report(&args),
        Command::Diff(args) => commands::diff(&args),
        Command::Plan(args) => commands::plan(&args),
        Command::Merge(args) => commands::merge(&args),
        Command::Explain(args) => commands::explain(&args),
        Command::Doctor(args) => doctor::doctor(args).await,
    }
}

/// `--offline`, or uv's own switch for it (UV_OFFLINE set to anything but
/// empty, "0" or "false"): every command that can reach the network
/// follows both, as uv does.
fn offline(flag: bool) -> bool {
    flag || std::env::var("UV_OFFLINE").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// One line on stderr: `word: message`, the word in its colour. Errors,
/// hints and notes quote what children wrote (uv's stderr, a compiler's
/// last lines), so the message goes through the sanitizer whole.
fn say(style: anstyle::Style, word: &str, message: impl std::fmt::Display) {
    let message = message.to_string();
    let _ = writeln!(
        anstream::stderr(),
        "{style}{word}{style:#}: {}",
        shown(&message)
    );
}

fn error(message: impl std::fmt::Display) {
    say(
        anstyle::AnsiColor::Red.on_default().bold(),
        "error",
        message,
    );
}

fn hint(message: impl std::fmt::Display) {
    say(
        anstyle::AnsiColor::Cyan.on_default().bold(),
        "hint",
        message,
    );
}

fn note(message: impl std::fmt::Display) {
    say(anstyle::AnsiColor::Yellow.on_default(), "note", message);
}

/// An error and, when it has one, its hint.
fn error_with_hint(e: &dyn std::fmt::Display, h: Option<&str>) {
    error(e);
    if let Some(h) = h {
        hint(h);
    }
}

/// Resolves on Ctrl-C or SIGTERM. Create it once and keep it: a listener
/// made anew each time could miss a signal that arrives in between.
async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}
