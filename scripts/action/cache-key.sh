#!/usr/bin/env bash
# The cache key of the installed cargo-sockcheck: its version, a hash of
# the sources it is built from (so a branch or a fix of the same version
# is not taken for another), the toolchain (`rustc -vV`) and the OS.
# Prints `key=...` to GITHUB_OUTPUT (and stdout).
#
# Usage: cache-key.sh ACTION_PATH
set -euo pipefail
source "$(dirname "$0")/lib.sh"

root="${1:?usage: cache-key.sh ACTION_PATH}"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/cargo-sockcheck/Cargo.toml" | head -n1)
sources=$(source_digest "$root")
toolchain=$(rustc -vV | sha256sum | cut -c1-16)
key="sockcheck-${RUNNER_OS:-$(uname -s)}-${version}-${sources}-rustc-${toolchain}"
echo "key=$key"
output key "$key"
