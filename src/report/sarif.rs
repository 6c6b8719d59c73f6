//! SARIF 2.1.0 for code scanning (GitHub's Security tab, and any SARIF
//! viewer): one rule per leak kind, one result per leak site and kind with
//! the tests that leak there.
//!
//! Each result sits at its site's repository path and line (a relative
//! `uri` with the `%SRCROOT%` base), lists the frames on the way out to
//! the tests (a test helper, the test's line) as `relatedLocations`, and carries a `partialFingerprints` entry from
//! [`sites::fingerprints`], so code scanning tracks it across commits and
//! runs. A leak with no known source line is placed on the workspace's
//! `Cargo.toml`, line 1, and says so: code scanning drops results without
//! a line. Allowed and shared sockets are not results (see docs/ci.md).
//! The file is the same, byte for byte, for the same report: results are
//! sorted and nothing in it is timed.

use super::sites::{self, By, RepoPaths, SiteGroup};
use super::Report;
use crate::baseline::PortRange;
use crate::leak::{LeakKind, Severity};
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, Message, MultiformatMessageString, Notification,
    PhysicalLocation, PropertyBag, Region, ReportingConfiguration, ReportingDescriptor,
    Result as SarifResult, ResultLevel, Run, Sarif, Tool, ToolComponent,
};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// The `partialFingerprints` key of sockcheck's fingerprint.
pub const FINGERPRINT_KEY: &str = "sockcheckSite/v1";

/// The base every `uri` is relative to: the repository root.
pub const SRCROOT: &str = "%SRCROOT%";

/// Results GitHub keeps per run (it drops the rest); the least severe
/// past it are left out, and a notification says how many.
pub const MAX_RESULTS: usize = 5_000;

/// Related locations GitHub keeps per result.
pub const MAX_RELATED: usize = 100;

const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const README: &str = "https://github.com/sockcheck/sockcheck/blob/main/README.md";

/// The SARIF log of `report`: paths from the repository root as `paths`
/// says, ephemeral ports (for fingerprints) as `ports` says.
pub fn log(report: &Report, paths: &RepoPaths, ports: PortRange) -> Sarif {
    let groups = sites::group(report, By::SiteAndKind);
    let fingerprints = sites::fingerprints(&groups, paths, ports);
    let results: Vec<SarifResult> = groups
        .iter()
        .zip(&fingerprints)
        .take(MAX_RESULTS)
        .map(|(group, fingerprint)| result(group, fingerprint, paths))
        .collect();
    let mut notes = Vec::new();
    if report.interrupted {
        notes.push(note(
            "warning",
            "The run was interrupted: results cover only the tests that finished.",
        ));
    }
    if groups.len() > MAX_RESULTS {
        notes.push(note(
            "warning",
            &format!(
                "{} more results were left out (code scanning keeps {MAX_RESULTS} per run): \
                 see the JSON report.",
                groups.len() - MAX_RESULTS
            ),
        ));
    }
    let driver = ToolComponent::builder()
        .name("sockcheck")
        .information_uri("https://github.com/sockcheck/sockcheck")
        .version(env!("CARGO_PKG_VERSION"))
        .rules(LeakKind::ALL.map(rule).to_vec())
        .build();
    let mut run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .build();
    if !notes.is_empty() {
        run.invocations = Some(vec![Invocation::builder()
            .execution_successful(true)
            .tool_execution_notifications(notes)
            .build()]);
    }
    Sarif::builder()
        .schema(SCHEMA_URI)
        .version(serde_json::json!("2.1.0"))
        .runs(vec![run])
        .build()
}

/// Writes the SARIF log of `report` (see [`log`]), pretty-printed.
pub fn render(
    report: &Report,
    paths: &RepoPaths,
    ports: PortRange,
    out: &mut dyn Write,
) -> io::Result<()> {
    super::write_pretty_json(&log(report, paths, ports), out)
}

/// The rule of a leak kind: its fix as the descriptions, its default
/// severity as the level, the README's table as help.
fn rule(kind: LeakKind) -> ReportingDescriptor {
    let fix = kind.fix();
    // The fix's first clause (before its colon) says what is wrong.
    let short = fix.split_once(": ").map_or(fix, |(what, _)| what);
    let text = |text: String| MultiformatMessageString::builder().text(text).build();
    ReportingDescriptor::builder()
        .id(kind.name())
        .name(rule_name(kind))
        .short_description(text(format!("{}.", short.trim_end_matches('.'))))
        .full_description(text(fix.to_owned()))
        .help(text(format!(
            "{fix} The kinds of leak and their severities: {README}#what-counts-as-a-leak"
        )))
        .help_uri(format!("{README}#what-counts-as-a-leak"))
        .default_configuration(
            ReportingConfiguration::builder()
                .level(serde_json::json!(kind.default_severity().name()))
                .build(),
        )
        .properties(
            PropertyBag::builder()
                .tags(vec!["sockets".to_owned(), "tests".to_owned()])
                .additional_properties(BTreeMap::new())
                .build(),
        )
        .build()
}

/// `CloseWaitLeak` for `close-wait`: the rule's name, PascalCase.
fn rule_name(kind: LeakKind) -> String {
    let mut name: String = kind
        .name()
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    name.push_str("Leak");
    name
}

/// The result of one site and kind.
fn result(group: &SiteGroup, fingerprint: &str, paths: &RepoPaths) -> SarifResult {
    let kind = group.kind.unwrap_or(LeakKind::Listen);
    let rule_index = LeakKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
    let mut text = format!("{}.", group.headline());
    let first = group.leaks[0].1;
    match &first.opened {
        Some(origin) => text.push_str(&format!("\n{origin}.")),
        None => text.push_str("\nWhere it was opened is not known."),
    }
    let (file, line, column) = match group.place(paths) {
        Some((file, line)) => (file, line, group.site().and_then(|site| site.column)),
        None => {
            text.push_str("\nNo source line is known: placed on the workspace's Cargo.toml.");
            (paths.manifest(), 1, None)
        }
    };
    let related: Vec<Location> = group
        .test_frames()
        .into_iter()
        .filter_map(|frame| {
            let file = paths.file(frame.file.as_deref()?)?;
            let what = frame.short_function().unwrap_or_else(|| "the test".into());
            Some((file, frame.line?, frame.column, what))
        })
        .take(MAX_RELATED)
        .enumerate()
        .map(|(i, (file, line, column, what))| {
            let mut location = location(file, line, column);
            location.id = Some(i as i64 + 1);
            location.message = Some(message(format!("called from {what}")));
            location
        })
        .collect();
    let level = match group.severity() {
        Severity::Error => ResultLevel::Error,
        Severity::Warning => ResultLevel::Warning,
    };
    let tests = group.tests().into_iter().map(serde_json::Value::from);
    let properties = PropertyBag::builder()
        .additional_properties(BTreeMap::from([(
            "tests".to_owned(),
            serde_json::Value::Array(tests.collect()),
        )]))
        .build();
    let mut result = SarifResult::builder()
        .rule_id(kind.name())
        .rule_index(rule_index as i64)
        .level(level)
        .message(message(text))
        .locations(vec![location(file, line, column)])
        .partial_fingerprints(BTreeMap::from([(
            FINGERPRINT_KEY.to_owned(),
            fingerprint.to_owned(),
        )]))
        .properties(properties)
        .build();
    if !related.is_empty() {
        result.related_locations = Some(related);
    }
    result
}

/// A location at a repository `file`, `line` and `column`.
fn location(file: String, line: u32, column: Option<u32>) -> Location {
    let mut region = Region::builder().start_line(i64::from(line)).build();
    region.start_column = column.map(i64::from);
    let artifact = ArtifactLocation::builder()
        .uri(file)
        .uri_base_id(SRCROOT)
        .build();
    Location::builder()
        .physical_location(
            PhysicalLocation::builder()
                .artifact_location(artifact)
                .region(region)
                .build(),
        )
        .build()
}

fn message(text: String) -> Message {
    Message::builder().text(text).build()
}

fn note(level: &str, text: &str) -> Notification {
    Notification::builder()
        .level(serde_json::json!(level))
        .message(message(text.to_owned()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_are_pascal_case_and_descriptions_come_from_the_fix() {
        assert_eq!(rule_name(LeakKind::CloseWait), "CloseWaitLeak");
        assert_eq!(rule_name(LeakKind::UnixDatagram), "UnixDatagramLeak");
        let listen = rule(LeakKind::Listen);
        let short = listen.short_description.map(|d| d.text);
        assert_eq!(short.as_deref(), Some("A server is still listening."));
        assert_eq!(
            listen.full_description.map(|d| d.text).as_deref(),
            Some(LeakKind::Listen.fix())
        );
    }
}
