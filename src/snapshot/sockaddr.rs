//! Linux: the address a `struct sockaddr` holds, read from its bytes: what
//! `getsockname`/`getpeername` return, and what a traced `bind` or
//! `connect` passes in the tracee's memory.

use crate::socket::{Address, UnixAddress};
use std::mem::{offset_of, size_of};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// The IPv4, IPv6 or unix address of the `sockaddr` in `bytes` (as long as
/// the kernel or the caller said it is); `None` for another family or too
/// few bytes for its own.
pub(super) fn address(bytes: &[u8]) -> Option<Address> {
    let family = u16::from_ne_bytes(bytes.get(..2)?.try_into().ok()?);
    let port = || Some(u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?));
    let word = |at: usize| Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    match libc::c_int::from(family) {
        libc::AF_INET => {
            let ip: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
            let address = SocketAddrV4::new(Ipv4Addr::from(ip), port()?);
            Some(Address::Inet(SocketAddr::V4(address)))
        }
        libc::AF_INET6 => {
            let ip: [u8; 16] = bytes.get(8..24)?.try_into().ok()?;
            let (flowinfo, scope) = (word(4)?, word(24)?);
            let address = SocketAddrV6::new(Ipv6Addr::from(ip), port()?, flowinfo, scope);
            Some(Address::Inet(SocketAddr::V6(address)))
        }
        libc::AF_UNIX => {
            let end = bytes.len().min(size_of::<libc::sockaddr_un>());
            let name = bytes.get(offset_of!(libc::sockaddr_un, sun_path)..end)?;
            Some(Address::Unix(unix_address(name)))
        }
        _ => None,
    }
}

/// The unix address of the `sun_path` bytes the kernel returned: none,
/// a leading NUL and an abstract name, or a path (up to its first NUL).
fn unix_address(name: &[u8]) -> UnixAddress {
    match name.split_first() {
        None => UnixAddress::Unnamed,
        Some((0, abstract_name)) => UnixAddress::Abstract(abstract_name.to_vec()),
        Some(_) => UnixAddress::Path(name.split(|&b| b == 0).next().unwrap_or(name).to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `sockaddr` of `family` whose bytes after the family are `rest`.
    fn sockaddr(family: libc::c_int, rest: &[u8]) -> Vec<u8> {
        let mut bytes = (family as u16).to_ne_bytes().to_vec();
        bytes.extend_from_slice(rest);
        bytes
    }

    #[test]
    fn ip_sockaddrs_of_both_families_are_read_with_their_port_and_scope() {
        let mut v4 = 8080u16.to_be_bytes().to_vec();
        v4.extend_from_slice(&Ipv4Addr::LOCALHOST.octets());
        v4.extend_from_slice(&[0; 8]); // sin_zero
        let v4 = sockaddr(libc::AF_INET, &v4);
        assert_eq!(v4.len(), size_of::<libc::sockaddr_in>());
        let expected: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(address(&v4), Some(Address::Inet(expected)));

        let mut v6 = 9000u16.to_be_bytes().to_vec();
        v6.extend_from_slice(&7u32.to_ne_bytes()); // sin6_flowinfo
        v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        v6.extend_from_slice(&3u32.to_ne_bytes()); // sin6_scope_id
        let v6 = sockaddr(libc::AF_INET6, &v6);
        assert_eq!(v6.len(), size_of::<libc::sockaddr_in6>());
        let expected = SocketAddrV6::new(Ipv6Addr::LOCALHOST, 9000, 7, 3);
        assert_eq!(address(&v6), Some(Address::Inet(expected.into())));
        assert_eq!(address(&v6[..10]), None, "too short for an IPv6 address");
    }

    #[test]
    fn unix_sockaddrs_are_read_and_other_families_refused() {
        let path = sockaddr(libc::AF_UNIX, b"/run/a.sock\0");
        let path_address = UnixAddress::Path(b"/run/a.sock".to_vec());
        assert_eq!(address(&path), Some(Address::Unix(path_address)));
        let unnamed = sockaddr(libc::AF_UNIX, b"");
        let unnamed_address = Some(Address::Unix(UnixAddress::Unnamed));
        assert_eq!(address(&unnamed), unnamed_address);
        let netlink = sockaddr(libc::AF_NETLINK, &[0; 10]);
        assert_eq!(address(&netlink), None);
        assert_eq!(address(&[1]), None);
    }

    #[test]
    fn sun_path_bytes_become_unnamed_abstract_or_path_addresses() {
        assert_eq!(unix_address(b""), UnixAddress::Unnamed);
        assert_eq!(
            unix_address(b"\0a\0b"),
            UnixAddress::Abstract(b"a\0b".to_vec())
        );
        assert_eq!(unix_address(b"/x\0"), UnixAddress::Path(b"/x".to_vec()));
    }
}
