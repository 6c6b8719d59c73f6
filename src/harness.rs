//! A libtest-compatible test harness that fails any trial leaving a socket
//! open, for `[[test]] harness = false` targets.
//!
//! It is [libtest-mimic] with a socket check around every trial: the
//! arguments, filters, `--list`, `--exact`, `--ignored` and the output are
//! libtest-mimic's. Around each trial the harness reads this process's
//! sockets before and after; sockets the trial opened and left open are
//! classified under the [`Policy`]. Error-level leaks (CLOSE_WAIT, LISTEN by
//! default) fail the trial, naming each socket; warnings are printed to
//! stderr.
//!
//! Trials run one at a time unless `--test-threads` asks otherwise: the
//! check compares snapshots of the whole process, so a trial running beside
//! another would be blamed for its neighbour's sockets.
//!
//! With `SOCKCHECK_REPORT=PATH` in the environment, the harness also writes
//! the JSON report ([`docs/design.md`](https://github.com/sockcheck/sockcheck/blob/main/docs/design.md#the-json-report)) with
//! one record per trial that ran.
//!
//! [libtest-mimic]: https://docs.rs/libtest-mimic/0.8

use crate::check::{self, Checkpoint};
use crate::leak::LeakKind;
use crate::policy::{Level, Policy};
use crate::report::{self, Outcome, Report, TestRecord};
use std::any::Any;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub use libtest_mimic::{Arguments, Completion, Conclusion, Failed, Measurement};

/// Environment variable naming the file the JSON report is written to.
pub const REPORT_ENV: &str = "SOCKCHECK_REPORT";

type TestRunner = Box<dyn FnOnce() -> Result<Completion, Failed> + Send>;
type BenchRunner = Box<dyn FnOnce(bool) -> Result<Option<Measurement>, Failed> + Send>;

/// One test or benchmark: a name and the code to run.
///
/// The constructors and builders are those of `libtest_mimic::Trial`, so
/// moving a libtest-mimic harness over is a change of `use` line. It is a
/// type of its own because libtest-mimic keeps a trial's code private: the
/// harness has to hold it to wrap the socket check around it.
pub struct Trial {
    name: String,
    kind: String,
    ignored: bool,
    runner: Runner,
}

enum Runner {
    Test(TestRunner),
    Bench(BenchRunner),
}

impl Trial {
    /// A test that passes when `runner` returns `Ok(())`.
    pub fn test<R>(name: impl Into<String>, runner: R) -> Trial
    where
        R: FnOnce() -> Result<(), Failed> + Send + 'static,
    {
        Trial::ignorable_test(name, || runner().map(|()| Completion::Completed))
    }

    /// A test that may decide while running that it is ignored
    /// (`Ok(Completion::Ignored { .. })`).
    pub fn ignorable_test<R>(name: impl Into<String>, runner: R) -> Trial
    where
        R: FnOnce() -> Result<Completion, Failed> + Send + 'static,
    {
        Trial::new(name, Runner::Test(Box::new(runner)))
    }

    /// A benchmark; `runner` gets `test_mode`, true when it should run once
    /// without measuring (see `libtest_mimic::Trial::bench`).
    pub fn bench<R>(name: impl Into<String>, runner: R) -> Trial
    where
        R: FnOnce(bool) -> Result<Option<Measurement>, Failed> + Send + 'static,
    {
        Trial::new(name, Runner::Bench(Box::new(runner)))
    }

    fn new(name: impl Into<String>, runner: Runner) -> Trial {
        Trial {
            name: name.into(),
            kind: String::new(),
            ignored: false,
            runner,
        }
    }

    /// Sets the kind printed in brackets before the name (`test [kind] name`).
    pub fn with_kind(mut self, kind: impl Into<String>) -> Trial {
        self.kind = kind.into();
        self
    }

    /// Marks the trial ignored: it runs only with `--ignored` or `--include-ignored`.
    pub fn with_ignored_flag(mut self, ignored: bool) -> Trial {
        self.ignored = ignored;
        self
    }

    /// The trial's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The trial's kind; empty when none was set.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// True when the trial is marked ignored.
    pub fn has_ignored_flag(&self) -> bool {
        self.ignored
    }

    /// True for a test, false for a benchmark.
    pub fn is_test(&self) -> bool {
        matches!(self.runner, Runner::Test(_))
    }

    /// True for a benchmark.
    pub fn is_bench(&self) -> bool {
        !self.is_test()
    }

    /// The libtest-mimic trial running this one's code inside the check.
    fn checked(self, run: Arc<RunState>, index: usize) -> libtest_mimic::Trial {
        let name = self.name.clone();
        let trial = match self.runner {
            Runner::Test(runner) => libtest_mimic::Trial::ignorable_test(name, move || {
                run.check(index, &self.name, runner, |completion| {
                    matches!(completion, Completion::Ignored { .. })
                })
            }),
            Runner::Bench(runner) => libtest_mimic::Trial::bench(name, move |test_mode| {
                run.check(index, &self.name, || runner(test_mode), |_| false)
            }),
        };
        trial.with_kind(self.kind).with_ignored_flag(self.ignored)
    }
}

impl fmt::Debug for Trial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trial")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("ignored", &self.ignored)
            .field("bench", &self.is_bench())
            .finish_non_exhaustive()
    }
}

/// A harness with its own policy: which leak kinds fail a trial, which
/// listen ports may stay open, how long to wait for cleanup.
///
/// ```no_run
/// use sockcheck::harness::{Harness, Trial};
/// use sockcheck::leak::LeakKind;
/// use sockcheck::policy::Level;
/// use std::time::Duration;
///
/// fn main() {
///     Harness::new()
///         .allow_listen_port(8080) // the shared test server stays up on purpose
///         .level(LeakKind::Established, Level::Deny)
///         .linger(Duration::from_millis(250))
///         .main(vec![Trial::test("ping", || Ok(()))]);
/// }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Harness {
    policy: Policy,
}

impl Harness {
    /// A harness with the default policy ([`LeakKind::default_severity`],
    /// no allowed ports, [`crate::policy::DEFAULT_LINGER`]).
    pub fn new() -> Harness {
        Harness::default()
    }

    /// A harness judging leaks by the configuration `cargo sockcheck` reads
    /// for this test's package (`CARGO_MANIFEST_DIR`): `sockcheck.toml` and
    /// the `[*.metadata.sockcheck]` tables, with their includes (see
    /// [`crate::config`]); the default policy when cargo did not start the
    /// test. `allow-sockets` rules need creation stacks, which only `cargo
    /// sockcheck` has: the harness says so on stderr and cannot apply them.
    ///
    /// A configuration that cannot be read ends the process with one line
    /// on stderr and exit status 2.
    pub fn from_project_config() -> Harness {
        match check::project_policy() {
            Ok(policy) => Harness::with_policy(policy),
            Err(error) => {
                eprintln!("sockcheck: {error}");
                std::process::exit(2)
            }
        }
    }

    /// A harness judging leaks by `policy`.
    pub fn with_policy(policy: Policy) -> Harness {
        Harness { policy }
    }

    /// Sets how leaks of `kind` are treated (`Deny` fails the trial, `Warn`
    /// prints, `Allow` ignores).
    pub fn level(mut self, kind: LeakKind, level: Level) -> Harness {
        self.policy.set(kind, level);
        self
    }

    /// Lets a listener on `port` stay open after a trial.
    pub fn allow_listen_port(mut self, port: u16) -> Harness {
        self.policy.allow_listen_port(port);
        self
    }

    /// Sets how long a trial's leaks may take to go away (cleanup on other
    /// threads) before they count. Polled: a clean trial never waits.
    pub fn linger(mut self, linger: Duration) -> Harness {
        self.policy.set_linger(linger);
        self
    }

    /// The policy trials are judged by.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Parses libtest's arguments from the command line, runs `trials` and
    /// exits: 0 when all passed, 101 when one failed, 2 when the report
    /// asked for with `SOCKCHECK_REPORT` could not be written.
    pub fn main(&self, trials: Vec<Trial>) -> ! {
        let (conclusion, written) = self.run_and_report(&Arguments::from_args(), trials);
        if let Err(error) = written {
            eprintln!("{error}");
            std::process::exit(2);
        }
        conclusion.exit()
    }

    /// Runs `trials` as `args` say and returns the tally; prints libtest's
    /// output and, with `SOCKCHECK_REPORT`, writes the report (a failure to
    /// write it is printed to stderr).
    ///
    /// Unless `args.test_threads` is set, trials run one at a time, on the
    /// calling thread: see the module docs for why.
    pub fn run(&self, args: &Arguments, trials: Vec<Trial>) -> Conclusion {
        let (conclusion, written) = self.run_and_report(args, trials);
        if let Err(error) = written {
            eprintln!("{error}");
        }
        conclusion
    }

    fn run_and_report(
        &self,
        args: &Arguments,
        trials: Vec<Trial>,
    ) -> (Conclusion, Result<(), ReportError>) {
        let mut args = args.clone();
        match args.test_threads {
            // The check compares whole-process snapshots; a neighbour
            // running at the same time would have its sockets blamed on
            // this trial, or its cleanup credited to it.
            None => args.test_threads = Some(1),
            Some(n) if n > 1 && !args.list => eprintln!(
                "sockcheck: --test-threads={n}: trials running at the same time \
                 may be blamed for each other's sockets"
            ),
            Some(_) => {}
        }
        let run = Arc::new(RunState {
            policy: self.policy.clone(),
            binary: binary_name(),
            records: Mutex::new(Vec::new()),
        });
        let trials = trials
            .into_iter()
            .enumerate()
            .map(|(index, trial)| trial.checked(Arc::clone(&run), index))
            .collect();
        let conclusion = libtest_mimic::run(&args, trials);
        let written = match std::env::var_os(REPORT_ENV) {
            Some(path) if !args.list && !path.is_empty() => run.write_report(Path::new(&path)),
            _ => Ok(()),
        };
        (conclusion, written)
    }
}

/// Parses libtest's arguments, runs `trials` under the project's
/// configuration (see [`Harness::from_project_config`]) and exits with
/// libtest's status (see [`Harness::main`]).
pub fn main(trials: Vec<Trial>) -> ! {
    Harness::from_project_config().main(trials)
}

/// Runs `trials` under the project's configuration (see
/// [`Harness::from_project_config`]) as `args` say and returns the tally
/// (see [`Harness::run`]).
pub fn run(args: &Arguments, trials: Vec<Trial>) -> Conclusion {
    Harness::from_project_config().run(args, trials)
}

/// What one harness run shares between its trials.
struct RunState {
    policy: Policy,
    binary: String,
    /// A record per trial that ran, with its position in the list.
    records: Mutex<Vec<(usize, TestRecord)>>,
}

impl RunState {
    /// Runs one trial's code between two snapshots and turns error-level
    /// leaks (or a failed snapshot) into a failure of the trial.
    fn check<T>(
        &self,
        index: usize,
        name: &str,
        runner: impl FnOnce() -> Result<T, Failed>,
        is_ignored: impl FnOnce(&T) -> bool,
    ) -> Result<T, Failed> {
        let checkpoint = Checkpoint::take();
        let started = Instant::now();
        // Caught here rather than by libtest-mimic so that a panicking trial
        // is still checked, and its message kept ahead of the leaks.
        let result = panic::catch_unwind(AssertUnwindSafe(runner))
            .unwrap_or_else(|payload| Err(panic_failure(payload.as_ref())));
        let duration = started.elapsed();
        let checked = checkpoint.and_then(|c| c.leaks(&self.policy));

        let outcome = match &result {
            Ok(value) if is_ignored(value) => Outcome::Ignored,
            Ok(_) => Outcome::Passed,
            Err(_) => Outcome::Failed,
        };
        let own_failure = result.as_ref().err().map(failure_text);
        let mut record = TestRecord::new(&self.binary, name, outcome);
        record.duration_ms = Some(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX));
        record.detail = own_failure.clone();
        let sockcheck_failure = match checked {
            Ok(leaks) => {
                check::print_warnings(&leaks, Some(name));
                let message = check::failure_message(&leaks, &self.policy);
                record.leaks = leaks;
                message
            }
            Err(error) => {
                let message = format!("sockcheck: cannot check this test's sockets: {error}");
                record.detail = Some(match &own_failure {
                    Some(own) => format!("{own}\n{message}"),
                    None => message.clone(),
                });
                Some(message)
            }
        };
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((index, record));

        match sockcheck_failure {
            None => result,
            Some(message) => Err(match own_failure {
                Some(own) => format!("{own}\n\n{message}").into(),
                None => message.into(),
            }),
        }
    }

    fn write_report(&self, path: &Path) -> Result<(), ReportError> {
        let mut records =
            std::mem::take(&mut *self.records.lock().unwrap_or_else(PoisonError::into_inner));
        records.sort_by_key(|(index, _)| *index);
        let report = Report::new(records.into_iter().map(|(_, record)| record).collect());
        let mut json = Vec::new();
        report::json::render(&report, &mut json)
            .and_then(|()| report::write_atomically(path, &json))
            .map_err(|source| ReportError {
                path: path.to_owned(),
                source,
            })
    }
}

/// The report named by `SOCKCHECK_REPORT` could not be written.
#[derive(Debug)]
struct ReportError {
    path: PathBuf,
    source: io::Error,
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sockcheck: cannot write the report to {} ({REPORT_ENV}): {}",
            self.path.display(),
            self.source
        )
    }
}

/// The failure a panicking trial gets, worded as libtest-mimic words it.
fn panic_failure(payload: &(dyn Any + Send)) -> Failed {
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied());
    match text {
        Some(text) => format!("test panicked: {text}").into(),
        None => "test panicked".into(),
    }
}

fn failure_text(failed: &Failed) -> String {
    failed.message().unwrap_or("test failed").to_owned()
}

/// The test target's name as cargo reports it, for the report's `binary`.
fn binary_name() -> String {
    let exe = std::env::current_exe()
        .ok()
        .or_else(|| std::env::args_os().next().map(PathBuf::from));
    let stem = exe
        .as_deref()
        .and_then(Path::file_stem)
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    target_name(&stem).to_owned()
}

/// Strips the `-<16 hex digits>` cargo appends to test executables
/// (`net-1a2b3c4d5e6f7081` is target `net`).
fn target_name(file_stem: &str) -> &str {
    match file_stem.rsplit_once('-') {
        Some((name, hash))
            if !name.is_empty()
                && hash.len() == 16
                && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            name
        }
        _ => file_stem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names_lose_only_cargos_hash() {
        assert_eq!(target_name("net-1a2b3c4d5e6f7081"), "net");
        assert_eq!(
            target_name("harness_fixture-0123456789abcdef"),
            "harness_fixture"
        );
        assert_eq!(target_name("my-tests"), "my-tests");
        assert_eq!(target_name("harness"), "harness");
        assert_eq!(target_name("x-0123456789abcdeg"), "x-0123456789abcdeg");
        assert_eq!(target_name("-0123456789abcdef"), "-0123456789abcdef");
    }

    #[test]
    fn panic_payloads_become_libtest_mimics_message() {
        let failed = panic_failure(&String::from("boom"));
        assert_eq!(failed.message(), Some("test panicked: boom"));
        let failed = panic_failure(&"static boom");
        assert_eq!(failed.message(), Some("test panicked: static boom"));
        assert_eq!(panic_failure(&42).message(), Some("test panicked"));
    }

    #[test]
    fn the_builder_sets_the_policy() {
        let harness = Harness::new()
            .allow_listen_port(8080)
            .level(LeakKind::Udp, Level::Deny)
            .linger(Duration::from_millis(7));
        let policy = harness.policy();
        assert_eq!(policy.linger(), Duration::from_millis(7));
        assert_eq!(policy.level(LeakKind::Udp), Level::Deny);
        assert_eq!(policy.level(LeakKind::CloseWait), Level::Deny);
    }
}
