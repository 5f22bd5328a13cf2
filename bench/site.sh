#!/usr/bin/env bash
# Serving benchmark: three pages from jarida's page cache (the home page, a typical ~20 KB article and
# a long 30+ KB report), each with identity encoding and with `Accept-Encoding: br, gzip`, beside
# nginx serving the same bytes from files (precompressed .gz through gzip_static for the second
# case; jarida answers with its precompressed brotli body), in the same run, with the same load
# (wrk -t2 -c64 --latency, alternating rounds). Prints req/s, p99 and the ratios per case. Also
# measures the time from process start to the first 200 and the resident memory when idle.
# BENCH_SECONDS sets each measurement's length (default 8).
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
# A typical article: the same shape, a third of the length.
awk 'BEGIN { s = 0 } /^## Section/ { s++ } s <= 5 { print }' "$WORK/posts/long-report.md" \
  | sed 's/^title = "The long report"/title = "A typical story"/' > "$WORK/posts/typical-story.md"
# Enough posts for a full home page.
for i in $(seq 1 20); do
  printf '+++\ntitle = "News item %s"\ndate = 2026-09-%02dT08:00:00Z\nkind = "news"\nauthors = ["Lina Haddad"]\nsummary = "A short news item, number %s, about water prices in the south."\n+++\n\nA short paragraph of news %s.\n' "$i" "$i" "$i" "$i" > "$WORK/posts/news-$i.md"
done

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

# The same bytes for nginx: each page as jarida answers it, and its gzip for gzip_static.
# nginx serves them from a document root laid out like the URLs (`/en/` is `en/index.html`).
PAGES="home:/en/ typical:/en/typical-story long:/en/long-report"
mkdir -p "$WORK/www/en"
for pg in $PAGES; do
  name=${pg%%:*}; path=${pg#*:}
  curl -sf "http://127.0.0.1:$JPORT$path" > "$WORK/$name.html"
  file="$WORK/www$path"; [ "${path%/}" != "$path" ] && file="${file}index.html"
  cp "$WORK/$name.html" "$file"
  gzip -9 -k "$file"
done

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
  # As a careful operator runs it: file handles and metadata cached, not opened per request.
  open_file_cache max=1000 inactive=60s;
  open_file_cache_valid 60s;
  client_body_temp_path $WORK/nginx-tmp;
  proxy_temp_path $WORK/nginx-tmp; fastcgi_temp_path $WORK/nginx-tmp; uwsgi_temp_path $WORK/nginx-tmp; scgi_temp_path $WORK/nginx-tmp;
  gzip_static on;
  gzip_vary on;
  server {
    listen 127.0.0.1:$NPORT;
    default_type "text/html; charset=utf-8";
    root $WORK/www;
  }
}
NGINX
mkdir -p "$WORK/nginx-tmp"
chmod -R a+rX "$WORK"
nginx -c "$WORK/nginx.conf" -p "$WORK"
sleep 0.5
# Both servers must answer every case with a 200 and the same page.
for pg in $PAGES; do
  name=${pg%%:*}; path=${pg#*:}
  cmp -s "$WORK/$name.html" <(curl -sf "http://127.0.0.1:$NPORT$path") \
    || { echo "error: nginx does not serve $path as jarida does" >&2; exit 1; }
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept-Encoding: br, gzip' "http://127.0.0.1:$NPORT$path")" = 200 ] \
    || { echo "error: nginx's compressed answer for $path is not a 200 page" >&2; exit 1; }
  curl -s -D - -o /dev/null -H 'Accept-Encoding: br, gzip' "http://127.0.0.1:$NPORT$path" | grep -qi '^content-encoding: gzip' \
    || { echo "error: nginx does not serve $path precompressed" >&2; exit 1; }
done

SECS="${BENCH_SECONDS:-8}"
# Both servers get a browser's User-Agent: jarida counts page views only for browsers, so every
# request of the run is counted, as a reader's would be (the cost of counting is in the figures).
UA="${BENCH_UA:-User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0}"
run_wrk() { # url [header] -> "req_per_sec p99_ms"
  local h=(-H "$UA")
  [ -n "${2:-}" ] && h+=(-H "$2")
  wrk -t2 -c64 -d1s "${h[@]}" "$1" >/dev/null # warm up
  wrk -t2 -c64 -d"${SECS}s" --latency "${h[@]}" "$1" | awk '
    /Requests\/sec/ { rps = $2 }
    /^ +99%/ { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 }; p99 = v }
    END { printf "%s %.3f\n", rps, p99 }'
}
mean() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (a + b) / 2 }'; }

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
echo "load: wrk -t2 -c64 -d${SECS}s --latency, two alternating rounds per server and case, all on this machine"
printf '%-8s %-9s %7s %10s %9s %10s %9s %7s %7s\n' page encoding bytes "nginx r/s" "p99 ms" "jarida r/s" "p99 ms" ratio "p99 j/n"
for pg in $PAGES; do
  name=${pg%%:*}; path=${pg#*:}
  for enc in identity "br, gzip"; do
    hdr=""; [ "$enc" != identity ] && hdr="Accept-Encoding: $enc"
    if [ "$enc" = identity ]; then bytes=$(wc -c < "$WORK/$name.html"); else
      bytes=$(curl -s -H "$hdr" "http://127.0.0.1:$JPORT$path" | wc -c); fi
    read -r N1 NP1 < <(run_wrk "http://127.0.0.1:$NPORT$path" "$hdr")
    read -r J1 JP1 < <(run_wrk "http://127.0.0.1:$JPORT$path" "$hdr")
    read -r J2 JP2 < <(run_wrk "http://127.0.0.1:$JPORT$path" "$hdr")
    read -r N2 NP2 < <(run_wrk "http://127.0.0.1:$NPORT$path" "$hdr")
    N_RPS=$(mean "$N1" "$N2"); N_P99=$(mean "$NP1" "$NP2"); J_RPS=$(mean "$J1" "$J2"); J_P99=$(mean "$JP1" "$JP2")
    awk -v p="$name" -v e="${enc// /}" -v b="$bytes" -v n="$N_RPS" -v np="$N_P99" -v j="$J_RPS" -v jp="$J_P99" 'BEGIN {
      printf "%-8s %-9s %7d %10.0f %9.3f %10.0f %9.3f %7.2f %7.2f\n", p, e, b, n, np, j, jp, j / n, jp / np }'
  done
done
LOAD_KB=$(awk '/VmRSS/ {print $2}' /proc/$JPID/status)
echo "long report: $WORDS words of Markdown"
echo "first 200 after process start: ${FIRST_MS} ms"
echo "RSS idle after start: $((IDLE_KB / 1024)) MB ($IDLE_KB kB); after the load: $((LOAD_KB / 1024)) MB"
