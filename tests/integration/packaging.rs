//! abimatrix as users get it: the wheel `pip install abimatrix` (or `uvx
//! abimatrix`, or `pip install .`) installs, and the nightly workflow the
//! README tells them to copy into their repository.
//!
//! `pyproject.toml` packages the `matrix` binary the way ruff and uv ship
//! theirs: maturin builds the crate's one binary into a `py3-none` wheel
//! whose only files outside its metadata are `matrix` and `abimatrix` (a
//! small program that runs the `matrix` beside it, for `uvx abimatrix`). The first test installs
//! maturin from the package index into a fresh virtual environment, builds
//! the wheel with it, installs the wheel into another fresh virtual
//! environment and runs the installed `matrix`: it reports the crate's
//! version and runs a real 1 × 1 grid that passes.
//!
//! A release build takes minutes on 2 cores, so maturin builds the profile
//! `cargo test` built `matrix` in, unstripped (pyproject.toml strips release
//! wheels), into a target directory of its own beside Cargo's (kept between
//! runs, so only the first run compiles). Not Cargo's own: even a build
//! that compiles nothing re-links `target/<profile>/matrix` from
//! `deps/`, and for that instant the binary every other test runs does not
//! exist (tests failed with "No such file or directory" while this one
//! ran). The test checks that binary is untouched.
//!
//! The second test validates `.github/workflows/nightly-grid.yml` against
//! GitHub's workflow schema (check-jsonschema, from the index; a broken
//! copy must fail it), then checks what a schema cannot: every job has a
//! time limit, runs do not overlap, the baseline is saved and the gate runs
//! whatever failed before them, and every `matrix` option and plan field
//! the workflow uses exists in this build.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use crate::common::{Project, matrix, numpy, ok, program, read_json, text};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const WORKFLOW: &str = ".github/workflows/nightly-grid.yml";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh virtual environment at `dir`, made by the machine's python3
/// (without pip of its own: `pip` below installs into it); returns its bin
/// folder.
fn venv(dir: &Path) -> PathBuf {
    ok(
        Command::new(program(&["python3"], "python3"))
            .args(["-m", "venv", "--without-pip"])
            .arg(dir),
        "python3 -m venv",
    );
    dir.join("bin")
}

/// `pip install ARGS` into the environment of `bin`, by the machine's
/// python3's pip (`--python`), from the package index unless ARGS say not.
fn pip_install(bin: &Path, args: &[&OsStr]) {
    let mut cmd = Command::new(program(&["python3"], "python3"));
    cmd.args(["-m", "pip", "--disable-pip-version-check", "--python"])
        .arg(bin.join("python"))
        .args(["install", "--quiet"])
        .args(args);
    ok(&mut cmd, &format!("pip install {args:?}"));
}

/// Where and how Cargo built the `matrix` binary the other tests run:
/// `<target-dir>/[<triple>/]<profile-dir>/matrix`.
struct CargoBuild {
    target_dir: PathBuf,
    triple: Option<String>,
    profile: String,
}

fn cargo_build() -> CargoBuild {
    let exe = Path::new(env!("CARGO_BIN_EXE_matrix"));
    let profile_dir = exe.parent().expect("profile dir");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_string(),
        Some(name) => name.to_string(),
        None => panic!("odd binary path {}", exe.display()),
    };
    let above = profile_dir.parent().expect("target dir");
    // `cargo test --target T` builds under <target-dir>/T/.
    let name = above.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match above.parent() {
        Some(root) if name.matches('-').count() >= 2 && root.join("CACHEDIR.TAG").exists() => {
            CargoBuild {
                target_dir: root.to_path_buf(),
                triple: Some(name.to_string()),
                profile,
            }
        }
        _ => CargoBuild {
            target_dir: above.to_path_buf(),
            triple: None,
            profile,
        },
    }
}

/// What changes when a file is written or replaced.
fn identity(path: &Path) -> (u64, i64, i64, u64) {
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (m.ino(), m.mtime(), m.mtime_nsec(), m.len())
}

#[test]
fn the_wheel_installs_a_matrix_that_runs_a_grid() {
    let start = Instant::now();
    let tmp = tempfile::tempdir().expect("temp dir");

    // maturin, from the index, in an environment of its own.
    let tools = venv(&tmp.path().join("tools"));
    pip_install(&tools, &["maturin>=1.9,<2".as_ref()]);
    let installed_maturin = start.elapsed();

    // The wheel, from Cargo's own build of `matrix`.
    let build = cargo_build();
    let exe = Path::new(env!("CARGO_BIN_EXE_matrix"));
    let before = identity(exe);
    let dist = tmp.path().join("dist");
    let own_target = build.target_dir.join("packaging-test");
    let mut cmd = Command::new(tools.join("maturin"));
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(repo().join("Cargo.toml"))
        .args(["--profile", &build.profile, "--strip", "false", "--locked"])
        .arg("--target-dir")
        .arg(&own_target)
        .arg("--out")
        .arg(&dist);
    if let Some(triple) = &build.triple {
        cmd.args(["--target", triple]);
    }
    let built = ok(&mut cmd, "maturin build");
    let maturin_log = format!("{}{}", text(&built.stdout), text(&built.stderr));
    let wheel_built = start.elapsed();
    assert!(
        identity(exe) == before,
        "maturin's build touched the `matrix` the other tests run ({})",
        exe.display()
    );

    let wheels: Vec<PathBuf> = std::fs::read_dir(&dist)
        .expect("maturin's --out folder")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(wheels.len(), 1, "one wheel: {wheels:?}\n{maturin_log}");
    let wheel = &wheels[0];
    let wheel_name = wheel.file_name().unwrap().to_str().unwrap();
    assert!(
        wheel_name.starts_with(&format!("abimatrix-{VERSION}-py3-none-"))
            && wheel_name.ends_with(".whl"),
        "a binary wheel for any Python 3, named for the crate's version: {wheel_name}"
    );

    // Only `matrix` in it, besides its metadata, and the metadata is ours.
    const LIST: &str = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint('\\n'.join(z.namelist()))\nprint('---')\nprint(z.read([n for n in z.namelist() if n.endswith('.dist-info/METADATA')][0]).decode())";
    let listing = ok(
        Command::new(tools.join("python"))
            .args(["-c", LIST])
            .arg(wheel),
        "reading the wheel",
    );
    let listing = text(&listing.stdout);
    let (names, metadata) = listing.split_once("\n---\n").expect("listing");
    let payload: Vec<&str> = names
        .lines()
        .filter(|n| !n.starts_with(&format!("abimatrix-{VERSION}.dist-info/")))
        .collect();
    let mut payload = payload;
    payload.sort();
    assert_eq!(
        payload,
        [
            format!("abimatrix-{VERSION}.data/scripts/abimatrix"),
            format!("abimatrix-{VERSION}.data/scripts/matrix"),
        ],
        "the wheel installs `matrix` and the small `abimatrix` that runs it, nothing else:\n{names}"
    );
    for field in [
        "Name: abimatrix".to_string(),
        format!("Version: {VERSION}"),
        "Requires-Python: >=3.8".to_string(),
        "License-Expression: MIT".to_string(),
    ] {
        assert!(
            metadata.lines().any(|l| l == field),
            "METADATA lacks `{field}`:\n{metadata}"
        );
    }

    // Installed into a fresh environment, as pip installs it from PyPI.
    let env_dir = tmp.path().join("users-env");
    let users = venv(&env_dir);
    pip_install(
        &users,
        &[
            "--no-index".as_ref(),
            "--no-deps".as_ref(),
            wheel.as_os_str(),
        ],
    );
    let installed = users.join("matrix");
    let meta = std::fs::symlink_metadata(&installed)
        .unwrap_or_else(|e| panic!("pip installed no {}: {e}", installed.display()));
    assert!(
        meta.is_file() && meta.permissions().mode() & 0o111 != 0,
        "{} is an executable file of its own: {meta:?}",
        installed.display()
    );

    let version = ok(
        Command::new(&installed).arg("--version"),
        "matrix --version",
    );
    assert_eq!(text(&version.stdout), format!("matrix {VERSION}\n"));
    // The package's name as a command (what `uvx abimatrix` runs) is the
    // same program.
    let by_name = ok(
        Command::new(users.join("abimatrix")).arg("--version"),
        "abimatrix --version",
    );
    assert_eq!(text(&by_name.stdout), format!("matrix {VERSION}\n"));

    // A real grid, by the installed binary, in a project folder.
    let p = Project::new();
    p.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
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
    let cells = results["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 1, "a 1 × 1 grid: {dump}");
    assert_eq!(cells[0]["build"], cells[0]["runtime"], "{dump}");
    assert!(
        cells[0]["build"]
            .as_str()
            .is_some_and(|v| v.starts_with("2.0.")),
        "{dump}"
    );
    assert_eq!(cells[0]["outcome"], "pass", "{dump}");
    assert_eq!(cells[0]["met"], true, "{dump}");

    eprintln!(
        "packaging: maturin installed in {:.1?}, wheel built in {:.1?}, all in {:.1?}",
        installed_maturin,
        wheel_built - installed_maturin,
        start.elapsed()
    );
}

/// The workflow as JSON, read by ruamel.yaml (YAML 1.2, so `on:` stays a
/// key) from the environment of `bin`.
fn yaml_as_json(bin: &Path, path: &Path) -> Value {
    const LOAD: &str = "import json, sys\nfrom ruamel.yaml import YAML\njson.dump(YAML(typ='safe', pure=True).load(open(sys.argv[1])), sys.stdout)";
    let out = ok(
        Command::new(bin.join("python"))
            .args(["-c", LOAD])
            .arg(path),
        "reading the workflow",
    );
    serde_json::from_slice(&out.stdout).expect("the workflow as JSON")
}

/// Every string in `v`.
fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn steps(job: &Value) -> &Vec<Value> {
    job["steps"].as_array().expect("steps")
}

fn condition(step: &Value) -> &str {
    step["if"].as_str().unwrap_or("")
}

fn uses(step: &Value, action: &str) -> bool {
    step["uses"]
        .as_str()
        .is_some_and(|u| u.starts_with(&format!("{action}@")))
}

#[test]
fn the_nightly_workflow_is_valid_and_fails_when_it_should() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let tools = venv(&tmp.path().join("tools"));
    pip_install(&tools, &["check-jsonschema".as_ref()]);
    let path = repo().join(WORKFLOW);

    let check = |file: &Path| {
        Command::new(tools.join("check-jsonschema"))
            .args(["--builtin-schema", "vendor.github-workflows"])
            .arg(file)
            .output()
            .expect("check-jsonschema")
    };
    let valid = check(&path);
    assert!(
        valid.status.success() && text(&valid.stdout).contains("ok -- validation done"),
        "{WORKFLOW} is not a valid workflow:\n{}{}",
        text(&valid.stdout),
        text(&valid.stderr)
    );
    // The check can fail: a job without `runs-on` is refused.
    let source = std::fs::read_to_string(&path).expect("workflow");
    let broken = tmp.path().join("broken.yml");
    std::fs::write(
        &broken,
        source.replacen(
            "    runs-on: ubuntu-latest\n",
            "    runs-on-typo: ubuntu-latest\n",
            1,
        ),
    )
    .unwrap();
    assert!(
        !check(&broken).status.success(),
        "check-jsonschema accepted a job without runs-on"
    );

    let wf = yaml_as_json(&tools, &path);
    assert!(
        wf["on"]["schedule"][0]["cron"].is_string(),
        "nightly: {}",
        wf["on"]
    );
    assert!(
        wf["on"]
            .as_object()
            .unwrap()
            .contains_key("workflow_dispatch"),
        "and by hand: {}",
        wf["on"]
    );
    assert!(
        wf["concurrency"]["group"]
            .as_str()
            .is_some_and(|g| !g.is_empty()),
        "a concurrency group: {}",
        wf["concurrency"]
    );

    let jobs = wf["jobs"].as_object().expect("jobs");
    assert_eq!(
        jobs.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(["plan", "build", "shard", "merge"])
    );
    for (name, job) in jobs {
        assert!(
            job["timeout-minutes"].as_u64().is_some_and(|m| m > 0),
            "job {name} has no timeout-minutes"
        );
        let install = steps(job)
            .iter()
            .filter_map(|s| s["run"].as_str())
            .any(|r| r.contains("pip\" install") || r.contains("pip install"));
        assert!(install, "job {name} installs abimatrix with pip");
    }

    // The plan's JSON is the shards' job matrix; a failing shard neither
    // cancels the others nor loses its results.
    let shard = &wf["jobs"]["shard"];
    assert_eq!(
        shard["strategy"]["matrix"],
        "${{ fromJSON(needs.plan.outputs.matrix) }}"
    );
    assert_eq!(shard["strategy"]["fail-fast"], false);
    for s in steps(shard)
        .iter()
        .filter(|s| uses(s, "actions/upload-artifact"))
    {
        assert!(condition(s).contains("always()"), "shard upload: {s}");
    }

    // The merge runs whatever happened to the shards; the baseline is
    // saved and the gate runs whatever failed before them.
    let merge = &wf["jobs"]["merge"];
    assert!(condition(merge).contains("always()"), "merge: {merge}");
    let merge_steps = steps(merge);
    let save = merge_steps
        .iter()
        .find(|s| uses(s, "actions/cache/save"))
        .expect("the merge saves the baseline");
    assert_eq!(condition(save), "always()", "baseline save: {save}");
    let restore = merge_steps
        .iter()
        .find(|s| uses(s, "actions/cache/restore"))
        .expect("the merge restores last night's baseline");
    assert_eq!(restore["with"]["path"], save["with"]["path"]);
    let prefix = restore["with"]["restore-keys"]
        .as_str()
        .expect("restore-keys")
        .trim();
    assert!(
        save["with"]["key"].as_str().unwrap().starts_with(prefix),
        "last night's baseline is found by its key prefix: {prefix}"
    );
    let diff = merge_steps
        .iter()
        .find(|s| s["run"].as_str().is_some_and(|r| r.contains("matrix diff")))
        .expect("a diff step");
    let diff_id = diff["id"].as_str().expect("the diff step has an id");
    assert!(diff["run"].as_str().unwrap().contains("GITHUB_OUTPUT"));
    let gate = merge_steps.last().unwrap();
    assert_eq!(condition(gate), "always()", "gate: {gate}");
    assert!(
        gate["run"]
            .as_str()
            .is_some_and(|r| r.contains("matrix report grid.json --format text")),
        "the last step is the gate: {gate}"
    );
    let gate_reads_diff = format!("steps.{diff_id}.outputs.status");
    let mut gate_strings = Vec::new();
    strings(gate, &mut gate_strings);
    assert!(
        gate_strings.iter().any(|s| s.contains(&gate_reads_diff)),
        "the gate fails on a worse diff ({gate_reads_diff}): {gate}"
    );

    // Every option the workflow gives `matrix` exists in this build.
    let command =
        regex::Regex::new(r"(?:^|[\s(])matrix\s+(run|plan|merge|report|diff)\b([^|;&)>\n]*)")
            .unwrap();
    let option = regex::Regex::new(r"(?:^|\s)(--[a-z][a-z-]*|-[a-zA-Z])\b").unwrap();
    let mut checked = 0;
    for job in jobs.values() {
        for script in steps(job).iter().filter_map(|s| s["run"].as_str()) {
            let script = script.replace("\\\n", " ");
            for c in command.captures_iter(&script) {
                let help = ok(matrix().args([&c[1], "--help"]), "matrix --help");
                let help = text(&help.stdout);
                for o in option.captures_iter(&c[2]) {
                    let flag = &o[1];
                    let known = if flag.starts_with("--") {
                        help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n"))
                    } else {
                        help.contains(&format!("{flag}, "))
                    };
                    assert!(
                        known,
                        "`matrix {} {flag}` in {WORKFLOW} is not an option of this build:\n{help}",
                        &c[1]
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(
        checked >= 15,
        "only {checked} options found in the workflow's scripts"
    );

    // Every `matrix.KEY` the workflow reads is in every shard of a real plan.
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "[python]\nversions = [\"3.11\", \"3.12\"]\n{}",
            numpy(&["1.26.*", "2.0.*"], &["1.26.*", "2.0.*"])
        ),
    );
    let plan = ok(
        matrix()
            .args(["plan", "-c"])
            .arg(p.path("matrix.toml"))
            .args(["--shards", "3", "--format", "github"]),
        "matrix plan",
    );
    let plan: Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    let include = plan["include"].as_array().expect("include");
    assert_eq!(include.len(), 3, "{plan}");
    let expression = regex::Regex::new(r"\$\{\{(.*?)\}\}").unwrap();
    let key = regex::Regex::new(r"\bmatrix\.([A-Za-z_][A-Za-z0-9_-]*)").unwrap();
    let mut all = Vec::new();
    strings(&wf, &mut all);
    let keys: BTreeSet<&str> = all
        .iter()
        .flat_map(|s| expression.captures_iter(s))
        .flat_map(|e| {
            key.captures_iter(e.get(1).unwrap().as_str())
                .collect::<Vec<_>>()
        })
        .map(|k| k.get(1).unwrap().as_str())
        .collect();
    assert!(
        keys.is_superset(&BTreeSet::from(["shard", "index", "python"])),
        "{keys:?}"
    );
    for entry in include {
        for k in &keys {
            assert!(entry.get(*k).is_some(), "plan entry lacks `{k}`: {entry}");
        }
        assert!(entry["python"].is_array(), "{entry}");
    }
}
