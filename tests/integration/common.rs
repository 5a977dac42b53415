//! Fixtures shared by the integration tests: a temporary project directory
//! with a matrix.toml, the real `matrix` binary run on it, and its results.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The sample extension's own files, so variants start from the real thing.
pub const SAMPLE_C: &str = include_str!("../../src/sample/my_extension.c");
pub const SAMPLE_PROBE: &str = include_str!("../../src/sample/probe.py");

pub struct Project {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub output: Output,
    pub results: Option<Value>,
    /// Where this run's `--json` went (unique per run, so tests sharing a
    /// project can run at once).
    pub json: PathBuf,
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A project that lives as long as the test process, in a `static`
    /// ([`crate::tools::process_dir`]).
    pub fn for_the_process() -> Project {
        Project {
            dir: crate::tools::process_dir(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, contents: &str) -> &Project {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, contents).expect("write fixture");
        self
    }

    /// The sample's source and probe under `ext/`, the source changed by `edit`.
    pub fn sample_variant(&self, edit: impl Fn(&str) -> String) -> &Project {
        self.write("ext/my_extension.c", &edit(SAMPLE_C));
        self.write("ext/probe.py", SAMPLE_PROBE)
    }

    /// `matrix run` on this project's matrix.toml, with JSON results.
    pub fn run(&self, extra: &[&str]) -> Run {
        self.run_with(extra, &[])
    }

    pub fn run_with(&self, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let json = self.path(&format!("results-{}.json", next_run()));
        let mut cmd = matrix();
        cmd.args(["run", "--color", "never", "-c"])
            .arg(self.path("matrix.toml"))
            .arg("--json")
            .arg(&json)
            .args(extra)
            .current_dir(self.dir.path());
        Run::of(cmd, env, json)
    }
}

/// A number no other run of this test binary's has had: each run's
/// results file is its own.
fn next_run() -> usize {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

pub fn matrix() -> Command {
    Command::new(env!("CARGO_BIN_EXE_matrix"))
}

impl Run {
    /// Runs `cmd` (a `matrix run` writing its results to `json`) with `env`
    /// added, and reads the results it wrote, if any.
    fn of(mut cmd: Command, env: &[(&str, &str)], json: PathBuf) -> Run {
        for (k, v) in env {
            cmd.env(k, v);
        }
        let output = cmd.output().expect("run matrix");
        let results = std::fs::read_to_string(&json)
            .ok()
            .map(|text| serde_json::from_str(&text).expect("results are JSON"));
        Run {
            output,
            results,
            json,
        }
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Everything, for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        )
    }

    pub fn results(&self) -> &Value {
        self.results
            .as_ref()
            .unwrap_or_else(|| panic!("no results file\n{}", self.dump()))
    }

    /// The resolved label of request `request` on `axis` ("build"/"runtime")
    /// of the first grid.
    pub fn resolved(&self, axis: &str, request: &str) -> String {
        self.resolved_in(0, axis, request)
    }

    pub fn resolved_in(&self, grid: usize, axis: &str, request: &str) -> String {
        self.results()["grids"][grid]["axes"][axis]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["request"] == request))
            .map(|e| {
                e["version"]
                    .as_str()
                    .unwrap_or_else(|| e["request"].as_str().unwrap_or_default())
                    .to_string()
            })
            .unwrap_or_else(|| {
                panic!(
                    "no {axis} entry for {request} in grid {grid}\n{}",
                    self.dump()
                )
            })
    }

    /// The resolved versions on `axis` of grid `grid`.
    pub fn axis(&self, grid: usize, axis: &str) -> Vec<String> {
        self.results()["grids"][grid]["axes"][axis]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["version"].as_str().unwrap_or("-").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The cell of the first grid built with request `build` and run under
    /// request `runtime`.
    pub fn cell(&self, build: &str, runtime: &str) -> &Value {
        let (b, r) = (
            self.resolved("build", build),
            self.resolved("runtime", runtime),
        );
        self.cell_at(0, &b, &r)
    }

    /// The cell of grid `grid` with resolved versions `build` and `runtime`.
    pub fn cell_at(&self, grid: usize, build: &str, runtime: &str) -> &Value {
        self.results()["cells"]
            .as_array()
            .and_then(|cells| {
                cells
                    .iter()
                    .find(|c| c["grid"] == grid && c["build"] == build && c["runtime"] == runtime)
            })
            .unwrap_or_else(|| {
                panic!(
                    "no cell {build} → {runtime} in grid {grid}\n{}",
                    self.dump()
                )
            })
    }

    pub fn outcome(&self, build: &str, runtime: &str) -> String {
        self.cell(build, runtime)["outcome"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A `[numpy]` table.
pub fn numpy(build: &[&str], runtime: &[&str]) -> String {
    let list = |v: &[&str]| {
        v.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "[numpy]\nbuild = [{}]\nruntime = [{}]\n",
        list(build),
        list(runtime)
    )
}

/// An `[extension]` table for the sample variant written by `sample_variant`.
pub const VARIANT_EXTENSION: &str = "[extension]\nmodule = \"my_extension\"\nsources = [\"ext/my_extension.c\"]\nprobe-file = \"ext/probe.py\"\n";

/// A results file (or any JSON file) a run wrote, parsed.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A test's requirement of the machine. There are no skipped tests: what a
/// test needs, `.ci/run` installs (chromium, xmllint) or the machine has
/// (pyenv's CPython 3.9 and 3.12, root for `unshare`); without it the test
/// fails and says what is missing.
pub fn require(ok: bool, what: &str) {
    assert!(
        ok,
        "this test needs {what} (`.ci/run` installs or checks what the tests need)"
    );
}

/// A program on PATH, or the test fails naming it.
pub fn program(names: &[&str], package: &str) -> PathBuf {
    names
        .iter()
        .find_map(|n| which::which(n).ok())
        .unwrap_or_else(|| {
            panic!(
                "this test needs {} on PATH (Debian's {package}; `.ci/run` installs it)",
                names[0]
            )
        })
}

impl Project {
    /// `matrix run ARGS` as a user runs it: started in the project folder,
    /// the config found as `./matrix.toml`, every path relative.
    pub fn run_here(&self, extra: &[&str]) -> Run {
        self.run_in(self.dir.path(), extra, &[])
    }

    /// `matrix run ARGS` started in `cwd` (paths in ARGS relative to it).
    pub fn run_in(&self, cwd: &Path, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let name = format!("here-{}.json", next_run());
        let mut cmd = matrix();
        cmd.args(["run", "--color", "never", "--json", &name])
            .args(extra)
            .current_dir(cwd);
        Run::of(cmd, env, cwd.join(&name))
    }
}

/// A real sdist from the package index (the suite's: its PEP 691 page,
/// sha256 checked), unpacked into `dir` as shipped; returns the project's
/// folder.
pub fn sdist(dir: &Path, name: &str, version: &str) -> PathBuf {
    const FETCH: &str = r#"
import hashlib, json, os, re, sys, tarfile, urllib.request
name, version, dest = sys.argv[1:4]
norm = re.sub(r"[-_.]+", "-", name).lower()
req = urllib.request.Request(
    os.environ["PIP_INDEX_URL"] + f"/{norm}/",
    headers={"Accept": "application/vnd.pypi.simple.v1+json"},
)
files = json.load(urllib.request.urlopen(req, timeout=120))["files"]
want = re.compile(r"^" + re.escape(norm).replace("\\-", "[-_.]") + "-" + re.escape(version) + r"\.tar\.gz$", re.I)
file = next(f for f in files if want.match(f["filename"]))
data = urllib.request.urlopen(file["url"], timeout=300).read()
assert hashlib.sha256(data).hexdigest() == file["hashes"]["sha256"], "sha256 mismatch"
path = f"{dest}/{file['filename']}"
open(path, "wb").write(data)
with tarfile.open(path) as t:
    t.extractall(dest)
    print(t.getnames()[0].split("/")[0])
"#;
    std::fs::create_dir_all(dir).expect("mkdir");
    let out = Command::new("python3")
        .args(["-c", FETCH, name, version])
        .arg(dir)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "fetching {name} {version}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join(String::from_utf8_lossy(&out.stdout).trim())
}

/// PATH without any folder that holds ninja, cmake or meson: the machine
/// the README promises (build tools come from the backends' own requests).
pub fn path_without_build_tools() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| {
            ["ninja", "cmake", "meson"]
                .iter()
                .all(|t| !d.join(t).exists())
        })
        .collect();
    std::env::join_paths(kept)
        .expect("PATH")
        .to_string_lossy()
        .into_owned()
}

impl Project {
    /// `matrix ARGS` (any command) started in the project's folder, as a
    /// user types it there.
    pub fn matrix_here(&self, args: &[&str]) -> Output {
        matrix()
            .args(["--color", "never"])
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run matrix")
    }
}

impl Project {
    /// `matrix ARGS` started in the project's folder with `env` added,
    /// colour left to the arguments (auto: none into a pipe).
    pub fn matrix_here_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = matrix();
        cmd.args(args).current_dir(self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run matrix")
    }
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a setup command; unless it succeeded, fails the test with
/// everything it printed.
pub fn ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// `pip download` of `requirement` alone into `dest`, by `python` (whose
/// tags pick the wheel); `binary` is "--only-binary" or "--no-binary".
pub fn pip_download(
    python: impl AsRef<std::ffi::OsStr>,
    binary: &str,
    requirement: &str,
    dest: &Path,
) {
    ok(
        Command::new(python)
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                binary,
                ":all:",
                "--dest",
            ])
            .arg(dest)
            .arg(requirement),
        &format!("pip download {requirement}"),
    );
}

/// Where pyenv keeps its Pythons.
fn pyenv_root() -> PathBuf {
    std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".pyenv")
        })
}

/// pyenv's newest CPython `minor` ("3.11"), or the test fails naming it.
pub fn pyenv_python(minor: &str) -> PathBuf {
    let root = pyenv_root();
    // Patch numbers compared as numbers: 3.11.10 is newer than 3.11.9.
    let newest = std::fs::read_dir(root.join("versions"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let patch: u64 = name.strip_prefix(&format!("{minor}."))?.parse().ok()?;
            Some((patch, e.path().join("bin/python3")))
        })
        .filter(|(_, python)| python.exists())
        .max();
    require(newest.is_some(), &format!("pyenv's CPython {minor}"));
    newest.map(|(_, p)| p).unwrap_or_default()
}

/// pyenv's CPython 2.7 interpreter and its version ("2.7.18"), or the
/// test fails naming it.
pub fn pyenv_python2() -> (PathBuf, String) {
    let found = std::fs::read_dir(pyenv_root().join("versions"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            (
                e.path().join("bin/python"),
                e.file_name().to_string_lossy().into_owned(),
            )
        })
        .find(|(python, version)| version.starts_with("2.7.") && python.exists());
    require(found.is_some(), "pyenv's CPython 2.7");
    found.unwrap_or_default()
}

impl Project {
    /// A file of the project, as text.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
}

/// `matrix run -q` of `project`'s matrix.toml with `--cache-dir cache`,
/// in a private mount namespace (`unshare -rm`: no root needed where user
/// namespaces are allowed, nothing to unmount) with a tmpfs of `size`
/// mounted over `mount`; its output and its results file. The test fails
/// naming what it needs when such a mount cannot be made here.
pub fn run_over_tmpfs(
    project: &Project,
    mount: &Path,
    size: &str,
    cache: &Path,
) -> (Output, PathBuf) {
    let probe = Command::new("unshare")
        .args([
            "-rm",
            "mount",
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size}"),
            "tmpfs",
        ])
        .arg(mount)
        .output();
    require(
        probe.is_ok_and(|o| o.status.success()),
        "a tmpfs mounted with `unshare -rm` (root, or user namespaces)",
    );
    let json = project.path("results.json");
    let script = "mount -t tmpfs -o size=\"$1\" tmpfs \"$2\" && shift 2 && exec \"$@\"";
    let output = Command::new("unshare")
        .args(["-rm", "sh", "-c", script, "sh", size])
        .arg(mount)
        .arg(env!("CARGO_BIN_EXE_matrix"))
        .args(["run", "-q", "--color", "never", "--cache-dir"])
        .arg(cache)
        .arg("-c")
        .arg(project.path("matrix.toml"))
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run matrix");
    (output, json)
}

/// Paths in `dir` that are no usable Python 3, one per cause, made there:
/// each as typed in `dir` (where matrix is started), with the error and
/// hint matrix gives for it as `--python` (exit 3).
pub fn unusable_pythons(dir: &Path) -> Vec<(String, String, &'static str)> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir.join("env/bin")).expect("mkdir");
    std::fs::write(dir.join("env/pyvenv.cfg"), "home = /usr/bin\n").expect("write");
    std::os::unix::fs::symlink("/nonexistent/bin/python3.11", dir.join("env/old")).expect("ln -s");
    let script = dir.join("env/sh-python");
    std::fs::write(
        &script,
        "#!/bin/sh\necho 'hello from a shell script'\nexit 1\n",
    )
    .expect("write");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (python2, version2) = pyenv_python2();
    let at = |name: &str| dir.join(name).display().to_string();
    vec![
        (
            "env/bin/python".into(),
            format!("interpreter {} does not exist", at("env/bin/python")),
            "check the path: one given on the command line is read from the folder matrix runs in, one in matrix.toml from the config's folder (`matrix pythons` lists every interpreter found)",
        ),
        (
            "env/old".into(),
            format!(
                "{} is a link to /nonexistent/bin/python3.11, which does not exist",
                at("env/old")
            ),
            "the interpreter it links to was moved or deleted (an environment made from a Python since removed?): recreate the environment, or name another interpreter",
        ),
        (
            "env/bin".into(),
            format!("{} is a folder, not an interpreter", at("env/bin")),
            "name the interpreter file itself: an environment's is bin/python inside it",
        ),
        (
            "env/pyvenv.cfg".into(),
            format!("{} is not executable", at("env/pyvenv.cfg")),
            "name the interpreter itself (an environment's is bin/python), or make the file executable (chmod +x)",
        ),
        (
            "env/sh-python".into(),
            format!(
                "{} is not a Python interpreter: it answered \"hello from a shell script\"",
                at("env/sh-python")
            ),
            "name a Python 3 interpreter, e.g. .venv/bin/python or /usr/bin/python3 (`matrix pythons` lists them)",
        ),
        (
            python2.display().to_string(),
            format!(
                "{} is Python {version2}: abimatrix needs Python 3",
                python2.display()
            ),
            "NumPy has needed Python 3 since 1.17: name a Python 3 interpreter (`matrix pythons` lists them)",
        ),
    ]
}

/// Runs `cmd` (its stdin as the caller set it) to its end with its output
/// captured, or fails the test naming `what` when it is still running far
/// beyond any normal time: it blocked (a FIFO, a device, a stdin that
/// never ends).
pub fn bounded(cmd: &mut Command, what: &str) -> Output {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run matrix");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            panic!("{what}: matrix blocked");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("matrix's output")
}

/// Whether each build of the first grid was reused from the cache.
pub fn builds_reused(run: &Run) -> Vec<bool> {
    run.results()["grids"][0]["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["reused"].as_bool().unwrap())
        .collect()
}

/// Every regular file under `dir` (links not followed), with its metadata.
pub fn files_under(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let t = e.file_type().unwrap();
        if t.is_dir() {
            out.extend(files_under(&e.path()));
        } else if t.is_file() {
            out.push((e.path(), e.metadata().unwrap()));
        }
    }
    out
}
