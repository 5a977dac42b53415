//! Reports, NumPy's rules, regressions, sharding and re-runs, on a real grid.
//! The grid is run once per test binary and its results reused.

use std::sync::OnceLock;

use crate::common;
use crate::common::{Project, matrix, numpy};

/// A 4 × 4 grid judged by NumPy's own rules, with every report written; run
/// once and shared by the tests below.
fn grid() -> &'static (Project, common::Run) {
    static GRID: OnceLock<(Project, common::Run)> = OnceLock::new();
    GRID.get_or_init(|| {
        let p = Project::new();
        p.write(
            "matrix.toml",
            &format!(
                "{}[run]\nexpect = \"numpy-rules\"\n",
                numpy(
                    &["1.24.*", "1.26.*", "2.0.*", "2.4.*"],
                    &["1.24.*", "1.26.*", "2.0.*", "2.4.*"]
                )
            ),
        );
        let run = p.run(&[
            "--junit",
            p.path("all.xml").to_str().unwrap(),
            "--markdown",
            p.path("all.md").to_str().unwrap(),
            "--html",
            p.path("all.html").to_str().unwrap(),
        ]);
        std::fs::copy(&run.json, p.path("all.json")).unwrap();
        (p, run)
    })
}

fn read(p: &Project, name: &str) -> String {
    std::fs::read_to_string(p.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn numpy_rules_predict_every_cell_of_a_real_grid() {
    let (_, run) = grid();
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let cells = run.results()["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 16);
    for c in cells {
        assert_eq!(c["met"], true, "{c}");
        assert_eq!(c["expected"]["source"], "numpy-rules", "{c}");
    }
    let c = run.cell("1.26.*", "2.0.*");
    assert_eq!(
        (
            c["expected"]["outcome"].as_str(),
            c["expected"]["reason"].as_str()
        ),
        (Some("fail"), Some("abi-major"))
    );
}

#[test]
fn junit_is_well_formed_with_one_case_per_cell() {
    let (p, _) = grid();
    let xml = read(p, "all.xml");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("16"));
    assert_eq!(root.attribute("failures"), Some("4"));
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 16);
    let failures = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .count();
    assert_eq!(failures, 4);
    let failed = cases
        .iter()
        .find(|c| c.children().any(|n| n.has_tag_name("failure")))
        .unwrap();
    assert!(
        failed.children().any(|n| n.has_tag_name("system-err")),
        "the log goes with the case"
    );
}

/// Validates the JUnit file against the JUnit XSD that pytest ships for its
/// own JUnit tests (testing/example_scripts/junit-10.xsd in pytest's sdist,
/// fetched from PyPI), with xmllint.
#[test]
fn junit_validates_against_the_junit_xsd() {
    let xmllint = common::program(&["xmllint"], "libxml2-utils");
    let (p, _) = grid();
    let dl = tempfile::tempdir().unwrap();
    let got = std::process::Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--dest",
        ])
        .arg(dl.path())
        .arg("pytest==9.2.0")
        .output()
        .unwrap();
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    let member = "pytest-9.2.0/testing/example_scripts/junit-10.xsd";
    let untar = std::process::Command::new("tar")
        .arg("xzf")
        .arg(dl.path().join("pytest-9.2.0.tar.gz"))
        .arg("-C")
        .arg(dl.path())
        .arg(member)
        .status()
        .unwrap();
    assert!(untar.success());
    let check = std::process::Command::new(xmllint)
        .args(["--noout", "--schema"])
        .arg(dl.path().join(member))
        .arg(p.path("all.xml"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn markdown_and_html_show_the_grid() {
    let (p, _) = grid();
    let md = read(p, "all.md");
    assert!(
        md.contains("| built with ↓ / runs on → | 1.24.4 | 1.26.4 | 2.0.")
            && md.contains("abi-major"),
        "{md}"
    );
    let html = read(p, "all.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<td class=\"").count(), 16);
    assert!(
        !html.contains("http://") && !html.contains("https://numpy"),
        "must not reach the network"
    );
}

#[test]
fn report_renders_saved_results_in_every_format() {
    let (p, run) = grid();
    let all = p.path("all.json");
    let text = matrix()
        .args(["report", "--color", "never"])
        .arg(&all)
        .output()
        .unwrap();
    assert!(text.status.success());
    let strip = |s: &str| {
        s.lines()
            .map(|l| l.split(" in ").next().unwrap_or(l).trim_end().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strip(&String::from_utf8_lossy(&text.stdout)),
        strip(&run.stdout())
    );
    for format in ["json", "junit", "markdown", "html"] {
        let out = matrix()
            .args(["report", "--format", format])
            .arg(&all)
            .output()
            .unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{format}");
    }
    let bad = matrix()
        .args(["report"])
        .arg(p.path("matrix.toml"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an abimatrix results file"));
}

/// Shard the grid 3 ways, merge, and compare with the unsharded run.
#[test]
fn three_shards_merge_into_the_unsharded_grid() {
    let (p, run) = grid();
    let mut files = Vec::new();
    let mut seen = 0;
    for k in 1..=3 {
        let out = p.path(&format!("shard{k}.json"));
        let status = matrix()
            .args(["run", "-q", "--color", "never", "-c"])
            .arg(p.path("matrix.toml"))
            .args(["--shard", &format!("{k}/3"), "--json"])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(
            status.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let doc = common::read_json(&out);
        let n = doc["cells"].as_array().unwrap().len();
        assert!(
            n == 4 || n == 8,
            "shard {k} has {n} cells: whole runtime columns only"
        );
        seen += n;
        files.push(out);
    }
    assert_eq!(seen, 16);
    let merged = p.path("merged.json");
    let out = matrix()
        .arg("merge")
        .args(&files)
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = matrix()
        .args(["report", "--color", "never"])
        .arg(p.path("all.json"))
        .output()
        .unwrap();
    let b = matrix()
        .args(["report", "--color", "never"])
        .arg(&merged)
        .output()
        .unwrap();
    let strip = |o: &[u8]| {
        String::from_utf8_lossy(o)
            .lines()
            .map(|l| l.split(" in ").next().unwrap_or(l).to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a.stdout), strip(&b.stdout));
    let _ = run;

    // Results of another matrix are refused.
    let other = Project::new();
    other.write("matrix.toml", &numpy(&["2.0.*"], &["2.0.*"]));
    let o = other.run(&["-q"]);
    let refused = matrix()
        .arg("merge")
        .arg(&files[0])
        .arg(&o.json)
        .arg("-o")
        .arg(p.path("bad.json"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", o.dump());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("different matrices"));
}

/// A baseline in which a failing cell passed: that cell got worse, and
/// both `diff` and `run --baseline` say so with exit status 1.
#[test]
fn regressions_against_a_baseline() {
    let (p, _) = grid();
    let mut old: serde_json::Value = serde_json::from_str(&read(p, "all.json")).unwrap();
    let cell = old["cells"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["outcome"] == "fail")
        .unwrap();
    let pair = format!(
        "{} → {}",
        cell["build"].as_str().unwrap(),
        cell["runtime"].as_str().unwrap()
    );
    cell["outcome"] = "pass".into();
    cell["reason"] = serde_json::Value::Null;
    std::fs::write(p.path("old.json"), old.to_string()).unwrap();

    let d = matrix()
        .arg("diff")
        .arg(p.path("old.json"))
        .arg(p.path("all.json"))
        .output()
        .unwrap();
    assert_eq!(d.status.code(), Some(1));
    let text = String::from_utf8_lossy(&d.stdout);
    assert!(
        text.contains("1 cell(s) got worse") && text.contains(&pair),
        "{text}"
    );
    let reverse = matrix()
        .arg("diff")
        .arg(p.path("all.json"))
        .arg(p.path("old.json"))
        .output()
        .unwrap();
    assert_eq!(reverse.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&reverse.stdout).contains("1 cell(s) got better"));

    let run = p.run(&["-q", "--baseline", p.path("old.json").to_str().unwrap()]);
    assert_eq!(run.code(), Some(1), "{}", run.dump());
    assert!(
        run.stdout()
            .contains("since the baseline: 1 cell(s) got worse"),
        "{}",
        run.dump()
    );
}

/// --rerun-failed runs only the cells that did not pass and reports them
/// with the earlier passes.
#[test]
fn rerun_failed_runs_only_what_did_not_pass() {
    let (p, _) = grid();
    let run = p.run(&["--rerun-failed", p.path("all.json").to_str().unwrap()]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let ran = run
        .stderr()
        .lines()
        .filter(|l| l.starts_with("cell "))
        .count();
    assert_eq!(ran, 4, "only the 4 failing cells run\n{}", run.dump());
    assert_eq!(run.results()["cells"].as_array().unwrap().len(), 16);
}

/// Renders the HTML report in a real headless Chromium: a screenshot must
/// show the grid's pass and fail colours, and text a child wrote (markup
/// included) must stay text.
#[test]
fn html_renders_in_a_real_browser_and_child_text_stays_text() {
    let chromium = common::program(
        &["chromium", "chromium-browser", "google-chrome"],
        "chromium",
    );
    let (p, _) = grid();
    // A grid whose child writes markup to stdout and fails.
    let hostile = Project::new();
    hostile.sample_variant(|c| c.to_string());
    hostile.write(
        "ext/probe.py",
        "print('<img src=x onerror=\"document.title=1\"><script>document.title=2</script>')\nraise ValueError('<b>bold</b>')\n",
    );
    hostile.write(
        "matrix.toml",
        &format!(
            "{}{}[[expect]]\noutcome = \"fail\"\n",
            numpy(&["2.0.*"], &["2.0.*"]),
            common::VARIANT_EXTENSION
        ),
    );
    let html = hostile.path("h.html");
    let run = hostile.run(&["-q", "--html", html.to_str().unwrap()]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("&lt;img src=x onerror=&quot;document.title=1&quot;&gt;"),
        "child text not escaped"
    );
    assert!(
        !page.contains("<img") && !page.contains("<b>bold"),
        "raw markup from a child reached the page"
    );

    let browser = |args: &[&str], url: &std::path::Path| {
        let profile = tempfile::tempdir().unwrap();
        std::process::Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1000,800",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(args)
            .arg(format!("file://{}", url.display()))
            .output()
            .expect("run chromium")
    };
    // The DOM after scripts ran: the child's markup did not become elements.
    let dom = browser(&["--dump-dom"], &html);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<title>abimatrix"), "{dom}");
    assert!(!dom.contains("<img") && !dom.contains("<title>1") && !dom.contains("<title>2"));

    let shot = p.path("shot.png");
    let out = browser(
        &[&format!("--screenshot={}", shot.display())],
        &p.path("all.html"),
    );
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels = buf[..info.buffer_size()].chunks(channels);
    let (mut green, mut amber) = (0, 0);
    for px in pixels {
        match (px[0], px[1], px[2]) {
            (0xc8, 0xf0, 0xc8) => green += 1,
            (0xff, 0xe3, 0xa3) => amber += 1,
            _ => {}
        }
    }
    // 12 pass cells and 4 fail cells, each a few thousand pixels.
    assert!(green > 12 * 1000, "pass colour covers {green} px");
    assert!(amber > 4 * 1000, "fail colour covers {amber} px");
    assert!(
        green > amber * 2,
        "12 pass cells vs 4 fail cells: {green} vs {amber}"
    );
}

/// Every command that reads a results file refuses a damaged one with exit
/// 2 and the file's name, never a panic: a cell naming a grid that is not
/// there (`explain` once panicked on it), a cell off its grid's axes, cut
/// JSON, another schema.
#[test]
fn damaged_results_files_are_refused_by_every_command() {
    let (p, _) = grid();
    let good: serde_json::Value = serde_json::from_str(&read(p, "all.json")).unwrap();
    let damaged = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut doc = good.clone();
        edit(&mut doc);
        let path = p.path(name);
        std::fs::write(&path, doc.to_string()).unwrap();
        path
    };
    let files = [
        damaged("bad-grid.json", &|d| d["cells"][0]["grid"] = 7.into()),
        damaged("bad-axes.json", &|d| {
            d["cells"][0]["build"] = "9.9.9".into()
        }),
        damaged("no-grids.json", &|d| d["grids"] = serde_json::json!([])),
        damaged("bad-version.json", &|d| d["schema_version"] = 99.into()),
        {
            let path = p.path("cut.json");
            let text = read(p, "all.json");
            std::fs::write(&path, &text[..text.len() / 2]).unwrap();
            path
        },
    ];
    let all = p.path("all.json");
    for bad in &files {
        let b = bad.to_str().unwrap();
        let cell = &good["cells"][0];
        let (build, runtime) = (
            cell["build"].as_str().unwrap(),
            cell["runtime"].as_str().unwrap(),
        );
        let runs: Vec<Vec<&str>> = vec![
            vec!["report", b],
            vec!["diff", b, all.to_str().unwrap()],
            vec!["diff", all.to_str().unwrap(), b],
            vec!["merge", b, "-o", "/dev/null"],
            vec!["explain", build, runtime, "--results", b],
        ];
        for args in runs {
            let out = matrix().args(&args).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(
                err.contains(b) && !err.contains("panicked"),
                "{args:?}: {err}"
            );
        }
        for flag in ["--baseline", "--rerun-failed"] {
            let run = p.run(&["-q", flag, b]);
            assert_eq!(run.code(), Some(2), "{flag} {b}: {}", run.dump());
            assert!(
                run.stderr().contains("not an abimatrix results file"),
                "{}",
                run.dump()
            );
        }
    }
}
