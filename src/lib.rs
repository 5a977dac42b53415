//! abimatrix: which NumPy was an extension built against, which NumPy will
//! import it, and does that combination work?
//!
//! The modules read as the pipeline, one stage each:
//! - `cli`, `app`: the command line, the commands wired together, exit codes;
//! - `config`: `matrix.toml` checked, every error located;
//! - `expect`, `rules`: what each cell is expected to do (tables, NumPy's rules);
//! - `plan`: interpreters chosen, versions resolved, cells selected;
//! - `python`, `environment`, `build`, `cache`: interpreters, environments
//!   with one NumPy, rows built or installed, the persistent cache;
//! - `process`, `probe`, `outcome`: children in their own process groups, a
//!   cell's probe (process, fork server or test command), what it did;
//! - `runner`: the dependency graph; emits events, never prints or judges;
//! - `results`: the saved document, journal, merge and compare;
//! - `report`: the reporter and one renderer per format;
//! - `userfile`: reading a file a user names (regular files only, bounded);
//! - `blocking`: hashing, file walks and waits, off the async runtime;
//! - `doctor`: `matrix doctor`, the same questions asked of a user's own
//!   environment (suspects, trials, measured fixes).

pub mod app;
pub(crate) mod blocking;
pub(crate) mod build;
pub(crate) mod cache;
pub mod cli;
pub(crate) mod config;
pub(crate) mod doctor;
pub(crate) mod environment;
pub(crate) mod expect;
pub(crate) mod extension;
pub(crate) mod hints;
pub(crate) mod outcome;
pub(crate) mod plan;
pub(crate) mod probe;
pub(crate) mod process;
pub(crate) mod python;
pub(crate) mod report;
pub(crate) mod results;
pub(crate) mod rules;
pub(crate) mod runner;
pub(crate) mod userfile;
