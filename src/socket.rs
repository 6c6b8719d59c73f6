//! What one socket looks like to sockcheck: protocol, family, addresses, state,
//! and who holds it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;

/// Transport protocol of a socket. Only TCP and UDP are inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// A `SOCK_STREAM` socket over IP.
    Tcp,
    /// A `SOCK_DGRAM` socket over IP.
    Udp,
}

impl Protocol {
    /// The name used in JSON and reports: `tcp` or `udp`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Address family of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `AF_INET`.
    Ipv4,
    /// `AF_INET6`.
    Ipv6,
}

/// State of a socket, named as the kernel and `ss` name them.
///
/// TCP sockets carry their TCP state; UDP sockets are `UNCONN` or, once
/// `connect`ed, `ESTABLISHED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)] // the variants are the standard TCP state names
pub enum State {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    /// A UDP socket that is bound but not connected.
    Unconn,
}

impl State {
    /// Maps the Linux `TCP_*` state number (as in `tcp_info.tcpi_state` and
    /// `/proc/net/tcp`) to a state.
    pub fn from_linux_tcp(number: u8) -> Option<State> {
        Some(match number {
            1 => State::Established,
            2 => State::SynSent,
            3 | 12 => State::SynRecv, // 12 is TCP_NEW_SYN_RECV
            4 => State::FinWait1,
            5 => State::FinWait2,
            6 => State::TimeWait,
            7 => State::Close,
            8 => State::CloseWait,
            9 => State::LastAck,
            10 => State::Listen,
            11 => State::Closing,
            _ => return None,
        })
    }

    /// The name shown in reports, e.g. `CLOSE_WAIT`.
    pub fn name(self) -> &'static str {
        match self {
            State::Established => "ESTABLISHED",
            State::SynSent => "SYN_SENT",
            State::SynRecv => "SYN_RECV",
            State::FinWait1 => "FIN_WAIT1",
            State::FinWait2 => "FIN_WAIT2",
            State::TimeWait => "TIME_WAIT",
            State::Close => "CLOSE",
            State::CloseWait => "CLOSE_WAIT",
            State::LastAck => "LAST_ACK",
            State::Listen => "LISTEN",
            State::Closing => "CLOSING",
            State::Unconn => "UNCONN",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One open TCP or UDP socket held by a process.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Socket {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// IPv4 or IPv6.
    pub family: Family,
    /// Local address and port (`0.0.0.0:0` when unbound).
    pub local: SocketAddr,
    /// Peer address and port (`0.0.0.0:0` / `[::]:0` when not connected).
    pub remote: SocketAddr,
    /// Socket state, e.g. `CLOSE_WAIT`.
    pub state: State,
    /// The socket's inode number: its identity for the life of the socket.
    pub inode: u64,
    /// The process holding it (0 when the platform does not say).
    pub pid: u32,
}

impl fmt::Display for Socket {
    /// `tcp 127.0.0.1:40211 -> 127.0.0.1:35719 CLOSE_WAIT`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.protocol, self.local)?;
        if self.remote.port() != 0 {
            write!(f, "-> {} ", self.remote)?;
        }
        write!(f, "{}", self.state)
    }
}
