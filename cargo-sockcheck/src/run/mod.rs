//! Running tests, each in its own traced process, and reading the sockets
//! each one holds at the moment it exits.
//!
//! One thread does everything: it spawns up to `jobs` test processes, waits
//! for their ptrace stops and their output in a single `poll` (SIGCHLD
//! arrives through a signalfd), and keeps each test's process tree apart by
//! following forks. A test process stops at the entry of `exit_group` (a
//! seccomp filter installed before exec): its sockets are read there, while
//! its other threads still run, and read again until the leaks are gone or
//! the linger runs out. A process killed by a signal, or ending without
//! `exit_group`, is read at its main thread's `PTRACE_EVENT_EXIT` stop
//! instead; one that cannot be read is failed as `unreadable`.
//!
//! The parts, one module each: `spawn` starts a test process traced,
//! `stops` tells what a ptrace stop means, `tree` keeps each test's
//! processes and threads, `linger` decides how long an exiting test is
//! held, `verdict` turns a finished test into its record, and
//! `event_loop` drives them all; `output` keeps a test's output and
//! `framing` takes libtest's lines off it, `look` reads what a test process
//! holds (or why it cannot), `holders` finds the threads
//! blocked on a leaked socket, `ports` follows what each test does with
//! ports (`bind`, `listen`, `connect`, sockets by sort, TIME_WAIT left),
//! `port_holder` finds who held an address a bind found taken, reading
//! the kernel's socket table through `inet_diag`, `origins` tells each leak where it was
//! opened (from `stack::capture`'s records), `allowed` decides which leaks
//! an allow-sockets rule allows by their stack (not waited for, set aside),
//! `signals` reads SIGCHLD/SIGINT/SIGTERM, `ptrace` wraps the syscalls.

mod allowed;
mod event_loop;
mod framing;
mod holders;
mod inet_diag;
mod linger;
mod look;
mod origins;
mod output;
mod port_holder;
mod ports;
mod ptrace;
mod signals;
mod spawn;
mod stops;
mod tree;
mod verdict;

use crate::exit::ExitStatus;
use crate::stack::project::ProjectSource;
use crate::stack::symbolize::Symbolizer;
use sockcheck::policy::Policy;
use sockcheck::report::TestRecord;
use std::process::Command;
use std::time::Duration;

/// One process to run under the tracer: a test, a whole test binary, or any
/// command (`cargo sockcheck exec`).
pub struct Job<'a> {
    /// Names the record: the test binary's target name.
    pub binary: String,
    /// Names the record: the test's name.
    pub name: String,
    /// Builds the command to run (program, arguments, environment, directory).
    pub command: Box<dyn Fn() -> Command + 'a>,
    /// Capture stdout and stderr (a test), or let them through (a runner).
    pub capture: bool,
    /// The process is a libtest harness, which ends a run with `test result:`.
    pub libtest: bool,
    /// Judges this job's sockets instead of [`Settings::policy`] (a
    /// package's own configuration, an allowed test).
    pub policy: Option<&'a Policy>,
}

impl Job<'_> {
    /// The policy this job is judged by.
    fn policy_or<'s>(&'s self, settings: &'s Settings) -> &'s Policy {
        self.policy.unwrap_or(&settings.policy)
    }
}

/// How to run the tests.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Tests running at once.
    pub jobs: usize,
    /// Kill a test after this long.
    pub timeout: Option<Duration>,
    /// Which sockets are leaks, and the linger.
    pub policy: Policy,
    /// The project's own source: where a leak's site is looked for.
    pub project: ProjectSource,
    /// Connections closed first by one test above which it is warned of
    /// port churn; `None`: the default for the ephemeral range and `jobs`.
    pub churn_threshold: Option<u64>,
    /// The descriptor limit (`RLIMIT_NOFILE`) each test runs with; `None`:
    /// the one sockcheck has.
    pub max_fds: Option<u64>,
}

/// What a run produced, also when it was cut short.
pub struct RunResult {
    /// The record of each test given, in the same order; `None` for tests
    /// that did not finish.
    pub records: Vec<Option<TestRecord>>,
    /// How each job's process ended ([`ExitStatus::Command`] with its exit
    /// status, or [`ExitStatus::Signal`]), in the same order; `None` for
    /// jobs that did not finish.
    pub exit_statuses: Vec<Option<ExitStatus>>,
    /// Per job, in the same order: whether it bound (or tried to bind) a
    /// fixed port. The tests of one job (a whole binary) are not told apart:
    /// two of them binding the same port are not `fixed-port-shared`.
    pub bound_fixed_ports: Vec<bool>,
    /// The signal (SIGINT, SIGTERM) that interrupted the run, if one did.
    pub interrupted_by: Option<libc::c_int>,
    /// The error that stopped the run early, if one did.
    pub fatal: Option<anyhow::Error>,
}

/// What the tracer tells as a run goes on. A closure taking each finished
/// record is one; so is the terminal's reporter, which also shows what runs.
pub trait Progress {
    /// The job of `binary`'s test `name` started.
    fn started(&mut self, binary: &str, name: &str) {
        let _ = (binary, name);
    }

    /// A job finished with `record`.
    fn finished(&mut self, record: &TestRecord);
}

impl<F: FnMut(&TestRecord)> Progress for F {
    fn finished(&mut self, record: &TestRecord) {
        self(record);
    }
}

/// Runs jobs under the tracer, as often as an invocation needs (`--fast`'s
/// two passes, `--rerun-leaks`' rounds): what it learns about a binary's
/// debug info to name creation sites is kept from one run to the next.
pub struct Runner {
    settings: Settings,
    symbolizer: Symbolizer,
}

impl Runner {
    /// A runner with these settings and nothing symbolized yet.
    pub fn new(settings: Settings) -> Runner {
        let symbolizer = Symbolizer::new(settings.project.clone());
        Runner {
            settings,
            symbolizer,
        }
    }

    /// How it runs tests.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Runs `jobs` under the tracer, `settings.jobs` at a time, telling
    /// `progress` as each one starts and finishes.
    pub fn run_jobs(&mut self, jobs: &[Job<'_>], progress: &mut dyn Progress) -> RunResult {
        event_loop::run_jobs(jobs, &self.settings, &mut self.symbolizer, progress)
    }

    /// What to say once when sites were looked for in a build made in
    /// another checkout whose files are gone (see
    /// [`Symbolizer::lost_sites_note`]).
    pub fn lost_sites_note(&self) -> Option<String> {
        self.symbolizer.lost_sites_note()
    }
}
