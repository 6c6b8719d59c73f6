//! The event loop: one thread starts tests up to the job limit, sleeps in
//! one `poll` on the signalfd and the tests' output pipes until a stop, an
//! output or a deadline, acts on each stop, and ends each test with its
//! record.

use super::allowed::AllowedSockets;
use super::holders::{holding_threads, Holder};
use super::linger::{Linger, Look};
use super::look::{self, Holdings};
use super::origins;
use super::output::OutputCapture;
use super::port_holder::{self, Found};
use super::ports::{self, PortEvent, PortWatch};
use super::ptrace::{self, Event, Pid};
use super::signals::Signals;
use super::spawn::{self, Spawner};
use super::stops::{self, Stop};
use super::tree::{Proc, ProcessTree};
use super::verdict::{self, Finished};
use super::{Job, Progress, RunResult, Settings};
use crate::procinfo;
use crate::stack::capture::SiteCapture;
use crate::stack::symbolize::Symbolizer;
use anyhow::{anyhow, Context, Result};
use sockcheck::ports::{PortFinding, PortHolder, PortProblem, TestName, TimeWaitMaker};
use sockcheck::report::{Outcome, TestRecord};
use sockcheck::socket::Socket;
use std::collections::{HashMap, HashSet};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// How long killed leftovers get to disappear before the run ends anyway.
const REAP_GRACE: Duration = Duration::from_secs(5);

/// Runs `jobs`, `settings.jobs` at a time, calling `progress` as each one
/// finishes.
pub fn run_jobs(
    jobs: &[Job<'_>],
    settings: &Settings,
    symbolizer: &mut Symbolizer,
    progress: &mut dyn Progress,
) -> RunResult {
    let mut tracer = Tracer::new(jobs, settings, symbolizer);
    let fatal = tracer.start(progress).err();
    if fatal.is_some() {
        tracer.accepting = false;
        tracer.kill_everything();
        // Reap what is left so that nothing outlives us; the error wins either way.
        let _ = tracer.drain(progress);
    }
    tracer.add_shared_fixed_ports();
    RunResult {
        bound_fixed_ports: tracer.ports.fixed_port_jobs(jobs.len()),
        records: tracer.results,
        exit_statuses: tracer.exit_statuses,
        interrupted_by: tracer.interrupted_by,
        fatal,
    }
}

/// A test whose process is alive.
struct Running {
    test: usize,
    started: Instant,
    deadline: Option<Instant>,
    /// The program, until its exec stop has been seen (it is starting).
    starting: Option<String>,
    /// `None` when output is let through.
    output: Option<OutputCapture>,
    /// Sockets read at its exit (or at its timeout).
    sockets: Option<Vec<Socket>>,
    /// Set while the exiting thread is held for the linger.
    linger: Option<Linger>,
    /// Its main thread, held at its exit stop after ending without
    /// `exit_group` while other threads still ran: its fd table stays
    /// readable until the last of them is gone.
    held_exit: Option<Pid>,
    /// Why what it holds could not be read, when it could not.
    unreadable: Option<String>,
    /// How long the exit was held, once the linger is over.
    lingered: Option<Duration>,
    /// Threads blocked on one of its sockets at the last look, by inode.
    holders: HashMap<u64, Vec<Holder>>,
    /// Its sockets a rule allows by where they were created, as decided so far.
    allowed: AllowedSockets,
    timed_out: bool,
    /// Killed because the run was interrupted: not a result.
    abandoned: bool,
}

struct Tracer<'a> {
    jobs: &'a [Job<'a>],
    settings: &'a Settings,
    next_test: usize,
    /// Keyed by the test process's pid (also its process group).
    running: HashMap<Pid, Running>,
    tree: ProcessTree,
    spawner: Spawner,
    /// Where each test's sockets, processes and threads were created.
    sites: SiteCapture,
    /// What each test did with ports.
    ports: PortWatch,
    /// New tracees held at their first stop until the event that created
    /// them is seen: a thread must not make a socket before the tracer
    /// knows which thread spawned it.
    awaiting_creation: HashSet<Pid>,
    /// Names the creation sites of leaks, caching each binary's debug info.
    symbolizer: &'a mut Symbolizer,
    results: Vec<Option<TestRecord>>,
    exit_statuses: Vec<Option<crate::exit::ExitStatus>>,
    interrupted_by: Option<libc::c_int>,
    /// False once the run is being stopped: no new test starts.
    accepting: bool,
}

impl<'a> Tracer<'a> {
    fn new(jobs: &'a [Job<'a>], settings: &'a Settings, symbolizer: &'a mut Symbolizer) -> Self {
        Tracer {
            jobs,
            settings,
            next_test: 0,
            running: HashMap::new(),
            tree: ProcessTree::new(std::process::id() as Pid),
            spawner: Spawner::new(settings.max_fds),
            sites: SiteCapture::new(),
            ports: PortWatch::new(settings.jobs, settings.churn_threshold),
            awaiting_creation: HashSet::new(),
            symbolizer,
            results: vec![None; jobs.len()],
            exit_statuses: vec![None; jobs.len()],
            interrupted_by: None,
            accepting: true,
        }
    }

    fn start(&mut self, progress: &mut dyn Progress) -> Result<()> {
        ptrace::become_subreaper().context("cannot become a child subreaper (prctl)")?;
        self.drain(progress)
    }

    /// The event loop: runs until every test has run (or the run was
    /// stopped) and every leftover is reaped, or [`REAP_GRACE`] has passed
    /// with only leftovers to wait for.
    fn drain(&mut self, progress: &mut dyn Progress) -> Result<()> {
        let signals = Signals::block()?;
        let mut give_up = None;
        loop {
            while self.accepting
                && self.running.len() < self.settings.jobs
                && self.next_test < self.jobs.len()
            {
                self.next_test += 1;
                self.spawn(self.next_test - 1)?;
                let job = &self.jobs[self.next_test - 1];
                progress.started(&job.binary, &job.name);
            }
            let all_started = self.next_test == self.jobs.len() || !self.accepting;
            if self.running.is_empty() && all_started {
                let now = Instant::now();
                let deadline = *give_up.get_or_insert(now + REAP_GRACE);
                if !self.tree.has_dying() || now >= deadline {
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
            .flat_map(|r| [r.deadline, r.linger.as_ref().map(Linger::next_look)])
            .flatten()
            .chain(give_up)
            .min();
        let timeout_ms = wakeup.map_or(-1, |at| poll_timeout_ms(at.saturating_duration_since(now)));
        let mut fds = vec![libc::pollfd {
            fd: signals.fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        fds.extend(
            self.running
                .values()
                .filter_map(|r| r.output.as_ref()?.fd())
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
        for output in self.running.values_mut().filter_map(|r| r.output.as_mut()) {
            if output
                .fd()
                .is_some_and(|fd| ready.contains(&fd.as_raw_fd()))
            {
                output.read_available();
            }
        }
        Ok(())
    }

    fn spawn(&mut self, index: usize) -> Result<()> {
        let started = self.spawner.start(&self.jobs[index])?;
        let now = Instant::now();
        self.tree.add_test(started.pid);
        self.sites.started(started.pid, self.jobs[index].libtest);
        self.ports.started(started.pid, index);
        self.running.insert(
            started.pid,
            Running {
                test: index,
                started: now,
                deadline: self.settings.timeout.map(|t| now + t),
                starting: Some(started.program),
                output: started.output,
                sockets: None,
                linger: None,
                held_exit: None,
                unreadable: None,
                lingered: None,
                holders: HashMap::new(),
                allowed: AllowedSockets::default(),
                timed_out: false,
                abandoned: false,
            },
        );
        Ok(())
    }

    fn handle(&mut self, pid: Pid, event: Event, progress: &mut dyn Progress) -> Result<()> {
        let starting = self.running.get_mut(&pid).and_then(|r| r.starting.take());
        if let Some(program) = starting {
            match event {
                // Its exec stop: from here on it is traced like any test.
                Event::Signal(libc::SIGTRAP) => return spawn::finish_start(pid, &program),
                // Killed before (the run was interrupted): ends as usual.
                Event::Exited(_) | Event::Killed(_) => {}
                other => {
                    return Err(anyhow!(
                        "`{program}` did not start under the tracer ({other:?})"
                    ))
                }
            }
        }
        match stops::classify(pid, event, || self.tree.first_stop(pid)) {
            Stop::Ended(ended) => {
                self.tree.ended(pid);
                self.sites.ended(pid);
                self.awaiting_creation.remove(&pid);
                if self.running.contains_key(&pid) {
                    self.finish(pid, ended, progress);
                }
            }
            Stop::Attached if !self.tree.is_placed(pid) => {
                // Reported before the event that created it: it waits for it.
                self.awaiting_creation.insert(pid);
            }
            Stop::Attached => attach(pid),
            Stop::Spawned { child } => {
                self.tree.adopt(pid, child, &Proc);
                if let Some(test) = self.tree.owner_of(pid, &Proc) {
                    self.sites.spawned(test, pid, child);
                }
                if self.awaiting_creation.remove(&child) {
                    attach(child);
                }
                resume(pid, 0);
            }
            Stop::SocketCall => {
                let test = self.tree.owner_of(pid, &Proc);
                if test.is_some_and(|test| self.sites.socket_call(test, pid)) {
                    resume_to_syscall_exit(pid);
                } else {
                    resume(pid, 0);
                }
            }
            Stop::PortCall => {
                let test = self.tree.owner_of(pid, &Proc);
                if test.is_some_and(|test| self.ports.entered(test, pid)) {
                    resume_to_syscall_exit(pid);
                } else {
                    resume(pid, 0);
                }
            }
            Stop::CallReturned => {
                if let Some(new) = self.sites.socket_call_returned(pid) {
                    self.ports.created(&new, pid);
                }
                if let Some(event) = self.ports.returned(pid) {
                    self.port_event(pid, event);
                }
                resume(pid, 0);
            }
            Stop::Exec => {
                self.sites.exec(pid);
                resume(pid, 0);
            }
            // exit_group entry: the last moment every thread still runs.
            Stop::ExitGroup => self.look_at_exit(pid, true)?,
            // Death by a signal skips exit_group: this is the last look.
            Stop::DyingBySignal => self.look_at_exit(pid, false)?,
            // Only a test's main thread still has this stop, and only until
            // its sockets are read: its process is ending without
            // exit_group (`exit` of its last threads, or exit_group
            // refused by a filter of the test's own).
            Stop::Exiting => self.look_at_exit_without_exit_group(pid),
            Stop::Resume(signal) => resume(pid, signal),
        }
        Ok(())
    }

    /// A port call of `thread` (stopped at its exit) needs the run's view:
    /// who held the address, what the run holds in TIME_WAIT, the call's
    /// stack.
    fn port_event(&mut self, thread: Pid, event: PortEvent) {
        match event {
            PortEvent::InUse {
                test,
                syscall,
                address,
                protocol,
            } => {
                let running: Vec<Pid> = self.running.keys().copied().collect();
                let tree = &mut self.tree;
                let found =
                    port_holder::find(&address, protocol, thread, &running, &self.sites, |pid| {
                        tree.owner_of(pid, &Proc)
                    });
                let held_by = match found {
                    Found::Test { test: holder, call } => {
                        let opened = call.map(|call| origins::origin(&call, self.symbolizer));
                        match self.ports.job_of(holder) {
                            Some(_) if holder == test => PortHolder::SameTest { opened },
                            Some(job) => PortHolder::Test {
                                test: self.test_name(job),
                                opened,
                            },
                            None => PortHolder::Unknown,
                        }
                    }
                    Found::StaleFile(file) => PortHolder::StaleSocketFile {
                        left_by: self.ports.made_by(file).map(|job| self.test_name(job)),
                    },
                    Found::Outside(holder) | Found::Nobody(holder) => holder,
                };
                let call = self.call_origin(test, thread, syscall);
                let fixed = address.inet().filter(|address| address.port() != 0);
                if let Some(fixed) = fixed.filter(|_| syscall == "bind") {
                    self.ports
                        .fixed_bind(test, fixed, protocol, call.clone(), false);
                }
                let mut finding = PortFinding::new(PortProblem::AddressInUse {
                    address: address.to_string(),
                    held_by,
                });
                finding.call = call;
                self.ports.add(test, finding);
            }
            PortEvent::NotAvailable { test, address } => {
                let (time_wait, by_job) = self.ports.time_wait_census();
                let made_by = by_job
                    .into_iter()
                    .map(|(job, entries)| TimeWaitMaker::new(self.test_name(job), entries))
                    .collect();
                let mut finding = PortFinding::new(PortProblem::AddressNotAvailable {
                    address: address.to_string(),
                    time_wait,
                    made_by,
                });
                finding.call = self.call_origin(test, thread, "connect");
                self.ports.add(test, finding);
            }
            PortEvent::FixedBind {
                test,
                address,
                protocol,
            } => {
                let call = self.call_origin(test, thread, "bind");
                self.ports.fixed_bind(test, address, protocol, call, true);
            }
        }
    }

    /// The stack of `syscall`, where `thread` of `test` is stopped now,
    /// symbolized.
    fn call_origin(
        &mut self,
        test: Pid,
        thread: Pid,
        syscall: &'static str,
    ) -> Option<sockcheck::site::Origin> {
        let call = self.sites.call_now(test, thread, syscall)?;
        Some(origins::origin(&call, self.symbolizer))
    }

    /// Job `job`'s test, by name.
    fn test_name(&self, job: usize) -> TestName {
        let job = &self.jobs[job];
        TestName::new(&job.binary, &job.name)
    }

    /// Adds the `fixed-port-shared` findings of the run to the records of
    /// the tests they concern.
    fn add_shared_fixed_ports(&mut self) {
        for (job, finding) in self.ports.shared_fixed_ports(|job| self.test_name(job)) {
            let policy = self.jobs[job].policy_or(self.settings);
            if let Some(record) = self.results[job].as_mut() {
                record
                    .port_findings
                    .extend(policy.judge_port_findings(vec![finding]));
            }
        }
    }

    /// The test whose process `thread` belongs to, if that process has not
    /// been looked at yet.
    fn exiting_test(&mut self, thread: Pid) -> Option<Pid> {
        let test = self.tree.test_of_thread(thread, &Proc)?;
        let running = self.running.get(&test)?;
        running.sockets.is_none().then_some(test)
    }

    /// `thread` is stopped on its way out: when it is the first of a test's
    /// own process to be, reads the test's sockets and holds the thread for
    /// the linger while leaks remain and `may_linger`; else resumes it.
    fn look_at_exit(&mut self, thread: Pid, may_linger: bool) -> Result<()> {
        let Some(test) = self.exiting_test(thread) else {
            resume(thread, 0);
            return Ok(());
        };
        let running = self
            .running
            .get_mut(&test)
            .context("lost track of a test")?;
        let sockets = match look::sockets_of(test) {
            Holdings::Sockets(sockets) => sockets,
            // Killed meanwhile (SIGKILL from outside): its end will be reported.
            Holdings::Gone => return Ok(()),
            Holdings::Unreadable(why) => {
                running.unreadable = Some(why);
                running.sockets = Some(Vec::new());
                release(test, thread);
                return Ok(());
            }
        };
        let policy = self.jobs[running.test].policy_or(self.settings);
        let sites = self.sites.of(test);
        let leaking = running
            .allowed
            .lingers_for(&sockets, policy, sites, self.symbolizer);
        running.sockets = Some(sockets);
        running.linger = Linger::hold(thread, may_linger, leaking, policy.linger(), Instant::now());
        if running.linger.is_none() {
            if leaking {
                running.look_for_holders(test, &self.sites);
            }
            release(test, thread);
        }
        Ok(())
    }

    /// The main thread of a test is at its exit stop without `exit_group`
    /// (see [`Stop::Exiting`]): its sockets are read now, and read again
    /// once its other threads are gone, the main thread held at this stop
    /// meanwhile so that its fd table stays readable.
    fn look_at_exit_without_exit_group(&mut self, thread: Pid) {
        // Ended by another thread's exec: the process goes on as the new
        // program, whose own exit is the one to read.
        let test = self
            .exiting_test(thread)
            .filter(|&test| !procinfo::is_execing(test));
        let sites = &self.sites;
        let Some((test, running)) = test.and_then(|t| Some((t, self.running.get_mut(&t)?))) else {
            resume(thread, 0);
            return;
        };
        running.look(test);
        running.look_for_holders(test, sites);
        if procinfo::threads(test).is_some_and(|threads| threads > 1) {
            running.held_exit = Some(thread);
        } else {
            resume(thread, 0);
        }
    }

    /// Timeouts and linger looks that are due.
    fn check_clocks(&mut self) -> Result<()> {
        let now = Instant::now();
        let mut timed_out = Vec::new();
        for (&pid, running) in &mut self.running {
            if let Some(linger) = running.linger.as_mut().filter(|l| l.is_due(now)) {
                // A process killed while held keeps the sockets of the last look.
                let look = match look::sockets_of(pid) {
                    Holdings::Gone => Look::Vanished,
                    Holdings::Unreadable(why) => {
                        running.unreadable = Some(why);
                        Look::Vanished
                    }
                    Holdings::Sockets(sockets) => {
                        let policy = self.jobs[running.test].policy_or(self.settings);
                        let sites = self.sites.of(pid);
                        let leaking =
                            running
                                .allowed
                                .lingers_for(&sockets, policy, sites, self.symbolizer);
                        running.sockets = Some(sockets);
                        if leaking {
                            Look::Leaking
                        } else {
                            Look::Clean
                        }
                    }
                };
                if linger.release_after(look, now) {
                    let thread = linger.thread;
                    running.lingered = Some(linger.held(now));
                    running.linger = None;
                    if look == Look::Leaking {
                        running.look_for_holders(pid, &self.sites);
                    }
                    release(pid, thread);
                }
            }
            let others_gone = || procinfo::threads(pid).is_none_or(|threads| threads <= 1);
            if let Some(main_thread) = running.held_exit.filter(|_| others_gone()) {
                // The last of its other threads is gone: the final look.
                running.held_exit = None;
                running.look(pid);
                resume(main_thread, 0);
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
            if running.sockets.is_none() || running.held_exit.is_some() {
                // The hung test is alive: what it holds now is what it leaked.
                running.look(pid);
            }
            running.look_for_holders(pid, &self.sites);
            self.kill_tree(pid);
        }
        Ok(())
    }

    /// Kills a test's process group and every process it started.
    fn kill_tree(&mut self, test: Pid) {
        self.tree.place_unplaced(&Proc);
        ptrace::kill(-test, libc::SIGKILL);
        for tracee in self.tree.members(test) {
            ptrace::kill(tracee, libc::SIGKILL);
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
    fn finish(&mut self, test: Pid, ended: Event, progress: &mut dyn Progress) {
        let Some(running) = self.running.remove(&test) else {
            return;
        };
        let (orphans, unreadable_orphan) = self.reap_orphans(test);
        if running.abandoned && !running.timed_out {
            return;
        }
        let job = &self.jobs[running.test];
        let held_at_exit = running.sockets.as_ref().map_or(0, Vec::len);
        let (usage, mut port_findings) = self.ports.finish(test, held_at_exit);
        let finished = Finished {
            ended,
            timed_out: running.timed_out,
            timeout: self.settings.timeout,
            output: running.output.map(OutputCapture::finish),
            libtest: job.libtest,
            sockets: running.sockets,
            orphans,
            unreadable: running.unreadable.or(unreadable_orphan),
            duration: running.started.elapsed(),
            lingered: running.lingered,
        };
        let policy = job.policy_or(self.settings);
        let mut record = verdict::record(&job.binary, &job.name, finished, policy);
        if record.outcome == Outcome::Passed {
            port_findings.retain(|finding| !ports::explains_a_failure(finding.kind()));
        }
        record.ports = usage;
        record.port_findings = policy.judge_port_findings(port_findings);
        let mut allowed = running.allowed;
        allowed.restore_at_exit(&mut record);
        let sites = self.sites.take(test);
        origins::annotate(
            &mut record.leaks,
            test,
            &sites,
            &running.holders,
            self.symbolizer,
        );
        allowed.set_aside(&mut record, policy, &sites, self.symbolizer);
        progress.finished(&record);
        self.results[running.test] = Some(record);
        self.exit_statuses[running.test] = verdict::exit_status(ended);
    }

    /// Processes the finished test started that are still alive: their
    /// sockets are orphan leaks; they are killed. Also says why one of
    /// them could not be read, if one could not.
    fn reap_orphans(&mut self, test: Pid) -> (Vec<Socket>, Option<String>) {
        let mut sockets = Vec::new();
        let mut unreadable = None;
        for process in self.tree.take_leftovers(test, &Proc) {
            match look::sockets_of(process) {
                Holdings::Sockets(held) => sockets.extend(held),
                Holdings::Gone => {}
                Holdings::Unreadable(why) => {
                    unreadable.get_or_insert(format!("leftover process {process}: {why}"));
                }
            }
            ptrace::kill(process, libc::SIGKILL);
            self.tree.mark_dying(process);
        }
        (sockets, unreadable)
    }
}

impl Running {
    /// Reads what test process `test` holds now into `sockets` (or why it
    /// cannot be read into `unreadable`); a process gone keeps the last look.
    fn look(&mut self, test: Pid) {
        match look::sockets_of(test) {
            Holdings::Sockets(sockets) => self.sockets = Some(sockets),
            Holdings::Gone => {}
            Holdings::Unreadable(why) => {
                self.unreadable = Some(why);
                self.sockets.get_or_insert_with(Vec::new);
            }
        }
    }

    /// Notes the threads of test process `test`, stopped or hung with
    /// leaks, that are blocked on one of the sockets of the last look:
    /// read before it is let go, while they are still where they were.
    fn look_for_holders(&mut self, test: Pid, sites: &SiteCapture) {
        let inodes = self.sockets.iter().flatten().map(|s| s.inode).collect();
        self.holders =
            holding_threads(test, &inodes, |thread| sites.thread_spawns(thread).cloned());
    }
}

/// A poll timeout in milliseconds for a wait of `wait`, rounded up: waking
/// a fraction of a millisecond early would spin.
fn poll_timeout_ms(wait: Duration) -> libc::c_int {
    let ms = wait.as_micros().div_ceil(1000);
    libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
}

/// Lets the thread of `test` held at `exit_group` go on, its sockets read:
/// the leader's exit stop would only ask again (see [`ptrace::drop_exit_stop`]).
fn release(test: Pid, thread: Pid) {
    if thread == test {
        let _ = ptrace::drop_exit_stop(thread);
    }
    resume(thread, 0);
}

/// Lets a new thread or process of a test go on from its first stop: the
/// leader's exit stop is the one that matters.
fn attach(pid: Pid) {
    let _ = ptrace::drop_exit_stop(pid);
    resume(pid, 0);
}

/// Lets a tracee go on; a tracee that vanished meanwhile will report its end.
fn resume(pid: Pid, signal: libc::c_int) {
    let _ = ptrace::resume(pid, signal);
}

/// Lets a tracee at a system call's entry go on to its exit stop; one that
/// vanished meanwhile will report its end.
fn resume_to_syscall_exit(pid: Pid) {
    let _ = ptrace::resume_to_syscall_exit(pid);
}

#[cfg(test)]
mod tests {
    use super::poll_timeout_ms;
    use std::time::Duration;

    #[test]
    fn poll_timeouts_round_up_so_the_loop_never_wakes_early() {
        assert_eq!(poll_timeout_ms(Duration::ZERO), 0);
        assert_eq!(poll_timeout_ms(Duration::from_micros(1)), 1);
        assert_eq!(poll_timeout_ms(Duration::from_micros(4_001)), 5);
        assert_eq!(
            poll_timeout_ms(Duration::from_secs(1 << 40)),
            libc::c_int::MAX
        );
    }
}
