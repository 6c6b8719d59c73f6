//! Socket addresses as sockcheck shows them: an IP address and port, or a
//! unix-domain address (a filesystem path of any bytes, an abstract name, or
//! none), with one reversible text form used in every report and in JSON.
//!
//! Unix paths are shown as they are, except that a backslash is written
//! `\\`, a control character or a byte that is not UTF-8 is written `\xNN`,
//! and a leading `@` or `(` is written `\x40` / `\x28`, so a path never
//! reads as the abstract name `@name` or the unnamed address `(unnamed)`.

use crate::socket::Family;
use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// Where a socket is bound or connected.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Address {
    /// An IPv4 or IPv6 address and port.
    Inet(SocketAddr),
    /// A unix-domain address.
    Unix(UnixAddress),
}

/// The address of a unix-domain socket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnixAddress {
    /// Not bound to any name, shown `(unnamed)`: a socketpair end, a
    /// connecting client, the peer of an accepted connection.
    Unnamed,
    /// Bound to a filesystem path; a path may hold any byte but NUL.
    Path(Vec<u8>),
    /// Bound to a Linux abstract name (the bytes after the leading NUL),
    /// shown `@name`.
    Abstract(Vec<u8>),
}

/// How the unnamed unix address is written.
const UNNAMED: &str = "(unnamed)";

impl Address {
    /// The address of a socket that is not bound (or has no peer) in `family`:
    /// `0.0.0.0:0`, `[::]:0` or `(unnamed)`.
    pub fn unspecified(family: Family) -> Address {
        match family {
            Family::Ipv4 => Address::Inet(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))),
            Family::Ipv6 => Address::Inet(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))),
            Family::Unix => Address::Unix(UnixAddress::Unnamed),
        }
    }

    /// The IP address and port, for a TCP or UDP socket.
    pub fn inet(&self) -> Option<SocketAddr> {
        match self {
            Address::Inet(address) => Some(*address),
            Address::Unix(_) => None,
        }
    }

    /// The port, for a TCP or UDP socket.
    pub fn port(&self) -> Option<u16> {
        self.inet().map(|address| address.port())
    }

    /// The unix-domain address, for a unix socket.
    pub fn unix(&self) -> Option<&UnixAddress> {
        match self {
            Address::Inet(_) => None,
            Address::Unix(address) => Some(address),
        }
    }

    /// True when the address names something: a port other than 0, or a
    /// unix path or abstract name.
    pub fn is_bound(&self) -> bool {
        match self {
            Address::Inet(address) => address.port() != 0,
            Address::Unix(address) => *address != UnixAddress::Unnamed,
        }
    }

    /// Reads the text form of an address of `family`, as [`fmt::Display`]
    /// writes it.
    pub fn parse(text: &str, family: Family) -> Result<Address, AddressError> {
        let invalid = || AddressError(text.to_owned());
        match family {
            Family::Ipv4 | Family::Ipv6 => text.parse().map(Address::Inet).map_err(|_| invalid()),
            Family::Unix => {
                let address = if text == UNNAMED {
                    UnixAddress::Unnamed
                } else if let Some(name) = text.strip_prefix('@') {
                    UnixAddress::Abstract(unescape(name).ok_or_else(invalid)?)
                } else {
                    UnixAddress::Path(unescape(text).ok_or_else(invalid)?)
                };
                Ok(Address::Unix(address))
            }
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(address: SocketAddr) -> Address {
        Address::Inet(address)
    }
}

impl PartialEq<SocketAddr> for Address {
    fn eq(&self, other: &SocketAddr) -> bool {
        self.inet() == Some(*other)
    }
}

impl fmt::Display for Address {
    /// `127.0.0.1:8080`, `[::1]:8080`, `/tmp/app.sock`, `@name` or `(unnamed)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Inet(address) => address.fmt(f),
            Address::Unix(address) => address.fmt(f),
        }
    }
}

impl fmt::Display for UnixAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixAddress::Unnamed => f.write_str(UNNAMED),
            UnixAddress::Abstract(name) => {
                f.write_char('@')?;
                write_escaped(name, false, f)
            }
            UnixAddress::Path(path) => write_escaped(path, true, f),
        }
    }
}

/// Writes `bytes` readably and reversibly (see the module comment); with
/// `guard_start`, a leading `@` or `(` is escaped too.
fn write_escaped(bytes: &[u8], guard_start: bool, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut first = guard_start;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                f.write_str("\\\\")?;
            } else if c.is_control() || (first && (c == '@' || c == '(')) {
                for byte in c.encode_utf8(&mut [0; 4]).bytes() {
                    write!(f, "\\x{byte:02x}")?;
                }
            } else {
                f.write_char(c)?;
            }
            first = false;
        }
        for byte in chunk.invalid() {
            write!(f, "\\x{byte:02x}")?;
            first = false;
        }
    }
    Ok(())
}

/// The bytes `write_escaped` wrote `text` for; `None` for a stray backslash.
fn unescape(text: &str) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        if byte != b'\\' {
            bytes.push(byte);
            continue;
        }
        match rest {
            [b'\\', tail @ ..] => {
                bytes.push(b'\\');
                rest = tail;
            }
            [b'x', high, low, tail @ ..] => {
                let hex = std::str::from_utf8(&[*high, *low]).ok()?.to_owned();
                bytes.push(u8::from_str_radix(&hex, 16).ok()?);
                rest = tail;
            }
            _ => return None,
        }
    }
    Some(bytes)
}

/// An address whose text form could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError(pub String);

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid socket address `{}`", self.0)
    }
}

impl std::error::Error for AddressError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(address: UnixAddress) -> Address {
        Address::Unix(address)
    }

    #[test]
    fn unix_addresses_are_shown_readably_and_read_back_exactly() {
        let cases = [
            (UnixAddress::Unnamed, "(unnamed)"),
            (
                UnixAddress::Path(b"/tmp/app.sock".to_vec()),
                "/tmp/app.sock",
            ),
            (UnixAddress::Path("/tmp/é.sock".into()), "/tmp/é.sock"),
            (UnixAddress::Path(b"/tmp/a\\b".to_vec()), "/tmp/a\\\\b"),
            (
                UnixAddress::Path(b"/tmp/\xff\n".to_vec()),
                "/tmp/\\xff\\x0a",
            ),
            (UnixAddress::Path(b"@relative".to_vec()), "\\x40relative"),
            (UnixAddress::Path(b"(unnamed)".to_vec()), "\\x28unnamed)"),
            (UnixAddress::Abstract(b"tokio".to_vec()), "@tokio"),
            (UnixAddress::Abstract(b"a\0b".to_vec()), "@a\\x00b"),
            (UnixAddress::Abstract(b"@x".to_vec()), "@@x"),
        ];
        for (address, text) in cases {
            let address = unix(address);
            assert_eq!(address.to_string(), text);
            assert_eq!(Address::parse(text, Family::Unix), Ok(address));
        }
    }

    #[test]
    fn inet_addresses_use_the_standard_form() {
        let address = Address::parse("[::1]:8080", Family::Ipv6).unwrap();
        assert_eq!(address.to_string(), "[::1]:8080");
        assert_eq!(address.port(), Some(8080));
        assert!(Address::parse("/tmp/x", Family::Ipv4).is_err());
    }

    #[test]
    fn a_stray_backslash_is_an_error_naming_the_text() {
        let err = Address::parse("/tmp/\\q", Family::Unix).unwrap_err();
        assert_eq!(err.to_string(), "invalid socket address `/tmp/\\q`");
        assert!(Address::parse("/tmp/\\x4", Family::Unix).is_err());
    }

    #[test]
    fn bound_means_a_port_or_a_name() {
        assert!(!Address::unspecified(Family::Ipv4).is_bound());
        assert!(!Address::unspecified(Family::Unix).is_bound());
        assert!(unix(UnixAddress::Abstract(Vec::new())).is_bound());
        assert!(Address::from(SocketAddr::from(([127, 0, 0, 1], 1))).is_bound());
    }
}
