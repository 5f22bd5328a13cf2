//! The owner's settings in real headless Chromium: reached from the admin's navigation, the
//! Arabic name changed and seen on the public site, a newsletter's cadence changed, a relay checked
//! against a real `smtp-sink`, the DKIM keys made and their records shown. axe-core checks every
//! settings page in English on a computer and in Arabic on a phone, where nothing may stick out
//! of the screen; each step leaves a screenshot.
#![allow(clippy::unwrap_used)] // test helpers: a failed step panics with its cause

mod common;

use common::browser::*;
use common::{Sink, TestApp, small_rt, use_sink};
use serde_json::json;

#[test]
fn the_owner_changes_the_settings_in_the_browser() {
    let sink = Sink::start(&[]);
    let app = TestApp::spawn_with(|c| {
        use_sink(c, &sink);
        c.mail.from_address =
            Some(jarida_core::EmailAddress::parse("news@jarida.example").unwrap());
    });
    let _owner = common::admin::owner(&app);
    let driver = Driver::start();
    let axe = axe_script(&axe_source());
    let shots = screenshots_dir();
    let rt = small_rt();
    let base = app.base.clone();
    rt.block_on(async {
        let c = driver.session(1280, 900).await;
        sign_in(&c, &base, "", "lina@example.org", common::admin::OWNER_PASSWORD).await;
        click(&c, "header nav a[href='/admin/settings']").await;
        until(&c, "the settings", "return location.pathname === '/admin/settings';").await;
        check_page(&c, &axe, &shots, "settings-en").await;
        let name = c.find(fantoccini::Locator::Css("#name_ar")).await.unwrap();
        name.clear().await.unwrap();
        name.send_keys("جريدة الماء").await.unwrap();
        click(&c, "form input[name=section][value=site] ~ button[type=submit]").await;
        until(&c, "saved", "return location.search === '?done=saved';").await;
        let notice = run(&c, "return document.querySelector('.notice')?.textContent;").await;
        assert_eq!(notice, json!("Saved."));
        let source = run(&c, "return document.getElementById('src-site-name_ar').textContent;").await;
        assert!(source.as_str().unwrap().starts_with("Changed here by Lina Haddad"), "{source}");
        c.goto(&format!("{base}/ar/")).await.unwrap();
        let header = run(&c, "return document.querySelector('.site-name').textContent.trim();").await;
        assert_eq!(header, json!("جريدة الماء"));

        // A newsletter's cadence.
        c.goto(&format!("{base}/admin/settings/newsletters")).await.unwrap();
        check_page(&c, &axe, &shots, "settings-newsletters-en").await;
        let cadence = c.find(fantoccini::Locator::Css("#main-cadence")).await.unwrap();
        cadence.clear().await.unwrap();
        cadence.send_keys("0 8 * * 0").await.unwrap();
        click(&c, "#main-editors ~ button[type=submit]").await;
        until(&c, "saved", "return location.search === '?done=saved';").await;
        let value = run(&c, "return document.getElementById('main-cadence').value;").await;
        assert_eq!(value, json!("0 8 * * 0"));

        // Mail: the relay answers the check; the DKIM keys are made and their records shown.
        c.goto(&format!("{base}/admin/settings/mail")).await.unwrap();
        check_page(&c, &axe, &shots, "settings-mail-en").await;
        click(&c, "form[action='/admin/settings/mail/test'] button").await;
        until(&c, "the relay's answers", "return !!document.getElementById('relay-check');").await;
        let check = run(&c, "return document.getElementById('relay-check').innerText;").await;
        let check = check.as_str().unwrap();
        assert!(check.contains("answered every step"), "{check}");
        assert!(check.contains("220 "), "{check}");
        check_page(&c, &axe, &shots, "settings-relay-checked-en").await;
        click(&c, "form[action='/admin/settings/dkim'] button").await;
        until(&c, "the keys", "return location.search === '?done=dkim-made';").await;
        let names = run(&c, "return [...document.querySelectorAll('table.dns td:nth-child(2)')].map(t => t.textContent);").await;
        assert_eq!(
            names,
            json!(["jarida._domainkey.jarida.example", "jarida-ed25519._domainkey.jarida.example"])
        );
        check_page(&c, &axe, &shots, "settings-dkim-en").await;

        // Every settings page in Arabic on a phone.
        let phone = driver.session(375, 740).await;
        sign_in(&phone, &base, "?lang=ar", "lina@example.org", common::admin::OWNER_PASSWORD).await;
        admin_in_arabic(&phone, &base).await;
        for (path, name) in [
            ("/admin/settings", "settings-ar-375"),
            ("/admin/settings/newsletters", "settings-newsletters-ar-375"),
            ("/admin/settings/mail", "settings-mail-ar-375"),
        ] {
            phone.goto(&format!("{base}{path}")).await.unwrap();
            let dir = run(&phone, "return document.documentElement.dir;").await;
            assert_eq!(dir, json!("rtl"), "{path}");
            // The page's own width against the layout's (the window's width counts a scrollbar):
            // a table scrolling in its box must not widen the page in right-to-left either.
            let wide = run(&phone, "const d = document.documentElement; return [d.scrollWidth, d.clientWidth];").await;
            assert!(wide[0].as_i64().unwrap() <= wide[1].as_i64().unwrap(), "{path} at 375 px is wider than the screen: {wide}");
            let fits = run(&phone, OUTSIDE).await;
            assert!(fits[0].as_i64().unwrap() <= fits[1].as_i64().unwrap() + 1, "{path} at 375 px: {fits}");
            assert_eq!(fits[2], json!([]), "{path} at 375 px: outside the screen");
            check_page(&phone, &axe, &shots, name).await;
        }
        phone.close().await.unwrap();
        c.close().await.unwrap();
    });
}
