//! Talking to cargo: the workspace's packages, building the test binaries,
//! and the environment `cargo test` gives a test process.

use anyhow::{bail, Context, Result};
use cargo_metadata::{Message, Metadata, MetadataCommand, TargetKind};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A built test executable and what it needs to run as cargo would run it.
#[derive(Debug, Clone)]
pub struct TestBinary {
    /// Target name as cargo reports it (`net` for `tests/net.rs`).
    pub name: String,
    /// The executable.
    pub path: PathBuf,
    /// Directory holding the package's Cargo.toml: the working directory.
    pub package_root: PathBuf,
    /// Package name, for `CARGO_PKG_NAME`.
    pub package_name: String,
    /// Package version, for `CARGO_PKG_VERSION`.
    pub package_version: String,
    /// The package's binaries, for `CARGO_BIN_EXE_<name>`.
    pub bin_exes: Vec<(String, PathBuf)>,
}

impl TestBinary {
    /// A command for this binary with cargo's test environment.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.path);
        command
            .current_dir(&self.package_root)
            .env("CARGO_MANIFEST_DIR", &self.package_root)
            .env("CARGO_PKG_NAME", &self.package_name)
            .env("CARGO_PKG_VERSION", &self.package_version)
            .env("CARGO_CRATE_NAME", self.name.replace('-', "_"))
            .env(LIBRARY_PATH_VAR, self.library_path())
            // A harness binary would write its own in-process report there,
            // once per test process, over the user's file.
            .env_remove("SOCKCHECK_REPORT");
        for (name, path) in &self.bin_exes {
            command.env(format!("CARGO_BIN_EXE_{name}"), path);
        }
        command
    }

    /// The dynamic library path: the target's `deps` first, then the user's.
    fn library_path(&self) -> OsString {
        let deps = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let inherited = std::env::var_os(LIBRARY_PATH_VAR).unwrap_or_default();
        let paths = std::iter::once(deps).chain(std::env::split_paths(&inherited));
        std::env::join_paths(paths).unwrap_or(inherited)
    }
}

#[cfg(target_os = "macos")]
const LIBRARY_PATH_VAR: &str = "DYLD_FALLBACK_LIBRARY_PATH";
#[cfg(not(target_os = "macos"))]
const LIBRARY_PATH_VAR: &str = "LD_LIBRARY_PATH";

/// The cargo to run: `$CARGO` when cargo started us, else `cargo` on PATH.
pub fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// `cargo metadata`, read on a thread of its own while the tests build: the
/// two cargo runs take about as long each, and the build needs no metadata
/// until its binaries are named. With the dependencies: they can declare
/// the sockets they keep (`config::declared_rules`).
pub struct PendingMetadata(std::thread::JoinHandle<Result<Metadata>>);

impl PendingMetadata {
    /// Starts reading the workspace's packages, after checking that there
    /// is a manifest to read (so that a missing one is one line, not both
    /// cargo runs' errors).
    pub fn start(manifest_path: Option<&Path>) -> Result<PendingMetadata> {
        check_manifest(manifest_path)?;
        let mut command = MetadataCommand::new();
        command.cargo_path(cargo_program());
        if let Some(path) = manifest_path {
            command.manifest_path(path);
        }
        Ok(PendingMetadata(std::thread::spawn(move || {
            // The dependencies may be out of reach (offline, another
            // platform's crates not fetched): the workspace alone then.
            let full = command.exec();
            full.or_else(|e| {
                let bare = command.no_deps().exec();
                if bare.is_ok() {
                    eprintln!(
                        "sockcheck: warning: dependencies' declared allow-sockets rules are \
                         not read: `cargo metadata` could not resolve them ({})",
                        one_line(&e.to_string())
                    );
                }
                bare
            })
            .map_err(|e| anyhow::anyhow!("{}", one_line(&e.to_string())))
            .context("cannot read the workspace (`cargo metadata` failed)")
        })))
    }

    /// The workspace's packages, once `cargo metadata` has finished.
    pub fn wait(self) -> Result<Metadata> {
        self.0
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("reading `cargo metadata` panicked")))
    }
}

/// A one-line error when there is no manifest where cargo will look:
/// `manifest_path`, or a `Cargo.toml` in the working directory or above.
fn check_manifest(manifest_path: Option<&Path>) -> Result<()> {
    match manifest_path {
        Some(path) if !path.is_file() => bail!(
            "manifest path `{}` {}; pass --manifest-path the Cargo.toml of a package or workspace",
            path.display(),
            if path.exists() {
                "is not a file"
            } else {
                "does not exist"
            }
        ),
        Some(_) => Ok(()),
        None => {
            let cwd = std::env::current_dir().context("cannot read the working directory")?;
            if cwd.ancestors().any(|dir| dir.join("Cargo.toml").is_file()) {
                Ok(())
            } else {
                bail!(
                    "could not find `Cargo.toml` in `{}` or any parent directory; run in a cargo project or pass --manifest-path",
                    cwd.display()
                )
            }
        }
    }
}

/// Builds the test binaries `cargo test` would build with `cargo_args`, while
/// `metadata` is read, and returns both: the binaries in cargo's order.
/// Cargo's diagnostics go to our stderr. When both fail, the metadata's
/// error is the one that says what is wrong (a broken manifest).
pub fn build_tests(
    cargo_args: &[String],
    metadata: PendingMetadata,
) -> Result<(Metadata, Vec<TestBinary>)> {
    let cargo = cargo_program();
    let mut command = Command::new(&cargo);
    command
        .args([
            "test",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .args(cargo_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let shown = format!(
        "{} test --no-run --message-format=json-render-diagnostics {}",
        cargo.to_string_lossy(),
        cargo_args.join(" ")
    );
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run `{}`", shown.trim_end()))?;
    let stdout = child
        .stdout
        .take()
        .context("cargo's stdout was not captured")?;

    let mut tests = Vec::new();
    let mut bins: HashMap<String, Vec<(String, PathBuf)>> = HashMap::new();
    for message in Message::parse_stream(BufReader::new(stdout)) {
        let Ok(Message::CompilerArtifact(artifact)) = message else {
            continue;
        };
        let Some(executable) = artifact.executable else {
            continue;
        };
        let package = artifact.package_id.repr.clone();
        if artifact.profile.test {
            tests.push((
                package,
                artifact.target.name,
                executable.into_std_path_buf(),
            ));
        } else if artifact.target.kind.contains(&TargetKind::Bin) {
            let entry = (artifact.target.name, executable.into_std_path_buf());
            bins.entry(package).or_default().push(entry);
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("cannot wait for `{}`", shown.trim_end()))?;
    let metadata = metadata.wait();
    if !status.success() {
        metadata?;
        bail!(
            "the build failed: `{}` exited with {status}; fix the errors cargo printed above",
            shown.trim_end()
        );
    }

    let metadata = metadata?;
    let binaries = tests
        .into_iter()
        .map(|(package_id, name, path)| {
            let package = metadata
                .packages
                .iter()
                .find(|p| p.id.repr == package_id)
                .with_context(|| {
                    format!("cargo built `{name}` for unknown package {package_id}")
                })?;
            let package_root = package
                .manifest_path
                .parent()
                .map(|p| p.as_std_path().to_path_buf())
                .unwrap_or_default();
            Ok(TestBinary {
                name,
                path,
                package_root,
                package_name: package.name.to_string(),
                package_version: package.version.to_string(),
                bin_exes: bins.get(&package_id).cloned().unwrap_or_default(),
            })
        })
        .collect::<Result<_>>()?;
    Ok((metadata, binaries))
}

/// The part of a multi-line error from cargo that says what went wrong:
/// the first line, after its last `error: ` prefix.
fn one_line(message: &str) -> String {
    let first = message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    first.rsplit("error: ").next().unwrap_or(first).to_owned()
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn cargo_errors_are_cut_to_the_line_that_says_what_went_wrong() {
        let stderr = "`cargo metadata` exited with an error: error: manifest path `/nope/Cargo.toml` does not exist\n";
        assert_eq!(
            one_line(stderr),
            "manifest path `/nope/Cargo.toml` does not exist"
        );
    }
}
