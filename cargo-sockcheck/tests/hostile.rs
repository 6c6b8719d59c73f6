//! End to end: a test cannot hide a leak from the tracer (issue 21). The
//! built `cargo sockcheck` on the hostile fixture, whose tests each leak a
//! listener and try a way out: a child cloned with `CLONE_UNTRACED`, a
//! process ending without `exit_group` (from a signal handler, or with
//! `exit_group` refused by the test's own seccomp filter), a thread with its
//! own fd table, `PTRACE_TRACEME` in a child, vfork+exec of a leaking
//! program, closing every fd, SIGSTOP to itself, killing sockcheck. Each is
//! reported with its leak, or sockcheck's own death fails the run; nothing
//! the tests started is left running (read from `/proc`).

mod common;

use common::*;
use sockcheck::leak::{LeakKind, Severity};
use sockcheck::report::Outcome;
use std::os::unix::process::{CommandExt, ExitStatusExt};

/// `(test, kind)`: the test's one leak, an error of this kind.
const LEAKS: [(&str, LeakKind); 8] = [
    ("untraced_child_keeps_a_listener", LeakKind::Listen),
    ("ends_without_exit_group", LeakKind::Listen),
    ("exit_group_refused_by_its_own_filter", LeakKind::Listen),
    ("binds_in_a_thread_with_its_own_fd_table", LeakKind::Listen),
    ("child_asks_to_be_traced", LeakKind::Orphan),
    ("vfork_exec_of_a_leaking_program", LeakKind::Orphan),
    ("closes_every_fd", LeakKind::Listen),
    ("stops_itself", LeakKind::Listen),
];

/// The processes running one of the hostile fixture's programs (its test
/// binary or its server), read from `/proc/*/exe`.
fn hostile_processes() -> Vec<(u32, String)> {
    let programs = fixture_target_dir().join("debug");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let exe = std::fs::read_link(entry.path().join("exe")).ok()?;
            let name = exe.file_name()?.to_str()?.to_owned();
            (exe.starts_with(&programs) && name.starts_with("hostile") && process_alive(pid))
                .then_some((pid, exe.display().to_string()))
        })
        .collect()
}

#[test]
fn every_way_out_is_reported_and_nothing_is_left_running() {
    let output = on_fixture("hostile", &["--format", "json", "--timeout", "30"]);
    let report = json_report(&output);
    let err = stderr(&output);
    for (test, kind) in LEAKS {
        let record = record(&report, "hostile", test);
        let leaks: Vec<(LeakKind, Severity)> = record
            .leaks
            .iter()
            .map(|leak| (leak.kind, leak.severity))
            .collect();
        assert_eq!(
            leaks,
            [(kind, Severity::Error)],
            "{test}: {record:#?}\n{err}"
        );
        assert_ne!(record.outcome, Outcome::TimedOut, "{test}: {record:#?}");
    }
    // Non-dumpable: read as root; as anyone else, failed as unreadable
    // (never a pass, never the end of the run).
    let hidden = record(&report, "hostile", "makes_itself_non_dumpable");
    let leaks: Vec<LeakKind> = hidden.leaks.iter().map(|leak| leak.kind).collect();
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(leaks, [LeakKind::Listen], "{hidden:#?}");
    } else {
        assert_eq!(hidden.outcome, Outcome::Failed, "{hidden:#?}");
        let detail = hidden.detail.as_deref().unwrap_or_default();
        assert!(detail.starts_with("unreadable: "), "{hidden:#?}");
    }
    // The process that ended without exit_group also failed libtest's way.
    let ended = record(&report, "hostile", "ends_without_exit_group");
    assert_eq!(ended.outcome, Outcome::Failed, "{ended:#?}");
    assert_eq!(status(&output), 101, "{err}");
    assert_eq!(hostile_processes(), [], "left running after the run");

    // A test that kills sockcheck (and its process group) ends the run
    // with that signal, loudly: no report, and its tracees die with it.
    let killed = on_fixture_command(
        "hostile",
        &["--format", "json", "--ignored", "kills_sockcheck"],
    )
    .process_group(0)
    .output()
    .expect("run cargo-sockcheck");
    assert_eq!(
        killed.status.signal(),
        Some(libc::SIGKILL),
        "{:?}\n{}",
        killed.status,
        stderr(&killed)
    );
    assert!(killed.stdout.is_empty(), "no report from a killed run");
    // PTRACE_O_EXITKILL: the tracer's death kills its tracees. They are
    // reaped by init, so the look waits (bounded) for them to go.
    let mut left = hostile_processes();
    for _ in 0..500 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        left = hostile_processes();
    }
    assert_eq!(left, [], "left running after sockcheck was killed");
}
