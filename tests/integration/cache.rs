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
