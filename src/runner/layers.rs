//! The dependency stage: a cell's dependencies — the row's own (with
//! extras) and the test requirements — resolved with the column's NumPy
//! pinned and installed beside the row, shared by the columns whose
//! resolution is the same.

use std::path::Path;

use pep440_rs::Version;

use super::executor::{Executor, entry_in, place};
use super::graph::{Grid, LayerProblem};
use crate::build::{self, Artifact, BuildError};
use crate::plan::AxisEntry;

impl Executor {
    /// The layer of the row at `build` (made: `row`) under `numpy`; `None`
    /// when the row needs nothing beside it.
    pub(super) async fn make_layer(
        &self,
        grid: &Grid,
        build: usize,
        numpy: &Version,
        row: &Artifact,
    ) -> Result<Option<Artifact>, LayerProblem> {
        let inputs = self.layer_inputs(grid, build, row);
        if inputs.is_empty() {
            return Ok(None);
        }
        let _permit = self.permits.acquire().await;
        let interpreter = &grid.plan.interpreter;
        let request = build::deps::Request {
            installer: &self.plan.installer,
            interpreter,
            inputs,
            package: row.package.clone(),
            numpy,
            ignore_requires: self.plan.ignore_requires,
        };
        let pins = match self
            .remembered_resolution(&request)
            .await
            .map_err(LayerProblem::Failed)?
        {
            build::deps::Resolution::Forbidden(why) => {
                let row = grid.plan.build_axis[build].label();
                return Err(LayerProblem::Forbidden(format!(
                    "{row}'s metadata forbids numpy {numpy}: {why} (--ignore-requires runs it anyway)"
                )));
            }
            build::deps::Resolution::Pins(pins) if pins.is_empty() => return Ok(None),
            build::deps::Resolution::Pins(pins) => pins,
        };
        let mut parts = vec!["deps".to_string(), interpreter.cache_key()];
        parts.extend(pins.iter().cloned());
        let key = crate::cache::digest(parts);
        let cached = entry_in(self.plan.cache.as_deref(), &key);
        let temporary = grid.work.join("deps").join(&key);
        build::ensure(
            place(cached.as_deref(), &temporary),
            None,
            async |dir: &Path| {
                build::deps::install(&self.plan.installer, interpreter, &pins, dir).await
            },
        )
        .await
        .map(Some)
        .map_err(LayerProblem::Failed)
    }

    /// What the layer of the row at `build` installs: the row itself with
    /// its extras (a package row, or a project's wheel), then the test
    /// requirements.
    fn layer_inputs(&self, grid: &Grid, build: usize, artifact: &Artifact) -> Vec<String> {
        let extension = &self.plan.extension;
        let mut inputs = Vec::new();
        match &grid.plan.build_axis[build] {
            AxisEntry::Row(row) => inputs.push(build::rows::install_arg(row, &extension.extras)),
            AxisEntry::Numpy { .. } => {
                if let Some(wheel) = &artifact.wheel {
                    let extras = if extension.extras.is_empty() {
                        String::new()
                    } else {
                        format!("[{}]", extension.extras.join(","))
                    };
                    inputs.push(format!("{}{extras}", wheel.display()));
                }
            }
            AxisEntry::Missing { .. } => {}
        }
        inputs.extend(extension.test_requires.iter().cloned());
        inputs
    }

    /// A layer's resolution, remembered for a day (a warm run runs no `uv
    /// pip compile`); with `--offline`, only what is remembered.
    async fn remembered_resolution(
        &self,
        request: &build::deps::Request<'_>,
    ) -> Result<build::deps::Resolution, BuildError> {
        use crate::cache::memo::{Lasts, Network};
        use crate::python::index::identity as index_identity;
        let key = format!(
            "deps|{}|{}|{}|{}|{}",
            index_identity(),
            request.interpreter.cache_key(),
            request.inputs.join(";"),
            request.numpy,
            request.ignore_requires
        );
        let memo = &self.plan.memo;
        if let Some(answer) = memo.get(&key) {
            return Ok(answer);
        }
        if memo.network() == Network::Offline {
            return Err(BuildError::new(
                format!(
                    "offline, and not in the cache: the dependencies of {} with numpy {} (run once without --offline)",
                    request.inputs.join(", "),
                    request.numpy
                ),
                "",
            ));
        }
        let answer = request.resolve().await?;
        memo.put(&key, &answer, Lasts::Day);
        Ok(answer)
    }
}
