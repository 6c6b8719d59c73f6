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
