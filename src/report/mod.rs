//! Everything that turns results into something to read: live progress,
//! the terminal grid, the JSON file. One file per output.

pub mod grid;
pub mod json;
pub mod progress;
pub mod results;

pub use progress::Progress;
pub use results::RunResults;
