//! End to end: creation sites. The built `cargo sockcheck` on the sites
//! fixture, whose tests leak sockets (and a process) from many places: the
//! test thread, a spawned thread, a helper, the library under test, a tokio
//! worker, a child process, a test that aborts, a test that execs another
//! program, a socketpair. Each leaking line is marked `// site: NAME` in
//! the fixture's source; every leak must name that file and line. Also: the
//! holder thread, GitHub annotations, `--fast`/`--rerun-leaks`/`exec`, an
//! inherited socket (no origin) and the leaky fixture without debug info.

mod common;

use common::*;
use sockcheck::leak::Leak;
use sockcheck::report::Report;
use sockcheck::site::Origin;
use std::path::Path;
use std::process::Command;

/// `(test, marker, file)`: the test's one leak was opened on the line of
/// `file` marked `// site: marker`.
const SITES: [(&str, &str, &str); 10] = [
    ("leaks_in_test_thread", "test-thread", "tests/sites.rs"),
    (
        "leaks_in_spawned_thread",
        "spawned-thread",
        "tests/sites.rs",
    ),
    ("leaks_through_helper", "helper", "tests/sites.rs"),
    ("leaks_through_library", "library", "src/lib.rs"),
    ("leaks_in_tokio_worker", "tokio", "tests/sites.rs"),
    ("leaks_listener_held_by_a_thread", "held", "tests/sites.rs"),
    ("leaks_a_child_process", "child", "tests/sites.rs"),
    ("leaks_then_aborts", "abort", "tests/sites.rs"),
    (
        "becomes_a_server_that_leaks",
        "server",
        "src/bin/sites-server.rs",
    ),
    (
        "leaks_one_end_of_a_socketpair",
        "socketpair",
        "tests/sites.rs",
    ),
];

/// The line of the fixture's `file` marked `// site: marker` (exactly one).
fn site_line(file: &str, marker: &str) -> u32 {
    marked_line("sites", file, &format!("// site: {marker}"))
}

/// The one leak of test `name`.
fn only_leak<'a>(report: &'a Report, name: &str) -> &'a Leak {
    let leaks = &record(report, "sites", name).leaks;
    assert_eq!(leaks.len(), 1, "{name}: {leaks:#?}");
    &leaks[0]
}

/// `file:line` of an origin's site.
fn site_of(origin: &Origin) -> (String, u32) {
    let site = origin
        .site
        .as_ref()
        .unwrap_or_else(|| panic!("no site: {origin:#?}"));
    (
        site.file.clone().unwrap_or_default(),
        site.line.unwrap_or(0),
    )
}

fn assert_every_site(report: &Report) {
    for (name, marker, file) in SITES {
        let leak = only_leak(report, name);
        let origin = leak
            .opened
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no origin"));
        assert_eq!(
            site_of(origin),
            (file.to_owned(), site_line(file, marker)),
            "{name}: {origin:#?}"
        );
    }
}

#[test]
fn every_leak_names_the_line_that_opened_it() {
    let output = on_fixture("sites", &["--format", "json"]);
    let report = json_report(&output);
    assert_every_site(&report);

    // Sockets name their creating call; the leftover process the call
    // that started it.
    let socket_calls = ["socket", "accept", "accept4", "socketpair"];
    for (name, ..) in SITES {
        let syscall = &only_leak(&report, name).opened.as_ref().unwrap().syscall;
        if name == "leaks_a_child_process" {
            assert!(
                ["fork", "vfork", "clone", "clone3"].contains(&syscall.as_str()),
                "{syscall}"
            );
        } else {
            assert!(
                socket_calls.contains(&syscall.as_str()),
                "{name}: {syscall}"
            );
        }
    }
    let pair = only_leak(&report, "leaks_one_end_of_a_socketpair");
    assert_eq!(pair.opened.as_ref().unwrap().syscall, "socketpair");
    // The whole stack is there, innermost first, down to the test's frame.
    let origin = only_leak(&report, "leaks_through_helper")
        .opened
        .clone()
        .unwrap();
    let functions: Vec<&str> = origin
        .stack
        .iter()
        .filter_map(|f| f.function.as_deref())
        .collect();
    let helper = functions
        .iter()
        .position(|f| *f == "sites::helper_connects");
    let test = functions
        .iter()
        .position(|f| *f == "sites::leaks_through_helper");
    assert!(helper.is_some() && helper < test, "{functions:#?}");
}

#[test]
fn a_thread_blocked_on_a_leaked_listener_is_named_as_its_holder() {
    let output = on_fixture("sites", &["--format", "json", "held_by_a_thread"]);
    let report = json_report(&output);
    let leak = only_leak(&report, "leaks_listener_held_by_a_thread");
    assert_eq!(leak.held_by.len(), 1, "{leak:#?}");
    assert_eq!(leak.held_by[0].name, "server");
    assert!(leak.held_by[0].syscall.starts_with("accept"), "{leak:#?}");
    // Nobody is blocked on the others: nothing is said.
    let report = json_report(&on_fixture(
        "sites",
        &["--format", "json", "leaks_in_test_thread"],
    ));
    assert!(only_leak(&report, "leaks_in_test_thread")
        .held_by
        .is_empty());
}

#[test]
fn fast_mode_and_reruns_keep_the_sites() {
    let output = on_fixture(
        "sites",
        &["--format", "json", "--fast", "--rerun-leaks", "1"],
    );
    let report = json_report(&output);
    assert_every_site(&report);
}

#[test]
fn exec_as_cargo_s_target_runner_names_the_sites() {
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("exec.json");
    let runner = format!(
        "{} sockcheck exec --report {} --",
        env!("CARGO_BIN_EXE_cargo-sockcheck"),
        report_path.display()
    );
    let variable = format!(
        "CARGO_TARGET_{}_UNKNOWN_LINUX_GNU_RUNNER",
        std::env::consts::ARCH.to_uppercase()
    );
    // One test binary run whole under the tracer: the library's test
    // binary (no tests) and tests/sites.rs, filtered to two tests.
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["test", "--test", "sites", "--manifest-path"])
        .arg(fixture("sites"))
        .arg("--target-dir")
        .arg(fixture_target_dir())
        .args(["--", "leaks_through_library", "leaks_in_spawned_thread"])
        .env(variable, runner)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&report_path)
        .unwrap_or_else(|e| panic!("no report ({e}): {}", stderr(&output)));
    let report = sockcheck::report::json::parse(&text).unwrap();
    let mut sites: Vec<(String, u32)> = report.tests[0]
        .leaks
        .iter()
        .map(|leak| site_of(leak.opened.as_ref().expect("an origin")))
        .collect();
    sites.sort();
    assert_eq!(
        sites,
        [
            ("src/lib.rs".to_owned(), site_line("src/lib.rs", "library")),
            (
                "tests/sites.rs".to_owned(),
                site_line("tests/sites.rs", "spawned-thread")
            ),
        ]
    );
}

/// The modification time of every file in `target`'s test binaries'
/// directory: what changes when cargo rebuilds.
fn built_files(target: &Path) -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
    let mut files: Vec<_> = std::fs::read_dir(target.join("debug/deps"))
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (entry.path(), entry.metadata().unwrap().modified().unwrap())
        })
        .collect();
    files.sort();
    files
}

/// Issue 25: a target dir built in one checkout, used from another
/// (a shared `--target-dir`, a restored CI cache). Cargo does not rebuild;
/// the debug info names the first checkout, and every site must still be
/// the same file and line, in the second checkout's files.
#[test]
fn sites_survive_a_checkout_moved_after_its_build() {
    let target = fixture_target_dir().join("moved-checkout");
    let first = LeakyCopy::of("sites");
    let built_in = first.path("Cargo.toml").parent().unwrap().to_path_buf();
    let args = ["--format", "json"];
    let output = on_project_command(&first.path("Cargo.toml"), &target, &args)
        .output()
        .unwrap();
    let in_first = json_report(&output);
    let first_status = status(&output);
    assert_every_site(&in_first);
    let second = first.moved();
    let built = built_files(&target);
    drop(first);

    let output = on_project_command(&second.path("Cargo.toml"), &target, &args)
        .output()
        .unwrap();
    assert_eq!(
        built_files(&target),
        built,
        "cargo rebuilt in the second checkout, so nothing here tests a moved build"
    );
    let in_second = json_report(&output);
    assert_eq!(status(&output), first_status, "{}", stderr(&output));
    assert_eq!(verdicts(&in_second), verdicts(&in_first));
    assert_every_site(&in_second);
    for (name, marker, file) in SITES {
        let origin = only_leak(&in_second, name).opened.as_ref().unwrap();
        let (file_there, line) = site_of(origin);
        assert_eq!(file_there, file);
        let source = std::fs::read_to_string(second.path(file)).unwrap();
        let text = source.lines().nth(line as usize - 1).unwrap();
        assert!(
            text.ends_with(&format!("// site: {marker}")),
            "{name}: {text}"
        );
    }
    assert!(
        !stderr(&output).contains("sites come from"),
        "{}",
        stderr(&output)
    );

    // GitHub annotations land on the second checkout's file and line.
    let output = on_project_command(
        &second.path("Cargo.toml"),
        &target,
        &["leaks_through_library"],
    )
    .env("GITHUB_ACTIONS", "true")
    .env(
        "GITHUB_WORKSPACE",
        second.path("Cargo.toml").parent().unwrap(),
    )
    .output()
    .unwrap();
    let properties = format!(
        "file=src/lib.rs,line={},",
        site_line("src/lib.rs", "library")
    );
    let err = stderr(&output);
    assert!(
        err.lines()
            .any(|line| line.starts_with("::error ") && line.contains(&properties)),
        "no annotation with {properties}:\n{err}"
    );

    // exec, as cargo's target runner from the second checkout: cargo sets
    // CARGO_MANIFEST_DIR to it.
    let binary = test_binary(&second.path("Cargo.toml"), &target, "sites");
    assert_eq!(built_files(&target), built, "cargo rebuilt for exec");
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("exec.json");
    let exec = |current_dir: &Path| {
        let mut command = sockcheck_command(&["exec", "--report"]);
        command
            .arg(&report_path)
            .arg("--")
            .arg(&binary)
            .arg("leaks_through_library")
            .current_dir(current_dir)
            .env_remove("CARGO_MANIFEST_DIR");
        command
    };
    let output = exec(dir.path())
        .env(
            "CARGO_MANIFEST_DIR",
            second.path("Cargo.toml").parent().unwrap(),
        )
        .output()
        .unwrap();
    let report = report_file(&report_path);
    let leak = &record(&report, "sites", "leaks_through_library").leaks;
    assert_eq!(leak.len(), 1, "{}", stderr(&output));
    assert_eq!(
        site_of(leak[0].opened.as_ref().unwrap()),
        ("src/lib.rs".to_owned(), site_line("src/lib.rs", "library"))
    );
    assert!(
        !stderr(&output).contains("sites come from"),
        "{}",
        stderr(&output)
    );

    // From a directory that has no counterpart of the files: no site, and
    // said once, naming the first checkout.
    let output = exec(dir.path()).output().unwrap();
    let report = report_file(&report_path);
    let leak = &record(&report, "sites", "leaks_through_library").leaks;
    assert_eq!(leak.len(), 1, "{}", stderr(&output));
    assert_eq!(leak[0].opened.as_ref().unwrap().site, None);
    let note = format!(
        "sockcheck: note: sites come from a build made in {}: rebuild or check --target-dir",
        built_in.display()
    );
    let err = stderr(&output);
    assert_eq!(err.matches(&note).count(), 1, "{err}");
}

#[test]
fn a_socket_inherited_from_before_the_run_gets_no_origin() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    // A listener sockcheck's process inherits and hands down to the
    // command: it was opened before anything was traced.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fd = listener.as_raw_fd();
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("exec.json");
    let path = report_path.to_str().unwrap();
    let mut command = sockcheck_command(&["exec", "--report", path, "--", "true"]);
    command.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")));
    // Inheritable by that child only, not by what other tests spawn
    // meanwhile: close-on-exec is cleared between its fork and exec.
    // SAFETY: fcntl is async-signal-safe; `fd` stays open until the child
    // has started.
    unsafe {
        command.pre_exec(move || match libc::fcntl(fd, libc::F_SETFD, 0) {
            -1 => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        })
    };
    let output = command.output().unwrap();
    drop(listener);
    let text = std::fs::read_to_string(&report_path)
        .unwrap_or_else(|e| panic!("no report ({e}): {}", stderr(&output)));
    let report = sockcheck::report::json::parse(&text).unwrap();
    let leaks = &report.tests[0].leaks;
    assert_eq!(leaks.len(), 1, "{leaks:#?}");
    assert_eq!(leaks[0].opened, None, "{leaks:#?}");
}

#[test]
fn github_annotations_land_on_the_site_s_file_and_line() {
    let output = on_fixture_command("sites", &["leaks_through_library", "leaks_through_helper"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKSPACE", repo_root())
        .output()
        .unwrap();
    let err = stderr(&output);
    for (marker, file) in [("library", "src/lib.rs"), ("helper", "tests/sites.rs")] {
        let properties = format!(
            "file=tests/fixtures/sites/{file},line={},",
            site_line(file, marker)
        );
        assert!(
            err.lines()
                .any(|line| line.starts_with("::error ") && line.contains(&properties)),
            "no annotation with {properties}:\n{err}"
        );
    }
}

/// The origin of the leaky fixture's `leaks_close_wait_ipv4` leak, the
/// fixture built with `debug = <debug>` in a target dir of its own (so the
/// other tests' full-debug build is not replaced).
fn close_wait_origin_built_with(debug: &str) -> Origin {
    let target = target_dir().join(format!("fixtures-debug-{debug}"));
    let output = on_project_command(
        &fixture("leaky"),
        &target,
        &["--format", "json", "leaks_close_wait_ipv4"],
    )
    .env("CARGO_PROFILE_DEV_DEBUG", debug)
    .env("CARGO_PROFILE_TEST_DEBUG", debug)
    .output()
    .unwrap();
    let report = json_report(&output);
    let leak = &record(&report, "net", "leaks_close_wait_ipv4").leaks[0];
    leak.opened.clone().expect("an origin")
}

#[test]
fn without_debug_info_the_site_is_a_function_and_lines_are_said_to_need_it() {
    let origin = close_wait_origin_built_with("false");
    let site = origin.site.as_ref().expect("a site");
    assert_eq!(site.function.as_deref(), Some("leaky::close_wait_socket"));
    assert_eq!((site.file.as_deref(), site.line), (None, None));
    assert_eq!(origin.note.as_deref(), Some("lines need debug info"));
}

#[test]
fn with_line_tables_only_every_function_keeps_its_path() {
    // `debug = "line-tables-only"` (a common way to keep CI builds small)
    // names functions in DWARF without their paths (`leaks_close_wait_ipv4`,
    // `connect<…>`); the symbol table still has them.
    let origin = close_wait_origin_built_with("line-tables-only");
    let site = origin.site.as_ref().expect("a site");
    assert_eq!(site.function.as_deref(), Some("leaky::close_wait_socket"));
    assert_eq!(site.file.as_deref(), Some("src/lib.rs"));
    assert!(site.line.is_some(), "{site:?}");
    assert_eq!(origin.note, None);
    let functions: Vec<&str> = origin
        .stack
        .iter()
        .filter_map(|frame| frame.function.as_deref())
        .collect();
    assert!(
        functions.contains(&"net::leaks_close_wait_ipv4"),
        "{functions:#?}"
    );
    assert!(
        functions
            .iter()
            .any(|function| function.starts_with("std::net::tcp::TcpStream::connect")),
        "{functions:#?}"
    );
}
