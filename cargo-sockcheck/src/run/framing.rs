//! libtest's framing around one test's output, and taking it off.
//!
//! A test run alone (`--exact NAME --nocapture --test-threads=1`) prints
//! its output between libtest's own lines:
//!
//! ```text
//!
//! running 1 test
//! test NAME ... <the test's output>ok
//!
//! test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 10 filtered out; finished in 0.06s
//!
//! ```
//!
//! and, when it failed, `FAILED` then `failures:` naming it before the
//! result line. Reports show the test's output without that frame. Output
//! that does not start with the frame is left as it is, and a test that
//! died before libtest's closing lines keeps everything after the header.

/// `output` of the single test `name` without libtest's framing.
pub fn strip(output: &str, name: &str) -> String {
    let Some(body) = after_header(output, name) else {
        return output.to_owned();
    };
    // A panic message starts on a line of its own, after an empty one.
    let body = before_footer(body, name).trim_start_matches(['\n', '\r']);
    let body = body.trim_end();
    if body.trim().is_empty() {
        String::new()
    } else {
        format!("{body}\n")
    }
}

/// What follows `running 1 test` and `test NAME ... `, if the output starts so.
fn after_header<'a>(output: &'a str, name: &str) -> Option<&'a str> {
    let rest = output.trim_start_matches(['\n', '\r']);
    let rest = rest.strip_prefix("running 1 test\n")?;
    rest.strip_prefix(&format!("test {name} ... "))
}

/// `body` without the result line, the failure list and the status word
/// that close it; unchanged when libtest never got to its result line.
fn before_footer<'a>(body: &'a str, name: &str) -> &'a str {
    let Some(result) = body.rfind("\ntest result: ") else {
        return body;
    };
    let mut body = body[..result].trim_end_matches('\n');
    if let Some(rest) = body.strip_suffix(&format!("failures:\n\nfailures:\n    {name}")) {
        body = rest.trim_end_matches('\n');
    }
    for status in ["ok", "FAILED", "ignored"] {
        if let Some(rest) = body.strip_suffix(status) {
            return rest;
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn a_passing_test_s_frame_goes_and_its_output_stays() {
        let output = "\nrunning 1 test\ntest net::leaks ... server: accepted\nserver: bye\nok\n\n\
                      test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 10 filtered out; \
                      finished in 0.06s\n\n";
        assert_eq!(
            strip(output, "net::leaks"),
            "server: accepted\nserver: bye\n"
        );
    }

    #[test]
    fn a_silent_test_leaves_nothing() {
        let output = "\nrunning 1 test\ntest quiet ... ok\n\ntest result: ok. 1 passed; 0 failed; \
                      0 ignored; 0 measured; 3 filtered out; finished in 0.00s\n\n";
        assert_eq!(strip(output, "quiet"), "");
    }

    #[test]
    fn a_failing_test_keeps_its_panic_and_loses_the_failure_list() {
        let output =
            "\nrunning 1 test\ntest fails ... \nbytes end\n\nthread 'fails' (7) panicked at \
                      tests/chaos.rs:75:5:\nfailing so the output is kept\nnote: run with \
                      `RUST_BACKTRACE=1`\nFAILED\n\nfailures:\n\nfailures:\n    fails\n\n\
                      test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 10 filtered \
                      out; finished in 0.20s\n\n";
        assert_eq!(
            strip(output, "fails"),
            "bytes end\n\nthread 'fails' (7) panicked at tests/chaos.rs:75:5:\n\
             failing so the output is kept\nnote: run with `RUST_BACKTRACE=1`\n"
        );
    }

    #[test]
    fn a_test_that_died_keeps_everything_after_the_header() {
        let output = "\nrunning 1 test\ntest aborts ... about to abort\n";
        assert_eq!(strip(output, "aborts"), "about to abort\n");
    }

    #[test]
    fn output_without_the_frame_is_left_alone() {
        let output = "custom harness output\ntest result: ok\n";
        assert_eq!(strip(output, "x"), output);
        let other_test = "\nrunning 1 test\ntest y ... ok\n";
        assert_eq!(strip(other_test, "x"), other_test);
    }

    #[test]
    fn a_status_word_inside_the_output_is_kept() {
        let output = "\nrunning 1 test\ntest t ... all ok\nok\n\ntest result: ok. 1 passed; \
                      0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\n";
        assert_eq!(strip(output, "t"), "all ok\n");
    }
}
