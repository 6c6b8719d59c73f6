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

# `split_args TEXT`: the words of TEXT as a shell splits them, into the
# array `args`, without running or expanding anything: blanks and newlines
# separate words, '...' keeps its text as it is, "..." too except for \",
# \\, \$ and \`, a backslash outside quotes keeps the next character, and
# a word starting with # starts a comment. An unmatched quote is an error
# (status 1), as in a shell.
split_args() {
  local text=$1 word="" in_word=0 quote="" c i
  args=()
  for ((i = 0; i < ${#text}; i++)); do
    c=${text:i:1}
    if [[ $quote == "'" ]]; then
      if [[ $c == "'" ]]; then quote=""; else word+=$c; fi
    elif [[ $quote == '"' ]]; then
      if [[ $c == '"' ]]; then
        quote=""
      elif [[ $c == '\' && ${text:i+1:1} == [\"\\\$\`] ]]; then
        i=$((i + 1))
        word+=${text:i:1}
      else
        word+=$c
      fi
    elif [[ $c == [[:space:]] ]]; then
      if ((in_word)); then args+=("$word"); fi
      word="" in_word=0
    elif [[ $c == '#' ]] && ((!in_word)); then
      while ((i + 1 < ${#text})) && [[ ${text:i+1:1} != $'\n' ]]; do i=$((i + 1)); done
    elif [[ $c == "'" || $c == '"' ]]; then
      quote=$c in_word=1
    elif [[ $c == '\' ]]; then
      i=$((i + 1))
      # A backslash before a line break joins the lines, as in a shell.
      if [[ ${text:i:1} != $'\n' ]]; then word+=${text:i:1} in_word=1; fi
    else
      word+=$c in_word=1
    fi
  done
  [[ -z $quote ]] || return 1
  if ((in_word)); then args+=("$word"); fi
}

if ! split_args "${INPUT_ARGS:-}"; then
  echo "::error title=sockcheck::the action's args have an unmatched quote: quote them as in a shell (e.g. --skip \"it's\")"
  output exit-status 2
  exit 0
fi
# The action's own flags go before any `--`, after which the arguments are
# the test binaries'.
own=(--report "$out/report.json" --markdown "$out/report.md" --junit "$out/junit.xml"
  --sarif "$out/report.sarif")
if [[ -n "${INPUT_BASELINE:-}" ]]; then
  own+=(--baseline "$INPUT_BASELINE")
fi
for i in "${!args[@]}"; do
  if [[ ${args[i]} == -- ]]; then
    args=("${args[@]:0:i}" "${own[@]}" "${args[@]:i}")
    own=()
    break
  fi
done

sockcheck "${args[@]}" "${own[@]}"
status=$?
output exit-status "$status"
if [[ -s "$out/report.json" ]]; then
  # port_errors and port_warnings are absent from the report when 0.
  jq -r '.summary | "tests=\(.tests)", "failed=\(.failed)", "leaking-tests=\(.leaking_tests)",
    "errors=\(.errors)", "warnings=\(.warnings)",
    "port-errors=\(.port_errors // 0)", "port-warnings=\(.port_warnings // 0)"' \
    "$out/report.json" >>"${GITHUB_OUTPUT:-/dev/null}"
fi
echo "sockcheck exited with status $status"
exit 0
