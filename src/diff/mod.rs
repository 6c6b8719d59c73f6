//! What a change does to a suite's socket leaks and port findings: two
//! reports of the same suite (a pull request's base and head) compared
//! finding by finding.
//!
//! A leak is matched across the two reports by the baseline's identity
//! ([`LeakIdentity`](crate::baseline::LeakIdentity): binary, test, kind,
//! protocol, state, addresses with ephemeral ports masked), a port finding
//! by its own ([`PortIdentity`](crate::baseline::PortIdentity): binary,
//! test, kind, address with an ephemeral port masked), counted: two
//! identical CLOSE_WAITs in the head where the base had one make one new
//! leak. The comparison is the baseline's own ([`Baseline::compare_with`]),
//! run both ways: the base as a baseline for the head gives the **new**
//! findings and the unchanged ones, the head as a baseline for the base
//! gives those that are gone.
//!
//! A gone finding is **fixed** when its test still ran in the head. When
//! the test was removed, renamed or is ignored now, nothing says whether it
//! is fixed: it is counted as **no longer checked**, not as fixed.
//!
//! Renderers: [`text`] (terminal), [`markdown`] (a pull-request comment,
//! always under GitHub's size limit), [`json`] (machines, the GitHub Action).

pub mod json;
pub mod markdown;
pub mod text;

use crate::baseline::{Baseline, Finding, Matches, PortRange};
use crate::leak::Leak;
use crate::ports::PortFinding;
use crate::report::words::counted;
use crate::report::{Outcome, Report, TestRecord};
use std::collections::HashMap;

/// One leak or port finding of one side, with the identity it was matched by.
#[derive(Debug, Clone, PartialEq)]
pub struct Change<'r, F: Finding> {
    /// The test that has it.
    pub test: &'r TestRecord,
    /// The leak or port finding as its report has it.
    pub finding: &'r F,
    /// What it was matched by: addresses with ephemeral ports as `*`.
    pub identity: F::Identity,
}

/// A leak of one side.
pub type LeakChange<'r> = Change<'r, Leak>;

/// A port finding of one side.
pub type PortChange<'r> = Change<'r, PortFinding>;

impl<F: Finding> Change<'_, F> {
    /// Where the project's code opened the socket, or made the call a port
    /// finding is about (`bind`, `connect`), `tests/net.rs:31:13`, when the
    /// report has it.
    pub fn site(&self) -> Option<String> {
        Finding::site(self.finding)?.location()
    }
}

/// What the change does to one sort of finding: leaks, or port findings.
#[derive(Debug, Clone, PartialEq)]
pub struct Changes<'r, F: Finding> {
    /// Of the head, not in the base: errors first, then in report order.
    pub new: Vec<Change<'r, F>>,
    /// Of the base, gone from the head, whose test still ran there.
    pub fixed: Vec<Change<'r, F>>,
    /// Of the base, whose test is not in the head or is ignored there.
    pub unchecked: Vec<Change<'r, F>>,
    /// How many both reports have.
    pub unchanged: usize,
}

impl<'r, F: Finding> Changes<'r, F> {
    /// From the base judged by the head's findings (`backward`) and the
    /// head judged by the base's (`forward`).
    fn of(
        forward: Matches<'r, F>,
        backward: Matches<'r, F>,
        ports: PortRange,
        ran_in_head: impl Fn(&TestRecord) -> bool,
    ) -> Changes<'r, F> {
        let change = |(test, finding): (&'r TestRecord, &'r F)| Change {
            test,
            finding,
            identity: finding.identity(test, ports),
        };
        let mut new: Vec<Change<'r, F>> = forward.new.into_iter().map(change).collect();
        // Stable: report order among errors and among the rest.
        new.sort_by_key(|c| !c.finding.is_error());
        let (fixed, unchecked) = backward
            .new
            .into_iter()
            .map(change)
            .partition(|c| ran_in_head(c.test));
        Changes {
            new,
            fixed,
            unchecked,
            unchanged: forward.known.len(),
        }
    }

    /// New ones of error severity.
    pub fn new_errors(&self) -> usize {
        self.new.iter().filter(|c| c.finding.is_error()).count()
    }

    /// True when neither report has any.
    pub fn is_empty(&self) -> bool {
        self.new.is_empty()
            && self.fixed.is_empty()
            && self.unchecked.is_empty()
            && self.unchanged == 0
    }

    /// `1 new (1 error), 1 fixed, 3 unchanged`, plus `, 2 no longer
    /// checked` when some are: every one of both reports, accounted for.
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

    /// `adds 1 socket leak, fixes 1`, `fixes 2 socket leaks`, `adds 1
    /// socket leak` for `noun`; `None` when none is new or fixed.
    fn phrase(&self, noun: &str) -> Option<String> {
        match (self.new.len(), self.fixed.len()) {
            (0, 0) => None,
            (0, fixed) => Some(format!("fixes {}", counted(fixed, noun))),
            (new, 0) => Some(format!("adds {}", counted(new, noun))),
            (new, fixed) => Some(format!("adds {}, fixes {fixed}", counted(new, noun))),
        }
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
    /// What happened to the leaks.
    pub leaks: Changes<'r, Leak>,
    /// What happened to the port findings.
    pub ports: Changes<'r, PortFinding>,
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
        let head_tests = by_name(head);
        let base_tests = by_name(base);
        let ran_in_head = |test: &TestRecord| {
            head_tests
                .get(&key(test))
                .is_some_and(|t| t.outcome != Outcome::Ignored)
        };
        let leaks = Changes::of(forward.leaks, backward.leaks, ports, ran_in_head);
        let port_findings = Changes::of(forward.ports, backward.ports, ports, ran_in_head);

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
            leaks,
            ports: port_findings,
            tests_added,
            tests_removed,
            outcome_changes,
        }
    }

    /// New leaks and port findings of error severity: what makes `cargo
    /// sockcheck diff` exit 1.
    pub fn new_errors(&self) -> usize {
        self.leaks.new_errors() + self.ports.new_errors()
    }

    /// `adds 1 socket leak, fixes 1`, `fixes 2 socket leaks` or `no new
    /// socket leaks`, then `; adds 1 port finding` when port findings were
    /// added or fixed: the change in one phrase.
    pub fn headline(&self) -> String {
        let leaks =
            (self.leaks.phrase("socket leak")).unwrap_or_else(|| "no new socket leaks".to_owned());
        match self.ports.phrase("port finding") {
            Some(ports) => format!("{leaks}; {ports}"),
            None => leaks,
        }
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
    use crate::leak::{LeakKind, Severity};
    use crate::ports::{PortProblem, TestName};
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
            .map(|c| format!("{} {}", c.test.name, c.finding.kind))
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
        assert_eq!(names(&diff.leaks.new), ["kept close-wait", "kept udp"]);
        assert_eq!(diff.leaks.new[0].identity.local, "127.0.0.1:*");
        assert_eq!(names(&diff.leaks.fixed), ["fixed listen"]);
        assert!(diff.leaks.unchecked.is_empty());
        assert_eq!(diff.leaks.unchanged, 1);
        assert_eq!(diff.leaks.new_errors(), 1);
        assert_eq!(diff.headline(), "adds 2 socket leaks, fixes 1");
        assert_eq!(diff.leaks.counts(), "2 new (1 error), 1 fixed, 1 unchanged");
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
        assert!(diff.leaks.fixed.is_empty());
        assert_eq!(
            names(&diff.leaks.unchecked),
            ["removed listen", "ignored_now listen"]
        );
        assert_eq!(names(&diff.leaks.new), ["added listen"]);
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
            diff.leaks.counts(),
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
        assert!(
            diff.leaks.new.is_empty()
                && diff.leaks.fixed.is_empty()
                && diff.leaks.unchecked.is_empty()
        );
        assert_eq!(diff.leaks.unchanged, 1);
        assert_eq!(diff.headline(), "no new socket leaks");
        assert_eq!(diff.leaks.new_errors(), 0);
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
        let sites: Vec<Option<String>> = diff.leaks.new.iter().map(LeakChange::site).collect();
        assert_eq!(sites, [Some("tests/net.rs:31:5".to_owned()), None]);
        assert_eq!(diff.headline(), "adds 2 socket leaks");
        assert_eq!(diff.test_changes().as_deref(), Some("1 test added"));
    }

    /// Test `name` with `findings`.
    fn with_port(name: &str, outcome: Outcome, findings: Vec<PortFinding>) -> TestRecord {
        let mut record = test(name, outcome, vec![]);
        record.port_findings = findings;
        record
    }

    /// Churn over a threshold of 10, at error severity when `error`.
    fn churn(active_closes: u64, error: bool) -> PortFinding {
        let mut finding = PortFinding::new(PortProblem::PortChurn {
            active_closes,
            threshold: 10,
        });
        if error {
            finding.severity = Some(Severity::Error);
        }
        finding
    }

    fn shared(address: &str) -> PortFinding {
        PortFinding::new(PortProblem::FixedPortShared {
            address: address.into(),
            with: vec![TestName::new("net", "other")],
        })
    }

    #[test]
    fn port_findings_are_new_fixed_unchanged_or_unchecked_as_leaks_are() {
        let base = Report::new(vec![
            with_port("churns", Outcome::Passed, vec![churn(50, true)]),
            with_port("shares", Outcome::Passed, vec![shared("127.0.0.1:8080")]),
            with_port("removed", Outcome::Passed, vec![shared("127.0.0.1:8081")]),
        ]);
        let head = Report::new(vec![
            // Other counts: the same finding.
            with_port("churns", Outcome::Passed, vec![churn(48, true)]),
            with_port("shares", Outcome::Passed, vec![]),
            with_port(
                "fresh",
                Outcome::Passed,
                vec![shared("127.0.0.1:9000"), churn(70, true)],
            ),
        ]);
        let diff = Diff::between_with(&base, &head, PORTS);
        let kinds = |changes: &[PortChange]| -> Vec<String> {
            changes
                .iter()
                .map(|c| format!("{} {}", c.test.name, c.finding.kind()))
                .collect()
        };
        // The error first.
        assert_eq!(
            kinds(&diff.ports.new),
            ["fresh port-churn", "fresh fixed-port-shared"]
        );
        assert_eq!(kinds(&diff.ports.fixed), ["shares fixed-port-shared"]);
        assert_eq!(kinds(&diff.ports.unchecked), ["removed fixed-port-shared"]);
        assert_eq!(diff.ports.unchanged, 1);
        assert_eq!(diff.ports.new_errors(), 1);
        assert_eq!((diff.leaks.new_errors(), diff.new_errors()), (0, 1));
        assert!(diff.leaks.is_empty() && !diff.ports.is_empty());
        assert_eq!(
            diff.headline(),
            "no new socket leaks; adds 2 port findings, fixes 1"
        );
        assert_eq!(
            diff.ports.counts(),
            "2 new (1 error), 1 fixed, 1 unchanged, 1 no longer checked"
        );
        assert_eq!(
            diff.ports.new[1].identity.to_string(),
            "net::fresh: fixed-port-shared 127.0.0.1:9000"
        );
    }
}
