//! End to end: verdicts that depend on timing — the linger at exit_group
//! and reruns that tell stable leaks from flaky ones.

mod common;

use cargo_sockcheck::ExitStatus;
use common::*;
use sockcheck::leak::{LeakKind, Severity, StabilityKind};

#[test]
fn a_listener_closed_shortly_after_the_test_is_clean_with_linger_and_a_leak_without() {
    let with_linger = on_fixture(
        "timing",
        &[
            "--format",
            "json",
            "--linger",
            "2000",
            "--exact",
            "closes_listener_100ms_after_return",
        ],
    );
    let report = json_report(&with_linger);
    assert_eq!(
        record(&report, "timing", "closes_listener_100ms_after_return").leaks,
        []
    );
    assert_eq!(status(&with_linger), ExitStatus::Clean.code());

    let without = on_fixture(
        "timing",
        &[
            "--format",
            "json",
            "--linger",
            "0",
            "--exact",
            "closes_listener_100ms_after_return",
        ],
    );
    let report = json_report(&without);
    let leaks = &record(&report, "timing", "closes_listener_100ms_after_return").leaks;
    let kinds: Vec<_> = leaks.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, [LeakKind::Listen]);
    assert_eq!(status(&without), ExitStatus::Leak.code());
}

#[test]
fn reruns_mark_leaks_stable_or_flaky_and_flaky_ones_only_warn() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = fixture("timing");
    let target = fixture_target_dir();
    let output = sockcheck_command(&[
        "--manifest-path",
        manifest.to_str().unwrap(),
        "--target-dir",
        target.to_str().unwrap(),
        "--format",
        "json",
        "--rerun-leaks",
        "2",
        "leaks_",
    ])
    .env("TIMING_MARKER", dir.path().join("ran"))
    .output()
    .unwrap();
    let report = json_report(&output);

    let stability = |name: &str| {
        let leaks = &record(&report, "timing", name).leaks;
        assert_eq!(leaks.len(), 1, "{name}: {leaks:?}");
        let s = leaks[0]
            .stability
            .expect("reruns give every leak a stability");
        (s.stability, s.runs_seen, s.runs, leaks[0].severity)
    };
    assert_eq!(
        stability("leaks_every_run"),
        (StabilityKind::Stable, 3, 3, Severity::Error)
    );
    assert_eq!(
        stability("leaks_on_first_run_only"),
        (StabilityKind::Flaky, 1, 3, Severity::Warning)
    );
    // The stable leak is an error: the gate fails.
    assert_eq!(
        status(&output),
        ExitStatus::Leak.code(),
        "{}",
        stderr(&output)
    );
    let json = String::from_utf8_lossy(&output.stdout);
    assert!(json.contains(r#""stability": "flaky""#), "{json}");
}
