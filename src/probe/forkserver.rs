//! The Rust side of the fork server: one long-lived Python per runtime
//! environment that has imported NumPy once and forks a child per cell.
//!
//! Start-up (interpreter + `import numpy`) is most of a cell's cost; paying it
//! once per environment instead of once per cell is what makes a warm grid
//! take about a second. Each forked child gets its own process group, so a
//! timeout or Ctrl-C kills exactly that cell's tree, as in process mode.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{Mutex, oneshot};

use super::ProbeFiles;

/// How long a server may take to import NumPy before we give up on it.
const START_LIMIT: Duration = Duration::from_secs(120);
const TERM_GRACE: Duration = Duration::from_millis(500);

pub struct ForkServer {
    /// Kept so the server dies with us (kill_on_drop) and is reaped.
    _child: Child,
    group: Pid,
    stdin: Mutex<ChildStdin>,
    routes: Arc<std::sync::Mutex<HashMap<u64, Route>>>,
    next: AtomicU64,
}

/// Where the reader delivers a cell's two messages.
struct Route {
    started: Option<oneshot::Sender<i32>>,
    ended: Option<oneshot::Sender<End>>,
}

/// How a forked child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Code(i32),
    Signal(i32),
    TimedOut,
}

#[derive(Deserialize)]
struct Message {
    id: Option<u64>,
    pid: Option<i32>,
    code: Option<i32>,
    signal: Option<i32>,
    ready: Option<bool>,
}

/// Files of one forked cell.
pub struct Request<'a> {
    pub artifact: &'a Path,
    pub module: &'a str,
    pub cwd: &'a Path,
    pub stdout: &'a Path,
    pub stderr: &'a Path,
    pub result: &'a Path,
}

impl ForkServer {
    /// Starts a server in the environment whose Python is `python`, with the
    /// same clean environment as a process-mode probe.
    pub async fn start(
        python: &Path,
        files: &ProbeFiles,
        env: &[(String, std::ffi::OsString)],
    ) -> Result<ForkServer, String> {
        let mut cmd = Command::new(python);
        cmd.env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args(["-I", "-X", "faulthandler"])
            .arg(&files.server)
            .arg(&files.driver)
            .process_group(0)
            .kill_on_drop(true)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start the fork server: {e}"))?;
        let group = Pid::from_raw(child.id().map_or(0, |p| p as i32));
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("the fork server has no pipes".into());
        };
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(START_LIMIT, lines.next_line()).await;
        match ready {
            Ok(Ok(Some(line)))
                if serde_json::from_str::<Message>(&line).is_ok_and(|m| m.ready == Some(true)) => {}
            _ => {
                let _ = child.start_kill();
                let mut err = String::new();
                let _ =
                    tokio::io::AsyncReadExt::read_to_string(&mut BufReader::new(stderr), &mut err)
                        .await;
                let last = err.lines().last().unwrap_or("no output").to_string();
                return Err(format!("the fork server did not start: {last}"));
            }
        }
        // The server's own stderr is drained so it can never block on it.
        tokio::spawn(async move {
            let mut sink = tokio::io::sink();
            let _ = tokio::io::copy(&mut BufReader::new(stderr), &mut sink).await;
        });
        let routes: Arc<std::sync::Mutex<HashMap<u64, Route>>> = Arc::default();
        let reader_routes = routes.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(m) = serde_json::from_str::<Message>(&line) else {
                    continue;
                };
                let Some(id) = m.id else { continue };
                let Ok(mut routes) = reader_routes.lock() else {
                    break;
                };
                let Some(route) = routes.get_mut(&id) else {
                    continue;
                };
                if let Some(pid) = m.pid {
                    if let Some(tx) = route.started.take() {
                        let _ = tx.send(pid);
                    }
                } else {
                    let end = match (m.code, m.signal) {
                        (_, Some(s)) => End::Signal(s),
                        (Some(c), None) => End::Code(c),
                        (None, None) => End::Code(-1),
                    };
                    if let Some(tx) = route.ended.take() {
                        let _ = tx.send(end);
                    }
                    routes.remove(&id);
                }
            }
            // The server is gone: every waiting cell learns it (its senders
            // are dropped with the map).
            if let Ok(mut routes) = reader_routes.lock() {
                routes.clear();
            }
        });
        Ok(ForkServer {
            _child: child,
            group,
            stdin: Mutex::new(stdin),
            routes,
            next: AtomicU64::new(1),
        })
    }

    /// Runs one cell: fork, wait up to `limit`, kill its group on timeout.
    pub async fn run(
        &self,
        files: &ProbeFiles,
        request: Request<'_>,
        limit: Duration,
    ) -> Result<End, String> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (started_tx, started_rx) = oneshot::channel();
        let (ended_tx, mut ended_rx) = oneshot::channel();
        if let Ok(mut routes) = self.routes.lock() {
            routes.insert(
                id,
                Route {
                    started: Some(started_tx),
                    ended: Some(ended_tx),
                },
            );
        }
        let line = serde_json::json!({
            "id": id,
            "artifact": request.artifact,
            "module": request.module,
            "probe": files.code,
            "result": request.result,
            "cwd": request.cwd,
            "stdout": request.stdout,
            "stderr": request.stderr,
        })
        .to_string()
            + "\n";
        let gone = || "the fork server exited".to_string();
        self.stdin
            .lock()
            .await
            .write_all(line.as_bytes())
            .await
            .map_err(|_| gone())?;
        let pid = started_rx.await.map_err(|_| gone())?;
        // From here the cell's group dies with this future (Ctrl-C), after a
        // timeout, and after a normal end (stray grandchildren).
        let guard = CellGuard(Pid::from_raw(pid));
        let end = match tokio::time::timeout(limit, &mut ended_rx).await {
            Ok(end) => end.map_err(|_| gone())?,
            Err(_) => {
                guard.signal(Signal::SIGTERM);
                if tokio::time::timeout(TERM_GRACE, &mut ended_rx)
                    .await
                    .is_err()
                {
                    guard.signal(Signal::SIGKILL);
                    let _ = ended_rx.await;
                }
                End::TimedOut
            }
        };
        drop(guard);
        Ok(end)
    }
}

impl Drop for ForkServer {
    fn drop(&mut self) {
        let _ = killpg(self.group, Signal::SIGKILL);
    }
}

struct CellGuard(Pid);

impl CellGuard {
    fn signal(&self, signal: Signal) {
        let _ = killpg(self.0, signal);
    }
}

impl Drop for CellGuard {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
    }
}
