//! Ordinary `#[test]`s under `sockcheck::guard()`, driven as a subprocess by
//! `tests/guard.rs` (one test at a time, as the guard needs).
//!
//! The leaking tests are `#[ignore]`d and also do nothing unless
//! `SOCKCHECK_FIXTURE=1`, so neither `cargo test` nor `--include-ignored`
//! trips over them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

fn fixture_enabled() -> bool {
    std::env::var_os("SOCKCHECK_FIXTURE").is_some_and(|v| v == "1")
}

#[test]
fn clean_round_trip() {
    let _g = sockcheck::guard();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    client.write_all(b"ping").unwrap();
    server.read_exact(&mut [0; 4]).unwrap();
}

#[test]
#[ignore = "leaks on purpose; run by tests/guard.rs"]
fn leaks_close_wait() {
    if !fixture_enabled() {
        return;
    }
    let _g = sockcheck::guard();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    drop(listener.accept().unwrap()); // the server hangs up...
    assert_eq!(client.read(&mut [0; 1]).unwrap(), 0); // ...its FIN arrived
    println!(
        "fixture: close-wait {} -> {}",
        client.local_addr().unwrap(),
        client.peer_addr().unwrap()
    );
    std::mem::forget(client); // this side never closes: CLOSE_WAIT
}

#[test]
#[ignore = "leaks on purpose; run by tests/guard.rs"]
fn leaks_listener() {
    if !fixture_enabled() {
        return;
    }
    let _g = sockcheck::guard();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("fixture: listen {}", listener.local_addr().unwrap());
    std::mem::forget(listener);
}

#[test]
#[ignore = "leaks on purpose; run by tests/guard.rs"]
fn leaks_listener_and_panics() {
    if !fixture_enabled() {
        return;
    }
    let _g = sockcheck::guard();
    std::mem::forget(TcpListener::bind("127.0.0.1:0").unwrap());
    panic!("the test's own failure");
}

#[test]
#[ignore = "leaks on purpose; run by tests/guard.rs"]
fn keeps_a_connection_which_only_warns() {
    if !fixture_enabled() {
        return;
    }
    let _g = sockcheck::guard();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    std::mem::forget((client, server));
}
