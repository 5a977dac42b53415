//! Spawning child processes the way a test runner must: each in its own
//! process group, output captured (and capped), a time limit that kills the
//! whole tree, and no child outliving the future that owns it.
//!
//! Why a process group: a probe or compiler may start children of its own. A
//! timeout that kills only the direct child leaves the rest running and
//! holding our pipes open, so the run would hang on a "finished" cell. The
//! group guard and the staged termination here are the only ones in the
//! program: the fork server's cells use them too.

use std::ffi::OsStr;
use std::future::Future;
use std::io;
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// How much of each stream is kept; the rest is counted, not stored, so a
/// child that floods its output cannot exhaust our memory.
pub const OUTPUT_CAP: usize = 4 * 1024 * 1024;

/// After SIGTERM, how long a group gets before SIGKILL.
const TERM_GRACE: Duration = Duration::from_millis(500);

/// After the child ended and its group was killed, how long its output
/// pipes may stay open: only a process that left the group holds them.
const PIPE_GRACE: Duration = Duration::from_millis(500);

/// How a child ended: the one answer every kind of child gives (a command,
/// a probe in its own process, a cell forked by the fork server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
    /// Still running at the limit; its group was terminated.
    TimedOut(Duration),
}

impl Exit {
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    /// From the operating system's status.
    pub fn of(status: std::process::ExitStatus) -> Exit {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (_, Some(signal)) => Exit::Signal(signal),
            (Some(code), None) => Exit::Code(code),
            (None, None) => Exit::Code(-1),
        }
    }
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

    /// A file's first [`OUTPUT_CAP`] bytes, and how many more there were
    /// (the fork server's cells write their output to files).
    pub fn read_file(path: &Path) -> Captured {
        use std::io::Read as _;
        let Ok(file) = std::fs::File::open(path) else {
            return Captured::default();
        };
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut kept = Vec::new();
        let _ = file.take(OUTPUT_CAP as u64).read_to_end(&mut kept);
        Captured {
            text: String::from_utf8_lossy(&kept).into_owned(),
            dropped: size.saturating_sub(kept.len() as u64),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub exit: Exit,
    pub stdout: Captured,
    pub stderr: Captured,
    pub duration: Duration,
    /// Processes that escaped the child's group (a new session) and still
    /// held its output when it ended: killed, and named here.
    pub escaped: Vec<Stray>,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.exit.success()
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
    /// Every process the child starts is marked, found and ended with it
    /// ([`Spec::track_descendants`]).
    lineage: Option<Lineage>,
}

impl Spec {
    pub fn new(program: impl AsRef<OsStr>) -> Spec {
        let program_ref = program.as_ref();
        Spec {
            program: program_ref.to_string_lossy().into_owned(),
            cmd: Command::new(program_ref),
            stdin: None,
            timeout: None,
            lineage: None,
        }
    }

    /// Follows every process the child starts, even one that leaves its
    /// process group for a session of its own (a build server a backend
    /// leaves running): each carries a mark in its environment (inherited
    /// unless a process clears it, as Jenkins' process tree killer marks
    /// builds). One that holds a pipe the child reads, once nothing of the
    /// child's group is left working, is what keeps the child waiting: it
    /// is killed then, so the child ends as it would have; whatever is
    /// left when the child ends (or is killed at its time limit) is killed
    /// too. All are named in [`Finished::escaped`].
    pub fn track_descendants(mut self) -> Spec {
        let lineage = Lineage::new();
        self.cmd.env(LINEAGE_VAR, &lineage.0);
        self.lineage = Some(lineage);
        self
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

    /// The value this spec sets for `key` (for tests of command builders).
    #[cfg(test)]
    pub fn env_value(&self, key: &str) -> Option<String> {
        self.cmd
            .as_std()
            .get_envs()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
    }

    /// The command line, for logs and `explain`.
    pub fn display(&self) -> String {
        let std = self.cmd.as_std();
        std::iter::once(std.get_program())
            .chain(std.get_args())
            .map(|a| quote(&a.to_string_lossy()))
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
            lineage,
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
        let spawn_error = |source| SpawnError {
            program: program.clone(),
            source,
        };
        let mut child = cmd.spawn().map_err(spawn_error)?;
        // The group id is the child's pid (process_group(0)); the guard kills
        // the group if this future is dropped (Ctrl-C, run aborted).
        let guard = child.id().map(GroupGuard::of);

        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // Fed from a task: a child that never reads must not block us.
            tokio::spawn(async move {
                let _ = pipe.write_all(&bytes).await;
            });
        }
        let pipes: Vec<Holding> = [
            child.stdout.as_ref().map(|p| p.as_raw_fd()),
            child.stderr.as_ref().map(|p| p.as_raw_fd()),
        ]
        .into_iter()
        .flatten()
        .filter_map(pipe_inode)
        .map(Holding::Pipe)
        .collect();
        let stdout = tokio::spawn(capture(child.stdout.take()));
        let stderr = tokio::spawn(capture(child.stderr.take()));

        // Escaped descendants that held up the child's end, killed (when
        // the child's descendants are followed).
        let released = std::sync::Mutex::new(Vec::new());
        let leader = child.id();
        let waited = async {
            match (&lineage, leader) {
                (Some(lineage), Some(leader)) => tokio::select! {
                    status = child.wait() => status,
                    never = lineage.release(leader, &released) => match never {},
                },
                _ => child.wait().await,
            }
        };
        let exit = match (timeout, &guard) {
            (Some(limit), Some(guard)) => match tokio::time::timeout(limit, waited).await {
                Ok(status) => Exit::of(status.map_err(spawn_error)?),
                Err(_) => {
                    if guard.terminate(child.wait()).await.is_none() {
                        child.wait().await.map_err(spawn_error)?;
                    }
                    Exit::TimedOut(limit)
                }
            },
            _ => Exit::of(waited.await.map_err(spawn_error)?),
        };
        let duration = start.elapsed();
        // Descendants left behind would keep our pipes open; they belong to
        // the cell, so they end with it.
        drop(guard);
        let mut escaped = released.into_inner().unwrap_or_default();
        if let (Some(lineage), Some(leader)) = (&lineage, leader) {
            // The group was killed above; what is left of the lineage
            // outside it left on its own, and is named.
            let left: Vec<Stray> = lineage
                .members_off_runtime()
                .await
                .into_iter()
                .filter(|m| process_group(m.pid) != Some(leader as i32))
                .collect();
            kill(&left);
            escaped.extend(left);
        }
        let (out, err) = drain(stdout, stderr, pipes, &mut escaped).await;
        Ok(Finished {
            exit,
            stdout: out,
            stderr: err,
            duration,
            escaped,
        })
    }
}

/// The child's output, once its pipes close. A process that left the
/// group (setsid) may still hold them: the child has ended, so it is not
/// waited for. It is found by the pipes it holds, named (in `escaped`),
/// and killed: it belongs to the child.
async fn drain(
    mut stdout: tokio::task::JoinHandle<Captured>,
    mut stderr: tokio::task::JoinHandle<Captured>,
    pipes: Vec<Holding>,
    escaped: &mut Vec<Stray>,
) -> (Captured, Captured) {
    let both = async { futures::future::join(&mut stdout, &mut stderr).await };
    if let Ok((o, e)) = tokio::time::timeout(PIPE_GRACE, both).await {
        return (o.unwrap_or_default(), e.unwrap_or_default());
    }
    let holding = holders_off_runtime(pipes).await;
    kill(&holding);
    for h in holding {
        if !escaped.contains(&h) {
            escaped.push(h);
        }
    }
    let both = async { futures::future::join(&mut stdout, &mut stderr).await };
    match tokio::time::timeout(PIPE_GRACE, both).await {
        Ok((o, e)) => (o.unwrap_or_default(), e.unwrap_or_default()),
        Err(_) => {
            stdout.abort();
            stderr.abort();
            (Captured::default(), Captured::default())
        }
    }
}

/// The variable that marks every process started under a tracked child.
const LINEAGE_VAR: &str = "ABIMATRIX_LINEAGE";

/// How often a tracked child's descendants are looked at while it runs.
const LINEAGE_POLL: Duration = Duration::from_secs(1);

/// The mark of one tracked child's descendants: unique to this process
/// and this child.
#[derive(Debug)]
struct Lineage(String);

impl Lineage {
    fn new() -> Lineage {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Lineage(format!("{}-{n}-{nanos}", std::process::id()))
    }

    /// Every live process that carries the mark.
    fn members(&self) -> Vec<Stray> {
        holders(&[self.mark()])
    }

    fn mark(&self) -> Holding {
        Holding::Mark(format!("{LINEAGE_VAR}={}", self.0))
    }

    /// [`Lineage::members`] from async code: a walk of every process's
    /// environment, on the blocking pool.
    async fn members_off_runtime(&self) -> Vec<Stray> {
        holders_off_runtime(vec![self.mark()]).await
    }

    /// While the child `leader` runs: once nothing of its group but itself
    /// is left, a marked process outside the group that holds a pipe the
    /// leader holds is what keeps it waiting (a daemon holding the output
    /// of a backend that has finished): killed, and remembered in `out`.
    /// Seen on two looks in a row, so a process between two steps of the
    /// leader is not taken for one. Never returns.
    async fn release(
        &self,
        leader: u32,
        out: &std::sync::Mutex<Vec<Stray>>,
    ) -> std::convert::Infallible {
        let leader = leader as i32;
        let mut suspects: Vec<Stray> = Vec::new();
        loop {
            tokio::time::sleep(LINEAGE_POLL).await;
            let members = self.members_off_runtime().await;
            let working = members
                .iter()
                .any(|m| m.pid != leader && process_group(m.pid) == Some(leader));
            let pipes: Vec<Holding> = pipes_of(leader).into_iter().map(Holding::Pipe).collect();
            let holding: Vec<Stray> = if working || pipes.is_empty() {
                Vec::new()
            } else {
                let holders = holders_off_runtime(pipes).await;
                members
                    .into_iter()
                    .filter(|m| process_group(m.pid) != Some(leader) && holders.contains(m))
                    .collect()
            };
            let confirmed: Vec<Stray> = holding
                .iter()
                .filter(|h| suspects.contains(h))
                .cloned()
                .collect();
            if !confirmed.is_empty() {
                kill(&confirmed);
                if let Ok(mut out) = out.lock() {
                    out.extend(confirmed);
                }
            }
            suspects = holding;
        }
    }
}

impl Drop for Lineage {
    /// A run cut short (Ctrl-C drops every future) still ends what its
    /// tracked children left running.
    fn drop(&mut self) {
        kill(&self.members());
    }
}

/// The process group of `pid`, from /proc.
fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the parenthesised name: state, ppid, pgrp.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

/// The pipes (by inode) `pid` holds open.
fn pipes_of(pid: i32) -> Vec<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            target
                .to_string_lossy()
                .strip_prefix("pipe:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// A process that outlived what started it outside its process group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stray {
    pub pid: i32,
    pub command: String,
}

impl std::fmt::Display for Stray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} {}", self.pid, self.command)
    }
}

/// What ties a process to a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holding {
    /// It holds this pipe (by inode) open.
    Pipe(u64),
    /// It holds this file open.
    File(PathBuf),
    /// Its working directory is this one.
    Cwd(PathBuf),
    /// Its environment holds this `NAME=value` entry.
    Mark(String),
}

fn pipe_inode(fd: i32) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    link.to_string_lossy()
        .strip_prefix("pipe:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The processes other than this one that hold any of `what`, from /proc.
/// [`holders`] from async code: the walk of `/proc` runs on the blocking
/// pool, so the timers that end cells keep firing meanwhile.
pub async fn holders_off_runtime(what: Vec<Holding>) -> Vec<Stray> {
    crate::blocking::run(move || holders(&what)).await
}

pub fn holders(what: &[Holding]) -> Vec<Stray> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let held = |h: &Holding| match h {
            Holding::Cwd(dir) => std::fs::read_link(p.path().join("cwd")).is_ok_and(|c| c == *dir),
            Holding::Mark(entry) => std::fs::read(p.path().join("environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|e| e == entry.as_bytes())),
            Holding::Pipe(_) | Holding::File(_) => std::fs::read_dir(p.path().join("fd"))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .any(|target| match h {
                    Holding::Pipe(ino) => target.to_string_lossy() == format!("pipe:[{ino}]"),
                    Holding::File(path) => target == *path,
                    Holding::Cwd(_) | Holding::Mark(_) => false,
                }),
        };
        if what.iter().any(held) {
            let command = std::fs::read(p.path().join("cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .split('\0')
                        .filter(|w| !w.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            out.push(Stray { pid, command });
        }
    }
    out
}

/// Whether any other process holds `path` open for writing: `Some(false)`
/// proven not (a read lease, which the kernel grants only then, was
/// granted and given back), `Some(true)` proven so, `None` when the file
/// system cannot say. O(1), where a scan of /proc costs milliseconds.
/// Leases are Linux's: elsewhere the answer is always `None`.
#[cfg(target_os = "linux")]
pub fn held_for_writing(path: &Path) -> Option<bool> {
    let file = std::fs::File::open(path).ok()?;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own and keep open for the call; the
    // lease is released before the file is closed.
    let granted = unsafe { nix::libc::fcntl(fd, nix::libc::F_SETLEASE, nix::libc::F_RDLCK) };
    if granted == 0 {
        // SAFETY: as above.
        unsafe { nix::libc::fcntl(fd, nix::libc::F_SETLEASE, nix::libc::F_UNLCK) };
        return Some(false);
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(code) if code == nix::libc::EAGAIN => Some(true),
        _ => None,
    }
}

#[cfg(not(target_os = "linux"))]
pub fn held_for_writing(_path: &Path) -> Option<bool> {
    None
}

/// SIGKILLs each of `strays`: they belong to the child that started them.
pub fn kill(strays: &[Stray]) {
    for s in strays {
        let _ = nix::sys::signal::kill(Pid::from_raw(s.pid), Signal::SIGKILL);
    }
}

/// `paths` as one `:`-separated list for the variable `variable` (`PATH`,
/// `PYTHONPATH`): refused, naming the folder, when one holds the ':' that
/// separates the entries (the child would split it there; joining them
/// anyway once made every cell fail with an `IndexError`).
pub fn search_list(
    variable: &'static str,
    paths: &[PathBuf],
) -> Result<std::ffi::OsString, Unjoinable> {
    std::env::join_paths(paths).map_err(|_| Unjoinable {
        variable,
        path: paths
            .iter()
            .find(|p| p.as_os_str().as_encoded_bytes().contains(&b':'))
            .cloned()
            .unwrap_or_default(),
    })
}

/// A folder that cannot go on a `:`-separated search path.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "{} cannot go on {variable}: its name holds ':', which separates {variable}'s entries; give --cache-dir (or --artifacts, TMPDIR) a folder without ':'",
    path.display()
)]
pub struct Unjoinable {
    pub variable: &'static str,
    pub path: PathBuf,
}

/// A word of a command line, quoted for a POSIX shell where it needs it.
pub fn quote(word: &str) -> String {
    shlex::try_quote(word).map_or_else(|_| word.to_string(), |q| q.into_owned())
}

/// Asks the kernel to SIGKILL the child if `matrix` itself dies without
/// cleaning up (`kill -9`, a crash): process-group guards only run when we
/// do. Linux ties this to the spawning *thread*: children are spawned by
/// async code, on the runtime's one thread, which lives as long as any
/// child of ours; never from the blocking pool, whose idle threads exit
/// (and would take such a child with them).
pub fn die_with_parent(cmd: &mut Command) {
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs between fork and exec and only makes one
    // async-signal-safe system call (prctl).
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
}

/// Owns a process group: SIGKILLs it when dropped, so no child outlives the
/// future that started it (Ctrl-C drops every future of the run).
#[derive(Debug)]
pub struct GroupGuard(Pid);

impl GroupGuard {
    /// The group led by `pid` (a child started with `process_group(0)`, or
    /// a forked cell that called `setpgid(0, 0)`).
    pub fn of(pid: u32) -> GroupGuard {
        GroupGuard(Pid::from_raw(pid as i32))
    }

    pub fn signal(&self, signal: Signal) {
        // ESRCH (the group is already gone) is the normal case, not an error.
        let _ = killpg(self.0, signal);
    }

    /// The staged termination: SIGTERM to the group, then SIGKILL unless
    /// `ended` resolves within the grace period. Returns what `ended` gave,
    /// or `None` when the SIGKILL stage was needed (the caller then waits
    /// for the child to be reaped).
    pub async fn terminate<F: Future>(&self, ended: F) -> Option<F::Output> {
        self.signal(Signal::SIGTERM);
        match tokio::time::timeout(TERM_GRACE, ended).await {
            Ok(out) => Some(out),
            Err(_) => {
                self.signal(Signal::SIGKILL);
                None
            }
        }
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

    fn sh(script: &str) -> Spec {
        Spec::new("sh").arg("-c").arg(script)
    }

    #[tokio::test]
    async fn captures_both_streams_and_the_exit_code() {
        let f = sh("echo out; echo err >&2; exit 3").run().await.unwrap();
        assert_eq!(f.stdout.text, "out\n");
        assert_eq!(f.stderr.text, "err\n");
        assert_eq!(f.exit, Exit::Code(3));
        assert!(!f.success());
    }

    #[tokio::test]
    async fn reports_the_signal_that_killed_the_child() {
        let f = sh("kill -SEGV $$").run().await.unwrap();
        assert_eq!(f.exit, Exit::Signal(11));
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
        assert_eq!(f.exit, Exit::TimedOut(Duration::from_millis(300)));
        // Far above the normal 0.8 s (limit + grace): proves the run did not
        // wait for the 30 s sleeps, whatever the load.
        assert!(
            start.elapsed() < Duration::from_secs(20),
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
        assert!(ends(pid), "grandchild {pid} survived the timeout");
    }

    /// Whether `pid` stops running within five seconds (killed processes
    /// may linger as zombies until init reaps them: a zombie runs nothing,
    /// so it counts as gone).
    fn ends(pid: i32) -> bool {
        (0..250).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            !running(pid)
        })
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

    /// A grandchild that leaves the process group (a new session) and keeps
    /// the output pipes open does not hold up the end: it is found by the
    /// pipes, named and killed, and what was written is kept.
    #[tokio::test]
    async fn an_escaped_daemon_is_named_and_does_not_hang_the_end() {
        let start = Instant::now();
        // The pause lets the daemon leave the group before the shell ends.
        let f = sh("echo before; setsid sleep 77 & sleep 0.5; echo after")
            .timeout(Duration::from_secs(30))
            .run()
            .await
            .unwrap();
        assert_eq!(f.exit, Exit::Code(0));
        // Far below the daemon's 77 s: the end does not wait for it.
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(f.stdout.text, "before\nafter\n");
        assert_eq!(f.escaped.len(), 1, "{:?}", f.escaped);
        assert!(
            f.escaped[0].to_string().ends_with("sleep 77"),
            "{}",
            f.escaped[0]
        );
        let pid = f.escaped[0].pid;
        assert!(ends(pid), "the escaped sleep {pid} was not killed");
    }

    #[test]
    fn a_file_held_open_for_writing_is_seen_without_a_scan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stdout.txt");
        std::fs::write(&path, "x").unwrap();
        let mut holder = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("exec 3>>{}; exec sleep 30", path.display()))
            .spawn()
            .unwrap();
        let held = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            held_for_writing(&path) == Some(true)
        });
        let _ = holder.kill();
        let _ = holder.wait();
        assert!(held, "the shell's open descriptor was not seen");
        assert_eq!(held_for_writing(&path), Some(false));
        let strays = holders(&[Holding::File(path.clone())]);
        assert!(strays.is_empty(), "{strays:?}");
    }

    /// A tracked child waits for output that a daemon it started holds
    /// (as uv waits for a backend's): once nothing of its group is left
    /// working, the daemon is killed and named, and the child ends as it
    /// would have. A daemon that closed its output is named and killed
    /// when the child ends.
    #[tokio::test]
    async fn a_tracked_childs_daemons_are_found_released_and_killed() {
        let f = sh("out=$(setsid sleep 79); echo \"done $out\"")
            .track_descendants()
            .timeout(Duration::from_secs(60))
            .run()
            .await
            .unwrap();
        assert_eq!(f.exit, Exit::Code(0), "{f:?}");
        assert_eq!(f.stdout.text, "done \n");
        assert_eq!(f.escaped.len(), 1, "{:?}", f.escaped);
        assert!(
            f.escaped[0].command.ends_with("sleep 79"),
            "{:?}",
            f.escaped
        );
        let f = sh("setsid sleep 80 >/dev/null 2>&1 </dev/null & sleep 0.2")
            .track_descendants()
            .run()
            .await
            .unwrap();
        assert_eq!(f.exit, Exit::Code(0));
        let named: Vec<_> = f.escaped.iter().map(|s| s.command.as_str()).collect();
        assert_eq!(named, ["sleep 80"]);
        let pid = f.escaped[0].pid;
        assert!(ends(pid), "sleep {pid} outlived its step");
    }

    #[test]
    fn a_folder_with_a_colon_is_named_not_joined() {
        let ok = [PathBuf::from("/a b/$#"), PathBuf::from("/c")];
        assert_eq!(search_list("PATH", &ok).unwrap(), "/a b/$#:/c");
        let bad = [PathBuf::from("/c"), PathBuf::from("/x:y/bin")];
        let e = search_list("PYTHONPATH", &bad).unwrap_err();
        assert_eq!(e.path, PathBuf::from("/x:y/bin"));
        assert!(
            e.to_string()
                .starts_with("/x:y/bin cannot go on PYTHONPATH: its name holds ':'"),
            "{e}"
        );
    }

    #[test]
    fn a_file_is_read_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(&path, vec![b'x'; OUTPUT_CAP + 10]).unwrap();
        let c = Captured::read_file(&path);
        assert_eq!((c.text.len(), c.dropped), (OUTPUT_CAP, 10));
        assert_eq!(
            Captured::read_file(&dir.path().join("none")),
            Captured::default()
        );
    }
}
