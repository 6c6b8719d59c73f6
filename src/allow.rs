//! Sockets allowed by where they were created: rules that match a frame of
//! a socket's creation stack, each with a reason, and the built-in list of
//! sockets that widely used crates keep open on purpose (their *known pools*);
//! and tests allowed by name ([`AllowTest`]).
//!
//! A rule names one of three things, matched against every frame of the
//! stack ([`Origin::stack`]), innermost to outermost:
//!
//! - `function`: a glob on the demangled function path, e.g.
//!   `mockito::server::Server::bind_server*`. A trait method
//!   `<wiremock::…::Manager as deadpool::…>::create` is also tried without
//!   its leading `<`, and trailing closure segments (`::{{closure}}`,
//!   `::{closure#0}`) are also tried cut off, so
//!   `wiremock::mock_server::pool::*` matches both.
//! - `crate`: a crate name (`-` and `_` are the same), taken from the
//!   function path's first segment or from a file under cargo's registry
//!   (`…/registry/src/INDEX/CRATE-VERSION/…`).
//! - `file`: a glob on the frame's file as the report shows it: relative to
//!   the workspace root for the project's own files (`tests/support/*.rs`).
//!
//! Function and crate rules work from symbol names alone, so they match in
//! binaries built without debug info; file rules need it. A leak without a
//! creation stack (the in-process harness and guard never have one) cannot
//! be matched by any rule: [`unmatched_note`] says so.

use crate::leak::{Leak, LeakKind};
use crate::site::{Frame, Origin};
use crate::socket::Socket;
use serde::{Deserialize, Deserializer, Serialize};
use std::borrow::Borrow;
use std::fmt;
use std::sync::LazyLock;

/// What a rule looks for in a creation stack.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Matcher {
    Function(glob::Pattern),
    Crate(String),
    File(glob::Pattern),
    /// Made by a static's initializer: [`shared_initializer`].
    Shared,
}

/// One rule: sockets whose creation stack has a matching frame are allowed,
/// for the reason given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowSocket {
    matcher: Matcher,
    reason: String,
    built_in: bool,
    /// The crate that declared the rule in its own `Cargo.toml`, whose
    /// frames alone it matches ([`AllowSocket::declared_by`]).
    scope: Option<String>,
}

/// Why a rule could not be made: a glob that does not parse, an empty name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRule(String);

impl fmt::Display for InvalidRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidRule {}

impl AllowSocket {
    /// Allows sockets created under a function whose path matches `glob`.
    pub fn function(glob: &str, reason: impl Into<String>) -> Result<AllowSocket, InvalidRule> {
        Ok(AllowSocket::new(Matcher::Function(pattern(glob)?), reason))
    }

    /// Allows sockets created under any function of crate `name`.
    pub fn in_crate(name: &str, reason: impl Into<String>) -> Result<AllowSocket, InvalidRule> {
        let name = name.trim();
        if name.is_empty() || name.contains("::") || name.contains('/') {
            return Err(InvalidRule(format!(
                "`{name}` is not a crate name (write `function = \"{name}\"` for a path)"
            )));
        }
        Ok(AllowSocket::new(Matcher::Crate(crate_key(name)), reason))
    }

    /// Allows sockets created from a source file whose path matches `glob`.
    pub fn file(glob: &str, reason: impl Into<String>) -> Result<AllowSocket, InvalidRule> {
        Ok(AllowSocket::new(Matcher::File(pattern(glob)?), reason))
    }

    /// Parses the command line's `function=GLOB`, `crate=NAME` or
    /// `file=GLOB`; the reason says the rule came from there.
    pub fn parse_flag(text: &str) -> Result<AllowSocket, InvalidRule> {
        const REASON: &str = "--allow-from on the command line";
        match text.split_once('=') {
            Some(("function", glob)) => AllowSocket::function(glob, REASON),
            Some(("crate", name)) => AllowSocket::in_crate(name, REASON),
            Some(("file", glob)) => AllowSocket::file(glob, REASON),
            _ => Err(InvalidRule(format!(
                "`{text}` is not a rule: write function=GLOB, crate=NAME or file=GLOB"
            ))),
        }
    }

    fn new(matcher: Matcher, reason: impl Into<String>) -> AllowSocket {
        AllowSocket {
            matcher,
            reason: reason.into(),
            built_in: false,
            scope: None,
        }
    }

    /// The same rule as declared by crate `name` for itself, in its
    /// `[package.metadata.sockcheck] allow-sockets`: it matches only frames
    /// of that crate, so a dependency cannot allow anyone else's sockets.
    pub fn declared_by(mut self, name: &str) -> AllowSocket {
        self.scope = Some(crate_key(name));
        self
    }

    /// Why sockets matching this rule may stay open.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// True for an entry of [`known_pools`].
    pub fn is_built_in(&self) -> bool {
        self.built_in
    }

    /// True for a `file` rule, which only a stack with file names (debug
    /// info) can match.
    pub fn needs_files(&self) -> bool {
        matches!(self.matcher, Matcher::File(_))
    }

    /// True when a frame of `origin`'s chain ([`Origin::chain`], across
    /// spawn boundaries) matches.
    pub fn matches(&self, origin: &Origin) -> bool {
        match self.matcher {
            Matcher::Shared => shared_initializer(origin).is_some(),
            _ => origin.chain().any(|frame| self.matches_frame(frame)),
        }
    }

    /// True when this rule matches the test's own frame of `origin` (the
    /// outermost of its [trail](Origin::trail)): then it matches whatever
    /// that test opens.
    pub fn matches_test_frame(&self, origin: &Origin) -> bool {
        let trail = origin.trail();
        trail.last().is_some_and(|test| self.matches_frame(test))
    }

    /// Why a socket created at `origin` that this rule matches may stay
    /// open: the rule's reason, or for a socket shared by design where its
    /// static was initialized.
    pub fn reason_for(&self, origin: Option<&Origin>) -> String {
        match (&self.matcher, origin.and_then(shared_initializer)) {
            (Matcher::Shared, Some(initializer)) => {
                let place = initializer
                    .location()
                    .or_else(|| initializer.function.clone())
                    .unwrap_or_default();
                let mut reason =
                    format!("made once per process by the static initialized at {place}");
                if let (Some(_), Some(function)) = (&initializer.file, initializer.short_function())
                {
                    reason.push_str(&format!(" ({function})"));
                }
                reason
            }
            _ => self.reason.clone(),
        }
    }

    /// True for the rule of sockets shared by design ([`shared_statics`]).
    pub fn is_shared(&self) -> bool {
        self.matcher == Matcher::Shared
    }

    fn matches_frame(&self, frame: &Frame) -> bool {
        if let Some(scope) = &self.scope {
            if frame.crate_name().map(|c| crate_key(&c)).as_ref() != Some(scope) {
                return false;
            }
        }
        match &self.matcher {
            Matcher::Function(glob) => frame
                .function
                .as_deref()
                .is_some_and(|f| function_forms(f).any(|form| glob.matches(form))),
            Matcher::Crate(name) => frame.crate_name().is_some_and(|c| crate_key(&c) == *name),
            Matcher::File(glob) => frame.file.as_deref().is_some_and(|f| glob.matches(f)),
            Matcher::Shared => false,
        }
    }
}

impl fmt::Display for AllowSocket {
    /// The rule as it is written: `function mockito::server::*`,
    /// `crate wiremock`, `file tests/support/mod.rs`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.matcher {
            Matcher::Function(glob) => write!(f, "function {}", glob.as_str()),
            Matcher::Crate(name) => write!(f, "crate {name}"),
            Matcher::File(glob) => write!(f, "file {}", glob.as_str()),
            Matcher::Shared => f.write_str("shared static"),
        }?;
        match &self.scope {
            Some(scope) => write!(f, " (declared by crate {scope})"),
            None => Ok(()),
        }
    }
}

/// A rule as written in the configuration: exactly one of `function`,
/// `crate`, `file`, and a `reason`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    function: Option<String>,
    #[serde(rename = "crate")]
    krate: Option<String>,
    file: Option<String>,
    reason: String,
}

impl<'de> Deserialize<'de> for AllowSocket {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawRule::deserialize(deserializer)?;
        let rule = match (raw.function, raw.krate, raw.file) {
            (Some(glob), None, None) => AllowSocket::function(&glob, raw.reason),
            (None, Some(name), None) => AllowSocket::in_crate(&name, raw.reason),
            (None, None, Some(glob)) => AllowSocket::file(&glob, raw.reason),
            _ => Err(InvalidRule(
                "give exactly one of `function`, `crate` or `file`".to_owned(),
            )),
        };
        rule.map_err(serde::de::Error::custom)
    }
}

fn pattern(glob: &str) -> Result<glob::Pattern, InvalidRule> {
    if glob.trim().is_empty() {
        return Err(InvalidRule(
            "an empty pattern would match nothing".to_owned(),
        ));
    }
    Ok(Glob::new(glob)?.0)
}

/// A glob of the configuration (an `allow-tests` pattern, an
/// `allow-listen-paths` entry), checked when it is read so that a bad one
/// is an error naming its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(glob::Pattern);

impl Glob {
    /// Parses `text`; a bad glob is an error quoting it.
    pub fn new(text: &str) -> Result<Glob, InvalidRule> {
        glob::Pattern::new(text)
            .map(Glob)
            .map_err(|e| InvalidRule(format!("invalid glob `{text}`: {e}")))
    }

    /// The parsed pattern.
    pub fn pattern(&self) -> &glob::Pattern {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Glob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Glob::new(&text).map_err(serde::de::Error::custom)
    }
}

/// A test whose leaks are accepted (`allow-tests`), with the reason given.
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

/// `tokio-util` and `tokio_util` are one crate.
fn crate_key(name: &str) -> String {
    name.replace('-', "_")
}

/// The forms of a function path a glob is tried on: as it is, without a
/// trait impl's leading `<`, and each without trailing `::{{closure}}`s.
fn function_forms(function: &str) -> impl Iterator<Item = &str> {
    let bare = function.strip_prefix('<');
    [Some(function), bare]
        .into_iter()
        .flatten()
        .flat_map(|form| {
            let mut cut = form;
            while let Some(shorter) = without_closure(cut) {
                cut = shorter;
            }
            [form, cut]
        })
}

/// `function` without its last segment when that is a closure, written
/// `{{closure}}` (legacy symbols) or `{closure#0}` (v0 symbols).
fn without_closure(function: &str) -> Option<&str> {
    if let Some(shorter) = function.strip_suffix("::{{closure}}") {
        return Some(shorter);
    }
    let (shorter, last) = function.rsplit_once("::")?;
    let number = last.strip_prefix("{closure#")?.strip_suffix('}')?;
    number
        .chars()
        .all(|c| c.is_ascii_digit())
        .then_some(shorter)
}

/// The built-in rules: sockets that widely used crates keep open for the
/// life of the process on purpose. On unless the configuration says
/// `known-pools = false` or the command line `--no-known-pools`.
///
/// | crate | what | matched by |
/// |---|---|---|
/// | mockito | every mock server's listener and the connections it accepts: a server thread serves until the process exits (pooled by `Server::new`; `Server::new_with_opts` never stops its thread either) | function `mockito::server::Server::bind_server*` |
/// | mockito 0.x (0.31 and older) | the one global server `mockito::server_url()` starts on first use, serving until the process exits | function `mockito::server::try_start*` |
/// | wiremock | the listeners of `MockServer::start()`'s static pool | function `wiremock::mock_server::pool::*` |
/// | httptest | the listeners of a `static ServerPool` | function `httptest::server_pool::*` |
/// | httpmock (0.7 to 0.9) | every server of `MockServer::start()`'s static pool and the connections it accepts: each runs on a thread its pool's generator spawned, serving until the process exits | function `httpmock::api::server::LOCAL_SERVER_ADAPTER_GENERATOR*` |
/// | tokio | the signal driver's socketpair, made once per process | function `tokio::signal::registry::globals*` |
pub fn known_pools() -> &'static [AllowSocket] {
    static KNOWN: LazyLock<Vec<AllowSocket>> = LazyLock::new(|| {
        [
            (
                "mockito::server::Server::bind_server*",
                "mockito's mock servers serve until the process exits",
            ),
            (
                "mockito::server::try_start*",
                "mockito 0.x's global server serves until the process exits",
            ),
            (
                "wiremock::mock_server::pool::*",
                "wiremock's pool of mock servers lives as long as the process",
            ),
            (
                "httptest::server_pool::*",
                "httptest's ServerPool keeps its servers for the life of the process",
            ),
            (
                "httpmock::api::server::LOCAL_SERVER_ADAPTER_GENERATOR*",
                "httpmock's pool of mock servers serves until the process exits",
            ),
            (
                "tokio::signal::registry::globals*",
                "tokio's signal driver keeps one socketpair per process",
            ),
        ]
        .into_iter()
        .map(|(glob, reason)| AllowSocket {
            built_in: true,
            ..AllowSocket::new(
                Matcher::Function(glob::Pattern::new(glob).expect("built-in globs are valid")),
                reason,
            )
        })
        .collect()
    });
    &KNOWN
}

/// The rule for sockets shared by design: those whose creation chain
/// passes through a static's initialization ([`shared_initializer`]). Each
/// test process makes such a socket once and keeps it for the tests after
/// it (under `cargo test`, the whole binary's); one process per test makes
/// it in every test that touches it, by design. On unless `shared` is
/// judged ([`Policy::set`](crate::policy::Policy::set)).
pub fn shared_statics() -> &'static AllowSocket {
    static SHARED: LazyLock<AllowSocket> = LazyLock::new(|| AllowSocket {
        built_in: true,
        ..AllowSocket::new(
            Matcher::Shared,
            "made once per process by a static's initializer",
        )
    });
    &SHARED
}

/// The frame that initialized a static on the way to the call, when the
/// chain (innermost to outermost, across spawns) passes through a one-time
/// initialization: `std::sync::Once`, `OnceLock`, `LazyLock`, `OnceCell`
/// (std's, once_cell's, tokio's), once_cell's `Lazy`, lazy_static, a
/// thread-local's lazy init. The initializer is the last frame outside
/// std and socket plumbing before the first such frame (`echo::SERVER::{{closure}}`).
///
/// A thread that runs an executor's tasks (a tokio worker) is not followed
/// to where it was spawned: a runtime kept in a static spawns its workers
/// once, but the tasks they run, and their sockets, are each test's own.
pub fn shared_initializer(origin: &Origin) -> Option<&Frame> {
    let stacks =
        std::iter::once(&origin.stack).chain(origin.spawned_by.iter().map(|spawn| &spawn.stack));
    let mut initializer = None;
    for stack in stacks {
        for frame in stack {
            if frame.function.as_deref().is_some_and(initializes_once) {
                return initializer;
            }
            if !frame.is_plumbing() {
                initializer = Some(frame);
            }
        }
        if stack.iter().any(runs_tasks) {
            break;
        }
    }
    None
}

/// True for a frame of an executor running a task it was handed.
fn runs_tasks(frame: &Frame) -> bool {
    const EXECUTORS: [&str; 5] = [
        "tokio::runtime::task::",
        "async_task::",
        "async_executor::",
        "futures_executor::",
        "rayon_core::",
    ];
    let path = frame.function.as_deref().unwrap_or_default();
    let path = path.trim_start_matches('<');
    EXECUTORS.iter().any(|executor| path.starts_with(executor))
}

/// True for a function of the machinery that runs an initializer once.
fn initializes_once(function: &str) -> bool {
    let path = function.trim_start_matches('<');
    let initializing = [
        "::get_or_init",
        "::get_or_try_init",
        "::initialize",
        "::try_init",
        "::force",
    ]
    .iter()
    .any(|method| path.contains(method));
    let lazy_type = [
        "OnceLock",
        "OnceCell",
        "LazyLock",
        "thread_local",
        "std::thread::local::",
    ]
    .iter()
    .any(|name| path.contains(name));
    path.contains("::once::Once::call")
        || path.starts_with("once_cell::")
        || path.starts_with("lazy_static::")
        || (lazy_type && initializing)
}

/// A socket left open at the end of a test that a rule allows: shown in
/// the report with its reason, never counted as an error or a warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AllowedSocket {
    /// The kind of leak it would have been.
    pub kind: LeakKind,
    /// The socket itself; its fields are inlined in JSON.
    #[serde(flatten)]
    pub socket: Socket,
    /// Where it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened: Option<Origin>,
    /// The rule that allows it, as written (`function mockito::server::*`).
    pub rule: String,
    /// Why it may stay open.
    pub reason: String,
    /// True when the rule is built in: one of [`known_pools`], or
    /// [`shared_statics`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub built_in: bool,
    /// True when it is shared by design: made once per process by a
    /// static's initializer, named in `reason` ([`shared_statics`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared: bool,
}

impl AllowedSocket {
    fn new(leak: Leak, rule: &AllowSocket) -> AllowedSocket {
        AllowedSocket {
            kind: leak.kind,
            reason: rule.reason_for(leak.opened.as_ref()),
            socket: leak.socket,
            opened: leak.opened,
            rule: rule.to_string(),
            built_in: rule.built_in,
            shared: rule.is_shared(),
        }
    }
}

impl fmt::Display for AllowedSocket {
    /// `allowed listen: tcp 127.0.0.1:40211 LISTEN (mockito's mock servers ...)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "allowed {}: {} ({})",
            self.kind, self.socket, self.reason
        )
    }
}

/// How one rule in force was used over a run: JSON `rules`, and the
/// summary's word on rules that matched nothing or too much.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RuleUse {
    /// The rule as written (`function mockito::server::*`).
    pub rule: String,
    /// Its reason, as written.
    pub reason: String,
    /// True for a built-in rule (a known pool, sockets shared by design).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub built_in: bool,
    /// Sockets it allowed.
    pub hits: usize,
    /// Of those, the ones it matched at the test's own frame: a rule that
    /// matches a test function (a `file` rule naming a test file) allows
    /// everything that test opens. Absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub test_frame_hits: usize,
    /// True when a configured rule matched nothing in a run of every test:
    /// a rule for code that is gone, or a pattern that never matched.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl RuleUse {
    /// What the summary says of this rule, when it says anything: that it
    /// is stale, or that it allows whole tests.
    pub fn warning(&self) -> Option<String> {
        if self.stale {
            Some(format!(
                "`{}` ({}) matched no socket in a run of every test: remove it, or fix its pattern",
                self.rule, self.reason
            ))
        } else if self.test_frame_hits > 0 {
            Some(format!(
                "`{}` allowed {} at the tests' own frames: it allows everything those tests \
                 open; name the helper, the static or the crate that keeps the socket instead",
                self.rule,
                crate::report::words::counted(self.test_frame_hits, "socket")
            ))
        } else {
            None
        }
    }
}

/// How each of `rules` (deduplicated by how they are written) was used by
/// the `allowed` sockets of a run; `full_run` when every test ran, so that
/// a configured rule that matched nothing is stale.
pub fn rule_uses<'a>(
    rules: impl IntoIterator<Item = &'a AllowSocket>,
    allowed: impl IntoIterator<Item = &'a AllowedSocket> + Clone,
    full_run: bool,
) -> Vec<RuleUse> {
    let mut uses: Vec<RuleUse> = Vec::new();
    for rule in rules {
        let written = rule.to_string();
        if uses
            .iter()
            .any(|u| u.rule == written && u.built_in == rule.built_in)
        {
            continue;
        }
        let mine: Vec<&AllowedSocket> = allowed
            .clone()
            .into_iter()
            .filter(|a| a.rule == written && a.built_in == rule.built_in)
            .collect();
        let test_frame_hits = if rule.is_shared() {
            0
        } else {
            mine.iter()
                .filter(|a| {
                    a.opened
                        .as_ref()
                        .is_some_and(|o| rule.matches_test_frame(o))
                })
                .count()
        };
        uses.push(RuleUse {
            reason: rule.reason.clone(),
            built_in: rule.built_in,
            hits: mine.len(),
            test_frame_hits,
            stale: full_run && !rule.built_in && mine.is_empty(),
            rule: written,
        });
    }
    uses
}

/// The first rule of `rules` that matches `origin`, if any.
pub fn first_match<'r>(
    rules: impl IntoIterator<Item = &'r AllowSocket>,
    origin: Option<&Origin>,
) -> Option<&'r AllowSocket> {
    let origin = origin?;
    rules.into_iter().find(|rule| rule.matches(origin))
}

/// Moves out of `leaks` those a rule of `rules` allows by their creation
/// stack (`Leak::opened`), in order; leaks without one stay.
pub fn set_aside<'r>(
    leaks: &mut Vec<Leak>,
    rules: impl IntoIterator<Item = &'r AllowSocket> + Clone,
) -> Vec<AllowedSocket> {
    set_aside_by(leaks, |leak| {
        first_match(rules.clone(), leak.opened.as_ref())
    })
}

/// Moves out of `leaks` those `rule_of` gives a rule for, in order.
pub fn set_aside_by<R: Borrow<AllowSocket>>(
    leaks: &mut Vec<Leak>,
    mut rule_of: impl FnMut(&Leak) -> Option<R>,
) -> Vec<AllowedSocket> {
    let mut allowed = Vec::new();
    let mut kept = Vec::with_capacity(leaks.len());
    for leak in leaks.drain(..) {
        match rule_of(&leak) {
            Some(rule) => allowed.push(AllowedSocket::new(leak, rule.borrow())),
            None => kept.push(leak),
        }
    }
    *leaks = kept;
    allowed
}

/// A rule to paste for leaks opened inside one dependency, outside the
/// project's code, if that crate keeps them open on purpose: a `function`
/// glob on the module that made them, or the `crate` when they come from
/// several of its modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedRule {
    /// The crate that made the sockets ([`Origin::maker`]).
    pub krate: String,
    /// Its version, when its source is under cargo's registry.
    pub version: Option<String>,
    /// How many leaks it made.
    pub leaks: usize,
    /// `function` or `crate`: the key of the rule.
    pub key: &'static str,
    /// The glob or crate name the rule gives.
    pub value: String,
}

impl ProposedRule {
    /// The rule as the configuration writes it, a line each:
    /// `[[allow-sockets]]`, `function = "minipool::pool::*"`, `reason = "…"`.
    pub fn toml_lines(&self) -> [String; 3] {
        [
            "[[allow-sockets]]".to_owned(),
            format!("{} = \"{}\"", self.key, self.value),
            format!(
                "reason = \"{} keeps these sockets open on purpose\"",
                self.krate
            ),
        ]
    }

    /// The same rule for the command line: `--allow-from function=minipool::pool::*`.
    pub fn flag(&self) -> String {
        format!("--allow-from {}={}", self.key, self.value)
    }
}

impl fmt::Display for ProposedRule {
    /// `3 leaks were opened by crate minipool 0.1.0, outside the project's code`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.leaks == 1 { "was" } else { "were" };
        write!(
            f,
            "{} {verb} opened by crate {}",
            leaks_word(self.leaks),
            self.krate
        )?;
        if let Some(version) = &self.version {
            write!(f, " {version}")?;
        }
        f.write_str(", outside the project's code")
    }
}

/// The rules to propose for `leaks` made inside dependencies, one per
/// crate, most leaks first (ties by crate name).
pub fn proposed_rules<'a>(leaks: impl IntoIterator<Item = &'a Leak>) -> Vec<ProposedRule> {
    // Per crate: its version, the leaks, and the modules that made them.
    let mut crates: Vec<(String, Option<String>, usize, Vec<String>)> = Vec::new();
    for maker in leaks
        .into_iter()
        .filter_map(|leak| leak.opened.as_ref()?.maker())
    {
        let Some(krate) = maker.crate_name() else {
            continue;
        };
        let module = maker.function.as_deref().and_then(module_glob);
        let version = maker.registry_package().map(|(_, v)| v.to_owned());
        let entry = match crates.iter_mut().position(|c| c.0 == krate) {
            Some(i) => &mut crates[i],
            None => {
                crates.push((krate, version, 0, Vec::new()));
                crates.last_mut().expect("just pushed")
            }
        };
        entry.2 += 1;
        let module = module.unwrap_or_default();
        if !entry.3.contains(&module) {
            entry.3.push(module);
        }
    }
    let mut rules: Vec<ProposedRule> = crates
        .into_iter()
        .map(|(krate, version, leaks, modules)| {
            let (key, value) = match &modules[..] {
                [module] if !module.is_empty() => ("function", module.clone()),
                _ => ("crate", krate.clone()),
            };
            ProposedRule {
                krate,
                version,
                leaks,
                key,
                value,
            }
        })
        .collect();
    rules.sort_by(|a, b| b.leaks.cmp(&a.leaks).then_with(|| a.krate.cmp(&b.krate)));
    rules
}

/// `minipool::pool::*` for `minipool::pool::Pool::grow::{{closure}}`: the
/// module the function is in, as a glob; `None` when that is the crate's
/// root or the path holds characters a pasted rule should not.
fn module_glob(function: &str) -> Option<String> {
    let mut path = function.trim_start_matches('<');
    path = path.split(" as ").next().unwrap_or(path);
    while let Some(outer) = without_closure(path) {
        path = outer;
    }
    let mut segments: Vec<&str> = path.split("::").collect();
    // The function, then the types it belongs to.
    segments.pop();
    while segments
        .last()
        .is_some_and(|s| s.starts_with(|c: char| c.is_ascii_uppercase()))
    {
        segments.pop();
    }
    let plain = segments
        .iter()
        .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    (segments.len() >= 2 && plain).then(|| format!("{}::*", segments.join("::")))
}

/// A sentence for when rules of `rules` cannot have matched some of
/// `leaks`: leaks without a creation stack, or only `file` rules and stacks
/// without file names. `None` when every rule could be tried.
pub fn unmatched_note<'a>(
    leaks: impl IntoIterator<Item = &'a Leak>,
    rules: &[&AllowSocket],
) -> Option<String> {
    if rules.is_empty() {
        return None;
    }
    let (mut no_stack, mut no_files) = (0usize, 0usize);
    for leak in leaks {
        match &leak.opened {
            None => no_stack += 1,
            Some(origin) if origin.stack.iter().all(|f| f.function.is_none()) => no_stack += 1,
            Some(origin) if origin.stack.iter().all(|f| f.file.is_none()) => no_files += 1,
            Some(_) => {}
        }
    }
    let file_rules = rules.iter().filter(|r| r.needs_files()).count();
    let mut notes = Vec::new();
    if no_stack > 0 {
        notes.push(format!(
            "{} without a creation stack could not be matched by any allow-sockets rule",
            leaks_word(no_stack)
        ));
    }
    if no_files > 0 && file_rules > 0 {
        notes.push(format!(
            "{} with a stack of function names only (no debug info) could not be matched by \
             the {file_rules} `file` rule{}; `function` and `crate` rules still apply",
            leaks_word(no_files),
            if file_rules == 1 { "" } else { "s" }
        ));
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

fn leaks_word(n: usize) -> String {
    if n == 1 {
        "1 leak".to_owned()
    } else {
        format!("{n} leaks")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::Spawn;

    const REGISTRY: &str = "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";

    fn origin(frames: Vec<Frame>) -> Origin {
        Origin {
            syscall: "socket".to_owned(),
            stack: frames,
            ..Origin::default()
        }
    }

    /// A stack like mockito's listener: created on the server's own thread.
    fn mockito_listener() -> Origin {
        origin(vec![
            Frame::function("__libc_socket"),
            Frame::function("std::sys::net::connection::socket::Socket::new"),
            Frame::function("tokio::net::tcp::listener::TcpListener::bind::{{closure}}"),
            Frame::function("mockito::server::Server::bind_server::{{closure}}").at(
                format!("{REGISTRY}/mockito-1.7.2/src/server.rs"),
                359,
                Some(24),
            ),
            Frame::function("std::thread::Builder::spawn_unchecked_::{{closure}}"),
        ])
    }

    /// A stack like a test that binds its own listener.
    fn test_listener() -> Origin {
        origin(vec![
            Frame::function("__libc_socket"),
            Frame::function("std::net::tcp::TcpListener::bind"),
            Frame::function("net::leaks_listener")
                .at("tests/net.rs", 12, Some(9))
                .in_project(),
            Frame::function("core::ops::function::FnOnce::call_once"),
        ])
    }

    fn leak(opened: Option<Origin>) -> Leak {
        let mut leak = crate::testing::leak(LeakKind::Listen, crate::testing::listener(4000));
        leak.opened = opened;
        leak
    }

    #[test]
    fn a_function_glob_matches_any_frame_closures_included() {
        let rule = AllowSocket::function("mockito::server::*", "pool").unwrap();
        assert!(rule.matches(&mockito_listener()));
        assert!(!rule.matches(&test_listener()));
        let exact = AllowSocket::function("mockito::server::Server::bind_server", "x").unwrap();
        assert!(exact.matches(&mockito_listener()), "closures are cut off");
        let v0 = origin(vec![Frame::function(
            "mockito::server::Server::bind_server::{closure#0}::{closure#1}",
        )]);
        assert!(exact.matches(&v0), "v0 closures too");
        let inner = AllowSocket::function("std::net::tcp::TcpListener::bind", "x").unwrap();
        assert!(
            inner.matches(&test_listener()),
            "not only the outermost frame"
        );
    }

    #[test]
    fn a_trait_impl_matches_by_its_self_type_path() {
        let stack = origin(vec![Frame::function(
            "<wiremock::mock_server::pool::MockServerPoolManager as \
             deadpool::managed::Manager>::create::{{closure}}",
        )]);
        let rule = AllowSocket::function("wiremock::mock_server::pool::*", "pool").unwrap();
        assert!(rule.matches(&stack));
        assert_eq!(stack.stack[0].crate_name().as_deref(), Some("wiremock"));
    }

    #[test]
    fn a_crate_is_found_from_the_function_path_or_the_registry_file() {
        let from_function = Frame::function("tokio_util::codec::Framed::new");
        assert_eq!(from_function.crate_name().as_deref(), Some("tokio_util"));
        let from_file = Frame::default().at(
            format!("{REGISTRY}/tokio-util-0.7.20/src/codec/framed.rs"),
            1,
            None,
        );
        assert_eq!(from_file.crate_name().as_deref(), Some("tokio-util"));
        let digits = Frame::default().at(format!("{REGISTRY}/h2-0.4.20/src/lib.rs"), 1, None);
        assert_eq!(digits.crate_name().as_deref(), Some("h2"));
        let prerelease =
            Frame::default().at(format!("{REGISTRY}/foo-bar-1.0.0-rc.1/src/a.rs"), 1, None);
        assert_eq!(prerelease.crate_name().as_deref(), Some("foo-bar"));
        assert_eq!(Frame::function("__libc_socket").crate_name(), None);
        assert_eq!(
            Frame::default().at("tests/net.rs", 1, None).crate_name(),
            None
        );

        let rule = AllowSocket::in_crate("tokio-util", "codec").unwrap();
        assert!(rule.matches(&origin(vec![from_file])));
        assert!(rule.matches(&origin(vec![from_function])));
        let mockito = AllowSocket::in_crate("mockito", "pool").unwrap();
        assert!(mockito.matches(&mockito_listener()));
        assert!(!mockito.matches(&test_listener()));
    }

    #[test]
    fn a_file_glob_matches_project_paths_as_the_report_shows_them() {
        let rule = AllowSocket::file("tests/*.rs", "shared server").unwrap();
        assert!(rule.matches(&test_listener()));
        assert!(!rule.matches(&mockito_listener()));
        let support = AllowSocket::file("tests/support/mod.rs", "x").unwrap();
        assert!(!support.matches(&test_listener()));
    }

    #[test]
    fn without_debug_info_function_and_crate_rules_still_match() {
        let stripped = origin(vec![
            Frame::function("__libc_socket"),
            Frame::function("mockito::server::Server::bind_server::{{closure}}"),
        ]);
        assert!(AllowSocket::function("mockito::server::*", "x")
            .unwrap()
            .matches(&stripped));
        assert!(AllowSocket::in_crate("mockito", "x")
            .unwrap()
            .matches(&stripped));
        assert!(!AllowSocket::file("*", "x").unwrap().matches(&stripped));
    }

    #[test]
    fn set_aside_moves_allowed_leaks_and_keeps_the_rest_in_order() {
        let mut leaks = vec![
            leak(Some(mockito_listener())),
            leak(Some(test_listener())),
            leak(None),
        ];
        let allowed = set_aside(&mut leaks, known_pools());
        assert_eq!(leaks.len(), 2);
        assert_eq!(leaks[0].opened, Some(test_listener()));
        assert_eq!(leaks[1].opened, None);
        assert_eq!(allowed.len(), 1);
        let pooled = &allowed[0];
        assert_eq!(pooled.kind, LeakKind::Listen);
        assert_eq!(
            pooled.rule,
            "function mockito::server::Server::bind_server*"
        );
        assert_eq!(
            pooled.reason,
            "mockito's mock servers serve until the process exits"
        );
        assert!(pooled.built_in);
        assert_eq!(
            pooled.to_string(),
            "allowed listen: tcp 127.0.0.1:4000 LISTEN \
             (mockito's mock servers serve until the process exits)"
        );
    }

    #[test]
    fn httpmock_s_pooled_servers_are_known_and_a_server_of_its_own_is_not() {
        // The frames of httpmock 0.9's own suite (scripts/real-world.sh):
        // its pool's server thread, and a test's `HttpMockServer` started
        // by hand.
        let serving = |frames: &[&str]| {
            origin(
                frames
                    .iter()
                    .map(|&f| Frame::function(f))
                    .chain([Frame::function(
                        "std::sys::thread::unix::Thread::new::thread_start",
                    )])
                    .collect(),
            )
        };
        let pooled_listener = serving(&[
            "tokio::net::tcp::listener::TcpListener::bind::{{closure}}",
            "httpmock::server::transport::HttpMockServer::start_with_signals::{{closure}}",
            "httpmock::common::runtime::block_on_current_thread",
            "httpmock::api::server::LOCAL_SERVER_ADAPTER_GENERATOR::{{closure}}::{{closure}}",
        ]);
        let accepted = serving(&[
            "tokio::net::tcp::listener::TcpListener::accept::{{closure}}",
            "httpmock::server::transport::HttpMockServer::run_accept_loop::{{closure}}",
            "httpmock::server::transport::HttpMockServer::start_with_signals::{{closure}}",
            "httpmock::api::server::LOCAL_SERVER_ADAPTER_GENERATOR::{{closure}}::{{closure}}",
        ]);
        let by_hand = serving(&[
            "httpmock::server::transport::HttpMockServer::start_with_signals::{{closure}}",
            "httpmock::server::transport::HttpMockServer::start::{{closure}}",
            "lib::with_standalone_server::{{closure}}",
        ]);
        let rule = |origin: &Origin| first_match(known_pools(), Some(origin)).map(|r| r.reason());
        let reason = Some("httpmock's pool of mock servers serves until the process exits");
        assert_eq!(rule(&pooled_listener), reason);
        assert_eq!(rule(&accepted), reason);
        assert_eq!(rule(&by_hand), None);
    }

    #[test]
    fn the_first_matching_rule_gives_the_reason() {
        let rules = [
            AllowSocket::in_crate("mockito", "first").unwrap(),
            AllowSocket::function("mockito::*", "second").unwrap(),
        ];
        let rule = first_match(&rules, Some(&mockito_listener())).unwrap();
        assert_eq!(rule.reason(), "first");
        assert_eq!(first_match(&rules, None), None);
    }

    #[test]
    fn command_line_rules_parse_and_bad_ones_say_what_to_write() {
        let rule = AllowSocket::parse_flag("crate=wiremock").unwrap();
        assert_eq!(rule.to_string(), "crate wiremock");
        assert_eq!(rule.reason(), "--allow-from on the command line");
        assert_eq!(
            AllowSocket::parse_flag("file=tests/support/mod.rs")
                .unwrap()
                .to_string(),
            "file tests/support/mod.rs"
        );
        let cases = [
            (
                "wiremock",
                "`wiremock` is not a rule: write function=GLOB, crate=NAME or file=GLOB",
            ),
            (
                "crate=a::b",
                "`a::b` is not a crate name (write `function = \"a::b\"` for a path)",
            ),
            ("function=", "an empty pattern would match nothing"),
        ];
        for (text, message) in cases {
            assert_eq!(
                AllowSocket::parse_flag(text).unwrap_err().to_string(),
                message
            );
        }
        assert!(AllowSocket::parse_flag("file=a[")
            .unwrap_err()
            .to_string()
            .starts_with("invalid glob `a[`"));
    }

    #[test]
    fn leaks_made_inside_a_dependency_get_a_rule_to_paste() {
        let grow = |function: &str| {
            leak(Some(Origin::new(
                "socket",
                vec![
                    Frame::function("__libc_socket"),
                    Frame::function("std::net::tcp::TcpListener::bind"),
                    Frame::function(function).at(
                        format!("{REGISTRY}/minipool-0.3.1/src/pool.rs"),
                        9,
                        None,
                    ),
                ],
            )))
        };
        let leaks = [
            grow("minipool::pool::Pool::grow::{{closure}}"),
            grow("minipool::pool::Pool::grow"),
            leak(Some(mockito_listener())),
            leak(Some(Origin::new("socket", test_listener().stack))),
            leak(None),
        ];
        let rules = proposed_rules(&leaks);
        assert_eq!(rules.len(), 2, "{rules:#?}");
        let pool = &rules[0];
        assert_eq!(
            pool.to_string(),
            "2 leaks were opened by crate minipool 0.3.1, outside the project's code"
        );
        assert_eq!(
            pool.toml_lines(),
            [
                "[[allow-sockets]]",
                "function = \"minipool::pool::*\"",
                "reason = \"minipool keeps these sockets open on purpose\""
            ]
        );
        assert_eq!(pool.flag(), "--allow-from function=minipool::pool::*");
        // The rule proposed matches the leaks it is proposed for.
        let rule =
            AllowSocket::parse_flag(pool.flag().trim_start_matches("--allow-from ")).unwrap();
        assert!(leaks[..2]
            .iter()
            .all(|l| rule.matches(l.opened.as_ref().unwrap())));
        assert_eq!(rules[1].value, "mockito::server::*");

        // Two modules of one crate: the crate.
        let mixed = [grow("minipool::pool::grow"), grow("minipool::net::bind")];
        let rules = proposed_rules(&mixed);
        assert_eq!(
            (rules[0].key, rules[0].value.as_str()),
            ("crate", "minipool")
        );
        assert_eq!(module_glob("minipool::grow"), None, "the crate's root");
        assert_eq!(
            module_glob("a::b\"::c::f"),
            None,
            "nothing to break out of a string"
        );
    }

    /// A stack through `static SERVER: LazyLock<…>`'s initializer, as a
    /// debug build unwinds it.
    fn lazy_lock_server() -> Origin {
        Origin::new(
            "socket",
            vec![
                Frame::function("__libc_socket"),
                Frame::function("std::net::tcp::TcpListener::bind"),
                Frame::function("echo::SERVER::{{closure}}")
                    .at("tests/echo.rs", 13, Some(20))
                    .in_project(),
                Frame::function("core::ops::function::FnOnce::call_once"),
                Frame::function("std::sync::lazy_lock::LazyLock<T,F>::force::{{closure}}"),
                Frame::function("std::sync::poison::once::Once::call_once::{{closure}}"),
                Frame::function("std::sys::sync::once::futex::Once::call"),
                Frame::function("std::sync::lazy_lock::LazyLock<T,F>::force"),
                Frame::function("echo::uses_server")
                    .at("tests/echo.rs", 30, Some(10))
                    .in_project(),
            ],
        )
    }

    #[test]
    fn a_socket_made_by_a_static_s_initializer_is_shared_and_says_where() {
        let origin = lazy_lock_server();
        assert_eq!(shared_initializer(&origin), Some(&origin.stack[2]));
        let rule = shared_statics();
        assert!(rule.matches(&origin) && rule.is_shared() && rule.is_built_in());
        assert_eq!(rule.to_string(), "shared static");
        assert_eq!(
            rule.reason_for(Some(&origin)),
            "made once per process by the static initialized at tests/echo.rs:13:20 (SERVER)"
        );
        for machinery in [
            "<std::sync::once_lock::OnceLock<T>>::get_or_init",
            "once_cell::imp::OnceCell<T>::initialize",
            "lazy_static::lazy::Lazy<T>::get",
            "std::sys::thread_local::native::lazy::Storage<T,D>::initialize",
            "std::sync::once::Once::call_once",
        ] {
            assert!(initializes_once(machinery), "{machinery}");
        }
        assert!(!initializes_once("tokio::runtime::Builder::build"));
        assert!(
            !rule.matches(&test_listener()),
            "a plain test socket is not shared"
        );

        // A static's initializer that binds on a thread it spawns: found
        // through the spawn.
        let stack = origin.stack[..2]
            .iter()
            .cloned()
            .chain([Frame::function("echo::SERVER::{{closure}}::{{closure}}")
                .at("tests/echo.rs", 15, None)
                .in_project()])
            .collect();
        let spawned = Origin::new("socket", stack).spawned_by(vec![Spawn::new(
            "clone3",
            [Frame::function("std::thread::spawn")]
                .into_iter()
                .chain(origin.stack[2..].iter().cloned())
                .collect(),
        )]);
        assert_eq!(
            shared_initializer(&spawned).and_then(|f| f.line),
            Some(13),
            "{spawned:#?}"
        );
        // But not through a worker that runs tasks: its sockets are the
        // tasks' own, whoever spawned the runtime.
        let mut worker = spawned.clone();
        worker.stack.push(Frame::function(
            "tokio::runtime::task::harness::Harness<T,S>::poll",
        ));
        assert_eq!(shared_initializer(&worker), None);
    }

    #[test]
    fn rule_uses_count_hits_and_name_stale_rules_and_rules_on_test_frames() {
        let test_file = AllowSocket::file("tests/*.rs", "shared server").unwrap();
        let gone = AllowSocket::function("net::gone::*", "old helper").unwrap();
        let mut leaks = vec![
            leak(Some(Origin::new("socket", test_listener().stack))),
            leak(Some(mockito_listener())),
        ];
        let rules = [&test_file, &gone].into_iter().chain(known_pools());
        let allowed = set_aside(&mut leaks, rules.clone());
        assert_eq!(allowed.len(), 2);

        let uses = rule_uses(rules.clone(), &allowed, true);
        let by_rule = |written: &str| uses.iter().find(|u| u.rule == written).unwrap();
        let file = by_rule("file tests/*.rs");
        assert_eq!((file.hits, file.test_frame_hits, file.stale), (1, 1, false));
        assert_eq!(
            file.warning().as_deref(),
            Some(
                "`file tests/*.rs` allowed 1 socket at the tests' own frames: it allows \
                 everything those tests open; name the helper, the static or the crate that \
                 keeps the socket instead"
            )
        );
        let stale = by_rule("function net::gone::*");
        assert!(stale.stale && stale.hits == 0);
        assert_eq!(
            stale.warning().as_deref(),
            Some(
                "`function net::gone::*` (old helper) matched no socket in a run of every \
                 test: remove it, or fix its pattern"
            )
        );
        let mockito = by_rule("function mockito::server::Server::bind_server*");
        assert_eq!(
            (mockito.hits, mockito.stale, mockito.warning()),
            (1, false, None)
        );
        let httptest = by_rule("function httptest::server_pool::*");
        assert!(!httptest.stale, "a built-in rule is never stale");
        // Not every test ran: nothing is stale.
        assert!(rule_uses(rules, &allowed, false).iter().all(|u| !u.stale));
    }

    #[test]
    fn a_rule_a_crate_declares_matches_only_its_own_frames() {
        let own = AllowSocket::function("mockito::*", "pool")
            .unwrap()
            .declared_by("mockito");
        assert!(own.matches(&mockito_listener()));
        assert_eq!(
            own.to_string(),
            "function mockito::* (declared by crate mockito)"
        );
        // A dependency that tries to allow another crate's sockets, or
        // everything, matches nothing outside itself.
        let greedy = AllowSocket::in_crate("net", "all of them")
            .unwrap()
            .declared_by("mockito");
        assert!(!greedy.matches(&test_listener()));
        let everything = AllowSocket::function("*", "all")
            .unwrap()
            .declared_by("minipool");
        assert!(!everything.matches(&mockito_listener()));
        assert!(!everything.matches(&test_listener()));
    }

    #[test]
    fn the_note_says_when_rules_could_not_be_tried() {
        let function_only = origin(vec![Frame::function("net::leaks")]);
        let no_names = origin(vec![Frame::default()]);
        let leaks = [
            leak(None),
            leak(Some(no_names)),
            leak(Some(function_only)),
            leak(Some(test_listener())),
        ];
        let function = AllowSocket::function("a::*", "x").unwrap();
        let file = AllowSocket::file("tests/*", "x").unwrap();
        assert_eq!(unmatched_note(&leaks, &[]), None);
        assert_eq!(
            unmatched_note(&leaks, &[&function]).as_deref(),
            Some("2 leaks without a creation stack could not be matched by any allow-sockets rule")
        );
        assert_eq!(
            unmatched_note(&leaks[2..], &[&function, &file]).as_deref(),
            Some(
                "1 leak with a stack of function names only (no debug info) could not be \
                 matched by the 1 `file` rule; `function` and `crate` rules still apply"
            )
        );
        assert_eq!(unmatched_note(&leaks[3..], &[&function, &file]), None);
    }
}
