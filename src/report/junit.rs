//! The JUnit XML rendering, for CI test views (GitLab, Jenkins, Azure, the
//! GitHub test-report actions).
//!
//! One `<testsuite>` per test binary, one `<testcase>` per test (the binary
//! as its `classname`). A test that left an error-level leak gets a
//! `<failure type="socket-leak">` naming the leaks, so CI shows it as
//! failed; a failed, timed-out or crashed test gets a `<failure>` whose type
//! is the outcome and whose message is its detail; an ignored test is
//! skipped. Warning-level leaks and the captured output go to the test's
//! `<system-out>`. Port findings ("address in use, held by ...", a fixed
//! port, churn) are told in the failure's text when the test fails (an
//! error-level finding fails it, of type `port-finding`), else in its
//! `<system-out>`. When the run was interrupted every suite carries the
//! property `sockcheck.interrupted = true`.
//!
//! XML 1.0 allows no control character but tab, newline and carriage
//! return, nor U+FFFE and U+FFFF: every string from the run (names, thread
//! names, socket paths, messages, output) goes in through `xml_text`.

use super::listing::{count_by_kind, kinds_present, Capped};
use super::sites::call_place;
use super::words::counted;
use super::{visible, Outcome, Report, TestRecord};
use crate::leak::{Leak, Severity};
use crate::ports::{PortFinding, PortFindingKind};
use crate::site::Frame;
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::Duration;

/// Leaks named in a failure's one-line message; all of them (up to
/// [`MAX_LEAKS_LISTED`](super::listing::MAX_LEAKS_LISTED)) are in its text.
const LEAKS_IN_MESSAGE: usize = 3;

/// Writes `report` as a JUnit XML document.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut junit = quick_junit::Report::new("sockcheck");
    // Suites in the order their binaries first appear, found by name in a
    // map: linear however many binaries there are.
    let mut suites: Vec<TestSuite> = Vec::new();
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    for test in &report.tests {
        let index = *index_of.entry(test.binary.as_str()).or_insert_with(|| {
            let mut suite = TestSuite::new(xml_text(&test.binary));
            if report.interrupted {
                suite.add_property(Property::new("sockcheck.interrupted", "true"));
            }
            suites.push(suite);
            suites.len() - 1
        });
        suites[index].add_test_case(test_case(test));
    }
    junit.add_test_suites(suites);
    if let Some(ms) = report.duration_ms {
        junit.set_time(Duration::from_millis(ms));
    }
    junit.serialize(out).map_err(io::Error::other)
}

fn test_case(test: &TestRecord) -> TestCase {
    let errors: Vec<&Leak> = test
        .leaks
        .iter()
        .filter(|l| l.severity == Severity::Error)
        .collect();
    let status = if test.outcome == Outcome::Ignored {
        TestCaseStatus::skipped()
    } else if test.outcome.is_failure() {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_type(test.outcome.name()).set_message(xml_text(
            test.detail.as_deref().unwrap_or(test.outcome.name()),
        ));
        if !test.leaks.is_empty() || !test.port_findings.is_empty() {
            status.set_description(xml_text(&failure_text(test)));
        }
        status
    } else if !errors.is_empty() {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status
            .set_type("socket-leak")
            .set_message(xml_text(&leak_message(&errors)))
            .set_description(xml_text(&failure_text(test)));
        status
    } else if test.port_count(Severity::Error) > 0 {
        let summaries: Vec<String> = test
            .port_findings
            .iter()
            .filter(|f| f.severity == Some(Severity::Error))
            .map(PortFinding::summary)
            .collect();
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status
            .set_type("port-finding")
            .set_message(xml_text(&summaries.join("; ")))
            .set_description(xml_text(&failure_text(test)));
        status
    } else {
        TestCaseStatus::success()
    };

    let mut case = TestCase::new(xml_text(&test.name), status);
    case.set_classname(xml_text(&test.binary));
    if let Some(ms) = test.duration_ms {
        case.set_time(Duration::from_millis(ms));
    }
    let mut system_out = String::new();
    // On a failing test the failure text already lists every leak and
    // port finding.
    let listed_in_failure =
        test.outcome.is_failure() || !errors.is_empty() || test.port_count(Severity::Error) > 0;
    if !listed_in_failure {
        let listing = leak_listing(&test.leaks) + &port_listing(&test.port_findings);
        for line in listing.lines() {
            let _ = writeln!(system_out, "sockcheck: {line}");
        }
    }
    if let Some(output) = test.output.as_deref().filter(|o| !o.is_empty()) {
        system_out.push_str(output);
    }
    if !system_out.is_empty() {
        case.set_system_out(xml_text(&system_out));
    }
    case
}

/// `text` as JUnit carries it: each line through [`visible`] (control
/// characters but tab written as escapes, `\u{1b}`, as every renderer shows
/// them, where quick-junit would drop them silently and two names could
/// become one), a tab as four spaces (quick-junit drops tabs too), and the
/// noncharacters U+FFFE and U+FFFF, which XML 1.0 does not allow, as U+FFFD.
fn xml_text(text: &str) -> String {
    let lines: Vec<_> = text
        .split('\n')
        .map(|line| visible(line.strip_suffix('\r').unwrap_or(line)))
        .collect();
    lines
        .join("\n")
        .replace('\t', "    ")
        .replace(['\u{fffe}', '\u{ffff}'], "\u{fffd}")
}

/// `left 2 sockets open: close-wait tcp 127.0.0.1:40211 -> ... CLOSE_WAIT opened at
/// tests/net.rs:31:13; listen ...`
fn leak_message(errors: &[&Leak]) -> String {
    let capped = Capped::new(errors, LEAKS_IN_MESSAGE);
    let named: Vec<String> = capped
        .listed
        .iter()
        .map(|l| match l.site().and_then(Frame::location) {
            Some(location) => format!("{} {} opened at {location}", l.kind, l.socket),
            None => format!("{} {}", l.kind, l.socket),
        })
        .collect();
    let mut message = format!(
        "left {} open: {}",
        counted(errors.len(), "socket"),
        named.join("; ")
    );
    if let Some(more) = capped.and_more() {
        let rest = capped.rest.iter().copied();
        let _ = write!(message, "; {more} ({})", count_by_kind(rest));
    }
    message
}

/// A failure's text: the test's leaks, its port findings, then how to fix
/// each kind.
fn failure_text(test: &TestRecord) -> String {
    leak_listing(&test.leaks)
        + &port_listing(&test.port_findings)
        + &fixes(&test.leaks)
        + &port_fixes(&test.port_findings)
}

/// Every port finding on its own line (with its severity, when it has
/// one), then its call and details, indented.
fn port_listing(findings: &[PortFinding]) -> String {
    let mut text = String::new();
    for finding in findings {
        match finding.severity {
            Some(severity) => {
                let _ = writeln!(text, "{severity} {}: {}", finding.kind(), finding.summary());
            }
            None => {
                let _ = writeln!(text, "{}: {}", finding.kind(), finding.summary());
            }
        }
        for line in call_place(finding).into_iter().chain(finding.details()) {
            let _ = writeln!(text, "    {line}");
        }
    }
    text
}

/// `how to fix port-churn: ...`, a line per kind of `findings`.
fn port_fixes(findings: &[PortFinding]) -> String {
    PortFindingKind::ALL
        .into_iter()
        .filter(|kind| findings.iter().any(|f| f.kind() == *kind))
        .map(|kind| format!("how to fix {kind}: {}\n", kind.fix()))
        .collect()
}

/// `how to fix close-wait: ...`, a line per kind of `leaks`.
fn fixes(leaks: &[Leak]) -> String {
    kinds_present(leaks)
        .into_iter()
        .map(|kind| format!("how to fix {kind}: {}\n", kind.fix()))
        .collect()
}

/// Every leak on its own line, the first [`MAX_LEAKS_LISTED`](super::listing::MAX_LEAKS_LISTED), then a count by kind.
fn leak_listing(leaks: &[Leak]) -> String {
    let capped = Capped::leaks(leaks);
    let mut text = String::new();
    for leak in capped.listed {
        let _ = writeln!(text, "{leak}");
        for line in leak.origin_lines() {
            let _ = writeln!(text, "    {line}");
        }
    }
    if let Some(more) = capped.and_more_by_kind() {
        let _ = writeln!(text, "{more}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leak::LeakKind;
    use crate::site::HoldingThread;
    use crate::testing::{leak, listener, record};

    /// XML 1.0's `Char`: tab, newline, carriage return, then from space on,
    /// surrogates and U+FFFE, U+FFFF excepted.
    fn xml_char(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r' | ' '..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
            || c >= '\u{10000}'
    }

    fn rendered(words: &str) -> String {
        let mut held = leak(LeakKind::Listen, listener(8080));
        held.held_by = vec![HoldingThread::new(7, words, "accept")];
        let mut test = record(words, words, Outcome::Failed, vec![held]);
        test.detail = Some(words.to_owned());
        test.output = Some(format!("{words}\nsecond {words}\n"));
        let mut out = Vec::new();
        render(&Report::new(vec![test]), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn control_characters_and_noncharacters_never_reach_the_xml() {
        let hostile = "a\u{1b}[31mb\0c\u{7}d\re\u{fffe}f\u{ffff}g\u{85}h\u{1b}]0;t\u{7}i";
        let xml = rendered(hostile);
        let invalid: Vec<char> = xml.chars().filter(|&c| !xml_char(c)).collect();
        assert_eq!(invalid, [], "{xml:?}");
        // Shown as escapes, as every renderer shows them: nothing is
        // dropped, so two names stay two.
        let shown = r"a\u{1b}[31mb\u{0}c\u{7}d\re�f�g\u{85}h\u{1b}]0;t\u{7}i";
        assert_eq!(xml.matches(shown).count(), 7, "{xml}");
        assert!(
            xml.contains(&format!("<testcase name=\"{shown}\"")),
            "{xml}"
        );
        assert!(xml.contains(&format!("held by thread &apos;{shown}&apos;")));
        assert!(xml.contains(&format!("<system-out>{shown}\nsecond {shown}\n")));
        // Plain words are as they were; a tab is spaces.
        let plain = rendered("plain\twords");
        assert!(
            plain.contains("<testcase name=\"plain    words\""),
            "{plain}"
        );
    }
}
