//! The kernel's sock_diag for unix sockets (netlink `NETLINK_SOCK_DIAG`),
//! asked about one socket at a time by inode: which socket is its peer.
//!
//! Each question is one request and one reply of a single record; nothing is
//! dumped, so what sockcheck reads does not grow with the host's sockets.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `SOCK_DIAG_BY_FAMILY` from `linux/sock_diag.h`.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `UDIAG_SHOW_PEER` from `linux/unix_diag.h`: include the peer's inode.
const UDIAG_SHOW_PEER: u32 = 0x4;
/// `UNIX_DIAG_PEER`: the attribute holding the peer's inode (u32).
const UNIX_DIAG_PEER: u16 = 2;
/// `INET_DIAG_NOCOOKIE`: look the socket up by inode alone.
const NO_COOKIE: u32 = !0;
/// `struct nlmsghdr` and `struct unix_diag_msg` sizes.
const HEADER_LEN: usize = 16;
const DIAG_MSG_LEN: usize = 16;

/// A netlink socket for sock_diag questions about unix sockets.
pub(super) struct UnixDiag {
    netlink: OwnedFd,
    sequence: u32,
}

impl UnixDiag {
    /// Opens the netlink socket (it is closed when this drops).
    pub(super) fn open() -> io::Result<UnixDiag> {
        // SAFETY: plain syscall; on success it returns a new fd that we own.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_SOCK_DIAG,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the syscall just returned this fd to us and nothing else owns it.
        let netlink = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(UnixDiag {
            netlink,
            sequence: 0,
        })
    }

    /// The inode of the peer of unix socket `inode`; `None` when it has no
    /// peer, the peer is closed, or the socket is gone.
    pub(super) fn peer_of(&mut self, inode: u64) -> io::Result<Option<u64>> {
        let Ok(inode) = u32::try_from(inode) else {
            return Ok(None); // unix_diag carries 32-bit inodes only
        };
        self.sequence = self.sequence.wrapping_add(1);
        self.send(&request(inode, self.sequence))?;
        let mut reply = [0u8; 1024];
        let len = self.receive(&mut reply)?;
        parse_reply(&reply[..len], inode, self.sequence)
    }

    fn send(&self, message: &[u8]) -> io::Result<()> {
        // SAFETY: message is valid for reads of its length.
        let sent = unsafe {
            libc::send(
                self.netlink.as_raw_fd(),
                message.as_ptr().cast(),
                message.len(),
                0,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn receive(&self, buffer: &mut [u8]) -> io::Result<usize> {
        // SAFETY: buffer is valid for writes of its length.
        let received = unsafe {
            libc::recv(
                self.netlink.as_raw_fd(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                0,
            )
        };
        usize::try_from(received).map_err(|_| io::Error::last_os_error())
    }
}

/// `nlmsghdr` + `unix_diag_req` asking for socket `inode` and its peer.
fn request(inode: u32, sequence: u32) -> Vec<u8> {
    let mut message = Vec::with_capacity(HEADER_LEN + 24);
    message.extend_from_slice(&((HEADER_LEN + 24) as u32).to_ne_bytes());
    message.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    message.extend_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    message.extend_from_slice(&sequence.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel
    message.push(libc::AF_UNIX as u8); // sdiag_family
    message.push(0); // sdiag_protocol
    message.extend_from_slice(&0u16.to_ne_bytes()); // pad
    message.extend_from_slice(&u32::MAX.to_ne_bytes()); // udiag_states: any
    message.extend_from_slice(&inode.to_ne_bytes());
    message.extend_from_slice(&UDIAG_SHOW_PEER.to_ne_bytes());
    message.extend_from_slice(&NO_COOKIE.to_ne_bytes());
    message.extend_from_slice(&NO_COOKIE.to_ne_bytes());
    message
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The peer inode in the kernel's reply to request `sequence` about `inode`.
fn parse_reply(reply: &[u8], inode: u32, sequence: u32) -> io::Result<Option<u64>> {
    let malformed = || io::Error::new(io::ErrorKind::InvalidData, "malformed sock_diag reply");
    let len = u32_at(reply, 0).ok_or_else(malformed)? as usize;
    let kind = u16_at(reply, 4).ok_or_else(malformed)?;
    if len > reply.len() || u32_at(reply, 8) != Some(sequence) {
        return Err(malformed());
    }
    if kind == libc::NLMSG_ERROR as u16 {
        let errno = -(u32_at(reply, HEADER_LEN).ok_or_else(malformed)? as i32);
        return match errno {
            libc::ENOENT => Ok(None), // closed since it was listed
            _ => Err(io::Error::from_raw_os_error(errno)),
        };
    }
    if kind != SOCK_DIAG_BY_FAMILY || u32_at(reply, HEADER_LEN + 4) != Some(inode) {
        return Err(malformed());
    }
    let mut at = HEADER_LEN + DIAG_MSG_LEN;
    while let (Some(attr_len), Some(attr_type)) = (u16_at(reply, at), u16_at(reply, at + 2)) {
        let attr_len = usize::from(attr_len);
        if attr_len < 4 || at + attr_len > len {
            return Err(malformed());
        }
        if attr_type == UNIX_DIAG_PEER {
            let peer = u32_at(reply, at + 4).ok_or_else(malformed)?;
            // A closed peer is orphaned: the kernel reports inode 0.
            return Ok((peer != 0).then_some(u64::from(peer)));
        }
        at += (attr_len + 3) & !3;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::{UnixListener, UnixStream};

    fn inode(fd: impl AsFd) -> u64 {
        use std::os::unix::fs::MetadataExt;
        let file = std::fs::File::from(fd.as_fd().try_clone_to_owned().unwrap());
        file.metadata().unwrap().ino()
    }

    #[test]
    fn the_peer_of_each_socketpair_end_is_the_other_end() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut diag = UnixDiag::open().unwrap();
        assert_eq!(diag.peer_of(inode(&a)).unwrap(), Some(inode(&b)));
        assert_eq!(diag.peer_of(inode(&b)).unwrap(), Some(inode(&a)));
    }

    #[test]
    fn a_listener_has_no_peer_and_a_closed_peer_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("l.sock")).unwrap();
        let mut diag = UnixDiag::open().unwrap();
        assert_eq!(diag.peer_of(inode(&listener)).unwrap(), None);
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        assert_eq!(diag.peer_of(inode(&a)).unwrap(), None);
    }

    #[test]
    fn a_socket_that_is_not_there_has_no_peer() {
        let mut diag = UnixDiag::open().unwrap();
        assert_eq!(diag.peer_of(u64::from(u32::MAX - 7)).unwrap(), None);
        assert_eq!(diag.peer_of(u64::MAX).unwrap(), None);
    }
}
