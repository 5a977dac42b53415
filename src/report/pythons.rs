//! `matrix pythons`: every interpreter discovery found, and every
//! candidate it rejected with the reason, as a table or as JSON.

use std::fmt::Write as _;

use crate::python::Discovery;

use super::sanitize::shown;

/// One line per interpreter (version, implementation, arch, where it was
/// found, whether it can build), then the rejected candidates.
pub fn table(d: &Discovery) -> String {
    let bold = anstyle::Style::new().bold();
    let dim = anstyle::Style::new().dimmed();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{bold}{:<10} {:<14} {:<8} {:<9} {:<6} path{bold:#}",
        "version", "implementation", "arch", "found in", "build"
    );
    for f in &d.found {
        let i = &f.interpreter;
        let build = if i.python_h { "yes" } else { "no" };
        let place = if f.path == i.executable {
            i.executable.display().to_string()
        } else {
            format!("{} → {}", f.path.display(), i.executable.display())
        };
        let _ = writeln!(
            out,
            "{:<10} {:<14} {:<8} {:<9} {:<6} {place}",
            i.version.to_string(),
            i.implementation,
            i.machine,
            f.source.to_string(),
            build
        );
    }
    if !d.rejected.is_empty() {
        let _ = writeln!(out, "\n{bold}rejected{bold:#}");
        for r in &d.rejected {
            let _ = writeln!(
                out,
                "{} {dim}({}){dim:#}: {}",
                r.path.display(),
                r.source,
                shown(&r.reason.to_string())
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{dim}\"build\": Python.h is present, so extensions can be compiled for it{dim:#}"
    );
    out
}

/// The same, as JSON: `found` and `rejected`, each with where it was found.
pub fn json(d: &Discovery) -> String {
    let found: Vec<serde_json::Value> = d
        .found
        .iter()
        .map(|f| {
            serde_json::json!({
                "version": f.interpreter.version.to_string(),
                "implementation": f.interpreter.implementation,
                "machine": f.interpreter.machine,
                "executable": f.interpreter.executable,
                "found_at": f.path,
                "found_in": f.source.to_string(),
                "can_build": f.interpreter.python_h,
            })
        })
        .collect();
    let rejected: Vec<serde_json::Value> = d
        .rejected
        .iter()
        .map(|r| {
            serde_json::json!({
                "path": r.path,
                "found_in": r.source.to_string(),
                "reason": r.reason.to_string(),
            })
        })
        .collect();
    let doc = serde_json::json!({"found": found, "rejected": rejected});
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
