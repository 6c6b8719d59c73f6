//! `docs/report.schema.json` against the code that writes reports: a report
//! using every field conforms, renaming any field of it breaks the schema,
//! and the schema's names for kinds, outcomes, states and the layout
//! version are the code's. (Real reports are checked where the end-to-end
//! tests read them: `tests/harness.rs`, `cargo-sockcheck/tests/`.)

mod schema;

use serde_json::Value;
use sockcheck::allow;
use sockcheck::leak::{LeakKind, Severity, Stability};
use sockcheck::ports::{
    PortFinding, PortFindingKind, PortHolder, PortProblem, PortUsage, SocketSort, TestName,
    TimeWaitMaker,
};
use sockcheck::report::{self, Outcome, Report, TestRecord};
use sockcheck::site::{Frame, HoldingThread, Origin, Spawn};
use sockcheck::socket::{Family, Protocol, State, UnixType};
use sockcheck::testing::{leak, tcp, udp, unix};

/// A report in which every optional field is present at least once.
fn report_with_every_field() -> Report {
    let mut listener = leak(LeakKind::Listen, tcp(State::Listen, "[::1]:8080", "[::]:0"));
    let mut origin = Origin::default();
    origin.syscall = "socket".into();
    let site = Frame::function("net::leaks_listener")
        .at("tests/net.rs", 31, Some(13))
        .in_project();
    origin.stack = vec![
        Frame::function("std::net::tcp::TcpListener::bind"),
        site.clone(),
    ];
    origin.site = Some(site.clone());
    origin.note = Some("the unwinder stopped at a frame without unwind info".into());
    let spawn = Spawn::new(
        "clone3",
        vec![
            Frame::function("std::thread::spawn"),
            Frame::function("net::start_server")
                .at("tests/support/mod.rs", 20, Some(5))
                .in_project(),
        ],
    );
    origin.spawned_by = vec![spawn.clone()];
    listener.opened = Some(origin);
    let mut holder = HoldingThread::new(9471, "leaks_listener", "accept4").spawned_by(vec![spawn]);
    holder.unnamed = true;
    listener.held_by = vec![holder];
    listener.stability = Some(Stability::of(3, 3));

    let mut flaky = leak(
        LeakKind::CloseWait,
        tcp(State::CloseWait, "127.0.0.1:40211", "127.0.0.1:35719"),
    );
    flaky.severity = Severity::Warning;
    flaky.stability = Some(Stability::of(1, 3));

    let unix_listener = leak(
        LeakKind::Listen,
        unix(UnixType::Stream, State::Listen, "/tmp/\\x01app.sock"),
    );

    let mut leaking = TestRecord::new("net", "leaks_listener", Outcome::Failed);
    leaking.leaks = vec![
        listener,
        flaky,
        leak(LeakKind::Udp, udp("127.0.0.1:5353")),
        unix_listener,
    ];
    leaking.detail = Some("exit status: 101".into());
    leaking.duration_ms = Some(112);
    leaking.linger_ms = Some(100);
    leaking.output = Some("thread 'leaks_listener' panicked\n".into());
    leaking.ports = Some(port_usage());
    leaking.port_findings = port_findings(&site);

    // A listener of a pooled mock server, allowed by a built-in rule.
    let mut pooled = leak(
        LeakKind::Listen,
        tcp(State::Listen, "127.0.0.1:40001", "0.0.0.0:0"),
    );
    let mut pool_origin = Origin::default();
    pool_origin.syscall = "socket".into();
    pool_origin.stack = vec![Frame::function(
        "mockito::server::Server::bind_server::{{closure}}",
    )];
    pooled.opened = Some(pool_origin);
    // And one a static's initializer made: shared by design.
    let mut shared = leak(
        LeakKind::Listen,
        tcp(State::Listen, "127.0.0.1:40002", "0.0.0.0:0"),
    );
    shared.opened = Some(Origin::new(
        "socket",
        vec![
            Frame::function("net::SERVER::{{closure}}").at("tests/net.rs", 3, Some(5)),
            Frame::function("std::sync::lazy_lock::LazyLock<T,F>::force"),
        ],
    ));
    let mut on_the_pool = TestRecord::new("net", "uses_the_pool", Outcome::Passed);
    on_the_pool.leaks = vec![pooled, shared];
    let rules = allow::known_pools().iter().chain([allow::shared_statics()]);
    on_the_pool.allowed = allow::set_aside(&mut on_the_pool.leaks, rules);
    assert_eq!(on_the_pool.allowed.len(), 2);

    let mut report = Report::new(vec![
        leaking,
        on_the_pool,
        TestRecord::new("net", "clean", Outcome::Passed),
        TestRecord::new("net", "slow", Outcome::Ignored),
    ]);
    report.interrupted = true;
    report.duration_ms = Some(2_345);
    let test_file = allow::AllowSocket::file("tests/net.rs", "the suite's server").unwrap();
    let gone = allow::AllowSocket::function("net::gone::*", "an old helper").unwrap();
    let rules = [&test_file, &gone]
        .into_iter()
        .chain(allow::known_pools())
        .chain([allow::shared_statics()]);
    let allowed = report.tests.iter().flat_map(|t| &t.allowed);
    report.rules = allow::rule_uses(rules, allowed, true);
    // A rule of each shape: stale, used, and one that matches tests' frames.
    report.rules[0].test_frame_hits = 1;
    assert!(report.rules[1].stale && report.rules[2].hits == 1);
    report
}

/// Port usage with every field set.
fn port_usage() -> PortUsage {
    let mut usage = PortUsage::default();
    usage.created.insert(SocketSort::Tcp, 5_001);
    usage.created.insert(SocketSort::UnixStream, 2);
    usage.connects = 5_000;
    usage.active_closes = 5_000;
    usage.peak_open_sockets = 3;
    usage
}

/// A port finding of every kind, and every kind of holder.
fn port_findings(site: &Frame) -> Vec<PortFinding> {
    let bind = Origin::new("bind", vec![site.clone()]);
    let mut in_use: Vec<PortFinding> = [
        PortHolder::Test {
            test: TestName::new("ports", "winner"),
            opened: Some(Origin::new("socket", vec![site.clone()])),
        },
        PortHolder::SameTest { opened: None },
        PortHolder::Process {
            pid: 4242,
            command: "python3 -m http.server 8080".into(),
        },
        PortHolder::TimeWait { entries: 3 },
        PortHolder::StaleSocketFile {
            left_by: Some(TestName::new("ports", "leaves")),
        },
        PortHolder::NotASocket,
        PortHolder::Unknown,
    ]
    .into_iter()
    .map(|held_by| {
        PortFinding::new(PortProblem::AddressInUse {
            address: "127.0.0.1:8080".into(),
            held_by,
        })
        .at(bind.clone())
    })
    .collect();
    let mut shared = PortFinding::new(PortProblem::FixedPortShared {
        address: "127.0.0.1:8080".into(),
        with: vec![TestName::new("ports", "winner")],
    });
    shared.severity = Some(Severity::Error);
    in_use.extend([
        PortFinding::new(PortProblem::AddressNotAvailable {
            address: "127.0.0.1:80".into(),
            time_wait: 28_000,
            made_by: vec![TimeWaitMaker::new(TestName::new("ports", "churn"), 27_990)],
        }),
        PortFinding::new(PortProblem::FixedPortInEphemeralRange {
            address: "0.0.0.0:40000".into(),
            range: [32768, 60999],
        })
        .at(bind),
        shared,
        PortFinding::new(PortProblem::PortChurn {
            active_closes: 5_000,
            threshold: 2_351,
        }),
    ]);
    in_use
}

fn to_json(report: &Report) -> Value {
    let mut out = Vec::new();
    report::json::render(report, &mut out).expect("rendering to memory cannot fail");
    serde_json::from_slice(&out).expect("the JSON report is JSON")
}

fn schema() -> Value {
    serde_json::from_str(schema::SCHEMA).expect("docs/report.schema.json is JSON")
}

#[test]
fn a_report_using_every_field_conforms_and_reads_back() {
    let report = report_with_every_field();
    let text = serde_json::to_string(&to_json(&report)).unwrap();
    assert_eq!(schema::parse_checked(&text), report);
}

#[test]
fn a_minimal_report_conforms() {
    let json = to_json(&Report::new(Vec::new()));
    assert_eq!(schema::violations(&json), Vec::<String>::new());
}

/// Every key of every object in `value`, with the JSON pointer of its object.
fn keys(value: &Value, pointer: String, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                found.push((pointer.clone(), key.clone()));
                keys(child, format!("{pointer}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                keys(child, format!("{pointer}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn renaming_any_field_breaks_the_schema() {
    let json = to_json(&report_with_every_field());
    let mut found = Vec::new();
    keys(&json, String::new(), &mut found);
    assert!(found.len() > 60, "the report has only {} keys", found.len());
    for (pointer, key) in found {
        let mut renamed = json.clone();
        let object = renamed
            .pointer_mut(&pointer)
            .and_then(Value::as_object_mut)
            .expect("the pointer names an object");
        let value = object.remove(&key).expect("the key is there");
        object.insert(format!("{key}_renamed"), value);
        assert!(
            !schema::violations(&renamed).is_empty(),
            "renaming `{pointer}/{key}` still conforms"
        );
    }
}

/// Every property name the schema declares, at any depth.
fn declared(schema: &Value, found: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                found.extend(properties.keys().cloned());
            }
            map.values().for_each(|child| declared(child, found));
        }
        Value::Array(items) => items.iter().for_each(|child| declared(child, found)),
        _ => {}
    }
}

#[test]
fn the_schema_declares_no_field_the_code_does_not_write() {
    // Keeps the schema free of stale fields, and this file's report whole:
    // a field added to the schema needs its place in the report above.
    let json = to_json(&report_with_every_field());
    let mut written = Vec::new();
    keys(&json, String::new(), &mut written);
    let mut names = Vec::new();
    declared(&schema(), &mut names);
    for name in names {
        assert!(
            written.iter().any(|(_, key)| *key == name),
            "the schema declares `{name}`, which the report with every field lacks"
        );
    }
}

#[test]
fn a_wrong_type_or_an_unknown_name_breaks_the_schema() {
    let json = to_json(&report_with_every_field());
    for (pointer, bad) in [
        ("/tests/0/leaks/0/kind", Value::from("closewait")),
        ("/tests/0/leaks/0/state", Value::from("CLOSEWAIT")),
        ("/tests/0/leaks/0/inode", Value::from("1")),
        ("/tests/0/outcome", Value::from("timedout")),
        ("/tests/0/duration_ms", Value::from(-1)),
        ("/summary/errors", Value::Null),
        ("/schema", Value::from(2)),
    ] {
        let mut broken = json.clone();
        *broken.pointer_mut(pointer).expect("the field is there") = bad;
        assert!(
            !schema::violations(&broken).is_empty(),
            "`{pointer}` = {} still conforms",
            broken.pointer(pointer).unwrap()
        );
    }
}

/// How `values` are written in JSON.
fn names<T: serde::Serialize>(values: &[T]) -> Vec<String> {
    values
        .iter()
        .map(|value| match serde_json::to_value(value) {
            Ok(Value::String(name)) => name,
            other => panic!("not a name: {other:?}"),
        })
        .collect()
}

/// The names an `enum` at `pointer` in the schema allows.
fn allowed(pointer: &str) -> Vec<String> {
    schema()
        .pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("the schema has an enum at {pointer}"))
        .iter()
        .map(|name| name.as_str().expect("enum names are strings").to_owned())
        .collect()
}

#[test]
fn the_schemas_names_are_the_codes() {
    let kinds: Vec<String> = LeakKind::ALL.iter().map(|k| k.name().to_owned()).collect();
    assert_eq!(allowed("/$defs/leak/properties/kind/enum"), kinds);

    let outcomes = [
        Outcome::Passed,
        Outcome::Failed,
        Outcome::TimedOut,
        Outcome::Crashed,
        Outcome::Ignored,
    ];
    let outcomes: Vec<String> = outcomes.iter().map(|o| o.name().to_owned()).collect();
    assert_eq!(allowed("/$defs/test/properties/outcome/enum"), outcomes);

    // The schema names every state there is, each as the code names it.
    let states = allowed("/$defs/leak/properties/state/enum");
    for name in &states {
        let state: State = serde_json::from_value(Value::from(name.as_str()))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(state.name(), name);
    }
    let tcp_states = (0..=u8::MAX).filter_map(State::from_linux_tcp);
    for state in tcp_states.chain([State::Unconn]) {
        assert!(states.contains(&state.name().to_owned()), "{state}");
    }
    assert_eq!(
        allowed("/$defs/leak/properties/protocol/enum"),
        names(&[Protocol::Tcp, Protocol::Udp, Protocol::Unix])
    );
    assert_eq!(
        allowed("/$defs/leak/properties/family/enum"),
        names(&[Family::Ipv4, Family::Ipv6, Family::Unix])
    );
    assert_eq!(
        allowed("/$defs/leak/properties/socket_type/enum"),
        names(&[UnixType::Stream, UnixType::Dgram, UnixType::Seqpacket])
    );
    let port_kinds: Vec<String> = PortFindingKind::ALL
        .iter()
        .map(|k| k.name().to_owned())
        .collect();
    assert_eq!(
        allowed("/$defs/port_finding/properties/kind/enum"),
        port_kinds
    );
    assert_eq!(
        allowed("/$defs/port_usage/properties/created/propertyNames/enum"),
        names(&SocketSort::ALL)
    );
    let version = schema()
        .pointer("/properties/schema/const")
        .and_then(Value::as_u64);
    assert_eq!(version, Some(u64::from(report::SCHEMA)));
}
