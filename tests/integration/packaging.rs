//! abimatrix as users get it: the release's wheels, its sdist and its
//! crate, and every install command the README shows.
//!
//! The three Linux wheels are built by `.github/scripts/build-wheel.sh`
//! for each target of the release workflow's matrix, as the workflow
//! builds them: maturin with zig, `--compatibility manylinux2014` (glibc
//! 2.17) or `musllinux_1_2`. auditwheel then says, from what each binary
//! really links, which platform it runs on, and that must be the tag in
//! the wheel's name. The x86_64 manylinux wheel is installed into fresh
//! virtual environments of CPython 3.9 and 3.13 (pyenv's) and runs a real
//! 1 × 1 grid on each; the musllinux binary, statically linked, runs here
//! too. The aarch64 one is checked by auditwheel and its ELF header only
//! (nothing here runs aarch64).
//!
//! Every build (maturin, pip, `cargo install`) is `--release` as users get
//! it, with the release profile made as cheap as a dev build through
//! Cargo's environment (`tools::fast_release`) and target directories kept
//! between runs and checkouts, in the suite's cache (`tools::builds_dir`):
//! only what changed compiles again.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use object::Object;

use crate::common::{Project, numpy, ok, program, pyenv_python, read_json, text};
use crate::tools::{
    CHECKOUT, CRATE, MOVING, VERSION, Wheel, bare_venv_of, build_lock, builds_dir,
    cargo_on_the_crate, fast_release, linux_wheels, manylinux_x86_64, own_crates, path_with_tools,
    pip_install, pip_into, readme_block, repo, target_dir, tool, venv,
};

/// Every file the binary embeds (`include_str!`/`include_bytes!` under
/// src/), relative to the repository: what a package must ship for the
/// binary to build.
fn embedded_files() -> BTreeSet<String> {
    let include = regex::Regex::new(r#"include_(?:str|bytes)!\(\s*"([^"]+)"\s*\)"#).unwrap();
    let mut found = BTreeSet::new();
    let mut dirs = vec![repo().join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let source = std::fs::read_to_string(&path).expect("source");
                for c in include.captures_iter(&source) {
                    let file = path.parent().unwrap().join(&c[1]);
                    let file = file
                        .canonicalize()
                        .unwrap_or_else(|e| panic!("{}: {}: {e}", path.display(), &c[1]));
                    let rel = file.strip_prefix(repo()).expect("inside the repository");
                    found.insert(rel.to_string_lossy().into_owned());
                }
            }
        }
    }
    assert!(
        found.len() >= 8 && found.contains("src/sample/my_extension.c"),
        "the sample, the probe and query scripts are embedded: {found:?}"
    );
    found
}

/// A package's `files` (relative to its root) hold every file the binary
/// embeds and `also`, and none of the tests, CI files or scripts.
fn holds_what_the_binary_embeds(package: &str, files: &BTreeSet<String>, also: &[&str]) {
    for file in embedded_files()
        .iter()
        .map(String::as_str)
        .chain(also.iter().copied())
    {
        assert!(files.contains(file), "{package} lacks {file}: {files:?}");
    }
    for f in files {
        assert!(
            !["tests/", ".github/", ".ci/", "scripts/"]
                .iter()
                .any(|dir| f.starts_with(dir)),
            "{package} ships {f}"
        );
    }
}

/// The names in a wheel (or any zip), and its `.dist-info/METADATA`.
fn wheel_listing(wheel: &Path) -> (Vec<String>, String) {
    const LIST: &str = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint('\\n'.join(z.namelist()))\nprint('---')\nprint(z.read([n for n in z.namelist() if n.endswith('.dist-info/METADATA')][0]).decode())";
    let out = ok(
        Command::new(tool("python")).args(["-c", LIST]).arg(wheel),
        "reading the wheel",
    );
    let listing = text(&out.stdout);
    let (names, metadata) = listing.split_once("\n---\n").expect("listing");
    (
        names.lines().map(str::to_string).collect(),
        metadata.to_string(),
    )
}

/// The wheel's `matrix`, extracted to `dir`.
fn extract_matrix(wheel: &Wheel, dir: &Path) -> PathBuf {
    const EXTRACT: &str = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nopen(sys.argv[3], 'wb').write(z.read(sys.argv[2]))";
    let out = dir.join(format!("matrix-{}", wheel.target));
    ok(
        Command::new(tool("python"))
            .args(["-c", EXTRACT])
            .arg(&wheel.path)
            .arg(format!("abimatrix-{VERSION}.data/scripts/matrix"))
            .arg(&out),
        "extracting matrix",
    );
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
    out
}

#[test]
fn release_wheels_are_tagged_for_what_they_link() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let wheels = linux_wheels();
    assert_eq!(
        wheels.len(),
        3,
        "x86_64 and aarch64 manylinux, x86_64 musllinux"
    );
    for wheel in wheels {
        let arch = wheel.target.split('-').next().unwrap();
        let tag = match wheel.compatibility.as_str() {
            "manylinux2014" => format!("manylinux_2_17_{arch}"),
            other => format!("{other}_{arch}"),
        };
        let name = wheel.name();
        assert!(
            name.starts_with(&format!("abimatrix-{VERSION}-py3-none-"))
                && name.ends_with(".whl")
                && name.contains(&tag),
            "a binary wheel for any Python 3, tagged {tag}: {name}"
        );

        // auditwheel, run here on its own: the tag it computes from the
        // binary's versioned symbols is the wheel's, and it needs no
        // library beyond the C library's.
        let audit = ok(
            Command::new(tool("auditwheel"))
                .args(["show", "--json"])
                .arg(&wheel.path),
            "auditwheel show",
        );
        let audit: serde_json::Value =
            serde_json::from_slice(&audit.stdout).expect("auditwheel's JSON");
        assert_eq!(audit["overall_tag"], tag.as_str(), "{name}: {audit:#}");
        assert_eq!(
            audit["external_libs"],
            serde_json::json!({}),
            "{name}: {audit:#}"
        );

        // Only `matrix` and the small `abimatrix` in it, besides metadata
        // that is ours.
        let (names, metadata) = wheel_listing(&wheel.path);
        let mut payload: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| !n.starts_with(&format!("abimatrix-{VERSION}.dist-info/")))
            .collect();
        payload.sort();
        assert_eq!(
            payload,
            [
                format!("abimatrix-{VERSION}.data/scripts/abimatrix"),
                format!("abimatrix-{VERSION}.data/scripts/matrix"),
            ],
            "{name} installs `matrix` and the small `abimatrix` that runs it, nothing else"
        );
        for field in [
            "Name: abimatrix".to_string(),
            format!("Version: {VERSION}"),
            "Requires-Python: >=3.8".to_string(),
            "License-Expression: MIT".to_string(),
        ] {
            assert!(
                metadata.lines().any(|l| l == field),
                "{name}: METADATA lacks `{field}`:\n{metadata}"
            );
        }

        // The binary is for the wheel's architecture; the musl one is
        // static (no program interpreter), so it runs on this glibc
        // machine as on Alpine.
        let binary = extract_matrix(wheel, tmp.path());
        let bytes = std::fs::read(&binary).unwrap();
        let elf = object::File::parse(&*bytes).expect("an ELF file");
        let expected = match arch {
            "x86_64" => object::Architecture::X86_64,
            "aarch64" => object::Architecture::Aarch64,
            other => panic!("unexpected architecture {other}"),
        };
        assert_eq!(elf.architecture(), expected, "{name}");
        let interp = elf.section_by_name(".interp").is_some();
        assert_eq!(
            interp,
            wheel.target.ends_with("-gnu"),
            "{name}: .interp section"
        );
        if arch == "x86_64" {
            let version = ok(Command::new(&binary).arg("--version"), "matrix --version");
            assert_eq!(
                text(&version.stdout),
                format!("matrix {VERSION}\n"),
                "{name}"
            );
        }
    }
}

/// The x86_64 manylinux wheel installs into a fresh environment of
/// CPython 3.9 and of 3.13, and each installed `matrix` runs a real 1 × 1
/// grid with that Python, from a project folder, as a user would.
#[test]
fn the_manylinux_wheel_runs_a_grid_on_python_3_9_and_3_13() {
    let wheel = manylinux_x86_64();
    let tmp = tempfile::tempdir().expect("temp dir");
    // NumPy 2.0 has no wheel for 3.13, 2.1 none for 3.9.
    for (minor, series) in [("3.9", "2.0.*"), ("3.13", "2.1.*")] {
        let python = pyenv_python(minor);
        let bin = bare_venv_of(&python, &tmp.path().join(format!("py{minor}")));
        pip_install(&bin, &["--no-index".as_ref(), wheel.path.as_os_str()]);
        let installed = bin.join("matrix");
        let version = ok(
            Command::new(&installed).arg("--version"),
            "matrix --version",
        );
        assert_eq!(text(&version.stdout), format!("matrix {VERSION}\n"));
        // The package's name as a command (what `uvx abimatrix` runs) is
        // the same program.
        let by_name = ok(
            Command::new(bin.join("abimatrix")).arg("--version"),
            "abimatrix --version",
        );
        assert_eq!(text(&by_name.stdout), format!("matrix {VERSION}\n"));

        let p = Project::new();
        p.write(
            "matrix.toml",
            &format!(
                "[python]\nversions = [\"{}\"]\n{}",
                python.display(),
                numpy(&[series], &[series])
            ),
        );
        let run = Command::new(&installed)
            .args(["run", "--color", "never", "--json", "results.json"])
            .current_dir(p.dir.path())
            .output()
            .expect("run the installed matrix");
        let dump = format!(
            "{}\n--- stdout\n{}\n--- stderr\n{}",
            run.status,
            text(&run.stdout),
            text(&run.stderr)
        );
        assert_eq!(run.status.code(), Some(0), "{dump}");
        let results = read_json(&p.path("results.json"));
        assert_eq!(results["abimatrix_version"], VERSION, "{dump}");
        assert_eq!(results["complete"], true, "{dump}");
        let interpreter = results["grids"][0]["interpreter"]["version"]
            .as_str()
            .unwrap_or("");
        assert!(interpreter.starts_with(&format!("{minor}.")), "{dump}");
        let cells = results["cells"].as_array().expect("cells");
        assert_eq!(cells.len(), 1, "a 1 × 1 grid: {dump}");
        assert_eq!(cells[0]["outcome"], "pass", "{dump}");
        assert_eq!(cells[0]["met"], true, "{dump}");
    }
}

/// `maturin sdist`, as the release builds it: it holds the sources and
/// every file they embed, none of the tests or CI files, and pip builds and
/// installs it with Rust (maturin from the index, as its pyproject.toml
/// asks); the installed `matrix` runs the built-in sample's grid, which
/// only works when the sample's sources were in the sdist.
#[test]
fn the_sdist_builds_with_rust_and_installs() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dist = tmp.path().join("dist");
    ok(
        own_crates(&mut Command::new(tool("maturin")))
            .args(["sdist", "--out"])
            .arg(&dist)
            .current_dir(repo()),
        "maturin sdist",
    );
    let sdist = dist.join(format!("abimatrix-{VERSION}.tar.gz"));
    assert!(sdist.is_file(), "{}", sdist.display());
    const LIST: &str =
        "import sys, tarfile\nprint('\\n'.join(tarfile.open(sys.argv[1]).getnames()))";
    let listing = ok(
        Command::new(tool("python")).args(["-c", LIST]).arg(&sdist),
        "listing the sdist",
    );
    let prefix = format!("abimatrix-{VERSION}/");
    let names: BTreeSet<String> = text(&listing.stdout)
        .lines()
        .filter_map(|n| n.strip_prefix(&prefix).map(str::to_string))
        .collect();
    holds_what_the_binary_embeds(
        "the sdist",
        &names,
        &[
            "Cargo.toml",
            "Cargo.lock",
            "pyproject.toml",
            "README.md",
            "LICENSE",
            "PKG-INFO",
        ],
    );

    // pip builds the sdist as it builds any: in an isolated environment
    // with maturin from the index, and installs it from outside the new
    // environment (`pip_into`).
    let bin = bare_venv_of(&program(&["python3"], "python3"), &tmp.path().join("env"));
    let mut pip = pip_into(&bin.join("python"));
    pip.arg(&sdist);
    fast_release(&mut pip, MOVING);
    {
        let _turn = build_lock(MOVING);
        ok(&mut pip, "pip install the sdist");
    }
    let installed = bin.join("matrix");
    let version = ok(
        Command::new(&installed).arg("--version"),
        "matrix --version",
    );
    assert_eq!(text(&version.stdout), format!("matrix {VERSION}\n"));

    let p = Project::new();
    p.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
    let run = Command::new(&installed)
        .args(["run", "--color", "never", "--json", "results.json"])
        .current_dir(p.dir.path())
        .output()
        .expect("run the installed matrix");
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    let results = read_json(&p.path("results.json"));
    assert_eq!(results["cells"][0]["outcome"], "pass", "{results}");
}

/// The crate: `cargo package` lists every file the binary embeds and none
/// of the tests or CI files, and builds it from the packaged files alone
/// (its verification, as `cargo publish` runs it before uploading), with
/// crates.io's crates from the suite's cache. `--allow-dirty` only because
/// tests run on a working tree. `cargo publish --dry-run` itself asks
/// crates.io, so it is in the live tier.
#[test]
fn the_crate_packages_everything_the_binary_embeds() {
    let list = ok(
        own_crates(&mut cargo_on_the_crate(
            CRATE,
            &["package", "--list", "--locked", "--allow-dirty"],
        )),
        "cargo package --list",
    );
    let files: BTreeSet<String> = text(&list.stdout).lines().map(str::to_string).collect();
    holds_what_the_binary_embeds(
        "the crate",
        &files,
        &["Cargo.toml", "Cargo.lock", "README.md", "LICENSE"],
    );
    let package = ok(
        own_crates(&mut cargo_on_the_crate(
            CRATE,
            &["package", "--locked", "--allow-dirty"],
        )),
        "cargo package --locked",
    );
    let log = text(&package.stderr);
    assert!(
        log.contains(&format!("Verifying abimatrix v{VERSION}"))
            && log.contains(&format!(
                "Compiling abimatrix v{VERSION} ({})",
                builds_dir()
                    .join(CRATE)
                    .join(format!("package/abimatrix-{VERSION}"))
                    .display()
            )),
        "{log}"
    );
}

/// The macOS job has never run; the code compiles for macOS here
/// (`cargo check`, Apple's linker is not needed for that).
#[test]
fn the_code_compiles_for_macos() {
    let check = own_crates(&mut cargo_on_the_crate(
        "packaging-macos",
        &[
            "check",
            "--locked",
            "--bins",
            "--target",
            "aarch64-apple-darwin",
        ],
    ))
    .output()
    .expect("cargo check");
    let log = text(&check.stderr);
    assert!(
        check.status.success(),
        "abimatrix does not compile for aarch64-apple-darwin (.ci/run adds the target):\n{log}"
    );
    assert!(!log.contains("warning:"), "{log}");
}

/// The README's Install section, section by section: every command of its
/// `sh` block is run, as written, in a fresh virtual environment (for
/// pip) or a fresh install root (for Cargo), from the checkout (`.`), and
/// the `matrix` it installed reports this version. Two things stand in
/// for GitHub, which cannot be reached from here: the repository's URL
/// becomes a `file://` clone of this checkout's files (for `git+...` and
/// `--git`), and the release's download URL becomes a `file://` URL of
/// the same wheel built by the release's script.
#[test]
fn every_install_command_in_the_readme_works() {
    let (section, block) = readme_block("Install", "sh");
    let commands: Vec<&str> = block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let section_lower = section.to_lowercase();
    assert!(
        section_lower.contains("not on pypi") && section_lower.contains("crates.io"),
        "the Install section says abimatrix is on neither index yet:\n{section}"
    );

    let cargo: toml::Value =
        toml::from_str(&std::fs::read_to_string(repo().join("Cargo.toml")).unwrap()).unwrap();
    let url = cargo["package"]["repository"]
        .as_str()
        .expect("Cargo.toml's repository")
        .to_string();
    let tmp = tempfile::tempdir().expect("temp dir");
    let git_program = program(&["git"], "git");

    // The repository as the git URL serves it: its tracked files (and
    // any not yet committed), in one commit. At a fixed place, with fixed
    // dates, so that the same files make the same commit and Cargo's
    // checkout of it (and its build) is reused by the next run.
    let git_repo = target_dir().join("packaging-git/abimatrix");
    let _ = std::fs::remove_dir_all(&git_repo);
    let files = ok(
        Command::new(&git_program)
            .args([
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ])
            .current_dir(repo()),
        "git ls-files",
    );
    for f in text(&files.stdout).split('\0').filter(|f| !f.is_empty()) {
        let from = repo().join(f);
        if !from.is_file() {
            continue; // deleted, not yet committed
        }
        let to = git_repo.join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    let git = |args: &[&str]| {
        ok(
            Command::new(&git_program)
                .args([
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@t",
                    "-c",
                    "commit.gpgsign=false",
                ])
                .args(args)
                .env("GIT_AUTHOR_DATE", "2025-01-01T00:00:00Z")
                .env("GIT_COMMITTER_DATE", "2025-01-01T00:00:00Z")
                .current_dir(&git_repo),
            &format!("git {args:?}"),
        )
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "abimatrix"]);
    let git_url = format!("file://{}", git_repo.display());

    let wheel = manylinux_x86_64();
    let release_url = format!("{url}/releases/download/v{VERSION}/{}", wheel.name());
    let wheel_url = format!("file://{}", wheel.path.display());

    let mut kinds = BTreeSet::new();
    for (i, command) in commands.iter().enumerate() {
        let kind = if command.starts_with("pip install ") {
            "pip"
        } else if command.starts_with("cargo install ") {
            "cargo"
        } else {
            panic!("the README's Install block has a command this test cannot run: {command}")
        };
        let source = if command.contains(&release_url) {
            "release wheel"
        } else if command.contains(&format!("git+{url}"))
            || command.contains(&format!("--git {url}"))
        {
            "git"
        } else if command.ends_with(" .") {
            "checkout"
        } else {
            panic!(
                "`{command}`: installs from neither the checkout (.), the git URL ({url}) nor the release wheel ({release_url})"
            )
        };
        kinds.insert(format!("{kind} from the {source}"));
        let runnable = command
            .replace(&release_url, &wheel_url)
            .replace(&format!("git+{url}"), &format!("git+{git_url}"))
            .replace(&format!("--git {url}"), &format!("--git {git_url}"));
        let place = tmp.path().join(format!("install-{i}"));
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &runnable]).current_dir(repo());
        let bin = if kind == "pip" {
            let bin = venv(&place);
            cmd.env("PATH", path_with_tools(&[&bin]))
                .env("VIRTUAL_ENV", &place)
                .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
            bin
        } else {
            cmd.env("CARGO_INSTALL_ROOT", &place);
            place.join("bin")
        };
        // Builds from a new folder each time (pip's clone) do not share a
        // target directory with those from the checkout: each would
        // rebuild what the other built.
        let dir = if source == "git" { MOVING } else { CHECKOUT };
        fast_release(&mut cmd, dir);
        {
            let _turn = build_lock(dir);
            ok(&mut cmd, &format!("README: {command} (run as: {runnable})"));
        }
        let version = ok(
            Command::new(bin.join("matrix")).arg("--version"),
            &format!("matrix --version after `{command}`"),
        );
        assert_eq!(
            text(&version.stdout),
            format!("matrix {VERSION}\n"),
            "{command}"
        );
    }
    assert_eq!(
        kinds,
        BTreeSet::from([
            "pip from the checkout".to_string(),
            "cargo from the checkout".to_string(),
            "pip from the git".to_string(),
            "cargo from the git".to_string(),
            "pip from the release wheel".to_string(),
        ]),
        "the README shows each way to install that works before a release"
    );
}
