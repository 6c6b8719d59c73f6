//! The Markdown diff, made for a pull-request comment: one headline ("adds
//! 1 socket leak, fixes 1"), the counts, a table of the new leaks with
//! where they were opened and one of the new port findings with where
//! their call was made, then folded `<details>` for the fixed leaks and
//! port findings, the tests that changed and those no longer checked.
//!
//! GitHub refuses a comment over 65,536 characters. The whole rendering
//! stays under [`BUDGET`] bytes (bytes are never fewer than characters),
//! which leaves room for what the GitHub Action adds around it, however
//! large the suite: each section lists rows while they fit in its share,
//! and counts the rest on one line. Every part that is not a listed row
//! (headings, table heads, "… and N more" lines) is of bounded size, at
//! most [`SECTION_OVERHEAD`] bytes a section.

use super::{Diff, LeakChange, PortChange};
use crate::report::listing::MAX_LISTED;
use crate::report::markdown::{cell, code, html, site};
use crate::report::words::counted;
use crate::report::TestRecord;
use std::fmt::Write as _;
use std::io::{self, Write};

/// The most bytes a rendering takes: GitHub's comment limit (65,536
/// characters) less room for the action's marker and notes.
pub const BUDGET: usize = 60_000;

/// Bytes kept free for each section still to come: its heading, table
/// head, folding tags and "… and N more" line, which hold counts only.
pub const SECTION_OVERHEAD: usize = 500;

/// New leaks listed before the rest are counted; the other sections list
/// [`MAX_LISTED`] rows, as the report does.
pub const MAX_NEW_LISTED: usize = 100;

/// Writes `diff` as GitHub-flavoured Markdown, under [`BUDGET`] bytes.
pub fn render(diff: &Diff, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(to_string(diff).as_bytes())
}

/// Sections after the intro, in order; each keeps room for those after it.
const SECTIONS: usize = 8;

fn to_string(diff: &Diff) -> String {
    let mut md = Markdown {
        text: String::new(),
        sections_left: SECTIONS,
    };
    md.line(&format!("### sockcheck: {}", diff.headline()));
    md.line("");
    let mut counts = format!("Leaks: {}", diff.leaks.counts());
    if !diff.ports.is_empty() {
        counts.push_str(&format!(" · port findings: {}", diff.ports.counts()));
    }
    if let Some(tests) = diff.test_changes() {
        counts.push_str(&format!(" · tests: {tests}"));
    }
    md.line(&format!("{counts}."));
    if let Some(note) = diff.interrupted_note() {
        md.line("");
        md.line(&format!("> **Note:** {note}."));
    }

    md.section();
    let new = &diff.leaks.new;
    if !new.is_empty() {
        md.line("");
        md.line("#### New leaks");
        md.line("");
        md.line("| Test | Kind | Severity | State | Local → Remote | Opened at |");
        md.line("| --- | --- | --- | --- | --- | --- |");
        let rows = new.iter().map(|c| {
            let site = cell(&site(c.finding));
            format!(
                "| {} | {} | {} | {} | {} | {site} |",
                test_cell(c.test),
                c.finding.kind,
                c.finding.severity,
                c.identity.state,
                addresses(c),
            )
        });
        md.rows(rows, new.len(), MAX_NEW_LISTED, |rest| {
            format!("| … and {} | | | | | |", counted(rest, "more new leak"))
        });
    }

    md.section();
    let new = &diff.ports.new;
    if !new.is_empty() {
        md.line("");
        md.line("#### New port findings");
        md.line("");
        md.line("| Test | Finding | Severity | Call at |");
        md.line("| --- | --- | --- | --- |");
        let rows = new.iter().map(|c| {
            let finding = format!("{}: {}", c.finding.kind(), c.finding.summary());
            let severity = c.finding.severity.map_or("note", |s| s.name());
            let site = c.site().map_or_else(|| "—".to_owned(), |site| code(&site));
            format!(
                "| {} | {} | {severity} | {} |",
                test_cell(c.test),
                cell(&code(&finding)),
                cell(&site),
            )
        });
        md.rows(rows, new.len(), MAX_NEW_LISTED, |rest| {
            format!("| … and {} | | | |", counted(rest, "more new port finding"))
        });
    }

    md.section();
    leak_details(&mut md, "Fixed", "", &diff.leaks.fixed);

    md.section();
    port_details(&mut md, "Fixed", "", &diff.ports.fixed);

    md.section();
    if !diff.outcome_changes.is_empty() {
        md.line("");
        md.line("#### Outcome changed");
        md.line("");
        let rows = diff.outcome_changes.iter().map(|c| {
            format!(
                "- {}: {} → {}",
                code(&c.head.full_name()),
                c.base.outcome.name(),
                c.head.outcome.name()
            )
        });
        md.rows(rows, diff.outcome_changes.len(), MAX_LISTED, |rest| {
            format!("- … and {rest} more")
        });
    }

    md.section();
    let tests = diff.tests_added.len() + diff.tests_removed.len();
    if tests > 0 {
        let summary = format!(
            "Tests: {} added, {} removed",
            diff.tests_added.len(),
            diff.tests_removed.len()
        );
        md.folded(&summary, |md| {
            let added = diff.tests_added.iter().map(|t| ("added", *t));
            let removed = diff.tests_removed.iter().map(|t| ("removed", *t));
            let rows = added.chain(removed).map(|(what, test)| {
                format!(
                    "- {what} {} ({})",
                    code(&test.full_name()),
                    test.outcome.name()
                )
            });
            md.rows(rows, tests, MAX_LISTED, |rest| {
                format!("- … and {rest} more")
            });
        });
    }

    let unknown = " (their test is gone or ignored, so whether they are fixed is unknown)";
    md.section();
    leak_details(&mut md, "No longer checked", unknown, &diff.leaks.unchecked);

    md.section();
    port_details(&mut md, "No longer checked", unknown, &diff.ports.unchecked);
    md.text
}

/// A folded table of `changes` titled `title: N leaks`.
fn leak_details(md: &mut Markdown, title: &str, why: &str, changes: &[LeakChange]) {
    if changes.is_empty() {
        return;
    }
    let summary = format!("{title}: {}{why}", counted(changes.len(), "leak"));
    md.folded(&summary, |md| {
        md.line("| Test | Kind | Severity | State | Local → Remote |");
        md.line("| --- | --- | --- | --- | --- |");
        let rows = changes.iter().map(|c| {
            format!(
                "| {} | {} | {} | {} | {} |",
                test_cell(c.test),
                c.finding.kind,
                c.finding.severity,
                c.identity.state,
                addresses(c),
            )
        });
        md.rows(rows, changes.len(), MAX_LISTED, |rest| {
            format!("| … and {rest} more | | | | |")
        });
    });
}

/// A folded list of `changes` titled `title: N port findings`, each by the
/// identity it was matched by.
fn port_details(md: &mut Markdown, title: &str, why: &str, changes: &[PortChange]) {
    if changes.is_empty() {
        return;
    }
    let summary = format!("{title}: {}{why}", counted(changes.len(), "port finding"));
    md.folded(&summary, |md| {
        let rows = changes
            .iter()
            .map(|c| format!("- {}", code(&c.identity.to_string())));
        md.rows(rows, changes.len(), MAX_LISTED, |rest| {
            format!("- … and {rest} more")
        });
    });
}

fn test_cell(test: &TestRecord) -> String {
    cell(&code(&test.full_name()))
}

/// `` `127.0.0.1:*` → `127.0.0.1:8080` ``, the addresses leaks are matched
/// by; the local one alone when the socket has no peer.
fn addresses(change: &LeakChange) -> String {
    let identity = &change.identity;
    if !change.finding.socket.has_peer() {
        cell(&code(&identity.local))
    } else {
        cell(&format!(
            "{} → {}",
            code(&identity.local),
            code(&identity.remote)
        ))
    }
}

/// Markdown text that keeps within [`BUDGET`].
struct Markdown {
    text: String,
    /// Sections not yet started, each owed [`SECTION_OVERHEAD`] bytes.
    sections_left: usize,
}

impl Markdown {
    fn line(&mut self, line: &str) {
        let _ = writeln!(self.text, "{line}");
    }

    /// A folded `<details>` block: `summary` (HTML-escaped) and what
    /// `body` writes.
    fn folded(&mut self, summary: &str, body: impl FnOnce(&mut Markdown)) {
        self.line("");
        self.line("<details>");
        self.line(&format!("<summary>{}</summary>", html(summary)));
        self.line("");
        body(self);
        self.line("");
        self.line("</details>");
    }

    /// Starts the next section: the room kept for it is now its own.
    fn section(&mut self) {
        self.sections_left -= 1;
    }

    /// Appends the first `max` of `rows` (of `total`) while they fit, with
    /// room kept for this section's end and the sections after it; then
    /// `more(rest)` for the rows left out.
    fn rows(
        &mut self,
        rows: impl Iterator<Item = String>,
        total: usize,
        max: usize,
        more: impl Fn(usize) -> String,
    ) {
        let limit = BUDGET - SECTION_OVERHEAD * (self.sections_left + 1);
        let mut listed = 0;
        for row in rows.take(max) {
            if self.text.len() + row.len() + 1 > limit {
                break;
            }
            self.line(&row);
            listed += 1;
        }
        if listed < total {
            self.line(&more(total - listed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{at, leak, test, PORTS};
    use super::*;
    use crate::leak::LeakKind;
    use crate::report::{Outcome, Report};

    #[test]
    fn a_huge_suite_stays_under_the_budget_and_counts_what_it_cannot_list() {
        // 20,000 tests with long names: each side alone would take megabytes.
        let long = "very_long_module_name::".repeat(20);
        let tests = |prefix: &str, port: u16| -> Vec<TestRecord> {
            (0..5_000)
                .map(|i| {
                    test(
                        &format!("{long}{prefix}_{i}"),
                        Outcome::Passed,
                        vec![at(
                            leak(LeakKind::Listen, &format!("127.0.0.1:{port}"), "0.0.0.0:0"),
                            "tests/net.rs",
                            i,
                        )],
                    )
                })
                .collect()
        };
        let mut base_tests = tests("gone", 9000);
        base_tests.extend(tests("kept", 9001));
        let mut head_tests = tests("kept", 9002);
        head_tests.extend(tests("fresh", 9003));
        let base = Report::new(base_tests);
        let head = Report::new(head_tests);
        let diff = Diff::between_with(&base, &head, PORTS);
        assert_eq!(
            (diff.leaks.new.len(), diff.leaks.fixed.len()),
            (10_000, 5_000)
        );

        let markdown = to_string(&diff);
        assert!(markdown.len() <= BUDGET, "{} bytes", markdown.len());
        assert!(markdown.chars().count() < 65_536);
        assert!(markdown.starts_with(
            "### sockcheck: adds 10000 socket leaks, fixes 5000\n\n\
             Leaks: 10000 new (10000 errors), 5000 fixed, 0 unchanged, 5000 no longer checked \
             · tests: 5000 tests added, 5000 removed.\n"
        ));
        // Every section is there, and says how many rows it left out.
        for part in [
            "#### New leaks",
            "<summary>Fixed: 5000 leaks</summary>",
            "<summary>Tests: 5000 added, 5000 removed</summary>",
            "<summary>No longer checked: 5000 leaks",
        ] {
            assert!(markdown.contains(part), "no {part:?}");
        }
        let listed_new = markdown.matches(" | listen | error | LISTEN | ").count();
        assert!(listed_new > 10, "only {listed_new} rows listed");
        assert!(markdown.contains(&format!(
            "| … and {} more new leaks |",
            10_000 - MAX_NEW_LISTED
        )));
        // Folded tags stay balanced, or the rest of the comment disappears.
        assert_eq!(
            markdown.matches("<details>").count(),
            markdown.matches("</details>").count()
        );
    }

    #[test]
    fn rows_that_do_not_fit_are_counted_not_cut() {
        // One test name longer than the whole budget.
        let base = Report::new(vec![]);
        let head = Report::new(vec![test(
            &"x".repeat(BUDGET),
            Outcome::Passed,
            vec![leak(LeakKind::Udp, "127.0.0.1:5353", "0.0.0.0:0")],
        )]);
        let diff = Diff::between_with(&base, &head, PORTS);
        let markdown = to_string(&diff);
        assert!(markdown.len() <= BUDGET);
        assert!(markdown.contains("| … and 1 more new leak | | | | | |"));
    }
}
