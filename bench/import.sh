#!/usr/bin/env bash
# Subscriber import benchmark: generates a 1,000,000-row CSV (Mailchimp layout, English and Arabic
# readers) and imports it with `jarida subscribers import --confirmed`, on SQLite and on PostgreSQL,
# printing rows/s and the peak resident memory of each run.
# Needs GNU time (/usr/bin/time, Debian package `time`); PostgreSQL at $PG_URL (default the local
# server). Usage: bench/import.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-1000000}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
[ -x /usr/bin/time ] || { echo "error: GNU time is not installed (apt-get install time)" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p jarida
BIN="$CARGO_TARGET_DIR/release/jarida"
WORK=$(mktemp -d /tmp/jarida-import-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

awk -v n="$ROWS" 'BEGIN {
  print "Email Address,First Name,Last Name,LANGUAGE";
  for (i = 1; i <= n; i++) {
    lang = (i % 3 == 0) ? "ar" : "en";
    printf "reader%07d@example%d.org,Reader,Number %d,%s\n", i, i % 97, i, lang;
  }
}' > "$WORK/list.csv"
echo "file: $ROWS rows, $(du -h "$WORK/list.csv" | cut -f1)"

run() { # label, database_url
  local label=$1 url=$2
  local data="$WORK/data-$label"
  JARIDA_DATA_DIR="$data" JARIDA_DATABASE_URL="$url" JARIDA_LOG=warn "$BIN" migrate >/dev/null
  local t0 t1
  t0=$(date +%s%N)
  JARIDA_DATA_DIR="$data" JARIDA_DATABASE_URL="$url" JARIDA_LOG=warn \
    /usr/bin/time -f '%M' -o "$WORK/rss-$label" "$BIN" subscribers import --confirmed "$WORK/list.csv" > "$WORK/out-$label"
  t1=$(date +%s%N)
  local ms=$(( (t1 - t0) / 1000000 ))
  local rss_kb; rss_kb=$(cat "$WORK/rss-$label")
  grep -q "$ROWS imported" "$WORK/out-$label" || { echo "error: $label did not import every row:"; cat "$WORK/out-$label"; exit 1; }
  awk -v l="$label" -v n="$ROWS" -v ms="$ms" -v kb="$rss_kb" 'BEGIN {
    printf "%-10s %8.0f rows/s  (%d rows in %.2f s)  peak RSS %d MB\n", l, n / (ms / 1000), n, ms / 1000, kb / 1024 }'
}

run sqlite "sqlite://$WORK/data-sqlite/jarida.db"
if psql "$PG_URL" -Atqc 'select 1' >/dev/null 2>&1; then
  db="jarida_bench_$$"
  psql "$PG_URL" -qc "CREATE DATABASE $db" >/dev/null
  run postgres "${PG_URL%/*}/$db"
  psql "$PG_URL" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
else
  echo "postgres: not reachable at $PG_URL; skipped"
fi
