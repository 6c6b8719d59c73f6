//! Drives `tests/harness_unix_fixture.rs` (sockcheck's harness with
//! unix-domain sockets) as a subprocess: a unix listener left open and a
//! stream whose peer hung up fail their trials, naming the socket's path;
//! a unix round trip that closes everything passes. Linux only: the
//! netstat2 backend of other platforms sees no unix sockets.
#![cfg(target_os = "linux")]

mod fixture_binary;
mod schema;

use fixture_binary::{command, failed_tests, failure_of, output, printed, text};
use sockcheck::leak::{LeakKind, Severity};
use sockcheck::report::Outcome;
use sockcheck::socket::{Protocol, State};

const FIXTURE: &str = "harness_unix_fixture";

#[test]
fn unix_leaks_fail_their_trials_by_path_and_a_clean_round_trip_passes() {
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let output = output(
        command(FIXTURE)
            .env("UNIX_FIXTURE_DIR", dir.path())
            .env("SOCKCHECK_REPORT", &report_path),
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(101), "{stdout}\n{stderr}");
    assert_eq!(
        failed_tests(&stdout),
        ["leaks::unix_listener", "leaks::unix_peer_gone"],
        "{stdout}"
    );

    let [listening] = &printed(&stdout, "listen")[..] else {
        panic!("the fixture printed no listener path:\n{stdout}");
    };
    let message = failure_of(&stdout, "leaks::unix_listener");
    assert!(
        message.contains(&format!("error listen: unix stream {listening} LISTEN")),
        "{message}"
    );
    let [peer] = &printed(&stdout, "peer gone")[..] else {
        panic!("the fixture printed no peer path:\n{stdout}");
    };
    let message = failure_of(&stdout, "leaks::unix_peer_gone");
    assert!(
        message.contains(&format!(
            "error close-wait: unix stream (unnamed) -> {peer} CLOSE_WAIT"
        )),
        "{message}"
    );

    let report = schema::parse_checked(&std::fs::read_to_string(&report_path).unwrap());
    let verdicts: Vec<_> = report
        .tests
        .iter()
        .map(|test| {
            let leaks: Vec<_> = test
                .leaks
                .iter()
                .map(|l| (l.kind, l.severity, l.socket.protocol, l.socket.state))
                .collect();
            (test.name.as_str(), test.outcome, leaks)
        })
        .collect();
    let error = |kind, state| vec![(kind, Severity::Error, Protocol::Unix, state)];
    assert_eq!(
        verdicts,
        [
            ("clean::unix_round_trip", Outcome::Passed, vec![]),
            (
                "leaks::unix_listener",
                Outcome::Passed,
                error(LeakKind::Listen, State::Listen)
            ),
            (
                "leaks::unix_peer_gone",
                Outcome::Passed,
                error(LeakKind::CloseWait, State::CloseWait)
            ),
        ]
    );
}

#[test]
fn without_the_fixture_variable_only_the_clean_trial_runs() {
    // As a plain `cargo test` runs it: no fixture variables at all.
    let output = output(
        command(FIXTURE)
            .env_remove("SOCKCHECK_FIXTURE")
            .env_remove("UNIX_FIXTURE_DIR"),
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("test result: ok. 1 passed; 0 failed; 2 ignored"),
        "{stdout}"
    );
}
