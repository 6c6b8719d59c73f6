#!/usr/bin/env bash
# Validates action.yml, the repository's workflows (.github/workflows/) and
# every GitHub workflow shown in docs/ci.md (each ```yaml block that opens
# with `# .github/workflows/NAME.yml`) against GitHub's schemas, with
# action-validator. Run by .ci/run.
#
# Usage: scripts/check-workflows.sh [ACTION_VALIDATOR]
set -euo pipefail
cd "$(dirname "$0")/.."
validator="${1:-action-validator}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Each workflow block of the page into its own file, named as its comment says.
awk -v dir="$work" '
  /^```yaml$/ { block = 1; file = ""; next }
  /^```$/ && block { block = 0; if (file != "") close(file); file = ""; next }
  block && file == "" && /^# \.github\/workflows\/[A-Za-z0-9._-]+\.yml$/ {
    n = split($2, parts, "/"); file = dir "/" ++count "-" parts[n]; print > file; next
  }
  block && file != "" { print > file }
' docs/ci.md

workflows=("$work"/*.yml)
if [[ ! -e "${workflows[0]}" ]]; then
  echo "check-workflows: no workflow found in docs/ci.md" >&2
  exit 1
fi
# The repository's own workflows (the release) too.
for file in action.yml .github/workflows/*.yml "${workflows[@]}"; do
  if ! "$validator" "$file" >"$work/out" 2>&1; then
    echo "check-workflows: ${file#"$work"/} is not valid (docs/ci.md numbers its workflows from 1):" >&2
    cat "$work/out" >&2
    exit 1
  fi
done
echo "check-workflows: action.yml, .github/workflows and ${#workflows[@]} workflows of docs/ci.md are valid"
