//! The GitHub Action's scripts (scripts/action/*.sh) run here as the
//! action runs them, with fake `GITHUB_*` variables and a stub `gh` on
//! PATH that serves canned runs, artifacts and comments and records what
//! would be posted. `cargo sockcheck` itself is the built binary: the
//! diffs in the comments are real.

mod common;
mod rendered;

use common::*;
use sockcheck::leak::LeakKind;
use sockcheck::ports::{PortFinding, PortProblem};
use sockcheck::report::{json, Outcome, Report, TestRecord};
use sockcheck::socket::State;
use sockcheck::testing::{leak, tcp};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A stand-in for the GitHub CLI. Its data lives in `$STUB_GH`: `runs.json`
/// (what `gh run list` prints), `artifacts/RUN_ID/` (what `gh run
/// download RUN_ID -D DIR` copies), `comments.json` (the pull request's
/// comments), `user` (the login `gh api user` answers for a personal
/// token; without it the call fails as it does for GITHUB_TOKEN),
/// `deny-writes` (make comment writes fail with 403). Every call
/// is logged to `calls.log`; every comment written is kept as
/// `posted-N.md`, with `METHOD PATH` in `posted-N.to`.
const STUB_GH: &str = r#"#!/usr/bin/env bash
set -u
echo "$*" >>"$STUB_GH/calls.log"
case "$1 $2" in
  "run list") cat "$STUB_GH/runs.json" 2>/dev/null || echo '[]' ;;
  "run download")
    id=$3; shift 3; dir=""
    while (($#)); do [[ $1 == -D ]] && dir=$2; shift; done
    [[ -d "$STUB_GH/artifacts/$id" ]] || { echo "no artifact in run $id" >&2; exit 1; }
    mkdir -p "$dir" && cp -r "$STUB_GH/artifacts/$id/." "$dir/" ;;
  "api --paginate") cat "$STUB_GH/comments.json" 2>/dev/null || echo '[]' ;;
  "api user")
    [[ -e "$STUB_GH/user" ]] || { echo "HTTP 403: Resource not accessible by integration" >&2; exit 1; }
    cat "$STUB_GH/user" ;;
  "api -X")
    [[ -e "$STUB_GH/deny-writes" ]] && { echo "HTTP 403: Resource not accessible by integration" >&2; exit 1; }
    n=$(ls "$STUB_GH" | grep -c '^posted-.*\.md$')
    for arg in "$@"; do [[ $arg == body=@* ]] && cp "${arg#body=@}" "$STUB_GH/posted-$n.md"; done
    echo "$3 $4" >"$STUB_GH/posted-$n.to"
    echo '{"id": 1}' ;;
  *) echo "stub gh: unexpected call: $*" >&2; exit 9 ;;
esac
"#;

const MARKER: &str = "<!-- sockcheck-diff:sockcheck -->";

/// Who comments with GITHUB_TOKEN.
const BOT: &str = "github-actions[bot]";

/// A pull request's CI job in a temporary directory.
struct Job {
    dir: tempfile::TempDir,
}

impl Job {
    fn new() -> Job {
        let job = Job {
            dir: tempfile::tempdir().unwrap(),
        };
        for sub in ["bin", "gh", "out"] {
            std::fs::create_dir_all(job.path(sub)).unwrap();
        }
        let gh = job.path("bin/gh");
        std::fs::write(&gh, STUB_GH).unwrap();
        let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&gh, executable).unwrap();
        job.pull_request("acme/app");
        job
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// The event of pull request 7 from `head_repo` into acme/app's main.
    fn pull_request(&self, head_repo: &str) {
        let event = serde_json::json!({
            "pull_request": {
                "number": 7,
                "base": { "ref": "main", "sha": "b45e000000000000", "repo": { "full_name": "acme/app" } },
                "head": { "ref": "topic", "sha": "4ead000000000000", "repo": { "full_name": head_repo } },
            }
        });
        std::fs::write(self.path("event.json"), event.to_string()).unwrap();
    }

    /// `gh run list` finds these (id, commit) runs on main, newest first.
    fn base_runs(&self, runs: &[(u64, &str)]) {
        let runs: Vec<_> = runs
            .iter()
            .map(|(id, sha)| serde_json::json!({ "databaseId": id, "headSha": sha }))
            .collect();
        std::fs::write(
            self.path("gh/runs.json"),
            serde_json::to_string(&runs).unwrap(),
        )
        .unwrap();
    }

    /// Run `id` kept `report` in its `sockcheck` artifact.
    fn artifact(&self, id: u64, report: &Report) {
        let dir = self.path(&format!("gh/artifacts/{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        write_report(report, &dir.join("report.json"));
    }

    /// The pull request already has these comments (id, author, body).
    fn comments(&self, comments: &[(u64, &str, &str)]) {
        let comments: Vec<_> = comments
            .iter()
            .map(|(id, author, body)| {
                serde_json::json!({ "id": id, "user": { "login": author }, "body": body })
            })
            .collect();
        std::fs::write(
            self.path("gh/comments.json"),
            serde_json::to_string(&comments).unwrap(),
        )
        .unwrap();
    }

    /// `scripts/action/NAME` with the action's environment.
    fn script(&self, name: &str) -> Command {
        let script = repo_root().join("scripts/action").join(name);
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap()
        );
        let mut command = Command::new("bash");
        command
            .arg(script)
            .current_dir(self.dir.path())
            .env("PATH", path)
            .env("STUB_GH", self.path("gh"))
            .env("SOCKCHECK_BIN", env!("CARGO_BIN_EXE_cargo-sockcheck"))
            .env("SOCKCHECK_OUT", self.path("out"))
            .env("SOCKCHECK_ARTIFACT", "sockcheck")
            .env("GITHUB_EVENT_PATH", self.path("event.json"))
            .env("GITHUB_REPOSITORY", "acme/app")
            .env(
                "GITHUB_WORKFLOW_REF",
                "acme/app/.github/workflows/ci.yml@refs/pull/7/merge",
            )
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_OUTPUT", self.path("github-output"))
            .env("GITHUB_STEP_SUMMARY", self.path("step-summary.md"))
            .env_remove("GITHUB_ACTIONS")
            .env_remove("INPUT_ARGS")
            .env_remove("INPUT_BASELINE");
        command
    }

    fn run(&self, name: &str) -> Output {
        let output = self.script(name).output().unwrap();
        assert!(
            output.status.success(),
            "{name} failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            stderr(&output)
        );
        output
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap_or_default()
    }

    /// The step outputs written, as `name=value` lines.
    fn outputs(&self) -> Vec<String> {
        self.read("github-output")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// What would have been posted: `(METHOD PATH, body)` per write.
    fn posted(&self) -> Vec<(String, String)> {
        (0..)
            .map_while(|n| {
                let to = std::fs::read_to_string(self.path(&format!("gh/posted-{n}.to"))).ok()?;
                let body = self.read(&format!("gh/posted-{n}.md"));
                Some((to.trim().to_owned(), body))
            })
            .collect()
    }
}

fn write_report(report: &Report, path: &Path) {
    let mut text = Vec::new();
    json::render(report, &mut text).unwrap();
    std::fs::write(path, text).unwrap();
}

fn listener(port: u16) -> sockcheck::leak::Leak {
    let local = format!("127.0.0.1:{port}");
    leak(LeakKind::Listen, tcp(State::Listen, &local, "0.0.0.0:0"))
}

fn test(name: &str, leaks: Vec<sockcheck::leak::Leak>) -> TestRecord {
    let mut test = TestRecord::new("net", name, Outcome::Passed);
    test.leaks = leaks;
    test
}

/// The base branch leaks in `fixed_here`; the pull request fixes that and
/// adds a leak in `added_here`.
fn base_and_head() -> (Report, Report) {
    let base = Report::new(vec![
        test("fixed_here", vec![listener(9000)]),
        test("added_here", vec![]),
    ]);
    let head = Report::new(vec![
        test("fixed_here", vec![]),
        test("added_here", vec![listener(9001)]),
    ]);
    (base, head)
}

/// `name`, passing, with a warning for binding `127.0.0.1:port` inside
/// the ephemeral range.
fn binding_in_range(name: &str, port: u16) -> TestRecord {
    let mut test = test(name, vec![]);
    test.port_findings = vec![PortFinding::new(PortProblem::FixedPortInEphemeralRange {
        address: format!("127.0.0.1:{port}"),
        range: [32768, 60999],
    })];
    test
}

#[test]
fn port_findings_a_pull_request_adds_and_fixes_are_outputs_too() {
    let base = Report::new(vec![
        binding_in_range("fixed_here", 40000),
        test("added_here", vec![]),
    ]);
    let head = Report::new(vec![
        test("fixed_here", vec![]),
        binding_in_range("added_here", 40001),
    ]);
    let job = Job::new();
    write_report(&head, &job.path("out/report.json"));
    job.base_runs(&[(41, "b45e000000000000")]);
    job.artifact(41, &base);
    job.run("comment.sh");
    let outputs = job.outputs();
    for expected in [
        "new=0",
        "new-port-findings=1",
        "new-port-errors=0",
        "fixed-port-findings=1",
    ] {
        assert!(outputs.contains(&expected.to_owned()), "{outputs:?}");
    }
}

/// A job whose head report is written and whose base branch has `runs`.
fn job_with_reports(runs: &[(u64, &str)]) -> Job {
    let job = Job::new();
    let (base, head) = base_and_head();
    write_report(&head, &job.path("out/report.json"));
    job.base_runs(runs);
    for (id, _) in runs {
        job.artifact(*id, &base);
    }
    job
}

#[test]
fn a_first_push_creates_one_comment_with_the_diff() {
    let job = job_with_reports(&[(41, "b45e000000000000")]);
    job.run("comment.sh");
    let posted = job.posted();
    assert_eq!(posted.len(), 1, "{posted:?}");
    let (to, body) = &posted[0];
    assert_eq!(to, "POST repos/acme/app/issues/7/comments");
    assert!(body.starts_with(&format!(
        "{MARKER}\n### sockcheck: adds 1 socket leak, fixes 1\n"
    )));
    assert!(body.contains("| `net::added_here` | listen | error | LISTEN | `127.0.0.1:9001` |"));
    assert!(body.ends_with(
        "<sub>Compared with the report of run [41](https://github.example/acme/app/actions/runs/41) \
         on `main` (commit b45e00000000).</sub>\n"
    ));
    assert_eq!(
        job.outputs(),
        [
            "base=found",
            "new=1",
            "new-errors=1",
            "fixed=1",
            "new-port-findings=0",
            "new-port-errors=0",
            "fixed-port-findings=0",
            "comment=created"
        ]
    );
    // The job summary gets the diff too, without the marker.
    let summary = job.read("step-summary.md");
    assert!(summary.starts_with("\n### sockcheck: adds 1 socket leak, fixes 1\n"));
    assert!(!summary.contains(MARKER));
    let calls = job.read("gh/calls.log");
    assert!(calls.starts_with(
        "run list -R acme/app --workflow ci.yml --branch main --event push --status completed"
    ));
}

#[test]
fn a_later_push_updates_the_same_comment() {
    let job = job_with_reports(&[(41, "b45e000000000000")]);
    job.comments(&[
        (100, "octocat", "LGTM"),
        (
            101,
            BOT,
            &format!("{MARKER}\n### sockcheck: no new socket leaks\n"),
        ),
        (102, BOT, "<!-- sockcheck-diff:other-matrix-job -->\n..."),
    ]);
    job.run("comment.sh");
    let posted = job.posted();
    let targets: Vec<&str> = posted.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(targets, ["PATCH repos/acme/app/issues/comments/101"]);
    assert!(posted[0].1.contains("adds 1 socket leak, fixes 1"));
    assert!(job.outputs().contains(&"comment=updated".to_owned()));
}

#[test]
fn a_marker_in_someone_elses_comment_is_left_alone() {
    let job = job_with_reports(&[(41, "b45e000000000000")]);
    let squatted = format!("{MARKER}\n### sockcheck: no new socket leaks\n");
    job.comments(&[(100, "mallory", &squatted), (101, BOT, &squatted)]);
    job.run("comment.sh");
    let targets: Vec<String> = job.posted().into_iter().map(|(to, _)| to).collect();
    assert_eq!(targets, ["PATCH repos/acme/app/issues/comments/101"]);

    // Only someone else's: a comment of the action's own is created.
    let job = job_with_reports(&[(41, "b45e000000000000")]);
    job.comments(&[(100, "mallory", &squatted)]);
    job.run("comment.sh");
    let targets: Vec<String> = job.posted().into_iter().map(|(to, _)| to).collect();
    assert_eq!(targets, ["POST repos/acme/app/issues/7/comments"]);

    // A personal token comments as its user, whose comment is the sticky one.
    let job = job_with_reports(&[(41, "b45e000000000000")]);
    std::fs::write(job.path("gh/user"), "ci-bot\n").unwrap();
    job.comments(&[(101, BOT, &squatted), (102, "ci-bot", &squatted)]);
    job.run("comment.sh");
    let targets: Vec<String> = job.posted().into_iter().map(|(to, _)| to).collect();
    assert_eq!(targets, ["PATCH repos/acme/app/issues/comments/102"]);
}

#[test]
fn a_crafted_base_report_cannot_write_markdown_into_the_comment() {
    let job = job_with_reports(&[(41, "b45e000000000000")]);
    // A test whose outcome is no outcome: the diff fails, quoting it.
    let crafted = "[click](https://evil.example) ![x](https://evil.example/i.png) @octocat                    <img src=x> ``` `";
    let base = serde_json::json!({
        "schema": 1,
        "summary": { "tests": 1, "passed": 1, "failed": 0, "leaking_tests": 0, "errors": 0, "warnings": 0 },
        "tests": [{ "binary": "net", "name": "a", "outcome": crafted, "leaks": [] }],
    });
    std::fs::write(job.path("gh/artifacts/41/report.json"), base.to_string()).unwrap();
    job.run("comment.sh");
    let body = &job.posted()[0].1;
    assert!(
        body.contains("The reports could not be compared:"),
        "{body}"
    );
    assert!(
        body.contains(crafted),
        "the error is shown as it is: {body}"
    );
    // Rendered, it is the heading, the sentence, one code block and the
    // footer's link to the run, and it mentions no one.
    let shape = rendered::shape(body);
    let links: Vec<&String> = shape
        .iter()
        .filter(|t| t.starts_with("<a") || t.starts_with("<img"))
        .collect();
    assert_eq!(
        links,
        ["<a href=\"https://github.example/acme/app/actions/runs/41\""],
        "{body}"
    );
    assert_eq!(shape.iter().filter(|t| *t == "<pre").count(), 1, "{body}");
    assert_eq!(rendered::mentions(body), Vec::<String>::new());
}

#[test]
fn the_run_on_the_base_commit_is_preferred_and_a_missing_artifact_skipped() {
    // Newest first: 52 is on a later commit of main, 51 has no artifact, 50
    // is on the pull request's base commit.
    let job = job_with_reports(&[]);
    job.base_runs(&[
        (52, "1a7e500000000000"),
        (51, "b45e000000000000"),
        (50, "b45e000000000000"),
    ]);
    let (base, _) = base_and_head();
    job.artifact(52, &base);
    job.artifact(50, &base);
    job.run("comment.sh");
    let downloads: Vec<String> = job
        .read("gh/calls.log")
        .lines()
        .filter(|l| l.starts_with("run download"))
        .map(|l| l.split(' ').nth(2).unwrap().to_owned())
        .collect();
    assert_eq!(downloads, ["51", "50"]);
    assert!(job.posted()[0].1.contains("run [50]"));

    // Only a later commit's report: used, and the footer says so.
    let job = job_with_reports(&[(52, "1a7e500000000000")]);
    job.run("comment.sh");
    assert!(job.posted()[0]
        .1
        .contains("(commit 1a7e50000000, not the pull request's base commit b45e00000000)"));
}

#[test]
fn without_a_base_report_the_comment_says_so() {
    let job = job_with_reports(&[]);
    job.run("comment.sh");
    let posted = job.posted();
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0].1,
        format!(
            "{MARKER}\n### sockcheck: no base report to compare with\n\n\
             No report of `main` was found: no completed run of this workflow on a push to `main` \
             kept a `sockcheck` artifact (a new workflow, or the artifacts expired). \
             Run it on `main` once to get a diff here.\n\n\
             This pull request: tests 2, leaking tests 1, errors 1, warnings 0; \
             the full report is in the job summary.\n"
        )
    );
    assert_eq!(job.outputs(), ["base=none", "comment=created"]);
}

#[test]
fn from_a_fork_the_diff_goes_to_the_job_summary_only() {
    let job = job_with_reports(&[(41, "b45e000000000000")]);
    job.pull_request("someone/app-fork");
    let output = job.run("comment.sh");
    assert!(job.posted().is_empty());
    let writes = job
        .read("gh/calls.log")
        .lines()
        .filter(|l| l.starts_with("api"))
        .count();
    assert_eq!(writes, 0, "a fork's read-only token is not even tried");
    let summary = job.read("step-summary.md");
    assert!(summary.starts_with(
        "\n> **Note:** sockcheck could not comment: this pull request comes from a fork \
         (someone/app-fork), whose GITHUB_TOKEN is read-only. The diff is here instead.\n\n\
         ### sockcheck: adds 1 socket leak, fixes 1\n"
    ));
    assert!(String::from_utf8_lossy(&output.stdout).contains("::notice title=sockcheck::"));
    assert!(job.outputs().contains(&"comment=summary-only".to_owned()));
}

#[test]
fn a_refused_comment_falls_back_to_the_job_summary() {
    let job = job_with_reports(&[(41, "b45e000000000000")]);
    std::fs::write(job.path("gh/deny-writes"), "").unwrap();
    let output = job.run("comment.sh");
    assert!(job.posted().is_empty());
    assert!(job
        .read("step-summary.md")
        .contains("does the workflow grant `pull-requests: write`?"));
    assert!(String::from_utf8_lossy(&output.stdout).contains("::warning title=sockcheck::"));
    assert!(job.outputs().contains(&"comment=summary-only".to_owned()));
}

#[test]
fn outside_a_pull_request_nothing_is_posted() {
    let job = job_with_reports(&[(41, "b45e000000000000")]);
    std::fs::write(job.path("event.json"), r#"{"ref": "refs/heads/main"}"#).unwrap();
    job.run("comment.sh");
    assert!(job.read("gh/calls.log").is_empty());
    assert!(job.outputs().is_empty());
}

#[test]
fn run_sh_runs_sockcheck_writes_the_reports_and_outputs_the_counts() {
    let job = Job::new();
    let manifest = fixture("leaky");
    let args = format!(
        "--manifest-path '{}' --target-dir '{}' --test net clean_",
        manifest.display(),
        fixture_target_dir().display()
    );
    let output = job
        .script("run.sh")
        .env("INPUT_ARGS", &args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let report = report_file(&job.path("out/report.json"));
    assert!(report.tests.iter().all(|t| t.name.starts_with("clean_")));
    let tests = report.tests.len();
    assert!(tests >= 3, "{tests} tests");
    assert_eq!(
        job.outputs(),
        [
            "exit-status=0".to_owned(),
            format!("tests={tests}"),
            "failed=0".to_owned(),
            "leaking-tests=0".to_owned(),
            "errors=0".to_owned(),
            "warnings=0".to_owned(),
            "port-errors=0".to_owned(),
            "port-warnings=0".to_owned(),
        ]
    );
    for file in ["report.md", "junit.xml", "report.sarif"] {
        assert!(job.path("out").join(file).is_file(), "no {file}");
    }

    // A leaking test: the status is an output, the script still succeeds
    // (the action's last step fails the job after the comment).
    let leaking = format!("{args} leaks_listener_in_thread");
    let job = Job::new();
    let output = job
        .script("run.sh")
        .env("INPUT_ARGS", leaking.replace("clean_", "--exact"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let outputs = job.outputs();
    assert_eq!(outputs[0], "exit-status=1", "{outputs:?}");
    assert!(outputs.contains(&"errors=1".to_owned()), "{outputs:?}");
}

#[test]
fn run_sh_outputs_the_port_findings_by_level() {
    // The ports fixture's test that binds a fixed port inside the
    // ephemeral range: a warning, an error once denied.
    let args = format!(
        "--manifest-path '{}' --target-dir '{}' --test ports --exact binds_fixed_port_in_ephemeral_range",
        fixture("ports").display(),
        fixture_target_dir().display()
    );
    for (extra, status, errors, warnings) in [
        ("", "0", "0", "1"),
        (" --deny fixed-port-in-ephemeral-range", "1", "1", "0"),
    ] {
        let job = Job::new();
        let output = job
            .script("run.sh")
            .env("INPUT_ARGS", format!("{args}{extra}"))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let outputs = job.outputs();
        assert_eq!(outputs[0], format!("exit-status={status}"), "{outputs:?}");
        assert!(
            outputs.contains(&format!("port-errors={errors}")),
            "{extra}: {outputs:?}"
        );
        assert!(
            outputs.contains(&format!("port-warnings={warnings}")),
            "{extra}: {outputs:?}"
        );
    }
}

/// The arguments run.sh gives sockcheck for `args`, from a stand-in
/// binary that prints them one per line; or None when run.sh refused.
fn arguments_for(args: &str) -> (Option<Vec<String>>, Vec<String>) {
    let job = Job::new();
    let stand_in = job.path("bin/print-args");
    std::fs::write(
        &stand_in,
        "#!/usr/bin/env bash\nshift\nprintf '%s\\n' \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &stand_in,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let output = job
        .script("run.sh")
        .env("SOCKCHECK_BIN", &stand_in)
        .env("INPUT_ARGS", args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let out = job.path("out").display().to_string();
    let printed = stdout
        .lines()
        .take_while(|l| !l.starts_with("sockcheck exited") && !l.starts_with("::error"))
        .map(|l| l.replace(&out, "OUT"))
        .collect::<Vec<_>>();
    let refused = stdout.starts_with("::error");
    (if refused { None } else { Some(printed) }, job.outputs())
}

#[test]
fn run_sh_splits_args_as_a_shell_and_keeps_its_flags_before_the_test_args() {
    let (args, _) = arguments_for("--skip \"it's\" 'a b'\n  c\\ d -- --nocapture --test-threads=1");
    let own = [
        "--report",
        "OUT/report.json",
        "--markdown",
        "OUT/report.md",
        "--junit",
        "OUT/junit.xml",
        "--sarif",
        "OUT/report.sarif",
    ];
    let mut expected = vec!["--skip", "it's", "a b", "c d"];
    expected.extend(own);
    expected.extend(["--", "--nocapture", "--test-threads=1"]);
    assert_eq!(args.unwrap(), expected);

    // Nothing is expanded or run.
    let (args, _) = arguments_for("'$(touch /tmp/pwned)' \"$HOME\" `id`");
    let args = args.unwrap();
    assert_eq!(args[..3], ["$(touch /tmp/pwned)", "$HOME", "`id`"]);

    // An unmatched quote fails the step, as a shell would, instead of
    // running with fewer arguments.
    let (args, outputs) = arguments_for("--skip it's");
    assert_eq!(args, None);
    assert_eq!(outputs, ["exit-status=2"]);
}

#[test]
fn the_cache_key_names_version_sources_and_toolchain() {
    let job = Job::new();
    let output = job
        .script("cache-key.sh")
        .arg(repo_root())
        .env("RUNNER_OS", "Linux")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let key = job.read("github-output");
    let version = env!("CARGO_PKG_VERSION");
    let parts: Vec<&str> = key.trim().split('-').collect();
    assert_eq!(parts[..3], ["key=sockcheck", "Linux", version], "{key}");
    assert_eq!(parts[4], "rustc", "{key}");
    assert_eq!((parts[3].len(), parts[5].len()), (16, 16), "{key}");
}

/// Every script action.yml runs exists, and every output it declares is
/// one its step's script writes (`output NAME` or `NAME=` in jq's lines).
#[test]
fn action_yml_runs_these_scripts_and_declares_what_they_write() {
    let action = std::fs::read_to_string(repo_root().join("action.yml")).unwrap();
    let scripts: Vec<&str> = action
        .match_indices("$GITHUB_ACTION_PATH/scripts/action/")
        .map(|(at, prefix)| {
            let rest = &action[at + prefix.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert_eq!(
        scripts,
        [
            "cache-key.sh",
            "install.sh",
            "run.sh",
            "comment.sh",
            "sarif.sh"
        ]
    );
    let step_script = |step: &str| match step {
        "run" => "run.sh",
        "comment" => "comment.sh",
        "sarif" => "sarif.sh",
        other => panic!("outputs of an unexpected step {other}"),
    };
    let mut checked = 0;
    for (at, prefix) in action.match_indices("${{ steps.") {
        let rest = &action[at + prefix.len()..];
        let reference = &rest[..rest.find(" }}").unwrap()];
        let Some((step, name)) = reference.split_once(".outputs.") else {
            panic!("not an output: {reference}")
        };
        if step == "key" || step == "cache" {
            continue; // the cache key and the cache's own hit flag
        }
        let script =
            std::fs::read_to_string(repo_root().join("scripts/action").join(step_script(step)))
                .unwrap();
        assert!(
            script.contains(&format!("output {name} ")) || script.contains(&format!("\"{name}=")),
            "{step}'s script never writes {name}"
        );
        checked += 1;
    }
    assert!(checked >= 10, "{checked} outputs checked");
}

#[test]
fn the_sarif_is_uploaded_from_the_repository_s_own_branches_not_from_forks() {
    // The repository's own pull request, with a SARIF written.
    let job = Job::new();
    std::fs::write(job.path("out/report.sarif"), "{}").unwrap();
    job.run("sarif.sh");
    assert_eq!(job.outputs(), ["upload=true"]);
    assert!(job.read("step-summary.md").is_empty());

    // A fork's read-only token cannot upload: skipped, saying why.
    let job = Job::new();
    std::fs::write(job.path("out/report.sarif"), "{}").unwrap();
    job.pull_request("someone/app-fork");
    let output = job.run("sarif.sh");
    assert_eq!(job.outputs(), ["upload=false"]);
    assert!(String::from_utf8_lossy(&output.stdout)
        .starts_with("::notice title=sockcheck::This pull request comes from a fork"));
    assert!(job.read("step-summary.md").contains(
        "did not upload its SARIF to code scanning: this pull request comes from a fork"
    ));

    // sockcheck could not run: nothing to upload, and a warning.
    let job = Job::new();
    let output = job.run("sarif.sh");
    assert_eq!(job.outputs(), ["upload=false"]);
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("::warning title=sockcheck::No SARIF")
    );
}
