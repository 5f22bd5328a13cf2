//! Types at the bottom of the house, which every other crate may use and which use nothing of ours.
//! For now: [`Secret`], the site's key and the one way anything is signed with it, and [`Lang`],
//! the languages the site publishes in and what each implies.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The site's 32-byte key (`<data_dir>/keys/secret.key`). Everything signed with it names a
/// purpose, so a signature made for one use (a preference link) is never valid for another (a
/// data link, a VERP address, a form). Its bytes are never printed.
#[derive(Clone)]
pub struct Secret([u8; 32]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    pub fn new(key: [u8; 32]) -> Secret {
        Secret(key)
    }

    /// HMAC-SHA256 of `purpose`, a NUL and `message`.
    pub fn sign(&self, purpose: &str, message: &str) -> [u8; 32] {
        // An HMAC takes a key of any length: this cannot fail.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.0) else {
            unreachable!("HMAC accepts any key length")
        };
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The first `bytes` bytes of [`Secret::sign`], in hex.
    pub fn sign_hex(&self, purpose: &str, message: &str, bytes: usize) -> String {
        hex::encode(&self.sign(purpose, message)[..bytes.min(32)])
    }

    /// Whether `given` is [`Secret::sign_hex`] of this purpose and message, compared in constant
    /// time.
    pub fn verify_hex(&self, purpose: &str, message: &str, bytes: usize, given: &str) -> bool {
        let expected = self.sign_hex(purpose, message, bytes);
        subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), given.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_do_not_mix() {
        let s = Secret::new([7; 32]);
        let a = s.sign_hex("subscriber-link", "1\0a@example.org", 16);
        assert_eq!(a.len(), 32);
        assert!(s.verify_hex("subscriber-link", "1\0a@example.org", 16, &a));
        assert!(!s.verify_hex("data-link", "1\0a@example.org", 16, &a));
        assert!(!Secret::new([8; 32]).verify_hex("subscriber-link", "1\0a@example.org", 16, &a));
        // The same bytes as signing "purpose\0message" directly (links already sent stay valid).
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&[7; 32]).unwrap();
        mac.update(b"subscriber-link\x001\x00a@example.org");
        assert_eq!(a, hex::encode(&mac.finalize().into_bytes()[..16]));
        assert_eq!(format!("{s:?}"), "Secret(…)");
    }
}

/// A language the site publishes in. What a language implies (direction, digits, locale, which
/// language stands in for it) is said here once; adding one is a variant here plus its strings
/// and templates' locale files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    En,
    Ar,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ar];

    /// The language's code in URLs, files and the database (`en`, `ar`).
    pub const fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ar => "ar",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    /// Written right to left.
    pub const fn is_rtl(self) -> bool {
        matches!(self, Lang::Ar)
    }

    /// Numbers are written with Arabic-Indic digits.
    pub const fn arabic_digits(self) -> bool {
        matches!(self, Lang::Ar)
    }

    /// The Open Graph locale of pages in this language.
    pub const fn og_locale(self) -> &'static str {
        match self {
            Lang::En => "en_US",
            Lang::Ar => "ar_AR",
        }
    }

    /// The language a reader of this one is offered when a page or an edition is missing in it.
    pub const fn fallback(self) -> Lang {
        match self {
            Lang::En => Lang::Ar,
            Lang::Ar => Lang::En,
        }
    }
}

/// The codes of every language, in order (`["en", "ar"]`).
pub const LANG_CODES: [&str; 2] = [Lang::En.code(), Lang::Ar.code()];

/// `s` with its ASCII digits as Arabic-Indic ones, as Arabic newspapers print them.
pub fn arabic_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(0x0660 + d).unwrap_or(c),
            None => c,
        })
        .collect()
}

/// `n` written as readers of `code` read numbers.
pub fn number(code: &str, n: i64) -> String {
    match Lang::parse(code) {
        Some(l) if l.arabic_digits() => arabic_digits(&n.to_string()),
        _ => n.to_string(),
    }
}

/// Whether text in the language with this code is written right to left.
pub fn is_rtl(code: &str) -> bool {
    Lang::parse(code).is_some_and(Lang::is_rtl)
}

#[cfg(test)]
mod lang_tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for l in Lang::ALL {
            assert_eq!(Lang::parse(l.code()), Some(l));
            assert_ne!(l.fallback(), l);
        }
        assert_eq!(Lang::parse("fr"), None);
        assert!(is_rtl("ar") && !is_rtl("en") && !is_rtl("xx"));
        assert_eq!(LANG_CODES, ["en", "ar"]);
    }
}
