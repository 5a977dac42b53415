//! The suite's own world, set up once per test process before any test
//! starts: its own caches and its own package index, so that no test reads
//! or writes the developer's `~/.cache/abimatrix`, `~/.cache/uv` or
//! `~/.cache/pip`, and no answer moves when PyPI gets a new release.
//!
//! - The caches: `ABIMATRIX_CACHE_DIR`, `UV_CACHE_DIR` and `PIP_CACHE_DIR`
//!   under [`cache_root`] (`~/.cache/abimatrix-test-suite`, or
//!   `$ABIMATRIX_TEST_CACHE`).
//! - The index: `tests/support/index.py` serves the snapshot pinned under
//!   `tests/index/` (PyPI's file lists as they were when pinned) on the
//!   loopback address; each file is fetched once from PyPI, checked against
//!   its pinned sha256, and kept under the cache root. uv, pip and abimatrix
//!   are pointed at it the way users point them at a mirror
//!   (`UV_DEFAULT_INDEX`, `UV_INDEX_URL`, `PIP_INDEX_URL`). Once the files a
//!   run needs are kept, the suite needs no network (`unshare -rn`).
//!
//! Every child a test starts (matrix, python, pip, uv, sh, cargo) inherits
//! this through the process environment, which is set here, before `main`,
//! while the process has one thread: setting it later would race the
//! threads the test harness starts. The index server is a process of its
//! own (so that the tests of one run, one process each under nextest or
//! threads of one under `cargo test`, share it) on a port kept between runs
//! (uv keys its cache by the index's URL); it exits after 15 idle minutes.
//! Each checkout has a server of its own, so two checkouts' suites running
//! at once never stop each other's.
//!
//! `ABIMATRIX_TEST_INDEX=record` pins a project that a test asks for and
//! the snapshot lacks, from the live index (how a new test's dependencies
//! are added: run it so, then commit `tests/index/`). The `live` module is
//! the tier that asks the real index.
//!
//! It also sets how many tests run at once under `cargo test`: one more
//! than the machine has cores, unless `RUST_TEST_THREADS` or
//! `--test-threads` says otherwise (see [`set_up`]).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::tools::{repo, target_dir};

/// Where the suite keeps its caches and the index's files:
/// `$ABIMATRIX_TEST_CACHE` (relative to the repository), else
/// `abimatrix-test-suite` in the user's cache folder (`$XDG_CACHE_HOME`,
/// else `~/.cache`). A folder of the suite's own, beside and never inside
/// the caches a user's abimatrix, uv and pip keep, and outside the
/// checkout, so that a fresh clone fetches nothing already fetched (as
/// cargo keeps its registry outside each project's `target/`).
pub fn cache_root() -> PathBuf {
    match std::env::var_os("ABIMATRIX_TEST_CACHE") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_relative() {
                repo().join(dir)
            } else {
                dir
            }
        }
        _ => {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .unwrap_or_else(target_dir);
            base.join("abimatrix-test-suite")
        }
    }
}

/// The pinned snapshot the index serves.
pub fn snapshot() -> PathBuf {
    repo().join("tests/index")
}

/// The suite's index (`http://127.0.0.1:PORT/simple`), as set up before
/// `main`.
pub fn index_url() -> String {
    std::env::var("PIP_INDEX_URL").expect("the suite's index is set up before main")
}

/// The index's root (`http://127.0.0.1:PORT`): `index_url()` without
/// `/simple`; `{root}/at/2025-11-20T00:00:00Z/simple` is the index as it
/// was then.
pub fn index_root() -> String {
    index_url().trim_end_matches("/simple").to_string()
}

/// `text` without the lines that say a NumPy release came from the suite's
/// index ("numpy 2.0.2 is from http://127.0.0.1:PORT/simple"): abimatrix
/// notes every release from an index other than PyPI, so a run on the
/// suite's index prints one per release that a run on PyPI, as the
/// documentation shows it, does not. Only those lines go.
pub fn without_index_notes(text: &str) -> String {
    let from = format!(" is from {}", index_url());
    text.lines()
        .filter(|l| {
            let l = l.trim();
            !(l.starts_with("numpy ") && l.ends_with(&from))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

// Runs `set_up` before `main`, as the C runtime runs constructors.
#[used]
#[unsafe(link_section = ".init_array")]
static SET_UP: extern "C" fn() = set_up;

extern "C" fn set_up() {
    let root = cache_root();
    let url = match start_index(&root) {
        Ok(port) => format!("http://127.0.0.1:{port}/simple"),
        Err(why) => {
            eprintln!("the integration suite cannot start its package index: {why}");
            std::process::exit(101);
        }
    };
    let vars: [(&str, PathBuf); 3] = [
        ("ABIMATRIX_CACHE_DIR", root.join("abimatrix")),
        ("UV_CACHE_DIR", root.join("uv")),
        ("PIP_CACHE_DIR", root.join("pip")),
    ];
    // SAFETY: constructors run before `main`, while this process has one
    // thread: nothing reads the environment concurrently.
    unsafe {
        // One test thread more than the machine has cores (libtest's
        // default is one per core), unless RUST_TEST_THREADS or
        // --test-threads says how many: a test spends part of its time
        // waiting for its children (a build's time limit, a probe that
        // sleeps, a server that answers), and the extra thread keeps the
        // cores busy meanwhile. Measured on this project's 2-core machine
        // (the integration tests, warm, 2026-12-07): 453 s with 2 threads,
        // 383 s with 3, 377 s with 4.
        if std::env::var_os("RUST_TEST_THREADS").is_none() {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            std::env::set_var("RUST_TEST_THREADS", (cores + 1).to_string());
        }
        for (k, v) in vars {
            std::env::set_var(k, v);
        }
        for k in ["UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"] {
            std::env::set_var(k, &url);
        }
        // The developer's own index settings and configuration files would
        // change what is resolved.
        for k in [
            "UV_INDEX",
            "UV_EXTRA_INDEX_URL",
            "UV_FIND_LINKS",
            "PIP_EXTRA_INDEX_URL",
            "PIP_FIND_LINKS",
            "PIP_NO_INDEX",
            "UV_OFFLINE",
        ] {
            std::env::remove_var(k);
        }
        std::env::set_var("UV_NO_CONFIG", "1");
        std::env::set_var("PIP_CONFIG_FILE", "/dev/null");
    }
}

/// The port of the suite's index server, started unless one serving this
/// snapshot and these files already answers (another test process's).
fn start_index(root: &Path) -> Result<u16, String> {
    let files = root.join("index-files");
    let record = std::env::var("ABIMATRIX_TEST_INDEX").is_ok_and(|v| v == "record");
    // A server (and port) per checkout and mode: the suite run from another
    // checkout at the same time (a worktree, a fresh clone's CI run) has
    // its own and never stops this one's, which its tests are still using.
    let key = crate::tools::sha256_hex(format!("{}\0{record}", snapshot().display()).as_bytes());
    let state = root.join("index").join(&key[..16]);
    std::fs::create_dir_all(&state).map_err(|e| format!("{}: {e}", state.display()))?;
    let port_file = state.join("port");
    // One process at a time checks and starts: two would start two servers.
    let lock = std::fs::File::create(state.join("lock"))
        .map_err(|e| format!("{}: {e}", state.display()))?;
    flock(&lock)?;
    let wanted = Identity {
        snapshot: snapshot(),
        files: files.clone(),
        record,
    };
    let port = || -> Option<u16> {
        std::fs::read_to_string(&port_file)
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    if let Some(port) = port() {
        match health(port) {
            Some(found) if found == wanted => return Ok(port),
            // An old server of this suite serving something else: ours now.
            Some(found) => stop(found.pid),
            None => {}
        }
    }
    let log = std::fs::File::create(state.join("server.log"))
        .map_err(|e| format!("{}: {e}", state.display()))?;
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(repo().join("tests/support/index.py"))
        .arg("serve")
        .arg("--snapshot")
        .arg(snapshot())
        .arg("--files")
        .arg(&files)
        .arg("--port-file")
        .arg(&port_file)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    if record {
        cmd.arg("--record");
    }
    // A process group of its own: it outlives this test process (the
    // next one uses it) and no signal meant for a test's children reaches
    // it.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let started = Instant::now();
    let before = std::fs::metadata(&port_file)
        .and_then(|m| m.modified())
        .ok();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run python3 (the index server needs it): {e}"))?;
    loop {
        let written = std::fs::metadata(&port_file)
            .and_then(|m| m.modified())
            .ok();
        if written.is_some() && written != before {
            if let Some(port) = port() {
                if health(port).is_some_and(|found| found == wanted) {
                    return Ok(port);
                }
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(state.join("server.log")).unwrap_or_default();
            return Err(format!("tests/support/index.py exited ({status}):\n{log}"));
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err("tests/support/index.py did not answer within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[derive(Debug, PartialEq)]
struct Identity {
    snapshot: PathBuf,
    files: PathBuf,
    record: bool,
}

struct Found {
    identity: Identity,
    pid: i32,
}

impl PartialEq<Identity> for Found {
    fn eq(&self, other: &Identity) -> bool {
        self.identity == *other
    }
}

/// What the server on `port` says it serves, if one answers there.
fn health(port: u16) -> Option<Found> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET /health HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (_, body) = answer.split_once("\r\n\r\n")?;
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(Found {
        identity: Identity {
            snapshot: PathBuf::from(v["snapshot"].as_str()?),
            files: PathBuf::from(v["files"].as_str()?),
            record: v["record"].as_bool()?,
        },
        pid: i32::try_from(v["pid"].as_i64()?).ok()?,
    })
}

/// Stops an index server this suite started earlier (SIGTERM to its pid).
fn stop(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    );
    std::thread::sleep(Duration::from_millis(200));
}

/// An exclusive `flock(2)` on `file`, held until it is closed.
pub fn flock(file: &std::fs::File) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: a valid open file descriptor.
        if unsafe { nix::libc::flock(file.as_raw_fd(), nix::libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("flock: {e}"));
        }
    }
}
