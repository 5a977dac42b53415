//! A user's `test = "..."` command, run once per cell instead of the probe:
//! in a process of its own (a command may start threads and subprocesses,
//! which a fork server's child must not), in the folder that holds
//! matrix.toml (as tox and nox run commands in their file's folder, so
//! `pytest tests/` means the user's tests), with the runtime environment's
//! `bin` first on PATH (so `python` is its Python), the row's artifact and
//! the cell's dependencies on PYTHONPATH, the cell's own folder in
//! `ABIMATRIX_CELL_DIR`, and nothing else from the host's Python setup. Its
//! exit status decides pass or fail, a signal decides crash.

use std::path::Path;
use std::time::Duration;

use std::path::PathBuf;

use super::{ProbeRun, child_env, could_not_start, search_path};
use crate::environment::NumpyEnv;
use crate::outcome;
use crate::process::Spec;

pub async fn run(
    command: &str,
    artifacts: &[PathBuf],
    env: &NumpyEnv,
    cwd: &Path,
    cell_dir: &Path,
    timeout: Duration,
) -> ProbeRun {
    let words = shlex::split(command).unwrap_or_default();
    let Some((program, args)) = words.split_first() else {
        return could_not_start(command.to_string(), &"empty test command");
    };
    // The environment's own bin/ first, as `activate` puts it.
    let joined = crate::build::project::path_with(&env.dir)
        .and_then(|path| search_path(artifacts).map(|python_path| (path, python_path)));
    let (path, python_path) = match joined {
        Ok(both) => both,
        Err(e) => return could_not_start(command.to_string(), &e),
    };
    let mut spec = Spec::new(program).env_clear().args(args);
    for (key, value) in child_env() {
        spec = spec.env(key, value);
    }
    let spec = spec
        .env("PATH", path)
        .env("VIRTUAL_ENV", &env.dir)
        .env("PYTHONPATH", &python_path)
        .env("PYTHONNOUSERSITE", "1")
        .env("PYTHONFAULTHANDLER", "1")
        .env("ABIMATRIX_CELL_DIR", cell_dir)
        .cwd(cwd)
        .timeout(timeout);
    let shown = format!(
        "cd {} && PATH={}/bin:$PATH PYTHONPATH={} {command}",
        crate::process::quote(&cwd.to_string_lossy()),
        env.dir.display(),
        python_path.to_string_lossy()
    );
    let finished = match spec.run().await {
        Ok(f) => f,
        Err(e) => return could_not_start(shown, &e),
    };
    let (stdout, stderr) = (finished.stdout.display(), finished.stderr.display());
    let mut run = ProbeRun {
        outcome: outcome::classify_command(finished.exit, &stdout, &stderr),
        stdout,
        stderr,
        duration: finished.duration,
        command: shown,
    };
    super::note_escaped(&mut run, &finished.escaped);
    run
}
