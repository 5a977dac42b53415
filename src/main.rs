//! The `matrix` binary: parse arguments, run, and map how the command
//! ended to its exit status; the one place that prints a command's error.

use std::process::ExitCode;

use clap::Parser;

use abimatrix::app::{self, CommandError};
use abimatrix::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.color.apply();
    let ended = match tokio::runtime::Builder::new_multi_thread()
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
