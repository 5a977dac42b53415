//! `abimatrix`: the package's name as a command, so `uvx abimatrix run` and
//! `pipx run abimatrix` work as they do for ruff and uv. It runs the
//! `matrix` installed beside it with the same arguments (one real binary
//! in the wheel, not two copies of it).

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let matrix = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("matrix")))
        .filter(|m| m.is_file());
    let Some(matrix) = matrix else {
        eprintln!("error: abimatrix runs the `matrix` beside it, and there is none");
        return ExitCode::from(3);
    };
    // exec only returns on failure.
    let err = Command::new(&matrix)
        .args(std::env::args_os().skip(1))
        .exec();
    eprintln!("error: cannot run {}: {err}", matrix.display());
    ExitCode::from(3)
}
