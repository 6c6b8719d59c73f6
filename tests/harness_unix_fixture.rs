//! A `harness = false` test target on sockcheck's harness whose trials use
//! unix-domain sockets, driven as a subprocess by `tests/harness_unix.rs`.
//!
//! The `leaks::*` trials leave sockets open on purpose. They run only with
//! `SOCKCHECK_FIXTURE=1`; otherwise they report themselves ignored. Their
//! socket files go in `UNIX_FIXTURE_DIR` (the driver's temporary
//! directory), and each prints the path it leaves open.

#[cfg(unix)]
fn main() {
    trials::main();
}

#[cfg(not(unix))]
fn main() {}

#[cfg(unix)]
mod fixture_trial;

#[cfg(unix)]
mod trials {
    use super::fixture_trial::fixture;
    use sockcheck::harness::{Failed, Harness, Trial};
    use std::io::{Read, Write};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::PathBuf;
    use std::time::Duration;

    pub fn main() {
        Harness::new().linger(Duration::from_millis(200)).main(vec![
            Trial::test("clean::unix_round_trip", round_trip),
            fixture("leaks::unix_listener", leaks_listener),
            fixture("leaks::unix_peer_gone", leaks_stream_whose_peer_is_gone),
        ]);
    }

    /// A socket path for `name` in the driver's directory, which outlives
    /// the socket files the leaking trials leave behind.
    fn socket_path(name: &str) -> Result<PathBuf, Failed> {
        let dir = std::env::var_os("UNIX_FIXTURE_DIR")
            .ok_or_else(|| Failed::from("UNIX_FIXTURE_DIR is not set"))?;
        Ok(PathBuf::from(dir).join(name))
    }

    /// Runs under a plain `cargo test` too: its socket file goes in a
    /// directory of its own.
    fn round_trip() -> Result<(), Failed> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("round-trip.sock");
        let listener = UnixListener::bind(&path)?;
        let mut client = UnixStream::connect(&path)?;
        let (mut server, _) = listener.accept()?;
        client.write_all(b"ping")?;
        let mut buf = [0; 4];
        server.read_exact(&mut buf)?;
        Ok(())
    }

    fn leaks_listener() -> Result<(), Failed> {
        let path = socket_path("listener.sock")?;
        let listener = UnixListener::bind(&path)?;
        println!("fixture: listen {}", path.display());
        std::mem::forget(listener);
        Ok(())
    }

    /// The server hangs up and the client never closes its end: the unix
    /// counterpart of CLOSE_WAIT.
    fn leaks_stream_whose_peer_is_gone() -> Result<(), Failed> {
        let path = socket_path("peer-gone.sock")?;
        let listener = UnixListener::bind(&path)?;
        let mut client = UnixStream::connect(&path)?;
        drop(listener.accept()?);
        drop(listener);
        assert_eq!(client.read(&mut [0; 1])?, 0); // the hang-up has arrived
        println!("fixture: peer gone {}", path.display());
        std::mem::forget(client);
        Ok(())
    }
}
