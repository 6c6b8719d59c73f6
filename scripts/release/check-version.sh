#!/usr/bin/env bash
# A release tag must name the version both crates carry, and
# cargo-sockcheck must depend on exactly that version of the library
# (they are published together). Exits 1 with one line saying what
# differs. Run first by the release workflow.
#
# Usage: scripts/release/check-version.sh TAG   (e.g. v0.2.0)
set -euo pipefail
tag="${1:?usage: check-version.sh TAG}"
root="$(cd "$(dirname "$0")/../.." && pwd)"

version_of() {
  sed -n 's/^version = "\(.*\)"/\1/p' "$1" | head -n1
}
library=$(version_of "$root/Cargo.toml")
subcommand=$(version_of "$root/cargo-sockcheck/Cargo.toml")
pinned=$(sed -n 's/^sockcheck = {.*version = "=\([^"]*\)".*/\1/p' "$root/cargo-sockcheck/Cargo.toml")

fail() {
  echo "check-version: $1" >&2
  exit 1
}
[[ "$tag" == "v$library" ]] || fail "tag $tag does not name the library's version $library (Cargo.toml)"
[[ "$subcommand" == "$library" ]] ||
  fail "cargo-sockcheck is version $subcommand, the library $library: release them together"
[[ "$pinned" == "$library" ]] ||
  fail "cargo-sockcheck depends on sockcheck =$pinned, not =$library (cargo-sockcheck/Cargo.toml)"
echo "check-version: $tag names sockcheck and cargo-sockcheck $library"
