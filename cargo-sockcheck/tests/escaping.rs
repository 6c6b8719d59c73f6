//! What a pull request controls (test names, thread names, socket paths,
//! source paths, captured output, allow-rule reasons, a crafted report)
//! cannot rewrite sockcheck's reports or its log.
//!
//! The same report is rendered twice, once with plain words and once with
//! hostile ones in every string (`\r`, `\n`, backticks, `|`, `@`,
//! `<img>`, links, ESC, NUL, `::set-output`), and the Markdown of the job
//! summary, the `--markdown` file and the diff is rendered as GitHub
//! renders it (CommonMark with its extensions, in `rendered`): both have
//! the same elements, and no one is mentioned. The text and the
//! annotations are read as the Actions runner reads a log.

mod common;
mod rendered;

use common::*;
use sockcheck::leak::LeakKind;
use sockcheck::ports::{PortFinding, PortHolder, PortProblem, TestName};
use sockcheck::report::{json, Outcome, Report, TestRecord};
use sockcheck::site::{Frame, HoldingThread, Origin};
use sockcheck::socket::{State, UnixType};
use sockcheck::testing::{leak, listener, unix};
use std::path::Path;

/// Every attack at once: a line break that starts a heading with a
/// mention, HTML, a link, bare links, an e-mail, backticks, table pipes,
/// terminal escapes (a title, a colour), NUL and a workflow command.
const HOSTILE: &str = "x\r\r### sockcheck: no leaks @octocat\n::set-output name=x::y\n\
    <img src=x onerror=alert(1)> [click](https://evil.example) https://evil.example/a \
    www.evil.example a@b.example `tick`` | pipe | \u{1b}]0;title\u{7}\u{1b}[31m red\0";

/// Captured output that tries to close its block and the `<details>` and
/// to run workflow commands at the start of a line.
const HOSTILE_OUTPUT: &str = "ok\n```\n````\n</details>\n\n### fake heading @octocat\n\
    ::error::pwned\n  ::add-mask::secret\n\r::warning::cr\n##[error]old style\n\u{1b}[2Jcleared";

/// The report of one failed, leaking test whose every string is `words`,
/// with `output`, one socket an allow rule with `words` as its reason
/// allows, and port findings: the failed test's bind found its address
/// held by a process whose command line is `words`, and a passing test of
/// that binary shares a fixed port with it.
fn report(words: &str, output: &str) -> Report {
    let mut tcp = leak(LeakKind::Listen, listener(8080));
    let stack = vec![Frame::function(words)
        .at(format!("tests/{words}.rs"), 3, Some(5))
        .in_project()];
    tcp.opened = Some(Origin::new("socket", stack));
    tcp.held_by = vec![HoldingThread::new(7, words, "accept4")];
    let path = format!("/tmp/{}", words.replace('\\', "/"));
    let socket = unix(UnixType::Stream, State::Listen, &path);
    let mut test = TestRecord::new(words, words, Outcome::Failed);
    test.leaks = vec![tcp, leak(LeakKind::Listen, socket)];
    test.detail = Some(words.to_owned());
    test.output = Some(output.to_owned());
    let call = Origin::new(
        "bind",
        vec![Frame::function(words)
            .at(format!("tests/{words}.rs"), 4, Some(9))
            .in_project()],
    );
    let held = PortProblem::AddressInUse {
        address: "127.0.0.1:8080".into(),
        held_by: PortHolder::Process {
            pid: 7,
            command: words.to_owned(),
        },
    };
    test.port_findings = vec![PortFinding::new(held).at(call.clone())];
    let mut sharing = TestRecord::new(words, "shares_a_port", Outcome::Passed);
    let shared = PortProblem::FixedPortShared {
        address: "127.0.0.1:8080".into(),
        with: vec![TestName::new(words, words)],
    };
    sharing.port_findings = vec![PortFinding::new(shared).at(call)];
    let mut value = serde_json::to_value(Report::new(vec![test, sharing])).unwrap();
    let mut allowed = serde_json::to_value(listener(9090)).unwrap();
    allowed["kind"] = "listen".into();
    allowed["rule"] = words.into();
    allowed["reason"] = words.into();
    value["tests"][0]["allowed"] = serde_json::json!([allowed]);
    let report: Report = serde_json::from_value(value).unwrap();
    Report::new(report.tests)
}

fn plain() -> Report {
    report("plain words", "ok\nline two")
}

fn hostile() -> Report {
    report(HOSTILE, HOSTILE_OUTPUT)
}

fn write(report: &Report, path: &Path) {
    let mut text = Vec::new();
    json::render(report, &mut text).unwrap();
    std::fs::write(path, text).unwrap();
}

/// What `cargo sockcheck report --merge` of `report` does on GitHub
/// Actions: (stdout, stderr, job summary, `--markdown` file).
fn on_github_actions(report: &Report, format: &str) -> (String, String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("report.json");
    write(report, &input);
    let summary = dir.path().join("summary.md");
    let markdown = dir.path().join("report.md");
    let output = sockcheck_command(&["report", "--merge", input.to_str().unwrap()])
        .args(["--format", format, "--markdown", markdown.to_str().unwrap()])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CARGO_TERM_COLOR")
        .output()
        .unwrap();
    assert_eq!(status(&output), 101, "{}", stderr(&output));
    let read = |path: &Path| std::fs::read_to_string(path).unwrap();
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr(&output),
        read(&summary),
        read(&markdown),
    )
}

/// The workflow commands the Actions runner would run from `log`: each
/// line that starts with `::` after blanks, outside the stretches that
/// `::stop-commands::TOKEN` ... `::TOKEN::` turn off; as `name` (`error`).
fn runner_commands(log: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut stopped: Option<String> = None;
    for line in log.split('\n') {
        let line = line.trim_start();
        if let Some(token) = &stopped {
            if line == format!("::{token}::") {
                stopped = None;
            }
            continue;
        }
        if let Some(token) = line.strip_prefix("::stop-commands::") {
            stopped = Some(token.to_owned());
        } else if let Some(command) = line.strip_prefix("::") {
            let end = command.find([' ', ':']).unwrap_or(command.len());
            commands.push(command[..end].to_owned());
        } else if line.starts_with("##[") {
            commands.push(line.to_owned());
        }
    }
    commands
}

fn assert_same_shape(hostile: &str, plain: &str) {
    assert_eq!(
        rendered::shape(hostile),
        rendered::shape(plain),
        "the hostile strings changed the rendering:\n{}",
        rendered::html(hostile)
    );
    assert_eq!(rendered::mentions(hostile), Vec::<String>::new());
}

#[test]
fn hostile_strings_keep_the_job_summary_and_the_markdown_report_as_they_are() {
    let (_, _, plain_summary, plain_markdown) = on_github_actions(&plain(), "text");
    let (_, _, summary, markdown) = on_github_actions(&hostile(), "text");
    assert_eq!(summary, markdown);
    assert_eq!(plain_summary, plain_markdown);
    assert_same_shape(&summary, &plain_summary);
    // Each attack is shown, as text: the names, the output, the reason.
    let html = rendered::html(&summary);
    for shown in [
        "### sockcheck: no leaks @",
        "&lt;img src=x",
        "::set-output",
        "::error::pwned",
    ] {
        assert!(html.contains(shown), "{shown} is not shown:\n{html}");
    }
    assert!(!html.contains(['\u{1b}', '\0', '\r']), "{html:?}");
}

#[test]
fn hostile_strings_cannot_run_workflow_commands_or_reach_the_log_raw() {
    let (stdout, stderr, _, _) = on_github_actions(&hostile(), "text");
    // The echoed output is there, and disarmed.
    assert!(stdout.contains("::error::pwned"), "{stdout}");
    assert_eq!(runner_commands(&stdout), Vec::<String>::new(), "{stdout}");
    // The annotations are the only commands: one per failed test, per leak
    // and per port finding with a severity (the shared fixed port).
    assert_eq!(
        runner_commands(&stderr),
        ["error", "error", "error", "warning"],
        "{stderr}"
    );
    for line in stderr.lines().filter(|l| l.starts_with("::")) {
        assert!(!line.contains(['\u{1b}', '\0', '\r']), "{line:?}");
    }
    // sockcheck's own lines (everything but the output) carry no control
    // characters: no ESC, NUL or CR from a name.
    let output_lines: Vec<&str> = HOSTILE_OUTPUT.lines().collect();
    for line in stdout.lines() {
        if !output_lines.iter().any(|o| line.trim() == o.trim()) {
            assert!(
                !line.contains(|c: char| c.is_control() && c != '\t'),
                "{line:?}"
            );
        }
    }
    assert!(
        !stdout.contains('\u{1b}'),
        "no terminal escapes when not coloured"
    );

    // The Markdown format on stdout is guarded the same way.
    let (stdout, _, _, _) = on_github_actions(&hostile(), "markdown");
    assert_eq!(runner_commands(&stdout), Vec::<String>::new(), "{stdout}");
}

#[test]
fn hostile_strings_keep_the_diff_as_it_is() {
    let diff = |head: &Report| {
        let dir = tempfile::tempdir().unwrap();
        let (base, head_path) = (dir.path().join("base.json"), dir.path().join("head.json"));
        write(&Report::new(vec![]), &base);
        write(head, &head_path);
        let output = sockcheck(&[
            "diff",
            base.to_str().unwrap(),
            head_path.to_str().unwrap(),
            "--format",
            "markdown",
        ]);
        String::from_utf8(output.stdout).unwrap()
    };
    let (plain, hostile) = (diff(&plain()), diff(&hostile()));
    assert!(hostile.contains("New leaks"), "{hostile}");
    assert_same_shape(&hostile, &plain);
}

/// `text` without the SGR sequences (`ESC [ 1;31 m`: colours, bold) that
/// sockcheck styles its own words with; any other escape sequence stays.
fn without_styles(text: &str) -> String {
    let mut kept = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\u{1b}[") {
        kept.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let params = after
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(after.len());
        if after[params..].starts_with('m') {
            rest = &after[params + 1..];
        } else {
            kept.push('\u{1b}');
            rest = &rest[at + 1..];
        }
    }
    kept + rest
}

/// XML 1.0's `Char`: tab, newline, carriage return, then from space on,
/// surrogates and U+FFFE, U+FFFF excepted.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{d7ff}' | '\u{e000}'..='\u{fffd}') || c >= '\u{10000}'
}

#[test]
fn hostile_strings_keep_the_junit_valid_and_never_reach_a_coloured_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("report.json");
    let mut hostile = hostile();
    let test = &mut hostile.tests[0];
    test.name.push_str("\u{fffe}\u{ffff}");
    let output_text = test.output.take().unwrap_or_default();
    test.output = Some(format!(
        "{output_text}\n\u{fffe}\u{ffff}\u{1b}]0;title\u{7}\n"
    ));
    write(&hostile, &input);
    let junit = dir.path().join("junit.xml");
    let output = sockcheck_command(&["report", "--merge", input.to_str().unwrap()])
        .args(["--color", "always", "--junit", junit.to_str().unwrap()])
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert_eq!(status(&output), 101, "{}", stderr(&output));

    // The JUnit file is XML 1.0 whatever the strings, which it shows escaped.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let invalid: Vec<char> = xml.chars().filter(|&c| !xml_char(c)).collect();
    assert_eq!(invalid, [], "{xml:?}");
    assert!(xml.contains(r"\u{1b}[2Jcleared"), "{xml}");
    assert!(xml.contains(r"\u{1b}]0;title\u{7}"), "{xml}");

    // Coloured (the positive control: sockcheck's own styles are there),
    // and the only escape sequences are those styles: the test's output
    // and names are shown as text, never sent to the terminal.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("\u{1b}[1m"), "not coloured: {stdout:?}");
    let unstyled = without_styles(&stdout);
    let raw: Vec<char> = unstyled
        .chars()
        .filter(|&c| c.is_control() && c != '\n')
        .collect();
    assert_eq!(raw, [], "{unstyled:?}");
    assert!(unstyled.contains(r"\u{1b}[2Jcleared"), "{unstyled}");
    assert!(unstyled.contains("::error::pwned"), "{unstyled}");
}
