//! The netstat2 backend: the host's socket table, filtered by pid. The
//! only way in on macOS and Windows; built on Linux too, where it is tested
//! against the per-fd backend on the same sockets.
//!
//! netstat2's pitfalls, as read in its source (0.11):
//! - On Linux the table is a netlink `sock_diag` dump of the caller's
//!   network namespace; a netlink error reply is swallowed, which yields an
//!   empty or partial table, not an error.
//! - Linux: holders come from a scan of every `/proc/PID/fd`, which panics
//!   when `/proc` cannot be read (checked here first), skips processes it
//!   may not read, and drops inodes above `u32::MAX`.
//! - UDP entries carry no peer: a connected UDP socket reads as `UNCONN`
//!   with no remote address (the per-fd backend says `ESTABLISHED` and
//!   names the peer). Either way it is a `udp` leak.
//! - No unix-domain sockets.
//! - The inode is there on Linux only; elsewhere sockets are told apart by
//!   protocol and addresses.

use super::SnapshotError;
use crate::socket::{Protocol, Socket, State};
use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, TcpState};
use std::net::SocketAddr;

pub(super) fn process_sockets(pid: u32) -> Result<Vec<Socket>, SnapshotError> {
    #[cfg(target_os = "linux")]
    if let Err(source) = std::fs::read_dir("/proc") {
        // netstat2 would panic here.
        return Err(SnapshotError::FdList {
            path: "/proc".to_owned(),
            source,
        });
    }
    let families = AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6;
    let protocols = ProtocolFlags::TCP | ProtocolFlags::UDP;
    let table = netstat2::get_sockets_info(families, protocols)
        .map_err(|e| SnapshotError::Table(e.to_string()))?;
    Ok(table
        .into_iter()
        .filter(|info| info.associated_pids.contains(&pid))
        .map(|info| {
            #[cfg(target_os = "linux")]
            let inode = u64::from(info.inode);
            #[cfg(not(target_os = "linux"))]
            let inode = 0;
            match info.protocol_socket_info {
                ProtocolSocketInfo::Tcp(tcp) => Socket::inet(
                    Protocol::Tcp,
                    SocketAddr::new(tcp.local_addr, tcp.local_port),
                    SocketAddr::new(tcp.remote_addr, tcp.remote_port),
                    state_of(tcp.state),
                    inode,
                    pid,
                ),
                ProtocolSocketInfo::Udp(udp) => Socket::inet(
                    Protocol::Udp,
                    SocketAddr::new(udp.local_addr, udp.local_port),
                    SocketAddr::new(unspecified_like(udp.local_addr), 0),
                    State::Unconn,
                    inode,
                    pid,
                ),
            }
        })
        .collect())
}

fn unspecified_like(addr: std::net::IpAddr) -> std::net::IpAddr {
    match addr {
        std::net::IpAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
        std::net::IpAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    }
}

fn state_of(state: TcpState) -> State {
    match state {
        TcpState::Listen => State::Listen,
        TcpState::SynSent => State::SynSent,
        TcpState::SynReceived => State::SynRecv,
        TcpState::Established => State::Established,
        TcpState::FinWait1 => State::FinWait1,
        TcpState::FinWait2 => State::FinWait2,
        TcpState::CloseWait => State::CloseWait,
        TcpState::Closing => State::Closing,
        TcpState::LastAck => State::LastAck,
        TcpState::TimeWait => State::TimeWait,
        TcpState::Closed | TcpState::DeleteTcb | TcpState::Unknown => State::Close,
    }
}
