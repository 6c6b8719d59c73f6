//! The diff of two JSON reports (`cargo sockcheck diff`): the input is
//! split at its first NUL into the base and the head report; what parses
//! is compared and rendered in every format, within the comment budget.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockcheck::baseline::PortRange;
use sockcheck::diff::{self, Diff};
use sockcheck::report::json;

fuzz_target!(|input: &str| {
    let (base, head) = input.split_once('\0').unwrap_or((input, input));
    let (Ok(base), Ok(head)) = (json::parse(base), json::parse(head)) else {
        return;
    };
    let diff = Diff::between_with(&base, &head, PortRange::LINUX_DEFAULT);
    let mut out = Vec::new();
    diff::text::render(&diff, &mut out).expect("rendering to memory");
    diff::json::render(&diff, &mut out).expect("rendering to memory");
    let mut markdown = Vec::new();
    diff::markdown::render(&diff, &mut markdown).expect("rendering to memory");
    assert!(
        markdown.len() <= diff::markdown::BUDGET,
        "{} bytes",
        markdown.len()
    );
});
