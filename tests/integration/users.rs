//! `matrix` as users run it: started in their project's folder, the config
//! found as `./matrix.toml`, every path in it relative (sources, headers,
//! same-named files in two folders, a probe file, a wheels glob, a
//! project), and the first mistakes people make answered with a hint. The
//! book's walk-through (docs/src/guides/own-extension.md) is this module.

use std::path::Path;

use crate::common::{Project, matrix};

/// A small extension on the NumPy C API: `answer()` sums a NumPy array it
/// makes, `ANSWER` comes from a header beside it.
const EXT_C: &str = r#"#define PY_SSIZE_T_CLEAN
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <Python.h>
#include <numpy/arrayobject.h>
#include "helper.h"

static PyObject *answer(PyObject *self, PyObject *args)
{
    npy_intp n = 3;
    PyObject *a = PyArray_ZEROS(1, &n, NPY_DOUBLE, 0);
    if (a == NULL) {
        return NULL;
    }
    Py_DECREF(a);
    return PyLong_FromLong(ANSWER + EXTRA);
}

static PyMethodDef methods[] = {
    {"answer", answer, METH_NOARGS, "the answer"},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef ext = {PyModuleDef_HEAD_INIT, "ext", NULL, -1, methods};

PyMODINIT_FUNC PyInit_ext(void)
{
    import_array();
    return PyModule_Create(&ext);
}
"#;

const NUMPY: &str = "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n";

fn extension(p: &Project, header: &str) {
    p.write("src/ext.c", EXT_C);
    p.write("src/helper.h", header);
}

/// Flat and nested sources, a header beside the source, two `util.c` in
/// two folders, a probe file: run from the project's folder with nothing
/// but relative paths, and from its parent with `-c sub/matrix.toml`.
#[test]
fn own_sources_run_from_their_own_folder() {
    let p = Project::new();
    extension(
        &p,
        "#define ANSWER 40\nint util_a(void);\nint util_b(void);\n#define EXTRA (util_a() + util_b() - 3)\n",
    );
    p.write("a/util.c", "int util_a(void) { return 1; }\n");
    p.write("b/util.c", "int util_b(void) { return 4; }\n");
    p.write("checks/probe.py", "assert module.answer() == 42\n");
    p.write(
        "matrix.toml",
        &format!(
            "{NUMPY}[extension]\nmodule = \"ext\"\nsources = [\"src/ext.c\", \"a/util.c\", \"b/util.c\"]\nprobe-file = \"checks/probe.py\"\n"
        ),
    );
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    assert_eq!(
        run.results()["cells"][0]["outcome"],
        "pass",
        "{}",
        run.dump()
    );
    // Flat: the source and its header beside matrix.toml.
    let flat = Project::new();
    flat.write("ext.c", EXT_C);
    flat.write("helper.h", "#define ANSWER 42\n#define EXTRA 0\n");
    flat.write(
        "matrix.toml",
        &format!("{NUMPY}[extension]\nmodule = \"ext\"\nsources = [\"ext.c\"]\nprobe = \"assert module.answer() == 42\"\n"),
    );
    let run = flat.run_here(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    // The same file named from elsewhere means the same files.
    let parent = p.dir.path().parent().unwrap();
    let name = p.dir.path().file_name().unwrap().to_str().unwrap();
    let from_parent = p.run_in(parent, &["-c", &format!("{name}/matrix.toml")], &[]);
    assert_eq!(from_parent.code(), Some(0), "{}", from_parent.dump());
    let _ = std::fs::remove_file(&from_parent.json);
}

/// A compiler error names the user's own file by its real path, and the
/// build commands `explain` prints run again by hand, as printed.
#[test]
fn compiler_messages_name_the_users_file_and_explain_reruns_as_printed() {
    let p = Project::new();
    extension(&p, "#define ANSWER 42\n#define EXTRA 0\n");
    p.write("checks/probe.py", "assert module.answer() == 42\n");
    p.write(
        "matrix.toml",
        &format!("{NUMPY}[extension]\nmodule = \"ext\"\nsources = [\"src/ext.c\"]\nprobe-file = \"checks/probe.py\"\n"),
    );
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let cell = &run.results()["cells"][0];
    let explained = matrix()
        .args(["explain"])
        .arg(cell["build"].as_str().unwrap())
        .arg(cell["runtime"].as_str().unwrap())
        .arg("--results")
        .arg(&run.json)
        // The probe's files in a folder of the test's, not of /tmp.
        .env("TMPDIR", p.dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&explained.stdout);
    let source = p.path("src/ext.c");
    let commands: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("$ "))
        .filter(|c| c.contains(" -c ") || c.contains(" -shared") || c.contains("-o "))
        .take(2)
        .collect();
    assert_eq!(commands.len(), 2, "a compile and a link:\n{text}");
    assert!(
        commands[0].contains(source.to_str().unwrap()),
        "compiled in place: {}",
        commands[0]
    );
    for command in commands {
        let again = std::process::Command::new("sh")
            .args(["-c", command])
            .current_dir("/")
            .output()
            .unwrap();
        assert!(
            again.status.success(),
            "`{command}` did not run again as printed: {}",
            String::from_utf8_lossy(&again.stderr)
        );
    }

    p.write(
        "src/ext.c",
        &EXT_C.replace(
            "return PyLong_FromLong",
            "this is not C; return PyLong_FromLong",
        ),
    );
    let broken = p.run_here(&[]);
    let cell = &broken.results()["cells"][0];
    assert_eq!(cell["outcome"], "build-failed", "{}", broken.dump());
    let at = format!("{}:", source.display());
    assert!(
        cell["message"].as_str().unwrap().starts_with(&at),
        "the message points at the user's file: {cell}"
    );
}

/// `wheels = ["dist/*.whl"]`, relative to matrix.toml: a row named by its
/// distribution and version.
#[test]
fn a_wheels_glob_relative_to_the_config() {
    let p = Project::new();
    let wheel = p.path("dist");
    std::fs::create_dir_all(&wheel).unwrap();
    let made = std::process::Command::new("python3")
        .args(["-c", TINY_WHEEL])
        .arg(&wheel)
        .status()
        .unwrap();
    assert!(made.success());
    p.write("checks/probe.py", "assert module.total([1, 2, 3]) == 6\n");
    p.write(
        "matrix.toml",
        "[numpy]\nruntime = [\"2.0.*\"]\n[extension]\nwheels = [\"dist/*.whl\"]\nimports = [\"tinypkg\"]\nprobe-file = \"checks/probe.py\"\n",
    );
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let cell = &run.results()["cells"][0];
    assert_eq!(
        (cell["build"].as_str(), cell["outcome"].as_str()),
        (Some("tinypkg 1.0"), Some("pass")),
        "{cell}"
    );
    assert!(
        run.stdout().contains("package ↓ / numpy →"),
        "{}",
        run.dump()
    );
}

/// A pure-Python wheel that needs NumPy, made by hand (PEP 427).
const TINY_WHEEL: &str = r#"
import sys, zipfile
name = sys.argv[1] + "/tinypkg-1.0-py3-none-any.whl"
files = {
    "tinypkg/__init__.py": "import numpy\n\ndef total(values):\n    return int(numpy.asarray(values).sum())\n",
    "tinypkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\nRequires-Dist: numpy>=1.20\n",
    "tinypkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: abimatrix-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
with zipfile.ZipFile(name, "w") as z:
    for path, text in files.items():
        z.writestr(path, text)
    z.writestr("tinypkg-1.0.dist-info/RECORD", "".join(p + ",,\n" for p in files) + "tinypkg-1.0.dist-info/RECORD,,\n")
"#;

/// `project = "."`: matrix.toml at the root of the project it tests. The
/// build runs on a copy: the user's tree gets no build/ folder.
#[test]
fn a_project_at_the_configs_own_folder() {
    let p = Project::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/setuptools_pkg");
    for rel in [
        "pyproject.toml",
        "setup.py",
        "src/npdemo/__init__.py",
        "src/npdemo/_native.c",
    ] {
        p.write(rel, &std::fs::read_to_string(fixture.join(rel)).unwrap());
    }
    p.write(
        "tests/probe.py",
        "assert module.shape_of(np.zeros((2, 3))) == (2, 3)\n",
    );
    p.write(
        "matrix.toml",
        &format!("{NUMPY}[extension]\nproject = \".\"\nimports = [\"npdemo\", \"npdemo._native\"]\nprobe-file = \"tests/probe.py\"\n"),
    );
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    assert!(!p.path("build").exists(), "the user's tree was built in");
}

/// The first mistakes: a module name that is not the one the sources
/// define, sources that never call import_array(), an OpenMP build without
/// its library. Each is said plainly, with what to change.
#[test]
fn first_mistakes_get_a_hint() {
    let p = Project::new();
    extension(&p, "#define ANSWER 42\n#define EXTRA 0\n");
    p.write(
        "matrix.toml",
        &format!("{NUMPY}[extension]\nmodule = \"wrong_name\"\nsources = [\"src/ext.c\"]\n"),
    );
    let run = p.run_here(&[]);
    let cell = &run.results()["cells"][0];
    assert_eq!(cell["outcome"], "build-failed", "{}", run.dump());
    let message = cell["message"].as_str().unwrap();
    assert!(
        message.contains("does not define PyInit_wrong_name")
            && message.contains("it defines PyInit_ext")
            && message.contains("extension.module"),
        "{message}"
    );

    // No import_array(): the first NumPy call dereferences an empty table.
    p.write("src/ext.c", &EXT_C.replace("    import_array();\n", ""));
    p.write(
        "matrix.toml",
        &format!("{NUMPY}[extension]\nmodule = \"ext\"\nsources = [\"src/ext.c\"]\nprobe = \"module.answer()\"\n[[expect]]\noutcome = \"crash\"\n"),
    );
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let cell = &run.results()["cells"][0];
    assert!(
        cell["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("import_array()"),
        "{cell}"
    );
    assert!(
        run.stdout()
            .contains("hint: the sources never call import_array()"),
        "{}",
        run.dump()
    );

    // OpenMP without its runtime library: the symbol is missing at import,
    // and the hint names the library that defines it on this machine.
    p.write(
        "src/ext.c",
        &EXT_C
            .replace(
                "#include \"helper.h\"",
                "#include \"helper.h\"\n#include <omp.h>",
            )
            .replace(
                "ANSWER + EXTRA",
                "ANSWER + EXTRA + omp_get_max_threads() * 0",
            ),
    );
    let omp = format!(
        "{NUMPY}[extension]\nmodule = \"ext\"\nsources = [\"src/ext.c\"]\ncflags = [\"-fopenmp\"]\nprobe = \"assert module.answer() == 42\"\n"
    );
    p.write("matrix.toml", &omp);
    let run = p.run_here(&[]);
    let cell = &run.results()["cells"][0];
    assert_eq!(cell["reason"], "missing-symbol", "{}", run.dump());
    let hint = cell["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("libraries = [\"gomp\"]"), "{cell}");
    p.write("matrix.toml", &format!("{omp}libraries = [\"gomp\"]\n"));
    let fixed = p.run_here(&[]);
    assert_eq!(fixed.code(), Some(0), "{}", fixed.dump());
}

/// `--cache-dir .cache` (and `ABIMATRIX_CACHE_DIR=.cache`) from the
/// project's folder: the cache's paths reach the compiler, which runs in
/// the build's own folder, so a relative cache once broke every build.
#[test]
fn a_relative_cache_dir() {
    let p = Project::new();
    p.write("matrix.toml", NUMPY);
    let cold = p.run_here(&["--cache-dir", ".cache"]);
    assert_eq!(cold.code(), Some(0), "{}", cold.dump());
    assert_eq!(
        cold.results()["summary"]["by_outcome"]["pass"],
        1,
        "{}",
        cold.dump()
    );
    assert!(p.path(".cache/v2/store").is_dir());
    let warm = p.run_in(
        p.path(".").as_path(),
        &[],
        &[("ABIMATRIX_CACHE_DIR", ".cache")],
    );
    assert_eq!(warm.code(), Some(0), "{}", warm.dump());
    let builds = warm.results()["grids"][0]["builds"].as_array().unwrap();
    assert!(
        builds.iter().all(|b| b["reused"] == true),
        "{}",
        warm.dump()
    );
}

/// Every printable ASCII character a Linux file name may hold (all but
/// `/`), and some that are not ASCII: `$$`, `\#`, `\ ` and `:` are what
/// Make, the compilers' dependency lists and `PATH`-style lists treat
/// specially.
const EVERY_CHARACTER: &str = " !\"#$%&'()*+,-.0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~ é€ 日本";

/// Any path works: the project folder, the cache, the artifacts folder and
/// TMPDIR each named with every character above, relative paths (with
/// `..`) as a user types them. The built-in sample passes cold, warm (its
/// dependency list read back and proven) and with --fresh; the sample's
/// source with a header beside it, in that project folder, passes too.
#[test]
fn any_path_works() {
    let root = Project::new();
    let named = |what: &str| {
        let dir = root.path(&format!("{what} {EVERY_CHARACTER}"));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    };
    let (project, tmp) = (named("project"), named("tmp"));
    let name = |what: &str| format!("../{what} {EVERY_CHARACTER}");
    let (cache, artifacts) = (name("cache"), name("artifacts"));
    let tmpdir = tmp.to_str().unwrap();
    std::fs::write(
        project.join("matrix.toml"),
        "[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\"]\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["--cache-dir", &cache, "--artifacts", &artifacts];
        args.extend_from_slice(extra);
        root.run_in(&project, &args, &[("TMPDIR", tmpdir)])
    };
    let passed = |r: &crate::common::Run, what: &str| {
        assert_eq!(r.code(), Some(0), "{what}\n{}", r.dump());
        assert_eq!(
            r.results()["summary"]["by_outcome"]["pass"],
            1,
            "{what}\n{}",
            r.dump()
        );
    };
    // Cold, then warm: the build reused (its dependency list read back).
    let cold_and_warm = |what: &str| {
        passed(&run(&[]), &format!("{what}, cold"));
        let warm = run(&[]);
        passed(&warm, &format!("{what}, warm"));
        assert_eq!(
            warm.results()["grids"][0]["builds"][0]["reused"],
            true,
            "{what}: the warm run reuses the build\n{}",
            warm.dump()
        );
    };
    cold_and_warm("the sample");
    passed(&run(&["--isolation", "process"]), "process isolation");
    let fresh = root.run_in(&project, &["--fresh"], &[("TMPDIR", tmpdir)]);
    passed(&fresh, "--fresh");

    // The user's own source and header in that folder: the compiler's
    // dependency list names them, escaped as Make escapes.
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(project.join("src/ext.c"), EXT_C).unwrap();
    std::fs::write(
        project.join("src/helper.h"),
        "#define ANSWER 41\n#define EXTRA 1\n",
    )
    .unwrap();
    std::fs::write(
        project.join("matrix.toml"),
        format!(
            "{NUMPY}[extension]\nmodule = \"ext\"\nsources = [\"src/ext.c\"]\nprobe = \"assert module.answer() == 42\"\n"
        ),
    )
    .unwrap();
    cold_and_warm("own sources");
    // Same size, another value: the header is proven by its content.
    std::fs::write(
        project.join("src/helper.h"),
        "#define ANSWER 40\n#define EXTRA 1\n",
    )
    .unwrap();
    let edited = run(&[]);
    assert_eq!(
        edited.results()["cells"][0]["reason"],
        "wrong-result",
        "{}",
        edited.dump()
    );
}
