//! The JSON report: the machine-readable contract (see DESIGN.md).

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
