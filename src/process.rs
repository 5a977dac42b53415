//! Spawning child processes the way a test runner must: each in its own
//! process group, output captured (and capped), a time limit that kills the
//! whole tree, and no child outliving the future that owns it.
//!
//! Why a process group: a probe or compiler may start children of its own. A
//! timeout that kills only the direct child leaves the rest running and
//! holding our pipes open, so the run would hang on a "finished" cell.

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// How much of each stream is kept; the rest is counted, not stored, so a
/// child that floods its output cannot exhaust our memory.
pub const OUTPUT_CAP: usize = 4 * 1024 * 1024;

/// After SIGTERM, how long the group gets before SIGKILL.
const TERM_GRACE: Duration = Duration::from_millis(500);

/// How a finished child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Exited(ExitStatus),
    /// Still running at the limit; the group was terminated.
    TimedOut(Duration),
}

/// One stream of a child's output, capped at [`OUTPUT_CAP`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub text: String,
    /// Bytes beyond the cap that were read and dropped.
    pub dropped: u64,
}

impl Captured {
    /// The kept text, with a note when some was dropped.
    pub fn display(&self) -> String {
        if self.dropped == 0 {
            self.text.clone()
        } else {
            format!(
                "{}\n[abimatrix: {} more bytes not kept]",
                self.text, self.dropped
            )
        }
    }
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub ended: Ended,
    pub stdout: Captured,
    pub stderr: Captured,
    pub duration: Duration,
}

impl Finished {
    pub fn success(&self) -> bool {
        matches!(self.ended, Ended::Exited(s) if s.success())
    }

    /// Both streams, for error messages: what a person needs to see.
    pub fn output(&self) -> String {
        let mut out = self.stderr.display();
        let stdout = self.stdout.display();
        if !stdout.trim().is_empty() {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&stdout);
        }
        out.trim_end().to_string()
    }
}

/// Could not start the child at all: distinct from "started and failed".
#[derive(Debug, thiserror::Error)]
#[error("cannot run {program}: {source}")]
pub struct SpawnError {
    pub program: String,
    #[source]
    pub source: io::Error,
}

/// What to run. Built with a small builder so callers read as a command line.
pub struct Spec {
    cmd: Command,
    program: String,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
}

impl Spec {
    pub fn new(program: impl AsRef<OsStr>) -> Spec {
        let program_ref = program.as_ref();
        Spec {
            program: program_ref.to_string_lossy().into_owned(),
            cmd: Command::new(program_ref),
            stdin: None,
            timeout: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Spec {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Spec
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn cwd(mut self, dir: &Path) -> Spec {
        self.cmd.current_dir(dir);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Spec {
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Spec {
        self.cmd.env_remove(key);
        self
    }

    /// Start from an empty environment (then add what the child needs).
    pub fn env_clear(mut self) -> Spec {
        self.cmd.env_clear();
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Spec {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn timeout(mut self, limit: Duration) -> Spec {
        self.timeout = Some(limit);
        self
    }

    /// The command line, for logs and `explain`.
    pub fn display(&self) -> String {
        let std = self.cmd.as_std();
        std::iter::once(std.get_program())
            .chain(std.get_args())
            .map(|a| {
                let s = a.to_string_lossy();
                shlex::try_quote(&s).map_or_else(|_| s.to_string(), |q| q.into_owned())
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs to completion (or the time limit) and captures both streams.
    pub async fn run(self) -> Result<Finished, SpawnError> {
        let Spec {
            mut cmd,
            program,
            stdin,
            timeout,
        } = self;
        die_with_parent(&mut cmd);
        cmd.process_group(0)
            .kill_on_drop(true)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let mut child = cmd.spawn().map_err(|source| SpawnError {
            program: program.clone(),
            source,
        })?;
        // The group id is the child's pid (process_group(0)); the guard kills
        // the group if this future is dropped (Ctrl-C, run aborted).
        let guard = child.id().map(|pid| GroupGuard(Pid::from_raw(pid as i32)));

        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // Fed from a task: a child that never reads must not block us.
            tokio::spawn(async move {
                let _ = pipe.write_all(&bytes).await;
            });
        }
        let stdout = tokio::spawn(capture(child.stdout.take()));
        let stderr = tokio::spawn(capture(child.stderr.take()));

        let wait = async {
            match timeout {
                Some(limit) => match tokio::time::timeout(limit, child.wait()).await {
                    Ok(status) => status.map(Ended::Exited),
                    Err(_) => {
                        if let Some(g) = &guard {
                            g.signal(Signal::SIGTERM);
                        }
                        if tokio::time::timeout(TERM_GRACE, child.wait())
                            .await
                            .is_err()
                        {
                            if let Some(g) = &guard {
                                g.signal(Signal::SIGKILL);
                            }
                            child.wait().await?;
                        }
                        Ok(Ended::TimedOut(limit))
                    }
                },
                None => child.wait().await.map(Ended::Exited),
            }
        };
        let ended = wait.await.map_err(|source| SpawnError {
            program: program.clone(),
            source,
        })?;
        let duration = start.elapsed();
        // Descendants left behind would keep our pipes open; they belong to
        // the cell, so they end with it.
        if let Some(g) = guard {
            g.signal(Signal::SIGKILL);
            std::mem::forget(g);
        }
        let stdout = stdout.await.unwrap_or_default();
        let stderr = stderr.await.unwrap_or_default();
        Ok(Finished {
            ended,
            stdout,
            stderr,
            duration,
        })
    }
}

/// Asks the kernel to SIGKILL the child if `matrix` itself dies without
/// cleaning up (`kill -9`, a crash): process-group guards only run when we
/// do. Linux ties this to the spawning *thread*; tokio's worker threads live
/// as long as the runtime, which is as long as any child of ours.
pub fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs between fork and exec and only makes one
    // async-signal-safe system call (prctl).
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
}

/// Kills a process group when dropped.
struct GroupGuard(Pid);

impl GroupGuard {
    fn signal(&self, signal: Signal) {
        // ESRCH (the group is already gone) is the normal case, not an error.
        let _ = killpg(self.0, signal);
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
    }
}

async fn capture<R: AsyncRead + Unpin>(pipe: Option<R>) -> Captured {
    let Some(mut pipe) = pipe else {
        return Captured::default();
    };
    let mut kept = Vec::new();
    let mut dropped = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = OUTPUT_CAP.saturating_sub(kept.len());
                let take = n.min(room);
                kept.extend_from_slice(&buf[..take]);
                dropped += (n - take) as u64;
            }
        }
    }
    Captured {
        text: String::from_utf8_lossy(&kept).into_owned(),
        dropped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn sh(script: &str) -> Spec {
        Spec::new("sh").arg("-c").arg(script)
    }

    #[tokio::test]
    async fn captures_both_streams_and_the_exit_code() {
        let f = sh("echo out; echo err >&2; exit 3").run().await.unwrap();
        assert_eq!(f.stdout.text, "out\n");
        assert_eq!(f.stderr.text, "err\n");
        match f.ended {
            Ended::Exited(s) => assert_eq!(s.code(), Some(3)),
            other => panic!("{other:?}"),
        }
        assert!(!f.success());
    }

    #[tokio::test]
    async fn reports_the_signal_that_killed_the_child() {
        let f = sh("kill -SEGV $$").run().await.unwrap();
        match f.ended {
            Ended::Exited(s) => assert_eq!(s.signal(), Some(11)),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group_including_grandchildren() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        // The grandchild ignores SIGTERM, so only the SIGKILL stage ends it.
        let script = format!(
            "sh -c 'trap \"\" TERM; echo $$ > {}; sleep 30' & sleep 30",
            pidfile.display()
        );
        let start = Instant::now();
        let f = sh(&script)
            .timeout(Duration::from_millis(300))
            .run()
            .await
            .unwrap();
        assert_eq!(f.ended, Ended::TimedOut(Duration::from_millis(300)));
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Killed processes may linger as zombies until init reaps them (in a
        // container it may never do so): a zombie runs nothing, so it counts
        // as gone.
        let gone = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            !running(pid)
        });
        assert!(gone, "grandchild {pid} survived the timeout");
    }

    /// Whether `pid` exists and is not a zombie, from /proc.
    pub(crate) fn running(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state follows the parenthesised command name.
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    }

    #[tokio::test]
    async fn output_beyond_the_cap_is_counted_not_kept() {
        let extra = 1000;
        let script = format!("head -c {} /dev/zero", OUTPUT_CAP + extra);
        let f = sh(&script).run().await.unwrap();
        assert_eq!(f.stdout.text.len(), OUTPUT_CAP);
        assert_eq!(f.stdout.dropped, extra as u64);
        assert!(f.stdout.display().ends_with("1000 more bytes not kept]"));
    }

    #[tokio::test]
    async fn stdin_is_fed_and_missing_programs_are_spawn_errors() {
        let f = Spec::new("cat").stdin("hello").run().await.unwrap();
        assert_eq!(f.stdout.text, "hello");
        let err = Spec::new("/nonexistent/prog").run().await.unwrap_err();
        assert_eq!(err.source.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().starts_with("cannot run /nonexistent/prog"));
    }
}
