//! The C compiler as a build runs it: the environment it gets, what it is,
//! and the folders its `#include` walks, in order.
//!
//! Why a build is checked against it: the compiler's dependency list proves
//! the files it read, not the files it *would* read now. A header created
//! in an include folder searched before the one that held the header read
//! (`include-dirs = ["inc1", "inc2"]`, `inc1/h.h` new), a `CPATH` set since,
//! another compiler first on PATH: each changes the build without changing
//! any file it read. So each build keeps a fingerprint of the search path
//! as the compiler reports it (`cc -E -v`: the `-I` folders in order,
//! `CPATH` and friends, the compiler's own folders, with the folders that
//! do not exist left out, as the compiler leaves them out) and of what the
//! compiler says it is, and is reused only while the compiler says the
//! same now; and it records the places where a header of a name it read
//! would have been found *first*, had it been there ([`Toolchain::absent`]):
//! a file appearing at one of them means a new build. (A fingerprint kept
//! with the build rather than a part of its key: a CI shard that tests
//! uploaded builds finds them by their key with no compiler of its own.)
//!
//! The compiler runs with an environment built from nothing ([`PASSED`]):
//! what a user's shell holds beyond that (`CFLAGS`, `CC`, `LDFLAGS`,
//! `GCC_EXEC_PREFIX`, `DEPENDENCIES_OUTPUT`, ...) never reaches it, and the
//! variables that reach it and change what it reads are in the fingerprint.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{BuildError, BuildFailure};
use crate::process::Spec;

/// The variables a compile or link gets from the host, and nothing else:
/// enough to find the compiler's own programs (`as`, `ld`) and to speak
/// the user's language, plus the search paths GCC and Clang read.
pub const PASSED: [&str; 11] = [
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TMPDIR",
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "LIBRARY_PATH",
];

/// Of [`PASSED`], the ones that change what is built: their values are in
/// the fingerprint (the include paths also through the search list they
/// make).
const KEYED: [&str; 4] = [
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "LIBRARY_PATH",
];

/// The host's values of [`PASSED`].
pub fn environment() -> Vec<(&'static str, OsString)> {
    PASSED
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| (*k, v)))
        .collect()
}

/// What the compiler is and where its `#include` looks, asked of it once a
/// run per interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    /// What identifies it: the program PATH finds, and what it says it is
    /// (`gcc version 12.2.0 (Debian 12.2.0-14+deb12u1)`, `Target: ...`),
    /// and the keyed variables. No time stamps: an artifacts folder made
    /// on another machine of the same image keeps its keys.
    pub identity: Vec<String>,
    /// The folders searched, in order: `#include "..."`'s own, then
    /// `#include <...>`'s (the `-I` folders, `CPATH`, the compiler's own).
    pub search: Vec<PathBuf>,
}

impl Toolchain {
    /// Asks the compiler `compile` (a compile command without its input and
    /// output: program, flags, `-I` folders, environment) where it looks.
    pub async fn probe(compile: Spec, program: &str) -> Result<Toolchain, BuildError> {
        let spec = compile
            .args(["-E", "-v", "-x", "c", "/dev/null", "-o", "/dev/null"])
            // A fixed folder: Clang names its working folder in `-v`.
            .cwd(Path::new("/"))
            .timeout(std::time::Duration::from_secs(60));
        let shown = spec.display();
        let finished = spec.run().await.map_err(|e| BuildFailure::Spawn {
            what: Some("cannot ask the compiler where it looks".into()),
            error: std::sync::Arc::new(e),
        })?;
        let said = finished.stderr.text;
        let search = search_list(&said).filter(|_| finished.exit.success());
        let Some(search) = search else {
            let log = format!("$ {shown}\n{said}");
            return Err(BuildError::new(BuildFailure::NoSearchList, &log));
        };
        let mut identity = vec![which::which(program).map_or_else(
            |_| program.to_string(),
            |p| p.canonicalize().unwrap_or(p).to_string_lossy().into_owned(),
        )];
        identity.extend(
            said.lines()
                .take_while(|l| !l.starts_with("#include"))
                .filter(|l| l.contains(" version ") || l.starts_with("Target:"))
                .map(|l| l.trim().to_string()),
        );
        for key in KEYED {
            let value = std::env::var_os(key).unwrap_or_default();
            identity.push(format!("{key}={}", value.to_string_lossy()));
        }
        Ok(Toolchain { identity, search })
    }

    /// What a build keeps of it, and a reuse compares: a digest of what
    /// the compiler is and of its search list.
    pub fn fingerprint(&self) -> String {
        let mut parts = vec![b"identity".to_vec()];
        parts.extend(self.identity.iter().map(|i| i.clone().into_bytes()));
        parts.push(b"search".to_vec());
        parts.extend(
            self.search
                .iter()
                .map(|d| d.as_os_str().as_encoded_bytes().to_vec()),
        );
        crate::cache::digest(parts)
    }

    /// Where a header of the same name as one the build read would have
    /// been found first, had it existed, and does not exist now: for each
    /// file read as `D/NAME` with `D` a searched folder, `E/NAME` for every
    /// folder `E` searched before `D` (`first` goes before the search
    /// list: the folders of the build's own files, which `#include "..."`
    /// searches first, and NumPy's headers). A file appearing at one of
    /// these later means the compiler would read another file: a new
    /// build. Erring wide costs a stat, never an answer: a place that
    /// exists now is left out.
    pub fn absent(&self, read: &[PathBuf], first: &[PathBuf]) -> Vec<PathBuf> {
        let order: Vec<&Path> = first
            .iter()
            .chain(&self.search)
            .map(PathBuf::as_path)
            .collect();
        let mut out: Vec<PathBuf> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for file in read {
            for (k, dir) in order.iter().enumerate() {
                let Ok(name) = file.strip_prefix(dir) else {
                    continue;
                };
                for earlier in &order[..k] {
                    let place = earlier.join(name);
                    if place != *file && seen.insert(place.clone()) && !exists(&place) {
                        out.push(place);
                    }
                }
            }
        }
        out
    }
}

/// Whether anything is at `path` (a dangling link counts: the compiler
/// would try to open it).
fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// The folders between `#include "..." search starts here:` and `End of
/// search list.` in a compiler's `-v` output (GCC's and Clang's wording).
fn search_list(said: &str) -> Option<Vec<PathBuf>> {
    let mut lines = said.lines();
    lines.find(|l| l.starts_with("#include \"...\" search starts here:"))?;
    let mut dirs = Vec::new();
    for line in lines {
        if line.starts_with("End of search list.") {
            return Some(dirs);
        }
        if line.starts_with("#include <...>") {
            continue;
        }
        // Clang marks macOS framework folders; none on Linux.
        let dir = line.trim_start().trim_end_matches(" (framework directory)");
        if !dir.is_empty() {
            dirs.push(PathBuf::from(dir));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const GCC: &str = "Using built-in specs.\nTarget: x86_64-linux-gnu\ngcc version 12.2.0 (Debian 12.2.0-14+deb12u1) \nignoring nonexistent directory \"/usr/local/include/x86_64-linux-gnu\"\n#include \"...\" search starts here:\n /q\n#include <...> search starts here:\n /p/inc1\n /p/inc2\n /usr/lib/gcc/x86_64-linux-gnu/12/include\n /usr/include\nEnd of search list.\n";

    #[test]
    fn the_search_list_is_read_in_order() {
        assert_eq!(
            search_list(GCC).unwrap(),
            [
                "/q",
                "/p/inc1",
                "/p/inc2",
                "/usr/lib/gcc/x86_64-linux-gnu/12/include",
                "/usr/include"
            ]
            .map(PathBuf::from)
        );
        assert_eq!(search_list("no list here"), None);
        assert_eq!(
            search_list("#include \"...\" search starts here:\n /a\n"),
            None
        );
    }

    /// `inc2/h.h` was read: `inc1/h.h` (searched before) is where a new
    /// header would shadow it; `inc2` itself and later folders are not.
    #[test]
    fn absent_places_are_the_earlier_folders_only() {
        let dir = tempfile::tempdir().unwrap();
        let (inc1, inc2, late) = (
            dir.path().join("inc1"),
            dir.path().join("inc2"),
            dir.path().join("late"),
        );
        for d in [&inc1, &inc2, &late] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(inc2.join("h.h"), "").unwrap();
        std::fs::write(late.join("h.h"), "").unwrap();
        let tc = Toolchain {
            identity: Vec::new(),
            search: vec![inc1.clone(), inc2.clone(), late.clone()],
        };
        let own = dir.path().join("src");
        let absent = tc.absent(&[inc2.join("h.h")], std::slice::from_ref(&own));
        assert_eq!(absent, [own.join("h.h"), inc1.join("h.h")]);
        // One that exists already is no news.
        std::fs::write(inc1.join("h.h"), "").unwrap();
        assert_eq!(
            tc.absent(&[inc2.join("h.h")], std::slice::from_ref(&own)),
            [own.join("h.h")]
        );
    }
}
