//! `--rerun-leaks N`: run each leaking test again and tell stable leaks
//! (seen every time) from flaky ones (seen only sometimes).

use crate::run::{Job, RunResult, Runner};
use sockcheck::baseline::{LeakIdentity, PortRange};
use sockcheck::leak::{Leak, Severity, Stability, StabilityKind};
use sockcheck::report::TestRecord;
use std::collections::{HashMap, HashSet};

/// Reruns every leaking test of `result` `times` more times, each in a fresh
/// process, and marks each leak with its [`Stability`]. Leaks seen only in
/// reruns are added as flaky. Unless `flaky_fails`, flaky leaks become
/// warnings. `jobs_for` makes the jobs for test indices of `result`.
pub fn rerun_leaking<'a>(
    result: &mut RunResult,
    times: u32,
    flaky_fails: bool,
    runner: &mut Runner,
    jobs_for: impl Fn(&[usize]) -> Vec<Job<'a>>,
) {
    let leaking: Vec<usize> = (0..result.records.len())
        .filter(|&i| {
            result.records[i]
                .as_ref()
                .is_some_and(|r| !r.leaks.is_empty())
        })
        .collect();
    if leaking.is_empty() {
        return;
    }
    let ports = PortRange::system();
    // Per leaking test: every leak identity seen in a rerun, with the runs it came in.
    let mut seen: Vec<HashMap<LeakIdentity, (u32, Leak)>> = vec![HashMap::new(); leaking.len()];
    let jobs = jobs_for(&leaking);
    for _ in 0..times {
        let round = runner.run_jobs(&jobs, &mut |_: &TestRecord| {});
        for (k, record) in round.records.iter().enumerate() {
            let Some(record) = record else { continue };
            for (identity, leak) in identities(record, ports) {
                seen[k].entry(identity).or_insert((0, leak)).0 += 1;
            }
        }
        if round.fatal.is_some() || round.interrupted_by.is_some() {
            result.fatal = result.fatal.take().or(round.fatal);
            result.interrupted_by = result.interrupted_by.or(round.interrupted_by);
            return;
        }
    }
    let runs = times + 1;
    for (k, &index) in leaking.iter().enumerate() {
        let Some(record) = result.records[index].as_mut() else {
            continue;
        };
        let in_reruns = std::mem::take(&mut seen[k]);
        let ids: Vec<LeakIdentity> = record
            .leaks
            .iter()
            .map(|leak| LeakIdentity::of(record, leak, ports))
            .collect();
        let mut first_run = HashSet::new();
        for (leak, identity) in record.leaks.iter_mut().zip(ids) {
            let reruns_seen = in_reruns.get(&identity).map_or(0, |(n, _)| *n);
            leak.stability = Some(Stability::of(1 + reruns_seen, runs));
            first_run.insert(identity);
        }
        for (identity, (count, mut leak)) in in_reruns {
            if !first_run.contains(&identity) {
                leak.stability = Some(Stability::of(count, runs));
                record.leaks.push(leak);
            }
        }
        for leak in &mut record.leaks {
            let flaky = leak
                .stability
                .is_some_and(|s| s.stability == StabilityKind::Flaky);
            if flaky && !flaky_fails {
                leak.severity = Severity::Warning;
            }
        }
    }
}

/// A record's distinct leak identities, each with one of its leaks: two
/// identical CLOSE_WAITs in one run count as one sighting.
fn identities(record: &TestRecord, ports: PortRange) -> HashMap<LeakIdentity, Leak> {
    let mut unique = HashMap::new();
    for leak in &record.leaks {
        unique
            .entry(LeakIdentity::of(record, leak, ports))
            .or_insert_with(|| leak.clone());
    }
    unique
}
