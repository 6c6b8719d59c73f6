//! End to end: `cargo sockcheck diff` on the reports of two real runs of a
//! copy of the leaky fixture, before and after a change that fixes one
//! leak, adds a test that leaks, and breaks a clean test: the lists, the
//! counts, the exit statuses, the severity flags and the baseline, and a
//! snapshot of the Markdown a pull request would get; and the port
//! findings of two runs of the ports fixture, diffed and judged the same
//! way.

mod common;

use cargo_sockcheck::ExitStatus;
use common::*;
use serde_json::Value;
use sockcheck::report::Report;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The reports of the two runs, and the baseline the head run wrote.
struct Runs {
    _copy: LeakyCopy,
    base: PathBuf,
    head: PathBuf,
    head_baseline: PathBuf,
}

/// Runs the copy's `net` tests, changes the copy, runs them again.
fn base_and_head_runs() -> Runs {
    let copy = LeakyCopy::new();
    let base = copy.path("base.json");
    let head = copy.path("head.json");
    let head_baseline = copy.path("head-baseline.json");
    let run = |report: &Path, extra: &[&str]| {
        let mut args = vec!["--test", "net", "--report", report.to_str().unwrap()];
        args.extend_from_slice(extra);
        let output = copy.sockcheck(&args);
        // The fixture has a failing test: a run exits 101.
        assert_eq!(
            status(&output),
            ExitStatus::TestFailed.code(),
            "{}",
            stderr(&output)
        );
    };
    run(&base, &[]);

    // Fix one leak, add a leaking test, break a clean one.
    copy.replace(
        "tests/net.rs",
        "std::mem::forget(leaky::close_wait_socket(\"::1\"));",
        "drop(leaky::close_wait_socket(\"::1\"));",
    );
    copy.append(
        "tests/net.rs",
        "#[test]\nfn added_leaks_listener() {\n    \
         std::mem::forget(TcpListener::bind(\"127.0.0.1:0\").unwrap());\n}\n",
    );
    copy.replace(
        "tests/net.rs",
        "fn clean_no_sockets() {",
        "fn clean_no_sockets() {\n    panic!(\"broken by the change\");",
    );
    run(
        &head,
        &["--write-baseline", head_baseline.to_str().unwrap()],
    );
    Runs {
        _copy: copy,
        base,
        head,
        head_baseline,
    }
}

fn diff(base: &Path, head: &Path, args: &[&str]) -> Output {
    let mut all = vec!["diff", base.to_str().unwrap(), head.to_str().unwrap()];
    all.extend_from_slice(args);
    sockcheck(&all)
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        )
    })
}

/// `test kind` of each leak of a JSON diff list.
fn leaks(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|leak| format!("{} {}", leak["test"].as_str().unwrap(), leak["kind"]))
        .collect()
}

#[test]
fn a_change_that_fixes_one_leak_and_adds_one_is_diffed() {
    let runs = base_and_head_runs();
    let base = report_file(&runs.base);
    let head = report_file(&runs.head);
    let leak_count = |r: &Report| r.tests.iter().map(|t| t.leaks.len()).sum::<usize>();

    let output = diff(&runs.base, &runs.head, &["--format", "json"]);
    assert_eq!(
        status(&output),
        ExitStatus::Leak.code(),
        "{}",
        stderr(&output)
    );
    let diff_json = json(&output);
    assert_eq!(
        leaks(&diff_json["new"]),
        ["added_leaks_listener \"listen\""]
    );
    assert_eq!(
        leaks(&diff_json["fixed"]),
        ["leaks_close_wait_ipv6 \"close-wait\""]
    );
    let counts = &diff_json["counts"];
    assert_eq!(counts["new"], 1);
    assert_eq!(counts["new_errors"], 1);
    assert_eq!(counts["fixed"], 1);
    assert_eq!(counts["unchecked"], 0);
    // Every other leak is the same leak, on other ephemeral ports.
    assert_eq!(counts["unchanged"], leak_count(&base) - 1);
    assert_eq!(leak_count(&head), leak_count(&base));
    assert_eq!(
        diff_json["tests_added"],
        serde_json::json!([{"binary": "net", "name": "added_leaks_listener", "outcome": "passed"}])
    );
    assert_eq!(diff_json["tests_removed"], serde_json::json!([]));
    assert_eq!(
        diff_json["outcome_changes"],
        serde_json::json!([{"binary": "net", "name": "clean_no_sockets", "base": "passed", "head": "failed"}])
    );
    assert_eq!(diff_json["headline"], "adds 1 socket leak, fixes 1");

    // The new leak's site, when this sockcheck records sites.
    let added = record(&head, "net", "added_leaks_listener");
    let site = added.leaks[0]
        .opened
        .as_ref()
        .and_then(|origin| origin.site.as_ref())
        .and_then(|frame| frame.location());
    assert_eq!(diff_json["new"][0]["site"].as_str(), site.as_deref());

    let markdown = diff(&runs.base, &runs.head, &["--format", "markdown"]);
    assert_eq!(status(&markdown), ExitStatus::Leak.code());
    let markdown = String::from_utf8(markdown.stdout).unwrap();
    let site_cell = match &site {
        Some(site) => format!("| `{site}` |"),
        None => "| — |".to_owned(),
    };
    let row_start = "| `net::added_leaks_listener` | listen | error | LISTEN | `127.0.0.1:*` ";
    assert!(
        markdown.contains(&format!("{row_start}{site_cell}")),
        "{markdown}"
    );
    // Sites come and go with the platform: the snapshot holds a placeholder.
    let markdown = markdown.replace(&site_cell, "| [site] |");
    insta::assert_snapshot!(markdown);

    let text = diff(&runs.base, &runs.head, &[]);
    assert_eq!(status(&text), ExitStatus::Leak.code());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with("sockcheck diff: adds 1 socket leak, fixes 1\n"),
        "{text}"
    );

    // The other way round, the fixed leak is new; a report against itself
    // has nothing new.
    let reverse = diff(&runs.head, &runs.base, &["--format", "json"]);
    assert_eq!(status(&reverse), ExitStatus::Leak.code());
    assert_eq!(
        leaks(&json(&reverse)["new"]),
        ["leaks_close_wait_ipv6 \"close-wait\""]
    );
    let same = diff(&runs.head, &runs.head, &["--format", "json"]);
    assert_eq!(status(&same), ExitStatus::Clean.code());
    assert_eq!(json(&same)["counts"]["unchanged"], leak_count(&head));

    // A new listener that is only a warning, or that the baseline knows,
    // does not fail the diff; it is still listed.
    let warned = diff(
        &runs.base,
        &runs.head,
        &["--format", "json", "--warn", "listen"],
    );
    assert_eq!(status(&warned), ExitStatus::Clean.code());
    assert_eq!(json(&warned)["new"][0]["severity"], "warning");
    let known = diff(
        &runs.base,
        &runs.head,
        &[
            "--format",
            "json",
            "--baseline",
            runs.head_baseline.to_str().unwrap(),
        ],
    );
    assert_eq!(
        status(&known),
        ExitStatus::Clean.code(),
        "{}",
        stderr(&known)
    );
    assert_eq!(json(&known)["counts"]["new"], 1);
    // Allowed, the listener is no leak at all.
    let allowed = diff(
        &runs.base,
        &runs.head,
        &["--format", "json", "--allow", "listen"],
    );
    assert_eq!(status(&allowed), ExitStatus::Clean.code());
    assert_eq!(json(&allowed)["counts"]["new"], 0);
}

#[test]
fn a_missing_unreadable_or_unknown_report_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(
        &good,
        r#"{"schema": 1, "tests": [], "summary": {"tests": 0, "passed": 0, "failed": 0,
            "leaking_tests": 0, "errors": 0, "warnings": 0}}"#,
    )
    .unwrap();
    let newer = dir.path().join("newer.json");
    std::fs::write(&newer, r#"{"schema": 2, "runs": []}"#).unwrap();
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "<html>").unwrap();
    let missing = dir.path().join("missing.json");

    let cases = [
        (&missing, "cannot read report"),
        (&garbage, "is not a sockcheck JSON report"),
        (&newer, "report schema 2 is not supported"),
    ];
    for (bad, expected) in cases {
        for (base, head) in [(bad, &good), (&good, bad)] {
            let output = diff(base, head, &[]);
            assert_eq!(status(&output), ExitStatus::Error.code());
            let err = stderr(&output);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains(expected), "{err}");
            assert!(err.contains(bad.file_name().unwrap().to_str().unwrap()));
            assert!(output.stdout.is_empty());
        }
    }
    // Two good reports: a clean diff.
    let output = diff(&good, &good, &[]);
    assert_eq!(status(&output), ExitStatus::Clean.code());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "sockcheck diff: no new socket leaks\n  leaks: 0 new (0 errors), 0 fixed, 0 unchanged\n"
    );
}

#[test]
fn port_findings_are_diffed_and_judged_as_leaks_are() {
    // The ports fixture's churn over a threshold of 10, alone (base), then
    // with its fixed port in the ephemeral range (head): warnings both, as
    // the runs record them.
    let dir = tempfile::tempdir().unwrap();
    let (base, head) = (dir.path().join("base.json"), dir.path().join("head.json"));
    let run = |report: &Path, tests: &[&str]| {
        let args = [
            "--churn-threshold",
            "10",
            "--report",
            report.to_str().unwrap(),
        ];
        let output = on_fixture("ports", &[&args[..], &["--exact"], tests].concat());
        assert_eq!(
            status(&output),
            ExitStatus::Clean.code(),
            "{}",
            stderr(&output)
        );
    };
    run(&base, &["churns_50_connections"]);
    run(
        &head,
        &[
            "churns_50_connections",
            "binds_fixed_port_in_ephemeral_range",
        ],
    );

    // A new warning is listed and fails nothing.
    let warned = diff(&base, &head, &["--format", "json"]);
    assert_eq!(
        status(&warned),
        ExitStatus::Clean.code(),
        "{}",
        stderr(&warned)
    );
    let warned = json(&warned);
    let counts = &warned["counts"];
    assert_eq!(
        (
            &counts["new_port_findings"],
            &counts["new_port_errors"],
            &counts["unchanged_port_findings"],
            &counts["fixed_port_findings"],
        ),
        (
            &Value::from(1),
            &Value::from(0),
            &Value::from(1),
            &Value::from(0)
        )
    );
    // No leak in either: the leak counts say so.
    assert_eq!(
        (&counts["new"], &counts["unchanged"]),
        (&Value::from(0), &Value::from(0))
    );
    let new = &warned["new_port_findings"][0];
    assert_eq!(new["test"], "binds_fixed_port_in_ephemeral_range");
    assert_eq!(new["kind"], "fixed-port-in-ephemeral-range");
    assert_eq!(new["severity"], "warning");
    // Matched by its address with the port masked: it is another port each run.
    assert_eq!(new["identity"]["address"], "127.0.0.1:*");
    let line = marked_line("ports", "tests/ports.rs", "// site: in-range");
    assert!(
        new["site"]
            .as_str()
            .is_some_and(|site| site.starts_with(&format!("tests/ports.rs:{line}:"))),
        "{new:#}"
    );
    assert_eq!(
        warned["headline"],
        "no new socket leaks; adds 1 port finding"
    );

    // Denied, it fails the diff; every rendering says so.
    let deny = ["--deny", "fixed-port-in-ephemeral-range"];
    let denied = diff(&base, &head, &[&deny[..], &["--format", "json"]].concat());
    assert_eq!(
        status(&denied),
        ExitStatus::Leak.code(),
        "{}",
        stderr(&denied)
    );
    assert_eq!(json(&denied)["counts"]["new_port_errors"], 1);
    let redactions = vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r"ephemeral range \d+-\d+", "ephemeral range [range]"),
        (r"tests/ports\.rs:\d+:\d+", "tests/ports.rs:[line]"),
    ];
    for (format, name) in [
        ("text", "text_of_a_new_port_finding"),
        ("markdown", "markdown_of_a_new_port_finding"),
    ] {
        let output = diff(&base, &head, &[&deny[..], &["--format", format]].concat());
        assert_eq!(status(&output), ExitStatus::Leak.code());
        let rendered = String::from_utf8(output.stdout).unwrap();
        insta::with_settings!({ filters => redactions.clone() }, {
            insta::assert_snapshot!(name, rendered);
        });
    }

    // The other way round its test is gone: no longer checked, not fixed.
    let reverse = json(&diff(&head, &base, &["--format", "json"]));
    let counts = &reverse["counts"];
    assert_eq!(
        (
            &counts["unchecked_port_findings"],
            &counts["fixed_port_findings"]
        ),
        (&Value::from(1), &Value::from(0))
    );
}
