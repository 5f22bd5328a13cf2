//! Relays' webhooks for returned mail and complaints: Mailgun, SendGrid and Postmark here, Amazon
//! SES (through SNS, whose check needs a certificate fetched by URL) in [`super::sns`]. A request is
//! checked first (Mailgun's HMAC, SendGrid's ECDSA signature, Postmark's HTTP basic credentials:
//! Postmark signs nothing, so its URL's secret path and credentials are what it offers), then read
//! into [`Report`]s, one per recipient event, that [`super::ingest_relayed`] acts on like a returned
//! message. A request that fails its check is read no further.
//!
//! A signed timestamp more than [`MAX_SKEW`] away from now is refused. A replayed SendGrid or
//! Postmark request repeats what was recorded once per reader, edition and kind, so it changes
//! nothing. Mailgun's signature covers its token and timestamp but not the body, so a signature
//! seen once must not be taken again with another body: [`Checked::nonce`] is for the caller to
//! remember.

use aws_lc_rs::{hmac, signature};
use base64::Engine;
use jarida_mail::bounce::{Kind, Report, Token};
use serde_json::Value;

/// A relay that reports by webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Mailgun,
    SendGrid,
    Postmark,
    /// Amazon SES through an SNS topic ([`super::sns`]).
    Ses,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::Mailgun,
        Provider::SendGrid,
        Provider::Postmark,
        Provider::Ses,
    ];

    /// The name in its URL (`/hooks/bounces/<name>/<secret>`) and in the configuration.
    pub fn slug(self) -> &'static str {
        match self {
            Provider::Mailgun => "mailgun",
            Provider::SendGrid => "sendgrid",
            Provider::Postmark => "postmark",
            Provider::Ses => "ses",
        }
    }

    pub fn from_slug(s: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.slug() == s)
    }
}

/// One relay's webhook as configured (`bounces.webhooks.<provider>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub provider: Provider,
    /// The secret last segment of its URL: a request elsewhere is not found.
    pub path: String,
    /// What its requests are checked with. Mailgun: the HTTP webhook signing key. SendGrid: the
    /// signed event webhook's verification key (base64, as its settings show it). Postmark:
    /// `user:password` of the basic authentication set in the webhook's URL. SES: the SNS topics'
    /// ARNs (separated by commas or spaces).
    pub key: String,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HookError {
    /// Missing, malformed or wrong signature or credentials: nothing is read.
    #[error("the request's {0} does not check")]
    Unauthenticated(&'static str),
    /// The configured key cannot be used (said at startup too).
    #[error("the configured key of the {0} webhook is not usable: {1}")]
    Key(&'static str, String),
    /// Signed, but not what this relay sends.
    #[error("the request's body is not a {0} webhook: {1}")]
    Malformed(&'static str, String),
    /// What checking it needs could not be fetched (SNS's certificate): the relay tries again.
    #[error("fetching {0}")]
    Fetch(String),
}

/// Whether `key` is usable for `provider` (checked when the configuration is read).
pub fn check_key(provider: Provider, key: &str) -> Result<(), HookError> {
    match provider {
        Provider::SendGrid => sendgrid_point(key).map(|_| ()),
        Provider::Mailgun if key.trim().is_empty() => {
            Err(HookError::Key("mailgun", "the signing key is empty".into()))
        }
        Provider::Postmark if !key.contains(':') || key.len() < 12 => Err(HookError::Key(
            "postmark",
            "give user:password (at least 12 characters in all)".into(),
        )),
        Provider::Ses
            if !key
                .split([',', ' ', '\n'])
                .any(|a| a.starts_with("arn:aws")) =>
        {
            Err(HookError::Key(
                "ses",
                "give the SNS topic's ARN (arn:aws:sns:<region>:<account>:<topic>)".into(),
            ))
        }
        _ => Ok(()),
    }
}

/// How far a request's signed timestamp may be from now (relays retry for hours; a captured
/// request is not taken a day later).
pub const MAX_SKEW: i64 = 12 * 3600;

/// A request that passed its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub reports: Vec<Report>,
    /// A value the signature covers that must be taken once only, and its signed time (Mailgun's
    /// token): the caller refuses a request whose nonce it has seen.
    pub nonce: Option<(String, i64)>,
}

/// Checks one request to `hook` and reads its events. `header` looks a request header up by
/// name (any case); `now` is unix seconds.
pub fn read(
    hook: &Hook,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    now: i64,
) -> Result<Checked, HookError> {
    match hook.provider {
        Provider::Mailgun => mailgun(&hook.key, body, now),
        Provider::SendGrid => Ok(Checked {
            reports: sendgrid(&hook.key, header, body, now)?,
            nonce: None,
        }),
        Provider::Postmark => Ok(Checked {
            reports: postmark(&hook.key, header, body)?,
            nonce: None,
        }),
        Provider::Ses => Err(HookError::Malformed(
            "ses",
            "SNS messages are checked by bounces::sns".into(),
        )),
    }
}

/// A signed timestamp, refused when too far from `now`.
fn fresh(ts: &str, now: i64) -> Result<i64, HookError> {
    let t: i64 = ts
        .trim()
        .parse()
        .map_err(|_| HookError::Unauthenticated("timestamp"))?;
    if (now - t).abs() > MAX_SKEW {
        return Err(HookError::Unauthenticated("timestamp"));
    }
    Ok(t)
}

fn json(provider: &'static str, body: &[u8]) -> Result<Value, HookError> {
    serde_json::from_slice(body).map_err(|e| HookError::Malformed(provider, e.to_string()))
}

pub(super) fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A report of `kind` about `recipient`, with our tokens read from `message_id`.
pub(super) fn report(
    kind: Kind,
    recipient: &str,
    status: Option<String>,
    words: &str,
    message_id: &str,
) -> Report {
    let mut tokens: Vec<Token> = Vec::new();
    jarida_mail::bounce::tokens(message_id.as_bytes(), &mut tokens);
    Report {
        kind,
        recipient: Some(recipient.trim().to_lowercase()).filter(|r| r.contains('@')),
        status,
        diagnostic: jarida_mail::bounce::diagnostic(words),
        feedback_type: (kind == Kind::Complaint).then(|| "abuse".to_string()),
        tokens,
        addressed_to: Vec::new(),
    }
}

/// A failure's report, its kind read from the code and words (`otherwise` when they say nothing).
pub(super) fn failure(
    recipient: &str,
    status: &str,
    words: &str,
    otherwise: Kind,
    message_id: &str,
) -> Report {
    let (kind, code) = jarida_mail::bounce::judge(status, words, otherwise);
    report(kind, recipient, code, words, message_id)
}

// --- Mailgun --------------------------------------------------------------------------------------

/// Mailgun's webhooks (JSON): `signature` holds a timestamp, a token and their HMAC-SHA256 under
/// the account's webhook signing key; `event-data` one event.
fn mailgun(key: &str, body: &[u8], now: i64) -> Result<Checked, HookError> {
    let v = json("mailgun", body)?;
    let sig = v
        .get("signature")
        .ok_or(HookError::Unauthenticated("signature"))?;
    let (ts, token, given) = (
        text(sig, "timestamp"),
        text(sig, "token"),
        text(sig, "signature"),
    );
    let given = hex::decode(given).map_err(|_| HookError::Unauthenticated("signature"))?;
    if ts.is_empty() || token.is_empty() || key.is_empty() {
        return Err(HookError::Unauthenticated("signature"));
    }
    let k = hmac::Key::new(hmac::HMAC_SHA256, key.trim().as_bytes());
    hmac::verify(&k, format!("{ts}{token}").as_bytes(), &given)
        .map_err(|_| HookError::Unauthenticated("signature"))?;
    let at = fresh(ts, now)?;
    let nonce = Some((token.to_string(), at));
    let e = v
        .get("event-data")
        .ok_or_else(|| HookError::Malformed("mailgun", "no event-data".into()))?;
    let recipient = text(e, "recipient");
    let message_id = e
        .pointer("/message/headers/message-id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let status = e.get("delivery-status").cloned().unwrap_or(Value::Null);
    let code = match status.get("enhanced-code").and_then(Value::as_str) {
        Some(c) if !c.is_empty() => c.to_string(),
        _ => status
            .get("code")
            .map(|c| c.to_string())
            .unwrap_or_default(),
    };
    let words = format!(
        "{} {}",
        text(&status, "message"),
        text(&status, "description")
    );
    let reason = text(e, "reason");
    let r = match (text(e, "event"), text(e, "severity"), reason) {
        ("complained", _, _) => report(Kind::Complaint, recipient, None, "", message_id),
        // Not tried: the address is on Mailgun's own lists.
        ("failed", _, "suppress-bounce") => report(
            Kind::Hard,
            recipient,
            None,
            "suppressed by the relay: the address bounced before",
            message_id,
        ),
        ("failed", _, "suppress-complaint") => report(
            Kind::Complaint,
            recipient,
            None,
            "suppressed by the relay: the reader complained before",
            message_id,
        ),
        ("failed", _, "suppress-unsubscribe") => report(Kind::Unknown, recipient, None, "", ""),
        ("failed", "permanent", _) => failure(recipient, &code, &words, Kind::Hard, message_id),
        // Mailgun gave up after its retries ("old"): a soft failure.
        ("failed", _, "old") => failure(recipient, &code, &words, Kind::Soft, message_id),
        ("failed", "temporary", _) => report(Kind::Delayed, recipient, None, &words, message_id),
        _ => report(Kind::Unknown, recipient, None, "", ""),
    };
    Ok(Checked {
        reports: vec![r],
        nonce,
    })
}

// --- SendGrid -------------------------------------------------------------------------------------

/// The DER prefix of a P-256 public key's SubjectPublicKeyInfo (id-ecPublicKey, prime256v1, then
/// the BIT STRING of an uncompressed point): SendGrid's verification key is always this shape, so
/// checking the fixed prefix is the whole parse, without taking an ASN.1 crate for 26 bytes.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The uncompressed point of SendGrid's verification key.
fn sendgrid_point(key: &str) -> Result<Vec<u8>, HookError> {
    let compact: String = key.split_whitespace().collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| HookError::Key("sendgrid", format!("not base64: {e}")))?;
    match der.strip_prefix(&P256_SPKI_PREFIX[..]) {
        Some(point) if point.len() == 65 && point[0] == 4 => Ok(point.to_vec()),
        _ => Err(HookError::Key(
            "sendgrid",
            "not an ECDSA P-256 public key (SubjectPublicKeyInfo)".into(),
        )),
    }
}

/// SendGrid's signed event webhook: the body is a JSON array of events; the signature (base64
/// DER ECDSA P-256 with SHA-256) is over the timestamp header's value followed by the body.
fn sendgrid(
    key: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    now: i64,
) -> Result<Vec<Report>, HookError> {
    let point = sendgrid_point(key)?;
    let sig = header("x-twilio-email-event-webhook-signature")
        .and_then(|s| {
            base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .ok()
        })
        .ok_or(HookError::Unauthenticated("signature"))?;
    let ts = header("x-twilio-email-event-webhook-timestamp")
        .ok_or(HookError::Unauthenticated("signature"))?;
    let mut signed = ts.into_bytes();
    signed.extend_from_slice(body);
    signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &point)
        .verify(&signed, &sig)
        .map_err(|_| HookError::Unauthenticated("signature"))?;
    fresh(
        &String::from_utf8_lossy(&signed[..signed.len() - body.len()]),
        now,
    )?;
    let v = json("sendgrid", body)?;
    let events = v
        .as_array()
        .ok_or_else(|| HookError::Malformed("sendgrid", "not an array of events".into()))?;
    Ok(events.iter().map(sendgrid_event).collect())
}

fn sendgrid_event(e: &Value) -> Report {
    let recipient = text(e, "email");
    let message_id = text(e, "smtp-id");
    let status = text(e, "status");
    let reason = text(e, "reason");
    match text(e, "event") {
        "spamreport" => report(Kind::Complaint, recipient, None, "", message_id),
        // A bounce of type "blocked" is a refusal for now (SendGrid's soft bounce).
        "bounce" if text(e, "type") == "blocked" => {
            failure(recipient, status, reason, Kind::Soft, message_id)
        }
        "bounce" => failure(recipient, status, reason, Kind::Hard, message_id),
        "deferred" => report(Kind::Delayed, recipient, None, reason, message_id),
        // Not sent by SendGrid, and why.
        "dropped" => match reason {
            "Bounced Address" | "Invalid" => report(
                Kind::Hard,
                recipient,
                None,
                &format!("dropped by the relay: {reason}"),
                message_id,
            ),
            "Spam Reporting Address" => report(Kind::Complaint, recipient, None, "", message_id),
            "Unsubscribed Address" | "Invalid SMTPAPI header" => {
                report(Kind::Unknown, recipient, None, "", "")
            }
            _ => report(
                Kind::Policy,
                recipient,
                None,
                &format!("dropped by the relay: {reason}"),
                message_id,
            ),
        },
        _ => report(Kind::Unknown, recipient, None, "", ""),
    }
}

// --- Postmark -------------------------------------------------------------------------------------

/// Postmark's bounce and spam complaint webhooks: one JSON object per request, behind the basic
/// authentication given in the webhook's URL (Postmark signs nothing).
fn postmark(
    key: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
) -> Result<Vec<Report>, HookError> {
    let given = header("authorization")
        .and_then(|h| {
            let (scheme, rest) = h.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("basic")
                .then(|| {
                    base64::engine::general_purpose::STANDARD
                        .decode(rest.trim())
                        .ok()
                })
                .flatten()
        })
        .ok_or(HookError::Unauthenticated("credentials"))?;
    if key.is_empty() || !constant_time_eq(&given, key.as_bytes()) {
        return Err(HookError::Unauthenticated("credentials"));
    }
    let e = json("postmark", body)?;
    let recipient = text(&e, "Email");
    let words = format!("{} {}", text(&e, "Description"), text(&e, "Details"));
    let r = match (text(&e, "RecordType"), text(&e, "Type")) {
        ("SpamComplaint", _) | (_, "SpamComplaint") => {
            report(Kind::Complaint, recipient, None, "", "")
        }
        ("Bounce", "HardBounce" | "BadEmailAddress") => {
            failure(recipient, text(&e, "Details"), &words, Kind::Hard, "")
        }
        ("Bounce", "SoftBounce" | "DnsError") => {
            failure(recipient, text(&e, "Details"), &words, Kind::Soft, "")
        }
        ("Bounce", "Transient") => report(Kind::Delayed, recipient, None, &words, ""),
        ("Bounce", "AutoResponder") => report(Kind::AutoReply, recipient, None, "", ""),
        ("Bounce", "Blocked" | "DMARCPolicy" | "SpamNotification" | "VirusNotification") => {
            report(Kind::Policy, recipient, None, &words, "")
        }
        ("Bounce", _) | ("", _) => report(Kind::Unknown, recipient, None, "", ""),
        (other, _) => {
            return Err(HookError::Malformed(
                "postmark",
                format!("record type {other:?} is not a bounce or a complaint"),
            ));
        }
    };
    Ok(vec![r])
}

/// Compares without stopping at the first difference (credentials).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let ka = hmac::Key::new(hmac::HMAC_SHA256, b"jarida credentials compare");
    // Equal lengths are not required: comparing the MACs hides both content and length.
    let ta = hmac::sign(&ka, a);
    hmac::verify(&ka, b, ta.as_ref()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn mailgun_checks_its_signature_and_reads_a_permanent_failure() {
        let key = "key-test";
        let k = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
        let sig = hex::encode(hmac::sign(&k, b"1700000000abc").as_ref());
        let body = serde_json::json!({
            "signature": {"timestamp": "1700000000", "token": "abc", "signature": sig},
            "event-data": {"event": "failed", "severity": "permanent", "reason": "bounce",
                "recipient": "Ann@Example.org",
                "delivery-status": {"code": 550, "message": "5.1.1 user unknown", "description": ""},
                "message": {"headers": {"message-id": "x@y"}}}
        })
        .to_string();
        let hook = Hook {
            provider: Provider::Mailgun,
            path: "p".into(),
            key: key.into(),
        };
        let checked = read(&hook, &none, body.as_bytes(), 1_700_000_100).unwrap();
        assert_eq!(checked.nonce, Some(("abc".to_string(), 1_700_000_000)));
        let r = checked.reports;
        assert_eq!(r[0].kind, Kind::Hard);
        assert_eq!(r[0].recipient.as_deref(), Some("ann@example.org"));
        assert_eq!(r[0].status.as_deref(), Some("5.1.1"));
        let forged = body.replace("1700000000", "1700000001");
        assert_eq!(
            read(&hook, &none, forged.as_bytes(), 1_700_000_100),
            Err(HookError::Unauthenticated("signature"))
        );
        assert_eq!(
            read(&hook, &none, body.as_bytes(), 1_700_000_000 + MAX_SKEW + 1),
            Err(HookError::Unauthenticated("timestamp")),
            "a day-old request"
        );
    }

    #[test]
    fn keys_are_checked() {
        assert!(check_key(Provider::SendGrid, "bm90IGEga2V5").is_err());
        assert!(check_key(Provider::Postmark, "short").is_err());
        assert!(check_key(Provider::Postmark, "hooks:a long password").is_ok());
        assert!(check_key(Provider::Mailgun, " ").is_err());
    }

    #[test]
    fn credentials_compare_whole() {
        assert!(constant_time_eq(b"a:b", b"a:b"));
        assert!(!constant_time_eq(b"a:b", b"a:c"));
        assert!(!constant_time_eq(b"a:b", b"a:bb"));
    }
}
