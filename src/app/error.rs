//! How a command ends when it does not end well, as nextest's
//! `ExpectedError`: one variant per way, wrapping the library's typed
//! error, each owning its exit status ([`CommandError::exit_status`]), its
//! hints and its rendering. Commands return it; only `main` prints it
//! ([`CommandError::display_to_stderr`]) and exits with its status.

use std::fmt;
use std::io::Write as _;
use std::path::PathBuf;

use super::files::WriteError;
use crate::cache::lock::LockError;
use crate::config::ConfigError;
use crate::doctor::DoctorError;
use crate::exit::ExitStatus;
use crate::plan::PlanError;
use crate::probe::rerun::RerunError;
use crate::python::PythonRequestError;
use crate::report::sanitize::shown;
use crate::results::document::LoadError;
use crate::results::merge::MergeError;
use crate::runner::RunError;

/// Why a command did not end with exit status 0.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// What was found is not what was expected (a cell, a diagnosed
    /// package, a comparison, a damaged cache entry): the command's own
    /// output says what, so nothing more is printed.
    #[error("not as expected")]
    Unmet,
    /// Ctrl-C or SIGTERM; what was gathered is written.
    #[error("interrupted")]
    Interrupted,
    /// The config cannot be read; `missing`: there is no file at all.
    #[error("{error}")]
    Config { error: ConfigError, missing: bool },
    #[error("--python {value}: {error}")]
    Python {
        value: String,
        error: PythonRequestError,
    },
    /// Planning stopped: the config's mistake or the machine's.
    #[error(transparent)]
    Plan(PlanError),
    /// A results file named on the command line.
    #[error(transparent)]
    Results(LoadError),
    /// The results `explain` reads when none is named: there may be no run
    /// yet.
    #[error(transparent)]
    NoLastRun(LoadError),
    /// `--resume` of a matrix that changed since its journal was written.
    #[error("cannot resume: since the interrupted run, {} changed (journal {})", changed.join(", "), journal.display())]
    Resume {
        changed: Vec<String>,
        journal: PathBuf,
    },
    #[error(transparent)]
    Run(RunError),
    /// The disk filled up under a cell: the machine's fault, not NumPy's.
    #[error("the disk filled up ({build} → {runtime} is {outcome}): {line}")]
    DiskFull {
        build: String,
        runtime: String,
        outcome: crate::outcome::OutcomeKind,
        /// The line of the cell's log that says so.
        line: String,
        cache: PathBuf,
    },
    /// Files that could not be written (each one tried); `kept`: where the
    /// results are kept all the same.
    #[error("{}", failed.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Write {
        failed: Vec<WriteError>,
        kept: Option<PathBuf>,
    },
    #[error(transparent)]
    Merge(MergeError),
    /// `diff` whose later results are not whole.
    #[error("{} is incomplete: {why}", path.display())]
    DiffIncomplete { path: PathBuf, why: String },
    /// `merge` of shards that are not all there (written all the same).
    #[error("the merged grid is incomplete: {why}")]
    MergeIncomplete { why: String },
    /// `explain` without `--results` outside a project.
    #[error("there is no {} here{}, so there is no last run of it to explain", config.display(), here.as_ref().map(|h| format!(" ({})", h.display())).unwrap_or_default())]
    NotAProject {
        config: PathBuf,
        here: Option<PathBuf>,
        /// The command to suggest, quoted for a shell.
        command: String,
        /// The machine's last run, and what it was of, when it reads.
        last: Option<(PathBuf, String)>,
    },
    #[error("{}", match want { Some(w) => format!("no grid for Python {w} in {}: it holds {pythons}", path.display()), None => format!("{} holds no grid", path.display()) })]
    NoGrid {
        path: PathBuf,
        want: Option<String>,
        pythons: String,
    },
    #[error("no cell {build} → {runtime} in the {label} grid of {}", path.display())]
    NoCell {
        build: String,
        runtime: String,
        label: String,
        path: PathBuf,
        /// Cells of that grid, to choose from.
        cells: Vec<String>,
        /// The other grids' Pythons, when there are other grids.
        others: Option<String>,
    },
    #[error("cannot create a folder for the cell's files: {0}")]
    Workdir(std::io::Error),
    #[error(transparent)]
    Rerun(RerunError),
    /// `init` over an existing file.
    #[error("{} already exists", .0.display())]
    Exists(PathBuf),
    #[error(transparent)]
    Lock(LockError),
    #[error("cannot remove {}: {source}", path.display())]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Doctor(DoctorError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// More than one of the above, each said in turn; the first's status.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<CommandError>),
}

/// One line of what an error prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Hint,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Hint => "hint",
        }
    }

    fn style(self) -> anstyle::Style {
        match self {
            Level::Error => anstyle::AnsiColor::Red.on_default().bold(),
            Level::Hint => anstyle::AnsiColor::Cyan.on_default().bold(),
        }
    }
}

impl CommandError {
    /// The documented status this ending exits with.
    pub fn exit_status(&self) -> ExitStatus {
        use CommandError as E;
        match self {
            E::Unmet | E::DiffIncomplete { .. } | E::MergeIncomplete { .. } => {
                ExitStatus::Unexpected
            }
            E::Interrupted => ExitStatus::Interrupted,
            E::Plan(e) if e.is_config() => ExitStatus::Usage,
            E::Config { .. }
            | E::Python { .. }
            | E::Results(_)
            | E::NoLastRun(_)
            | E::Resume { .. }
            | E::Merge(_)
            | E::NotAProject { .. }
            | E::NoGrid { .. }
            | E::NoCell { .. }
            | E::Exists(_) => ExitStatus::Usage,
            E::Plan(_)
            | E::Run(_)
            | E::DiskFull { .. }
            | E::Write { .. }
            | E::Workdir(_)
            | E::Rerun(_)
            | E::Lock(_)
            | E::Remove { .. }
            | E::Doctor(_)
            | E::Runtime(_) => ExitStatus::Environment,
            E::Several(all) => all
                .first()
                .map_or(ExitStatus::Environment, CommandError::exit_status),
        }
    }

    /// What the user can do about it, in order (most have one, or none).
    pub fn hints(&self) -> Vec<String> {
        use CommandError as E;
        let one = |h: &str| vec![h.to_string()];
        match self {
            E::Config { missing: true, .. } => one(
                "create one with `matrix init` (or a [tool.abimatrix] table in pyproject.toml), or name another with -c FILE",
            ),
            E::Plan(e) => e.hint().map(one).unwrap_or_default(),
            E::NoLastRun(_) => one("run `matrix run` first, or name a results file with --results"),
            E::Resume { .. } => one(
                "--resume continues the same matrix; run without --resume to start it afresh (changed expectations are fine: cells are judged again)",
            ),
            E::Run(e) => e.hint().map(one).unwrap_or_default(),
            E::DiskFull { cache, .. } => vec![format!(
                "free space there, or point --cache-dir at another disk (the cache is {}, temporary files go to {})",
                cache.display(),
                std::env::temp_dir().display()
            )],
            E::Write {
                kept: Some(kept), ..
            } => vec![format!(
                "the results are kept in {}; `matrix report {0} --format FORMAT -o PATH` writes them again",
                kept.display()
            )],
            E::MergeIncomplete { .. } => one(
                "merge the results of every shard `matrix plan` listed (a CI job that died uploads none)",
            ),
            E::NotAProject { command, last, .. } => vec![match last {
                Some((path, what)) => format!(
                    "the last run on this machine ({what}) is {}: `{command} --results {}`; or run it from the project's folder (or with -c FILE)",
                    path.display(),
                    crate::process::quote(&path.to_string_lossy())
                ),
                None => format!(
                    "run it from the project's folder (or with -c FILE), or name a results file: `{command} --results FILE`"
                ),
            }],
            E::NoGrid { .. } => {
                one("name one of its Pythons with --python (a version or its prefix, e.g. 3.11)")
            }
            E::NoCell {
                label,
                cells,
                others,
                ..
            } => {
                let mut hints = vec![format!(
                    "cells of {label} there include: {}",
                    cells.join(", ")
                )];
                if let Some(others) = others {
                    hints.push(format!("it also holds {others}: name one with --python"));
                }
                hints
            }
            E::Workdir(_) => one("name one with --keep DIR"),
            E::Exists(_) => one("use --force to overwrite it"),
            E::Doctor(e) => e.hint().map(one).unwrap_or_default(),
            E::Several(all) => all.iter().flat_map(CommandError::hints).collect(),
            _ => Vec::new(),
        }
    }

    /// Every line this error prints, in order: each error, then its hints.
    pub fn lines(&self) -> Vec<(Level, String)> {
        match self {
            CommandError::Unmet | CommandError::Interrupted => Vec::new(),
            CommandError::Several(all) => all.iter().flat_map(CommandError::lines).collect(),
            // Each file on its own line: one may fail for a reason of its own.
            CommandError::Write { failed, .. } => failed
                .iter()
                .map(|f| (Level::Error, f.to_string()))
                .chain(self.hints().into_iter().map(|h| (Level::Hint, h)))
                .collect(),
            _ => std::iter::once((Level::Error, self.to_string()))
                .chain(self.hints().into_iter().map(|h| (Level::Hint, h)))
                .collect(),
        }
    }

    /// Prints the error on stderr, `word: message` with the word in its
    /// colour. Errors quote what children wrote (uv's stderr, a compiler's
    /// last line), so each line goes through the sanitizer whole.
    pub fn display_to_stderr(&self) {
        let mut err = anstream::stderr();
        for (level, line) in self.lines() {
            let style = level.style();
            let _ = writeln!(err, "{style}{}{style:#}: {}", level.word(), shown(&line));
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl From<PlanError> for CommandError {
    fn from(e: PlanError) -> CommandError {
        CommandError::Plan(e)
    }
}

impl From<RunError> for CommandError {
    fn from(e: RunError) -> CommandError {
        CommandError::Run(e)
    }
}

impl From<DoctorError> for CommandError {
    fn from(e: DoctorError) -> CommandError {
        CommandError::Doctor(e)
    }
}

impl From<MergeError> for CommandError {
    fn from(e: MergeError) -> CommandError {
        CommandError::Merge(e)
    }
}

impl From<LockError> for CommandError {
    fn from(e: LockError) -> CommandError {
        CommandError::Lock(e)
    }
}

impl From<RerunError> for CommandError {
    fn from(e: RerunError) -> CommandError {
        CommandError::Rerun(e)
    }
}

impl From<WriteError> for CommandError {
    fn from(e: WriteError) -> CommandError {
        CommandError::Write {
            failed: vec![e],
            kept: None,
        }
    }
}

#[cfg(test)]
mod tests {
    //! What a user reads on stderr for each exit status, pinned: every
    //! line of a representative ending of each (the words `main` prints,
    //! without colour). `cargo insta review` shows a change.
    use super::*;

    fn shown(e: &CommandError) -> String {
        let lines: String = e
            .lines()
            .iter()
            .map(|(level, line)| format!("{level}: {line}\n"))
            .collect();
        let tmp = std::env::temp_dir().display().to_string();
        format!("exit {}\n{}", e.exit_status().code(), lines).replace(&tmp, "$TMPDIR")
    }

    #[test]
    fn the_error_of_each_exit_status() {
        let missing = || std::io::Error::from_raw_os_error(nix::libc::ENOENT);
        let full = || std::io::Error::from_raw_os_error(nix::libc::ENOSPC);
        let endings = [
            CommandError::Unmet,
            CommandError::MergeIncomplete {
                why: "missing shard 2/3".into(),
            },
            CommandError::Config {
                error: ConfigError::whole_file(
                    std::path::Path::new("matrix.toml"),
                    format!("cannot read the file: {}", missing()),
                ),
                missing: true,
            },
            CommandError::NoCell {
                build: "2.0.2".into(),
                runtime: "9.9".into(),
                label: "CPython 3.11.7".into(),
                path: "results.json".into(),
                cells: vec!["2.0.2 1.26.4".into(), "2.0.2 2.0.2".into()],
                others: Some("CPython 3.11.7, CPython 3.12.1".into()),
            },
            CommandError::Several(vec![
                CommandError::Write {
                    failed: vec![
                        WriteError {
                            path: "/dev/full".into(),
                            source: full(),
                        },
                        WriteError {
                            path: "no-such-dir/grid.html".into(),
                            source: missing(),
                        },
                    ],
                    kept: Some("/cache/v2/results/ab12.json".into()),
                },
                CommandError::Interrupted,
            ]),
            CommandError::DiskFull {
                build: "2.0.2".into(),
                runtime: "1.26.4".into(),
                outcome: crate::outcome::OutcomeKind::Unavailable,
                line: "OSError: [Errno 28] No space left on device".into(),
                cache: "/small/cache".into(),
            },
            CommandError::Run(RunError::TempDir(full())),
            CommandError::Interrupted,
        ];
        let out: String = endings.iter().map(shown).collect::<Vec<_>>().join("\n");
        insta::assert_snapshot!("errors-by-exit-status", out);
    }

    /// Children's words in an error reach the terminal as text, never as
    /// its commands.
    #[test]
    fn an_error_quoting_a_child_is_sanitized_whole() {
        let e = CommandError::DiskFull {
            build: "2.0.2".into(),
            runtime: "1.26.4".into(),
            outcome: crate::outcome::OutcomeKind::BuildFailed,
            line: "No space left on device \u{1b}]0;pwned\u{7}".into(),
            cache: "/c".into(),
        };
        let (_, line) = &e.lines()[0];
        assert!(!crate::report::sanitize::shown(line).contains('\u{1b}'));
    }
}
