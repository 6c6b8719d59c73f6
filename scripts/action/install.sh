#!/usr/bin/env bash
# Installs cargo-sockcheck for the GitHub Action into ROOT/bin: the release
# binary of the action's own version when there is one built from the same
# sources, else built from the action's checkout with `cargo install
# --locked`.
#
# The release archive (scripts/release/package.sh) is downloaded from
# SOCKCHECK_RELEASES (default: the action repository's GitHub releases) with
# its .sha256 checksum. No archive for this version or platform (Linux
# x86_64 and aarch64 only), a download that fails, or an archive whose
# SOURCE-DIGEST differs from the checkout's (a branch or a fork that kept
# the version number) means building from source, with a line saying why.
# A checksum that does not match is an error: nothing is installed.
#
# Environment: SOCKCHECK_RELEASES (base URL: ARCHIVE is fetched from
# BASE/vVERSION/ARCHIVE), SOCKCHECK_REPOSITORY (owner/name of the action,
# for the default; empty: sockcheck/sockcheck).
#
# Usage: install.sh ACTION_PATH ROOT
set -euo pipefail
source "$(dirname "$0")/lib.sh"

action="${1:?usage: install.sh ACTION_PATH ROOT}"
root="${2:?usage: install.sh ACTION_PATH ROOT}"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$action/cargo-sockcheck/Cargo.toml" | head -n1)
repository="${SOCKCHECK_REPOSITORY:-sockcheck/sockcheck}"
releases="${SOCKCHECK_RELEASES:-https://github.com/$repository/releases/download}"

from_source() {
  echo "sockcheck: $1; building cargo-sockcheck $version from source"
  cargo install --locked --path "$action/cargo-sockcheck" --root "$root"
}

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) target=x86_64-unknown-linux-musl ;;
  Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-musl ;;
  *)
    from_source "no release binary for $(uname -s) $(uname -m)"
    exit 0
    ;;
esac

name="cargo-sockcheck-v$version-$target"
url="$releases/v$version/$name.tar.gz"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! curl -fsSL --retry 2 -o "$work/$name.tar.gz" "$url" ||
  ! curl -fsSL --retry 2 -o "$work/$name.tar.gz.sha256" "$url.sha256"; then
  from_source "no release binary at $url"
  exit 0
fi
if ! (cd "$work" && sha256sum --quiet -c "$name.tar.gz.sha256"); then
  echo "::error title=sockcheck::$url does not match its checksum ($url.sha256); nothing was installed"
  exit 1
fi
tar -C "$work" -xzf "$work/$name.tar.gz"
built_from=$(cat "$work/$name/SOURCE-DIGEST" 2>/dev/null || true)
if [[ "$built_from" != "$(source_digest "$action")" ]]; then
  from_source "the release binary of v$version was built from other sources than this action's"
  exit 0
fi
mkdir -p "$root/bin"
install -m 755 "$work/$name/cargo-sockcheck" "$root/bin/cargo-sockcheck"
echo "sockcheck: installed the release binary of cargo-sockcheck $version ($target) from $url"
