//! Project configuration: which leaks matter, which ports and tests are
//! allowed, how long to wait for cleanup.
//!
//! sockcheck reads the same keys from three places, each optional:
//!
//! - `[workspace.metadata.sockcheck]` in the workspace root's `Cargo.toml`;
//! - `sockcheck.toml` at the workspace root (keys at the top level);
//! - `[package.metadata.sockcheck]` in a package's `Cargo.toml`.
//!
//! ```toml
//! [workspace.metadata.sockcheck]
//! linger-ms = 100                    # grace period for async cleanup
//! allow-listen-ports = [8080, 5432]  # listeners meant to stay open
//! allow-listen-paths = ["/run/app.sock", "*/shared-*.sock", "@app"]  # unix ones, by glob
//! flaky = "warn"                     # how leaks seen only sometimes count: "warn" or "deny"
//! churn-threshold = 1000             # port-churn above 1000 connections closed first
//!
//! [workspace.metadata.sockcheck.levels]   # per leak kind: "deny", "warn" or "allow"
//! close-wait = "deny"
//! established = "allow"
//! port-churn = "deny"                # port findings take levels too
//!
//! [[workspace.metadata.sockcheck.allow-tests]]
//! pattern = "net::shared_*"          # glob on `binary::name` or on the name alone
//! reason = "these tests share one server on purpose"
//!
//! [[workspace.metadata.sockcheck.allow-sockets]]   # by creation stack (`cargo sockcheck` only)
//! function = "my_app::test_support::shared_server*"  # or `crate = "NAME"`, or `file = "GLOB"`
//! reason = "one server for the whole suite"
//! ```
//!
//! `known-pools = false` switches off the built-in `allow-sockets` rules
//! ([`crate::allow::known_pools`]: mockito's, wiremock's and httpmock's
//! mock servers, httptest's server pool, tokio's signal socketpair), which
//! are on by default. See [`crate::allow`] for how rules match.
//!
//! `include = ["../org/sockcheck.toml"]` reads other files first (paths
//! relative to the file that names them, written like `sockcheck.toml`,
//! and may include more), so that a workspace or an organisation keeps one
//! list; the including file's own keys go on top of what it includes. A
//! file included more than once is read once, where it is first included.
//!
//! The kinds under `levels` are those of [`LeakKind`](crate::leak::LeakKind): `close-wait`,
//! `listen`, `established`, `reset`, `udp`, `unix-datagram`, `orphan`;
//! those of [`PortFindingKind`](crate::ports::PortFindingKind) (`cargo
//! sockcheck` only): `address-in-use`, `address-not-available` (they
//! explain a failure and add no verdict unless set to `warn` or `deny`),
//! `fixed-port-in-ephemeral-range`, `fixed-port-shared`, `port-churn`
//! (warnings by default: `port-churn = "deny"` gates CI on churn);
//! and `shared`, the sockets shared by design (made once per process by a
//! static's initializer), allowed by default: `shared = "deny"` judges them
//! as the leaks they are ([`Judged`]). An unknown key or a bad value is an
//! error naming the file, the line and the key.
//!
//! **Precedence**, highest first: the command line (`--deny`/`--warn`/
//! `--allow KIND`, applied by the caller to [`Config::policy`] with
//! [`Policy::set`]), then package metadata, then `sockcheck.toml`,
//! then workspace metadata. A higher source overrides `linger-ms`, `flaky`,
//! `known-pools` and each kind's level it sets; `allow-listen-ports`,
//! `allow-listen-paths`, `allow-tests` and `allow-sockets` add up across
//! sources.
//!
//! The files are read in `config/files.rs` (errors: [`ConfigError`]);
//! this module holds what they say and how sources layer into a
//! [`Policy`].

mod files;
#[cfg(test)]
mod tests;

pub use files::ConfigError;

use crate::allow::{AllowSocket, AllowTest, Glob};
use crate::policy::{Judged, Level, Policy};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How a leak seen in some runs of a test but not all counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlakyLevel {
    /// Reported as a warning, whatever its kind's level (the default).
    #[default]
    Warn,
    /// Counted at its kind's level, like a leak seen every time.
    Deny,
}

/// The configuration in force: from [`Config::load`], or layered by hand
/// from the `parse_*` functions with [`Config::layer`]. Its fields are the
/// keys as written in any of the three places; a key not given is `None`
/// or empty, so that a lower source's value shows through when layered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    levels: BTreeMap<Judged, Level>,
    allow_listen_ports: BTreeSet<u16>,
    allow_listen_paths: Vec<Glob>,
    linger_ms: Option<u64>,
    allow_tests: Vec<AllowTest>,
    flaky: Option<FlakyLevel>,
    allow_sockets: Vec<AllowSocket>,
    known_pools: Option<bool>,
    churn_threshold: Option<u64>,
    /// `include` paths as written, until [`Config::load`] reads them.
    #[serde(rename = "include")]
    includes: Vec<String>,
}

/// The sockcheck tables of one `Cargo.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestConfig {
    /// `[workspace.metadata.sockcheck]` (empty when absent).
    pub workspace: Config,
    /// `[package.metadata.sockcheck]` (empty when absent).
    pub package: Config,
}

impl Config {
    /// This configuration with `over` on top: `over`'s linger, flaky level,
    /// known-pools switch, churn threshold and per-kind levels win; allowed ports, tests and
    /// sockets add up (`over`'s tests and sockets first, so their reason is
    /// the one given); `include`s not yet read add up too.
    pub fn layer(mut self, over: Config) -> Config {
        self.levels.extend(over.levels);
        self.allow_listen_ports.extend(over.allow_listen_ports);
        self.allow_listen_paths.extend(over.allow_listen_paths);
        self.linger_ms = over.linger_ms.or(self.linger_ms);
        self.flaky = over.flaky.or(self.flaky);
        self.known_pools = over.known_pools.or(self.known_pools);
        self.churn_threshold = over.churn_threshold.or(self.churn_threshold);
        self.allow_tests = [over.allow_tests, self.allow_tests].concat();
        self.allow_sockets = [over.allow_sockets, self.allow_sockets].concat();
        self.includes.extend(over.includes);
        self
    }

    /// The policy this configuration sets (defaults for anything not set).
    pub fn policy(&self) -> Policy {
        let mut policy = Policy::default();
        for (judged, level) in &self.levels {
            policy.set(*judged, *level);
        }
        for port in &self.allow_listen_ports {
            policy.allow_listen_port(*port);
        }
        for glob in &self.allow_listen_paths {
            policy.allow_listen_path(glob.pattern().clone());
        }
        if let Some(ms) = self.linger_ms {
            policy.set_linger(Duration::from_millis(ms));
        }
        for rule in &self.allow_sockets {
            policy.allow_socket(rule.clone());
        }
        if let Some(on) = self.known_pools {
            policy.set_known_pools(on);
        }
        policy
    }

    /// The `include` paths as written, until [`Config::load`] reads them
    /// (the `parse_*` functions leave them to it); empty after loading.
    pub fn includes(&self) -> &[String] {
        &self.includes
    }

    /// The reason given for allowing test `name` of `binary` to leak, or
    /// `None` when no `allow-tests` pattern matches it.
    pub fn is_test_allowed(&self, binary: &str, name: &str) -> Option<&str> {
        self.allow_tests
            .iter()
            .find(|allow| allow.matches(binary, name))
            .map(AllowTest::reason)
    }

    /// The `allow-tests` entries, highest precedence first.
    pub fn allow_tests(&self) -> &[AllowTest] {
        &self.allow_tests
    }

    /// How leaks seen only in some runs count.
    pub fn flaky(&self) -> FlakyLevel {
        self.flaky.unwrap_or_default()
    }

    /// `churn-threshold`: the connections closed first above which a test
    /// gets a `port-churn` finding, when set (`cargo sockcheck` only; its
    /// `--churn-threshold` wins).
    pub fn churn_threshold(&self) -> Option<u64> {
        self.churn_threshold
    }
}
