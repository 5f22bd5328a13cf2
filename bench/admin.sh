#!/usr/bin/env bash
# Admin benchmark (issue 13): with 20,000 posts (half Arabic) imported, the posts list's latency
# under wrk (plain, and filtered by language and a title search); the preview of a 5,000-word report;
# and the upload of a 6000x4000 JPEG (checked, cleaned, stored at 2560 px with 480/960/1600 copies,
# and WebP copies at all four widths)
# with the server's peak RSS growth. Beside each, in the same run, a bare tool doing the same work:
# sqlite3 running the list's two queries on the same database file, cmark-gfm rendering the same
# Markdown, and ImageMagick making the same eight files of the same JPEG.
# Needs wrk, sqlite3, cmark-gfm, imagemagick, python3 with Pillow (to draw the JPEG), curl.
# Usage: bench/admin.sh [POSTS]
set -euo pipefail
cd "$(dirname "$0")/.."
POSTS="${1:-20000}"
for t in wrk sqlite3 cmark-gfm convert curl; do
  command -v "$t" >/dev/null || { echo "error: $t is not installed (apt-get install wrk sqlite3 cmark-gfm imagemagick curl)" >&2; exit 1; }
done
python3 -c 'import PIL' 2>/dev/null || { echo "error: Pillow is not installed (pip install pillow)" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p jarida
BIN="$CARGO_TARGET_DIR/release/jarida"
WORK=$(mktemp -d /tmp/jarida-admin-bench.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"

# --- content: POSTS Markdown files, half of them Arabic ---------------------------------------------
python3 - "$WORK/posts" "$POSTS" <<'PY'
import os, sys, random
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out)
random.seed(7)
en = "water market school power bread sea road clinic border fuel price report council strike".split()
ar = "المياه السوق المدرسة الكهرباء الخبز البحر الطريق العيادة الحدود الوقود الأسعار التقرير المجلس".split()
for i in range(n):
    lang = "ar" if i % 2 else "en"
    words = ar if lang == "ar" else en
    title = " ".join(random.choice(words) for _ in range(6))
    body = "\n\n".join(" ".join(random.choice(words) for _ in range(60)) for _ in range(5))
    kind = ["report", "news", "design"][i % 3]
    tag = random.choice(words)
    with open(f"{out}/p{i:05d}.{lang}.md", "w") as f:
        f.write(f'+++\ntitle = "{title} {i}"\ndate = 2026-0{1 + i % 9}-1{i % 9}T08:00:00Z\nkind = "{kind}"\n'
                f'tags = ["{tag}"]\nauthors = ["Author {i % 40}"]\n+++\n{body}\n')
PY
export JARIDA_DATA_DIR="$WORK/data" JARIDA_LOG=warn
t0=$(date +%s%N)
"$BIN" import "$WORK/posts" > /dev/null
echo "import of $POSTS posts: $(( ($(date +%s%N) - t0) / 1000000 )) ms"

# --- the server, an owner, a session ------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
JARIDA_LISTEN="127.0.0.1:$PORT" "$BIN" serve > "$WORK/serve.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do grep -q "/setup/" "$WORK/serve.log" && break; sleep 0.1; done
SETUP=$(grep -o "http://[^ ]*/setup/[0-9a-f]*" "$WORK/serve.log" | head -1)
CSRF=$(curl -s "$SETUP" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
curl -s -o /dev/null --data-urlencode "csrf=$CSRF" --data-urlencode "name=Bench" --data-urlencode "email=bench@example.org" \
  --data-urlencode "password=benchmark password 1" "$SETUP"
JAR="$WORK/cookies"
CSRF=$(curl -s -c "$JAR" "http://127.0.0.1:$PORT/admin/signin" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
curl -s -o /dev/null -b "$JAR" -c "$JAR" --data-urlencode "csrf=$CSRF" --data-urlencode "email=bench@example.org" \
  --data-urlencode "password=benchmark password 1" "http://127.0.0.1:$PORT/admin/signin"
SESSION=$(awk '$6 == "jarida_session" { print $7 }' "$JAR")
[ -n "$SESSION" ] || { echo "error: could not sign in"; exit 1; }
CSRF=$(curl -s -b "$JAR" "http://127.0.0.1:$PORT/admin/posts/new" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)

# --- the posts list under load ------------------------------------------------------------------
p99() { awk '/^ +99%/ { v=$2; if (v ~ /us$/) { sub(/us/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms/,"",v) } else if (v ~ /s$/) { sub(/s/,"",v); v*=1000 }; printf "%.2f", v }'; }
rps() { awk '/Requests\/sec/ { printf "%.0f", $2 }'; }
# Page 40 of a filter twice: by the cursor the page's links carry (page 39's "next"), and by the
# bare page number an old link or the API's `page` uses (an offset).
DEEP=$(curl -s -H "Cookie: jarida_session=$SESSION" "http://127.0.0.1:$PORT/admin/posts?status=published&kind=report&page=39" \
  | grep -o 'rel="next" href="[^"]*"' | cut -d'"' -f4 | sed 's/&amp;/\&/g')
case "$DEEP" in *after=*) ;; *) echo "error: page 39 has no cursor link ($DEEP)"; exit 1 ;; esac
for q in "" "?lang=ar&q=%D8%A7%D9%84%D9%85%D9%8A%D8%A7%D9%87" "${DEEP#/admin/posts}" "?status=published&kind=report&page=40"; do
  url="http://127.0.0.1:$PORT/admin/posts$q"
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: jarida_session=$SESSION" "$url")
  [ "$code" = 200 ] || { echo "error: $url answered $code"; exit 1; }
  # One connection: each request's latency is the server's time for it (no queueing behind
  # others); then four, as a small newsroom's editors at once on a two-core machine.
  wrk -t1 -c1 -d5s --latency -H "Cookie: jarida_session=$SESSION" "$url" > "$WORK/wrk1"
  wrk -t1 -c4 -d10s --latency -H "Cookie: jarida_session=$SESSION" "$url" > "$WORK/wrk"
  echo "posts list ${q:-(no filter)}: one at a time p99 $(p99 < "$WORK/wrk1") ms ($(rps < "$WORK/wrk1") req/s); four at once p99 $(p99 < "$WORK/wrk") ms, $(rps < "$WORK/wrk") req/s (target p99 <= 20 ms server time)"
done
# Baseline: the list's two statements (the page and its count) in sqlite3 on the same file, 200 times.
DB="$WORK/data/jarida.db"
SQL="SELECT id, lang, slug, title, kind, status, published_at, updated_at, owner_id, submitted_at, translation_key, authors_json FROM posts ORDER BY updated_at DESC, id DESC LIMIT 50 OFFSET 0; SELECT COUNT(*) FROM posts;"
t0=$(date +%s%N)
for _ in $(seq 1 200); do sqlite3 "$DB" "$SQL" > /dev/null; done
echo "baseline sqlite3 (process start included): $(( ($(date +%s%N) - t0) / 200000 )) us per list"

# --- preview of a 5,000-word report --------------------------------------------------------------
python3 - "$WORK/long.md" <<'PY'
import sys, random
random.seed(3)
w = "water market school power bread sea road clinic border fuel price report council strike".split()
paras = []
n = 0
while n < 5000:
    k = random.randint(40, 120)
    p = " ".join(random.choice(w) for _ in range(k))
    if len(paras) % 7 == 0: p = "## " + p[:40] + "\n\n" + p
    if len(paras) % 5 == 0: p = p + " [a link](https://example.org/x) and **bold** and _it_."
    paras.append(p); n += k
open(sys.argv[1], "w").write("\n\n".join(paras) + "\n")
PY
echo "preview input: $(wc -w < "$WORK/long.md") words"
: > "$WORK/times"
for _ in $(seq 1 50); do
  curl -s -o /dev/null -w '%{time_total}\n' -b "$JAR" -H "X-CSRF-Token: $CSRF" --data-urlencode "body@$WORK/long.md" \
    "http://127.0.0.1:$PORT/admin/preview" >> "$WORK/times"
done
sort -n "$WORK/times" | awk '{ a[NR]=$1 } END { printf "preview of a 5,000-word report: median %.1f ms, worst of 50 %.1f ms (target <= 30 ms)\n", a[int(NR/2)]*1000, a[NR]*1000 }'
t0=$(date +%s%N)
for _ in $(seq 1 50); do cmark-gfm -e table -e autolink -e strikethrough "$WORK/long.md" > /dev/null; done
echo "baseline cmark-gfm (process start included): $(( ($(date +%s%N) - t0) / 50000000 )) ms per render"

# --- a 6000x4000 JPEG upload ---------------------------------------------------------------------
python3 -c "
from PIL import Image
import random
random.seed(1)
im = Image.effect_noise((6000, 4000), 40).convert('RGB')
im.save('$WORK/big.jpg', quality=88)
"
echo "upload input: $(du -h "$WORK/big.jpg" | cut -f1), 6000x4000"
CSRF_M=$(curl -s -b "$JAR" "http://127.0.0.1:$PORT/admin/media" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
rss_before=$(awk '/VmRSS/ { print $2 }' /proc/$PID/status)
code_time=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -b "$JAR" -F "csrf=$CSRF_M" -F "file=@$WORK/big.jpg" \
  "http://127.0.0.1:$PORT/admin/media")
hwm=$(awk '/VmHWM/ { print $2 }' /proc/$PID/status)
read -r code secs <<< "$code_time"
[ "$code" = 303 ] || { echo "error: the upload answered $code"; exit 1; }
ls "$WORK/data/media" | grep -q 'w1600.jpg' || { echo "error: no 1600 px copy was made"; exit 1; }
ls "$WORK/data/media" | grep -q 'w2560.webp' || { echo "error: no WebP copy was made"; exit 1; }
echo "files: $(ls "$WORK/data/media" | grep -c .) ($(ls "$WORK/data/media" | tr '\n' ' '))"
awk -v s="$secs" -v b="$rss_before" -v h="$hwm" 'BEGIN { printf "upload 6000x4000 JPEG: %.2f s, peak RSS growth %d MB (targets <= 2 s, <= 300 MB)\n", s, (h - b) / 1024 }'
t0=$(date +%s%N)
convert "$WORK/big.jpg" -auto-orient -strip -resize 2560x -quality 90 -write "$WORK/m2560.jpg" \
  \( +clone -quality 80 -write "$WORK/m2560.webp" +delete \) \
  \( +clone -resize 1600x -quality 82 -write "$WORK/m1600.jpg" -quality 80 -write "$WORK/m1600.webp" +delete \) \
  \( +clone -resize 960x -quality 82 -write "$WORK/m960.jpg" -quality 80 -write "$WORK/m960.webp" +delete \) \
  -resize 480x -quality 82 -write "$WORK/m480.jpg" -quality 80 "$WORK/m480.webp"
echo "baseline ImageMagick (the same eight files: JPEG at 2560/1600/960/480, WebP at each): $(( ($(date +%s%N) - t0) / 1000000 )) ms"
