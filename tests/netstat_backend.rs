//! The netstat2 backend (macOS's and Windows's) against the per-fd backend
//! (Linux's) on the same real sockets: both must describe them alike, down
//! to inode and pid, except where netstat2 is known to say less.
//! `tests/harness.rs` also runs the harness fixture on netstat2.

#![cfg(target_os = "linux")]

use sockcheck::leak::{kind_of, Holder, LeakKind};
use sockcheck::snapshot::{Backend, SnapshotError};
use sockcheck::socket::{Socket, State};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;

/// `sockets` bound to one of `locals`, in a stable order. Other tests of
/// this binary open sockets at the same time; each looks at its own only.
fn only(mut sockets: Vec<Socket>, locals: &[SocketAddr]) -> Vec<Socket> {
    sockets.retain(|s| locals.iter().any(|local| s.local == *local));
    sockets.sort_by_key(|s| (s.local.to_string(), s.remote.to_string()));
    sockets
}

/// Both backends' view of this process's sockets bound to `locals`.
fn both(locals: &[SocketAddr]) -> (Vec<Socket>, Vec<Socket>) {
    let per_fd = Backend::PerFd.own_sockets().expect("per-fd snapshot");
    let netstat = Backend::Netstat2.own_sockets().expect("netstat2 snapshot");
    (only(per_fd, locals), only(netstat, locals))
}

#[test]
fn netstat_and_per_fd_backends_describe_the_same_tcp_and_udp_sockets_alike() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let closing = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    drop(listener.accept().unwrap()); // `closing` is now in CLOSE_WAIT
    let listener6 = TcpListener::bind("[::1]:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let locals = [
        listener.local_addr().unwrap(),
        client.local_addr().unwrap(),
        server.local_addr().unwrap(),
        closing.local_addr().unwrap(),
        listener6.local_addr().unwrap(),
        udp.local_addr().unwrap(),
    ];

    let (per_fd, netstat) = both(&locals);
    let states: Vec<State> = per_fd.iter().map(|s| s.state).collect();
    assert_eq!(per_fd.len(), 6, "{per_fd:#?}");
    for expected in [
        State::Listen,
        State::Established,
        State::CloseWait,
        State::Unconn,
    ] {
        assert!(states.contains(&expected), "{expected} in {per_fd:#?}");
    }
    assert_eq!(netstat, per_fd);
}

#[test]
fn netstat_backend_shows_a_connected_udp_socket_without_its_peer() {
    // netstat2's UDP entries carry no peer: the one known disagreement.
    // The leak kind, which is what is judged, is the same.
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.connect(peer.local_addr().unwrap()).unwrap();
    let (per_fd, netstat) = both(&[udp.local_addr().unwrap()]);
    let [per_fd] = per_fd.as_slice() else {
        panic!("per-fd: {per_fd:#?}")
    };
    let [netstat] = netstat.as_slice() else {
        panic!("netstat2: {netstat:#?}")
    };
    assert_eq!(
        (per_fd.state, per_fd.remote.to_string()),
        (State::Established, peer.local_addr().unwrap().to_string())
    );
    assert_eq!(
        (netstat.state, netstat.remote.to_string()),
        (State::Unconn, "0.0.0.0:0".to_owned())
    );
    assert_eq!((netstat.inode, netstat.pid), (per_fd.inode, per_fd.pid));
    assert_eq!(kind_of(netstat, Holder::Test), Some(LeakKind::Udp));
    assert_eq!(kind_of(per_fd, Holder::Test), Some(LeakKind::Udp));
}

#[test]
fn netstat_and_per_fd_backends_read_another_process_alike() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let fd = listener.as_raw_fd();
    let mut command = std::process::Command::new("sleep");
    command.arg("30");
    // SAFETY: dup2 and fcntl are async-signal-safe. They give the child
    // the listener as fd 3 without close-on-exec, so `sleep` holds it too.
    // When the listener already is fd 3, dup2 would change nothing (the
    // flag would stay and exec close it): clear the flag instead.
    unsafe {
        command.pre_exec(move || {
            let rc = if fd == 3 {
                libc::fcntl(fd, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    let pid = child.id();
    let per_fd = Backend::PerFd.process_sockets(pid);
    let netstat = Backend::Netstat2.process_sockets(pid);
    child.kill().unwrap();
    child.wait().unwrap();

    let per_fd = per_fd.expect("per-fd snapshot of the child");
    let netstat = netstat.expect("netstat2 snapshot of the child");
    assert_eq!(per_fd.len(), 1, "{per_fd:#?}");
    assert_eq!(per_fd[0].local, listener.local_addr().unwrap());
    assert_eq!((per_fd[0].state, per_fd[0].pid), (State::Listen, pid));
    assert_eq!(netstat, per_fd);
}

#[test]
fn an_unknown_netstat_backend_name_is_an_error_naming_the_choices() {
    assert_eq!("netstat2".parse::<Backend>().unwrap(), Backend::Netstat2);
    assert_eq!("per-fd".parse::<Backend>().unwrap(), Backend::PerFd);
    let err: SnapshotError = "netstat".parse::<Backend>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "SOCKCHECK_SNAPSHOT=netstat names no socket backend \
         (expected one of: per-fd, netstat2; or unset it)"
    );
}
