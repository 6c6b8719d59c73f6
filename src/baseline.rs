//! The baseline: leaks a project knows about and accepts for now, so a CI
//! gate fails only on new ones and the list can only shrink (a ratchet).
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
//! (`/tmp/*/server.sock`: temporary directories get random names). Identities form a
//! multiset: a test that leaks two identical CLOSE_WAITs needs two entries.
//!
//! ```no_run
//! # fn demo(report: &sockcheck::report::Report) -> Result<(), Box<dyn std::error::Error>> {
//! use sockcheck::baseline::Baseline;
//! let baseline = Baseline::load(std::path::Path::new("sockcheck-baseline.json"))?;
//! let comparison = baseline.compare(report);
//! for (test, leak) in comparison.new_errors() {
//!     eprintln!("new leak in {}: {leak}", test.full_name());
//! }
//! # Ok(()) }
//! ```

use crate::leak::{Leak, LeakKind, Severity};
use crate::report::{Report, TestRecord};
use crate::socket::{Address, Protocol, State};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Version of the baseline file layout; bumped only for breaking changes.
pub const BASELINE_VERSION: u32 = 1;

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
            Some(SocketAddr::V4(a)) if self.contains(a.port()) => format!("{}:*", a.ip()),
            Some(SocketAddr::V6(a)) if self.contains(a.port()) => format!("[{}]:*", a.ip()),
            Some(_) => address.to_string(),
            None => stable_unix_address(&address.to_string(), &std::env::temp_dir()),
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

/// One line of the baseline: a leak identity and how many such leaks are known.
// No `deny_unknown_fields` here: serde does not support it with `flatten`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineEntry {
    /// What leaks.
    #[serde(flatten)]
    pub identity: LeakIdentity,
    /// How many identical leaks (at least 1).
    pub count: usize,
}

/// Known leaks, as a multiset of [`LeakIdentity`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    entries: BTreeMap<LeakIdentity, usize>,
}

/// The file layout: versioned, entries sorted, so it diffs well.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineFile {
    version: u32,
    leaks: Vec<BaselineEntry>,
}

/// What a report holds next to a baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison<'a> {
    /// Leaks the baseline does not know, in report order.
    pub new: Vec<(&'a TestRecord, &'a Leak)>,
    /// Leaks the baseline knows, in report order.
    pub known: Vec<(&'a TestRecord, &'a Leak)>,
    /// Where each of [`Comparison::known`] is in the report: the index of
    /// its test in `report.tests` and of the leak in that test's `leaks`.
    pub known_at: Vec<(usize, usize)>,
    /// Baseline leaks this report no longer has (the baseline can shrink by these).
    pub fixed: Vec<BaselineEntry>,
}

impl<'a> Comparison<'a> {
    /// The new leaks of error severity: the ones that fail a gated run.
    pub fn new_errors(&self) -> impl Iterator<Item = (&'a TestRecord, &'a Leak)> + '_ {
        self.new
            .iter()
            .copied()
            .filter(|(_, leak)| leak.severity == Severity::Error)
    }
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
                "baseline version {v} is not supported (this sockcheck reads version \
                 {BASELINE_VERSION}); upgrade sockcheck or regenerate the baseline"
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
    /// The leaks of `report`, with ports judged by this machine's range.
    pub fn from_report(report: &Report) -> Baseline {
        Baseline::from_report_with(report, PortRange::system())
    }

    /// The leaks of `report`, with ports judged by `ports`.
    pub fn from_report_with(report: &Report, ports: PortRange) -> Baseline {
        let mut entries = BTreeMap::new();
        for test in &report.tests {
            for leak in &test.leaks {
                *entries
                    .entry(LeakIdentity::of(test, leak, ports))
                    .or_insert(0) += 1;
            }
        }
        Baseline { entries }
    }

    /// The entries, sorted by identity.
    pub fn entries(&self) -> Vec<BaselineEntry> {
        self.entries
            .iter()
            .map(|(identity, count)| BaselineEntry {
                identity: identity.clone(),
                count: *count,
            })
            .collect()
    }

    /// Number of known leaks (identical ones counted each).
    pub fn len(&self) -> usize {
        self.entries.values().sum()
    }

    /// True when no leak is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The baseline as pretty JSON with a trailing newline: stable for the
    /// same leaks, so it can be committed and diffed.
    pub fn to_json(&self) -> String {
        let file = BaselineFile {
            version: BASELINE_VERSION,
            leaks: self.entries(),
        };
        // Serializing plain structs of strings and numbers cannot fail.
        let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a baseline written by [`Baseline::to_json`].
    pub fn parse(text: &str) -> Result<Baseline, BaselineError> {
        // Read the version first, so a newer layout is reported as such and
        // not as corrupt.
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let version: Version = serde_json::from_str(text).map_err(BaselineError::Corrupt)?;
        if version.version != BASELINE_VERSION {
            return Err(BaselineError::Version(version.version));
        }
        let file: BaselineFile = serde_json::from_str(text).map_err(BaselineError::Corrupt)?;
        let mut entries = BTreeMap::new();
        for entry in file.leaks {
            *entries.entry(entry.identity).or_insert(0) += entry.count;
        }
        entries.retain(|_, count| *count > 0);
        Ok(Baseline { entries })
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

    /// Sorts the leaks of `report` into new and known, and lists the known
    /// leaks that are gone, with ports judged by this machine's range.
    pub fn compare<'a>(&self, report: &'a Report) -> Comparison<'a> {
        self.compare_with(report, PortRange::system())
    }

    /// As [`Baseline::compare`], with ports judged by `ports`.
    pub fn compare_with<'a>(&self, report: &'a Report, ports: PortRange) -> Comparison<'a> {
        let mut remaining = self.entries.clone();
        let mut comparison = Comparison {
            new: Vec::new(),
            known: Vec::new(),
            known_at: Vec::new(),
            fixed: Vec::new(),
        };
        for (test_index, test) in report.tests.iter().enumerate() {
            for (leak_index, leak) in test.leaks.iter().enumerate() {
                let identity = LeakIdentity::of(test, leak, ports);
                match remaining.get_mut(&identity).filter(|n| **n > 0) {
                    Some(count) => {
                        *count -= 1;
                        comparison.known.push((test, leak));
                        comparison.known_at.push((test_index, leak_index));
                    }
                    None => comparison.new.push((test, leak)),
                }
            }
        }
        comparison.fixed = remaining
            .into_iter()
            .filter(|(_, count)| *count > 0)
            .map(|(identity, count)| BaselineEntry { identity, count })
            .collect();
        comparison
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(comparison.known.len(), 1);
        assert_eq!(comparison.known_at, [(0, 0)]);
        assert!(comparison.new.is_empty() && comparison.fixed.is_empty());
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
            assert_eq!(comparison.new.len(), 1);
            assert_eq!(comparison.fixed.len(), 1);
            assert!(comparison.known.is_empty());
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
        assert_eq!((shrunk.known.len(), shrunk.new.len()), (1, 0));
        assert_eq!(shrunk.fixed.len(), 1);
        assert_eq!(shrunk.fixed[0].count, 1);

        // Two leaks where one is known: the second is new.
        let grown = Baseline::from_report_with(&one, PORTS).compare_with(&two, PORTS);
        assert_eq!((grown.known.len(), grown.new.len()), (1, 1));
        assert!(grown.fixed.is_empty());
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
        assert_eq!(names(&comparison.known), ["kept close-wait"]);
        assert_eq!(
            names(&comparison.new),
            ["fresh close-wait", "fresh established"]
        );
        let new_errors: Vec<_> = comparison.new_errors().collect();
        assert_eq!(names(&new_errors), ["fresh close-wait"]);
        assert_eq!(comparison.fixed.len(), 1);
        assert_eq!(comparison.fixed[0].identity.test, "fixed");
        assert_eq!(
            comparison.fixed[0].identity.to_string(),
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

        let newer = r#"{"version": 2, "leaks": "whatever"}"#;
        let err = Baseline::parse(newer).unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");
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
}
