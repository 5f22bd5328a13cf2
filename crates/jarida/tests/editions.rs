//! Newsletter editions: composition from fixture posts across periods (with corrections and language
//! routing), editing, and delivery into a real `smtp-sink`: headers, DKIM checked by dkimpy, faults,
//! suppression, and a send killed mid-edition and restarted.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use jarida_newsletter::deliver::{Engine, Figures};
use jarida_newsletter::editions;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn t(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339).unwrap()
}

fn edition_fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/editions")
}

/// An app whose delivery the test drives itself, with the edition fixtures imported.
fn app_with(tweak: impl FnOnce(&mut jarida::config::Config)) -> TestApp {
    let app = TestApp::spawn_with(|c| {
        c.delivery.enabled = false;
        c.delivery.retry_base_seconds = 1;
        c.delivery.lease_seconds = 2;
        c.delivery.poll_seconds = 0.2;
        c.mail.from_address = "newsletter@jarida.example".into();
        tweak(c);
    });
    let r = app.import(&edition_fixtures());
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    app
}

fn engine(app: &TestApp) -> Arc<Engine> {
    app.rt
        .block_on(jarida::engine(&app.cfg, &app.db, &app.base))
        .unwrap()
}

/// Adds confirmed readers of the main newsletter: (email, lang).
fn add_readers(app: &TestApp, readers: &[(&str, &str)]) {
    let mut csv = String::from("email,name,lang\n");
    for (e, l) in readers {
        csv.push_str(&format!("{e},Reader {l},{l}\n"));
    }
    let opts = jarida_audience::csv_io::ImportOptions {
        confirmed: true,
        default_lang: "en".into(),
        mapping: Some(jarida_audience::csv_io::Mapping {
            email: "email".into(),
            name: Some("name".into()),
            lang: Some("lang".into()),
            ..Default::default()
        }),
        confirm_ttl_secs: 3600,
    };
    let r = app
        .rt
        .block_on(jarida_audience::csv_io::import(
            &app.db,
            csv.as_bytes(),
            &opts,
            OffsetDateTime::now_utc(),
            |_, _| {},
        ))
        .unwrap();
    assert_eq!(r.imported, readers.len() as u64, "{:?}", r.errors);
}

fn compose(app: &TestApp, eng: &Engine, until: &str) -> i64 {
    let nl = eng.newsletters.iter().find(|n| n.slug == "main").unwrap();
    app.rt
        .block_on(editions::compose(
            &app.db,
            nl,
            t(until),
            None,
            OffsetDateTime::now_utc(),
        ))
        .unwrap()
        .unwrap()
}

fn parts(app: &TestApp, id: i64) -> Vec<editions::LangPart> {
    app.rt.block_on(async {
        let e = editions::get(&app.db, id).await.unwrap();
        editions::parts(&app.db, &e).await.unwrap()
    })
}

fn slugs(p: &editions::LangPart) -> Vec<&str> {
    p.items.iter().map(|i| i.slug.as_str()).collect()
}

fn part<'a>(ps: &'a [editions::LangPart], lang: &str) -> &'a editions::LangPart {
    ps.iter().find(|p| p.lang == lang).unwrap()
}

fn status(app: &TestApp, id: i64) -> String {
    app.rt.block_on(editions::get(&app.db, id)).unwrap().status
}

fn figures(app: &TestApp, id: i64) -> Figures {
    app.rt
        .block_on(jarida_newsletter::deliver::figures(&app.db, id))
        .unwrap()
}

/// Starts an edition and drives the engine until it is sent (or `limit` passes).
fn send(app: &TestApp, eng: &Engine, id: i64, limit: Duration) {
    app.rt.block_on(async {
        let now = OffsetDateTime::now_utc();
        editions::approve(&app.db, id, now).await.unwrap();
        assert!(eng.begin(id, now).await.unwrap());
        let deadline = Instant::now() + limit;
        while editions::get(&app.db, id).await.unwrap().status != "sent" {
            assert!(Instant::now() < deadline, "edition {id} not sent in time");
            eng.tick().await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

#[test]
fn composes_by_period_with_corrections_routes_languages_and_edits() {
    let app = app_with(|_| {});
    let eng = engine(&app);
    add_readers(
        &app,
        &[("en1@example.org", "en"), ("ar1@example.org", "ar")],
    );

    // Edition 1: the first one starts one cadence step back (the 15th, 09:00).
    let e1 = compose(&app, &eng, "2026-10-01T09:00:00Z");
    let p1 = parts(&app, e1);
    assert_eq!(slugs(part(&p1, "en")), ["september-water-report"]);
    assert!(part(&p1, "ar").items.is_empty());
    assert!(part(&p1, "en").corrections.is_empty());
    let e = app.rt.block_on(editions::get(&app.db, e1)).unwrap();
    assert_eq!(e.number, 1);
    assert_eq!(e.period_start, t("2026-09-15T09:00:00Z").unix_timestamp());

    // No relay configured: the outbox folder of the edition. The Arabic reader falls back to the
    // English edition (no Arabic posts in the period).
    send(&app, &eng, e1, Duration::from_secs(20));
    let outbox = app.cfg.data_dir.join(format!("outbox/edition-{e1}"));
    let files: Vec<_> = std::fs::read_dir(&outbox).unwrap().collect();
    assert_eq!(files.len(), 2, "one .eml per reader");
    for f in files {
        let raw = std::fs::read(f.unwrap().path()).unwrap();
        let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert!(m.subject().unwrap().ends_with("No. 1"), "{:?}", m.subject());
        assert!(m.body_text(0).unwrap().contains("September water report"));
        assert!(
            m.body_html(0).unwrap().contains("dir=\"ltr\""),
            "English layout for both readers"
        );
    }
    assert_eq!(figures(&app, e1).sent, 2);

    // Edition 2 starts where edition 1 ended: featured first, then reports, news, designs.
    let e2 = compose(&app, &eng, "2026-10-15T09:00:00Z");
    let p2 = parts(&app, e2);
    assert_eq!(
        slugs(part(&p2, "en")),
        [
            "chart-bread-prices",
            "fishing-limits-report",
            "border-crossing-reopens"
        ]
    );
    assert_eq!(slugs(part(&p2, "ar")), ["taqrir-al-sayd"]);
    // Only corrections to posts an earlier edition carried, made during the period.
    let corr = &part(&p2, "en").corrections;
    assert_eq!(corr.len(), 1, "{corr:?}");
    assert_eq!(corr[0].slug, "september-water-report");
    assert!(corr[0].note.contains("northern wells"));
    assert!(part(&p2, "ar").corrections.is_empty());

    // Editing: reorder, remove, add by slug, subject and intro; bad edits change nothing.
    let ids: HashMap<String, i64> = part(&p2, "en")
        .items
        .iter()
        .map(|i| (i.slug.clone(), i.post_id))
        .collect();
    let now = OffsetDateTime::now_utc();
    app.rt
        .block_on(editions::edit(
            &app.db,
            e2,
            "en",
            &editions::Edit {
                subject: Some("Water, bread and the sea".into()),
                intro: Some("Dear readers,\n\nTwo weeks of reporting.".into()),
                items: Some(vec![
                    ids["border-crossing-reopens"],
                    ids["chart-bread-prices"],
                    ids["fishing-limits-report"],
                ]),
                remove: vec!["chart-bread-prices".into()],
                add: vec!["en/late-october-news".into()],
            },
            now,
        ))
        .unwrap();
    let p2 = parts(&app, e2);
    assert_eq!(
        slugs(part(&p2, "en")),
        [
            "border-crossing-reopens",
            "fishing-limits-report",
            "late-october-news"
        ]
    );
    assert_eq!(part(&p2, "en").subject, "Water, bread and the sea");
    for (bad, why) in [
        (
            editions::Edit {
                add: vec!["ar/taqrir-al-sayd".into()],
                ..Default::default()
            },
            "is in ar, not en",
        ),
        (
            editions::Edit {
                add: vec!["no-such-post".into()],
                ..Default::default()
            },
            "no post en/no-such-post",
        ),
        (
            editions::Edit {
                subject: Some("  ".into()),
                ..Default::default()
            },
            "subject",
        ),
    ] {
        let err = app
            .rt
            .block_on(editions::edit(&app.db, e2, "en", &bad, now))
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{err}");
    }
    assert_eq!(
        slugs(part(&parts(&app, e2), "en")),
        [
            "border-crossing-reopens",
            "fishing-limits-report",
            "late-october-news"
        ],
        "a refused edit changes nothing"
    );
    // A sent edition cannot be edited.
    let err = app
        .rt
        .block_on(editions::edit(
            &app.db,
            e1,
            "en",
            &editions::Edit {
                subject: Some("late".into()),
                ..Default::default()
            },
            now,
        ))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is sent"), "{err}");
}

#[test]
fn fallback_skip_leaves_readers_of_an_empty_language_out() {
    let app = app_with(|c| {
        c.newsletters.get_mut("main").unwrap().fallback = "skip".into();
    });
    let eng = engine(&app);
    add_readers(
        &app,
        &[("en1@example.org", "en"), ("ar1@example.org", "ar")],
    );
    let id = compose(&app, &eng, "2026-10-01T09:00:00Z");
    send(&app, &eng, id, Duration::from_secs(20));
    let f = figures(&app, id);
    assert_eq!((f.recipients, f.sent), (1, 1), "{f:?}");
    assert_eq!(status(&app, id), "sent");
}
