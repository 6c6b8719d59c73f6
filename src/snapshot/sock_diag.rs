//! Linux: a client of the kernel's sock_diag netlink interface
//! (`NETLINK_SOCK_DIAG`, what `ss` reads): one request sent, its reply's
//! messages read to their end (`NLMSG_DONE`, an `NLMSG_ERROR`, or a
//! lookup's one record) and each record's attributes found.
//!
//! It carries requests and records as bytes; each family's own layout
//! stays with its family: unix sockets in `unix_diag` (here), TCP and UDP
//! in cargo-sockcheck's `inet_diag`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `SOCK_DIAG_BY_FAMILY` from `linux/sock_diag.h`: the type of every
/// request and of each record of a reply.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `INET_DIAG_NOCOOKIE`: a lookup that names no socket cookie (the
/// cookie words of `inet_diag_sockid` and `unix_diag_req`).
pub const NO_COOKIE: u32 = u32::MAX;
/// `struct nlmsghdr`'s size; netlink messages and attributes are aligned
/// to 4 bytes.
const HEADER_LEN: usize = 16;
const ALIGN: usize = 4;
/// The least receive buffer of a lookup (one small record) and of a dump
/// (the kernel fills datagrams of up to 32 KiB); it only grows.
const LOOKUP_BUFFER: usize = 8 * 1024;
const DUMP_BUFFER: usize = 64 * 1024;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// The one socket the request names: one record, or none when there
    /// is no such socket (the kernel's `ENOENT`).
    Lookup,
    /// Every socket the request matches (`NLM_F_DUMP`): records until
    /// `NLMSG_DONE`.
    Dump,
}

/// A sock_diag netlink socket; closed when it drops.
#[derive(Debug)]
pub struct SockDiag {
    netlink: OwnedFd,
    sequence: u32,
    buffer: Vec<u8>,
}

/// One record of a reply: the family's `*_diag_msg`, then its attributes.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    bytes: &'a [u8],
}

impl SockDiag {
    /// Opens the netlink socket.
    pub fn open() -> io::Result<SockDiag> {
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
        Ok(SockDiag {
            netlink,
            sequence: 0,
            buffer: Vec::new(),
        })
    }

    /// Sends `request` (a family's `*_diag_req`, which begins with its
    /// `sdiag_family`) and hands each record of the reply to `each`. The
    /// lookup of a socket that is not there hands it nothing; another
    /// `NLMSG_ERROR` reply is its errno as the error, and so is the first
    /// error `each` returns.
    pub fn ask(
        &mut self,
        request: &[u8],
        ask: Ask,
        mut each: impl FnMut(Record<'_>) -> io::Result<()>,
    ) -> io::Result<()> {
        self.sequence = self.sequence.wrapping_add(1);
        self.send(&message(request, ask, self.sequence))?;
        let size = match ask {
            Ask::Lookup => LOOKUP_BUFFER,
            Ask::Dump => DUMP_BUFFER,
        };
        if self.buffer.len() < size {
            self.buffer = vec![0; size]; // zeroed by the allocator, not byte by byte
        }
        loop {
            let len = self.receive()?;
            let read = match read_datagram(&self.buffer[..len], self.sequence, &mut each) {
                Err(error) if ask == Ask::Lookup && error.raw_os_error() == Some(libc::ENOENT) => {
                    Read::End // no such socket
                }
                read => read?,
            };
            match read {
                Read::End => return Ok(()),
                Read::Records if ask == Ask::Lookup => return Ok(()),
                Read::Records | Read::Nothing => {}
            }
        }
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

    /// One datagram of the reply into the buffer; its length.
    fn receive(&mut self) -> io::Result<usize> {
        loop {
            // SAFETY: the buffer is valid for writes of its length.
            let received = unsafe {
                libc::recv(
                    self.netlink.as_raw_fd(),
                    self.buffer.as_mut_ptr().cast(),
                    self.buffer.len(),
                    0,
                )
            };
            match usize::try_from(received) {
                Ok(len) => return Ok(len),
                Err(_) => {
                    let error = io::Error::last_os_error();
                    if error.kind() != io::ErrorKind::Interrupted {
                        return Err(error);
                    }
                }
            }
        }
    }
}

impl<'a> Record<'a> {
    /// The record's bytes after its `nlmsghdr`: the family's `*_diag_msg`
    /// and its attributes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The payload of the record's first attribute of type `kind`; the
    /// attributes follow the family's `*_diag_msg`, of `fixed` bytes.
    /// `None` when the record has no such attribute.
    pub fn attribute(&self, fixed: usize, kind: u16) -> io::Result<Option<&'a [u8]>> {
        let mut rest = self.bytes.get(fixed..).unwrap_or_default();
        while !rest.is_empty() {
            let (Some(len), Some(this)) = (field(rest, 0).map(u16::from_ne_bytes), field(rest, 2))
            else {
                return Err(malformed());
            };
            let len = usize::from(len);
            if len < 4 || len > rest.len() {
                return Err(malformed());
            }
            if u16::from_ne_bytes(this) == kind {
                return Ok(Some(&rest[4..len]));
            }
            rest = rest.get(len.next_multiple_of(ALIGN)..).unwrap_or_default();
        }
        Ok(None)
    }
}

/// The `N` bytes at `at` in `bytes`, to read a field of a request, record
/// or attribute in the byte order it has; `None` past the end.
pub fn field<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// `request` behind the `nlmsghdr` of request `sequence`.
fn message(request: &[u8], ask: Ask, sequence: u32) -> Vec<u8> {
    let flags = match ask {
        Ask::Lookup => libc::NLM_F_REQUEST,
        Ask::Dump => libc::NLM_F_REQUEST | libc::NLM_F_DUMP,
    };
    let len = HEADER_LEN + request.len();
    let mut message = Vec::with_capacity(len);
    message.extend_from_slice(&(len as u32).to_ne_bytes());
    message.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    message.extend_from_slice(&(flags as u16).to_ne_bytes());
    message.extend_from_slice(&sequence.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel
    message.extend_from_slice(request);
    message
}

/// What one datagram of a reply held.
#[derive(Debug, PartialEq, Eq)]
enum Read {
    /// The end of the reply: `NLMSG_DONE`, or nothing at all.
    End,
    /// Records of the reply (a lookup's one, or part of a dump's).
    Records,
    /// Only messages of an earlier request, left unread when it failed.
    Nothing,
}

/// Hands the records of reply `sequence` in `datagram` to `each`.
fn read_datagram(
    mut datagram: &[u8],
    sequence: u32,
    each: &mut impl FnMut(Record<'_>) -> io::Result<()>,
) -> io::Result<Read> {
    if datagram.is_empty() {
        return Ok(Read::End);
    }
    let mut read = Read::Nothing;
    while !datagram.is_empty() {
        let (Some(len), Some(kind), Some(seq)) =
            (field(datagram, 0), field(datagram, 4), field(datagram, 8))
        else {
            return Err(malformed());
        };
        let len = u32::from_ne_bytes(len) as usize;
        if len < HEADER_LEN || len > datagram.len() {
            return Err(malformed());
        }
        let body = &datagram[HEADER_LEN..len];
        if u32::from_ne_bytes(seq) == sequence {
            match libc::c_int::from(u16::from_ne_bytes(kind)) {
                libc::NLMSG_DONE => return Ok(Read::End),
                libc::NLMSG_ERROR => {
                    let errno = field(body, 0).map(i32::from_ne_bytes);
                    return match errno.ok_or_else(malformed)? {
                        0 => Ok(Read::End), // an acknowledgement
                        errno => Err(io::Error::from_raw_os_error(-errno)),
                    };
                }
                kind if kind == libc::c_int::from(SOCK_DIAG_BY_FAMILY) => {
                    each(Record { bytes: body })?;
                    read = Read::Records;
                }
                _ => {}
            }
        }
        datagram = datagram
            .get(len.next_multiple_of(ALIGN)..)
            .unwrap_or_default();
    }
    Ok(read)
}

fn malformed() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "malformed sock_diag reply")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A netlink message of `kind` in reply to request `sequence`.
    fn reply(kind: libc::c_int, sequence: u32, body: &[u8]) -> Vec<u8> {
        let len = HEADER_LEN + body.len();
        let mut bytes = (len as u32).to_ne_bytes().to_vec();
        bytes.extend_from_slice(&(kind as u16).to_ne_bytes());
        bytes.extend_from_slice(&0u16.to_ne_bytes());
        bytes.extend_from_slice(&sequence.to_ne_bytes());
        bytes.extend_from_slice(&0u32.to_ne_bytes());
        bytes.extend_from_slice(body);
        bytes.resize(len.next_multiple_of(ALIGN), 0);
        bytes
    }

    fn record(sequence: u32, body: &[u8]) -> Vec<u8> {
        reply(libc::c_int::from(SOCK_DIAG_BY_FAMILY), sequence, body)
    }

    /// The records' bytes in `datagram`, and what it held.
    fn records(datagram: &[u8], sequence: u32) -> io::Result<(Vec<Vec<u8>>, Read)> {
        let mut found = Vec::new();
        let read = read_datagram(datagram, sequence, &mut |record| {
            found.push(record.bytes().to_vec());
            Ok(())
        })?;
        Ok((found, read))
    }

    #[test]
    fn a_multipart_reply_is_read_up_to_its_done() {
        let mut datagram = record(3, b"one");
        datagram.extend(record(3, b"two!"));
        let (found, read) = records(&datagram, 3).unwrap();
        assert_eq!(
            (found, read),
            (vec![b"one".to_vec(), b"two!".to_vec()], Read::Records)
        );
        let mut last = record(3, b"three");
        last.extend(reply(libc::NLMSG_DONE, 3, &0i32.to_ne_bytes()));
        last.extend(record(3, b"after the end"));
        let (found, read) = records(&last, 3).unwrap();
        assert_eq!((found, read), (vec![b"three".to_vec()], Read::End));
        assert_eq!(records(&[], 3).unwrap().1, Read::End);
    }

    #[test]
    fn an_error_reply_is_its_errno_and_an_acknowledgement_ends_the_reply() {
        let error = reply(libc::NLMSG_ERROR, 1, &(-libc::ENOENT).to_ne_bytes());
        let error = records(&error, 1).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ENOENT));
        let ack = reply(libc::NLMSG_ERROR, 1, &0i32.to_ne_bytes());
        assert_eq!(records(&ack, 1).unwrap().1, Read::End);
        let short = reply(libc::NLMSG_ERROR, 1, &[0xff]);
        assert_eq!(
            records(&short, 1).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn a_truncated_message_is_malformed() {
        let whole = record(1, b"a record, 20 bytes: ");
        for cut in [4, HEADER_LEN, whole.len() - 1] {
            let error = records(&whole[..cut], 1).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "cut at {cut}");
        }
        let mut too_short = whole.clone();
        too_short[..4].copy_from_slice(&4u32.to_ne_bytes());
        assert!(
            records(&too_short, 1).is_err(),
            "a length below the header's"
        );
    }

    #[test]
    fn messages_of_an_earlier_request_are_passed_over() {
        let mut datagram = record(1, b"stale");
        datagram.extend(reply(libc::NLMSG_DONE, 1, &[0; 4]));
        assert_eq!(records(&datagram, 2).unwrap(), (vec![], Read::Nothing));
        datagram.extend(record(2, b"ours"));
        assert_eq!(
            records(&datagram, 2).unwrap(),
            (vec![b"ours".to_vec()], Read::Records)
        );
    }

    /// An attribute of `kind` holding `payload`, padded to the alignment.
    fn attribute(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut bytes = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(payload);
        bytes.resize(bytes.len().next_multiple_of(ALIGN), 0);
        bytes
    }

    #[test]
    fn attributes_are_found_after_the_fixed_record_and_bad_ones_refused() {
        let mut bytes = b"fixed...".to_vec();
        bytes.extend(attribute(1, b"abc"));
        bytes.extend(attribute(2, &7u32.to_ne_bytes()));
        let record = Record { bytes: &bytes };
        assert_eq!(record.attribute(8, 1).unwrap(), Some(&b"abc"[..]));
        assert_eq!(
            record.attribute(8, 2).unwrap(),
            Some(&7u32.to_ne_bytes()[..])
        );
        assert_eq!(record.attribute(8, 3).unwrap(), None);
        assert_eq!(Record { bytes: b"fixed" }.attribute(8, 1).unwrap(), None);
        let mut bad = b"fixed...".to_vec();
        bad.extend(attribute(1, b"abc"));
        bad[8..10].copy_from_slice(&64u16.to_ne_bytes()); // longer than the record
        assert!(Record { bytes: &bad }.attribute(8, 2).is_err());
        assert!(Record { bytes: &bad[..10] }.attribute(8, 2).is_err());
    }

    #[test]
    fn a_request_is_sent_behind_its_header() {
        let message = message(b"req!", Ask::Dump, 9);
        assert_eq!(field(&message, 0).map(u32::from_ne_bytes), Some(20));
        assert_eq!(
            field(&message, 4).map(u16::from_ne_bytes),
            Some(SOCK_DIAG_BY_FAMILY)
        );
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
        assert_eq!(field(&message, 6).map(u16::from_ne_bytes), Some(flags));
        assert_eq!(field(&message, 8).map(u32::from_ne_bytes), Some(9));
        assert_eq!(&message[HEADER_LEN..], b"req!");
    }
}
