//! What packages declare against what the grid measures, on real published
//! wheels, each checked by hand before it was written down here:
//!
//! - cftime 1.6.2 (Cython, built against NumPy 1.x) declares `numpy>1.13.3`
//!   and refuses NumPy 2.0 with Cython's dtype-size check; cftime 1.6.4 was
//!   built against NumPy 2 and imports under 1.26 and 2.0 alike. A probe
//!   that asserts the wrong date makes every cell that imports
//!   `fail (wrong-result)`: that is the probe, not NumPy.
//! - Bottleneck 1.3.7 (plain C, NumPy 1.x) declares `numpy` and fails
//!   `abi-major` under 2.0; 1.4.2 passes both. Its own test module needs
//!   pytest, which nothing declares: without it every cell fails the same.
//! - contourpy 1.3.0 declares `numpy>=1.23`, yet imports and contours
//!   under 1.22.4 (it was built against NumPy 2.0, which targets the 1.19
//!   C API).
//!
//! Every test starts `matrix` in its project folder, as a user would.

use serde_json::Value;

use crate::common::Project;

/// The `declarations` of a run's JSON for `row`: (verdict, rule, cells'
/// runtimes).
fn verdicts(results: &Value, row: &str) -> Vec<(String, String, Vec<String>)> {
    results["declarations"]
        .as_array()
        .unwrap_or_else(|| panic!("no declarations in {results}"))
        .iter()
        .filter(|d| d["row"] == row)
        .map(|d| {
            (
                d["verdict"].as_str().unwrap_or_default().to_string(),
                d["rule"].as_str().unwrap_or_default().to_string(),
                d["cells"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| c["runtime"].as_str().unwrap_or_default().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn verdict(v: &str, rule: &str, cells: &[&str]) -> (String, String, Vec<String>) {
    (
        v.to_string(),
        rule.to_string(),
        cells.iter().map(|c| c.to_string()).collect(),
    )
}

const CFTIME: &str = "[python]\nversions = [\"3.11\"]\n[numpy]\nruntime = [\"1.26.*\", \"2.0.*\"]\n\
    [extension]\nrequirements = [\"cftime==1.6.2\", \"cftime==1.6.4\"]\nimports = [\"cftime\"]\n";

/// The first case, on other packages: a probe with a bug of its own
/// is no declaration error ("not a NumPy problem"), and the true one (an
/// older release that admits NumPy 2 and fails dtype-size there) is still
/// found, with its cell and its rule, in the text report and the JSON.
#[test]
fn a_buggy_probe_makes_no_declaration_finding_and_the_true_error_is_still_found() {
    let p = Project::new();
    // 2000-01-02 is day 1 since 2000-01-01, not day 2: the probe is wrong.
    let buggy = "probe = \"assert module.date2num(module.datetime(2000, 1, 2), 'days since 2000-01-01') == 2\"\n";
    p.write("matrix.toml", &format!("{CFTIME}{buggy}"));
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(1), "{}", run.dump());
    let (r126, r20) = (
        run.resolved("runtime", "1.26.*"),
        run.resolved("runtime", "2.0.*"),
    );
    for r in [&r126, &r20] {
        assert_eq!(
            run.cell_at(0, "cftime 1.6.4", r)["reason"],
            "wrong-result",
            "{}",
            run.dump()
        );
    }
    assert_eq!(run.cell_at(0, "cftime 1.6.2", &r20)["reason"], "dtype-size");
    let out = run.stdout();
    assert!(
        !out.contains("declaration error: cftime 1.6.4"),
        "a probe's bug is no declaration error:\n{out}"
    );
    assert!(
        out.contains(&format!(
            "cftime 1.6.4 fails under every NumPy tested, and for no NumPy reason under numpy {r126}, {r20} (fail (wrong-result); CPython 3.11."
        )) && out.contains("): not a NumPy problem — check the probe or the test dependencies"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "declaration error: cftime 1.6.2 declares numpy>1.13.3, which admits numpy {r20}, but there it is fail (dtype-size)"
        )),
        "{out}"
    );
    assert!(
        out.contains("rule: NumPy caused it: fail (dtype-size) is a failure only NumPy gives"),
        "{out}"
    );
    let results = run.results();
    assert_eq!(
        verdicts(results, "cftime 1.6.4"),
        [verdict(
            "not-numpy",
            "same-under-every-numpy",
            &[&r126, &r20]
        )]
    );
    assert_eq!(
        verdicts(results, "cftime 1.6.2"),
        [
            verdict("error", "numpy-reason", &[&r20]),
            verdict("not-numpy", "same-under-every-numpy", &[&r126]),
        ]
    );
    let error = results["declarations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["verdict"] == "error")
        .unwrap();
    assert_eq!(error["declares"], "numpy>1.13.3", "{error}");
    assert_eq!(error["cells"][0]["reason"], "dtype-size", "{error}");

    // The probe fixed: cftime 1.6.4's declaration holds, 1.6.2's error
    // stays, and nothing is "not a NumPy problem" any more.
    let fixed = "probe = \"assert module.date2num(module.datetime(2000, 1, 2), 'days since 2000-01-01') == 1\"\n";
    p.write("matrix.toml", &format!("{CFTIME}{fixed}"));
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(1), "{}", run.dump());
    let results = run.results();
    assert_eq!(
        verdicts(results, "cftime 1.6.4"),
        [verdict("holds", "consistent", &[&r126, &r20])]
    );
    assert_eq!(
        verdicts(results, "cftime 1.6.2"),
        [verdict("error", "numpy-reason", &[&r20])]
    );
    assert!(
        !run.stdout().contains("not a NumPy problem"),
        "{}",
        run.dump()
    );
}

const BOTTLENECK: &str = "[python]\nversions = [\"3.11\"]\n[numpy]\nruntime = [\"1.26.*\", \"2.0.*\"]\n\
    [extension]\nrequirements = [\"bottleneck==1.3.7\", \"bottleneck==1.4.2\"]\nimports = [\"bottleneck\"]\n\
    test = \"python -m pytest -q -p no:cacheprovider --pyargs bottleneck.tests.scalar_input_test\"\n";

/// The second case, on other packages: the package's own tests
/// run without their test dependency (pytest) fail the same under every
/// NumPy, and no declaration is called wrong; with pytest in
/// `test-requires`, the true finding appears (1.3.7 admits NumPy 2 and
/// fails abi-major there) and 1.4.2's declaration holds.
#[test]
fn a_missing_test_dependency_makes_no_declaration_finding() {
    let p = Project::new();
    p.write("matrix.toml", BOTTLENECK);
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(1), "{}", run.dump());
    let (r126, r20) = (
        run.resolved("runtime", "1.26.*"),
        run.resolved("runtime", "2.0.*"),
    );
    let cell = run.cell_at(0, "bottleneck 1.4.2", &r20);
    assert_eq!(cell["reason"], "other", "{cell}");
    assert!(
        format!("{}{}", cell["stdout"], cell["stderr"]).contains("No module named pytest"),
        "{cell}"
    );
    let out = run.stdout();
    assert!(!out.contains("declaration error"), "{out}");
    for row in ["bottleneck 1.3.7", "bottleneck 1.4.2"] {
        assert_eq!(
            verdicts(run.results(), row),
            [verdict(
                "not-numpy",
                "same-under-every-numpy",
                &[&r126, &r20]
            )],
            "{row}"
        );
        assert!(
            out.contains(&format!("{row} fails under every NumPy tested")),
            "{out}"
        );
    }

    p.write(
        "matrix.toml",
        &format!("{BOTTLENECK}test-requires = [\"pytest\"]\n"),
    );
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(1), "{}", run.dump());
    assert_eq!(
        run.cell_at(0, "bottleneck 1.3.7", &r20)["reason"],
        "abi-major"
    );
    assert_eq!(
        verdicts(run.results(), "bottleneck 1.3.7"),
        [verdict("error", "numpy-reason", &[&r20])]
    );
    assert_eq!(
        verdicts(run.results(), "bottleneck 1.4.2"),
        [verdict("holds", "consistent", &[&r126, &r20])]
    );
    assert!(
        run.stdout().contains(&format!(
            "declaration error: bottleneck 1.3.7 declares numpy, which admits numpy {r20}, but there it is fail (abi-major)"
        )),
        "{}",
        run.dump()
    );
}

const CONTOURPY: &str = "[python]\nversions = [\"3.9\"]\n[numpy]\nruntime = [\"1.22.*\", \"1.26.*\"]\n\
    [extension]\nrequirement = \"contourpy==1.3.0\"\nimports = [\"contourpy\"]\n";

/// A bound is "too strict" only on a pass that exercised the package: a
/// NumPy contourpy 1.3.0 forbids (1.22.4, below its `numpy>=1.23`) is not
/// run as declared; run anyway with imports alone, it is "not proven";
/// with a probe that draws a contour, "too strict", saying what ran.
#[test]
fn a_bound_is_too_strict_only_with_a_pass_that_exercised_the_package() {
    let p = Project::new();
    p.write("matrix.toml", CONTOURPY);
    let declared = p.run_here(&[]);
    assert_eq!(declared.code(), Some(0), "{}", declared.dump());
    let r122 = declared.resolved("runtime", "1.22.*");
    let cell = declared.cell_at(0, "contourpy 1.3.0", &r122);
    assert_eq!(
        (cell["outcome"].as_str(), cell["unavailable"].as_str()),
        (Some("unavailable"), Some("metadata")),
        "{cell}"
    );
    assert!(
        declared.stdout().contains(
            "· wheel metadata forbids (1 cell, expected): contourpy 1.3.0's metadata forbids numpy"
        ),
        "{}",
        declared.dump()
    );
    assert!(
        !declared.stdout().contains("too strict"),
        "{}",
        declared.dump()
    );

    let imports = p.run_here(&["--ignore-requires"]);
    assert_eq!(imports.code(), Some(0), "{}", imports.dump());
    assert_eq!(
        imports.cell_at(0, "contourpy 1.3.0", &r122)["outcome"],
        "pass"
    );
    let out = imports.stdout();
    assert!(
        !out.contains("bound too strict"),
        "imports alone prove nothing:\n{out}"
    );
    assert!(
        out.contains(&format!(
            "not proven too strict: contourpy 1.3.0 declares numpy>=1.23, which forbids numpy {r122}, and it imports there"
        )) && out.contains("rule: a pass of importing contourpy only shows it imports, not that it works"),
        "{out}"
    );
    assert_eq!(
        verdicts(imports.results(), "contourpy 1.3.0")[0].0,
        "unproven"
    );

    p.write(
        "matrix.toml",
        &format!(
            "{CONTOURPY}probe = \"\"\"\nz = np.array([[0.0, 1.0], [1.0, 2.0]])\nlines = module.contour_generator(z=z).lines(1.0)\nassert len(lines) == 1, lines\n\"\"\"\n"
        ),
    );
    let probed = p.run_here(&["--ignore-requires"]);
    assert_eq!(probed.code(), Some(0), "{}", probed.dump());
    let out = probed.stdout();
    assert!(
        out.contains(&format!(
            "bound too strict: contourpy 1.3.0 declares numpy>=1.23, which forbids numpy {r122}, but it passes there"
        )) && out.contains("rule: a pass under a NumPy it forbids, exercised by the probe, after importing contourpy"),
        "{out}"
    );
    let found = &probed.results()["declarations"][0];
    assert_eq!(
        (found["verdict"].as_str(), found["rule"].as_str()),
        (Some("too-strict"), Some("forbidden-pass-exercised")),
        "{found}"
    );
    assert_eq!(found["exercised"]["kind"], "probe", "{found}");
    assert_eq!(found["cells"][0]["admitted"], false, "{found}");
}
