//! What the package indexes hold for a project: every release, the wheels
//! of each (so which interpreters can install it is decided here, from
//! the interpreter's own wheel tags, without asking a resolver once per
//! request), whether it is yanked (PEP 592) and why, and which index it came
//! from.
//!
//! The indexes are the config's `[numpy] index-url` and `extra-index-urls`
//! when it sets them, else what uv and pip would use (`UV_INDEX_URL`,
//! `PIP_INDEX_URL`, ..., else PyPI). They travel as a value, in the plan's
//! installer ([`crate::python::Installer`]), to every uv and pip command
//! abimatrix runs, so what is resolved here is what is installed there.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::str::FromStr;

use pep440_rs::Version;

use super::{InstallError, Interpreter};
use crate::process::Spec;

const SCRIPT: &str = include_str!("index_files.py");

pub const PYPI: &str = "https://pypi.org/simple";

/// The indexes a config names (empty: the environment's, else PyPI).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Indexes {
    pub url: Option<String>,
    pub extra: Vec<String>,
}

impl Indexes {
    /// The main index: the config's, else the environment's, else PyPI.
    pub fn main(&self) -> String {
        self.url
            .clone()
            .or_else(|| {
                ["UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"]
                    .iter()
                    .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
            })
            .unwrap_or_else(|| PYPI.to_string())
    }

    /// Every index, in the order a version is taken from: the extra ones
    /// first (as uv ranks them), then the main one.
    pub fn all(&self) -> Vec<String> {
        let mut out = self.extra.clone();
        out.push(self.main());
        out
    }

    /// The variables that point uv and pip at these indexes (none when the
    /// config names none: theirs apply). With extra indexes uv is told to
    /// take each version from whichever index has it, as pip does, so a
    /// nightly index adds versions rather than hiding PyPI's.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if let Some(url) = &self.url {
            env.push(("UV_DEFAULT_INDEX", url.clone()));
            env.push(("UV_INDEX_URL", url.clone()));
            env.push(("PIP_INDEX_URL", url.clone()));
        }
        if !self.extra.is_empty() {
            let extra = self.extra.join(" ");
            env.push(("UV_EXTRA_INDEX_URL", extra.clone()));
            env.push(("PIP_EXTRA_INDEX_URL", extra));
            env.push(("UV_INDEX_STRATEGY", "unsafe-best-match".to_string()));
        }
        env
    }

    /// Applies [`Indexes::env`] to a command.
    pub fn apply(&self, mut spec: Spec) -> Spec {
        for (k, v) in self.env() {
            spec = spec.env(k, v);
        }
        spec
    }

    /// Which indexes a run's answers come from (as uv and pip are told:
    /// their variables, and these indexes), the part of every remembered
    /// answer's key that keeps one index's answers from another's.
    pub fn identity(&self) -> String {
        [
            "UV_INDEX_URL",
            "UV_DEFAULT_INDEX",
            "UV_INDEX",
            "UV_EXTRA_INDEX_URL",
            "PIP_INDEX_URL",
            "PIP_EXTRA_INDEX_URL",
        ]
        .iter()
        .map(|k| std::env::var(k).unwrap_or_default())
        .chain(self.all())
        .collect::<Vec<_>>()
        .join("|")
    }
}

/// A distribution's name as indexes compare them (PEP 503): lowercase,
/// every run of `-`, `_` and `.` one `-` (`Foo_Bar.baz` is `foo-bar-baz`).
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// One release of a project on the indexes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Release {
    pub version: Version,
    /// The index it was taken from.
    pub index: String,
    /// Yanked (PEP 592), with the index's reason ("" when it gives none).
    pub yanked: Option<String>,
    /// Its wheels' file names.
    pub wheels: Vec<String>,
}

impl Release {
    /// Whether one of its wheels installs on an interpreter with `tags`.
    pub fn fits(&self, tags: &HashSet<&str>) -> bool {
        self.wheels
            .iter()
            .filter_map(|w| wheel(w))
            .any(|(_, t)| t.iter().any(|t| tags.contains(t.as_str())))
    }
}

/// A wheel file name's version and every tag it expands to
/// ("cp311-cp311-manylinux_2_17_x86_64"), or `None` for anything else.
pub fn wheel(filename: &str) -> Option<(Version, Vec<String>)> {
    let stem = filename.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    // name-version[-build]-python-abi-platform
    let (version, py, abi, plat) = match parts.as_slice() {
        [_, v, py, abi, plat] | [_, v, _, py, abi, plat] => (v, py, abi, plat),
        _ => return None,
    };
    let version = Version::from_str(version).ok()?;
    let mut tags = Vec::new();
    for p in py.split('.') {
        for a in abi.split('.') {
            for pl in plat.split('.') {
                tags.push(format!("{p}-{a}-{pl}"));
            }
        }
    }
    Some((version, tags))
}

/// The version in any distribution file name of `project` (a wheel or an
/// sdist).
fn file_version(project: &str, filename: &str) -> Option<Version> {
    if let Some((v, _)) = wheel(filename) {
        return Some(v);
    }
    let rest = filename
        .strip_prefix(project)
        .or_else(|| filename.strip_prefix(&project.replace('-', "_")))?
        .strip_prefix('-')?;
    let version = [".tar.gz", ".zip", ".tar.bz2", ".tgz"]
        .iter()
        .find_map(|ext| rest.strip_suffix(ext))?;
    Version::from_str(version).ok()
}

#[derive(serde::Deserialize)]
struct Listing {
    index: String,
    files: Vec<(String, Yanked)>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Yanked {
    No(bool),
    Reason(String),
}

/// Every release of `project` on `indexes` (in priority order), sorted
/// oldest first, asked with `interpreter` (any Python will do: the script
/// only fetches).
pub async fn releases(
    interpreter: &Interpreter,
    project: &str,
    indexes: &[String],
) -> Result<Vec<Release>, InstallError> {
    let finished = Spec::new(&interpreter.executable)
        .args(["-I", "-c", SCRIPT, project])
        .args(indexes)
        .timeout(std::time::Duration::from_secs(120))
        .run()
        .await?;
    if !finished.success() {
        let out = finished.output();
        return Err(InstallError::Network {
            detail: out.lines().last().unwrap_or("no output").to_string(),
        });
    }
    let listings: Vec<Listing> =
        serde_json::from_str(&finished.stdout.text).map_err(|e| InstallError::Network {
            detail: format!("the index answered something that is not a file list: {e}"),
        })?;
    Ok(merge(project, listings))
}

/// Where the memo keeps `project`'s releases on the indexes in use.
pub fn releases_key(project: &str, indexes: &Indexes) -> String {
    format!("releases|{project}|{}", indexes.identity())
}

/// [`releases`], remembered for a day (`--refresh` asks again; offline,
/// only what is remembered): every command that needs a project's release
/// list asks the index at most once a day for it.
pub async fn releases_remembered(
    interpreter: &Interpreter,
    project: &str,
    indexes: &Indexes,
    memo: &crate::cache::memo::Memo,
) -> Result<Vec<Release>, InstallError> {
    use crate::cache::memo::{Lasts, Network};
    let key = releases_key(project, indexes);
    if let Some(list) = memo.get::<Vec<Release>>(&key) {
        return Ok(list);
    }
    if memo.network() == Network::Offline {
        return Err(InstallError::Offline {
            what: format!(
                "the list of {} releases on the index",
                if project == "numpy" { "NumPy" } else { project }
            ),
        });
    }
    let list = releases(interpreter, project, &indexes.all()).await?;
    memo.put(&key, &list, Lasts::Day);
    Ok(list)
}

/// Releases from each index's files; a version is taken from the first
/// index that has it.
fn merge(project: &str, listings: Vec<Listing>) -> Vec<Release> {
    let mut by_version: BTreeMap<Version, Release> = BTreeMap::new();
    // (all files yanked so far, a reason) per version.
    let mut yanks: BTreeMap<Version, (bool, Option<String>)> = BTreeMap::new();
    for listing in listings {
        let mut here: BTreeMap<Version, Vec<(String, Yanked)>> = BTreeMap::new();
        for (name, yanked) in listing.files {
            if let Some(v) = file_version(project, &name) {
                here.entry(v).or_default().push((name, yanked));
            }
        }
        for (version, files) in here {
            if by_version.contains_key(&version) {
                continue;
            }
            let mut all_yanked = true;
            let mut reason = None;
            let mut wheels = Vec::new();
            for (name, yanked) in files {
                match yanked {
                    Yanked::No(false) => all_yanked = false,
                    Yanked::No(true) => {}
                    Yanked::Reason(r) => {
                        if reason.is_none() || reason.as_deref() == Some("") {
                            reason = Some(r);
                        }
                    }
                }
                if name.ends_with(".whl") {
                    wheels.push(name);
                }
            }
            yanks.insert(version.clone(), (all_yanked, reason));
            by_version.insert(
                version.clone(),
                Release {
                    version,
                    index: listing.index.clone(),
                    yanked: None,
                    wheels,
                },
            );
        }
    }
    by_version
        .into_values()
        .map(|mut r| {
            if let Some((true, reason)) = yanks.remove(&r.version) {
                r.yanked = Some(reason.unwrap_or_default());
            }
            r
        })
        .collect()
}

/// The version and tags of a local wheel file (`numpy-2.6.0.dev0-....whl`).
pub fn local_wheel(path: &Path) -> Option<(Version, Vec<String>)> {
    wheel(&path.file_name()?.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_names_expand_to_their_tags() {
        let (v, tags) =
            wheel("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
                .unwrap();
        assert_eq!(v.to_string(), "1.26.4");
        assert_eq!(
            tags,
            [
                "cp311-cp311-manylinux_2_17_x86_64",
                "cp311-cp311-manylinux2014_x86_64"
            ]
        );
        assert!(wheel("numpy-1.26.4.tar.gz").is_none());
        assert_eq!(
            file_version("numpy", "numpy-2.4.0rc1.tar.gz").map(|v| v.to_string()),
            Some("2.4.0rc1".into())
        );
    }

    /// A free-threaded 3.13 (its recorded query answer) installs NumPy's
    /// cp313t wheels and nothing else; a GIL-enabled 3.13 (the answer of
    /// pyenv's 3.13.0 here) never takes them.
    /// The file names are PyPI's: cp313t wheels start with NumPy 2.1.0.
    #[test]
    fn a_free_threaded_interpreter_fits_only_cp313t_wheels() {
        let ft: Interpreter =
            serde_json::from_str(include_str!("testdata/cpython-3.13.0t.json")).unwrap();
        let gil: Interpreter =
            serde_json::from_str(include_str!("testdata/cpython-3.13.0.json")).unwrap();
        let release = |wheels: &[&str]| Release {
            version: Version::from_str("2.2.6").unwrap(),
            index: PYPI.into(),
            yanked: None,
            wheels: wheels.iter().map(|w| w.to_string()).collect(),
        };
        let both = release(&[
            "numpy-2.2.6-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "numpy-2.2.6-cp313-cp313t-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        ]);
        let gil_only =
            release(&["numpy-2.0.2-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"]);
        let ft_only = release(&["numpy-2.2.6-cp313-cp313t-musllinux_1_2_x86_64.whl"]);
        let tags = |i: &Interpreter| -> HashSet<String> { i.tags.iter().cloned().collect() };
        let (ft_tags, gil_tags) = (tags(&ft), tags(&gil));
        let fits =
            |r: &Release, t: &HashSet<String>| r.fits(&t.iter().map(String::as_str).collect());
        assert!(fits(&both, &ft_tags) && fits(&both, &gil_tags));
        let cp313t =
            release(&["numpy-2.2.6-cp313-cp313t-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"]);
        assert!(fits(&cp313t, &ft_tags) && !fits(&cp313t, &gil_tags));
        let cp313 =
            release(&["numpy-2.2.6-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"]);
        assert!(!fits(&cp313, &ft_tags) && fits(&cp313, &gil_tags));
        assert!(!fits(&gil_only, &ft_tags));
        // musllinux is not this glibc machine's.
        assert!(!fits(&ft_only, &ft_tags));
        // An abi3 wheel (pyerfa's) installs on the GIL build only.
        let abi3 =
            release(&["pyerfa-2.0.1.5-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"]);
        assert!(!fits(&abi3, &ft_tags) && fits(&abi3, &gil_tags));
    }

    #[test]
    fn the_first_index_wins_and_yanked_releases_keep_their_reason() {
        let listing = |index: &str, files: &[(&str, Yanked)]| Listing {
            index: index.into(),
            files: files
                .iter()
                .map(|(n, y)| {
                    (
                        n.to_string(),
                        match y {
                            Yanked::No(b) => Yanked::No(*b),
                            Yanked::Reason(r) => Yanked::Reason(r.clone()),
                        },
                    )
                })
                .collect(),
        };
        let releases = merge(
            "numpy",
            vec![
                listing(
                    "https://nightly",
                    &[(
                        "numpy-2.6.0.dev0-cp311-cp311-manylinux_2_28_x86_64.whl",
                        Yanked::No(false),
                    )],
                ),
                listing(
                    "https://pypi",
                    &[
                        (
                            "numpy-2.4.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                            Yanked::Reason("Backward compatibility bug".into()),
                        ),
                        ("numpy-2.4.0.tar.gz", Yanked::Reason(String::new())),
                        (
                            "numpy-2.4.1-cp311-cp311-manylinux_2_28_x86_64.whl",
                            Yanked::No(false),
                        ),
                        (
                            "numpy-2.4.1-cp311-cp311-manylinux_2_28_aarch64.whl",
                            Yanked::No(false),
                        ),
                    ],
                ),
            ],
        );
        let names: Vec<String> = releases.iter().map(|r| r.version.to_string()).collect();
        assert_eq!(names, ["2.4.0", "2.4.1", "2.6.0.dev0"]);
        assert_eq!(
            releases[0].yanked.as_deref(),
            Some("Backward compatibility bug")
        );
        assert_eq!(releases[1].yanked, None);
        assert_eq!(releases[2].index, "https://nightly");
        let x86: HashSet<&str> = ["cp311-cp311-manylinux_2_28_x86_64"].into();
        let arm: HashSet<&str> = ["cp311-cp311-manylinux_2_28_aarch64"].into();
        assert!(releases[1].fits(&x86) && releases[1].fits(&arm));
        assert!(releases[2].fits(&x86) && !releases[2].fits(&arm));
    }

    #[test]
    fn configured_indexes_reach_uv_and_pip() {
        let ix = Indexes {
            url: Some("https://mirror/simple".into()),
            extra: vec!["https://nightly/simple".into()],
        };
        assert_eq!(
            ix.all(),
            ["https://nightly/simple", "https://mirror/simple"]
        );
        let env = ix.env();
        assert!(env.contains(&("UV_INDEX_STRATEGY", "unsafe-best-match".into())));
        assert!(env.contains(&("PIP_INDEX_URL", "https://mirror/simple".into())));
        assert!(Indexes::default().env().is_empty());
    }
}
