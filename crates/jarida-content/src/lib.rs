//! The content domain: posts in English and Arabic, their Markdown rendered to sanitized HTML and plain
//! text, the sources they build on, their corrections, translations between languages, and the folder
//! format of `jarida import` / `jarida export`. Owns the `posts`, `post_authors`, `post_tags`, `sources`,
//! `corrections` and `content_version` tables.

pub mod confined;
pub mod digest;
pub mod folder;
pub mod frontmatter;
pub mod markdown;
pub mod media;
pub mod model;
pub mod repo;

use std::path::PathBuf;

pub use model::*;

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("{}: {reason}", path.display())]
    Folder { path: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] jarida_store::StoreError),
}
