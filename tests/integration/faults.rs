//! Nothing lost, nothing leaked: interrupts, kill -9 and resume, hostile
//! children, a hostile host, bad input, a full disk, and load (damage in the
//! cache is `damaged_cache`'s).
//! Every test runs the real binary on real wheels.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::{Project, VARIANT_EXTENSION, matrix, numpy};

/// Whether `pid` is running (a zombie is not).
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Pids written by probes into `dir` (one file per pid).
fn pids(dir: &Path) -> Vec<i32> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A project whose probe records its pid and hangs under NumPy 2 while
/// `hang` exists; its own TMPDIR, so leftover temp dirs can be counted.
struct Hanging {
    p: Project,
    pids: PathBuf,
    hang: PathBuf,
    tmp: PathBuf,
}

fn hanging(name: &str) -> Hanging {
    let p = Project::new();
    let (pids, hang, tmp) = (p.path("pids"), p.path("hang"), p.path("tmp"));
    for d in [&pids, &tmp] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(&hang, "").unwrap();
    p.sample_variant(|c| c.to_string());
    p.write(
        "ext/probe.py",
        &format!(
            "# {name}\nimport os, time\nopen(os.path.join({pids:?}, str(os.getpid())), 'w').close()\n\
             if np.__version__.startswith('2.') and os.path.exists({hang:?}):\n    time.sleep(600)\n",
            pids = pids.display().to_string(),
            hang = hang.display().to_string()
        ),
    );
    p.write(
        "matrix.toml",
        &format!(
            "{}{VARIANT_EXTENSION}[run]\ntimeout = \"10m\"\n",
            numpy(&["2.0.*"], &["1.26.*", "2.0.*"])
        ),
    );
    Hanging { p, pids, hang, tmp }
}

impl Hanging {
    fn spawn(&self, extra: &[&str]) -> (Child, PathBuf) {
        self.spawn_with(extra, Stdio::null())
    }

    fn spawn_with(&self, extra: &[&str], stdout: Stdio) -> (Child, PathBuf) {
        let name = extra.join("").replace('/', "_");
        let err = self.p.path(&format!("stderr-{name}.txt"));
        let child = matrix()
            .args(["run", "--color", "never", "-c"])
            .arg(self.p.path("matrix.toml"))
            .arg("--json")
            .arg(self.p.path("partial.json"))
            .args(extra)
            .env("TMPDIR", &self.tmp)
            .stdout(stdout)
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        (child, err)
    }

    /// Starts the grid, and once a cell has finished and the hanging one
    /// runs, kills matrix with SIGKILL (no cleanup of ours runs); returns
    /// when the orphaned probe has died with it.
    fn kill_9_mid_grid(&self) {
        let (mut child, err) = self.spawn(&[]);
        let hung = self.wait_mid_grid(&err);
        child.kill().unwrap();
        child.wait().unwrap();
        wait_for("the orphaned probe to die", Duration::from_secs(3), || {
            !running(hung)
        });
    }

    /// Waits until one cell finished and the hanging one is running.
    fn wait_mid_grid(&self, err: &Path) -> i32 {
        wait_for(
            "a finished cell and a hanging one",
            Duration::from_secs(120),
            || {
                // A probe still running, not merely one recorded: the pids
                // folder keeps those of an earlier spawn of the same grid.
                let text = std::fs::read_to_string(err).unwrap_or_default();
                text.contains("cell ") && pids(&self.pids).iter().any(|p| running(*p))
            },
        );
        let finished: Vec<i32> = pids(&self.pids);
        *finished
            .iter()
            .find(|p| running(**p))
            .expect("a probe is hanging")
    }
}

/// Ctrl-C (SIGINT) and SIGTERM mid-grid: every child killed, temporary
/// directories removed, the results so far written (marked incomplete),
/// all within two seconds.
#[test]
fn interrupts_lose_nothing_and_leave_nothing() {
    for signal in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGTERM,
    ] {
        let h = hanging(&format!("interrupt {signal}"));
        let stdout = h.p.path("stdout.txt");
        let (mut child, err) =
            h.spawn_with(&[], Stdio::from(std::fs::File::create(&stdout).unwrap()));
        let hung = h.wait_mid_grid(&err);
        let start = Instant::now();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
        let status = child.wait().unwrap();
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "{signal}: took {took:?} to stop"
        );
        assert_eq!(status.code(), Some(130), "{signal}");
        // What the user reads: the grid so far, said to be incomplete.
        insta::assert_snapshot!(
            format!("exit-130-{signal}"),
            crate::cli::redact(
                &std::fs::read_to_string(&stdout).unwrap(),
                Some(h.p.dir.path())
            )
        );
        let doc = common::read_json(&h.p.path("partial.json"));
        assert_eq!(doc["complete"], false);
        assert_eq!(
            doc["cells"].as_array().unwrap().len(),
            1,
            "the finished cell is kept"
        );
        wait_for(
            "the hanging probe to be gone",
            Duration::from_secs(2),
            || !running(hung),
        );
        let left: Vec<_> = std::fs::read_dir(&h.tmp)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{signal}: temporary files left: {left:?}");
        drop(h.hang);
    }
}

/// A second Ctrl-C while matrix writes what it has leaves at once. Its
/// stdout is a pipe that a thread of this test keeps full and nobody reads,
/// so after the first interrupt the grid's write blocks for good: only the
/// second interrupt can end the process.
#[test]
fn a_second_interrupt_exits_at_once() {
    let h = hanging("second interrupt");
    let (reader, mut writer) = std::io::pipe().unwrap();
    let stdout = writer.try_clone().unwrap();
    std::thread::spawn(move || {
        use std::io::Write;
        // Blocks once the pipe is full; ends when the reader is dropped.
        while writer.write_all(&[b'x'; 4096]).is_ok() {}
    });
    let (mut child, err) = h.spawn_with(&[], Stdio::from(stdout));
    let hung = h.wait_mid_grid(&err);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    wait_for(
        "the hanging probe to be gone",
        Duration::from_secs(2),
        || !running(hung),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "matrix should still be blocked writing the grid to a full pipe"
    );
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(1) {
            let _ = child.kill();
            panic!("matrix was still running 1 s after the second Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    drop(reader);
    drop(h.hang);
}

/// kill -9 of matrix itself mid-grid: the hanging cell dies with it, and
/// `--resume` runs only the unfinished cell; the final grid equals an
/// uninterrupted run's.
#[test]
fn kill_9_then_resume_runs_only_what_had_not_finished() {
    let h = hanging("kill -9");
    h.kill_9_mid_grid();

    std::fs::remove_file(&h.hang).unwrap();
    let resumed = h.p.run(&["--resume"]);
    assert_eq!(resumed.code(), Some(0), "{}", resumed.dump());
    assert!(
        resumed
            .stderr()
            .contains("resuming: 1 cell(s) already done"),
        "{}",
        resumed.dump()
    );
    let ran = resumed
        .stderr()
        .lines()
        .filter(|l| l.starts_with("cell "))
        .count();
    assert_eq!(ran, 1, "only the unfinished cell runs\n{}", resumed.dump());

    let full = h.p.run(&[]);
    let outcomes = |r: &common::Run| {
        let mut v: Vec<String> = r.results()["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{} {} {} {}",
                    c["build"], c["runtime"], c["outcome"], c["reason"]
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(outcomes(&resumed), outcomes(&full));
    assert_eq!(resumed.results()["complete"], true);
}

/// `--resume` judges the journaled cells by the expectations of now (an
/// `[[expect]]` added after the kill applies to them), and refuses when
/// what the cells do has changed (the probe), saying what changed.
#[test]
fn resume_judges_afresh_and_refuses_another_matrix() {
    let h = hanging("rejudge");
    h.kill_9_mid_grid();
    // The journaled cell (2.0 → 1.26, a pass) is now expected to fail.
    let config = h.p.read("matrix.toml");
    h.p.write(
        "matrix.toml",
        &format!("{config}[[expect]]\nruntime = \"<2\"\noutcome = \"fail\"\n"),
    );
    std::fs::remove_file(&h.hang).unwrap();
    let resumed = h.p.run(&["--resume"]);
    assert_eq!(resumed.code(), Some(1), "{}", resumed.dump());
    let cell = resumed.results()["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["runtime"].as_str().unwrap().starts_with("1.26"))
        .unwrap()
        .clone();
    assert_eq!(
        (cell["outcome"].as_str(), cell["met"].as_bool()),
        (Some("pass"), Some(false)),
        "{cell}"
    );
    assert!(
        cell["expected"]["line"].as_u64().is_some(),
        "judged by the new table: {cell}"
    );

    // Interrupted again, then the probe changes: no resume.
    std::fs::write(&h.hang, "").unwrap();
    h.kill_9_mid_grid();
    let probe = h.p.read("ext/probe.py");
    h.p.write("ext/probe.py", &format!("{probe}\nassert True\n"));
    let refused = h.p.run(&["--resume"]);
    assert_eq!(refused.code(), Some(2), "{}", refused.dump());
    assert!(
        refused
            .stderr()
            .contains("cannot resume: since the interrupted run, the probe changed"),
        "{}",
        refused.dump()
    );
}

/// One grid of hostile probes, by runtime NumPy: abort, exit 3, an infinite
/// loop, 256 MiB on stdout, a grandchild that ignores SIGTERM and outlives its
/// parent, a probe that deletes its working directory's files, a segfault,
/// and a control. In both isolation modes. The 10 s limit is far above the
/// time the slowest cell takes (writing 256 MiB: under a second, to a file in
/// fork mode) so load on a busy 2-core machine cannot break it; the endless
/// loop pays it in full, so it idles rather than spins, leaving the cores to
/// the other tests.
#[test]
fn hostile_children_are_contained_in_fork_mode() {
    hostile_children_are_contained("fork");
}

#[test]
fn hostile_children_are_contained_in_process_mode() {
    hostile_children_are_contained("process");
}

fn hostile_children_are_contained(mode: &str) {
    let p = Project::new();
    let pids = p.path("pids");
    std::fs::create_dir_all(&pids).unwrap();
    p.sample_variant(|c| c.to_string());
    p.write(
        "ext/probe.py",
        &format!(
            r#"import os, sys, signal, time
v = np.__version__
if v.startswith("1.23."):
    os.abort()
elif v.startswith("1.24."):
    os._exit(3)
elif v.startswith("1.25."):
    while True:
        time.sleep(0.05)
elif v.startswith("1.26."):
    chunk = "x" * (1 << 20)
    for _ in range(256):
        sys.stdout.write(chunk)
elif v.startswith("2.0."):
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open(os.path.join({pids:?}, str(os.getpid())), "w").close()
        time.sleep(600)
        os._exit(0)
    time.sleep(0.2)
elif v.startswith("2.1."):
    for name in os.listdir("."):
        os.remove(name)
elif v.startswith("2.2."):
    import ctypes
    ctypes.string_at(0)
"#,
            pids = pids.display().to_string()
        ),
    );
    let expect = |runtime: &str, outcome: &str| {
        format!("[[expect]]\nruntime = \"=={runtime}.*\"\noutcome = \"{outcome}\"\n")
    };
    let config = format!(
        "{}{VARIANT_EXTENSION}[run]\ntimeout = \"10s\"\n{}{}{}{}",
        numpy(
            &["2.0.*"],
            &[
                "1.23.*", "1.24.*", "1.25.*", "1.26.*", "2.0.*", "2.1.*", "2.2.*", "2.3.*"
            ]
        ),
        expect("1.23", "crash"),
        expect("1.24", "fail"),
        expect("1.25", "timeout"),
        expect("2.2", "crash"),
    );
    p.write("matrix.toml", &config);
    {
        let json = p.path(&format!("hostile-{mode}.json"));
        let mut child = matrix()
            .args(["run", "-q", "--color", "never", "--isolation", mode, "-c"])
            .arg(p.path("matrix.toml"))
            .arg("--json")
            .arg(&json)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // matrix's own peak memory, while 256 MiB stream through a cell.
        let mut peak_kib = 0u64;
        while child.try_wait().unwrap().is_none() {
            if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
                if let Some(kib) = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
                {
                    peak_kib = peak_kib.max(kib);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let unexpected = std::fs::read_to_string(&json).unwrap_or_default();
        let unexpected: Vec<String> = serde_json::from_str::<serde_json::Value>(&unexpected)
            .map(|d| {
                d["cells"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["met"] == false)
                    .map(|c| {
                        format!(
                            "{} {} {}: {}",
                            c["runtime"], c["outcome"], c["reason"], c["message"]
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{mode}: {unexpected:#?}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            peak_kib < 100 * 1024,
            "{mode}: matrix peaked at {peak_kib} KiB"
        );
        let doc = common::read_json(&json);
        let cell = |prefix: &str| {
            doc["cells"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["runtime"].as_str().unwrap().starts_with(prefix))
                .unwrap()
                .clone()
        };
        assert_eq!(cell("1.23.")["signal_name"], "SIGABRT", "{mode}");
        assert!(
            cell("1.24.")["message"]
                .as_str()
                .unwrap()
                .contains("status 3"),
            "{mode}"
        );
        assert_eq!(cell("1.25.")["outcome"], "timeout", "{mode}");
        let flood = cell("1.26.");
        assert_eq!(flood["outcome"], "pass", "{mode}");
        let kept = flood["stdout"].as_str().unwrap();
        assert!(
            kept.len() <= 4 * 1024 * 1024 + 100,
            "{mode}: kept {} bytes",
            kept.len()
        );
        assert!(
            kept.ends_with("264241152 more bytes not kept]"),
            "{mode}: {}",
            &kept[kept.len().saturating_sub(80)..]
        );
        assert_eq!(cell("2.1.")["outcome"], "pass", "{mode}");
        assert_eq!(cell("2.2.")["signal_name"], "SIGSEGV", "{mode}");
        assert_eq!(cell("2.3.")["outcome"], "pass", "{mode}");
        // The grandchild that ignored SIGTERM was killed with its cell.
        let orphans: Vec<i32> = self::pids(&pids)
            .into_iter()
            .filter(|p| running(*p))
            .collect();
        assert!(
            orphans.is_empty(),
            "{mode}: processes left behind: {orphans:?}"
        );
    }
    // The deleting probe touched only its own directory: the cache still
    // serves every environment and build (checked without the endless loop,
    // which would only cost its limit again).
    p.write("matrix.toml", &config.replace("\"1.25.*\", ", ""));
    let again = p.run(&["-q"]);
    assert_eq!(again.code(), Some(0), "{}", again.dump());
    let builds = again.results()["grids"][0]["builds"]
        .as_array()
        .unwrap()
        .clone();
    assert!(builds.iter().all(|b| b["reused"] == true), "{builds:?}");
}

/// A fake numpy on the host's PYTHONPATH, in the user site-packages and in
/// the current directory changes no cell.
#[test]
fn a_hostile_host_changes_nothing() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "{}[run]\nexpect = \"numpy-rules\"\n",
            numpy(&["1.26.*", "2.0.*"], &["1.26.*", "2.0.*"])
        ),
    );
    let clean = p.run(&["-q"]);
    let fake = "raise SystemExit('a fake numpy was imported')\n";
    p.write("pythonpath/numpy/__init__.py", fake);
    p.write(
        "userbase/lib/python3.11/site-packages/numpy/__init__.py",
        fake,
    );
    p.write(
        "userbase/lib/python3.9/site-packages/numpy/__init__.py",
        fake,
    );
    p.write("numpy/__init__.py", fake); // the current directory of matrix
    let planted = p.run_with(
        &["-q"],
        &[
            ("PYTHONPATH", p.path("pythonpath").to_str().unwrap()),
            ("PYTHONUSERBASE", p.path("userbase").to_str().unwrap()),
            (
                "PYTHONSTARTUP",
                p.path("numpy/__init__.py").to_str().unwrap(),
            ),
        ],
    );
    assert_eq!(planted.code(), Some(0), "{}", planted.dump());
    let cells = |r: &common::Run| {
        r.results()["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["build"].clone(),
                    c["runtime"].clone(),
                    c["outcome"].clone(),
                    c["reason"].clone(),
                    c["message"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(cells(&clean), cells(&planted));
}

/// A table of malformed configs: each exits 2 naming file, line and column.
#[test]
fn bad_input_exits_2_with_a_location() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[numpy\nbuild = [\"2.0.*\"]\n",
            ":1:7:",
            "unclosed table, expected",
        ),
        (
            "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\ncolour = 1\n",
            ":4:1:",
            "unknown field `colour`",
        ),
        (
            "[numpy]\nbuild = \"2.0.*\"\nruntime = [\"2.0.*\"]\n",
            ":2:9:",
            "expected a sequence",
        ),
        (
            "[numpy]\nbuild = []\nruntime = [\"2.0.*\"]\n",
            ":2:9:",
            "empty",
        ),
        (
            "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\">=3,<2\"]\n",
            ":3:12:",
            "no NumPy release on the package index matches",
        ),
        (
            "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"1.26.99\"]\n",
            ":3:12:",
            "no NumPy release on the package index matches",
        ),
        (
            "[python]\nversions = [\"3.99\"]\n[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n",
            ":2:13:",
            "no interpreter matches",
        ),
        (
            "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n[extension]\nmodule = \"m\"\nsources = [\"gone.c\"]\n",
            ":6:12:",
            "cannot read source file",
        ),
        (
            "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n[run]\ntimeout = 5\n",
            ":5:11:",
            "expected a string",
        ),
        (
            "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n[[expect]]\noutcome = \"fine\"\n",
            ":5:11:",
            "unknown variant",
        ),
    ];
    for (text, at, needle) in cases {
        let p = Project::new();
        p.write("matrix.toml", text);
        let run = p.run(&["-q"]);
        let err = run.stderr();
        assert_eq!(run.code(), Some(2), "{text}\n{}", run.dump());
        assert!(
            err.contains(&format!("matrix.toml{at}")),
            "{text}: expected {at} in\n{err}"
        );
        assert!(
            err.contains(needle),
            "{text}: expected {needle:?} in\n{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// Names a user can give that are not regular files: a FIFO (reading it
/// blocks until someone writes), `/dev/zero` (never ends), a directory; as
/// a source, a header beside it or in an include folder, the probe file, a
/// `-r` requirements file and the config itself. Each is refused at once
/// (exit 2) naming the path and what it is; none is read.
#[test]
fn names_that_are_not_files_are_refused() {
    let fifo = |p: &Project, name: &str| {
        let path = p.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let made = Command::new("mkfifo").arg(&path).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo {name}");
        path
    };
    let table = numpy(&["2.0.*"], &["2.0.*"]);
    let with = |keys: &str| format!("{table}{VARIANT_EXTENSION}{keys}");
    let plain = |sources: &str| {
        format!("{table}[extension]\nmodule = \"my_extension\"\nsources = [\"{sources}\"]\n")
    };
    type Setup = fn(&Project, &dyn Fn(&Project, &str) -> PathBuf) -> String;
    let cases: &[(&str, Setup, &str)] = &[
        (
            "src/fifo.c",
            |p, fifo| {
                fifo(p, "src/fifo.c");
                String::new()
            },
            "is a FIFO, not a regular file",
        ),
        (
            "src/zero.c",
            |p, _| {
                std::fs::create_dir_all(p.path("src")).unwrap();
                std::os::unix::fs::symlink("/dev/zero", p.path("src/zero.c")).unwrap();
                String::new()
            },
            "is a character device, not a regular file",
        ),
        (
            "src/dir.c",
            |p, _| {
                std::fs::create_dir_all(p.path("src/dir.c")).unwrap();
                String::new()
            },
            "is a directory, not a regular file",
        ),
        (
            "ext/helper.h",
            |p, fifo| {
                fifo(p, "ext/helper.h");
                String::new()
            },
            "is a FIFO, not a regular file",
        ),
        (
            "inc/x.h",
            |p, fifo| {
                fifo(p, "inc/x.h");
                "include-dirs = [\"inc\"]\n".into()
            },
            "is a FIFO, not a regular file",
        ),
        (
            "checks/probe.py",
            |p, fifo| {
                fifo(p, "checks/probe.py");
                "probe-file = \"checks/probe.py\"\n".into()
            },
            "is a FIFO, not a regular file",
        ),
        (
            "requirements.txt",
            |p, fifo| {
                fifo(p, "requirements.txt");
                "test-requires = [\"-r requirements.txt\"]\n".into()
            },
            "is a FIFO, not a regular file",
        ),
    ];
    for (name, setup, said) in cases {
        let p = Project::new();
        p.sample_variant(|c| c.to_string());
        let keys = setup(&p, &fifo);
        let config = if name.starts_with("src/") {
            plain(name)
        } else if *name == "checks/probe.py" {
            // probe-file given once: the variant's own line is left out.
            format!(
                "{table}[extension]\nmodule = \"my_extension\"\nsources = [\"ext/my_extension.c\"]\n{keys}"
            )
        } else {
            with(&keys)
        };
        p.write("matrix.toml", &config);
        let out = common::bounded(
            matrix()
                .args(["run", "-q"])
                .current_dir(p.dir.path())
                .stdin(Stdio::null()),
            name,
        );
        let err = common::text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}\n{err}");
        let path = p.path(name);
        assert!(
            err.contains(&format!("{}: it {said}", path.display())),
            "{name}: expected the path and {said:?} in\n{err}"
        );
        assert!(err.contains("matrix.toml:"), "located: {err}");
    }
    let p = Project::new();
    let config = fifo(&p, "matrix.toml");
    let out = common::bounded(
        matrix()
            .args(["run", "-q", "-c"])
            .arg(&config)
            .current_dir(p.dir.path())
            .stdin(Stdio::null()),
        "the config",
    );
    let err = common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("it is a FIFO, not a regular file") && err.contains("matrix.toml"),
        "{err}"
    );
}

/// A report that cannot be written (a full disk: Linux's `/dev/full` answers
/// every write with ENOSPC; a missing directory) is a clear error that does
/// not cost the other reports, and a device named as the output is written,
/// not replaced by a file.
#[test]
fn an_unwritable_report_loses_no_other_report() {
    use std::os::unix::fs::FileTypeExt;
    let full = Path::new("/dev/full");
    common::require(
        std::fs::metadata(full).is_ok_and(|m| m.file_type().is_char_device()),
        "/dev/full as a character device",
    );
    let p = Project::new();
    p.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
    let run = p.run(&[
        "-q",
        "--markdown",
        "/dev/full",
        "--html",
        p.path("no-such-dir/grid.html").to_str().unwrap(),
        "--junit",
        p.path("junit.xml").to_str().unwrap(),
    ]);
    assert_eq!(run.code(), Some(3), "{}", run.dump());
    let err = run.stderr();
    assert!(
        err.contains("cannot write /dev/full: No space left on device"),
        "{}",
        run.dump()
    );
    assert!(err.contains("no-such-dir/grid.html"), "{}", run.dump());
    // The results are kept in the cache, as this config's last run.
    assert!(
        err.contains("the results are kept in") && err.contains("/results/"),
        "{}",
        run.dump()
    );
    assert_eq!(run.outcome("2.0.*", "2.0.*"), "pass", "the JSON is written");
    let junit = p.read("junit.xml");
    assert!(junit.contains("<testcase"), "{junit}");
    let meta = std::fs::metadata(full).unwrap();
    assert!(meta.file_type().is_char_device(), "/dev/full was replaced");
}

/// A full disk under the cache: a 2 MiB tmpfs, mounted in a private mount
/// namespace (`unshare -rm`, so no root and nothing to unmount) where
/// NumPy cannot be installed. The run says the disk filled up (exit 3, the
/// path, the way out) and still reports every cell.
#[test]
fn a_full_disk_is_a_clear_error_that_loses_no_cell() {
    let p = Project::new();
    p.write("matrix.toml", &numpy(&["2.0.*"], &["1.26.*", "2.0.*"]));
    let small = p.path("small");
    std::fs::create_dir_all(&small).unwrap();
    let (output, json) = common::run_over_tmpfs(&p, &small, "2m", &small);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{err}");
    assert!(err.contains("the disk filled up"), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(
        err.contains(small.to_str().unwrap()),
        "names the disk: {err}"
    );
    assert!(err.contains("--cache-dir"), "{err}");
    let doc = common::read_json(&json);
    let cells = doc["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2, "every cell is reported");
    assert!(
        cells.iter().all(|c| c["outcome"] == "unavailable"),
        "{cells:?}"
    );
}

/// 12 × 12 = 144 cells with --jobs 32 on a small machine, with only 256
/// file descriptors: correct outcomes, nothing left behind.
#[test]
fn a_12_by_12_grid_with_32_jobs() {
    let p = Project::new();
    let tmp = p.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let versions = [
        "1.23.5", "1.24.4", "1.25.2", "1.26.3", "1.26.4", "2.0.1", "2.0.2", "2.1.3", "2.2.5",
        "2.2.6", "2.3.5", "2.4.6",
    ];
    p.sample_variant(|c| c.to_string());
    p.write(
        "ext/probe.py",
        &format!("# load test\n{}", common::SAMPLE_PROBE),
    );
    p.write(
        "matrix.toml",
        &format!(
            "{}{VARIANT_EXTENSION}[run]\nexpect = \"numpy-rules\"\n",
            numpy(&versions, &versions)
        ),
    );
    let json = p.path("load.json");
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_matrix"))
        .args(["run", "-q", "--color", "never", "--jobs", "32", "-c"])
        .arg(p.path("matrix.toml"))
        .arg("--json")
        .arg(&json)
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = common::read_json(&json);
    assert_eq!(doc["cells"].as_array().unwrap().len(), 144);
    assert_eq!(doc["summary"]["unmet"], 0);
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    // No fork server or probe of this run is left (their command lines name
    // this project's probe files).
    let probe_dir = doc["cells"][0]["command"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .nth(4)
        .unwrap()
        .to_string();
    let probe_dir = Path::new(&probe_dir)
        .parent()
        .unwrap()
        .display()
        .to_string();
    let ps = Command::new("ps")
        .args(["-eo", "pid,stat,args"])
        .output()
        .unwrap();
    let alive: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| {
            l.contains(&probe_dir) && !l.split_whitespace().nth(1).unwrap_or("").starts_with('Z')
        })
        .map(str::to_string)
        .collect();
    assert!(alive.is_empty(), "left running: {alive:#?}");
}
