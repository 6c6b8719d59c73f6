//! Reading which sockets a process holds right now, through one of two
//! [`Backend`]s.
//!
//! On Linux each socket the process holds is asked directly (its fd list in
//! `/proc/PID/fd`, then `getsockopt`/`getsockname` on the socket itself, via
//! `pidfd_getfd` for another process), so the cost depends on the process's
//! own sockets, never on how many sockets the host has. Elsewhere the socket
//! table comes from netstat2, filtered by process id. The netstat2 backend
//! is built on Linux too, so that it is compiled and tested against the
//! per-fd one on the same sockets; `SOCKCHECK_SNAPSHOT=netstat2` makes
//! [`own_sockets`] and [`process_sockets`] use it.

use crate::socket::{Address, Socket};
use std::collections::HashSet;
use std::fmt;
use std::io;
#[cfg(target_os = "linux")]
use std::os::fd::{AsFd, AsRawFd};
use std::str::FromStr;

#[cfg(target_os = "linux")]
mod linux;
mod netstat;
#[cfg(target_os = "linux")]
pub mod sock_diag;
#[cfg(target_os = "linux")]
mod sockaddr;
#[cfg(target_os = "linux")]
mod unix_diag;

/// Linux: what a unix socket is bound to, to look for the sockets bound to
/// an address ([`unix_sockets_bound_to`]).
#[cfg(target_os = "linux")]
pub use unix_diag::BoundName;

/// Linux: the inodes of the unix sockets of this network namespace bound to
/// `name` (sock_diag: one dump of every unix socket, so only after a bind
/// on that address failed).
#[cfg(target_os = "linux")]
pub fn unix_sockets_bound_to(name: &BoundName) -> io::Result<Vec<u64>> {
    unix_diag::bound_to(name)
}

/// Environment variable naming the [`Backend`] that [`own_sockets`] and
/// [`process_sockets`] use: `per-fd` (Linux only, its default) or
/// `netstat2` (the default elsewhere). Meant for tests: it runs the harness
/// and the guard on Linux as they run on macOS and Windows.
pub const BACKEND_ENV: &str = "SOCKCHECK_SNAPSHOT";

/// Where the sockets of a process are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// Linux: the process's socket fds, each asked its protocol, addresses
    /// and state. Costs the same however many sockets the host has.
    #[cfg(target_os = "linux")]
    PerFd,
    /// netstat2's socket table, filtered by pid: the backend of macOS and
    /// Windows. On Linux it dumps every socket of the network namespace
    /// and scans every process's fds to find the holders, so it costs more
    /// the busier the host is; and it says nothing of unix sockets.
    Netstat2,
}

impl Backend {
    /// Every backend built on this platform.
    pub const ALL: &[Backend] = &[
        #[cfg(target_os = "linux")]
        Backend::PerFd,
        Backend::Netstat2,
    ];

    /// The platform's backend: per-fd on Linux, netstat2 elsewhere.
    pub const fn platform() -> Backend {
        #[cfg(target_os = "linux")]
        return Backend::PerFd;
        #[cfg(not(target_os = "linux"))]
        return Backend::Netstat2;
    }

    /// The backend [`BACKEND_ENV`] names, else the platform's.
    pub fn from_env() -> Result<Backend, SnapshotError> {
        match std::env::var(BACKEND_ENV) {
            Ok(name) if !name.is_empty() => name.parse(),
            _ => Ok(Backend::platform()),
        }
    }

    /// The name [`BACKEND_ENV`] takes: `per-fd` or `netstat2`.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(target_os = "linux")]
            Backend::PerFd => "per-fd",
            Backend::Netstat2 => "netstat2",
        }
    }

    /// The sockets held by the calling process.
    pub fn own_sockets(self) -> Result<Vec<Socket>, SnapshotError> {
        match self {
            #[cfg(target_os = "linux")]
            Backend::PerFd => linux::own_sockets(),
            Backend::Netstat2 => netstat::process_sockets(std::process::id()),
        }
    }

    /// The sockets held by process `pid` (see [`process_sockets`]).
    pub fn process_sockets(self, pid: u32) -> Result<Vec<Socket>, SnapshotError> {
        match self {
            #[cfg(target_os = "linux")]
            Backend::PerFd => linux::process_sockets(pid),
            Backend::Netstat2 => netstat::process_sockets(pid),
        }
    }
}

impl FromStr for Backend {
    type Err = SnapshotError;

    fn from_str(name: &str) -> Result<Backend, SnapshotError> {
        Backend::ALL
            .iter()
            .copied()
            .find(|backend| backend.name() == name)
            .ok_or_else(|| SnapshotError::UnknownBackend(name.to_owned()))
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the sockets of a process could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The process's fd list (e.g. `/proc/PID/fd`) could not be read.
    FdList {
        /// What was being read.
        path: String,
        /// What the OS said.
        source: io::Error,
    },
    /// The process could not be opened for inspection (`pidfd_open`/`pidfd_getfd`).
    Access {
        /// The process.
        pid: u32,
        /// What the OS said.
        source: io::Error,
    },
    /// The platform's socket table could not be read.
    Table(String),
    /// [`BACKEND_ENV`] names no backend built here.
    UnknownBackend(String),
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::FdList { path, source } => write!(
                f,
                "cannot read {path}: {source} (is /proc mounted and readable?)"
            ),
            SnapshotError::Access { pid, source } => write!(
                f,
                "cannot inspect the sockets of process {pid}: {source} \
                 (sockcheck needs ptrace access to the processes it runs)"
            ),
            SnapshotError::Table(reason) => write!(f, "cannot read the socket table: {reason}"),
            SnapshotError::UnknownBackend(name) => {
                let names: Vec<&str> = Backend::ALL.iter().map(|b| b.name()).collect();
                write!(
                    f,
                    "{BACKEND_ENV}={name} names no socket backend (expected one of: {}; \
                     or unset it)",
                    names.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SnapshotError::FdList { source, .. } | SnapshotError::Access { source, .. } => {
                Some(source)
            }
            SnapshotError::Table(_) | SnapshotError::UnknownBackend(_) => None,
        }
    }
}

/// The sockets held by the calling process, through
/// [`Backend::from_env`].
pub fn own_sockets() -> Result<Vec<Socket>, SnapshotError> {
    Backend::from_env()?.own_sockets()
}

/// The sockets held by process `pid`, through [`Backend::from_env`].
///
/// On Linux the caller needs ptrace access to `pid` (it traces it, or may
/// attach to it); the process is not disturbed.
pub fn process_sockets(pid: u32) -> Result<Vec<Socket>, SnapshotError> {
    Backend::from_env()?.process_sockets(pid)
}

/// Linux: the sockets in the fd table of thread `tid` of process `pid`,
/// which differs from the process's own when the thread unshared it
/// (`unshare(CLONE_FILES)`). Needs Linux 6.9 (`PIDFD_THREAD`) to describe
/// them; the caller needs ptrace access.
#[cfg(target_os = "linux")]
pub fn thread_sockets(pid: u32, tid: u32) -> Result<Vec<Socket>, SnapshotError> {
    linux::thread_sockets(pid, tid)
}

/// Linux: a duplicate of fd `fd` of thread `tid`, to ask the socket
/// about itself (its type, its address) while the thread runs on; taken
/// through a pidfd of the thread (Linux 6.9 on), else of its process
/// (`process`, called only then). The caller needs ptrace access.
#[cfg(target_os = "linux")]
pub fn duplicate_fd(
    tid: u32,
    fd: i32,
    process: impl FnOnce() -> u32,
) -> io::Result<std::os::fd::OwnedFd> {
    linux::duplicate_fd(tid, fd, process)
}

/// Linux: the local address of socket `socket` (`getsockname`); `None`
/// when it is no socket, or no IP or unix one.
#[cfg(target_os = "linux")]
pub fn local_address(socket: impl AsFd) -> Option<Address> {
    linux::address(socket.as_fd().as_raw_fd(), libc::getsockname)
}

/// Linux: the integer value of socket option `name` at `level` of socket
/// `socket` (`getsockopt`, e.g. `SOL_SOCKET`, `SO_TYPE`); `None` when it
/// has no such option.
#[cfg(target_os = "linux")]
pub fn socket_option(
    socket: impl AsFd,
    level: libc::c_int,
    name: libc::c_int,
) -> Option<libc::c_int> {
    linux::socket_option(socket.as_fd().as_raw_fd(), level, name)
}

/// Linux: the IPv4, IPv6 or unix address of the `struct sockaddr` in
/// `bytes` (as many as its length says), as `bind` and `connect` take it;
/// `None` for another family or too few bytes.
#[cfg(target_os = "linux")]
pub fn sockaddr_address(bytes: &[u8]) -> Option<Address> {
    sockaddr::address(bytes)
}

/// Linux: the inodes of the sockets process `pid` holds, each once, read
/// from its fd links alone (no socket is asked anything): cheap enough for
/// a tracer to call while the process runs. The caller needs ptrace access.
#[cfg(target_os = "linux")]
pub fn socket_inodes(pid: u32) -> Result<Vec<u64>, SnapshotError> {
    linux::socket_inodes(pid)
}

/// Linux: the inode of the socket at fd `fd` of process `pid`; `None` when
/// that fd is no socket, is closed, or the process is gone.
#[cfg(target_os = "linux")]
pub fn fd_socket_inode(pid: u32, fd: i32) -> Option<u64> {
    linux::fd_socket_inode(pid, fd)
}

/// Sockets in `after` that were not in `before`: what happened in between opened.
///
/// Sockets are matched by inode where the platform has one, else by protocol
/// and addresses.
pub fn opened_since(before: &[Socket], after: &[Socket]) -> Vec<Socket> {
    let known: HashSet<_> = before.iter().map(identity).collect();
    after
        .iter()
        .filter(|socket| !known.contains(&identity(socket)))
        .cloned()
        .collect()
}

/// The inode where there is one, else protocol and addresses.
#[derive(PartialEq, Eq, Hash)]
enum Identity<'a> {
    Inode(u64),
    Addresses(crate::socket::Protocol, &'a Address, &'a Address),
}

fn identity(socket: &Socket) -> Identity<'_> {
    if socket.inode != 0 {
        Identity::Inode(socket.inode)
    } else {
        Identity::Addresses(socket.protocol, &socket.local, &socket.remote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::State;
    use std::net::{TcpListener, TcpStream, UdpSocket};

    fn find(sockets: &[Socket], local: std::net::SocketAddr) -> Option<&Socket> {
        sockets.iter().find(|s| s.local == local)
    }

    #[test]
    fn own_sockets_sees_a_listener_a_connection_and_udp_with_their_states() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_side, _) = listener.accept().unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        drop(server_side); // the client side is now CLOSE_WAIT

        let sockets = own_sockets().unwrap();
        let pid = std::process::id();
        let listen = find(&sockets, listener.local_addr().unwrap()).expect("listener seen");
        assert_eq!((listen.state, listen.pid), (State::Listen, pid));
        let close_wait = find(&sockets, client.local_addr().unwrap()).expect("client seen");
        assert_eq!(close_wait.state, State::CloseWait);
        assert_eq!(close_wait.remote, listener.local_addr().unwrap());
        let bound = find(&sockets, udp.local_addr().unwrap()).expect("udp seen");
        assert_eq!(bound.state, State::Unconn);
    }

    #[test]
    fn a_socket_held_through_two_fds_is_one_socket() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _clone = listener.try_clone().unwrap();
        let sockets = own_sockets().unwrap();
        let local = listener.local_addr().unwrap();
        assert_eq!(sockets.iter().filter(|s| s.local == local).count(), 1);
    }

    #[test]
    fn opened_since_keeps_only_new_sockets() {
        let old = TcpListener::bind("127.0.0.1:0").unwrap();
        let before = own_sockets().unwrap();
        let new = TcpListener::bind("127.0.0.1:0").unwrap();
        let after = own_sockets().unwrap();
        let opened = opened_since(&before, &after);
        assert!(find(&opened, new.local_addr().unwrap()).is_some());
        assert!(find(&opened, old.local_addr().unwrap()).is_none());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn process_sockets_reads_another_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let sockets = process_sockets(child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(sockets.unwrap(), []);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_socket_is_asked_its_local_address_and_options() {
        use std::os::fd::{AsFd, BorrowedFd};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = UdpSocket::bind("[::1]:0").unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        let local = |fd: BorrowedFd<'_>| local_address(fd).and_then(|address| address.inet());
        let option = |fd: BorrowedFd<'_>, name| socket_option(fd, libc::SOL_SOCKET, name);
        assert_eq!(local(listener.as_fd()), listener.local_addr().ok());
        assert_eq!(local(udp.as_fd()), udp.local_addr().ok());
        assert_eq!(option(listener.as_fd(), libc::SO_ACCEPTCONN), Some(1));
        assert_eq!(option(udp.as_fd(), libc::SO_TYPE), Some(libc::SOCK_DGRAM));
        assert_eq!(local_address(&file), None);
        assert_eq!(option(file.as_fd(), libc::SO_TYPE), None);
    }

    #[test]
    fn a_missing_process_is_an_error_not_a_panic() {
        let err = process_sockets(u32::MAX >> 2).unwrap_err();
        assert!(!err.to_string().is_empty());
    }
}
