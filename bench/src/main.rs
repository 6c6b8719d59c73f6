//! sockcheck's benchmark. See `bench/run.sh --help` and BENCHMARKS.md.
//!
//! Sections:
//! - speed: a 400-test suite (one test in ten does a loopback TCP round
//!   trip), built once, then `cargo sockcheck`, `cargo sockcheck --fast`
//!   (when it exists), `cargo nextest run`, `cargo test` and the no-op
//!   `cargo test --no-run` every command starts with, alternated over rounds.
//! - host-load (`--host-load`): `cargo sockcheck` on the same suite with and
//!   without 20,000 unrelated loopback sockets and 300 idle processes.
//! - memory: `cargo sockcheck`'s own peak RSS on a 5,000-test suite.
//! - profile (`--profile`): `cargo sockcheck -j1` against the same tests run
//!   one per process without it (untraced, forked, minimally traced).
//! - steps (`--step LABEL=PATH [ARGS]`, repeatable): several cargo-sockcheck
//!   builds (or flags) side by side on the 400-test suite, with nextest
//!   without double spawn and `cargo test`, as ratios within each round:
//!   what each change bought.

mod direct;
mod load;
mod measure;
mod sections;
mod suite;

use measure::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use suite::Suite;

const USAGE: &str = "\
usage: bench/run.sh [--quick] [--host-load] [--profile]
                    [--only speed|host-load|memory|profile]
                    [--rounds N] [--dir DIR] [--sockcheck PATH]
                    [--step 'LABEL=PATH [ARGS]']... [--step-tests N] [--busy-host]

  --quick           3 rounds instead of 5 and a 1,000-test memory suite
  --host-load       also time cargo sockcheck with and without host load
                    (20,000 loopback sockets, 300 idle processes)
  --profile         also split cargo sockcheck's per-test time (-j1): a
                    process per test, fork, being traced, sockcheck's own work
  --only SECTION    run one section
  --rounds N        rounds of each alternation
  --dir DIR         where suites, builds and logs go [default: bench/target]
  --sockcheck PATH  a cargo-sockcheck binary to measure, instead of building
                    this checkout's in release mode
  --step 'LABEL=PATH [ARGS]'
                    (repeatable; implies --only steps) time this
                    cargo-sockcheck binary, with ARGS added, per test and
                    --fast, against the other steps in the same rounds
  --step-tests N    the steps' suite: N tests over 5 binaries [default: 400
                    over 4, the speed suite]
  --busy-host       do not wait for a quiet host or rerun disturbed rounds
                    (a machine that is never quiet): trust ratios only
";

struct Options {
    quick: bool,
    host_load: bool,
    profile: bool,
    only: Option<String>,
    rounds: usize,
    dir: PathBuf,
    sockcheck: Option<PathBuf>,
    /// `--step`: (label, binary, extra arguments).
    steps: Vec<(String, PathBuf, Vec<String>)>,
    /// `--step-tests`: the size of the steps' suite.
    step_tests: usize,
    argv: Vec<String>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("hold-sockets") => args
            .get(1)
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| "hold-sockets PAIRS".into())
            .and_then(load::hold_sockets),
        _ => parse(args).and_then(|options| bench(&options)),
    };
    if let Err(error) = outcome {
        eprintln!("bench: {error}");
        std::process::exit(1);
    }
}

fn parse(argv: Vec<String>) -> Result<Options> {
    let repo = repo_root();
    let mut options = Options {
        quick: false,
        host_load: false,
        profile: false,
        only: None,
        rounds: 0,
        dir: repo.join("bench/target"),
        sockcheck: None,
        steps: Vec::new(),
        step_tests: 400,
        argv: argv.clone(),
    };
    let mut args = argv.into_iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--host-load" => options.host_load = true,
            "--profile" => options.profile = true,
            "--only" => options.only = Some(value()?),
            "--rounds" => options.rounds = value()?.parse()?,
            "--dir" => options.dir = PathBuf::from(value()?),
            "--sockcheck" => options.sockcheck = Some(PathBuf::from(value()?)),
            "--step" => {
                let step = value()?;
                let (label, command) = step
                    .split_once('=')
                    .ok_or(format!("--step {step:?}: expected LABEL=PATH [ARGS]"))?;
                let mut words = command.split_whitespace().map(str::to_owned);
                let path = words.next().ok_or(format!("--step {step:?}: no PATH"))?;
                let path = std::path::absolute(path)?;
                options
                    .steps
                    .push((label.to_owned(), path, words.collect()));
            }
            "--step-tests" => options.step_tests = value()?.parse()?,
            "--busy-host" => {
                measure::BUSY_HOST.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {arg:?}\n{USAGE}").into()),
        }
    }
    if !options.steps.is_empty() {
        options.only = Some("steps".to_owned());
    }
    if let Some(only) = &options.only {
        if !["speed", "host-load", "memory", "profile", "steps"].contains(&only.as_str()) {
            return Err(format!("unknown section {only:?}\n{USAGE}").into());
        }
        options.host_load |= only == "host-load";
        options.profile |= only == "profile";
    }
    if options.rounds == 0 {
        options.rounds = if options.quick { 3 } else { 5 };
    }
    options.dir = std::path::absolute(&options.dir)?;
    Ok(options)
}

impl Options {
    fn runs(&self, section: &str) -> bool {
        self.only.as_deref().is_none_or(|only| only == section)
            && (section != "host-load" || self.host_load)
            && (section != "profile" || self.profile)
            && (section != "steps" || !self.steps.is_empty())
    }
}

/// The tools measured, located once.
struct Tools {
    cargo: String,
    sockcheck: PathBuf,
    has_fast: bool,
    has_nextest: bool,
}

fn bench(options: &Options) -> Result<()> {
    std::fs::create_dir_all(&options.dir)?;
    let tools = tools(options)?;
    let mut out = String::new();
    writeln!(out, "{}", machine(options, &tools))?;

    let on_400 = ["speed", "host-load", "profile"];
    if on_400.iter().any(|section| options.runs(section))
        || (options.runs("steps") && options.step_tests == 400)
    {
        let suite = suite::generate(&options.dir.join("suite-400"), 400, 4, 10)?;
        build(&tools, &suite)?;
        if options.runs("speed") {
            writeln!(out, "{}", sections::speed(options, &tools, &suite)?)?;
        }
        if options.runs("host-load") {
            writeln!(out, "{}", sections::host_load(options, &tools, &suite)?)?;
        }
        if options.runs("profile") {
            writeln!(out, "{}", sections::profile(options, &tools, &suite)?)?;
        }
        if options.runs("steps") && options.step_tests == 400 {
            writeln!(out, "{}", sections::steps(options, &tools, &suite)?)?;
        }
    }
    if options.runs("steps") && options.step_tests != 400 {
        let tests = options.step_tests;
        let suite = suite::generate(&options.dir.join(format!("suite-{tests}")), tests, 5, 10)?;
        build(&tools, &suite)?;
        writeln!(out, "{}", sections::steps(options, &tools, &suite)?)?;
    }
    if options.runs("memory") {
        let tests = if options.quick { 1000 } else { 5000 };
        let dir = options.dir.join(format!("suite-{tests}"));
        let suite = suite::generate(&dir, tests, 5, 10)?;
        build(&tools, &suite)?;
        writeln!(out, "{}", sections::memory(options, &tools, &suite)?)?;
    }

    let results = options.dir.join("results.md");
    std::fs::write(&results, &out)?;
    eprintln!("\n(also written to {})\n", results.display());
    print!("{out}");
    Ok(())
}

fn tools(options: &Options) -> Result<Tools> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let sockcheck = match (&options.sockcheck, options.steps.first()) {
        (Some(path), _) => std::path::absolute(path)?,
        (None, Some((_, path, _))) => path.clone(),
        (None, None) => {
            let target = options.dir.join("sockcheck");
            eprintln!(
                "bench: building cargo-sockcheck (release) into {}",
                target.display()
            );
            let manifest = repo_root().join("Cargo.toml");
            let status = Command::new(&cargo)
                .args([
                    "build",
                    "--release",
                    "-p",
                    "cargo-sockcheck",
                    "--manifest-path",
                ])
                .arg(&manifest)
                .arg("--target-dir")
                .arg(&target)
                .status()?;
            if !status.success() {
                return Err("building cargo-sockcheck failed".into());
            }
            target.join("release/cargo-sockcheck")
        }
    };
    let help = Command::new(&sockcheck)
        .args(["sockcheck", "--help"])
        .output()?;
    let has_fast = String::from_utf8_lossy(&help.stdout).contains("--fast");
    let has_nextest = Command::new(&cargo)
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    Ok(Tools {
        cargo,
        sockcheck,
        has_fast,
        has_nextest,
    })
}

/// Builds the suite's test binaries once, so no timed command compiles.
fn build(tools: &Tools, suite: &Suite) -> Result<()> {
    eprintln!(
        "bench: building the {}-test suite in {}",
        suite.tests,
        suite.dir.display()
    );
    let status = Command::new(&tools.cargo)
        .args(["test", "--no-run", "--quiet", "--manifest-path"])
        .arg(suite.manifest())
        .arg("--target-dir")
        .arg(suite.dir.join("target"))
        .status()?;
    if !status.success() {
        return Err(format!("building the suite in {} failed", suite.dir.display()).into());
    }
    Ok(())
}

/// The checkout this benchmark belongs to (bench/..).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ is inside the checkout")
        .to_owned()
}

/// Machine, versions, date and the command line, for BENCHMARKS.md.
fn machine(options: &Options, tools: &Tools) -> String {
    let shell = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let repo = repo_root();
    let repo = repo.to_string_lossy();
    let commit = shell("git", &["-C", &repo, "rev-parse", "--short", "HEAD"]);
    let dirty = shell(
        "git",
        &[
            "-C",
            &repo,
            "status",
            "--porcelain",
            "--",
            ".",
            ":!bench",
            ":!BENCHMARKS.md",
        ],
    );
    let measured = match &options.sockcheck {
        Some(path) => format!("`{}` (given with --sockcheck)", path.display()),
        None => format!(
            "built from this checkout in release mode ({commit}{})",
            if dirty.is_empty() {
                ""
            } else {
                " plus uncommitted changes"
            }
        ),
    };
    let mut argv = String::from("bench/run.sh");
    for arg in &options.argv {
        argv.push(' ');
        argv.push_str(arg);
    }
    format!(
        "# sockcheck benchmark\n\n\
         - command: `{argv}`\n\
         - date: {}\n\
         - machine: {} CPUs ({cpu}), Linux {}, {} MiB RAM\n\
         - cargo-sockcheck: {measured}\n\
         - {}; {}; {}\n\
         - jobs: every runner's default (CPUs)\n",
        shell("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        std::thread::available_parallelism().map_or(1, usize::from),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        memory_mib(),
        shell("rustc", &["--version"]),
        shell(&tools.cargo, &["--version"]),
        if tools.has_nextest {
            shell(&tools.cargo, &["nextest", "--version"])
                .lines()
                .next()
                .unwrap_or("")
                .to_owned()
        } else {
            "cargo-nextest not installed".to_owned()
        },
    )
}

fn memory_mib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}
