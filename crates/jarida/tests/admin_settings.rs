//! The owner's settings over HTTP: the site's names and support page, the logo, the newsletters,
//! the relays' check against a real `smtp-sink`, DKIM keys and their rotation. Each change is
//! checked before it is stored (the field named when refused), audited, seen at once on the public
//! pages, and seen by a second process sharing the database. Only the owner reaches any of it.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::admin::*;
use common::{Sink, TestApp, use_sink};

fn stored(app: &TestApp) -> Vec<(String, String)> {
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::settings::all(c.conn())
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.key, s.value))
            .collect()
    })
}

fn audit_actions(app: &TestApp) -> Vec<(String, String)> {
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_all!(
            c.conn(),
            (String, String),
            "SELECT action, detail FROM audit_log WHERE action LIKE 'settings.%' ORDER BY id"
        )
        .unwrap()
    })
}

fn site_form<'a>(csrf: &'a str, name_ar: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("section", "site"),
        ("name_en", "Jarida"),
        ("name_ar", name_ar),
        (
            "description_en",
            "Independent reporting, supported by readers.",
        ),
        ("description_ar", "صحافة مستقلة يدعمها القرّاء."),
    ]
}

#[test]
fn the_site_name_changes_everywhere_and_goes_back_to_the_file() {
    let app = TestApp::spawn();
    let mut owner = owner(&app);
    let page = owner.get("/admin/settings");
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(
        html.contains("value=\"جريدة\""),
        "the file's value is shown"
    );
    assert!(html.contains("The default."), "and where it comes from");
    // The page is cached before the change: the change must reach it anyway.
    assert!(app.get("/ar/").text().contains(">جريدة<"));

    let csrf = field(&html, "csrf");
    let r = owner.post("/admin/settings", &site_form(&csrf, "الجريدة المستقلة"));
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(location(&r), "/admin/settings?done=saved");
    assert_eq!(
        stored(&app),
        [(
            "site.name_ar".to_string(),
            "\"الجريدة المستقلة\"".to_string()
        )],
        "only what differs from the file is stored"
    );
    let home = app.get("/ar/").text();
    assert!(home.contains("الجريدة المستقلة"), "{home}");
    assert!(!home.contains(">جريدة<"));
    let page = owner.get("/admin/settings").text();
    assert!(
        page.contains("Changed here by Lina Haddad &lt;lina@example.org&gt;"),
        "{page}"
    );
    assert_eq!(
        audit_actions(&app),
        [("settings.change".to_string(), "site.name_ar".to_string())]
    );

    // Back to the file's value: the key is the file's again.
    let r = owner.post("/admin/settings", &site_form(&csrf, "جريدة"));
    assert_eq!(r.status, 303);
    assert!(stored(&app).is_empty());
    assert!(app.get("/ar/").text().contains(">جريدة<"));

    // Saving the same values changes nothing and writes no audit line.
    let before = audit_actions(&app).len();
    assert_eq!(
        owner
            .post("/admin/settings", &site_form(&csrf, "جريدة"))
            .status,
        303
    );
    assert_eq!(audit_actions(&app).len(), before);
}

#[test]
fn a_bad_value_is_refused_with_its_field_and_nothing_is_stored() {
    let app = TestApp::spawn();
    let mut owner = owner(&app);
    let csrf = owner.csrf("/admin/settings");
    let r = owner.post("/admin/settings", &site_form(&csrf, "   "));
    assert_eq!(r.status, 422);
    assert!(
        r.text().contains("Name in Arabic: must not be empty"),
        "{}",
        r.text()
    );
    let r = owner.post(
        "/admin/settings",
        &[
            ("csrf", &csrf),
            ("section", "support"),
            ("provider_name", "Patreon"),
            ("provider_url", "javascript:alert(1)"),
            ("provider_note", ""),
            ("bank_details", ""),
        ],
    );
    assert_eq!(r.status, 422);
    assert!(
        r.text().contains("must start with https://"),
        "{}",
        r.text()
    );

    let csrf = owner.csrf("/admin/settings/newsletters");
    let mut form = newsletter_form(&csrf, "main");
    form.retain(|(k, _)| *k != "cadence");
    form.push(("cadence", "every other tuesday"));
    let r = owner.post("/admin/settings/newsletters", &form);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("Cadence: "), "{}", r.text());
    let mut form = newsletter_form(&csrf, "main");
    form.retain(|(k, _)| *k != "editors");
    form.push(("editors", "desk@example.org\r\nnot an address"));
    let r = owner.post("/admin/settings/newsletters", &form);
    assert_eq!(r.status, 422);
    assert!(
        r.text().contains("Told when a draft is ready: "),
        "{}",
        r.text()
    );
    assert!(stored(&app).is_empty(), "{:?}", stored(&app));
    assert!(audit_actions(&app).is_empty());
    // A forged request is refused before anything is read.
    let r = owner.post("/admin/settings", &site_form("forged", "x"));
    assert_eq!(r.status, 403);
}

fn newsletter_form<'a>(csrf: &'a str, slug: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("section", "newsletter"),
        ("slug", slug),
        ("name", "Jarida newsletter"),
        ("cadence", "0 9 1,15 * *"),
        ("timezone", "UTC"),
        ("from_name", ""),
        ("from_address", ""),
        ("reply_to", ""),
        ("langs", "en"),
        ("langs", "ar"),
        ("fallback", "other"),
        ("editors", ""),
    ]
}

#[test]
fn newsletters_are_edited_and_added_and_the_engine_follows() {
    let app = TestApp::spawn();
    let mut owner = owner(&app);
    let csrf = owner.csrf("/admin/settings/newsletters");
    let form = vec![
        ("csrf", csrf.as_str()),
        ("section", "newsletter"),
        ("slug", "main"),
        ("name", "Water Letter"),
        ("cadence", "0 7 * * 1"),
        ("timezone", "Asia/Amman"),
        ("from_name", "The Desk"),
        ("from_address", "desk@jarida.example"),
        ("reply_to", ""),
        ("langs", "ar"),
        ("fallback", "skip"),
        ("auto_send", "on"),
        ("editors", "desk@jarida.example\r\n\r\nchief@jarida.example"),
    ];
    let r = owner.post("/admin/settings/newsletters", &form);
    assert_eq!(r.status, 303, "{}", r.text());
    let nl = app.app.settings().newsletters[0].clone();
    assert_eq!(nl.slug, "main");
    assert_eq!(
        (
            nl.name.as_str(),
            nl.from_name.as_str(),
            nl.from_address.as_str()
        ),
        ("Water Letter", "The Desk", "desk@jarida.example")
    );
    assert_eq!(nl.timezone.iana_name(), Some("Asia/Amman"));
    assert_eq!(nl.langs, [jarida_core::Lang::Ar]);
    assert!(nl.auto_send);
    assert_eq!(nl.editors, ["desk@jarida.example", "chief@jarida.example"]);
    // The delivery engine composes and sends with the same values.
    let engine = app.app.engine().expect("the admin's engine");
    let engine_nl = engine
        .newsletters
        .get()
        .iter()
        .find(|n| n.slug == "main")
        .cloned()
        .unwrap();
    assert_eq!(engine_nl.name, "Water Letter");
    assert!(engine_nl.auto_send);
    // The database's newsletter row carries the new name (lists and the public archive read it).
    let name: String = app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_one!(
            c.conn(),
            (String,),
            "SELECT name FROM newsletters WHERE slug = 'main'"
        )
        .unwrap()
        .0
    });
    assert_eq!(name, "Water Letter");
    let page = owner.get("/admin/settings/newsletters").text();
    assert!(page.contains("value=\"0 7 * * 1\""), "{page}");
    assert!(page.contains("value=\"Asia/Amman\""));

    // A second newsletter.
    let r = owner.post(
        "/admin/settings/newsletters",
        &[
            ("csrf", &csrf),
            ("section", "add"),
            ("slug", "weekly"),
            ("name", "The Weekly"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let slugs: Vec<String> = app
        .app
        .settings()
        .newsletters
        .iter()
        .map(|n| n.slug.clone())
        .collect();
    assert_eq!(slugs, ["main", "weekly"]);
    let r = owner.post(
        "/admin/settings/newsletters",
        &[
            ("csrf", &csrf),
            ("section", "add"),
            ("slug", "Not A Slug"),
            ("name", "x"),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("Short name: use lowercase"),
        "{}",
        r.text()
    );
    // Adding under a name already taken would rename that newsletter: refused, nothing stored.
    let before = stored(&app);
    let r = owner.post(
        "/admin/settings/newsletters",
        &[
            ("csrf", &csrf),
            ("section", "add"),
            ("slug", "main"),
            ("name", "Renamed by mistake"),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("Short name: a newsletter already has"),
        "{}",
        r.text()
    );
    assert_eq!(stored(&app), before);
}

/// A stored value the configuration no longer takes (written by an older version, or the file
/// changed under it) leaves the page usable: it shows the file's value, and saving the form gives
/// the key back to the file.
#[test]
fn a_stored_value_that_no_longer_applies_does_not_lock_the_owner_out() {
    let app = TestApp::spawn();
    let mut owner = owner(&app);
    app.rt.block_on(async {
        let mut tx = app.db.begin().await.unwrap();
        jarida_store::settings::put_in(
            &mut tx,
            "newsletters.main.cadence",
            "\"every other tuesday\"",
            "an older version",
            0,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    });
    let page = owner.get("/admin/settings/newsletters");
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text().contains("value=\"0 9 1,15 * *\""),
        "the file's value"
    );
    let csrf = owner.csrf("/admin/settings/newsletters");
    let r = owner.post(
        "/admin/settings/newsletters",
        &newsletter_form(&csrf, "main"),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(
        stored(&app)
            .iter()
            .all(|(k, _)| k != "newsletters.main.cadence"),
        "{:?}",
        stored(&app)
    );
}

#[test]
fn the_support_page_and_the_logo() {
    let app = TestApp::spawn();
    let mut owner = owner(&app);
    let csrf = owner.csrf("/admin/settings");
    let r = owner.post(
        "/admin/settings",
        &[
            ("csrf", &csrf),
            ("section", "support"),
            ("provider_name", "Open Collective"),
            ("provider_url", "https://opencollective.com/example"),
            ("provider_note", ""),
            ("provider_name", "Liberapay"),
            ("provider_url", "https://liberapay.com/jarida"),
            ("provider_note", "Monthly, from 1 euro"),
            ("provider_name", ""),
            ("provider_url", ""),
            ("provider_note", ""),
            (
                "bank_details",
                "IBAN JO71 CBJO 0000 0000 0000 1234 5678 90\r\nBank of Jordan",
            ),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let support = app.get("/en/support/").text();
    assert!(
        support.contains("https://liberapay.com/jarida"),
        "{support}"
    );
    assert!(support.contains("Monthly, from 1 euro"));
    assert!(support.contains("IBAN JO71"));
    assert!(
        !support.contains("PS92"),
        "the file's bank details are replaced"
    );

    // The logo: an image into the media library, shown in the header with the name as its text.
    let mut png = Vec::new();
    image::RgbImage::from_pixel(120, 40, image::Rgb([20, 60, 120]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let r = owner.upload(
        "/admin/settings/logo",
        &[("csrf", &csrf)],
        ("logo.png", &png),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let logo = app.app.settings().logo.clone().expect("a logo");
    assert!(logo.starts_with("/media/logo-"), "{logo}");
    let home = app.get("/ar/").text();
    assert!(
        home.contains(&format!(
            "<img class=\"site-logo\" src=\"{logo}\" alt=\"جريدة\""
        )),
        "{home}"
    );
    assert_eq!(app.get(&logo).status, 200);
    // A file that is not an image is refused in words.
    let r = owner.upload(
        "/admin/settings/logo",
        &[("csrf", &csrf)],
        ("logo.png", b"not a png"),
    );
    assert_eq!(r.status, 422);
    assert_eq!(app.app.settings().logo.as_deref(), Some(logo.as_str()));
    // The logo cannot be deleted from the media library while it is the logo.
    let name = logo.rsplit('/').next().unwrap().to_string();
    let media_id: i64 = app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_one!(
            c.conn(),
            (i64,),
            "SELECT id FROM media WHERE name = $1",
            &name
        )
        .unwrap()
        .0
    });
    let media_csrf = owner.csrf("/admin/media");
    let r = owner.post(
        &format!("/admin/media/{media_id}/delete"),
        &[("csrf", &media_csrf)],
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("choose another logo"), "{}", r.text());
    assert_eq!(app.get(&logo).status, 200, "the file is still there");
    let r = owner.post(
        "/admin/settings",
        &[("csrf", &csrf), ("section", "logo-remove")],
    );
    assert_eq!(r.status, 303);
    assert!(app.app.settings().logo.is_none());
    assert!(!app.get("/ar/").text().contains("site-logo"));
}

#[test]
fn relays_are_checked_with_the_relays_own_answers() {
    let sink = Sink::start(&[]);
    let refusing = Sink::start(&["-f", "mail", "-B", "553 5.7.1 Sender address rejected"]);
    let app = TestApp::spawn_with(|c| {
        use_sink(c, &sink);
        c.delivery.relays = vec![jarida::config::RelaySection {
            host: "127.0.0.1".into(),
            port: refusing.port,
            tls: "none".parse().unwrap(),
            ..Default::default()
        }];
        c.mail.from_address =
            Some(jarida_core::EmailAddress::parse("news@jarida.example").unwrap());
    });
    let mut owner = owner(&app);
    let page = owner.get("/admin/settings/mail").text();
    assert!(
        page.contains(&format!("127.0.0.1:{}", refusing.port)),
        "{page}"
    );
    assert!(page.contains(&format!("127.0.0.1:{}", sink.port)));
    let csrf = field(&page, "csrf");
    // The site's relay (the second row) accepts the sender.
    let r = owner.post(
        "/admin/settings/mail/test",
        &[("csrf", &csrf), ("relay", "1")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    assert!(
        html.contains("answered every step. Nothing was sent."),
        "{html}"
    );
    assert!(
        html.contains("<code dir=\"ltr\">220 "),
        "the greeting: {html}"
    );
    assert!(html.contains("PIPELINING"), "the extensions: {html}");
    // The newsletters' relay refuses it, and says why.
    let r = owner.post(
        "/admin/settings/mail/test",
        &[("csrf", &csrf), ("relay", "0")],
    );
    let html = r.text();
    assert!(html.contains("failed a step"), "{html}");
    assert!(html.contains("553 5.7.1 Sender address rejected"), "{html}");
    assert!(
        sink.messages().is_empty() && refusing.messages().is_empty(),
        "nothing sent"
    );
    // A relay that does not answer.
    drop(refusing);
    std::thread::sleep(Duration::from_millis(200));
    let r = owner.post(
        "/admin/settings/mail/test",
        &[("csrf", &csrf), ("relay", "0")],
    );
    let html = r.text();
    assert!(html.contains("Connection</strong>: failed"), "{html}");
    assert_eq!(
        owner
            .post(
                "/admin/settings/mail/test",
                &[("csrf", &csrf), ("relay", "7")]
            )
            .status,
        400
    );
    let tests: Vec<_> = audit_actions(&app)
        .into_iter()
        .filter(|(a, _)| a == "settings.relay_test")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(tests, ["ok", "failed", "failed"]);
}

#[test]
fn dkim_keys_are_made_rotated_and_signed_with() {
    let app = TestApp::spawn_with(|c| {
        c.mail.from_address =
            Some(jarida_core::EmailAddress::parse("news@jarida.example").unwrap());
    });
    let mut owner = owner(&app);
    let signer = || {
        let engine = app.app.engine().expect("the admin's engine");
        let dkim = engine.cfg.dkim.get();
        dkim.as_ref().as_ref().map(|s| {
            s.keys()
                .iter()
                .map(|k| k.selector().to_string())
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(signer(), None);
    let page = owner.get("/admin/settings/mail").text();
    assert!(page.contains("There is no DKIM key yet"), "{page}");
    let csrf = field(&page, "csrf");
    let r = owner.post(
        "/admin/settings/dkim",
        &[("csrf", &csrf), ("action", "generate")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        signer(),
        Some(vec!["jarida".into(), "jarida-ed25519".into()])
    );
    let page = owner.get("/admin/settings/mail").text();
    assert!(page.contains("jarida._domainkey.jarida.example"), "{page}");
    assert!(page.contains("v=DKIM1; k=rsa; p="));
    assert!(page.contains("jarida-ed25519._domainkey.jarida.example"));

    // A rotation: the new key is made and shown, signing stays with the old one until the switch.
    let r = owner.post(
        "/admin/settings/dkim",
        &[("csrf", &csrf), ("action", "prepare")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let next = stored(&app)
        .into_iter()
        .find(|(k, _)| k == "dkim.next_selector")
        .map(|(_, v)| v.trim_matches('"').to_string())
        .expect("the next selector is stored");
    assert!(next.starts_with("jarida-20"), "{next}");
    let page = owner.get("/admin/settings/mail").text();
    assert!(
        page.contains(&format!("{next}._domainkey.jarida.example")),
        "{page}"
    );
    assert_eq!(
        signer(),
        Some(vec!["jarida".into(), "jarida-ed25519".into()])
    );
    let r = owner.post(
        "/admin/settings/dkim",
        &[("csrf", &csrf), ("action", "switch")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        signer(),
        Some(vec![next.clone(), format!("{next}-ed25519")])
    );
    let page = owner.get("/admin/settings/mail").text();
    assert!(page.contains("Prepare a new key"), "{page}");

    // A rotation given up removes the keys it made.
    let r = owner.post(
        "/admin/settings/dkim",
        &[("csrf", &csrf), ("action", "prepare")],
    );
    assert_eq!(r.status, 303);
    let again = stored(&app)
        .into_iter()
        .find(|(k, _)| k == "dkim.next_selector")
        .map(|(_, v)| v.trim_matches('"').to_string())
        .unwrap();
    let keys = app.cfg.data_dir.join("keys");
    assert!(keys.join(format!("dkim-{again}-rsa.pem")).exists());
    let r = owner.post(
        "/admin/settings/dkim",
        &[("csrf", &csrf), ("action", "abandon")],
    );
    assert_eq!(r.status, 303);
    assert!(!keys.join(format!("dkim-{again}-rsa.pem")).exists());
    assert_eq!(
        signer(),
        Some(vec![next.clone(), format!("{next}-ed25519")])
    );
    // Nothing to switch to now.
    assert_eq!(
        owner
            .post(
                "/admin/settings/dkim",
                &[("csrf", &csrf), ("action", "switch")]
            )
            .status,
        400
    );
    let actions: Vec<String> = audit_actions(&app).into_iter().map(|(a, _)| a).collect();
    assert!(
        actions.contains(&"settings.dkim_generate".to_string()),
        "{actions:?}"
    );
}

#[test]
fn another_process_sharing_the_database_applies_the_change() {
    let app = TestApp::spawn_with(|c| {
        c.cache.refresh_seconds = 1;
        c.mail.from_address =
            Some(jarida_core::EmailAddress::parse("news@jarida.example").unwrap());
    });
    // The owner first: a second process started before one exists would issue its own setup link.
    let mut owner = owner(&app);
    let second = app.rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        jarida::start(&app.cfg, listener)
            .await
            .expect("a second process starts")
    });
    let other = format!("http://{}", second.addr);
    let get = |path: &str| {
        let r = app.agent.get(format!("{other}{path}")).call().unwrap();
        r.into_body().read_to_string().unwrap()
    };
    assert!(get("/en/").contains(">Jarida<"));
    let csrf = owner.csrf("/admin/settings");
    let mut form = site_form(&csrf, "جريدة");
    form.retain(|(k, _)| *k != "name_en");
    form.push(("name_en", "The Jarida Review"));
    assert_eq!(owner.post("/admin/settings", &form).status, 303);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if get("/en/").contains("The Jarida Review") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second process never applied it"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        second.app.settings().name(jarida_core::Lang::En),
        "The Jarida Review"
    );
    // Keys made in the admin change no stored setting, but the other process signs with them too.
    let signs = || {
        let engine = second.app.engine().expect("the second process's engine");
        engine.cfg.dkim.get().as_ref().is_some()
    };
    assert!(!signs());
    let csrf = owner.csrf("/admin/settings/mail");
    let r = owner.post(
        "/admin/settings/dkim",
        &[("csrf", &csrf), ("action", "generate")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !signs() {
        assert!(
            Instant::now() < deadline,
            "the second process never loaded the new keys"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    app.rt
        .block_on(second.background.shutdown(Duration::from_secs(5)));
    second.task.abort();
}

#[test]
fn only_the_owner_reaches_the_settings() {
    let app = TestApp::spawn();
    let mut owner = owner(&app);
    let mut editor = invite(&app, &mut owner, "editor@example.org", "editor", "Sami");
    let mut author = invite(&app, &mut owner, "author@example.org", "author", "Rana");
    for path in [
        "/admin/settings",
        "/admin/settings/newsletters",
        "/admin/settings/mail",
    ] {
        assert_eq!(owner.get(path).status, 200, "owner GET {path}");
        for (who, c) in [("editor", &mut editor), ("author", &mut author)] {
            assert_eq!(c.get(path).status, 403, "{who} GET {path}");
        }
        assert_eq!(
            Client::new(&app).get(path).status,
            303,
            "signed out GET {path}"
        );
    }
    for (who, c) in [("editor", &mut editor), ("author", &mut author)] {
        let csrf = c.csrf("/admin/account");
        for (path, extra) in [
            ("/admin/settings", ("section", "site")),
            ("/admin/settings/newsletters", ("section", "add")),
            ("/admin/settings/mail/test", ("relay", "0")),
            ("/admin/settings/dkim", ("action", "generate")),
        ] {
            let r = c.post(
                path,
                &[("csrf", &csrf), extra, ("slug", "x"), ("name", "x")],
            );
            assert_eq!(r.status, 403, "{who} POST {path}");
        }
        let r = c.upload(
            "/admin/settings/logo",
            &[("csrf", &csrf)],
            ("logo.png", b"x"),
        );
        assert_eq!(r.status, 403, "{who} uploads a logo");
    }
    assert!(stored(&app).is_empty());
    // The navigation shows the settings to the owner only.
    assert!(
        owner
            .get("/admin/posts")
            .text()
            .contains("href=\"/admin/settings\"")
    );
    assert!(
        !editor
            .get("/admin/posts")
            .text()
            .contains("href=\"/admin/settings\"")
    );
}
