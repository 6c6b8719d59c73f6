//! Snapshots of how the Markdown, JUnit, GitHub, SARIF and GitLab
//! renderings show port findings, from one fixed synthetic report: every
//! kind of finding and holder, on failing and passing tests, with the text
//! a hostile pull request controls (test names, an outside process's
//! command line, a unix socket's path) crafted to break out of each format.
//!
//! Built by hand: ports, pids and timings are fixed, so nothing needs
//! redacting.

mod schema;

use sockcheck::baseline::PortRange;
use sockcheck::leak::Severity;
use sockcheck::ports::{PortFinding, PortHolder, PortProblem, TestName, TimeWaitMaker};
use sockcheck::report::sites::RepoPaths;
use sockcheck::report::{self, Outcome, Report, TestRecord};
use sockcheck::site::{Frame, Origin};
use sockcheck::socket::{Address, UnixAddress};

/// A name a pull request could give a test: markup, a mention, a
/// workflow command and a line break.
const HOSTILE_TEST: &str = "evil::`x` | <b>@all</b>\n::error::pwned %0A";

/// A command line an outside process could set.
const HOSTILE_COMMAND: &str = "sh -c '<img src=x>' | `rm` @team\r\n::warning::owned";

/// A unix socket path a pull request could bind: markup, a mention, a
/// workflow command and a line break.
const HOSTILE_PATH: &[u8] = b"/tmp/`x` | <b>@all</b>\n::error::pwned %0A.sock";

/// `syscall` made at `tests/ports.rs:line:9` in `ports::function`, through
/// std's `TcpListener::bind` (or `TcpStream::connect`).
fn call(syscall: &str, function: &str, line: u32) -> Origin {
    let api = if syscall == "connect" {
        "std::net::tcp::TcpStream::connect"
    } else {
        "std::net::tcp::TcpListener::bind"
    };
    call_through(api, syscall, function, line)
}

/// `syscall` made at `tests/ports.rs:line:9` in `ports::function`, through
/// `api`.
fn call_through(api: &str, syscall: &str, function: &str, line: u32) -> Origin {
    Origin::new(
        syscall,
        vec![
            Frame::function(api),
            Frame::function(format!("ports::{function}"))
                .at("tests/ports.rs", line, Some(9))
                .in_project(),
        ],
    )
}

fn test(name: &str, outcome: Outcome, findings: Vec<PortFinding>) -> TestRecord {
    let mut test = TestRecord::new("ports", name, outcome);
    if outcome.is_failure() {
        test.detail = Some("exit status 101".into());
    }
    test.port_findings = findings;
    test
}

fn in_use(address: &str, held_by: PortHolder) -> PortProblem {
    PortProblem::AddressInUse {
        address: address.into(),
        held_by,
    }
}

/// Every finding and holder: the loser of a fixed port (the winner named,
/// with its site), a port held outside the run (a hostile command), one
/// held only by TIME_WAIT entries, a unix path held by another test and one
/// (a hostile path) where a stale socket file was left, an exhausted range,
/// a fixed port in the ephemeral range, one shared by two tests (one
/// hostile), churn (denied to an error, as `--deny port-churn` makes it)
/// and a clean test.
fn ports_report() -> Report {
    let loser = test(
        "binds_fixed_port_another_test_holds",
        Outcome::Failed,
        vec![PortFinding::new(in_use(
            "127.0.0.1:28080",
            PortHolder::Test {
                test: TestName::new("ports", "holds_fixed_port"),
                opened: Some(call("socket", "holds_fixed_port", 44)),
            },
        ))
        .at(call("bind", "binds_fixed_port_another_test_holds", 83))],
    );
    let outside = test(
        "binds_port_held_outside",
        Outcome::Failed,
        vec![PortFinding::new(in_use(
            "127.0.0.1:21000",
            PortHolder::Process {
                pid: 4242,
                command: HOSTILE_COMMAND.into(),
            },
        ))
        .at(call("bind", "binds_port_held_outside", 90))],
    );
    let time_wait =
        test(
            "rebinds_without_reuseaddr",
            Outcome::Failed,
            vec![
                PortFinding::new(in_use("0.0.0.0:9000", PortHolder::TimeWait { entries: 3 }))
                    .at(call("bind", "rebinds_without_reuseaddr", 120)),
            ],
        );
    let unix_bind = |function: &str, line| {
        let api = "std::os::unix::net::listener::UnixListener::bind";
        call_through(api, "bind", function, line)
    };
    let unix_loser = test(
        "binds_a_unix_path_another_test_holds",
        Outcome::Failed,
        vec![PortFinding::new(in_use(
            "/tmp/app/pair.sock",
            PortHolder::Test {
                test: TestName::new("ports", "binds_a_unix_path_and_holds_it"),
                opened: Some(unix_bind("binds_a_unix_path_and_holds_it", 150)),
            },
        ))
        .at(unix_bind("binds_a_unix_path_another_test_holds", 160))],
    );
    let stale_path = Address::Unix(UnixAddress::Path(HOSTILE_PATH.to_vec()));
    let stale = test(
        "binds_a_unix_path_left_by_an_earlier_run",
        Outcome::Failed,
        vec![PortFinding::new(in_use(
            &stale_path.to_string(),
            PortHolder::StaleSocketFile { left_by: None },
        ))
        .at(unix_bind("binds_a_unix_path_left_by_an_earlier_run", 170))],
    );
    let exhausted = test(
        "connects_once_more",
        Outcome::Failed,
        vec![PortFinding::new(PortProblem::AddressNotAvailable {
            address: "127.0.0.1:5432".into(),
            time_wait: 28_000,
            made_by: vec![
                TimeWaitMaker::new(TestName::new("ports", "churns_5000_connections"), 27_000),
                TimeWaitMaker::new(TestName::new("ports", HOSTILE_TEST), 1_000),
            ],
        })
        .at(call("connect", "connects_once_more", 130))],
    );
    let in_range = test(
        "binds_fixed_port_in_ephemeral_range",
        Outcome::Passed,
        vec![PortFinding::new(PortProblem::FixedPortInEphemeralRange {
            address: "127.0.0.1:40000".into(),
            range: [32768, 60999],
        })
        .at(call("bind", "binds_fixed_port_in_ephemeral_range", 110))],
    );
    let shared = |name: &str, other: &str, line| {
        test(
            name,
            Outcome::Passed,
            vec![PortFinding::new(PortProblem::FixedPortShared {
                address: "127.0.0.1:8080".into(),
                with: vec![TestName::new("ports", other)],
            })
            .at(call("bind", "serve", line))],
        )
    };
    let mut churn = PortFinding::new(PortProblem::PortChurn {
        active_closes: 5000,
        threshold: 2333,
    });
    churn.severity = Some(Severity::Error);
    Report::new(vec![
        loser,
        outside,
        time_wait,
        unix_loser,
        stale,
        exhausted,
        in_range,
        shared("serves_on_8080", HOSTILE_TEST, 140),
        shared(HOSTILE_TEST, "serves_on_8080", 140),
        test("churns_5000_connections", Outcome::Passed, vec![churn]),
        test("churns_50_connections", Outcome::Passed, vec![]),
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

fn paths() -> RepoPaths {
    RepoPaths::new("crates/app")
}

#[test]
fn markdown_shows_port_findings_under_failed_tests_and_in_their_own_table() {
    let markdown = render(report::markdown::render, &ports_report());
    insta::assert_snapshot!("markdown_with_port_findings", markdown);
}

#[test]
fn junit_tells_port_findings_in_failures_and_system_out() {
    let junit = render(report::junit::render, &ports_report());
    insta::assert_snapshot!("junit_with_port_findings", junit);
}

#[test]
fn github_annotations_place_port_findings_at_their_calls() {
    let lines = report::github::workflow_commands(&ports_report(), &paths(), "the job summary");
    assert!(lines.iter().all(|line| !line.contains(['\n', '\r'])));
    insta::assert_snapshot!("github_annotations_with_port_findings", lines.join("\n"));
}

#[test]
fn sarif_and_code_quality_have_a_result_per_port_finding() {
    let sarif = render(
        |r, out| report::sarif::render(r, &paths(), PortRange::LINUX_DEFAULT, out),
        &ports_report(),
    );
    insta::assert_json_snapshot!("sarif_with_port_findings", schema::sarif_checked(&sarif));
    let gitlab = render(
        |r, out| report::gitlab::render(r, &paths(), PortRange::LINUX_DEFAULT, out),
        &ports_report(),
    );
    let gitlab: serde_json::Value = serde_json::from_str(&gitlab).expect("Code Quality is JSON");
    insta::assert_json_snapshot!("gitlab_with_port_findings", gitlab);
}
