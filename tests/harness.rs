//! Drives `tests/harness_fixture.rs` (a `harness = false` target on
//! sockcheck's harness) as a subprocess: exactly the leaking trials must
//! fail, naming their sockets, and `SOCKCHECK_REPORT` must get the report.
//! How the fixture executable is found: see `tests/fixture_binary/mod.rs`.

mod fixture_binary;
mod schema;

use fixture_binary::{command, failed_tests, failure_of, output, printed, text};
use sockcheck::leak::{LeakKind, Severity};
use sockcheck::report::{Outcome, Report};
use sockcheck::socket::State;
use std::process::Output;
use std::sync::OnceLock;

const FIXTURE: &str = "harness_fixture";

const ALL_TRIALS: [&str; 6] = [
    "clean::closes_everything",
    "clean::server_thread_closes_late",
    "leaks::close_wait",
    "leaks::listener",
    "leaks::listener_and_panics",
    "leaks::established_only_warns",
];

/// One full run of the fixture with the leaking trials on, shared by the
/// tests below (each leaking trial waits out the fixture's linger).
struct Run {
    output: Output,
    stdout: String,
    stderr: String,
    report: Report,
}

fn full_run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        let output = output(command(FIXTURE).env("SOCKCHECK_REPORT", &path));
        let (stdout, stderr) = text(&output);
        let json = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("no report at {}: {e}\n{stdout}\n{stderr}", path.display()));
        let report = schema::parse_checked(&json);
        Run {
            output,
            stdout,
            stderr,
            report,
        }
    })
}

#[test]
fn exactly_the_trials_leaking_an_error_fail() {
    let run = full_run();
    assert_eq!(run.output.status.code(), Some(101), "{}", run.stdout);
    assert_eq!(
        failed_tests(&run.stdout),
        [
            "leaks::close_wait",
            "leaks::listener",
            "leaks::listener_and_panics"
        ],
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("test result: FAILED. 3 passed; 3 failed; 0 ignored"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_close_wait_failure_names_kind_state_and_both_addresses() {
    let run = full_run();
    let [addresses] = &printed(&run.stdout, "close-wait")[..] else {
        panic!(
            "the fixture printed no close-wait addresses:\n{}",
            run.stdout
        );
    };
    let message = failure_of(&run.stdout, "leaks::close_wait");
    assert!(
        message.contains("sockcheck: the test left 1 socket open"),
        "{message}"
    );
    assert!(
        message.contains(&format!("error close-wait: tcp {addresses} CLOSE_WAIT")),
        "{message}"
    );
}

#[test]
fn a_listen_failure_names_the_listening_address() {
    let run = full_run();
    let listeners = printed(&run.stdout, "listen");
    let message = failure_of(&run.stdout, "leaks::listener");
    assert!(
        message.contains(&format!("error listen: tcp {} LISTEN", listeners[0])),
        "{message}"
    );
}

#[test]
fn a_panicking_trial_keeps_its_own_message_ahead_of_its_leaks() {
    let run = full_run();
    let listeners = printed(&run.stdout, "listen");
    let message = failure_of(&run.stdout, "leaks::listener_and_panics");
    let own = message
        .find("test panicked: the trial's own failure")
        .unwrap_or_else(|| panic!("own message lost:\n{message}"));
    let leak = message
        .find(&format!("error listen: tcp {} LISTEN", listeners[1]))
        .unwrap_or_else(|| panic!("leak not appended:\n{message}"));
    assert!(own < leak, "{message}");
}

/// The failure messages a user reads, whole: a leak alone, and a trial's
/// own panic with its leak appended. Ports and pids change every run.
#[test]
fn failure_messages_as_printed() {
    let run = full_run();
    let messages = ["leaks::close_wait", "leaks::listener_and_panics"]
        .map(|name| failure_of(&run.stdout, name))
        .join("\n");
    insta::with_settings!({filters => vec![
        (r":\d+\b", ":[port]"),
        (r"\(pid \d+\)", "(pid [pid])"),
        (r"tests/harness_fixture\.rs:\d+:\d+", "tests/harness_fixture.rs:[line]"),
    ]}, {
        insta::assert_snapshot!(messages);
    });
}

#[test]
fn warnings_go_to_stderr_and_fail_nothing() {
    let run = full_run();
    assert!(
        run.stderr
            .contains("sockcheck: test `leaks::established_only_warns` left 2 sockets open:"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("    warning established: tcp ").count(),
        2
    );
    assert!(!failed_tests(&run.stdout).contains(&"leaks::established_only_warns".to_owned()));
}

#[test]
fn the_report_has_every_trial_that_ran_with_its_leaks() {
    let report = &full_run().report;
    let names: Vec<_> = report.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ALL_TRIALS);
    assert!(report.tests.iter().all(|t| t.binary == FIXTURE));

    let leaks_of = |name: &str| {
        let test = report.tests.iter().find(|t| t.name == name).unwrap();
        let leaks: Vec<_> = test
            .leaks
            .iter()
            .map(|l| (l.kind, l.severity, l.socket.state))
            .collect();
        (test.outcome, leaks)
    };
    assert_eq!(
        leaks_of("clean::closes_everything"),
        (Outcome::Passed, vec![])
    );
    assert_eq!(
        leaks_of("clean::server_thread_closes_late"),
        (Outcome::Passed, vec![])
    );
    assert_eq!(
        leaks_of("leaks::close_wait"),
        (
            Outcome::Passed, // the test itself passed; the leak is its own verdict
            vec![(LeakKind::CloseWait, Severity::Error, State::CloseWait)]
        )
    );
    assert_eq!(
        leaks_of("leaks::listener_and_panics"),
        (
            Outcome::Failed,
            vec![(LeakKind::Listen, Severity::Error, State::Listen)]
        )
    );
    let established = (LeakKind::Established, Severity::Warning, State::Established);
    assert_eq!(
        leaks_of("leaks::established_only_warns"),
        (Outcome::Passed, vec![established; 2])
    );
    let panicked = report.tests.iter().find(|t| t.outcome == Outcome::Failed);
    assert_eq!(
        panicked.and_then(|t| t.detail.as_deref()),
        Some("test panicked: the trial's own failure")
    );

    let summary = report.summary;
    assert_eq!((summary.tests, summary.passed, summary.failed), (6, 5, 1));
    assert_eq!(
        (summary.errors, summary.warnings, summary.leaking_tests),
        (3, 2, 4)
    );
}

#[test]
fn the_report_records_the_close_wait_addresses() {
    let run = full_run();
    let leak = &run.report.tests[2].leaks[0];
    let [addresses] = &printed(&run.stdout, "close-wait")[..] else {
        panic!("{}", run.stdout);
    };
    assert_eq!(
        format!("{} -> {}", leak.socket.local, leak.socket.remote),
        *addresses
    );
    assert_ne!(leak.socket.pid, 0);
}

#[test]
fn without_the_fixture_variable_the_leaking_trials_are_ignored() {
    let output = output(command(FIXTURE).env_remove("SOCKCHECK_FIXTURE"));
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("test result: ok. 2 passed; 0 failed; 4 ignored"),
        "{stdout}"
    );
}

#[test]
fn list_terse_names_every_trial_and_nothing_else() {
    let output = output(command(FIXTURE).args(["--list", "--format", "terse"]));
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let expected: Vec<String> = ALL_TRIALS.iter().map(|t| format!("{t}: test")).collect();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn exact_runs_one_trial_and_the_report_holds_only_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let output = output(
        command(FIXTURE)
            .args(["--exact", "leaks::listener"])
            .env("SOCKCHECK_REPORT", &path),
    );
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(101), "{stdout}");
    assert!(stdout.contains("running 1 test"), "{stdout}");
    assert_eq!(failed_tests(&stdout), ["leaks::listener"]);
    let report = schema::parse_checked(&std::fs::read_to_string(&path).unwrap());
    let names: Vec<_> = report.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["leaks::listener"]);
}

#[test]
fn a_filter_selecting_clean_trials_passes_and_more_threads_are_warned_about() {
    let output = output(command(FIXTURE).args(["clean::", "--test-threads=2"]));
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("running 2 tests"), "{stdout}");
    assert!(stderr.contains("--test-threads=2"), "{stderr}");
}

/// A trial's name, outcome, and its leaks' kinds, severities and states.
#[cfg(target_os = "linux")]
type Verdict = (String, Outcome, Vec<(LeakKind, Severity, State)>);

/// Each trial's [`Verdict`]: what two runs of the fixture must agree on
/// (ports and inodes differ).
#[cfg(target_os = "linux")]
fn verdicts(report: &Report) -> Vec<Verdict> {
    let mut rows: Vec<_> = report
        .tests
        .iter()
        .map(|test| {
            let mut leaks: Vec<_> = test
                .leaks
                .iter()
                .map(|l| (l.kind, l.severity, l.socket.state))
                .collect();
            leaks.sort();
            (test.name.clone(), test.outcome, leaks)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// The harness as macOS and Windows run it: on the netstat2 backend the
/// same trials fail, with the same leaks.
#[cfg(target_os = "linux")]
#[test]
fn on_the_netstat_backend_the_same_trials_fail_with_the_same_leaks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let output = output(
        command(FIXTURE)
            .env("SOCKCHECK_SNAPSHOT", "netstat2")
            .env("SOCKCHECK_REPORT", &path),
    );
    let (stdout, stderr) = text(&output);
    let run = full_run();
    assert_eq!(output.status.code(), Some(101), "{stdout}\n{stderr}");
    assert_eq!(failed_tests(&stdout), failed_tests(&run.stdout), "{stdout}");
    let report = schema::parse_checked(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(verdicts(&report), verdicts(&run.report));
}

#[test]
fn an_unknown_netstat_backend_name_fails_the_trial_saying_what_to_set() {
    let output = output(
        command(FIXTURE)
            .env("SOCKCHECK_SNAPSHOT", "netstat")
            .args(["--exact", "clean::closes_everything"]),
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(101), "{stdout}\n{stderr}");
    let message = failure_of(&stdout, "clean::closes_everything");
    // The choices are the platform's: `per-fd, netstat2` on Linux.
    assert!(
        message.contains(
            "sockcheck: cannot check this test's sockets: SOCKCHECK_SNAPSHOT=netstat \
             names no socket backend (expected one of: "
        ),
        "{message}"
    );
    assert!(message.contains("netstat2; or unset it)"), "{message}");
}
