#!/usr/bin/env bash
# Serving benchmark: one long report page from jarida's page cache, beside nginx serving the same bytes
# from a file, in the same run, with the same load (wrk -t2 -c64 -d10s --latency). Also measures the
# time from process start to the first 200 and the resident memory when idle.
# Needs: wrk, nginx (Debian: apt-get install wrk nginx-light), curl. Usage: bench/site.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for t in wrk nginx curl; do command -v $t >/dev/null || { echo "error: $t is not installed (apt-get install wrk nginx-light curl)" >&2; exit 1; }; done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p jarida
BIN="$CARGO_TARGET_DIR/release/jarida"
WORK=$(mktemp -d /tmp/jarida-bench.XXXXXX)
JPORT=18080; NPORT=18081
cleanup() { [ -n "${JPID:-}" ] && kill "$JPID" 2>/dev/null; [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null; true; }
trap cleanup EXIT

# A long report: 2,000+ words with headings, lists, a table, quotes and sources.
mkdir -p "$WORK/posts"
{
  printf '+++\ntitle = "The long report"\ndate = 2026-10-01T08:00:00Z\nkind = "report"\nauthors = ["Lina Haddad", "Omar Said"]\ntags = ["Water", "Gaza"]\n'
  printf 'summary = "A long report used to measure serving speed."\n'
  for i in 1 2 3; do
    printf '[[sources]]\npublisher = "Publisher %s"\ntitle = "Original story %s"\nurl = "https://example.org/story-%s"\ndate = "2026-09-2%s"\n' $i $i $i $i
  done
  printf '+++\n'
  for s in $(seq 1 14); do
    printf '\n## Section %s: what the figures show\n\n' "$s"
    for p in 1 2 3; do
      printf 'Paragraph %s of section %s. Families in the south now spend a third of their income on water, according to figures gathered for this report by our reporters over several months of interviews, site visits and document requests. ' "$p" "$s"
      printf 'The [water authority](https://example.org/authority) says supply will recover next year; independent engineers disagree.\n\n'
    done
    printf -- '- trucked water is the main source for most households;\n- prices rose fourfold since the plant stopped;\n- illness linked to unsafe water doubled.\n\n'
    printf '> "We choose between drinking and washing," one mother told us.\n'
  done
  printf '\n| Year | Litres per person per day |\n|---|---|\n| 2024 | 82 |\n| 2026 | 21 |\n'
} > "$WORK/posts/long-report.md"
WORDS=$(awk '/^\+\+\+$/ { n++; next } n >= 2' "$WORK/posts/long-report.md" | wc -w)

export JARIDA_DATA_DIR="$WORK/data" JARIDA_LISTEN="127.0.0.1:$JPORT" JARIDA_LOG=warn
"$BIN" import "$WORK/posts" >/dev/null
URL="http://127.0.0.1:$JPORT/en/long-report"

# Time to first 200: from spawning the process to the first complete answer for the article.
t0=$(date +%s%N)
"$BIN" serve >/dev/null 2>&1 &
JPID=$!
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL" 2>/dev/null)" = 200 ]; do :; done
t1=$(date +%s%N)
FIRST_MS=$(( (t1 - t0) / 1000000 ))
sleep 1
IDLE_KB=$(awk '/VmRSS/ {print $2}' /proc/$JPID/status)

curl -s "$URL" > "$WORK/page.html"
BYTES=$(wc -c < "$WORK/page.html")

cat > "$WORK/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx-tmp;
  proxy_temp_path $WORK/nginx-tmp; fastcgi_temp_path $WORK/nginx-tmp; uwsgi_temp_path $WORK/nginx-tmp; scgi_temp_path $WORK/nginx-tmp;
  server {
    listen 127.0.0.1:$NPORT;
    location = /en/long-report { default_type "text/html; charset=utf-8"; alias $WORK/page.html; }
  }
}
NGINX
mkdir -p "$WORK/nginx-tmp"
chmod -R a+rX "$WORK"
nginx -c "$WORK/nginx.conf" -p "$WORK"
sleep 0.5

run_wrk() { # url -> "req_per_sec p99_ms"
  wrk -t2 -c64 -d2s "$1" >/dev/null # warm up
  wrk -t2 -c64 -d10s --latency "$1" | awk '
    /Requests\/sec/ { rps = $2 }
    /^ +99%/ { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 }; p99 = v }
    END { printf "%s %.3f\n", rps, p99 }'
}
# Two rounds, alternating, so neither server always runs on a warmer or cooler machine; the figures
# are the means of the rounds.
read -r N1 NP1 < <(run_wrk "http://127.0.0.1:$NPORT/en/long-report")
read -r J1 JP1 < <(run_wrk "$URL")
read -r N2 NP2 < <(run_wrk "http://127.0.0.1:$NPORT/en/long-report")
read -r J2 JP2 < <(run_wrk "$URL")
mean() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (a + b) / 2 }'; }
N_RPS=$(mean "$N1" "$N2"); N_P99=$(mean "$NP1" "$NP2"); J_RPS=$(mean "$J1" "$J2"); J_P99=$(mean "$JP1" "$JP2")
echo "rounds: nginx $N1 / $N2 req/s, jarida $J1 / $J2 req/s"
LOAD_KB=$(awk '/VmRSS/ {print $2}' /proc/$JPID/status)

echo "page: $URL ($WORDS words of Markdown, $BYTES bytes of HTML, identity encoding)"
echo "load: wrk -t2 -c64 -d10s --latency, two alternating rounds each, both servers on this $(nproc)-core machine"
printf 'nginx   %10.0f req/s   p99 %7.3f ms\n' "$N_RPS" "$N_P99"
printf 'jarida  %10.0f req/s   p99 %7.3f ms\n' "$J_RPS" "$J_P99"
awk -v j="$J_RPS" -v n="$N_RPS" -v jp="$J_P99" -v np="$N_P99" 'BEGIN { printf "ratio jarida/nginx: %.2f (req/s); p99 jarida/nginx: %.2f\n", j / n, jp / np }'
echo "first 200 after process start: ${FIRST_MS} ms"
echo "RSS idle after start: $((IDLE_KB / 1024)) MB ($IDLE_KB kB); after the load: $((LOAD_KB / 1024)) MB"
