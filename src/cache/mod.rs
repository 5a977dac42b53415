//! The persistent cache: what a warm run reuses instead of redoing.
//!
//! ```text
//! <root>/v2/tools/uv/                uv, when abimatrix had to install it (in the
//!                                    root the run uses: `--cache-dir` holds it too)
//! <root>/v2/envs/<python>/<numpy>/   one virtual environment per interpreter × NumPy
//! <root>/v2/store/<sha256>          NumPy's files, once per content, hard-linked
//!                                    into the environments (`store`)
//! <root>/v2/builds/<hash>/           one built module per (sources, flags, interpreter, NumPy)
//! <root>/v2/probes/<hash>/           the probe driver and code, so `explain`'s commands re-run
//! <root>/v2/journals/<matrix>.jsonl  finished cells of an interrupted run (`--resume`)
//! <root>/v2/results/<config>.json    the last results of each config (`explain`)
//! <root>/v2/last-results.json        the last run's results, whatever its config
//! ```
//!
//! Every sub-folder is named once, by [`Bucket`]. `<python>` identifies an
//! interpreter by what it is (executable, version, platform), not by what it
//! is called. Entries are made by [`ensure`]: in a staging directory beside
//! their place, then renamed into it, so a run that is killed mid-way, or
//! two runs at once, never leave or see half an entry; an entry is verified
//! before use and remade when the check fails. The layout version is in the
//! path, so a future layout never misreads this one.

pub mod lock;
pub mod manifest;
pub mod memo;
pub mod store;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Bumped whenever the layout under the cache root changes incompatibly.
const LAYOUT: &str = "v2";

/// The sub-folders of the cache root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Tools,
    Envs,
    /// One read-only copy of each file content environments hold.
    Store,
    Builds,
    Probes,
    Journals,
    /// The last results of each config, for `explain` and `--rerun-failed`.
    Results,
}

impl Bucket {
    pub fn name(self) -> &'static str {
        match self {
            Bucket::Tools => "tools",
            Bucket::Envs => "envs",
            Bucket::Store => "store",
            Bucket::Builds => "builds",
            Bucket::Probes => "probes",
            Bucket::Journals => "journals",
            Bucket::Results => "results",
        }
    }

    /// What `matrix cache info` calls its entries.
    pub fn describe(self) -> &'static str {
        match self {
            Bucket::Tools => "tools",
            Bucket::Envs => "interpreters with environments",
            Bucket::Store => "NumPy files environments link to",
            Bucket::Builds => "builds",
            Bucket::Probes => "probe files",
            Bucket::Journals => "journals of unfinished runs",
            Bucket::Results => "last results, one per config",
        }
    }

    pub fn dir(self, root: &Path) -> PathBuf {
        root.join(self.name())
    }
}

/// `--cache-dir`, else `$ABIMATRIX_CACHE_DIR`, else the platform cache dir
/// (XDG on Linux), else the system temp dir so a HOME-less CI still works.
/// Always absolute: the paths under it reach compilers and builds that run
/// in folders of their own (`--cache-dir .cache` made `-I.cache/...`, which
/// a compiler in the build's folder could not find).
pub fn root_in(dir: Option<&Path>) -> PathBuf {
    let given = dir.map(Path::to_path_buf).or_else(|| {
        std::env::var_os("ABIMATRIX_CACHE_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
    });
    if let Some(dir) = given {
        return resolved(&dir).join(LAYOUT);
    }
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("abimatrix")
        .join(LAYOUT)
}

/// `path` made absolute with its `.` and `..` resolved, as the programs
/// that later receive paths under it will see them: Python reports
/// `numpy.get_include()` without `..`, so an entry made under
/// `--cache-dir ../cache` did not recognise its own folder in it (every
/// build then looked for NumPy's headers in the staging folder it had
/// left). The part that exists is resolved by the file system (symbolic
/// links included), the rest is appended as given.
pub fn resolved(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => {
                out.push(other);
                // A link is followed before a later `..` climbs out of it.
                if let Ok(real) = out.canonicalize() {
                    out = real;
                }
            }
        }
    }
    out
}

/// Where every run leaves its results, for `matrix explain` away from any
/// config.
pub fn last_results(root: &Path) -> PathBuf {
    root.join("last-results.json")
}

/// Where the last run of the config at `config` (absolute) leaves its
/// results: `explain` and `--rerun-failed` read these, never another
/// project's.
pub fn last_results_of(root: &Path, config: &Path) -> PathBuf {
    Bucket::Results.dir(root).join(format!(
        "{}.json",
        digest([config.to_string_lossy().as_bytes()])
    ))
}

/// A short, stable hash of `parts` (SHA-256, hex, 16 characters).
pub fn digest<I, S>(parts: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let mut h = Sha256::new();
    for p in parts {
        let p = p.as_ref();
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let out = h.finalize();
    out.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Where an entry goes.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// A directory of this run only (`--fresh`): made, never verified or kept.
    Temporary(&'a Path),
    /// A cache entry at this path: reused when it verifies, else made.
    Cached(&'a Path),
}

/// A value from [`ensure`], and whether it came from the cache.
#[derive(Debug)]
pub struct Ensured<T> {
    pub value: T,
    pub reused: bool,
    /// A made entry that `publish` refused stays in its staging folder,
    /// kept (for this run only) while this is held; `None` otherwise.
    pub staging: Option<Staging>,
}

/// A staging folder (`.tmp-*` beside the entry's place), claimed by this
/// process while it exists ([`lock::StagingLock`]): removed when dropped.
/// One whose process died is no one's, and [`sweep`] removes it.
#[derive(Debug)]
pub struct Staging {
    path: PathBuf,
    _claim: Option<lock::StagingLock>,
}

/// What staging folders are called: a prefix no entry's name has.
const STAGING: &str = ".tmp-";

impl Staging {
    /// Made under another name, claimed, then renamed to its staging name
    /// (the claim is the inode's and goes with it): a sweeper never sees a
    /// staging folder of a live process unclaimed.
    fn new_in(parent: &Path) -> std::io::Result<Staging> {
        let fresh = tempfile::Builder::new()
            .prefix(".new-")
            .tempdir_in(parent)?;
        // The claim only fails where flock does not work at all.
        let claim = lock::StagingLock::claim(fresh.path()).ok();
        let name = fresh
            .path()
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let path = parent.join(format!("{STAGING}{}", name.trim_start_matches(".new-")));
        std::fs::rename(fresh.path(), &path)?;
        let _moved = fresh.keep();
        Ok(Staging {
            path,
            _claim: claim,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Before the claim is given back (fields drop after this).
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The staging folders under `root` that no live process holds (left by
/// a run that was killed) and the store's temporary files of processes
/// that are gone; with their bytes on disk.
pub fn leftovers(root: &Path) -> Vec<(PathBuf, u64)> {
    let mut places = vec![Bucket::Builds.dir(root)];
    places.extend(
        std::fs::read_dir(Bucket::Envs.dir(root))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir()),
    );
    let mut found = Vec::new();
    for place in places {
        for e in std::fs::read_dir(&place).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(STAGING)
                && e.file_type().is_ok_and(|t| t.is_dir())
                && !lock::held(&e.path())
            {
                found.push((e.path(), usage(&[e.path()])[0].0));
            }
        }
    }
    found.extend(store::Store::in_root(root).orphaned_temporaries());
    found
}

/// Removes [`leftovers`]; returns what was removed, with its bytes.
pub fn sweep(root: &Path) -> Vec<(PathBuf, u64)> {
    leftovers(root)
        .into_iter()
        .filter(|(p, _)| {
            if p.is_dir() {
                std::fs::remove_dir_all(p).is_ok()
            } else {
                std::fs::remove_file(p).is_ok()
            }
        })
        .collect()
}

/// The one way entries are made: reuse the entry at `place` when `verify`
/// accepts it; otherwise `make` it in a staging directory beside its place
/// (`make` writes everything the entry holds, its marker included), publish
/// it by renaming, and verify it again where it landed. A made value that
/// `publishable` refuses (a build that cannot be keyed by what it read) is
/// not published: it is used from its staging folder, which [`Ensured`]
/// holds, and the next run makes it again. `io` turns a failure of ours
/// (creating the staging directory, renaming) into `E`.
///
/// Verifying stats and hashes an entry's files, and a failed entry's
/// staging folder can hold a whole environment: both run on the blocking
/// pool ([`crate::blocking`]), so `verify` owns what it reads.
pub async fn ensure<T, E>(
    place: Place<'_>,
    verify: impl Fn(&Path) -> Option<T> + Send + Sync + 'static,
    make: impl AsyncFnOnce(&Path) -> Result<T, E>,
    publishable: impl Fn(&T) -> bool,
    io: impl Fn(String, std::io::Error) -> E,
) -> Result<Ensured<T>, E>
where
    T: Send + 'static,
{
    let target = match place {
        Place::Temporary(dir) => {
            return make(dir).await.map(|value| Ensured {
                value,
                reused: false,
                staging: None,
            });
        }
        Place::Cached(target) => target,
    };
    let verify = std::sync::Arc::new(verify);
    let verified = |dir: &Path| {
        let (verify, dir) = (verify.clone(), dir.to_path_buf());
        crate::blocking::run(move || verify(&dir))
    };
    if let Some(value) = verified(target).await {
        return Ok(Ensured {
            value,
            reused: true,
            staging: None,
        });
    }
    let parent = target.parent().unwrap_or(Path::new(".")).to_path_buf();
    let holder = {
        let parent = parent.clone();
        crate::blocking::run(move || {
            std::fs::create_dir_all(&parent)
                .map_err(|e| (format!("creating {}", parent.display()), e))?;
            Staging::new_in(&parent).map_err(|e| (format!("staging in {}", parent.display()), e))
        })
        .await
        .map_err(|(what, e)| io(what, e))?
    };
    let staging = holder.path().join("entry");
    let made = match make(&staging).await {
        Ok(made) => made,
        Err(e) => {
            // What a failed make left (a half-made environment) goes with
            // its folder.
            crate::blocking::run(move || drop(holder)).await;
            return Err(e);
        }
    };
    if !publishable(&made) {
        return Ok(Ensured {
            value: made,
            reused: false,
            staging: Some(holder),
        });
    }
    let published = {
        let (verify, to) = (verify.clone(), target.to_path_buf());
        crate::blocking::run(move || {
            let published = publish(&staging, &to, |d| verify(d).is_some());
            drop(holder);
            published
        })
        .await
    };
    published.map_err(|e| io(format!("publishing {}", target.display()), e))?;
    match verified(target).await {
        Some(value) => Ok(Ensured {
            value,
            reused: false,
            staging: None,
        }),
        None => Err(io(
            format!("checking {}", target.display()),
            std::io::Error::other("the entry is incomplete right after it was made"),
        )),
    }
}

/// Publishes `staging` as `target`: rename, or if another run got there
/// first with an entry that `valid` accepts, keep theirs.
fn publish(staging: &Path, target: &Path, valid: impl Fn(&Path) -> bool) -> std::io::Result<()> {
    if target.exists() && !valid(target) {
        // A broken entry (killed run, deleted files) is replaced.
        std::fs::remove_dir_all(target)?;
    }
    match std::fs::rename(staging, target) {
        Ok(()) => Ok(()),
        Err(_) if valid(target) => {
            let _ = std::fs::remove_dir_all(staging);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Reads a JSON marker an entry was published with.
pub fn read_marker<M: serde::de::DeserializeOwned>(path: &Path) -> Option<M> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Writes a JSON marker into a staging entry.
pub fn write_marker<M: serde::Serialize>(path: &Path, marker: &M) -> std::io::Result<()> {
    let text = serde_json::to_string(marker).map_err(std::io::Error::other)?;
    std::fs::write(path, text)
}

/// Rewrites the marker of a published entry: beside it, then renamed, so a
/// run reading it at the same moment sees the old one or the new one.
pub fn write_marker_atomic<M: serde::Serialize>(path: &Path, marker: &M) -> std::io::Result<()> {
    let text = serde_json::to_string(marker).map_err(std::io::Error::other)?;
    replace_file(path, text.as_bytes())
}

/// Replaces the file at `path` with `bytes` whole: written to a temporary
/// file beside it, then renamed over it, so a reader (or a crash mid-write)
/// never sees half of it.
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Bytes on disk and number of entries under each of `dirs`, each file
/// counted once, under the first of `dirs` that holds it: hard links
/// (the store's, shared by environments; uv's) never count twice, and a
/// sparse or tiny file counts its blocks. Staging folders and temporary
/// files (names starting with `.tmp-`, or `.` at the top) are not entries,
/// and staging folders' bytes are not counted ([`leftovers`] has those).
pub fn usage(dirs: &[PathBuf]) -> Vec<(u64, usize)> {
    use std::os::unix::fs::MetadataExt;
    fn walk(dir: &Path, seen: &mut std::collections::HashSet<(u64, u64)>, total: &mut u64) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(STAGING) {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(&e.path(), seen, total),
                Ok(t) if t.is_file() => {
                    if let Ok(m) = e.metadata()
                        && seen.insert((m.dev(), m.ino()))
                    {
                        *total += m.blocks() * 512;
                    }
                }
                _ => {}
            }
        }
    }
    let mut seen = Default::default();
    dirs.iter()
        .map(|dir| {
            let mut total = 0;
            walk(dir, &mut seen, &mut total);
            let entries = std::fs::read_dir(dir)
                .map(|d| {
                    d.flatten()
                        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                        .count()
                })
                .unwrap_or(0);
            (total, entries)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_a_linked_file_once_under_its_first_place() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("f"), vec![1u8; 64 * 1024]).unwrap();
        std::fs::hard_link(a.join("f"), b.join("f")).unwrap();
        std::fs::write(b.join("g"), vec![2u8; 64 * 1024]).unwrap();
        let found = usage(&[a.clone(), b.clone()]);
        assert!(found[0].0 >= 64 * 1024, "{found:?}");
        assert_eq!(found[0].0, found[1].0, "b's own file only: {found:?}");
        assert_eq!((found[0].1, found[1].1), (1, 2));
    }

    /// A killed run's staging folder is swept and never counted; a live
    /// one (claimed by this process) is neither swept nor counted.
    #[test]
    fn sweep_removes_only_staging_folders_no_live_process_holds() {
        let root = tempfile::tempdir().unwrap();
        let builds = Bucket::Builds.dir(root.path());
        std::fs::create_dir_all(builds.join("0123abcd")).unwrap();
        std::fs::write(builds.join("0123abcd/m.so"), vec![1u8; 8192]).unwrap();
        let live = Staging::new_in(&builds).unwrap();
        assert!(
            live.path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".tmp-")
        );
        std::fs::write(live.path().join("half.so"), vec![2u8; 8192]).unwrap();
        let dead = builds.join(".tmp-killed");
        std::fs::create_dir_all(dead.join("entry")).unwrap();
        std::fs::write(dead.join("entry/half.so"), vec![3u8; 8192]).unwrap();
        let (bytes, entries) = usage(std::slice::from_ref(&builds))[0];
        assert_eq!(entries, 1, "only the entry is a build");
        assert!(bytes < 16 * 1024, "{bytes}: staging bytes counted");
        let swept: Vec<PathBuf> = sweep(root.path()).into_iter().map(|(p, _)| p).collect();
        assert_eq!(swept, std::slice::from_ref(&dead));
        assert!(!dead.exists() && live.path().exists());
        let path = live.path().to_path_buf();
        drop(live);
        assert!(!path.exists(), "a staging folder goes with its holder");
    }

    /// `..` is resolved as the file system does (after a link, from where
    /// the link points), and a part that does not exist yet kept as given.
    #[test]
    fn a_cache_dir_is_resolved_as_programs_will_see_it() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(base.join("real/inner")).unwrap();
        std::os::unix::fs::symlink(base.join("real/inner"), base.join("link")).unwrap();
        assert_eq!(resolved(&base.join("x/../cache")), base.join("cache"));
        assert_eq!(resolved(&base.join("link/../c")), base.join("real/c"));
        assert_eq!(resolved(&base.join("./a/./b")), base.join("a/b"));
    }

    #[test]
    fn digest_is_stable_and_separates_parts() {
        assert_eq!(digest(["a", "bc"]), digest(["a", "bc"]));
        assert_ne!(digest(["ab", "c"]), digest(["a", "bc"]));
        assert_eq!(digest(["x"]).len(), 16);
    }

    #[test]
    fn publish_keeps_a_valid_winner_and_replaces_a_broken_entry() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("entry");
        let ok = |p: &Path| p.join("ok").exists();

        // Broken entry present: replaced by the staged one.
        std::fs::create_dir_all(&target).unwrap();
        let staging = dir.path().join("s1");
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join("ok"), "1").unwrap();
        publish(&staging, &target, ok).unwrap();
        assert_eq!(std::fs::read_to_string(target.join("ok")).unwrap(), "1");

        // Valid entry present: ours is discarded, theirs kept.
        let staging = dir.path().join("s2");
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join("ok"), "2").unwrap();
        std::fs::write(staging.join("extra"), "x").unwrap();
        publish(&staging, &target, ok).unwrap();
        assert_eq!(std::fs::read_to_string(target.join("ok")).unwrap(), "1");
        assert!(!staging.exists());
    }

    #[tokio::test]
    async fn ensure_makes_once_then_reuses_and_remakes_a_damaged_entry() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("bucket").join("key");
        let verify = |p: &Path| std::fs::read_to_string(p.join("v")).ok();
        let io = |what: String, e: std::io::Error| format!("{what}: {e}");
        let make = async |p: &Path| -> Result<String, String> {
            std::fs::create_dir_all(p).map_err(|e| e.to_string())?;
            std::fs::write(p.join("v"), "made").map_err(|e| e.to_string())?;
            Ok("made".to_string())
        };
        let first = ensure(Place::Cached(&target), verify, make, |_| true, io)
            .await
            .unwrap();
        assert_eq!((first.value.as_str(), first.reused), ("made", false));
        let never = async |_: &Path| -> Result<String, String> { Err("must not make".into()) };
        let second = ensure(Place::Cached(&target), verify, never, |_| true, io)
            .await
            .unwrap();
        assert!(second.reused);
        std::fs::remove_file(target.join("v")).unwrap();
        let third = ensure(Place::Cached(&target), verify, make, |_| true, io)
            .await
            .unwrap();
        assert!(!third.reused, "a damaged entry is made again");
        // No staging directory is left beside the entry.
        let left: Vec<_> = std::fs::read_dir(dir.path().join("bucket"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(left.len(), 1);
    }
}
