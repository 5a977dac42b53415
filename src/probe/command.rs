//! A user's `test = "..."` command, run once per cell instead of the probe:
//! in a process of its own (a command may start threads and subprocesses,
//! which a fork server's child must not), in the folder that holds
//! matrix.toml (as tox and nox run commands in their file's folder, so
//! `pytest tests/` means the user's tests), with the runtime environment's
//! `bin` first on PATH (so `python` is its Python) and, before it, the
//! scripts the row and `test-requires` installed (see [`super::rerun`]),
//! the row's artifact and
//! the cell's dependencies on PYTHONPATH, the cell's own folder in
//! `ABIMATRIX_CELL_DIR`, and nothing else from the host's Python setup. Its
//! exit status decides pass or fail, a signal decides crash.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::rerun::{Rerun, scripts, test_line, test_path};
use super::{ProbeRun, child_env, could_not_start_the, search_path};
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
        return could_not_start_the("test command", command.to_string(), &"empty test command");
    };
    // The scripts of the row and its dependencies (test-requires' pytest),
    // made to run under the environment's Python, then the environment's
    // own bin/, as an activated environment has them.
    let made = {
        let (cell_dir, python, artifacts) = (
            cell_dir.to_path_buf(),
            env.python.clone(),
            artifacts.to_vec(),
        );
        tokio::task::spawn_blocking(move || scripts(&cell_dir, &python, &artifacts)).await
    };
    let bin = match made {
        Ok(Ok(bin)) => bin,
        Ok(Err(e)) => return could_not_start_the("test command", command.to_string(), &e),
        Err(e) => return could_not_start_the("test command", command.to_string(), &e),
    };
    // A folder whose name holds ':' cannot go on PATH or PYTHONPATH: said,
    // naming it, rather than split by the child.
    let joined = test_path(&bin, &env.dir)
        .and_then(|path| search_path(artifacts).map(|python_path| (path, python_path)));
    let (path, python_path) = match joined {
        Ok(both) => both,
        Err(e) => return could_not_start_the("test command", command.to_string(), &e),
    };
    let shown = test_line(command, cwd, &bin, &env.dir, &python_path, cell_dir);
    // Looked up as the shell would, so a missing program is said in the
    // user's terms, not as an errno.
    if !program.contains('/') && which::which_in(program, Some(&path), cwd).is_err() {
        let mut run = could_not_start_the(
            "test command",
            shown,
            &format_args!(
                "{program} is not on PATH in the cell's environment: add the package that provides it to extension.test-requires (test-requires = [\"{program}\"]), or run it as `python -m {program}` (PATH: the scripts of the row and of test-requires, then {}, then the host's)",
                env.dir.join("bin").display()
            ),
        );
        run.rerun = Some(rerun(command, cwd, env, artifacts));
        return run;
    }
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
    let finished = match spec.run().await {
        Ok(f) => f,
        Err(e) => return could_not_start_the("test command", shown, &e),
    };
    let (stdout, stderr) = (finished.stdout.display(), finished.stderr.display());
    let mut run = ProbeRun {
        outcome: outcome::classify_command(finished.exit, &stdout, &stderr),
        stdout,
        stderr,
        duration: finished.duration,
        command: shown,
        rerun: Some(rerun(command, cwd, env, artifacts)),
    };
    super::note_escaped(&mut run, &finished.escaped);
    run
}

/// What `explain` needs to run the command again.
fn rerun(command: &str, cwd: &Path, env: &NumpyEnv, artifacts: &[PathBuf]) -> Rerun {
    Rerun::Test {
        command: command.to_string(),
        cwd: cwd.to_path_buf(),
        env: env.dir.clone(),
        python: env.python.clone(),
        artifacts: artifacts.to_vec(),
    }
}
