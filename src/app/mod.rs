//! The commands, wired together: each command group in its own file, each
//! command returning `Ok(())` or the [`CommandError`] that says how it
//! ended, with its hints and its documented exit status. Only `main`
//! prints that error; library code below this never prints and never
//! exits.

// A command ends once: the size of how it ended costs nothing, and its
// variants keep what their message and hints need, unboxed.
#![allow(clippy::result_large_err)]

mod commands;
mod doctor;
mod error;
mod files;
mod run;
mod system;
mod terminal;

use std::io::Write as _;

pub use error::{CommandError, Level};

use crate::cli::{Cli, Command};
use crate::report::sanitize::shown;

/// Runs the command `cli` names.
pub async fn main(cli: Cli) -> Result<(), CommandError> {
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

/// One line on stderr while a command works: `word: message`, the word in
/// its colour. Notes quote what children wrote (uv's stderr, a compiler's
/// last lines), so the message goes through the sanitizer whole. (How a
/// command ends is its [`CommandError`], printed by `main`.)
fn say(style: anstyle::Style, word: &str, message: impl std::fmt::Display) {
    let message = message.to_string();
    let _ = writeln!(
        anstream::stderr(),
        "{style}{word}{style:#}: {}",
        shown(&message)
    );
}

fn note(message: impl std::fmt::Display) {
    say(anstyle::AnsiColor::Yellow.on_default(), "note", message);
}

/// Something went wrong that does not decide how the command ends.
fn warning(message: impl std::fmt::Display) {
    say(
        anstyle::AnsiColor::Yellow.on_default().bold(),
        "warning",
        message,
    );
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
