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

pub use collect::{EnvRecord, RunResults};
pub use document::{CellDoc, Document};

/// What the results add up to, worked out once for every report and the
/// exit status: whether the grid is whole, how many cells were not as
/// expected, and what the packages' declarations say against the cells.
pub struct Tally {
    pub complete: bool,
    pub unmet: usize,
    /// Every verdict on a declaration, as the JSON's `declarations` holds
    /// them (those that merely hold included).
    pub declarations: Vec<declared::Declaration>,
}

impl Tally {
    pub fn of(doc: &Document) -> Tally {
        Tally {
            complete: doc.complete,
            unmet: doc.unmet().count(),
            declarations: declared::check(doc),
        }
    }

    /// The verdicts a reader can act on (all but those that hold), as
    /// every report lists them.
    pub fn findings(&self) -> impl Iterator<Item = &declared::Declaration> {
        self.declarations.iter().filter(|d| d.is_finding())
    }

    /// Declaration errors that fail the run.
    pub fn failing(&self) -> usize {
        self.declarations.iter().filter(|f| f.fails()).count()
    }

    /// Whether the results fail a gate (`run`'s and `report`'s exit 1): a
    /// cell not as expected, a declaration a cell not as expected proves
    /// wrong, or a grid not whole.
    pub fn fails(&self) -> bool {
        !self.complete || self.unmet > 0 || self.failing() > 0
    }
}

/// Whether `doc` fails a gate (see [`Tally::fails`]).
pub fn fails(doc: &Document) -> bool {
    Tally::of(doc).fails()
}
