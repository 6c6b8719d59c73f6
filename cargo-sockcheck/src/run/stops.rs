//! What a tracee's stop (or end) means for the tracer: `waitpid`'s raw
//! event, with the ptrace event message read where one is needed, turned
//! into a [`Stop`] the event loop acts on.
//!
//! A tracee stops at: the entry of `exit_group`, of the socket-creating
//! calls and of the port-taking ones (the seccomp filter's
//! `SECCOMP_RET_TRACE`), the exit of such a call when asked, `PTRACE_EVENT_EXIT`, fork/vfork/clone and exec events,
//! its first stop after being auto-attached, and signal deliveries and
//! group-stops, which are resumed as they would have gone untraced.

use super::ptrace::{self, events, traced, Event, Pid};

/// A tracee's stop or end, as the tracer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The tracee is gone: it exited with this status or was killed.
    Ended(Event),
    /// The first stop of a tracee auto-attached at fork or clone (its
    /// SIGSTOP); resume it without the signal.
    Attached,
    /// The tracee forked, vforked or cloned `child`; resume it.
    Spawned {
        /// The new process or thread.
        child: Pid,
    },
    /// A thread entered `exit_group`: every thread of its process still
    /// runs. It stays stopped until resumed.
    ExitGroup,
    /// A thread entered a call that creates a socket: take its stack, then
    /// resume it to the call's exit.
    SocketCall,
    /// A thread entered `bind`, `listen` or `connect`: note its arguments,
    /// then resume it to the call's exit if its result matters.
    PortCall,
    /// A thread is at the exit of the socket or port call it entered: its
    /// result names the new socket, or says whether the port was taken.
    CallReturned,
    /// A process replaced its program (`execve`).
    Exec,
    /// A thread is about to die of a signal, skipping `exit_group`: the
    /// last moment its process's fds can be read. It stays stopped until
    /// resumed.
    DyingBySignal,
    /// A thread is exiting without a signal and without having been seen
    /// at `exit_group` (only a test's main thread has this stop until its
    /// sockets are read): its process may be ending by `exit` of its last
    /// threads. It stays stopped until resumed.
    Exiting,
    /// Any other stop: resume the tracee, delivering this signal (0 for none).
    Resume(libc::c_int),
}

/// What `event` of `tracee` means. `first_stop` is asked, once, for a
/// signal stop: whether it is the tracee's first (a new tracee's SIGSTOP).
pub fn classify(tracee: Pid, event: Event, first_stop: impl FnOnce() -> bool) -> Stop {
    match event {
        Event::Exited(_) | Event::Killed(_) => Stop::Ended(event),
        Event::Signal(signal) => {
            if first_stop() && signal == libc::SIGSTOP {
                Stop::Attached
            } else {
                Stop::Resume(signal_to_deliver(signal, || ptrace::is_group_stop(tracee)))
            }
        }
        Event::Ptrace(events::FORK | events::VFORK | events::CLONE) => {
            match ptrace::event_message(tracee) {
                Ok(child) => Stop::Spawned {
                    child: child as Pid,
                },
                // The tracee vanished meanwhile; its end will be reported.
                Err(_) => Stop::Resume(0),
            }
        }
        Event::Ptrace(events::SECCOMP) => seccomp_stop(ptrace::event_message(tracee)),
        Event::SyscallStop => Stop::CallReturned,
        Event::Ptrace(events::EXEC) => Stop::Exec,
        Event::Ptrace(events::EXIT) => {
            let status = ptrace::event_message(tracee).unwrap_or(0) as libc::c_int;
            if libc::WIFSIGNALED(status) {
                Stop::DyingBySignal
            } else {
                Stop::Exiting
            }
        }
        Event::Ptrace(_) => Stop::Resume(0),
    }
}

/// What a seccomp stop with the filter's data `data` is for.
fn seccomp_stop(data: std::io::Result<libc::c_ulong>) -> Stop {
    match data.map(|data| data as u32) {
        Ok(traced::EXIT_GROUP) => Stop::ExitGroup,
        Ok(traced::CREATES_SOCKET) => Stop::SocketCall,
        Ok(traced::TAKES_PORT) => Stop::PortCall,
        // Not our filter's, or the tracee vanished meanwhile.
        _ => Stop::Resume(0),
    }
}

/// The signal to pass on when resuming a tracee stopped by `signal`: none
/// for a group-stop (resuming it is how a tracer lets the stopped tracee go
/// on), else the signal itself. `is_group_stop` is asked only for stopping
/// signals.
fn signal_to_deliver(signal: libc::c_int, is_group_stop: impl FnOnce() -> bool) -> libc::c_int {
    if is_stopping(signal) && is_group_stop() {
        0
    } else {
        signal
    }
}

fn is_stopping(signal: libc::c_int) -> bool {
    matches!(
        signal,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
    )
}

#[cfg(test)]
mod tests {
    use super::{classify, seccomp_stop, signal_to_deliver, traced, Event, Stop};

    #[test]
    fn a_new_tracee_s_first_sigstop_is_its_attach_stop() {
        let first = || true;
        assert_eq!(
            classify(1, Event::Signal(libc::SIGSTOP), first),
            Stop::Attached
        );
        let never = || panic!("only stopping signals can be group-stops");
        assert_eq!(
            classify(1, Event::Signal(libc::SIGUSR1), first),
            Stop::Resume(libc::SIGUSR1)
        );
        assert_eq!(signal_to_deliver(libc::SIGUSR1, never), libc::SIGUSR1);
    }

    #[test]
    fn group_stops_are_resumed_without_a_signal_and_deliveries_pass_on() {
        assert_eq!(signal_to_deliver(libc::SIGTSTP, || true), 0);
        assert_eq!(signal_to_deliver(libc::SIGTSTP, || false), libc::SIGTSTP);
        assert_eq!(signal_to_deliver(libc::SIGSTOP, || false), libc::SIGSTOP);
        let never = || panic!("only stopping signals can be group-stops");
        assert_eq!(
            signal_to_deliver(libc::SIGRTMIN() + 1, never),
            libc::SIGRTMIN() + 1
        );
    }

    #[test]
    fn seccomp_stops_are_told_apart_by_the_filter_s_data() {
        let data = |value: u32| Ok(libc::c_ulong::from(value));
        assert_eq!(seccomp_stop(data(traced::EXIT_GROUP)), Stop::ExitGroup);
        assert_eq!(seccomp_stop(data(traced::CREATES_SOCKET)), Stop::SocketCall);
        assert_eq!(seccomp_stop(data(traced::TAKES_PORT)), Stop::PortCall);
        assert_eq!(seccomp_stop(data(7)), Stop::Resume(0));
        let vanished = std::io::Error::from_raw_os_error(libc::ESRCH);
        assert_eq!(seccomp_stop(Err(vanished)), Stop::Resume(0));
    }

    #[test]
    fn ends_and_syscall_stops_need_no_ptrace_call() {
        assert_eq!(
            classify(1, Event::Exited(3), || unreachable!()),
            Stop::Ended(Event::Exited(3))
        );
        assert_eq!(
            classify(1, Event::Killed(9), || unreachable!()),
            Stop::Ended(Event::Killed(9))
        );
        assert_eq!(
            classify(1, Event::SyscallStop, || unreachable!()),
            Stop::CallReturned
        );
    }
}
