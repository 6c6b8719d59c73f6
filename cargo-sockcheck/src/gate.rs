//! The gate: which leaks and port findings fail the run (the exit status
//! follows from the report it shows).
//!
//! Without a baseline every error-level leak or port finding fails the run.
//! With one (`--baseline PATH`), one the baseline knows does not: the
//! report is *shown* (text, Markdown, JUnit, annotations) with known leaks
//! and port findings as warnings, so CI views agree with the exit status,
//! while the JSON report keeps each at its policy's severity, the raw
//! result that `report --merge --baseline` and `--write-baseline` read
//! again. New ones are named on stderr and in the Markdown; baseline
//! entries whose test ran and no longer has them are listed as fixed, so
//! the baseline can shrink.

use crate::exit::ExitStatus;
use sockcheck::baseline::{Baseline, BaselineEntry, Finding, Matches};
use sockcheck::leak::{Leak, Severity};
use sockcheck::ports::PortFinding;
use sockcheck::report::listing::{Capped, MAX_LISTED};
use sockcheck::report::markdown;
use sockcheck::report::words::counted;
use sockcheck::report::{visible, Outcome, Report, Summary, TestRecord};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Display;
use std::io::{self, Write};

/// A report judged by the gate.
pub struct Verdict<'r> {
    /// The report as shown: leaks and port findings the baseline knows are
    /// warnings.
    pub shown: Cow<'r, Report>,
    /// What the baseline says, when there is one.
    pub baseline: Option<BaselineView<'r>>,
}

/// A report next to its baseline; `fixed` lists only entries of tests that
/// ran (a shard or a filtered run says nothing about the others).
pub struct BaselineView<'r> {
    /// The report's leaks.
    pub leaks: Matches<'r, Leak>,
    /// The report's port findings.
    pub ports: Matches<'r, PortFinding>,
}

impl<'r> Verdict<'r> {
    /// Judges `report` against `baseline`, if given.
    pub fn judge(report: &'r Report, baseline: Option<&Baseline>) -> Verdict<'r> {
        let Some(baseline) = baseline else {
            return Verdict {
                shown: Cow::Borrowed(report),
                baseline: None,
            };
        };
        let comparison = baseline.compare(report);
        // The same run, judged: everything but the severities is kept.
        let mut shown = report.clone();
        let mut baselined = 0;
        for &(test, leak) in &comparison.leaks.known_at {
            let severity = &mut shown.tests[test].leaks[leak].severity;
            baselined += usize::from(*severity == Severity::Error);
            *severity = Severity::Warning;
        }
        for &(test, finding) in &comparison.ports.known_at {
            // A finding that only explains a failure keeps having no severity.
            let severity = &mut shown.tests[test].port_findings[finding].severity;
            if *severity == Some(Severity::Error) {
                baselined += 1;
                *severity = Some(Severity::Warning);
            }
        }
        shown.summary = Summary::of(&shown.tests);
        shown.baselined = Some(baselined);
        let ran: HashSet<(&str, &str)> = report
            .tests
            .iter()
            .filter(|t| t.outcome != Outcome::Ignored)
            .map(|t| (t.binary.as_str(), t.name.as_str()))
            .collect();
        let (mut leaks, mut ports) = (comparison.leaks, comparison.ports);
        let ran_test = |binary: &str, test: &str| ran.contains(&(binary, test));
        leaks
            .fixed
            .retain(|e| ran_test(&e.identity.binary, &e.identity.test));
        ports
            .fixed
            .retain(|e| ran_test(&e.identity.binary, &e.identity.test));
        Verdict {
            shown: Cow::Owned(shown),
            baseline: Some(BaselineView { leaks, ports }),
        }
    }

    /// The exit status the shown report gives.
    pub fn exit_status(&self) -> ExitStatus {
        ExitStatus::of_report(&self.shown)
    }

    /// The baseline's news for the terminal, one `sockcheck: ` line each.
    pub fn write_notes(&self, out: &mut dyn Write) -> io::Result<()> {
        let Some(view) = &self.baseline else {
            return Ok(());
        };
        writeln!(out, "sockcheck: baseline: {}", view.headline())?;
        write_capped(out, "sockcheck: new leak: ", &new_lines(&view.leaks))?;
        write_capped(
            out,
            "sockcheck: new port finding: ",
            &new_lines(&view.ports),
        )?;
        write_capped(out, "sockcheck: fixed: ", &view.fixed_lines())?;
        if !view.leaks.fixed.is_empty() || !view.ports.fixed.is_empty() {
            writeln!(
                out,
                "sockcheck: the baseline can shrink: write it again with --write-baseline PATH"
            )?;
        }
        Ok(())
    }

    /// The baseline's section of the Markdown report; nothing without a baseline.
    pub fn write_markdown(&self, out: &mut dyn Write) -> io::Result<()> {
        let Some(view) = &self.baseline else {
            return Ok(());
        };
        markdown::render_baseline(
            &view.headline(),
            &new_lines(&view.leaks),
            &new_lines(&view.ports),
            &view.fixed_lines(),
            out,
        )
    }
}

impl BaselineView<'_> {
    /// `1 new leak (1 error), 5 known leaks (not failing), 2 fixed`, then
    /// `; 1 new port finding (0 errors), ...` likewise when the run or the
    /// baseline has port findings.
    fn headline(&self) -> String {
        let mut headline = tally(&self.leaks, "leak");
        let ports = &self.ports;
        if !(ports.new.is_empty() && ports.known.is_empty() && ports.fixed.is_empty()) {
            headline.push_str("; ");
            headline.push_str(&tally(ports, "port finding"));
        }
        headline
    }

    /// The fixed entries, leaks first, one line each.
    fn fixed_lines(&self) -> Vec<String> {
        let leaks = self.leaks.fixed.iter().map(fixed_line);
        leaks
            .chain(self.ports.fixed.iter().map(fixed_line))
            .collect()
    }
}

/// `1 new leak (1 error), 5 known leaks (not failing), 2 fixed`, for `noun`.
fn tally<F: Finding>(matches: &Matches<'_, F>, noun: &str) -> String {
    let fixed: usize = matches.fixed.iter().map(|e| e.count).sum();
    format!(
        "{} ({}), {} (not failing), {fixed} fixed",
        counted(matches.new.len(), &format!("new {noun}")),
        counted(matches.new_errors().count(), "error"),
        counted(matches.known.len(), &format!("known {noun}")),
    )
}

/// A line for each new finding: `net::leaks: error listen: tcp
/// 127.0.0.1:40211 LISTEN (pid 7)`, `net::churns: warning port-churn: 5000
/// connections closed first ...`.
fn new_lines<F: Finding>(matches: &Matches<'_, F>) -> Vec<String> {
    let line = |(test, finding): &(&TestRecord, &F)| {
        visible(&format!("{}: {}", test.full_name(), finding.describe())).into_owned()
    };
    matches.new.iter().map(line).collect()
}

/// `net::leaks: close-wait tcp 127.0.0.1:* -> 127.0.0.1:* CLOSE_WAIT`, with `(x2)` for two.
fn fixed_line<I: Display>(entry: &BaselineEntry<I>) -> String {
    let line = if entry.count > 1 {
        format!("{} (x{})", entry.identity, entry.count)
    } else {
        entry.identity.to_string()
    };
    visible(&line).into_owned()
}

/// One `prefix`ed line per item, the first [`MAX_LISTED`], then a count.
fn write_capped(out: &mut dyn Write, prefix: &str, items: &[impl Display]) -> io::Result<()> {
    let capped = Capped::new(items, MAX_LISTED);
    for item in capped.listed {
        writeln!(out, "{prefix}{item}")?;
    }
    if let Some(more) = capped.and_more() {
        writeln!(out, "{prefix}{more}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockcheck::baseline::PortRange;
    use sockcheck::leak::LeakKind;
    use sockcheck::ports::PortProblem;
    use sockcheck::testing;

    fn listener(port: u16) -> Leak {
        testing::leak(LeakKind::Listen, testing::listener(port))
    }

    fn test(name: &str, outcome: Outcome, leaks: Vec<Leak>) -> TestRecord {
        testing::record("net", name, outcome, leaks)
    }

    /// A baseline from `before`, as the system's port range would judge it.
    fn baseline(before: &Report) -> Baseline {
        assert!(!PortRange::system().contains(8080) && !PortRange::system().contains(9090));
        Baseline::from_report(before)
    }

    #[test]
    fn without_a_baseline_the_report_is_shown_as_it_is() {
        let report = Report::new(vec![test("a", Outcome::Passed, vec![listener(8080)])]);
        let verdict = Verdict::judge(&report, None);
        assert_eq!(*verdict.shown, report);
        assert_eq!(verdict.exit_status(), ExitStatus::Leak);
        let mut notes = Vec::new();
        verdict.write_notes(&mut notes).unwrap();
        verdict.write_markdown(&mut notes).unwrap();
        assert!(notes.is_empty());
    }

    #[test]
    fn known_leaks_are_warnings_new_ones_fail_and_fixed_ones_are_listed() {
        let before = Report::new(vec![
            test("known", Outcome::Passed, vec![listener(8080)]),
            test("fixed", Outcome::Passed, vec![listener(8080)]),
            test("not_run", Outcome::Passed, vec![listener(8080)]),
            test("ignored_now", Outcome::Passed, vec![listener(8080)]),
        ]);
        let now = Report::new(vec![
            test(
                "known",
                Outcome::Passed,
                vec![listener(8080), listener(9090)],
            ),
            test("fixed", Outcome::Passed, vec![]),
            test("ignored_now", Outcome::Ignored, vec![]),
        ]);
        let base = baseline(&before);
        let verdict = Verdict::judge(&now, Some(&base));
        let severities: Vec<Severity> = verdict.shown.tests[0]
            .leaks
            .iter()
            .map(|l| l.severity)
            .collect();
        assert_eq!(severities, [Severity::Warning, Severity::Error]);
        assert_eq!(
            (verdict.shown.summary.errors, verdict.shown.summary.warnings),
            (1, 1)
        );
        assert_eq!(verdict.exit_status(), ExitStatus::Leak);

        let mut notes = Vec::new();
        verdict.write_notes(&mut notes).unwrap();
        assert_eq!(
            String::from_utf8(notes).unwrap(),
            "sockcheck: baseline: 1 new leak (1 error), 1 known leak (not failing), 1 fixed\n\
             sockcheck: new leak: net::known: error listen: tcp 127.0.0.1:9090 LISTEN (pid 4242)\n\
             sockcheck: fixed: net::fixed: listen tcp 127.0.0.1:8080 LISTEN\n\
             sockcheck: the baseline can shrink: write it again with --write-baseline PATH\n"
        );
        let mut markdown = Vec::new();
        verdict.write_markdown(&mut markdown).unwrap();
        assert_eq!(
            String::from_utf8(markdown).unwrap(),
            "\n#### Baseline\n\n\
             1 new leak (1 error), 1 known leak (not failing), 1 fixed.\n\n\
             New leaks, not in the baseline:\n\n\
             ```text\n\
             net::known: error listen: tcp 127.0.0.1:9090 LISTEN (pid 4242)\n\
             ```\n\n\
             Fixed: in the baseline, gone now (write it again with `--write-baseline` to shrink it):\n\n\
             ```text\n\
             net::fixed: listen tcp 127.0.0.1:8080 LISTEN\n\
             ```\n"
        );
    }

    #[test]
    fn the_shown_report_keeps_the_run_and_counts_the_known_errors() {
        let mut udp = testing::leak(LeakKind::Udp, testing::listener(9090));
        udp.severity = Severity::Warning;
        let mut report = Report::new(vec![test("a", Outcome::Passed, vec![listener(8080), udp])]);
        report.duration_ms = Some(2415);
        report.interrupted = true;
        let rule = serde_json::json!({"rule": "crate pool", "reason": "kept", "hits": 0});
        report.rules = vec![serde_json::from_value(rule).unwrap()];
        let base = baseline(&report);
        let verdict = Verdict::judge(&report, Some(&base));
        assert_eq!(verdict.shown.duration_ms, Some(2415));
        assert!(verdict.shown.interrupted);
        assert_eq!(verdict.shown.rules, report.rules);
        assert_eq!(verdict.shown.tests[0].leaks[0].severity, Severity::Warning);
        // Of the two known leaks, one was an error.
        assert_eq!(verdict.shown.baselined, Some(1));
        assert_eq!(verdict.shown.summary.warnings, 2);
        assert_eq!(Verdict::judge(&report, None).shown.baselined, None);
    }

    #[test]
    fn a_run_with_only_known_leaks_passes_and_failures_still_win() {
        let before = Report::new(vec![test("a", Outcome::Passed, vec![listener(8080)])]);
        let base = baseline(&before);
        assert_eq!(
            Verdict::judge(&before, Some(&base)).exit_status(),
            ExitStatus::Clean
        );
        let failed = Report::new(vec![test("a", Outcome::Failed, vec![listener(8080)])]);
        assert_eq!(
            Verdict::judge(&failed, Some(&base)).exit_status(),
            ExitStatus::TestFailed
        );
    }

    /// A test whose `churn` connections closed first were found, as an
    /// error (`--deny port-churn`).
    fn churning(name: &str, churn: u64) -> TestRecord {
        let mut record = test(name, Outcome::Passed, vec![]);
        let mut finding = PortFinding::new(PortProblem::PortChurn {
            active_closes: churn,
            threshold: 10,
        });
        finding.severity = Some(Severity::Error);
        record.port_findings = vec![finding];
        record
    }

    #[test]
    fn known_port_findings_are_warnings_and_new_ones_fail() {
        let before = Report::new(vec![churning("known", 50), churning("fixed", 50)]);
        let base = baseline(&before);
        // Other counts: the same findings.
        let same = Report::new(vec![churning("known", 48), churning("fixed", 49)]);
        let verdict = Verdict::judge(&same, Some(&base));
        assert_eq!(verdict.exit_status(), ExitStatus::Clean);
        assert_eq!(
            verdict.shown.tests[0].port_findings[0].severity,
            Some(Severity::Warning)
        );
        assert_eq!(
            (
                verdict.shown.summary.port_errors,
                verdict.shown.summary.port_warnings
            ),
            (0, 2)
        );
        assert_eq!(verdict.shown.baselined, Some(2));

        let now = Report::new(vec![
            churning("known", 50),
            test("fixed", Outcome::Passed, vec![]),
            churning("fresh", 60),
        ]);
        let verdict = Verdict::judge(&now, Some(&base));
        assert_eq!(verdict.exit_status(), ExitStatus::Leak);
        let mut notes = Vec::new();
        verdict.write_notes(&mut notes).unwrap();
        assert_eq!(
            String::from_utf8(notes).unwrap(),
            "sockcheck: baseline: 0 new leaks (0 errors), 0 known leaks (not failing), 0 fixed; \
             1 new port finding (1 error), 1 known port finding (not failing), 1 fixed\n\
             sockcheck: new port finding: net::fresh: error port-churn: 60 connections closed \
             first hold their ports for 60 s (threshold 10)\n\
             sockcheck: fixed: net::fixed: port-churn\n\
             sockcheck: the baseline can shrink: write it again with --write-baseline PATH\n"
        );
        let mut markdown = Vec::new();
        verdict.write_markdown(&mut markdown).unwrap();
        let markdown = String::from_utf8(markdown).unwrap();
        assert!(
            markdown.contains(
                "New port findings, not in the baseline:\n\n```text\n\
                 net::fresh: error port-churn: 60 connections"
            ),
            "{markdown}"
        );
        assert!(!markdown.contains("New leaks"), "{markdown}");
    }
}
