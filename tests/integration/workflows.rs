//! The GitHub workflows: `.github/workflows/release.yml` (abimatrix's
//! release) and `.github/workflows/nightly-grid.yml` (the nightly grid
//! users copy, which runs this repository's action), and the action's
//! metadata, checked by the tools GitHub users check theirs with, pinned in
//! `.ci/tools.txt`: GitHub's JSON schemas (check-jsonschema), actionlint
//! (with ShellCheck on every `run:` script, and the inputs given to
//! `uses: ./` checked against action.yml) and zizmor (offline: every
//! audit that needs no GitHub API, at every severity). A broken copy of
//! each file shows that each check can fail. Then what no checker knows:
//! which wheels the release builds, that it publishes only by trusted
//! publishing, that the nightly's shards come from `matrix plan` and its
//! gate runs whatever failed before it, and that every `matrix` option
//! the workflows use exists in this build.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{Project, matrix, numpy, ok, text};
use crate::tools::{VERSION, path_with_tools, repo, strings, tool, yaml_as_json};

const NIGHTLY: &str = ".github/workflows/nightly-grid.yml";
const RELEASE: &str = ".github/workflows/release.yml";

fn check_schema(schema: &str, file: &Path) -> Output {
    Command::new(tool("check-jsonschema"))
        .args(["--builtin-schema", schema])
        .arg(file)
        .output()
        .expect("check-jsonschema")
}

/// actionlint on `files`, from `root` (where it finds `.github/` and, for
/// `uses: ./`, action.yml), with ShellCheck on PATH.
pub fn actionlint(root: &Path, files: &[&Path]) -> Output {
    Command::new(tool("actionlint"))
        .args([
            "-no-color",
            "-shellcheck",
            tool("shellcheck").to_str().unwrap(),
        ])
        .args(files)
        .current_dir(root)
        .env("PATH", path_with_tools(&[]))
        .output()
        .expect("actionlint")
}

/// zizmor, offline, every audit and severity, from `root` (where it finds
/// `.github/zizmor.yml`).
pub fn zizmor(root: &Path, files: &[&Path]) -> Output {
    Command::new(tool("zizmor"))
        .args(["--offline", "--no-progress", "--format", "plain"])
        .args(files)
        .current_dir(root)
        .output()
        .expect("zizmor")
}

/// The workflow can also be started from the Actions tab.
fn startable_by_hand(wf: &Value) {
    assert!(
        wf["on"]
            .as_object()
            .is_some_and(|on| on.contains_key("workflow_dispatch")),
        "no workflow_dispatch: {}",
        wf["on"]
    );
}

/// `out` is a checker refusing a broken file and naming `needle`.
fn refused(out: &Output, needle: &str, what: &str) {
    assert!(
        !out.status.success() && text(&out.stdout).contains(needle),
        "{what}:\n{}",
        dump(out)
    );
}

fn dump(out: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

fn steps(job: &Value) -> &Vec<Value> {
    job["steps"].as_array().expect("steps")
}

fn condition(v: &Value) -> &str {
    v["if"].as_str().unwrap_or("")
}

fn uses(step: &Value, action: &str) -> bool {
    step["uses"]
        .as_str()
        .is_some_and(|u| u.starts_with(&format!("{action}@")))
}

/// The steps of `job` that run this repository's action (`uses: ./`).
fn action_steps(job: &Value) -> Vec<&Value> {
    steps(job).iter().filter(|s| s["uses"] == "./").collect()
}

/// Every `uses:` in `text` (a workflow or action.yml) names an action at a
/// full commit SHA with its version in a comment (or is `./`); returns
/// action → (SHA, version).
fn pins(file: &str, text: &str) -> BTreeMap<String, (String, String)> {
    let line = regex::Regex::new(r"(?m)^\s*(?:-\s+)?uses:\s*(\S+)(.*)$").unwrap();
    let pinned = regex::Regex::new(r"^([\w.-]+/[\w./-]+)@([0-9a-f]{40})$").unwrap();
    let comment = regex::Regex::new(r"^\s+#\s+(v\d+(?:\.\d+)*)\s*$").unwrap();
    let mut out = BTreeMap::new();
    for c in line.captures_iter(text) {
        let (target, rest) = (&c[1], &c[2]);
        if target == "./" {
            continue;
        }
        let p = pinned.captures(target).unwrap_or_else(|| {
            panic!("{file}: `uses: {target}` is not pinned to a full commit SHA")
        });
        let version = comment
            .captures(rest)
            .unwrap_or_else(|| panic!("{file}: `uses: {target}` has no `# vX.Y.Z` comment"));
        out.insert(p[1].to_string(), (p[2].to_string(), version[1].to_string()));
    }
    out
}

#[test]
fn the_workflows_and_the_action_pass_actionlint_zizmor_and_the_schemas() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = repo();
    for (schema, file) in [
        ("vendor.github-workflows", NIGHTLY),
        ("vendor.github-workflows", RELEASE),
        ("vendor.github-actions", "action.yml"),
    ] {
        let out = check_schema(schema, &root.join(file));
        assert!(
            out.status.success() && text(&out.stdout).contains("ok -- validation done"),
            "{file} does not follow GitHub's schema ({schema}):\n{}",
            dump(&out)
        );
    }
    let lint = actionlint(root, &[Path::new(NIGHTLY), Path::new(RELEASE)]);
    assert!(
        lint.status.success() && lint.stdout.is_empty(),
        "actionlint:\n{}",
        dump(&lint)
    );
    let audit = zizmor(
        root,
        &[Path::new(".github/workflows"), Path::new("action.yml")],
    );
    assert!(
        audit.status.success() && text(&audit.stdout).contains("No findings to report"),
        "zizmor:\n{}",
        dump(&audit)
    );

    // Each check can fail. A copy of the repository's workflow files and
    // action in a folder of its own, broken one way at a time.
    let copy = tmp.path().join("repo");
    std::fs::create_dir_all(copy.join(".github/workflows")).unwrap();
    // actionlint reads local actions (`uses: ./`) of a repository only.
    std::fs::create_dir_all(copy.join(".git")).unwrap();
    for f in [NIGHTLY, RELEASE, "action.yml", ".github/zizmor.yml"] {
        std::fs::copy(root.join(f), copy.join(f)).unwrap();
    }
    let nightly = std::fs::read_to_string(root.join(NIGHTLY)).unwrap();
    let release = std::fs::read_to_string(root.join(RELEASE)).unwrap();
    let action = std::fs::read_to_string(root.join("action.yml")).unwrap();
    let write = |file: &str, text: String| std::fs::write(copy.join(file), text).unwrap();
    // A job without runs-on, and an action without `runs`.
    write(
        NIGHTLY,
        nightly.replacen(
            "    runs-on: ubuntu-latest\n",
            "    runs-on-typo: ubuntu-latest\n",
            1,
        ),
    );
    assert!(
        !check_schema("vendor.github-workflows", &copy.join(NIGHTLY))
            .status
            .success()
    );
    write("action.yml", action.replacen("runs:\n", "run:\n", 1));
    assert!(
        !check_schema("vendor.github-actions", &copy.join("action.yml"))
            .status
            .success()
    );
    write("action.yml", action.clone());
    // An input the action does not have: actionlint reads action.yml.
    write(
        NIGHTLY,
        nightly.replacen(
            "          shards: ${{ env.SHARDS }}",
            "          shardz: ${{ env.SHARDS }}",
            1,
        ),
    );
    refused(
        &actionlint(&copy, &[Path::new(NIGHTLY)]),
        "shardz",
        "actionlint accepted an input action.yml does not have",
    );
    // A run script ShellCheck refuses (an unquoted variable).
    write(
        NIGHTLY,
        nightly.replacen(
            "matrix merge shards/*/results.json",
            "matrix merge $SHARDS_GLOB",
            1,
        ),
    );
    refused(
        &actionlint(&copy, &[Path::new(NIGHTLY)]),
        "shellcheck",
        "actionlint ran no ShellCheck",
    );
    write(NIGHTLY, nightly.clone());
    // An action used at a tag, and an expression in a script: zizmor's
    // unpinned-uses (high) and template-injection.
    write(
        RELEASE,
        release.replacen(
            "actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09 # v5.1.0",
            "actions/checkout@v5",
            1,
        ),
    );
    refused(
        &zizmor(&copy, &[Path::new(RELEASE)]),
        "unpinned-uses",
        "zizmor accepted an unpinned action",
    );
    write(
        RELEASE,
        release.replacen(
            r#"run: gh release create "$TAG""#,
            r#"run: gh release create "${{ github.ref_name }}""#,
            1,
        ),
    );
    refused(
        &zizmor(&copy, &[Path::new(RELEASE)]),
        "template-injection",
        "zizmor accepted an expression in a script",
    );

    // Every action pinned to a full commit SHA, with its version in a
    // comment, and one SHA per action across the files.
    let mut seen: BTreeMap<String, (String, String, &str)> = BTreeMap::new();
    for (file, text) in [
        (NIGHTLY, &nightly),
        (RELEASE, &release),
        ("action.yml", &action),
    ] {
        for (name, (sha, version)) in pins(file, text) {
            if let Some((s, v, other)) = seen.get(&name) {
                assert!(
                    s == &sha && v == &version,
                    "{name} is {sha} ({version}) in {file} but {s} ({v}) in {other}"
                );
            }
            seen.insert(name, (sha, version, file));
        }
    }
    let names: BTreeSet<&str> = seen.keys().map(String::as_str).collect();
    for needed in [
        "actions/checkout",
        "actions/setup-python",
        "actions/upload-artifact",
        "actions/download-artifact",
        "pypa/gh-action-pypi-publish",
        "rust-lang/crates-io-auth-action",
    ] {
        assert!(names.contains(needed), "{needed} is not used: {names:?}");
    }
}

#[test]
fn the_release_workflow_builds_checks_and_publishes_by_trusted_publishing() {
    let wf = yaml_as_json(&repo().join(RELEASE));
    let source = std::fs::read_to_string(repo().join(RELEASE)).unwrap();
    assert_eq!(
        wf["on"]["push"]["tags"],
        serde_json::json!(["v*"]),
        "{}",
        wf["on"]
    );
    startable_by_hand(&wf);
    // No secret anywhere: publishing is by trusted publishing only.
    assert!(!source.contains("secrets."), "{RELEASE} uses a secret");
    // Nothing is allowed unless a job asks for it.
    assert_eq!(wf["permissions"], serde_json::json!({}));
    let jobs = wf["jobs"].as_object().expect("jobs");
    assert_eq!(
        jobs.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "check",
            "linux",
            "sdist",
            "crate",
            "macos",
            "windows",
            "pypi",
            "crates-io",
            "github-release"
        ])
    );
    for (name, job) in jobs {
        assert!(
            job["timeout-minutes"].as_u64().is_some_and(|m| m > 0),
            "job {name} has no timeout-minutes"
        );
        let perms = job["permissions"]
            .as_object()
            .unwrap_or_else(|| panic!("job {name} states no permissions"));
        let id_token = perms.get("id-token").is_some_and(|p| p == "write");
        assert_eq!(
            id_token,
            name == "pypi" || name == "crates-io",
            "only the publishing jobs may ask for an OIDC token ({name}: {perms:?})"
        );
        let writes = perms.iter().any(|(k, v)| v == "write" && k != "id-token");
        assert_eq!(writes, name == "github-release", "{name} writes: {perms:?}");
        if name != "check" && name != "pypi" && name != "crates-io" && name != "github-release" {
            assert_eq!(job["needs"], "check", "{name} runs after the check");
        }
    }
    let run_of = |job: &str| -> String {
        steps(&wf["jobs"][job])
            .iter()
            .filter_map(|s| s["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(run_of("check").contains(".github/scripts/check-release.py"));

    // The Linux wheels: these three, each by build-wheel.sh (which the
    // packaging tests run for the same matrix), x86_64 ones installed.
    let linux = &wf["jobs"]["linux"];
    let targets: BTreeSet<(String, String)> = linux["strategy"]["matrix"]["include"]
        .as_array()
        .expect("a matrix of targets")
        .iter()
        .map(|e| {
            (
                e["target"].as_str().unwrap().to_string(),
                e["compatibility"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("x86_64-unknown-linux-gnu", "manylinux2014"),
        ("aarch64-unknown-linux-gnu", "manylinux2014"),
        ("x86_64-unknown-linux-musl", "musllinux_1_2"),
    ]
    .iter()
    .map(|(t, c)| (t.to_string(), c.to_string()))
    .collect();
    assert_eq!(targets, expected);
    let build = steps(linux)
        .iter()
        .find(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("build-wheel.sh"))
        })
        .expect("the linux job runs build-wheel.sh");
    assert_eq!(
        build["run"].as_str().unwrap().trim(),
        r#".github/scripts/build-wheel.sh "$TARGET" "$COMPATIBILITY" dist"#
    );
    assert_eq!(build["env"]["TARGET"], "${{ matrix.target }}");
    assert_eq!(build["env"]["COMPATIBILITY"], "${{ matrix.compatibility }}");
    assert!(run_of("linux").contains("rustup target add \"$TARGET\""));
    assert!(run_of("linux").contains("-r .github/release-requirements.txt"));
    assert!(run_of("sdist").contains("maturin sdist --out dist"));
    assert!(run_of("sdist").contains("install --quiet dist/*.tar.gz"));
    assert!(run_of("crate").contains("cargo publish --dry-run --locked"));
    // Windows is off until abimatrix compiles there.
    assert_eq!(
        condition(&wf["jobs"]["windows"]),
        "vars.ABIMATRIX_BUILD_WINDOWS == 'true'"
    );

    // PyPI: after the Linux wheels, the sdist and the crate are good, only
    // on a tag, by the PyPA's action with no password (trusted publishing).
    let pypi = &wf["jobs"]["pypi"];
    assert_eq!(pypi["environment"]["name"], "pypi");
    let needs: BTreeSet<&str> = pypi["needs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(needs.is_superset(&BTreeSet::from([
        "linux", "sdist", "crate", "macos", "windows"
    ])));
    let cond = condition(pypi);
    for must in [
        "github.event_name == 'push'",
        "needs.linux.result == 'success'",
        "needs.sdist.result == 'success'",
        "needs.crate.result == 'success'",
    ] {
        assert!(
            cond.contains(must),
            "pypi publishes only when {must}: {cond}"
        );
    }
    let publish = steps(pypi).last().unwrap();
    assert!(uses(publish, "pypa/gh-action-pypi-publish"), "{publish}");
    assert!(
        publish.get("with").is_none(),
        "no password, no token: {publish}"
    );
    let download = &steps(pypi)[0];
    assert!(uses(download, "actions/download-artifact"));
    assert_eq!(
        download["with"]["path"], "dist/",
        "what the publish action uploads"
    );

    // crates.io: the auth action's token, for `cargo publish --locked`.
    let crates = &wf["jobs"]["crates-io"];
    assert_eq!(crates["environment"]["name"], "crates-io");
    let auth = steps(crates)
        .iter()
        .find(|s| uses(s, "rust-lang/crates-io-auth-action"))
        .expect("crates.io's trusted publishing action");
    let auth_id = auth["id"].as_str().expect("an id");
    let cargo = steps(crates).last().unwrap();
    assert_eq!(cargo["run"], "cargo publish --locked");
    assert_eq!(
        cargo["env"]["CARGO_REGISTRY_TOKEN"],
        format!("${{{{ steps.{auth_id}.outputs.token }}}}")
    );
    assert!(run_of("github-release").contains("gh release create \"$TAG\" dist/*"));
}

/// check-release.py, run as the check job runs it: the tag must be the
/// crate's version, the files must link to the repository.
#[test]
fn the_release_check_refuses_a_wrong_tag_or_repository() {
    let run = |repository: &str, tag: &str| {
        Command::new(repo().join(".github/scripts/check-release.py"))
            .env("GITHUB_REPOSITORY", repository)
            .env("GITHUB_REF_TYPE", "tag")
            .env("GITHUB_REF_NAME", tag)
            .output()
            .expect("check-release.py")
    };
    let cargo: toml::Value =
        toml::from_str(&std::fs::read_to_string(repo().join("Cargo.toml")).unwrap()).unwrap();
    let url = cargo["package"]["repository"].as_str().expect("repository");
    let this = url
        .strip_prefix("https://github.com/")
        .expect("a GitHub URL");
    let good = run(this, &format!("v{VERSION}"));
    assert!(good.status.success(), "{}", dump(&good));
    assert_eq!(
        text(&good.stdout),
        format!("releasing abimatrix {VERSION} from {url}\n")
    );
    let tag = run(this, "v9.9.9");
    assert_eq!(tag.status.code(), Some(1), "{}", dump(&tag));
    assert!(text(&tag.stderr).contains(&format!(
        "the tag is 'v9.9.9', but Cargo.toml's version is '{VERSION}'"
    )));
    let other = run("someone/else", &format!("v{VERSION}"));
    assert_eq!(other.status.code(), Some(1), "{}", dump(&other));
    let err = text(&other.stderr);
    assert!(
        err.contains("Cargo.toml ([package] repository)") && err.contains("pyproject.toml"),
        "{err}"
    );
}

#[test]
fn the_nightly_workflow_is_valid_and_fails_when_it_should() {
    let wf = yaml_as_json(&repo().join(NIGHTLY));
    let action = yaml_as_json(&repo().join("action.yml"));
    assert!(
        wf["on"]["schedule"][0]["cron"].is_string(),
        "nightly: {}",
        wf["on"]
    );
    startable_by_hand(&wf);
    assert!(
        wf["concurrency"]["group"]
            .as_str()
            .is_some_and(|g| !g.is_empty()),
        "a concurrency group: {}",
        wf["concurrency"]
    );
    assert_eq!(wf["concurrency"]["cancel-in-progress"], false);

    let jobs = wf["jobs"].as_object().expect("jobs");
    assert_eq!(
        jobs.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(["plan", "build", "shard", "merge"])
    );
    let inputs = action["inputs"].as_object().expect("the action's inputs");
    for (name, job) in jobs {
        assert!(
            job["timeout-minutes"].as_u64().is_some_and(|m| m > 0),
            "job {name} has no timeout-minutes"
        );
        // Every job gets `matrix` from the action, once.
        let mine = action_steps(job);
        assert_eq!(mine.len(), 1, "job {name} runs the action once: {job}");
        if let Some(with) = mine[0]["with"].as_object() {
            for key in with.keys() {
                assert!(
                    inputs.contains_key(key),
                    "job {name}: the action has no input {key}"
                );
            }
        }
    }
    // An input as GitHub passes it: a string (`false` and `3` too).
    let with = |job: &str, key: &str| match &action_steps(&wf["jobs"][job])[0]["with"][key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };

    // `matrix plan`'s JSON, set by the action, is the shards' job matrix;
    // a failing shard neither cancels the others nor loses its results.
    assert_eq!(with("plan", "command"), "plan");
    assert_eq!(with("plan", "shards"), "${{ env.SHARDS }}");
    let plan_id = action_steps(&wf["jobs"]["plan"])[0]["id"]
        .as_str()
        .expect("an id")
        .to_string();
    assert_eq!(
        wf["jobs"]["plan"]["outputs"]["matrix"],
        format!("${{{{ steps.{plan_id}.outputs.plan }}}}")
    );
    let shard = &wf["jobs"]["shard"];
    assert_eq!(
        shard["strategy"]["matrix"],
        "${{ fromJSON(needs.plan.outputs.matrix) }}"
    );
    assert_eq!(shard["strategy"]["fail-fast"], false);
    assert_eq!(with("shard", "shard"), "${{ matrix.shard }}");
    assert_eq!(with("shard", "artifact-name"), "shard-${{ matrix.index }}");
    // Exit 1 (a cell not as expected) leaves the judging to the merge.
    assert_eq!(with("shard", "fail-on-unexpected"), "false");
    assert_eq!(with("build", "fail-on-unexpected"), "false");
    // The builds made once are the ones every shard tests.
    assert_eq!(with("build", "build-only"), "true");
    assert_eq!(with("build", "artifacts"), with("shard", "artifacts"));
    let download = steps(shard)
        .iter()
        .find(|s| uses(s, "actions/download-artifact"))
        .expect("the shard downloads the builds");
    // The action's name for a build-only run's artifact (action/run.sh).
    assert_eq!(download["with"]["name"], "abimatrix-builds");
    assert_eq!(download["with"]["path"], with("build", "artifacts"));

    // The merge runs whatever happened to the shards, with `matrix` only
    // installed; each shard's artifact in a folder of its own.
    let merge = &wf["jobs"]["merge"];
    assert!(condition(merge).contains("always()"), "merge: {merge}");
    assert_eq!(with("merge", "command"), "install");
    let merge_steps = steps(merge);
    let shards = merge_steps
        .iter()
        .find(|s| uses(s, "actions/download-artifact"))
        .expect("the merge downloads the shards");
    assert_eq!(shards["with"]["pattern"], "shard-*");
    assert!(shards["with"].get("merge-multiple").is_none(), "{shards}");
    assert!(
        merge_steps
            .iter()
            .filter_map(|s| s["run"].as_str())
            .any(|r| r.contains(&format!(
                "matrix merge {}*/results.json",
                shards["with"]["path"].as_str().unwrap()
            ))),
        "the merge reads each shard's results.json"
    );
    // The baseline is saved and the gate runs whatever failed before them.
    let save = merge_steps
        .iter()
        .find(|s| uses(s, "actions/cache/save"))
        .expect("the merge saves the baseline");
    assert_eq!(condition(save), "always()", "baseline save: {save}");
    let restore = merge_steps
        .iter()
        .find(|s| uses(s, "actions/cache/restore"))
        .expect("the merge restores last night's baseline");
    assert_eq!(restore["with"]["path"], save["with"]["path"]);
    let prefix = restore["with"]["restore-keys"]
        .as_str()
        .expect("restore-keys")
        .trim();
    assert!(
        save["with"]["key"].as_str().unwrap().starts_with(prefix),
        "last night's baseline is found by its key prefix: {prefix}"
    );
    let diff = merge_steps
        .iter()
        .find(|s| s["run"].as_str().is_some_and(|r| r.contains("matrix diff")))
        .expect("a diff step");
    let diff_id = diff["id"].as_str().expect("the diff step has an id");
    assert!(diff["run"].as_str().unwrap().contains("GITHUB_OUTPUT"));
    let gate = merge_steps.last().unwrap();
    assert_eq!(condition(gate), "always()", "gate: {gate}");
    assert!(
        gate["run"]
            .as_str()
            .is_some_and(|r| r.contains("matrix report grid.json --format text")),
        "the last step is the gate: {gate}"
    );
    let gate_reads_diff = format!("steps.{diff_id}.outputs.status");
    let mut gate_strings = Vec::new();
    strings(gate, &mut gate_strings);
    assert!(
        gate_strings.iter().any(|s| s.contains(&gate_reads_diff)),
        "the gate fails on a worse diff ({gate_reads_diff}): {gate}"
    );

    // Every option the workflow gives `matrix` exists in this build.
    let command =
        regex::Regex::new(r"(?:^|[\s(])matrix\s+(run|plan|merge|report|diff)\b([^|;&)>\n]*)")
            .unwrap();
    let option = regex::Regex::new(r"(?:^|\s)(--[a-z][a-z-]*|-[a-zA-Z])\b").unwrap();
    let mut checked = 0;
    for job in jobs.values() {
        for script in steps(job).iter().filter_map(|s| s["run"].as_str()) {
            let script = script.replace("\\\n", " ");
            for c in command.captures_iter(&script) {
                let help = ok(matrix().args([&c[1], "--help"]), "matrix --help");
                let help = text(&help.stdout);
                for o in option.captures_iter(&c[2]) {
                    let flag = &o[1];
                    let known = if flag.starts_with("--") {
                        help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n"))
                    } else {
                        help.contains(&format!("{flag}, "))
                    };
                    assert!(
                        known,
                        "`matrix {} {flag}` in {NIGHTLY} is not an option of this build:\n{help}",
                        &c[1]
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(
        checked >= 5,
        "only {checked} options found in the workflow's scripts"
    );

    // Every `matrix.KEY` the workflow reads is in every shard of a real plan.
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "[python]\nversions = [\"3.11\", \"3.12\"]\n{}",
            numpy(&["1.26.*", "2.0.*"], &["1.26.*", "2.0.*"])
        ),
    );
    let plan = ok(
        matrix()
            .args(["plan", "-c"])
            .arg(p.path("matrix.toml"))
            .args(["--shards", "3", "--format", "github"]),
        "matrix plan",
    );
    let plan: Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    let include = plan["include"].as_array().expect("include");
    assert_eq!(include.len(), 3, "{plan}");
    let expression = regex::Regex::new(r"\$\{\{(.*?)\}\}").unwrap();
    let key = regex::Regex::new(r"\bmatrix\.([A-Za-z_][A-Za-z0-9_-]*)").unwrap();
    let mut all = Vec::new();
    strings(&wf, &mut all);
    let keys: BTreeSet<&str> = all
        .iter()
        .flat_map(|s| expression.captures_iter(s))
        .flat_map(|e| {
            key.captures_iter(e.get(1).unwrap().as_str())
                .collect::<Vec<_>>()
        })
        .map(|k| k.get(1).unwrap().as_str())
        .collect();
    assert!(
        keys.is_superset(&BTreeSet::from(["shard", "index", "name"])),
        "{keys:?}"
    );
    for entry in include {
        for k in &keys {
            assert!(entry.get(*k).is_some(), "plan entry lacks `{k}`: {entry}");
        }
    }
}
