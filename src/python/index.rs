//! Which NumPy releases exist at all, from the package index. Needed only to
//! expand ranges into minor series; whether a series has a wheel for an
//! interpreter is the installer's answer, not ours.

use std::str::FromStr;

use pep440_rs::Version;

use super::{InstallError, Interpreter};
use crate::process::Spec;

const SCRIPT: &str = include_str!("index_versions.py");

/// Every final NumPy release on the index (pre-releases dropped), sorted.
pub async fn index_versions(interpreter: &Interpreter) -> Result<Vec<Version>, InstallError> {
    let finished = Spec::new(&interpreter.executable)
        .args(["-I", "-c", SCRIPT])
        .timeout(std::time::Duration::from_secs(90))
        .run()
        .await?;
    if !finished.success() {
        let out = finished.output();
        return Err(InstallError::Network {
            detail: out.lines().last().unwrap_or("no output").to_string(),
        });
    }
    let mut versions: Vec<Version> = finished
        .stdout
        .text
        .lines()
        .filter_map(|l| Version::from_str(l.trim()).ok())
        .filter(|v| !v.any_prerelease() && v.local().is_empty())
        .collect();
    versions.sort();
    versions.dedup();
    Ok(versions)
}
