//! `cargo sockcheck` as a library: the binary's `main` parses the command
//! line and calls [`run()`]; the integration tests read the exit statuses
//! from [`ExitStatus`]. Nothing else is public: this is not a stable API.

#[cfg(target_os = "linux")]
mod app;
mod cargo;
pub mod cli;
#[cfg(target_os = "linux")]
mod config;
#[cfg(target_os = "linux")]
mod diff;
#[cfg(target_os = "linux")]
mod exec;
mod exit;
#[cfg(target_os = "linux")]
mod fast;
#[cfg(target_os = "linux")]
mod gate;
mod list;
#[cfg(target_os = "linux")]
mod log_guard;
#[cfg(target_os = "linux")]
mod no_tests;
#[cfg(target_os = "linux")]
mod outputs;
mod partition;
#[cfg(target_os = "linux")]
mod procinfo;
#[cfg(target_os = "linux")]
mod progress;
#[cfg(target_os = "linux")]
mod report;
#[cfg(target_os = "linux")]
mod repository;
#[cfg(target_os = "linux")]
mod rerun;
#[cfg(target_os = "linux")]
mod run;
mod stack;
mod terminal;

pub use exit::{ExitStatus, LIBTEST_FAILED};
pub use terminal::print_error;

/// Runs the command `sockcheck` names; returns how the process should exit.
/// An error is sockcheck's own failure ([`ExitStatus::Error`]).
#[cfg(target_os = "linux")]
pub fn run(sockcheck: cli::Sockcheck) -> anyhow::Result<ExitStatus> {
    terminal::choose_colour(sockcheck.color)?;
    match sockcheck.command {
        None => app::check_tests(sockcheck.run),
        Some(cli::Command::Exec(options)) => exec::trace_command(options),
        Some(cli::Command::Report(options)) => report::merge_reports(options),
        Some(cli::Command::Diff(options)) => diff::compare_reports(options),
    }
}

/// Runs the command `sockcheck` names; returns how the process should exit.
/// An error is sockcheck's own failure ([`ExitStatus::Error`]).
#[cfg(not(target_os = "linux"))]
pub fn run(_: cli::Sockcheck) -> anyhow::Result<ExitStatus> {
    anyhow::bail!(
        "`cargo sockcheck` runs tests under ptrace and needs Linux; on this platform use the \
         sockcheck library's harness or guard inside your tests"
    )
}
