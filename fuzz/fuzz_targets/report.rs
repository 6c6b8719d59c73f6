//! A JSON report (`report --merge`, `diff`): any text parses to a report
//! or an error, and every renderer takes what parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockcheck::report::text::TextOptions;
use sockcheck::report::{json, junit, markdown, text};

fuzz_target!(|input: &str| {
    let Ok(report) = json::parse(input) else {
        return;
    };
    let mut out = Vec::new();
    let every_output = TextOptions {
        success_output: true,
        failure_output: true,
    };
    text::render(&report, &every_output, &mut out).expect("rendering to memory");
    markdown::render(&report, &mut out).expect("rendering to memory");
    junit::render(&report, &mut out).expect("rendering to memory");
    json::render(&report, &mut out).expect("rendering to memory");
});
