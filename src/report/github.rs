//! GitHub Actions workflow commands: one `::error` or `::warning`
//! annotation per leak *site* (naming the tests that leak there and the
//! kinds), one per failed test, so leaks show on the run's page and on the
//! lines of the pull request's diff. A port finding that explains a
//! failure ("address in use, held by ...") is told in the failed test's
//! annotation, placed at the failing call; one that has a severity of its
//! own (a fixed port, churn) is an annotation at its call.
//!
//! GitHub shows at most 10 error and 10 warning annotations per step (and
//! 50 per job) and silently drops the rest, so the most severe are kept
//! ([`MAX_ERRORS`], [`MAX_WARNINGS`]) and one closing `::notice` says how
//! many more there are and where to read them. Files are placed from the
//! repository root ([`RepoPaths`]), which is what GitHub resolves.

use super::listing::{count_by_kind, Capped, MAX_LEAKS_LISTED};
use super::sites::{self, By, PortEntry, RepoPaths, SiteGroup};
use super::words::counted;
use super::{visible, Report};
use crate::leak::Severity;
use std::io::{self, Write};

/// Error annotations GitHub shows per step.
pub const MAX_ERRORS: usize = 10;

/// Warning annotations GitHub shows per step.
pub const MAX_WARNINGS: usize = 10;

/// The workflow commands for `report`, one per line, without line breaks:
/// a warning when the run was interrupted, an error per failed, timed-out
/// or crashed test, an annotation per leak site (error or warning as its
/// most severe leak), at most [`MAX_ERRORS`] errors and [`MAX_WARNINGS`]
/// warnings, the most severe sites (then those with the most tests)
/// first. When some are left out, a closing notice counts them and points
/// at `elsewhere` (e.g. `the job summary and report.sarif`).
pub fn workflow_commands(report: &Report, paths: &RepoPaths, elsewhere: &str) -> Vec<String> {
    let mut candidates: Vec<(Severity, String)> = Vec::new();
    if report.interrupted {
        candidates.push((
            Severity::Warning,
            command(
                "warning",
                "sockcheck: run interrupted",
                "the run was cut short; results cover only the tests that finished",
            ),
        ));
    }
    let entries = sites::port_entries(report);
    for test in report.tests.iter().filter(|t| t.outcome.is_failure()) {
        let name = test.full_name();
        let title = format!("{name} {}", test.outcome.name());
        let mut message = match &test.detail {
            Some(detail) => format!("{name} {}: {detail}", test.outcome.name()),
            None => format!("{name} {}", test.outcome.name()),
        };
        // What explains the failure, placed at the first call that failed.
        let explaining: Vec<&PortEntry> = entries
            .iter()
            .filter(|e| std::ptr::eq(e.test, test) && e.finding.severity.is_none())
            .collect();
        for entry in &explaining {
            message.push('\n');
            message.push_str(&sites::finding_lines(entry.finding));
        }
        let place = explaining.iter().find_map(|entry| entry.place(paths));
        candidates.push((
            Severity::Error,
            annotation("error", place, &title, &message),
        ));
    }
    for group in sites::group(report, By::Site) {
        let severity = group.severity();
        candidates.push((severity, site_annotation(&group, paths)));
    }
    for entry in &entries {
        if let Some(severity) = entry.finding.severity {
            let title = format!("{} in {}", entry.finding.kind(), entry.test.full_name());
            let message = format!("{}\n{}", entry.message(), entry.finding.kind().fix());
            let line = annotation(severity.name(), entry.place(paths), &title, &message);
            candidates.push((severity, line));
        }
    }
    // Errors first (stable: the order within each level is kept).
    candidates.sort_by_key(|(severity, _)| *severity);
    let (mut errors, mut warnings) = (0, 0);
    let mut commands = Vec::new();
    for (severity, line) in candidates {
        let (shown, limit) = match severity {
            Severity::Error => (&mut errors, MAX_ERRORS),
            Severity::Warning => (&mut warnings, MAX_WARNINGS),
        };
        *shown += 1;
        if *shown <= limit {
            commands.push(line);
        }
    }
    let more_errors = errors.saturating_sub(MAX_ERRORS);
    let more_warnings = warnings.saturating_sub(MAX_WARNINGS);
    if more_errors + more_warnings > 0 {
        let message = format!(
            "{} not shown ({more_errors} error, {more_warnings} warning): GitHub shows \
             {MAX_ERRORS} error and {MAX_WARNINGS} warning annotations per step. \
             Every leak is in {elsewhere}.",
            counted(more_errors + more_warnings, "more annotation"),
        );
        commands.push(command(
            "notice",
            "sockcheck: more leaks than GitHub shows",
            &message,
        ));
    }
    commands
}

/// Writes [`workflow_commands`] of `report`, one per line.
pub fn render(
    report: &Report,
    paths: &RepoPaths,
    elsewhere: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    for line in workflow_commands(report, paths, elsewhere) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// One annotation for the leaks of a site: placed on its line when the
/// site is a project file, naming its tests, each leak (up to
/// [`MAX_LEAKS_LISTED`]) and where the
/// socket was opened.
fn site_annotation(group: &SiteGroup, paths: &RepoPaths) -> String {
    let tests = group.tests();
    let leaks: Vec<_> = group.leaks.iter().map(|(_, leak)| *leak).collect();
    let who = match tests.as_slice() {
        [one] => one.clone(),
        _ => counted(tests.len(), "test"),
    };
    let (title, mut message) = match group.leaks.as_slice() {
        [(_, leak)] => {
            let mut message = format!("{who} left a socket open: {}", leak.socket);
            if leak.socket.pid != 0 {
                message.push_str(&format!(" (pid {})", leak.socket.pid));
            }
            if let Some(stability) = leak.stability {
                message.push_str(&format!(" [{stability}]"));
            }
            (format!("{} leak in {who}", leak.kind), message)
        }
        _ => {
            let mut message = format!("{} here", group.headline());
            let listed = Capped::new(&group.leaks, MAX_LEAKS_LISTED);
            for (test, leak) in listed.listed {
                message.push_str(&format!("\n{}: {}", test.full_name(), leak.description()));
            }
            if !listed.rest.is_empty() {
                let rest = listed.rest.iter().map(|(_, leak)| *leak);
                message.push_str(&format!(
                    "\n… and {} more ({})",
                    listed.rest.len(),
                    count_by_kind(rest)
                ));
            }
            (format!("{} leaks in {who}", count_by_kind(leaks)), message)
        }
    };
    let first = group.leaks[0].1;
    let lines = match group.leaks.len() {
        1 => first.origin_lines(),
        _ => first.opened.iter().map(ToString::to_string).collect(),
    };
    for line in lines {
        message.push('\n');
        message.push_str(&line);
    }
    let place = group.place(paths).map(|(file, line)| {
        let column = group.site().and_then(|site| site.column);
        (file, line, column)
    });
    annotation(group.severity().name(), place, &title, &message)
}

fn command(name: &str, title: &str, message: &str) -> String {
    annotation(name, None, title, message)
}

/// A command placed at a repository `file`, `line` and `col` when there is
/// one, so that GitHub shows it on that line of the pull request's diff.
/// Control characters of the file, the title and each line of the message
/// (names, paths) are [`visible`], so no raw CR, NUL or ESC reaches the
/// annotation.
fn annotation(
    name: &str,
    place: Option<(String, u32, Option<u32>)>,
    title: &str,
    message: &str,
) -> String {
    let mut properties = String::new();
    if let Some((file, line, column)) = place {
        properties.push_str(&format!(
            "file={},line={line},",
            escape_property(&visible(&file))
        ));
        if let Some(column) = column {
            properties.push_str(&format!("col={column},"));
        }
    }
    let message: Vec<_> = message.split('\n').map(visible).collect();
    format!(
        "::{name} {properties}title={}::{}",
        escape_property(&visible(title)),
        escape_data(&message.join("\n"))
    )
}

/// Escapes a command's message as the runner expects: `%`, CR, LF.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command's property value: as [`escape_data`], plus `:` and `,`,
/// which would end the property.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leak::{Leak, LeakKind};
    use crate::report::{Outcome, TestRecord};
    use crate::site::{Frame, HoldingThread, Origin};
    use crate::socket::State;
    use crate::testing;

    fn leak(kind: LeakKind, severity: Severity, port: u16) -> Leak {
        let socket = testing::tcp(
            State::CloseWait,
            &format!("127.0.0.1:{port}"),
            "127.0.0.1:35719",
        );
        let mut leak = testing::leak(kind, socket);
        leak.severity = severity;
        leak
    }

    /// A leak opened at `tests/net.rs:line` in `net::leaks`.
    fn placed(severity: Severity, port: u16, line: u32) -> Leak {
        let mut placed = leak(LeakKind::Listen, severity, port);
        let stack = vec![
            Frame::function("std::net::tcp::TcpListener::bind"),
            Frame::function("net::leaks")
                .at("tests/net.rs", line, Some(13))
                .in_project(),
        ];
        placed.opened = Some(Origin::new("socket", stack));
        placed
    }

    fn commands(report: &Report) -> Vec<String> {
        workflow_commands(report, &RepoPaths::default(), "the job summary")
    }

    #[test]
    fn escapes_follow_the_runner_rules() {
        assert_eq!(escape_data("50%\r\nx:y,z"), "50%25%0D%0Ax:y,z");
        assert_eq!(escape_property("a::b, 5%\n"), "a%3A%3Ab%2C 5%25%0A");
    }

    #[test]
    fn one_annotation_per_leak_naming_the_test_when_nothing_is_known_of_sites() {
        let mut test = TestRecord::new("net", "leaks", Outcome::Passed);
        test.leaks = vec![leak(LeakKind::CloseWait, Severity::Error, 40211)];
        let mut other = TestRecord::new("net", "other", Outcome::Passed);
        other.leaks = vec![leak(LeakKind::Established, Severity::Warning, 40212)];
        assert_eq!(
            commands(&Report::new(vec![test, other])),
            [
                "::error title=close-wait leak in net%3A%3Aleaks::net::leaks left a socket open: \
                 tcp 127.0.0.1:40211 -> 127.0.0.1:35719 CLOSE_WAIT (pid 4242)",
                "::warning title=established leak in net%3A%3Aother::net::other left a socket open: \
                 tcp 127.0.0.1:40212 -> 127.0.0.1:35719 CLOSE_WAIT (pid 4242)",
            ]
        );
    }

    #[test]
    fn a_leak_with_a_site_is_placed_on_its_repository_line_and_says_who_holds_it() {
        let mut one = placed(Severity::Error, 40211, 31);
        one.held_by = vec![HoldingThread::new(9471, "server", "accept4")];
        let mut no_lines = leak(LeakKind::Listen, Severity::Error, 40212);
        let stack = vec![Frame::function("net::leaks").in_project()];
        no_lines.opened = Some(Origin::new("socket", stack).with_note("lines need debug info"));
        let mut test = TestRecord::new("net", "leaks", Outcome::Passed);
        test.leaks = vec![one, no_lines];
        let lines = workflow_commands(&Report::new(vec![test]), &RepoPaths::new("crates/net"), "x");
        assert_eq!(
            lines,
            [
                "::error file=crates/net/tests/net.rs,line=31,col=13,title=listen leak in \
                 net%3A%3Aleaks::net::leaks left a socket open: tcp 127.0.0.1:40211 -> \
                 127.0.0.1:35719 CLOSE_WAIT (pid 4242)%0Aopened at tests/net.rs:31:13 in \
                 net::leaks (std::net::tcp::TcpListener::bind)%0Aheld by thread 'server' \
                 (tid 9471), blocked in accept4()",
                "::error title=listen leak in net%3A%3Aleaks::net::leaks left a socket open: \
                 tcp 127.0.0.1:40212 -> 127.0.0.1:35719 CLOSE_WAIT (pid 4242)%0A\
                 opened in net::leaks; lines need debug info",
            ]
        );
    }

    #[test]
    fn leaks_of_many_tests_at_one_line_share_one_annotation_naming_them() {
        let tests: Vec<TestRecord> = (0..12)
            .map(|i| {
                let mut test = TestRecord::new("net", format!("t{i:02}"), Outcome::Passed);
                test.leaks = vec![placed(Severity::Error, 40000 + i, 31)];
                test
            })
            .collect();
        let lines = commands(&Report::new(tests));
        assert_eq!(lines.len(), 1, "{lines:#?}");
        let line = &lines[0];
        assert!(
            line.starts_with(
                "::error file=tests/net.rs,line=31,col=13,title=12 listen leaks in 12 tests::\
                 net::t00, net::t01,"
            ),
            "{line}"
        );
        assert!(
            line.contains("net::t09 … and 2 more tests left 12 sockets open here%0A"),
            "{line}"
        );
        assert!(
            line.contains("%0Anet::t09: listen: tcp 127.0.0.1:40009"),
            "{line}"
        );
        assert!(!line.contains("net::t10: listen"), "{line}");
        assert!(
            line.contains("%0A… and 2 more (2 listen)%0Aopened at tests/net.rs:31:13"),
            "{line}"
        );
    }

    #[test]
    fn at_most_ten_errors_and_ten_warnings_most_tests_first_then_one_notice() {
        let mut tests = Vec::new();
        for site in 0..15u16 {
            // Site `site` is leaked by `site + 1` tests, errors and warnings alike.
            for n in 0..=site {
                let mut test = TestRecord::new("net", format!("s{site}_{n}"), Outcome::Passed);
                test.leaks = vec![
                    placed(Severity::Error, 40000 + n, 100 + u32::from(site)),
                    placed(Severity::Warning, 41000 + n, 200 + u32::from(site)),
                ];
                tests.push(test);
            }
        }
        let mut failed = TestRecord::new("net", "failed", Outcome::Failed);
        failed.detail = Some("exit status: 101\nsecond line".into());
        tests.push(failed);
        let lines = commands(&Report::new(tests));
        let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
        assert_eq!(
            (count("::error "), count("::warning "), count("::notice ")),
            (10, 10, 1)
        );
        assert_eq!(
            lines[0],
            "::error title=net%3A%3Afailed failed::net::failed failed: exit status: 101%0Asecond line"
        );
        // The sites leaked by the most tests are the ones shown.
        assert!(
            lines[1].contains("line=114,") && lines[1].contains("in 15 tests"),
            "{}",
            lines[1]
        );
        assert!(lines[10].contains("line=214,"), "{}", lines[10]);
        assert_eq!(
            lines[20],
            "::notice title=sockcheck%3A more leaks than GitHub shows::11 more annotations not \
             shown (6 error, 5 warning): GitHub shows 10 error and 10 warning annotations per \
             step. Every leak is in the job summary."
        );
        assert!(lines.iter().all(|c| !c.contains('\n')));
    }

    #[test]
    fn a_test_s_many_unplaced_leaks_are_listed_then_counted() {
        let mut test = TestRecord::new("net", "many", Outcome::Passed);
        test.leaks = (0..MAX_LEAKS_LISTED as u16 + 3)
            .map(|i| leak(LeakKind::CloseWait, Severity::Error, 40000 + i))
            .collect();
        let lines = commands(&Report::new(vec![test]));
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with("::error title=13 close-wait leaks in net%3A%3Amany::"));
        assert!(
            lines[0].ends_with("%0A… and 3 more (3 close-wait)"),
            "{}",
            lines[0]
        );
    }
}
