//! What a run shows while it runs, on stderr: a line per finished test
//! (with its leaks, and its output when asked for at once) and, when
//! stderr is a terminal, a live status line redrawn at the bottom: tests
//! done of all, leaking so far, time elapsed, and what is running now.
//! Into a pipe or a file (a CI log) there is no status line and nothing is
//! redrawn: only the plain lines, one write per test.
//!
//! The status line is indicatif's, redrawn by its ticker thread. That
//! thread is started with SIGCHLD, SIGINT and SIGTERM blocked, as the
//! tracer's thread has them: the tracer reads them from a signalfd, and a
//! thread that did not block them would take them first (and SIGINT would
//! kill the process instead of ending the run cleanly).

use crate::cli::OutputWhen;
use crate::log_guard;
use crate::run::Progress;
use anstream::ColorChoice;
use anstyle::{AnsiColor, Style};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use sockcheck::report::text;
use sockcheck::report::{visible, TestRecord};
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// How often the status line is redrawn (and its clock moves).
const TICK: Duration = Duration::from_millis(100);
/// Running tests named on the status line; more are counted.
const RUNNING_NAMED: usize = 2;

/// Tells the terminal (or the log) how the run goes; see the module docs.
pub struct Reporter {
    bar: Option<ProgressBar>,
    colour: bool,
    success_output: OutputWhen,
    failure_output: OutputWhen,
    done: usize,
    leaking: usize,
    /// Full names of the tests running now, oldest first.
    running: Vec<String>,
}

impl Reporter {
    /// A reporter for a run of `total` tests; with a status line only when
    /// stderr is a terminal. Test output is printed as each test finishes
    /// when `success_output` or `failure_output` say `immediate`.
    pub fn new(total: usize, success_output: OutputWhen, failure_output: OutputWhen) -> Reporter {
        let stderr = std::io::stderr();
        let colour = anstream::AutoStream::choice(&stderr) != ColorChoice::Never;
        let bar = stderr.is_terminal().then(|| status_line(total, colour));
        Reporter {
            bar,
            colour,
            success_output,
            failure_output,
            done: 0,
            leaking: 0,
            running: Vec::new(),
        }
    }

    /// Says what the run does now (`rerunning 3 leaking tests`): on the
    /// status line on a terminal, as a line of its own elsewhere.
    pub fn phase(&mut self, what: &str) {
        self.running.clear();
        match &self.bar {
            Some(bar) => bar.set_message(what.to_owned()),
            None => self.print(format!("sockcheck: {what}\n").as_bytes()),
        }
    }

    /// Writes `bytes` to stderr in one `write`, above the status line if
    /// there is one, without its styles unless stderr is coloured. (Not
    /// through `anstream::stderr()`: it asks the terminal each time it is
    /// made, and its stripping adapter writes each piece between two
    /// styles on its own.)
    fn print(&self, bytes: &[u8]) {
        let write = || {
            let _ = if self.colour {
                std::io::stderr().write_all(bytes)
            } else {
                std::io::stderr().write_all(&anstream::adapter::strip_bytes(bytes).into_vec())
            };
        };
        match &self.bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }

    /// Redraws the status line's counts and running tests.
    fn update(&self) {
        let Some(bar) = &self.bar else { return };
        bar.set_position(self.done as u64);
        let mut message = String::new();
        if self.leaking > 0 {
            let leaking = format!("{} leaking", self.leaking);
            message.push_str(&self.paint(YELLOW, &leaking));
            message.push_str(" · ");
        }
        let named: Vec<&str> = self
            .running
            .iter()
            .take(RUNNING_NAMED)
            .map(String::as_str)
            .collect();
        message.push_str(&named.join(", "));
        if self.running.len() > RUNNING_NAMED {
            message.push_str(&format!(" and {} more", self.running.len() - RUNNING_NAMED));
        }
        bar.set_message(message);
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.colour {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    /// True when `record`'s output is to be printed as it finishes.
    fn output_now(&self, record: &TestRecord) -> bool {
        let when = if record.outcome.is_failure() {
            self.failure_output
        } else {
            self.success_output
        };
        when == OutputWhen::Immediate
    }
}

impl Progress for Reporter {
    fn started(&mut self, binary: &str, name: &str) {
        self.running.push(running_name(binary, name));
        self.update();
    }

    /// Prints `record`'s line; a whole binary's record (`--fast`, no test
    /// name) only leaves the running list: its tests are told one by one.
    fn finished(&mut self, record: &TestRecord) {
        let full = running_name(&record.binary, &record.name);
        if let Some(i) = self.running.iter().position(|r| *r == full) {
            self.running.remove(i);
        }
        if record.name.is_empty() {
            self.update();
            return;
        }
        self.done += 1;
        self.leaking += usize::from(!record.leaks.is_empty());
        let mut lines = Vec::new();
        let _ = text::write_test_line(record, &mut lines);
        let _ = text::write_leaks(record, &mut lines);
        if self.output_now(record) {
            let _ = text::write_output(record, &mut lines);
        }
        // One write per test: stderr is unbuffered.
        self.print(&log_guard::guarded(lines));
        self.update();
    }
}

impl Drop for Reporter {
    /// The status line goes when the run is over, before the report.
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

const YELLOW: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)))
    .bold();

/// `net::leaks_udp`, or `net (whole binary)` for a job that runs a binary's
/// tests in one process (`--fast`). Control characters in either (a
/// custom harness names its tests as it likes) are written as escapes.
fn running_name(binary: &str, name: &str) -> String {
    let binary = visible(binary);
    if name.is_empty() {
        format!("{binary} (whole binary)")
    } else {
        format!("{binary}::{}", visible(name))
    }
}

/// The status line: `Running [00:00:12] [=====>    ] 7/13 2 leaking · net::a`.
fn status_line(total: usize, colour: bool) -> ProgressBar {
    let template = if colour {
        "{prefix:>8.cyan.bold} [{elapsed_precise}] [{bar:20}] {pos}/{len} {wide_msg}"
    } else {
        "{prefix:>8} [{elapsed_precise}] [{bar:20}] {pos}/{len} {wide_msg}"
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
        .with_style(style)
        .with_prefix("Running");
    // The ticker thread inherits this thread's signal mask: block the
    // tracer's signals while it starts (see the module docs).
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGCHLD, Signal::SIGINT, Signal::SIGTERM] {
        signals.add(signal);
    }
    let before = signals.thread_swap_mask(SigmaskHow::SIG_BLOCK);
    bar.enable_steady_tick(TICK);
    if let Ok(before) = before {
        let _ = before.thread_set_mask();
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::running_name;

    #[test]
    fn a_running_test_s_name_reaches_the_status_line_escaped() {
        assert_eq!(running_name("net", "a::b"), "net::a::b");
        assert_eq!(running_name("net", ""), "net (whole binary)");
        assert_eq!(
            running_name("n\u{1b}]0;t\u{7}", "x\u{1b}[2J\ry"),
            r"n\u{1b}]0;t\u{7}::x\u{1b}[2J\ry"
        );
    }
}
