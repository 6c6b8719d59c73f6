//! SIGCHLD, SIGINT and SIGTERM, blocked and read from a signalfd, so the
//! event loop sees them in its `poll` instead of in a handler.

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::AsRawFd;

/// Signals read from the signalfd per `read`.
const BATCH: usize = 8;

/// The signals the event loop waits for, readable from one fd.
pub struct Signals {
    fd: SignalFd,
}

impl Signals {
    /// Blocks the signals in this thread and opens the signalfd.
    pub fn block() -> Result<Signals> {
        let mut mask = SigSet::empty();
        for signal in [Signal::SIGCHLD, Signal::SIGINT, Signal::SIGTERM] {
            mask.add(signal);
        }
        mask.thread_block().context("cannot block signals")?;
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .context("cannot create a signalfd")?;
        Ok(Signals { fd })
    }

    /// The fd to poll.
    pub fn fd(&self) -> libc::c_int {
        self.fd.as_raw_fd()
    }

    /// Reads every pending signal; returns SIGINT or SIGTERM if one came.
    /// Usually one `read`: it takes up to [`BATCH`] signals at once.
    pub fn take_interrupt(&self) -> Result<Option<libc::c_int>> {
        const SIZE: usize = std::mem::size_of::<libc::signalfd_siginfo>();
        let mut interrupt = None;
        loop {
            let mut infos = [std::mem::MaybeUninit::<libc::signalfd_siginfo>::uninit(); BATCH];
            // SAFETY: the buffer is valid for BATCH siginfos; the kernel
            // writes whole siginfos only.
            let n = unsafe { libc::read(self.fd(), infos.as_mut_ptr().cast(), BATCH * SIZE) };
            if n < 0 {
                let error = std::io::Error::last_os_error();
                match error.kind() {
                    std::io::ErrorKind::WouldBlock => return Ok(interrupt),
                    std::io::ErrorKind::Interrupted => continue,
                    _ => return Err(error).context("cannot read the signalfd"),
                }
            }
            let count = n as usize / SIZE;
            for info in &infos[..count] {
                // SAFETY: the kernel wrote the first `count` siginfos.
                let signal = unsafe { info.assume_init_ref() }.ssi_signo as libc::c_int;
                if signal != libc::SIGCHLD {
                    interrupt.get_or_insert(signal);
                }
            }
            if count < BATCH {
                return Ok(interrupt);
            }
        }
    }
}
