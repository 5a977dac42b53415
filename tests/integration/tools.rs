//! What the packaging, workflow and action tests share: the pinned tools
//! `.ci/run` installs (maturin, zig, auditwheel, check-jsonschema,
//! actionlint, zizmor, shellcheck), fresh virtual environments, YAML read
//! as JSON, builds that reuse one another, and the three Linux release
//! wheels, built once per test run by the release workflow's own script.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::{ok, program, pyenv_python, text};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The repository (this checkout).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Cargo's target directory of this test build (`target/`, or wherever
/// CARGO_TARGET_DIR put it): `<target-dir>/[<triple>/]<profile>/matrix`.
pub fn target_dir() -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_matrix"));
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    // `cargo test --target T` builds under <target-dir>/T/.
    match dir.parent() {
        Some(up) if !dir.join("CACHEDIR.TAG").exists() && up.join("CACHEDIR.TAG").exists() => {
            up.to_path_buf()
        }
        _ => dir.to_path_buf(),
    }
}

/// The folder `.ci/run` installs the tools of `.ci/tools.txt` into.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("ABIMATRIX_TEST_TOOLS")
        .map(PathBuf::from)
        .map(|d| if d.is_relative() { repo().join(d) } else { d })
        .unwrap_or_else(|| repo().join("target/ci-tools"))
}

/// A tool from `.ci/tools.txt`, or the test fails naming it.
pub fn tool(name: &str) -> PathBuf {
    let path = tools_dir().join("bin").join(name);
    assert!(
        path.is_file(),
        "this test needs {name} in {}: `.ci/run` installs the tools pinned in .ci/tools.txt there \
         (python3 -m venv {0} && {0}/bin/pip install -r .ci/tools.txt)",
        tools_dir().display()
    );
    path
}

/// PATH with the tools' folder first (maturin finds zig there, actionlint
/// finds shellcheck), and `first` before it.
pub fn path_with_tools(first: &[&Path]) -> std::ffi::OsString {
    tool("python");
    let old = std::env::var_os("PATH").unwrap_or_default();
    let dirs = first
        .iter()
        .map(|p| p.to_path_buf())
        .chain([tools_dir().join("bin")])
        .chain(std::env::split_paths(&old));
    std::env::join_paths(dirs).expect("PATH")
}

/// The target directory (under Cargo's) of release builds from this
/// checkout's folder: `pip install .`, `cargo install --path .`, the
/// action's build from source.
pub const CHECKOUT: &str = "packaging-release";
/// The target directory of release builds from a folder that is new each
/// time: the sdist's, a git clone's.
pub const MOVING: &str = "packaging-moving";

/// Where the release builds the tests start keep their Cargo target
/// directories (`CHECKOUT`, `MOVING`, the zig wheels', the crate's): in the
/// suite's cache, not in the checkout, so that a fresh clone compiles only
/// abimatrix itself and reuses the dependencies an earlier run compiled.
/// Cargo keeps one build of abimatrix itself per target directory, the
/// last checkout's: after another checkout's run (a fresh clone's
/// `.ci/run`), this one compiles abimatrix again in each (measured: a warm
/// `cargo test` took 601 s right after a clone's run, 470 s on the next).
/// Deleting the folder is safe: the next run compiles everything again.
pub fn builds_dir() -> PathBuf {
    crate::suite::cache_root().join("target")
}

/// The target directory of Cargo's own builds of the crate (`cargo
/// package`'s verification, `cargo publish`'s).
pub const CRATE: &str = "packaging-crate";

/// Cargo `args`, run on the crate in this checkout, its builds in the
/// target directory `target_dir_name` of [`builds_dir`].
pub fn cargo_on_the_crate(target_dir_name: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(args)
        .env("CARGO_TARGET_DIR", builds_dir().join(target_dir_name))
        .current_dir(repo());
    cmd
}

/// Held while a build runs in the target directory `name`: Cargo locks its
/// target directory, but maturin then moves the binary out of it (into
/// `<target>/maturin/`), so a second build there at that moment finds no
/// binary, or `cargo install` nothing to copy. The tests run side by side
/// (threads of one process under `cargo test`, processes under nextest);
/// their builds in one target directory take turns through a lock file.
pub fn build_lock(name: &str) -> std::fs::File {
    std::fs::create_dir_all(builds_dir()).expect("the builds' folder");
    let lock = std::fs::File::create(builds_dir().join(format!("{name}.lock")))
        .expect("the build's lock file");
    crate::suite::flock(&lock).expect("flock");
    lock
}

/// `cmd` (Cargo, or a tool that runs it: maturin, pip building the sdist)
/// gets the suite's own Cargo home, whose crates.io is the crates of
/// `Cargo.lock`, vendored into the suite's cache once (`cargo vendor`):
/// abimatrix's own builds then need no network, `cargo install --git`
/// included (Cargo's `--offline` refuses even a `file://` clone), as the
/// suite's index serves the Python packages. The one Cargo command that
/// must reach crates.io, `cargo publish --dry-run`, is in the live tier.
pub fn own_crates(cmd: &mut Command) -> &mut Command {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    cmd.env("CARGO_HOME", HOME.get_or_init(vendored_cargo_home))
}

/// The Cargo home of `own_crates`, made the first time this `Cargo.lock`
/// is seen: `<suite cache>/cargo/<lock's sha256>/{crates,home}`.
fn vendored_cargo_home() -> PathBuf {
    let lock = std::fs::read(repo().join("Cargo.lock")).expect("Cargo.lock");
    let root = crate::suite::cache_root().join("cargo");
    let dir = root.join(&sha256_hex(&lock)[..16]);
    let (crates, home, done) = (dir.join("crates"), dir.join("home"), dir.join("done"));
    if done.exists() {
        return home;
    }
    std::fs::create_dir_all(&root).expect("the suite's cache");
    // Test processes start side by side (nextest): one vendors, the others
    // wait for it and find it done.
    let turn = std::fs::File::create(root.join("lock")).expect("the vendoring lock");
    crate::suite::flock(&turn).expect("flock");
    if done.exists() {
        return home;
    }
    let _ = std::fs::remove_dir_all(&dir);
    // The developer's own Cargo home, and the network only for crates it
    // has not downloaded yet (another platform's, the first time).
    ok(
        Command::new(env!("CARGO"))
            .args(["vendor", "--locked", "--versioned-dirs", "--quiet"])
            .arg(&crates)
            .current_dir(repo()),
        "cargo vendor (the crates of Cargo.lock, into the suite's cache)",
    );
    // The folder as a TOML string (quoted and escaped by toml).
    let directory = toml::Value::String(crates.display().to_string());
    std::fs::create_dir_all(&home).expect("the suite's Cargo home");
    std::fs::write(
        home.join("config.toml"),
        format!(
            "[source.crates-io]\nreplace-with = \"suite\"\n\n[source.suite]\ndirectory = {directory}\n"
        ),
    )
    .expect("the suite's Cargo config");
    std::fs::write(&done, "").expect("the vendoring marker");
    home
}

/// Cargo's release profile made as cheap to build as a dev build, for
/// every build a test starts through maturin, pip or `cargo install` (all
/// of which build `--release`): the commands run as users type them, and
/// only how hard the compiler optimises differs. The target directory is
/// kept between runs and checkouts (`builds_dir`), so only what changed
/// compiles again. Cargo's home is the suite's (`own_crates`).
pub fn fast_release<'a>(cmd: &'a mut Command, target_dir_name: &str) -> &'a mut Command {
    own_crates(cmd)
        .env("CARGO_TARGET_DIR", builds_dir().join(target_dir_name))
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256")
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "true")
}

/// A fresh virtual environment at `dir`, made by `python` (with pip of its
/// own, as `python -m venv` makes it); returns its bin folder. For a
/// command that runs the environment's `pip`, as the README's do.
pub fn venv_of(python: &Path, dir: &Path) -> PathBuf {
    made_venv(python, dir, &[])
}

/// A fresh virtual environment of the machine's python3.
pub fn venv(dir: &Path) -> PathBuf {
    venv_of(&program(&["python3"], "python3"), dir)
}

/// A fresh virtual environment at `dir`, made by `python` without a pip of
/// its own (`ensurepip` is seconds; [`pip_into`] installs into it from
/// outside); returns its bin folder.
pub fn bare_venv_of(python: &Path, dir: &Path) -> PathBuf {
    made_venv(python, dir, &["--without-pip"])
}

/// `python -m venv ARGS DIR`; the environment's bin folder.
fn made_venv(python: &Path, dir: &Path, args: &[&str]) -> PathBuf {
    ok(
        Command::new(python)
            .args(["-m", "venv"])
            .args(args)
            .arg(dir),
        &format!("{} -m venv {args:?}", python.display()),
    );
    dir.join("bin")
}

/// `pip install --quiet` into the environment whose interpreter is
/// `python` (one made by [`bare_venv_of`]), by pyenv's CPython 3.11's pip
/// running under that interpreter (`pip --python`), so it installs what
/// that interpreter would; the caller adds what to install, and runs it.
/// pyenv's interpreter by its own path, never `python3` on PATH: pyenv's
/// shim rehashes after every `pip install`, and a dozen at once collide
/// ("cannot rehash: /root/.pyenv/shims isn't writable"). pip run this way
/// leaves a copy of its CA bundle in TMPDIR: TMPDIR is the folder that
/// holds the environment (the test's own), never the environment or /tmp.
pub fn pip_into(python: &Path) -> Command {
    let env = python.parent().and_then(Path::parent).unwrap_or(python);
    let mut cmd = Command::new(pyenv_python("3.11"));
    cmd.args(["-m", "pip", "--python"])
        .arg(python)
        .args(["--disable-pip-version-check", "install", "--quiet"])
        .env("TMPDIR", env.parent().unwrap_or(env));
    cmd
}

/// `pip install --quiet ARGS` into the environment of `bin` ([`pip_into`]).
pub fn pip_install(bin: &Path, args: &[&OsStr]) {
    ok(
        pip_into(&bin.join("python")).args(args),
        &format!("pip install {args:?}"),
    );
}

/// A YAML file as JSON, read by ruamel.yaml (YAML 1.2, so `on:` stays a
/// key; check-jsonschema brings it into the tools' environment).
pub fn yaml_as_json(path: &Path) -> Value {
    const LOAD: &str = "import json, sys\nfrom ruamel.yaml import YAML\njson.dump(YAML(typ='safe', pure=True).load(open(sys.argv[1])), sys.stdout)";
    let out = ok(
        Command::new(tool("python")).args(["-c", LOAD]).arg(path),
        &format!("reading {}", path.display()),
    );
    serde_json::from_slice(&out.stdout).expect("YAML as JSON")
}

/// Every string in `v`.
pub fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// A release wheel built by `.github/scripts/build-wheel.sh`.
pub struct Wheel {
    pub target: String,
    pub compatibility: String,
    pub path: PathBuf,
}

impl Wheel {
    pub fn name(&self) -> &str {
        self.path.file_name().and_then(|n| n.to_str()).unwrap_or("")
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A folder for what lives as long as the test process, in a `static`:
/// statics are never dropped, so it is under `target/` (gone with the
/// checkout's build), not left behind in the system's `/tmp` by every run.
pub fn process_dir() -> tempfile::TempDir {
    let root = target_dir().join("test-projects");
    std::fs::create_dir_all(&root).expect("mkdir target/test-projects");
    tempfile::tempdir_in(root).expect("temp dir")
}

/// The Linux wheels `.github/workflows/release.yml` builds, one per entry
/// of its `linux` job's matrix, built by the script that job runs (with
/// the same arguments), into `target/packaging-wheels/`. Built once per
/// test process, by the first test that asks, and copied to a folder of
/// the process's own (under nextest, each test is a process, and the next
/// one's build replaces `target/packaging-wheels/`).
pub fn linux_wheels() -> &'static [Wheel] {
    static WHEELS: OnceLock<(tempfile::TempDir, Vec<Wheel>)> = OnceLock::new();
    &WHEELS
        .get_or_init(|| {
            let _turn = build_lock("packaging-wheels");
            let own = process_dir();
            let wheels = build_linux_wheels()
                .into_iter()
                .map(|w| {
                    let path = own.path().join(w.name());
                    std::fs::copy(&w.path, &path).expect("copy the wheel");
                    Wheel { path, ..w }
                })
                .collect();
            (own, wheels)
        })
        .1
}

fn build_linux_wheels() -> Vec<Wheel> {
    let wf = yaml_as_json(&repo().join(".github/workflows/release.yml"));
    let include = wf["jobs"]["linux"]["strategy"]["matrix"]["include"]
        .as_array()
        .expect("release.yml's linux job has a matrix of targets")
        .clone();
    let out = target_dir().join("packaging-wheels");
    let _ = std::fs::remove_dir_all(&out);
    let mut wheels = Vec::new();
    for entry in include {
        let target = entry["target"].as_str().expect("target").to_string();
        let compatibility = entry["compatibility"]
            .as_str()
            .expect("compatibility")
            .to_string();
        let dir = out.join(&target);
        let mut cmd = Command::new(repo().join(".github/scripts/build-wheel.sh"));
        cmd.args([&target, &compatibility])
            .arg(&dir)
            .env("PATH", path_with_tools(&[]));
        // One target dir for the three targets: their dependencies are
        // built once per target and kept.
        fast_release(&mut cmd, "packaging-zig");
        let built = ok(
            &mut cmd,
            &format!("build-wheel.sh {target} {compatibility}"),
        );
        let log = format!("{}{}", text(&built.stdout), text(&built.stderr));
        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("the wheel's folder")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(files.len(), 1, "one wheel for {target}: {files:?}\n{log}");
        wheels.push(Wheel {
            target,
            compatibility,
            path: files[0].clone(),
        });
    }
    wheels
}

/// The manylinux x86_64 wheel (the one this machine runs).
pub fn manylinux_x86_64() -> &'static Wheel {
    linux_wheels()
        .iter()
        .find(|w| w.target == "x86_64-unknown-linux-gnu")
        .expect("release.yml builds a wheel for x86_64-unknown-linux-gnu")
}

/// The first ```LANG block of the README's section TITLE (a `## ` heading),
/// and the whole section.
pub fn readme_block(title: &str, lang: &str) -> (String, String) {
    doc_block("README.md", title, lang)
}

/// The first ```LANG block of section TITLE (a `## ` heading) of the
/// Markdown file `file` (relative to the repository), and the section.
pub fn doc_block(file: &str, title: &str, lang: &str) -> (String, String) {
    let text = std::fs::read_to_string(repo().join(file)).expect(file);
    let section = text
        .split(&format!("\n## {title}\n"))
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap_or_else(|| panic!("{file} has no section {title}"))
        .to_string();
    let block = section
        .split(&format!("```{lang}\n"))
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .unwrap_or_else(|| panic!("{file}'s section {title} has no {lang} block"))
        .to_string();
    (section, block)
}
