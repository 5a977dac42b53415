//! A Python project (pyproject.toml) built into a wheel against one build
//! NumPy, then installed with its dependencies, without NumPy, into the
//! row's artifact.
//!
//! How the wheel is kept on the row's NumPy: it is built without build
//! isolation, in a fresh environment that has `numpy==X` plus the project's
//! `[build-system] requires` resolved under the constraint `numpy==X` (a
//! requirement that forbids X fails the row, visibly), and after the build
//! that environment is asked which NumPy it has: anything but X fails the
//! row. Every build runs on its own copy of the sources: builds of one tree
//! against two NumPys at once would share (and reuse!) setuptools' `build/`
//! directory, and the user's tree stays untouched.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use pep440_rs::Version;

use super::rows::{install_into, uv_of};
use super::{Artifact, BuildError, step};
use crate::process::Spec;
use crate::python::{Installer, Interpreter, venv_python};

/// The project's source files, relative to it, in a stable order: build
/// outputs, VCS data and bytecode left out.
fn source_files(project: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let skip = matches!(
                name.as_str(),
                "build" | "dist" | ".git" | "__pycache__" | "target"
            ) || name.ends_with(".egg-info")
                || name.starts_with(".mesonpy");
            if skip {
                continue;
            }
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(&path, root, out),
                Ok(t) if t.is_file() => {
                    out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf())
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(project, project, &mut out);
    out
}

/// A hash of the project's sources.
pub fn source_hash(project: &Path) -> String {
    let mut parts = Vec::new();
    for rel in source_files(project) {
        parts.push(rel.to_string_lossy().into_owned().into_bytes());
        parts.push(std::fs::read(project.join(&rel)).unwrap_or_default());
    }
    crate::cache::digest(parts)
}

fn copy_sources(project: &Path, to: &Path) -> std::io::Result<()> {
    for rel in source_files(project) {
        let dest = to.join(&rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(project.join(&rel), dest)?;
    }
    Ok(())
}

/// `[build-system] requires` of the project (PEP 518's default when absent).
fn build_requires(project: &Path) -> Result<Vec<String>, String> {
    let text =
        std::fs::read_to_string(project.join("pyproject.toml")).map_err(|e| e.to_string())?;
    let doc: toml::Table =
        toml::from_str(&text).map_err(|e| format!("pyproject.toml: {}", e.message()))?;
    Ok(doc
        .get("build-system")
        .and_then(|b| b.get("requires"))
        .and_then(|r| r.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_else(|| vec!["setuptools>=40.8.0".to_string()]))
}

/// An installer's or backend's line worth showing in a summary.
fn telling(line: &str) -> bool {
    line.contains("error") || line.contains("Error") || line.contains("unsatisfiable")
}

/// Builds `project` into a wheel against `numpy==version` and installs it
/// (with its dependencies, without NumPy) into `out`.
pub async fn build(
    installer: &Installer,
    interpreter: &Interpreter,
    project: &Path,
    version: &Version,
    out: &Path,
) -> Result<Artifact, BuildError> {
    let start = Instant::now();
    let uv = uv_of(installer)?;
    let mut log = String::new();
    let scratch = tempfile::tempdir()
        .map_err(|e| BuildError::new(format!("cannot create a scratch directory: {e}"), ""))?;
    let env = scratch.path().join("build-env");
    let constraint = scratch.path().join("numpy-constraint.txt");
    std::fs::write(&constraint, format!("numpy=={version}\n"))
        .map_err(|e| BuildError::new(format!("cannot write {}: {e}", constraint.display()), ""))?;
    let requires = build_requires(project)
        .map_err(|e| BuildError::new(format!("cannot read the build requirements: {e}"), ""))?;
    let tree = scratch.path().join("src");
    copy_sources(project, &tree)
        .map_err(|e| BuildError::new(format!("cannot copy {}: {e}", project.display()), ""))?;
    let _ = writeln!(
        log,
        "# building a copy of {} in {}",
        project.display(),
        tree.display()
    );

    step(
        uv.venv(&interpreter.executable, &env),
        &mut log,
        Some("creating the build environment"),
        telling,
    )
    .await?;
    let python = venv_python(&env);
    step(
        uv.pip_install(&python)
            .arg("--constraint")
            .arg(&constraint)
            .arg(format!("numpy=={version}"))
            .args(&requires),
        &mut log,
        Some(&format!(
            "installing the build requirements with numpy {version}"
        )),
        telling,
    )
    .await?;
    let wheels = scratch.path().join("wheels");
    step(
        uv.build_wheel(&python, &tree, &wheels),
        &mut log,
        Some("building the wheel"),
        telling,
    )
    .await?;
    // The guarantee, checked: the build saw exactly this NumPy.
    let seen = step(
        Spec::new(&python).args(["-I", "-c", "import numpy; print(numpy.__version__)"]),
        &mut log,
        Some("checking the build environment's numpy"),
        telling,
    )
    .await?;
    if seen.trim() != version.to_string() {
        return Err(BuildError::new(
            format!(
                "the build environment ended with numpy {} instead of {version}",
                seen.trim()
            ),
            &log,
        ));
    }
    let _ = writeln!(
        log,
        "built against numpy {version} (checked after the build)"
    );
    let wheel = std::fs::read_dir(&wheels)
        .ok()
        .and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "whl"))
        })
        .ok_or_else(|| BuildError::new("the build produced no wheel", &log))?;
    install_into(uv, interpreter, &wheel.display().to_string(), out, &mut log).await?;
    Ok(Artifact {
        dir: out.to_path_buf(),
        module_path: out.to_path_buf(),
        log,
        duration: start.elapsed(),
        reused: false,
    })
}
