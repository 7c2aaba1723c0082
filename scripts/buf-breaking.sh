#!/usr/bin/env bash
# Usage: scripts/buf-breaking.sh [GIT-REF]
#
# Fails when proto/ breaks the API's clients compared with GIT-REF: a field, enum value, RPC or
# message removed, renamed, renumbered or retyped, or moved to another file (Buf's FILE rules,
# buf.yaml: generated Python and TypeScript import each type from its file's module).
#
# The default GIT-REF is HEAD~1, the first parent of the commit under test. CI runs on main, where
# a branch lands as a merge commit (or one commit on top of main), so the first parent is main as
# clients last saw it and the whole change is compared at once. Without that parent (the first
# commit, or a shallow clone whose origin cannot deepen it) there is nothing to compare with: the
# script says so and passes, rather than failing every shallow checkout.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
BUF="${BUF:-$REPO/.tools/bin/buf}"
AGAINST="${1:-HEAD~1}"

# A shallow clone may fetch the parent from its origin (a local folder in CI: no network).
if ! git rev-parse --verify --quiet "$AGAINST^{commit}" >/dev/null \
    && [[ "$(git rev-parse --is-shallow-repository 2>/dev/null)" == "true" ]]; then
    git fetch --quiet --deepen=1 2>/dev/null || true
fi
if ! git rev-parse --verify --quiet "$AGAINST^{commit}" >/dev/null; then
    if [[ "$(git rev-parse --is-shallow-repository 2>/dev/null)" == "true" ]]; then
        echo "buf breaking: $AGAINST is not in this shallow clone; nothing to compare with (skipped)"
    else
        echo "buf breaking: no commit $AGAINST (first commit?); nothing to compare with (skipped)"
    fi
    exit 0
fi
if ! git cat-file -e "$AGAINST:buf.yaml" 2>/dev/null; then
    echo "buf breaking: $AGAINST has no buf.yaml yet; nothing to compare with (skipped)"
    exit 0
fi

commit="$(git rev-parse --short "$AGAINST")"
echo "buf breaking: proto/ against $AGAINST ($commit)"
# buf reads the old tree from the local repository itself; no network.
"$BUF" breaking --against ".git#ref=$(git rev-parse "$AGAINST"),depth=1"
echo "buf breaking: no breaking change"
