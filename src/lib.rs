//! abimatrix: which NumPy was an extension built against, which NumPy will
//! import it, and does that combination work?
//!
//! Layout, one responsibility per module: `config` (matrix.toml), `python`
//! (interpreters, installers), `environment` (a venv with one NumPy),
//! `build` (compile against one NumPy), `probe` (import and exercise in a
//! child), `process` (spawn, capture, time limits, process groups),
//! `outcome` (what a cell did, classified), `runner` (the dependency graph),
//! `report` (progress, grid, JSON), `cli`/`app` (the command line).

pub mod app;
pub mod build;
pub mod cache;
pub mod cli;
pub mod compare;
pub mod config;
pub mod environment;
pub mod extension;
pub mod outcome;
pub mod package;
pub mod probe;
pub mod process;
pub mod python;
pub mod report;
pub mod resolve;
pub mod rules;
pub mod runner;
