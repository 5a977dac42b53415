//! The persistent cache, for real: a second run reuses environments and
//! builds, a damaged environment is detected and rebuilt, `--fresh` leaves
//! the cache alone, `matrix cache` reports and cleans it.

use crate::common;
use crate::common::{Project, matrix, numpy};

fn outcomes(run: &common::Run) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = run.results()["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["build"].as_str().unwrap().to_string(),
                c["runtime"].as_str().unwrap().to_string(),
                format!("{}/{}", c["outcome"], c["reason"]),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_warm_run_reuses_and_a_damaged_environment_is_rebuilt() {
    let p = Project::new();
    let cache = p.path("cache");
    let cache_arg = cache.to_str().unwrap();
    p.write(
        "matrix.toml",
        &format!(
            "{}[[expect]]\nbuild = \"<2\"\nruntime = \">=2\"\noutcome = \"fail\"\n",
            numpy(&["1.26.*", "2.0.*"], &["1.26.*", "2.0.*"])
        ),
    );
    let cold = p.run(&["--cache-dir", cache_arg]);
    assert_eq!(cold.code(), Some(0), "{}", cold.dump());
    let builds = cold.results()["grids"][0]["builds"].as_array().unwrap();
    assert!(builds.iter().all(|b| b["reused"] == false), "{builds:?}");

    let warm = p.run(&["--cache-dir", cache_arg]);
    assert_eq!(warm.code(), Some(0), "{}", warm.dump());
    let builds = warm.results()["grids"][0]["builds"].as_array().unwrap();
    assert!(builds.iter().all(|b| b["reused"] == true), "{builds:?}");
    assert_eq!(outcomes(&cold), outcomes(&warm));
    let envs_reused = |run: &common::Run| -> Vec<bool> {
        run.results()["grids"][0]["environments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["ok"] == true && e["reused"] == true)
            .collect()
    };
    assert_eq!(envs_reused(&cold), [false, false], "{}", cold.dump());
    assert_eq!(envs_reused(&warm), [true, true], "{}", warm.dump());
    assert_eq!(
        warm.stderr().matches("reused from the cache").count(),
        4,
        "{}",
        warm.dump()
    );

    // Truncate a file of one cached NumPy: that environment is rebuilt.
    let v126 = warm.resolved("runtime", "1.26.*");
    let init = std::fs::read_dir(cache.join("v2/envs"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join(&v126))
        .find(|p| p.is_dir())
        .map(|env| {
            std::fs::read_dir(env.join("lib"))
                .unwrap()
                .flatten()
                .next()
                .unwrap()
                .path()
                .join("site-packages/numpy/__init__.py")
        })
        .unwrap();
    std::fs::write(&init, "").unwrap();
    let repaired = p.run(&["--cache-dir", cache_arg]);
    assert_eq!(repaired.code(), Some(0), "{}", repaired.dump());
    assert_eq!(outcomes(&cold), outcomes(&repaired));
    assert!(
        repaired.stderr().contains(&format!("numpy {v126} ready")),
        "{}",
        repaired.dump()
    );
    assert!(
        std::fs::metadata(&init).unwrap().len() > 0,
        "numpy/__init__.py was not restored"
    );

    let info = matrix()
        .args(["cache", "info", "--cache-dir", cache_arg])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(text.contains("envs") && text.contains("builds"), "{text}");
    let clean = matrix()
        .args(["cache", "clean", "--cache-dir", cache_arg])
        .output()
        .unwrap();
    assert!(clean.status.success());
    assert!(!cache.join("v2").exists());
}

#[test]
fn fresh_runs_leave_the_cache_alone() {
    let p = Project::new();
    let cache = p.path("cache");
    p.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
    let run = p.run(&["--fresh", "--cache-dir", cache.to_str().unwrap()]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    assert!(!cache.join("v2/envs").exists() && !cache.join("v2/builds").exists());
}

/// Every regular file under `dir` (links not followed), with its metadata.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let t = e.file_type().unwrap();
        if t.is_dir() {
            out.extend(files_under(&e.path()));
        } else if t.is_file() {
            out.push((e.path(), e.metadata().unwrap()));
        }
    }
    out
}

#[test]
fn environments_share_numpy_files_through_a_read_only_store_that_survives_a_write() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let p = Project::new();
    let cache = p.path("cache");
    let cache_arg = cache.to_str().unwrap();
    // Two releases of one series: most of their files are the same bytes.
    p.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.0", "2.0.*"]));
    let cold = p.run(&["--cache-dir", cache_arg]);
    assert_eq!(cold.code(), Some(0), "{}", cold.dump());
    let (old, new) = ("2.0.0", cold.resolved("runtime", "2.0.*"));
    assert_ne!(old, new);

    let store: std::collections::HashMap<u64, std::path::PathBuf> =
        files_under(&cache.join("v2/store"))
            .into_iter()
            .map(|(p, m)| (m.ino(), p))
            .collect();
    assert!(!store.is_empty(), "no store under {}", cache.display());
    let envs = files_under(&cache.join("v2/envs"));
    let numpy_files: Vec<_> = envs
        .iter()
        .filter(|(p, _)| p.to_string_lossy().contains("/site-packages/numpy/"))
        .filter(|(p, _)| p.extension().is_none_or(|x| x != "pyc"))
        .collect();
    assert!(numpy_files.len() > 1000, "{}", numpy_files.len());
    for (path, meta) in &numpy_files {
        assert!(
            store.contains_key(&meta.ino()),
            "{} is not the store's",
            path.display()
        );
        assert_eq!(
            meta.permissions().mode() & 0o222,
            0,
            "{} is writable",
            path.display()
        );
    }
    // Nothing in an environment shares an inode with anything but the
    // store (uv links from its own cache, which must never be written).
    for (path, meta) in &envs {
        assert!(
            meta.nlink() == 1 || store.contains_key(&meta.ino()),
            "{} has {} links outside the store",
            path.display(),
            meta.nlink()
        );
    }
    // One copy serves both releases where their bytes agree.
    let (shared_path, shared) = numpy_files
        .iter()
        .find(|(p, m)| m.nlink() >= 3 && p.extension().is_some_and(|x| x == "py") && m.len() > 100)
        .expect("no file shared by both environments");
    let apparent: u64 = envs.iter().map(|(_, m)| m.len()).sum();
    let info = matrix()
        .args(["cache", "info", "--cache-dir", cache_arg])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    let mib = |bucket: &str| -> f64 {
        text.lines()
            .find(|l| l.trim_start().starts_with(bucket))
            .and_then(|l| l.split_whitespace().rev().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {bucket} line in {text}"))
    };
    let on_disk = (mib("store") + mib("envs")) * 1024.0 * 1024.0;
    assert!(
        on_disk < apparent as f64 * 0.8,
        "{on_disk} bytes on disk for {apparent} bytes of environments\n{text}"
    );

    // A probe running as root writes through the shared inode (the mode
    // stops anyone else): both environments find it and are made again,
    // the store's copy is replaced, and the grid is what it was.
    let original = std::fs::read(shared_path).unwrap();
    let stored = store[&shared.ino()].clone();
    std::fs::write(shared_path, b"raise ImportError('damaged')\n").unwrap();
    let repaired = p.run(&["--cache-dir", cache_arg]);
    assert_eq!(repaired.code(), Some(0), "{}", repaired.dump());
    assert_eq!(outcomes(&cold), outcomes(&repaired));
    for v in [old, new.as_str()] {
        assert!(
            repaired.stderr().contains(&format!("numpy {v} ready")),
            "numpy {v} was not made again\n{}",
            repaired.dump()
        );
    }
    assert_eq!(std::fs::read(shared_path).unwrap(), original);
    assert_eq!(std::fs::read(&stored).unwrap(), original);
    let verify = matrix()
        .args(["cache", "verify", "--cache-dir", cache_arg])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{said}");
    assert!(
        said.contains("entries checked, 0 damaged;")
            && said.ends_with("stored files checked, 0 damaged\n"),
        "{said}"
    );
}

#[test]
fn a_damaged_copy_in_uvs_cache_is_caught_by_the_wheels_record_and_fetched_again() {
    let p = Project::new();
    let uv_cache = p.path("uv-cache");
    let env = [("UV_CACHE_DIR", uv_cache.to_str().unwrap())];
    p.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
    let first = p.run_with(&["--cache-dir", p.path("c1").to_str().unwrap()], &env);
    assert_eq!(first.code(), Some(0), "{}", first.dump());

    // A byte-level change that still imports: only the RECORD can tell.
    let damaged = files_under(&uv_cache)
        .into_iter()
        .map(|(path, _)| path)
        .find(|path| path.ends_with("numpy/version.py"))
        .expect("numpy/version.py in uv's cache");
    let mut bytes = std::fs::read(&damaged).unwrap();
    bytes.extend_from_slice(b"# damaged\n");
    std::fs::write(&damaged, &bytes).unwrap();

    let c2 = p.path("c2");
    let second = p.run_with(&["--cache-dir", c2.to_str().unwrap()], &env);
    assert_eq!(second.code(), Some(0), "{}", second.dump());
    assert_eq!(outcomes(&first), outcomes(&second));
    let installed = files_under(&c2.join("v2/envs"))
        .into_iter()
        .map(|(path, _)| path)
        .find(|path| path.ends_with("site-packages/numpy/version.py"))
        .expect("numpy/version.py in the environment");
    let text = std::fs::read_to_string(&installed).unwrap();
    assert!(!text.contains("# damaged"), "{text}");
}

/// The store on another file system than the environments (a tmpfs
/// mounted over it in a private mount namespace): hard links cannot be
/// made, so each environment keeps private copies, and still shares no
/// inode with uv's cache.
#[test]
fn a_store_that_cannot_be_linked_leaves_private_copies() {
    use std::os::unix::fs::MetadataExt;
    let p = Project::new();
    p.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
    let cache = p.path("cache");
    let store = cache.join("v2/store");
    std::fs::create_dir_all(&store).unwrap();
    let (output, json) = common::run_over_tmpfs(&p, &store, "512m", &cache);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{err}");
    let doc = common::read_json(&json);
    assert_eq!(doc["summary"]["by_outcome"]["pass"], 1, "{doc}");
    let numpy_files: Vec<_> = files_under(&cache.join("v2/envs"))
        .into_iter()
        .filter(|(p, _)| p.to_string_lossy().contains("/site-packages/numpy/"))
        .collect();
    assert!(numpy_files.len() > 1000, "{}", numpy_files.len());
    for (path, meta) in &numpy_files {
        assert_eq!(meta.nlink(), 1, "{} is linked", path.display());
    }
}

/// Everything under `dir`, as paths relative to it.
fn tree(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(path.clone());
            }
            out.push(
                path.strip_prefix(dir)
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
            );
        }
    }
    out.sort();
    out
}

/// `--cache-dir` (or `ABIMATRIX_CACHE_DIR`) holds everything matrix keeps:
/// with HOME an empty folder (and no XDG_CACHE_HOME), a cold run with
/// `--cache-dir cache` writes nothing under HOME, its last results are in
/// `cache`, and `explain` finds them through either way of naming it.
/// uv's own download cache is uv's (UV_CACHE_DIR, here the machine's, so
/// nothing is downloaded twice) and rustup's home stays where it is: pip,
/// installing uv into the cache, asks `rustc --version` for its user agent,
/// and rustup's proxy would otherwise write its settings under HOME.
#[test]
fn a_named_cache_holds_everything_and_nothing_goes_under_home() {
    let p = Project::new();
    p.sample_variant(|c| c.to_string());
    p.write(
        "matrix.toml",
        &format!(
            "{}{}",
            numpy(&["2.0.*"], &["2.0.*"]),
            common::VARIANT_EXTENSION
        ),
    );
    let home = tempfile::tempdir().expect("home");
    let real_home = std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let uv_cache = std::env::var_os("UV_CACHE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| real_home.join(".cache/uv"));
    let rustup = std::env::var_os("RUSTUP_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| real_home.join(".rustup"));
    let python = common::pyenv_python("3.11");
    let matrix_at_home = |args: &[&str], cache_env: Option<&str>| {
        let mut cmd = matrix();
        cmd.args(["--color", "never"])
            .args(args)
            .current_dir(p.dir.path())
            .env("HOME", home.path())
            .env_remove("XDG_CACHE_HOME")
            .env_remove("ABIMATRIX_CACHE_DIR")
            .env("UV_CACHE_DIR", &uv_cache)
            .env("RUSTUP_HOME", &rustup);
        if let Some(dir) = cache_env {
            cmd.env("ABIMATRIX_CACHE_DIR", dir);
        }
        cmd.output().expect("run matrix")
    };
    let run = matrix_at_home(
        &[
            "run",
            "--cache-dir",
            "cache",
            "--python",
            python.to_str().unwrap(),
        ],
        None,
    );
    let dump = format!(
        "{}\n{}",
        common::text(&run.stdout),
        common::text(&run.stderr)
    );
    assert_eq!(run.status.code(), Some(0), "{dump}");
    assert_eq!(tree(home.path()), Vec::<String>::new(), "{dump}");
    let kept = tree(&p.path("cache/v2"));
    for held in [
        "last-results.json",
        "memo.json",
        "results",
        "envs",
        "builds",
        "probes",
    ] {
        assert!(
            kept.iter().any(|k| k == held),
            "no {held} in the cache: {kept:?}"
        );
    }
    assert_eq!(
        kept.iter().filter(|k| k.starts_with("results/")).count(),
        1,
        "this config's last results: {kept:?}"
    );

    let last = common::read_json(&p.path("cache/v2/last-results.json"));
    let (build, runtime) = (
        last["cells"][0]["build"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        last["cells"][0]["runtime"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    );
    for (args, env) in [
        (vec!["explain", &build, &runtime], Some("cache")),
        (
            vec!["explain", &build, &runtime, "--cache-dir", "cache"],
            None,
        ),
    ] {
        let out = matrix_at_home(&args, env);
        let said = common::text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{said}{}",
            common::text(&out.stderr)
        );
        assert!(said.starts_with("cell:        CPython 3.11."), "{said}");
        assert!(
            common::text(&out.stderr).contains("(the last run of matrix.toml)"),
            "{}",
            common::text(&out.stderr)
        );
    }
    assert_eq!(tree(home.path()), Vec::<String>::new());
}
