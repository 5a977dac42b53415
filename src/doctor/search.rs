//! The search for the oldest release of a broken package that imports
//! under the installed NumPy: pure logic, fed with the grids' verdicts by
//! `remedy`, so every step is unit-tested without an index.
//!
//! The search space is every release newer than the installed one that has
//! a wheel for the interpreter (yanked releases and releases without one
//! are left out by the caller, and reported). What is wanted is the start
//! of the run of passing releases that ends at the newest: `>=` that
//! release is an upgrade every installer may take. Releases are assumed to
//! be in order (once a release is built for the NumPy at hand, the next
//! ones are too), so the run's start is found by bisection: the newest is
//! tried first, then the middle of the releases between the newest failing
//! and the oldest passing ones, until they are neighbours. The assumption
//! is then checked where it matters: the release just above the boundary
//! and the one just below it are tried too. A failure above a pass moves
//! the boundary up (and the bisection goes on); a pass below a failure is
//! reported as out of order. A release that could not be installed is
//! left out and the bisection goes around it. At most [`MAX_TRIES`]
//! releases are tried per package: bisection over 256 releases needs 9
//! (the newest and 8 halvings) and the two neighbours make 11.

use pep440_rs::Version;

/// The most releases of one package tried under the installed NumPy.
pub const MAX_TRIES: usize = 12;

/// What one try said about a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// It imported.
    Pass,
    /// It ran and did not import, or its metadata forbids the installed
    /// NumPy (no installer would pick it).
    Fail,
    /// It could not be installed: says nothing either way.
    NotRun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Untried,
    Tried(Response),
}

/// The search's state: the releases (oldest first) and what is known of
/// each.
#[derive(Debug, Clone)]
pub struct Search {
    versions: Vec<Version>,
    states: Vec<State>,
    tries: usize,
    max: usize,
}

/// Where the search ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conclusion {
    /// The start of the run of passes that ends at the newest release.
    pub oldest_passing: Option<Version>,
    /// The release tried just below it, which did not pass (`None`: the
    /// installed release is the one below).
    pub fails_below: Option<Version>,
    /// Every release between the two was tried (false: the limit on tries
    /// was reached first, and older releases may pass too).
    pub narrowed: bool,
    /// Releases that passed below one that failed: the releases are not in
    /// order there, and `>=` them would take the failing one.
    pub out_of_order: Vec<Version>,
}

impl Search {
    /// A search over `versions` (any order) with at most `max` tries.
    pub fn new(mut versions: Vec<Version>, max: usize) -> Search {
        versions.sort();
        versions.dedup();
        let states = vec![State::Untried; versions.len()];
        Search {
            versions,
            states,
            tries: 0,
            max,
        }
    }

    /// Records what trying `version` said.
    pub fn record(&mut self, version: &Version, verdict: Response) {
        if let Ok(i) = self.versions.binary_search(version) {
            if self.states[i] == State::Untried {
                self.tries += 1;
            }
            self.states[i] = State::Tried(verdict);
        }
    }

    /// Indices that count: everything but releases that could not be
    /// installed.
    fn live(&self) -> impl DoubleEndedIterator<Item = usize> + '_ {
        (0..self.versions.len()).filter(|&i| self.states[i] != State::Tried(Response::NotRun))
    }

    /// The start of the passing run from the newest, and the failure below
    /// it (by index); `None` when the newest live release is untried or
    /// did not pass.
    fn boundary(&self) -> Option<(usize, Option<usize>)> {
        let mut start = None;
        for i in self.live().rev() {
            match self.states[i] {
                // The newest untried: nothing is known yet.
                State::Untried => {
                    start?;
                }
                State::Tried(Response::Pass) => start = Some(i),
                State::Tried(_) => return start.map(|s| (s, Some(i))),
            }
        }
        start.map(|s| (s, None))
    }

    fn untried_between(&self, below: Option<usize>, start: usize) -> Vec<usize> {
        self.live()
            .filter(|&i| below.is_none_or(|b| i > b) && i < start)
            .filter(|&i| self.states[i] == State::Untried)
            .collect()
    }

    /// The releases to try next (tried together), newest first; empty when
    /// the search is over.
    pub fn next(&self) -> Vec<Version> {
        let budget = self.max.saturating_sub(self.tries);
        if budget == 0 {
            return Vec::new();
        }
        let Some(top) = self.live().next_back() else {
            return Vec::new();
        };
        let picks: Vec<usize> = match self.boundary() {
            None if self.states[top] == State::Untried => vec![top],
            // The newest does not pass: no upgrade does.
            None => Vec::new(),
            Some((start, below)) => {
                let between = self.untried_between(below, start);
                if !between.is_empty() {
                    vec![between[between.len() / 2]]
                } else {
                    // Adjacent: check the order on both sides once.
                    let above = self.live().find(|&i| i > start);
                    let under = below.and_then(|b| self.live().rev().find(|&i| i < b));
                    [above, under]
                        .into_iter()
                        .flatten()
                        .filter(|&i| self.states[i] == State::Untried)
                        .collect()
                }
            }
        };
        picks
            .into_iter()
            .take(budget)
            .map(|i| self.versions[i].clone())
            .collect()
    }

    /// What the tries so far establish.
    pub fn conclusion(&self) -> Conclusion {
        let Some((start, below)) = self.boundary() else {
            return Conclusion {
                oldest_passing: None,
                fails_below: None,
                narrowed: false,
                out_of_order: Vec::new(),
            };
        };
        let out_of_order = match below {
            Some(b) => (0..b)
                .filter(|&i| self.states[i] == State::Tried(Response::Pass))
                .map(|i| self.versions[i].clone())
                .collect(),
            None => Vec::new(),
        };
        Conclusion {
            oldest_passing: Some(self.versions[start].clone()),
            fails_below: below.map(|b| self.versions[b].clone()),
            narrowed: self.untried_between(below, start).is_empty(),
            out_of_order,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(list: &[&str]) -> Vec<Version> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    /// Runs the search against `truth` (a release passes when `truth`
    /// says so; `None`: it cannot be installed) and returns the releases
    /// tried, in order, and the conclusion.
    fn run(
        list: &[&str],
        max: usize,
        truth: impl Fn(&str) -> Option<bool>,
    ) -> (Vec<String>, Conclusion) {
        let mut s = Search::new(versions(list), max);
        let mut tried = Vec::new();
        loop {
            let next = s.next();
            if next.is_empty() {
                break;
            }
            for v in next {
                let verdict = match truth(&v.to_string()) {
                    Some(true) => Response::Pass,
                    Some(false) => Response::Fail,
                    None => Response::NotRun,
                };
                tried.push(v.to_string());
                s.record(&v, verdict);
            }
        }
        (tried, s.conclusion())
    }

    /// The h5py case of issue 21: 3.10.0 fails, 3.11.0 passes (3.12.0,
    /// yanked, is not among the releases).
    const H5PY: [&str; 8] = [
        "3.10.0", "3.11.0", "3.12.1", "3.13.0", "3.14.0", "3.15.1", "3.16.0", "3.9.0",
    ];

    #[test]
    fn bisection_finds_the_oldest_release_of_the_passing_run() {
        let newer: Vec<&str> = H5PY.iter().copied().filter(|v| *v != "3.9.0").collect();
        let passes = |v: &str| Some(v.parse::<Version>().unwrap() >= "3.11.0".parse().unwrap());
        let (tried, c) = run(&newer, MAX_TRIES, passes);
        // The newest, then halvings, then the boundary's neighbours.
        assert_eq!(tried, ["3.16.0", "3.13.0", "3.11.0", "3.10.0", "3.12.1"]);
        assert_eq!(c.oldest_passing, Some("3.11.0".parse().unwrap()));
        assert_eq!(c.fails_below, Some("3.10.0".parse().unwrap()));
        assert!(c.narrowed);
        assert!(c.out_of_order.is_empty());
    }

    #[test]
    fn many_releases_take_few_tries() {
        let list: Vec<String> = (0..256).map(|i| format!("1.{i}.0")).collect();
        let refs: Vec<&str> = list.iter().map(String::as_str).collect();
        for boundary in [0, 1, 77, 128, 254, 255] {
            let passes = |v: &str| {
                let minor: usize = v.split('.').nth(1).unwrap().parse().unwrap();
                Some(minor >= boundary)
            };
            let (tried, c) = run(&refs, MAX_TRIES, passes);
            assert!(tried.len() <= 11, "{boundary}: {tried:?}");
            assert_eq!(
                c.oldest_passing.map(|v| v.to_string()),
                Some(format!("1.{boundary}.0"))
            );
            assert!(c.narrowed, "{boundary}");
        }
    }

    #[test]
    fn every_release_passing_ends_at_the_oldest() {
        let (tried, c) = run(&["1.0", "1.1", "1.2"], MAX_TRIES, |_| Some(true));
        assert_eq!(tried, ["1.2", "1.1", "1.0"]);
        assert_eq!(c.oldest_passing, Some("1.0".parse().unwrap()));
        assert_eq!(c.fails_below, None, "the installed release is below");
    }

    #[test]
    fn a_failing_newest_release_ends_the_search() {
        let (tried, c) = run(&["1.0", "1.1", "1.2"], MAX_TRIES, |_| Some(false));
        assert_eq!(tried, ["1.2"]);
        assert_eq!(c.oldest_passing, None);
        assert!(run(&[], MAX_TRIES, |_| Some(true)).0.is_empty());
    }

    #[test]
    fn a_failure_above_the_boundary_moves_it_up() {
        // 1.4 fails between passes: >=1.3 would take it.
        let list = ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7"];
        let passes = |v: &str| Some(!["1.0", "1.1", "1.2", "1.4"].contains(&v));
        let (tried, c) = run(&list, MAX_TRIES, passes);
        assert_eq!(tried, ["1.7", "1.3", "1.1", "1.2", "1.4", "1.6", "1.5"]);
        assert_eq!(c.oldest_passing, Some("1.5".parse().unwrap()));
        assert_eq!(c.fails_below, Some("1.4".parse().unwrap()));
        // 1.3 passes below 1.4's failure: said, not recommended.
        assert_eq!(c.out_of_order, [Version::new([1, 3])]);
    }

    #[test]
    fn a_release_that_cannot_be_installed_is_gone_around() {
        let list = ["1.0", "1.1", "1.2", "1.3", "1.4"];
        let truth = |v: &str| match v {
            "1.2" => None,
            _ => Some(v >= "1.3"),
        };
        let (tried, c) = run(&list, MAX_TRIES, truth);
        assert_eq!(c.oldest_passing, Some("1.3".parse().unwrap()), "{tried:?}");
        assert_eq!(c.fails_below, Some("1.1".parse().unwrap()));
        assert!(c.narrowed);
        let (_, c) = run(&list, MAX_TRIES, |_| None);
        assert_eq!(c.oldest_passing, None);
    }

    #[test]
    fn the_limit_on_tries_is_kept_and_said() {
        let list: Vec<String> = (0..100).map(|i| format!("2.{i}")).collect();
        let refs: Vec<&str> = list.iter().map(String::as_str).collect();
        let passes = |v: &str| Some(v.split('.').nth(1).unwrap().parse::<u32>().unwrap() >= 40);
        let (tried, c) = run(&refs, 3, passes);
        assert_eq!(tried.len(), 3);
        assert!(!c.narrowed);
        // What was established still holds: a pass with only passes above.
        let start: u32 = c.oldest_passing.unwrap().to_string()[2..].parse().unwrap();
        assert!(start >= 40);
    }
}
