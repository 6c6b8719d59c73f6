//! `sockcheck.toml` and the sockcheck tables of a `Cargo.toml`: any text
//! parses to a configuration or an error, and a configuration gives a
//! policy, without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockcheck::config::Config;

fuzz_target!(|text: &str| {
    if let Ok(config) = Config::parse_sockcheck_toml(text, "sockcheck.toml") {
        let _ = config.policy();
        let _ = config.is_test_allowed("net", "a");
    }
    if let Ok(manifest) = Config::parse_manifest(text, "Cargo.toml") {
        let _ = manifest.workspace.layer(manifest.package).policy();
    }
});
