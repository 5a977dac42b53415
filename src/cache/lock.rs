//! Who may use the cache at once: any number of runs, or one maintenance
//! command (`matrix cache clean`, `matrix cache verify`), never both.
//!
//! Why a lock at all, when runs share the cache without one: entries are
//! staged and renamed into place, so runs never see half an entry; but
//! `clean` removes what a running cell is reading (its probe files, its
//! environment), and `verify` removes what it cannot prove, which includes
//! what a run is still writing. So runs hold a shared `flock` on
//! `<cache>/v2.lock` for as long as they run, and maintenance takes it
//! exclusively, waiting for the runs to finish (and saying so), as `cargo
//! clean` waits for a build and `uv cache clean` for uv. The lock file sits
//! beside the layout folder, not in it, so `clean` never removes the file
//! another process waits on. The kernel drops a lock with its process: a
//! killed run never leaves the cache locked.

use std::fs::File;
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};

/// A held lock on a cache root; released when dropped.
#[derive(Debug)]
pub struct CacheLock {
    _file: File,
}

/// How a lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A run: others may run beside it.
    Shared,
    /// Maintenance: nothing else at once.
    Exclusive,
}

/// Why the cache could not be locked.
#[derive(Debug, thiserror::Error)]
#[error("cannot lock the cache ({}): {source}", path.display())]
pub struct LockError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The lock file of the cache root `root` (`<cache>/v2` → `<cache>/v2.lock`).
pub fn path(root: &Path) -> PathBuf {
    let mut name = root.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    root.with_file_name(name)
}

impl CacheLock {
    /// Takes the lock on `root`, waiting for it when another holds it in a
    /// way that excludes `access`; `waiting` is called once, before the
    /// wait, to say so. Blocks the thread: call from a blocking context.
    pub fn acquire(
        root: &Path,
        access: Access,
        waiting: impl FnOnce(),
    ) -> Result<CacheLock, LockError> {
        let path = path(root);
        let fail = |source| LockError {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(fail)?;
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(fail)?;
        let mode = match access {
            Access::Shared => nix::libc::LOCK_SH,
            Access::Exclusive => nix::libc::LOCK_EX,
        };
        if flock(&file, mode | nix::libc::LOCK_NB).is_err() {
            waiting();
            flock(&file, mode).map_err(fail)?;
        }
        Ok(CacheLock { _file: file })
    }

    /// [`CacheLock::acquire`] from async code: the wait runs on a blocking
    /// thread.
    pub async fn acquire_async(
        root: PathBuf,
        access: Access,
        waiting: impl FnOnce() + Send + 'static,
    ) -> Result<CacheLock, LockError> {
        let path = path(&root);
        tokio::task::spawn_blocking(move || CacheLock::acquire(&root, access, waiting))
            .await
            .unwrap_or_else(|e| {
                Err(LockError {
                    path,
                    source: std::io::Error::other(e),
                })
            })
    }
}

/// `flock(2)` on `file`, retried when a signal interrupts the wait.
fn flock(file: &File, operation: i32) -> std::io::Result<()> {
    loop {
        // SAFETY: flock on a descriptor we own and keep open for the call.
        if unsafe { nix::libc::flock(file.as_raw_fd(), operation) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Whether the folder at `dir` is locked by a live process (see
/// [`StagingLock`]); `false` when nothing holds it.
pub fn held(dir: &Path) -> bool {
    let Ok(file) = File::open(dir) else {
        return false;
    };
    flock(&file, nix::libc::LOCK_EX | nix::libc::LOCK_NB).is_err()
}

/// A staging folder's claim: the process making an entry holds an
/// exclusive `flock` on its folder for as long as it works in it, so a
/// folder nobody holds is the leftover of a process that died (`kill -9`)
/// and can be removed by anyone ([`super::sweep`]).
#[derive(Debug)]
pub struct StagingLock {
    _file: File,
}

impl StagingLock {
    /// Claims `dir` (just made by this process).
    pub fn claim(dir: &Path) -> std::io::Result<StagingLock> {
        let file = File::open(dir)?;
        flock(&file, nix::libc::LOCK_EX | nix::libc::LOCK_NB)?;
        Ok(StagingLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_share_and_maintenance_waits_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("v2");
        assert_eq!(path(&root), dir.path().join("v2.lock"));
        let a = CacheLock::acquire(&root, Access::Shared, || panic!("runs share")).unwrap();
        let _b = CacheLock::acquire(&root, Access::Shared, || panic!("runs share")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn({
            let root = root.clone();
            move || {
                let _lock = CacheLock::acquire(&root, Access::Exclusive, || {
                    tx.send("waiting").unwrap();
                })
                .unwrap();
            }
        });
        assert_eq!(rx.recv().unwrap(), "waiting");
        drop(a);
        drop(_b);
        waiter.join().unwrap();
    }

    #[test]
    fn a_staging_folder_is_held_while_claimed() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!held(dir.path()));
        let claim = StagingLock::claim(dir.path()).unwrap();
        assert!(held(dir.path()));
        drop(claim);
        assert!(!held(dir.path()));
    }
}
