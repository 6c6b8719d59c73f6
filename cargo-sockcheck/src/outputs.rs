//! Everything a run leaves behind, from one report: stdout in the chosen
//! format, the JSON, Markdown, JUnit, SARIF and GitLab Code Quality files,
//! the baseline, and on GitHub Actions the job summary and one annotation
//! per leak site. The formats a code host reads give paths from the
//! repository root ([`crate::repository`]).
//!
//! Files are written atomically (a temporary file, then a rename; through
//! symlinks, which stay links), devices and FIFOs in place (`--report
//! /dev/null` leaves `/dev/null` a device), and every path is checked
//! before any test runs, its missing directories created, so a typo in a
//! path costs a second, not a whole run.
//!
//! On GitHub Actions (`GITHUB_ACTIONS=true`) the `::error`/`::warning`
//! workflow commands go to **stderr**: the runner reads workflow commands
//! from both streams of a step (actions/runner hands stdout and stderr to
//! the same command parser), and stdout may carry `--format json`, which a
//! stray line would corrupt. When `GITHUB_STEP_SUMMARY` names a file, the
//! Markdown report is appended to it, cut to GitHub's 1 MiB limit; failing
//! to do so is a warning, not a reason to fail the gate.

use crate::cli::{BaselineOptions, Format, OutputOptions};
use crate::exit::ExitStatus;
use crate::gate::Verdict;
use crate::log_guard;
use anyhow::{anyhow, Context, Result};
use sockcheck::baseline::{Baseline, PortRange};
use sockcheck::report::sites::RepoPaths;
use sockcheck::report::text::{self, TextOptions};
use sockcheck::report::words::counted;
use sockcheck::report::{self, github, gitlab, json, junit, markdown, sarif, Report};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The outputs asked for, checked and ready to be written.
pub struct Outputs<'a> {
    options: &'a OutputOptions,
    baseline: Option<Baseline>,
    write_baseline: Option<&'a Path>,
    github: GitHub,
    text: TextOptions,
    /// Where the workspace lies in the repository.
    paths: RepoPaths,
}

/// What GitHub Actions asks of a step, from its environment.
struct GitHub {
    /// `GITHUB_STEP_SUMMARY`: the job summary file to append Markdown to.
    step_summary: Option<PathBuf>,
    /// `GITHUB_ACTIONS=true`: print workflow commands (annotations).
    annotations: bool,
}

impl GitHub {
    fn from_env() -> GitHub {
        GitHub {
            step_summary: std::env::var_os("GITHUB_STEP_SUMMARY")
                .filter(|path| !path.is_empty())
                .map(PathBuf::from),
            annotations: log_guard::on_github_actions(),
        }
    }
}

impl<'a> Outputs<'a> {
    /// Checks that every file asked for can be written and reads the
    /// baseline: call before any test runs. A corrupt baseline is an error.
    pub fn prepare(options: &'a OutputOptions, baseline: &'a BaselineOptions) -> Result<Self> {
        let files = [
            &options.report,
            &options.markdown,
            &options.junit,
            &options.sarif,
            &options.gitlab,
            &baseline.write_baseline,
        ];
        for path in files.into_iter().flatten() {
            check_writable(path)?;
        }
        // The error names the file and says what is wrong in one line; its
        // source chain would only repeat it.
        let known = match &baseline.baseline {
            Some(path) => Some(Baseline::load(path).map_err(|e| anyhow!("{e}"))?),
            None => None,
        };
        Ok(Outputs {
            options,
            baseline: known,
            write_baseline: baseline.write_baseline.as_deref(),
            github: GitHub::from_env(),
            text: TextOptions::default(),
            paths: RepoPaths::default(),
        })
    }

    /// Gives paths from the repository root around the workspace at `root`.
    pub fn in_workspace(self, root: &Path) -> Self {
        let paths = crate::repository::paths_of(root);
        Outputs { paths, ..self }
    }

    /// Shows tests' output in the text report as `text` says.
    pub fn with_text(self, text: TextOptions) -> Self {
        Outputs { text, ..self }
    }

    /// Writes every output of `report` and returns the exit status the gate
    /// gives it. Every output is attempted; the first that fails is the error.
    pub fn write(&self, report: &Report) -> Result<ExitStatus> {
        let verdict = Verdict::judge(report, self.baseline.as_ref());
        let mut first_error = None;
        let mut check = |result: Result<()>| {
            if let Err(error) = result {
                first_error.get_or_insert(error);
            }
        };
        let markdown = self.wants_markdown().then(|| render_markdown(&verdict));
        if let Some(path) = &self.options.report {
            check(write_json_report(report, path));
        }
        if let (Some(path), Some(markdown)) = (&self.options.markdown, &markdown) {
            check(write_file(path, markdown, "the Markdown report"));
        }
        if let Some(path) = &self.options.junit {
            check(
                render(|out| junit::render(&verdict.shown, out))
                    .and_then(|xml| write_file(path, &xml, "the JUnit report")),
            );
        }
        let ports = PortRange::system();
        if let Some(path) = &self.options.sarif {
            check(
                render(|out| sarif::render(&verdict.shown, &self.paths, ports, out))
                    .and_then(|log| write_file(path, &log, "the SARIF report")),
            );
        }
        if let Some(path) = &self.options.gitlab {
            check(
                render(|out| gitlab::render(&verdict.shown, &self.paths, ports, out))
                    .and_then(|issues| write_file(path, &issues, "the Code Quality report")),
            );
        }
        if let Some(path) = self.write_baseline {
            check(write_baseline(report, path));
        }
        check(self.print(report, &verdict, markdown.as_deref()));

        let mut err = std::io::stderr().lock();
        let mut notes = Vec::new();
        let _ = verdict.write_notes(&mut notes);
        let _ = err.write_all(&log_guard::guarded(notes));
        if self.github.annotations {
            let elsewhere = self.elsewhere();
            let _ = github::render(&verdict.shown, &self.paths, &elsewhere, &mut err);
        }
        if let (Some(path), Some(markdown)) = (&self.github.step_summary, &markdown) {
            if let Err(error) = append_to_summary(path, markdown) {
                let _ = writeln!(
                    err,
                    "sockcheck: warning: cannot append to the job summary GITHUB_STEP_SUMMARY={}: {error}",
                    path.display()
                );
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(self.exit_status(report, &verdict)),
        }
    }

    /// The gate's exit status, except that a run writing a baseline is no
    /// gate: once the baseline is written (the run was not interrupted),
    /// leaks do not fail it; a failed test still does (101).
    fn exit_status(&self, report: &Report, verdict: &Verdict) -> ExitStatus {
        let status = verdict.exit_status();
        let baseline_written = self.write_baseline.is_some() && !report.interrupted;
        if baseline_written && status == ExitStatus::Leak {
            ExitStatus::Clean
        } else {
            status
        }
    }

    /// Where every leak can be read when annotations leave some out: `the
    /// job summary, report.sarif and report.json`.
    fn elsewhere(&self) -> String {
        let mut places: Vec<String> = Vec::new();
        if self.github.step_summary.is_some() {
            places.push("the job summary".to_owned());
        }
        let o = self.options;
        for path in [&o.sarif, &o.report, &o.markdown, &o.gitlab, &o.junit] {
            if let Some(name) = path.as_deref().and_then(Path::file_name) {
                places.push(name.to_string_lossy().into_owned());
            }
        }
        match places.split_last() {
            None => "the text report".to_owned(),
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        }
    }

    fn wants_markdown(&self) -> bool {
        self.options.format == Format::Markdown
            || self.options.markdown.is_some()
            || self.github.step_summary.is_some()
    }

    /// Prints the report on stdout in the chosen format. A closed stdout is
    /// not an error.
    fn print(&self, report: &Report, verdict: &Verdict, markdown: Option<&[u8]>) -> Result<()> {
        let rendered = match (self.options.format, markdown) {
            (Format::Text, _) => render(|out| text::render(&verdict.shown, &self.text, out))?,
            // The raw result: leaks at their policy's severity, as in `--report`.
            (Format::Json, _) => render(|out| json::render(report, out))?,
            (Format::Markdown, Some(markdown)) => markdown.to_vec(),
            (Format::Markdown, None) => render_markdown(verdict),
        };
        // JSON keeps every string on its line, inside quotes; the text and
        // Markdown echo test output, which must not run workflow commands.
        let rendered = match self.options.format {
            Format::Json => rendered,
            Format::Text | Format::Markdown => log_guard::guarded_stdout(rendered),
        };
        // Styles (text only) are dropped unless stdout is to be coloured.
        let mut stdout = anstream::stdout().lock();
        match stdout.write_all(&rendered).and_then(|()| stdout.flush()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(e).context("cannot write to stdout")
            }
            _ => Ok(()),
        }
    }
}

/// The Markdown report of the shown report, with the baseline's section.
fn render_markdown(verdict: &Verdict) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = markdown::render(&verdict.shown, &mut out);
    let _ = verdict.write_markdown(&mut out);
    out
}

/// What `renderer` writes, in memory.
fn render(renderer: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    renderer(&mut bytes).context("cannot render the report")?;
    Ok(bytes)
}

fn write_file(path: &Path, contents: &[u8], what: &str) -> Result<()> {
    report::write_atomically(path, contents)
        .with_context(|| format!("cannot write {what} to {}", path.display()))
}

/// Records the leaks and port findings of `report` as a baseline in `path`, unless the run
/// was cut short: a baseline of the tests that happened to finish would
/// make the others' leaks look new next time.
fn write_baseline(report: &Report, path: &Path) -> Result<()> {
    if report.interrupted {
        eprintln!(
            "sockcheck: the baseline was not written to {}: the run was interrupted",
            path.display()
        );
        return Ok(());
    }
    let baseline = Baseline::from_report(report);
    baseline
        .save(path)
        .with_context(|| format!("cannot write the baseline to {}", path.display()))?;
    let ports = match baseline.port_len() {
        0 => String::new(),
        n => format!(" and {}", counted(n, "port finding")),
    };
    eprintln!(
        "sockcheck: wrote a baseline of {}{ports} to {}",
        counted(baseline.len(), "leak"),
        path.display()
    );
    Ok(())
}

/// Appends the Markdown report to the job summary `path`, creating it if
/// needed (GitHub's job summary file collects what every step appends),
/// cut to what GitHub shows of one step's summary (1 MiB, what the step
/// wrote before included), saying where the whole report is.
fn append_to_summary(path: &Path, markdown: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let before = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
    let room = markdown::JOB_SUMMARY_MAX.saturating_sub(before);
    let text = String::from_utf8_lossy(markdown);
    let whole = "the whole report is in the file --markdown writes (the GitHub Action keeps it \
                 in its artifact)";
    file.write_all(markdown::cap(&text, room, whole).as_bytes())
}

/// Writes the JSON report to `path`, atomically.
pub fn write_json_report(report: &Report, path: &Path) -> Result<()> {
    let bytes = render(|out| json::render(report, out))?;
    write_file(path, &bytes, "the report")
}

/// Fails early, before any test runs, when a report could not be written
/// to `path` at the end: a directory, a path that names no file, a place
/// this process may not write. Creates the missing directories of a new
/// file (`target/sockcheck/report.json` on a fresh checkout). A device
/// or FIFO is not opened, only its permission asked.
pub fn check_writable(path: &Path) -> Result<()> {
    let cannot = || format!("cannot write the report to {}", path.display());
    let checked = report::output_file(path).and_then(|file| match file {
        report::OutputFile::InPlace(device) => may_write_into(&device),
        report::OutputFile::Replace(file) => {
            let dir = file.parent().unwrap_or(Path::new("."));
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            std::fs::create_dir_all(dir)?;
            let probe = dir.join(format!(".sockcheck-probe-{}", std::process::id()));
            std::fs::File::create(&probe).and_then(|_| std::fs::remove_file(&probe))
        }
    });
    checked.with_context(cannot)
}

/// Whether this process may write into `device`, asked without opening
/// it: opening a FIFO would hand its reader an early end of file.
fn may_write_into(device: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(device.as_os_str().as_bytes())?;
    // SAFETY: access() only reads the NUL-terminated path.
    if unsafe { libc::access(path.as_ptr(), libc::W_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Format;
    use sockcheck::leak::LeakKind;
    use sockcheck::report::{Outcome, TestRecord};
    use sockcheck::testing::{leak, listener};

    fn leaking(outcome: Outcome) -> Report {
        let mut test = TestRecord::new("net", "leaks", outcome);
        test.leaks.push(leak(LeakKind::Listen, listener(8080)));
        Report::new(vec![test])
    }

    fn status(report: &Report, write_baseline: Option<&Path>) -> ExitStatus {
        let options = OutputOptions {
            format: Format::Text,
            report: None,
            markdown: None,
            junit: None,
            sarif: None,
            gitlab: None,
        };
        let outputs = Outputs {
            options: &options,
            baseline: None,
            write_baseline,
            github: GitHub {
                step_summary: None,
                annotations: false,
            },
            text: TextOptions::default(),
            paths: RepoPaths::default(),
        };
        outputs.exit_status(report, &Verdict::judge(report, None))
    }

    #[test]
    fn writing_a_baseline_is_no_gate_but_failed_tests_still_fail() {
        let path = Some(Path::new("baseline.json"));
        assert_eq!(status(&leaking(Outcome::Passed), None), ExitStatus::Leak);
        assert_eq!(status(&leaking(Outcome::Passed), path), ExitStatus::Clean);
        assert_eq!(
            status(&leaking(Outcome::Failed), path),
            ExitStatus::TestFailed
        );
        let mut interrupted = leaking(Outcome::Passed);
        interrupted.interrupted = true;
        assert_eq!(status(&interrupted, path), ExitStatus::Leak);
    }
}
