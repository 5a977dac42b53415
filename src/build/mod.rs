//! Rows of the grid: what each cell imports, made once per row and
//! interpreter. Three ways to make one, one file each: C sources compiled
//! against a NumPy's headers ([`sources`]), a Python project built into a
//! wheel against a NumPy ([`project`]), and published wheels or
//! requirements installed as they are ([`rows`]). All three end as an
//! [`Artifact`]: a directory the probe puts first on `sys.path`, kept in
//! the cache through the same staged entry as environments.
//!
//! Every command and its output go into the build log, kept for the report:
//! a build failure is shown, not summarized away.

pub mod depfile;
pub mod deps;
mod error;
pub mod project;
pub mod rows;
pub mod sources;
pub mod toolchain;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::{BuildError, BuildFailure, BuildSystemError, StaleBuild, SymbolsError};

use crate::cache::manifest::{self, Depth, Manifest};
use crate::cache::{self, Bucket, Place};
use crate::process::Spec;

/// A built (or installed) row, importable from `dir`.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub dir: PathBuf,
    /// The file that proves the row was made (the built module), or `dir`
    /// itself for installed packages.
    pub module_path: PathBuf,
    pub log: String,
    pub duration: Duration,
    /// Taken from the cache rather than made by this run.
    pub reused: bool,
    /// A project's wheel, kept in the entry: its dependencies are resolved
    /// per column from it.
    pub wheel: Option<PathBuf>,
    /// The distribution installed (projects and package rows).
    pub package: Option<String>,
    /// What the build read (a C build's sources and headers).
    pub inputs: Read,
    /// A build that is not cached ([`Read::unkeyable`]) lives in its
    /// staging folder, kept while this is held (until the run ends).
    pub staging: Option<std::sync::Arc<cache::Staging>>,
    /// Made only because of `--ignore-requires`: the project's own build
    /// requirements forbid its NumPy, in these words. Such a build could
    /// not exist for a user; it gets no verdict on its declaration, and a
    /// run without `--ignore-requires` does not take it from the cache.
    pub forced: Option<String>,
}

/// What a build read, from the compiler's dependency files: a cached build
/// is reused only while each file still has the content it was built from
/// and no file has appeared where the compiler would now look first.
#[derive(Debug, Clone, Default)]
pub struct Read {
    /// Every file read besides the build's own folder.
    pub files: Vec<PathBuf>,
    /// Where a header the compiler would read instead could appear
    /// (`toolchain::Toolchain::absent`): nothing is there now.
    pub absent: Vec<PathBuf>,
    /// Why the build cannot be keyed by what it read (a dependency that is
    /// not a regular file, `#include "/dev/stdin"`; a dependency list that
    /// does not read back): it is not cached and is made again every run.
    pub unkeyable: Option<String>,
    /// The compiler as the build ran it (`Toolchain::fingerprint`): a
    /// cached build is reused only by the same compiler, looking in the
    /// same folders.
    pub toolchain: Option<String>,
}

const MARKER: &str = "abimatrix-build.json";

/// Written last into a cached build: its presence means "complete".
#[derive(serde::Serialize, serde::Deserialize)]
struct Marker {
    /// `module_path` relative to the entry ("" for the entry itself).
    module: String,
    log: String,
    #[serde(default)]
    wheel: Option<String>,
    #[serde(default)]
    package: Option<String>,
    /// What the entry must contain, with the hashes that prove it.
    manifest: Manifest,
    /// The files the build read, with their hashes when it read them.
    #[serde(default)]
    inputs: Vec<Input>,
    /// Why it exists only because of `--ignore-requires` (see
    /// [`Artifact::forced`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    forced: Option<String>,
    /// Where nothing was, and a file appearing would change the build.
    #[serde(default)]
    absent: Vec<PathBuf>,
    /// The compiler's fingerprint (C builds).
    #[serde(default)]
    toolchain: Option<String>,
}

/// A file a build read, and its content's hash then; with the stat that
/// proved it last (as the manifest keeps them), so an unchanged file is
/// not read again on every run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Input {
    path: PathBuf,
    sha256: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    ino: u64,
    #[serde(default)]
    ctime_ns: i128,
}

impl Input {
    /// `path` as it is now: its hash and stat; an error for anything but a
    /// regular file (its content cannot be proven later).
    fn of(path: &Path) -> std::io::Result<Input> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            return Err(std::io::Error::other(format!(
                "{} is {}",
                path.display(),
                crate::userfile::kind(meta.file_type())
            )));
        }
        Ok(Input {
            path: path.to_path_buf(),
            sha256: manifest::hash_file(path)?,
            size: meta.len(),
            ino: meta.ino(),
            ctime_ns: manifest::ctime_ns(&meta),
        })
    }

    /// Whether the file still holds what the build read: proven by its
    /// stat when size, inode and ctime are as last proven (ctime moves on
    /// every write and cannot be set back), else by its hash. `Ok(true)`:
    /// proven again by hash, the stat to record is in `self`.
    fn check(&mut self) -> Result<bool, StaleBuild> {
        use std::os::unix::fs::MetadataExt;
        let gone = |source| StaleBuild::InputGone {
            path: self.path.clone(),
            source,
        };
        let meta = std::fs::metadata(&self.path).map_err(gone)?;
        // Never read a FIFO or a device that took a source's place: it
        // could block for ever or never end.
        if !meta.is_file() {
            return Err(StaleBuild::InputReplaced {
                path: self.path.clone(),
                kind: crate::userfile::kind(meta.file_type()),
            });
        }
        let ctime = manifest::ctime_ns(&meta);
        if self.ctime_ns != 0
            && meta.len() == self.size
            && meta.ino() == self.ino
            && ctime == self.ctime_ns
        {
            return Ok(false);
        }
        match manifest::hash_file(&self.path) {
            Ok(h) if h == self.sha256 => {
                self.size = meta.len();
                self.ino = meta.ino();
                self.ctime_ns = ctime;
                Ok(true)
            }
            Ok(_) => Err(StaleBuild::InputChanged(self.path.clone())),
            Err(e) => Err(gone(e)),
        }
    }
}

/// The files of an entry that prove it: everything but the marker and the
/// work folder (`.abimatrix/`: a project's copy of its sources).
fn proving(rel: &str) -> bool {
    rel != MARKER && rel != ".abimatrix" && !rel.starts_with(".abimatrix/")
}

/// Whether the cached build in `dir` is whole and was built from what its
/// inputs hold now; the artifact it holds, or why not. `toolchain`: the
/// compiler's fingerprint now, for a C build whose compiler could be asked
/// (`None`: not compared; a shard testing uploaded builds may have no
/// compiler at all, and could not build anyway).
fn verify(dir: &Path, depth: Depth, toolchain: Option<&str>) -> Result<Artifact, StaleBuild> {
    let marker_path = dir.join(MARKER);
    let mut marker: Marker =
        cache::read_marker(&marker_path).ok_or_else(|| StaleBuild::NoMarker(dir.to_path_buf()))?;
    if let Some(now) = toolchain
        && marker.toolchain.as_deref() != Some(now)
    {
        return Err(StaleBuild::Compiler(dir.to_path_buf()));
    }
    // A header edited since the build (same size, same name, whatever its
    // mtime says) is a new build: its ctime moved, so it is hashed again.
    let mut reproven = false;
    for input in &mut marker.inputs {
        reproven |= input.check()?;
    }
    // A header created where the compiler looks first (an earlier include
    // folder) is what it would read now instead of the one it read.
    if let Some(appeared) = first_appeared(&marker.absent) {
        return Err(StaleBuild::Appeared(appeared.clone()));
    }
    reproven |= marker.manifest.check(dir, depth)?.reproven;
    if reproven {
        let _ = cache::write_marker_atomic(&marker_path, &marker);
    }
    Ok(Artifact {
        dir: dir.to_path_buf(),
        module_path: dir.join(&marker.module),
        log: marker.log,
        duration: Duration::ZERO,
        reused: true,
        wheel: marker.wheel.map(|w| dir.join(w)),
        package: marker.package,
        inputs: Read {
            files: marker.inputs.into_iter().map(|i| i.path).collect(),
            absent: marker.absent,
            unkeyable: None,
            toolchain: marker.toolchain,
        },
        forced: marker.forced,
        staging: None,
    })
}

/// The first of `places` where something exists now. Most places are
/// headers under folders that do not exist at all (a C build against the
/// system headers lists about 1,200 places under some 60 folders, 56 of
/// them missing): a folder found missing answers for every place under
/// it, one stat instead of one per header, on every reuse of every build.
fn first_appeared(places: &[PathBuf]) -> Option<&PathBuf> {
    let mut missing: std::collections::HashSet<&Path> = std::collections::HashSet::new();
    places.iter().find(|place| {
        if let Some(folder) = place.parent() {
            if missing.contains(folder) {
                return false;
            }
            // Only "not found" proves the place absent; any other error
            // (a folder we may not read) leaves it to the place's own stat.
            if std::fs::symlink_metadata(folder)
                .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
            {
                missing.insert(folder);
                return false;
            }
        }
        std::fs::symlink_metadata(place).is_ok()
    })
}

/// The build in `dir`, if it is whole, its inputs are unchanged and (for a
/// C build, `toolchain`) its compiler is the one now (the quick check every
/// reuse makes): what a run takes instead of building.
pub fn reuse(dir: &Path, toolchain: Option<&str>) -> Option<Artifact> {
    verify(dir, Depth::Quick, toolchain).ok()
}

/// The NumPy requirement `package` declares, from the METADATA of its
/// `.dist-info` in `dir` (an installed row or project build): the
/// `Requires-Dist: numpy...` lines without an extra's marker, joined
/// ("numpy>=1.22.4,<2.3"). What the grid then checks against what it
/// measured.
pub fn declared_numpy(dir: &Path, package: &str, python: &pep440_rs::Version) -> Option<String> {
    let wanted = crate::build::project::requirement_name(package);
    let info = std::fs::read_dir(dir).ok()?.flatten().find(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.ends_with(".dist-info")
            && crate::build::project::requirement_name(name.split('-').next().unwrap_or(""))
                == wanted
    })?;
    let metadata = std::fs::read_to_string(info.path().join("METADATA")).ok()?;
    declared_in(&metadata, python)
}

/// The NumPy requirement in a METADATA text (see [`declared_numpy`]).
pub fn declared_in(metadata: &str, python: &pep440_rs::Version) -> Option<String> {
    let mut specs: Vec<String> = Vec::new();
    // Headers end at the first blank line; the description follows.
    // (A continuation line of a long field, the license text, may be all
    // spaces: only an empty line ends them.)
    for line in metadata.lines().take_while(|l| !l.is_empty()) {
        let Some(req) = line.strip_prefix("Requires-Dist:") else {
            continue;
        };
        let (req, marker) = match req.split_once(';') {
            Some((r, m)) => (r.trim(), m.trim()),
            None => (req.trim(), ""),
        };
        if marker.contains("extra") || !python_marker_holds(marker, python) {
            continue;
        }
        let name_end = req
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
            .unwrap_or(req.len());
        if !req[..name_end].eq_ignore_ascii_case("numpy") {
            continue;
        }
        let spec = req[name_end..]
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .trim();
        if !spec.is_empty() {
            specs.push(spec.to_string());
        } else if specs.is_empty() {
            specs.push(String::new());
        }
    }
    if specs.is_empty() {
        return None;
    }
    let joined: Vec<&str> = specs
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    Some(format!("numpy{}", joined.join(",")))
}

/// Whether a marker's `python_version`/`python_full_version` clauses hold
/// for `python` (pandas declares a different NumPy floor per Python); any
/// other clause is taken to hold. Only `and`-joined clauses are read; a
/// marker with `or` is taken to hold.
pub(crate) fn python_marker_holds(marker: &str, python: &pep440_rs::Version) -> bool {
    use std::str::FromStr;
    if marker.is_empty() || marker.contains(" or ") {
        return true;
    }
    let release = python.release();
    let minor = pep440_rs::Version::new(release.iter().take(2).copied());
    marker.split(" and ").all(|clause| {
        let clause = clause.trim().trim_matches(|c| c == '(' || c == ')');
        let (subject, against) = if let Some(rest) = clause.strip_prefix("python_full_version") {
            (rest, python)
        } else if let Some(rest) = clause.strip_prefix("python_version") {
            (rest, &minor)
        } else {
            return true;
        };
        let spec = subject.trim().replace(['"', '\''], "");
        let spec = spec.replace(' ', "");
        pep440_rs::VersionSpecifiers::from_str(&spec).map_or(true, |s| s.contains(against))
    })
}

/// Checks a cached build to the last byte (`matrix cache verify`, and a
/// cell whose failure could come from a damaged entry).
pub fn verify_deep(dir: &Path) -> Result<(), StaleBuild> {
    verify(dir, Depth::Deep, None).map(drop)
}

/// Where the cached build with `key` lives.
pub fn cached_dir(root: &Path, key: &str) -> PathBuf {
    Bucket::Builds.dir(root).join(key)
}

/// The artifact `make` produces, at `place`: reused from the cache when a
/// complete entry is there, made (in staging, then renamed into place)
/// otherwise. Failures are not cached: they are quick to repeat and the user
/// is about to fix them. The log is kept with the entry with every path of
/// the staging directory replaced by the entry's own, so its commands can be
/// re-run by hand as printed.
pub async fn ensure(
    place: Place<'_>,
    toolchain: Option<&str>,
    make: impl AsyncFnOnce(&Path) -> Result<Artifact, BuildError>,
) -> Result<Artifact, BuildError> {
    let target = match place {
        Place::Cached(target) => Some(target),
        Place::Temporary(_) => None,
    };
    let made = async |dir: &Path| -> Result<Artifact, BuildError> {
        let built = make(dir).await.map_err(|mut e| {
            if let Some(t) = target {
                e.log = moved(&e.log, dir, t);
            }
            e
        })?;
        let Some(target) = target else {
            return Ok(built);
        };
        // What the build read and what it holds are hashed: off the runtime.
        let (dir, target) = (dir.to_path_buf(), target.to_path_buf());
        crate::blocking::run(move || record(built, &dir, &target)).await
    };
    let mut duration = Duration::ZERO;
    let toolchain = toolchain.map(str::to_string);
    let ensured = cache::ensure(
        place,
        move |dir| verify(dir, Depth::Quick, toolchain.as_deref()).ok(),
        async |dir: &Path| {
            let a = made(dir).await?;
            duration = a.duration;
            Ok(a)
        },
        |a| a.inputs.unkeyable.is_none(),
        |what, e| {
            BuildError::from(BuildFailure::io(
                format!("cannot use the build cache ({what})"),
                e,
            ))
        },
    )
    .await?;
    let mut artifact = ensured.value;
    artifact.reused = ensured.reused;
    if !ensured.reused {
        artifact.duration = duration;
    }
    artifact.staging = ensured.staging.map(std::sync::Arc::new);
    Ok(artifact)
}

/// Writes the marker of a build made in `dir` (to be published as
/// `target`): what it read, proven now, and what it holds. A file it read
/// that cannot be proven later (a FIFO, a device, gone already) makes the
/// build one that is not cached rather than a failure.
fn record(mut built: Artifact, dir: &Path, target: &Path) -> Result<Artifact, BuildError> {
    let inputs = match &built.inputs.unkeyable {
        Some(_) => None,
        None => match built.inputs.files.iter().map(|p| Input::of(p)).collect() {
            Ok(inputs) => Some(inputs),
            Err(e) => {
                built.inputs.unkeyable = Some(format!("what it read cannot be proven: {e}"));
                None
            }
        },
    };
    let Some(inputs) = inputs else {
        let why = built.inputs.unkeyable.as_deref().unwrap_or_default();
        let _ = writeln!(
            built.log,
            "# not cached: {why}; it is made again on every run"
        );
        return Ok(built);
    };
    built.log = moved(&built.log, dir, target);
    let relative = |p: &Path| {
        p.strip_prefix(dir)
            .map(|p| p.to_string_lossy().into_owned())
            .ok()
    };
    let marker = Marker {
        module: relative(&built.module_path).unwrap_or_default(),
        log: built.log.clone(),
        wheel: built.wheel.as_deref().and_then(relative),
        package: built.package.clone(),
        manifest: Manifest::of_tree(dir, |rel| !proving(rel)).map_err(|e| {
            BuildError::new(
                BuildFailure::io("cannot record what the build holds", e),
                &built.log,
            )
        })?,
        inputs,
        absent: built.inputs.absent.clone(),
        toolchain: built.inputs.toolchain.clone(),
        forced: built.forced.clone(),
    };
    cache::write_marker(&dir.join(MARKER), &marker).map_err(|e| {
        BuildError::new(
            BuildFailure::io("cannot write the build's marker", e),
            &built.log,
        )
    })?;
    Ok(built)
}

/// `log` with the staging directory's paths replaced by the entry's.
fn moved(log: &str, staging: &Path, target: &Path) -> String {
    log.replace(&*staging.to_string_lossy(), &target.to_string_lossy())
}

/// Runs one command of a build, appending it and its output to `log`; a
/// non-zero exit is a `BuildError` whose summary is the output's most
/// telling line (`telling` picks it), prefixed with `what`.
pub(crate) async fn step(
    spec: Spec,
    log: &mut String,
    what: Option<&str>,
    telling: fn(&str) -> bool,
) -> Result<String, BuildError> {
    let _ = writeln!(log, "$ {}", spec.display());
    let what = what.map(str::to_string);
    let finished = match spec.run().await {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(log, "{e}");
            let error = std::sync::Arc::new(e);
            return Err(BuildError::new(BuildFailure::Spawn { what, error }, log));
        }
    };
    let output = finished.output();
    if !output.is_empty() {
        let _ = writeln!(log, "{output}");
    }
    // Processes the step started that left its process group (a build
    // server a backend leaves behind) end with it, named.
    let left: Vec<String> = finished.escaped.iter().map(|s| s.to_string()).collect();
    for stray in &left {
        let _ = writeln!(
            log,
            "# left running: {stray} (outside the step's process group; killed)"
        );
    }
    if finished.success() {
        return Ok(finished.stdout.text);
    }
    if let crate::process::Exit::TimedOut(limit) = finished.exit {
        // The log says it without the step's name: its command is above.
        let said = BuildFailure::TimedOut {
            what: None,
            limit,
            left: left.clone(),
        };
        let _ = writeln!(log, "{said}");
        let failure = BuildFailure::TimedOut { what, limit, left };
        return Err(BuildError::new(failure, log));
    }
    let line = output
        .lines()
        .find(|l| telling(l))
        .or_else(|| output.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("no output")
        .trim()
        .to_string();
    Err(BuildError::new(BuildFailure::Step { what, line }, log))
}

#[cfg(test)]
mod declared_tests {
    use super::*;

    #[test]
    fn the_declared_numpy_requirement_for_this_python() {
        let pandas = "Metadata-Version: 2.1\nName: pandas\nRequires-Dist: numpy>=1.20.3; python_version < \"3.10\"\nRequires-Dist: numpy>=1.21.0; python_version >= \"3.10\"\nRequires-Dist: numpy>=1.23.2; python_version >= \"3.11\"\nRequires-Dist: pytz>=2020.1\nRequires-Dist: numpy>=1.99; extra == \"test\"\n\nRequires-Dist: numpy<0 in the description\n";
        let v = |s: &str| s.parse::<pep440_rs::Version>().unwrap();
        assert_eq!(
            declared_in(pandas, &v("3.11.7")).as_deref(),
            Some("numpy>=1.21.0,>=1.23.2")
        );
        assert_eq!(
            declared_in(pandas, &v("3.9.18")).as_deref(),
            Some("numpy>=1.20.3")
        );
        let scipy = "Name: scipy\nLicense: Copyright (c) 2001\n        \n        All rights reserved.\nRequires-Dist: numpy (<2.3,>=1.22.4)\n";
        assert_eq!(
            declared_in(scipy, &v("3.11.7")).as_deref(),
            Some("numpy<2.3,>=1.22.4")
        );
        assert_eq!(
            declared_in("Name: x\nRequires-Dist: numpy\n", &v("3.11.7")).as_deref(),
            Some("numpy")
        );
        assert_eq!(
            declared_in("Name: x\nRequires-Dist: numpydoc\n", &v("3.11.7")),
            None
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_appears_whether_its_folder_was_there_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let here = dir.path().join("inc");
        std::fs::create_dir(&here).unwrap();
        let places = vec![
            dir.path().join("gone/a.h"),
            dir.path().join("gone/b.h"),
            here.join("a.h"),
            dir.path().join("later/c.h"),
        ];
        assert_eq!(first_appeared(&places), None);
        std::fs::write(here.join("a.h"), "").unwrap();
        assert_eq!(first_appeared(&places), Some(&places[2]));
        std::fs::remove_file(here.join("a.h")).unwrap();
        // A folder that did not exist, made with the header in it.
        std::fs::create_dir(dir.path().join("later")).unwrap();
        std::fs::write(dir.path().join("later/c.h"), "").unwrap();
        assert_eq!(first_appeared(&places), Some(&places[3]));
        // A dangling link counts: the compiler would try to open it.
        std::os::unix::fs::symlink("/nonexistent", dir.path().join("gone")).unwrap();
        assert_eq!(first_appeared(&places[..2]), None);
        std::fs::remove_file(dir.path().join("gone")).unwrap();
        std::fs::create_dir(dir.path().join("gone")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", dir.path().join("gone/b.h")).unwrap();
        assert_eq!(first_appeared(&places[..2]), Some(&places[1]));
    }
}
