//! The saved results and the operations on them: the versioned document
//! every report renders from ([`document`]), the run as collected so far
//! ([`collect`]), the journal that lets an interrupted run resume
//! ([`journal`]), joining shards ([`merge`]), comparing two runs
//! ([`compare`]) and the answer read off a grid ([`answer`]). Nothing here
//! prints.

pub mod answer;
pub mod collect;
pub mod compare;
pub mod declared;
pub mod document;
pub mod journal;
pub mod merge;

pub use collect::RunResults;
pub use document::{CellDoc, Document};

/// Whether `doc` fails a gate (`run`'s and `report`'s exit 1): a cell not
/// as expected, a declaration a cell not as expected proves wrong, or a
/// grid not whole.
pub fn fails(doc: &Document) -> bool {
    !doc.complete || doc.unmet().next().is_some() || declared::check(doc).iter().any(|f| f.fails())
}
