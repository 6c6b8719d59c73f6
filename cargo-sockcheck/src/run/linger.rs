//! The linger: an exiting test that still holds leaks is kept stopped at
//! `exit_group` (its other threads still running) and looked at again
//! every [`LINGER_POLL`], until its leaks are gone, its process vanished,
//! or the policy's linger ran out. A connection a thread closes just after
//! the test returns is then not reported. Whether a test holds leaks to
//! wait for is decided in `allowed` (sockets a rule allows by where they
//! were created are never waited for).

use super::ptrace::Pid;
use sockcheck::policy::LINGER_POLL;
use std::time::{Duration, Instant};

/// A test held at its exit.
#[derive(Debug)]
pub struct Linger {
    /// The thread held stopped at `exit_group`.
    pub thread: Pid,
    since: Instant,
    until: Instant,
    next_look: Instant,
}

/// What a look at a lingering test found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// Its leaks are gone.
    Clean,
    /// It still holds leaks.
    Leaking,
    /// It is gone (killed while held): the last look stands.
    Vanished,
}

impl Linger {
    /// Holds `thread` from `now` for at most `linger`, when its process
    /// holds leaks (`leaking`) and may linger at all; `None` lets it go on.
    pub fn hold(
        thread: Pid,
        may_linger: bool,
        leaking: bool,
        linger: Duration,
        now: Instant,
    ) -> Option<Linger> {
        (may_linger && leaking && !linger.is_zero()).then(|| Linger {
            thread,
            since: now,
            until: now + linger,
            next_look: now + LINGER_POLL,
        })
    }

    /// When the test should be looked at again.
    pub fn next_look(&self) -> Instant {
        self.next_look
    }

    /// How long the test has been held at `now`.
    pub fn held(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.since)
    }

    /// True when a look is due at `now`.
    pub fn is_due(&self, now: Instant) -> bool {
        now >= self.next_look
    }

    /// After a look at `now`: true when the thread should be let go (the
    /// leaks are gone, the process vanished, or the linger ran out), else
    /// the next look is scheduled.
    pub fn release_after(&mut self, look: Look, now: Instant) -> bool {
        if look != Look::Leaking || now >= self.until {
            return true;
        }
        self.next_look = now + LINGER_POLL;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::{Linger, Look, LINGER_POLL};
    use std::time::{Duration, Instant};

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn only_a_leaking_test_with_a_linger_is_held() {
        let now = Instant::now();
        assert!(Linger::hold(7, true, true, SECOND, now).is_some());
        assert!(Linger::hold(7, false, true, SECOND, now).is_none());
        assert!(Linger::hold(7, true, false, SECOND, now).is_none());
        assert!(Linger::hold(7, true, true, Duration::ZERO, now).is_none());
    }

    #[test]
    fn looks_come_every_poll_until_the_leaks_go_or_the_linger_ends() {
        let start = Instant::now();
        let mut linger = Linger::hold(7, true, true, SECOND, start).unwrap();
        assert!(!linger.is_due(start));
        let first = start + LINGER_POLL;
        assert!(linger.is_due(first));
        assert!(!linger.release_after(Look::Leaking, first));
        assert_eq!(linger.next_look(), first + LINGER_POLL);
        assert!(linger.release_after(Look::Leaking, start + SECOND));
        assert_eq!(linger.held(start + SECOND), SECOND);

        let mut linger = Linger::hold(7, true, true, SECOND, start).unwrap();
        assert!(linger.release_after(Look::Clean, first));
        let mut linger = Linger::hold(7, true, true, SECOND, start).unwrap();
        assert!(linger.release_after(Look::Vanished, first));
    }
}
