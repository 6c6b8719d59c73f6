//! End to end: ports. The built `cargo sockcheck` on the ports fixture,
//! whose tests really fight over ports: two bind the same fixed port at
//! once (the second fails with "Address already in use"), one binds a port
//! that a process outside the run holds (this file starts it), one binds a
//! fixed port inside the ephemeral range, two churn loopback connections
//! (5,000 and 50) and one holds 100 sockets at once.

mod common;

use cargo_sockcheck::ExitStatus;
use common::*;
use sockcheck::report::{Outcome, Report};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Output, Stdio};

/// The lowest port of the ephemeral range
/// (/proc/sys/net/ipv4/ip_local_port_range).
fn ephemeral_low() -> u16 {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    range.split_whitespace().next().unwrap().parse().unwrap()
}

/// A listener on a free loopback port below the ephemeral range (where no
/// outgoing connection takes it), searched from a place that changes with
/// this process's id, so that two runs of this suite at once do not pick
/// the same one.
fn listener_below_the_ephemeral_range() -> TcpListener {
    let (low, high) = (10_000u32, u32::from(ephemeral_low()));
    assert!(high > low, "the ephemeral range starts at {high}");
    let size = high - low;
    let start = std::process::id().wrapping_mul(7919) % size;
    (0..size)
        .map(|i| (low + (start + i) % size) as u16)
        .find_map(|port| TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).ok())
        .expect("a free port below the ephemeral range")
}

fn port_of(listener: &TcpListener) -> u16 {
    listener.local_addr().unwrap().port()
}

/// A process outside the run, `sleep`, whose stdin is a listener on a port
/// below the ephemeral range: it holds that port until it is dropped.
struct OutsideHolder {
    child: Child,
    port: u16,
}

impl OutsideHolder {
    fn start() -> OutsideHolder {
        let listener = listener_below_the_ephemeral_range();
        let port = port_of(&listener);
        let child = Command::new("sleep")
            .arg("300")
            .stdin(Stdio::from(OwnedFd::from(listener)))
            .spawn()
            .expect("start sleep");
        OutsideHolder { child, port }
    }
}

impl Drop for OutsideHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cargo sockcheck --format json ARGS` on the ports fixture, with the
/// fixed port of the pair and the port an outside process holds; the
/// holder is still running when this returns.
fn run(args: &[&str]) -> (Report, Output, OutsideHolder) {
    let holder = OutsideHolder::start();
    // Free now; the pair binds it in a moment.
    let fixed = port_of(&listener_below_the_ephemeral_range());
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let output = on_fixture_command("ports", &all)
        .env("PORTS_FIXED_PORT", fixed.to_string())
        .env("PORTS_OUTSIDE_PORT", holder.port.to_string())
        .output()
        .unwrap();
    (json_report(&output), output, holder)
}

fn row(name: &str, outcome: Outcome) -> (String, Outcome, Vec<String>) {
    (format!("ports::{name}"), outcome, Vec::new())
}

#[test]
fn each_port_test_gets_its_verdict_and_the_losers_fail_on_address_in_use() {
    let (report, output, holder) = run(&[]);
    assert_eq!(
        verdicts(&report),
        [
            row("binds_fixed_port_another_test_holds", Outcome::Failed),
            row("binds_fixed_port_in_ephemeral_range", Outcome::Passed),
            row("binds_port_held_outside", Outcome::Failed),
            row("churns_5000_connections", Outcome::Passed),
            row("churns_50_connections", Outcome::Passed),
            row("holds_100_sockets_at_once", Outcome::Passed),
            row("holds_fixed_port", Outcome::Passed),
        ],
        "stderr:\n{}",
        stderr(&output)
    );
    assert_eq!(status(&output), ExitStatus::TestFailed.code());
    for loser in [
        "binds_fixed_port_another_test_holds",
        "binds_port_held_outside",
    ] {
        let said = record(&report, "ports", loser)
            .output
            .as_deref()
            .unwrap_or("");
        assert!(said.contains("Address already in use"), "{loser}: {said}");
    }
    // The outside process is not part of the run: sockcheck left it alone.
    assert!(process_alive(holder.child.id()));
}
