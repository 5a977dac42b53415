//! Command-line arguments, and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::{self, Audience};
use crate::plan::{Selector, Shard};
use crate::probe::Isolation;
use crate::python::InstallerChoice;
use crate::report::Format;

#[derive(Debug, Parser)]
#[command(
    name = "matrix",
    version,
    about = "Which NumPy was your extension built against, which NumPy will import it, and does that pair work?",
    long_about = "abimatrix builds a C extension that uses the NumPy C API against several NumPy \
versions, imports and exercises each build under several NumPy versions (each in its own \
process and virtual environment), and prints the grid of outcomes: pass, fail (with the \
reason), crash (with the signal), timeout, build-failed, unavailable.",
    after_help = exit::help(Audience::Grid),
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
    #[command(after_help = exit::help(Audience::Grid))]
    Run(RunArgs),
    /// Write a commented starter matrix.toml.
    Init(InitArgs),
    /// Render a saved results file as text, JSON, JUnit, Markdown or HTML
    /// (exit 1 when a cell in it was unexpected, as `run` would).
    Report(ReportArgs),
    /// Cells that got worse or better between two results files (exit 1 if any got worse).
    Diff(DiffArgs),
    /// Split the matrix into N shards for a CI system's job matrix.
    Plan(PlanArgs),
    /// Join the results of the shards of one matrix into one.
    Merge(MergeArgs),
    /// Show or clean the cache of environments and builds.
    Cache(CacheArgs),
    /// Everything about one cell: environment, exact commands, logs, to
    /// reproduce it by hand.
    Explain(ExplainArgs),
    /// List every Python interpreter found (PATH, pyenv, uv), and why any
    /// candidate was rejected.
    Pythons(PythonsArgs),
    /// Examine an existing environment (read-only): which installed package
    /// that uses NumPy's C API fails to import under its NumPy, why, and
    /// what fixes it, measured in abimatrix's own environments.
    #[command(after_help = exit::help(Audience::Doctor))]
    Doctor(DoctorArgs),
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The environment's interpreter [default: $VIRTUAL_ENV/bin/python, else python3 on PATH].
    #[arg(long, short = 'p', value_name = "PATH")]
    pub python: Option<PathBuf>,

    /// Write the whole diagnosis as JSON.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Write the diagnosis as Markdown, with an issue report for each
    /// package whose declared NumPy requirement is wrong.
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,

    /// Each package's trial (and each grid cell) is killed after this long.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,

    /// Only find and try the packages; do not measure fixes (no download,
    /// no environment made).
    #[arg(long)]
    pub no_remedy: bool,

    /// Trials and grid jobs at once [default: one per core].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    /// Where abimatrix's own environments live [default: $ABIMATRIX_CACHE_DIR, else ~/.cache/abimatrix].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Never use the network: release lists and the fixes' wheels come from
    /// what earlier runs left in the cache (and uv's), and what is missing
    /// is named. Also set by UV_OFFLINE.
    #[arg(long)]
    pub offline: bool,

    /// No progress output while fixes are measured.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct PythonsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The cache whose uv and remembered interpreters to use
    /// [default: $ABIMATRIX_CACHE_DIR, else ~/.cache/abimatrix].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
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

    #[command(flatten)]
    pub outputs: Outputs,

    /// Compare with an earlier results file: list cells that got worse or
    /// better, and exit 1 if any got worse.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Run only shard K of N (see `matrix plan`, which lists each shard's
    /// Pythons and columns).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,

    /// Print the cells (and what each is expected to do) without building
    /// or running anything.
    #[arg(long)]
    pub list: bool,

    /// Run only the cells EXPR picks: `[PYTHON/]BUILD[:RUNTIME]`, each part
    /// a glob (`2.0.*`), PEP 440 specifiers (`>=2`) or empty; repeat for
    /// more (`-k 2.0.2:1.26.*`, `-k ':>=2'`, `-k '3.12/<2:2.*'`).
    #[arg(short = 'k', long = "select", value_name = "EXPR")]
    pub select: Vec<Selector>,

    /// Use only these Pythons: narrows the config's [python] (a version
    /// like 3.12, a range, a path or a command replaces the default python3).
    #[arg(long = "python", short = 'p', value_name = "PYTHON")]
    pub python: Vec<String>,

    /// Make the builds and stop: no runtime environment, no cell. With
    /// --artifacts, into that folder (for CI jobs that test them).
    #[arg(long, conflicts_with_all = ["list", "resume", "rerun_failed"])]
    pub build_only: bool,

    /// A folder of builds made by `run --build-only --artifacts DIR`: builds
    /// are taken from it (checked by the same keys as the cache) and made
    /// there when missing.
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,

    /// Continue an interrupted run of this matrix: run only the cells its
    /// journal does not hold, and report all of them.
    #[arg(long)]
    pub resume: bool,

    /// Run wheel rows even under NumPy versions their metadata forbids
    /// (otherwise such cells are reported unavailable, with the reason).
    #[arg(long)]
    pub ignore_requires: bool,

    /// Re-run only the cells that did not pass in FILE (default: this
    /// config's last run), and report them with the cells that passed.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "")]
    pub rerun_failed: Option<PathBuf>,

    /// What makes environments: uv when it can be had, else venv + pip.
    #[arg(long, value_enum, default_value_t = InstallerChoice::Auto)]
    pub installer: InstallerChoice,

    /// No progress output; only the report.
    #[arg(short, long)]
    pub quiet: bool,

    /// Print only the answer, not the grid: per build, the runtime NumPy
    /// range it works on; per runtime, the oldest build it runs.
    #[arg(long)]
    pub summary: bool,

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

    /// Never use the network: versions, interpreters and environments come
    /// from the cache (and uv's), and what is missing is an error naming it.
    /// Also set by UV_OFFLINE.
    #[arg(long, conflicts_with = "refresh")]
    pub offline: bool,

    /// Ask the package index again for what a day-old answer would give
    /// (the newest release of a series or range, `latest`, a package row).
    #[arg(long)]
    pub refresh: bool,
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
    /// Check every cached environment, build and stored NumPy file to the
    /// last byte (every file's SHA-256); remove the damaged ones, which the
    /// next run makes again, and the stored files no environment uses.
    Verify,
}

/// Report files a run (or `matrix report`) can write.
#[derive(Debug, Args, Default)]
pub struct Outputs {
    /// Write the results, every cell with its log, as JSON.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Write JUnit XML: a test case per cell.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Write the grid as Markdown (for a CI step summary).
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
    /// Write a self-contained HTML page of the grid with every cell's log.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A results file written by `matrix run --json` or `matrix merge`.
    pub results: PathBuf,
    /// The format to render.
    #[arg(long, short, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Only the answer, as text: per build, the runtime NumPy range it
    /// works on; per runtime, the oldest build it runs.
    #[arg(long, conflicts_with = "format")]
    pub summary: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The row: the build NumPy version (or a wheel/requirement row's label).
    pub build: String,
    /// The column: the runtime NumPy version.
    pub runtime: String,
    /// Which interpreter's grid, by version prefix ("3.11") [default: the first].
    #[arg(long)]
    pub python: Option<String>,
    /// A results file [default: the last run of the config, else the last
    /// run on this machine].
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// The cache the run kept its results in, as given to `run --cache-dir`
    /// [default: $ABIMATRIX_CACHE_DIR, else ~/.cache/abimatrix].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The config whose last run to explain.
    #[arg(short, long, value_name = "FILE", default_value = "matrix.toml")]
    pub config: PathBuf,
    /// Write what the printed probe or test command needs to run again (the
    /// probe, its result file, a test command's scripts) into DIR, and keep
    /// it [default: a new folder in the temporary directory, named in the
    /// output].
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier results.
    pub old: PathBuf,
    /// The later results.
    pub new: PathBuf,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The matrix to split.
    #[arg(short, long, value_name = "FILE", default_value = "matrix.toml")]
    pub config: PathBuf,
    /// How many shards (CI jobs) to split the matrix into; never more than
    /// its units (Pythons × runtime NumPy requests).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub shards: u16,
    /// As `run --python`: the Pythons to plan for.
    #[arg(long = "python", short = 'p', value_name = "PYTHON")]
    pub python: Vec<String>,
    /// What to print.
    #[arg(long, value_enum, default_value_t = PlanFormat::Github)]
    pub format: PlanFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// The JSON a GitHub Actions `strategy.matrix` takes (`fromJSON(...)`):
    /// each shard's `shard`, `name` and the `python` versions it needs.
    Github,
    /// Each shard, its Pythons and its cells, for people.
    Text,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Results files of the shards of one matrix.
    #[arg(required = true, num_args = 1..)]
    pub results: Vec<PathBuf>,
    /// The merged results file.
    #[arg(long, short, value_name = "PATH")]
    pub output: PathBuf,
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

    #[test]
    fn shards_are_checked_on_the_command_line() {
        let ok = Cli::try_parse_from(["matrix", "run", "--shard", "2/3"]).unwrap();
        let Command::Run(args) = ok.command else {
            panic!()
        };
        assert_eq!(args.shard, Some(Shard { index: 2, total: 3 }));
        let err = Cli::try_parse_from(["matrix", "run", "--shard", "4/3"]).unwrap_err();
        assert!(err.to_string().contains("K must be 1 to N"), "{err}");
    }
}
