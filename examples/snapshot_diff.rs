//! The building block under the harness and the guard: two snapshots of this
//! process's sockets and the sockets opened in between, with the leak kind
//! each would be if a test ended now. `cargo run --example snapshot_diff`.

use sockcheck::leak::{self, Holder};
use sockcheck::snapshot::{self, SnapshotError};
use std::net::{TcpListener, TcpStream, UdpSocket};

fn main() -> Result<(), SnapshotError> {
    let before = snapshot::own_sockets()?;
    let sockets = open_some_sockets();
    let after = snapshot::own_sockets()?;

    let opened = snapshot::opened_since(&before, &after);
    println!("{} sockets opened between the snapshots:", opened.len());
    for socket in &opened {
        match leak::kind_of(socket, Holder::Test) {
            Some(kind) => println!("  {socket}  (left open: {kind} leak)"),
            None => println!("  {socket}  (left open: no leak)"),
        }
    }
    drop(sockets);
    Ok(())
}

/// A listener, a connection to it (both ends) and a bound UDP socket.
fn open_some_sockets() -> (TcpListener, TcpStream, TcpStream, UdpSocket) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a listener");
    let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    (listener, client, server, udp)
}
