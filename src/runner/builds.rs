//! The build stage: a row's artifact, found where builds are kept (the
//! cache, or the artifacts a CI build job uploaded) or made — C sources
//! compiled, a project built into a wheel, a published package installed.
//! Keys, hashes and the checks of a kept build read files: off the runtime.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pep440_rs::Version;

use super::executor::{Executor, entry_in, place};
use super::graph::{Grid, Made, Started};
use crate::build::toolchain::Toolchain;
use crate::build::{self, Artifact, BuildError, BuildFailure};
use crate::extension::{PackageRow, RowSource, Sources, Subject};

impl Executor {
    /// The build against `version` where builds are kept, if it is whole,
    /// unchanged and by the compiler of now.
    pub(super) async fn kept(
        &self,
        grid: &Grid,
        version: &Version,
    ) -> Option<Result<Made, BuildError>> {
        if let Some(made) = self.take_ahead(grid, version) {
            return Some(Ok(made));
        }
        let dir = self.kept_dir(grid, version).await?;
        let compiler = self.fingerprint(grid).await;
        let artifact =
            crate::blocking::run(move || build::reuse(&dir, compiler.as_deref())).await?;
        Some(self.admitted(grid, Ok(artifact)).await)
    }

    /// Where the build against `version` is kept: the artifacts folder when
    /// the run has one, else the cache (`None` with `--fresh` and no
    /// artifacts, or for published rows).
    pub(super) async fn kept_dir(&self, grid: &Grid, version: &Version) -> Option<PathBuf> {
        let key = self.build_key(grid, version).await?;
        let plan = &self.plan;
        entry_in(plan.artifacts.as_deref().or(plan.cache.as_deref()), &key)
    }

    /// What names a build row's artifact: everything that goes into it (the
    /// sources or the project's tree, the interpreter, the NumPy), so the
    /// cache and an artifacts folder made on another machine are checked
    /// alike.
    async fn build_key(&self, grid: &Grid, numpy: &Version) -> Option<String> {
        let interpreter = &grid.plan.interpreter;
        match &self.plan.extension.subject {
            Subject::Project(project) => {
                // The tree is read once a run, not once a row.
                let tree = self
                    .project_hash
                    .get_or_init(async || {
                        let project = project.clone();
                        crate::blocking::run(move || build::project::source_hash(&project)).await
                    })
                    .await;
                Some(crate::cache::digest([
                    "project".to_string(),
                    tree.clone(),
                    interpreter.cache_key(),
                    numpy.to_string(),
                ]))
            }
            Subject::Sources(sources) => Some(build::sources::key(sources, interpreter, numpy)),
            Subject::Rows(_) => None,
        }
    }

    /// The compiler as this grid's builds of `sources` run it, asked once.
    async fn toolchain(
        &self,
        grid: &Grid,
        sources: &Sources,
    ) -> &Result<Arc<Toolchain>, BuildError> {
        self.lane(grid)
            .toolchain
            .get_or_init(async || {
                build::sources::toolchain(sources, &grid.plan.interpreter)
                    .await
                    .map(Arc::new)
            })
            .await
    }

    /// The fingerprint of the compiler this grid's C builds run, for
    /// reusing one (`None`: not C sources, or a compiler that cannot be
    /// asked, as on a shard that only tests uploaded builds).
    async fn fingerprint(&self, grid: &Grid) -> Option<String> {
        match &self.plan.extension.subject {
            Subject::Sources(sources) => self
                .toolchain(grid, sources)
                .await
                .as_deref()
                .ok()
                .map(Toolchain::fingerprint),
            _ => None,
        }
    }

    /// A build row's artifact, from where builds are kept (`kept`: its entry
    /// there, see [`Executor::kept_dir`]) or made (`started` is told when it
    /// must be).
    pub(super) async fn make_build(
        &self,
        grid: &Grid,
        version: &Version,
        env: &crate::environment::NumpyEnv,
        kept: Option<&Path>,
        started: &Started<'_>,
    ) -> Result<Artifact, BuildError> {
        let temporary = grid.work.join("builds").join(version.to_string());
        let place = place(kept, &temporary);
        let interpreter = &grid.plan.interpreter;
        let plan = &self.plan;
        match &plan.extension.subject {
            Subject::Project(project) => {
                self.make_project(grid, project, version, place, started)
                    .await
            }
            Subject::Sources(sources) => {
                let toolchain = self.toolchain(grid, sources).await;
                let compiler = toolchain.as_deref().ok().map(Toolchain::fingerprint);
                build::ensure(place, compiler.as_deref(), async |dir: &Path| {
                    started();
                    let limit = plan.build_timeout;
                    let compiler = toolchain.as_deref().ok();
                    let mut built =
                        build::sources::compile(sources, interpreter, env, compiler, dir, limit)
                            .await?;
                    if let Err(why) = toolchain {
                        built.inputs.unkeyable = Some(format!(
                            "the compiler did not say where it looks: {}",
                            why.summary()
                        ));
                    }
                    Ok(built)
                })
                .await
            }
            Subject::Rows(_) => Err(BuildFailure::RowsAreNotBuilt.into()),
        }
    }

    /// A project's wheel built against `version` by this grid's Python
    /// (it needs no NumPy environment: the backend's isolated build
    /// installs the NumPy it builds against).
    async fn make_project(
        &self,
        grid: &Grid,
        project: &Path,
        version: &Version,
        place: crate::cache::Place<'_>,
        started: &Started<'_>,
    ) -> Result<Artifact, BuildError> {
        let plan = &self.plan;
        let build = build::project::ProjectBuild {
            installer: &plan.installer,
            interpreter: &grid.plan.interpreter,
            project,
            numpy: version,
            ignore_requires: plan.ignore_requires,
            limit: plan.build_timeout,
        };
        build::ensure(place, None, async |dir: &Path| {
            started();
            build.build(dir).await
        })
        .await
    }

    /// The project's wheel `grid`'s Python makes against `version`, from
    /// where builds are kept or built now (and kept, so the run that
    /// follows finds it). `None`: not a project, or the build failed (the
    /// run says why, in its cells). `started` is told when the build must
    /// really be made.
    pub(super) async fn project_row(
        &self,
        grid: &Grid,
        version: &Version,
        started: &Started<'_>,
    ) -> Option<Made> {
        let Subject::Project(project) = &self.plan.extension.subject else {
            return None;
        };
        let made = match self.kept(grid, version).await {
            Some(made) => made,
            None => {
                let kept = self.kept_dir(grid, version).await;
                let temporary = grid.work.join("builds").join(version.to_string());
                let built = self
                    .make_project(
                        grid,
                        project,
                        version,
                        place(kept.as_deref(), &temporary),
                        started,
                    )
                    .await;
                self.admitted(grid, built).await
            }
        };
        made.ok()
    }

    /// A row of published code: the wheel or requirement itself (its
    /// dependencies come per column), once per interpreter.
    pub(super) async fn make_package_row(
        &self,
        grid: &Grid,
        row: &PackageRow,
        started: &Started<'_>,
    ) -> Result<Artifact, BuildError> {
        let identity = match &row.source {
            // A wheel file is keyed by its contents, not its name.
            // Hashed as it is read, never held whole.
            RowSource::Wheel(path) => {
                let path = path.clone();
                crate::blocking::run(move || crate::cache::manifest::hash_file(&path))
                    .await
                    .unwrap_or_default()
            }
            RowSource::Requirement(_) => build::rows::install_arg(row, &[]),
        };
        let interpreter = &grid.plan.interpreter;
        let key =
            crate::cache::digest(["row".to_string(), identity.clone(), interpreter.cache_key()]);
        let temporary = grid
            .work
            .join("rows")
            .join(crate::cache::digest([identity.as_str()]));
        let cached = entry_in(self.plan.cache.as_deref(), &key);
        build::ensure(
            place(cached.as_deref(), &temporary),
            None,
            async |dir: &Path| {
                started();
                build::rows::install(&self.plan.installer, interpreter, row, dir).await
            },
        )
        .await
    }

    /// A build row as this run may use it ([`admit`]), described.
    pub(super) async fn admitted(
        &self,
        grid: &Grid,
        made: Result<Artifact, BuildError>,
    ) -> Result<Made, BuildError> {
        let admitted = made.and_then(|a| admit(self.plan.ignore_requires, a));
        self.described(grid, admitted).await
    }

    /// A row with the NumPy requirement its package declares, read from the
    /// artifact's METADATA.
    pub(super) async fn described(
        &self,
        grid: &Grid,
        made: Result<Artifact, BuildError>,
    ) -> Result<Made, BuildError> {
        let artifact = made?;
        let Some(package) = artifact.package.clone() else {
            return Ok(Made {
                artifact,
                declares: None,
                tag: None,
            });
        };
        let dir = artifact.dir.clone();
        let python = grid.plan.interpreter.version.clone();
        let (declares, tag) = crate::blocking::run(move || {
            (
                build::declared_numpy(&dir, &package, &python),
                crate::python::abi::installed_tag(&dir, &package),
            )
        })
        .await;
        if let Some(shared) = &grid.plan.shared
            && artifact.wheel.is_some()
        {
            abi3_as_declared(shared, tag.as_deref(), &artifact)?;
        }
        Ok(Made {
            artifact,
            declares,
            tag,
        })
    }
}

/// A project built once for every Python (its `limited-api`) is used only
/// when its wheel says so: tagged `abi3` for that limited API or an older
/// one. Any other wheel (`cp39-cp39`) loads on its own Python only, and
/// importing it under the others would blame them for the project's tag.
fn abi3_as_declared(
    shared: &crate::plan::SharedRows,
    tag: Option<&str>,
    artifact: &Artifact,
) -> Result<(), BuildError> {
    let floor = tag.and_then(crate::python::abi::abi3_of_tag);
    if floor.is_some_and(|f| f <= shared.limited) {
        return Ok(());
    }
    let wheel = artifact
        .wheel
        .as_deref()
        .and_then(|w| w.file_name())
        .map_or_else(
            || "the wheel".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
    Err(BuildError::new(
        BuildFailure::NotAbi3 {
            wheel,
            limited: shared.limited.to_string(),
            declared: shared.declared.clone(),
        },
        &artifact.log,
    ))
}

/// A build as this run may use it. A build made only because of
/// `--ignore-requires` shares its key with the build the requirements
/// allow (the flag changes nothing for an allowed build, so it must not
/// change the key), so a run without the flag can find it kept: it is then
/// forbidden, in the words a fresh run would use.
fn admit(ignore_requires: bool, artifact: Artifact) -> Result<Artifact, BuildError> {
    match &artifact.forced {
        Some(why) if !ignore_requires => Err(BuildError::new(
            BuildFailure::Forbidden {
                reason: why.clone(),
            },
            &format!(
                "# {why}: a build made with --ignore-requires is kept in {}, and this run is without it\n",
                artifact.dir.display()
            ),
        )),
        _ => Ok(artifact),
    }
}
