//! Amazon SES's bounce and complaint notifications, which arrive through an SNS topic's HTTPS
//! subscription. SNS signs each message with an RSA key whose certificate it names by URL; the
//! request is taken only when the topic is one configured, the URL is Amazon's SNS host over
//! HTTPS, the signature checks with that certificate (fetched once, kept in the data folder) and
//! the signed time is fresh. A subscription's confirmation is answered by visiting its
//! (Amazon, HTTPS) confirmation URL, as SNS asks.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use jarida_mail::bounce::{Kind, Report};
use rustls_pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm};
use serde_json::Value;
use sha2::Digest;

use super::hooks::{Hook, HookError, MAX_SKEW, failure, report, text};

/// The fields of an SNS message (`Type`, `Message`, …); those its signature covers and those that
/// say how to check it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnsMessage {
    #[serde(rename = "Type")]
    pub kind: String,
    pub message_id: String,
    pub topic_arn: String,
    #[serde(default)]
    pub subject: Option<String>,
    pub message: String,
    pub timestamp: String,
    pub signature_version: String,
    pub signature: String,
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
    #[serde(rename = "SubscribeURL", default)]
    pub subscribe_url: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
}

/// What a checked SNS message asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnsAction {
    /// A new subscription: visit this (Amazon) URL to confirm it.
    Confirm(String),
    /// SES's notification, one report per recipient.
    Reports(Vec<Report>),
    /// Nothing to do (an unsubscribe confirmation, a delivery notice).
    Nothing,
}

/// Reads an SNS request and checks what needs no certificate: the topic is one of the hook's
/// (its `key`: topic ARNs separated by commas or spaces), the certificate URL is Amazon's, the
/// signed time is within [`MAX_SKEW`] of `now`.
pub fn envelope(hook: &Hook, body: &[u8], now: i64) -> Result<SnsMessage, HookError> {
    let m: SnsMessage = serde_json::from_slice(body)
        .map_err(|e| HookError::Malformed("ses", format!("not an SNS message: {e}")))?;
    let allowed = hook
        .key
        .split([',', ' ', '\n'])
        .map(str::trim)
        .any(|arn| !arn.is_empty() && arn == m.topic_arn);
    if !allowed {
        return Err(HookError::Unauthenticated("topic"));
    }
    if !amazon_url(&m.signing_cert_url, true) {
        return Err(HookError::Unauthenticated("certificate URL"));
    }
    let at =
        time::OffsetDateTime::parse(&m.timestamp, &time::format_description::well_known::Rfc3339)
            .map_err(|_| HookError::Unauthenticated("timestamp"))?
            .unix_timestamp();
    if (now - at).abs() > MAX_SKEW {
        return Err(HookError::Unauthenticated("timestamp"));
    }
    Ok(m)
}

/// Whether `url` is `https://sns.<region>.amazonaws.com[.cn]/…` (and, for a certificate, ends in
/// `.pem`): the only place SNS certificates and confirmations come from.
pub fn amazon_url(url: &str, pem: bool) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let region = host
        .strip_prefix("sns.")
        .and_then(|h| {
            h.strip_suffix(".amazonaws.com")
                .or_else(|| h.strip_suffix(".amazonaws.com.cn"))
        })
        .unwrap_or_default();
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let path_ok = if pem {
        path.ends_with(".pem") && !path.contains(['?', '#'])
    } else {
        true
    };
    region_ok && path_ok && !url.contains(char::is_whitespace)
}

/// The text SNS signs: the message's fields, each name and value on its own line, in this order.
fn string_to_sign(m: &SnsMessage) -> Result<String, HookError> {
    let mut fields: Vec<(&str, &str)> = vec![("Message", &m.message), ("MessageId", &m.message_id)];
    match m.kind.as_str() {
        "Notification" => {
            if let Some(s) = &m.subject {
                fields.push(("Subject", s));
            }
        }
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
            let url = m.subscribe_url.as_deref().unwrap_or_default();
            fields.push(("SubscribeURL", url));
        }
        other => {
            return Err(HookError::Malformed(
                "ses",
                format!("an SNS message of type {other:?}"),
            ));
        }
    }
    fields.push(("Timestamp", &m.timestamp));
    if m.kind != "Notification" {
        fields.push(("Token", m.token.as_deref().unwrap_or_default()));
    }
    fields.push(("TopicArn", &m.topic_arn));
    fields.push(("Type", &m.kind));
    let mut out = String::new();
    for (k, v) in fields {
        out.push_str(k);
        out.push('\n');
        out.push_str(v);
        out.push('\n');
    }
    Ok(out)
}

/// RSA PKCS#1 v1.5 signatures for webpki's check of a signature made with a certificate's key:
/// SNS signs with SHA-1 (version 1) or SHA-256 (version 2), and webpki offers no SHA-1.
#[derive(Debug)]
struct RsaPkcs1 {
    params: &'static aws_lc_rs::signature::RsaParameters,
    id: AlgorithmIdentifier,
}

impl SignatureVerificationAlgorithm for RsaPkcs1 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        aws_lc_rs::signature::UnparsedPublicKey::new(self.params, public_key)
            .verify(message, signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        rustls_pki_types::alg_id::RSA_ENCRYPTION
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.id
    }
}

/// sha1WithRSAEncryption with its NULL parameters (RFC 3279), as webpki writes identifiers.
const RSA_PKCS1_SHA1_ID: AlgorithmIdentifier = AlgorithmIdentifier::from_slice(&[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00,
]);

static SHA1: RsaPkcs1 = RsaPkcs1 {
    params: &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
    id: RSA_PKCS1_SHA1_ID,
};
static SHA256: RsaPkcs1 = RsaPkcs1 {
    params: &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
    id: rustls_pki_types::alg_id::RSA_PKCS1_SHA256,
};

/// Checks `m`'s signature with the certificate `cert_der` (DER) and reads what it asks.
pub fn read(m: &SnsMessage, cert_der: &[u8]) -> Result<SnsAction, HookError> {
    let signed = string_to_sign(m)?;
    let alg: &dyn SignatureVerificationAlgorithm = match m.signature_version.as_str() {
        "1" => &SHA1,
        "2" => &SHA256,
        _ => return Err(HookError::Unauthenticated("signature version")),
    };
    let sig = base64::engine::general_purpose::STANDARD
        .decode(m.signature.trim())
        .map_err(|_| HookError::Unauthenticated("signature"))?;
    let der = rustls_pki_types::CertificateDer::from(cert_der);
    let cert = webpki::EndEntityCert::try_from(&der)
        .map_err(|_| HookError::Unauthenticated("certificate"))?;
    cert.verify_signature(alg, signed.as_bytes(), &sig)
        .map_err(|_| HookError::Unauthenticated("signature"))?;
    match m.kind.as_str() {
        "SubscriptionConfirmation" => match m.subscribe_url.as_deref() {
            Some(url) if amazon_url(url, false) => Ok(SnsAction::Confirm(url.to_string())),
            _ => Err(HookError::Unauthenticated("subscription URL")),
        },
        "Notification" => Ok(SnsAction::Reports(ses_reports(&m.message)?)),
        _ => Ok(SnsAction::Nothing),
    }
}

/// SES's notification (the SNS message's `Message`, itself JSON): bounces and complaints, in the
/// notification format (`notificationType`) or the event publishing one (`eventType`).
fn ses_reports(message: &str) -> Result<Vec<Report>, HookError> {
    let v: Value = serde_json::from_str(message)
        .map_err(|e| HookError::Malformed("ses", format!("not an SES notification: {e}")))?;
    let kind = v
        .get("notificationType")
        .or_else(|| v.get("eventType"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let message_id = v
        .pointer("/mail/commonHeaders/messageId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let list = |v: &Value, key: &str| -> Vec<Value> {
        v.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    Ok(match kind {
        "Bounce" => {
            let b = v.get("bounce").cloned().unwrap_or(Value::Null);
            let (ty, sub) = (text(&b, "bounceType"), text(&b, "bounceSubType"));
            list(&b, "bouncedRecipients")
                .iter()
                .map(|r| {
                    let to = text(r, "emailAddress");
                    let diag = text(r, "diagnosticCode");
                    let words = if diag.is_empty() { sub } else { diag };
                    match (ty, sub) {
                        // Not sent: the address is on SES's suppression lists.
                        ("Permanent", "Suppressed" | "OnAccountSuppressionList") => report(
                            Kind::Hard,
                            to,
                            None,
                            "suppressed by the relay: the address bounced before",
                            message_id,
                        ),
                        ("Permanent", _) => {
                            failure(to, text(r, "status"), words, Kind::Hard, message_id)
                        }
                        ("Transient", _) => {
                            failure(to, text(r, "status"), words, Kind::Soft, message_id)
                        }
                        _ => report(Kind::Unknown, to, None, "", ""),
                    }
                })
                .collect()
        }
        "Complaint" => {
            let c = v.get("complaint").cloned().unwrap_or(Value::Null);
            let not_spam = text(&c, "complaintFeedbackType") == "not-spam";
            list(&c, "complainedRecipients")
                .iter()
                .map(|r| {
                    let kind = if not_spam {
                        Kind::Unknown
                    } else {
                        Kind::Complaint
                    };
                    report(kind, text(r, "emailAddress"), None, "", message_id)
                })
                .collect()
        }
        _ => Vec::new(),
    })
}

/// The SNS certificates seen, by URL: in memory, and as PEM files in a folder so that a restart
/// does not fetch them again. A URL is fetched only when [`amazon_url`] accepts it.
pub struct Certificates {
    dir: PathBuf,
    known: Mutex<HashMap<String, Arc<Vec<u8>>>>,
}

/// How long a fetch from Amazon may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

impl Certificates {
    pub fn new(dir: PathBuf) -> Certificates {
        Certificates {
            dir,
            known: Mutex::new(HashMap::new()),
        }
    }

    /// The file a certificate's PEM is kept in.
    pub fn file_of(&self, url: &str) -> PathBuf {
        self.dir
            .join(format!("{}.pem", hex::encode(sha2::Sha256::digest(url))))
    }

    /// The certificate (DER) at `url`.
    pub async fn get(&self, url: &str) -> Result<Arc<Vec<u8>>, HookError> {
        if !amazon_url(url, true) {
            return Err(HookError::Unauthenticated("certificate URL"));
        }
        if let Some(der) = self
            .known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(url)
        {
            return Ok(der.clone());
        }
        let file = self.file_of(url);
        let pem = match tokio::fs::read(&file).await {
            Ok(pem) => pem,
            Err(_) => {
                let pem = https_get(url, 64 * 1024)
                    .await
                    .map_err(|e| HookError::Fetch(format!("{url}: {e}")))?;
                // Kept for the next start; a failure to keep it costs a fetch then.
                if tokio::fs::create_dir_all(&self.dir).await.is_ok()
                    && let Err(e) = tokio::fs::write(&file, &pem).await
                {
                    tracing::warn!(error = %e, file = %file.display(), "keeping an SNS certificate");
                }
                pem
            }
        };
        use rustls_pki_types::pem::PemObject;
        let der = rustls_pki_types::CertificateDer::from_pem_slice(&pem)
            .map_err(|_| HookError::Unauthenticated("certificate"))?;
        let der = Arc::new(der.as_ref().to_vec());
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= 64 {
            known.clear();
        }
        known.insert(url.to_string(), der.clone());
        Ok(der)
    }
}

/// Confirms an SNS subscription by visiting its URL (Amazon's, checked by [`read`]).
pub async fn confirm(url: &str) -> Result<(), HookError> {
    if !amazon_url(url, false) {
        return Err(HookError::Unauthenticated("subscription URL"));
    }
    https_get(url, 64 * 1024)
        .await
        .map(|_| ())
        .map_err(|e| HookError::Fetch(format!("confirming the subscription: {e}")))
}

/// A GET over HTTPS (the system's trusted roots), its body up to `max` bytes, within
/// [`FETCH_TIMEOUT`]. hyper's client connection over tokio-rustls: two requests to one Amazon
/// host do not need a pooled client.
async fn https_get(url: &str, max: usize) -> Result<Vec<u8>, String> {
    use http_body_util::BodyExt;
    use tokio_rustls::rustls;
    let rest = url.strip_prefix("https://").ok_or("not an https URL")?;
    let (host, path) = match rest.split_once('/') {
        Some((h, p)) => (h.to_string(), format!("/{p}")),
        None => (rest.to_string(), "/".to_string()),
    };
    let work = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), 443))
            .await
            .map_err(|e| e.to_string())?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let config = rustls_platform_verifier::BuilderVerifierExt::with_platform_verifier(config)
            .map_err(|e| e.to_string())?
            .with_no_client_auth();
        let name =
            rustls_pki_types::ServerName::try_from(host.clone()).map_err(|e| e.to_string())?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header("host", host.as_str())
            .header("user-agent", "jarida")
            .body(http_body_util::Empty::<hyper::body::Bytes>::new())
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("the server answered {}", resp.status()));
        }
        let body = http_body_util::Limited::new(resp.into_body(), max)
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        Ok(body.to_bytes().to_vec())
    };
    tokio::time::timeout(FETCH_TIMEOUT, work)
        .await
        .map_err(|_| "no answer in time".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_amazon_sns_urls_over_https() {
        let ok = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem";
        assert!(amazon_url(ok, true));
        assert!(amazon_url(
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
            true
        ));
        for bad in [
            "http://sns.eu-west-1.amazonaws.com/x.pem",
            "https://sns.eu-west-1.amazonaws.com.evil.org/x.pem",
            "https://evil.org/sns.eu-west-1.amazonaws.com/x.pem",
            "https://sns..amazonaws.com/x.pem",
            "https://user@sns.eu-west-1.amazonaws.com/x.pem",
            "https://sns.eu-west-1.amazonaws.com:8443/x.pem",
            "https://sns.eu-west-1.amazonaws.com/x.pem?a=b",
            "https://sns.eu-west-1.amazonaws.com/x",
        ] {
            assert!(!amazon_url(bad, true), "{bad}");
        }
        assert!(amazon_url(
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=x",
            false
        ));
    }

    #[test]
    fn the_signed_text_follows_the_type() {
        let m = SnsMessage {
            kind: "Notification".into(),
            message_id: "id".into(),
            topic_arn: "arn".into(),
            subject: None,
            message: "{}".into(),
            timestamp: "2026-12-07T10:00:00.000Z".into(),
            signature_version: "2".into(),
            signature: String::new(),
            signing_cert_url: String::new(),
            subscribe_url: None,
            token: None,
        };
        assert_eq!(
            string_to_sign(&m).unwrap(),
            "Message\n{}\nMessageId\nid\nTimestamp\n2026-12-07T10:00:00.000Z\nTopicArn\narn\nType\nNotification\n"
        );
    }
}
