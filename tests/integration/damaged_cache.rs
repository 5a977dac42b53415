//! Damage in the cache, every kind in one place: whatever was truncated,
//! deleted, flipped or written through in the cache (abimatrix's own,
//! its store, or uv's) is found before use, the entry is made again, the
//! grid is the one a fresh run gives, no failure is blamed on the
//! extension, and `matrix cache verify` finds what a run would.

use std::path::{Path, PathBuf};

use crate::common::{self, Project, matrix, numpy};

/// The cells of a run as (build, runtime, outcome, reason), sorted.
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

/// Files under `dir` whose name starts with `prefix`, sorted; at least one.
fn files_named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = common::files_under(dir)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no {prefix}* under {}", dir.display());
    out
}

/// One cache through every kind of damage, each repaired before the next:
/// a 2 × 2 grid (1.26 and 2.0, the abi-major failure expected) made cold,
/// then reused whole; NumPy's `__init__.py` truncated in one environment;
/// NumPy's core extension module deleted from every environment; a built
/// module truncated; an environment's pyvenv.cfg deleted; one byte of
/// NumPy's core library flipped (size unchanged: its ctime gives it away);
/// the same found by `cache verify`, which hashes everything. After each,
/// the grid is the cold run's and only what was damaged is made again.
/// Then `cache info` and `cache clean`, and a cache that cannot be
/// written (one clear error, exit 3).
#[test]
fn every_kind_of_damage_is_found_remade_and_never_blamed_on_the_extension() {
    let p = Project::new();
    let cache_dir = p.path("cache");
    let cache = cache_dir.to_str().unwrap();
    let root = cache_dir.join("v2");
    p.write(
        "matrix.toml",
        &format!(
            "{}[[expect]]\nbuild = \"<2\"\nruntime = \">=2\"\noutcome = \"fail\"\nreason = \"abi-major\"\n",
            numpy(&["1.26.*", "2.0.*"], &["1.26.*", "2.0.*"])
        ),
    );
    let run = || {
        let run = p.run(&["--cache-dir", cache]);
        assert_eq!(run.code(), Some(0), "{}", run.dump());
        run
    };
    let envs_reused = |run: &common::Run| -> Vec<bool> {
        run.results()["grids"][0]["environments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["ok"] == true && e["reused"] == true)
            .collect()
    };

    // Cold, then warm: everything reused, the same grid.
    let cold = run();
    assert_eq!(
        common::builds_reused(&cold),
        [false, false],
        "{}",
        cold.dump()
    );
    assert_eq!(envs_reused(&cold), [false, false], "{}", cold.dump());
    let expected = outcomes(&cold);
    let warm = run();
    assert_eq!(
        common::builds_reused(&warm),
        [true, true],
        "{}",
        warm.dump()
    );
    assert_eq!(envs_reused(&warm), [true, true], "{}", warm.dump());
    assert_eq!(outcomes(&warm), expected);
    assert_eq!(
        warm.stderr().matches("reused from the cache").count(),
        4,
        "{}",
        warm.dump()
    );

    // NumPy's __init__.py truncated in the 1.26 environment: that
    // environment is made again, the file restored.
    let v126 = warm.resolved("runtime", "1.26.*");
    let init = std::fs::read_dir(root.join("envs"))
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
    let repaired = run();
    assert_eq!(outcomes(&repaired), expected);
    assert!(
        repaired.stderr().contains(&format!("numpy {v126} ready")),
        "{}",
        repaired.dump()
    );
    assert!(
        std::fs::metadata(&init).unwrap().len() > 0,
        "numpy/__init__.py was not restored"
    );

    // NumPy's core extension module deleted from every environment.
    let cores: Vec<PathBuf> = files_named(&root.join("envs"), "_multiarray_umath")
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "so"))
        .collect();
    assert!(cores.len() >= 2, "{cores:?}");
    for core in &cores {
        std::fs::remove_file(core).unwrap();
    }
    assert_eq!(outcomes(&run()), expected);

    // A built module truncated to nothing: made again.
    let module = files_named(&root.join("builds"), "my_extension")[0].clone();
    std::fs::write(&module, "").unwrap();
    let rebuilt = run();
    assert_eq!(outcomes(&rebuilt), expected);
    assert!(
        common::builds_reused(&rebuilt).contains(&false),
        "the truncated build was made again"
    );

    // An environment without its pyvenv.cfg: made again.
    let cfg = files_named(&root.join("envs"), "pyvenv.cfg")[0].clone();
    std::fs::remove_file(&cfg).unwrap();
    assert_eq!(outcomes(&run()), expected);
    assert!(cfg.exists(), "the environment was made again");

    // One byte of NumPy's core library flipped, the size unchanged: the
    // check before use finds it (the file's ctime moved), and the
    // environment is made again.
    let flip = || {
        let core = files_named(&root.join("envs"), "_multiarray_umath")
            .into_iter()
            .find(|p| p.extension().is_some_and(|e| e == "so"))
            .unwrap();
        let mut bytes = std::fs::read(&core).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x55;
        std::fs::write(&core, &bytes).unwrap();
        core
    };
    let core = flip();
    let flipped = run();
    assert_eq!(outcomes(&flipped), expected);
    let remade = flipped
        .stderr()
        .lines()
        .filter(|l| l.contains(" ready in "))
        .count();
    assert_eq!(remade, 1, "one environment made again\n{}", flipped.dump());
    assert!(core.exists());

    // `matrix cache verify` hashes everything and removes what is damaged:
    // the environment, and the store's copy of the file it links to.
    flip();
    let verify = matrix()
        .args(["cache", "verify", "--cache-dir", cache])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(verify.status.code(), Some(1), "{said}");
    assert!(
        said.contains("SHA-256 differs")
            && said.contains("entries checked, 1 damaged;")
            && said.contains("stored files checked, 1 damaged"),
        "{said}"
    );
    assert_eq!(outcomes(&run()), expected);

    let info = matrix()
        .args(["cache", "info", "--cache-dir", cache])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(text.contains("envs") && text.contains("builds"), "{text}");
    let clean = matrix()
        .args(["cache", "clean", "--cache-dir", cache])
        .output()
        .unwrap();
    assert!(clean.status.success());
    assert!(!root.exists());

    // A cache that cannot be written: one clear error.
    let file = p.path("a-file");
    std::fs::write(&file, "").unwrap();
    let bad = p.run(&["-q", "--cache-dir", file.join("sub").to_str().unwrap()]);
    assert_eq!(bad.code(), Some(3), "{}", bad.dump());
    assert!(
        bad.stderr().contains("cannot write the cache at"),
        "{}",
        bad.dump()
    );
    assert!(bad.stderr().contains("--fresh"), "{}", bad.dump());
}

/// Environments share NumPy's files through a read-only store (hard links,
/// far less on disk than they add up to), and nothing in them shares an
/// inode with uv's cache; a probe running as root that writes through a
/// shared inode damages both environments, which are made again with the
/// store's copy replaced, and `cache verify` then finds nothing damaged.
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
        common::files_under(&cache.join("v2/store"))
            .into_iter()
            .map(|(p, m)| (m.ino(), p))
            .collect();
    assert!(!store.is_empty(), "no store under {}", cache.display());
    let envs = common::files_under(&cache.join("v2/envs"));
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

/// A copy in uv's own cache damaged (a byte-level change that still
/// imports): the next environment made from it is checked against the
/// wheel's RECORD, and NumPy is fetched again. uv's cache is the test's
/// own: the damage must not reach other tests.
#[test]
fn a_damaged_copy_in_uvs_cache_is_caught_by_the_wheels_record_and_fetched_again() {
    let p = Project::new();
    let uv_cache = p.path("uv-cache");
    let env = [("UV_CACHE_DIR", uv_cache.to_str().unwrap())];
    p.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
    let first = p.run_with(&["--cache-dir", p.path("c1").to_str().unwrap()], &env);
    assert_eq!(first.code(), Some(0), "{}", first.dump());

    // A byte-level change that still imports: only the RECORD can tell.
    let damaged = common::files_under(&uv_cache)
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
    let installed = common::files_under(&c2.join("v2/envs"))
        .into_iter()
        .map(|(path, _)| path)
        .find(|path| path.ends_with("site-packages/numpy/version.py"))
        .expect("numpy/version.py in the environment");
    let text = std::fs::read_to_string(&installed).unwrap();
    assert!(!text.contains("# damaged"), "{text}");
}

/// A probe running as root rewrites NumPy's `__init__.py` (the store's
/// read-only mode does not stop root): the cells after it, whose NumPy
/// then fails to import, are run again in an environment made again, and
/// pass; none is reported as the extension's failure.
#[test]
fn a_numpy_changed_under_a_cell_is_made_again_never_blamed() {
    let p = Project::new();
    let probe = format!(
        "import os\nif not os.path.exists({done:?}):\n    open({done:?}, 'w').close()\n    with open(np.__file__, 'a') as f:\n        f.write(\"\\nraise RuntimeError('numpy was damaged by a probe')\\n\")\n",
        done = p.path("damaged").to_str().unwrap()
    );
    p.sample_variant(|c| c.to_string());
    p.write("ext/probe.py", &probe);
    p.write(
        "matrix.toml",
        &format!(
            "{}{}",
            numpy(&["2.0.*", "2.1.*"], &["2.0.*"]),
            common::VARIANT_EXTENSION
        ),
    );
    let cache = p.path("cache");
    let cache = cache.to_str().unwrap();
    // One cell at a time: the first damages NumPy (and passes: its NumPy
    // was imported before), the second meets the damage.
    let run = p.run(&["--cache-dir", cache, "--isolation", "process", "-j", "1"]);
    assert!(p.path("damaged").exists(), "the probe did not write");
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let cells = run.results()["cells"].as_array().unwrap();
    assert!(
        cells.iter().all(|c| c["outcome"] == "pass"),
        "{}",
        run.dump()
    );
    assert!(
        cells
            .iter()
            .any(|c| c["stderr"].as_str().unwrap().contains("was damaged (")
                && c["stderr"]
                    .as_str()
                    .unwrap()
                    .contains("this is the cell's second run")),
        "{}",
        run.dump()
    );
}
