//! End to end: `exec` as the nextest wrapper script docs/ci.md documents,
//! under a real `cargo nextest run` of the leaky fixture.
//!
//! A `harness = false` target on sockcheck's own harness, so that it can
//! tell at run time that cargo-nextest is missing and report the trial
//! ignored (libtest's `#[ignore]` is fixed at compile time): never "ok"
//! for a check that did not run. `.ci/run` installs cargo-nextest.

mod common;

use common::*;
use sockcheck::harness::{Failed, Harness, Trial};
use std::process::Command;

fn main() {
    Harness::new().main(vec![Trial::test(
        "exec_as_a_nextest_wrapper_script_fails_the_leaking_tests",
        exec_as_a_nextest_wrapper_script_fails_the_leaking_tests,
    )
    .with_ignored_flag(!has_nextest())]);
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// True when `cargo nextest` runs here.
fn has_nextest() -> bool {
    Command::new(cargo())
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn exec_as_a_nextest_wrapper_script_fails_the_leaking_tests() -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("nextest.toml");
    std::fs::write(
        &config,
        format!(
            "experimental = [\"wrapper-scripts\"]\n\n\
             [scripts.wrapper.sockcheck]\n\
             command = ['{}', 'sockcheck', 'exec', '--']\n\n\
             [[profile.default.scripts]]\n\
             filter = 'all()'\n\
             platform = 'cfg(target_os = \"linux\")'\n\
             run-wrapper = 'sockcheck'\n",
            env!("CARGO_BIN_EXE_cargo-sockcheck")
        ),
    )?;
    let output = Command::new(cargo())
        .args(["nextest", "run", "--no-fail-fast", "--manifest-path"])
        .arg(fixture("leaky"))
        .arg("--target-dir")
        .arg(fixture_target_dir())
        .arg("--config-file")
        .arg(&config)
        .args([
            "-E",
            "test(=leaks_close_wait_ipv4) | test(=clean_round_trip)",
        ])
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()?;
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    if output.status.success() {
        return Err(format!("nextest passed a leaking test:\n{all}").into());
    }
    if !all.contains("2 tests run: 1 passed, 1 failed") {
        return Err(format!("not one leaking and one clean test:\n{all}").into());
    }
    if !all.contains("error close-wait: tcp 127.0.0.1:") {
        return Err(format!("the leak is not named:\n{all}").into());
    }
    Ok(())
}
