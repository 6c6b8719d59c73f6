//! A `harness = false` test target on sockcheck's harness, driven as a
//! subprocess by `tests/harness.rs`.
//!
//! The `leaks::*` trials leave sockets open on purpose. They run only with
//! `SOCKCHECK_FIXTURE=1`; otherwise they report themselves ignored, so a
//! plain `cargo test` stays green. Each leaking trial prints the addresses of
//! what it leaves open, for the driver to find in the failure message.

mod fixture_trial;

use fixture_trial::fixture;
use sockcheck::harness::{Failed, Harness, Trial};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

fn main() {
    Harness::new()
        // Generous, so the slow server thread below always makes it on a
        // loaded machine; leaking trials pay it, clean ones never do.
        .linger(Duration::from_millis(500))
        .main(vec![
            Trial::test("clean::closes_everything", closes_everything),
            Trial::test("clean::server_thread_closes_late", server_closes_late),
            fixture("leaks::close_wait", leaks_close_wait),
            fixture("leaks::listener", leaks_listener),
            fixture("leaks::listener_and_panics", leaks_listener_and_panics),
            fixture("leaks::established_only_warns", keeps_a_connection),
        ]);
}

fn closes_everything() -> Result<(), Failed> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut client = TcpStream::connect(listener.local_addr()?)?;
    let (mut server, _) = listener.accept()?;
    client.write_all(b"ping")?;
    let mut buf = [0; 4];
    server.read_exact(&mut buf)?;
    Ok(())
}

/// Cleanup on another thread, finishing after the trial returns: the
/// harness must poll through its linger and pass the trial.
fn server_closes_late() -> Result<(), Failed> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        if let Ok((mut server, _)) = listener.accept() {
            let _ = server.read_to_end(&mut Vec::new()); // until the client hangs up
            std::thread::sleep(Duration::from_millis(20)); // slow teardown
        }
    });
    let client = TcpStream::connect(addr)?;
    drop(client);
    Ok(())
}

fn leaks_close_wait() -> Result<(), Failed> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut client = TcpStream::connect(listener.local_addr()?)?;
    drop(listener.accept()?); // the server hangs up...
    assert_eq!(client.read(&mut [0; 1])?, 0); // ...its FIN has arrived...
    println!(
        "fixture: close-wait {} -> {}",
        client.local_addr()?,
        client.peer_addr()?
    );
    std::mem::forget(client); // ...and this side never closes: CLOSE_WAIT
    Ok(())
}

fn leaks_listener() -> Result<(), Failed> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("fixture: listen {}", listener.local_addr()?);
    std::mem::forget(listener);
    Ok(())
}

fn leaks_listener_and_panics() -> Result<(), Failed> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("fixture: listen {}", listener.local_addr()?);
    std::mem::forget(listener);
    panic!("the trial's own failure");
}

/// Both ends of a connection kept open: ESTABLISHED is a warning by
/// default, printed but not failed.
fn keeps_a_connection() -> Result<(), Failed> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    std::mem::forget((client, server));
    Ok(())
}
