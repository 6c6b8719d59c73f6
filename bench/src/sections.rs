//! The benchmark's sections: each runs its measurements and returns its
//! part of the report as Markdown.

use crate::measure::{
    self, alternate, median, median_cpu, median_ratio, others_share, peak_rss, time_once, Cmd,
    Result, Rounds, Sample, BUSY,
};
use crate::suite::Suite;
use crate::{direct, load, Options, Tools};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// Targets from issue 5.
const TARGET_RSS_MIB: f64 = 50.0;
const TARGET_LOAD_RATIO: f64 = 1.05;

/// The command lines measured, all on `suite`'s manifest and target dir.
struct Commands {
    sockcheck: Cmd,
    fast: Option<Cmd>,
    nextest: Option<Cmd>,
    /// nextest without its default double spawn (each test started through
    /// a second exec of cargo-nextest): the leanest process-per-test runner
    /// at hand, for reference.
    nextest_single: Option<Cmd>,
    cargo_test: Cmd,
    build_check: Cmd,
}

const NEXTEST_SINGLE: &str = "NEXTEST_DOUBLE_SPAWN=0 cargo nextest run";

fn commands(tools: &Tools, suite: &Suite) -> Commands {
    let place = [
        "--manifest-path".into(),
        suite.manifest().into_os_string(),
        "--target-dir".into(),
        suite.dir.join("target").into_os_string(),
    ];
    let cargo = |label: &str, sub: &[&str]| {
        let args = sub.iter().map(|s| s.into()).chain(place.iter().cloned());
        Cmd::new(
            label,
            &tools.cargo,
            args.collect::<Vec<std::ffi::OsString>>(),
        )
    };
    let sockcheck = {
        let args = std::iter::once("sockcheck".into()).chain(place.iter().cloned());
        Cmd::new(
            "cargo sockcheck",
            &tools.sockcheck,
            args.collect::<Vec<_>>(),
        )
    };
    let nextest = tools
        .has_nextest
        .then(|| cargo("cargo nextest run", &["nextest", "run"]));
    Commands {
        nextest_single: nextest
            .as_ref()
            .map(|n| n.with_env(NEXTEST_SINGLE, "NEXTEST_DOUBLE_SPAWN", "0")),
        nextest,
        fast: tools
            .has_fast
            .then(|| sockcheck.with_args("cargo sockcheck --fast", &["--fast"])),
        sockcheck,
        cargo_test: cargo("cargo test", &["test"]),
        build_check: cargo("cargo test --no-run (build check)", &["test", "--no-run"]),
    }
}

pub fn speed(options: &Options, tools: &Tools, suite: &Suite) -> Result<String> {
    let c = commands(tools, suite);
    let cmds: Vec<Cmd> = [
        Some(c.sockcheck.clone()),
        c.fast.clone(),
        c.nextest.clone(),
        c.nextest_single.clone(),
        Some(c.cargo_test.clone()),
        Some(c.build_check.clone()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let logs = logs(options, "speed")?;
    eprintln!(
        "bench: speed, {} tests: a warm-up round, then {} rounds",
        suite.tests, options.rounds
    );
    alternate(&cmds, 1, "warm-up", &logs)?;
    let Rounds {
        samples: times,
        discarded,
    } = alternate(&cmds, options.rounds, "round", &logs)?;
    let medians: Vec<Duration> = times.iter().map(|t| median(t)).collect();
    let of = |label: &str| {
        cmds.iter()
            .position(|c| c.label == label)
            .map(|i| medians[i])
    };
    let check = medians[cmds.len() - 1];

    let mut out = String::new();
    writeln!(
        out,
        "## Speed: {} tests ({} binaries; one test in ten does a loopback TCP round trip)\n",
        suite.tests, suite.binaries
    )?;
    writeln!(
        out,
        "Median of {} alternated rounds, after one warm-up round{}. \"Per test\" is \
         (median − build check) / {}: what each test costs beyond the `cargo test --no-run` \
         every command starts with.\n",
        options.rounds,
        discarded_note(discarded),
        suite.tests
    )?;
    writeln!(
        out,
        "| command | median wall | min – max | per test | CPU per test | host busy with others |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
    let check_cpu = median_cpu(&times[cmds.len() - 1]);
    for (cmd, t) in cmds.iter().zip(&times) {
        let m = median(t);
        let min = t.iter().map(|s| s.wall).min().unwrap_or_default();
        let max = t.iter().map(|s| s.wall).max().unwrap_or_default();
        let (per_test, cpu) = if cmd.label == c.build_check.label {
            ("–".to_owned(), "–".to_owned())
        } else {
            let ms = (m.as_secs_f64() - check.as_secs_f64()) * 1000.0 / suite.tests as f64;
            let cpu = (median_cpu(t) - check_cpu) * 1000.0 / suite.tests as f64;
            (format!("{ms:.2} ms"), format!("{cpu:.2} ms"))
        };
        writeln!(
            out,
            "| `{}` | {:.3} s | {:.3} – {:.3} s | {per_test} | {cpu} | {} |",
            cmd.label,
            m.as_secs_f64(),
            min.as_secs_f64(),
            max.as_secs_f64(),
            busy(t)
        )?;
    }
    writeln!(out)?;
    let ratio = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64()),
        _ => "n/a".to_owned(),
    };
    let beyond = |d: Option<Duration>| d.map(|d| d.saturating_sub(check));
    let (sc, fast, nx, nx1, ct) = (
        of("cargo sockcheck"),
        of("cargo sockcheck --fast"),
        of("cargo nextest run"),
        of(NEXTEST_SINGLE),
        of("cargo test"),
    );
    writeln!(out, "| ratio | whole command | beyond the build check |")?;
    writeln!(out, "|---|---:|---:|")?;
    for (name, a, b) in [
        ("cargo sockcheck / cargo nextest run", sc, nx),
        ("cargo sockcheck / nextest without double spawn", sc, nx1),
        ("cargo sockcheck --fast / cargo test", fast, ct),
        ("cargo sockcheck / cargo test", sc, ct),
    ] {
        writeln!(
            out,
            "| {name} | {} | {} |",
            ratio(a, b),
            ratio(beyond(a), beyond(b))
        )?;
    }
    if c.fast.is_none() {
        writeln!(out, "\n`cargo sockcheck --fast`: not measured, this cargo-sockcheck has no `--fast` (checked with `--help`).")?;
    }
    if c.nextest.is_none() {
        writeln!(
            out,
            "\n`cargo nextest run`: not measured, cargo-nextest is not installed."
        )?;
    }
    Ok(out)
}

/// `--step`: each given cargo-sockcheck (with its extra arguments) per
/// test and `--fast`, against nextest without double spawn and `cargo
/// test`, all in the same alternated rounds. Ratios are the median of each
/// round's ratio, so a machine that is busier in one round than the next
/// hits both sides of a ratio alike.
pub fn steps(options: &Options, tools: &Tools, suite: &Suite) -> Result<String> {
    let c = commands(tools, suite);
    let nextest_single = c
        .nextest_single
        .clone()
        .ok_or("--step needs cargo-nextest")?;
    let mut cmds = Vec::new();
    for (label, path, args) in &options.steps {
        let mut per_test = c.sockcheck.clone();
        per_test.label = label.clone();
        per_test.program = path.clone().into_os_string();
        per_test.args.extend(args.iter().map(Into::into));
        cmds.push(per_test.with_args(&format!("{label} --fast"), &["--fast"]));
        cmds.push(per_test);
    }
    cmds.extend([nextest_single, c.cargo_test.clone(), c.build_check.clone()]);
    let logs = logs(options, "steps")?;
    eprintln!(
        "bench: steps, {} tests: a warm-up round, then {} rounds",
        suite.tests, options.rounds
    );
    alternate(&cmds, 1, "warm-up", &logs)?;
    let Rounds { samples, discarded } = alternate(&cmds, options.rounds, "round", &logs)?;
    let index = |label: &str| cmds.iter().position(|c| c.label == label);
    let (nx1, ct, check) = (
        index(NEXTEST_SINGLE).ok_or("no nextest column")?,
        index(&c.cargo_test.label).ok_or("no cargo test column")?,
        cmds.len() - 1,
    );
    let ratio = |a: usize, b: usize| median_ratio(&samples[a], &samples[b]);
    let check_median = median(&samples[check]);
    let mut out = String::new();
    writeln!(
        out,
        "## Steps: {} tests, {} alternated rounds{}\n",
        suite.tests,
        options.rounds,
        discarded_note(discarded)
    )?;
    writeln!(
        out,
        "| command | median wall | per test | CPU per test | ratio (median of rounds) | host busy with others |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
    let check_cpu = median_cpu(&samples[check]);
    for (i, cmd) in cmds.iter().enumerate() {
        let m = median(&samples[i]);
        let per_test = (m.as_secs_f64() - check_median.as_secs_f64()) * 1000.0 / suite.tests as f64;
        let cpu = (median_cpu(&samples[i]) - check_cpu) * 1000.0 / suite.tests as f64;
        let versus = if i >= nx1 {
            "–".to_owned()
        } else if cmd.label.ends_with("--fast") {
            format!("{:.2}× cargo test", ratio(i, ct))
        } else {
            format!("{:.2}× nextest single", ratio(i, nx1))
        };
        writeln!(
            out,
            "| `{}` | {:.3} s | {per_test:.2} ms | {cpu:.2} ms | {versus} | {} |",
            cmd.label,
            m.as_secs_f64(),
            busy(&samples[i])
        )?;
    }
    Ok(out)
}

pub fn host_load(options: &Options, tools: &Tools, suite: &Suite) -> Result<String> {
    const SOCKETS: usize = 20_000;
    const PROCESSES: usize = 300;
    let commands = commands(tools, suite);
    // sockcheck and, for comparison, the leanest process-per-test runner.
    let runners: Vec<Cmd> = std::iter::once(commands.sockcheck)
        .chain(commands.nextest_single)
        .collect();
    let logs = logs(options, "host-load")?;
    eprintln!(
        "bench: host load, {} rounds of {} without, then with \
         {SOCKETS} loopback sockets and {PROCESSES} idle processes",
        options.rounds,
        runners
            .iter()
            .map(|c| format!("`{}`", c.label))
            .collect::<Vec<_>>()
            .join(" and ")
    );
    for cmd in &runners {
        time_once(cmd, &logs.join("warm-up.log"))?;
    }
    let rounds = measure::rounds(options.rounds, "round", || {
        let mut samples = Vec::new();
        for cmd in &runners {
            samples.push(time_once(cmd, &logs.join("idle.log"))?);
        }
        let load = load::start(SOCKETS, PROCESSES)?;
        measure::wait_for_quiet();
        let loaded: Result<Vec<Sample>> = runners
            .iter()
            .map(|cmd| time_once(cmd, &logs.join("loaded.log")))
            .collect();
        drop(load);
        samples.extend(loaded?);
        let shown: Vec<String> = samples.iter().map(|s| s.shown()).collect();
        eprint!(
            " idle {}, loaded {}",
            shown[..runners.len()].join(" "),
            shown[runners.len()..].join(" ")
        );
        Ok(samples)
    })?;
    let n = runners.len();
    let verdict = |r: f64| {
        if r <= TARGET_LOAD_RATIO {
            "met"
        } else {
            "NOT met"
        }
    };
    let mut out = String::new();
    writeln!(out, "## Host load: {} tests\n", suite.tests)?;
    writeln!(
        out,
        "Load: {SOCKETS} loopback TCP sockets ({} connected pairs) and {PROCESSES} idle \
         `sleep` processes, none related to the tests. Median of {} alternated rounds{}; \
         a runner's slowdown is the median of each round's loaded / idle ratio (idle \
         and loaded run in the same round, so a slow drift of the machine cancels out).\n",
        SOCKETS / 2,
        options.rounds,
        discarded_note(rounds.discarded)
    )?;
    writeln!(
        out,
        "| command | idle (median wall) | loaded (median wall) | slowdown | host busy with others |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|")?;
    let mut slowdowns = Vec::new();
    for (i, cmd) in runners.iter().enumerate() {
        let (idle, loaded) = (&rounds.samples[i], &rounds.samples[n + i]);
        let slowdown = median_ratio(loaded, idle);
        slowdowns.push(slowdown);
        writeln!(
            out,
            "| `{}` | {:.3} s | {:.3} s | {slowdown:.3}× | {} |",
            cmd.label,
            median(idle).as_secs_f64(),
            median(loaded).as_secs_f64(),
            busy(loaded)
        )?;
    }
    match slowdowns[..] {
        [own, nextest] => {
            let ratio = own / nextest;
            writeln!(
                out,
                "\nsockcheck's slowdown / nextest's: **{ratio:.3}×** (target ≤ {TARGET_LOAD_RATIO}×: {})",
                verdict(ratio)
            )?;
        }
        _ => writeln!(
            out,
            "\nsockcheck's slowdown: **{:.3}×** (nextest not installed: no comparison)",
            slowdowns[0]
        )?,
    }
    Ok(out)
}

pub fn profile(options: &Options, tools: &Tools, suite: &Suite) -> Result<String> {
    use direct::Mode;
    let binaries = direct::binaries(&tools.cargo, suite)?;
    let whole = commands(tools, suite)
        .sockcheck
        .with_args("cargo sockcheck -j1", &["-j1"]);
    let fixed = whole.with_args("fixed cost", &["--no-tests=pass", "no_test_has_this_name"]);
    let logs = logs(options, "profile")?;
    eprintln!(
        "bench: profile, {} rounds of the {} tests one at a time: untraced (spawn, fork), \
         minimally traced, cargo sockcheck -j1, and its fixed cost",
        options.rounds, suite.tests
    );
    let round = || {
        let mut samples = Vec::new();
        for mode in [Mode::Spawn, Mode::Fork, Mode::TracedLean, Mode::Traced] {
            let sample = measure::sample(|| {
                direct::run_all(&binaries, &suite.dir, mode)?;
                Ok(())
            })?;
            eprint!(" {}", sample.shown());
            samples.push(sample);
        }
        for cmd in [&whole, &fixed] {
            let sample = time_once(cmd, &logs.join("sockcheck.log"))?;
            eprint!(" {}", sample.shown());
            samples.push(sample);
        }
        Ok(samples)
    };
    measure::rounds(1, "warm-up", round)?;
    let rounds = measure::rounds(options.rounds, "round", round)?;
    let ms = |samples: &[Sample]| median(samples).as_secs_f64() * 1000.0;
    let m: Vec<f64> = rounds.samples.iter().map(|s| ms(s)).collect();
    let c: Vec<f64> = rounds
        .samples
        .iter()
        .map(|s| median_cpu(s) * 1000.0)
        .collect();
    let n = suite.tests as f64;
    let per = [m[0] / n, m[1] / n, m[2] / n, m[3] / n, (m[4] - m[5]) / n];
    let cpu = [c[0] / n, c[1] / n, c[2] / n, c[3] / n, (c[4] - c[5]) / n];

    let mut out = String::new();
    writeln!(
        out,
        "## Profile: where a test's time goes in `cargo sockcheck -j1`, {} tests\n",
        suite.tests
    )?;
    writeln!(
        out,
        "The same tests, one process each, one at a time, output to /dev/null. Median of {} \
         alternated rounds{}.\n",
        options.rounds,
        discarded_note(rounds.discarded)
    )?;
    writeln!(
        out,
        "| how each test runs | wall per test | adds | CPU per test | adds | host busy with others |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
    let rows = [
        "untraced, started by std's `Command::spawn` (posix_spawn)",
        "untraced, started with `fork` (what a `pre_exec` hook makes std do)",
        "traced: PTRACE_TRACEME + seccomp stop at `exit_group`; only the exec and `exit_group` stops (2 per test)",
        "traced with sockcheck's ptrace options: threads and exits traced too (6 stops per test)",
        "`cargo sockcheck -j1`, beyond its fixed cost",
    ];
    for (i, row) in rows.iter().enumerate() {
        let adds = |v: &[f64; 5]| match i {
            0 => "–".to_owned(),
            _ => format!("{:+.3} ms", v[i] - v[i - 1]),
        };
        writeln!(
            out,
            "| {row} | {:.3} ms | {} | {:.3} ms | {} | {} |",
            per[i],
            adds(&per),
            cpu[i],
            adds(&cpu),
            busy(&rounds.samples[i])
        )?;
    }
    writeln!(
        out,
        "\nFixed cost of `cargo sockcheck` (cargo metadata, build check, listing; a run that \
         selects no test): {:.0} ms.",
        m[5]
    )?;
    Ok(out)
}

pub fn memory(options: &Options, tools: &Tools, suite: &Suite) -> Result<String> {
    let cmd = commands(tools, suite).sockcheck;
    eprintln!(
        "bench: memory, one `cargo sockcheck` run of {} tests",
        suite.tests
    );
    let logs = logs(options, "memory")?;
    let rss = peak_rss(&cmd, &logs.join("sockcheck.log"))?;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let mut out = String::new();
    writeln!(
        out,
        "## Memory: `cargo sockcheck`, {} tests ({} binaries)\n",
        suite.tests, suite.binaries
    )?;
    writeln!(out, "| measure | value |")?;
    writeln!(out, "|---|---:|")?;
    if let Some(own) = rss.own_kib {
        let verdict = if mib(own) <= TARGET_RSS_MIB {
            "met"
        } else {
            "NOT met"
        };
        writeln!(
            out,
            "| cargo-sockcheck peak RSS (VmHWM at its exit) | **{:.1} MiB** (target ≤ {TARGET_RSS_MIB} MB: {verdict}) |",
            mib(own)
        )?;
    }
    writeln!(
        out,
        "| max RSS of it and everything it ran (`wait4`, as `time -v`) | {:.1} MiB |",
        mib(rss.tree_kib)
    )?;
    writeln!(
        out,
        "| wall time (one run) | {:.2} s, {:.2} ms per test |",
        rss.wall.as_secs_f64(),
        rss.wall.as_secs_f64() * 1000.0 / suite.tests as f64
    )?;
    if options.quick {
        writeln!(
            out,
            "\n(--quick: 1,000 tests; the target is stated for 5,000.)"
        )?;
    }
    Ok(out)
}

fn discarded_note(discarded: usize) -> String {
    match discarded {
        0 => String::new(),
        n => format!(" ({n} disturbed by other work on the host, thrown away and run again)"),
    }
}

/// The share of CPU others used during the samples, flagged when it is
/// high enough to have disturbed them.
fn busy(samples: &[Sample]) -> String {
    let share = others_share(samples);
    let flag = if share > BUSY { " ⚠ disturbed" } else { "" };
    format!("{:.0}%{flag}", share * 100.0)
}

fn logs(options: &Options, section: &str) -> Result<PathBuf> {
    let dir = options.dir.join("logs").join(section);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
