//! [`text_enum!`]: an enum stored and shown as text (a status, a kind), defined once with its
//! spellings. It gets `as_str`, `parse`, `ALL`, `FromStr`, `Display`, serde, and sqlx's
//! `Type`/`Encode`/`Decode` for both databases, so the text is decoded once, at the edge.

/// Defines a text enum:
///
/// ```
/// jarida_core::text_enum! {
///     /// What an edition is doing.
///     pub enum Phase { Draft = "draft", Sent = "sent" }
/// }
/// assert_eq!("sent".parse::<Phase>().unwrap(), Phase::Sent);
/// assert_eq!(Phase::Draft.as_str(), "draft");
/// ```
#[macro_export]
macro_rules! text_enum {
    ($(#[$doc:meta])* $vis:vis enum $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// Every spelling, for messages ("one of draft, sent").
            pub fn spellings() -> String {
                [$($text),+].join(", ")
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // Compared with its spelling where text meets the type (tests, messages).
        impl PartialEq<&str> for $name {
            fn eq(&self, text: &&str) -> bool {
                self.as_str() == *text
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<$name, String> {
                $name::parse(s).ok_or_else(|| format!("{s:?} is not one of {}", $name::spellings()))
            }
        }

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let s = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err($crate::__private::serde::de::Error::custom)
            }
        }

        impl<DB: $crate::__private::sqlx::Database> $crate::__private::sqlx::Type<DB> for $name
        where
            str: $crate::__private::sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as $crate::__private::sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as $crate::__private::sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: $crate::__private::sqlx::Database> $crate::__private::sqlx::Encode<'q, DB> for $name
        where
            &'static str: $crate::__private::sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as $crate::__private::sqlx::Database>::ArgumentBuffer,
            ) -> Result<$crate::__private::sqlx::encode::IsNull, $crate::__private::sqlx::error::BoxDynError> {
                <&'static str as $crate::__private::sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        impl<'r, DB: $crate::__private::sqlx::Database> $crate::__private::sqlx::Decode<'r, DB> for $name
        where
            &'r str: $crate::__private::sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as $crate::__private::sqlx::Database>::ValueRef<'r>,
            ) -> Result<$name, $crate::__private::sqlx::error::BoxDynError> {
                let text = <&'r str as $crate::__private::sqlx::Decode<'r, DB>>::decode(value)?;
                Ok(text.parse::<$name>()?)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::text_enum! {
        /// A test's phases.
        pub enum Phase { Draft = "draft", Sent = "sent" }
    }

    #[test]
    fn spellings_round_trip_and_unknown_ones_are_named() {
        for p in Phase::ALL {
            assert_eq!(Phase::parse(p.as_str()), Some(*p));
            assert_eq!(p.to_string(), p.as_str());
        }
        let e = "gone".parse::<Phase>().unwrap_err();
        assert_eq!(e, "\"gone\" is not one of draft, sent");
        assert_eq!(serde_json::to_string(&Phase::Sent).unwrap(), "\"sent\"");
        assert!(serde_json::from_str::<Phase>("\"lost\"").is_err());
        assert!(Phase::Draft == "draft");
    }
}
