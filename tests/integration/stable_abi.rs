//! Python's stable ABI (issue 24) as one Python's grid shows it already:
//! `limited-api` compiles the sources with `Py_LIMITED_API` into a module
//! named `.abi3.so`, a source that uses the full API fails to build with a
//! hint naming what it used, and a bad `limited-api` is a located config
//! error; with several Pythons, each build is made once, on the build
//! Python, and imported under every Python at or above the limited API,
//! every cell agreeing with a by-hand oracle; a build without
//! `limited-api` is never tried under another Python; shards, `--python`,
//! `-k`, `merge` and `diff` keep the matrix's build Python.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{self, Project};

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

/// What the oracle does with one `.so` under one Python and NumPy: import
/// NumPy, import the module from the folder it was copied into, run the
/// sample's probe, as a person would by hand.
const ORACLE: &str = "import sys\nsys.path.insert(0, sys.argv[1])\nimport numpy as np\nimport my_extension as module\nexec(open(sys.argv[2]).read())\n";

/// The outcome the oracle sees for the module in `dir` under `python`
/// (a venv's), in abimatrix's words: pass, fail (an exception, NumPy's
/// import error among them) or crash (a signal).
fn oracle(python: &Path, dir: &Path, probe: &Path) -> &'static str {
    outcome_of(
        Command::new(python)
            .arg("-I")
            .args(["-c", ORACLE])
            .arg(dir)
            .arg(probe),
    )
}

/// A by-hand run's outcome in abimatrix's words: pass, fail (an exception,
/// NumPy's import error among them) or crash (a signal).
fn outcome_of(cmd: &mut Command) -> &'static str {
    let out = cmd.output().expect("run the oracle");
    match out.status.code() {
        Some(0) => "pass",
        Some(_) => "fail",
        None => "crash",
    }
}

/// A plain venv of `python` with `numpy==version` and `extra` from wheels
/// (one pip command), or `None` when there is no NumPy wheel for that
/// Python (pip says so; no wheel of `extra` fails the test).
fn venv_with(python: &Path, version: &str, dir: &Path, extra: &[&str]) -> Option<PathBuf> {
    // Without a pip of its own: bootstrapping one took 7 of the 13 s an
    // oracle environment took. pip installs into it from outside.
    let venv_python = crate::tools::bare_venv_of(python, dir).join("python");
    let numpy = format!("numpy=={version}");
    let wanted: Vec<&str> = std::iter::once(numpy.as_str())
        .chain(extra.iter().copied())
        .collect();
    match pip_into(&venv_python, &wanted) {
        Ok(()) => Some(venv_python),
        Err(none) => {
            assert!(
                none.contains(&format!("for {numpy}")),
                "{}: pip install {wanted:?}: {none}",
                python.display()
            );
            None
        }
    }
}

/// The `.so` a build's log says it linked (`-o …/my_extension.abi3.so`).
fn linked(log: &str) -> PathBuf {
    let path = log
        .split_whitespace()
        .skip_while(|w| *w != "-shared")
        .skip_while(|w| *w != "-o")
        .nth(1)
        .unwrap_or_else(|| panic!("no -o in the link step: {log}"));
    PathBuf::from(path.trim_matches('\''))
}

/// Issue 24, items 1 and 5: the sample as abi3 for 3.9, built on 3.9
/// against NumPy 1.26.4 and 2.0.2, each build made once (one build entry
/// each, both in 3.9's grid, both by 3.9, two `.abi3.so` in the cache)
/// and imported under 3.9, 3.11, 3.12 and 3.13 × the NumPys each has a
/// wheel for. Every cell is what a by-hand oracle says (plain venvs, the
/// same `.so` copied in, the probe run), cells without a wheel are
/// unavailable where pip finds none, and `numpy-rules` expects every cell
/// that ran (across Pythons; CPython 3.8, below the limited API, is unavailable
/// with the python-abi reason and nothing is run there).
#[test]
fn an_abi3_build_is_made_once_and_imported_under_every_python() {
    let p = Project::new();
    p.sample_variant(str::to_string);
    let minors = ["3.8", "3.9", "3.11", "3.12", "3.13"];
    let builds = ["1.26.4", "2.0.2"];
    let runtimes = ["1.26.4", "2.0.2", "2.1.3"];
    let quoted = |v: &[&str]| {
        v.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    p.write(
        "matrix.toml",
        &format!(
            "[run]\nexpect = \"numpy-rules\"\n[python]\nversions = [{}]\n[numpy]\nbuild = [{}]\nruntime = [{}]\n[extension]\nmodule = \"my_extension\"\nsources = [\"ext/my_extension.c\"]\nprobe-file = \"ext/probe.py\"\nlimited-api = \"3.9\"\n",
            quoted(&minors),
            quoted(&builds),
            quoted(&runtimes)
        ),
    );
    let listed = p.matrix_here(&["run", "--list", "--cache-dir", "cache"]);
    let listed = common::text(&listed.stdout);
    assert!(
        listed.contains("builds: made once, on CPython 3.9.")
            && listed.contains("(limited API 3.9, abi3: limited-api = \"3.9\")"),
        "{listed}"
    );
    let run = p.run_here(&["--cache-dir", "cache"]);
    let results = run.results();

    // Built once: two build entries, both in 3.9's grid, by 3.9, and no
    // other grid made any.
    let grids = results["grids"].as_array().unwrap();
    let label = |g: &serde_json::Value| g["interpreter"]["label"].as_str().unwrap().to_string();
    let py39 = grids
        .iter()
        .find(|g| label(g).starts_with("CPython 3.9."))
        .unwrap();
    for g in grids {
        assert_eq!(g["built_on"], py39["interpreter"]["label"], "{g}");
        if label(g) != label(py39) {
            assert_eq!(g["builds"].as_array().unwrap().len(), 0, "{g}");
        }
    }
    let made = py39["builds"].as_array().unwrap();
    assert_eq!(made.len(), 2, "{}", run.dump());
    let mut so = std::collections::HashMap::new();
    for b in made {
        assert_eq!(b["ok"], true, "{b}");
        assert_eq!(b["python"], py39["interpreter"]["label"], "{b}");
        let log = b["log"].as_str().unwrap();
        assert!(
            log.contains("/versions/3.9.") && log.contains("-DPy_LIMITED_API=0x03090000"),
            "{log}"
        );
        so.insert(b["numpy"].as_str().unwrap().to_string(), linked(log));
    }
    let in_cache = walkdir(&p.path("cache"))
        .into_iter()
        .filter(|f| {
            f.to_string_lossy().ends_with(".abi3.so")
                && !f.to_string_lossy().contains("site-packages")
        })
        .count();
    assert_eq!(in_cache, 2, "one .abi3.so per build NumPy, none per Python");
    let stdout = run.stdout();
    assert!(stdout.contains("2.0.2 · built on 3.9"), "{stdout}");
    // One answer per shared row, naming the Pythons it ran under and the
    // one below its limited API that cannot load it.
    let across = results["answer_across_pythons"].as_array().unwrap();
    assert_eq!(across.len(), 2, "{}", run.dump());
    for row in across {
        let text = row["text"].as_str().unwrap();
        assert!(text.starts_with("built on 3.9 against "), "{text}");
        assert!(text.contains("3.8 cannot load it"), "{text}");
        assert_eq!(
            row["tested_pythons"],
            serde_json::json!(["3.9", "3.11", "3.12", "3.13"]),
            "{text}"
        );
    }
    assert!(stdout.contains("answer across Pythons:"), "{stdout}");

    // The oracle: each build copied into a folder of its own, once.
    let copies: Vec<(String, PathBuf)> = builds
        .iter()
        .map(|b| {
            let dir = p.path(&format!("oracle/so-{b}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(&so[*b], dir.join("my_extension.abi3.so")).expect("copy the .so");
            (b.to_string(), dir)
        })
        .collect();
    let probe = p.path("ext/probe.py");
    let pythons: Vec<(&str, PathBuf)> = minors[1..]
        .iter()
        .map(|m| (*m, common::pyenv_python(m)))
        .collect();
    let envs: Vec<((&str, &str), Option<PathBuf>)> = std::thread::scope(|s| {
        let handles: Vec<_> = pythons
            .iter()
            .flat_map(|(m, python)| runtimes.iter().map(move |r| (m, python, r)))
            .map(|(m, python, r)| {
                let dir = p.path(&format!("oracle/venv-{m}-{r}"));
                s.spawn(move || ((*m, *r), venv_with(python, r, &dir, &[])))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut compared = 0;
    for ((minor, runtime), venv) in &envs {
        for (build, dir) in &copies {
            let cell = grids
                .iter()
                .position(|g| label(g).starts_with(&format!("CPython {minor}.")))
                .map(|i| run.cell_at(i, build, runtime))
                .unwrap();
            let want = match venv {
                Some(python) => oracle(python, dir, &probe),
                None => "unavailable",
            };
            assert_eq!(
                cell["outcome"], want,
                "{minor}: {build} → {runtime}: {cell}"
            );
            // numpy-rules, across Pythons, expects every cell that ran.
            if venv.is_some() {
                assert_eq!(cell["met"], true, "{cell}");
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 4 * builds.len() * runtimes.len());
    // Not every cell agrees trivially: NumPy's own rule fails the 1.x build
    // under 2.x on every Python, and 3.13 has no 1.26.4 wheel.
    assert!(envs.iter().any(|(_, v)| v.is_none()));
    let py313 = grids
        .iter()
        .position(|g| label(g).starts_with("CPython 3.13."))
        .unwrap();
    assert_eq!(run.cell_at(py313, "1.26.4", "2.1.3")["outcome"], "fail");
    assert_eq!(run.cell_at(py313, "2.0.2", "2.1.3")["outcome"], "pass");

    // Below the limited API: unavailable, with the reason, as expected.
    let py38 = grids
        .iter()
        .position(|g| label(g).starts_with("CPython 3.8."))
        .unwrap();
    for c in results["cells"].as_array().unwrap() {
        if c["grid"] == py38 {
            assert_eq!(c["outcome"], "unavailable", "{c}");
            assert_eq!(c["unavailable"], "python-abi", "{c}");
            assert_eq!(c["met"], true, "{c}");
        }
    }
}

/// Every file under `dir`.
fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(path),
                Ok(_) => out.push(path),
                Err(_) => {}
            }
        }
    }
    out
}

/// Without `limited-api`, each Python builds its own rows for its own ABI
/// and tries them under itself only: one build per Python, each by that
/// Python into its own `cpython-3X` module, no grid built on another, and
/// `--list` says so.
#[test]
fn a_build_without_limited_api_is_never_tried_across_pythons() {
    let p = Project::new();
    p.sample_variant(str::to_string);
    p.write(
        "matrix.toml",
        "[python]\nversions = [\"3.9\", \"3.12\"]\n[numpy]\nbuild = [\"2.0.2\"]\nruntime = [\"2.0.2\"]\n[extension]\nmodule = \"my_extension\"\nsources = [\"ext/my_extension.c\"]\nprobe-file = \"ext/probe.py\"\n",
    );
    let listed = p.matrix_here(&["run", "--list"]);
    let listed = common::text(&listed.stdout);
    assert!(
        listed.contains("never tried under another Python"),
        "{listed}"
    );
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let results = run.results();
    let grids = results["grids"].as_array().unwrap();
    assert_eq!(grids.len(), 2);
    for g in grids {
        assert!(g.get("built_on").is_none(), "{g}");
        let builds = g["builds"].as_array().unwrap();
        assert_eq!(builds.len(), 1, "{g}");
        let minor = g["interpreter"]["version"]
            .as_str()
            .unwrap()
            .split('.')
            .take(2)
            .collect::<Vec<_>>()
            .join("");
        let log = builds[0]["log"].as_str().unwrap();
        assert!(
            log.contains(&format!("my_extension.cpython-{minor}-")) && !log.contains("abi3"),
            "{log}"
        );
    }
    assert_eq!(results["cells"].as_array().unwrap().len(), 2);
    for c in results["cells"].as_array().unwrap() {
        assert_eq!(c["outcome"], "pass", "{c}");
    }
}

/// The position of CPython `minor`'s grid in a results document.
fn grid_of(results: &serde_json::Value, minor: &str) -> usize {
    results["grids"]
        .as_array()
        .unwrap()
        .iter()
        .position(|g| {
            g["interpreter"]["label"]
                .as_str()
                .is_some_and(|l| l.starts_with(&format!("CPython {minor}.")))
        })
        .unwrap_or_else(|| panic!("no grid of CPython {minor}"))
}

/// `pip install ARGS` into a venv's `python` (no dependencies, wheels
/// only) from outside it ([`crate::tools::pip_into`]), which chooses
/// wheels for that `python`; `Err` with pip's message when it found no
/// wheel of one of them for that Python.
/// Nothing is compiled to `.pyc`: the oracle imports each environment once.
fn pip_into(python: &Path, args: &[&str]) -> Result<(), String> {
    let out = crate::tools::pip_into(python)
        .args(["--no-compile", "--no-deps", "--only-binary", ":all:"])
        .args(args)
        .output()
        .expect("run pip");
    // Only pip's "no wheel for this Python" is an answer; any other failure
    // (the index unreachable, a broken cache) would pass for one.
    let stderr = common::text(&out.stderr);
    assert!(
        out.status.success() || stderr.contains("No matching distribution found"),
        "pip install {args:?} into {}:\n{stderr}",
        python.display()
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(stderr)
    }
}

/// The outcome of `code` under a venv's `python`, in abimatrix's words.
fn oracle_code(python: &Path, code: &str) -> &'static str {
    outcome_of(Command::new(python).args(["-I", "-c", code]))
}

/// Each `(minor, numpy)` pair's plain venv with `numpy` and then `extra`
/// installed by pip, made in parallel; `None` where pip has no NumPy wheel
/// for that Python.
fn oracle_venvs<'a>(
    p: &Project,
    minors: &[&'a str],
    numpys: &[&'a str],
    extra: &[&str],
) -> Vec<((&'a str, &'a str), Option<PathBuf>)> {
    std::thread::scope(|s| {
        let handles: Vec<_> = minors
            .iter()
            .flat_map(|m| numpys.iter().map(move |n| (*m, *n)))
            .map(|(m, n)| {
                let dir = p.path(&format!("oracle/venv-{m}-{n}"));
                s.spawn(move || ((m, n), venv_with(&common::pyenv_python(m), n, &dir, extra)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Issue 24, items 1 and 5: a real published `cp39-abi3` wheel that uses
/// NumPy's C API (pyerfa 2.0.1.5: ufuncs over NumPy arrays) across 3.9,
/// 3.11, 3.12 and 3.13. Every Python installs the same abi3 wheel (its tag
/// is in each build), the report answers it as one row across Pythons, and
/// every cell is what a by-hand oracle says: plain venvs with the NumPy and
/// the wheel from pip, the probe run.
/// On the suite's shared cache: nothing here is about what a cache holds.
#[test]
fn a_published_cp39_abi3_wheel_is_one_row_across_pythons() {
    let p = Project::new();
    let minors = ["3.9", "3.11", "3.12", "3.13"];
    let runtimes = ["1.26.4", "2.0.2", "2.2.6"];
    let probe = "import erfa\nassert abs(erfa.dat(2000, 1, 1, 0.0) - 32.0) < 1e-9\nassert erfa.cal2jd([2000, 2001], 1, 1)[0].shape == (2,)\n";
    p.write("probe.py", probe);
    p.write(
        "matrix.toml",
        "[python]\nversions = [\"3.9\", \"3.11\", \"3.12\", \"3.13\"]\n[numpy]\nruntime = [\"1.26.4\", \"2.0.2\", \"2.2.6\"]\n[extension]\nrequirement = \"pyerfa==2.0.1.5\"\nimports = [\"erfa\"]\nprobe-file = \"probe.py\"\n",
    );
    let run = p.run_here(&[]);
    let results = run.results();
    let grids = results["grids"].as_array().unwrap();
    assert_eq!(grids.len(), 4, "{}", run.dump());
    for g in grids {
        let builds = g["builds"].as_array().unwrap();
        assert_eq!(builds.len(), 1, "{g}");
        let tag = builds[0]["tag"].as_str().unwrap_or_default();
        assert!(tag.starts_with("cp39-abi3-"), "{g}");
    }
    let across = results["answer_across_pythons"].as_array().unwrap();
    assert_eq!(across.len(), 1, "{}", run.dump());
    let text = across[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("pyerfa 2.0.1.5 (cp39-abi3 wheel): "),
        "{text}"
    );
    assert_eq!(
        across[0]["tested_pythons"],
        serde_json::json!(minors),
        "{text}"
    );
    assert!(run.stdout().contains(text), "{}", run.stdout());

    let code = format!("import numpy as np\n{probe}");
    let envs = oracle_venvs(&p, &minors, &runtimes, &["pyerfa==2.0.1.5"]);
    let mut ran = 0;
    for ((minor, runtime), venv) in &envs {
        let grid = grid_of(results, minor);
        let cell = run.cell_at(grid, "pyerfa 2.0.1.5", runtime);
        let want = venv
            .as_deref()
            .map_or("unavailable", |python| oracle_code(python, &code));
        assert_eq!(cell["outcome"], want, "{minor}: {runtime}: {cell}");
        ran += usize::from(venv.is_some());
    }
    // Not all trivially unavailable: most pairs have a NumPy wheel.
    assert!(ran >= 8, "{ran}");
}

/// Issue 24, item 1, for projects: fast-histogram 0.14's sdist as shipped
/// declares its abi3 wheel in setup.cfg (`[bdist_wheel] py_limited_api =
/// cp39`), so it is built once, on 3.9, and that wheel is imported under
/// 3.12 too; every cell is what the same wheel says installed by pip into
/// plain venvs. The same project with the declaration taken out and
/// `limited-api = "3.9"` in matrix.toml builds a `cp39-cp39` wheel: its row
/// is build-failed, naming the wheel, and nothing is tried under 3.12.
#[test]
fn a_project_that_declares_an_abi3_wheel_is_built_once_and_its_tag_checked() {
    let p = Project::new();
    let src = common::sdist(p.dir.path(), "fast-histogram", "0.14");
    let name = src.file_name().unwrap().to_str().unwrap().to_string();
    let config = |extra: &str| {
        format!(
            "[python]\nversions = [\"3.9\", \"3.12\"]\n[numpy]\nbuild = [\"2.0.2\"]\nruntime = [\"1.26.4\", \"2.0.2\"]\n[extension]\nproject = \"{name}\"\nimports = [\"fast_histogram\"]\nprobe-file = \"probe.py\"\n{extra}"
        )
    };
    let probe = "from fast_histogram import histogram1d\nassert histogram1d([1.0, 2.0, 2.5], bins=2, range=(0, 3)).tolist() == [1.0, 2.0]\n";
    p.write("probe.py", probe);
    p.write("matrix.toml", &config(""));
    let listed = common::text(
        &p.matrix_here(&["run", "--list", "--cache-dir", "cache"])
            .stdout,
    );
    assert!(
        listed.contains("builds: made once, on CPython 3.9.")
            && listed.contains("setup.cfg: [bdist_wheel] py_limited_api = cp39"),
        "{listed}"
    );
    let run = p.run_here(&["--cache-dir", "cache"]);
    let results = run.results();
    let grids = results["grids"].as_array().unwrap();
    let (py39, py312) = (grid_of(results, "3.9"), grid_of(results, "3.12"));
    assert_eq!(
        grids[py312]["builds"].as_array().unwrap().len(),
        0,
        "{}",
        run.dump()
    );
    let built = &grids[py39]["builds"][0];
    assert_eq!(built["tag"], "cp39-abi3-linux_x86_64", "{built}");
    assert_eq!(
        grids[py312]["built_on"],
        grids[py39]["interpreter"]["label"]
    );
    let across = results["answer_across_pythons"][0]["text"]
        .as_str()
        .unwrap();
    assert!(
        across.starts_with("built on 3.9 against 2.0.2: "),
        "{across}"
    );

    // The oracle: the very wheel built, installed by pip beside each NumPy.
    let wheel = walkdir(&p.path("cache"))
        .into_iter()
        .find(|f| f.to_string_lossy().ends_with("-cp39-abi3-linux_x86_64.whl"))
        .expect("the built wheel is kept in the cache");
    let wheel = wheel.to_str().unwrap();
    let code = format!("import numpy as np\n{probe}");
    for ((minor, runtime), venv) in
        oracle_venvs(&p, &["3.9", "3.12"], &["1.26.4", "2.0.2"], &[wheel])
    {
        let grid = if minor == "3.9" { py39 } else { py312 };
        let cell = run.cell_at(grid, "2.0.2", runtime);
        let python = venv.expect("1.26.4 and 2.0.2 have wheels for 3.9 and 3.12");
        assert_eq!(
            cell["outcome"],
            oracle_code(&python, &code),
            "{minor}: {runtime}: {cell}"
        );
    }

    // Declared in matrix.toml, but the project no longer tags its wheel.
    let cfg = p.path(&format!("{name}/setup.cfg"));
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("[bdist_wheel]\npy_limited_api = cp39\n", ""),
    )
    .unwrap();
    p.write("matrix.toml", &config("limited-api = \"3.9\"\n"));
    let run = p.run_here(&["--cache-dir", "cache"]);
    let cells = run.results()["cells"].as_array().unwrap().clone();
    assert_eq!(cells.len(), 4, "{}", run.dump());
    for c in &cells {
        assert_eq!(c["outcome"], "build-failed", "{c}");
        let message = c["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("limited-api = \"3.9\": the project built fast_histogram-0.14-cp39-cp39-linux_x86_64.whl, which is not tagged abi3"),
            "{c}"
        );
    }
}

/// Issue 24, item 1, for a project that declares nothing abimatrix reads:
/// fast-histogram 0.14 with its `py_limited_api = cp39` moved from
/// setup.cfg into setup.py's `options`, where many projects write it. The
/// build Python's wheel comes out `cp39-abi3`, so the project is built
/// once, on 3.9 (one wheel in the cache), and 3.12 imports that wheel: no
/// build of its own, its rows built on 3.9, its cells those of 3.12's own
/// build (a `--python` run builds each Python's own, and its answer says
/// how to have it built once there too). A warm run and a `--fresh` one
/// say the same, and neither builds more than the cold run did (each run of
/// setup.py is logged outside the project: a `--fresh` run once built the
/// first wheel twice, once to read its tag and again in the grid). With no
/// declaration anywhere, each Python
/// builds its own `cp3X-cp3X` wheel and neither is tried under the other.
#[test]
fn a_project_whose_wheel_comes_out_abi3_undeclared_is_built_once() {
    let p = Project::new();
    let src = common::sdist(p.dir.path(), "fast-histogram", "0.14");
    let name = src.file_name().unwrap().to_str().unwrap().to_string();
    let edit = |file: &str, from: &str, to: &str| {
        let path = p.path(&format!("{name}/{file}"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file}: {text}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    const OPTIONS: &str = "    options={\"bdist_wheel\": {\"py_limited_api\": \"cp39\"}},\n";
    edit("setup.cfg", "[bdist_wheel]\npy_limited_api = cp39\n", "");
    edit("setup.py", "setup(\n", &format!("setup(\n{OPTIONS}"));
    // Every build runs setup.py the same number of times.
    let log = p.path("setup-runs.log");
    edit(
        "setup.py",
        "import ",
        &format!(
            "open({:?}, \"a\").write(\"run\\n\")\nimport ",
            log.display().to_string()
        ),
    );
    let runs = || std::fs::read_to_string(&log).map_or(0, |t| t.lines().count());
    let probe = "from fast_histogram import histogram1d\nassert histogram1d([1.0, 2.0, 2.5], bins=2, range=(0, 3)).tolist() == [1.0, 2.0]\n";
    p.write("probe.py", probe);
    p.write(
        "matrix.toml",
        &format!(
            "[python]\nversions = [\"3.9\", \"3.12\"]\n[numpy]\nbuild = [\"2.0.2\"]\nruntime = [\"1.26.4\", \"2.0.2\"]\n[extension]\nproject = \"{name}\"\nimports = [\"fast_histogram\"]\nprobe-file = \"probe.py\"\n"
        ),
    );
    let listed = common::text(
        &p.matrix_here(&["run", "--list", "--cache-dir", "cache"])
            .stdout,
    );
    assert!(
        listed.contains("declares no abi3 wheel that abimatrix reads: CPython 3.9."),
        "{listed}"
    );
    // (outcome of each cell, where grid 3.12's rows were built), by run.
    let seen = |run: &common::Run| {
        let results = run.results();
        let py312 = grid_of(results, "3.12");
        let cells: Vec<(String, String)> = ["1.26.4", "2.0.2"]
            .iter()
            .map(|rt| {
                let c = run.cell_at(py312, "2.0.2", rt);
                (
                    rt.to_string(),
                    c["outcome"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        (cells, results["grids"][py312]["built_on"].clone())
    };

    let cold = p.run_here(&["--cache-dir", "cache"]);
    assert_eq!(cold.code(), Some(0), "{}", cold.dump());
    assert!(
        cold.stderr()
            .contains("note: building the project on CPython 3.9."),
        "{}",
        cold.dump()
    );
    let results = cold.results();
    let (py39, py312) = (grid_of(results, "3.9"), grid_of(results, "3.12"));
    let grids = &results["grids"];
    assert_eq!(
        grids[py312]["builds"].as_array().unwrap().len(),
        0,
        "{}",
        cold.dump()
    );
    assert_eq!(grids[py39]["builds"][0]["tag"], "cp39-abi3-linux_x86_64");
    assert_eq!(
        grids[py312]["built_on"],
        grids[py39]["interpreter"]["label"]
    );
    let wheels: Vec<String> = walkdir(&p.path("cache"))
        .iter()
        .filter_map(|f| f.file_name()?.to_str().map(str::to_string))
        .filter(|n| n.ends_with(".whl") && n.starts_with("fast_histogram"))
        .collect();
    assert_eq!(wheels, ["fast_histogram-0.14-cp39-abi3-linux_x86_64.whl"]);
    let shared = seen(&cold);
    let per_build = runs();
    assert!(per_build > 0, "{}", cold.dump());
    assert_eq!(
        shared.0,
        [
            ("1.26.4".into(), "pass".into()),
            ("2.0.2".into(), "pass".into())
        ],
        "{}",
        cold.dump()
    );

    let warm = p.run_here(&["--cache-dir", "cache"]);
    assert!(
        !warm.stderr().contains("building the project"),
        "{}",
        warm.dump()
    );
    assert_eq!(seen(&warm), shared, "{}", warm.dump());
    assert!(
        warm.stderr().contains("note: the wheel CPython 3.9.18 built is tagged cp39-abi3-linux_x86_64: the project is built once, on that Python, and imported under every Python at or above 3.9"),
        "{}",
        warm.dump()
    );
    assert_eq!(runs(), per_build, "the warm run built nothing");
    let fresh = p.run_here(&["--fresh"]);
    assert_eq!(seen(&fresh), shared, "{}", fresh.dump());
    assert_eq!(
        runs(),
        2 * per_build,
        "a --fresh run builds the 3.9 wheel once: {}",
        fresh.dump()
    );

    // A --python run asks no wheel first: each Python builds its own (3.12's
    // cells the same as with 3.9's wheel), and the answer says how to have
    // it built once there too.
    let own = p.run_here(&[
        "--cache-dir",
        "cache",
        "--python",
        "3.9",
        "--python",
        "3.12",
    ]);
    for minor in ["3.9", "3.12"] {
        let grid = &own.results()["grids"][grid_of(own.results(), minor)];
        assert_eq!(
            grid["builds"].as_array().unwrap().len(),
            1,
            "{}",
            own.dump()
        );
        assert_eq!(grid["built_on"], serde_json::Value::Null);
    }
    assert_eq!(seen(&own).0, shared.0, "{}", own.dump());
    assert!(
        own.stdout()
            .contains("each tagged abi3 for 3.9 (a whole run finds that and builds it once"),
        "{}",
        own.dump()
    );
    // Declared nowhere: each Python's own wheel, never tried under another.
    edit("setup.py", OPTIONS, "");
    let apart = p.run_here(&["--cache-dir", "cache"]);
    assert_eq!(apart.code(), Some(0), "{}", apart.dump());
    let results = apart.results();
    for (minor, tag) in [("3.9", "cp39-cp39"), ("3.12", "cp312-cp312")] {
        let grid = &results["grids"][grid_of(results, minor)];
        assert_eq!(
            grid["built_on"],
            serde_json::Value::Null,
            "{}",
            apart.dump()
        );
        assert_eq!(
            grid["builds"][0]["tag"],
            format!("{tag}-linux_x86_64"),
            "{}",
            apart.dump()
        );
    }
}

/// Issue 24, items 1 and 2, for published wheels: pyerfa's `cp39-abi3`
/// wheel as a file is for every Python from 3.9 up. Under 3.8 its cell is
/// `unavailable` for Python's ABI, said by the wheel's tag before any
/// install, and the default expectation expects it; 3.9 and 3.12 run it
/// (as pip says they do) and it is one row across Pythons, which ran under
/// no cell of 3.8. The same release as a pinned requirement is judged the
/// same way, from the index's list of its wheels, and so is a range whose
/// every release is for 3.9 and up.
/// On the suite's shared cache: nothing here is about what a cache holds.
#[test]
fn a_wheel_below_its_abi3_version_is_unavailable_for_pythons_abi() {
    let p = Project::new();
    let python39 = common::pyenv_python("3.9");
    common::ok(
        Command::new(&python39)
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args([
                "--no-deps",
                "--only-binary",
                ":all:",
                "pyerfa==2.0.1.5",
                "-d",
            ])
            .arg(p.path("dist")),
        "pip download",
    );
    let wheel = std::fs::read_dir(p.path("dist"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(".whl"))
        .expect("pip downloaded the wheel");
    assert!(wheel.contains("-cp39-abi3-"), "{wheel}");
    p.write(
        "matrix.toml",
        &format!(
            "[python]\nversions = [\"3.8\", \"3.9\", \"3.12\"]\n[numpy]\nruntime = [\"1.24.4\", \"2.0.2\"]\n[extension]\nwheels = [\"dist/{wheel}\"]\nimports = [\"erfa\"]\nprobe = \"assert module.dat(2000, 1, 1, 0.0) == 32.0\"\n"
        ),
    );
    let run = p.run_here(&[]);
    let results = run.results();
    let grids = results["grids"].as_array().unwrap();
    let at = |minor: &str| grid_of(results, minor);
    let below = run.cell_at(at("3.8"), "pyerfa 2.0.1.5", "1.24.4");
    assert_eq!(below["outcome"], "unavailable", "{below}");
    assert_eq!(below["unavailable"], "python-abi", "{below}");
    assert_eq!(below["met"], true, "{below}");
    assert!(
        below["message"]
            .as_str()
            .unwrap()
            .contains("loads on Python 3.9 and newer, not 3.8"),
        "{below}"
    );
    // Nothing was installed for 3.8.
    assert_eq!(
        grids[at("3.8")]["builds"].as_array().unwrap().len(),
        0,
        "{}",
        run.dump()
    );
    assert_eq!(
        run.cell_at(at("3.9"), "pyerfa 2.0.1.5", "1.24.4")["outcome"],
        "pass"
    );
    assert_eq!(
        run.cell_at(at("3.12"), "pyerfa 2.0.1.5", "2.0.2")["outcome"],
        "pass"
    );
    let across = results["answer_across_pythons"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        across.starts_with(
            "pyerfa 2.0.1.5 (cp39-abi3 wheel): works on Python >=3.9 (3.9 and 3.12 tested)"
        ) && across.ends_with("; no cell ran under 3.8"),
        "{across}"
    );

    // The same release as a pinned requirement: the index's list of its
    // wheels says the same before any install (not the installer's "no
    // usable wheels", which would be build-failed).
    p.write(
        "matrix.toml",
        "[python]\nversions = [\"3.8\", \"3.9\"]\n[numpy]\nruntime = [\"1.24.4\"]\n[extension]\nrequirement = \"pyerfa==2.0.1.5\"\nimports = [\"erfa\"]\nprobe = \"assert module.dat(2000, 1, 1, 0.0) == 32.0\"\n",
    );
    let pinned = p.run_here(&[]);
    let below = python_abi_below_39(&pinned, "pyerfa 2.0.1.5");
    let results = pinned.results();
    let message = below["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("no wheel of pyerfa 2.0.1.5 loads under CPython 3.8.")
            && message.ends_with(": its wheels for this platform are cp39-abi3"),
        "{below}"
    );
    assert_eq!(
        results["grids"][grid_of(results, "3.8")]["builds"]
            .as_array()
            .map(Vec::len),
        Some(0),
        "{}",
        pinned.dump()
    );

    // A range whose every release is for 3.9 and up (2.0.1 to 2.0.1.5, all
    // cp39-abi3): the resolver picks none under 3.8, and the index's list
    // says why, before any install; 3.9 resolves it to 2.0.1.5.
    p.write(
        "matrix.toml",
        "[python]\nversions = [\"3.8\", \"3.9\"]\n[numpy]\nruntime = [\"1.24.4\"]\n[extension]\nrequirement = \"pyerfa>=2.0.1,<2.1\"\nimports = [\"erfa\"]\nprobe = \"assert module.dat(2000, 1, 1, 0.0) == 32.0\"\n",
    );
    let ranged = p.run_here(&[]);
    let below = python_abi_below_39(&ranged, "pyerfa>=2.0.1,<2.1");
    let message = below["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("no release pyerfa>=2.0.1,<2.1 admits loads under CPython 3.8.")
            && message.ends_with("only for other Pythons (the newest, 2.0.1.5: cp39-abi3)"),
        "{below}"
    );
}

/// A run of a pyerfa requirement under 3.8 and 3.9 with NumPy 1.24.4:
/// it exits 0, 3.9's cell (pyerfa 2.0.1.5) passes, and 3.8's (row
/// `row_38`) is `unavailable (python-abi)` and expected so; returns that cell.
fn python_abi_below_39(run: &common::Run, row_38: &str) -> serde_json::Value {
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let results = run.results();
    let below = run.cell_at(grid_of(results, "3.8"), row_38, "1.24.4");
    assert_eq!(
        (
            below["outcome"].as_str(),
            below["unavailable"].as_str(),
            below["met"].as_bool()
        ),
        (Some("unavailable"), Some("python-abi"), Some(true)),
        "{below}"
    );
    assert_eq!(
        run.cell_at(grid_of(results, "3.9"), "pyerfa 2.0.1.5", "1.24.4")["outcome"],
        "pass"
    );
    below.clone()
}

/// The cells of a results document, as `(Python, build, runtime, outcome)`,
/// sorted: what two runs of one matrix must agree on.
fn cells_of(results: &serde_json::Value) -> Vec<(String, String, String, String)> {
    let mut cells: Vec<_> = results["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (s("interpreter"), s("build"), s("runtime"), s("outcome"))
        })
        .collect();
    cells.sort();
    cells
}

/// Each grid's interpreter, the Python it was built on and the builds it
/// lists, in the document's order.
fn grids_of(results: &serde_json::Value) -> Vec<(String, String, Vec<String>)> {
    results["grids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let builds = g["builds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["numpy"].as_str().unwrap().to_string())
                .collect::<std::collections::BTreeSet<_>>();
            (
                g["interpreter"]["label"].as_str().unwrap().to_string(),
                g["built_on"].as_str().unwrap_or_default().to_string(),
                builds.into_iter().collect(),
            )
        })
        .collect()
}

/// The build Python is the matrix's: a shard, or a `--python` run, that
/// does not own 3.9's cells still makes every row on 3.9 (and runs no 3.9
/// cell), so each shard's cells are the unsharded run's and their merge is
/// the unsharded document (cells, `built_on`, builds listed once in 3.9's
/// grid); `matrix plan` gives every shard 3.9; `-k '3.12/2.0.*:>=2'` picks
/// runtime Python 3.12's cells, built on 3.9; and `matrix diff` against a
/// run built on 3.12 says the rows were built on another Python. It
/// runs on the suite's shared cache (nothing here is about what a cache
/// holds), so its environments are made once, not at every run.
#[test]
fn shards_and_python_narrowing_keep_the_build_python() {
    let p = Project::new();
    p.sample_variant(str::to_string);
    let config = |build: &str| {
        format!(
            "[run]\nexpect = \"numpy-rules\"\n[python]\nversions = [\"3.9\", \"3.12\"]\n{build}[numpy]\nbuild = [\"1.26.4\", \"2.0.2\"]\nruntime = [\"1.26.4\", \"2.0.2\"]\n[extension]\nmodule = \"my_extension\"\nsources = [\"ext/my_extension.c\"]\nprobe-file = \"ext/probe.py\"\nlimited-api = \"3.9\"\n"
        )
    };
    p.write("matrix.toml", &config(""));
    let plan = p.matrix_here(&["plan", "--shards", "2"]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    assert_eq!(plan["include"][0]["python"], serde_json::json!(["3.9"]));
    assert_eq!(
        plan["include"][1]["python"],
        serde_json::json!(["3.12", "3.9"]),
        "{plan}"
    );

    let whole = p.run_here(&[]);
    assert_eq!(whole.code(), Some(0), "{}", whole.dump());
    let grids = grids_of(whole.results());
    assert_eq!(grids.len(), 2);
    let py39 = grids[0].0.clone();
    assert!(py39.starts_with("CPython 3.9."), "{grids:?}");
    let cells = cells_of(whole.results());
    assert_eq!(cells.len(), 8);

    let mut files = Vec::new();
    for k in ["1/2", "2/2"] {
        let shard = p.run_here(&["--shard", k]);
        assert_eq!(shard.code(), Some(0), "shard {k}: {}", shard.dump());
        let owned: Vec<_> = cells
            .iter()
            .filter(|c| (c.0 == py39) == (k == "1/2"))
            .cloned()
            .collect();
        assert_eq!(cells_of(shard.results()), owned, "shard {k}");
        // Either way the rows are 3.9's, listed in 3.9's grid: shard 2
        // owns no 3.9 cell and has its grid all the same, for the builds.
        let shard_grids = grids_of(shard.results());
        let want = if k == "1/2" { &grids[..1] } else { &grids[..] };
        assert_eq!(shard_grids, want, "shard {k}");
        assert_eq!(
            shard
                .dump()
                .contains("builds only: the matrix's rows are made on this Python"),
            k == "2/2",
            "{}",
            shard.dump()
        );
        files.push(
            shard
                .json
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        );
    }
    let merge = p.matrix_here(&["merge", &files[1], &files[0], "-o", "merged.json"]);
    assert!(merge.status.success(), "{}", common::text(&merge.stderr));
    let merged = common::read_json(&p.path("merged.json"));
    assert_eq!(merged["complete"], true, "{merged}");
    assert_eq!(cells_of(&merged), cells);
    assert_eq!(grids_of(&merged), grids);
    assert_eq!(merged["summary"], whole.results()["summary"]);

    // --python 3.12 with -k: runtime Python 3.12's cells of row 2.0.*
    // under NumPy >=2, the row still built on 3.9 (and only that row).
    let picked = p.run_here(&["--python", "3.12", "-k", "3.12/2.0.*:>=2"]);
    assert_eq!(picked.code(), Some(0), "{}", picked.dump());
    let py312 = grids[1].0.clone();
    assert_eq!(
        cells_of(picked.results()),
        cells
            .iter()
            .filter(|c| c.0 == py312 && c.1 == "2.0.2" && c.2 == "2.0.2")
            .cloned()
            .collect::<Vec<_>>()
    );
    let picked_grids = grids_of(picked.results());
    assert_eq!(
        picked_grids,
        [
            (py312.clone(), py39.clone(), Vec::new()),
            (py39.clone(), py39.clone(), vec!["2.0.2".to_string()]),
        ]
    );
    let log = picked.results()["grids"][1]["builds"][0]["log"]
        .as_str()
        .unwrap();
    assert!(log.contains("/versions/3.9."), "{log}");
    assert!(
        picked
            .stdout()
            .contains("builds only: every grid's rows were made on this Python"),
        "{}",
        picked.stdout()
    );
    assert!(
        !picked.stdout().contains("cannot load it"),
        "3.9 ran nothing here; it is not a Python that cannot load the rows\n{}",
        picked.stdout()
    );
    let listed = p.matrix_here(&["run", "--list", "--python", "3.12"]);
    let listed = common::text(&listed.stdout);
    assert!(
        listed.contains(&format!(
            "builds: made once, on {py39} (limited API 3.9, abi3: limited-api = \"3.9\")"
        )) && listed.contains("(none of its own cells in this run)"),
        "{listed}"
    );
    // --python alone: 3.12's cells, as the whole run has them.
    let narrowed = p.run_here(&["--python", "3.12"]);
    assert_eq!(narrowed.code(), Some(0), "{}", narrowed.dump());
    assert_eq!(
        cells_of(narrowed.results()),
        cells
            .iter()
            .filter(|c| c.0 == py312)
            .cloned()
            .collect::<Vec<_>>()
    );

    // The same matrix built on 3.12: the diff says so before the cells.
    p.write("matrix.toml", &config("build = \"3.12\"\n"));
    let on312 = p.run_here(&["--python", "3.12"]);
    assert_eq!(on312.code(), Some(0), "{}", on312.dump());
    assert_eq!(grids_of(on312.results())[0].1, py312);
    let diff = p.matrix_here(&[
        "diff",
        &whole.json.file_name().unwrap().to_string_lossy(),
        &on312.json.file_name().unwrap().to_string_lossy(),
    ]);
    let said = common::text(&diff.stdout);
    assert!(
        said.starts_with("rows built on another Python (1 Python(s))")
            && said.contains("CPython 3.12: built on CPython 3.9 (limited API) before, built on CPython 3.12 (limited API) now"),
        "{said}"
    );
    assert!(said.contains("4 cell(s) gone:"), "3.9's cells\n{said}");
}
