//! What counts as the project's own source when a creation stack is read:
//! the workspace members' files (not std, not `~/.cargo/registry`, not the
//! target directory), shown relative to the workspace root. The one place
//! where a file named by the debug info becomes a path in today's checkout.
//!
//! The binary may have been built in another checkout (a shared
//! `--target-dir`, a restored CI cache, a Docker image built at `/app`):
//! cargo does not rebuild what has not changed, so the debug info names
//! that checkout's absolute paths. Cargo compiles a workspace's packages
//! from the workspace root and names their files relative to it (its
//! `DW_AT_comp_dir`, a *build root*), so a file under a build root has a
//! counterpart at the same relative path in today's checkout: when that
//! counterpart is one of today's members' files, the frame is the
//! project's and is shown at today's path.
//!
//! `cargo sockcheck` knows the workspace from `cargo metadata`. In `exec`
//! mode (a cargo runner or nextest wrapper) there is no metadata to hand and
//! asking cargo for it per test process would cost more than the test, so
//! the project is the workspace around `CARGO_MANIFEST_DIR` (which cargo and
//! nextest set for every test process), else around the working directory:
//! the nearest directory upwards whose `Cargo.toml` has a `[workspace]`
//! table, else the package itself.

use cargo_metadata::Metadata;
use std::collections::BTreeSet;
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
    /// by their function's path when there is no file (no debug info);
    /// none that a dependency's library also has.
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
        // A member's target named like a dependency's library (wiremock
        // 0.5's test `tokio` beside the tokio crate) would claim all of that
        // library's functions: `tokio::…` says nothing about which is meant,
        // so such a name tells no frame (files still do).
        let libraries: BTreeSet<String> = metadata
            .packages
            .iter()
            .filter(|package| !metadata.workspace_members.contains(&package.id))
            .flat_map(|package| &package.targets)
            .filter(|target| target.is_lib() || target.is_rlib() || target.is_dylib())
            .map(|target| target.name.replace('-', "_"))
            .collect();
        let crates = members
            .iter()
            .flat_map(|package| &package.targets)
            .map(|target| target.name.replace('-', "_"))
            .filter(|name| !libraries.contains(name))
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

    /// Where `file`, as the debug info names it, lies for today's checkout;
    /// `build_roots` gives the directories the binary's workspace packages
    /// were compiled in (see the module's comment), asked for only when the
    /// file is neither today's project's nor known to be another's.
    pub fn place<'a>(&self, file: &Path, build_roots: impl FnOnce() -> &'a [PathBuf]) -> Place {
        if let Some(relative) = self.relative_file(file) {
            return Place::Project(relative);
        }
        if self.is_not_source(file) || file.starts_with(STD_SOURCE) {
            return Place::Elsewhere;
        }
        for build_root in build_roots() {
            let Ok(under) = file.strip_prefix(build_root) else {
                continue;
            };
            let today = self.root.join(under);
            let Some(relative) = self.relative_file(&today) else {
                continue;
            };
            if today.exists() {
                return Place::Project(relative);
            }
            if !file.exists() {
                return Place::Lost {
                    built_in: build_root.clone(),
                };
            }
        }
        Place::Elsewhere
    }

    /// `file` relative to the workspace root when it is one of the
    /// project's source files, else `None`.
    fn relative_file(&self, file: &Path) -> Option<String> {
        let inside = self.members.iter().any(|dir| file.starts_with(dir));
        if !inside || self.is_not_source(file) {
            return None;
        }
        let relative = file.strip_prefix(&self.root).unwrap_or(file);
        Some(relative.to_string_lossy().into_owned())
    }

    /// True when `file` lies in the target directory or cargo's home.
    fn is_not_source(&self, file: &Path) -> bool {
        self.not_source.iter().any(|dir| file.starts_with(dir))
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

/// Where a file named by a binary's debug info lies for today's checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// One of the project's source files, at this path relative to today's
    /// workspace root (where the binary says, or its counterpart there).
    Project(String),
    /// A workspace member's file of a build made in `built_in`, another
    /// directory, found neither there nor at the same place in today's
    /// checkout: the binary is not from this checkout.
    Lost {
        /// The build root the binary names.
        built_in: PathBuf,
    },
    /// Not the project's: std, dependencies, generated files.
    Elsewhere,
}

/// Where rustc's own crates (std, core, alloc) say their files are.
const STD_SOURCE: &str = "/rustc/";

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

    /// Where `file` lies for `project`, which must tell without reading
    /// the binary's build roots.
    fn place(project: &ProjectSource, file: &str) -> Place {
        project.place(Path::new(file), || {
            unreachable!("build roots read for {file}")
        })
    }

    #[test]
    fn members_files_are_the_project_s_and_shown_from_the_root() {
        let project = project();
        assert_eq!(
            place(&project, "/ws/tests/net.rs"),
            Place::Project("tests/net.rs".to_owned())
        );
        assert_eq!(
            place(&project, "/ws/crates/server/src/lib.rs"),
            Place::Project("crates/server/src/lib.rs".to_owned())
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
            assert_eq!(project.place(Path::new(file), || &[]), Place::Elsewhere, "{file}");
        }
        // std's files never ask for the binary's build roots.
        let std_file = "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/std/src/net/tcp.rs";
        assert_eq!(place(&project, std_file), Place::Elsewhere);
    }

    /// A checkout in a temporary directory with `files`, and its project.
    fn checkout(files: &[&str]) -> (tempfile::TempDir, ProjectSource) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for file in files {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("directories");
            std::fs::write(&path, "").expect("a file");
        }
        let root = dir.path();
        let project = ProjectSource::new(root, &[root.join("server")], vec!["server".into()]);
        (dir, project)
    }

    #[test]
    fn a_file_of_a_build_made_elsewhere_is_the_project_s_at_today_s_path() {
        let (_dir, project) = checkout(&["server/src/lib.rs"]);
        let old = [PathBuf::from("/old/checkout")];
        assert_eq!(
            project.place(Path::new("/old/checkout/server/src/lib.rs"), || &old),
            Place::Project("server/src/lib.rs".to_owned())
        );
        // Not under that build root, outside today's members, or in the
        // target directory: not the project's, as before.
        for file in [
            "/other/server/src/lib.rs",
            "/old/checkout/tools/src/main.rs",
            "/old/checkout/target/debug/build/out/generated.rs",
        ] {
            assert_eq!(
                project.place(Path::new(file), || &old),
                Place::Elsewhere,
                "{file}"
            );
        }
        // The build root of today's checkout adds nothing.
        let today = [project.root.clone()];
        let file = project.root.join("server/src/gone.rs");
        assert_eq!(
            project.place(&file, || &today),
            Place::Project("server/src/gone.rs".to_owned())
        );
    }

    #[test]
    fn a_member_s_file_found_neither_where_built_nor_today_is_lost() {
        let (_dir, project) = checkout(&["server/src/lib.rs"]);
        let old = [PathBuf::from("/old/checkout")];
        assert_eq!(
            project.place(Path::new("/old/checkout/server/src/removed.rs"), || &old),
            Place::Lost {
                built_in: PathBuf::from("/old/checkout")
            }
        );
        // Still there where it was built (another worktree): that
        // checkout's file, not today's, and not lost.
        let (other, _) = checkout(&["server/src/only_there.rs"]);
        let built_there = [other.path().to_path_buf()];
        let file = other.path().join("server/src/only_there.rs");
        assert_eq!(project.place(&file, || &built_there), Place::Elsewhere);
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
    fn a_member_s_target_named_like_a_dependency_s_library_tells_no_function() {
        // wiremock 0.5's shape: a test target `tokio` in a package that
        // depends on a library `tokio` (here a path dependency, so that
        // `cargo metadata` needs no network).
        let dir = tempfile::tempdir().expect("a temporary directory");
        let write = |file: &str, text: &str| {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("directories");
            std::fs::write(path, text).expect("a file");
        };
        write(
            "app/Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             [dependencies]\ntokio = { path = \"../tokio\" }\n[workspace]\n",
        );
        write("app/src/lib.rs", "");
        write("app/tests/tokio.rs", "");
        write("app/tests/network.rs", "");
        write(
            "tokio/Cargo.toml",
            "[package]\nname = \"tokio\"\nversion = \"1.0.0\"\nedition = \"2021\"\n",
        );
        write("tokio/src/lib.rs", "");
        let metadata = cargo_metadata::MetadataCommand::new()
            .manifest_path(dir.path().join("app/Cargo.toml"))
            .other_options(vec!["--offline".to_owned()])
            .exec()
            .expect("cargo metadata of the scratch package");
        let project = ProjectSource::from_metadata(&metadata);
        assert!(!project.owns_function("tokio::net::tcp::listener::TcpListener::poll_accept"));
        assert!(!project.owns_function("tokio::hello_surf::{{closure}}"));
        assert!(project.owns_function("app::serve"));
        assert!(project.owns_function("network::connects"));
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
