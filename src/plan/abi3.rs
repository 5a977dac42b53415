//! Builds for Python's stable ABI, planned across Pythons: with
//! `limited-api`, each NumPy build is made once, by one interpreter (the
//! build Python), and every grid takes its rows from that one: the same
//! `.abi3.so` is imported under every configured Python at or above the
//! limited API. A Python the build cannot load on (below the version, or
//! free-threaded) keeps its grid, whose cells say so (`python-abi`).
//! Without `limited-api` a build is its own Python's and no other grid
//! ever sees it.

use super::{GridPlan, PlanError, SharedRows};
use crate::config::Config;
use crate::extension::Subject;
use crate::python::abi::{check_builder, default_builder};
use crate::rules::{BuildAbi, RuntimePython, python_gap};

/// Points every grid of a limited-API matrix at the build Python's rows
/// ([`GridPlan::shared`]) and marks the grids that cannot load them
/// ([`SharedRows::gap`]). Leaves any other matrix as it is.
pub(super) fn share_builds(config: &Config, grids: &mut [GridPlan]) -> Result<(), PlanError> {
    let (Some(target), Subject::Sources(_) | Subject::Project(_)) =
        (&config.abi, &config.extension.subject)
    else {
        return Ok(());
    };
    let limited = target.limited.value;
    let interpreters: Vec<_> = grids.iter().map(|g| g.interpreter.clone()).collect();
    let builder = match &target.builder {
        Some(request) => grids.iter().position(|g| {
            request.value.accepts(&g.interpreter)
                || config
                    .python
                    .get(g.python_unit)
                    .is_some_and(|p| p.value == request.value)
        }),
        None => default_builder(limited, &interpreters),
    };
    let Some(builder) = builder else {
        let wanted = target.builder.as_ref().map_or_else(
            || format!("a GIL-enabled Python at or above {limited}"),
            |b| format!("the build Python {}", b.value),
        );
        return Err(PlanError::Builder {
            message: format!(
                "limited-api = \"{limited}\": {wanted} builds every row, and this run has none of it ({})",
                interpreters
                    .iter()
                    .map(|i| i.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            hint: "the build Python must be among the run's Pythons: check [python] build, [python] versions and --python",
        });
    };
    check_builder(limited, &grids[builder].interpreter).map_err(|e| PlanError::Builder {
        message: format!("[python] build: {e}"),
        hint: "name a GIL-enabled Python at or above the limited API in [python] build",
    })?;
    let rows = grids[builder].build_axis.clone();
    for (i, grid) in grids.iter_mut().enumerate() {
        let python = RuntimePython {
            version: &grid.interpreter.version,
            free_threaded: grid.interpreter.free_threaded,
        };
        grid.shared = Some(SharedRows {
            builder,
            limited,
            declared: target
                .declared
                .clone()
                .unwrap_or_else(|| format!("limited-api = \"{limited}\"")),
            gap: python_gap(BuildAbi::Abi3(limited), &python).map(|g| g.message(&python)),
        });
        if i != builder {
            grid.build_axis = rows.clone();
        }
    }
    Ok(())
}
