//! Live progress while the run goes: indicatif bars for environments, builds
//! and cells on a terminal, one plain line per event otherwise (CI logs).
//! Purely an output concern: the runner knows nothing of it.

use std::io::Write as _;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::outcome::OutcomeKind;
use crate::runner::Event;

pub enum Progress {
    Bars {
        multi: MultiProgress,
        envs: ProgressBar,
        builds: ProgressBar,
        cells: ProgressBar,
    },
    /// Interpreter labels by grid, learnt from `Started`.
    Lines(Vec<String>),
    Quiet,
}

impl Progress {
    pub fn new(terminal: bool, quiet: bool) -> Progress {
        if quiet {
            return Progress::Quiet;
        }
        if !terminal {
            return Progress::Lines(Vec::new());
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

    pub fn on(&mut self, event: &Event) {
        match self {
            Progress::Quiet => {}
            Progress::Lines(labels) => {
                if let Event::Started(h) = event {
                    *labels = h.grids.iter().map(|g| g.interpreter.label()).collect();
                }
                line(labels, event);
            }
            Progress::Bars {
                multi,
                envs,
                builds,
                cells,
            } => match event {
                Event::Started(h) => {
                    envs.set_length(h.grids.iter().map(|g| g.versions().len() as u64).sum());
                    builds.set_length(
                        h.grids
                            .iter()
                            .map(|g| {
                                g.build_axis.iter().filter(|a| a.version.is_some()).count() as u64
                            })
                            .sum(),
                    );
                    cells.set_length(h.planned as u64);
                    let _ = multi.println(header_text(h));
                }
                Event::EnvStarted { version, .. } => envs.set_message(format!("numpy {version}")),
                Event::EnvFinished {
                    version, result, ..
                } => {
                    envs.inc(1);
                    if let Err(e) = result {
                        let _ = multi.println(format!("numpy {version}: {e}"));
                    }
                }
                Event::BuildStarted { version, .. } => {
                    builds.set_message(format!("against numpy {version}"))
                }
                Event::BuildFinished(b) => {
                    builds.inc(1);
                    if !b.ok {
                        let _ = multi.println(format!(
                            "build against numpy {} failed: {}",
                            b.version, b.summary
                        ));
                    }
                }
                Event::CellFinished(c) => {
                    cells.inc(1);
                    cells.set_message(format!("{} → {} {}", c.build, c.runtime, c.outcome.kind()));
                }
                Event::Finished { .. } => {}
            },
        }
    }

    /// Removes the bars so the report prints on a clean screen.
    pub fn finish(&self) {
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

/// The resolved table, shown before any work: per interpreter, the NumPy
/// versions of each axis and what has no wheel there.
fn header_text(h: &crate::runner::RunHeader) -> String {
    let mut s = format!("{} · {} · {} jobs", h.extension, h.installer, h.jobs);
    let list = |axis: &[crate::runner::AxisEntry]| {
        axis.iter()
            .map(|a| match &a.version {
                Some(v) => v.to_string(),
                None => format!("{} (unavailable)", a.request),
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
    }
    for note in &h.notes {
        s.push_str(&format!("\nnote: {note}"));
    }
    s
}

/// The non-terminal form: one line per event on stderr.
fn line(labels: &[String], event: &Event) {
    let py = |grid: &usize| labels.get(*grid).map_or("", String::as_str);
    let text = match event {
        Event::Started(h) => header_text(h),
        Event::EnvStarted { .. } | Event::BuildStarted { .. } => return,
        Event::EnvFinished {
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
        Event::BuildFinished(b) if b.ok && b.reused => format!(
            "build {} · against numpy {} reused from the cache",
            py(&b.grid),
            b.version
        ),
        Event::BuildFinished(b) if b.ok => format!(
            "build {} · against numpy {} ok in {:.1}s",
            py(&b.grid),
            b.version,
            b.duration.as_secs_f64()
        ),
        Event::BuildFinished(b) => format!(
            "build {} · against numpy {} FAILED: {}",
            py(&b.grid),
            b.version,
            b.summary
        ),
        Event::CellFinished(c) => {
            let reason = c
                .outcome
                .reason()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            let flag = if c.met() { "" } else { "  UNEXPECTED" };
            let time = if c.outcome.kind() == OutcomeKind::Unavailable {
                String::new()
            } else {
                format!(" {:.2}s", c.duration.as_secs_f64())
            };
            format!(
                "cell  {} · {} → {}: {}{reason}{time}{flag}",
                c.interpreter,
                c.build,
                c.runtime,
                c.outcome.kind()
            )
        }
        Event::Finished { duration } => format!("done in {:.1}s", duration.as_secs_f64()),
    };
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}
