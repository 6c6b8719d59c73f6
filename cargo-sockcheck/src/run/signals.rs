//! SIGCHLD, SIGINT and SIGTERM, blocked and read from a signalfd, so the
//! event loop sees them in its `poll` instead of in a handler.

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::AsRawFd;

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
    pub fn take_interrupt(&self) -> Result<Option<libc::c_int>> {
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
