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
//!
//! The built-in rules are in `allow/known.rs`; what the rules allowed and
//! what the user is told of it (allowed sockets, rule use, rules to paste)
//! in `allow/uses.rs`.

mod known;
#[cfg(test)]
mod tests;
mod uses;

pub use known::{known_pools, shared_initializer, shared_statics};
pub use uses::{
    proposed_rules, rule_uses, set_aside, set_aside_by, unmatched_note, AllowedSocket,
    ProposedRule, RuleUse,
};

use crate::site::{Frame, Origin};
use serde::{Deserialize, Deserializer};
use std::fmt;

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
                    .short_location()
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

/// The first rule of `rules` that matches `origin`, if any.
pub fn first_match<'r>(
    rules: impl IntoIterator<Item = &'r AllowSocket>,
    origin: Option<&Origin>,
) -> Option<&'r AllowSocket> {
    let origin = origin?;
    rules.into_iter().find(|rule| rule.matches(origin))
}
