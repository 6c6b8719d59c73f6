//! The leak model: which held sockets count as leaks, of what kind, and how
//! bad each one is.

use crate::site::{Frame, HoldingThread, Origin};
use crate::socket::{Protocol, Socket, State, UnixType};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What kind of leak a held socket is (the JSON `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeakKind {
    /// A TCP socket in CLOSE_WAIT, or a unix stream whose peer is gone: the
    /// peer closed, this side never did.
    CloseWait,
    /// A TCP or unix listener still open when the test ended.
    Listen,
    /// Any other TCP state still held (ESTABLISHED, SYN_SENT, FIN_WAIT*, ...),
    /// or a connected unix socket whose peer is alive in another process.
    Established,
    /// A TCP connection the kernel has already closed (state CLOSE: reset
    /// by the peer, or failed) that the test still holds.
    Reset,
    /// A bound UDP socket still held.
    Udp,
    /// A unix datagram socket bound to a path or name, still held.
    UnixDatagram,
    /// A socket held by a process the test started that outlived the test.
    Orphan,
}

impl LeakKind {
    /// Every kind, in report order.
    pub const ALL: [LeakKind; 7] = [
        LeakKind::CloseWait,
        LeakKind::Listen,
        LeakKind::Established,
        LeakKind::Reset,
        LeakKind::Udp,
        LeakKind::UnixDatagram,
        LeakKind::Orphan,
    ];

    /// The kebab-case name used in JSON, config and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LeakKind::CloseWait => "close-wait",
            LeakKind::Listen => "listen",
            LeakKind::Established => "established",
            LeakKind::Reset => "reset",
            LeakKind::Udp => "udp",
            LeakKind::UnixDatagram => "unix-datagram",
            LeakKind::Orphan => "orphan",
        }
    }

    /// What this kind of leak means and the usual fix, for Rust users: shown
    /// once per kind in each report.
    pub fn fix(self) -> &'static str {
        match self {
            LeakKind::CloseWait => {
                "The peer closed the connection but the test still holds its end \
                 (a `TcpStream` or `UnixStream`, often kept by a pool, a task or a \
                 `mem::forget`): drop it once the peer is done, before the test returns."
            }
            LeakKind::Listen => {
                "A server is still listening: stop the accept loop and join its thread, \
                 or shut its runtime down, so the `TcpListener`/`UnixListener` drops \
                 before the test returns. A listener the suite or a crate keeps by design can \
                 be allowed by where it was made (`allow-sockets`) or by address \
                 (`allow-listen-ports`, `allow-listen-paths`)."
            }
            LeakKind::Established => {
                "A connection is still open: drop the stream (or the client or pool that \
                 owns it) when the test is done, or shut the runtime down so its tasks \
                 release it."
            }
            LeakKind::Reset => {
                "The connection was reset by the peer (or failed) and the kernel has \
                 closed it, but the test still holds the `TcpStream`: drop it once the \
                 error is handled."
            }
            LeakKind::Udp => {
                "A bound `UdpSocket` is still held: drop it, or stop the thread or task \
                 that owns it, before the test returns."
            }
            LeakKind::UnixDatagram => {
                "A bound `UnixDatagram` is still held, and its name stays taken: drop it \
                 before the test returns (and remove its socket file)."
            }
            LeakKind::Orphan => {
                "A process the test started is still running and holds this socket: \
                 `.kill()` and `.wait()` the `Child` (or stop it cleanly) before the test \
                 returns."
            }
        }
    }

    /// Severity when nothing is configured (the table in
    /// [`docs/design.md`](https://github.com/sockcheck/sockcheck/blob/main/docs/design.md#leak-kinds-and-default-severities)).
    pub fn default_severity(self) -> Severity {
        match self {
            LeakKind::CloseWait | LeakKind::Listen | LeakKind::Orphan => Severity::Error,
            LeakKind::Established | LeakKind::Reset | LeakKind::Udp | LeakKind::UnixDatagram => {
                Severity::Warning
            }
        }
    }
}

impl fmt::Display for LeakKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for a leak kind name that is not one of [`LeakKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownLeakKind(pub String);

impl fmt::Display for UnknownLeakKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = LeakKind::ALL.iter().map(|k| k.name()).collect();
        write!(
            f,
            "unknown leak kind `{}` (expected one of: {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownLeakKind {}

impl FromStr for LeakKind {
    type Err = UnknownLeakKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LeakKind::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| UnknownLeakKind(s.to_owned()))
    }
}

/// How much a leak matters: errors fail the run, warnings are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the test (harness) or the run (exit status 1).
    Error,
    /// Reported, never fails anything.
    Warning,
}

impl Severity {
    /// The name used in JSON, reports and GitHub annotations: `error` or `warning`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A socket left open at the end of a test, with its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Leak {
    /// What kind of leak.
    pub kind: LeakKind,
    /// How much it matters under the policy in force.
    pub severity: Severity,
    /// The socket itself; its fields are inlined in JSON.
    #[serde(flatten)]
    pub socket: Socket,
    /// Whether reruns saw it again (`--rerun-leaks`); inlined in JSON.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<Stability>,
    /// Where the socket was created (`cargo sockcheck` only); JSON `opened`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened: Option<Origin>,
    /// Threads of the test blocked on the socket when it ended; JSON `held_by`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_by: Vec<HoldingThread>,
}

/// How often a leak was seen when its test was run several times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stability {
    /// `stable` when seen in every run, else `flaky`.
    pub stability: StabilityKind,
    /// Runs in which it was seen.
    pub runs_seen: u32,
    /// Runs in all.
    pub runs: u32,
}

impl Stability {
    /// The stability of a leak seen in `runs_seen` of `runs` runs.
    pub fn of(runs_seen: u32, runs: u32) -> Stability {
        let stability = if runs_seen >= runs {
            StabilityKind::Stable
        } else {
            StabilityKind::Flaky
        };
        Stability {
            stability,
            runs_seen,
            runs,
        }
    }

    /// True when the leak was seen in every run.
    pub fn is_stable(self) -> bool {
        self.stability == StabilityKind::Stable
    }
}

impl fmt::Display for Stability {
    /// `flaky: 1/3 runs`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self.stability {
            StabilityKind::Stable => "stable",
            StabilityKind::Flaky => "flaky",
        };
        write!(f, "{word}: {}/{} runs", self.runs_seen, self.runs)
    }
}

/// Whether a leak comes back every time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StabilityKind {
    /// Seen in every run.
    Stable,
    /// Seen in some runs only: it depends on timing.
    Flaky,
}

impl Leak {
    /// The innermost frame of the project's own source that opened the
    /// socket (its *site*), when the creation stack has one.
    pub fn site(&self) -> Option<&Frame> {
        self.opened.as_ref()?.site.as_ref()
    }

    /// Where to look, innermost first: the places of the creation's
    /// [trail](Origin::trail) (`src/conn.rs:137:28`, then the test helper's
    /// and the test's lines), each a location, or a function without
    /// debug info. Empty without a site.
    pub fn trail_places(&self) -> Vec<String> {
        let Some(origin) = &self.opened else {
            return Vec::new();
        };
        origin
            .trail()
            .into_iter()
            .filter_map(|frame| frame.location().or_else(|| frame.function.clone()))
            .collect()
    }

    /// What is known of where the socket came from and what keeps it open,
    /// a line each: `opened at tests/net.rs:31:13 in net::leaks
    /// (std::net::tcp::TcpListener::bind)`, then `held by thread 'server'
    /// (tid 9471), blocked in accept4()` per holding thread. Empty when
    /// nothing is known (the harness and guard, which have no stacks).
    pub fn origin_lines(&self) -> Vec<String> {
        let opened = self.opened.iter().map(ToString::to_string);
        let held = self
            .held_by
            .iter()
            .map(|thread| format!("held by {thread}"));
        opened.chain(held).collect()
    }

    /// The leak without its severity, for renderers that show the severity
    /// apart (coloured, or in a column of its own):
    /// `close-wait: tcp 127.0.0.1:40211 -> 127.0.0.1:35719 CLOSE_WAIT (pid 4242)`.
    pub fn description(&self) -> impl fmt::Display + '_ {
        Description(self)
    }
}

/// See [`Leak::description`].
struct Description<'a>(&'a Leak);

impl fmt::Display for Description<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let leak = self.0;
        write!(f, "{}: {}", leak.kind, leak.socket)?;
        if leak.socket.pid != 0 {
            write!(f, " (pid {})", leak.socket.pid)?;
        }
        if let Some(stability) = leak.stability {
            write!(f, " [{stability}]")?;
        }
        Ok(())
    }
}

impl fmt::Display for Leak {
    /// `error close-wait: tcp 127.0.0.1:40211 -> 127.0.0.1:35719 CLOSE_WAIT (pid 4242)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.severity, self.description())
    }
}

/// Who held a socket when the test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// The test's own process (or, in-process, the test itself).
    Test,
    /// A process the test started that is still alive after the test ended.
    Descendant,
}

/// The kind of leak a held socket is, before any policy: `None` for sockets
/// that are no leak at all (TIME_WAIT, unbound UDP, unbound closed TCP,
/// unconnected unix sockets other than bound datagram sockets, and unix
/// sockets whose peer the same process holds: socketpairs are plumbing, like
/// the one tokio's signal driver keeps for the life of the process).
pub fn kind_of(socket: &Socket, holder: Holder) -> Option<LeakKind> {
    let bound = socket.local.is_bound();
    let kind = match (socket.protocol, socket.state) {
        (_, State::TimeWait) => return None,
        (Protocol::Udp, _) if bound => LeakKind::Udp,
        (Protocol::Udp, _) => return None,
        (_, State::CloseWait) => LeakKind::CloseWait,
        (_, State::Listen) => LeakKind::Listen,
        (Protocol::Tcp, State::Close) if !bound => return None,
        (Protocol::Tcp, State::Close) => LeakKind::Reset,
        (Protocol::Tcp, _) => LeakKind::Established,
        (Protocol::Unix, State::Established) if socket.peer_in_process => return None,
        (Protocol::Unix, State::Established) => LeakKind::Established,
        (Protocol::Unix, _) if bound && socket.unix_type == Some(UnixType::Dgram) => {
            LeakKind::UnixDatagram
        }
        (Protocol::Unix, _) => return None,
    };
    Some(match holder {
        Holder::Descendant => LeakKind::Orphan,
        Holder::Test => kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{tcp, udp, unix};

    #[test]
    fn every_state_gets_the_kind_from_the_design_table() {
        let cases = [
            (
                tcp(State::CloseWait, "127.0.0.1:1", "127.0.0.1:2"),
                Some(LeakKind::CloseWait),
            ),
            (
                tcp(State::Listen, "127.0.0.1:1", "0.0.0.0:0"),
                Some(LeakKind::Listen),
            ),
            (
                tcp(State::Established, "127.0.0.1:1", "127.0.0.1:2"),
                Some(LeakKind::Established),
            ),
            (
                tcp(State::SynSent, "127.0.0.1:1", "127.0.0.1:2"),
                Some(LeakKind::Established),
            ),
            (
                tcp(State::FinWait2, "127.0.0.1:1", "127.0.0.1:2"),
                Some(LeakKind::Established),
            ),
            (
                tcp(State::LastAck, "127.0.0.1:1", "127.0.0.1:2"),
                Some(LeakKind::Established),
            ),
            (tcp(State::TimeWait, "127.0.0.1:1", "127.0.0.1:2"), None),
            (tcp(State::Close, "0.0.0.0:0", "0.0.0.0:0"), None),
            (
                tcp(State::Close, "127.0.0.1:5", "0.0.0.0:0"),
                Some(LeakKind::Reset),
            ),
            (udp("127.0.0.1:53"), Some(LeakKind::Udp)),
            (udp("0.0.0.0:0"), None),
        ];
        for (socket, expected) in cases {
            assert_eq!(kind_of(&socket, Holder::Test), expected, "{socket}");
        }
    }

    #[test]
    fn unix_sockets_get_kinds_by_state_and_type() {
        use UnixType::{Dgram, Seqpacket, Stream};
        let cases = [
            (
                unix(Stream, State::Listen, "/tmp/a.sock"),
                Some(LeakKind::Listen),
            ),
            (
                unix(Seqpacket, State::Listen, "@name"),
                Some(LeakKind::Listen),
            ),
            (
                unix(Stream, State::Listen, "(unnamed)"),
                Some(LeakKind::Listen),
            ),
            (
                unix(Stream, State::CloseWait, "(unnamed)"),
                Some(LeakKind::CloseWait),
            ),
            (
                unix(Stream, State::Established, "(unnamed)"),
                Some(LeakKind::Established),
            ),
            (
                Socket {
                    peer_in_process: true,
                    ..unix(Stream, State::Established, "(unnamed)")
                },
                None,
            ),
            (
                Socket {
                    peer_in_process: true,
                    ..unix(Dgram, State::Established, "(unnamed)")
                },
                None,
            ),
            (
                unix(Dgram, State::Unconn, "/tmp/d.sock"),
                Some(LeakKind::UnixDatagram),
            ),
            (unix(Dgram, State::Unconn, "(unnamed)"), None),
            (unix(Stream, State::Unconn, "(unnamed)"), None),
        ];
        for (socket, expected) in cases {
            assert_eq!(kind_of(&socket, Holder::Test), expected, "{socket}");
        }
    }

    #[test]
    fn any_leaking_socket_of_a_surviving_descendant_is_an_orphan() {
        let listener = tcp(State::Listen, "127.0.0.1:1", "0.0.0.0:0");
        assert_eq!(
            kind_of(&listener, Holder::Descendant),
            Some(LeakKind::Orphan)
        );
        let time_wait = tcp(State::TimeWait, "127.0.0.1:1", "127.0.0.1:2");
        assert_eq!(kind_of(&time_wait, Holder::Descendant), None);
    }

    #[test]
    fn every_kind_has_its_own_fix_in_at_most_two_sentences() {
        let fixes: std::collections::HashSet<&str> =
            LeakKind::ALL.iter().map(|kind| kind.fix()).collect();
        assert_eq!(fixes.len(), LeakKind::ALL.len());
        for fix in fixes {
            let sentences = fix.matches(". ").count() + 1;
            assert!(fix.ends_with('.') && sentences <= 2, "{fix}");
        }
    }

    #[test]
    fn kind_names_round_trip_and_unknown_names_are_rejected() {
        for kind in LeakKind::ALL {
            assert_eq!(kind.name().parse::<LeakKind>(), Ok(kind));
        }
        let err = "closewait".parse::<LeakKind>().unwrap_err();
        assert!(err.to_string().contains("close-wait, listen"), "{err}");
    }
}
