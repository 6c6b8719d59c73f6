//! Exit statuses (DESIGN.md's contract), in one place.

/// All tests passed and no error-level leak was found (beyond the baseline).
pub const CLEAN: i32 = 0;
/// An error-level leak was found.
pub const LEAK: i32 = 1;
/// sockcheck itself could not run: bad arguments, build failure, no ptrace, ...
pub const ERROR: i32 = 2;
/// A test failed, crashed or timed out; takes precedence over leaks.
pub const TEST_FAILED: i32 = 101;
/// Added to the signal number when a signal interrupted the run (130 for SIGINT).
pub const SIGNAL_BASE: i32 = 128;
