//! macOS, Windows and the rest: netstat2's socket table, filtered by pid.

use super::SnapshotError;
use crate::socket::{Family, Protocol, Socket, State};
use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, TcpState};
use std::net::SocketAddr;

pub(super) fn own_sockets() -> Result<Vec<Socket>, SnapshotError> {
    process_sockets(std::process::id())
}

pub(super) fn process_sockets(pid: u32) -> Result<Vec<Socket>, SnapshotError> {
    let families = AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6;
    let protocols = ProtocolFlags::TCP | ProtocolFlags::UDP;
    let table = netstat2::get_sockets_info(families, protocols)
        .map_err(|e| SnapshotError::Table(e.to_string()))?;
    Ok(table
        .into_iter()
        .filter(|info| info.associated_pids.contains(&pid))
        .map(|info| {
            let (protocol, local, remote, state) = match info.protocol_socket_info {
                ProtocolSocketInfo::Tcp(tcp) => (
                    Protocol::Tcp,
                    SocketAddr::new(tcp.local_addr, tcp.local_port),
                    SocketAddr::new(tcp.remote_addr, tcp.remote_port),
                    state_of(tcp.state),
                ),
                ProtocolSocketInfo::Udp(udp) => (
                    Protocol::Udp,
                    SocketAddr::new(udp.local_addr, udp.local_port),
                    SocketAddr::new(unspecified_like(udp.local_addr), 0),
                    State::Unconn,
                ),
            };
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
                inode: 0,
                pid,
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
