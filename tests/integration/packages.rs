//! Maintainers' mode, for real: projects built with setuptools and
//! meson-python against each build NumPy, published wheels from the index,
//! test commands, and `matrix explain`.

use crate::common;
use crate::common::{Project, matrix};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn project_matrix(project: &str, package: &str, extra: &str) -> String {
    format!(
        "[numpy]\nbuild = [\"1.26.*\", \"2.0.*\"]\nruntime = [\"1.26.*\", \"2.0.*\"]\n\
         [extension]\nproject = \"{}\"\nimports = [\"{package}\", \"{package}._native\"]\n{extra}\
         [run]\nexpect = \"numpy-rules\"\n",
        fixture(project)
    )
}

/// Both fixture projects, built with their own backends against 1.26 and
/// 2.0, behave as NumPy's rules say, and each build saw exactly its NumPy.
#[test]
fn a_setuptools_project_through_a_real_grid() {
    project_through_a_real_grid("setuptools_pkg", "npdemo");
}

#[test]
fn a_meson_python_project_through_a_real_grid() {
    project_through_a_real_grid("meson_pkg", "npmeson");
}

fn project_through_a_real_grid(project: &str, package: &str) {
    {
        let p = Project::new();
        let probe = format!("probe-file = \"{}\"\n", fixture("project_probe.py"));
        p.write("matrix.toml", &project_matrix(project, package, &probe));
        let run = p.run(&["--fresh"]);
        assert_eq!(run.code(), Some(0), "{project}\n{}", run.dump());
        assert_eq!(run.outcome("1.26.*", "1.26.*"), "pass");
        assert_eq!(run.outcome("2.0.*", "1.26.*"), "pass");
        assert_eq!(
            run.cell("1.26.*", "2.0.*")["reason"],
            "abi-major",
            "{project}"
        );
        for b in run.results()["grids"][0]["builds"].as_array().unwrap() {
            let log = b["log"].as_str().unwrap();
            assert!(
                log.contains(&format!(
                    "built against numpy {} (checked after the build)",
                    b["numpy"].as_str().unwrap()
                )),
                "{project}: {log}"
            );
            assert!(log.contains("--no-build-isolation"), "{log}");
        }
        // The user's tree is left as it was: builds run on a copy.
        assert!(
            !std::path::Path::new(&fixture(project))
                .join("build")
                .exists()
        );
    }
}

/// A test command instead of a probe: its exit status decides.
#[test]
fn a_test_command_decides_pass_and_fail() {
    let p = Project::new();
    let test = "test = \"python -c 'import npdemo, numpy; assert npdemo.shape_of(numpy.zeros((4, 5))) == (4, 5)'\"\n";
    p.write(
        "matrix.toml",
        &project_matrix("setuptools_pkg", "npdemo", test),
    );
    let run = p.run(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    assert_eq!(run.outcome("2.0.*", "2.0.*"), "pass");
    let failed = run.cell("1.26.*", "2.0.*");
    assert_eq!(failed["reason"], "abi-major", "{failed}");
    assert!(
        failed["command"].as_str().unwrap().contains("python -c"),
        "{failed}"
    );
}

/// pandas 2.0.3 (June 2023) was built against NumPy 1.x, a year before
/// NumPy 2.0 existed, and its metadata does not forbid NumPy 2: its Cython
/// modules import under 1.26 and refuse 2.x with Cython's dtype-size check.
/// The reason the grid reports is checked against what pandas really
/// printed. The wheel is fetched as a file too, for `wheels = [...]`.
#[test]
fn published_pandas_wheels_fail_under_numpy_2_with_dtype_size() {
    let p = Project::new();
    let dl = p.path("dist");
    common::pip_download("python3", "--only-binary", "pandas==2.0.3", &dl);
    p.write(
        "matrix.toml",
        "[numpy]\nruntime = [\"1.26.*\", \"2.0.*\"]\n\
         [extension]\nrequirement = \"pandas==2.0.3\"\nwheels = []\n",
    );
    // Two subjects at once is a config error, located.
    let bad = p.run(&[]);
    assert_eq!(bad.code(), Some(2), "{}", bad.dump());
    assert!(
        bad.stderr().contains("give exactly one subject"),
        "{}",
        bad.dump()
    );

    // The expectation names the row three ways: the requirement as
    // written, a wheel file glob, the row's label.
    for (subject, row) in [
        ("requirement = \"pandas==2.0.3\"", "pandas==2.0.3"),
        (
            "wheels = [\"dist/pandas-2.0.3-*.whl\"]",
            "pandas-2.0.3-*.whl",
        ),
        ("requirement = \"pandas==2.0.3\"", "pandas 2.0.3"),
    ] {
        p.write(
            "matrix.toml",
            &format!(
                "[numpy]\nruntime = [\"1.26.*\", \"2.0.*\"]\n[extension]\n{subject}\nimports = [\"pandas\"]\n\
                 probe = \"assert int(module.Series([1, 2, 3]).sum()) == 6\"\n\
                 [[expect]]\nrow = \"{row}\"\nruntime = \">=2\"\noutcome = \"fail\"\nreason = \"dtype-size\"\n\
                 [[expect]]\nrow = \"scipy*\"\noutcome = \"crash\"\n"
            ),
        );
        let run = p.run(&[]);
        assert_eq!(run.code(), Some(0), "{subject}\n{}", run.dump());
        let row = run.results()["grids"][0]["axes"]["build"][0]["label"]
            .as_str()
            .unwrap()
            .to_string();
        let r126 = run.resolved("runtime", "1.26.*");
        let r20 = run.resolved("runtime", "2.0.*");
        assert_eq!(
            run.cell_at(0, &row, &r126)["outcome"],
            "pass",
            "{}",
            run.dump()
        );
        let cell = run.cell_at(0, &row, &r20);
        assert_eq!(cell["reason"], "dtype-size", "{cell}");
        let message = cell["message"].as_str().unwrap();
        assert!(
            message.starts_with("numpy.dtype size changed, may indicate binary incompatibility")
        );
        assert!(
            cell["stderr"].as_str().unwrap().contains(message),
            "the message is pandas' own words"
        );
    }
}

/// scipy 1.11.4's metadata says numpy<1.28: under NumPy 2 the cell is
/// unavailable in the package's own words, and that is what is expected
/// (the package says so); --ignore-requires still runs it.
#[test]
fn metadata_that_forbids_a_numpy_is_reported_and_can_be_overridden() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        "[numpy]\nruntime = [\"2.0.*\"]\n[extension]\nrequirement = \"scipy==1.11.4\"\nimports = [\"scipy.linalg\"]\n",
    );
    let run = p.run(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let cell = &run.results()["cells"][0];
    assert_eq!(cell["outcome"], "unavailable", "{cell}");
    assert_eq!(cell["forbidden"], true, "{cell}");
    assert_eq!(
        (cell["met"].as_bool(), cell["expected"]["source"].as_str()),
        (Some(true), Some("declared")),
        "{cell}"
    );
    assert_eq!(
        cell["build"], "scipy 1.11.4",
        "rows are named by name and version"
    );
    assert!(
        cell["message"]
            .as_str()
            .unwrap()
            .contains("metadata forbids numpy 2.0"),
        "{cell}"
    );

    let forced = p.run(&["--ignore-requires"]);
    let cell = &forced.results()["cells"][0];
    assert_eq!(cell["outcome"], "fail", "{}", forced.dump());
    assert_ne!(
        cell["reason"], "other",
        "a NumPy 1 build of scipy under NumPy 2 fails for a known reason: {cell}"
    );
}

#[test]
fn explain_shows_the_commands_and_logs_of_a_cell() {
    let p = Project::new();
    p.write("matrix.toml", &common::numpy(&["1.26.*"], &["2.0.*"]));
    let run = p.run(&[]);
    let b = run.resolved("build", "1.26.*");
    let r = run.resolved("runtime", "2.0.*");
    let out = matrix()
        .args(["explain", &b, &r, "--results"])
        .arg(&run.json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("fail (abi-major)"), "{text}");
    assert!(text.contains(&format!("build against numpy {b}")), "{text}");
    assert!(
        text.contains("$ gcc") || text.contains("$ cc"),
        "the compiler command is shown: {text}"
    );
    // The probe command can be re-run by hand after the run: its files live on.
    let cmd = run.cell("1.26.*", "2.0.*")["command"]
        .as_str()
        .unwrap()
        .to_string();
    let words = shlex::split(&cmd).unwrap();
    assert!(
        std::path::Path::new(&words[4]).exists(),
        "probe driver {} is gone",
        words[4]
    );
    let missing = matrix()
        .args(["explain", "9.9", "9.9", "--results"])
        .arg(&run.json)
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}
