//! The `matrix` binary: parse arguments, run, and map how the command
//! ended to its exit status; the one place that prints a command's error.

use std::process::ExitCode;

use clap::Parser;

use abimatrix::app::{self, CommandError};
use abimatrix::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.color.apply();
    // One thread drives every task and all the I/O, as in uv; blocking
    // work (hashing, scanning, reading a library) runs on the runtime's
    // blocking pool (`abimatrix::blocking`), and the children do the
    // heavy lifting in processes of their own. A multi-threaded runtime
    // cost more than it gave: the run's future, on the `block_on` thread,
    // was woken from the workers that saw a fork server's messages, across
    // threads, for every message (23,000 context switches on the 1,849
    // cells of the every-release grid against 15,400 on one thread, and
    // 5% of its wall time).
    let ended = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => {
            let ended = runtime.block_on(app::main(cli));
            // Drop the runtime without waiting on stray blocking tasks.
            runtime.shutdown_background();
            ended
        }
        Err(e) => Err(CommandError::Runtime(e)),
    };
    match ended {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.display_to_stderr();
            ExitCode::from(e.exit_status().code())
        }
    }
}
