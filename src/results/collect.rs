//! The run as it is known so far: the plan's header, every finished row and
//! every judged cell, and the results document made of them. A run cut
//! short (Ctrl-C) still has every cell that finished: the reporter writes
//! whatever is here, marked incomplete.

use std::time::Duration;

use pep440_rs::Version;

use super::document::{
    Axes, AxisDoc, BuildDoc, CellDoc, Document, EnvDoc, GridDoc, InterpreterDoc, Resolved, SCHEMA,
    SCHEMA_VERSION, Summary,
};
use crate::plan::AxisEntry;
use crate::plan::RunHeader;
use crate::python::InstallError;
use crate::runner::BuildRecord;

/// One environment as the runner reported it.
#[derive(Debug, Clone)]
pub struct EnvRecord {
    pub grid: usize,
    pub numpy: Version,
    /// Setup time and whether it came from the cache.
    pub result: Result<(Duration, bool), InstallError>,
}

impl EnvRecord {
    fn doc(&self) -> EnvDoc {
        let (ok, reused, duration_s, summary) = match &self.result {
            Ok((took, reused)) => (true, *reused, took.as_secs_f64(), String::new()),
            Err(e) => (false, false, 0.0, e.to_string()),
        };
        EnvDoc {
            numpy: self.numpy.to_string(),
            ok,
            reused,
            duration_s,
            summary,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunResults {
    pub header: RunHeader,
    pub builds: Vec<BuildRecord>,
    /// Every environment the run made or reused.
    pub environments: Vec<EnvRecord>,
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
            environments: Vec::new(),
            cells: Vec::new(),
            duration: None,
        }
    }

    pub fn complete(&self) -> bool {
        self.duration.is_some()
    }
    /// The results document of the run so far (marked incomplete when it
    /// did not end normally).
    pub fn document(&self) -> Document {
        let header = &self.header;
        let grids: Vec<GridDoc> = header
            .grids
            .iter()
            .enumerate()
            .map(|(index, g)| {
                // Builds shared across Pythons name the Python that made them.
                let shared_by = g.shared.as_ref().map(|_| g.interpreter.label());
                GridDoc {
                    interpreter: InterpreterDoc {
                        label: g.interpreter.label(),
                        implementation: g.interpreter.implementation.clone(),
                        version: g.interpreter.version.to_string(),
                        executable: g.interpreter.executable.clone(),
                        found_in: g.source.to_string(),
                        machine: g.interpreter.machine.clone(),
                        platform: g.interpreter.platform.clone(),
                    },
                    python: header.shards.pythons.get(g.python_unit).cloned(),
                    axes: Axes {
                        build: axis(&g.build_axis),
                        runtime: axis(&g.runtime_axis),
                    },
                    skipped: g.skipped.clone(),
                    built_on: g
                        .shared
                        .as_ref()
                        .and_then(|s| header.grids.get(s.builder))
                        .map(|b| b.interpreter.label()),
                    builds: self
                        .builds
                        .iter()
                        .filter(|b| b.grid == index)
                        .map(|b| match &b.result {
                            Ok(built) => BuildDoc {
                                numpy: b.row.clone(),
                                ok: true,
                                reused: built.reused,
                                summary: String::new(),
                                duration_s: built.duration.as_secs_f64(),
                                log: built.log.clone(),
                                declares: built.declares.clone(),
                                forced: built.forced.clone(),
                                python: shared_by.clone(),
                                tag: built.tag.clone(),
                            },
                            Err(e) => BuildDoc {
                                numpy: b.row.clone(),
                                ok: false,
                                reused: false,
                                summary: e.summary(),
                                duration_s: 0.0,
                                log: e.log.clone(),
                                declares: None,
                                forced: None,
                                python: shared_by.clone(),
                                tag: None,
                            },
                        })
                        .collect(),
                    environments: self
                        .environments
                        .iter()
                        .filter(|e| e.grid == index)
                        .map(EnvRecord::doc)
                        .collect(),
                }
            })
            .collect();
        let mut doc = Document {
            schema: SCHEMA.to_string(),
            schema_version: SCHEMA_VERSION,
            abimatrix_version: env!("CARGO_PKG_VERSION").to_string(),
            complete: self.complete(),
            duration_s: self.duration.map(|d| d.as_secs_f64()),
            installer: Some(header.installer.clone()),
            extension: Some(header.extension.clone()),
            timeout_s: Some(header.timeout.as_secs_f64()),
            matrix_id: Some(header.matrix_id.clone()),
            shard: header.shard.map(|s| s.to_string()),
            subject: Some(header.subject.to_string()),
            plan: Some(header.shards.clone()),
            date: None,
            commit: None,
            config: None,
            exercised: Some(header.exercised.clone()),
            missing: Vec::new(),
            selected: header.selected.clone(),
            probe: Some(header.probe.clone()),
            grids,
            cells: self.cells.clone(),
            summary: Summary::default(),
        };
        doc.sort_cells();
        doc.summarize(header.planned());
        doc
    }
}

fn axis(entries: &[AxisEntry]) -> Vec<AxisDoc> {
    entries
        .iter()
        .map(|a| AxisDoc {
            request: a.request(),
            version: a.version().map(Resolved::from),
            unavailable: a.unavailable().map(str::to_string),
            label: matches!(a, AxisEntry::Row(_)).then(|| a.label()),
            index: a.origin().and_then(|o| o.index.clone()),
            yanked: a.yanked().map(str::to_string),
            wheel: a.origin().and_then(|o| o.wheel.clone()),
        })
        .collect()
}
