//! End to end: spawn stacks. The built `cargo sockcheck` on the spawned
//! fixture, whose tests leave servers running on threads they started and
//! never joined: a helper that binds on the test thread and serves on a
//! thread, a helper that binds on the thread it spawns, and a listener made
//! by a thread spawned by a thread. Each socket's `opened.spawned_by` must
//! lead from the thread that made it up to the test's own frame, and each
//! holder must say where it was spawned; lines are marked `// spawn: NAME`
//! in the fixture's source.

mod common;

use common::*;
use sockcheck::leak::Leak;
use sockcheck::report::Report;
use sockcheck::site::Frame;

/// The line of the fixture's `file` marked `// spawn: marker` (exactly one).
fn marked(file: &str, marker: &str) -> (String, u32) {
    let line = marked_line("spawned", file, &format!("// spawn: {marker}"));
    (file.to_owned(), line)
}

/// `file:line` of a frame.
fn at(frame: Option<&Frame>) -> (String, u32) {
    let frame = frame.expect("a frame in the project");
    (
        frame.file.clone().unwrap_or_default(),
        frame.line.unwrap_or(0),
    )
}

/// The one leak of test `name`.
fn only_leak<'a>(report: &'a Report, name: &str) -> &'a Leak {
    let leaks = &record(report, "spawned", name).leaks;
    assert_eq!(leaks.len(), 1, "{name}: {leaks:#?}");
    &leaks[0]
}

fn run(args: &[&str]) -> (std::process::Output, Report) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let output = on_fixture("spawned", &all);
    let report = json_report(&output);
    (output, report)
}

#[test]
fn a_socket_made_on_a_spawned_thread_leads_through_its_spawns_to_the_test() {
    let (_, report) = run(&[]);
    let summary = &report.summary;
    assert_eq!(
        (summary.leaking_tests, summary.errors),
        (3, 3),
        "{report:#?}"
    );
    assert!(record(&report, "spawned", "joins_its_thread")
        .leaks
        .is_empty());

    // One spawn: the helper's thread, spawned from the helper, called by the test.
    let opened = only_leak(&report, "helper_binds_on_a_thread_never_joined")
        .opened
        .as_ref()
        .expect("an origin");
    let file = "tests/support/mod.rs";
    assert_eq!(at(opened.site.as_ref()), marked(file, "bound-in-thread"));
    assert_eq!(opened.spawned_by.len(), 1, "{opened:#?}");
    let spawn = &opened.spawned_by[0];
    assert!(spawn.syscall.starts_with("clone"), "{spawn:#?}");
    assert_eq!(
        at(spawn.site.as_ref()),
        marked(file, "helper-spawns-binder")
    );
    let test_frame = marked("tests/spawned.rs", "test-calls-binder");
    assert!(
        opened
            .chain()
            .any(|frame| at(Some(frame)) == test_frame && frame.in_project),
        "the chain reaches the test's own line: {opened:#?}"
    );

    // Two spawns: the inner thread, then the outer one the test spawned.
    let opened = only_leak(&report, "listener_made_by_a_thread_spawned_by_a_thread")
        .opened
        .as_ref()
        .expect("an origin");
    assert_eq!(at(opened.site.as_ref()), marked(file, "bound-in-thread"));
    let sites: Vec<(String, u32)> = opened
        .spawned_by
        .iter()
        .map(|spawn| at(spawn.site.as_ref()))
        .collect();
    assert_eq!(
        sites,
        [
            marked("tests/spawned.rs", "inner-thread"),
            marked("tests/spawned.rs", "test-spawns"),
        ]
    );
    let test_function = "spawned::listener_made_by_a_thread_spawned_by_a_thread";
    // The last spawn's stack reaches the test function itself.
    let last = opened.spawned_by.last().expect("two spawns");
    assert!(
        last.stack
            .iter()
            .any(|frame| frame.function.as_deref() == Some(test_function)),
        "{opened:#?}"
    );

    // Bound on the test's own thread: no spawn to tell.
    let opened = only_leak(&report, "helper_serves_on_a_thread_never_joined")
        .opened
        .as_ref()
        .expect("an origin");
    assert_eq!(at(opened.site.as_ref()), marked(file, "bound-by-helper"));
    assert!(opened.spawned_by.is_empty(), "{opened:#?}");
}

#[test]
fn a_holder_says_where_it_was_spawned_and_an_inherited_name_is_not_the_test_s() {
    let (_, report) = run(&[]);
    let held = |name: &str| {
        let leak = only_leak(&report, name);
        assert_eq!(leak.held_by.len(), 1, "{leak:#?}");
        leak.held_by[0].clone()
    };
    let file = "tests/support/mod.rs";
    let unnamed = held("helper_serves_on_a_thread_never_joined");
    assert!(unnamed.unnamed, "it kept the test's name: {unnamed:#?}");
    assert!(unnamed.syscall.starts_with("accept"), "{unnamed:#?}");
    assert_eq!(at(unnamed.spawn_site()), marked(file, "helper-spawns"));
    let text = unnamed.to_string();
    let (_, line) = marked(file, "helper-spawns");
    assert!(
        text.starts_with("unnamed thread (tid ")
            && text.contains(&format!(" spawned at {file}:{line}:")),
        "{text}"
    );

    let binder = held("helper_binds_on_a_thread_never_joined");
    assert!(binder.unnamed);
    assert_eq!(
        at(binder.spawn_site()),
        marked(file, "helper-spawns-binder")
    );

    // A thread that named itself keeps its name.
    let inner = held("listener_made_by_a_thread_spawned_by_a_thread");
    assert!(!inner.unnamed, "{inner:#?}");
    assert_eq!(inner.name, "inner");
    assert_eq!(
        at(inner.spawn_site()),
        marked("tests/spawned.rs", "inner-thread")
    );
    assert_eq!(inner.spawned_by.len(), 2, "{inner:#?}");
}

/// Ports, pids and tids in a rendering, replaced by placeholders.
fn redacted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let markers = ["127.0.0.1:", "(pid ", "(tid "];
    while let Some((at, marker)) = markers
        .iter()
        .filter_map(|marker| Some((rest.find(marker)?, marker)))
        .min()
    {
        let after = at + marker.len();
        out.push_str(&rest[..after]);
        let digits = rest[after..].bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(if digits > 0 { "N" } else { "" });
        rest = &rest[after + digits..];
    }
    out.push_str(rest);
    without_times(&out)
}

#[test]
fn text_and_markdown_show_the_holder_s_spawn_site() {
    let output = on_fixture("spawned", &["--color", "never"]);
    let text = String::from_utf8(output.stdout).unwrap();
    let (file, line) = marked("tests/support/mod.rs", "helper-spawns");
    assert!(text.contains("unnamed thread (tid "), "{text}");
    assert!(
        text.contains(&format!("spawned at {file}:{line}:")),
        "{text}"
    );
    insta::assert_snapshot!("text", redacted(&text));

    let markdown = on_fixture("spawned", &["--format", "markdown"]);
    let markdown = String::from_utf8(markdown.stdout).unwrap();
    assert!(
        markdown.contains(&format!(
            "held by `unnamed thread spawned at {file}:{line}:"
        )),
        "{markdown}"
    );
    insta::assert_snapshot!("markdown", redacted(&markdown));
}
