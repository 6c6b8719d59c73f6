//! Snapshots of every rendering of one fixed synthetic report, so a change
//! to what users and CI systems read shows up in review.
//!
//! The report is built by hand: its ports, inodes, pids and timings are
//! fixed, and the JSON snapshot redacts them anyway, as a report from a
//! real run would need.

mod schema;

use sockcheck::leak::{Leak, LeakKind, Severity};
use sockcheck::report::text::TextOptions;
use sockcheck::report::{self, Outcome, Report, TestRecord};
use sockcheck::socket::State;
use sockcheck::testing::{leak, tcp, udp};

fn test(binary: &str, name: &str, outcome: Outcome, leaks: Vec<Leak>) -> TestRecord {
    let mut test = TestRecord::new(binary, name, outcome);
    test.leaks = leaks;
    test.duration_ms = Some(3);
    test
}

/// Every case a renderer must handle: clean, close-wait, listen, a warning
/// only, more leaks than are listed, failed with output, timed out, ignored.
fn synthetic_report() -> Report {
    let close_wait = leak(
        LeakKind::CloseWait,
        tcp(State::CloseWait, "127.0.0.1:40211", "127.0.0.1:35719"),
    );
    let listener = leak(LeakKind::Listen, tcp(State::Listen, "[::1]:8080", "[::]:0"));
    let established = leak(
        LeakKind::Established,
        tcp(State::Established, "127.0.0.1:41000", "127.0.0.1:5432"),
    );
    let many: Vec<Leak> = (0..12u16)
        .map(|i| {
            let local = format!("127.0.0.1:{}", 42000 + i);
            if i < 9 {
                let remote = format!("127.0.0.1:{}", 50000 + i);
                leak(LeakKind::CloseWait, tcp(State::CloseWait, &local, &remote))
            } else {
                leak(LeakKind::Udp, udp(&local))
            }
        })
        .collect();

    let mut leaking_with_output =
        test("net", "leaks_close_wait", Outcome::Passed, vec![close_wait]);
    leaking_with_output.output =
        Some("server: accepted 127.0.0.1:35719\nserver: peer hung up\n".into());

    let mut failed = test(
        "db",
        "pool::fails_to_connect",
        Outcome::Failed,
        vec![leak(LeakKind::Udp, udp("127.0.0.1:5353"))],
    );
    failed.detail = Some("exit status: 101".into());
    failed.output = Some(
        "thread 'pool::fails_to_connect' panicked at tests/db.rs:12:5:\n\
         connection refused | retried 3 times\n\
         ```\n"
            .into(),
    );

    let mut timed_out = test("db", "pool::hangs", Outcome::TimedOut, vec![]);
    timed_out.detail = Some("no result after 60 s".into());

    let mut ignored = TestRecord::new("db", "pool::slow", Outcome::Ignored);
    ignored.duration_ms = None;

    Report::new(vec![
        test("net", "clean_round_trip", Outcome::Passed, vec![]),
        leaking_with_output,
        test("net", "leaks_listener", Outcome::Passed, vec![listener]),
        test(
            "net",
            "keeps_connection",
            Outcome::Passed,
            vec![established],
        ),
        test("net", "leaks_many", Outcome::Passed, many),
        failed,
        timed_out,
        ignored,
    ])
}

fn clean_report() -> Report {
    Report::new(vec![
        test("net", "clean_round_trip", Outcome::Passed, vec![]),
        test("net", "tests::unit", Outcome::Passed, vec![]),
        TestRecord::new("db", "pool::slow", Outcome::Ignored),
    ])
}

fn render(
    renderer: impl Fn(&Report, &mut dyn std::io::Write) -> std::io::Result<()>,
    report: &Report,
) -> String {
    let mut out = Vec::new();
    renderer(report, &mut out).expect("rendering to memory cannot fail");
    String::from_utf8(out).expect("renderings are UTF-8")
}

#[test]
fn markdown_of_a_mixed_run() {
    insta::assert_snapshot!(render(report::markdown::render, &synthetic_report()));
}

#[test]
fn markdown_of_a_clean_run() {
    insta::assert_snapshot!(render(report::markdown::render, &clean_report()));
}

#[test]
fn markdown_of_an_interrupted_merged_run() {
    let mut second_shard = clean_report();
    second_shard.interrupted = true;
    let first_shard = Report::new(vec![test(
        "net",
        "leaks_listener",
        Outcome::Passed,
        vec![leak(
            LeakKind::Listen,
            tcp(State::Listen, "127.0.0.1:8080", "0.0.0.0:0"),
        )],
    )]);
    let merged = report::merge(vec![first_shard, second_shard]);
    assert!(merged.interrupted);
    assert_eq!(merged.summary.tests, 4);
    assert_eq!(merged.summary.errors, 1);
    insta::assert_snapshot!(render(report::markdown::render, &merged));
}

/// The text report as a terminal gets it: styled, with each escape
/// sequence's ESC shown as `␛` so the snapshot reads.
fn text_in_colour(report: &Report, options: &TextOptions) -> String {
    let styled = render(|r, out| report::text::render(r, options, out), report);
    styled.replace('\x1b', "␛")
}

/// The text report as a pipe or a file gets it: written through anstream
/// with colour off, as `cargo sockcheck` writes it.
fn text_plain(report: &Report, options: &TextOptions) -> String {
    let mut out = anstream::AutoStream::new(Vec::new(), anstream::ColorChoice::Never);
    report::text::render(report, options, &mut out).expect("rendering to memory cannot fail");
    String::from_utf8(out.into_inner()).expect("renderings are UTF-8")
}

#[test]
fn text_of_a_mixed_run() {
    let plain = text_plain(&synthetic_report(), &TextOptions::default());
    assert!(!plain.contains('\x1b'), "colour off leaves no escape");
    insta::assert_snapshot!(plain);
}

#[test]
fn text_of_a_mixed_run_in_colour() {
    let coloured = text_in_colour(&synthetic_report(), &TextOptions::default());
    // Green PASS is not shown (passing tests are not listed); yellow LEAK,
    // red FAIL and TIMEOUT, red errors and yellow warnings are.
    for styled in [
        "␛[1m␛[33m    LEAK␛[0m",
        "␛[1m␛[31m    FAIL␛[0m",
        "␛[1m␛[31m TIMEOUT␛[0m",
        "␛[1m␛[31merror␛[0m",
        "␛[1m␛[33mwarning␛[0m",
    ] {
        assert!(
            coloured.contains(styled),
            "{styled} missing in:\n{coloured}"
        );
    }
    insta::assert_snapshot!(coloured);
}

#[test]
fn text_of_a_clean_run() {
    insta::assert_snapshot!(text_plain(&clean_report(), &TextOptions::default()));
    let coloured = text_in_colour(&clean_report(), &TextOptions::default());
    assert!(coloured.contains("␛[1m␛[32m2 passed␛[0m"), "{coloured}");
}

/// A long run whose exits waited out the linger, every output shown:
/// the summary names the slowest tests and what the linger cost.
#[test]
fn text_of_a_long_run_with_every_output() {
    let mut report = synthetic_report();
    for (i, test) in report.tests.iter_mut().enumerate() {
        test.duration_ms = Some(1000 * i as u64 + 250);
        test.linger_ms = (!test.leaks.is_empty()).then_some(900);
    }
    let report = Report::new(report.tests);
    let every_output = TextOptions {
        success_output: true,
        failure_output: true,
    };
    insta::assert_snapshot!(text_plain(&report, &every_output));
}

#[test]
fn text_of_a_rerun_points_at_the_stable_leaks() {
    let text = text_plain(&rerun_report(), &TextOptions::default());
    assert!(text.contains("Next fix the stable leaks first"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn junit_of_a_mixed_run() {
    insta::assert_snapshot!(render(report::junit::render, &synthetic_report()));
}

#[test]
fn github_annotations_of_a_mixed_run() {
    insta::assert_snapshot!(report::github::workflow_commands(&synthetic_report()).join("\n"));
}

/// `127.0.0.1:40211` becomes `127.0.0.1:[port]`: the IP stays, the port goes.
fn port_redaction() -> insta::internals::Redaction {
    insta::dynamic_redaction(|value, _path| {
        let redacted = value
            .as_str()
            .and_then(|address| address.rsplit_once(':'))
            .map(|(ip, _port)| format!("{ip}:[port]"));
        match redacted {
            Some(address) => address.into(),
            None => value,
        }
    })
}

/// The JSON contract, with the values a real run would change each time
/// redacted: inodes, pids, ports, timings. (Without `leaks_many`, whose
/// twelve leaks would only repeat one shape.)
#[test]
fn json_report_shape() {
    let mut report = synthetic_report();
    report.tests.retain(|t| t.name != "leaks_many");
    let report = Report::new(report.tests);
    assert_redacted_json_snapshot("json_report_shape", &report);
}

/// Snapshots `report`'s JSON as `name`, with the values a real run would
/// change each time redacted.
fn assert_redacted_json_snapshot(name: &str, report: &Report) {
    let text = render(report::json::render, report);
    schema::parse_checked(&text);
    let value: serde_json::Value = serde_json::from_str(&text).expect("the JSON report parses");
    insta::assert_json_snapshot!(name, value, {
        ".tests[].leaks[].inode" => "[inode]",
        ".tests[].leaks[].pid" => "[pid]",
        ".tests[].leaks[].local" => port_redaction(),
        ".tests[].leaks[].remote" => port_redaction(),
        ".tests[].duration_ms" => "[ms]",
    });
}

#[test]
fn every_test_and_a_leak_count_survive_the_json_round_trip() {
    let report = synthetic_report();
    let text = render(report::json::render, &report);
    let parsed = report::json::parse(&text).expect("the JSON report parses");
    assert_eq!(parsed, report);
    assert_eq!(parsed.summary.leaking_tests, 5);
    assert_eq!(parsed.summary.errors, 11);
    assert_eq!(
        parsed
            .tests
            .iter()
            .map(|t| t.count(Severity::Warning))
            .sum::<usize>(),
        parsed.summary.warnings
    );
}

/// After `--rerun-leaks 2`: a leak seen in every run and one seen once,
/// demoted to a warning.
fn rerun_report() -> Report {
    use sockcheck::leak::Stability;
    let mut stable = leak(
        LeakKind::Listen,
        tcp(State::Listen, "127.0.0.1:40100", "0.0.0.0:0"),
    );
    stable.stability = Some(Stability::of(3, 3));
    let mut flaky = leak(
        LeakKind::CloseWait,
        tcp(State::CloseWait, "127.0.0.1:40200", "127.0.0.1:40300"),
    );
    flaky.severity = Severity::Warning;
    flaky.stability = Some(Stability::of(1, 3));
    Report::new(vec![
        test("net", "leaks_every_run", Outcome::Passed, vec![stable]),
        test("net", "leaks_sometimes", Outcome::Passed, vec![flaky]),
    ])
}

#[test]
fn markdown_and_json_of_a_rerun_show_stability() {
    let report = rerun_report();
    insta::assert_snapshot!(render(report::markdown::render, &report));
    assert_redacted_json_snapshot("json_of_a_rerun", &report);
    let text = render(report::json::render, &report);
    assert_eq!(report::json::parse(&text).expect("round trip"), report);
}
