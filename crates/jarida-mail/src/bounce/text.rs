//! The words of a bounce: enhanced status codes (RFC 3463) found in free text, the phrases the
//! common mail servers use when they give none, and our own tokens (VERP return path,
//! Message-ID, unsubscribe address) wherever they appear. Hand-written scanners rather than
//! regular expressions: each is a single pass over bounded input, and the crate takes no regex
//! engine for them.

use std::fmt;

use super::{Kind, Report, fields};

/// An enhanced status code, `class.subject.detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// A field that is exactly a code (`Status: 5.1.1`, perhaps with a comment after it).
pub fn code_exact(v: &str) -> Option<Code> {
    let head = v.split_whitespace().next()?;
    let c = parse_code(head.as_bytes())?;
    (c.1 == head.len()).then_some(c.0)
}

/// The first code in free text that stands alone (not inside a version number or an address).
pub fn first_code(s: &str) -> Option<Code> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if matches!(b[i], b'2' | b'4' | b'5')
            && (i == 0 || !is_code_char(b[i - 1]))
            && let Some((c, len)) = parse_code(&b[i..])
            && b.get(i + len).is_none_or(|&n| !is_code_char(n))
        {
            return Some(c);
        }
        i += 1;
    }
    None
}

fn is_code_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'@' || b == b'-' || b == b'_'
}

/// `class.subject.detail` at the start of `b`, and its length.
fn parse_code(b: &[u8]) -> Option<(Code, usize)> {
    let class = match b.first()? {
        b'2' => 2,
        b'4' => 4,
        b'5' => 5,
        _ => return None,
    };
    if b.get(1) != Some(&b'.') {
        return None;
    }
    let (subject, n1) = number(&b[2..])?;
    if b.get(2 + n1) != Some(&b'.') {
        return None;
    }
    let (detail, n2) = number(&b[3 + n1..])?;
    Some((
        Code {
            class,
            subject,
            detail,
        },
        3 + n1 + n2,
    ))
}

fn number(b: &[u8]) -> Option<(u16, usize)> {
    let n = b.iter().take(4).take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || n > 3 {
        return None;
    }
    let mut v: u16 = 0;
    for d in &b[..n] {
        v = v * 10 + u16::from(d - b'0');
    }
    Some((v, n))
}

/// What a failure with code `c` means, the server's words deciding where the code is vague.
pub fn kind_of(c: Code, words: &str) -> Kind {
    match (c.class, c.subject, c.detail) {
        (2, _, _) => Kind::Unknown,
        // Throttling and reputation deferrals: about the sender, not the address.
        (4, 7, _) => Kind::Policy,
        (4, _, _) => Kind::Soft,
        // Bad sender address, bad sender system: our side.
        (5, 1, 7) | (5, 1, 8) => Kind::Policy,
        (5, 1, _) => Kind::Hard,
        (5, 2, 1) => Kind::Hard,
        (5, 2, 2) => Kind::Soft,
        (5, 2, 3) | (5, 3, 4) => Kind::Policy,
        (5, 4, 4) | (5, 4, 1) => Kind::Hard,
        (5, 7, _) => Kind::Policy,
        _ => kind_from_words(words).unwrap_or(Kind::Soft),
    }
}

const HARD: &[&str] = &[
    "user unknown",
    "unknown user",
    "no such user",
    "no such recipient",
    "no such mailbox",
    "no mailbox",
    "mailbox not found",
    "mailbox unavailable",
    "mailbox does not exist",
    "address not found",
    "address does not exist",
    "recipient not found",
    "recipientnotfound",
    "recipient unknown",
    "unknown recipient",
    "invalid recipient",
    "does not exist",
    "doesn't exist",
    "account disabled",
    "account has been disabled",
    "account is disabled",
    "discontinued",
    "unrouteable address",
    "user not found",
];
const FULL: &[&str] = &[
    "mailbox full",
    "mailbox is full",
    "over quota",
    "quota exceeded",
    "exceeded storage",
    "insufficient storage",
    "over the allowed quota",
];
const POLICY: &[&str] = &[
    "spam",
    "blocked",
    "blacklist",
    "blocklist",
    "denylist",
    "policy",
    "dmarc",
    "unauthenticated",
    "authentication",
    "reputation",
];

/// A kind the server's words make clear, if they do.
pub fn kind_from_words(s: &str) -> Option<Kind> {
    let l = s.to_lowercase();
    if FULL.iter().any(|p| l.contains(p)) {
        Some(Kind::Soft)
    } else if HARD.iter().any(|p| l.contains(p)) {
        Some(Kind::Hard)
    } else if POLICY.iter().any(|p| l.contains(p)) {
        Some(Kind::Policy)
    } else {
        None
    }
}

/// A diagnostic as shown to editors: the type prefix (`smtp;`) dropped, whitespace collapsed,
/// at most 300 characters.
pub fn diagnostic(s: &str) -> String {
    let s = match s.split_once(';') {
        Some((t, rest)) if t.len() <= 12 && !t.contains(' ') => rest,
        _ => s,
    };
    let mut out = String::new();
    for w in s.split_whitespace() {
        if out.chars().count() > 300 {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    if out.chars().count() > 300 {
        out = out.chars().take(300).collect();
    }
    out
}

/// Whether an address is a mail system's own (the sender of bounces).
pub fn is_daemon(from: &str) -> bool {
    let local = from.split('@').next().unwrap_or_default();
    matches!(
        local,
        "mailer-daemon" | "postmaster" | "mail-daemon" | "mailerdaemon" | "bounce" | "bounces"
    ) || local.starts_with("mailer-daemon")
}

/// Subjects of bounces that come without a report.
pub fn is_bounce_subject(s: &str) -> bool {
    [
        "undeliver",
        "undelivered",
        "delivery status notification",
        "delivery failure",
        "delivery has failed",
        "failure notice",
        "returned mail",
        "mail delivery failed",
        "mail system error",
        "non remis",
        "unzustellbar",
    ]
    .iter()
    .any(|p| s.contains(p))
}

/// Subjects of automatic replies, in the languages our readers write in.
pub fn is_auto_reply_subject(s: &str) -> bool {
    [
        "out of office",
        "out of the office",
        "automatic reply",
        "auto-reply",
        "autoreply",
        "auto reply",
        "vacation",
        "away from",
        "absence",
        "رد تلقائي",
        "خارج المكتب",
    ]
    .iter()
    .any(|p| s.contains(p))
}

/// The first address in a header value (`Lina <lina@example.com>`).
pub fn first_address(v: &str) -> Option<String> {
    if let Some(start) = v.find('<')
        && let Some(len) = v[start + 1..].find('>')
    {
        return fields::address(&v[start + 1..start + 1 + len]);
    }
    v.split([',', ' ']).find_map(fields::address)
}

/// Where the text of a report-less bounce stops and the returned original starts.
const ORIGINAL_MARKERS: &[&str] = &[
    "below this line is a copy of the message",
    "this is a copy of the message",
    "original message follows",
    "----- original message",
    "--- original message",
    "original message headers",
    "------ this is a copy",
    "----- unsent message follows",
    "--- below this line",
];

/// A bounce without a report: the recipient, the code and the kind as its text gives them.
pub fn read_plain(body: &str, report: &mut Report) {
    let lower = body.to_lowercase();
    // Cut at the returned original, so its addresses and codes are not taken for the failure's.
    // `to_lowercase` can change lengths outside ASCII: cut the original at the same character
    // count instead of the same byte offset.
    let cut_chars = ORIGINAL_MARKERS
        .iter()
        .filter_map(|m| lower.find(m))
        .min()
        .map(|i| lower[..i].chars().count());
    let head: String = match cut_chars {
        Some(n) => body.chars().take(n).collect(),
        None => body.to_string(),
    };
    let code = first_code(&head).filter(|c| c.class != 2);
    let words = kind_from_words(&head);
    report.kind = match code {
        Some(c) if c.subject == 0 && c.detail == 0 => words.unwrap_or(kind_of(c, &head)),
        Some(c) => kind_of(c, &head),
        None => words.unwrap_or(Kind::Unknown),
    };
    if report.kind == Kind::Unknown {
        return;
    }
    report.status = code.map(|c| c.to_string());
    report.recipient = failed_address(&head);
    report.diagnostic = diagnostic(
        head.lines()
            .find(|l| {
                let l = l.to_lowercase();
                code.is_some_and(|c| l.contains(&c.to_string()))
                    || HARD.iter().chain(FULL).any(|p| l.contains(p))
            })
            .unwrap_or_default(),
    );
}

/// The address a report-less bounce says failed: the first address standing on its own line
/// (`<a@b>:` in qmail and Yahoo, an indented address in Exim, `<a@b>... User unknown` in
/// Sendmail), else the first address in the text.
fn failed_address(head: &str) -> Option<String> {
    for line in head.lines() {
        let t = line.trim();
        let first = t.split_whitespace().next().unwrap_or_default();
        let first = first.trim_end_matches(':').trim_end_matches("...");
        let bracketed = first.starts_with('<') && first.ends_with('>');
        let alone = t.split_whitespace().count() == 1;
        if (bracketed || alone)
            && let Some(a) = fields::address(first)
        {
            return Some(a);
        }
    }
    head.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')' | ',' | ';'))
        .map(|w| w.trim_end_matches([':', '.']))
        .find_map(|w| {
            let a = fields::address(w)?;
            let domain = a.rsplit('@').next()?;
            (domain.contains('.') && !is_daemon(&a)).then_some(a)
        })
}

/// One of our own addresses or identifiers, as written (its signature not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// The VERP return path `b+<edition>-<subscriber>-<signature>@…`.
    Verp {
        edition: i64,
        subscriber: i64,
        signature: String,
    },
    /// The List-Unsubscribe mailto address `u+<edition>-<subscriber>-<signature>@…`.
    Unsubscribe {
        edition: i64,
        subscriber: i64,
        signature: String,
    },
    /// Our Message-ID `e<edition>.s<subscriber>.<signature>@…`.
    MessageId {
        edition: i64,
        subscriber: i64,
        signature: String,
    },
}

/// At most this many tokens are kept from one message (a forged one could carry thousands).
const MAX_TOKENS: usize = 16;

/// Adds to `out` the tokens found in `b`, skipping ones already there.
pub fn tokens(b: &[u8], out: &mut Vec<Token>) {
    let mut i = 0;
    while i + 4 < b.len() && out.len() < MAX_TOKENS {
        let before_ok = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let found = if !before_ok {
            None
        } else if (b[i] == b'b' || b[i] == b'u') && b[i + 1] == b'+' {
            dashed(&b[i + 2..], 16).map(|(e, s, sig, n)| {
                let t = if b[i] == b'b' {
                    Token::Verp {
                        edition: e,
                        subscriber: s,
                        signature: sig,
                    }
                } else {
                    Token::Unsubscribe {
                        edition: e,
                        subscriber: s,
                        signature: sig,
                    }
                };
                (t, n + 2)
            })
        } else if b[i] == b'e' {
            dotted(&b[i + 1..]).map(|(e, s, sig, n)| {
                (
                    Token::MessageId {
                        edition: e,
                        subscriber: s,
                        signature: sig,
                    },
                    n + 1,
                )
            })
        } else {
            None
        };
        match found {
            Some((t, n)) => {
                if !out.contains(&t) {
                    out.push(t);
                }
                i += n;
            }
            None => i += 1,
        }
    }
}

/// `<digits>-<digits>-<hex × len>@`: edition, subscriber, signature and the bytes read.
fn dashed(b: &[u8], len: usize) -> Option<(i64, i64, String, usize)> {
    let (e, n1) = int(b)?;
    if b.get(n1) != Some(&b'-') {
        return None;
    }
    let (s, n2) = int(&b[n1 + 1..])?;
    let at = n1 + 1 + n2;
    if b.get(at) != Some(&b'-') {
        return None;
    }
    let sig = hex(&b[at + 1..], len)?;
    (b.get(at + 1 + len) == Some(&b'@')).then_some((e, s, sig, at + 1 + len + 1))
}

/// `<digits>.s<digits>.<hex × 12>@` (after the leading `e`).
fn dotted(b: &[u8]) -> Option<(i64, i64, String, usize)> {
    let (e, n1) = int(b)?;
    if b.get(n1..n1 + 2) != Some(b".s") {
        return None;
    }
    let (s, n2) = int(&b[n1 + 2..])?;
    let at = n1 + 2 + n2;
    if b.get(at) != Some(&b'.') {
        return None;
    }
    let sig = hex(&b[at + 1..], 12)?;
    (b.get(at + 1 + 12) == Some(&b'@')).then_some((e, s, sig, at + 1 + 12 + 1))
}

fn int(b: &[u8]) -> Option<(i64, usize)> {
    let n = b.iter().take(19).take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || n > 18 {
        return None;
    }
    std::str::from_utf8(&b[..n])
        .ok()?
        .parse()
        .ok()
        .map(|v| (v, n))
}

fn hex(b: &[u8], len: usize) -> Option<String> {
    let h = b.get(..len)?;
    h.iter()
        .all(|c| c.is_ascii_hexdigit())
        .then(|| String::from_utf8_lossy(h).to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_where_they_stand_alone() {
        assert_eq!(
            first_code("550 5.1.1 <a@b>: no")
                .map(|c| c.to_string())
                .as_deref(),
            Some("5.1.1")
        );
        assert_eq!(
            first_code("(#5.1.1)").map(|c| c.to_string()).as_deref(),
            Some("5.1.1")
        );
        assert_eq!(first_code("version 15.1.2.3 and a@5.1.1.example"), None);
        assert_eq!(
            code_exact("5.7.26 (spf)").map(|c| c.to_string()).as_deref(),
            Some("5.7.26")
        );
        assert_eq!(code_exact("5.x.y"), None);
    }

    #[test]
    fn tokens_are_read_and_repeats_dropped() {
        let mut t = Vec::new();
        tokens(
            b"To: b+12-345-0123456789abcdef@bounces.example.org\r\nMessage-ID: \
              <e12.s345.a1b2c3d4e5f6@example.org>\r\nx b+12-345-0123456789abcdef@b.org \
              b+1-2-short@b.org ab+1-2-0123456789abcdef@x",
            &mut t,
        );
        assert_eq!(t.len(), 2, "{t:?}");
        assert!(
            matches!(&t[0], Token::Verp { edition: 12, subscriber: 345, signature } if signature == "0123456789abcdef")
        );
        assert!(matches!(
            &t[1],
            Token::MessageId {
                edition: 12,
                subscriber: 345,
                ..
            }
        ));
    }
}
