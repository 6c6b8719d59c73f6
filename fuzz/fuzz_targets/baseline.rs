//! A baseline file: any text parses to a baseline or an error; a baseline
//! is written back and read again as the same leaks and port findings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockcheck::baseline::Baseline;

fuzz_target!(|text: &str| {
    if let Ok(baseline) = Baseline::parse(text) {
        let again = Baseline::parse(&baseline.to_json()).expect("a written baseline reads back");
        assert_eq!(again, baseline);
    }
});
