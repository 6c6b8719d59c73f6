//! `sockcheck::guard()` outside a test, to show what it does:
//! `cargo run --example guard`. In a test suite it is one line at the top of
//! a `#[test]`: `let _g = sockcheck::guard();`.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::panic;

fn main() {
    // A clean block: the guard finds nothing and stays quiet.
    {
        let _g = sockcheck::guard();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let _client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    } // the sockets are dropped before the guard: nothing left open
    println!("clean block: no leak");

    // A leaky block: the guard's drop panics, as it would fail a test. The
    // panic is caught here only to print its message.
    panic::set_hook(Box::new(|_| {})); // the message is printed below instead
    let caught = panic::catch_unwind(|| {
        let _g = sockcheck::guard();
        leave_close_wait();
    });
    let _ = panic::take_hook();
    match caught {
        Ok(()) => println!("leaky block: no leak found (unexpected)"),
        Err(payload) => match payload.downcast_ref::<String>() {
            Some(message) => println!("leaky block failed with:\n{message}"),
            None => println!("leaky block failed"),
        },
    }
}

/// Leaves this process holding a connection in CLOSE_WAIT: the peer hung up
/// and this side never closed.
fn leave_close_wait() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    drop(listener.accept().expect("accept")); // the peer hangs up
    let _ = client.read(&mut [0; 1]); // returns 0 once its FIN has arrived
    std::mem::forget(client); // the bug
}
