//! `matrix doctor` on real broken environments, made here from real wheels
//! the way users end up with them (`pip install --no-deps`), started as a
//! user starts it: from a folder of their own, with `--python` relative to
//! it. It names the broken package, the module that raised and why, leaves
//! the environment byte for byte as it was, and its recommendations really
//! work when applied in a fresh one (checked here by hand).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{self, matrix};
use crate::tools;

/// The interpreter the environments are made from: pandas 2.0.3 has
/// wheels up to CPython 3.11.
fn python311() -> PathBuf {
    common::pyenv_python("3.11")
}

/// A virtual environment at `dir` with exactly `packages`, each installed
/// without its dependencies (as a user who mixes installs gets them): the
/// environment the doctor is given, made as users make one (`python -m
/// venv`, so pip is in it too).
fn venv(dir: &Path, packages: &[&str]) -> PathBuf {
    tools::venv_of(&python311(), dir);
    pip(dir, packages)
}

/// An environment with exactly `packages` and no pip of its own, as `uv
/// venv` makes them: for checks by hand (they import, they install nothing
/// more) and for doctor runs where pip's presence changes nothing. Made in
/// a tenth of the time `venv` takes (`ensurepip` is seconds).
fn venv_without_pip(dir: &Path, packages: &[&str]) -> PathBuf {
    tools::bare_venv_of(&python311(), dir);
    pip(dir, packages)
}

/// `packages` installed into the environment at `dir`, wheels only and
/// without their dependencies, from outside it ([`tools::pip_into`]).
/// `--no-compile`: a `.pyc` only saves time at later imports, and
/// compiling pandas' sources is most of what a `pip install` of it costs
/// here; the doctor never writes one (`-B`).
fn pip(dir: &Path, packages: &[&str]) -> PathBuf {
    let python = dir.join("bin/python");
    let out = tools::pip_into(&python)
        .args(["--no-compile", "--no-deps", "--only-binary", ":all:"])
        .args(packages)
        .output()
        .expect("pip");
    assert!(
        out.status.success(),
        "pip install {packages:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    python
}

/// pandas' own pure-Python dependencies.
const PANDAS_DEPS: [&str; 4] = ["python-dateutil", "six", "pytz", "tzdata"];

/// Every path under `dir` (folders too) with its content's hash, its
/// size and mode: what "unchanged" means.
fn fingerprint(dir: &Path) -> BTreeMap<PathBuf, String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let path = e.path();
            let meta = std::fs::symlink_metadata(&path).expect("stat");
            let what = if meta.is_dir() {
                stack.push(path.clone());
                format!("dir {:o}", meta.mode())
            } else if meta.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&path).ok())
            } else {
                let bytes = std::fs::read(&path).expect("read");
                let hash = crate::tools::sha256_hex(&bytes);
                format!("file {:o} {} {hash}", meta.mode(), bytes.len())
            };
            out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), what);
        }
    }
    out
}

fn changes(before: &BTreeMap<PathBuf, String>, after: &BTreeMap<PathBuf, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (p, v) in before {
        match after.get(p) {
            None => out.push(format!("removed {}", p.display())),
            Some(w) if w != v => out.push(format!("changed {}", p.display())),
            _ => {}
        }
    }
    for p in after.keys().filter(|p| !before.contains_key(*p)) {
        out.push(format!("added {}", p.display()));
    }
    out
}

struct Doctored {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    json: Value,
    markdown: String,
}

fn doctor(python: &Path, cwd: &Path, extra: &[&str]) -> Doctored {
    doctor_with(matrix(), python, cwd, extra)
}

/// `matrix doctor` in a network namespace of its own, where nothing but
/// loopback exists (`unshare -rn`).
fn doctor_without_network(python: &Path, cwd: &Path, extra: &[&str]) -> Doctored {
    let probe = Command::new("unshare").args(["-rn", "true"]).status();
    crate::common::require(
        probe.is_ok_and(|s| s.success()),
        "`unshare -rn` (root, or user namespaces)",
    );
    let mut cmd = Command::new("unshare");
    cmd.arg("-rn").arg(env!("CARGO_BIN_EXE_matrix"));
    doctor_with(cmd, python, cwd, extra)
}

/// `python` is passed as written (the tests give it relative to `cwd`).
fn doctor_with(mut cmd: Command, python: &Path, cwd: &Path, extra: &[&str]) -> Doctored {
    let out = cmd
        .args(["doctor", "--color", "never", "--python"])
        .arg(python)
        .args(["--json", "doctor.json", "--markdown", "doctor.md"])
        .args(extra)
        .current_dir(cwd)
        .output()
        .expect("matrix doctor");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    let json = std::fs::read_to_string(cwd.join("doctor.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| panic!("no doctor.json\n{stdout}\n{stderr}"));
    Doctored {
        code: out.status.code(),
        markdown: std::fs::read_to_string(cwd.join("doctor.md")).unwrap_or_default(),
        stdout,
        stderr,
        json,
    }
}

impl Doctored {
    fn dump(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    fn trial(&self, name: &str) -> &Value {
        self.json["trials"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["name"] == name))
            .unwrap_or_else(|| panic!("no trial of {name}\n{}", self.dump()))
    }
}

/// Imports `modules` with `python`; the error when one does not import.
fn imports(python: &Path, modules: &[String]) -> Result<(), String> {
    let out = Command::new(python)
        .args([
            "-I",
            "-c",
            "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)",
        ])
        .args(modules)
        .output()
        .expect("python");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The interpreter of the environment at `env`, as a user in `cwd` types
/// it (`../env/bin/python`).
fn relative_python(env: &Path, cwd: &Path) -> PathBuf {
    let env = env.canonicalize().expect("env");
    let cwd = cwd.canonicalize().expect("cwd");
    let mut up = PathBuf::new();
    let mut base = cwd.as_path();
    while !env.starts_with(base) {
        up.push("..");
        base = base.parent().expect("a common ancestor");
    }
    up.join(env.strip_prefix(base).unwrap()).join("bin/python")
}

/// The line of `text` that starts with `prefix`, whole.
fn line_starting<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in\n{text}"))
}

/// Issue 22's case: pandas 2.0.3 installed with `--no-deps` beside NumPy
/// 2.0.2, without pytz and python-dateutil (and a healthy compiled package,
/// and one that does not use NumPy's C API). The missing dependencies come
/// first, with every line of pandas' error, and are not blamed on NumPy;
/// whether NumPy *also* breaks pandas is measured with them installed, and
/// said apart, with its own fixes, each checked together with numexpr,
/// which imports today; the issue report quotes NumPy's error, never the
/// missing dependency's. Not a byte of the environment changes, and both
/// fixes work when applied by hand in fresh environments.
#[test]
fn a_missing_dependency_is_reported_apart_from_what_numpy_breaks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = dir.path().join("env");
    venv(
        &env,
        &[
            "numpy==2.0.2",
            "pandas==2.0.3",
            "numexpr==2.10.1",
            "markupsafe==3.0.2",
        ],
    );
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let before = fingerprint(&env);
    let cache = dir.path().join("cache");
    let given = relative_python(&env, &work);

    let d = doctor(&given, &work, &["--cache-dir", "../cache"]);

    assert_eq!(
        changes(&before, &fingerprint(&env)),
        Vec::<String>::new(),
        "the environment changed"
    );
    assert_eq!(d.code, Some(1), "{}", d.dump());
    // Found: every distribution read, only the two that use the C API kept.
    let scan = &d.json["scan"];
    assert!(scan["scanned"].as_u64().unwrap() >= 5, "{scan}");
    let suspects: Vec<&str> = scan["suspects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(suspects, ["numexpr", "pandas"], "{}", d.dump());
    assert_eq!(scan["numpy"], "2.0.2");
    assert!(!d.stdout.contains("markupsafe"), "{}", d.dump());
    assert!(
        d.stdout
            .contains("✓ numexpr 2.10.1: pass (2 modules imported)\n"),
        "{}",
        d.dump()
    );

    // The missing dependencies, named as pandas requires them, with every
    // line of pandas' error, and the module that raised it (pandas'
    // __init__, not the first compiled module imported).
    assert!(
        d.stdout.contains(
            "✗ pandas 2.0.3: missing dependency: pytz, python-dateutil (install them; not a NumPy problem), raised in pandas\n    ImportError: Unable to import required dependencies:\n    pytz: No module named 'pytz'\n    dateutil: No module named 'dateutil'\n"
        ),
        "{}",
        d.dump()
    );
    let pandas = d.trial("pandas");
    assert_eq!(pandas["module"], "pandas", "{pandas}");
    let missing: Vec<&str> = pandas["missing_dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["requirement"].as_str().unwrap())
        .collect();
    assert_eq!(missing, ["pytz", "python-dateutil"], "{pandas}");

    // NumPy's part, measured with the dependencies installed: it breaks
    // pandas 2.0.3 too, and has its own fixes, each checked together.
    let grid = &d.json["remedy"]["grids"][0];
    let under_2 = grid["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["numpy"] == "2.0.2")
        .unwrap();
    assert_eq!(
        (&under_2["outcome"], &under_2["reason"]),
        (&"fail".into(), &"dtype-size".into()),
        "{grid}"
    );
    let upgrade = d.json["remedy"]["upgrades"][0]["oldest_passing"]
        .as_str()
        .unwrap_or_else(|| panic!("no upgrade found\n{}", d.dump()))
        .to_string();
    let below = d.json["remedy"]["upgrades"][0]["fails_below"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let advice = d
        .stdout
        .split_once("\n→ ")
        .map(|(_, a)| format!("→ {a}"))
        .unwrap_or_default();
    let advice = advice.split("\n!").next().unwrap_or_default();
    assert_eq!(
        advice,
        format!(
            "→ install pytz, python-dateutil: pandas 2.0.3 needs them (not a NumPy problem)
→ NumPy also breaks pandas 2.0.3: with pytz, python-dateutil installed, it fails under numpy 2.0.2 in a fresh environment (fail (dtype-size): numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject)
→ pin numpy<2 (everything passes under 1.26.4)
  checked together in one fresh environment: numpy 1.26.4, pandas 2.0.3, numexpr 2.10.1: all import
→ upgrade pandas to >={upgrade} (the oldest release that imports under numpy 2.0.2; {below} below it forbids numpy 2.0.2 in its metadata)
  checked together in one fresh environment: numpy 2.0.2, pandas {upgrade}, numexpr 2.10.1: all import"
        ),
        "{}",
        d.dump()
    );

    // The issue report for pandas' declaration quotes NumPy's error from
    // the grid, never the missing dependency's.
    let report = d
        .markdown
        .split_once("### Issue report: pandas 2.0.3")
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("no issue report\n{}", d.markdown));
    assert!(
        report.contains(
            "**The error** (under numpy 2.0.2, in a fresh environment with its dependencies installed):"
        ) && report.contains("ValueError: numpy.dtype size changed"),
        "{report}"
    );
    assert!(
        !report.contains("pytz") && !report.contains("Unable to import"),
        "{report}"
    );

    // Applied by hand, with the dependencies installed: the pin works ...
    let mut with_pandas = vec!["pandas".to_string(), "numexpr".to_string()];
    with_pandas.extend(
        d.json["scan"]["suspects"][1]["c_api_modules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_string()),
    );
    let mut pinned = vec!["numpy==1.26.4", "pandas==2.0.3", "numexpr==2.10.1"];
    pinned.extend(PANDAS_DEPS);
    let fresh = venv_without_pip(&dir.path().join("pinned"), &pinned);
    imports(&fresh, &with_pandas).unwrap_or_else(|e| panic!("numpy 1.26.4: {e}"));
    // ... and so does the upgrade, under the installed NumPy.
    let wanted = format!("pandas=={upgrade}");
    let mut upgraded = vec!["numpy==2.0.2", wanted.as_str(), "numexpr==2.10.1"];
    upgraded.extend(PANDAS_DEPS);
    let fresh = venv_without_pip(&dir.path().join("upgraded"), &upgraded);
    imports(
        &fresh,
        &[
            "pandas".to_string(),
            "pandas._libs.algos".to_string(),
            "numexpr".to_string(),
        ],
    )
    .unwrap_or_else(|e| panic!("pandas {upgrade}: {e}"));

    // Without a network, `--offline`: the same diagnosis and the same fixes,
    // from what this run left in the caches, even once its answers are
    // older than a day (online, they would be asked again, and fail).
    let memo = cache.join("v2/memo.json");
    let mut answers: Value =
        serde_json::from_str(&std::fs::read_to_string(&memo).unwrap()).unwrap();
    for entry in answers.as_object_mut().unwrap().values_mut() {
        entry["at"] = 0.into();
    }
    std::fs::write(&memo, answers.to_string()).unwrap();
    let offline = doctor_without_network(&given, &work, &["--offline", "--cache-dir", "../cache"]);
    assert_eq!(offline.code, d.code, "{}", offline.dump());
    assert_eq!(
        offline.json["advice"],
        d.json["advice"],
        "{}",
        offline.dump()
    );
}

/// The release boundary of connected-components-3d (cc3d) under NumPy 2,
/// on CPython 3.11: the last release built for NumPy 1.x, and the first
/// built for NumPy 2. The test proves both by hand before it compares.
const CC3D_BOUNDARY: (&str, &str) = ("3.16.0", "3.16.1");

/// The error cc3d 3.14.1 (Cython, built for NumPy 1.x) raises under NumPy
/// 2.0.2, after NumPy's own explanation.
const CC3D_ERROR: &str = "ImportError: numpy.core.multiarray failed to import (auto-generated because you didn't call 'numpy.import_array()' after cimporting numpy; use '<void>numpy._import_array' to disable if you are certain you don't need it).";

/// Issue 21's case with another package: cc3d 3.14.1 beside NumPy 2.0.2,
/// and pykdtree 1.4.3, which imports. The upgrade the doctor recommends is
/// the oldest release that imports, as a check by hand of the boundary's
/// two releases shows (the five newest minor series, which it tried before,
/// all pass: it said 3.27.0), found in few tries among the 20 and more
/// newer releases; the recommended sets are checked together with
/// pykdtree, and the upgraded set works by hand too. Every report keeps
/// the whole error, to the ImportError Cython raised.
#[test]
fn the_upgrade_is_the_oldest_release_that_imports_and_is_checked_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = dir.path().join("env");
    venv(
        &env,
        &[
            "numpy==2.0.2",
            "connected-components-3d==3.14.1",
            "pykdtree==1.4.3",
        ],
    );
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let before = fingerprint(&env);
    let given = relative_python(&env, &project);

    // The suite's shared cache: nothing here is about what a cache holds,
    // so the releases tried are made once, not at every run.
    let d = doctor(&given, &project, &[]);

    assert_eq!(changes(&before, &fingerprint(&env)), Vec::<String>::new());
    assert_eq!(d.code, Some(1), "{}", d.dump());
    assert!(
        d.stdout.contains(&format!(
            "✗ connected-components-3d 3.14.1: fail (abi-major) in cc3d: A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.2 as it may crash.\n    {CC3D_ERROR}\n✓ pykdtree 1.4.3: pass (2 modules imported)\n"
        )),
        "{}",
        d.dump()
    );

    // By hand: the boundary's two releases under the installed NumPy.
    let (below, first) = CC3D_BOUNDARY;
    let by_hand = |version: &str| {
        let requirement = format!("connected-components-3d=={version}");
        let fresh = venv_without_pip(
            &dir.path().join(format!("cc3d-{version}")),
            &["numpy==2.0.2", &requirement],
        );
        imports(&fresh, &["cc3d".to_string()])
    };
    let failed = by_hand(below).expect_err("the release below the boundary imports");
    assert!(failed.contains(CC3D_ERROR), "{failed}");
    by_hand(first).unwrap_or_else(|e| panic!("{first} does not import: {e}"));

    // The doctor's search found the same boundary, within its bound.
    let up = &d.json["remedy"]["upgrades"][0];
    assert_eq!(
        (up["oldest_passing"].as_str(), up["fails_below"].as_str()),
        (Some(first), Some(below)),
        "{up}"
    );
    let tried = up["tried"].as_array().unwrap().len();
    let candidates = up["candidates"].as_u64().unwrap();
    assert!(candidates >= 20 && tried <= 12, "{tried} of {candidates}");
    assert_eq!(
        line_starting(&d.stdout, "connected-components-3d releases tried"),
        format!(
            "connected-components-3d releases tried under numpy 2.0.2 (bisection over the {candidates} newer releases with a wheel for this Python, at most 12 tries): {}",
            up["tried"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| format!(
                    "{} {}",
                    c["version"].as_str().unwrap(),
                    if c["outcome"] == "pass" { '✓' } else { '✗' }
                ))
                .collect::<Vec<_>>()
                .join(", ")
        )
    );
    let advice = d
        .stdout
        .split_once("\n→ ")
        .map(|(_, a)| format!("→ {a}"))
        .unwrap_or_default();
    assert!(
        advice.starts_with(&format!(
            "→ pin numpy<2 (everything passes under 1.26.4)
  checked together in one fresh environment: numpy 1.26.4, connected-components-3d 3.14.1, pykdtree 1.4.3: all import
→ upgrade connected-components-3d to >={first} (the oldest release that imports under numpy 2.0.2; {below} below it does not)
  checked together in one fresh environment: numpy 2.0.2, connected-components-3d {first}, pykdtree 1.4.3: all import
"
        )),
        "{}",
        d.dump()
    );
    let check = &d.json["remedy"]["upgrade_check"];
    assert_eq!(check["cell"]["outcome"], "pass", "{check}");

    // The upgraded set, by hand, in one fresh environment.
    let requirement = format!("connected-components-3d=={first}");
    let fresh = venv_without_pip(
        &dir.path().join("upgraded"),
        &["numpy==2.0.2", &requirement, "pykdtree==1.4.3"],
    );
    imports(&fresh, &["cc3d".to_string(), "pykdtree.kdtree".to_string()])
        .unwrap_or_else(|e| panic!("the upgraded set: {e}"));

    // The whole error in every report: NumPy's explanation and the
    // ImportError after it, in the Markdown and in the issue report.
    let trial = d.trial("connected-components-3d");
    let error = trial["error"].as_str().unwrap();
    assert!(
        error.starts_with("A module that was compiled using NumPy 1.x cannot be run in")
            && error.ends_with(&format!("in init cc3d\n{CC3D_ERROR}")),
        "{error}"
    );
    let issue = d.json["issues"][0]["markdown"].as_str().unwrap();
    assert!(
        issue.contains(&format!(
            "**The error** (`cc3d` raised it):\n\n```\n{error}\n```"
        )),
        "{issue}"
    );
    assert!(
        d.markdown.contains(&format!("```\n{error}\n```")),
        "{}",
        d.markdown
    );
}

/// A compiled module (with NumPy's C-API marker) made here, whose import
/// runs `body` in C.
fn fake_package(python: &Path, site: &Path, name: &str, body: &str) {
    let include = Command::new(python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['include'])",
        ])
        .output()
        .expect("python");
    let include = String::from_utf8_lossy(&include.stdout).trim().to_string();
    let suffix = ".cpython-311-x86_64-linux-gnu.so";
    let pkg = site.join(name);
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("__init__.py"), "").unwrap();
    let c = pkg.join("_ext.c");
    std::fs::write(
        &c,
        format!(
            "#include <Python.h>\n#include <unistd.h>\nconst char *marker = \"_ARRAY_API\";\n\
             static struct PyModuleDef def = {{PyModuleDef_HEAD_INIT, \"_ext\", NULL, -1, NULL}};\n\
             PyMODINIT_FUNC PyInit__ext(void) {{ {body} return PyModule_Create(&def); }}\n"
        ),
    )
    .unwrap();
    let so = pkg.join(format!("_ext{suffix}"));
    let cc = Command::new(common::program(&["cc", "gcc"], "gcc"))
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&c)
        .arg(format!("-I{include}"))
        .output()
        .expect("cc");
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    std::fs::remove_file(&c).unwrap();
    let info = site.join(format!("{name}-1.0.dist-info"));
    std::fs::create_dir_all(&info).unwrap();
    std::fs::write(
        info.join("METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"),
    )
    .unwrap();
    std::fs::write(
        info.join("RECORD"),
        format!("{name}/__init__.py,,\n{name}/_ext{suffix},,\n{name}-1.0.dist-info/METADATA,,\n"),
    )
    .unwrap();
}

/// A package whose import segfaults and one whose import hangs are each
/// reported as such, with the module, and neither stops the trial of the
/// healthy one; without --no-remedy nothing would differ in the trials.
#[test]
fn a_crash_and_a_hang_are_reported_and_stop_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = dir.path().join("env");
    let python = venv_without_pip(&env, &["numpy==2.0.2", "numexpr==2.10.1"]);
    let site = env.join("lib/python3.11/site-packages");
    fake_package(&python, &site, "crashy", "*(volatile int *)0 = 1;");
    fake_package(&python, &site, "hangs", "for (;;) pause();");
    let before = fingerprint(&env);

    let d = doctor(&python, dir.path(), &["--no-remedy", "--timeout", "3s"]);

    assert_eq!(changes(&before, &fingerprint(&env)), Vec::<String>::new());
    assert_eq!(d.code, Some(1), "{}", d.dump());
    let crashy = d.trial("crashy");
    assert_eq!(crashy["outcome"], "crash", "{}", d.dump());
    assert_eq!(crashy["signal_name"], "SIGSEGV", "{crashy}");
    assert_eq!(crashy["module"], "crashy._ext", "{crashy}");
    let hangs = d.trial("hangs");
    assert_eq!(hangs["outcome"], "timeout", "{}", d.dump());
    assert_eq!(hangs["module"], "hangs._ext", "{hangs}");
    assert_eq!(d.trial("numexpr")["outcome"], "pass", "{}", d.dump());
    assert!(
        d.stdout
            .contains("☠ crashy 1.0: crash (SIGSEGV) while importing crashy._ext"),
        "{}",
        d.dump()
    );
    assert!(d.json["remedy"].is_null(), "--no-remedy measures nothing");
}

/// A healthy environment exits 0; an interpreter that does not run is a
/// broken environment (3); a bad option is a usage error (2).
#[test]
fn exit_statuses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let python = venv_without_pip(
        &dir.path().join("env"),
        &["numpy==2.0.2", "numexpr==2.10.1"],
    );
    let d = doctor(&python, dir.path(), &[]);
    assert_eq!(d.code, Some(0), "{}", d.dump());
    assert!(
        d.stdout
            .contains("all 1 packages that use NumPy's C API import"),
        "{}",
        d.dump()
    );

    let missing = matrix()
        .args(["doctor", "--python", "/nonexistent/bin/python"])
        .output()
        .expect("matrix");
    assert_eq!(missing.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("/nonexistent/bin/python"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");

    let usage = matrix()
        .args(["doctor", "--timeout", "soon"])
        .output()
        .expect("matrix");
    assert_eq!(usage.status.code(), Some(2));
}

/// The doctor guide's example (docs/src/guides/doctor.md), typed in the project's folder:
/// `matrix doctor --python .venv/bin/python` examines that environment.
/// Every way the path can fail to be a Python 3 is named for what it is,
/// with its own way out (exit 3): only a broken Python is told to recreate
/// its environment.
#[test]
fn the_python_is_read_where_it_was_typed_and_each_cause_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let here = dir.path();
    common::ok(
        Command::new(python311())
            .args(["-m", "venv", "--without-pip", ".venv"])
            .current_dir(here),
        "python -m venv",
    );
    let doctor_here = |python: &str| {
        matrix()
            .args([
                "doctor",
                "--color",
                "never",
                "--no-remedy",
                "--python",
                python,
            ])
            .current_dir(here)
            .output()
            .expect("matrix doctor")
    };
    let out = doctor_here(".venv/bin/python");
    let stdout = common::text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        common::text(&out.stderr)
    );
    assert!(
        stdout.starts_with(&format!(
            "{}/.venv/bin/python (CPython 3.11.",
            here.display()
        )) && stdout
            .lines()
            .next()
            .unwrap_or_default()
            .contains("virtual environment"),
        "{stdout}"
    );

    for (python, error, hint) in common::unusable_pythons(here) {
        let out = doctor_here(&python);
        assert_eq!(out.status.code(), Some(3), "{python}");
        assert_eq!(
            common::text(&out.stderr),
            format!("error: {error}\nhint: {hint}\n"),
            "{python}"
        );
    }
}
