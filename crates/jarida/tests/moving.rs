//! Moving in from WordPress: `jarida import wordpress` on an export made by WordPress itself
//! (`tests/fixtures/wordpress/`), on the test's database (SQLite, or PostgreSQL in the suite's
//! second run): a dry run that writes nothing, the import, its pages, translations, images, sources
//! and old links, a second run that changes nothing, and broken exports named by line.
#![allow(clippy::unwrap_used)] // test helpers: a failed step panics with its cause

mod common;

use std::path::{Path, PathBuf};

use common::{TestApp, jarida_cmd};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wordpress")
}

fn count(app: &TestApp, sql: &'static str) -> i64 {
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_one!(c.conn(), (i64,), sql).unwrap().0
    })
}

/// Runs `jarida import wordpress FILE` with the fixture's uploads and kinds, and ARGS…; (exit
/// code, stdout, stderr).
fn import(app: &TestApp, file: &Path, args: &[&str]) -> (i32, String, String) {
    let uploads = fixture().join("uploads");
    let mut all = vec![
        "--uploads",
        uploads.to_str().unwrap(),
        "--kind",
        "news=news",
        "--kind",
        "infographics=design",
    ];
    all.extend_from_slice(args);
    import_from(app, "wordpress", file, &all)
}

/// The report's count for `key` ("posts created"), from its `  key   n` line.
fn reported(stdout: &str, key: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix(key)?;
            rest.trim().parse().ok()
        })
        .unwrap_or(0)
}

fn media_files(app: &TestApp) -> usize {
    std::fs::read_dir(app.cfg.media_dir())
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn a_wordpress_site_moves_in_with_its_translations_images_and_old_links() {
    let app = TestApp::spawn();
    let file = fixture().join("newsroom.wxr.xml");

    // A dry run says what would happen and writes nothing.
    let (code, out, err) = import(&app, &file, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("dry run, nothing was written"), "{out}");
    assert_eq!(reported(&out, "posts created"), 8, "{out}");
    assert_eq!(reported(&out, "pages created"), 3, "{out}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM posts"), 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM redirects"), 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM imported_items"), 0);
    assert_eq!(media_files(&app), 0, "a dry run copies no image");

    // The import.
    let (code, out, err) = import(&app, &file, &["--apply"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(": imported"), "{out}");
    assert_eq!(reported(&out, "posts created"), 8, "{out}");
    assert_eq!(reported(&out, "pages created"), 3, "{out}");
    assert_eq!(reported(&out, "authors"), 3, "{out}");
    assert_eq!(reported(&out, "skipped: attachment items"), 1, "{out}");
    assert_eq!(
        reported(&out, "images left at their old address"),
        1,
        "{out}"
    );
    let redirects = reported(&out, "redirects created");
    assert!(redirects >= 20, "{out}");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM redirects") as u64,
        redirects
    );
    // What needs a person: removed shortcodes, the embed, the missing image, the private post.
    for note in [
        "post 7 \"Water prices rise again\": shortcode [contact-form-7] removed",
        "post 7 \"Water prices rise again\": shortcode [vc_row] removed",
        "post 5 \"Gaza's water crisis, one year on\": shortcode [gallery] removed",
        "1 embedded player(s) became links",
        "image left at its old address: https://old.example.org/wp-content/uploads/2024/03/chart.png",
        "post 11 \"Internal memo\": private on WordPress: imported as a draft",
        "page 12 \"About us\": a WordPress page: imported as a report",
    ] {
        assert!(out.contains(note), "missing {note:?} in\n{out}");
    }
    app.refresh();

    // The English report: its kind, author, tags, cover with alt text, body and source.
    let page = app.get("/en/water-crisis-one-year-on");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("Gaza&#x27;s water crisis, one year on")
            || html.contains("Gaza's water crisis, one year on")
    );
    assert!(html.contains("Lina Haddad"), "author's display name");
    assert!(html.contains("/en/tags/gaza/"), "tags kept");
    assert!(
        html.contains("alt=\"A dry well in the south\""),
        "cover's alt text"
    );
    // The copied image has its smaller copies, which the listings offer.
    let home = app.get("/en/").text();
    assert!(home.contains("srcset=\"/media/well-"), "{home}");
    assert!(html.contains("<h2"), "headings kept");
    assert!(html.contains("<table"), "tables kept");
    assert!(html.contains("<blockquote"), "quotes kept");
    assert!(
        html.contains("The last well in the village"),
        "caption kept"
    );
    assert!(
        html.contains("https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
        "the embed is a link"
    );
    assert!(html.contains("The Outlet"), "the source line is a source");
    assert!(html.contains("https://outlet.example/water-report"));
    assert!(!html.contains("[gallery"), "no shortcode left");
    assert!(
        !html.contains("old.example.org/wp-content"),
        "the image was copied"
    );
    assert!(
        html.contains("href=\"/2024/04/20/prices-rise/\""),
        "a link to the old site's post is a path the redirects answer"
    );
    let cover: (String,) = app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_one!(
            c.conn(),
            (String,),
            "SELECT cover FROM posts WHERE slug = 'water-crisis-one-year-on'"
        )
        .unwrap()
    });
    assert!(cover.0.starts_with("/media/well-"), "{cover:?}");
    assert!(
        app.cfg
            .media_dir()
            .join(&cover.0["/media/".len()..])
            .exists()
    );

    // Its Arabic translation: linked both ways, Arabic slug and text untouched.
    let ar_path = "/ar/%D8%A3%D8%B2%D9%85%D8%A9-%D8%A7%D9%84%D9%85%D9%8A%D8%A7%D9%87";
    assert!(
        html.contains(ar_path),
        "the English page links its Arabic version"
    );
    let ar = app.get(ar_path);
    assert_eq!(ar.status, 200);
    let ar_html = ar.text();
    assert!(ar_html.contains("dir=\"rtl\""));
    assert!(ar_html.contains("أزمة المياه في غزة بعد عام"));
    assert!(ar_html.contains("تنفق العائلات في الجنوب ثلث دخلها على <strong>المياه</strong>"));
    assert!(ar_html.contains("عمر سعيد"));
    assert!(
        ar_html.contains("الجزيرة"),
        "the Arabic source line is a source"
    );
    assert!(ar_html.contains("/en/water-crisis-one-year-on"));

    // Kinds from categories; statuses kept.
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM posts WHERE kind = 'news' AND slug = 'prices-rise'"
        ),
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM posts WHERE kind = 'design' AND slug = 'water-in-numbers'"
        ),
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM posts WHERE status = 'scheduled' AND slug = 'election-plan'"
        ),
        1
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM posts WHERE status = 'draft'"),
        3,
        "the draft, the private post and the draft page"
    );
    let builder = app.get("/en/prices-rise");
    assert!(
        builder
            .text()
            .contains("Water prices rose again this week.")
    );
    assert!(!builder.text().contains("vc_"));

    // Old links: date-based, ?p=, ?page_id=, categories and tags, each a 301 to the new page.
    for (old, to) in [
        (
            "/2024/05/01/water-crisis-one-year-on/",
            "/en/water-crisis-one-year-on",
        ),
        (
            "/2024/05/01/water-crisis-one-year-on",
            "/en/water-crisis-one-year-on",
        ),
        ("/?p=5", "/en/water-crisis-one-year-on"),
        (
            "/2024/05/01/%d8%a3%d8%b2%d9%85%d8%a9-%d8%a7%d9%84%d9%85%d9%8a%d8%a7%d9%87/",
            ar_path,
        ),
        ("/?p=6", ar_path),
        ("/?page_id=12", "/en/about"),
        ("/index.php?page_id=12", "/en/about"),
        ("/category/news/", "/en/news/"),
        ("/category/infographics/", "/en/designs/"),
        ("/tag/gaza/", "/en/tags/gaza/"),
    ] {
        let r = app.get(old);
        assert_eq!(r.status, 301, "{old}");
        assert_eq!(r.header("location"), Some(to), "{old}");
    }
    assert_eq!(app.get("/2024/05/01/never-was/").status, 404);
    assert_eq!(
        app.get("/?s=water").status,
        308,
        "other queries: the home page as before"
    );
    // Redirects followed: the page is there.
    assert_eq!(app.get("/en/about").status, 200);

    // Again: nothing changes, nothing is duplicated.
    let posts = count(&app, "SELECT COUNT(*) FROM posts");
    let media = media_files(&app);
    let (code, out, err) = import(&app, &file, &["--apply"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(reported(&out, "posts unchanged"), 8, "{out}");
    assert_eq!(reported(&out, "pages unchanged"), 3, "{out}");
    assert_eq!(reported(&out, "posts created"), 0, "{out}");
    assert_eq!(reported(&out, "redirects created"), 0, "{out}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM posts"), posts);
    assert_eq!(media_files(&app), media);

    // An old address an editor pointed elsewhere keeps the editor's choice on the next import.
    app.sql_exec(
        "UPDATE redirects SET to_path = '/en/about', origin = 'editor' WHERE from_path = '/?p=7'",
    );

    // An editor renamed a post: the next import updates that post, not a new one.
    app.sql_exec("UPDATE posts SET slug = 'water-crisis' WHERE slug = 'water-crisis-one-year-on'");
    let (code, out, _) = import(&app, &file, &["--apply"]);
    assert_eq!(code, 0);
    assert_eq!(reported(&out, "posts created"), 0, "{out}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM posts"), posts);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM redirects WHERE to_path = '/en/water-crisis'"
        ),
        2,
        "its old addresses now lead to its new slug"
    );
    let kept = app.get("/?p=7");
    assert_eq!(
        (kept.status, kept.header("location")),
        (301, Some("/en/about"))
    );

    // Editors' own redirects, by the command line.
    let add = jarida_cmd(app.dir.path(), &app.test_db)
        .args(["redirects", "add", "/old-donate/", "/en/support/"])
        .output()
        .unwrap();
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let r = app.get("/old-donate");
    assert_eq!(
        (r.status, r.header("location")),
        (301, Some("/en/support/"))
    );
    let bad = jarida_cmd(app.dir.path(), &app.test_db)
        .args(["redirects", "add", "/x", "//evil.example/"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a path of this site"));
    let list = jarida_cmd(app.dir.path(), &app.test_db)
        .args(["redirects", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("/old-donate\t/en/support/\teditor"));
}

/// The line of the `<item>` holding `needle`.
fn item_line(text: &str, needle: &str) -> usize {
    let at = text.find(needle).expect("needle in the fixture");
    let item = text[..at].rfind("<item>").expect("inside an item");
    text[..item].matches('\n').count() + 1
}

#[test]
fn a_bad_entry_is_named_by_line_and_a_broken_file_writes_nothing() {
    let app = TestApp::spawn();
    let text = std::fs::read_to_string(fixture().join("newsroom.wxr.xml")).unwrap();

    // One entry with a date that is not one: reported with its id and line, the rest imported.
    let line = item_line(&text, "<title><![CDATA[Water prices rise again]]></title>");
    let bad = text
        .replace("2024-04-20 07:30:00", "last tuesday")
        .replace("2024-04-20 10:30:00", "last tuesday");
    let file = app.dir.path().join("bad-entry.xml");
    std::fs::write(&file, bad).unwrap();
    let (code, out, err) = import(&app, &file, &["--apply"]);
    assert_eq!(
        code, 1,
        "a failed entry makes the exit code say so\n{out}\n{err}"
    );
    assert!(
        err.contains(&format!(
            "bad-entry.xml:{line}: post 7 \"Water prices rise again\": wp:post_date_gmt \"last tuesday\" is not a date"
        )),
        "{err}"
    );
    assert_eq!(reported(&out, "posts created"), 7, "{out}");
    assert!(out.contains("failed: 1"), "{out}");

    // A file cut short: nothing of it is written, and the error says where.
    let app2 = TestApp::spawn();
    let cut_at = text
        .find("<title><![CDATA[Water in numbers]]></title>")
        .unwrap();
    let file = app2.dir.path().join("cut.xml");
    std::fs::write(&file, &text[..cut_at]).unwrap();
    let (code, out, err) = import(&app2, &file, &["--apply"]);
    assert_ne!(code, 0, "{out}");
    let last_line = text[..cut_at].matches('\n').count() + 1;
    assert!(
        err.contains(&format!("cut.xml:{last_line}: the file ends inside <item>")),
        "{err}"
    );
    assert_eq!(count(&app2, "SELECT COUNT(*) FROM posts"), 0);
    assert_eq!(count(&app2, "SELECT COUNT(*) FROM redirects"), 0);

    // Not an export at all.
    let file = app2.dir.path().join("page.xml");
    std::fs::write(&file, "<html><body>hello</body></html>").unwrap();
    let (code, _, err) = import(&app2, &file, &[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("page.xml:1: starts with <html>, not a WordPress export's <rss>"),
        "{err}"
    );
}

/// Runs `jarida import PLATFORM FILE ARGS…`; (exit code, stdout, stderr).
/// The old site, served over HTTP by a real server (Python's `http.server`) from `root`; killed
/// when dropped.
struct OldSite {
    child: std::process::Child,
    base: String,
}

impl OldSite {
    fn serve(root: &Path) -> OldSite {
        use std::io::BufRead;
        let mut child = std::process::Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(root)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 serves the old site in this test (apt-get install python3)");
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        let port: u16 = first
            .split("port ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {first:?}"));
        OldSite {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for OldSite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn images_are_downloaded_from_the_old_site_with_fetch_media() {
    let app = TestApp::spawn();
    // The old site answers at a local address with its uploads, but not the chart.
    let root = tempfile::tempdir().unwrap();
    let uploads = root.path().join("wp-content/uploads/2024/05");
    std::fs::create_dir_all(&uploads).unwrap();
    for f in ["well.png", "well-300x150.png"] {
        std::fs::copy(fixture().join("uploads/2024/05").join(f), uploads.join(f)).unwrap();
    }
    let site = OldSite::serve(root.path());
    let export = tempfile::tempdir().unwrap();
    let file = export.path().join("site.xml");
    let wxr = std::fs::read_to_string(fixture().join("newsroom.wxr.xml")).unwrap();
    std::fs::write(&file, wxr.replace("https://old.example.org", &site.base)).unwrap();
    let args = ["--kind", "news=news", "--fetch-media"];

    // A dry run downloads nothing and says what it would: the cover of the report and of its
    // translation, the resized copy in its text, the chart.
    let (code, out, err) = import_from(&app, "wordpress", &file, &args);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        reported(&out, "images to download when applied"),
        4,
        "{out}"
    );
    assert_eq!(media_files(&app), 0);

    let mut apply = args.to_vec();
    apply.push("--apply");
    let (code, out, err) = import_from(&app, "wordpress", &file, &apply);
    assert_eq!(code, 0, "{out}\n{err}");
    // The covers and the resized copy in the text all become the original.
    assert_eq!(reported(&out, "images downloaded"), 3, "{out}");
    assert_eq!(
        reported(&out, "images left at their old address"),
        1,
        "{out}"
    );
    let chart = format!("{}/wp-content/uploads/2024/03/chart.png", site.base);
    assert!(
        out.contains(&format!("image could not be downloaded: {chart}")),
        "{out}"
    );
    assert!(out.contains("404"), "the reason is said: {out}");
    assert!(media_files(&app) > 0);
    app.refresh();
    let html = app.get("/en/water-crisis-one-year-on").text();
    assert!(html.contains("src=\"/media/well-"), "{html}");
    assert!(
        !html.contains(&site.base),
        "no address of the old site is left: {html}"
    );
    let home = app.get("/en/").text();
    assert!(home.contains("srcset=\"/media/well-"), "{home}");
}

fn import_from(app: &TestApp, platform: &str, file: &Path, args: &[&str]) -> (i32, String, String) {
    let out = jarida_cmd(app.dir.path(), &app.test_db)
        .args(["import", platform])
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn reader(app: &TestApp, email: &str) -> Option<(String, String)> {
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_opt!(
            c.conn(),
            (String, String),
            "SELECT status, COALESCE(consent_wording, '') FROM subscribers WHERE email = $1",
            email
        )
        .unwrap()
    })
}

/// The export real Ghost 5.130 wrote (`tests/fixtures/ghost/make-export.py` says how it was made),
/// and its members' CSV, which Ghost 5 exports apart from the content.
#[test]
fn an_export_made_by_ghost_itself_moves_in() {
    let app = TestApp::spawn();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ghost");
    let uploads = fixture().join("uploads");
    let (code, out, err) = import_from(
        &app,
        "ghost",
        &dir.join("ghost-5.130.export.json"),
        &[
            "--uploads",
            uploads.to_str().unwrap(),
            "--site-url",
            "https://old.example.org",
            "--kind",
            "news=news",
            "--apply",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    // Ghost's own "Coming soon" and ours: three posts published, one draft; two pages.
    assert_eq!(reported(&out, "posts created"), 4, "{out}");
    assert_eq!(reported(&out, "pages created"), 2, "{out}");
    assert_eq!(reported(&out, "drafts among them"), 1, "{out}");
    assert_eq!(reported(&out, "images copied"), 1, "{out}");
    app.refresh();

    let en = app.get("/en/water-crisis-one-year-on");
    assert_eq!(en.status, 200);
    let html = en.text();
    assert!(html.contains("alt=\"A dry well in the south\""), "{html}");
    assert!(
        html.contains("src=\"/media/well-"),
        "the cover, copied: {html}"
    );
    assert!(html.contains("<h2"), "{html}");
    assert!(html.contains("<blockquote"), "{html}");
    assert!(html.contains("Lina Haddad"), "{html}");
    // Its kind from the News tag, its summary from the custom excerpt.
    assert!(
        html.contains("families pay a third of their income"),
        "{html}"
    );
    // #ar: Arabic, right to left; the internal tag itself is not shown.
    let ar = app.get("/ar/azmat-al-miyah");
    assert_eq!(ar.status, 200);
    let ar = ar.text();
    assert!(ar.contains("dir=\"rtl\""), "{ar}");
    assert!(ar.contains("تدفع العائلات في الجنوب ثلث دخلها"), "{ar}");
    assert!(!ar.contains("#ar"), "{ar}");
    // The draft is not public.
    assert_eq!(app.get("/en/fishermen-ashore").status, 404);
    // Old addresses answer with the new ones.
    let old = app.get("/water-crisis-one-year-on/");
    assert_eq!(old.status, 301);
    assert_eq!(old.header("location"), Some("/en/water-crisis-one-year-on"));
    let old = app.get("/azmat-al-miyah/");
    assert_eq!(old.header("location"), Some("/ar/azmat-al-miyah"));

    // The members' CSV, through the readers' import: consent recorded, the one off the newsletter
    // imported unsubscribed.
    let out = jarida_cmd(app.dir.path(), &app.test_db)
        .args(["subscribers", "import", "--confirmed"])
        .arg(dir.join("ghost-5.130.members.csv"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, wording) = reader(&app, "qari@example.org").unwrap();
    assert_eq!(status, "active", "{said}");
    assert!(wording.starts_with("imported from Ghost on "), "{wording}");
    assert_eq!(
        reader(&app, "off.list@example.org").unwrap().0,
        "unsubscribed"
    );
}

#[test]
fn a_ghost_site_moves_in_with_its_members() {
    let app = TestApp::spawn();
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ghost/newsroom.ghost.json");
    let uploads = fixture().join("uploads");
    let args = |apply: bool| {
        let mut a = vec![
            "--uploads",
            uploads.to_str().unwrap(),
            "--site-url",
            "https://old.example.org",
            "--kind",
            "news=news",
        ];
        if apply {
            a.push("--apply");
        }
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };

    // Dry run: nothing written, readers counted.
    let a = args(false);
    let (code, out, err) = import_from(
        &app,
        "ghost",
        &file,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code, 1, "one post has no HTML: {out}\n{err}");
    assert!(out.contains("dry run"), "{out}");
    assert_eq!(reported(&out, "posts created"), 5, "{out}");
    assert!(
        out.contains("readers: 5 in the export's members would be imported"),
        "{out}"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM posts"), 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscribers"), 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM suppressions"), 0);

    let a = args(true);
    let (code, out, err) = import_from(
        &app,
        "ghost",
        &file,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("post 6651f0a1c2d4e5f600000007 \"Only in the editor\": has no HTML"),
        "the failed post is named: {err}"
    );
    assert!(
        err.contains("the export's members:6: email \"not an address\""),
        "{err}"
    );
    assert_eq!(reported(&out, "posts created"), 5, "{out}");
    assert_eq!(reported(&out, "pages created"), 1, "{out}");
    assert!(out.contains("4 imported"), "{out}");
    app.refresh();

    // Posts: the cover from the images copy, its alt, the body, the source, tags and kinds.
    let html = app.get("/en/water-crisis-one-year-on").text();
    assert!(html.contains("Lina Haddad"));
    assert!(html.contains("alt=\"A dry well in the south\""));
    assert!(html.contains("The last well in the village"));
    assert!(html.contains("https://www.youtube.com/watch?v=dQw4w9WgXcQ"));
    assert!(html.contains("The Outlet"));
    assert!(!html.contains("__GHOST_URL__"));
    assert!(
        html.contains("href=\"/prices-rise/\""),
        "own links become paths"
    );
    let ar = app.get("/ar/azmat-al-miyah");
    assert_eq!(ar.status, 200, "the #ar post is Arabic");
    assert!(ar.text().contains("عمر سعيد"));
    assert!(!ar.text().contains("#ar"), "internal tags are not shown");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM posts WHERE slug = 'prices-rise' AND kind = 'news'"
        ),
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM posts WHERE slug = 'election-plan' AND status = 'scheduled'"
        ),
        1
    );
    // Old links.
    for (old, to) in [
        ("/water-crisis-one-year-on/", "/en/water-crisis-one-year-on"),
        ("/azmat-al-miyah/", "/ar/azmat-al-miyah"),
        ("/tag/gaza/", "/en/tags/gaza/"),
        ("/tag/news/", "/en/news/"),
        ("/author/lina/", "/en/authors/lina-haddad/"),
    ] {
        let r = app.get(old);
        assert_eq!((r.status, r.header("location")), (301, Some(to)), "{old}");
    }
    assert_eq!(app.get("/untitled/").status, 404, "a draft had no address");

    // Members: subscribed ones active, the others unsubscribed, each with its consent record.
    let wording = format!(
        "imported from Ghost on {}",
        time::OffsetDateTime::now_utc().date()
    );
    assert_eq!(
        reader(&app, "reader.one@example.org"),
        Some(("active".into(), wording.clone()))
    );
    assert_eq!(
        reader(&app, "reader.two@example.org"),
        Some(("active".into(), wording.clone()))
    );
    assert_eq!(
        reader(&app, "left@example.org"),
        Some(("unsubscribed".into(), wording.clone())),
        "on no newsletter"
    );
    assert_eq!(
        reader(&app, "bounced@example.org"),
        Some(("unsubscribed".into(), wording)),
        "Ghost had disabled the address"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM suppressions"), 1);

    // Again: nothing new.
    let (_, out, _) = import_from(
        &app,
        "ghost",
        &file,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(reported(&out, "posts unchanged"), 5, "{out}");
    assert!(out.contains("0 imported, 4 already subscribed"), "{out}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM subscribers"), 4);
}

#[test]
fn a_substack_archive_moves_in_with_its_subscribers() {
    let app = TestApp::spawn();
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/substack/newsroom.substack.zip");
    let (code, out, err) = import_from(&app, "substack", &file, &["--apply"]);
    assert_eq!(code, 1, "one post's body is missing: {out}\n{err}");
    assert!(
        err.contains("newsroom.substack.zip:5: post 142183643.lost \"A post whose body is missing\": posts/142183643.lost.html is not in the archive"),
        "{err}"
    );
    assert_eq!(reported(&out, "posts created"), 3, "{out}");
    assert!(out.contains("was for only_paid on Substack"), "{out}");
    assert!(
        out.contains("image left at its old address: https://substack-post-media.s3.amazonaws.com/public/images/well.png"),
        "{out}"
    );
    app.refresh();
    let html = app.get("/en/water-crisis-one-year-on").text();
    assert!(
        html.contains("Families now spend a third of their income on water."),
        "subtitle as summary"
    );
    assert!(html.contains("The last well in the village"));
    assert!(html.contains("The Outlet"));
    assert!(!html.contains("subscription-widget"));
    let r = app.get("/p/water-crisis-one-year-on");
    assert_eq!(
        (r.status, r.header("location")),
        (301, Some("/en/water-crisis-one-year-on"))
    );
    assert_eq!(app.get("/p/notes").status, 404, "a draft had no address");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM posts WHERE slug = 'notes' AND status = 'draft'"
        ),
        1
    );
    let wording = format!(
        "imported from Substack on {}",
        time::OffsetDateTime::now_utc().date()
    );
    assert_eq!(
        reader(&app, "reader.one@example.org"),
        Some(("active".into(), wording.clone()))
    );
    assert_eq!(
        reader(&app, "bounced@example.org"),
        Some(("unsubscribed".into(), wording))
    );

    // Not a Substack archive.
    let bad = app.dir.path().join("not.zip");
    std::fs::write(&bad, "hello").unwrap();
    let (code, _, err) = import_from(&app, "substack", &bad, &[]);
    assert_ne!(code, 0);
    assert!(err.contains("not.zip: not a zip archive"), "{err}");
}

#[test]
fn editors_see_add_and_remove_old_addresses_in_the_admin() {
    use common::admin::{invite, location, owner};
    let app = TestApp::spawn();
    let (code, out, err) = import(&app, &fixture().join("newsroom.wxr.xml"), &["--apply"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let mut c = owner(&app);

    let page = c.get("/admin/redirects");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("/2024/05/01/water-crisis-one-year-on"),
        "{html}"
    );
    assert!(html.contains("/?p=5"));
    assert!(html.contains("wordpress"));
    let found = c.get("/admin/redirects?q=%2Ftag%2F").text();
    assert!(found.contains("/tag/gaza"));
    assert!(
        !found.contains("/?p=5"),
        "the search keeps only the prefix's"
    );

    // Added by hand (a whole old address is taken for its path) and answered at once.
    let csrf = c.csrf("/admin/redirects");
    let r = c.post(
        "/admin/redirects",
        &[
            ("csrf", &csrf),
            ("old", "https://old.example.org/donate/"),
            ("to", "/en/support/"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(location(&r), "/admin/redirects?done=added");
    let moved = app.get("/donate/");
    assert_eq!(
        (moved.status, moved.header("location")),
        (301, Some("/en/support/"))
    );

    // Refused: a target off the site, and the home page as an old address.
    for (old, to) in [
        ("/x", "//evil.example/"),
        ("/x", "https://evil.example/"),
        ("/", "/en/"),
    ] {
        let r = c.post(
            "/admin/redirects",
            &[("csrf", &csrf), ("old", old), ("to", to)],
        );
        assert_eq!(r.status, 422, "{old} -> {to}");
        assert!(r.text().contains("role=\"alert\""));
    }
    assert_eq!(app.get("/x").status, 404);

    // Removed.
    let r = c.post(
        "/admin/redirects/remove",
        &[("csrf", &csrf), ("old", "/donate")],
    );
    assert_eq!(r.status, 303);
    assert_eq!(app.get("/donate/").status, 404);
    let audit = c.get("/admin/audit").text();
    assert!(
        audit.contains("redirect.add") && audit.contains("redirect.remove"),
        "{audit}"
    );

    // Without the role: refused, and the forms do nothing.
    let mut author = invite(&app, &mut c, "author@example.org", "author", "An Author");
    assert_eq!(author.get("/admin/redirects").status, 403);
    let csrf = author.csrf("/admin/posts");
    let r = author.post(
        "/admin/redirects",
        &[("csrf", &csrf), ("old", "/y"), ("to", "/en/")],
    );
    assert_eq!(r.status, 403);
    assert_eq!(app.get("/y").status, 404);
}
