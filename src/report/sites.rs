//! Leaks grouped by where they were opened, for the formats a code host
//! reads (GitHub annotations, SARIF, GitLab Code Quality): one entry per
//! *site* with the tests that leak there, not one per test, so eleven
//! tests leaking through one helper line make one finding.
//!
//! Also owned here: where a site lies in the repository ([`RepoPaths`]),
//! and the fingerprint that tracks a finding from run to run and commit to commit
//! ([`fingerprints`]). Port findings ([`PortFinding`]) are per call, not
//! grouped: [`port_entries`] lists them with their tests, each placed at
//! its call ([`PortEntry::place`]), with its own fingerprint
//! ([`port_fingerprints`]).

use super::listing::Capped;
use super::words::counted;
use super::{Report, TestRecord};
use crate::baseline::{LeakIdentity, PortRange};
use crate::leak::{Leak, LeakKind, Severity};
use crate::ports::PortFinding;
use crate::site::Frame;
use std::cmp::Reverse;
use std::collections::HashMap;

/// Where the workspace lies in the repository: turns the workspace-relative
/// files of a report into the repository-relative paths a code host
/// resolves (`tests/fixtures/leaky/tests/net.rs` for `tests/net.rs` when
/// the workspace is `tests/fixtures/leaky`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoPaths {
    /// The workspace root from the repository root, `/`-separated, without
    /// a trailing `/`; empty when they are the same.
    workspace: String,
}

impl RepoPaths {
    /// The workspace lies at `workspace` (`/`-separated, from the
    /// repository root; empty for the root itself).
    pub fn new(workspace: &str) -> RepoPaths {
        RepoPaths {
            workspace: workspace.trim_matches('/').to_owned(),
        }
    }

    /// The repository path of `file`, a project file relative to the
    /// workspace root; `None` for an absolute path (std, the registry),
    /// which no code host can show.
    pub fn file(&self, file: &str) -> Option<String> {
        if file.starts_with('/') || file.is_empty() {
            return None;
        }
        Some(if self.workspace.is_empty() {
            file.to_owned()
        } else {
            format!("{}/{file}", self.workspace)
        })
    }

    /// The workspace's `Cargo.toml`: where a finding without a known
    /// source line is placed.
    pub fn manifest(&self) -> String {
        self.file("Cargo.toml").unwrap_or_default()
    }
}

/// Tests named in one finding before the rest are counted.
pub const MAX_TESTS_NAMED: usize = 10;

/// Where a group's leaks were opened, as far as it is known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SiteKey {
    /// A project file and line (workspace-relative file).
    Line(String, u32),
    /// A project function without line information (no debug info).
    Function(String),
    /// Nothing known: the leaks of one test (`binary::name`).
    Test(String),
}

/// Leaks opened at one site, with the tests that left them.
#[derive(Debug, Clone)]
pub struct SiteGroup<'a> {
    /// Where they were opened.
    pub key: SiteKey,
    /// The kind, when the grouping is per site and kind.
    pub kind: Option<LeakKind>,
    /// The leaks, each with its test, sorted by test name (a test's own
    /// leaks in report order).
    pub leaks: Vec<(&'a TestRecord, &'a Leak)>,
}

/// How leaks are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// One group per site, whatever the kinds (annotations).
    Site,
    /// One group per site and kind (SARIF results, Code Quality issues:
    /// each has one rule).
    SiteAndKind,
}

impl<'a> SiteGroup<'a> {
    /// The most severe of the group's leaks.
    pub fn severity(&self) -> Severity {
        self.leaks
            .iter()
            .map(|(_, leak)| leak.severity)
            .min()
            .unwrap_or(Severity::Warning)
    }

    /// The site frame all the leaks share (of the first leak), when there is one.
    pub fn site(&self) -> Option<&'a Frame> {
        self.leaks.first().and_then(|(_, leak)| leak.site())
    }

    /// The tests that leak here, each once (`binary::name`), sorted.
    pub fn tests(&self) -> Vec<String> {
        let mut tests: Vec<String> = Vec::new();
        for (test, _) in &self.leaks {
            let name = test.full_name();
            if !tests.contains(&name) {
                tests.push(name);
            }
        }
        tests
    }

    /// The tests, named up to [`MAX_TESTS_NAMED`] and then counted:
    /// `net::a, net::b … and 2 more tests`.
    pub fn named_tests(&self) -> String {
        let tests = self.tests();
        let named = Capped::new(&tests, MAX_TESTS_NAMED);
        let mut names = named.listed.join(", ");
        if let Some(more) = named.and_more_counted("test") {
            names.push_str(&format!(" {more}"));
        }
        names
    }

    /// One line for the group: `net::a, net::b left 2 listen sockets
    /// open`, the kind named when the group has one.
    pub fn headline(&self) -> String {
        let sockets = match self.kind {
            Some(kind) => counted(self.leaks.len(), &format!("{kind} socket")),
            None => counted(self.leaks.len(), "socket"),
        };
        format!("{} left {sockets} open", self.named_tests())
    }

    /// The frames on the way from the site out to the tests (each leak's
    /// [trail](crate::site::Origin::trail) past its site: a test helper,
    /// the test's own line), each line once, sorted by file and line.
    pub fn test_frames(&self) -> Vec<&'a Frame> {
        let mut frames: Vec<&Frame> = self
            .leaks
            .iter()
            .filter_map(|(_, leak)| leak.opened.as_ref())
            .flat_map(|origin| origin.trail().into_iter().skip(1))
            .filter(|frame| frame.file.is_some() && frame.line.is_some())
            .collect();
        frames.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        frames.dedup_by(|a, b| (&a.file, a.line) == (&b.file, b.line));
        frames
    }

    /// The repository path and line of the site, when it has both and the
    /// file is the project's.
    pub fn place(&self, paths: &RepoPaths) -> Option<(String, u32)> {
        match &self.key {
            SiteKey::Line(file, line) => Some((paths.file(file)?, *line)),
            _ => None,
        }
    }
}

/// The site of `leak` as a grouping key.
fn key_of(test: &TestRecord, leak: &Leak) -> SiteKey {
    match leak.site() {
        Some(Frame {
            file: Some(file),
            line: Some(line),
            ..
        }) => SiteKey::Line(file.clone(), *line),
        Some(Frame {
            function: Some(function),
            ..
        }) => SiteKey::Function(function.clone()),
        _ => SiteKey::Test(test.full_name()),
    }
}

/// The leaks of `report` grouped `by` site (and kind): the most severe
/// first, then those with the most tests, then by site and kind; within a
/// group, by test name. The order is the same for the same leaks, whatever
/// order the tests ran in.
pub fn group(report: &Report, by: By) -> Vec<SiteGroup<'_>> {
    let mut groups: Vec<SiteGroup> = Vec::new();
    let mut index: HashMap<(SiteKey, Option<LeakKind>), usize> = HashMap::new();
    for test in &report.tests {
        for leak in &test.leaks {
            let kind = (by == By::SiteAndKind).then_some(leak.kind);
            let key = key_of(test, leak);
            let at = *index.entry((key.clone(), kind)).or_insert_with(|| {
                groups.push(SiteGroup {
                    key,
                    kind,
                    leaks: Vec::new(),
                });
                groups.len() - 1
            });
            groups[at].leaks.push((test, leak));
        }
    }
    // Tests by name, whatever order they finished in, so the same leaks
    // give the same bytes from run to run.
    for group in &mut groups {
        group.leaks.sort_by_cached_key(|(test, _)| test.full_name());
    }
    groups.sort_by_cached_key(|group| {
        let tests = group.tests().len();
        (
            group.severity(),
            Reverse(tests),
            group.key.clone(),
            group.kind,
        )
    });
    groups
}

/// A fingerprint per group, 16 hex digits, that stays the same while the
/// finding does: made of the site's repository file and function (not its
/// line, so edits above it do not move it), the kind, and the sorted
/// [`LeakIdentity`]s of its leaks (the baseline's identity: test, kind,
/// protocol, state, addresses with ephemeral ports masked; nothing of
/// the run's pids, times or port numbers). Groups that would share one get
/// `-2`, `-3` ... in the order of their sites' lines.
pub fn fingerprints(groups: &[SiteGroup], paths: &RepoPaths, ports: PortRange) -> Vec<String> {
    let hashes: Vec<u64> = groups
        .iter()
        .map(|group| {
            let site = site_key(group.site(), paths);
            let kind = group.kind.map(LeakKind::name).unwrap_or_default();
            let mut identities: Vec<String> = group
                .leaks
                .iter()
                .map(|(test, leak)| identity_text(&LeakIdentity::of(test, leak, ports)))
                .collect();
            identities.sort();
            identities.dedup();
            let text = format!("{site}\n{kind}\n{}", identities.join("\n"));
            fnv1a(text.as_bytes())
        })
        .collect();
    let lines: Vec<u32> = groups.iter().map(line_of).collect();
    numbered(&hashes, &lines)
}

/// What a fingerprint takes of a site: its repository file and function,
/// one per line (not its line number, so edits above it move nothing);
/// empty parts when unknown.
fn site_key(site: Option<&Frame>, paths: &RepoPaths) -> String {
    let file = site
        .and_then(|frame| frame.file.as_deref())
        .and_then(|file| paths.file(file))
        .unwrap_or_default();
    let function = site
        .and_then(|frame| frame.function.as_deref())
        .unwrap_or_default();
    format!("{file}\n{function}")
}

/// Fingerprints of `hashes`, 16 hex digits; hashes that are the same get
/// `-2`, `-3` ... in the order of their `lines`, so an edit above both
/// keeps each its own.
fn numbered(hashes: &[u64], lines: &[u32]) -> Vec<String> {
    let mut order: Vec<usize> = (0..hashes.len()).collect();
    order.sort_by_key(|&i| (hashes[i], lines[i], i));
    let mut fingerprints = vec![String::new(); hashes.len()];
    let mut previous: Option<(u64, usize)> = None;
    for i in order {
        let n = match previous {
            Some((hash, n)) if hash == hashes[i] => n + 1,
            _ => 1,
        };
        previous = Some((hashes[i], n));
        fingerprints[i] = match n {
            1 => format!("{:016x}", hashes[i]),
            n => format!("{:016x}-{n}", hashes[i]),
        };
    }
    fingerprints
}

/// A port finding with its test, for the formats a code host reads.
#[derive(Debug, Clone, Copy)]
pub struct PortEntry<'a> {
    /// The test it is about.
    pub test: &'a TestRecord,
    /// The finding.
    pub finding: &'a PortFinding,
}

impl<'a> PortEntry<'a> {
    /// The project frame of the finding's call, when known.
    pub fn site(&self) -> Option<&'a Frame> {
        self.finding.site()
    }

    /// The repository path, line and column of the call, when its site is
    /// a project file with a line.
    pub fn place(&self, paths: &RepoPaths) -> Option<(String, u32, Option<u32>)> {
        let site = self.site()?;
        Some((paths.file(site.file.as_deref()?)?, site.line?, site.column))
    }

    /// `net::b: ` and the [`finding_lines`] of its finding.
    pub fn message(&self) -> String {
        format!("{}: {}", self.test.full_name(), finding_lines(self.finding))
    }
}

/// `address-in-use: bind 127.0.0.1:8080: held by test net::a`, then each
/// of the finding's details on a line of its own: untrusted text, which
/// each format escapes.
pub fn finding_lines(finding: &PortFinding) -> String {
    let mut lines = format!("{}: {}", finding.kind(), finding.summary());
    for detail in finding.details() {
        lines.push('\n');
        lines.push_str(&detail);
    }
    lines
}

/// `bind at tests/net.rs:31:13`: the finding's call and where the project
/// made it (its site's location, else its function); `None` when no
/// project frame is known.
pub fn call_place(finding: &PortFinding) -> Option<String> {
    let call = finding.call.as_ref()?;
    let site = call.site.as_ref()?;
    let place = site.location().or_else(|| site.function.clone())?;
    Some(format!("{} at {place}", call.syscall))
}

/// Every port finding of `report` with its test: those with a severity
/// first (errors, then warnings), then those that only explain a failure;
/// by test name within each, a test's own in report order.
pub fn port_entries(report: &Report) -> Vec<PortEntry<'_>> {
    let mut entries: Vec<PortEntry> = report
        .tests
        .iter()
        .flat_map(|test| {
            test.port_findings
                .iter()
                .map(move |finding| PortEntry { test, finding })
        })
        .collect();
    entries.sort_by_cached_key(|entry| {
        let severity = entry.finding.severity;
        ((severity.is_none(), severity), entry.test.full_name())
    });
    entries
}

/// A fingerprint per entry, as [`fingerprints`] makes them for leaks: the
/// call's repository file and function (not its line), the kind, the test
/// and the address (a fixed port, so the same from run to run; none for
/// churn).
pub fn port_fingerprints(entries: &[PortEntry], paths: &RepoPaths) -> Vec<String> {
    let hashes: Vec<u64> = entries
        .iter()
        .map(|entry| {
            let text = format!(
                "{}\n{}\n{}\t{}\n{}",
                site_key(entry.site(), paths),
                entry.finding.kind(),
                entry.test.binary,
                entry.test.name,
                entry.finding.problem.address().unwrap_or_default()
            );
            fnv1a(text.as_bytes())
        })
        .collect();
    let lines: Vec<u32> = entries
        .iter()
        .map(|entry| entry.site().and_then(|site| site.line).unwrap_or(0))
        .collect();
    numbered(&hashes, &lines)
}

/// The identity's fields, tab-separated: what a fingerprint hashes, kept
/// apart from how identities are shown, so a change of wording moves no
/// fingerprint.
fn identity_text(identity: &LeakIdentity) -> String {
    let LeakIdentity {
        binary,
        test,
        kind,
        protocol,
        state,
        local,
        remote,
    } = identity;
    format!("{binary}\t{test}\t{kind}\t{protocol}\t{state}\t{local}\t{remote}")
}

fn line_of(group: &SiteGroup) -> u32 {
    match group.key {
        SiteKey::Line(_, line) => line,
        _ => 0,
    }
}

/// 64-bit FNV-1a: a fixed, documented hash, the same on every machine and
/// in every sockcheck version (unlike `std::hash`, which promises neither).
#[doc(hidden)] // shared with `cargo sockcheck --partition hash:`, not API
pub fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Outcome;
    use crate::site::Origin;
    use crate::testing::{leak, listener, record};

    fn at(file: &str, line: u32, function: &str, port: u16) -> Leak {
        let mut leak = leak(LeakKind::Listen, listener(port));
        let test_frame = Frame::function("net::test")
            .at("tests/net.rs", 90, None)
            .in_project();
        let site = Frame::function(function)
            .at(file, line, Some(5))
            .in_project();
        leak.opened = Some(Origin::new("socket", vec![site, test_frame]));
        leak
    }

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn repository_paths_prefix_project_files_and_refuse_absolute_ones() {
        let paths = RepoPaths::new("tests/fixtures/leaky/");
        assert_eq!(
            paths.file("tests/net.rs").as_deref(),
            Some("tests/fixtures/leaky/tests/net.rs")
        );
        assert_eq!(paths.file("/rustc/1/library/std/src/net/tcp.rs"), None);
        assert_eq!(
            RepoPaths::new("").file("src/lib.rs").as_deref(),
            Some("src/lib.rs")
        );
        assert_eq!(paths.manifest(), "tests/fixtures/leaky/Cargo.toml");
    }

    #[test]
    fn leaks_of_many_tests_at_one_line_make_one_group_naming_each_test_once() {
        let report = Report::new(vec![
            record(
                "net",
                "a",
                Outcome::Passed,
                vec![at("tests/support.rs", 12, "net::serve", 40001)],
            ),
            record(
                "net",
                "b",
                Outcome::Passed,
                vec![
                    at("tests/support.rs", 12, "net::serve", 40002),
                    at("tests/support.rs", 12, "net::serve", 40003),
                ],
            ),
            record(
                "net",
                "c",
                Outcome::Passed,
                vec![at("tests/other.rs", 3, "net::other", 40004)],
            ),
        ]);
        let groups = group(&report, By::Site);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].key, SiteKey::Line("tests/support.rs".into(), 12));
        assert_eq!(groups[0].tests(), ["net::a", "net::b"]);
        assert_eq!(groups[0].leaks.len(), 3);
        let frames = groups[0].test_frames();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].line, Some(90));
    }

    #[test]
    fn a_group_lists_its_tests_by_name_whatever_order_they_ran_in() {
        let test = |name: &str, port| {
            record(
                "net",
                name,
                Outcome::Passed,
                vec![at("tests/a.rs", 3, "net::f", port)],
            )
        };
        let report = Report::new(vec![test("b", 40001), test("a", 40002)]);
        let groups = group(&report, By::Site);
        assert_eq!(groups[0].tests(), ["net::a", "net::b"]);
        assert_eq!(groups[0].leaks[0].0.name, "a");
    }

    #[test]
    fn errors_come_first_and_kinds_split_groups_when_asked() {
        let mut warning = at("tests/a.rs", 1, "net::a", 40001);
        warning.severity = Severity::Warning;
        let mut udp = at("tests/b.rs", 1, "net::b", 40002);
        udp.kind = LeakKind::Udp;
        let report = Report::new(vec![record(
            "net",
            "t",
            Outcome::Passed,
            vec![warning, udp, at("tests/b.rs", 1, "net::b", 40003)],
        )]);
        let by_site = group(&report, By::Site);
        assert_eq!(by_site.len(), 2);
        assert_eq!(by_site[0].key, SiteKey::Line("tests/b.rs".into(), 1));
        assert_eq!(by_site[1].severity(), Severity::Warning);
        let by_kind = group(&report, By::SiteAndKind);
        assert_eq!(by_kind.len(), 3);
    }

    #[test]
    fn fingerprints_ignore_lines_and_ports_and_tell_same_function_sites_apart() {
        let ports = PortRange::LINUX_DEFAULT;
        let paths = RepoPaths::new("");
        let report = |line: u32, port: u16| {
            Report::new(vec![record(
                "net",
                "t",
                Outcome::Passed,
                vec![
                    at("tests/a.rs", line, "net::serve", port),
                    at("tests/a.rs", line + 4, "net::serve", port + 1),
                ],
            )])
        };
        let first = report(10, 40001);
        let moved = report(15, 50001);
        let a = fingerprints(&group(&first, By::SiteAndKind), &paths, ports);
        let b = fingerprints(&group(&moved, By::SiteAndKind), &paths, ports);
        assert_eq!(a, b);
        assert_ne!(a[0], a[1], "{a:?}");
        assert!(a.iter().all(|f| f.len() >= 16), "{a:?}");
        let elsewhere = fingerprints(
            &group(&first, By::SiteAndKind),
            &RepoPaths::new("sub"),
            ports,
        );
        assert_ne!(a, elsewhere);
    }

    #[test]
    fn a_leak_without_a_site_groups_by_its_test_and_has_no_test_frame() {
        let report = Report::new(vec![record(
            "net",
            "t",
            Outcome::Passed,
            vec![leak(LeakKind::Listen, listener(8080))],
        )]);
        let groups = group(&report, By::Site);
        assert_eq!(groups[0].key, SiteKey::Test("net::t".into()));
        assert_eq!(groups[0].place(&RepoPaths::default()), None);
        assert!(groups[0].test_frames().is_empty());
    }
}
