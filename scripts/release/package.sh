#!/usr/bin/env bash
# One release archive of cargo-sockcheck, as `cargo binstall` and the
# GitHub Action download it: OUT/cargo-sockcheck-vVERSION-TARGET.tar.gz,
# holding the directory cargo-sockcheck-vVERSION-TARGET/ with the binary,
# README, licences and SOURCE-DIGEST (the digest of the sources it was
# built from: the action builds from source when its own differ), and
# beside it the archive's checksum, ARCHIVE.sha256, in `sha256sum` format.
# Run from the release workflow (.github/workflows/release.yml).
#
# Usage: scripts/release/package.sh VERSION TARGET BINARY OUT
set -euo pipefail
version="${1:?usage: package.sh VERSION TARGET BINARY OUT}"
target="${2:?usage: package.sh VERSION TARGET BINARY OUT}"
binary="${3:?usage: package.sh VERSION TARGET BINARY OUT}"
out="${4:?usage: package.sh VERSION TARGET BINARY OUT}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/action/lib.sh"

name="cargo-sockcheck-v$version-$target"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/$name" "$out"
install -m 755 "$binary" "$work/$name/cargo-sockcheck"
cp "$root/cargo-sockcheck/README.md" "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$work/$name/"
source_digest "$root" >"$work/$name/SOURCE-DIGEST"
# The same bytes for the same inputs: no owner, time or order of the build machine.
tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
  -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
echo "$out/$name.tar.gz"
