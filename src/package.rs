//! Python packages as rows: a project built into a wheel against one build
//! NumPy, and wheels or requirements installed into an artifact directory.
//!
//! An artifact holds the package and its dependencies *except NumPy*: the
//! runtime environment supplies exactly the column's NumPy, so nothing a
//! package pulls in can swap it. How a project's wheel is kept on the row's
//! NumPy: it is built without build isolation, in a fresh environment that
//! has `numpy==X` plus the project's `[build-system] requires` resolved under
//! the constraint `numpy==X` (a requirement that forbids X fails the row,
//! visibly), and after the build that environment is asked which NumPy it
//! has: anything but X fails the row.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use pep440_rs::Version;

use crate::build::{Artifact, BuildError};
use crate::process::Spec;
use crate::python::{Installer, Interpreter, venv_python};

fn fail(summary: impl Into<String>, log: &str) -> BuildError {
    BuildError {
        summary: summary.into(),
        log: log.to_string(),
    }
}

fn uv_of(installer: &Installer) -> Result<&Path, BuildError> {
    match installer {
        Installer::Uv { uv, .. } => Ok(uv),
        Installer::Pip => Err(fail(
            "building projects and installing wheel rows needs uv (the pip fallback does not do it)",
            "",
        )),
    }
}

fn uv(uv: &Path) -> Spec {
    Spec::new(uv)
        .env("UV_PYTHON_DOWNLOADS", "never")
        .env("UV_NO_PROGRESS", "1")
}

/// Runs `spec`, logging it; a non-zero exit is a `BuildError` whose summary
/// is the most telling line of the output.
async fn step(spec: Spec, log: &mut String, what: &str) -> Result<String, BuildError> {
    let _ = writeln!(log, "$ {}", spec.display());
    let f = spec
        .run()
        .await
        .map_err(|e| fail(format!("{what}: {e}"), log))?;
    let out = f.output();
    if !out.is_empty() {
        let _ = writeln!(log, "{out}");
    }
    if f.success() {
        return Ok(f.stdout.text);
    }
    let line = out
        .lines()
        .find(|l| l.contains("error") || l.contains("Error") || l.contains("unsatisfiable"))
        .or_else(|| out.lines().last())
        .unwrap_or("no output")
        .trim()
        .to_string();
    Err(fail(format!("{what}: {line}"), log))
}

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

/// Copies the sources to `to`. Every build gets its own copy: builds of one
/// tree against two NumPys at once would share (and reuse!) setuptools'
/// `build/` directory, and the user's tree stays untouched.
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

/// `[build-system] requires` of the project.
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

/// Builds `project` into a wheel against `numpy==version` and installs it
/// (with its dependencies, without NumPy) into `out`.
pub async fn build_project(
    installer: &Installer,
    interpreter: &Interpreter,
    project: &Path,
    version: &Version,
    out: PathBuf,
) -> Result<Artifact, BuildError> {
    let start = Instant::now();
    let uv_path = uv_of(installer)?;
    let mut log = String::new();
    let scratch = tempfile::tempdir()
        .map_err(|e| fail(format!("cannot create a scratch directory: {e}"), ""))?;
    let env = scratch.path().join("build-env");
    let constraint = scratch.path().join("numpy-constraint.txt");
    std::fs::write(&constraint, format!("numpy=={version}\n"))
        .map_err(|e| fail(e.to_string(), ""))?;
    let requires = build_requires(project)
        .map_err(|e| fail(format!("cannot read the build requirements: {e}"), ""))?;
    let tree = scratch.path().join("src");
    copy_sources(project, &tree)
        .map_err(|e| fail(format!("cannot copy {}: {e}", project.display()), ""))?;
    let _ = writeln!(
        log,
        "# building a copy of {} in {}",
        project.display(),
        tree.display()
    );

    step(
        uv(uv_path)
            .args(["venv", "--quiet", "--python"])
            .arg(&interpreter.executable)
            .arg(&env),
        &mut log,
        "creating the build environment",
    )
    .await?;
    let python = venv_python(&env);
    step(
        uv(uv_path)
            .args([
                "pip",
                "install",
                "--quiet",
                "--link-mode",
                "copy",
                "--python",
            ])
            .arg(&python)
            .arg("--constraint")
            .arg(&constraint)
            .arg(format!("numpy=={version}"))
            .args(&requires),
        &mut log,
        &format!("installing the build requirements with numpy {version}"),
    )
    .await?;
    let wheels = scratch.path().join("wheels");
    step(
        uv(uv_path)
            .args([
                "build",
                "--wheel",
                "--no-build-isolation",
                "--quiet",
                "--python",
            ])
            .arg(&python)
            .arg("--out-dir")
            .arg(&wheels)
            .arg(&tree),
        &mut log,
        "building the wheel",
    )
    .await?;
    // The guarantee, checked: the build saw exactly this NumPy.
    let seen = step(
        Spec::new(&python).args(["-I", "-c", "import numpy; print(numpy.__version__)"]),
        &mut log,
        "checking the build environment's numpy",
    )
    .await?;
    if seen.trim() != version.to_string() {
        return Err(fail(
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
        .ok_or_else(|| fail("the build produced no wheel", &log))?;
    install_into(
        uv_path,
        interpreter,
        &wheel.display().to_string(),
        &out,
        &mut log,
    )
    .await?;
    Ok(Artifact {
        module_path: out.clone(),
        dir: out,
        log,
        duration: start.elapsed(),
        reused: false,
    })
}

/// Installs a wheel or requirement (with dependencies, without NumPy) into
/// `out`.
pub async fn install_row(
    installer: &Installer,
    interpreter: &Interpreter,
    arg: &str,
    out: PathBuf,
) -> Result<Artifact, BuildError> {
    let start = Instant::now();
    let uv_path = uv_of(installer)?;
    let mut log = String::new();
    install_into(uv_path, interpreter, arg, &out, &mut log).await?;
    Ok(Artifact {
        module_path: out.clone(),
        dir: out,
        log,
        duration: start.elapsed(),
        reused: false,
    })
}

async fn install_into(
    uv_path: &Path,
    interpreter: &Interpreter,
    arg: &str,
    out: &Path,
    log: &mut String,
) -> Result<(), BuildError> {
    let scratch = tempfile::tempdir()
        .map_err(|e| fail(format!("cannot create a scratch directory: {e}"), log))?;
    // Resolve for this interpreter, then install every pin but NumPy.
    let pins = step(
        uv(uv_path)
            .args([
                "pip",
                "compile",
                "-",
                "--quiet",
                "--no-header",
                "--no-annotate",
                "--python",
            ])
            .arg(&interpreter.executable)
            .cwd(scratch.path())
            .stdin(format!("{arg}\n")),
        log,
        &format!("resolving {arg}"),
    )
    .await?;
    let keep: Vec<&str> = pins
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| !l.to_lowercase().starts_with("numpy=="))
        .collect();
    let list = scratch.path().join("pins.txt");
    std::fs::write(&list, keep.join("\n") + "\n").map_err(|e| fail(e.to_string(), log))?;
    step(
        uv(uv_path)
            .args([
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--link-mode",
                "copy",
                "--python",
            ])
            .arg(&interpreter.executable)
            .arg("--target")
            .arg(out)
            .arg("-r")
            .arg(&list)
            .cwd(scratch.path()),
        log,
        &format!("installing {arg} without numpy"),
    )
    .await?;
    Ok(())
}

/// Whether the metadata of `arg` (and its dependencies) allows
/// `numpy==version`; the resolver's reason when not.
pub async fn allows_numpy(
    installer: &Installer,
    interpreter: &Interpreter,
    arg: &str,
    version: &Version,
) -> Result<(), String> {
    let Installer::Uv { uv: uv_path, .. } = installer else {
        return Ok(());
    };
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let f = uv(uv_path)
        .args([
            "pip",
            "compile",
            "-",
            "--quiet",
            "--no-header",
            "--no-annotate",
            "--python",
        ])
        .arg(&interpreter.executable)
        .cwd(scratch.path())
        .stdin(format!("{arg}\nnumpy=={version}\n"))
        .run()
        .await
        .map_err(|e| e.to_string())?;
    if f.success() {
        return Ok(());
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
    Err(why)
}
