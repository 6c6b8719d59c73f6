//! End to end: "cannot assign requested address", explained. The built
//! `cargo sockcheck exec` runs a workload that exhausts the ephemeral port
//! range for real: in a network namespace of its own (`unshare -n`) whose
//! range is four ports (`ip_local_port_range`, a per-namespace setting) and
//! where TIME_WAIT ports are not reused (`tcp_tw_reuse` 0), it makes
//! loopback connections, closing each client first, until `connect` fails
//! with `EADDRNOTAVAIL`. In another, a server closes first, so its listening
//! port stays in TIME_WAIT, and a socket without `SO_REUSEADDR` binds that
//! port again: `EADDRINUSE` with only TIME_WAIT holding it. The workloads
//! are this test binary itself, run with [`WORKLOAD`] set to their name.
//!
//! A `harness = false` target on sockcheck's own harness, so that where a
//! network namespace cannot be made (no `CAP_SYS_ADMIN`, no `unshare` or
//! `ip`) the trial is reported ignored, never "ok".

mod common;

use common::*;
use sockcheck::harness::{Failed, Harness, Trial};
use sockcheck::ports::{PortFindingKind, PortHolder, PortProblem};
use sockcheck::report::{Outcome, TestRecord};
use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::process::Command;

/// Set in the environment of this binary when it runs as the workload.
const WORKLOAD: &str = "SOCKCHECK_EXHAUSTION_WORKLOAD";

/// What the namespace is set up with before `exec "$@"`.
const SETUP: &str = "ip link set lo up \
    && echo '40000 40003' > /proc/sys/net/ipv4/ip_local_port_range \
    && echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse \
    && exec \"$@\"";

fn main() {
    match std::env::var(WORKLOAD).as_deref() {
        Ok("exhaust") => std::process::exit(exhaust()),
        Ok("rebind") => std::process::exit(rebind()),
        _ => {}
    }
    let cannot = !can_make_a_network_namespace();
    Harness::new().main(vec![
        Trial::test(
            "an_exhausted_range_names_the_run_s_time_wait_and_who_made_it",
            an_exhausted_range_names_the_run_s_time_wait_and_who_made_it,
        )
        .with_ignored_flag(cannot),
        Trial::test(
            "a_port_held_only_by_time_wait_says_so_reuseaddr_is_the_fix",
            a_port_held_only_by_time_wait_says_so_reuseaddr_is_the_fix,
        )
        .with_ignored_flag(cannot),
    ]);
}

/// The port the rebind workload serves on, then binds again.
const REBOUND_PORT: u16 = 7000;

/// The rebind workload: a server on [`REBOUND_PORT`] that closes its one
/// connection first (the TIME_WAIT is on its port), then a socket without
/// `SO_REUSEADDR` bound to that port. 1 when that bind failed with
/// `EADDRINUSE`, as expected; 2 for anything else.
fn rebind() -> i32 {
    let listener = TcpListener::bind(("127.0.0.1", REBOUND_PORT)).expect("a listener");
    let client = TcpStream::connect(("127.0.0.1", REBOUND_PORT)).expect("a connection");
    let (server, _) = listener.accept().expect("the connection");
    drop(server);
    drop(listener);
    drop(client);
    // SAFETY: plain syscalls on a socket this function owns and closes.
    let (rc, error) = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let address = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: REBOUND_PORT.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::bind(
            fd,
            std::ptr::from_ref(&address).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        let error = std::io::Error::last_os_error();
        libc::close(fd);
        (rc, error)
    };
    if rc < 0 && error.kind() == ErrorKind::AddrInUse {
        eprintln!("bind failed as expected: {error}");
        return 1;
    }
    eprintln!("bind returned {rc} ({error})");
    2
}

/// The workload: connects until the range is exhausted, each client
/// closing first (a TIME_WAIT per connection). 1 when `connect` failed
/// with `EADDRNOTAVAIL`, as expected; 2 for anything else.
fn exhaust() -> i32 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let address = listener.local_addr().expect("its address");
    for _ in 0..16 {
        match TcpStream::connect(address) {
            Ok(client) => {
                let (server, _) = listener.accept().expect("the connection");
                drop(client);
                drop(server);
            }
            Err(e) if e.kind() == ErrorKind::AddrNotAvailable => {
                eprintln!("connect failed as expected: {e}");
                return 1;
            }
            Err(e) => {
                eprintln!("connect failed otherwise: {e}");
                return 2;
            }
        }
    }
    eprintln!("the range was never exhausted");
    2
}

/// True when `unshare -n` can make a namespace whose loopback and port
/// range this process may set.
fn can_make_a_network_namespace() -> bool {
    Command::new("unshare")
        .args(["-n", "sh", "-c", SETUP, "sh", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The record of `workload` (this binary) run under `cargo sockcheck exec`
/// in a namespace of its own, after checking that it failed as expected.
fn run_in_a_namespace(workload: &str) -> Result<TestRecord, Failed> {
    let dir = tempfile::tempdir()?;
    let report = dir.path().join("report.json");
    let output = Command::new("unshare")
        .args(["-n", "sh", "-c", SETUP, "sh"])
        .arg(env!("CARGO_BIN_EXE_cargo-sockcheck"))
        .args(["sockcheck", "exec", "--report"])
        .arg(&report)
        .arg("--")
        .arg(std::env::current_exe()?)
        .env(WORKLOAD, workload)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("failed as expected"),
        "the {workload} workload did not fail as it should:\n{stderr}"
    );
    let report = report_file(&report);
    let [test] = report.tests.as_slice() else {
        panic!("one record: {:#?}", report.tests);
    };
    assert_eq!(test.outcome, Outcome::Failed);
    Ok(test.clone())
}

fn an_exhausted_range_names_the_run_s_time_wait_and_who_made_it() -> Result<(), Failed> {
    let test = &run_in_a_namespace("exhaust")?;
    // Four ports: one the listener's, three connections, then the failure.
    let usage = test.ports.as_ref().expect("its port usage");
    assert_eq!((usage.connects, usage.active_closes), (3, 3), "{usage:?}");
    let exhausted: Vec<_> = test
        .port_findings
        .iter()
        .filter(|f| f.kind() == PortFindingKind::AddressNotAvailable)
        .collect();
    let [finding] = exhausted.as_slice() else {
        panic!("one address-not-available: {:#?}", test.port_findings);
    };
    let PortProblem::AddressNotAvailable {
        time_wait, made_by, ..
    } = &finding.problem
    else {
        unreachable!("filtered by kind");
    };
    assert_eq!(*time_wait, 3);
    let makers: Vec<(&str, u64)> = made_by
        .iter()
        .map(|maker| (maker.test.name.as_str(), maker.entries))
        .collect();
    assert_eq!(makers, [(test.name.as_str(), 3)]);
    let call = finding.call.as_ref().expect("the connect's stack");
    assert_eq!(call.syscall, "connect");
    let site = call.site.as_ref().expect("a site in this file");
    assert_eq!(
        site.file.as_deref(),
        Some("cargo-sockcheck/tests/exhaustion.rs")
    );
    assert_eq!(
        finding.severity, None,
        "it explains the failure, no verdict of its own"
    );
    Ok(())
}

fn a_port_held_only_by_time_wait_says_so_reuseaddr_is_the_fix() -> Result<(), Failed> {
    let test = run_in_a_namespace("rebind")?;
    let [finding] = test.port_findings.as_slice() else {
        panic!("one finding: {:#?}", test.port_findings);
    };
    assert_eq!(
        finding.problem,
        PortProblem::AddressInUse {
            address: format!("127.0.0.1:{REBOUND_PORT}"),
            held_by: PortHolder::TimeWait { entries: 1 },
        }
    );
    assert!(
        finding
            .summary()
            .ends_with("only 1 TIME_WAIT entry held it: set SO_REUSEADDR"),
        "{}",
        finding.summary()
    );
    let call = finding.call.as_ref().expect("the bind's stack");
    assert_eq!(call.syscall, "bind");
    let site = call.site.as_ref().expect("a site in this file");
    assert_eq!(site.function.as_deref(), Some("exhaustion::rebind"));
    Ok(())
}
