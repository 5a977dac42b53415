//! Where probe cells write their few files (the child's output, its result,
//! the folder it runs in): a RAM-backed folder when the machine has one
//! with room, else the run's work folder.
//!
//! Why: a warm grid's cell is one fork and a handful of small files, and on
//! a disk filesystem creating and then removing those files (inode
//! allocation, the journal) costs more than the fork. Measured on the
//! every-release grid (1,849 cells, CPython 3.11, `--jobs 2`, warm, on a
//! loaded 2-core machine): 31.7 s with them under /tmp on ext4, plus 5 s
//! removing them afterwards, against 20.3 s and 0.2 s on tmpfs.
//!
//! What stays on disk: a `--fresh` run's environments and builds
//! (gigabytes do not belong in RAM), the folders of `test` commands (they
//! write what they like where they run), everything when the work folder
//! is kept (`--keep-envs`), and everything when `TMPDIR` is set: where
//! temporary files go is then the user's choice.

use std::path::{Path, PathBuf};

/// The least free space a RAM folder must have to be used: far above what
/// a grid's probe files take, so a small `/dev/shm` (a container's 64 MiB)
/// is passed over.
#[cfg(target_os = "linux")]
const MIN_ROOM: u64 = 1 << 30;

/// A fresh folder for the cells' files on a RAM-backed filesystem, or
/// `None` (then they go under the run's work folder).
pub(super) fn ram_folder() -> Option<tempfile::TempDir> {
    if std::env::var_os("TMPDIR").is_some() {
        return None;
    }
    let candidates = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/dev/shm")]);
    candidates.filter(|p| roomy_tmpfs(p)).find_map(|root| {
        tempfile::Builder::new()
            .prefix("abimatrix-cells-")
            .tempdir_in(root)
            .ok()
    })
}

/// Whether `path` is on tmpfs with at least [`MIN_ROOM`] free.
#[cfg(target_os = "linux")]
fn roomy_tmpfs(path: &Path) -> bool {
    use nix::sys::statfs::{TMPFS_MAGIC, statfs};
    statfs(path).is_ok_and(|s| s.filesystem_type() == TMPFS_MAGIC && free(&s) >= MIN_ROOM)
}

/// Elsewhere (macOS) there is no tmpfs to find: the cells' files stay in
/// the work folder.
#[cfg(not(target_os = "linux"))]
fn roomy_tmpfs(_path: &Path) -> bool {
    false
}

/// The bytes an unprivileged user may still write there.
#[cfg(target_os = "linux")]
fn free(s: &nix::sys::statfs::Statfs) -> u64 {
    s.blocks_available()
        .saturating_mul(u64::try_from(s.block_size()).unwrap_or(0))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn only_a_roomy_tmpfs_is_taken() {
        // /proc is no tmpfs; a folder on this crate's own disk is not
        // either unless the machine keeps it in RAM.
        assert!(!roomy_tmpfs(Path::new("/proc")));
        assert!(!roomy_tmpfs(Path::new("/no/such/folder")));
        let shm = Path::new("/dev/shm");
        if let Ok(s) = nix::sys::statfs::statfs(shm) {
            assert_eq!(
                roomy_tmpfs(shm),
                s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC && free(&s) >= MIN_ROOM
            );
        }
    }
}
