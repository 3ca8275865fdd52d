#!/usr/bin/env bash
# Roster's benchmark. Builds the server in release mode, seeds a fresh PostgreSQL database with
# the dataset of DATASET.md (scale S, or L with --scale L), starts the server, checks every
# answer against the dataset's formula, then drives each query with wrk (load.sh) and prints one
# line per query: requests/s, p50, p99, errors, SQL statements per request, peak RSS.
#
#   bench/run.sh [--scale S|L] [--seconds 15] [--concurrency 32] [--keep]
#                [--peer DIR [--rounds 3]] [q1 q2 q3 m1]
#
# --peer DIR measures a peer in the same run, interleaved: for each query, ROUNDS rounds of
# Roster then the peer (both servers up, both databases vacuumed before each round), then the
# medians and their ratios. DIR holds the peer's start.sh, stop.sh and q1.graphql … m1.graphql
# (../shared/bench/postgraphile: PostGraphile on its own database, set up as its README says).
#
# Env: BENCH_PG (server URL without database, default postgres://postgres@127.0.0.1:5432),
#      BENCH_PORT (5201), BENCH_POOL (database connections of the server, default 16),
#      PEER_DB (the peer's database, default peer_postgraphile), PEER_PORT (5101).
# Needs wrk, jq, curl, psql and python3. Any error or wrong answer stops it with status 2.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/server.sh"
ROOT="$(dirname "$HERE")"
SCALE=S; SECS=15; CONC=32; KEEP=0; QUERIES=(); PEER=""; ROUNDS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --seconds) SECS="$2"; shift 2 ;;
    --concurrency) CONC="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --peer) PEER="$(cd "$2" && pwd)"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) QUERIES+=("$1"); shift ;;
  esac
done
[ ${#QUERIES[@]} -gt 0 ] || QUERIES=(q1 q2 q3 m1)
if [ -z "$ROUNDS" ]; then
  if [ -n "$PEER" ]; then ROUNDS=3; else ROUNDS=1; fi
fi
case "$SCALE" in
  S) USERS=10000; PROFILES=2000 ;;
  L) USERS=1000000; PROFILES=200000 ;;
  *) echo "--scale is S or L" >&2; exit 64 ;;
esac
LINKS=5
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
PORT="${BENCH_PORT:-5201}"
URL="http://127.0.0.1:$PORT/graphql"
DB="roster_bench_$(date +%s)_$$"
PEER_DB="${PEER_DB:-peer_postgraphile}"
PEER_PORT="${PEER_PORT:-5101}"
for tool in wrk jq curl psql python3; do
  command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install -y wrk jq curl postgresql-client python3)" >&2; exit 1; }
done

SERVER=""; PEER_PID=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  [ -n "$PEER_PID" ] && PORT="$PEER_PORT" "$PEER/stop.sh" >/dev/null 2>&1
  if [ "$KEEP" = 1 ]; then
    echo "kept database $DB" >&2
  else
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

echo "building (release)…" >&2
(cd "$ROOT" && cargo build --release -q -p api)
API="$ROOT/target/release/api"
psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null
export DATABASE_URL="$PG/$DB"
"$API" seed --users "$USERS" --profiles "$PROFILES" --links-per-user "$LINKS" 2>/dev/null >&2
echo "bench admin password" | "$API" create-user --email bench-admin@example.com --admin >/dev/null 2>&1

# Default limits: Q1 may return 50 + 500 + 5,000 nodes, well within QUERY_MAX_COMPLEXITY.
JWT_SECRET="$(head -c 32 /dev/urandom | base64)" ACCESS_TOKEN_TTL=4h LISTEN_ADDR="127.0.0.1:$PORT" \
  DATABASE_MAX_CONNECTIONS="${BENCH_POOL:-16}" RUST_LOG=warn "$API" serve >/dev/null 2>"/tmp/roster-bench-$$.log" &
SERVER=$!
wait_for_server "$PORT" "$SERVER" "/tmp/roster-bench-$$.log" 10
TOKEN="$(bench_admin_token "$URL")"

python3 "$HERE/verify.py" "$URL" "$TOKEN" "$USERS" "$PROFILES" "$LINKS" >&2 || exit 2
# Peak memory under load: forget the peak of start-up and of the one login above (an argon2id
# hash holds 64 MiB while it runs), so the figure is the serving of queries.
echo 5 > "/proc/$SERVER/clear_refs" 2>/dev/null || echo "could not reset the peak RSS; it includes start-up" >&2
if [ -n "$PEER" ]; then
  PEER_PID="$(PORT="$PEER_PORT" "$PEER/start.sh")"
fi

# SQL statements per request, from the server's own count (BEGIN/COMMIT not included).
statements() {
  curl -sf "http://127.0.0.1:$PORT/metrics" | awk '
    /^roster_graphql_sql_statements_per_request_sum/ { s = $2 }
    /^roster_graphql_sql_statements_per_request_count/ { c = $2 }
    END { print s + 0, c + 0 }'
}

# As the peer's bench.sh does: start each run on a quiet machine (< 8 % busy over 3 s, waiting
# at most 60 s), so work left by the seed (autovacuum) or by others is not measured.
busy_pct() {
  local b0 i0 b1 i1
  read -r b0 i0 < <(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat); sleep 3
  read -r b1 i1 < <(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
  echo $(( 100 * (b1 - b0) / ((b1 - b0) + (i1 - i0) + 1) ))
}
quiet() { for _ in $(seq 1 20); do [ "$(busy_pct)" -lt 8 ] && break; done; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# One measured run of Roster: its load.sh line, with the server's own SQL count.
roster_run() {
  local query="$1" line sum0 count0 sum1 count1
  read -r sum0 count0 < <(statements)
  line="$(THREADS=2 "$HERE/load.sh" "$URL" "$HERE/queries/$query.graphql" "$CONC" "$SECS" "Authorization: Bearer $TOKEN" 2>/dev/null)" \
    || { echo "$query: $line" >&2; exit 2; }
  read -r sum1 count1 < <(statements)
  echo "$line sql=$(awk -v s=$((${sum1%.*} - ${sum0%.*})) -v c=$((${count1%.*} - ${count0%.*})) 'BEGIN { printf "%.2f", (c > 0) ? s / c : 0 }')"
}

# One measured run of the peer (its SQL count from pg_stat_statements, its database only).
peer_run() {
  local query="$1" line
  line="$(PGSS_DB="$PEER_DB" THREADS=2 "$HERE/load.sh" "http://127.0.0.1:$PEER_PORT/graphql" "$PEER/$query.graphql" "$CONC" "$SECS" 2>/dev/null)" \
    || { echo "peer $query: $line" >&2; exit 2; }
  echo "$line sql=$(field sql_per_req "$line")"
}

summary() {
  local who="$1" line="$2" pid="$3"
  printf '%s rps=%s p50_ms=%s p99_ms=%s errors=%s sql_per_req=%s peak_rss_mib=%s' "$who" \
    "$(field rps "$line")" "$(field p50_ms "$line")" "$(field p99_ms "$line")" \
    "$(field errors "$line")" "$(field sql "$line")" "$("$HERE/rss.sh" "$pid")"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "scale $SCALE ($USERS users, $PROFILES profiles, $((USERS * LINKS)) links), concurrency $CONC, ${SECS}s, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
for query in "${QUERIES[@]}"; do
  roster_rps=(); roster_p99=(); peer_rps=(); peer_p99=()
  for round in $(seq 1 "$ROUNDS"); do
    if [ -n "$PEER" ]; then
      # Both databases as fresh: the dead rows M1 leaves behind slow the next queries.
      psql "$PG/$DB" -qc 'VACUUM ANALYZE' >/dev/null
      psql "$PG/$PEER_DB" -qc 'VACUUM ANALYZE' >/dev/null
    fi
    quiet
    line="$(roster_run "$query")"
    roster_rps+=("$(field rps "$line")"); roster_p99+=("$(field p99_ms "$line")")
    if [ "$ROUNDS" = 1 ]; then
      printf '%-3s %s\n' "$query" "$(summary "" "$line" "$SERVER" | sed 's/^ //')"
    else
      printf '%-3s round %s %s\n' "$query" "$round" "$(summary roster "$line" "$SERVER")"
    fi
    [ -n "$PEER" ] || continue
    quiet
    line="$(peer_run "$query")"
    peer_rps+=("$(field rps "$line")"); peer_p99+=("$(field p99_ms "$line")")
    printf '%-3s round %s %s\n' "$query" "$round" "$(summary peer "$line" "$PEER_PID")"
  done
  if [ -n "$PEER" ]; then
    r_rps=$(printf '%s\n' "${roster_rps[@]}" | median); r_p99=$(printf '%s\n' "${roster_p99[@]}" | median)
    p_rps=$(printf '%s\n' "${peer_rps[@]}" | median); p_p99=$(printf '%s\n' "${peer_p99[@]}" | median)
    awk -v q="$query" -v rr="$r_rps" -v rp="$r_p99" -v pr="$p_rps" -v pp="$p_p99" 'BEGIN {
      printf "%-3s medians roster rps=%s p99_ms=%s peer rps=%s p99_ms=%s ratio rps=%.2fx p99=1/%.1f\n",
        q, rr, rp, pr, pp, rr / pr, pp / rp }'
  elif [ "$ROUNDS" -gt 1 ]; then
    printf '%-3s median rps=%s p99_ms=%s\n' "$query" "$(printf '%s\n' "${roster_rps[@]}" | median)" "$(printf '%s\n' "${roster_p99[@]}" | median)"
  fi
done
python3 "$HERE/verify.py" "$URL" "$TOKEN" "$USERS" "$PROFILES" "$LINKS" >/dev/null || { echo "answers changed under load" >&2; exit 2; }
