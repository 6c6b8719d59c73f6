# Shared by the GitHub Action's scripts (sourced, not run): how to call
# sockcheck and how to hand outputs to later steps.

# `cargo sockcheck ARGS`; SOCKCHECK_BIN names a cargo-sockcheck binary to
# call directly instead (the tests use the one they built).
sockcheck() {
  if [[ -n "${SOCKCHECK_BIN:-}" ]]; then
    "$SOCKCHECK_BIN" sockcheck "$@"
  else
    cargo sockcheck "$@"
  fi
}

# `output NAME VALUE`: a step output for later steps (GITHUB_OUTPUT).
output() {
  printf '%s=%s\n' "$1" "$2" >>"${GITHUB_OUTPUT:-/dev/null}"
}

# `summary < TEXT`: appends to the job summary (GITHUB_STEP_SUMMARY).
summary() {
  cat >>"${GITHUB_STEP_SUMMARY:-/dev/null}"
}

# `code_block TEXT`: TEXT as a fenced Markdown code block, shown as it is
# (no links, mentions or HTML), its control characters (CR, ESC, NUL...)
# dropped and its fence longer than any run of backticks inside.
code_block() {
  local text ticks fence
  text=$(tr -d '\000-\010\013-\037\177' <<<"$1")
  ticks=$(grep -o '`*' <<<"$text" | awk '{ if (length > n) n = length } END { print n + 0 }')
  printf -v fence '%*s' $((ticks < 3 ? 3 : ticks + 1)) ''
  fence=${fence// /\`}
  printf '%stext\n%s\n%s\n' "$fence" "$text" "$fence"
}

# `source_digest ROOT`: a digest of the sources cargo-sockcheck is built
# from in the checkout ROOT. The cache key holds it, and each release
# archive carries its own (SOURCE-DIGEST), so a branch or a fork with the
# same version number is never taken for the release.
source_digest() {
  (cd "$1" && find Cargo.toml Cargo.lock src cargo-sockcheck/Cargo.toml cargo-sockcheck/src \
    -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}
