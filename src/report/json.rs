//! The JSON report: the machine-readable contract. Its layout, field by
//! field, is the repository's [`docs/report.schema.json`](https://github.com/sockcheck/sockcheck/blob/main/docs/report.schema.json);
//! [`docs/design.md`](https://github.com/sockcheck/sockcheck/blob/main/docs/design.md#the-json-report) says what it means.

use super::Report;
use std::io::{self, Write};

/// Writes `report` as pretty-printed JSON with a trailing newline.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

/// Reads a report written by [`render`] (or by another sockcheck run).
pub fn parse(text: &str) -> Result<Report, serde_json::Error> {
    serde_json::from_str(text)
}
