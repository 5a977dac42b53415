//! Builds for Python's stable ABI, planned across Pythons: with
//! `limited-api`, each NumPy build is made once, by one interpreter (the
//! build Python), and every grid takes its rows from that one: the same
//! `.abi3.so` is imported under every configured Python at or above the
//! limited API. A Python the build cannot load on (below the version, or
//! free-threaded) keeps its grid, whose cells say so (`python-abi`).
//! Without `limited-api` a build is its own Python's and no other grid
//! ever sees it.

use super::{GridPlan, Plan, PlanError, PlanOptions, SharedRows};
use crate::config::{AbiTarget, Config, Located};
use crate::extension::Subject;
use crate::python::abi::{LimitedApi, abi3_of_tag, check_builder, default_builder};
use crate::python::{Interpreter, PythonRequest};
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
    // A grid found only to build (a shard's or `--python`'s) is the
    // matrix's build Python, chosen from the config's Pythons.
    let builder = match &target.builder {
        _ if grids.iter().any(|g| g.builds_only) => grids.iter().position(|g| g.builds_only),
        Some(request) => grids.iter().position(|g| {
            request.value.accepts(&g.interpreter)
                || config
                    .python
                    .get(g.python_unit)
                    .is_some_and(|p| p.value == request.value)
        }),
        None => default_builder(limited, grids.iter().map(|g| &g.interpreter)),
    };
    let Some(builder) = builder else {
        let wanted = target.builder.as_ref().map_or_else(
            || format!("a GIL-enabled Python at or above {limited}"),
            |b| format!("the build Python {}", b.value),
        );
        return Err(PlanError::Builder {
            message: format!(
                "limited-api = \"{limited}\": {wanted} builds every row, and this run has none of it ({})",
                grids
                    .iter()
                    .map(|g| g.interpreter.label())
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
        let python = RuntimePython::of(&grid.interpreter);
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

/// The grid whose wheel says whether a project is abi3 when nothing
/// abimatrix reads declares it: the oldest GIL-enabled Python's, as
/// [`default_builder`] would choose. Asked only when the answer could
/// share rows (two Pythons or more) and every Python of the config is in
/// this run: a shard, `--python`, a build job or its test jobs build each
/// Python's own, as before, so that no two of them choose different
/// build Pythons.
pub fn wheel_to_ask(config: &Config, plan: &Plan, options: &PlanOptions) -> Option<usize> {
    let whole_run = options.shard.is_none()
        && options.python.is_empty()
        && !options.build_only
        && options.artifacts.is_none();
    let grids = &plan.header.grids;
    let can_load_abi3 = grids
        .iter()
        .filter(|g| !g.interpreter.free_threaded)
        .count();
    if config.abi.is_some()
        || !matches!(config.extension.subject, Subject::Project(_))
        || !whole_run
        || can_load_abi3 < 2
    {
        return None;
    }
    first_builder(grids)
}

/// The grid that builds a project first when nothing declares it abi3:
/// the oldest GIL-enabled Python's ([`default_builder`] for any limited
/// API), whose wheel then says.
pub fn first_builder(grids: &[GridPlan]) -> Option<usize> {
    default_builder(LimitedApi::OLDEST, grids.iter().map(|g| &g.interpreter))
}

/// The config of a project whose wheel, as `builder` built it, is tagged
/// `tag`: when that is `abi3` for a Python at or below the builder's, the
/// project is planned as if its build files declared it (built once, on
/// that Python). `None`: the wheel is for its own Python only.
pub fn declared_by_wheel(config: &Config, builder: &Interpreter, tag: &str) -> Option<Config> {
    let limited = abi3_of_tag(tag)?;
    if !limited.admits(&builder.version) {
        return None;
    }
    let mut declared = config.clone();
    declared.abi = Some(AbiTarget {
        limited: Located::unwritten(limited),
        builder: None,
        declared: Some(format!(
            "the wheel {} built is tagged {tag}",
            builder.label()
        )),
    });
    Some(declared)
}

/// Which Python builds a limited-API matrix, as far as the config alone
/// can say (`matrix plan` has found no interpreter; a shard or a
/// `--python` run must make the rows on the same Python as the whole run).
#[derive(Debug, Clone, PartialEq)]
pub enum BuildPython {
    /// Not a limited-API matrix of sources: every grid builds its own rows.
    Own,
    /// This request finds it: `[python] build`, or the oldest of the
    /// config's version requests at or above the limited API.
    Request(PythonRequest),
    /// The oldest Python that can build among those `pythons` find: known
    /// only once they are all found (ranges, commands, paths).
    Oldest,
}

/// The build Python of a matrix whose Pythons are `pythons` (the config's,
/// or the command line's when it replaces them), chosen as
/// [`default_builder`] chooses among found interpreters: a version request
/// finds one interpreter of its series, so the oldest admitted series is
/// the oldest found Python, provided no other request names that series.
pub fn build_python(config: &Config, pythons: &[PythonRequest]) -> BuildPython {
    let (Some(target), Subject::Sources(_)) = (&config.abi, &config.extension.subject) else {
        return BuildPython::Own;
    };
    if let Some(request) = &target.builder {
        return BuildPython::Request(request.value.clone());
    }
    let limited = target.limited.value;
    let mut admitted = Vec::new();
    for p in pythons {
        match p {
            PythonRequest::Version(v) if limited.admits(v) => admitted.push(v),
            PythonRequest::Version(_) => {}
            _ => return BuildPython::Oldest,
        }
    }
    let series = |v: &pep440_rs::Version| v.release().iter().take(2).copied().collect::<Vec<_>>();
    let Some(oldest) = admitted.iter().min_by_key(|v| series(v)) else {
        return BuildPython::Oldest;
    };
    if admitted
        .iter()
        .filter(|v| series(v) == series(oldest))
        .count()
        > 1
    {
        // "3.9" and "3.9.1": which one is older is known once found.
        return BuildPython::Oldest;
    }
    BuildPython::Request(PythonRequest::Version((*oldest).clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(python: &str, extra: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.c"), "int x;").unwrap();
        let text = format!(
            "[python]\n{python}\n[numpy]\nbuild = [\"2.0.2\"]\nruntime = [\"2.0.2\"]\n[extension]\nmodule = \"m\"\nsources = [\"m.c\"]\n{extra}"
        );
        let c = Config::parse(&dir.path().join("matrix.toml"), &text).unwrap();
        (dir, c)
    }

    fn chosen(python: &str, extra: &str) -> BuildPython {
        let (_dir, c) = config(python, extra);
        let requests: Vec<PythonRequest> = c.python.iter().map(|p| p.value.clone()).collect();
        build_python(&c, &requests)
    }

    fn version(v: &str) -> BuildPython {
        BuildPython::Request(PythonRequest::Version(v.parse().unwrap()))
    }

    /// The build Python is the matrix's, whatever a shard or `--python`
    /// keeps: the oldest configured series at or above the limited API (in
    /// any order, below it skipped), `[python] build` when written, and
    /// "find them all" when only finding them can say which is oldest.
    #[test]
    fn the_build_python_is_chosen_from_the_config() {
        let limited = "limited-api = \"3.9\"\n";
        assert_eq!(
            chosen("versions = [\"3.12\", \"3.8\", \"3.10\", \"3.9\"]", limited),
            version("3.9")
        );
        assert_eq!(
            chosen("versions = [\"3.12\", \"3.11.4\"]", limited),
            version("3.11.4")
        );
        assert_eq!(
            chosen("versions = [\"3.9\", \"3.12\"]\nbuild = \"3.12\"", limited),
            version("3.12")
        );
        assert_eq!(
            chosen("versions = [\"3.9\", \">=3.11\"]", limited),
            BuildPython::Oldest
        );
        assert_eq!(
            chosen("versions = [\"3.9\", \"3.9.1\", \"3.12\"]", limited),
            BuildPython::Oldest
        );
        assert_eq!(
            chosen("versions = [\"3.9\", \"3.12\"]", ""),
            BuildPython::Own,
            "without limited-api each Python builds its own"
        );
    }

    /// A wheel tagged abi3 at or below the Python that built it makes the
    /// project's config say so, naming that wheel; a wheel for its own
    /// Python, or one that claims a floor above its builder, changes
    /// nothing.
    #[test]
    fn a_wheel_tagged_abi3_declares_the_project_built_once() {
        let (_dir, c) = config("versions = [\"3.9\", \"3.12\"]", "");
        let py39 = crate::report::fixtures::interpreter("3.9.18");
        let declared = declared_by_wheel(&c, &py39, "cp39-abi3-linux_x86_64")
            .and_then(|c| c.abi)
            .expect("an abi3 wheel declares");
        assert_eq!(declared.limited.value.to_string(), "3.9");
        assert_eq!(declared.builder, None);
        assert_eq!(
            declared.declared.as_deref(),
            Some("the wheel CPython 3.9.18 built is tagged cp39-abi3-linux_x86_64")
        );
        let older = declared_by_wheel(&c, &py39, "cp37-abi3-manylinux_2_17_x86_64");
        assert_eq!(
            older
                .and_then(|c| c.abi)
                .map(|a| a.limited.value.to_string()),
            Some("3.7".into())
        );
        assert!(declared_by_wheel(&c, &py39, "cp39-cp39-linux_x86_64").is_none());
        assert!(declared_by_wheel(&c, &py39, "cp310-abi3-linux_x86_64").is_none());
    }
}
