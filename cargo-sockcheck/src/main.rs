//! `cargo sockcheck`: run a project's tests one per process and report the
//! sockets each one leaves open. See the README for usage; the work is in
//! the `cargo_sockcheck` library.

use cargo_sockcheck::{cli, ExitStatus};
use clap::Parser;

fn main() {
    let cli::Cargo::Sockcheck(sockcheck) = cli::Cargo::parse();
    let status = cargo_sockcheck::run(sockcheck).unwrap_or_else(|error| {
        cargo_sockcheck::print_error(format_args!("{error:#}"));
        ExitStatus::Error
    });
    std::process::exit(status.code());
}
