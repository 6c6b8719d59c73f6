#!/usr/bin/env bash
# The GitHub Action's code-scanning upload, decided: whether the next step
# (github/codeql-action/upload-sarif, which needs `security-events: write`)
# uploads the SARIF that run.sh wrote to SOCKCHECK_OUT/report.sarif. A pull
# request from a fork gets a read-only GITHUB_TOKEN, which cannot write
# security events: there the upload is skipped with a notice and a note in
# the job summary (the SARIF stays in the reports' artifact). Exits 0.
#
# Environment: SOCKCHECK_OUT, GITHUB_EVENT_PATH, GITHUB_REPOSITORY,
# GITHUB_OUTPUT, GITHUB_STEP_SUMMARY.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

sarif="${SOCKCHECK_OUT:?SOCKCHECK_OUT names the directory of the reports}/report.sarif"
head_repo=""
if [[ -r "${GITHUB_EVENT_PATH:-}" ]]; then
  head_repo=$(jq -r '.pull_request.head.repo.full_name // empty' "$GITHUB_EVENT_PATH")
fi

if [[ -n "$head_repo" && "$head_repo" != "${GITHUB_REPOSITORY:-}" ]]; then
  echo "::notice title=sockcheck::This pull request comes from a fork: its SARIF is not uploaded to code scanning (it is in the reports' artifact)"
  summary <<<$'\n> **Note:** sockcheck did not upload its SARIF to code scanning: this pull request comes from a fork, whose GITHUB_TOKEN cannot write security events. The SARIF is in the reports\' artifact.\n'
  output upload false
elif [[ ! -s "$sarif" ]]; then
  echo "::warning title=sockcheck::No SARIF to upload: cargo sockcheck wrote none (see its step)"
  output upload false
else
  output upload true
fi
