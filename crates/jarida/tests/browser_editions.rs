//! The edition's story in real headless Chromium: the owner filters the Arabic readers and saves
//! them as a segment, composes an edition for that segment, reorders its stories by dragging and
//! from the keyboard, previews the Arabic message (right to left, inside its sandboxed frame) on a
//! computer and a phone, sends a test into a real `smtp-sink`, sends the edition and watches the
//! progress reach its end, then reads the figures. axe-core checks every page of it in English and
//! Arabic; each step leaves a screenshot.
#![allow(clippy::unwrap_used)] // test helpers: a failed step panics with its cause

mod common;

use common::browser::*;
use common::{Sink, TestApp, small_rt, use_sink};
use jarida_core::EditionId;
use serde_json::json;

fn edition_fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/editions")
}

/// The stories of one language of an edition, in order, as stored. (On a thread of its own: the
/// story's steps run inside another runtime.)
fn order(app: &TestApp, id: i64, lang: &str) -> Vec<i64> {
    std::thread::scope(|s| s.spawn(|| stored_order(app, id, lang)).join().unwrap())
}

fn stored_order(app: &TestApp, id: i64, lang: &str) -> Vec<i64> {
    app.rt.block_on(async {
        let e = jarida_newsletter::editions::get(&app.db, EditionId(id))
            .await
            .unwrap();
        jarida_newsletter::editions::parts(&app.db, &e)
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.lang == lang)
            .unwrap()
            .items
            .iter()
            .map(|i| i.post_id)
            .collect()
    })
}

#[test]
fn an_edition_for_a_segment_is_composed_previewed_tested_and_sent_in_the_browser() {
    let sink = Sink::start(&[]);
    let app = TestApp::spawn_with(|c| {
        use_sink(c, &sink);
        c.delivery.poll_seconds = 0.2;
    });
    let r = app.import(&edition_fixtures());
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_exec!(
            c.conn(),
            "UPDATE posts SET published_at = $1 - 86400 - id * 600 WHERE status = 'published'",
            now
        )
        .unwrap();
    });
    let mut http = common::admin::owner(&app);
    for (i, lang) in ["en", "ar", "en", "ar", "ar"].iter().enumerate() {
        common::admin::add_reader(&app, &format!("reader{i}@readers.example"), "R", lang);
    }
    let _ = http.get("/admin/posts");
    let driver = Driver::start();
    let axe = axe_script(&axe_source());
    let shots = screenshots_dir();
    let rt = small_rt();
    let base = app.base.clone();
    rt.block_on(async {
        let c = driver.session(1280, 900).await;
        sign_in(&c, &base, "", "lina@example.org", common::admin::OWNER_PASSWORD).await;

        // The Arabic readers, saved as a segment.
        c.goto(&format!("{base}/admin/readers")).await.unwrap();
        click(&c, "#f-lang option[value=ar]").await;
        click(&c, "form.filters button[type=submit]").await;
        until(&c, "the filtered list", "return location.search.includes('lang=ar');").await;
        fill(&c, "#segment-name", "Arabic readers").await;
        click(&c, "form.save-segment button").await;
        until(&c, "the segment", "return location.search.includes('segment=');").await;

        // The next edition, limited to the segment.
        c.goto(&format!("{base}/admin/editions")).await.unwrap();
        check_page(&c, &axe, &shots, "editions-en").await;
        click(&c, "form[action='/admin/editions'] button[type=submit]").await;
        until(&c, "the draft", "return /^\\/admin\\/editions\\/\\d+$/.test(location.pathname);").await;
        let id: i64 = run(&c, "return location.pathname.split('/').pop();").await.as_str().unwrap().parse().unwrap();
        let option = run(&c, "return [...document.querySelectorAll('#segment option')].find(o => o.textContent === 'Arabic readers').value;").await;
        click(&c, &format!("#segment option[value='{}']", option.as_str().unwrap())).await;
        click(&c, "form[action$='/segment'] button").await;
        until(&c, "the segment set", "return location.search.includes('done=segment');").await;
        let who = run(&c, "return document.querySelector('section[aria-labelledby=who-h]').innerText;").await;
        assert!(who.as_str().unwrap().contains("Arabic readers"), "{who}");
        check_page(&c, &axe, &shots, "edition-draft-en").await;

        // The English composer: a story dragged to the top, another moved down from the keyboard.
        c.goto(&format!("{base}/admin/editions/{id}/en")).await.unwrap();
        let before = order(&app, id, "en");
        assert!(before.len() >= 3, "{before:?}");
        // HTML5 drag and drop, as the browser fires it: the last story dropped on the first.
        run(&c, r#"
            const items = [...document.querySelectorAll('#items li')];
            const from = items[items.length - 1], to = items[0];
            const dt = new DataTransfer();
            from.dispatchEvent(new DragEvent('dragstart', { bubbles: true, dataTransfer: dt }));
            to.dispatchEvent(new DragEvent('dragover', { bubbles: true, cancelable: true, dataTransfer: dt }));
            to.dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: dt }));
            return true;"#).await;
        until(&c, "the order saved", "return location.search.includes('done=saved');").await;
        let dragged = order(&app, id, "en");
        let mut expected = before.clone();
        let last = expected.pop().unwrap();
        expected.insert(0, last);
        assert_eq!(dragged, expected, "the dragged story is first");
        // Keyboard: focus the first story's "down" button and press Enter.
        let down = c
            .find(fantoccini::Locator::Css("#items li:first-child button[name=move][value^=down]"))
            .await
            .unwrap();
        down.send_keys("\u{E007}").await.unwrap();
        let moved = format!("return document.querySelector('#items li:nth-child(2)')?.dataset.id === '{}';", dragged[0]);
        until(&c, "the order saved again", &moved).await;
        let keyed = order(&app, id, "en");
        assert_eq!(keyed[..2], [dragged[1], dragged[0]]);
        check_page(&c, &axe, &shots, "composer-en").await;

        // The Arabic composer: right to left, the intro previewed as it is typed, then saved.
        c.goto(&format!("{base}/admin/editions/{id}/ar")).await.unwrap();
        let dirs = run(&c, "return [getComputedStyle(document.getElementById('subject')).direction, getComputedStyle(document.getElementById('intro')).direction];").await;
        assert_eq!(dirs, json!(["rtl", "rtl"]));
        fill(&c, "#intro", "أهم ما نشرناه هذين الأسبوعين، **باختصار**.").await;
        until(&c, "the intro's preview", "return document.querySelector('#intro-preview strong')?.textContent === 'باختصار';").await;
        check_page(&c, &axe, &shots, "composer-ar-content").await;
        click(&c, "button[name=op][value=save]").await;
        until(&c, "the intro saved", "return location.search.includes('done=saved');").await;
        let intro = run(&c, "return document.getElementById('intro').value;").await;
        assert!(intro.as_str().unwrap().contains("باختصار"));

        // The Arabic message in its frames: right to left, the phone's frame 375 px wide.
        c.execute("document.querySelector('.previews').scrollIntoView();", vec![]).await.unwrap();
        until(&c, "the frames", "return document.querySelectorAll('.previews iframe').length === 3;").await;
        let widths = run(&c, "return [...document.querySelectorAll('.previews iframe')].map(f => Math.round(f.getBoundingClientRect().width));").await;
        assert_eq!(widths[1], 375, "{widths}");
        let frame = c.find(fantoccini::Locator::Css(".frame.desktop iframe")).await.unwrap();
        frame.enter_frame().await.unwrap();
        until(&c, "the message in its frame", "return document.documentElement.dir === 'rtl' && document.body.innerText.includes('باختصار');").await;
        let scripts = run(&c, "try { return typeof window.parent.document; } catch (e) { return 'blocked'; }").await;
        assert_eq!(scripts, json!("blocked"), "the frame cannot reach the admin");
        c.enter_parent_frame().await.unwrap();
        check_page(&c, &axe, &shots, "composer-ar-previews").await;

        // A test copy into the sink.
        fill(&c, "#to", "desk@newsroom.example").await;
        click(&c, "form[action$='/test'] button").await;
        until(&c, "the test sent", "return document.querySelector('.notice')?.textContent.includes('desk@newsroom.example') === true;").await;
        let got = sink.wait_for("desk@newsroom.example", 1);
        assert_eq!(got.len(), 1);
        assert!(got[0].subject().starts_with("[تجربة]"), "{}", got[0].subject());
        assert!(got[0].html().contains("dir=\"rtl\""));

        // Sent now; the progress follows on its own to the end.
        c.goto(&format!("{base}/admin/editions/{id}")).await.unwrap();
        click(&c, "form[action$='/action'] input[value=send] ~ button").await;
        c.accept_alert().await.unwrap();
        until(&c, "sending started", "return location.search.includes('done=send');").await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let done = run(&c, "const p = document.getElementById('edition-progress'); return !p.hasAttribute('data-refresh') && p.innerText.includes('100%');").await;
            if done == json!(true) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the progress did not reach its end");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let figures = run(&c, "return [...document.querySelectorAll('table.figures tr')].map(r => r.innerText.replace(/\\s+/g, ' ').trim());").await;
        let rows: Vec<&str> = figures.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(rows.contains(&"Recipients 3"), "the three Arabic readers: {rows:?}");
        assert!(rows.contains(&"Sent 3"), "{rows:?}");
        assert!(rows.contains(&"Failed 0"), "{rows:?}");
        check_page(&c, &axe, &shots, "edition-sent-en").await;
        for i in [1, 3, 4] {
            assert_eq!(sink.wait_for(&format!("reader{i}@readers.example"), 1).len(), 1);
        }
        assert!(sink.wait_for("reader0@readers.example", 1).is_empty(), "not in the segment");
        // The dashboard draws the readers' chart and lists the edition.
        c.goto(&format!("{base}/admin/dashboard")).await.unwrap();
        let seen = run(&c, "return [!!document.querySelector('svg.chart[role=img] title'), document.querySelector('section[aria-labelledby=last-h]').innerText];").await;
        assert_eq!(seen[0], json!(true), "{seen}");
        assert!(seen[1].as_str().unwrap().contains("Edition 1"), "{seen}");
        check_page(&c, &axe, &shots, "dashboard-en").await;

        // The same pages in Arabic.
        admin_in_arabic(&c, &base).await;
        for (path, name) in [
            ("/admin/dashboard".to_string(), "dashboard-ar"),
            ("/admin/editions".to_string(), "editions-ar"),
            (format!("/admin/editions/{id}"), "edition-sent-ar"),
            (format!("/admin/editions/{id}/en"), "composer-en-ar"),
        ] {
            c.goto(&format!("{base}{path}")).await.unwrap();
            check_page(&c, &axe, &shots, name).await;
        }
        // On a phone: nothing wider than the screen.
        let phone = driver.session(375, 740).await;
        sign_in(&phone, &base, "?lang=ar", "lina@example.org", common::admin::OWNER_PASSWORD).await;
        for (path, name) in [
            ("/admin/dashboard".to_string(), "dashboard-ar-375"),
            ("/admin/editions".to_string(), "editions-ar-375"),
            (format!("/admin/editions/{id}"), "edition-ar-375"),
            (format!("/admin/editions/{id}/ar"), "composer-ar-375"),
        ] {
            phone.goto(&format!("{base}{path}")).await.unwrap();
            let fits = run(&phone, OUTSIDE).await;
            assert!(fits[0].as_i64().unwrap() <= fits[1].as_i64().unwrap() + 1, "{path} at 375 px: {fits}");
            assert_eq!(fits[2], json!([]), "{path} at 375 px: outside the screen");
            let png = phone.screenshot().await.unwrap();
            std::fs::write(shots.join(format!("admin-{name}.png")), png).unwrap();
        }
        phone.close().await.unwrap();
        c.close().await.unwrap();
    });
}

/// A CSV of 10,000 readers, uploaded through the import form in the browser: the job's page
/// follows the progress on its own until the report; then the Arabic readers are filtered and
/// saved as a segment. axe-core checks the pages in English and, on a phone, in Arabic.
#[test]
fn ten_thousand_readers_are_uploaded_and_the_progress_followed_in_the_browser() {
    let app = TestApp::spawn();
    let _owner = common::admin::owner(&app);
    let csv = app.dir.path().join("readers-10000.csv");
    let mut text = String::from("email,name,lang\n");
    for i in 0..10_000 {
        let lang = if i % 2 == 0 { "ar" } else { "en" };
        text.push_str(&format!("reader{i}@upload.example,Reader {i},{lang}\n"));
    }
    text.push_str("broken-row,Nobody,en\n");
    std::fs::write(&csv, &text).unwrap();
    let driver = Driver::start();
    let axe = axe_script(&axe_source());
    let shots = screenshots_dir();
    let rt = small_rt();
    let base = app.base.clone();
    rt.block_on(async {
        let c = driver.session(1280, 900).await;
        sign_in(&c, &base, "", "lina@example.org", common::admin::OWNER_PASSWORD).await;
        c.goto(&format!("{base}/admin/readers")).await.unwrap();
        click(&c, "a[href='/admin/readers/import']").await;
        until(&c, "the import form", "return location.pathname === '/admin/readers/import';").await;
        check_page(&c, &axe, &shots, "import-en").await;
        click(&c, "#confirmed").await;
        c.find(fantoccini::Locator::Css("#file"))
            .await
            .unwrap()
            .send_keys(csv.to_str().unwrap())
            .await
            .unwrap();
        click(&c, "#import button[type=submit]").await;
        until(&c, "the job's page", "return /^\\/admin\\/jobs\\/\\d+$/.test(location.pathname);").await;
        // The page was not reloaded by hand: its progress part follows until the report.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let done = run(&c, "const p = document.getElementById('job-progress'); return !p.hasAttribute('data-refresh') && !!p.querySelector('table.figures');").await;
            if done == json!(true) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the import's progress did not finish");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let report = run(&c, "return [...document.querySelectorAll('#job-progress table.figures tr')].map(r => r.innerText.replace(/\\s+/g, ' ').trim());").await;
        let rows: Vec<&str> = report.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(rows.contains(&"Imported 10,000") || rows.contains(&"Imported 10000"), "{rows:?}");
        assert!(rows.contains(&"Rows refused 1"), "{rows:?}");
        let refused = run(&c, "return document.querySelector('#job-progress tbody tr td')?.textContent;").await;
        assert!(refused.as_str().is_some(), "the refused row is listed");
        check_page(&c, &axe, &shots, "import-done-en").await;

        // The Arabic half, saved as a segment.
        c.goto(&format!("{base}/admin/readers")).await.unwrap();
        click(&c, "#f-lang option[value=ar]").await;
        click(&c, "form.filters button[type=submit]").await;
        until(&c, "the filtered list", "return location.search.includes('lang=ar');").await;
        let count = run(&c, "return document.querySelector('main').innerText;").await;
        assert!(count.as_str().unwrap().contains("5,000") || count.as_str().unwrap().contains("5000"), "{count}");
        fill(&c, "#segment-name", "Arabic readers").await;
        click(&c, "form.save-segment button").await;
        until(&c, "the segment", "return location.search.includes('segment=');").await;

        // The same pages in Arabic on a phone.
        let phone = driver.session(375, 740).await;
        sign_in(&phone, &base, "?lang=ar", "lina@example.org", common::admin::OWNER_PASSWORD).await;
        admin_in_arabic(&phone, &base).await;
        for (path, name) in [("/admin/readers/import".to_string(), "import-ar-375"), ("/admin/jobs".to_string(), "jobs-import-ar-375")] {
            phone.goto(&format!("{base}{path}")).await.unwrap();
            let fits = run(&phone, OUTSIDE).await;
            assert!(fits[0].as_i64().unwrap() <= fits[1].as_i64().unwrap() + 1, "{path} at 375 px: {fits}");
            assert_eq!(fits[2], json!([]), "{path} at 375 px: outside the screen");
            check_page(&phone, &axe, &shots, name).await;
        }
        phone.close().await.unwrap();
        c.close().await.unwrap();
    });
}
