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
//! so runs sharing a cache never read half of it. A write takes in what
//! other runs wrote since (the newer answer wins), and writes are at most
//! one a second while answers come in, then one when the command ends
//! ([`Memo::flush`]): a memo grown to megabytes is not rewritten per
//! answer, and a lost answer (a killed run) is only asked again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    writes: Mutex<Writes>,
}

/// Whether answers wait to be written, and when the file was last written.
#[derive(Debug, Default)]
struct Writes {
    dirty: bool,
    last: Option<Instant>,
}

/// How often the memo is written while answers come in.
const WRITE_EVERY: Duration = Duration::from_secs(1);

/// Writes the memo when dropped: held by a command for its whole length,
/// so every way out of it (an early return, an error) writes what it
/// learned, whatever tasks still hold the memo.
pub struct FlushOnDrop(std::sync::Arc<Memo>);

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        self.0.flush();
    }
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
            writes: Mutex::default(),
        }
    }

    /// A guard that writes `memo` when the command holding it ends.
    pub fn flush_on_drop(memo: &std::sync::Arc<Memo>) -> FlushOnDrop {
        FlushOnDrop(memo.clone())
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

    /// Remembers an answer; written at once unless the memo was written
    /// less than a second ago (then by a later answer or [`Memo::flush`]).
    pub fn put<T: Serialize>(&self, key: &str, value: &T, lasts: Lasts) {
        let Ok(value) = serde_json::to_value(value) else {
            return;
        };
        {
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
        }
        let due = {
            let Ok(mut writes) = self.writes.lock() else {
                return;
            };
            writes.dirty = true;
            writes.last.is_none_or(|t| t.elapsed() >= WRITE_EVERY)
        };
        if due {
            self.flush();
        }
    }

    /// Writes the answers not yet written, with what other runs wrote to
    /// the file since it was read (for a question both answered, the newer
    /// answer). Losing answers only means asking again: a failure to write
    /// is not worth failing a run for.
    pub fn flush(&self) {
        let Some(path) = &self.path else { return };
        let Ok(mut writes) = self.writes.lock() else {
            return;
        };
        if !writes.dirty {
            return;
        }
        let theirs: BTreeMap<String, Entry> = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let text = {
            let Ok(mut entries) = self.entries.lock() else {
                return;
            };
            for (key, entry) in theirs {
                if entries.get(&key).is_none_or(|mine| mine.at < entry.at) {
                    entries.insert(key, entry);
                }
            }
            serde_json::to_string(&*entries).ok()
        };
        if let Some(text) = text {
            let _ = write(path, &text);
        }
        writes.dirty = false;
        writes.last = Some(Instant::now());
    }
}

impl Drop for Memo {
    fn drop(&mut self) {
        self.flush();
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
        drop(memo);
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

    #[test]
    fn answers_that_come_quickly_are_written_together_with_other_runs_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memo.json");
        let read = || -> BTreeMap<String, Entry> {
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
        };
        let (a, b) = (
            Memo::open(Some(path.clone()), Network::Online),
            Memo::open(Some(path.clone()), Network::Online),
        );
        a.put("a1", &1, Lasts::Always);
        a.put("a2", &2, Lasts::Always);
        // The first answer is written at once, the next within the second
        // waits.
        assert_eq!(read().keys().collect::<Vec<_>>(), ["a1"]);
        b.put("b1", &3, Lasts::Always);
        b.flush();
        a.flush();
        // Neither run's answers are lost to the other's write.
        assert_eq!(read().keys().collect::<Vec<_>>(), ["a1", "a2", "b1"]);
    }
}
