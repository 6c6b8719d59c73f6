//! `--partition count:K/N` and `--partition hash:K/N`: run one shard of the
//! selected tests, as `cargo nextest run --partition` does, so that N CI
//! machines share a suite and `cargo sockcheck report --merge` joins their
//! reports.
//!
//! Every shard lists and selects the same tests, then keeps its part:
//!
//! - `count:K/N` sorts the selected tests by `binary::name` and keeps those
//!   at positions K-1, K-1+N, K-1+2N, ...: shards differ in size by at most
//!   one test. Adding a test moves the tests after it to other shards.
//! - `hash:K/N` keeps the tests whose `binary::name` hashes to K-1 modulo N,
//!   with 64-bit FNV-1a: a test stays on its shard whatever other tests come
//!   and go, and the hash is the same on every machine and in every
//!   sockcheck version (unlike `std::hash`, which promises neither).
//!
//! The shard is cut after name filters, `--skip` and `--ignored`, and before
//! the run: tests of other shards do not appear in the report at all, so the
//! shards' reports merge without duplicates.

use crate::cargo::TestBinary;
use crate::list::TestCase;
use sockcheck::report::sites::fnv1a;
use std::fmt;
use std::str::FromStr;

/// How to split the tests, and which shard to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// How tests are dealt to shards.
    pub strategy: Strategy,
    /// The shard to run, from 1 to `total`.
    pub shard: u64,
    /// Number of shards.
    pub total: u64,
}

/// How tests are dealt to shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Round-robin over the tests sorted by name.
    Count,
    /// By a stable hash of the test's name.
    Hash,
}

impl FromStr for Partition {
    type Err = String;

    /// Parses `count:K/N` or `hash:K/N`, with 1 ≤ K ≤ N.
    fn from_str(text: &str) -> Result<Partition, String> {
        let expected = "expected `count:K/N` or `hash:K/N` with 1 <= K <= N";
        let (strategy, fraction) = text
            .split_once(':')
            .ok_or_else(|| format!("`{text}`: {expected}"))?;
        let strategy = match strategy {
            "count" => Strategy::Count,
            "hash" => Strategy::Hash,
            other => return Err(format!("unknown partition strategy `{other}`: {expected}")),
        };
        let number = |part: &str| part.trim().parse::<u64>().ok().filter(|&n| n > 0);
        let (shard, total) = fraction
            .split_once('/')
            .and_then(|(k, n)| Some((number(k)?, number(n)?)))
            .ok_or_else(|| format!("`{text}`: {expected}"))?;
        if shard > total {
            return Err(format!(
                "`{text}`: shard {shard} of {total} does not exist; {expected}"
            ));
        }
        Ok(Partition {
            strategy,
            shard,
            total,
        })
    }
}

impl fmt::Display for Partition {
    /// `count:1/2`, as on the command line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let strategy = match self.strategy {
            Strategy::Count => "count",
            Strategy::Hash => "hash",
        };
        write!(f, "{strategy}:{}/{}", self.shard, self.total)
    }
}

impl Partition {
    /// True when this shard runs the test named `full_name` (`binary::name`)
    /// found at `position` in the selected tests sorted by that name.
    pub fn keeps(&self, position: usize, full_name: &str) -> bool {
        let slot = match self.strategy {
            Strategy::Count => position as u64 % self.total,
            Strategy::Hash => fnv1a(full_name.as_bytes()) % self.total,
        };
        slot == self.shard - 1
    }

    /// The tests of `tests` this shard runs, in their order. Tests are
    /// sorted by `binary::name`; two test binaries of the same name (in two
    /// packages) are told apart by package name, then by path.
    pub fn select(&self, tests: Vec<TestCase>, binaries: &[TestBinary]) -> Vec<TestCase> {
        let key = |test: &TestCase| {
            let binary = &binaries[test.binary];
            (
                format!("{}::{}", binary.name, test.name),
                binary.package_name.clone(),
                binary.path.clone(),
            )
        };
        let mut by_name: Vec<usize> = (0..tests.len()).collect();
        by_name.sort_by_cached_key(|&i| key(&tests[i]));
        let mut kept = vec![false; tests.len()];
        for (position, &i) in by_name.iter().enumerate() {
            kept[i] = self.keeps(position, &key(&tests[i]).0);
        }
        tests
            .into_iter()
            .zip(kept)
            .filter_map(|(test, kept)| kept.then_some(test))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn binary(name: &str, package: &str) -> TestBinary {
        TestBinary {
            name: name.into(),
            path: PathBuf::from(format!("/t/{package}/{name}")),
            package_root: PathBuf::from(format!("/src/{package}")),
            package_name: package.into(),
            package_version: "0.1.0".into(),
            bin_exes: Vec::new(),
        }
    }

    fn case(binary: usize, name: &str) -> TestCase {
        TestCase {
            binary,
            name: name.into(),
            ignored: false,
        }
    }

    fn names(tests: &[TestCase], binaries: &[TestBinary]) -> Vec<String> {
        tests
            .iter()
            .map(|t| format!("{}::{}", binaries[t.binary].name, t.name))
            .collect()
    }

    #[test]
    fn count_and_hash_parse_with_one_based_shards() {
        assert_eq!(
            "count:1/2".parse(),
            Ok(Partition {
                strategy: Strategy::Count,
                shard: 1,
                total: 2
            })
        );
        let hash: Partition = "hash:3/3".parse().unwrap();
        assert_eq!(
            (hash.strategy, hash.shard, hash.total),
            (Strategy::Hash, 3, 3)
        );
        assert_eq!(hash.to_string(), "hash:3/3");
    }

    #[test]
    fn bad_partitions_are_rejected_with_the_expected_form() {
        for bad in [
            "count",
            "count:",
            "count:1",
            "count:0/2",
            "count:3/2",
            "count:1/0",
            "count:a/2",
            "slice:1/2",
            "1/2",
            "count:-1/2",
        ] {
            let err = bad.parse::<Partition>().unwrap_err();
            assert!(err.contains("count:K/N"), "{bad}: {err}");
        }
        assert!("slice:1/2"
            .parse::<Partition>()
            .unwrap_err()
            .starts_with("unknown partition strategy `slice`"));
    }

    #[test]
    fn count_deals_the_sorted_names_round_robin_and_keeps_listing_order() {
        let binaries = [binary("net", "a"), binary("disk", "a")];
        // Listing order: net first; sorted by name: disk::x, disk::y, net::a, net::b, net::c.
        let tests = vec![
            case(0, "c"),
            case(0, "a"),
            case(0, "b"),
            case(1, "y"),
            case(1, "x"),
        ];
        let first = "count:1/2".parse::<Partition>().unwrap();
        let second = "count:2/2".parse::<Partition>().unwrap();
        assert_eq!(
            names(&first.select(tests.clone(), &binaries), &binaries),
            ["net::c", "net::a", "disk::x"]
        );
        assert_eq!(
            names(&second.select(tests, &binaries), &binaries),
            ["net::b", "disk::y"]
        );
    }

    #[test]
    fn every_test_lands_in_exactly_one_shard() {
        let binaries = [binary("net", "a"), binary("net", "b"), binary("disk", "a")];
        let tests: Vec<TestCase> = (0..3)
            .flat_map(|b| (0..40).map(move |i| case(b, &format!("mod{}::t{i}", i % 3))))
            .collect();
        for strategy in ["count", "hash"] {
            for total in 1..=4u64 {
                let mut seen = vec![0; tests.len()];
                for shard in 1..=total {
                    let partition: Partition =
                        format!("{strategy}:{shard}/{total}").parse().unwrap();
                    let kept = partition.select(tests.clone(), &binaries);
                    if strategy == "count" {
                        let even = tests.len() as u64 / total;
                        assert!((even..=even + 1).contains(&(kept.len() as u64)));
                    }
                    for test in kept {
                        let i = tests.iter().position(|t| *t == test).unwrap();
                        seen[i] += 1;
                    }
                }
                assert!(
                    seen.iter().all(|&n| n == 1),
                    "{strategy} /{total}: {seen:?}"
                );
            }
        }
    }

    #[test]
    fn hash_shards_do_not_depend_on_the_other_tests() {
        let binaries = [binary("net", "a")];
        let partition: Partition = "hash:2/3".parse().unwrap();
        let all: Vec<TestCase> = (0..30).map(|i| case(0, &format!("t{i}"))).collect();
        let kept_all = partition.select(all.clone(), &binaries);
        let kept_some = partition.select(all[10..].to_vec(), &binaries);
        let expected: Vec<&TestCase> = kept_all.iter().filter(|t| all[10..].contains(t)).collect();
        assert_eq!(kept_some.iter().collect::<Vec<_>>(), expected);
        assert!(!kept_all.is_empty() && kept_all.len() < all.len());
    }
}
