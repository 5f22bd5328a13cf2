#!/usr/bin/env bash
# Site import benchmark (issue 16): a WordPress export of POSTS posts (default 10,000, half of them
# Arabic translations of the other half, Polylang-style), about 10 KB of HTML each (paragraphs, a
# heading, a list, a link, a caption shortcode, a source line), with an attachment per
# twenty posts and the item layout of WordPress 6's own export (tests/fixtures/wordpress). It is
# imported with `jarida import wordpress --apply` into a fresh SQLite data folder (and into
# PostgreSQL when reachable), printing the time and peak RSS. Target: <= 20 s and <= 100 MB on
# SQLite for 10,000 posts. Beside it, in the same run: `xmllint --stream` reading the same file
# (the bare cost of parsing the XML once), when installed. Then a Ghost export (JSON, the layout
# of Ghost 5's: posts, tags, users and their link tables) of the same posts, at a quarter and at
# the full size, imported on SQLite: its peak RSS should not grow with the file (it is streamed).
# Needs GNU time (/usr/bin/time). Usage: bench/import-site.sh [POSTS]
set -euo pipefail
cd "$(dirname "$0")/.."
POSTS="${1:-10000}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
[ -x /usr/bin/time ] || { echo "error: GNU time is not installed (apt-get install time)" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p jarida
BIN="$CARGO_TARGET_DIR/release/jarida"
WORK=$(mktemp -d /tmp/jarida-site-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

python3 - "$POSTS" "$WORK/export.xml" <<'PY'
import sys
n, out = int(sys.argv[1]), sys.argv[2]
para_en = ("Families in the south now spend a third of their income on water, according to figures "
           "gathered for this report over several months of interviews, site visits and document requests. ")
para_ar = ("تنفق العائلات في الجنوب ثلث دخلها على المياه، وفقا لأرقام جمعت لهذا التقرير على مدى "
           "أشهر من المقابلات والزيارات الميدانية وطلبات الوثائق. ")
with open(out, "w", encoding="utf-8") as f:
    f.write('<?xml version="1.0" encoding="UTF-8" ?>\n<rss version="2.0" '
            'xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">\n'
            '<channel>\n\t<title>Old Newsroom</title>\n\t<link>https://old.example.org</link>\n'
            '\t<wp:wxr_version>1.2</wp:wxr_version>\n\t<wp:base_site_url>https://old.example.org</wp:base_site_url>\n'
            '\t<wp:author><wp:author_id>1</wp:author_id><wp:author_login><![CDATA[lina]]></wp:author_login>'
            '<wp:author_display_name><![CDATA[Lina Haddad]]></wp:author_display_name></wp:author>\n')
    pid = 100
    for i in range(n):
        ar = i % 2 == 1
        pair = i // 2
        pid += 1
        if i % 20 == 0:
            f.write(f'\t<item>\n\t\t<title><![CDATA[Image {pair}]]></title>\n\t\t<wp:post_id>{pid}</wp:post_id>\n'
                    f'\t\t<wp:status><![CDATA[inherit]]></wp:status>\n\t\t<wp:post_type><![CDATA[attachment]]></wp:post_type>\n'
                    f'\t\t<wp:attachment_url><![CDATA[https://old.example.org/wp-content/uploads/2024/05/img-{pair}.jpg]]></wp:attachment_url>\n'
                    f'\t\t<wp:postmeta><wp:meta_key><![CDATA[_wp_attachment_image_alt]]></wp:meta_key><wp:meta_value><![CDATA[Picture {pair}]]></wp:meta_value></wp:postmeta>\n\t</item>\n')
            thumb = pid
            pid += 1
        para = para_ar if ar else para_en
        body = []
        for s in range(4):
            body.append(f"<h2>{'القسم' if ar else 'Section'} {s + 1}</h2>")
            for _ in range(4):
                body.append(f"<p>{para * 2}<a href=\"https://old.example.org/2024/05/01/story-{pair}/\">{'رابط' if ar else 'link'}</a></p>")
            body.append("<ul><li>one</li><li>two</li><li>three</li></ul>")
        body.append(f'[caption id="attachment_{thumb}" width="300"]<img src="https://old.example.org/wp-content/uploads/2024/05/img-{pair // 10}-300x200.jpg" alt="A picture" /> A caption[/caption]')
        body.append('<p><strong>Source:</strong> <a href="https://outlet.example/story">The Outlet</a></p>')
        lang = "ar" if ar else "en"
        title = f"أزمة المياه رقم {pair}" if ar else f"Water story number {pair}"
        slug = f"%d8%a3%d8%b2%d9%85%d8%a9-{pair}" if ar else f"water-story-{pair}"
        day = 1 + pair % 28
        f.write(f'\t<item>\n\t\t<title><![CDATA[{title}]]></title>\n'
                f'\t\t<link>https://old.example.org/2024/05/{day:02d}/{slug}/</link>\n'
                f'\t\t<dc:creator><![CDATA[lina]]></dc:creator>\n'
                f'\t\t<content:encoded><![CDATA[{chr(10).join(body)}]]></content:encoded>\n'
                f'\t\t<excerpt:encoded><![CDATA[]]></excerpt:encoded>\n'
                f'\t\t<wp:post_id>{pid}</wp:post_id>\n\t\t<wp:post_date><![CDATA[2024-05-{day:02d} 11:00:00]]></wp:post_date>\n'
                f'\t\t<wp:post_date_gmt><![CDATA[2024-05-{day:02d} 08:00:00]]></wp:post_date_gmt>\n'
                f'\t\t<wp:post_name><![CDATA[{slug}]]></wp:post_name>\n\t\t<wp:status><![CDATA[publish]]></wp:status>\n'
                f'\t\t<wp:post_type><![CDATA[post]]></wp:post_type>\n\t\t<wp:is_sticky>0</wp:is_sticky>\n'
                f'\t\t<category domain="language" nicename="{lang}"><![CDATA[{lang}]]></category>\n'
                f'\t\t<category domain="post_translations" nicename="pll_{pair}"><![CDATA[pll_{pair}]]></category>\n'
                f'\t\t<category domain="category" nicename="news-{pair % 30}"><![CDATA[News {pair % 30}]]></category>\n'
                f'\t\t<category domain="post_tag" nicename="water"><![CDATA[Water]]></category>\n'
                f'\t\t<wp:postmeta><wp:meta_key><![CDATA[_thumbnail_id]]></wp:meta_key><wp:meta_value><![CDATA[{thumb}]]></wp:meta_value></wp:postmeta>\n'
                '\t</item>\n')
    f.write('</channel>\n</rss>\n')
PY
echo "export: $POSTS posts, $(du -h "$WORK/export.xml" | cut -f1)"
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"

if command -v xmllint >/dev/null; then
  t0=$(date +%s%N)
  xmllint --stream --noout "$WORK/export.xml"
  t1=$(date +%s%N)
  awk -v ms=$(( (t1 - t0) / 1000000 )) 'BEGIN { printf "%-10s %6.2f s  (xmllint --stream: reading the XML once)\n", "xmllint", ms / 1000 }'
fi

run() { # label database_url
  local label=$1 url=$2 data="$WORK/data-$1"
  JARIDA_DATA_DIR="$data" JARIDA_DATABASE_URL="$url" JARIDA_LOG=warn "$BIN" migrate >/dev/null
  local t0 t1
  t0=$(date +%s%N)
  JARIDA_DATA_DIR="$data" JARIDA_DATABASE_URL="$url" JARIDA_LOG=warn \
    /usr/bin/time -f '%M' -o "$WORK/rss-$label" "$BIN" import wordpress "$WORK/export.xml" --apply > "$WORK/out-$label"
  t1=$(date +%s%N)
  grep -q "posts created  *$POSTS" "$WORK/out-$label" || { echo "error: $label did not import every post:"; head -20 "$WORK/out-$label"; exit 1; }
  awk -v l="$label" -v n="$POSTS" -v ms=$(( (t1 - t0) / 1000000 )) -v kb="$(cat "$WORK/rss-$label")" 'BEGIN {
    printf "%-10s %6.2f s  %6.0f posts/s  peak RSS %d MB  (target: <= 20 s, <= 100 MB for 10,000 posts)\n", l, ms / 1000, n / (ms / 1000), kb / 1024 }'
}

run sqlite "sqlite://$WORK/data-sqlite/jarida.db"
if psql "$PG_URL" -Atqc 'select 1' >/dev/null 2>&1; then
  db="jarida_site_bench_$$"
  psql "$PG_URL" -qc "CREATE DATABASE $db" >/dev/null
  run postgres "${PG_URL%/*}/$db"
  psql "$PG_URL" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
else
  echo "postgres: not reachable at $PG_URL, not measured"
fi

# Ghost: the same kind of posts as one JSON document.
ghost_export() { # posts file
  python3 - "$1" "$2" <<'PY'
import json, sys
n, out = int(sys.argv[1]), sys.argv[2]
para_en = ("Families in the south now spend a third of their income on water, according to figures "
           "gathered for this report over several months of interviews, site visits and document requests. ")
para_ar = ("تنفق العائلات في الجنوب ثلث دخلها على المياه، وفقا لأرقام جمعت لهذا التقرير على مدى "
           "أشهر من المقابلات والزيارات الميدانية وطلبات الوثائق. ")
with open(out, "w", encoding="utf-8") as f:
    f.write('{"db":[{"meta":{"version":"5.80.0"},"data":{"posts":[')
    for i in range(n):
        ar = i % 2 == 1
        para = para_ar if ar else para_en
        html = "".join(f"<p>{para * 3}</p><h2>Part {k}</h2><ul><li>one</li><li>two</li></ul>" for k in range(8))
        post = {"id": f"p{i}", "title": (f"أزمة المياه رقم {i}" if ar else f"Water story number {i}"),
                "slug": f"story-{i}", "html": html, "status": "published", "type": "post",
                "published_at": "2024-05-01T08:00:00.000Z", "updated_at": "2024-05-02T08:00:00.000Z"}
        f.write(("," if i else "") + json.dumps(post, ensure_ascii=False))
    f.write('],"tags":[{"id":"t1","name":"Water","slug":"water"},{"id":"t2","name":"#ar","slug":"hash-ar"}],')
    links = [{"post_id": f"p{i}", "tag_id": "t1", "sort_order": 0} for i in range(n)]
    links += [{"post_id": f"p{i}", "tag_id": "t2", "sort_order": 1} for i in range(1, n, 2)]
    f.write('"posts_tags":' + json.dumps(links) + ',')
    f.write('"users":[{"id":"u1","name":"Lina Haddad","slug":"lina"}],')
    f.write('"posts_authors":' + json.dumps([{"post_id": f"p{i}", "author_id": "u1", "sort_order": 0} for i in range(n)]))
    f.write('}}]}')
PY
}
for n in $(( POSTS / 4 )) "$POSTS"; do
  ghost_export "$n" "$WORK/ghost-$n.json"
  data="$WORK/ghost-data-$n"
  JARIDA_DATA_DIR="$data" JARIDA_LOG=warn "$BIN" migrate >/dev/null
  t0=$(date +%s%N)
  JARIDA_DATA_DIR="$data" JARIDA_LOG=warn /usr/bin/time -f '%M' -o "$WORK/rss-ghost" \
    "$BIN" import ghost "$WORK/ghost-$n.json" --apply --site-url https://old.example.org > "$WORK/out-ghost"
  t1=$(date +%s%N)
  grep -q "posts created  *$n" "$WORK/out-ghost" || { echo "error: ghost did not import every post:"; head -20 "$WORK/out-ghost"; exit 1; }
  awk -v n="$n" -v size="$(du -h "$WORK/ghost-$n.json" | cut -f1)" -v ms=$(( (t1 - t0) / 1000000 )) -v kb="$(cat "$WORK/rss-ghost")" 'BEGIN {
    printf "%-10s %6.2f s  %6.0f posts/s  peak RSS %d MB  (%d posts, %s of JSON)\n", "ghost", ms / 1000, n / (ms / 1000), kb / 1024, n, size }'
done
