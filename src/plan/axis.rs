//! One row or column of a grid: what was asked for and what it became. A
//! state that cannot exist cannot be written: an entry is a NumPy release
//! resolved from a request, a request that resolved to nothing (and why), or
//! a row of published code.

use std::path::PathBuf;

use pep440_rs::Version;

use crate::config::NumpyRequest;
use crate::expect::Side;
use crate::extension::PackageRow;
use crate::outcome::Unavailability;

/// Where a NumPy release came from, as the reports show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The index that lists it.
    pub index: Option<String>,
    /// Yanked on the index (PEP 592), with its reason ("" for none): only
    /// an exact pin takes a yanked release.
    pub yanked: Option<String>,
    /// A local wheel file, installed instead of the index's.
    pub wheel: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AxisEntry {
    /// A NumPy release, from `request`.
    Numpy {
        request: NumpyRequest,
        version: Version,
        origin: Origin,
    },
    /// `request` has no release with a wheel for this interpreter (or none
    /// at all, or only yanked ones): its cells are `unavailable`, of kind
    /// `kind`. [`Unavailability::NextIsNothing`]: there is nothing to test,
    /// and that is the answer (`next` when no pre-release is newer than
    /// every release): its cells are expected to be unavailable.
    Missing {
        request: NumpyRequest,
        why: String,
        kind: Unavailability,
    },
    /// A row of published code (no NumPy of its own).
    Row(PackageRow),
}

impl AxisEntry {
    /// How grids, keys and reports name it: the release, else the request,
    /// else the row.
    pub fn label(&self) -> String {
        match self {
            AxisEntry::Numpy { version, .. } => version.to_string(),
            AxisEntry::Missing { request, .. } => request.to_string(),
            AxisEntry::Row(row) => row.to_string(),
        }
    }

    /// What was written in matrix.toml for it (a wheel's file name).
    pub fn request(&self) -> String {
        match self {
            AxisEntry::Numpy { request, .. } | AxisEntry::Missing { request, .. } => {
                request.to_string()
            }
            AxisEntry::Row(row) => row.source.written(),
        }
    }

    /// Where its release came from (`None` for a missing entry or a row).
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            AxisEntry::Numpy { origin, .. } => Some(origin),
            _ => None,
        }
    }

    /// Why its release is yanked on the index ("" when no reason was
    /// given), for a NumPy release and a package row alike.
    pub fn yanked(&self) -> Option<&str> {
        match self {
            AxisEntry::Numpy { origin, .. } => origin.yanked.as_deref(),
            AxisEntry::Row(row) => row.yanked.as_deref(),
            AxisEntry::Missing { .. } => None,
        }
    }

    pub fn version(&self) -> Option<&Version> {
        match self {
            AxisEntry::Numpy { version, .. } => Some(version),
            _ => None,
        }
    }

    /// Why there is no version, for a missing entry.
    pub fn unavailable(&self) -> Option<&str> {
        match self {
            AxisEntry::Missing { why, .. } => Some(why),
            _ => None,
        }
    }

    /// Which kind of reason there is no version, for a missing entry.
    pub fn gap(&self) -> Option<Unavailability> {
        match self {
            AxisEntry::Missing { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The entry as expectations see it: the release, else the version
    /// written in the request; a row has none.
    pub fn side(&self) -> Side {
        match self {
            AxisEntry::Numpy { version, .. } => Side::Numpy(Some(version.clone())),
            AxisEntry::Missing {
                kind: Unavailability::NextIsNothing,
                ..
            } => Side::Absent,
            AxisEntry::Missing { request, .. } => Side::Numpy(request.nominal()),
            AxisEntry::Row(row) => Side::Row(row.clone()),
        }
    }
}
