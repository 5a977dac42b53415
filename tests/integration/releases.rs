//! Every NumPy release, the next one, other indexes and local wheels; and
//! what packages declare against what the grid measures. Real index data,
//! real pre-release and yanked releases, a real wheel file, real published
//! packages.

use std::process::Output;

use serde_json::Value;

use crate::common::{self, Project, text};
use crate::suite;

/// The releases with a manylinux x86-64 wheel for `cp` (e.g. "cp311"),
/// neither yanked nor pre-releases, computed by a few lines of Python from
/// the index's own PEP 691 page (`index`: the suite's, or PyPI's in the
/// live tier): an oracle that shares no code with ours.
pub fn oracle(index: &str, cp: &str) -> Vec<String> {
    let script = format!(
        r#"
import json, re, urllib.request
from pip._vendor.packaging.version import Version
r = urllib.request.Request("{index}/numpy/", headers={{"Accept": "application/vnd.pypi.simple.v1+json"}})
files = json.load(urllib.request.urlopen(r, timeout=60))["files"]
by = {{}}
for f in files:
    m = re.match(r"numpy-([^-]+)-{cp}-{cp}-manylinux[^ ]*x86_64", f["filename"])
    if m:
        by.setdefault(m.group(1), []).append(bool(f.get("yanked")))
ok = [v for v, y in by.items() if not all(y) and not Version(v).is_prerelease]
print("\n".join(sorted(ok, key=Version)))
"#
    );
    let out = common::ok(
        std::process::Command::new(common::pyenv_python("3.11")).args(["-c", &script]),
        "the oracle",
    );
    text(&out.stdout).lines().map(str::to_string).collect()
}

/// The runtime versions `--list` shows for each interpreter.
pub fn listed(out: &Output) -> Vec<(String, String)> {
    text(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (cell, _) = l.split_once("  expect ")?;
            let (py, pair) = cell.split_once(": ")?;
            let (_, runtime) = pair.split_once(" → ")?;
            Some((py.to_string(), runtime.trim().to_string()))
        })
        .collect()
}

#[test]
fn every_release_with_a_wheel_per_interpreter_and_no_yanked_ones() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        "[python]\nversions = [\"3.11\", \"3.9\"]\n[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"all\"]\n",
    );
    let out = p.matrix_here(&["run", "--list"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let cells = listed(&out);
    for (label, cp) in [("CPython 3.11.", "cp311"), ("CPython 3.9.", "cp39")] {
        let ours: Vec<String> = cells
            .iter()
            .filter(|(py, _)| py.starts_with(label))
            .map(|(_, r)| r.clone())
            .collect();
        let expected = oracle(&suite::index_url(), cp);
        assert!(expected.len() > 20, "{cp}: {expected:?}");
        assert_eq!(
            ours, expected,
            "{cp}: every release with a wheel, oldest first"
        );
    }
    assert!(
        !cells.iter().any(|(_, r)| r == "2.4.0"),
        "2.4.0 is yanked: left out of `all`"
    );

    // patches = "all" on a range: every release of each series in it.
    p.write(
        "matrix.toml",
        "[python]\nversions = [\"3.11\"]\n[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\">=2.0,<2.2\"]\npatches = \"all\"\n",
    );
    let all: Vec<String> = listed(&p.matrix_here(&["run", "--list"]))
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let expected: Vec<String> = oracle(&suite::index_url(), "cp311")
        .into_iter()
        .filter(|v| v.starts_with("2.0.") || v.starts_with("2.1."))
        .collect();
    assert_eq!(all, expected);
    assert!(all.len() >= 5, "{all:?}");
    p.write(
        "matrix.toml",
        "[python]\nversions = [\"3.11\"]\n[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\">=2.0,<2.2\"]\npatches = \"every\"\n",
    );
    let bad = p.matrix_here(&["run", "--list"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("matrix.toml:6:11")
            && text(&bad.stderr).contains("expected \"newest\""),
        "{}",
        text(&bad.stderr)
    );
}

/// A release candidate installed and run; a local wheel as a column; a
/// yanked release pinned and marked; an extra index (a local PEP 503 index
/// served over HTTP) recorded as the source; and `next` on that index, where
/// what it holds is fixed by the test (PyPI's newest pre-release is not):
/// nothing newer than the newest release, said so, then a real release
/// candidate put there, resolved and run.
#[test]
fn the_next_numpy_a_local_wheel_a_yanked_pin_and_an_extra_index() {
    let p = Project::new();
    // A real wheel from the index, as a NumPy built locally would be.
    let python = common::pyenv_python("3.11");
    common::pip_download(&python, "--only-binary", "numpy==2.2.6", &p.path("wheels"));
    // The same wheel on a simple index of our own, as a nightly index is.
    let simple = p.path("index/numpy");
    std::fs::create_dir_all(&simple).unwrap();
    let wheel = std::fs::read_dir(p.path("wheels"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();
    std::fs::copy(p.path("wheels").join(&wheel), simple.join(&wheel)).unwrap();
    std::fs::write(
        simple.join("index.html"),
        format!("<html><body><a href=\"{wheel}\">{wheel}</a></body></html>"),
    )
    .unwrap();
    let (mut server, port) = serve(&python, &p.path("index"));
    p.write(
        "matrix.toml",
        &format!(
            "[python]\nversions = [\"3.11\"]\n[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"2.4.0rc1\", \"wheels/numpy-*.whl\", \"2.4.0\"]\nextra-index-urls = [\"http://127.0.0.1:{port}\"]\n"
        ),
    );
    let run = p.run_here(&["-q"]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let doc = run.results();
    let runtime = doc["grids"][0]["axes"]["runtime"].as_array().unwrap();
    let axis = |request: &str| -> &Value {
        runtime
            .iter()
            .find(|a| a["request"] == request)
            .unwrap_or_else(|| panic!("no {request} in {runtime:?}"))
    };
    // The release candidate, installed and run for real.
    assert_eq!(axis("2.4.0rc1")["version"], "2.4.0rc1");
    assert_eq!(run.cell_at(0, "2.0.2", "2.4.0rc1")["outcome"], "pass");
    // The local wheel, installed from its file.
    let local = axis("numpy-*.whl");
    assert_eq!(local["version"], "2.2.6");
    assert!(local["wheel"].as_str().unwrap().ends_with(&wheel));
    assert_eq!(run.cell_at(0, "2.0.2", "2.2.6")["outcome"], "pass");
    // The yanked release, pinned: run, and marked with the index's reason.
    let yanked = axis("2.4.0");
    assert!(
        yanked["yanked"].as_str().is_some_and(|r| !r.is_empty()),
        "{yanked}"
    );
    assert!(
        run.stdout()
            .contains("numpy 2.4.0 is yanked on the index: "),
        "{}",
        run.stdout()
    );
    // Every release records the index it came from.
    assert_eq!(axis("2.4.0rc1")["index"], suite::index_url());

    // The index as it was on 10 December 2025, a week after 2.4.0rc1 and
    // before 2.4.0: `next` is that release candidate, installed and run.
    p.write(
        "matrix.toml",
        &format!(
            "[python]\nversions = [\"3.11\"]\n[numpy]\nbuild = [\"2.0.*\"]\nruntime = [\"next\"]\nindex-url = \"{}/at/2025-12-10T00:00:00Z/simple\"\n",
            suite::index_root()
        ),
    );
    let then = p.run_here(&["-q"]);
    assert_eq!(then.code(), Some(0), "{}", then.dump());
    let next = &then.results()["grids"][0]["axes"]["runtime"][0];
    assert_eq!(
        (next["request"].as_str(), next["version"].as_str()),
        (Some("next"), Some("2.4.0rc1")),
        "{next}"
    );
    assert_eq!(then.cell_at(0, "2.0.2", "2.4.0rc1")["outcome"], "pass");

    // Our index as the only one: its release is resolved and installed
    // from it, and recorded so; with no pre-release on it, `next` is
    // nothing, said so, and expected.
    let own_index = format!(
        "[python]\nversions = [\"3.11\"]\n[numpy]\nbuild = [\"2.2.*\"]\nruntime = [\"2.2.6\", \"next\"]\nindex-url = \"http://127.0.0.1:{port}\"\n"
    );
    p.write("matrix.toml", &own_index);
    let port_before = port.clone();
    let own = p.run_here(&["-q", "--fresh"]);
    assert_eq!(own.code(), Some(0), "{}", own.dump());
    let axes = &own.results()["grids"][0]["axes"];
    assert_eq!(
        axes["runtime"][0]["index"],
        format!("http://127.0.0.1:{port}")
    );
    assert_eq!(axes["build"][0]["version"], "2.2.6");
    assert_eq!(own.cell_at(0, "2.2.6", "2.2.6")["outcome"], "pass");
    let next = &axes["runtime"][1];
    assert_eq!(next["version"], Value::Null, "{next}");
    assert!(
        next["unavailable"]
            .as_str()
            .is_some_and(|w| w.starts_with("no NumPy pre-release is newer than 2.2.6")),
        "{next}"
    );
    let cell = own.cell_at(0, "2.2.6", "next");
    assert_eq!(
        (cell["outcome"].as_str(), cell["met"].as_bool()),
        (Some("unavailable"), Some(true)),
        "{cell}"
    );

    // A real release candidate on an index of its own (a new address: an
    // installer keeps an index's page a while, as uv does): `next` is that
    // pre-release, installed from there and run.
    let rc = p.path("index-rc/numpy");
    std::fs::create_dir_all(&rc).unwrap();
    std::fs::copy(simple.join(&wheel), rc.join(&wheel)).unwrap();
    common::pip_download(&python, "--only-binary", "numpy==2.3.0rc1", &rc);
    let links: String = std::fs::read_dir(&rc)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".whl"))
        .map(|n| format!("<a href=\"{n}\">{n}</a>"))
        .collect();
    std::fs::write(
        rc.join("index.html"),
        format!("<html><body>{links}</body></html>"),
    )
    .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let (mut server, port) = serve(&python, &p.path("index-rc"));
    p.write(
        "matrix.toml",
        &own_index.replace(&format!(":{}\"", port_before), &format!(":{port}\"")),
    );
    let with_rc = p.run_here(&["-q", "--fresh"]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(with_rc.code(), Some(0), "{}", with_rc.dump());
    let next = &with_rc.results()["grids"][0]["axes"]["runtime"][1];
    assert_eq!(next["request"], "next", "{next}");
    assert_eq!(next["version"], "2.3.0rc1", "{next}");
    assert_eq!(next["index"], format!("http://127.0.0.1:{port}"), "{next}");
    assert_eq!(with_rc.cell_at(0, "2.2.6", "2.3.0rc1")["outcome"], "pass");
}

/// A real wheel whose declared range admits a NumPy it fails under
/// (numpy-quaternion 2021.11.4.15.26.3 declares numpy>=1.13 and is built
/// against a newer C API than 1.19's), and one whose bound the grid proves
/// too strict (scipy 1.13.1 declares numpy<2.3 and passes its probe under
/// 2.4).
#[test]
fn what_packages_declare_is_checked_against_what_runs() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        "[python]\nversions = [\"3.9\"]\n[extension]\nrequirement = \"numpy-quaternion==2021.11.4.15.26.3\"\nimports = [\"quaternion\"]\n[numpy]\nruntime = [\"1.19.*\", \"1.26.*\"]\n",
    );
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(1), "{}", run.dump());
    let failing = run.cell_at(
        0,
        "numpy-quaternion 2021.11.4.15.26.3",
        &run.resolved("runtime", "1.19.*"),
    );
    assert_eq!(failing["outcome"], "fail", "{failing}");
    let builds = run.results()["grids"][0]["builds"].as_array().unwrap();
    assert_eq!(builds[0]["declares"], "numpy>=1.13");
    assert!(
        run.stdout().contains(&format!(
            "declaration error: numpy-quaternion 2021.11.4.15.26.3 declares numpy>=1.13, which admits numpy {}, but there it is fail",
            run.resolved("runtime", "1.19.*")
        )),
        "{}",
        run.stdout()
    );

    let q = Project::new();
    q.write(
        "matrix.toml",
        "[python]\nversions = [\"3.11\"]\n[extension]\nrequirement = \"scipy==1.13.1\"\nimports = [\"scipy.linalg\", \"scipy.special\"]\nprobe = \"assert abs(module.det(np.eye(3)) - 1.0) < 1e-12\"\n[numpy]\nruntime = [\"2.2.*\", \"2.4.*\"]\n",
    );
    // As declared: 2.4 is forbidden, so not run (unavailable, expected).
    let declared = q.run_here(&["-q"]);
    assert_eq!(declared.code(), Some(0), "{}", declared.dump());
    assert_eq!(
        declared.cell_at(0, "scipy 1.13.1", &declared.resolved("runtime", "2.4.*"))["outcome"],
        "unavailable"
    );
    assert!(!declared.stdout().contains("bound too strict"));
    // Run anyway: it passes, so the bound is too strict.
    let anyway = q.run_here(&["-q", "--ignore-requires"]);
    assert_eq!(anyway.code(), Some(0), "{}", anyway.dump());
    let v24 = anyway.resolved("runtime", "2.4.*");
    assert_eq!(anyway.cell_at(0, "scipy 1.13.1", &v24)["outcome"], "pass");
    assert!(
        anyway.stdout().contains(&format!(
            "bound too strict: scipy 1.13.1 declares numpy<2.3,>=1.22.4, which forbids numpy {v24}, but it passes there"
        )),
        "{}",
        anyway.stdout()
    );
}

/// A package row pinned to a yanked release (Bottleneck 1.4.1, yanked
/// on PyPI with a reason): it runs, and every report says it is yanked
/// and why, as for a yanked NumPy.
#[test]
fn a_package_row_pinned_to_a_yanked_release_is_marked() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        "[python]\nversions = [\"3.11\"]\n[extension]\nrequirement = \"bottleneck==1.4.1\"\nimports = [\"bottleneck\"]\n[numpy]\nruntime = [\"2.0.*\"]\n",
    );
    let run = p.run_here(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let row = &run.results()["grids"][0]["axes"]["build"][0];
    assert_eq!(row["label"], "bottleneck 1.4.1", "{row}");
    let reason = row["yanked"]
        .as_str()
        .unwrap_or_else(|| panic!("not marked: {row}"));
    assert!(reason.contains("python < 3.9"), "{reason}");
    assert!(
        run.stdout()
            .contains("bottleneck 1.4.1 is yanked on the index: Doesn't build"),
        "{}",
        run.dump()
    );
    assert!(
        run.stderr().contains("bottleneck 1.4.1 (yanked)"),
        "{}",
        run.dump()
    );
    // The runtime NumPy it ran with is not yanked, and not said to be.
    assert!(!run.stdout().contains("numpy bottleneck"), "{}", run.dump());
}

/// A Python HTTP server over `dir` on a free loopback port: the server and
/// its port.
fn serve(python: &std::path::Path, dir: &std::path::Path) -> (std::process::Child, String) {
    let mut server = std::process::Command::new(python)
        .args([
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "Serving HTTP on 127.0.0.1 port 43211 (http://127.0.0.1:43211/) ..."
    let port = line
        .split("port ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    (server, port)
}
