//! GitHub Actions workflow commands: one `::error` or `::warning`
//! annotation per leak, naming the test, so leaks show on the run's page
//! and in the pull request's checks.
//!
//! Print them on stdout of a step. GitHub shows a limited number of
//! annotations per step, so a test's leaks past
//! [`MAX_LEAKS_LISTED`](super::listing::MAX_LEAKS_LISTED) share one
//! annotation that counts them by kind.

use super::listing::{count_by_kind, Capped};
use super::words::counted;
use super::{visible, Report};
use crate::leak::Severity;
use crate::site::Frame;
use std::io::{self, Write};

/// The workflow commands for `report`, one per line, without line breaks:
/// an annotation per leak (error or warning as its severity), one per
/// failed, timed-out or crashed test, and a warning when the run was
/// interrupted.
pub fn workflow_commands(report: &Report) -> Vec<String> {
    let mut commands = Vec::new();
    if report.interrupted {
        commands.push(command(
            "warning",
            "sockcheck: run interrupted",
            "the run was cut short; results cover only the tests that finished",
        ));
    }
    for test in &report.tests {
        let name = test.full_name();
        if test.outcome.is_failure() {
            let title = format!("{name} {}", test.outcome.name());
            let message = match &test.detail {
                Some(detail) => format!("{name} {}: {detail}", test.outcome.name()),
                None => format!("{name} {}", test.outcome.name()),
            };
            commands.push(command("error", &title, &message));
        }
        let leaks = Capped::leaks(&test.leaks);
        for leak in leaks.listed {
            let title = format!("{} leak in {name}", leak.kind);
            let mut message = format!("{name} left a socket open: {}", leak.socket);
            if leak.socket.pid != 0 {
                message.push_str(&format!(" (pid {})", leak.socket.pid));
            }
            if let Some(stability) = leak.stability {
                message.push_str(&format!(" [{stability}]"));
            }
            for line in leak.origin_lines() {
                message.push('\n');
                message.push_str(&line);
            }
            commands.push(annotation(
                leak.severity.name(),
                leak.site(),
                &title,
                &message,
            ));
        }
        let rest = leaks.rest;
        if !rest.is_empty() {
            let severity = if rest.iter().any(|l| l.severity == Severity::Error) {
                Severity::Error
            } else {
                Severity::Warning
            };
            let title = format!("more leaks in {name}");
            let message = format!(
                "{name} left {} open ({})",
                counted(rest.len(), "more socket"),
                count_by_kind(rest)
            );
            commands.push(command(severity.name(), &title, &message));
        }
    }
    commands
}

/// Writes [`workflow_commands`] of `report`, one per line.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for line in workflow_commands(report) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn command(name: &str, title: &str, message: &str) -> String {
    annotation(name, None, title, message)
}

/// A command placed at `site`'s `file`, `line` and `col` when the site has
/// a file, so that GitHub shows it on that line of the pull request's diff.
/// The file is relative to the workspace root, which GitHub reads as the
/// repository root: the two are the same in the usual layout. Control
/// characters of the title and of each line of the message (names, paths)
/// are [`visible`], so no raw CR, NUL or ESC reaches the annotation.
fn annotation(name: &str, site: Option<&Frame>, title: &str, message: &str) -> String {
    let mut properties = String::new();
    if let Some(site) = site {
        if let Some(file) = site.file.as_deref() {
            properties.push_str(&format!("file={},", escape_property(&visible(file))));
            if let Some(line) = site.line {
                properties.push_str(&format!("line={line},"));
            }
            if let Some(column) = site.column {
                properties.push_str(&format!("col={column},"));
            }
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
    use crate::report::listing::MAX_LEAKS_LISTED;
    use crate::report::{Outcome, TestRecord};
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

    #[test]
    fn escapes_follow_the_runner_rules() {
        assert_eq!(escape_data("50%\r\nx:y,z"), "50%25%0D%0Ax:y,z");
        assert_eq!(escape_property("a::b, 5%\n"), "a%3A%3Ab%2C 5%25%0A");
    }

    #[test]
    fn one_annotation_per_leak_naming_the_test() {
        let mut test = TestRecord::new("net", "leaks", Outcome::Passed);
        test.leaks = vec![
            leak(LeakKind::CloseWait, Severity::Error, 40211),
            leak(LeakKind::Established, Severity::Warning, 40212),
        ];
        let commands = workflow_commands(&Report::new(vec![test]));
        assert_eq!(
            commands,
            [
                "::error title=close-wait leak in net%3A%3Aleaks::net::leaks left a socket open: \
                 tcp 127.0.0.1:40211 -> 127.0.0.1:35719 CLOSE_WAIT (pid 4242)",
                "::warning title=established leak in net%3A%3Aleaks::net::leaks left a socket open: \
                 tcp 127.0.0.1:40212 -> 127.0.0.1:35719 CLOSE_WAIT (pid 4242)",
            ]
        );
    }

    #[test]
    fn a_leak_with_a_site_is_placed_on_its_line_and_says_who_holds_it() {
        use crate::site::{HoldingThread, Origin};
        let mut placed = leak(LeakKind::Listen, Severity::Error, 40211);
        let stack = vec![
            Frame::function("std::net::tcp::TcpListener::bind"),
            Frame::function("net::leaks")
                .at("tests/net.rs", 31, Some(13))
                .in_project(),
        ];
        placed.opened = Some(Origin::new("socket", stack));
        placed.held_by = vec![HoldingThread::new(9471, "server", "accept4")];
        let mut no_lines = leak(LeakKind::Listen, Severity::Error, 40212);
        let stack = vec![Frame::function("net::leaks").in_project()];
        no_lines.opened = Some(Origin::new("socket", stack).with_note("lines need debug info"));
        let mut test = TestRecord::new("net", "leaks", Outcome::Passed);
        test.leaks = vec![placed, no_lines];
        let commands = workflow_commands(&Report::new(vec![test]));
        assert_eq!(
            commands,
            [
                "::error file=tests/net.rs,line=31,col=13,title=listen leak in net%3A%3Aleaks::\
                 net::leaks left a socket open: tcp 127.0.0.1:40211 -> 127.0.0.1:35719 CLOSE_WAIT \
                 (pid 4242)%0Aopened at tests/net.rs:31:13 in net::leaks \
                 (std::net::tcp::TcpListener::bind)%0Aheld by thread 'server' (tid 9471), \
                 blocked in accept4()",
                "::error title=listen leak in net%3A%3Aleaks::net::leaks left a socket open: \
                 tcp 127.0.0.1:40212 -> 127.0.0.1:35719 CLOSE_WAIT (pid 4242)%0A\
                 opened in net::leaks; lines need debug info",
            ]
        );
    }

    #[test]
    fn many_leaks_share_one_counting_annotation_and_failures_are_errors() {
        let mut test = TestRecord::new("net", "many", Outcome::Failed);
        test.detail = Some("exit status: 101\nsecond line".into());
        test.leaks = (0..MAX_LEAKS_LISTED as u16 + 3)
            .map(|i| leak(LeakKind::CloseWait, Severity::Error, 40000 + i))
            .collect();
        let commands = workflow_commands(&Report::new(vec![test]));
        assert_eq!(commands.len(), 1 + MAX_LEAKS_LISTED + 1);
        assert_eq!(
            commands[0],
            "::error title=net%3A%3Amany failed::net::many failed: exit status: 101%0Asecond line"
        );
        assert_eq!(
            commands[commands.len() - 1],
            "::error title=more leaks in net%3A%3Amany::net::many left 3 more sockets open (3 close-wait)"
        );
        assert!(commands.iter().all(|c| !c.contains('\n')));
    }
}
