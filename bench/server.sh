# Shared by the bench scripts (sourced): fresh databases, waiting for a server started in
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

# Points DATABASE_URL at a fresh database named DB: a SQLite file in folder WORK, or with
# POSTGRES=1 a new database of PG (drop it with drop_fresh_database).
use_fresh_database() {
  if [ "$POSTGRES" = 1 ]; then
    psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null
    export DATABASE_URL="$PG/$DB"
  else
    export DATABASE_URL="sqlite://$WORK/roster.db?mode=rwc"
  fi
}

# Drops the database of use_fresh_database, when it is PostgreSQL's.
drop_fresh_database() {
  [ "$POSTGRES" = 1 ] && psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  return 0
}
