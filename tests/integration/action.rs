//! The GitHub Action (`action.yml`), run here as GitHub runs a composite
//! action: its steps in order, each `run:` exactly as written (with
//! `shell: bash`, GitHub's `bash --noprofile --norc -eo pipefail`), its
//! `env:` expressions filled in from the inputs and the earlier steps'
//! outputs, in the workspace folder, with `GITHUB_OUTPUT`,
//! `GITHUB_STEP_SUMMARY`, `GITHUB_PATH` and `GITHUB_ENV` pointed at a
//! temporary file per step, read back as the runner reads them (outputs,
//! the job summary, PATH and the environment of later steps). The `uses:`
//! steps (actions/setup-python, actions/upload-artifact) are other
//! people's actions: they are not run, but their `if:` and `with:` are
//! evaluated and checked. A step that fails skips the later steps unless
//! their `if:` says `always()`, as on GitHub. pyenv's interpreters stand
//! for the Pythons setup-python would install.
//!
//! Every `run:` of action.yml calls one script under action/, so what runs
//! here is what runs on GitHub. `matrix` is built from this checkout by the
//! action's own install step (as when the action is used at a branch or
//! as `uses: ./`), reusing the packaging tests' build.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{Project, matrix, numpy, ok, pyenv_python, read_json, text};
use crate::tools::{
    CHECKOUT, VERSION, build_lock, doc_block, fast_release, path_with_tools, repo, tool,
    yaml_as_json,
};
use crate::workflows::{actionlint, zizmor};

/// What one step did.
#[derive(Debug)]
enum Step {
    Run {
        name: String,
        /// The shell's exit status.
        status: i32,
        log: String,
    },
    Uses {
        uses: String,
        /// Whether its `if:` let it run.
        ran: bool,
        with: BTreeMap<String, String>,
    },
    Skipped {
        name: String,
    },
}

/// A run of the action.
struct ActionRun {
    steps: Vec<Step>,
    /// Each step's outputs, by the step's id.
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    /// The job summary: every step's summary, in order.
    summary: String,
    /// What the steps added to PATH, in order.
    path: Vec<PathBuf>,
    /// What the steps set for the job's later steps (GITHUB_ENV).
    env: BTreeMap<String, String>,
    /// RUNNER_TEMP.
    temp: PathBuf,
    /// The action failed (a step failed).
    failed: bool,
    /// Where the step files and RUNNER_TEMP are, removed with the run.
    _files: tempfile::TempDir,
}

impl ActionRun {
    fn output(&self, step: &str, name: &str) -> Option<&str> {
        self.outputs.get(step)?.get(name).map(String::as_str)
    }

    fn run_step(&self, name: &str) -> (i32, &str) {
        self.steps
            .iter()
            .find_map(|s| match s {
                Step::Run {
                    name: n,
                    status,
                    log,
                } if n == name => Some((*status, log.as_str())),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no step {name} ran: {:#?}", self.steps))
    }

    fn uses_step(&self, prefix: &str) -> Vec<(bool, &BTreeMap<String, String>)> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Uses { uses, ran, with } if uses.starts_with(prefix) => Some((*ran, with)),
                _ => None,
            })
            .collect()
    }

    fn dump(&self) -> String {
        let mut out = String::new();
        for s in &self.steps {
            match s {
                Step::Run { name, status, log } => {
                    out.push_str(&format!("--- {name}: exit {status}\n{log}\n"))
                }
                Step::Uses { uses, ran, with } => {
                    out.push_str(&format!("--- {uses} (ran: {ran}) {with:?}\n"))
                }
                Step::Skipped { name } => out.push_str(&format!("--- {name}: skipped\n")),
            }
        }
        out.push_str(&format!(
            "--- outputs {:?}\n--- summary\n{}",
            self.outputs, self.summary
        ));
        out
    }
}

/// `${{ ... }}` in a value of action.yml, for the few forms it uses.
fn expand(value: &str, ctx: &Context) -> String {
    let expr = regex::Regex::new(r"\$\{\{\s*(.*?)\s*\}\}").unwrap();
    expr.replace_all(value, |c: &regex::Captures| ctx.value(&c[1]))
        .into_owned()
}

struct Context<'a> {
    inputs: &'a BTreeMap<String, String>,
    outputs: &'a BTreeMap<String, BTreeMap<String, String>>,
    action_ref: &'a str,
    failed: bool,
}

impl Context<'_> {
    fn value(&self, e: &str) -> String {
        let e = e.trim();
        if let Some(name) = e.strip_prefix("inputs.") {
            return self
                .inputs
                .get(name)
                .unwrap_or_else(|| {
                    panic!("action.yml reads input {name}, which it does not declare")
                })
                .clone();
        }
        if let Some(rest) = e.strip_prefix("steps.") {
            let (id, name) = rest
                .split_once(".outputs.")
                .unwrap_or_else(|| panic!("expression {e}"));
            return self
                .outputs
                .get(id)
                .and_then(|o| o.get(name))
                .cloned()
                .unwrap_or_default();
        }
        if e == "github.action_ref" {
            return self.action_ref.to_string();
        }
        if let Some(lit) = e.strip_prefix('\'').and_then(|l| l.strip_suffix('\'')) {
            return lit.to_string();
        }
        panic!("this test does not know the expression `{e}` (action.yml changed?)")
    }

    /// An `if:` of the forms `always()`, `A && B`, `X != ''`, `X == 'y'`;
    /// without always(), only when no step failed.
    fn condition(&self, cond: &str) -> bool {
        let cond = cond.trim();
        let cond = cond
            .strip_prefix("${{")
            .and_then(|c| c.strip_suffix("}}"))
            .unwrap_or(cond);
        let parts: Vec<&str> = cond.split("&&").map(str::trim).collect();
        let always = parts.contains(&"always()");
        if self.failed && !always {
            return false;
        }
        parts.iter().filter(|p| **p != "always()").all(|p| {
            if let Some((a, b)) = p.split_once("!=") {
                self.value(a) != self.value(b)
            } else if let Some((a, b)) = p.split_once("==") {
                self.value(a) == self.value(b)
            } else {
                panic!("this test does not know the condition `{p}`")
            }
        })
    }
}

/// Reads a GITHUB_OUTPUT (or GITHUB_ENV) file: `name=value` lines and
/// `name<<DELIMITER` ... `DELIMITER` blocks.
fn parse_file_command(content: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = content.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delimiter {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_string(), value.to_string());
        } else if !line.is_empty() {
            panic!("not a file command line: {line:?}");
        }
    }
    out
}

/// Runs action.yml's steps with `inputs` (the rest at their defaults)
/// in `workspace`, with `env` added to every step's environment.
fn run_action(
    workspace: &Path,
    inputs: &[(&str, &str)],
    action_ref: &str,
    env: &[(&str, OsString)],
) -> ActionRun {
    let action = yaml_as_json(&repo().join("action.yml"));
    let mut given: BTreeMap<String, String> = action["inputs"]
        .as_object()
        .expect("inputs")
        .iter()
        .map(|(k, v)| (k.clone(), v["default"].as_str().unwrap_or("").to_string()))
        .collect();
    for (k, v) in inputs {
        assert!(given.contains_key(*k), "action.yml has no input {k}");
        given.insert(k.to_string(), v.to_string());
    }
    let files = tempfile::tempdir().expect("temp dir");
    let temp = files.path().join("runner-temp");
    std::fs::create_dir_all(&temp).unwrap();
    let mut run = ActionRun {
        steps: Vec::new(),
        outputs: BTreeMap::new(),
        summary: String::new(),
        path: Vec::new(),
        env: BTreeMap::new(),
        temp: temp.clone(),
        failed: false,
        _files: files,
    };
    let mut step_env: Vec<(String, String)> = Vec::new();
    let steps = action["runs"]["steps"].as_array().expect("steps");
    for (i, step) in steps.iter().enumerate() {
        let ctx = Context {
            inputs: &given,
            outputs: &run.outputs,
            action_ref,
            failed: run.failed,
        };
        let name = step["name"]
            .as_str()
            .map(|n| expand(n, &ctx))
            .unwrap_or_else(|| format!("step {i}"));
        let id = step["id"].as_str().unwrap_or("").to_string();
        let should = match step["if"].as_str() {
            Some(c) => ctx.condition(c),
            None => !run.failed,
        };
        if let Some(uses) = step["uses"].as_str() {
            let with = step["with"]
                .as_object()
                .map(|w| {
                    w.iter()
                        .map(|(k, v)| {
                            let v = match v {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            (k.clone(), expand(&v, &ctx))
                        })
                        .collect()
                })
                .unwrap_or_default();
            // setup-python's own output, as it sets it: the Python it set
            // up (the machine's python3 stands for 3.12 here).
            if should && id == "tool-python" {
                let python = which::which("python3").expect("python3");
                run.outputs.insert(
                    id.clone(),
                    BTreeMap::from([("python-path".to_string(), python.display().to_string())]),
                );
            }
            run.steps.push(Step::Uses {
                uses: uses.to_string(),
                ran: should,
                with,
            });
            continue;
        }
        let script = step["run"].as_str().expect("a run or uses step");
        assert_eq!(
            step["shell"], "bash",
            "{name}: composite steps name their shell"
        );
        if !should {
            run.steps.push(Step::Skipped { name });
            continue;
        }
        let dir = run._files.path().join(format!("step-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let (output, summary, path_file, env_file) = (
            dir.join("output"),
            dir.join("summary"),
            dir.join("path"),
            dir.join("env"),
        );
        for f in [&output, &summary, &path_file, &env_file] {
            std::fs::write(f, "").unwrap();
        }
        let script_file = dir.join("script.sh");
        std::fs::write(&script_file, script).unwrap();
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_file)
            .current_dir(workspace)
            .env("GITHUB_ACTIONS", "true")
            .env("CI", "true")
            .env("GITHUB_ACTION_PATH", repo())
            .env("GITHUB_WORKSPACE", workspace)
            .env("RUNNER_TEMP", &temp)
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_PATH", &path_file)
            .env("GITHUB_ENV", &env_file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        // What earlier steps added to PATH comes first, the newest first.
        let base = env
            .iter()
            .find(|(k, _)| *k == "PATH")
            .map(|(_, v)| v.to_os_string())
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default();
        let dirs: Vec<PathBuf> = run
            .path
            .iter()
            .rev()
            .cloned()
            .chain(std::env::split_paths(&base))
            .collect();
        cmd.env("PATH", std::env::join_paths(dirs).unwrap());
        for (k, v) in &step_env {
            cmd.env(k, v);
        }
        if let Some(vars) = step["env"].as_object() {
            for (k, v) in vars {
                cmd.env(k, expand(v.as_str().expect("env values are strings"), &ctx));
            }
        }
        // The install step is the one that builds (from source).
        let turn = (id == "install").then(|| build_lock(CHECKOUT));
        let out = cmd.output().expect("bash");
        drop(turn);
        let status = out.status.code().unwrap_or(-1);
        let read = |f: &Path| std::fs::read_to_string(f).unwrap();
        if !id.is_empty() {
            run.outputs
                .insert(id.clone(), parse_file_command(&read(&output)));
        }
        run.summary.push_str(&read(&summary));
        run.path.extend(read(&path_file).lines().map(PathBuf::from));
        let set = parse_file_command(&read(&env_file));
        step_env.extend(set.clone());
        run.env.extend(set);
        run.failed |= status != 0;
        run.steps.push(Step::Run {
            name,
            status,
            log: format!("{}{}", text(&out.stdout), text(&out.stderr)),
        });
    }
    run
}

/// The environment every run of the action here gets, `extra` added: its
/// build of `matrix` from source reuses the packaging tests'
/// (tools::fast_release).
fn build_env(extra: &[(&'static str, OsString)]) -> Vec<(&'static str, OsString)> {
    let mut probe = Command::new("true");
    fast_release(&mut probe, CHECKOUT);
    let mut env: Vec<(&'static str, OsString)> = [
        "CARGO_HOME",
        "CARGO_TARGET_DIR",
        "CARGO_PROFILE_RELEASE_OPT_LEVEL",
        "CARGO_PROFILE_RELEASE_CODEGEN_UNITS",
        "CARGO_PROFILE_RELEASE_LTO",
        "CARGO_PROFILE_RELEASE_INCREMENTAL",
    ]
    .into_iter()
    .map(|k| {
        let v = probe
            .get_envs()
            .find(|(name, _)| *name == k)
            .and_then(|(_, v)| v)
            .unwrap_or_else(|| panic!("fast_release sets {k}"));
        (k, v.to_os_string())
    })
    .collect();
    env.extend(extra.iter().cloned());
    env
}

/// Every `run:` of action.yml is one script of action/, called as
/// `"$GITHUB_ACTION_PATH/action/NAME.sh"`, and each script passes
/// ShellCheck; the action passes zizmor; and the book's workflow using
/// the action (docs/src/guides/ci.md) passes actionlint (which checks its inputs against
/// action.yml) and zizmor.
#[test]
fn the_action_runs_only_its_scripts_and_the_readme_example_is_valid() {
    let action = yaml_as_json(&repo().join("action.yml"));
    let script = regex::Regex::new(r#"^"\$GITHUB_ACTION_PATH/action/([a-z-]+\.sh)"$"#).unwrap();
    let mut scripts = Vec::new();
    for step in action["runs"]["steps"].as_array().unwrap() {
        if let Some(run) = step["run"].as_str() {
            let c = script
                .captures(run.trim())
                .unwrap_or_else(|| panic!("a run step that is not one script of action/: {run}"));
            assert!(repo().join("action").join(&c[1]).is_file(), "{run}");
            scripts.push(c[1].to_string());
            // Inputs reach scripts through env:, never inside the script.
            assert!(!run.contains("${{"), "{run}");
        }
    }
    assert_eq!(scripts, ["install.sh", "pythons.sh", "run.sh"]);
    let shellcheck = Command::new(tool("shellcheck"))
        .args(["-x", "-P", "SCRIPTDIR/.."])
        .args(
            std::fs::read_dir(repo().join("action"))
                .unwrap()
                .map(|e| e.unwrap().path()),
        )
        .arg(repo().join(".github/scripts/build-wheel.sh"))
        .output()
        .expect("shellcheck");
    assert!(shellcheck.status.success(), "{}", text(&shellcheck.stdout));

    // The book's example, with the released action's reference replaced
    // by this checkout (`./`), in a repository of its own with action.yml.
    let (_, example) = doc_block("docs/src/guides/ci.md", "The GitHub Action", "yaml");
    let steps: Vec<&str> = example
        .lines()
        .skip_while(|l| !l.trim().starts_with("steps:"))
        .skip(1)
        .collect();
    assert_eq!(
        steps.len(),
        3,
        "the example's steps are three lines: {steps:?}"
    );
    assert!(
        example.contains("uses: OWNER/abimatrix@v0.1.0"),
        "{example}"
    );
    let tmp = tempfile::tempdir().expect("temp dir");
    let copy = tmp.path();
    std::fs::create_dir_all(copy.join(".github/workflows")).unwrap();
    std::fs::create_dir_all(copy.join(".git")).unwrap();
    std::fs::copy(repo().join("action.yml"), copy.join("action.yml")).unwrap();
    let workflow = Path::new(".github/workflows/numpy-grid.yml");
    std::fs::write(
        copy.join(workflow),
        example.replace("OWNER/abimatrix@v0.1.0", "./"),
    )
    .unwrap();
    let lint = actionlint(copy, &[workflow]);
    assert!(
        lint.status.success(),
        "actionlint on the book's example:\n{}{}",
        text(&lint.stdout),
        text(&lint.stderr)
    );
    // `./` (standing for the released action here) is what zizmor's
    // self-repository note is about: ignored, as .github/zizmor.yml does.
    std::fs::write(
        copy.join(".github/zizmor.yml"),
        "rules:\n  self-repository:\n    ignore:\n      - numpy-grid.yml\n",
    )
    .unwrap();
    let audit = zizmor(copy, &[workflow, Path::new("action.yml")]);
    let audit_out = text(&audit.stdout);
    assert!(
        audit.status.success() && audit_out.contains("No findings to report"),
        "zizmor on the book's example:\n{audit_out}{}",
        text(&audit.stderr)
    );
    // A with: the action does not know is refused: actionlint read action.yml.
    std::fs::write(
        copy.join(workflow),
        example.replace(
            "OWNER/abimatrix@v0.1.0",
            "./\n        with: { configuration: matrix.toml }",
        ),
    )
    .unwrap();
    let bad = actionlint(copy, &[workflow]);
    assert!(
        !bad.status.success() && text(&bad.stdout).contains("configuration"),
        "{}",
        text(&bad.stdout)
    );
}

/// A grid run by the action: `matrix` built from this checkout and put
/// alone on PATH, the config's Python set up, the Markdown grid in the
/// summary, the reports and results uploaded, and the step exiting as
/// `matrix run` does: 0 here, 1 for a cell not as expected (passing with
/// `fail-on-unexpected: false`), 2 for a bad config.
#[test]
fn the_action_runs_a_grid_writes_the_summary_and_exits_as_matrix() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "[python]\nversions = [\"3.12\"]\n{}",
            numpy(&["2.0.*"], &["2.0.*"])
        ),
    );
    let _ = pyenv_python("3.12");
    let run = run_action(p.dir.path(), &[], "", &build_env(&[]));
    let dump = run.dump();
    assert!(!run.failed, "{dump}");

    // Installed from source (no version tag): one folder on PATH, holding
    // `matrix` alone, of this version.
    assert_eq!(run.path, [run.temp.join("abimatrix-bin")], "{dump}");
    let on_path: Vec<String> = std::fs::read_dir(&run.path[0])
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(on_path, ["matrix"], "{dump}");
    assert_eq!(run.output("install", "version"), Some(VERSION), "{dump}");
    // Nothing else of the job's environment changes.
    assert!(run.env.is_empty(), "{dump}");
    assert!(
        run.run_step("Install abimatrix")
            .1
            .contains("Building abimatrix from"),
        "{dump}"
    );

    // The Python the config asks for is set up, once.
    assert_eq!(run.output("pythons", "versions"), Some("3.12"), "{dump}");
    let setups = run.uses_step("actions/setup-python@");
    assert_eq!(setups.len(), 2, "{dump}");
    assert!(setups[1].0, "{dump}");
    assert_eq!(setups[1].1["python-version"], "3.12");

    // The grid: results and every default report, the Markdown grid in the
    // summary, all of it uploaded.
    let (status, _) = run.run_step("matrix run");
    assert_eq!(status, 0, "{dump}");
    assert_eq!(run.output("run", "exit-code"), Some("0"), "{dump}");
    assert_eq!(
        run.output("run", "results"),
        Some("abimatrix-report/results.json")
    );
    for f in ["results.json", "grid.md", "grid.html", "junit.xml"] {
        assert!(p.path("abimatrix-report").join(f).is_file(), "{f}\n{dump}");
    }
    let results = read_json(&p.path("abimatrix-report/results.json"));
    assert_eq!(results["cells"][0]["outcome"], "pass", "{dump}");
    let markdown = ok(
        matrix()
            .args(["report", "--format", "markdown"])
            .arg(p.path("abimatrix-report/results.json")),
        "matrix report",
    );
    assert_eq!(
        run.summary,
        text(&markdown.stdout),
        "the summary is the Markdown grid"
    );
    let uploads = run.uses_step("actions/upload-artifact@");
    assert_eq!(uploads.len(), 1);
    assert!(uploads[0].0, "{dump}");
    assert_eq!(uploads[0].1["name"], "abimatrix-grid");
    assert_eq!(uploads[0].1["path"], "abimatrix-report");

    // A cell not as expected: 1, the grid in the summary, still uploaded.
    let q = Project::new();
    q.write("matrix.toml", &numpy(&["1.26.*"], &["2.0.*"]));
    let run = run_action(
        q.dir.path(),
        &[("report-formats", "html")],
        "",
        &build_env(&[]),
    );
    let dump = run.dump();
    assert!(run.failed, "{dump}");
    assert_eq!(run.run_step("matrix run").0, 1, "{dump}");
    assert_eq!(run.output("run", "exit-code"), Some("1"), "{dump}");
    assert!(
        run.summary.contains("1.26."),
        "the grid is in the summary:\n{dump}"
    );
    assert!(
        q.path("abimatrix-report/grid.html").is_file()
            && !q.path("abimatrix-report/grid.md").exists()
    );
    assert!(
        run.uses_step("actions/upload-artifact@")[0].0,
        "uploaded although it failed: {dump}"
    );
    // The same, with fail-on-unexpected: false, passes and says why.
    let run = run_action(
        q.dir.path(),
        &[("fail-on-unexpected", "false")],
        "",
        &build_env(&[]),
    );
    let dump = run.dump();
    assert!(!run.failed, "{dump}");
    assert_eq!(run.output("run", "exit-code"), Some("1"), "{dump}");
    assert!(
        run.run_step("matrix run")
            .1
            .contains("::notice title=abimatrix::matrix run exited 1"),
        "{dump}"
    );

    // A bad config: 2, and the summary says what happened.
    let b = Project::new();
    b.write("matrix.toml", "[numpy]\nbuild = 3\n");
    let run = run_action(b.dir.path(), &[], "", &build_env(&[]));
    let dump = run.dump();
    assert_eq!(run.run_step("matrix run").0, 2, "{dump}");
    assert_eq!(run.output("run", "exit-code"), Some("2"), "{dump}");
    assert_eq!(run.output("pythons", "versions"), Some(""), "{dump}");
    assert!(
        run.summary
            .contains("`matrix run` exited 2 (bad config or command line) and wrote no grid"),
        "{dump}"
    );
    assert!(
        run.run_step("matrix run")
            .1
            .contains("::error title=abimatrix::matrix run exited 2"),
        "{dump}"
    );
}

/// `command: plan` sets the output `plan`, `matrix plan`'s JSON; a shard of
/// it then runs with the Pythons the plan gives that shard, and uploads
/// under a name of its own.
#[test]
fn the_action_plans_shards_and_runs_one() {
    let p = Project::new();
    p.write(
        "matrix.toml",
        &format!(
            "[python]\nversions = [\"3.11\", \"3.12\"]\n{}",
            numpy(&["2.0.*"], &["2.0.*"])
        ),
    );
    let planned = run_action(
        p.dir.path(),
        &[("command", "plan"), ("shards", "2")],
        "",
        &build_env(&[]),
    );
    let dump = planned.dump();
    assert!(!planned.failed, "{dump}");
    let plan: Value =
        serde_json::from_str(planned.output("run", "plan").expect("a plan")).expect("JSON");
    let direct = ok(
        matrix()
            .args(["plan", "--shards", "2", "--format", "github", "-c"])
            .arg(p.path("matrix.toml")),
        "matrix plan",
    );
    let direct: Value = serde_json::from_slice(&direct.stdout).unwrap();
    assert_eq!(plan, direct, "{dump}");
    // Nothing to upload for a plan, and no Python set up.
    assert!(
        !planned.uses_step("actions/upload-artifact@")[0].0,
        "{dump}"
    );
    assert_eq!(planned.output("pythons", "versions"), Some(""), "{dump}");

    let second = &plan["include"][1];
    let shard = second["shard"].as_str().expect("shard");
    let run = run_action(p.dir.path(), &[("shard", shard)], "", &build_env(&[]));
    let dump = run.dump();
    assert!(!run.failed, "{dump}");
    let pythons: Vec<&str> = second["python"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        run.output("pythons", "versions"),
        Some(pythons.join("\n").as_str()),
        "{dump}"
    );
    assert!(
        run.run_step("matrix run")
            .1
            .contains(&format!("--shard {shard}")),
        "{dump}"
    );
    let results = read_json(&p.path("abimatrix-report/results.json"));
    assert_eq!(results["shard"], shard, "{results}");
    let upload = &run.uses_step("actions/upload-artifact@")[0];
    assert_eq!(
        upload.1["name"],
        format!(
            "abimatrix-grid-shard-2-of-{}",
            plan["include"].as_array().unwrap().len()
        )
    );
}

/// At a version tag the action installs that release from the package
/// index (here a folder holding this checkout's wheel, through pip's own
/// settings) without Rust; `command: install` only puts `matrix` on PATH;
/// building from source without Rust fails and says so.
#[test]
fn the_action_installs_the_release_at_a_version_tag() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let index = tmp.path().join("index");
    // The wheel a release would publish, built by the tools' pip.
    let mut wheel = Command::new(tool("python"));
    wheel
        .args([
            "-m",
            "pip",
            "--disable-pip-version-check",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
        ])
        .arg(&index)
        .arg(repo());
    fast_release(&mut wheel, CHECKOUT);
    {
        let _turn = build_lock(CHECKOUT);
        ok(&mut wheel, "pip wheel .");
    }

    // PATH without Rust: a release needs none.
    let path = std::env::split_paths(&path_with_tools(&[]))
        .filter(|d| !d.join("cargo").exists())
        .collect::<Vec<_>>();
    let path = std::env::join_paths(path).unwrap();
    let p = Project::new();
    let extra = [
        ("PATH", path.clone()),
        ("PIP_NO_INDEX", "1".into()),
        ("PIP_FIND_LINKS", index.clone().into_os_string()),
    ];
    let run = run_action(
        p.dir.path(),
        &[("command", "install")],
        &format!("v{VERSION}"),
        &build_env(&extra),
    );
    let dump = run.dump();
    assert!(!run.failed, "{dump}");
    assert!(
        run.run_step("Install abimatrix").1.contains(&format!(
            "Installing abimatrix {VERSION} from the package index"
        )),
        "{dump}"
    );
    assert_eq!(run.output("install", "version"), Some(VERSION), "{dump}");
    let version = ok(
        Command::new(run.path[0].join("matrix")).arg("--version"),
        "matrix --version",
    );
    assert_eq!(text(&version.stdout), format!("matrix {VERSION}\n"));
    // Installed only: nothing ran, nothing to upload.
    assert_eq!(run.run_step("matrix install").0, 0, "{dump}");
    assert!(!run.uses_step("actions/upload-artifact@")[0].0, "{dump}");
    assert_eq!(run.summary, "", "{dump}");

    // At a branch, from source, without Rust: a clear error.
    let run = run_action(
        p.dir.path(),
        &[("command", "install")],
        "main",
        &build_env(&[("PATH", path)]),
    );
    let dump = run.dump();
    assert!(run.failed, "{dump}");
    let (status, log) = run.run_step("Install abimatrix");
    assert_eq!(status, 1, "{dump}");
    assert!(
        log.contains("::error title=abimatrix::building abimatrix from source")
            && log.contains("needs Rust"),
        "{dump}"
    );
    assert!(
        matches!(run.steps.last(), Some(Step::Uses { ran: false, .. })),
        "{dump}"
    );
}
