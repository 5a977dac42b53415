//! Live progress while the run goes: indicatif bars for environments,
//! builds and cells on a terminal, one plain line per update otherwise (CI
//! logs). Purely an output concern: the runner knows nothing of it. The text
//! of every line is made by pure functions ([`header_text`], [`line`]) so it
//! can be tested without a terminal.

use std::io::Write as _;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pep440_rs::Version;

use crate::extension::SubjectKind;
use crate::outcome::OutcomeKind;
use crate::plan::{AxisEntry, RunHeader};
use crate::python::InstallError;
use crate::results::CellDoc;
use crate::runner::{BuildRecord, Built};

use super::sanitize::shown;

/// What progress is told, with cells already judged.
#[derive(Debug, Clone, Copy)]
pub enum Update<'a> {
    EnvStarted {
        grid: usize,
        version: &'a Version,
    },
    EnvFinished {
        grid: usize,
        version: &'a Version,
        result: &'a Result<(Duration, bool), InstallError>,
    },
    BuildStarted {
        grid: usize,
        row: &'a str,
    },
    BuildFinished(&'a BuildRecord),
    Cell(&'a CellDoc),
    Finished(Duration),
}

pub enum Progress {
    Bars {
        multi: MultiProgress,
        envs: ProgressBar,
        builds: ProgressBar,
        cells: ProgressBar,
    },
    /// A log: one line per update, and a heartbeat when it goes quiet.
    Lines(Log),
    Quiet,
}

/// How often a quiet log says what is still going on: a CI job that prints
/// nothing for minutes looks hung, and some systems kill it.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// What the log form keeps between lines.
#[derive(Debug, Default)]
pub struct Log {
    /// Interpreter labels by grid.
    labels: Vec<String>,
    /// Rows are published packages, not builds.
    packages: bool,
    /// In a GitHub Actions job: the progress goes in a collapsed group.
    github: bool,
    /// Environments and builds started and not finished, with when.
    running: Vec<(String, Instant)>,
    planned: usize,
    done: usize,
    last: Option<Instant>,
}

impl Log {
    fn print(&mut self, text: &str) {
        eprintln_locked(text);
        self.last = Some(Instant::now());
    }

    fn track(&mut self, update: &Update<'_>) {
        let py = |grid: usize| self.labels.get(grid).cloned().unwrap_or_default();
        match *update {
            Update::EnvStarted { grid, version } => self.running.push((
                format!("env {} · numpy {version}", py(grid)),
                Instant::now(),
            )),
            Update::EnvFinished { grid, version, .. } => {
                let name = format!("env {} · numpy {version}", py(grid));
                self.running.retain(|(n, _)| *n != name);
            }
            Update::BuildStarted { grid, row } => self
                .running
                .push((format!("build {} · {row}", py(grid)), Instant::now())),
            Update::BuildFinished(b) => {
                let name = format!("build {} · {}", py(b.grid), b.row);
                self.running.retain(|(n, _)| *n != name);
            }
            Update::Cell(_) => self.done += 1,
            Update::Finished(_) => {}
        }
    }
}

impl Progress {
    pub fn new(terminal: bool, quiet: bool) -> Progress {
        if quiet {
            return Progress::Quiet;
        }
        if !terminal {
            return Progress::Lines(Log {
                github: super::github::enabled(),
                ..Log::default()
            });
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("{prefix:>12.bold} [{bar:30}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        let bar = |name: &str| {
            let b = multi.add(ProgressBar::new(0));
            b.set_style(style.clone());
            b.set_prefix(name.to_string());
            b
        };
        Progress::Bars {
            envs: bar("environments"),
            builds: bar("builds"),
            cells: bar("cells"),
            multi,
        }
    }

    /// The run is planned: show the resolved table.
    pub fn started(&mut self, h: &RunHeader) {
        match self {
            Progress::Quiet => {}
            Progress::Lines(log) => {
                log.labels = h.grids.iter().map(|g| g.interpreter.label()).collect();
                log.packages = h.subject == SubjectKind::Packages;
                log.planned = h.planned();
                log.print(&shown(&header_text(h)));
                if log.github {
                    log.print(&super::github::group(&format!(
                        "abimatrix: {} cell(s), environments and builds",
                        h.planned()
                    )));
                }
            }
            Progress::Bars {
                multi,
                envs,
                builds,
                cells,
            } => {
                envs.set_length(h.grids.iter().map(|g| g.versions().len() as u64).sum());
                builds.set_length(
                    h.grids
                        .iter()
                        .map(|g| {
                            g.build_axis
                                .iter()
                                .filter(|a| !matches!(a, AxisEntry::Missing { .. }))
                                .count() as u64
                        })
                        .sum(),
                );
                cells.set_length(h.planned() as u64);
                let _ = multi.println(shown(&header_text(h)));
            }
        }
    }

    pub fn on(&mut self, update: Update<'_>) {
        match self {
            Progress::Quiet => {}
            Progress::Lines(log) => {
                log.track(&update);
                if let Some(text) = line(&log.labels, log.packages, update) {
                    log.print(&shown(&text));
                }
                if matches!(update, Update::Finished(_)) && log.github {
                    log.print(super::github::END_GROUP);
                    log.github = false;
                }
            }
            Progress::Bars {
                multi,
                envs,
                builds,
                cells,
            } => match update {
                Update::EnvStarted { version, .. } => envs.set_message(format!("numpy {version}")),
                Update::EnvFinished {
                    version, result, ..
                } => {
                    envs.inc(1);
                    if let Err(e) = result {
                        let _ = multi.println(shown(&format!("numpy {version}: {e}")));
                    }
                }
                Update::BuildStarted { row, .. } => builds.set_message(row.to_string()),
                Update::BuildFinished(b) => {
                    builds.inc(1);
                    match &b.result {
                        Err(e) => {
                            let _ = multi.println(shown(&format!(
                                "{} not made: {}",
                                b.row,
                                e.summary()
                            )));
                        }
                        Ok(Built {
                            uncached: Some(why),
                            ..
                        }) => {
                            let _ = multi.println(shown(&format!(
                                "{} not cached, made again every run: {why}",
                                b.row
                            )));
                        }
                        Ok(_) => {}
                    }
                }
                Update::Cell(c) => {
                    cells.inc(1);
                    cells.set_message(format!("{} → {} {}", c.build, c.runtime, c.outcome));
                }
                Update::Finished(_) => {}
            },
        }
    }

    /// In a log quiet for [`HEARTBEAT`], a line of what is still going on.
    pub fn heartbeat(&mut self) {
        let Progress::Lines(log) = self else { return };
        if log.last.is_some_and(|t| t.elapsed() < HEARTBEAT) {
            return;
        }
        let text = heartbeat_text(&log.running, log.done, log.planned, Instant::now());
        log.print(&text);
    }

    /// Removes the bars so the report prints on a clean screen (and closes
    /// a log's group, if an interrupt came before the end).
    pub fn finish(&mut self) {
        if let Progress::Lines(log) = self
            && log.github
        {
            log.print(super::github::END_GROUP);
            log.github = false;
        }
        if let Progress::Bars {
            multi,
            envs,
            builds,
            cells,
        } = self
        {
            for b in [envs, builds, cells] {
                b.finish_and_clear();
            }
            let _ = multi.clear();
        }
    }
}

fn eprintln_locked(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// The resolved table, shown before any work: per interpreter, the NumPy
/// versions of each axis and what has no wheel there.
pub fn header_text(h: &RunHeader) -> String {
    let mut s = format!("{} · {} · {} jobs", h.extension, h.installer, h.jobs);
    let list = |axis: &[AxisEntry]| {
        axis.iter()
            .map(|a| match a {
                AxisEntry::Missing { request, .. } => format!("{request} (unavailable)"),
                _ if a.yanked().is_some() => format!("{} (yanked)", a.label()),
                AxisEntry::Numpy { origin, .. } if origin.wheel.is_some() => {
                    format!("{} (local wheel)", a.label())
                }
                other => other.label(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    for g in &h.grids {
        s.push_str(&format!(
            "\n{} ({}, from {})\n  build:   {}\n  runtime: {}",
            g.interpreter.label(),
            g.interpreter.executable.display(),
            g.source,
            list(&g.build_axis),
            list(&g.runtime_axis)
        ));
        if !g.skipped.is_empty() {
            s.push_str(&format!("\n  no wheel: {}", g.skipped.join(", ")));
        }
        if g.builds_only {
            s.push_str("\n  builds only: the matrix's rows are made on this Python; this run has none of its cells");
        }
    }
    for note in &h.notes {
        s.push_str(&format!("\nnote: {note}"));
    }
    s
}

/// "still working: build CPython 3.11.7 · 2.0.2 for 2m05s; 4 of 12 cells done".
pub fn heartbeat_text(
    running: &[(String, Instant)],
    done: usize,
    planned: usize,
    now: Instant,
) -> String {
    let work: Vec<String> = running
        .iter()
        .map(|(name, since)| {
            let s = now.saturating_duration_since(*since).as_secs();
            format!("{name} for {}m{:02}s", s / 60, s % 60)
        })
        .collect();
    let cells = format!("{done} of {planned} cells done");
    if work.is_empty() {
        format!("still working: {cells}")
    } else {
        format!("still working: {}; {cells}", work.join(", "))
    }
}

/// The non-terminal form of an update: one line, or nothing for updates a
/// log does not need. `packages`: rows are published packages (installed),
/// not builds against a NumPy.
pub fn line(labels: &[String], packages: bool, update: Update<'_>) -> Option<String> {
    let py = |grid: usize| labels.get(grid).map_or("", String::as_str);
    // "build CPython 3.11.7 · against numpy 2.0.2", "row   CPython 3.11.7 · pandas 2.0.3".
    let row = |grid: usize, r: &str| {
        if packages {
            format!("row   {} · {r}", py(grid))
        } else {
            format!("build {} · against numpy {r}", py(grid))
        }
    };
    Some(match update {
        // Said when work starts (not for what the cache holds), so a long
        // step in a CI log is not silent.
        Update::EnvStarted { grid, version } => {
            format!("env   {} · numpy {version} being made", py(grid))
        }
        Update::BuildStarted { grid, row: r } => format!("{} started", row(grid, r)),
        Update::EnvFinished {
            grid,
            version,
            result,
        } => match result {
            Ok((d, reused)) => format!(
                "env   {} · numpy {version} {} in {:.1}s",
                py(grid),
                if *reused {
                    "reused from the cache"
                } else {
                    "ready"
                },
                d.as_secs_f64()
            ),
            Err(e) => format!("env   {} · numpy {version} unavailable: {e}", py(grid)),
        },
        Update::BuildFinished(b) => match &b.result {
            Ok(built) => {
                let how = if built.reused {
                    "reused from the cache".to_string()
                } else {
                    format!("ok in {:.1}s", built.duration.as_secs_f64())
                };
                let forced = if built.forced.is_some() {
                    format!(" ({})", crate::results::declared::FORCED)
                } else {
                    String::new()
                };
                let uncached = built
                    .uncached
                    .as_ref()
                    .map(|why| format!("; not cached, made again every run: {why}"))
                    .unwrap_or_default();
                format!("{} {how}{forced}{uncached}", row(b.grid, &b.row))
            }
            Err(e) if e.is_forbidden() => {
                format!("{} not built: {}", row(b.grid, &b.row), e.summary())
            }
            Err(e) => format!("{} FAILED: {}", row(b.grid, &b.row), e.summary()),
        },
        Update::Cell(c) => {
            let reason = c.reason.map(|r| format!(" ({r})")).unwrap_or_default();
            let flag = if c.met { "" } else { "  UNEXPECTED" };
            let time = if c.outcome == OutcomeKind::Unavailable {
                String::new()
            } else {
                format!(" {:.2}s", c.duration_s)
            };
            format!(
                "cell  {} · {} → {}: {}{reason}{time}{flag}",
                c.interpreter, c.build, c.runtime, c.outcome
            )
        }
        Update::Finished(duration) => format!("done in {:.1}s", duration.as_secs_f64()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{BuildError, BuildFailure};
    use crate::outcome::OutcomeKind;
    use crate::report::fixtures;
    use std::str::FromStr;

    #[test]
    fn a_heartbeat_says_what_runs_and_for_how_long() {
        let now = Instant::now();
        let running = vec![(
            "build CPython 3.11.7 · 2.0.2".to_string(),
            now - Duration::from_secs(125),
        )];
        assert_eq!(
            heartbeat_text(&running, 4, 12, now),
            "still working: build CPython 3.11.7 · 2.0.2 for 2m05s; 4 of 12 cells done"
        );
        assert_eq!(
            heartbeat_text(&[], 0, 3, now),
            "still working: 0 of 3 cells done"
        );
        // Started and finished work is no longer listed.
        let mut log = Log {
            labels: vec!["CPython 3.11.7".into()],
            ..Log::default()
        };
        log.track(&Update::BuildStarted {
            grid: 0,
            row: "2.0.2",
        });
        assert_eq!(log.running.len(), 1);
        let record = BuildRecord {
            grid: 0,
            row: "2.0.2".into(),
            result: Ok(Built {
                reused: false,
                duration: Duration::from_secs(1),
                log: String::new(),
                declares: None,
                tag: None,
                forced: None,
                uncached: None,
            }),
        };
        log.track(&Update::BuildFinished(&record));
        assert!(log.running.is_empty());
    }

    #[test]
    fn the_resolved_table() {
        insta::assert_snapshot!(header_text(&fixtures::header()));
    }

    #[test]
    fn one_line_per_update() {
        let labels = vec!["CPython 3.11.7".to_string()];
        let v = Version::from_str("2.0.2").unwrap();
        let ok: Result<(Duration, bool), InstallError> = Ok((Duration::from_millis(1500), false));
        let reused: Result<(Duration, bool), InstallError> = Ok((Duration::from_millis(10), true));
        let failed: Result<(Duration, bool), InstallError> = Err(InstallError::NoWheel {
            requirement: "numpy==2.0.2".into(),
            detail: String::new(),
        });
        let built = |reused: bool| BuildRecord {
            grid: 0,
            row: "2.0.2".into(),
            result: Ok(Built {
                reused,
                duration: Duration::from_millis(2100),
                log: String::new(),
                declares: None,
                tag: None,
                forced: None,
                uncached: None,
            }),
        };
        let broken = BuildRecord {
            grid: 0,
            row: "2.4.6".into(),
            result: Err(BuildError::from(BuildFailure::Step {
                what: None,
                line: "src/ext.c:14:27: error: 'PyArray_Foo' undeclared".into(),
            })),
        };
        let doc = fixtures::every_outcome();
        let mut updates = vec![
            Update::EnvStarted {
                grid: 0,
                version: &v,
            },
            Update::EnvFinished {
                grid: 0,
                version: &v,
                result: &ok,
            },
            Update::EnvFinished {
                grid: 0,
                version: &v,
                result: &reused,
            },
            Update::EnvFinished {
                grid: 0,
                version: &v,
                result: &failed,
            },
            Update::BuildStarted {
                grid: 0,
                row: "2.0.2",
            },
        ];
        let (a, b) = (built(false), built(true));
        let mut c = built(false);
        if let Ok(made) = &mut c.result {
            made.uncached = Some("/dev/stdin (which it read) is a character device".into());
        }
        updates.push(Update::BuildFinished(&a));
        updates.push(Update::BuildFinished(&b));
        updates.push(Update::BuildFinished(&c));
        updates.push(Update::BuildFinished(&broken));
        for kind in OutcomeKind::ALL {
            for c in doc.cells.iter().filter(|c| c.outcome == kind) {
                updates.push(Update::Cell(c));
            }
        }
        updates.push(Update::Finished(Duration::from_millis(3250)));
        let lines: Vec<String> = updates
            .into_iter()
            .filter_map(|u| line(&labels, false, u))
            .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }
}
