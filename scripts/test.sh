#!/usr/bin/env bash
# Usage: scripts/test.sh [CARGO TEST ARGS...]
#
# The project's test command: runs the whole suite twice,
#   1. on embedded SQLite (TEST_DATABASE_URL unset), then
#   2. on PostgreSQL: a throwaway server started by scripts/with-postgres.sh
#      with a streaming standby of it (scripts/with-standby.sh), or the
#      database in TEST_DATABASE_URL if the caller set it (with the caller's
#      standby in TEST_STANDBY_URL, or TIPGRANTS_TEST_NO_STANDBY=1).
# Extra arguments go to both `cargo test --workspace` runs, e.g.
#   scripts/test.sh grants            # only tests whose name contains "grants"
#   scripts/test.sh -- --nocapture
# Exits non-zero if either pass fails; both passes always run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

# grpcurl is used by the end-to-end test, buf by CI's lint step, xmllint by the
# standards test (it validates the IATI export against ../shared/standards/iati-2.03/).
scripts/install-tools.sh
export TIPGRANTS_GRPCURL="$REPO/.tools/bin/grpcurl"

CALLER_DB_URL="${TEST_DATABASE_URL:-}"

echo
echo "== tests on SQLite =="
sqlite_rc=0
env -u TEST_DATABASE_URL cargo test --workspace "$@" || sqlite_rc=$?

echo
echo "== tests on PostgreSQL =="
pg_rc=0
if [[ -n "$CALLER_DB_URL" ]]; then
    echo "(using the caller's TEST_DATABASE_URL)"
fi
if [[ -n "$CALLER_DB_URL" ]]; then
    # The caller's own server: a standby of it is the caller's (TEST_STANDBY_URL), or none
    # (TIPGRANTS_TEST_NO_STANDBY=1).
    TEST_DATABASE_URL="$CALLER_DB_URL" cargo test --workspace "$@" || pg_rc=$?
else
    # A throwaway primary and a real streaming standby of it (for reads from a standby).
    scripts/with-postgres.sh scripts/with-standby.sh cargo test --workspace "$@" || pg_rc=$?
fi

verdict() {
    if [[ "$1" -eq 0 ]]; then echo "ok"; else echo "FAILED (exit $1)"; fi
}
echo
echo "== summary =="
echo "SQLite pass: $(verdict "$sqlite_rc")"
echo "PostgreSQL pass: $(verdict "$pg_rc")"

if [[ "$sqlite_rc" -ne 0 || "$pg_rc" -ne 0 ]]; then
    exit 1
fi
