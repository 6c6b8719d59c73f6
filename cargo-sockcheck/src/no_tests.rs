//! A run whose filters, skips and partition select no test: by default an
//! error (exit status 4, as nextest's "no tests run"), since a typo in a
//! filter would otherwise pass as a clean run. The message names what
//! selected nothing, and two hints say what was probably meant: a filter
//! one edit away from a subcommand (`cargo sockcheck reprot` runs the tests
//! matching `reprot`, not `report`), and the test names nearest to the
//! filters.

use crate::cli;
use crate::list::Selection;
use crate::partition::Partition;
use clap::CommandFactory;
use sockcheck::report::words::counted;

/// `no tests to run: no test of 13 (in 3 binaries) matches the filter
/// `reprot``, naming what did the selecting.
pub fn message(
    selection: &Selection,
    partition: Option<&Partition>,
    listed: usize,
    binaries: usize,
) -> String {
    let mut why = Vec::new();
    if !selection.filters.is_empty() {
        let filters: Vec<String> = selection.filters.iter().map(|f| format!("`{f}`")).collect();
        let exactly = if selection.exact { " exactly" } else { "" };
        let noun = if filters.len() == 1 {
            "the filter"
        } else {
            "the filters"
        };
        why.push(format!("matches{exactly} {noun} {}", filters.join(", ")));
    }
    if !selection.skip.is_empty() {
        let skips: Vec<String> = selection.skip.iter().map(|s| format!("`{s}`")).collect();
        why.push(format!("is left after --skip {}", skips.join(", ")));
    }
    if selection.only_ignored {
        why.push("is ignored (--ignored)".to_owned());
    }
    if let Some(partition) = partition {
        why.push(format!("falls in partition {partition}"));
    }
    let of = format!(
        "of {} (in {})",
        counted(listed, "test"),
        counted(binaries, "binary")
    );
    if why.is_empty() {
        format!("no tests to run: no test {of} is to run")
    } else {
        format!("no tests to run: no test {of} {}", why.join(" and "))
    }
}

/// `did you mean `cargo sockcheck report`?` when one of `filters` is one
/// edit (a letter added, dropped, changed, or two swapped) from a
/// subcommand's name.
pub fn subcommand_hint(filters: &[String]) -> Option<String> {
    let command = cli::Cargo::command();
    let sockcheck = command.find_subcommand("sockcheck")?;
    filters.iter().find_map(|filter| {
        sockcheck
            .get_subcommands()
            .map(|sub| sub.get_name())
            .find(|name| strsim::osa_distance(filter, name) == 1)
            .map(|name| {
                format!(
                    "`{filter}` was taken as a test filter; did you mean `cargo sockcheck {name}`?"
                )
            })
    })
}

/// Test names suggested at most.
const NEAREST_LISTED: usize = 3;

/// `did you mean `echo::shared_server_a` or `echo::shared_server_b`?`:
/// the tests, as `binary::name`, that need the fewest edits for one of the
/// selection's filters to match them, when that is few (a quarter of the
/// filter's length, at least one edit). None without filters.
pub fn nearest_tests<'a>(
    selection: &Selection,
    tests: impl Iterator<Item = (&'a str, &'a str)>,
) -> Option<String> {
    let mut near: Vec<(usize, String)> = Vec::new();
    for (binary, name) in tests {
        let full = format!("{binary}::{name}");
        let distance = selection
            .filters
            .iter()
            .filter(|filter| !selection.matches(filter, binary, name))
            .map(|filter| (edits_to_occur_in(filter, &full), filter.chars().count()))
            .filter(|&(edits, length)| edits <= (length / 4).max(1))
            .map(|(edits, _)| edits)
            .min();
        if let Some(distance) = distance {
            near.push((distance, full));
        }
    }
    near.sort_by(|a, b| (a.0, a.1.len(), &a.1).cmp(&(b.0, b.1.len(), &b.1)));
    near.dedup_by(|a, b| a.1 == b.1);
    let names: Vec<String> = near
        .into_iter()
        .take(NEAREST_LISTED)
        .map(|(_, name)| format!("`{name}`"))
        .collect();
    let (last, first) = names.split_last()?;
    if first.is_empty() {
        Some(format!("did you mean {last}?"))
    } else {
        Some(format!("did you mean {} or {last}?", first.join(", ")))
    }
}

/// The fewest edits (a character added, dropped or changed) that make
/// `pattern` occur in `text`: Sellers' approximate substring matching, a
/// Levenshtein distance in which the match may start and end anywhere in
/// `text`. A filter is a substring, so the whole name is not compared.
fn edits_to_occur_in(pattern: &str, text: &str) -> usize {
    let text: Vec<char> = text.chars().collect();
    // `row[j]`: edits for the pattern so far to end at text[..j].
    let mut row = vec![0; text.len() + 1];
    for (i, p) in pattern.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &t) in text.iter().enumerate() {
            let substituted = diagonal + usize::from(p != t);
            diagonal = row[j + 1];
            row[j + 1] = substituted.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row.into_iter().min().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(filters: &[&str]) -> Selection {
        Selection {
            filters: filters.iter().map(|f| f.to_string()).collect(),
            ..Selection::default()
        }
    }

    #[test]
    fn the_message_names_the_filters_and_counts_right() {
        assert_eq!(
            message(&selection(&["reprot"]), None, 13, 3),
            "no tests to run: no test of 13 tests (in 3 binaries) matches the filter `reprot`"
        );
        let mut two = selection(&["a", "b"]);
        two.exact = true;
        two.skip = vec!["slow".into()];
        assert_eq!(
            message(&two, None, 1, 1),
            "no tests to run: no test of 1 test (in 1 binary) matches exactly the filters \
             `a`, `b` and is left after --skip `slow`"
        );
    }

    #[test]
    fn an_empty_shard_names_its_partition() {
        let partition: Partition = "count:3/4".parse().unwrap();
        assert_eq!(
            message(&Selection::default(), Some(&partition), 2, 1),
            "no tests to run: no test of 2 tests (in 1 binary) falls in partition count:3/4"
        );
    }

    #[test]
    fn edits_count_for_the_filter_to_occur_anywhere_in_the_name() {
        assert_eq!(edits_to_occur_in("close", "net::leaks_close_wait"), 0);
        assert_eq!(edits_to_occur_in("clse", "net::leaks_close_wait"), 1);
        assert_eq!(edits_to_occur_in("leaks_clsoe", "net::leaks_close_wait"), 2);
        assert_eq!(edits_to_occur_in("xyz", "net"), 3);
        assert_eq!(edits_to_occur_in("", "net"), 0);
    }

    const LISTED: [(&str, &str); 4] = [
        ("echo", "shared_server_a"),
        ("echo", "shared_server_b"),
        ("net", "leaks_close_wait_ipv4"),
        ("net", "clean_round_trip"),
    ];

    #[test]
    fn a_mistyped_filter_is_told_the_nearest_names_as_sockcheck_prints_them() {
        assert_eq!(
            nearest_tests(&selection(&["shared_servr"]), LISTED.into_iter()).as_deref(),
            Some("did you mean `echo::shared_server_a` or `echo::shared_server_b`?")
        );
        assert_eq!(
            nearest_tests(&selection(&["net::leaks_clse"]), LISTED.into_iter()).as_deref(),
            Some("did you mean `net::leaks_close_wait_ipv4`?")
        );
        assert_eq!(
            nearest_tests(&selection(&["disk::full"]), LISTED.into_iter()),
            None
        );
        assert_eq!(nearest_tests(&selection(&[]), LISTED.into_iter()), None);
    }

    #[test]
    fn an_exact_filter_that_is_part_of_a_name_suggests_the_whole_name() {
        let mut exact = selection(&["leaks_close_wait"]);
        exact.exact = true;
        assert_eq!(
            nearest_tests(&exact, LISTED.into_iter()).as_deref(),
            Some("did you mean `net::leaks_close_wait_ipv4`?")
        );
    }

    #[test]
    fn a_filter_one_edit_from_a_subcommand_gets_a_hint() {
        for typo in ["reprot", "repor", "reports", "exce", "exe"] {
            let hint = subcommand_hint(&[typo.to_owned()]);
            assert!(hint.is_some(), "no hint for {typo}");
        }
        assert_eq!(
            subcommand_hint(&["net".into(), "reprot".into()]).as_deref(),
            Some("`reprot` was taken as a test filter; did you mean `cargo sockcheck report`?")
        );
        assert_eq!(subcommand_hint(&["report".into()]), None);
        assert_eq!(subcommand_hint(&["leaks_udp".into()]), None);
    }
}
