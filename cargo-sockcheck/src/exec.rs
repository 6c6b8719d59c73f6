//! `cargo sockcheck exec -- COMMAND`: one command under the tracer, as
//! cargo's target runner or a nextest wrapper. Its output passes through;
//! what it left open and its port findings are reported on stderr.

use crate::cli::ExecOptions;
use crate::exit::ExitStatus;
use crate::run::{Job, Runner, Settings};
use crate::stack::project::ProjectSource;
use crate::{config, log_guard, outputs};
use anyhow::{Context, Result};
use sockcheck::report::{text, Report, TestRecord};
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// Runs the command under the tracer; returns [`ExitStatus::Leak`] on an
/// error-level leak, else the command's own exit status.
pub fn trace_command(options: ExecOptions) -> Result<ExitStatus> {
    if let Some(path) = &options.report {
        outputs::check_writable(path)?;
    }
    let (program, args) = options
        .command
        .split_first()
        .context("no command given after `--`")?;
    let binary = binary_name(Path::new(program));
    let project = ProjectSource::from_environment(&binary);
    let job = Job {
        binary,
        name: test_name(args),
        command: Box::new(|| {
            let mut command = Command::new(program);
            command.args(args);
            command
        }),
        capture: false,
        libtest: false,
        policy: None,
    };
    let mut runner = Runner::new(Settings {
        jobs: 1,
        timeout: None,
        policy: config::policy(&options.gate),
        project,
        churn_threshold: None,
        max_fds: None,
    });
    let result = runner.run_jobs(std::slice::from_ref(&job), &mut |record: &TestRecord| {
        let found = match (record.leaks.is_empty(), record.port_findings.is_empty()) {
            (true, true) => return,
            (false, true) => "left sockets open",
            (true, false) => "has port findings",
            (false, false) => "left sockets open and has port findings",
        };
        let mut lines = format!("sockcheck: {} {found}:\n", record.binary).into_bytes();
        let _ = text::write_test_line(record, &mut lines);
        let _ = text::write_leaks(record, &mut lines);
        let _ = text::write_port_findings(record, &mut lines);
        let _ = anstream::stderr().write_all(&log_guard::guarded(lines));
    });
    if let Some(note) = runner.lost_sites_note() {
        eprintln!("sockcheck: note: {note}");
    }
    if let Some(fatal) = result.fatal {
        return Err(fatal);
    }
    let ended = result.exit_statuses.first().copied().flatten();
    let report = Report::new(result.records.into_iter().flatten().collect());
    if let Some(path) = &options.report {
        outputs::write_json_report(&report, path)?;
    }
    if let Some(signal) = result.interrupted_by {
        return Ok(ExitStatus::Signal(signal));
    }
    let Some(record) = report.tests.first() else {
        anyhow::bail!("the command did not finish");
    };
    Ok(ExitStatus::of_command(record, ended))
}

/// What the command runs, for the record's name: the first argument that is
/// not a flag (a test binary's filter, e.g. the test nextest runs), else `*`.
fn test_name(args: &[std::ffi::OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy())
        .find(|a| !a.starts_with('-'))
        .map_or_else(|| "*".to_owned(), |a| a.into_owned())
}

/// A test binary's target name from its path: `net-1a2b3c4d` → `net`.
fn binary_name(program: &Path) -> String {
    let stem = program
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            name.to_owned()
        }
        _ => stem,
    }
}

#[cfg(test)]
mod tests {
    use super::{binary_name, test_name};
    use std::path::Path;

    #[test]
    fn the_test_name_is_the_first_argument_that_is_not_a_flag() {
        let args = ["--exact", "net::leaks", "--nocapture"].map(Into::into);
        assert_eq!(test_name(&args), "net::leaks");
        assert_eq!(test_name(&["--quiet".into()]), "*");
    }

    #[test]
    fn cargo_s_hash_suffix_is_dropped_from_the_binary_name() {
        assert_eq!(
            binary_name(Path::new("/t/debug/deps/net-0123456789abcdef")),
            "net"
        );
        assert_eq!(binary_name(Path::new("/usr/bin/my-server")), "my-server");
    }
}
