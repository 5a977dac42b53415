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
//! - `report`: the reporter and one renderer per format.

pub mod app;
pub mod build;
pub mod cache;
pub mod cli;
pub mod config;
pub mod environment;
pub mod expect;
pub mod extension;
pub mod outcome;
pub mod plan;
pub mod probe;
pub mod process;
pub mod python;
pub mod report;
pub mod results;
pub mod rules;
pub mod runner;
