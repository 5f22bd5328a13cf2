//! Returned mail closes the loop: an edition goes out through a real `smtp-sink`; then a hard
//! bounce (through `jarida bounces ingest`, the MTA's pipe), a soft one, a complaint (ARF), a
//! refusal for policy, an out-of-office reply and a mail to the unsubscribe address come back,
//! built from the corpus with the envelope and Message-ID the sink received. The right readers
//! are stopped, a forged or repeated report changes nothing, and the next edition skips exactly
//! those readers.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::time::Duration;

use common::editions::*;
use common::*;
use jarida_audience::bounces::Decision;
use jarida_mail::bounce::Kind;
use jarida_newsletter::bounces::Outcome;
use time::OffsetDateTime;

fn corpus(file: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../jarida-mail/tests/fixtures/bounces")
        .join(file);
    std::fs::read(p).unwrap()
}

/// `file` from the corpus, made about the message `m` the sink received.
fn about(file: &str, m: &Received) -> Vec<u8> {
    let id = m.header("Message-ID").unwrap();
    let id = id.trim_start_matches('<').trim_end_matches('>');
    String::from_utf8_lossy(&corpus(file))
        .replace("%VERP%", &m.mail_from)
        .replace("%MSGID%", id)
        .into_bytes()
}

/// The mailto target of the message's `List-Unsubscribe`.
fn mailto_of(m: &Received) -> String {
    let h = m.header("List-Unsubscribe").unwrap();
    h.split("mailto:")
        .nth(1)
        .and_then(|r| r.split(['?', '>']).next())
        .unwrap_or_else(|| panic!("no mailto in {h}"))
        .to_string()
}

fn ingest(app: &TestApp, raw: &[u8], to: Option<&str>) -> Outcome {
    let secret = jarida::secret(&app.cfg).unwrap();
    app.rt
        .block_on(jarida_newsletter::bounces::ingest(
            &app.db,
            &secret,
            app.cfg.bounces.rules(),
            raw,
            to,
            "test",
            OffsetDateTime::now_utc(),
        ))
        .unwrap()
}

fn events(app: &TestApp, email: &str) -> Vec<(String, String)> {
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_all!(
            c.conn(),
            (String, String),
            "SELECT e.kind, e.detail FROM subscriber_events e JOIN subscribers s ON s.id = e.subscriber_id \
             WHERE s.email = $1 ORDER BY e.id",
            email
        )
        .unwrap()
    })
}

fn suppressed(app: &TestApp, email: &str) -> bool {
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_audience::subscribers::is_suppressed(c.conn(), email)
            .await
            .unwrap()
    })
}

const READERS: [&str; 7] = [
    "hard@example.org",
    "soft@example.org",
    "complain@example.org",
    "policy@example.org",
    "away@example.org",
    "leave@example.org",
    "stay@example.org",
];

#[test]
fn returned_mail_stops_the_right_readers_and_nothing_else() {
    let sink = Sink::start(&[]);
    let app = app_with(|c| {
        use_sink(c, &sink);
        c.bounces.mailto_unsubscribe = true;
        c.bounces.soft_limit = 2;
    });
    let eng = engine(&app);
    let first = first_edition_to(&app, &eng, &READERS);
    let got = by_rcpt(sink.messages());
    assert_eq!(got.len(), READERS.len());
    let msg = |e: &str| &got[e];

    // A hard bounce through the pipe, as Postfix would run it.
    let pipe = |raw: &[u8]| {
        let mut c = jarida_cmd(app.dir.path(), &app.test_db);
        c.args(["bounces", "ingest"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        child.stdin.take().unwrap().write_all(raw).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let hard = about("postfix-user-unknown.eml", msg("hard@example.org"));
    let said = pipe(&hard);
    assert!(
        said.starts_with("hard: reader") && said.contains("Bounced"),
        "{said}"
    );
    assert_eq!(
        app.status_of("hard@example.org").as_deref(),
        Some("bounced")
    );
    let ev = events(&app, "hard@example.org");
    let last = ev.last().unwrap();
    assert_eq!(last.0, "bounced");
    assert!(
        last.1.contains("\"status\":\"5.1.1\"") && last.1.contains("User unknown"),
        "the evidence is kept: {last:?}"
    );
    // The same report again changes nothing.
    assert!(pipe(&hard).contains("Repeated"));
    assert_eq!(events(&app, "hard@example.org").len(), ev.len());

    // A forged return path (the signature of another reader's) changes nothing.
    let stay = msg("stay@example.org");
    let forged_from = {
        let (head, sig) = stay.mail_from.rsplit_once('-').unwrap();
        let flipped: String = sig
            .chars()
            .enumerate()
            .map(|(i, ch)| {
                if i == 0 {
                    if ch == '0' { '1' } else { '0' }
                } else {
                    ch
                }
            })
            .collect();
        format!("{head}-{flipped}")
    };
    let forged = String::from_utf8_lossy(&corpus("stripped-original.eml"))
        .replace("%VERP%", &forged_from)
        .replace("%MSGID%", "e1.s1.000000000000@example.org");
    assert_eq!(
        ingest(&app, forged.as_bytes(), None),
        Outcome::Ignored("no token of ours that verifies")
    );

    // A report sent to an unsubscribe address is not read for the reader it names, and a
    // report naming two readers (one's return path, another's Message-ID) is not trusted.
    let leave_mailto = mailto_of(msg("leave@example.org"));
    assert_eq!(
        ingest(
            &app,
            &about("arf-yahoo-cfl.eml", msg("policy@example.org")),
            Some(&leave_mailto)
        ),
        Outcome::Ignored("a report sent to an unsubscribe address")
    );
    let mixed = String::from_utf8_lossy(&about("postfix-user-unknown.eml", stay)).replace(
        stay.header("Message-ID").unwrap().trim_matches(['<', '>']),
        msg("away@example.org")
            .header("Message-ID")
            .unwrap()
            .trim_matches(['<', '>']),
    );
    assert_eq!(
        ingest(&app, mixed.as_bytes(), None),
        Outcome::Ignored("tokens of several readers")
    );
    assert_eq!(
        app.status_of("policy@example.org").as_deref(),
        Some("active")
    );
    assert_eq!(app.status_of("stay@example.org").as_deref(), Some("active"));
    assert_eq!(app.status_of("away@example.org").as_deref(), Some("active"));

    // A delay notice (still being tried) counts for nothing.
    assert_eq!(
        ingest(
            &app,
            &about("postfix-mailbox-full-delayed.eml", msg("soft@example.org")),
            None
        ),
        Outcome::Ignored("a delay notice: the message is still being tried")
    );

    // A soft bounce is recorded; the reader stays until the limit.
    let soft = ingest(
        &app,
        &about("outlook-mailbox-full-5-2-2.eml", msg("soft@example.org")),
        None,
    );
    assert!(
        matches!(
            soft,
            Outcome::Applied {
                kind: Kind::Soft,
                decision: Decision::Recorded,
                ..
            }
        ),
        "{soft:?}"
    );
    assert_eq!(app.status_of("soft@example.org").as_deref(), Some("active"));

    // A complaint: stopped across newsletters and suppressed.
    let c = ingest(
        &app,
        &about("arf-yahoo-cfl.eml", msg("complain@example.org")),
        None,
    );
    assert!(
        matches!(
            c,
            Outcome::Applied {
                kind: Kind::Complaint,
                decision: Decision::Complained,
                ..
            }
        ),
        "{c:?}"
    );
    assert_eq!(
        app.status_of("complain@example.org").as_deref(),
        Some("complained")
    );
    assert!(suppressed(&app, "complain@example.org"));

    // A refusal for policy is the owner's business, not the reader's.
    let p = ingest(
        &app,
        &about("postfix-spamhaus-5-7-1.eml", msg("policy@example.org")),
        None,
    );
    match &p {
        Outcome::Applied {
            kind: Kind::Policy,
            alert: Some(words),
            ..
        } => assert!(words.contains("5.7.1"), "{words}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        app.status_of("policy@example.org").as_deref(),
        Some("active")
    );

    // An out-of-office reply is read and left alone.
    assert_eq!(
        ingest(
            &app,
            &about("autoreply-sieve-vacation-en.eml", msg("away@example.org")),
            None
        ),
        Outcome::Ignored("an automatic reply")
    );

    // Mail to the List-Unsubscribe mailto address unsubscribes its reader.
    let leave = msg("leave@example.org");
    let mailto = mailto_of(leave);
    assert!(mailto.starts_with("u+"), "{mailto}");
    let request =
        format!("From: leave@example.org\r\nTo: {mailto}\r\nSubject: unsubscribe\r\n\r\n");
    assert!(matches!(
        ingest(&app, request.as_bytes(), Some(&mailto)),
        Outcome::Unsubscribed { changed: true, .. }
    ));
    assert_eq!(
        app.status_of("leave@example.org").as_deref(),
        Some("unsubscribed")
    );

    let f = figures(&app, first);
    assert_eq!(
        (f.bounced, f.soft_bounced, f.refused, f.complaints),
        (1, 1, 1, 1),
        "{f:?}"
    );
    // The owner hears of the complaint rate and of the refusal, with the server's words.
    let mut owner = common::admin::owner(&app);
    let dash = owner.get("/admin/dashboard").text();
    assert!(dash.contains("reported it as spam"), "{dash}");
    assert!(
        dash.contains("refused a message for policy this week") && dash.contains("5.7.1"),
        "{dash}"
    );
    let page = owner.get(&format!("/admin/editions/{first}")).text();
    assert!(page.contains("Reported as spam"), "{page}");
    // A refusal for policy taken in through the pipe, as Postfix would run it, also reaches the
    // owner by email (the mail queue of the running server sends it).
    let refusal = about("ses-spam-content-5-7-0.eml", msg("away@example.org"));
    assert!(pipe(&refusal).contains("refused for policy"));
    let alerts = sink.wait_for("lina@example.org", 1);
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0]
            .subject()
            .contains("refused a newsletter for policy")
            && alerts[0].text().contains("5.7"),
        "{}",
        alerts[0].text()
    );

    // The next edition goes to everyone else, and to nobody stopped.
    let second = compose(&app, &eng, "2026-11-01T09:00:00Z");
    send(&app, &eng, second, Duration::from_secs(30));
    let again = recipients_of(sink.messages(), second);
    assert_eq!(
        again,
        [
            "away@example.org",
            "policy@example.org",
            "soft@example.org",
            "stay@example.org"
        ]
    );
    // A second soft bounce, for the second edition, reaches the limit (2).
    let m2 = sink
        .messages()
        .into_iter()
        .find(|m| m.rcpt == "soft@example.org" && m.mail_from.starts_with(&format!("b+{second}-")))
        .unwrap();
    let soft2 = ingest(&app, &about("outlook-mailbox-full-5-2-2.eml", &m2), None);
    assert!(
        matches!(
            soft2,
            Outcome::Applied {
                decision: Decision::Bounced,
                ..
            }
        ),
        "{soft2:?}"
    );
    assert_eq!(
        app.status_of("soft@example.org").as_deref(),
        Some("bounced")
    );
    assert_eq!(app.status_of("stay@example.org").as_deref(), Some("active"));
}

/// An edition whose first messages bounce hard above the rate is paused while it goes out.
#[test]
fn a_stale_list_pauses_its_edition() {
    let sink = Sink::start(&[]);
    let app = app_with(|c| {
        use_sink(c, &sink);
        c.bounces.pause_after = 4;
        c.bounces.pause_hard_percent = 20.0;
    });
    let eng = engine(&app);
    let readers: Vec<(String, &str)> = (0..8)
        .map(|i| (format!("r{i}@example.org"), "en"))
        .collect();
    add_readers(&app, &readers);
    let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
    send(&app, &eng, id, Duration::from_secs(30));
    // The edition is done; put it back to "sending" as it would be mid-way.
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_exec!(
            c.conn(),
            "UPDATE editions SET status = 'sending' WHERE id = $1",
            id
        )
        .unwrap();
    });
    let msgs = sink.messages();
    let _owner = common::admin::owner(&app);
    let mut paused = false;
    for (n, m) in msgs.iter().take(2).enumerate() {
        let outcome = ingest(&app, &about("gmail-address-not-found.eml", m), None);
        match outcome {
            Outcome::Applied { paused: p, .. } => paused = p,
            ref other => panic!("{n}: {other:?}"),
        }
        app.rt
            .block_on(jarida_newsletter::bounces::alert_owners(
                &app.db,
                &app.app.notify,
                &app.app.mail,
                &outcome,
            ))
            .unwrap();
    }
    assert!(paused, "2 hard of 8 is 25%, over 20%");
    assert_eq!(status(&app, id), "paused");
    // The owner is told, with the share.
    let told = sink.wait_for("lina@example.org", 1);
    assert_eq!(told.len(), 1, "one alert: the first bounce paused nothing");
    assert!(
        told[0].subject().contains("paused") && told[0].text().contains("25.0%"),
        "{}",
        told[0].text()
    );
    // An editor resumes it: more hard bounces do not pause it again.
    app.rt.block_on(async {
        let mut tx = app.db.begin().await.unwrap();
        jarida_newsletter::editions::act_in(
            &mut tx,
            id,
            jarida_newsletter::editions::Action::Resume,
            None,
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    });
    assert_eq!(status(&app, id), "sending");
    match ingest(&app, &about("gmail-address-not-found.eml", &msgs[2]), None) {
        Outcome::Applied { paused, .. } => assert!(!paused),
        other => panic!("{other:?}"),
    }
    assert_eq!(status(&app, id), "sending");
}

/// Python's smtplib, an SMTP client independent of ours, talking to the built-in receiver: it
/// prints the reply code of each step.
const CLIENT: &str = r#"
import smtplib, ssl, sys
port, verp, forged, dsn, big = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
s = smtplib.SMTP("127.0.0.1", port, timeout=20)
s.ehlo("mx.example.net")
print("starttls-offered", s.has_extn("starttls"))
s.starttls(context=ssl._create_unverified_context())
s.ehlo("mx.example.net")
s.mail("")
print("rcpt-stranger", s.rcpt("someone@gmail.com")[0])
print("rcpt-forged", s.rcpt(forged)[0])
print("rcpt-ours", s.rcpt(verp)[0])
print("data", s.data(open(dsn, "rb").read())[0])
s.mail("")
s.rcpt(verp)
print("data-big", s.data(open(big, "rb").read())[0])
s.quit()
"#;

/// The built-in receiver: only our signed addresses are taken (never a relay), a DSN it takes
/// stops its reader, a message over the size limit is refused, and STARTTLS works with the
/// configured certificate.
#[test]
fn the_receiver_takes_our_addresses_only() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let certs = tempfile::tempdir().unwrap();
    self_signed(certs.path(), "bounces.jarida.example");
    let sink = Sink::start(&[]);
    let app = app_with(|c| {
        use_sink(c, &sink);
        c.bounces.listen = format!("127.0.0.1:{port}");
        c.bounces.tls_cert = certs.path().join("cert.pem").display().to_string();
        c.bounces.tls_key = certs.path().join("key.pem").display().to_string();
        c.bounces.max_message_kb = 64;
    });
    let eng = engine(&app);
    add_readers(
        &app,
        &[("gone@example.org", "en"), ("kept@example.org", "ar")],
    );
    let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
    send(&app, &eng, id, Duration::from_secs(30));
    let msgs = sink.messages();
    let gone = msgs.iter().find(|m| m.rcpt == "gone@example.org").unwrap();
    let kept = msgs.iter().find(|m| m.rcpt == "kept@example.org").unwrap();
    // The same reader and edition, another reader's signature.
    let forged = format!(
        "{}-{}",
        gone.mail_from.rsplit_once('-').unwrap().0,
        kept.mail_from.rsplit_once('-').unwrap().1
    );
    let dsn = certs.path().join("dsn.eml");
    std::fs::write(&dsn, about("gmail-address-not-found.eml", gone)).unwrap();
    let big = certs.path().join("big.eml");
    let mut huge = about("postfix-user-unknown.eml", kept);
    for _ in 0..2000 {
        huge.extend_from_slice(b"\r\npadding padding padding padding padding padding padding");
    }
    std::fs::write(&big, huge).unwrap();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(CLIENT)
        .arg(port.to_string())
        .arg(&gone.mail_from)
        .arg(&forged)
        .arg(&dsn)
        .arg(&big)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "starttls-offered True",
        "rcpt-stranger 550",
        "rcpt-forged 550",
        "rcpt-ours 250",
        "data 250",
        "data-big 552",
    ] {
        assert!(said.lines().any(|l| l == line), "{line}: {said}");
    }
    assert_eq!(
        app.status_of("gone@example.org").as_deref(),
        Some("bounced")
    );
    assert_eq!(
        app.status_of("kept@example.org").as_deref(),
        Some("active"),
        "the refused message changed nothing"
    );
}

/// With returned mail reaching jarida, a confirmation email carries a VERP return path too, and
/// its bounce stops the sign-up: no more emails to an address that does not exist.
#[test]
fn a_confirmation_that_bounces_stops_its_sign_up() {
    let sink = Sink::start(&[]);
    let app = TestApp::spawn_with(|c| {
        use_sink(c, &sink);
        c.bounces.mailto_unsubscribe = true;
    });
    app.post_form("/en/newsletter/subscribe", &[("email", "typo@example.org")]);
    let m = &sink.wait_for("typo@example.org", 1)[0];
    assert!(m.mail_from.starts_with("b+0-"), "{}", m.mail_from);
    assert_eq!(
        app.status_of("typo@example.org").as_deref(),
        Some("pending")
    );
    let raw = String::from_utf8_lossy(&corpus("exim-user-unknown.eml"))
        .replace("%VERP%", &m.mail_from)
        .replace("%MSGID%", "not-ours@example.org");
    assert!(matches!(
        ingest(&app, raw.as_bytes(), Some(&m.mail_from)),
        Outcome::Applied {
            kind: Kind::Hard,
            edition: 0,
            decision: Decision::Bounced,
            ..
        }
    ));
    assert_eq!(
        app.status_of("typo@example.org").as_deref(),
        Some("bounced")
    );
}

/// `jarida bounces classify` says what a message is without a database (none is reachable here).
#[test]
fn classify_reads_messages_without_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dsn.eml");
    std::fs::write(&file, corpus("postfix-user-unknown.eml")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jarida"))
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env("JARIDA_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .args(["bounces", "classify"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(": hard recipient=lina.haddad@example.com status=5.1.1"),
        "{text}"
    );
}

/// A private Dovecot (Debian's `dovecot-imapd`) serving one mailbox over IMAPS on a random port,
/// with a certificate for `localhost` signed by a CA of the test's own.
struct Dovecot {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

const IMAP_USER: &str = "bounces";
const IMAP_PASSWORD: &str = "imap-bounce-secret";

impl Dovecot {
    fn start() -> Dovecot {
        let exe = "/usr/sbin/dovecot";
        assert!(
            std::path::Path::new(exe).exists(),
            "Dovecot is not installed: scripts/test installs Debian's dovecot-imapd"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .current_dir(d)
                .args(args)
                .output()
                .expect("openssl runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Jarida test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "req.csr",
        ]);
        std::fs::write(
            d.join("ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "req.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext",
            "-out",
            "cert.pem",
        ]);
        for sub in ["run", "home"] {
            std::fs::create_dir(d.join(sub)).unwrap();
        }
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(d.join("home"), std::fs::Permissions::from_mode(0o777))
                .unwrap();
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // As root, Dovecot serves mail as its own user; otherwise as whoever runs the test.
        let me = std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap();
        let me = String::from_utf8_lossy(&me.stdout).trim().to_string();
        let users = if me == "root" {
            "mail_uid = dovecot\nmail_gid = dovecot\n".to_string()
        } else {
            format!("default_internal_user = {me}\ndefault_login_user = {me}\n")
        };
        let p = d.display();
        let conf = format!(
            "base_dir = {p}/run\nstate_dir = {p}/run\nlog_path = {p}/dovecot.log\nprotocols = imap\n\
             listen = 127.0.0.1\nssl = required\nssl_cert = <{p}/cert.pem\nssl_key = <{p}/key.pem\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    port = 0\n  }}\n  \
             inet_listener imaps {{\n    port = {port}\n    ssl = yes\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n\
             passdb {{\n  driver = static\n  args = password={IMAP_PASSWORD}\n}}\n\
             userdb {{\n  driver = static\n  args = home={p}/home/%u\n}}\n\
             mail_location = maildir:~/Maildir\nfirst_valid_uid = 1\n{users}"
        );
        std::fs::write(d.join("dovecot.conf"), conf).unwrap();
        let child = std::process::Command::new(exe)
            .arg("-F")
            .arg("-c")
            .arg(d.join("dovecot.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dovecot starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "dovecot did not start: {}",
                std::fs::read_to_string(d.join("dovecot.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Dovecot { child, port, dir }
    }

    /// An IMAP command through Python's imaplib (another client than jarida's): `append` (the
    /// message on standard input), `count`, `create`.
    fn imap(&self, what: &str, folder: &str, message: &[u8]) -> String {
        const SCRIPT: &str = r#"
import imaplib, ssl, sys
port, ca, what, folder, user, password = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
m = imaplib.IMAP4_SSL("localhost", int(port), ssl_context=ctx)
m.login(user, password)
if what == "append":
    typ, _ = m.append(folder, None, None, sys.stdin.buffer.read())
    assert typ == "OK", typ
elif what == "create":
    m.create(folder)
else:
    typ, data = m.select(folder)
    print(int(data[0]))
m.logout()
"#;
        let mut child = std::process::Command::new("/usr/bin/python3")
            .args(["-c", SCRIPT, &self.port.to_string()])
            .arg(self.dir.path().join("ca.pem"))
            .args([what, folder, IMAP_USER, IMAP_PASSWORD])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(message).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "imaplib {what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn count(&self, folder: &str) -> usize {
        self.imap("count", folder, b"").parse().unwrap()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = std::process::Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.path().join("dovecot.conf"))
            .arg("stop")
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returned mail in a mailbox: Dovecot holds a DSN, a complaint, an out-of-office reply, a mail
/// to an unsubscribe address and one too large to read; a poll over IMAPS (trusting the test's
/// CA through `bounces.imap.ca_file`) takes each in and deletes them, the too large one unread;
/// `jarida bounces poll` then moves what it takes to another folder; the next edition skips the
/// stopped readers.
#[test]
fn a_mailbox_is_polled_over_imap() {
    let dovecot = Dovecot::start();
    let sink = Sink::start(&[]);
    let ca = dovecot.dir.path().join("ca.pem");
    let port = dovecot.port;
    let app = app_with(|c| {
        use_sink(c, &sink);
        c.bounces.mailto_unsubscribe = true;
        c.bounces.max_message_kb = 1024;
        c.bounces.imap.host = "localhost".into();
        c.bounces.imap.port = port;
        c.bounces.imap.user = IMAP_USER.into();
        c.bounces.imap.password = IMAP_PASSWORD.into();
        c.bounces.imap.ca_file = ca.display().to_string();
    });
    let eng = engine(&app);
    let readers = [
        "gone@example.org",
        "angry@example.org",
        "away@example.org",
        "leave@example.org",
        "stay@example.org",
    ];
    first_edition_to(&app, &eng, &readers);
    let got = by_rcpt(sink.messages());
    let hard = about("postfix-user-unknown.eml", &got["gone@example.org"]);
    dovecot.imap("append", "INBOX", &hard);
    dovecot.imap(
        "append",
        "INBOX",
        &about("arf-yahoo-cfl.eml", &got["angry@example.org"]),
    );
    dovecot.imap(
        "append",
        "INBOX",
        &about("autoreply-sieve-vacation-en.eml", &got["away@example.org"]),
    );
    let to = mailto_of(&got["leave@example.org"]);
    dovecot.imap(
        "append",
        "INBOX",
        format!(
            "From: leave@example.org\r\nTo: {to}\r\nSubject: unsubscribe\r\n\r\nunsubscribe\r\n"
        )
        .as_bytes(),
    );
    let mut big = b"From: someone@example.net\r\nSubject: large\r\n\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 1100 * 1024));
    dovecot.imap("append", "INBOX", &big);
    assert_eq!(dovecot.count("INBOX"), 5);

    let mb = app.cfg.bounce_mailbox().unwrap();
    let secret = jarida::secret(&app.cfg).unwrap();
    let taker = jarida_newsletter::bounces::mailbox::Taker {
        db: &app.db,
        secret: &secret,
        rules: app.cfg.bounces.rules(),
        notifier: &app.app.notify,
        mail: &app.app.mail,
    };
    let polled = app
        .rt
        .block_on(jarida_newsletter::bounces::mailbox::poll(&mb, &taker))
        .unwrap();
    assert_eq!(
        (polled.taken, polled.acted, polled.too_large),
        (4, 3, 1),
        "{polled:?}"
    );
    assert_eq!(dovecot.count("INBOX"), 0, "taken messages are deleted");
    assert_eq!(
        app.status_of("gone@example.org").as_deref(),
        Some("bounced")
    );
    assert_eq!(
        app.status_of("angry@example.org").as_deref(),
        Some("complained")
    );
    assert_eq!(app.status_of("away@example.org").as_deref(), Some("active"));
    assert_eq!(
        app.status_of("leave@example.org").as_deref(),
        Some("unsubscribed")
    );
    assert_eq!(app.status_of("stay@example.org").as_deref(), Some("active"));

    // A wrong password: the poll fails, saying so, and the mailbox is left as it was.
    dovecot.imap("append", "INBOX", &hard);
    let mut wrong = mb.clone();
    wrong.password = "not it".into();
    let err = app
        .rt
        .block_on(jarida_newsletter::bounces::mailbox::poll(&wrong, &taker))
        .unwrap_err();
    assert!(err.to_string().contains("logging in as bounces"), "{err}");
    assert_eq!(dovecot.count("INBOX"), 1);

    // The command line, moving what it takes: the report seen before changes nothing.
    dovecot.imap("create", "Processed", b"");
    let out = jarida_cmd(app.dir.path(), &app.test_db)
        .args(["bounces", "poll"])
        .env("JARIDA_BOUNCES__IMAP__HOST", "localhost")
        .env("JARIDA_BOUNCES__IMAP__PORT", port.to_string())
        .env("JARIDA_BOUNCES__IMAP__USER", IMAP_USER)
        .env("JARIDA_BOUNCES__IMAP__PASSWORD", IMAP_PASSWORD)
        .env("JARIDA_BOUNCES__IMAP__CA_FILE", &ca)
        .env("JARIDA_BOUNCES__IMAP__PROCESSED", "Processed")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.starts_with("1 taken from INBOX (1 acted on)"),
        "{said}"
    );
    assert_eq!((dovecot.count("INBOX"), dovecot.count("Processed")), (0, 1));

    let second = compose(&app, &eng, "2026-11-01T09:00:00Z");
    send(&app, &eng, second, Duration::from_secs(30));
    assert_eq!(
        recipients_of(sink.messages(), second),
        ["away@example.org", "stay@example.org"]
    );
}
