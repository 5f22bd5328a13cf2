#!/usr/bin/env bash
# Lighthouse 12 (from npm, pinned in bench/lighthouse/package-lock.json) in Debian's Chromium, on the
# demo site (bench/demo: English and Arabic reports, news and a design, with images): the English
# and Arabic home and article pages, with Lighthouse's mobile and desktop settings. Prints the four
# category scores per page; the target is 100 in accessibility, best practices and SEO and at least
# 95 in performance. Reports (HTML and JSON) go to bench/out/lighthouse/.
# Needs: chromium, npm. Usage: bench/lighthouse.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "error: chromium is not installed (apt-get install chromium)" >&2; exit 1; }
command -v npm >/dev/null || { echo "error: npm is not installed (apt-get install npm)" >&2; exit 1; }
[ -x bench/lighthouse/node_modules/.bin/lighthouse ] || npm ci --prefix bench/lighthouse --no-audit --no-fund --loglevel=error
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p jarida
BIN="$CARGO_TARGET_DIR/release/jarida"
WORK=$(mktemp -d /tmp/jarida-lighthouse.XXXXXX)
OUT=bench/out/lighthouse; mkdir -p "$OUT"
PORT=18090
cleanup() { [ -n "${JPID:-}" ] && kill "$JPID" 2>/dev/null; rm -rf "$WORK"; true; }
trap cleanup EXIT
export JARIDA_DATA_DIR="$WORK/data" JARIDA_LISTEN="127.0.0.1:$PORT" JARIDA_BASE_URL="http://127.0.0.1:$PORT" JARIDA_LOG=warn
"$BIN" import bench/demo >/dev/null
"$BIN" serve & JPID=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/en/" >/dev/null 2>&1 && break; sleep 0.1; done
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo); $(chromium --version)"
printf '%-28s %-8s %5s %5s %5s %5s\n' page form perf a11y best seo
PAGES="/en/ /ar/ /en/water-crisis /ar/azmat-al-miyah"
for path in $PAGES; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$path")
  [ "$code" = 200 ] || { echo "error: $path answers $code" >&2; exit 1; }
done
for path in $PAGES; do
  for form in mobile desktop; do
    name=$(echo "$path" | tr -c 'a-z0-9\n' '_')$form
    preset=(); [ "$form" = desktop ] && preset=(--preset=desktop)
    CHROME_PATH=/usr/bin/chromium bench/lighthouse/node_modules/.bin/lighthouse "http://127.0.0.1:$PORT$path" \
      "${preset[@]}" --quiet --output=json --output=html --output-path="$OUT/$name" \
      --chrome-flags="--headless=new --no-sandbox --disable-gpu" >/dev/null 2>&1 || { echo "error: lighthouse failed on $path ($form)" >&2; exit 1; }
    node -e '
      const r = require(process.argv[1]); const c = r.categories; const s = k => Math.round(c[k].score * 100);
      console.log(process.argv[2].padEnd(28) + " " + process.argv[3].padEnd(8) + " " + [s("performance"), s("accessibility"), s("best-practices"), s("seo")].map(n => String(n).padStart(5)).join(" "));
      for (const k of ["accessibility", "best-practices", "seo"]) for (const a of c[k].auditRefs) { const x = r.audits[a.id]; if (a.weight > 0 && x.score !== null && x.score < 1) console.log("    " + k + ": " + a.id + " — " + x.title); }
    ' "$PWD/$OUT/$name.report.json" "$path" "$form"
  done
done
