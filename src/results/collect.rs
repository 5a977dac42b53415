//! The run as it is known so far: the plan's header, every finished row and
//! every judged cell. A run cut short (Ctrl-C) still has every cell that
//! finished: the reporter writes whatever is here, marked incomplete.

use std::time::Duration;

use super::document::CellDoc;
use crate::plan::RunHeader;
use crate::runner::BuildRecord;

#[derive(Debug, Clone)]
pub struct RunResults {
    pub header: RunHeader,
    pub builds: Vec<BuildRecord>,
    pub cells: Vec<CellDoc>,
    /// Set when the runner said it finished; `None` means the run did not
    /// end normally.
    pub duration: Option<Duration>,
}

impl RunResults {
    pub fn new(header: RunHeader) -> RunResults {
        RunResults {
            header,
            builds: Vec::new(),
            cells: Vec::new(),
            duration: None,
        }
    }

    pub fn complete(&self) -> bool {
        self.duration.is_some()
    }
}
