//! sockcheck's harness in a `harness = false` target, runnable as
//! `cargo run --example harness` (add `-- --list`, a filter, ... as for any
//! test binary). `echo_round_trip` passes; `forgets_to_close` leaves a
//! connection in CLOSE_WAIT, so the run fails naming it, with status 101.
//!
//! In a real project this file is `tests/net.rs` with, in Cargo.toml:
//!
//! ```toml
//! [[test]]
//! name = "net"
//! harness = false
//! ```

use sockcheck::harness::{self, Failed, Trial};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

fn main() {
    harness::main(vec![
        Trial::test("echo_round_trip", echo_round_trip),
        Trial::test("forgets_to_close", forgets_to_close),
    ]);
}

/// Clean: every socket it opens is closed (dropped) before it returns.
fn echo_round_trip() -> Result<(), Failed> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut client = TcpStream::connect(listener.local_addr()?)?;
    let (mut server, _) = listener.accept()?;
    client.write_all(b"ping")?;
    let mut buf = [0; 4];
    server.read_exact(&mut buf)?;
    assert_eq!(&buf, b"ping");
    Ok(())
}

/// Leaky: the server hangs up, and the client side is never closed, so it
/// sits in CLOSE_WAIT for as long as the process lives.
fn forgets_to_close() -> Result<(), Failed> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut client = TcpStream::connect(listener.local_addr()?)?;
    drop(listener.accept()?); // the server closes its end
    let read = client.read(&mut [0; 1])?; // 0: the peer's FIN has arrived
    assert_eq!(read, 0);
    std::mem::forget(client); // the bug: stands for a connection pool that keeps it
    Ok(())
}
