//! Running a cell again by hand, from a fresh shell (`matrix explain`).
//!
//! A cell ran in a folder of the run's own (its result file, a test
//! command's `bin/`), removed when the run ended, so the command it ran
//! cannot be pasted as it was. What the command needs is kept instead
//! ([`Rerun`], in the results), and `explain` writes it out again into a
//! folder it names and keeps: the probe and its driver, the result path, a
//! test command's `bin/`; the environments and the row come from the cache,
//! where the run left them.
//!
//! The `bin/` of a test command is also made here for the run itself: the
//! scripts that `test-requires` installed (pytest, ...) sit beside their
//! packages, outside the environment, with the installing interpreter in
//! their `#!` line; each gets a stand-in that runs it with the
//! environment's Python, so `pytest` on PATH is the environment's pytest,
//! as in an activated virtual environment (tox's and nox's habit).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{DRIVER, ProbeCode, search_path};
use crate::process::{Unjoinable, quote};

/// What a cell's command needs, to run it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Rerun {
    /// The probe (the results' `probe`), under `python` (the runtime
    /// environment's), importing `modules` from `artifacts`.
    Probe {
        python: PathBuf,
        artifacts: Vec<PathBuf>,
        modules: String,
    },
    /// The user's `test` command, in `cwd` (the config's folder), in the
    /// environment at `env` with the row and its dependencies.
    Test {
        command: String,
        cwd: PathBuf,
        env: PathBuf,
        python: PathBuf,
        artifacts: Vec<PathBuf>,
    },
}

/// Why a cell cannot be run again as it was.
#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("these results do not hold the probe's code (written by an older abimatrix)")]
    NoProbe,
    #[error(transparent)]
    Unjoinable(#[from] Unjoinable),
}

/// Makes `dir/bin` with a stand-in for every script in the `bin/` of
/// `artifacts` (the first of a name wins, as on PATH): a Python script runs
/// under `python`; anything else is linked as it is. Returns `dir/bin`.
pub fn scripts(dir: &Path, python: &Path, artifacts: &[PathBuf]) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    for artifact in artifacts {
        let Ok(entries) = std::fs::read_dir(artifact.join("bin")) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for script in entries {
            let Some(name) = script.file_name() else {
                continue;
            };
            let target = bin.join(name);
            if target.symlink_metadata().is_ok() || !script.is_file() {
                continue;
            }
            if is_python_script(&script) {
                let text = format!(
                    "#!/bin/sh\n# abimatrix: {} under the cell's Python\nexec {} {} \"$@\"\n",
                    script.display(),
                    quote(&python.to_string_lossy()),
                    quote(&script.to_string_lossy())
                );
                std::fs::write(&target, text)?;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))?;
            } else {
                std::os::unix::fs::symlink(&script, &target)?;
            }
        }
    }
    Ok(bin)
}

/// Whether `path` starts with a `#!` line naming a Python (installers write
/// `#!/path/python3`, or a `/bin/sh` line that execs one for long paths).
fn is_python_script(path: &Path) -> bool {
    use std::io::Read as _;
    let mut head = [0u8; 512];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let head = String::from_utf8_lossy(&head[..n]);
    head.starts_with("#!") && head.lines().take(3).any(|l| l.contains("python"))
}

/// PATH for a test command: the scripts' stand-ins, the environment's own
/// `bin/`, then the host's; refused, naming the folder, when one of ours
/// holds the ':' that separates PATH's entries.
pub fn test_path(scripts: &Path, env: &Path) -> Result<std::ffi::OsString, Unjoinable> {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = [scripts.to_path_buf(), env.join("bin")]
        .into_iter()
        .chain(std::env::split_paths(&rest))
        .collect();
    crate::process::search_list("PATH", &dirs)
}

/// The line a shell runs a test command with, as the run ran it.
pub fn test_line(
    command: &str,
    cwd: &Path,
    scripts: &Path,
    env: &Path,
    python_path: &std::ffi::OsStr,
    cell_dir: &Path,
) -> String {
    let q = |p: &Path| quote(&p.to_string_lossy());
    format!(
        "cd {} && PATH={}:{}:\"$PATH\" VIRTUAL_ENV={} PYTHONPATH={} PYTHONNOUSERSITE=1 ABIMATRIX_CELL_DIR={} {command}",
        q(cwd),
        q(scripts),
        q(&env.join("bin")),
        q(env),
        quote(&python_path.to_string_lossy()),
        q(cell_dir),
    )
}

impl Rerun {
    /// Writes what the command needs into `dir` (the probe and its driver,
    /// or a test command's `bin/`) and returns the command, to run from any
    /// folder; its result file (a probe's) is `dir/result.json`.
    pub fn prepare(&self, probe: Option<&ProbeCode>, dir: &Path) -> Result<String, RerunError> {
        let write = |path: PathBuf, text: &str| {
            std::fs::write(&path, text).map_err(|source| RerunError::Write { path, source })
        };
        std::fs::create_dir_all(dir).map_err(|source| RerunError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        match self {
            Rerun::Probe {
                python,
                artifacts,
                modules,
            } => {
                let probe = probe.ok_or(RerunError::NoProbe)?;
                let driver = dir.join("abimatrix_probe.py");
                let code = dir.join("probe_code.py");
                write(driver.clone(), DRIVER)?;
                write(code.clone(), &probe.code)?;
                let words: Vec<String> = [
                    python.to_string_lossy().into_owned(),
                    "-I".into(),
                    "-X".into(),
                    "faulthandler".into(),
                    driver.to_string_lossy().into_owned(),
                    modules.clone(),
                    code.to_string_lossy().into_owned(),
                    dir.join("result.json").to_string_lossy().into_owned(),
                    probe.name.clone(),
                    probe.first_line.to_string(),
                ]
                .into_iter()
                .chain(artifacts.iter().map(|a| a.to_string_lossy().into_owned()))
                .collect();
                let line: Vec<String> = words.iter().map(|w| quote(w)).collect();
                Ok(format!(
                    "cd {} && {}",
                    quote(&dir.to_string_lossy()),
                    line.join(" ")
                ))
            }
            Rerun::Test {
                command,
                cwd,
                env,
                python,
                artifacts,
            } => {
                let bin = scripts(dir, python, artifacts).map_err(|source| RerunError::Write {
                    path: dir.join("bin"),
                    source,
                })?;
                let python_path = search_path(artifacts)?;
                Ok(test_line(command, cwd, &bin, env, &python_path, dir))
            }
        }
    }

    /// The folders the command needs that are gone (the run used `--fresh`,
    /// or the cache was cleaned since).
    pub fn missing(&self) -> Vec<PathBuf> {
        let (python, artifacts) = match self {
            Rerun::Probe {
                python, artifacts, ..
            }
            | Rerun::Test {
                python, artifacts, ..
            } => (python, artifacts),
        };
        std::iter::once(python)
            .chain(artifacts)
            .filter(|p| !p.exists())
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn scripts_run_under_the_cells_python_and_the_first_of_a_name_wins() {
        let dir = tempfile::tempdir().unwrap();
        let layer = dir.path().join("layer");
        let row = dir.path().join("row");
        for d in [&layer, &row] {
            std::fs::create_dir_all(d.join("bin")).unwrap();
        }
        std::fs::write(
            layer.join("bin/pytest"),
            "#!/usr/bin/python3.11\nimport sys\n",
        )
        .unwrap();
        std::fs::write(layer.join("bin/tool"), "#!/bin/sh\necho layer\n").unwrap();
        std::fs::write(row.join("bin/tool"), "#!/bin/sh\necho row\n").unwrap();
        let cell = dir.path().join("cell");
        let bin = scripts(
            &cell,
            Path::new("/env/bin/python"),
            &[row.clone(), layer.clone()],
        )
        .unwrap();
        let pytest = std::fs::read_to_string(bin.join("pytest")).unwrap();
        assert!(
            pytest.ends_with(&format!(
                "exec /env/bin/python {} \"$@\"\n",
                layer.join("bin/pytest").display()
            )),
            "{pytest}"
        );
        let mode = std::fs::metadata(bin.join("pytest"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111);
        assert_eq!(
            std::fs::read_link(bin.join("tool")).unwrap(),
            row.join("bin/tool"),
            "the row comes first on the path"
        );
    }
}
