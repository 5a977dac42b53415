//! Every uv command the program runs, built in one place, so the arguments
//! that matter everywhere (never download a Python, no progress bars, copy
//! files rather than link them from uv's cache) cannot be forgotten in one.

use std::path::{Path, PathBuf};

use crate::cache::{self, Bucket};
use crate::process::Spec;

/// A uv binary that runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uv {
    pub path: PathBuf,
}

impl Uv {
    pub fn new(path: PathBuf) -> Uv {
        Uv { path }
    }

    /// uv from PATH, else the one abimatrix installed into its cache; not
    /// yet checked to run.
    pub fn locate() -> Option<Uv> {
        which::which("uv")
            .ok()
            .or_else(|| {
                let cached = Uv::cached_path(&cache::root());
                cached.exists().then_some(cached)
            })
            .map(Uv::new)
    }

    /// Where abimatrix keeps the uv it installs for itself.
    pub fn cached_path(cache_root: &Path) -> PathBuf {
        Bucket::Tools
            .dir(cache_root)
            .join("uv")
            .join("bin")
            .join("uv")
    }

    /// `uv ARGS...`: uv must never fetch a Python of its own (the
    /// interpreter is the user's) nor draw progress into our logs.
    pub fn command<I, S>(&self, args: I) -> Spec
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Spec::new(&self.path)
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env("UV_NO_PROGRESS", "1")
            .args(args)
    }

    pub fn version(&self) -> Spec {
        self.command(["--version"])
    }

    /// `uv venv` for `python` at `dir`.
    pub fn venv(&self, python: &Path, dir: &Path) -> Spec {
        self.command(["venv", "--quiet", "--python"])
            .arg(python)
            .arg(dir)
    }

    /// `uv pip install` into the environment of `python`. uv hard-links
    /// files from its own cache by default: a probe that writes into
    /// site-packages (or a damaged environment) would then corrupt every
    /// later environment made from that cache. Copies keep each its own.
    pub fn pip_install(&self, python: &Path) -> Spec {
        self.command([
            "pip",
            "install",
            "--quiet",
            "--link-mode",
            "copy",
            "--python",
        ])
        .arg(python)
    }

    /// `uv pip compile -` for exactly `python`'s tags; requirements on stdin.
    pub fn pip_compile(&self, python: &Path) -> Spec {
        self.command([
            "pip",
            "compile",
            "-",
            "--quiet",
            "--no-header",
            "--no-annotate",
            "--python",
        ])
        .arg(python)
    }

    /// `uv build --wheel --no-build-isolation` of `tree` with `python`.
    pub fn build_wheel(&self, python: &Path, tree: &Path, out: &Path) -> Spec {
        self.command([
            "build",
            "--wheel",
            "--no-build-isolation",
            "--quiet",
            "--python",
        ])
        .arg(python)
        .arg("--out-dir")
        .arg(out)
        .arg(tree)
    }

    /// `uv python list --only-installed` as JSON.
    pub fn python_list(&self) -> Spec {
        self.command([
            "python",
            "list",
            "--only-installed",
            "--output-format",
            "json",
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_forbids_python_downloads() {
        let uv = Uv::new(PathBuf::from("/opt/uv"));
        for spec in [
            uv.version(),
            uv.venv(Path::new("/py"), Path::new("/env")),
            uv.pip_install(Path::new("/py")),
            uv.pip_compile(Path::new("/py")),
            uv.build_wheel(Path::new("/py"), Path::new("/t"), Path::new("/o")),
            uv.python_list(),
        ] {
            assert!(spec.display().starts_with("/opt/uv "), "{}", spec.display());
            assert_eq!(
                spec.env_value("UV_PYTHON_DOWNLOADS").as_deref(),
                Some("never")
            );
        }
        assert_eq!(
            uv.pip_install(Path::new("/py")).display(),
            "/opt/uv pip install --quiet --link-mode copy --python /py"
        );
    }
}
