//! Choosing tests by the names sockcheck prints: `binary::name` works as a
//! filter, with `--exact` and `--skip` too (as `allow-tests` patterns
//! match), and a filter that selects nothing is told the nearest names.
//! On the leaky fixture, whose integration tests are in the binary `net`.

mod common;

use cargo_sockcheck::ExitStatus;
use common::*;

/// The tests of the JSON report on stdout, as `binary::name`.
fn ran(args: &[&str]) -> Vec<String> {
    let output = on_fixture("leaky", &[args, &["--format", "json"]].concat());
    json_report(&output)
        .tests
        .iter()
        .map(|test| test.full_name())
        .collect()
}

#[test]
fn the_names_sockcheck_prints_select_tests_with_and_without_exact() {
    assert_eq!(
        ran(&["net::leaks_close_wait"]),
        ["net::leaks_close_wait_ipv4", "net::leaks_close_wait_ipv6"]
    );
    assert_eq!(
        ran(&["--exact", "net::leaks_close_wait_ipv4", "leaks_udp"]),
        ["net::leaks_close_wait_ipv4", "net::leaks_udp"]
    );
    assert_eq!(
        ran(&[
            "net::leaks_close_wait",
            "--skip",
            "net::leaks_close_wait_ipv6"
        ]),
        ["net::leaks_close_wait_ipv4"]
    );
    // The binary's name alone selects its tests; another binary's does not.
    assert_eq!(
        ran(&["leaky::", "--exact", "leaky::tests::unit_clean"]).len(),
        1
    );
}

#[test]
fn a_mistyped_name_is_told_the_nearest_names() {
    let typo = on_fixture("leaky", &["net::leaks_clse_wait"]);
    assert_eq!(status(&typo), ExitStatus::NoTests.code());
    let stderr_text = stderr(&typo);
    assert!(
        stderr_text.ends_with(
            "error: no tests to run: no test of 13 tests (in 3 binaries) matches the filter \
             `net::leaks_clse_wait`; --no-tests=warn or =pass lets an empty run pass\n\
             hint: did you mean `net::leaks_close_wait_ipv4`, `net::leaks_close_wait_ipv6` \
             or `net::ignored_leaks_close_wait`?\n"
        ),
        "{stderr_text}"
    );
    let exact = on_fixture("leaky", &["--exact", "leaks_udp_"]);
    assert_eq!(status(&exact), ExitStatus::NoTests.code());
    assert!(
        stderr(&exact).ends_with("hint: did you mean `net::leaks_udp`?\n"),
        "{}",
        stderr(&exact)
    );
}

/// `error:` is coloured as cargo colours it, when colour is asked for.
#[test]
fn the_error_of_an_empty_run_is_coloured_under_color_always() {
    let typo = on_fixture("leaky", &["--color", "always", "net::leaks_clse_wait"]);
    assert_eq!(status(&typo), ExitStatus::NoTests.code());
    let red = anstyle::AnsiColor::Red.on_default().bold();
    assert!(
        stderr(&typo).contains(&format!("{red}error:{red:#} no tests to run")),
        "{:?}",
        stderr(&typo)
    );
    let plain = on_fixture("leaky", &["--color", "never", "net::leaks_clse_wait"]);
    assert!(stderr(&plain).contains("\nerror: no tests to run"));
}
