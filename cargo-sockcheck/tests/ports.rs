//! End to end: ports. The built `cargo sockcheck` on the ports fixture,
//! whose tests really fight over ports: two bind the same fixed port at
//! once (the second fails with "Address already in use"), one binds a port
//! that a process outside the run holds (this file starts it), one binds a
//! fixed port inside the ephemeral range, two churn loopback connections
//! (5,000 and 50) and one holds 100 sockets at once; two bind the same unix
//! path at once, and one binds a path where this file left a stale socket
//! file (`tests/ports/unix.rs`). The lines the findings must point at are
//! marked `// site: NAME` in the fixture. The `in_turn` fixture's two tests
//! bind one fixed port in turn and pass, for `--fast`.
//!
//! The whole fixture runs once ([`full_run`]) for the checks of what it
//! finds and the snapshots of every format; `--max-fds`, the churn gate,
//! the configured churn threshold and `--fast` have runs of their own.

mod common;

use cargo_sockcheck::ExitStatus;
use common::*;
use sockcheck::leak::Severity;
use sockcheck::ports::{
    PortFinding, PortFindingKind, PortHolder, PortProblem, SocketSort, TestName,
};
use sockcheck::report::{Outcome, Report, TestRecord};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The lowest port of the ephemeral range
/// (/proc/sys/net/ipv4/ip_local_port_range).
fn ephemeral_low() -> u16 {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    range.split_whitespace().next().unwrap().parse().unwrap()
}

/// A listener on a free loopback port below the ephemeral range (where no
/// outgoing connection takes it), searched from a place that changes with
/// this process's id and with each call, so that the runs of this file, and
/// of another checkout's, do not pick the same one.
fn listener_below_the_ephemeral_range() -> TcpListener {
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let (low, high) = (10_000u32, u32::from(ephemeral_low()));
    assert!(high > low, "the ephemeral range starts at {high}");
    let size = high - low;
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let start = std::process::id()
        .wrapping_mul(7919)
        .wrapping_add(call * 1009)
        % size;
    (0..size)
        .map(|i| (low + (start + i) % size) as u16)
        .find_map(|port| TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).ok())
        .expect("a free port below the ephemeral range")
}

fn port_of(listener: &TcpListener) -> u16 {
    listener.local_addr().unwrap().port()
}

/// A process outside the run, `sleep`, whose stdin is a listener on a port
/// below the ephemeral range: it holds that port until it is dropped.
struct OutsideHolder {
    child: Child,
    port: u16,
}

impl OutsideHolder {
    fn start() -> OutsideHolder {
        let listener = listener_below_the_ephemeral_range();
        let port = port_of(&listener);
        let child = Command::new("sleep")
            .arg("300")
            .stdin(Stdio::from(OwnedFd::from(listener)))
            .spawn()
            .expect("start sleep");
        OutsideHolder { child, port }
    }
}

impl Drop for OutsideHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory for the fixture's unix paths (`PORTS_UNIX_DIR`), new for
/// each run, where a socket file no socket is bound to was left at
/// `stale.sock`: a listener bound there, then closed (its file stays).
fn unix_dir_with_a_stale_socket_file() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    drop(UnixListener::bind(dir.path().join("stale.sock")).unwrap());
    dir
}

/// `cargo sockcheck ARGS` on the ports fixture, with a fixed port of its
/// own for the pair, a port that `holder` holds and a directory for the
/// unix paths.
fn ports_command(args: &[&str], holder: &OutsideHolder, unix_dir: &Path) -> Command {
    // Free now; the pair binds it in a moment.
    let fixed = port_of(&listener_below_the_ephemeral_range());
    let mut command = on_fixture_command("ports", args);
    command
        .env("PORTS_FIXED_PORT", fixed.to_string())
        .env("PORTS_OUTSIDE_PORT", holder.port.to_string())
        .env("PORTS_UNIX_DIR", unix_dir)
        .env("RUST_BACKTRACE", "0");
    command
}

/// [`ports_command`] run, with a unix directory of its own.
fn run_with(args: &[&str], holder: &OutsideHolder) -> Output {
    let unix_dir = unix_dir_with_a_stale_socket_file();
    ports_command(args, holder, unix_dir.path())
        .output()
        .unwrap()
}

/// What one run of the whole fixture wrote: the JSON report, the text
/// report (stdout), every other format, and what is known of the outside
/// holder.
struct FullRun {
    output: Output,
    report: Report,
    text: String,
    markdown: String,
    junit: String,
    sarif: serde_json::Value,
    gitlab: serde_json::Value,
    annotations: String,
    holder_pid: u32,
    holder_alive_after: bool,
    /// The directory of the unix paths, as the run had it.
    unix_dir: String,
}

/// The whole fixture, once for every test of this file, on GitHub Actions
/// (annotations on stderr) with every report written.
fn full_run() -> &'static FullRun {
    static RUN: OnceLock<FullRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let holder = OutsideHolder::start();
        let unix_dir = unix_dir_with_a_stale_socket_file();
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
        let args = [
            "--color",
            "never",
            "--report",
            &path("report.json"),
            "--markdown",
            &path("report.md"),
            "--junit",
            &path("junit.xml"),
            "--sarif",
            &path("report.sarif"),
            "--gitlab",
            &path("gl-code-quality.json"),
        ];
        let output = ports_command(&args, &holder, unix_dir.path())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_WORKSPACE", repo_root())
            .output()
            .unwrap();
        let read = |name: &str| {
            std::fs::read_to_string(dir.path().join(name))
                .unwrap_or_else(|e| panic!("no {name} ({e}): {}", stderr(&output)))
        };
        let sarif = common::schema::sarif_checked(&read("report.sarif"));
        let gitlab = serde_json::from_str(&read("gl-code-quality.json")).unwrap();
        let annotations: Vec<String> = stderr(&output)
            .lines()
            .filter(|line| line.starts_with("::"))
            .map(str::to_owned)
            .collect();
        FullRun {
            report: report_file(Path::new(&path("report.json"))),
            text: String::from_utf8_lossy(&output.stdout).into_owned(),
            markdown: read("report.md"),
            junit: read("junit.xml"),
            sarif,
            gitlab,
            annotations: annotations.join("\n"),
            holder_pid: holder.child.id(),
            holder_alive_after: process_alive(holder.child.id()),
            unix_dir: unix_dir.path().to_str().unwrap().to_owned(),
            output,
        }
    })
}

fn row(name: &str, outcome: Outcome) -> (String, Outcome, Vec<String>) {
    (format!("ports::{name}"), outcome, Vec::new())
}

/// `(kind, severity)` of each port finding of a test, sorted.
type Findings = Vec<(PortFindingKind, Option<Severity>)>;

/// The [`Findings`] of `name` of the `ports` binary.
fn findings_of(report: &Report, name: &str) -> Findings {
    findings_in(report, "ports", name)
}

/// The [`Findings`] of `binary`'s test `name`.
fn findings_in(report: &Report, binary: &str, name: &str) -> Findings {
    let mut kinds: Vec<_> = record(report, binary, name)
        .port_findings
        .iter()
        .map(|f| (f.kind(), f.severity))
        .collect();
    kinds.sort();
    kinds
}

/// The one finding of `kind` of `name` of the `ports` binary.
fn finding<'a>(report: &'a Report, name: &str, kind: PortFindingKind) -> &'a PortFinding {
    finding_in(report, "ports", name, kind)
}

/// The one finding of `kind` of `binary`'s test `name`.
fn finding_in<'a>(
    report: &'a Report,
    binary: &str,
    name: &str,
    kind: PortFindingKind,
) -> &'a PortFinding {
    let test = record(report, binary, name);
    let mut found = test.port_findings.iter().filter(|f| f.kind() == kind);
    let one = found
        .next()
        .unwrap_or_else(|| panic!("no {kind} of {name}: {:#?}", test.port_findings));
    assert!(found.next().is_none(), "{:#?}", test.port_findings);
    one
}

/// The file and line of a finding's call.
fn call_line(finding: &PortFinding) -> (String, u32) {
    let site = finding.call.as_ref().and_then(|c| c.site.as_ref());
    let site = site.unwrap_or_else(|| panic!("no call site: {finding:#?}"));
    (site.file.clone().unwrap(), site.line.unwrap())
}

fn marked(tag: &str) -> (String, u32) {
    marked_in("tests/ports.rs", tag)
}

fn marked_in(file: &str, tag: &str) -> (String, u32) {
    let line = marked_line("ports", file, &format!("// site: {tag}"));
    (file.to_owned(), line)
}

#[test]
fn each_port_test_gets_its_verdict_and_the_losers_fail_on_address_in_use() {
    let run = full_run();
    assert_eq!(
        verdicts(&run.report),
        [
            row("binds_fixed_port_another_test_holds", Outcome::Failed),
            row("binds_fixed_port_in_ephemeral_range", Outcome::Passed),
            row("binds_port_held_outside", Outcome::Failed),
            row("churns_5000_connections", Outcome::Passed),
            row("churns_50_connections", Outcome::Passed),
            row("holds_100_sockets_at_once", Outcome::Passed),
            row("holds_fixed_port", Outcome::Passed),
            row("unix::binds_a_path_and_holds_it", Outcome::Passed),
            row("unix::binds_a_path_another_test_holds", Outcome::Failed),
            row("unix::binds_a_path_another_test_left", Outcome::Failed),
            row("unix::binds_a_path_left_by_an_earlier_run", Outcome::Failed),
            row("unix::leaves_its_socket_file", Outcome::Passed),
        ],
        "stderr:\n{}",
        stderr(&run.output)
    );
    assert_eq!(status(&run.output), ExitStatus::TestFailed.code());
    for loser in [
        "binds_fixed_port_another_test_holds",
        "binds_port_held_outside",
        "unix::binds_a_path_another_test_holds",
        "unix::binds_a_path_another_test_left",
        "unix::binds_a_path_left_by_an_earlier_run",
    ] {
        let said = record(&run.report, "ports", loser)
            .output
            .as_deref()
            .unwrap_or("");
        assert!(said.contains("Address already in use"), "{loser}: {said}");
    }
    // The outside process is not part of the run: sockcheck left it alone.
    assert!(run.holder_alive_after);
}

#[test]
fn every_test_gets_the_port_findings_it_earned_and_no_other() {
    let report = &full_run().report;
    let warning = Some(Severity::Warning);
    let expected: [(&str, Findings); 12] = [
        (
            "binds_fixed_port_another_test_holds",
            vec![
                (PortFindingKind::AddressInUse, None),
                (PortFindingKind::FixedPortShared, warning),
            ],
        ),
        (
            "holds_fixed_port",
            vec![(PortFindingKind::FixedPortShared, warning)],
        ),
        (
            "binds_port_held_outside",
            vec![(PortFindingKind::AddressInUse, None)],
        ),
        (
            "binds_fixed_port_in_ephemeral_range",
            vec![(PortFindingKind::FixedPortInEphemeralRange, warning)],
        ),
        (
            "churns_5000_connections",
            vec![(PortFindingKind::PortChurn, warning)],
        ),
        ("churns_50_connections", vec![]),
        ("holds_100_sockets_at_once", vec![]),
        ("unix::binds_a_path_and_holds_it", vec![]),
        (
            "unix::binds_a_path_another_test_holds",
            vec![(PortFindingKind::AddressInUse, None)],
        ),
        (
            "unix::binds_a_path_left_by_an_earlier_run",
            vec![(PortFindingKind::AddressInUse, None)],
        ),
        (
            "unix::binds_a_path_another_test_left",
            vec![(PortFindingKind::AddressInUse, None)],
        ),
        ("unix::leaves_its_socket_file", vec![]),
    ];
    for (name, kinds) in expected {
        assert_eq!(findings_of(report, name), kinds, "{name}");
    }
    assert_eq!(report.summary.port_warnings, 4);
}

#[test]
fn the_loser_s_address_in_use_names_the_winner_and_where_it_bound() {
    let report = &full_run().report;
    let lost = finding(
        report,
        "binds_fixed_port_another_test_holds",
        PortFindingKind::AddressInUse,
    );
    assert_eq!(call_line(lost), marked("loser"));
    let PortProblem::AddressInUse { address, held_by } = &lost.problem else {
        unreachable!("an address-in-use finding");
    };
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    let PortHolder::Test { test, opened } = held_by else {
        panic!("held by the winner: {held_by:#?}");
    };
    assert_eq!(test.to_string(), "ports::holds_fixed_port");
    let site = opened.as_ref().and_then(|o| o.site.as_ref()).unwrap();
    let place = (site.file.clone().unwrap(), site.line.unwrap());
    assert_eq!(place, marked("winner"));
}

#[test]
fn the_unix_path_s_loser_names_the_test_that_bound_it_and_where() {
    let run = full_run();
    let lost = finding(
        &run.report,
        "unix::binds_a_path_another_test_holds",
        PortFindingKind::AddressInUse,
    );
    assert_eq!(
        call_line(lost),
        marked_in("tests/ports/unix.rs", "unix-loser")
    );
    let PortProblem::AddressInUse { address, held_by } = &lost.problem else {
        unreachable!("an address-in-use finding");
    };
    assert_eq!(address, &format!("{}/pair.sock", run.unix_dir));
    let PortHolder::Test { test, opened } = held_by else {
        panic!("held by the other test of the pair: {held_by:#?}");
    };
    assert_eq!(test.to_string(), "ports::unix::binds_a_path_and_holds_it");
    let site = opened.as_ref().and_then(|o| o.site.as_ref()).unwrap();
    let place = (site.file.clone().unwrap(), site.line.unwrap());
    assert_eq!(place, marked_in("tests/ports/unix.rs", "unix-winner"));
}

#[test]
fn a_stale_socket_file_is_said_to_be_one_with_its_fix() {
    let run = full_run();
    let lost = finding(
        &run.report,
        "unix::binds_a_path_left_by_an_earlier_run",
        PortFindingKind::AddressInUse,
    );
    assert_eq!(call_line(lost), marked_in("tests/ports/unix.rs", "stale"));
    assert_eq!(
        lost.problem,
        PortProblem::AddressInUse {
            address: format!("{}/stale.sock", run.unix_dir),
            held_by: PortHolder::StaleSocketFile { left_by: None },
        }
    );
    assert!(
        lost.summary().ends_with("remove it before binding"),
        "{}",
        lost.summary()
    );
}

#[test]
fn a_socket_file_a_test_of_the_run_left_names_that_test() {
    let run = full_run();
    let lost = finding(
        &run.report,
        "unix::binds_a_path_another_test_left",
        PortFindingKind::AddressInUse,
    );
    assert_eq!(call_line(lost), marked_in("tests/ports/unix.rs", "left"));
    let left_by = TestName::new("ports", "unix::leaves_its_socket_file");
    assert_eq!(
        lost.problem,
        PortProblem::AddressInUse {
            address: format!("{}/left.sock", run.unix_dir),
            held_by: PortHolder::StaleSocketFile {
                left_by: Some(left_by),
            },
        }
    );
}

#[test]
fn the_outside_holder_is_named_by_its_pid_and_command() {
    let run = full_run();
    let lost = finding(
        &run.report,
        "binds_port_held_outside",
        PortFindingKind::AddressInUse,
    );
    assert_eq!(call_line(lost), marked("outside"));
    match &lost.problem {
        PortProblem::AddressInUse {
            held_by: PortHolder::Process { pid, command },
            ..
        } => {
            assert_eq!(*pid, run.holder_pid);
            assert_eq!(command, "sleep 300");
        }
        other => panic!("held by the sleep: {other:#?}"),
    }
}

#[test]
fn a_fixed_port_in_the_ephemeral_range_warns_at_its_bind() {
    let report = &full_run().report;
    let bound = finding(
        report,
        "binds_fixed_port_in_ephemeral_range",
        PortFindingKind::FixedPortInEphemeralRange,
    );
    assert_eq!(call_line(bound), marked("in-range"));
    let PortProblem::FixedPortInEphemeralRange { address, range } = &bound.problem else {
        unreachable!("a fixed-port-in-ephemeral-range finding");
    };
    let port: u16 = address.rsplit_once(':').unwrap().1.parse().unwrap();
    assert!((range[0]..=range[1]).contains(&port), "{address} {range:?}");
    assert_eq!(range[0], ephemeral_low());
}

#[test]
fn churning_5000_connections_warns_and_50_does_not() {
    let report = &full_run().report;
    let churn = finding(
        report,
        "churns_5000_connections",
        PortFindingKind::PortChurn,
    );
    let PortProblem::PortChurn {
        active_closes,
        threshold,
    } = churn.problem
    else {
        unreachable!("a port-churn finding");
    };
    assert!(active_closes > threshold, "{active_closes} > {threshold}");
    assert!(active_closes <= 5000, "{active_closes}");
    let fifty = record(report, "ports", "churns_50_connections");
    let usage = fifty.ports.as_ref().expect("its port usage");
    assert!(usage.active_closes <= 50 && usage.active_closes < threshold);
    assert!(usage.connects >= 50, "{usage:?}");
}

#[test]
fn every_test_has_its_port_usage_in_json() {
    let report = &full_run().report;
    let usage = |name: &str| {
        let test: &TestRecord = record(report, "ports", name);
        test.ports
            .clone()
            .unwrap_or_else(|| panic!("no port usage for {name}"))
    };
    for test in &report.tests {
        let name = test.full_name();
        let usage = (test.ports.clone()).unwrap_or_else(|| panic!("no port usage for {name}"));
        assert!(usage.total_created() > 0, "{name}: {usage:?}");
        assert!(usage.peak_open_sockets > 0, "{name}: {usage:?}");
    }
    let hundred = usage("holds_100_sockets_at_once");
    assert!(hundred.peak_open_sockets >= 100, "{hundred:?}");
    assert!(hundred.created.get(&SocketSort::Udp) >= Some(&100));
    let churn = usage("churns_5000_connections");
    // A client socket and an accepted one per connection, one listener.
    assert!(
        churn.created.get(&SocketSort::Tcp) >= Some(&10_001),
        "{churn:?}"
    );
    assert!(churn.connects >= 5000, "{churn:?}");
    assert!(churn.peak_open_sockets < 10, "{churn:?}");
    let json = serde_json::to_string(report).unwrap();
    assert!(json.contains(r#""peak_open_sockets""#));
}

#[test]
fn max_fds_64_fails_the_test_that_holds_100_sockets_and_no_other() {
    let holder = OutsideHolder::start();
    // Without the long churn, which --max-fds does not concern.
    let args = ["--format", "json", "--skip", "churns_5000"];
    let output = run_with(&args, &holder);
    let report = json_report(&output);
    assert_eq!(
        record(&report, "ports", "holds_100_sockets_at_once").outcome,
        Outcome::Passed
    );
    let limited = run_with(&[&args[..], &["--max-fds", "64"]].concat(), &holder);
    let limited_report = json_report(&limited);
    let hundred = record(&limited_report, "ports", "holds_100_sockets_at_once");
    assert_eq!(hundred.outcome, Outcome::Failed, "{}", stderr(&limited));
    let said = hundred.output.as_deref().unwrap_or("");
    assert!(said.contains("Too many open files"), "{said}");
    // Every other test keeps its verdict.
    let others = |report: &Report| {
        let mut rows = verdicts(report);
        rows.retain(|(name, _, _)| name != "ports::holds_100_sockets_at_once");
        rows
    };
    assert_eq!(others(&limited_report), others(&report));
}

#[test]
fn deny_port_churn_gates_the_run_on_churn() {
    let holder = OutsideHolder::start();
    // 50 connections above a threshold of 10: a warning, then an error.
    let args = [
        "--format",
        "json",
        "--exact",
        "churns_50_connections",
        "--churn-threshold",
        "10",
    ];
    let warned = run_with(&args, &holder);
    assert_eq!(
        findings_of(&json_report(&warned), "churns_50_connections"),
        [(PortFindingKind::PortChurn, Some(Severity::Warning))]
    );
    assert_eq!(
        status(&warned),
        ExitStatus::Clean.code(),
        "{}",
        stderr(&warned)
    );
    let denied = run_with(&[&args[..], &["--deny", "port-churn"]].concat(), &holder);
    let report = json_report(&denied);
    assert_eq!(
        findings_of(&report, "churns_50_connections"),
        [(PortFindingKind::PortChurn, Some(Severity::Error))]
    );
    assert_eq!(report.summary.port_errors, 1);
    assert_eq!(
        status(&denied),
        ExitStatus::Leak.code(),
        "{}",
        stderr(&denied)
    );
    let allowed = run_with(&[&args[..], &["--allow", "port-churn"]].concat(), &holder);
    assert_eq!(
        findings_of(&json_report(&allowed), "churns_50_connections"),
        []
    );
}

/// What changes from run to run, replaced: ports, pids, thread ids,
/// times (and the slowest tests), the churn counts and threshold (which follow the host's range,
/// its CPUs and the kernel's TIME_WAIT reuse), fingerprints (the fixed
/// ports are this run's), absolute paths.
fn redactions() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            r"(127\.0\.0\.1|0\.0\.0\.0|\[::1?\])(\\?):\d+",
            "$1$2:[port]",
        ),
        (r"\bpid \d+", "pid [pid]"),
        (r"\(pid \d+\)", "(pid [pid])"),
        (
            r"thread ('|&apos;)([\w:]+)('|&apos;) \(\d+\)",
            "thread $1$2$3 ([tid])",
        ),
        (
            r"\d+ connections closed first",
            "[n] connections closed first",
        ),
        (r"threshold \d+", "threshold [n]"),
        (r"ephemeral range \d+-\d+", "ephemeral range [range]"),
        (r#"time="[0-9.]+""#, r#"time="[time]""#),
        (r#"timestamp="[^"]+""#, r#"timestamp="[time]""#),
        (r"\[ *\d+\.\d{3}s\]", "[time]"),
        // Shown on a long run only, with times.
        (r"(?m)^ *Slowest .*\n", ""),
        (
            r#""(sockcheckSite/v1|fingerprint)": "[0-9a-f-]+""#,
            r#""$1": "[fingerprint]""#,
        ),
        (r"/[^ \n]*/target/", "[target]/"),
        (r"/[^ \n]*/(pair|stale|left)\.sock", "[dir]/$1.sock"),
    ]
}

#[test]
fn every_format_of_the_real_run() {
    let run = full_run();
    insta::with_settings!({ filters => redactions() }, {
        insta::assert_snapshot!("text_of_the_ports_fixture", run.text);
        insta::assert_snapshot!("markdown_of_the_ports_fixture", run.markdown);
        insta::assert_snapshot!("junit_of_the_ports_fixture", run.junit);
        insta::assert_snapshot!("annotations_of_the_ports_fixture", run.annotations);
        insta::assert_json_snapshot!("sarif_of_the_ports_fixture", run.sarif);
        insta::assert_json_snapshot!("gitlab_of_the_ports_fixture", run.gitlab);
    });
}

#[test]
fn a_configured_churn_threshold_applies_and_the_flag_wins_over_it() {
    let copy = LeakyCopy::of("ports");
    copy.write("sockcheck.toml", "churn-threshold = 10\n");
    let run = |extra: &[&str]| {
        let args = [
            &["--format", "json", "--exact", "churns_50_connections"],
            extra,
        ]
        .concat();
        let output = copy.sockcheck(&args);
        findings_of(&json_report(&output), "churns_50_connections")
    };
    assert_eq!(
        run(&[]),
        [(PortFindingKind::PortChurn, Some(Severity::Warning))]
    );
    assert_eq!(run(&["--churn-threshold", "1000"]), []);

    // A test `allow-tests` names is judged as if every kind were allowed,
    // port findings' kinds included.
    copy.write(
        "sockcheck.toml",
        "churn-threshold = 10\n[[allow-tests]]\npattern = \"ports::churns_50_connections\"\nreason = \"churns on purpose\"\n",
    );
    assert_eq!(run(&[]), []);
}

#[test]
fn fast_mode_gives_the_same_verdicts_and_port_findings() {
    let holder = OutsideHolder::start();
    let args = ["--format", "json", "--skip", "churns_5000"];
    let findings = |report: &Report| -> Vec<(String, Findings)> {
        let mut rows: Vec<_> = report
            .tests
            .iter()
            .map(|t| (t.full_name(), findings_in(report, &t.binary, &t.name)))
            .collect();
        rows.sort();
        rows
    };
    let per_test = json_report(&run_with(&args, &holder));
    let fast_output = run_with(&[&args[..], &["--fast"]].concat(), &holder);
    let fast = json_report(&fast_output);
    assert_eq!(
        verdicts(&fast),
        verdicts(&per_test),
        "{}",
        stderr(&fast_output)
    );
    assert_eq!(findings(&fast), findings(&per_test));
}

/// The `in_turn` fixture's two tests bind one fixed port in turn and pass,
/// as a whole binary too: only one test per process tells that they share
/// it. `--fast` runs such a binary again one test per process, as it bound
/// a fixed port, and finds what the default run finds.
#[test]
fn fast_mode_finds_a_fixed_port_two_tests_of_a_passing_binary_share() {
    let shared = port_of(&listener_below_the_ephemeral_range());
    let run = |extra: &[&str]| {
        let args = [&["--format", "json"], extra].concat();
        let output = on_fixture_command("in_turn", &args)
            .env("PORTS_SHARED_PORT", shared.to_string())
            .output()
            .unwrap();
        assert_eq!(
            status(&output),
            ExitStatus::Clean.code(),
            "{}",
            stderr(&output)
        );
        json_report(&output)
    };
    let shared_with = |report: &Report, name: &str, other: &str| {
        let found = finding_in(report, "in_turn", name, PortFindingKind::FixedPortShared);
        let PortProblem::FixedPortShared { address, with } = &found.problem else {
            unreachable!("a fixed-port-shared finding");
        };
        assert_eq!(address, &format!("127.0.0.1:{shared}"));
        let with: Vec<String> = with.iter().map(ToString::to_string).collect();
        assert_eq!(with, [format!("in_turn::{other}")]);
        assert_eq!(found.severity, Some(Severity::Warning));
    };
    for report in [run(&[]), run(&["--fast"])] {
        shared_with(
            &report,
            "serves_on_the_shared_port",
            "also_serves_on_the_shared_port",
        );
        shared_with(
            &report,
            "also_serves_on_the_shared_port",
            "serves_on_the_shared_port",
        );
        assert!(report.tests.iter().all(|t| t.outcome == Outcome::Passed));
    }
}

#[test]
fn exec_says_which_port_finding_it_fails_on() {
    // `exec` (cargo's target runner, nextest's wrapper) gates on a denied
    // port finding as on a leak; its stderr is all a user sees of why.
    let binary = test_binary(&fixture("ports"), &fixture_target_dir(), "ports");
    let output = sockcheck_command(&["exec", "--deny", "fixed-port-in-ephemeral-range", "--"])
        .arg(&binary)
        .args(["--exact", "binds_fixed_port_in_ephemeral_range"])
        .output()
        .unwrap();
    let stderr = stderr(&output);
    assert_eq!(status(&output), ExitStatus::Leak.code(), "{stderr}");
    assert!(stderr.contains("ports has port findings:"), "{stderr}");
    assert!(
        stderr.contains("error fixed-port-in-ephemeral-range: "),
        "{stderr}"
    );
    let (file, line) = marked("in-range");
    assert!(stderr.contains(&format!("{file}:{line}")), "{stderr}");
}
