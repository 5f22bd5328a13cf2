//! Email addresses as we store them: trimmed, lower-cased, the domain in ASCII (internationalized
//! domains become punycode), and checked with a reason a reader can act on.

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the address is empty")]
    Empty,
    #[error("the address is longer than 254 characters")]
    TooLong,
    #[error("the address needs exactly one @, as in name@example.org")]
    At,
    #[error("the part before @ {0}")]
    Local(&'static str),
    #[error("the domain after @ {0}")]
    Domain(&'static str),
}

/// Normalizes and validates an address.
pub fn normalize(input: &str) -> Result<String, EmailError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(EmailError::Empty);
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return Err(EmailError::At);
    };
    if local.contains('@') {
        return Err(EmailError::At);
    }
    if local.is_empty() {
        return Err(EmailError::Local("is empty"));
    }
    if local.len() > 64 {
        return Err(EmailError::Local("is longer than 64 characters"));
    }
    if local
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
    {
        return Err(EmailError::Local(
            "contains a space or one of < > ( ) [ ] \\ , ; : \"",
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(EmailError::Local("has a misplaced dot"));
    }
    let domain = domain.trim_end_matches('.');
    if domain.is_empty() {
        return Err(EmailError::Domain("is empty"));
    }
    let ascii = idna::domain_to_ascii(domain)
        .map_err(|_| EmailError::Domain("is not a valid domain name"))?;
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(EmailError::Domain("needs a dot, as in example.org"));
    }
    for l in &labels {
        if l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-') {
            return Err(EmailError::Domain("has an empty or malformed part"));
        }
        if !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(EmailError::Domain(
                "contains characters a domain cannot have",
            ));
        }
    }
    if labels
        .last()
        .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(EmailError::Domain(
            "ends in a number, not a top-level domain",
        ));
    }
    // The whole address is lower-cased: RFC 5321 lets the part before @ be case-sensitive, but no
    // mail provider we know treats it so, and two records for Lina@ and lina@ would mean two copies
    // of every edition and an erasure that misses one.
    let out = format!("{}@{ascii}", local.to_lowercase());
    if out.len() > 254 {
        return Err(EmailError::TooLong);
    }
    Ok(out)
}

/// The suppression-list key of a normalized address.
pub fn fingerprint(normalized: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(normalized.to_lowercase().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(
            normalize("  Lina@Example.ORG ").unwrap(),
            "lina@example.org"
        );
        assert_eq!(
            normalize("reader@مثال.مصر").unwrap(),
            "reader@xn--mgbh0fb.xn--wgbh1c"
        );
        assert_eq!(
            normalize("a.b+tag@bücher.de").unwrap(),
            "a.b+tag@xn--bcher-kva.de"
        );
    }

    #[test]
    fn refuses_with_reasons() {
        assert_eq!(normalize(""), Err(EmailError::Empty));
        assert_eq!(normalize("no-at-sign"), Err(EmailError::At));
        assert_eq!(normalize("a@b@c.org"), Err(EmailError::At));
        assert!(matches!(
            normalize("@example.org"),
            Err(EmailError::Local(_))
        ));
        assert!(matches!(
            normalize("a b@example.org"),
            Err(EmailError::Local(_))
        ));
        assert!(matches!(
            normalize("a..b@example.org"),
            Err(EmailError::Local(_))
        ));
        assert!(matches!(
            normalize("a@localhost"),
            Err(EmailError::Domain(_))
        ));
        assert!(matches!(normalize("a@-x.org"), Err(EmailError::Domain(_))));
        assert!(matches!(normalize("a@1.2.3.4"), Err(EmailError::Domain(_))));
        assert!(matches!(
            normalize("a@exa_mple.org"),
            Err(EmailError::Domain(_))
        ));
        assert_eq!(
            normalize(&format!("{}@example.org", "a".repeat(65))),
            Err(EmailError::Local("is longer than 64 characters"))
        );
    }
}
