//! The terminal rendering: each failing or leaking test with its leaks
//! and port findings (and its output, as [`TextOptions`] asks), then the
//! summary: counts by
//! outcome and by leak kind, the slowest tests of a long run, what the
//! linger cost when that was significant, and one line on what to do next.
//!
//! It is written with ANSI styles ([`anstyle`]): print it through
//! `anstream::AutoStream`, which drops them when colour is off (a pipe, a
//! file, `NO_COLOR`, `--color never`). The other formats never carry styles.

use super::listing::{count_by_kind, kinds_present, Capped};
use super::sites::call_place;
use super::words::counted;
use super::{allowed_groups, visible, Outcome, Report, TestRecord};
use crate::allow::{proposed_rules, RuleUse};
use crate::leak::{Leak, Severity};
use crate::ports::{PortFinding, PortFindingKind};
use anstyle::{AnsiColor, Style};
use std::fmt::Display;
use std::io::{self, Write};
use std::time::Duration;

/// What the text report shows of each test besides its leaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextOptions {
    /// The captured output of tests that passed but leaked.
    pub success_output: bool,
    /// The captured output of tests that failed, timed out or crashed.
    pub failure_output: bool,
}

impl Default for TextOptions {
    /// Failing tests' output, not that of passing ones: a leak is explained
    /// by its socket, a failure by its output.
    fn default() -> Self {
        TextOptions {
            success_output: false,
            failure_output: true,
        }
    }
}

/// Width of the status words and summary headings, so what follows lines up.
const LABEL_WIDTH: usize = 8;
/// Indentation of a test's leaks and output under its status line.
const INDENT: &str = "         ";

/// Further indentation of where a leak was opened and who holds it, under
/// the leak's line (past the severity word `error `).
const ORIGIN_INDENT: &str = "      ";

/// A run counts as long, and its slowest tests are named, from this much
/// test time in all.
pub const LONG_RUN: Duration = Duration::from_secs(10);
/// A test is named among the slowest only if it took at least this long.
pub const SLOW_TEST: Duration = Duration::from_secs(1);
/// At most this many slowest tests are named.
pub const SLOWEST_LISTED: usize = 3;
/// The linger's cost is shown from this much waiting in all...
pub const SIGNIFICANT_LINGER: Duration = Duration::from_secs(1);
/// ...when it is also at least this share of the test time (percent).
pub const SIGNIFICANT_LINGER_PERCENT: u64 = 10;

const GREEN: Style = colour(AnsiColor::Green).bold();
const YELLOW: Style = colour(AnsiColor::Yellow).bold();
const RED: Style = colour(AnsiColor::Red).bold();
const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const BINARY: Style = colour(AnsiColor::Magenta);
const HEADING: Style = colour(AnsiColor::Cyan).bold();

const fn colour(c: AnsiColor) -> Style {
    Style::new().fg_color(Some(anstyle::Color::Ansi(c)))
}

/// `text` in `style`, reset after.
fn paint(style: Style, text: impl Display) -> String {
    format!("{style}{text}{style:#}")
}

/// Writes the failing and leaking tests of `report`, then the summary.
pub fn render(report: &Report, options: &TextOptions, out: &mut dyn Write) -> io::Result<()> {
    for test in &report.tests {
        let failed = test.outcome.is_failure();
        if test.leaks.is_empty() && test.port_findings.is_empty() && !failed {
            continue;
        }
        write!(out, "{} {}", label(test), name(test))?;
        match &test.detail {
            Some(detail) => writeln!(out, ": {}", visible(detail))?,
            None => writeln!(out)?,
        }
        write_leaks(test, out)?;
        write_port_findings(test, out)?;
        let show_output = if failed {
            options.failure_output
        } else {
            options.success_output
        };
        if show_output {
            write_output(test, out)?;
        }
    }
    if report.interrupted {
        writeln!(
            out,
            "{} the run was cut short; results cover finished tests only",
            paint(RED, "interrupted:")
        )?;
    }
    write_summary(report, out)
}

/// The line a test gets as it finishes: `    LEAK [   0.112s] net::leaks_udp`.
pub fn write_test_line(test: &TestRecord, out: &mut dyn Write) -> io::Result<()> {
    let took = bracketed_seconds(test.duration_ms.unwrap_or(0));
    writeln!(out, "{} {took} {}", label(test), name(test))
}

/// `[   0.112s]`: a test's (or the run's) time, aligned as nextest does.
fn bracketed_seconds(ms: u64) -> String {
    format!("[{:>9}]", seconds(Duration::from_millis(ms)))
}

/// `LEAK`, `FAIL`, `TIMEOUT`, `CRASH`, `IGNORE` or `PASS`: the word a test
/// gets on the terminal.
pub fn status_word(test: &TestRecord) -> &'static str {
    match test.outcome {
        Outcome::Failed => "FAIL",
        Outcome::TimedOut => "TIMEOUT",
        Outcome::Crashed => "CRASH",
        Outcome::Ignored => "IGNORE",
        Outcome::Passed if !test.leaks.is_empty() => "LEAK",
        Outcome::Passed => "PASS",
    }
}

/// The status word, right-aligned and coloured: green PASS, yellow LEAK,
/// red FAIL/TIMEOUT/CRASH.
fn label(test: &TestRecord) -> String {
    let style = match test.outcome {
        Outcome::Passed if test.leaks.is_empty() => GREEN,
        Outcome::Passed | Outcome::Ignored => YELLOW,
        Outcome::Failed | Outcome::TimedOut | Outcome::Crashed => RED,
    };
    paint(style, format!("{:>LABEL_WIDTH$}", status_word(test)))
}

/// `net::leaks_udp`, the binary in magenta and the test in bold, control
/// characters [`visible`].
fn name(test: &TestRecord) -> String {
    format!(
        "{}{}",
        paint(BINARY, format!("{}::", visible(&test.binary))),
        paint(BOLD, visible(&test.name))
    )
}

/// Lists a test's leaks, indented, the first
/// [`MAX_LEAKS_LISTED`](super::listing::MAX_LEAKS_LISTED) one per line (with
/// where each was opened and who holds it, when known, beneath it) and the
/// rest counted by kind.
pub fn write_leaks(test: &TestRecord, out: &mut dyn Write) -> io::Result<()> {
    let capped = Capped::leaks(&test.leaks);
    for leak in capped.listed {
        writeln!(out, "{INDENT}{}", leak_line(leak))?;
        for line in leak.origin_lines() {
            writeln!(out, "{INDENT}{ORIGIN_INDENT}{}", visible(&line))?;
        }
    }
    if let Some(more) = capped.and_more_by_kind() {
        writeln!(out, "{INDENT}{more}")?;
    }
    Ok(())
}

/// Lists a test's port findings, indented, each with its details (where
/// the call was made, who held the address) beneath it.
pub fn write_port_findings(test: &TestRecord, out: &mut dyn Write) -> io::Result<()> {
    for finding in &test.port_findings {
        writeln!(out, "{INDENT}{}", port_finding_line(finding))?;
        for line in call_place(finding).into_iter().chain(finding.details()) {
            writeln!(out, "{INDENT}{ORIGIN_INDENT}{}", visible(&line))?;
        }
    }
    Ok(())
}

/// `warning port-churn: 5000 connections closed first ...`, or `note
/// address-in-use: ...` for a finding without a severity.
fn port_finding_line(finding: &PortFinding) -> String {
    let word = finding
        .severity
        .map_or_else(|| paint(DIM, "note"), severity);
    let line = format!("{}: {}", finding.kind(), finding.summary());
    format!("{word} {}", visible(&line))
}

/// `error close-wait: tcp ... CLOSE_WAIT (pid 4242)`, the severity coloured.
fn leak_line(leak: &Leak) -> String {
    format!(
        "{} {}",
        severity(leak.severity),
        visible(&leak.description().to_string())
    )
}

fn severity(severity: Severity) -> String {
    let style = match severity {
        Severity::Error => RED,
        Severity::Warning => YELLOW,
    };
    paint(style, severity.name())
}

/// A test's captured output, indented under a dimmed rule; nothing when
/// there is none.
pub fn write_output(test: &TestRecord, out: &mut dyn Write) -> io::Result<()> {
    let Some(output) = test.output.as_deref().filter(|o| !o.trim().is_empty()) else {
        return Ok(());
    };
    writeln!(out, "{INDENT}{}", paint(DIM, "── output ──"))?;
    // A test's own escape sequences never reach the terminal raw, even
    // where sockcheck's colours are forced on.
    for line in output.trim_end().lines() {
        writeln!(out, "{INDENT}{}", visible(line))?;
    }
    Ok(())
}

/// The summary: `Summary` (with the run's time when known), `Leaks`, a
/// `Fix` line per kind of leak found, and when they apply `Allowed`, a
/// `Rule` to paste per dependency that opened leaks, `Slowest`, `Linger`
/// and `Next`.
pub fn write_summary(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", paint(DIM, "─".repeat(LABEL_WIDTH * 5)))?;
    let took = report
        .duration_ms
        .map(|ms| format!("{} ", bracketed_seconds(ms)))
        .unwrap_or_default();
    writeln!(out, "{} {took}{}", heading("Summary"), outcomes(report))?;
    writeln!(out, "{} {}", heading("Leaks"), leaks(report))?;
    let kinds = kinds_present(report.tests.iter().flat_map(|t| &t.leaks));
    write_fixes(out, kinds.into_iter().map(|kind| (kind, kind.fix())))?;
    let port_kinds = port_kinds_present(report);
    if !port_kinds.is_empty() {
        let counts: Vec<String> = port_kinds
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        writeln!(out, "{} {}", heading("Ports"), counts.join(", "))?;
    }
    write_fixes(
        out,
        port_kinds.into_iter().map(|(kind, _)| (kind, kind.fix())),
    )?;
    for group in allowed_groups(report) {
        let group = group.to_string();
        writeln!(out, "{} {}", heading("Allowed"), visible(&group))?;
    }
    for warning in report.rules.iter().filter_map(RuleUse::warning) {
        writeln!(out, "{} {warning}", heading("Rules"))?;
    }
    for rule in proposed_rules(report.tests.iter().flat_map(|t| &t.leaks)) {
        writeln!(
            out,
            "{} {rule}: if that crate keeps such sockets open on purpose, {} or put in sockcheck.toml:",
            heading("Rule"),
            rule.flag()
        )?;
        for line in rule.toml_lines() {
            writeln!(out, "{} {line}", heading(""))?;
        }
    }
    let test_time = test_time(report);
    if let Some(slowest) = slowest(report, test_time) {
        writeln!(out, "{} {slowest}", heading("Slowest"))?;
    }
    if let Some(linger) = linger(report, test_time) {
        writeln!(out, "{} {linger}", heading("Linger"))?;
    }
    if let Some(next) = next_step(report) {
        writeln!(out, "{} {next}", heading("Next"))?;
    }
    Ok(())
}

/// The kinds of port finding in `report`, in report order, with how many
/// of each.
fn port_kinds_present(report: &Report) -> Vec<(PortFindingKind, usize)> {
    let findings = || report.tests.iter().flat_map(|t| &t.port_findings);
    PortFindingKind::ALL
        .into_iter()
        .map(|kind| (kind, findings().filter(|f| f.kind() == kind).count()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// `13 tests: 11 passed, 1 failed, 1 ignored`; timed-out and crashed
/// tests are counted apart when there are any.
fn outcomes(report: &Report) -> String {
    let count = |outcome: Outcome| report.tests.iter().filter(|t| t.outcome == outcome).count();
    let mut parts = vec![
        paint_count(count(Outcome::Passed), "passed", GREEN),
        paint_count(count(Outcome::Failed), "failed", RED),
    ];
    for (outcome, word) in [
        (Outcome::TimedOut, "timed out"),
        (Outcome::Crashed, "crashed"),
    ] {
        if count(outcome) > 0 {
            parts.push(paint_count(count(outcome), word, RED));
        }
    }
    parts.push(paint_count(count(Outcome::Ignored), "ignored", YELLOW));
    format!(
        "{}: {}",
        counted(report.tests.len(), "test"),
        parts.join(", ")
    )
}

/// `3 passed`, coloured when the count is not zero.
fn paint_count(n: usize, word: &str, style: Style) -> String {
    let text = format!("{n} {word}");
    if n == 0 {
        text
    } else {
        paint(style, text)
    }
}

/// `8 leaking tests: 6 errors (2 close-wait, 3 listen, 1 orphan), 3 warnings (...)`
fn leaks(report: &Report) -> String {
    let s = &report.summary;
    if s.leaking_tests == 0 {
        return paint(GREEN, "none: no test left a socket open");
    }
    let by_severity = |severity: Severity, style: Style| {
        let leaks = report
            .tests
            .iter()
            .flat_map(|t| &t.leaks)
            .filter(move |l| l.severity == severity);
        let n = leaks.clone().count();
        let text = counted(n, severity.name());
        if n == 0 {
            text
        } else {
            format!("{} ({})", paint(style, text), count_by_kind(leaks))
        }
    };
    format!(
        "{}: {}, {}",
        counted(s.leaking_tests, "leaking test"),
        by_severity(Severity::Error, RED),
        by_severity(Severity::Warning, YELLOW)
    )
}

/// The time the tests took in all (not the wall time: tests run at once).
fn test_time(report: &Report) -> Duration {
    Duration::from_millis(report.tests.iter().filter_map(|t| t.duration_ms).sum())
}

/// `12.345s net::slow, 3.000s db::pool::connect` on a long run: the
/// [`SLOWEST_LISTED`] slowest tests that took [`SLOW_TEST`] or more, when
/// the tests took [`LONG_RUN`] or more in all.
fn slowest(report: &Report, test_time: Duration) -> Option<String> {
    if test_time < LONG_RUN {
        return None;
    }
    let mut slow: Vec<(&TestRecord, Duration)> = report
        .tests
        .iter()
        .filter(|t| t.outcome != Outcome::Ignored)
        .filter_map(|t| Some((t, Duration::from_millis(t.duration_ms?))))
        .filter(|(_, took)| *took >= SLOW_TEST)
        .collect();
    if slow.is_empty() {
        return None;
    }
    slow.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| a.0.full_name().cmp(&b.0.full_name()))
    });
    let named: Vec<String> = slow
        .iter()
        .take(SLOWEST_LISTED)
        .map(|(test, took)| format!("{} {}", seconds(*took), name(test)))
        .collect();
    Some(named.join(", "))
}

/// `waited 2.100s at test exits for sockets to close (15% of test time); ...`
/// when that is significant: [`SIGNIFICANT_LINGER`] or more, and
/// [`SIGNIFICANT_LINGER_PERCENT`] of the test time or more.
fn linger(report: &Report, test_time: Duration) -> Option<String> {
    let waited = Duration::from_millis(report.tests.iter().filter_map(|t| t.linger_ms).sum());
    let percent =
        u64::try_from(waited.as_millis() * 100 / test_time.as_millis().max(1)).unwrap_or(u64::MAX);
    (waited >= SIGNIFICANT_LINGER && percent >= SIGNIFICANT_LINGER_PERCENT).then(|| {
        format!(
            "waited {} at test exits for sockets to close ({percent}% of test time); \
             --linger MS sets the wait",
            seconds(waited)
        )
    })
}

/// `word` right-aligned in the summary's label column, painted.
fn heading(word: &str) -> String {
    paint(HEADING, format!("{word:>LABEL_WIDTH$}"))
}

/// One line per kind and its fix, under a `Fix` heading on the first.
fn write_fixes<K: Display>(
    out: &mut dyn Write,
    fixes: impl Iterator<Item = (K, &'static str)>,
) -> io::Result<()> {
    for (i, (kind, fix)) in fixes.enumerate() {
        let word = if i == 0 { "Fix" } else { "" };
        writeln!(out, "{} {}: {fix}", heading(word), paint(BOLD, kind))?;
    }
    Ok(())
}

/// `12.345s`
fn seconds(took: Duration) -> String {
    format!("{}.{:03}s", took.as_secs(), took.subsec_millis())
}

/// One line on what to do next, from what the run found; none when clean.
fn next_step(report: &Report) -> Option<String> {
    let s = &report.summary;
    let errors: Vec<&Leak> = report
        .tests
        .iter()
        .flat_map(|t| &t.leaks)
        .filter(|l| l.severity == Severity::Error)
        .collect();
    let rerun = errors.iter().any(|l| l.stability.is_some());
    Some(if report.interrupted {
        "run again to check the tests that did not finish".to_owned()
    } else if s.failed > 0 {
        let tests = match s.failed {
            1 => "failing test".to_owned(),
            n => format!("{n} failing tests"),
        };
        // A failure a port finding explains (a taken address, no port left)
        // is not a leak's doing: say where its cause is written.
        let explained = report
            .tests
            .iter()
            .filter(|t| t.outcome.is_failure())
            .filter(|t| {
                let explains = |f: &PortFinding| f.kind().default_severity().is_none();
                t.port_findings.iter().any(explains)
            })
            .count();
        let ports = match explained {
            0 => String::new(),
            n => {
                let (who, each) = match (n, s.failed) {
                    (1, 1) => ("it failed".to_owned(), "it"),
                    (n, failed) if n == failed => ("all of them failed".to_owned(), "each"),
                    (n, _) => (format!("{n} of them failed"), "each"),
                };
                format!(
                    "; {who} on a taken address or port: the finding under {each} says who held it"
                )
            }
        };
        format!("fix the {tests} first: a test that fails may leak only because it failed{ports}")
    } else if !errors.is_empty() && !rerun && report.baselined.is_some() {
        "these errors are new, the baseline does not know them: fix them; --rerun-leaks 3 \
         tells stable leaks from flaky ones; allow-sockets rules allow sockets kept open on \
         purpose"
            .to_owned()
    } else if !errors.is_empty() && !rerun {
        "--rerun-leaks 3 tells stable leaks from flaky ones; --write-baseline PATH, then \
         --baseline PATH, fails only on new leaks; allow-sockets rules allow sockets kept \
         open on purpose"
            .to_owned()
    } else if errors
        .iter()
        .any(|l| l.stability.is_some_and(|s| s.is_stable()))
    {
        "fix the stable leaks first: they come back every run".to_owned()
    } else if !errors.is_empty() {
        "the leaks are flaky, seen in some runs only: look for cleanup that races the \
         test's end (a server thread, a connection pool)"
            .to_owned()
    } else if s.port_errors > 0 && report.baselined.is_some() {
        "these port findings are new, the baseline does not know them: fix them as the Fix \
         lines say"
            .to_owned()
    } else if s.port_errors > 0 {
        "fix the port findings as the Fix lines say; --write-baseline PATH, then --baseline \
         PATH, fails only on new ones"
            .to_owned()
    } else if let Some(known) = report.baselined.filter(|&n| n > 0) {
        let more = if s.warnings + s.port_warnings > known {
            "; the other warnings fail nothing either (--deny KIND makes a kind fail the run)"
        } else {
            ""
        };
        format!(
            "the baseline knows {}: shown as warnings, they fail nothing; fix them, then \
             --write-baseline PATH shrinks the baseline{more}",
            counted(known, "error")
        )
    } else if s.warnings > 0 {
        "warnings fail nothing; --deny KIND makes a kind of leak fail the run".to_owned()
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{PortHolder, PortProblem, PortUsage, TestName, TimeWaitMaker};
    use crate::site::{Frame, Origin};

    fn call(syscall: &str, function: &str, line: u32) -> Origin {
        Origin::new(
            syscall,
            vec![
                Frame::function(format!("std::net::tcp::TcpListener::{syscall}")),
                Frame::function(function)
                    .at("tests/ports.rs", line, Some(21))
                    .in_project(),
            ],
        )
    }

    fn in_use(held_by: PortHolder) -> PortFinding {
        PortFinding::new(PortProblem::AddressInUse {
            address: "127.0.0.1:28080".into(),
            held_by,
        })
        .at(call("bind", "ports::loser", 84))
    }

    /// A run with every kind of port finding and every kind of holder;
    /// a command line with an escape sequence, as a hostile one would.
    fn ports_report() -> Report {
        let mut loser = TestRecord::new("ports", "loser", Outcome::Failed);
        loser.detail = Some("exit status 101".into());
        loser.port_findings = vec![
            in_use(PortHolder::Test {
                test: TestName::new("ports", "winner"),
                opened: Some(call("socket", "ports::winner", 45)),
            }),
            PortFinding::new(PortProblem::FixedPortShared {
                address: "127.0.0.1:28080".into(),
                with: vec![TestName::new("ports", "winner")],
            })
            .at(call("bind", "ports::loser", 84)),
        ];
        let mut outside = TestRecord::new("ports", "outside", Outcome::Failed);
        outside.port_findings = vec![
            in_use(PortHolder::Process {
                pid: 4242,
                command: "sleep 300 \u{1b}[2J".into(),
            }),
            in_use(PortHolder::TimeWait { entries: 2 }),
            in_use(PortHolder::Unknown),
        ];
        for held_by in [
            PortHolder::StaleSocketFile { left_by: None },
            PortHolder::NotASocket,
        ] {
            let path = PortProblem::AddressInUse {
                address: "/tmp/app.sock".into(),
                held_by,
            };
            let at = call("bind", "ports::outside", 90);
            outside.port_findings.push(PortFinding::new(path).at(at));
        }
        let mut exhausted = TestRecord::new("ports", "exhausted", Outcome::Failed);
        exhausted.port_findings = vec![PortFinding::new(PortProblem::AddressNotAvailable {
            address: "127.0.0.1:80".into(),
            time_wait: 28_000,
            made_by: vec![
                TimeWaitMaker::new(TestName::new("ports", "churn"), 27_000),
                TimeWaitMaker::new(TestName::new("ports", "churn_too"), 1_000),
            ],
        })
        .at(call("connect", "ports::exhausted", 130))];
        let mut churn = TestRecord::new("ports", "churn", Outcome::Passed);
        churn.ports = Some(PortUsage {
            connects: 5_000,
            active_closes: 5_000,
            ..PortUsage::default()
        });
        churn.port_findings = vec![
            PortFinding::new(PortProblem::PortChurn {
                active_closes: 5_000,
                threshold: 2_352,
            }),
            PortFinding::new(PortProblem::FixedPortInEphemeralRange {
                address: "127.0.0.1:40000".into(),
                range: [32768, 60999],
            })
            .at(call("bind", "ports::churn", 111)),
        ];
        let quiet = TestRecord::new("ports", "churns_50", Outcome::Passed);
        Report::new(vec![loser, outside, exhausted, churn, quiet])
    }

    fn plain(report: &Report) -> String {
        let mut out = anstream::AutoStream::new(Vec::new(), anstream::ColorChoice::Never);
        render(report, &TextOptions::default(), &mut out).unwrap();
        String::from_utf8(out.into_inner()).unwrap()
    }

    #[test]
    fn port_findings_are_shown_under_their_test_with_the_fix_per_kind() {
        let text = plain(&ports_report());
        assert!(
            !text.contains('\u{1b}'),
            "the command's escape is shown, not sent"
        );
        assert!(
            !text.contains("churns_50"),
            "a clean passing test is not listed"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_note_is_dimmed_and_a_warning_yellow() {
        let mut out = Vec::new();
        write_port_findings(&ports_report().tests[3], &mut out).unwrap();
        let coloured = String::from_utf8(out).unwrap().replace('\x1b', "␛");
        assert!(
            coloured.contains("␛[1m␛[33mwarning␛[0m port-churn: "),
            "{coloured}"
        );
        let mut out = Vec::new();
        write_port_findings(&ports_report().tests[0], &mut out).unwrap();
        let coloured = String::from_utf8(out).unwrap().replace('\x1b', "␛");
        assert!(
            coloured.contains("␛[2mnote␛[0m address-in-use: "),
            "{coloured}"
        );
    }
}
