//! The JSON report's contract, `docs/report.schema.json`, as the tests
//! check it: every report an end-to-end test reads goes through
//! [`parse_checked`], so a renamed, retyped or undocumented field fails the
//! test that produced it. Shared by sockcheck's tests and cargo-sockcheck's
//! (which include this file by path).

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
