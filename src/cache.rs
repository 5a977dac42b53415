//! The persistent cache: what a warm run reuses instead of redoing.
//!
//! ```text
//! <root>/v1/tools/uv/            uv, when abimatrix had to install it
//! <root>/v1/envs/<python>/<numpy>/   one virtual environment per interpreter × NumPy
//! <root>/v1/builds/<hash>/       one built module per (sources, flags, interpreter, NumPy)
//! ```
//!
//! `<python>` identifies an interpreter by what it is (executable, version,
//! platform), not by what it is called. Entries are made in a temporary
//! directory beside their final place and renamed into it, so a run that is
//! killed mid-way, or two runs at once, never leave or see half an entry; an
//! entry is checked before use and rebuilt when the check fails. The layout
//! version is in the path, so a future layout never misreads this one.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::python::Interpreter;

/// Bumped whenever the layout under the cache root changes incompatibly.
const LAYOUT: &str = "v1";

/// `--cache-dir`, else `$ABIMATRIX_CACHE_DIR`, else the platform cache dir
/// (XDG on Linux), else the system temp dir so a HOME-less CI still works.
pub fn root_in(dir: Option<&Path>) -> PathBuf {
    if let Some(dir) = dir {
        return dir.join(LAYOUT);
    }
    if let Some(dir) = std::env::var_os("ABIMATRIX_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join(LAYOUT);
    }
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("abimatrix")
        .join(LAYOUT)
}

/// The default root.
pub fn root() -> PathBuf {
    root_in(None)
}

/// Tools abimatrix installs for itself (uv). Always in the default root, so
/// `--cache-dir` for a test does not mean a second uv download.
pub fn tools_dir() -> PathBuf {
    root().join("tools")
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

/// What identifies an interpreter for caching: where its real binary is and
/// what it reported being.
pub fn interpreter_key(i: &Interpreter) -> String {
    let real = std::fs::canonicalize(&i.executable).unwrap_or_else(|_| i.executable.clone());
    let short = format!("{}-{}", i.implementation.to_lowercase(), i.version);
    let hash = digest([
        real.to_string_lossy().as_bytes(),
        i.version.as_bytes(),
        i.implementation.as_bytes(),
        i.machine.as_bytes(),
        i.ext_suffix.as_bytes(),
    ]);
    format!("{short}-{hash}")
}

/// Publishes `staging` as `target`: rename, or if another run got there
/// first with an entry that `valid` accepts, keep theirs.
pub fn publish(
    staging: &Path,
    target: &Path,
    valid: impl Fn(&Path) -> bool,
) -> std::io::Result<()> {
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

/// Total size in bytes and number of entries under `dir`.
pub fn usage(dir: &Path) -> (u64, usize) {
    fn walk(dir: &Path, total: &mut u64) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(&e.path(), total),
                Ok(t) if t.is_file() => *total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut total = 0;
    walk(dir, &mut total);
    let entries = std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    (total, entries)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
