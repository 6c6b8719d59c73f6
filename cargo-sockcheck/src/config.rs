//! The configuration a run judges leaks by: the project's files, read per
//! package, with the command line on top.
//!
//! Each package of the workspace gets its own [`Config`] (workspace
//! metadata, then `sockcheck.toml`, then that package's metadata; see
//! `sockcheck::config`), and its tests run under its policy: levels,
//! allowed listen ports and linger can differ from package to package.
//! `--deny`, `--warn`, `--allow`, `--linger`, `--allow-from` and
//! `--no-known-pools` apply on top, to every package (`--allow-from` rules
//! are tried after the configuration's).
//!
//! A test matched by `allow-tests` runs under a policy that allows every
//! kind: its leaks are not reported and cannot fail the run, as if it held
//! no socket (its leftover processes are still killed). The run says on
//! stderr how many tests the configuration allows.
//!
//! A dependency can declare the sockets it keeps on purpose in its own
//! `[package.metadata.sockcheck] allow-sockets` (the same rules), read from
//! `cargo metadata` and applied to its own frames only, after the
//! project's rules and the command line's.
//!
//! `flaky` (how leaks seen only in some runs of `--rerun-leaks` count)
//! applies to the whole run: `deny` if any tested package's configuration
//! says so, so one package cannot loosen the gate for another.

use crate::cargo::TestBinary;
use crate::cli::GateOptions;
use crate::list::TestCase;
use anyhow::{anyhow, Result};
use cargo_metadata::Metadata;
use sockcheck::allow::AllowSocket;
use sockcheck::config::{Config, FlakyLevel};
use sockcheck::policy::{Judged, Level, Policy};
use sockcheck::report::words::counted;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The configuration of every package, ready for the run.
pub struct RunConfig {
    /// Keyed by the directory holding the package's `Cargo.toml`.
    packages: HashMap<PathBuf, PackageConfig>,
    /// Without any package's metadata: for what belongs to no package.
    workspace: PackageConfig,
    /// What allowed tests run under.
    allow_all: Policy,
}

/// One package's configuration and the policy it makes with the command line.
struct PackageConfig {
    config: Config,
    policy: Policy,
}

impl PackageConfig {
    /// `config` with the command line on top, then the rules `declared` by
    /// dependencies for themselves.
    fn new(config: Config, gate: &GateOptions, declared: &[AllowSocket]) -> PackageConfig {
        let mut policy = config.policy();
        apply(gate, &mut policy);
        for rule in declared {
            policy.allow_socket(rule.clone());
        }
        PackageConfig { config, policy }
    }
}

impl RunConfig {
    /// Reads the configuration of every package in `metadata`'s workspace.
    /// A bad file or key is an error naming both.
    pub fn load(metadata: &Metadata, gate: &GateOptions) -> Result<RunConfig> {
        let root = metadata.workspace_root.as_std_path();
        // The error names the file, line and key in one line; its source
        // chain would only repeat it.
        let load = |manifest: Option<&Path>| {
            Config::load(root, manifest)
                .map_err(|e| anyhow!("invalid sockcheck configuration: {e}"))
        };
        let declared = declared_rules(metadata);
        let workspace = PackageConfig::new(load(None)?, gate, &declared);
        let mut packages = HashMap::new();
        // The members' own configuration; a dependency's is not ours to
        // apply, beyond the rules it declares for itself.
        for package in metadata.workspace_packages() {
            let manifest = package.manifest_path.as_std_path();
            let dir = manifest.parent().unwrap_or(root).to_path_buf();
            packages.insert(
                dir,
                PackageConfig::new(load(Some(manifest))?, gate, &declared),
            );
        }
        // Every level key, port findings' included: an allowed test's
        // churn or fixed port is not reported either (a finding that only
        // explains a failure stays, with no verdict of its own).
        let mut allow_all = Policy::default();
        for what in Judged::all() {
            allow_all.set(what, Level::Allow);
        }
        Ok(RunConfig {
            packages,
            workspace,
            allow_all,
        })
    }

    fn of(&self, binary: &TestBinary) -> &PackageConfig {
        self.packages
            .get(&binary.package_root)
            .unwrap_or(&self.workspace)
    }

    /// `churn-threshold` from the workspace's files (the command line's
    /// `--churn-threshold` wins over it): one threshold for the run.
    pub fn churn_threshold(&self) -> Option<u64> {
        self.workspace.config.churn_threshold()
    }

    /// The policy outside any package: the workspace's files and the command line.
    pub fn workspace_policy(&self) -> &Policy {
        &self.workspace.policy
    }

    /// The policy a whole run of `binary` is judged by.
    pub fn binary_policy(&self, binary: &TestBinary) -> &Policy {
        &self.of(binary).policy
    }

    /// The policy `test` of `binary` is judged by: its package's, or one
    /// that allows everything when `allow-tests` names it.
    pub fn test_policy(&self, binary: &TestBinary, test: &TestCase) -> &Policy {
        if self.allowed(binary, test).is_some() {
            &self.allow_all
        } else {
            self.binary_policy(binary)
        }
    }

    /// The reason `allow-tests` gives for `test`, if it names it.
    fn allowed(&self, binary: &TestBinary, test: &TestCase) -> Option<&str> {
        self.of(binary)
            .config
            .is_test_allowed(&binary.name, &test.name)
    }

    /// `2 tests may leak (allow-tests: REASON; REASON)` when `allow-tests`
    /// names some of `tests` (of `binaries`).
    pub fn allowed_note(&self, binaries: &[TestBinary], tests: &[TestCase]) -> Option<String> {
        let mut reasons: Vec<&str> = tests
            .iter()
            .filter_map(|test| self.allowed(&binaries[test.binary], test))
            .collect();
        let count = reasons.len();
        reasons.sort_unstable();
        reasons.dedup();
        (count > 0).then(|| {
            format!(
                "{} may leak (allow-tests: {})",
                counted(count, "test"),
                reasons.join("; ")
            )
        })
    }

    /// Every allow-sockets rule in force in some package (or the
    /// workspace), each once: what a run's `rules` report on.
    pub fn socket_rules(&self) -> Vec<&AllowSocket> {
        let mut rules: Vec<&AllowSocket> = Vec::new();
        let policies = std::iter::once(&self.workspace).chain(self.packages.values());
        for rule in policies.flat_map(|package| package.policy.socket_rules()) {
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        rules
    }

    /// True when leaks seen only in some reruns keep their severity: when the
    /// configuration of any package of `binaries` says `flaky = "deny"`.
    pub fn flaky_fails(&self, binaries: &[TestBinary]) -> bool {
        binaries
            .iter()
            .any(|binary| self.of(binary).config.flaky() == FlakyLevel::Deny)
    }
}

/// The `allow-sockets` rules the dependencies (packages outside the
/// workspace) declare for themselves in `[package.metadata.sockcheck]`,
/// each scoped to its crate's frames ([`AllowSocket::declared_by`]). A
/// dependency's other keys are not read. A declaration that does not parse
/// is skipped with a warning: it is not the project's to fix.
fn declared_rules(metadata: &Metadata) -> Vec<AllowSocket> {
    let members: Vec<&cargo_metadata::PackageId> = metadata.workspace_members.iter().collect();
    let mut rules = Vec::new();
    for package in &metadata.packages {
        if members.contains(&&package.id) {
            continue;
        }
        let Some(declared) = package.metadata.pointer("/sockcheck/allow-sockets") else {
            continue;
        };
        match serde_json::from_value::<Vec<AllowSocket>>(declared.clone()) {
            Ok(declared) => {
                let name = package
                    .targets
                    .iter()
                    .find(|target| target.is_lib())
                    .map_or(package.name.as_str(), |target| target.name.as_str());
                rules.extend(declared.into_iter().map(|rule| rule.declared_by(name)));
            }
            Err(e) => eprintln!(
                "sockcheck: warning: {} {}'s [package.metadata.sockcheck] allow-sockets is \
                 ignored: {e}",
                package.name, package.version
            ),
        }
    }
    rules
}

/// The policy the command line alone asks for (no configuration files).
pub fn policy(gate: &GateOptions) -> Policy {
    let mut policy = Policy::default();
    apply(gate, &mut policy);
    policy
}

/// Puts the command line's levels and linger on top of `policy`.
fn apply(gate: &GateOptions, policy: &mut Policy) {
    for (judged, level) in gate.severity.levels() {
        policy.set(judged, level);
    }
    if let Some(ms) = gate.linger {
        policy.set_linger(Duration::from_millis(ms));
    }
    for rule in &gate.allow_from {
        policy.allow_socket(rule.clone());
    }
    if gate.no_known_pools {
        policy.set_known_pools(false);
    }
}
