//! Configuration values that are parsed, not just read: a cron cadence, a time zone, a TLS mode, a
//! fallback rule, an optional address. Each is parsed once, when the file is loaded, into the type
//! the program uses, so a value that loads is a value that works, and an error names its key and
//! file (figment adds them to the message given here). Each keeps the text it was written as, for
//! `jarida config` to show back.

use std::fmt;
use std::marker::PhantomData;

use jarida_core::EmailAddress;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How one kind of value is parsed.
pub trait Kind {
    type Value: Clone;
    fn parse(text: &str) -> Result<Self::Value, String>;
}

/// A value as written and as parsed.
pub struct Parsed<K: Kind> {
    text: String,
    value: K::Value,
    kind: PhantomData<K>,
}

impl<K: Kind> Parsed<K> {
    pub fn get(&self) -> &K::Value {
        &self.value
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

impl<K: Kind> std::str::FromStr for Parsed<K> {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Ok(Parsed {
            text: text.to_string(),
            value: K::parse(text)?,
            kind: PhantomData,
        })
    }
}

impl<K: Kind> Clone for Parsed<K> {
    fn clone(&self) -> Self {
        Parsed {
            text: self.text.clone(),
            value: self.value.clone(),
            kind: PhantomData,
        }
    }
}

impl<K: Kind> fmt::Debug for Parsed<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl<K: Kind> PartialEq for Parsed<K> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<K: Kind> Serialize for Parsed<K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de, K: Kind> Deserialize<'de> for Parsed<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A cron expression (five fields, or six with seconds).
pub struct CadenceKind;
impl Kind for CadenceKind {
    type Value = croner::Cron;
    fn parse(text: &str) -> Result<croner::Cron, String> {
        jarida_newsletter::parse_cadence(text)
    }
}
pub type Cadence = Parsed<CadenceKind>;

/// An IANA time zone name.
pub struct ZoneKind;
impl Kind for ZoneKind {
    type Value = jiff::tz::TimeZone;
    fn parse(text: &str) -> Result<jiff::tz::TimeZone, String> {
        jarida_newsletter::parse_timezone(text)
    }
}
pub type Zone = Parsed<ZoneKind>;

/// `none`, `starttls` or `implicit`.
pub struct TlsKind;
impl Kind for TlsKind {
    type Value = jarida_mail::TlsMode;
    fn parse(text: &str) -> Result<jarida_mail::TlsMode, String> {
        jarida_mail::TlsMode::parse(text)
            .ok_or_else(|| format!("{text:?} is not one of none, starttls, implicit"))
    }
}
pub type Tls = Parsed<TlsKind>;

/// `other` or `skip`.
pub struct FallbackKind;
impl Kind for FallbackKind {
    type Value = jarida_newsletter::Fallback;
    fn parse(text: &str) -> Result<jarida_newsletter::Fallback, String> {
        jarida_newsletter::Fallback::parse(text)
            .ok_or_else(|| format!("{text:?} is not one of other, skip"))
    }
}
pub type FallbackRule = Parsed<FallbackKind>;

/// An address that may be left empty (`""` is "not set").
pub mod optional_address {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<EmailAddress>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_ref().map(EmailAddress::as_str).unwrap_or(""))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<EmailAddress>, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        EmailAddress::parse(&text)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("{text:?} is not an email address: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_once_and_show_as_written() {
        let c: Cadence = "0 9 1,15 * *".parse().unwrap();
        assert_eq!(c.text(), "0 9 1,15 * *");
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"0 9 1,15 * *\"");
        let e = serde_json::from_str::<Cadence>("\"every day\"").unwrap_err();
        assert!(e.to_string().contains("not a cron expression"), "{e}");
        let t: Tls = "implicit".parse().unwrap();
        assert_eq!(*t.get(), jarida_mail::TlsMode::Implicit);
        assert!(
            "ssl"
                .parse::<Tls>()
                .unwrap_err()
                .contains("none, starttls, implicit")
        );
        assert!("Mars/Olympus".parse::<Zone>().is_err());
        assert!("sometimes".parse::<FallbackRule>().is_err());
    }
}
