//! `matrix plan`: the shards of a matrix, as the JSON a GitHub Actions
//! job matrix takes, or as text for people.

use std::fmt::Write as _;

use crate::config::Config;
use crate::extension::Subject;
use crate::plan::ShardPlan;

/// The Pythons shard `k` needs: its own, then the ones that build the rows
/// of a limited-API matrix (`build`), each once.
fn needed<'a>(shards: &'a ShardPlan, k: usize, build: &'a [String]) -> Vec<&'a str> {
    let mut pythons = shards.pythons_of(k);
    for b in build {
        if !pythons.contains(&b.as_str()) {
            pythons.push(b);
        }
    }
    pythons
}

/// The `include` list of a `strategy.matrix` (`fromJSON(...)`): each
/// shard's `shard`, `name` and the `python` versions it needs (with the
/// `build` Pythons of a limited-API matrix, which every shard builds on).
pub fn github(shards: &ShardPlan, build: &[String]) -> String {
    let include: Vec<serde_json::Value> = (1..=shards.shards)
        .map(|k| {
            let pythons = needed(shards, k, build);
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
pub fn text(config: &Config, shards: &ShardPlan, build: &[String]) -> String {
    let builds: Vec<String> = match &config.extension.subject {
        Subject::Rows(rows) => rows.iter().map(|r| r.written()).collect(),
        _ => config.build.iter().map(|b| b.value.to_string()).collect(),
    };
    let mut out = String::new();
    for k in 1..=shards.shards {
        let cells = shards.units_of(k).count() * builds.len();
        let own = shards.pythons_of(k);
        let builders: Vec<&str> = needed(shards, k, build).split_off(own.len());
        let _ = writeln!(
            out,
            "--shard {k}/{}  {}  ({cells} cell(s); Python {}{})",
            shards.shards,
            shards.label_of(k),
            own.join(", "),
            if builders.is_empty() {
                String::new()
            } else {
                format!("; rows built on {}", builders.join(", "))
            }
        );
        for u in shards.units_of(k) {
            for b in &builds {
                let _ = writeln!(out, "    {}: {b} → {}", u.python, u.runtime);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shard that does not own the build Python of a limited-API matrix
    /// still builds there: `matrix plan` gives its job that Python too
    /// (GitHub's `python` and `python-version`, and the text), once.
    #[test]
    fn every_shard_is_given_the_build_python() {
        let plan = ShardPlan::new(
            &["3.9".into(), "3.12".into()],
            &["1.26.*".into(), "2.0.*".into()],
            2,
        );
        let build = ["3.9".to_string()];
        let json: serde_json::Value = serde_json::from_str(&github(&plan, &build)).unwrap();
        let include = json["include"].as_array().unwrap();
        assert_eq!(include[0]["python"], serde_json::json!(["3.9"]));
        assert_eq!(include[1]["python"], serde_json::json!(["3.12", "3.9"]));
        assert_eq!(include[1]["python-version"], "3.12\n3.9");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.c"), "int x;").unwrap();
        let config = Config::parse(
            &dir.path().join("matrix.toml"),
            "[python]\nversions = [\"3.9\", \"3.12\"]\n[numpy]\nbuild = [\"2.0.2\"]\nruntime = [\"1.26.*\", \"2.0.*\"]\n[extension]\nmodule = \"m\"\nsources = [\"m.c\"]\nlimited-api = \"3.9\"\n",
        )
        .unwrap();
        let text = text(&config, &plan, &build);
        assert!(
            text.contains("--shard 1/2  3.9: 1.26.*, 2.0.*  (2 cell(s); Python 3.9)\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "--shard 2/2  3.12: 1.26.*, 2.0.*  (2 cell(s); Python 3.12; rows built on 3.9)\n"
            ),
            "{text}"
        );
    }
}
