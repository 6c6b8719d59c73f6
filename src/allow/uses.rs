//! What the rules allowed, and what to tell the user: the allowed sockets
//! of a test ([`set_aside`]), how each rule was used over a run
//! ([`rule_uses`]), the rule to paste for leaks made inside a dependency
//! ([`proposed_rules`]), and why some leaks could not be matched
//! ([`unmatched_note`]).

use super::{first_match, without_closure, AllowSocket};
use crate::leak::{Leak, LeakKind};
use crate::site::Origin;
use crate::socket::Socket;
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::fmt;

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
    /// True when the rule is built in: one of [`known_pools`](super::known_pools), or
    /// [`shared_statics`](super::shared_statics).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub built_in: bool,
    /// True when it is shared by design: made once per process by a
    /// static's initializer, named in `reason` ([`shared_statics`](super::shared_statics)).
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
pub(super) fn module_glob(function: &str) -> Option<String> {
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
