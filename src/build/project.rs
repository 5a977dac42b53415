//! A Python project (pyproject.toml) built into a wheel against one build
//! NumPy, as a PEP 517 frontend would, then installed without its
//! dependencies into the row's artifact (they come per column, with that
//! column's NumPy pinned: see `deps.rs`).
//!
//! How the wheel is kept on the row's NumPy: it is built without build
//! isolation, in a fresh environment that has `numpy==X` plus the project's
//! `[build-system] requires` and the requirements its backend adds at build
//! time (`get_requires_for_build_wheel`: ninja, cmake, setuptools-scm...),
//! all resolved under the constraint `numpy==X`; after the build that
//! environment is asked which NumPy it has, and anything but X fails the
//! row. A row whose own build requirements forbid X is not built at all: it
//! is `unavailable`, in the package's own words, unless `--ignore-requires`
//! asks to build it anyway (the row's pin then wins).
//!
//! Every step that can run a backend follows what it starts
//! (`Spec::track_descendants`): a build server the backend leaves running
//! in a session of its own is killed and named in the log when the step
//! ends or reaches its time limit, and one that holds the backend's output
//! after the backend has finished does not hold up the step.
//!
//! Every build runs on its own copy of the sources, kept in the entry
//! (`.abimatrix/src`): builds of one tree against two NumPys at once would
//! share (and reuse!) setuptools' `build/` directory, the user's tree stays
//! untouched, and the commands in the log can be re-run by hand as printed
//! (the build environment is removed after the build; the first commands
//! of the log make it again).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use pep440_rs::Version;

use super::rows::{telling, uv_of};
use super::{Artifact, BuildError, BuildFailure, BuildSystemError, step};
use crate::process::Spec;
use crate::python::{Installer, Interpreter, Uv, venv_python};

const BUILD_REQUIRES: &str = include_str!("build_requires.py");

/// A project's `[build-system]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSystem {
    pub requires: Vec<String>,
    pub backend: String,
    pub backend_path: Vec<String>,
}

impl BuildSystem {
    /// Reads it from `project`'s pyproject.toml, with PEP 517's defaults.
    pub fn read(project: &Path) -> Result<BuildSystem, BuildSystemError> {
        let path = project.join("pyproject.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| BuildSystemError::Read {
            path: path.clone(),
            source: std::sync::Arc::new(e),
        })?;
        let doc: toml::Table = toml::from_str(&text).map_err(|e| BuildSystemError::Toml {
            path: path.clone(),
            message: e.message().to_string(),
        })?;
        let table = doc.get("build-system");
        let strings = |key: &str| -> Option<Vec<String>> {
            table?.get(key)?.as_array().map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
        };
        Ok(BuildSystem {
            requires: strings("requires").unwrap_or_else(|| vec!["setuptools>=40.8.0".to_string()]),
            backend: table
                .and_then(|t| t.get("build-backend"))
                .and_then(|b| b.as_str())
                .unwrap_or("setuptools.build_meta:__legacy__")
                .to_string(),
            backend_path: strings("backend-path").unwrap_or_default(),
        })
    }
}

/// The distribution a requirement names, normalized (PEP 503).
pub fn requirement_name(requirement: &str) -> String {
    let end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(requirement.len());
    crate::python::index::normalize(&requirement[..end])
}

/// The guarantee, checked after the build: its environment holds exactly
/// `version` of NumPy.
async fn check_numpy(python: &Path, version: &Version, log: &mut String) -> Result<(), BuildError> {
    let seen = step(
        Spec::new(python).args(["-I", "-c", "import numpy; print(numpy.__version__)"]),
        log,
        Some("checking the build environment's numpy"),
        telling,
    )
    .await?;
    if seen.trim() != version.to_string() {
        let failure = BuildFailure::NumpyDiffers {
            found: seen.trim().to_string(),
            wanted: version.to_string(),
        };
        return Err(BuildError::new(failure, log));
    }
    let _ = writeln!(
        log,
        "built against numpy {version} (checked after the build)"
    );
    Ok(())
}

/// The wheel the build wrote into `wheels`.
fn built_wheel(wheels: &Path, log: &str) -> Result<PathBuf, BuildError> {
    std::fs::read_dir(wheels)
        .ok()
        .and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "whl"))
        })
        .ok_or_else(|| BuildError::new(BuildFailure::NoWheel, log))
}

/// The distribution a wheel file holds (PEP 427: name, then version).
pub fn wheel_name(wheel: &Path) -> String {
    let file = wheel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    requirement_name(file.split('-').next().unwrap_or_default())
}

/// The requirements that say which NumPy a build may use.
fn names_numpy(requirement: &str) -> bool {
    matches!(
        requirement_name(requirement).as_str(),
        "numpy" | "oldest-supported-numpy"
    )
}

/// The project's source files, relative to it, in a stable order: what is
/// copied for each build and hashed into its key. In a git checkout, as a
/// fresh clone would have it (`.gitignore` honoured: no virtual
/// environment, no in-place build products); elsewhere (an unpacked sdist,
/// whose generated C files its own `.gitignore` may list) every file. Never
/// the outputs of earlier builds or VCS data.
fn source_files(project: &Path) -> Vec<PathBuf> {
    let walker = ignore::WalkBuilder::new(project)
        .hidden(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(true)
        .parents(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            !(matches!(
                name.as_ref(),
                "build" | "dist" | ".git" | "__pycache__" | "target"
            ) || name.ends_with(".egg-info")
                || name.starts_with(".mesonpy"))
        })
        .build();
    walker
        .flatten()
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .map(|e| {
            e.path()
                .strip_prefix(project)
                .unwrap_or(e.path())
                .to_path_buf()
        })
        .collect()
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

/// What one project build needs.
pub struct ProjectBuild<'a> {
    pub installer: &'a Installer,
    pub interpreter: &'a Interpreter,
    pub project: &'a Path,
    pub numpy: &'a Version,
    /// Build even when the project's build requirements forbid `numpy`.
    pub ignore_requires: bool,
    /// The limit on each step that runs the backend (`[run] build-timeout`).
    pub limit: std::time::Duration,
}

impl ProjectBuild<'_> {
    /// Builds the project into a wheel against `numpy==X` and installs it
    /// (without dependencies) into `out`.
    pub async fn build(&self, out: &Path) -> Result<Artifact, BuildError> {
        let start = Instant::now();
        let uv = uv_of(self.installer)?;
        let version = self.numpy;
        let mut log = String::new();
        let io = |what: String, e| BuildError::from(BuildFailure::io(what, e));
        let system = BuildSystem::read(self.project).map_err(BuildFailure::from)?;
        let work = out.join(".abimatrix");
        let tree = work.join("src");
        // A walk and a copy of every source file: off the runtime.
        let (project, into) = (self.project.to_path_buf(), tree.clone());
        crate::blocking::run(move || copy_sources(&project, &into))
            .await
            .map_err(|e| io(format!("cannot copy {}", self.project.display()), e))?;
        let _ = writeln!(
            log,
            "# building a copy of {} in {}",
            self.project.display(),
            tree.display()
        );
        let constraint = work.join("numpy-constraint.txt");
        std::fs::write(&constraint, format!("numpy=={version}\n"))
            .map_err(|e| io(format!("cannot write {}", constraint.display()), e))?;
        let env = work.join("build-env");
        step(
            uv.venv(&self.interpreter.executable, &env),
            &mut log,
            Some("creating the build environment"),
            telling,
        )
        .await?;
        let python = venv_python(&env);
        let forced = self
            .install_requires(uv, &python, &system, &constraint, &work, &mut log)
            .await?;
        let dynamic = self
            .dynamic_requires(&python, &system, &tree, &env, &mut log)
            .await?;
        if !dynamic.is_empty() {
            step(
                uv.pip_install(&python)
                    .arg("--constraint")
                    .arg(&constraint)
                    .args(&dynamic)
                    .track_descendants(),
                &mut log,
                Some("installing the requirements the backend asked for"),
                telling,
            )
            .await?;
        }
        let wheels = work.join("wheels");
        let path = path_with(&env).map_err(|e| BuildError::new(e.into(), &log))?;
        step(
            uv.build_wheel(&python, &tree, &wheels)
                .track_descendants()
                .timeout(self.limit)
                .env("PATH", path)
                .env("VIRTUAL_ENV", &env),
            &mut log,
            Some("building the wheel"),
            backend_error,
        )
        .await?;
        check_numpy(&python, version, &mut log).await?;
        let wheel = built_wheel(&wheels, &log)?;
        step(
            uv.pip_install(&self.interpreter.executable)
                .arg("--no-deps")
                .arg("--target")
                .arg(out)
                .arg(&wheel),
            &mut log,
            Some("installing the wheel"),
            telling,
        )
        .await?;
        // The environment is large and the log's first commands make it
        // again; the sources and the wheel stay.
        let gone = env.clone();
        let _ = crate::blocking::run(move || std::fs::remove_dir_all(gone)).await;
        let _ = writeln!(
            log,
            "# removed {} after the build (the commands above make it again)",
            env.display()
        );
        let package = wheel_name(&wheel);
        Ok(Artifact {
            dir: out.to_path_buf(),
            module_path: out.to_path_buf(),
            log,
            duration: start.elapsed(),
            reused: false,
            wheel: Some(wheel),
            package: Some(package),
            inputs: Default::default(),
            forced,
            staging: None,
        })
    }

    /// `[build-system] requires` with `numpy==X`, under the constraint.
    /// When the project's own requirements forbid X, say so in its words;
    /// with `--ignore-requires`, drop the requirements that name NumPy and
    /// return why the build is forced (`None`: the requirements allow X).
    async fn install_requires(
        &self,
        uv: &Uv,
        python: &Path,
        system: &BuildSystem,
        constraint: &Path,
        work: &Path,
        log: &mut String,
    ) -> Result<Option<String>, BuildError> {
        let version = self.numpy;
        let what = format!("installing the build requirements with numpy {version}");
        let install = |requires: &[String]| {
            uv.pip_install(python)
                .arg("--constraint")
                .arg(constraint)
                .arg(format!("numpy=={version}"))
                .args(requires)
                .track_descendants()
        };
        let Err(failed) = step(install(&system.requires), log, Some(&what), telling).await else {
            return Ok(None);
        };
        // Forbidden, or broken? Resolve the requirements without the pin.
        let listed = work.join("build-requires.txt");
        std::fs::write(&listed, system.requires.join("\n") + "\n").map_err(|e| {
            let what = format!("cannot write {}", listed.display());
            BuildError::new(BuildFailure::io(what, e), log)
        })?;
        let free = uv.pip_compile(python).arg(&listed).run().await;
        if !free.is_ok_and(|f| f.success()) {
            return Err(failed);
        }
        let pins: Vec<&str> = system
            .requires
            .iter()
            .map(String::as_str)
            .filter(|r| names_numpy(r))
            .collect();
        let reason = format!(
            "build requirements forbid numpy {version}: {}",
            pins.join(", ")
        );
        if !self.ignore_requires {
            let _ = writeln!(log, "# {reason}; --ignore-requires builds it anyway");
            return Err(BuildError::new(BuildFailure::Forbidden { reason }, log));
        }
        let _ = writeln!(
            log,
            "# {reason}; --ignore-requires: building with numpy {version} anyway, without them"
        );
        let kept: Vec<String> = system
            .requires
            .iter()
            .filter(|r| !names_numpy(r))
            .cloned()
            .collect();
        step(install(&kept), log, Some(&what), telling).await?;
        Ok(Some(reason))
    }

    /// What the backend adds at build time (PEP 517), asked of it in the
    /// build environment from the source tree.
    async fn dynamic_requires(
        &self,
        python: &Path,
        system: &BuildSystem,
        tree: &Path,
        env: &Path,
        log: &mut String,
    ) -> Result<Vec<String>, BuildError> {
        let script = tree.join("..").join("build_requires.py");
        let result = tree.join("..").join("build-requires.json");
        std::fs::write(&script, BUILD_REQUIRES).map_err(|e| {
            let what = format!("cannot write {}", script.display());
            BuildError::new(BuildFailure::io(what, e), log)
        })?;
        let path = path_with(env).map_err(|e| BuildError::new(e.into(), log))?;
        step(
            Spec::new(python)
                .track_descendants()
                .arg(&script)
                .arg(&result)
                .arg(&system.backend)
                .args(&system.backend_path)
                .cwd(tree)
                .timeout(self.limit)
                .env("PATH", path)
                .env("VIRTUAL_ENV", env),
            log,
            Some(&format!(
                "asking {} for its build requirements",
                system.backend
            )),
            backend_error,
        )
        .await?;
        let requires: Vec<String> = std::fs::read_to_string(&result)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| {
                let backend = system.backend.clone();
                BuildError::new(BuildFailure::NoRequirements { backend }, log)
            })?;
        let _ = writeln!(
            log,
            "# {} asks for: {}",
            system.backend,
            if requires.is_empty() {
                "nothing more".to_string()
            } else {
                requires.join(", ")
            }
        );
        Ok(requires)
    }
}

/// A backend's line worth showing: a compiler's or a Python error.
fn backend_error(line: &str) -> bool {
    telling(line) && !line.trim_start().starts_with('$')
}

/// `PATH` with the environment's bin first: backends run tools (meson,
/// ninja, cmake, cython) installed there, as an isolated build would.
pub(crate) fn path_with(env: &Path) -> Result<std::ffi::OsString, crate::process::Unjoinable> {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::iter::once(env.join("bin"))
        .chain(std::env::split_paths(&rest))
        .collect();
    crate::process::search_list("PATH", &dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_build_systems_as_pep_517_says() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[build-system]\nrequires = [\"meson-python\", \"numpy>=2.0.0rc1\"]\nbuild-backend = \"mesonpy\"\nbackend-path = [\".\"]\n",
        )
        .unwrap();
        let b = BuildSystem::read(dir.path()).unwrap();
        assert_eq!(b.requires, ["meson-python", "numpy>=2.0.0rc1"]);
        assert_eq!(
            (b.backend.as_str(), b.backend_path.as_slice()),
            ("mesonpy", &[".".to_string()][..])
        );
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[project]\nname = \"x\"\n",
        )
        .unwrap();
        let b = BuildSystem::read(dir.path()).unwrap();
        assert_eq!(b.backend, "setuptools.build_meta:__legacy__");
        assert_eq!(b.requires, ["setuptools>=40.8.0"]);
        assert!(BuildSystem::read(&dir.path().join("none")).is_err());
    }

    #[test]
    fn the_source_tree_is_what_git_would_list() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for f in [
            "pyproject.toml",
            "src/a.c",
            "notes.log",
            "build/lib/x.so",
            ".gitignore",
        ] {
            std::fs::create_dir_all(p.join(f).parent().unwrap()).unwrap();
            std::fs::write(p.join(f), f).unwrap();
        }
        std::fs::write(p.join(".gitignore"), "*.log\n").unwrap();
        // An sdist: its .gitignore may list files it ships (generated C).
        let files: Vec<String> = source_files(p)
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        assert_eq!(
            files,
            [".gitignore", "notes.log", "pyproject.toml", "src/a.c"]
        );
        // A checkout: as a fresh clone would have it.
        std::fs::create_dir_all(p.join(".git")).unwrap();
        let files: Vec<String> = source_files(p)
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        assert_eq!(files, [".gitignore", "pyproject.toml", "src/a.c"]);
        let before = source_hash(p);
        std::fs::write(p.join("notes.log"), "ignored").unwrap();
        assert_eq!(source_hash(p), before, "an ignored file is not a source");
        std::fs::write(p.join("src/a.c"), "changed").unwrap();
        assert_ne!(source_hash(p), before);
    }

    #[test]
    fn requirements_naming_numpy_are_found() {
        for r in [
            "numpy>=2.0.0rc1",
            "numpy ~= 2.0",
            "NumPy",
            "oldest-supported-numpy",
            "numpy>=2.1; python_version>='3.13'",
        ] {
            assert!(names_numpy(r), "{r}");
        }
        for r in ["numpyro", "scipy", "meson-python", "pybind11[global]"] {
            assert!(!names_numpy(r), "{r}");
        }
        assert_eq!(requirement_name("Fast_Histogram>=0.14"), "fast-histogram");
        assert_eq!(
            wheel_name(Path::new("/w/Fast_Histogram-0.14-cp39-abi3-manylinux.whl")),
            "fast-histogram"
        );
    }
}
