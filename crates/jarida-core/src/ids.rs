//! Ids of the rows other crates refer to, so that a reader's id cannot be passed where an edition's
//! is meant. Each is its row's integer key; the database sees the integer (`sqlx(transparent)`).

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
    /// A post (`posts.id`).
    PostId
);
