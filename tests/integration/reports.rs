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
        let p = Project::for_the_process();
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

/// A run that exits 0 gives a JUnit file a CI UI shows green: the four
/// cells NumPy's rules expect to fail (1.x builds under 2.x) are passing
/// test cases whose output says what was expected and seen.
#[test]
fn junit_is_green_when_every_cell_is_as_expected() {
    let (p, run) = grid();
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let xml = p.read("all.xml");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("16"));
    assert_eq!(root.attribute("failures"), Some("0"));
    assert_eq!(root.attribute("errors"), Some("0"));
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 16);
    let red = cases
        .iter()
        .filter(|c| {
            c.children()
                .any(|n| n.has_tag_name("failure") || n.has_tag_name("error"))
        })
        .count();
    assert_eq!(red, 0);
    let expected_fail = cases
        .iter()
        .find(|c| {
            let name = format!(
                "numpy {} → {}",
                run.resolved("build", "1.26.*"),
                run.resolved("runtime", "2.0.*")
            );
            c.attribute("name") == Some(name.as_str())
        })
        .expect("the 1.26 → 2.0 case");
    let out = expected_fail
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .and_then(|n| n.text())
        .unwrap_or_default();
    assert!(
        out.starts_with("abimatrix: expected fail (abi-major) (numpy-rules); observed fail (abi-major); as expected"),
        "{out}"
    );
    assert!(
        expected_fail
            .children()
            .any(|n| n.has_tag_name("system-err")),
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
    common::pip_download("python3", "--no-binary", "pytest==9.2.0", dl.path());
    let member = "pytest-9.2.0/testing/example_scripts/junit-10.xsd";
    // Without the archive's owners: as root in a user namespace
    // (`unshare -r`, a rootless container) the sdist's uid 1001 cannot be
    // given, and plain `tar` then fails.
    let untar = std::process::Command::new("tar")
        .args(["--no-same-owner", "-xzf"])
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
    let md = p.read("all.md");
    assert!(
        md.contains("| built with ↓ / runs on → | 1.24.4 | 1.26.4 | 2.0.")
            && md.contains("abi-major"),
        "{md}"
    );
    let html = p.read("all.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<td class=\"").count(), 16);
    // The notes name the suite's index as where each NumPy came from (a
    // run on PyPI names none); any other URL would be fetched by a viewer.
    let html = html.replace(&crate::suite::index_url(), "[the suite's index]");
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
    let (p, _) = grid();
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
    let mut old: serde_json::Value = common::read_json(&p.path("all.json"));
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
    // As in a GitHub Actions job: the progress log is one collapsed group,
    // the page names the commit, and nothing is annotated (every cell is as
    // expected).
    let sha = "feedfacecafebeef0123456789abcdef01234567";
    let run = hostile.run_with(
        &["--html", html.to_str().unwrap()],
        &[("GITHUB_ACTIONS", "true"), ("GITHUB_SHA", sha)],
    );
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let log = run.stderr();
    let open = log.find("::group::abimatrix: 1 cell(s)").expect("a group");
    let close = log.find("::endgroup::").expect("the group ends");
    assert!(open < close && log[open..close].contains("cell  "), "{log}");
    assert!(!log.contains("::error"), "{log}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(&format!("<code class=\"commit\">{sha}</code>")));
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

    // The same grid with one expected failure turned unexpected (the saved
    // results edited as a later run could have found them) and a row label
    // far longer than the window.
    let mut doc: serde_json::Value = common::read_json(&p.path("all.json"));
    let long = format!("pandas-2.0.3+{}", "local".repeat(60));
    let cells = doc["cells"].as_array_mut().unwrap();
    let unexpected = cells
        .iter_mut()
        .find(|c| c["outcome"] == "fail")
        .expect("a failing cell");
    unexpected["met"] = false.into();
    unexpected["expected"] =
        serde_json::json!({"outcome": "pass", "reason": null, "line": null, "source": null});
    let first = doc["grids"][0]["axes"]["build"][0]["version"].clone();
    doc["grids"][0]["axes"]["build"][0]["label"] = long.clone().into();
    for c in doc["cells"].as_array_mut().unwrap() {
        if c["grid"] == 0 && c["build"] == first {
            c["build"] = long.clone().into();
        }
    }
    std::fs::write(p.path("edited.json"), doc.to_string()).unwrap();
    let rendered = matrix()
        .args(["report", "--format", "html", "-o"])
        .arg(p.path("edited.html"))
        .arg(p.path("edited.json"))
        .output()
        .unwrap();
    assert_eq!(rendered.status.code(), Some(1), "one cell is unexpected");
    let page = p.read("edited.html");
    // The gate in a GitHub Actions job annotates the cell.
    let gate = matrix()
        .args(["report", "--format", "json"])
        .arg(p.path("edited.json"))
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    let annotations = String::from_utf8_lossy(&gate.stderr);
    let errors: Vec<&str> = annotations
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert_eq!(errors.len(), 1, "{annotations}");
    assert!(
        errors[0].contains("matrix.toml,title=abimatrix%3A ")
            && errors[0].contains("::expected pass"),
        "{}",
        errors[0]
    );
    assert!(
        serde_json::from_slice::<serde_json::Value>(&gate.stdout).is_ok(),
        "stdout stays JSON"
    );

    // The DOM: the title line counts the unexpected cells; date, commit
    // (this repository's HEAD: the config's checkout) and version are
    // there; every request's resolved version is in a table.
    let dom = browser(&["--dump-dom"], &p.path("edited.html"));
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("<title>abimatrix: sample extension my_extension: 1 unexpected</title>"),
        "{dom}"
    );
    assert!(dom.contains("class=\"verdict bad\">1 unexpected<"), "{dom}");
    assert!(dom.contains("<time datetime=\"20"), "a date: {dom}");
    assert!(dom.contains(&format!(
        "abimatrix <span class=\"version\">{}</span>",
        env!("CARGO_PKG_VERSION")
    )));
    let versions = dom
        .find("class=\"versions\"")
        .expect("a resolved-version table");
    for request in ["1.24.*", "1.26.*", "2.0.*", "2.4.*"] {
        let resolved = grid().1.resolved("build", request);
        assert!(
            dom[versions..].contains(&format!("<td>{request}</td><td>{resolved}</td>")),
            "{request} → {resolved} in the table"
        );
    }

    // The page fits the window: a long label wraps instead of widening it.
    let measured = p.path("measured.html");
    std::fs::write(
        &measured,
        page.replace(
            "</body>",
            "<script>document.title = 'W' + document.documentElement.scrollWidth;</script></body>",
        ),
    )
    .unwrap();
    let dom = browser(&["--dump-dom"], &measured);
    let dom = String::from_utf8_lossy(&dom.stdout);
    let width: usize = dom
        .split("<title>W")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no width measured: {dom}"));
    assert!(
        width <= 1000,
        "the page is {width} px wide in a 1000 px window"
    );

    // The screenshot: 11 passes green, 3 expected failures amber, the
    // unexpected one red; the colours differ.
    let counts = colours(&browser_shot(&browser, p, "edited.html"));
    let (green, amber, red) = (counts[0], counts[1], counts[2]);
    assert!(green > 11 * 1000, "pass colour covers {green} px");
    assert!(
        amber > 3 * 1000,
        "expected-failure colour covers {amber} px"
    );
    assert!(red > 1000, "unexpected colour covers {red} px");
    assert!(
        green > amber * 2 && amber > red,
        "{green} / {amber} / {red}"
    );

    // Every outcome glyph renders as a glyph: its screenshot differs from
    // that of a character no default font has (U+29D7, drawn as a box) and
    // from nothing at all.
    let glyphs: Vec<char> = p
        .read("all.html")
        .split("<p class=\"legend\">")
        .nth(2)
        .and_then(|l| l.split("</p>").next())
        .expect("the outcome legend")
        .split("  ")
        .filter_map(|part| part.trim().chars().next())
        .filter(|c| !c.is_ascii())
        .collect();
    assert!(glyphs.len() >= 5, "glyphs in the legend: {glyphs:?}");
    let shot_of = |name: &str, text: &str| {
        std::fs::write(
            p.path(name),
            format!("<!DOCTYPE html><meta charset=utf-8><body style=\"font: 120px system-ui, sans-serif; margin: 0\">{text}</body>"),
        )
        .unwrap();
        pixels(&browser_shot(&browser, p, name))
    };
    let missing = shot_of("glyph-missing.html", "\u{29D7}");
    let blank = shot_of("glyph-blank.html", "");
    assert_ne!(missing, blank, "a missing glyph draws a box");
    for (i, g) in glyphs.iter().enumerate() {
        let shot = shot_of(&format!("glyph-{i}.html"), &g.to_string());
        assert_ne!(
            shot, missing,
            "{g} (U+{:04X}) renders as a missing-glyph box",
            *g as u32
        );
        assert_ne!(shot, blank, "{g} renders as nothing");
    }
}

/// Screenshots `name` in `p` and returns the PNG's path.
fn browser_shot(
    browser: &dyn Fn(&[&str], &std::path::Path) -> std::process::Output,
    p: &Project,
    name: &str,
) -> std::path::PathBuf {
    let shot = p.path(&format!("{name}.png"));
    let out = browser(
        &[&format!("--screenshot={}", shot.display())],
        &p.path(name),
    );
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    shot
}

/// The RGB pixels of a PNG.
fn pixels(png_path: &std::path::Path) -> Vec<[u8; 3]> {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    buf[..info.buffer_size()]
        .chunks(channels)
        .map(|px| [px[0], px[1], px[2]])
        .collect()
}

/// Pixels of the pass, expected-failure and unexpected colours.
fn colours(png_path: &std::path::Path) -> [usize; 3] {
    let mut counts = [0; 3];
    for px in pixels(png_path) {
        match px {
            [0xc8, 0xf0, 0xc8] => counts[0] += 1,
            [0xff, 0xf1, 0xc2] => counts[1] += 1,
            [0xd9, 0x30, 0x25] => counts[2] += 1,
            _ => {}
        }
    }
    counts
}

/// Every command that reads a results file refuses a damaged one with exit
/// 2 and the file's name, never a panic: a cell naming a grid that is not
/// there (`explain` once panicked on it), a cell off its grid's axes, cut
/// JSON, another schema.
#[test]
fn damaged_results_files_are_refused_by_every_command() {
    let (p, _) = grid();
    let good: serde_json::Value = common::read_json(&p.path("all.json"));
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
            let text = p.read("all.json");
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

/// A report is written as a shell's `>` writes: through a symbolic link
/// (the link stays, its target is made), with the mode the umask leaves;
/// a file that was there keeps its own.
#[test]
fn reports_follow_the_umask_and_write_through_links() {
    use std::os::unix::fs::PermissionsExt;
    let (p, _) = grid();
    std::fs::create_dir_all(p.path("out")).unwrap();
    std::os::unix::fs::symlink("out/linked.json", p.path("link.json")).unwrap();
    let report = |umask: &str, output: &str| {
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("umask {umask} && exec \"$0\" \"$@\"")])
            .arg(env!("CARGO_BIN_EXE_matrix"))
            .args(["report", "all.json", "--format", "json", "-o", output])
            .current_dir(p.dir.path())
            .output()
            .expect("matrix report");
        assert_eq!(out.status.code(), Some(0), "{}", common::text(&out.stderr));
    };
    let mode = |name: &str| {
        std::fs::metadata(p.path(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    report("027", "link.json");
    assert!(p.path("link.json").symlink_metadata().unwrap().is_symlink());
    assert_eq!(mode("out/linked.json"), 0o640);
    assert_eq!(
        common::read_json(&p.path("out/linked.json"))["schema"],
        "abimatrix.results"
    );
    report("022", "plain.json");
    assert_eq!(mode("plain.json"), 0o644);
    std::fs::set_permissions(p.path("plain.json"), std::fs::Permissions::from_mode(0o664)).unwrap();
    report("077", "plain.json");
    assert_eq!(mode("plain.json"), 0o664, "an existing file keeps its mode");
}

/// `explain --python` names the Pythons the results hold when none is the
/// one asked for; a missing cell names the grid it was looked for in.
#[test]
fn explain_says_which_python_it_looked_in() {
    let (p, _) = grid();
    let label = common::read_json(&p.path("all.json"))["grids"][0]["interpreter"]["label"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let explain = |args: &[&str]| {
        let out = matrix()
            .args(["explain", "--color", "never", "--results", "all.json"])
            .args(args)
            .current_dir(p.dir.path())
            .output()
            .expect("matrix explain");
        assert_eq!(out.status.code(), Some(2));
        common::text(&out.stderr)
    };
    let hint = "hint: name one of its Pythons with --python (a version or its prefix, e.g. 3.11)\n";
    for python in ["3.99", "3.1"] {
        assert_eq!(
            explain(&["2.0.2", "2.0.2", "--python", python]),
            format!("error: no grid for Python {python} in all.json: it holds {label}\n{hint}")
        );
    }
    let said = explain(&["9.9.9", "2.0.2"]);
    assert!(
        said.starts_with(&format!(
            "error: no cell 9.9.9 → 2.0.2 in the {label} grid of all.json\nhint: cells of {label} there include: "
        )),
        "{said}"
    );
}
