//! The site's key and the one way anything is signed with it.

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
