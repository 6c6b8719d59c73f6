//! The terminal rendering: each failing or leaking test with its leaks and
//! output, then one summary line.

use super::listing::Capped;
use super::words::counted;
use super::{Outcome, Report, TestRecord};
use std::io::{self, Write};

/// Writes the failing and leaking tests of `report`, then the summary line.
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for test in &report.tests {
        if test.leaks.is_empty() && !test.outcome.is_failure() {
            continue;
        }
        write!(out, "{:<8}{}", label(test), test.full_name())?;
        match &test.detail {
            Some(detail) => writeln!(out, " ({}: {detail})", test.outcome.name())?,
            None => writeln!(out, " ({})", test.outcome.name())?,
        }
        write_leaks(test, out)?;
        if let Some(output) = test.output.as_deref().filter(|o| !o.trim().is_empty()) {
            writeln!(out, "        --- output ---")?;
            for line in output.lines() {
                writeln!(out, "        {line}")?;
            }
        }
    }
    if report.interrupted {
        writeln!(
            out,
            "interrupted: the run was cut short; results cover finished tests only"
        )?;
    }
    writeln!(out, "{}", summary_line(report))
}

/// `LEAK`, `FAIL`, `TIMEOUT`, `CRASH` or `PASS`: the word a test gets on the terminal.
pub fn label(test: &TestRecord) -> &'static str {
    match test.outcome {
        Outcome::Failed => "FAIL",
        Outcome::TimedOut => "TIMEOUT",
        Outcome::Crashed => "CRASH",
        Outcome::Ignored => "IGNORE",
        Outcome::Passed if !test.leaks.is_empty() => "LEAK",
        Outcome::Passed => "PASS",
    }
}

/// Lists a test's leaks, indented, the first
/// [`MAX_LEAKS_LISTED`](super::listing::MAX_LEAKS_LISTED) one per line and
/// the rest counted by kind.
pub fn write_leaks(test: &TestRecord, out: &mut dyn Write) -> io::Result<()> {
    let capped = Capped::leaks(&test.leaks);
    for leak in capped.listed {
        writeln!(out, "        {leak}")?;
    }
    if let Some(more) = capped.and_more_by_kind() {
        writeln!(out, "        {more}")?;
    }
    Ok(())
}

/// `12 tests: 11 passed, 1 failed, 0 ignored; 5 leaking, 4 errors, 2 warnings`
pub fn summary_line(report: &Report) -> String {
    let s = &report.summary;
    format!(
        "sockcheck: {}: {} passed, {} failed, {} ignored; {} leaking, {}, {}",
        counted(s.tests, "test"),
        s.passed,
        s.failed,
        s.ignored,
        s.leaking_tests,
        counted(s.errors, "error"),
        counted(s.warnings, "warning")
    )
}
