//! A newcomer's first hour (issue 22): each first mistake answered where it
//! happens, every printed command re-runnable. Every test starts `matrix`
//! in the project's folder with relative paths, as a user types it, and
//! asserts the exact words the user reads.

use crate::common::{Project, text};

const SAMPLE_NUMPY: &str =
    "[numpy]\nbuild = [\"1.26.*\", \"2.0.*\"]\nruntime = [\"1.26.*\", \"2.0.*\"]\n";

/// `matrix init` in the project's folder says to run the file it wrote
/// the way `matrix run` finds it there: no `-c` for `./matrix.toml`.
#[test]
fn init_says_how_to_run_it_from_here() {
    let p = Project::new();
    let out = p.matrix_here(&["init"]);
    assert_eq!(
        text(&out.stdout),
        "wrote matrix.toml; run it with: matrix run\n"
    );
    let out = p.matrix_here(&["init", "other.toml"]);
    assert_eq!(
        text(&out.stdout),
        "wrote other.toml; run it with: matrix run -c other.toml\n"
    );
}

/// `-k` runs part of the grid: the cells it did not select are `–` and the
/// legend says so, in the terminal, Markdown and HTML alike; the answer
/// says it is read from the selected cells only.
#[test]
fn a_selected_grid_reads_as_one() {
    let p = Project::new();
    p.write("matrix.toml", SAMPLE_NUMPY);
    let run = p.run_here(&[
        "-k",
        "2.0.*:1.26.*",
        "--markdown",
        "grid.md",
        "--html",
        "grid.html",
    ]);
    assert_eq!(run.code(), Some(0), "{}", run.dump());
    let stdout = run.stdout();
    let legend = "✓ pass  ✗ fail  ☠ crash  ◷ timeout  ⚒ build-failed  · unavailable  ! not what was expected  – not selected by -k 2.0.*:1.26.*";
    let grid: Vec<&str> = stdout.lines().skip(1).take(4).collect();
    assert_eq!(
        grid,
        [
            "built with ↓ / runs on →  1.26.4  2.0.2",
            "1.26.4                        –      – ",
            "2.0.2                         ✓      – ",
            legend,
        ],
        "{}",
        run.dump()
    );
    assert!(
        stdout.contains(
            "answer, from the selected cells only (-k 2.0.*:1.26.*):\n    built against 2.0.2: works on numpy >=1.26.4 (1 of 1 tested release passes)\n    numpy 1.26.4 runs builds from 2.0.2 up\n\n"
        ),
        "{}",
        run.dump()
    );
    let md = p.read("grid.md");
    assert!(
        md.contains("| **1.26.4** | – | – |\n| **2.0.2** | ✓ | – |\n"),
        "{md}"
    );
    // Markdown escapes `*`, which would start emphasis.
    let escaped = legend.replace('*', "\\*");
    assert!(md.contains(&format!("\n{escaped}\n")), "{md}");
    assert!(
        md.contains("**The answer**, from the selected cells only (-k 2.0.\\*:1.26.\\*)\n"),
        "{md}"
    );
    let html = p.read("grid.html");
    assert!(
        html.contains("<td class=\"absent\">–</td><td class=\"absent\">–</td></tr>"),
        "{html}"
    );
    assert!(
        html.contains(&format!("<p class=\"legend\">{legend}</p>")),
        "{html}"
    );
    assert!(
        html.contains("<h3>The answer, from the selected cells only (-k 2.0.*:1.26.*)</h3>"),
        "{html}"
    );
}
