//! What the user allows: a level per leak kind and per port finding kind,
//! listen ports that are meant to stay open, sockets allowed by where they
//! were created, and how long to wait for asynchronous cleanup; and
//! [`classify`], which judges a test's sockets by them
//! ([`Policy::judge_port_findings`] its port findings).
//!
//! The modules stack one way: [`crate::leak`] (what a leak is) under
//! [`crate::allow`] (rules that allow sockets) under this one (the policy
//! that combines them) under [`crate::config`] (the files that set it).

use crate::allow::{self, AllowSocket};
use crate::leak::{self, Holder, Leak, LeakKind, Severity};
use crate::ports::{PortFinding, PortFindingKind};
use crate::site::Origin;
use crate::socket::{Address, Socket};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How a leak kind is treated: the three levels of `--deny`, `--warn`, `--allow`.
///
/// In configuration files the levels are written `"deny"`, `"warn"`, `"allow"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Report as an error.
    Deny,
    /// Report as a warning.
    Warn,
    /// Do not report at all.
    Allow,
}

impl Level {
    /// The name used in configuration and on the command line, e.g. `deny`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Deny => "deny",
            Level::Warn => "warn",
            Level::Allow => "allow",
        }
    }

    /// The severity a finding at this level gets: `None` when it is allowed.
    pub fn severity(self) -> Option<Severity> {
        match self {
            Level::Deny => Some(Severity::Error),
            Level::Warn => Some(Severity::Warning),
            Level::Allow => None,
        }
    }

    /// The level that gives `severity`.
    fn of(severity: Severity) -> Level {
        match severity {
            Severity::Error => Level::Deny,
            Severity::Warning => Level::Warn,
        }
    }
}

/// What a level is set for (a *level key*): a kind of leak, a kind of port
/// finding, or the sockets shared by design (made once per process by a
/// static's initializer, see [`allow::shared_initializer`]). Written as its
/// [name](Judged::name) (`--deny shared`, `--deny port-churn`,
/// `[levels] shared = "deny"`). This is the one place that lists the keys,
/// their names and their default levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Judged {
    /// A kind of leak.
    Kind(LeakKind),
    /// A kind of port finding: `deny` makes its findings errors, `warn`
    /// warnings; `allow` drops a warning kind's findings, and leaves those
    /// of a kind that explains a failure (`address-in-use`,
    /// `address-not-available`) with no verdict of their own, as they are
    /// by default.
    Port(PortFindingKind),
    /// Sockets shared by design: listed as allowed by default; `deny` judges
    /// them as the leaks they are, `warn` as warnings.
    Shared,
}

impl Judged {
    /// Every level key, in the order errors list them.
    pub fn all() -> impl Iterator<Item = Judged> {
        LeakKind::ALL
            .into_iter()
            .map(Judged::Kind)
            .chain(PortFindingKind::ALL.map(Judged::Port))
            .chain([Judged::Shared])
    }

    /// The name written in configuration and on the command line:
    /// the kind's (`close-wait`), or `shared`.
    pub fn name(self) -> &'static str {
        match self {
            Judged::Kind(kind) => kind.name(),
            Judged::Port(kind) => kind.name(),
            Judged::Shared => "shared",
        }
    }

    /// The level when nothing is configured: a kind's
    /// [default severity](LeakKind::default_severity) (a port finding
    /// kind's, `allow` for one that only explains a failure); `allow` for
    /// shared sockets.
    pub fn default_level(self) -> Level {
        match self {
            Judged::Kind(kind) => Level::of(kind.default_severity()),
            Judged::Port(kind) => kind.default_severity().map_or(Level::Allow, Level::of),
            Judged::Shared => Level::Allow,
        }
    }
}

impl From<LeakKind> for Judged {
    fn from(kind: LeakKind) -> Judged {
        Judged::Kind(kind)
    }
}

impl From<PortFindingKind> for Judged {
    fn from(kind: PortFindingKind) -> Judged {
        Judged::Port(kind)
    }
}

impl FromStr for Judged {
    type Err = UnknownJudged;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Judged::all()
            .find(|judged| judged.name() == s)
            .ok_or_else(|| UnknownJudged(s.to_owned()))
    }
}

/// Read from its name (a table key or a value), so that a bad one is an
/// error naming the key.
impl<'de> Deserialize<'de> for Judged {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Error for a name that is no [level key](Judged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownJudged(pub String);

impl fmt::Display for UnknownJudged {
    /// ``unknown leak kind `x` (expected one of: close-wait, …, orphan, or shared)``
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = Judged::all().map(Judged::name).collect();
        let last = names.pop().unwrap_or_default();
        write!(
            f,
            "unknown leak kind `{}` (expected one of: {}, or {last})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownJudged {}

impl fmt::Display for Judged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The rules that turn held sockets into leaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The levels set; a key not set has its [`Judged::default_level`].
    levels: BTreeMap<Judged, Level>,
    allowed_listen_ports: BTreeSet<u16>,
    allowed_listen_paths: Vec<glob::Pattern>,
    allow_sockets: Vec<AllowSocket>,
    known_pools: bool,
    linger: Duration,
}

/// Linger used when none is configured: long enough for a server thread to
/// notice its peer went away, short enough not to matter on a clean run
/// (a clean test never waits).
pub const DEFAULT_LINGER: Duration = Duration::from_millis(100);

/// How often the sockets are read again while the linger lasts: short, so
/// a test whose thread closes a moment late goes on without paying the
/// whole linger.
pub const LINGER_POLL: Duration = Duration::from_millis(5);

/// The linger rule, one for `cargo sockcheck` and the in-process checks
/// alike: cleanup is waited for while any leak the policy reports remains,
/// warnings included, so that a warning's verdict does not flip with a
/// thread that closes a connection a moment after the test. `leaks` are
/// those [`classify`] found under the policy (allowed
/// sockets are not among them, so they are never waited for).
pub fn lingers_for(leaks: &[Leak]) -> bool {
    !leaks.is_empty()
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            levels: BTreeMap::new(),
            allowed_listen_ports: BTreeSet::new(),
            allowed_listen_paths: Vec::new(),
            allow_sockets: Vec::new(),
            known_pools: true,
            linger: DEFAULT_LINGER,
        }
    }
}

impl Policy {
    /// Sets how `what` is treated: a kind's level (`LeakKind` converts), or
    /// what becomes of the sockets shared by design.
    pub fn set(&mut self, what: impl Into<Judged>, level: Level) -> &mut Self {
        self.levels.insert(what.into(), level);
        self
    }

    /// How `what` is treated, configured or by default.
    pub fn level(&self, what: impl Into<Judged>) -> Level {
        let what = what.into();
        self.levels
            .get(&what)
            .copied()
            .unwrap_or_else(|| what.default_level())
    }

    /// How sockets shared by design are treated: `Allow` (the default)
    /// lists them as allowed; `Deny` judges them as the leaks they are,
    /// `Warn` as warnings.
    pub fn shared_level(&self) -> Level {
        self.level(Judged::Shared)
    }

    /// Lets a unix listener whose address matches `pattern` stay open: a
    /// glob on the address as reports write it (`/run/app.sock`,
    /// `/tmp/*/server.sock`, `@name` for an abstract name).
    pub fn allow_listen_path(&mut self, pattern: glob::Pattern) -> &mut Self {
        self.allowed_listen_paths.push(pattern);
        self
    }

    /// Lets a listener on `port` stay open (a shared server the suite keeps on purpose).
    pub fn allow_listen_port(&mut self, port: u16) -> &mut Self {
        self.allowed_listen_ports.insert(port);
        self
    }

    /// Allows sockets whose creation stack `rule` matches; rules added
    /// earlier are tried first.
    pub fn allow_socket(&mut self, rule: AllowSocket) -> &mut Self {
        self.allow_sockets.push(rule);
        self
    }

    /// Turns the built-in rules ([`allow::known_pools`]) on or off (default: on).
    pub fn set_known_pools(&mut self, on: bool) -> &mut Self {
        self.known_pools = on;
        self
    }

    /// The rules added with [`Policy::allow_socket`], without the built-in ones.
    pub fn configured_socket_rules(&self) -> &[AllowSocket] {
        &self.allow_sockets
    }

    /// Every rule in force, in the order they are tried: the configured
    /// ones, then the known pools unless they are switched off, then the
    /// rule for sockets shared by design unless they are judged.
    pub fn socket_rules(&self) -> impl Iterator<Item = &AllowSocket> + Clone {
        let known: &[AllowSocket] = if self.known_pools {
            allow::known_pools()
        } else {
            &[]
        };
        let shared = (self.shared_level() == Level::Allow).then(allow::shared_statics);
        self.allow_sockets.iter().chain(known).chain(shared)
    }

    /// The rule that allows a socket created at `origin`, if one does.
    pub fn allowed_by(&self, origin: Option<&Origin>) -> Option<&AllowSocket> {
        allow::first_match(self.socket_rules(), origin)
    }

    /// Sets the grace period given to asynchronous cleanup before leaks are judged.
    pub fn set_linger(&mut self, linger: Duration) -> &mut Self {
        self.linger = linger;
        self
    }

    /// The grace period given to asynchronous cleanup before leaks are judged.
    pub fn linger(&self) -> Duration {
        self.linger
    }

    /// True when a listener at `address` may stay open: its port or its
    /// unix path is allowed.
    fn allows_listener_at(&self, address: &Address) -> bool {
        match address {
            Address::Inet(address) => self.allowed_listen_ports.contains(&address.port()),
            Address::Unix(_) => {
                let text = address.to_string();
                self.allowed_listen_paths.iter().any(|p| p.matches(&text))
            }
        }
    }

    /// `findings` under the policy: each gets the severity its kind's
    /// level gives. A finding of a warning kind set to `allow` is dropped;
    /// one that explains a failure is kept at `allow`, with no severity
    /// (see [`Judged::Port`]).
    pub fn judge_port_findings(&self, findings: Vec<PortFinding>) -> Vec<PortFinding> {
        findings
            .into_iter()
            .filter_map(|mut finding| {
                let kind = finding.kind();
                let severity = self.level(kind).severity();
                let explains = kind.default_severity().is_none();
                if severity.is_none() && !explains {
                    return None;
                }
                finding.severity = severity;
                Some(finding)
            })
            .collect()
    }

    /// The severity a leak of `kind` on `socket` gets, or `None` when it is allowed.
    pub fn severity_for(&self, kind: LeakKind, socket: &Socket) -> Option<Severity> {
        let allowed_listener = matches!(kind, LeakKind::Listen | LeakKind::Orphan)
            && socket.state == crate::socket::State::Listen
            && self.allows_listener_at(&socket.local);
        if allowed_listener {
            return None;
        }
        self.level(kind).severity()
    }
}

/// Classifies the sockets a test left open into leaks under `policy`;
/// sockets that are no leak ([`leak::kind_of`]) or that the policy allows
/// are dropped.
pub fn classify<'a>(
    sockets: impl IntoIterator<Item = &'a Socket>,
    holder: Holder,
    policy: &Policy,
) -> Vec<Leak> {
    sockets
        .into_iter()
        .filter_map(|socket| {
            let kind = leak::kind_of(socket, holder)?;
            let severity = policy.severity_for(kind, socket)?;
            Some(Leak {
                kind,
                severity,
                socket: socket.clone(),
                stability: None,
                opened: None,
                held_by: Vec::new(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::State;
    use crate::testing::tcp;

    #[test]
    fn default_policy_gives_the_design_severities() {
        let sockets = [
            tcp(State::CloseWait, "127.0.0.1:1", "127.0.0.1:2"),
            tcp(State::Established, "127.0.0.1:1", "127.0.0.1:2"),
        ];
        let leaks = classify(&sockets, Holder::Test, &Policy::default());
        let severities: Vec<_> = leaks.iter().map(|l| (l.kind, l.severity)).collect();
        assert_eq!(
            severities,
            [
                (LeakKind::CloseWait, Severity::Error),
                (LeakKind::Established, Severity::Warning)
            ]
        );
    }

    #[test]
    fn shared_is_judged_like_a_kind_and_allowed_by_default() {
        assert_eq!("shared".parse::<Judged>(), Ok(Judged::Shared));
        assert_eq!("udp".parse::<Judged>(), Ok(Judged::Kind(LeakKind::Udp)));
        let err = "sharde".parse::<Judged>().unwrap_err().to_string();
        assert!(
            err.ends_with("fixed-port-shared, port-churn, or shared)"),
            "{err}"
        );

        let mut policy = Policy::default();
        assert_eq!(policy.shared_level(), Level::Allow);
        assert!(policy.socket_rules().any(AllowSocket::is_shared));
        policy.set(Judged::Shared, Level::Deny);
        assert!(!policy.socket_rules().any(AllowSocket::is_shared));
        policy.set(Judged::Kind(LeakKind::Udp), Level::Allow);
        assert_eq!(policy.level(LeakKind::Udp), Level::Allow);
    }

    #[test]
    fn port_finding_kinds_take_levels_and_explanations_stay_without_one() {
        use crate::ports::{PortHolder, PortProblem};
        let churn = PortFinding::new(PortProblem::PortChurn {
            active_closes: 5000,
            threshold: 100,
        });
        let in_use = PortFinding::new(PortProblem::AddressInUse {
            address: "127.0.0.1:8080".into(),
            held_by: PortHolder::Unknown,
        });
        let judged = |policy: &Policy| -> Vec<(PortFindingKind, Option<Severity>)> {
            policy
                .judge_port_findings(vec![churn.clone(), in_use.clone()])
                .iter()
                .map(|f| (f.kind(), f.severity))
                .collect()
        };
        let mut policy = Policy::default();
        assert_eq!(
            judged(&policy),
            [
                (PortFindingKind::PortChurn, Some(Severity::Warning)),
                (PortFindingKind::AddressInUse, None)
            ]
        );
        assert_eq!(
            "port-churn".parse(),
            Ok(Judged::Port(PortFindingKind::PortChurn))
        );
        policy.set(PortFindingKind::PortChurn, Level::Deny);
        policy.set(PortFindingKind::AddressInUse, Level::Warn);
        assert_eq!(
            judged(&policy),
            [
                (PortFindingKind::PortChurn, Some(Severity::Error)),
                (PortFindingKind::AddressInUse, Some(Severity::Warning))
            ]
        );
        policy.set(PortFindingKind::PortChurn, Level::Allow);
        policy.set(PortFindingKind::AddressInUse, Level::Allow);
        assert_eq!(judged(&policy), [(PortFindingKind::AddressInUse, None)]);
    }
}
