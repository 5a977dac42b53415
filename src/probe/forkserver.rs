//! The Rust side of the fork server: one long-lived Python per runtime
//! environment that has imported NumPy once and forks a child per cell.
//!
//! Start-up (interpreter + `import numpy`) is most of a cell's cost; paying it
//! once per environment instead of once per cell is what makes a warm grid
//! take about a second. Each forked child gets its own process group, so a
//! timeout or Ctrl-C kills exactly that cell's tree, as in process mode, with
//! the same guard and staged termination (`process::GroupGuard`).
//!
//! The protocol is JSON lines both ways, typed on both sides: requests are
//! [`CellRequest`], answers a [`ServerMessage`] tagged by `"event"`.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{Mutex, oneshot};

use super::ProbeFiles;
use crate::process::{Exit, GroupGuard};

/// How long a server may take to import NumPy before we give up on it.
const START_LIMIT: Duration = Duration::from_secs(120);

/// Why a server could not run a cell.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServerError {
    #[error("cannot start the fork server: {0}")]
    Spawn(Arc<std::io::Error>),
    #[error("the fork server did not start: {0}")]
    NotReady(String),
    #[error("the fork server exited")]
    Gone,
}

/// One line the server writes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum ServerMessage {
    Ready { numpy: String },
    Started { id: u64, pid: u32 },
    Exited { id: u64, code: i32 },
    Killed { id: u64, signal: i32 },
}

/// One line we write: run the probe for one cell.
#[derive(Debug, Serialize)]
pub struct CellRequest<'a> {
    pub id: u64,
    /// The row's artifact, then the cell's dependencies.
    pub artifacts: &'a [std::path::PathBuf],
    pub module: &'a str,
    pub probe: &'a Path,
    /// What tracebacks call the probe, and the line it starts on there.
    pub name: &'a str,
    pub line: usize,
    pub result: &'a Path,
    pub cwd: &'a Path,
    pub stdout: &'a Path,
    pub stderr: &'a Path,
}

pub struct ForkServer {
    /// Kept so the server dies with us (kill_on_drop) and is reaped; the
    /// guard kills its whole group.
    _child: Child,
    _group: Option<GroupGuard>,
    stdin: Mutex<ChildStdin>,
    routes: Arc<std::sync::Mutex<HashMap<u64, Route>>>,
    next: AtomicU64,
}

/// Where the reader delivers a cell's two messages.
struct Route {
    started: Option<oneshot::Sender<u32>>,
    ended: Option<oneshot::Sender<Exit>>,
}

/// Files of one forked cell.
pub struct Request<'a> {
    /// The row's artifact, then the cell's dependencies.
    pub artifacts: &'a [std::path::PathBuf],
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
    ) -> Result<ForkServer, ServerError> {
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
        let mut child = cmd.spawn().map_err(|e| ServerError::Spawn(Arc::new(e)))?;
        let group = child.id().map(GroupGuard::of);
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(ServerError::NotReady("the fork server has no pipes".into()));
        };
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(START_LIMIT, lines.next_line()).await;
        let is_ready = |line: &str| {
            matches!(
                serde_json::from_str::<ServerMessage>(line),
                Ok(ServerMessage::Ready { .. })
            )
        };
        match ready {
            Ok(Ok(Some(line))) if is_ready(&line) => {}
            _ => {
                let _ = child.start_kill();
                let mut err = String::new();
                let _ =
                    tokio::io::AsyncReadExt::read_to_string(&mut BufReader::new(stderr), &mut err)
                        .await;
                let last = err.lines().last().unwrap_or("no output").to_string();
                return Err(ServerError::NotReady(last));
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
                let Ok(message) = serde_json::from_str::<ServerMessage>(&line) else {
                    continue;
                };
                let Ok(mut routes) = reader_routes.lock() else {
                    break;
                };
                deliver(&mut routes, message);
            }
            // The server is gone: every waiting cell learns it (its senders
            // are dropped with the map).
            if let Ok(mut routes) = reader_routes.lock() {
                routes.clear();
            }
        });
        Ok(ForkServer {
            _child: child,
            _group: group,
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
    ) -> Result<Exit, ServerError> {
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
        let line = CellRequest {
            id,
            artifacts: request.artifacts,
            module: request.module,
            probe: &files.code,
            name: &files.name,
            line: files.first_line,
            result: request.result,
            cwd: request.cwd,
            stdout: request.stdout,
            stderr: request.stderr,
        };
        let mut line = serde_json::to_string(&line).map_err(|_| ServerError::Gone)?;
        line.push('\n');
        self.stdin
            .lock()
            .await
            .write_all(line.as_bytes())
            .await
            .map_err(|_| ServerError::Gone)?;
        let pid = started_rx.await.map_err(|_| ServerError::Gone)?;
        // From here the cell's group dies with this future (Ctrl-C), after a
        // timeout, and after a normal end (stray grandchildren).
        let guard = GroupGuard::of(pid);
        let exit = match tokio::time::timeout(limit, &mut ended_rx).await {
            Ok(exit) => exit.map_err(|_| ServerError::Gone)?,
            Err(_) => {
                if guard.terminate(&mut ended_rx).await.is_none() {
                    let _ = ended_rx.await;
                }
                Exit::TimedOut(limit)
            }
        };
        drop(guard);
        Ok(exit)
    }
}

/// Hands one message to the cell waiting for it.
fn deliver(routes: &mut HashMap<u64, Route>, message: ServerMessage) {
    match message {
        ServerMessage::Ready { .. } => {}
        ServerMessage::Started { id, pid } => {
            if let Some(tx) = routes.get_mut(&id).and_then(|r| r.started.take()) {
                let _ = tx.send(pid);
            }
        }
        ServerMessage::Exited { id, code } => end(routes, id, Exit::Code(code)),
        ServerMessage::Killed { id, signal } => end(routes, id, Exit::Signal(signal)),
    }
}

fn end(routes: &mut HashMap<u64, Route>, id: u64, exit: Exit) {
    if let Some(mut route) = routes.remove(&id) {
        if let Some(tx) = route.ended.take() {
            let _ = tx.send(exit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocol_reads_every_message_forkserver_py_writes() {
        let lines = [
            (
                r#"{"event": "ready", "numpy": "2.0.2"}"#,
                ServerMessage::Ready {
                    numpy: "2.0.2".into(),
                },
            ),
            (
                r#"{"event": "started", "id": 3, "pid": 1234}"#,
                ServerMessage::Started { id: 3, pid: 1234 },
            ),
            (
                r#"{"event": "exited", "id": 3, "code": 1}"#,
                ServerMessage::Exited { id: 3, code: 1 },
            ),
            (
                r#"{"event": "killed", "id": 3, "signal": 11}"#,
                ServerMessage::Killed { id: 3, signal: 11 },
            ),
        ];
        for (line, want) in lines {
            assert_eq!(serde_json::from_str::<ServerMessage>(line).unwrap(), want);
        }
        // The Python side writes exactly these tags.
        let server = super::super::SERVER;
        for tag in ["\"ready\"", "\"started\"", "\"exited\"", "\"killed\""] {
            assert!(server.contains(&format!("\"event\": {tag}")), "{tag}");
        }
    }

    #[test]
    fn messages_reach_their_cell_once() {
        let mut routes = HashMap::new();
        let (s_tx, mut s_rx) = oneshot::channel();
        let (e_tx, mut e_rx) = oneshot::channel();
        routes.insert(
            7,
            Route {
                started: Some(s_tx),
                ended: Some(e_tx),
            },
        );
        deliver(&mut routes, ServerMessage::Started { id: 7, pid: 42 });
        assert_eq!(s_rx.try_recv().unwrap(), 42);
        deliver(&mut routes, ServerMessage::Killed { id: 7, signal: 9 });
        assert_eq!(e_rx.try_recv().unwrap(), Exit::Signal(9));
        assert!(routes.is_empty());
        // A message for no one is dropped, not a panic.
        deliver(&mut routes, ServerMessage::Exited { id: 99, code: 0 });
    }
}
