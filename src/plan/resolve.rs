//! From NumPy requests to the versions a grid really uses, per interpreter.
//!
//! The indexes' files for NumPy are fetched once (and remembered for a
//! day); every request is then resolved here, for each interpreter, from
//! its own wheel tags: a release counts for an interpreter when one of its
//! wheels installs there. Exact versions name one release (yanked ones
//! too, marked); series and `oldest`/`latest` take the newest/oldest fitting
//! release; ranges and `all` take the newest release of each minor series,
//! or every release with `patches = "all"`, leaving out yanked releases (PEP
//! 592) and pre-releases unless asked for; `next` is the newest pre-release
//! newer than every release; a local wheel file is its own release.
//! Everything is known before any environment is made, so the resolved
//! table can be shown first and a version without a wheel is `unavailable`
//! from the start.
//!
//! A warm run asks the index nothing (the memo); an exact version whose
//! environment is in the cache is not even looked up; `--offline` uses only
//! what is remembered.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::join_all;
use pep440_rs::{Version, VersionSpecifiers};
use tokio::sync::OnceCell;

use super::AxisEntry;
use super::axis::Origin;
use crate::cache::memo::{Lasts, Memo, Network};
use crate::config::{NumpyRequest, Patches, Resolution};
use crate::extension::{PackageRow, RowSource};
use crate::outcome::Unavailability;
use crate::python::index::{self, Release};
use crate::python::{InstallError, Installer, Interpreter};

/// A package's releases as the index lists them, fetched by the first row
/// that asks.
type ReleaseList = Arc<OnceCell<Arc<Vec<Release>>>>;

/// Resolves requests for any number of interpreters, fetching the indexes'
/// NumPy files at most once per run.
pub struct Resolver<'a> {
    installer: &'a Installer,
    memo: &'a Memo,
    /// Where cached environments are (an exact version found there needs
    /// no index); `None` with `--fresh`.
    cache: Option<&'a std::path::Path>,
    resolution: Resolution,
    releases: OnceCell<Result<Vec<Release>, InstallError>>,
    /// Package rows' release lists, each read once however many rows (and
    /// interpreters) name its project; empty when it cannot be read.
    row_releases: std::sync::Mutex<HashMap<String, ReleaseList>>,
}

/// One interpreter's axis, and what was asked for but has no wheel for it.
#[derive(Debug, Clone, Default)]
pub struct ResolvedAxis {
    pub entries: Vec<AxisEntry>,
    /// "1.25.* (from >=1.25,<2.1)": series in a range with no wheel here.
    pub skipped: Vec<String>,
}

impl<'a> Resolver<'a> {
    pub fn new(
        installer: &'a Installer,
        memo: &'a Memo,
        cache: Option<&'a std::path::Path>,
        resolution: Resolution,
    ) -> Resolver<'a> {
        Resolver {
            installer,
            memo,
            cache,
            resolution,
            releases: OnceCell::new(),
            row_releases: Default::default(),
        }
    }

    /// Every NumPy release on the indexes, oldest first (remembered for a
    /// day; `--refresh` asks again).
    async fn releases(&self, interpreter: &Interpreter) -> Result<&[Release], InstallError> {
        self.releases
            .get_or_init(|| {
                index::releases_remembered(interpreter, "numpy", &self.installer.indexes, self.memo)
            })
            .await
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }

    /// The release list as far as the memo knows it, without asking the
    /// index (read from the memo once, then kept like a fetched one).
    fn remembered(&self) -> Option<&[Release]> {
        if self.releases.get().is_none()
            && let Some(list) = self
                .memo
                .get::<Vec<Release>>(&index::releases_key("numpy", &self.installer.indexes))
        {
            let _ = self.releases.set(Ok(list));
        }
        self.releases.get()?.as_ref().ok().map(Vec::as_slice)
    }

    /// The axis for `requests` under `interpreter`, in request order, with
    /// duplicates (a series and an exact version naming one release) merged.
    /// Only an unreachable index (or an installer that cannot run) is an
    /// error; a request without a wheel is a missing entry.
    pub async fn axis<'r>(
        &self,
        interpreter: &Interpreter,
        requests: impl IntoIterator<Item = &'r NumpyRequest>,
    ) -> Result<ResolvedAxis, InstallError> {
        let parts = join_all(requests.into_iter().map(|r| self.request(interpreter, r))).await;
        let mut axis = ResolvedAxis::default();
        for part in parts {
            let part = part?;
            for entry in part.entries {
                if !axis.entries.iter().any(|e| e.label() == entry.label()) {
                    axis.entries.push(entry);
                }
            }
            axis.skipped.extend(part.skipped);
        }
        Ok(axis)
    }

    /// A package row, named by its version: the one its wheel or exact pin
    /// says, else the one the resolver picks for this interpreter
    /// (remembered for a day), so the grid says "pandas 2.2.3", not
    /// "pandas>=2".
    pub async fn row(
        &self,
        interpreter: &Interpreter,
        source: &RowSource,
    ) -> Result<PackageRow, InstallError> {
        let mut row = PackageRow::new(source.clone());
        let RowSource::Requirement(r) = source else {
            row.python_gap = tag_gap(&row, interpreter);
            return Ok(row);
        };
        match row.version.as_deref().map(str::parse::<Version>) {
            // Only an exact pin can take a yanked release (PEP 592: a
            // resolver passes over them otherwise), so only a pin is looked
            // up.
            Some(Ok(pinned)) => {
                if let Some(release) = self.release(interpreter, &row.name, &pinned).await {
                    row.yanked = release.yanked.clone();
                    row.python_gap = python_gap(&release, interpreter, &row);
                }
            }
            Some(Err(_)) => {}
            None => {
                row.version = self.row_version(interpreter, r, &row.name).await?;
                // The resolver picked none: when that is because every
                // release the requirement admits is for other Pythons, the
                // row is Python's gap, as a pin's would be.
                if row.version.is_none() {
                    if let Some(admits) = specifiers(r) {
                        let releases = self.releases_of(interpreter, &row.name).await;
                        row.python_gap = range_gap(&releases, &admits, interpreter, &row);
                    }
                }
            }
        }
        Ok(row)
    }

    /// The release of `requirement` the resolver picks for `interpreter`
    /// (remembered for a day); `None` when it picks none: the row's own
    /// install then fails with the resolver's words.
    async fn row_version(
        &self,
        interpreter: &Interpreter,
        requirement: &str,
        name: &str,
    ) -> Result<Option<String>, InstallError> {
        let key = format!(
            "row|{}|{}|{requirement}",
            self.installer.indexes.identity(),
            interpreter.cache_key()
        );
        if let Some(v) = self.memo.get::<String>(&key) {
            return Ok(Some(v));
        }
        if self.memo.network() == Network::Offline {
            return Err(InstallError::Offline {
                what: format!(
                    "which release of {requirement} is for {}",
                    interpreter.label()
                ),
            });
        }
        match self
            .installer
            .resolve_package(interpreter, requirement, name)
            .await
        {
            Ok(v) => {
                self.memo.put(&key, &v.to_string(), Lasts::Day);
                Ok(Some(v.to_string()))
            }
            Err(e) if is_fatal(&e) => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// Release `version` of `project` as the index lists it (whether it
    /// is yanked and why, its wheels): read from the project's release list
    /// (remembered for a day). Not knowing (offline and never asked, an
    /// index that cannot be read) marks nothing: the row still runs.
    async fn release(
        &self,
        interpreter: &Interpreter,
        project: &str,
        version: &Version,
    ) -> Option<Release> {
        self.releases_of(interpreter, project)
            .await
            .iter()
            .find(|r| r.version == *version)
            .cloned()
    }

    /// Every release of `project` the index lists, fetched once per run
    /// (and remembered for a day); empty when it cannot be known.
    async fn releases_of(&self, interpreter: &Interpreter, project: &str) -> Arc<Vec<Release>> {
        // The lock only finds the project's cell: it is let go before the
        // fetch is awaited.
        let Some(list) = self
            .row_releases
            .lock()
            .ok()
            .map(|mut lists| lists.entry(project.to_string()).or_default().clone())
        else {
            return Arc::default();
        };
        list.get_or_init(|| async {
            Arc::new(
                index::releases_remembered(
                    interpreter,
                    project,
                    &self.installer.indexes,
                    self.memo,
                )
                .await
                .unwrap_or_default(),
            )
        })
        .await
        .clone()
    }

    /// Whether any release matching `request` exists on the index at all,
    /// for any interpreter.
    pub async fn exists_on_index(
        &self,
        interpreter: &Interpreter,
        request: &NumpyRequest,
    ) -> Result<bool, InstallError> {
        // Said plainly on the axis when there is none: not a mistake, and
        // no reason to ask the index (a run of local wheels needs none).
        if matches!(request, NumpyRequest::Next | NumpyRequest::Wheel(_)) {
            return Ok(true);
        }
        let releases = self.releases(interpreter).await?;
        Ok(match request {
            NumpyRequest::Next | NumpyRequest::Wheel(_) => true,
            NumpyRequest::Oldest | NumpyRequest::Latest | NumpyRequest::All => !releases.is_empty(),
            other => releases.iter().any(|r| other.matches(&r.version)),
        })
    }

    async fn request(
        &self,
        interpreter: &Interpreter,
        request: &NumpyRequest,
    ) -> Result<ResolvedAxis, InstallError> {
        if let NumpyRequest::Wheel(pattern) = request {
            return Ok(ResolvedAxis {
                entries: vec![local_wheel(request, pattern, interpreter)],
                skipped: Vec::new(),
            });
        }
        if let NumpyRequest::Exact(v) = request {
            // Its environment in the cache is proof enough that it has a
            // wheel for this interpreter: no index needed (what the memo
            // knows of it still marks it yanked).
            let cached = self.cache.map(|root| {
                crate::environment::cached_dir(root, interpreter, v)
                    .join(crate::environment::MARKER)
            });
            if cached.is_some_and(|m| m.is_file()) {
                let origin = self
                    .remembered()
                    .and_then(|list| list.iter().find(|r| r.version == *v))
                    .map(origin_of)
                    .unwrap_or_default();
                return Ok(one(AxisEntry::Numpy {
                    request: request.clone(),
                    version: v.clone(),
                    origin,
                }));
            }
        }
        let releases = self.releases(interpreter).await?;
        Ok(resolve(request, releases, interpreter, &self.resolution))
    }
}

fn one(entry: AxisEntry) -> ResolvedAxis {
    ResolvedAxis {
        entries: vec![entry],
        skipped: Vec::new(),
    }
}

fn origin_of(r: &Release) -> Origin {
    Origin {
        index: Some(r.index.clone()),
        yanked: r.yanked.clone(),
        wheel: None,
    }
}

/// Why a wheel file cannot load under `interpreter`, by its tag and
/// Python's rules (`cp39-abi3` under 3.8, `cp312-cp312` under 3.11).
fn tag_gap(row: &PackageRow, interpreter: &Interpreter) -> Option<String> {
    let python = crate::rules::RuntimePython::of(interpreter);
    let tag = row.wheel_tag()?;
    let gap = crate::rules::python_gap(crate::rules::BuildAbi::of_wheel_tag(&tag)?, &python)?;
    Some(format!("the {tag} wheel is {}", gap.message(&python)))
}

/// Why no wheel of `release` loads under `interpreter`, when that is
/// Python's doing: the release has wheels for this platform, and every one
/// is for other Pythons (`cp39-abi3` under 3.8, `cp312-cp312` under 3.11).
/// A release with no wheel for this platform at all is not Python's
/// doing: its install says what it says.
pub(crate) fn python_gap(
    release: &Release,
    interpreter: &Interpreter,
    row: &PackageRow,
) -> Option<String> {
    Some(format!(
        "no wheel of {row} loads under {}: its wheels for this platform are {}",
        interpreter.label(),
        other_pythons(release, interpreter)?.join(", ")
    ))
}

/// What `release`'s wheels for this platform are for (`cp39-abi3`, each
/// once), when it has such wheels and none fits `interpreter`.
fn other_pythons(release: &Release, interpreter: &Interpreter) -> Option<Vec<String>> {
    let tags: HashSet<&str> = interpreter.tags.iter().map(String::as_str).collect();
    if release.wheels.is_empty() || release.fits(&tags) {
        return None;
    }
    let platforms: HashSet<&str> = interpreter
        .tags
        .iter()
        .filter_map(|t| t.rsplit('-').next())
        .collect();
    // The implementations it loads ("cp", "py"): a PyPy wheel says
    // nothing to CPython.
    let kind = |python: &str| -> String {
        python
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect()
    };
    let kinds: HashSet<String> = interpreter
        .tags
        .iter()
        .filter_map(|t| t.split('-').next())
        .map(kind)
        .collect();
    let mut made_for: Vec<String> = release
        .wheels
        .iter()
        .filter_map(|w| index::wheel(w))
        .flat_map(|(_, tags)| tags)
        .filter_map(|t| {
            let (python_abi, platform) = t.rsplit_once('-')?;
            let python = python_abi.split('-').next()?;
            (platforms.contains(platform) && kinds.contains(&kind(python)))
                .then(|| python_abi.to_string())
        })
        .collect();
    made_for.sort();
    made_for.dedup();
    (!made_for.is_empty()).then_some(made_for)
}

/// The version specifiers of a requirement (`pyerfa>=2.0.1.5,<3`, extras and
/// markers aside); `None` when it has none or they do not parse (a URL).
fn specifiers(requirement: &str) -> Option<VersionSpecifiers> {
    let (_, rest) = crate::extension::split_requirement(requirement);
    let written = rest.split(';').next()?.trim();
    let written = written
        .strip_prefix('(')
        .map_or(written, |w| w.trim_end_matches(')'));
    if written.is_empty() {
        return None;
    }
    written.parse().ok()
}

/// Why no release a requirement admits loads under `interpreter`, when
/// that is Python's doing: it admits at least one release (yanked ones
/// aside, as a resolver passes over them), and every one it admits has
/// wheels for this platform, all for other Pythons (as [`python_gap`]
/// says of a pin). One admitted release that fits, or has no wheel for this
/// platform, and the installer's own words stand.
pub(crate) fn range_gap(
    releases: &[Release],
    admits: &VersionSpecifiers,
    interpreter: &Interpreter,
    row: &PackageRow,
) -> Option<String> {
    let mut admitted: Vec<&Release> = releases
        .iter()
        .filter(|r| r.yanked.is_none() && admits.contains(&r.version))
        .collect();
    admitted.sort_by(|a, b| b.version.cmp(&a.version));
    let each: Vec<Vec<String>> = admitted
        .iter()
        .map(|r| other_pythons(r, interpreter))
        .collect::<Option<_>>()?;
    Some(format!(
        "no release {row} admits loads under {}: each of the {} has wheels for this platform only for other Pythons (the newest, {}: {})",
        interpreter.label(),
        each.len(),
        admitted.first()?.version,
        each.first()?.join(", ")
    ))
}

/// `request` for `interpreter` among `releases`: pure, so every rule is
/// tested without an index.
pub(crate) fn resolve(
    request: &NumpyRequest,
    releases: &[Release],
    interpreter: &Interpreter,
    resolution: &Resolution,
) -> ResolvedAxis {
    let tags: HashSet<&str> = interpreter.tags.iter().map(String::as_str).collect();
    // An interpreter that could not say its tags (not CPython, no pip):
    // every release is offered, and one without a fitting wheel fails to
    // install with the installer's words.
    let fits = |r: &Release| tags.is_empty() || r.fits(&tags);
    let entry = |r: &Release| AxisEntry::Numpy {
        request: request.clone(),
        version: r.version.clone(),
        origin: origin_of(r),
    };
    let missing = |why: String| {
        one(AxisEntry::Missing {
            request: request.clone(),
            why,
            kind: Unavailability::NoWheel,
        })
    };
    let label = interpreter.label();
    // A request whose only fitting releases are yanked says so: "no wheel"
    // would send the user looking for a wheel that is there.
    let yanked_only = |pre: bool| {
        let yanked: Vec<&Release> = releases
            .iter()
            .filter(|r| r.yanked.is_some() && fits(r) && request.matches(&r.version))
            .filter(|r| pre || !r.version.any_prerelease())
            .collect();
        let newest = yanked.last()?;
        Some(one(AxisEntry::Missing {
            request: request.clone(),
            why: format!(
                "every release of {} with a wheel for {label} is yanked on the index (newest: {}); pin one exactly (\"{}\") to test it",
                request.requirement(),
                newest.version,
                newest.version
            ),
            kind: Unavailability::Yanked,
        }))
    };
    let usable = |r: &&Release, pre: bool| {
        r.yanked.is_none() && fits(r) && (pre || !r.version.any_prerelease())
    };
    match request {
        NumpyRequest::Exact(v) => match releases.iter().find(|r| r.version == *v) {
            Some(r) if fits(r) => one(entry(r)),
            Some(_) => missing(format!("no wheel of numpy=={v} for {label}")),
            None => missing(format!("no NumPy release {v} on the index")),
        },
        NumpyRequest::Series(_) | NumpyRequest::Latest | NumpyRequest::Oldest => {
            let mut pool = releases
                .iter()
                .filter(|r| usable(r, false) && request.matches(&r.version));
            let picked = if *request == NumpyRequest::Oldest {
                pool.next()
            } else {
                pool.next_back()
            };
            match picked {
                Some(r) => one(entry(r)),
                None => yanked_only(false).unwrap_or_else(|| {
                    missing(format!("no wheel of {} for {label}", request.requirement()))
                }),
            }
        }
        NumpyRequest::Range(specs) => {
            // PEP 440: a range that names a pre-release admits pre-releases.
            let pre = resolution.prereleases || specs.iter().any(|s| s.version().any_prerelease());
            let axis = expand(
                request,
                releases,
                resolution.patches,
                pre,
                &usable,
                &entry,
                &label,
            );
            match &axis.entries[..] {
                [AxisEntry::Missing { .. }] => yanked_only(pre).unwrap_or(axis),
                _ => axis,
            }
        }
        NumpyRequest::All => expand(
            request,
            releases,
            Patches::All,
            resolution.prereleases,
            &usable,
            &entry,
            &label,
        ),
        NumpyRequest::Next => next(request, releases, &fits, &label),
        NumpyRequest::Wheel(pattern) => one(local_wheel(request, pattern, interpreter)),
    }
}

/// `"next"`: the newest pre-release newer than every release, or why
/// there is none for this interpreter (`label`).
fn next(
    request: &NumpyRequest,
    releases: &[Release],
    fits: &dyn Fn(&Release) -> bool,
    label: &str,
) -> ResolvedAxis {
    let missing = |why: String, kind| {
        one(AxisEntry::Missing {
            request: request.clone(),
            why,
            kind,
        })
    };
    let newest = releases
        .iter()
        .filter(|r| r.yanked.is_none() && !r.version.any_prerelease())
        .map(|r| &r.version)
        .max();
    let next = releases
        .iter()
        .filter(|r| r.version.any_prerelease() && r.yanked.is_none())
        .filter(|r| newest.is_none_or(|n| r.version > *n))
        .collect::<Vec<_>>();
    match (next.iter().rev().find(|r| fits(r)), newest) {
        (Some(r), _) => one(AxisEntry::Numpy {
            request: request.clone(),
            version: r.version.clone(),
            origin: origin_of(r),
        }),
        (None, Some(n)) if next.is_empty() => missing(
            format!("no NumPy pre-release is newer than {n}, the newest release"),
            Unavailability::NextIsNothing,
        ),
        (None, _) if !next.is_empty() => missing(
            format!(
                "NumPy {} is in testing, with no wheel for {label}",
                next.last()
                    .map(|r| r.version.to_string())
                    .unwrap_or_default()
            ),
            Unavailability::NoWheel,
        ),
        (None, _) => missing(
            "no NumPy release on the index".to_string(),
            Unavailability::NoWheel,
        ),
    }
}

/// A range (or `all`) as releases: the newest of each minor series in it,
/// or every one; series in it with no release for this interpreter are
/// listed as skipped.
fn expand(
    request: &NumpyRequest,
    releases: &[Release],
    patches: Patches,
    pre: bool,
    usable: &dyn Fn(&&Release, bool) -> bool,
    entry: &dyn Fn(&Release) -> AxisEntry,
    label: &str,
) -> ResolvedAxis {
    let in_range: Vec<&Release> = releases
        .iter()
        .filter(|r| request.matches(&r.version) && (pre || !r.version.any_prerelease()))
        .filter(|r| r.yanked.is_none())
        .collect();
    let series = crate::rules::series;
    let mut by_series: BTreeMap<(u64, u64), Vec<&Release>> = BTreeMap::new();
    for r in &in_range {
        by_series.entry(series(&r.version)).or_default().push(r);
    }
    let mut axis = ResolvedAxis::default();
    for ((major, minor), list) in &by_series {
        let fitting: Vec<&&Release> = list.iter().filter(|r| usable(r, pre)).collect();
        if fitting.is_empty() {
            axis.skipped
                .push(format!("{major}.{minor}.* (from {request})"));
            continue;
        }
        match patches {
            Patches::Newest => axis.entries.extend(fitting.last().map(|r| entry(r))),
            Patches::All => axis.entries.extend(fitting.iter().map(|r| entry(r))),
        }
    }
    if axis.entries.is_empty() {
        let why = if in_range.is_empty() {
            format!("no NumPy release on the index matches {request}")
        } else {
            format!("no release in {request} has a wheel for {label}")
        };
        axis.entries.push(AxisEntry::Missing {
            request: request.clone(),
            why,
            kind: Unavailability::NoWheel,
        });
    }
    axis
}

/// The local wheel matching `pattern` that fits `interpreter` (the newest,
/// if several do).
fn local_wheel(
    request: &NumpyRequest,
    pattern: &std::path::Path,
    interpreter: &Interpreter,
) -> AxisEntry {
    let tags: HashSet<&str> = interpreter.tags.iter().map(String::as_str).collect();
    let mut found: Vec<(Version, PathBuf)> = glob::glob(&pattern.to_string_lossy())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|p| {
            let (v, t) = index::local_wheel(&p)?;
            (tags.is_empty() || t.iter().any(|t| tags.contains(t.as_str()))).then_some((v, p))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((version, path)) => AxisEntry::Numpy {
            request: request.clone(),
            version,
            origin: Origin {
                index: None,
                yanked: None,
                wheel: Some(path),
            },
        },
        None => AxisEntry::Missing {
            request: request.clone(),
            why: format!(
                "no wheel matching {} installs on {}",
                pattern.display(),
                interpreter.label()
            ),
            kind: Unavailability::NoWheel,
        },
    }
}

/// Errors that stop the run rather than leave one request without a wheel.
fn is_fatal(e: &InstallError) -> bool {
    matches!(
        e,
        InstallError::Network { .. } | InstallError::Spawn { .. } | InstallError::Offline { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// Releases with a cp311 wheel unless `cp312_only`.
    fn release(v: &str, yanked: Option<&str>, cp312_only: bool) -> Release {
        let py = if cp312_only { "cp312" } else { "cp311" };
        Release {
            version: Version::from_str(v).unwrap(),
            index: "https://pypi.org/simple".into(),
            yanked: yanked.map(str::to_string),
            wheels: vec![format!("numpy-{v}-{py}-{py}-manylinux_2_17_x86_64.whl")],
        }
    }

    fn index() -> Vec<Release> {
        vec![
            release("1.26.3", None, false),
            release("1.26.4", None, false),
            release("2.0.2", None, false),
            release("2.4.0rc1", None, false),
            release("2.4.0", Some("Backward compatibility bug"), false),
            release("2.4.1", None, false),
            release("2.5.0", None, true),
        ]
    }

    fn labels(
        request: &str,
        resolution: &Resolution,
        releases: &[Release],
    ) -> (Vec<String>, Vec<String>) {
        let r = NumpyRequest::from_str(request).unwrap();
        let axis = resolve(
            &r,
            releases,
            &crate::report::fixtures::interpreter("3.11.7"),
            resolution,
        );
        (
            axis.entries
                .iter()
                .map(|e| match e {
                    AxisEntry::Missing { why, .. } => format!("missing: {why}"),
                    other => other.label(),
                })
                .collect(),
            axis.skipped,
        )
    }

    #[test]
    fn ranges_take_each_series_newest_or_every_release_without_yanked_or_pre() {
        let newest = Resolution::default();
        let all = Resolution {
            patches: Patches::All,
            prereleases: false,
        };
        let (got, skipped) = labels(">=1.26", &newest, &index());
        assert_eq!(got, ["1.26.4", "2.0.2", "2.4.1"]);
        assert_eq!(skipped, ["2.5.* (from >=1.26)"], "2.5 has no cp311 wheel");
        assert_eq!(
            labels(">=1.26", &all, &index()).0,
            ["1.26.3", "1.26.4", "2.0.2", "2.4.1"]
        );
        assert_eq!(
            labels("all", &newest, &index()).0,
            ["1.26.3", "1.26.4", "2.0.2", "2.4.1"]
        );
        let pre = Resolution {
            patches: Patches::All,
            prereleases: true,
        };
        assert_eq!(labels("2.4.*", &newest, &index()).0, ["2.4.1"]);
        assert_eq!(
            labels(">=2.4.0rc1,<2.5", &newest, &index()).0,
            ["2.4.1"],
            "a range naming a pre-release admits them"
        );
        assert_eq!(
            labels(">=2.4.0rc1,<2.5", &all, &index()).0,
            ["2.4.0rc1", "2.4.1"]
        );
        // 2.4.0rc1 comes before 2.4: `>=2.4` leaves it out, as PEP 440 says.
        assert_eq!(labels(">=2.4,<2.5", &pre, &index()).0, ["2.4.1"]);
        assert_eq!(
            labels(">=2.3,<2.5", &pre, &index()).0,
            ["2.4.0rc1", "2.4.1"]
        );
        assert_eq!(labels("latest", &newest, &index()).0, ["2.4.1"]);
        assert_eq!(labels("oldest", &newest, &index()).0, ["1.26.3"]);
    }

    #[test]
    fn an_exact_pin_takes_a_yanked_release_and_keeps_its_reason() {
        let r = NumpyRequest::from_str("2.4.0").unwrap();
        let axis = resolve(
            &r,
            &index(),
            &crate::report::fixtures::interpreter("3.11.7"),
            &Resolution::default(),
        );
        assert_eq!(axis.entries[0].label(), "2.4.0");
        assert_eq!(
            axis.entries[0].origin().and_then(|o| o.yanked.as_deref()),
            Some("Backward compatibility bug")
        );
        assert_eq!(
            labels("2.5.0", &Resolution::default(), &index()).0,
            ["missing: no wheel of numpy==2.5.0 for CPython 3.11.7"]
        );
        assert_eq!(
            labels("2.4.0rc1", &Resolution::default(), &index()).0,
            ["2.4.0rc1"]
        );
    }

    /// A series or range whose only fitting releases are yanked is
    /// unavailable as yanked (not "no wheel", which is not so), naming the
    /// pin that would test it.
    #[test]
    fn a_request_of_only_yanked_releases_says_yanked() {
        let mut releases = index();
        releases.retain(|r| r.version.to_string() != "2.4.1");
        for request in ["2.4.*", ">=2.4,<2.5"] {
            let r = NumpyRequest::from_str(request).unwrap();
            let axis = resolve(
                &r,
                &releases,
                &crate::report::fixtures::interpreter("3.11.7"),
                &Resolution::default(),
            );
            assert_eq!(
                axis.entries[0].gap(),
                Some(Unavailability::Yanked),
                "{request}"
            );
            let why = axis.entries[0].unavailable().unwrap_or_default();
            assert!(
                why.contains("is yanked on the index (newest: 2.4.0); pin one exactly (\"2.4.0\")"),
                "{why}"
            );
        }
        // A release that is not there at all is still "no wheel".
        let r = NumpyRequest::from_str("2.7.*").unwrap();
        let axis = resolve(
            &r,
            &releases,
            &crate::report::fixtures::interpreter("3.11.7"),
            &Resolution::default(),
        );
        assert_eq!(axis.entries[0].gap(), Some(Unavailability::NoWheel));
    }

    /// CPython 3.8 on Linux x86_64, with the tags the gap tests read.
    fn py38() -> Interpreter {
        let mut py38 = crate::report::fixtures::interpreter("3.8.18");
        py38.tags = vec![
            "cp38-cp38-manylinux_2_17_x86_64".into(),
            "cp38-abi3-manylinux_2_17_x86_64".into(),
            "cp37-abi3-manylinux_2_17_x86_64".into(),
            "py3-none-any".into(),
        ];
        py38
    }

    /// pyerfa `version` as the index lists it, with a wheel per tag.
    fn pyerfa(version: &str, yanked: bool, tags: &[&str]) -> Release {
        Release {
            version: Version::from_str(version).unwrap(),
            index: "https://pypi.org/simple".into(),
            yanked: yanked.then(String::new),
            wheels: tags
                .iter()
                .map(|tag| format!("pyerfa-{version}-{tag}.whl"))
                .collect(),
        }
    }

    #[test]
    fn a_pinned_release_with_wheels_only_for_other_pythons_is_pythons_gap() {
        let py38 = py38();
        let row = PackageRow::new(RowSource::Requirement("pyerfa==2.0.1.5".into()));
        let wheels = |tags: &[&str]| pyerfa("2.0.1.5", false, tags);
        // Only cp39-abi3 for this platform: Python's doing, said with the tag.
        let abi3 = wheels(&[
            "cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64",
            "cp39-abi3-macosx_11_0_arm64",
            "pp39-pypy39_pp73-manylinux_2_17_x86_64",
        ]);
        assert_eq!(
            python_gap(&abi3, &py38, &row).as_deref(),
            Some(
                "no wheel of pyerfa 2.0.1.5 loads under CPython 3.8.18: its wheels for this platform are cp39-abi3"
            )
        );
        // A wheel that fits: no gap.
        let fits = wheels(&["cp37-abi3-manylinux_2_17_x86_64"]);
        assert_eq!(python_gap(&fits, &py38, &row), None);
        // Wheels for other platforms only, or none: not Python's doing.
        let elsewhere = wheels(&["cp39-abi3-macosx_11_0_arm64"]);
        assert_eq!(python_gap(&elsewhere, &py38, &row), None);
        assert_eq!(python_gap(&wheels(&[]), &py38, &row), None);
    }

    #[test]
    fn a_range_whose_every_release_is_for_other_pythons_is_pythons_gap() {
        let py38 = py38();
        let release = pyerfa;
        let releases = vec![
            release("2.0.0.3", false, &["cp38-cp38-manylinux_2_17_x86_64"]),
            release("2.0.1.4", false, &["cp39-abi3-manylinux_2_17_x86_64"]),
            release(
                "2.0.1.5",
                false,
                &[
                    "cp39-abi3-manylinux_2_17_x86_64",
                    "cp39-abi3-macosx_11_0_arm64",
                ],
            ),
            // Yanked, and it would fit: a resolver passes over it.
            release("2.0.1.6", true, &["cp38-cp38-manylinux_2_17_x86_64"]),
            release("2.0.2", false, &["cp310-abi3-manylinux_2_17_x86_64"]),
            release("3.0", false, &[]),
        ];
        let gap = |requirement: &str| {
            let row = PackageRow::new(RowSource::Requirement(requirement.into()));
            range_gap(&releases, &specifiers(requirement)?, &py38, &row)
        };
        assert_eq!(
            gap("pyerfa>=2.0.1,<3").as_deref(),
            Some(
                "no release pyerfa>=2.0.1,<3 admits loads under CPython 3.8.18: each of the 3 has wheels for this platform only for other Pythons (the newest, 2.0.2: cp310-abi3)"
            )
        );
        // Extras and markers aside, spaces and parentheses allowed.
        assert!(gap("pyerfa[test] (>= 2.0.1, < 3) ; python_version >= '3'").is_some());
        // One admitted release fits (2.0.0.3): the installer's words stand.
        assert_eq!(gap("pyerfa>=2,<3"), None);
        // One admitted release has no wheel at all (3.0, sdist only).
        assert_eq!(gap("pyerfa>=2.0.1"), None);
        // Nothing admitted, no specifier, a URL: no claim.
        assert_eq!(gap("pyerfa>=4"), None);
        assert_eq!(gap("pyerfa"), None);
        assert_eq!(gap("pyerfa @ https://example.org/p?x=1"), None);
    }

    #[test]
    fn next_is_the_newest_prerelease_after_every_release_or_said_plainly_none() {
        let d = Resolution::default();
        assert_eq!(
            labels("next", &d, &index()).0,
            ["missing: no NumPy pre-release is newer than 2.5.0, the newest release"]
        );
        let mut ahead = index();
        ahead.push(release("2.6.0rc1", None, true));
        assert_eq!(
            labels("next", &d, &ahead).0,
            ["missing: NumPy 2.6.0rc1 is in testing, with no wheel for CPython 3.11.7"]
        );
        ahead.push(release("2.6.0rc2", None, false));
        assert_eq!(labels("next", &d, &ahead).0, ["2.6.0rc2"]);
    }
}
