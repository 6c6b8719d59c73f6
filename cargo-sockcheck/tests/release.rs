//! The release's scripts, run as the release workflow and the GitHub
//! Action run them: `scripts/release/package.sh` makes the archive of the
//! built binary, a small HTTP file server on loopback stands in for the
//! release host, and `scripts/action/install.sh` downloads from it, or
//! falls back to building (a stub `cargo` on PATH records the build).
//! `check-version.sh` guards the tag.

#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A stand-in for `cargo install`: records its arguments and installs a
/// script that says it was built from source.
const STUB_CARGO: &str = r#"#!/usr/bin/env bash
echo "$*" >>"$STUB_LOG"
while (($#)); do [[ $1 == --root ]] && root=$2; shift; done
mkdir -p "$root/bin" && printf '#!/bin/sh\necho built from source\n' >"$root/bin/cargo-sockcheck"
chmod +x "$root/bin/cargo-sockcheck"
"#;

/// The musl target the installer picks on this machine.
fn target() -> String {
    format!("{}-unknown-linux-musl", std::env::consts::ARCH)
}

fn archive_name() -> String {
    format!("cargo-sockcheck-v{VERSION}-{}", target())
}

/// Serves the files under `root` over HTTP/1.1 on 127.0.0.1 (404 for
/// anything else) until the test process ends; returns its base URL.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            answer(&root, stream);
        }
    });
    format!("http://{address}")
}

fn answer(root: &Path, mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    // The headers: read to the blank line, not used.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request.split(' ').nth(1).unwrap_or("/");
    let file = root.join(path.trim_start_matches('/'));
    let body = (!path.contains(".."))
        .then(|| std::fs::read(&file).ok())
        .flatten();
    let (status, body) = match body {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", b"not found\n".to_vec()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

/// A release host and the action's job around `install.sh`.
struct Release {
    dir: tempfile::TempDir,
}

impl Release {
    fn new() -> Release {
        let release = Release {
            dir: tempfile::tempdir().unwrap(),
        };
        for sub in ["host", "bin", "root"] {
            std::fs::create_dir_all(release.path(sub)).unwrap();
        }
        let cargo = release.path("bin/cargo");
        std::fs::write(&cargo, STUB_CARGO).unwrap();
        make_executable(&cargo);
        release
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Publishes a release on the host, as the release workflow does,
    /// packaged from the checkout `source`. Its binary is a small script
    /// that says it is the release's (the real one is 100 MB in debug).
    fn publish_from(&self, source: &Path) {
        let binary = self.path("release-binary");
        std::fs::write(
            &binary,
            format!("#!/bin/sh\necho 'cargo-sockcheck {VERSION} (release)'\n"),
        )
        .unwrap();
        let out = self.path(&format!("host/v{VERSION}"));
        let output = Command::new("bash")
            .arg(source.join("scripts/release/package.sh"))
            .args([VERSION, &target()])
            .arg(&binary)
            .arg(&out)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }

    fn archive(&self) -> PathBuf {
        self.path(&format!("host/v{VERSION}/{}.tar.gz", archive_name()))
    }

    /// Runs the action's installer for the checkout `action`, downloading
    /// from this host.
    fn install(&self, action: &Path) -> Output {
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("bash")
            .arg(action.join("scripts/action/install.sh"))
            .arg(action)
            .arg(self.path("root"))
            .env("PATH", path)
            .env("SOCKCHECK_RELEASES", serve(self.path("host")))
            .env("STUB_LOG", self.path("cargo.log"))
            .env("no_proxy", "127.0.0.1")
            .env("NO_PROXY", "127.0.0.1")
            .output()
            .unwrap()
    }

    fn cargo_calls(&self) -> String {
        std::fs::read_to_string(self.path("cargo.log")).unwrap_or_default()
    }

    /// What the installed `cargo-sockcheck` prints.
    fn installed_says(&self) -> String {
        let output = Command::new(self.path("root/bin/cargo-sockcheck"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A copy of the files the source digest covers, plus the scripts: a fork
/// of the same version whose sources differ from the release's.
fn fork_with_a_changed_source(into: &Path) -> PathBuf {
    let fork = into.join("fork");
    std::fs::create_dir_all(fork.join("cargo-sockcheck")).unwrap();
    for (from, to) in [
        ("Cargo.toml", ""),
        ("Cargo.lock", ""),
        ("src", ""),
        ("scripts", ""),
        ("cargo-sockcheck/Cargo.toml", "cargo-sockcheck"),
        ("cargo-sockcheck/src", "cargo-sockcheck"),
    ] {
        let status = Command::new("cp")
            .arg("-r")
            .arg(repo_root().join(from))
            .arg(fork.join(to))
            .status()
            .unwrap();
        assert!(status.success());
    }
    std::fs::write(fork.join("src/fork.rs"), "// a change of the fork\n").unwrap();
    fork
}

#[test]
fn the_release_binary_of_the_same_sources_is_downloaded_checked_and_installed() {
    let release = Release::new();
    release.publish_from(&repo_root());
    let output = release.install(&repo_root());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(&format!(
            "sockcheck: installed the release binary of cargo-sockcheck {VERSION} ({})",
            target()
        )),
        "{}",
        stdout(&output)
    );
    assert_eq!(release.cargo_calls(), "", "nothing is built");
    assert_eq!(
        release.installed_says(),
        format!("cargo-sockcheck {VERSION} (release)")
    );
}

#[test]
fn without_a_release_of_its_version_the_action_builds_from_source() {
    let release = Release::new();
    let output = release.install(&repo_root());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("sockcheck: no release binary at http://127.0.0.1:"),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains(&format!(
        "/v{VERSION}/{}.tar.gz; building cargo-sockcheck {VERSION} from source",
        archive_name()
    )));
    let root = repo_root();
    assert_eq!(
        release.cargo_calls(),
        format!(
            "install --locked --path {}/cargo-sockcheck --root {}\n",
            root.display(),
            release.path("root").display()
        )
    );
    assert_eq!(release.installed_says(), "built from source");
}

#[test]
fn a_release_built_from_other_sources_is_not_taken_for_this_checkout() {
    let release = Release::new();
    release.publish_from(&repo_root());
    let fork = fork_with_a_changed_source(release.dir.path());
    let output = release.install(&fork);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(&format!(
            "sockcheck: the release binary of v{VERSION} was built from other sources \
             than this action's; building cargo-sockcheck {VERSION} from source"
        )),
        "{}",
        stdout(&output)
    );
    assert!(release
        .cargo_calls()
        .starts_with("install --locked --path "));
    assert_eq!(release.installed_says(), "built from source");
}

#[test]
fn an_archive_that_does_not_match_its_checksum_installs_nothing() {
    let release = Release::new();
    release.publish_from(&repo_root());
    let mut bytes = std::fs::read(release.archive()).unwrap();
    bytes.push(0);
    std::fs::write(release.archive(), bytes).unwrap();
    let output = release.install(&repo_root());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("::error title=sockcheck::")
            && stdout(&output).contains("does not match its checksum"),
        "{}",
        stdout(&output)
    );
    assert_eq!(release.cargo_calls(), "");
    assert!(!release.path("root/bin/cargo-sockcheck").exists());
}

/// The archive holds the binary where `[package.metadata.binstall]` says,
/// under the name its `pkg-url` gives.
#[test]
fn the_archive_is_where_cargo_binstall_looks_for_it() {
    let release = Release::new();
    release.publish_from(&repo_root());
    let manifest = std::fs::read_to_string(repo_root().join("cargo-sockcheck/Cargo.toml")).unwrap();
    let template = |key: &str| -> String {
        let line = manifest
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in [package.metadata.binstall]"));
        line.split('"')
            .nth(1)
            .unwrap()
            .replace("{ repo }", "https://github.com/sockcheck/sockcheck")
            .replace("{ name }", "cargo-sockcheck")
            .replace("{ version }", VERSION)
            .replace("{ target }", &target())
            .replace("{ bin }", "cargo-sockcheck")
            .replace("{ binary-ext }", "")
    };
    assert_eq!(
        template("pkg-url"),
        format!(
            "https://github.com/sockcheck/sockcheck/releases/download/v{VERSION}/{}.tar.gz",
            archive_name()
        )
    );
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(release.archive())
        .output()
        .unwrap();
    let files = stdout(&listing);
    assert!(files.lines().any(|f| f == template("bin-dir")), "{files}");
    for file in [
        "README.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "SOURCE-DIGEST",
    ] {
        assert!(
            files
                .lines()
                .any(|f| f == format!("{}/{file}", archive_name())),
            "{file} missing: {files}"
        );
    }
    // The checksum file names the archive, as `sha256sum -c` reads it.
    let checksum =
        std::fs::read_to_string(format!("{}.sha256", release.archive().display())).unwrap();
    assert!(
        checksum.ends_with(&format!("  {}.tar.gz\n", archive_name())),
        "{checksum}"
    );
}

#[test]
fn the_tag_must_name_both_crates_version() {
    let script = repo_root().join("scripts/release/check-version.sh");
    let ok = Command::new("bash")
        .arg(&script)
        .arg(format!("v{VERSION}"))
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", stderr(&ok));
    let wrong = Command::new("bash")
        .arg(&script)
        .arg("v99.0.0")
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    assert_eq!(
        stderr(&wrong),
        format!(
            "check-version: tag v99.0.0 does not name the library's version {VERSION} (Cargo.toml)\n"
        )
    );
}

/// The static binary the release workflow builds
/// (`x86_64-unknown-linux-musl`) finds what the workspace's build finds on
/// the leaky fixture: the same verdicts, the same sites and the same
/// holders. `SOCKCHECK_STATIC_BINARY` names it; `.ci/run` builds it when
/// the target installs.
#[test]
#[ignore = "needs SOCKCHECK_STATIC_BINARY, a cargo-sockcheck built for x86_64-unknown-linux-musl \
            (.ci/run builds it and runs this test)"]
fn the_static_binary_finds_what_the_workspace_build_finds() {
    let binary = std::env::var_os("SOCKCHECK_STATIC_BINARY")
        .expect("SOCKCHECK_STATIC_BINARY names the static cargo-sockcheck");
    let data = std::fs::read(&binary).expect("read the static binary");
    let elf = object::File::parse(&*data).expect("the static binary is an ELF file");
    assert_eq!(
        object::Object::imports(&elf)
            .expect("read its imports")
            .len(),
        0,
        "a static binary imports no symbol from a shared library"
    );

    let args = ["--format", "json"];
    let workspace = on_fixture("leaky", &args);
    let mut static_run = Command::new(&binary);
    let target = fixture_target_dir();
    static_run
        .arg("sockcheck")
        .args(["--manifest-path", fixture("leaky").to_str().unwrap()])
        .args(["--target-dir", target.to_str().unwrap()])
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    let static_output = static_run.output().expect("run the static binary");
    assert_eq!(status(&static_output), status(&workspace));
    let (ours, theirs) = (json_report(&workspace), json_report(&static_output));
    assert_eq!(
        verdicts(&theirs),
        verdicts(&ours),
        "{}",
        stderr(&static_output)
    );
    assert!(!verdicts(&ours).iter().all(|(_, _, kinds)| kinds.is_empty()));
    assert_eq!(sites_and_holders(&theirs), sites_and_holders(&ours));
}

/// Each leak's test, kind, site (`file:line`) and holding threads' spawn
/// sites, sorted: what the static binary must find as the other does.
fn sites_and_holders(report: &sockcheck::report::Report) -> Vec<String> {
    let mut rows: Vec<String> = report
        .tests
        .iter()
        .flat_map(|test| test.leaks.iter().map(move |leak| (test, leak)))
        .map(|(test, leak)| {
            let site = place(leak.site());
            let holders: Vec<String> = leak
                .held_by
                .iter()
                .map(|thread| place(thread.spawned_by.first().and_then(|s| s.site.as_ref())))
                .collect();
            format!("{} {} {site} {holders:?}", test.full_name(), leak.kind)
        })
        .collect();
    rows.sort();
    rows
}

/// `file:line` of `frame`, or `?` when there is none.
fn place(frame: Option<&sockcheck::site::Frame>) -> String {
    frame.map_or("?".to_owned(), |f| {
        format!(
            "{}:{}",
            f.file.as_deref().unwrap_or("?"),
            f.line.unwrap_or(0)
        )
    })
}
