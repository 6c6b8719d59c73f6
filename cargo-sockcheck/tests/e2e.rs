//! End to end: the built `cargo sockcheck` on the leaky fixture project,
//! whose tests really leak sockets on loopback.

mod common;

use cargo_sockcheck::ExitStatus;
use common::*;
use sockcheck::leak::LeakKind;
use sockcheck::report::Outcome;
use sockcheck::socket::{Family, State};

fn row(name: &str, outcome: Outcome, kinds: &[&str]) -> (String, Outcome, Vec<String>) {
    (
        name.to_owned(),
        outcome,
        kinds.iter().map(|k| k.to_string()).collect(),
    )
}

#[test]
fn every_test_of_the_leaky_fixture_gets_its_verdict() {
    let output = on_fixture("leaky", &["--format", "json"]);
    let report = json_report(&output);
    use Outcome::*;
    assert_eq!(
        verdicts(&report),
        [
            row("leaky::tests::unit_clean", Passed, &[]),
            row(
                "leaky::tests::unit_leaks_listener",
                Passed,
                &["listen:error"]
            ),
            row("net::clean_ends_in_time_wait", Passed, &[]),
            row("net::clean_no_sockets", Passed, &[]),
            row("net::clean_round_trip", Passed, &[]),
            row("net::fails_and_leaks_listener", Failed, &["listen:error"]),
            row("net::ignored_leaks_close_wait", Ignored, &[]),
            row("net::leaks_child_server", Passed, &["orphan:error"]),
            row("net::leaks_close_wait_ipv4", Passed, &["close-wait:error"]),
            row("net::leaks_close_wait_ipv6", Passed, &["close-wait:error"]),
            row(
                "net::leaks_established_pair",
                Passed,
                &["established:warning", "established:warning"]
            ),
            row("net::leaks_listener_in_thread", Passed, &["listen:error"]),
            row("net::leaks_udp", Passed, &["udp:warning"]),
        ],
        "stderr:\n{}",
        stderr(&output)
    );
    // A test failed: that takes precedence over the leaks.
    assert_eq!(
        status(&output),
        ExitStatus::TestFailed.code(),
        "{}",
        stderr(&output)
    );
    let s = report.summary;
    assert_eq!((s.tests, s.passed, s.failed, s.ignored), (13, 11, 1, 1));
    assert_eq!((s.leaking_tests, s.errors, s.warnings), (8, 6, 3));
    // The run's wall time covers each of its tests.
    let longest = report.tests.iter().filter_map(|t| t.duration_ms).max();
    let run = report
        .duration_ms
        .expect("a run's report says how long it took");
    assert!(longest.is_some_and(|longest| run >= longest), "{run} ms");
}

#[test]
fn leaks_carry_the_real_addresses_states_and_processes() {
    let output = on_fixture(
        "leaky",
        &["--format", "json", "leaks_close_wait", "leaks_child_server"],
    );
    let report = json_report(&output);

    for (name, family, host) in [
        ("leaks_close_wait_ipv4", Family::Ipv4, "127.0.0.1"),
        ("leaks_close_wait_ipv6", Family::Ipv6, "::1"),
    ] {
        let leak = &record(&report, "net", name).leaks[0];
        assert_eq!(
            (leak.kind, leak.socket.state, leak.socket.family),
            (LeakKind::CloseWait, State::CloseWait, family)
        );
        let (local, remote) = (leak.socket.local.inet(), leak.socket.remote.inet());
        assert_eq!(local.map(|a| a.ip().to_string()).as_deref(), Some(host));
        assert_eq!(remote.map(|a| a.ip().to_string()).as_deref(), Some(host));
        assert_ne!(leak.socket.remote.port(), Some(0));
        assert_ne!(leak.socket.inode, 0);
    }

    let orphan = &record(&report, "net", "leaks_child_server").leaks[0];
    assert_eq!(orphan.socket.state, State::Listen);
    // The orphan server was killed: nothing sockcheck started outlives it.
    assert!(
        !process_alive(orphan.socket.pid),
        "orphan {} still alive",
        orphan.socket.pid
    );
    // Only error-level leaks and no failure: exit 1.
    assert_eq!(
        status(&output),
        ExitStatus::Leak.code(),
        "{}",
        stderr(&output)
    );
}

#[test]
fn clean_tests_alone_exit_zero_and_print_a_summary() {
    let output = on_fixture("leaky", &["clean"]);
    assert_eq!(
        status(&output),
        ExitStatus::Clean.code(),
        "{}",
        stderr(&output)
    );
    let stdout = without_times(&String::from_utf8_lossy(&output.stdout));
    assert!(
        stdout.contains("Summary [time] 4 tests: 4 passed, 0 failed, 0 ignored\n")
            && stdout.contains("Leaks none: no test left a socket open"),
        "{stdout}"
    );
}

#[test]
fn ignored_tests_run_only_with_ignored() {
    let output = on_fixture("leaky", &["--format", "json", "--ignored"]);
    let report = json_report(&output);
    assert_eq!(
        verdicts(&report),
        [row(
            "net::ignored_leaks_close_wait",
            Outcome::Passed,
            &["close-wait:error"]
        )]
    );
    assert_eq!(status(&output), ExitStatus::Leak.code());
}

#[test]
fn skip_and_exact_select_tests_like_libtest() {
    let output = on_fixture(
        "leaky",
        &[
            "--format",
            "json",
            "--exact",
            "leaks_udp",
            "clean_round_trip",
            "--skip",
            "clean_round_trip",
        ],
    );
    let report = json_report(&output);
    assert_eq!(
        verdicts(&report),
        [row("net::leaks_udp", Outcome::Passed, &["udp:warning"])]
    );
    // Warnings alone do not fail the run.
    assert_eq!(status(&output), ExitStatus::Clean.code());
}

#[test]
fn allow_and_warn_change_severities() {
    let output = on_fixture(
        "leaky",
        &[
            "--format",
            "json",
            "--allow",
            "listen",
            "--warn",
            "close-wait",
            "leaks_close_wait",
            "leaks_child_server",
            "leaks_listener_in_thread",
        ],
    );
    let report = json_report(&output);
    let kinds: Vec<_> = report
        .tests
        .iter()
        .flat_map(|t| &t.leaks)
        .map(|l| (l.kind, l.severity.to_string()))
        .collect();
    assert!(
        !kinds.iter().any(|(k, _)| *k == LeakKind::Listen),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(LeakKind::CloseWait, "warning".into())),
        "{kinds:?}"
    );
    // The orphan is still an error.
    assert_eq!(status(&output), ExitStatus::Leak.code());
}

#[test]
fn report_file_is_written_and_matches_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let output = on_fixture(
        "leaky",
        &[
            "--format",
            "json",
            "--report",
            path.to_str().unwrap(),
            "leaks_udp",
        ],
    );
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written, String::from_utf8_lossy(&output.stdout));
    assert_eq!(report_file(&path), json_report(&output));
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_missing_manifest_is_a_one_line_error_with_status_2() {
    let output = sockcheck(&["--manifest-path", "/nonexistent/Cargo.toml"]);
    assert_eq!(status(&output), ExitStatus::Error.code());
    let err = stderr(&output);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("/nonexistent/Cargo.toml"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let dir = tempfile::tempdir().unwrap();
    let output = sockcheck(&["--manifest-path", dir.path().to_str().unwrap()]);
    assert_eq!(status(&output), ExitStatus::Error.code());
    let err = stderr(&output);
    assert!(err.contains("is not a file"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn outside_a_cargo_project_is_a_one_line_error_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = sockcheck_command(&[])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(status(&output), ExitStatus::Error.code());
    let err = stderr(&output);
    assert!(
        err.starts_with("error: could not find `Cargo.toml`"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn an_unknown_flag_is_an_error_with_status_2() {
    let output = sockcheck(&["--frobnicate"]);
    assert_eq!(status(&output), ExitStatus::Error.code());
    assert!(stderr(&output).contains("--frobnicate"));
}

#[test]
fn a_build_failure_shows_cargo_s_errors_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), "fn broken( {}\n").unwrap();
    let manifest = dir.path().join("Cargo.toml");
    let output = sockcheck(&["--manifest-path", manifest.to_str().unwrap()]);
    assert_eq!(status(&output), ExitStatus::Error.code());
    let err = stderr(&output);
    assert!(err.contains("error: the build failed"), "{err}");
    assert!(
        err.contains("src/lib.rs"),
        "cargo's diagnostics are shown: {err}"
    );
}

#[test]
fn fast_mode_on_clean_tests_runs_each_binary_once() {
    let output = on_fixture("leaky", &["--format", "json", "--fast", "clean"]);
    let report = json_report(&output);
    assert_eq!(report.summary.passed, 4);
    assert_eq!(status(&output), ExitStatus::Clean.code());
    // Tests judged from a clean whole-binary run have no per-test timing.
    assert!(
        report.tests.iter().all(|t| t.duration_ms.is_none()),
        "{report:#?}"
    );
}
