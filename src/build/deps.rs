//! What a cell needs besides its row: the row's own dependencies (with
//! `extras`) and the `test-requires`, resolved for the interpreter with the
//! column's NumPy pinned, and installed without NumPy into a layer that the
//! cell puts on `sys.path` after the row. Resolving with the pin matters:
//! a dependency that is itself compiled against NumPy (pandas under a
//! package that needs it) must be a release that allows the column's
//! NumPy, as pip would pick it for a user who has that NumPy.
//!
//! Layers are keyed by what they hold (the interpreter and the exact pins),
//! so columns whose resolution is the same share one; a row whose
//! dependency set differs per column costs one layer per distinct set.
//!
//! When the resolution fails only because of the pin, the package's own
//! metadata forbids that NumPy: the cell is `unavailable`, in the
//! resolver's words, unless `--ignore-requires` asks to run it anyway (the
//! pin then overrides every NumPy requirement).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use pep440_rs::Version;

use super::project::requirement_name;
use super::rows::{telling, uv_of};
use super::{Artifact, BuildError, BuildFailure, step};
use crate::python::{Installer, Interpreter};

/// A cell's dependencies, to resolve.
pub struct Request<'a> {
    pub installer: &'a Installer,
    pub interpreter: &'a Interpreter,
    /// Requirement lines: the row (a wheel path, a pinned requirement) with
    /// its extras, then the test requirements (`-r FILE` lines included).
    pub inputs: Vec<String>,
    /// The row's own distribution, installed already: left out.
    pub package: Option<String>,
    pub numpy: &'a Version,
    pub ignore_requires: bool,
}

/// What the resolver said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Resolution {
    /// These pins (without NumPy or the row itself); empty: nothing to add.
    Pins(Vec<String>),
    /// The package's metadata forbids the column's NumPy: why, in its words.
    Forbidden(String),
}

impl Request<'_> {
    /// Resolves the layer; a failure that is not the pin's is an error.
    pub async fn resolve(&self) -> Result<Resolution, BuildError> {
        let uv = uv_of(self.installer)?;
        let scratch = tempfile::tempdir()
            .map_err(|e| BuildFailure::io("cannot create a scratch directory", e))?;
        let input = scratch.path().join("requirements.in");
        let pin = scratch.path().join("numpy.txt");
        let write = |path: &Path, text: String| {
            std::fs::write(path, text)
                .map_err(|e| BuildFailure::io(format!("cannot write {}", path.display()), e))
        };
        write(&input, self.inputs.join("\n") + "\n")?;
        write(&pin, format!("numpy=={}\n", self.numpy))?;
        let compile = |pinned: &str| {
            uv.pip_compile(&self.interpreter.executable)
                .args(["--only-binary", ":all:"])
                .arg(&input)
                .arg(pinned)
                .arg(&pin)
                .cwd(scratch.path())
        };
        let mut log = String::new();
        let flag = if self.ignore_requires {
            "--override"
        } else {
            "--constraint"
        };
        let failed = match step(
            compile(flag),
            &mut log,
            Some("resolving the dependencies"),
            telling,
        )
        .await
        {
            Ok(pins) => return Ok(Resolution::Pins(self.keep(&pins))),
            Err(e) => e,
        };
        // Forbidden, or broken? The same resolution without the pin.
        let free = uv
            .pip_compile(&self.interpreter.executable)
            .args(["--only-binary", ":all:"])
            .arg(&input)
            .cwd(scratch.path())
            .run()
            .await;
        if !free.is_ok_and(|f| f.success()) {
            return Err(failed);
        }
        Ok(Resolution::Forbidden(why(&failed.log)))
    }

    /// The resolver's pins, minus NumPy (the environment's) and the row.
    fn keep(&self, pins: &str) -> Vec<String> {
        pins.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter(|l| {
                let name = requirement_name(l);
                name != "numpy" && Some(&name) != self.package.as_ref()
            })
            .map(str::to_string)
            .collect()
    }
}

/// The resolver's reason, from its output.
fn why(output: &str) -> String {
    output
        .lines()
        .map(str::trim)
        .find(|l| {
            l.starts_with("╰─▶") || l.contains("depends on numpy") || l.contains("requires numpy")
        })
        .or_else(|| {
            output
                .lines()
                .map(str::trim)
                .find(|l| l.contains("numpy") && !l.starts_with('$'))
        })
        .unwrap_or("the resolver found no solution")
        .trim_start_matches("╰─▶")
        .trim()
        .to_string()
}

/// Installs `pins` (exact, without dependencies) into `out`.
pub async fn install(
    installer: &Installer,
    interpreter: &Interpreter,
    pins: &[String],
    out: &Path,
) -> Result<Artifact, BuildError> {
    let start = Instant::now();
    let uv = uv_of(installer)?;
    let mut log = String::new();
    std::fs::create_dir_all(out)
        .map_err(|e| BuildFailure::io(format!("cannot create {}", out.display()), e))?;
    let list = out.join(".abimatrix-requirements.txt");
    std::fs::write(&list, pins.join("\n") + "\n")
        .map_err(|e| BuildFailure::io(format!("cannot write {}", list.display()), e))?;
    let _ = writeln!(
        log,
        "# {} package(s) beside the row, resolved with the column's numpy",
        pins.len()
    );
    step(
        uv.pip_install(&interpreter.executable)
            .args(["--no-deps", "--only-binary", ":all:", "--target"])
            .arg(out)
            .arg("-r")
            .arg(&list),
        &mut log,
        Some("installing the dependencies"),
        telling,
    )
    .await?;
    Ok(Artifact {
        dir: out.to_path_buf(),
        module_path: list,
        log,
        duration: start.elapsed(),
        reused: false,
        wheel: None,
        package: None,
        inputs: Default::default(),
        forced: None,
        staging: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resolvers_reason_is_kept_in_its_words() {
        let out = "$ uv pip compile ...\n  × No solution found when resolving dependencies:\n  ╰─▶ Because scipy==1.11.4 depends on numpy>=1.21.6,<1.28.0 and you require numpy==2.0.2, we can conclude that your requirements are unsatisfiable.\n";
        assert!(why(out).starts_with("Because scipy==1.11.4 depends on numpy>=1.21.6,<1.28.0"));
        assert_eq!(why("nothing useful"), "the resolver found no solution");
    }
}
