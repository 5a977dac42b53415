//! Every uv command the program runs, built in one place, so the arguments
//! that matter everywhere (never download a Python, no progress bars, copy
//! files rather than link them from uv's cache) cannot be forgotten in one.

use std::path::{Path, PathBuf};

use super::index::Indexes;
use crate::cache::Bucket;
use crate::process::Spec;

/// How long one uv command may take: generous for a slow download of a
/// large wheel, and still a bound (a hung index never hangs a run).
pub const UV_LIMIT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// A uv binary that runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uv {
    pub path: PathBuf,
    /// `--offline`: every command is told so (UV_OFFLINE), and installs
    /// only from uv's own cache.
    pub offline: bool,
    /// The config's indexes, for every install, resolution and build.
    pub indexes: Indexes,
}

impl Uv {
    pub fn new(path: PathBuf) -> Uv {
        Uv {
            path,
            offline: false,
            indexes: Indexes::default(),
        }
    }

    /// uv from PATH, else the one abimatrix installed into the cache at
    /// `root`; not yet checked to run.
    pub fn locate(root: &Path) -> Option<Uv> {
        which::which("uv")
            .ok()
            .or_else(|| {
                let cached = Uv::cached_path(root);
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
        let spec = Spec::new(&self.path)
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env("UV_NO_PROGRESS", "1")
            .timeout(UV_LIMIT);
        let spec = if self.offline {
            spec.env("UV_OFFLINE", "1")
        } else {
            spec
        };
        self.indexes.apply(spec).args(args)
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
        self.pip_install_placed(python, &["--link-mode", "copy"])
    }

    /// `uv pip install` with the files placed as `placement` says (its
    /// `--link-mode`, and `--no-cache`), for a caller that handles what
    /// hard links would share.
    pub fn pip_install_placed(&self, python: &Path, placement: &[&str]) -> Spec {
        self.command(["pip", "install", "--quiet"])
            .args(placement)
            .arg("--python")
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

    /// `uv build --wheel --no-build-isolation` of `tree` with `python`; not
    /// quiet: the backend's own output is what explains a failed build.
    pub fn build_wheel(&self, python: &Path, tree: &Path, out: &Path) -> Spec {
        self.command(["build", "--wheel", "--no-build-isolation", "--python"])
            .arg(python)
            .arg("--out-dir")
            .arg(out)
            .arg(tree)
    }

    /// The folder where uv keeps the Pythons it installed (`uv python
    /// dir`): scanned rather than `uv python list`, which runs every
    /// interpreter on PATH to list it (a hanging one would hang it).
    pub fn python_dir(&self) -> Spec {
        self.command(["python", "dir"])
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
            uv.python_dir(),
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

    #[test]
    fn every_command_is_pointed_at_its_own_indexes() {
        // Two values, one process: each uv is told only its own indexes
        // (a process-wide setting would give both the first one's).
        let mirror = Uv {
            indexes: Indexes {
                url: Some("https://mirror/simple".into()),
                extra: Vec::new(),
            },
            ..Uv::new(PathBuf::from("/opt/uv"))
        };
        let plain = Uv::new(PathBuf::from("/opt/uv"));
        for (mirrored, bare) in [
            (
                mirror.pip_install(Path::new("/py")),
                plain.pip_install(Path::new("/py")),
            ),
            (
                mirror.pip_compile(Path::new("/py")),
                plain.pip_compile(Path::new("/py")),
            ),
            (
                mirror.build_wheel(Path::new("/py"), Path::new("/t"), Path::new("/o")),
                plain.build_wheel(Path::new("/py"), Path::new("/t"), Path::new("/o")),
            ),
        ] {
            assert_eq!(
                mirrored.env_value("UV_INDEX_URL").as_deref(),
                Some("https://mirror/simple")
            );
            assert_eq!(bare.env_value("UV_INDEX_URL"), None);
        }
    }
}
