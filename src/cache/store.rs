//! The file store: one read-only copy of each file content that cached
//! environments hold, named by its SHA-256, and hard-linked into every
//! environment that holds that content.
//!
//! Why a store of our own rather than uv's hard links: uv links files from
//! its own cache, which is the user's and is shared with everything they
//! install; a probe that wrote into an environment would then corrupt every
//! later install from it, and we could neither protect nor repair it. Our
//! copies are read-only (`0444`), which stops a probe that is not root; a
//! write that gets through anyway (root ignores the mode) changes the
//! inode's ctime, which every environment holding the file sees at its next
//! quick check (`cache::manifest`), and it is caught here too: a store file
//! is compared byte for byte with the verified file before anything new is
//! linked to it, and replaced when it differs.
//!
//! Why per file rather than per wheel: NumPy releases share much of their
//! content (the bundled OpenBLAS, tests, stubs), so one copy of each content
//! serves every release that ships it.
//!
//! ```text
//! <root>/v2/store/<sha[..2]>/<sha[2..]>   one file content, mode 0444
//! ```

use std::fs::File;
use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use super::Bucket;

/// The store under a cache root.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// What [`Store::adopt`] did with a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adopted {
    /// Its content was in the store: the file is now a link to that copy.
    Linked,
    /// Its content was new (or the store's copy was damaged): copied into
    /// the store, and the file is now a link to that copy.
    Stored,
    /// Linking failed (a file system without hard links): the file is a
    /// private copy of its own.
    Private,
}

/// What [`Store::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreCheck {
    pub checked: usize,
    /// Files whose content no longer hashes to their name (removed).
    pub damaged: Vec<PathBuf>,
}

impl Store {
    pub fn in_root(root: &Path) -> Store {
        Store {
            dir: Bucket::Store.dir(root),
        }
    }

    /// Where the content with this hex SHA-256 lives.
    pub fn path(&self, sha256: &str) -> PathBuf {
        let split = sha256.len().min(2);
        self.dir.join(&sha256[..split]).join(&sha256[split..])
    }

    /// Makes `file`, whose content the caller has verified hashes to
    /// `sha256`, a hard link to the store's read-only copy of that content:
    /// the copy is made when the store lacks it or holds a damaged one
    /// (found by comparing it byte for byte). `file` itself never becomes
    /// the store's copy, since it may be a link into another tool's cache
    /// (uv's); it is replaced by rename, so a reader never sees it missing.
    pub fn adopt(&self, file: &Path, sha256: &str) -> std::io::Result<Adopted> {
        let stored = self.path(sha256);
        let meta = std::fs::metadata(file)?;
        let adopted = match std::fs::metadata(&stored) {
            Ok(s) if s.ino() == meta.ino() && s.dev() == meta.dev() => return Ok(Adopted::Linked),
            Ok(s) if s.len() == meta.len() && same_content(&stored, file)? => Adopted::Linked,
            // Missing, or damaged: a new copy replaces it by rename, so
            // environments linked to a damaged inode keep theirs, and find
            // it damaged at their next check.
            _ => {
                self.store_copy(file, &stored)?;
                Adopted::Stored
            }
        };
        match link_over(&stored, file) {
            Ok(()) => Ok(adopted),
            Err(_) => {
                // No hard links here: the file must still share no inode
                // with anything outside its environment.
                let tmp = temporary_beside(file);
                std::fs::copy(&stored, &tmp)?;
                std::fs::rename(&tmp, file)?;
                Ok(Adopted::Private)
            }
        }
    }

    /// Copies `from` into the store as `to`: created read-only under a
    /// temporary name, then renamed into place.
    fn store_copy(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let tmp = temporary_beside(to);
        let open = || {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o444)
                .open(&tmp)
        };
        let mut out = match open() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(to.parent().unwrap_or(&self.dir))?;
                open()?
            }
            other => other?,
        };
        let copied = std::io::copy(&mut File::open(from)?, &mut out);
        drop(out);
        copied
            .and_then(|_| std::fs::rename(&tmp, to))
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })
    }

    /// Bytes and count of the store's files that no environment links to
    /// any more (their only link is the store's).
    pub fn unlinked(&self) -> (u64, usize) {
        let mut bytes = 0;
        let mut count = 0;
        self.each_file(|_, meta| {
            if meta.nlink() == 1 {
                bytes += meta.blocks() * 512;
                count += 1;
            }
        });
        (bytes, count)
    }

    /// Removes the files no environment links to any more; returns their
    /// bytes and count.
    pub fn remove_unlinked(&self) -> (u64, usize) {
        let mut gone = Vec::new();
        self.each_file(|path, meta| {
            if meta.nlink() == 1 {
                gone.push((path.to_path_buf(), meta.blocks() * 512));
            }
        });
        gone.iter()
            .filter(|(path, _)| std::fs::remove_file(path).is_ok())
            .fold((0, 0), |(bytes, n), (_, b)| (bytes + b, n + 1))
    }

    /// Re-hashes every file of the store against its name and removes the
    /// damaged ones (environments linked to them find them damaged by
    /// their own checks and are made again).
    pub fn verify(&self) -> StoreCheck {
        let mut paths = Vec::new();
        self.each_file(|path, _| paths.push(path.to_path_buf()));
        let mut check = StoreCheck::default();
        for path in paths {
            check.checked += 1;
            let name = match (path.parent().and_then(Path::file_name), path.file_name()) {
                (Some(a), Some(b)) => format!("{}{}", a.to_string_lossy(), b.to_string_lossy()),
                _ => continue,
            };
            if super::manifest::hash_file(&path).ok().as_deref() != Some(name.as_str()) {
                let _ = std::fs::remove_file(&path);
                check.damaged.push(path);
            }
        }
        check
    }

    /// Every file of the store (staging files aside), with its metadata.
    fn each_file(&self, mut f: impl FnMut(&Path, &std::fs::Metadata)) {
        for shard in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            for entry in std::fs::read_dir(shard.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if entry.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                if let Ok(meta) = entry.metadata()
                    && meta.is_file()
                {
                    f(&entry.path(), &meta);
                }
            }
        }
    }
}

/// Whether two files of the same size hold the same bytes.
fn same_content(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (mut a, mut b) = (File::open(a)?, File::open(b)?);
    let mut buf_a = vec![0u8; 256 * 1024];
    let mut buf_b = vec![0u8; 256 * 1024];
    loop {
        let n = read_full(&mut a, &mut buf_a)?;
        let m = read_full(&mut b, &mut buf_b)?;
        if n != m || buf_a[..n] != buf_b[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the file ends, so two files are compared
/// in step whatever sizes their reads return.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Replaces `file` with a hard link to `target`: linked beside it under a
/// temporary name, then renamed over it.
fn link_over(target: &Path, file: &Path) -> std::io::Result<()> {
    let tmp = temporary_beside(file);
    std::fs::hard_link(target, &tmp)?;
    std::fs::rename(&tmp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// A name beside `file` no other link of this or another run uses: hidden
/// (the store's listings skip dot files) and unique per process and call.
fn temporary_beside(file: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = std::ffi::OsString::from(".");
    name.push(file.file_name().unwrap_or_default());
    name.push(format!(".abimatrix-{}-{n}", std::process::id()));
    file.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::super::manifest::hash_file;
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn file(dir: &Path, name: &str, content: &[u8]) -> (PathBuf, String) {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let sha = hash_file(&path).unwrap();
        (path, sha)
    }

    #[test]
    fn the_same_content_is_stored_once_read_only_and_linked_from_each_environment() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::in_root(root.path());
        let (a, sha) = file(root.path(), "a.so", &[3u8; 10_000]);
        let (b, sha_b) = file(root.path(), "b.so", &[3u8; 10_000]);
        assert_eq!(sha, sha_b);
        assert_eq!(store.adopt(&a, &sha).unwrap(), Adopted::Stored);
        assert_eq!(store.adopt(&b, &sha).unwrap(), Adopted::Linked);
        assert_eq!(store.adopt(&b, &sha).unwrap(), Adopted::Linked);
        let (ma, mb) = (a.metadata().unwrap(), b.metadata().unwrap());
        assert_eq!(ma.ino(), mb.ino());
        assert_eq!(ma.nlink(), 3, "the store's link and two environments'");
        assert_eq!(ma.permissions().mode() & 0o777, 0o444);
        assert_eq!(std::fs::read(&b).unwrap(), vec![3u8; 10_000]);
        assert_eq!(store.unlinked(), (0, 0));
        std::fs::remove_file(&a).unwrap();
        std::fs::remove_file(&b).unwrap();
        assert_eq!(store.unlinked().1, 1);
        assert_eq!(store.remove_unlinked().1, 1);
        assert!(!store.path(&sha).exists());
    }

    #[test]
    fn a_damaged_store_copy_is_replaced_not_linked() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::in_root(root.path());
        let (a, sha) = file(root.path(), "a.py", b"print('numpy')\n");
        store.adopt(&a, &sha).unwrap();
        // A probe running as root writes through the shared inode.
        let stored = store.path(&sha);
        std::fs::set_permissions(&stored, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&stored, b"print('NUMPY')\n").unwrap();
        let (b, _) = file(root.path(), "b.py", b"print('numpy')\n");
        assert_eq!(store.adopt(&b, &sha).unwrap(), Adopted::Stored);
        assert_eq!(std::fs::read(&b).unwrap(), b"print('numpy')\n");
        assert_eq!(hash_file(&store.path(&sha)).unwrap(), sha);
        // The damaged inode stays with the environment that holds it, for
        // its own check to find.
        assert_eq!(std::fs::read(&a).unwrap(), b"print('NUMPY')\n");
    }

    #[test]
    fn verify_removes_what_no_longer_matches_its_name() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::in_root(root.path());
        let (a, sha) = file(root.path(), "a", b"one");
        let (b, sha_b) = file(root.path(), "b", b"two");
        store.adopt(&a, &sha).unwrap();
        store.adopt(&b, &sha_b).unwrap();
        let damaged = store.path(&sha_b);
        std::fs::set_permissions(&damaged, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&damaged, b"tw0").unwrap();
        let check = store.verify();
        assert_eq!(check.checked, 2);
        assert_eq!(check.damaged, vec![store.path(&sha_b)]);
        assert!(store.path(&sha).exists());
        assert!(!store.path(&sha_b).exists());
    }

    #[test]
    fn same_content_compares_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let mut big = vec![1u8; 600_000];
        let (a, _) = file(dir.path(), "a", &big);
        big[599_999] = 2;
        let (b, _) = file(dir.path(), "b", &big);
        assert!(!same_content(&a, &b).unwrap());
        assert!(same_content(&a, &a).unwrap());
    }
}
