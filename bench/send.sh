#!/usr/bin/env bash
# Newsletter send benchmark. One edition to N subscribers (English and Arabic) into a local
# Postfix smtp-sink, DKIM off and then DKIM RSA-2048 (+ Ed25519) on; in the same run, smtp-source
# sends as many messages of the same size to the same sink (the ceiling of this box), and
# `openssl speed rsa2048` gives one core's signing rate. Prints every rate, the ratios and peak RSS.
# Needs postfix (smtp-sink, smtp-source), GNU time, openssl.
# Usage: bench/send.sh [SUBSCRIBERS] (default 100000). BENCH_DB=postgres runs on PostgreSQL at $PG_URL.
# BENCH_MODE=memory runs only the DKIM-off send (for the 1,000,000-subscriber memory figure).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
# Connections jarida opens to the sink; the baseline smtp-source opens as many sessions.
CONNS="${BENCH_CONNECTIONS:-16}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
for tool in /usr/sbin/smtp-sink /usr/sbin/smtp-source /usr/bin/time; do
  [ -x "$tool" ] || { echo "error: $tool is missing (apt-get install postfix time)" >&2; exit 1; }
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p jarida
BIN="$CARGO_TARGET_DIR/release/jarida"
WORK=$(mktemp -d /tmp/jarida-send-bench.XXXXXX)
chmod 755 "$WORK"
SINK_PID=
cleanup() {
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null || true
  [ -n "${PGDB:-}" ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user_args=(); [ "$(id -u)" = 0 ] && user_args=(-u postfix)
/usr/sbin/smtp-sink "${user_args[@]}" -c "127.0.0.1:$PORT" 1024 >/dev/null 2>&1 &
SINK_PID=$!
for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

awk -v n="$N" 'BEGIN {
  print "email,name,lang";
  for (i = 1; i <= n; i++) printf "reader%07d@example%d.org,Reader %d,%s\n", i, i % 97, i, (i % 3 == 0) ? "ar" : "en";
}' > "$WORK/list.csv"

ms() { echo $(( $(date +%s%N) / 1000000 )); }

# One data folder per run: import the posts and the readers, compose the edition.
setup() { # dir
  local dir=$1
  export JARIDA_DATA_DIR="$dir" JARIDA_LOG=warn JARIDA_BASE_URL="https://news.example.org"
  export JARIDA_MAIL__FROM_ADDRESS="newsletter@news.example.org"
  export JARIDA_MAIL__SMTP_HOST=127.0.0.1 JARIDA_MAIL__SMTP_PORT="$PORT" JARIDA_MAIL__SMTP_TLS=none
  export JARIDA_DELIVERY__CONNECTIONS="$CONNS"
  if [ "${BENCH_DB:-sqlite}" = postgres ]; then
    PGDB="jarida_sendbench_$$_$(basename "$dir")"
    psql "$PG_URL" -qc "CREATE DATABASE $PGDB" >/dev/null
    export JARIDA_DATABASE_URL="${PG_URL%/*}/$PGDB"
  else
    unset JARIDA_DATABASE_URL
  fi
  "$BIN" import crates/jarida/tests/fixtures/editions >/dev/null
  "$BIN" subscribers import --confirmed --map email=email,name=name,lang=lang "$WORK/list.csv" >/dev/null
  ID=$("$BIN" editions compose --until 2026-10-15T09:00:00Z | sed -n 's/^composed edition \([0-9]*\).*/\1/p')
}

send() { # label -> prints rate, sets RATE and RSS
  local label=$1 t0 t1
  t0=$(ms)
  /usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" editions send "$ID" > "$WORK/out-$label"
  t1=$(ms)
  grep -q "sent $N " "$WORK/out-$label" || { echo "error: not every message was sent:"; cat "$WORK/out-$label"; exit 1; }
  RATE=$(awk -v n="$N" -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ms / 1000) }')
  RSS=$(( $(cat "$WORK/rss") / 1024 ))
  printf '%-28s %7s msg/s  (%d messages in %s s)  peak RSS %d MB\n' "$label" "$RATE" "$N" \
    "$(awk -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')" "$RSS"
}

echo "== $N subscribers, database ${BENCH_DB:-sqlite}, sink 127.0.0.1:$PORT, $CONNS connections"
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
setup "$WORK/plain"
"$BIN" dkim show >/dev/null 2>&1 && { echo "error: unexpected DKIM key"; exit 1; }
EN_SIZE=$("$BIN" editions preview "$ID" --lang en --raw | wc -c)
AR_SIZE=$("$BIN" editions preview "$ID" --lang ar --raw | wc -c)
SIZE=$(( (2 * EN_SIZE + AR_SIZE) / 3 ))
echo "message size: en $EN_SIZE B, ar $AR_SIZE B, mean $SIZE B"
send "jarida, DKIM off"
RATE_PLAIN=$RATE; RSS_PLAIN=$RSS
if [ "${BENCH_MODE:-}" = memory ]; then
  echo "peak RSS through a $N-subscriber send: $RSS_PLAIN MB (target <= 40)"
  exit 0
fi

setup "$WORK/dkim"
"$BIN" dkim generate >/dev/null 2>&1
send "jarida, DKIM RSA+Ed25519"
RATE_DKIM=$RATE; RSS_DKIM=$RSS

# The baseline: smtp-source, same count and size, same sink, as many sessions as jarida opens
# connections, each reusing its connection.
t0=$(ms)
/usr/sbin/smtp-source -s "$CONNS" -d -m "$N" -l "$SIZE" -f bench@news.example.org -t reader@example1.org "127.0.0.1:$PORT"
t1=$(ms)
RATE_SOURCE=$(awk -v n="$N" -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ms / 1000) }')
printf '%-28s %7s msg/s  (%d sessions)\n' "smtp-source" "$RATE_SOURCE" "$CONNS"

SIGN=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ { print int($6) }')
printf '%-28s %7s sign/s (one core)\n' "openssl rsa2048" "$SIGN"

awk -v p="$RATE_PLAIN" -v d="$RATE_DKIM" -v s="$RATE_SOURCE" -v g="$SIGN" 'BEGIN {
  m = (s < g) ? s : g;
  printf "ratio DKIM off: jarida / smtp-source = %.2f (target >= 0.8)\n", p / s;
  printf "ratio DKIM on:  jarida / min(smtp-source, openssl sign) = %.2f (target >= 0.8)\n", d / m;
}'
echo "peak RSS: $RSS_PLAIN MB (DKIM off), $RSS_DKIM MB (DKIM on)"
