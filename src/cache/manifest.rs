//! What a cache entry must contain, and the proof: every file that matters
//! with its size and SHA-256, recorded when the entry is published.
//!
//! Two depths of checking. The *quick* check runs before every use: it
//! stats each file and re-hashes only a file whose size, inode or ctime
//! changed since it was last proven (ctime moves on every write, chmod or
//! link and cannot be set back from user space, so an unchanged ctime means
//! unchanged content); a file that still hashes right is proven again, and
//! the entry's record updated. The *deep* check re-hashes every file: it is
//! what `matrix cache verify` does, and what a cell whose failure could come
//! from a damaged entry ("file too short", "No module named 'numpy'") gets
//! before the failure is believed.

use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One file of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Relative to the entry.
    pub path: String,
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// When it was last proven: inode and ctime (nanoseconds).
    #[serde(default)]
    pub ino: u64,
    #[serde(default)]
    pub ctime_ns: i128,
}

/// The files of an entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub files: Vec<FileRecord>,
}

/// An entry found intact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intact {
    /// Some files were re-hashed (and proven): the record should be
    /// written back so the next quick check is a stat again.
    pub reproven: bool,
}

/// The first file of an entry that is missing or differs, and how.
#[derive(Debug, thiserror::Error)]
pub enum Damage {
    #[error("{} is missing ({source})", path.display())]
    Missing {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} has {found} bytes, not the {made} it was made with", path.display())]
    Size {
        path: PathBuf,
        found: u64,
        made: u64,
    },
    #[error("{} changed since it was made (its SHA-256 differs)", .0.display())]
    Changed(PathBuf),
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How deep to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Quick,
    Deep,
}

/// Hex SHA-256 of a regular file's content (anything else is an error,
/// never read: a FIFO would block, a device never end).
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = crate::userfile::open(path)?;
    let mut hasher = Sha256::new();
    with_buffers(|buf, _| {
        loop {
            let n = file.read(buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hex(hasher.finalize().as_slice()))
    })
}

/// The size of a read when hashing or comparing files.
const CHUNK: usize = 256 * 1024;

thread_local! {
    /// Two read buffers per thread, kept: a fresh 256 KiB buffer per file
    /// is a fresh mapping (glibc maps blocks this large) and its page
    /// faults, which cost more than the reading for NumPy's small files.
    static BUFFERS: std::cell::RefCell<(Vec<u8>, Vec<u8>)> =
        std::cell::RefCell::new((vec![0u8; CHUNK], vec![0u8; CHUNK]));
}

/// Runs `f` with this thread's two read buffers (not re-entrant).
pub(crate) fn with_buffers<R>(f: impl FnOnce(&mut [u8], &mut [u8]) -> R) -> R {
    BUFFERS.with_borrow_mut(|(a, b)| f(a, b))
}

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn ctime_ns(meta: &std::fs::Metadata) -> i128 {
    i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec())
}

impl FileRecord {
    /// The record of `root/path` as it is now.
    pub fn of(root: &Path, path: &str) -> std::io::Result<FileRecord> {
        let full = root.join(path);
        let meta = std::fs::metadata(&full)?;
        Ok(FileRecord {
            path: path.to_string(),
            size: meta.len(),
            sha256: hash_file(&full)?,
            ino: meta.ino(),
            ctime_ns: ctime_ns(&meta),
        })
    }
}

impl Manifest {
    /// The manifest of `paths` (relative to `root`), hashed now.
    pub fn of<'a>(
        root: &Path,
        paths: impl IntoIterator<Item = &'a str>,
    ) -> std::io::Result<Manifest> {
        let mut files: Vec<FileRecord> = paths
            .into_iter()
            .map(|p| FileRecord::of(root, p))
            .collect::<Result<_, _>>()?;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Manifest { files })
    }

    /// Every regular file under `root` (links followed as files), except
    /// those `skip` names.
    pub fn of_tree(root: &Path, skip: impl Fn(&str) -> bool) -> std::io::Result<Manifest> {
        fn walk(
            dir: &Path,
            root: &Path,
            out: &mut Vec<String>,
            skip: &dyn Fn(&str) -> bool,
        ) -> std::io::Result<()> {
            for e in std::fs::read_dir(dir)? {
                let e = e?;
                let path = e.path();
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                if skip(&rel) {
                    continue;
                }
                let meta = std::fs::metadata(&path)?;
                if meta.is_dir() {
                    walk(&path, root, out, skip)?;
                } else if meta.is_file() {
                    out.push(rel);
                }
            }
            Ok(())
        }
        let mut paths = Vec::new();
        walk(root, root, &mut paths, &skip)?;
        Manifest::of(root, paths.iter().map(String::as_str))
    }

    /// Checks the files under `root`; with `Depth::Quick`, re-hashes only
    /// what changed since it was proven, and updates those records.
    pub fn check(&mut self, root: &Path, depth: Depth) -> Result<Intact, Damage> {
        let mut reproven = false;
        let mut folders = Folders::default();
        for f in &mut self.files {
            let full = root.join(&f.path);
            let meta = match folders.stat(&full) {
                Ok(m) => m,
                Err(source) => return Err(Damage::Missing { path: full, source }),
            };
            if meta.size != f.size {
                return Err(Damage::Size {
                    path: full,
                    found: meta.size,
                    made: f.size,
                });
            }
            let unchanged = meta.ino == f.ino && meta.ctime_ns == f.ctime_ns;
            if depth == Depth::Quick && unchanged {
                continue;
            }
            match hash_file(&full) {
                Ok(h) if h == f.sha256 => {
                    if !unchanged {
                        f.ino = meta.ino;
                        f.ctime_ns = meta.ctime_ns;
                        reproven = true;
                    }
                }
                Ok(_) => return Err(Damage::Changed(full)),
                Err(source) => return Err(Damage::Unreadable { path: full, source }),
            }
        }
        Ok(Intact { reproven })
    }
}

/// What the quick check compares of a file (links followed, as
/// `std::fs::metadata` does): the same three values mean the same content,
/// as the module's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    size: u64,
    ino: u64,
    ctime_ns: i128,
}

/// The folder of the file a check is at, kept open while the next files
/// are in it: a file is then looked up by its name in its folder, not
/// walked to from `/` (an environment's files are a thousand paths a dozen
/// folders deep, and the walks were most of the quick check's time, which a
/// failed cell waits for). One folder at a time, never one descriptor per
/// folder of the environment: a run with many jobs checks several
/// environments at once under the process's descriptor limit (a 12 × 12
/// grid with `--jobs 32` and `ulimit -n 256` ran out with them all held).
#[derive(Default)]
struct Folders {
    /// The folder's path, and the folder opened (`None`: it would not open).
    open: Option<(std::ffi::OsString, Option<std::fs::File>)>,
}

impl Folders {
    fn stat(&mut self, full: &Path) -> std::io::Result<Stat> {
        let (Some(folder), Some(name)) = (full.parent(), full.file_name()) else {
            return Ok(Stat::of(&std::fs::metadata(full)?));
        };
        if self
            .open
            .as_ref()
            .is_none_or(|(at, _)| at != folder.as_os_str())
        {
            // The previous folder is closed as this one replaces it.
            self.open = Some((folder.as_os_str().to_owned(), open_folder(folder)));
        }
        match self.open.as_ref().and_then(|(_, dir)| dir.as_ref()) {
            Some(dir) => {
                let st = nix::sys::stat::fstatat(dir, name, nix::fcntl::AtFlags::empty())?;
                // ino_t is narrower than u64 on some targets.
                #[allow(clippy::useless_conversion)]
                let ino = u64::from(st.st_ino);
                Ok(Stat {
                    size: u64::try_from(st.st_size).unwrap_or(u64::MAX),
                    ino,
                    ctime_ns: i128::from(st.st_ctime) * 1_000_000_000
                        + i128::from(st.st_ctime_nsec),
                })
            }
            // A folder that would not open (no read permission elsewhere
            // than Linux, no descriptor left): the file by its whole path,
            // as before.
            None => Ok(Stat::of(&std::fs::metadata(full)?)),
        }
    }
}

impl Stat {
    /// The file at `path` as it is now.
    pub(crate) fn of_path(path: &Path) -> std::io::Result<Stat> {
        Ok(Stat::of(&std::fs::metadata(path)?))
    }

    fn of(meta: &std::fs::Metadata) -> Stat {
        Stat {
            size: meta.len(),
            ino: meta.ino(),
            ctime_ns: ctime_ns(meta),
        }
    }
}

/// A folder opened for looking names up in it: on Linux as a path only
/// (no permission to read it needed, as for a stat of what is in it).
fn open_folder(folder: &Path) -> Option<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(nix::libc::O_PATH | nix::libc::O_DIRECTORY);
    }
    options.open(folder).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> (tempfile::TempDir, Manifest) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/core.so"), vec![7u8; 5000]).unwrap();
        std::fs::write(dir.path().join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        let m = Manifest::of_tree(dir.path(), |p| p == "skipped").unwrap();
        (dir, m)
    }

    #[test]
    fn an_untouched_entry_is_proven_by_stat_alone() {
        let (dir, mut m) = entry();
        assert_eq!(m.files.len(), 2);
        assert_eq!(
            m.check(dir.path(), Depth::Quick).unwrap(),
            Intact { reproven: false }
        );
        assert_eq!(
            m.check(dir.path(), Depth::Deep).unwrap(),
            Intact { reproven: false }
        );
    }

    #[test]
    fn a_flipped_byte_of_the_same_size_is_found_by_the_quick_check() {
        let (dir, mut m) = entry();
        let path = dir.path().join("lib/core.so");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[1234] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        match m.check(dir.path(), Depth::Quick) {
            Err(why @ Damage::Changed(_)) => {
                assert!(why.to_string().contains("SHA-256 differs"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_and_truncated_files_are_damage() {
        let (dir, mut m) = entry();
        std::fs::write(dir.path().join("lib/core.so"), "").unwrap();
        assert!(matches!(
            m.check(dir.path(), Depth::Quick),
            Err(Damage::Size { found: 0, .. })
        ));
        let (dir, mut m) = entry();
        std::fs::remove_file(dir.path().join("pyvenv.cfg")).unwrap();
        assert!(matches!(
            m.check(dir.path(), Depth::Quick),
            Err(Damage::Missing { .. })
        ));
    }

    #[test]
    fn a_rewrite_with_the_same_content_is_proven_again_and_remembered() {
        let (dir, mut m) = entry();
        std::fs::write(dir.path().join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        assert_eq!(
            m.check(dir.path(), Depth::Quick).unwrap(),
            Intact { reproven: true }
        );
        assert_eq!(
            m.check(dir.path(), Depth::Quick).unwrap(),
            Intact { reproven: false }
        );
    }
}
