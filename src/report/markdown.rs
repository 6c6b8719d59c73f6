//! The Markdown rendering, for pull-request comments and GitHub's job
//! summary: a headline, a table of the leaks, the failed tests, and the
//! captured output of leaking and failing tests folded in `<details>`.
//!
//! Long runs are summarised rather than listed: at most
//! [`MAX_LEAKS_LISTED`] leaks per test and [`MAX_TESTS_LISTED`] tests per
//! section, the rest counted. A PR comment holds 65 536 characters.

use super::text::MAX_LEAKS_LISTED;
use super::{count_by_kind, Report, TestRecord};
use crate::leak::Leak;
use crate::socket::Socket;
use std::io::{self, Write};

/// Tests listed per section (leak table, failed tests, output) before the
/// rest are only counted.
pub const MAX_TESTS_LISTED: usize = 50;

/// Lines of captured output shown per test; earlier lines are cut, since a
/// panic message or the last log lines come at the end.
pub const MAX_OUTPUT_LINES: usize = 60;

/// Writes `report` as GitHub-flavoured Markdown.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let s = &report.summary;
    let clean = s.leaking_tests == 0 && s.failed == 0;
    if clean {
        writeln!(out, "### sockcheck: no leaks")?;
    } else {
        let mut parts = Vec::new();
        if s.leaking_tests > 0 {
            parts.push(plural(s.leaking_tests, "leaking test"));
        }
        if s.failed > 0 {
            parts.push(format!("{} failed", s.failed));
        }
        writeln!(out, "### sockcheck: {}", parts.join(", "))?;
    }
    writeln!(out)?;
    if report.interrupted {
        writeln!(
            out,
            "> **Interrupted:** the run was cut short; these results cover only the tests that finished."
        )?;
        writeln!(out)?;
    }
    if clean {
        return writeln!(
            out,
            "{} run ({} passed, {} ignored): no test left a socket open.",
            plural(s.tests, "test"),
            s.passed,
            s.ignored
        );
    }
    writeln!(
        out,
        "{} run: {} passed, {} failed, {} ignored · {} · {} · {}",
        plural(s.tests, "test"),
        s.passed,
        s.failed,
        s.ignored,
        plural(s.leaking_tests, "leaking test"),
        plural(s.errors, "error"),
        plural(s.warnings, "warning"),
    )?;

    let leaking: Vec<&TestRecord> = report.leaking_tests().collect();
    if !leaking.is_empty() {
        writeln!(out)?;
        writeln!(out, "#### Leaks")?;
        writeln!(out)?;
        writeln!(out, "| Test | Kind | State | Local → Remote | Severity |")?;
        writeln!(out, "| --- | --- | --- | --- | --- |")?;
        for test in leaking.iter().take(MAX_TESTS_LISTED) {
            write_leak_rows(test, out)?;
        }
        if leaking.len() > MAX_TESTS_LISTED {
            let rest = &leaking[MAX_TESTS_LISTED..];
            let leaks: Vec<&Leak> = rest.iter().flat_map(|t| &t.leaks).collect();
            writeln!(
                out,
                "| … and {} more | {} | | | |",
                plural(rest.len(), "leaking test"),
                count_by_kind(leaks)
            )?;
        }
    }

    let failed: Vec<&TestRecord> = report
        .tests
        .iter()
        .filter(|t| t.outcome.is_failure())
        .collect();
    if !failed.is_empty() {
        writeln!(out)?;
        writeln!(out, "#### Failed tests")?;
        writeln!(out)?;
        for test in failed.iter().take(MAX_TESTS_LISTED) {
            write!(
                out,
                "- {}: {}",
                code(&test.full_name()),
                test.outcome.name()
            )?;
            match &test.detail {
                Some(detail) => writeln!(out, " ({})", inline(detail))?,
                None => writeln!(out)?,
            }
        }
        if failed.len() > MAX_TESTS_LISTED {
            writeln!(
                out,
                "- … and {} more",
                plural(failed.len() - MAX_TESTS_LISTED, "failed test")
            )?;
        }
    }

    let with_output: Vec<(&TestRecord, &str)> = report
        .tests
        .iter()
        .filter(|t| t.outcome.is_failure() || !t.leaks.is_empty())
        .filter_map(|t| {
            let output = t.output.as_deref()?;
            (!output.trim().is_empty()).then_some((t, output))
        })
        .collect();
    if !with_output.is_empty() {
        writeln!(out)?;
        writeln!(out, "#### Output")?;
        for (test, output) in with_output.iter().take(MAX_TESTS_LISTED) {
            write_output(test, output, out)?;
        }
        if with_output.len() > MAX_TESTS_LISTED {
            writeln!(out)?;
            writeln!(
                out,
                "… and the output of {} more.",
                plural(with_output.len() - MAX_TESTS_LISTED, "test")
            )?;
        }
    }
    Ok(())
}

/// One table row per leak of `test`, the first [`MAX_LEAKS_LISTED`], then
/// one row counting the rest by kind.
fn write_leak_rows(test: &TestRecord, out: &mut dyn Write) -> io::Result<()> {
    let name = cell(&code(&test.full_name()));
    for leak in test.leaks.iter().take(MAX_LEAKS_LISTED) {
        let severity = match leak.stability {
            Some(stability) => format!("{} ({stability})", leak.severity),
            None => leak.severity.to_string(),
        };
        writeln!(
            out,
            "| {name} | {} | {} | {} | {severity} |",
            leak.kind,
            leak.socket.state,
            cell(&addresses(&leak.socket)),
        )?;
    }
    if test.leaks.len() > MAX_LEAKS_LISTED {
        let rest = &test.leaks[MAX_LEAKS_LISTED..];
        writeln!(
            out,
            "| {name} | … and {} more: {} | | | |",
            rest.len(),
            count_by_kind(rest)
        )?;
    }
    Ok(())
}

/// A folded block with the last [`MAX_OUTPUT_LINES`] lines of `output`.
fn write_output(test: &TestRecord, output: &str, out: &mut dyn Write) -> io::Result<()> {
    let why = if test.outcome.is_failure() {
        test.outcome.name()
    } else {
        "leak"
    };
    writeln!(out)?;
    writeln!(out, "<details>")?;
    writeln!(
        out,
        "<summary><code>{}</code> ({why})</summary>",
        html(&test.full_name())
    )?;
    writeln!(out)?;
    let lines: Vec<&str> = output.lines().collect();
    let shown = &lines[lines.len().saturating_sub(MAX_OUTPUT_LINES)..];
    let cut = lines.len() - shown.len();
    // A fence longer than any backtick run inside, so the output cannot close it.
    let fence = "`".repeat(longest_run(output, '`').max(2) + 1);
    writeln!(out, "{fence}text")?;
    if cut > 0 {
        writeln!(out, "[... {} cut ...]", plural(cut, "earlier line"))?;
    }
    for line in shown {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "{fence}")?;
    writeln!(out)?;
    writeln!(out, "</details>")
}

/// `` `127.0.0.1:40211` → `127.0.0.1:35719` ``, or the local address alone
/// when the socket has no peer.
fn addresses(socket: &Socket) -> String {
    if socket.remote.port() == 0 {
        code(&socket.local.to_string())
    } else {
        format!(
            "{} → {}",
            code(&socket.local.to_string()),
            code(&socket.remote.to_string())
        )
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A table cell: `|` escaped and line breaks flattened, which GitHub applies
/// before inline parsing, so it holds inside code spans too.
fn cell(text: &str) -> String {
    text.replace("\r\n", " ")
        .replace(['\n', '\r'], " ")
        .replace('|', "\\|")
}

/// `text` as a code span, with a delimiter that its own backticks cannot close.
fn code(text: &str) -> String {
    let text = text.replace("\r\n", " ").replace(['\n', '\r'], " ");
    let fence = "`".repeat(longest_run(&text, '`') + 1);
    if text.starts_with('`') || text.ends_with('`') {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// Plain text made safe for a Markdown list item: on one line, with the
/// characters that start emphasis, links, HTML or tables escaped.
fn inline(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\r' | '\n' => escaped.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' | '&' => {
                escaped.push('\\');
                escaped.push(c);
            }
            _ => escaped.push(c),
        }
    }
    escaped
}

/// Text made safe inside HTML (`<summary>`).
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn longest_run(text: &str, c: char) -> usize {
    let (mut longest, mut current) = (0, 0);
    for ch in text.chars() {
        if ch == c {
            current += 1;
            longest = longest.max(current);
        } else {
            current = 0;
        }
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_pipes_and_line_breaks() {
        assert_eq!(cell("a|b\nc\r\nd"), "a\\|b c d");
    }

    #[test]
    fn code_spans_survive_backticks_in_the_name() {
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
    }

    #[test]
    fn inline_text_stays_on_one_line_and_cannot_open_markup() {
        assert_eq!(inline("exit *1*\n<b>"), "exit \\*1\\* \\<b\\>");
    }

    #[test]
    fn html_is_escaped_in_summaries() {
        assert_eq!(html("a<b>&\""), "a&lt;b&gt;&amp;&quot;");
    }
}
