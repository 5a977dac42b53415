//! Published code as rows: a wheel file or a requirement installed, without
//! its dependencies, into the row's artifact. Its dependencies come per
//! column, resolved with that column's NumPy pinned (`deps.rs`), and the
//! runtime environment supplies exactly the column's NumPy, so nothing a
//! package pulls in can swap it.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use super::{Artifact, BuildError, BuildFailure, step};
use crate::extension::PackageRow;
use crate::python::{Installer, Interpreter, Tool, Uv};

/// uv, which rows, projects and per-column dependencies need.
pub(crate) fn uv_of(installer: &Installer) -> Result<&Uv, BuildError> {
    match &installer.tool {
        Tool::Uv { uv, .. } => Ok(uv),
        Tool::Pip => Err(BuildFailure::NeedsUv.into()),
        Tool::Unusable(why) => Err(BuildFailure::Install(why.clone()).into()),
    }
}

pub(crate) fn telling(line: &str) -> bool {
    line.contains("error") || line.contains("Error") || line.contains("unsatisfiable")
}

/// What the installer is given for `row`: the wheel, or the requirement
/// pinned to the version the row was resolved to (so the row is what its
/// label says).
pub fn install_arg(row: &PackageRow, extras: &[String]) -> String {
    match (&row.source, &row.version) {
        (crate::extension::RowSource::Requirement(_), Some(v)) => {
            let extras = if extras.is_empty() {
                String::new()
            } else {
                format!("[{}]", extras.join(","))
            };
            format!("{}{extras}=={v}", row.name)
        }
        (source, _) => source.install_arg(extras),
    }
}

/// Installs the row itself, without dependencies, into `out`.
pub async fn install(
    installer: &Installer,
    interpreter: &Interpreter,
    row: &PackageRow,
    out: &Path,
) -> Result<Artifact, BuildError> {
    let start = Instant::now();
    let uv = uv_of(installer)?;
    let mut log = String::new();
    let arg = install_arg(row, &[]);
    let _ = writeln!(
        log,
        "# {row}: the package alone; its dependencies come per column"
    );
    step(
        uv.pip_install(&interpreter.executable)
            .args(["--no-deps", "--only-binary", ":all:", "--target"])
            .arg(out)
            .arg(&arg),
        &mut log,
        Some(&format!("installing {arg}")),
        telling,
    )
    .await?;
    Ok(Artifact {
        dir: out.to_path_buf(),
        module_path: out.to_path_buf(),
        log,
        duration: start.elapsed(),
        reused: false,
        wheel: None,
        package: Some(super::project::requirement_name(&row.name)),
        inputs: Default::default(),
        forced: None,
        staging: None,
    })
}
