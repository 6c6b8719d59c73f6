//! What a person sees, end to end on the leaky fixture: colour and a live
//! status line on a terminal (a pseudo-terminal here), neither into pipes
//! (a CI log); `--color`, `NO_COLOR` and `CARGO_TERM_COLOR`; which test
//! output is shown where, without libtest's framing; counted words; and a
//! run that selects no test.

mod common;

use cargo_sockcheck::ExitStatus;
use common::*;
use nix::pty::{openpty, Winsize};
use std::io::Read;
use std::process::{Child, Command, Stdio};

/// `command` started with `env` on a fresh pseudo-terminal of 160 columns
/// (stdout and stderr), and the terminal's near end to read what it prints.
fn spawn_on_terminal(mut command: Command, env: &[(&str, &str)]) -> (Child, std::fs::File) {
    let size = Winsize {
        ws_row: 50,
        ws_col: 160,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(Some(&size), None).expect("open a pseudo-terminal");
    let stdout = pty.slave.try_clone().expect("duplicate the terminal");
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(pty.slave))
        // A terminal that says it does colour, whatever runs these tests.
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("CARGO_TERM_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .envs(env.iter().copied());
    let child = command.spawn().expect("run cargo-sockcheck");
    // Our copies of the terminal's far end go with `command`, so reads end
    // (EIO) once sockcheck and everything it started are gone.
    drop(command);
    (child, std::fs::File::from(pty.master))
}

/// Reads the terminal until `done` says what was read is enough, or its far
/// end is closed; returns what was read.
fn read_until(terminal: &mut std::fs::File, done: impl Fn(&str) -> bool) -> String {
    let mut screen = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        match terminal.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => screen.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break, // EIO: the far end is closed
        }
        if done(&String::from_utf8_lossy(&screen)) {
            break;
        }
    }
    String::from_utf8_lossy(&screen).into_owned()
}

/// What `command` printed on stdout and stderr together, run with `env` on
/// a pseudo-terminal, and its exit status.
fn on_terminal(command: Command, env: &[(&str, &str)]) -> (String, i32) {
    let (mut child, mut terminal) = spawn_on_terminal(command, env);
    let screen = read_until(&mut terminal, |_| false);
    let status = child.wait().expect("wait for cargo-sockcheck");
    let code = status
        .code()
        .unwrap_or_else(|| panic!("cargo-sockcheck died: {status:?}"));
    (screen, code)
}

/// True when `text` holds an SGR (colour or weight) escape sequence:
/// `ESC [ digits/semicolons m`. The status line's cursor moves are not.
fn has_colour(text: &str) -> bool {
    text.split('\x1b').skip(1).any(|sequence| {
        let Some(params) = sequence.strip_prefix('[') else {
            return false;
        };
        let end = params
            .find(|c: char| !c.is_ascii_digit() && c != ';')
            .unwrap_or(params.len());
        params[end..].starts_with('m')
    })
}

/// The status line, as drawn at least once: `Running [00:00:00] [===> ] 3/8`.
fn has_status_line(screen: &str, total: usize) -> bool {
    screen.contains("Running")
        && screen.contains("[00:00:0")
        && screen.contains(&format!("/{total}"))
}

#[test]
fn on_a_terminal_the_report_is_coloured_and_a_status_line_runs() {
    let (screen, code) = on_terminal(on_fixture_command("leaky", &["leaks"]), &[]);
    assert_eq!(code, ExitStatus::TestFailed.code(), "{screen}");
    assert!(has_status_line(&screen, 8), "no status line:\n{screen}");
    for styled in [
        "\x1b[1m\x1b[33m    LEAK\x1b[0m",
        "\x1b[1m\x1b[31m    FAIL\x1b[0m",
        "\x1b[1m\x1b[31merror\x1b[0m listen",
        "\x1b[1m\x1b[36m Summary\x1b[0m",
    ] {
        assert!(screen.contains(styled), "{styled:?} missing:\n{screen}");
    }
}

/// The status line's ticker thread must not take the signals the tracer
/// reads from its signalfd: Ctrl-C on a terminal ends the run as it does
/// elsewhere (status 130, tests killed), not by killing sockcheck outright.
#[test]
fn ctrl_c_on_a_terminal_ends_the_run_cleanly() {
    let mut command = on_project_command(
        &fixture("chaos"),
        &fixture_target_dir(),
        &[
            "--test",
            "chaos",
            "-j",
            "2",
            "--exact",
            "passes",
            "hangs_with_a_child",
        ],
    );
    command.env("CHAOS_SLEEP_SECS", tagged("1005"));
    let (mut child, mut terminal) = spawn_on_terminal(command, &[]);
    // Once `passes` has finished the hanging test runs, and the status line names it.
    let screen = read_until(&mut terminal, |screen| {
        screen.contains("chaos::passes") && screen.contains("chaos::hangs_with_a_child")
    });
    assert!(
        screen.contains("chaos::passes"),
        "no progress seen:\n{screen}"
    );
    // The hung test's child is up: found by its tag, so the check after
    // the interrupt can only pass by its death.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while sleepers("1005").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the hung test's child never showed up"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // SAFETY: plain kill(2) of our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let rest = read_until(&mut terminal, |_| false);
    let status = child.wait().expect("wait for cargo-sockcheck");
    assert_eq!(
        status.code(),
        Some(ExitStatus::Signal(libc::SIGINT).code()),
        "{status:?}:\n{screen}{rest}"
    );
    assert!(has_status_line(&screen, 2), "{screen}");
    assert!(rest.contains("interrupted by signal 2"), "{rest}");
    assert_eq!(
        sleepers("1005"),
        Vec::<u32>::new(),
        "the hung test's child was killed"
    );
}

#[test]
fn into_pipes_there_is_no_colour_no_status_line_and_only_failures_show_output() {
    let output = on_fixture("leaky", &["leaks"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), stderr(&output));
    assert_eq!(status(&output), ExitStatus::TestFailed.code(), "{stderr}");
    for text in [&*stdout, &*stderr] {
        assert!(!text.contains('\x1b'), "an escape sequence:\n{text}");
        assert!(!text.contains('\r'), "a redraw:\n{text}");
        assert!(!text.contains("[00:00:"), "a status line:\n{text}");
    }
    // One plain line per finished test, counted words right; the binaries
    // counted are those with a test to run (the fixture's third has none).
    assert!(
        stderr.contains("running 8 tests from 2 binaries"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("    LEAK [").count(), 7, "{stderr}");
    // By default a failing test's output is in the report, without
    // libtest's framing; a passing test that leaked shows its leaks only.
    assert!(stdout.contains("this test fails on purpose"), "{stdout}");
    assert!(!stdout.contains("background server listening"), "{stdout}");
    for framing in ["running 1 test", "test result:", "failures:", " ... "] {
        assert!(!stdout.contains(framing), "{framing:?} in:\n{stdout}");
    }
    assert!(
        without_times(&stdout).contains(" Summary [time] 9 tests: 7 passed, 1 failed, 1 ignored\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("   Leaks 8 leaking tests: 6 errors (2 close-wait, 3 listen, 1 orphan), 3 warnings (2 established, 1 udp)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("    Next fix the failing test first"),
        "{stdout}"
    );
}

#[test]
fn without_colour_a_terminal_keeps_its_status_line() {
    type Run<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);
    let runs: [Run; 3] = [
        (&["--color", "never"], &[]),
        (&[], &[("NO_COLOR", "1")]),
        (&[], &[("CARGO_TERM_COLOR", "never")]),
    ];
    for (flags, env) in runs {
        let mut args = vec!["leaks_udp"];
        args.extend_from_slice(flags);
        let (screen, code) = on_terminal(on_fixture_command("leaky", &args), env);
        assert_eq!(
            code,
            ExitStatus::Clean.code(),
            "{flags:?} {env:?}:\n{screen}"
        );
        assert!(
            !has_colour(&screen),
            "{flags:?} {env:?} coloured:\n{screen}"
        );
        assert!(has_status_line(&screen, 1), "{flags:?} {env:?}:\n{screen}");
        assert!(screen.contains("    LEAK [ "), "{screen}");
    }
}

#[test]
fn colour_can_be_forced_into_a_pipe_and_the_flag_beats_the_environment() {
    let forced = on_fixture("leaky", &["leaks_udp", "--color", "always"]);
    assert!(has_colour(&String::from_utf8_lossy(&forced.stdout)));
    assert!(has_colour(&stderr(&forced)));
    assert!(
        !stderr(&forced).contains("[00:00:"),
        "no status line into a pipe"
    );

    let by_env = on_fixture_command("leaky", &["leaks_udp"])
        .env("CARGO_TERM_COLOR", "always")
        .output()
        .expect("run cargo-sockcheck");
    assert!(has_colour(&String::from_utf8_lossy(&by_env.stdout)));

    let flag_wins = on_fixture_command("leaky", &["leaks_udp", "--color", "never"])
        .env("CARGO_TERM_COLOR", "always")
        .output()
        .expect("run cargo-sockcheck");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&flag_wins.stdout),
        stderr(&flag_wins)
    );
    assert!(!has_colour(&all), "{all}");
    // The run happened, with the leak it reports in colour otherwise.
    assert_eq!(status(&flag_wins), ExitStatus::Clean.code(), "{all}");
    assert!(all.contains("warning udp: udp 127.0.0.1:"), "{all}");
}

#[test]
fn a_colour_choice_cargo_would_not_take_is_one_clear_error() {
    let output = on_fixture_command("leaky", &["leaks_udp"])
        .env("CARGO_TERM_COLOR", "sometimes")
        .output()
        .expect("run cargo-sockcheck");
    assert_eq!(status(&output), ExitStatus::Error.code());
    assert_eq!(
        stderr(&output),
        "error: CARGO_TERM_COLOR=sometimes is not a colour choice: set it to auto, always or never\n"
    );
}

#[test]
fn output_is_shown_when_and_where_asked_without_libtest_s_framing() {
    let shown = on_fixture("leaky", &["leaks_listener_in_thread", "--show-output"]);
    let stdout = String::from_utf8_lossy(&shown.stdout);
    assert!(
        stdout.contains("── output ──\n         background server listening on 127.0.0.1:"),
        "{stdout}"
    );

    let immediate = on_fixture(
        "leaky",
        &["leaks_listener_in_thread", "--success-output", "immediate"],
    );
    assert!(stderr(&immediate).contains("background server listening on"));
    assert!(!String::from_utf8_lossy(&immediate.stdout).contains("background server"));

    let never = on_fixture("leaky", &["fails_and_leaks", "--failure-output", "never"]);
    // Its FAIL line says why (the panic's message); its output is not shown.
    let never_text = String::from_utf8_lossy(&never.stdout);
    assert!(
        !never_text.contains("── output ──") && !never_text.contains("RUST_BACKTRACE"),
        "{never_text}"
    );
    // It ran and failed: the output was there to hide.
    assert_eq!(
        status(&never),
        ExitStatus::TestFailed.code(),
        "{}",
        stderr(&never)
    );
    assert!(
        without_times(&String::from_utf8_lossy(&never.stdout)).contains(" 1 failed"),
        "{}",
        String::from_utf8_lossy(&never.stdout)
    );

    // The JSON report keeps both outputs, without the framing.
    let json = on_fixture(
        "leaky",
        &[
            "--format",
            "json",
            "leaks_listener_in_thread",
            "fails_and_leaks",
        ],
    );
    let report = json_report(&json);
    let server = record(&report, "net", "leaks_listener_in_thread");
    let output = server.output.as_deref().unwrap_or_default();
    assert!(
        output.starts_with("background server listening on 127.0.0.1:")
            && output.lines().count() == 1,
        "{output:?}"
    );
    let failed = record(&report, "net", "fails_and_leaks_listener");
    let output = failed.output.as_deref().unwrap_or_default();
    assert!(
        output.starts_with("thread 'fails_and_leaks_listener'"),
        "{output:?}"
    );
    assert!(
        !output.contains("test result:") && !output.contains("failures:"),
        "{output:?}"
    );
    // Its detail says why it failed: the status and its panic.
    assert_eq!(
        failed.detail.as_deref(),
        Some("exit status 101; panicked at tests/net.rs:31:5: this test fails on purpose")
    );
}

#[test]
fn a_run_that_selects_no_test_fails_unless_told_and_hints_at_a_subcommand() {
    let typo = on_fixture("leaky", &["reprot"]);
    assert_eq!(status(&typo), ExitStatus::NoTests.code());
    let stderr_text = stderr(&typo);
    assert!(
        stderr_text.ends_with(
            "error: no tests to run: no test of 13 tests (in 3 binaries) matches the filter \
             `reprot`; --no-tests=warn or =pass lets an empty run pass\n\
             hint: `reprot` was taken as a test filter; did you mean `cargo sockcheck report`?\n"
        ),
        "{stderr_text}"
    );
    assert!(
        typo.stdout.is_empty(),
        "no report for a run that did not run"
    );

    // An empty shard in CI: warned about, and its (empty) report written.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let report_path = dir.path().join("shard.json");
    let report_arg = report_path.to_str().expect("utf-8 path");
    let warned = on_fixture(
        "leaky",
        &[
            "nothing_matches_this",
            "--no-tests",
            "warn",
            "--report",
            report_arg,
        ],
    );
    assert_eq!(status(&warned), ExitStatus::Clean.code());
    assert!(stderr(&warned).contains("sockcheck: warning: no tests to run"));
    assert!(
        without_times(&String::from_utf8_lossy(&warned.stdout)).contains("Summary [time] 0 tests")
    );
    let json = std::fs::read_to_string(&report_path).expect("the report is written");
    let report = sockcheck::report::json::parse(&json).expect("a JSON report");
    assert_eq!((report.tests.len(), report.interrupted), (0, false));

    let passed = on_fixture("leaky", &["nothing_matches_this", "--no-tests=pass"]);
    assert_eq!(status(&passed), ExitStatus::Clean.code());
    assert!(!stderr(&passed).contains("no tests to run"));
}
