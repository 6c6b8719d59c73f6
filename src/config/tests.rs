//! The configuration's unit tests: reading, layering, and the policy it sets.

use super::*;
use crate::leak::LeakKind;
use crate::leak::Severity;
use crate::ports::PortFindingKind;
use crate::socket::{State, UnixType};
use crate::testing::{listener, unix};
use std::path::PathBuf;

const GOOD: &str = r#"
linger-ms = 250
allow-listen-ports = [8080, 5432]
flaky = "deny"
churn-threshold = 1000

[levels]
close-wait = "warn"
established = "allow"
udp = "deny"
port-churn = "deny"
fixed-port-shared = "allow"

[[allow-tests]]
pattern = "net::shared_*"
reason = "one server for the whole suite"

[[allow-tests]]
pattern = "legacy_*"
reason = "old code, tracked in #12"
"#;

fn invalid(err: ConfigError) -> (String, Option<usize>, Option<String>, String) {
    match err {
        ConfigError::Invalid {
            origin,
            line,
            key,
            message,
        } => (origin, line, key, message),
        other => panic!("expected an invalid-config error, got {other}"),
    }
}

#[test]
fn a_good_file_sets_the_policy() {
    let config = Config::parse_sockcheck_toml(GOOD, "sockcheck.toml").unwrap();
    let policy = config.policy();
    assert_eq!(policy.linger(), Duration::from_millis(250));
    assert_eq!(policy.level(LeakKind::CloseWait), Level::Warn);
    assert_eq!(policy.level(LeakKind::Established), Level::Allow);
    assert_eq!(policy.level(LeakKind::Udp), Level::Deny);
    assert_eq!(policy.level(LeakKind::Listen), Level::Deny);
    assert_eq!(policy.level(PortFindingKind::PortChurn), Level::Deny);
    assert_eq!(policy.level(PortFindingKind::FixedPortShared), Level::Allow);
    assert_eq!(
        policy.level(PortFindingKind::FixedPortInEphemeralRange),
        Level::Warn
    );
    assert_eq!(policy.severity_for(LeakKind::Listen, &listener(8080)), None);
    assert_eq!(
        policy.severity_for(LeakKind::Listen, &listener(8081)),
        Some(Severity::Error)
    );
    assert_eq!(config.flaky(), FlakyLevel::Deny);
    assert_eq!(config.churn_threshold(), Some(1000));
    assert_eq!(Config::default().churn_threshold(), None);
}

#[test]
fn unix_listeners_are_allowed_by_a_glob_on_their_path_or_name() {
    let text = "allow-listen-paths = [\"/run/app.sock\", \"/tmp/*/shared-*.sock\", \"@app\"]\n";
    let policy = Config::parse_sockcheck_toml(text, "sockcheck.toml")
        .unwrap()
        .policy();
    let listen = |address: &str| {
        let socket = unix(UnixType::Stream, State::Listen, address);
        policy.severity_for(LeakKind::Listen, &socket)
    };
    for allowed in ["/run/app.sock", "/tmp/.tmpX1/shared-7.sock", "@app"] {
        assert_eq!(listen(allowed), None, "{allowed}");
    }
    for denied in [
        "/run/app.sock.2",
        "@other",
        "/tmp/x/private.sock",
        "(unnamed)",
    ] {
        assert_eq!(listen(denied), Some(Severity::Error), "{denied}");
    }
    // A path allows a listener only, not a connection at that path.
    let connected = unix(UnixType::Stream, State::CloseWait, "/run/app.sock");
    assert_eq!(
        policy.severity_for(LeakKind::CloseWait, &connected),
        Some(Severity::Error)
    );
    // And a port allows no unix listener.
    assert_eq!(
        Policy::default().severity_for(
            LeakKind::Listen,
            &unix(UnixType::Stream, State::Listen, "/x")
        ),
        Some(Severity::Error)
    );
}

#[test]
fn an_empty_file_is_the_default_policy() {
    let config = Config::parse_sockcheck_toml("", "sockcheck.toml").unwrap();
    assert_eq!(config.policy(), Policy::default());
    assert_eq!(config.flaky(), FlakyLevel::Warn);
    assert_eq!(config.is_test_allowed("net", "anything"), None);
}

#[test]
fn allow_tests_globs_match_the_full_or_the_bare_name() {
    let config = Config::parse_sockcheck_toml(GOOD, "sockcheck.toml").unwrap();
    assert_eq!(
        config.is_test_allowed("net", "shared_server"),
        Some("one server for the whole suite")
    );
    assert_eq!(config.is_test_allowed("db", "shared_server"), None);
    assert_eq!(
        config.is_test_allowed("db", "legacy_pool"),
        Some("old code, tracked in #12")
    );
    assert_eq!(config.is_test_allowed("db", "mod::legacy_pool"), None);
    assert_eq!(config.allow_tests()[0].pattern(), "net::shared_*");
}

#[test]
fn an_unknown_key_names_the_file_line_and_key() {
    let err =
        Config::parse_sockcheck_toml("linger-ms = 5\nlingr = 100\n", "sockcheck.toml").unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("sockcheck.toml:2: "), "{text}");
    assert!(
        text.contains("unknown field `lingr`, expected one of"),
        "{text}"
    );
    assert!(text.contains("`linger-ms`"), "{text}");
    let (origin, line, _, message) = invalid(err);
    assert_eq!((origin.as_str(), line), ("sockcheck.toml", Some(2)));
    assert!(message.starts_with("unknown field `lingr`"), "{message}");
}

#[test]
fn a_bad_value_names_the_key() {
    let cases = [
        (
            "[levels]\nclose-wait = \"denyy\"\n",
            "levels.close-wait",
            "unknown variant `denyy`",
        ),
        (
            "[levels]\nclosewait = \"deny\"\n",
            "levels.closewait",
            "unknown leak kind `closewait`",
        ),
        (
            "allow-listen-ports = [8080, 70000]\n",
            "allow-listen-ports[1]",
            "70000",
        ),
        ("linger-ms = \"soon\"\n", "linger-ms", "invalid type"),
        ("flaky = \"allow\"\n", "flaky", "unknown variant `allow`"),
        (
            "[[allow-tests]]\npattern = \"net::[\"\nreason = \"x\"\n",
            "allow-tests[0].pattern",
            "invalid glob `net::[`",
        ),
        (
            "allow-listen-paths = [\"/run/[\"]\n",
            "allow-listen-paths[0]",
            "invalid glob `/run/[`",
        ),
        (
            "[[allow-tests]]\npattern = \"x\"\n",
            "allow-tests[0]",
            "missing field `reason`",
        ),
    ];
    for (text, key, message) in cases {
        let err = Config::parse_sockcheck_toml(text, "sockcheck.toml").unwrap_err();
        let shown = err.to_string();
        let (origin, _, got_key, got_message) = invalid(err);
        assert_eq!(origin, "sockcheck.toml");
        assert_eq!(got_key.as_deref(), Some(key), "{shown}");
        assert!(got_message.contains(message), "{shown}");
    }
}

#[test]
fn broken_toml_is_an_error_with_a_line() {
    let err =
        Config::parse_sockcheck_toml("linger-ms = 5\n[levels\n", "sockcheck.toml").unwrap_err();
    let (_, line, key, _) = invalid(err);
    assert_eq!((line, key), (Some(2), None));
}

#[test]
fn manifest_tables_are_read_and_the_rest_ignored() {
    let manifest = r#"
[package]
name = "demo"
version = "0.1.0"

[package.metadata.other-tool]
anything = true

[package.metadata.sockcheck]
allow-listen-ports = [9000]

[workspace.metadata.sockcheck.levels]
udp = "allow"
"#;
    let tables = Config::parse_manifest(manifest, "Cargo.toml").unwrap();
    assert_eq!(tables.workspace.policy().level(LeakKind::Udp), Level::Allow);
    assert_eq!(
        tables
            .package
            .policy()
            .severity_for(LeakKind::Listen, &listener(9000)),
        None
    );
    assert_eq!(
        Config::parse_manifest("[package]\nname = \"x\"\n", "Cargo.toml").unwrap(),
        ManifestConfig::default()
    );
}

#[test]
fn an_unknown_key_in_cargo_toml_names_the_whole_key() {
    let manifest = "[package]\nname = \"x\"\n\n[package.metadata.sockcheck]\nlingr = 1\n";
    let err = Config::parse_manifest(manifest, "crates/net/Cargo.toml").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("crates/net/Cargo.toml:5: package.metadata.sockcheck"),
        "{text}"
    );
    assert!(text.contains("unknown field `lingr`"), "{text}");
}

#[test]
fn higher_sources_override_scalars_and_levels_and_add_lists() {
    let workspace = Config::parse_sockcheck_toml(
        "linger-ms = 10\nallow-listen-ports = [1]\n[levels]\nudp = \"deny\"\nlisten = \"warn\"\n\
         [[allow-tests]]\npattern = \"a\"\nreason = \"workspace\"\n",
        "ws",
    )
    .unwrap();
    let package = Config::parse_sockcheck_toml(
        "allow-listen-ports = [2]\n[levels]\nudp = \"allow\"\n\
         [[allow-tests]]\npattern = \"a\"\nreason = \"package\"\n",
        "pkg",
    )
    .unwrap();
    let config = workspace.layer(package);
    let policy = config.policy();
    assert_eq!(policy.linger(), Duration::from_millis(10));
    assert_eq!(policy.level(LeakKind::Udp), Level::Allow);
    assert_eq!(policy.level(LeakKind::Listen), Level::Warn);
    assert_eq!(policy.severity_for(LeakKind::Listen, &listener(1)), None);
    assert_eq!(policy.severity_for(LeakKind::Listen, &listener(2)), None);
    assert_eq!(config.is_test_allowed("b", "a"), Some("package"));
    assert_eq!(config.allow_tests().len(), 2);
}

fn mockito_stack() -> crate::site::Origin {
    crate::site::Origin {
        syscall: "socket".to_owned(),
        stack: vec![crate::site::Frame::function(
            "mockito::server::Server::bind_server::{{closure}}",
        )],
        ..Default::default()
    }
}

fn support_stack() -> crate::site::Origin {
    crate::site::Origin {
        syscall: "socket".to_owned(),
        stack: vec![crate::site::Frame::function("it::support::serve")
            .at("tests/support/mod.rs", 3, None)
            .in_project()],
        ..Default::default()
    }
}

/// The reason the policy of `config` gives for a socket created at `origin`.
fn reason(config: &Config, origin: &crate::site::Origin) -> Option<String> {
    config
        .policy()
        .allowed_by(Some(origin))
        .map(|rule| rule.reason().to_owned())
}

#[test]
fn allow_sockets_rules_and_the_known_pools_switch_set_the_policy() {
    let config = Config::parse_sockcheck_toml(
        "[[allow-sockets]]\nfile = \"tests/support/*.rs\"\nreason = \"shared server\"\n\
         [[allow-sockets]]\ncrate = \"mockito\"\nreason = \"ours first\"\n",
        "sockcheck.toml",
    )
    .unwrap();
    assert_eq!(
        reason(&config, &support_stack()).as_deref(),
        Some("shared server")
    );
    assert_eq!(
        reason(&config, &mockito_stack()).as_deref(),
        Some("ours first")
    );
    assert_eq!(config.policy().configured_socket_rules().len(), 2);

    let default = Config::parse_sockcheck_toml("", "sockcheck.toml").unwrap();
    assert_eq!(
        reason(&default, &mockito_stack()).as_deref(),
        Some("mockito's mock servers serve until the process exits")
    );
    let off = Config::parse_sockcheck_toml("known-pools = false\n", "sockcheck.toml").unwrap();
    assert_eq!(reason(&off, &mockito_stack()), None);
    let on_again = off.layer(Config::parse_sockcheck_toml("known-pools = true", "p").unwrap());
    assert!(reason(&on_again, &mockito_stack()).is_some());
}

#[test]
fn shared_sockets_are_judged_when_the_levels_say_so() {
    let default = Config::parse_sockcheck_toml("", "sockcheck.toml").unwrap();
    assert_eq!(default.policy().shared_level(), Level::Allow);
    let denied =
        Config::parse_sockcheck_toml("[levels]\nshared = \"deny\"\n", "sockcheck.toml").unwrap();
    assert_eq!(denied.policy().shared_level(), Level::Deny);
}

#[test]
fn a_bad_allow_sockets_rule_names_its_key() {
    let cases = [
        (
            "[[allow-sockets]]\nfunction = \"a::*\"\ncrate = \"a\"\nreason = \"x\"\n",
            "give exactly one of `function`, `crate` or `file`",
        ),
        (
            "[[allow-sockets]]\nreason = \"x\"\n",
            "give exactly one of `function`, `crate` or `file`",
        ),
        (
            "[[allow-sockets]]\nfile = \"tests/[\"\nreason = \"x\"\n",
            "invalid glob `tests/[`",
        ),
        (
            "[[allow-sockets]]\ncrate = \"a::b\"\nreason = \"x\"\n",
            "is not a crate name",
        ),
        (
            "[[allow-sockets]]\ncrate = \"a\"\n",
            "missing field `reason`",
        ),
    ];
    for (text, message) in cases {
        let err = Config::parse_sockcheck_toml(text, "sockcheck.toml").unwrap_err();
        let shown = err.to_string();
        let (_, line, key, got) = invalid(err);
        assert_eq!(key.as_deref(), Some("allow-sockets[0]"), "{shown}");
        assert_eq!(line, Some(1), "{shown}");
        assert!(got.contains(message), "{shown}");
    }
    let text = "[[allow-sockets]]\ncrate = \"a\"\nreason = \"x\"\nkind = \"listen\"\n";
    let (_, line, key, message) =
        invalid(Config::parse_sockcheck_toml(text, "sockcheck.toml").unwrap_err());
    assert_eq!(
        (line, key.as_deref()),
        (Some(4), Some("allow-sockets[0].kind"))
    );
    assert!(message.starts_with("unknown field `kind`"), "{message}");
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sockcheck-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn includes_are_read_relative_to_their_file_and_lie_beneath_it() {
    let root = scratch("include");
    let shared = root.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(
        shared.join("org.toml"),
        "include = [\"base.toml\"]\nlinger-ms = 20\n\
         [[allow-sockets]]\nfile = \"tests/support/*\"\nreason = \"org list\"\n",
    )
    .unwrap();
    std::fs::write(
        shared.join("base.toml"),
        "linger-ms = 10\nflaky = \"deny\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\n[workspace.metadata.sockcheck]\ninclude = [\"shared/org.toml\"]\n",
    )
    .unwrap();
    std::fs::write(root.join("sockcheck.toml"), "linger-ms = 30\n").unwrap();

    let config = Config::load(&root, None).unwrap();
    assert_eq!(config.policy().linger(), Duration::from_millis(30));
    assert_eq!(config.flaky(), FlakyLevel::Deny);
    assert_eq!(
        reason(&config, &support_stack()).as_deref(),
        Some("org list")
    );
    assert!(config.includes().is_empty());

    // The including file's own keys win over what it includes.
    std::fs::remove_file(root.join("sockcheck.toml")).unwrap();
    assert_eq!(
        Config::load(&root, None).unwrap().policy().linger(),
        Duration::from_millis(20)
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_missing_or_circular_include_names_the_including_file_and_key() {
    let root = scratch("include-bad");
    std::fs::write(root.join("Cargo.toml"), "[workspace]\n").unwrap();
    std::fs::write(root.join("sockcheck.toml"), "include = [\"gone.toml\"]\n").unwrap();
    let (origin, _, key, message) = invalid(Config::load(&root, None).unwrap_err());
    assert_eq!(origin, root.join("sockcheck.toml").display().to_string());
    assert_eq!(key.as_deref(), Some("include[0]"));
    assert!(
        message.starts_with(&format!(
            "cannot read {}: ",
            root.join("gone.toml").display()
        )),
        "{message}"
    );

    std::fs::write(root.join("sockcheck.toml"), "include = [\"a.toml\"]\n").unwrap();
    std::fs::write(root.join("a.toml"), "include = [\"sockcheck.toml\"]\n").unwrap();
    let (origin, _, key, message) = invalid(Config::load(&root, None).unwrap_err());
    assert_eq!(origin, root.join("a.toml").display().to_string());
    assert_eq!(key.as_deref(), Some("include[0]"));
    assert!(message.contains("includes itself (through "), "{message}");

    std::fs::write(root.join("a.toml"), "lingr = 1\n").unwrap();
    let (origin, line, key, _) = invalid(Config::load(&root, None).unwrap_err());
    assert_eq!(origin, root.join("a.toml").display().to_string());
    assert_eq!((line, key.as_deref()), (Some(1), Some("lingr")));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn includes_form_a_dag_each_file_read_once() {
    // 40 files, each including the next twice and a shared leaf: as a
    // tree that is 2^40 reads; as a DAG, 41.
    let root = scratch("include-dag");
    std::fs::write(root.join("Cargo.toml"), "[workspace]\n").unwrap();
    std::fs::write(
        root.join("leaf.toml"),
        "allow-tests = [{ pattern = \"leaf\", reason = \"r\" }]\n",
    )
    .unwrap();
    let name = |n: usize| {
        if n == 0 {
            "sockcheck.toml".to_owned()
        } else {
            format!("{n}.toml")
        }
    };
    for n in 0..40 {
        let next = name(n + 1);
        std::fs::write(
            root.join(name(n)),
            format!(
                "include = [\"{next}\", \"{next}\", \"leaf.toml\"]\n\
                 allow-tests = [{{ pattern = \"t{n}\", reason = \"r\" }}]\n"
            ),
        )
        .unwrap();
    }
    std::fs::write(root.join(name(40)), "include = [\"leaf.toml\"]\n").unwrap();
    let config = Config::load(&root, None).unwrap();
    let mut names: Vec<String> = config
        .allow_tests()
        .iter()
        .map(|t| t.pattern().to_owned())
        .collect();
    assert_eq!(names.len(), 41, "each file once: {names:?}");
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 41);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn an_include_that_is_not_a_regular_file_is_refused_in_one_line() {
    let root = scratch("include-fifo");
    std::fs::write(root.join("Cargo.toml"), "[workspace]\n").unwrap();
    std::fs::write(root.join("sockcheck.toml"), "include = [\"/dev/zero\"]\n").unwrap();
    let (_, _, key, message) = invalid(Config::load(&root, None).unwrap_err());
    assert_eq!(key.as_deref(), Some("include[0]"));
    assert_eq!(
        message,
        "cannot read /dev/zero: not a regular file (a FIFO, a device or a directory): \
         give the path of a file"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_package_finds_its_workspace_root_above_it() {
    let root = scratch("package-root");
    let member = root.join("crates").join("net");
    std::fs::create_dir_all(&member).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"crates/net\"]\n",
    )
    .unwrap();
    std::fs::write(root.join("sockcheck.toml"), "linger-ms = 7\n").unwrap();
    std::fs::write(
        member.join("Cargo.toml"),
        "[package]\nname = \"net\"\n[package.metadata.sockcheck]\nallow-listen-ports = [9]\n",
    )
    .unwrap();
    let config = Config::load_for_package(&member).unwrap();
    let policy = config.policy();
    assert_eq!(policy.linger(), Duration::from_millis(7));
    assert_eq!(policy.severity_for(LeakKind::Listen, &listener(9)), None);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn load_layers_the_files_of_a_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let member = root.join("net");
    std::fs::create_dir_all(&member).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\n[workspace.metadata.sockcheck]\nlinger-ms = 1\nflaky = \"deny\"\n",
    )
    .unwrap();
    std::fs::write(root.join("sockcheck.toml"), "linger-ms = 2\n").unwrap();
    std::fs::write(
        member.join("Cargo.toml"),
        "[package]\nname = \"net\"\n[package.metadata.sockcheck]\nlinger-ms = 3\n",
    )
    .unwrap();

    let workspace = Config::load(root, None).unwrap();
    assert_eq!(workspace.policy().linger(), Duration::from_millis(2));
    assert_eq!(workspace.flaky(), FlakyLevel::Deny);
    let package = Config::load(root, Some(&member.join("Cargo.toml"))).unwrap();
    assert_eq!(package.policy().linger(), Duration::from_millis(3));

    std::fs::write(root.join("sockcheck.toml"), "lingr = 2\n").unwrap();
    let err = Config::load(root, None).unwrap_err().to_string();
    assert!(err.contains("sockcheck.toml:1: "), "{err}");
}
