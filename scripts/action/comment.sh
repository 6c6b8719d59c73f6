#!/usr/bin/env bash
# The GitHub Action on a pull request: the diff of this pull request's
# report against its base branch's, as ONE sticky comment on the pull
# request (created once, then updated), and in the job summary.
#
# The base report is the artifact of the latest completed run of this same
# workflow on a push to the base branch: a run on the base commit itself
# first, else the latest one (the footer says which). It is not built by
# running sockcheck on the base commit here: that would double every pull
# request's CI time to recompute what the base branch's own runs keep.
# Without one (a new workflow, artifacts expired), the comment says there
# is no base report and how to get one, with this pull request's totals.
#
# A pull request from a fork gets a read-only GITHUB_TOKEN: then the diff
# goes to the job summary only, with a note saying so; likewise when
# commenting fails (the workflow lacks `permissions: pull-requests: write`).
#
# Environment: GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_WORKFLOW_REF,
# GITHUB_SERVER_URL, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GH_TOKEN (for gh),
# SOCKCHECK_OUT (holds this run's report.json), SOCKCHECK_ARTIFACT (the
# artifact name the reports are kept under), INPUT_BASELINE (optional).
# Outputs: base (found|none), new, new-errors, fixed, new-port-findings,
# new-port-errors, fixed-port-findings, comment
# (created|updated|summary-only).
set -uo pipefail
source "$(dirname "$0")/lib.sh"

event="${GITHUB_EVENT_PATH:?}"
repo="${GITHUB_REPOSITORY:?}"
out="${SOCKCHECK_OUT:?}"
artifact="${SOCKCHECK_ARTIFACT:-sockcheck}"
server="${GITHUB_SERVER_URL:-https://github.com}"

pr=$(jq -r '.pull_request.number // empty' "$event")
if [[ -z "$pr" ]]; then
  echo "sockcheck: not a pull request: no diff to post"
  exit 0
fi
base_ref=$(jq -r '.pull_request.base.ref' "$event")
base_sha=$(jq -r '.pull_request.base.sha' "$event")
head_repo=$(jq -r '.pull_request.head.repo.full_name // empty' "$event")
base_repo=$(jq -r '.pull_request.base.repo.full_name' "$event")
head_report="$out/report.json"
# One sticky comment per artifact name, so two jobs of a matrix do not
# overwrite each other's.
marker="<!-- sockcheck-diff:$artifact -->"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The base report: the newest run on the base commit first, then the others.
workflow="${GITHUB_WORKFLOW_REF:-}"
workflow="${workflow%%@*}"
workflow="${workflow##*/}"
runs=$(gh run list -R "$repo" --workflow "$workflow" --branch "$base_ref" --event push \
  --status completed --limit 20 --json databaseId,headSha) || runs='[]'
base_report="" base_run="" base_run_sha=""
tries=0
for id in $(jq -r --arg sha "$base_sha" 'sort_by(.headSha != $sha) | .[].databaseId' <<<"$runs"); do
  ((tries++ < 5)) || break
  rm -rf "$work/base"
  if gh run download "$id" -R "$repo" -n "$artifact" -D "$work/base" >/dev/null &&
    [[ -s "$work/base/report.json" ]]; then
    base_report="$work/base/report.json"
    base_run="$id"
    base_run_sha=$(jq -r --argjson id "$id" '.[] | select(.databaseId == $id) | .headSha' <<<"$runs")
    break
  fi
done

diff_args=()
if [[ -n "${INPUT_BASELINE:-}" ]]; then
  diff_args+=(--baseline "$INPUT_BASELINE")
fi

body="$work/body.md"
{
  echo "$marker"
  if [[ -n "$base_report" ]]; then
    output base found
    sockcheck diff "$base_report" "$head_report" --format markdown "${diff_args[@]}" 2>"$work/diff.err"
    # 0: no new error-level leak, 1: one, 2: a report could not be read.
    if [[ $? -eq 2 ]]; then
      echo "### sockcheck: no diff"
      echo
      echo "The reports could not be compared:"
      echo
      # The error can quote a crafted report: shown as code, never as Markdown.
      code_block "$(head -n1 "$work/diff.err")"
    else
      sockcheck diff "$base_report" "$head_report" --format json "${diff_args[@]}" >"$work/diff.json"
      jq -r '.counts | "new=\(.new)", "new-errors=\(.new_errors)", "fixed=\(.fixed)",
        "new-port-findings=\(.new_port_findings)", "new-port-errors=\(.new_port_errors)",
        "fixed-port-findings=\(.fixed_port_findings)"' \
        "$work/diff.json" >>"${GITHUB_OUTPUT:-/dev/null}"
    fi
    echo
    moved=""
    if [[ "$base_run_sha" != "$base_sha" ]]; then
      moved=", not the pull request's base commit ${base_sha:0:12}"
    fi
    echo "<sub>Compared with the report of run [$base_run]($server/$repo/actions/runs/$base_run)" \
      "on \`$base_ref\` (commit ${base_run_sha:0:12}$moved).</sub>"
  else
    output base none
    echo "### sockcheck: no base report to compare with"
    echo
    echo "No report of \`$base_ref\` was found: no completed run of this workflow on a push to" \
      "\`$base_ref\` kept a \`$artifact\` artifact (a new workflow, or the artifacts expired)." \
      "Run it on \`$base_ref\` once to get a diff here."
    if [[ -s "$head_report" ]]; then
      echo
      jq -r '.summary | "This pull request: tests \(.tests), leaking tests \(.leaking_tests), errors \(.errors), warnings \(.warnings); the full report is in the job summary."' \
        "$head_report"
    fi
  fi
} >"$body"

# `summary_with NOTE`: the diff in the job summary, after NOTE.
summary_with() {
  {
    echo
    if [[ -n "$1" ]]; then
      echo "> **Note:** $1"
      echo
    fi
    tail -n +2 "$body"
  } | summary
}

if [[ -n "$head_repo" && "$head_repo" != "$base_repo" ]]; then
  echo "::notice title=sockcheck::This pull request comes from a fork: the diff is in the job summary, not in a comment"
  summary_with "sockcheck could not comment: this pull request comes from a fork ($head_repo), whose GITHUB_TOKEN is read-only. The diff is here instead."
  output comment summary-only
  exit 0
fi

# The sticky comment is the first one with the marker that this action's
# own identity wrote: anyone can post a comment starting with the marker,
# and theirs is left alone. The identity is the token's user (`gh api user`
# answers for a personal token); GITHUB_TOKEN, which cannot ask, comments
# as github-actions[bot].
me=$(gh api user --jq .login 2>/dev/null) || me=""
me="${me:-github-actions[bot]}"
existing=""
if comments=$(gh api --paginate "repos/$repo/issues/$pr/comments"); then
  existing=$(jq -rs --arg marker "$marker" --arg me "$me" \
    'add // [] | map(select(.user.login == $me and ((.body // "") | startswith($marker))))
      | .[0].id // empty' <<<"$comments")
fi
if [[ -n "$existing" ]]; then
  how=updated
  gh api -X PATCH "repos/$repo/issues/comments/$existing" -F "body=@$body" >/dev/null
else
  how=created
  gh api -X POST "repos/$repo/issues/$pr/comments" -F "body=@$body" >/dev/null
fi
posted=$?
if [[ $posted -eq 0 ]]; then
  summary_with ""
  output comment "$how"
  echo "sockcheck: pull request comment $how"
else
  echo "::warning title=sockcheck::Could not comment on the pull request; the diff is in the job summary. Does the workflow grant pull-requests: write?"
  summary_with "sockcheck could not comment on this pull request (does the workflow grant \`pull-requests: write\`?). The diff is here instead."
  output comment summary-only
fi
