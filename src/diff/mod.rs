//! What a change does to a suite's socket leaks: two reports of the same
//! suite (a pull request's base and head) compared leak by leak.
//!
//! A leak is matched across the two reports by the baseline's identity
//! ([`LeakIdentity`]: binary, test, kind, protocol, state, addresses with
//! ephemeral ports masked), counted: two identical CLOSE_WAITs in the head
//! where the base had one make one new leak. The comparison is the
//! baseline's own ([`Baseline::compare_with`]), run both ways: the base as
//! a baseline for the head gives the **new** leaks and the unchanged ones,
//! the head as a baseline for the base gives the leaks that are gone.
//!
//! A gone leak is **fixed** when its test still ran in the head. When the
//! test was removed, renamed or is ignored now, nothing says whether the
//! leak is fixed: it is counted as **no longer checked**, not as fixed.
//!
//! Renderers: [`text`] (terminal), [`markdown`] (a pull-request comment,
//! always under GitHub's size limit), [`json`] (machines, the GitHub Action).

pub mod json;
pub mod markdown;
pub mod text;

use crate::baseline::{Baseline, LeakIdentity, PortRange};
use crate::leak::{Leak, Severity};
use crate::report::words::counted;
use crate::report::{Outcome, Report, TestRecord};
use std::collections::HashMap;

/// One leak of one side, with the identity it was matched by.
#[derive(Debug, Clone, PartialEq)]
pub struct LeakChange<'r> {
    /// The test that left it.
    pub test: &'r TestRecord,
    /// The leak as its report has it.
    pub leak: &'r Leak,
    /// What it was matched by: addresses with ephemeral ports as `*`.
    pub identity: LeakIdentity,
}

impl LeakChange<'_> {
    /// Where the project's code opened the socket, `tests/net.rs:31:13`,
    /// when the report has its creation site.
    pub fn site(&self) -> Option<String> {
        self.leak.site()?.location()
    }
}

/// A test that ran in both reports and ended differently.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutcomeChange<'r> {
    /// The test in the base report.
    pub base: &'r TestRecord,
    /// The test in the head report.
    pub head: &'r TestRecord,
}

/// The difference between a base report and a head report.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff<'r> {
    /// The base report (before the change).
    pub base: &'r Report,
    /// The head report (after the change).
    pub head: &'r Report,
    /// Leaks of the head the base does not have: errors first, then in
    /// report order.
    pub new: Vec<LeakChange<'r>>,
    /// Leaks of the base gone from the head, whose test still ran there.
    pub fixed: Vec<LeakChange<'r>>,
    /// Leaks of the base whose test is not in the head or is ignored there.
    pub unchecked: Vec<LeakChange<'r>>,
    /// Leaks both reports have.
    pub unchanged: usize,
    /// Tests the head has and the base does not.
    pub tests_added: Vec<&'r TestRecord>,
    /// Tests the base has and the head does not.
    pub tests_removed: Vec<&'r TestRecord>,
    /// Tests in both whose outcome changed.
    pub outcome_changes: Vec<OutcomeChange<'r>>,
}

impl<'r> Diff<'r> {
    /// Compares `head` with `base`, judging ports by this machine's
    /// ephemeral range, as the baseline does.
    pub fn between(base: &'r Report, head: &'r Report) -> Diff<'r> {
        Diff::between_with(base, head, PortRange::system())
    }

    /// As [`Diff::between`], with ports judged by `ports`.
    pub fn between_with(base: &'r Report, head: &'r Report, ports: PortRange) -> Diff<'r> {
        let forward = Baseline::from_report_with(base, ports).compare_with(head, ports);
        let backward = Baseline::from_report_with(head, ports).compare_with(base, ports);
        let change = |(test, leak): (&'r TestRecord, &'r Leak)| LeakChange {
            test,
            leak,
            identity: LeakIdentity::of(test, leak, ports),
        };
        let mut new: Vec<LeakChange<'r>> = forward.leaks.new.into_iter().map(change).collect();
        // Stable: report order within each severity.
        new.sort_by_key(|c| c.leak.severity);

        let head_tests = by_name(head);
        let base_tests = by_name(base);
        let ran_in_head = |test: &TestRecord| {
            head_tests
                .get(&key(test))
                .is_some_and(|t| t.outcome != Outcome::Ignored)
        };
        let (fixed, unchecked) = backward
            .leaks
            .new
            .into_iter()
            .map(change)
            .partition(|c| ran_in_head(c.test));

        let tests_added = first_of_each(head)
            .filter(|t| !base_tests.contains_key(&key(t)))
            .collect();
        let tests_removed = first_of_each(base)
            .filter(|t| !head_tests.contains_key(&key(t)))
            .collect();
        let outcome_changes = first_of_each(base)
            .filter_map(|base| {
                let head = *head_tests.get(&key(base))?;
                (head.outcome != base.outcome).then_some(OutcomeChange { base, head })
            })
            .collect();
        Diff {
            base,
            head,
            new,
            fixed,
            unchecked,
            unchanged: forward.leaks.known.len(),
            tests_added,
            tests_removed,
            outcome_changes,
        }
    }

    /// New leaks of error severity: what makes `cargo sockcheck diff` exit 1.
    pub fn new_errors(&self) -> usize {
        self.new
            .iter()
            .filter(|c| c.leak.severity == Severity::Error)
            .count()
    }

    /// `adds 1 socket leak, fixes 1`, `fixes 2 socket leaks` or `no new
    /// socket leaks`: the change in one phrase.
    pub fn headline(&self) -> String {
        match (self.new.len(), self.fixed.len()) {
            (0, 0) => "no new socket leaks".to_owned(),
            (0, fixed) => format!("fixes {}", counted(fixed, "socket leak")),
            (new, 0) => format!("adds {}", counted(new, "socket leak")),
            (new, fixed) => format!("adds {}, fixes {fixed}", counted(new, "socket leak")),
        }
    }

    /// `1 new (1 error), 1 fixed, 3 unchanged`, plus `, 2 no longer
    /// checked` when some are: every leak of both reports, accounted for.
    pub fn counts(&self) -> String {
        let mut counts = format!(
            "{} new ({}), {} fixed, {} unchanged",
            self.new.len(),
            counted(self.new_errors(), "error"),
            self.fixed.len(),
            self.unchanged
        );
        if !self.unchecked.is_empty() {
            counts.push_str(&format!(", {} no longer checked", self.unchecked.len()));
        }
        counts
    }

    /// What happened to the tests, `2 tests added, 1 removed, 1 changed
    /// outcome`, or `None` when the same tests ended the same way.
    pub fn test_changes(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.tests_added.is_empty() {
            parts.push(format!("{} added", counted(self.tests_added.len(), "test")));
        }
        if !self.tests_removed.is_empty() {
            let removed = self.tests_removed.len();
            parts.push(if parts.is_empty() {
                format!("{} removed", counted(removed, "test"))
            } else {
                format!("{removed} removed")
            });
        }
        if !self.outcome_changes.is_empty() {
            let changed = self.outcome_changes.len();
            parts.push(if parts.is_empty() {
                format!("{} changed outcome", counted(changed, "test"))
            } else {
                format!("{changed} changed outcome")
            });
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// Which side was cut short, in words, when one was: its tests are
    /// missing, so the comparison is partial.
    pub fn interrupted_note(&self) -> Option<&'static str> {
        match (self.base.interrupted, self.head.interrupted) {
            (false, false) => None,
            (true, false) => Some("the base run was interrupted: some of its tests are missing"),
            (false, true) => Some("the head run was interrupted: some of its tests are missing"),
            (true, true) => Some("both runs were interrupted: some of their tests are missing"),
        }
    }
}

/// How a test is matched across reports.
fn key(test: &TestRecord) -> (&str, &str) {
    (test.binary.as_str(), test.name.as_str())
}

/// Each test of `report` by name; the first wins when a merged report
/// holds a test twice.
fn by_name(report: &Report) -> HashMap<(&str, &str), &TestRecord> {
    let mut tests = HashMap::new();
    for test in &report.tests {
        tests.entry(key(test)).or_insert(test);
    }
    tests
}

/// The tests of `report` in order, a test held twice only once.
fn first_of_each(report: &Report) -> impl Iterator<Item = &TestRecord> {
    let mut seen = std::collections::HashSet::new();
    report.tests.iter().filter(move |t| seen.insert(key(t)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::leak::LeakKind;
    use crate::site::{Frame, Origin};
    use crate::socket::State;
    use crate::testing;

    pub const PORTS: PortRange = PortRange::LINUX_DEFAULT;

    /// A leak of `kind` from `local` to `remote` (a UDP one on `local`
    /// alone), at its default severity.
    pub fn leak(kind: LeakKind, local: &str, remote: &str) -> Leak {
        let socket = match kind {
            LeakKind::Udp => testing::udp(local),
            LeakKind::CloseWait => testing::tcp(State::CloseWait, local, remote),
            LeakKind::Established => testing::tcp(State::Established, local, remote),
            _ => testing::tcp(State::Listen, local, remote),
        };
        testing::leak(kind, socket)
    }

    /// The same leak, opened at `file:line`.
    pub fn at(mut leak: Leak, file: &str, line: u32) -> Leak {
        let origin = Origin {
            syscall: "socket".to_owned(),
            site: Some(Frame::function("net::t").at(file, line, Some(5))),
            ..Origin::default()
        };
        leak.opened = Some(origin);
        leak
    }

    pub fn test(name: &str, outcome: Outcome, leaks: Vec<Leak>) -> TestRecord {
        testing::record("net", name, outcome, leaks)
    }

    fn names(changes: &[LeakChange]) -> Vec<String> {
        changes
            .iter()
            .map(|c| format!("{} {}", c.test.name, c.leak.kind))
            .collect()
    }

    #[test]
    fn new_fixed_and_unchanged_leaks_are_matched_by_the_baseline_identity() {
        let base = Report::new(vec![
            test(
                "kept",
                Outcome::Passed,
                vec![leak(
                    LeakKind::CloseWait,
                    "127.0.0.1:40000",
                    "127.0.0.1:8080",
                )],
            ),
            test(
                "fixed",
                Outcome::Passed,
                vec![leak(LeakKind::Listen, "127.0.0.1:9000", "0.0.0.0:0")],
            ),
        ]);
        let head = Report::new(vec![
            // Another ephemeral port: the same leak.
            test(
                "kept",
                Outcome::Passed,
                vec![
                    leak(LeakKind::CloseWait, "127.0.0.1:51000", "127.0.0.1:8080"),
                    leak(LeakKind::Udp, "127.0.0.1:5353", "0.0.0.0:0"),
                    leak(LeakKind::CloseWait, "127.0.0.1:51001", "127.0.0.1:8080"),
                ],
            ),
            test("fixed", Outcome::Passed, vec![]),
        ]);
        let diff = Diff::between_with(&base, &head, PORTS);
        // The second identical CLOSE_WAIT is new; errors come before warnings.
        assert_eq!(names(&diff.new), ["kept close-wait", "kept udp"]);
        assert_eq!(diff.new[0].identity.local, "127.0.0.1:*");
        assert_eq!(names(&diff.fixed), ["fixed listen"]);
        assert!(diff.unchecked.is_empty());
        assert_eq!(diff.unchanged, 1);
        assert_eq!(diff.new_errors(), 1);
        assert_eq!(diff.headline(), "adds 2 socket leaks, fixes 1");
        assert_eq!(diff.counts(), "2 new (1 error), 1 fixed, 1 unchanged");
        assert_eq!(diff.test_changes(), None);
    }

    #[test]
    fn leaks_of_tests_gone_or_ignored_are_not_called_fixed() {
        let listener = || leak(LeakKind::Listen, "127.0.0.1:9000", "0.0.0.0:0");
        let base = Report::new(vec![
            test("removed", Outcome::Passed, vec![listener()]),
            test("ignored_now", Outcome::Passed, vec![listener()]),
            test("same", Outcome::Passed, vec![]),
        ]);
        let head = Report::new(vec![
            test("ignored_now", Outcome::Ignored, vec![]),
            test("same", Outcome::Failed, vec![]),
            test("added", Outcome::Passed, vec![listener()]),
        ]);
        let diff = Diff::between_with(&base, &head, PORTS);
        assert!(diff.fixed.is_empty());
        assert_eq!(
            names(&diff.unchecked),
            ["removed listen", "ignored_now listen"]
        );
        assert_eq!(names(&diff.new), ["added listen"]);
        let added: Vec<&str> = diff.tests_added.iter().map(|t| t.name.as_str()).collect();
        let removed: Vec<&str> = diff.tests_removed.iter().map(|t| t.name.as_str()).collect();
        let changed: Vec<(&str, Outcome, Outcome)> = diff
            .outcome_changes
            .iter()
            .map(|c| (c.base.name.as_str(), c.base.outcome, c.head.outcome))
            .collect();
        assert_eq!(added, ["added"]);
        assert_eq!(removed, ["removed"]);
        assert_eq!(
            changed,
            [
                ("ignored_now", Outcome::Passed, Outcome::Ignored),
                ("same", Outcome::Passed, Outcome::Failed)
            ]
        );
        assert_eq!(diff.headline(), "adds 1 socket leak");
        assert_eq!(
            diff.counts(),
            "1 new (1 error), 0 fixed, 0 unchanged, 2 no longer checked"
        );
        assert_eq!(
            diff.test_changes().as_deref(),
            Some("1 test added, 1 removed, 2 changed outcome")
        );
    }

    #[test]
    fn identical_reports_make_an_empty_diff() {
        let report = Report::new(vec![test(
            "t",
            Outcome::Passed,
            vec![leak(
                LeakKind::CloseWait,
                "127.0.0.1:40000",
                "127.0.0.1:8080",
            )],
        )]);
        let diff = Diff::between_with(&report, &report, PORTS);
        assert!(diff.new.is_empty() && diff.fixed.is_empty() && diff.unchecked.is_empty());
        assert_eq!(diff.unchanged, 1);
        assert_eq!(diff.headline(), "no new socket leaks");
        assert_eq!(diff.new_errors(), 0);
        assert_eq!(diff.interrupted_note(), None);
    }

    #[test]
    fn a_site_reads_file_and_line() {
        let head = Report::new(vec![test(
            "t",
            Outcome::Passed,
            vec![
                at(
                    leak(LeakKind::Listen, "127.0.0.1:9000", "0.0.0.0:0"),
                    "tests/net.rs",
                    31,
                ),
                leak(LeakKind::Listen, "127.0.0.1:9001", "0.0.0.0:0"),
            ],
        )]);
        let base = Report::new(vec![]);
        let diff = Diff::between_with(&base, &head, PORTS);
        let sites: Vec<Option<String>> = diff.new.iter().map(LeakChange::site).collect();
        assert_eq!(sites, [Some("tests/net.rs:31:5".to_owned()), None]);
        assert_eq!(diff.headline(), "adds 2 socket leaks");
        assert_eq!(diff.test_changes().as_deref(), Some("1 test added"));
    }
}
