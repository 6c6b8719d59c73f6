//! `cargo sockcheck diff BASE.json HEAD.json`: what a change does to the
//! suite's leaks, from the JSON reports of two runs (a pull request's base
//! and head). The comparison and its renderings are the library's
//! `sockcheck::diff`; this command reads the reports, judges their leaks as
//! a run would, prints the diff, and decides the exit status.
//!
//! Leaks and port findings are judged as for a run: `--deny`/`--warn`/
//! `--allow KIND` change the severity recorded in both reports (an allowed
//! kind is dropped), and with `--baseline PATH` those the baseline knows
//! are warnings. The diff exits 1 when the head has a new error-level leak
//! or port finding, 0 otherwise, and 2 when a report cannot be read.

use crate::cli::{DiffFormat, DiffOptions, SeverityOptions};
use crate::exit::ExitStatus;
use crate::gate::Verdict;
use crate::report::read;
use anyhow::{anyhow, Context, Result};
use sockcheck::baseline::Baseline;
use sockcheck::diff::{self, Diff};
use sockcheck::leak::{LeakKind, Severity};
use sockcheck::policy::{Judged, Level, Policy};
use sockcheck::report::Report;
use std::io::Write;

/// Compares the two reports and prints the diff; returns
/// [`ExitStatus::Leak`] when the head has a new error-level leak or port
/// finding.
pub fn compare_reports(options: DiffOptions) -> Result<ExitStatus> {
    // The error names the file and says what is wrong in one line.
    let baseline = match &options.baseline {
        Some(path) => Some(Baseline::load(path).map_err(|e| anyhow!("{e}"))?),
        None => None,
    };
    let judge = |report: Report| {
        let report = with_severities(report, &options.severity);
        Verdict::judge(&report, baseline.as_ref())
            .shown
            .into_owned()
    };
    let base = judge(read(&options.base)?);
    let head = judge(read(&options.head)?);
    let diff = Diff::between(&base, &head);

    let mut rendered = Vec::new();
    match options.format {
        DiffFormat::Text => diff::text::render(&diff, &mut rendered),
        DiffFormat::Markdown => diff::markdown::render(&diff, &mut rendered),
        DiffFormat::Json => diff::json::render(&diff, &mut rendered),
    }
    .context("cannot render the diff")?;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&rendered).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(e).context("cannot write to stdout")
        }
        _ => {}
    }
    Ok(if diff.new_errors() > 0 {
        ExitStatus::Leak
    } else {
        ExitStatus::Clean
    })
}

/// `report` with the severities the flags set: the kinds they name get
/// that severity, allowed kinds are dropped (a port finding that explains
/// a failure is kept without one, as in a run), the others keep the
/// severity their run gave them (which its configuration decided).
fn with_severities(report: Report, flags: &SeverityOptions) -> Report {
    // `shared` decides what a run sets aside as allowed: not a diff's to redo.
    let mut levels: Vec<(LeakKind, Level)> = Vec::new();
    let mut port_levels = Policy::default();
    let mut flagged_ports = Vec::new();
    for (judged, level) in flags.levels() {
        match judged {
            Judged::Kind(kind) => levels.push((kind, level)),
            Judged::Port(kind) => {
                port_levels.set(kind, level);
                flagged_ports.push(kind);
            }
            Judged::Shared => {}
        }
    }
    if levels.is_empty() && flagged_ports.is_empty() {
        return report;
    }
    let interrupted = report.interrupted;
    let mut tests = report.tests;
    for test in &mut tests {
        test.leaks.retain_mut(|leak| {
            // The last flag naming the kind wins, as it does for a run.
            let level = levels.iter().rev().find(|(kind, _)| *kind == leak.kind);
            match level {
                Some((_, Level::Allow)) => return false,
                Some((_, Level::Warn)) => leak.severity = Severity::Warning,
                Some((_, Level::Deny)) => leak.severity = Severity::Error,
                None => {}
            }
            true
        });
        let findings = std::mem::take(&mut test.port_findings);
        test.port_findings = findings
            .into_iter()
            .flat_map(|finding| {
                if flagged_ports.contains(&finding.kind()) {
                    port_levels.judge_port_findings(vec![finding])
                } else {
                    vec![finding]
                }
            })
            .collect();
    }
    let mut judged = Report::new(tests);
    judged.interrupted = interrupted;
    judged
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockcheck::leak::LeakKind;
    use sockcheck::report::{Outcome, TestRecord};
    use sockcheck::socket::State;
    use sockcheck::testing::{leak, tcp, udp};

    fn report() -> Report {
        let mut test = TestRecord::new("net", "t", Outcome::Passed);
        test.leaks = vec![
            leak(
                LeakKind::CloseWait,
                tcp(State::CloseWait, "127.0.0.1:40000", "127.0.0.1:8080"),
            ),
            leak(LeakKind::Udp, udp("127.0.0.1:5353")),
            leak(
                LeakKind::Established,
                tcp(State::Established, "127.0.0.1:40001", "127.0.0.1:8080"),
            ),
        ];
        Report::new(vec![test])
    }

    fn severities(report: &Report) -> Vec<(LeakKind, Severity)> {
        report.tests[0]
            .leaks
            .iter()
            .map(|l| (l.kind, l.severity))
            .collect()
    }

    #[test]
    fn severity_flags_rejudge_only_the_kinds_they_name() {
        let flags = SeverityOptions {
            deny: vec![Judged::Kind(LeakKind::Udp)],
            warn: vec![Judged::Kind(LeakKind::CloseWait)],
            allow: vec![Judged::Kind(LeakKind::Established)],
        };
        let judged = with_severities(report(), &flags);
        assert_eq!(
            severities(&judged),
            [
                (LeakKind::CloseWait, Severity::Warning),
                (LeakKind::Udp, Severity::Error)
            ]
        );
        assert_eq!((judged.summary.errors, judged.summary.warnings), (1, 1));
    }

    #[test]
    fn port_flags_rejudge_only_the_port_kinds_they_name() {
        use sockcheck::ports::{PortFinding, PortFindingKind, PortHolder, PortProblem};
        let mut report = report();
        report.tests[0].port_findings = vec![
            PortFinding::new(PortProblem::PortChurn {
                active_closes: 50,
                threshold: 10,
            }),
            PortFinding::new(PortProblem::AddressInUse {
                address: "127.0.0.1:8080".into(),
                held_by: PortHolder::Unknown,
            }),
            PortFinding::new(PortProblem::FixedPortInEphemeralRange {
                address: "127.0.0.1:40000".into(),
                range: [32768, 60999],
            }),
        ];
        let flags = SeverityOptions {
            deny: vec![Judged::Port(PortFindingKind::PortChurn)],
            warn: vec![],
            allow: vec![
                Judged::Port(PortFindingKind::AddressInUse),
                Judged::Port(PortFindingKind::FixedPortInEphemeralRange),
            ],
        };
        let judged = with_severities(report, &flags);
        let findings: Vec<(PortFindingKind, Option<Severity>)> = judged.tests[0]
            .port_findings
            .iter()
            .map(|f| (f.kind(), f.severity))
            .collect();
        // Churn denied; the explanation kept without a verdict; the allowed
        // warning kind dropped. The leaks are as they were.
        assert_eq!(
            findings,
            [
                (PortFindingKind::PortChurn, Some(Severity::Error)),
                (PortFindingKind::AddressInUse, None)
            ]
        );
        assert_eq!(judged.summary.port_errors, 1);
        assert_eq!(judged.tests[0].leaks.len(), 3);
    }

    #[test]
    fn without_flags_the_recorded_severities_stand_and_deny_wins() {
        let none = SeverityOptions {
            deny: vec![],
            warn: vec![],
            allow: vec![],
        };
        assert_eq!(with_severities(report(), &none), report());
        let both = SeverityOptions {
            deny: vec![Judged::Kind(LeakKind::Udp)],
            warn: vec![],
            allow: vec![Judged::Kind(LeakKind::Udp)],
        };
        assert_eq!(
            severities(&with_severities(report(), &both))[1],
            (LeakKind::Udp, Severity::Error)
        );
    }
}
