//! End to end: sockets allowed by where they were created. The `pooled`
//! fixture's tests take mock servers from a static pool written like
//! mockito's (a listener bound on its own thread, serving for the life of
//! the process), which its `sockcheck.toml` allows by function path; one
//! test also leaks a listener of its own, which must still fail.

mod common;

use cargo_sockcheck::ExitStatus;
use common::*;
use sockcheck::leak::{LeakKind, Severity};
use sockcheck::report::{Outcome, TestRecord};

const RULE: &str = "function pooled::server_pool::*";
const REASON: &str = "the suite's mock-server pool";

/// `(kind, rule, reason, built in)` of each socket `test` left open that a rule allowed.
fn allowed(test: &TestRecord) -> Vec<(LeakKind, &str, &str, bool)> {
    test.allowed
        .iter()
        .map(|a| (a.kind, a.rule.as_str(), a.reason.as_str(), a.built_in))
        .collect()
}

#[test]
fn the_pool_is_allowed_by_its_creation_stack_and_a_real_leak_beside_it_fails() {
    let output = on_fixture("pooled", &["--format", "json"]);
    let report = json_report(&output);
    let err = stderr(&output);
    use Outcome::Passed;
    assert_eq!(
        verdicts(&report),
        [
            (
                "pool::a_kept_connection_closes_while_a_leak_lingers".to_owned(),
                Passed,
                vec!["listen:error".to_owned()]
            ),
            (
                "pool::leaks_a_listener_beside_the_pool".to_owned(),
                Passed,
                vec!["listen:error".to_owned()]
            ),
            ("pool::uses_the_pool".to_owned(), Passed, vec![]),
            ("pool::uses_two_servers".to_owned(), Passed, vec![]),
        ],
        "stderr:\n{err}"
    );
    assert_eq!(status(&output), ExitStatus::Leak.code(), "{err}");

    let pooled = (LeakKind::Listen, RULE, REASON, false);
    let one = record(&report, "pool", "uses_the_pool");
    assert_eq!(allowed(one), [pooled], "{err}");
    let two = record(&report, "pool", "uses_two_servers");
    assert_eq!(allowed(two), [pooled, pooled], "{err}");
    // Each allowed socket says where it was opened, in full, in the pool's
    // thread: a second one opened by the same call too.
    for opened in [&one.allowed[0], &two.allowed[0], &two.allowed[1]].map(|allowed| {
        allowed
            .opened
            .as_ref()
            .expect("an allowed socket has its origin")
    }) {
        assert!(
            opened.stack.iter().any(|frame| frame
                .function
                .as_deref()
                .is_some_and(|f| f.starts_with("pooled::server_pool::serve"))),
            "{opened:#?}"
        );
        assert_eq!(opened.note, None, "{opened:#?}");
    }
    // Allowed sockets are no reason to hold a test's exit for the linger:
    // the pool's listeners are known before the test can use them. (The
    // connection the pool accepted in `uses_the_pool` may be seen at the
    // exit before its `accept` is seen returning: then the test waits
    // until it is, one look later.)
    assert_eq!(two.linger_ms, None, "{err}");

    let beside = record(&report, "pool", "leaks_a_listener_beside_the_pool");
    assert_eq!(allowed(beside), [pooled], "{err}");
    let [leak] = &beside.leaks[..] else {
        panic!("one leak expected: {beside:#?}");
    };
    assert_eq!(
        (leak.kind, leak.severity),
        (LeakKind::Listen, Severity::Error)
    );
    let site = leak
        .opened
        .as_ref()
        .and_then(|o| o.site.as_ref())
        .expect("the real leak has its site");
    assert_eq!(site.file.as_deref(), Some("tests/pool.rs"), "{site:#?}");

    let s = &report.summary;
    assert_eq!(
        (s.leaking_tests, s.errors, s.warnings, s.allowed),
        (2, 2, 0, 6),
        "allowed sockets count apart from leaks"
    );
}

/// The kinds of the sockets allowed in test `name`, in order.
fn allowed_kinds(report: &sockcheck::report::Report, name: &str) -> Vec<LeakKind> {
    let mut kinds: Vec<LeakKind> = record(report, "pool", name)
        .allowed
        .iter()
        .map(|a| a.kind)
        .collect();
    kinds.sort();
    kinds
}

#[test]
fn allowed_sockets_are_counted_the_same_whatever_the_linger() {
    // The pool's server keeps the connection it accepted for 2 s after the
    // test hangs up; the test's own forgotten listener makes it linger
    // (5 s here), and the kept connection closes meanwhile. What was
    // allowed at the test's exit is what is counted: with no linger, the
    // long one, and under --fast alike.
    let name = "a_kept_connection_closes_while_a_leak_lingers";
    let run = |flags: &[&str]| {
        let args = [&["--format", "json", "--exact", name][..], flags].concat();
        let output = on_fixture("pooled", &args);
        let report = json_report(&output);
        let err = stderr(&output);
        assert_eq!(
            verdicts(&report),
            [(
                format!("pool::{name}"),
                Outcome::Passed,
                vec!["listen:error".to_owned()]
            )],
            "{flags:?}\n{err}"
        );
        (
            allowed_kinds(&report, name),
            report.summary.allowed,
            record(&report, "pool", name).linger_ms,
        )
    };
    let kept = vec![LeakKind::CloseWait, LeakKind::Listen];
    let (at_once, count, linger) = run(&["--linger", "0"]);
    assert_eq!((at_once, count, linger), (kept.clone(), 2, None));
    for flags in [&["--linger", "5000"][..], &["--linger", "5000", "--fast"]] {
        let (kinds, count, linger) = run(flags);
        assert_eq!((kinds, count), (kept.clone(), 2), "{flags:?}");
        assert!(linger.is_some(), "{flags:?}: the test lingered");
    }
}

#[test]
fn the_text_summary_counts_and_names_the_allowed_sockets() {
    let output = on_fixture("pooled", &["--exact", "uses_two_servers"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        status(&output),
        ExitStatus::Clean.code(),
        "{}",
        stderr(&output)
    );
    assert!(
        stdout.contains(&format!(" Allowed 2 listen: {REASON}\n")),
        "{stdout}"
    );
}

#[test]
fn without_the_file_the_pooled_listener_is_a_leak_and_allow_from_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("pooled");
    copy_fixture("pooled", &copy);
    std::fs::remove_file(copy.join("sockcheck.toml")).unwrap();
    let manifest = copy.join("Cargo.toml");
    // Its own target dir: a build of the copy in the shared one would
    // replace the fixture's test binary (same package, same file name).
    let target = dir.path().join("target");
    let bare = on_project_command(
        &manifest,
        &target,
        &["--exact", "uses_the_pool", "--format", "json"],
    )
    .output()
    .expect("run cargo-sockcheck");
    let report = json_report(&bare);
    let test = record(&report, "pool", "uses_the_pool");
    assert_eq!(allowed(test), [], "{}", stderr(&bare));
    assert_eq!(
        verdicts(&report)[0].2,
        ["listen:error"],
        "{}",
        stderr(&bare)
    );

    let by_flag = on_project_command(
        &manifest,
        &target,
        &[
            "--exact",
            "uses_the_pool",
            "--allow-from",
            "function=pooled::server_pool::*",
            "--format",
            "json",
        ],
    )
    .output()
    .expect("run cargo-sockcheck");
    let report = json_report(&by_flag);
    assert_eq!(
        allowed(record(&report, "pool", "uses_the_pool")),
        [(
            LeakKind::Listen,
            RULE,
            "--allow-from on the command line",
            false
        )],
        "{}",
        stderr(&by_flag)
    );
    assert_eq!(status(&by_flag), ExitStatus::Clean.code());
}

/// httpmock's pool in miniature, for a copy of the pooled fixture whose
/// library is named `httpmock`: the module path and the generator's name
/// are httpmock's (0.7 to 0.9), so its built-in rule is the one that
/// applies.
const HTTPMOCK_API: &str = r#"
pub mod server {
    use std::io::Write;
    use std::net::{SocketAddr, TcpListener};
    use std::sync::mpsc;

    /// Starts a server on a thread of its own, serving until the process exits.
    pub const LOCAL_SERVER_ADAPTER_GENERATOR: fn() -> SocketAddr = || {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            sender.send(listener.local_addr().expect("an address")).expect("a caller");
            for mut stream in listener.incoming().flatten() {
                let _ = stream.write_all(b"ok");
            }
        });
        receiver.recv().expect("the server's address")
    };

    pub fn start() -> SocketAddr {
        LOCAL_SERVER_ADAPTER_GENERATOR()
    }
}
"#;

/// Two tests of a crate that merely uses it: one uses a mock server, one
/// also forgets a listener of its own.
const HTTPMOCK_TESTS: &str = r#"
use std::io::Read;
use std::net::{TcpListener, TcpStream};

#[test]
fn uses_a_mock_server() {
    let mut client = TcpStream::connect(httpmock::api::server::start()).unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, "ok");
}

#[test]
fn leaks_beside_a_mock_server() {
    let _server = httpmock::api::server::start();
    std::mem::forget(TcpListener::bind("127.0.0.1:0").unwrap());
}
"#;

#[test]
fn httpmock_s_pool_is_allowed_with_zero_configuration_and_a_leak_beside_it_fails() {
    let copy = LeakyCopy::of("pooled");
    copy.append("Cargo.toml", "[lib]\nname = \"httpmock\"\n");
    copy.append("src/lib.rs", "pub mod api;\n");
    copy.write("src/api.rs", HTTPMOCK_API);
    copy.replace(
        "tests/pool.rs",
        "use pooled::server_pool;",
        "use httpmock::server_pool;",
    );
    copy.write("tests/mock.rs", HTTPMOCK_TESTS);
    let args = ["--format", "json", "--test", "mock"];
    let output = copy.sockcheck(&args);
    let report = json_report(&output);
    let err = stderr(&output);
    assert_eq!(
        verdicts(&report),
        [
            (
                "mock::leaks_beside_a_mock_server".to_owned(),
                Outcome::Passed,
                vec!["listen:error".to_owned()]
            ),
            (
                "mock::uses_a_mock_server".to_owned(),
                Outcome::Passed,
                vec![]
            ),
        ],
        "{err}"
    );
    let pooled = (
        LeakKind::Listen,
        "function httpmock::api::server::LOCAL_SERVER_ADAPTER_GENERATOR*",
        "httpmock's pool of mock servers serves until the process exits",
        true,
    );
    for name in ["uses_a_mock_server", "leaks_beside_a_mock_server"] {
        assert_eq!(allowed(record(&report, "mock", name)), [pooled], "{name}");
    }
    assert_eq!(status(&output), ExitStatus::Leak.code(), "{err}");

    // Without the known pools, the pool's listeners are leaks too.
    let output = copy.sockcheck(&[&args[..], &["--no-known-pools"]].concat());
    let report = json_report(&output);
    assert_eq!(
        verdicts(&report)[1].2,
        ["listen:error"],
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_bad_allow_from_rule_is_one_line_and_status_2() {
    let output = sockcheck(&["--allow-from", "mockito"]);
    assert_eq!(status(&output), ExitStatus::Error.code());
    let err = stderr(&output);
    assert!(
        err.contains("`mockito` is not a rule: write function=GLOB, crate=NAME or file=GLOB"),
        "{err}"
    );
}

/// Copies the fixture `name` (its sources and files, not its target dir) to `to`.
fn copy_fixture(name: &str, to: &std::path::Path) {
    let from = fixture(name);
    let from = from.parent().expect("a fixture directory");
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "sockcheck.toml",
        "src/lib.rs",
        "src/server_pool.rs",
        "tests/pool.rs",
    ] {
        let target = to.join(file);
        std::fs::create_dir_all(target.parent().expect("a parent")).unwrap();
        std::fs::copy(from.join(file), &target).unwrap();
    }
}
