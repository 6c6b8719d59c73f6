//! The gate: which leaks fail the run (the exit status follows from the
//! report it shows).
//!
//! Without a baseline every error-level leak fails the run. With one
//! (`--baseline PATH`), a leak the baseline knows does not: the report is
//! *shown* (text, Markdown, JUnit, annotations) with known leaks as
//! warnings, so CI views agree with the exit status, while the JSON report
//! keeps every leak at its policy's severity, the raw result that `report
//! --merge --baseline` and `--write-baseline` read again. New leaks are
//! named on stderr and in the Markdown; baseline leaks whose test ran and
//! no longer leaks are listed as fixed, so the baseline can shrink.

use crate::exit::ExitStatus;
use sockcheck::baseline::{Baseline, BaselineEntry};
use sockcheck::leak::{Leak, Severity};
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
    /// The report as shown: leaks the baseline knows are warnings.
    pub shown: Cow<'r, Report>,
    /// What the baseline says, when there is one.
    pub baseline: Option<BaselineView<'r>>,
}

/// A report next to its baseline.
pub struct BaselineView<'r> {
    /// Leaks the baseline does not know, in report order.
    pub new: Vec<(&'r TestRecord, &'r Leak)>,
    /// Number of leaks the baseline knows.
    pub known: usize,
    /// Baseline leaks of tests that ran and no longer leak them.
    pub fixed: Vec<BaselineEntry>,
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
        // The same run, judged: everything but the leaks' severities is kept.
        let mut shown = report.clone();
        let mut baselined = 0;
        for &(test, leak) in &comparison.known_at {
            let severity = &mut shown.tests[test].leaks[leak].severity;
            baselined += usize::from(*severity == Severity::Error);
            *severity = Severity::Warning;
        }
        shown.summary = Summary::of(&shown.tests);
        shown.baselined = Some(baselined);
        // A shard or a filtered run says nothing about the tests it did not run.
        let ran: HashSet<(&str, &str)> = report
            .tests
            .iter()
            .filter(|t| t.outcome != Outcome::Ignored)
            .map(|t| (t.binary.as_str(), t.name.as_str()))
            .collect();
        let fixed = comparison
            .fixed
            .into_iter()
            .filter(|entry| {
                ran.contains(&(entry.identity.binary.as_str(), entry.identity.test.as_str()))
            })
            .collect();
        Verdict {
            shown: Cow::Owned(shown),
            baseline: Some(BaselineView {
                new: comparison.new,
                known: comparison.known.len(),
                fixed,
            }),
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
        let new: Vec<String> = view.new.iter().map(|(t, l)| new_line(t, l)).collect();
        write_capped(out, "sockcheck: new leak: ", &new)?;
        let fixed: Vec<String> = view.fixed.iter().map(fixed_line).collect();
        write_capped(out, "sockcheck: fixed: ", &fixed)?;
        if !view.fixed.is_empty() {
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
        let new: Vec<String> = view.new.iter().map(|(t, l)| new_line(t, l)).collect();
        let fixed: Vec<String> = view.fixed.iter().map(fixed_line).collect();
        markdown::render_baseline(&view.headline(), &new, &fixed, out)
    }
}

impl BaselineView<'_> {
    /// `1 new leak (1 error), 5 known leaks (not failing), 2 fixed`
    fn headline(&self) -> String {
        let errors = self
            .new
            .iter()
            .filter(|(_, leak)| leak.severity == Severity::Error)
            .count();
        let fixed: usize = self.fixed.iter().map(|e| e.count).sum();
        format!(
            "{} ({}), {} (not failing), {fixed} fixed",
            counted(self.new.len(), "new leak"),
            counted(errors, "error"),
            counted(self.known, "known leak"),
        )
    }
}

/// `net::leaks: error listen: tcp 127.0.0.1:40211 LISTEN (pid 7)`
fn new_line(test: &TestRecord, leak: &Leak) -> String {
    visible(&format!("{}: {leak}", test.full_name())).into_owned()
}

/// `net::leaks: close-wait tcp 127.0.0.1:* -> 127.0.0.1:* CLOSE_WAIT`, with `(×2)` for two.
fn fixed_line(entry: &BaselineEntry) -> String {
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
}
