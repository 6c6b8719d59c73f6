//! Unwinding a stopped tracee's stack from its registers: framehop with the
//! DWARF call-frame information of every file the process has mapped.
//!
//! Section bytes are read once per file and shared; each process gets its
//! own module set (its own load addresses), made at its first unwind and
//! dropped when it execs or exits.

use super::elf::{Bytes, ElfUnwindInfo};
use super::maps::{self, Mapping};
use super::memory::RemoteMemory;
use super::registers::Registers;
use super::{RawFrame, RawStack};
use framehop::{CacheNative, MayAllocateDuringUnwind, Module, Unwinder as _, UnwinderNative};
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Frames kept per stack, innermost first; deeper stacks are cut (the
/// site is the innermost project frame, so the outer ones matter least).
const MAX_FRAMES: usize = 128;
/// How often a process's maps are read again because an address lay in no
/// known file (a library loaded since): bounded, so code outside any file
/// (a JIT) costs a few re-reads, not one per socket.
const MAX_MAP_REFRESHES: u32 = 4;

/// A file identified by path and by device and inode (a rebuilt binary at
/// the same path is another file).
type FileKey = (PathBuf, (String, u64));

/// Unwinds the stacks of traced processes.
pub struct Unwinder {
    /// Per file; `None` when it could not be read as ELF (tried once).
    files: HashMap<FileKey, Option<Arc<ElfUnwindInfo>>>,
    /// Per process (thread-group id).
    processes: HashMap<libc::pid_t, Process>,
    /// Unwind rules by address; safe to share between processes
    /// (framehop keys it by module generation).
    cache: CacheNative<MayAllocateDuringUnwind>,
    page_size: u64,
}

/// One process's view: where each file it mapped lies.
struct Process {
    unwinder: UnwinderNative<Bytes, MayAllocateDuringUnwind>,
    /// Sorted by address.
    modules: Vec<Placed>,
    refreshes: u32,
}

/// A file placed in a process's address space.
struct Placed {
    avma: Range<u64>,
    bias: u64,
    path: Arc<Path>,
}

impl Process {
    fn placed(&self, address: u64) -> Option<&Placed> {
        let after = self.modules.partition_point(|m| m.avma.start <= address);
        let module = self.modules[..after].last()?;
        module.avma.contains(&address).then_some(module)
    }
}

/// How one pass of unwinding ended.
enum Ending {
    /// The outermost frame, or the frame limit.
    Done { truncated: bool },
    /// An address outside every known file: the maps may be stale.
    UnknownAddress,
}

impl Default for Unwinder {
    fn default() -> Self {
        Unwinder::new()
    }
}

impl Unwinder {
    /// An unwinder that knows no process yet.
    pub fn new() -> Unwinder {
        // SAFETY: plain libc call.
        let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        Unwinder {
            files: HashMap::new(),
            processes: HashMap::new(),
            cache: CacheNative::new(),
            page_size: u64::try_from(page_size).unwrap_or(4096),
        }
    }

    /// The stack of thread `thread` of process `process`, stopped in
    /// `syscall` with registers `registers`. Never fails: what cannot be
    /// unwound ends the stack early and marks it truncated.
    pub fn unwind(
        &mut self,
        process: libc::pid_t,
        thread: libc::pid_t,
        syscall: &'static str,
        registers: &Registers,
    ) -> RawStack {
        let mut memory = RemoteMemory::of(thread);
        let mut frames = Vec::new();
        loop {
            let Unwinder {
                files,
                processes,
                cache,
                page_size,
            } = self;
            let known = processes
                .entry(process)
                .or_insert_with(|| Process::read(process, files, *page_size));
            match known.unwind(registers, cache, &mut memory, &mut frames) {
                Ending::Done { truncated } => {
                    return RawStack {
                        syscall,
                        frames,
                        truncated,
                    };
                }
                Ending::UnknownAddress if known.refreshes < MAX_MAP_REFRESHES => {
                    let refreshes = known.refreshes + 1;
                    *known = Process::read(process, files, *page_size);
                    known.refreshes = refreshes;
                }
                Ending::UnknownAddress => {
                    return RawStack {
                        syscall,
                        frames,
                        truncated: true,
                    };
                }
            }
        }
    }

    /// Forgets what process `process` mapped: it exec'd something else or
    /// is gone.
    pub fn forget(&mut self, process: libc::pid_t) {
        self.processes.remove(&process);
    }
}

impl Process {
    /// The module set of `process` from its maps; files are read once and
    /// kept in `files`. An unreadable maps file gives an empty set (every
    /// stack then ends at once, marked truncated).
    fn read(
        process: libc::pid_t,
        files: &mut HashMap<FileKey, Option<Arc<ElfUnwindInfo>>>,
        page_size: u64,
    ) -> Process {
        let mappings = maps::read(process).unwrap_or_default();
        let mut unwinder = UnwinderNative::new();
        let mut modules = Vec::new();
        for (lowest, span) in maps::code_files(&mappings) {
            let Some(info) = file_info(files, &lowest) else {
                continue;
            };
            let Some(bias) = info.bias(lowest.range.start, lowest.offset, page_size) else {
                continue;
            };
            unwinder.add_module(Module::new(
                info.path.display().to_string(),
                span.clone(),
                bias,
                info.section_info(),
            ));
            modules.push(Placed {
                avma: span,
                bias,
                path: info.path.clone(),
            });
        }
        Process {
            unwinder,
            modules,
            refreshes: 0,
        }
    }

    /// One pass over the stack; `frames` gets what was found (cleared first).
    fn unwind(
        &self,
        registers: &Registers,
        cache: &mut CacheNative<MayAllocateDuringUnwind>,
        memory: &mut RemoteMemory,
        frames: &mut Vec<RawFrame>,
    ) -> Ending {
        frames.clear();
        let (pc, regs) = registers.unwind_start();
        let mut read_stack = |address| memory.read_u64(address);
        let mut walk = self.unwinder.iter_frames(pc, regs, cache, &mut read_stack);
        loop {
            if frames.len() == MAX_FRAMES {
                return Ending::Done { truncated: true };
            }
            let address = match walk.next() {
                Ok(Some(address)) => address.address_for_lookup(),
                Ok(None) => return Ending::Done { truncated: false },
                Err(_) => return Ending::Done { truncated: true },
            };
            let Some(module) = self.placed(address) else {
                return Ending::UnknownAddress;
            };
            frames.push(RawFrame {
                module: module.path.clone(),
                lookup_address: address - module.bias,
            });
        }
    }
}

/// The unwind info of the file of `mapping`, read at its first use.
fn file_info(
    files: &mut HashMap<FileKey, Option<Arc<ElfUnwindInfo>>>,
    mapping: &Mapping,
) -> Option<Arc<ElfUnwindInfo>> {
    let key = (mapping.path.clone(), mapping.file_id.clone());
    files
        .entry(key)
        .or_insert_with(|| ElfUnwindInfo::read(&mapping.path).ok().map(Arc::new))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::ptrace;
    use nix::sys::signal::{kill, Signal};
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    use nix::unistd::Pid;
    use object::{Object, ObjectSymbol};
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    const TRACEE: &str = "SOCKCHECK_UNWIND_TRACEE";

    /// Run as a tracee by the test below: stops itself two calls deep.
    #[test]
    #[ignore = "a tracee for the unwinding test; does nothing on its own"]
    fn tracee_stops_inside_a_marked_function() {
        if std::env::var_os(TRACEE).is_some() {
            sockcheck_unwind_marker_outer();
        }
    }

    #[inline(never)]
    fn sockcheck_unwind_marker_outer() {
        sockcheck_unwind_marker_inner();
        std::hint::black_box(());
    }

    #[inline(never)]
    fn sockcheck_unwind_marker_inner() {
        // SAFETY: plain libc call.
        unsafe { libc::raise(libc::SIGSTOP) };
        std::hint::black_box(());
    }

    /// The names of the symbols of our own executable that contain each
    /// lookup address (`None` for addresses in other files).
    fn own_symbols(stack: &RawStack) -> Vec<Option<String>> {
        let exe = std::env::current_exe().unwrap();
        let bytes = std::fs::read(&exe).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        stack
            .frames
            .iter()
            .map(|frame| {
                if *frame.module != *exe {
                    return None;
                }
                file.symbols()
                    .find(|s| (s.address()..s.address() + s.size()).contains(&frame.lookup_address))
                    .and_then(|s| s.name().ok().map(str::to_owned))
            })
            .collect()
    }

    #[test]
    #[allow(
        clippy::zombie_processes,
        reason = "reaped by the waitpid loop at the end"
    )]
    fn the_stack_of_a_stopped_tracee_reaches_its_callers() {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "stack::unwind::tests::tracee_stops_inside_a_marked_function",
            ])
            .args(["--ignored", "--nocapture", "--test-threads=1"])
            .env(TRACEE, "1")
            .process_group(0);
        // SAFETY: ptrace(TRACEME) is async-signal-safe.
        unsafe { command.pre_exec(|| ptrace::traceme().map_err(std::io::Error::from)) };
        let child = command.spawn().unwrap();
        let pid = Pid::from_raw(child.id() as i32);
        assert!(matches!(
            waitpid(pid, None),
            Ok(WaitStatus::Stopped(_, Signal::SIGTRAP))
        ));
        ptrace::setoptions(
            pid,
            ptrace::Options::PTRACE_O_TRACECLONE | ptrace::Options::PTRACE_O_EXITKILL,
        )
        .unwrap();
        ptrace::cont(pid, None).unwrap();
        // Every thread of the tracee is in its process group.
        let group = Pid::from_raw(-pid.as_raw());
        let mut unwinder = Unwinder::new();
        let mut threads = std::collections::HashSet::from([pid]);
        let stack = loop {
            match waitpid(group, Some(WaitPidFlag::__WALL)).unwrap() {
                // The first stop of a new thread.
                WaitStatus::Stopped(thread, Signal::SIGSTOP) if threads.insert(thread) => {
                    ptrace::cont(thread, None).unwrap();
                }
                WaitStatus::Stopped(thread, Signal::SIGSTOP) => {
                    let registers = Registers::of(thread.as_raw()).unwrap();
                    break unwinder.unwind(pid.as_raw(), thread.as_raw(), "tgkill", &registers);
                }
                WaitStatus::Stopped(thread, signal) => ptrace::cont(thread, signal).unwrap(),
                WaitStatus::PtraceEvent(thread, _, _) => ptrace::cont(thread, None).unwrap(),
                other => panic!("the tracee ended before stopping itself: {other:?}"),
            }
        };
        kill(pid, Signal::SIGKILL).unwrap();
        while waitpid(group, Some(WaitPidFlag::__WALL)).is_ok() {}

        let names = own_symbols(&stack);
        let position = |part: &str| {
            names
                .iter()
                .position(|name| name.as_deref().is_some_and(|n| n.contains(part)))
                .unwrap_or_else(|| panic!("no frame in {part}: {names:?}"))
        };
        let inner = position("sockcheck_unwind_marker_inner");
        let outer = position("sockcheck_unwind_marker_outer");
        let test = position("tracee_stops_inside_a_marked_function");
        assert!(inner < outer && outer < test, "{names:?}");
        // It reached the thread's start in libc, which ends the stack.
        assert!(!stack.truncated, "{stack:?}");
        // raise() itself is in libc, below our frames.
        assert!(
            stack.frames[0].module.to_string_lossy().contains("libc"),
            "{stack:?}"
        );
    }
}
