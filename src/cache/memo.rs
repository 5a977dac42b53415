//! What the package index and the machine said, remembered: resolved NumPy
//! versions, the index's version list, package rows' versions, per-column
//! dependency pins, and interpreters' answers to the query. A warm run asks
//! none of them again, so it makes no index request and runs no uv command
//! when every environment and build it needs is cached; with `--offline`
//! nothing is asked at all, and what the memo lacks is an error naming it.
//!
//! Answers that can change (the newest release of a series, the index's
//! list) are re-asked after [`TTL`] or with `--refresh`; answers that
//! cannot (an exact version has a wheel; an interpreter at a path with a
//! given size and mtime is what it said) are kept. One file per cache root,
//! keyed by what was asked and of which index; written whole and renamed,
//! so runs sharing a cache never read half of it (the last writer wins,
//! and a lost answer is only asked again).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// How long an answer that can change is trusted.
pub const TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Whether an answer may go stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lasts {
    /// Until [`TTL`] passes (or `--refresh`).
    Day,
    /// As long as the cache.
    Always,
}

/// How the run may use the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// Ask what the memo lacks or holds too long.
    #[default]
    Online,
    /// Ask everything again (`--refresh`).
    Refresh,
    /// Never ask: the memo's answers, however old, or an error.
    Offline,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    /// Unix seconds when it was asked.
    at: u64,
    always: bool,
    value: serde_json::Value,
}

/// The answers of one cache root.
#[derive(Debug, Default)]
pub struct Memo {
    path: Option<PathBuf>,
    network: Network,
    entries: Mutex<BTreeMap<String, Entry>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Memo {
    /// The memo kept at `path` (`None`: nothing is remembered, `--fresh`).
    pub fn open(path: Option<PathBuf>, network: Network) -> Memo {
        let entries = path
            .as_deref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        Memo {
            path,
            network,
            entries: Mutex::new(entries),
        }
    }

    /// Where a cache root keeps its memo.
    pub fn path_in(root: &Path) -> PathBuf {
        root.join("memo.json")
    }

    pub fn network(&self) -> Network {
        self.network
    }

    /// The remembered answer to `key`, if it may be used: any answer when
    /// offline; one still fresh online; none with `--refresh`.
    pub fn get<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        if self.network == Network::Refresh {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        let e = entries.get(key)?;
        let fresh = e.always || now().saturating_sub(e.at) < TTL.as_secs();
        (fresh || self.network == Network::Offline)
            .then(|| T::deserialize(&e.value).ok())
            .flatten()
    }

    /// Remembers an answer, and writes the memo.
    pub fn put<T: Serialize>(&self, key: &str, value: &T, lasts: Lasts) {
        let Ok(value) = serde_json::to_value(value) else {
            return;
        };
        let snapshot = {
            let Ok(mut entries) = self.entries.lock() else {
                return;
            };
            entries.insert(
                key.to_string(),
                Entry {
                    at: now(),
                    always: lasts == Lasts::Always,
                    value,
                },
            );
            serde_json::to_string(&*entries).ok()
        };
        if let (Some(path), Some(text)) = (&self.path, snapshot) {
            // Losing an answer only means asking again: not worth failing.
            let _ = write(path, &text);
        }
    }
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    super::replace_file(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_survive_runs_and_expire_unless_offline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memo.json");
        let memo = Memo::open(Some(path.clone()), Network::Online);
        memo.put("numpy 2.0.*", &"2.0.2", Lasts::Day);
        memo.put("exact 1.26.4", &"1.26.4", Lasts::Always);
        let again = Memo::open(Some(path.clone()), Network::Online);
        assert_eq!(again.get::<String>("numpy 2.0.*").as_deref(), Some("2.0.2"));
        // Age the changing answer past its day.
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"at\":", "\"at\":1,\"was\":");
        std::fs::write(&path, text).unwrap();
        let stale = Memo::open(Some(path.clone()), Network::Online);
        assert_eq!(stale.get::<String>("numpy 2.0.*"), None, "stale online");
        assert_eq!(
            stale.get::<String>("exact 1.26.4").as_deref(),
            Some("1.26.4")
        );
        let offline = Memo::open(Some(path.clone()), Network::Offline);
        assert_eq!(
            offline.get::<String>("numpy 2.0.*").as_deref(),
            Some("2.0.2"),
            "offline takes it"
        );
        let refresh = Memo::open(Some(path), Network::Refresh);
        assert_eq!(refresh.get::<String>("exact 1.26.4"), None);
        assert_eq!(Memo::open(None, Network::Online).get::<String>("x"), None);
    }
}
