#!/usr/bin/env bash
# Usage: scripts/with-postgres.sh CMD [ARGS...]
#
# Starts a throwaway PostgreSQL server on a free loopback port, runs CMD with
#   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/postgres
# exported, then stops the server and deletes its files (also when CMD fails
# or the script is interrupted), and exits with CMD's exit code.
#
# - If TEST_DATABASE_URL is already set (non-empty), nothing is started: CMD
#   simply runs against that database.
# - The server binaries come from /usr/lib/postgresql/<highest>/bin, else PATH;
#   when initdb is missing, Debian's `postgresql` package is installed.
# - initdb and postgres refuse to run as root: as root the server runs as the
#   `postgres` user (runuser); otherwise as the current user.
# - The system's own cluster (if any) is never touched.
set -euo pipefail

log() { echo "with-postgres: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

if [[ $# -eq 0 ]]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

if [[ -n "${TEST_DATABASE_URL:-}" ]]; then
    log "TEST_DATABASE_URL is already set; using it, no server started"
    exec "$@"
fi

# ---------------------------------------------------------------- binaries --

find_pg_bindir() {
    local best="" best_ver=-1 dir ver
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] || continue
        ver="$(basename "$(dirname "$dir")")"
        ver="${ver%%.*}"
        [[ "$ver" =~ ^[0-9]+$ ]] || continue
        if ((ver > best_ver)); then
            best_ver=$ver
            best=$dir
        fi
    done
    if [[ -n "$best" ]]; then
        echo "$best"
        return 0
    fi
    local initdb
    if initdb="$(command -v initdb 2>/dev/null)" && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(readlink -f "$initdb")"
        return 0
    fi
    return 1
}

install_postgres() {
    local sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            die "PostgreSQL (initdb) is not installed, and installing Debian's 'postgresql' package needs root or sudo. Install it (apt-get install postgresql) or set TEST_DATABASE_URL to an existing database."
        fi
    fi
    command -v apt-get >/dev/null 2>&1 \
        || die "PostgreSQL (initdb) is not installed and apt-get is not available; install PostgreSQL or set TEST_DATABASE_URL."
    log "initdb not found: installing Debian's postgresql package ..."
    "${sudo[@]}" apt-get update -qq >&2 || die "apt-get update failed"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 \
        || die "apt-get install postgresql failed"
}

if ! PGBIN="$(find_pg_bindir)"; then
    install_postgres
    PGBIN="$(find_pg_bindir)" || die "PostgreSQL was installed but initdb/pg_ctl still cannot be found"
fi

# ------------------------------------------------------------- run-as user --

AS_ROOT=0
if [[ "$(id -u)" -eq 0 ]]; then
    AS_ROOT=1
    id -u postgres >/dev/null 2>&1 \
        || die "running as root, but there is no 'postgres' user to run the server as (initdb refuses root)"
    command -v runuser >/dev/null 2>&1 || die "running as root, but runuser is not available"
fi

# Runs a command as the server's user, from inside the temp dir (the caller's
# working directory may not be readable by the postgres user).
pg_run() {
    if ((AS_ROOT)); then
        (cd "$TMPROOT" && runuser -u postgres -- "$@")
    else
        (cd "$TMPROOT" && "$@")
    fi
}

# ---------------------------------------------------------------- temp dir --

if ((AS_ROOT)); then
    # $TMPDIR may be under /root (not traversable by postgres): use /tmp.
    TMPROOT="$(mktemp -d /tmp/tipgrants-pg.XXXXXXXX)"
else
    TMPROOT="$(mktemp -d "${TMPDIR:-/tmp}/tipgrants-pg.XXXXXXXX")"
fi
DATADIR="$TMPROOT/data"
SOCKDIR="$TMPROOT/sock"
PGLOG="$TMPROOT/postgres.log"
STARTED=0

# shellcheck disable=SC2317  # invoked by trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if ((STARTED)); then
        if ! pg_run "$PGBIN/pg_ctl" -D "$DATADIR" -m fast -t 30 -s stop >/dev/null 2>&1; then
            pg_run "$PGBIN/pg_ctl" -D "$DATADIR" -m immediate -t 10 -s stop >/dev/null 2>&1 || true
        fi
        # last resort: the postmaster pid from its pid file
        if [[ -f "$DATADIR/postmaster.pid" ]]; then
            local pid
            pid="$(head -n1 "$DATADIR/postmaster.pid" 2>/dev/null || true)"
            if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
    fi
    rm -rf "$TMPROOT"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mkdir -p "$DATADIR" "$SOCKDIR"
chmod 0700 "$DATADIR"
chmod 0755 "$TMPROOT"
if ((AS_ROOT)); then
    chown -R postgres: "$TMPROOT"
fi

# ------------------------------------------------------------------ initdb --

if ! pg_run "$PGBIN/initdb" -D "$DATADIR" --auth=trust --username=postgres \
    --encoding=UTF8 --locale=C --no-sync >"$TMPROOT/initdb.log" 2>&1; then
    log "initdb failed:"
    tail -n 40 "$TMPROOT/initdb.log" >&2 || true
    exit 1
fi

# ------------------------------------------------------------------- start --

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
        return
    fi
    local p _
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    return 1
}

PORT=""
for attempt in 1 2 3; do
    PORT="$(free_port)" || die "could not find a free TCP port"
    : >"$PGLOG"
    if ((AS_ROOT)); then chown postgres: "$PGLOG"; fi
    STARTED=1
    if pg_run "$PGBIN/pg_ctl" -D "$DATADIR" -l "$PGLOG" -w -t 60 -s \
        -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$SOCKDIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >&2; then
        break
    fi
    log "PostgreSQL failed to start on port $PORT (attempt $attempt); server log:"
    tail -n 40 "$PGLOG" >&2 || true
    pg_run "$PGBIN/pg_ctl" -D "$DATADIR" -m immediate -s stop >/dev/null 2>&1 || true
    STARTED=0
    PORT=""
done
[[ -n "$PORT" ]] || die "PostgreSQL could not be started"

export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
log "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') running at $TEST_DATABASE_URL (data in $TMPROOT)"

# --------------------------------------------------------------------- run --

set +e
"$@"
rc=$?
set -e
exit "$rc"
