//! The documentation, tested the way a reader uses it: every `matrix.toml`
//! in README.md and the book (`docs/src`) is loaded by the real binary,
//! every console example is run and its output compared with what the page
//! shows, the book builds with mdBook and no link in it is broken, and the
//! results files `matrix run` writes validate against the JSON Schema the
//! book publishes.
//!
//! Markdown conventions (CONTRIBUTING.md, "Documentation", says the same):
//! - a ` ```toml ` block is a whole `matrix.toml` (a `pyproject.toml` when
//!   it has a `[tool.abimatrix` table); files it names (sources, the probe
//!   file, include folders, a project, wheel globs) are made empty beside
//!   it before it is loaded; `<!-- doctest: invalid -->` before it says the
//!   loader must refuse it;
//! - a ` ```console ` block is run: each line starting with `$ ` is a shell
//!   command (`sh -c`, `matrix` first on PATH), run in a folder of the
//!   page's own, where the page's blocks run in order; the lines after it
//!   are its standard output (with `stderr`: its standard error), where a
//!   line `...` stands for any number of lines and `[..]` for any text
//!   within a line; trailing spaces are not compared;
//! - `<!-- doctest: KEY[=VALUE] ... -->` on the line before a block sets:
//!   `file=PATH` (the block, of any language, is written to PATH in the
//!   page's folder), `exit=N` (the block's last command exits N; every
//!   other command 0), `stderr`, `invalid`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{matrix, text};
use crate::tools::{repo, tool};

/// A fenced block of a Markdown file.
#[derive(Debug)]
struct Block {
    file: PathBuf,
    /// 1-based line of the opening fence.
    line: usize,
    lang: String,
    text: String,
    directives: BTreeMap<String, String>,
}

impl Block {
    fn at(&self) -> String {
        format!(
            "{}:{}",
            self.file
                .strip_prefix(repo())
                .unwrap_or(&self.file)
                .display(),
            self.line
        )
    }
}

/// README.md, CONTRIBUTING.md and every page of the book.
fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![repo().join("README.md"), repo().join("CONTRIBUTING.md")];
    let mut stack = vec![repo().join("docs/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("docs/src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The fenced blocks of `file`, each with the directives of the
/// `<!-- doctest: ... -->` comment on the line before it.
fn blocks(file: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(file).expect("markdown");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        let indent = lines[i].len() - trimmed.len();
        let Some(info) = trimmed.strip_prefix("```") else {
            i += 1;
            continue;
        };
        let lang = info
            .split([' ', ','])
            .next()
            .unwrap_or_default()
            .to_string();
        let start = i;
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() && lines[i].trim() != "```" {
            let l = lines[i];
            let cut = l.len() - l.trim_start().len();
            body.push(&l[cut.min(indent)..]);
            i += 1;
        }
        let mut directives = BTreeMap::new();
        if let Some(d) = start
            .checked_sub(1)
            .map(|p| lines[p].trim())
            .and_then(|l| l.strip_prefix("<!-- doctest:"))
            .and_then(|l| l.strip_suffix("-->"))
        {
            for word in d.split_whitespace() {
                let (k, v) = word.split_once('=').unwrap_or((word, ""));
                assert!(
                    ["file", "exit", "stderr", "invalid"].contains(&k),
                    "{}:{}: unknown doctest directive {k}",
                    file.display(),
                    start
                );
                directives.insert(k.to_string(), v.to_string());
            }
        }
        out.push(Block {
            file: file.to_path_buf(),
            line: start + 1,
            lang,
            text: body.iter().map(|l| format!("{l}\n")).collect(),
            directives,
        });
        i += 1;
    }
    out
}

/// Makes, empty, the files a config names, so that the loader finds what
/// it checks for (sources, headers' folders, the probe file, `-r` files, a
/// project, wheels) without the snippet's example files being shipped.
fn make_named_files(dir: &Path, config: &toml::Table) {
    let table = config
        .get("tool")
        .and_then(|t| t.get("abimatrix"))
        .and_then(toml::Value::as_table)
        .unwrap_or(config);
    let file = |rel: &str| {
        let path = dir.join(rel.replace('*', "x"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        if !path.exists() {
            std::fs::write(&path, "").unwrap();
        }
    };
    let strings = |v: Option<&toml::Value>| -> Vec<String> {
        match v {
            Some(toml::Value::String(s)) => vec![s.clone()],
            Some(toml::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    if let Some(ext) = table.get("extension") {
        for key in ["sources", "probe-file", "wheels"] {
            strings(ext.get(key)).iter().for_each(|f| file(f));
        }
        for key in ["include-dirs", "library-dirs"] {
            for d in strings(ext.get(key)) {
                std::fs::create_dir_all(dir.join(d)).unwrap();
            }
        }
        for project in strings(ext.get("project")) {
            file(&format!("{project}/pyproject.toml"));
        }
        for r in strings(ext.get("test-requires")) {
            if let Some(f) = r.strip_prefix("-r") {
                file(f.trim());
            }
        }
    }
    if let Some(numpy) = table.get("numpy") {
        for key in ["build", "runtime"] {
            for w in strings(numpy.get(key))
                .iter()
                .filter(|w| w.ends_with(".whl"))
            {
                file(w);
            }
        }
    }
}

/// `matrix plan` on a config: it loads the file with the loader every
/// command uses and needs no interpreter and no index.
fn load(dir: &Path, name: &str) -> std::process::Output {
    matrix()
        .args([
            "plan", "--shards", "1", "--format", "text", "--color", "never", "-c", name,
        ])
        .current_dir(dir)
        .output()
        .expect("matrix plan")
}

/// Every `matrix.toml` (and `[tool.abimatrix]` table) the README and the
/// book show is loaded by the real loader: it loads, or, marked invalid,
/// is refused with a located error.
#[test]
fn every_config_in_the_docs_loads() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        for block in blocks(&file).into_iter().filter(|b| b.lang == "toml") {
            let dir = tempfile::tempdir().expect("temp dir");
            let name = if block.text.contains("[tool.abimatrix") {
                "pyproject.toml"
            } else {
                "matrix.toml"
            };
            std::fs::write(dir.path().join(name), &block.text).unwrap();
            if let Ok(table) = toml::from_str::<toml::Table>(&block.text) {
                make_named_files(dir.path(), &table);
            }
            let out = load(dir.path(), name);
            let invalid = block.directives.contains_key("invalid");
            let ok = if invalid {
                out.status.code() == Some(2)
                    && text(&out.stderr).starts_with(&format!("error: {name}:"))
            } else {
                out.status.success()
            };
            if !ok {
                failures.push(format!(
                    "{} ({}):\n{}{}",
                    block.at(),
                    if invalid {
                        "should be refused"
                    } else {
                        "should load"
                    },
                    text(&out.stdout),
                    text(&out.stderr)
                ));
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} configs found in the docs");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The keys a table of `matrix.toml` takes, as the loader lists them when
/// it refuses an unknown one.
fn keys_of(table: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = match table {
        "" => "zz-unknown = 1\n".to_string(),
        "expect" => "[[expect]]\nzz-unknown = 1\n".to_string(),
        t => format!("[{t}]\nzz-unknown = 1\n"),
    };
    std::fs::write(dir.path().join("matrix.toml"), config).unwrap();
    let err = text(&load(dir.path(), "matrix.toml").stderr);
    let list = err
        .lines()
        .next()
        .and_then(|l| l.split_once("expected "))
        .map(|(_, l)| l.to_string())
        .unwrap_or_else(|| panic!("no list of keys for [{table}]:\n{err}"));
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Every key of every table the loader takes has its entry in the
/// reference (`docs/src/reference/config.md`), and the reference names no
/// table the loader does not take.
#[test]
fn the_config_reference_has_every_key() {
    let page = std::fs::read_to_string(repo().join("docs/src/reference/config.md")).unwrap();
    let tables = keys_of("");
    assert_eq!(tables, ["python", "numpy", "extension", "run", "expect"]);
    let mut missing = Vec::new();
    for table in &tables {
        let heading = if table == "expect" {
            "## `[[expect]]`".to_string()
        } else {
            format!("## `[{table}]`")
        };
        let section = page
            .split(&heading)
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .unwrap_or_else(|| panic!("config.md has no section {heading}"));
        for key in keys_of(table) {
            // Each key is an entry of its section: a list item `- `key``.
            if !section.contains(&format!("\n- `{key}`")) {
                missing.push(format!("{table}.{key}"));
            }
        }
    }
    assert!(missing.is_empty(), "config.md lacks: {missing:?}");
}

/// `expected` (lines, `...` for any lines, `[..]` for any text in a line)
/// matches `actual`.
fn matches(expected: &[&str], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((&"...", rest)) => (0..=actual.len()).any(|skip| matches(rest, &actual[skip..])),
        Some((line, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| line_matches(line, a) && matches(rest, more)),
    }
}

fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split("[..]").collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || line.len() < first.len() + last.len() || !line.ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The commands of a console block, each with the output shown after it.
fn commands(block: &Block) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in block.text.lines() {
        if let Some(cmd) = line.strip_prefix("$ ") {
            out.push((cmd.to_string(), Vec::new()));
        } else if let Some((_, shown)) = out.last_mut() {
            shown.push(line.trim_end().to_string());
        } else {
            panic!("{}: output before any `$ ` command", block.at());
        }
    }
    out
}

/// Runs the console blocks of one page in order, in one folder, writing
/// its `file=` blocks there first; returns the mismatches.
fn run_page(file: &Path) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let bin = Path::new(env!("CARGO_BIN_EXE_matrix")).parent().unwrap();
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let mut failures = Vec::new();
    for block in blocks(file) {
        if let Some(name) = block.directives.get("file") {
            let to = dir.path().join(name);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(&to, &block.text).unwrap();
        }
        if block.lang != "console" {
            continue;
        }
        let list = commands(&block);
        let want_exit: i32 = block
            .directives
            .get("exit")
            .map(|e| e.parse().expect("exit=N"))
            .unwrap_or(0);
        for (i, (cmd, shown)) in list.iter().enumerate() {
            let mut sh = Command::new("sh");
            sh.args(["-c", cmd])
                .current_dir(dir.path())
                .env("PATH", &path)
                .env("NO_COLOR", "1")
                .env_remove("CLICOLOR_FORCE")
                .env_remove("FORCE_COLOR")
                .env_remove("GITHUB_ACTIONS")
                .env_remove("COLUMNS");
            // `explain` keeps the probe's files in a new folder of TMPDIR:
            // the example's, not the system's /tmp. (Only there: a run's
            // cells write in RAM unless TMPDIR says where.)
            if cmd.contains("matrix explain") {
                sh.env("TMPDIR", dir.path());
            }
            let out = sh.output().expect("sh");
            let exit = if i + 1 == list.len() { want_exit } else { 0 };
            // The pages show runs on PyPI; this one is on the suite's index.
            let got =
                crate::suite::without_index_notes(&if block.directives.contains_key("stderr") {
                    text(&out.stderr)
                } else {
                    text(&out.stdout)
                });
            let got_lines: Vec<&str> = got.lines().map(str::trim_end).collect();
            let shown_lines: Vec<&str> = shown.iter().map(String::as_str).collect();
            if out.status.code() != Some(exit) || !matches(&shown_lines, &got_lines) {
                failures.push(format!(
                    "{}: `$ {cmd}` exited {:?} (expected {exit}); shown:\n{}\n--- it printed:\n{}\n--- stderr:\n{}",
                    block.at(),
                    out.status.code(),
                    shown.join("\n"),
                    got,
                    text(&out.stderr)
                ));
            }
        }
    }
    failures
}

/// Every console example of the README and the book, run as shown, in
/// the order of its page; a page's `file=` blocks are its folder's files.
#[test]
fn every_console_example_runs_as_shown() {
    let pages: Vec<PathBuf> = markdown_files()
        .into_iter()
        .filter(|f| blocks(f).iter().any(|b| b.lang == "console"))
        .collect();
    assert!(pages.len() >= 5, "console examples on only {pages:?}");
    // Pages are independent (a folder each; the cache is shared, as by
    // every test): run side by side, each page's blocks in order.
    let failures: Vec<String> = std::thread::scope(|s| {
        let running: Vec<_> = pages
            .iter()
            .map(|p| {
                s.spawn(|| {
                    let start = std::time::Instant::now();
                    let failures = run_page(p);
                    eprintln!("{}: {:.1?}", p.display(), start.elapsed());
                    failures
                })
            })
            .collect();
        running
            .into_iter()
            .flat_map(|t| t.join().expect("a page's examples"))
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The elision rules themselves: each can fail.
#[test]
fn shown_output_is_compared_line_by_line_with_elisions() {
    assert!(matches(&["a", "...", "d"], &["a", "b", "c", "d"]));
    assert!(matches(&["a", "...", "b"], &["a", "b"]));
    assert!(!matches(&["a", "...", "d"], &["a", "b", "c"]));
    assert!(!matches(&["a", "b"], &["a", "b", "c"]));
    assert!(line_matches("in [..]s", "in 1.5s"));
    assert!(line_matches(
        "[..] -c [..]/x.c -o [..]",
        "gcc -O2 -c /a/x.c -o /a/x.o"
    ));
    assert!(!line_matches("in [..]s", "in 1.5s!"));
    assert!(!line_matches("a[..]b[..]c", "a-c-b"));
    assert!(!line_matches("exact", "exact "));
}

/// Relative links of one built HTML page, or of one Markdown file: the
/// targets that are not on the web.
fn local_links(text: &str, pattern: &regex::Regex) -> Vec<String> {
    pattern
        .captures_iter(text)
        .map(|c| c[1].to_string())
        .filter(|l| {
            !l.is_empty()
                && ![
                    "http://",
                    "https://",
                    "mailto:",
                    "javascript:",
                    "data:",
                    "//",
                ]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect()
}

/// The anchors GitHub (and mdBook) give a Markdown file's headings.
fn heading_anchors(markdown: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|h| {
            h.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

/// Every problem with the links of the book built into `book`: a file that
/// is not there, an `#anchor` no element of the target has.
fn broken_links_in_book(book: &Path) -> Vec<String> {
    let attr = regex::Regex::new(r#"(?:href|src)="([^"]*)""#).unwrap();
    let id = regex::Regex::new(r#"\bid="([^"]*)""#).unwrap();
    let mut pages = Vec::new();
    let mut stack = vec![book.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "html") {
                pages.push(path);
            }
        }
    }
    let ids = |page: &Path| -> BTreeSet<String> {
        let text = std::fs::read_to_string(page).unwrap_or_default();
        id.captures_iter(&text).map(|c| c[1].to_string()).collect()
    };
    let mut broken = Vec::new();
    // 404.html is served at any depth, so its links are from the site's
    // root (`site-url`), not from its own place.
    for page in pages.iter().filter(|p| !p.ends_with("404.html")) {
        let text = std::fs::read_to_string(page).unwrap();
        for link in local_links(&text, &attr) {
            let (path, fragment) = link.split_once('#').unwrap_or((&link, ""));
            let path = path.split('?').next().unwrap_or_default();
            let target = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(path)
            };
            let target = if target.is_dir() {
                target.join("index.html")
            } else {
                target
            };
            let name = page
                .strip_prefix(book)
                .unwrap_or(page)
                .display()
                .to_string();
            if !target.is_file() {
                broken.push(format!("{name}: {link}: no such file"));
            } else if !fragment.is_empty()
                && target.extension().is_some_and(|e| e == "html")
                && !ids(&target).contains(fragment)
            {
                broken.push(format!("{name}: {link}: no element with id {fragment}"));
            }
        }
    }
    broken
}

/// Every problem with the relative links of a Markdown file of the
/// repository (the README, CONTRIBUTING.md): what GitHub would show broken.
fn broken_links_in_markdown(file: &Path) -> Vec<String> {
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let text = std::fs::read_to_string(file).unwrap();
    let mut broken = Vec::new();
    for l in local_links(&text, &link) {
        let (path, fragment) = l.split_once('#').unwrap_or((&l, ""));
        let target = if path.is_empty() {
            file.to_path_buf()
        } else {
            file.parent().unwrap().join(path)
        };
        if !target.exists() {
            broken.push(format!("{}: {l}: no such file", file.display()));
        } else if !fragment.is_empty()
            && target.extension().is_some_and(|e| e == "md")
            && !heading_anchors(&std::fs::read_to_string(&target).unwrap()).contains(fragment)
        {
            broken.push(format!(
                "{}: {l}: no heading for #{fragment}",
                file.display()
            ));
        }
    }
    broken
}

/// The book builds with mdBook (a page SUMMARY.md names and the tree lacks
/// is an error), and no relative link or anchor in it, the README or
/// CONTRIBUTING.md points nowhere. Offline: links to the web are not
/// followed.
#[test]
fn the_book_builds_and_no_link_is_broken() {
    let out = tempfile::tempdir().expect("temp dir");
    let book = out.path().join("book");
    let build = Command::new(tool("mdbook"))
        .arg("build")
        .arg(repo().join("docs"))
        .arg("--dest-dir")
        .arg(&book)
        .output()
        .expect("mdbook");
    let log = format!("{}{}", text(&build.stdout), text(&build.stderr));
    assert!(build.status.success(), "mdbook build docs:\n{log}");
    assert!(!log.contains("WARN") && !log.contains("ERROR"), "{log}");
    for page in [
        "index.html",
        "reference/cli.html",
        "reference/results.schema.json",
    ] {
        assert!(book.join(page).is_file(), "the book has no {page}");
    }
    let mut broken = broken_links_in_book(&book);
    for file in ["README.md", "CONTRIBUTING.md"] {
        broken.extend(broken_links_in_markdown(&repo().join(file)));
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));

    // The checks can fail: a link to a page that is not there, and one to
    // an anchor no heading has.
    std::fs::write(
        out.path().join("a.md"),
        "# A\n\n[b](b.md) [self](#nowhere) [ok](#a)\n",
    )
    .unwrap();
    let found = broken_links_in_markdown(&out.path().join("a.md"));
    assert_eq!(found.len(), 2, "{found:?}");
    std::fs::write(
        book.join("probe.html"),
        r##"<a href="nowhere.html">x</a><a href="index.html#nowhere">y</a>"##,
    )
    .unwrap();
    assert_eq!(broken_links_in_book(&book).len(), 2);
}

/// Results files written by `matrix run` (a grid of builds; a grid of a
/// package row with a declaration error; one shard) and by `matrix merge`
/// (a shard missing) validate against the JSON Schema the book publishes,
/// and a file with a field the schema does not describe, or another schema
/// version, does not.
#[test]
fn results_files_validate_against_the_published_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    let here = dir.path();
    let schema = repo().join("docs/src/reference/results.schema.json");
    let run = |name: &str, config: &str, code: i32| -> PathBuf {
        let project = here.join(name);
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(project.join("matrix.toml"), config).unwrap();
        let out = matrix()
            .args(["run", "-q", "--color", "never", "--json", "results.json"])
            .current_dir(&project)
            .output()
            .expect("matrix run");
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        project.join("results.json")
    };
    // The starter `matrix init` writes: the sample, 4 × 4, with an
    // expected abi-major failure.
    let builds = run(
        "builds",
        &std::fs::read_to_string(repo().join("matrix.toml")).unwrap(),
        0,
    );
    let packages = run(
        "packages",
        "[python]\nversions = [\"3.9\"]\n[numpy]\nruntime = [\"1.19.*\", \"1.26.*\"]\n[extension]\nrequirement = \"numpy-quaternion==2021.11.4.15.26.3\"\nimports = [\"quaternion\"]\n",
        1,
    );
    let declarations = crate::common::read_json(&packages)["declarations"].clone();
    assert_eq!(declarations[0]["verdict"], "error", "{declarations}");

    let check = |files: &[&Path]| {
        Command::new(tool("check-jsonschema"))
            .arg("--schemafile")
            .arg(&schema)
            .args(files)
            .output()
            .expect("check-jsonschema")
    };
    // One shard of it, and `matrix merge` of that shard alone: a merged
    // file that says what is missing.
    let one = here.join("builds/shard-1.json");
    let out = matrix()
        .args(["run", "-q", "--color", "never", "--shard", "1/2", "--json"])
        .arg(&one)
        .current_dir(here.join("builds"))
        .output()
        .expect("matrix run --shard");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let merged = here.join("merged.json");
    let out = matrix()
        .args(["merge", "--color", "never", "-o"])
        .arg(&merged)
        .arg(&one)
        .output()
        .expect("matrix merge");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(crate::common::read_json(&merged)["complete"], false);

    let valid = check(&[&builds, &packages, &one, &merged]);
    assert!(
        valid.status.success(),
        "{}{}",
        text(&valid.stdout),
        text(&valid.stderr)
    );
    // What the schema does not describe fails it.
    let mut value = crate::common::read_json(&builds);
    value["cells"][0]["unknown_field"] = serde_json::json!(1);
    let extra = here.join("extra.json");
    std::fs::write(&extra, value.to_string()).unwrap();
    let mut value = crate::common::read_json(&builds);
    value["schema_version"] = serde_json::json!(2);
    let old = here.join("old.json");
    std::fs::write(&old, value.to_string()).unwrap();
    for bad in [&extra, &old] {
        let out = check(&[bad]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{} should not validate",
            bad.display()
        );
    }
}
