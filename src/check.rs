//! The in-process check shared by the harness and the guard: remember this
//! process's sockets, let the test run, then see what it left open.
//!
//! Both ways in go through [`Checkpoint`] so that "what counts as left open",
//! the linger polling and the failure message are decided once.

use crate::config::Config;
use crate::leak::{Holder, Leak, Severity};
use crate::policy::{self, Policy, LINGER_POLL};
use crate::report::listing::Capped;
use crate::report::words::counted;
use crate::snapshot::{self, SnapshotError};
use crate::socket::Socket;
use std::sync::OnceLock;
use std::time::Instant;

/// The sockets this process held when a test started.
#[derive(Debug, Clone)]
pub(crate) struct Checkpoint {
    before: Vec<Socket>,
}

impl Checkpoint {
    /// Remembers the sockets this process holds now.
    pub(crate) fn take() -> Result<Checkpoint, SnapshotError> {
        Ok(Checkpoint {
            before: snapshot::own_sockets()?,
        })
    }

    /// The leaks among the sockets opened since the checkpoint, under `policy`.
    ///
    /// While any of them remains (see [`policy::lingers_for`]), the sockets
    /// are read again every [`LINGER_POLL`] until they are gone or the
    /// policy's linger has passed: cleanup on another thread gets its
    /// chance, and the answer comes as soon as it is known.
    pub(crate) fn leaks(&self, policy: &Policy) -> Result<Vec<Leak>, SnapshotError> {
        let deadline = Instant::now() + policy.linger();
        loop {
            let after = snapshot::own_sockets()?;
            let opened = snapshot::opened_since(&self.before, &after);
            let leaks = policy::classify(&opened, Holder::Test, policy);
            let now = Instant::now();
            if !policy::lingers_for(&leaks) || now >= deadline {
                return Ok(leaks);
            }
            std::thread::sleep(LINGER_POLL.min(deadline - now));
        }
    }
}

/// The message a test fails with when error-level leaks remain, or `None`
/// when there are none. One leak a line, each naming its kind, TCP state and
/// addresses; a long list is cut as every report's is.
pub(crate) fn failure_message(leaks: &[Leak], policy: &Policy) -> Option<String> {
    let errors: Vec<&Leak> = leaks
        .iter()
        .filter(|l| l.severity == Severity::Error)
        .collect();
    if errors.is_empty() {
        return None;
    }
    let mut message = format!(
        "sockcheck: the test left {} open (still open after waiting {} ms):",
        counted(errors.len(), "socket"),
        policy.linger().as_millis()
    );
    let capped = Capped::leaks(&errors);
    for leak in capped.listed {
        message.push_str(&format!("\n    {leak}"));
    }
    if let Some(more) = capped.and_more_by_kind() {
        message.push_str(&format!("\n    {more}"));
    }
    Some(message)
}

/// Prints warning-level leaks to stderr: they are worth knowing about but
/// fail nothing. `test` names the test when it is known.
pub(crate) fn print_warnings(leaks: &[Leak], test: Option<&str>) {
    let warnings: Vec<&Leak> = leaks
        .iter()
        .filter(|l| l.severity == Severity::Warning)
        .collect();
    if warnings.is_empty() {
        return;
    }
    let who = match test {
        Some(name) => format!("test `{name}`"),
        None => "the test".to_owned(),
    };
    eprintln!(
        "sockcheck: {who} left {} open:",
        counted(warnings.len(), "socket")
    );
    let capped = Capped::leaks(&warnings);
    for leak in capped.listed {
        eprintln!("    {leak}");
    }
    if let Some(more) = capped.and_more_by_kind() {
        eprintln!("    {more}");
    }
}

/// The policy of the project's configuration, for the in-process checks,
/// read once per process. The first time, says on stderr when the
/// configuration has `allow-sockets` rules, which need creation stacks.
pub(crate) fn project_policy() -> Result<Policy, String> {
    static POLICY: OnceLock<Result<Policy, String>> = OnceLock::new();
    POLICY
        .get_or_init(|| {
            let policy = Config::for_test_process()
                .map(|config| config.policy())
                .map_err(|e| format!("invalid sockcheck configuration: {e}"))?;
            if let Some(note) = stack_rules_note(&policy) {
                eprintln!("sockcheck: note: {note}");
            }
            Ok(policy)
        })
        .clone()
}

/// Why `policy`'s `allow-sockets` rules do nothing in process, when it has any.
fn stack_rules_note(policy: &Policy) -> Option<String> {
    let rules = policy.configured_socket_rules().len();
    (rules > 0).then(|| {
        format!(
            "the configuration's {rules} allow-sockets {} sockets by their creation stack, \
             which only `cargo sockcheck` records: the in-process harness and guard cannot \
             apply {}",
            if rules == 1 {
                "rule matches"
            } else {
                "rules match"
            },
            if rules == 1 { "it" } else { "them" }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leak::LeakKind;
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::time::Duration;

    // Unit tests share this process with other tests that open sockets at the
    // same time, so each test looks only at the sockets it made itself.
    fn mine(leaks: Vec<Leak>, addrs: &[SocketAddr]) -> Vec<Leak> {
        leaks
            .into_iter()
            .filter(|l| addrs.iter().any(|addr| l.socket.local == *addr))
            .collect()
    }

    /// Both ends of a loopback TCP connection (its listener closed) and
    /// their local addresses.
    fn connected_pair() -> (TcpStream, TcpStream, [SocketAddr; 2]) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let addrs = [client.local_addr().unwrap(), server.local_addr().unwrap()];
        (client, server, addrs)
    }

    fn lingering(linger: Duration) -> Policy {
        let mut policy = Policy::default();
        policy.set_linger(linger);
        policy
    }

    #[test]
    fn a_check_without_leaks_does_not_wait_for_the_linger() {
        let checkpoint = Checkpoint::take().unwrap();
        let started = Instant::now();
        checkpoint
            .leaks(&lingering(Duration::from_secs(60)))
            .unwrap();
        // Waiting out the linger would take 60 s; only a concurrent test's
        // socket could make it wait at all, and those close within moments.
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn a_listener_closed_by_another_thread_within_the_linger_is_no_leak() {
        let checkpoint = Checkpoint::take().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let closer = std::thread::spawn(move || {
            // Slow cleanup, so the check most likely sees the listener and
            // has to poll; the verdict must be the same either way.
            std::thread::sleep(Duration::from_millis(20));
            drop(listener);
        });
        let leaks = checkpoint
            .leaks(&lingering(Duration::from_secs(60)))
            .unwrap();
        closer.join().unwrap();
        assert_eq!(mine(leaks, &[addr]), []);
    }

    /// In process, on Linux: a unix listener and a stream whose peer closed
    /// are errors; a socketpair whose two ends the process keeps is no leak.
    #[cfg(target_os = "linux")]
    #[test]
    fn unix_sockets_get_their_verdicts_in_process() {
        use std::os::fd::AsFd;
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::net::{UnixListener, UnixStream};
        let inode = |fd: std::os::fd::BorrowedFd<'_>| {
            let file = std::fs::File::from(fd.try_clone_to_owned().unwrap());
            file.metadata().unwrap().ino()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.sock");
        let checkpoint = Checkpoint::take().unwrap();
        let listener = UnixListener::bind(&path).unwrap();
        let client = UnixStream::connect(&path).unwrap();
        drop(listener.accept().unwrap()); // the client's peer is gone
        let (left, right) = UnixStream::pair().unwrap();
        let leaks = checkpoint
            .leaks(&lingering(Duration::from_millis(20)))
            .unwrap();
        let ours = [
            listener.as_fd(),
            client.as_fd(),
            left.as_fd(),
            right.as_fd(),
        ]
        .map(inode);
        let mut mine: Vec<(u64, LeakKind)> = leaks
            .iter()
            .filter(|l| ours.contains(&l.socket.inode))
            .map(|l| (l.socket.inode, l.kind))
            .collect();
        mine.sort();
        let mut expected = vec![(ours[0], LeakKind::Listen), (ours[1], LeakKind::CloseWait)];
        expected.sort();
        assert_eq!(mine, expected, "{leaks:?}");
    }

    #[test]
    fn a_kept_listener_is_reported_once_the_linger_runs_out() {
        let policy = lingering(Duration::from_millis(20));
        let checkpoint = Checkpoint::take().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let leaks = mine(checkpoint.leaks(&policy).unwrap(), &[addr]);
        let kinds: Vec<_> = leaks.iter().map(|l| l.kind).collect();
        assert_eq!(kinds, [LeakKind::Listen]);
        let message = failure_message(&leaks, &policy).unwrap();
        assert!(message.contains("left 1 socket open"), "{message}");
        assert!(message.contains("after waiting 20 ms"), "{message}");
        assert!(
            message.contains(&format!("error listen: tcp {addr} LISTEN")),
            "{message}"
        );
    }

    #[test]
    fn a_connection_closed_by_another_thread_within_the_linger_is_no_warning() {
        // The linger waits for warnings as it does for errors: one rule
        // with `cargo sockcheck`'s.
        let checkpoint = Checkpoint::take().unwrap();
        let (client, server, addrs) = connected_pair();
        let closer = std::thread::spawn(move || {
            // Slow cleanup, so the check most likely sees the connection
            // and has to poll; the verdict must be the same either way.
            std::thread::sleep(Duration::from_millis(20));
            drop((client, server));
        });
        let leaks = checkpoint
            .leaks(&lingering(Duration::from_secs(60)))
            .unwrap();
        closer.join().unwrap();
        assert_eq!(mine(leaks, &addrs), []);
    }

    /// The message for many leaks: the first ten listed, the rest counted
    /// by kind, warnings left out (they fail nothing).
    #[test]
    fn a_long_failure_message_is_cut_as_every_report_is() {
        use crate::testing::{leak, listener, udp};
        let mut leaks: Vec<Leak> = (0..12)
            .map(|i| leak(LeakKind::Listen, listener(40000 + i)))
            .collect();
        leaks.push(leak(LeakKind::Udp, udp("127.0.0.1:5353")));
        let message = failure_message(&leaks, &lingering(Duration::from_millis(100)))
            .expect("error-level leaks make a message");
        insta::assert_snapshot!(message);
    }

    #[test]
    fn sockets_open_before_the_checkpoint_are_not_blamed() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let addrs = [listener.local_addr().unwrap(), client.local_addr().unwrap()];
        let checkpoint = Checkpoint::take().unwrap();
        let leaks = checkpoint.leaks(&lingering(Duration::ZERO)).unwrap();
        assert_eq!(mine(leaks, &addrs), []);
    }

    #[test]
    fn configured_stack_rules_are_named_as_needing_cargo_sockcheck() {
        let mut policy = Policy::default();
        assert_eq!(
            stack_rules_note(&policy),
            None,
            "the known pools say nothing"
        );
        let rule = crate::allow::AllowSocket::in_crate("mockito", "pool").unwrap();
        policy.allow_socket(rule.clone());
        assert_eq!(
            stack_rules_note(&policy).as_deref(),
            Some(
                "the configuration's 1 allow-sockets rule matches sockets by their creation \
                 stack, which only `cargo sockcheck` records: the in-process harness and \
                 guard cannot apply it"
            )
        );
        policy.allow_socket(rule);
        assert!(stack_rules_note(&policy)
            .unwrap()
            .starts_with("the configuration's 2 allow-sockets rules match"));
    }

    #[test]
    fn warnings_alone_make_no_failure_message() {
        let checkpoint = Checkpoint::take().unwrap();
        let (_client, _server, addrs) = connected_pair();
        let policy = lingering(Duration::ZERO);
        let leaks = mine(checkpoint.leaks(&policy).unwrap(), &addrs);
        let kinds: Vec<_> = leaks.iter().map(|l| (l.kind, l.severity)).collect();
        assert_eq!(kinds, [(LeakKind::Established, Severity::Warning); 2]);
        assert_eq!(failure_message(&leaks, &policy), None);
    }
}
