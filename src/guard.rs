//! A guard for ordinary `#[test]`s: fails the test when it leaves a socket
//! open.
//!
//! At the top of a `#[test]`:
//!
//! ```
//! let _g = sockcheck::guard();
//! // ... the test; every socket it opens must be closed by the end
//! ```
//!
//! The guard remembers this process's sockets when it is made. When it is
//! dropped at the end of the test it looks again and, while any leak
//! remains (warnings too), waits out the linger, polled (a clean test never
//! waits). It then panics, naming each socket, if error-level leaks remain;
//! warnings are printed to stderr. A test that is already panicking is left
//! alone: its own failure is the one to read.
//!
//! # Parallel tests
//!
//! libtest runs tests on several threads of one process, and the guard sees
//! the whole process: a socket a neighbouring test opened while this one ran
//! counts as this test's. Either run the guarded tests one at a time
//! (`cargo test -- --test-threads=1`), or use `cargo sockcheck`, which runs
//! each test in its own process and needs no guard at all.

use crate::check::{self, Checkpoint};
use crate::leak::Leak;
use crate::policy::Policy;
use crate::snapshot::SnapshotError;
use std::panic::Location;

/// Starts watching for sockets the current test leaves open; bind it for the
/// whole test: `let _g = sockcheck::guard();`.
///
/// Panics (failing the test) when this process's sockets cannot be read.
#[track_caller]
pub fn guard() -> Guard {
    Guard::new()
}

/// Checks, when dropped, that nothing opened since it was made is left open.
/// See the [module docs](self).
#[must_use = "bind the guard for the whole test: `let _g = sockcheck::guard();` (`let _ = ` drops it at once)"]
#[derive(Debug)]
pub struct Guard {
    /// `None` once checked, so the check runs once.
    checkpoint: Option<Checkpoint>,
    policy: Policy,
    /// Where the guard was made, to point at the test from the panic.
    made_at: &'static Location<'static>,
}

impl Guard {
    /// A guard judging leaks by the project's configuration, the one
    /// `cargo sockcheck` reads for this test's package
    /// (`CARGO_MANIFEST_DIR`), read once per process; the default policy
    /// when cargo did not start the test. The same as [`guard()`].
    /// `allow-sockets` rules need creation stacks, which only `cargo
    /// sockcheck` has: the first guard says so on stderr.
    ///
    /// Panics (failing the test) when the configuration cannot be read or
    /// this process's sockets cannot be read.
    #[track_caller]
    pub fn new() -> Guard {
        match check::project_policy() {
            Ok(policy) => Guard::with_policy(policy),
            Err(error) => panic!("sockcheck: {error}"),
        }
    }

    /// A guard judging leaks by `policy` (severities, allowed listen ports,
    /// linger).
    ///
    /// Panics (failing the test) when this process's sockets cannot be read.
    #[track_caller]
    pub fn with_policy(policy: Policy) -> Guard {
        match Checkpoint::take() {
            Ok(checkpoint) => Guard {
                checkpoint: Some(checkpoint),
                policy,
                made_at: Location::caller(),
            },
            Err(error) => panic!("sockcheck: cannot read this process's sockets: {error}"),
        }
    }

    /// Checks now instead of on drop and returns every leak, warnings
    /// included, without panicking; the drop then checks nothing.
    pub fn finish(mut self) -> Result<Vec<Leak>, SnapshotError> {
        match self.checkpoint.take() {
            Some(checkpoint) => checkpoint.leaks(&self.policy),
            None => Ok(Vec::new()),
        }
    }
}

impl Default for Guard {
    #[track_caller]
    fn default() -> Self {
        Guard::new()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // A second panic while unwinding would abort the whole test binary,
        // and the test's own panic says more than its leaks.
        if std::thread::panicking() {
            return;
        }
        let Some(checkpoint) = self.checkpoint.take() else {
            return;
        };
        // libtest names each test's thread after the test.
        let thread = std::thread::current();
        let test = thread.name().filter(|name| *name != "main");
        match checkpoint.leaks(&self.policy) {
            Ok(leaks) => {
                check::print_warnings(&leaks, test);
                if let Some(message) = check::failure_message(&leaks, &self.policy) {
                    panic!("{message}\n(guard made at {})", self.made_at);
                }
            }
            Err(error) => panic!(
                "sockcheck: cannot check this test's sockets: {error}\n(guard made at {})",
                self.made_at
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leak::LeakKind;
    use std::net::{TcpListener, TcpStream};
    use std::panic;
    use std::time::Duration;

    fn quick() -> Policy {
        let mut policy = Policy::default();
        policy.set_linger(Duration::from_millis(20));
        policy
    }

    // Other unit tests open sockets at the same time; an error-level leak of
    // theirs could make these guards panic, so they look at their own only.
    #[test]
    fn finish_returns_the_leaks_and_disarms_the_drop() {
        let guard = Guard::with_policy(quick());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let leaks = guard.finish().unwrap();
        let mine: Vec<_> = leaks.iter().filter(|l| l.socket.local == addr).collect();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].kind, LeakKind::Listen);
    }

    #[test]
    fn a_guard_dropped_while_panicking_does_not_panic_again() {
        // A panic from the guard while unwinding would abort this whole test
        // binary. The held connection is an error only under this guard's
        // policy: to the other tests' checks it is a mere warning.
        let mut policy = quick();
        policy.set(LeakKind::Established, crate::policy::Level::Deny);
        let result = panic::catch_unwind(move || {
            let mut held = Vec::new(); // dropped after the guard
            let _guard = Guard::with_policy(policy);
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            held.push(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
            held.push(listener.accept().unwrap().0);
            panic!("the test's own failure");
        });
        let payload = result.unwrap_err();
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"the test's own failure")
        );
    }

    #[test]
    fn a_guard_panics_naming_each_socket_left_open() {
        let mut policy = quick();
        policy.set(LeakKind::Established, crate::policy::Level::Deny);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let result = panic::catch_unwind(|| {
            let mut held = Vec::new(); // dropped after the guard
            let _guard = Guard::with_policy(policy);
            held.push(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
            held.push(listener.accept().unwrap().0);
            held[0].local_addr().unwrap()
        });
        let payload = result.unwrap_err();
        let message = payload.downcast_ref::<String>().unwrap();
        let server = listener.local_addr().unwrap();
        assert!(message.starts_with("sockcheck: the test left"), "{message}");
        assert!(
            message.contains(&format!("-> {server} ESTABLISHED")),
            "{message}"
        );
    }
}
