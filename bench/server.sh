# Shared by bench/run.sh and bench/instructions.sh (sourced): waiting for a server started in
# the background, and logging in the bench admin that bench/run.sh creates.

# Waits up to SECONDS for the server on PORT to answer /health; exits with the server's log
# when process PID ends first.
wait_for_server() {
  local port="$1" pid="$2" log="$3" seconds="$4"
  for _ in $(seq 1 $((seconds * 10))); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "the server did not answer within ${seconds}s" >&2
  exit 1
}

# Prints an access token of the bench admin, from the GraphQL endpoint URL.
bench_admin_token() {
  local token
  token="$(curl -sf -H 'Content-Type: application/json' "$1" \
    -d '{"query":"mutation { login(email: \"bench-admin@example.com\", password: \"bench admin password\") { accessToken } }"}' \
    | jq -r .data.login.accessToken)"
  [ -n "$token" ] && [ "$token" != null ] || { echo "could not log in the bench admin" >&2; exit 2; }
  echo "$token"
}
