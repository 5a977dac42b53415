//! The answer on a real grid: the ranges `--summary` prints are the ones
//! the cells measured, in the results file and in both commands that
//! print it. Expected versions come from the results file, never written
//! here: the index decides which patch release each series resolves to.

use crate::common::{Project, matrix, numpy};

#[test]
fn the_summary_prints_the_measured_ranges_of_a_real_grid() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "{}[run]\nexpect = \"numpy-rules\"\n",
            numpy(
                &["1.26.*", "2.0.*"],
                &["1.24.*", "1.26.*", "2.0.*", "2.2.*"]
            )
        ),
    );
    // COLUMNS narrower than any grid: standard output is a pipe here, and
    // a pipe always gets the whole report.
    let run = p.run_with(&[], &[("COLUMNS", "20")]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    assert!(
        run.stdout().contains("built with ↓ / runs on →"),
        "{}",
        run.dump()
    );
    let (b126, b20) = (
        run.resolved("build", "1.26.*"),
        run.resolved("build", "2.0.*"),
    );
    let r = |request: &str| run.resolved("runtime", request);
    let (r124, r126, r20, r22) = (r("1.24.*"), r("1.26.*"), r("2.0.*"), r("2.2.*"));
    // What NumPy's rules say, measured: the 1.x build fails under NumPy 2,
    // the 2.0 build works under every tested release.
    let lines = [
        format!(
            "built against {b126}: works on numpy >={r124},<{r20} (2 of 4 tested releases pass)"
        ),
        format!("built against {b20}: works on numpy >={r124} (4 of 4 tested releases pass)"),
        format!("numpy {r124} runs builds from {b126} up"),
        format!("numpy {r126} runs builds from {b126} up"),
        format!("numpy {r20} runs builds from {b20} up"),
        format!("numpy {r22} runs builds from {b20} up"),
    ];
    for line in &lines {
        assert!(
            run.stdout().contains(line.as_str()),
            "{line}\n{}",
            run.dump()
        );
    }
    // The results file holds the answer, and still loads (below).
    let rows = &run.results()["answer"][0]["rows"];
    assert_eq!(rows[0]["specifiers"], format!(">={r124},<{r20}"));
    assert_eq!(rows[1]["specifiers"], format!(">={r124}"));

    let report = matrix()
        .args(["report", "--summary", "--color", "never"])
        .arg(&run.json)
        .output()
        .expect("run matrix report");
    let text = String::from_utf8_lossy(&report.stdout);
    assert_eq!(report.status.code(), Some(0), "{text}");
    assert!(!text.contains("built with ↓"), "no grid:\n{text}");
    for line in &lines {
        assert!(text.contains(&format!("    {line}\n")), "{line}\n{text}");
    }

    // `run --summary` (every environment and build now cached) prints the
    // same answer; only the time on the last line may differ.
    let again = p.run(&["--summary"]);
    assert_eq!(again.code(), Some(0), "{}", again.dump());
    let all_but_last = |t: &str| {
        let lines: Vec<&str> = t.lines().collect();
        lines[..lines.len().saturating_sub(1)].join("\n")
    };
    assert_eq!(all_but_last(&again.stdout()), all_but_last(&text));
}
