//! The live tier: the only tests that ask the real package indexes (PyPI,
//! crates.io). Every other test runs on the suite's own index, PyPI as
//! pinned under `tests/index/` (see `suite`), and builds abimatrix from
//! crates vendored into the suite's cache (`tools::own_crates`); these
//! check that PyPI still answers as the snapshot says, that abimatrix works
//! against PyPI itself, and that crates.io would take the crate. When one
//! fails because PyPI changed (a release yanked, a file gone), pin again:
//! `python3 tests/support/index.py record --snapshot tests/index PROJECT`.

use std::process::Command;

use crate::common::{self, Project, text};
use crate::releases::{listed, oracle};
use crate::suite;
use crate::tools::{CRATE, VERSION, cargo_on_the_crate, repo};

const PYPI: &str = "https://pypi.org/simple";

/// The variables that point uv, pip and abimatrix at the suite's index,
/// removed: `cmd` uses PyPI, as a user's does.
fn on_pypi(cmd: &mut Command) -> &mut Command {
    cmd.env_remove("UV_DEFAULT_INDEX")
        .env_remove("UV_INDEX_URL")
        .env_remove("PIP_INDEX_URL")
}

/// Every pinned file is still on PyPI with the same URL, sha256,
/// requires-python and yanked state, and PyPI lists no file uploaded
/// before the pin that the snapshot lacks.
#[test]
fn pypi_still_serves_the_pinned_snapshot() {
    let out = Command::new("python3")
        .arg(repo().join("tests/support/index.py"))
        .args(["check", "--snapshot"])
        .arg(suite::snapshot())
        .output()
        .expect("python3");
    let said = text(&out.stdout);
    let report: serde_json::Value =
        serde_json::from_str(&said).unwrap_or_else(|e| panic!("{e}: {said}{}", text(&out.stderr)));
    let checked = report["checked"].as_array().map_or(0, Vec::len);
    assert!(checked >= 20, "every pinned project is checked: {said}");
    assert!(
        out.status.success(),
        "PyPI no longer answers as the snapshot under tests/index/ says; pin the projects again:\n{said}"
    );
}

/// abimatrix against PyPI itself: every release `all` lists is one with a
/// wheel for the interpreter (as an oracle reading PyPI's page says), and
/// a real cell installs NumPy from PyPI and records it as the source.
#[test]
fn a_grid_on_pypi_itself() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        "[python]\nversions = [\"3.11\"]\n[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"all\"]\n",
    );
    let mut list = common::matrix();
    list.args(["--color", "never", "run", "--list"])
        .current_dir(p.dir.path());
    let out = on_pypi(&mut list).output().expect("matrix");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ours: Vec<String> = listed(&out).into_iter().map(|(_, r)| r).collect();
    assert_eq!(ours, oracle(PYPI, "cp311"));

    p.write(
        "matrix.toml",
        "[python]\nversions = [\"3.11\"]\n[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n",
    );
    let mut run = common::matrix();
    run.args(["run", "-q", "--color", "never", "--json", "results.json"])
        .current_dir(p.dir.path());
    let out = on_pypi(&mut run).output().expect("matrix");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let results = common::read_json(&p.path("results.json"));
    let axes = &results["grids"][0]["axes"];
    assert_eq!(axes["runtime"][0]["index"], PYPI, "{results}");
    assert_eq!(results["cells"][0]["outcome"], "pass", "{results}");
}

/// `cargo publish --dry-run --locked`, what the release job runs before
/// publishing: crates.io's index resolves every dependency, and only the
/// upload is left out. Without its verification build (`--no-verify`):
/// `packaging::the_crate_packages_everything_the_binary_embeds` builds the
/// same packaged files from the same crates (`Cargo.lock`'s, vendored with
/// their checksums), and built again here from crates.io's copies they
/// cost a minute of the suite's time for nothing more. `--allow-dirty`
/// only because tests run on a working tree.
#[test]
fn crates_io_would_take_the_crate() {
    let publish = common::ok(
        &mut cargo_on_the_crate(
            CRATE,
            &[
                "publish",
                "--dry-run",
                "--locked",
                "--no-verify",
                "--allow-dirty",
            ],
        ),
        "cargo publish --dry-run --locked --no-verify",
    );
    let log = text(&publish.stderr);
    assert!(
        log.contains(&format!("Packaging abimatrix v{VERSION}"))
            && log.contains(&format!("Uploading abimatrix v{VERSION}"))
            && log.contains("aborting upload due to dry run"),
        "{log}"
    );
}
