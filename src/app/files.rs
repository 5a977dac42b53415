//! The files the commands read and write: the config, results documents
//! named on the command line, reports, and the last results kept for
//! `explain`. Errors name the path the user gave.

use std::path::{Path, PathBuf};

use super::CommandError;
use crate::cli::Outputs;
use crate::config::Config;
use crate::report::{self, Format};
use crate::results::Document;

/// The config a command uses: `path`, or when that is the default
/// `matrix.toml` and there is none, a `pyproject.toml` with a
/// `[tool.abimatrix]` table beside it.
pub fn config_path(path: &Path) -> PathBuf {
    let pyproject = path.with_file_name("pyproject.toml");
    let holds_ours =
        || std::fs::read_to_string(&pyproject).is_ok_and(|t| t.contains("[tool.abimatrix"));
    if path.file_name().is_some_and(|n| n == "matrix.toml") && !path.exists() && holds_ours() {
        pyproject
    } else {
        path.to_path_buf()
    }
}

/// Reads the config (see [`config_path`]); a bad one is exit 2, with the
/// location.
pub fn load_config(path: &Path) -> Result<Config, CommandError> {
    let path = config_path(path);
    let config = Config::load(&path).map_err(|error| CommandError::Config {
        missing: error.line == 0 && !path.exists(),
        error,
    })?;
    Ok(config)
}

/// Reads a results file named on the command line; a bad one is exit 2.
pub fn load_document(path: &Path) -> Result<Document, CommandError> {
    Document::load(path).map_err(CommandError::Results)
}

/// A file the user named that could not be written: the path as given,
/// and the operating system's words.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {}", path.display(), os_error(source))]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Writes `doc` in `format` to `path`; text is written without colour.
pub fn write_report(doc: &Document, format: Format, path: &Path) -> Result<(), WriteError> {
    let text = report::render(doc, format);
    if format == Format::Text {
        write_text(&text, path)
    } else {
        write_file(&text, path)
    }
}

/// Writes terminal text to `path`, without colour.
pub fn write_text(text: &str, path: &Path) -> Result<(), WriteError> {
    write_file(&anstream::adapter::strip_str(text).to_string(), path)
}

pub fn write_file(text: &str, path: &Path) -> Result<(), WriteError> {
    write_atomic(path, text).map_err(|source| WriteError {
        path: path.to_path_buf(),
        source,
    })
}

/// The operating system's own words for `e`, without the temporary file's
/// name that tempfile appends (" at path ...": the user never named it).
fn os_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" at path \"") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Writes every requested report; one that cannot be written (a full disk, a
/// missing directory) does not stop the others. Returns what failed.
/// `json`: `doc` rendered as JSON already (a run writes it to the cache
/// too; it holds every cell's logs, so it is rendered once).
pub fn write_outputs(doc: &Document, json: &str, outputs: &Outputs) -> Vec<WriteError> {
    [
        (&outputs.json, Format::Json),
        (&outputs.junit, Format::Junit),
        (&outputs.markdown, Format::Markdown),
        (&outputs.html, Format::Html),
    ]
    .into_iter()
    .filter_map(|(path, format)| path.as_ref().map(|p| (p, format)))
    .filter_map(|(path, format)| match format {
        Format::Json => write_file(json, path).err(),
        _ => write_report(doc, format, path).err(),
    })
    .collect()
}

/// Where the last run of the config at `config` left its results in the
/// cache at `root` (the one the command was given: `--cache-dir`, else
/// `ABIMATRIX_CACHE_DIR`, else the default).
pub fn last_results_of(root: &Path, config: &Path) -> PathBuf {
    let absolute = std::path::absolute(config).unwrap_or_else(|_| config.to_path_buf());
    crate::cache::last_results_of(root, &absolute)
}

/// Keeps the results (`json`) as the last results of `config` and of the
/// machine, in the cache at `root`; returns where it kept them, if it could.
pub fn keep_last_results(json: &str, root: &Path, config: &Path) -> Option<PathBuf> {
    let mut kept = None;
    for path in [
        crate::cache::last_results(root),
        last_results_of(root, config),
    ] {
        let ok = path
            .parent()
            .is_some_and(|dir| std::fs::create_dir_all(dir).is_ok())
            && write_file(json, &path).is_ok();
        if ok {
            kept = Some(path);
        }
    }
    kept
}

/// The results a command uses when none is named: the last run of the
/// config at `config` kept in the cache at `root` when there is one, else
/// the last run kept there; and a line saying which it read.
pub fn default_results(root: &Path, config: &Path) -> (PathBuf, String) {
    let own = last_results_of(root, config);
    if own.is_file() {
        let note = format!(
            "reading {} (the last run of {})",
            own.display(),
            config.display()
        );
        return (own, note);
    }
    let any = crate::cache::last_results(root);
    let note = if config.is_file() {
        format!(
            "{} has no run in the cache; reading the last run on this machine, {}",
            config.display(),
            any.display()
        )
    } else {
        format!("reading the last run on this machine, {}", any.display())
    };
    (any, note)
}

/// Writes `text` to `path` atomically (temp file + rename), so a reader or a
/// crash mid-write never leaves half a file; as a shell's `>` would
/// otherwise: through a symbolic link to the file it names (the link
/// stays), a new file with the mode the umask leaves of 0666, a file that
/// was there with its own mode.
///
/// Only regular files are replaced that way. A path that already names
/// something else (`/dev/stdout`, a FIFO a CI step reads from, a device) is
/// written in place: renaming over it would swap the device for a file (as
/// root, even `/dev/full`) or fail for want of a writable `/dev`.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let target = through_links(path)?;
    let existing = std::fs::metadata(&target).ok();
    if existing.as_ref().is_some_and(|m| !m.is_file()) {
        let mut out = std::fs::OpenOptions::new().write(true).open(&target)?;
        std::io::Write::write_all(&mut out, text.as_bytes())?;
        return std::io::Write::flush(&mut out);
    }
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Created 0666 and narrowed by the kernel with the umask, as open(2)
    // does for a shell (tempfile's own default is 0600).
    let mut tmp = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    if let Some(m) = existing {
        tmp.as_file().set_permissions(m.permissions())?;
    }
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.persist(&target).map_err(|e| e.error)?;
    Ok(())
}

/// The path a chain of symbolic links at `path` ends in (which need not
/// exist yet: `ln -s out/r.json r.json` then `-o r.json` makes
/// `out/r.json`); `path` itself when it is no link.
fn through_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut at = path.to_path_buf();
    // Linux's own limit on links followed in one lookup.
    for _ in 0..40 {
        match std::fs::read_link(&at) {
            Ok(target) => {
                at = match at.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            Err(_) => return Ok(at),
        }
    }
    Err(std::io::Error::from_raw_os_error(nix::libc::ELOOP))
}

#[cfg(test)]
mod tests {
    use super::write_atomic;

    #[test]
    fn a_regular_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, "old contents, longer than the new").unwrap();
        write_atomic(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no temporary file left beside it");
    }

    /// `-o link` writes the file the link names, as a shell's `>` does:
    /// the link stays a link (to a file not there yet, too), and a file
    /// that was there keeps its mode.
    #[test]
    fn a_link_is_written_through_and_a_file_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        let target = dir.path().join("out/r.json");
        let link = dir.path().join("r.json");
        std::os::unix::fs::symlink("out/r.json", &link).unwrap();
        write_atomic(&link, "first").unwrap();
        assert!(link.symlink_metadata().unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "first");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&link, "second").unwrap();
        assert!(link.symlink_metadata().unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "second");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        // A link to itself is an error, not a loop.
        let looped = dir.path().join("loop");
        std::os::unix::fs::symlink("loop", &looped).unwrap();
        assert!(write_atomic(&looped, "x").is_err());
    }

    /// A FIFO (what `--json >(jq ...)` hands us) is written into, not
    /// renamed over: the reader at the other end gets the text.
    #[test]
    fn a_fifo_is_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write_atomic(&fifo, "through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe");
        let meta = std::fs::metadata(&fifo).unwrap();
        assert!(meta.file_type().is_fifo(), "the FIFO is still a FIFO");
    }
}
