//! `cargo sockcheck`: run a project's tests one per process and report the
//! sockets each one leaves open. See the README for usage.

#[cfg(target_os = "linux")]
mod app;
mod cargo;
mod cli;
mod exit;
mod list;
#[cfg(target_os = "linux")]
mod run;

use clap::Parser;

fn main() {
    let cli::Cargo::Sockcheck(options) = cli::Cargo::parse();
    std::process::exit(match start(options) {
        Ok(status) => status,
        Err(error) => {
            eprintln!("error: {error:#}");
            exit::ERROR
        }
    });
}

#[cfg(target_os = "linux")]
fn start(options: cli::Options) -> anyhow::Result<i32> {
    app::run(options)
}

#[cfg(not(target_os = "linux"))]
fn start(_: cli::Options) -> anyhow::Result<i32> {
    anyhow::bail!(
        "`cargo sockcheck` runs tests under ptrace and needs Linux; on this platform use the \
         sockcheck library's harness or guard inside your tests"
    )
}
