#!/usr/bin/env bash
# Usage: scripts/bench.sh
#
# Speed under load, side by side with PostgreSQL's own benchmark, in one run
# (absolute numbers on shared machines move between runs; ratios measured in
# one run hold). It:
#   1. builds the release server and the load benchmark (load/, tipgrants-load);
#   2. starts a throwaway PostgreSQL (scripts/with-postgres.sh: installs
#      Debian's postgresql package if missing; as root the server runs as the
#      postgres user) and runs pgbench -i, then pgbench -S -M prepared and
#      TPC-B (-M prepared) at the load benchmark's concurrency;
#   3. starts target/release/tipgrants on that PostgreSQL (settings from
#      TIPGRANTS__* variables, port 0, the bootstrap token in a file) and runs
#      the load benchmark: closed loops (Health/Check, GetOrganization,
#      GetGrant, audited CreateOrganization), open loops at half the reads'
#      rates, an overload at twice GetOrganization's rate, resident memory idle
#      and with 1,000 calls in flight;
#   4. the same reads on the embedded SQLite;
#   5. audited CreateOrganization through 1, 2 and 3 replicas of the server on one
#      PostgreSQL (issue 21): each replica with a load generator of its own
#      (BENCH_CONCURRENCY calls in flight each), all at once; the rates summed;
#   6. P9: a database with the demo portfolio (tipgrants seed-demo) and copies of
#      its accepted outcomes (one INSERT ... SELECT per size), and at each size
#      StreamFiscalYearReport by country over every fiscal year of the outcomes
#      (a fresh server, the median of 3) beside one SQL GROUP BY of the same
#      outcomes by project, country, kind and fiscal year (psql \timing,
#      median of 3);
#   7. prints one table: absolute numbers, ratios, and the goals of issues 12 and 24.
#
# Everything listens on loopback only; every wait is bounded. The results
# (key value lines) are kept in target/bench/. Settings (environment):
#   BENCH_DURATION_SECONDS  measured seconds per run (8)
#   BENCH_WARMUP_SECONDS    warm-up seconds per run, not recorded (2)
#   BENCH_CONCURRENCY       calls in flight, and pgbench clients (8)
#   BENCH_CONNECTIONS       HTTP/2 connections; pgbench threads (-j) (2)
#   BENCH_OPEN_CONNECTIONS  HTTP/2 connections of the open loops (16: the server allows 100
#                           streams per connection, so the generator never holds calls back)
#   BENCH_THREADS           the load generator's runtime threads (2)
#   BENCH_PGBENCH_SCALE     pgbench -i scale (10: a million accounts)
#   BENCH_MEMORY_IN_FLIGHT  calls in flight for the memory measure (10000, over one HTTP/2
#                           connection per 100 calls; admission serves 100, refuses the rest)
#   BENCH_MEMORY_SERVED     calls in flight for the memory measure with all of them served
#                           (1000; the server's limit raised to it)
#   BENCH_PERF              1: also profile GetOrganization on PostgreSQL with
#                           perf (report in target/bench/)
#   BENCH_SKIP_BUILD        1: use the binaries already in target/release
#   BENCH_P9_SIZES          accepted outcomes P9 measures at, ascending (100000,1000000)
#   BENCH_P9_ONLY           1: only P9 (no pgbench, no load loops)
#   BENCH_KEEP_LOGS         1: keep the servers' logs in target/bench/ (large: one line per call)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

log() { echo "bench: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

export BENCH_DURATION_SECONDS="${BENCH_DURATION_SECONDS:-8}"
export BENCH_WARMUP_SECONDS="${BENCH_WARMUP_SECONDS:-2}"
export BENCH_CONCURRENCY="${BENCH_CONCURRENCY:-8}"
export BENCH_CONNECTIONS="${BENCH_CONNECTIONS:-2}"
export BENCH_THREADS="${BENCH_THREADS:-2}"
BENCH_PGBENCH_SCALE="${BENCH_PGBENCH_SCALE:-10}"
BENCH_MEMORY_IN_FLIGHT="${BENCH_MEMORY_IN_FLIGHT:-10000}"
BENCH_MEMORY_SERVED="${BENCH_MEMORY_SERVED:-1000}"
BENCH_P9_SIZES="${BENCH_P9_SIZES:-100000,1000000}"
[[ "$BENCH_P9_SIZES" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "BENCH_P9_SIZES: whole numbers, comma separated"

for name in BENCH_DURATION_SECONDS BENCH_WARMUP_SECONDS BENCH_CONCURRENCY BENCH_CONNECTIONS \
    BENCH_THREADS BENCH_PGBENCH_SCALE BENCH_MEMORY_IN_FLIGHT BENCH_MEMORY_SERVED; do
    [[ "${!name}" =~ ^[0-9]+$ ]] || die "$name must be a whole number, not '${!name}'"
done
((BENCH_DURATION_SECONDS >= 1 && BENCH_DURATION_SECONDS <= 600)) || die "BENCH_DURATION_SECONDS: 1 to 600"
((BENCH_WARMUP_SECONDS <= 600)) || die "BENCH_WARMUP_SECONDS: 0 to 600"
((BENCH_CONCURRENCY >= 1 && BENCH_CONCURRENCY <= 1000)) || die "BENCH_CONCURRENCY: 1 to 1000"
((BENCH_CONNECTIONS >= 1 && BENCH_CONNECTIONS <= 100)) || die "BENCH_CONNECTIONS: 1 to 100"
((BENCH_MEMORY_IN_FLIGHT >= 1 && BENCH_MEMORY_IN_FLIGHT <= 10000)) || die "BENCH_MEMORY_IN_FLIGHT: 1 to 10000"
((BENCH_MEMORY_SERVED >= 1 && BENCH_MEMORY_SERVED <= 10000)) || die "BENCH_MEMORY_SERVED: 1 to 10000"

SERVER="$REPO/target/release/tipgrants"
LOAD="$REPO/target/release/tipgrants-load"

# ------------------------------------------------- outside: build, then PostgreSQL --

if [[ -z "${BENCH_INSIDE_POSTGRES:-}" ]]; then
    if [[ "${BENCH_SKIP_BUILD:-}" != 1 ]]; then
        log "building the release server and the load benchmark ..."
        cargo build --release --quiet -p tipgrants -p tipgrants-load
    fi
    [[ -x "$SERVER" && -x "$LOAD" ]] || die "missing $SERVER or $LOAD (build them, or unset BENCH_SKIP_BUILD)"
    # A throwaway server always: pgbench -i rewrites its tables.
    BENCH_INSIDE_POSTGRES=1 exec env -u TEST_DATABASE_URL "$REPO/scripts/with-postgres.sh" "$0" "$@"
fi

# ------------------------------------------------------ inside: PostgreSQL runs --

[[ "${TEST_DATABASE_URL:-}" =~ ^postgres://([^@/]+)@([0-9.]+):([0-9]+)/ ]] \
    || die "unexpected TEST_DATABASE_URL '${TEST_DATABASE_URL:-}'"
PGUSER_NAME="${BASH_REMATCH[1]}"
PGHOST_ADDR="${BASH_REMATCH[2]}"
PGPORT_NUM="${BASH_REMATCH[3]}"

find_pgbench() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
        if [[ -x "$dir/pgbench" ]]; then
            echo "$dir/pgbench"
            return
        fi
    done
    command -v pgbench
}
PGBENCH="$(find_pgbench)" || die "pgbench not found (Debian package postgresql-contrib or postgresql)"
PSQL="$(dirname "$PGBENCH")/psql"
[[ -x "$PSQL" ]] || PSQL="$(command -v psql)" || die "psql not found"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tipgrants-bench.XXXXXXXX")"
OUT="$REPO/target/bench"
mkdir -p "$OUT"
RESULTS="$WORK/results.txt"
: >"$RESULTS"
SERVER_PID=""
REPLICA_PIDS=()

stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        local _
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
stop_replicas() {
    local pid
    for pid in "${REPLICA_PIDS[@]}"; do
        SERVER_PID="$pid"
        stop_server
    done
    REPLICA_PIDS=()
}
# shellcheck disable=SC2317  # invoked by trap
cleanup() {
    local rc=$?
    trap - EXIT
    stop_server
    stop_replicas
    if [[ "${BENCH_KEEP_LOGS:-}" == 1 ]]; then
        cp "$WORK"/server-*.log "$OUT/" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT

pg() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U "$PGUSER_NAME" "$@"; }
pg -d postgres -c "CREATE DATABASE pgbench" -c "CREATE DATABASE tipgrants"

# pgbench prints "tps = 12345.678901 (without initial connection time)".
pgbench_tps() {
    local output
    output="$("$PGBENCH" -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U "$PGUSER_NAME" -n -M prepared \
        -c "$BENCH_CONCURRENCY" -j "$BENCH_CONNECTIONS" -T "$BENCH_DURATION_SECONDS" "$@" pgbench 2>&1)" \
        || die "pgbench $* failed: $output"
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$output" | head -n1
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
STARTED="$(date -u '+%Y-%m-%d %H:%M UTC')"
log "started $STARTED, load average $LOAD_BEFORE"

# Starts the release server with TIPGRANTS__* settings ("$@": NAME=VALUE pairs) on port 0,
# and waits (at most 60 s) for its "serving gRPC address=..." line. On a new database it
# writes the bootstrap token to $WORK/token-NAME (a second server on it reuses the first's).
start_server() {
    local name="$1"
    shift
    local server_log="$WORK/server-$name.log"
    env TIPGRANTS__SERVER__LISTEN_ADDRESS=127.0.0.1:0 \
        TIPGRANTS__AUTH__BOOTSTRAP_TOKEN_FILE="$WORK/token-$name" \
        TIPGRANTS__TELEMETRY__FORMAT=pretty \
        "$@" "$SERVER" serve >"$server_log" 2>&1 &
    SERVER_PID=$!
    local _ address=""
    for _ in $(seq 1 600); do
        address="$(grep -o -m1 'serving gRPC address=127\.0\.0\.1:[0-9]*' "$server_log" | sed 's/.*address=//' || true)"
        [[ -n "$address" ]] && break
        kill -0 "$SERVER_PID" 2>/dev/null || die "the server stopped: $(tail -n 20 "$server_log")"
        sleep 0.1
    done
    [[ -n "$address" ]] || die "the server did not start within 60 s: $(tail -n 20 "$server_log")"
    SERVER_ADDRESS="$address"
    log "$name server (pid $SERVER_PID) at $SERVER_ADDRESS"
}

load() {
    "$LOAD" --address "$SERVER_ADDRESS" --token-file "$WORK/token-$1" --results "$RESULTS" "${@:2}"
}

# Everything but P9 (left unindented: its here-documents end at the margin).
if [[ "${BENCH_P9_ONLY:-}" != 1 ]]; then
log "pgbench -i -s $BENCH_PGBENCH_SCALE ..."
"$PGBENCH" -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U "$PGUSER_NAME" -i -q -s "$BENCH_PGBENCH_SCALE" pgbench \
    >"$WORK/pgbench-init.log" 2>&1 || die "pgbench -i failed: $(tail -n 5 "$WORK/pgbench-init.log")"
log "pgbench -S -M prepared, $BENCH_CONCURRENCY clients, ${BENCH_DURATION_SECONDS}s ..."
SELECT_TPS="$(pgbench_tps -S)"
log "  $SELECT_TPS tps"
log "pgbench TPC-B -M prepared, $BENCH_CONCURRENCY clients, ${BENCH_DURATION_SECONDS}s ..."
TPCB_TPS="$(pgbench_tps)"
log "  $TPCB_TPS tps"
cat >>"$RESULTS" <<EOF
pgbench.clients $BENCH_CONCURRENCY
pgbench.threads $BENCH_CONNECTIONS
pgbench.scale $BENCH_PGBENCH_SCALE
pgbench.select.tps $SELECT_TPS
pgbench.tpcb.tps $TPCB_TPS
EOF

log "load benchmark on PostgreSQL ..."
start_server postgres \
    TIPGRANTS__DATABASE__URL="postgres://$PGUSER_NAME@$PGHOST_ADDR:$PGPORT_NUM/tipgrants"
load postgres suite --label postgres --server-pid "$SERVER_PID" --open --overload \
    --memory-in-flight "$BENCH_MEMORY_IN_FLIGHT"
if [[ "${BENCH_PERF:-}" == 1 ]]; then
    command -v perf >/dev/null 2>&1 || die "BENCH_PERF=1 needs perf"
    log "profiling GetOrganization (perf record -g -p $SERVER_PID) ..."
    perf record -q -g -o "$WORK/perf.data" -p "$SERVER_PID" -- sleep "$((BENCH_WARMUP_SECONDS + BENCH_DURATION_SECONDS))" &
    PERF_PID=$!
    "$LOAD" --address "$SERVER_ADDRESS" --token-file "$WORK/token-postgres" closed --scenario get-organization >&2
    wait "$PERF_PID" || true
    perf report -i "$WORK/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null \
        | head -n 200 >"$OUT/perf-get-organization.txt" || true
    log "profile: $OUT/perf-get-organization.txt"
fi
stop_server

# Admission refuses all but 100 of the calls above: measure calls all served at once too (one
# token sends them all, so its own share is raised with the total).
log "memory with $BENCH_MEMORY_SERVED calls served at once ..."
start_server postgres-served \
    TIPGRANTS__DATABASE__URL="postgres://$PGUSER_NAME@$PGHOST_ADDR:$PGPORT_NUM/tipgrants" \
    TIPGRANTS__SERVER__MAX_CALLS_IN_FLIGHT="$BENCH_MEMORY_SERVED" \
    TIPGRANTS__SERVER__MAX_CALLS_IN_FLIGHT_PER_TOKEN="$BENCH_MEMORY_SERVED"
load postgres suite --label postgres-served --server-pid "$SERVER_PID" --memory-only \
    --memory-in-flight "$BENCH_MEMORY_SERVED"
stop_server

log "the same reads on embedded SQLite ..."
start_server sqlite TIPGRANTS__DATABASE__URL= TIPGRANTS__DATABASE__SQLITE_PATH="$WORK/bench.sqlite3"
load sqlite suite --label sqlite --server-pid "$SERVER_PID" --scenarios get-organization,get-grant
stop_server

log "audited creates through 1, 2 and 3 replicas on one PostgreSQL ..."
pg -d postgres -c "CREATE DATABASE replicas"
REPLICAS_URL="postgres://$PGUSER_NAME@$PGHOST_ADDR:$PGPORT_NUM/replicas"
REPLICA_ADDRESSES=()
for INDEX in 1 2 3; do
    # The first replica makes the database (and the token file); the others find it ready.
    start_server "replica-$INDEX" TIPGRANTS__DATABASE__URL="$REPLICAS_URL"
    REPLICA_PIDS+=("$SERVER_PID")
    REPLICA_ADDRESSES+=("$SERVER_ADDRESS")
    SERVER_PID=""
done
for COUNT in 1 2 3; do
    RUN_PIDS=()
    for ((INDEX = 0; INDEX < COUNT; INDEX++)); do
        "$LOAD" --address "${REPLICA_ADDRESSES[INDEX]}" --token-file "$WORK/token-replica-1" \
            --results "$WORK/replicas-$COUNT-$INDEX.txt" closed --scenario create-organization >&2 &
        RUN_PIDS+=("$!")
    done
    for PID in "${RUN_PIDS[@]}"; do
        wait "$PID" || die "a load generator of $COUNT replica(s) failed"
    done
    awk -v count="$COUNT" '
        $1 == "closed.create-organization.rate" { rate += $2 }
        $1 == "closed.create-organization.failed" { failed += $2 }
        END { printf "replicas.%d.creates_per_second %.1f\nreplicas.%d.failed %d\n", count, rate, count, failed }' \
        "$WORK"/replicas-"$COUNT"-*.txt >>"$RESULTS"
    log "  $COUNT replica(s): $(tail -n 2 "$RESULTS" | tr '\n' ' ')"
done
stop_replicas
fi

# ------------------------------------------------------------------------ P9 --

# The accepted outcomes a report counts, and the yardstick: one GROUP BY of them by the parts
# of the k rule (project, country, kind, fiscal year), as psql times it (its \timing: the
# statement's round trip, rows sent and thrown away; no start or connection).
ACCEPTED_SQL="FROM outcomes o JOIN outcome_reports r ON r.id = o.report_id \
WHERE r.state = 'ACCEPTED' AND o.delete_time IS NULL"
GROUP_BY_SQL="SELECT r.project_id, o.country_code, o.kind, o.fiscal_year, count(*), \
sum(o.quantity) $ACCEPTED_SQL GROUP BY r.project_id, o.country_code, o.kind, o.fiscal_year"

# Adds copies of the demo's accepted outcomes (spread over its accepted reports) from $1 to $2.
fill_outcomes() {
    pg -d reports -c "WITH model AS (SELECT row_number() OVER (ORDER BY o.id) - 1 AS k, o.* \
        FROM outcomes o JOIN outcome_reports r ON r.id = o.report_id \
        WHERE r.state = 'ACCEPTED' AND o.milestone_id IS NULL AND o.id NOT LIKE 'bench-%'), \
        n AS (SELECT count(*) AS models FROM model) \
        INSERT INTO outcomes (id, report_id, kind, country_code, outcome_date, fiscal_year, \
        quantity, breakdown, first_for_country, description, evidence_uri, indicator_id, \
        milestone_id, create_time, update_time, delete_time, revision) \
        SELECT 'bench-' || lpad(g::text, 8, '0'), m.report_id, m.kind, m.country_code, \
        m.outcome_date, m.fiscal_year, m.quantity, m.breakdown, false, m.description, \
        m.evidence_uri, m.indicator_id, NULL, m.create_time, m.update_time, NULL, 1 \
        FROM generate_series($(($1 + 1)), $2) g, n, model m WHERE m.k = g % n.models" \
        -c "ANALYZE outcomes" -c "ANALYZE outcome_reports"
}

# The median of psql's \timing of the GROUP BY over 3 runs, in microseconds.
group_by_us() {
    local times
    times="$(for _ in 1 2 3; do
        pg -d reports -o /dev/null -c '\timing on' -c "$GROUP_BY_SQL" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
    done | sort -n)"
    [[ "$(wc -l <<<"$times")" == 3 ]] || die "psql printed no timing: $times"
    awk 'NR == 2 { printf "%.0f\n", $1 * 1000 }' <<<"$times"
}

log "P9: the demo portfolio (seed-demo) ..."
pg -d postgres -c "CREATE DATABASE reports"
REPORTS_URL="postgres://$PGUSER_NAME@$PGHOST_ADDR:$PGPORT_NUM/reports"
env TIPGRANTS__DATABASE__URL="$REPORTS_URL" TIPGRANTS__TELEMETRY__FILTER=warn \
    "$SERVER" seed-demo >"$WORK/seed-demo.log" 2>&1 || die "seed-demo failed: $(tail -n 20 "$WORK/seed-demo.log")"
echo "p9.sizes $BENCH_P9_SIZES" >>"$RESULTS"
FILLED=0
for SIZE in ${BENCH_P9_SIZES//,/ }; do
    ((SIZE > FILLED)) || die "BENCH_P9_SIZES must ascend"
    log "P9: $SIZE copies of the accepted outcomes ..."
    FILL_STARTED=$SECONDS
    fill_outcomes "$FILLED" "$SIZE"
    FILLED=$SIZE
    log "  filled in $((SECONDS - FILL_STARTED)) s"
    read -r ACCEPTED FROM_YEAR TO_YEAR <<<"$(pg -d reports -At -F ' ' \
        -c "SELECT count(*), min(o.fiscal_year), max(o.fiscal_year) $ACCEPTED_SQL")"
    SQL_US="$(group_by_us)"
    log "  $ACCEPTED accepted outcomes, FY $FROM_YEAR-$TO_YEAR; GROUP BY (psql, median of 3): $SQL_US us"
    echo "p9.$SIZE.accepted $ACCEPTED" >>"$RESULTS"
    echo "p9.$SIZE.sql_us $SQL_US" >>"$RESULTS"
    # A fresh server per size; one token file (the database keeps its first bootstrap token).
    start_server reports TIPGRANTS__DATABASE__URL="$REPORTS_URL"
    load reports --call-timeout 600 report-by-country --outcomes "$SIZE" \
        --from-year "$FROM_YEAR" --to-year "$TO_YEAR" --runs 3 >&2
    stop_server
done

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
cp "$RESULTS" "$OUT/results-$STAMP.txt"
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "load.before $LOAD_BEFORE" >>"$OUT/results-$STAMP.txt"
echo "load.after $LOAD_AFTER" >>"$OUT/results-$STAMP.txt"
echo
echo "tipgrants under load, $(nproc) cores, PostgreSQL $("$PGBENCH" --version | awk '{print $3}') on loopback," \
    "${BENCH_CONCURRENCY} in flight over ${BENCH_CONNECTIONS} connections (open loops over ${BENCH_OPEN_CONNECTIONS:-16})," \
    "${BENCH_WARMUP_SECONDS}s warm-up + ${BENCH_DURATION_SECONDS}s per run; started $STARTED, load average" \
    "$LOAD_BEFORE before and $LOAD_AFTER after (1, 5, 15 minutes):"
echo
"$LOAD" --results "$RESULTS" report
echo "(kept in $OUT/results-$STAMP.txt)"
