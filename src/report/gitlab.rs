//! GitLab Code Quality (the Code Climate subset GitLab reads): one issue
//! per leak site and kind with the tests that leak there, at the site's
//! repository path and line, with the same fingerprint as the SARIF
//! result ([`sites::fingerprints`]), so the merge-request widget shows
//! new and fixed leaks. Then one issue per port finding, at its call
//! (`sockcheck/port-churn`, ...; `info` for one that only explains a
//! failure). Sorted, untimed: the same report gives the same bytes.

use super::sites::{self, By, PortEntry, RepoPaths, SiteGroup};
use super::Report;
use crate::baseline::PortRange;
use crate::leak::Severity;
use serde::Serialize;
use std::io::{self, Write};

/// One Code Quality issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// What is wrong, in one line: the tests, the kind, where it was opened.
    pub description: String,
    /// `sockcheck/listen`: the leak kind, as a check.
    pub check_name: String,
    /// Stable across runs and unrelated edits.
    pub fingerprint: String,
    /// `major` for an error-level leak or finding, `minor` for a warning,
    /// `info` for a port finding that only explains a failure.
    pub severity: &'static str,
    /// Where: a repository path and a line.
    pub location: IssueLocation,
}

/// Where an issue is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueLocation {
    /// From the repository root.
    pub path: String,
    /// The line.
    pub lines: Lines,
}

/// An issue's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Lines {
    /// 1-based.
    pub begin: u32,
}

/// The Code Quality issues of `report`: paths from the repository root as
/// `paths` says, ephemeral ports (for fingerprints) as `ports` says. A
/// leak with no known source line is placed on the workspace's
/// `Cargo.toml`, line 1.
pub fn issues(report: &Report, paths: &RepoPaths, ports: PortRange) -> Vec<Issue> {
    let groups = sites::group(report, By::SiteAndKind);
    let fingerprints = sites::fingerprints(&groups, paths, ports);
    let entries = sites::port_entries(report);
    let port_fingerprints = sites::port_fingerprints(&entries, paths);
    let port_issues = entries
        .iter()
        .zip(port_fingerprints)
        .map(|(entry, fingerprint)| port_issue(entry, fingerprint, paths));
    groups
        .iter()
        .zip(fingerprints)
        .map(|(group, fingerprint)| issue(group, fingerprint, paths))
        .chain(port_issues)
        .collect()
}

/// Writes [`issues`] of `report` as a JSON array, pretty-printed.
pub fn render(
    report: &Report,
    paths: &RepoPaths,
    ports: PortRange,
    out: &mut dyn Write,
) -> io::Result<()> {
    super::write_pretty_json(&issues(report, paths, ports), out)
}

fn issue(group: &SiteGroup, fingerprint: String, paths: &RepoPaths) -> Issue {
    let mut description = group.headline();
    if let Some(origin) = &group.leaks[0].1.opened {
        description.push_str(&format!(": {origin}"));
    }
    let (path, begin) = group.place(paths).unwrap_or_else(|| (paths.manifest(), 1));
    Issue {
        description,
        check_name: format!(
            "sockcheck/{}",
            group.kind.map_or("leak", |kind| kind.name())
        ),
        fingerprint,
        severity: severity_name(Some(group.severity())),
        location: IssueLocation {
            path,
            lines: Lines { begin },
        },
    }
}

fn port_issue(entry: &PortEntry, fingerprint: String, paths: &RepoPaths) -> Issue {
    let (path, begin) = entry
        .place(paths)
        .map_or_else(|| (paths.manifest(), 1), |(path, line, _)| (path, line));
    Issue {
        description: entry.message().replace('\n', "; "),
        check_name: format!("sockcheck/{}", entry.finding.kind()),
        fingerprint,
        severity: severity_name(entry.finding.severity),
        location: IssueLocation {
            path,
            lines: Lines { begin },
        },
    }
}

/// Code Quality's name for `severity`; `info` for none.
fn severity_name(severity: Option<Severity>) -> &'static str {
    match severity {
        Some(Severity::Error) => "major",
        Some(Severity::Warning) => "minor",
        None => "info",
    }
}
