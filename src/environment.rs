//! One virtual environment with one NumPy in it: made for this run in a
//! temporary directory (`--fresh`), or taken from the persistent cache when a
//! verified entry is there, and made into it when not.
//!
//! Creation is checked, not assumed: after the install the environment's own
//! Python is asked which NumPy it imports and where its headers are. A cached
//! entry carries a manifest (`cache::manifest`) of what proves it: every file
//! NumPy's RECORD lists, `pyvenv.cfg` and the interpreter behind
//! `bin/python`, each with its SHA-256. Before use it is checked (a stat per
//! file, a hash only of what changed), so a deleted, truncated or edited
//! file means a rebuild, never a wrong grid; `matrix cache verify` and a
//! suspicious cell failure check every hash.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pep440_rs::Version;
use serde::{Deserialize, Serialize};

use crate::cache::manifest::{Damage, Depth, FileRecord, Manifest, Stat};
use crate::cache::store::Store;
use crate::cache::{self, Bucket, Place};
use crate::process::Spec;
use crate::python::{Fetch, InstallError, Installer, Interpreter, venv_python};

/// A ready environment.
#[derive(Debug, Clone)]
pub struct NumpyEnv {
    pub numpy: Version,
    pub dir: PathBuf,
    pub python: PathBuf,
    /// `numpy.get_include()`.
    pub include: PathBuf,
    pub setup: Duration,
    /// Reused from the cache rather than made by this run.
    pub reused: bool,
}

const CHECK: &str = "import json, numpy; print(json.dumps({'version': numpy.__version__, 'include': numpy.get_include()}))";
/// Written last into a cached environment: its presence means complete.
pub const MARKER: &str = "abimatrix-env.json";

#[derive(Deserialize)]
struct Check {
    version: String,
    include: PathBuf,
}

/// Written last into a cached environment: its presence means "complete".
#[derive(Serialize, Deserialize)]
struct Marker {
    numpy: String,
    /// `numpy.get_include()` relative to the environment (it moves once,
    /// from staging to its place).
    include: PathBuf,
    interpreter: PathBuf,
    /// What the environment must contain, with the hashes that prove it.
    manifest: Manifest,
}

/// Where the cached environment of `interpreter` with `version` lives.
pub fn cached_dir(root: &Path, interpreter: &Interpreter, version: &Version) -> PathBuf {
    Bucket::Envs
        .dir(root)
        .join(interpreter.cache_key())
        .join(version.to_string())
}

/// Where the environment with a local NumPy wheel lives: beside the
/// index's releases, named by the wheel's contents too, so a wheel rebuilt
/// under the same name is a new environment.
pub fn cached_wheel_dir(
    root: &Path,
    interpreter: &Interpreter,
    version: &Version,
    wheel: &Path,
) -> PathBuf {
    let digest = crate::cache::manifest::hash_file(wheel).unwrap_or_default();
    cached_dir(root, interpreter, version).with_file_name(format!(
        "{version}+wheel-{}",
        &digest[..digest.len().min(16)]
    ))
}

/// The environment with `numpy==version` (or the local `wheel` of it) for
/// `interpreter` at `place`; a cached one shares NumPy's files through
/// `store`. `started` is called when it must be made (not when it is
/// reused).
pub async fn ensure(
    installer: &Installer,
    interpreter: &Interpreter,
    version: &Version,
    wheel: Option<&Path>,
    place: Place<'_>,
    store: Option<&Store>,
    started: impl FnOnce(),
) -> Result<NumpyEnv, InstallError> {
    let start = Instant::now();
    let make = async |dir: &Path| -> Result<PathBuf, InstallError> {
        started();
        let (Place::Cached(_), Some(store)) = (place, store) else {
            // This run's own environment (`--fresh`): nothing kept, nothing
            // shared.
            return create(installer, interpreter, version, wheel, dir, Fetch::Cached).await;
        };
        // uv's hard links are the fastest install; `share` proves each file
        // against the wheel's RECORD and replaces it at once with a link to
        // the store's read-only copy, so no probe ever runs next to an
        // inode of uv's cache (the user's). A damaged copy in the
        // installer's cache is fetched again past it.
        let mut include =
            create(installer, interpreter, version, wheel, dir, Fetch::Linked).await?;
        let mut shared = share_off_runtime(dir, version, store).await;
        if let Err(Shared::Unproven(why)) = &shared {
            let gone = dir.to_path_buf();
            let _ = crate::blocking::run(move || std::fs::remove_dir_all(gone)).await;
            include = create(installer, interpreter, version, wheel, dir, Fetch::Again)
                .await
                .map_err(|e| match e {
                    InstallError::Failed { what, output } => InstallError::Failed {
                        what,
                        output: format!("{output}\n(installed again because {why})"),
                    },
                    other => other,
                })?;
            shared = share_off_runtime(dir, version, store).await;
        }
        let manifest = shared.map_err(|e| match e {
            Shared::Io(e) => InstallError::io("recording what the environment holds", e),
            Shared::Unproven(why) => InstallError::Failed {
                what: format!("installing numpy {version}"),
                output: why,
            },
        })?;
        let marker = Marker {
            numpy: version.to_string(),
            include: PathBuf::new(),
            interpreter: interpreter.executable.clone(),
            manifest,
        };
        let (dir, version, headers) = (dir.to_path_buf(), version.clone(), include.clone());
        crate::blocking::run(move || mark(&dir, &version, &headers, marker)).await?;
        Ok(include)
    };
    let wanted = version.clone();
    let ensured = cache::ensure(
        place,
        move |dir| valid(dir, &wanted, Depth::Quick).ok(),
        make,
        |_| true,
        |what, e| InstallError::io(format!("{what} in the cache"), e),
    )
    .await?;
    let dir = match place {
        Place::Temporary(dir) | Place::Cached(dir) => dir.to_path_buf(),
    };
    Ok(NumpyEnv {
        numpy: version.clone(),
        python: venv_python(&dir),
        dir,
        include: ensured.value,
        setup: start.elapsed(),
        reused: ensured.reused,
    })
}

/// Makes the environment at `dir` and returns `numpy.get_include()`.
async fn create(
    installer: &Installer,
    interpreter: &Interpreter,
    version: &Version,
    wheel: Option<&Path>,
    dir: &Path,
    fetch: Fetch,
) -> Result<PathBuf, InstallError> {
    let python = installer.create_venv(interpreter, dir).await?;
    installer
        .install_numpy(&python, version, wheel, fetch)
        .await?;
    let what = format!("checking the numpy {version} environment");
    // This first import writes the bytecode of exactly the modules `import
    // numpy` needs (-I ignores PYTHONDONTWRITEBYTECODE), so cells and fork
    // servers don't each compile them. Compiling all of NumPy at install
    // (--compile-bytecode) measured 40% slower for a cold 7 x 7 grid and
    // bought nothing: probes import what this import imports.
    let finished = Spec::new(&python).args(["-I", "-c", CHECK]).run().await?;
    if !finished.success() {
        return Err(InstallError::Failed {
            what,
            output: finished.output(),
        });
    }
    let check: Check = serde_json::from_str(finished.stdout.text.trim()).map_err(|_| {
        InstallError::Unexpected {
            what: what.clone(),
            output: finished.stdout.text.clone(),
        }
    })?;
    if check.version != version.to_string() {
        return Err(InstallError::Failed {
            what,
            output: format!("it imports numpy {}", check.version),
        });
    }
    Ok(check.include)
}

/// Why an environment's files could not be shared.
enum Shared {
    /// A file differs from what the wheel's RECORD says it holds.
    Unproven(String),
    Io(std::io::Error),
}

/// [`share`] on the blocking pool: it hashes every file of NumPy's.
async fn share_off_runtime(
    dir: &Path,
    version: &Version,
    store: &Store,
) -> Result<Manifest, Shared> {
    let (dir, version, store) = (dir.to_path_buf(), version.clone(), store.clone());
    crate::blocking::run(move || share(&dir, &version, &store)).await
}

/// Writes the marker that makes the environment at `dir` complete, with
/// `include` (`numpy.get_include()`) kept relative to it.
fn mark(dir: &Path, version: &Version, include: &Path, marker: Marker) -> Result<(), InstallError> {
    let marker = Marker {
        include: inside(include, dir).ok_or_else(|| InstallError::Failed {
            what: format!("checking the numpy {version} environment"),
            output: format!(
                "numpy's headers are at {}, outside the environment {}",
                include.display(),
                dir.display()
            ),
        })?,
        ..marker
    };
    cache::write_marker(&dir.join(MARKER), &marker)
        .map_err(|e| InstallError::io("writing the environment's marker", e))
}

/// Proves the environment at `dir` file by file and links each of NumPy's
/// files to the store; returns the manifest that proves it from now on.
fn share(dir: &Path, version: &Version, store: &Store) -> Result<Manifest, Shared> {
    let listed = numpy_files(dir, version).map_err(Shared::Io)?;
    let mut files = Vec::with_capacity(listed.len());
    let mut adopted = HashSet::new();
    let mut private = Vec::new();
    for (path, wheel_hash) in listed {
        let Some(expected) = wheel_hash else {
            private.push(path);
            continue;
        };
        let full = dir.join(&path);
        let Some((_, meta)) = store.adopt(&full, &expected).map_err(Shared::Io)? else {
            return Err(Shared::Unproven(format!(
                "{} differs from the wheel's RECORD",
                full.display()
            )));
        };
        // Linking moved the file to the store's inode (and changed its
        // ctime): the record proves the file as it is now.
        adopted.insert(meta.ino());
        files.push(FileRecord {
            path,
            size: meta.len(),
            sha256: expected,
            ino: meta.ino(),
            ctime_ns: crate::cache::manifest::ctime_ns(&meta),
        });
    }
    // Recorded once they are copies of their own.
    detach(dir, &adopted).map_err(Shared::Io)?;
    for path in private {
        files.push(FileRecord::of(dir, &path).map_err(Shared::Io)?);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Manifest { files })
}

/// Any other file under `dir` that uv linked from its cache (one the
/// RECORD gives no hash, a data file placed outside site-packages)
/// becomes a private copy: nothing a probe can write may be an inode of
/// uv's cache.
fn detach(dir: &Path, adopted: &HashSet<u64>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            detach(&entry.path(), adopted)?;
        } else if kind.is_file() {
            let meta = entry.metadata()?;
            if meta.nlink() > 1 && !adopted.contains(&meta.ino()) {
                crate::cache::store::make_private(&entry.path())?;
            }
        }
    }
    Ok(())
}

/// The files that prove an environment: `pyvenv.cfg`, `bin/python` (the
/// interpreter behind the link) and every file NumPy's RECORD lists
/// (bytecode aside: a newer .pyc of the same source is Python's to write);
/// with the hex SHA-256 the RECORD gives each of NumPy's files, where it
/// gives one.
fn numpy_files(dir: &Path, version: &Version) -> std::io::Result<Vec<(String, Option<String>)>> {
    let site = site_packages(dir).ok_or_else(|| std::io::Error::other("no site-packages"))?;
    let site_rel = site.strip_prefix(dir).unwrap_or(&site).to_path_buf();
    let record = site
        .join(format!("numpy-{version}.dist-info"))
        .join("RECORD");
    let text = std::fs::read_to_string(&record)?;
    let mut files = vec![
        ("pyvenv.cfg".to_string(), None),
        ("bin/python".to_string(), None),
    ];
    for line in text.lines() {
        // path,hash,size; paths with commas are quoted, and none of NumPy's
        // are, so a plain split is exact here.
        let mut fields = line.split(',');
        let Some(path) = fields.next().filter(|p| !p.is_empty()) else {
            continue;
        };
        if path.ends_with(".pyc") || path.starts_with("..") {
            continue;
        }
        let path = site_rel.join(path).to_string_lossy().into_owned();
        files.push((path, fields.next().and_then(record_sha256)));
    }
    Ok(files)
}

/// The hex SHA-256 of a RECORD hash field (`sha256=` and unpadded URL-safe
/// base64, PEP 376 / the wheel spec); None for another algorithm or none.
fn record_sha256(field: &str) -> Option<String> {
    let b64 = field.strip_prefix("sha256=")?;
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::with_capacity(32);
    for c in b64.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    (bytes.len() == 32).then(|| bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Why a cached environment is not one to use: it is made again.
#[derive(Debug, thiserror::Error)]
pub enum StaleEnv {
    #[error("{} has no readable marker", .0.display())]
    NoMarker(PathBuf),
    #[error("{} holds numpy {holds}", dir.display())]
    OtherNumpy { dir: PathBuf, holds: String },
    #[error("its interpreter {} is gone", .0.display())]
    InterpreterGone(PathBuf),
    #[error(transparent)]
    Damaged(#[from] Damage),
}

/// The include directory of a complete, intact cached environment at `dir`
/// for `version`, or why it is not one.
pub fn valid(dir: &Path, version: &Version, depth: Depth) -> Result<PathBuf, StaleEnv> {
    let marker_path = dir.join(MARKER);
    let marker: Marker =
        cache::read_marker(&marker_path).ok_or_else(|| StaleEnv::NoMarker(dir.to_path_buf()))?;
    check_marker(dir, version, depth, marker).map(|checked| checked.include)
}

/// The markers of cached environments this run has read, each with the
/// quick check's view of the file it was read from. A column of failed
/// cells asks for a quick check of its environment again and again (a
/// check that started after the failure answers for it); reading and
/// parsing the marker, a record per NumPy file, cost more than the stats
/// themselves. A kept copy is used only while its file is the same file (a
/// marker is only ever replaced whole, renamed over): one written since, by
/// this run or another, is read again.
#[derive(Default)]
pub struct Markers {
    read: std::sync::Mutex<std::collections::HashMap<PathBuf, (Stat, Marker)>>,
}

impl Markers {
    /// [`valid`], with the marker kept from this run's last check of `dir`
    /// when its file is the same one.
    pub fn valid(&self, dir: &Path, version: &Version, depth: Depth) -> Result<PathBuf, StaleEnv> {
        let marker_path = dir.join(MARKER);
        let kept = self.lock().remove(dir);
        let seen = Stat::of_path(&marker_path).ok();
        let marker = match kept {
            Some((was, marker)) if Some(was) == seen => marker,
            _ => cache::read_marker(&marker_path)
                .ok_or_else(|| StaleEnv::NoMarker(dir.to_path_buf()))?,
        };
        let checked = check_marker(dir, version, depth, marker)?;
        // Kept under the file as it is now: looked at again only when the
        // check wrote it (files proven again).
        let now = if checked.rewritten {
            Stat::of_path(&marker_path).ok()
        } else {
            seen
        };
        if let Some(now) = now {
            self.lock().insert(dir.to_path_buf(), (now, checked.marker));
        }
        Ok(checked.include)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<PathBuf, (Stat, Marker)>> {
        // A panic while holding it left nothing half-written worth more
        // than a fresh read: the map is a memo.
        self.read
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What checking a marker found: the include directory, and the marker
/// (its records updated when files were proven again, and then written
/// back: `rewritten`).
struct Checked {
    include: PathBuf,
    marker: Marker,
    rewritten: bool,
}

/// Checks a marker read from `dir`.
fn check_marker(
    dir: &Path,
    version: &Version,
    depth: Depth,
    mut marker: Marker,
) -> Result<Checked, StaleEnv> {
    let marker_path = dir.join(MARKER);
    if marker.numpy != version.to_string() {
        return Err(StaleEnv::OtherNumpy {
            dir: dir.to_path_buf(),
            holds: marker.numpy,
        });
    }
    if !marker.interpreter.exists() {
        return Err(StaleEnv::InterpreterGone(marker.interpreter));
    }
    let rewritten = marker.manifest.check(dir, depth)?.reproven;
    if rewritten {
        // Proven again: remember it, so the next check is a stat.
        let _ = cache::write_marker_atomic(&marker_path, &marker);
    }
    Ok(Checked {
        include: dir.join(&marker.include),
        marker,
        rewritten,
    })
}

/// `path` relative to `dir`, compared as the file system resolves both
/// (Python reports paths with links and `..` resolved): what the marker
/// keeps, so the entry still finds its headers once renamed into place.
fn inside(path: &Path, dir: &Path) -> Option<PathBuf> {
    if let Ok(rel) = path.strip_prefix(dir) {
        return Some(rel.to_path_buf());
    }
    let (path, dir) = (path.canonicalize().ok()?, dir.canonicalize().ok()?);
    path.strip_prefix(dir).ok().map(Path::to_path_buf)
}

fn site_packages(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir.join("lib"))
        .ok()?
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment folder with one NumPy file and its marker, as made.
    fn marked(numpy: &str) -> (tempfile::TempDir, Version) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("include")).unwrap();
        std::fs::write(dir.path().join("numpy.py"), "x = 1\n").unwrap();
        let marker = Marker {
            numpy: numpy.to_string(),
            include: PathBuf::from("include"),
            interpreter: PathBuf::from("/bin/sh"),
            manifest: Manifest::of(dir.path(), ["numpy.py"]).unwrap(),
        };
        cache::write_marker(&dir.path().join(MARKER), &marker).unwrap();
        (dir, numpy.parse().unwrap())
    }

    #[test]
    fn a_kept_marker_never_answers_for_one_written_since() {
        let (dir, version) = marked("2.0.2");
        let markers = Markers::default();
        assert_eq!(
            markers.valid(dir.path(), &version, Depth::Quick).unwrap(),
            dir.path().join("include")
        );
        // Another run (or this one) replaces the marker: the next check
        // reads the new one, not the copy kept from the first.
        let (other, _) = marked("1.26.4");
        std::fs::copy(other.path().join(MARKER), dir.path().join(".new")).unwrap();
        std::fs::rename(dir.path().join(".new"), dir.path().join(MARKER)).unwrap();
        assert!(matches!(
            markers.valid(dir.path(), &version, Depth::Quick),
            Err(StaleEnv::OtherNumpy { holds, .. }) if holds == "1.26.4"
        ));
    }

    #[test]
    fn a_kept_marker_still_finds_a_file_changed_since() {
        let (dir, version) = marked("2.0.2");
        let markers = Markers::default();
        assert!(markers.valid(dir.path(), &version, Depth::Quick).is_ok());
        // Same size, other bytes: the kept records catch it as the file's
        // would.
        std::fs::write(dir.path().join("numpy.py"), "x = 2\n").unwrap();
        assert!(matches!(
            markers.valid(dir.path(), &version, Depth::Quick),
            Err(StaleEnv::Damaged(Damage::Changed(_)))
        ));
    }

    #[test]
    fn record_hashes_read_as_hex() {
        // The RECORD hash of an empty file (NumPy ships several, py.typed).
        assert_eq!(
            record_sha256("sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU").as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(record_sha256("md5=abc"), None);
        assert_eq!(record_sha256(""), None);
        assert_eq!(record_sha256("sha256=short"), None);
    }
}
