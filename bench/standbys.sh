#!/usr/bin/env bash
# Queries with one primary and one hot standby: seeds a fresh scale-S database, makes a
# standby of the cluster (pg_basebackup -R, started on a port of its own with PostgreSQL's own
# binaries, as the postgres user when run as root), and drives each query twice, the server
# reading from the primary alone and then with DATABASE_READ_URL naming the standby. Prints
# per run: requests/s, p50/p99, and the statements per request each server ran (pg_stat_database
# transactions of the bench database: a read outside a transaction is one).
#
#   bench/standbys.sh [--seconds 15] [--concurrency 32] [q2 q3]
#
# Needs the cluster at BENCH_PG (default postgres://postgres@127.0.0.1:5432) to accept
# replication connections from 127.0.0.1 (`.ci/run` allows them), wrk, jq, curl, psql.
# Env: BENCH_PORT (5205), BENCH_STANDBY_PORT (5433).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/server.sh"
ROOT="$(dirname "$HERE")"
SECS=15; CONC=32; QUERIES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECS="$2"; shift 2 ;;
    --concurrency) CONC="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) QUERIES+=("$1"); shift ;;
  esac
done
[ ${#QUERIES[@]} -gt 0 ] || QUERIES=(q2 q3)
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
PORT="${BENCH_PORT:-5205}"
STANDBY_PORT="${BENCH_STANDBY_PORT:-5433}"
URL="http://127.0.0.1:$PORT/graphql"
WORK="$(mktemp -d)"
chmod 755 "$WORK"
DB="roster_standby_$(date +%s)_$$"
POSTGRES=1
SERVER=""
BIN="$(pg_config --bindir 2>/dev/null || echo "/usr/lib/postgresql/$(( $(psql "$PG/postgres" -Atc 'SHOW server_version_num') / 10000 ))/bin")"
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  [ -d "$WORK/standby" ] && as_postgres "$BIN/pg_ctl" -D "$WORK/standby" stop -m immediate >/dev/null 2>&1
  drop_fresh_database
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building (release)…" >&2
(cd "$ROOT" && cargo build --release -q -p api)
API="$ROOT/target/release/api"
use_fresh_database
"$API" seed --users 10000 --profiles 2000 --links-per-user 5 2>/dev/null >&2
echo "bench admin password" | "$API" create-user --email bench-admin@example.com --admin >/dev/null 2>&1

# The standby, once the seeded database is in the cluster.
mkdir -p "$WORK/standby" && chmod 700 "$WORK/standby"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$WORK/standby"
as_postgres pg_basebackup -h 127.0.0.1 -p 5432 -U postgres -D "$WORK/standby" -R -X stream -c fast
{
  echo "port = $STANDBY_PORT"; echo "listen_addresses = '127.0.0.1'"
  echo "unix_socket_directories = '$WORK/standby'"; echo "hot_standby = on"
  for setting in max_connections max_worker_processes max_wal_senders max_prepared_transactions max_locks_per_transaction shared_buffers; do
    echo "$setting = '$(psql "$PG/postgres" -Atc "SHOW $setting")'"
  done
} >"$WORK/standby/postgresql.conf"
printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$WORK/standby/pg_hba.conf"
: >"$WORK/standby/pg_ident.conf"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$WORK/standby"/*.conf
as_postgres "$BIN/pg_ctl" -D "$WORK/standby" -l "$WORK/standby/log" -w -t 60 start >/dev/null
STANDBY="postgres://postgres@127.0.0.1:$STANDBY_PORT"

# Transactions of the bench database on the server at $1 so far.
transactions() { psql "$1/postgres" -Atc "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$DB'"; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

start_server() {
  JWT_SECRET="$(head -c 32 /dev/urandom | base64)" ACCESS_TOKEN_TTL=4h LISTEN_ADDR="127.0.0.1:$PORT" \
    DATABASE_READ_URL="$1" RUST_LOG=warn "$API" serve >/dev/null 2>"$WORK/server.log" &
  SERVER=$!
  wait_for_server "$PORT" "$SERVER" "$WORK/server.log" 10
  if [ -n "$1" ]; then
    for _ in $(seq 1 100); do
      [ "$(curl -sf "http://127.0.0.1:$PORT/health" | jq -r '.standbys[0].inUse')" = true ] && return 0
      sleep 0.1
    done
    echo "the standby never came into use" >&2; exit 1
  fi
}
stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; }

echo "scale S, concurrency $CONC, ${SECS}s, $(nproc) cores, primary and standby on this machine, $(date -u +%Y-%m-%dT%H:%MZ)"
for reads in "" "$STANDBY/$DB"; do
  label=primary-only; [ -n "$reads" ] && label=with-standby
  start_server "$reads"
  TOKEN="$(bench_admin_token "$URL")"
  for query in "${QUERIES[@]}"; do
    p0="$(transactions "$PG")"; s0="$(transactions "$STANDBY")"
    line="$(THREADS=2 "$HERE/load.sh" "$URL" "$HERE/queries/$query.graphql" "$CONC" "$SECS" "Authorization: Bearer $TOKEN" 2>/dev/null)" \
      || { echo "$query: $line" >&2; exit 2; }
    sleep 1
    p1="$(transactions "$PG")"; s1="$(transactions "$STANDBY")"
    requests="$(awk -v r="$(field rps "$line")" -v s="$SECS" 'BEGIN { printf "%d", r * s }')"
    printf '%-3s %-14s rps=%s p50_ms=%s p99_ms=%s primary_statements_per_req=%s standby_statements_per_req=%s\n' \
      "$query" "$label" "$(field rps "$line")" "$(field p50_ms "$line")" \
      "$(field p99_ms "$line")" \
      "$(awk -v d=$((p1 - p0)) -v n="$requests" 'BEGIN { printf "%.2f", n ? d / n : 0 }')" \
      "$(awk -v d=$((s1 - s0)) -v n="$requests" 'BEGIN { printf "%.2f", n ? d / n : 0 }')"
  done
  stop_server
done
