//! `cargo sockcheck` from start to end: build, list, run, report, exit status.

use crate::cargo::{self, TestBinary};
use crate::cli::{Format, GateOptions, Options, OutputOptions};
use crate::exit;
use crate::list::{self, Selection, TestCase};
use crate::run::{self, Job, Settings};
use crate::{fast, rerun};
use anyhow::{Context, Result};
use sockcheck::policy::{Level, Policy};
use sockcheck::report::{self, json, text, Outcome, Report, TestRecord};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Runs `cargo sockcheck` with `options`; returns the exit status.
pub fn run(options: Options) -> Result<i32> {
    for path in options.output.report.iter() {
        check_writable(path)?;
    }
    let metadata = cargo::workspace_metadata(options.selection.manifest_path.as_deref())?;
    let policy = policy(&options.gate);
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

    let settings = Settings {
        jobs: options.jobs.map_or_else(default_jobs, usize::from),
        timeout: options.timeout,
        policy,
    };
    eprintln!(
        "sockcheck: running {} tests from {} binaries ({} at a time{})",
        to_run.len(),
        binaries.len(),
        settings.jobs,
        if options.fast {
            ", whole binaries first"
        } else {
            ""
        }
    );
    let per_test = |indices: &[usize]| -> Vec<Job<'_>> {
        indices
            .iter()
            .map(|&i| test_job(&binaries[to_run[i].binary], &to_run[i], &options.test_args))
            .collect()
    };
    let mut result = if options.fast {
        let whole = whole_binary_jobs(&binaries, &to_run, &selection, &options.test_args);
        fast::run(
            &binaries,
            &to_run,
            whole,
            per_test,
            &settings,
            &mut print_progress,
        )
    } else {
        let all: Vec<usize> = (0..to_run.len()).collect();
        run::run(&per_test(&all), &settings, &mut print_progress)
    };
    if options.rerun_leaks > 0 && result.fatal.is_none() && result.interrupted_by.is_none() {
        rerun::rerun_leaking(&mut result, options.rerun_leaks, false, &settings, per_test);
    }

    let mut records: Vec<TestRecord> = result.records.into_iter().flatten().collect();
    records.extend(
        not_run
            .iter()
            .map(|test| TestRecord::new(&binaries[test.binary].name, &test.name, Outcome::Ignored)),
    );
    let mut report = Report::new(records);
    report.interrupted = result.interrupted_by.is_some() || result.fatal.is_some();

    let written = write_outputs(&report, &options.output);
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

/// The job that runs one test in its own process, as libtest would run it alone.
fn test_job<'a>(binary: &'a TestBinary, test: &'a TestCase, test_args: &'a [String]) -> Job<'a> {
    Job {
        binary: binary.name.clone(),
        name: test.name.clone(),
        command: Box::new(move || {
            let mut command = binary.command();
            command
                .args(["--exact", &test.name, "--nocapture", "--test-threads=1"])
                .args(test.ignored.then_some("--ignored"))
                .args(test_args);
            command
        }),
        capture: true,
        libtest: true,
    }
}

/// One job per binary that runs all its selected tests in one process, as
/// `cargo test` does.
fn whole_binary_jobs<'a>(
    binaries: &'a [TestBinary],
    tests: &[TestCase],
    selection: &Selection,
    test_args: &'a [String],
) -> Vec<(usize, Job<'a>)> {
    let everything = selection.filters.is_empty()
        && selection.skip.is_empty()
        && !selection.only_ignored
        && !selection.include_ignored;
    binaries
        .iter()
        .enumerate()
        .filter_map(|(index, binary)| {
            let mine: Vec<&TestCase> = tests.iter().filter(|t| t.binary == index).collect();
            if mine.is_empty() {
                return None;
            }
            // Name the tests only when a selection narrowed them.
            let mut args: Vec<String> = Vec::new();
            if !everything {
                args.push("--exact".into());
                args.extend(mine.iter().map(|t| t.name.clone()));
                if mine.iter().any(|t| t.ignored) {
                    args.push("--include-ignored".into());
                }
            }
            let job = Job {
                binary: binary.name.clone(),
                name: String::new(),
                command: Box::new(move || {
                    let mut command = binary.command();
                    command.args(&args).args(test_args);
                    command
                }),
                capture: true,
                libtest: true,
            };
            Some((index, job))
        })
        .collect()
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

/// The policy the command line asks for.
pub fn policy(gate: &GateOptions) -> Policy {
    let mut policy = Policy::default();
    for (kinds, level) in [
        (&gate.allow, Level::Allow),
        (&gate.warn, Level::Warn),
        (&gate.deny, Level::Deny),
    ] {
        for &kind in kinds {
            policy.set_level(kind, level);
        }
    }
    if let Some(ms) = gate.linger {
        policy.set_linger(Duration::from_millis(ms));
    }
    policy
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Lists every binary's tests, all binaries at once.
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

/// Prints one finished test on stderr, with its leaks.
pub fn print_progress(record: &TestRecord) {
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
fn write_outputs(report: &Report, output: &OutputOptions) -> Result<()> {
    let mut rendered = Vec::new();
    match output.format {
        Format::Text => text::render(report, &mut rendered)?,
        Format::Json => json::render(report, &mut rendered)?,
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(&rendered).and_then(|()| stdout.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e).context("cannot write to stdout");
        }
    }
    if let Some(path) = &output.report {
        write_json_report(report, path)?;
    }
    Ok(())
}

/// Writes the JSON report to `path`, atomically.
pub fn write_json_report(report: &Report, path: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    json::render(report, &mut bytes)?;
    report::write_atomically(path, &bytes)
        .with_context(|| format!("cannot write the report to {}", path.display()))
}

/// Fails early, before any test runs, when a report could not be written
/// to `path` at the end.
pub fn check_writable(path: &Path) -> Result<()> {
    let probe = path.with_file_name(format!(".sockcheck-probe-{}", std::process::id()));
    std::fs::File::create(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .with_context(|| format!("cannot write the report to {}", path.display()))
}
