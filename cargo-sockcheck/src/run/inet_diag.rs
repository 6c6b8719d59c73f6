//! The machine's TCP and UDP socket table, as the kernel's `sock_diag`
//! netlink interface lists it (what `ss` reads): every entry with its
//! addresses, state and inode, TIME_WAIT entries included (they belong to
//! no process and have inode 0). Read only when a port question comes up:
//! a `bind` that failed, a test that made connections; a test's few
//! connections are looked up one by one ([`Lookup`]), which costs the same
//! however many entries the machine's table holds.

use sockcheck::socket::{Protocol, State};
use std::io;
use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `SOCK_DIAG_BY_FAMILY`, the request type.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
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

/// `struct inet_diag_sockid`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct SockId {
    sport: [u8; 2],
    dport: [u8; 2],
    src: [u8; 16],
    dst: [u8; 16],
    interface: u32,
    cookie: [u32; 2],
}

/// `struct nlmsghdr` followed by `struct inet_diag_req_v2`.
#[repr(C)]
struct Request {
    len: u32,
    kind: u16,
    flags: u16,
    seq: u32,
    pid: u32,
    family: u8,
    protocol: u8,
    ext: u8,
    pad: u8,
    states: u32,
    id: SockId,
}

/// `struct inet_diag_msg`, after its `nlmsghdr`.
#[repr(C)]
#[derive(Clone, Copy)]
struct Message {
    family: u8,
    state: u8,
    timer: u8,
    retrans: u8,
    id: SockId,
    expires: u32,
    rqueue: u32,
    wqueue: u32,
    uid: u32,
    inode: u32,
}

/// `struct nlmsghdr`'s size, and the alignment of netlink messages.
const HEADER: usize = 16;
const ALIGN: usize = 4;

/// Every `protocol` socket (IPv4 and IPv6) in one of `states` (a mask of
/// `1 << state`).
pub fn entries(protocol: Protocol, states: u32) -> io::Result<Vec<Entry>> {
    let mut found = Vec::new();
    for family in [libc::AF_INET, libc::AF_INET6] {
        dump(family as u8, protocol, states, &mut found)?;
    }
    Ok(found)
}

/// A `sock_diag` netlink socket.
fn diag_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; on success it returns a new fd that we own.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the fd was just returned to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// `INET_DIAG_NOCOOKIE`: an exact lookup that names no socket cookie.
const NO_COOKIE: u32 = u32::MAX;

/// Looks TCP connections up one by one, by their port pair.
pub struct Lookup {
    socket: OwnedFd,
}

impl Lookup {
    /// A lookup over a new netlink socket.
    pub fn new() -> io::Result<Lookup> {
        Ok(Lookup {
            socket: diag_socket()?,
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
            sport: local.port().to_be_bytes(),
            dport: remote.port().to_be_bytes(),
            src,
            dst,
            interface: 0,
            cookie: [NO_COOKIE; 2],
        };
        let request = request(family as u8, Protocol::Tcp, ALL_STATES, id, false);
        send(&self.socket, &request)?;
        let mut found = Vec::new();
        let mut buffer = vec![0u8; 8 * 1024];
        match receive(&self.socket, &mut buffer, Protocol::Tcp, false, &mut found) {
            Err(error) if error.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(error) => Err(error),
            Ok(()) => Ok(found.first().and_then(|entry| entry.state)),
        }
    }
}

/// The request for `family`'s `protocol` sockets in `states`: a dump, or
/// the lookup of the one socket `id` names.
fn request(family: u8, protocol: Protocol, states: u32, id: SockId, dump: bool) -> Request {
    let flags = if dump {
        libc::NLM_F_REQUEST | libc::NLM_F_DUMP
    } else {
        libc::NLM_F_REQUEST
    };
    Request {
        len: size_of::<Request>() as u32,
        kind: SOCK_DIAG_BY_FAMILY,
        flags: flags as u16,
        seq: 1,
        pid: 0,
        family,
        protocol: match protocol {
            Protocol::Udp => libc::IPPROTO_UDP as u8,
            _ => libc::IPPROTO_TCP as u8,
        },
        ext: 0,
        pad: 0,
        states,
        id,
    }
}

fn send(socket: &OwnedFd, request: &Request) -> io::Result<()> {
    // SAFETY: `request` is plain data of the given size.
    let sent = unsafe {
        libc::send(
            socket.as_raw_fd(),
            std::ptr::from_ref(request).cast(),
            size_of::<Request>(),
            0,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads the reply into `found`: a dump's up to its `NLMSG_DONE`, a
/// lookup's one message (or its error).
fn receive(
    socket: &OwnedFd,
    buffer: &mut [u8],
    protocol: Protocol,
    dump: bool,
    found: &mut Vec<Entry>,
) -> io::Result<()> {
    loop {
        // SAFETY: the buffer is valid for writes of its length.
        let read = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                0,
            )
        };
        if read < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        if parse(&buffer[..read as usize], protocol, found)? || !dump {
            return Ok(());
        }
    }
}

fn dump(family: u8, protocol: Protocol, states: u32, found: &mut Vec<Entry>) -> io::Result<()> {
    let socket = diag_socket()?;
    send(
        &socket,
        &request(family, protocol, states, SockId::default(), true),
    )?;
    let mut buffer = vec![0u8; 64 * 1024];
    receive(&socket, &mut buffer, protocol, true, found)
}

/// Adds the entries of one datagram of the reply to `found`; true when it
/// ends the reply.
fn parse(mut datagram: &[u8], protocol: Protocol, found: &mut Vec<Entry>) -> io::Result<bool> {
    if datagram.is_empty() {
        return Ok(true);
    }
    while datagram.len() >= HEADER {
        let word = |at: usize| {
            u32::from_ne_bytes([
                datagram[at],
                datagram[at + 1],
                datagram[at + 2],
                datagram[at + 3],
            ])
        };
        let len = word(0) as usize;
        let kind = u16::from_ne_bytes([datagram[4], datagram[5]]);
        if len < HEADER || len > datagram.len() {
            return Err(io::Error::other("a malformed sock_diag reply"));
        }
        match i32::from(kind) {
            libc::NLMSG_DONE => return Ok(true),
            libc::NLMSG_ERROR => {
                let errno = datagram
                    .get(HEADER..HEADER + 4)
                    .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                return Err(io::Error::from_raw_os_error(-errno));
            }
            _ if len >= HEADER + size_of::<Message>() => {
                // SAFETY: the slice holds a whole `inet_diag_msg`, plain
                // data of any bit pattern; read unaligned.
                let message: Message =
                    unsafe { std::ptr::read_unaligned(datagram[HEADER..].as_ptr().cast()) };
                found.push(entry(&message, protocol));
            }
            _ => {}
        }
        let advance = len.div_ceil(ALIGN) * ALIGN;
        datagram = datagram.get(advance..).unwrap_or_default();
    }
    Ok(false)
}

/// The entry a message describes.
fn entry(message: &Message, protocol: Protocol) -> Entry {
    let ip = |bytes: &[u8; 16]| -> IpAddr {
        if i32::from(message.family) == libc::AF_INET {
            IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
        } else {
            IpAddr::V6(Ipv6Addr::from(*bytes))
        }
    };
    let id = &message.id;
    let state = match protocol {
        Protocol::Udp if message.state == 1 => Some(State::Established),
        Protocol::Udp => Some(State::Unconn),
        _ => State::from_linux_tcp(message.state),
    };
    Entry {
        local: SocketAddr::new(ip(&id.src), u16::from_be_bytes(id.sport)),
        remote: SocketAddr::new(ip(&id.dst), u16::from_be_bytes(id.dport)),
        state,
        inode: u64::from(message.inode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream, UdpSocket};
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
    fn replies_are_parsed_to_their_end_and_bad_ones_refused() {
        let mut found = Vec::new();
        assert!(parse(&[], Protocol::Tcp, &mut found).unwrap());
        let mut done = vec![0u8; HEADER];
        done[..4].copy_from_slice(&(HEADER as u32).to_ne_bytes());
        done[4..6].copy_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
        assert!(parse(&done, Protocol::Tcp, &mut found).unwrap());
        let mut short = done.clone();
        short[..4].copy_from_slice(&4u32.to_ne_bytes());
        assert!(parse(&short, Protocol::Tcp, &mut found).is_err());
        assert!(found.is_empty());
    }
}
