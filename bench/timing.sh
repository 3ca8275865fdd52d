#!/usr/bin/env bash
# Whether an answer's time tells that an address has an account: ROUNDS rounds, each sending
# `requestPasswordReset`, `resendConfirmation` and `register` once for an address with an
# account and once for one without, alternately, one request at a time. Prints each
# operation's median and p90 times (curl's time_total) for both kinds of address, and their
# ratio.
#
#   bench/timing.sh [--rounds 300] [--postgres]
#
# Runs the release server on a fresh SQLite file, or with --postgres on a fresh database of
# BENCH_PG (default postgres://postgres@127.0.0.1:5432). Env: BENCH_PORT (5204).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/server.sh"
ROOT="$(dirname "$HERE")"
ROUNDS=300; POSTGRES=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --postgres) POSTGRES=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 64 ;;
  esac
done
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
PORT="${BENCH_PORT:-5204}"
URL="http://127.0.0.1:$PORT/graphql"
WORK="$(mktemp -d)"
DB="roster_timing_$(date +%s)_$$"
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  drop_fresh_database
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building (release)…" >&2
(cd "$ROOT" && cargo build --release -q -p api --bin api)
use_fresh_database
JWT_SECRET="$(head -c 32 /dev/urandom | base64)" LISTEN_ADDR="127.0.0.1:$PORT" \
  MAIL_URL="file:$WORK/mail" MAIL_IP_MAX_PER_HOUR=1000000 CONFIRM_EMAIL=required RUST_LOG=warn \
  "$ROOT/target/release/api" serve >/dev/null 2>"$WORK/server.log" &
SERVER=$!
mkdir -p "$WORK/mail"
wait_for_server "$PORT" "$SERVER" "$WORK/server.log" 60

# Seconds one request takes.
timed() {
  curl -s -o /dev/null -w '%{time_total}\n' -H 'Content-Type: application/json' "$URL" \
    -d "{\"query\":\"$1\"}"
}
timed 'mutation { register(input: { email: \"held@example.com\", password: \"timing password\" }) { email } }' >/dev/null
for i in $(seq 1 "$ROUNDS"); do
  for kind in held free; do
    address="$kind@example.com"; fresh="$kind$i@example.com"
    [ "$kind" = held ] && fresh="held@example.com"
    echo "reset $kind $(timed "mutation { requestPasswordReset(email: \\\"$address\\\") }")"
    echo "resend $kind $(timed "mutation { resendConfirmation(email: \\\"$address\\\") }")"
    echo "register $kind $(timed "mutation { register(input: { email: \\\"$fresh\\\", password: \\\"timing password\\\" }) { email } }")"
  done
done >"$WORK/times"
python3 - "$WORK/times" "$ROUNDS" <<'PY'
import statistics, sys
times = {}
for line in open(sys.argv[1]):
    op, kind, seconds = line.split()
    times.setdefault((op, kind), []).append(float(seconds) * 1000)
print(f"# {sys.argv[2]} rounds; ms; held = an address with an account, free = one without")
for op in ("reset", "resend", "register"):
    held, free = sorted(times[(op, "held")]), sorted(times[(op, "free")])
    p90 = lambda xs: xs[int(len(xs) * 0.9)]
    print(f"{op:9} held median={statistics.median(held):.3f} p90={p90(held):.3f}  "
          f"free median={statistics.median(free):.3f} p90={p90(free):.3f}  "
          f"ratio={statistics.median(held) / statistics.median(free):.3f}")
PY
