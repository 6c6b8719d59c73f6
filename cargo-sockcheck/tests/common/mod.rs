//! Running the built `cargo-sockcheck` on the fixture projects in
//! `tests/fixtures/`, as a user would.

#![allow(dead_code)] // each test file uses its own part of this

#[path = "../../../tests/schema/mod.rs"]
pub mod schema;

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

/// The line of fixture `name`'s `file` that ends with `tag` (there must be
/// exactly one), numbered from 1 as reports number lines: how a test finds
/// a fixture line without hard-coding its number.
pub fn marked_line(name: &str, file: &str, tag: &str) -> u32 {
    let path = fixture(name).with_file_name(file);
    let source = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<usize> = source
        .lines()
        .enumerate()
        .filter(|(_, line)| line.trim_end().ends_with(tag))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 1, "{tag} in {}", path.display());
    lines[0] as u32
}

/// The target dir cargo builds these tests in (`CARGO_TARGET_DIR`,
/// `--target-dir`, `build.target-dir` or the workspace's `target/`): the
/// one the built `cargo-sockcheck` lies in. Never the source tree unless
/// cargo's own is there, and one per checkout.
pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_cargo-sockcheck"))
        .ancestors()
        .nth(2)
        .expect("the binary lies in TARGET/PROFILE/")
        .to_path_buf()
}

/// One target dir for every fixture build, so each fixture is built once per
/// test run however many tests use it: `fixtures/` in [`target_dir`].
pub fn fixture_target_dir() -> PathBuf {
    target_dir().join("fixtures")
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

/// The binary of the integration test target `test` of the project of
/// `manifest`, built in `target`, as cargo names it (building it if need
/// be): for running it under `cargo sockcheck exec` or by hand.
pub fn test_binary(manifest: &Path, target: &Path, test: &str) -> PathBuf {
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "test",
            "--no-run",
            "--test",
            test,
            "--message-format",
            "json",
        ])
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target)
        .output()
        .expect("run cargo");
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["kind"][0] == "test")
        .find_map(|message| Some(message["executable"].as_str()?.into()))
        .unwrap_or_else(|| panic!("no test binary: {}", stderr(&output)))
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

/// `text` with every time a run prints (`[   0.112s]`) replaced by
/// `[time]`: what stays the same from one run to the next.
pub fn without_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let from_open = &rest[open..];
        match from_open.find(']') {
            Some(close) if is_seconds(&from_open[1..close]) => {
                out.push_str("[time]");
                rest = &from_open[close + 1..];
            }
            _ => {
                out.push('[');
                rest = &from_open[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `   0.112s`: seconds with three decimals, right-aligned.
fn is_seconds(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    text.trim_start()
        .strip_suffix('s')
        .and_then(|number| number.split_once('.'))
        .is_some_and(|(whole, millis)| digits(whole) && millis.len() == 3 && digits(millis))
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

/// The sleep length the chaos fixture's leftover process is started with
/// for `secs` (`CHAOS_SLEEP_SECS`): tagged with this process's id, so that
/// another run of this suite on the same host neither finds nor is found
/// by ours.
pub fn tagged(secs: &str) -> String {
    format!("{secs}.{}", std::process::id())
}

/// Live processes whose command line is exactly `sleep SECS` (tagged).
pub fn sleepers(secs: &str) -> Vec<u32> {
    let wanted = format!("sleep\0{}\0", tagged(secs));
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == wanted.as_bytes())
                && process_alive(*pid)
        })
        .collect()
}

/// A copy of a fixture (the leaky one unless named) in a temporary
/// directory, to change. It builds in its own target dir: a changed copy
/// must not overwrite the binaries of the shared fixture build that other
/// tests run.
pub struct LeakyCopy {
    dir: tempfile::TempDir,
}

impl LeakyCopy {
    /// A fresh copy of the leaky fixture.
    pub fn new() -> LeakyCopy {
        LeakyCopy::of("leaky")
    }

    /// A fresh copy of fixture `name`.
    pub fn of(name: &str) -> LeakyCopy {
        let dir = tempfile::tempdir().unwrap();
        let from = fixture(name);
        let from = from.parent().unwrap();
        for entry in ["Cargo.toml", "Cargo.lock", "src", "tests"] {
            copy_tree(&from.join(entry), &dir.path().join(entry));
        }
        LeakyCopy { dir }
    }

    /// A copy of this copy in another new directory, its files with the
    /// same modification times: the same commit checked out elsewhere, for
    /// which cargo finds nothing to rebuild in a target dir built here.
    pub fn moved(&self) -> LeakyCopy {
        let dir = tempfile::tempdir().unwrap();
        for entry in ["Cargo.toml", "Cargo.lock", "src", "tests"] {
            copy_tree(&self.path(entry), &dir.path().join(entry));
            same_times(&self.path(entry), &dir.path().join(entry));
        }
        LeakyCopy { dir }
    }

    /// `relative` inside the copy.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Writes a file of the copy.
    pub fn write(&self, relative: &str, contents: &str) {
        std::fs::write(self.path(relative), contents).unwrap();
    }

    /// Appends `contents` to a file of the copy, on a new line.
    pub fn append(&self, relative: &str, contents: &str) {
        let old = std::fs::read_to_string(self.path(relative)).unwrap();
        self.write(relative, &format!("{old}\n{contents}"));
    }

    /// Replaces `from`, which must be there, with `to` in a file.
    pub fn replace(&self, relative: &str, from: &str, to: &str) {
        let old = std::fs::read_to_string(self.path(relative)).unwrap();
        assert!(old.contains(from), "{relative} has no {from:?}");
        self.write(relative, &old.replacen(from, to, 1));
    }

    /// `cargo sockcheck ARGS` on the copy.
    pub fn sockcheck(&self, args: &[&str]) -> Output {
        on_project_command(&self.path("Cargo.toml"), &self.path("target"), args)
            .output()
            .unwrap()
    }
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

/// Gives the files under `to` the modification times of those under `from`.
fn same_times(from: &Path, to: &Path) {
    if from.is_dir() {
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            same_times(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        let modified = std::fs::metadata(from).unwrap().modified().unwrap();
        let file = std::fs::File::options().write(true).open(to).unwrap();
        file.set_modified(modified).unwrap();
    }
}
