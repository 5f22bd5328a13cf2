#!/usr/bin/env bash
# Flood benchmark (against 127.0.0.1 only, bounded in time): sign-up floods behind a proxy header,
# one with a forged X-Forwarded-For entry per request (the proxy's own entry last, as nginx's
# $proxy_add_x_forwarded_for writes it) and new addresses, one naming the same victim address from
# one client, while a third load reads a cached page. Reports: requests sent and refused, what the
# database and the outbox gained, the page rate meanwhile against the same load unloaded, and the
# process's peak memory.
# Needs: wrk, curl, sqlite3. Usage: bench/flood.sh [SECONDS] [RATE_PER_FLOOD]
set -euo pipefail
cd "$(dirname "$0")/.."
for t in wrk curl sqlite3; do command -v $t >/dev/null || { echo "error: $t is not installed (apt-get install wrk curl sqlite3)" >&2; exit 1; }; done
SECS="${1:-25}"
RATE="${2:-2500}"       # requests per second of each flood
CONNS=10
DELAY_MS=$(( 1000 * CONNS / RATE ))

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p jarida
BIN="$CARGO_TARGET_DIR/release/jarida"
WORK=$(mktemp -d /tmp/jarida-flood.XXXXXX)
PORT=18090
cleanup() { [ -n "${JPID:-}" ] && kill "$JPID" 2>/dev/null; true; }
trap cleanup EXIT

mkdir -p "$WORK/posts"
{
  printf '+++\ntitle = "The report"\ndate = 2026-10-01T08:00:00Z\nkind = "report"\nsummary = "s"\n+++\n'
  for s in $(seq 1 40); do printf 'Paragraph %s. Families in the south now spend a third of their income on water.\n\n' "$s"; done
} > "$WORK/posts/report.md"
export JARIDA_DATA_DIR="$WORK/data" JARIDA_LISTEN="127.0.0.1:$PORT" JARIDA_LOG=error \
  JARIDA_CLIENT_IP_HEADER=X-Forwarded-For
"$BIN" import "$WORK/posts" >/dev/null
"$BIN" serve >/dev/null 2>&1 &
JPID=$!
PAGE="http://127.0.0.1:$PORT/en/report"
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$PAGE" 2>/dev/null)" = 200 ]; do sleep 0.05; done
DB="$WORK/data/jarida.db"
count() { sqlite3 "$DB" "$1"; }
outbox() { find "$WORK/data/outbox" -name '*.eml' | wc -l; }
SUBS0=$(count "SELECT COUNT(*) FROM subscribers"); RL0=$(count "SELECT COUNT(*) FROM rate_limits"); OUT0=$(outbox)

cat > "$WORK/forged.lua" <<LUA
local n = 0
local id = 0
function setup(thread) thread:set("id", id); id = id + 1 end
function init(args) math.randomseed(os.time() * 1000 + id) end
function delay() return $DELAY_MS end
function request()
  n = n + 1
  local ip = math.random(1, 223) .. "." .. math.random(0, 255) .. "." .. math.random(0, 255) .. "." .. math.random(1, 254)
  return wrk.format("POST", "/en/newsletter/subscribe",
    { ["Content-Type"] = "application/x-www-form-urlencoded", ["X-Forwarded-For"] = ip .. ", 203.0.113.7" },
    "email=flood-" .. id .. "-" .. n .. "%40example.org&name=Flood")
end
LUA
cat > "$WORK/victim.lua" <<LUA
function delay() return $DELAY_MS end
function request()
  return wrk.format("POST", "/en/newsletter/subscribe",
    { ["Content-Type"] = "application/x-www-form-urlencoded", ["X-Forwarded-For"] = "198.51.100.9" },
    "email=victim%40example.org&name=Victim")
end
LUA

page_rate() { wrk -t1 -c8 -d"$1"s "$PAGE" | awk '/Requests\/sec/ { print $2 }'; }
wrk -t1 -c8 -d2s "$PAGE" >/dev/null   # warm up
UNLOADED=$(page_rate 8)

wrk -t1 -c$CONNS -d"${SECS}"s -s "$WORK/forged.lua" "http://127.0.0.1:$PORT" > "$WORK/forged.out" &
F1=$!
wrk -t1 -c$CONNS -d"${SECS}"s -s "$WORK/victim.lua" "http://127.0.0.1:$PORT" > "$WORK/victim.out" &
F2=$!
sleep 2
LOADED=$(page_rate $(( SECS - 4 )))
wait $F1 $F2
sleep 3   # sign-ups answered are recorded after the answer; queued mail is written out
reqs() { awk '/requests in/ { print $1 }' "$1"; }
refused() { awk '/Non-2xx/ { print $NF }' "$1"; }
HWM_KB=$(awk '/VmHWM/ {print $2}' /proc/$JPID/status)
SUBS1=$(count "SELECT COUNT(*) FROM subscribers"); RL1=$(count "SELECT COUNT(*) FROM rate_limits")
OUT1=$(outbox)
VICTIM_MAIL=$(grep -l 'victim@example.org' "$WORK"/data/outbox/*.eml 2>/dev/null | wc -l)

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "floods: $SECS s each, paced at $RATE req/s each ($CONNS connections, one request per ${DELAY_MS} ms), concurrently"
echo "forged X-Forwarded-For, new address each: $(reqs "$WORK/forged.out") requests, $(refused "$WORK/forged.out") refused"
echo "one victim address:                         $(reqs "$WORK/victim.out") requests, $(refused "$WORK/victim.out") refused"
echo "database: subscribers +$((SUBS1 - SUBS0)), rate_limits rows +$((RL1 - RL0)); outbox emails +$((OUT1 - OUT0)) (to the victim: $VICTIM_MAIL)"
echo "cached page (wrk -t1 -c8): unloaded $UNLOADED req/s, during the floods $LOADED req/s"
awk -v l="$LOADED" -v u="$UNLOADED" 'BEGIN { printf "ratio during/unloaded: %.2f\n", l / u }'
echo "peak RSS of jarida: $((HWM_KB / 1024)) MB ($HWM_KB kB)"
