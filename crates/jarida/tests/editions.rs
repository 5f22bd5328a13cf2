//! Newsletter editions: composition from fixture posts across periods (with corrections and language
//! routing), editing, and delivery into a real `smtp-sink`: headers, DKIM checked by dkimpy, faults,
//! suppression, and a send killed mid-edition and restarted.
#![allow(clippy::unwrap_used)] // test helpers: a failed step panics with its cause

mod common;

use jarida_core::EditionId;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::editions::*;
use common::*;
use jarida_newsletter::deliver::Engine;
use jarida_newsletter::editions;
use time::OffsetDateTime;

fn parts(app: &TestApp, id: EditionId) -> Vec<editions::LangPart> {
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
        c.newsletters.get_mut("main").unwrap().fallback = "skip".parse().unwrap();
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

/// Verifies every DKIM-Signature of `message` with dkimpy, the DNS answered from `records`
/// (`name -> TXT`). Returns (algorithm, passed) per signature.
fn dkimpy(message: &[u8], records: &[(String, String)]) -> Vec<(String, bool, String)> {
    use std::io::Write;
    const SCRIPT: &str = r#"
import sys
try:
    import dkim
except ImportError:
    sys.exit(3)
records = dict(a.split("=", 1) for a in sys.argv[1:])
def dnsfunc(name, timeout=5):
    r = records.get(name.decode().rstrip("."))
    return r.encode() if r is not None else None
msg = sys.stdin.buffer.read()
n = len([1 for k, v in dkim.DKIM(msg).headers if k.lower() == b"dkim-signature"])
for i in range(n):
    d = dkim.DKIM(msg)
    try:
        ok, detail = d.verify(idx=i, dnsfunc=dnsfunc), ""
    except Exception as e:
        ok, detail = False, repr(e)
    print(d.signature_fields.get(b"a", b"?").decode(), "pass" if ok else "fail", detail)
"#;
    let mut cmd = std::process::Command::new("/usr/bin/python3");
    cmd.arg("-c").arg(SCRIPT);
    for (name, txt) in records {
        cmd.arg(format!("{name}={txt}"));
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 runs: install python3-dkim");
    child.stdin.take().unwrap().write_all(message).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(3), "install python3-dkim (dkimpy)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut p = l.splitn(3, ' ');
            (
                p.next().unwrap_or("").to_string(),
                p.next() == Some("pass"),
                p.next().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn exec(app: &TestApp, sql: &str, args: &[&str]) {
    let sql = sql.to_string();
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        let q = jarida_store::sqlx::AssertSqlSafe(sql);
        match c.conn() {
            jarida_store::Conn::Sqlite(c) => {
                let mut q = jarida_store::sqlx::query(q);
                for a in args {
                    q = q.bind(a.to_string());
                }
                q.execute(&mut *c).await.unwrap();
            }
            jarida_store::Conn::Postgres(c) => {
                let mut q = jarida_store::sqlx::query(q);
                for a in args {
                    q = q.bind(a.to_string());
                }
                q.execute(&mut *c).await.unwrap();
            }
        }
    });
}

#[test]
fn smtp_send_has_list_headers_verp_dkim_and_skips_those_who_left() {
    let sink = Sink::start(&[]);
    let app = app_with(|c| {
        use_sink(c, &sink);
        c.delivery.connections = 2;
    });
    // `jarida dkim generate` makes the keys and prints the records to publish.
    let out = jarida_cmd(app.dir.path(), &app.test_db)
        .args(["dkim", "generate"])
        .env("JARIDA_MAIL__FROM_ADDRESS", "newsletter@jarida.example")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let records: Vec<(String, String)> = printed
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(". IN TXT \"")?;
            Some((name.to_string(), rest.trim_end_matches('"').to_string()))
        })
        .collect();
    assert_eq!(records.len(), 2, "{printed}");
    assert!(
        records[0].0 == "jarida._domainkey.jarida.example",
        "{printed}"
    );
    assert!(records[0].1.starts_with("v=DKIM1; k=rsa; p="), "{printed}");
    assert!(
        records[1].1.starts_with("v=DKIM1; k=ed25519; p="),
        "{printed}"
    );

    let eng = engine(&app);
    let readers = [
        ("en1@example.org", "en"),
        ("ar1@example.org", "ar"),
        ("gone@example.org", "en"),
        ("supp@example.org", "en"),
        ("left@example.org", "en"),
    ];
    add_readers(&app, &readers);
    let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
    start_edition(&app, &eng, id);
    assert_eq!(
        figures(&app, id).recipients,
        5,
        "frozen when sending starts"
    );
    // After the freeze: one unsubscribes, one is suppressed, one leaves this newsletter. The check
    // happens at send time.
    exec(
        &app,
        "UPDATE subscribers SET status = 'unsubscribed' WHERE email = $1",
        &["gone@example.org"],
    );
    exec(
        &app,
        "INSERT INTO suppressions (email_sha256, reason, at) VALUES ($1, 'erased', 0)",
        &[&jarida_audience::email::fingerprint("supp@example.org")],
    );
    let left = subscriber_id(&app, "left@example.org");
    exec(
        &app,
        &format!("DELETE FROM subscriber_newsletters WHERE subscriber_id = {left}"),
        &[],
    );
    drive(&app, &eng, id, Duration::from_secs(20));
    let f = figures(&app, id);
    assert_eq!((f.sent, f.skipped, f.failed), (2, 3, 0), "{f:?}");

    let msgs = sink.messages();
    let mut rcpts: Vec<&str> = msgs.iter().map(|m| m.rcpt.as_str()).collect();
    rcpts.sort();
    assert_eq!(rcpts, ["ar1@example.org", "en1@example.org"]);
    let secret = jarida_core::Secret::new(jarida::config::secret(&app.cfg.data_dir).unwrap());
    for m in &msgs {
        let sid = subscriber_id(&app, &m.rcpt);
        assert!(m.raw.len() < 100_000, "under Gmail's clipping size");
        // Envelope: a VERP return path naming edition and reader, signed.
        assert_eq!(
            m.mail_from,
            jarida_newsletter::deliver::verp(&secret, "jarida.example", id.0, sid)
        );
        assert!(m.mail_from.starts_with(&format!("b+{id}-{sid}-")));
        assert_eq!(
            m.header("Message-ID").unwrap(),
            format!(
                "<{}>",
                jarida_newsletter::deliver::message_id(&secret, "jarida.example", id.0, sid)
            )
        );
        let lu = m.header("List-Unsubscribe").unwrap();
        assert!(lu.contains("/newsletter/unsubscribe/"), "{lu}");
        assert!(
            !lu.contains("mailto:"),
            "no mailto target while nothing reads it: {lu}"
        );
        assert_eq!(
            m.header("List-Unsubscribe-Post").as_deref(),
            Some("List-Unsubscribe=One-Click")
        );
        assert!(
            m.header("List-Id")
                .unwrap()
                .contains("<main.jarida.example>")
        );
        let lang = if m.rcpt.starts_with("ar") { "ar" } else { "en" };
        assert_eq!(
            m.header("Feedback-ID").unwrap(),
            format!("1:main:{lang}:jarida")
        );
        assert!(m.header("Date").is_some() && m.header("From").is_some());
        // Both signatures verify against the records `jarida dkim` printed.
        let v = dkimpy(&m.raw, &records);
        let algs: Vec<&str> = v.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(algs, ["rsa-sha256", "ed25519-sha256"]);
        assert!(v.iter().all(|x| x.1), "{v:?}");
        let dkim = m.header("DKIM-Signature").unwrap();
        for h in [
            "list-unsubscribe",
            "list-unsubscribe-post",
            "list-id",
            "feedback-id",
        ] {
            assert!(dkim.contains(h), "{h} is signed: {dkim}");
        }
        assert!(dkim.contains("c=relaxed/relaxed"));
    }
    let en = msgs.iter().find(|m| m.rcpt == "en1@example.org").unwrap();
    let ar = msgs.iter().find(|m| m.rcpt == "ar1@example.org").unwrap();
    assert!(en.subject().ends_with("No. 1"), "{}", en.subject());
    assert!(ar.subject().contains("العدد ١"), "{}", ar.subject());
    assert!(ar.html().contains("dir=\"rtl\""));
    assert!(ar.text().contains("تقرير حدود الصيد"));
    let text = en.text();
    for needle in [
        "Chart: bread prices",
        "Fishing limits report",
        "Border crossing reopens",
        "/en/fishing-limits-report",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    assert!(!en.html().contains("<img") || !en.html().contains("googleapis"));
    assert!(!en.html().contains("fonts.googleapis"), "no web fonts");

    // One-click unsubscribe with the URL of the List-Unsubscribe header of the real message.
    let lu = en.header("List-Unsubscribe").unwrap();
    let url = lu
        .split(['<', '>'])
        .find(|s| s.starts_with("http"))
        .unwrap()
        .to_string();
    // The visible links of both parts are the reader's own, spliced in at send time.
    assert!(
        en.html().contains(&format!("href=\"{url}\"")),
        "{}",
        en.html()
    );
    assert!(en.text().contains(&url));
    assert!(!en.html().contains("JARIDA-SLOT") && !en.text().contains("JARIDA-SLOT"));
    let manage = url_with(&en.text(), "/newsletter/manage/").expect("a manage link");
    assert_eq!(app.get(&app.path_of(&manage)).status, 200);
    let r = app.post_raw(
        &url,
        "application/x-www-form-urlencoded",
        "List-Unsubscribe=One-Click",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        app.status_of("en1@example.org").as_deref(),
        Some("unsubscribed")
    );
    assert_eq!(figures(&app, id).unsubscribed_after, 1);
}

#[test]
fn soft_rejections_are_retried_and_land_once() {
    let good = Sink::start(&[]);
    let greylist = Sink::start(&["-r", "rcpt", "-b", "451 4.7.1 Greylisted, try again later"]);
    let app = app_with(|c| {
        c.mail.from_address =
            Some(jarida_core::EmailAddress::parse("newsletter@jarida.example").unwrap());
        c.delivery.relays = [&good, &greylist]
            .iter()
            .map(|s| jarida::config::RelaySection {
                host: "127.0.0.1".into(),
                port: s.port,
                tls: "none".parse().unwrap(),
                max_connections: 1,
                ..Default::default()
            })
            .collect();
    });
    let eng = engine(&app);
    let readers: Vec<(String, &str)> = (0..12)
        .map(|i| {
            (
                format!("r{i}@example.org"),
                if i % 3 == 0 { "ar" } else { "en" },
            )
        })
        .collect();
    add_readers(&app, &readers);
    let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
    send(&app, &eng, id, Duration::from_secs(60));
    let f = figures(&app, id);
    assert_eq!((f.sent, f.failed, f.deferred), (12, 0, 0), "{f:?}");
    assert!(greylist.messages().is_empty());
    let mut got: Vec<String> = good.messages().into_iter().map(|m| m.rcpt).collect();
    got.sort();
    let mut want: Vec<String> = readers.iter().map(|(e, _)| e.clone()).collect();
    want.sort();
    assert_eq!(got, want, "each reader exactly once");
    let retried = app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_one!(
            c.conn(),
            (i64,),
            "SELECT COUNT(*) FROM deliveries WHERE edition_id = $1 AND attempts > 1",
            id
        )
        .unwrap()
        .0
    });
    assert!(retried > 0, "the greylisting relay deferred some messages");
}

#[test]
fn hard_rejections_fail_rows_and_5_1_x_marks_readers_bounced() {
    let sink = Sink::start(&["-f", "rcpt", "-B", "550 5.1.1 No such user here"]);
    let app = app_with(|c| use_sink(c, &sink));
    let eng = engine(&app);
    add_readers(
        &app,
        &[("nouser@example.org", "en"), ("nobody@example.org", "ar")],
    );
    let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
    send(&app, &eng, id, Duration::from_secs(20));
    let f = figures(&app, id);
    assert_eq!((f.failed, f.bounced, f.sent), (2, 2, 0), "{f:?}");
    assert_eq!(
        app.status_of("nouser@example.org").as_deref(),
        Some("bounced")
    );

    // A policy rejection of the message fails the row but says nothing about the address.
    add_readers(&app, &[("reader@example.org", "en")]);
    let policy = Sink::start(&["-f", "data", "-B", "554 5.7.1 Message refused"]);
    let mut cfg = app.cfg.clone();
    cfg.mail.smtp_port = policy.port;
    let eng = app
        .rt
        .block_on(jarida::engine(
            &cfg,
            &app.db,
            &app.base,
            app.app.theme.clone(),
        ))
        .unwrap();
    let id2 = compose(&app, &eng, "2026-11-01T09:00:00Z");
    send(&app, &eng, id2, Duration::from_secs(20));
    let f = figures(&app, id2);
    assert_eq!((f.recipients, f.failed, f.bounced), (1, 1, 0), "{f:?}");
    assert_eq!(
        app.status_of("reader@example.org").as_deref(),
        Some("active")
    );
    let reply = app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_one!(
            c.conn(),
            (Option<String>,),
            "SELECT last_reply FROM deliveries WHERE edition_id = $1",
            id2
        )
        .unwrap()
        .0
    });
    assert_eq!(reply.as_deref(), Some("554 5.7.1 Message refused"));
}

#[test]
fn disconnect_mid_data_is_retried_on_a_healthy_relay() {
    let cut = Sink::start(&["-q", "."]);
    let app = app_with(|c| use_sink(c, &cut));
    let eng = engine(&app);
    add_readers(
        &app,
        &[
            ("a@example.org", "en"),
            ("b@example.org", "ar"),
            ("c@example.org", "en"),
        ],
    );
    let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
    start_and_tick_once(&app, &eng, id);
    let f = figures(&app, id);
    assert_eq!((f.deferred, f.sent), (3, 0), "{f:?}");
    assert_eq!(
        status(&app, id),
        "sending",
        "not done while rows are deferred"
    );
    drop(cut);
    // The relay is replaced by a healthy one (a new port: the old one may linger a moment).
    let healthy = Sink::start(&[]);
    let mut cfg = app.cfg.clone();
    cfg.mail.smtp_port = healthy.port;
    let eng = app
        .rt
        .block_on(jarida::engine(
            &cfg,
            &app.db,
            &app.base,
            app.app.theme.clone(),
        ))
        .unwrap();
    drive(&app, &eng, id, Duration::from_secs(30));
    let mut got: Vec<String> = healthy.messages().into_iter().map(|m| m.rcpt).collect();
    got.sort();
    assert_eq!(got, ["a@example.org", "b@example.org", "c@example.org"]);
}

/// `jarida editions send ID` against `sink` at 100 messages a second, with leases of `lease` seconds.
fn send_command(app: &TestApp, sink: &Sink, id: EditionId, lease: u32) -> std::process::Command {
    delivery_command(app, sink, &["editions", "send", &id.to_string()], lease)
}

/// `jarida ARGS` delivering to `sink` at 100 messages a second, with leases of `lease` seconds.
fn delivery_command(
    app: &TestApp,
    sink: &Sink,
    args: &[&str],
    lease: u32,
) -> std::process::Command {
    let mut c = jarida_cmd(app.dir.path(), &app.test_db);
    c.args(args)
        .env("JARIDA_BASE_URL", &app.base)
        .env("JARIDA_MAIL__SMTP_HOST", "127.0.0.1")
        .env("JARIDA_MAIL__SMTP_PORT", sink.port.to_string())
        .env("JARIDA_MAIL__SMTP_TLS", "none")
        .env("JARIDA_MAIL__FROM_ADDRESS", "newsletter@jarida.example")
        .env("JARIDA_DELIVERY__RATE_PER_SECOND", "100")
        .env("JARIDA_DELIVERY__LEASE_SECONDS", lease.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c
}

/// `jarida editions send` is killed (SIGKILL) mid-edition and run again: nobody is skipped, the edition
/// is not marked sent early, and the only readers who receive it twice are those whose messages were
/// in flight (rows still `sending`) at the moment of the kill.
#[test]
fn killed_mid_edition_and_restarted_everyone_gets_it_once_but_the_in_flight() {
    let sink = Sink::start(&[]);
    let app = app_with(|c| use_sink(c, &sink));
    let eng = engine(&app);
    let readers: Vec<(String, &str)> = (0..300)
        .map(|i| {
            (
                format!("k{i:03}@example.org"),
                if i % 4 == 0 { "ar" } else { "en" },
            )
        })
        .collect();
    add_readers(&app, &readers);
    let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
    let send_cmd = || send_command(&app, &sink, id, 2);
    let mut child = send_cmd().spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.messages().len() < 80 {
        assert!(Instant::now() < deadline, "the first send never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let in_flight: std::collections::HashSet<String> = app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_all!(
            c.conn(),
            (String,),
            "SELECT s.email FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id \
             WHERE d.edition_id = $1 AND d.state = 'sending'",
            id
        )
        .unwrap()
        .into_iter()
        .map(|r| r.0)
        .collect()
    });
    assert_eq!(status(&app, id), "sending", "not marked sent early");
    let before = figures(&app, id);
    assert!(before.sent < 300, "{before:?}");

    let out = send_cmd().output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("edition {id} sent")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(status(&app, id), "sent");
    let f = figures(&app, id);
    assert_eq!(
        (f.sent, f.failed, f.pending, f.sending),
        (300, 0, 0, 0),
        "{f:?}"
    );

    let mut count: HashMap<String, usize> = HashMap::new();
    for m in sink.messages() {
        *count.entry(m.rcpt).or_default() += 1;
    }
    for (email, _) in &readers {
        let n = count.get(email).copied().unwrap_or(0);
        assert!(n >= 1, "{email} was skipped");
        assert!(
            n == 1 || in_flight.contains(email),
            "{email} received {n} copies but was not in flight at the kill"
        );
        assert!(n <= 2, "{email} received {n} copies");
    }
    let twice = count.values().filter(|n| **n > 1).count();
    eprintln!(
        "killed after {} sent; {} rows in flight; {twice} readers got two copies",
        before.sent,
        in_flight.len()
    );
}

/// Adds `n` English readers (`<prefix>000@example.org`…) and composes an edition for them.
fn edition_to_readers(app: &TestApp, n: usize, prefix: &str) -> EditionId {
    let readers: Vec<(String, &str)> = (0..n)
        .map(|i| (format!("{prefix}{i:03}@example.org"), "en"))
        .collect();
    add_readers(app, &readers);
    compose(app, &engine(app), "2026-10-15T09:00:00Z")
}

/// Runs `cmd`, sends it SIGTERM once `sink` has `messages` messages, and returns its output; it
/// must stop within `within`.
fn sigterm_after(
    mut cmd: std::process::Command,
    sink: &Sink,
    messages: usize,
    within: Duration,
) -> std::process::Output {
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.messages().len() < messages {
        assert!(Instant::now() < deadline, "the send never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopped_at = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        stopped_at.elapsed() < within,
        "took {:?} to stop",
        stopped_at.elapsed()
    );
    out
}

/// `jarida editions send` gets SIGTERM mid-edition: it stops within seconds, hands back the rows it
/// had claimed but not attempted (with a lease of a minute, only the hand-back can explain no row
/// left `sending`), and records every message the relay accepted, so a rerun sends nobody twice.
#[test]
fn sigterm_mid_edition_hands_back_claimed_rows_and_records_what_went_out() {
    let sink = Sink::start(&[]);
    let app = app_with(|c| use_sink(c, &sink));
    let id = edition_to_readers(&app, 300, "t");
    let send_cmd = || send_command(&app, &sink, id, 60);
    let out = sigterm_after(send_cmd(), &sink, 50, Duration::from_secs(10));
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = figures(&app, id);
    assert_eq!(f.sending, 0, "claimed rows were handed back: {f:?}");
    assert!(f.sent < 300 && f.pending > 0, "stopped mid-edition: {f:?}");
    let received = sink.messages().len() as i64;
    assert_eq!(
        received, f.sent,
        "every message the relay took is recorded as sent"
    );

    let out = send_cmd().output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = figures(&app, id);
    assert_eq!((f.sent, f.sending, f.pending), (300, 0, 0), "{f:?}");
    let mut count: HashMap<String, usize> = HashMap::new();
    for m in sink.messages() {
        *count.entry(m.rcpt).or_default() += 1;
    }
    assert_eq!(count.len(), 300);
    assert!(count.values().all(|n| *n == 1), "nobody got two copies");
}

/// `jarida worker` gets SIGTERM while it sends an approved edition: it exits within seconds with no
/// row left `sending` (leases of a minute: only the hand-back explains it) and every message the
/// relay took recorded as sent.
#[test]
fn sigterm_to_a_worker_mid_edition_leaves_nothing_claimed() {
    let sink = Sink::start(&[]);
    let app = app_with(|c| use_sink(c, &sink));
    let id = edition_to_readers(&app, 300, "w");
    app.rt
        .block_on(editions::approve(&app.db, id, OffsetDateTime::now_utc()))
        .unwrap();
    let mut cmd = delivery_command(&app, &sink, &["worker"], 60);
    cmd.env("JARIDA_DELIVERY__POLL_SECONDS", "0.2");
    let out = sigterm_after(cmd, &sink, 50, Duration::from_secs(15));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = figures(&app, id);
    assert_eq!(f.sending, 0, "claimed rows were handed back: {f:?}");
    assert!(f.sent < 300, "stopped mid-edition: {f:?}");
    assert_eq!(
        sink.messages().len() as i64,
        f.sent,
        "every message the relay took is recorded as sent"
    );
}

/// The disk holding the outbox fills up during a send (no relay: messages are written there): what
/// could not be written is deferred, never marked sent, and goes out once there is room; every row
/// marked sent has its file.
#[test]
fn a_full_disk_during_a_send_defers_what_could_not_be_written() {
    let app = app_with(|_| {});
    let eng = engine(&app);
    let readers: Vec<(String, &str)> = (0..40)
        .map(|i| (format!("d{i:02}@example.org"), "en"))
        .collect();
    add_readers(&app, &readers);
    let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
    let outbox = app.cfg.data_dir.join("outbox");
    let copy = tempfile::tempdir().unwrap();
    let env = format!(
        "export JARIDA_DATA_DIR={data} JARIDA_DATABASE_URL='{db}' JARIDA_LOG=warn JARIDA_BASE_URL={base} \
         JARIDA_MAIL__FROM_ADDRESS=newsletter@jarida.example JARIDA_DELIVERY__RETRY_BASE_SECONDS=1",
        data = app.cfg.data_dir.display(),
        db = app.test_db.url,
        base = app.base,
    );
    let script = format!(
        "set -e; mount -t tmpfs -o size=32k tmpfs {outbox}; {env}; cd {dir}; \
         {bin} editions send {id} > {copy}/stdout 2>&1 || true; cp -a {outbox}/. {copy}/",
        outbox = outbox.display(),
        dir = app.dir.path().display(),
        bin = env!("CARGO_BIN_EXE_jarida"),
        copy = copy.path().display(),
    );
    let out = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", &script])
        .output()
        .expect("unshare (util-linux) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written: Vec<String> = std::fs::read_dir(copy.path().join(format!("edition-{id}")))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        written.iter().all(|n| n.ends_with(".eml")),
        "no partial file left: {written:?}"
    );
    for n in &written {
        let len = std::fs::metadata(copy.path().join(format!("edition-{id}")).join(n))
            .unwrap()
            .len();
        assert!(
            len > 1000,
            "{n} is a truncated message ({len} bytes) marked sent"
        );
    }
    let f = figures(&app, id);
    assert!(
        f.sent > 0 && f.sent < 40,
        "the disk filled up mid-edition: {f:?}"
    );
    assert_eq!(
        f.sent,
        written.len() as i64,
        "every row marked sent has its file"
    );
    assert_eq!((f.deferred, f.failed), (40 - f.sent, 0), "{f:?}");

    // With room again (the outbox on the real disk), the deferred rows go out.
    std::thread::sleep(Duration::from_secs(2));
    let out = jarida_cmd(app.dir.path(), &app.test_db)
        .args(["editions", "send", &id.to_string()])
        .env("JARIDA_BASE_URL", &app.base)
        .env("JARIDA_MAIL__FROM_ADDRESS", "newsletter@jarida.example")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = figures(&app, id);
    assert_eq!((f.sent, f.deferred, f.failed), (40, 0, 0), "{f:?}");
    assert_eq!(status(&app, id), "sent");
}

const TOKEN: &str = "0123456789abcdef0123456789abcdef-token";

fn api(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: bool,
) -> (u16, serde_json::Value) {
    let url = format!("{}{path}", app.base);
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(&url)
        .header("content-type", "application/json");
    if token {
        req = req.header("authorization", format!("Bearer {TOKEN}"));
    }
    let req = req.body(body.unwrap_or("").to_string()).unwrap();
    let r = Resp::from(app.agent.run(req).unwrap());
    let v = serde_json::from_slice(&r.bytes).unwrap_or(serde_json::Value::Null);
    (r.status, v)
}

#[test]
fn web_version_feed_and_json_api() {
    let app = app_with(|c| c.api.token = TOKEN.into());
    let eng = engine(&app);
    add_readers(
        &app,
        &[("en1@example.org", "en"), ("ar1@example.org", "ar")],
    );

    let (s, _) = api(&app, "GET", "/api/v1/editions", None, false);
    assert_eq!(s, 401, "the API needs the token");
    let (s, v) = api(
        &app,
        "POST",
        "/api/v1/editions",
        Some(r#"{"until": "2026-10-15T09:00:00Z"}"#),
        true,
    );
    assert_eq!(s, 201, "{v}");
    let id = EditionId(v["edition"]["id"].as_i64().unwrap());
    assert_eq!(v["edition"]["status"], "draft");
    let (s, v) = api(
        &app,
        "PATCH",
        &format!("/api/v1/editions/{id}/languages/en"),
        Some(r#"{"subject": "Water, bread and the sea", "intro": "Two weeks of reporting."}"#),
        true,
    );
    assert_eq!(s, 200, "{v}");
    let (s, v) = api(
        &app,
        "PATCH",
        &format!("/api/v1/editions/{id}/languages/en"),
        Some(r#"{"add": ["no-such-post"]}"#),
        true,
    );
    assert_eq!(s, 422, "{v}");
    assert!(
        v["reason"].as_str().unwrap().contains("no-such-post"),
        "{v}"
    );
    let (s, _) = api(
        &app,
        "POST",
        &format!("/api/v1/editions/{id}/pause"),
        None,
        true,
    );
    assert_eq!(s, 409, "a draft cannot be paused");
    assert_eq!(
        app.get("/en/newsletter/1").status,
        404,
        "not public before sending"
    );

    let (s, v) = api(
        &app,
        "POST",
        &format!("/api/v1/editions/{id}/send"),
        None,
        true,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["edition"]["status"], "scheduled");
    drive(&app, &eng, id, Duration::from_secs(20));
    let (_, v) = api(&app, "GET", &format!("/api/v1/editions/{id}"), None, true);
    assert_eq!(v["figures"]["sent"], 2, "{v}");
    assert_eq!(v["figures"]["recipients"], 2, "{v}");

    app.refresh();
    let en = app.get("/en/newsletter/1");
    assert_eq!(en.status, 200);
    let html = en.text();
    for needle in [
        "Water, bread and the sea",
        "Two weeks of reporting.",
        "href=\"/en/chart-bread-prices\"",
        "Fishing limits report",
        "/en/newsletter/feed.xml",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    assert!(en.header("content-security-policy").is_some());
    let ar = app.get("/ar/newsletter/1").text();
    assert!(ar.contains("dir=\"rtl\"") && ar.contains("تقرير حدود الصيد"));
    assert_eq!(app.get("/en/newsletter/2").status, 404);
    assert_eq!(app.get("/en/newsletter/01").status, 404);
    let page = app.get("/en/newsletter/").text();
    assert!(
        page.contains("href=\"/en/newsletter/1\""),
        "past editions listed"
    );
    let feed = app.get("/en/newsletter/feed.xml");
    assert_eq!(feed.status, 200);
    let feed = feed.text();
    assert!(
        feed.contains("<title>Water, bread and the sea</title>"),
        "{feed}"
    );
    assert!(feed.contains("/en/newsletter/1</link>"), "{feed}");
    assert!(
        app.get("/ar/newsletter/atom.xml")
            .text()
            .contains("<entry>")
    );
}

#[test]
fn cadence_composes_a_draft_per_slot_in_the_newsroom_time_zone_and_tells_editors() {
    let sink = Sink::start(&[]);
    let app = app_with(|c| {
        use_sink(c, &sink);
        let n = c.newsletters.get_mut("main").unwrap();
        n.timezone = "Asia/Amman".parse().unwrap();
        n.editors = vec![jarida_core::EmailAddress::parse("editor@example.org").unwrap()];
    });
    let eng = engine(&app);
    // As if the cadence had been configured on 1 October.
    exec(
        &app,
        &format!(
            "UPDATE newsletters SET cadence_since = {}",
            t("2026-10-01T00:00:00Z").unix_timestamp()
        ),
        &[],
    );
    let tick = |now: &str| {
        app.rt
            .block_on(jarida_newsletter::scheduler::tick(
                &app.db,
                &eng.newsletters.get(),
                &app.app.notify,
                &app.app.mail,
                t(now),
            ))
            .unwrap()
    };
    // Before the first slot after 1 October: nothing.
    assert!(tick("2026-10-01T05:00:00Z").is_empty());
    // The 1st at 09:00 in Amman is 06:00 UTC.
    let made = tick("2026-10-01T06:00:01Z");
    assert_eq!(made.len(), 1);
    let e = app.rt.block_on(editions::get(&app.db, made[0])).unwrap();
    assert_eq!(e.slot_at, Some(t("2026-10-01T06:00:00Z").unix_timestamp()));
    assert_eq!(e.status, "draft", "waits for an editor by default");
    assert!(
        tick("2026-10-01T07:00:00Z").is_empty(),
        "a slot is composed once"
    );
    let made = tick("2026-10-16T00:00:00Z");
    assert_eq!(made.len(), 1);
    let e2 = app.rt.block_on(editions::get(&app.db, made[0])).unwrap();
    assert_eq!(
        e2.period_start, e.period_end,
        "each edition starts where the last ended"
    );
    let p = parts(&app, e2.id);
    assert_eq!(part(&p, "en").items.len(), 3);
    let mail = sink.wait_for("editor@example.org", 2);
    assert_eq!(mail.len(), 2, "editors are told each draft is ready");
    // The queue sends several messages at once: their order at the relay is not fixed.
    for m in &mail {
        assert!(m.subject().contains("Draft ready"), "{}", m.subject());
    }
    for id in [e.id, e2.id] {
        let line = format!("jarida editions approve {id}");
        assert!(
            mail.iter().any(|m| m.text().contains(&line)),
            "no email names edition {id}"
        );
    }
}

#[test]
fn auto_send_newsletter_goes_out_at_its_slot() {
    let sink = Sink::start(&[]);
    let app = app_with(|c| {
        use_sink(c, &sink);
        c.newsletters.get_mut("main").unwrap().auto_send = true;
    });
    let eng = engine(&app);
    add_readers(&app, &[("reader@example.org", "en")]);
    exec(
        &app,
        &format!(
            "UPDATE newsletters SET cadence_since = {}",
            t("2026-10-10T00:00:00Z").unix_timestamp()
        ),
        &[],
    );
    let made = app
        .rt
        .block_on(jarida_newsletter::scheduler::tick(
            &app.db,
            &eng.newsletters.get(),
            &app.app.notify,
            &app.app.mail,
            t("2026-10-15T09:30:00Z"),
        ))
        .unwrap();
    assert_eq!(made.len(), 1);
    assert_eq!(status(&app, made[0]), "approved");
    app.rt.block_on(eng.tick()).unwrap();
    assert_eq!(status(&app, made[0]), "sent");
    assert_eq!(sink.wait_for("reader@example.org", 1).len(), 1);
}

#[test]
fn pause_holds_sending_within_a_second_resume_finishes_and_cancel_skips_the_rest() {
    let sink = Sink::start(&[]);
    let app = app_with(|c| {
        use_sink(c, &sink);
        c.delivery.rate_per_second = 20;
        c.delivery.lease_seconds = 30;
    });
    let eng = engine(&app);
    let readers: Vec<(String, &str)> = (0..40)
        .map(|i| (format!("p{i:02}@example.org"), "en"))
        .collect();
    add_readers(&app, &readers);
    let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    app.rt
        .block_on(editions::approve(&app.db, id, OffsetDateTime::now_utc()))
        .unwrap();
    let worker = app.rt.spawn(eng.clone().run(stop));
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while sink.messages().len() < n {
            assert!(Instant::now() < deadline, "stuck below {n}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(5);
    app.rt
        .block_on(editions::pause(&app.db, id, OffsetDateTime::now_utc()))
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let held = sink.messages().len();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sink.messages().len(), held, "nothing goes out while paused");
    assert!(held < 40, "paused before the end ({held})");
    let f = figures(&app, id);
    assert_eq!(f.sending, 0, "claimed rows were given back: {f:?}");
    assert_eq!(status(&app, id), "paused");

    app.rt
        .block_on(editions::resume(&app.db, id, OffsetDateTime::now_utc()))
        .unwrap();
    wait_for(held + 10);
    // 20 messages a second: the first 5 + 10 more cannot have taken less than ~0.7 s of sending.
    assert!(started.elapsed() >= Duration::from_millis(700));
    app.rt
        .block_on(editions::cancel(&app.db, id, OffsetDateTime::now_utc()))
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let f = figures(&app, id);
    assert_eq!(status(&app, id), "cancelled");
    assert_eq!((f.pending, f.sending, f.deferred), (0, 0, 0), "{f:?}");
    assert_eq!(f.sent + f.skipped, 40, "{f:?}");
    let got = sink.messages().len() as i64;
    assert_eq!(
        got, f.sent,
        "what the ledger says went out is what the relay got"
    );
    assert!(f.skipped > 0, "{f:?}");
    stop_tx.send(true).unwrap();
    app.rt.block_on(worker).unwrap();
}

#[test]
fn a_second_newsletter_has_its_own_readers_numbering_and_list_id() {
    let sink = Sink::start(&[]);
    let app = app_with(|c| {
        use_sink(c, &sink);
        c.newsletters.insert(
            "weekly".into(),
            jarida::config::NewsletterSection {
                name: "The Weekly".into(),
                cadence: "0 9 * * 1".parse().unwrap(),
                langs: vec![jarida_core::Lang::En],
                ..Default::default()
            },
        );
    });
    let eng = engine(&app);
    add_readers(
        &app,
        &[("main-only@example.org", "en"), ("both@example.org", "en")],
    );
    let both = subscriber_id(&app, "both@example.org");
    exec(
        &app,
        &format!(
            "INSERT INTO subscriber_newsletters (subscriber_id, newsletter_id) \
             SELECT {both}, id FROM newsletters WHERE slug = 'weekly'"
        ),
        &[],
    );
    let nls = eng.newsletters.get();
    let weekly = nls.iter().find(|n| n.slug == "weekly").unwrap();
    let id = app
        .rt
        .block_on(editions::compose(
            &app.db,
            weekly,
            &app.app.theme.i18n,
            t("2026-10-12T09:00:00Z"),
            None,
            OffsetDateTime::now_utc(),
        ))
        .unwrap()
        .unwrap();
    let e = app.rt.block_on(editions::get(&app.db, id)).unwrap();
    assert_eq!((e.newsletter.as_str(), e.number), ("weekly", 1));
    // One cadence step back from Monday 12 October: Monday 5 October.
    assert_eq!(e.period_start, t("2026-10-05T09:00:00Z").unix_timestamp());
    let p = parts(&app, id);
    assert_eq!(p.len(), 1, "English only");
    // The chart went out at 08:00 on the 5th, before the period began.
    assert_eq!(
        slugs(&p[0]),
        ["fishing-limits-report", "border-crossing-reopens"]
    );
    send(&app, &eng, id, Duration::from_secs(20));
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].rcpt, "both@example.org");
    assert!(
        msgs[0]
            .header("List-Id")
            .unwrap()
            .contains("<weekly.jarida.example>")
    );
    assert!(
        msgs[0].subject().starts_with("The Weekly"),
        "{}",
        msgs[0].subject()
    );
    // The main newsletter's numbering is its own.
    assert_eq!(compose_number(&app, &eng, "2026-10-15T09:00:00Z"), 1);
}

fn compose_number(app: &TestApp, eng: &Engine, until: &str) -> i64 {
    let id = compose(app, eng, until);
    app.rt.block_on(editions::get(&app.db, id)).unwrap().number
}

/// Two delivery workers (as two `jarida worker` processes would) drain one edition together: the
/// claims never overlap, so every reader gets exactly one message.
#[test]
fn two_workers_share_an_edition_without_sending_twice() {
    let sink = Sink::start(&[]);
    let app = app_with(|c| {
        use_sink(c, &sink);
        c.delivery.batch = 7;
        c.delivery.connections = 2;
    });
    let one = engine(&app);
    let two = engine(&app);
    let readers: Vec<(String, &str)> = (0..120)
        .map(|i| {
            (
                format!("w{i:03}@example.org"),
                if i % 2 == 0 { "ar" } else { "en" },
            )
        })
        .collect();
    add_readers(&app, &readers);
    let id = compose(&app, &one, "2026-10-15T09:00:00Z");
    app.rt
        .block_on(editions::approve(&app.db, id, OffsetDateTime::now_utc()))
        .unwrap();
    app.rt.block_on(async {
        let work = |eng: Arc<Engine>| async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut rounds = 0;
            while editions::get(&eng.db, id).await.unwrap().status != "sent" {
                assert!(Instant::now() < deadline, "not sent");
                eng.tick().await.unwrap();
                rounds += 1;
            }
            rounds
        };
        let (a, b) = tokio::join!(
            tokio::spawn(work(one.clone())),
            tokio::spawn(work(two.clone()))
        );
        assert!(a.unwrap() >= 1 && b.unwrap() >= 1);
    });
    let mut count: HashMap<String, usize> = HashMap::new();
    for m in sink.messages() {
        *count.entry(m.rcpt).or_default() += 1;
    }
    assert_eq!(count.len(), 120);
    assert!(count.values().all(|n| *n == 1), "someone got two copies");
    assert_eq!(figures(&app, id).sent, 120);
}

/// A relay pool entry with STARTTLS or implicit TLS and AUTH, against a real TLS SMTP server.
#[test]
fn relays_with_starttls_or_implicit_tls_and_auth() {
    for mode in ["starttls", "implicit"] {
        let relay = TlsSink::start(mode);
        let app = app_with(|c| {
            c.delivery.relays = vec![jarida::config::RelaySection {
                host: "127.0.0.1".into(),
                port: relay.port,
                tls: mode.parse().unwrap(),
                username: TlsSink::USER.into(),
                password: TlsSink::PASSWORD.into(),
                max_connections: 2,
                // The test relay's certificate is self-signed.
                accept_invalid_certs: true,
            }];
        });
        let eng = engine(&app);
        add_readers(&app, &[("t1@example.org", "en"), ("t2@example.org", "ar")]);
        let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
        send(&app, &eng, id, Duration::from_secs(30));
        let got = relay.messages();
        assert_eq!(got.len(), 2, "{mode}");
        for m in &got {
            assert!(m.tls, "{mode}: the session was encrypted");
            assert!(m.authenticated, "{mode}: the session was authenticated");
            assert!(m.data.contains("List-Unsubscribe:"), "{mode}");
        }
        let mut rcpts: Vec<String> = got.iter().flat_map(|m| m.rcpts.clone()).collect();
        rcpts.sort();
        assert_eq!(rcpts, ["t1@example.org", "t2@example.org"], "{mode}");
    }

    // Refused credentials are a failure of the relay, not of the reader: rows are deferred.
    let refusing = Sink::start(&[
        "-f",
        "auth",
        "-B",
        "535 5.7.8 Authentication credentials invalid",
    ]);
    let app = app_with(|c| {
        c.delivery.relays = vec![jarida::config::RelaySection {
            host: "127.0.0.1".into(),
            port: refusing.port,
            tls: "none".parse().unwrap(),
            username: TlsSink::USER.into(),
            password: "wrong".into(),
            max_connections: 1,
            ..Default::default()
        }];
    });
    let eng = engine(&app);
    add_readers(&app, &[("t3@example.org", "en")]);
    let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
    start_and_tick_once(&app, &eng, id);
    let f = figures(&app, id);
    assert_eq!((f.deferred, f.sent, f.failed), (1, 0, 0), "{f:?}");
    assert!(refusing.messages().is_empty());
    assert_eq!(app.status_of("t3@example.org").as_deref(), Some("active"));
}

/// Sends an approved edition and returns how long the sending took.
fn timed_send(app: &TestApp, eng: &Engine, id: EditionId) -> Duration {
    let t0 = Instant::now();
    send(app, eng, id, Duration::from_secs(60));
    t0.elapsed()
}

#[test]
fn per_domain_concurrency_and_rate_limits_hold() {
    // The relay takes a second to answer each DATA; with one message in flight per domain, three
    // readers at one domain take three seconds however many connections there are.
    let slow = Sink::start(&["-w", "1"]);
    let app = app_with(|c| {
        use_sink(c, &slow);
        c.delivery.connections = 4;
        c.delivery.per_domain = 1;
    });
    let eng = engine(&app);
    add_readers(
        &app,
        &[
            ("a@same.example", "en"),
            ("b@same.example", "en"),
            ("c@same.example", "en"),
        ],
    );
    let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
    let took = timed_send(&app, &eng, id);
    assert!(
        took >= Duration::from_millis(2900),
        "{took:?}: the domain limit did not hold"
    );
    assert_eq!(slow.messages().len(), 3);

    // Ten messages at five per second cannot take less than about two seconds.
    let fast = Sink::start(&[]);
    let app = app_with(|c| {
        use_sink(c, &fast);
        c.delivery.rate_per_second = 5;
    });
    let eng = engine(&app);
    let readers: Vec<(String, &str)> = (0..10)
        .map(|i| (format!("r{i}@d{i}.example"), "en"))
        .collect();
    add_readers(&app, &readers);
    let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
    let took = timed_send(&app, &eng, id);
    assert!(
        took >= Duration::from_millis(1700),
        "{took:?}: the rate limit did not hold"
    );
    assert_eq!(fast.messages().len(), 10);
}

#[test]
fn deferred_past_the_retry_horizon_fails_with_the_last_reply() {
    let greylist = Sink::start(&["-r", "rcpt", "-b", "451 4.7.1 Try again later"]);
    let app = app_with(|c| use_sink(c, &greylist));
    let base = engine(&app);
    // The horizon is hours in configuration; the engine takes any duration.
    let mut cfg = base.cfg.clone();
    cfg.retry_horizon = Duration::from_secs(3);
    let eng = Arc::new(Engine {
        db: base.db.clone(),
        cfg,
        site: base.site.clone(),
        secret: base.secret.clone(),
        newsletters: base.newsletters.clone(),
        renderer: jarida_newsletter::render::Renderer::new(app.app.theme.clone()),
        stopping: Default::default(),
    });
    add_readers(&app, &[("late@example.org", "en")]);
    let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
    send(&app, &eng, id, Duration::from_secs(30));
    let f = figures(&app, id);
    assert_eq!((f.failed, f.sent, f.bounced), (1, 0, 0), "{f:?}");
    let (attempts, reply) = app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_one!(
            c.conn(),
            (i64, Option<String>),
            "SELECT attempts, last_reply FROM deliveries WHERE edition_id = $1",
            id
        )
        .unwrap()
    });
    assert!(attempts >= 2, "{attempts}");
    let reply = reply.unwrap();
    assert!(
        reply.starts_with(&format!("gave up after {attempts} attempts: 451 4.7.1")),
        "{reply}"
    );
    assert_eq!(app.status_of("late@example.org").as_deref(), Some("active"));
}

/// A worker slowed down by its relay keeps extending the leases of the rows it holds, so another
/// worker never takes them over and sends them a second time.
#[test]
fn a_slow_worker_keeps_its_leases_and_nothing_is_sent_twice() {
    let slow = Sink::start(&["-w", "1"]);
    let app = app_with(|c| {
        use_sink(c, &slow);
        c.delivery.lease_seconds = 1;
        c.delivery.connections = 1;
    });
    let one = engine(&app);
    let two = engine(&app);
    add_readers(
        &app,
        &[
            ("s1@example.org", "en"),
            ("s2@example.org", "en"),
            ("s3@example.org", "en"),
            ("s4@example.org", "en"),
        ],
    );
    let id = compose(&app, &one, "2026-10-15T09:00:00Z");
    app.rt
        .block_on(editions::approve(&app.db, id, OffsetDateTime::now_utc()))
        .unwrap();
    app.rt.block_on(async {
        let work = |eng: Arc<Engine>| async move {
            let deadline = Instant::now() + Duration::from_secs(40);
            while editions::get(&eng.db, id).await.unwrap().status != "sent" {
                assert!(Instant::now() < deadline, "not sent");
                eng.tick().await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let (a, b) = tokio::join!(
            tokio::spawn(work(one.clone())),
            tokio::spawn(work(two.clone()))
        );
        a.unwrap();
        b.unwrap();
    });
    let mut got: Vec<String> = slow.messages().into_iter().map(|m| m.rcpt).collect();
    got.sort();
    assert_eq!(
        got,
        [
            "s1@example.org",
            "s2@example.org",
            "s3@example.org",
            "s4@example.org"
        ],
        "each reader once, though each message took longer than the lease"
    );
}

#[test]
fn a_refused_sender_defers_and_bounces_nobody() {
    let sink = Sink::start(&["-f", "mail", "-B", "553 5.1.7 Sender address rejected"]);
    let app = app_with(|c| use_sink(c, &sink));
    let eng = engine(&app);
    add_readers(
        &app,
        &[("ok1@example.org", "en"), ("ok2@example.org", "ar")],
    );
    let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
    start_and_tick_once(&app, &eng, id);
    let f = figures(&app, id);
    assert_eq!((f.deferred, f.failed, f.bounced), (2, 0, 0), "{f:?}");
    assert_eq!(app.status_of("ok1@example.org").as_deref(), Some("active"));
}

#[test]
fn a_cancelled_edition_keeps_its_number_and_an_unsendable_one_returns_to_draft() {
    let app = app_with(|_| {});
    let eng = engine(&app);
    add_readers(&app, &[("n@example.org", "en")]);
    let first = compose(&app, &eng, "2026-10-15T09:00:00Z");
    app.rt
        .block_on(editions::cancel(&app.db, first, OffsetDateTime::now_utc()))
        .unwrap();
    let second = compose(&app, &eng, "2026-11-01T09:00:00Z");
    let (a, b) = app.rt.block_on(async {
        (
            editions::get(&app.db, first).await.unwrap(),
            editions::get(&app.db, second).await.unwrap(),
        )
    });
    assert_eq!((a.number, b.number), (1, 2));
    assert_eq!(
        b.period_start, a.period_start,
        "the next edition covers the cancelled period"
    );

    // An approved edition with nothing in it cannot start; it goes back to draft and does not hold
    // up the one behind it.
    let empty = compose(&app, &eng, "2026-11-20T09:00:00Z");
    assert!(parts(&app, empty).iter().all(|p| p.items.is_empty()));
    let now = OffsetDateTime::now_utc();
    app.rt.block_on(async {
        editions::approve(&app.db, empty, now).await.unwrap();
        editions::approve(&app.db, second, now).await.unwrap();
        eng.tick().await.unwrap();
    });
    assert_eq!(status(&app, empty), "draft");
    assert_eq!(status(&app, second), "sent");
}

#[test]
fn an_edition_limited_to_a_segment_goes_to_its_readers_only() {
    let app = app_with(|c| c.api.token = TOKEN.into());
    let eng = engine(&app);
    add_readers(
        &app,
        &[
            ("en1@example.org", "en"),
            ("ar1@example.org", "ar"),
            ("ar2@water.example", "ar"),
            ("en2@water.example", "en"),
        ],
    );
    // Two joined from the water series page; of them, one reads Arabic.
    exec(
        &app,
        "UPDATE subscribers SET consent_form = 'https://jarida.example/ar/series/water-series' WHERE email LIKE '%@water.example'",
        &[],
    );
    let segment = app.rt.block_on(async {
        let filter = jarida_audience::directory::ReaderFilter {
            lang: Some(jarida_core::Lang::Ar),
            page: Some("Water-Series".into()),
            ..Default::default()
        };
        let mut tx = app.db.begin().await.unwrap();
        let id = jarida_audience::segments::save(&mut tx, "Arabic water readers", &filter, None, 0)
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
        id
    });
    let id = compose(&app, &eng, "2026-10-01T09:00:00Z");
    let (s, v) = api(
        &app,
        "POST",
        &format!("/api/v1/editions/{id}/segment"),
        Some(&format!("{{\"segment\": {}}}", segment.0)),
        true,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["edition"]["segment_id"], segment.0);
    let (s, v) = api(
        &app,
        "POST",
        &format!("/api/v1/editions/{id}/segment"),
        Some("{\"segment\": 999}"),
        true,
    );
    assert_eq!(s, 422, "an unknown segment is refused: {v}");
    // While the edition is unsent, its segment cannot go.
    let held = app.rt.block_on(async {
        let mut tx = app.db.begin().await.unwrap();
        editions::release_segment(&mut tx, segment).await.unwrap()
    });
    assert_eq!(held, Err(vec![id]));
    send(&app, &eng, id, Duration::from_secs(20));
    let f = figures(&app, id);
    assert_eq!((f.recipients, f.sent), (1, 1), "{f:?}");
    let to: Vec<(i64,)> = app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_all!(
            c.conn(),
            (i64,),
            "SELECT subscriber_id FROM deliveries WHERE edition_id = $1",
            id
        )
        .unwrap()
    });
    assert_eq!(to, vec![(subscriber_id(&app, "ar2@water.example"),)]);
    // Its readers were fixed when sending started.
    let (s, _) = api(
        &app,
        "POST",
        &format!("/api/v1/editions/{id}/segment"),
        Some("{\"segment\": null}"),
        true,
    );
    assert_eq!(s, 409);
    // Once sent, the edition lets go of the segment, which can be deleted.
    app.rt.block_on(async {
        let mut tx = app.db.begin().await.unwrap();
        assert_eq!(
            editions::release_segment(&mut tx, segment).await.unwrap(),
            Ok(())
        );
        let gone = jarida_audience::segments::delete(&mut tx, segment)
            .await
            .unwrap();
        assert_eq!(gone.as_deref(), Some("Arabic water readers"));
        tx.commit().await.unwrap();
        assert_eq!(editions::get(&app.db, id).await.unwrap().segment_id, None);
    });
}
