//! Running the built `cargo-sockcheck` on the fixture projects in
//! `tests/fixtures/`, as a user would.

#![allow(dead_code)] // each test file uses its own part of this

#[path = "../../../tests/schema/mod.rs"]
mod schema;

use sockcheck::report::{Outcome, Report, TestRecord};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fixture project's manifest.
pub fn fixture(name: &str) -> PathBuf {
    repo_root()
        .join("tests/fixtures")
        .join(name)
        .join("Cargo.toml")
}

/// One target dir for every fixture build, so each fixture is built once per
/// test run however many tests use it.
pub fn fixture_target_dir() -> PathBuf {
    repo_root().join("target/fixtures")
}

/// `cargo sockcheck ARGS` with the built binary, as cargo would call it.
pub fn sockcheck(args: &[&str]) -> Output {
    sockcheck_command(args)
        .output()
        .expect("run cargo-sockcheck")
}

/// The command for `cargo sockcheck ARGS`, to adjust before running. It
/// does not see the GitHub Actions environment of a CI run of these tests:
/// a fixture's report must not land in the real job summary.
pub fn sockcheck_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cargo-sockcheck"));
    command
        .arg("sockcheck")
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    command
}

/// `cargo sockcheck` on a fixture with the shared target dir and `args`.
pub fn on_fixture(name: &str, args: &[&str]) -> Output {
    on_fixture_command(name, args)
        .output()
        .expect("run cargo-sockcheck")
}

/// The command for `cargo sockcheck` on a fixture with the shared target
/// dir and `args`, to adjust before running.
pub fn on_fixture_command(name: &str, args: &[&str]) -> Command {
    on_project_command(&fixture(name), &fixture_target_dir(), args)
}

/// The command for `cargo sockcheck` on the project of `manifest`, built in
/// `target`, with `args`.
pub fn on_project_command(manifest: &Path, target: &Path, args: &[&str]) -> Command {
    let mut all = vec![
        "--manifest-path",
        manifest.to_str().expect("utf-8 path"),
        "--target-dir",
        target.to_str().expect("utf-8 path"),
    ];
    all.extend_from_slice(args);
    sockcheck_command(&all)
}

/// The JSON report printed by `--format json`, checked against
/// docs/report.schema.json.
pub fn json_report(output: &Output) -> Report {
    let stdout = String::from_utf8_lossy(&output.stdout);
    if stdout.trim().is_empty() {
        panic!(
            "no JSON report on stdout; stderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    schema::parse_checked(&stdout)
}

/// The JSON report written to `path` (`--output json=PATH`,
/// `SOCKCHECK_REPORT`), checked against docs/report.schema.json.
pub fn report_file(path: &Path) -> Report {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    schema::parse_checked(&text)
}

/// The record of `binary::name`.
pub fn record<'a>(report: &'a Report, binary: &str, name: &str) -> &'a TestRecord {
    report
        .tests
        .iter()
        .find(|t| t.binary == binary && t.name == name)
        .unwrap_or_else(|| panic!("no record for {binary}::{name} in {report:#?}"))
}

/// `(outcome, leak kinds)` of every test, sorted by name: a verdict table
/// that compares in one assertion.
pub fn verdicts(report: &Report) -> Vec<(String, Outcome, Vec<String>)> {
    let mut rows: Vec<_> = report
        .tests
        .iter()
        .map(|t| {
            let mut kinds: Vec<String> = t
                .leaks
                .iter()
                .map(|l| format!("{}:{}", l.kind, l.severity))
                .collect();
            kinds.sort();
            (t.full_name(), t.outcome, kinds)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// The exit status, which must be there (no death by signal).
pub fn status(output: &Output) -> i32 {
    output.status.code().unwrap_or_else(|| {
        panic!(
            "cargo-sockcheck died: {:?}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// True while process `pid` exists (and is not a zombie).
pub fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}
