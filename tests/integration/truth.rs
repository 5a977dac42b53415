//! The cache never changes an answer, nothing hangs, and a cached grid runs
//! without a network: each as a user would meet it, on the real binary.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::common::{self, Project, matrix, numpy};

/// The cells of a run as (build, runtime, outcome, reason).
fn grid(run: &common::Run) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> = run.results()["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["build"].as_str().unwrap().to_string(),
                c["runtime"].as_str().unwrap().to_string(),
                c["outcome"].as_str().unwrap().to_string(),
                c["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

const HEADER_EXT: &str = r#"#define PY_SSIZE_T_CLEAN
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <Python.h>
#include <numpy/arrayobject.h>
#include "helper.h"
static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(ANSWER); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef ext = {PyModuleDef_HEAD_INIT, "ext", NULL, -1, methods};
PyMODINIT_FUNC PyInit_ext(void) { import_array(); return PyModule_Create(&ext); }
"#;

/// A header edited after a cached build: the warm run rebuilds (the
/// compiler's dependency list is re-hashed) and says what --fresh says.
#[test]
fn an_edited_header_rebuilds_without_fresh() {
    let p = Project::new();
    let cache = p.path("cache");
    let cache = cache.to_str().unwrap();
    p.write("src/ext.c", HEADER_EXT);
    p.write("src/helper.h", "#define ANSWER 1\n");
    p.write(
        "matrix.toml",
        &format!(
            "{}[extension]\nmodule = \"ext\"\nsources = [\"src/ext.c\"]\nprobe = \"assert module.answer() == 1\"\n",
            numpy(&["2.0.*"], &["2.0.*"])
        ),
    );
    let first = p.run(&["--cache-dir", cache]);
    assert_eq!(first.code(), Some(0), "{}", first.dump());
    let warm = p.run(&["--cache-dir", cache]);
    assert_eq!(common::builds_reused(&warm), [true], "{}", warm.dump());
    // Same size, same name, another value: only its content says so.
    p.write("src/helper.h", "#define ANSWER 2\n");
    let edited = p.run(&["--cache-dir", cache]);
    assert_eq!(
        common::builds_reused(&edited),
        [false],
        "the edited header must rebuild\n{}",
        edited.dump()
    );
    let fresh = p.run(&["--fresh"]);
    assert_eq!(grid(&edited), grid(&fresh));
    assert_eq!(grid(&edited)[0].3, "wrong-result", "{}", edited.dump());
}

/// A `python3.14` first on PATH that never answers: a run that asks for
/// 3.11 does not wait for it, and `matrix pythons` gives up on it.
#[test]
fn a_hanging_interpreter_holds_up_nothing() {
    let p = Project::new();
    let bin = p.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let hang = bin.join("python3.14");
    std::fs::write(&hang, "#!/bin/sh\nsleep 600\n").unwrap();
    std::fs::set_permissions(&hang, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    p.write(
        "matrix.toml",
        &format!(
            "[python]\nversions = [\"3.11\"]\n{}",
            numpy(&["2.0.*"], &["2.0.*"])
        ),
    );
    let start = Instant::now();
    let run = p.run_with(&[], &[("PATH", &path)]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    // Far below the 10 s a query may take: the candidate was never run.
    assert!(
        start.elapsed() < Duration::from_secs(9),
        "{:?}",
        start.elapsed()
    );

    let listed = matrix()
        .args(["pythons", "--json"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let rejected = doc["rejected"].as_array().unwrap();
    assert!(
        rejected
            .iter()
            .any(|r| r["path"] == hang.to_str().unwrap()
                && r["reason"] == "did not answer within 10 s"),
        "{rejected:?}"
    );
}

/// A probe that starts a daemon in a new session, holding the cell's
/// output, in both isolation modes: the cell ends when the probe does, the
/// daemon is named in the cell's output and killed.
#[test]
fn an_escaped_daemon_is_named_and_holds_up_no_cell() {
    let p = Project::new();
    p.sample_variant(|c| c.to_string());
    p.write(
        "ext/probe.py",
        "import subprocess, time\nsubprocess.Popen(['setsid', 'sleep', '77'])\ntime.sleep(0.5)\n",
    );
    p.write(
        "matrix.toml",
        &format!(
            "{}{}[run]\ntimeout = \"30s\"\n",
            numpy(&["2.0.*"], &["2.0.*"]),
            common::VARIANT_EXTENSION
        ),
    );
    for mode in ["process", "fork"] {
        let start = Instant::now();
        let run = p.run(&["--isolation", mode]);
        assert_eq!(run.code(), Some(0), "{mode}\n{}", run.dump());
        assert!(
            start.elapsed() < Duration::from_secs(25),
            "{mode}: waited for the daemon"
        );
        let cell = &run.results()["cells"][0];
        let stderr = cell["stderr"].as_str().unwrap();
        let named = stderr
            .lines()
            .find(|l| l.contains("left running after the cell ended") && l.ends_with("sleep 77]"))
            .unwrap_or_else(|| panic!("{mode}: the daemon is not named:\n{stderr}"));
        let pid: i32 = named
            .split("pid ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
            })
        });
        assert!(gone, "{mode}: sleep {pid} still runs");
    }
}

/// A warm grid in a namespace without any network: the same grid, from the
/// cache and the memo alone, with and without --offline; what the cache
/// lacks is an error naming it (exit 3), with how to fetch it.
#[test]
fn a_cached_grid_runs_without_a_network() {
    let online = std::process::Command::new("unshare")
        .args(["-rn", "true"])
        .status();
    common::require(
        online.is_ok_and(|s| s.success()),
        "`unshare -rn` (root, or user namespaces)",
    );
    let p = Project::new();
    let cache = p.path("cache");
    let cache = cache.to_str().unwrap();
    p.write(
        "matrix.toml",
        &format!(
            "{}[run]\nexpect = \"numpy-rules\"\n",
            numpy(&["1.26.*", "2.0.2"], &["1.26.*", "2.0.2"])
        ),
    );
    let warmed = p.run(&["--cache-dir", cache]);
    assert_eq!(warmed.code(), Some(0), "{}", warmed.dump());
    let offline = |extra: &[&str]| {
        let json = p.path("offline.json");
        let out = std::process::Command::new("unshare")
            .arg("-rn")
            .arg(env!("CARGO_BIN_EXE_matrix"))
            .args(["run", "-q", "--color", "never", "--cache-dir", cache, "-c"])
            .arg(p.path("matrix.toml"))
            .arg("--json")
            .arg(&json)
            .args(extra)
            .output()
            .unwrap();
        (out, json)
    };
    for extra in [&[][..], &["--offline"][..]] {
        let (out, json) = offline(extra);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc = common::read_json(&json);
        let cells = doc["cells"].as_array().unwrap().len();
        assert_eq!(cells, 4);
        assert_eq!(doc["summary"]["met"], 4, "{extra:?}");
    }
    // A cache that has never seen the index: the list of releases a series
    // is resolved from is what is missing, and it is named.
    let empty = p.path("empty-cache");
    p.write("matrix.toml", &numpy(&["2.0.2"], &["2.1.*"]));
    let out = std::process::Command::new("unshare")
        .arg("-rn")
        .arg(env!("CARGO_BIN_EXE_matrix"))
        .args(["run", "-q", "--offline", "--cache-dir"])
        .arg(&empty)
        .arg("-c")
        .arg(p.path("matrix.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("offline, and not in the cache: the list of NumPy releases on the index"),
        "{err}"
    );
    assert!(err.contains("run once without --offline"), "{err}");
}

/// `matrix explain` in a project's folder explains that project's last run,
/// not the last run on the machine, and says which file it read.
#[test]
fn explain_reads_the_last_run_of_this_config() {
    let a = Project::new();
    a.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
    let b = Project::new();
    b.write("matrix.toml", &numpy(&["1.26.*"], &["1.26.*"]));
    let ran = a.run_here(&[]);
    assert_eq!(ran.code(), Some(0), "{}", ran.dump());
    let build = ran.results()["cells"][0]["build"]
        .as_str()
        .unwrap()
        .to_string();
    // Another project runs last on this machine.
    assert_eq!(b.run_here(&[]).code(), Some(0));
    let out = matrix()
        .args(["explain", &build, &build])
        .current_dir(a.dir.path())
        // The probe's files in a folder of the test's, not of /tmp.
        .env("TMPDIR", a.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("(the last run of matrix.toml)"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{build} → {build}")));
}

/// The small things: a config that is not UTF-8 is located; a report that
/// cannot be written names the path given, not a temporary file; a program
/// that is not Python is said in one line; --cache-dir holds uv too.
#[test]
fn small_things_said_plainly() {
    let p = Project::new();
    std::fs::write(
        p.path("matrix.toml"),
        b"[numpy]\nbuild = [\"2.0.*\"] # caf\xe9\nruntime = [\"2.0.*\"]\n",
    )
    .unwrap();
    let run = p.run(&[]);
    assert_eq!(run.code(), Some(2), "{}", run.dump());
    assert!(
        run.stderr()
            .contains("matrix.toml:2:24: byte 0xE9 is not UTF-8"),
        "{}",
        run.dump()
    );

    p.write(
        "matrix.toml",
        &format!(
            "[python]\ninterpreter = \"/bin/ls\"\n{}",
            numpy(&["2.0.*"], &["2.0.*"])
        ),
    );
    let run = p.run(&[]);
    assert_eq!(run.code(), Some(2), "{}", run.dump());
    let said = run.stderr();
    let line = said
        .lines()
        .find(|l| l.contains("/bin/ls"))
        .unwrap_or_default();
    assert!(
        line.contains("/bin/ls is not a Python interpreter: it answered "),
        "{said}"
    );
    assert!(
        line.len() < 300,
        "one short line, not the query script: {said}"
    );

    p.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
    let cache = p.path("own-cache");
    let missing = p.path("no-such-dir/out.html");
    let run = p.run(&[
        "--cache-dir",
        cache.to_str().unwrap(),
        "--html",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(run.code(), Some(3), "{}", run.dump());
    let said = run.stderr();
    assert!(
        said.contains(&format!(
            "cannot write {}: No such file or directory",
            missing.display()
        )) && !said.contains("at path"),
        "{said}"
    );
    if which::which("uv").is_err() {
        assert!(
            cache.join("v2/tools/uv/bin/uv").is_file(),
            "uv lives in --cache-dir too"
        );
    }
}

/// An extension whose `answer()` is `ANSWER` from `h.h`, found on the
/// include search path, and a probe that wants 1.
fn answer_project(numpy_table: &str, extension_keys: &str) -> Project {
    let p = Project::new();
    p.write("src/ext.c", &HEADER_EXT.replace("\"helper.h\"", "\"h.h\""));
    p.write(
        "matrix.toml",
        &format!(
            "{numpy_table}[extension]\nmodule = \"ext\"\nsources = [\"src/ext.c\"]\nprobe = \"assert module.answer() == 1\"\n{extension_keys}"
        ),
    );
    p
}

/// A header of the same name created in an include folder searched
/// before the one the build read it from: the warm run rebuilds and says
/// what --fresh says (it once reused the build: the dependency list proved
/// what was read, not what would be read now).
#[test]
fn a_header_shadowing_the_one_read_rebuilds() {
    let p = answer_project(
        &numpy(&["2.0.*"], &["2.0.*"]),
        "include-dirs = [\"inc1\", \"inc2\"]\n",
    );
    std::fs::create_dir_all(p.path("inc1")).unwrap();
    p.write("inc2/h.h", "#define ANSWER 1\n");
    let cache = p.path("cache");
    let cache = cache.to_str().unwrap();
    let cold = p.run(&["--cache-dir", cache]);
    assert_eq!(cold.code(), Some(0), "{}", cold.dump());
    assert_eq!(
        common::builds_reused(&p.run(&["--cache-dir", cache])),
        [true]
    );
    p.write("inc1/h.h", "#define ANSWER 2\n");
    let warm = p.run(&["--cache-dir", cache]);
    let fresh = p.run(&["--fresh"]);
    assert_eq!(grid(&fresh)[0].3, "wrong-result", "{}", fresh.dump());
    assert_eq!(grid(&warm), grid(&fresh), "{}", warm.dump());
    assert_eq!(common::builds_reused(&warm), [false], "{}", warm.dump());
}

/// The include paths the compiler takes from its environment (`CPATH`,
/// `C_INCLUDE_PATH`) are part of what a build is checked by: pointed at
/// another `h.h`, the warm run says what --fresh says. What the compiler does not read
/// (`CC`, `CFLAGS`, `LDFLAGS` of the shell: the tool compiles with
/// sysconfig's settings and `extension.cflags`) changes nothing.
#[test]
fn the_compilers_environment_is_part_of_the_key() {
    let p = answer_project(&numpy(&["2.0.*"], &["2.0.*"]), "");
    p.write("one/h.h", "#define ANSWER 1\n");
    p.write("two/h.h", "#define ANSWER 2\n");
    let cache = p.path("cache");
    let cache = cache.to_str().unwrap();
    let (one, two) = (p.path("one"), p.path("two"));
    let (one, two) = (one.to_str().unwrap(), two.to_str().unwrap());
    for variable in ["CPATH", "C_INCLUDE_PATH"] {
        let cold = p.run_with(&["--cache-dir", cache], &[(variable, one)]);
        assert_eq!(cold.code(), Some(0), "{variable}\n{}", cold.dump());
        let warm = p.run_with(&["--cache-dir", cache], &[(variable, two)]);
        let fresh = p.run_with(&["--fresh"], &[(variable, two)]);
        assert_eq!(grid(&fresh)[0].3, "wrong-result", "{}", fresh.dump());
        assert_eq!(grid(&warm), grid(&fresh), "{variable}\n{}", warm.dump());
    }
    let back = p.run_with(&["--cache-dir", cache], &[("CPATH", one)]);
    assert_eq!(back.code(), Some(0), "{}", back.dump());
    let shell = [
        ("CPATH", one),
        ("CC", "/bin/false"),
        ("CFLAGS", "-DANSWER=2"),
        ("LDFLAGS", "-lno-such-library"),
    ];
    let ignored = p.run_with(&["--cache-dir", cache], &shell);
    assert_eq!(ignored.code(), Some(0), "{}", ignored.dump());
    assert_eq!(
        common::builds_reused(&ignored),
        [true],
        "{}",
        ignored.dump()
    );
}

/// `#include "/dev/stdin"`: a dependency that is not a regular file. The
/// build is not cached (said once), so the warm run builds again instead
/// of blocking on matrix's own stdin while it re-hashes what was read.
#[test]
fn a_dependency_that_is_not_a_file_is_never_rehashed() {
    let p = answer_project(&numpy(&["2.0.*"], &["2.0.*", "1.26.*"]), "");
    p.write(
        "src/ext.c",
        &format!(
            "#include \"/dev/stdin\"\n{}",
            HEADER_EXT.replace("\"helper.h\"", "\"h.h\"")
        ),
    );
    p.write("src/h.h", "#define ANSWER 1\n");
    let cache = p.path("cache");
    for run in ["cold", "warm"] {
        let json = p.path(&format!("{run}.json"));
        // A stdin that stays open and never says anything: reading it
        // would block for as long as the test waits.
        let out = common::bounded(
            matrix()
                .args(["run", "--color", "never", "--cache-dir"])
                .arg(&cache)
                .arg("--json")
                .arg(&json)
                .current_dir(p.dir.path())
                .stdin(std::process::Stdio::piped()),
            run,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{run}\n{err}");
        assert_eq!(
            err.matches("not cached, made again every run: ").count(),
            1,
            "{run}: said once\n{err}"
        );
        assert!(
            err.contains("/dev/stdin (which it read) is a character device")
                || err.contains("/dev/stdin (which it read) is a FIFO"),
            "{err}"
        );
        let doc = common::read_json(&json);
        assert_eq!(doc["summary"]["by_outcome"]["pass"], 2, "{run}\n{err}");
        assert_eq!(doc["grids"][0]["builds"][0]["reused"], false);
    }
}
