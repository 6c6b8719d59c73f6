//! What a test did with the machine's ports, beyond what it left open: the
//! sockets it created and the ports it kept busy after closing them
//! ([`PortUsage`], in JSON for every test that made a socket call), and
//! the findings that explain an "address already in use" or "cannot
//! assign requested address" failure or warn of one to come
//! ([`PortFinding`]).
//!
//! `cargo sockcheck` fills these in from the traced `bind`, `listen` and
//! `connect` calls; the in-process harness and guard leave them empty. The
//! wording every renderer shows is written once here
//! ([`PortFinding::summary`], [`PortFinding::details`],
//! [`PortFindingKind::fix`]).

use crate::leak::Severity;
use crate::site::{Frame, Origin};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// How long Linux keeps a TCP connection closed first by this side in
/// TIME_WAIT (`TCP_TIMEWAIT_LEN`): its local port stays taken that long.
pub const TIME_WAIT_SECONDS: u64 = 60;

/// The sort of a socket, by family and type: the key of
/// [`PortUsage::created`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SocketSort {
    /// `AF_INET`, `SOCK_STREAM`.
    Tcp,
    /// `AF_INET6`, `SOCK_STREAM`.
    Tcp6,
    /// `AF_INET`, `SOCK_DGRAM`.
    Udp,
    /// `AF_INET6`, `SOCK_DGRAM`.
    Udp6,
    /// `AF_UNIX`, `SOCK_STREAM`.
    UnixStream,
    /// `AF_UNIX`, `SOCK_DGRAM`.
    UnixDgram,
    /// `AF_UNIX`, `SOCK_SEQPACKET`.
    UnixSeqpacket,
    /// Any other family or type (netlink, raw, packet, ...).
    Other,
}

impl SocketSort {
    /// Every sort, in report order.
    pub const ALL: [SocketSort; 8] = [
        SocketSort::Tcp,
        SocketSort::Tcp6,
        SocketSort::Udp,
        SocketSort::Udp6,
        SocketSort::UnixStream,
        SocketSort::UnixDgram,
        SocketSort::UnixSeqpacket,
        SocketSort::Other,
    ];

    /// The name used in JSON and reports, e.g. `unix-stream`.
    pub fn name(self) -> &'static str {
        match self {
            SocketSort::Tcp => "tcp",
            SocketSort::Tcp6 => "tcp6",
            SocketSort::Udp => "udp",
            SocketSort::Udp6 => "udp6",
            SocketSort::UnixStream => "unix-stream",
            SocketSort::UnixDgram => "unix-dgram",
            SocketSort::UnixSeqpacket => "unix-seqpacket",
            SocketSort::Other => "other",
        }
    }
}

impl fmt::Display for SocketSort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a test used ports and sockets (`cargo sockcheck` only; JSON
/// `ports`, present for every test that created a socket).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PortUsage {
    /// Sockets the test's processes created (`socket`, `accept`,
    /// `socketpair`; a pair counts twice), by sort; sorts it created none
    /// of are left out.
    #[serde(default)]
    pub created: BTreeMap<SocketSort, u64>,
    /// TCP connections the test started (`connect` calls that did not fail
    /// at once).
    #[serde(default)]
    pub connects: u64,
    /// The test's TCP connections found in TIME_WAIT when it ended: each
    /// was closed first by the test (or by its peer in the test) and keeps
    /// its port pair taken for [`TIME_WAIT_SECONDS`].
    #[serde(default)]
    pub active_closes: u64,
    /// The most sockets the test held open at once, as counted when it
    /// created sockets and when it ended.
    #[serde(default)]
    pub peak_open_sockets: u64,
}

impl PortUsage {
    /// Sockets created, of every sort.
    pub fn total_created(&self) -> u64 {
        self.created.values().sum()
    }

    /// True when the test created no socket and made no connection.
    pub fn is_empty(&self) -> bool {
        self.total_created() == 0 && self.connects == 0
    }
}

/// What kind of port finding (the JSON `kind`; the name `--deny`/`--warn`
/// and the configuration use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortFindingKind {
    /// A `bind` or `listen` failed with `EADDRINUSE`.
    AddressInUse,
    /// A `connect` failed with `EADDRNOTAVAIL`: no local port was free.
    AddressNotAvailable,
    /// A fixed (non-zero) port bound inside the ephemeral port range.
    FixedPortInEphemeralRange,
    /// The same fixed port bound by two tests of the run.
    FixedPortShared,
    /// More connections closed first than the run can afford.
    PortChurn,
}

impl PortFindingKind {
    /// Every kind, in report order.
    pub const ALL: [PortFindingKind; 5] = [
        PortFindingKind::AddressInUse,
        PortFindingKind::AddressNotAvailable,
        PortFindingKind::FixedPortInEphemeralRange,
        PortFindingKind::FixedPortShared,
        PortFindingKind::PortChurn,
    ];

    /// The kebab-case name used in JSON, configuration and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PortFindingKind::AddressInUse => "address-in-use",
            PortFindingKind::AddressNotAvailable => "address-not-available",
            PortFindingKind::FixedPortInEphemeralRange => "fixed-port-in-ephemeral-range",
            PortFindingKind::FixedPortShared => "fixed-port-shared",
            PortFindingKind::PortChurn => "port-churn",
        }
    }

    /// The severity when nothing is configured: `None` for the kinds that
    /// explain a failure the test already has (they add no verdict of their
    /// own), a warning for the kinds that warn of one to come.
    pub fn default_severity(self) -> Option<Severity> {
        match self {
            PortFindingKind::AddressInUse | PortFindingKind::AddressNotAvailable => None,
            PortFindingKind::FixedPortInEphemeralRange
            | PortFindingKind::FixedPortShared
            | PortFindingKind::PortChurn => Some(Severity::Warning),
        }
    }

    /// What this kind means and the usual fix, for Rust users: shown once
    /// per kind in each report.
    pub fn fix(self) -> &'static str {
        match self {
            PortFindingKind::AddressInUse => {
                "The address was taken when the test bound it. Bind port 0 and read the \
                 port back (`local_addr()`) instead of a fixed port; if only TIME_WAIT \
                 entries held it, set `SO_REUSEADDR` before binding (socket2's \
                 `set_reuse_address`, as std's `TcpListener` does on unix)."
            }
            PortFindingKind::AddressNotAvailable => {
                "No local port was free for the connection: the ephemeral range is \
                 exhausted, mostly by connections closed in the last 60 s (TIME_WAIT). \
                 Reuse connections (a pool, keep-alive), or close on the server's side \
                 first, in the tests named."
            }
            PortFindingKind::FixedPortInEphemeralRange => {
                "The port lies in the range the kernel hands out to outgoing connections \
                 (/proc/sys/net/ipv4/ip_local_port_range): any connection, of this suite \
                 or another process, may take it first. Bind port 0, or a port below the \
                 range."
            }
            PortFindingKind::FixedPortShared => {
                "Tests binding the same fixed port cannot run at once: one fails with \
                 \"address in use\" whenever they overlap. Bind port 0 and pass the \
                 address on."
            }
            PortFindingKind::PortChurn => {
                "Every connection the test closes first keeps a port pair in TIME_WAIT \
                 for 60 s; enough of them, in tests running at once, exhaust the \
                 ephemeral range and `connect` fails with \"cannot assign requested \
                 address\". Reuse connections (a pool, keep-alive), or make fewer."
            }
        }
    }
}

impl fmt::Display for PortFindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for a port finding kind name that is not one of
/// [`PortFindingKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownPortFindingKind(pub String);

impl fmt::Display for UnknownPortFindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = PortFindingKind::ALL.iter().map(|k| k.name()).collect();
        write!(
            f,
            "unknown port finding kind `{}` (expected one of: {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownPortFindingKind {}

impl FromStr for PortFindingKind {
    type Err = UnknownPortFindingKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PortFindingKind::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| UnknownPortFindingKind(s.to_owned()))
    }
}

/// A test of this run, by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TestName {
    /// Its test target, as cargo names it.
    pub binary: String,
    /// Its full libtest name.
    pub name: String,
}

impl TestName {
    /// Test `name` of `binary`.
    pub fn new(binary: impl Into<String>, name: impl Into<String>) -> TestName {
        TestName {
            binary: binary.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for TestName {
    /// `binary::name`, as the terminal names tests.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.binary, self.name)
    }
}

/// Who held an address when a `bind` or `listen` on it failed with
/// `EADDRINUSE` (JSON `held_by`, its `by` says which).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PortHolder {
    /// Another test of this run, running at that moment.
    Test {
        /// The test.
        #[serde(flatten)]
        test: TestName,
        /// Where that test created the socket holding the address, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        opened: Option<Origin>,
    },
    /// A socket of the failing test itself.
    SameTest {
        /// Where it created that socket, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        opened: Option<Origin>,
    },
    /// A process outside the run.
    Process {
        /// Its pid.
        pid: u32,
        /// Its command line (or its name when that cannot be read), as the
        /// process set it: untrusted text.
        command: String,
    },
    /// No socket held it, only connections in TIME_WAIT (or other entries
    /// no process owns): `SO_REUSEADDR` lets a listener bind over them.
    TimeWait {
        /// How many such entries there were.
        entries: u64,
    },
    /// A unix path: a socket file is there and no socket is bound to it,
    /// left by a `bind` whose socket is closed (the file stays until it is
    /// removed): an earlier run's or test's.
    StaleSocketFile {
        /// The test of this run whose `bind` made the file, when one did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        left_by: Option<TestName>,
    },
    /// A unix path: a file that is not a socket (a regular file, a
    /// directory, a link) is there.
    NotASocket,
    /// Nothing holding it was found (it was gone by the time sockcheck
    /// looked, or it is in another network namespace).
    Unknown,
}

/// How many of the run's TIME_WAIT entries one test made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TimeWaitMaker {
    /// The test.
    #[serde(flatten)]
    pub test: TestName,
    /// How many of its connections were in TIME_WAIT.
    pub entries: u64,
}

impl TimeWaitMaker {
    /// `test` made `entries` of the TIME_WAIT entries.
    pub fn new(test: TestName, entries: u64) -> TimeWaitMaker {
        TimeWaitMaker { test, entries }
    }
}

/// What a port finding is about; the JSON `kind` and the fields of that
/// kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PortProblem {
    /// A `bind` or `listen` on `address` failed with `EADDRINUSE`.
    AddressInUse {
        /// The address asked for, as reports write addresses.
        address: String,
        /// Who held it at that moment.
        held_by: PortHolder,
    },
    /// A `connect` to `address` failed with `EADDRNOTAVAIL`: no local port
    /// was free.
    AddressNotAvailable {
        /// The address connected to.
        address: String,
        /// How many TCP connections of this run were in TIME_WAIT then.
        time_wait: u64,
        /// The tests that made them, most first.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        made_by: Vec<TimeWaitMaker>,
    },
    /// `address` was bound with a fixed port inside the ephemeral range.
    FixedPortInEphemeralRange {
        /// The address bound.
        address: String,
        /// The ephemeral range, `[first, last]`, as the kernel had it.
        range: [u16; 2],
    },
    /// The fixed port of `address` was also bound by other tests of the run.
    FixedPortShared {
        /// The address bound.
        address: String,
        /// The other tests binding the same port.
        with: Vec<TestName>,
    },
    /// The test closed more connections first than `threshold`.
    PortChurn {
        /// Its connections in TIME_WAIT when it ended
        /// ([`PortUsage::active_closes`]).
        active_closes: u64,
        /// The threshold in force.
        threshold: u64,
    },
}

impl PortProblem {
    /// Its kind.
    pub fn kind(&self) -> PortFindingKind {
        match self {
            PortProblem::AddressInUse { .. } => PortFindingKind::AddressInUse,
            PortProblem::AddressNotAvailable { .. } => PortFindingKind::AddressNotAvailable,
            PortProblem::FixedPortInEphemeralRange { .. } => {
                PortFindingKind::FixedPortInEphemeralRange
            }
            PortProblem::FixedPortShared { .. } => PortFindingKind::FixedPortShared,
            PortProblem::PortChurn { .. } => PortFindingKind::PortChurn,
        }
    }

    /// The address it is about; none for churn.
    pub fn address(&self) -> Option<&str> {
        match self {
            PortProblem::AddressInUse { address, .. }
            | PortProblem::AddressNotAvailable { address, .. }
            | PortProblem::FixedPortInEphemeralRange { address, .. }
            | PortProblem::FixedPortShared { address, .. } => Some(address),
            PortProblem::PortChurn { .. } => None,
        }
    }
}

/// One port finding of a test (JSON: an entry of the test's
/// `port_findings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PortFinding {
    /// What it is about: the JSON `kind` and that kind's fields, inlined.
    #[serde(flatten)]
    pub problem: PortProblem,
    /// How much it matters under the policy in force; absent for a finding
    /// that only explains the test's own failure and adds no verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// The call it is about (`bind`, `listen`, `connect`) and its stack,
    /// when known: where to look in the code. Absent for churn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<Origin>,
}

impl PortFinding {
    /// A finding of `problem` at its kind's default severity.
    pub fn new(problem: PortProblem) -> PortFinding {
        PortFinding {
            severity: problem.kind().default_severity(),
            problem,
            call: None,
        }
    }

    /// The same finding, about `call`.
    pub fn at(mut self, call: Origin) -> PortFinding {
        self.call = Some(call);
        self
    }

    /// Its kind.
    pub fn kind(&self) -> PortFindingKind {
        self.problem.kind()
    }

    /// The innermost frame of the project's own source that made the call
    /// (its *site*), when the call's stack has one.
    pub fn site(&self) -> Option<&Frame> {
        self.call.as_ref()?.site.as_ref()
    }

    /// One line saying what happened, without the kind, e.g. `bind
    /// 127.0.0.1:8080: held by test net::b`. Addresses, test names and
    /// commands are the untrusted text they are: renderers escape the line.
    pub fn summary(&self) -> String {
        let call = self.call.as_ref().map_or("bind", |c| c.syscall.as_str());
        match &self.problem {
            PortProblem::AddressInUse { address, held_by } => {
                let holder = match held_by {
                    PortHolder::Test { test, .. } => format!("held by test {test}"),
                    PortHolder::SameTest { .. } => "held by another socket of this test".into(),
                    PortHolder::Process { pid, command } => {
                        format!("held by pid {pid} ({command}), outside the run")
                    }
                    PortHolder::TimeWait { entries } => format!(
                        "only {} held it: set SO_REUSEADDR",
                        counted(*entries, "TIME_WAIT entry", "TIME_WAIT entries")
                    ),
                    PortHolder::StaleSocketFile { left_by } => {
                        let by = left_by.as_ref().map_or_else(
                            || "an earlier bind".to_owned(),
                            |test| format!("test {test}"),
                        );
                        format!(
                            "a socket file no socket is bound to, left by {by}: remove it \
                             before binding"
                        )
                    }
                    PortHolder::NotASocket => "a file that is not a socket is there".into(),
                    PortHolder::Unknown => "in use, by a holder sockcheck did not find".into(),
                };
                format!("{call} {address}: {holder}")
            }
            PortProblem::AddressNotAvailable {
                address, time_wait, ..
            } => format!(
                "connect {address}: the ephemeral port range is exhausted; {} of this run in \
                 TIME_WAIT",
                counted(*time_wait, "connection", "connections")
            ),
            PortProblem::FixedPortInEphemeralRange { address, range } => format!(
                "{call} {address}: a fixed port inside the ephemeral range {}-{}",
                range[0], range[1]
            ),
            PortProblem::FixedPortShared { address, with } => {
                let names: Vec<String> = with.iter().map(ToString::to_string).collect();
                format!("{call} {address}: also bound by {}", names.join(", "))
            }
            PortProblem::PortChurn {
                active_closes,
                threshold,
            } => format!(
                "{} closed first hold their ports for {TIME_WAIT_SECONDS} s (threshold {threshold})",
                counted(*active_closes, "connection", "connections")
            ),
        }
    }

    /// Further lines under the summary, when the finding has more to say
    /// than where its call was made: where the holder's socket was opened,
    /// which tests made the TIME_WAIT entries. Untrusted text, as
    /// [`PortFinding::summary`].
    pub fn details(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match &self.problem {
            PortProblem::AddressInUse {
                held_by: PortHolder::Test { opened, .. } | PortHolder::SameTest { opened },
                ..
            } => {
                let opened = opened.as_ref().map(|o| format!("its socket was {o}"));
                lines.extend(opened);
            }
            PortProblem::AddressNotAvailable { made_by, .. } => {
                let makers = made_by
                    .iter()
                    .map(|maker| format!("{} made {} of them", maker.test, maker.entries));
                lines.extend(makers);
            }
            _ => {}
        }
        lines
    }
}

/// `1 connection`, `2 connections`.
fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::Frame;

    fn origin(syscall: &str, file: &str, line: u32) -> Origin {
        Origin::new(
            syscall,
            vec![
                Frame::function("std::net::tcp::TcpListener::bind"),
                Frame::function("ports::winner")
                    .at(file, line, Some(5))
                    .in_project(),
            ],
        )
    }

    fn round_trip(finding: &PortFinding) -> serde_json::Value {
        let json = serde_json::to_value(finding).unwrap();
        let back: PortFinding = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(&back, finding);
        json
    }

    #[test]
    fn usage_round_trips_keyed_by_sort_name() {
        let mut usage = PortUsage::default();
        usage.created.insert(SocketSort::Tcp, 5001);
        usage.created.insert(SocketSort::UnixStream, 2);
        usage.connects = 5000;
        usage.active_closes = 5000;
        usage.peak_open_sockets = 3;
        let json = serde_json::to_value(&usage).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "created": {"tcp": 5001, "unix-stream": 2},
                "connects": 5000, "active_closes": 5000, "peak_open_sockets": 3
            })
        );
        assert_eq!(serde_json::from_value::<PortUsage>(json).unwrap(), usage);
        assert_eq!(usage.total_created(), 5003);
        assert!(!usage.is_empty());
        assert!(PortUsage::default().is_empty());
    }

    #[test]
    fn an_address_in_use_names_its_holder_in_json_and_words() {
        let finding = PortFinding::new(PortProblem::AddressInUse {
            address: "127.0.0.1:8080".into(),
            held_by: PortHolder::Test {
                test: TestName::new("ports", "winner"),
                opened: Some(origin("socket", "tests/ports.rs", 12)),
            },
        })
        .at(origin("bind", "tests/ports.rs", 20));
        let json = round_trip(&finding);
        assert_eq!(json["kind"], "address-in-use");
        assert_eq!(json["held_by"]["by"], "test");
        assert_eq!(json["held_by"]["binary"], "ports");
        assert_eq!(json["held_by"]["name"], "winner");
        assert_eq!(json["call"]["syscall"], "bind");
        assert!(json.get("severity").is_none(), "{json}");
        assert_eq!(
            finding.summary(),
            "bind 127.0.0.1:8080: held by test ports::winner"
        );
        assert_eq!(
            finding.details(),
            [
                "its socket was opened at tests/ports.rs:12:5 in ports::winner \
              (std::net::tcp::TcpListener::bind)"
            ]
        );
    }

    #[test]
    fn every_holder_round_trips_and_reads() {
        let holders = [
            (
                PortHolder::Process {
                    pid: 42,
                    command: "python3 -m http.server".into(),
                },
                "held by pid 42 (python3 -m http.server), outside the run",
            ),
            (
                PortHolder::TimeWait { entries: 1 },
                "only 1 TIME_WAIT entry held it: set SO_REUSEADDR",
            ),
            (
                PortHolder::SameTest { opened: None },
                "held by another socket of this test",
            ),
            (
                PortHolder::Unknown,
                "in use, by a holder sockcheck did not find",
            ),
        ];
        for (held_by, words) in holders {
            let finding = PortFinding::new(PortProblem::AddressInUse {
                address: "[::1]:9000".into(),
                held_by,
            });
            round_trip(&finding);
            assert_eq!(finding.summary(), format!("bind [::1]:9000: {words}"));
        }
    }

    #[test]
    fn a_unix_path_s_holder_may_be_a_file_alone() {
        let holders = [
            (
                PortHolder::StaleSocketFile { left_by: None },
                serde_json::json!({ "by": "stale-socket-file" }),
                "a socket file no socket is bound to, left by an earlier bind: \
                 remove it before binding",
            ),
            (
                PortHolder::StaleSocketFile {
                    left_by: Some(TestName::new("ports", "leaves")),
                },
                serde_json::json!({
                    "by": "stale-socket-file",
                    "left_by": { "binary": "ports", "name": "leaves" }
                }),
                "a socket file no socket is bound to, left by test ports::leaves: \
                 remove it before binding",
            ),
            (
                PortHolder::NotASocket,
                serde_json::json!({ "by": "not-a-socket" }),
                "a file that is not a socket is there",
            ),
        ];
        for (held_by, by, words) in holders {
            let finding = PortFinding::new(PortProblem::AddressInUse {
                address: "/tmp/app.sock".into(),
                held_by,
            });
            let json = round_trip(&finding);
            assert_eq!(json["held_by"], by);
            assert_eq!(finding.summary(), format!("bind /tmp/app.sock: {words}"));
        }
    }

    #[test]
    fn warning_kinds_carry_their_severity_and_fields() {
        let findings = [
            PortFinding::new(PortProblem::FixedPortInEphemeralRange {
                address: "0.0.0.0:40000".into(),
                range: [32768, 60999],
            }),
            PortFinding::new(PortProblem::FixedPortShared {
                address: "127.0.0.1:8080".into(),
                with: vec![TestName::new("ports", "other")],
            }),
            PortFinding::new(PortProblem::PortChurn {
                active_closes: 5000,
                threshold: 2351,
            }),
        ];
        let kinds: Vec<serde_json::Value> = findings
            .iter()
            .map(|f| {
                let json = round_trip(f);
                assert_eq!(json["severity"], "warning");
                json["kind"].clone()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "fixed-port-in-ephemeral-range",
                "fixed-port-shared",
                "port-churn"
            ]
        );
        assert_eq!(findings[0].problem.address(), Some("0.0.0.0:40000"));
        assert_eq!(findings[2].problem.address(), None);
        assert_eq!(
            findings[2].summary(),
            "5000 connections closed first hold their ports for 60 s (threshold 2351)"
        );
    }

    #[test]
    fn an_exhausted_range_names_the_tests_that_made_the_time_waits() {
        let finding = PortFinding::new(PortProblem::AddressNotAvailable {
            address: "127.0.0.1:80".into(),
            time_wait: 28000,
            made_by: vec![TimeWaitMaker::new(TestName::new("ports", "churn"), 27990)],
        });
        let json = round_trip(&finding);
        assert_eq!(json["made_by"][0]["name"], "churn");
        assert_eq!(finding.details(), ["ports::churn made 27990 of them"]);
    }

    #[test]
    fn kinds_are_named_once_and_parsed_back() {
        for kind in PortFindingKind::ALL {
            assert_eq!(kind.name().parse::<PortFindingKind>(), Ok(kind));
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.name());
        }
        let err = "port-leak".parse::<PortFindingKind>().unwrap_err();
        assert!(err
            .to_string()
            .starts_with("unknown port finding kind `port-leak`"));
    }
}
