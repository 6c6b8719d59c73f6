//! The JSON diff: every list in full, for machines (the GitHub Action reads
//! its counts). Its layout only grows, like the report's: the port
//! findings' lists and counts came after the leaks', whose names stay as
//! they were (`new`, `new_errors`, `fixed`, ... count leaks only).
//!
//! ```json
//! {
//!   "diff_schema": 1,
//!   "headline": "adds 1 socket leak, fixes 1; adds 1 port finding",
//!   "counts": { "new": 1, "new_errors": 1, "fixed": 1, "unchanged": 3, "unchecked": 0,
//!               "tests_added": 0, "tests_removed": 0, "outcome_changes": 1,
//!               "new_port_findings": 1, "new_port_errors": 1, "fixed_port_findings": 0,
//!               "unchanged_port_findings": 2, "unchecked_port_findings": 0 },
//!   "new": [ { "binary": "net", "test": "t", "site": "tests/net.rs:31:13",
//!              "identity": { "local": "127.0.0.1:*", "remote": "127.0.0.1:8080" },
//!              "kind": "close-wait", "severity": "error", ... } ],
//!   "fixed": [ ... ], "unchecked": [ ... ],
//!   "new_port_findings": [ { "binary": "net", "test": "churns",
//!              "identity": {}, "kind": "port-churn", "severity": "error",
//!              "active_closes": 5000, "threshold": 2352 } ],
//!   "fixed_port_findings": [ ... ], "unchecked_port_findings": [ ... ],
//!   "tests_added": [ { "binary": "net", "name": "t", "outcome": "passed" } ],
//!   "tests_removed": [ ... ],
//!   "outcome_changes": [ { "binary": "net", "name": "t", "base": "passed", "head": "failed" } ],
//!   "base": { "summary": { ... }, "interrupted": false },
//!   "head": { "summary": { ... }, "interrupted": false }
//! }
//! ```
//!
//! A port finding's `identity` holds the `address` it was matched by (an
//! ephemeral port as `*`), none for churn; its `site` is where its call
//! was made.

use super::{Diff, LeakChange, PortChange};
use crate::leak::Leak;
use crate::ports::PortFinding;
use crate::report::{Outcome, Report, Summary, TestRecord};
use serde::Serialize;
use std::io::{self, Write};

/// Version of the JSON diff layout; bumped only for breaking changes.
pub const DIFF_SCHEMA: u32 = 1;

#[derive(Serialize)]
struct DiffFile<'a> {
    diff_schema: u32,
    headline: String,
    counts: Counts,
    new: Vec<ChangeEntry<'a>>,
    fixed: Vec<ChangeEntry<'a>>,
    unchecked: Vec<ChangeEntry<'a>>,
    new_port_findings: Vec<PortEntry<'a>>,
    fixed_port_findings: Vec<PortEntry<'a>>,
    unchecked_port_findings: Vec<PortEntry<'a>>,
    tests_added: Vec<TestEntry<'a>>,
    tests_removed: Vec<TestEntry<'a>>,
    outcome_changes: Vec<OutcomeEntry<'a>>,
    base: Side,
    head: Side,
}

#[derive(Serialize)]
struct Counts {
    new: usize,
    new_errors: usize,
    fixed: usize,
    unchanged: usize,
    unchecked: usize,
    tests_added: usize,
    tests_removed: usize,
    outcome_changes: usize,
    new_port_findings: usize,
    new_port_errors: usize,
    fixed_port_findings: usize,
    unchanged_port_findings: usize,
    unchecked_port_findings: usize,
}

#[derive(Serialize)]
struct ChangeEntry<'a> {
    binary: &'a str,
    test: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    site: Option<String>,
    identity: Addresses<'a>,
    #[serde(flatten)]
    leak: &'a Leak,
}

#[derive(Serialize)]
struct PortEntry<'a> {
    binary: &'a str,
    test: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    site: Option<String>,
    identity: PortAddress<'a>,
    #[serde(flatten)]
    finding: &'a PortFinding,
}

/// The address a port finding was matched by; none for churn.
#[derive(Serialize)]
struct PortAddress<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<&'a str>,
}

/// The addresses a leak was matched by.
#[derive(Serialize)]
struct Addresses<'a> {
    local: &'a str,
    remote: &'a str,
}

#[derive(Serialize)]
struct TestEntry<'a> {
    binary: &'a str,
    name: &'a str,
    outcome: Outcome,
}

#[derive(Serialize)]
struct OutcomeEntry<'a> {
    binary: &'a str,
    name: &'a str,
    base: Outcome,
    head: Outcome,
}

#[derive(Serialize)]
struct Side {
    summary: Summary,
    interrupted: bool,
}

impl Side {
    fn of(report: &Report) -> Side {
        Side {
            summary: report.summary,
            interrupted: report.interrupted,
        }
    }
}

fn change<'a>(c: &'a LeakChange) -> ChangeEntry<'a> {
    ChangeEntry {
        binary: &c.test.binary,
        test: &c.test.name,
        site: c.site(),
        identity: Addresses {
            local: &c.identity.local,
            remote: &c.identity.remote,
        },
        leak: c.finding,
    }
}

fn port_change<'a>(c: &'a PortChange) -> PortEntry<'a> {
    PortEntry {
        binary: &c.test.binary,
        test: &c.test.name,
        site: c.site(),
        identity: PortAddress {
            address: c.identity.address.as_deref(),
        },
        finding: c.finding,
    }
}

fn test(t: &TestRecord) -> TestEntry<'_> {
    TestEntry {
        binary: &t.binary,
        name: &t.name,
        outcome: t.outcome,
    }
}

/// Writes `diff` as pretty-printed JSON with a trailing newline.
pub fn render(diff: &Diff, out: &mut dyn Write) -> io::Result<()> {
    let file = DiffFile {
        diff_schema: DIFF_SCHEMA,
        headline: diff.headline(),
        counts: Counts {
            new: diff.leaks.new.len(),
            new_errors: diff.leaks.new_errors(),
            fixed: diff.leaks.fixed.len(),
            unchanged: diff.leaks.unchanged,
            unchecked: diff.leaks.unchecked.len(),
            tests_added: diff.tests_added.len(),
            tests_removed: diff.tests_removed.len(),
            outcome_changes: diff.outcome_changes.len(),
            new_port_findings: diff.ports.new.len(),
            new_port_errors: diff.ports.new_errors(),
            fixed_port_findings: diff.ports.fixed.len(),
            unchanged_port_findings: diff.ports.unchanged,
            unchecked_port_findings: diff.ports.unchecked.len(),
        },
        new: diff.leaks.new.iter().map(change).collect(),
        fixed: diff.leaks.fixed.iter().map(change).collect(),
        unchecked: diff.leaks.unchecked.iter().map(change).collect(),
        new_port_findings: diff.ports.new.iter().map(port_change).collect(),
        fixed_port_findings: diff.ports.fixed.iter().map(port_change).collect(),
        unchecked_port_findings: diff.ports.unchecked.iter().map(port_change).collect(),
        tests_added: diff.tests_added.iter().map(|t| test(t)).collect(),
        tests_removed: diff.tests_removed.iter().map(|t| test(t)).collect(),
        outcome_changes: diff
            .outcome_changes
            .iter()
            .map(|c| OutcomeEntry {
                binary: &c.head.binary,
                name: &c.head.name,
                base: c.base.outcome,
                head: c.head.outcome,
            })
            .collect(),
        base: Side::of(diff.base),
        head: Side::of(diff.head),
    };
    crate::report::write_pretty_json(&file, out)
}
