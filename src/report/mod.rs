//! The report model shared by `cargo sockcheck` and the harness, and one
//! renderer per format.
//!
//! Runners build [`TestRecord`]s; [`Report::new`] adds the summary; the
//! renderers ([`text`], [`json`], [`markdown`], [`junit`], [`github`],
//! [`sarif`], [`gitlab`]) only read the model. [`merge`] joins the reports
//! of several shards. The formats a code host reads group leaks by site
//! ([`sites`]).
//!
//! What the renderers share is written once: how listings are cut
//! (`listing`) and counted words (`words`), both helpers shared with
//! `cargo sockcheck` rather than API, and how control characters are
//! shown ([`visible`]). Code spans and fences are
//! the Markdown renderer's ([`markdown::code`], [`markdown::fence`]); the
//! names of kinds, severities, protocols and states are their types'
//! (`name()` and `Display`).

pub mod github;
pub mod gitlab;
pub mod json;
pub mod junit;
#[doc(hidden)]
pub mod listing;
pub mod markdown;
pub mod sarif;
pub mod sites;
pub mod text;
#[doc(hidden)]
pub mod words;

use crate::allow::{AllowedSocket, RuleUse};
use crate::leak::{Leak, Severity};
use crate::ports::{PortFinding, PortUsage};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Version of the JSON report layout; bumped only for breaking changes.
pub const SCHEMA: u32 = 1;

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It passed.
    Passed,
    /// It failed (panicked, or exited with a non-zero status).
    Failed,
    /// It ran past the timeout and was killed.
    TimedOut,
    /// It was killed by a signal (segfault, abort, ...).
    Crashed,
    /// It is `#[ignore]`d and was not run.
    Ignored,
}

impl Outcome {
    /// True for outcomes that fail a run on their own (exit status 101).
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::TimedOut | Outcome::Crashed)
    }

    /// The name used in JSON and on the terminal, e.g. `timed-out`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed-out",
            Outcome::Crashed => "crashed",
            Outcome::Ignored => "ignored",
        }
    }
}

/// One test's result: how it ended and what it left open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TestRecord {
    /// Test target name as cargo reports it (e.g. `net` for `tests/net.rs`).
    pub binary: String,
    /// Full libtest name, e.g. `tests::unit_leaks_listener`.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// What it left open, after the policy; empty when clean.
    pub leaks: Vec<Leak>,
    /// What it left open that an allow-sockets rule (or a known pool)
    /// allows by its creation stack: shown, never counted as a leak.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<AllowedSocket>,
    /// Why it did not pass, in words (exit status, signal, timeout), when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Wall time of the test in milliseconds, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Milliseconds the test's exit was held waiting for its leaks to close
    /// (the linger), when it waited at all; part of `duration_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linger_ms: Option<u64>,
    /// Captured output (stdout and stderr, interleaved), kept for failing and
    /// leaking tests only, and capped in size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// How it used sockets and ports (`cargo sockcheck` only), when it
    /// created a socket at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortUsage>,
    /// What its `bind`, `listen` and `connect` calls and its port churn
    /// tell (`cargo sockcheck` only); empty when nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_findings: Vec<PortFinding>,
}

impl TestRecord {
    /// A record with no leaks and no extras.
    pub fn new(binary: impl Into<String>, name: impl Into<String>, outcome: Outcome) -> Self {
        TestRecord {
            binary: binary.into(),
            name: name.into(),
            outcome,
            leaks: Vec::new(),
            allowed: Vec::new(),
            detail: None,
            duration_ms: None,
            linger_ms: None,
            output: None,
            ports: None,
            port_findings: Vec::new(),
        }
    }

    /// Number of leaks of `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.leaks.iter().filter(|l| l.severity == severity).count()
    }

    /// Number of port findings of `severity`.
    pub fn port_count(&self, severity: Severity) -> usize {
        let of_severity = |f: &&PortFinding| f.severity == Some(severity);
        self.port_findings.iter().filter(of_severity).count()
    }

    /// `binary::name`, how the test is named on the terminal.
    pub fn full_name(&self) -> String {
        format!("{}::{}", self.binary, self.name)
    }
}

/// Totals over a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// Tests in the report, ignored ones included.
    pub tests: usize,
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed, timed out or crashed.
    pub failed: usize,
    /// Tests that were ignored.
    #[serde(default)]
    pub ignored: usize,
    /// Tests with at least one leak of any severity.
    pub leaking_tests: usize,
    /// Error-level leaks.
    pub errors: usize,
    /// Warning-level leaks.
    pub warnings: usize,
    /// Sockets left open that a rule allows by their creation stack (not
    /// counted in `errors`, `warnings` or `leaking_tests`); absent in
    /// JSON when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub allowed: usize,
    /// Error-level port findings (not counted in `errors`); absent in JSON
    /// when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub port_errors: usize,
    /// Warning-level port findings (not counted in `warnings`); absent in
    /// JSON when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub port_warnings: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    /// Totals over `tests`.
    pub fn of(tests: &[TestRecord]) -> Summary {
        let mut summary = Summary {
            tests: tests.len(),
            ..Summary::default()
        };
        for test in tests {
            match test.outcome {
                Outcome::Passed => summary.passed += 1,
                Outcome::Ignored => summary.ignored += 1,
                _ => summary.failed += 1,
            }
            summary.leaking_tests += usize::from(!test.leaks.is_empty());
            summary.errors += test.count(Severity::Error);
            summary.warnings += test.count(Severity::Warning);
            summary.allowed += test.allowed.len();
            summary.port_errors += test.port_count(Severity::Error);
            summary.port_warnings += test.port_count(Severity::Warning);
        }
        summary
    }
}

/// A whole run's result: every test that ran, leaking or not, and totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: u32,
    /// Every test, in the order they were listed.
    pub tests: Vec<TestRecord>,
    /// Totals over `tests`.
    pub summary: Summary,
    /// True when the run was cut short (Ctrl-C, SIGTERM, a fatal error), so
    /// `tests` holds only what finished.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// How long the run took, in milliseconds: from the start of its first
    /// test to the end of its last (reruns included). Absent where it is
    /// not known: merged reports, the harness's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Every allow-sockets rule in force and how much it was used
    /// (`cargo sockcheck` only); absent when there were none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleUse>,
    /// Under a baseline (`--baseline`), how many of the warnings shown are
    /// error-level leaks and port findings the baseline knows, shown as warnings so that the
    /// views agree with the exit status; `None` without a baseline. Never
    /// in JSON, which keeps every leak at its policy's severity.
    #[serde(skip)]
    pub baselined: Option<usize>,
}

impl Report {
    /// A report over `tests`, with its summary computed.
    pub fn new(tests: Vec<TestRecord>) -> Report {
        Report {
            schema: SCHEMA,
            summary: Summary::of(&tests),
            tests,
            interrupted: false,
            duration_ms: None,
            rules: Vec::new(),
            baselined: None,
        }
    }

    /// Tests that left at least one leak.
    pub fn leaking_tests(&self) -> impl Iterator<Item = &TestRecord> {
        self.tests.iter().filter(|t| !t.leaks.is_empty())
    }
}

/// Joins the reports of several shards (or runs) into one: tests in the
/// order given, summary recomputed, interrupted if any part was.
/// A rule's uses add up across the parts; it is stale only if it is in
/// every part.
pub fn merge(reports: Vec<Report>) -> Report {
    let interrupted = reports.iter().any(|r| r.interrupted);
    let parts = reports.len();
    let mut rules: Vec<(RuleUse, usize)> = Vec::new();
    for rule in reports.iter().flat_map(|r| &r.rules) {
        let same = |(known, _): &&mut (RuleUse, usize)| {
            (&known.rule, known.built_in) == (&rule.rule, rule.built_in)
        };
        match rules.iter_mut().find(same) {
            Some((known, seen)) => {
                known.hits += rule.hits;
                known.test_frame_hits += rule.test_frame_hits;
                known.stale &= rule.stale;
                *seen += 1;
            }
            None => rules.push((rule.clone(), 1)),
        }
    }
    let tests = reports.into_iter().flat_map(|r| r.tests).collect();
    Report {
        interrupted,
        rules: rules
            .into_iter()
            .map(|(mut rule, seen)| {
                rule.stale &= seen == parts;
                rule
            })
            .collect(),
        ..Report::new(tests)
    }
}

/// Sockets allowed for one reason, over a whole report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedGroup<'a> {
    /// The reason the rule gives.
    pub reason: &'a str,
    /// True when the rule is built in (a known pool).
    pub built_in: bool,
    /// True when the sockets are shared by design (a static's).
    pub shared: bool,
    /// How many sockets, in all.
    pub count: usize,
    /// `239 listen, 2 established`: how many of each kind.
    pub kinds: String,
}

impl std::fmt::Display for AllowedGroup<'_> {
    /// `239 listen: mockito's mock servers serve until the process exits (built in)`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kinds, self.reason)?;
        if self.shared {
            f.write_str(" (shared by design; --deny shared judges them)")?;
        } else if self.built_in {
            f.write_str(" (built in)")?;
        }
        Ok(())
    }
}

/// The allowed sockets of `report`, grouped by reason, most first (ties by reason).
pub fn allowed_groups(report: &Report) -> Vec<AllowedGroup<'_>> {
    // By (reason, built in, shared).
    type Key<'a> = (&'a str, bool, bool);
    // Found in a map: linear however many reasons there are.
    let mut groups: HashMap<Key, Vec<&AllowedSocket>> = HashMap::new();
    for socket in report.tests.iter().flat_map(|t| &t.allowed) {
        let key = (socket.reason.as_str(), socket.built_in, socket.shared);
        groups.entry(key).or_default().push(socket);
    }
    let mut groups: Vec<AllowedGroup> = groups
        .into_iter()
        .map(|((reason, built_in, shared), sockets)| AllowedGroup {
            reason,
            built_in,
            shared,
            count: sockets.len(),
            kinds: listing::count_kinds(sockets.iter().map(|s| s.kind)),
        })
        .collect();
    // A total order, so the map's order never shows.
    groups.sort_by(|a, b| {
        (b.count.cmp(&a.count))
            .then(a.reason.cmp(b.reason))
            .then(a.built_in.cmp(&b.built_in))
            .then(a.shared.cmp(&b.shared))
    });
    groups
}

/// Writes `value` as pretty-printed JSON with a trailing newline: the
/// layout of every JSON file sockcheck writes (report, diff, SARIF, GitLab).
pub(crate) fn write_pretty_json(value: &impl Serialize, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// `text` with its control characters (NUL, CR, LF, ESC and the rest of
/// C0 but tab, DEL, C1) written as Rust escapes (`\r`, `\u{1b}`), so that
/// a name or message cannot start a line, move the cursor or send an escape
/// sequence to the terminal it is shown on. Every renderer shows test
/// names, thread names, socket paths and messages through it.
pub fn visible(text: &str) -> Cow<'_, str> {
    let hidden = |c: char| c.is_control() && c != '\t';
    if !text.contains(hidden) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// Where a report file asked for as `path` is written, and how: see
/// [`output_file`].
#[doc(hidden)] // a helper of `cargo sockcheck`, not API
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFile {
    /// A regular file, or none yet: written beside, then renamed over. The
    /// path is the file itself, past any symlinks, so a link stays a link.
    Replace(PathBuf),
    /// A device, a FIFO or a socket (`/dev/null`, `/dev/stdout`, a pipe):
    /// written into as it is, never replaced.
    InPlace(PathBuf),
}

/// What writing to `path` means: [`OutputFile::InPlace`] for an existing
/// file that is not a regular one, else [`OutputFile::Replace`] of the file
/// `path` names through its symlinks (dangling ones too). A directory, or
/// a path that names no file (`/`), is an error.
#[doc(hidden)] // a helper of `cargo sockcheck`, not API
pub fn output_file(path: &Path) -> io::Result<OutputFile> {
    let not_a_file = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_owned());
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => {
            Err(not_a_file("it is a directory: name a file in it"))
        }
        Ok(metadata) if !metadata.is_file() => Ok(OutputFile::InPlace(path.to_owned())),
        Ok(_) => Ok(OutputFile::Replace(std::fs::canonicalize(path)?)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // No file yet, or a symlink to none: the file it would be.
            let mut target = path.to_owned();
            for _ in 0..40 {
                let Ok(link) = std::fs::read_link(&target) else {
                    break;
                };
                target = target.parent().map_or(link.clone(), |dir| dir.join(&link));
            }
            if target.file_name().is_none() {
                return Err(not_a_file("the path names no file"));
            }
            Ok(OutputFile::Replace(target))
        }
        Err(e) => Err(e),
    }
}

/// Writes `contents` to `path` as [`output_file`] says: a regular file so
/// that readers see the old file or the whole new one, never a part (a
/// temporary file beside it, then a rename), its missing directories
/// created; a device or a FIFO in place.
#[doc(hidden)] // a helper of `cargo sockcheck`, not API
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let path = match output_file(path)? {
        OutputFile::InPlace(path) => {
            return std::fs::OpenOptions::new()
                .write(true)
                .open(path)?
                .write_all(contents)
        }
        OutputFile::Replace(path) => path,
    };
    let (Some(dir), Some(file_name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path names no file",
        ));
    };
    if !dir.as_os_str().is_empty() {
        std::fs::create_dir_all(dir)?;
    }
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let written = std::fs::File::create(&temp).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&temp, &path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}
