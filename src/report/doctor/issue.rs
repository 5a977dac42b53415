//! An issue report for a package whose declared NumPy requirement admits
//! a NumPy it fails under, fit to paste into its tracker (in `--markdown`
//! and `--json`).

use std::fmt::Write as _;

use super::markdown::{fenced, md_grid};
use super::*;
use crate::doctor::advice::WrongDeclaration;

/// An issue report for a package whose declared NumPy requirement admits
/// a NumPy it fails under: what was installed, the exact error, the grid.
pub fn render(d: &Diagnosis, w: &WrongDeclaration) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Issue report: {} {} fails under numpy {} which its metadata allows\n",
        w.name,
        w.version,
        w.fails_under.join(", ")
    );
    let declared = if w.declared.is_empty() {
        "(no numpy requirement)".to_string()
    } else {
        w.declared.join("; ")
    };
    let _ = writeln!(
        out,
        "`{} {}` declares `{}`, which admits numpy {}, but importing it under {} fails. \
         Installers trust the declaration, so users get this combination without any warning.\n",
        w.name,
        w.version,
        declared,
        w.fails_under.join(", "),
        if w.fails_under.len() == 1 {
            "that version"
        } else {
            "those versions"
        }
    );
    let _ = writeln!(
        out,
        "**Installed**: CPython {} on {}-{}, numpy {}, {} {} (wheels from PyPI).\n",
        d.environment.version,
        std::env::consts::OS,
        std::env::consts::ARCH,
        d.scan.numpy.as_deref().unwrap_or("none"),
        w.name,
        w.version
    );
    // The error in the user's environment, unless it is another
    // package's absence (never quoted: it is not the maintainer's NumPy
    // problem); else the grid's, made with the dependencies installed.
    let here = d
        .trials
        .iter()
        .find(|t| t.name == w.name && !t.passed() && t.missing.is_empty() && !t.error.is_empty());
    if let Some(t) = here {
        let _ = writeln!(
            out,
            "**The error** (`{}` raised it):\n\n{}\n",
            t.module.as_deref().unwrap_or(&t.name),
            fenced(&t.error)
        );
    } else if let Some(c) = d
        .remedy
        .iter()
        .flat_map(|r| &r.grids)
        .filter(|g| g.name == w.name)
        .flat_map(|g| g.cells.iter().filter(|c| g.numpy_caused(c)))
        .next()
    {
        let error = if c.error.is_empty() {
            &c.message
        } else {
            &c.error
        };
        let _ = writeln!(
            out,
            "**The error** (under numpy {}, in a fresh environment with its dependencies installed):\n\n{}\n",
            c.numpy,
            fenced(error)
        );
    }
    if let Some(r) = &d.remedy {
        let one = Remedy {
            columns: r.columns.clone(),
            grids: r
                .grids
                .iter()
                .filter(|g| g.name == w.name)
                .cloned()
                .collect(),
            ..Remedy::default()
        };
        let _ = writeln!(
            out,
            "**The grid** (`{} {}` from PyPI imported, with each compiled module that uses NumPy's C API, under each NumPy, each in a fresh environment):\n",
            w.name, w.version
        );
        md_grid(&mut out, &one);
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Suggested fix: an upper bound on numpy in the metadata of {} {} (and new releases built against NumPy 2).\n\n*Measured with `matrix doctor` (abimatrix).*",
        w.name, w.version
    );
    out
}
