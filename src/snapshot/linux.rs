//! Linux: ask each socket fd of the process directly.

use super::SnapshotError;
use crate::socket::{Address, Family, Protocol, Socket, State};
use std::fs;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

pub(super) fn own_sockets() -> Result<Vec<Socket>, SnapshotError> {
    let pid = std::process::id();
    let fds = socket_fds("/proc/self/fd")?;
    Ok(fds
        .into_iter()
        .filter_map(|(fd, inode)| {
            // SAFETY: the fd was listed as open in this process a moment ago;
            // if it was closed since, the syscalls below fail with EBADF and
            // the socket is skipped. It is only borrowed, never closed.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            describe(fd, inode, pid)
        })
        .collect())
}

pub(super) fn process_sockets(pid: u32) -> Result<Vec<Socket>, SnapshotError> {
    let fds = socket_fds(&format!("/proc/{pid}/fd"))?;
    if fds.is_empty() {
        return Ok(Vec::new());
    }
    let access = |source| SnapshotError::Access { pid, source };
    let pidfd = pidfd_open(pid).map_err(access)?;
    let mut sockets = Vec::with_capacity(fds.len());
    for (fd, inode) in fds {
        match pidfd_getfd(&pidfd, fd) {
            // The duplicate is closed when `dup` drops, right after the look:
            // a kept duplicate would hold the socket open.
            Ok(dup) => sockets.extend(describe(dup.as_fd(), inode, pid)),
            // Closed between the listing and now: it is gone, not a leak.
            Err(e) if e.raw_os_error() == Some(libc::EBADF) => {}
            Err(e) => return Err(access(e)),
        }
    }
    Ok(sockets)
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
    let mut seen = std::collections::HashSet::new();
    for entry in entries.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // An fd closed since the listing has no link any more: skip it.
        let Ok(target) = fs::read_link(entry.path()) else {
            continue;
        };
        let inode = target
            .to_str()
            .and_then(|t| t.strip_prefix("socket:["))
            .and_then(|t| t.strip_suffix(']'))
            .and_then(|t| t.parse().ok());
        if let Some(inode) = inode.filter(|&inode| seen.insert(inode)) {
            fds.push((fd, inode));
        }
    }
    Ok(fds)
}

/// Reads one socket's protocol, addresses and state; `None` for sockets that
/// are not TCP/UDP over IP (unix, netlink, raw, ...) or that vanished.
fn describe(fd: BorrowedFd<'_>, inode: u64, pid: u32) -> Option<Socket> {
    let raw = fd.as_raw_fd();
    let family = match getsockopt_int(raw, libc::SOL_SOCKET, libc::SO_DOMAIN)? {
        libc::AF_INET => Family::Ipv4,
        libc::AF_INET6 => Family::Ipv6,
        _ => return None,
    };
    let protocol = match getsockopt_int(raw, libc::SOL_SOCKET, libc::SO_PROTOCOL)? {
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
        local: local.into(),
        remote: peer.map_or_else(|| Address::unspecified(family), Address::from),
        state,
        inode,
        pid,
    })
}

fn getsockopt_int(fd: RawFd, level: libc::c_int, name: libc::c_int) -> Option<libc::c_int> {
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

/// `getsockname` or `getpeername` as a `SocketAddr`; `None` when not connected.
fn address(fd: RawFd, call: NameCall) -> Option<SocketAddr> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: storage is valid for writes of len bytes.
    let rc = unsafe { call(fd, storage.as_mut_ptr().cast(), &mut len) };
    if rc != 0 {
        return None;
    }
    // SAFETY: zero-initialised, then filled in by the kernel.
    let storage = unsafe { storage.assume_init() };
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let addr: libc::sockaddr_in = unsafe { std::ptr::read((&raw const storage).cast()) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr)),
                u16::from_be(addr.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let addr: libc::sockaddr_in6 = unsafe { std::ptr::read((&raw const storage).cast()) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(addr.sin6_addr.s6_addr),
                u16::from_be(addr.sin6_port),
                addr.sin6_flowinfo,
                addr.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; on success it returns a new fd that we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
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
