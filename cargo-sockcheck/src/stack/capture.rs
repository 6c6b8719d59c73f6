//! Creation-site capture: what the tracer records at a socket call's entry
//! and exit stops and at each fork and thread clone, so that once a test
//! has ended the leaked sockets and leftover processes can be traced back
//! to the call that made them, through the threads that led to it.
//!
//! Only raw stacks are kept here (a few µs each); symbolizing waits until a
//! socket turns out to be leaked.
//!
//! A libtest process's main thread only starts the test's own thread: its
//! clones are not captured, so a test that spawns no thread pays nothing
//! for spawn stacks (one `tgkill` tells its clone is a thread).

use super::memory::RemoteMemory;
use super::registers::Registers;
use super::syscalls;
use super::unwind::Unwinder;
use super::{RawSpawns, RawStack};
use crate::procinfo::{is_thread_of, thread_group};
use sockcheck::snapshot::{fd_socket_inode, socket_inodes};
use std::collections::{HashMap, HashSet};
use std::os::fd::RawFd;
use std::sync::Arc;

type Pid = libc::pid_t;

/// Sockets recorded per test before the closed ones are dropped; the limit
/// then doubles past what is still open, so a test that opens and closes
/// sockets in a loop keeps memory bounded by what it holds at once.
const FIRST_PRUNE_AT: usize = 4096;
/// Longest chain of processes followed up to the test's own.
const MAX_GENERATIONS: usize = 64;

/// Records creation stacks for every running test.
#[derive(Default)]
pub struct SiteCapture {
    unwinder: Unwinder,
    /// Thread → its process, for threads seen being created.
    process_of: HashMap<Pid, Pid>,
    /// Threads between a socket call's entry and exit stops.
    pending: HashMap<Pid, PendingCall>,
    /// Thread → the creations that led to it; absent for a test's own
    /// thread (and its process's main thread).
    spawns: HashMap<Pid, Arc<RawSpawns>>,
    /// Test processes whose main thread is a libtest harness's: the
    /// threads it starts are the tests' own.
    harness_leaders: HashSet<Pid>,
    /// What was recorded, per test process.
    tests: HashMap<Pid, TestSites>,
}

/// A socket call whose result is not known yet.
struct PendingCall {
    test: Pid,
    process: Pid,
    call: RawCall,
    /// `socketpair`'s `int sv[2]`, where the two fds are written.
    fd_pair_at: Option<u64>,
    /// `socket`'s and `socketpair`'s domain and type arguments.
    domain_and_type: Option<(i32, i32)>,
}

/// A call as recorded: its stack, and the thread creations that led to
/// the thread that made it (`None`: the test's own thread).
#[derive(Clone)]
pub struct RawCall {
    /// The call's stack.
    pub stack: Arc<RawStack>,
    /// The thread creations that led to the calling thread.
    pub spawns: Option<Arc<RawSpawns>>,
}

/// Sockets a creating call returned, as the capture saw them.
pub struct NewSockets {
    /// The test process.
    pub test: Pid,
    /// The process that holds them.
    pub process: Pid,
    /// Their fds in that process.
    pub fds: Vec<RawFd>,
    /// `socket`'s and `socketpair`'s domain and type arguments; `None`
    /// for `accept` (read from the new socket).
    pub domain_and_type: Option<(i32, i32)>,
}

/// The creation stacks recorded for one test.
#[derive(Default)]
pub struct TestSites {
    /// Socket inode → the call that created it.
    sockets: HashMap<u64, RawCall>,
    /// Process → the process that started it and the call.
    processes: HashMap<Pid, (Pid, RawCall)>,
    /// Every distinct stack once: 10,000 sockets opened in one loop share one.
    stacks: HashSet<Arc<RawStack>>,
    prune_at: usize,
}

impl TestSites {
    /// The call that created socket `inode`, if it was seen.
    pub fn socket_call(&self, inode: u64) -> Option<&RawCall> {
        self.sockets.get(&inode)
    }

    /// The stack of the call that created socket `inode`, if it was seen.
    pub fn socket(&self, inode: u64) -> Option<&Arc<RawStack>> {
        self.sockets.get(&inode).map(|call| &call.stack)
    }

    /// The thread creations that led to the thread that created socket
    /// `inode`; `None` when it was the test's own thread (or not seen).
    pub fn socket_spawns(&self, inode: u64) -> Option<&Arc<RawSpawns>> {
        self.sockets.get(&inode)?.spawns.as_ref()
    }

    /// The stack of the fork (or clone) in test process `test` that
    /// started `process` or its ancestor.
    pub fn spawn(&self, process: Pid, test: Pid) -> Option<&Arc<RawStack>> {
        self.spawn_call(process, test).map(|call| &call.stack)
    }

    /// The thread creations that led to the thread of test process `test`
    /// that started `process` or its ancestor.
    pub fn spawn_spawns(&self, process: Pid, test: Pid) -> Option<&Arc<RawSpawns>> {
        self.spawn_call(process, test)?.spawns.as_ref()
    }

    fn spawn_call(&self, process: Pid, test: Pid) -> Option<&RawCall> {
        let mut current = process;
        for _ in 0..MAX_GENERATIONS {
            let (parent, call) = self.processes.get(&current)?;
            if *parent == test {
                return Some(call);
            }
            current = *parent;
        }
        None
    }

    fn intern(&mut self, stack: RawStack) -> Arc<RawStack> {
        if let Some(known) = self.stacks.get(&stack) {
            return Arc::clone(known);
        }
        let stack = Arc::new(stack);
        self.stacks.insert(Arc::clone(&stack));
        stack
    }

    fn add_socket(&mut self, inode: u64, call: RawCall, test: Pid) {
        self.sockets.insert(inode, call);
        if self.sockets.len() >= self.prune_at.max(FIRST_PRUNE_AT) {
            self.prune(test);
        }
    }

    /// Drops the sockets no process of the test holds any more, and the
    /// stacks only they used.
    fn prune(&mut self, test: Pid) {
        let mut open = HashSet::new();
        for process in std::iter::once(test).chain(self.processes.keys().copied()) {
            // A process gone meanwhile holds nothing.
            open.extend(socket_inodes(process as u32).unwrap_or_default());
        }
        self.sockets.retain(|inode, _| open.contains(inode));
        self.stacks.retain(|stack| Arc::strong_count(stack) > 1);
        self.prune_at = 2 * self.sockets.len();
    }
}

impl SiteCapture {
    /// Nothing recorded yet.
    pub fn new() -> SiteCapture {
        SiteCapture::default()
    }

    /// What has been recorded so far for test `test`, while it runs.
    pub fn of(&self, test: Pid) -> Option<&TestSites> {
        self.tests.get(&test)
    }

    /// `thread` of test `test` is stopped at the entry of a socket-creating
    /// call: takes its stack. True when the caller must resume it to the
    /// call's exit stop (`PTRACE_SYSCALL`), where [`Self::socket_call_returned`]
    /// learns the new socket.
    pub fn socket_call(&mut self, test: Pid, thread: Pid) -> bool {
        let Ok(registers) = Registers::of(thread) else {
            return false;
        };
        let Some(syscall) = syscalls::creating_a_socket(registers.syscall_number()) else {
            return false;
        };
        let fd_pair_at = (syscall == "socketpair").then(|| registers.argument(3));
        let domain_and_type = matches!(syscall, "socket" | "socketpair")
            .then(|| (registers.argument(0) as i32, registers.argument(1) as i32));
        let process = self.process_of(thread);
        let raw = self.unwinder.unwind(process, thread, syscall, &registers);
        let stack = self.tests.entry(test).or_default().intern(raw);
        let spawns = self.spawns.get(&thread).cloned();
        self.pending.insert(
            thread,
            PendingCall {
                test,
                process,
                call: RawCall { stack, spawns },
                fd_pair_at,
                domain_and_type,
            },
        );
        true
    }

    /// `thread` of test `test` is stopped in `syscall` (at its entry or
    /// exit): its stack now, kept with the test's, for a call that turned
    /// out to matter (a `bind` that failed).
    pub fn call_now(&mut self, test: Pid, thread: Pid, syscall: &'static str) -> Option<RawCall> {
        let registers = Registers::of(thread).ok()?;
        let process = self.process_of(thread);
        let raw = self.unwinder.unwind(process, thread, syscall, &registers);
        let stack = self.tests.entry(test).or_default().intern(raw);
        let spawns = self.spawns.get(&thread).cloned();
        Some(RawCall { stack, spawns })
    }

    /// `thread` is at the exit stop of the socket call it entered: records
    /// the stack for the socket(s) it made, if it made any, and returns them.
    pub fn socket_call_returned(&mut self, thread: Pid) -> Option<NewSockets> {
        let call = self.pending.remove(&thread)?;
        let registers = Registers::of(thread).ok()?;
        let result = registers.return_value();
        if result < 0 {
            return None;
        }
        let fds = match call.fd_pair_at {
            Some(address) => match RemoteMemory::of(thread).read_u64(address) {
                // int sv[2], native-endian: sv[0] first in memory.
                Ok(word) => {
                    let bytes = word.to_ne_bytes();
                    vec![
                        i32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
                        i32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
                    ]
                }
                Err(()) => return None,
            },
            None => vec![result as i32],
        };
        let sites = self.tests.entry(call.test).or_default();
        for &fd in &fds {
            if let Some(inode) = fd_socket_inode(thread as u32, fd) {
                sites.add_socket(inode, call.call.clone(), call.test);
            }
        }
        Some(NewSockets {
            test: call.test,
            process: call.process,
            fds,
            domain_and_type: call.domain_and_type,
        })
    }

    /// Test process `test` started: it is its own process (so its first
    /// clone needs no look at `/proc`). When `harness` (a libtest test
    /// binary), the threads its main thread starts are the tests' own.
    pub fn started(&mut self, test: Pid, harness: bool) {
        self.process_of.insert(test, test);
        if harness {
            self.harness_leaders.insert(test);
        }
    }

    /// `thread` of test `test` forked, vforked or cloned `child` and is
    /// stopped at that event: records the stack of the call, for a new
    /// process, and for a new thread unless `thread` is a harness's main
    /// thread starting a test's own thread.
    pub fn spawned(&mut self, test: Pid, thread: Pid, child: Pid) {
        let process = self.process_of(thread);
        let harness_thread = self.harness_leaders.contains(&thread);
        let new_thread = is_thread_of(process, child);
        // The common case, libtest's test thread, in one syscall.
        if harness_thread && new_thread {
            self.process_of.insert(child, process);
            return;
        }
        let Ok(registers) = Registers::of(thread) else {
            return;
        };
        let Some(syscall) = syscalls::creating_a_process(registers.syscall_number()) else {
            return;
        };
        if new_thread || is_new_thread(syscall, &registers, thread) {
            self.process_of.insert(child, process);
            if !harness_thread {
                self.thread_spawned(test, process, thread, child, syscall, &registers);
            }
            return;
        }
        self.process_of.insert(child, child);
        let raw = self.unwinder.unwind(process, thread, syscall, &registers);
        let sites = self.tests.entry(test).or_default();
        let stack = sites.intern(raw);
        // The child's first thread goes on from the fork: its stack holds
        // the forking thread's, and past it the same creations led to it.
        let spawns = self.spawns.get(&thread).cloned();
        if let Some(spawns) = &spawns {
            self.spawns.insert(child, Arc::clone(spawns));
        }
        sites
            .processes
            .insert(child, (process, RawCall { stack, spawns }));
    }

    /// `thread` of `process` started thread `child` with `syscall`: records
    /// the spawner's stack and name as the first link of `child`'s chain.
    fn thread_spawned(
        &mut self,
        test: Pid,
        process: Pid,
        thread: Pid,
        child: Pid,
        syscall: &'static str,
        registers: &Registers,
    ) {
        let raw = self.unwinder.unwind(process, thread, syscall, registers);
        let stack = self.tests.entry(test).or_default().intern(raw);
        let inherited_name = thread_name(process, thread).into();
        let outer = self.spawns.get(&thread).cloned();
        self.spawns.insert(
            child,
            Arc::new(RawSpawns {
                stack,
                inherited_name,
                outer,
            }),
        );
    }

    /// The creations that led to `thread`, while it lives; `None` for a
    /// test's own thread.
    pub fn thread_spawns(&self, thread: Pid) -> Option<&Arc<RawSpawns>> {
        self.spawns.get(&thread)
    }

    /// Process `process` replaced its program: what it had mapped is gone.
    pub fn exec(&mut self, process: Pid) {
        self.unwinder.forget(process);
    }

    /// Thread or process `tracee` is gone.
    pub fn ended(&mut self, tracee: Pid) {
        self.pending.remove(&tracee);
        self.process_of.remove(&tracee);
        self.spawns.remove(&tracee);
        self.harness_leaders.remove(&tracee);
        self.unwinder.forget(tracee);
    }

    /// Takes what was recorded for test `test`, which has ended.
    pub fn take(&mut self, test: Pid) -> TestSites {
        self.pending.retain(|_, call| call.test != test);
        self.tests.remove(&test).unwrap_or_default()
    }

    fn process_of(&mut self, thread: Pid) -> Pid {
        if let Some(&process) = self.process_of.get(&thread) {
            return process;
        }
        let process = thread_group(thread).unwrap_or(thread);
        self.process_of.insert(thread, process);
        process
    }
}

/// The name (`comm`) of `thread` of `process`; empty when it is gone.
fn thread_name(process: Pid, thread: Pid) -> String {
    let comm = std::fs::read_to_string(format!("/proc/{process}/task/{thread}/comm"));
    comm.map(|name| name.trim_end_matches('\n').to_owned())
        .unwrap_or_default()
}

/// True when a clone call (stopped at its event) made a thread, not a
/// process: `CLONE_THREAD` in its flags (`clone`'s first argument, the
/// first field of `clone3`'s argument block).
fn is_new_thread(syscall: &str, registers: &Registers, thread: Pid) -> bool {
    let flags = match syscall {
        "clone" => registers.argument(0),
        "clone3" => RemoteMemory::of(thread)
            .read_u64(registers.argument(0))
            .unwrap_or(0),
        _ => return false,
    };
    flags & libc::CLONE_THREAD as u64 != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::RawFrame;
    use std::path::Path;

    fn stack(address: u64) -> RawStack {
        RawStack {
            syscall: "socket",
            frames: vec![RawFrame {
                module: Arc::from(Path::new("/bin/test")),
                lookup_address: address,
            }],
            truncated: false,
        }
    }

    #[test]
    fn identical_stacks_are_kept_once() {
        let mut sites = TestSites::default();
        let a = sites.intern(stack(1));
        let b = sites.intern(stack(1));
        let c = sites.intern(stack(2));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(sites.stacks.len(), 2);
    }

    #[test]
    fn a_leftover_is_traced_back_to_the_fork_in_the_test_process() {
        let mut sites = TestSites::default();
        let in_test = sites.intern(stack(10));
        let in_child = sites.intern(stack(20));
        // test 100 started 200, which started the daemon 300.
        sites
            .processes
            .insert(200, (100, call(Arc::clone(&in_test))));
        sites.processes.insert(300, (200, call(in_child)));
        assert!(Arc::ptr_eq(sites.spawn(300, 100).unwrap(), &in_test));
        assert!(Arc::ptr_eq(sites.spawn(200, 100).unwrap(), &in_test));
        assert!(sites.spawn(400, 100).is_none());
        // A loop in made-up data ends instead of spinning.
        sites.processes.insert(500, (600, call(stack_arc())));
        sites.processes.insert(600, (500, call(stack_arc())));
        assert!(sites.spawn(500, 100).is_none());
    }

    fn call(stack: Arc<RawStack>) -> RawCall {
        RawCall {
            stack,
            spawns: None,
        }
    }

    fn stack_arc() -> Arc<RawStack> {
        Arc::new(stack(30))
    }

    #[test]
    fn closed_sockets_are_pruned_and_open_ones_kept() {
        let open = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let own = std::process::id() as Pid;
        let inode = fd_socket_inode(own as u32, std::os::fd::AsRawFd::as_raw_fd(&open)).unwrap();
        let mut sites = TestSites::default();
        let kept = sites.intern(stack(1));
        sites.add_socket(inode, call(Arc::clone(&kept)), own);
        for fake_inode in 1..FIRST_PRUNE_AT as u64 {
            let closed = sites.intern(stack(2));
            sites.add_socket(u64::MAX - fake_inode, call(closed), own);
        }
        // The prune ran when the limit was reached: only the open socket
        // and its stack are left.
        assert_eq!(sites.sockets.len(), 1);
        assert!(Arc::ptr_eq(sites.socket(inode).unwrap(), &kept));
        assert_eq!(sites.stacks.len(), 1);
        assert_eq!(sites.prune_at, 2);
    }
}
