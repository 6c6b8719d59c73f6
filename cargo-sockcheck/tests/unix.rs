//! End to end on unix-domain sockets: the built `cargo sockcheck` on the
//! unixsock fixture, whose tests really leak unix sockets (a path listener,
//! an abstract one, one kept by a thread, a connection whose peer closed, a
//! bound datagram socket) or use them cleanly (a round trip, a datagram
//! pair, a socketpair, a child process, a socketpair kept for the life of
//! the process).

mod common;

use common::*;
use sockcheck::leak::LeakKind;
use sockcheck::report::{Outcome, Report};
use sockcheck::socket::{Family, Protocol, State, UnixAddress, UnixType};

fn row(name: &str, kinds: &[&str]) -> (String, Outcome, Vec<String>) {
    (
        format!("uds::{name}"),
        Outcome::Passed,
        kinds.iter().map(|k| k.to_string()).collect(),
    )
}

fn expected_verdicts() -> Vec<(String, Outcome, Vec<String>)> {
    vec![
        row("clean_child_output", &[]),
        row("clean_datagram_pair", &[]),
        row("clean_process_wide_socketpair", &[]),
        row("clean_round_trip", &[]),
        row("clean_socketpair_dropped", &[]),
        row("leaks_abstract_listener", &["listen:error"]),
        row("leaks_bound_datagram", &["unix-datagram:warning"]),
        row("leaks_connection_whose_peer_closed", &["close-wait:error"]),
        row("leaks_listener_in_thread", &["listen:error"]),
        row("leaks_path_listener", &["listen:error"]),
    ]
}

fn run(args: &[&str]) -> (Report, std::process::Output) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let output = on_fixture("unixsock", &all);
    (json_report(&output), output)
}

#[test]
fn every_unix_test_gets_its_verdict() {
    let (report, output) = run(&[]);
    assert_eq!(
        verdicts(&report),
        expected_verdicts(),
        "stderr:\n{}",
        stderr(&output)
    );
    assert_eq!(status(&output), 1, "{}", stderr(&output));
    let s = report.summary;
    assert_eq!((s.leaking_tests, s.errors, s.warnings), (5, 4, 1));
}

#[test]
fn fast_mode_gives_the_same_unix_verdicts() {
    let (report, output) = run(&["--fast"]);
    assert_eq!(
        verdicts(&report),
        expected_verdicts(),
        "stderr:\n{}",
        stderr(&output)
    );
}

#[test]
fn unix_leaks_carry_their_type_state_and_names() {
    let (report, _) = run(&["leaks_"]);
    let only = |name: &str| {
        let leaks = &record(&report, "uds", name).leaks;
        assert_eq!(leaks.len(), 1, "{name}: {leaks:?}");
        leaks[0].clone()
    };
    let unix = |address: &sockcheck::socket::Address| address.unix().cloned();
    let file_name = |address: &sockcheck::socket::Address| match unix(address) {
        Some(UnixAddress::Path(path)) => String::from_utf8(path).unwrap(),
        other => panic!("not a path: {other:?}"),
    };

    let listener = only("leaks_path_listener");
    assert_eq!(
        (listener.socket.protocol, listener.socket.family),
        (Protocol::Unix, Family::Unix)
    );
    assert_eq!(listener.socket.unix_type, Some(UnixType::Stream));
    assert_eq!(listener.socket.state, State::Listen);
    let path = file_name(&listener.socket.local);
    let pid = listener.socket.pid;
    assert!(
        path.ends_with(&format!("unixsock-{pid}-listener.sock")),
        "{path}"
    );
    assert_eq!(unix(&listener.socket.remote), Some(UnixAddress::Unnamed));

    let by_name = only("leaks_abstract_listener");
    let pid = by_name.socket.pid;
    assert_eq!(
        unix(&by_name.socket.local),
        Some(UnixAddress::Abstract(
            format!("unixsock-{pid}-abstract").into_bytes()
        ))
    );
    assert_eq!(
        by_name.socket.local.to_string(),
        format!("@unixsock-{pid}-abstract")
    );

    let threaded = only("leaks_listener_in_thread");
    assert!(file_name(&threaded.socket.local).ends_with("-thread.sock"));

    let close_wait = only("leaks_connection_whose_peer_closed");
    assert_eq!(close_wait.kind, LeakKind::CloseWait);
    assert_eq!(close_wait.socket.state, State::CloseWait);
    assert_eq!(unix(&close_wait.socket.local), Some(UnixAddress::Unnamed));
    assert!(file_name(&close_wait.socket.remote).ends_with("-peer-closed.sock"));

    let datagram = only("leaks_bound_datagram");
    assert_eq!(datagram.socket.unix_type, Some(UnixType::Dgram));
    assert_eq!(datagram.socket.state, State::Unconn);
    assert!(file_name(&datagram.socket.local).ends_with("-datagram.sock"));
}

#[test]
fn the_text_report_shows_paths_and_one_fix_per_kind() {
    let output = on_fixture("unixsock", &["--color", "never", "leaks_"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("error listen: unix stream /"), "{text}");
    assert!(
        text.contains("error listen: unix stream @unixsock-"),
        "{text}"
    );
    assert!(
        text.contains("error close-wait: unix stream (unnamed) -> /"),
        "{text}"
    );
    for kind in [
        LeakKind::Listen,
        LeakKind::CloseWait,
        LeakKind::UnixDatagram,
    ] {
        assert_eq!(text.matches(kind.fix()).count(), 1, "{kind}: {text}");
    }
    assert_eq!(text.matches(LeakKind::Udp.fix()).count(), 0, "{text}");
}

#[test]
fn a_unix_listener_is_allowed_by_a_glob_on_its_path() {
    let copy = LeakyCopy::of("unixsock");
    // A glob: every run has its own pid in the name.
    copy.append(
        "Cargo.toml",
        "[package.metadata.sockcheck]\nallow-listen-paths = [\"*/unixsock-*-listener.sock\"]\n",
    );
    let output = copy.sockcheck(&[
        "--format",
        "json",
        "leaks_path_listener",
        "leaks_listener_in_thread",
    ]);
    assert_eq!(
        verdicts(&json_report(&output)),
        [
            row("leaks_listener_in_thread", &["listen:error"]),
            row("leaks_path_listener", &[]),
        ],
        "{}",
        stderr(&output)
    );
}
