#!/bin/sh
# sockcheck's benchmark: builds the runner (bench/, its own cargo project),
# then runs it. `bench/run.sh --help` lists the options; BENCHMARKS.md has
# the latest numbers.
set -e
bench=$(cd "$(dirname "$0")" && pwd)
cargo build --quiet --release --manifest-path "$bench/Cargo.toml" --target-dir "$bench/target/runner"
exec "$bench/target/runner/release/sockcheck-bench" "$@"
