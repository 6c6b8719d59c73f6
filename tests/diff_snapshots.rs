//! Snapshots of every rendering of one synthetic diff (text, Markdown,
//! JSON), so a change to what reviewers and the GitHub Action read shows up
//! in review. The reports are built by hand; the JSON snapshot redacts
//! inodes and pids all the same, as a diff of real runs would need.

use sockcheck::diff::{self, Diff};
use sockcheck::leak::{Leak, LeakKind};
use sockcheck::report::{Outcome, Report, TestRecord};
use sockcheck::site::{Frame, Origin};
use sockcheck::socket::State;
use sockcheck::testing::{leak, record, tcp};

/// The same leak, opened by the project's code at `file:line`.
fn opened_at(mut leak: Leak, file: &str, line: u32) -> Leak {
    let origin: Origin = serde_json::from_value(serde_json::json!({
        "syscall": "socket",
        "site": Frame::function("net::helper").at(file, line, Some(9)).in_project(),
        "stack": [],
    }))
    .expect("an origin");
    leak.opened = Some(origin);
    leak
}

fn test(name: &str, outcome: Outcome, leaks: Vec<Leak>) -> TestRecord {
    record("net", name, outcome, leaks)
}

// Ports from 32768 up are ephemeral on Linux by default: matched as `*`.
fn close_wait(local: &str) -> Leak {
    let socket = tcp(State::CloseWait, local, "127.0.0.1:8080");
    leak(LeakKind::CloseWait, socket)
}

fn listener(local: &str) -> Leak {
    leak(LeakKind::Listen, tcp(State::Listen, local, "0.0.0.0:0"))
}

/// A pull request that fixes a listener, adds one (with its site) and a
/// warning, keeps a CLOSE_WAIT, adds and removes a test and breaks one.
fn base_and_head() -> (Report, Report) {
    let base = Report::new(vec![
        test(
            "keeps_close_wait",
            Outcome::Passed,
            vec![close_wait("127.0.0.1:40001")],
        ),
        test(
            "fixes_listener",
            Outcome::Passed,
            vec![listener("127.0.0.1:9000")],
        ),
        test("breaks", Outcome::Passed, vec![]),
        test("removed", Outcome::Passed, vec![listener("127.0.0.1:9001")]),
    ]);
    let head = Report::new(vec![
        test(
            "keeps_close_wait",
            Outcome::Passed,
            vec![close_wait("127.0.0.1:51234")],
        ),
        test("fixes_listener", Outcome::Passed, vec![]),
        test(
            "breaks",
            Outcome::Failed,
            vec![leak(
                LeakKind::Established,
                tcp(State::Established, "127.0.0.1:45678", "127.0.0.1:5432"),
            )],
        ),
        test(
            "added_leaks_listener",
            Outcome::Passed,
            vec![opened_at(listener("127.0.0.1:9002"), "tests/net.rs", 31)],
        ),
    ]);
    (base, head)
}

fn rendered(render: fn(&Diff, &mut dyn std::io::Write) -> std::io::Result<()>) -> String {
    let (base, head) = base_and_head();
    let diff = Diff::between_with(&base, &head, sockcheck::baseline::PortRange::LINUX_DEFAULT);
    let mut out = Vec::new();
    render(&diff, &mut out).expect("render to memory");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn text_of_a_pull_request() {
    insta::assert_snapshot!(rendered(diff::text::render));
}

#[test]
fn markdown_of_a_pull_request() {
    insta::assert_snapshot!(rendered(diff::markdown::render));
}

#[test]
fn json_of_a_pull_request() {
    let json: serde_json::Value =
        serde_json::from_str(&rendered(diff::json::render)).expect("valid JSON");
    insta::assert_json_snapshot!(json, {
        ".**.inode" => "[inode]",
        ".**.pid" => "[pid]",
    });
}

#[test]
fn markdown_of_no_change() {
    let (base, _) = base_and_head();
    let diff = Diff::between_with(&base, &base, sockcheck::baseline::PortRange::LINUX_DEFAULT);
    let mut out = Vec::new();
    diff::markdown::render(&diff, &mut out).expect("render to memory");
    assert_eq!(
        String::from_utf8(out).expect("utf-8"),
        "### sockcheck: no new socket leaks\n\nLeaks: 0 new (0 errors), 0 fixed, 3 unchanged.\n"
    );
}
