//! The admin's editions over HTTP: composing, the composer's buttons (reorder, remove, add), the
//! previews in their sandbox, test copies into a real `smtp-sink`, the course of an edition
//! (approve, schedule, send, pause, cancel) with its audit lines, live progress and the figures,
//! and who may do any of it. Each test runs the real server on the test's database.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::admin::*;
use common::{Sink, TestApp, use_sink};
use jarida_core::EditionId;
use jarida_newsletter::editions;

fn edition_fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/editions")
}

/// An app with the edition fixtures, their posts moved into the last days (so the draft composed
/// now carries them whatever today's date is).
fn app_with(tweak: impl FnOnce(&mut jarida::config::Config)) -> TestApp {
    let app = TestApp::spawn_with(|c| {
        c.delivery.poll_seconds = 0.2;
        c.delivery.lease_seconds = 2;
        c.mail.from_address =
            Some(jarida_core::EmailAddress::parse("newsletter@jarida.example").unwrap());
        tweak(c);
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
    app
}

fn sql_i64(app: &TestApp, sql: &'static str, arg: i64) -> i64 {
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_one!(c.conn(), (i64,), sql, arg).unwrap().0
    })
}

fn edition(app: &TestApp, id: i64) -> editions::Edition {
    app.rt
        .block_on(editions::get(&app.db, EditionId(id)))
        .unwrap()
}

fn part(app: &TestApp, id: i64, lang: &str) -> editions::LangPart {
    app.rt.block_on(async {
        let e = editions::get(&app.db, EditionId(id)).await.unwrap();
        editions::parts(&app.db, &e)
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.lang == lang)
            .unwrap()
    })
}

fn order(p: &editions::LangPart) -> Vec<i64> {
    p.items.iter().map(|i| i.post_id).collect()
}

/// The values of every `name="item"` field on a composer page, in order.
fn items_on(html: &str) -> Vec<i64> {
    html.match_indices("name=\"item\" value=\"")
        .map(|(at, k)| {
            let rest = &html[at + k.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect()
}

/// Composes the next edition through the admin; its id.
fn compose(c: &mut Client<'_>) -> i64 {
    let csrf = c.csrf("/admin/editions");
    let r = c.post(
        "/admin/editions",
        &[("csrf", &csrf), ("newsletter", "main")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let to = r.header("location").unwrap().to_string();
    assert!(to.ends_with("?done=composed"), "{to}");
    to.trim_start_matches("/admin/editions/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn act(c: &mut Client<'_>, id: i64, fields: &[(&str, &str)]) -> common::Resp {
    let csrf = c.csrf(&format!("/admin/editions/{id}"));
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    c.post(&format!("/admin/editions/{id}/action"), &all)
}

fn audit_actions(app: &TestApp) -> Vec<String> {
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_all!(
            c.conn(),
            (String,),
            "SELECT action FROM audit_log ORDER BY id"
        )
        .unwrap()
        .into_iter()
        .map(|r| r.0)
        .collect()
    })
}

#[test]
fn an_editor_composes_reorders_previews_tests_and_sends_an_edition() {
    let sink = Sink::start(&[]);
    let app = app_with(|c| use_sink(c, &sink));
    let mut c = owner(&app);
    let readers: Vec<i64> = (0..3)
        .map(|i| add_reader(&app, &format!("r{i}@readers.example"), "R", "en"))
        .collect();
    let list = c.get("/admin/editions");
    assert_eq!(list.status, 200);
    assert!(list.text().contains(">Editions<"));
    let id = compose(&mut c);
    let page = c.get(&format!("/admin/editions/{id}?done=composed"));
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("The draft is composed."));
    assert!(html.contains(&format!("href=\"/admin/editions/{id}/en\"")));
    assert!(html.contains(&format!("href=\"/admin/editions/{id}/ar\"")));
    assert!(html.contains("status-draft"));

    // The composer lists the items in their order; the buttons move, remove and add.
    let path = format!("/admin/editions/{id}/en");
    let stored = order(&part(&app, id, "en"));
    assert!(
        stored.len() >= 3,
        "the draft carries the recent posts: {stored:?}"
    );
    let page = c.get(&path);
    assert_eq!(page.status, 200);
    let html = page.text();
    assert_eq!(items_on(&html), stored);
    assert!(html.contains(&format!(
        "<iframe sandbox src=\"/admin/editions/{id}/en/preview\""
    )));
    assert!(html.contains("/preview?as=text\""));
    let form = |items: &[i64], extra: &[(&str, String)]| -> Vec<(String, String)> {
        let mut f = vec![
            ("csrf".to_string(), field(&html, "csrf")),
            ("subject".to_string(), "Our water, in numbers".to_string()),
            (
                "intro".to_string(),
                "**Bold** claims, checked. See [the report](/en/september-water-report)."
                    .to_string(),
            ),
        ];
        f.extend(items.iter().map(|i| ("item".to_string(), i.to_string())));
        f.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        f
    };
    let post = |c: &mut Client<'_>, f: Vec<(String, String)>| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        c.post(&path, &pairs)
    };
    let r = post(
        &mut c,
        form(&stored, &[("move", format!("up:{}", stored[1]))]),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        r.header("location"),
        Some(format!("/admin/editions/{id}/en?done=saved#items").as_str())
    );
    let moved = order(&part(&app, id, "en"));
    assert_eq!(moved[..2], [stored[1], stored[0]]);
    assert_eq!(moved[2..], stored[2..]);
    let r = post(&mut c, form(&moved, &[("remove", moved[0].to_string())]));
    assert_eq!(r.status, 303);
    let removed = order(&part(&app, id, "en"));
    assert_eq!(removed, moved[1..].to_vec());
    // The removed story is offered again among the recent ones, and comes back at the end.
    let again = c.get(&path).text();
    assert!(
        again.contains(&format!("<option value=\"{}\"", moved[0])),
        "offered to add"
    );
    let r = post(
        &mut c,
        form(
            &removed,
            &[("post", moved[0].to_string()), ("op", "add".into())],
        ),
    );
    assert_eq!(r.status, 303);
    let added = order(&part(&app, id, "en"));
    assert_eq!(added.last(), Some(&moved[0]));
    assert_eq!(added.len(), stored.len());
    let p = part(&app, id, "en");
    assert_eq!(p.subject, "Our water, in numbers");
    // A refused save changes nothing and says why.
    let mut bad = form(&added, &[]);
    bad[1].1 = "   ".into();
    let r = post(&mut c, bad);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("subject"), "{}", r.text());
    assert_eq!(part(&app, id, "en").subject, "Our water, in numbers");
    // A post in the other language cannot be slipped in.
    let ar_post = order(&part(&app, id, "ar"))[0];
    let r = post(&mut c, form(&[added.clone(), vec![ar_post]].concat(), &[]));
    assert_eq!(r.status, 422);
    assert_eq!(order(&part(&app, id, "en")), added);

    // The previews: the message in a sandbox only the admin may frame, Markdown in the intro,
    // site links made absolute.
    let pv = c.get(&format!("/admin/editions/{id}/en/preview"));
    assert_eq!(pv.status, 200);
    let csp = pv.header("content-security-policy").unwrap().to_string();
    assert!(csp.starts_with("sandbox;"), "{csp}");
    assert!(
        csp.contains("frame-ancestors 'self'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert_eq!(pv.header("x-frame-options"), Some("SAMEORIGIN"));
    let body = pv.text();
    assert!(body.contains("<strong>Bold</strong>"), "{body}");
    assert!(
        body.contains(&format!("href=\"{}/en/september-water-report\"", app.base)),
        "absolute link"
    );
    let text = c.get(&format!("/admin/editions/{id}/en/preview?as=text"));
    assert!(
        text.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        text.text().contains("Bold claims, checked."),
        "{}",
        text.text()
    );
    let ar = c.get(&format!("/admin/editions/{id}/ar/preview")).text();
    assert!(ar.contains("dir=\"rtl\"") && ar.contains("lang=\"ar\""));
    assert_eq!(
        c.get(&format!("/admin/editions/{id}/fr/preview")).status,
        404
    );

    // Test copies go through the relay, marked, to the addresses given, and to nobody else.
    let csrf = field(&c.get(&path).text(), "csrf");
    let test_path = format!("/admin/editions/{id}/en/test");
    let r = c.post(
        &test_path,
        &[
            ("csrf", &csrf),
            ("to", "desk@newsroom.example, lina@example.org"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("desk@newsroom.example: accepted"),
        "{}",
        r.text()
    );
    let got = sink.wait_for("desk@newsroom.example", 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].subject(), "[Test] Our water, in numbers");
    assert!(
        got[0].header("DKIM-Signature").is_some() || got[0].header("List-Unsubscribe").is_some()
    );
    assert_eq!(sink.wait_for("lina@example.org", 1).len(), 1);
    let r = c.post(&test_path, &[("csrf", &csrf), ("to", "not-an-address")]);
    assert_eq!(r.status, 422);
    assert!(
        r.text().contains("not-an-address"),
        "names the address: {}",
        r.text()
    );
    let six = (0..6)
        .map(|i| format!("t{i}@example.org"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        c.post(&test_path, &[("csrf", &csrf), ("to", &six)]).status,
        422
    );
    assert_eq!(
        sql_i64(
            &app,
            "SELECT COUNT(*) FROM deliveries WHERE edition_id = $1",
            id
        ),
        0,
        "tests are not in the ledger"
    );

    // The segment: an unknown one is refused; every reader is the default.
    let csrf = c.csrf(&format!("/admin/editions/{id}"));
    let r = c.post(
        &format!("/admin/editions/{id}/segment"),
        &[("csrf", &csrf), ("segment", "999")],
    );
    assert_eq!(r.status, 422);
    assert!(r.text().contains("999"));
    let r = c.post(
        &format!("/admin/editions/{id}/segment"),
        &[("csrf", &csrf), ("segment", "")],
    );
    assert_eq!(r.status, 303);

    // Its course: a schedule must be in the future; then it is sent now. (Approving, which sends
    // at once, is in the roles test, where nothing sends.)
    let r = act(
        &mut c,
        id,
        &[("action", "schedule"), ("at", "2020-01-01T09:00")],
    );
    assert_eq!(r.status, 422);
    assert_eq!(act(&mut c, id, &[("action", "fly")]).status, 422);
    let r = act(
        &mut c,
        id,
        &[("action", "schedule"), ("at", "2099-06-01T09:30")],
    );
    assert_eq!(r.status, 303);
    let e = edition(&app, id);
    assert_eq!(e.status.as_str(), "scheduled");
    let r = act(&mut c, id, &[("action", "approve")]);
    assert_eq!(r.status, 422);
    assert!(
        r.text()
            .contains("Not possible while the edition is Scheduled"),
        "{}",
        r.text()
    );
    let local = jiff::Timestamp::from_second(e.send_at.unwrap())
        .unwrap()
        .to_zoned(app.app.cfg.timezone.clone());
    assert_eq!(
        local.strftime("%Y-%m-%dT%H:%M").to_string(),
        "2099-06-01T09:30",
        "read in the newsroom's zone"
    );
    let waiting = c.get(&format!("/admin/editions/{id}")).text();
    assert!(
        waiting.contains("data-refresh"),
        "a scheduled edition's page follows on its own"
    );
    assert_eq!(act(&mut c, id, &[("action", "send")]).status, 303);
    let deadline = Instant::now() + Duration::from_secs(30);
    while edition(&app, id).status.as_str() != "sent" {
        assert!(
            Instant::now() < deadline,
            "still {}",
            edition(&app, id).status
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for i in 0..3 {
        let got = sink.wait_for(&format!("r{i}@readers.example"), 1);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].subject(), "Our water, in numbers");
    }
    let done = c.get(&format!("/admin/editions/{id}")).text();
    assert!(
        !done.contains("data-refresh"),
        "a sent edition's page stays still"
    );
    assert!(done.contains("3 of 3 messages handled (100%)"), "{done}");
    assert!(
        done.contains(&format!(
            "href=\"/en/newsletter/{}\"",
            edition(&app, id).number
        )),
        "web version"
    );

    // Unsubscribes that came from the edition: a reader's own one-click counts, an editor's does not.
    let csrf = c.csrf(&format!("/admin/readers/{}", readers[0]));
    let r = c.post(
        &format!("/admin/readers/{}/unsubscribe", readers[0]),
        &[("csrf", &csrf)],
    );
    assert!(r.status == 303 || r.status == 200, "{}", r.status);
    app.rt.block_on(async {
        jarida_audience::subscribers::unsubscribe(
            &app.db,
            jarida_core::SubscriberId(readers[1]),
            "one-click",
            time::OffsetDateTime::now_utc() + time::Duration::seconds(2),
        )
        .await
        .unwrap();
    });
    let f = app
        .rt
        .block_on(jarida_newsletter::deliver::figures(&app.db, EditionId(id)))
        .unwrap();
    assert_eq!(
        (f.recipients, f.sent, f.unsubscribed_after),
        (3, 3, 1),
        "{f:?}"
    );
    let listed = c.get("/admin/editions").text();
    assert!(listed.contains("status-sent"));

    let log = audit_actions(&app);
    for a in [
        "edition.compose",
        "edition.edit",
        "edition.test",
        "edition.segment",
        "edition.schedule",
        "edition.send",
    ] {
        assert!(log.iter().any(|l| l == a), "{a} in {log:?}");
    }
}

#[test]
fn progress_is_live_while_sending_and_cancelling_a_sending_edition_needs_the_box() {
    // Nothing in this process sends: the test moves the ledger itself.
    let app = app_with(|c| c.delivery.enabled = false);
    let mut c = owner(&app);
    for i in 0..4 {
        add_reader(&app, &format!("p{i}@readers.example"), "P", "en");
    }
    let id = compose(&mut c);
    assert_eq!(act(&mut c, id, &[("action", "send")]).status, 303);
    let page = c.get(&format!("/admin/editions/{id}")).text();
    assert!(
        page.contains("a delivery worker"),
        "says who will send it: {page}"
    );
    let engine = app
        .rt
        .block_on(jarida::engine(
            &app.cfg,
            &app.db,
            &app.base,
            app.app.theme.clone(),
        ))
        .unwrap();
    assert!(
        app.rt
            .block_on(engine.begin(EditionId(id), time::OffsetDateTime::now_utc()))
            .unwrap()
    );
    let first = c.get(&format!("/admin/editions/{id}")).text();
    assert!(first.contains("data-refresh"));
    assert!(first.contains("0 of 4 messages handled (0%)"), "{first}");
    // Two go out; the next look shows the rate and the time left.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    app.rt.block_on(async {
        let mut db = app.db.acquire().await.unwrap();
        jarida_store::q_exec!(
            db.conn(),
            "UPDATE deliveries SET state = 'sent', done_at = $1 WHERE edition_id = $2 AND subscriber_id IN \
             (SELECT subscriber_id FROM deliveries WHERE edition_id = $2 ORDER BY subscriber_id LIMIT 2)",
            now,
            id
        )
        .unwrap();
    });
    std::thread::sleep(Duration::from_millis(1100));
    let second = c.get(&format!("/admin/editions/{id}")).text();
    assert!(second.contains("2 of 4 messages handled (50%)"), "{second}");
    assert!(second.contains(" a minute"), "the rate: {second}");
    assert!(
        second.contains("one minute") && second.contains("left"),
        "time left: {second}"
    );
    // Pause and resume; a sending edition is cancelled only with the box ticked.
    assert_eq!(act(&mut c, id, &[("action", "pause")]).status, 303);
    assert_eq!(edition(&app, id).status.as_str(), "paused");
    assert_eq!(act(&mut c, id, &[("action", "resume")]).status, 303);
    let r = act(&mut c, id, &[("action", "cancel")]);
    assert_eq!(r.status, 422);
    assert_eq!(edition(&app, id).status.as_str(), "sending");
    assert_eq!(
        act(&mut c, id, &[("action", "cancel"), ("confirm", "1")]).status,
        303
    );
    assert_eq!(edition(&app, id).status.as_str(), "cancelled");
    let f = app
        .rt
        .block_on(jarida_newsletter::deliver::figures(&app.db, EditionId(id)))
        .unwrap();
    assert_eq!((f.sent, f.skipped), (2, 2), "{f:?}");
    let log = audit_actions(&app);
    for a in ["edition.pause", "edition.resume", "edition.cancel"] {
        assert!(log.iter().any(|l| l == a), "{a} in {log:?}");
    }
    // The editions pages in Arabic, right to left.
    let csrf = c.csrf("/admin/account");
    let r = c.post(
        "/admin/account",
        &[
            ("csrf", &csrf),
            ("action", "profile"),
            ("name", "Lina Haddad"),
            ("lang", "ar"),
        ],
    );
    assert!(r.status == 303 || r.status == 200, "{}", r.status);
    let ar = c.get(&format!("/admin/editions/{id}")).text();
    assert!(ar.contains("dir=\"rtl\"") && ar.contains("أُلغي"), "{ar}");
    let ar = c.get("/admin/editions").text();
    assert!(ar.contains("أعداد النشرة"));
}

#[test]
fn editions_pages_are_for_owners_and_editors_only() {
    let app = app_with(|c| c.delivery.enabled = false);
    let mut o = owner(&app);
    let id = compose(&mut o);
    let mut author = invite(&app, &mut o, "sami@example.org", "author", "Sami");
    let gets = [
        "/admin/editions".to_string(),
        format!("/admin/editions/{id}"),
        format!("/admin/editions/{id}/en"),
        format!("/admin/editions/{id}/en/preview"),
    ];
    for path in &gets {
        assert_eq!(author.get(path).status, 403, "GET {path}");
    }
    let csrf = author.csrf("/admin/account");
    let posts = [
        ("/admin/editions".to_string(), vec![("newsletter", "main")]),
        (
            format!("/admin/editions/{id}/action"),
            vec![("action", "approve")],
        ),
        (
            format!("/admin/editions/{id}/segment"),
            vec![("segment", "")],
        ),
        (
            format!("/admin/editions/{id}/en"),
            vec![("subject", "Mine now")],
        ),
        (
            format!("/admin/editions/{id}/en/test"),
            vec![("to", "sami@example.org")],
        ),
    ];
    for (path, fields) in &posts {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        assert_eq!(author.post(path, &all).status, 403, "POST {path}");
    }
    assert_eq!(edition(&app, id).status.as_str(), "draft");
    assert_ne!(part(&app, id, "en").subject, "Mine now");
    let mut anon = Client::new(&app);
    for path in &gets {
        assert_eq!(anon.get(path).status, 303, "GET {path}");
    }
    for (path, _) in &posts {
        assert_eq!(anon.post(path, &[("csrf", "x")]).status, 401, "POST {path}");
    }
    // A form without this session's token changes nothing.
    let r = o.post(
        &format!("/admin/editions/{id}/action"),
        &[("csrf", "forged"), ("action", "approve")],
    );
    assert_eq!(r.status, 403);
    assert_eq!(edition(&app, id).status.as_str(), "draft");
    // An editor may.
    let mut editor = invite(&app, &mut o, "noor@example.org", "editor", "Noor");
    assert_eq!(editor.get(&format!("/admin/editions/{id}/en")).status, 200);
    assert_eq!(act(&mut editor, id, &[("action", "approve")]).status, 303);
    assert_eq!(edition(&app, id).status.as_str(), "approved");
    let r = act(&mut editor, id, &[("action", "approve")]);
    assert_eq!(r.status, 422);
    assert!(
        r.text()
            .contains("Not possible while the edition is Approved"),
        "{}",
        r.text()
    );
    assert!(audit_actions(&app).iter().any(|a| a == "edition.approve"));
    assert_eq!(editor.get("/admin/editions/987654").status, 404);
}

#[test]
fn the_dashboard_counts_readers_by_day_and_warns_of_what_hurts_delivery() {
    let app = app_with(|c| c.delivery.enabled = false);
    let mut c = owner(&app);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // Two sign-ups through the form today, one confirmed; an import long ago; one reader left.
    app.rt.block_on(async {
        let mut db = app.db.acquire().await.unwrap();
        for (email, source, created, confirmed, status) in [
            ("a@dash.example", "form", now - 60, Some(now - 30), "active"),
            ("b@dash.example", "form", now - 50, None, "pending"),
            ("c@dash.example", "import", now - 400 * 86_400, Some(now - 400 * 86_400), "active"),
            ("d@dash.example", "form", now - 3 * 86_400, Some(now - 3 * 86_400), "unsubscribed"),
        ] {
            let (id,): (i64,) = jarida_store::q_one!(
                db.conn(),
                (i64,),
                "INSERT INTO subscribers (email, name, lang, status, source, consent_at, confirmed_at, created_at, updated_at) \
                 VALUES ($1, '', 'en', $2, $3, $4, $5, $4, $4) RETURNING id",
                email,
                status,
                source,
                created,
                confirmed
            )
            .unwrap();
            if status == "unsubscribed" {
                jarida_store::q_exec!(
                    db.conn(),
                    "INSERT INTO subscriber_events (subscriber_id, kind, at, detail) VALUES ($1, 'unsubscribed', $2, '{\"how\":\"one-click\"}')",
                    id,
                    now - 86_400
                )
                .unwrap();
            }
        }
    });
    let home = c.get("/admin/");
    assert_eq!(home.header("location"), Some("/admin/dashboard"));
    let page = c.get("/admin/dashboard");
    assert_eq!(page.status, 200);
    let html = page.text();
    let tile = |label: &str| -> String {
        let key = format!("<dt>{label}</dt><dd>");
        let at = html.find(&key).unwrap_or_else(|| panic!("{label}: {html}")) + key.len();
        html[at..at + html[at..].find('<').unwrap()].to_string()
    };
    assert_eq!(tile("Getting the newsletter"), "2");
    assert_eq!(
        tile("Signed up"),
        "3",
        "the old import is outside the 30 days"
    );
    assert_eq!(tile("Confirmed"), "2");
    assert_eq!(tile("Unsubscribed"), "1");
    assert_eq!(tile("Net change"), "1");
    assert_eq!(
        tile("Confirmation rate"),
        "66%",
        "2 of 3 form sign-ups confirmed"
    );
    assert!(html.contains("<svg class=\"chart\""), "the chart");
    assert!(html.contains("role=\"img\" aria-labelledby=\"readers-chart-t readers-chart-d\""));
    assert!(
        html.contains(
            "In the last 30 days: 3 signed up, 2 confirmed, 1 unsubscribed; net change 1."
        )
    );
    assert_eq!(
        html.matches("<tr><th scope=\"row\">").count(),
        60,
        "one row per day"
    );
    assert!(
        html.contains("not signed with DKIM"),
        "no DKIM key in the tests' configuration"
    );
    let ninety = c.get("/admin/dashboard?days=90").text();
    assert!(ninety.contains("the last 90 days"));
    assert_eq!(ninety.matches("<tr><th scope=\"row\">").count(), 180);
    // An edition with hard bounces over the line is named.
    let id = compose(&mut c);
    app.rt.block_on(async {
        let mut db = app.db.acquire().await.unwrap();
        jarida_store::q_exec!(db.conn(), "UPDATE editions SET status = 'sent', started_at = $1, finished_at = $1 WHERE id = $2", now, id)
            .unwrap();
        for (sid, state, reply) in [(1i64, "sent", None), (2, "failed", Some("550 5.1.1 no such user"))] {
            jarida_store::q_exec!(
                db.conn(),
                "INSERT INTO deliveries (edition_id, subscriber_id, lang, state, attempts, last_reply, done_at) VALUES ($1, $2, 'en', $3, 1, $4, $5)",
                id,
                sid,
                state,
                reply,
                now
            )
            .unwrap();
        }
        // What the ledger writes with a 5.1.1 refusal (jarida_audience::bounces::record_in).
        jarida_store::q_exec!(
            db.conn(),
            "INSERT INTO bounces (subscriber_id, edition_id, kind, status, diagnostic, source, at) \
             VALUES (NULL, $1, 'hard', '5.1.1', '550 5.1.1 no such user', 'smtp', $2)",
            id,
            now
        )
        .unwrap();
    });
    let html = c.get("/admin/dashboard").text();
    assert!(html.contains("50.0% of its recipients bounced"), "{html}");
    assert!(html.contains(&format!("href=\"/admin/editions/{id}\"")));
    // Arabic: mirrored, the same numbers in Arabic digits.
    let csrf = c.csrf("/admin/account");
    c.post(
        "/admin/account",
        &[
            ("csrf", &csrf),
            ("action", "profile"),
            ("name", "Lina"),
            ("lang", "ar"),
        ],
    );
    let ar = c.get("/admin/dashboard").text();
    assert!(
        ar.contains("dir=\"rtl\"") && ar.contains("لوحة المتابعة") && ar.contains("<dd>٢</dd>"),
        "{ar}"
    );
    // Only owners and editors.
    let mut author = invite(&app, &mut c, "sami@example.org", "author", "Sami");
    assert_eq!(author.get("/admin/dashboard").status, 403);
    assert_eq!(
        author.get("/admin/").header("location"),
        Some("/admin/posts")
    );
}

#[test]
fn page_views_are_counted_on_the_server_without_bots_and_credited_to_editions() {
    let app = app_with(|c| c.delivery.enabled = false);
    let mut c = owner(&app);
    let id = compose(&mut c);
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let article = "/en/september-water-report";
    // The first view fills the cache (hyper's path); the next ones are cache hits (the fast path).
    for _ in 0..3 {
        let r = app.get_with(
            article,
            &[
                ("user-agent", firefox),
                ("referer", "https://news.other.example/a/b?c=d"),
            ],
        );
        assert_eq!(r.status, 200);
        assert!(
            r.header("set-cookie").is_none(),
            "no cookie on a public page"
        );
    }
    let from_edition = format!("{article}?ref=e{id}");
    assert_eq!(
        app.get_with(&from_edition, &[("user-agent", firefox)])
            .status,
        200
    );
    // A view from our own page counts, but not as a referrer; bots, clients that are not browsers
    // and HEAD requests do not count.
    app.get_with(
        article,
        &[
            ("user-agent", firefox),
            ("referer", &format!("{}/en/", app.base)),
        ],
    );
    app.get_with(
        article,
        &[(
            "user-agent",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        )],
    );
    app.get(article);
    let head = app
        .agent
        .head(format!("{}{article}", app.base))
        .header("user-agent", firefox)
        .call()
        .unwrap();
    assert_eq!(head.status(), 200);
    app.rt.block_on(jarida_web::views::flush(&app.app));
    let html = c.get("/admin/dashboard").text();
    assert!(html.contains("<dt>Page views</dt><dd>5</dd>"), "{html}");
    assert!(
        html.contains(&format!(
            "<a href=\"{article}\" dir=\"ltr\">{article}</a></th><td>5</td>"
        )),
        "{html}"
    );
    assert!(
        !html.contains(&app.base.replace("http://", "")),
        "our own site is not a referrer"
    );
    assert!(
        html.contains("<th scope=\"row\" dir=\"ltr\">news.other.example</th><td>3</td>"),
        "hosts only: {html}"
    );
    assert!(!html.contains("/a/b?c=d"), "never the referring address");
    // The edition's visits, once it has gone out.
    app.rt.block_on(async {
        let mut db = app.db.acquire().await.unwrap();
        jarida_store::q_exec!(
            db.conn(),
            "UPDATE editions SET status = 'sent', started_at = $2, finished_at = $2 WHERE id = $1",
            id,
            time::OffsetDateTime::now_utc().unix_timestamp()
        )
        .unwrap();
    });
    let html = c.get("/admin/dashboard").text();
    let row = &html[html
        .find(&format!("href=\"/admin/editions/{id}\""))
        .unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.trim_end().ends_with("<td>1</td>"),
        "one visit from the edition: {row}"
    );
    // The edition's links carry its ref, the same for every reader.
    let engine = app
        .rt
        .block_on(jarida::engine(
            &app.cfg,
            &app.db,
            &app.base,
            app.app.theme.clone(),
        ))
        .unwrap();
    let msg = String::from_utf8(
        app.rt
            .block_on(engine.sample_message(EditionId(id), "en"))
            .unwrap(),
    )
    .unwrap();
    let decoded = msg.replace("=\r\n", "").replace("=3D", "=");
    assert!(decoded.contains(&format!("?ref=e{id}")), "{decoded}");
    // Nothing about a reader is in the tables: days, paths, hosts and sums only.
    let cols: i64 = app.rt.block_on(async {
        let mut db = app.db.acquire().await.unwrap();
        jarida_store::q_one!(db.conn(), (i64,), "SELECT COUNT(*) FROM page_views")
            .unwrap()
            .0
    });
    assert_eq!(cols, 1);
}
