//! Reading what comes back: delivery status notifications (RFC 3464), complaint reports (ARF,
//! RFC 5965), the common bounces that follow neither (qmail, Exim without DSN, old Sendmail,
//! Yahoo), and auto-replies, which are recognised so that they are ignored. [`classify`] turns one
//! message into a [`Report`]: what happened, to which address, with which status, and the
//! tokens of ours it carries (the VERP return path, our Message-ID, the unsubscribe address) by
//! which the newsletter side finds the reader once it has checked their signatures.
//!
//! The MIME structure is mail-parser's (bounded nesting, fuzzed upstream). This module never
//! panics on any input and reads at most [`MAX_BYTES`] of a message.

mod fields;
mod text;

use mail_parser::{MessageParser, MimeHeaders, PartType};

pub use fields::address;
pub use text::{Token, tokens};

/// A message longer than this is read only this far (a bounce's report comes first; the
/// returned original, which may carry large attachments, after it).
pub const MAX_BYTES: usize = 2 * 1024 * 1024;

/// What a message says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The address itself is wrong or gone (5.1.x, 5.2.1, 5.4.4): never mail it again.
    Hard,
    /// Given up for now, or a full mailbox (4.x.x failures, 5.2.2): counts towards a limit.
    Soft,
    /// A warning that the message is still being tried (`Action: delayed`): counts for nothing,
    /// since it usually arrives (a whole provider throttling us would otherwise stop its readers).
    Delayed,
    /// Refused for who we are or what we sent (5.7.x, spam, authentication, size): not the
    /// reader's doing; the owner needs to know.
    Policy,
    /// The reader marked the message as spam (ARF).
    Complaint,
    /// An out-of-office or other automatic reply: nothing to do.
    AutoReply,
    /// Nothing to act on (a success notice, "not spam", or a message we cannot read).
    Unknown,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Hard => "hard",
            Kind::Soft => "soft",
            Kind::Delayed => "delayed",
            Kind::Policy => "policy",
            Kind::Complaint => "complaint",
            Kind::AutoReply => "auto_reply",
            Kind::Unknown => "unknown",
        }
    }
}

/// What [`classify`] read from one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub kind: Kind,
    /// The recipient the report names, lower-cased (none when redacted or absent).
    pub recipient: Option<String>,
    /// The enhanced status code that decided (`5.1.1`).
    pub status: Option<String>,
    /// The remote server's words, whitespace collapsed, at most 300 characters.
    pub diagnostic: String,
    /// ARF's `Feedback-Type`, lower-cased.
    pub feedback_type: Option<String>,
    /// Tokens of ours found anywhere in the message, in the order found, without repeats.
    pub tokens: Vec<Token>,
    /// Where the message itself was addressed (`Delivered-To`, `X-Original-To`, `Envelope-To`,
    /// `To`), for a way in that does not know the envelope.
    pub addressed_to: Vec<String>,
}

/// What a relay's report of one failed recipient means, read from its fields rather than from a
/// message (a webhook): the enhanced status code in `status` or else in the server's `words`
/// decides as it does for returned mail; with no code, the words; with neither, `otherwise`
/// (what the relay itself called it: permanent, temporary). Returns the kind and the code.
pub fn judge(status: &str, words: &str, otherwise: Kind) -> (Kind, Option<String>) {
    let code = text::first_code(status).or_else(|| text::first_code(words));
    match code {
        Some(c) => (text::kind_of(c, words), Some(c.to_string())),
        None => (text::kind_from_words(words).unwrap_or(otherwise), None),
    }
}

/// [`judge`]'s words as stored and shown: whitespace collapsed, at most 300 characters.
pub fn diagnostic(words: &str) -> String {
    text::diagnostic(words)
}

/// At most this many MIME part boundaries are read: mail-parser keeps every part it finds, and a
/// crafted message of tiny parts would cost memory out of proportion to its size. A report's parts
/// come first and are few (three in a DSN).
pub const MAX_PARTS: usize = 500;

/// `raw` cut to [`MAX_BYTES`], and before its `MAX_PARTS + 1`th line that starts with `--`.
fn bounded(raw: &[u8]) -> &[u8] {
    let raw = &raw[..raw.len().min(MAX_BYTES)];
    let mut seen = 0;
    let mut i = 0;
    while let Some(p) = raw[i..].windows(3).position(|w| w == b"\n--") {
        seen += 1;
        if seen > MAX_PARTS {
            return &raw[..i + p + 1];
        }
        i += p + 3;
    }
    raw
}

/// Reads one message (bytes as received, headers first).
pub fn classify(raw: &[u8]) -> Report {
    let raw = bounded(raw);
    let mut report = Report {
        kind: Kind::Unknown,
        recipient: None,
        status: None,
        diagnostic: String::new(),
        feedback_type: None,
        tokens: Vec::new(),
        addressed_to: Vec::new(),
    };
    // The tokens are looked for in the raw bytes (headers, bodies in 7/8 bit) and again in every
    // decoded part below (a returned original in base64 or quoted-printable).
    text::tokens(raw, &mut report.tokens);
    let Some(msg) = MessageParser::default().parse(raw) else {
        return report;
    };

    let mut dsn: Option<Vec<fields::Block>> = None;
    let mut arf: Option<Vec<fields::Block>> = None;
    // The address our original was sent to, when it came back attached.
    let mut original_to: Option<String> = None;
    let mut body_text = String::new();
    for part in msg.parts.iter() {
        let (ty, sub) = match part.content_type() {
            Some(ct) => (
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or_default().to_ascii_lowercase(),
            ),
            None => ("text".into(), "plain".into()),
        };
        let bytes: Option<&[u8]> = match &part.body {
            PartType::Text(t) | PartType::Html(t) => Some(t.as_bytes()),
            PartType::Binary(b) | PartType::InlineBinary(b) => Some(b.as_ref()),
            PartType::Message(m) => {
                if original_to.is_none() {
                    original_to = m
                        .to()
                        .and_then(|a| a.first())
                        .and_then(|a| a.address().map(|s| s.to_ascii_lowercase()));
                }
                if let Some(id) = m.message_id() {
                    text::tokens(format!("<{id}>").as_bytes(), &mut report.tokens);
                }
                text::tokens(m.raw_message(), &mut report.tokens);
                None
            }
            PartType::Multipart(_) => None,
        };
        let Some(bytes) = bytes else { continue };
        text::tokens(bytes, &mut report.tokens);
        let s = String::from_utf8_lossy(bytes);
        match (ty.as_str(), sub.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") if dsn.is_none() => {
                dsn = Some(fields::blocks(&s));
            }
            ("message", "feedback-report") if arf.is_none() => {
                arf = Some(fields::blocks(&s));
            }
            ("text" | "message", "rfc822-headers") if original_to.is_none() => {
                original_to = fields::blocks(&s)
                    .first()
                    .and_then(|b| b.get("to"))
                    .and_then(text::first_address);
            }
            ("text", "plain") if body_text.len() < 64 * 1024 => {
                body_text.push_str(&s);
                body_text.push('\n');
            }
            _ => {}
        }
    }
    for h in ["delivered-to", "x-original-to", "envelope-to", "to"] {
        if let Some(v) = msg.header_raw(h)
            && report.addressed_to.len() < 8
        {
            report
                .addressed_to
                .push(v.trim().chars().take(320).collect());
        }
    }
    for h in ["in-reply-to", "references"] {
        if let Some(v) = msg.header_raw(h) {
            text::tokens(v.as_bytes(), &mut report.tokens);
        }
    }

    if let Some(blocks) = arf {
        read_arf(&blocks, &mut report);
        if report.recipient.is_none() && report.kind == Kind::Complaint {
            // Microsoft's reports leave the field out and keep the original's To.
            report.recipient = original_to.filter(|a| !a.starts_with("redacted"));
        }
        return report;
    }
    if let Some(blocks) = dsn {
        read_dsn(&blocks, original_to.as_deref(), &body_text, &mut report);
        return report;
    }

    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let subject = msg.subject().unwrap_or_default().to_lowercase();
    let from_daemon = text::is_daemon(&from);
    if !from_daemon && is_auto_reply(&msg, &subject) {
        report.kind = Kind::AutoReply;
        return report;
    }
    if from_daemon || text::is_bounce_subject(&subject) {
        text::read_plain(&body_text, &mut report);
    }
    report
}

/// RFC 3834 and the markers the common mail programs add to automatic replies.
fn is_auto_reply(msg: &mail_parser::Message<'_>, subject: &str) -> bool {
    let h = |name: &str| {
        msg.header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default()
    };
    let auto = h("auto-submitted");
    (!auto.is_empty() && auto != "no")
        || !h("x-autoreply").is_empty()
        || !h("x-autorespond").is_empty()
        || !h("x-auto-response-suppress").is_empty()
        || matches!(h("precedence").as_str(), "auto_reply" | "auto-reply")
        || text::is_auto_reply_subject(subject)
}

fn read_arf(blocks: &[fields::Block], report: &mut Report) {
    let first = blocks.first();
    let ft = first
        .and_then(|b| b.get("feedback-type"))
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "abuse".into());
    report.kind = if ft == "not-spam" {
        Kind::Unknown
    } else {
        Kind::Complaint
    };
    report.feedback_type = Some(ft);
    report.recipient = first
        .and_then(|b| b.get("original-rcpt-to"))
        .and_then(fields::address)
        .filter(|a| !a.starts_with("redacted"));
}

fn read_dsn(blocks: &[fields::Block], original_to: Option<&str>, body: &str, report: &mut Report) {
    // The first block is about the message; the others each about one recipient.
    struct Rcpt<'a> {
        address: Option<String>,
        action: String,
        status: Option<text::Code>,
        diagnostic: &'a str,
    }
    let rcpts: Vec<Rcpt<'_>> = blocks
        .iter()
        .filter(|b| b.get("final-recipient").is_some() || b.get("original-recipient").is_some())
        .map(|b| {
            let diagnostic = b.get("diagnostic-code").unwrap_or_default();
            let declared = b.get("status").and_then(text::code_exact);
            // "5.0.0" says only the class (Exim always writes it); the diagnostic often has more.
            let status = match declared {
                Some(c) if c.subject == 0 && c.detail == 0 => Some(
                    text::first_code(diagnostic)
                        .filter(|d| d.class == c.class)
                        .unwrap_or(c),
                ),
                Some(c) => Some(c),
                None => None,
            };
            Rcpt {
                address: b
                    .get("original-recipient")
                    .and_then(fields::address)
                    .or_else(|| b.get("final-recipient").and_then(fields::address)),
                action: b
                    .get("action")
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase(),
                status,
                diagnostic,
            }
        })
        .collect();
    let acted = |r: &&Rcpt<'_>| matches!(r.action.as_str(), "failed" | "delayed");
    let chosen = original_to
        .and_then(|to| {
            rcpts.iter().find(|r| {
                r.address.as_deref() == Some(to)
                    || b_final_matches(blocks, r.address.as_deref(), to)
            })
        })
        .or_else(|| rcpts.iter().find(acted))
        .or_else(|| rcpts.first());
    let Some(r) = chosen else {
        // A report without a recipient block: what its text says, if anything.
        text::read_plain(body, report);
        return;
    };
    report.recipient = r.address.clone();
    report.diagnostic = text::diagnostic(r.diagnostic);
    report.status = r.status.map(|c| c.to_string());
    report.kind = match (r.action.as_str(), r.status) {
        ("delivered" | "relayed" | "expanded", _) => Kind::Unknown,
        ("delayed", _) => Kind::Delayed,
        (_, Some(c)) => text::kind_of(c, r.diagnostic),
        (_, None) => Kind::Unknown,
    };
    if report.kind == Kind::Unknown && r.action != "failed" {
        return;
    }
    if r.status.is_none() && r.action == "failed" {
        // No usable Status: the words, if they are clear.
        report.kind = text::kind_from_words(r.diagnostic).unwrap_or(Kind::Unknown);
        if report.kind == Kind::Unknown {
            report.recipient = None;
        }
    }
}

/// Whether the recipient block whose address is `addr` also names `to` as its final recipient
/// (a forwarded address: the report's Original-Recipient is ours, the final one is not).
fn b_final_matches(blocks: &[fields::Block], addr: Option<&str>, to: &str) -> bool {
    blocks.iter().any(|b| {
        b.get("final-recipient")
            .and_then(fields::address)
            .as_deref()
            == Some(to)
            && b.get("original-recipient")
                .and_then(fields::address)
                .as_deref()
                == addr
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_of_many_tiny_parts_is_read_only_so_far() {
        let mut raw = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n".to_vec();
        for _ in 0..20_000 {
            raw.extend_from_slice(b"--x\r\n\r\na\r\n");
        }
        let cut = bounded(&raw);
        assert_eq!(cut.windows(3).filter(|w| *w == b"\n--").count(), MAX_PARTS);
        assert!(cut.len() < raw.len() / 10);
        assert_eq!(classify(&raw).kind, Kind::Unknown);
    }

    #[test]
    fn an_empty_or_binary_message_is_unknown() {
        assert_eq!(classify(b"").kind, Kind::Unknown);
        assert_eq!(classify(&[0xff, 0xfe, 0, 1, 2]).kind, Kind::Unknown);
    }
}
