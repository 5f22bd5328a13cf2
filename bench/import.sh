#!/usr/bin/env bash
# Subscriber import benchmark: generates a 1,000,000-row CSV (Mailchimp layout, English and Arabic
# readers) and imports it with `jarida subscribers import --confirmed`, on SQLite and on PostgreSQL,
# printing rows/s and the peak resident memory of each run. Beside each, in the same run, the bare
# database's bulk path on the same file: `sqlite3 .import` into a staging table plus one INSERT into
# a table with a unique address index, and PostgreSQL's `\copy` into such a table; the ratio is the
# baseline's time over jarida's (target >= 0.6). A second baseline loads the same rows with the same
# bare tools into jarida's own schema (its indexes, its wider rows and the memberships, freshly
# migrated), which tells the cost of jarida's code from the cost of what its schema keeps.
# Needs GNU time (/usr/bin/time, Debian package `time`), sqlite3, psql; PostgreSQL at $PG_URL
# (default the local server). Usage: bench/import.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-1000000}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
[ -x /usr/bin/time ] || { echo "error: GNU time is not installed (apt-get install time)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "error: sqlite3 is not installed (apt-get install sqlite3)" >&2; exit 1; }
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
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
BASE_SQLITE_MS=; BASE_PG_MS=; J_SQLITE_MS=; J_PG_MS=

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
  LAST_MS=$ms
  local rss_kb; rss_kb=$(cat "$WORK/rss-$label")
  grep -q "$ROWS imported" "$WORK/out-$label" || { echo "error: $label did not import every row:"; cat "$WORK/out-$label"; exit 1; }
  awk -v l="$label" -v n="$ROWS" -v ms="$ms" -v kb="$rss_kb" 'BEGIN {
    printf "%-10s %8.0f rows/s  (%d rows in %.2f s)  peak RSS %d MB\n", l, n / (ms / 1000), n, ms / 1000, kb / 1024 }'
}

# The bare bulk paths, with the schema's essentials: addresses unique, as the import needs them.
baseline_sqlite() {
  rm -f "$WORK/base.db"
  local t0; t0=$(now_ms)
  sqlite3 "$WORK/base.db" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE staging (email TEXT, first TEXT, last TEXT, lang TEXT);
CREATE TABLE readers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT, lang TEXT);
.mode csv
.import --skip 1 $WORK/list.csv staging
INSERT INTO readers (email, name, lang) SELECT lower(email), first || ' ' || last, lang FROM staging WHERE true
  ON CONFLICT (email) DO NOTHING;
SQL
  BASE_SQLITE_MS=$(( $(now_ms) - t0 ))
  printf '%-10s %8.0f rows/s  (sqlite3 .import + INSERT into a unique index, %.2f s)\n' "sqlite3" \
    "$(awk -v n="$ROWS" -v ms="$BASE_SQLITE_MS" 'BEGIN { print n / (ms / 1000) }')" "$(awk -v ms="$BASE_SQLITE_MS" 'BEGIN { print ms / 1000 }')"
}

baseline_pg() { # database url
  psql "$1" -qc "CREATE TABLE readers (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE, first TEXT, last TEXT, lang TEXT)" >/dev/null
  local t0; t0=$(now_ms)
  psql "$1" -qc "\\copy readers (email, first, last, lang) FROM '$WORK/list.csv' WITH (FORMAT csv, HEADER true)" >/dev/null
  BASE_PG_MS=$(( $(now_ms) - t0 ))
  psql "$1" -qc "DROP TABLE readers" >/dev/null
  printf '%-10s %8.0f rows/s  (\\copy into a unique index, %.2f s)\n' "psql" \
    "$(awk -v n="$ROWS" -v ms="$BASE_PG_MS" 'BEGIN { print n / (ms / 1000) }')" "$(awk -v ms="$BASE_PG_MS" 'BEGIN { print ms / 1000 }')"
}

# The same bare tools writing what jarida writes: its migrated schema, every row's columns, and a
# membership per reader. The PostgreSQL file is converted to COPY's text format beforehand, outside
# the time (jarida's time includes reading the CSV).
schema_sqlite() {
  local data="$WORK/schema-sqlite"
  JARIDA_DATA_DIR="$data" JARIDA_DATABASE_URL="sqlite://$data/jarida.db" JARIDA_LOG=warn "$BIN" migrate >/dev/null
  local t0; t0=$(now_ms)
  sqlite3 "$data/jarida.db" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA cache_size = -32768;
CREATE TEMP TABLE staging (email TEXT, first TEXT, last TEXT, lang TEXT);
.mode csv
.import --skip 1 $WORK/list.csv staging
INSERT INTO subscribers (email, name, lang, status, source, consent_at, consent_wording, confirmed_at, created_at, updated_at)
  SELECT lower(email), first || ' ' || last, lang, 'active', 'import', 1765000000, 'imported from Mailchimp on 2026-12-07',
    1765000000, 1765000000, 1765000000 FROM staging WHERE true ON CONFLICT (email) DO NOTHING;
INSERT INTO subscriber_newsletters (subscriber_id, newsletter_id) SELECT id, 1 FROM subscribers;
SQL
  SCHEMA_SQLITE_MS=$(( $(now_ms) - t0 ))
  rm -rf "$data"
  printf '%-10s %8.0f rows/s  (the same, into jarida'"'"'s schema with memberships, %.2f s)\n' "sqlite3" \
    "$(awk -v n="$ROWS" -v ms="$SCHEMA_SQLITE_MS" 'BEGIN { print n / (ms / 1000) }')" "$(awk -v ms="$SCHEMA_SQLITE_MS" 'BEGIN { print ms / 1000 }')"
}

schema_pg() { # database url (freshly migrated)
  awk -F, 'NR > 1 { printf "%s\t%s %s\t%s\tactive\timport\t1765000000\timported from Mailchimp on 2026-12-07\t1765000000\t1765000000\t1765000000\n", $1, $2, $3, $4 }' \
    "$WORK/list.csv" > "$WORK/list.tsv"
  local t0; t0=$(now_ms)
  psql "$1" -qc "\\copy subscribers (email, name, lang, status, source, consent_at, consent_wording, confirmed_at, created_at, updated_at) FROM '$WORK/list.tsv'" >/dev/null
  psql "$1" -qc "INSERT INTO subscriber_newsletters (subscriber_id, newsletter_id) SELECT id, 1 FROM subscribers" >/dev/null
  SCHEMA_PG_MS=$(( $(now_ms) - t0 ))
  printf '%-10s %8.0f rows/s  (\\copy into jarida'"'"'s schema, then the memberships, %.2f s)\n' "psql" \
    "$(awk -v n="$ROWS" -v ms="$SCHEMA_PG_MS" 'BEGIN { print n / (ms / 1000) }')" "$(awk -v ms="$SCHEMA_PG_MS" 'BEGIN { print ms / 1000 }')"
}

ratio() { awk -v b="$1" -v j="$2" 'BEGIN { printf "%.2f", b / j }'; }

baseline_sqlite
schema_sqlite
run sqlite "sqlite://$WORK/data-sqlite/jarida.db"
J_SQLITE_MS=$LAST_MS
echo "ratio sqlite: baseline time / jarida time = $(ratio "$BASE_SQLITE_MS" "$J_SQLITE_MS") (target >= 0.6)"
echo "ratio sqlite, same schema: sqlite3 time / jarida time = $(ratio "$SCHEMA_SQLITE_MS" "$J_SQLITE_MS")"
if psql "$PG_URL" -Atqc 'select 1' >/dev/null 2>&1; then
  db="jarida_bench_$$"
  psql "$PG_URL" -qc "CREATE DATABASE $db" >/dev/null
  baseline_pg "${PG_URL%/*}/$db"
  db2="jarida_bench_schema_$$"
  psql "$PG_URL" -qc "CREATE DATABASE $db2" >/dev/null
  JARIDA_DATA_DIR="$WORK/schema-pg" JARIDA_DATABASE_URL="${PG_URL%/*}/$db2" JARIDA_LOG=warn "$BIN" migrate >/dev/null
  schema_pg "${PG_URL%/*}/$db2"
  psql "$PG_URL" -qc "DROP DATABASE $db2 WITH (FORCE)" >/dev/null
  run postgres "${PG_URL%/*}/$db"
  J_PG_MS=$LAST_MS
  psql "$PG_URL" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
  echo "ratio postgres: baseline time / jarida time = $(ratio "$BASE_PG_MS" "$J_PG_MS") (target >= 0.6)"
  echo "ratio postgres, same schema: psql time / jarida time = $(ratio "$SCHEMA_PG_MS" "$J_PG_MS")"
else
  echo "error: postgres not reachable at $PG_URL" >&2
  exit 1
fi
