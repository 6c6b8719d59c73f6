//! End to end: `cargo sockcheck` as a CI gate on the leaky fixture: the
//! Markdown and JUnit reports, GitHub's job summary and annotations, the
//! baseline, configuration files, shards and their merge, and `exec` under
//! `cargo test` (under `cargo nextest`: tests/nextest.rs); and port
//! findings in a baseline, on the ports fixture.

mod common;

use cargo_sockcheck::ExitStatus;
use common::*;
use sockcheck::report::Outcome;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `scenario` with a TCP port that lies outside the kernel's
/// ephemeral range (read from the system, as sockcheck reads it), so that
/// the baseline and `allow-listen-ports` see it as fixed, and that is free
/// when picked. The scenario binds it later, in a test process; if
/// something else took it meanwhile, the scenario says so (false) and runs
/// again with another port.
fn with_a_fixed_port(mut scenario: impl FnMut(u16) -> bool) {
    let ephemeral = sockcheck::baseline::PortRange::system();
    let offset = (std::process::id() % 20_000) as u16;
    let free = (10_000..=u16::MAX)
        .cycle()
        .skip(usize::from(offset))
        .take(usize::from(u16::MAX - 10_000))
        .filter(|&port| !ephemeral.contains(port))
        .filter(|&port| TcpListener::bind(("127.0.0.1", port)).is_ok());
    for port in free.take(5) {
        if scenario(port) {
            return;
        }
    }
    panic!("5 fixed ports in a row were taken before the test could bind them");
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The `<testcase>` element of `name` in a JUnit document.
fn junit_case<'a>(xml: &'a str, name: &str) -> &'a str {
    let start = xml
        .find(&format!("<testcase name=\"{name}\""))
        .unwrap_or_else(|| panic!("no testcase {name} in\n{xml}"));
    let rest = &xml[start..];
    let open_tag = rest.find('>').expect("a closed tag");
    if rest[..open_tag].ends_with('/') {
        &rest[..=open_tag]
    } else {
        &rest[..rest.find("</testcase>").expect("an end tag")]
    }
}

/// The lines of stderr that start with `sockcheck: `.
fn notes(output: &Output) -> Vec<String> {
    stderr(output)
        .lines()
        .filter(|l| l.starts_with("sockcheck: "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn markdown_junit_job_summary_and_annotations_name_the_leaking_tests() {
    let dir = tempfile::tempdir().unwrap();
    let markdown = dir.path().join("sockcheck.md");
    let junit = dir.path().join("junit.xml");
    let summary = dir.path().join("step-summary.md");
    std::fs::write(&summary, "# written by an earlier step\n").unwrap();
    let output = on_fixture_command(
        "leaky",
        &[
            "--format",
            "markdown",
            "--markdown",
            path_str(&markdown),
            "--junit",
            path_str(&junit),
            "leaks_close_wait_ipv4",
            "leaks_udp",
            "clean_round_trip",
        ],
    )
    .env("GITHUB_STEP_SUMMARY", &summary)
    .env("GITHUB_ACTIONS", "true")
    .env("GITHUB_WORKSPACE", repo_root())
    .output()
    .unwrap();
    assert_eq!(
        status(&output),
        ExitStatus::Leak.code(),
        "{}",
        stderr(&output)
    );

    let written = std::fs::read_to_string(&markdown).unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), written);
    assert!(
        written.starts_with("### sockcheck: 2 leaking tests\n"),
        "{written}"
    );
    assert!(
        written.contains("| `net::leaks_close_wait_ipv4` | close-wait | CLOSE_WAIT | `127.0.0.1:"),
        "{written}"
    );
    assert!(
        written.contains("| `net::leaks_udp` | udp | UNCONN |"),
        "{written}"
    );
    assert!(!written.contains("clean_round_trip"), "{written}");
    // Appended to what earlier steps wrote.
    assert_eq!(
        std::fs::read_to_string(&summary).unwrap(),
        format!("# written by an earlier step\n{written}")
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    let close_wait = junit_case(&xml, "leaks_close_wait_ipv4");
    assert!(close_wait.contains("classname=\"net\""), "{close_wait}");
    assert!(
        close_wait.contains("<failure message=\"left 1 socket open: close-wait tcp 127.0.0.1:"),
        "{close_wait}"
    );
    assert!(close_wait.contains("type=\"socket-leak\""), "{close_wait}");
    let udp = junit_case(&xml, "leaks_udp");
    assert!(
        !udp.contains("<failure"),
        "a warning is not a failure: {udp}"
    );
    assert!(
        udp.contains("sockcheck: warning udp: udp 127.0.0.1:"),
        "{udp}"
    );
    assert!(!junit_case(&xml, "clean_round_trip").contains("<failure"));

    // Annotations go to stderr, where they cannot corrupt `--format json`.
    // Each is placed on the line that opened the socket (the helper in the
    // fixture's library, the test itself), from the repository root.
    let err = stderr(&output);
    let annotation = |level: &str, title: &str| {
        err.lines()
            .find(|line| line.starts_with(level) && line.contains(title))
            .unwrap_or_else(|| panic!("no {level} {title}:\n{err}"))
            .to_owned()
    };
    let close_wait = annotation(
        "::error file=tests/fixtures/leaky/src/lib.rs,line=",
        ",title=close-wait leak in net%3A%3Aleaks_close_wait_ipv4::\
         net::leaks_close_wait_ipv4 left a socket open: tcp 127.0.0.1:",
    );
    assert!(
        close_wait.contains("in leaky::close_wait_socket"),
        "{close_wait}"
    );
    annotation(
        "::warning file=tests/fixtures/leaky/tests/net.rs,line=",
        ",title=udp leak in net%3A%3Aleaks_udp::",
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("::error"));
}

#[test]
fn a_baseline_passes_known_leaks_fails_on_a_new_one_and_lists_fixed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.json");
    let baseline = path_str(&baseline);
    // Without the failing test, so that leaks alone decide the exit status.
    let skip = ["--skip", "fails_and_leaks_listener"];

    let written = on_fixture(
        "leaky",
        &[&skip[..], &["--write-baseline", baseline]].concat(),
    );
    // Writing a baseline is no gate: exit 0 once it is written.
    assert_eq!(
        status(&written),
        ExitStatus::Clean.code(),
        "{}",
        stderr(&written)
    );
    assert!(notes(&written).contains(&format!(
        "sockcheck: wrote a baseline of 8 leaks to {baseline}"
    )));

    let known = on_fixture("leaky", &[&skip[..], &["--baseline", baseline]].concat());
    assert_eq!(
        status(&known),
        ExitStatus::Clean.code(),
        "{}",
        stderr(&known)
    );
    assert!(
        notes(&known).contains(
            &"sockcheck: baseline: 0 new leaks (0 errors), 8 known leaks (not failing), 0 fixed"
                .to_owned()
        ),
        "{}",
        stderr(&known)
    );
    // Known leaks are shown, as warnings.
    let stdout = String::from_utf8_lossy(&known.stdout);
    assert!(
        stdout.contains("warning close-wait: tcp 127.0.0.1:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Leaks 7 leaking tests: 0 errors, 8 warnings ("),
        "{stdout}"
    );
    // The judged report is still the run's: its wall time is kept.
    assert!(stdout.contains(" Summary ["), "{stdout}");
    // The next step calls the known errors what they are, not warnings.
    assert!(
        stdout.contains(
            "    Next the baseline knows 5 errors: shown as warnings, they fail nothing; fix \
             them, then --write-baseline PATH shrinks the baseline; the other warnings fail \
             nothing either (--deny KIND makes a kind fail the run)\n"
        ),
        "{stdout}"
    );

    // A copy of the fixture with one new leak and one leak fixed.
    let copy = LeakyCopy::new();
    copy.append(
        "tests/net.rs",
        "#[test]\nfn leaks_new_listener() {\n    \
         std::mem::forget(TcpListener::bind(\"127.0.0.1:0\").unwrap());\n}\n",
    );
    copy.replace(
        "tests/net.rs",
        "fn leaks_close_wait_ipv4() {\n    std::mem::forget(",
        "fn leaks_close_wait_ipv4() {\n    drop(",
    );
    let markdown = dir.path().join("sockcheck.md");
    let args = [
        &skip[..],
        &["--baseline", baseline, "--markdown", path_str(&markdown)],
    ]
    .concat();
    let changed = copy.sockcheck(&args);
    assert_eq!(
        status(&changed),
        ExitStatus::Leak.code(),
        "{}",
        stderr(&changed)
    );
    let notes = notes(&changed);
    assert!(
        notes.contains(
            &"sockcheck: baseline: 1 new leak (1 error), 7 known leaks (not failing), 1 fixed"
                .to_owned()
        ),
        "{notes:#?}"
    );
    assert!(
        notes.iter().any(|n| n.starts_with(
            "sockcheck: new leak: net::leaks_new_listener: error listen: tcp 127.0.0.1:"
        )),
        "{notes:#?}"
    );
    assert!(
        notes.contains(
            &"sockcheck: fixed: net::leaks_close_wait_ipv4: close-wait tcp 127.0.0.1:* -> 127.0.0.1:* CLOSE_WAIT"
                .to_owned()
        ),
        "{notes:#?}"
    );
    let markdown = std::fs::read_to_string(&markdown).unwrap();
    let section = &markdown[markdown.find("#### Baseline").expect("a baseline section")..];
    assert!(
        section.contains(
            "New leaks, not in the baseline:\n\n```text\nnet::leaks_new_listener: error listen:"
        ),
        "{section}"
    );
    assert!(
        section.contains(
            "net::leaks_close_wait_ipv4: close-wait tcp 127.0.0.1:* -> 127.0.0.1:* CLOSE_WAIT"
        ),
        "{section}"
    );
    // The next step names the errors as new ones.
    let stdout = String::from_utf8_lossy(&changed.stdout);
    assert!(
        stdout.contains("    Next these errors are new, the baseline does not know them: "),
        "{stdout}"
    );
    // Not on GitHub Actions: no workflow commands.
    assert!(!stderr(&changed).contains("::error"));
}

#[test]
fn a_corrupt_baseline_is_a_one_line_error_before_any_test_runs() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.json");
    std::fs::write(&baseline, "{\"version\": 1, \"leaks\": [").unwrap();
    let output = on_fixture("leaky", &["--baseline", path_str(&baseline)]);
    assert_eq!(status(&output), ExitStatus::Error.code());
    let err = stderr(&output);
    assert!(
        err.starts_with(&format!(
            "error: {}: not a valid sockcheck baseline",
            baseline.display()
        )),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn shards_merged_give_the_verdicts_and_status_of_one_run() {
    let whole = on_fixture("leaky", &["--format", "json"]);
    let whole_report = json_report(&whole);
    let dir = tempfile::tempdir().unwrap();
    for strategy in ["count", "hash"] {
        let mut shards = Vec::new();
        let mut sizes = Vec::new();
        for shard in ["1/2", "2/2"] {
            let path = dir.path().join(format!("{strategy}-{}.json", &shard[..1]));
            let partition = format!("{strategy}:{shard}");
            let output = on_fixture(
                "leaky",
                &["--partition", &partition, "--report", path_str(&path)],
            );
            assert!(path.exists(), "no shard report: {}", stderr(&output));
            let report = report_file(&path);
            sizes.push(report.tests.len());
            shards.push(path);
        }
        assert!(sizes.iter().all(|&n| n > 0), "{strategy}: {sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), whole_report.tests.len());

        let mut args = vec!["report", "--format", "json", "--merge"];
        args.extend(shards.iter().map(|p| path_str(p)));
        let merged = sockcheck(&args);
        assert_eq!(
            verdicts(&json_report(&merged)),
            verdicts(&whole_report),
            "{strategy}"
        );
        assert_eq!(status(&merged), status(&whole), "{}", stderr(&merged));
    }
}

#[test]
fn report_renders_merged_markdown_and_applies_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("part.json");
    let baseline = dir.path().join("baseline.json");
    let output = on_fixture(
        "leaky",
        &["--report", path_str(&part), "leaks_close_wait", "leaks_udp"],
    );
    assert_eq!(
        status(&output),
        ExitStatus::Leak.code(),
        "{}",
        stderr(&output)
    );
    let part = path_str(&part);

    let markdown = sockcheck(&["report", "--format", "markdown", "--merge", part]);
    assert_eq!(status(&markdown), ExitStatus::Leak.code());
    let text = String::from_utf8_lossy(&markdown.stdout);
    assert!(
        text.starts_with("### sockcheck: 3 leaking tests\n"),
        "{text}"
    );

    // A baseline written from the merged report makes the same report pass.
    let write = sockcheck(&[
        "report",
        "--merge",
        part,
        "--write-baseline",
        path_str(&baseline),
    ]);
    assert_eq!(
        status(&write),
        ExitStatus::Clean.code(),
        "{}",
        stderr(&write)
    );
    let gated = sockcheck(&["report", "--merge", part, "--baseline", path_str(&baseline)]);
    assert_eq!(
        status(&gated),
        ExitStatus::Clean.code(),
        "{}",
        stderr(&gated)
    );

    let missing = sockcheck(&["report", "--merge", part, "/nonexistent/shard.json"]);
    assert_eq!(status(&missing), ExitStatus::Error.code());
    assert!(
        stderr(&missing).starts_with("error: cannot read report /nonexistent/shard.json"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn exec_as_cargo_s_target_runner_finds_the_leaks_of_cargo_test() {
    let runner = format!(
        "{} sockcheck exec --",
        env!("CARGO_BIN_EXE_cargo-sockcheck")
    );
    let variable = format!(
        "CARGO_TARGET_{}_UNKNOWN_LINUX_GNU_RUNNER",
        std::env::consts::ARCH.to_uppercase()
    );
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["test", "--no-fail-fast", "--manifest-path"])
        .arg(fixture("leaky"))
        .arg("--target-dir")
        .arg(fixture_target_dir())
        .env(variable, runner)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let err = stderr(&output);
    assert!(!output.status.success(), "{err}");
    // Each test binary is one traced process; what it left open is named.
    assert!(err.contains("sockcheck: leaky left sockets open:"), "{err}");
    assert!(err.contains("sockcheck: net left sockets open:"), "{err}");
    assert!(err.contains("error listen: tcp 127.0.0.1:"), "{err}");
    assert!(err.contains("error close-wait: tcp 127.0.0.1:"), "{err}");
}

/// `exec --report PATH` writes the JSON report of the one command it ran,
/// in the layout of docs/report.schema.json: here a shell that reads a
/// line from a server and exits holding the connection the server closed.
#[test]
fn exec_writes_a_report_of_the_command_s_leaks() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exec.json");
    let script = format!("exec 3<>/dev/tcp/127.0.0.1/{port}; read -r line <&3");
    let child = sockcheck_command(&["exec", "--report", path_str(&path), "--", "bash", "-c"])
        .arg(&script)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut server, _) = listener.accept().unwrap();
    std::io::Write::write_all(&mut server, b"go\n").unwrap();
    drop(server); // the shell's end is now in CLOSE_WAIT, until it exits
    let output = child.wait_with_output().unwrap();

    assert_eq!(
        status(&output),
        ExitStatus::Leak.code(),
        "{}",
        stderr(&output)
    );
    let report = report_file(&path);
    assert_eq!(report.tests.len(), 1, "{report:#?}");
    let kinds: Vec<String> = report.tests[0]
        .leaks
        .iter()
        .map(|l| format!("{}:{}", l.kind, l.socket.state))
        .collect();
    assert_eq!(kinds, ["close-wait:CLOSE_WAIT"], "{report:#?}");
    assert_eq!(report.tests[0].binary, "bash");
}

#[test]
fn config_files_allow_a_port_and_a_test_per_package_and_the_command_line_wins() {
    // The port comes from the environment, so a retry with another port
    // needs no rebuild.
    let copy = LeakyCopy::new();
    copy.append(
        "tests/net.rs",
        "#[test]\nfn leaks_fixed_port_listener() {\n    \
         let port: u16 = std::env::var(\"FIXED_PORT\").unwrap().parse().unwrap();\n    \
         std::mem::forget(TcpListener::bind((\"127.0.0.1\", port)).unwrap());\n}\n",
    );
    with_a_fixed_port(|port| config_files_allow_a_port_in(&copy, port));
}

/// The scenario of the test above with `port`; false when the port was
/// taken before the fixture's test could bind it.
fn config_files_allow_a_port_in(copy: &LeakyCopy, port: u16) -> bool {
    // Unconfigured, also when an earlier port's attempt configured it.
    std::fs::remove_file(copy.path("sockcheck.toml")).ok();
    copy.write(
        "Cargo.toml",
        &std::fs::read_to_string(copy.path("Cargo.toml"))
            .unwrap()
            .replace("[package.metadata.sockcheck.levels]\nudp = \"deny\"\n", ""),
    );
    let run = |args: &[&str]| {
        let output = on_project_command(&copy.path("Cargo.toml"), &copy.path("target"), args)
            .env("FIXED_PORT", port.to_string())
            .output()
            .unwrap();
        let report = json_report(&output);
        let bound = record(&report, "net", "leaks_fixed_port_listener").outcome
            == sockcheck::report::Outcome::Passed;
        (output, bound)
    };
    let tests = [
        "--format",
        "json",
        "leaks_fixed_port_listener",
        "leaks_listener_in_thread",
        "leaks_udp",
    ];
    let row = |name: &str, kinds: &[&str]| {
        (
            format!("net::{name}"),
            sockcheck::report::Outcome::Passed,
            kinds.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
        )
    };

    let (plain, bound) = run(&tests);
    if !bound {
        return false;
    }
    assert_eq!(
        verdicts(&json_report(&plain)),
        [
            row("leaks_fixed_port_listener", &["listen:error"]),
            row("leaks_listener_in_thread", &["listen:error"]),
            row("leaks_udp", &["udp:warning"]),
        ]
    );
    assert_eq!(status(&plain), ExitStatus::Leak.code());

    copy.write(
        "sockcheck.toml",
        &format!(
            "allow-listen-ports = [{port}]\n\n\
             [[allow-tests]]\n\
             pattern = \"net::leaks_listener_*\"\n\
             reason = \"keeps one server for the suite\"\n"
        ),
    );
    copy.append(
        "Cargo.toml",
        "[package.metadata.sockcheck.levels]\nudp = \"deny\"\n",
    );
    let (configured, bound) = run(&tests);
    if !bound {
        return false;
    }
    assert_eq!(
        verdicts(&json_report(&configured)),
        [
            row("leaks_fixed_port_listener", &[]),
            row("leaks_listener_in_thread", &[]),
            row("leaks_udp", &["udp:error"]),
        ],
        "{}",
        stderr(&configured)
    );
    assert_eq!(status(&configured), ExitStatus::Leak.code());
    assert!(
        notes(&configured).contains(
            &"sockcheck: 1 test may leak (allow-tests: keeps one server for the suite)".to_owned()
        ),
        "{}",
        stderr(&configured)
    );

    let (overridden, bound) = run(&[&tests[..], &["--warn", "udp"]].concat());
    if !bound {
        return false;
    }
    assert_eq!(
        verdicts(&json_report(&overridden))[2],
        row("leaks_udp", &["udp:warning"])
    );
    assert_eq!(
        status(&overridden),
        ExitStatus::Clean.code(),
        "{}",
        stderr(&overridden)
    );
    true
}

#[test]
fn an_unknown_config_key_is_exit_2_naming_the_file_and_key() {
    let copy = LeakyCopy::new();
    copy.write("sockcheck.toml", "linger-ms = 5\nlingr = 100\n");
    let output = copy.sockcheck(&[]);
    assert_eq!(status(&output), ExitStatus::Error.code());
    let err = stderr(&output);
    let file = copy.path("sockcheck.toml");
    // The configuration is read with the workspace, which is read while
    // the tests build: cargo's build lines come first, then the one error.
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "error: invalid sockcheck configuration: {}:2: lingr: unknown field `lingr`",
            file.display()
        )),
        "{err}"
    );
    assert_eq!(err.matches("error").count(), 1, "{err}");

    std::fs::remove_file(&file).unwrap();
    copy.append(
        "Cargo.toml",
        "[package.metadata.sockcheck]\nallow-listen-ports = [\"http\"]\n",
    );
    let output = copy.sockcheck(&[]);
    assert_eq!(status(&output), ExitStatus::Error.code());
    let err = stderr(&output);
    assert!(err.contains("Cargo.toml:"), "{err}");
    assert!(
        err.contains("package.metadata.sockcheck.allow-listen-ports[0]"),
        "{err}"
    );
}

#[test]
fn each_package_of_a_workspace_is_judged_by_its_own_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"strict\", \"lax\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    for (name, metadata) in [
        (
            "strict",
            "[package.metadata.sockcheck.levels]\nudp = \"deny\"\n",
        ),
        ("lax", ""),
    ] {
        std::fs::create_dir_all(root.join(name).join("src")).unwrap();
        std::fs::write(
            root.join(name).join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n{metadata}"
            ),
        )
        .unwrap();
        std::fs::write(
            root.join(name).join("src/lib.rs"),
            "#[test]\nfn leaks_udp() {\n    \
             std::mem::forget(std::net::UdpSocket::bind(\"127.0.0.1:0\").unwrap());\n}\n",
        )
        .unwrap();
    }
    let output = on_project_command(
        &root.join("Cargo.toml"),
        &root.join("target"),
        &["--workspace", "--format", "json"],
    )
    .output()
    .unwrap();
    let kinds = |binary: &str| {
        record(&json_report(&output), binary, "leaks_udp")
            .leaks
            .iter()
            .map(|l| format!("{}:{}", l.kind, l.severity))
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds("strict"), ["udp:error"], "{}", stderr(&output));
    assert_eq!(kinds("lax"), ["udp:warning"]);
    assert_eq!(status(&output), ExitStatus::Leak.code());

    // -p runs one package's tests, judged by its own metadata still.
    for (package, judged, exit) in [
        ("lax", "udp:warning", ExitStatus::Clean),
        ("strict", "udp:error", ExitStatus::Leak),
    ] {
        let output = on_project_command(
            &root.join("Cargo.toml"),
            &root.join("target"),
            &["-p", package, "--format", "json"],
        )
        .output()
        .unwrap();
        let report = json_report(&output);
        assert_eq!(
            verdicts(&report),
            [(
                format!("{package}::leaks_udp"),
                Outcome::Passed,
                vec![judged.to_owned()]
            )],
            "{}",
            stderr(&output)
        );
        assert_eq!(status(&output), exit.code());
    }
}

/// `cargo sockcheck ARGS` on the ports fixture's tests that churn 50
/// connections (over a threshold of 10) and bind a fixed port inside the
/// ephemeral range (another port each run), both kinds denied.
fn ports_gate(tests: &[&str], args: &[&str]) -> Output {
    let denied = [
        "--color",
        "never",
        "--churn-threshold",
        "10",
        "--deny",
        "port-churn",
        "--deny",
        "fixed-port-in-ephemeral-range",
        "--exact",
    ];
    on_fixture("ports", &[&denied[..], tests, args].concat())
}

#[test]
fn a_baseline_knows_port_findings_and_fails_only_on_new_ones() {
    let both = [
        "churns_50_connections",
        "binds_fixed_port_in_ephemeral_range",
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let (baseline, churn_only) = (file("baseline.json"), file("churn-only.json"));

    // Without a baseline, both findings fail the run.
    let written = ports_gate(&both, &["--write-baseline", &baseline]);
    assert_eq!(
        status(&written),
        ExitStatus::Clean.code(),
        "{}",
        stderr(&written)
    );
    assert!(
        notes(&written).contains(&format!(
            "sockcheck: wrote a baseline of 0 leaks and 2 port findings to {baseline}"
        )),
        "{}",
        stderr(&written)
    );
    let stdout = String::from_utf8_lossy(&written.stdout);
    assert!(stdout.contains("error port-churn: "), "{stdout}");
    assert!(
        stdout.contains("Next fix the port findings as the Fix lines say; --write-baseline"),
        "{stdout}"
    );
    // Stable identities: no count, the port in the range as `*`.
    let file_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline).unwrap()).unwrap();
    assert_eq!(file_json["version"], 2);
    assert_eq!(
        file_json["port_findings"],
        serde_json::json!([
            {"binary": "ports", "test": "binds_fixed_port_in_ephemeral_range",
             "kind": "fixed-port-in-ephemeral-range", "address": "127.0.0.1:*", "count": 1},
            {"binary": "ports", "test": "churns_50_connections", "kind": "port-churn", "count": 1},
        ])
    );

    // Run again (other counts, another port): both known, the run passes.
    let known = ports_gate(&both, &["--baseline", &baseline]);
    assert_eq!(
        status(&known),
        ExitStatus::Clean.code(),
        "{}",
        stderr(&known)
    );
    assert!(
        notes(&known).contains(
            &"sockcheck: baseline: 0 new leaks (0 errors), 0 known leaks (not failing), 0 \
              fixed; 0 new port findings (0 errors), 2 known port findings (not failing), 0 fixed"
                .to_owned()
        ),
        "{}",
        stderr(&known)
    );
    let redactions = vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (
            r"\d+ connections closed first",
            "[n] connections closed first",
        ),
        (r"ephemeral range \d+-\d+", "ephemeral range [range]"),
        // The fixture's lines are not this test's business.
        (r"tests/ports\.rs:\d+:\d+", "tests/ports.rs:[line]"),
        (r"\[ *\d+\.\d{3}s\]", "[time]"),
        (r"(?m)^ *Slowest .*\n", ""),
    ];
    insta::with_settings!({ filters => redactions.clone() }, {
        insta::assert_snapshot!(
            "text_of_known_port_findings",
            String::from_utf8_lossy(&known.stdout)
        );
    });

    // A baseline that does not know the fixed port (written when only the
    // churning test ran): that finding is new and fails the run.
    let written = ports_gate(&both[..1], &["--write-baseline", &churn_only]);
    assert_eq!(
        status(&written),
        ExitStatus::Clean.code(),
        "{}",
        stderr(&written)
    );
    let markdown = file("sockcheck.md");
    let grown = ports_gate(&both, &["--baseline", &churn_only, "--markdown", &markdown]);
    assert_eq!(
        status(&grown),
        ExitStatus::Leak.code(),
        "{}",
        stderr(&grown)
    );
    let grown_notes = notes(&grown);
    assert!(
        grown_notes.contains(
            &"sockcheck: baseline: 0 new leaks (0 errors), 0 known leaks (not failing), 0 \
              fixed; 1 new port finding (1 error), 1 known port finding (not failing), 0 fixed"
                .to_owned()
        ),
        "{grown_notes:#?}"
    );
    assert!(
        grown_notes.iter().any(|n| n.starts_with(
            "sockcheck: new port finding: ports::binds_fixed_port_in_ephemeral_range: error \
             fixed-port-in-ephemeral-range: bind 127.0.0.1:"
        )),
        "{grown_notes:#?}"
    );
    let stdout = String::from_utf8_lossy(&grown.stdout);
    assert!(
        stdout.contains("Next these port findings are new, the baseline does not know them"),
        "{stdout}"
    );
    let markdown = std::fs::read_to_string(&markdown).unwrap();
    let section = &markdown[markdown.find("#### Baseline").expect("a baseline section")..];
    insta::with_settings!({ filters => redactions }, {
        insta::assert_snapshot!("markdown_baseline_section_of_a_new_port_finding", section);
    });

    // The baseline edited by hand, without the churn: the churn is new.
    let mut edited = file_json.clone();
    edited["port_findings"]
        .as_array_mut()
        .unwrap()
        .retain(|entry| entry["kind"] != "port-churn");
    std::fs::write(&baseline, edited.to_string()).unwrap();
    let shrunk = ports_gate(&both, &["--baseline", &baseline]);
    assert_eq!(
        status(&shrunk),
        ExitStatus::Leak.code(),
        "{}",
        stderr(&shrunk)
    );
    assert!(
        notes(&shrunk).iter().any(|n| n.starts_with(
            "sockcheck: new port finding: ports::churns_50_connections: error port-churn: "
        )),
        "{}",
        stderr(&shrunk)
    );
}
