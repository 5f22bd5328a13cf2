//! Editions driven by the test itself: an app with the edition fixtures imported and delivery
//! off, readers added, an edition composed, started and driven to the end, its figures.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jarida_core::EditionId;
use jarida_newsletter::deliver::{Engine, Figures};
use jarida_newsletter::editions;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::TestApp;

pub fn t(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339).unwrap()
}

pub fn edition_fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/editions")
}

/// An app whose delivery the test drives itself, with the edition fixtures imported.
pub fn app_with(tweak: impl FnOnce(&mut jarida::config::Config)) -> TestApp {
    let app = TestApp::spawn_with(|c| {
        c.delivery.enabled = false;
        c.delivery.retry_base_seconds = 1;
        c.delivery.lease_seconds = 2;
        c.delivery.poll_seconds = 0.2;
        c.mail.from_address =
            Some(jarida_core::EmailAddress::parse("newsletter@jarida.example").unwrap());
        tweak(c);
    });
    let r = app.import(&edition_fixtures());
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    app
}

pub fn engine(app: &TestApp) -> Arc<Engine> {
    app.rt
        .block_on(jarida::engine(
            &app.cfg,
            &app.db,
            &app.base,
            app.app.theme.clone(),
        ))
        .unwrap()
}

/// Adds confirmed readers of the main newsletter: (email, lang).
pub fn add_readers<E: AsRef<str>>(app: &TestApp, readers: &[(E, &str)]) {
    let mut csv = String::from("email,name,lang\n");
    for (e, l) in readers {
        csv.push_str(&format!("{},Reader {l},{l}\n", e.as_ref()));
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
        confirmation: None,
    };
    let r = app
        .rt
        .block_on(jarida_audience::csv_io::import(
            &app.db,
            csv.as_bytes(),
            &opts,
            OffsetDateTime::now_utc(),
            |_| {},
        ))
        .unwrap();
    assert_eq!(r.imported, readers.len() as u64, "{:?}", r.errors);
}

pub fn compose(app: &TestApp, eng: &Engine, until: &str) -> EditionId {
    let nls = eng.newsletters.get();
    let nl = nls.iter().find(|n| n.slug == "main").unwrap();
    app.rt
        .block_on(editions::compose(
            &app.db,
            nl,
            &app.app.theme.i18n,
            t(until),
            None,
            OffsetDateTime::now_utc(),
        ))
        .unwrap()
        .unwrap()
}

pub fn status(app: &TestApp, id: EditionId) -> String {
    app.rt
        .block_on(editions::get(&app.db, id))
        .unwrap()
        .status
        .to_string()
}

pub fn figures(app: &TestApp, id: EditionId) -> Figures {
    app.rt
        .block_on(jarida_newsletter::deliver::figures(&app.db, id))
        .unwrap()
}

/// Approves an edition and starts it (freezes its recipients).
pub fn start_edition(app: &TestApp, eng: &Engine, id: EditionId) {
    app.rt.block_on(async {
        let now = OffsetDateTime::now_utc();
        editions::approve(&app.db, id, now).await.unwrap();
        assert!(eng.begin(id, now).await.unwrap());
    });
}

/// Starts an edition and gives the engine one round of work.
pub fn start_and_tick_once(app: &TestApp, eng: &Engine, id: EditionId) {
    start_edition(app, eng, id);
    app.rt.block_on(eng.tick()).unwrap();
}

/// Drives the engine until the edition is sent; after `limit`, fails with the ledger's replies.
pub fn drive(app: &TestApp, eng: &Engine, id: EditionId, limit: Duration) {
    app.rt.block_on(async {
        let deadline = Instant::now() + limit;
        while editions::get(&app.db, id).await.unwrap().status != "sent" {
            if Instant::now() > deadline {
                let mut c = app.db.acquire().await.unwrap();
                let replies: Vec<(String, Option<String>)> = jarida_store::q_all!(
                    c.conn(),
                    (String, Option<String>),
                    "SELECT state, last_reply FROM deliveries WHERE edition_id = $1",
                    id
                )
                .unwrap();
                panic!("edition {id} not sent in time: {replies:?}");
            }
            eng.tick().await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// Starts an edition and drives the engine until it is sent (or `limit` passes).
pub fn send(app: &TestApp, eng: &Engine, id: EditionId, limit: Duration) {
    start_edition(app, eng, id);
    drive(app, eng, id, limit);
}

pub fn subscriber_id(app: &TestApp, email: &str) -> i64 {
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_one!(
            c.conn(),
            (i64,),
            "SELECT id FROM subscribers WHERE email = $1",
            email
        )
        .unwrap()
        .0
    })
}

/// The addresses a server received edition `id` for, sorted.
pub fn recipients_of(messages: Vec<super::Received>, id: EditionId) -> Vec<String> {
    let mut to: Vec<String> = messages
        .into_iter()
        .filter(|m| m.mail_from.starts_with(&format!("b+{id}-")))
        .map(|m| m.rcpt)
        .collect();
    to.sort();
    to
}

/// The messages a server received, by recipient.
pub fn by_rcpt(
    messages: Vec<super::Received>,
) -> std::collections::HashMap<String, super::Received> {
    messages.into_iter().map(|m| (m.rcpt.clone(), m)).collect()
}

/// English readers `emails` added, then a first edition composed and sent to them.
pub fn first_edition_to(app: &TestApp, eng: &Engine, emails: &[&str]) -> EditionId {
    add_readers(app, &emails.iter().map(|e| (*e, "en")).collect::<Vec<_>>());
    let id = compose(app, eng, "2026-10-15T09:00:00Z");
    send(app, eng, id, Duration::from_secs(30));
    id
}
