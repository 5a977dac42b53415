//! `matrix plan`: the shards of a matrix, as the JSON a GitHub Actions
//! job matrix takes, or as text for people.

use std::fmt::Write as _;

use crate::config::Config;
use crate::extension::Subject;
use crate::plan::ShardPlan;

/// The `include` list of a `strategy.matrix` (`fromJSON(...)`): each
/// shard's `shard`, `name` and the `python` versions it needs.
pub fn github(shards: &ShardPlan) -> String {
    let include: Vec<serde_json::Value> = (1..=shards.shards)
        .map(|k| {
            let pythons = shards.pythons_of(k);
            // setup-python takes versions, one per line.
            let versions: Vec<&str> = pythons
                .iter()
                .copied()
                .filter(|p| p.starts_with(|c: char| c.is_ascii_digit()))
                .collect();
            serde_json::json!({
                "shard": format!("{k}/{}", shards.shards),
                "index": k,
                "total": shards.shards,
                "name": shards.label_of(k),
                "python": pythons,
                "python-version": versions.join("\n"),
            })
        })
        .collect();
    format!("{}\n", serde_json::json!({ "include": include }))
}

/// Each shard, the Pythons it needs and its cells (as requested: versions
/// are resolved when the shard runs).
pub fn text(config: &Config, shards: &ShardPlan) -> String {
    let builds: Vec<String> = match &config.extension.subject {
        Subject::Rows(rows) => rows.iter().map(|r| r.written()).collect(),
        _ => config.build.iter().map(|b| b.value.to_string()).collect(),
    };
    let mut out = String::new();
    for k in 1..=shards.shards {
        let cells = shards.units_of(k).count() * builds.len();
        let _ = writeln!(
            out,
            "--shard {k}/{}  {}  ({cells} cell(s); Python {})",
            shards.shards,
            shards.label_of(k),
            shards.pythons_of(k).join(", ")
        );
        for u in shards.units_of(k) {
            for b in &builds {
                let _ = writeln!(out, "    {}: {b} → {}", u.python, u.runtime);
            }
        }
    }
    out
}
