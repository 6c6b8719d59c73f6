//! `cargo sockcheck`: run a project's tests one per process and report the
//! sockets each one leaves open. See the README for usage.

#[cfg(target_os = "linux")]
mod app;
mod cargo;
mod cli;
#[cfg(target_os = "linux")]
mod config;
#[cfg(target_os = "linux")]
mod exec;
mod exit;
#[cfg(target_os = "linux")]
mod fast;
#[cfg(target_os = "linux")]
mod gate;
mod list;
#[cfg(target_os = "linux")]
mod merge;
#[cfg(target_os = "linux")]
mod outputs;
mod partition;
#[cfg(target_os = "linux")]
mod rerun;
#[cfg(target_os = "linux")]
mod run;
// The tracer fills raw stacks and the symbolizer reads them (issue 10); until
// both are wired in, the shared types are not used yet.
#[allow(dead_code)]
mod stack;

use clap::Parser;

fn main() {
    let cli::Cargo::Sockcheck(sockcheck) = cli::Cargo::parse();
    std::process::exit(match start(sockcheck) {
        Ok(status) => status,
        Err(error) => {
            eprintln!("error: {error:#}");
            exit::ERROR
        }
    });
}

#[cfg(target_os = "linux")]
fn start(sockcheck: cli::Sockcheck) -> anyhow::Result<i32> {
    match sockcheck.command {
        None => app::run(sockcheck.run),
        Some(cli::Command::Exec(options)) => exec::run(options),
        Some(cli::Command::Report(options)) => merge::run(options),
    }
}

#[cfg(not(target_os = "linux"))]
fn start(_: cli::Sockcheck) -> anyhow::Result<i32> {
    anyhow::bail!(
        "`cargo sockcheck` runs tests under ptrace and needs Linux; on this platform use the \
         sockcheck library's harness or guard inside your tests"
    )
}
