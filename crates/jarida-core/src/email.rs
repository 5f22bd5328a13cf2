//! Email addresses as we store them: trimmed, lower-cased, the domain in ASCII (internationalized
//! domains become punycode), and checked with a reason a reader can act on. An [`EmailAddress`]
//! can only hold such an address: it is made by [`EmailAddress::parse`] and nothing else.

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

/// A valid, normalized address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Normalizes and validates `input`.
    pub fn parse(input: &str) -> Result<EmailAddress, EmailError> {
        normalize(input).map(EmailAddress)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The part after the @, in ASCII.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }

    /// The suppression-list key of this address.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for EmailAddress {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<EmailAddress, EmailError> {
        EmailAddress::parse(s)
    }
}

impl serde::Serialize for EmailAddress {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<EmailAddress, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        EmailAddress::parse(&s)
            .map_err(|e| serde::de::Error::custom(format!("{s:?} is not an email address: {e}")))
    }
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
    fn an_address_holds_only_what_parses() {
        let a = EmailAddress::parse(" Lina@Example.ORG").unwrap();
        assert_eq!(a.as_str(), "lina@example.org");
        assert_eq!(a.domain(), "example.org");
        assert_eq!(a.fingerprint(), fingerprint("lina@example.org"));
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"lina@example.org\"");
        let e = serde_json::from_str::<EmailAddress>("\"no-at\"").unwrap_err();
        assert!(e.to_string().contains("exactly one @"), "{e}");
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
