#!/usr/bin/env bash
# Usage: scripts/buf-breaking.sh [GIT-REF...]
#
# Fails when proto/ breaks the API's clients compared with each GIT-REF: a field, enum value, RPC
# or message removed, renamed, renumbered or retyped, or moved to another file (Buf's FILE rules,
# buf.yaml: generated Python and TypeScript import each type from its file's module).
#
# Without arguments it compares with:
#   - HEAD~1, the first parent of the commit under test. CI runs on main, where a branch lands as
#     a merge commit (or one commit on top of main), so the first parent is main as clients last
#     saw it and the branch's whole change is compared at once;
#   - the latest release tag (`v*`) before HEAD, if there is one, so that a break spread over
#     several commits since a release is caught too.
# A ref that is not there (the first commit, or a shallow clone whose origin cannot deepen it) is
# reported and skipped, rather than failing every shallow checkout.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
BUF="${BUF:-$REPO/.tools/bin/buf}"

exists() { git rev-parse --verify --quiet "$1^{commit}" >/dev/null; }

# A shallow clone may fetch the parent (and tags) from its origin: a local folder in CI, no network.
if ! exists HEAD~1 && [[ "$(git rev-parse --is-shallow-repository 2>/dev/null)" == "true" ]]; then
    git fetch --quiet --deepen=1 2>/dev/null || true
fi

if [[ $# -gt 0 ]]; then
    refs=("$@")
else
    refs=(HEAD~1)
    if exists HEAD~1 && release="$(git describe --tags --abbrev=0 --match 'v*' HEAD~1 2>/dev/null)"; then
        refs+=("$release")
    fi
fi

compared=0
for ref in "${refs[@]}"; do
    if ! exists "$ref"; then
        echo "buf breaking: no commit $ref here (first commit, or a shallow clone): skipped"
        continue
    fi
    if ! git cat-file -e "$ref:buf.yaml" 2>/dev/null; then
        echo "buf breaking: $ref has no buf.yaml yet: skipped"
        continue
    fi
    commit="$(git rev-parse "$ref^{commit}")"
    echo "buf breaking: proto/ against $ref (${commit:0:7})"
    # buf reads the old tree from the local repository itself; no network.
    "$BUF" breaking --against ".git#ref=$commit,depth=1"
    compared=$((compared + 1))
done
echo "buf breaking: no breaking change (compared with $compared ref(s))"
