//! sockcheck finds sockets that tests leave open: connections stuck in
//! CLOSE_WAIT (the peer closed, the test never did), listeners nobody
//! stopped, servers that outlive their test.
//!
//! # A harness for `harness = false` test targets
//!
//! ```toml
//! [[test]]
//! name = "net"
//! harness = false
//!
//! [dev-dependencies]
//! sockcheck = "0.1"
//! ```
//!
//! Then `tests/net.rs` lists its tests as [`harness::Trial`]s (libtest-mimic's
//! API) and hands them to [`harness::main`]. Each trial runs between two
//! snapshots of this process's sockets; one it leaves open in CLOSE_WAIT or
//! LISTEN fails it, naming the socket:
//!
//! ```no_run
//! use sockcheck::harness::{self, Failed, Trial};
//! use std::io::Read;
//! use std::net::{TcpListener, TcpStream};
//!
//! fn main() {
//!     harness::main(vec![Trial::test("echo_round_trip", echo_round_trip)]);
//! }
//!
//! fn echo_round_trip() -> Result<(), Failed> {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let mut client = TcpStream::connect(listener.local_addr()?)?;
//!     drop(listener.accept()?); // the server hangs up
//!     let mut buf = [0; 8];
//!     assert_eq!(client.read(&mut buf)?, 0);
//!     Ok(()) // `client` and `listener` are dropped: nothing left open
//! }
//! ```
//!
//! It takes libtest's arguments (filters, `--exact`, `--ignored`, `--list
//! --format terse`), so `cargo test` and `cargo sockcheck` drive it like any
//! test binary. [`harness::Harness`] sets the policy (severities, allowed
//! listen ports, linger); `SOCKCHECK_REPORT=PATH` also writes the JSON
//! report.
//!
//! # A guard for ordinary `#[test]`s
//!
//! One line at the top of the test; when the guard is dropped at its end,
//! it panics if a socket opened since is still open (see [`guard()`]):
//!
//! ```
//! let _g = sockcheck::guard();
//! // ... the test
//! ```
//!
//! # Known limitations
//!
//! - **Parallel tests.** The check compares snapshots of the whole process,
//!   so it cannot tell a test's sockets from those of a test running beside
//!   it. The harness runs trials one at a time unless `--test-threads` says
//!   otherwise; with the guard, run `cargo test -- --test-threads=1`, or use
//!   `cargo sockcheck`, which gives every test its own process.
//! - **This process only.** In-process checks see the sockets this process
//!   holds, not those of child processes a test started; a server that
//!   outlives its test in a child is an `orphan` only `cargo sockcheck` sees.
//! - **Linger.** Cleanup on another thread (a server noticing its peer left)
//!   gets the policy's linger ([`policy::DEFAULT_LINGER`] unless set): while
//!   any leak remains, warnings included, the sockets are read again every
//!   [`policy::LINGER_POLL`]; a socket closed later than that counts as a
//!   leak. A clean test never waits. `cargo sockcheck` follows the same rule
//!   ([`policy::lingers_for`]).
//! - **Platforms.** On Linux the harness reads its own fds and asks each
//!   socket its state, which costs the same however busy the host is;
//!   elsewhere (macOS, Windows) the socket table comes from netstat2, which
//!   scans the whole table every time (see [`snapshot::Backend`]; on Linux,
//!   `SOCKCHECK_SNAPSHOT=netstat2` tries that path).
//!
//! # The pieces
//!
//! Reading a process's sockets ([`snapshot`]), deciding which of them are
//! leaks ([`leak`], [`policy`]) and the report ([`report`]) are shared with
//! the `cargo sockcheck` subcommand (crate `cargo-sockcheck`), which runs any
//! project's tests without changing them. Where `cargo sockcheck` found a
//! leak's socket created, and what held it, is in [`site`].
//!
//! # What is API
//!
//! The modules shown here are the API: [`guard()`], [`harness`],
//! [`policy`] (with [`allow`], sockets allowed by where they were created),
//! [`leak`], [`ports`] (what tests did with ports: churn, fixed ports,
//! "address in use" explained), [`socket`], [`snapshot`], [`site`] and the
//! [`report`] model with its renderers. The structs and errors that carry
//! what sockcheck reports are `#[non_exhaustive]`, because the JSON report
//! only ever grows and the types grow with it: read their fields, build
//! them with their constructors. The configuration files, the baseline and
//! the comparison of two reports (`config`, `baseline`, `diff`), how
//! those files are read (`input`: regular files, of bounded size), and the
//! renderers' shared wording (`report::listing`, `report::words`), are
//! helpers of `cargo sockcheck`, public only so that it can use them, and
//! hidden from these docs; so is `testing`, made-up sockets for tests. (The
//! files they read and write are documented in `docs/`.) The report's layout, the leak kinds and
//! severities, the linger and the exit statuses are described in the
//! repository's `docs/design.md`, and the JSON report's layout, field by
//! field, in `docs/report.schema.json`.
#![deny(missing_docs)]

mod address;
pub mod allow;
#[doc(hidden)]
pub mod baseline;
mod check;
#[doc(hidden)]
pub mod config;
#[doc(hidden)]
pub mod diff;
pub mod guard;
pub mod harness;
#[doc(hidden)]
pub mod input;
pub mod leak;
pub mod policy;
pub mod ports;
pub mod report;
pub mod site;
pub mod snapshot;
pub mod socket;
#[doc(hidden)]
pub mod testing;

pub use guard::guard;
