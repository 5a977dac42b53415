//! Where abimatrix keeps things between runs. For now: the uv it bootstraps
//! when none is on PATH. The directory name carries a layout version so a
//! future format never misreads an old one (as uv names its cache buckets).

use std::path::PathBuf;

/// Bumped whenever the layout under the cache root changes incompatibly.
const LAYOUT: &str = "v1";

/// `$ABIMATRIX_CACHE_DIR`, else the platform cache dir (XDG on Linux), else
/// a directory under the system temp dir so a HOME-less CI still works.
pub fn root() -> PathBuf {
    if let Some(dir) = std::env::var_os("ABIMATRIX_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join(LAYOUT);
    }
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("abimatrix")
        .join(LAYOUT)
}

/// Tools abimatrix installs for itself (uv).
pub fn tools_dir() -> PathBuf {
    root().join("tools")
}
