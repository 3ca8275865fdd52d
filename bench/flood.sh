#!/usr/bin/env bash
# A flood of password work: LOGINS logins (an attacker's own account, right password) and
# REGISTRATIONS registrations, CONCURRENCY at once, while an honest client asks
# `{ me { email } }` every 10 ms. Prints how the flood was answered, the honest client's
# p50/p99/max, and the server's resident memory before and at its peak.
#
#   bench/flood.sh [--logins 2000] [--registrations 2000] [--explosions 0]
#                  [--long-documents 0] [--ws-messages 0] [--concurrency 200] [--postgres]
#
# --explosions N adds N documents of fragments spread four times per level, 13 levels deep
# (4^13 fields once spread, in about 700 bytes), without a token. --long-documents N adds N
# documents as long as a body may be (43,000 fields) from the attacker. --ws-messages N adds N
# WebSocket connections of the attacker, each subscribing once with a message alternately as
# large as a body may be (about 52,000 fields) and of a million fields (8 MiB).
#
# Runs the release server on a fresh SQLite file, or with --postgres on a fresh database of
# BENCH_PG (default postgres://postgres@127.0.0.1:5432). Env: BENCH_PORT (5203).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/server.sh"
ROOT="$(dirname "$HERE")"
LOGINS=2000; REGISTRATIONS=2000; EXPLOSIONS=0; LONG=0; WS_MESSAGES=0; CONC=200; POSTGRES=0
while [ $# -gt 0 ]; do
  case "$1" in
    --logins) LOGINS="$2"; shift 2 ;;
    --registrations) REGISTRATIONS="$2"; shift 2 ;;
    --explosions) EXPLOSIONS="$2"; shift 2 ;;
    --long-documents) LONG="$2"; shift 2 ;;
    --ws-messages) WS_MESSAGES="$2"; shift 2 ;;
    --concurrency) CONC="$2"; shift 2 ;;
    --postgres) POSTGRES=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 64 ;;
  esac
done
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
PORT="${BENCH_PORT:-5203}"
URL="http://127.0.0.1:$PORT/graphql"
WORK="$(mktemp -d)"
DB="roster_flood_$(date +%s)_$$"
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  drop_fresh_database
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building (release)…" >&2
(cd "$ROOT" && cargo build --release -q -p api --bin api --example flood)
API="$ROOT/target/release/api"
use_fresh_database
JWT_SECRET="$(head -c 32 /dev/urandom | base64)" ACCESS_TOKEN_TTL=1h LISTEN_ADDR="127.0.0.1:$PORT" \
  LOGIN_IP_MAX_FAILURES=100000 CONFIRM_EMAIL=optional RUST_LOG=warn "$API" serve >/dev/null 2>"$WORK/server.log" &
SERVER=$!
wait_for_server "$PORT" "$SERVER" "$WORK/server.log" 60

register() {
  curl -sf -H 'Content-Type: application/json' "$URL" -d "{\"query\":\"mutation { register(input: { email: \\\"$1\\\", password: \\\"flood password\\\" }) { email } }\"}" >/dev/null
  curl -sf -H 'Content-Type: application/json' "$URL" -d "{\"query\":\"mutation { login(email: \\\"$1\\\", password: \\\"flood password\\\") { accessToken } }\"}" \
    | jq -r .data.login.accessToken
}
ATTACKER="$(register attacker@example.com)"
HONEST="$(register honest@example.com)"
[ -n "$HONEST" ] && [ "$HONEST" != null ] || { echo "could not register the honest client" >&2; exit 2; }
rss_now() { awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$SERVER/status"; }
echo "resident before the flood: $(rss_now) MiB"
"$ROOT/target/release/examples/flood" --url "$URL" --logins "$LOGINS" --registrations "$REGISTRATIONS" \
  --explosions "$EXPLOSIONS" --long-documents "$LONG" --ws-messages "$WS_MESSAGES" --attacker-token "$ATTACKER" --concurrency "$CONC" --email attacker@example.com --password "flood password" --token "$HONEST"
echo "resident after: $(rss_now) MiB; peak: $("$HERE/rss.sh" "$SERVER") MiB"
