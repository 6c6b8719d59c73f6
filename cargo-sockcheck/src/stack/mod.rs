//! Creation stacks: the raw call stack of each system call that created a
//! socket (or a process), as the tracer takes it from a stopped tracee, and
//! what turns it into a readable [`sockcheck::site::Origin`].
//!
//! The tracer unwinds at the syscall's seccomp stop and keeps only
//! addresses (cheap, for every socket); symbolizing waits until a socket
//! turns out to be leaked.

#[cfg(target_os = "linux")]
pub mod project;
#[cfg(target_os = "linux")]
pub mod symbolize;

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
    /// The system call: `socket`, `accept`, `accept4`, `socketpair`,
    /// `fork`, `vfork` or `clone`.
    pub syscall: &'static str,
    /// Innermost first. Frames whose address lies in no known file are left
    /// out (and make [`RawStack::truncated`] true).
    pub frames: Vec<RawFrame>,
    /// True when the unwinder stopped before the outermost frame (a frame
    /// without unwind info, an unreadable stack, the frame limit), or left
    /// out frames it could not place in a file.
    pub truncated: bool,
}

#[cfg(target_os = "linux")]
mod elf;
#[cfg(target_os = "linux")]
mod maps;
#[cfg(target_os = "linux")]
pub mod memory;
#[cfg(target_os = "linux")]
pub mod registers;
#[cfg(target_os = "linux")]
pub mod unwind;
