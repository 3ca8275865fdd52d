#!/usr/bin/env bash
# The server's instructions per request, counted by valgrind's callgrind: unlike requests/s, the
# count is the same from run to run whatever else the machine does, so it shows a change to the
# server's code that is smaller than the noise of a load test. PostgreSQL's work is not counted,
# nor password hashing.
#
#   bench/instructions.sh [--requests N] [--bin PATH] [--keep-profiles DIR] [q1 q2 q3]
#
# Needs a database seeded by `bench/run.sh --keep` (it prints "kept database NAME"):
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/NAME bench/instructions.sh q1 q2
# Builds the release binary unless --bin is given. Sends 3 warm-up requests, then N (default
# 10) one after the other, and prints one line per query: instructions per request. With
# --keep-profiles, each query's callgrind profile is kept as DIR/<query>.callgrind, for
# `callgrind_annotate --inclusive=yes`.
# Needs valgrind, curl and jq.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/server.sh"
ROOT="$(dirname "$HERE")"
REQUESTS=10; BIN=""; QUERIES=(); PROFILES=""
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) REQUESTS="$2"; shift 2 ;;
    --bin) BIN="$2"; shift 2 ;;
    --keep-profiles) PROFILES="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) QUERIES+=("$1"); shift ;;
  esac
done
[ ${#QUERIES[@]} -gt 0 ] || QUERIES=(q1 q2 q3)
: "${DATABASE_URL:?set DATABASE_URL to a database seeded by bench/run.sh --keep}"
for tool in valgrind callgrind_control callgrind_annotate curl jq; do
  command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install -y valgrind curl jq)" >&2; exit 1; }
done
if [ -z "$BIN" ]; then
  (cd "$ROOT" && cargo build --release -q -p api)
  BIN="$ROOT/target/release/api"
fi
PORT="${BENCH_PORT:-5202}"
URL="http://127.0.0.1:$PORT/graphql"
WORK="$(mktemp -d)"
VALGRIND=""
cleanup() {
  [ -n "$VALGRIND" ] && kill "$VALGRIND" 2>/dev/null && wait "$VALGRIND" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

JWT_SECRET="$(head -c 32 /dev/urandom | base64)" LISTEN_ADDR="127.0.0.1:$PORT" RUST_LOG=warn \
  valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" "$BIN" serve >/dev/null 2>"$WORK/valgrind.log" &
VALGRIND=$!
# Under valgrind, start-up (migrations included) takes a while.
wait_for_server "$PORT" "$VALGRIND" "$WORK/valgrind.log" 120
token="$(bench_admin_token "$URL")"

# A dump writes callgrind.out.N and zeroes the counters; it happens when valgrind gets to it, so
# wait for its file (and ask again if it does not come).
dumps=0
dump() {
  dumps=$((dumps + 1))
  for _ in 1 2 3; do
    callgrind_control --dump "$VALGRIND" >/dev/null 2>&1 || true
    for _ in $(seq 1 100); do
      [ -s "$WORK/callgrind.out.$dumps" ] && return 0
      sleep 0.1
    done
  done
  echo "callgrind did not dump" >&2
  exit 1
}

for query in "${QUERIES[@]}"; do
  jq -Rs '{query: .}' "$HERE/queries/$query.graphql" >"$WORK/body.json"
  request() {
    local answer
    answer="$(curl -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $token" "$URL" -d @"$WORK/body.json")"
    if jq -e '.errors' <<<"$answer" >/dev/null; then echo "$query answered with errors: $answer" >&2; exit 2; fi
  }
  for _ in 1 2 3; do request; done
  dump # everything so far, left out
  for _ in $(seq 1 "$REQUESTS"); do request; done
  dump
  # Password hashing is left out: the stand-in hash the server computes as it starts, and the
  # bench admin's login, may still run on the blocking pool while requests are counted.
  counts="$(callgrind_annotate --inclusive=yes "$WORK/callgrind.out.$dumps" 2>/dev/null | awk '
    /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1 }
    /argon2::Argon2::hash_password_into / { gsub(",", "", $1); hashing += $1 }
    END { print total - hashing }')"
  printf '%-3s instructions_per_request=%s requests=%s\n' "$query" "$((counts / REQUESTS))" "$REQUESTS"
  [ -n "$PROFILES" ] && mkdir -p "$PROFILES" && cp "$WORK/callgrind.out.$dumps" "$PROFILES/$query.callgrind"
done
