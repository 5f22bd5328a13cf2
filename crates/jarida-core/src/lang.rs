//! The languages the site publishes in, and what each implies.

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

    /// The digits the interface writes numbers with unless the site says otherwise.
    pub const fn default_digits(self) -> crate::text::Digits {
        match self {
            Lang::En => crate::text::Digits::Western,
            Lang::Ar => crate::text::Digits::ArabicIndic,
        }
    }

    /// The Open Graph locale of pages in this language.
    pub const fn og_locale(self) -> &'static str {
        match self {
            Lang::En => "en_US",
            Lang::Ar => "ar_AR",
        }
    }

    /// `dir` of HTML in this language.
    pub const fn dir(self) -> &'static str {
        if self.is_rtl() { "rtl" } else { "ltr" }
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

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A language code that is not one of the site's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language {0:?} (expected one of: {codes})", codes = LANG_CODES.join(", "))]
pub struct UnknownLang(pub String);

impl std::str::FromStr for Lang {
    type Err = UnknownLang;
    fn from_str(s: &str) -> Result<Lang, UnknownLang> {
        Lang::parse(s).ok_or_else(|| UnknownLang(s.to_string()))
    }
}

impl serde::Serialize for Lang {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Lang {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Lang, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// The database holds a language as its code. Generic over the database so that SQLite and
// PostgreSQL decode it the same way, once, at the edge.
impl<DB: sqlx::Database> sqlx::Type<DB> for Lang
where
    str: sqlx::Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <str as sqlx::Type<DB>>::type_info()
    }
    fn compatible(ty: &DB::TypeInfo) -> bool {
        <str as sqlx::Type<DB>>::compatible(ty)
    }
}

impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for Lang
where
    &'static str: sqlx::Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&'static str as sqlx::Encode<'q, DB>>::encode(self.code(), buf)
    }
}

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for Lang
where
    &'r str: sqlx::Decode<'r, DB>,
{
    fn decode(
        value: <DB as sqlx::Database>::ValueRef<'r>,
    ) -> Result<Lang, sqlx::error::BoxDynError> {
        let code = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
        Ok(code.parse::<Lang>()?)
    }
}

// For the crates that still keep a language as its code (posts and readers as stored).
impl From<Lang> for &'static str {
    fn from(l: Lang) -> &'static str {
        l.code()
    }
}

impl From<Lang> for String {
    fn from(l: Lang) -> String {
        l.code().to_string()
    }
}

impl PartialEq<Lang> for &str {
    fn eq(&self, l: &Lang) -> bool {
        *self == l.code()
    }
}

impl PartialEq<Lang> for String {
    fn eq(&self, l: &Lang) -> bool {
        self == l.code()
    }
}

impl PartialEq<&str> for Lang {
    fn eq(&self, code: &&str) -> bool {
        self.code() == *code
    }
}

impl PartialEq<str> for Lang {
    fn eq(&self, code: &str) -> bool {
        self.code() == code
    }
}

/// The first language of [`Lang::ALL`], for structures that need a starting value.
impl Default for Lang {
    fn default() -> Lang {
        Lang::ALL[0]
    }
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
        assert!(Lang::Ar.is_rtl() && !Lang::En.is_rtl() && Lang::parse("xx").is_none());
        assert_eq!(LANG_CODES, ["en", "ar"]);
        assert_eq!("ar".parse::<Lang>(), Ok(Lang::Ar));
        assert!(
            "fr".parse::<Lang>()
                .unwrap_err()
                .to_string()
                .contains("en, ar")
        );
        assert_eq!(format!("/{}/x", Lang::Ar), "/ar/x");
        assert_eq!(Lang::Ar.default_digits().apply("2026"), "٢٠٢٦");
        assert_eq!(Lang::En.default_digits().apply("2026"), "2026");
        assert_eq!(serde_json::to_string(&Lang::Ar).unwrap(), "\"ar\"");
        assert_eq!(serde_json::from_str::<Lang>("\"en\"").unwrap(), Lang::En);
        assert!(serde_json::from_str::<Lang>("\"fr\"").is_err());
    }
}
