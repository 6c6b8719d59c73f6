//! Linux: ask each socket fd of the process directly (TCP and UDP over IP,
//! and unix sockets), on a duplicate of the fd confirmed by its inode.

use super::unix_diag::UnixDiag;
use super::{sockaddr, SnapshotError};
use crate::socket::{Address, Family, Protocol, Socket, State, UnixType};
use std::collections::HashSet;
use std::fs;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

pub(super) fn own_sockets() -> Result<Vec<Socket>, SnapshotError> {
    let pid = std::process::id();
    let fds = socket_fds("/proc/self/fd")?;
    let mut sockets: Vec<Socket> = fds
        .iter()
        .filter_map(|&(fd, inode)| {
            // SAFETY: the fd was listed as open in this process a moment ago;
            // if it was closed since, the duplication fails with EBADF and
            // the socket is skipped. It is only borrowed, never closed.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            // A duplicate keeps the socket from closing under the look; the
            // inode check tells a reused fd from the socket listed.
            let dup = fd.try_clone_to_owned().ok()?;
            describe(dup.as_fd(), inode, pid)
        })
        .collect();
    mark_pairs(&mut sockets, &fds);
    Ok(sockets)
}

pub(super) fn process_sockets(pid: u32) -> Result<Vec<Socket>, SnapshotError> {
    sockets_in(pid, &format!("/proc/{pid}/fd"), || pidfd_open(pid, 0))
}

/// The sockets in the fd table of thread `tid` of process `pid`: the
/// process's own table, or one the thread made its own
/// (`unshare(CLONE_FILES)`, a `clone` without `CLONE_FILES`).
pub(super) fn thread_sockets(pid: u32, tid: u32) -> Result<Vec<Socket>, SnapshotError> {
    let dir = format!("/proc/{pid}/task/{tid}/fd");
    sockets_in(pid, &dir, || pidfd_open(tid, PIDFD_THREAD))
}

/// `PIDFD_THREAD` (Linux 6.9): a pidfd for a thread, not only a process.
const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;

/// A duplicate of fd `fd` of thread `tid`, through a pidfd of the thread
/// where the kernel has them (6.9 on), else of its process (`process`,
/// asked only then).
pub(super) fn duplicate_fd(
    tid: u32,
    fd: RawFd,
    process: impl FnOnce() -> u32,
) -> io::Result<OwnedFd> {
    let pidfd = pidfd_open(tid, PIDFD_THREAD).or_else(|_| pidfd_open(process(), 0))?;
    pidfd_getfd(&pidfd, fd)
}

/// The sockets listed in fd directory `dir` of process `pid`, each asked
/// through a duplicate taken with the pidfd `open` makes.
fn sockets_in(
    pid: u32,
    dir: &str,
    open: impl FnOnce() -> io::Result<OwnedFd>,
) -> Result<Vec<Socket>, SnapshotError> {
    let fds = socket_fds(dir)?;
    if fds.is_empty() {
        return Ok(Vec::new());
    }
    let access = |source| SnapshotError::Access { pid, source };
    let pidfd = open().map_err(access)?;
    let mut sockets = Vec::with_capacity(fds.len());
    for &(fd, inode) in &fds {
        match pidfd_getfd(&pidfd, fd) {
            // The duplicate is closed when `dup` drops, right after the look:
            // a kept duplicate would hold the socket open.
            Ok(dup) => sockets.extend(describe(dup.as_fd(), inode, pid)),
            // Closed between the listing and now: it is gone, not a leak.
            Err(e) if e.raw_os_error() == Some(libc::EBADF) => {}
            Err(e) => return Err(access(e)),
        }
    }
    mark_pairs(&mut sockets, &fds);
    Ok(sockets)
}

/// Marks the connected unix sockets whose peer is also held by the process
/// (its socket fds are `fds`): a socketpair, or a connection to itself.
///
/// The peer's inode comes from the kernel's sock_diag, asked about each such
/// socket by inode; the netlink socket is opened only when there is one.
/// Where sock_diag is unavailable the sockets stay unmarked: they are then
/// reported as warnings, never as errors.
fn mark_pairs(sockets: &mut [Socket], fds: &[(RawFd, u64)]) {
    let held: HashSet<u64> = fds.iter().map(|&(_, inode)| inode).collect();
    let mut diag: Option<UnixDiag> = None;
    for socket in sockets
        .iter_mut()
        .filter(|s| s.protocol == Protocol::Unix && s.state == State::Established)
    {
        if diag.is_none() {
            diag = UnixDiag::open().ok();
        }
        let Some(diag) = diag.as_mut() else { return };
        if let Ok(Some(peer)) = diag.peer_of(socket.inode) {
            socket.peer_in_process = held.contains(&peer);
        }
    }
}

/// `(fd, inode)` of every socket in an fd directory such as `/proc/PID/fd`,
/// one fd per socket: a socket held through two fds (`try_clone`, `dup`)
/// is one socket.
fn socket_fds(dir: &str) -> Result<Vec<(RawFd, u64)>, SnapshotError> {
    let entries = fs::read_dir(dir).map_err(|source| SnapshotError::FdList {
        path: dir.to_owned(),
        source,
    })?;
    let mut fds = Vec::new();
    let mut seen = HashSet::new();
    for entry in entries.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // An fd closed since the listing has no link any more: skip it.
        let inode = fs::read_link(entry.path())
            .ok()
            .and_then(|t| socket_link_inode(&t));
        if let Some(inode) = inode.filter(|&inode| seen.insert(inode)) {
            fds.push((fd, inode));
        }
    }
    Ok(fds)
}

/// The inodes of the sockets process `pid` holds, each once, from its fd
/// links alone.
pub(super) fn socket_inodes(pid: u32) -> Result<Vec<u64>, SnapshotError> {
    let fds = socket_fds(&format!("/proc/{pid}/fd"))?;
    Ok(fds.into_iter().map(|(_, inode)| inode).collect())
}

/// The inode of the socket at fd `fd` of process `pid`; `None` when that
/// fd is no socket (or is closed, or the process is gone).
pub(super) fn fd_socket_inode(pid: u32, fd: RawFd) -> Option<u64> {
    socket_link_inode(&fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?)
}

/// The inode an fd link's target names when it is a socket (`socket:[N]`).
fn socket_link_inode(target: &Path) -> Option<u64> {
    target
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Reads one socket's protocol, addresses and state; `None` for sockets that
/// are neither IP (TCP/UDP) nor unix (netlink, raw, ...), that vanished, or
/// whose fd now holds another file than socket `inode`.
fn describe(fd: BorrowedFd<'_>, inode: u64, pid: u32) -> Option<Socket> {
    if !is_socket(fd, inode) {
        return None;
    }
    let raw = fd.as_raw_fd();
    match socket_option(raw, libc::SOL_SOCKET, libc::SO_DOMAIN)? {
        libc::AF_INET => describe_inet(raw, Family::Ipv4, inode, pid),
        libc::AF_INET6 => describe_inet(raw, Family::Ipv6, inode, pid),
        libc::AF_UNIX => describe_unix(raw, inode, pid),
        _ => None,
    }
}

/// True when `fd` is socket `inode`: an fd closed and reused since the
/// listing holds another file, which must not be described as the old socket.
fn is_socket(fd: BorrowedFd<'_>, inode: u64) -> bool {
    let mut stat = MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: stat is valid for writes of a `struct stat`.
    if unsafe { libc::fstat(fd.as_raw_fd(), stat.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: zero-initialised, then filled in by the kernel.
    let stat = unsafe { stat.assume_init() };
    stat.st_mode & libc::S_IFMT == libc::S_IFSOCK && stat.st_ino == inode
}

fn describe_inet(raw: RawFd, family: Family, inode: u64, pid: u32) -> Option<Socket> {
    let protocol = match socket_option(raw, libc::SOL_SOCKET, libc::SO_PROTOCOL)? {
        libc::IPPROTO_TCP => Protocol::Tcp,
        libc::IPPROTO_UDP => Protocol::Udp,
        _ => return None,
    };
    let local = address(raw, libc::getsockname)?;
    let peer = address(raw, libc::getpeername);
    let state = match protocol {
        Protocol::Tcp => State::from_linux_tcp(tcp_state(raw)?)?,
        _ if peer.is_some() => State::Established,
        _ => State::Unconn,
    };
    Some(Socket {
        protocol,
        family,
        unix_type: None,
        local,
        remote: peer.unwrap_or_else(|| Address::unspecified(family)),
        state,
        inode,
        pid,
        peer_in_process: false,
    })
}

/// A unix socket: `LISTEN` (`SO_ACCEPTCONN`), `UNCONN` (no peer),
/// `CLOSE_WAIT` (a stream or seqpacket whose peer closed: `poll` reports
/// `POLLRDHUP`/`POLLHUP`) or `ESTABLISHED`.
fn describe_unix(raw: RawFd, inode: u64, pid: u32) -> Option<Socket> {
    let unix_type = match socket_option(raw, libc::SOL_SOCKET, libc::SO_TYPE)? {
        libc::SOCK_STREAM => UnixType::Stream,
        libc::SOCK_DGRAM => UnixType::Dgram,
        libc::SOCK_SEQPACKET => UnixType::Seqpacket,
        _ => return None,
    };
    let local = address(raw, libc::getsockname)?;
    let peer = address(raw, libc::getpeername);
    let state = if socket_option(raw, libc::SOL_SOCKET, libc::SO_ACCEPTCONN)? != 0 {
        State::Listen
    } else if peer.is_none() {
        State::Unconn
    } else if unix_type != UnixType::Dgram && peer_gone(raw) {
        State::CloseWait
    } else {
        State::Established
    };
    Some(Socket {
        protocol: Protocol::Unix,
        family: Family::Unix,
        unix_type: Some(unix_type),
        local,
        remote: peer.unwrap_or_else(|| Address::unspecified(Family::Unix)),
        state,
        inode,
        pid,
        peer_in_process: false,
    })
}

/// True when the peer of a connected unix stream will send no more: it
/// closed (or shut down writing). Polls without waiting.
fn peer_gone(raw: RawFd) -> bool {
    let mut poll = libc::pollfd {
        fd: raw,
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd; a zero timeout never blocks.
    let ready = unsafe { libc::poll(&mut poll, 1, 0) };
    ready > 0 && poll.revents & (libc::POLLRDHUP | libc::POLLHUP) != 0
}

/// The integer value of socket option `name` at `level` (`getsockopt`);
/// `None` when the socket has no such option.
pub(super) fn socket_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
) -> Option<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and len are valid for writes of the sizes given.
    let rc = unsafe { libc::getsockopt(fd, level, name, (&raw mut value).cast(), &mut len) };
    (rc == 0).then_some(value)
}

/// `tcp_info.tcpi_state`, the first byte of `TCP_INFO`.
fn tcp_state(fd: RawFd) -> Option<u8> {
    let mut info = MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: info is valid for writes of len bytes; the kernel writes at most len.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    // SAFETY: zero-initialised plain data, partly overwritten by the kernel.
    (rc == 0).then(|| unsafe { info.assume_init() }.tcpi_state)
}

type NameCall =
    unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int;

/// `getsockname` or `getpeername` as an address; `None` when not connected.
pub(super) fn address(fd: RawFd, call: NameCall) -> Option<Address> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: storage is valid for writes of len bytes.
    let rc = unsafe { call(fd, storage.as_mut_ptr().cast(), &mut len) };
    if rc != 0 {
        return None;
    }
    let len = (len as usize).min(size_of::<libc::sockaddr_storage>());
    // SAFETY: zero-initialised plain data (then partly filled in by the
    // kernel), viewed as its first `len` bytes.
    let bytes = unsafe { std::slice::from_raw_parts(storage.as_ptr().cast::<u8>(), len) };
    sockaddr::address(bytes)
}

fn pidfd_open(pid: u32, flags: libc::c_uint) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; on success it returns a new fd that we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, flags) };
    owned(fd)
}

fn pidfd_getfd(pidfd: &OwnedFd, target_fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; on success it returns a new fd that we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target_fd, 0) };
    owned(fd)
}

fn owned(fd: libc::c_long) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the syscall just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::UnixAddress;
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::net::{self, UnixDatagram, UnixListener, UnixStream};
    use std::process::{Command, Stdio};

    fn inode_of(fd: impl AsFd) -> u64 {
        let file = fs::File::from(fd.as_fd().try_clone_to_owned().unwrap());
        file.metadata().unwrap().ino()
    }

    #[test]
    fn fd_links_name_socket_inodes_only() {
        assert_eq!(socket_link_inode(Path::new("socket:[4242]")), Some(4242));
        assert_eq!(socket_link_inode(Path::new("pipe:[4242]")), None);
        assert_eq!(socket_link_inode(Path::new("/dev/null")), None);
    }

    #[test]
    fn a_process_s_socket_inodes_are_read_from_its_fd_links() {
        let pid = std::process::id();
        let name = format!("sockcheck-fd-links-{pid}");
        let listener =
            net::UnixListener::bind_addr(&net::SocketAddr::from_abstract_name(name).unwrap())
                .unwrap();
        let file = fs::File::open("/dev/null").unwrap();
        let inode = inode_of(&listener);
        assert_eq!(fd_socket_inode(pid, listener.as_raw_fd()), Some(inode));
        assert_eq!(fd_socket_inode(pid, file.as_raw_fd()), None);
        assert!(socket_inodes(pid).unwrap().contains(&inode));
    }

    /// The socket of `fd` as a snapshot of this process describes it.
    fn seen(fd: impl AsFd) -> Socket {
        let inode = inode_of(fd);
        own_sockets()
            .unwrap()
            .into_iter()
            .find(|s| s.inode == inode)
            .unwrap_or_else(|| panic!("socket {inode} not seen"))
    }

    fn path(address: &Address) -> Option<&[u8]> {
        match address {
            Address::Unix(UnixAddress::Path(path)) => Some(path),
            _ => None,
        }
    }

    #[test]
    fn unix_listeners_are_seen_with_their_path_or_abstract_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("l.sock");
        let by_path = UnixListener::bind(&file).unwrap();
        let name = format!("sockcheck-test-{}", std::process::id());
        let address = net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let by_name = UnixListener::bind_addr(&address).unwrap();

        let listener = seen(&by_path);
        assert_eq!(
            (listener.protocol, listener.family, listener.unix_type),
            (Protocol::Unix, Family::Unix, Some(UnixType::Stream))
        );
        assert_eq!(listener.state, State::Listen);
        assert_eq!(
            path(&listener.local),
            Some(file.as_os_str().as_encoded_bytes())
        );
        assert_eq!(listener.remote, Address::unspecified(Family::Unix));
        let listener = seen(&by_name);
        assert_eq!(listener.state, State::Listen);
        assert_eq!(listener.local.to_string(), format!("@{name}"));
    }

    #[test]
    fn a_unix_stream_whose_peer_closed_is_close_wait_and_shows_the_server_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.sock");
        let listener = UnixListener::bind(&file).unwrap();
        let client = UnixStream::connect(&file).unwrap();
        let (server_side, _) = listener.accept().unwrap();
        assert_eq!(seen(&client).state, State::Established);
        drop(server_side);
        let client = seen(&client);
        assert_eq!(client.state, State::CloseWait);
        assert_eq!(
            path(&client.remote),
            Some(file.as_os_str().as_encoded_bytes())
        );
        assert_eq!(client.local, Address::unspecified(Family::Unix));
    }

    #[test]
    fn both_ends_of_a_socketpair_are_marked_and_a_lone_end_is_not() {
        let (a, b) = UnixStream::pair().unwrap();
        let (da, db) = UnixDatagram::pair().unwrap();
        for end in [seen(&a), seen(&b), seen(&da), seen(&db)] {
            assert_eq!((end.state, end.peer_in_process), (State::Established, true));
        }
        drop(b);
        let a = seen(&a);
        assert_eq!((a.state, a.peer_in_process), (State::CloseWait, false));
    }

    #[test]
    fn a_peer_in_another_process_is_not_in_process_and_its_exit_is_close_wait() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut child = Command::new("sleep")
            .arg("30")
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .spawn()
            .unwrap();
        let before = seen(&ours);
        let in_child = process_sockets(child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            (before.state, before.peer_in_process),
            (State::Established, false)
        );
        let in_child = in_child.unwrap();
        assert_eq!(in_child.len(), 1, "{in_child:?}");
        assert_eq!(
            (in_child[0].state, in_child[0].peer_in_process),
            (State::Established, false)
        );
        assert_eq!(seen(&ours).state, State::CloseWait);
    }

    #[test]
    fn a_bound_unix_datagram_socket_is_unconn_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("d.sock");
        let socket = UnixDatagram::bind(&file).unwrap();
        let socket = seen(&socket);
        assert_eq!(
            (socket.unix_type, socket.state),
            (Some(UnixType::Dgram), State::Unconn)
        );
        assert_eq!(
            path(&socket.local),
            Some(file.as_os_str().as_encoded_bytes())
        );
    }

    #[test]
    fn an_fd_that_now_holds_another_socket_is_not_described_as_the_old_one() {
        let (a, b) = UnixStream::pair().unwrap();
        let inode_b = inode_of(&b);
        assert!(describe(a.as_fd(), inode_b, 1).is_none());
        assert!(describe(a.as_fd(), inode_of(&a), 1).is_some());
        let file = fs::File::open("/proc/self/stat").unwrap();
        assert!(describe(file.as_fd(), inode_of(&file), 1).is_none());
    }
}
