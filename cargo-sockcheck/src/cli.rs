//! The command line: flags as cargo and libtest spell them (DESIGN.md's
//! contract), parsed by clap.

use clap::{Args, Parser, ValueEnum};
use sockcheck::leak::LeakKind;
use std::path::PathBuf;

/// How cargo invokes a subcommand: `cargo sockcheck ARGS` runs
/// `cargo-sockcheck sockcheck ARGS`.
#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo", version, styles = clap::builder::Styles::plain())]
pub enum Cargo {
    /// Run a project's tests one per process and report the sockets each leaves open.
    Sockcheck(Options),
}

/// Everything `cargo sockcheck` takes.
#[derive(Debug, Args)]
#[command(version, about, long_about = None)]
pub struct Options {
    #[command(flatten)]
    pub selection: PackageSelection,

    /// Run only tests whose name contains one of these (as libtest).
    #[arg(value_name = "FILTERS")]
    pub filters: Vec<String>,

    /// Skip tests whose name contains PATTERN (repeatable).
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

    /// Tests to run at once [default: number of CPUs].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    /// What to print on stdout at the end.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Also write the JSON report to PATH.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,

    /// Kill a test that runs longer than SECS and mark it timed out.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,

    /// Report leaks of KIND as errors (repeatable).
    #[arg(long, value_name = "KIND")]
    pub deny: Vec<LeakKind>,

    /// Report leaks of KIND as warnings (repeatable).
    #[arg(long, value_name = "KIND")]
    pub warn: Vec<LeakKind>,

    /// Do not report leaks of KIND (repeatable).
    #[arg(long, value_name = "KIND")]
    pub allow: Vec<LeakKind>,

    /// Arguments passed to every test binary, after `--`.
    #[arg(last = true, value_name = "TEST_ARGS")]
    pub test_args: Vec<String>,
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

/// Output formats for stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Failing and leaking tests, then a summary line.
    Text,
    /// The JSON report.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        let argv = ["cargo", "sockcheck"].iter().chain(args);
        Cargo::try_parse_from(argv).map(|Cargo::Sockcheck(options)| options)
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
