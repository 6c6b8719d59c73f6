//! sockcheck finds sockets that tests leave open: connections stuck in
//! CLOSE_WAIT, listeners nobody stopped, servers that outlive their test.
//!
//! This crate holds the pieces every way in shares: reading a process's
//! sockets ([`snapshot`]), deciding which of them are leaks ([`leak`],
//! [`policy`]) and the report ([`report`]). The `cargo sockcheck` subcommand
//! (crate `cargo-sockcheck`) runs any project's tests under it.
#![deny(missing_docs)]

pub mod baseline;
pub mod config;
pub mod leak;
pub mod policy;
pub mod report;
pub mod snapshot;
pub mod socket;
