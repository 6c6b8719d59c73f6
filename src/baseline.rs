//! The baseline: leaks and port findings a project knows about and accepts
//! for now, so a CI gate fails only on new ones and the list can only
//! shrink (a ratchet).
//!
//! A leak is identified across runs by what stays the same from run to run:
//! the test (binary and name), the leak kind, protocol and state, and the
//! addresses with their IPs kept but ephemeral ports replaced by `*`. A port
//! is ephemeral when it lies in the kernel's ephemeral range
//! ([`PortRange::system`]); that covers ports the kernel picked for
//! outgoing connections and for listeners bound to port 0. A fixed port a
//! test chose inside that range is taken as ephemeral too. Unix addresses
//! lose what changes from run to run: every run of digits (pids, counters)
//! becomes `*`, and a path under the temp dir keeps only its file name
//! (`/tmp/*/server.sock`: temporary directories get random names).
//!
//! A port finding ([`crate::ports::PortFinding`]) is identified by its test,
//! its kind and its address written the same way ([`PortIdentity`]): the
//! fixed port a test binds stays, an ephemeral one is `*`, and what varies
//! from run to run (churn counts, the threshold, who held a port, the other
//! tests sharing it) is left out. Churn has no address: a test either
//! churns or not.
//!
//! Identities form a multiset: a test that leaks two identical CLOSE_WAITs
//! needs two entries. Leaks and port findings are matched the same way
//! ([`Finding`], [`Matches`]).
//!
//! ```no_run
//! # fn demo(report: &sockcheck::report::Report) -> Result<(), Box<dyn std::error::Error>> {
//! use sockcheck::baseline::Baseline;
//! let baseline = Baseline::load(std::path::Path::new("sockcheck-baseline.json"))?;
//! let comparison = baseline.compare(report);
//! for (test, leak) in comparison.leaks.new_errors() {
//!     eprintln!("new leak in {}: {leak}", test.full_name());
//! }
//! # Ok(()) }
//! ```

use crate::leak::{Leak, LeakKind, Severity};
use crate::ports::{PortFinding, PortFindingKind};
use crate::report::{Report, TestRecord};
use crate::site::Frame;
use crate::socket::{Address, Protocol, State};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Newest version of the baseline file layout this sockcheck reads and
/// writes; bumped only for breaking changes. Version 2 added port findings;
/// a baseline without any is written as version 1, which older sockchecks
/// read too.
pub const BASELINE_VERSION: u32 = 2;

/// The version a baseline without port findings is written as.
const LEAKS_ONLY_VERSION: u32 = 1;

/// The kernel's range of ephemeral ports (inclusive), which it picks from
/// for outgoing connections and for `bind` to port 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// First ephemeral port.
    pub first: u16,
    /// Last ephemeral port.
    pub last: u16,
}

impl PortRange {
    /// Linux's default range, used when the system's cannot be read.
    pub const LINUX_DEFAULT: PortRange = PortRange {
        first: 32768,
        last: 60999,
    };

    /// This machine's range, from `/proc/sys/net/ipv4/ip_local_port_range`,
    /// or [`PortRange::LINUX_DEFAULT`] when that cannot be read.
    pub fn system() -> PortRange {
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|text| PortRange::parse(&text))
            .unwrap_or(PortRange::LINUX_DEFAULT)
    }

    /// Parses the `FIRST<whitespace>LAST` format of `ip_local_port_range`.
    fn parse(text: &str) -> Option<PortRange> {
        let mut numbers = text.split_whitespace().map(str::parse::<u16>);
        let first = numbers.next()?.ok()?;
        let last = numbers.next()?.ok()?;
        (first <= last).then_some(PortRange { first, last })
    }

    /// True when `port` lies in the range.
    pub fn contains(self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }

    /// `127.0.0.1:8080` for a fixed port, `127.0.0.1:*` for an ephemeral
    /// one (`[::1]:*` for IPv6); unix addresses as [`stable_unix_address`]
    /// writes them.
    fn stable_address(self, address: &Address) -> String {
        match address.inet() {
            Some(inet) => self.stable_inet(inet),
            None => stable_unix_address(&address.to_string(), &std::env::temp_dir()),
        }
    }

    /// As [`PortRange::stable_address`], for an address as reports write it
    /// (a port finding's).
    fn stable_text(self, address: &str) -> String {
        match address.parse::<SocketAddr>() {
            Ok(inet) => self.stable_inet(inet),
            Err(_) => stable_unix_address(address, &std::env::temp_dir()),
        }
    }

    /// `127.0.0.1:8080`, or `127.0.0.1:*` for a port in the range.
    fn stable_inet(self, address: SocketAddr) -> String {
        match address {
            SocketAddr::V4(a) if self.contains(a.port()) => format!("{}:*", a.ip()),
            SocketAddr::V6(a) if self.contains(a.port()) => format!("[{}]:*", a.ip()),
            _ => address.to_string(),
        }
    }
}

/// A unix address as written in reports, without what changes between runs:
/// under `temp_dir`, only the file name is kept (`/tmp/*/server.sock`); then
/// every run of digits becomes `*` (`@app-*`, `/tmp/*/server-*.sock`).
fn stable_unix_address(text: &str, temp_dir: &Path) -> String {
    let temp = temp_dir.to_string_lossy();
    let temp = temp.trim_end_matches('/');
    let text = match text
        .strip_prefix(temp)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        Some(rest) => match rest.rsplit_once('/') {
            Some((_, file)) => format!("{temp}/*/{file}"),
            None => format!("{temp}/{rest}"),
        },
        None => text.to_owned(),
    };
    let mut stable = String::with_capacity(text.len());
    let mut in_digits = false;
    for c in text.chars() {
        if !c.is_ascii_digit() {
            stable.push(c);
        } else if !in_digits {
            stable.push('*');
        }
        in_digits = c.is_ascii_digit();
    }
    stable
}

/// The identity of a leak across runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LeakIdentity {
    /// Test target name, e.g. `net`.
    pub binary: String,
    /// Full libtest name of the test.
    pub test: String,
    /// Kind of leak.
    pub kind: LeakKind,
    /// TCP, UDP or unix.
    pub protocol: Protocol,
    /// Socket state, e.g. `CLOSE_WAIT`.
    pub state: State,
    /// Local address, ephemeral port as `*`, e.g. `127.0.0.1:*`.
    pub local: String,
    /// Remote address, ephemeral port as `*` (`0.0.0.0:0` when unconnected).
    pub remote: String,
}

impl LeakIdentity {
    /// The identity of `leak`, left by `test`, with ports judged by `ports`.
    pub fn of(test: &TestRecord, leak: &Leak, ports: PortRange) -> LeakIdentity {
        LeakIdentity {
            binary: test.binary.clone(),
            test: test.name.clone(),
            kind: leak.kind,
            protocol: leak.socket.protocol,
            state: leak.socket.state,
            local: ports.stable_address(&leak.socket.local),
            remote: ports.stable_address(&leak.socket.remote),
        }
    }
}

impl LeakIdentity {
    /// True when the socket had a peer, as [`crate::socket::Socket::has_peer`]
    /// decides it, read from the stored text: a TCP or UDP remote other
    /// than port 0, a connected unix socket.
    fn has_peer(&self) -> bool {
        match self.protocol {
            Protocol::Tcp | Protocol::Udp => !self.remote.ends_with(":0"),
            Protocol::Unix => matches!(self.state, State::Established | State::CloseWait),
        }
    }
}

impl fmt::Display for LeakIdentity {
    /// `net::leaks_close_wait: close-wait tcp 127.0.0.1:* -> 127.0.0.1:8080 CLOSE_WAIT`,
    /// or without `-> REMOTE` when there is no peer (a listener), as a
    /// socket is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (binary, test, kind) = (&self.binary, &self.test, self.kind);
        let (protocol, local) = (self.protocol, &self.local);
        write!(f, "{binary}::{test}: {kind} {protocol} {local} ")?;
        if self.has_peer() {
            write!(f, "-> {} ", self.remote)?;
        }
        write!(f, "{}", self.state)
    }
}

/// The identity of a port finding across runs: its test, its kind and its
/// address with an ephemeral port as `*` (none for churn). What varies from
/// run to run is left out: churn counts and the threshold, who held a
/// taken address, the other tests binding a shared port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortIdentity {
    /// Test target name, e.g. `net`.
    pub binary: String,
    /// Full libtest name of the test.
    pub test: String,
    /// Kind of port finding.
    pub kind: PortFindingKind,
    /// The address it is about, ephemeral port as `*`, e.g. `127.0.0.1:8080`;
    /// absent for churn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl PortIdentity {
    /// The identity of `finding`, of `test`, with ports judged by `ports`.
    pub fn of(test: &TestRecord, finding: &PortFinding, ports: PortRange) -> PortIdentity {
        PortIdentity {
            binary: test.binary.clone(),
            test: test.name.clone(),
            kind: finding.kind(),
            address: finding.problem.address().map(|a| ports.stable_text(a)),
        }
    }
}

impl fmt::Display for PortIdentity {
    /// `net::binds: fixed-port-shared 127.0.0.1:8080`, `net::churns: port-churn`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}: {}", self.binary, self.test, self.kind)?;
        if let Some(address) = &self.address {
            write!(f, " {address}")?;
        }
        Ok(())
    }
}

/// What a baseline records of a test: its leaks and its port findings,
/// each matched across runs by an identity of its own.
pub trait Finding: Sized {
    /// What stays the same from run to run.
    type Identity: Ord + Clone + fmt::Debug + fmt::Display + Serialize + DeserializeOwned;

    /// The findings of this sort that `test` has.
    fn of(test: &TestRecord) -> &[Self];

    /// Its identity, as found in `test`, with ports judged by `ports`.
    fn identity(&self, test: &TestRecord, ports: PortRange) -> Self::Identity;

    /// True when it fails a run (error severity).
    fn is_error(&self) -> bool;

    /// Its site: the project frame that opened the socket, or made the
    /// port call, when known.
    fn site(&self) -> Option<&Frame>;

    /// One line saying what it is, with its severity, as the gate names a
    /// new one: untrusted text, to be escaped by whoever shows it.
    fn describe(&self) -> String;
}

impl Finding for Leak {
    type Identity = LeakIdentity;

    fn of(test: &TestRecord) -> &[Leak] {
        &test.leaks
    }

    fn identity(&self, test: &TestRecord, ports: PortRange) -> LeakIdentity {
        LeakIdentity::of(test, self, ports)
    }

    fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn site(&self) -> Option<&Frame> {
        Leak::site(self)
    }

    /// `error listen: tcp 127.0.0.1:40211 LISTEN (pid 7)`
    fn describe(&self) -> String {
        self.to_string()
    }
}

impl Finding for PortFinding {
    type Identity = PortIdentity;

    fn of(test: &TestRecord) -> &[PortFinding] {
        &test.port_findings
    }

    fn identity(&self, test: &TestRecord, ports: PortRange) -> PortIdentity {
        PortIdentity::of(test, self, ports)
    }

    fn is_error(&self) -> bool {
        self.severity == Some(Severity::Error)
    }

    fn site(&self) -> Option<&Frame> {
        PortFinding::site(self)
    }

    /// `warning port-churn: 5000 connections closed first ...`, `note
    /// address-in-use: ...` for a finding without a severity.
    fn describe(&self) -> String {
        let severity = self.severity.map_or("note", Severity::name);
        format!("{severity} {}: {}", self.kind(), self.summary())
    }
}

/// One line of the baseline: an identity (a [`LeakIdentity`] unless said
/// otherwise) and how many such findings are known.
// No `deny_unknown_fields` here: serde does not support it with `flatten`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineEntry<I = LeakIdentity> {
    /// What leaks, or what was found.
    #[serde(flatten)]
    pub identity: I,
    /// How many identical ones (at least 1).
    pub count: usize,
}

/// A multiset of identities, with how many of each.
type Counts<I> = BTreeMap<I, usize>;

/// Known leaks and port findings, each a multiset of identities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    leaks: Counts<LeakIdentity>,
    ports: Counts<PortIdentity>,
}

/// The file layout: versioned, entries sorted, so it diffs well.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineFile {
    version: u32,
    leaks: Vec<BaselineEntry>,
    /// Since version 2; absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    port_findings: Vec<BaselineEntry<PortIdentity>>,
}

/// Findings of one sort (leaks, or port findings) of a report next to a
/// baseline.
#[derive(Debug, Clone)]
pub struct Matches<'a, F: Finding> {
    /// Findings the baseline does not know, in report order.
    pub new: Vec<(&'a TestRecord, &'a F)>,
    /// Findings the baseline knows, in report order.
    pub known: Vec<(&'a TestRecord, &'a F)>,
    /// Where each of [`Matches::known`] is in the report: the index of its
    /// test in `report.tests` and its index in that test's list.
    pub known_at: Vec<(usize, usize)>,
    /// Baseline entries this report no longer has (the baseline can shrink
    /// by these).
    pub fixed: Vec<BaselineEntry<F::Identity>>,
}

impl<'a, F: Finding> Matches<'a, F> {
    /// Sorts the findings of `report` by whether `counts` holds them.
    fn of(counts: &Counts<F::Identity>, report: &'a Report, ports: PortRange) -> Matches<'a, F> {
        let mut remaining = counts.clone();
        let mut matches = Matches {
            new: Vec::new(),
            known: Vec::new(),
            known_at: Vec::new(),
            fixed: Vec::new(),
        };
        for (test_index, test) in report.tests.iter().enumerate() {
            for (index, finding) in F::of(test).iter().enumerate() {
                let identity = finding.identity(test, ports);
                match remaining.get_mut(&identity).filter(|n| **n > 0) {
                    Some(count) => {
                        *count -= 1;
                        matches.known.push((test, finding));
                        matches.known_at.push((test_index, index));
                    }
                    None => matches.new.push((test, finding)),
                }
            }
        }
        matches.fixed = entries(remaining);
        matches
    }

    /// The new findings of error severity: the ones that fail a gated run.
    pub fn new_errors(&self) -> impl Iterator<Item = (&'a TestRecord, &'a F)> + '_ {
        self.new.iter().copied().filter(|(_, f)| f.is_error())
    }
}

/// What a report holds next to a baseline: its leaks, and its port findings.
#[derive(Debug, Clone)]
pub struct Comparison<'a> {
    /// The report's leaks.
    pub leaks: Matches<'a, Leak>,
    /// The report's port findings.
    pub ports: Matches<'a, PortFinding>,
}

/// The findings of one sort in `report`, counted by identity.
fn count<F: Finding>(report: &Report, ports: PortRange) -> Counts<F::Identity> {
    let mut counts = BTreeMap::new();
    for test in &report.tests {
        for finding in F::of(test) {
            *counts.entry(finding.identity(test, ports)).or_insert(0) += 1;
        }
    }
    counts
}

/// `counts` as sorted entries, those counted 0 left out.
fn entries<I: Clone>(counts: Counts<I>) -> Vec<BaselineEntry<I>> {
    counts
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|(identity, count)| BaselineEntry { identity, count })
        .collect()
}

/// `entries` as a multiset: identical entries add up, empty ones go.
fn counts<I: Ord>(entries: Vec<BaselineEntry<I>>) -> Counts<I> {
    let mut counts = BTreeMap::new();
    for entry in entries {
        *counts.entry(entry.identity).or_insert(0) += entry.count;
    }
    counts.retain(|_, count| *count > 0);
    counts
}

/// Why a baseline could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum BaselineError {
    /// The file could not be read.
    Io {
        /// The baseline file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The text is not a baseline (corrupt, truncated, or another file).
    Corrupt(serde_json::Error),
    /// The baseline was written by a newer sockcheck.
    Version(u32),
    /// A baseline read from a file failed to parse; names the file.
    InFile {
        /// The baseline file.
        path: PathBuf,
        /// What was wrong with its contents.
        source: Box<BaselineError>,
    },
}

impl fmt::Display for BaselineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BaselineError::Io { path, source } => {
                write!(f, "cannot read baseline {}: {source}", path.display())
            }
            BaselineError::Corrupt(e) => write!(
                f,
                "not a valid sockcheck baseline ({e}); regenerate it from a clean checkout"
            ),
            BaselineError::Version(v) => write!(
                f,
                "baseline version {v} is not supported (this sockcheck reads versions \
                 {LEAKS_ONLY_VERSION} to {BASELINE_VERSION}); upgrade sockcheck or \
                 regenerate the baseline"
            ),
            BaselineError::InFile { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for BaselineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BaselineError::Io { source, .. } => Some(source),
            BaselineError::Corrupt(e) => Some(e),
            BaselineError::Version(_) => None,
            BaselineError::InFile { source, .. } => Some(source),
        }
    }
}

impl Baseline {
    /// The leaks and port findings of `report`, with ports judged by this
    /// machine's range.
    pub fn from_report(report: &Report) -> Baseline {
        Baseline::from_report_with(report, PortRange::system())
    }

    /// The leaks and port findings of `report`, with ports judged by `ports`.
    pub fn from_report_with(report: &Report, ports: PortRange) -> Baseline {
        Baseline {
            leaks: count::<Leak>(report, ports),
            ports: count::<PortFinding>(report, ports),
        }
    }

    /// The leak entries, sorted by identity.
    pub fn entries(&self) -> Vec<BaselineEntry> {
        entries(self.leaks.clone())
    }

    /// The port finding entries, sorted by identity.
    pub fn port_entries(&self) -> Vec<BaselineEntry<PortIdentity>> {
        entries(self.ports.clone())
    }

    /// Number of known leaks (identical ones counted each).
    pub fn len(&self) -> usize {
        self.leaks.values().sum()
    }

    /// Number of known port findings (identical ones counted each).
    pub fn port_len(&self) -> usize {
        self.ports.values().sum()
    }

    /// True when no leak and no port finding is known.
    pub fn is_empty(&self) -> bool {
        self.leaks.is_empty() && self.ports.is_empty()
    }

    /// The baseline as pretty JSON with a trailing newline: stable for the
    /// same findings, so it can be committed and diffed. Written as version
    /// 1 when it holds no port finding.
    pub fn to_json(&self) -> String {
        let file = BaselineFile {
            version: if self.ports.is_empty() {
                LEAKS_ONLY_VERSION
            } else {
                BASELINE_VERSION
            },
            leaks: self.entries(),
            port_findings: self.port_entries(),
        };
        // Serializing plain structs of strings and numbers cannot fail.
        let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a baseline written by [`Baseline::to_json`], of any version
    /// up to [`BASELINE_VERSION`].
    pub fn parse(text: &str) -> Result<Baseline, BaselineError> {
        // Read the version first, so a newer layout is reported as such and
        // not as corrupt.
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let version: Version = serde_json::from_str(text).map_err(BaselineError::Corrupt)?;
        if !(LEAKS_ONLY_VERSION..=BASELINE_VERSION).contains(&version.version) {
            return Err(BaselineError::Version(version.version));
        }
        let file: BaselineFile = serde_json::from_str(text).map_err(BaselineError::Corrupt)?;
        Ok(Baseline {
            leaks: counts(file.leaks),
            ports: counts(file.port_findings),
        })
    }

    /// Reads the baseline in `path`; errors name the file.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let text = crate::input::read_to_string(path).map_err(|source| BaselineError::Io {
            path: path.to_owned(),
            source,
        })?;
        Baseline::parse(&text).map_err(|e| BaselineError::InFile {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }

    /// Writes the baseline to `path` atomically.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        crate::report::write_atomically(path, self.to_json().as_bytes())
    }

    /// Sorts the leaks and port findings of `report` into new and known,
    /// and lists the known ones that are gone, with ports judged by this
    /// machine's range.
    pub fn compare<'a>(&self, report: &'a Report) -> Comparison<'a> {
        self.compare_with(report, PortRange::system())
    }

    /// As [`Baseline::compare`], with ports judged by `ports`.
    pub fn compare_with<'a>(&self, report: &'a Report, ports: PortRange) -> Comparison<'a> {
        Comparison {
            leaks: Matches::of(&self.leaks, report, ports),
            ports: Matches::of(&self.ports, report, ports),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{PortHolder, PortProblem, TestName};
    use crate::report::Outcome;
    use crate::testing;

    const PORTS: PortRange = PortRange::LINUX_DEFAULT;

    fn leak(kind: LeakKind, state: State, local: &str, remote: &str) -> Leak {
        testing::leak(kind, testing::tcp(state, local, remote))
    }

    fn close_wait(local: &str, remote: &str) -> Leak {
        leak(LeakKind::CloseWait, State::CloseWait, local, remote)
    }

    fn report(tests: Vec<(&str, Vec<Leak>)>) -> Report {
        Report::new(
            tests
                .into_iter()
                .map(|(name, leaks)| testing::record("net", name, Outcome::Passed, leaks))
                .collect(),
        )
    }

    #[test]
    fn ephemeral_ports_are_wildcards_fixed_ports_and_ips_stay() {
        let run = report(vec![(
            "t",
            vec![
                close_wait("127.0.0.1:8080", "127.0.0.1:40211"),
                leak(LeakKind::Listen, State::Listen, "[::1]:45000", "[::]:0"),
            ],
        )]);
        let ids: Vec<LeakIdentity> = Baseline::from_report_with(&run, PORTS)
            .entries()
            .into_iter()
            .map(|e| e.identity)
            .collect();
        let addresses: Vec<(&str, &str)> = ids
            .iter()
            .map(|i| (i.local.as_str(), i.remote.as_str()))
            .collect();
        assert_eq!(
            addresses,
            [("127.0.0.1:8080", "127.0.0.1:*"), ("[::1]:*", "[::]:0")]
        );
    }

    #[test]
    fn the_same_leak_on_other_ephemeral_ports_is_known() {
        let before = report(vec![(
            "t",
            vec![close_wait("127.0.0.1:40211", "127.0.0.1:40212")],
        )]);
        let after = report(vec![(
            "t",
            vec![close_wait("127.0.0.1:51000", "127.0.0.1:33333")],
        )]);
        let comparison = Baseline::from_report_with(&before, PORTS).compare_with(&after, PORTS);
        assert_eq!(comparison.leaks.known.len(), 1);
        assert_eq!(comparison.leaks.known_at, [(0, 0)]);
        assert!(comparison.leaks.new.is_empty() && comparison.leaks.fixed.is_empty());
    }

    #[test]
    fn a_different_fixed_port_or_ip_is_a_new_leak() {
        let before = report(vec![(
            "t",
            vec![close_wait("127.0.0.1:8080", "127.0.0.1:40000")],
        )]);
        let other_port = report(vec![(
            "t",
            vec![close_wait("127.0.0.1:8081", "127.0.0.1:40000")],
        )]);
        let other_ip = report(vec![("t", vec![close_wait("[::1]:8080", "[::1]:40000")])]);
        let baseline = Baseline::from_report_with(&before, PORTS);
        for after in [other_port, other_ip] {
            let comparison = baseline.compare_with(&after, PORTS);
            assert_eq!(comparison.leaks.new.len(), 1);
            assert_eq!(comparison.leaks.fixed.len(), 1);
            assert!(comparison.leaks.known.is_empty());
        }
    }

    #[test]
    fn unix_addresses_lose_temp_dirs_and_digits() {
        let temp = Path::new("/tmp/");
        let cases = [
            ("/tmp/.tmpAbC12x/server.sock", "/tmp/*/server.sock"),
            (
                "/tmp/unixsock-4242-listener.sock",
                "/tmp/unixsock-*-listener.sock",
            ),
            ("/run/app.sock", "/run/app.sock"),
            ("@app-17-3", "@app-*-*"),
            ("(unnamed)", "(unnamed)"),
        ];
        for (text, stable) in cases {
            assert_eq!(stable_unix_address(text, temp), stable, "{text}");
        }
    }

    #[test]
    fn identities_are_a_multiset() {
        let two = report(vec![(
            "t",
            vec![
                close_wait("127.0.0.1:40001", "127.0.0.1:40002"),
                close_wait("127.0.0.1:40003", "127.0.0.1:40004"),
            ],
        )]);
        let one = report(vec![(
            "t",
            vec![close_wait("127.0.0.1:40005", "127.0.0.1:40006")],
        )]);
        let baseline_of_two = Baseline::from_report_with(&two, PORTS);
        assert_eq!(baseline_of_two.len(), 2);
        assert_eq!(baseline_of_two.entries().len(), 1);
        assert_eq!(baseline_of_two.entries()[0].count, 2);

        // One known leak where two are expected: the other one is fixed.
        let shrunk = baseline_of_two.compare_with(&one, PORTS);
        assert_eq!((shrunk.leaks.known.len(), shrunk.leaks.new.len()), (1, 0));
        assert_eq!(shrunk.leaks.fixed.len(), 1);
        assert_eq!(shrunk.leaks.fixed[0].count, 1);

        // Two leaks where one is known: the second is new.
        let grown = Baseline::from_report_with(&one, PORTS).compare_with(&two, PORTS);
        assert_eq!((grown.leaks.known.len(), grown.leaks.new.len()), (1, 1));
        assert!(grown.leaks.fixed.is_empty());
    }

    #[test]
    fn compare_sorts_new_known_and_fixed_and_new_errors_skip_warnings() {
        let before = report(vec![
            (
                "kept",
                vec![close_wait("127.0.0.1:8080", "127.0.0.1:40000")],
            ),
            (
                "fixed",
                vec![leak(
                    LeakKind::Listen,
                    State::Listen,
                    "127.0.0.1:9000",
                    "0.0.0.0:0",
                )],
            ),
        ]);
        let after = report(vec![
            (
                "kept",
                vec![close_wait("127.0.0.1:8080", "127.0.0.1:41000")],
            ),
            ("fixed", vec![]),
            (
                "fresh",
                vec![
                    close_wait("127.0.0.1:7000", "127.0.0.1:41001"),
                    leak(
                        LeakKind::Established,
                        State::Established,
                        "127.0.0.1:41002",
                        "127.0.0.1:7000",
                    ),
                ],
            ),
        ]);
        let comparison = Baseline::from_report_with(&before, PORTS).compare_with(&after, PORTS);
        let names = |v: &[(&TestRecord, &Leak)]| -> Vec<String> {
            v.iter()
                .map(|(t, l)| format!("{} {}", t.name, l.kind))
                .collect()
        };
        assert_eq!(names(&comparison.leaks.known), ["kept close-wait"]);
        assert_eq!(
            names(&comparison.leaks.new),
            ["fresh close-wait", "fresh established"]
        );
        let new_errors: Vec<_> = comparison.leaks.new_errors().collect();
        assert_eq!(names(&new_errors), ["fresh close-wait"]);
        assert_eq!(comparison.leaks.fixed.len(), 1);
        assert_eq!(comparison.leaks.fixed[0].identity.test, "fixed");
        assert_eq!(
            comparison.leaks.fixed[0].identity.to_string(),
            "net::fixed: listen tcp 127.0.0.1:9000 LISTEN"
        );
    }

    #[test]
    fn json_round_trips_and_is_stable() {
        let run = report(vec![
            ("b", vec![close_wait("127.0.0.1:8080", "127.0.0.1:40000")]),
            (
                "a",
                vec![
                    close_wait("127.0.0.1:8080", "127.0.0.1:40001"),
                    close_wait("127.0.0.1:8080", "127.0.0.1:40002"),
                ],
            ),
        ]);
        let baseline = Baseline::from_report_with(&run, PORTS);
        let json = baseline.to_json();
        assert_eq!(Baseline::parse(&json).unwrap(), baseline);
        assert_eq!(
            json,
            r#"{
  "version": 1,
  "leaks": [
    {
      "binary": "net",
      "test": "a",
      "kind": "close-wait",
      "protocol": "tcp",
      "state": "CLOSE_WAIT",
      "local": "127.0.0.1:8080",
      "remote": "127.0.0.1:*",
      "count": 2
    },
    {
      "binary": "net",
      "test": "b",
      "kind": "close-wait",
      "protocol": "tcp",
      "state": "CLOSE_WAIT",
      "local": "127.0.0.1:8080",
      "remote": "127.0.0.1:*",
      "count": 1
    }
  ]
}
"#
        );
    }

    #[test]
    fn a_corrupt_baseline_is_a_clear_error() {
        let truncated = r#"{"version": 1, "leaks": [{"binary": "net""#;
        let err = Baseline::parse(truncated).unwrap_err();
        assert!(matches!(err, BaselineError::Corrupt(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("not a valid sockcheck baseline"),
            "{err}"
        );

        let bad_kind = r#"{"version": 1, "leaks": [{"binary": "net", "test": "t",
            "kind": "closewait", "protocol": "tcp", "state": "CLOSE_WAIT",
            "local": "127.0.0.1:*", "remote": "127.0.0.1:*", "count": 1}]}"#;
        let err = Baseline::parse(bad_kind).unwrap_err();
        assert!(err.to_string().contains("closewait"), "{err}");

        let newer = r#"{"version": 3, "leaks": "whatever"}"#;
        let err = Baseline::parse(newer).unwrap_err();
        assert!(err.to_string().contains("version 3"), "{err}");
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baseline.json");
        std::fs::write(&path, "not json").unwrap();
        let err = Baseline::load(&path).unwrap_err();
        assert!(
            err.to_string().contains("baseline.json: not a valid"),
            "{err}"
        );
        let missing = Baseline::load(&dir.path().join("missing.json")).unwrap_err();
        assert!(missing.to_string().contains("missing.json"), "{missing}");

        Baseline::default().save(&path).unwrap();
        assert!(Baseline::load(&path).unwrap().is_empty());
    }

    #[test]
    fn port_range_parses_the_proc_format() {
        assert_eq!(
            PortRange::parse("32768\t60999\n"),
            Some(PortRange::LINUX_DEFAULT)
        );
        assert_eq!(PortRange::parse("garbage"), None);
        assert_eq!(PortRange::parse("9 3"), None);
    }

    /// A report of test `net::t` with `findings`.
    fn with_findings(findings: Vec<PortFinding>) -> Report {
        let mut test = testing::record("net", "t", Outcome::Passed, vec![]);
        test.port_findings = findings;
        Report::new(vec![test])
    }

    fn churn(active_closes: u64, threshold: u64) -> PortFinding {
        PortFinding::new(PortProblem::PortChurn {
            active_closes,
            threshold,
        })
    }

    fn in_range(address: &str) -> PortFinding {
        PortFinding::new(PortProblem::FixedPortInEphemeralRange {
            address: address.into(),
            range: [PORTS.first, PORTS.last],
        })
    }

    fn shared(address: &str, with: &str) -> PortFinding {
        PortFinding::new(PortProblem::FixedPortShared {
            address: address.into(),
            with: vec![TestName::new("net", with)],
        })
    }

    #[test]
    fn a_port_finding_is_known_by_test_kind_and_stable_address_not_by_counts() {
        let before = with_findings(vec![
            churn(5000, 2352),
            in_range("127.0.0.1:40000"),
            shared("127.0.0.1:8080", "a"),
        ]);
        // Other counts, another port in the range, another partner, and a
        // holder of the same fixed port: all the same findings but the last.
        let mut after = with_findings(vec![
            churn(4100, 1176),
            in_range("127.0.0.1:51234"),
            shared("127.0.0.1:8080", "b"),
            PortFinding::new(PortProblem::AddressInUse {
                address: "127.0.0.1:8080".into(),
                held_by: PortHolder::Unknown,
            }),
        ]);
        after.tests[0].port_findings[1].severity = Some(Severity::Error);
        let baseline = Baseline::from_report_with(&before, PORTS);
        let addresses: Vec<String> = baseline
            .port_entries()
            .iter()
            .map(|e| e.identity.to_string())
            .collect();
        assert_eq!(
            addresses,
            [
                "net::t: fixed-port-in-ephemeral-range 127.0.0.1:*",
                "net::t: fixed-port-shared 127.0.0.1:8080",
                "net::t: port-churn",
            ]
        );
        let comparison = baseline.compare_with(&after, PORTS);
        assert_eq!(comparison.ports.known_at, [(0, 0), (0, 1), (0, 2)]);
        let new: Vec<PortFindingKind> =
            comparison.ports.new.iter().map(|(_, f)| f.kind()).collect();
        assert_eq!(new, [PortFindingKind::AddressInUse]);
        assert!(comparison.ports.fixed.is_empty());
        // Leaks and port findings are matched apart.
        assert!(comparison.leaks.new.is_empty() && comparison.leaks.known.is_empty());

        // Another fixed port is another finding; the one known is fixed.
        let moved = with_findings(vec![shared("127.0.0.1:8081", "a")]);
        let comparison = baseline.compare_with(&moved, PORTS);
        assert_eq!(comparison.ports.new.len(), 1);
        assert_eq!(comparison.ports.fixed.len(), 3);
    }

    #[test]
    fn only_new_port_findings_of_error_severity_fail() {
        let mut denied = churn(50, 10);
        denied.severity = Some(Severity::Error);
        let run = with_findings(vec![denied, shared("127.0.0.1:8080", "a")]);
        let comparison = Baseline::default().compare_with(&run, PORTS);
        assert_eq!(comparison.ports.new.len(), 2);
        let errors: Vec<PortFindingKind> = comparison
            .ports
            .new_errors()
            .map(|(_, f)| f.kind())
            .collect();
        assert_eq!(errors, [PortFindingKind::PortChurn]);
    }

    #[test]
    fn port_findings_make_a_version_2_file_and_version_1_files_still_read() {
        let leaks_only = report(vec![(
            "t",
            vec![close_wait("127.0.0.1:8080", "127.0.0.1:40000")],
        )]);
        let v1 = Baseline::from_report_with(&leaks_only, PORTS).to_json();
        assert!(v1.starts_with("{\n  \"version\": 1,\n"), "{v1}");
        assert!(!v1.contains("port_findings"), "{v1}");

        let mut both = leaks_only.clone();
        both.tests[0].port_findings = vec![churn(5000, 2352), in_range("127.0.0.1:40000")];
        let baseline = Baseline::from_report_with(&both, PORTS);
        let v2 = baseline.to_json();
        assert_eq!(Baseline::parse(&v2).unwrap(), baseline);
        assert_eq!((baseline.len(), baseline.port_len()), (1, 2));
        let tail = &v2[v2.find("\"port_findings\"").unwrap()..];
        assert_eq!(
            tail,
            r#""port_findings": [
    {
      "binary": "net",
      "test": "t",
      "kind": "fixed-port-in-ephemeral-range",
      "address": "127.0.0.1:*",
      "count": 1
    },
    {
      "binary": "net",
      "test": "t",
      "kind": "port-churn",
      "count": 1
    }
  ]
}
"#
        );
        assert!(v2.starts_with("{\n  \"version\": 2,\n"), "{v2}");

        let bad_kind = r#"{"version": 2, "leaks": [], "port_findings": [{"binary": "net",
            "test": "t", "kind": "port-leak", "count": 1}]}"#;
        let err = Baseline::parse(bad_kind).unwrap_err();
        assert!(err.to_string().contains("port-leak"), "{err}");
    }
}
