//! The persistent cache, for real: `--fresh` leaves it alone, a named cache
//! holds everything, maintenance and runs wait for each other, what killed
//! runs leave is removed, concurrent cold runs share it. Damage in the
//! cache is `damaged_cache`'s.

use crate::common;
use crate::common::{Project, matrix, numpy};

#[test]
fn fresh_runs_leave_the_cache_alone() {
    let p = Project::new();
    let cache = p.path("cache");
    p.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
    let run = p.run(&["--fresh", "--cache-dir", cache.to_str().unwrap()]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    assert!(!cache.join("v2/envs").exists() && !cache.join("v2/builds").exists());
}

/// The store on another file system than the environments (a tmpfs
/// mounted over it in a private mount namespace): hard links cannot be
/// made, so each environment keeps private copies, and still shares no
/// inode with uv's cache.
#[test]
fn a_store_that_cannot_be_linked_leaves_private_copies() {
    use std::os::unix::fs::MetadataExt;
    let p = Project::new();
    p.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
    let cache = p.path("cache");
    let store = cache.join("v2/store");
    std::fs::create_dir_all(&store).unwrap();
    let (output, json) = common::run_over_tmpfs(&p, &store, "512m", &cache);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{err}");
    let doc = common::read_json(&json);
    assert_eq!(doc["summary"]["by_outcome"]["pass"], 1, "{doc}");
    let numpy_files: Vec<_> = common::files_under(&cache.join("v2/envs"))
        .into_iter()
        .filter(|(p, _)| p.to_string_lossy().contains("/site-packages/numpy/"))
        .collect();
    assert!(numpy_files.len() > 1000, "{}", numpy_files.len());
    for (path, meta) in &numpy_files {
        assert_eq!(meta.nlink(), 1, "{} is linked", path.display());
    }
}

/// Everything under `dir`, as paths relative to it.
fn tree(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(path.clone());
            }
            out.push(
                path.strip_prefix(dir)
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
            );
        }
    }
    out.sort();
    out
}

/// `--cache-dir` (or `ABIMATRIX_CACHE_DIR`) holds everything matrix keeps:
/// with HOME an empty folder (and no XDG_CACHE_HOME), a cold run with
/// `--cache-dir cache` writes nothing under HOME, its last results are in
/// `cache`, and `explain` finds them through either way of naming it.
/// uv's own download cache is uv's (UV_CACHE_DIR, here the machine's, so
/// nothing is downloaded twice) and rustup's home stays where it is: pip,
/// installing uv into the cache, asks `rustc --version` for its user agent,
/// and rustup's proxy would otherwise write its settings under HOME.
#[test]
fn a_named_cache_holds_everything_and_nothing_goes_under_home() {
    let p = Project::new();
    p.sample_variant(|c| c.to_string());
    p.write(
        "matrix.toml",
        &format!(
            "{}{}",
            numpy(&["2.0.*"], &["2.0.*"]),
            common::VARIANT_EXTENSION
        ),
    );
    let home = tempfile::tempdir().expect("home");
    let real_home = std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let uv_cache = std::env::var_os("UV_CACHE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| real_home.join(".cache/uv"));
    let rustup = std::env::var_os("RUSTUP_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| real_home.join(".rustup"));
    let python = common::pyenv_python("3.11");
    let matrix_at_home = |args: &[&str], cache_env: Option<&str>| {
        let mut cmd = matrix();
        cmd.args(["--color", "never"])
            .args(args)
            .current_dir(p.dir.path())
            .env("HOME", home.path())
            .env_remove("XDG_CACHE_HOME")
            .env_remove("ABIMATRIX_CACHE_DIR")
            .env("UV_CACHE_DIR", &uv_cache)
            .env("RUSTUP_HOME", &rustup);
        if let Some(dir) = cache_env {
            cmd.env("ABIMATRIX_CACHE_DIR", dir);
        }
        cmd.output().expect("run matrix")
    };
    let run = matrix_at_home(
        &[
            "run",
            "--cache-dir",
            "cache",
            "--python",
            python.to_str().unwrap(),
        ],
        None,
    );
    let dump = format!(
        "{}\n{}",
        common::text(&run.stdout),
        common::text(&run.stderr)
    );
    assert_eq!(run.status.code(), Some(0), "{dump}");
    assert_eq!(tree(home.path()), Vec::<String>::new(), "{dump}");
    let kept = tree(&p.path("cache/v2"));
    for held in [
        "last-results.json",
        "memo.json",
        "results",
        "envs",
        "builds",
        "probes",
    ] {
        assert!(
            kept.iter().any(|k| k == held),
            "no {held} in the cache: {kept:?}"
        );
    }
    assert_eq!(
        kept.iter().filter(|k| k.starts_with("results/")).count(),
        1,
        "this config's last results: {kept:?}"
    );

    let last = common::read_json(&p.path("cache/v2/last-results.json"));
    let (build, runtime) = (
        last["cells"][0]["build"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        last["cells"][0]["runtime"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    );
    for (args, env) in [
        // The probe's files into the project (`--keep`), not /tmp.
        (
            vec!["explain", &build, &runtime, "--keep", "again"],
            Some("cache"),
        ),
        (
            vec![
                "explain",
                &build,
                &runtime,
                "--cache-dir",
                "cache",
                "--keep",
                "again",
            ],
            None,
        ),
    ] {
        let out = matrix_at_home(&args, env);
        let said = common::text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{said}{}",
            common::text(&out.stderr)
        );
        assert!(said.starts_with("cell:        CPython 3.11."), "{said}");
        assert!(
            common::text(&out.stderr).contains("(the last run of matrix.toml)"),
            "{}",
            common::text(&out.stderr)
        );
    }
    assert_eq!(tree(home.path()), Vec::<String>::new());
}

/// `matrix run` with `--cache-dir cache`, started and left running.
fn spawn_run(p: &Project, cache: &std::path::Path, extra: &[&str]) -> std::process::Child {
    matrix()
        .args(["run", "-q", "--color", "never", "--cache-dir"])
        .arg(cache)
        .args(extra)
        .current_dir(p.dir.path())
        // A run killed with SIGKILL cannot remove its work folder: in the
        // project's folder, not left in /tmp.
        .env("TMPDIR", p.dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `ok()` holds, polling; fails naming `what` after `limit`
/// (far above the time the thing takes: only a bug gets there).
fn wait_until(what: &str, limit: std::time::Duration, mut ok: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Starts `matrix ARGS` and returns it once it has said on stderr that it
/// waits (a line containing `waiting`); fails when it ends first, with
/// what it printed.
fn spawn_until_waiting(args: &[&str], cache: &std::path::Path) -> std::process::Child {
    use std::io::BufRead as _;
    let mut child = matrix()
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    loop {
        match rx.recv_timeout(std::time::Duration::from_millis(50)) {
            Ok(line) if line.contains("waiting") => return child,
            Ok(_) => {}
            Err(_) => {
                if let Some(status) = child.try_wait().unwrap() {
                    let out = child.wait_with_output().unwrap();
                    panic!(
                        "{args:?} ended ({status}) without waiting:\n{}{}",
                        common::text(&out.stdout),
                        rx.try_iter().collect::<Vec<_>>().join("\n")
                    );
                }
            }
        }
    }
}

/// A project whose one cell waits, in its probe, until the test creates
/// `go` (it says it started by creating `started`).
fn waiting_cell() -> Project {
    let p = Project::new();
    let probe = format!(
        "import os, time\nopen({started:?}, 'w').close()\nwhile not os.path.exists({go:?}):\n    time.sleep(0.02)\n",
        started = p.path("started").to_str().unwrap(),
        go = p.path("go").to_str().unwrap(),
    );
    variant(
        &p,
        Some(&probe),
        &numpy(&["2.0.*"], &["2.0.*"]),
        "[run]\ntimeout = \"900s\"\n",
    );
    p
}

/// The sample's source under `ext/` (with `probe` as its probe file, else
/// the sample's), in a matrix of `table`, `extra` after the extension.
fn variant(p: &Project, probe: Option<&str>, table: &str, extra: &str) {
    if !p.path("ext/my_extension.c").exists() {
        p.sample_variant(|c| c.to_string());
    }
    if let Some(probe) = probe {
        p.write("ext/probe.py", probe);
    }
    p.write(
        "matrix.toml",
        &format!("{table}{}{extra}", common::VARIANT_EXTENSION),
    );
}

/// `cache verify` and `cache clean` beside a run wait for it (and say so):
/// the run's cell passes, verify finds nothing damaged, clean then removes
/// the cache whole; a run started while maintenance holds the cache waits
/// for it. (They once removed what the running cell read, failing it, and
/// `clean` itself failed with "Directory not empty".)
#[test]
fn maintenance_waits_for_runs_and_runs_wait_for_maintenance() {
    let p = waiting_cell();
    let cache = p.path("cache");
    let limit = std::time::Duration::from_secs(600);
    for action in ["verify", "clean"] {
        let _ = std::fs::remove_file(p.path("started"));
        let _ = std::fs::remove_file(p.path("go"));
        let run = spawn_run(&p, &cache, &[]);
        wait_until("the cell to start", limit, || p.path("started").exists());
        let maintenance = spawn_until_waiting(&["cache", action], &cache);
        std::fs::write(p.path("go"), "").unwrap();
        let run = run.wait_with_output().unwrap();
        assert_eq!(
            run.status.code(),
            Some(0),
            "{action}: {}",
            common::text(&run.stderr)
        );
        let done = maintenance.wait_with_output().unwrap();
        let said = common::text(&done.stdout);
        assert_eq!(done.status.code(), Some(0), "{action}: {said}");
        match action {
            "verify" => assert!(said.contains("entries checked, 0 damaged;"), "{said}"),
            _ => assert!(!cache.join("v2").exists(), "{said}"),
        }
    }
    // Maintenance holds the cache (as `cache verify` does while it hashes
    // everything): a run waits, then runs. The lock is taken here, as
    // maintenance takes it (an exclusive flock on v2.lock), and let go
    // once the run says it waits.
    std::fs::create_dir_all(&cache).unwrap();
    let holder = std::fs::File::create(cache.join("v2.lock")).unwrap();
    crate::suite::flock(&holder).unwrap();
    std::fs::write(p.path("go"), "").unwrap();
    let run = spawn_until_waiting(&["run", "-q", "--color", "never"], &cache);
    drop(holder);
    let run = run.wait_with_output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", common::text(&run.stdout));
}

/// Staging folders of runs that were killed (`kill -9` while a build was
/// being made) are not builds for `cache info`; the next run removes them
/// (but never the one a live run is working in), and so does `cache
/// verify`. The build is held mid-compile by an `#include` of a FIFO,
/// which blocks the compiler until the test opens it.
#[test]
fn what_killed_runs_leave_is_removed_and_never_counted() {
    let p = Project::new();
    let fifo = p.path("held/fifo.h");
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    p.sample_variant(|c| format!("#include \"{}\"\n{c}", fifo.display()));
    variant(&p, None, &numpy(&["2.0.*"], &["2.0.*"]), "");
    let cache = p.path("cache");
    let builds = cache.join("v2/builds");
    let limit = std::time::Duration::from_secs(600);
    let staging = || -> Vec<std::path::PathBuf> {
        let mut found: Vec<_> = std::fs::read_dir(&builds)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(".tmp-")
            })
            .collect();
        found.sort();
        found
    };
    // Opens the FIFO for writing and closes it, without waiting, as often
    // as a compiler waits on it: each then reads an empty header and goes
    // on.
    let release = || {
        use std::os::unix::fs::OpenOptionsExt as _;
        let open = || {
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(nix::libc::O_NONBLOCK)
                .open(&fifo)
        };
        while open().is_ok() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    // A compile that never ends until the FIFO is opened for writing;
    // matrix killed mid-way leaves the compiler proper (gcc's cc1, a
    // grandchild, which does not die with matrix) waiting on it: this
    // test started it, and kills it.
    let killed = |p: &Project| {
        let mut run = spawn_run(p, &cache, &[]);
        let before = staging();
        wait_until("the build to start", limit, || {
            staging().len() > before.len()
        });
        run.kill().unwrap();
        run.wait().unwrap();
        kill_named(&p.dir.path().to_string_lossy());
    };
    killed(&p);
    let left = staging();
    assert_eq!(left.len(), 1, "{left:?}");
    let (_, said) = cache_command("info", &cache);
    let builds_line = said.lines().find(|l| l.contains("builds")).unwrap();
    assert_eq!(
        builds_line.split_whitespace().nth(1),
        Some("0"),
        "a staging folder counted as a build:\n{said}"
    );
    assert!(
        said.contains("1 unfinished entries") && said.contains("left by runs that were killed"),
        "{said}"
    );

    // The next run removes it, and not its own (it is making one too).
    let mut run = spawn_run(&p, &cache, &[]);
    wait_until("the next run to remove the leftover", limit, || {
        !left[0].exists() && !staging().is_empty()
    });
    // Open the FIFO whenever a compiler waits on it: it reads an empty
    // header and goes on.
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        release();
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut run.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");

    killed(&p);
    assert_eq!(staging().len(), 1);
    let (verify, said) = cache_command("verify", &cache);
    assert!(verify.status.success(), "{said}");
    assert!(said.contains("removed 1 unfinished entries"), "{said}");
    assert!(staging().is_empty(), "{said}");
}

/// `matrix cache ACTION --cache-dir cache`: how it ended, and its stdout.
fn cache_command(action: &str, cache: &std::path::Path) -> (std::process::Output, String) {
    let out = matrix()
        .args(["cache", action, "--cache-dir"])
        .arg(cache)
        .output()
        .unwrap();
    let said = common::text(&out.stdout);
    (out, said)
}

/// Kills every process whose command line names `text` (what this test
/// started), until none has been seen for a while.
fn kill_named(text: &str) {
    let mut quiet = 0;
    while quiet < 10 {
        let mut found = false;
        for p in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let named = std::fs::read(p.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(text));
            if named && pid != std::process::id() as i32 {
                found = true;
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
            }
        }
        quiet = if found { 0 } else { quiet + 1 };
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Two cold runs on one empty cache at once: both finish with every cell
/// as expected, and no stored file is left that no environment links to
/// (two copies of one content, the loser's orphaned, were once left until
/// `cache verify`).
#[test]
fn concurrent_cold_runs_leave_no_orphan_store_copies() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "{}[run]\nexpect = \"numpy-rules\"\n",
            numpy(&["1.26.*", "2.0.*"], &["1.26.*", "2.0.*", "2.1.*"])
        ),
    );
    let cache = p.path("cache");
    let runs: Vec<_> = (0..2).map(|_| spawn_run(&p, &cache, &[])).collect();
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", common::text(&out.stderr));
        assert!(
            common::text(&out.stdout).contains("every cell as expected"),
            "{}",
            common::text(&out.stdout)
        );
    }
    let (_, said) = cache_command("info", &cache);
    assert!(!said.contains("linked from no environment"), "{said}");
    let (verify, said) = cache_command("verify", &cache);
    assert!(verify.status.success(), "{said}");
    assert!(!said.contains("that no environment links to"), "{said}");
    let temporaries: Vec<_> = std::fs::read_dir(cache.join("v2/store"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    assert!(temporaries.is_empty(), "{temporaries:?}");
}
