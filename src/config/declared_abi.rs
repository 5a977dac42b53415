//! What a project's own build files say about Python's stable ABI: a
//! project that declares an abi3 wheel is built once, on one Python, and
//! its wheel imported under every configured Python at or above it (as
//! `limited-api` does for C sources), without the user saying it twice.
//!
//! Only declarations that set the wheel's tag are read (the tag is what
//! decides where a wheel installs), each where its backend reads it:
//! setuptools' `[bdist_wheel] py_limited_api` (setup.cfg, or pyproject's
//! `[tool.distutils.bdist_wheel]`), scikit-build-core's `wheel.py-api`,
//! meson-python's `limited-api` with the version its `meson.build` gives,
//! and maturin's pyo3 `abi3-py3X` feature. The built wheel's tag is checked
//! after the build all the same: a declaration read wrongly makes a
//! build-failed row that says so, never a cell under the wrong Python.

use std::path::Path;

use crate::python::abi::LimitedApi;

/// The limited API `project` declares, and where it says so
/// ("setup.cfg: [bdist_wheel] py_limited_api = cp39").
pub fn of_project(project: &Path) -> Option<(LimitedApi, String)> {
    let read = |name: &str| std::fs::read_to_string(project.join(name)).ok();
    if let Some(found) = read("setup.cfg").and_then(|t| setup_cfg(&t)) {
        return Some(found);
    }
    let pyproject: toml::Table = read("pyproject.toml")?.parse().ok()?;
    pyproject_declares(&pyproject, &read)
}

fn pyproject_declares(
    pyproject: &toml::Table,
    read: &dyn Fn(&str) -> Option<String>,
) -> Option<(LimitedApi, String)> {
    let tool = pyproject
        .get("tool")
        .cloned()
        .unwrap_or(toml::Value::Table(Default::default()));
    let at = |path: &[&str]| path.iter().try_fold(tool.clone(), |v, k| v.get(k).cloned());
    for (path, shown) in [
        (
            &["distutils", "bdist_wheel", "py-limited-api"][..],
            "[tool.distutils.bdist_wheel] py-limited-api",
        ),
        (
            &["distutils", "bdist_wheel", "py_limited_api"][..],
            "[tool.distutils.bdist_wheel] py_limited_api",
        ),
        (
            &["scikit-build", "wheel", "py-api"][..],
            "[tool.scikit-build] wheel.py-api",
        ),
        (
            &["scikit-build", "wheel.py-api"][..],
            "[tool.scikit-build] wheel.py-api",
        ),
    ] {
        if let Some(tag) = at(path).as_ref().and_then(toml::Value::as_str)
            && let Some(limited) = cp_tag(tag)
        {
            return Some((limited, format!("pyproject.toml: {shown} = \"{tag}\"")));
        }
    }
    if at(&["meson-python", "limited-api"]).and_then(|v| v.as_bool()) == Some(true) {
        let meson = read("meson.build")?;
        let limited = quoted_after(&meson, "limited_api")?;
        return Some((
            limited.parse().ok()?,
            format!(
                "pyproject.toml: [tool.meson-python] limited-api = true, meson.build: limited_api: '{limited}'"
            ),
        ));
    }
    let maturin = pyproject
        .get("build-system")
        .and_then(|b| b.get("build-backend"))
        .and_then(toml::Value::as_str)
        == Some("maturin");
    if maturin {
        let cargo = read("Cargo.toml")?;
        let at = cargo.find("abi3-py3")?;
        let digits: String = cargo[at + "abi3-py3".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let limited = LimitedApi::new(digits.parse().ok()?)?;
        return Some((
            limited,
            format!("Cargo.toml: pyo3 feature abi3-py3{digits}"),
        ));
    }
    None
}

/// `[bdist_wheel] py_limited_api = cp39` in a setup.cfg (INI: sections,
/// `key = value`, `-` and `_` alike in keys, as setuptools reads them).
fn setup_cfg(text: &str) -> Option<(LimitedApi, String)> {
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[bdist_wheel]";
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            continue;
        };
        if in_section && key.trim().replace('-', "_") == "py_limited_api" {
            let tag = value.trim();
            return cp_tag(tag).map(|l| {
                (
                    l,
                    format!("setup.cfg: [bdist_wheel] py_limited_api = {tag}"),
                )
            });
        }
    }
    None
}

/// `cp39` as 3.9's limited API.
fn cp_tag(tag: &str) -> Option<LimitedApi> {
    LimitedApi::new(tag.trim().strip_prefix("cp3")?.parse().ok()?)
}

/// The first quoted value after `key` and a colon (`limited_api: '3.9'`).
fn quoted_after(text: &str, key: &str) -> Option<String> {
    let rest = &text[text.find(key)? + key.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &rest[1..];
    Some(rest[..rest.find(quote)?].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> Option<(String, String)> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        of_project(dir.path()).map(|(l, w)| (l.to_string(), w))
    }

    #[test]
    fn each_backends_declaration_is_read_where_it_reads_it() {
        // fast-histogram 0.14's own setup.cfg.
        let fh = "[options]\npython_requires = >=3.9\n\n[bdist_wheel]\npy_limited_api = cp39\n\n[egg_info]\ntag_build = \n";
        assert_eq!(
            project(&[("setup.cfg", fh), ("pyproject.toml", "[build-system]\n")]),
            Some((
                "3.9".into(),
                "setup.cfg: [bdist_wheel] py_limited_api = cp39".into()
            ))
        );
        let skb = "[tool.scikit-build]\nwheel.py-api = \"cp311\"\n";
        assert_eq!(project(&[("pyproject.toml", skb)]).unwrap().0, "3.11");
        let dist = "[tool.distutils.bdist_wheel]\npy-limited-api = \"cp310\"\n";
        assert_eq!(project(&[("pyproject.toml", dist)]).unwrap().0, "3.10");
        let meson = "[tool.meson-python]\nlimited-api = true\n";
        let build = "py.extension_module('m', 'm.c', limited_api: '3.12', install: true)\n";
        assert_eq!(
            project(&[("pyproject.toml", meson), ("meson.build", build)])
                .unwrap()
                .0,
            "3.12"
        );
        let maturin = "[build-system]\nbuild-backend = \"maturin\"\n";
        let cargo = "[dependencies]\npyo3 = { version = \"0.22\", features = [\"abi3-py38\"] }\n";
        assert_eq!(
            project(&[("pyproject.toml", maturin), ("Cargo.toml", cargo)]).unwrap(),
            ("3.8".into(), "Cargo.toml: pyo3 feature abi3-py38".into())
        );
    }

    #[test]
    fn a_project_that_declares_no_abi3_wheel_is_built_per_python() {
        assert_eq!(
            project(&[("pyproject.toml", "[build-system]\nrequires = []\n")]),
            None
        );
        // py-api "py3" is a pure wheel, not the stable ABI; "cp2" is no version.
        let pure = "[tool.scikit-build]\nwheel.py-api = \"py3\"\n";
        assert_eq!(project(&[("pyproject.toml", pure)]), None);
        let other = "[bdist_wheel]\nuniversal = 1\n[other]\npy_limited_api = cp39\n";
        assert_eq!(
            project(&[("setup.cfg", other), ("pyproject.toml", "")]),
            None
        );
        // meson-python's switch without a version in meson.build says nothing.
        let meson = "[tool.meson-python]\nlimited-api = true\n";
        assert_eq!(
            project(&[("pyproject.toml", meson), ("meson.build", "project('m')\n")]),
            None
        );
        assert_eq!(project(&[("pyproject.toml", "not toml [")]), None);
    }
}
