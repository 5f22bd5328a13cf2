//! Subscriptions end to end over HTTP, with mail going to a real SMTP server (Postfix's smtp-sink).

mod common;

use common::{Sink, TestApp, form_field, url_with, use_sink};

fn app_with_sink(tweak: impl FnOnce(&mut jarida::config::Config)) -> (TestApp, Sink) {
    let sink = Sink::start(&[]);
    let app = TestApp::spawn_with(|c| {
        use_sink(c, &sink);
        tweak(c);
    });
    (app, sink)
}

#[test]
fn double_opt_in_preferences_and_one_click_unsubscribe() {
    let (app, sink) = app_with_sink(|_| {});
    let reader = "Reader@Example.COM";
    let stored = "reader@example.com";

    // Sign up from the footer form of an English page.
    let r = app.post_form(
        "/en/newsletter/subscribe",
        &[
            ("email", reader),
            ("name", "Rana"),
            ("website", ""),
            ("from", &format!("{}/en/", app.base)),
        ],
    );
    assert_eq!(r.status, 200);
    assert!(r.text().contains("Check your inbox"));
    // The sign-up is recorded after the answer (so its timing tells nothing), before its email.
    let mails = sink.wait_for(stored, 1);
    assert_eq!(
        app.status_of(stored).as_deref(),
        Some("pending"),
        "the address is lower-cased"
    );
    assert_eq!(mails.len(), 1, "one confirmation email");
    let confirm = &mails[0];
    assert!(
        confirm.subject().contains("Confirm your subscription"),
        "{}",
        confirm.subject()
    );
    assert!(
        confirm
            .header("From")
            .unwrap()
            .contains("newsletter@jarida.example")
    );
    let text = confirm.text();
    let html = confirm.html();
    assert!(html.contains("<a href=\""), "an HTML part with the button");
    let link =
        url_with(&text, "/en/newsletter/confirm/").expect("a confirmation link in the text part");
    let token = link.rsplit('/').next().unwrap();
    assert!(token.len() >= 22, "at least 128 random bits");

    // Opening the link does not confirm (mail scanners open links); the button does.
    let page = app.get(&app.path_of(&link));
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Confirm my subscription"));
    assert_eq!(app.status_of(stored).as_deref(), Some("pending"));
    let done = app.post_form(&app.path_of(&link), &[("confirm", "1")]);
    assert_eq!(done.status, 200);
    assert!(
        done.text().contains("You&#39;re subscribed"),
        "{}",
        done.text()
    );
    assert_eq!(app.status_of(stored).as_deref(), Some("active"));
    // Single use.
    assert_eq!(
        app.post_form(&app.path_of(&link), &[("confirm", "1")])
            .status,
        404
    );
    // A forged token.
    assert_eq!(
        app.get("/en/newsletter/confirm/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .status,
        404
    );

    // The welcome message carries List-Unsubscribe with one-click.
    let mails = sink.wait_for(stored, 2);
    assert_eq!(mails.len(), 2);
    let welcome = &mails[1];
    assert!(welcome.subject().contains("Welcome"));
    assert_eq!(
        welcome.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let lu = welcome
        .header("List-Unsubscribe")
        .expect("List-Unsubscribe header");
    let unsub = url_with(&lu, "/newsletter/unsubscribe/").expect("an https unsubscribe URL");
    let manage = url_with(&welcome.text(), "/newsletter/manage/").expect("a preference link");
    assert_eq!(
        url_with(&welcome.text(), "/newsletter/unsubscribe/").as_deref(),
        Some(unsub.as_str()),
        "a visible unsubscribe link too"
    );
    assert!(
        !confirm.header("To").unwrap().contains("Rana"),
        "nothing typed into the form reaches the confirmation email"
    );

    // Preferences: change name and language.
    let mpath = app.path_of(&manage);
    let page = app.get(&mpath);
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains(stored));
    let csrf = form_field(&html, "csrf");
    let saved = app.post_form(
        &mpath,
        &[
            ("csrf", &csrf),
            ("action", "save"),
            ("name", "Rana K"),
            ("lang", "ar"),
            ("newsletter", "1"),
        ],
    );
    assert_eq!(saved.status, 200);
    assert!(saved.text().contains("Your preferences are saved"));
    let forged = app.post_form(&mpath, &[("csrf", "0"), ("action", "save"), ("lang", "en")]);
    assert_eq!(forged.status, 403);
    let mut bad = mpath.clone();
    bad.pop();
    bad.push(if mpath.ends_with('0') { '1' } else { '0' });
    assert_eq!(app.get(&bad).status, 404, "a forged preference link");

    // Download my data: the preference link asks for a fresh emailed link (a forwarded newsletter
    // must not hand over the reader's data).
    let asked = app.post_form(&mpath, &[("csrf", &csrf), ("action", "download")]);
    assert!(
        asked.text().contains("Check your email"),
        "{}",
        asked.text()
    );
    let data_mail = &sink.wait_for(stored, 3)[2];
    let dpath = app.path_of(&url_with(&data_mail.text(), "/newsletter/data/").unwrap());
    let dcsrf = form_field(&app.get(&dpath).text(), "csrf");
    let data = app.post_form(&dpath, &[("csrf", &dcsrf), ("action", "download")]);
    assert_eq!(
        data.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let v: serde_json::Value = serde_json::from_slice(&data.bytes).unwrap();
    assert_eq!(v["email"], stored);
    assert_eq!(v["language"], "ar");
    assert_eq!(v["consent"]["ip"], "127.0.0.1");
    assert!(
        v["consent"]["wording_version"]
            .as_str()
            .unwrap()
            .starts_with("en:")
    );
    assert!(v["consent"]["confirmed_at"].is_string());
    let kinds: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["subscribed", "confirmed", "changed"]);

    // A GET of the unsubscribe URL never unsubscribes.
    let upath = app.path_of(&unsub);
    let page = app.get(&upath);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<form method=\"post\""));
    assert_eq!(app.status_of(stored).as_deref(), Some("active"));

    // RFC 8058: POST List-Unsubscribe=One-Click, no cookie, no token; 200, idempotent, no redirect.
    for _ in 0..2 {
        let r = app.post_raw(
            &unsub,
            "application/x-www-form-urlencoded",
            "List-Unsubscribe=One-Click",
        );
        assert_eq!(r.status, 200);
        assert!(r.header("location").is_none());
        assert_eq!(app.status_of(stored).as_deref(), Some("unsubscribed"));
    }
}

#[test]
fn a_known_address_gets_the_same_answer_and_a_manage_email() {
    let (app, sink) = app_with_sink(|_| {});
    let first = app.post_form(
        "/ar/newsletter/subscribe",
        &[("email", "known@example.org")],
    );
    let mail = &sink.wait_for("known@example.org", 1)[0];
    assert!(
        mail.html().contains("dir=\"rtl\""),
        "the confirmation is in the reader's language"
    );
    assert!(mail.subject().contains("أكّد اشتراكك"), "{}", mail.subject());
    let link = url_with(&mail.text(), "/newsletter/confirm/").unwrap();
    app.post_form(&app.path_of(&link), &[]);
    assert_eq!(
        app.status_of("known@example.org").as_deref(),
        Some("active")
    );

    let second = app.post_form(
        "/ar/newsletter/subscribe",
        &[("email", "known@example.org")],
    );
    assert_eq!(first.status, second.status);
    assert_eq!(
        first.text(),
        second.text(),
        "the answer does not reveal that the address is known"
    );
    let mails = sink.wait_for("known@example.org", 3);
    let manage = mails
        .iter()
        .find(|m| m.subject().starts_with("اشتراكك في نشرة"))
        .expect("a manage email");
    assert!(url_with(&manage.text(), "/newsletter/manage/").is_some());
}

#[test]
fn expired_tokens_honeypot_invalid_addresses_and_the_api() {
    let (app, sink) = app_with_sink(|_| {});
    app.post_form("/en/newsletter/subscribe", &[("email", "late@example.org")]);
    let link = url_with(&sink.wait_for("late@example.org", 1)[0].text(), "/confirm/").unwrap();
    app.sql_exec("UPDATE subscriber_tokens SET expires_at = 0");
    let r = app.get(&app.path_of(&link));
    assert_eq!(r.status, 410);
    assert!(r.text().contains("expired"));
    assert_eq!(app.post_form(&app.path_of(&link), &[]).status, 410);
    assert_eq!(
        app.status_of("late@example.org").as_deref(),
        Some("pending")
    );

    let bot = app.post_form(
        "/en/newsletter/subscribe",
        &[("email", "bot@example.org"), ("website", "http://spam")],
    );
    assert_eq!(bot.status, 200, "the honeypot answers like a success");
    assert_eq!(
        app.status_of("bot@example.org"),
        None,
        "and records nothing"
    );

    let bad = app.post_form("/en/newsletter/subscribe", &[("email", "not an address")]);
    assert_eq!(bad.status, 422);
    assert!(bad.text().contains("exactly one @"));

    let ok = app.post_raw(
        "/api/v1/subscribers",
        "application/json",
        r#"{"email":"api@example.org","lang":"ar"}"#,
    );
    assert_eq!(ok.status, 202);
    assert!(
        sink.wait_for("api@example.org", 1)[0]
            .subject()
            .contains("أكّد")
    );
    assert_eq!(app.status_of("api@example.org").as_deref(), Some("pending"));
    let bad = app.post_raw(
        "/api/v1/subscribers",
        "application/json",
        r#"{"email":"x@localhost"}"#,
    );
    assert_eq!(bad.status, 422);
    let v: serde_json::Value = serde_json::from_slice(&bad.bytes).unwrap();
    assert_eq!(v["error"], "email");
    assert!(v["reason"].as_str().unwrap().contains("domain"));
    assert_eq!(
        app.post_raw("/api/v1/subscribers", "application/json", "{")
            .status,
        400
    );
}

#[test]
fn floods_are_throttled() {
    let (app, sink) = app_with_sink(|c| {
        c.signup.per_ip_per_hour = 8;
        c.signup.per_address_per_day = 3;
    });
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(
            app.post_form(
                "/en/newsletter/subscribe",
                &[("email", "victim@example.org")],
            )
            .status,
        );
    }
    assert_eq!(&statuses[..8], &[200; 8], "{statuses:?}");
    assert_eq!(&statuses[8..], &[429, 429], "{statuses:?}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let got = sink.wait_for("victim@example.org", 3);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let got_after = sink
        .messages()
        .into_iter()
        .filter(|m| m.rcpt == "victim@example.org")
        .count();
    assert_eq!(got.len(), 3);
    assert_eq!(got_after, 3, "the victim gets at most three emails a day");
}

#[test]
fn erasure_keeps_only_a_suppression_hash() {
    let (app, sink) = app_with_sink(|_| {});
    app.post_form("/en/newsletter/subscribe", &[("email", "gone@example.org")]);
    let link = url_with(&sink.wait_for("gone@example.org", 1)[0].text(), "/confirm/").unwrap();
    app.post_form(&app.path_of(&link), &[]);
    let welcome = &sink.wait_for("gone@example.org", 2)[1];
    let manage = app.path_of(&url_with(&welcome.text(), "/newsletter/manage/").unwrap());
    let csrf = form_field(&app.get(&manage).text(), "csrf");
    let r = app.post_form(&manage, &[("csrf", &csrf), ("action", "erase")]);
    assert_eq!(r.status, 200);
    let data_mail = &sink.wait_for("gone@example.org", 3)[2];
    let data = app.path_of(&url_with(&data_mail.text(), "/newsletter/data/").unwrap());
    let csrf = form_field(&app.get(&data).text(), "csrf");
    let r = app.post_form(&data, &[("csrf", &csrf), ("action", "erase")]);
    assert_eq!(r.status, 200);
    assert_eq!(
        app.status_of("gone@example.org"),
        None,
        "the record is gone"
    );
    assert_eq!(app.get(&manage).status, 404, "its links stop working");
    assert_eq!(
        app.sql_exec("UPDATE suppressions SET reason = reason WHERE reason = 'erased'"),
        1
    );
    let again = app.post_form("/en/newsletter/subscribe", &[("email", "gone@example.org")]);
    assert_eq!(again.status, 200);
    assert_eq!(
        app.status_of("gone@example.org"),
        None,
        "a suppressed address is not signed up again"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        sink.messages()
            .into_iter()
            .filter(|m| m.rcpt == "gone@example.org")
            .count(),
        3,
        "confirmation, welcome and the data link; nothing after the erasure"
    );
}

#[test]
fn without_a_relay_mail_goes_to_the_outbox() {
    let app = TestApp::spawn();
    assert_eq!(
        app.post_form("/en/newsletter/subscribe", &[("email", "out@example.org")])
            .status,
        200
    );
    let outbox = app.cfg.data_dir.join("outbox");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let files = loop {
        let f: Vec<_> = std::fs::read_dir(&outbox)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .collect();
        if !f.is_empty() || std::time::Instant::now() > deadline {
            break f;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(files.len(), 1);
    let raw = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(raw.contains("out@example.org"));
    assert!(raw.contains("/en/newsletter/confirm/"));
}

#[test]
fn import_through_the_api_needs_the_token() {
    let token = "t0ken-t0ken-t0ken-t0ken-t0ken-t0ken";
    let (app, sink) = app_with_sink(|c| c.api.token = token.into());
    let csv = "email,name\nfirst@example.org,First\nbad,Row\nsecond@example.org,Second\n";
    let r = app.post_raw("/api/v1/subscribers/import", "text/csv", csv);
    assert_eq!(r.status, 401);
    assert_eq!(app.status_of("first@example.org"), None);

    let url = format!("{}/api/v1/subscribers/import?lang=ar", app.base);
    let mut resp = app
        .agent
        .post(&url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "text/csv")
        .send(csv)
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.body_mut().read_json().unwrap();
    assert_eq!(v["imported"], 2);
    assert_eq!(v["error_count"], 1);
    assert_eq!(v["errors"][0]["line"], 3);
    assert_eq!(v["confirmation_emails"], 2);
    assert_eq!(
        app.status_of("first@example.org").as_deref(),
        Some("pending")
    );
    let mail = &sink.wait_for("second@example.org", 1)[0];
    assert!(
        mail.subject().contains("أكّد"),
        "in the language given: {}",
        mail.subject()
    );
}

#[test]
fn behind_a_proxy_each_client_has_its_own_limit() {
    let (app, _sink) = app_with_sink(|c| {
        c.client_ip_header = "X-Forwarded-For".into();
        c.signup.per_ip_per_hour = 2;
    });
    let post = |ip: &str, email: &str| {
        app.agent
            .post(format!("{}/en/newsletter/subscribe", app.base))
            .header("x-forwarded-for", format!("10.0.0.1, {ip}"))
            .send_form([("email", email)])
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post("198.51.100.1", "p1@example.org"), 200);
    assert_eq!(post("198.51.100.1", "p2@example.org"), 200);
    assert_eq!(post("198.51.100.1", "p3@example.org"), 429);
    assert_eq!(
        post("198.51.100.2", "p4@example.org"),
        200,
        "another reader behind the same proxy"
    );
    assert_eq!(post("2001:db8:1:2::1", "p5@example.org"), 200);
    assert_eq!(post("2001:db8:1:2::99", "p6@example.org"), 200);
    assert_eq!(
        post("2001:db8:1:2:ffff::7", "p7@example.org"),
        429,
        "IPv6 is limited by its /64"
    );
}

#[test]
fn an_old_confirmation_link_cannot_resubscribe_someone_who_left() {
    let (app, sink) = app_with_sink(|_| {});
    app.post_form(
        "/en/newsletter/subscribe",
        &[("email", "twice@example.org")],
    );
    app.post_form(
        "/en/newsletter/subscribe",
        &[("email", "twice@example.org")],
    );
    let mails = sink.wait_for("twice@example.org", 2);
    let first = app.path_of(&url_with(&mails[0].text(), "/confirm/").unwrap());
    let second = app.path_of(&url_with(&mails[1].text(), "/confirm/").unwrap());
    assert_ne!(first, second);
    assert_eq!(app.post_form(&first, &[]).status, 200);
    let welcome = &sink.wait_for("twice@example.org", 3)[2];
    let unsub = url_with(
        &welcome.header("List-Unsubscribe").unwrap(),
        "/unsubscribe/",
    )
    .unwrap();
    app.post_raw(
        &unsub,
        "application/x-www-form-urlencoded",
        "List-Unsubscribe=One-Click",
    );
    assert_eq!(
        app.status_of("twice@example.org").as_deref(),
        Some("unsubscribed")
    );
    assert_eq!(
        app.post_form(&second, &[]).status,
        404,
        "the other link died with the first confirmation"
    );
    assert_eq!(
        app.status_of("twice@example.org").as_deref(),
        Some("unsubscribed")
    );

    // Signing the address up again changes nothing on the record until the new link is confirmed.
    app.post_form(
        "/ar/newsletter/subscribe",
        &[("email", "twice@example.org"), ("name", "Someone Else")],
    );
    assert_eq!(
        app.status_of("twice@example.org").as_deref(),
        Some("unsubscribed")
    );
    let third = app.path_of(
        &url_with(
            &sink.wait_for("twice@example.org", 4)[3].text(),
            "/confirm/",
        )
        .unwrap(),
    );
    assert_eq!(app.post_form(&third, &[]).status, 200);
    assert_eq!(
        app.status_of("twice@example.org").as_deref(),
        Some("active")
    );
    let row = app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_one!(
            c.conn(),
            (String, String),
            "SELECT lang, name FROM subscribers WHERE email = $1",
            "twice@example.org"
        )
        .unwrap()
    });
    assert_eq!(
        row,
        ("ar".to_string(), String::new()),
        "the confirmed sign-up's language; a name typed by whoever asked is not stored"
    );
}
