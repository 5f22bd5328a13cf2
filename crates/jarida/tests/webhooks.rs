//! Relays' webhooks close the loop as returned mail does: an edition goes out through a real
//! `smtp-sink`, then Mailgun, SendGrid and Postmark report a hard bounce, a complaint, a bounce and
//! a delivery over HTTP to the running site, signed as each relay signs (an HMAC, an ECDSA P-256
//! signature from a key made here, basic credentials). The right readers are stopped; a forged,
//! unsigned or misdirected request changes nothing; a repeated one changes nothing more; the next
//! edition skips exactly the stopped readers.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use aws_lc_rs::{hmac, rand::SecureRandom};
use base64::Engine as _;
use common::editions::*;
use common::*;

const MAILGUN_KEY: &str = "mailgun-signing-key-for-tests";
const POSTMARK_AUTH: &str = "postmark:a long webhook password";
const PATH: &str = "0123456789abcdef0123456789abcdef";

/// What the relays' settings show as SendGrid's verification key: the public key's
/// SubjectPublicKeyInfo, base64.
fn spki_base64(pair: &EcdsaKeyPair) -> String {
    let mut der = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    der.extend_from_slice(pair.public_key().as_ref());
    base64::engine::general_purpose::STANDARD.encode(der)
}

fn p256() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap()
}

fn post(app: &TestApp, path: &str, headers: &[(&str, String)], body: &str) -> u16 {
    let mut req = app
        .agent
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    req.send(body).unwrap().status().as_u16()
}

/// A Mailgun event, signed with `key`.
fn mailgun(key: &str, event: serde_json::Value) -> String {
    let mut token = [0u8; 16];
    SystemRandom::new().fill(&mut token).unwrap();
    let token = hex::encode(token);
    let ts = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    let k = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    let sig = hex::encode(hmac::sign(&k, format!("{ts}{token}").as_bytes()).as_ref());
    serde_json::json!({
        "signature": {"timestamp": ts, "token": token, "signature": sig},
        "event-data": event,
    })
    .to_string()
}

/// SendGrid's two headers for `body`, signed by `pair`.
fn sendgrid_headers(pair: &EcdsaKeyPair, body: &str) -> Vec<(&'static str, String)> {
    let ts = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    let sig = pair
        .sign(&SystemRandom::new(), format!("{ts}{body}").as_bytes())
        .unwrap();
    vec![
        (
            "X-Twilio-Email-Event-Webhook-Signature",
            base64::engine::general_purpose::STANDARD.encode(sig.as_ref()),
        ),
        ("X-Twilio-Email-Event-Webhook-Timestamp", ts),
    ]
}

fn basic(credentials: &str) -> Vec<(&'static str, String)> {
    vec![(
        "Authorization",
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        ),
    )]
}

fn event_count(app: &TestApp) -> i64 {
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_one!(c.conn(), (i64,), "SELECT COUNT(*) FROM subscriber_events")
            .unwrap()
            .0
    })
}

const READERS: [&str; 7] = [
    "gone@example.org",
    "angry@example.org",
    "moved@example.org",
    "fine@example.org",
    "full@example.org",
    "target@example.org",
    "stay@example.org",
];

#[test]
fn relays_webhooks_stop_the_right_readers_and_nothing_else() {
    let sink = Sink::start(&[]);
    let sendgrid_key = p256();
    let sendgrid_spki = spki_base64(&sendgrid_key);
    let app = app_with(|c| {
        use_sink(c, &sink);
        let w = &mut c.bounces.webhooks;
        w.mailgun.path_secret = PATH.into();
        w.mailgun.key = MAILGUN_KEY.into();
        w.sendgrid.path_secret = PATH.into();
        w.sendgrid.key = sendgrid_spki.clone();
        w.postmark.path_secret = PATH.into();
        w.postmark.key = POSTMARK_AUTH.into();
    });
    let eng = engine(&app);
    first_edition_to(&app, &eng, &READERS);
    let got = by_rcpt(sink.messages());
    assert_eq!(got.len(), READERS.len());
    let msgid = |e: &str| {
        got[e]
            .header("Message-ID")
            .unwrap()
            .trim_matches(['<', '>'])
            .to_string()
    };
    let mailgun_url = format!("/hooks/bounces/mailgun/{PATH}");
    let sendgrid_url = format!("/hooks/bounces/sendgrid/{PATH}");
    let postmark_url = format!("/hooks/bounces/postmark/{PATH}");

    // Requests that fail their check change nothing.
    let before = event_count(&app);
    let hard = |to: &str, id: &str| {
        serde_json::json!({"event": "failed", "severity": "permanent", "reason": "bounce",
            "recipient": to,
            "delivery-status": {"code": 550, "message": "5.1.1 The email account that you tried to reach does not exist",
                "description": ""},
            "message": {"headers": {"message-id": id}}})
    };
    let forged = mailgun(
        "another key",
        hard("stay@example.org", &msgid("stay@example.org")),
    );
    assert_eq!(post(&app, &mailgun_url, &[], &forged), 401);
    // Mailgun signs its token and timestamp, not the body: a signature is taken once, and not
    // when it is old.
    let signed = mailgun(
        MAILGUN_KEY,
        serde_json::json!({"event": "delivered", "recipient": "stay@example.org"}),
    );
    assert_eq!(post(&app, &mailgun_url, &[], &signed), 204);
    let replayed = signed.replace("\"delivered\"", "\"complained\"");
    assert_eq!(
        post(&app, &mailgun_url, &[], &replayed),
        401,
        "a signature seen before"
    );
    let k = hmac::Key::new(hmac::HMAC_SHA256, MAILGUN_KEY.as_bytes());
    let old = time::OffsetDateTime::now_utc().unix_timestamp() - 13 * 3600;
    let stale = serde_json::json!({
        "signature": {"timestamp": old.to_string(), "token": "t0ken",
            "signature": hex::encode(hmac::sign(&k, format!("{old}t0ken").as_bytes()).as_ref())},
        "event-data": {"event": "complained", "recipient": "stay@example.org"},
    })
    .to_string();
    assert_eq!(
        post(&app, &mailgun_url, &[], &stale),
        401,
        "signed 13 hours ago"
    );
    let other = p256();
    let body =
        serde_json::json!([{"email": "stay@example.org", "event": "spamreport"}]).to_string();
    assert_eq!(
        post(&app, &sendgrid_url, &sendgrid_headers(&other, &body), &body),
        401,
        "signed by another key"
    );
    let mut headers = sendgrid_headers(&sendgrid_key, &body);
    assert_eq!(
        post(
            &app,
            &sendgrid_url,
            &headers,
            &body.replace("spamreport", "bounce")
        ),
        401,
        "a body changed after signing"
    );
    headers[1].1 = "1".into();
    assert_eq!(
        post(&app, &sendgrid_url, &headers, &body),
        401,
        "another timestamp"
    );
    assert_eq!(post(&app, &sendgrid_url, &[], &body), 401, "unsigned");
    let postmark_body = serde_json::json!({"RecordType": "Bounce", "Type": "HardBounce",
        "Email": "stay@example.org", "Details": "smtp;550 5.1.1 user unknown", "Description": "gone"})
    .to_string();
    assert_eq!(
        post(
            &app,
            &postmark_url,
            &basic("postmark:wrong password"),
            &postmark_body
        ),
        401
    );
    assert_eq!(post(&app, &postmark_url, &[], &postmark_body), 401);
    assert_eq!(
        post(
            &app,
            "/hooks/bounces/postmark/0123456789abcdef0123456789abcdee",
            &basic(POSTMARK_AUTH),
            &postmark_body
        ),
        404,
        "another path"
    );
    assert_eq!(
        post(&app, &format!("/hooks/bounces/ses/{PATH}"), &[], "{}"),
        404,
        "a relay not configured"
    );
    assert_eq!(app.status_of("stay@example.org").as_deref(), Some("active"));
    assert_eq!(event_count(&app), before, "nothing recorded");

    // Mailgun: a permanent failure, found through our Message-ID; the same event again changes
    // nothing more.
    let gone = hard("gone@example.org", &msgid("gone@example.org"));
    assert_eq!(
        post(&app, &mailgun_url, &[], &mailgun(MAILGUN_KEY, gone.clone())),
        204
    );
    assert_eq!(
        app.status_of("gone@example.org").as_deref(),
        Some("bounced")
    );
    let n = event_count(&app);
    assert_eq!(
        post(&app, &mailgun_url, &[], &mailgun(MAILGUN_KEY, gone)),
        204
    );
    assert_eq!(event_count(&app), n, "a replay changes nothing");
    // A temporary failure is still being tried: nothing.
    let later = serde_json::json!({"event": "failed", "severity": "temporary", "reason": "generic",
        "recipient": "fine@example.org", "delivery-status": {"code": 421, "message": "try later"}});
    assert_eq!(
        post(&app, &mailgun_url, &[], &mailgun(MAILGUN_KEY, later)),
        204
    );
    // A report whose Message-ID is another reader's acts on nobody.
    let mixed = hard("target@example.org", &msgid("fine@example.org"));
    assert_eq!(
        post(&app, &mailgun_url, &[], &mailgun(MAILGUN_KEY, mixed)),
        204
    );
    assert_eq!(
        app.status_of("target@example.org").as_deref(),
        Some("active")
    );
    assert_eq!(app.status_of("fine@example.org").as_deref(), Some("active"));

    // SendGrid: a batch with a complaint, a delivery and a mailbox-full bounce.
    let batch = serde_json::json!([
        {"email": "angry@example.org", "event": "spamreport", "smtp-id": format!("<{}>", msgid("angry@example.org"))},
        {"email": "fine@example.org", "event": "delivered", "response": "250 OK"},
        {"email": "full@example.org", "event": "bounce", "type": "blocked", "status": "4.2.2",
            "reason": "452 4.2.2 mailbox full"},
    ])
    .to_string();
    assert_eq!(
        post(
            &app,
            &sendgrid_url,
            &sendgrid_headers(&sendgrid_key, &batch),
            &batch
        ),
        204
    );
    assert_eq!(
        app.status_of("angry@example.org").as_deref(),
        Some("complained")
    );
    assert_eq!(app.status_of("fine@example.org").as_deref(), Some("active"));
    assert_eq!(
        app.status_of("full@example.org").as_deref(),
        Some("active"),
        "one soft bounce is under the limit"
    );

    // Postmark: a hard bounce, found by its address (Postmark replaces our Message-ID).
    let moved = postmark_body.replace("stay@example.org", "moved@example.org");
    assert_eq!(
        post(&app, &postmark_url, &basic(POSTMARK_AUTH), &moved),
        204
    );
    assert_eq!(
        app.status_of("moved@example.org").as_deref(),
        Some("bounced")
    );
    let detail: String = app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_one!(
            c.conn(),
            (String,),
            "SELECT e.detail FROM subscriber_events e JOIN subscribers s ON s.id = e.subscriber_id \
             WHERE s.email = 'moved@example.org' ORDER BY e.id DESC LIMIT 1"
        )
        .unwrap()
        .0
    });
    assert!(
        detail.contains("webhook:postmark") && detail.contains("5.1.1"),
        "the evidence names the way and the code: {detail}"
    );
    // Not JSON: refused, nothing read.
    assert_eq!(
        post(&app, &postmark_url, &basic(POSTMARK_AUTH), "not json"),
        400
    );

    // The next edition goes to everyone not stopped.
    let second = compose(&app, &eng, "2026-11-01T09:00:00Z");
    send(&app, &eng, second, Duration::from_secs(30));
    let again = recipients_of(sink.messages(), second);
    assert_eq!(
        again,
        [
            "fine@example.org",
            "full@example.org",
            "stay@example.org",
            "target@example.org"
        ]
    );
}

/// A webhook's settings are checked when the configuration is read, naming the key.
#[test]
fn a_webhook_with_a_short_path_or_a_bad_key_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("jarida.toml");
    for (toml, key) in [
        (
            "[bounces.webhooks.mailgun]\npath_secret = \"short\"\nkey = \"k\"\n",
            "bounces.webhooks.mailgun.path_secret",
        ),
        (
            "[bounces.webhooks.sendgrid]\npath_secret = \"0123456789abcdef0123456789abcdef\"\nkey = \"bm90IGEga2V5\"\n",
            "bounces.webhooks.sendgrid.key",
        ),
    ] {
        std::fs::write(&conf, toml).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_jarida"))
            .args(["--config", conf.to_str().unwrap(), "config"])
            .env("JARIDA_DATA_DIR", dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{toml}");
        assert!(err.contains(key), "{key} named: {err}");
    }
}

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:jarida-bounces";
const CERT_URL: &str = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem";

/// An SNS message of `kind` carrying `message`, signed (version `version`: 1 is SHA-1, 2 is
/// SHA-256) with the key in `dir` by Debian's openssl, as SNS documents its signing.
fn sns_message(
    dir: &std::path::Path,
    kind: &str,
    message: &str,
    version: u8,
    at: i64,
) -> serde_json::Value {
    let ts = time::OffsetDateTime::from_unix_timestamp(at)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let id = format!("m-{at}-{}", message.len());
    let subscribe =
        "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=t";
    let signed = if kind == "Notification" {
        format!(
            "Message\n{message}\nMessageId\n{id}\nTimestamp\n{ts}\nTopicArn\n{TOPIC}\nType\n{kind}\n"
        )
    } else {
        format!(
            "Message\n{message}\nMessageId\n{id}\nSubscribeURL\n{subscribe}\nTimestamp\n{ts}\nToken\nt\nTopicArn\n{TOPIC}\nType\n{kind}\n"
        )
    };
    let file = dir.join("signed.txt");
    std::fs::write(&file, signed).unwrap();
    let digest = if version == 1 { "-sha1" } else { "-sha256" };
    let out = std::process::Command::new("openssl")
        .args(["dgst", digest, "-sign"])
        .arg(dir.join("key.pem"))
        .arg(&file)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::json!({
        "Type": kind, "MessageId": id, "TopicArn": TOPIC, "Message": message, "Timestamp": ts,
        "SignatureVersion": version.to_string(),
        "Signature": base64::engine::general_purpose::STANDARD.encode(out.stdout),
        "SigningCertURL": CERT_URL, "SubscribeURL": subscribe, "Token": "t",
    })
}

/// Amazon SES's notifications through SNS: taken when SNS's signature checks with the
/// certificate at an Amazon URL (kept in the data folder, as a fetched one is), in both signature
/// versions; refused for another topic, another certificate host, a changed message, an old
/// time, or a certificate that is not the signer's.
#[test]
fn amazon_ses_through_sns_is_checked_with_its_certificate() {
    let sink = Sink::start(&[]);
    let keys = tempfile::tempdir().unwrap();
    self_signed(keys.path(), "sns.amazonaws.com");
    let app = app_with(|c| {
        use_sink(c, &sink);
        c.bounces.webhooks.ses.path_secret = PATH.into();
        c.bounces.webhooks.ses.key = TOPIC.into();
    });
    let certs = jarida_newsletter::bounces::sns::Certificates::new(
        app.cfg.data_dir.join("sns-certificates"),
    );
    let kept = certs.file_of(CERT_URL);
    std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
    std::fs::copy(keys.path().join("cert.pem"), &kept).unwrap();
    let eng = engine(&app);
    let readers = [
        "bounce@example.org",
        "spam@example.org",
        "quiet@example.org",
        "keep@example.org",
    ];
    first_edition_to(&app, &eng, &readers);
    let url = format!("/hooks/bounces/ses/{PATH}");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let bounce = serde_json::json!({"notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": "bounce@example.org", "action": "failed",
                "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]},
        "mail": {"messageId": "ses-1", "commonHeaders": {"messageId": "<ses-1@email.amazonses.com>"}}})
    .to_string();
    let complaint = serde_json::json!({"notificationType": "Complaint",
        "complaint": {"complainedRecipients": [{"emailAddress": "spam@example.org"}],
            "complaintFeedbackType": "abuse"},
        "mail": {"messageId": "ses-2"}})
    .to_string();
    let post_sns = |v: &serde_json::Value| post(&app, &url, &[], &v.to_string());

    // Refused, with nothing read: a changed message, another topic, a certificate elsewhere, an
    // old time, a signature by another key.
    let good = sns_message(keys.path(), "Notification", &bounce, 2, now);
    let mut changed = good.clone();
    changed["Message"] = serde_json::Value::String(bounce.replace("bounce@", "keep@"));
    assert_eq!(post_sns(&changed), 401, "a changed message");
    let mut topic = good.clone();
    topic["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:other".into();
    assert_eq!(post_sns(&topic), 401, "another topic");
    let mut elsewhere = good.clone();
    elsewhere["SigningCertURL"] =
        "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem".into();
    assert_eq!(post_sns(&elsewhere), 401, "a certificate elsewhere");
    assert_eq!(
        post_sns(&sns_message(
            keys.path(),
            "Notification",
            &bounce,
            2,
            now - 13 * 3600
        )),
        401,
        "signed 13 hours ago"
    );
    let other_keys = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(other_keys.path().join("key.pem"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        post_sns(&sns_message(
            other_keys.path(),
            "Notification",
            &bounce,
            2,
            now
        )),
        401,
        "signed by a key that is not the certificate's"
    );
    for r in readers {
        assert_eq!(app.status_of(r).as_deref(), Some("active"), "{r}");
    }

    // Taken: a bounce signed with SHA-256, a complaint with SHA-1 (SNS's version 1).
    assert_eq!(post_sns(&good), 204);
    assert_eq!(
        app.status_of("bounce@example.org").as_deref(),
        Some("bounced")
    );
    assert_eq!(
        post_sns(&sns_message(
            keys.path(),
            "Notification",
            &complaint,
            1,
            now
        )),
        204
    );
    assert_eq!(
        app.status_of("spam@example.org").as_deref(),
        Some("complained")
    );
    // A delivery notice changes nothing.
    let delivery = serde_json::json!({"notificationType": "Delivery",
        "delivery": {"recipients": ["quiet@example.org"]}, "mail": {"messageId": "ses-3"}})
    .to_string();
    assert_eq!(
        post_sns(&sns_message(keys.path(), "Notification", &delivery, 2, now)),
        204
    );
    assert_eq!(
        app.status_of("quiet@example.org").as_deref(),
        Some("active")
    );
    assert_eq!(app.status_of("keep@example.org").as_deref(), Some("active"));

    // A subscription's confirmation, signed: jarida visits its Amazon URL to confirm. This
    // machine has no way out to Amazon, so the visit fails and SNS is told to try again (503);
    // unsigned, it is refused before any visit.
    let confirmation = sns_message(keys.path(), "SubscriptionConfirmation", "confirm", 2, now);
    let mut unsigned = confirmation.clone();
    unsigned["Signature"] = "AAAA".into();
    assert_eq!(post_sns(&unsigned), 401);
    assert_eq!(post_sns(&confirmation), 503);

    // The next edition skips the two stopped readers.
    let second = compose(&app, &eng, "2026-11-01T09:00:00Z");
    send(&app, &eng, second, Duration::from_secs(30));
    let again = recipients_of(sink.messages(), second);
    assert_eq!(again, ["keep@example.org", "quiet@example.org"]);
}

/// An SMTP server that refuses every recipient whose address starts with "refused" (550 5.1.1 at
/// RCPT, as a receiving server does for an unknown user) and keeps the rest: Debian's aiosmtpd,
/// since smtp-sink refuses all recipients or none.
struct RefusingSink {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl RefusingSink {
    fn start() -> RefusingSink {
        const SCRIPT: &str = r#"
import json, sys
try:
    from aiosmtpd.controller import Controller
except ImportError:
    sys.exit(3)
port, d = int(sys.argv[1]), sys.argv[2]
class Handler:
    n = 0
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refused"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"
    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        with open(f"{d}/msg-{Handler.n:05}.json", "w") as f:
            json.dump({"from": envelope.mail_from, "rcpts": envelope.rcpt_tos,
                       "data": envelope.content.decode("utf-8", "replace")}, f)
        return "250 2.0.0 OK"
c = Controller(Handler(), hostname="127.0.0.1", port=port)
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
"#;
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new("/usr/bin/python3")
            .args(["-c", SCRIPT, &port.to_string()])
            .arg(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("/usr/bin/python3 runs: install python3-aiosmtpd");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "aiosmtpd did not start (install python3-aiosmtpd)"
        );
        RefusingSink { child, port, dir }
    }

    fn messages(&self) -> Vec<Received> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .into_iter()
            .flat_map(|p| {
                let v: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
                let from = v["from"].as_str().unwrap().to_string();
                let data = v["data"].as_str().unwrap().as_bytes().to_vec();
                v["rcpts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| Received {
                        rcpt: r.as_str().unwrap().to_string(),
                        mail_from: from.clone(),
                        raw: data.clone(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

impl Drop for RefusingSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The loop end to end, every way at once: an edition goes out through a server that refuses one
/// reader at RCPT, a DSN for another comes back through the built-in receiver over SMTP, a
/// complaint for a third through Mailgun's webhook. Those three are stopped, the two others are
/// left exactly as they were, and the next edition goes to the two others only.
#[test]
fn refusals_returned_mail_and_a_webhook_complaint_stop_the_right_readers() {
    let server = RefusingSink::start();
    let receiver = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = app_with(|c| {
        c.mail.smtp_host = "127.0.0.1".into();
        c.mail.smtp_port = server.port;
        c.mail.smtp_tls = "none".parse().unwrap();
        c.bounces.listen = format!("127.0.0.1:{receiver}");
        c.bounces.webhooks.mailgun.path_secret = PATH.into();
        c.bounces.webhooks.mailgun.key = MAILGUN_KEY.into();
    });
    let eng = engine(&app);
    let readers = [
        "refused@example.org",
        "dsn@example.org",
        "complaint@example.org",
        "fine@example.org",
        "also-fine@example.org",
    ];
    add_readers(
        &app,
        &readers.iter().map(|e| (*e, "en")).collect::<Vec<_>>(),
    );
    let events_of = |email: &str| -> Vec<String> {
        app.rt.block_on(async {
            let mut c = app.db.acquire().await.unwrap();
            jarida_store::q_all!(
                c.conn(),
                (String,),
                "SELECT e.kind FROM subscriber_events e JOIN subscribers s ON s.id = e.subscriber_id \
                 WHERE s.email = $1 ORDER BY e.id",
                email
            )
            .unwrap()
            .into_iter()
            .map(|r| r.0)
            .collect()
        })
    };
    let before = [
        events_of("fine@example.org"),
        events_of("also-fine@example.org"),
    ];
    let first = compose(&app, &eng, "2026-10-15T09:00:00Z");
    send(&app, &eng, first, Duration::from_secs(30));
    let got = by_rcpt(server.messages());
    assert_eq!(got.len(), 4, "all but the refused reader");
    assert_eq!(
        app.status_of("refused@example.org").as_deref(),
        Some("bounced"),
        "refused at RCPT"
    );

    // A DSN through the receiver, to the signed return path of dsn@'s message.
    let m = &got["dsn@example.org"];
    let id = m.header("Message-ID").unwrap();
    let dsn = String::from_utf8_lossy(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../jarida-mail/tests/fixtures/bounces/gmail-address-not-found.eml"),
        )
        .unwrap(),
    )
    .replace("%VERP%", &m.mail_from)
    .replace("%MSGID%", id.trim_matches(['<', '>']));
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("dsn.eml");
    std::fs::write(&file, dsn).unwrap();
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import smtplib, sys\ns = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=20)\n\
             s.sendmail('', [sys.argv[2]], open(sys.argv[3], 'rb').read())\ns.quit()\n",
            &receiver.to_string(),
            &m.mail_from,
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        app.status_of("dsn@example.org").as_deref(),
        Some("bounced"),
        "the DSN"
    );

    // A complaint through Mailgun's webhook.
    let c = &got["complaint@example.org"];
    let complaint = serde_json::json!({"event": "complained", "recipient": "complaint@example.org",
        "message": {"headers": {"message-id": c.header("Message-ID").unwrap().trim_matches(['<', '>'])}}});
    assert_eq!(
        post(
            &app,
            &format!("/hooks/bounces/mailgun/{PATH}"),
            &[],
            &mailgun(MAILGUN_KEY, complaint)
        ),
        204
    );
    assert_eq!(
        app.status_of("complaint@example.org").as_deref(),
        Some("complained")
    );

    // Nothing else changed: the other two readers' histories gained only their edition's
    // delivery (none is recorded as an event), and they stay active.
    for (email, was) in ["fine@example.org", "also-fine@example.org"]
        .iter()
        .zip(before)
    {
        assert_eq!(app.status_of(email).as_deref(), Some("active"));
        assert_eq!(events_of(email), was, "{email}'s history");
    }
    let second = compose(&app, &eng, "2026-11-01T09:00:00Z");
    send(&app, &eng, second, Duration::from_secs(30));
    assert_eq!(
        recipients_of(server.messages(), second),
        ["also-fine@example.org", "fine@example.org"]
    );
}
