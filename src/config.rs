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
//!
//! [workspace.metadata.sockcheck.levels]   # per leak kind: "deny", "warn" or "allow"
//! close-wait = "deny"
//! established = "allow"
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
//! ([`crate::allow::known_pools`]: mockito's and wiremock's mock servers,
//! httptest's server pool, tokio's signal socketpair), which are on by
//! default. See [`crate::allow`] for how rules match.
//!
//! `include = ["../org/sockcheck.toml"]` reads other files first (paths
//! relative to the file that names them, written like `sockcheck.toml`,
//! and may include more), so that a workspace or an organisation keeps one
//! list; the including file's own keys go on top of what it includes. A
//! file included more than once is read once, where it is first included.
//!
//! The kinds under `levels` are those of [`LeakKind`](crate::leak::LeakKind): `close-wait`,
//! `listen`, `established`, `reset`, `udp`, `unix-datagram`, `orphan`;
//! and `shared`, the sockets shared by design (made once per process by a
//! static's initializer), allowed by default: `shared = "deny"` judges them
//! as the leaks they are ([`Judged`]). An unknown key or a bad value is an
//! error naming the file, the line and the key.
//!
//! **Precedence**, highest first: the command line (`--deny`/`--warn`/
//! `--allow KIND`, applied by the caller to [`Config::policy`] with
//! [`Policy::set_level`]), then package metadata, then `sockcheck.toml`,
//! then workspace metadata. A higher source overrides `linger-ms`, `flaky`,
//! `known-pools` and each kind's level it sets; `allow-listen-ports`,
//! `allow-listen-paths`, `allow-tests` and `allow-sockets` add up across
//! sources.

use crate::allow::AllowSocket;
use crate::policy::{Judged, Level, Policy};
use serde::{Deserialize, Deserializer};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
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

/// A test whose leaks are accepted, with the reason given in the config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowTest {
    pattern: Glob,
    reason: String,
}

impl AllowTest {
    /// The glob as written, e.g. `net::shared_*`.
    pub fn pattern(&self) -> &str {
        self.pattern.0.as_str()
    }

    /// Why the test may leak.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// True when the pattern matches `binary::name` or `name`.
    pub fn matches(&self, binary: &str, name: &str) -> bool {
        self.pattern.0.matches(name) || self.pattern.0.matches(&format!("{binary}::{name}"))
    }
}

/// A glob checked when the config is read, so a bad one names its key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob(glob::Pattern);

impl<'de> Deserialize<'de> for Glob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        glob::Pattern::new(&text)
            .map(Glob)
            .map_err(|e| serde::de::Error::custom(format!("invalid glob `{text}`: {e}")))
    }
}

/// The configuration keys, as written in any of the three places.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    #[serde(default)]
    levels: BTreeMap<Judged, Level>,
    #[serde(default)]
    allow_listen_ports: Vec<u16>,
    #[serde(default)]
    allow_listen_paths: Vec<Glob>,
    linger_ms: Option<u64>,
    #[serde(default)]
    allow_tests: Vec<AllowTest>,
    flaky: Option<FlakyLevel>,
    #[serde(default)]
    allow_sockets: Vec<AllowSocket>,
    known_pools: Option<bool>,
    #[serde(default)]
    include: Vec<String>,
}

/// The parts of a `Cargo.toml` sockcheck reads; everything else is ignored.
#[derive(Deserialize)]
struct Manifest {
    workspace: Option<MetadataHolder>,
    package: Option<MetadataHolder>,
}

#[derive(Deserialize)]
struct MetadataHolder {
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    sockcheck: Option<RawConfig>,
}

/// The configuration in force: from [`Config::load`], or layered by hand
/// from the `parse_*` functions with [`Config::layer`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    levels: BTreeMap<Judged, Level>,
    allow_listen_ports: BTreeSet<u16>,
    allow_listen_paths: Vec<glob::Pattern>,
    linger: Option<Duration>,
    allow_tests: Vec<AllowTest>,
    flaky: Option<FlakyLevel>,
    allow_sockets: Vec<AllowSocket>,
    known_pools: Option<bool>,
    /// `include` paths as written, until [`Config::load`] reads them.
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

/// Why the configuration could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// A file is not valid TOML, or holds an unknown key or a bad value.
    Invalid {
        /// The file, as given (e.g. `sockcheck.toml` or a full path).
        origin: String,
        /// 1-based line of the fault, when known.
        line: Option<usize>,
        /// Dotted key of the fault, e.g. `levels.close-wait`, when known.
        key: Option<String>,
        /// What is wrong, e.g. ``unknown field `lingr`, expected one of ...``.
        message: String,
    },
}

impl fmt::Display for ConfigError {
    /// `sockcheck.toml:3: levels.close-wait: unknown variant `denyy`, expected one of ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            ConfigError::Invalid {
                origin,
                line,
                key,
                message,
            } => {
                write!(f, "{origin}")?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                }
                if let Some(key) = key {
                    write!(f, ": {key}")?;
                }
                write!(f, ": {message}")
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            ConfigError::Invalid { .. } => None,
        }
    }
}

impl Config {
    /// Reads and layers the configuration for one package: workspace
    /// metadata in `<workspace_root>/Cargo.toml`, then
    /// `<workspace_root>/sockcheck.toml` if it exists, then the package
    /// metadata in `package_manifest` (a `Cargo.toml` path), if given.
    pub fn load(
        workspace_root: &Path,
        package_manifest: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let root_manifest = workspace_root.join("Cargo.toml");
        let root = read(&root_manifest)?
            .map(|text| Config::parse_manifest(&text, &root_manifest.display().to_string()))
            .transpose()?
            .unwrap_or_default();
        let sockcheck_toml = workspace_root.join("sockcheck.toml");
        let file = read(&sockcheck_toml)?
            .map(|text| Config::parse_sockcheck_toml(&text, &sockcheck_toml.display().to_string()))
            .transpose()?
            .map(|config| config.with_includes(&sockcheck_toml, ""))
            .transpose()?
            .unwrap_or_default();
        let package = match package_manifest {
            None => Config::default(),
            Some(path) if path == root_manifest => root.package,
            Some(path) => {
                read(path)?
                    .map(|text| Config::parse_manifest(&text, &path.display().to_string()))
                    .transpose()?
                    .unwrap_or_default()
                    .package
            }
        };
        let package_file = package_manifest.unwrap_or(&root_manifest);
        let workspace = root
            .workspace
            .with_includes(&root_manifest, "workspace.metadata.sockcheck.")?;
        let package = package.with_includes(package_file, "package.metadata.sockcheck.")?;
        Ok(workspace.layer(file).layer(package))
    }

    /// Reads the configuration that applies to the package in
    /// `package_dir` (a test process's `CARGO_MANIFEST_DIR`): its workspace
    /// root is the nearest directory at or above it whose `Cargo.toml` has a
    /// `[workspace]` table, else the package's own directory.
    pub fn load_for_package(package_dir: &Path) -> Result<Config, ConfigError> {
        let manifest = package_dir.join("Cargo.toml");
        let mut root = package_dir;
        for dir in package_dir.ancestors() {
            let is_workspace = read(&dir.join("Cargo.toml"))?
                .and_then(|text| text.parse::<toml::Table>().ok())
                .is_some_and(|table| table.contains_key("workspace"));
            if is_workspace {
                root = dir;
                break;
            }
        }
        Config::load(root, Some(&manifest))
    }

    /// The configuration of the test process running now: that of the
    /// package in `CARGO_MANIFEST_DIR` (set by cargo when it runs tests;
    /// see [`Config::load_for_package`]), or the default when it is unset.
    pub fn for_test_process() -> Result<Config, ConfigError> {
        match std::env::var_os("CARGO_MANIFEST_DIR") {
            Some(dir) if !dir.is_empty() => Config::load_for_package(Path::new(&dir)),
            _ => Ok(Config::default()),
        }
    }

    /// This configuration layered on top of the files its `include` names
    /// (relative to `file`, the file it was read from), read recursively;
    /// `key_prefix` is where its keys live in `file`, for errors. A file
    /// included more than once (a DAG of includes, not a tree) is read and
    /// layered once, where it is first included, so however the files
    /// include each other the work grows with the number of files.
    fn with_includes(self, file: &Path, key_prefix: &str) -> Result<Config, ConfigError> {
        let mut chain = vec![file.canonicalize().unwrap_or_else(|_| file.to_owned())];
        let mut seen = HashSet::new();
        self.with_includes_in(file, key_prefix, &mut chain, &mut seen)
    }

    /// [`Config::with_includes`] with the `chain` of files that led here
    /// (a cycle is an error) and the files `seen` already (skipped).
    fn with_includes_in(
        mut self,
        file: &Path,
        key_prefix: &str,
        chain: &mut Vec<PathBuf>,
        seen: &mut HashSet<PathBuf>,
    ) -> Result<Config, ConfigError> {
        let includes = std::mem::take(&mut self.includes);
        let dir = file.parent().unwrap_or(Path::new("."));
        let mut base = Config::default();
        for (index, include) in includes.iter().enumerate() {
            let path = dir.join(include);
            let bad_include = |message: String| ConfigError::Invalid {
                origin: file.display().to_string(),
                line: None,
                key: Some(format!("{key_prefix}include[{index}]")),
                message,
            };
            let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
            if chain.contains(&canonical) {
                return Err(bad_include(format!(
                    "{} includes itself (through {})",
                    path.display(),
                    chain
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" -> ")
                )));
            }
            if !seen.insert(canonical.clone()) {
                continue;
            }
            let text = crate::input::read_to_string(&path)
                .map_err(|e| bad_include(format!("cannot read {}: {e}", path.display())))?;
            let included = Config::parse_sockcheck_toml(&text, &path.display().to_string())?;
            chain.push(canonical);
            let included = included.with_includes_in(&path, "", chain, seen)?;
            chain.pop();
            base = base.layer(included);
        }
        Ok(base.layer(self))
    }

    /// Parses a `sockcheck.toml`; `origin` names it in errors.
    pub fn parse_sockcheck_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = deserialize(text, origin)?;
        Ok(Config::from_raw(raw))
    }

    /// Parses the sockcheck tables of a `Cargo.toml`; `origin` names it in
    /// errors. Other tables and keys are not looked at.
    pub fn parse_manifest(text: &str, origin: &str) -> Result<ManifestConfig, ConfigError> {
        let manifest: Manifest = deserialize(text, origin)?;
        let table = |holder: Option<MetadataHolder>| {
            holder
                .and_then(|h| h.metadata)
                .and_then(|m| m.sockcheck)
                .map(Config::from_raw)
                .unwrap_or_default()
        };
        Ok(ManifestConfig {
            workspace: table(manifest.workspace),
            package: table(manifest.package),
        })
    }

    fn from_raw(raw: RawConfig) -> Config {
        Config {
            levels: raw.levels,
            allow_listen_ports: raw.allow_listen_ports.into_iter().collect(),
            allow_listen_paths: raw.allow_listen_paths.into_iter().map(|g| g.0).collect(),
            linger: raw.linger_ms.map(Duration::from_millis),
            allow_tests: raw.allow_tests,
            flaky: raw.flaky,
            allow_sockets: raw.allow_sockets,
            known_pools: raw.known_pools,
            includes: raw.include,
        }
    }

    /// This configuration with `over` on top: `over`'s linger, flaky level,
    /// known-pools switch and per-kind levels win; allowed ports, tests and
    /// sockets add up (`over`'s tests and sockets first, so their reason is
    /// the one given); `include`s not yet read add up too.
    pub fn layer(mut self, over: Config) -> Config {
        self.levels.extend(over.levels);
        self.allow_listen_ports.extend(over.allow_listen_ports);
        self.allow_listen_paths.extend(over.allow_listen_paths);
        self.linger = over.linger.or(self.linger);
        self.flaky = over.flaky.or(self.flaky);
        self.known_pools = over.known_pools.or(self.known_pools);
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
        for pattern in &self.allow_listen_paths {
            policy.allow_listen_path(pattern.clone());
        }
        if let Some(linger) = self.linger {
            policy.set_linger(linger);
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
}

/// The contents of `path`, or `None` when it does not exist.
fn read(path: &Path) -> Result<Option<String>, ConfigError> {
    match crate::input::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Deserializes TOML `text`, turning any error into one that names
/// `origin`, the line and the key.
fn deserialize<'de, T: Deserialize<'de>>(text: &'de str, origin: &str) -> Result<T, ConfigError> {
    let invalid = |error: &toml::de::Error, key: Option<String>| ConfigError::Invalid {
        origin: origin.to_owned(),
        line: error
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1),
        key,
        message: error.message().trim().to_owned(),
    };
    let deserializer = toml::Deserializer::parse(text).map_err(|e| invalid(&e, None))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let key = (path != "." && !path.is_empty()).then_some(path);
        invalid(e.inner(), key)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leak::LeakKind;
    use crate::leak::Severity;
    use crate::socket::{State, UnixType};
    use crate::testing::{listener, unix};

    const GOOD: &str = r#"
linger-ms = 250
allow-listen-ports = [8080, 5432]
flaky = "deny"

[levels]
close-wait = "warn"
established = "allow"
udp = "deny"

[[allow-tests]]
pattern = "net::shared_*"
reason = "one server for the whole suite"

[[allow-tests]]
pattern = "legacy_*"
reason = "old code, tracked in #12"
"#;

    fn invalid(err: ConfigError) -> (String, Option<usize>, Option<String>, String) {
        match err {
            ConfigError::Invalid {
                origin,
                line,
                key,
                message,
            } => (origin, line, key, message),
            other => panic!("expected an invalid-config error, got {other}"),
        }
    }

    #[test]
    fn a_good_file_sets_the_policy() {
        let config = Config::parse_sockcheck_toml(GOOD, "sockcheck.toml").unwrap();
        let policy = config.policy();
        assert_eq!(policy.linger(), Duration::from_millis(250));
        assert_eq!(policy.level(LeakKind::CloseWait), Level::Warn);
        assert_eq!(policy.level(LeakKind::Established), Level::Allow);
        assert_eq!(policy.level(LeakKind::Udp), Level::Deny);
        assert_eq!(policy.level(LeakKind::Listen), Level::Deny);
        assert_eq!(policy.severity_for(LeakKind::Listen, &listener(8080)), None);
        assert_eq!(
            policy.severity_for(LeakKind::Listen, &listener(8081)),
            Some(Severity::Error)
        );
        assert_eq!(config.flaky(), FlakyLevel::Deny);
    }

    #[test]
    fn unix_listeners_are_allowed_by_a_glob_on_their_path_or_name() {
        let text = "allow-listen-paths = [\"/run/app.sock\", \"/tmp/*/shared-*.sock\", \"@app\"]\n";
        let policy = Config::parse_sockcheck_toml(text, "sockcheck.toml")
            .unwrap()
            .policy();
        let listen = |address: &str| {
            let socket = unix(UnixType::Stream, State::Listen, address);
            policy.severity_for(LeakKind::Listen, &socket)
        };
        for allowed in ["/run/app.sock", "/tmp/.tmpX1/shared-7.sock", "@app"] {
            assert_eq!(listen(allowed), None, "{allowed}");
        }
        for denied in [
            "/run/app.sock.2",
            "@other",
            "/tmp/x/private.sock",
            "(unnamed)",
        ] {
            assert_eq!(listen(denied), Some(Severity::Error), "{denied}");
        }
        // A path allows a listener only, not a connection at that path.
        let connected = unix(UnixType::Stream, State::CloseWait, "/run/app.sock");
        assert_eq!(
            policy.severity_for(LeakKind::CloseWait, &connected),
            Some(Severity::Error)
        );
        // And a port allows no unix listener.
        assert_eq!(
            Policy::default().severity_for(
                LeakKind::Listen,
                &unix(UnixType::Stream, State::Listen, "/x")
            ),
            Some(Severity::Error)
        );
    }

    #[test]
    fn an_empty_file_is_the_default_policy() {
        let config = Config::parse_sockcheck_toml("", "sockcheck.toml").unwrap();
        assert_eq!(config.policy(), Policy::default());
        assert_eq!(config.flaky(), FlakyLevel::Warn);
        assert_eq!(config.is_test_allowed("net", "anything"), None);
    }

    #[test]
    fn allow_tests_globs_match_the_full_or_the_bare_name() {
        let config = Config::parse_sockcheck_toml(GOOD, "sockcheck.toml").unwrap();
        assert_eq!(
            config.is_test_allowed("net", "shared_server"),
            Some("one server for the whole suite")
        );
        assert_eq!(config.is_test_allowed("db", "shared_server"), None);
        assert_eq!(
            config.is_test_allowed("db", "legacy_pool"),
            Some("old code, tracked in #12")
        );
        assert_eq!(config.is_test_allowed("db", "mod::legacy_pool"), None);
        assert_eq!(config.allow_tests()[0].pattern(), "net::shared_*");
    }

    #[test]
    fn an_unknown_key_names_the_file_line_and_key() {
        let err = Config::parse_sockcheck_toml("linger-ms = 5\nlingr = 100\n", "sockcheck.toml")
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("sockcheck.toml:2: "), "{text}");
        assert!(
            text.contains("unknown field `lingr`, expected one of"),
            "{text}"
        );
        assert!(text.contains("`linger-ms`"), "{text}");
        let (origin, line, _, message) = invalid(err);
        assert_eq!((origin.as_str(), line), ("sockcheck.toml", Some(2)));
        assert!(message.starts_with("unknown field `lingr`"), "{message}");
    }

    #[test]
    fn a_bad_value_names_the_key() {
        let cases = [
            (
                "[levels]\nclose-wait = \"denyy\"\n",
                "levels.close-wait",
                "unknown variant `denyy`",
            ),
            (
                "[levels]\nclosewait = \"deny\"\n",
                "levels.closewait",
                "unknown leak kind `closewait`",
            ),
            (
                "allow-listen-ports = [8080, 70000]\n",
                "allow-listen-ports[1]",
                "70000",
            ),
            ("linger-ms = \"soon\"\n", "linger-ms", "invalid type"),
            ("flaky = \"allow\"\n", "flaky", "unknown variant `allow`"),
            (
                "[[allow-tests]]\npattern = \"net::[\"\nreason = \"x\"\n",
                "allow-tests[0].pattern",
                "invalid glob `net::[`",
            ),
            (
                "allow-listen-paths = [\"/run/[\"]\n",
                "allow-listen-paths[0]",
                "invalid glob `/run/[`",
            ),
            (
                "[[allow-tests]]\npattern = \"x\"\n",
                "allow-tests[0]",
                "missing field `reason`",
            ),
        ];
        for (text, key, message) in cases {
            let err = Config::parse_sockcheck_toml(text, "sockcheck.toml").unwrap_err();
            let shown = err.to_string();
            let (origin, _, got_key, got_message) = invalid(err);
            assert_eq!(origin, "sockcheck.toml");
            assert_eq!(got_key.as_deref(), Some(key), "{shown}");
            assert!(got_message.contains(message), "{shown}");
        }
    }

    #[test]
    fn broken_toml_is_an_error_with_a_line() {
        let err =
            Config::parse_sockcheck_toml("linger-ms = 5\n[levels\n", "sockcheck.toml").unwrap_err();
        let (_, line, key, _) = invalid(err);
        assert_eq!((line, key), (Some(2), None));
    }

    #[test]
    fn manifest_tables_are_read_and_the_rest_ignored() {
        let manifest = r#"
[package]
name = "demo"
version = "0.1.0"

[package.metadata.other-tool]
anything = true

[package.metadata.sockcheck]
allow-listen-ports = [9000]

[workspace.metadata.sockcheck.levels]
udp = "allow"
"#;
        let tables = Config::parse_manifest(manifest, "Cargo.toml").unwrap();
        assert_eq!(tables.workspace.policy().level(LeakKind::Udp), Level::Allow);
        assert_eq!(
            tables
                .package
                .policy()
                .severity_for(LeakKind::Listen, &listener(9000)),
            None
        );
        assert_eq!(
            Config::parse_manifest("[package]\nname = \"x\"\n", "Cargo.toml").unwrap(),
            ManifestConfig::default()
        );
    }

    #[test]
    fn an_unknown_key_in_cargo_toml_names_the_whole_key() {
        let manifest = "[package]\nname = \"x\"\n\n[package.metadata.sockcheck]\nlingr = 1\n";
        let err = Config::parse_manifest(manifest, "crates/net/Cargo.toml").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("crates/net/Cargo.toml:5: package.metadata.sockcheck"),
            "{text}"
        );
        assert!(text.contains("unknown field `lingr`"), "{text}");
    }

    #[test]
    fn higher_sources_override_scalars_and_levels_and_add_lists() {
        let workspace = Config::parse_sockcheck_toml(
            "linger-ms = 10\nallow-listen-ports = [1]\n[levels]\nudp = \"deny\"\nlisten = \"warn\"\n\
             [[allow-tests]]\npattern = \"a\"\nreason = \"workspace\"\n",
            "ws",
        )
        .unwrap();
        let package = Config::parse_sockcheck_toml(
            "allow-listen-ports = [2]\n[levels]\nudp = \"allow\"\n\
             [[allow-tests]]\npattern = \"a\"\nreason = \"package\"\n",
            "pkg",
        )
        .unwrap();
        let config = workspace.layer(package);
        let policy = config.policy();
        assert_eq!(policy.linger(), Duration::from_millis(10));
        assert_eq!(policy.level(LeakKind::Udp), Level::Allow);
        assert_eq!(policy.level(LeakKind::Listen), Level::Warn);
        assert_eq!(policy.severity_for(LeakKind::Listen, &listener(1)), None);
        assert_eq!(policy.severity_for(LeakKind::Listen, &listener(2)), None);
        assert_eq!(config.is_test_allowed("b", "a"), Some("package"));
        assert_eq!(config.allow_tests().len(), 2);
    }

    fn mockito_stack() -> crate::site::Origin {
        crate::site::Origin {
            syscall: "socket".to_owned(),
            stack: vec![crate::site::Frame::function(
                "mockito::server::Server::bind_server::{{closure}}",
            )],
            ..Default::default()
        }
    }

    fn support_stack() -> crate::site::Origin {
        crate::site::Origin {
            syscall: "socket".to_owned(),
            stack: vec![crate::site::Frame::function("it::support::serve")
                .at("tests/support/mod.rs", 3, None)
                .in_project()],
            ..Default::default()
        }
    }

    /// The reason the policy of `config` gives for a socket created at `origin`.
    fn reason(config: &Config, origin: &crate::site::Origin) -> Option<String> {
        config
            .policy()
            .allowed_by(Some(origin))
            .map(|rule| rule.reason().to_owned())
    }

    #[test]
    fn allow_sockets_rules_and_the_known_pools_switch_set_the_policy() {
        let config = Config::parse_sockcheck_toml(
            "[[allow-sockets]]\nfile = \"tests/support/*.rs\"\nreason = \"shared server\"\n\
             [[allow-sockets]]\ncrate = \"mockito\"\nreason = \"ours first\"\n",
            "sockcheck.toml",
        )
        .unwrap();
        assert_eq!(
            reason(&config, &support_stack()).as_deref(),
            Some("shared server")
        );
        assert_eq!(
            reason(&config, &mockito_stack()).as_deref(),
            Some("ours first")
        );
        assert_eq!(config.policy().configured_socket_rules().len(), 2);

        let default = Config::parse_sockcheck_toml("", "sockcheck.toml").unwrap();
        assert_eq!(
            reason(&default, &mockito_stack()).as_deref(),
            Some("mockito's mock servers serve until the process exits")
        );
        let off = Config::parse_sockcheck_toml("known-pools = false\n", "sockcheck.toml").unwrap();
        assert_eq!(reason(&off, &mockito_stack()), None);
        let on_again = off.layer(Config::parse_sockcheck_toml("known-pools = true", "p").unwrap());
        assert!(reason(&on_again, &mockito_stack()).is_some());
    }

    #[test]
    fn shared_sockets_are_judged_when_the_levels_say_so() {
        let default = Config::parse_sockcheck_toml("", "sockcheck.toml").unwrap();
        assert_eq!(default.policy().shared_level(), Level::Allow);
        let denied =
            Config::parse_sockcheck_toml("[levels]\nshared = \"deny\"\n", "sockcheck.toml")
                .unwrap();
        assert_eq!(denied.policy().shared_level(), Level::Deny);
    }

    #[test]
    fn a_bad_allow_sockets_rule_names_its_key() {
        let cases = [
            (
                "[[allow-sockets]]\nfunction = \"a::*\"\ncrate = \"a\"\nreason = \"x\"\n",
                "give exactly one of `function`, `crate` or `file`",
            ),
            (
                "[[allow-sockets]]\nreason = \"x\"\n",
                "give exactly one of `function`, `crate` or `file`",
            ),
            (
                "[[allow-sockets]]\nfile = \"tests/[\"\nreason = \"x\"\n",
                "invalid glob `tests/[`",
            ),
            (
                "[[allow-sockets]]\ncrate = \"a::b\"\nreason = \"x\"\n",
                "is not a crate name",
            ),
            (
                "[[allow-sockets]]\ncrate = \"a\"\n",
                "missing field `reason`",
            ),
        ];
        for (text, message) in cases {
            let err = Config::parse_sockcheck_toml(text, "sockcheck.toml").unwrap_err();
            let shown = err.to_string();
            let (_, line, key, got) = invalid(err);
            assert_eq!(key.as_deref(), Some("allow-sockets[0]"), "{shown}");
            assert_eq!(line, Some(1), "{shown}");
            assert!(got.contains(message), "{shown}");
        }
        let text = "[[allow-sockets]]\ncrate = \"a\"\nreason = \"x\"\nkind = \"listen\"\n";
        let (_, line, key, message) =
            invalid(Config::parse_sockcheck_toml(text, "sockcheck.toml").unwrap_err());
        assert_eq!(
            (line, key.as_deref()),
            (Some(4), Some("allow-sockets[0].kind"))
        );
        assert!(message.starts_with("unknown field `kind`"), "{message}");
    }

    /// A fresh directory for one test's files.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sockcheck-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn includes_are_read_relative_to_their_file_and_lie_beneath_it() {
        let root = scratch("include");
        let shared = root.join("shared");
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::write(
            shared.join("org.toml"),
            "include = [\"base.toml\"]\nlinger-ms = 20\n\
             [[allow-sockets]]\nfile = \"tests/support/*\"\nreason = \"org list\"\n",
        )
        .unwrap();
        std::fs::write(
            shared.join("base.toml"),
            "linger-ms = 10\nflaky = \"deny\"\n",
        )
        .unwrap();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\n[workspace.metadata.sockcheck]\ninclude = [\"shared/org.toml\"]\n",
        )
        .unwrap();
        std::fs::write(root.join("sockcheck.toml"), "linger-ms = 30\n").unwrap();

        let config = Config::load(&root, None).unwrap();
        assert_eq!(config.policy().linger(), Duration::from_millis(30));
        assert_eq!(config.flaky(), FlakyLevel::Deny);
        assert_eq!(
            reason(&config, &support_stack()).as_deref(),
            Some("org list")
        );
        assert!(config.includes().is_empty());

        // The including file's own keys win over what it includes.
        std::fs::remove_file(root.join("sockcheck.toml")).unwrap();
        assert_eq!(
            Config::load(&root, None).unwrap().policy().linger(),
            Duration::from_millis(20)
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_missing_or_circular_include_names_the_including_file_and_key() {
        let root = scratch("include-bad");
        std::fs::write(root.join("Cargo.toml"), "[workspace]\n").unwrap();
        std::fs::write(root.join("sockcheck.toml"), "include = [\"gone.toml\"]\n").unwrap();
        let (origin, _, key, message) = invalid(Config::load(&root, None).unwrap_err());
        assert_eq!(origin, root.join("sockcheck.toml").display().to_string());
        assert_eq!(key.as_deref(), Some("include[0]"));
        assert!(
            message.starts_with(&format!(
                "cannot read {}: ",
                root.join("gone.toml").display()
            )),
            "{message}"
        );

        std::fs::write(root.join("sockcheck.toml"), "include = [\"a.toml\"]\n").unwrap();
        std::fs::write(root.join("a.toml"), "include = [\"sockcheck.toml\"]\n").unwrap();
        let (origin, _, key, message) = invalid(Config::load(&root, None).unwrap_err());
        assert_eq!(origin, root.join("a.toml").display().to_string());
        assert_eq!(key.as_deref(), Some("include[0]"));
        assert!(message.contains("includes itself (through "), "{message}");

        std::fs::write(root.join("a.toml"), "lingr = 1\n").unwrap();
        let (origin, line, key, _) = invalid(Config::load(&root, None).unwrap_err());
        assert_eq!(origin, root.join("a.toml").display().to_string());
        assert_eq!((line, key.as_deref()), (Some(1), Some("lingr")));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn includes_form_a_dag_each_file_read_once() {
        // 40 files, each including the next twice and a shared leaf: as a
        // tree that is 2^40 reads; as a DAG, 41.
        let root = scratch("include-dag");
        std::fs::write(root.join("Cargo.toml"), "[workspace]\n").unwrap();
        std::fs::write(
            root.join("leaf.toml"),
            "allow-tests = [{ pattern = \"leaf\", reason = \"r\" }]\n",
        )
        .unwrap();
        let name = |n: usize| {
            if n == 0 {
                "sockcheck.toml".to_owned()
            } else {
                format!("{n}.toml")
            }
        };
        for n in 0..40 {
            let next = name(n + 1);
            std::fs::write(
                root.join(name(n)),
                format!(
                    "include = [\"{next}\", \"{next}\", \"leaf.toml\"]\n\
                     allow-tests = [{{ pattern = \"t{n}\", reason = \"r\" }}]\n"
                ),
            )
            .unwrap();
        }
        std::fs::write(root.join(name(40)), "include = [\"leaf.toml\"]\n").unwrap();
        let config = Config::load(&root, None).unwrap();
        let mut names: Vec<String> = config
            .allow_tests()
            .iter()
            .map(|t| t.pattern().to_owned())
            .collect();
        assert_eq!(names.len(), 41, "each file once: {names:?}");
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 41);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn an_include_that_is_not_a_regular_file_is_refused_in_one_line() {
        let root = scratch("include-fifo");
        std::fs::write(root.join("Cargo.toml"), "[workspace]\n").unwrap();
        std::fs::write(root.join("sockcheck.toml"), "include = [\"/dev/zero\"]\n").unwrap();
        let (_, _, key, message) = invalid(Config::load(&root, None).unwrap_err());
        assert_eq!(key.as_deref(), Some("include[0]"));
        assert_eq!(
            message,
            "cannot read /dev/zero: not a regular file (a FIFO, a device or a directory): \
             give the path of a file"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_package_finds_its_workspace_root_above_it() {
        let root = scratch("package-root");
        let member = root.join("crates").join("net");
        std::fs::create_dir_all(&member).unwrap();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"crates/net\"]\n",
        )
        .unwrap();
        std::fs::write(root.join("sockcheck.toml"), "linger-ms = 7\n").unwrap();
        std::fs::write(
            member.join("Cargo.toml"),
            "[package]\nname = \"net\"\n[package.metadata.sockcheck]\nallow-listen-ports = [9]\n",
        )
        .unwrap();
        let config = Config::load_for_package(&member).unwrap();
        let policy = config.policy();
        assert_eq!(policy.linger(), Duration::from_millis(7));
        assert_eq!(policy.severity_for(LeakKind::Listen, &listener(9)), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn load_layers_the_files_of_a_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let member = root.join("net");
        std::fs::create_dir_all(&member).unwrap();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\n[workspace.metadata.sockcheck]\nlinger-ms = 1\nflaky = \"deny\"\n",
        )
        .unwrap();
        std::fs::write(root.join("sockcheck.toml"), "linger-ms = 2\n").unwrap();
        std::fs::write(
            member.join("Cargo.toml"),
            "[package]\nname = \"net\"\n[package.metadata.sockcheck]\nlinger-ms = 3\n",
        )
        .unwrap();

        let workspace = Config::load(root, None).unwrap();
        assert_eq!(workspace.policy().linger(), Duration::from_millis(2));
        assert_eq!(workspace.flaky(), FlakyLevel::Deny);
        let package = Config::load(root, Some(&member.join("Cargo.toml"))).unwrap();
        assert_eq!(package.policy().linger(), Duration::from_millis(3));

        std::fs::write(root.join("sockcheck.toml"), "lingr = 2\n").unwrap();
        let err = Config::load(root, None).unwrap_err().to_string();
        assert!(err.contains("sockcheck.toml:1: "), "{err}");
    }
}
