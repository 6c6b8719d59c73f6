//! The machine's TCP and UDP socket table, as the kernel's `sock_diag`
//! netlink interface lists it (what `ss` reads): every entry with its
//! addresses, state and inode, TIME_WAIT entries included (they belong to
//! no process and have inode 0). Read only when a port question comes up:
//! a `bind` that failed, a test that made connections; a test's few
//! connections are looked up one by one ([`Lookup`]), which costs the same
//! however many entries the machine's table holds.
//!
//! The requests and records are `linux/inet_diag.h`'s; the library's
//! `snapshot::sock_diag` carries them.

use sockcheck::snapshot::sock_diag::{field, Ask, SockDiag, NO_COOKIE};
use sockcheck::socket::{Protocol, State};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `1 << TCP_TIME_WAIT`: the states mask that asks for TIME_WAIT only.
pub const TIME_WAIT_ONLY: u32 = 1 << 6;
/// Every state.
pub const ALL_STATES: u32 = u32::MAX;

/// One entry of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Local address.
    pub local: SocketAddr,
    /// Remote address (unspecified when not connected).
    pub remote: SocketAddr,
    /// Its state: a TCP state, or for UDP `UNCONN`/`ESTABLISHED`.
    pub state: Option<State>,
    /// The socket's inode; 0 for entries no process owns (TIME_WAIT).
    pub inode: u64,
}

/// `struct inet_diag_sockid`: what names one socket (a dump names none).
#[derive(Clone, Copy, Default)]
struct SockId {
    sport: u16,
    dport: u16,
    src: [u8; 16],
    dst: [u8; 16],
    cookie: u32,
}

/// Where the fields of `struct inet_diag_msg` are: its `idiag_family`
/// and `idiag_state` first, then the `inet_diag_sockid`'s ports and
/// addresses (network order), and its `idiag_inode`.
const MSG_SPORT: usize = 4;
const MSG_DPORT: usize = 6;
const MSG_SRC: usize = 8;
const MSG_DST: usize = 24;
const MSG_INODE: usize = 68;

/// Every `protocol` socket (IPv4 and IPv6) in one of `states` (a mask of
/// `1 << state`).
pub fn entries(protocol: Protocol, states: u32) -> io::Result<Vec<Entry>> {
    let mut found = Vec::new();
    let mut netlink = SockDiag::open()?;
    for family in [libc::AF_INET, libc::AF_INET6] {
        let request = request(family as u8, protocol, states, SockId::default());
        netlink.ask(&request, Ask::Dump, |record| {
            found.extend(entry(record.bytes(), protocol));
            Ok(())
        })?;
    }
    Ok(found)
}

/// Looks TCP connections up one by one, by their port pair.
pub struct Lookup {
    netlink: SockDiag,
}

impl Lookup {
    /// A lookup over a new netlink socket.
    pub fn new() -> io::Result<Lookup> {
        Ok(Lookup {
            netlink: SockDiag::open()?,
        })
    }

    /// The state of the TCP connection from `local` to `remote` (TIME_WAIT
    /// entries included), `None` when there is none; both addresses of one
    /// family.
    pub fn tcp_state(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> io::Result<Option<State>> {
        let (family, src, dst) = match (local.ip(), remote.ip()) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let wide = |ip: Ipv4Addr| {
                    let mut bytes = [0u8; 16];
                    bytes[..4].copy_from_slice(&ip.octets());
                    bytes
                };
                (libc::AF_INET, wide(src), wide(dst))
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => (libc::AF_INET6, src.octets(), dst.octets()),
            _ => return Ok(None),
        };
        let id = SockId {
            sport: local.port(),
            dport: remote.port(),
            src,
            dst,
            cookie: NO_COOKIE,
        };
        let request = request(family as u8, Protocol::Tcp, ALL_STATES, id);
        let mut found = None;
        self.netlink.ask(&request, Ask::Lookup, |record| {
            found = found.or(entry(record.bytes(), Protocol::Tcp));
            Ok(())
        })?;
        Ok(found.and_then(|entry| entry.state))
    }
}

/// `struct inet_diag_req_v2` for `family`'s `protocol` sockets in
/// `states`: a dump's, or the lookup of the one socket `id` names.
fn request(family: u8, protocol: Protocol, states: u32, id: SockId) -> Vec<u8> {
    let protocol = match protocol {
        Protocol::Udp => libc::IPPROTO_UDP as u8,
        _ => libc::IPPROTO_TCP as u8,
    };
    let mut request = Vec::with_capacity(56);
    request.extend_from_slice(&[family, protocol, 0, 0]); // idiag_ext, pad: none
    request.extend_from_slice(&states.to_ne_bytes());
    request.extend_from_slice(&id.sport.to_be_bytes());
    request.extend_from_slice(&id.dport.to_be_bytes());
    request.extend_from_slice(&id.src);
    request.extend_from_slice(&id.dst);
    request.extend_from_slice(&0u32.to_ne_bytes()); // idiag_if: any
    request.extend_from_slice(&id.cookie.to_ne_bytes());
    request.extend_from_slice(&id.cookie.to_ne_bytes());
    request
}

/// The entry an `inet_diag_msg` describes; `None` when it is cut short.
fn entry(record: &[u8], protocol: Protocol) -> Option<Entry> {
    let [family, state] = field(record, 0)?;
    let ip = |at: usize| -> Option<IpAddr> {
        let bytes: [u8; 16] = field(record, at)?;
        Some(if i32::from(family) == libc::AF_INET {
            IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
        } else {
            IpAddr::V6(Ipv6Addr::from(bytes))
        })
    };
    let port = |at: usize| field(record, at).map(u16::from_be_bytes);
    let state = match protocol {
        Protocol::Udp if state == 1 => Some(State::Established),
        Protocol::Udp => Some(State::Unconn),
        _ => State::from_linux_tcp(state),
    };
    Some(Entry {
        local: SocketAddr::new(ip(MSG_SRC)?, port(MSG_SPORT)?),
        remote: SocketAddr::new(ip(MSG_DST)?, port(MSG_DPORT)?),
        state,
        inode: u64::from(field(record, MSG_INODE).map(u32::from_ne_bytes)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;

    fn inode_of(fd: &impl AsRawFd) -> u64 {
        let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
        std::fs::metadata(link).unwrap().ino()
    }

    #[test]
    fn listeners_connections_and_time_waits_are_listed_with_their_inodes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let client = TcpStream::connect(address).unwrap();
        let (server, _) = listener.accept().unwrap();
        let client_address = client.local_addr().unwrap();
        // The client closes first: its side goes to TIME_WAIT.
        drop(client);
        drop(server);
        let all = entries(Protocol::Tcp, ALL_STATES).unwrap();
        let listening = all
            .iter()
            .find(|e| e.local == address && e.state == Some(State::Listen));
        assert_eq!(listening.map(|e| e.inode), Some(inode_of(&listener)));
        // The client's side reaches TIME_WAIT once the server's FIN is in,
        // which loopback delivers at once; a loaded host gets a few seconds.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let waits = loop {
            let waits = entries(Protocol::Tcp, TIME_WAIT_ONLY).unwrap();
            let found = waits
                .iter()
                .any(|e| e.local == client_address && e.remote == address);
            if found || std::time::Instant::now() > deadline {
                break waits;
            }
            std::thread::yield_now();
        };
        assert!(waits
            .iter()
            .all(|e| e.state == Some(State::TimeWait) && e.inode == 0));
        assert!(
            waits
                .iter()
                .any(|e| e.local == client_address && e.remote == address),
            "{client_address} -> {address} not in TIME_WAIT among {} entries",
            waits.len()
        );
    }

    #[test]
    fn a_connection_is_looked_up_by_its_port_pair() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let client = TcpStream::connect(address).unwrap();
        let (_server, _) = listener.accept().unwrap();
        let local = client.local_addr().unwrap();
        let mut lookup = Lookup::new().unwrap();
        assert_eq!(
            lookup.tcp_state(local, address).unwrap(),
            Some(State::Established)
        );
        assert_eq!(
            lookup.tcp_state(address, local).unwrap(),
            Some(State::Established)
        );
        let unused = SocketAddr::new(local.ip(), 1);
        assert_eq!(lookup.tcp_state(unused, address).unwrap(), None);
        let v6: SocketAddr = "[::1]:1".parse().unwrap();
        assert_eq!(lookup.tcp_state(local, v6).unwrap(), None);
    }

    #[test]
    fn udp_sockets_are_listed_unconnected() {
        let socket = UdpSocket::bind("[::1]:0").unwrap();
        let address = socket.local_addr().unwrap();
        let all = entries(Protocol::Udp, ALL_STATES).unwrap();
        let found = all.iter().find(|e| e.local == address).unwrap();
        assert_eq!(
            (found.state, found.inode),
            (Some(State::Unconn), inode_of(&socket))
        );
    }

    #[test]
    fn a_record_is_read_field_by_field_and_a_short_one_refused() {
        let mut record = vec![libc::AF_INET as u8, 10, 0, 0];
        record.extend_from_slice(&8080u16.to_be_bytes());
        record.extend_from_slice(&443u16.to_be_bytes());
        record.extend_from_slice(&[127, 0, 0, 1]);
        record.extend_from_slice(&[0; 12]);
        record.extend_from_slice(&[10, 0, 0, 2]);
        record.extend_from_slice(&[0; 12]);
        record.resize(MSG_INODE, 0xee); // interface, cookie, timers, queues, uid
        record.extend_from_slice(&4242u32.to_ne_bytes());
        let expected = Entry {
            local: "127.0.0.1:8080".parse().unwrap(),
            remote: "10.0.0.2:443".parse().unwrap(),
            state: Some(State::Listen),
            inode: 4242,
        };
        assert_eq!(entry(&record, Protocol::Tcp), Some(expected));
        assert_eq!(
            entry(&record, Protocol::Udp).and_then(|e| e.state),
            Some(State::Unconn)
        );
        assert_eq!(entry(&record[..record.len() - 1], Protocol::Tcp), None);
    }
}
