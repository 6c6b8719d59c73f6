//! The kernel's sock_diag for unix sockets (`linux/unix_diag.h`), asked
//! about one socket at a time by inode: which socket is its peer; and, once
//! a traced `bind` to a unix address has failed, which sockets are bound to
//! that address (`bound_to`).
//!
//! Each peer question is one request and one reply of a single record;
//! nothing is dumped, so what sockcheck reads does not grow with the host's
//! sockets. Only `bound_to` dumps the namespace's unix sockets, and only
//! after a failed bind.

use super::sock_diag::{field, Ask, Record, SockDiag, NO_COOKIE};
use std::io;

/// `UDIAG_SHOW_PEER`: include the peer's inode.
const UDIAG_SHOW_PEER: u32 = 0x4;
/// `UNIX_DIAG_PEER`: the attribute holding the peer's inode (u32).
const UNIX_DIAG_PEER: u16 = 2;
/// `UDIAG_SHOW_NAME` and `UDIAG_SHOW_VFS`: include the bound name and the
/// socket file's inode and device.
const UDIAG_SHOW_NAME_AND_VFS: u32 = 0x1 | 0x2;
/// `UNIX_DIAG_NAME`: the bound `sun_path` bytes (a leading NUL: abstract).
const UNIX_DIAG_NAME: u16 = 0;
/// `UNIX_DIAG_VFS`: `struct unix_diag_vfs`, the socket file's inode (u32)
/// then its device (u32, the kernel's encoding: major << 20 | minor).
const UNIX_DIAG_VFS: u16 = 1;
/// `struct unix_diag_msg`'s size, and where its `udiag_ino` is.
const DIAG_MSG_LEN: usize = 16;
const DIAG_MSG_INODE: usize = 4;

/// A netlink socket for sock_diag questions about unix sockets.
pub(super) struct UnixDiag {
    netlink: SockDiag,
}

impl UnixDiag {
    /// Opens the netlink socket (it is closed when this drops).
    pub(super) fn open() -> io::Result<UnixDiag> {
        Ok(UnixDiag {
            netlink: SockDiag::open()?,
        })
    }

    /// The inode of the peer of unix socket `inode`; `None` when it has no
    /// peer, the peer is closed, or the socket is gone.
    pub(super) fn peer_of(&mut self, inode: u64) -> io::Result<Option<u64>> {
        let Ok(inode) = u32::try_from(inode) else {
            return Ok(None); // unix_diag carries 32-bit inodes only
        };
        let mut peer = None;
        // No record when the socket closed since it was listed.
        let request = request(inode, UDIAG_SHOW_PEER);
        self.netlink.ask(&request, Ask::Lookup, |record| {
            peer = peer_in(record, inode)?;
            Ok(())
        })?;
        Ok(peer)
    }
}

/// What a unix socket is bound to, as far as `bound_to` compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundName {
    /// A path, by the socket file it made: its device (`st_dev`) and inode.
    File {
        /// The file's device, as `stat` gives it.
        device: u64,
        /// The file's inode.
        inode: u64,
    },
    /// An abstract name (the bytes after the leading NUL).
    Abstract(Vec<u8>),
}

/// The inodes of the unix sockets of this network namespace bound to
/// `name`: one dump of every unix socket with its name and socket file.
pub(super) fn bound_to(name: &BoundName) -> io::Result<Vec<u64>> {
    let mut found = Vec::new();
    let request = request(0, UDIAG_SHOW_NAME_AND_VFS);
    SockDiag::open()?.ask(&request, Ask::Dump, |record| {
        let inode = field(record.bytes(), DIAG_MSG_INODE).map(u32::from_ne_bytes);
        if let Some(inode) = inode.filter(|_| is_bound_to(record, name)) {
            found.push(u64::from(inode));
        }
        Ok(())
    })?;
    Ok(found)
}

/// True when the socket of `record` is bound to `name`.
fn is_bound_to(record: Record<'_>, name: &BoundName) -> bool {
    let word = |bytes: &[u8], at| field(bytes, at).map(u32::from_ne_bytes);
    match name {
        BoundName::File { device, inode } => {
            let vfs = record.attribute(DIAG_MSG_LEN, UNIX_DIAG_VFS).ok().flatten();
            let Some((file, dev)) = vfs.and_then(|vfs| Some((word(vfs, 0)?, word(vfs, 4)?))) else {
                return false;
            };
            u64::from(file) == *inode && libc::makedev(dev >> 20, dev & 0xf_ffff) == *device
        }
        BoundName::Abstract(wanted) => {
            let bound = record
                .attribute(DIAG_MSG_LEN, UNIX_DIAG_NAME)
                .ok()
                .flatten();
            bound.and_then(<[u8]>::split_first) == Some((&0, wanted.as_slice()))
        }
    }
}

/// `unix_diag_req` asking for socket `inode` (0 in a dump), with what
/// `show` asks.
fn request(inode: u32, show: u32) -> Vec<u8> {
    let mut request = Vec::with_capacity(24);
    request.push(libc::AF_UNIX as u8); // sdiag_family
    request.push(0); // sdiag_protocol
    request.extend_from_slice(&0u16.to_ne_bytes()); // pad
    request.extend_from_slice(&u32::MAX.to_ne_bytes()); // udiag_states: any
    request.extend_from_slice(&inode.to_ne_bytes());
    request.extend_from_slice(&show.to_ne_bytes());
    request.extend_from_slice(&NO_COOKIE.to_ne_bytes());
    request.extend_from_slice(&NO_COOKIE.to_ne_bytes());
    request
}

/// The peer inode in the kernel's record of socket `inode`.
fn peer_in(record: Record<'_>, inode: u32) -> io::Result<Option<u64>> {
    let malformed = || io::Error::new(io::ErrorKind::InvalidData, "malformed unix_diag record");
    if field(record.bytes(), DIAG_MSG_INODE).map(u32::from_ne_bytes) != Some(inode) {
        return Err(malformed());
    }
    let Some(peer) = record.attribute(DIAG_MSG_LEN, UNIX_DIAG_PEER)? else {
        return Ok(None);
    };
    let peer = field(peer, 0)
        .map(u32::from_ne_bytes)
        .ok_or_else(malformed)?;
    // A closed peer is orphaned: the kernel reports inode 0.
    Ok((peer != 0).then_some(u64::from(peer)))
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
    fn a_path_s_socket_is_found_by_its_file_and_an_abstract_name_by_name() {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bound.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let file = std::fs::symlink_metadata(&path).unwrap();
        let by_file = BoundName::File {
            device: file.dev(),
            inode: file.ino(),
        };
        assert_eq!(bound_to(&by_file).unwrap(), [inode(&listener)]);
        drop(listener);
        assert_eq!(bound_to(&by_file).unwrap(), [0u64; 0], "the file stays");

        let name = format!("sockcheck-test-{}", std::process::id());
        let address = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        let listener = UnixListener::bind_addr(&address).unwrap();
        let by_name = BoundName::Abstract(name.into_bytes());
        assert_eq!(bound_to(&by_name).unwrap(), [inode(&listener)]);
    }

    #[test]
    fn a_socket_that_is_not_there_has_no_peer() {
        let mut diag = UnixDiag::open().unwrap();
        assert_eq!(diag.peer_of(u64::from(u32::MAX - 7)).unwrap(), None);
        assert_eq!(diag.peer_of(u64::MAX).unwrap(), None);
    }
}
