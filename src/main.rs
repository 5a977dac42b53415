//! The `matrix` binary: parse arguments, run, map the result to an exit status.

use std::process::ExitCode;

use clap::Parser;

use abimatrix::app::{self, Exit};
use abimatrix::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.color.apply();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Environment as u8);
        }
    };
    let exit = runtime.block_on(app::main(cli));
    // Drop the runtime without waiting on stray blocking tasks.
    runtime.shutdown_background();
    ExitCode::from(exit as u8)
}
