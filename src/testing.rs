//! Sockets, leaks and test records made up for tests: the one place outside
//! the snapshot backends that knows how a [`Socket`] and a [`Leak`] are put
//! together, so that sockcheck's and cargo-sockcheck's tests do not spell
//! out their fields (which grow).
//!
//! Not part of the API: hidden from the docs and free to change.

use crate::leak::{Leak, LeakKind};
use crate::report::{Outcome, TestRecord};
use crate::socket::{Address, Family, Protocol, Socket, State, UnixType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The pid every made-up socket is held by.
pub const PID: u32 = 4242;

/// The inode every made-up socket has.
pub const INODE: u64 = 1;

/// A TCP socket in `state` from `local` to `remote` (`"127.0.0.1:8080"`,
/// `"[::1]:8080"`; `"0.0.0.0:0"` for no peer), held by [`PID`].
///
/// Panics on an address that does not parse: the test is wrong.
pub fn tcp(state: State, local: &str, remote: &str) -> Socket {
    Socket::inet(
        Protocol::Tcp,
        address(local),
        address(remote),
        state,
        INODE,
        PID,
    )
}

/// A TCP listener on `127.0.0.1:port`.
pub fn listener(port: u16) -> Socket {
    tcp(State::Listen, &format!("127.0.0.1:{port}"), "0.0.0.0:0")
}

/// A bound, unconnected UDP socket on `local`.
pub fn udp(local: &str) -> Socket {
    let local = address(local);
    let unspecified = match local.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    Socket::inet(
        Protocol::Udp,
        local,
        SocketAddr::new(unspecified, 0),
        State::Unconn,
        INODE,
        PID,
    )
}

/// A unix socket of `unix_type` in `state`, bound to `local` (a path,
/// `@abstract` or `(unnamed)`), with no peer.
pub fn unix(unix_type: UnixType, state: State, local: &str) -> Socket {
    Socket {
        protocol: Protocol::Unix,
        family: Family::Unix,
        unix_type: Some(unix_type),
        local: Address::parse(local, Family::Unix)
            .unwrap_or_else(|e| panic!("`{local}` is not a unix address: {e}")),
        remote: Address::unspecified(Family::Unix),
        state,
        inode: INODE,
        pid: PID,
        peer_in_process: false,
    }
}

/// The record of test `binary::name` that ended with `outcome`, leaving
/// `leaks`, with no extras.
pub fn record(binary: &str, name: &str, outcome: Outcome, leaks: Vec<Leak>) -> TestRecord {
    let mut record = TestRecord::new(binary, name, outcome);
    record.leaks = leaks;
    record
}

/// A leak of `kind` on `socket` at the kind's default severity, with no
/// stability, creation site or holding threads.
pub fn leak(kind: LeakKind, socket: Socket) -> Leak {
    Leak {
        kind,
        severity: kind.default_severity(),
        socket,
        stability: None,
        opened: None,
        held_by: Vec::new(),
    }
}

fn address(text: &str) -> SocketAddr {
    text.parse()
        .unwrap_or_else(|e| panic!("`{text}` is not a socket address: {e}"))
}
