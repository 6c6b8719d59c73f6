//! `--fast`: run each test binary whole, as `cargo test` does, and pay for
//! one process per test only where a binary fails or leaves sockets open.
//!
//! A binary counts as clean only when it passed and its process left no
//! socket open at all, allowed ones included: a socket the whole run
//! allows (a pool, a server one test made and the others share) may be a
//! leak of the test that opens it when that test runs alone, and allowed
//! sockets are counted per test. It must also have bound no fixed port and
//! have no port finding: two of its tests binding the same port, or which
//! of them churns, are told only one test per process. So `--fast` reaches
//! per-test mode's verdicts and port findings, save for a test whose socket
//! another test of its binary closes before the binary exits.

use crate::cargo::TestBinary;
use crate::list::TestCase;
use crate::run::{Job, Progress, RunResult, Runner};
use sockcheck::report::{Outcome, TestRecord};

/// Runs `whole` (one job per binary, `whole_binaries[i]` naming job `i`'s
/// binary), then reruns the tests of every binary that failed or leaked one
/// per process with the jobs `per_test` makes. The result is per test, in
/// the order of `tests`.
pub fn whole_binaries_first<'a>(
    binaries: &[TestBinary],
    tests: &[TestCase],
    whole: Vec<(usize, Job<'a>)>,
    per_test: impl Fn(&[usize]) -> Vec<Job<'a>>,
    runner: &mut Runner,
    progress: &mut dyn Progress,
) -> RunResult {
    let (whole_binaries, whole_jobs): (Vec<usize>, Vec<Job<'a>>) = whole.into_iter().unzip();
    // `progress` sees the whole binaries run; their records are not tests'
    // and are not shown (see `Reporter::finished`).
    let first = runner.run_jobs(&whole_jobs, progress);
    let mut records: Vec<Option<TestRecord>> = vec![None; tests.len()];
    let mut to_rerun = Vec::new();
    let whole_runs = whole_binaries.iter().zip(&first.records);
    for (job, (binary, record)) in whole_runs.enumerate() {
        let of_binary = (0..tests.len()).filter(|&i| tests[i].binary == *binary);
        let bound_a_fixed_port = first.bound_fixed_ports.get(job) == Some(&true);
        match record {
            Some(r) if left_nothing_open(r) && !bound_a_fixed_port => {
                for i in of_binary {
                    let clean =
                        TestRecord::new(&binaries[*binary].name, &tests[i].name, Outcome::Passed);
                    progress.finished(&clean);
                    records[i] = Some(clean);
                }
            }
            Some(_) => to_rerun.extend(of_binary),
            None => {}
        }
    }
    let exit_statuses = vec![None; tests.len()];
    let mut bound_fixed_ports = vec![false; tests.len()];
    if first.fatal.is_some() || first.interrupted_by.is_some() {
        return RunResult {
            records,
            exit_statuses,
            bound_fixed_ports,
            ..first
        };
    }
    let second = runner.run_jobs(&per_test(&to_rerun), progress);
    let reruns = second.records.into_iter().zip(&second.bound_fixed_ports);
    for (i, (record, bound)) in to_rerun.into_iter().zip(reruns) {
        records[i] = record;
        bound_fixed_ports[i] = *bound;
    }
    RunResult {
        records,
        exit_statuses,
        bound_fixed_ports,
        ..second
    }
}

/// True when a whole binary's run passed and its process had no socket
/// open at exit, leaking or allowed, and no port finding: its tests need
/// no run of their own (if it bound no fixed port either).
fn left_nothing_open(record: &TestRecord) -> bool {
    record.outcome == Outcome::Passed
        && record.leaks.is_empty()
        && record.allowed.is_empty()
        && record.port_findings.is_empty()
}
