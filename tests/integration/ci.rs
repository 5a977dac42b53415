//! abimatrix in CI, as a CI engineer runs it: `matrix plan` from the
//! config, builds made once and tested on every shard, a lost shard that
//! fails the merge, report and diff; and the habits users bring from nox
//! and tox (`--list`, `-k`, `--python`, the config in pyproject.toml). Every
//! command is started in the project folder with relative paths.

use crate::common::{self, Project, numpy, text};

#[test]
fn plan_reads_the_config_and_never_gives_empty_shards() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "[python]\nversions = [\"3.11\", \"3.12\"]\n{}",
            numpy(&["1.26.*", "2.0.*"], &["1.26.*", "2.0.*", "2.2.*"])
        ),
    );
    // Asked for more shards than units: as many as units, and why.
    let out = p.matrix_here(&["plan", "--shards", "10"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("6 shard(s), not 10: the matrix has 6 unit(s)"),
        "{}",
        text(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let include = json["include"].as_array().unwrap();
    assert_eq!(include.len(), 6);
    assert_eq!(include[0]["shard"], "1/6");
    assert_eq!(include[0]["name"], "3.11: 1.26.*");
    assert_eq!(include[0]["python"], serde_json::json!(["3.11"]));
    assert_eq!(include[5]["python-version"], "3.12");

    // Two shards: one per Python, each listing its cells.
    let out = p.matrix_here(&["plan", "--shards", "2", "--format", "text"]);
    let listing = text(&out.stdout);
    assert!(
        listing.starts_with("--shard 1/2  3.11: 1.26.*, 2.0.*, 2.2.*  (6 cell(s); Python 3.11)"),
        "{listing}"
    );
    assert!(listing.contains("    3.12: 2.0.* → 2.2.*"), "{listing}");
    assert_eq!(
        listing.lines().filter(|l| l.starts_with("    ")).count(),
        12
    );

    // `--python` as in `run`: only that Python's units.
    let out = p.matrix_here(&["plan", "--shards", "3", "--python", "3.12"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = json["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["3.12: 1.26.*", "3.12: 2.0.*", "3.12: 2.2.*"]);

    // A shard that does not exist is an error, not an empty green run.
    let out = p.matrix_here(&["run", "--shard", "7/7"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("shard 7/7 does not exist for this matrix"),
        "{}",
        text(&out.stderr)
    );
}

/// The CI layout the book shows (docs/src/guides/ci.md): one job builds into `artifacts/`, each
/// shard tests those builds (made again only when what they were built
/// from changed), and the merge of every shard is the whole grid; without
/// one shard it is incomplete and every gate fails.
#[test]
fn builds_are_made_once_tested_on_every_shard_and_a_lost_shard_fails_the_gate() {
    let p = Project::new();
    p.sample_variant(|c| c.to_string());
    p.write(
        "matrix.toml",
        &format!(
            "{}{}[run]\nexpect = \"numpy-rules\"\n",
            numpy(&["1.26.*", "2.0.*"], &["1.26.*", "2.0.*"]),
            common::VARIANT_EXTENSION
        ),
    );
    let out = p.matrix_here(&[
        "run",
        "--build-only",
        "--artifacts",
        "artifacts",
        "--json",
        "build-only.json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("2 build(s): 2 made, 0 already there, 0 failed"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        !p.path("build-only.json").exists(),
        "a build-only run has no cells, so no results to write"
    );

    // Each shard on a "fresh machine" (no cache) with the artifacts.
    let shard = |which: &str, json: &str| {
        p.matrix_here(&[
            "run",
            "-q",
            "--fresh",
            "--artifacts",
            "artifacts",
            "--shard",
            which,
            "--json",
            json,
        ])
    };
    let mut shards = Vec::new();
    for k in 1..=2 {
        let name = format!("shard-{k}.json");
        let out = shard(&format!("{k}/2"), &name);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let doc = common::read_json(&p.path(&name));
        let builds = doc["grids"][0]["builds"].as_array().unwrap();
        assert_eq!(builds.len(), 2);
        assert!(
            builds.iter().all(|b| b["reused"] == true),
            "shard {k} built again: {builds:?}"
        );
        assert_eq!(doc["cells"].as_array().unwrap().len(), 2);
        shards.push(name);
    }

    let whole = p.matrix_here(&["merge", &shards[0], &shards[1], "-o", "merged.json"]);
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole.stderr));
    let merged = common::read_json(&p.path("merged.json"));
    assert_eq!(merged["complete"], true);
    assert_eq!(merged["cells"].as_array().unwrap().len(), 4);

    // Shard 2's job died: nothing of it reached the merge.
    let lost = p.matrix_here(&["merge", &shards[0], "-o", "partial.json"]);
    assert_eq!(lost.status.code(), Some(1), "{}", text(&lost.stdout));
    assert!(text(&lost.stderr).contains("missing shard 2/2 (python3: 2.0.*)"));
    let partial = common::read_json(&p.path("partial.json"));
    assert_eq!(partial["complete"], false);
    assert_eq!(
        partial["missing"],
        serde_json::json!(["shard 2/2 (python3: 2.0.*)"])
    );
    let report = p.matrix_here(&["report", "partial.json"]);
    assert_eq!(report.status.code(), Some(1));
    assert!(
        text(&report.stdout).contains("INCOMPLETE: missing shard 2/2"),
        "{}",
        text(&report.stdout)
    );
    let diff = p.matrix_here(&["diff", "merged.json", "partial.json"]);
    assert_eq!(diff.status.code(), Some(1));
    assert!(text(&diff.stderr).contains("partial.json is incomplete: missing shard 2/2"));

    // The source changed after the build job: the shard builds again
    // rather than test what no longer matches it.
    p.sample_variant(|c| format!("{c}\n/* edited after the build job */\n"));
    let out = shard("1/2", "again.json");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc = common::read_json(&p.path("again.json"));
    let builds = doc["grids"][0]["builds"].as_array().unwrap();
    assert!(builds.iter().all(|b| b["reused"] == false), "{builds:?}");
}

/// `--list` shows what would run, judged, and builds nothing; `-k` picks
/// cells by build and runtime; `--python` narrows the config's Pythons.
#[test]
fn list_select_and_python_narrow_the_grid_like_nox_and_tox() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "[python]\nversions = [\"3.11\", \"3.12\"]\n{}[run]\nexpect = \"numpy-rules\"\n",
            numpy(&["1.26.*", "2.0.*"], &["1.26.*", "2.0.*"])
        ),
    );
    let cache = p.path("cache");
    let cache_arg = cache.to_str().unwrap();
    let list = p.matrix_here(&["run", "--list", "--cache-dir", cache_arg]);
    assert_eq!(list.status.code(), Some(0), "{}", text(&list.stderr));
    let listed = text(&list.stdout);
    let cells: Vec<&str> = listed.lines().filter(|l| l.contains(" → ")).collect();
    assert_eq!(cells.len(), 8, "{listed}");
    assert!(
        cells.iter().any(|l| l.starts_with("CPython 3.12.")
            && l.contains(": 1.26.4 → 2.0.2")
            && l.ends_with("expect fail (abi-major) (numpy-rules)")),
        "{listed}"
    );
    assert!(
        !cache.join("v2").join("envs").exists() && !cache.join("v2").join("builds").exists(),
        "--list made an environment or a build"
    );

    let picked = p.matrix_here(&[
        "run",
        "--list",
        "--cache-dir",
        cache_arg,
        "--python",
        "3.12",
        "-k",
        "<2:2.*",
    ]);
    let picked = text(&picked.stdout);
    let cells: Vec<&str> = picked.lines().filter(|l| l.contains(" → ")).collect();
    assert_eq!(cells.len(), 1, "{picked}");
    assert!(cells[0].starts_with("CPython 3.12.") && cells[0].contains("1.26.4 → 2.0.2"));

    // Union of two selectors.
    let two = p.matrix_here(&[
        "run",
        "--list",
        "--cache-dir",
        cache_arg,
        "-k",
        "3.11/2.0.*:1.26.*",
        "-k",
        "3.12/1.26.*:1.26.*",
    ]);
    assert_eq!(
        text(&two.stdout)
            .lines()
            .filter(|l| l.contains(" → "))
            .count(),
        2,
        "{}",
        text(&two.stdout)
    );

    let none = p.matrix_here(&["run", "--list", "--python", "3.9"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        text(&none.stderr)
            .contains("--python 3.9 matches none of the Pythons the config lists (3.11, 3.12)")
    );
    let bad = p.matrix_here(&["run", "--list", "-k", ":<<2"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("invalid version specifiers"),
        "{}",
        text(&bad.stderr)
    );

    // A real run of one selected cell runs that cell only.
    let one = p.run_here(&["-q", "--python", "3.12", "-k", "2.0.*:2.0.*"]);
    assert_eq!(one.code(), Some(0), "{}", one.dump());
    let cells = one.results()["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 1);
    assert_eq!(cells[0]["outcome"], "pass");
}

/// The config may live in pyproject.toml under [tool.abimatrix], found
/// when there is no matrix.toml, with errors located in that file.
#[test]
fn the_config_can_live_in_pyproject_toml() {
    let p = Project::new();
    p.write(
        "pyproject.toml",
        "[project]\nname = \"demo\"\nversion = \"1.0\"\n\n[tool.abimatrix.numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\", \"2.2.*\"]\n\n[tool.abimatrix.run]\nexpect = \"numpy-rules\"\n",
    );
    let list = p.matrix_here(&["run", "--list"]);
    assert_eq!(list.status.code(), Some(0), "{}", text(&list.stderr));
    assert_eq!(
        text(&list.stdout)
            .lines()
            .filter(|l| l.contains(" → "))
            .count(),
        2
    );
    let plan = p.matrix_here(&["plan", "--shards", "2", "--format", "text"]);
    assert!(
        text(&plan.stdout).contains("--shard 2/2  python3: 2.2.*"),
        "{}",
        text(&plan.stdout)
    );

    // A mistake in the table names pyproject.toml, its line and column.
    p.write(
        "pyproject.toml",
        "[project]\nname = \"demo\"\n\n[tool.abimatrix.numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.0.*\", \"two\"]\n",
    );
    let bad = p.matrix_here(&["run", "--list"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = text(&bad.stderr);
    assert!(err.contains("pyproject.toml:6:"), "{err}");

    // With a matrix.toml beside it, matrix.toml is the config; `-c
    // pyproject.toml` still picks the table.
    p.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
    let list = p.matrix_here(&["run", "--list"]);
    assert_eq!(
        text(&list.stdout)
            .lines()
            .filter(|l| l.contains(" → "))
            .count(),
        1
    );
    let list = p.matrix_here(&["run", "--list", "-c", "pyproject.toml"]);
    assert_eq!(list.status.code(), Some(2), "the broken table is read");
}
