//! The allow rules' unit tests: matching, the built-in rules, what was
//! allowed and what the user is told.

use super::known::initializes_once;
use super::uses::module_glob;
use super::*;
use crate::leak::{Leak, LeakKind};
use crate::site::Spawn;

const REGISTRY: &str = "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";

fn origin(frames: Vec<Frame>) -> Origin {
    Origin {
        syscall: "socket".to_owned(),
        stack: frames,
        ..Origin::default()
    }
}

/// A stack like mockito's listener: created on the server's own thread.
fn mockito_listener() -> Origin {
    origin(vec![
        Frame::function("__libc_socket"),
        Frame::function("std::sys::net::connection::socket::Socket::new"),
        Frame::function("tokio::net::tcp::listener::TcpListener::bind::{{closure}}"),
        Frame::function("mockito::server::Server::bind_server::{{closure}}").at(
            format!("{REGISTRY}/mockito-1.7.2/src/server.rs"),
            359,
            Some(24),
        ),
        Frame::function("std::thread::Builder::spawn_unchecked_::{{closure}}"),
    ])
}

/// A stack like a test that binds its own listener.
fn test_listener() -> Origin {
    origin(vec![
        Frame::function("__libc_socket"),
        Frame::function("std::net::tcp::TcpListener::bind"),
        Frame::function("net::leaks_listener")
            .at("tests/net.rs", 12, Some(9))
            .in_project(),
        Frame::function("core::ops::function::FnOnce::call_once"),
    ])
}

fn leak(opened: Option<Origin>) -> Leak {
    let mut leak = crate::testing::leak(LeakKind::Listen, crate::testing::listener(4000));
    leak.opened = opened;
    leak
}

#[test]
fn a_function_glob_matches_any_frame_closures_included() {
    let rule = AllowSocket::function("mockito::server::*", "pool").unwrap();
    assert!(rule.matches(&mockito_listener()));
    assert!(!rule.matches(&test_listener()));
    let exact = AllowSocket::function("mockito::server::Server::bind_server", "x").unwrap();
    assert!(exact.matches(&mockito_listener()), "closures are cut off");
    let v0 = origin(vec![Frame::function(
        "mockito::server::Server::bind_server::{closure#0}::{closure#1}",
    )]);
    assert!(exact.matches(&v0), "v0 closures too");
    let inner = AllowSocket::function("std::net::tcp::TcpListener::bind", "x").unwrap();
    assert!(
        inner.matches(&test_listener()),
        "not only the outermost frame"
    );
}

#[test]
fn a_trait_impl_matches_by_its_self_type_path() {
    let stack = origin(vec![Frame::function(
        "<wiremock::mock_server::pool::MockServerPoolManager as \
         deadpool::managed::Manager>::create::{{closure}}",
    )]);
    let rule = AllowSocket::function("wiremock::mock_server::pool::*", "pool").unwrap();
    assert!(rule.matches(&stack));
    assert_eq!(stack.stack[0].crate_name().as_deref(), Some("wiremock"));
}

#[test]
fn a_crate_is_found_from_the_function_path_or_the_registry_file() {
    let from_function = Frame::function("tokio_util::codec::Framed::new");
    assert_eq!(from_function.crate_name().as_deref(), Some("tokio_util"));
    let from_file = Frame::default().at(
        format!("{REGISTRY}/tokio-util-0.7.20/src/codec/framed.rs"),
        1,
        None,
    );
    assert_eq!(from_file.crate_name().as_deref(), Some("tokio-util"));
    let digits = Frame::default().at(format!("{REGISTRY}/h2-0.4.20/src/lib.rs"), 1, None);
    assert_eq!(digits.crate_name().as_deref(), Some("h2"));
    let prerelease =
        Frame::default().at(format!("{REGISTRY}/foo-bar-1.0.0-rc.1/src/a.rs"), 1, None);
    assert_eq!(prerelease.crate_name().as_deref(), Some("foo-bar"));
    assert_eq!(Frame::function("__libc_socket").crate_name(), None);
    assert_eq!(
        Frame::default().at("tests/net.rs", 1, None).crate_name(),
        None
    );

    let rule = AllowSocket::in_crate("tokio-util", "codec").unwrap();
    assert!(rule.matches(&origin(vec![from_file])));
    assert!(rule.matches(&origin(vec![from_function])));
    let mockito = AllowSocket::in_crate("mockito", "pool").unwrap();
    assert!(mockito.matches(&mockito_listener()));
    assert!(!mockito.matches(&test_listener()));
}

#[test]
fn a_file_glob_matches_project_paths_as_the_report_shows_them() {
    let rule = AllowSocket::file("tests/*.rs", "shared server").unwrap();
    assert!(rule.matches(&test_listener()));
    assert!(!rule.matches(&mockito_listener()));
    let support = AllowSocket::file("tests/support/mod.rs", "x").unwrap();
    assert!(!support.matches(&test_listener()));
}

#[test]
fn without_debug_info_function_and_crate_rules_still_match() {
    let stripped = origin(vec![
        Frame::function("__libc_socket"),
        Frame::function("mockito::server::Server::bind_server::{{closure}}"),
    ]);
    assert!(AllowSocket::function("mockito::server::*", "x")
        .unwrap()
        .matches(&stripped));
    assert!(AllowSocket::in_crate("mockito", "x")
        .unwrap()
        .matches(&stripped));
    assert!(!AllowSocket::file("*", "x").unwrap().matches(&stripped));
}

#[test]
fn set_aside_moves_allowed_leaks_and_keeps_the_rest_in_order() {
    let mut leaks = vec![
        leak(Some(mockito_listener())),
        leak(Some(test_listener())),
        leak(None),
    ];
    let allowed = set_aside(&mut leaks, known_pools());
    assert_eq!(leaks.len(), 2);
    assert_eq!(leaks[0].opened, Some(test_listener()));
    assert_eq!(leaks[1].opened, None);
    assert_eq!(allowed.len(), 1);
    let pooled = &allowed[0];
    assert_eq!(pooled.kind, LeakKind::Listen);
    assert_eq!(
        pooled.rule,
        "function mockito::server::Server::bind_server*"
    );
    assert_eq!(
        pooled.reason,
        "mockito's mock servers serve until the process exits"
    );
    assert!(pooled.built_in);
    assert_eq!(
        pooled.to_string(),
        "allowed listen: tcp 127.0.0.1:4000 LISTEN \
         (mockito's mock servers serve until the process exits)"
    );
}

#[test]
fn httpmock_s_pooled_servers_are_known_and_a_server_of_its_own_is_not() {
    // The frames of httpmock 0.9's own suite (scripts/real-world.sh):
    // its pool's server thread, and a test's `HttpMockServer` started
    // by hand.
    let serving = |frames: &[&str]| {
        origin(
            frames
                .iter()
                .map(|&f| Frame::function(f))
                .chain([Frame::function(
                    "std::sys::thread::unix::Thread::new::thread_start",
                )])
                .collect(),
        )
    };
    let pooled_listener = serving(&[
        "tokio::net::tcp::listener::TcpListener::bind::{{closure}}",
        "httpmock::server::transport::HttpMockServer::start_with_signals::{{closure}}",
        "httpmock::common::runtime::block_on_current_thread",
        "httpmock::api::server::LOCAL_SERVER_ADAPTER_GENERATOR::{{closure}}::{{closure}}",
    ]);
    let accepted = serving(&[
        "tokio::net::tcp::listener::TcpListener::accept::{{closure}}",
        "httpmock::server::transport::HttpMockServer::run_accept_loop::{{closure}}",
        "httpmock::server::transport::HttpMockServer::start_with_signals::{{closure}}",
        "httpmock::api::server::LOCAL_SERVER_ADAPTER_GENERATOR::{{closure}}::{{closure}}",
    ]);
    let by_hand = serving(&[
        "httpmock::server::transport::HttpMockServer::start_with_signals::{{closure}}",
        "httpmock::server::transport::HttpMockServer::start::{{closure}}",
        "lib::with_standalone_server::{{closure}}",
    ]);
    let rule = |origin: &Origin| first_match(known_pools(), Some(origin)).map(|r| r.reason());
    let reason = Some("httpmock's pool of mock servers serves until the process exits");
    assert_eq!(rule(&pooled_listener), reason);
    assert_eq!(rule(&accepted), reason);
    assert_eq!(rule(&by_hand), None);
}

#[test]
fn the_first_matching_rule_gives_the_reason() {
    let rules = [
        AllowSocket::in_crate("mockito", "first").unwrap(),
        AllowSocket::function("mockito::*", "second").unwrap(),
    ];
    let rule = first_match(&rules, Some(&mockito_listener())).unwrap();
    assert_eq!(rule.reason(), "first");
    assert_eq!(first_match(&rules, None), None);
}

#[test]
fn command_line_rules_parse_and_bad_ones_say_what_to_write() {
    let rule = AllowSocket::parse_flag("crate=wiremock").unwrap();
    assert_eq!(rule.to_string(), "crate wiremock");
    assert_eq!(rule.reason(), "--allow-from on the command line");
    assert_eq!(
        AllowSocket::parse_flag("file=tests/support/mod.rs")
            .unwrap()
            .to_string(),
        "file tests/support/mod.rs"
    );
    let cases = [
        (
            "wiremock",
            "`wiremock` is not a rule: write function=GLOB, crate=NAME or file=GLOB",
        ),
        (
            "crate=a::b",
            "`a::b` is not a crate name (write `function = \"a::b\"` for a path)",
        ),
        ("function=", "an empty pattern would match nothing"),
    ];
    for (text, message) in cases {
        assert_eq!(
            AllowSocket::parse_flag(text).unwrap_err().to_string(),
            message
        );
    }
    assert!(AllowSocket::parse_flag("file=a[")
        .unwrap_err()
        .to_string()
        .starts_with("invalid glob `a[`"));
}

#[test]
fn leaks_made_inside_a_dependency_get_a_rule_to_paste() {
    let grow = |function: &str| {
        leak(Some(Origin::new(
            "socket",
            vec![
                Frame::function("__libc_socket"),
                Frame::function("std::net::tcp::TcpListener::bind"),
                Frame::function(function).at(
                    format!("{REGISTRY}/minipool-0.3.1/src/pool.rs"),
                    9,
                    None,
                ),
            ],
        )))
    };
    let leaks = [
        grow("minipool::pool::Pool::grow::{{closure}}"),
        grow("minipool::pool::Pool::grow"),
        leak(Some(mockito_listener())),
        leak(Some(Origin::new("socket", test_listener().stack))),
        leak(None),
    ];
    let rules = proposed_rules(&leaks);
    assert_eq!(rules.len(), 2, "{rules:#?}");
    let pool = &rules[0];
    assert_eq!(
        pool.to_string(),
        "2 leaks were opened by crate minipool 0.3.1, outside the project's code"
    );
    assert_eq!(
        pool.toml_lines(),
        [
            "[[allow-sockets]]",
            "function = \"minipool::pool::*\"",
            "reason = \"minipool keeps these sockets open on purpose\""
        ]
    );
    assert_eq!(pool.flag(), "--allow-from function=minipool::pool::*");
    // The rule proposed matches the leaks it is proposed for.
    let rule = AllowSocket::parse_flag(pool.flag().trim_start_matches("--allow-from ")).unwrap();
    assert!(leaks[..2]
        .iter()
        .all(|l| rule.matches(l.opened.as_ref().unwrap())));
    assert_eq!(rules[1].value, "mockito::server::*");

    // Two modules of one crate: the crate.
    let mixed = [grow("minipool::pool::grow"), grow("minipool::net::bind")];
    let rules = proposed_rules(&mixed);
    assert_eq!(
        (rules[0].key, rules[0].value.as_str()),
        ("crate", "minipool")
    );
    assert_eq!(module_glob("minipool::grow"), None, "the crate's root");
    assert_eq!(
        module_glob("a::b\"::c::f"),
        None,
        "nothing to break out of a string"
    );
}

/// A stack through `static SERVER: LazyLock<…>`'s initializer, as a
/// debug build unwinds it.
fn lazy_lock_server() -> Origin {
    Origin::new(
        "socket",
        vec![
            Frame::function("__libc_socket"),
            Frame::function("std::net::tcp::TcpListener::bind"),
            Frame::function("echo::SERVER::{{closure}}")
                .at("tests/echo.rs", 13, Some(20))
                .in_project(),
            Frame::function("core::ops::function::FnOnce::call_once"),
            Frame::function("std::sync::lazy_lock::LazyLock<T,F>::force::{{closure}}"),
            Frame::function("std::sync::poison::once::Once::call_once::{{closure}}"),
            Frame::function("std::sys::sync::once::futex::Once::call"),
            Frame::function("std::sync::lazy_lock::LazyLock<T,F>::force"),
            Frame::function("echo::uses_server")
                .at("tests/echo.rs", 30, Some(10))
                .in_project(),
        ],
    )
}

#[test]
fn a_socket_made_by_a_static_s_initializer_is_shared_and_says_where() {
    let origin = lazy_lock_server();
    assert_eq!(shared_initializer(&origin), Some(&origin.stack[2]));
    let rule = shared_statics();
    assert!(rule.matches(&origin) && rule.is_shared() && rule.is_built_in());
    assert_eq!(rule.to_string(), "shared static");
    assert_eq!(
        rule.reason_for(Some(&origin)),
        "made once per process by the static initialized at tests/echo.rs:13:20 (SERVER)"
    );
    for machinery in [
        "<std::sync::once_lock::OnceLock<T>>::get_or_init",
        "once_cell::imp::OnceCell<T>::initialize",
        "lazy_static::lazy::Lazy<T>::get",
        "std::sys::thread_local::native::lazy::Storage<T,D>::initialize",
        "std::sync::once::Once::call_once",
    ] {
        assert!(initializes_once(machinery), "{machinery}");
    }
    assert!(!initializes_once("tokio::runtime::Builder::build"));
    assert!(
        !rule.matches(&test_listener()),
        "a plain test socket is not shared"
    );

    // A static's initializer that binds on a thread it spawns: found
    // through the spawn.
    let stack = origin.stack[..2]
        .iter()
        .cloned()
        .chain([Frame::function("echo::SERVER::{{closure}}::{{closure}}")
            .at("tests/echo.rs", 15, None)
            .in_project()])
        .collect();
    let spawned = Origin::new("socket", stack).spawned_by(vec![Spawn::new(
        "clone3",
        [Frame::function("std::thread::spawn")]
            .into_iter()
            .chain(origin.stack[2..].iter().cloned())
            .collect(),
    )]);
    assert_eq!(
        shared_initializer(&spawned).and_then(|f| f.line),
        Some(13),
        "{spawned:#?}"
    );
    // But not through a worker that runs tasks: its sockets are the
    // tasks' own, whoever spawned the runtime.
    let mut worker = spawned.clone();
    worker.stack.push(Frame::function(
        "tokio::runtime::task::harness::Harness<T,S>::poll",
    ));
    assert_eq!(shared_initializer(&worker), None);
}

#[test]
fn a_dependency_s_static_is_named_from_its_package_not_the_registry() {
    let mut origin = lazy_lock_server();
    origin.stack[2] = Frame::function("minipool::POOL::{{closure}}").at(
        format!("{REGISTRY}/minipool-0.3.1/src/lib.rs"),
        12,
        Some(9),
    );
    assert_eq!(
        shared_statics().reason_for(Some(&origin)),
        "made once per process by the static initialized at minipool-0.3.1/src/lib.rs:12:9 (POOL)"
    );
}

#[test]
fn rule_uses_count_hits_and_name_stale_rules_and_rules_on_test_frames() {
    let test_file = AllowSocket::file("tests/*.rs", "shared server").unwrap();
    let gone = AllowSocket::function("net::gone::*", "old helper").unwrap();
    let mut leaks = vec![
        leak(Some(Origin::new("socket", test_listener().stack))),
        leak(Some(mockito_listener())),
    ];
    let rules = [&test_file, &gone].into_iter().chain(known_pools());
    let allowed = set_aside(&mut leaks, rules.clone());
    assert_eq!(allowed.len(), 2);

    let uses = rule_uses(rules.clone(), &allowed, true);
    let by_rule = |written: &str| uses.iter().find(|u| u.rule == written).unwrap();
    let file = by_rule("file tests/*.rs");
    assert_eq!((file.hits, file.test_frame_hits, file.stale), (1, 1, false));
    assert_eq!(
        file.warning().as_deref(),
        Some(
            "`file tests/*.rs` allowed 1 socket at the tests' own frames: it allows \
             everything those tests open; name the helper, the static or the crate that \
             keeps the socket instead"
        )
    );
    let stale = by_rule("function net::gone::*");
    assert!(stale.stale && stale.hits == 0);
    assert_eq!(
        stale.warning().as_deref(),
        Some(
            "`function net::gone::*` (old helper) matched no socket in a run of every \
             test: remove it, or fix its pattern"
        )
    );
    let mockito = by_rule("function mockito::server::Server::bind_server*");
    assert_eq!(
        (mockito.hits, mockito.stale, mockito.warning()),
        (1, false, None)
    );
    let httptest = by_rule("function httptest::server_pool::*");
    assert!(!httptest.stale, "a built-in rule is never stale");
    // Not every test ran: nothing is stale.
    assert!(rule_uses(rules, &allowed, false).iter().all(|u| !u.stale));
}

#[test]
fn a_rule_a_crate_declares_matches_only_its_own_frames() {
    let own = AllowSocket::function("mockito::*", "pool")
        .unwrap()
        .declared_by("mockito");
    assert!(own.matches(&mockito_listener()));
    assert_eq!(
        own.to_string(),
        "function mockito::* (declared by crate mockito)"
    );
    // A dependency that tries to allow another crate's sockets, or
    // everything, matches nothing outside itself.
    let greedy = AllowSocket::in_crate("net", "all of them")
        .unwrap()
        .declared_by("mockito");
    assert!(!greedy.matches(&test_listener()));
    let everything = AllowSocket::function("*", "all")
        .unwrap()
        .declared_by("minipool");
    assert!(!everything.matches(&mockito_listener()));
    assert!(!everything.matches(&test_listener()));
}

#[test]
fn the_note_says_when_rules_could_not_be_tried() {
    let function_only = origin(vec![Frame::function("net::leaks")]);
    let no_names = origin(vec![Frame::default()]);
    let leaks = [
        leak(None),
        leak(Some(no_names)),
        leak(Some(function_only)),
        leak(Some(test_listener())),
    ];
    let function = AllowSocket::function("a::*", "x").unwrap();
    let file = AllowSocket::file("tests/*", "x").unwrap();
    assert_eq!(unmatched_note(&leaks, &[]), None);
    assert_eq!(
        unmatched_note(&leaks, &[&function]).as_deref(),
        Some("2 leaks without a creation stack could not be matched by any allow-sockets rule")
    );
    assert_eq!(
        unmatched_note(&leaks[2..], &[&function, &file]).as_deref(),
        Some(
            "1 leak with a stack of function names only (no debug info) could not be \
             matched by the 1 `file` rule; `function` and `crate` rules still apply"
        )
    );
    assert_eq!(unmatched_note(&leaks[3..], &[&function, &file]), None);
}
