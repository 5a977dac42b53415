//! Several interpreters in one run, on this machine's real pyenv Pythons
//! (CPython 3.9 and 3.12 must be there: the test fails, saying so, if not).

use crate::common::{self, Project, matrix, numpy};

fn have(version: &str) -> bool {
    let out = matrix()
        .args(["pythons", "--json"])
        .output()
        .expect("matrix pythons");
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("pythons --json is JSON");
    doc["found"].as_array().is_some_and(|f| {
        f.iter().any(|p| {
            p["version"]
                .as_str()
                .is_some_and(|v| v.starts_with(&format!("{version}.")))
        })
    })
}

/// 3.9 and 3.12 in one run: two grids. On 3.9 a NumPy 1.22 build fails under
/// 1.21 with api-version naming 0xf and 0xe, and a 1.25 build (which targets
/// the 1.19 C-API by default) passes under 1.19. On 3.12 a range expands to
/// the newest patch of each series with a cp312 wheel, skipping 1.25.
#[test]
fn two_interpreters_two_grids_with_ranges() {
    common::require(
        have("3.9") && have("3.12"),
        "CPython 3.9 and 3.12 (pyenv; see `matrix pythons`)",
    );
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "[python]\nversions = [\"3.9\", \"3.12\"]\n{}\
             [[expect]]\npython = \"<3.10\"\nbuild = \"==1.22.*\"\nruntime = \"<1.22\"\noutcome = \"fail\"\nreason = \"api-version\"\n\
             [[expect]]\nbuild = \"<2\"\nruntime = \">=2\"\noutcome = \"fail\"\nreason = \"abi-major\"\n\
             [[expect]]\npython = \">=3.12\"\nruntime = \"<1.26\"\noutcome = \"unavailable\"\n\
             [[expect]]\npython = \">=3.12\"\nbuild = \"<1.26\"\noutcome = \"unavailable\"\n",
            numpy(&["1.22.*", "1.25.*"], &["1.19.*", "1.21.*", ">=1.25,<2.1"])
        ),
    );
    let run = p.run(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let grids = run.results()["grids"].as_array().unwrap();
    assert_eq!(grids.len(), 2);
    assert!(
        grids[0]["interpreter"]["version"]
            .as_str()
            .unwrap()
            .starts_with("3.9.")
    );
    assert!(
        grids[1]["interpreter"]["version"]
            .as_str()
            .unwrap()
            .starts_with("3.12.")
    );

    // 3.9: the range gives 1.25.x, 1.26.x and 2.0.x.
    let runtime39 = run.axis(0, "runtime");
    assert_eq!(runtime39.len(), 5, "{runtime39:?}");
    assert!(
        runtime39[2].starts_with("1.25.")
            && runtime39[3].starts_with("1.26.")
            && runtime39[4].starts_with("2.0.")
    );

    let b122 = run.resolved_in(0, "build", "1.22.*");
    let b125 = run.resolved_in(0, "build", "1.25.*");
    let r121 = run.resolved_in(0, "runtime", "1.21.*");
    let r119 = run.resolved_in(0, "runtime", "1.19.*");
    let cell = run.cell_at(0, &b122, &r121);
    assert_eq!(cell["outcome"], "fail", "{cell}");
    assert_eq!(cell["reason"], "api-version", "{cell}");
    let message = cell["message"].as_str().unwrap();
    assert!(
        message.contains("0xf") && message.contains("0xe"),
        "{message}"
    );
    assert_eq!(run.cell_at(0, &b125, &r119)["outcome"], "pass");

    // 3.12: no cp312 wheels before 1.26, so 1.25 is skipped from the range
    // and the exact series requests are unavailable.
    let runtime312 = run.axis(1, "runtime");
    assert!(
        runtime312.iter().any(|v| v.starts_with("1.26.")),
        "{runtime312:?}"
    );
    assert!(
        !runtime312.iter().any(|v| v.starts_with("1.25.")),
        "{runtime312:?}"
    );
    let skipped = grids[1]["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s.as_str().unwrap().starts_with("1.25.*")),
        "{skipped:?}"
    );
    for cell in run.results()["cells"].as_array().unwrap() {
        assert!(
            cell["interpreter"]
                .as_str()
                .unwrap()
                .starts_with("CPython 3.")
        );
    }
    // One grid per interpreter in the terminal report.
    let out = run.stdout();
    assert_eq!(out.matches("built with ↓ / runs on →").count(), 2, "{out}");
    // The resolved table is shown before the run.
    assert!(run.stderr().contains("no wheel: 1.25.*"), "{}", run.dump());
}

#[test]
fn an_interpreter_asked_for_but_missing_stops_the_run_before_any_work() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "[python]\nversions = [\"3.99\"]\n{}",
            numpy(&["2.0.*"], &["2.0.*"])
        ),
    );
    let run = p.run(&[]);
    // A Python named in matrix.toml that is not there: a config error with
    // its location (issue 7 made this exit 2; issue 3 had it exit 3).
    assert_eq!(run.code(), Some(2), "{}", run.dump());
    let err = run.stderr();
    assert!(
        err.contains("matrix.toml:2:13: no interpreter matches python \"3.99\"; found:"),
        "{err}"
    );
    assert!(err.contains("matrix pythons"), "{err}");
    assert!(run.results.is_none());
}

#[test]
fn pythons_lists_found_and_rejected() {
    let out = matrix()
        .args(["pythons", "--color", "never"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("version") && text.contains("CPython"),
        "{text}"
    );
    let json = matrix().args(["pythons", "--json"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let found = doc["found"].as_array().unwrap();
    assert!(!found.is_empty());
    // Every listed interpreter really runs: it was queried.
    for f in found {
        let exe = f["executable"].as_str().unwrap();
        let ok = std::process::Command::new(exe)
            .args(["-c", "pass"])
            .status()
            .unwrap();
        assert!(ok.success(), "{exe} was listed but does not run");
    }
}

/// `run --python` reads a path where it was typed, and a path that is no
/// Python 3 is named for what it is, with the way out for that cause, as
/// `doctor --python` does.
#[test]
fn a_python_given_on_the_command_line_is_named_for_what_is_wrong_with_it() {
    let p = Project::new();
    p.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
    for (python, error, hint) in common::unusable_pythons(p.dir.path()) {
        let out = p.matrix_here(&["run", "--python", &python]);
        assert_eq!(out.status.code(), Some(3), "{python}");
        assert_eq!(
            common::text(&out.stderr),
            format!("error: {error}\nhint: {hint}\n"),
            "{python}"
        );
    }
}
