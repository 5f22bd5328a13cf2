#!/usr/bin/env bash
# Readers benchmark (issue 14): with ROWS readers (default 1,000,000, a third Arabic) imported, on
# SQLite and on PostgreSQL: the admin's readers list p99 under wrk, a prefix search of an address
# and of a name, a filter's
# count, and a bulk unsubscribe of 100,000 readers (the addresses starting "reader01") run as a
# background job; the broad address search is also loaded at a page in its middle (a cursor). Beside them, in the same run, the database's own client running the same
# statements on the same data (sqlite3 / psql, process start included). Each list is loaded by one
# client (an editor: the server's own time) and by four at once (queueing on two cores).
# Needs wrk, sqlite3, psql, curl. Usage: bench/readers.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-1000000}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
for t in wrk sqlite3 psql curl; do
  command -v "$t" >/dev/null || { echo "error: $t is not installed" >&2; exit 1; }
done
[ "$ROWS" -ge 200000 ] || { echo "error: ROWS must be at least 200000 (the bulk action takes 100,000)" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p jarida
BIN="$CARGO_TARGET_DIR/release/jarida"
WORK=$(mktemp -d /tmp/jarida-readers-bench.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
awk -v n="$ROWS" 'BEGIN {
  print "Email Address,First Name,Last Name,LANGUAGE";
  for (i = 1; i <= n; i++) {
    lang = (i % 3 == 0) ? "ar" : "en";
    printf "reader%07d@example%d.org,Reader,Number %d,%s\n", i, i % 97, i, lang;
  }
}' > "$WORK/list.csv"

ms() { echo $(( $(date +%s%N) / 1000000 )); }
p99() { awk '/^ +99%/ { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v*=1000 }; printf "%.2f", v }'; }
rps() { awk '/Requests\/sec/ { printf "%.0f", $2 }'; }

one() { # label, database url
  local label=$1 url=$2 data="$WORK/data-$1"
  export JARIDA_DATA_DIR="$data" JARIDA_DATABASE_URL="$url" JARIDA_LOG=warn
  "$BIN" migrate > /dev/null
  local t0; t0=$(ms)
  "$BIN" subscribers import --confirmed "$WORK/list.csv" > /dev/null
  echo "$label import of $ROWS readers: $(( $(ms) - t0 )) ms"
  local port; port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  JARIDA_LISTEN="127.0.0.1:$port" "$BIN" serve > "$WORK/serve-$label.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do grep -q "/setup/" "$WORK/serve-$label.log" && break; sleep 0.1; done
  local setup; setup=$(grep -o "http://[^ ]*/setup/[0-9a-f]*" "$WORK/serve-$label.log" | head -1)
  local csrf; csrf=$(curl -s "$setup" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
  curl -s -o /dev/null --data-urlencode "csrf=$csrf" --data-urlencode "name=Bench" --data-urlencode "email=bench@example.org" \
    --data-urlencode "password=benchmark password 1" "$setup"
  local jar="$WORK/jar-$label" base="http://127.0.0.1:$port"
  csrf=$(curl -s -c "$jar" "$base/admin/signin" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
  curl -s -o /dev/null -b "$jar" -c "$jar" --data-urlencode "csrf=$csrf" --data-urlencode "email=bench@example.org" \
    --data-urlencode "password=benchmark password 1" "$base/admin/signin"
  local session; session=$(awk '$6 == "jarida_session" { print $7 }' "$jar")
  [ -n "$session" ] || { echo "error: could not sign in"; exit 1; }
  for q in "" "?q=reader05" "?q=reader05&after=550000" "?q=reader%20number%20123" "?lang=ar&status=active"; do
    # Into a file first: with pipefail, grep -q leaving early fails curl's write (SIGPIPE).
    curl -s -o "$WORK/page" -H "Cookie: jarida_session=$session" "$base/admin/readers$q"
    grep -q 'role="status"' "$WORK/page" || { echo "error: $q"; exit 1; }
    wrk -t1 -c1 -d5s --latency -H "Cookie: jarida_session=$session" "$base/admin/readers$q" > "$WORK/wrk1"
    wrk -t1 -c4 -d10s --latency -H "Cookie: jarida_session=$session" "$base/admin/readers$q" > "$WORK/wrk"
    echo "$label readers list ${q:-(no filter)} (page and its count): one editor p99 $(p99 < "$WORK/wrk1") ms; four at once p99 $(p99 < "$WORK/wrk") ms, $(rps < "$WORK/wrk") req/s"
  done
  # The bulk unsubscribe of the 100,000 addresses starting "reader01".
  curl -s -o "$WORK/page" -b "$jar" "$base/admin/readers?q=reader01%40"
  csrf=$(grep -o 'name="csrf" value="[^"]*"' "$WORK/page" | head -1 | cut -d'"' -f4)
  t0=$(ms)
  local loc; loc=$(curl -s -o /dev/null -w '%{redirect_url}' -b "$jar" --data-urlencode "csrf=$csrf" \
    --data-urlencode "action=unsubscribe" --data-urlencode "q=reader01" "$base/admin/readers/bulk")
  case "$loc" in */admin/jobs/*) ;; *) echo "error: the bulk action did not start ($loc)"; exit 1 ;; esac
  until curl -s -o "$WORK/job" -b "$jar" "$loc" && grep -q 'status-done' "$WORK/job"; do sleep 0.2; done
  echo "$label bulk unsubscribe of 100,000 readers (a job, page polled every 0.2 s): $(( $(ms) - t0 )) ms"
  kill $PID; wait $PID 2>/dev/null || true; PID=
}

base_sqlite() {
  local db="$WORK/data-sqlite/jarida.db" t0
  t0=$(ms)
  for _ in $(seq 1 20); do
    sqlite3 "$db" "SELECT id, email, name, lang, status, source, created_at, confirmed_at FROM subscribers ORDER BY id DESC LIMIT 51; SELECT COUNT(*) FROM subscribers;" > /dev/null
  done
  echo "sqlite3 baseline, the list's two statements: $(( ($(ms) - t0) / 20 )) ms"
  t0=$(ms)
  sqlite3 "$db" "SELECT COUNT(*) FROM subscribers WHERE lang = 'ar' AND status = 'active';" > /dev/null
  echo "sqlite3 baseline, a filter's count (Arabic, active): $(( $(ms) - t0 )) ms"
  t0=$(ms)
  sqlite3 "$db" "BEGIN; INSERT INTO subscriber_events (subscriber_id, kind, at, detail) SELECT id, 'unsubscribed', 0, '{}' FROM subscribers WHERE email >= 'reader02' AND email < 'reader03' AND status = 'active'; UPDATE subscribers SET status = 'unsubscribed' WHERE email >= 'reader02' AND email < 'reader03' AND status = 'active'; COMMIT;"
  echo "sqlite3 baseline, the same unsubscribe of another 100,000 in one statement pair: $(( $(ms) - t0 )) ms"
}

base_pg() {
  local url=$1 t0
  t0=$(ms)
  for _ in $(seq 1 20); do
    psql "$url" -Atqc "SELECT id, email, name, lang, status, source, created_at, confirmed_at FROM subscribers ORDER BY id DESC LIMIT 51; SELECT COUNT(*) FROM subscribers;" > /dev/null
  done
  echo "psql baseline, the list's two statements: $(( ($(ms) - t0) / 20 )) ms"
  t0=$(ms)
  psql "$url" -Atqc "SELECT COUNT(*) FROM subscribers WHERE lang = 'ar' AND status = 'active';" > /dev/null
  echo "psql baseline, a filter's count (Arabic, active): $(( $(ms) - t0 )) ms"
  t0=$(ms)
  psql "$url" -Atq -c "BEGIN" -c "INSERT INTO subscriber_events (subscriber_id, kind, at, detail) SELECT id, 'unsubscribed', 0, '{}' FROM subscribers WHERE email >= 'reader02' AND email < 'reader03' AND status = 'active'" \
    -c "UPDATE subscribers SET status = 'unsubscribed' WHERE email >= 'reader02' AND email < 'reader03' AND status = 'active'" -c "COMMIT" > /dev/null
  echo "psql baseline, the same unsubscribe of another 100,000 in one statement pair: $(( $(ms) - t0 )) ms"
}

one sqlite "sqlite://$WORK/data-sqlite/jarida.db"
base_sqlite
DB="jarida_readers_bench_$$"
psql "$PG_URL" -qc "CREATE DATABASE $DB" > /dev/null
PGB="${PG_URL%/*}/$DB"
one postgres "$PGB"
base_pg "$PGB"
psql "$PG_URL" -qc "DROP DATABASE $DB WITH (FORCE)" > /dev/null
