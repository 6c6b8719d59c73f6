//! Creation stacks: the raw call stack of each system call that created a
//! socket (or a process), as the tracer takes it from a stopped tracee, and
//! what turns it into a readable [`sockcheck::site::Origin`].
//!
//! The tracer unwinds at the syscall's seccomp stop and keeps only
//! addresses (cheap, for every socket); symbolizing waits until a socket
//! turns out to be leaked.
//!
//! The parts: `capture` records stacks at the tracer's stops (socket calls,
//! forks) and keys them by socket inode and process; `unwind` walks a
//! stopped thread's stack with framehop, from `registers`, reading its
//! stack through `memory`, with each mapped file's call-frame information
//! (`elf`) placed where `maps` says; `syscalls` names the calls involved;
//! `symbolize` turns a raw stack into an origin, with `project` telling the
//! project's own source from the rest.
//!
//! A thread's creation (its `clone`) is captured the same way, so that a
//! socket made on a spawned thread is traced back through the threads that
//! led to it ([`RawSpawns`]), up to the test's own thread.

#[cfg(target_os = "linux")]
pub mod capture;
#[cfg(target_os = "linux")]
mod elf;
#[cfg(target_os = "linux")]
mod maps;
#[cfg(target_os = "linux")]
pub mod memory;
#[cfg(target_os = "linux")]
pub mod project;
#[cfg(target_os = "linux")]
pub mod registers;
#[cfg(target_os = "linux")]
pub mod symbolize;
#[cfg(target_os = "linux")]
pub mod syscalls;
#[cfg(target_os = "linux")]
pub mod unwind;

use std::path::Path;
use std::sync::Arc;

/// One frame of a raw creation stack, as a file and the address to look up
/// in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawFrame {
    /// The mapped file the address lies in (the test binary, libc, ...),
    /// shared by every frame and stack in that file.
    pub module: Arc<Path>,
    /// The address to look up in that file's symbols and debug info: the
    /// runtime address minus the module's load bias, already moved back
    /// into the call instruction (`- 1`) for return addresses, but not for
    /// the innermost frame (the syscall instruction itself).
    pub lookup_address: u64,
}

/// The raw stack of one socket-creating (or process-creating) system call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawStack {
    /// The system call: `socket`, `accept`, `accept4`, `socketpair`, or
    /// for a process `fork`, `vfork`, `clone` or `clone3`.
    pub syscall: &'static str,
    /// Innermost first. Frames whose address lies in no known file are left
    /// out (and make [`RawStack::truncated`] true).
    pub frames: Vec<RawFrame>,
    /// True when the unwinder stopped before the outermost frame (a frame
    /// without unwind info, an unreadable stack, the frame limit), or left
    /// out frames it could not place in a file.
    pub truncated: bool,
}

/// The thread creations that led to a thread, as raw stacks, innermost
/// first: the `clone` that started it, then the one that started its
/// spawner, and so on up to the test's own thread. Threads spawned by the
/// same thread share the rest of the chain.
#[derive(Debug)]
pub struct RawSpawns {
    /// The stack of the spawning thread at the `clone` that started the thread.
    pub stack: Arc<RawStack>,
    /// The spawner's name then (`comm`): the thread's own name until it
    /// names itself.
    pub inherited_name: Box<str>,
    /// The creations that led to the spawner; `None` when the spawner is
    /// the test's own thread.
    pub outer: Option<Arc<RawSpawns>>,
}

impl RawSpawns {
    /// Every creation's stack, innermost first.
    pub fn stacks(&self) -> impl Iterator<Item = &Arc<RawStack>> {
        std::iter::successors(Some(self), |spawns| spawns.outer.as_deref())
            .map(|spawns| &spawns.stack)
    }
}
