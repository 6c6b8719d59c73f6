//! Where the repository is, which code hosts resolve every path from: the
//! one place that turns a workspace path into a repository path. The
//! repository root is `GITHUB_WORKSPACE` when set (the checkout GitHub
//! Actions annotates), else the nearest directory upwards holding `.git`
//! (a directory, or the file of a worktree or submodule), as `git
//! rev-parse --show-toplevel` would say, without running git.

use sockcheck::report::sites::RepoPaths;
use std::path::{Path, PathBuf};

/// The repository paths of a workspace rooted at `workspace`: its place in
/// the repository around it. When there is no repository, or the
/// workspace is outside it, paths stay workspace-relative.
pub fn paths_of(workspace: &Path) -> RepoPaths {
    let github = std::env::var_os("GITHUB_WORKSPACE")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from);
    RepoPaths::new(&workspace_in_repository(workspace, github.as_deref()).unwrap_or_default())
}

/// `workspace` from the repository root, `/`-separated (empty at the
/// root); `None` without a repository around it.
fn workspace_in_repository(workspace: &Path, github_workspace: Option<&Path>) -> Option<String> {
    let workspace = canonical(workspace);
    let root = match github_workspace {
        Some(root) => canonical(root),
        None => workspace
            .ancestors()
            .find(|dir| dir.join(".git").exists())?
            .to_path_buf(),
    };
    let relative = workspace.strip_prefix(&root).ok()?;
    let parts: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

/// `path` with symbolic links resolved, when it can be; as given otherwise.
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_in_a_subfolder_of_a_git_checkout_is_found_from_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("rust/server");
        std::fs::create_dir_all(&workspace).unwrap();
        assert_eq!(workspace_in_repository(&workspace, None), None);
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        assert_eq!(
            workspace_in_repository(&workspace, None).as_deref(),
            Some("rust/server")
        );
        assert_eq!(
            workspace_in_repository(dir.path(), None).as_deref(),
            Some("")
        );
        // A worktree's `.git` is a file.
        std::fs::write(workspace.join(".git"), "gitdir: /elsewhere\n").unwrap();
        assert_eq!(
            workspace_in_repository(&workspace, None).as_deref(),
            Some("")
        );
    }

    #[test]
    fn github_workspace_wins_and_a_workspace_outside_it_keeps_its_paths() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("a/b");
        std::fs::create_dir_all(&workspace).unwrap();
        std::fs::create_dir(workspace.join(".git")).unwrap();
        assert_eq!(
            workspace_in_repository(&workspace, Some(dir.path())).as_deref(),
            Some("a/b")
        );
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(
            workspace_in_repository(&workspace, Some(elsewhere.path())),
            None
        );
    }
}
