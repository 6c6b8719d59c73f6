//! `--fast` against one process per test, on every fixture project: each
//! is run both ways and must get the same verdict for every test (outcome,
//! leaks and their severities), the same allowed sockets per test and the
//! same totals. A binary whose whole run leaves any socket open, allowed
//! or not, is rerun one test per process, so a test that leaks alone is
//! never passed because another test made the socket first.

mod common;

use common::*;
use sockcheck::report::{Outcome, Report};
use std::process::Command;

/// What must agree between the two modes: per test, its verdict and how
/// many sockets were allowed; and the totals.
type Comparable = (Vec<(String, Outcome, Vec<String>, usize)>, String);

fn comparable(report: &Report) -> Comparable {
    let rows = verdicts(report)
        .into_iter()
        .map(|(name, outcome, kinds)| {
            let test = report
                .tests
                .iter()
                .find(|t| t.full_name() == name)
                .expect("a verdict's test");
            (name, outcome, kinds, test.allowed.len())
        })
        .collect();
    (rows, format!("{:?}", report.summary))
}

/// Runs `fixture` with `args` per test and with `--fast`, each from the
/// command `make` gives, and compares; returns the per-test report.
fn same_both_ways(fixture: &str, args: &[&str], make: impl Fn(&[&str]) -> Command) -> Report {
    let per_test = [&["--format", "json"][..], args].concat();
    let fast = [&["--format", "json", "--fast"][..], args].concat();
    let per_test_output = make(&per_test).output().unwrap();
    let fast_output = make(&fast).output().unwrap();
    let per_test_report = json_report(&per_test_output);
    let fast_report = json_report(&fast_output);
    assert_eq!(
        comparable(&fast_report),
        comparable(&per_test_report),
        "{fixture} {args:?}: --fast (left) and per test (right) disagree"
    );
    assert_eq!(
        status(&fast_output),
        status(&per_test_output),
        "{fixture}: the exit statuses differ\n{}",
        stderr(&fast_output)
    );
    per_test_report
}

fn on(fixture: &str) -> impl Fn(&[&str]) -> Command + '_ {
    move |args| on_fixture_command(fixture, args)
}

#[test]
fn leaky() {
    let report = same_both_ways("leaky", &[], on("leaky"));
    assert!(report.summary.errors > 0 && report.summary.failed > 0);
}

#[test]
fn pooled() {
    same_both_ways("pooled", &[], on("pooled"));
}

/// Only the tests that use the pool: the whole binary leaks nothing, but
/// leaves the pool's allowed listeners open, which are counted per test
/// (2 + 1 here; the whole process kept fewer, shared between tests).
#[test]
fn pooled_without_a_leak() {
    let report = same_both_ways("pooled", &["uses_"], on("pooled"));
    assert_eq!(
        (report.summary.errors, report.summary.allowed),
        (0, 3),
        "{report:#?}"
    );
}

#[test]
fn sites() {
    same_both_ways("sites", &[], on("sites"));
}

/// Tests that share one server made by the first of them, pools of
/// dependencies, a declared pool with a leak beside it.
#[test]
fn shared() {
    same_both_ways("shared", &[], on("shared"));
}

/// Only the tests that share the server: whichever test makes it, each
/// gets the verdict it gets alone.
#[test]
fn shared_server_only() {
    same_both_ways("shared", &["_uses_the_shared_server"], on("shared"));
}

#[test]
fn unixsock() {
    same_both_ways("unixsock", &[], on("unixsock"));
}

/// The timing fixture's `leaks_on_first_run_only` leaks the first time it
/// runs against its marker file, and `--fast` runs a leaking binary's
/// tests twice (whole, then alone): the marker is made beforehand, so
/// both modes judge a run that is not the first. Its listener closed
/// 100 ms after the test returns is judged with a linger of 2 s, so that
/// a busy machine does not decide its verdict in one mode and not the
/// other.
#[test]
fn timing() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    std::fs::write(&marker, "").unwrap();
    same_both_ways("timing", &["--linger", "2000"], |args| {
        let mut command = on_fixture_command("timing", args);
        command.env("TIMING_MARKER", &marker);
        command
    });
}

/// Crashes, a hang (ended by the timeout), daemons, 10,000 sockets. Only
/// the `chaos` binary: the fixture's other one is not a libtest binary on
/// purpose. As in chaos.rs, every test but the hanging one runs with no
/// timeout (how long the 10,000-socket test takes on a busy machine must
/// decide no verdict), and the hanging test runs alone, ended by one.
#[test]
fn chaos() {
    let tagged = |args: &[&str]| {
        let mut command = on_fixture_command("chaos", args);
        // Tagged as chaos.rs tags its leftover process, so no other run
        // of these tests on the host finds ours.
        command.env("CHAOS_SLEEP_SECS", format!("1009.{}", std::process::id()));
        command
    };
    let report = same_both_ways(
        "chaos",
        &["--test", "chaos", "--skip", "hangs_with_a_child"],
        tagged,
    );
    assert!(report.summary.failed > 0);
    let hang = same_both_ways(
        "chaos",
        &[
            "--test",
            "chaos",
            "--exact",
            "hangs_with_a_child",
            "--timeout",
            "10",
        ],
        tagged,
    );
    let outcomes: Vec<_> = verdicts(&hang)
        .into_iter()
        .map(|(name, outcome, _)| (name, outcome))
        .collect();
    assert_eq!(
        outcomes,
        [("chaos::hangs_with_a_child".to_owned(), Outcome::TimedOut)]
    );
}
