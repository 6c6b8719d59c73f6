//! `cargo sockcheck` from start to end: build, list, select, run, report,
//! exit status.

use crate::cargo::{self, TestBinary};
use crate::cli::{NoTests, Options, OutputWhen};
use crate::config::RunConfig;
use crate::exit::ExitStatus;
use crate::list::{self, Selection, TestCase};
use crate::no_tests;
use crate::outputs::Outputs;
use crate::progress::Reporter;
use crate::run::{Job, Runner, Settings};
use crate::stack::project::ProjectSource;
use crate::{fast, rerun, terminal};
use anyhow::Result;
use sockcheck::allow::{self, AllowSocket};
use sockcheck::policy::Policy;
use sockcheck::report::text::TextOptions;
use sockcheck::report::words::counted;
use sockcheck::report::{Outcome, Report, TestRecord};

/// `cargo sockcheck`: builds the tests, runs the selected ones under the
/// tracer and writes the report; returns the exit status.
pub fn check_tests(options: Options) -> Result<ExitStatus> {
    let text = TextOptions {
        success_output: options.success_output() == OutputWhen::Final,
        failure_output: options.failure_output() == OutputWhen::Final,
    };
    let outputs = Outputs::prepare(&options.output, &options.baseline)?.with_text(text);
    let metadata = cargo::PendingMetadata::start(options.selection.manifest_path.as_deref())?;
    let mut cargo_args = options.selection.cargo_args();
    cargo_args.push(terminal::cargo_colour_flag().to_owned());
    let (metadata, binaries) = cargo::build_tests(&cargo_args, metadata)?;
    let outputs = outputs.in_workspace(metadata.workspace_root.as_std_path());
    let config = RunConfig::load(&metadata, &options.gate)?;
    let selection = Selection {
        filters: options.filters.clone(),
        skip: options.skip.clone(),
        exact: options.exact,
        only_ignored: options.ignored,
        include_ignored: options.include_ignored,
    };
    let listed_tests = list_all(&binaries)?;
    let listed = listed_tests.len();
    let binary_of = |test: &TestCase| binaries[test.binary].name.as_str();
    let mut tests: Vec<TestCase> = listed_tests
        .iter()
        .filter(|test| selection.selects(binary_of(test), test))
        .cloned()
        .collect();
    let nearest = tests.is_empty().then(|| {
        let names = listed_tests.iter().map(|t| (binary_of(t), t.name.as_str()));
        no_tests::nearest_tests(&selection, names)
    });
    if let Some(partition) = options.partition {
        let selected = tests.len();
        tests = partition.select(tests, &binaries);
        eprintln!(
            "sockcheck: partition {partition}: {} of {selected} selected tests",
            tests.len()
        );
    }
    let (to_run, not_run): (Vec<TestCase>, Vec<TestCase>) =
        tests.into_iter().partition(|test| selection.runs(test));
    if to_run.is_empty() && options.no_tests != NoTests::Pass {
        let message = no_tests::message(
            &selection,
            options.partition.as_ref(),
            listed,
            binaries.len(),
        );
        let hints = no_tests::subcommand_hint(&selection.filters)
            .into_iter()
            .chain(nearest.flatten());
        if options.no_tests == NoTests::Fail {
            terminal::print_error(format_args!(
                "{message}; --no-tests=warn or =pass lets an empty run pass"
            ));
            for hint in hints {
                eprintln!("hint: {hint}");
            }
            return Ok(ExitStatus::NoTests);
        }
        eprintln!("sockcheck: warning: {message}");
        for hint in hints {
            eprintln!("sockcheck: hint: {hint}");
        }
    }
    if let Some(note) = config.allowed_note(&binaries, &to_run) {
        eprintln!("sockcheck: {note}");
    }

    let mut runner = Runner::new(Settings {
        jobs: options.jobs.map_or_else(default_jobs, usize::from),
        timeout: options.timeout,
        policy: config.workspace_policy().clone(),
        project: ProjectSource::from_metadata(&metadata),
        churn_threshold: options.churn_threshold.or(config.churn_threshold()),
        max_fds: options.max_fds,
    });
    let running_binaries = (0..binaries.len())
        .filter(|&index| to_run.iter().any(|test| test.binary == index))
        .count();
    eprintln!(
        "sockcheck: running {} from {} ({} at a time{})",
        counted(to_run.len(), "test"),
        counted(running_binaries, "binary"),
        runner.settings().jobs,
        if options.fast {
            ", whole binaries first"
        } else {
            ""
        }
    );
    let mut reporter = Reporter::new(
        to_run.len(),
        options.success_output(),
        options.failure_output(),
    );
    let per_test = |indices: &[usize]| -> Vec<Job<'_>> {
        indices
            .iter()
            .map(|&i| {
                let (test, binary) = (&to_run[i], &binaries[to_run[i].binary]);
                let policy = config.test_policy(binary, test);
                test_job(binary, test, &options.test_args, policy)
            })
            .collect()
    };
    let started = std::time::Instant::now();
    let mut result = if options.fast {
        let narrowed = narrowed(&selection) || options.partition.is_some();
        let whole = whole_binary_jobs(&binaries, &to_run, narrowed, &options.test_args, &config);
        fast::whole_binaries_first(
            &binaries,
            &to_run,
            whole,
            per_test,
            &mut runner,
            &mut reporter,
        )
    } else {
        let all: Vec<usize> = (0..to_run.len()).collect();
        runner.run_jobs(&per_test(&all), &mut reporter)
    };
    if options.rerun_leaks > 0 && result.fatal.is_none() && result.interrupted_by.is_none() {
        let leaking = result
            .records
            .iter()
            .flatten()
            .filter(|r| !r.leaks.is_empty());
        reporter.phase(&format!(
            "rerunning {} {} more {}",
            counted(leaking.count(), "leaking test"),
            options.rerun_leaks,
            if options.rerun_leaks == 1 {
                "time"
            } else {
                "times"
            }
        ));
        let flaky_fails = config.flaky_fails(&binaries);
        rerun::rerun_leaking(
            &mut result,
            options.rerun_leaks,
            flaky_fails,
            &mut runner,
            per_test,
        );
    }

    let took = started.elapsed();
    let mut records: Vec<TestRecord> = result.records.into_iter().flatten().collect();
    records.extend(
        not_run
            .iter()
            .map(|test| TestRecord::new(&binaries[test.binary].name, &test.name, Outcome::Ignored)),
    );
    let mut report = Report::new(records);
    report.interrupted = result.interrupted_by.is_some() || result.fatal.is_some();
    report.duration_ms = Some(u64::try_from(took.as_millis()).unwrap_or(u64::MAX));
    // Every test ran: a configured rule that matched nothing is stale.
    let full_run = !narrowed(&selection) && options.partition.is_none() && !report.interrupted;
    let allowed = report.tests.iter().flat_map(|test| &test.allowed);
    report.rules = allow::rule_uses(config.socket_rules(), allowed, full_run);
    drop(reporter);
    let rules: Vec<&AllowSocket> = config
        .workspace_policy()
        .configured_socket_rules()
        .iter()
        .collect();
    let leaks = report.tests.iter().flat_map(|test| &test.leaks);
    if let Some(note) = allow::unmatched_note(leaks, &rules) {
        eprintln!("sockcheck: note: {note}");
    }
    if let Some(note) = runner.lost_sites_note() {
        eprintln!("sockcheck: note: {note}");
    }

    let status = outputs.write(&report);
    if let Some(fatal) = result.fatal {
        return Err(
            fatal.context("the run stopped early; the report holds the tests that finished")
        );
    }
    let status = status?;
    Ok(match result.interrupted_by {
        Some(signal) => {
            eprintln!("sockcheck: interrupted by signal {signal}; running tests were killed");
            ExitStatus::Signal(signal)
        }
        None => status,
    })
}

/// The job that runs one test in its own process, as libtest would run it alone.
fn test_job<'a>(
    binary: &'a TestBinary,
    test: &'a TestCase,
    test_args: &'a [String],
    policy: &'a Policy,
) -> Job<'a> {
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
        policy: Some(policy),
    }
}

/// True when `selection` leaves out some of a binary's tests.
fn narrowed(selection: &Selection) -> bool {
    !selection.filters.is_empty()
        || !selection.skip.is_empty()
        || selection.only_ignored
        || selection.include_ignored
}

/// One job per binary that runs all its selected tests in one process, as
/// `cargo test` does. When `narrowed` (by the selection or a partition),
/// the tests are named on its command line.
fn whole_binary_jobs<'a>(
    binaries: &'a [TestBinary],
    tests: &[TestCase],
    narrowed: bool,
    test_args: &'a [String],
    config: &'a RunConfig,
) -> Vec<(usize, Job<'a>)> {
    binaries
        .iter()
        .enumerate()
        .filter_map(|(index, binary)| {
            let mine: Vec<&TestCase> = tests.iter().filter(|t| t.binary == index).collect();
            if mine.is_empty() {
                return None;
            }
            let mut args: Vec<String> = Vec::new();
            if narrowed {
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
                policy: Some(config.binary_policy(binary)),
            };
            Some((index, job))
        })
        .collect()
}

/// One test more than there are CPUs: a test spends part of its life
/// stopped, waiting for the tracer (4 stops per test), and the extra job
/// keeps the CPUs busy meanwhile. Measured in BENCHMARKS.md ("Per-test
/// overhead, step by step").
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from) + 1
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
