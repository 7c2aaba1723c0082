#!/usr/bin/env bash
# Usage: scripts/with-postgres.sh scripts/with-standby.sh CMD [ARGS...]
#
# Inside a with-postgres.sh run (TEST_DATABASE_URL points at its throwaway
# primary on loopback, trust authentication), makes a real streaming standby of
# that primary with `pg_basebackup -R` (a base backup that starts as a hot
# standby and replicates from the primary), starts it on a free loopback port,
# waits until the primary streams to it, runs CMD with
#   TEST_STANDBY_URL=postgres://postgres@127.0.0.1:PORT/postgres
# exported, then stops the standby and deletes its files (also when CMD fails
# or the script is interrupted), and exits with CMD's exit code.
#
# scripts/test.sh runs the PostgreSQL pass inside it, for the reads from a
# standby (`database.replica_url`, tests/api/replicas.rs). As root the standby
# runs as the `postgres` user, like the primary. hot_standby_feedback is on,
# as docs/settings.md asks of a production standby: replay never cancels a
# long read.
set -euo pipefail

log() { echo "with-standby: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

if [[ $# -eq 0 ]]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

[[ "${TEST_DATABASE_URL:-}" =~ ^postgres(ql)?://([^@/]+)@([^:/]+):([0-9]+)/ ]] \
    || die "run inside scripts/with-postgres.sh (TEST_DATABASE_URL must be postgres://USER@HOST:PORT/DB, got '${TEST_DATABASE_URL:-}')"
PRIMARY_USER="${BASH_REMATCH[2]}"
PRIMARY_HOST="${BASH_REMATCH[3]}"
PRIMARY_PORT="${BASH_REMATCH[4]}"

PGBIN=""
for dir in /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/pg_basebackup" && -x "$dir/pg_ctl" ]] && PGBIN="$dir"
done
if [[ -z "$PGBIN" ]]; then
    command -v pg_basebackup >/dev/null 2>&1 || die "pg_basebackup not found"
    PGBIN="$(dirname "$(readlink -f "$(command -v pg_basebackup)")")"
fi

AS_ROOT=0
[[ "$(id -u)" -eq 0 ]] && AS_ROOT=1

if ((AS_ROOT)); then
    TMPROOT="$(mktemp -d /tmp/tipgrants-standby.XXXXXXXX)"
else
    TMPROOT="$(mktemp -d "${TMPDIR:-/tmp}/tipgrants-standby.XXXXXXXX")"
fi
DATADIR="$TMPROOT/data"
SOCKDIR="$TMPROOT/sock"
PGLOG="$TMPROOT/standby.log"
STARTED=0

# Runs a command as the server's user, from inside the temp dir.
pg_run() {
    if ((AS_ROOT)); then
        (cd "$TMPROOT" && runuser -u postgres -- "$@")
    else
        (cd "$TMPROOT" && "$@")
    fi
}

# shellcheck disable=SC2317  # invoked by trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if ((STARTED)); then
        pg_run "$PGBIN/pg_ctl" -D "$DATADIR" -m immediate -t 10 -s stop >/dev/null 2>&1 || true
    fi
    rm -rf "$TMPROOT"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mkdir -p "$SOCKDIR"
chmod 0755 "$TMPROOT"
((AS_ROOT)) && chown -R postgres: "$TMPROOT"

# A fast checkpoint, the WAL streamed during the copy, and -R: standby.signal
# plus primary_conninfo, so the copy starts as a standby of the primary.
if ! pg_run "$PGBIN/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$PRIMARY_USER" \
    -D "$DATADIR" -R -X stream -c fast --no-sync >"$TMPROOT/basebackup.log" 2>&1; then
    log "pg_basebackup failed:"
    tail -n 40 "$TMPROOT/basebackup.log" >&2 || true
    exit 1
fi

PORT="$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')"
: >"$PGLOG"
((AS_ROOT)) && chown postgres: "$PGLOG"
STARTED=1
# max_connections as on the primary (with-postgres.sh): a hot standby refuses fewer.
pg_run "$PGBIN/pg_ctl" -D "$DATADIR" -l "$PGLOG" -w -t 60 -s \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$SOCKDIR -c fsync=off -c max_connections=300 -c hot_standby=on -c hot_standby_feedback=on" \
    start >&2 || {
    log "the standby failed to start; its log:"
    tail -n 40 "$PGLOG" >&2 || true
    exit 1
}

# Ready when the primary streams to it and it answers as a standby.
for _ in $(seq 1 100); do
    streaming="$("$PGBIN/psql" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$PRIMARY_USER" -d postgres -tAc \
        "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null || true)"
    recovering="$("$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc \
        "SELECT pg_is_in_recovery()" 2>/dev/null || true)"
    [[ "$streaming" =~ ^[1-9] && "$recovering" == "t" ]] && break
    sleep 0.1
done
[[ "$streaming" =~ ^[1-9] && "$recovering" == "t" ]] \
    || die "the standby on port $PORT does not replicate (streaming: '$streaming', in recovery: '$recovering')"

export TEST_STANDBY_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
log "streaming standby of $PRIMARY_HOST:$PRIMARY_PORT running at $TEST_STANDBY_URL (data in $TMPROOT)"

set +e
"$@"
rc=$?
set -e
exit "$rc"
