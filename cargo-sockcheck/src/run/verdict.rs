//! A finished test's record: its outcome from how its process ended, and
//! its leaks from the sockets read at its exit and those of the processes
//! it left running.

use super::framing;
use super::ptrace::Event;
use crate::exit::ExitStatus;
use nix::sys::signal::Signal;
use sockcheck::leak::Holder;
use sockcheck::policy::{classify, Policy};
use sockcheck::report::{Outcome, TestRecord};
use sockcheck::socket::Socket;
use std::collections::HashSet;
use std::time::Duration;

/// What the tracer knows of a test whose process is gone.
pub struct Finished {
    /// How its process ended.
    pub ended: Event,
    /// It was killed for running past the timeout.
    pub timed_out: bool,
    /// The timeout it ran under.
    pub timeout: Option<Duration>,
    /// Its output, when captured.
    pub output: Option<String>,
    /// The process is a libtest harness, which ends with `test result:`.
    pub libtest: bool,
    /// The sockets read at its exit (or at its timeout); `None` when it
    /// died without a stop to read them at.
    pub sockets: Option<Vec<Socket>>,
    /// The sockets of the processes it left running.
    pub orphans: Vec<Socket>,
    /// Why what it (or a process it left running) held could not be read,
    /// when it could not: the test is then failed as `unreadable`.
    pub unreadable: Option<String>,
    /// How long it ran.
    pub duration: Duration,
    /// How long its exit was held for the linger, when it was.
    pub lingered: Option<Duration>,
}

/// The record of test `name` of `binary`, judged by `policy`.
pub fn record(binary: &str, name: &str, finished: Finished, policy: &Policy) -> TestRecord {
    let harness_done = finished
        .output
        .as_deref()
        .is_none_or(|o| !finished.libtest || o.contains("test result: "));
    let (outcome, mut detail) = judge(
        finished.timed_out,
        finished.ended,
        harness_done,
        finished.timeout,
    );
    // A failure says why in the test's own words when it panicked.
    let panic = finished.output.as_deref().filter(|_| finished.libtest);
    if let (Some(why), Some(panic)) = (&detail, panic.and_then(|o| panic_of(o, name))) {
        detail = Some(format!("{why}; {panic}"));
    }
    let mut record = TestRecord::new(binary, name, outcome);
    record.detail = detail;
    record.duration_ms = Some(finished.duration.as_millis() as u64);
    record.linger_ms = finished.lingered.map(|d| d.as_millis() as u64);
    // A socket the test process shared with a child is the test's leak.
    let held: HashSet<u64> = finished.sockets.iter().flatten().map(|s| s.inode).collect();
    let orphans: Vec<Socket> = finished
        .orphans
        .into_iter()
        .filter(|socket| !held.contains(&socket.inode))
        .collect();
    record.leaks = classify(finished.sockets.iter().flatten(), Holder::Test, policy);
    record
        .leaks
        .extend(classify(&orphans, Holder::Descendant, policy));
    // Never a clean pass on what could not be seen.
    let unseen = match (&finished.unreadable, &finished.sockets) {
        (Some(why), _) => Some(format!("{UNREADABLE}: {why}")),
        (None, None) if matches!(finished.ended, Event::Exited(_)) && !finished.timed_out => Some(
            format!("{UNREADABLE}: it ended without a stop its sockets could be read at"),
        ),
        _ => None,
    };
    if let Some(note) = unseen {
        record.outcome = Outcome::Failed;
        record.detail = Some(
            record
                .detail
                .map_or(note.clone(), |d| format!("{d}; {note}")),
        );
    } else if finished.sockets.is_none() && outcome != Outcome::Passed {
        let note = "its sockets could not be read: it died without an exit stop";
        record.detail = Some(
            record
                .detail
                .map_or(note.to_owned(), |d| format!("{d}; {note}")),
        );
    }
    if record.outcome.is_failure() || !record.leaks.is_empty() {
        // A single test's output, without libtest's frame around it.
        record.output = match finished.output {
            Some(output) if finished.libtest && !name.is_empty() => {
                Some(framing::strip(&output, name)).filter(|o| !o.is_empty())
            }
            output => output,
        };
    }
    record
}

/// How a test's detail starts when sockcheck could not read what it held:
/// the test is failed, whatever its own outcome.
pub const UNREADABLE: &str = "unreadable";

/// How a process that `ended` so exits, as a shell reports it.
pub fn exit_status(ended: Event) -> Option<ExitStatus> {
    match ended {
        Event::Exited(code) => Some(ExitStatus::Command(code)),
        Event::Killed(signal) => Some(ExitStatus::Signal(signal)),
        Event::Ptrace(_) | Event::Signal(_) | Event::SyscallStop => None,
    }
}

/// The outcome of a test from how its process ended; `harness_done` is
/// false when a libtest harness never printed its closing `test result:`.
fn judge(
    timed_out: bool,
    ended: Event,
    harness_done: bool,
    timeout: Option<Duration>,
) -> (Outcome, Option<String>) {
    if timed_out {
        let secs = timeout.map_or(0.0, |t| t.as_secs_f64());
        return (Outcome::TimedOut, Some(format!("timed out after {secs}s")));
    }
    match ended {
        // A process that exits 0 without libtest's closing line left the
        // harness early (`process::exit` in the test).
        Event::Exited(0) if !harness_done => (
            Outcome::Failed,
            Some("exited with status 0 before the test harness reported a result".to_owned()),
        ),
        Event::Exited(0) => (Outcome::Passed, None),
        Event::Exited(code) => (Outcome::Failed, Some(format!("exit status {code}"))),
        Event::Killed(signal) => (
            Outcome::Crashed,
            Some(format!("killed by {}", signal_name(signal))),
        ),
        Event::Ptrace(_) | Event::Signal(_) | Event::SyscallStop => {
            (Outcome::Failed, Some("stopped".to_owned()))
        }
    }
}

/// At most this many characters of a panic's message go into a detail.
const PANIC_CHARS: usize = 200;

/// `panicked at FILE:LINE:COL: MESSAGE` when test `name`'s thread panicked
/// in `output`, as the panic hook prints it (`thread 'NAME' panicked at
/// FILE:LINE:COL:`, or `thread 'NAME' (TID) panicked at ...`, then the
/// message): the message's first line, cut at [`PANIC_CHARS`].
fn panic_of(output: &str, name: &str) -> Option<String> {
    let thread = format!("thread '{name}' ");
    let mut lines = output.lines();
    let at = lines.by_ref().find_map(|line| {
        let rest = &line[line.find(&thread)? + thread.len()..];
        // The thread's id, printed by newer Rusts.
        let rest = match rest.strip_prefix('(') {
            Some(id) => id.split_once(") ")?.1,
            None => rest,
        };
        rest.strip_prefix("panicked at ")?.strip_suffix(':')
    })?;
    let message = lines.next().unwrap_or("").trim_end();
    let mut cut: String = message.chars().take(PANIC_CHARS).collect();
    if cut.len() < message.len() {
        cut.push('…');
    }
    Some(format!("panicked at {at}: {cut}"))
}

fn signal_name(signal: libc::c_int) -> String {
    match Signal::try_from(signal) {
        Ok(known) => format!("signal {signal} ({})", known.as_str()),
        Err(_) => format!("signal {signal}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockcheck::leak::LeakKind;
    use sockcheck::socket::{Protocol, State};

    fn judged(ended: Event, harness_done: bool) -> (Outcome, Option<String>) {
        judge(false, ended, harness_done, None)
    }

    #[test]
    fn libtest_s_statuses_are_passed_and_failed() {
        assert_eq!(judged(Event::Exited(0), true), (Outcome::Passed, None));
        assert_eq!(
            judged(Event::Exited(101), true),
            (Outcome::Failed, Some("exit status 101".to_owned()))
        );
        assert_eq!(
            judged(Event::Exited(3), true),
            (Outcome::Failed, Some("exit status 3".to_owned()))
        );
    }

    #[test]
    fn a_panic_of_the_test_s_thread_says_why_it_failed() {
        let failed = |output: &str| {
            let finished = Finished {
                output: Some(output.to_owned()),
                ..finished(Event::Exited(101), Some(Vec::new()), Vec::new())
            };
            record("net", "t::x", finished, &Policy::default()).detail
        };
        let framed = |panic: &str| {
            format!(
                "\nrunning 1 test\ntest t::x ... {panic}\nsecond line\nnote: run with \
                 `RUST_BACKTRACE=1`\nFAILED\n\nfailures:\n\nfailures:\n    t::x\n\n\
                 test result: FAILED. 0 passed; 1 failed\n"
            )
        };
        let want = Some("exit status 101; panicked at tests/a.rs:3:5: boom".to_owned());
        assert_eq!(
            failed(&framed("thread 't::x' panicked at tests/a.rs:3:5:\nboom")),
            want
        );
        assert_eq!(
            failed(&framed(
                "thread 't::x' (4242) panicked at tests/a.rs:3:5:\nboom"
            )),
            want
        );
        // Another thread's panic did not fail the test; no panic, no words.
        let other = framed("thread 'worker' panicked at src/w.rs:1:1:\nnot this");
        assert_eq!(failed(&other), Some("exit status 101".to_owned()));
        assert_eq!(failed(&framed("")), Some("exit status 101".to_owned()));
        // A long message is cut.
        let long = "é".repeat(PANIC_CHARS + 10);
        let detail = failed(&framed(&format!(
            "thread 't::x' panicked at a.rs:1:1:\n{long}"
        )));
        let detail = detail.unwrap();
        assert!(detail.ends_with('…'), "{detail}");
        assert_eq!(detail.matches('é').count(), PANIC_CHARS);
    }

    #[test]
    fn exit_zero_before_the_harness_finished_is_a_failure() {
        let (outcome, detail) = judged(Event::Exited(0), false);
        assert_eq!(outcome, Outcome::Failed);
        assert!(detail.unwrap().contains("before the test harness reported"));
    }

    #[test]
    fn death_by_signal_is_a_crash_named_by_its_signal() {
        assert_eq!(
            judged(Event::Killed(libc::SIGSEGV), true),
            (
                Outcome::Crashed,
                Some("killed by signal 11 (SIGSEGV)".to_owned())
            )
        );
        let realtime = libc::SIGRTMIN() + 2;
        assert_eq!(
            judged(Event::Killed(realtime), true).1,
            Some(format!("killed by signal {realtime}"))
        );
    }

    #[test]
    fn a_timeout_wins_over_how_the_kill_ended_it() {
        let ended = Event::Killed(libc::SIGKILL);
        assert_eq!(
            judge(true, ended, false, Some(Duration::from_millis(1500))),
            (Outcome::TimedOut, Some("timed out after 1.5s".to_owned()))
        );
    }

    fn listener(inode: u64, pid: u32) -> Socket {
        Socket::inet(
            Protocol::Tcp,
            ([127, 0, 0, 1], 8080).into(),
            ([0, 0, 0, 0], 0).into(),
            State::Listen,
            inode,
            pid,
        )
    }

    fn finished(ended: Event, sockets: Option<Vec<Socket>>, orphans: Vec<Socket>) -> Finished {
        Finished {
            ended,
            timed_out: false,
            timeout: None,
            output: Some("secret\ntest result: ok".to_owned()),
            libtest: true,
            sockets,
            orphans,
            unreadable: None,
            duration: Duration::from_millis(12),
            lingered: Some(Duration::from_millis(5)),
        }
    }

    #[test]
    fn what_could_not_be_read_is_never_a_clean_pass() {
        let passed = record(
            "net",
            "t",
            finished(Event::Exited(0), Some(Vec::new()), Vec::new()),
            &Policy::default(),
        );
        assert_eq!(passed.outcome, Outcome::Passed);

        let unreadable = Finished {
            unreadable: Some("Permission denied".into()),
            ..finished(Event::Exited(0), Some(Vec::new()), Vec::new())
        };
        let record_of = |f| record("net", "t", f, &Policy::default());
        let judged = record_of(unreadable);
        assert_eq!(judged.outcome, Outcome::Failed);
        assert_eq!(
            judged.detail.as_deref(),
            Some("unreadable: Permission denied")
        );
        assert!(judged.output.is_some(), "a failure keeps its output");

        // Exited without any look at its sockets (no exit stop seen).
        let unseen = record_of(finished(Event::Exited(0), None, Vec::new()));
        assert_eq!(unseen.outcome, Outcome::Failed);
        assert!(
            unseen
                .detail
                .as_deref()
                .is_some_and(|d| d.starts_with("unreadable: ")),
            "{unseen:?}"
        );
        // Killed: its own outcome says it, nothing was hidden by a pass.
        let killed = record_of(finished(Event::Killed(libc::SIGKILL), None, Vec::new()));
        assert_eq!(killed.outcome, Outcome::Crashed);
    }

    #[test]
    fn a_socket_shared_with_a_child_is_the_test_s_leak_not_also_an_orphan() {
        let shared = listener(1, 10);
        let orphan = Finished {
            orphans: vec![listener(1, 11), listener(2, 11)],
            ..finished(Event::Exited(0), Some(vec![shared]), Vec::new())
        };
        let record = record("net", "t", orphan, &Policy::default());
        let kinds: Vec<(u64, LeakKind)> = record
            .leaks
            .iter()
            .map(|leak| (leak.socket.inode, leak.kind))
            .collect();
        assert_eq!(kinds, [(1, LeakKind::Listen), (2, LeakKind::Orphan)]);
        assert_eq!(record.outcome, Outcome::Passed);
        assert_eq!(record.duration_ms, Some(12));
        assert_eq!(record.linger_ms, Some(5));
        assert!(record.output.is_some(), "a leaking test keeps its output");
    }

    #[test]
    fn a_clean_pass_drops_its_output_and_a_crash_without_a_look_says_so() {
        let clean = record(
            "net",
            "t",
            finished(Event::Exited(0), Some(Vec::new()), Vec::new()),
            &Policy::default(),
        );
        assert_eq!((clean.outcome, clean.output), (Outcome::Passed, None));
        let crashed = record(
            "net",
            "t",
            finished(Event::Killed(libc::SIGKILL), None, Vec::new()),
            &Policy::default(),
        );
        assert_eq!(crashed.outcome, Outcome::Crashed);
        assert_eq!(
            crashed.detail.as_deref(),
            Some(
                "killed by signal 9 (SIGKILL); its sockets could not be read: it died \
                 without an exit stop"
            )
        );
        assert!(crashed.output.is_some());
    }

    #[test]
    fn how_a_process_ended_is_its_shell_status() {
        assert_eq!(
            exit_status(Event::Exited(101)),
            Some(ExitStatus::Command(101))
        );
        assert_eq!(
            exit_status(Event::Killed(libc::SIGTERM)),
            Some(ExitStatus::Signal(libc::SIGTERM))
        );
        assert_eq!(exit_status(Event::Signal(libc::SIGSTOP)), None);
    }
}
