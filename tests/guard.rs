//! Drives `tests/guard_fixture.rs` (ordinary `#[test]`s under
//! `sockcheck::guard()`) as a subprocess, one test at a time: exactly the
//! leaking tests must fail, naming their sockets. How the fixture executable
//! is found: see `tests/fixture_binary/mod.rs`.

mod fixture_binary;

use fixture_binary::{command, failed_tests, failure_of, output, printed, text};

const FIXTURE: &str = "guard_fixture";

#[test]
fn exactly_the_leaking_tests_fail_naming_their_sockets() {
    let output = output(command(FIXTURE).args(["--include-ignored", "--test-threads=1"]));
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(101), "{stdout}\n{stderr}");
    assert_eq!(
        failed_tests(&stdout),
        [
            "leaks_close_wait",
            "leaks_listener",
            "leaks_listener_and_panics"
        ],
        "{stdout}"
    );
    // All five ran to the end: no panic while panicking aborted the binary.
    assert!(
        stdout.contains("test result: FAILED. 2 passed; 3 failed; 0 ignored"),
        "{stdout}"
    );

    let close_wait = failure_of(&stdout, "leaks_close_wait");
    let [addresses] = &printed(close_wait, "close-wait")[..] else {
        panic!("no close-wait addresses printed:\n{close_wait}");
    };
    assert!(
        close_wait.contains("sockcheck: the test left 1 socket open"),
        "{close_wait}"
    );
    assert!(
        close_wait.contains(&format!("error close-wait: tcp {addresses} CLOSE_WAIT")),
        "{close_wait}"
    );
    // The panic points at the test, not at sockcheck's drop.
    assert!(
        close_wait.contains("(guard made at tests/guard_fixture.rs:"),
        "{close_wait}"
    );

    let listen = failure_of(&stdout, "leaks_listener");
    let [address] = &printed(listen, "listen")[..] else {
        panic!("no listen address printed:\n{listen}");
    };
    assert!(
        listen.contains(&format!("error listen: tcp {address} LISTEN")),
        "{listen}"
    );

    // A test that panics on its own keeps its message; the guard stays quiet.
    let panicked = failure_of(&stdout, "leaks_listener_and_panics");
    assert!(panicked.contains("the test's own failure"), "{panicked}");
    assert!(!panicked.contains("sockcheck:"), "{panicked}");
}

#[test]
fn warnings_are_printed_and_fail_nothing() {
    let name = "keeps_a_connection_which_only_warns";
    let output =
        output(command(FIXTURE).args(["--include-ignored", "--exact", name, "--nocapture"]));
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("running 1 test"), "{stdout}");
    assert!(
        stderr.contains(&format!("sockcheck: test `{name}` left 2 sockets open:")),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("    warning established: tcp ").count(),
        2,
        "{stderr}"
    );
}

#[test]
fn without_the_fixture_variable_even_ignored_tests_pass() {
    let output = output(
        command(FIXTURE)
            .args(["--include-ignored"])
            .env_remove("SOCKCHECK_FIXTURE"),
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("5 passed; 0 failed"), "{stdout}");
}

/// A package directory holding only a `Cargo.toml` with `metadata`.
fn package_with(metadata: &str) -> tempfile_dir::Dir {
    tempfile_dir::Dir::with_manifest(&format!(
        "[package]\nname = \"configured\"\nversion = \"0.0.0\"\n\n{metadata}"
    ))
}

#[test]
fn the_guard_reads_the_package_configuration_and_names_stack_rules_it_cannot_apply() {
    let package = package_with(
        "[package.metadata.sockcheck.levels]\nlisten = \"allow\"\n\n\
         [[package.metadata.sockcheck.allow-sockets]]\ncrate = \"mockito\"\nreason = \"pool\"\n",
    );
    let allowed = output(
        command(FIXTURE)
            .env("CARGO_MANIFEST_DIR", package.path())
            .args([
                "--exact",
                "leaks_listener",
                "--include-ignored",
                "--nocapture",
            ]),
    );
    let (stdout, stderr) = text(&allowed);
    // `listen = "allow"` from the package's metadata: the leak is no failure.
    assert_eq!(allowed.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            "sockcheck: note: the configuration's 1 allow-sockets rule matches sockets by \
             their creation stack, which only `cargo sockcheck` records: the in-process \
             harness and guard cannot apply it\n"
        ),
        "{stderr}"
    );

    let broken = package_with("[package.metadata.sockcheck]\nlingr = 1\n");
    let failed = output(
        command(FIXTURE)
            .env("CARGO_MANIFEST_DIR", broken.path())
            .args(["--exact", "clean_round_trip"]),
    );
    let (stdout, stderr) = text(&failed);
    assert_eq!(failed.status.code(), Some(101), "{stdout}\n{stderr}");
    let failure = failure_of(&stdout, "clean_round_trip");
    assert!(
        failure.contains(&format!(
            "sockcheck: invalid sockcheck configuration: {}:6: package.metadata.sockcheck.lingr: \
             unknown field `lingr`",
            broken.path().join("Cargo.toml").display()
        )),
        "{failure}"
    );
}

/// A scratch directory removed on drop (sockcheck's own tests need no
/// tempfile crate for this).
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn with_manifest(manifest: &str) -> Dir {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("guard-config-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("a scratch directory");
            std::fs::write(path.join("Cargo.toml"), manifest).expect("a manifest");
            Dir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
