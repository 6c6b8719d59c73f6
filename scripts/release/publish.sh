#!/usr/bin/env bash
# Publishes both crates to crates.io, the library first (cargo-sockcheck
# depends on it; cargo waits until it is in the index). A crate whose
# version is already published is skipped, so a release job that failed
# halfway can be run again. Needs CARGO_REGISTRY_TOKEN.
#
# Usage: scripts/release/publish.sh
set -uo pipefail
cd "$(dirname "$0")/../.."

for crate in sockcheck cargo-sockcheck; do
  log=$(mktemp)
  if cargo publish --locked --package "$crate" 2>&1 | tee "$log"; then
    echo "publish: $crate published"
  elif grep -q "already exists" "$log"; then
    echo "publish: $crate: this version is already on crates.io; skipped"
  else
    echo "publish: $crate could not be published (see above)" >&2
    exit 1
  fi
done
