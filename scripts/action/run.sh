#!/usr/bin/env bash
# The GitHub Action's run: `cargo sockcheck` with the user's arguments,
# writing the JSON, Markdown and JUnit reports to SOCKCHECK_OUT. cargo
# sockcheck itself appends the Markdown to the job summary and annotates
# each leak. The exit status and the report's counts become step outputs;
# the script itself exits 0, so that the comment can be posted before the
# action's last step fails the job with that status.
#
# Environment: SOCKCHECK_OUT (directory for the reports), INPUT_ARGS
# (arguments, quoted as in a shell), INPUT_BASELINE (a baseline file, or
# empty), GITHUB_OUTPUT.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

out="${SOCKCHECK_OUT:?SOCKCHECK_OUT names the directory for the reports}"
mkdir -p "$out"

# Split INPUT_ARGS as a shell would (quotes kept together), without eval.
args=()
if [[ -n "${INPUT_ARGS:-}" ]]; then
  mapfile -t args < <(xargs -n1 printf '%s\n' <<<"$INPUT_ARGS")
fi
if [[ -n "${INPUT_BASELINE:-}" ]]; then
  args+=(--baseline "$INPUT_BASELINE")
fi

sockcheck "${args[@]}" --report "$out/report.json" --markdown "$out/report.md" \
  --junit "$out/junit.xml"
status=$?
output exit-status "$status"
if [[ -s "$out/report.json" ]]; then
  jq -r '.summary | "tests=\(.tests)", "failed=\(.failed)", "leaking-tests=\(.leaking_tests)",
    "errors=\(.errors)", "warnings=\(.warnings)"' "$out/report.json" >>"${GITHUB_OUTPUT:-/dev/null}"
fi
echo "sockcheck exited with status $status"
exit 0
