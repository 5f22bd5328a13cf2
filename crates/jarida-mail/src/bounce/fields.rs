//! The field blocks of delivery-status (RFC 3464) and feedback-report (RFC 5965) parts: header-like
//! `Name: value` lines, folded values unfolded, blocks separated by blank lines. Written here
//! because it is a few dozen lines and mail-parser hands these parts over as opaque bytes; the
//! MIME around them is mail-parser's.

/// One block: its fields in order, names lower-cased.
#[derive(Debug, Default, Clone)]
pub struct Block(pub Vec<(String, String)>);

/// At most this many blocks are read from one part (a per-message block and its recipients): a
/// report naming thousands of recipients is not one of ours.
const MAX_BLOCKS: usize = 64;
/// At most this many fields per block, and this many bytes per value.
const MAX_FIELDS: usize = 64;
const MAX_VALUE: usize = 4096;

impl Block {
    /// The first value of field `name` (lower-case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The blocks of `text`, read leniently: a line that is neither a field nor a continuation is
/// skipped, so a damaged report still yields what it can.
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut cur = Block::default();
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            if !cur.0.is_empty() {
                out.push(std::mem::take(&mut cur));
                if out.len() >= MAX_BLOCKS {
                    return out;
                }
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = cur.0.last_mut()
                && v.len() < MAX_VALUE
            {
                v.push(' ');
                v.push_str(line.trim());
                truncate(v);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            || cur.0.len() >= MAX_FIELDS
        {
            continue;
        }
        let mut v = value.trim().to_string();
        truncate(&mut v);
        cur.0.push((name.to_ascii_lowercase(), v));
    }
    if !cur.0.is_empty() {
        out.push(cur);
    }
    out
}

fn truncate(v: &mut String) {
    if v.len() > MAX_VALUE {
        let mut end = MAX_VALUE;
        while !v.is_char_boundary(end) {
            end -= 1;
        }
        v.truncate(end);
    }
}

/// An address field's address: `rfc822; <Lina@Example.com>` → `lina@example.com`.
pub fn address(value: &str) -> Option<String> {
    let v = match value.split_once(';') {
        Some((_, a)) => a,
        None => value,
    };
    let v = v
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (v.contains('@') && !v.contains(char::is_whitespace) && v.len() <= 320)
        .then(|| v.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_unfold_and_split_on_blank_lines() {
        let b = blocks(
            "Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; A@B.org\r\n\
             Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 no\r\n    such user\r\nnot a field\r\n",
        );
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].get("reporting-mta"), Some("dns; mx.example.org"));
        assert_eq!(b[1].get("diagnostic-code"), Some("smtp; 550 no such user"));
        assert_eq!(
            address(b[1].get("final-recipient").unwrap_or_default()).as_deref(),
            Some("a@b.org")
        );
        assert_eq!(address("rfc822; redacted"), None);
    }
}
