//! The JSON report: the machine-readable contract. Its layout, field by
//! field, is the repository's [`docs/report.schema.json`](https://github.com/sockcheck/sockcheck/blob/main/docs/report.schema.json);
//! [`docs/design.md`](https://github.com/sockcheck/sockcheck/blob/main/docs/design.md#the-json-report) says what it means.
//!
//! The layout only grows: fields are added, never renamed, and every field
//! added after schema 1 first appeared is optional when read, so reports of
//! older sockcheck versions still parse. A report of another `schema`
//! (a breaking change, from a newer sockcheck) is refused as such.

use super::{Report, SCHEMA};
use serde::Deserialize;
use std::fmt;
use std::io::{self, Write};

/// Writes `report` as pretty-printed JSON with a trailing newline.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    super::write_pretty_json(report, out)
}

/// Why a JSON report could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum ParseError {
    /// Not JSON, or not the layout of a report (corrupt, truncated, another file).
    Invalid(serde_json::Error),
    /// A report of a schema this sockcheck does not read.
    Schema(u32),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Invalid(e) => e.fmt(f),
            ParseError::Schema(schema) => write!(
                f,
                "report schema {schema} is not supported (this sockcheck reads schema {SCHEMA}); \
                 upgrade sockcheck"
            ),
        }
    }
}

impl std::error::Error for ParseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ParseError::Invalid(e) => Some(e),
            ParseError::Schema(_) => None,
        }
    }
}

/// Reads a report written by [`render`] (or by another sockcheck run,
/// older ones included).
pub fn parse(text: &str) -> Result<Report, ParseError> {
    // The schema first, so a newer layout is reported as such, not as corrupt.
    #[derive(Deserialize)]
    struct Schema {
        schema: u32,
    }
    let Schema { schema } = serde_json::from_str(text).map_err(ParseError::Invalid)?;
    if schema != SCHEMA {
        return Err(ParseError::Schema(schema));
    }
    serde_json::from_str(text).map_err(ParseError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Outcome;

    /// A report as the first sockcheck wrote it: no `ignored` count, no
    /// `interrupted`, no rerun stability, no creation sites.
    const FIRST_VERSION: &str = r#"{
      "schema": 1,
      "tests": [
        { "binary": "net", "name": "leaks", "outcome": "passed",
          "leaks": [ { "kind": "close-wait", "severity": "error", "protocol": "tcp",
                       "family": "ipv4", "local": "127.0.0.1:40211",
                       "remote": "127.0.0.1:8080", "state": "CLOSE_WAIT",
                       "inode": 1, "pid": 2 } ] },
        { "binary": "net", "name": "clean", "outcome": "passed", "leaks": [] }
      ],
      "summary": { "tests": 2, "passed": 2, "failed": 0, "leaking_tests": 1,
                   "errors": 1, "warnings": 0 }
    }"#;

    #[test]
    fn a_report_of_the_first_version_still_parses() {
        let report = parse(FIRST_VERSION).unwrap();
        assert_eq!(report.tests.len(), 2);
        assert_eq!(report.tests[0].outcome, Outcome::Passed);
        let leak = &report.tests[0].leaks[0];
        assert_eq!((leak.stability, &leak.opened), (None, &None));
        assert!(leak.held_by.is_empty());
        assert_eq!(report.summary.ignored, 0);
        assert!(!report.interrupted);
    }

    #[test]
    fn fields_of_later_versions_are_ignored() {
        let later = FIRST_VERSION.replace(
            r#""schema": 1,"#,
            r#""schema": 1, "written_by": {"sockcheck": "9.9.9"},"#,
        );
        assert_eq!(parse(&later).unwrap(), parse(FIRST_VERSION).unwrap());
    }

    #[test]
    fn another_schema_or_no_report_is_a_clear_error() {
        let newer = r#"{"schema": 2, "tests": "whatever"}"#;
        let err = parse(newer).unwrap_err();
        assert!(matches!(err, ParseError::Schema(2)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "report schema 2 is not supported (this sockcheck reads schema 1); upgrade sockcheck"
        );
        let baseline = r#"{"version": 1, "leaks": []}"#;
        assert!(matches!(parse(baseline), Err(ParseError::Invalid(_))));
        assert!(matches!(
            parse("{\"schema\": 1"),
            Err(ParseError::Invalid(_))
        ));
    }
}
