//! In-memory results for the renderers' snapshot tests: every outcome kind,
//! expected and unexpected, every source of an expectation, a build log, a
//! crash with its traceback, and child output full of markup, so each
//! renderer's every line is pinned without running a grid.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use pep440_rs::Version;

use crate::config::NumpyRequest;
use crate::expect::ExpectSource;
use crate::extension::Exercise;
use crate::outcome::{FailureReason, OutcomeKind, Unavailability};
use crate::plan::{AxisEntry, GridPlan, RunHeader};
use crate::python::{Interpreter, PythonSource};
use crate::results::document::{
    Axes, AxisDoc, BuildDoc, Expectation, GridDoc, InterpreterDoc, SCHEMA, SCHEMA_VERSION, Summary,
};
use crate::results::{CellDoc, Document};

fn axis(request: &str, version: Option<&str>) -> AxisDoc {
    AxisDoc {
        request: request.into(),
        version: version.map(|v| v.parse().expect("a version")),
        unavailable: version
            .is_none()
            .then(|| format!("no wheel of numpy=={request} for CPython 3.12.1")),
        label: None,
        ..AxisDoc::default()
    }
}

fn expect(
    outcome: OutcomeKind,
    reason: Option<FailureReason>,
    line: Option<usize>,
    rules: bool,
) -> Expectation {
    let source = match (line, rules) {
        (_, true) => ExpectSource::NumpyRules,
        (Some(line), false) => ExpectSource::Table { line },
        (None, false) => ExpectSource::Default,
    };
    Expectation {
        outcome,
        reason,
        source,
    }
}

#[allow(clippy::too_many_arguments)]
fn cell(
    grid: usize,
    interpreter: &str,
    build: &str,
    runtime: &str,
    outcome: OutcomeKind,
    reason: Option<FailureReason>,
    message: &str,
    expected: Expectation,
) -> CellDoc {
    let met = expected.is_met_by(outcome, reason);
    CellDoc {
        grid,
        interpreter: interpreter.into(),
        platform: "linux-x86_64".into(),
        build: build.into(),
        runtime: runtime.into(),
        outcome,
        reason,
        exception: (outcome == OutcomeKind::Fail).then(|| "ImportError".to_string()),
        message: message.into(),
        signal: None,
        signal_name: None,
        traceback: None,
        expected,
        met,
        duration_s: 0.125,
        command: (outcome != OutcomeKind::Unavailable && outcome != OutcomeKind::BuildFailed).then(|| {
            format!("/cache/envs/numpy-{runtime}/bin/python -I -X faulthandler /cache/probes/abimatrix_probe.py /cache/builds/{build} my_extension /cache/probes/probe_code.py result.json")
        }),
        stdout: String::new(),
        stderr: String::new(),
        forbidden: false,
        unavailable: (outcome == OutcomeKind::Unavailable).then_some(Unavailability::NoWheel),
        hint: None,
        rerun: None,
    }
}

/// Two grids: CPython 3.11.7 with every outcome kind, and CPython 3.12.1
/// where a series has no wheel.
pub fn every_outcome() -> Document {
    let py11 = "CPython 3.11.7";
    let py12 = "CPython 3.12.1";
    let abi =
        "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.2 as it may crash.";
    let mut crash = cell(
        0,
        py11,
        "2.0.2",
        "1.26.4",
        OutcomeKind::Crash,
        None,
        "killed by SIGSEGV (signal 11)",
        expect(OutcomeKind::Pass, None, None, true),
    );
    crash.signal = Some(11);
    crash.signal_name = Some("SIGSEGV".into());
    crash.exception = None;
    crash.traceback = Some("Fatal Python error: Segmentation fault\n\nCurrent thread 0x00007f (most recent call first):\n  File \"<probe>\", line 2 in <module>\n  File \"/cache/probes/abimatrix_probe.py\", line 58 in probe".into());
    crash.stderr = crash.traceback.clone().unwrap_or_default();
    crash.hint = Some("the sources never call import_array() (or PyArray_ImportNumPyAPI()): NumPy's C-API table stays empty and the first NumPy call crashes; call it in PyInit_my_extension".into());
    let mut markup = cell(
        0,
        py11,
        "2.0.2",
        "2.0.2",
        OutcomeKind::Fail,
        Some(FailureReason::WrongResult),
        "get_array_dim returned (3, 2) <not> \"(2, 3)\" & more",
        expect(OutcomeKind::Pass, None, None, false),
    );
    markup.exception = Some("AssertionError".into());
    markup.stdout = "<img src=x onerror=\"alert(1)\"> | pipe | \u{1}ctrl\n".into();
    markup.stderr = "Traceback (most recent call last):\n  File \"<probe>\", line 1\nAssertionError: <b>bold</b>\n".into();
    let mut build_failed = cell(
        0,
        py11,
        "2.4.6",
        "1.26.4",
        OutcomeKind::BuildFailed,
        None,
        "src/ext.c:14:27: error: 'PyArray_Foo' undeclared",
        expect(OutcomeKind::BuildFailed, None, Some(12), false),
    );
    build_failed.exception = None;
    build_failed.stderr =
        "$ gcc -c src/ext.c\nsrc/ext.c:14:27: error: 'PyArray_Foo' undeclared\n".into();
    let mut build_failed2 = build_failed.clone();
    build_failed2.runtime = "2.0.2".into();
    build_failed2.command = None;
    let mut timeout = cell(
        0,
        py11,
        "1.26.4",
        "1.26.4",
        OutcomeKind::Timeout,
        None,
        "still running after 2s",
        expect(OutcomeKind::Pass, None, None, true),
    );
    timeout.exception = None;
    timeout.duration_s = 2.5;
    let cells = vec![
        cell(
            0,
            py11,
            "1.26.4",
            "2.0.2",
            OutcomeKind::Fail,
            Some(FailureReason::AbiMajor),
            abi,
            expect(OutcomeKind::Fail, Some(FailureReason::AbiMajor), None, true),
        ),
        timeout,
        crash,
        markup,
        build_failed,
        build_failed2,
        cell(
            1,
            py12,
            "2.0.2",
            "2.0.2",
            OutcomeKind::Pass,
            None,
            "",
            expect(OutcomeKind::Pass, None, None, false),
        ),
        cell(
            1,
            py12,
            "2.0.2",
            "1.21.*",
            OutcomeKind::Unavailable,
            None,
            "runtime numpy 1.21.*: no wheel of numpy==1.21.* for CPython 3.12.1",
            expect(OutcomeKind::Unavailable, None, Some(20), false),
        ),
        cell(
            1,
            py12,
            "1.22.4",
            "2.0.2",
            OutcomeKind::Fail,
            Some(FailureReason::ApiVersion),
            "module compiled against API version 0xf but this version of numpy is 0xd",
            expect(
                OutcomeKind::Fail,
                Some(FailureReason::AbiMajor),
                Some(7),
                false,
            ),
        ),
        cell(
            1,
            py12,
            "1.22.4",
            "1.21.*",
            OutcomeKind::Unavailable,
            None,
            "runtime numpy 1.21.*: no wheel of numpy==1.21.* for CPython 3.12.1",
            expect(OutcomeKind::Unavailable, None, Some(20), false),
        ),
    ];
    let interpreter = |label: &str, exe: &str| InterpreterDoc {
        label: label.into(),
        implementation: "CPython".into(),
        version: label.trim_start_matches("CPython ").into(),
        executable: PathBuf::from(exe),
        found_in: "pyenv".into(),
        machine: "x86_64".into(),
        platform: "linux".into(),
    };
    let build = |numpy: &str, ok: bool, reused: bool, log: &str| BuildDoc {
        numpy: numpy.into(),
        ok,
        reused,
        summary: if ok {
            String::new()
        } else {
            "src/ext.c:14:27: error: 'PyArray_Foo' undeclared".into()
        },
        duration_s: if reused { 0.0 } else { 1.5 },
        log: log.into(),
        declares: None,
        tag: None,
        forced: None,
        python: None,
    };
    let mut doc = Document {
        schema: SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        abimatrix_version: "0.1.0".into(),
        complete: true,
        duration_s: Some(3.25),
        installer: Some("uv (/usr/bin/uv, from PATH)".into()),
        extension: Some("extension my_extension".into()),
        timeout_s: Some(2.0),
        matrix_id: Some("0123456789abcdef".into()),
        shard: None,
        subject: Some("sources".into()),
        plan: None,
        date: Some("2026-11-26T01:02:03Z".into()),
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        config: None,
        exercised: Some(Exercise::Probe {
            modules: vec!["my_extension".into()],
        }),
        missing: Vec::new(),
        selected: Vec::new(),
        probe: None,
        grids: vec![
            GridDoc {
                interpreter: interpreter(py11, "/root/.pyenv/versions/3.11.7/bin/python3.11"),
                python: Some("3.11".into()),
                axes: Axes {
                    build: vec![
                        axis("1.26.*", Some("1.26.4")),
                        axis("2.0.*", Some("2.0.2")),
                        axis("2.4.*", Some("2.4.6")),
                    ],
                    runtime: vec![axis("1.26.*", Some("1.26.4")), axis("2.0.*", Some("2.0.2"))],
                },
                skipped: Vec::new(),
                built_on: None,
                builds: vec![
                    build(
                        "1.26.4",
                        true,
                        true,
                        "$ gcc -c src/ext.c -o ext.o\n$ gcc -shared ext.o -o my_extension.so\n",
                    ),
                    build("2.0.2", true, false, "$ gcc -c src/ext.c -o ext.o\n"),
                    build(
                        "2.4.6",
                        false,
                        false,
                        "$ gcc -c src/ext.c\nsrc/ext.c:14:27: error: 'PyArray_Foo' undeclared\n",
                    ),
                ],
                environments: Vec::new(),
            },
            GridDoc {
                interpreter: interpreter(py12, "/root/.pyenv/versions/3.12.1/bin/python3.12"),
                python: Some("3.12".into()),
                axes: Axes {
                    build: vec![axis("1.22.4", Some("1.22.4")), axis("2.0.*", Some("2.0.2"))],
                    runtime: vec![axis("1.21.*", None), axis("2.0.*", Some("2.0.2"))],
                },
                skipped: vec!["1.25.* (from >=1.25,<2.1)".into()],
                built_on: None,
                environments: Vec::new(),
                builds: Vec::new(),
            },
        ],
        cells,
        summary: Summary::default(),
    };
    doc.sort_cells();
    doc.summarize(doc.planned_by_axes());
    doc
}

/// Published packages as rows: one runs, one fails, one is forbidden by
/// its own metadata (expected), one by a table.
pub fn packages() -> Document {
    let py = "CPython 3.11.7";
    let mut doc = every_outcome();
    doc.subject = Some("packages".into());
    doc.extension =
        Some("wheels pandas-2.0.3-cp311-cp311-manylinux_2_17_x86_64.whl, scipy==1.11.4".into());
    doc.grids.truncate(1);
    doc.grids[0].axes.build = vec![
        axis("pandas-2.0.3-cp311-cp311-manylinux_2_17_x86_64.whl", None),
        axis("scipy==1.11.4", None),
    ];
    for (a, label) in doc.grids[0]
        .axes
        .build
        .iter_mut()
        .zip(["pandas 2.0.3", "scipy 1.11.4"])
    {
        a.unavailable = None;
        a.label = Some(label.into());
    }
    // What the packages declare (their METADATA's Requires-Dist).
    let declared = |row: &str, declares: &str| BuildDoc {
        numpy: row.into(),
        ok: true,
        reused: true,
        summary: String::new(),
        duration_s: 0.0,
        log: String::new(),
        declares: Some(declares.into()),
        tag: None,
        forced: None,
        python: None,
    };
    doc.grids[0].builds = vec![
        declared("pandas 2.0.3", "numpy>=1.21.0,>=1.23.2"),
        declared("scipy 1.11.4", "numpy<1.28.0,>=1.21.6"),
    ];
    let mut forbidden = cell(
        0,
        py,
        "scipy 1.11.4",
        "2.0.2",
        OutcomeKind::Unavailable,
        None,
        "scipy 1.11.4's metadata forbids numpy 2.0.2: Because scipy==1.11.4 depends on numpy>=1.21.6,<1.28.0 and you require numpy==2.0.2, we can conclude that your requirements are unsatisfiable. (--ignore-requires runs it anyway)",
        expect(OutcomeKind::Unavailable, None, None, false),
    );
    forbidden.expected.source = ExpectSource::Declared;
    forbidden.forbidden = true;
    forbidden.unavailable = Some(Unavailability::Metadata);
    doc.cells = vec![
        cell(
            0,
            py,
            "pandas 2.0.3",
            "1.26.4",
            OutcomeKind::Pass,
            None,
            "",
            expect(OutcomeKind::Pass, None, None, false),
        ),
        cell(
            0,
            py,
            "pandas 2.0.3",
            "2.0.2",
            OutcomeKind::Fail,
            Some(FailureReason::DtypeSize),
            "numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject",
            expect(
                OutcomeKind::Fail,
                Some(FailureReason::DtypeSize),
                Some(9),
                false,
            ),
        ),
        cell(
            0,
            py,
            "scipy 1.11.4",
            "1.26.4",
            OutcomeKind::Pass,
            None,
            "",
            expect(OutcomeKind::Pass, None, None, false),
        ),
        forbidden,
    ];
    doc.sort_cells();
    let planned = doc.cells.len();
    doc.summarize(planned);
    doc
}

/// The same first grid, but cut short: an interrupted run.
pub fn interrupted() -> Document {
    let mut doc = every_outcome();
    doc.complete = false;
    doc.duration_s = None;
    doc.cells.truncate(3);
    let planned = doc.planned_by_axes();
    doc.summarize(planned);
    doc
}

pub fn interpreter(version: &str) -> Interpreter {
    Interpreter {
        executable: PathBuf::from(format!("/root/.pyenv/versions/{version}/bin/python3")),
        version: Version::from_str(version).unwrap_or_else(|_| Version::new([3])),
        implementation: "CPython".into(),
        machine: "x86_64".into(),
        platform: "linux".into(),
        ext_suffix: ".cpython-311-x86_64-linux-gnu.so".into(),
        cc: "gcc".into(),
        cflags: "-O2".into(),
        ccshared: "-fPIC".into(),
        ldshared: "gcc -shared".into(),
        include: PathBuf::from("/root/.pyenv/versions/3.11.7/include/python3.11"),
        python_h: true,
        tags: vec![
            "cp311-cp311-manylinux_2_28_x86_64".into(),
            "cp311-cp311-manylinux_2_17_x86_64".into(),
            "cp311-cp311-linux_x86_64".into(),
        ],
        free_threaded: false,
    }
}

/// A planned run's header, as progress shows it before any work.
pub fn header() -> RunHeader {
    let v = |s: &str| Version::from_str(s).unwrap_or_else(|_| Version::new([0]));
    let series = |s: &str| NumpyRequest::from_str(s).unwrap_or(NumpyRequest::Latest);
    RunHeader {
        grids: vec![GridPlan {
            interpreter: interpreter("3.12.1"),
            source: PythonSource::Pyenv,
            python_unit: 0,
            build_axis: vec![
                AxisEntry::Numpy {
                    request: series("2.0.*"),
                    version: v("2.0.2"),
                    origin: Default::default(),
                },
                AxisEntry::Missing {
                    request: series("1.22.*"),
                    why: "no wheel of numpy==1.22.* for CPython 3.12.1".into(),
                    kind: crate::outcome::Unavailability::NoWheel,
                },
            ],
            runtime_axis: vec![
                AxisEntry::Numpy {
                    request: series(">=1.25,<2.1"),
                    version: v("1.26.4"),
                    origin: Default::default(),
                },
                AxisEntry::Numpy {
                    request: series(">=1.25,<2.1"),
                    version: v("2.0.2"),
                    origin: Default::default(),
                },
            ],
            skipped: vec!["1.25.* (from >=1.25,<2.1)".into()],
            cells: vec![(0, 0), (0, 1), (1, 0), (1, 1)],
            shared: None,
            builds_only: false,
        }],
        matrix_id: "0123456789abcdef".into(),
        shard: None,
        shards: crate::plan::ShardPlan::new(&["3.12".into()], &[">=1.25,<2.1".into()], 1),
        installer: "uv (/usr/bin/uv, from PATH)".into(),
        extension: "sample extension my_extension".into(),
        subject: crate::extension::SubjectKind::Sources,
        exercised: Exercise::Probe {
            modules: vec!["my_extension".into()],
        },
        jobs: 2,
        notes: vec!["installed uv into /root/.cache/abimatrix/v2/tools/uv/bin/uv".into()],
        timeout: Duration::from_secs(60),
        selected: Vec::new(),
        probe: crate::probe::ProbeCode::unnamed(
            "assert module.get_array_dim(np.zeros((2, 3))) == (2, 3)",
        ),
    }
}

/// One grid whose rows show every shape of the answer: a range bounded
/// above (a 1.x build under NumPy 2), a range open above, a range with a
/// hole (an unexpected crash), and one starting above the oldest tested
/// release (so runtime columns name the newer builds they do not run).
pub fn answer() -> Document {
    use OutcomeKind::{Crash, Fail, Pass};
    let py = "CPython 3.11.7";
    let runtimes = ["1.24.4", "1.26.4", "2.0.2", "2.1.3", "2.2.6"];
    let rows: [(&str, [OutcomeKind; 5]); 4] = [
        ("1.26.4", [Pass, Pass, Fail, Fail, Fail]),
        ("2.0.2", [Pass, Pass, Pass, Pass, Pass]),
        ("2.1.3", [Pass, Pass, Pass, Crash, Pass]),
        ("2.2.6", [Fail, Fail, Pass, Pass, Pass]),
    ];
    let mut cells = Vec::new();
    for (build, outcomes) in rows {
        for (runtime, outcome) in runtimes.iter().zip(outcomes) {
            let (reason, message) = match outcome {
                Fail if build.starts_with("1.") => (
                    Some(FailureReason::AbiMajor),
                    "A module that was compiled using NumPy 1.x cannot be run in NumPy 2 as it may crash.",
                ),
                Fail => (
                    Some(FailureReason::ApiVersion),
                    "module compiled against API version 0x13 but this version of numpy is 0x11",
                ),
                Crash => (None, "killed by SIGSEGV (signal 11)"),
                _ => (None, ""),
            };
            let expected = if outcome == Crash {
                expect(Pass, None, None, true)
            } else {
                expect(outcome, reason, None, true)
            };
            let mut c = cell(0, py, build, runtime, outcome, reason, message, expected);
            if outcome == Crash {
                c.exception = None;
                c.signal = Some(11);
                c.signal_name = Some("SIGSEGV".into());
            }
            cells.push(c);
        }
    }
    let mut doc = every_outcome();
    doc.grids.truncate(1);
    doc.grids[0].builds.clear();
    doc.grids[0].axes = Axes {
        build: rows
            .iter()
            .map(|(b, _)| axis(&format!("{}.*", &b[..b.len() - 2]), Some(b)))
            .collect(),
        runtime: runtimes
            .iter()
            .map(|r| axis(&format!("{}.*", &r[..r.len() - 2]), Some(r)))
            .collect(),
    };
    doc.cells = cells;
    doc.sort_cells();
    doc.summarize(doc.planned_by_axes());
    doc
}

/// A project's grid with one cell unavailable for reason `why`, in the
/// words the runner writes, beside a cell that passed; an `[[expect]]`
/// table (line 12) expected it to pass, so every report (annotations too)
/// shows it. Yanked adds a pinned yanked release that ran, and the
/// build-requirements case has a wheel-metadata cell beside it: the two
/// must never share a line.
pub fn unavailable(why: Unavailability) -> Document {
    let py = "CPython 3.11.7";
    let mut doc = every_outcome();
    doc.grids.truncate(1);
    doc.subject = Some("project".into());
    doc.extension = Some("project .".into());
    let mut runtime = vec![axis("2.0.*", Some("2.0.2"))];
    let mut build = vec![axis("2.0.*", Some("2.0.2"))];
    let (b, r, message) = match why {
        Unavailability::BuildRequirements => {
            build.insert(0, axis("1.26.*", Some("1.26.4")));
            (
                "1.26.4",
                "2.0.2",
                "build requirements forbid numpy 1.26.4: numpy>=2.0.0rc1 (--ignore-requires builds it anyway)".to_string(),
            )
        }
        Unavailability::Metadata => {
            runtime.insert(0, axis("1.26.*", Some("1.26.4")));
            (
                "2.0.2",
                "1.26.4",
                "2.0.2's metadata forbids numpy 1.26.4: Because npdemo==0.1.0 depends on numpy>=2 and you require numpy==1.26.4, we can conclude that your requirements are unsatisfiable. (--ignore-requires runs it anyway)".to_string(),
            )
        }
        Unavailability::NoWheel => {
            runtime.insert(0, axis("1.21.*", None));
            (
                "2.0.2",
                "1.21.*",
                "runtime numpy 1.21.*: no wheel of numpy==1.21.* for CPython 3.11.7".to_string(),
            )
        }
        Unavailability::Yanked => {
            let mut pinned = axis("2.4.0", Some("2.4.0"));
            pinned.yanked = Some("Backward compatibility bug".into());
            runtime.push(pinned);
            let mut series = axis("2.3.*", None);
            series.unavailable = Some("every release of numpy==2.3.* with a wheel for CPython 3.11.7 is yanked on the index (newest: 2.3.0); pin one exactly (\"2.3.0\") to test it".into());
            runtime.push(series);
            (
                "2.0.2",
                "2.3.*",
                "runtime numpy 2.3.*: every release of numpy==2.3.* with a wheel for CPython 3.11.7 is yanked on the index (newest: 2.3.0); pin one exactly (\"2.3.0\") to test it".to_string(),
            )
        }
        Unavailability::NextIsNothing => {
            let mut next = axis("next", None);
            next.unavailable =
                Some("no NumPy pre-release is newer than 2.3.5, the newest release".into());
            runtime.push(next);
            (
                "2.0.2",
                "next",
                "runtime numpy next: no NumPy pre-release is newer than 2.3.5, the newest release"
                    .to_string(),
            )
        }
        other => ("2.0.2", "other", format!("{other:?}")),
    };
    doc.grids[0].axes = Axes { build, runtime };
    doc.grids[0].builds.clear();
    let mut missing = cell(
        0,
        py,
        b,
        r,
        OutcomeKind::Unavailable,
        None,
        &message,
        expect(OutcomeKind::Pass, None, Some(12), false),
    );
    missing.unavailable = Some(why);
    missing.forbidden = why.is_forbidden();
    let pass = |r: &str| {
        cell(
            0,
            py,
            "2.0.2",
            r,
            OutcomeKind::Pass,
            None,
            "",
            expect(OutcomeKind::Pass, None, None, false),
        )
    };
    doc.cells = vec![missing, pass("2.0.2")];
    match why {
        Unavailability::BuildRequirements => {
            // The forbidden row's other cell, and a metadata cell.
            let mut row = doc.cells[0].clone();
            row.runtime = "1.26.4".into();
            doc.grids[0]
                .axes
                .runtime
                .insert(0, axis("1.26.*", Some("1.26.4")));
            doc.cells.push(row);
            let mut metadata = doc.cells[0].clone();
            metadata.build = "2.0.2".into();
            metadata.runtime = "1.26.4".into();
            metadata.unavailable = Some(Unavailability::Metadata);
            metadata.message = "2.0.2's metadata forbids numpy 1.26.4: Because npdemo==0.1.0 depends on numpy>=2 and you require numpy==1.26.4, we can conclude that your requirements are unsatisfiable. (--ignore-requires runs it anyway)".into();
            doc.cells.push(metadata);
        }
        Unavailability::Yanked => doc.cells.push(pass("2.4.0")),
        _ => {}
    }
    doc.sort_cells();
    doc.summarize(doc.planned_by_axes());
    doc
}

/// Package rows with one finding of each kind on their declarations: a
/// declaration error (dtype-size under an admitted NumPy), a row failing
/// under every NumPy for no NumPy reason, a bound too strict (a probe ran),
/// and a build forced by `--ignore-requires`.
pub fn declarations() -> Document {
    use FailureReason::{DtypeSize, WrongResult};
    use OutcomeKind::{Fail, Pass};
    let py = "CPython 3.11.7";
    let mut doc = packages();
    // Each row: its label, what it declares, its cells under 1.26.4 and 2.0.2.
    type Row<'a> = (&'a str, &'a str, [(OutcomeKind, Option<FailureReason>); 2]);
    let rows: [Row; 4] = [
        (
            "cftime 1.6.2",
            "numpy>1.13.3",
            [(Pass, None), (Fail, Some(DtypeSize))],
        ),
        (
            "cftime 1.6.4",
            "numpy>1.13.3",
            [(Fail, Some(WrongResult)), (Fail, Some(WrongResult))],
        ),
        (
            "contourpy 1.3.0",
            "numpy>=1.26.4,<2",
            [(Pass, None), (Pass, None)],
        ),
        (
            "1.26.4",
            "numpy>=2",
            [(Pass, None), (Fail, Some(FailureReason::AbiMajor))],
        ),
    ];
    doc.extension = Some("wheels cftime==1.6.2, cftime==1.6.4, contourpy==1.3.0".into());
    doc.grids[0].axes.build = rows
        .iter()
        .map(|(row, ..)| {
            let mut a = axis(row, None);
            a.unavailable = None;
            a.label = Some((*row).into());
            a
        })
        .collect();
    doc.grids[0].builds = rows
        .iter()
        .map(|(row, declares, _)| BuildDoc {
            numpy: (*row).into(),
            ok: true,
            reused: false,
            summary: String::new(),
            duration_s: 0.0,
            log: String::new(),
            declares: Some((*declares).into()),
            tag: None,
            forced: row
                .starts_with('1')
                .then(|| "build requirements forbid numpy 1.26.4: numpy>=2.0.0rc1".into()),
            python: None,
        })
        .collect();
    doc.cells = rows
        .iter()
        .flat_map(|(row, _, outcomes)| {
            ["1.26.4", "2.0.2"]
                .iter()
                .zip(outcomes)
                .map(|(runtime, (kind, reason))| {
                    let message = match reason {
                        Some(DtypeSize) => "numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject",
                        Some(WrongResult) => "line 1: assert module.date2num(module.datetime(2000, 1, 2), 'days since 2000-01-01') == 2; left: 1, right: 2",
                        Some(_) => "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.2 as it may crash.",
                        None => "",
                    };
                    cell(0, py, row, runtime, *kind, *reason, message, expect(Pass, None, None, false))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    doc.config = Some("matrix.toml".into());
    doc.sort_cells();
    doc.summarize(doc.planned_by_axes());
    doc
}
