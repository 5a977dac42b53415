//! Python's stable ABI (issue 24) as one Python's grid shows it already:
//! `limited-api` compiles the sources with `Py_LIMITED_API` into a module
//! named `.abi3.so`, a source that uses the full API fails to build with a
//! hint naming what it used, and a bad `limited-api` is a located config
//! error. (Importing one build under every newer Python is the plan's and
//! runner's, to come.)

use crate::common::Project;

const NUMPY: &str =
    "[python]\nversions = [\"3.9\"]\n[numpy]\nbuild = [\"2.0.2\"]\nruntime = [\"2.0.2\"]\n";

fn extension(p: &Project, limited: &str) {
    p.write(
        "matrix.toml",
        &format!(
            "{NUMPY}[extension]\nmodule = \"my_extension\"\nsources = [\"ext/my_extension.c\"]\nprobe-file = \"ext/probe.py\"\nlimited-api = \"{limited}\"\n"
        ),
    );
}

/// The sample as abi3 for 3.9 (the by-hand example): compiled with
/// `-DPy_LIMITED_API=0x03090000`, linked as `my_extension.abi3.so`, and it
/// passes its probe; the same sources using `PyTuple_GET_ITEM` (a macro the
/// limited API hides) fail to build, and the hint names it.
#[test]
fn a_limited_api_build_is_abi3_and_the_full_api_is_named() {
    let p = Project::new();
    p.sample_variant(str::to_string);
    extension(&p, "3.9");
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let results = run.results();
    assert_eq!(results["cells"][0]["outcome"], "pass", "{}", run.dump());
    let log = results["grids"][0]["builds"][0]["log"].as_str().unwrap();
    assert!(log.contains("-DPy_LIMITED_API=0x03090000"), "{log}");
    assert!(
        log.contains("-o my_extension.abi3.so") || log.contains("/my_extension.abi3.so"),
        "{log}"
    );
    assert!(!log.contains("cpython-39-x86_64-linux-gnu.so"), "{log}");

    p.sample_variant(|c| {
        c.replace(
            "    Py_RETURN_NONE;",
            "    PyObject *first = PyTuple_GET_ITEM(args, 0);\n    Py_INCREF(first);\n    return first;",
        )
    });
    let broken = p.run_here(&[]);
    let cell = &broken.results()["cells"][0];
    assert_eq!(cell["outcome"], "build-failed", "{}", broken.dump());
    let hint = cell["hint"].as_str().unwrap_or_default();
    assert!(
        hint.starts_with("PyTuple_GET_ITEM is not declared by the limited API")
            && hint.contains("PyTuple_GetItem"),
        "{cell}"
    );
    assert!(
        broken.stdout().contains("hint: PyTuple_GET_ITEM"),
        "{}",
        broken.dump()
    );
    // Without limited-api the same sources are fine: it is the limited
    // API that hides the macro.
    p.write(
        "matrix.toml",
        &format!(
            "{NUMPY}[extension]\nmodule = \"my_extension\"\nsources = [\"ext/my_extension.c\"]\nprobe-file = \"ext/probe.py\"\n"
        ),
    );
    let full = p.run_here(&[]);
    assert_eq!(full.code(), Some(0), "{}", full.dump());
}

/// A limited API that does not exist is refused before anything runs,
/// with the file, line and column and what was expected (exit 2).
#[test]
fn a_bad_limited_api_is_a_located_config_error() {
    let p = Project::new();
    p.sample_variant(str::to_string);
    extension(&p, "3.9.1");
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(2), "{}", run.dump());
    let stderr = run.stderr();
    assert!(
        stderr.contains("matrix.toml:10:15: limited API version \"3.9.1\" names a patch release")
            && stderr.contains("expected one like \"3.9\"")
            && stderr.contains("10 | limited-api = \"3.9.1\""),
        "{stderr}"
    );
}
