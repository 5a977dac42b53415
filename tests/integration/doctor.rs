//! `matrix doctor` on real broken environments, made here from real wheels
//! the way users end up with them (`pip install --no-deps`): it names the
//! broken package and why, leaves the environment byte for byte as it was,
//! and its recommendations really work when applied in a fresh one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{self, matrix};

/// The interpreter the environments are made from: pandas 2.0.3 has
/// wheels up to CPython 3.11.
fn python311() -> PathBuf {
    common::pyenv_python("3.11")
}

/// A virtual environment at `dir` with exactly `packages`, each installed
/// without its dependencies (as a user who mixes installs gets them).
fn venv(dir: &Path, packages: &[&str]) -> PathBuf {
    let made = Command::new(python311())
        .args(["-m", "venv"])
        .arg(dir)
        .status()
        .expect("python -m venv");
    assert!(made.success(), "venv at {}", dir.display());
    let python = dir.join("bin/python");
    let out = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--only-binary",
            ":all:",
        ])
        .args(packages)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
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
                let hash: String = Sha256::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
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

/// The seed's situation: NumPy 2 beside a pandas built for NumPy 1.x (and
/// a healthy compiled package, and one that does not use NumPy's C API).
/// The doctor names pandas and its reason, not the others, changes not a
/// byte of the environment, and both fixes it prints work when applied.
#[test]
fn a_pandas_built_for_numpy_1_is_found_and_its_fixes_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = dir.path().join("env");
    let mut packages = vec![
        "numpy==2.0.2",
        "pandas==2.0.3",
        "numexpr==2.10.1",
        "markupsafe==3.0.2",
    ];
    packages.extend(PANDAS_DEPS);
    let python = venv(&env, &packages);
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let before = fingerprint(&env);
    let cache = dir.path().join("cache");
    let cache_arg = cache.to_str().unwrap();

    let d = doctor(&python, &work, &["--cache-dir", cache_arg]);

    assert_eq!(
        changes(&before, &fingerprint(&env)),
        Vec::<String>::new(),
        "the environment changed"
    );
    assert_eq!(d.code, Some(1), "{}", d.dump());
    // Found: every distribution read, only the two that use the C API kept.
    let scan = &d.json["scan"];
    assert!(scan["scanned"].as_u64().unwrap() >= 9, "{scan}");
    let suspects: Vec<&str> = scan["suspects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(suspects, ["numexpr", "pandas"], "{}", d.dump());
    assert_eq!(scan["numpy"], "2.0.2");
    // Tried: pandas fails with Cython's struct-size check, numexpr imports.
    let pandas = d.trial("pandas");
    assert_eq!(pandas["outcome"], "fail", "{}", d.dump());
    assert_eq!(pandas["reason"], "dtype-size", "{pandas}");
    assert!(
        pandas["module"].as_str().unwrap().starts_with("pandas"),
        "{pandas}"
    );
    assert_eq!(d.trial("numexpr")["outcome"], "pass", "{}", d.dump());
    assert!(
        d.stdout.contains("✗ pandas 2.0.3: fail (dtype-size)"),
        "{}",
        d.dump()
    );
    assert!(d.stdout.contains("✓ numexpr 2.10.1: pass"), "{}", d.dump());
    assert!(!d.stdout.contains("markupsafe"), "{}", d.dump());

    // pandas 2.0.3 declares numpy>=1.23.2 on 3.11, and fails under 2.x.
    let issue = &d.json["issues"][0];
    assert_eq!(issue["name"], "pandas", "{}", d.dump());
    assert!(
        d.markdown.contains("Issue report: pandas 2.0.3"),
        "{}",
        d.markdown
    );
    assert!(
        d.markdown.contains("numpy.dtype size changed"),
        "{}",
        d.markdown
    );

    // The recommended NumPy: the newest under which everything passed.
    let advice = d.json["advice"]["numpy"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let numpy = advice
        .rsplit_once("everything passes under ")
        .map(|(_, v)| v.trim_end_matches(')').to_string())
        .unwrap_or_else(|| panic!("no NumPy recommended\n{}", d.dump()));
    assert!(advice.starts_with("pin numpy<2"), "{advice}\n{}", d.dump());
    let modules: Vec<String> = d.json["scan"]["suspects"][1]["c_api_modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect();
    let mut with_pandas = vec!["pandas".to_string()];
    with_pandas.extend(modules.iter().cloned());
    let pinned = format!("numpy=={numpy}");
    let mut fixed = vec![pinned.as_str(), "pandas==2.0.3"];
    fixed.extend(PANDAS_DEPS);
    let fresh = venv(&dir.path().join("pinned"), &fixed);
    imports(&fresh, &with_pandas).unwrap_or_else(|e| panic!("numpy {numpy}: {e}"));

    // The recommended upgrade, under the installed NumPy.
    let upgrade = d.json["remedy"]["upgrades"][0]["oldest_passing"]
        .as_str()
        .unwrap_or_else(|| panic!("no upgrade found\n{}", d.dump()))
        .to_string();
    assert!(
        d.stdout.contains(&format!(
            "upgrade pandas to >={upgrade} (passes under numpy 2.0.2)"
        )),
        "{}",
        d.dump()
    );
    let wanted = format!("pandas=={upgrade}");
    let mut upgraded = vec!["numpy==2.0.2", wanted.as_str()];
    upgraded.extend(PANDAS_DEPS);
    let fresh = venv(&dir.path().join("upgraded"), &upgraded);
    imports(
        &fresh,
        &["pandas".to_string(), "pandas._libs.algos".to_string()],
    )
    .unwrap_or_else(|e| panic!("pandas {upgrade}: {e}"));
    // ... and the release tried just below it did not pass.
    let tried = d.json["remedy"]["upgrades"][0]["tried"].as_array().unwrap();
    let below = tried
        .iter()
        .position(|c| c["version"] == upgrade.as_str())
        .and_then(|i| tried.get(i + 1));
    if let Some(below) = below {
        assert_ne!(below["outcome"], "pass", "{below}");
    }

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
    let offline = doctor_without_network(&python, &work, &["--offline", "--cache-dir", cache_arg]);
    assert_eq!(offline.code, d.code, "{}", offline.dump());
    assert_eq!(
        offline.json["advice"],
        d.json["advice"],
        "{}",
        offline.dump()
    );
    assert_eq!(
        offline.json["remedy"]["upgrades"][0]["oldest_passing"],
        d.json["remedy"]["upgrades"][0]["oldest_passing"],
        "{}",
        offline.dump()
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
    let python = venv(&env, &["numpy==2.0.2", "numexpr==2.10.1"]);
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
    let python = venv(
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

/// The README's own example, typed in the project's folder:
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
