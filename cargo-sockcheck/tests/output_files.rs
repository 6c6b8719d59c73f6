//! Where the report files go: through symlinks (the link stays), into
//! devices and FIFOs as they are (`--report /dev/null` as root leaves
//! `/dev/null` a device), into directories created as needed, and never
//! to a path that cannot be a file, which is refused before any test runs.
//! And the files read (a baseline, reports to merge): regular files only,
//! so a FIFO or `/dev/zero` is one line of error, not a hang.

mod common;

use common::*;
use sockcheck::leak::LeakKind;
use sockcheck::report::{json, Outcome, Report};
use sockcheck::testing::{leak, listener, record};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// A report of one leaking test, as a file to merge.
fn leaking_report(dir: &Path) -> String {
    let report = Report::new(vec![record(
        "net",
        "leaks",
        Outcome::Passed,
        vec![leak(LeakKind::Listen, listener(8080))],
    )]);
    let mut text = Vec::new();
    json::render(&report, &mut text).unwrap();
    let path = dir.join("input.json");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `cargo sockcheck report --merge` of a leaking report with `args`.
fn merge_with(dir: &Path, args: &[&str]) -> std::process::Output {
    let input = leaking_report(dir);
    let mut all = vec!["report", "--merge", &input, "--format", "json"];
    all.extend_from_slice(args);
    sockcheck_command(&all).current_dir(dir).output().unwrap()
}

#[test]
fn symlinks_are_written_through_and_stay_links() {
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("kept");
    std::fs::create_dir(&kept).unwrap();
    std::fs::write(kept.join("report.json"), "old").unwrap();
    std::os::unix::fs::symlink("kept/report.json", dir.path().join("link.json")).unwrap();
    // A dangling link: the file it names is made.
    std::os::unix::fs::symlink("kept/junit.xml", dir.path().join("junit-link.xml")).unwrap();
    let output = merge_with(
        dir.path(),
        &["--report", "link.json", "--junit", "junit-link.xml"],
    );
    assert_eq!(status(&output), 1, "{}", stderr(&output));
    for (link, target) in [
        ("link.json", "report.json"),
        ("junit-link.xml", "junit.xml"),
    ] {
        let link = dir.path().join(link);
        assert!(
            link.symlink_metadata().unwrap().is_symlink(),
            "{link:?} was replaced"
        );
        let written = std::fs::read_to_string(kept.join(target)).unwrap();
        assert!(written.contains("leaks"), "{target}: {written}");
    }
    assert_eq!(report_file(&kept.join("report.json")).tests.len(), 1);
}

#[test]
fn devices_and_fifos_are_written_into_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    // A null device of our own when we may make one (root, as in most CI
    // containers: the case where a rename would replace it), else the
    // system's, which a rename could not replace anyway.
    let own = dir.path().join("null");
    let made = std::ffi::CString::new(own.to_str().unwrap()).unwrap();
    // SAFETY: mknod reads the NUL-terminated path and creates a node; no
    // memory of ours is written.
    let device =
        if unsafe { libc::mknod(made.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) } == 0 {
            own
        } else {
            Path::new("/dev/null").to_owned()
        };
    let fifo = dir.path().join("fifo");
    let fifo_name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: as above, for mkfifo.
    assert_eq!(unsafe { libc::mkfifo(fifo_name.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let output = merge_with(
        dir.path(),
        &[
            "--report",
            device.to_str().unwrap(),
            "--markdown",
            fifo.to_str().unwrap(),
        ],
    );
    assert_eq!(status(&output), 1, "{}", stderr(&output));
    assert!(std::fs::metadata(&device)
        .unwrap()
        .file_type()
        .is_char_device());
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    // Had sockcheck not written into it, the reader would still wait for a
    // writer: this one lets it end (with nothing read) instead of hanging.
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo);
    let markdown = reader.join().unwrap();
    assert!(
        markdown.starts_with("### sockcheck: 1 leaking test"),
        "{markdown}"
    );
}

#[test]
fn missing_directories_are_made_for_reports_and_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let output = merge_with(
        dir.path(),
        &[
            "--report",
            "target/sockcheck/report.json",
            "--write-baseline",
            "ci/baselines/sockcheck.json",
        ],
    );
    assert_eq!(status(&output), 0, "{}", stderr(&output));
    assert_eq!(
        report_file(&dir.path().join("target/sockcheck/report.json"))
            .tests
            .len(),
        1
    );
    let baseline = std::fs::read_to_string(dir.path().join("ci/baselines/sockcheck.json")).unwrap();
    assert!(baseline.contains("listen"), "{baseline}");
}

#[test]
fn a_path_that_cannot_be_a_file_is_refused_before_any_test_runs() {
    for path in ["/", "."] {
        let output = on_fixture("leaky", &["--test", "net", "--report", path]);
        assert_eq!(status(&output), 2, "{path}: {}", stderr(&output));
        let err = stderr(&output);
        assert_eq!(
            err.trim(),
            format!(
                "error: cannot write the report to {path}: it is a directory: name a file in it"
            ),
        );
        assert!(
            output.stdout.is_empty(),
            "no test ran: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

#[test]
fn a_baseline_or_report_that_is_not_a_regular_file_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let fifo_name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads the NUL-terminated path; nothing of ours is written.
    assert_eq!(unsafe { libc::mkfifo(fifo_name.as_ptr(), 0o600) }, 0);
    let fifo = fifo.to_str().unwrap();
    let refused = "not a regular file (a FIFO, a device or a directory): give the path of a file";
    for (args, what) in [
        (
            vec!["--baseline", fifo],
            format!("cannot read baseline {fifo}"),
        ),
        (
            vec!["--baseline", "/dev/zero"],
            "cannot read baseline /dev/zero".to_owned(),
        ),
    ] {
        let output = merge_with(dir.path(), &args);
        assert_eq!(status(&output), 2, "{}", stderr(&output));
        assert_eq!(stderr(&output).trim(), format!("error: {what}: {refused}"));
    }
    let output = sockcheck(&["report", "--merge", "/dev/zero"]);
    assert_eq!(status(&output), 2, "{}", stderr(&output));
    assert_eq!(
        stderr(&output).trim(),
        format!("error: cannot read report /dev/zero: {refused}")
    );
}

#[test]
fn the_job_summary_is_cut_to_githubs_limit_and_the_markdown_file_is_whole() {
    let dir = tempfile::tempdir().unwrap();
    // 50 failing tests, each with 60 lines of 1,000 bytes of output: 3 MB.
    let line = "x".repeat(1_000);
    let tests = (0..50)
        .map(|i| {
            let mut test = record("net", &format!("fails_{i}"), Outcome::Failed, vec![]);
            test.output = Some(format!("{line}\n").repeat(60));
            test
        })
        .collect();
    let mut text = Vec::new();
    json::render(&Report::new(tests), &mut text).unwrap();
    std::fs::write(dir.path().join("big.json"), text).unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step output\n").unwrap();
    let output = sockcheck_command(&["report", "--merge", "big.json", "--markdown", "report.md"])
        .current_dir(dir.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(status(&output), 101, "{}", stderr(&output));
    let whole = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(whole.len() > 2 << 20, "{} bytes", whole.len());
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.len() <= 1 << 20, "{} bytes", summary.len());
    assert!(
        summary.len() > 1_000_000,
        "cut near the limit: {}",
        summary.len()
    );
    let (kept, note) = summary.rsplit_once("\n… ").unwrap();
    assert!(note.contains(" more lines cut here to fit "), "{note}");
    assert!(
        note.contains("the whole report is in the file --markdown writes"),
        "{note}"
    );
    // Nothing is left open: every output block and fold is closed.
    assert_eq!(
        kept.matches("<details>").count(),
        kept.matches("</details>").count()
    );
    assert_eq!(kept.matches("\n```").count() % 2, 0);
}
