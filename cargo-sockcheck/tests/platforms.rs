//! End to end: what code hosts read. The built `cargo sockcheck` writes
//! SARIF (`--sarif`), GitLab Code Quality (`--gitlab`) and GitHub
//! annotations for the fixture projects; every SARIF log is checked
//! against the SARIF 2.1.0 schema and GitHub's ingestion rules, and with
//! the SARIF multitool when `SARIF_MULTITOOL` names it (.ci/run sets it).
//! Paths resolve from the repository root, fingerprints survive edits and
//! reruns, and the files are the same bytes when rendered again.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What one run wrote for code hosts.
struct Written {
    output: Output,
    sarif: Value,
    sarif_text: String,
    gitlab: Value,
    gitlab_text: String,
    report: PathBuf,
    /// The workflow commands on stderr.
    annotations: Vec<String>,
}

/// Runs `command` (a `cargo sockcheck` with its project arguments) on
/// GitHub Actions with `--sarif`, `--gitlab` and `--report` into `dir`.
fn run_in(mut command: Command, dir: &Path) -> Written {
    let (sarif, gitlab, report) = (
        dir.join("report.sarif"),
        dir.join("gl-code-quality.json"),
        dir.join("report.json"),
    );
    let output = command
        .arg("--sarif")
        .arg(&sarif)
        .arg("--gitlab")
        .arg(&gitlab)
        .arg("--report")
        .arg(&report)
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("no {} ({e}): {}", path.display(), stderr(&output)))
    };
    let (sarif_text, gitlab_text) = (read(&sarif), read(&gitlab));
    Written {
        sarif: checked_sarif(&sarif, &sarif_text),
        gitlab: serde_json::from_str(&gitlab_text).expect("Code Quality is JSON"),
        annotations: stderr(&output)
            .lines()
            .filter(|line| line.starts_with("::"))
            .map(str::to_owned)
            .collect(),
        output,
        sarif_text,
        gitlab_text,
        report,
    }
}

/// The log at `path` (`text`), checked against the schema and GitHub's
/// rules, and by the SARIF multitool when `SARIF_MULTITOOL` is set.
fn checked_sarif(path: &Path, text: &str) -> Value {
    let log = schema::sarif_checked(text);
    if let Some(multitool) = std::env::var_os("SARIF_MULTITOOL") {
        multitool_validates(Path::new(&multitool), path);
    }
    log
}

/// Runs `multitool validate` on `path` (SARIF rules and the schema it
/// ships) and fails on any error or warning it reports.
fn multitool_validates(multitool: &Path, path: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("validation.sarif");
    let run = Command::new(multitool)
        .arg("validate")
        .arg(path)
        .arg("--output")
        .arg(&out)
        .args(["--log", "ForceOverwrite", "--level", "Error;Warning"])
        // .NET without ICU installed: no culture data is needed here.
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run the SARIF multitool {}: {e}",
                multitool.display()
            )
        });
    let text = std::fs::read_to_string(&out).unwrap_or_else(|e| {
        panic!(
            "the multitool wrote no result ({e}):\n{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        )
    });
    let validation: Value = serde_json::from_str(&text).unwrap();
    let problems: Vec<String> = validation["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|run| run["results"].as_array().cloned().unwrap_or_default())
        .filter(|result| matches!(result["level"].as_str(), Some("error" | "warning") | None))
        .map(|result| format!("{} {}", result["ruleId"], result["message"]))
        .collect();
    assert!(
        problems.is_empty(),
        "the SARIF multitool rejects {}:\n{}",
        path.display(),
        problems.join("\n")
    );
}

/// Every `uri` of the log's results and related locations.
fn sarif_uris(log: &Value) -> Vec<String> {
    let results = log["runs"][0]["results"].as_array().unwrap();
    results
        .iter()
        .flat_map(|result| {
            let related = result["relatedLocations"].as_array().cloned();
            result["locations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .chain(related.unwrap_or_default())
        })
        .map(|location| {
            location["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The `file=` of each annotation that has one.
fn annotation_files(annotations: &[String]) -> Vec<String> {
    annotations
        .iter()
        .filter_map(|line| line.split_once(" file=")?.1.split_once(',').map(|(f, _)| f))
        .map(str::to_owned)
        .collect()
}

/// The results' fingerprints.
fn fingerprints(log: &Value) -> BTreeSet<String> {
    log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| {
            result["partialFingerprints"]["sockcheckSite/v1"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Ports, pids and thread ids, which change from run to run.
fn redactions() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"(127\.0\.0\.1|0\.0\.0\.0|\[::1?\]):\d+", "$1:[port]"),
        (r"\bpid \d+", "pid [pid]"),
        (r"\btid \d+", "tid [tid]"),
    ]
}

#[test]
fn sarif_code_quality_and_annotations_of_the_fixtures() {
    for fixture in ["leaky", "sites"] {
        let dir = tempfile::tempdir().unwrap();
        let mut command = on_fixture_command(fixture, tests_of(fixture));
        command.env("GITHUB_WORKSPACE", repo_root());
        let written = run_in(command, dir.path());
        insta::assert_json_snapshot!(format!("sarif_of_{fixture}"), written.sarif);
        insta::assert_json_snapshot!(format!("gitlab_of_{fixture}"), written.gitlab);
        insta::with_settings!({ filters => redactions() }, {
            insta::assert_snapshot!(
                format!("annotations_of_{fixture}"),
                written.annotations.join("\n")
            );
        });

        // The same bytes when the report is rendered again (the shards'
        // merge): sorted, nothing timed.
        let again = tempfile::tempdir().unwrap();
        let report = written.report.to_str().unwrap().to_owned();
        let mut merge = sockcheck_command(&["report", "--merge", &report]);
        merge
            .current_dir(fixture_dir(fixture))
            .env("GITHUB_WORKSPACE", repo_root());
        let merged = run_in(merge, again.path());
        assert_eq!(merged.sarif_text, written.sarif_text, "{fixture}");
        assert_eq!(merged.gitlab_text, written.gitlab_text, "{fixture}");
        assert_eq!(
            status(&merged.output),
            status(&written.output),
            "{}",
            stderr(&merged.output)
        );
    }
}

/// The tests a snapshot covers: the sites fixture's ten leaking tests
/// (tests added to it later for other purposes stay out), the whole leaky
/// fixture.
fn tests_of(fixture: &str) -> &'static [&'static str] {
    match fixture {
        "sites" => &[
            "--exact",
            "leaks_in_test_thread",
            "leaks_in_spawned_thread",
            "leaks_through_helper",
            "leaks_through_library",
            "leaks_in_tokio_worker",
            "leaks_listener_held_by_a_thread",
            "leaks_a_child_process",
            "leaks_then_aborts",
            "becomes_a_server_that_leaks",
            "leaks_one_end_of_a_socketpair",
        ],
        _ => &[],
    }
}

/// The fixture project's directory.
fn fixture_dir(name: &str) -> PathBuf {
    fixture(name).parent().unwrap().to_path_buf()
}

#[test]
fn a_workspace_in_a_subfolder_of_a_git_repository_gets_paths_from_the_repository_root() {
    let copy = LeakyCopy::new();
    let repository = tempfile::tempdir().unwrap();
    let git = Command::new("git")
        .args(["init", "--quiet"])
        .arg(repository.path())
        .status()
        .expect("git is installed");
    assert!(git.success());
    let workspace = repository.path().join("rust/leaky");
    std::fs::create_dir_all(workspace.parent().unwrap()).unwrap();
    std::fs::rename(copy.path(""), &workspace).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut command = on_project_command(
        &workspace.join("Cargo.toml"),
        &workspace.join("target"),
        &[
            "leaks_close_wait_ipv4",
            "leaks_udp",
            "leaks_listener_in_thread",
        ],
    );
    // Run from elsewhere, as a CI step with a working directory would.
    command
        .current_dir(out.path())
        .env_remove("GITHUB_WORKSPACE");
    let written = run_in(command, out.path());
    assert_eq!(status(&written.output), 1, "{}", stderr(&written.output));

    let uris = sarif_uris(&written.sarif);
    let gitlab_paths: Vec<String> = written
        .gitlab
        .as_array()
        .unwrap()
        .iter()
        .map(|issue| issue["location"]["path"].as_str().unwrap().to_owned())
        .collect();
    let annotated = annotation_files(&written.annotations);
    assert_eq!(annotated.len(), 3, "{:#?}", written.annotations);
    for path in uris.iter().chain(&gitlab_paths).chain(&annotated) {
        assert!(path.starts_with("rust/leaky/"), "{path}");
        assert!(
            repository.path().join(path).is_file(),
            "{path} is no file of the repository"
        );
    }
    assert!(
        uris.contains(&"rust/leaky/src/lib.rs".to_owned()),
        "{uris:#?}"
    );
    assert!(
        gitlab_paths.contains(&"rust/leaky/tests/net.rs".to_owned()),
        "{gitlab_paths:#?}"
    );
    // The text report keeps paths from the workspace, where users run it.
    let text = String::from_utf8_lossy(&written.output.stdout);
    assert!(text.contains("opened at src/lib.rs:"), "{text}");
    assert!(!text.contains("rust/leaky/src"), "{text}");
}

#[test]
fn fingerprints_survive_moved_lines_renamed_tests_and_a_second_run_gives_the_same_bytes() {
    let copy = LeakyCopy::new();
    let filters = [
        "leaks_close_wait",
        "leaks_udp",
        "leaks_listener_in_thread",
        "round_trip",
    ];
    let run = || {
        let out = tempfile::tempdir().unwrap();
        let mut command =
            on_project_command(&copy.path("Cargo.toml"), &copy.path("target"), &filters);
        command.env("GITHUB_WORKSPACE", copy.path(""));
        run_in(command, out.path())
    };
    let (one, two) = (run(), run());
    let first = fingerprints(&one.sarif);
    assert_eq!(first.len(), 3, "{first:#?}");
    // A second run: the same bytes (tests sorted, ports and pids left out).
    assert_eq!(one.sarif_text, two.sarif_text);
    assert_eq!(one.gitlab_text, two.gitlab_text);

    // Lines added above every site, and an unrelated test renamed.
    for file in ["src/lib.rs", "tests/net.rs"] {
        let old = std::fs::read_to_string(copy.path(file)).unwrap();
        copy.write(file, &format!("// one\n// two\n// three\n{old}"));
    }
    copy.replace(
        "tests/net.rs",
        "fn clean_round_trip()",
        "fn clean_round_trip_renamed()",
    );
    let moved = run().sarif;
    assert_eq!(
        fingerprints(&moved),
        first,
        "after moving lines and renaming a test"
    );
    let lines: Vec<u64> = moved["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        lines.iter().all(|&line| line > 3),
        "the sites moved: {lines:?}"
    );

    // A new leak at a new site: a new fingerprint, the others kept.
    copy.append(
        "tests/net.rs",
        "#[test]\nfn leaks_listener_in_thread_too() {\n    \
         let listener = std::net::TcpListener::bind(\"127.0.0.1:0\").unwrap();\n    \
         std::mem::forget(listener);\n}\n",
    );
    let added = fingerprints(&run().sarif);
    assert!(added.is_superset(&first), "{added:#?}");
    assert_eq!(added.len(), first.len() + 1, "{added:#?}");
}

#[test]
#[ignore = "needs the SARIF multitool (SARIF_MULTITOOL, from npm); .ci/run installs it and runs this with --ignored"]
fn every_fixture_s_sarif_passes_the_sarif_multitool() {
    let multitool = std::env::var_os("SARIF_MULTITOOL")
        .expect("SARIF_MULTITOOL names the multitool (.ci/run sets it)");
    for fixture in ["leaky", "sites", "unixsock"] {
        let dir = tempfile::tempdir().unwrap();
        let mut command = on_fixture_command(fixture, tests_of(fixture));
        command.env("GITHUB_WORKSPACE", repo_root());
        run_in(command, dir.path());
        multitool_validates(Path::new(&multitool), &dir.path().join("report.sarif"));
    }
}
