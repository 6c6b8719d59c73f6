//! The gate the harness fixtures (`tests/harness_fixture.rs`,
//! `tests/harness_unix_fixture.rs`) put on their leaking trials: they leak
//! only when a driver asks with `SOCKCHECK_FIXTURE=1`, so that a plain
//! `cargo test` stays green.

use sockcheck::harness::{Completion, Failed, Trial};

/// A trial that runs `leak` only when the driver asked for it, and else
/// reports itself ignored.
pub fn fixture(name: &str, leak: fn() -> Result<(), Failed>) -> Trial {
    Trial::ignorable_test(name, move || {
        if std::env::var_os("SOCKCHECK_FIXTURE").is_some_and(|v| v == "1") {
            leak().map(|()| Completion::Completed)
        } else {
            Ok(Completion::ignored_with(
                "leaks on purpose; needs SOCKCHECK_FIXTURE=1",
            ))
        }
    })
}
