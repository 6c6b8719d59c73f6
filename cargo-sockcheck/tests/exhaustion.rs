//! End to end: "cannot assign requested address", explained. The built
//! `cargo sockcheck exec` runs a workload that exhausts the ephemeral port
//! range for real: in a network namespace of its own (`unshare -n`) whose
//! range is four ports (`ip_local_port_range`, a per-namespace setting) and
//! where TIME_WAIT ports are not reused (`tcp_tw_reuse` 0), it makes
//! loopback connections, closing each client first, until `connect` fails
//! with `EADDRNOTAVAIL`. The workload is this test binary itself, run with
//! [`WORKLOAD`] set.
//!
//! A `harness = false` target on sockcheck's own harness, so that where a
//! network namespace cannot be made (no `CAP_SYS_ADMIN`, no `unshare` or
//! `ip`) the trial is reported ignored, never "ok".

mod common;

use common::*;
use sockcheck::harness::{Failed, Harness, Trial};
use sockcheck::ports::{PortFindingKind, PortProblem};
use sockcheck::report::Outcome;
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
    if std::env::var_os(WORKLOAD).is_some() {
        std::process::exit(exhaust());
    }
    Harness::new().main(vec![Trial::test(
        "an_exhausted_range_names_the_run_s_time_wait_and_who_made_it",
        an_exhausted_range_names_the_run_s_time_wait_and_who_made_it,
    )
    .with_ignored_flag(!can_make_a_network_namespace())]);
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

fn an_exhausted_range_names_the_run_s_time_wait_and_who_made_it() -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let report = dir.path().join("report.json");
    let workload = std::env::current_exe()?;
    let output = Command::new("unshare")
        .args(["-n", "sh", "-c", SETUP, "sh"])
        .arg(env!("CARGO_BIN_EXE_cargo-sockcheck"))
        .args(["sockcheck", "exec", "--report"])
        .arg(&report)
        .arg("--")
        .arg(&workload)
        .env(WORKLOAD, "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("connect failed as expected"),
        "the workload did not exhaust the range:\n{stderr}"
    );
    let report = report_file(&report);
    let [test] = report.tests.as_slice() else {
        panic!("one record: {:#?}", report.tests);
    };
    assert_eq!(test.outcome, Outcome::Failed);
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
