//! Command-line arguments, and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::probe::Isolation;
use crate::python::InstallerChoice;

const EXIT_CODES: &str = "\
Exit status:
  0    every cell did what matrix.toml expects of it
  1    at least one cell did not (or the run was incomplete)
  2    bad matrix.toml or command line
  3    the environment is broken: no usable interpreter, no package index
  130  interrupted (results gathered so far are still written)";

#[derive(Debug, Parser)]
#[command(
    name = "matrix",
    version,
    about = "Which NumPy was your extension built against, which NumPy will import it, and does that pair work?",
    long_about = "abimatrix builds a C extension that uses the NumPy C API against several NumPy \
versions, imports and exercises each build under several NumPy versions (each in its own \
process and virtual environment), and prints the grid of outcomes: pass, fail (with the \
reason), crash (with the signal), timeout, build-failed, unavailable.",
    after_help = EXIT_CODES,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// When to use colour: auto colours only a terminal (and honours NO_COLOR).
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build, import and probe every (build, runtime) NumPy pair in matrix.toml.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Write a commented starter matrix.toml.
    Init(InitArgs),
    /// Show or clean the cache of environments and builds.
    Cache(CacheArgs),
    /// List every Python interpreter found (PATH, pyenv, uv), and why any
    /// candidate was rejected.
    Pythons(PythonsArgs),
}

#[derive(Debug, Args)]
pub struct PythonsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The matrix to run.
    #[arg(short, long, value_name = "FILE", default_value = "matrix.toml")]
    pub config: PathBuf,

    /// Jobs to run at once (environments, compiles, probes); overrides run.jobs.
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    /// Keep the temporary virtual environments and builds, and print where.
    #[arg(long)]
    pub keep_envs: bool,

    /// Also write the results, every cell with its log, as JSON to PATH.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// What makes environments: uv when it can be had, else venv + pip.
    #[arg(long, value_enum, default_value_t = InstallerChoice::Auto)]
    pub installer: InstallerChoice,

    /// No progress output; only the report.
    #[arg(short, long)]
    pub quiet: bool,

    /// How cells are isolated: fork (children of a per-environment server
    /// that imported NumPy once; fast) or process (a new Python per cell).
    /// Overrides run.isolation.
    #[arg(long, value_enum)]
    pub isolation: Option<Isolation>,

    /// Ignore the cache: make every environment and build in temporary
    /// directories, removed at the end (unless --keep-envs).
    #[arg(long)]
    pub fresh: bool,

    /// Where cached environments and builds live [default: $ABIMATRIX_CACHE_DIR, else ~/.cache/abimatrix].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub action: CacheAction,

    /// The cache to act on [default: $ABIMATRIX_CACHE_DIR, else ~/.cache/abimatrix].
    #[arg(long, value_name = "DIR", global = true)]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// Where the cache is and what it holds.
    Info,
    /// Remove every cached environment and build (and abimatrix's own uv).
    Clean,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(default_value = "matrix.toml")]
    pub path: PathBuf,

    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl ColorWhen {
    /// Sets the choice for every `anstream` writer in the process.
    pub fn apply(self) {
        let choice = match self {
            ColorWhen::Auto => anstream::ColorChoice::Auto,
            ColorWhen::Always => anstream::ColorChoice::Always,
            ColorWhen::Never => anstream::ColorChoice::Never,
        };
        choice.write_global();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
