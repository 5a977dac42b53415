//! The doctor's findings as JSON (`--json`): the whole diagnosis,
//! versioned.

use serde_json::{Value, json};

use super::*;

/// The schema of `--json`.
pub const SCHEMA: &str = "abimatrix.doctor";

fn outcome_json(o: &Outcome) -> Value {
    let mut v = json!({
        "outcome": o.kind(),
        "reason": o.reason(),
        "message": o.message(),
    });
    if let Outcome::Crash { signal, name, .. } = o {
        v["signal"] = json!(signal);
        v["signal_name"] = json!(name);
    }
    if let Outcome::Fail(f) = o {
        v["exception"] = json!(f.exception);
    }
    v
}

/// `--json`: the whole diagnosis, versioned.
pub fn render(d: &Diagnosis) -> String {
    let trials: Vec<Value> = d
        .trials
        .iter()
        .map(|t| {
            let mut v = outcome_json(&t.outcome);
            v["name"] = json!(t.name);
            v["version"] = json!(t.version);
            v["module"] = json!(t.module);
            v["modules"] = json!(t.modules);
            v["error"] = json!(t.error);
            v["missing_dependencies"] = json!(t.missing);
            v["failures"] = t
                .failures
                .iter()
                .map(|f| {
                    json!({
                        "module": f.module,
                        "raised": f.raised,
                        "reason": f.reason,
                        "message": f.message,
                        "error": f.error,
                        "missing": f.missing,
                    })
                })
                .collect();
            v["duration_s"] = json!((t.duration.as_secs_f64() * 1000.0).round() / 1000.0);
            v["command"] = json!(t.command);
            v["stdout"] = json!(t.stdout);
            v["stderr"] = json!(t.stderr);
            v
        })
        .collect();
    let issues: Vec<Value> = d
        .advice
        .iter()
        .flat_map(|a| &a.wrong_declarations)
        .map(|w| json!({"name": w.name, "version": w.version, "markdown": issue::render(d, w)}))
        .collect();
    let doc = json!({
        "schema": SCHEMA,
        "schema_version": 1,
        "environment": d.environment,
        "scan": d.scan,
        "trials": trials,
        "remedy": d.remedy,
        "remedy_error": d.remedy_error.as_ref().map(remedy_error_text),
        "advice": d.advice,
        "issues": issues,
        "ok": d.broken().next().is_none(),
        "duration_s": (d.duration.as_secs_f64() * 1000.0).round() / 1000.0,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
