//! What counts as the project's own source when a creation stack is read:
//! the workspace members' files (not std, not `~/.cargo/registry`, not the
//! target directory), shown relative to the workspace root.
//!
//! `cargo sockcheck` knows the workspace from `cargo metadata`. In `exec`
//! mode (a cargo runner or nextest wrapper) there is no metadata to hand and
//! asking cargo for it per test process would cost more than the test, so
//! the project is the workspace around `CARGO_MANIFEST_DIR` (which cargo and
//! nextest set for every test process), else around the working directory:
//! the nearest directory upwards whose `Cargo.toml` has a `[workspace]`
//! table, else the package itself.

use cargo_metadata::Metadata;
use std::path::{Path, PathBuf};

/// The project whose frames name a leak's site.
#[derive(Debug, Clone)]
pub struct ProjectSource {
    /// Project files are shown relative to it.
    root: PathBuf,
    /// Directories whose files are the project's: the members' package roots.
    members: Vec<PathBuf>,
    /// Directories inside those that hold no project source: the target
    /// directory, cargo's home.
    not_source: Vec<PathBuf>,
    /// The members' crate names (`net`, `tiny_http`), to tell project frames
    /// by their function's path when there is no file (no debug info).
    crates: Vec<String>,
}

impl ProjectSource {
    /// A project rooted at `root` whose sources are the `members`
    /// directories, compiled as `crates`. `root/target` and cargo's home
    /// never count as source.
    pub fn new(root: &Path, members: &[PathBuf], crates: Vec<String>) -> ProjectSource {
        let mut not_source = vec![root.join("target")];
        not_source.extend(cargo_home());
        ProjectSource {
            root: root.to_path_buf(),
            members: with_canonical_forms(members),
            not_source: with_canonical_forms(&not_source),
            crates,
        }
    }

    /// The workspace `cargo metadata` describes: its members' package roots
    /// and targets; its target directory is not source.
    pub fn from_metadata(metadata: &Metadata) -> ProjectSource {
        let members: Vec<&cargo_metadata::Package> = metadata.workspace_packages();
        let member_dirs: Vec<PathBuf> = members
            .iter()
            .filter_map(|package| package.manifest_path.parent())
            .map(|dir| dir.as_std_path().to_path_buf())
            .collect();
        let crates = members
            .iter()
            .flat_map(|package| &package.targets)
            .map(|target| target.name.replace('-', "_"))
            .collect();
        let mut project =
            ProjectSource::new(metadata.workspace_root.as_std_path(), &member_dirs, crates);
        project.not_source.extend(with_canonical_forms(&[metadata
            .target_directory
            .as_std_path()
            .to_path_buf()]));
        project
    }

    /// For `exec`: the workspace around `CARGO_MANIFEST_DIR` (else the
    /// working directory), all of it counted as source; `binary_crate` (the
    /// test binary's target name) and `CARGO_PKG_NAME` name its crates.
    pub fn from_environment(binary_crate: &str) -> ProjectSource {
        let package = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        let root = workspace_root_around(&package);
        let mut crates = vec![binary_crate.replace('-', "_")];
        if let Ok(package_name) = std::env::var("CARGO_PKG_NAME") {
            crates.push(package_name.replace('-', "_"));
        }
        let mut project = ProjectSource::new(&root, std::slice::from_ref(&root), crates);
        if let Some(target_dir) = std::env::var_os("CARGO_TARGET_DIR") {
            let target_dir = root.join(target_dir);
            project
                .not_source
                .extend(with_canonical_forms(&[target_dir]));
        }
        project
    }

    /// `file` relative to the workspace root when it is one of the
    /// project's source files, else `None`.
    pub fn relative_file(&self, file: &Path) -> Option<String> {
        let inside = |dirs: &[PathBuf]| dirs.iter().any(|dir| file.starts_with(dir));
        if !inside(&self.members) || inside(&self.not_source) {
            return None;
        }
        let relative = file.strip_prefix(&self.root).unwrap_or(file);
        Some(relative.to_string_lossy().into_owned())
    }

    /// True when `function` (a demangled path) belongs to one of the
    /// project's crates: `net::helper`, `<net::Server as Drop>::drop`.
    pub fn owns_function(&self, function: &str) -> bool {
        let path = function.trim_start_matches('<');
        self.crates.iter().any(|krate| {
            path.strip_prefix(krate.as_str())
                .is_some_and(|rest| rest.starts_with("::"))
        })
    }
}

/// Cargo's home (`$CARGO_HOME`, else `~/.cargo`): registry and git sources.
fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
}

/// The directories as given and, where it differs, as the file system
/// resolves them: the debug info records whichever path rustc was given.
fn with_canonical_forms(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut all = dirs.to_vec();
    for dir in dirs {
        if let Ok(canonical) = dir.canonicalize() {
            if !all.contains(&canonical) {
                all.push(canonical);
            }
        }
    }
    all
}

/// The nearest directory from `package` upwards whose `Cargo.toml` has a
/// `[workspace]` (or `[workspace.*]`) table; `package` itself when none has.
pub(crate) fn workspace_root_around(package: &Path) -> PathBuf {
    package
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|manifest| {
                manifest
                    .lines()
                    .any(|line| line.trim_start().starts_with("[workspace"))
            })
        })
        .unwrap_or(package)
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> ProjectSource {
        let root = Path::new("/ws");
        ProjectSource::new(
            root,
            &[root.to_path_buf(), root.join("crates/server")],
            vec!["net".into(), "tiny_http".into()],
        )
    }

    #[test]
    fn members_files_are_the_project_s_and_shown_from_the_root() {
        let project = project();
        assert_eq!(
            project.relative_file(Path::new("/ws/tests/net.rs")),
            Some("tests/net.rs".to_owned())
        );
        assert_eq!(
            project.relative_file(Path::new("/ws/crates/server/src/lib.rs")),
            Some("crates/server/src/lib.rs".to_owned())
        );
    }

    #[test]
    fn std_registry_and_generated_files_are_not_the_project_s() {
        let project = project();
        for file in [
            "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/std/src/net/tcp.rs",
            "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.48.0/src/net/tcp/listener.rs",
            "/ws/target/debug/build/net-0123/out/generated.rs",
            "/elsewhere/src/lib.rs",
        ] {
            assert_eq!(project.relative_file(Path::new(file)), None, "{file}");
        }
    }

    #[test]
    fn functions_of_the_project_s_crates_are_told_by_their_path() {
        let project = project();
        assert!(project.owns_function("net::leaks_listener"));
        assert!(project.owns_function("<tiny_http::Server as core::ops::drop::Drop>::drop"));
        assert!(!project.owns_function("network::connect"));
        assert!(!project.owns_function("std::net::tcp::TcpListener::bind"));
        assert!(!project.owns_function("net"));
    }

    #[test]
    fn the_workspace_around_a_package_is_the_nearest_manifest_with_a_workspace_table() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let member = dir.path().join("crates/server");
        std::fs::create_dir_all(&member).expect("member directory");
        std::fs::write(member.join("Cargo.toml"), "[package]\nname = \"server\"\n")
            .expect("member manifest");
        assert_eq!(workspace_root_around(&member), member);
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[workspace.package]\nedition = \"2021\"\n",
        )
        .expect("workspace manifest");
        assert_eq!(workspace_root_around(&member), dir.path());
    }
}
