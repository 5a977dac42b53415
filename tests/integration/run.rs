//! `matrix run` for real: the Python on PATH, real NumPy wheels from the
//! index, the real C compiler, real child processes.

use crate::common::{Project, VARIANT_EXTENSION, matrix, numpy};

/// A 2.x build imports and passes under 1.26 and 2.x; a 1.26 build fails
/// under 2.x with abi-major, as declared; a fake numpy planted on the host's
/// PYTHONPATH changes nothing.
#[test]
fn builds_against_two_numpys_and_classifies_abi_major() {
    let p = Project::new();
    p.write(
        "fake/numpy/__init__.py",
        "raise SystemExit('the host numpy leaked in')\n",
    );
    p.write(
        "matrix.toml",
        &format!(
            "{}[[expect]]\nbuild = \"<2\"\nruntime = \">=2\"\noutcome = \"fail\"\nreason = \"abi-major\"\n",
            numpy(&["1.26.*", "2.0.*"], &["1.26.*", "2.0.*", "2.4.*"])
        ),
    );
    let fake = p.path("fake");
    let run = p.run_with(
        &[],
        &[
            ("PYTHONPATH", fake.to_str().unwrap()),
            ("PYTHONHOME", "/nonexistent"),
        ],
    );
    assert_eq!(run.code(), Some(0), "{}", run.dump());

    for runtime in ["1.26.*", "2.0.*", "2.4.*"] {
        assert_eq!(
            run.outcome("2.0.*", runtime),
            "pass",
            "2.0 build under {runtime}\n{}",
            run.dump()
        );
    }
    assert_eq!(run.outcome("1.26.*", "1.26.*"), "pass");
    for runtime in ["2.0.*", "2.4.*"] {
        let cell = run.cell("1.26.*", runtime);
        assert_eq!(cell["outcome"], "fail", "{cell}");
        assert_eq!(cell["reason"], "abi-major", "{cell}");
        assert_eq!(cell["exception"], "ImportError", "{cell}");
        let message = cell["message"].as_str().unwrap();
        assert!(
            message.starts_with(
                "A module that was compiled using NumPy 1.x cannot be run in NumPy 2."
            ),
            "{message}"
        );
        assert!(
            cell["stderr"]
                .as_str()
                .unwrap()
                .contains("failed to import"),
            "{cell}"
        );
        assert_eq!(cell["met"], true);
    }
    // Resolution picked real releases of each series.
    assert!(run.resolved("build", "1.26.*").starts_with("1.26."));
    assert!(run.resolved("runtime", "2.4.*").starts_with("2.4."));
    // The grid and the reason list reach the terminal report.
    let out = run.stdout();
    assert!(out.contains("built with ↓ / runs on →"), "{out}");
    assert!(out.contains("abi-major (2 cells, expected)"), "{out}");
    assert_eq!(run.results()["schema_version"], 3);
    assert!(
        run.results()["cells"][0]["interpreter"]
            .as_str()
            .unwrap()
            .starts_with("CPython 3.")
    );
    assert_eq!(run.results()["summary"]["unmet"], 0);
}

/// Without an expectation the same failure makes the run exit 1 and says
/// which cells were unexpected.
#[test]
fn an_unexpected_failure_exits_1() {
    let p = Project::new();
    p.write("matrix.toml", &numpy(&["1.26.*"], &["2.0.*"]));
    let run = p.run(&[]);
    assert_eq!(run.code(), Some(1), "{}", run.dump());
    assert_eq!(run.cell("1.26.*", "2.0.*")["met"], false);
    assert!(
        run.stdout()
            .contains("expected pass by the default, got fail (abi-major)"),
        "{}",
        run.dump()
    );
}

/// The sample without its import_array() call dereferences NumPy's unset
/// API table: a SIGSEGV, reported as a crash with faulthandler's traceback.
#[test]
fn missing_import_array_is_a_crash_not_a_failure() {
    let p = Project::new();
    p.sample_variant(|c| format!("#define ABIMATRIX_SKIP_IMPORT_ARRAY 1\n{c}"));
    p.write(
        "matrix.toml",
        &format!(
            "{}{VARIANT_EXTENSION}[[expect]]\noutcome = \"crash\"\n",
            numpy(&["2.0.*"], &["2.0.*"])
        ),
    );
    let run = p.run(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let cell = run.cell("2.0.*", "2.0.*");
    assert_eq!(cell["outcome"], "crash", "{cell}");
    assert_eq!(cell["signal"], 11);
    assert_eq!(cell["signal_name"], "SIGSEGV");
    let tb = cell["traceback"].as_str().unwrap_or_default();
    // The probe file, by the path the run was given (`-c` absolute).
    assert!(
        tb.contains("Segmentation fault") && tb.contains("/ext/probe.py\", line "),
        "{tb}"
    );
    assert!(run.stdout().contains("☠ crash SIGSEGV"), "{}", run.dump());
}

/// A probe that sleeps past the limit is a timeout, reported within a second
/// or two of the limit, and a wrong answer is a failure, not a pass.
#[test]
fn hangs_time_out_and_wrong_answers_fail() {
    let p = Project::new();
    p.sample_variant(|c| c.to_string());
    p.write("ext/probe.py", "import time\ntime.sleep(120)\n");
    p.write(
        "matrix.toml",
        &format!(
            "{}{VARIANT_EXTENSION}[run]\ntimeout = \"2s\"\n",
            numpy(&["2.0.*"], &["2.0.*"])
        ),
    );
    let run = p.run(&[]);
    assert_eq!(run.code(), Some(1), "{}", run.dump());
    let cell = run.cell("2.0.*", "2.0.*");
    assert_eq!(cell["outcome"], "timeout", "{cell}");
    // At the limit, not after the probe's 120 s: the upper bound is far
    // above the normal 2.0-2.6 s, so load cannot break it.
    let took = cell["duration_s"].as_f64().unwrap();
    assert!(
        (2.0..30.0).contains(&took),
        "timeout reported after {took}s"
    );

    p.write(
        "ext/probe.py",
        "assert module.get_array_dim(np.zeros((2, 3))) == (3, 2), 'dims swapped'\n",
    );
    let run = p.run(&[]);
    let cell = run.cell("2.0.*", "2.0.*");
    assert_eq!(
        (cell["outcome"].as_str(), cell["reason"].as_str()),
        (Some("fail"), Some("wrong-result")),
        "{cell}"
    );
    // The probe's message, then where the assert failed and both sides.
    assert_eq!(
        cell["message"],
        format!(
            "dims swapped — {}, line 1: assert module.get_array_dim(np.zeros((2, 3))) == (3, 2), 'dims swapped'; left: (2, 3), right: (3, 2)",
            p.path("ext/probe.py").display()
        )
    );
}

/// NumPy 1.21 has no wheel for Python ≥ 3.11 (and 1.22.4 none for ≥ 3.11):
/// both are `unavailable`, never built from source.
#[test]
fn versions_without_a_wheel_are_unavailable() {
    crate::common::require(
        python_minor() >= (3, 11),
        "python3 on PATH to be 3.11 or newer (older ones have NumPy 1.21 wheels)",
    );
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "{}[[expect]]\nruntime = \"<1.23\"\noutcome = \"unavailable\"\n[[expect]]\nbuild = \"<1.23\"\noutcome = \"unavailable\"\n",
            numpy(&["2.0.*", "1.22.4"], &["2.0.*", "1.21.*"])
        ),
    );
    let run = p.run(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    assert_eq!(run.outcome("2.0.*", "2.0.*"), "pass");
    let cell = run.cell("2.0.*", "1.21.*");
    assert_eq!(cell["outcome"], "unavailable", "{cell}");
    assert!(
        cell["message"]
            .as_str()
            .unwrap()
            .contains("no wheel of numpy==1.21.*"),
        "{cell}"
    );
    let cell = run.cell("1.22.4", "2.0.*");
    assert_eq!(cell["outcome"], "unavailable", "{cell}");
    assert!(
        cell["message"]
            .as_str()
            .unwrap()
            .contains("build numpy 1.22.4"),
        "{cell}"
    );
    assert_eq!(
        run.results()["axes"]["runtime"][1]["version"],
        serde_json::Value::Null
    );
}

/// A compile error in one row marks that row build-failed with the compiler
/// output kept, and the other rows still run.
#[test]
fn a_compile_error_fails_its_row_only() {
    let p = Project::new();
    // Broken only against NumPy 2 headers.
    p.sample_variant(|c| {
        format!("{c}\n#if NPY_ABI_VERSION >= 0x02000000\nthis is not C;\n#endif\n")
    });
    p.write(
        "matrix.toml",
        &format!(
            "{}{VARIANT_EXTENSION}[[expect]]\nbuild = \">=2\"\noutcome = \"build-failed\"\n[[expect]]\nbuild = \"<2\"\nruntime = \">=2\"\noutcome = \"fail\"\n",
            numpy(&["1.26.*", "2.0.*"], &["1.26.*", "2.0.*"])
        ),
    );
    let run = p.run(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    assert_eq!(run.outcome("1.26.*", "1.26.*"), "pass");
    assert_eq!(run.outcome("1.26.*", "2.0.*"), "fail");
    for runtime in ["1.26.*", "2.0.*"] {
        let cell = run.cell("2.0.*", runtime);
        assert_eq!(cell["outcome"], "build-failed", "{cell}");
        assert!(
            cell["message"].as_str().unwrap().contains("error"),
            "{cell}"
        );
        assert!(
            cell["stderr"].as_str().unwrap().contains("this is not C"),
            "{cell}"
        );
    }
    let builds = run.results()["grids"][0]["builds"].as_array().unwrap();
    assert!(
        builds
            .iter()
            .any(|b| b["ok"] == false && b["log"].as_str().unwrap().contains("$ "))
    );
    assert!(
        run.stdout().contains("⚒ build-failed (2 cells, expected)"),
        "{}",
        run.dump()
    );
}

/// Without uv the fallback (python -m venv + pip) gives the same outcome.
#[test]
fn the_pip_fallback_gives_the_same_outcomes() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "{}[[expect]]\nbuild = \"<2\"\nruntime = \">=2\"\noutcome = \"fail\"\nreason = \"abi-major\"\n",
            numpy(&["1.26.*"], &["1.26.*", "2.0.*"])
        ),
    );
    let run = p.run(&["--installer", "pip"]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    assert!(run.results()["installer"].as_str().unwrap().contains("pip"));
    assert_eq!(run.outcome("1.26.*", "1.26.*"), "pass");
    assert_eq!(run.cell("1.26.*", "2.0.*")["reason"], "abi-major");
}

#[test]
fn a_bad_config_exits_2_naming_file_line_and_column() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        "[numpy]\nbuild = [\"1.26.*\"]\nruntime = [\"2.0.2\", \"2.x\"]\n",
    );
    let run = p.run(&[]);
    assert_eq!(run.code(), Some(2), "{}", run.dump());
    let err = run.stderr();
    let expected = format!(
        "{}:3:21: invalid version \"2.x\"",
        p.path("matrix.toml").display()
    );
    assert!(err.contains(&expected), "{err}");
    assert!(err.contains("expected an exact version"), "{err}");
    assert!(run.results.is_none(), "a bad config must not write results");

    let missing = matrix()
        .args(["run", "-c", "/nonexistent/matrix.toml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("matrix init"));
}

#[test]
fn a_missing_interpreter_is_located_in_the_config() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "[python]\ninterpreter = \"/nonexistent/python3\"\n{}",
            numpy(&["2.0.*"], &["2.0.*"])
        ),
    );
    let run = p.run(&[]);
    // A named interpreter that does not exist is a mistake in the config, so
    // it is reported like every other config error: exit 2, file:line:col.
    assert_eq!(run.code(), Some(2), "{}", run.dump());
    assert!(run.stderr().contains("matrix.toml:2:15"), "{}", run.dump());
    assert!(
        run.stderr()
            .contains("interpreter /nonexistent/python3 does not exist"),
        "{}",
        run.dump()
    );
    assert!(run.stderr().contains("hint:"), "{}", run.dump());
}

#[test]
fn init_writes_a_starter_that_run_accepts_and_never_overwrites() {
    let p = Project::new();
    let path = p.path("matrix.toml");
    let out = matrix().arg("init").arg(&path).output().unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("[numpy]") && text.contains("[[expect]]"));
    let again = matrix().arg("init").arg(&path).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

/// (major, minor) of the python3 on PATH.
fn python_minor() -> (u32, u32) {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys; print(sys.version_info[0], sys.version_info[1])",
        ])
        .output()
        .expect("python3 on PATH");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace().map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// What `ballast_wheel` runs: NumPy's wheel again, with a 2 GiB file
/// (`numpy/_ballast.bin`, zeros: the wheel stays small, the installed file
/// does not) listed in its RECORD like any other of NumPy's files, so the
/// tool hashes every byte of it when it makes or proves the environment.
const BALLAST: &str = r#"
import base64, hashlib, sys, zipfile
src, dest = sys.argv[1], sys.argv[2]
size, chunk = 2 << 30, b"\0" * (1 << 20)
digest = hashlib.sha256()
for _ in range(size // len(chunk)):
    digest.update(chunk)
b64 = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
    record = None
    for info in zin.infolist():
        if info.filename.endswith(".dist-info/RECORD"):
            record = info
            continue
        zout.writestr(info, zin.read(info))
    with zout.open("numpy/_ballast.bin", "w", force_zip64=True) as out:
        for _ in range(size // len(chunk)):
            out.write(chunk)
    text = zin.read(record).decode()
    zout.writestr(record.filename, text + f"numpy/_ballast.bin,sha256={b64},{size}\n")
"#;

/// NumPy `version`'s wheel for `python`, made 2 GiB larger (see
/// [`BALLAST`]), in `dir/wheels` under its own name.
fn ballast_wheel(p: &Project, python: &std::path::Path, version: &str) {
    let download = p.path("download");
    crate::common::pip_download(
        python,
        "--only-binary",
        &format!("numpy=={version}"),
        &download,
    );
    let wheel = std::fs::read_dir(&download)
        .expect("downloaded")
        .flatten()
        .map(|e| e.path())
        .find(|w| w.extension().is_some_and(|x| x == "whl"))
        .expect("a NumPy wheel");
    std::fs::create_dir_all(p.path("wheels")).expect("mkdir");
    crate::common::ok(
        std::process::Command::new(python)
            .args(["-c", BALLAST])
            .arg(&wheel)
            .arg(p.path("wheels").join(wheel.file_name().expect("a name"))),
        "adding the ballast",
    );
}

/// The probe of [`a_timeout_fires_on_time_while_a_large_environment_is_hashed`]:
/// under the large NumPy it waits (briefly) for the other cell to say it
/// started (the file `started`), then crashes; under any other it says it
/// started and sleeps 30 s.
fn crash_or_sleep(started: &std::path::Path) -> String {
    format!(
        r#"import os, time
started = {started:?}
if os.path.exists(os.path.join(os.path.dirname(np.__file__), "_ballast.bin")):
    for _ in range(15):
        if os.path.exists(started):
            break
        time.sleep(0.1)
    os.abort()
open(started, "w").close()
time.sleep(30)
"#
    )
}

/// A cell's time limit holds while the tool hashes a 2 GiB environment.
/// The column whose NumPy carries a 2 GiB file is cached by a first run;
/// in the second, its cell crashes, once the other column's cell has
/// started, so the tool proves that environment to the last byte (every
/// byte hashed, longer than a cell) while the other cell's probe sleeps
/// 30 s under a 0.5 s limit. That cell is a timeout reported before the
/// proof ends (the crash's line comes after the proof), near its limit:
/// with the hashing on the runtime, no timer fired until the proof was
/// done. Hashing 2 GiB takes at least 1.2 s on this machine's SHA-NI (as
/// fast as hashing gets; a machine without it takes longer, which only
/// widens the gap), and the proof starts within about 0.15 s of the other
/// cell: the timeout falls in the middle of it. The bound on the timeout
/// leaves 2 s for load. The order of the lines below holds the point
/// whatever the load.
#[test]
fn a_timeout_fires_on_time_while_a_large_environment_is_hashed() {
    let p = Project::new();
    // The 2 GiB file is on disk twice during the first run (uv's cache and
    // the environment, which abimatrix installs by copy): say so up front
    // rather than fail midway with a cell that could not be made. A fresh
    // clone's CI run once failed here on a disk left nearly full.
    let disk = nix::sys::statvfs::statvfs(p.path(".").as_path()).expect("statvfs");
    let free = disk.blocks_available() * disk.fragment_size();
    assert!(
        free >= 5 << 30,
        "this test needs 5 GiB free in {} (a 2 GiB NumPy in uv's cache and in the environment); {} MiB are free",
        p.path(".").display(),
        free >> 20
    );
    let python = crate::common::pyenv_python("3.11");
    ballast_wheel(&p, &python, "2.1.3");
    p.sample_variant(|c| c.to_string());
    p.write(
        "matrix.toml",
        &format!(
            "[python]\nversions = [\"3.11\"]\n{}{VARIANT_EXTENSION}[run]\ntimeout = \"500ms\"\n",
            numpy(&["2.0.*"], &["2.0.*", "wheels/numpy-*.whl"])
        ),
    );
    // Its own caches: the 2 GiB entry must not stay in the user's.
    let (cache, uv_cache) = (p.path("cache"), p.path("uv-cache"));
    let run = || {
        p.run_with(
            &["--cache-dir", cache.to_str().expect("utf-8")],
            &[("UV_CACHE_DIR", uv_cache.to_str().expect("utf-8"))],
        )
    };
    let warm = run();
    assert_eq!(warm.code(), Some(0), "{}", warm.dump());
    // The second run reads only abimatrix's cache: give uv's copy back.
    for spare in [&uv_cache, &p.path("download")] {
        std::fs::remove_dir_all(spare).expect("removing uv's cache");
    }
    p.write("ext/probe.py", &crash_or_sleep(&p.path("started")));
    let run = run();
    // The run finished and judged both cells.
    assert_eq!(run.code(), Some(1), "{}", run.dump());
    let build = run.resolved("build", "2.0.*");
    let plain = run.resolved("runtime", "2.0.*");
    let heavy = run.cell_at(0, &build, "2.1.3");
    assert_eq!(
        (heavy["outcome"].as_str(), heavy["signal_name"].as_str()),
        (Some("crash"), Some("SIGABRT")),
        "{heavy}"
    );
    let cell = run.cell_at(0, &build, &plain);
    assert_eq!(cell["outcome"], "timeout", "{cell}");
    let took = cell["duration_s"].as_f64().expect("a duration");
    assert!((0.5..2.5).contains(&took), "timeout reported after {took}s");
    // Reported while the large environment was still being proven.
    let stderr = run.stderr();
    let line = |what: &str| {
        stderr
            .find(what)
            .unwrap_or_else(|| panic!("no {what:?} in\n{}", run.dump()))
    };
    assert!(
        line(&format!("{build} → {plain}: timeout")) < line(&format!("{build} → 2.1.3: crash")),
        "{}",
        run.dump()
    );
}

/// Probe cells write their few files (output, result, the folder they run
/// in) on a RAM-backed filesystem when the machine has a roomy one and
/// `TMPDIR` is not set: creating and removing them on ext4 cost more than
/// the forks on a big grid. With `TMPDIR` set they go where it says, and a
/// `test` command's folder is on disk either way. The cell's own
/// `os.getcwd()` says where it ran.
#[test]
fn probe_cells_write_in_ram_unless_tmpdir_says_where() {
    let shm_is_tmpfs = std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1) == Some(&"/dev/shm") && f.get(2) == Some(&"tmpfs")
        });
    assert!(
        shm_is_tmpfs,
        "this test needs /dev/shm on tmpfs (as on this machine)"
    );
    let p = Project::new();
    p.sample_variant(str::to_string);
    p.write(
        "ext/probe.py",
        "import os\nassert False, 'ran in ' + os.getcwd()\n",
    );
    p.write(
        "matrix.toml",
        &format!("{}{VARIANT_EXTENSION}", numpy(&["2.0.*"], &["2.0.*"])),
    );
    let ran_in = |tmpdir: Option<&std::path::Path>| {
        let mut cmd = matrix();
        cmd.args([
            "run",
            "--color",
            "never",
            "--cache-dir",
            "cache",
            "--json",
            "out.json",
        ])
        .current_dir(p.dir.path())
        .env_remove("TMPDIR")
        .env_remove("XDG_RUNTIME_DIR");
        if let Some(dir) = tmpdir {
            cmd.env("TMPDIR", dir);
        }
        let out = cmd.output().expect("run matrix");
        let doc = crate::common::read_json(&p.path("out.json"));
        let message = doc["cells"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            message.contains("ran in /"),
            "{message}\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        message
    };
    let in_ram = ran_in(None);
    assert!(
        in_ram.contains("ran in /dev/shm/abimatrix-cells-"),
        "{in_ram}"
    );
    let own = p.path("own-tmp");
    std::fs::create_dir_all(&own).unwrap();
    let in_tmpdir = ran_in(Some(&own));
    assert!(
        in_tmpdir.contains(&format!("ran in {}/abimatrix-", own.display())),
        "{in_tmpdir}"
    );
}
