//! Builds a test target of this package and runs it as a subprocess, for
//! the tests that drive a fixture binary (`tests/harness.rs`, `tests/guard.rs`).
//!
//! Why ask cargo instead of looking in `target/debug/deps`: a test target
//! has no `CARGO_BIN_EXE_*`; `deps` can hold several builds of it (other
//! profiles, stale hashes), and `cargo test --test harness` alone does not
//! build the fixture at all. `cargo test --no-run --message-format=json
//! --test NAME`, with this run's target dir and profile, names exactly the
//! up-to-date executable. Cargo holds no build lock while tests run, and
//! under `cargo test --workspace` the fixture is already built, so the
//! nested call costs tens of milliseconds (after `cargo test -p sockcheck`
//! it builds the workspace's variant once).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

/// The executable of test target `name`, built if needed.
pub fn executable(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    built
        .entry(name.to_owned())
        .or_insert_with(|| build(name))
        .clone()
}

/// A command running test target `name` with `SOCKCHECK_FIXTURE=1` (the
/// leaking tests on), from the package root as cargo would.
pub fn command(name: &str) -> Command {
    let mut command = Command::new(executable(name));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("SOCKCHECK_FIXTURE", "1")
        .env_remove("SOCKCHECK_REPORT")
        .env_remove("SOCKCHECK_SNAPSHOT");
    command
}

/// Runs `command` to the end.
pub fn output(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn build(name: &str) -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target dir>/tmp`.
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR has a parent");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        // `--workspace` as in `cargo test --workspace`: features unify over
        // the packages built together, so selecting only this package would
        // hash (and build) a second copy of the fixture.
        .args(["test", "--no-run", "--message-format=json", "--workspace"])
        .args(["--test", name, "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .args(same_build_as_this_test(target_dir));
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact" && message["target"]["name"] == name
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("{command:?} named no executable for test target {name}"))
}

/// `--release` / `--profile P` / `--target T` as this test executable was
/// built (`<target dir>[/<triple>]/<profile dir>/deps/<exe>`), so the nested
/// cargo finds the fixture built by the same run instead of building anew.
fn same_build_as_this_test(target_dir: &Path) -> Vec<String> {
    let exe = std::env::current_exe().expect("the test knows its executable");
    let Some(profile_dir) = exe.parent().and_then(Path::parent) else {
        return Vec::new();
    };
    let mut args = Vec::new();
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => args.push("--release".to_owned()),
        Some(profile) => args.extend(["--profile".to_owned(), profile.to_owned()]),
    }
    if let Some(triple_dir) = profile_dir.parent() {
        if !same_path(triple_dir, target_dir) {
            if let Some(triple) = triple_dir.file_name().and_then(|n| n.to_str()) {
                args.extend(["--target".to_owned(), triple.to_owned()]);
            }
        }
    }
    args
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// stdout and stderr as text.
pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The addresses a fixture printed as `fixture: <what> <addresses>` lines
/// for `what`, e.g. `close-wait` gives `127.0.0.1:1 -> 127.0.0.1:2`.
pub fn printed(stdout: &str, what: &str) -> Vec<String> {
    let prefix = format!("fixture: {what} ");
    stdout
        .lines()
        .filter_map(|line| line.split_once(&prefix).map(|(_, rest)| rest.to_owned()))
        .collect()
}

/// The tests listed as failed at the end of libtest's (or libtest-mimic's)
/// output, in order.
pub fn failed_tests(stdout: &str) -> Vec<String> {
    let Some((_, list)) = stdout.rsplit_once("\nfailures:\n") else {
        return Vec::new();
    };
    list.lines()
        .take_while(|line| line.starts_with("    "))
        .map(|line| line.trim().to_owned())
        .collect()
}

/// What libtest printed for failed test `name`: from its `---- name ...`
/// heading to the next heading.
pub fn failure_of<'a>(stdout: &'a str, name: &str) -> &'a str {
    let heading = format!("\n---- {name} ");
    let Some(start) = stdout.find(&heading) else {
        panic!("no failure printed for {name} in:\n{stdout}");
    };
    let section = &stdout[start + 1..];
    let end = ["\n---- ", "\nfailures:\n"]
        .iter()
        .filter_map(|next| section.find(next))
        .min()
        .unwrap_or(section.len());
    &section[..end]
}
