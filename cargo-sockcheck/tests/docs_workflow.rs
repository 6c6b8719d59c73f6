//! The documented workflow works on a fresh checkout: the commands of
//! README.md and docs/ci.md are read from the pages and run as written,
//! the way a new user would paste them, not rewritten here.
//!
//! - docs/ci.md's hand-written GitHub workflow: its `run:` steps in a fresh
//!   project whose test leaks, with the sockcheck checkout where the
//!   workflow puts it (`.sockcheck`) and GitHub's environment variables;
//!   its `uses:` steps cannot run here, so the files they read are checked
//!   instead. Then the page's baseline commands, in the same project.
//! - README.md's first command, in this checkout (the in-repo alias: a
//!   release build, then the leaky fixture), and its install from the
//!   checkout. Its second command, `cargo test --workspace`, is this very
//!   suite, and the crates.io and binstall lines need a release.
//!
//! Both install steps and the alias build cargo-sockcheck in release mode
//! into this checkout's target dir (once; later runs reuse it) and install
//! into a temporary root, never `~/.cargo/bin`. Their commands are kept,
//! but cargo's `CARGO_PROFILE_RELEASE_*` variables switch the release
//! profile's optimisation off: minutes less of building on a CI machine,
//! and nothing checked here depends on it.

#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

/// The first fenced block of `language` after the heading `heading` of the
/// page `page` (relative to the repository root).
fn block_after(page: &str, heading: &str, language: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join(page)).unwrap();
    let from = text
        .find(heading)
        .unwrap_or_else(|| panic!("{page} has no heading {heading:?}"));
    let fence = format!("```{language}\n");
    let start = from + text[from..].find(&fence).expect("a fenced block") + fence.len();
    let end = start + text[start..].find("\n```").expect("the block's end");
    text[start..end].to_owned()
}

/// The command lines of a `sh` block: neither blank nor comments.
fn commands(block: &str) -> Vec<String> {
    block
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// One step of a workflow: what it runs or uses, and its `with:` values.
#[derive(Debug, Default)]
struct Step {
    /// The comment lines just above it.
    comment: String,
    name: Option<String>,
    run: Option<String>,
    uses: Option<String>,
    with: Vec<(String, String)>,
}

/// The steps of the workflow in `yaml`, for the subset of YAML the docs
/// write: `- ` items under `steps:`, `key: value` pairs, `run: >` folded
/// and `run: |` literal blocks, a `with:` map. Anything else in a step is
/// an error, so a new construct on the page is noticed here.
fn steps(yaml: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut comment = String::new();
    let mut lines = yaml
        .lines()
        .skip_while(|line| line.trim() != "steps:")
        .skip(1)
        .peekable();
    let indent = |line: &str| line.len() - line.trim_start().len();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            comment.push_str(trimmed.trim_start_matches('#').trim());
            comment.push(' ');
            continue;
        }
        let (key_indent, entry) = match trimmed.strip_prefix("- ") {
            Some(entry) => {
                steps.push(Step {
                    comment: std::mem::take(&mut comment),
                    ..Step::default()
                });
                (indent(line) + 2, entry)
            }
            None => (indent(line), trimmed),
        };
        let step = steps.last_mut().expect("a step before its keys");
        let (key, value) = entry.split_once(':').expect("`key: value`");
        let value = value.trim();
        // A block scalar: the more indented lines that follow.
        let mut block = Vec::new();
        if value == ">" || value == "|" || key == "with" {
            while let Some(next) = lines.peek() {
                if next.trim().is_empty() || indent(next) <= key_indent {
                    break;
                }
                block.push(lines.next().unwrap().trim());
            }
        }
        match (key, value) {
            ("name", name) => step.name = Some(name.to_owned()),
            ("uses", uses) => step.uses = Some(uses.to_owned()),
            ("if", _) => {}
            ("run", ">") => step.run = Some(block.join(" ")),
            ("run", "|") => step.run = Some(block.join("\n")),
            ("run", command) => step.run = Some(command.to_owned()),
            ("with", "") => {
                for pair in block {
                    let (k, v) = pair.split_once(':').expect("`key: value` under with:");
                    let v = v.split(" #").next().unwrap_or(v);
                    step.with.push((k.to_owned(), v.trim().to_owned()));
                }
            }
            _ => panic!("a step key the docs' workflow reader does not know: {line:?}"),
        }
    }
    steps
}

/// A fresh project: one test that leaves a listener open, one clean test.
fn fresh_project(dir: &Path) {
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"fresh\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    std::fs::write(
        dir.join("tests/net.rs"),
        "#[test]\nfn leaks_a_listener() {\n    \
         std::mem::forget(std::net::TcpListener::bind(\"127.0.0.1:0\").unwrap());\n}\n\n\
         #[test]\nfn clean() {}\n",
    )
    .unwrap();
}

/// `bash -e -c COMMAND` in `dir`, as a step of a GitHub job runs it, with
/// `root/bin` first on PATH, installs going to `root`, and the `github`
/// environment variables (none of this process's own GitHub ones).
fn step(command: &str, dir: &Path, root: &Path, github: &[(&str, &Path)]) -> Output {
    let path = format!(
        "{}:{}",
        root.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut bash = Command::new("bash");
    bash.args(["-e", "-c", command])
        .current_dir(dir)
        .env("PATH", path)
        .env("CARGO_INSTALL_ROOT", root)
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    for (name, value) in github {
        bash.env(name, value);
    }
    bash.output().unwrap()
}

#[test]
fn the_hand_written_workflow_and_the_baseline_commands_run_as_written_in_a_fresh_project() {
    let workflow = block_after(
        "docs/ci.md",
        "## A hand-written GitHub Actions workflow",
        "yaml",
    );
    let steps = steps(&workflow);
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let root = dir.path().join("root");
    fresh_project(&project);
    // The second checkout step's `path:`: the sockcheck sources.
    let sockcheck_path = steps
        .iter()
        .find_map(|s| s.with.iter().find(|(k, _)| k == "path").map(|(_, v)| v))
        .expect("the workflow checks sockcheck out");
    std::os::unix::fs::symlink(repo_root(), project.join(sockcheck_path)).unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "").unwrap();
    let github = [
        ("GITHUB_ACTIONS", Path::new("true")),
        ("GITHUB_STEP_SUMMARY", summary.as_path()),
        ("GITHUB_WORKSPACE", project.as_path()),
    ];

    let mut ran = Vec::new();
    for each in &steps {
        // Every step says what it does on a fork's pull request.
        assert!(
            each.comment.contains("Fork pull requests:"),
            "no fork note above {each:?}"
        );
        let Some(command) = &each.run else {
            // A `uses:` step: the files it reads must be there by now.
            for (key, value) in &each.with {
                if key == "report_paths" || (key == "path" && value.starts_with("target/")) {
                    let file = project.join(value);
                    assert!(file.is_file(), "{:?} reads {value}, not written", each.uses);
                }
            }
            continue;
        };
        let output = step(command, &project, &root, &github);
        ran.push((each.name.clone().unwrap_or_default(), status(&output)));
        if command.starts_with("cargo sockcheck") {
            // A leak fails the step, with annotations on stderr and the
            // Markdown in the job summary.
            assert_eq!(status(&output), 1, "{}", stderr(&output));
            assert!(stderr(&output).contains("::error "), "{}", stderr(&output));
            let summary = std::fs::read_to_string(&summary).unwrap();
            assert!(summary.contains("net::leaks_a_listener"), "{summary}");
        } else {
            assert_eq!(status(&output), 0, "{command}\n{}", stderr(&output));
        }
    }
    assert_eq!(
        ran,
        [
            ("Install cargo-sockcheck".to_owned(), 0),
            ("Look for leaked sockets".to_owned(), 1)
        ]
    );
    let report = report_file(&project.join("target/sockcheck/report.json"));
    assert_eq!(
        (report.summary.tests, report.summary.errors),
        (2, 1),
        "{report:#?}"
    );
    let junit = std::fs::read_to_string(project.join("target/sockcheck/junit.xml")).unwrap();
    assert!(junit.contains("<testsuites"), "{junit}");

    // The baseline section's two commands, in the same project.
    let baseline = commands(&block_after(
        "docs/ci.md",
        "## <a id=\"baseline\"></a>Baseline: adopt it without fixing everything first",
        "sh",
    ));
    assert_eq!(baseline.len(), 2, "{baseline:?}");
    for command in &baseline {
        let output = step(command, &project, &root, &[]);
        assert_eq!(status(&output), 0, "{command}\n{}", stderr(&output));
    }
    assert!(project.join("sockcheck-baseline.json").is_file());
}

#[test]
fn the_readme_s_first_command_and_its_install_run_as_written() {
    let try_it = commands(&block_after("README.md", "## Try it: two commands", "sh"));
    assert_eq!(
        try_it,
        [
            "cargo sockcheck --manifest-path tests/fixtures/leaky/Cargo.toml",
            "cargo test --workspace"
        ],
        "README's commands changed: this test runs the first"
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let first = step(&try_it[0], &repo_root(), &root, &[]);
    // "It exits 101 there, because one of the fixture's tests fails on purpose."
    assert_eq!(status(&first), 101, "{}", stderr(&first));
    // cargo's progress is shown: the alias is not --quiet.
    assert!(
        stderr(&first).contains("Running `"),
        "cargo's own lines are missing:\n{}",
        stderr(&first)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains(" Summary ["));

    let install = commands(&block_after(
        "README.md",
        "Elsewhere, install it once",
        "sh",
    ));
    let from_checkout = install
        .iter()
        .find(|c| c.contains("--path"))
        .expect("an install from the checkout");
    let output = step(from_checkout, &repo_root(), &root, &[]);
    assert_eq!(status(&output), 0, "{}", stderr(&output));
    let version = Command::new(root.join("bin/cargo-sockcheck"))
        .args(["sockcheck", "--version"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("cargo-sockcheck {}", env!("CARGO_PKG_VERSION"))
    );
}
