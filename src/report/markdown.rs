//! The Markdown rendering, for pull-request comments and GitHub's job
//! summary: a headline, a table of the leaks, the failed tests (each with
//! the port findings that explain it: "address in use, held by ..."), the
//! port findings of the other tests (fixed ports, churn), and the captured
//! output of leaking and failing tests folded in `<details>`.
//!
//! Long runs are summarised rather than listed, as [`listing`](super::listing)
//! cuts every report: a few leaks per test and a few dozen tests per
//! section, the rest counted. That still grows with the length of names
//! and output lines: [`cap`] cuts a rendering to a platform's limit
//! (GitHub's job summary holds [`JOB_SUMMARY_MAX`] bytes; for a
//! pull-request comment, of at most 65,536 characters, post the diff,
//! which `sockcheck::diff::markdown` keeps under its budget).
//!
//! [`code`] and [`fence`] are the one way to put arbitrary text (test
//! names, captured output) into Markdown, here and in `cargo sockcheck`'s
//! baseline section; `inline` the one way to put it into prose, and
//! `html` into HTML. A test name or output cannot end its span, block or
//! line, open a link, an image, HTML or a heading, or mention anyone.

use super::listing::{count_by_kind, kinds_present, Capped, MAX_LISTED};
use super::sites::call_place;
use super::words::counted;
use super::{allowed_groups, visible, Report, TestRecord};
use crate::allow::{proposed_rules, RuleUse};
use crate::leak::Leak;
use crate::ports::{PortFinding, PortFindingKind};
use crate::socket::Socket;
use std::borrow::Cow;
use std::io::{self, Write};

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
            parts.push(counted(s.leaking_tests, "leaking test"));
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
        let beyond = if s.allowed > 0 {
            " beyond those allowed below"
        } else {
            ""
        };
        writeln!(
            out,
            "{} run ({} passed, {} ignored): no test left a socket open{beyond}.",
            counted(s.tests, "test"),
            s.passed,
            s.ignored
        )?;
        write_allowed(report, out)?;
        write_rule_warnings(report, out)?;
        return write_ports(report, out);
    }
    writeln!(
        out,
        "{} run: {} passed, {} failed, {} ignored · {} · {} · {}",
        counted(s.tests, "test"),
        s.passed,
        s.failed,
        s.ignored,
        counted(s.leaking_tests, "leaking test"),
        counted(s.errors, "error"),
        counted(s.warnings, "warning"),
    )?;
    write_allowed(report, out)?;
    write_rule_warnings(report, out)?;

    let leaking: Vec<&TestRecord> = report.leaking_tests().collect();
    if !leaking.is_empty() {
        writeln!(out)?;
        writeln!(out, "#### Leaks")?;
        writeln!(out)?;
        let capped = Capped::new(&leaking, MAX_LISTED);
        // The column of sites only for reports that have them (cargo
        // sockcheck's, not the harness's).
        let with_sites = capped
            .listed
            .iter()
            .any(|test| test.leaks.iter().any(|leak| leak.opened.is_some()));
        if with_sites {
            writeln!(
                out,
                "| Test | Kind | State | Local → Remote | Severity | Opened at |"
            )?;
            writeln!(out, "| --- | --- | --- | --- | --- | --- |")?;
        } else {
            writeln!(out, "| Test | Kind | State | Local → Remote | Severity |")?;
            writeln!(out, "| --- | --- | --- | --- | --- |")?;
        }
        for test in capped.listed {
            write_leak_rows(test, with_sites, out)?;
        }
        if let Some(more) = capped.and_more_counted("leaking test") {
            let leaks = capped.rest.iter().flat_map(|t| &t.leaks);
            writeln!(out, "| {more} | {} | | | |", count_by_kind(leaks))?;
        }
        writeln!(out)?;
        writeln!(out, "#### How to fix")?;
        writeln!(out)?;
        for kind in kinds_present(leaking.iter().flat_map(|t| &t.leaks)) {
            writeln!(out, "- {}: {}", code(kind.name()), kind.fix())?;
        }
        for rule in proposed_rules(leaking.iter().flat_map(|t| &t.leaks)) {
            writeln!(
                out,
                "- {}: if that crate keeps such sockets open on purpose, {} or put in `sockcheck.toml`:",
                inline(&rule.to_string()),
                code(&rule.flag())
            )?;
            let lines = rule.toml_lines().join("\n");
            let fence = fence(&lines);
            writeln!(out)?;
            writeln!(out, "  {fence}toml")?;
            for line in lines.lines() {
                writeln!(out, "  {line}")?;
            }
            writeln!(out, "  {fence}")?;
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
        let capped = Capped::new(&failed, MAX_LISTED);
        for test in capped.listed {
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
            for finding in &test.port_findings {
                write!(out, "  - {}", finding_text(finding))?;
                match call_place(finding) {
                    Some(call) => writeln!(out, " · {}", code(&call))?,
                    None => writeln!(out)?,
                }
            }
        }
        if let Some(more) = capped.and_more_counted("failed test") {
            writeln!(out, "- {more}")?;
        }
    }
    write_ports(report, out)?;

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
        let capped = Capped::new(&with_output, MAX_LISTED);
        for (test, output) in capped.listed {
            write_output(test, output, out)?;
        }
        if !capped.rest.is_empty() {
            let more = counted(capped.rest.len(), "more test");
            writeln!(out)?;
            writeln!(out, "… and the output of {more}.")?;
        }
    }
    Ok(())
}

/// The port findings of the tests that did not fail (a failed test's are
/// under it), a row each, then how to fix each kind found in any test.
fn write_ports(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let all = || report.tests.iter().flat_map(|t| &t.port_findings);
    if all().next().is_none() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "#### Ports")?;
    let rows: Vec<(&TestRecord, &PortFinding)> = report
        .tests
        .iter()
        .filter(|t| !t.outcome.is_failure())
        .flat_map(|t| t.port_findings.iter().map(move |f| (t, f)))
        .collect();
    if !rows.is_empty() {
        writeln!(out)?;
        writeln!(out, "| Test | Finding | Severity | Call |")?;
        writeln!(out, "| --- | --- | --- | --- |")?;
        let capped = Capped::new(&rows, MAX_LISTED);
        for (test, finding) in capped.listed {
            let severity = finding.severity.map_or("—", |s| s.name());
            let call = call_place(finding).map_or_else(|| "—".to_owned(), |c| code(&c));
            writeln!(
                out,
                "| {} | {} | {severity} | {} |",
                cell(&code(&test.full_name())),
                cell(&finding_text(finding)),
                cell(&call)
            )?;
        }
        if let Some(more) = capped.and_more_counted("port finding") {
            writeln!(out, "| {more} | | | |")?;
        }
    }
    writeln!(out)?;
    for kind in PortFindingKind::ALL {
        if all().any(|f| f.kind() == kind) {
            writeln!(out, "- {}: {}", code(kind.name()), kind.fix())?;
        }
    }
    Ok(())
}

/// A finding in Markdown prose, on one line: its kind and summary, then
/// its details after `·`.
fn finding_text(finding: &PortFinding) -> String {
    let kind = code(finding.kind().name());
    let mut text = format!("{kind} {}", inline(&finding.summary()));
    for detail in finding.details() {
        text.push_str(" · ");
        text.push_str(&inline(&detail));
    }
    text
}

/// One line per reason that sockets were allowed for, after the summary.
fn write_allowed(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let groups = allowed_groups(report);
    if groups.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "Allowed by their creation site ({}):",
        counted(report.summary.allowed, "socket")
    )?;
    writeln!(out)?;
    for group in groups {
        writeln!(out, "- {}", inline(&group.to_string()))?;
    }
    Ok(())
}

/// One line per allow-sockets rule that matched nothing in a full run or
/// that allows whole tests.
fn write_rule_warnings(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let warnings: Vec<String> = report.rules.iter().filter_map(RuleUse::warning).collect();
    if warnings.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "Allow rules to look at:")?;
    writeln!(out)?;
    for warning in warnings {
        writeln!(out, "- {}", inline(&warning))?;
    }
    Ok(())
}

/// One table row per leak of `test`, the first [`MAX_LEAKS_LISTED`](super::listing::MAX_LEAKS_LISTED), then
/// one row counting the rest by kind; `with_sites` adds the column of
/// where each leak was opened.
fn write_leak_rows(test: &TestRecord, with_sites: bool, out: &mut dyn Write) -> io::Result<()> {
    let name = cell(&code(&test.full_name()));
    let capped = Capped::leaks(&test.leaks);
    for leak in capped.listed {
        let severity = match leak.stability {
            Some(stability) => format!("{} ({stability})", leak.severity),
            None => leak.severity.to_string(),
        };
        write!(
            out,
            "| {name} | {} | {} | {} | {severity} |",
            leak.kind,
            leak.socket.state,
            cell(&addresses(&leak.socket)),
        )?;
        if with_sites {
            write!(out, " {}{} |", cell(&site(leak)), cell(&holders(leak)))?;
        }
        writeln!(out)?;
    }
    if let Some(more) = capped.and_more_by_kind() {
        let site_cell = if with_sites { " |" } else { "" };
        writeln!(out, "| {name} | {more} | | | |{site_cell}")?;
    }
    Ok(())
}

/// `` `tests/net.rs:31:13` ``, or the site's function when the debug info
/// has no line, then the rest of its trail (`` ← `tests/net.rs:40:9` ``);
/// `—` when the socket was not opened in the project's code or nothing is
/// known.
pub(crate) fn site(leak: &Leak) -> String {
    let places = leak.trail_places();
    if places.is_empty() {
        return "—".to_owned();
    }
    let places: Vec<String> = places.iter().map(|place| code(place)).collect();
    places.join(" ← ")
}

/// `<br>held by `unnamed thread spawned at tests/support/mod.rs:20:5,
/// blocked in accept4()`` per thread blocked on the socket, without tids
/// (a report that is a pull-request comment must not change from run to
/// run); empty when none is known.
fn holders(leak: &Leak) -> String {
    leak.held_by
        .iter()
        .map(|thread| format!("<br>held by {}", code(&format!("{thread:#}"))))
        .collect()
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
    let fence = fence(output);
    writeln!(out, "{fence}text")?;
    if cut > 0 {
        writeln!(out, "[… {} cut …]", counted(cut, "earlier line"))?;
    }
    for line in shown {
        writeln!(out, "{}", visible(line))?;
    }
    writeln!(out, "{fence}")?;
    writeln!(out)?;
    writeln!(out, "</details>")
}

/// GitHub's limit on the job summary of one step: 1 MiB.
pub const JOB_SUMMARY_MAX: usize = 1 << 20;

/// `markdown` in at most `max` bytes: as it is when it fits, else cut at
/// the end of the last line that leaves no code block or `<details>` open,
/// then one line counting the lines cut and saying that `whole` has them.
pub fn cap<'a>(markdown: &'a str, max: usize, whole: &str) -> Cow<'a, str> {
    if markdown.len() <= max {
        return Cow::Borrowed(markdown);
    }
    let note = |cut: usize| {
        format!(
            "\n… {} cut here to fit {max} bytes: {whole}.\n",
            counted(cut, "more line")
        )
    };
    // Room for the note, whatever the count.
    let room = max.saturating_sub(note(usize::MAX).len());
    let (mut fence, mut details, mut end, mut at) = (None::<usize>, 0usize, 0, 0);
    for line in markdown.split_inclusive('\n') {
        let next = at + line.len();
        if next > room {
            break;
        }
        let text = line.trim_end();
        let ticks = text.len() - text.trim_start_matches('`').len();
        match fence {
            Some(open) if ticks >= open && text.trim_start_matches('`').is_empty() => fence = None,
            Some(_) => {}
            None if ticks >= 3 => fence = Some(ticks),
            None if text == "<details>" => details += 1,
            None if text == "</details>" => details = details.saturating_sub(1),
            None => {}
        }
        at = next;
        if fence.is_none() && details == 0 {
            end = at;
        }
    }
    let cut = markdown[end..].lines().count();
    let mut capped = markdown[..end].to_owned();
    capped.push_str(&note(cut));
    Cow::Owned(capped)
}

/// The baseline's section, after a report judged against one: `headline`
/// (its counts), then the new leaks, the new port findings and the `fixed`
/// baseline entries, one line each, in fenced blocks of at most [`MAX_LISTED`] lines.
pub fn render_baseline(
    headline: &str,
    new_leaks: &[String],
    new_ports: &[String],
    fixed: &[String],
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "#### Baseline")?;
    writeln!(out)?;
    writeln!(out, "{headline}.")?;
    for (new, what) in [(new_leaks, "leaks"), (new_ports, "port findings")] {
        if !new.is_empty() {
            writeln!(out)?;
            writeln!(out, "New {what}, not in the baseline:")?;
            write_block(new, out)?;
        }
    }
    if !fixed.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Fixed: in the baseline, gone now (write it again with `--write-baseline` to shrink it):"
        )?;
        write_block(fixed, out)?;
    }
    Ok(())
}

/// A fenced text block of the first [`MAX_LISTED`] lines, then a count.
fn write_block(lines: &[String], out: &mut dyn Write) -> io::Result<()> {
    let capped = Capped::new(lines, MAX_LISTED);
    let fence = fence(&capped.listed.join("\n"));
    writeln!(out)?;
    writeln!(out, "{fence}text")?;
    for line in capped.listed {
        writeln!(out, "{line}")?;
    }
    if let Some(more) = capped.and_more() {
        writeln!(out, "{more}")?;
    }
    writeln!(out, "{fence}")
}

/// `` `127.0.0.1:40211` → `127.0.0.1:35719` ``, or the local address alone
/// when the socket has no peer.
fn addresses(socket: &Socket) -> String {
    if !socket.has_peer() {
        code(&socket.local.to_string())
    } else {
        format!(
            "{} → {}",
            code(&socket.local.to_string()),
            code(&socket.remote.to_string())
        )
    }
}

/// A table cell: `|` escaped and line breaks flattened, which GitHub applies
/// before inline parsing, so it holds inside code spans too.
pub(crate) fn cell(text: &str) -> String {
    text.replace("\r\n", " ")
        .replace(['\n', '\r'], " ")
        .replace('|', "\\|")
}

/// `text` on one line: each line break a space, the other control
/// characters [`visible`].
fn one_line(text: &str) -> String {
    visible(&text.replace("\r\n", " ").replace(['\n', '\r'], " ")).into_owned()
}

/// `text` as a code span, on one line, with a delimiter that its own
/// backticks cannot close.
pub fn code(text: &str) -> String {
    let text = one_line(text);
    let fence = "`".repeat(longest_run(&text, '`') + 1);
    if text.starts_with('`') || text.ends_with('`') {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// The fence for a code block holding `text`: backticks, at least three
/// and more than any run of backticks in `text`, so the text cannot close it.
pub fn fence(text: &str) -> String {
    "`".repeat(longest_run(text, '`').max(2) + 1)
}

/// Plain text (error messages, allow-rule reasons) made safe for Markdown
/// prose: on one line, with a backslash before each character that can
/// open markup (emphasis, code, links, HTML, entities, tables, math and
/// the `scheme:` and `www.` autolinks), which CommonMark then shows as
/// itself, and a word joiner (U+2060) after each `@`, so that GitHub makes
/// no mention or e-mail link of it.
fn inline(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in one_line(text).chars() {
        let www = c == '.'
            && escaped
                .get(escaped.len().saturating_sub(3)..)
                .is_some_and(|end| end.eq_ignore_ascii_case("www"));
        if www || "\\`*_~[]<>&|#:$".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
        if c == '@' {
            escaped.push('\u{2060}');
        }
    }
    escaped
}

/// Text made safe inside HTML (`<summary>`): on one line, since a blank
/// line would end the HTML block, and `&`, `<`, `>`, `"` as entities.
pub(crate) fn html(text: &str) -> String {
    one_line(text)
        .replace('&', "&amp;")
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
    fn fences_outgrow_backticks_inside() {
        assert_eq!(fence("no ticks"), "```");
        assert_eq!(fence("a````b"), "`````");
    }

    #[test]
    fn inline_text_stays_on_one_line_and_cannot_open_markup() {
        assert_eq!(inline("exit *1*\n<b>"), "exit \\*1\\* \\<b\\>");
        assert_eq!(inline("a:b\r@me"), "a\\:b @\u{2060}me");
        assert_eq!(inline("\u{1b}[31m"), "\\\\u{1b}\\[31m");
        assert_eq!(inline("see www.x.io, 1.0"), "see www\\.x.io, 1.0");
    }

    #[test]
    fn code_spans_and_html_stay_on_one_line_without_control_characters() {
        assert_eq!(code("a\rb\u{1b}"), "`a b\\u{1b}`");
        assert_eq!(html("a\r\n\n<b>\0"), "a  &lt;b&gt;\\u{0}");
    }

    #[test]
    fn baseline_fences_outgrow_backticks_in_test_names() {
        let mut out = Vec::new();
        write_block(&["a````b".to_owned()], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\n`````text\na````b\n`````\n"
        );
    }

    #[test]
    fn a_capped_rendering_closes_its_blocks_and_says_what_was_cut() {
        let block = |i: usize| {
            format!(
                "<details>\n<summary>{i}</summary>\n\n```text\n{}```\n\n</details>\n",
                "line\n".repeat(50)
            )
        };
        let markdown: String = (0..100).map(block).collect();
        assert_eq!(cap(&markdown, markdown.len(), "x"), markdown.as_str());
        let capped = cap(&markdown, 2_000, "the artifact has them");
        assert!(capped.len() <= 2_000, "{}", capped.len());
        let (kept, note) = capped.rsplit_once("\n… ").unwrap();
        assert_eq!(
            kept.matches("<details>").count(),
            kept.matches("</details>").count()
        );
        assert_eq!(kept.matches("```").count() % 2, 0);
        let cut = markdown.lines().count() - kept.lines().count();
        assert_eq!(
            note,
            format!("{cut} more lines cut here to fit 2000 bytes: the artifact has them.\n")
        );
    }

    #[test]
    fn html_is_escaped_in_summaries() {
        assert_eq!(html("a<b>&\""), "a&lt;b&gt;&amp;&quot;");
    }
}
