//! Maintainers' mode, for real: projects built with setuptools and
//! meson-python against each build NumPy, published wheels from the index,
//! test commands, and `matrix explain`.

use crate::common;
use crate::common::{Project, matrix};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn project_matrix(project: &str, package: &str, extra: &str) -> String {
    format!(
        "[numpy]\nbuild = [\"1.26.*\", \"2.0.*\"]\nruntime = [\"1.26.*\", \"2.0.*\"]\n\
         [extension]\nproject = \"{}\"\nimports = [\"{package}\", \"{package}._native\"]\n{extra}\
         [run]\nexpect = \"numpy-rules\"\n",
        fixture(project)
    )
}

/// Both fixture projects, built with their own backends against 1.26 and
/// 2.0, behave as NumPy's rules say, and each build saw exactly its NumPy.
#[test]
fn a_setuptools_project_through_a_real_grid() {
    project_through_a_real_grid("setuptools_pkg", "npdemo");
}

#[test]
fn a_meson_python_project_through_a_real_grid() {
    project_through_a_real_grid("meson_pkg", "npmeson");
}

fn project_through_a_real_grid(project: &str, package: &str) {
    {
        let p = Project::new();
        let probe = format!("probe-file = \"{}\"\n", fixture("project_probe.py"));
        p.write("matrix.toml", &project_matrix(project, package, &probe));
        let run = p.run(&["--fresh"]);
        assert_eq!(run.code(), Some(0), "{project}\n{}", run.dump());
        assert_eq!(run.outcome("1.26.*", "1.26.*"), "pass");
        assert_eq!(run.outcome("2.0.*", "1.26.*"), "pass");
        assert_eq!(
            run.cell("1.26.*", "2.0.*")["reason"],
            "abi-major",
            "{project}"
        );
        for b in run.results()["grids"][0]["builds"].as_array().unwrap() {
            let log = b["log"].as_str().unwrap();
            assert!(
                log.contains(&format!(
                    "built against numpy {} (checked after the build)",
                    b["numpy"].as_str().unwrap()
                )),
                "{project}: {log}"
            );
            assert!(log.contains("--no-build-isolation"), "{log}");
        }
        // The user's tree is left as it was: builds run on a copy.
        assert!(
            !std::path::Path::new(&fixture(project))
                .join("build")
                .exists()
        );
    }
}

/// A test command instead of a probe: its exit status decides.
#[test]
fn a_test_command_decides_pass_and_fail() {
    let p = Project::new();
    let test = "test = \"python -c 'import npdemo, numpy; assert npdemo.shape_of(numpy.zeros((4, 5))) == (4, 5)'\"\n";
    p.write(
        "matrix.toml",
        &project_matrix("setuptools_pkg", "npdemo", test),
    );
    let run = p.run(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    assert_eq!(run.outcome("2.0.*", "2.0.*"), "pass");
    let failed = run.cell("1.26.*", "2.0.*");
    assert_eq!(failed["reason"], "abi-major", "{failed}");
    assert!(
        failed["command"].as_str().unwrap().contains("python -c"),
        "{failed}"
    );
}

/// pandas 2.0.3 (June 2023) was built against NumPy 1.x, a year before
/// NumPy 2.0 existed, and its metadata does not forbid NumPy 2: its Cython
/// modules import under 1.26 and refuse 2.x with Cython's dtype-size check.
/// The reason the grid reports is checked against what pandas really
/// printed. The wheel is fetched as a file too, for `wheels = [...]`.
#[test]
fn published_pandas_wheels_fail_under_numpy_2_with_dtype_size() {
    let p = Project::new();
    let dl = p.path("dist");
    common::pip_download("python3", "--only-binary", "pandas==2.0.3", &dl);
    p.write(
        "matrix.toml",
        "[numpy]\nruntime = [\"1.26.*\", \"2.0.*\"]\n\
         [extension]\nrequirement = \"pandas==2.0.3\"\nwheels = []\n",
    );
    // Two subjects at once is a config error, located.
    let bad = p.run(&[]);
    assert_eq!(bad.code(), Some(2), "{}", bad.dump());
    assert!(
        bad.stderr().contains("give exactly one subject"),
        "{}",
        bad.dump()
    );

    // The expectation names the row three ways: the requirement as
    // written, a wheel file glob, the row's label.
    for (subject, row) in [
        ("requirement = \"pandas==2.0.3\"", "pandas==2.0.3"),
        (
            "wheels = [\"dist/pandas-2.0.3-*.whl\"]",
            "pandas-2.0.3-*.whl",
        ),
        ("requirement = \"pandas==2.0.3\"", "pandas 2.0.3"),
    ] {
        p.write(
            "matrix.toml",
            &format!(
                "[numpy]\nruntime = [\"1.26.*\", \"2.0.*\"]\n[extension]\n{subject}\nimports = [\"pandas\"]\n\
                 probe = \"assert int(module.Series([1, 2, 3]).sum()) == 6\"\n\
                 [[expect]]\nrow = \"{row}\"\nruntime = \">=2\"\noutcome = \"fail\"\nreason = \"dtype-size\"\n\
                 [[expect]]\nrow = \"scipy*\"\noutcome = \"crash\"\n"
            ),
        );
        let run = p.run(&[]);
        assert_eq!(run.code(), Some(0), "{subject}\n{}", run.dump());
        let row = run.results()["grids"][0]["axes"]["build"][0]["label"]
            .as_str()
            .unwrap()
            .to_string();
        let r126 = run.resolved("runtime", "1.26.*");
        let r20 = run.resolved("runtime", "2.0.*");
        assert_eq!(
            run.cell_at(0, &row, &r126)["outcome"],
            "pass",
            "{}",
            run.dump()
        );
        let cell = run.cell_at(0, &row, &r20);
        assert_eq!(cell["reason"], "dtype-size", "{cell}");
        let message = cell["message"].as_str().unwrap();
        assert!(
            message.starts_with("numpy.dtype size changed, may indicate binary incompatibility")
        );
        assert!(
            cell["stderr"].as_str().unwrap().contains(message),
            "the message is pandas' own words"
        );
    }
}

/// scipy 1.11.4's metadata says numpy<1.28: under NumPy 2 the cell is
/// unavailable in the package's own words, and that is what is expected
/// (the package says so); --ignore-requires still runs it.
#[test]
fn metadata_that_forbids_a_numpy_is_reported_and_can_be_overridden() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        "[numpy]\nruntime = [\"2.0.*\"]\n[extension]\nrequirement = \"scipy==1.11.4\"\nimports = [\"scipy.linalg\"]\n",
    );
    let run = p.run(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let cell = &run.results()["cells"][0];
    assert_eq!(cell["outcome"], "unavailable", "{cell}");
    assert_eq!(cell["forbidden"], true, "{cell}");
    assert_eq!(
        (cell["met"].as_bool(), cell["expected"]["source"].as_str()),
        (Some(true), Some("declared")),
        "{cell}"
    );
    assert_eq!(
        cell["build"], "scipy 1.11.4",
        "rows are named by name and version"
    );
    assert!(
        cell["message"]
            .as_str()
            .unwrap()
            .contains("metadata forbids numpy 2.0"),
        "{cell}"
    );

    let forced = p.run(&["--ignore-requires"]);
    let cell = &forced.results()["cells"][0];
    assert_eq!(cell["outcome"], "fail", "{}", forced.dump());
    assert_ne!(
        cell["reason"], "other",
        "a NumPy 1 build of scipy under NumPy 2 fails for a known reason: {cell}"
    );
}

#[test]
fn explain_shows_the_commands_and_logs_of_a_cell() {
    let p = Project::new();
    p.write("matrix.toml", &common::numpy(&["1.26.*"], &["2.0.*"]));
    let run = p.run(&[]);
    let b = run.resolved("build", "1.26.*");
    let r = run.resolved("runtime", "2.0.*");
    let out = matrix()
        .args(["explain", &b, &r, "--results"])
        .arg(&run.json)
        // The probe's files in a folder of the test's, not of /tmp.
        .env("TMPDIR", p.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("fail (abi-major)"), "{text}");
    assert!(text.contains(&format!("build against numpy {b}")), "{text}");
    assert!(
        text.contains("$ gcc") || text.contains("$ cc"),
        "the compiler command is shown: {text}"
    );
    // The probe command can be re-run by hand after the run: its files live on.
    let cmd = run.cell("1.26.*", "2.0.*")["command"]
        .as_str()
        .unwrap()
        .to_string();
    let words = shlex::split(&cmd).unwrap();
    assert!(
        std::path::Path::new(&words[4]).exists(),
        "probe driver {} is gone",
        words[4]
    );
    let missing = matrix()
        .args(["explain", "9.9", "9.9", "--results"])
        .arg(&run.json)
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

/// The setuptools fixture copied into `p` as `proj/`, its `setup.py`
/// ending with `tail`.
fn setuptools_copy(p: &Project, tail: &str) {
    let from = std::path::PathBuf::from(fixture("setuptools_pkg"));
    for rel in [
        "pyproject.toml",
        "setup.py",
        "src/npdemo/__init__.py",
        "src/npdemo/_native.c",
    ] {
        let text = std::fs::read_to_string(from.join(rel)).unwrap();
        let text = if rel == "setup.py" {
            format!("{text}\n{tail}")
        } else {
            text
        };
        p.write(&format!("proj/{rel}"), &text);
    }
}

/// Whether `pid` runs (a zombie does not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
    })
}

/// The pid of the `left running: pid N {command}` line in `log`.
fn left_running(log: &str, command: &str) -> i32 {
    let line = log
        .lines()
        .find(|l| l.contains("left running: pid ") && l.contains(command))
        .unwrap_or_else(|| panic!("no process named as left running: {command}\n{log}"));
    line.split("left running: pid ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap()
}

/// A backend that leaves a build server running in a session of its own,
/// holding its output (uv then waits for that output to end): the build
/// that produced its wheel is not reported as failed, the server is named
/// in the build log and killed, and nothing of it outlives the run. A
/// backend that hangs with such a server ends at the build's time limit,
/// its process group killed and the server named and killed too.
#[test]
fn a_backend_daemon_fails_no_build_and_outlives_nothing() {
    let table = "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n";
    let config = |limit: &str| {
        format!(
            "{table}[extension]\nproject = \"proj\"\nimports = [\"npdemo\"]\nprobe = \"assert module.shape_of(np.zeros((2, 3))) == (2, 3)\"\n[run]\nbuild-timeout = \"{limit}\"\n"
        )
    };
    let build = |tail: &str, limit: &str| {
        let p = Project::new();
        setuptools_copy(&p, tail);
        p.write("matrix.toml", &config(limit));
        p.run_here(&["--fresh"])
    };
    // setup.py runs twice (asked for its requirements, then built): a
    // server each time, as a toolchain that starts one per invocation.
    let run = build(
        "import subprocess\nsubprocess.Popen([\"setsid\", \"sleep\", \"301\"])\n",
        "240s",
    );
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let log = run.results()["grids"][0]["builds"][0]["log"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(log.contains("Successfully built"), "{log}");
    let pid = left_running(&log, "sleep 301");
    assert!(!alive(pid), "the server {pid} outlived the run");

    // Hangs after starting its server, when asked to build the wheel.
    let run = build(
        "import subprocess, sys, time\nif \"bdist_wheel\" in sys.argv:\n    subprocess.Popen([\"setsid\", \"sleep\", \"302\"])\n    time.sleep(600)\n",
        "20s",
    );
    let build = &run.results()["grids"][0]["builds"][0];
    let summary = build["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("building the wheel: did not finish within 20s (its process group was killed, and left running: pid ")
            && summary.contains("sleep 302, killed"),
        "{}",
        run.dump()
    );
    let pid = left_running(build["log"].as_str().unwrap(), "sleep 302");
    assert!(!alive(pid), "the server {pid} outlived the run");
}
