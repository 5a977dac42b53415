//! The file store: one read-only copy of each file content that cached
//! environments hold, named by its SHA-256, and hard-linked into every
//! environment that holds that content.
//!
//! Why a store of our own rather than uv's hard links: uv links files from
//! its own cache, which is the user's and is shared with everything they
//! install; a probe that wrote into an environment would then corrupt every
//! later install from it, and we could neither protect nor repair it. Our
//! copies are read-only (`0444`), so an accidental write fails; a write
//! that gets through anyway (root ignores the mode) changes the
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
//! <root>/v2/store/<sha256>   one file content, mode 0444
//! ```

use std::fs::File;
use std::io::{Read as _, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::Bucket;
use super::manifest::{hex, with_buffers};

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

    /// Where the content with this hex SHA-256 lives: one flat folder.
    /// Spreading 1,000 files over 256 sub-folders (as git does) took three
    /// to five times as long to write as one folder in a test on this
    /// project's machine (ext4, which spreads new folders over its block
    /// groups); a folder of tens of thousands of names is no burden to it.
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    /// Makes `file` share the store's read-only copy of its content, which
    /// the wheel says hashes to `sha256`, in one pass over it: the file is
    /// hashed, and at the same time compared with the store's copy when
    /// there is one, or written as the store's copy when there is none.
    /// `None` when the file does not hash to `sha256` (nothing is linked).
    /// `file` itself never becomes the store's copy, since it may be a link
    /// into another tool's cache (uv's); it is replaced by rename, so a
    /// reader never sees it missing. Returns the file's metadata once
    /// linked, for the entry's record.
    pub fn adopt(
        &self,
        file: &Path,
        sha256: &str,
    ) -> std::io::Result<Option<(Adopted, std::fs::Metadata)>> {
        let stored = self.path(sha256);
        let mut source = File::open(file)?;
        let meta = source.metadata()?;
        let copy = File::open(&stored).and_then(|f| f.metadata().map(|m| (f, m)));
        let proven = |source: &mut File| -> std::io::Result<bool> {
            Ok(hash_and_copy(source, &mut std::io::sink())? == sha256)
        };
        let adopted = match copy {
            // Linked already (a link renamed over a link to the same inode
            // would be left behind, POSIX rename does nothing then): proven
            // by the hash alone.
            Ok((_, m)) if m.ino() == meta.ino() && m.dev() == meta.dev() => {
                return Ok(proven(&mut source)?.then_some((Adopted::Linked, meta)));
            }
            Ok((mut copy, m)) if m.len() == meta.len() => {
                let (hash, same) = hash_and_compare(&mut source, &mut copy)?;
                if hash != sha256 {
                    return Ok(None);
                }
                if same {
                    Adopted::Linked
                } else {
                    self.replace(file, &stored)?;
                    Adopted::Stored
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Written under a temporary name and linked into place
                // whole: no one (another run, `cache verify`) ever sees a
                // copy half written, and a copy another run published
                // meanwhile is never replaced (two copies of one content
                // would leave the loser's orphaned).
                let tmp = temporary_beside(&stored);
                let mut out = self.create(&tmp)?;
                let hash = hash_and_copy(&mut source, &mut out);
                drop(out);
                if !hash.as_ref().is_ok_and(|h| h == sha256) {
                    let _ = std::fs::remove_file(&tmp);
                    return hash.map(|_| None);
                }
                let published = std::fs::hard_link(&tmp, &stored);
                let _ = std::fs::remove_file(&tmp);
                match published {
                    Ok(()) => Adopted::Stored,
                    // Another run published this content first: its copy
                    // is checked as every stored copy is.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        drop(source);
                        return self.adopt(file, sha256);
                    }
                    Err(e) => return Err(e),
                }
            }
            // A copy of another size is damaged (or half written by a run
            // that died): replaced by rename, so environments linked to a
            // damaged inode keep theirs and find it at their next check.
            Ok(_) => {
                if !proven(&mut source)? {
                    return Ok(None);
                }
                self.replace(file, &stored)?;
                Adopted::Stored
            }
            Err(e) => return Err(e),
        };
        drop(source);
        let adopted = match link_over(&stored, file) {
            Ok(()) => adopted,
            Err(_) => {
                // No hard links here (or the copy was just removed by a
                // `cache verify` running beside us): the file must still
                // share no inode with anything outside its environment. Its
                // own content is proven by the hash above.
                make_private(file)?;
                Adopted::Private
            }
        };
        Ok(Some((adopted, std::fs::metadata(file)?)))
    }

    /// A new file at `path` (a temporary name beside a store copy),
    /// created read-only.
    fn create(&self, path: &Path) -> std::io::Result<File> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let open = || {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o444)
                .open(path)
        };
        match open() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(path.parent().unwrap_or(&self.dir))?;
                open()
            }
            other => other,
        }
    }

    /// Replaces the store's copy at `to` with `from`'s content: written
    /// under a temporary name, then renamed into place.
    fn replace(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        let tmp = temporary_beside(to);
        let mut out = self.create(&tmp)?;
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
        let files = self.unlinked_files();
        (files.iter().map(|(_, b)| b).sum(), files.len())
    }

    /// Removes the files no environment links to any more; returns their
    /// bytes and count.
    pub fn remove_unlinked(&self) -> (u64, usize) {
        self.unlinked_files()
            .iter()
            .filter(|(path, _)| std::fs::remove_file(path).is_ok())
            .fold((0, 0), |(bytes, n), (_, b)| (bytes + b, n + 1))
    }

    /// The store's files whose only link is the store's, with their bytes
    /// on disk.
    fn unlinked_files(&self) -> Vec<(PathBuf, u64)> {
        let mut files = Vec::new();
        self.each_file(|path, meta| {
            if meta.nlink() == 1 {
                files.push((path.to_path_buf(), meta.blocks() * 512));
            }
        });
        files
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
            let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                continue;
            };
            if super::manifest::hash_file(&path).ok().as_deref() != Some(name.as_str()) {
                let _ = std::fs::remove_file(&path);
                check.damaged.push(path);
            }
        }
        check
    }

    /// The store's temporary files whose process is gone (killed while it
    /// wrote a copy), with their bytes on disk.
    pub fn orphaned_temporaries(&self) -> Vec<(PathBuf, u64)> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .rsplit_once(".abimatrix-")
                .and_then(|(_, rest)| rest.split('-').next())
                .filter(|_| name.starts_with('.'))
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists()
                && let Ok(meta) = entry.metadata()
            {
                found.push((entry.path(), meta.blocks() * 512));
            }
        }
        found
    }

    /// Every file of the store (staging files aside), with its metadata.
    fn each_file(&self, mut f: impl FnMut(&Path, &std::fs::Metadata)) {
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
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

/// The hex SHA-256 of `source`, and whether `copy` holds the same bytes.
fn hash_and_compare(source: &mut File, copy: &mut File) -> std::io::Result<(String, bool)> {
    with_buffers(|a, b| {
        let mut hasher = Sha256::new();
        let mut same = true;
        loop {
            let n = read_full(source, a)?;
            if same {
                let m = read_full(copy, b)?;
                same = n == m && a[..n] == b[..m];
            }
            if n == 0 {
                return Ok((hex(hasher.finalize().as_slice()), same));
            }
            hasher.update(&a[..n]);
        }
    })
}

/// The hex SHA-256 of `source`, its bytes written to `out` on the way.
fn hash_and_copy(source: &mut File, out: &mut impl Write) -> std::io::Result<String> {
    with_buffers(|buf, _| {
        let mut hasher = Sha256::new();
        loop {
            let n = read_full(source, buf)?;
            if n == 0 {
                return Ok(hex(hasher.finalize().as_slice()));
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
        }
    })
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

/// Replaces `file` with a copy of itself that shares its inode with
/// nothing (written beside it, then renamed over it).
pub(crate) fn make_private(file: &Path) -> std::io::Result<()> {
    let tmp = temporary_beside(file);
    std::fs::copy(file, &tmp)?;
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

    fn adopt(store: &Store, file: &Path, sha: &str) -> Adopted {
        store
            .adopt(file, sha)
            .unwrap()
            .expect("the file hashes right")
            .0
    }

    #[test]
    fn a_file_that_does_not_hash_to_its_record_is_not_linked() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::in_root(root.path());
        let (a, sha) = file(root.path(), "a.py", b"print('numpy')\n");
        let (b, _) = file(root.path(), "b.py", b"print('NUMPY')\n");
        // Neither with the store empty, nor with the right copy stored.
        assert!(store.adopt(&b, &sha).unwrap().is_none());
        assert!(!store.path(&sha).exists(), "a wrong copy was stored");
        adopt(&store, &a, &sha);
        assert!(store.adopt(&b, &sha).unwrap().is_none());
        assert_eq!(b.metadata().unwrap().nlink(), 1);
    }

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
        assert_eq!(adopt(&store, &a, &sha), Adopted::Stored);
        assert_eq!(adopt(&store, &b, &sha), Adopted::Linked);
        assert_eq!(adopt(&store, &b, &sha), Adopted::Linked);
        let (ma, mb) = (a.metadata().unwrap(), b.metadata().unwrap());
        assert_eq!(ma.ino(), mb.ino());
        assert_eq!(ma.nlink(), 3, "the store's link and two environments'");
        assert_eq!(ma.permissions().mode() & 0o777, 0o444);
        let mut left: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["a.so", "b.so", "store"], "nothing left behind");
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
        adopt(&store, &a, &sha);
        // A probe running as root writes through the shared inode.
        let stored = store.path(&sha);
        std::fs::set_permissions(&stored, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&stored, b"print('NUMPY')\n").unwrap();
        let (b, _) = file(root.path(), "b.py", b"print('numpy')\n");
        assert_eq!(adopt(&store, &b, &sha), Adopted::Stored);
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
        adopt(&store, &a, &sha);
        adopt(&store, &b, &sha_b);
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
    fn hash_and_compare_reads_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let mut big = vec![1u8; 600_000];
        let (a, sha) = file(dir.path(), "a", &big);
        big[599_999] = 2;
        let (b, _) = file(dir.path(), "b", &big);
        let open = |p: &Path| File::open(p).unwrap();
        assert_eq!(
            hash_and_compare(&mut open(&a), &mut open(&b)).unwrap(),
            (sha.clone(), false)
        );
        assert_eq!(
            hash_and_compare(&mut open(&a), &mut open(&a)).unwrap(),
            (sha, true)
        );
    }
}
