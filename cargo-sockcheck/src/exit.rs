//! How `cargo sockcheck` ends: its exit status, decided here and nowhere
//! else. The statuses are part of the CLI contract: docs/design.md, "Exit
//! statuses".

use sockcheck::leak::Severity;
use sockcheck::report::{Outcome, Report, TestRecord};

/// The status libtest exits with when a test failed; a failed test makes
/// `cargo sockcheck` exit with it too.
pub const LIBTEST_FAILED: i32 = 101;

/// The exit status of a `cargo sockcheck` process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: all tests passed and no error-level leak was found (beyond the baseline).
    Clean,
    /// 1: an error-level leak was found.
    Leak,
    /// 2: sockcheck itself could not run (bad arguments, build failure, no
    /// ptrace, ...), or a merged report misses tests.
    Error,
    /// 4: the filters, skips and partition selected no test (as nextest's
    /// `NO_TESTS_RUN`), unless `--no-tests` says otherwise.
    NoTests,
    /// 101: a test failed, crashed or timed out; takes precedence over leaks.
    TestFailed,
    /// 128 + N: signal N interrupted the run (130 for SIGINT), or killed
    /// the command `exec` ran.
    Signal(i32),
    /// `exec`: the command's own exit status, passed through.
    Command(i32),
}

impl ExitStatus {
    /// The number the process exits with.
    pub const fn code(self) -> i32 {
        match self {
            ExitStatus::Clean => 0,
            ExitStatus::Leak => 1,
            ExitStatus::Error => 2,
            ExitStatus::NoTests => 4,
            ExitStatus::TestFailed => LIBTEST_FAILED,
            ExitStatus::Signal(signal) => 128 + signal,
            ExitStatus::Command(code) => code,
        }
    }

    /// The status a report gives: a failed test before an error-level leak
    /// or port finding before a report cut short (its missing tests are
    /// unknown) before a clean run.
    pub fn of_report(report: &Report) -> ExitStatus {
        if report.tests.iter().any(|t| t.outcome.is_failure()) {
            ExitStatus::TestFailed
        } else if report.summary.errors + report.summary.port_errors > 0 {
            ExitStatus::Leak
        } else if report.interrupted {
            ExitStatus::Error
        } else {
            ExitStatus::Clean
        }
    }

    /// The status of `exec`: an error-level leak or port finding, else the
    /// command's own status (`ended`, as its process ended; a failure
    /// without one is a failed test).
    pub fn of_command(record: &TestRecord, ended: Option<ExitStatus>) -> ExitStatus {
        if record.count(Severity::Error) + record.port_count(Severity::Error) > 0 {
            ExitStatus::Leak
        } else if record.outcome == Outcome::Passed {
            ExitStatus::Clean
        } else {
            ended.unwrap_or(ExitStatus::TestFailed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ExitStatus;
    use sockcheck::leak::Severity;
    use sockcheck::ports::{PortFinding, PortProblem};
    use sockcheck::report::{Outcome, Report, TestRecord};

    #[test]
    fn codes_are_the_contract() {
        let codes = [
            ExitStatus::Clean,
            ExitStatus::Leak,
            ExitStatus::Error,
            ExitStatus::NoTests,
            ExitStatus::TestFailed,
            ExitStatus::Signal(libc::SIGINT),
            ExitStatus::Command(3),
        ]
        .map(ExitStatus::code);
        assert_eq!(codes, [0, 1, 2, 4, 101, 130, 3]);
    }

    #[test]
    fn an_interrupted_report_without_failures_or_leaks_is_an_error() {
        let tests = vec![TestRecord::new("net", "a", Outcome::Passed)];
        let mut report = Report::new(tests);
        assert_eq!(ExitStatus::of_report(&report), ExitStatus::Clean);
        report.interrupted = true;
        assert_eq!(ExitStatus::of_report(&report), ExitStatus::Error);
        report.tests[0].outcome = Outcome::Crashed;
        assert_eq!(ExitStatus::of_report(&report), ExitStatus::TestFailed);
    }

    #[test]
    fn an_error_level_port_finding_fails_the_gate_as_a_leak_does() {
        let mut churn = PortFinding::new(PortProblem::PortChurn {
            active_closes: 5000,
            threshold: 100,
        });
        let mut test = TestRecord::new("net", "churns", Outcome::Passed);
        test.port_findings = vec![churn.clone()];
        assert_eq!(
            ExitStatus::of_report(&Report::new(vec![test.clone()])),
            ExitStatus::Clean,
            "a warning"
        );
        churn.severity = Some(Severity::Error);
        test.port_findings = vec![churn];
        assert_eq!(
            ExitStatus::of_report(&Report::new(vec![test.clone()])),
            ExitStatus::Leak
        );
        assert_eq!(ExitStatus::of_command(&test, None), ExitStatus::Leak);
    }

    #[test]
    fn a_command_s_own_status_passes_through_unless_it_leaked() {
        let failed = TestRecord::new("server", "*", Outcome::Failed);
        let three = Some(ExitStatus::Command(3));
        assert_eq!(
            ExitStatus::of_command(&failed, three),
            ExitStatus::Command(3)
        );
        assert_eq!(
            ExitStatus::of_command(&failed, None),
            ExitStatus::TestFailed
        );
        let passed = TestRecord::new("server", "*", Outcome::Passed);
        assert_eq!(ExitStatus::of_command(&passed, None), ExitStatus::Clean);
    }
}
