//! A run whose filters, skips and partition select no test: by default an
//! error (exit status 4, as nextest's "no tests run"), since a typo in a
//! filter would otherwise pass as a clean run. The message names what
//! selected nothing, and a filter one edit away from a subcommand gets a
//! "did you mean": `cargo sockcheck reprot` runs the tests matching
//! `reprot`, not `report`.

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
