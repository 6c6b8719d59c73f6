//! End to end: the lines a user needs, and who made the socket, on the
//! `shared` fixture. Its tests keep sockets the ways crate authors do: a
//! server a test helper starts through the library and never stops, a
//! pool made inside a dependency (`minipool`, a path dependency outside
//! the workspace, as a crates.io one would be). Lines are found by the
//! fixture's `// trail: NAME` markers. One test serves the helper crate
//! `lockhelper` from a local registry, so that cargo unpacks it where it
//! unpacks crates.io's, to see how a registry crate's file is named.

mod common;

use common::*;
use sockcheck::leak::LeakKind;
use sockcheck::report::Report;

/// `file:line:` of the marked line, as the report begins a location.
fn place(file: &str, marker: &str) -> String {
    format!(
        "{file}:{}:",
        marked_line("shared", file, &format!("// {marker}"))
    )
}

/// The JSON report of the fixture's test `name` alone, with `args`.
fn run_one(name: &str, args: &[&str]) -> (Report, String) {
    let mut all = vec!["--exact", name, "--format", "json"];
    all.extend_from_slice(args);
    let output = on_fixture("shared", &all);
    (json_report(&output), stderr(&output))
}

#[test]
fn a_helper_s_server_names_the_library_the_helper_and_the_test_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let markdown = dir.path().join("report.md");
    let output = on_fixture(
        "shared",
        &[
            "--exact",
            "a_helper_starts_a_server_never_joined",
            "--markdown",
            markdown.to_str().unwrap(),
        ],
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let library = place("src/lib.rs", "site: library");
    let helper = place("tests/support/mod.rs", "trail: helper");
    let test = place("tests/shared.rs", "trail: test");
    let line = text
        .lines()
        .find(|line| line.trim_start().starts_with("opened at "))
        .unwrap_or_else(|| panic!("no site line:\n{text}"));
    // The library's line first, then the helper's, then the test's.
    let at = |needle: &str| {
        line.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing in {line}"))
    };
    assert!(
        at(&library) < at(&helper) && at(&helper) < at(&test),
        "{line}"
    );
    assert!(line.contains("(start_server)"), "{line}");
    assert!(
        line.contains("(a_helper_starts_a_server_never_joined)"),
        "{line}"
    );

    let markdown = std::fs::read_to_string(&markdown).unwrap();
    let row = markdown
        .lines()
        .find(|row| row.contains("a_helper_starts_a_server_never_joined") && row.contains(" | "))
        .unwrap_or_else(|| panic!("no row:\n{markdown}"));
    assert!(
        row.contains(&format!("`{library}")) && row.contains(&format!("← `{test}")),
        "{row}"
    );

    // The JSON keeps the whole stack: every frame of the trail is in it.
    let (report, err) = run_one("a_helper_starts_a_server_never_joined", &[]);
    let leak = &record(&report, "shared", "a_helper_starts_a_server_never_joined").leaks[0];
    let origin = leak.opened.as_ref().expect("an origin");
    assert_eq!(origin.trail().len(), 3, "{origin:#?}\n{err}");
    for frame in origin.trail() {
        assert!(origin.stack.contains(frame), "{frame:?}");
    }
}

#[test]
fn a_pool_made_inside_a_dependency_names_the_crate_and_the_rule_proposed_allows_it() {
    let name = "a_dependency_keeps_a_pool";
    let output = on_fixture("shared", &["--exact", name]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(status(&output), 1, "{text}");
    assert!(
        text.contains(
            "opened by socket() in crate minipool (minipool::pool::serve), outside the project's code"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "Rule 1 leak was opened by crate minipool, outside the project's code: if that crate \
             keeps such sockets open on purpose, --allow-from function=minipool::pool::* or put \
             in sockcheck.toml:"
        ),
        "{text}"
    );
    let toml = [
        "[[allow-sockets]]",
        "function = \"minipool::pool::*\"",
        "reason = \"minipool keeps these sockets open on purpose\"",
    ];
    for line in toml {
        assert!(
            text.lines().any(|l| l.trim() == line),
            "{line} missing:\n{text}"
        );
    }

    // Pasted as proposed, the rule allows the pool: the run is clean.
    let copy = tempfile::tempdir().unwrap();
    let fixtures = copy.path();
    copy_tree(
        &fixture("shared").with_file_name(""),
        &fixtures.join("shared"),
    );
    copy_tree(
        &fixture("shared").with_file_name("../path-deps"),
        &fixtures.join("path-deps"),
    );
    let config = fixtures.join("shared/sockcheck.toml");
    let mut written = std::fs::read_to_string(&config).unwrap();
    written.push('\n');
    written.push_str(&toml.join("\n"));
    std::fs::write(&config, written).unwrap();
    let pasted = on_project_command(
        &fixtures.join("shared/Cargo.toml"),
        &fixtures.join("target"),
        &["--exact", name, "--format", "json"],
    )
    .output()
    .expect("run cargo-sockcheck");
    let report = json_report(&pasted);
    let test = record(&report, "shared", name);
    assert_eq!(
        (test.leaks.len(), test.allowed.len()),
        (0, 1),
        "{test:#?}\n{}",
        stderr(&pasted)
    );
    assert_eq!(test.allowed[0].kind, LeakKind::Listen);
    assert_eq!(test.allowed[0].rule, "function minipool::pool::*");
    assert_eq!(status(&pasted), 0, "{}", stderr(&pasted));
}

/// Copies the files of `from` (not a `target/` in it) into `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_name() == "target" {
            continue;
        }
        if path.is_dir() {
            copy_tree(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// The tests whose server lives in a static, with the file and marker of
/// the line that binds it.
const SHARED: [(&str, &str); 4] = [
    ("first_uses_the_shared_server", "tests/shared.rs"),
    ("second_uses_the_shared_server", "tests/shared.rs"),
    ("third_uses_the_shared_server", "tests/shared.rs"),
    ("uses_a_helper_crate_s_once_lock", "lockhelper/src/lib.rs"),
];

#[test]
fn a_server_kept_in_a_static_is_shared_by_design_listed_and_judged_only_when_asked() {
    let output = on_fixture(
        "shared",
        &["--format", "json", "shared_server", "once_lock"],
    );
    let report = json_report(&output);
    let err = stderr(&output);
    assert_eq!(status(&output), 0, "{err}");
    let lazy_lock = format!(
        "made once per process by the static initialized at {}20 (SERVER)",
        place("tests/shared.rs", "shared: lazylock")
    );
    for (name, file) in SHARED {
        let test = record(&report, "shared", name);
        // One shared socket per process, listed with where its static was
        // made; no leak, no linger.
        assert_eq!(test.leaks, [], "{name}: {test:#?}");
        let [socket] = &test.allowed[..] else {
            panic!("{name}: one shared socket expected: {test:#?}");
        };
        assert!(socket.shared && socket.built_in, "{socket:#?}");
        assert_eq!(
            (socket.kind, socket.rule.as_str()),
            (LeakKind::Listen, "shared static")
        );
        assert!(socket.reason.contains(file), "{name}: {}", socket.reason);
        if file == "tests/shared.rs" {
            assert_eq!(socket.reason, lazy_lock);
        }
        assert_eq!(test.linger_ms, None, "{name}");
    }
    assert_eq!(
        (report.summary.leaking_tests, report.summary.allowed),
        (0, 4)
    );

    // `--deny shared`: the same sockets are the leaks they are.
    let denied = on_fixture(
        "shared",
        &[
            "--format",
            "json",
            "--deny",
            "shared",
            "shared_server",
            "once_lock",
        ],
    );
    let report = json_report(&denied);
    assert_eq!(status(&denied), 1, "{}", stderr(&denied));
    for (name, _) in SHARED {
        assert_eq!(verdicts_of(&report, name), ["listen:error"], "{name}");
    }
}

/// `kind:severity` of each leak of test `name`.
fn verdicts_of(report: &Report, name: &str) -> Vec<String> {
    record(report, "shared", name)
        .leaks
        .iter()
        .map(|leak| format!("{}:{}", leak.kind, leak.severity))
        .collect()
}

#[test]
fn a_static_whose_initializer_spawns_the_binding_thread_is_shared() {
    // The listener's own stack ends at its thread's start; the static's
    // initializer is where that thread was spawned.
    let name = "uses_a_server_its_static_spawned";
    let (report, err) = run_one(name, &[]);
    let test = record(&report, "shared", name);
    assert_eq!(test.leaks, [], "{test:#?}\n{err}");
    let [socket] = &test.allowed[..] else {
        panic!("one shared socket expected: {test:#?}\n{err}");
    };
    assert!(socket.shared && socket.built_in, "{socket:#?}");
    assert_eq!(
        (socket.kind, socket.rule.as_str()),
        (LeakKind::Listen, "shared static")
    );
    let spawned_at = place("tests/shared.rs", "shared: spawned");
    assert!(
        socket.reason.starts_with(&format!(
            "made once per process by the static initialized at {spawned_at}"
        )) && socket.reason.ends_with(" (SPAWNED)"),
        "{}",
        socket.reason
    );

    // Judged when asked, like any shared socket.
    let (report, err) = run_one(name, &["--deny", "shared"]);
    assert_eq!(verdicts_of(&report, name), ["listen:error"], "{err}");
}

#[test]
fn a_static_whose_initializer_spawns_the_binding_thread_is_not_lingered_for() {
    let name = "uses_a_server_its_static_spawned";
    let (report, err) = run_one(name, &[]);
    let test = record(&report, "shared", name);
    assert_eq!(test.allowed.len(), 1, "{test:#?}\n{err}");
    assert_eq!(test.linger_ms, None, "{test:#?}");
}

#[test]
fn a_full_run_counts_each_rule_s_hits_and_names_the_stale_one() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = on_fixture("shared", &["--report", json.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&output.stdout);
    let report = report_file(&json);
    let hits = |rule: &str| {
        let found = report.rules.iter().find(|u| u.rule == rule);
        found.unwrap_or_else(|| panic!("{rule}: {:#?}", report.rules))
    };
    let gone = hits("function shared::gone::*");
    assert!(gone.stale && gone.hits == 0, "{gone:#?}");
    assert_eq!(hits("shared static").hits, 5);
    assert!(!hits("shared static").stale);
    assert!(
        text.contains(
            "Rules `function shared::gone::*` (the old shared server) matched no socket in a run \
             of every test: remove it, or fix its pattern"
        ),
        "{text}"
    );

    // The same rule is not called stale when only some tests ran.
    let some = on_fixture("shared", &["--format", "json", "shared_server"]);
    let report = json_report(&some);
    assert!(report.rules.iter().all(|u| !u.stale), "{:#?}", report.rules);
}

#[test]
fn a_file_rule_naming_a_test_file_is_said_to_allow_whole_tests() {
    // Both the test's own listener and the dependency's pool (whose thread
    // the test started: its spawn chain reaches the test's line).
    let name = "a_declared_pool_is_allowed_and_a_leak_beside_it_fails";
    let output = on_fixture(
        "shared",
        &["--exact", name, "--allow-from", "file=tests/shared.rs"],
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(
            "Rules `file tests/shared.rs` allowed 2 sockets at the tests' own frames: it allows \
             everything those tests open"
        ),
        "{text}"
    );
}

#[test]
fn a_pool_a_dependency_declares_in_its_cargo_toml_is_allowed_and_a_leak_beside_it_fails() {
    let name = "a_declared_pool_is_allowed_and_a_leak_beside_it_fails";
    let (report, err) = run_one(name, &[]);
    let test = record(&report, "shared", name);
    let [allowed] = &test.allowed[..] else {
        panic!("one allowed socket expected: {test:#?}\n{err}");
    };
    assert_eq!(
        (
            allowed.rule.as_str(),
            allowed.reason.as_str(),
            allowed.built_in
        ),
        (
            "function declared::pool::* (declared by crate declared)",
            "declared's servers serve until the process exits",
            false
        )
    );
    // The test's own listener beside it is still a leak, at its line.
    assert_eq!(verdicts_of(&report, name), ["listen:error"], "{err}");
    let site = test.leaks[0].site().expect("a site");
    assert_eq!(
        format!(
            "{}:{}:",
            site.file.as_deref().unwrap_or(""),
            site.line.unwrap_or(0)
        ),
        place("tests/shared.rs", "trail: beside")
    );
    let rule = report
        .rules
        .iter()
        .find(|u| u.rule == allowed.rule)
        .expect("the declared rule is reported");
    assert_eq!(rule.hits, 1);
}

/// Runs `command`, which must succeed.
fn succeed(command: &mut std::process::Command) -> std::process::Output {
    let output = command.output().expect("run the command");
    assert!(output.status.success(), "{command:?}: {}", stderr(&output));
    output
}

#[test]
fn a_registry_crate_s_static_is_named_from_its_package_directory() {
    // The helper crate with a OnceLock server, served by a local registry
    // in place of crates.io: cargo unpacks it under
    // $CARGO_HOME/registry/src/INDEX/lockhelper-0.2.0/, as it would a
    // crate from crates.io.
    let dir = tempfile::tempdir().unwrap();
    let (home, registry) = (dir.path().join("home"), dir.path().join("registry"));
    let source = dir.path().join("lockhelper");
    copy_tree(
        &repo_root().join("tests/fixtures/path-deps/lockhelper"),
        &source,
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    succeed(
        std::process::Command::new(&cargo)
            .args([
                "package",
                "--offline",
                "--no-verify",
                "--allow-dirty",
                "--quiet",
            ])
            .arg("--manifest-path")
            .arg(source.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(dir.path().join("package"))
            .env("CARGO_HOME", &home),
    );
    let packaged = dir.path().join("package/package/lockhelper-0.2.0.crate");
    std::fs::create_dir_all(registry.join("index/lo/ck")).unwrap();
    std::fs::copy(&packaged, registry.join("lockhelper-0.2.0.crate")).unwrap();
    let sum = succeed(std::process::Command::new("sha256sum").arg(&packaged));
    let sum = String::from_utf8_lossy(&sum.stdout);
    let sum = sum.split_whitespace().next().expect("a checksum");
    std::fs::write(
        registry.join("index/lo/ck/lockhelper"),
        format!(
            "{{\"name\":\"lockhelper\",\"vers\":\"0.2.0\",\"deps\":[],\"cksum\":\"{sum}\",\
             \"features\":{{}},\"yanked\":false}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        home.join("config.toml"),
        format!(
            "[source.crates-io]\nreplace-with = \"local\"\n\n[source.local]\nlocal-registry = {:?}\n",
            registry.to_str().unwrap()
        ),
    )
    .unwrap();

    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::create_dir_all(project.join("tests")).unwrap();
    std::fs::write(
        project.join("Cargo.toml"),
        "[package]\nname = \"fromregistry\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nlockhelper = \"0.2.0\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(project.join("src/lib.rs"), "").unwrap();
    std::fs::write(
        project.join("tests/registry.rs"),
        "#[test]\nfn uses_a_registry_crate_s_once_lock() {\n    \
         std::net::TcpStream::connect(lockhelper::server()).unwrap();\n}\n",
    )
    .unwrap();
    let output = on_project_command(
        &project.join("Cargo.toml"),
        &project.join("target"),
        &["--format", "json"],
    )
    .env("CARGO_HOME", &home)
    .output()
    .unwrap();
    let err = stderr(&output);
    assert_eq!(status(&output), 0, "{err}");
    let report = json_report(&output);
    let test = record(&report, "registry", "uses_a_registry_crate_s_once_lock");
    let [socket] = &test.allowed[..] else {
        panic!("one shared socket expected: {test:#?}\n{err}");
    };
    assert!(socket.shared, "{socket:#?}");
    let line = marked_line("path-deps", "lockhelper/src/lib.rs", ".expect(\"bind\");");
    assert!(
        socket.reason.starts_with(&format!(
            "made once per process by the static initialized at lockhelper-0.2.0/src/lib.rs:{line}:"
        )) && socket.reason.ends_with(" (server)"),
        "{}",
        socket.reason
    );
}
