//! Reading a file a user can name (a source, a header, a probe file, a
//! `-r` requirements file, a dependency the compiler listed): only a
//! regular file, and only so much of it.
//!
//! Why: `open` on a FIFO blocks until someone writes, and reading
//! `/dev/zero` never ends; a source named either hung `matrix run` in
//! config loading, or ate its memory. The file is opened without blocking
//! (`O_NONBLOCK`, which opening a FIFO honours and reading a regular file
//! ignores) and what was opened is asked what it is (`fstat` on the open
//! descriptor, so a file swapped between a check and the open cannot slip
//! through).

use std::fs::File;
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::Path;

/// The most of a text file that is read (a source, a probe): far above any
/// real one (a 50 MB source is read), far below what would exhaust memory.
pub const TEXT_LIMIT: u64 = 256 * 1024 * 1024;

/// Why a file a user named was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("it is larger than {}", bytes(*limit))]
    TooLarge { limit: u64 },
    #[error("it is not UTF-8 text")]
    NotText,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<ReadError> for std::io::Error {
    fn from(e: ReadError) -> std::io::Error {
        match e {
            ReadError::Io(e) => e,
            other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other.to_string()),
        }
    }
}

/// A size in words: MiB when it is that large.
fn bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB {
        format!("{} MiB", n / MIB)
    } else {
        format!("{n} bytes")
    }
}

/// What a non-regular file is, in words.
pub fn kind(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading if it is a regular file (links followed);
/// never blocks.
pub fn open(path: &Path) -> Result<File, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(kind(meta.file_type())));
    }
    Ok(file)
}

/// The bytes of the regular file `path`, at most `limit` of them.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = open(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

/// The text of the regular file `path`, at most `limit` bytes.
pub fn read_to_string(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read_bytes(path, limit)?).map_err(|_| ReadError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_are_read_and_nothing_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.c");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let said = |p: &Path| read_to_string(p, TEXT_LIMIT).unwrap_err().to_string();
        // Would block for ever with a plain open.
        assert_eq!(said(&fifo), "it is a FIFO, not a regular file");
        assert_eq!(
            said(Path::new("/dev/zero")),
            "it is a character device, not a regular file"
        );
        assert_eq!(said(dir.path()), "it is a directory, not a regular file");
        let link = dir.path().join("link.c");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        assert_eq!(said(&link), "it is a FIFO, not a regular file");

        let text = dir.path().join("ok.c");
        std::fs::write(&text, "int x;\n").unwrap();
        assert_eq!(read_to_string(&text, TEXT_LIMIT).unwrap(), "int x;\n");
        assert_eq!(
            read_to_string(&text, 3).unwrap_err().to_string(),
            "it is larger than 3 bytes"
        );
    }
}
