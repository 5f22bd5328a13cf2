//! Email out: builds MIME messages (text and HTML alternatives, UTF-8 headers) and hands them to a
//! transport, either an outbox folder of `.eml` files (the default, until a relay is configured) or an
//! SMTP relay with TLS none / STARTTLS / implicit and optional authentication. It knows nothing of
//! newsletters or subscribers: it sends and reports what the relay said. Only the transactional
//! mail queue (`queue`, the default cargo feature) touches the database; without the feature the
//! crate does not depend on the store.

pub mod bounce;
pub mod bulk;
pub mod dkim;
pub mod probe;
#[cfg(feature = "queue")]
pub mod queue;
pub mod receiver;
pub mod relay;

use std::path::PathBuf;
use std::time::Duration;

use mail_send::SmtpClientBuilder;
use mail_send::mail_builder::MessageBuilder;
use mail_send::mail_builder::headers::raw::Raw;
use mail_send::mail_builder::headers::url::URL;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("cannot write the message to {path}: {source}")]
    Outbox {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build the message: {0}")]
    Build(std::io::Error),
    #[error("SMTP relay {relay}: {reason}")]
    Connect { relay: String, reason: String },
    /// The relay refused this recipient or this message (RCPT or DATA): 4xx may be retried, 5xx
    /// may not.
    #[error("SMTP relay refused: {code} {message}")]
    Rejected { code: u16, message: String },
    /// The relay refused something that is our side's doing rather than the recipient's: our
    /// sender address, or a policy (5.7.x) reply, which is usually the relay's configuration. Worth
    /// retrying once that is fixed.
    #[error("SMTP relay {relay}: {reason}")]
    Refused { relay: String, reason: String },
    #[cfg(feature = "queue")]
    #[error("mail queue: {0}")]
    Store(#[from] jarida_store::StoreError),
    #[cfg(feature = "queue")]
    #[error("mail queue: {0}")]
    Queue(String),
}

/// One message to send.
#[derive(Debug, Clone, Default)]
pub struct Message {
    pub from_name: String,
    pub from_address: String,
    pub to_name: String,
    pub to_address: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// Without angle brackets; generated when absent.
    pub message_id: Option<String>,
    /// `List-Unsubscribe` targets (https and mailto), and whether one-click POST is offered (RFC 8058).
    pub list_unsubscribe: Vec<String>,
    pub one_click: bool,
    /// Other headers, written as given.
    pub headers: Vec<(String, String)>,
    /// The return path (MAIL FROM) when it is not `from_address`: a VERP address, so that a
    /// bounce names its reader.
    pub envelope_from: Option<String>,
}

impl Message {
    /// Where bounces of this message go.
    pub fn envelope(&self) -> &str {
        self.envelope_from.as_deref().unwrap_or(&self.from_address)
    }

    /// The message as RFC 5322 bytes with CRLF line endings.
    pub fn to_bytes(&self) -> Result<Vec<u8>, MailError> {
        let mut b =
            MessageBuilder::new().from((self.from_name.as_str(), self.from_address.as_str()));
        // A reader with no name yet gets `To: address`, not `To: "" <address>`.
        b = if self.to_name.trim().is_empty() {
            b.to(self.to_address.as_str())
        } else {
            b.to((self.to_name.as_str(), self.to_address.as_str()))
        };
        let mut b = b
            .subject(self.subject.as_str())
            .text_body(self.text.as_str());
        if let Some(r) = &self.reply_to {
            b = b.reply_to(r.as_str());
        }
        if let Some(h) = &self.html {
            b = b.html_body(h.as_str());
        }
        if let Some(id) = &self.message_id {
            b = b.message_id(id.as_str());
        }
        if !self.list_unsubscribe.is_empty() {
            b = b.header(
                "List-Unsubscribe",
                URL::from(
                    self.list_unsubscribe
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                ),
            );
            if self.one_click {
                b = b.header(
                    "List-Unsubscribe-Post",
                    Raw::new("List-Unsubscribe=One-Click"),
                );
            }
        }
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), Raw::new(v.as_str()));
        }
        b.write_to_vec().map_err(MailError::Build)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    None,
    StartTls,
    Implicit,
}

impl TlsMode {
    pub fn parse(s: &str) -> Option<TlsMode> {
        match s {
            "none" => Some(TlsMode::None),
            "starttls" => Some(TlsMode::StartTls),
            "implicit" | "tls" => Some(TlsMode::Implicit),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub password: String,
    /// Name we give in EHLO.
    pub helo: String,
    pub timeout: Duration,
    /// Only for test relays with self-signed certificates.
    pub accept_invalid_certs: bool,
}

/// Where messages go.
#[derive(Debug, Clone)]
pub enum Transport {
    /// A folder of `.eml` files, for a site without a relay yet (and for reading what would be sent).
    Outbox(PathBuf),
    Smtp(Smtp),
}

impl Transport {
    /// Sends one message to `to` with `from` as the envelope sender (the Return-Path).
    pub async fn send(&self, envelope_from: &str, to: &str, bytes: &[u8]) -> Result<(), MailError> {
        match self {
            Transport::Outbox(dir) => write_outbox(dir, to, bytes).await,
            Transport::Smtp(s) => send_smtp(s, envelope_from, to, bytes).await,
        }
    }
}

/// A short, stable stand-in for an address in logs and file names: enough to correlate lines about
/// one reader, and gone from view with the reader (logs must not hold addresses that erasure cannot
/// reach).
pub fn addr_hash(addr: &str) -> String {
    use aws_lc_rs::digest;
    let d = digest::digest(&digest::SHA256, addr.trim().to_lowercase().as_bytes());
    hex::encode(&d.as_ref()[..8])
}

/// `text` with every email address in it replaced by its [`addr_hash`]: relays quote recipients in
/// their replies, and those replies end up in logs and delivery records.
pub fn redact_addresses(text: &str) -> String {
    if !text.contains('@') {
        return text.to_string();
    }
    let is_addr_char = |c: char| c.is_alphanumeric() || "._%+-=!#$&'*/?^`{|}~@".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if let Some(at) = word.find('@')
            && at > 0
            && at + 1 < word.len()
        {
            out.push_str("addr:");
            out.push_str(&addr_hash(word));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if is_addr_char(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// The outbox file names of mail to `addr` end with this, so erasing the reader can find them.
pub fn outbox_suffix(addr: &str) -> String {
    format!("-{}.eml", addr_hash(addr))
}

/// Removes the outbox files of mail to `addr`: transactional ones (their names end with
/// [`outbox_suffix`]) and, in each `edition-*` folder, `edition_file` (a reader's `<id>.eml`).
pub async fn forget_outbox(
    outbox: &std::path::Path,
    addr: &str,
    edition_file: Option<&str>,
) -> std::io::Result<()> {
    let suffix = outbox_suffix(addr);
    let mut entries = match tokio::fs::read_dir(outbox).await {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ft = entry.file_type().await?;
        if ft.is_file() && name.ends_with(&suffix) {
            tokio::fs::remove_file(entry.path()).await?;
        } else if let Some(f) = edition_file
            && ft.is_dir()
            && name.starts_with("edition-")
        {
            match tokio::fs::remove_file(entry.path().join(f)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Writes a file readable by the owner only (the outbox holds live confirmation links).
pub async fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = tokio::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true).mode(0o600);
    let mut f = opts.open(path).await?;
    tokio::io::AsyncWriteExt::write_all(&mut f, bytes).await?;
    // tokio's file hands writes to a blocking thread: a failed write (a full disk) surfaces only at
    // the next flush, and `sync_data` alone does not report it. Without this, an empty file was
    // taken for a written message.
    tokio::io::AsyncWriteExt::flush(&mut f).await?;
    f.sync_data().await
}

async fn write_outbox(dir: &std::path::Path, to: &str, bytes: &[u8]) -> Result<(), MailError> {
    let now = time::OffsetDateTime::now_utc();
    let name = format!(
        "{}-{:016x}{}",
        now.unix_timestamp_nanos(),
        rand::random::<u64>(),
        outbox_suffix(to)
    );
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(&name);
    let io = |e| MailError::Outbox {
        path: path.clone(),
        source: e,
    };
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let written = match write_private(&tmp, bytes).await {
        Ok(()) => tokio::fs::rename(&tmp, &path).await,
        Err(e) => Err(e),
    };
    if written.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    written.map_err(io)?;
    Ok(())
}

fn reply_error(relay: &str, e: mail_send::Error) -> MailError {
    match e {
        mail_send::Error::UnexpectedReply(r) => MailError::Refused {
            relay: relay.to_string(),
            reason: format!("{} {}", r.code, r.message),
        },
        // A refused login is the relay's configuration, not the recipient: never a 5xx that would
        // fail the message for good.
        mail_send::Error::AuthenticationFailed(r) => MailError::Refused {
            relay: relay.to_string(),
            reason: format!("login refused: {} {}", r.code, r.message),
        },
        other => MailError::Connect {
            relay: relay.to_string(),
            reason: other.to_string(),
        },
    }
}

async fn send_smtp(s: &Smtp, from: &str, to: &str, bytes: &[u8]) -> Result<(), MailError> {
    let relay = format!("{}:{}", s.host, s.port);
    let mut b = SmtpClientBuilder::new(s.host.clone(), s.port)
        .map_err(|e| MailError::Connect {
            relay: relay.clone(),
            reason: e,
        })?
        .helo_host(s.helo.clone())
        .timeout(s.timeout)
        .implicit_tls(s.tls == TlsMode::Implicit);
    if !s.username.is_empty() {
        b = b.credentials((s.username.clone(), s.password.clone()));
    }
    if s.accept_invalid_certs {
        b = b.allow_invalid_certs();
    }
    // Greeting, EHLO, STARTTLS and AUTH errors happen here: all on our side or the relay's.
    match s.tls {
        TlsMode::None => {
            let mut c = b
                .connect_plain()
                .await
                .map_err(|e| reply_error(&relay, e))?;
            let r = transaction(&mut c, &relay, from, to, bytes).await;
            let _ = c.quit().await;
            r
        }
        TlsMode::StartTls | TlsMode::Implicit => {
            let mut c = b.connect().await.map_err(|e| reply_error(&relay, e))?;
            let r = transaction(&mut c, &relay, from, to, bytes).await;
            let _ = c.quit().await;
            r
        }
    }
}

/// MAIL, RCPT and DATA one by one, so that a refusal says whose it is: a refused sender is ours to
/// fix (retried), a refused recipient or message is the recipient's (a 5xx is final) unless the
/// reply is a policy one (5.7.x: relaying denied, authentication required), which is again ours.
async fn transaction<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    c: &mut mail_send::SmtpClient<T>,
    relay: &str,
    from: &str,
    to: &str,
    bytes: &[u8],
) -> Result<(), MailError> {
    let none = mail_send::smtp::message::Parameters::default();
    c.mail_from(from, &none).await.map_err(|e| match e {
        mail_send::Error::UnexpectedReply(r) => MailError::Refused {
            relay: relay.to_string(),
            reason: format!("sender <{from}> refused: {} {}", r.code, r.message),
        },
        other => reply_error(relay, other),
    })?;
    let recipient = |e: mail_send::Error| match e {
        mail_send::Error::UnexpectedReply(r) if r.esc[0] == 5 && r.esc[1] == 7 => {
            MailError::Refused {
                relay: relay.to_string(),
                reason: format!("policy refusal: {} {}", r.code, r.message),
            }
        }
        mail_send::Error::UnexpectedReply(r) => MailError::Rejected {
            code: r.code,
            message: r.message,
        },
        other => reply_error(relay, other),
    };
    c.rcpt_to(to, &none).await.map_err(recipient)?;
    c.data(bytes).await.map_err(recipient)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_multipart_with_list_headers() {
        let m = Message {
            from_name: "جريدة".into(),
            from_address: "news@example.org".into(),
            to_name: "Reader".into(),
            to_address: "reader@example.com".into(),
            subject: "أكّد اشتراكك".into(),
            text: "Hello".into(),
            html: Some("<p>Hello</p>".into()),
            message_id: Some("abc@example.org".into()),
            list_unsubscribe: vec![
                "https://example.org/u/1".into(),
                "mailto:u@example.org".into(),
            ],
            one_click: true,
            ..Default::default()
        };
        let raw = String::from_utf8(m.to_bytes().unwrap()).unwrap();
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(
            raw.contains("List-Unsubscribe: <https://example.org/u/1>, <mailto:u@example.org>"),
            "{raw}"
        );
        assert!(
            raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{raw}"
        );
        assert!(raw.contains("Message-ID: <abc@example.org>"), "{raw}");
        assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
        assert!(raw.contains("\r\n"));
    }

    #[tokio::test]
    async fn outbox_writes_eml_files() {
        let dir = tempfile::tempdir().unwrap();
        let t = Transport::Outbox(dir.path().to_path_buf());
        t.send(
            "a@example.org",
            "b@example.org",
            b"Subject: x\r\n\r\nhi\r\n",
        )
        .await
        .unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1);
    }
}
