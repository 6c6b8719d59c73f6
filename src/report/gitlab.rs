//! GitLab Code Quality (the Code Climate subset GitLab reads): one issue
//! per leak site and kind with the tests that leak there, at the site's
//! repository path and line, with the same fingerprint as the SARIF
//! result ([`sites::fingerprints`]), so the merge-request widget shows
//! new and fixed leaks. Sorted, untimed: the same report gives the same
//! bytes.

use super::sites::{self, By, RepoPaths, SiteGroup};
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
    /// `major` for an error-level leak, `minor` for a warning.
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
    groups
        .iter()
        .zip(fingerprints)
        .map(|(group, fingerprint)| issue(group, fingerprint, paths))
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
        severity: match group.severity() {
            Severity::Error => "major",
            Severity::Warning => "minor",
        },
        location: IssueLocation {
            path,
            lines: Lines { begin },
        },
    }
}
