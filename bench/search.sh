#!/usr/bin/env bash
# Search benchmark (issue 17): POSTS posts (default 20,000, half Arabic, ~400 words each, drawn
# as real text is: Zipf over 6,000 words, function words first, then the newsroom's subjects), imported into a fresh data folder (SQLite; PostgreSQL too when
# reachable). Measures: the index rebuilt from scratch (`jarida search rebuild`, run twice, the
# second timed), then `jarida serve` answering a rotating set of queries (English and
# Arabic, rare and common words, phrases, a word being typed, filters) under wrk -t2 -c16, with
# its p99 and req/s, and the server's memory before and after. Targets: p99 <= 10 ms per query,
# build <= 10 s, memory growth <= 100 MB.
# Needs: wrk, curl, GNU time. Usage: bench/search.sh [POSTS]
set -euo pipefail
cd "$(dirname "$0")/.."
POSTS="${1:-20000}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
for t in wrk curl; do command -v $t >/dev/null || { echo "error: $t is not installed" >&2; exit 1; }; done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p jarida
BIN="$CARGO_TARGET_DIR/release/jarida"
WORK=$(mktemp -d /tmp/jarida-search-bench.XXXXXX)
PORT=18090
# Connections at once (each a reader waiting for an answer).
CONNS="${CONNS:-4}"
cleanup() { [ -n "${JPID:-}" ] && kill "$JPID" 2>/dev/null; rm -rf "$WORK"; true; }
trap cleanup EXIT

python3 - "$POSTS" "$WORK/posts" <<'PY'
import bisect, itertools, os, random, sys
n, out = int(sys.argv[1]), sys.argv[2]
os.makedirs(out)
random.seed(11)
# Words drawn as in real text: a few very common words, a long tail of rare ones (Zipf, s = 1.1,
# over 6,000 words: function words first, then the newsroom's subjects, then invented words).
en_common = "the of and to in a for on that is was with by said at from as it have has be are were will their they more than after about".split()
en_topic = ("water hospital school family aid truck crossing fuel electricity bakery flour market price farmer harvest "
      "olive fisherman boat sea border refugee camp tent winter rain storm child mother doctor nurse patient "
      "medicine engineer pump sewage street road bridge house rubble shelter university student teacher exam "
      "journalist camera report minister ministry council election court law prisoner release ceasefire talks "
      "negotiation cairo rafah khan younis deir balah nuseirat jabalia north south east west city village "
      "solar panel generator internet phone network bank cash salary worker factory shop trade export import "
      "desalination plant vaccination polio dialysis kidney insulin diabetes midwife greenhouse embroidery").split()
ar_common = "في من على إلى أن عن مع هذا التي الذي قال كان بعد قبل حتى بين أو كما وقد لم لا ما هو هي".split()
ar_topic = ("مياه مستشفى مدرسة عائلة مساعدات شاحنة معبر وقود كهرباء مخبز طحين سوق سعر مزارع محصول زيتون صياد قارب "
      "بحر حدود لاجئ مخيم خيمة شتاء مطر عاصفة طفل أم طبيب ممرضة مريض دواء مهندس مضخة صرف شارع طريق جسر بيت "
      "ركام ملجأ جامعة طالب معلم امتحان صحفي كاميرا تقرير وزير وزارة مجلس انتخابات محكمة قانون أسير إفراج "
      "هدنة محادثات مفاوضات القاهرة رفح خان يونس دير البلح النصيرات جباليا شمال جنوب شرق غرب مدينة قرية "
      "ألواح شمسية مولد إنترنت هاتف شبكة مصرف نقد راتب عامل مصنع متجر تجارة تصدير استيراد تحلية تطعيم غسيل").split()
def invent(letters, k):
    return ["".join(random.choice(letters) for _ in range(random.randint(4, 8))) for _ in range(k)]
V = 6000
en_words = en_common + en_topic + invent("abcdefghiklmnoprstuvwy", V)
ar_words = ar_common + ar_topic + invent("ابتثجحخدذرزسشصضطظعغفقكلمنهوي", V)
weights = [1 / (r + 1) ** 1.1 for r in range(V)]
cum = list(itertools.accumulate(weights))
def draw(words):
    return words[bisect.bisect(cum, random.random() * cum[-1])]
prefixes = ["", "", "", "", "ال", "وال", "بال", "و", "لل"]
for i in range(n):
    arabic = i % 2 == 1
    words = ar_words if arabic else en_words
    def sentence(k):
        ws = [draw(words) for _ in range(k)]
        if arabic:
            ws = [w if w in ar_common or w.startswith("ال") else random.choice(prefixes) + w for w in ws]
        return " ".join(ws)
    title = sentence(7)
    body = "\n\n".join(sentence(random.randint(40, 70)) + "." for _ in range(7))
    lang = "ar" if arabic else "en"
    year = 2015 + i % 11
    with open(os.path.join(out, f"post-{i}.{lang}.md"), "w", encoding="utf-8") as f:
        f.write(f'+++\ntitle = "{title}"\ndate = {year}-{1 + i % 12:02d}-{1 + i % 28:02d}T08:00:00Z\n'
                f'kind = "{["report", "news", "design"][i % 3]}"\nslug = "post-{i}"\n'
                f'tags = ["{draw(words)}"]\n+++\n\n{body}\n')
PY
echo "corpus: $POSTS posts, $(du -sh "$WORK/posts" | cut -f1) of Markdown"
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"

# The queries, URL-encoded by curl's rules, rotated by wrk's Lua.
QUERIES=(
  "q=water" "q=desalination+plant" "q=hospital+patients" "q=%22khan+younis%22" "q=electric" "q=solar+panels&kind=report"
  "q=ceasefire+talks+cairo" "q=journalists" "q=rubble+shelter&year=2020" "q=fisherman+boats" "q=univ"
  "q=%D8%A7%D9%84%D9%85%D9%8A%D8%A7%D9%87" "q=%D9%85%D8%B3%D8%AA%D8%B4%D9%81%D9%89" "q=%D8%A8%D8%A7%D9%84%D9%83%D9%87%D8%B1%D8%A8%D8%A7%D8%A1"
  "q=%D8%AE%D8%A7%D9%86+%D9%8A%D9%88%D9%86%D8%B3" "q=%22%D8%AF%D9%8A%D8%B1+%D8%A7%D9%84%D8%A8%D9%84%D8%AD%22" "q=%D8%A7%D9%84%D8%B5%D9%8A%D8%A7%D8%AF%D9%8A%D9%86"
  "q=%D8%B7%D8%A7%D9%84%D8%A8+%D8%AC%D8%A7%D9%85%D8%B9%D8%A9" "q=%D9%85%D8%B3%D8%AA" "q=water&page=3"
)
{
  echo "local paths = {"
  for q in "${QUERIES[@]}"; do echo "  \"/en/search?$q\","; done
  echo "}"
  echo "local i = 0"
  echo "request = function() i = i % #paths + 1; return wrk.format('GET', paths[i]) end"
} > "$WORK/rotate.lua"

run() { # label database_url
  local label=$1 url=$2 data="$WORK/data-$1"
  export JARIDA_DATA_DIR="$data" JARIDA_DATABASE_URL="$url" JARIDA_LOG=warn JARIDA_LISTEN="127.0.0.1:$PORT"
  local t0 t1
  t0=$(date +%s%N)
  "$BIN" import "$WORK/posts" >/dev/null
  t1=$(date +%s%N)
  awk -v l="$label" -v ms=$(( (t1 - t0) / 1000000 )) 'BEGIN { printf "%-9s import (index kept while saving): %.1f s\n", l, ms / 1000 }'
  # The whole index rebuilt from scratch (what a start does when the word rules changed).
  "$BIN" search rebuild > "$WORK/rebuild-$label"
  /usr/bin/time -f '%M' -o "$WORK/rss-build-$label" "$BIN" search rebuild > "$WORK/rebuild-$label"
  awk -v l="$label" -v kb="$(cat "$WORK/rss-build-$label")" '{ printf "%-9s %s, peak RSS %d MB  (target <= 10 s)\n", l, $0, kb / 1024 }' "$WORK/rebuild-$label"
  "$BIN" serve >/dev/null 2>&1 &
  JPID=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$PORT/en/search?q=water"; do sleep 0.2; done
  # Each query alone, one reader, the median of five: which ones cost what.
  for q in "${QUERIES[@]}"; do
    for _ in 1 2 3 4 5; do curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT/en/search?$q"; done \
      | sort -n | sed -n 3p | awk -v l="$label" -v q="$q" '{ printf "%-9s   %6.1f ms  %s\n", l, $1 * 1000, q }'
  done
  local before; before=$(awk '/VmRSS/ {print $2}' /proc/$JPID/status)
  wrk -t2 -c"$CONNS" -d2s -s "$WORK/rotate.lua" "http://127.0.0.1:$PORT" >/dev/null
  wrk -t2 -c"$CONNS" -d10s --latency -s "$WORK/rotate.lua" "http://127.0.0.1:$PORT" > "$WORK/wrk-$label"
  local after; after=$(awk '/VmRSS/ {print $2}' /proc/$JPID/status)
  awk -v l="$label" '/Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
    END { printf "%-9s %d queries rotated, wrk -t2 -c%s -d10s: %s req/s, p50 %s, p99 %s  (target p99 <= 10 ms)\n", l, 20, c, rps, p50, p99 }' c="$CONNS" "$WORK/wrk-$label"
  awk -v l="$label" -v b="$before" -v a="$after" 'BEGIN { printf "%-9s server RSS %d MB before the load, %d MB after (growth %d MB, target <= 100 MB)\n", l, b / 1024, a / 1024, (a - b) / 1024 }'
  kill "$JPID"; wait "$JPID" 2>/dev/null || true; JPID=
}

run sqlite "sqlite://$WORK/data-sqlite/jarida.db"
if psql "$PG_URL" -Atqc 'select 1' >/dev/null 2>&1; then
  db="jarida_search_bench_$$"
  psql "$PG_URL" -qc "CREATE DATABASE $db" >/dev/null
  run postgres "${PG_URL%/*}/$db"
  psql "$PG_URL" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
else
  echo "postgres: not reachable at $PG_URL, not measured"
fi
