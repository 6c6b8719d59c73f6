//! What the user allows: severity per leak kind, listen ports that are meant
//! to stay open, sockets allowed by where they were created, and how long to
//! wait for asynchronous cleanup.

use crate::allow::{self, AllowSocket};
use crate::leak::{Leak, LeakKind, Severity};
use crate::site::Origin;
use crate::socket::{Address, Socket};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
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
}

/// The rules that turn held sockets into leaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    levels: BTreeMap<LeakKind, Level>,
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
/// those [`classify`](crate::leak::classify) found under the policy (allowed
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
    /// Sets how `kind` is treated.
    pub fn set_level(&mut self, kind: LeakKind, level: Level) -> &mut Self {
        self.levels.insert(kind, level);
        self
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
    /// ones, then the known pools unless they are switched off.
    pub fn socket_rules(&self) -> impl Iterator<Item = &AllowSocket> + Clone {
        let known: &[AllowSocket] = if self.known_pools {
            allow::known_pools()
        } else {
            &[]
        };
        self.allow_sockets.iter().chain(known)
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

    /// How `kind` is treated, configured or by default.
    pub fn level(&self, kind: LeakKind) -> Level {
        self.levels
            .get(&kind)
            .copied()
            .unwrap_or(match kind.default_severity() {
                Severity::Error => Level::Deny,
                Severity::Warning => Level::Warn,
            })
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

    /// The severity a leak of `kind` on `socket` gets, or `None` when it is allowed.
    pub fn severity_for(&self, kind: LeakKind, socket: &Socket) -> Option<Severity> {
        let allowed_listener = matches!(kind, LeakKind::Listen | LeakKind::Orphan)
            && socket.state == crate::socket::State::Listen
            && self.allows_listener_at(&socket.local);
        if allowed_listener {
            return None;
        }
        match self.level(kind) {
            Level::Deny => Some(Severity::Error),
            Level::Warn => Some(Severity::Warning),
            Level::Allow => None,
        }
    }
}
