//! Splitting a matrix into shards for a CI job matrix, from the config
//! alone.
//!
//! The unit of work a shard owns is a (Python request, runtime NumPy
//! request) pair, in the order the config lists them. Units are known
//! without resolving a version or finding an interpreter, so `matrix plan`
//! needs nothing but the file, every shard of a run agrees on who owns what
//! whatever its machine found, and a results document can say which units
//! (and so which cells) a lost shard would have held.
//!
//! Shards take contiguous runs of units, so a shard needs as few Pythons as
//! it can (each Python's builds are made once per shard), and a runtime
//! environment is never split across shards. There are never more shards
//! than units.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Shard K of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: usize,
    pub total: usize,
}

impl Shard {
    /// Whether the `unit`th of `units` belongs to this shard: units are cut
    /// into `total` contiguous runs whose lengths differ by at most one.
    pub fn owns(self, unit: usize, units: usize) -> bool {
        units > 0 && owner(unit, units, self.total) == self.index
    }
}

/// The 1-based shard that owns `unit` of `units` split `total` ways.
fn owner(unit: usize, units: usize, total: usize) -> usize {
    unit * total / units + 1
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("expected K/N like 2/3, got \"{text}\""))?;
        let index: usize = k
            .trim()
            .parse()
            .map_err(|_| format!("invalid shard number \"{k}\""))?;
        let total: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("invalid shard count \"{n}\""))?;
        if total == 0 || index == 0 || index > total {
            return Err(format!(
                "shard {index}/{total} does not exist: K must be 1 to N"
            ));
        }
        Ok(Shard { index, total })
    }
}

/// One unit: a Python request and a runtime NumPy request, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Unit {
    pub python: String,
    pub runtime: String,
    /// The 1-based shard that owns it (1 when the run is not sharded).
    pub shard: usize,
}

/// A matrix cut into shards: every unit and its owner. Results documents
/// carry it, so a merge knows what a complete set of shards holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct ShardPlan {
    /// How many shards the matrix was cut into (1: not sharded).
    pub shards: usize,
    /// The Pythons and runtime requests units are made of, in order.
    pub pythons: Vec<String>,
    pub runtimes: Vec<String>,
    /// Every (Python, runtime) pair, Python-major.
    pub units: Vec<Unit>,
}

impl ShardPlan {
    /// `pythons` × `runtimes` cut into `shards` (at most one per unit).
    pub fn new(pythons: &[String], runtimes: &[String], shards: usize) -> ShardPlan {
        let count = pythons.len() * runtimes.len();
        let shards = shards.clamp(1, count.max(1));
        let units = pythons
            .iter()
            .flat_map(|p| runtimes.iter().map(move |r| (p, r)))
            .enumerate()
            .map(|(u, (p, r))| Unit {
                python: p.clone(),
                runtime: r.clone(),
                shard: owner(u, count, shards),
            })
            .collect();
        ShardPlan {
            shards,
            pythons: pythons.to_vec(),
            runtimes: runtimes.to_vec(),
            units,
        }
    }

    /// The shard that owns the unit of `python` (an entry of `pythons`)
    /// and `runtime` (of `runtimes`), if the plan has it.
    pub fn owner_of(&self, python: &str, runtime: &str) -> Option<usize> {
        self.units
            .iter()
            .find(|u| u.python == python && u.runtime == runtime)
            .map(|u| u.shard)
    }

    /// The units of shard `k` (1-based).
    pub fn units_of(&self, k: usize) -> impl Iterator<Item = &Unit> {
        self.units.iter().filter(move |u| u.shard == k)
    }

    /// The Python requests shard `k` needs, each once, in config order.
    pub fn pythons_of(&self, k: usize) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for u in self.units_of(k) {
            if !out.contains(&u.python.as_str()) {
                out.push(&u.python);
            }
        }
        out
    }

    /// A shard's label, as a CI job is named: its Pythons and columns
    /// ("3.11: 1.26.*, 2.0.*; 3.12: 1.26.*").
    pub fn label_of(&self, k: usize) -> String {
        self.pythons_of(k)
            .iter()
            .map(|p| {
                let columns: Vec<&str> = self
                    .units_of(k)
                    .filter(|u| u.python == *p)
                    .map(|u| u.runtime.as_str())
                    .collect();
                format!("{p}: {}", columns.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn shards_are_parsed_and_checked() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, total: 3 }));
        for bad in ["0/3", "4/3", "1/0", "x/2", "3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn units_are_cut_into_contiguous_balanced_runs() {
        let plan = ShardPlan::new(
            &strings(&["3.11", "3.12"]),
            &strings(&["1.26.*", "2.0.*", "2.2.*"]),
            4,
        );
        let owners: Vec<usize> = plan.units.iter().map(|u| u.shard).collect();
        assert_eq!(owners, [1, 1, 2, 3, 3, 4]);
        assert_eq!(plan.pythons_of(2), ["3.11"]);
        assert_eq!(plan.pythons_of(3), ["3.12"]);
        assert_eq!(plan.label_of(1), "3.11: 1.26.*, 2.0.*");
        // `owns` agrees with the plan, for every shard and unit.
        for k in 1..=4 {
            let s = Shard { index: k, total: 4 };
            for (u, unit) in plan.units.iter().enumerate() {
                assert_eq!(s.owns(u, 6), unit.shard == k);
            }
        }
    }

    #[test]
    fn never_more_shards_than_units() {
        let plan = ShardPlan::new(
            &strings(&["3.12"]),
            &strings(&["1.26.*", "2.0.*", "2.2.*"]),
            5,
        );
        assert_eq!(plan.shards, 3);
        assert!((1..=3).all(|k| plan.units_of(k).count() == 1));
        assert_eq!(
            ShardPlan::new(&strings(&["3.12"]), &strings(&["2.0.*"]), 0).shards,
            1
        );
    }
}
