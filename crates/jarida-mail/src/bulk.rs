//! Bulk messages: the MIME body of an edition is encoded once per language with slots for the few
//! parts that differ per reader (links), so each recipient costs a splice, not a MIME encode.
//!
//! Both parts are quoted-printable so the message is 7-bit clean (no relay will re-encode it and break
//! the DKIM signature). A slot always starts a fresh encoded line (the segment before it ends with a
//! soft line break), which is why a slot's value can be encoded on its own, per recipient, without
//! knowing the column it lands in.

use std::io::Write;

use mail_send::mail_builder::headers::Header;
use mail_send::mail_builder::headers::address::Address;
use mail_send::mail_builder::headers::text::Text;

/// The marker of slot `n` in the text and HTML given to [`BulkBody::new`]. Plain ASCII that HTML
/// escaping, MJML rendering and URL attributes all leave alone (mrml rewrites private-use characters
/// in attributes), with a tail no post will contain by accident.
pub fn slot(n: usize) -> String {
    format!("JARIDA-SLOT-{n}-q7x3k")
}

#[derive(Debug, Clone)]
enum Seg {
    Fixed(Vec<u8>),
    /// A slot's value, escaped for HTML or not.
    Slot {
        n: usize,
        html: bool,
    },
}

/// A multipart/alternative body (text, HTML) with per-recipient slots.
#[derive(Debug, Clone)]
pub struct BulkBody {
    boundary: String,
    segs: Vec<Seg>,
}

impl BulkBody {
    /// `text` and `html` may contain [`slot`] markers; every slot in `0..slots` is filled by
    /// [`BulkBody::render`]. A marker naming a slot out of range is left as written.
    pub fn new(text: &str, html: &str, slots: usize) -> BulkBody {
        let boundary = format!("jarida-{:016x}", rand::random::<u64>());
        let mut segs = Vec::new();
        let mut head = format!(
            "--{boundary}\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        )
        .into_bytes();
        push_part(&mut segs, &mut head, text, false, slots);
        head.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Type: text/html; charset=\"utf-8\"\r\n\
                 Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            )
            .as_bytes(),
        );
        push_part(&mut segs, &mut head, html, true, slots);
        head.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        segs.push(Seg::Fixed(head));
        BulkBody { boundary, segs }
    }

    /// The `Content-Type` header value that goes with this body.
    pub fn content_type(&self) -> String {
        format!("multipart/alternative; boundary=\"{}\"", self.boundary)
    }

    /// Appends the body with `values` in the slots to `out`.
    pub fn render(&self, values: &[&str], out: &mut Vec<u8>) {
        for s in &self.segs {
            match s {
                Seg::Fixed(b) => out.extend_from_slice(b),
                Seg::Slot { n, html } => {
                    let v = values.get(*n).copied().unwrap_or("");
                    let encoded = if *html {
                        qp_75(escape_html(v).as_bytes())
                    } else {
                        qp_75(v.as_bytes())
                    };
                    out.extend_from_slice(encoded.as_bytes());
                    out.extend_from_slice(b"=\r\n");
                }
            }
        }
    }

    /// Bytes of the body without its slot values: a capacity hint for a whole message.
    pub fn len_hint(&self) -> usize {
        self.segs
            .iter()
            .map(|s| match s {
                Seg::Fixed(b) => b.len(),
                Seg::Slot { .. } => 128,
            })
            .sum()
    }
}

fn push_part(segs: &mut Vec<Seg>, cur: &mut Vec<u8>, body: &str, html: bool, slots: usize) {
    let body = crlf(body);
    let mut rest = body.as_str();
    loop {
        let next = (0..slots)
            .filter_map(|n| {
                let m = slot(n);
                rest.find(&m).map(|at| (at, n, m.len()))
            })
            .min();
        let Some((at, n, len)) = next else {
            cur.extend_from_slice(&quoted_printable::encode(rest.as_bytes()));
            return;
        };
        let before = &rest[..at];
        if !before.is_empty() {
            if before.ends_with("\r\n") {
                cur.extend_from_slice(&quoted_printable::encode(before.as_bytes()));
            } else {
                // One column short of the limit, for the soft break that ends the segment.
                cur.extend_from_slice(qp_75(before.as_bytes()).as_bytes());
                cur.extend_from_slice(b"=\r\n");
            }
        }
        segs.push(Seg::Fixed(std::mem::take(cur)));
        segs.push(Seg::Slot { n, html });
        rest = &rest[at + len..];
    }
}

/// Quoted-printable with lines of at most 75 characters, leaving room for a closing soft break.
fn qp_75(input: &[u8]) -> String {
    quoted_printable::encode_with_options(
        input,
        quoted_printable::Options::default().line_length_limit(75),
    )
}

fn crlf(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 40);
    let mut prev = '\0';
    for c in s.chars() {
        if c == '\n' && prev != '\r' {
            out.push('\r');
        }
        out.push(c);
        prev = c;
    }
    out
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Writes `Name: value` with the value RFC 2047-encoded and folded as needed (mail-builder's encoder).
pub fn text_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    // Writing into a Vec cannot fail.
    let _ = Text::new(value).write_header(&mut *out, name.len() + 2);
}

/// Writes an address header (`From`, `To`, `Reply-To`) with an optional display name.
pub fn address_header(out: &mut Vec<u8>, name: &str, display: &str, email: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    let display = (!display.is_empty()).then_some(display);
    let _ = Address::new_address(display, email).write_header(&mut *out, name.len() + 2);
}

/// Writes a header whose value is ASCII and already in its final form.
pub fn raw_header(out: &mut Vec<u8>, name: &str, value: &str) {
    let _ = write!(out, "{name}: {value}\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_parts(raw: &[u8]) -> (String, String) {
        let s = String::from_utf8(raw.to_vec()).unwrap();
        let parts: Vec<&str> = s.split("quoted-printable\r\n\r\n").collect();
        // parts[1] = text body + next part headers, parts[2] = html body + closing boundary.
        let text = parts[1].split("\r\n--jarida-").next().unwrap();
        let html = parts[2].split("\r\n--jarida-").next().unwrap();
        let d = |x: &str| {
            String::from_utf8(
                quoted_printable::decode(x, quoted_printable::ParseMode::Strict).unwrap(),
            )
            .unwrap()
        };
        (d(text), d(html))
    }

    #[test]
    fn slots_are_filled_and_lines_stay_short() {
        let long = "ا".repeat(300);
        let text = format!(
            "Hello {long}\nUnsubscribe: {}\nManage: {} end",
            slot(0),
            slot(1)
        );
        let html = format!("<p dir=\"rtl\">{long}</p><a href=\"{}\">x</a>", slot(0));
        let body = BulkBody::new(&text, &html, 2);
        let mut out = Vec::new();
        let u = "https://example.org/en/newsletter/unsubscribe/12345-0123456789abcdef0123456789abcdef?a=1&b=2";
        body.render(&[u, "https://m/1"], &mut out);
        for line in out.split(|b| *b == b'\n') {
            // 76 characters plus the CR (RFC 2045).
            assert!(line.len() <= 77, "{}", String::from_utf8_lossy(line));
            assert!(line.iter().all(|b| *b < 128));
        }
        let (t, h) = decode_parts(&out);
        assert_eq!(
            t,
            format!("Hello {long}\r\nUnsubscribe: {u}\r\nManage: https://m/1 end")
        );
        assert!(h.contains("href=\"https://example.org/en/newsletter/unsubscribe/12345-0123456789abcdef0123456789abcdef?a=1&amp;b=2\""), "{h}");
        assert!(h.starts_with(&format!("<p dir=\"rtl\">{long}</p>")));
    }

    #[test]
    fn headers_encode_non_ascii() {
        let mut out = Vec::new();
        text_header(&mut out, "Subject", "النشرة رقم ٣");
        address_header(&mut out, "From", "جريدة", "news@example.org");
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("Subject: =?utf-8?"), "{s}");
        assert!(s.contains("<news@example.org>\r\n"), "{s}");
        assert!(s.is_ascii());
    }
}
