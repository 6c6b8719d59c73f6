//! The terminal rendering of a diff: the headline and counts, then the new
//! leaks, fixed ones, leaks no longer checked, the same for port findings,
//! and the tests that changed, each section capped at [`MAX_LISTED`]
//! lines. Test names and everything else a report holds are shown through
//! [`visible`]: a report can come from a hostile pull request.

use super::{Diff, LeakChange, PortChange};
use crate::baseline::Finding;
use crate::report::listing::{Capped, MAX_LISTED};
use crate::report::{visible, TestRecord};
use std::fmt::Display;
use std::io::{self, Write};

/// Writes `diff` for a terminal.
pub fn render(diff: &Diff, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "sockcheck diff: {}", visible(&diff.headline()))?;
    writeln!(out, "  leaks: {}", diff.leaks.counts())?;
    if !diff.ports.is_empty() {
        writeln!(out, "  port findings: {}", diff.ports.counts())?;
    }
    if let Some(tests) = diff.test_changes() {
        writeln!(out, "  tests: {tests}")?;
    }
    if let Some(note) = diff.interrupted_note() {
        writeln!(out, "  note: {note}")?;
    }
    let leaks = &diff.leaks;
    section(out, "new leaks:", leaks.new.iter().map(leak_line))?;
    section(out, "fixed leaks:", leaks.fixed.iter().map(leak_line))?;
    section(
        out,
        "no longer checked (their test is gone or ignored):",
        leaks.unchecked.iter().map(leak_line),
    )?;
    let ports = &diff.ports;
    section(out, "new port findings:", ports.new.iter().map(port_line))?;
    section(
        out,
        "fixed port findings:",
        ports.fixed.iter().map(port_line),
    )?;
    section(
        out,
        "port findings no longer checked (their test is gone or ignored):",
        ports.unchecked.iter().map(port_line),
    )?;
    section(
        out,
        "outcome changed:",
        diff.outcome_changes.iter().map(|c| {
            format!(
                "{}: {} -> {}",
                c.head.full_name(),
                c.base.outcome.name(),
                c.head.outcome.name()
            )
        }),
    )?;
    section(
        out,
        "tests added:",
        diff.tests_added.iter().map(|t| test_line(t)),
    )?;
    section(
        out,
        "tests removed:",
        diff.tests_removed.iter().map(|t| test_line(t)),
    )
}

/// `error net::t: close-wait tcp 127.0.0.1:* -> 127.0.0.1:8080 CLOSE_WAIT at
/// src/conn.rs:9 <- tests/net.rs:31`: the site, then the test's lines.
fn leak_line(change: &LeakChange) -> String {
    let mut line = format!("{} {}", change.finding.severity, change.identity);
    let places = change.finding.trail_places();
    if !places.is_empty() {
        line.push_str(" at ");
        line.push_str(&places.join(" <- "));
    }
    line
}

/// `net::t: error fixed-port-shared: bind 127.0.0.1:8080: also bound by
/// net::u at tests/net.rs:9:5`: the finding, then where its call was made.
fn port_line(change: &PortChange) -> String {
    let mut line = format!("{}: {}", change.test.full_name(), change.finding.describe());
    if let Some(site) = change.site() {
        line.push_str(" at ");
        line.push_str(&site);
    }
    line
}

/// `net::t (passed)`
fn test_line(test: &TestRecord) -> String {
    format!("{} ({})", test.full_name(), test.outcome.name())
}

/// `title`, then the first [`MAX_LISTED`] items indented, then a count of
/// the rest; nothing when there are no items.
fn section(
    out: &mut dyn Write,
    title: &str,
    items: impl Iterator<Item = impl Display>,
) -> io::Result<()> {
    let lines: Vec<String> = items.map(|item| item.to_string()).collect();
    if lines.is_empty() {
        return Ok(());
    }
    writeln!(out, "{title}")?;
    let capped = Capped::new(&lines, MAX_LISTED);
    for line in capped.listed {
        writeln!(out, "  {}", visible(line))?;
    }
    if let Some(more) = capped.and_more() {
        writeln!(out, "  {more}")?;
    }
    Ok(())
}
