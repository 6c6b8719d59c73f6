//! SARIF 2.1.0 for code scanning (GitHub's Security tab, and any SARIF
//! viewer): one rule per leak kind, one result per leak site and kind with
//! the tests that leak there; one rule per port finding kind, one result
//! per port finding at its call (`bind`, `connect`), at the level its
//! severity gives (`note` for one that only explains a failure).
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

use super::sites::{self, By, PortEntry, RepoPaths, SiteGroup};
use super::Report;
use crate::baseline::PortRange;
use crate::leak::{LeakKind, Severity};
use crate::ports::PortFindingKind;
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
const PORTS_DOC: &str = "https://github.com/sockcheck/sockcheck/blob/main/docs/ports.md";

/// The SARIF log of `report`: paths from the repository root as `paths`
/// says, ephemeral ports (for fingerprints) as `ports` says.
pub fn log(report: &Report, paths: &RepoPaths, ports: PortRange) -> Sarif {
    let groups = sites::group(report, By::SiteAndKind);
    let fingerprints = sites::fingerprints(&groups, paths, ports);
    let entries = sites::port_entries(report);
    let port_fingerprints = sites::port_fingerprints(&entries, paths);
    let found = groups.len() + entries.len();
    let leak_results = groups
        .iter()
        .zip(&fingerprints)
        .map(|(group, fingerprint)| result(group, fingerprint, paths));
    let port_results = entries
        .iter()
        .zip(&port_fingerprints)
        .map(|(entry, fingerprint)| port_result(entry, fingerprint, paths));
    let results: Vec<SarifResult> = leak_results.chain(port_results).take(MAX_RESULTS).collect();
    let mut notes = Vec::new();
    if report.interrupted {
        notes.push(note(
            "warning",
            "The run was interrupted: results cover only the tests that finished.",
        ));
    }
    if found > MAX_RESULTS {
        notes.push(note(
            "warning",
            &format!(
                "{} more results were left out (code scanning keeps {MAX_RESULTS} per run): \
                 see the JSON report.",
                found - MAX_RESULTS
            ),
        ));
    }
    let driver = ToolComponent::builder()
        .name("sockcheck")
        .information_uri("https://github.com/sockcheck/sockcheck")
        .version(env!("CARGO_PKG_VERSION"))
        .rules(
            LeakKind::ALL
                .map(leak_rule)
                .into_iter()
                .chain(PortFindingKind::ALL.map(port_rule))
                .collect::<Vec<_>>(),
        )
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
fn leak_rule(kind: LeakKind) -> ReportingDescriptor {
    let uri = format!("{README}#what-counts-as-a-leak");
    let help = format!("The kinds of leak and their severities: {uri}");
    let level = kind.default_severity().name();
    rule(
        kind.name(),
        rule_name(kind),
        kind.fix(),
        level,
        (&help, &uri),
    )
}

/// The rule of a port finding kind: its fix as the descriptions, its
/// default severity as the level (`note` for a kind that only explains a
/// failure), docs/ports.md as help.
fn port_rule(kind: PortFindingKind) -> ReportingDescriptor {
    let uri = format!("{PORTS_DOC}#{}", kind.name());
    let help = format!("What each port finding means: {uri}");
    let level = kind.default_severity().map_or("note", Severity::name);
    rule(
        kind.name(),
        pascal_case(kind.name()),
        kind.fix(),
        level,
        (&help, &uri),
    )
}

/// A rule named `id` and `name`, whose descriptions come from `fix`, at
/// `level` by default, with `help` (the fix, then `help.0`, a line that
/// points at `help.1`).
fn rule(id: &str, name: String, fix: &str, level: &str, help: (&str, &str)) -> ReportingDescriptor {
    // The fix's first clause (before its first colon or full stop) says
    // what is wrong.
    let end = [": ", ". "].iter().filter_map(|stop| fix.find(stop)).min();
    let short = end.map_or(fix, |end| &fix[..end]);
    let text = |text: String| MultiformatMessageString::builder().text(text).build();
    ReportingDescriptor::builder()
        .id(id)
        .name(name)
        .short_description(text(format!("{}.", short.trim_end_matches('.'))))
        .full_description(text(fix.to_owned()))
        .help(text(format!("{fix} {}", help.0)))
        .help_uri(help.1)
        .default_configuration(
            ReportingConfiguration::builder()
                .level(serde_json::json!(level))
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
    pascal_case(kind.name()) + "Leak"
}

/// `AddressInUse` for `address-in-use`.
fn pascal_case(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The result of one port finding, at its call's line (or, with none
/// known, the workspace's `Cargo.toml`, saying so).
fn port_result(entry: &PortEntry, fingerprint: &str, paths: &RepoPaths) -> SarifResult {
    let kind = entry.finding.kind();
    let rule_index = LeakKind::ALL.len()
        + PortFindingKind::ALL
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(0);
    let mut text = format!("{}.", entry.message());
    let (file, line, column) = entry.place(paths).unwrap_or_else(|| {
        text.push_str("\nNo source line is known: placed on the workspace's Cargo.toml.");
        (paths.manifest(), 1, None)
    });
    let level = result_level(entry.finding.severity);
    let tests = vec![serde_json::Value::from(entry.test.full_name())];
    let at = location(file, line, column);
    found(
        (kind.name(), rule_index),
        level,
        text,
        at,
        fingerprint,
        tests,
    )
}

/// SARIF's level for a severity; a port finding without one (it only
/// explains a failure) is a note.
fn result_level(severity: Option<Severity>) -> ResultLevel {
    match severity {
        Some(Severity::Error) => ResultLevel::Error,
        Some(Severity::Warning) => ResultLevel::Warning,
        None => ResultLevel::Note,
    }
}

/// A result of the rule named `rule` (with its index in the driver's
/// rules) at `at`, with its fingerprint and the tests it was found in:
/// what a leak's and a port finding's results share.
fn found(
    (rule_id, rule_index): (&str, usize),
    level: ResultLevel,
    text: String,
    at: Location,
    fingerprint: &str,
    tests: Vec<serde_json::Value>,
) -> SarifResult {
    let properties = PropertyBag::builder()
        .additional_properties(BTreeMap::from([(
            "tests".to_owned(),
            serde_json::Value::Array(tests),
        )]))
        .build();
    SarifResult::builder()
        .rule_id(rule_id)
        .rule_index(rule_index as i64)
        .level(level)
        .message(message(text))
        .locations(vec![at])
        .partial_fingerprints(BTreeMap::from([(
            FINGERPRINT_KEY.to_owned(),
            fingerprint.to_owned(),
        )]))
        .properties(properties)
        .build()
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
    let level = result_level(Some(group.severity()));
    let tests = group.tests().into_iter().map(serde_json::Value::from);
    let at = location(file, line, column);
    let tests = tests.collect();
    let mut result = found(
        (kind.name(), rule_index),
        level,
        text,
        at,
        fingerprint,
        tests,
    );
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
        let listen = leak_rule(LeakKind::Listen);
        let short = listen.short_description.map(|d| d.text);
        assert_eq!(short.as_deref(), Some("A server is still listening."));
        assert_eq!(
            listen.full_description.map(|d| d.text).as_deref(),
            Some(LeakKind::Listen.fix())
        );
    }
}
