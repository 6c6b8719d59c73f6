//! The command line: flags as cargo and libtest spell them, parsed by
//! clap. The flags are a contract that only grows: docs/design.md,
//! "Command line".

use crate::partition::Partition;
use clap::{Args, Parser, Subcommand, ValueEnum};
use sockcheck::allow::AllowSocket;
use sockcheck::policy::{Judged, Level};
use std::path::PathBuf;
use std::time::Duration;

/// How cargo invokes a subcommand: `cargo sockcheck ARGS` runs
/// `cargo-sockcheck sockcheck ARGS`.
#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo", version, styles = clap::builder::Styles::plain())]
pub enum Cargo {
    /// Run a project's tests one per process and report the sockets each leaves open.
    Sockcheck(Sockcheck),
}

/// `cargo sockcheck`: run the tests, or one of the subcommands.
#[derive(Debug, Args)]
#[command(
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true,
    // One usage line for every error: clap's own names the flags that were
    // given (`cargo sockcheck --format <FORMAT> <FILTERS>...`), which reads
    // as if they were required.
    override_usage = "cargo sockcheck [OPTIONS] [FILTERS]... [-- <TEST_ARGS>...]\n       \
                      cargo sockcheck <COMMAND>"
)]
pub struct Sockcheck {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Colour on the terminal: auto (when the stream is a terminal and
    /// NO_COLOR is unset), always or never [default: CARGO_TERM_COLOR, else auto].
    #[arg(long, value_enum, value_name = "WHEN", global = true)]
    pub color: Option<ColorWhen>,

    #[command(flatten)]
    pub run: Options,
}

/// Subcommands beside the default test run.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one command under the tracer and report the sockets it left open
    /// (usable as cargo's target runner or a nextest wrapper).
    Exec(ExecOptions),
    /// Render one report from the JSON reports of several runs (CI shards),
    /// with the exit status a run would have.
    Report(ReportOptions),
    /// Compare two JSON reports (a pull request's base and head): new
    /// leaks, fixed ones, tests that changed; exit 1 on a new error-level leak.
    Diff(DiffOptions),
}

/// Everything the default `cargo sockcheck` run takes.
#[derive(Debug, Args)]
pub struct Options {
    #[command(flatten)]
    pub selection: PackageSelection,

    /// Run only tests whose name, or `binary::name` as sockcheck prints
    /// it, contains one of these (as libtest).
    #[arg(value_name = "FILTERS")]
    pub filters: Vec<String>,

    /// Skip tests whose name or `binary::name` contains PATTERN (repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub skip: Vec<String>,

    /// Match FILTERS exactly instead of as substrings.
    #[arg(long)]
    pub exact: bool,

    /// Run only ignored tests.
    #[arg(long, conflicts_with = "include_ignored")]
    pub ignored: bool,

    /// Run ignored tests too.
    #[arg(long)]
    pub include_ignored: bool,

    /// Tests to run at once [default: number of CPUs + 1].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    /// Kill a test that runs longer than SECS and mark it timed out.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,

    /// Warn of port churn in a test that closes more than N TCP
    /// connections first (each keeps its port pair in TIME_WAIT for 60 s)
    /// [default: `churn-threshold` in the configuration, else the ephemeral
    /// port range / (4 × jobs)].
    #[arg(long, value_name = "N")]
    pub churn_threshold: Option<u64>,

    /// Run each test with at most N open file descriptors (RLIMIT_NOFILE,
    /// soft and hard), as on a host with a low limit (macOS's default is
    /// 256): a test that needs more fails with "Too many open files".
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(3..))]
    pub max_fds: Option<u64>,

    /// Run each test binary whole first; only binaries that fail or leave a
    /// socket open (allowed ones too) are rerun one test per process, to
    /// pin each socket on its test.
    #[arg(long)]
    pub fast: bool,

    /// Run each leaking test up to N more times and mark every leak stable
    /// (seen in every run) or flaky.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub rerun_leaks: u32,

    /// Run only shard K of N of the selected tests: `count:K/N` (every Nth
    /// test by name) or `hash:K/N` (by a stable hash of the name).
    #[arg(long, value_name = "count:K/N|hash:K/N")]
    pub partition: Option<Partition>,

    /// What a run that selects no test does: fail (exit 4), warn, or pass.
    #[arg(long, value_enum, value_name = "fail|warn|pass", default_value_t = NoTests::Fail)]
    pub no_tests: NoTests,

    /// When to show the output of tests that passed but leaked: never,
    /// final (in the report at the end) or immediate (as each finishes)
    /// [default: never].
    #[arg(long, value_enum, value_name = "WHEN")]
    pub success_output: Option<OutputWhen>,

    /// When to show the output of tests that failed, timed out or crashed:
    /// never, final or immediate [default: final].
    #[arg(long, value_enum, value_name = "WHEN")]
    pub failure_output: Option<OutputWhen>,

    /// Show the output of tests that passed but leaked, as
    /// --success-output final.
    #[arg(long, conflicts_with = "success_output")]
    pub show_output: bool,

    #[command(flatten)]
    pub gate: GateOptions,

    #[command(flatten)]
    pub output: OutputOptions,

    #[command(flatten)]
    pub baseline: BaselineOptions,

    /// Arguments passed to every test binary, after `--`.
    #[arg(last = true, value_name = "TEST_ARGS")]
    pub test_args: Vec<String>,
}

/// `cargo sockcheck exec -- COMMAND [ARGS]`.
#[derive(Debug, Args)]
pub struct ExecOptions {
    #[command(flatten)]
    pub gate: GateOptions,

    /// Also write the JSON report to PATH.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,

    /// The command to run, and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

/// `cargo sockcheck report --merge A.json B.json ...`.
#[derive(Debug, Args)]
pub struct ReportOptions {
    /// JSON reports to join (written by `--report PATH` or `--format json`).
    #[arg(long, value_name = "REPORT", num_args = 1.., required = true)]
    pub merge: Vec<PathBuf>,

    #[command(flatten)]
    pub output: OutputOptions,

    #[command(flatten)]
    pub baseline: BaselineOptions,
}

/// `cargo sockcheck diff BASE.json HEAD.json`.
#[derive(Debug, Args)]
pub struct DiffOptions {
    /// The JSON report before the change (e.g. of the base branch).
    #[arg(value_name = "BASE")]
    pub base: PathBuf,

    /// The JSON report after the change (e.g. of the pull request).
    #[arg(value_name = "HEAD")]
    pub head: PathBuf,

    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,

    #[command(flatten)]
    pub severity: SeverityOptions,

    /// Known leaks and port findings (a file written by --write-baseline)
    /// are warnings, so a new one the baseline knows does not fail the diff.
    #[arg(long, value_name = "PATH")]
    pub baseline: Option<PathBuf>,
}

/// Renderings of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// The headline and counts, then new and fixed leaks and changed tests.
    Text,
    /// Every list in full, with counts, for scripts.
    Json,
    /// A pull-request comment, always under GitHub's size limit.
    Markdown,
}

/// What counts as a leak and how bad it is.
#[derive(Debug, Args)]
pub struct GateOptions {
    #[command(flatten)]
    pub severity: SeverityOptions,

    /// Wait up to MS milliseconds at a test's exit for its leaks to close
    /// (0: judge at once) [default: 100].
    #[arg(long, value_name = "MS")]
    pub linger: Option<u64>,

    /// Allow sockets whose creation stack has a frame matching RULE:
    /// function=GLOB (e.g. `function=my_app::test_pool::*`), crate=NAME or
    /// file=GLOB (a project file, e.g. `file=tests/support/mod.rs`)
    /// (repeatable).
    #[arg(long, value_name = "RULE", value_parser = parse_allow_from)]
    pub allow_from: Vec<AllowSocket>,

    /// Do not apply the built-in rules for sockets widely used crates keep
    /// open on purpose (mockito's, wiremock's and httpmock's mock servers,
    /// httptest's server pool, tokio's signal socketpair).
    #[arg(long)]
    pub no_known_pools: bool,
}

fn parse_allow_from(text: &str) -> Result<AllowSocket, String> {
    AllowSocket::parse_flag(text).map_err(|e| e.to_string())
}

/// How bad each kind of leak is, on top of the configuration. `shared`
/// names the sockets shared by design (made once per process by a
/// static's initializer), allowed by default.
#[derive(Debug, Args)]
pub struct SeverityOptions {
    /// Report leaks or port findings of KIND (or `shared`) as errors (repeatable).
    #[arg(long, value_name = "KIND")]
    pub deny: Vec<Judged>,

    /// Report leaks or port findings of KIND (or `shared`) as warnings (repeatable).
    #[arg(long, value_name = "KIND")]
    pub warn: Vec<Judged>,

    /// Do not report leaks or port findings of KIND (or `shared`: list them as allowed;
    /// `address-in-use`, `address-not-available`: no verdict, still shown) (repeatable).
    #[arg(long, value_name = "KIND")]
    pub allow: Vec<Judged>,
}

impl SeverityOptions {
    /// The levels the flags set, in the order they apply: `--deny` wins
    /// over `--warn`, which wins over `--allow`, for a kind named twice.
    pub fn levels(&self) -> impl Iterator<Item = (Judged, Level)> + '_ {
        let allow = self.allow.iter().map(|&kind| (kind, Level::Allow));
        let warn = self.warn.iter().map(|&kind| (kind, Level::Warn));
        let deny = self.deny.iter().map(|&kind| (kind, Level::Deny));
        allow.chain(warn).chain(deny)
    }
}

/// What is printed and written at the end.
#[derive(Debug, Args)]
pub struct OutputOptions {
    /// What to print on stdout at the end.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Also write the JSON report to PATH.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,

    /// Also write the Markdown report to PATH.
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,

    /// Also write the JUnit XML report to PATH.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,

    /// Also write SARIF 2.1.0 to PATH (for code scanning): one result per
    /// leak site, paths from the repository root.
    #[arg(long, value_name = "PATH")]
    pub sarif: Option<PathBuf>,

    /// Also write a GitLab Code Quality report to PATH: one issue per leak
    /// site, paths from the repository root.
    #[arg(long, value_name = "PATH")]
    pub gitlab: Option<PathBuf>,
}

/// The ratchet: leaks a project accepts for now.
#[derive(Debug, Args)]
pub struct BaselineOptions {
    /// Known leaks and port findings (a file written by --write-baseline)
    /// do not fail the run; new ones do.
    #[arg(long, value_name = "PATH")]
    pub baseline: Option<PathBuf>,

    /// Record the leaks and port findings of this run in PATH, as a
    /// baseline; they do not fail this run (exit 0 once written; a failed test still gives 101).
    #[arg(long, value_name = "PATH")]
    pub write_baseline: Option<PathBuf>,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("`{text}` is not a usable number of seconds"))
}

/// Which packages and targets to build, passed through to cargo unchanged.
#[derive(Debug, Args)]
pub struct PackageSelection {
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,

    /// Package to test (repeatable).
    #[arg(short, long, value_name = "SPEC")]
    pub package: Vec<String>,

    /// Test all packages in the workspace.
    #[arg(long)]
    pub workspace: bool,

    /// Test only this package's library.
    #[arg(long)]
    pub lib: bool,

    /// Test only the named integration test target (repeatable).
    #[arg(long, value_name = "NAME")]
    pub test: Vec<String>,

    /// Test all binaries.
    #[arg(long)]
    pub bins: bool,

    /// Features to activate.
    #[arg(short = 'F', long, value_name = "FEATURES")]
    pub features: Vec<String>,

    /// Activate all features.
    #[arg(long)]
    pub all_features: bool,

    /// Do not activate the `default` feature.
    #[arg(long)]
    pub no_default_features: bool,

    /// Build in release mode.
    #[arg(long)]
    pub release: bool,

    /// Directory for all generated artifacts.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
}

impl PackageSelection {
    /// These flags as cargo's own command-line arguments.
    pub fn cargo_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        let mut flag = |on: bool, name: &str| {
            if on {
                args.push(name.to_owned());
            }
        };
        flag(self.workspace, "--workspace");
        flag(self.lib, "--lib");
        flag(self.bins, "--bins");
        flag(self.all_features, "--all-features");
        flag(self.no_default_features, "--no-default-features");
        flag(self.release, "--release");
        let mut valued = |name: &str, value: &str| {
            args.push(name.to_owned());
            args.push(value.to_owned());
        };
        if let Some(path) = &self.manifest_path {
            valued("--manifest-path", &path.to_string_lossy());
        }
        if let Some(dir) = &self.target_dir {
            valued("--target-dir", &dir.to_string_lossy());
        }
        for spec in &self.package {
            valued("--package", spec);
        }
        for name in &self.test {
            valued("--test", name);
        }
        for features in &self.features {
            valued("--features", features);
        }
        args
    }
}

impl Options {
    /// When the output of passing tests (those that leaked) is shown.
    pub fn success_output(&self) -> OutputWhen {
        match (self.success_output, self.show_output) {
            (Some(when), _) => when,
            (None, true) => OutputWhen::Final,
            (None, false) => OutputWhen::Never,
        }
    }

    /// When the output of failing tests is shown.
    pub fn failure_output(&self) -> OutputWhen {
        self.failure_output.unwrap_or(OutputWhen::Final)
    }
}

/// When a test's captured output is shown (`--success-output`,
/// `--failure-output`, as nextest names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputWhen {
    /// Not at all.
    Never,
    /// In the report printed at the end.
    Final,
    /// On stderr, as the test finishes.
    Immediate,
}

/// What a run that selects no test does (`--no-tests`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NoTests {
    /// An error naming the filters; exit status 4.
    Fail,
    /// A warning; the run goes on, empty, and passes.
    Warn,
    /// Nothing said; the run passes.
    Pass,
}

/// When to colour what is printed on a terminal (`--color`, `CARGO_TERM_COLOR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// When the stream is a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always, even into a pipe or a file.
    Always,
    /// Never.
    Never,
}

/// Output formats for stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Failing and leaking tests, then a summary line.
    Text,
    /// The JSON report.
    Json,
    /// The Markdown report (as for a pull request or GitHub's job summary).
    Markdown,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        let argv = ["cargo", "sockcheck"].iter().chain(args);
        Cargo::try_parse_from(argv).map(|Cargo::Sockcheck(sockcheck)| sockcheck.run)
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cargo::command().debug_assert();
    }

    #[test]
    fn filters_skip_and_test_args_are_separated() {
        let options = parse(&["net", "--skip", "slow", "-j", "3", "--", "--color=never"]).unwrap();
        assert_eq!(options.filters, ["net"]);
        assert_eq!(options.skip, ["slow"]);
        assert_eq!(options.jobs, Some(3));
        assert_eq!(options.test_args, ["--color=never"]);
    }

    #[test]
    fn cargo_flags_pass_through_in_cargo_spelling() {
        let options = parse(&[
            "-p",
            "leaky",
            "--test",
            "net",
            "--release",
            "--features",
            "a b",
        ])
        .unwrap();
        assert_eq!(
            options.selection.cargo_args(),
            [
                "--release",
                "--package",
                "leaky",
                "--test",
                "net",
                "--features",
                "a b"
            ]
        );
    }

    #[test]
    fn unknown_flags_and_kinds_are_errors() {
        assert!(parse(&["--frobnicate"]).is_err());
        let err = parse(&["--deny", "closewait"]).unwrap_err().to_string();
        assert!(err.contains("close-wait"), "{err}");
    }
}

#[cfg(test)]
mod exec_tests {
    use super::*;

    #[test]
    fn exec_takes_the_command_after_the_double_dash() {
        let argv = [
            "cargo",
            "sockcheck",
            "exec",
            "--deny",
            "udp",
            "--",
            "/bin/test-bin",
            "--exact",
            "x",
        ];
        let Cargo::Sockcheck(sockcheck) = Cargo::try_parse_from(argv).unwrap();
        let Some(Command::Exec(exec)) = sockcheck.command else {
            panic!("not exec")
        };
        assert_eq!(exec.command, ["/bin/test-bin", "--exact", "x"]);
        assert_eq!(
            exec.gate.severity.deny,
            [Judged::Kind(sockcheck::leak::LeakKind::Udp)]
        );
    }

    #[test]
    fn allow_from_takes_rules_and_rejects_what_is_not_one() {
        let argv = [
            "cargo",
            "sockcheck",
            "--allow-from",
            "crate=wiremock",
            "--allow-from",
            "function=my_app::pool::*",
            "--no-known-pools",
        ];
        let Cargo::Sockcheck(sockcheck) = Cargo::try_parse_from(argv).unwrap();
        let rules: Vec<String> = sockcheck
            .run
            .gate
            .allow_from
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(rules, ["crate wiremock", "function my_app::pool::*"]);
        assert!(sockcheck.run.gate.no_known_pools);
        let err = Cargo::try_parse_from(["cargo", "sockcheck", "--allow-from", "wiremock"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`wiremock` is not a rule: write function=GLOB, crate=NAME or file=GLOB"),
            "{err}"
        );
    }

    #[test]
    fn a_negative_timeout_is_rejected() {
        let argv = ["cargo", "sockcheck", "--timeout", "-1"];
        assert!(Cargo::try_parse_from(argv).is_err());
    }
}
