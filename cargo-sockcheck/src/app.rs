//! `cargo sockcheck` from start to end: build, list, run, report, exit status.

use crate::cargo::{self, TestBinary};
use crate::cli::{Format, Options};
use crate::exit;
use crate::list::{self, Selection, TestCase};
use crate::run::{self, Settings};
use anyhow::{Context, Result};
use sockcheck::policy::{Level, Policy};
use sockcheck::report::{self, json, text, Outcome, Report, TestRecord};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Runs `cargo sockcheck` with `options`; returns the exit status.
pub fn run(options: Options) -> Result<i32> {
    for path in options.report.iter() {
        check_writable(path)?;
    }
    let metadata = cargo::workspace_metadata(options.selection.manifest_path.as_deref())?;
    let policy = policy(&options);
    let binaries = cargo::build_tests(&options.selection.cargo_args(), &metadata)?;
    let selection = Selection {
        filters: options.filters.clone(),
        skip: options.skip.clone(),
        exact: options.exact,
        only_ignored: options.ignored,
        include_ignored: options.include_ignored,
    };
    let tests: Vec<TestCase> = list_all(&binaries)?
        .into_iter()
        .filter(|test| selection.selects(test))
        .collect();
    let (to_run, not_run): (Vec<TestCase>, Vec<TestCase>) =
        tests.into_iter().partition(|test| selection.runs(test));

    let jobs = options.jobs.map_or_else(default_jobs, usize::from);
    eprintln!(
        "sockcheck: running {} tests from {} binaries ({} at a time)",
        to_run.len(),
        binaries.len(),
        jobs
    );
    let settings = Settings {
        jobs,
        timeout: options.timeout.map(Duration::from_secs_f64),
        policy,
        test_args: options.test_args.clone(),
    };
    let result = run::run(&binaries, &to_run, &settings, &mut print_progress);

    let mut records: Vec<TestRecord> = result.records.into_iter().flatten().collect();
    records.extend(
        not_run
            .iter()
            .map(|test| TestRecord::new(&binaries[test.binary].name, &test.name, Outcome::Ignored)),
    );
    let mut report = Report::new(records);
    report.interrupted = result.interrupted_by.is_some() || result.fatal.is_some();

    let written = write_outputs(&report, &options);
    if let Some(fatal) = result.fatal {
        return Err(
            fatal.context("the run stopped early; the report holds the tests that finished")
        );
    }
    written?;
    Ok(match result.interrupted_by {
        Some(signal) => {
            eprintln!("sockcheck: interrupted by signal {signal}; running tests were killed");
            exit::SIGNAL_BASE + signal
        }
        None => exit_status(&report),
    })
}

/// The exit status for a finished run.
pub fn exit_status(report: &Report) -> i32 {
    if report.tests.iter().any(|t| t.outcome.is_failure()) {
        exit::TEST_FAILED
    } else if report.summary.errors > 0 {
        exit::LEAK
    } else {
        exit::CLEAN
    }
}

fn policy(options: &Options) -> Policy {
    let mut policy = Policy::default();
    for (kinds, level) in [
        (&options.allow, Level::Allow),
        (&options.warn, Level::Warn),
        (&options.deny, Level::Deny),
    ] {
        for &kind in kinds {
            policy.set_level(kind, level);
        }
    }
    policy
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Lists every binary's tests, a few binaries at a time.
fn list_all(binaries: &[TestBinary]) -> Result<Vec<TestCase>> {
    let lists: Vec<Result<Vec<TestCase>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = binaries
            .iter()
            .enumerate()
            .map(|(index, binary)| scope.spawn(move || list::list_tests(binary, index)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("listing tests panicked")))
            })
            .collect()
    });
    let mut tests = Vec::new();
    for list in lists {
        tests.extend(list?);
    }
    Ok(tests)
}

fn print_progress(record: &TestRecord) {
    let mut err = std::io::stderr().lock();
    let ms = record.duration_ms.unwrap_or(0);
    let _ = writeln!(
        err,
        "{:>8} [{:>4}.{:03}s] {}",
        text::label(record),
        ms / 1000,
        ms % 1000,
        record.full_name()
    );
    let _ = text::write_leaks(record, &mut err);
}

/// Prints the report on stdout in the chosen format and writes the report
/// files asked for. A closed stdout is not an error.
fn write_outputs(report: &Report, options: &Options) -> Result<()> {
    let mut rendered = Vec::new();
    match options.format {
        Format::Text => text::render(report, &mut rendered)?,
        Format::Json => json::render(report, &mut rendered)?,
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(&rendered).and_then(|()| stdout.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e).context("cannot write to stdout");
        }
    }
    if let Some(path) = &options.report {
        let mut bytes = Vec::new();
        json::render(report, &mut bytes)?;
        report::write_atomically(path, &bytes)
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    Ok(())
}

/// Fails early, before any test runs, when a report could not be written
/// to `path` at the end.
fn check_writable(path: &Path) -> Result<()> {
    let probe = path.with_file_name(format!(".sockcheck-probe-{}", std::process::id()));
    std::fs::File::create(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .with_context(|| format!("cannot write the report to {}", path.display()))
}
