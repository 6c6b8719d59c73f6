//! End to end: documented settings on real runs, each checked against the
//! run without it (a positive control), so that removing the behaviour
//! fails a test: `flaky = "deny"`, `--no-known-pools`, `--deny` and its
//! precedence over `--warn`, `--lib`, `--bins`, `--all-features`,
//! `--no-default-features`, `--features`, `--include-ignored`, `--release`,
//! a configuration's `include`, `known-pools = false` and a port finding
//! kind's `[levels]`, the `-j` default, and a connection reset by its peer.

mod common;

use cargo_sockcheck::ExitStatus;
use common::*;
use sockcheck::leak::{LeakKind, Severity, StabilityKind};
use sockcheck::ports::PortFindingKind;
use sockcheck::report::{Outcome, Report};

/// `(kind, severity)` of each leak of `binary::name`.
fn leaks(report: &Report, binary: &str, name: &str) -> Vec<(LeakKind, Severity)> {
    record(report, binary, name)
        .leaks
        .iter()
        .map(|leak| (leak.kind, leak.severity))
        .collect()
}

/// Every test's `binary::name` in the report, sorted.
fn names(report: &Report) -> Vec<String> {
    let mut names: Vec<String> = report.tests.iter().map(|t| t.full_name()).collect();
    names.sort();
    names
}

#[test]
fn flaky_deny_makes_a_leak_seen_in_only_some_runs_an_error() {
    let copy = LeakyCopy::of("timing");
    let run = |copy: &LeakyCopy| {
        // Leaks in the first run only: the marker file remembers it ran.
        let marker = tempfile::tempdir().unwrap();
        let mut command = on_project_command(
            &copy.path("Cargo.toml"),
            &copy.path("target"),
            &[
                "--format",
                "json",
                "--rerun-leaks",
                "2",
                "leaks_on_first_run_only",
            ],
        );
        let output = command
            .env("TIMING_MARKER", marker.path().join("ran"))
            .output()
            .unwrap();
        let report = json_report(&output);
        let leak = &record(&report, "timing", "leaks_on_first_run_only").leaks;
        assert_eq!(leak.len(), 1, "{}", stderr(&output));
        let stability = leak[0].stability.expect("a rerun's stability");
        assert_eq!(
            (stability.stability, stability.runs_seen, stability.runs),
            (StabilityKind::Flaky, 1, 3)
        );
        (leak[0].severity, status(&output))
    };
    // By default a flaky leak only warns.
    assert_eq!(run(&copy), (Severity::Warning, ExitStatus::Clean.code()));
    copy.write("sockcheck.toml", "flaky = \"deny\"\n");
    assert_eq!(run(&copy), (Severity::Error, ExitStatus::Leak.code()));
}

#[test]
fn no_known_pools_reports_the_listener_of_a_known_pool() {
    // The pooled fixture's server pool, as a crate named `httptest`: its
    // functions (`httptest::server_pool::*`) are the ones the built-in
    // rule for httptest's ServerPool allows. Without the fixture's own
    // sockcheck.toml, only the known pools allow it.
    let copy = LeakyCopy::of("pooled");
    copy.append("Cargo.toml", "[lib]\nname = \"httptest\"\n");
    copy.replace(
        "tests/pool.rs",
        "use pooled::server_pool;",
        "use httptest::server_pool;",
    );
    let args = ["--format", "json", "--exact", "uses_the_pool"];
    let output = copy.sockcheck(&args);
    let report = json_report(&output);
    let test = record(&report, "pool", "uses_the_pool");
    assert_eq!(test.leaks, [], "{}", stderr(&output));
    assert_eq!(test.allowed.len(), 1, "{test:#?}");
    assert_eq!(test.allowed[0].rule, "function httptest::server_pool::*");
    assert_eq!(status(&output), ExitStatus::Clean.code());

    let output = copy.sockcheck(&[&args[..], &["--no-known-pools"]].concat());
    let report = json_report(&output);
    assert_eq!(
        leaks(&report, "pool", "uses_the_pool"),
        [(LeakKind::Listen, Severity::Error)],
        "{}",
        stderr(&output)
    );
    assert_eq!(record(&report, "pool", "uses_the_pool").allowed, []);
    assert_eq!(status(&output), ExitStatus::Leak.code());

    // `known-pools = false` in the configuration says the same.
    copy.write("sockcheck.toml", "known-pools = false\n");
    let output = copy.sockcheck(&args);
    assert_eq!(
        leaks(&json_report(&output), "pool", "uses_the_pool"),
        [(LeakKind::Listen, Severity::Error)],
        "{}",
        stderr(&output)
    );
    assert_eq!(status(&output), ExitStatus::Leak.code());
}

#[test]
fn a_port_finding_kind_s_level_in_the_configuration_gates_the_run() {
    let copy = LeakyCopy::of("ports");
    let run = || {
        let output = copy.sockcheck(&["--format", "json", "--exact", "churns_50_connections"]);
        let report = json_report(&output);
        let findings: Vec<(PortFindingKind, Option<Severity>)> =
            record(&report, "ports", "churns_50_connections")
                .port_findings
                .iter()
                .map(|f| (f.kind(), f.severity))
                .collect();
        (findings, status(&output))
    };
    copy.write("sockcheck.toml", "churn-threshold = 10\n");
    assert_eq!(
        run(),
        (
            vec![(PortFindingKind::PortChurn, Some(Severity::Warning))],
            ExitStatus::Clean.code()
        )
    );
    copy.write(
        "sockcheck.toml",
        "churn-threshold = 10\n[levels]\nport-churn = \"deny\"\n",
    );
    assert_eq!(
        run(),
        (
            vec![(PortFindingKind::PortChurn, Some(Severity::Error))],
            ExitStatus::Leak.code()
        )
    );
}

#[test]
fn deny_makes_a_warning_an_error_and_wins_over_warn_in_either_order() {
    let run = |flags: &[&str]| {
        let args = [&["--format", "json", "--exact", "leaks_udp"], flags].concat();
        let output = on_fixture("leaky", &args);
        let report = json_report(&output);
        (leaks(&report, "net", "leaks_udp"), status(&output))
    };
    let udp = |severity| vec![(LeakKind::Udp, severity)];
    assert_eq!(run(&[]), (udp(Severity::Warning), ExitStatus::Clean.code()));
    let denied = (udp(Severity::Error), ExitStatus::Leak.code());
    assert_eq!(run(&["--deny", "udp"]), denied);
    assert_eq!(run(&["--warn", "udp", "--deny", "udp"]), denied);
    assert_eq!(run(&["--deny", "udp", "--warn", "udp"]), denied);
}

#[test]
fn lib_and_bins_run_only_those_targets_tests() {
    let output = on_fixture("leaky", &["--format", "json", "--lib"]);
    let report = json_report(&output);
    assert_eq!(
        names(&report),
        [
            "leaky::tests::unit_clean",
            "leaky::tests::unit_leaks_listener"
        ],
        "{}",
        stderr(&output)
    );
    assert_eq!(status(&output), ExitStatus::Leak.code());

    // The fixture's one binary target has no tests: none run (without
    // --bins, every test of the fixture would).
    let output = on_fixture(
        "leaky",
        &["--format", "json", "--bins", "--no-tests", "pass"],
    );
    let report = json_report(&output);
    assert_eq!(names(&report), Vec::<String>::new());
    assert!(
        stderr(&output).contains("sockcheck: running 0 tests "),
        "{}",
        stderr(&output)
    );
    assert_eq!(status(&output), ExitStatus::Clean.code());
}

#[test]
fn feature_flags_reach_cargo() {
    let copy = LeakyCopy::new();
    copy.append(
        "Cargo.toml",
        "[features]\ndefault = [\"usual\"]\nusual = []\nextra = []\n",
    );
    copy.append(
        "tests/net.rs",
        "#[cfg(feature = \"extra\")]\n#[test]\nfn only_with_extra() {}\n\n\
         #[cfg(not(feature = \"usual\"))]\n#[test]\nfn only_without_usual() {}\n",
    );
    let run = |flags: &[&str]| {
        let args = [&["--format", "json", "only_"], flags].concat();
        let output = copy.sockcheck(&args);
        assert_eq!(
            status(&output),
            ExitStatus::Clean.code(),
            "{}",
            stderr(&output)
        );
        names(&json_report(&output))
    };
    assert_eq!(run(&["--no-tests", "pass"]), Vec::<String>::new());
    assert_eq!(run(&["--all-features"]), ["net::only_with_extra"]);
    assert_eq!(run(&["--no-default-features"]), ["net::only_without_usual"]);
    assert_eq!(run(&["--features", "extra"]), ["net::only_with_extra"]);
}

#[test]
fn include_ignored_runs_the_ignored_tests_with_the_others() {
    let args = [
        "--format",
        "json",
        "--exact",
        "clean_no_sockets",
        "ignored_leaks_close_wait",
    ];
    let ignored = json_report(&on_fixture("leaky", &args));
    assert_eq!(
        record(&ignored, "net", "ignored_leaks_close_wait").outcome,
        Outcome::Ignored
    );
    let output = on_fixture("leaky", &[&args[..], &["--include-ignored"]].concat());
    assert_eq!(
        verdicts(&json_report(&output)),
        [
            ("net::clean_no_sockets".to_owned(), Outcome::Passed, vec![]),
            (
                "net::ignored_leaks_close_wait".to_owned(),
                Outcome::Passed,
                vec!["close-wait:error".to_owned()]
            ),
        ],
        "{}",
        stderr(&output)
    );
    assert_eq!(status(&output), ExitStatus::Leak.code());
}

#[test]
fn release_builds_the_tests_without_debug_assertions() {
    let copy = LeakyCopy::new();
    copy.append(
        "tests/net.rs",
        "#[cfg(not(debug_assertions))]\n#[test]\nfn only_in_release() {}\n",
    );
    let run = |flags: &[&str]| {
        let args = [
            &["--format", "json", "--no-tests", "pass", "only_in_release"],
            flags,
        ]
        .concat();
        let output = copy.sockcheck(&args);
        assert_eq!(
            status(&output),
            ExitStatus::Clean.code(),
            "{}",
            stderr(&output)
        );
        names(&json_report(&output))
    };
    assert_eq!(run(&[]), Vec::<String>::new());
    assert_eq!(run(&["--release"]), ["net::only_in_release"]);
}

#[test]
fn a_configuration_s_include_is_read_on_a_real_run() {
    let copy = LeakyCopy::new();
    let udp = || {
        let output = copy.sockcheck(&["--format", "json", "--exact", "leaks_udp"]);
        (
            leaks(&json_report(&output), "net", "leaks_udp"),
            status(&output),
        )
    };
    assert_eq!(
        udp(),
        (
            vec![(LeakKind::Udp, Severity::Warning)],
            ExitStatus::Clean.code()
        )
    );
    std::fs::create_dir_all(copy.path("ci")).unwrap();
    copy.write("ci/shared.toml", "[levels]\nudp = \"deny\"\n");
    copy.write("sockcheck.toml", "include = [\"ci/shared.toml\"]\n");
    assert_eq!(
        udp(),
        (
            vec![(LeakKind::Udp, Severity::Error)],
            ExitStatus::Leak.code()
        )
    );
}

#[test]
fn jobs_default_to_one_more_than_the_cpus() {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let output = on_fixture("leaky", &["--exact", "clean_no_sockets"]);
    assert_eq!(status(&output), ExitStatus::Clean.code());
    let line = format!(
        "sockcheck: running 1 test from 1 binary ({} at a time)",
        cpus + 1
    );
    assert!(stderr(&output).contains(&line), "{}", stderr(&output));
    // -j says otherwise.
    let output = on_fixture("leaky", &["--exact", "clean_no_sockets", "-j", "7"]);
    assert!(
        stderr(&output).contains("running 1 test from 1 binary (7 at a time)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_connection_reset_by_its_peer_is_a_reset_leak() {
    let copy = LeakyCopy::new();
    copy.append(
        "tests/net.rs",
        "/// The server closes with a byte unread, so the kernel resets the\n\
         /// connection; the client keeps its socket, now in state CLOSE.\n\
         #[test]\n\
         fn leaks_reset_connection() {\n    \
             use std::io::{Read, Write};\n    \
             let listener = TcpListener::bind(\"127.0.0.1:0\").unwrap();\n    \
             let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();\n    \
             let (server, _) = listener.accept().unwrap();\n    \
             client.write_all(b\"x\").unwrap();\n    \
             server.peek(&mut [0]).unwrap();\n    \
             drop(server);\n    \
             let error = client.read(&mut [0]).unwrap_err();\n    \
             assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);\n    \
             std::mem::forget(client);\n\
         }\n",
    );
    let output = copy.sockcheck(&["--format", "json", "--exact", "leaks_reset_connection"]);
    let report = json_report(&output);
    let test = record(&report, "net", "leaks_reset_connection");
    assert_eq!(
        test.outcome,
        sockcheck::report::Outcome::Passed,
        "{test:#?}"
    );
    let found: Vec<(LeakKind, Severity, String)> = test
        .leaks
        .iter()
        .map(|l| (l.kind, l.severity, l.socket.state.to_string()))
        .collect();
    assert_eq!(
        found,
        [(LeakKind::Reset, Severity::Warning, "CLOSE".to_owned())],
        "{}",
        stderr(&output)
    );
    // A warning does not fail the gate.
    assert_eq!(status(&output), ExitStatus::Clean.code());
}
