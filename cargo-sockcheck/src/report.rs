//! `cargo sockcheck report --merge A.json B.json ...`: one report from the
//! JSON reports of several runs, typically the shards of one suite split
//! with `--partition` across CI machines, rendered and gated as one run.

use crate::cli::ReportOptions;
use crate::exit::ExitStatus;
use crate::outputs::Outputs;
use crate::stack::project::workspace_root_around;
use anyhow::{anyhow, Context, Result};
use sockcheck::report::{self, json, Report};
use std::path::Path;

/// Merges the reports and writes the outputs asked for; returns the exit
/// status a run with these tests would have. When a part was interrupted its
/// tests are missing, so a result that would otherwise pass is an error.
pub fn merge_reports(options: ReportOptions) -> Result<ExitStatus> {
    // The reports' files are relative to their workspace: the one this is
    // run in, as in the shards' checkout.
    let here = std::env::current_dir().unwrap_or_default();
    let outputs = Outputs::prepare(&options.output, &options.baseline)?
        .in_workspace(&workspace_root_around(&here));
    let reports = options
        .merge
        .iter()
        .map(|path| read(path))
        .collect::<Result<Vec<Report>>>()?;
    let merged = report::merge(reports);
    warn_about_duplicates(&merged);
    let status = outputs.write(&merged)?;
    if merged.interrupted && status == ExitStatus::Error {
        eprintln!(
            "sockcheck: a merged report was cut short (interrupted), so some tests are missing: \
             run that shard again"
        );
    }
    Ok(status)
}

/// Reads one JSON report; errors name the file and fit on one line.
pub fn read(path: &Path) -> Result<Report> {
    let text = sockcheck::input::read_to_string(path)
        .with_context(|| format!("cannot read report {}", path.display()))?;
    json::parse(&text).map_err(|error| match error {
        json::ParseError::Schema(_) => anyhow!("{}: {error}", path.display()),
        _ => anyhow!(
            "{} is not a sockcheck JSON report (written by --report or --format json): {error}",
            path.display()
        ),
    })
}

/// Tests present in more than one part usually mean overlapping shards or a
/// report given twice; they are kept, and said once on stderr.
fn warn_about_duplicates(report: &Report) {
    let mut seen = std::collections::HashSet::new();
    let duplicates = report
        .tests
        .iter()
        .filter(|t| !seen.insert((t.binary.as_str(), t.name.as_str())))
        .count();
    if duplicates > 0 {
        let tests = match duplicates {
            1 => "1 test appears".to_owned(),
            n => format!("{n} tests appear"),
        };
        eprintln!(
            "sockcheck: warning: {tests} in more than one report; \
             are the shards overlapping, or a report given twice?"
        );
    }
}
