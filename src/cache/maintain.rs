//! Maintenance of the whole cache, as `matrix cache` does it: what each
//! bucket holds ([`info`]), every entry proven to the last byte and the
//! damaged ones removed ([`verify`]), everything removed ([`clean`]). The
//! layout is walked here, and only here; how an entry of each kind is
//! proven is its owner's (an environment's marker, a build's), passed in
//! as [`CacheEntry`] checks. Nothing is printed: `report::cache` renders what
//! these return.

use std::path::{Path, PathBuf};

use pep440_rs::Version;

use super::store::{Store, StoreCheck};
use super::{Bucket, leftovers, sweep, usage};

/// One bucket's share of the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketUsage {
    pub bucket: Bucket,
    pub bytes: u64,
    pub entries: usize,
}

/// What the cache at `root` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub root: PathBuf,
    /// The store first: an environment's line is then what it holds of its
    /// own, and the total is what the disk really holds.
    pub buckets: Vec<BucketUsage>,
    /// Stored files no environment links to: bytes and count.
    pub unlinked: (u64, usize),
    /// Unfinished entries of runs that were killed, with their bytes.
    pub leftovers: Vec<(PathBuf, u64)>,
}

impl Info {
    /// Bytes on disk, each file once.
    pub fn total(&self) -> u64 {
        self.buckets.iter().map(|b| b.bytes).sum()
    }
}

/// What `matrix cache info` shows.
pub fn info(root: &Path) -> Info {
    let buckets = [Bucket::Store, Bucket::Envs, Bucket::Builds, Bucket::Tools];
    let dirs: Vec<_> = buckets.iter().map(|b| b.dir(root)).collect();
    Info {
        root: root.to_path_buf(),
        buckets: buckets
            .iter()
            .zip(usage(&dirs))
            .map(|(&bucket, (bytes, entries))| BucketUsage {
                bucket,
                bytes,
                entries,
            })
            .collect(),
        unlinked: Store::in_root(root).unlinked(),
        leftovers: leftovers(root),
    }
}

/// An entry of the cache, as its owner checks it.
#[derive(Debug, Clone, Copy)]
pub enum CacheEntry<'a> {
    /// `envs/<python>/<numpy>/`: an environment with this NumPy.
    Environment { dir: &'a Path, numpy: &'a Version },
    /// `builds/<key>/`.
    Build { dir: &'a Path },
}

/// Why an entry was found damaged: its owner's check (`E`), or a name the
/// layout does not allow.
#[derive(Debug, thiserror::Error)]
pub enum Fault<E> {
    #[error("{} is not named by a NumPy version", .0.display())]
    Misnamed(PathBuf),
    #[error(transparent)]
    Check(E),
}

/// A damaged entry, and whether it is gone now.
#[derive(Debug)]
pub struct Damaged<E> {
    pub dir: PathBuf,
    pub why: Fault<E>,
    pub removed: bool,
}

/// What `matrix cache verify` did, in the order it did it.
#[derive(Debug)]
pub struct Verification<E> {
    /// Unfinished entries of killed runs, removed first.
    pub swept: Vec<(PathBuf, u64)>,
    /// Entries checked, and the damaged ones (removed: the next run makes
    /// them again).
    pub checked: usize,
    pub damaged: Vec<Damaged<E>>,
    /// The store, after the entries (one removed leaves its files
    /// unlinked): every file re-hashed, the damaged ones removed.
    pub store: StoreCheck,
    /// Stored files no environment links to, removed: bytes and count.
    pub unlinked: (u64, usize),
}

impl<E> Verification<E> {
    /// Whether everything checked was intact.
    pub fn intact(&self) -> bool {
        self.damaged.is_empty() && self.store.damaged.is_empty()
    }
}

/// Proves every entry under `root` with `check`, removes the damaged ones,
/// then the store's damaged and unlinked files (the caller holds the cache
/// to itself: see `lock`).
pub fn verify<E>(root: &Path, check: impl Fn(CacheEntry<'_>) -> Result<(), E>) -> Verification<E> {
    let swept = sweep(root);
    let mut checked = 0;
    let mut damaged = Vec::new();
    let mut judge = |dir: PathBuf, verdict: Result<(), Fault<E>>| {
        checked += 1;
        if let Err(why) = verdict {
            let removed = std::fs::remove_dir_all(&dir).is_ok();
            damaged.push(Damaged { dir, why, removed });
        }
    };
    for interpreter in entries(&Bucket::Envs.dir(root)) {
        for dir in entries(&interpreter) {
            let verdict = match file_name(&dir).parse::<Version>() {
                Ok(numpy) => check(CacheEntry::Environment {
                    dir: &dir,
                    numpy: &numpy,
                })
                .map_err(Fault::Check),
                Err(_) => Err(Fault::Misnamed(dir.clone())),
            };
            judge(dir, verdict);
        }
    }
    for dir in entries(&Bucket::Builds.dir(root)) {
        let verdict = check(CacheEntry::Build { dir: &dir }).map_err(Fault::Check);
        judge(dir, verdict);
    }
    let store = Store::in_root(root);
    let stored = store.verify();
    Verification {
        swept,
        checked,
        damaged,
        store: stored,
        unlinked: store.remove_unlinked(),
    }
}

/// What `matrix cache clean` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cleaned {
    Removed,
    /// There was no cache there.
    Nothing,
}

/// Removes the whole cache at `root` (the caller holds it to itself).
pub fn clean(root: &Path) -> std::io::Result<Cleaned> {
    if !root.exists() {
        return Ok(Cleaned::Nothing);
    }
    std::fs::remove_dir_all(root)?;
    Ok(Cleaned::Removed)
}

/// The entries of a bucket folder: every name but the hidden ones (staging
/// folders, temporary files).
fn entries(dir: &Path) -> impl Iterator<Item = PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout walked as it is: every environment and build is handed
    /// to its owner's check, a folder not named by a version is damage of
    /// its own, hidden names are not entries, and what is damaged is gone.
    #[test]
    fn every_entry_is_checked_by_its_owner_and_the_damaged_removed() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let envs = Bucket::Envs.dir(root).join("cpython-3.11");
        for name in ["1.26.4", "2.0.2", "not-a-version", ".staging-x"] {
            std::fs::create_dir_all(envs.join(name)).unwrap();
        }
        for name in ["good", "bad"] {
            std::fs::create_dir_all(Bucket::Builds.dir(root).join(name)).unwrap();
        }
        let seen = std::cell::RefCell::new(Vec::new());
        let v = verify(root, |entry| {
            let (dir, bad) = match entry {
                CacheEntry::Environment { dir, numpy } => (dir, numpy.to_string() == "2.0.2"),
                CacheEntry::Build { dir } => (dir, dir.ends_with("bad")),
            };
            seen.borrow_mut().push(file_name(dir));
            if bad { Err("damaged") } else { Ok(()) }
        });
        let mut seen = seen.into_inner();
        seen.sort();
        assert_eq!(seen, ["1.26.4", "2.0.2", "bad", "good"]);
        assert_eq!(v.checked, 5);
        let mut damaged: Vec<(String, String)> = v
            .damaged
            .iter()
            .map(|d| (file_name(&d.dir), d.why.to_string()))
            .collect();
        damaged.sort();
        assert_eq!(damaged[0], ("2.0.2".into(), "damaged".into()));
        assert_eq!(damaged[1], ("bad".into(), "damaged".into()));
        assert!(
            damaged[2]
                .1
                .ends_with("not-a-version is not named by a NumPy version")
        );
        assert!(v.damaged.iter().all(|d| d.removed && !d.dir.exists()));
        assert!(envs.join("1.26.4").exists() && envs.join(".staging-x").exists());
        assert!(!v.intact());
    }

    #[test]
    fn clean_says_when_there_was_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("v2");
        assert_eq!(clean(&root).unwrap(), Cleaned::Nothing);
        std::fs::create_dir_all(Bucket::Envs.dir(&root)).unwrap();
        assert_eq!(clean(&root).unwrap(), Cleaned::Removed);
        assert!(!root.exists());
    }
}
