//! What one socket looks like to sockcheck: protocol, family, addresses, state,
//! and who holds it.

pub use crate::address::{Address, AddressError, UnixAddress};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;

/// Transport protocol of a socket: TCP, UDP, or a unix-domain socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// A `SOCK_STREAM` socket over IP.
    Tcp,
    /// A `SOCK_DGRAM` socket over IP.
    Udp,
    /// An `AF_UNIX` socket of any type (see [`Socket::unix_type`]).
    Unix,
}

impl Protocol {
    /// The name used in JSON and reports: `tcp`, `udp` or `unix`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Unix => "unix",
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
    /// `AF_UNIX`.
    Unix,
}

/// The type of a unix-domain socket (JSON `socket_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnixType {
    /// `SOCK_STREAM`: `UnixListener` and `UnixStream`.
    Stream,
    /// `SOCK_DGRAM`: `UnixDatagram`.
    Dgram,
    /// `SOCK_SEQPACKET`.
    Seqpacket,
}

impl UnixType {
    /// The lowercase name, e.g. `stream`.
    pub fn name(self) -> &'static str {
        match self {
            UnixType::Stream => "stream",
            UnixType::Dgram => "dgram",
            UnixType::Seqpacket => "seqpacket",
        }
    }
}

/// State of a socket, named as the kernel and `ss` name them.
///
/// TCP sockets carry their TCP state; UDP sockets are `UNCONN` or, once
/// `connect`ed, `ESTABLISHED`. Unix sockets are `LISTEN`, `UNCONN` (not
/// connected), `ESTABLISHED` (connected, peer alive) or `CLOSE_WAIT`
/// (connected, the peer closed: the unix analogue of TCP's CLOSE_WAIT).
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
    /// A UDP or unix socket that is not connected (nor listening).
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

/// One open socket held by a process.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(try_from = "SocketFields")]
pub struct Socket {
    /// TCP, UDP or unix.
    pub protocol: Protocol,
    /// IPv4, IPv6 or unix.
    pub family: Family,
    /// Stream, datagram or seqpacket, for a unix socket (JSON `socket_type`,
    /// absent for TCP and UDP).
    #[serde(rename = "socket_type", skip_serializing_if = "Option::is_none")]
    pub unix_type: Option<UnixType>,
    /// Local address (`0.0.0.0:0` or `(unnamed)` when unbound).
    #[serde(serialize_with = "as_text")]
    pub local: Address,
    /// Peer address (`0.0.0.0:0` / `[::]:0` / `(unnamed)` when not connected).
    #[serde(serialize_with = "as_text")]
    pub remote: Address,
    /// Socket state, e.g. `CLOSE_WAIT`.
    pub state: State,
    /// The socket's inode number: its identity for the life of the socket.
    pub inode: u64,
    /// The process holding it (0 when the platform does not say).
    pub pid: u32,
    /// For a connected unix socket: its peer is held by the same process
    /// (a socketpair, or a connection to itself), which makes it plumbing,
    /// not a leak. Known on Linux only; not part of the JSON.
    #[serde(skip)]
    pub peer_in_process: bool,
}

impl Socket {
    /// A TCP or UDP socket; the family follows the local address.
    pub fn inet(
        protocol: Protocol,
        local: SocketAddr,
        remote: SocketAddr,
        state: State,
        inode: u64,
        pid: u32,
    ) -> Socket {
        Socket {
            protocol,
            family: if local.is_ipv4() {
                Family::Ipv4
            } else {
                Family::Ipv6
            },
            unix_type: None,
            local: local.into(),
            remote: remote.into(),
            state,
            inode,
            pid,
            peer_in_process: false,
        }
    }

    /// True when the socket is connected to a peer: a TCP or UDP peer port
    /// other than 0, or a unix socket connected (alive or gone).
    pub fn has_peer(&self) -> bool {
        match self.protocol {
            Protocol::Tcp | Protocol::Udp => self.remote.is_bound(),
            Protocol::Unix => matches!(self.state, State::Established | State::CloseWait),
        }
    }
}

impl fmt::Display for Socket {
    /// `tcp 127.0.0.1:40211 -> 127.0.0.1:35719 CLOSE_WAIT`, or
    /// `unix stream /tmp/app.sock LISTEN`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.protocol)?;
        if let Some(unix_type) = self.unix_type {
            write!(f, "{} ", unix_type.name())?;
        }
        write!(f, "{} ", self.local)?;
        if self.has_peer() {
            write!(f, "-> {} ", self.remote)?;
        }
        write!(f, "{}", self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unix_socket_reads_back_from_its_json_and_tcp_json_has_no_socket_type() {
        let socket = Socket {
            protocol: Protocol::Unix,
            family: Family::Unix,
            unix_type: Some(UnixType::Stream),
            local: Address::Unix(UnixAddress::Path(b"/tmp/\xff.sock".to_vec())),
            remote: Address::Unix(UnixAddress::Unnamed),
            state: State::Listen,
            inode: 7,
            pid: 9,
            peer_in_process: false,
        };
        let json = serde_json::to_string(&socket).unwrap();
        assert_eq!(
            json,
            r#"{"protocol":"unix","family":"unix","socket_type":"stream","local":"/tmp/\\xff.sock","remote":"(unnamed)","state":"LISTEN","inode":7,"pid":9}"#
        );
        assert_eq!(serde_json::from_str::<Socket>(&json).unwrap(), socket);
        assert_eq!(socket.to_string(), r"unix stream /tmp/\xff.sock LISTEN");

        let tcp = Socket::inet(
            Protocol::Tcp,
            ([127, 0, 0, 1], 1).into(),
            ([127, 0, 0, 1], 2).into(),
            State::Established,
            3,
            4,
        );
        let json = serde_json::to_string(&tcp).unwrap();
        assert_eq!(
            json,
            r#"{"protocol":"tcp","family":"ipv4","local":"127.0.0.1:1","remote":"127.0.0.1:2","state":"ESTABLISHED","inode":3,"pid":4}"#
        );
        assert_eq!(serde_json::from_str::<Socket>(&json).unwrap(), tcp);
    }

    #[test]
    fn a_bad_address_in_json_is_an_error_naming_it() {
        let json = r#"{"protocol":"tcp","family":"ipv4","local":"nowhere","remote":"0.0.0.0:0","state":"LISTEN","inode":1,"pid":1}"#;
        let err = serde_json::from_str::<Socket>(json).unwrap_err();
        assert!(
            err.to_string().contains("invalid socket address `nowhere`"),
            "{err}"
        );
    }
}

fn as_text<S: serde::Serializer>(address: &Address, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(address)
}

/// A socket as JSON holds it: addresses are text, read by family.
#[derive(Deserialize)]
struct SocketFields {
    protocol: Protocol,
    family: Family,
    #[serde(default)]
    socket_type: Option<UnixType>,
    local: String,
    remote: String,
    state: State,
    inode: u64,
    pid: u32,
}

impl TryFrom<SocketFields> for Socket {
    type Error = AddressError;

    fn try_from(fields: SocketFields) -> Result<Socket, AddressError> {
        Ok(Socket {
            protocol: fields.protocol,
            family: fields.family,
            unix_type: fields.socket_type,
            local: Address::parse(&fields.local, fields.family)?,
            remote: Address::parse(&fields.remote, fields.family)?,
            state: fields.state,
            inode: fields.inode,
            pid: fields.pid,
            peer_in_process: false,
        })
    }
}
