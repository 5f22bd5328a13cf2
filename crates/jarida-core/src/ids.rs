//! Ids of the rows other crates refer to, so that a reader's id cannot be passed where an edition's
//! is meant. Each is its row's integer key; the database sees the integer (`sqlx(transparent)`).
//! Posts keep a bare integer id until the admin edits them by id (the next issues): a type with
//! one user would only be noise.

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<$name, Self::Err> {
                s.parse().map($name)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }
    };
}

id!(
    /// A reader (`subscribers.id`).
    SubscriberId
);
id!(
    /// An edition of a newsletter (`editions.id`).
    EditionId
);
id!(
    /// A saved readers' filter (`segments.id`), which an edition may be limited to.
    SegmentId
);
