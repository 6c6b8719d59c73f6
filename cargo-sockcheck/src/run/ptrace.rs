//! The few ptrace, wait and seccomp calls the tracer needs, as thin safe
//! wrappers over libc (nix's `Signal` cannot carry real-time signals, which
//! a tracer must pass through untouched).

use crate::stack::syscalls::{CREATING_SOCKETS, TAKING_PORTS};
use std::io;

/// A process or thread id.
pub type Pid = libc::pid_t;

/// Options set on every test process; tracees they start inherit them.
const OPTIONS: libc::c_int = libc::PTRACE_O_TRACEEXIT
    | libc::PTRACE_O_EXITKILL
    | libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC
    // A syscall-exit stop (asked for after a socket call's seccomp stop)
    // reports SIGTRAP | 0x80, so it cannot pass for a real SIGTRAP.
    | libc::PTRACE_O_TRACESYSGOOD;

/// In the child, before exec: become traced by the parent and make
/// `exit_group`, the socket-creating calls and the port-taking ones stop
/// for the tracer (seccomp
/// `SECCOMP_RET_TRACE`); refuse the ways out of the trace (see
/// [`tracing_filter`]).
///
/// # Safety
///
/// Call only in a child between `fork` and `exec` (a `pre_exec` hook): it
/// makes the calling process a tracee of its parent and installs a seccomp
/// filter for good, which would trap the caller itself anywhere else. It
/// makes only async-signal-safe syscalls and does not allocate, so it is
/// sound in a child forked from a multi-threaded parent.
pub unsafe fn prepare_child() -> io::Result<()> {
    // SAFETY: plain syscalls with valid arguments; `program` points at
    // `filter`, which outlives the prctl call.
    unsafe {
        check(libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) as libc::c_int)?;
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
        let filter = tracing_filter();
        let program = libc::sock_fprog {
            len: filter.len() as libc::c_ushort,
            filter: filter.as_ptr().cast_mut(),
        };
        check(libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &raw const program,
            0,
            0,
        ))?;
    }
    Ok(())
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

/// What a seccomp stop is for: the filter's data, read back as the event
/// message.
pub mod traced {
    /// The entry of `exit_group`.
    pub const EXIT_GROUP: u32 = 0;
    /// The entry of a call that creates a socket.
    pub const CREATES_SOCKET: u32 = 1;
    /// The entry of a call that takes a port or an address (`bind`,
    /// `listen`, `connect`).
    pub const TAKES_PORT: u32 = 2;
}

/// BPF, for calls of the native architecture: `exit_group` → trace with
/// [`traced::EXIT_GROUP`]; a socket-creating call → trace with
/// [`traced::CREATES_SOCKET`]; a port-taking call → trace with
/// [`traced::TAKES_PORT`]; `clone` with `CLONE_UNTRACED` → `EPERM` (a
/// child the tracer would never see); `clone3` → `ENOSYS`, since its flags
/// lie in memory a filter cannot read (glibc then falls back to `clone`,
/// which is checked); anything else → allow. Built on the stack: it runs
/// between fork and exec.
fn tracing_filter() -> [libc::sock_filter; 14 + CREATING_SOCKETS.len() + TAKING_PORTS.len()] {
    const LOAD: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JUMP_EQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JUMP_SET: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
    const RETURN: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    const CALLS: usize = CREATING_SOCKETS.len();
    const PORTS: usize = TAKING_PORTS.len();
    // seccomp_data: nr, arch, instruction_pointer, args[6]; the low half
    // of args[0] first (both architectures are little-endian).
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    const FIRST_ARGUMENT: u32 = 16;
    // Where the checks after the socket calls, and the verdicts, are; a
    // jump skips `jt`/`jf` instructions.
    const CLONE3: usize = 4 + CALLS + PORTS;
    const CLONE: usize = CLONE3 + 1;
    const ALLOW: usize = CLONE + 3;
    const TRACE_EXIT: usize = ALLOW + 1;
    const TRACE_SOCKET: usize = ALLOW + 2;
    const REFUSE: usize = ALLOW + 3;
    const NO_CLONE3: usize = ALLOW + 4;
    const TRACE_PORT: usize = ALLOW + 5;
    let op = |code, jt: usize, jf: usize, k| libc::sock_filter {
        code,
        jt: jt as u8,
        jf: jf as u8,
        k,
    };
    // A jump at `at` to `to`.
    let to = |at: usize, to: usize| to - at - 1;
    let mut filter = [op(RETURN, 0, 0, libc::SECCOMP_RET_ALLOW); 14 + CALLS + PORTS];
    filter[0] = op(LOAD, 0, 0, ARCH);
    filter[1] = op(JUMP_EQ, 0, to(1, ALLOW), AUDIT_ARCH);
    filter[2] = op(LOAD, 0, 0, NR);
    filter[3] = op(JUMP_EQ, to(3, TRACE_EXIT), 0, libc::SYS_exit_group as u32);
    for (i, (number, _)) in CREATING_SOCKETS.iter().enumerate() {
        let at = 4 + i;
        filter[at] = op(JUMP_EQ, to(at, TRACE_SOCKET), 0, *number as u32);
    }
    for (i, (number, _)) in TAKING_PORTS.iter().enumerate() {
        let at = 4 + CALLS + i;
        filter[at] = op(JUMP_EQ, to(at, TRACE_PORT), 0, *number as u32);
    }
    filter[CLONE3] = op(JUMP_EQ, to(CLONE3, NO_CLONE3), 0, libc::SYS_clone3 as u32);
    filter[CLONE] = op(JUMP_EQ, 0, to(CLONE, ALLOW), libc::SYS_clone as u32);
    filter[CLONE + 1] = op(LOAD, 0, 0, FIRST_ARGUMENT);
    filter[CLONE + 2] = op(
        JUMP_SET,
        to(CLONE + 2, REFUSE),
        0,
        libc::CLONE_UNTRACED as u32,
    );
    filter[ALLOW] = op(RETURN, 0, 0, libc::SECCOMP_RET_ALLOW);
    filter[TRACE_EXIT] = op(RETURN, 0, 0, libc::SECCOMP_RET_TRACE | traced::EXIT_GROUP);
    filter[TRACE_SOCKET] = op(
        RETURN,
        0,
        0,
        libc::SECCOMP_RET_TRACE | traced::CREATES_SOCKET,
    );
    filter[REFUSE] = op(RETURN, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32);
    filter[NO_CLONE3] = op(RETURN, 0, 0, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32);
    filter[TRACE_PORT] = op(RETURN, 0, 0, libc::SECCOMP_RET_TRACE | traced::TAKES_PORT);
    filter
}

/// After the child's exec stop: set the tracing options on it.
pub fn set_options(pid: Pid) -> io::Result<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, OPTIONS) } as libc::c_int)
}

/// On a stopped tracee: no `PTRACE_EVENT_EXIT` stop for it from now on.
/// Only a test process's leader needs one (to read the sockets of a
/// process dying by a signal, or ending without `exit_group`), and only
/// until its sockets were read; every exit stop saved is a round trip
/// through the tracer.
pub fn drop_exit_stop(pid: Pid) -> io::Result<()> {
    const WITHOUT_EXIT: libc::c_int = OPTIONS & !libc::PTRACE_O_TRACEEXIT;
    // SAFETY: plain syscall.
    check(unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, WITHOUT_EXIT) } as libc::c_int)
}

/// Lets a stopped tracee go on, delivering `signal` (0 for none).
pub fn resume(pid: Pid, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, signal) } as libc::c_int)
}

/// Lets a tracee stopped at a system call's entry run to its exit stop
/// (reported as [`Event::SyscallStop`]), where its result can be read.
pub fn resume_to_syscall_exit(pid: Pid) -> io::Result<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::ptrace(libc::PTRACE_SYSCALL, pid, 0, 0) } as libc::c_int)
}

/// The message of the last ptrace event (new pid for fork/clone, exit status for exit).
pub fn event_message(pid: Pid) -> io::Result<libc::c_ulong> {
    let mut message: libc::c_ulong = 0;
    // SAFETY: message is valid for a write of c_ulong.
    check(
        unsafe { libc::ptrace(libc::PTRACE_GETEVENTMSG, pid, 0, &raw mut message) } as libc::c_int,
    )?;
    Ok(message)
}

/// True when a stop by a stopping signal is a group-stop rather than a
/// signal-delivery stop (`PTRACE_GETSIGINFO` fails with EINVAL then).
pub fn is_group_stop(pid: Pid) -> bool {
    let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
    // SAFETY: info is valid for a write of siginfo_t.
    let rc = unsafe { libc::ptrace(libc::PTRACE_GETSIGINFO, pid, 0, info.as_mut_ptr()) };
    rc < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL)
}

/// What `waitpid` reported for one tracee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Exited with this status.
    Exited(libc::c_int),
    /// Killed by this signal.
    Killed(libc::c_int),
    /// A ptrace event stop (`PTRACE_EVENT_*`).
    Ptrace(libc::c_int),
    /// Stopped by this signal (signal-delivery stop, group-stop, or the
    /// first stop of a new tracee).
    Signal(libc::c_int),
    /// A syscall stop (only ever asked for at a socket call's exit).
    SyscallStop,
}

/// The next event of any child or tracee, without blocking; `None` when
/// there is none now.
pub fn next_event() -> io::Result<Option<(Pid, Event)>> {
    let mut status: libc::c_int = 0;
    // SAFETY: status is valid for a write of c_int.
    let pid = unsafe { libc::waitpid(-1, &raw mut status, libc::WNOHANG | libc::__WALL) };
    if pid < 0 {
        let error = io::Error::last_os_error();
        return match error.raw_os_error() {
            Some(libc::ECHILD) => Ok(None),
            _ => Err(error),
        };
    }
    if pid == 0 {
        return Ok(None);
    }
    Ok(Some((pid, decode(status))))
}

/// Blocks until `pid` stops or ends (for a child that failed to exec).
pub fn wait_for(pid: Pid) -> io::Result<Event> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: status is valid for a write of c_int.
        let rc = unsafe { libc::waitpid(pid, &raw mut status, libc::__WALL) };
        if rc >= 0 {
            return Ok(decode(status));
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// What a `waitpid` status says.
fn decode(status: libc::c_int) -> Event {
    if libc::WIFEXITED(status) {
        Event::Exited(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        Event::Killed(libc::WTERMSIG(status))
    } else if status >> 16 != 0 {
        Event::Ptrace(status >> 16)
    } else if libc::WSTOPSIG(status) == libc::SIGTRAP | 0x80 {
        Event::SyscallStop
    } else {
        Event::Signal(libc::WSTOPSIG(status))
    }
}

/// Sends `signal` to `pid` (a process group when negative); errors ignored,
/// since the target may already be gone.
pub fn kill(pid: Pid, signal: libc::c_int) {
    // SAFETY: plain syscall.
    unsafe { libc::kill(pid, signal) };
}

/// Makes this process the reaper of its orphaned descendants, so a daemon a
/// test double-forks is still ours to find and kill.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) })
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `PTRACE_EVENT_*` numbers used by the tracer.
pub mod events {
    pub use libc::{
        PTRACE_EVENT_CLONE as CLONE, PTRACE_EVENT_EXEC as EXEC, PTRACE_EVENT_EXIT as EXIT,
        PTRACE_EVENT_FORK as FORK, PTRACE_EVENT_SECCOMP as SECCOMP, PTRACE_EVENT_VFORK as VFORK,
    };
}

#[cfg(test)]
mod tests {
    use super::{decode, events, traced, tracing_filter, Event, AUDIT_ARCH};
    use crate::stack::syscalls::{CREATING_SOCKETS, TAKING_PORTS};

    /// A stopped status as the kernel builds it: `event << 16 | signal << 8 | 0x7f`.
    fn stopped(signal: libc::c_int, event: libc::c_int) -> libc::c_int {
        (event << 16) | (signal << 8) | 0x7f
    }

    #[test]
    fn exits_and_deaths_by_signal_are_told_apart() {
        assert_eq!(decode(3 << 8), Event::Exited(3));
        assert_eq!(decode(0), Event::Exited(0));
        assert_eq!(decode(libc::SIGKILL), Event::Killed(libc::SIGKILL));
        // A core dump sets 0x80 beside the signal.
        assert_eq!(decode(libc::SIGSEGV | 0x80), Event::Killed(libc::SIGSEGV));
    }

    #[test]
    fn ptrace_event_stops_carry_the_event_and_signal_stops_the_signal() {
        assert_eq!(
            decode(stopped(libc::SIGTRAP, events::SECCOMP)),
            Event::Ptrace(events::SECCOMP)
        );
        assert_eq!(
            decode(stopped(libc::SIGTRAP, events::CLONE)),
            Event::Ptrace(events::CLONE)
        );
        assert_eq!(
            decode(stopped(libc::SIGSTOP, 0)),
            Event::Signal(libc::SIGSTOP)
        );
        assert_eq!(
            decode(stopped(libc::SIGRTMIN(), 0)),
            Event::Signal(libc::SIGRTMIN())
        );
    }

    #[test]
    fn a_syscall_stop_is_told_from_a_sigtrap() {
        assert_eq!(decode(stopped(libc::SIGTRAP | 0x80, 0)), Event::SyscallStop);
        assert_eq!(
            decode(stopped(libc::SIGTRAP, 0)),
            Event::Signal(libc::SIGTRAP)
        );
    }

    /// What the filter returns for call `number` of architecture `arch`,
    /// run the way the kernel runs it (only the instructions it uses).
    fn verdict(arch: u32, number: libc::c_long) -> u32 {
        verdict_with(arch, number, 0)
    }

    /// The same, with `first` as the call's first argument.
    fn verdict_with(arch: u32, number: libc::c_long, first: u64) -> u32 {
        let filter = tracing_filter();
        let mut pc = 0;
        let mut accumulator = 0;
        loop {
            let op = filter[pc];
            match u32::from(op.code) {
                code if code == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                    // seccomp_data: nr (offset 0), arch (offset 4), the
                    // first argument's low half (offset 16).
                    accumulator = match op.k {
                        0 => number as u32,
                        4 => arch,
                        16 => first as u32,
                        other => panic!("unexpected load at {other}"),
                    };
                    pc += 1;
                }
                code if code == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => {
                    let jump = if accumulator == op.k { op.jt } else { op.jf };
                    pc += 1 + usize::from(jump);
                }
                code if code == libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K => {
                    let jump = if accumulator & op.k != 0 {
                        op.jt
                    } else {
                        op.jf
                    };
                    pc += 1 + usize::from(jump);
                }
                code if code == libc::BPF_RET | libc::BPF_K => return op.k,
                code => panic!("unexpected instruction {code:#x}"),
            }
        }
    }

    #[test]
    fn the_filter_traces_exit_group_socket_and_port_calls_and_allows_the_rest() {
        let trace = |data| libc::SECCOMP_RET_TRACE | data;
        assert_eq!(
            verdict(AUDIT_ARCH, libc::SYS_exit_group),
            trace(traced::EXIT_GROUP)
        );
        for (number, name) in CREATING_SOCKETS {
            assert_eq!(
                verdict(AUDIT_ARCH, number),
                trace(traced::CREATES_SOCKET),
                "{name}"
            );
        }
        for (number, name) in TAKING_PORTS {
            assert_eq!(
                verdict(AUDIT_ARCH, number),
                trace(traced::TAKES_PORT),
                "{name}"
            );
        }
        for allowed in [
            libc::SYS_read,
            libc::SYS_exit,
            libc::SYS_sendto,
            libc::SYS_clone,
        ] {
            assert_eq!(verdict(AUDIT_ARCH, allowed), libc::SECCOMP_RET_ALLOW);
        }
        // A child the tracer would not see is refused; clone3's flags
        // cannot be read, so it is refused as unknown (glibc falls back).
        let clone = |flags: libc::c_int| verdict_with(AUDIT_ARCH, libc::SYS_clone, flags as u64);
        assert_eq!(
            clone(libc::CLONE_UNTRACED | libc::SIGCHLD),
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32
        );
        assert_eq!(
            clone(libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND),
            libc::SECCOMP_RET_ALLOW
        );
        assert_eq!(
            verdict(AUDIT_ARCH, libc::SYS_clone3),
            libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32
        );
        // Another architecture's numbers mean other calls: allowed.
        assert_eq!(
            verdict(0x4000_0003, libc::SYS_exit_group),
            libc::SECCOMP_RET_ALLOW
        );
    }
}
