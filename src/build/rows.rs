//! Published code as rows: a wheel file or a requirement installed, with its
//! dependencies and without NumPy, into the row's artifact. The runtime
//! environment supplies exactly the column's NumPy, so nothing a package
//! pulls in can swap it. Whether a package's metadata allows a column's
//! NumPy is asked of the resolver, so a forbidden cell can be reported as
//! such rather than as a failure.

use std::path::Path;
use std::time::Instant;

use pep440_rs::Version;

use super::{Artifact, BuildError, step};
use crate::python::{InstallError, Installer, Interpreter, Uv};

/// uv, which rows and projects need.
pub(crate) fn uv_of(installer: &Installer) -> Result<&Uv, BuildError> {
    match installer {
        Installer::Uv { uv, .. } => Ok(uv),
        Installer::Pip => Err(BuildError::new(
            "building projects and installing wheel rows needs uv (the pip fallback does not do it)",
            "",
        )),
    }
}

fn telling(line: &str) -> bool {
    line.contains("error") || line.contains("Error") || line.contains("unsatisfiable")
}

/// Installs a wheel or requirement (with dependencies, without NumPy) into
/// `out`.
pub async fn install(
    installer: &Installer,
    interpreter: &Interpreter,
    arg: &str,
    out: &Path,
) -> Result<Artifact, BuildError> {
    let start = Instant::now();
    let uv = uv_of(installer)?;
    let mut log = String::new();
    install_into(uv, interpreter, arg, out, &mut log).await?;
    Ok(Artifact {
        dir: out.to_path_buf(),
        module_path: out.to_path_buf(),
        log,
        duration: start.elapsed(),
        reused: false,
    })
}

/// Resolves `arg` for the interpreter, then installs every pin but NumPy
/// into `out`.
pub(crate) async fn install_into(
    uv: &Uv,
    interpreter: &Interpreter,
    arg: &str,
    out: &Path,
    log: &mut String,
) -> Result<(), BuildError> {
    let scratch = tempfile::tempdir()
        .map_err(|e| BuildError::new(format!("cannot create a scratch directory: {e}"), log))?;
    let pins = step(
        uv.pip_compile(&interpreter.executable)
            .cwd(scratch.path())
            .stdin(format!("{arg}\n")),
        log,
        Some(&format!("resolving {arg}")),
        telling,
    )
    .await?;
    let keep: Vec<&str> = pins
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| !l.to_lowercase().starts_with("numpy=="))
        .collect();
    let list = scratch.path().join("pins.txt");
    std::fs::write(&list, keep.join("\n") + "\n")
        .map_err(|e| BuildError::new(format!("cannot write {}: {e}", list.display()), log))?;
    step(
        uv.pip_install(&interpreter.executable)
            .arg("--no-deps")
            .arg("--target")
            .arg(out)
            .arg("-r")
            .arg(&list)
            .cwd(scratch.path()),
        log,
        Some(&format!("installing {arg} without numpy")),
        telling,
    )
    .await?;
    Ok(())
}

/// Whether the metadata of `arg` (and its dependencies) forbids
/// `numpy==version`: the resolver's reason when it does, `None` when it
/// allows it. Without uv nothing is known to forbid it.
pub async fn forbids_numpy(
    installer: &Installer,
    interpreter: &Interpreter,
    arg: &str,
    version: &Version,
) -> Result<Option<String>, InstallError> {
    let Installer::Uv { uv, .. } = installer else {
        return Ok(None);
    };
    let scratch =
        tempfile::tempdir().map_err(|e| InstallError::io("creating a scratch directory", e))?;
    let f = uv
        .pip_compile(&interpreter.executable)
        .cwd(scratch.path())
        .stdin(format!("{arg}\nnumpy=={version}\n"))
        .run()
        .await?;
    if f.success() {
        return Ok(None);
    }
    let out = f.output();
    let why = out
        .lines()
        .map(str::trim)
        .find(|l| {
            l.starts_with("╰─▶") || l.contains("depends on numpy") || l.contains("requires numpy")
        })
        .or_else(|| out.lines().map(str::trim).find(|l| l.contains("numpy")))
        .unwrap_or("the resolver found no solution")
        .trim_start_matches("╰─▶")
        .trim()
        .to_string();
    Ok(Some(why))
}
