//! A newcomer's first hour (issue 22): each first mistake answered where it
//! happens, every printed command re-runnable. Every test starts `matrix`
//! in the project's folder with relative paths, as a user types it, and
//! asserts the exact words the user reads.

use crate::common::{Project, text};

const SAMPLE_NUMPY: &str =
    "[numpy]\nbuild = [\"1.26.*\", \"2.0.*\"]\nruntime = [\"1.26.*\", \"2.0.*\"]\n";

/// `matrix init` in the project's folder says to run the file it wrote
/// the way `matrix run` finds it there: no `-c` for `./matrix.toml`.
#[test]
fn init_says_how_to_run_it_from_here() {
    let p = Project::new();
    let out = p.matrix_here(&["init"]);
    assert_eq!(
        text(&out.stdout),
        "wrote matrix.toml; run it with: matrix run\n"
    );
    let out = p.matrix_here(&["init", "other.toml"]);
    assert_eq!(
        text(&out.stdout),
        "wrote other.toml; run it with: matrix run -c other.toml\n"
    );
}

/// `-k` runs part of the grid: the cells it did not select are `–` and the
/// legend says so, in the terminal, Markdown and HTML alike; the answer
/// says it is read from the selected cells only.
#[test]
fn a_selected_grid_reads_as_one() {
    let p = Project::new();
    p.write("matrix.toml", SAMPLE_NUMPY);
    let run = p.run_here(&[
        "-k",
        "2.0.*:1.26.*",
        "--markdown",
        "grid.md",
        "--html",
        "grid.html",
    ]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let stdout = run.stdout();
    let legend = "✓ pass  ✗ fail  ☠ crash  ◷ timeout  ⚒ build-failed  · unavailable  ! not what was expected  – not selected by -k 2.0.*:1.26.*";
    let grid: Vec<&str> = stdout.lines().skip(1).take(4).collect();
    assert_eq!(
        grid,
        [
            "built with ↓ / runs on →  1.26.4  2.0.2",
            "1.26.4                        –      – ",
            "2.0.2                         ✓      – ",
            legend,
        ],
        "{}",
        run.dump()
    );
    assert!(
        stdout.contains(
            "answer, from the selected cells only (-k 2.0.*:1.26.*):\n    built against 2.0.2: works on numpy >=1.26.4 (1 of 1 tested release passes)\n    numpy 1.26.4 runs builds from 2.0.2 up\n\n"
        ),
        "{}",
        run.dump()
    );
    let md = p.read("grid.md");
    assert!(
        md.contains("| **1.26.4** | – | – |\n| **2.0.2** | ✓ | – |\n"),
        "{md}"
    );
    // Markdown escapes `*`, which would start emphasis.
    let escaped = legend.replace('*', "\\*");
    assert!(md.contains(&format!("\n{escaped}\n")), "{md}");
    assert!(
        md.contains("**The answer**, from the selected cells only (-k 2.0.\\*:1.26.\\*)\n"),
        "{md}"
    );
    let html = p.read("grid.html");
    assert!(
        html.contains("<td class=\"absent\">–</td><td class=\"absent\">–</td></tr>"),
        "{html}"
    );
    assert!(
        html.contains(&format!("<p class=\"legend\">{legend}</p>")),
        "{html}"
    );
    assert!(
        html.contains("<h3>The answer, from the selected cells only (-k 2.0.*:1.26.*)</h3>"),
        "{html}"
    );
}

/// A Python version that is not installed: the error lists every
/// interpreter on the machine, exactly as `matrix pythons` finds them
/// (pyenv's too), not only the few whose names could have matched.
#[test]
fn a_python_that_matches_nothing_lists_every_interpreter() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        "[python]\nversions = [\"3.5\"]\n[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n",
    );
    let pythons = p.matrix_here(&["pythons", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&pythons.stdout).expect("JSON");
    let mut found: Vec<(Vec<u64>, String, String)> = listed["found"]
        .as_array()
        .expect("found")
        .iter()
        .map(|f| {
            let version = f["version"].as_str().unwrap_or_default().to_string();
            let parts = version.split('.').map(|n| n.parse().unwrap_or(0)).collect();
            (
                parts,
                version,
                f["found_in"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        found.iter().any(|f| f.2 == "pyenv"),
        "this test needs pyenv's interpreters: {listed}"
    );
    // Oldest first; one place per version and place.
    let order = |f: &(Vec<u64>, String, String)| {
        let place = ["matrix.toml", "PATH", "pyenv", "uv"]
            .iter()
            .position(|p| *p == f.2);
        (f.0.clone(), place)
    };
    found.sort_by_key(order);
    found.dedup_by(|a, b| a.1 == b.1 && a.2 == b.2);
    let list: Vec<String> = found.iter().map(|f| format!("{} ({})", f.1, f.2)).collect();
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(2), "{}", run.dump());
    let expected = format!(
        "error: matrix.toml:2:13: no interpreter matches python \"3.5\"; found: {}\n  |\n2 | versions = [\"3.5\"]\n  |             ^\n",
        list.join(", ")
    );
    assert!(run.stderr().starts_with(&expected), "{}", run.dump());
}

/// `matrix explain` where there is no matrix.toml: it does not explain
/// another project's last run in silence; it says there is no config here
/// and names the last run it could read, for `--results`, which works.
#[test]
fn explain_outside_a_project_names_the_run_it_could_read() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n",
    );
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    // The machine's last run, in a cache of this test's own.
    let cache = Project::new();
    let last = cache.path("v2/last-results.json");
    std::fs::create_dir_all(last.parent().unwrap()).unwrap();
    std::fs::copy(&run.json, &last).unwrap();
    let elsewhere = Project::new();
    let explain = |extra: &[&str]| {
        crate::common::matrix()
            .args(["--color", "never", "explain", "2.0.2", "2.0.2"])
            .args(extra)
            .env("ABIMATRIX_CACHE_DIR", cache.dir.path())
            // The probe's files in a folder of the test's, not of /tmp.
            .env("TMPDIR", elsewhere.dir.path())
            .current_dir(elsewhere.dir.path())
            .output()
            .unwrap()
    };
    let out = explain(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "", "nothing is explained");
    let date = run.results()["date"].as_str().unwrap().to_string();
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: there is no matrix.toml here ({}), so there is no last run of it to explain\nhint: the last run on this machine (sample extension my_extension, run {date}) is {}: `matrix explain 2.0.2 2.0.2 --results {}`; or run it from the project's folder (or with -c FILE)\n",
            elsewhere.dir.path().display(),
            last.display(),
            last.display()
        )
    );
    let last = last.to_string_lossy().into_owned();
    let out = explain(&["--results", &last]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("cell:        CPython "),
        "{}",
        text(&out.stdout)
    );
}

/// The sample extension's source under `src/`, as a user's own.
fn sample_sources(p: &Project) {
    p.write("src/my_extension.c", crate::common::SAMPLE_C);
}

const SOURCES: &str =
    "[extension]\nmodule = \"my_extension\"\nsources = [\"src/my_extension.c\"]\n";

/// `test = "pytest"` with `test-requires = ["pytest"]` runs the way it
/// would in the environment's shell: the environment's `bin/` and the
/// requirements' scripts first on PATH, `VIRTUAL_ENV` set; without the
/// requirement, the cell says the program is not there and what to add.
#[test]
fn a_test_command_runs_like_a_shell_in_the_environment() {
    let p = Project::new();
    sample_sources(&p);
    p.write(
        "tests/test_ext.py",
        "import os, shutil, sys\nimport numpy as np\nimport my_extension\n\ndef test_dims():\n    assert my_extension.get_array_dim(np.zeros((2, 3))) == (2, 3)\n\ndef test_in_the_environment():\n    assert os.environ[\"VIRTUAL_ENV\"] == sys.prefix\n    assert shutil.which(\"python\") == os.path.join(sys.prefix, \"bin\", \"python\")\n    assert np.__version__ == \"2.0.2\"\n",
    );
    let numpy = "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n";
    p.write(
        "matrix.toml",
        &format!("{numpy}{SOURCES}test = \"pytest -q tests\"\ntest-requires = [\"pytest\"]\n"),
    );
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let cell = &run.results()["cells"][0];
    assert_eq!(cell["outcome"], "pass", "{}", run.dump());
    assert!(
        cell["stdout"]
            .as_str()
            .unwrap_or_default()
            .contains("2 passed"),
        "{cell}"
    );

    p.write(
        "matrix.toml",
        &format!("{numpy}{SOURCES}test = \"pytest -q tests\"\n"),
    );
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(1), "{}", run.dump());
    let cell = &run.results()["cells"][0];
    let env = cell["rerun"]["env"]
        .as_str()
        .expect("the cell's environment");
    assert_eq!(
        cell["message"].as_str().unwrap_or_default(),
        format!(
            "could not start the test command: pytest is not on PATH in the cell's environment: add the package that provides it to extension.test-requires (test-requires = [\"pytest\"]), or run it as `python -m pytest` (PATH: the scripts of the row and of test-requires, then {env}/bin, then the host's)"
        ),
        "{}",
        run.dump()
    );
}

/// pyenv's CPython 3.11, as a `[python]` table, and its label.
fn python311() -> (String, String) {
    let python = crate::common::pyenv_python("3.11");
    let version = std::process::Command::new(&python)
        .args(["-c", "import platform; print(platform.python_version())"])
        .output()
        .expect("python");
    let label = format!("CPython {}", text(&version.stdout).trim());
    (
        format!("[python]\ninterpreter = \"{}\"\n", python.display()),
        label,
    )
}

/// A probe that does not compile stops the run before any work (exit 2),
/// pointing at the file, line and column where it was written: the probe
/// file, or the character inside matrix.toml's string for an inline probe.
#[test]
fn a_probe_that_does_not_compile_stops_the_run_where_it_was_written() {
    let (python, label) = python311();
    let p = Project::new();
    sample_sources(&p);
    p.write(
        "tests/probe.py",
        "x = module.get_array_dim(np.zeros(2))\nassert x == (2,\n",
    );
    let numpy = "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n";
    p.write(
        "matrix.toml",
        &format!("{python}{numpy}{SOURCES}probe-file = \"tests/probe.py\"\n"),
    );
    let hint = "hint: the probe is compiled by the run's first interpreter before anything is built or run\n";
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(2), "{}", run.dump());
    assert_eq!(
        run.stderr(),
        format!(
            "error: tests/probe.py:2:13: the probe does not compile ({label}): SyntaxError: '(' was never closed\n  |\n2 | assert x == (2,\n  |             ^\n{hint}"
        )
    );
    assert!(run.results.is_none(), "nothing ran");

    p.write(
        "matrix.toml",
        &format!("{python}{numpy}{SOURCES}probe = \"\"\"\nx = module.get_array_dim(np.zeros(2))\nassert x ==\n\"\"\"\n"),
    );
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(2), "{}", run.dump());
    assert_eq!(
        run.stderr(),
        format!(
            "error: matrix.toml:11:12: the probe does not compile ({label}): SyntaxError: invalid syntax\n   |\n11 | assert x ==\n   |            ^\n{hint}"
        )
    );
}

/// A probe that raises or whose assert fails names its file and line, in
/// the message every report shows and in the traceback (with the line's
/// source), in both isolation modes; an inline probe names matrix.toml and
/// the config's own line.
#[test]
fn tracebacks_and_assertions_name_the_probe_file_and_line() {
    let p = Project::new();
    sample_sources(&p);
    p.write(
        "tests/probe.py",
        "x = module.get_array_dim(np.zeros(2))\nraise ValueError('boom %r' % (x,))\n",
    );
    let numpy = "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n";
    p.write(
        "matrix.toml",
        &format!("{numpy}{SOURCES}probe-file = \"tests/probe.py\"\n"),
    );
    for isolation in ["fork", "process"] {
        let run = p.run_here(&["--isolation", isolation, "--markdown", "grid.md"]);
        assert_eq!(run.code(), Some(1), "{}", run.dump());
        let cell = &run.results()["cells"][0];
        let message =
            "ValueError: boom (2,) — tests/probe.py, line 2: raise ValueError('boom %r' % (x,))";
        assert_eq!(cell["message"], message, "{isolation}: {}", run.dump());
        assert!(
            cell["stderr"].as_str().unwrap_or_default().contains(
                "  File \"tests/probe.py\", line 2, in <module>\n    raise ValueError('boom %r' % (x,))\n"
            ),
            "{isolation}: {cell}"
        );
        assert!(
            run.stdout()
                .contains(&format!("✗ other (1 cell, unexpected): {message}\n")),
            "{}",
            run.dump()
        );
        assert!(p.read("grid.md").contains(message), "{}", p.read("grid.md"));
    }

    p.write(
        "matrix.toml",
        &format!("{numpy}{SOURCES}probe = \"assert module.get_array_dim(np.zeros(2)) == (3,), 'wrong'\"\n"),
    );
    let run = p.run_here(&[]);
    assert_eq!(
        run.results()["cells"][0]["message"],
        "wrong — matrix.toml, line 7: assert module.get_array_dim(np.zeros(2)) == (3,), 'wrong'; left: (2,), right: (3,)",
        "{}",
        run.dump()
    );
}

/// The commands `explain` prints run again by hand from a fresh shell, as
/// printed, and do what the cell did: a probe's (its result file written
/// in the folder explain names and keeps) and a test command's.
#[test]
fn explain_prints_commands_that_run_again_from_a_fresh_shell() {
    let p = Project::new();
    sample_sources(&p);
    p.write(
        "tests/probe.py",
        "x = module.get_array_dim(np.zeros(2))\nassert x == (3,), 'wrong'\n",
    );
    p.write(
        "tests/test_ext.py",
        "import numpy as np\nimport my_extension\n\ndef test_dims():\n    assert my_extension.get_array_dim(np.zeros((2, 3))) == (2, 3)\n",
    );
    let numpy = "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n";
    p.write(
        "matrix.toml",
        &format!("{numpy}{SOURCES}probe-file = \"tests/probe.py\"\n"),
    );
    p.write(
        "pytest.toml",
        &format!("{numpy}{SOURCES}test = \"pytest -q tests\"\ntest-requires = [\"pytest\"]\n"),
    );
    // The command of `explain --keep DIR`, run with `sh -c` from `/` in a
    // bare environment, as a fresh shell would.
    let again = |config: &str, keep: &str| {
        let out = p.matrix_here(&["explain", "2.0.2", "2.0.2", "-c", config, "--keep", keep]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let shown = text(&out.stdout);
        let dir = p.path(keep);
        let heading = format!(
            "run again by hand (what it needs is in {}, kept):\n  $ ",
            dir.display()
        );
        let command = shown
            .split_once(&heading)
            .and_then(|(_, rest)| rest.lines().next())
            .unwrap_or_else(|| panic!("no command to run again:\n{shown}"))
            .to_string();
        let ran = std::process::Command::new("sh")
            .args(["-c", &command])
            .current_dir("/")
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", std::env::var_os("HOME").unwrap_or_default())
            .output()
            .unwrap();
        (ran, dir)
    };
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(1), "{}", run.dump());
    let cell = &run.results()["cells"][0];
    let (ran, dir) = again("matrix.toml", "again");
    assert_eq!(ran.status.code(), Some(1), "{}", text(&ran.stderr));
    let result = crate::common::read_json(&dir.join("result.json"));
    assert_eq!(
        (&result["status"], &result["message"]),
        (&serde_json::json!("wrong-result"), &cell["message"]),
        "the same outcome as the cell's"
    );
    assert!(
        text(&ran.stderr).contains("  File \"tests/probe.py\", line 2, in <module>\n"),
        "{}",
        text(&ran.stderr)
    );

    let run = p.run_in(p.dir.path(), &["-c", "pytest.toml"], &[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let (ran, _) = again("pytest.toml", "again-pytest");
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran.stderr));
    assert!(
        text(&ran.stdout).contains("1 passed"),
        "{}",
        text(&ran.stdout)
    );
}

/// A small extension on the NumPy C API; `@INIT@` is its PyInit_ext body
/// before the module is made, `@CALL@` what `answer()` does with NumPy.
const EXT_C: &str = r#"#define PY_SSIZE_T_CLEAN
@DEFINE@
#include <Python.h>
#include @INCLUDE@

static PyObject *answer(PyObject *self, PyObject *args)
{
    npy_intp n = 3;
    PyObject *a = PyArray_ZEROS(1, &n, NPY_DOUBLE, 0);
    if (a == NULL) {
        return NULL;
    }
    @CALL@
    Py_DECREF(a);
    return PyLong_FromLong(42);
}

static PyMethodDef methods[] = {
    {"answer", answer, METH_NOARGS, "the answer"},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef ext = {PyModuleDef_HEAD_INIT, "ext", NULL, -1, methods};

PyMODINIT_FUNC PyInit_ext(void)
{
    @INIT@
    return PyModule_Create(&ext);
}
"#;

/// EXT_C with its placeholders filled.
fn ext_c(define: &str, include: &str, call: &str, init: &str) -> String {
    EXT_C
        .replace("@DEFINE@", define)
        .replace("@INCLUDE@", include)
        .replace("@CALL@", call)
        .replace("@INIT@", init)
}

const NO_DEPRECATED: &str = "#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION";

/// The cells of a run's first grid, as (pair, outcome, hint).
fn hints(run: &crate::common::Run) -> Vec<(String, String, String)> {
    run.results()["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (
                format!("{} → {}", s("build"), s("runtime")),
                s("outcome"),
                s("hint"),
            )
        })
        .collect()
}

/// `/* import_array(); */`: the call is in the file's text but not in the
/// code. The preprocessed sources say so, and the crash (in the probe's
/// call into the module) gets the hint, at -O0 too (where the compiler
/// keeps NumPy's unused `_import_array`); a crash of sources that do call
/// it gets none.
#[test]
fn a_commented_out_import_array_is_found_from_the_preprocessed_sources() {
    let p = Project::new();
    let numpy = "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n";
    let config = |cflags: &str| {
        format!(
            "{numpy}[extension]\nmodule = \"ext\"\nsources = [\"src/ext.c\"]\nprobe = \"module.answer()\"\ncflags = [{cflags}]\n"
        )
    };
    let hint = "the sources never call import_array() (or PyArray_ImportNumPyAPI()), as the preprocessed sources show: NumPy's C-API table stays empty and the first NumPy call crashes; call it in PyInit_ext";
    p.write(
        "src/ext.c",
        &ext_c(
            NO_DEPRECATED,
            "<numpy/arrayobject.h>",
            "",
            "/* import_array(); */",
        ),
    );
    for cflags in ["", "\"-O0\""] {
        p.write("matrix.toml", &config(cflags));
        let run = p.run_here(&[]);
        assert_eq!(
            hints(&run),
            [(
                "2.0.2 → 2.0.2".to_string(),
                "crash".to_string(),
                hint.to_string()
            )],
            "cflags [{cflags}]: {}",
            run.dump()
        );
        assert!(
            run.stdout().contains(&format!("    hint: {hint}\n")),
            "{}",
            run.dump()
        );
    }
    // import_array() is called; the crash is the extension's own.
    p.write(
        "src/ext.c",
        &ext_c(
            NO_DEPRECATED,
            "<numpy/arrayobject.h>",
            "*(volatile int *)0 = 1;",
            "import_array();",
        ),
    );
    p.write("matrix.toml", &config(""));
    let run = p.run_here(&[]);
    assert_eq!(
        hints(&run),
        [(
            "2.0.2 → 2.0.2".to_string(),
            "crash".to_string(),
            String::new()
        )],
        "{}",
        run.dump()
    );
}

/// A build that cannot find NumPy's headers, or includes them without
/// their folder, is told how to include them, from the compiler's message.
#[test]
fn a_build_without_numpys_headers_says_how_to_include_them() {
    let p = Project::new();
    let numpy = "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n";
    p.write(
        "src/ext.c",
        &ext_c(NO_DEPRECATED, "<arrayobject.h>", "", "import_array();"),
    );
    p.write(
        "matrix.toml",
        &format!("{numpy}[extension]\nmodule = \"ext\"\nsources = [\"src/ext.c\"]\n"),
    );
    let run = p.run_here(&[]);
    assert_eq!(
        hints(&run),
        [(
            "2.0.2 → 2.0.2".to_string(),
            "build-failed".to_string(),
            "arrayobject.h is one of NumPy's headers, which are included with their folder: #include <numpy/arrayobject.h>".to_string()
        )],
        "{}",
        run.dump()
    );

    // A setuptools project whose Extension lacks numpy.get_include().
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/setuptools_pkg");
    for rel in [
        "pyproject.toml",
        "setup.py",
        "src/npdemo/__init__.py",
        "src/npdemo/_native.c",
    ] {
        let text = std::fs::read_to_string(fixture.join(rel)).unwrap();
        p.write(
            &format!("pkg/{rel}"),
            &text.replace("            include_dirs=[numpy.get_include()],\n", ""),
        );
    }
    assert!(!p.read("pkg/setup.py").contains("include_dirs"));
    p.write(
        "matrix.toml",
        &format!("{numpy}[extension]\nproject = \"pkg\"\nimports = [\"npdemo._native\"]\n"),
    );
    let run = p.run_here(&[]);
    assert_eq!(
        hints(&run),
        [(
            "2.0.2 → 2.0.2".to_string(),
            "build-failed".to_string(),
            "the compiler did not find NumPy's headers (numpy/arrayobject.h): the build must add numpy.get_include() to its include folders (setuptools: Extension(..., include_dirs=[numpy.get_include()]); meson-python: dependency('numpy'))".to_string()
        )],
        "{}",
        run.dump()
    );
}

/// NPY_NO_DEPRECATED_API, both ways: old names on the deprecated API build
/// against NumPy 1.26 with the compiler's warning and fail against 2.0,
/// whose headers dropped them; with the define, PyArrayObject's fields
/// are hidden. Each failed build says what to change.
#[test]
fn deprecated_api_mistakes_are_read_from_the_compiler() {
    let p = Project::new();
    p.write(
        "src/ext.c",
        &ext_c(
            "",
            "<numpy/arrayobject.h>",
            "(void)PyArray_DOUBLE;",
            "import_array();",
        ),
    );
    p.write(
        "matrix.toml",
        "[numpy]\nbuild = [\"1.26.*\", \"2.0.*\"]\nruntime = [\"2.0.*\"]\n[extension]\nmodule = \"ext\"\nsources = [\"src/ext.c\"]\n",
    );
    let run = p.run_here(&[]);
    let deprecated = "the compiler warned that the sources use NumPy's deprecated API (\"Using deprecated NumPy API\"), which newer NumPy headers no longer offer: add #define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION before the NumPy includes (or cflags = [\"-DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION\"]) and replace what it then rejects";
    let cells = hints(&run);
    assert_eq!(
        cells[1],
        (
            "2.0.2 → 2.0.2".to_string(),
            "build-failed".to_string(),
            deprecated.to_string()
        ),
        "{}",
        run.dump()
    );
    assert_ne!(cells[0].1, "build-failed", "1.26 builds: {}", run.dump());

    p.write(
        "src/ext.c",
        &ext_c(
            NO_DEPRECATED,
            "<numpy/arrayobject.h>",
            "(void)((PyArrayObject *)a)->nd;",
            "import_array();",
        ),
    );
    let run = p.run_here(&[]);
    let hidden = "PyArrayObject's fields (here nd) are hidden when NPY_NO_DEPRECATED_API is defined: use NumPy's accessors instead (PyArray_DATA, PyArray_NDIM, PyArray_DIMS, PyArray_STRIDES, ...)";
    assert_eq!(
        hints(&run),
        [
            (
                "1.26.4 → 2.0.2".to_string(),
                "build-failed".to_string(),
                hidden.to_string()
            ),
            (
                "2.0.2 → 2.0.2".to_string(),
                "build-failed".to_string(),
                hidden.to_string()
            ),
        ],
        "{}",
        run.dump()
    );
}
