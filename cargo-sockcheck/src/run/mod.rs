//! Running tests, each in its own traced process, and reading the sockets
//! each one holds at the moment it exits.
//!
//! One thread does everything: it spawns up to `jobs` test processes, waits
//! for their ptrace stops and their output in a single `poll` (SIGCHLD
//! arrives through a signalfd), and keeps each test's process tree apart by
//! following forks. A test process stops at the entry of `exit_group` (a
//! seccomp filter installed before exec): its sockets are read there, while
//! its other threads still run, and read again until the leaks are gone or
//! the linger runs out. A process killed by a signal is read at its
//! `PTRACE_EVENT_EXIT` stop instead.

mod capture;
mod ptrace;

use anyhow::{anyhow, Context, Result};
use capture::Capture;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use ptrace::{events, Event, Pid};
use sockcheck::leak::{classify, Holder};
use sockcheck::policy::Policy;
use sockcheck::report::{Outcome, TestRecord};
use sockcheck::snapshot::process_sockets;
use sockcheck::socket::Socket;
use std::collections::{HashMap, HashSet};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
}

/// What a run produced, also when it was cut short.
pub struct RunResult {
    /// The record of each test given, in the same order; `None` for tests
    /// that did not finish.
    pub records: Vec<Option<TestRecord>>,
    /// Each job's exit status as a shell reports it (128 + N for death by
    /// signal N), in the same order; `None` for jobs that did not finish.
    pub exit_codes: Vec<Option<i32>>,
    /// The signal (SIGINT, SIGTERM) that interrupted the run, if one did.
    pub interrupted_by: Option<libc::c_int>,
    /// The error that stopped the run early, if one did.
    pub fatal: Option<anyhow::Error>,
}

/// How often a lingering test's sockets are read again.
const LINGER_POLL: Duration = Duration::from_millis(5);
/// How long killed leftovers get to disappear before the run ends anyway.
const REAP_GRACE: Duration = Duration::from_secs(5);

/// Runs `jobs`, `settings.jobs` at a time, calling `progress` as each one
/// finishes.
pub fn run(
    jobs: &[Job<'_>],
    settings: &Settings,
    progress: &mut dyn FnMut(&TestRecord),
) -> RunResult {
    let mut tracer = Tracer::new(jobs, settings);
    let fatal = tracer.run_all(progress).err();
    if fatal.is_some() {
        tracer.accepting = false;
        tracer.kill_everything();
        // Reap what is left so that nothing outlives us; the error wins either way.
        let _ = tracer.drain(progress);
    }
    RunResult {
        records: tracer.results,
        exit_codes: tracer.exit_codes,
        interrupted_by: tracer.interrupted_by,
        fatal,
    }
}

/// A test whose process is alive.
struct Running {
    test: usize,
    started: Instant,
    deadline: Option<Instant>,
    /// `None` when output is let through.
    capture: Option<Capture>,
    /// Sockets read at its exit (or at its timeout).
    sockets: Option<Vec<Socket>>,
    /// Set while the exiting thread is held for the linger.
    linger: Option<Linger>,
    timed_out: bool,
    /// Killed because the run was interrupted: not a result.
    abandoned: bool,
}

struct Linger {
    thread: Pid,
    until: Instant,
    next_look: Instant,
}

struct Tracer<'a> {
    jobs: &'a [Job<'a>],
    settings: &'a Settings,
    next_test: usize,
    /// Keyed by the test process's pid (also its process group).
    running: HashMap<Pid, Running>,
    /// Every traced thread or process → the test process it belongs to.
    owner: HashMap<Pid, Pid>,
    /// Tracees past their first stop.
    seen: HashSet<Pid>,
    /// Killed leftovers not yet reaped.
    dying: HashSet<Pid>,
    results: Vec<Option<TestRecord>>,
    exit_codes: Vec<Option<i32>>,
    interrupted_by: Option<libc::c_int>,
    /// False once the run is being stopped: no new test starts.
    accepting: bool,
}

impl<'a> Tracer<'a> {
    fn new(jobs: &'a [Job<'a>], settings: &'a Settings) -> Self {
        Tracer {
            jobs,
            settings,
            next_test: 0,
            running: HashMap::new(),
            owner: HashMap::new(),
            seen: HashSet::new(),
            dying: HashSet::new(),
            results: vec![None; jobs.len()],
            exit_codes: vec![None; jobs.len()],
            interrupted_by: None,
            accepting: true,
        }
    }

    fn run_all(&mut self, progress: &mut dyn FnMut(&TestRecord)) -> Result<()> {
        ptrace::become_subreaper().context("cannot become a child subreaper (prctl)")?;
        self.drain(progress)
    }

    /// The event loop: runs until every test has run (or the run was
    /// stopped) and every leftover is reaped, or [`REAP_GRACE`] has passed
    /// with only leftovers to wait for.
    fn drain(&mut self, progress: &mut dyn FnMut(&TestRecord)) -> Result<()> {
        let signals = Signals::block()?;
        let mut give_up = None;
        loop {
            while self.accepting
                && self.running.len() < self.settings.jobs
                && self.next_test < self.jobs.len()
            {
                self.next_test += 1;
                self.spawn(self.next_test - 1)?;
            }
            let all_started = self.next_test == self.jobs.len() || !self.accepting;
            if self.running.is_empty() && all_started {
                let now = Instant::now();
                let deadline = *give_up.get_or_insert(now + REAP_GRACE);
                if self.dying.is_empty() || now >= deadline {
                    return Ok(());
                }
            }
            self.wait(&signals, give_up)?;
            if let Some(signal) = signals.take_interrupt()? {
                self.interrupt(signal);
            }
            while let Some((pid, event)) = ptrace::next_event().context("waitpid failed")? {
                self.handle(pid, event, progress)?;
            }
            self.check_clocks()?;
        }
    }

    /// Sleeps until a child event, test output, or the next deadline.
    fn wait(&mut self, signals: &Signals, give_up: Option<Instant>) -> Result<()> {
        let now = Instant::now();
        let wakeup = self
            .running
            .values()
            .flat_map(|r| [r.deadline, r.linger.as_ref().map(|l| l.next_look)])
            .flatten()
            .chain(give_up)
            .min();
        let timeout_ms = wakeup.map_or(-1, |at| {
            // Rounded up: waking a fraction of a millisecond early would spin.
            let ms = at.saturating_duration_since(now).as_micros().div_ceil(1000);
            i32::try_from(ms).unwrap_or(i32::MAX)
        });
        let mut fds = vec![libc::pollfd {
            fd: signals.fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        fds.extend(
            self.running
                .values()
                .filter_map(|r| r.capture.as_ref()?.fd())
                .map(|fd| libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                }),
        );
        // SAFETY: fds is a valid array of pollfd of the given length.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if rc < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(error).context("poll failed");
            }
        }
        let ready: HashSet<libc::c_int> = fds[1..]
            .iter()
            .filter(|pollfd| pollfd.revents != 0)
            .map(|pollfd| pollfd.fd)
            .collect();
        for capture in self.running.values_mut().filter_map(|r| r.capture.as_mut()) {
            if capture
                .fd()
                .is_some_and(|fd| ready.contains(&fd.as_raw_fd()))
            {
                capture.read_available();
            }
        }
        Ok(())
    }

    fn spawn(&mut self, index: usize) -> Result<()> {
        let job = &self.jobs[index];
        let mut command = (job.command)();
        let program = command.get_program().to_string_lossy().into_owned();
        let reader = if job.capture {
            let (reader, writer) = std::io::pipe().context("cannot create a pipe")?;
            let stdout = writer.try_clone().context("cannot create a pipe")?;
            command.stdin(Stdio::null()).stdout(stdout).stderr(writer);
            Some(reader)
        } else {
            None
        };
        command.process_group(0);
        // SAFETY: prepare_child makes only async-signal-safe syscalls.
        unsafe { command.pre_exec(ptrace::prepare_child) };
        let child = command.spawn().map_err(|e| spawn_error(e, &program))?;
        drop(command); // closes our copies of the pipe's write end
        let pid = child.id() as Pid;
        match ptrace::wait_for(pid).context("waitpid failed")? {
            Event::Signal(libc::SIGTRAP) => {}
            other => {
                return Err(anyhow!(
                    "`{program}` did not start under the tracer ({other:?})"
                ));
            }
        }
        ptrace::set_options(pid).map_err(|e| trace_error(e, &program))?;
        ptrace::resume(pid, 0).map_err(|e| trace_error(e, &program))?;
        let capture = match reader {
            Some(reader) => Some(Capture::new(reader).context("cannot read a test's output")?),
            None => None,
        };
        let now = Instant::now();
        self.seen.insert(pid);
        self.owner.insert(pid, pid);
        self.running.insert(
            pid,
            Running {
                test: index,
                started: now,
                deadline: self.settings.timeout.map(|t| now + t),
                capture,
                sockets: None,
                linger: None,
                timed_out: false,
                abandoned: false,
            },
        );
        Ok(())
    }

    fn handle(
        &mut self,
        pid: Pid,
        event: Event,
        progress: &mut dyn FnMut(&TestRecord),
    ) -> Result<()> {
        match event {
            Event::Exited(_) | Event::Killed(_) => {
                self.seen.remove(&pid);
                self.dying.remove(&pid);
                if self.running.contains_key(&pid) {
                    self.finish(pid, event, progress);
                } else {
                    self.owner.remove(&pid);
                }
            }
            Event::Ptrace(kind) => self.on_ptrace_event(pid, kind)?,
            Event::Signal(signal) => {
                if self.seen.insert(pid) && signal == libc::SIGSTOP {
                    // The first stop of a tracee auto-attached at fork/clone.
                    resume(pid, 0);
                } else if is_stopping(signal) && ptrace::is_group_stop(pid) {
                    resume(pid, 0);
                } else {
                    resume(pid, signal);
                }
            }
        }
        Ok(())
    }

    fn on_ptrace_event(&mut self, pid: Pid, kind: libc::c_int) -> Result<()> {
        match kind {
            events::FORK | events::VFORK | events::CLONE => {
                if let (Ok(new), Some(test)) = (ptrace::event_message(pid), self.owner_of(pid)) {
                    self.owner.insert(new as Pid, test);
                }
            }
            events::SECCOMP => {
                // exit_group entry: the last moment every thread still runs.
                if let Some(test) = self.exiting_test(pid) {
                    return self.look_at_exit(test, pid, true);
                }
            }
            events::EXIT => {
                // Death by a signal skips exit_group: this is the last look.
                let status = ptrace::event_message(pid).unwrap_or(0) as libc::c_int;
                if libc::WIFSIGNALED(status) {
                    if let Some(test) = self.exiting_test(pid) {
                        return self.look_at_exit(test, pid, false);
                    }
                }
            }
            _ => {}
        }
        resume(pid, 0);
        Ok(())
    }

    /// The test a tracee belongs to. A tracee's events can be reported
    /// before the event that created it (waitpid reports newer tracees
    /// first), so one not seen yet is placed by its thread group, else by
    /// its parent process, and remembered.
    fn owner_of(&mut self, pid: Pid) -> Option<Pid> {
        let mut chain = vec![pid];
        let test = loop {
            let current = *chain.last()?;
            if let Some(&test) = self.owner.get(&current) {
                break test;
            }
            let up = match ptrace::thread_group(current)? {
                tgid if tgid != current => tgid,
                _ => ptrace::parent(current)?,
            };
            // Our own children are tests (known) or leftovers (not ours to place).
            if up <= 1 || up == std::process::id() as Pid || chain.len() > 64 {
                return None;
            }
            chain.push(up);
        };
        for tracee in chain {
            self.owner.insert(tracee, test);
        }
        Some(test)
    }

    /// The test whose process `thread` belongs to, if that process has not
    /// been looked at yet.
    fn exiting_test(&mut self, thread: Pid) -> Option<Pid> {
        let test = self.owner_of(thread)?;
        let running = self.running.get(&test)?;
        let of_test = thread == test || ptrace::thread_group(thread) == Some(test);
        (of_test && running.sockets.is_none()).then_some(test)
    }

    /// Reads the exiting test's sockets with `thread` held stopped; holds it
    /// for the linger while leaks remain and `may_linger`.
    fn look_at_exit(&mut self, test: Pid, thread: Pid, may_linger: bool) -> Result<()> {
        let Some(sockets) = sockets_of_live(test)? else {
            // Killed meanwhile (SIGKILL from outside): its end will be reported.
            return Ok(());
        };
        let running = self
            .running
            .get_mut(&test)
            .context("lost track of a test")?;
        let policy = self.jobs[running.test].policy_or(self.settings);
        let linger = policy.linger();
        let leaking = has_leaks(&sockets, policy);
        running.sockets = Some(sockets);
        if may_linger && leaking && !linger.is_zero() {
            let now = Instant::now();
            running.linger = Some(Linger {
                thread,
                until: now + linger,
                next_look: now + LINGER_POLL,
            });
        } else {
            resume(thread, 0);
        }
        Ok(())
    }

    /// Timeouts and linger polls that are due.
    fn check_clocks(&mut self) -> Result<()> {
        let now = Instant::now();
        let mut timed_out = Vec::new();
        for (&pid, running) in &mut self.running {
            if let Some(linger) = &mut running.linger {
                if now >= linger.next_look {
                    // A process killed while held keeps the sockets of the last look.
                    let looked = sockets_of_live(pid)?;
                    let vanished = looked.is_none();
                    let clean = looked.as_ref().is_some_and(|s| {
                        !has_leaks(s, self.jobs[running.test].policy_or(self.settings))
                    });
                    if let Some(sockets) = looked {
                        running.sockets = Some(sockets);
                    }
                    if clean || vanished || now >= linger.until {
                        resume(linger.thread, 0);
                        running.linger = None;
                    } else {
                        linger.next_look = now + LINGER_POLL;
                    }
                }
            }
            if running.deadline.is_some_and(|d| now >= d) && !running.timed_out {
                timed_out.push(pid);
            }
        }
        for pid in timed_out {
            let Some(running) = self.running.get_mut(&pid) else {
                continue;
            };
            running.timed_out = true;
            running.deadline = None;
            if running.sockets.is_none() {
                // The hung test is alive: what it holds now is what it leaked.
                running.sockets = process_sockets(pid as u32).ok();
            }
            self.kill_tree(pid);
        }
        Ok(())
    }

    /// Kills a test's process group and every process it started.
    fn kill_tree(&self, test: Pid) {
        ptrace::kill(-test, libc::SIGKILL);
        for (&pid, &owner) in &self.owner {
            if owner == test {
                ptrace::kill(pid, libc::SIGKILL);
            }
        }
    }

    fn interrupt(&mut self, signal: libc::c_int) {
        self.interrupted_by.get_or_insert(signal);
        self.accepting = false;
        self.kill_everything();
    }

    fn kill_everything(&mut self) {
        let tests: Vec<Pid> = self.running.keys().copied().collect();
        for test in tests {
            self.kill_tree(test);
            if let Some(running) = self.running.get_mut(&test) {
                running.abandoned = true;
            }
        }
    }

    /// The test process is gone: judge it, deal with what it left running.
    fn finish(&mut self, test: Pid, event: Event, progress: &mut dyn FnMut(&TestRecord)) {
        self.owner.remove(&test);
        let Some(running) = self.running.remove(&test) else {
            return;
        };
        let mut orphans = self.reap_orphans(test);
        // A socket the test process shared with a child is the test's leak.
        let held: HashSet<u64> = running.sockets.iter().flatten().map(|s| s.inode).collect();
        orphans.retain(|socket| !held.contains(&socket.inode));
        if running.abandoned && !running.timed_out {
            return;
        }
        let job = &self.jobs[running.test];
        let timeout = self.settings.timeout;
        let output = running.capture.map(Capture::finish);
        let harness_done = output
            .as_deref()
            .is_none_or(|o| !job.libtest || o.contains("test result: "));
        let (outcome, detail) = judge(running.timed_out, event, harness_done, timeout);
        let mut record = TestRecord::new(&job.binary, &job.name, outcome);
        record.detail = detail;
        record.duration_ms = Some(running.started.elapsed().as_millis() as u64);
        let policy = job.policy_or(self.settings);
        record.leaks = classify(running.sockets.iter().flatten(), Holder::Test, policy);
        record
            .leaks
            .extend(classify(&orphans, Holder::Descendant, policy));
        if running.sockets.is_none() && outcome != Outcome::Passed {
            let note = "its sockets could not be read: it died without an exit stop";
            record.detail = Some(
                record
                    .detail
                    .map_or(note.to_owned(), |d| format!("{d}; {note}")),
            );
        }
        if outcome.is_failure() || !record.leaks.is_empty() {
            record.output = output;
        }
        progress(&record);
        self.results[running.test] = Some(record);
        self.exit_codes[running.test] = match event {
            Event::Exited(code) => Some(code),
            Event::Killed(signal) => Some(128 + signal),
            Event::Ptrace(_) | Event::Signal(_) => None,
        };
    }

    /// Processes the finished test started that are still alive: their
    /// sockets are orphan leaks; they are killed.
    fn reap_orphans(&mut self, test: Pid) -> Vec<Socket> {
        let left: Vec<Pid> = self
            .owner
            .iter()
            .filter(|&(_, &owner)| owner == test)
            .map(|(&pid, _)| pid)
            .collect();
        let mut sockets = Vec::new();
        for pid in left {
            self.owner.remove(&pid);
            if ptrace::thread_group(pid) == Some(pid) {
                sockets.extend(process_sockets(pid as u32).unwrap_or_default());
                ptrace::kill(pid, libc::SIGKILL);
                self.dying.insert(pid);
            }
        }
        sockets
    }
}

/// The outcome of a test from how its process ended; `harness_done` is
/// false when a libtest harness never printed its closing `test result:`.
fn judge(
    timed_out: bool,
    event: Event,
    harness_done: bool,
    timeout: Option<Duration>,
) -> (Outcome, Option<String>) {
    if timed_out {
        let secs = timeout.map_or(0.0, |t| t.as_secs_f64());
        return (Outcome::TimedOut, Some(format!("timed out after {secs}s")));
    }
    match event {
        // A process that exits 0 without libtest's closing line left the
        // harness early (`process::exit` in the test).
        Event::Exited(0) if !harness_done => (
            Outcome::Failed,
            Some("exited with status 0 before the test harness reported a result".to_owned()),
        ),
        Event::Exited(0) => (Outcome::Passed, None),
        Event::Exited(101) => (Outcome::Failed, None),
        Event::Exited(code) => (Outcome::Failed, Some(format!("exit status {code}"))),
        Event::Killed(signal) => (
            Outcome::Crashed,
            Some(format!("killed by {}", signal_name(signal))),
        ),
        Event::Ptrace(_) | Event::Signal(_) => (Outcome::Failed, Some("stopped".to_owned())),
    }
}

fn signal_name(signal: libc::c_int) -> String {
    match Signal::try_from(signal) {
        Ok(known) => format!("signal {signal} ({})", known.as_str()),
        Err(_) => format!("signal {signal}"),
    }
}

/// True while `sockets` hold a leak the policy reports (error or warning):
/// what the linger waits for. Waiting for warnings too keeps their verdicts
/// from flipping when a thread closes a connection just after the test.
fn has_leaks(sockets: &[Socket], policy: &Policy) -> bool {
    !classify(sockets, Holder::Test, policy).is_empty()
}

fn is_stopping(signal: libc::c_int) -> bool {
    matches!(
        signal,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
    )
}

/// Lets a tracee go on; a tracee that vanished meanwhile will report its end.
fn resume(pid: Pid, signal: libc::c_int) {
    let _ = ptrace::resume(pid, signal);
}

/// The sockets of process `pid`, or `None` when it is gone: a process can
/// be killed from outside while it is held stopped. Any other failure
/// (no /proc, no access) is fatal.
fn sockets_of_live(pid: Pid) -> Result<Option<Vec<Socket>>> {
    match process_sockets(pid as u32) {
        Ok(sockets) => Ok(Some(sockets)),
        Err(_) if ptrace::is_dead(pid) => Ok(None),
        Err(error) => Err(anyhow!(error)),
    }
}

fn spawn_error(error: std::io::Error, program: &str) -> anyhow::Error {
    if error.raw_os_error() == Some(libc::EPERM) {
        return trace_error(error, program);
    }
    anyhow!("cannot start `{program}`: {error}")
}

fn trace_error(error: std::io::Error, program: &str) -> anyhow::Error {
    anyhow!(
        "cannot trace `{program}`: {error}. sockcheck needs ptrace: in a container, run it \
         with --cap-add=SYS_PTRACE (or a seccomp profile that allows ptrace); check \
         /proc/sys/kernel/yama/ptrace_scope"
    )
}

/// SIGCHLD, SIGINT and SIGTERM, blocked and read from a signalfd, so the
/// event loop sees them in its `poll` instead of in a handler.
struct Signals {
    fd: SignalFd,
}

impl Signals {
    fn block() -> Result<Signals> {
        let mut mask = SigSet::empty();
        for signal in [Signal::SIGCHLD, Signal::SIGINT, Signal::SIGTERM] {
            mask.add(signal);
        }
        mask.thread_block().context("cannot block signals")?;
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .context("cannot create a signalfd")?;
        Ok(Signals { fd })
    }

    fn fd(&self) -> libc::c_int {
        self.fd.as_raw_fd()
    }

    /// Reads every pending signal; returns SIGINT or SIGTERM if one came.
    fn take_interrupt(&self) -> Result<Option<libc::c_int>> {
        let mut interrupt = None;
        while let Some(info) = self.fd.read_signal().context("cannot read the signalfd")? {
            let signal = info.ssi_signo as libc::c_int;
            if signal != libc::SIGCHLD {
                interrupt.get_or_insert(signal);
            }
        }
        Ok(interrupt)
    }
}
