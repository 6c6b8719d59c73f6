//! Listing a test binary's tests (`--list --format terse`) and choosing which
//! to run (filters, `--skip`, ignored tests), as libtest would.

use crate::cargo::TestBinary;
use anyhow::{bail, Context, Result};
use std::process::Stdio;

/// One test of one binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// Index of its binary in the run's binary list.
    pub binary: usize,
    /// Full libtest name.
    pub name: String,
    /// Marked `#[ignore]`.
    pub ignored: bool,
}

/// Parses `--list --format terse` output: one `NAME: test` line per test.
/// Benchmarks (`: bench`, `: benchmark`) are left out.
pub fn parse_terse(output: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        match line.rsplit_once(": ") {
            Some((name, "test")) => names.push(name.to_owned()),
            Some((_, "bench" | "benchmark")) => {}
            _ => return Err(format!("unexpected line in the test list: {line:?}")),
        }
    }
    Ok(names)
}

/// Lists the tests of `binary` (index `index`), marking the ignored ones.
pub fn list_tests(binary: &TestBinary, index: usize) -> Result<Vec<TestCase>> {
    let all = list(binary, &[])?;
    let ignored = list(binary, &["--ignored"])?;
    Ok(all
        .into_iter()
        .map(|name| TestCase {
            binary: index,
            ignored: ignored.contains(&name),
            name,
        })
        .collect())
}

fn list(binary: &TestBinary, extra: &[&str]) -> Result<Vec<String>> {
    let shown = format!(
        "{} --list --format terse {}",
        binary.path.display(),
        extra.join(" ")
    );
    let output = binary
        .command()
        .args(["--list", "--format", "terse"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `{}`", shown.trim_end()))?;
    if !output.status.success() {
        bail!(
            "cannot list the tests of `{}`: `{}` exited with {}; is it a libtest test binary?",
            binary.name,
            shown.trim_end(),
            output.status
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    parse_terse(&stdout).map_err(|reason| {
        anyhow::anyhow!(
            "cannot list the tests of `{}`: {reason}; is it a libtest test binary?",
            binary.name
        )
    })
}

/// Which tests to run: libtest's filter rules, on the test's name or on
/// `binary::name`, the name sockcheck prints (as `allow-tests` patterns).
#[derive(Debug, Default)]
pub struct Selection {
    /// A test runs if its name or `binary::name` contains one of these (or
    /// equals it, with `exact`); empty: all.
    pub filters: Vec<String>,
    /// A test is skipped if its name or `binary::name` contains one of
    /// these (or equals it, with `exact`).
    pub skip: Vec<String>,
    /// Match filters and skips exactly.
    pub exact: bool,
    /// Run only ignored tests.
    pub only_ignored: bool,
    /// Run ignored tests too.
    pub include_ignored: bool,
}

impl Selection {
    /// True when `pattern` matches test `name` of `binary`, by its name or
    /// by `binary::name`.
    pub fn matches(&self, pattern: &str, binary: &str, name: &str) -> bool {
        let full = || format!("{binary}::{name}");
        if self.exact {
            name == pattern || full() == pattern
        } else {
            name.contains(pattern) || full().contains(pattern)
        }
    }

    /// True when `test`, of the binary named `binary`, is selected by name
    /// (ignored or not).
    pub fn selects(&self, binary: &str, test: &TestCase) -> bool {
        let matches = |pattern: &String| self.matches(pattern, binary, &test.name);
        let by_filter = self.filters.is_empty() || self.filters.iter().any(matches);
        let skipped = self.skip.iter().any(matches);
        let by_ignore = !self.only_ignored || test.ignored;
        by_filter && !skipped && by_ignore
    }

    /// True when a selected `test` is to be run (not just reported as ignored).
    pub fn runs(&self, test: &TestCase) -> bool {
        !test.ignored || self.only_ignored || self.include_ignored
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terse_list_of_libtest_and_libtest_mimic() {
        let libtest = "tests::a: test\ntests::b::c: test\nbench_x: bench\n";
        assert_eq!(parse_terse(libtest).unwrap(), ["tests::a", "tests::b::c"]);
        let mimic = "clean: test\nleaky: test\nbig: benchmark\n\n";
        assert_eq!(parse_terse(mimic).unwrap(), ["clean", "leaky"]);
        assert_eq!(parse_terse("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn names_with_colon_space_keep_everything_before_the_last_one() {
        assert_eq!(parse_terse("odd: name: test\n").unwrap(), ["odd: name"]);
    }

    #[test]
    fn a_binary_that_is_not_libtest_is_rejected_with_the_line() {
        let err = parse_terse("Hello, world!\n").unwrap_err();
        assert!(err.contains("Hello, world!"), "{err}");
    }

    fn case(name: &str, ignored: bool) -> TestCase {
        TestCase {
            binary: 0,
            name: name.into(),
            ignored,
        }
    }

    #[test]
    fn filters_skip_and_exact_follow_libtest() {
        let selection = Selection {
            filters: vec!["net".into()],
            skip: vec!["slow".into()],
            ..Selection::default()
        };
        assert!(selection.selects("io", &case("net::fast", false)));
        assert!(!selection.selects("io", &case("net::slow", false)));
        assert!(!selection.selects("io", &case("disk::fast", false)));
        let exact = Selection {
            filters: vec!["net".into()],
            exact: true,
            ..Selection::default()
        };
        assert!(exact.selects("io", &case("net", false)));
        assert!(!exact.selects("io", &case("net::fast", false)));
    }

    #[test]
    fn the_names_sockcheck_prints_select_and_skip_as_allow_tests_match() {
        let printed = Selection {
            filters: vec!["echo::shared".into()],
            ..Selection::default()
        };
        assert!(printed.selects("echo", &case("shared_server_a", false)));
        assert!(!printed.selects("other", &case("shared_server_a", false)));
        let exact = Selection {
            filters: vec!["echo::shared_server_a".into()],
            exact: true,
            ..Selection::default()
        };
        assert!(exact.selects("echo", &case("shared_server_a", false)));
        assert!(!exact.selects("echo", &case("shared_server_ab", false)));
        assert!(!exact.selects("other", &case("shared_server_a", false)));
        let skip = Selection {
            skip: vec!["echo::shared_server_a".into()],
            exact: true,
            ..Selection::default()
        };
        assert!(!skip.selects("echo", &case("shared_server_a", false)));
        assert!(skip.selects("echo", &case("shared_server_b", false)));
    }

    #[test]
    fn ignored_tests_are_listed_but_run_only_when_asked() {
        let default = Selection::default();
        assert!(default.selects("io", &case("slow", true)) && !default.runs(&case("slow", true)));
        let only = Selection {
            only_ignored: true,
            ..Selection::default()
        };
        assert!(!only.selects("io", &case("fast", false)));
        assert!(only.runs(&case("slow", true)));
        let include = Selection {
            include_ignored: true,
            ..Selection::default()
        };
        assert!(include.runs(&case("slow", true)) && include.runs(&case("fast", false)));
    }
}
