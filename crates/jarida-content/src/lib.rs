//! The content domain: posts in English and Arabic, their Markdown rendered to sanitized HTML and plain
//! text, the sources they build on, their corrections, translations between languages, and the folder
//! format of `jarida import` / `jarida export`, imports from other platforms (`moving`) and the old
//! addresses they leave (`redirects`). Owns the `posts`, `post_authors`, `post_tags`, `sources`,
//! `corrections`, `content_version`, `redirects` and `imported_items` tables.

pub mod confined;
pub mod digest;
pub mod editing;
pub mod folder;
pub mod frontmatter;
pub mod library;
pub mod markdown;
pub mod media;
pub mod model;
pub mod moving;
pub mod redirects;
pub mod repo;
pub mod search;
pub mod views;

use std::path::PathBuf;

pub use model::*;

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("{}: {reason}", path.display())]
    Folder { path: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] jarida_store::StoreError),
    /// A field an editor typed is refused; the reason is shown to them.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// Someone saved the post since this editor loaded it.
    #[error("post {id} was saved by someone else since you opened it (now at version {current})")]
    Conflict { id: i64, current: i64 },
    #[error("no post {0}")]
    NoPost(i64),
    /// Another platform's export cannot be read on (it says where and why).
    #[error("{0}")]
    Export(String),
    /// The in-process search index failed (see `search::engine`).
    #[error("search index: {0}")]
    Search(String),
}

impl From<jarida_store::sqlx::Error> for ContentError {
    fn from(e: jarida_store::sqlx::Error) -> Self {
        ContentError::Store(e.into())
    }
}
