//! The transactional mail queue (confirmation, preference and welcome emails) against real relays:
//! Postfix's smtp-sink for outages and refusals, aiosmtpd for STARTTLS / implicit TLS with AUTH.
#![allow(clippy::unwrap_used)] // test helpers: a failed step panics with its cause

mod common;

use std::time::{Duration, Instant};

use common::{Sink, TestApp, TlsSink, use_sink};
use jarida_mail::queue::{Drained, Queue};

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A relay without TLS or login on this machine.
fn plain_relay(port: u16) -> jarida_mail::Transport {
    jarida_mail::Transport::Smtp(jarida_mail::Smtp {
        host: "127.0.0.1".into(),
        port,
        tls: jarida_mail::TlsMode::None,
        username: String::new(),
        password: String::new(),
        helo: "localhost".into(),
        timeout: Duration::from_secs(10),
        accept_invalid_certs: false,
    })
}

fn sign_up(app: &TestApp, email: &str) {
    let r = app.post_form(
        "/en/newsletter/subscribe",
        &[("email", email), ("name", ""), ("website", "")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

/// (attempts, last error, failed at, body length) of the queued messages, oldest first.
fn queued(app: &TestApp) -> Vec<(i64, Option<String>, Option<i64>, i64)> {
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_all!(
            c.conn(),
            (i64, Option<String>, Option<i64>, i64),
            "SELECT attempts, last_error, failed_at, CAST(LENGTH(body) AS BIGINT) FROM mail_queue ORDER BY id"
        )
        .unwrap()
    })
}

fn exec(app: &TestApp, sql: &'static str) {
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_exec!(c.conn(), sql).unwrap();
    });
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn drain(app: &TestApp) -> Drained {
    app.rt.block_on(app.app.mail.drain()).unwrap()
}

#[test]
fn transactional_mail_goes_over_starttls_and_implicit_tls_with_auth() {
    for mode in ["starttls", "implicit"] {
        let relay = TlsSink::start(mode);
        let app = TestApp::spawn_with(|c| {
            c.mail.smtp_host = "127.0.0.1".into();
            c.mail.smtp_port = relay.port;
            c.mail.smtp_tls = mode.parse().unwrap();
            c.mail.smtp_username = TlsSink::USER.into();
            c.mail.smtp_password = TlsSink::PASSWORD.into();
            // The test relay's certificate is self-signed.
            c.mail.smtp_accept_invalid_certs = true;
        });
        sign_up(&app, "tls-reader@example.org");
        wait_until("the confirmation email", || !relay.messages().is_empty());
        let got = relay.messages();
        assert_eq!(got.len(), 1, "{mode}");
        assert_eq!(got[0].rcpts, ["tls-reader@example.org"], "{mode}");
        assert!(got[0].tls, "{mode}: the session was encrypted");
        assert!(
            got[0].authenticated,
            "{mode}: the session was authenticated"
        );
        assert!(got[0].data.contains("/newsletter/confirm/"), "{mode}");
        wait_until("the sent message to leave the queue", || {
            queued(&app).is_empty()
        });
    }
}

#[test]
fn a_refused_login_keeps_the_email_queued() {
    let relay = TlsSink::start("starttls");
    let app = TestApp::spawn_with(|c| {
        c.mail.smtp_host = "127.0.0.1".into();
        c.mail.smtp_port = relay.port;
        c.mail.smtp_tls = "starttls".parse().unwrap();
        c.mail.smtp_username = TlsSink::USER.into();
        c.mail.smtp_password = "wrong".into();
        c.mail.smtp_accept_invalid_certs = true;
    });
    sign_up(&app, "patient@example.org");
    wait_until("a failed attempt", || {
        queued(&app).first().is_some_and(|r| r.1.is_some())
    });
    let rows = queued(&app);
    assert_eq!(rows.len(), 1);
    let (attempts, error, failed_at, body) = &rows[0];
    assert_eq!(*attempts, 1);
    assert!(
        error.as_deref().unwrap().contains("login refused"),
        "{error:?}"
    );
    assert_eq!(
        *failed_at, None,
        "a relay's refusal to log us in is not the reader's fault"
    );
    assert!(*body > 0, "the message is kept for the retry");
    assert!(relay.messages().is_empty());
}

#[test]
fn a_relay_outage_delays_mail_a_dead_workers_lease_runs_out_and_5xx_fails_for_good() {
    let port = free_port();
    let app = TestApp::spawn_with(|c| {
        c.mail.smtp_host = "127.0.0.1".into();
        c.mail.smtp_port = port;
        c.mail.smtp_tls = "none".parse().unwrap();
    });
    // Nothing listens: the email waits in the queue.
    sign_up(&app, "late@example.org");
    wait_until("a failed attempt", || {
        queued(&app).first().is_some_and(|r| r.1.is_some())
    });
    let rows = queued(&app);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].2, None,
        "a refused connection is retried, not failed"
    );
    assert_eq!(
        drain(&app),
        Drained::default(),
        "a deferred message waits for its next turn"
    );

    // The relay comes back; once the retry is due, the email goes and leaves the queue.
    let sink = Sink::start_at(port, &[]);
    exec(&app, "UPDATE mail_queue SET next_try_at = 0");
    // (The app's own worker, polling every five seconds, may be the one that sends it.)
    drain(&app);
    let mail = sink.wait_for("late@example.org", 1);
    assert!(common::url_with(&mail[0].text(), "/newsletter/confirm/").is_some());
    wait_until("the sent message to leave the queue", || {
        queued(&app).is_empty()
    });

    // A worker that claimed a message and died: nobody sends it while its lease runs, anybody
    // after. (A second queue on the same database stands for another process.)
    let other = Queue::new(app.db.clone(), plain_relay(port));
    app.rt
        .block_on(other.enqueue(
            "newsletter@jarida.example",
            "orphan@example.org",
            b"Subject: left behind\r\n\r\nhello\r\n",
        ))
        .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_exec!(
            c.conn(),
            "UPDATE mail_queue SET next_try_at = $1, attempts = 1",
            now + 300
        )
        .unwrap();
    });
    assert_eq!(app.rt.block_on(other.drain()).unwrap(), Drained::default());
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        sink.messages()
            .iter()
            .all(|m| m.rcpt != "orphan@example.org"),
        "nobody sends a message whose lease is running"
    );
    exec(&app, "UPDATE mail_queue SET next_try_at = 0");
    app.rt.block_on(other.drain()).unwrap();
    assert_eq!(sink.wait_for("orphan@example.org", 1).len(), 1);
    drop(sink);

    // A relay that refuses the recipient for good: the message fails and its body (a live
    // confirmation link) is dropped.
    let _refusing = Sink::start_at(port, &["-f", "rcpt", "-B", "550 5.1.1 No such user here"]);
    sign_up(&app, "nobody@example.org");
    wait_until("the refusal", || {
        queued(&app).first().is_some_and(|r| r.2.is_some())
    });
    let rows = queued(&app);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].3, 0, "the failed message's body is gone");
    let failed = app.rt.block_on(app.app.mail.failed()).unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].recipient, "nobody@example.org");
    assert!(failed[0].error.contains("550"), "{:?}", failed[0]);
    assert_eq!(app.rt.block_on(app.app.mail.waiting()).unwrap(), 0);
    // The operator sees it too.
    let out = common::jarida_cmd(app.dir.path(), &app.test_db)
        .env("JARIDA_MAIL__SMTP_HOST", "127.0.0.1")
        .env("JARIDA_MAIL__SMTP_PORT", port.to_string())
        .env("JARIDA_MAIL__SMTP_TLS", "none")
        .args(["mail", "status"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("0 waiting, 1 failed"), "{stdout}");
    assert!(
        stdout.contains("failed: nobody@example.org after 1 attempts: ") && stdout.contains("550"),
        "{stdout}"
    );
}

#[test]
fn two_workers_share_the_queue_and_send_each_message_once() {
    // A relay that answers slowly, so both workers' claims overlap.
    let sink = Sink::start(&["-w", "1"]);
    let app = TestApp::spawn_with(|c| use_sink(c, &sink));
    let transport = || plain_relay(sink.port);
    let (a, b) = app.rt.block_on(async {
        let db2 = jarida_store::Db::connect(&app.test_db.url).await.unwrap();
        (
            Queue::new(app.db.clone(), transport()),
            Queue::new(db2, transport()),
        )
    });
    let msgs: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| {
            (
                format!("q{i:02}@example.org"),
                format!("Subject: {i}\r\n\r\nhello {i}\r\n").into_bytes(),
            )
        })
        .collect();
    // Enqueued through a queue whose worker does not run; the app's own worker may join in too.
    app.rt.block_on(async {
        for (to, body) in &msgs {
            a.enqueue("newsletter@jarida.example", to, body)
                .await
                .unwrap();
        }
    });
    let (da, db) = app
        .rt
        .block_on(async { tokio::join!(a.drain(), b.drain()) });
    let (da, db) = (da.unwrap(), db.unwrap());
    wait_until("every message", || sink.messages().len() >= 40);
    std::thread::sleep(Duration::from_millis(300));
    let mut rcpts: Vec<String> = sink.messages().into_iter().map(|m| m.rcpt).collect();
    rcpts.sort();
    let n = rcpts.len();
    rcpts.dedup();
    assert_eq!(n, 40, "each message exactly once");
    assert_eq!(rcpts.len(), 40);
    assert!(
        da.sent > 0 && db.sent > 0,
        "both workers took a share: {da:?} {db:?}"
    );
    assert!(queued(&app).is_empty());
}

#[test]
fn refusals_of_our_sender_or_by_policy_are_retried_and_erasure_forgets_queued_mail() {
    let port = free_port();
    let app = TestApp::spawn_with(|c| {
        c.mail.smtp_host = "127.0.0.1".into();
        c.mail.smtp_port = port;
        c.mail.smtp_tls = "none".parse().unwrap();
    });
    let last_error = |app: &TestApp| queued(app).first().and_then(|r| r.1.clone());
    for (flags, email, expect) in [
        // Our envelope sender refused: a configuration to fix, not a reason to drop the email.
        (
            ["-f", "mail", "-B", "553 5.1.8 Sender address rejected"],
            "sender@example.org",
            "sender <",
        ),
        // Relaying denied for the recipient: policy, usually the relay's configuration.
        (
            ["-f", "rcpt", "-B", "550 5.7.1 Relaying denied"],
            "policy@example.org",
            "policy refusal: 550",
        ),
    ] {
        let sink = Sink::start_at(port, &flags);
        sign_up(&app, email);
        wait_until("a refused attempt", || {
            last_error(&app).is_some_and(|e| e.contains(expect))
        });
        let rows = queued(&app);
        assert_eq!(rows.len(), 1, "{email}");
        assert_eq!(rows[0].2, None, "{email}: deferred, not failed");
        assert!(rows[0].3 > 0, "{email}: the message is kept for the retry");
        assert!(sink.messages().is_empty());
        exec(&app, "DELETE FROM mail_queue");
        drop(sink);
    }

    // A reader erased while their email waits: it never goes, and their address leaves the queue.
    sign_up(&app, "gone@example.org");
    wait_until("a failed attempt", || last_error(&app).is_some());
    let id: i64 = app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        let (id,): (i64,) = jarida_store::q_one!(
            c.conn(),
            (i64,),
            "SELECT id FROM subscribers WHERE email = 'gone@example.org'"
        )
        .unwrap();
        id
    });
    app.rt
        .block_on(jarida_audience::subscribers::erase(
            &app.db,
            jarida_core::SubscriberId(id),
            time::OffsetDateTime::now_utc(),
        ))
        .unwrap();
    assert!(queued(&app).is_empty(), "{:?}", queued(&app));
}
