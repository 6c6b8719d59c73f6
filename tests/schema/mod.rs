//! The JSON report's contract, `docs/report.schema.json`, as the tests
//! check it: every report an end-to-end test reads goes through
//! [`parse_checked`], so a renamed, retyped or undocumented field fails the
//! test that produced it. Shared by sockcheck's tests and cargo-sockcheck's
//! (which include this file by path).
//!
//! SARIF logs are checked the same way against the SARIF 2.1.0 schema
//! ([`sarif_violations`]), vendored beside this file: OASIS's schema with
//! its errata as the SARIF multitool 5.7.0 ships and validates with it
//! (`@microsoft/sarif-multitool-linux`, MIT). No test reaches the network.

#![allow(dead_code)] // each test file uses its own part of this

use sockcheck::report::{json, Report};

/// The schema, as the repository documents it.
pub const SCHEMA: &str = include_str!("../../docs/report.schema.json");

/// Every way `report` breaks the schema, one line each (`/tests/0/leaks/0:
/// ...`); empty when it conforms.
pub fn violations(report: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value =
        serde_json::from_str(SCHEMA).expect("docs/report.schema.json is JSON");
    let validator =
        jsonschema::validator_for(&schema).expect("docs/report.schema.json is a valid schema");
    validator
        .iter_errors(report)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

/// The SARIF 2.1.0 schema.
pub const SARIF_SCHEMA: &str = include_str!("sarif-schema-2.1.0.json");

/// Every way `log` breaks the SARIF 2.1.0 schema, one line each; empty
/// when it conforms.
pub fn sarif_violations(log: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value =
        serde_json::from_str(SARIF_SCHEMA).expect("the SARIF schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the SARIF schema is a valid schema");
    validator
        .iter_errors(log)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

/// The report in `text`, after checking it against the schema; panics
/// naming every violation, with the report.
pub fn parse_checked(text: &str) -> Report {
    let value: serde_json::Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{text}"));
    let violations = violations(&value);
    assert!(
        violations.is_empty(),
        "the report breaks docs/report.schema.json:\n{}\n\nreport:\n{text}",
        violations.join("\n")
    );
    json::parse(text).unwrap_or_else(|e| panic!("the report does not parse ({e}):\n{text}"))
}

/// Every way `log` breaks GitHub code scanning's ingestion rules (its
/// SARIF support page): a `region.startLine` on every result's location, a
/// relative `uri` with a `uriBaseId` (no scheme, no leading `/`), a
/// `ruleId` the driver defines, `partialFingerprints`, and at most 20
/// runs, 25,000 rules and 25,000 results per run (of which it shows
/// 5,000, the limit sockcheck keeps), 1,000 locations and 20 tags.
pub fn github_violations(log: &serde_json::Value) -> Vec<String> {
    let mut violations = Vec::new();
    let empty = Vec::new();
    let runs = log["runs"].as_array().unwrap_or(&empty);
    if runs.len() > 20 {
        violations.push(format!("{} runs", runs.len()));
    }
    for (r, run) in runs.iter().enumerate() {
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap_or(&empty);
        let ids: Vec<&str> = rules
            .iter()
            .filter_map(|rule| rule["id"].as_str())
            .collect();
        if rules.len() > 25_000 {
            violations.push(format!("runs[{r}]: {} rules", rules.len()));
        }
        for rule in rules {
            let tags = rule["properties"]["tags"].as_array().map_or(0, Vec::len);
            if tags > 20 {
                violations.push(format!("runs[{r}]: rule {}: {tags} tags", rule["id"]));
            }
        }
        let results = run["results"].as_array().unwrap_or(&empty);
        if results.len() > 5_000 {
            violations.push(format!("runs[{r}]: {} results", results.len()));
        }
        for (i, result) in results.iter().enumerate() {
            let at = format!("runs[{r}].results[{i}]");
            if !result["ruleId"]
                .as_str()
                .is_some_and(|id| ids.contains(&id))
            {
                violations.push(format!("{at}: ruleId {} is no rule", result["ruleId"]));
            }
            if !result["partialFingerprints"].is_object() {
                violations.push(format!("{at}: no partialFingerprints"));
            }
            let locations = result["locations"].as_array().unwrap_or(&empty);
            let related = result["relatedLocations"].as_array().unwrap_or(&empty);
            if locations.is_empty() {
                violations.push(format!("{at}: no location"));
            }
            if locations.len() + related.len() > 1_000 {
                violations.push(format!("{at}: more than 1,000 locations"));
            }
            for location in locations.iter().chain(related) {
                let physical = &location["physicalLocation"];
                let uri = physical["artifactLocation"]["uri"].as_str().unwrap_or("");
                if uri.is_empty() || uri.starts_with('/') || uri.contains("://") {
                    violations.push(format!("{at}: uri {uri:?} is not relative"));
                }
                if !physical["artifactLocation"]["uriBaseId"].is_string() {
                    violations.push(format!("{at}: {uri} has no uriBaseId"));
                }
                let start_line = physical["region"]["startLine"].as_u64();
                if start_line.unwrap_or(0) < 1 {
                    violations.push(format!("{at}: {uri} has no region.startLine"));
                }
            }
        }
    }
    violations
}

/// The SARIF log in `text`, after checking it against the SARIF 2.1.0
/// schema and GitHub's ingestion rules; panics naming every violation.
pub fn sarif_checked(text: &str) -> serde_json::Value {
    let log: serde_json::Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("the SARIF log is not JSON ({e}):\n{text}"));
    let violations: Vec<String> = sarif_violations(&log)
        .into_iter()
        .chain(github_violations(&log))
        .collect();
    assert!(
        violations.is_empty(),
        "the SARIF log breaks the schema or GitHub's rules:\n{}\n\nlog:\n{text}",
        violations.join("\n")
    );
    log
}
