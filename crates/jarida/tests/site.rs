//! The public site over HTTP, after importing the fixture folder.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestApp, fixtures};
use std::io::{Read, Write};

fn imported() -> TestApp {
    let app = TestApp::spawn();
    let report = app.import(&fixtures());
    assert_eq!(
        report.failed.len(),
        1,
        "only broken.md fails: {:?}",
        report.failed
    );
    assert_eq!(report.created, 7);
    app
}

#[test]
fn home_pages_in_both_languages() {
    let app = imported();
    let r = app.get("/");
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some("/en/"));

    let en = app.get("/en/");
    assert_eq!(en.status, 200);
    let html = en.text();
    assert!(html.contains("<html lang=\"en\" dir=\"ltr\" data-digits=\"western\">"));
    let featured = html
        .find("Gaza&#39;s water crisis, one year on")
        .expect("featured report on the home page");
    let latest = html
        .find("Market reopens after repairs")
        .expect("latest news on the home page");
    assert!(featured < latest, "featured comes before latest");
    assert!(!html.contains("Unfinished draft"), "drafts stay hidden");
    assert!(!html.contains("Coming soon"), "scheduled posts stay hidden");
    assert!(html.contains("hreflang=\"ar\""));

    let ar = app.get("/ar/").text();
    assert!(ar.contains("<html lang=\"ar\" dir=\"rtl\" data-digits=\"arabic-indic\">"));
    assert!(ar.contains("أزمة المياه في غزة بعد عام"));
    assert!(
        !ar.contains("Market reopens"),
        "the Arabic home lists Arabic posts only"
    );
    assert!(
        ar.contains("١ أكتوبر ٢٠٢٦"),
        "Arabic dates with Arabic month names and digits"
    );
}

#[test]
fn article_with_sources_corrections_and_translation() {
    let app = imported();
    let r = app.get("/en/water-crisis");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.text();
    assert!(html.contains("<title>Gaza&#39;s water crisis, one year on · Jarida</title>"));
    assert!(html.contains("Based on reporting by"));
    assert!(html.contains("<bdi>Reuters</bdi>"));
    assert!(html.contains("https://www.reuters.com/world/desalination-plant-halts"));
    assert!(html.contains("3 October 2026</time>: An earlier version gave the plant"));
    assert!(html.contains("5 October 2026</time>: We misspelled"));
    assert!(html.contains("<table>"), "GFM tables render");
    assert!(html.contains("id=\"what-changed\""), "headings get ids");
    assert!(html.contains("data-footnote"), "footnotes render");
    assert!(html.contains("<link rel=\"canonical\" href=\"http://"));
    assert!(html.contains("<meta property=\"og:type\" content=\"article\">"));
    assert!(html.contains("<meta name=\"twitter:card\" content=\"summary_large_image\">"));
    assert!(
        html.contains("hreflang=\"ar\" href=\"http://") && html.contains("/ar/azmat-al-miyah\"")
    );
    assert!(
        html.contains("class=\"lang-switch\" href=\"/ar/azmat-al-miyah\""),
        "the switch goes to the translation"
    );
    assert!(
        html.contains("src=\"/media/cover-"),
        "the cover was copied into media"
    );

    let start = html.find("<script type=\"application/ld+json\">").unwrap() + 35;
    let end = start + html[start..].find("</script>").unwrap();
    let ld: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
    assert_eq!(ld["@type"], "NewsArticle");
    assert_eq!(ld["datePublished"], "2026-10-01T08:00:00Z");
    assert_eq!(
        ld["dateModified"], "2026-10-05T12:30:00Z",
        "dateModified follows the latest correction"
    );
    assert_eq!(ld["isBasedOn"][0]["publisher"]["name"], "Reuters");
    assert_eq!(ld["isBasedOn"].as_array().unwrap().len(), 2);
    assert_eq!(
        ld["citation"][1]["url"],
        "https://www.ochaopt.org/content/update"
    );
    assert_eq!(ld["correction"].as_array().unwrap().len(), 2);
    assert_eq!(ld["author"][0]["name"], "Lina Haddad");

    let ar = app.get("/ar/azmat-al-miyah");
    assert_eq!(ar.status, 200);
    let ar = ar.text();
    assert!(ar.contains("<html lang=\"ar\" dir=\"rtl\" data-digits=\"arabic-indic\">"));
    assert!(ar.contains("class=\"lang-switch\" href=\"/en/water-crisis\""));
    assert!(ar.contains("استنادًا إلى تغطية"), "Arabic interface strings");
}

#[test]
fn plain_text_rendering() {
    let app = imported();
    let r = app.get("/en/water-crisis.txt");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let t = r.text();
    assert!(
        t.starts_with("Gaza's water crisis, one year on\n================================\n"),
        "{t}"
    );
    assert!(
        t.contains("What changed\n------------\n\n"),
        "headings set apart: {t}"
    );
    assert!(
        t.contains(
            "- trucked water became the main source for most households;\n- prices rose fourfold;"
        ),
        "{t}"
    );
    assert!(
        t.contains("See the OCHA update [1] for the methodology."),
        "{t}"
    );
    assert!(
        t.contains("[1] https://www.ochaopt.org/content/update"),
        "{t}"
    );
    assert!(
        t.contains("- 3 October 2026: An earlier version"),
        "corrections listed: {t}"
    );
    assert!(
        t.contains("- Reuters, Jane Roe: Desalination plant halts operations (2025-09-28)"),
        "{t}"
    );
    assert!(!t.contains('<'), "no markup in the text rendering: {t}");
    assert!(
        t.lines().all(|l| l.chars().count() <= 100),
        "lines are wrapped: {t}"
    );
    assert_eq!(app.get("/en/unfinished-draft.txt").status, 404);
}

#[test]
fn xss_payloads_do_not_survive() {
    let app = imported();
    let html = app.get("/en/xss").text().to_lowercase();
    for bad in [
        "<script>alert",
        "onerror",
        "javascript:",
        "<iframe",
        "onclick",
        "xss-svg",
    ] {
        assert!(!html.contains(bad), "{bad} survived");
    }
    assert!(html.contains("safe text survives"));
    assert!(
        html.contains("payloads &lt;script&gt;"),
        "the title is escaped, not dropped"
    );
    for feed in ["/en/feed.xml", "/en/atom.xml", "/en/feed.json"] {
        let body = app.get(feed).text().to_lowercase();
        assert!(
            !body.contains("xss-onerror") && !body.contains("xss-js"),
            "{feed} carries a payload"
        );
    }
}

#[test]
fn listings_taxonomies_archive_and_pages() {
    let app = imported();
    let reports = app.get("/en/reports/").text();
    assert!(reports.contains("Gaza&#39;s water crisis"));
    assert!(!reports.contains("Market reopens"));
    let designs = app.get("/en/designs/").text();
    assert!(designs.contains("Where the water goes"));
    assert_eq!(app.get("/en/reports").status, 308);
    let odd = app.get("/en/%77ater-crisis");
    assert_eq!(
        odd.status, 308,
        "another spelling of a path redirects to the canonical one"
    );
    assert_eq!(odd.header("location"), Some("/en/water-crisis"));
    assert_eq!(
        app.get("/ar/tags/%d9%85%d9%8a%d8%a7%d9%87/")
            .header("location"),
        Some("/ar/tags/%D9%85%D9%8A%D8%A7%D9%87/")
    );

    let tag = app.get("/en/tags/water/");
    assert_eq!(tag.status, 200);
    let tag = tag.text();
    assert!(tag.contains("Where the water goes") && tag.contains("Gaza&#39;s water crisis"));
    assert!(!tag.contains("Market reopens"));
    let ar_tag = app.get("/ar/tags/%D9%85%D9%8A%D8%A7%D9%87/");
    assert_eq!(ar_tag.status, 200, "Arabic tag slugs work");
    assert!(ar_tag.text().contains("أزمة المياه"));

    let author = app.get("/en/authors/omar-said/").text();
    assert!(author.contains("Market reopens") && author.contains("Gaza&#39;s water crisis"));
    assert!(!author.contains("Where the water goes"));
    assert_eq!(app.get("/en/authors/nobody/").status, 404);

    let archive = app.get("/en/archive/").text();
    assert!(archive.contains("/en/archive/2026/10/"));
    let october = app.get("/en/archive/2026/10/").text();
    assert!(october.contains("Where the water goes"));
    assert!(
        !october.contains("Market reopens"),
        "November posts are not in October"
    );

    let support = app.get("/en/support/").text();
    assert!(support.contains("https://opencollective.com/example"));
    assert!(support.contains("IBAN PS92"));
    assert!(app.get("/ar/support/").text().contains("ادعمنا"));
    assert_eq!(app.get("/en/newsletter/").status, 200);
}

#[test]
fn pagination() {
    let app = TestApp::spawn_with(|c| c.per_page = 2);
    app.import(&fixtures());
    let p1 = app.get("/en/").text();
    assert!(
        p1.contains("href=\"/en/page/2/\""),
        "a link to the next page"
    );
    let p2 = app.get("/en/page/2/");
    assert_eq!(p2.status, 200);
    assert!(p2.text().contains("rel=\"prev\" href=\"/en/\""));
    assert_eq!(app.get("/en/page/1/").status, 308);
    assert_eq!(app.get("/en/page/99/").status, 404);
    assert_eq!(app.get("/en/page/0/").status, 404);
}

#[test]
fn not_found_pages_look_like_the_site() {
    let app = imported();
    for (path, lang) in [
        ("/en/no-such-story", "en"),
        ("/ar/no-such-story", "ar"),
        ("/nowhere", "en"),
        ("/en/unfinished-draft", "en"),
        ("/en/coming-soon", "en"),
    ] {
        let r = app.get(path);
        assert_eq!(r.status, 404, "{path}");
        let html = r.text();
        assert!(html.contains(&format!("<html lang=\"{lang}\"")), "{path}");
        assert!(
            html.contains("class=\"site-header\""),
            "{path} has the site's look"
        );
    }
    assert!(
        app.get("/en/no-such-story")
            .text()
            .contains("Page not found")
    );
}

#[test]
fn feeds_per_language_and_kind() {
    let app = imported();
    let rss = app.get("/en/feed.xml");
    assert_eq!(
        rss.header("content-type"),
        Some("application/rss+xml; charset=utf-8")
    );
    let rss = rss.text();
    assert!(rss.starts_with("<?xml"));
    assert!(rss.contains("<title>Gaza&#39;s water crisis, one year on</title>"));
    assert!(
        rss.contains("An earlier version gave the plant"),
        "corrections are in the feed"
    );
    assert!(rss.contains("&lt;table&gt;"), "full content, escaped");
    assert!(!rss.contains("أزمة"), "the English feed has English posts");

    let atom = app.get("/ar/atom.xml").text();
    assert!(atom.contains("xml:lang=\"ar\""));
    assert!(atom.contains("<title>أزمة المياه في غزة بعد عام</title>"));

    let json: serde_json::Value = serde_json::from_slice(&app.get("/en/feed.json").bytes).unwrap();
    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
    let items = json["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|i| i["title"] == "Market reopens after repairs")
    );
    let report = items
        .iter()
        .find(|i| i["title"] == "Gaza's water crisis, one year on")
        .unwrap();
    assert_eq!(report["date_modified"], "2026-10-05T12:30:00Z");
    assert!(
        report["content_html"]
            .as_str()
            .unwrap()
            .contains("We misspelled")
    );
    assert!(
        report["content_html"]
            .as_str()
            .unwrap()
            .contains("src=\"http://"),
        "media links are absolute in feeds"
    );

    let kind: serde_json::Value =
        serde_json::from_slice(&app.get("/en/designs/feed.json").bytes).unwrap();
    let titles: Vec<&str> = kind["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["Where the water goes"]);
    assert!(
        app.get("/en/reports/feed.xml")
            .text()
            .contains("Gaza&#39;s water crisis")
    );
    assert!(
        app.get("/en/news/atom.xml")
            .text()
            .contains("Market reopens")
    );
}

#[test]
fn sitemap_and_robots() {
    let app = imported();
    let robots = app.get("/robots.txt").text();
    assert!(robots.contains(&format!("Sitemap: {}/sitemap.xml", app.base)));
    let sm = app.get("/sitemap.xml");
    assert_eq!(
        sm.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    let sm = sm.text();
    assert!(sm.contains(&format!("<loc>{}/en/water-crisis</loc>", app.base)));
    assert!(sm.contains(&format!(
        "<xhtml:link rel=\"alternate\" hreflang=\"ar\" href=\"{}/ar/azmat-al-miyah\"/>",
        app.base
    )));
    assert!(sm.contains("<lastmod>2026-10-05T12:30:00Z</lastmod>"));
    assert!(!sm.contains("unfinished-draft") && !sm.contains("coming-soon"));
}

#[test]
fn cache_etag_compression_and_headers() {
    let app = imported();
    let first = app.get("/en/water-crisis");
    let etag = first.header("etag").unwrap().to_string();
    assert_eq!(first.header("cache-control"), Some("no-cache"));
    let csp = first.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("unsafe")
    );
    assert_eq!(first.header("x-content-type-options"), Some("nosniff"));
    assert!(first.header("referrer-policy").is_some());

    let again = app.get_with("/en/water-crisis", &[("if-none-match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.bytes.is_empty());

    // The first answer is uncompressed; the compressed bodies are made off the request path.
    let mut br = app.get_with("/en/water-crisis", &[("accept-encoding", "gzip, br")]);
    for _ in 0..100 {
        if br.header("content-encoding").is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        br = app.get_with("/en/water-crisis", &[("accept-encoding", "gzip, br")]);
    }
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(br.header("vary"), Some("accept-encoding"));
    let mut plain = Vec::new();
    brotli::Decompressor::new(&br.bytes[..], 4096)
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, first.bytes);
    let gz = app.get_with("/en/water-crisis", &[("accept-encoding", "gzip")]);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&gz.bytes[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, first.bytes);
    let br_etag = br.header("etag").unwrap().to_string();
    let not_modified = app.get_with(
        "/en/water-crisis",
        &[("if-none-match", &br_etag), ("accept-encoding", "br")],
    );
    assert_eq!(not_modified.status, 304);

    // Every kind of answer carries the same security headers: the first (rendered) one, cached
    // ones in each encoding (their headers are prebuilt), a 304, a 404 page, a refused method.
    let security = |r: &common::Resp| {
        [
            "content-security-policy",
            "x-content-type-options",
            "referrer-policy",
            "x-frame-options",
            "cross-origin-opener-policy",
            "permissions-policy",
        ]
        .map(|h| r.header(h).map(str::to_string))
    };
    let expected = security(&first);
    assert!(expected.iter().all(Option::is_some), "{expected:?}");
    let missing = app.get("/en/no-such-page");
    assert_eq!(missing.status, 404);
    let refused = app.post_form("/en/water-crisis", &[("a", "b")]);
    assert_eq!(refused.status, 405);
    for r in [&br, &gz, &not_modified, &missing, &refused] {
        assert_eq!(security(r), expected, "status {}", r.status);
    }

    // The page is now cached; a content change elsewhere must reach readers after a refresh.
    assert!(app.app.cache.get("/en/water-crisis").is_some());
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(fixtures().join("market-news.md")).unwrap();
    std::fs::write(
        dir.path().join("market-news.md"),
        src.replace("Market reopens after repairs", "Market reopens at last"),
    )
    .unwrap();
    app.import(dir.path());
    let home = app.get("/en/").text();
    assert!(home.contains("Market reopens at last"));
    let after = app.get_with("/en/water-crisis", &[("if-none-match", &etag)]);
    assert_eq!(
        after.status, 304,
        "an unchanged page keeps its ETag across a rebuild"
    );
}

#[test]
fn static_css_and_media() {
    let app = imported();
    let html = app.get("/en/").text();
    let start = html.find("/static/style.").unwrap();
    let href = &html[start..start + html[start..].find('"').unwrap()];
    let css = app.get(href);
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.header("cache-control").unwrap().contains("immutable"));
    assert!(css.text().contains("prefers-color-scheme: dark"));
    assert_eq!(app.get("/static/style.0000.css").status, 404);

    let article = app.get("/en/chart-design").text();
    let start = article.find("/media/water-chart-").unwrap();
    let src = &article[start..start + article[start..].find('"').unwrap()];
    let img = app.get(src);
    assert_eq!(img.status, 200);
    assert_eq!(img.header("content-type"), Some("image/png"));
    assert_eq!(&img.bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(
        img.bytes,
        std::fs::read(fixtures().join("images/water-chart.png")).unwrap()
    );
    assert_eq!(app.get("/media/..%2F..%2Fjarida.db").status, 404);
    assert_eq!(app.get("/media/.hidden").status, 404);
}

#[test]
fn scheduled_posts_go_live_by_themselves() {
    let app = TestApp::spawn();
    let dir = tempfile::tempdir().unwrap();
    let when = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let date = when
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    std::fs::write(
        dir.path().join("soon.md"),
        format!("+++\ntitle = \"Embargoed story\"\ndate = \"{date}\"\n+++\nText.\n"),
    )
    .unwrap();
    app.import(dir.path());
    assert_eq!(app.get("/en/soon").status, 404);
    assert!(!app.get("/en/").text().contains("Embargoed story"));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    app.refresh();
    assert_eq!(app.get("/en/soon").status, 200);
    assert!(
        app.get("/en/").text().contains("Embargoed story"),
        "the cached home page was rebuilt"
    );
}

#[test]
fn only_get_and_head() {
    let app = imported();
    let r = app.post_form("/en/water-crisis", &[("a", "b")]);
    assert_eq!(r.status, 405);
}

#[test]
fn a_cached_page_is_served_without_the_database() {
    let app = imported();
    let first = app.get("/en/water-crisis");
    assert_eq!(first.status, 200);
    app.rt.block_on(app.db.close());
    let again = app.get("/en/water-crisis");
    assert_eq!(again.status, 200, "served from the page cache");
    assert_eq!(again.bytes, first.bytes);
    let uncached = app.get("/en/market-news");
    assert_eq!(uncached.status, 500, "an uncached page needs the database");
    assert!(
        uncached.text().contains("class=\"site-header\""),
        "the error page has the site's look"
    );
}

#[test]
fn corrections_since_a_date() {
    let app = imported();
    let since = time::macros::datetime!(2026-10-04 00:00 UTC);
    let list = app
        .rt
        .block_on(jarida_content::repo::corrections_since(&app.db, since))
        .unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].slug, "water-crisis");
    assert!(list[0].note.starts_with("We misspelled"));
    let all = app
        .rt
        .block_on(jarida_content::repo::corrections_since(
            &app.db,
            time::macros::datetime!(2026-01-01 00:00 UTC),
        ))
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].at < all[1].at, "oldest first");
}

#[test]
fn the_data_folder_theme_overrides_templates_strings_and_css() {
    let app = TestApp::spawn_with(|c| {
        let theme = c.data_dir.join("theme");
        std::fs::create_dir_all(theme.join("templates")).unwrap();
        std::fs::create_dir_all(theme.join("locales")).unwrap();
        std::fs::create_dir_all(theme.join("static")).unwrap();
        std::fs::write(
            theme.join("templates/support.html"),
            "{% extends \"base.html\" %}{% block content %}<p id=\"custom\">Our own support page</p>{% endblock %}",
        )
        .unwrap();
        std::fs::write(theme.join("locales/en.ftl"), "nav-support = Donate\n").unwrap();
        std::fs::write(
            theme.join("static/style.css"),
            "body { color: rebeccapurple }\n",
        )
        .unwrap();
    });
    let html = app.get("/en/support/").text();
    assert!(html.contains("<p id=\"custom\">Our own support page</p>"));
    assert!(
        html.contains(">Donate</a>"),
        "the overriding message is used"
    );
    assert!(
        html.contains(">Newsletter</a>"),
        "other messages fall back to the default theme"
    );
    let start = html.find("/static/style.").unwrap();
    let href = &html[start..start + html[start..].find('"').unwrap()];
    assert_eq!(app.get(href).text(), "body { color: rebeccapurple }\n");
}

/// One HTTP/1.1 response read off a raw connection: status line, headers (names lower-cased), body.
type Raw = (String, Vec<(String, String)>, Vec<u8>);

/// Reads `n` responses (bodies framed by `content-length`; none for 304 and HEAD answers, whose
/// request methods the caller passes in order).
fn read_responses(s: &mut std::net::TcpStream, heads: &[bool]) -> Vec<Raw> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut chunk = [0u8; 65536];
    for &head_only in heads {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = s.read(&mut chunk).unwrap();
            assert!(
                n > 0,
                "connection closed mid-response: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(buf[..end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().to_string();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        let len = if head_only || status.contains(" 304 ") {
            0
        } else {
            headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .map(|(_, v)| v.parse::<usize>().unwrap())
                .expect("content-length")
        };
        while buf.len() < end + len {
            let n = s.read(&mut chunk).unwrap();
            assert!(n > 0, "connection closed mid-body");
            buf.extend_from_slice(&chunk[..n]);
        }
        out.push((status, headers, buf[end..end + len].to_vec()));
        buf.drain(..end + len);
    }
    out
}

fn has(r: &Raw, name: &str) -> Option<String> {
    r.1.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// Cached pages are answered without hyper (`jarida-web/src/fast.rs`): the same status, headers
/// (security headers, ETag, Vary, a Date), encodings and 304s as the hyper path, pipelined
/// requests answered in order, and a request the fast path does not take handed over mid-connection.
#[test]
fn cached_pages_are_answered_the_same_on_the_fast_path() {
    let app = imported();
    let addr = app.base.trim_start_matches("http://").to_string();
    // The first request renders and caches the page; its compressed bodies follow off the path.
    let first = app.get("/en/");
    assert_eq!(first.status, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app
        .app
        .cache
        .get("/en/")
        .is_none_or(|p| p.needs_compression())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "compressed bodies never cached"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    // Three pipelined requests in one write: identity, brotli, and HEAD.
    s.write_all(
        b"GET /en/ HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /en/?utm=1 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br\r\n\r\n\
          HEAD /en/ HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    let r = read_responses(&mut s, &[false, false, true]);
    for x in &r {
        assert_eq!(x.0, "HTTP/1.1 200 OK");
        for h in [
            "content-security-policy",
            "x-content-type-options",
            "referrer-policy",
            "x-frame-options",
            "etag",
            "date",
            "vary",
            "cache-control",
        ] {
            assert!(has(x, h).is_some(), "{h} missing: {:?}", x.1);
        }
    }
    assert_eq!(r[0].2, &first.bytes[..], "the same bytes as the hyper path");
    assert_eq!(has(&r[1], "content-encoding").as_deref(), Some("br"));
    assert_eq!(
        has(&r[1], "content-length").unwrap(),
        r[1].2.len().to_string()
    );
    assert!(r[2].2.is_empty(), "HEAD has no body");
    assert_eq!(
        has(&r[2], "content-length").unwrap(),
        first.bytes.len().to_string()
    );
    // The ETag of either encoding revalidates.
    let etag = has(&r[1], "etag").unwrap();
    s.write_all(
        format!("GET /en/ HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let r304 = read_responses(&mut s, &[false]);
    assert_eq!(r304[0].0, "HTTP/1.1 304 Not Modified");
    assert!(has(&r304[0], "content-security-policy").is_some());
    // A request the fast path leaves to hyper (a miss), then a hit, pipelined on the same
    // connection: both answered, in order.
    s.write_all(
        b"GET /en/no-such-page HTTP/1.1\r\nHost: x\r\n\r\nGET /en/ HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    let r = read_responses(&mut s, &[false, false]);
    assert_eq!(r[0].0, "HTTP/1.1 404 Not Found");
    assert_eq!(r[1].0, "HTTP/1.1 200 OK");
    assert_eq!(r[1].2, &first.bytes[..]);
    // `Connection: close` is honoured on the fast path.
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    c.write_all(b"GET /en/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    c.read_to_end(&mut all).expect("closed after the answer");
    let text = String::from_utf8_lossy(&all);
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\n") && text.contains("connection: close\r\n"),
        "{text}"
    );
    // A GET with a body goes to hyper, which reads the body: the request after it is not desynced.
    let mut g = std::net::TcpStream::connect(&addr).unwrap();
    g.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    g.write_all(b"GET /en/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nGET /GET /en/ HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let r = read_responses(&mut g, &[false, false]);
    assert_eq!(r[0].0, "HTTP/1.1 200 OK");
    assert_eq!(r[1].0, "HTTP/1.1 200 OK");
    assert_eq!(r[1].2, &first.bytes[..]);
    // HTTP/1.0 keeps hyper's rules: answered, then closed.
    let mut h = std::net::TcpStream::connect(&addr).unwrap();
    h.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    h.write_all(b"GET /en/ HTTP/1.0\r\n\r\n").unwrap();
    let mut all = Vec::new();
    h.read_to_end(&mut all).expect("closed after the answer");
    assert!(String::from_utf8_lossy(&all).contains(" 200 OK\r\n"));
    // Methods other than GET and HEAD go to the router, which refuses them as before.
    let mut p = std::net::TcpStream::connect(&addr).unwrap();
    p.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    p.write_all(b"DELETE /en/ HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let r = read_responses(&mut p, &[false]);
    assert_eq!(r[0].0, "HTTP/1.1 405 Method Not Allowed");
}

/// The value of the first `attr="…"` after `after` in `html`.
fn attr_after<'a>(html: &'a str, after: &str, attr: &str) -> &'a str {
    let at = html
        .find(after)
        .unwrap_or_else(|| panic!("{after} in the page"));
    let rest = &html[at..];
    let start = rest.find(&format!("{attr}=\"")).unwrap() + attr.len() + 2;
    &rest[start..start + rest[start..].find('"').unwrap()]
}

#[test]
fn front_page_leads_with_the_featured_report_and_every_card_has_a_byline() {
    let app = imported();
    let html = app.get("/en/").text();
    assert!(
        html.contains("<h1 class=\"site-name\">"),
        "the masthead is the front page's heading"
    );
    let lead = html.find("class=\"card card-lead").expect("a lead story");
    let lead_html = &html[lead..lead + html[lead..].find("</article>").unwrap()];
    assert!(lead_html.contains("Gaza&#39;s water crisis, one year on"));
    assert!(lead_html.contains("By <a href=\"/en/authors/lina-haddad/\">"));
    assert!(
        lead_html.contains("fetchpriority=\"high\""),
        "the lead image loads first"
    );
    assert!(
        lead_html.contains(" width=\"") && lead_html.contains(" height=\""),
        "images reserve their box: {lead_html}"
    );
    let tier = html.find("class=\"tier\"").expect("a second tier");
    assert!(html[tier..].contains("Market reopens after repairs"));
    assert!(lead < tier);
    // Every card carries a date, and the ones with authors their byline.
    let cards = html.matches("<article class=\"card ").count();
    assert!(cards >= 3, "{cards} cards");
    assert_eq!(html.matches("class=\"card-meta\"").count(), cards);
    // A design is shown by its image even without a cover.
    let chart = app.get("/en/designs/").text();
    let card = chart.find("Where the water goes").unwrap();
    let start = chart[..card].rfind("<article").unwrap();
    assert!(
        chart[start..card].contains("src=\"/media/water-chart-"),
        "the design's card shows its chart"
    );
    let ar = app.get("/ar/").text();
    assert!(ar.contains("class=\"card card-lead"));
    assert!(ar.contains("بقلم"), "Arabic bylines");
}

#[test]
fn articles_show_a_summary_only_when_written_and_sources_in_full() {
    let app = imported();
    // No summary in the file: the opening paragraph is the story's start, not repeated above it.
    let market = app.get("/en/market-news").text();
    assert!(!market.contains("class=\"article-summary\""), "{market}");
    let main = &market[market.find("<main").unwrap()..market.find("</main>").unwrap()];
    assert_eq!(main.matches("The central market reopened").count(), 1);
    let water = app.get("/en/water-crisis").text();
    assert!(
        water.contains("<p class=\"article-summary\">A year after the desalination plant stopped")
    );
    // Sources: title, publisher, authors, date and the site's short name.
    assert!(water.contains("<cite class=\"source-title\"><a href=\"https://www.reuters.com/world/desalination-plant-halts\""));
    assert!(water.contains("<bdi>Reuters</bdi>, <bdi>Jane Roe</bdi>, <time datetime=\"2025-09-28\">28 September 2025</time>, <span class=\"source-host\" dir=\"ltr\">reuters.com</span>"));
    // "Updated" says when, to the minute and in the newsroom's zone, and leads to the corrections.
    assert!(
        water.contains(
            "<a href=\"#corrections-h\"><time datetime=\"2026-10-05T12:30:00Z\">Updated 5 October 2026, 12:30 UTC</time></a>"
        ),
        "{water}"
    );
    assert_eq!(
        water.matches("We don’t run ads").count(),
        1,
        "the appeal once per page"
    );
    // Arabic lists take the Arabic comma.
    let ar = app.get("/ar/azmat-al-miyah").text();
    assert!(
        !ar.contains("</bdi>, <bdi>"),
        "no Latin comma between names"
    );
}

#[test]
fn the_newsroom_sets_its_time_zone_and_digits() {
    let app = TestApp::spawn_with(|c| {
        c.site.timezone = "Asia/Gaza".parse().unwrap();
        c.site.digits_ar = jarida_core::Digits::Western;
    });
    app.import(&fixtures());
    let en = app.get("/en/water-crisis").text();
    assert!(
        en.contains("Updated 5 October 2026, 15:30 EEST"),
        "the update time in the newsroom's zone"
    );
    let ar = app.get("/ar/").text();
    assert!(
        ar.contains("1 أكتوبر 2026"),
        "western digits on Arabic pages"
    );
    assert!(
        !ar.contains('٢'),
        "and no Arabic-Indic digit anywhere in the interface"
    );
    let default = imported();
    let ar = default.get("/ar/").text();
    assert!(ar.contains("١ أكتوبر ٢٠٢٦"));
    let year = time::OffsetDateTime::now_utc().year().to_string();
    assert!(
        !ar.contains(&format!("© {year}")),
        "the footer's year follows the digits too"
    );
}

#[test]
fn fonts_favicon_and_social_image_are_the_sites_own_files() {
    let app = imported();
    let r = app.get("/en/");
    let csp = r.header("content-security-policy").unwrap().to_string();
    assert!(csp.contains("font-src 'self'"), "{csp}");
    let html = r.text();
    let icon = attr_after(&html, "<link rel=\"icon\"", "href");
    let r = app.get(icon);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/svg+xml"));
    assert!(r.header("cache-control").unwrap().contains("immutable"));
    assert_eq!(app.get("/favicon.ico").status, 200);
    let image = attr_after(&html, "<meta property=\"og:image\"", "content");
    assert!(image.starts_with("http://") && image.contains("/static/social."));
    let png = app.get(&app.path_of(image));
    assert_eq!(png.header("content-type"), Some("image/png"));
    let preload = attr_after(&html, "<link rel=\"preload\"", "href");
    assert!(preload.contains("source-serif-4-latin-400-normal."));
    let css_url = attr_after(&html, "<link rel=\"stylesheet\"", "href");
    let css = app.get(css_url).text();
    for face in [
        "source-serif-4-latin-700-normal",
        "noto-naskh-arabic-arabic-400-normal",
    ] {
        let at = css
            .find(&format!("url(\"/static/{face}."))
            .unwrap_or_else(|| panic!("{face} in the stylesheet"));
        let url = &css[at + 5..at + 5 + css[at + 5..].find('"').unwrap()];
        let font = app.get(url);
        assert_eq!(font.status, 200, "{url}");
        assert_eq!(font.header("content-type"), Some("font/woff2"));
        assert!(font.bytes.starts_with(b"wOF2"), "{url} is a WOFF2 font");
        assert!(
            font.bytes.len() < 150_000,
            "{url}: {} bytes",
            font.bytes.len()
        );
    }
    let ar = app.get("/ar/").text();
    assert!(
        attr_after(&ar, "<link rel=\"preload\"", "href")
            .contains("noto-naskh-arabic-arabic-400-normal.")
    );
    // A story's own cover is what its shared link shows.
    let water = app.get("/en/water-crisis").text();
    assert!(attr_after(&water, "<meta property=\"og:image\"", "content").contains("/media/cover-"));
}

#[test]
fn newsletter_and_support_pages_say_each_thing_once() {
    let app = imported();
    let nl = app.get("/en/newsletter/").text();
    assert_eq!(
        nl.matches("<form class=\"signup\"").count(),
        1,
        "one sign-up form on the newsletter page"
    );
    let bare = TestApp::spawn_with(|c| {
        c.support.providers.clear();
        c.support.bank_details.clear();
    });
    let support = bare.get("/en/support/").text();
    assert!(!support.contains("soon"), "nothing promises details later");
    assert!(support.contains("Other ways to help"));
    assert!(support.contains("href=\"/en/newsletter/\""));
}
