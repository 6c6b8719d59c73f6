//! Snapshots of every rendering of one fixed synthetic report, so a change
//! to what users and CI systems read shows up in review.
//!
//! The report is built by hand: its ports, inodes, pids and timings are
//! fixed, and the JSON snapshot redacts them anyway, as a report from a
//! real run would need.

mod schema;

use sockcheck::baseline::PortRange;
use sockcheck::leak::{Leak, LeakKind, Severity};
use sockcheck::report::sites::RepoPaths;
use sockcheck::report::text::TextOptions;
use sockcheck::report::{self, Outcome, Report, TestRecord};
use sockcheck::socket::State;
use sockcheck::testing::{leak, record, tcp, udp};

/// A test record that took 3 ms.
fn test(binary: &str, name: &str, outcome: Outcome, leaks: Vec<Leak>) -> TestRecord {
    let mut test = record(binary, name, outcome, leaks);
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

    let mut report = Report::new(vec![
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
    ]);
    // Its tests ran 2 at a time.
    report.duration_ms = Some(1_234);
    report
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
fn sarif_and_code_quality_of_a_mixed_run_without_sites() {
    // No creation stacks: one result per test and kind, on the workspace's
    // Cargo.toml, line 1.
    insta::assert_json_snapshot!("sarif_of_a_mixed_run", sarif(&synthetic_report()));
    insta::assert_json_snapshot!("gitlab_of_a_mixed_run", gitlab(&synthetic_report()));
}

#[test]
fn github_annotations_of_a_mixed_run() {
    insta::assert_snapshot!(annotations(&synthetic_report()));
}

/// Where the snapshots' workspace lies in its repository.
fn paths() -> RepoPaths {
    RepoPaths::new("crates/app")
}

/// The grouped GitHub annotations, paths from the repository root.
fn annotations(report: &Report) -> String {
    report::github::workflow_commands(report, &paths(), "the job summary and report.sarif")
        .join("\n")
}

/// The SARIF log, checked against the schema and GitHub's rules.
fn sarif(report: &Report) -> serde_json::Value {
    let text = render(
        |report, out| report::sarif::render(report, &paths(), PortRange::LINUX_DEFAULT, out),
        report,
    );
    schema::sarif_checked(&text)
}

/// The GitLab Code Quality report.
fn gitlab(report: &Report) -> serde_json::Value {
    let text = render(
        |report, out| report::gitlab::render(report, &paths(), PortRange::LINUX_DEFAULT, out),
        report,
    );
    serde_json::from_str(&text).expect("the Code Quality report is JSON")
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
    let mut shape = Report::new(report.tests);
    shape.duration_ms = report.duration_ms;
    assert_redacted_json_snapshot("json_report_shape", &shape);
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
        ".tests[].allowed[].inode" => "[inode]",
        ".tests[].allowed[].pid" => "[pid]",
        ".tests[].allowed[].local" => port_redaction(),
        ".tests[].allowed[].remote" => port_redaction(),
        ".tests[].duration_ms" => "[ms]",
        ".duration_ms" => "[ms]",
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

/// Leaks as `cargo sockcheck` reports them with creation sites: a listener
/// bound in the test and held by a thread blocked in `accept4`, a
/// connection opened through a helper, a socket from a build without debug
/// info, and one opened outside the project's code.
fn sites_report() -> Report {
    use sockcheck::site::{Frame, HoldingThread, Origin, Spawn};
    let std_file = |file: &str, line| {
        Frame::function(format!("std::net::tcp::{file}")).at(
            "/rustc/0123456789abcdef0123456789abcdef01234567/library/std/src/net/tcp.rs",
            line,
            Some(9),
        )
    };
    let mut listener = leak(
        LeakKind::Listen,
        tcp(State::Listen, "127.0.0.1:46515", "0.0.0.0:0"),
    );
    listener.opened = Some(Origin::new(
        "socket",
        vec![
            Frame::function("__GI___socket"),
            std_file("TcpListener::bind", 831),
            Frame::function("net::leaks_listener_in_thread")
                .at("tests/net.rs", 31, Some(13))
                .in_project(),
            Frame::function("core::ops::function::FnOnce::call_once"),
        ],
    ));
    // The thread the test named, and one it spawned through a helper and
    // never named (its name is only the test's, inherited).
    let spawned_by = vec![Spawn::new(
        "clone3",
        vec![
            Frame::function("std::thread::spawn"),
            Frame::function("net::support::serve")
                .at("tests/support/mod.rs", 20, Some(5))
                .in_project(),
        ],
    )];
    let mut unnamed = HoldingThread::new(9472, "leaks_listener_", "accept4").spawned_by(spawned_by);
    unnamed.unnamed = true;
    listener.held_by = vec![HoldingThread::new(9471, "server", "accept4"), unnamed];

    let mut through_helper = leak(
        LeakKind::CloseWait,
        tcp(State::CloseWait, "127.0.0.1:40211", "127.0.0.1:35719"),
    );
    through_helper.opened = Some(Origin::new(
        "socket",
        vec![
            Frame::function("__GI___socket"),
            std_file("TcpStream::connect", 160),
            Frame::function("net::common::connect")
                .at("tests/common/mod.rs", 12, Some(5))
                .in_project(),
            Frame::function("net::connects_through_a_helper")
                .at("tests/net.rs", 58, Some(17))
                .in_project(),
        ],
    ));

    let mut without_debug_info = leak(LeakKind::Udp, udp("127.0.0.1:5353"));
    without_debug_info.opened = Some(
        Origin::new(
            "socket",
            vec![
                Frame::function("__GI___socket"),
                Frame::function("std::net::udp::UdpSocket::bind"),
                Frame::function("net::release_build").in_project(),
            ],
        )
        .with_note("lines need debug info"),
    );

    let mut outside = leak(
        LeakKind::Established,
        tcp(State::Established, "127.0.0.1:41000", "127.0.0.1:5432"),
    );
    outside.opened = Some(Origin::new(
        "socket",
        vec![
            Frame::function("__GI___socket"),
            Frame::function("pool::Pool::grow").at(
                "/home/user/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pool-1.0.0/src/lib.rs",
                88,
                Some(20),
            ),
        ],
    ));

    Report::new(vec![
        test(
            "net",
            "leaks_listener_in_thread",
            Outcome::Passed,
            vec![listener],
        ),
        test(
            "net",
            "connects_through_a_helper",
            Outcome::Passed,
            vec![through_helper],
        ),
        test(
            "net",
            "release_build",
            Outcome::Passed,
            vec![without_debug_info],
        ),
        test("net", "pool_grows", Outcome::Passed, vec![outside]),
    ])
}

#[test]
fn every_rendering_shows_where_a_leak_was_opened_and_what_holds_it() {
    let report = sites_report();
    insta::assert_snapshot!(
        "text_with_sites",
        text_plain(&report, &TextOptions::default())
    );
    insta::assert_snapshot!(
        "markdown_with_sites",
        render(report::markdown::render, &report)
    );
    insta::assert_snapshot!("junit_with_sites", render(report::junit::render, &report));
    insta::assert_snapshot!("github_annotations_with_sites", annotations(&report));
    insta::assert_json_snapshot!("sarif_with_sites", sarif(&report));
    insta::assert_json_snapshot!("gitlab_with_sites", gitlab(&report));
    let text = render(report::json::render, &report);
    assert_eq!(schema::parse_checked(&text), report, "JSON round trip");
    let value: serde_json::Value = serde_json::from_str(&text).expect("the JSON report parses");
    insta::assert_json_snapshot!("json_with_sites", value, {
        ".tests[].leaks[].inode" => "[inode]",
        ".tests[].leaks[].pid" => "[pid]",
        ".tests[].leaks[].local" => port_redaction(),
        ".tests[].leaks[].remote" => port_redaction(),
        ".tests[].leaks[].held_by[].tid" => "[tid]",
        ".tests[].leaks[].opened.stack[].file" => absolute_path_redaction(),
        ".tests[].duration_ms" => "[ms]",
    });
}

/// An absolute path (std's or a dependency's source, which differ between
/// machines) becomes `[path]/` and its file name; project paths stay.
fn absolute_path_redaction() -> insta::internals::Redaction {
    insta::dynamic_redaction(|value, _path| {
        let redacted = value
            .as_str()
            .filter(|file| file.starts_with('/'))
            .and_then(|file| file.rsplit_once('/'))
            .map(|(_, name)| format!("[path]/{name}"));
        match redacted {
            Some(file) => file.into(),
            None => value,
        }
    })
}

/// Two tests on a mock server from a pool (a known pool and a project rule
/// allow their listeners), one of which also leaks a listener of its own.
fn allowed_report() -> Report {
    use sockcheck::allow::{self, AllowSocket};
    use sockcheck::site::{Frame, Origin};
    let opened = |frames: Vec<Frame>| {
        let mut origin = Origin::default();
        origin.syscall = "socket".to_owned();
        origin.site = frames.iter().find(|frame| frame.in_project).cloned();
        origin.stack = frames;
        origin
    };
    let pooled = opened(vec![
        Frame::function("std::net::tcp::TcpListener::bind"),
        Frame::function("mockito::server::Server::bind_server::{{closure}}"),
    ]);
    let support = opened(vec![Frame::function("net::support::serve")
        .at("tests/support/mod.rs", 9, Some(5))
        .in_project()]);
    let own = opened(vec![
        Frame::function("std::net::tcp::TcpListener::bind"),
        Frame::function("net::leaks_beside_the_pool")
            .at("tests/net.rs", 31, Some(13))
            .in_project(),
    ]);
    let listener = |port: u16, inode: u64, origin: &Origin| {
        let mut socket = tcp(State::Listen, &format!("127.0.0.1:{port}"), "0.0.0.0:0");
        socket.inode = inode;
        let mut listener = leak(LeakKind::Listen, socket);
        listener.opened = Some(origin.clone());
        listener
    };
    let rules = [AllowSocket::file("tests/support/*", "one server for the suite").unwrap()];
    let mut tests = vec![
        test(
            "net",
            "uses_the_pool",
            Outcome::Passed,
            vec![listener(40001, 21, &pooled), listener(40002, 22, &support)],
        ),
        test(
            "net",
            "leaks_beside_the_pool",
            Outcome::Passed,
            vec![listener(40003, 23, &pooled), listener(40004, 24, &own)],
        ),
    ];
    for test in &mut tests {
        test.allowed = allow::set_aside(&mut test.leaks, rules.iter().chain(allow::known_pools()));
    }
    Report::new(tests)
}

#[test]
fn renderings_of_a_run_with_allowed_sockets() {
    let report = allowed_report();
    assert_eq!(
        (
            report.summary.allowed,
            report.summary.errors,
            report.summary.leaking_tests
        ),
        (3, 1, 1)
    );
    insta::assert_snapshot!(
        "text_with_allowed_sockets",
        text_plain(&report, &TextOptions::default())
    );
    insta::assert_snapshot!(
        "markdown_with_allowed_sockets",
        render(report::markdown::render, &report)
    );
    assert_redacted_json_snapshot("json_with_allowed_sockets", &report);
    let text = render(report::json::render, &report);
    assert_eq!(report::json::parse(&text).expect("round trip"), report);
}

/// Unix-domain leaks as `cargo sockcheck` reports them on Linux: listeners
/// on a path and an abstract name, a stream whose peer closed, a bound
/// datagram socket, a path that is not UTF-8; with a reset TCP connection.
fn unix_report() -> Report {
    use sockcheck::socket::{Address, Family, UnixType};
    use sockcheck::testing::unix;
    let mut closed_peer = unix(UnixType::Stream, State::CloseWait, "(unnamed)");
    closed_peer.remote = Address::parse("/tmp/app-test/server.sock", Family::Unix).unwrap();
    Report::new(vec![
        test(
            "uds",
            "serves_on_a_path",
            Outcome::Passed,
            vec![
                leak(
                    LeakKind::Listen,
                    unix(UnixType::Stream, State::Listen, "/tmp/app-test/server.sock"),
                ),
                leak(LeakKind::CloseWait, closed_peer),
            ],
        ),
        test(
            "uds",
            "serves_on_an_abstract_name",
            Outcome::Passed,
            vec![leak(
                LeakKind::Listen,
                unix(UnixType::Seqpacket, State::Listen, "@app-test"),
            )],
        ),
        test(
            "uds",
            "binds_a_datagram_socket",
            Outcome::Passed,
            vec![leak(
                LeakKind::UnixDatagram,
                unix(UnixType::Dgram, State::Unconn, "/tmp/odd\\xffname.sock"),
            )],
        ),
        test(
            "net",
            "keeps_a_reset_connection",
            Outcome::Passed,
            vec![leak(
                LeakKind::Reset,
                tcp(State::Close, "127.0.0.1:41234", "0.0.0.0:0"),
            )],
        ),
        test("uds", "round_trip", Outcome::Passed, vec![]),
    ])
}

#[test]
fn every_format_of_a_run_with_unix_leaks() {
    let report = unix_report();
    insta::assert_snapshot!(
        "text_with_unix_leaks",
        text_plain(&report, &TextOptions::default())
    );
    insta::assert_snapshot!(
        "markdown_with_unix_leaks",
        render(report::markdown::render, &report)
    );
    insta::assert_snapshot!(
        "junit_with_unix_leaks",
        render(report::junit::render, &report)
    );
    insta::assert_snapshot!("github_annotations_with_unix_leaks", annotations(&report));
    assert_redacted_json_snapshot("json_with_unix_leaks", &report);
    let text = render(report::json::render, &report);
    assert_eq!(report::json::parse(&text).expect("round trip"), report);
}

#[test]
fn the_sarif_checks_catch_what_the_schema_and_github_refuse() {
    let mut log = sarif(&sites_report());
    let result = &mut log["runs"][0]["results"][0];
    result["ruleId"] = "no-such-rule".into();
    result["locations"][0]["physicalLocation"]["region"] = serde_json::json!({});
    result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "/abs/x.rs".into();
    let github = schema::github_violations(&log);
    assert_eq!(github.len(), 3, "{github:#?}");
    assert!(schema::sarif_violations(&log).is_empty());
    log["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!schema::sarif_violations(&log).is_empty());
}
