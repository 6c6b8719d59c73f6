//! End to end: `cargo sockcheck` on the chaos fixture, whose tests crash,
//! hang, flood their output, fork daemons and leak thousands of sockets.
//! sockcheck must give each a verdict, leave no process behind, and keep
//! its reports valid whatever happens.

mod common;

use cargo_sockcheck::ExitStatus;
use common::*;
use sockcheck::leak::LeakKind;
use sockcheck::report::Outcome;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn chaos(args: &[&str], sleep_secs: &str) -> std::process::Command {
    let manifest = fixture("chaos");
    let target = fixture_target_dir();
    let mut command = sockcheck_command(&[
        "--manifest-path",
        manifest.to_str().unwrap(),
        "--target-dir",
        target.to_str().unwrap(),
        "--test",
        "chaos",
    ]);
    command
        .args(args)
        .env("CHAOS_SLEEP_SECS", tagged(sleep_secs));
    command
}

#[test]
fn every_misbehaving_test_gets_a_verdict_and_its_sockets_are_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("chaos.json");
    // Every test but the hanging one, with no timeout: how long the
    // 10,000-socket test takes on a loaded machine (2.4-2.7 s in this debug
    // build on an idle 2-CPU machine, past 6 s on a busy one) decides no
    // verdict. The hanging test runs alone below, where a timeout ends it.
    let output = chaos(
        &[
            "--skip",
            "hangs_with_a_child",
            "--report",
            report_path.to_str().unwrap(),
        ],
        "1001",
    )
    .output()
    .unwrap();
    assert_eq!(
        status(&output),
        ExitStatus::TestFailed.code(),
        "{}",
        stderr(&output)
    );
    let report = report_file(&report_path);
    let hang_path = dir.path().join("hang.json");
    let hang = chaos(
        &[
            "--exact",
            "hangs_with_a_child",
            "--timeout",
            "10",
            "--report",
            hang_path.to_str().unwrap(),
        ],
        "1001",
    )
    .output()
    .unwrap();
    assert_eq!(
        status(&hang),
        ExitStatus::TestFailed.code(),
        "{}",
        stderr(&hang)
    );
    let hang_report = report_file(&hang_path);

    let verdict_in = |report: &sockcheck::report::Report, name: &str| {
        let test = record(report, "chaos", name);
        let kinds: Vec<LeakKind> = test.leaks.iter().map(|l| l.kind).collect();
        (test.outcome, test.detail.clone().unwrap_or_default(), kinds)
    };
    let verdict = |name: &str| verdict_in(&report, name);
    let listen = vec![LeakKind::Listen];
    use Outcome::*;
    assert_eq!(
        verdict("segfaults_holding_a_listener"),
        (
            Crashed,
            "killed by signal 11 (SIGSEGV)".into(),
            listen.clone()
        )
    );
    assert_eq!(
        verdict("aborts_holding_a_listener"),
        (
            Crashed,
            "killed by signal 6 (SIGABRT)".into(),
            listen.clone()
        )
    );
    assert_eq!(
        verdict("killed_from_outside_holding_a_listener"),
        (
            Crashed,
            "killed by signal 9 (SIGKILL)".into(),
            listen.clone()
        )
    );
    assert_eq!(
        verdict("exits_zero_midway_holding_a_listener"),
        (
            Failed,
            "exited with status 0 before the test harness reported a result".into(),
            listen.clone()
        )
    );
    assert_eq!(
        verdict_in(&hang_report, "hangs_with_a_child"),
        (TimedOut, "timed out after 10s".into(), listen.clone())
    );
    // Every test of the fixture ran in one run or the other.
    assert_eq!((report.tests.len(), hang_report.tests.len()), (10, 1));
    assert_eq!(verdict("closes_stdout_and_stderr").2, listen);
    assert_eq!(
        verdict("double_forks_a_daemon"),
        (Passed, String::new(), vec![LeakKind::Orphan])
    );
    assert_eq!(verdict("passes"), (Passed, String::new(), vec![]));
    assert_eq!(
        verdict("prints_50_megabytes"),
        (Passed, String::new(), vec![])
    );

    // Output that is not UTF-8 is kept, replaced where invalid.
    let invalid = record(&report, "chaos", "prints_invalid_utf8_and_fails");
    assert_eq!(invalid.outcome, Failed);
    assert!(invalid
        .output
        .as_deref()
        .unwrap_or("")
        .contains("bytes \u{fffd}\u{fffd}\u{fffd} end"));

    // 10,000 sockets: all counted, and the terminal summarises them.
    let many = record(&report, "chaos", "leaks_10000_sockets");
    assert_eq!(
        many.leaks.len(),
        10_000,
        "{:?} {:?}",
        many.outcome,
        many.detail
    );
    assert!(many.leaks.iter().all(|l| l.kind == LeakKind::Udp));
    // Each names the one line that opened them all.
    let sites: std::collections::HashSet<_> = many
        .leaks
        .iter()
        .map(|l| {
            let site = l.opened.as_ref().and_then(|o| o.site.as_ref());
            site.and_then(|s| Some((s.file.clone()?, s.line?)))
        })
        .collect();
    let bind_line = fixture("chaos")
        .with_file_name("tests/chaos.rs")
        .to_str()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .and_then(|source| {
            let at = source.find("std::mem::forget(UdpSocket::bind(")?;
            Some(source[..at].lines().count() as u32)
        });
    assert_eq!(
        sites,
        std::collections::HashSet::from([Some(("tests/chaos.rs".to_owned(), bind_line.unwrap()))])
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("… and 9990 more (9990 udp)"), "{stdout}");
    assert!(stdout.lines().count() < 200, "the text report summarises");

    // Nothing sockcheck started is left: not the daemon, not the hung test's child.
    let daemon = &record(&report, "chaos", "double_forks_a_daemon").leaks[0];
    assert!(
        !process_alive(daemon.socket.pid),
        "daemon {} survived",
        daemon.socket.pid
    );
    assert_eq!(sleepers("1001"), Vec::<u32>::new());
}

#[test]
fn interrupting_the_run_kills_the_tests_and_writes_a_complete_report() {
    for (signal, name, sleep_secs) in [
        (libc::SIGINT, "SIGINT", "1002"),
        (libc::SIGTERM, "SIGTERM", "1003"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let report_path = dir.path().join("report.json");
        let mut child = chaos(
            &[
                "-j",
                "2",
                "--report",
                report_path.to_str().unwrap(),
                "--exact",
                "passes",
                "hangs_with_a_child",
            ],
            sleep_secs,
        )
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
        // Once `passes` has finished, the hanging test is running (2 at a time).
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        while !seen.contains("chaos::passes") {
            let mut line = String::new();
            assert_ne!(
                stderr.read_line(&mut line).unwrap(),
                0,
                "{name}: no progress seen:\n{seen}"
            );
            seen.push_str(&line);
        }
        // The hung test's child is up: found by its tag, so the check after
        // the kill can only pass by its death.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while sleepers(sleep_secs).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "{name}: the hung test's child never showed up"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // SAFETY: plain kill(2) of our own child.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let status = child.wait().unwrap();
        let expected = ExitStatus::Signal(signal).code();
        assert_eq!(status.code(), Some(expected), "{name}");

        let report = report_file(&report_path);
        assert!(
            report.interrupted,
            "{name}: the report says it was interrupted"
        );
        let names: Vec<_> = report.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["passes"], "{name}: finished tests only");
        assert_eq!(
            sleepers(sleep_secs),
            Vec::<u32>::new(),
            "{name}: the hung test's child was killed"
        );
    }
}

#[test]
fn two_runs_at_once_keep_their_results_apart() {
    let dir = tempfile::tempdir().unwrap();
    let paths = [dir.path().join("a.json"), dir.path().join("b.json")];
    let manifest = fixture("leaky");
    let target = fixture_target_dir();
    // Build first, so the two runs race on running, not on cargo's lock.
    assert!(matches!(
        status(&on_fixture("leaky", &["clean_no_sockets"])),
        0
    ));
    let children: Vec<_> = paths
        .iter()
        .map(|path| {
            sockcheck_command(&[
                "--manifest-path",
                manifest.to_str().unwrap(),
                "--target-dir",
                target.to_str().unwrap(),
                "--report",
                path.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
        })
        .collect();
    for mut child in children {
        assert_eq!(
            child.wait().unwrap().code(),
            Some(ExitStatus::TestFailed.code())
        );
    }
    let [a, b] = paths.map(|p| verdicts(&report_file(&p)));
    assert_eq!(a.len(), 13);
    assert_eq!(a, b);
}

#[test]
fn a_binary_that_is_not_a_libtest_harness_is_a_clear_error() {
    let manifest = fixture("chaos");
    let target = fixture_target_dir();
    let output = sockcheck(&[
        "--manifest-path",
        manifest.to_str().unwrap(),
        "--target-dir",
        target.to_str().unwrap(),
        "--test",
        "not_libtest",
    ]);
    assert_eq!(status(&output), ExitStatus::Error.code());
    let err = stderr(&output);
    assert!(
        err.contains("error: cannot list the tests of `not_libtest`")
            && err.contains("Hello from a custom harness!"),
        "{err}"
    );
}

#[test]
fn a_report_path_in_a_missing_directory_fails_before_any_test_runs() {
    // A directory that cannot be made (its parent is a file): a missing
    // one that can be is made (4a7c987), and as root it would be.
    let output = on_fixture("leaky", &["--report", "/dev/null/report.json"]);
    assert_eq!(status(&output), ExitStatus::Error.code());
    let err = stderr(&output);
    assert!(
        err.starts_with("error: cannot write the report to /dev/null/report.json"),
        "{err}"
    );
    assert!(!err.contains("running"), "no test ran: {err}");
}

/// One socket call the shim (`socket_calls/shim.c`) recorded:
/// `PID TID CALL A B C`, the arguments as the shim writes them.
#[derive(Debug, PartialEq)]
struct Call {
    pid: u32,
    tid: u32,
    call: String,
    args: [i64; 3],
}

/// The shim and its control program (`socket_calls/`), built with cc into
/// `dir`.
fn build_shim(dir: &Path) -> (PathBuf, PathBuf) {
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/socket_calls");
    let shim = dir.join("shim.so");
    let control = dir.join("control");
    let builds: [(&Path, &[&str]); 2] = [
        (&shim, &["-shared", "-fPIC", "shim.c", "-ldl"]),
        (&control, &["-pthread", "control.c"]),
    ];
    for (output, args) in builds {
        let built = std::process::Command::new("cc")
            .current_dir(&sources)
            .args(["-O2", "-Wall", "-Werror", "-o"])
            .arg(output)
            .args(args)
            .status()
            .expect("cc is installed (the Rust toolchain links with it)");
        assert!(built.success(), "cc {args:?}");
    }
    (shim, control)
}

/// The socket calls of `command`'s own process, from every thread of it,
/// run with the shim (not its children: the shim leaves them alone), and
/// how it exited.
fn own_socket_calls(shim: &Path, mut command: std::process::Command) -> (Vec<Call>, i32) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.txt");
    let child = command
        .env("LD_PRELOAD", shim)
        .env("SOCKET_CALLS_LOG", &log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let status = child
        .wait_with_output()
        .unwrap()
        .status
        .code()
        .unwrap_or(-1);
    let lines = std::fs::read_to_string(&log).unwrap_or_default();
    let calls: Vec<Call> = lines
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let number = |i: usize| fields[i].parse::<i64>().unwrap();
            Call {
                pid: fields[0].parse().unwrap(),
                tid: fields[1].parse().unwrap(),
                call: fields[2].to_owned(),
                args: [number(3), number(4), number(5)],
            }
        })
        .collect();
    // Only the process started is recorded: the shim is not inherited.
    assert!(calls.iter().all(|c| c.pid == pid), "{pid}: {lines}");
    (calls, status)
}

/// `cargo sockcheck` on the tests `names` of fixture `project`.
fn sockcheck_on(project: &str, names: &[&str]) -> std::process::Command {
    let manifest = fixture(project);
    let target = fixture_target_dir();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cargo-sockcheck"));
    command
        .args(["sockcheck", "--manifest-path", manifest.to_str().unwrap()])
        .args(["--target-dir", target.to_str().unwrap()])
        .args(names);
    command
}

/// sockcheck reads sockets through /proc and the sockets' own fds: no
/// thread of it (the tracer, its helper threads, those that build) ever
/// makes, connects, binds or accepts a network socket. std's process
/// spawning may use a unix socketpair, which is fine; and sockcheck asks
/// the kernel's sock_diag, through `NETLINK_SOCK_DIAG` sockets that reach
/// the kernel only, for the peer of each connected unix socket (to tell a
/// socketpair the test process holds both ends of, plumbing, from a
/// connection to another process) and for a connecting test's connections
/// left in TIME_WAIT (the port findings). What every thread calls is recorded by
/// an LD_PRELOAD shim (strace -f would take the children sockcheck traces
/// itself); its control program, and the sock_diag socket sockcheck opens
/// in the second run, show that it records what it must.
#[test]
fn sockcheck_opens_no_socket_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (shim, control) = build_shim(dir.path());
    let (af_unix, af_inet, af_netlink) = (1, 2, 16);
    let netlink_sock_diag = 4;

    // The control: a thread's calls are recorded, a forked child's and an
    // exec'd child's are not.
    let (calls, status) = own_socket_calls(&shim, std::process::Command::new(&control));
    assert_eq!(status, 0);
    let seen: Vec<(&str, [i64; 3])> = calls.iter().map(|c| (c.call.as_str(), c.args)).collect();
    assert_eq!(
        seen,
        [
            ("socket", [af_inet, libc::SOCK_DGRAM as i64, 0]),
            ("connect", [af_inet, 3, 0]),
            (
                "syscall",
                [libc::SYS_socket, af_unix, libc::SOCK_STREAM as i64]
            ),
        ],
        "{calls:?}"
    );
    assert!(calls.iter().all(|c| c.tid != c.pid), "{calls:?}");

    let allowed = |c: &Call| match c.call.as_str() {
        "socket" | "socketpair" if c.args[0] == af_unix => true,
        "socket" => c.args[0] == af_netlink && c.args[2] == netlink_sock_diag,
        _ => false,
    };
    let (calls, status) = own_socket_calls(
        &shim,
        sockcheck_on("leaky", &["leaks_udp", "leaks_close_wait_ipv4"]),
    );
    assert_eq!(status, ExitStatus::Leak.code());
    let network: Vec<&Call> = calls.iter().filter(|c| !allowed(c)).collect();
    assert!(network.is_empty(), "{network:?}");

    // A test keeping a socketpair: a sock_diag socket, nothing else.
    let (calls, status) = own_socket_calls(
        &shim,
        sockcheck_on("unixsock", &["clean_process_wide_socketpair"]),
    );
    assert_eq!(status, ExitStatus::Clean.code());
    let network: Vec<&Call> = calls.iter().filter(|c| !allowed(c)).collect();
    assert!(network.is_empty(), "{network:?}");
    // The positive control in sockcheck's own process: the shim saw the
    // sock_diag socket the peer lookup needs.
    assert!(
        calls
            .iter()
            .any(|c| c.call == "socket" && c.args[0] == af_netlink),
        "{calls:?}"
    );
}

/// Where sockcheck may not trace (here: it is itself traced by `strace -f`,
/// which takes its children first), it says so and how to fix it, exit 2.
#[test]
fn ptrace_refused_is_a_clear_error_with_status_2() {
    let manifest = fixture("leaky");
    let target = fixture_target_dir();
    let output = std::process::Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=none", "-o", "/dev/null"])
        .arg(env!("CARGO_BIN_EXE_cargo-sockcheck"))
        .args(["sockcheck", "--manifest-path", manifest.to_str().unwrap()])
        .args(["--target-dir", target.to_str().unwrap(), "clean_no_sockets"])
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("strace is installed (.ci/run installs it)");
    assert_eq!(status(&output), ExitStatus::Error.code());
    let err = stderr(&output);
    assert!(
        err.contains("Operation not permitted") && err.contains("--cap-add=SYS_PTRACE"),
        "{err}"
    );
}
