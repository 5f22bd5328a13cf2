//! Posts as a digest of them sees them (a newsletter edition): what was published in a period, the
//! short form of chosen posts, the corrections of a period, and finding a post an editor names. The
//! newsletter crate asks these instead of reading `posts` and `corrections` itself. Each takes a
//! [`Conn`] so it can run inside the caller's transaction.

use jarida_core::Lang;
use jarida_store::{Conn, List, q_all, q_opt, sqlx};
use serde::Serialize;

use crate::ContentError;

/// The published posts of `lang` with `start <= published_at < end`, in a digest's order: featured
/// first, then reports, news and designs, newest first within each.
pub async fn published_between(
    c: Conn<'_>,
    lang: Lang,
    start: i64,
    end: i64,
) -> Result<Vec<i64>, ContentError> {
    let ids: Vec<(i64,)> = q_all!(
        c,
        (i64,),
        "SELECT id FROM posts WHERE status = 'published' AND lang = $1 \
         AND published_at >= $2 AND published_at < $3 \
         ORDER BY featured DESC, CASE kind WHEN 'report' THEN 0 WHEN 'news' THEN 1 ELSE 2 END, \
         published_at DESC, id DESC",
        lang,
        start,
        end
    )?;
    Ok(ids.into_iter().map(|(id,)| id).collect())
}

/// A post as a digest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Brief {
    pub id: i64,
    pub slug: String,
    pub kind: String,
    pub title: String,
    pub summary: String,
    pub cover: Option<String>,
    pub cover_alt: Option<String>,
    pub featured: bool,
    pub published_at: Option<i64>,
}

/// The briefs of those of `ids` that are published, in no particular order (the caller has its
/// own). One query whatever the number of ids.
pub async fn briefs(c: Conn<'_>, ids: &[i64]) -> Result<Vec<Brief>, ContentError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = List::ints(ids);
    let sql = format!(
        "SELECT id, slug, kind, title, summary, cover, cover_alt, featured, published_at FROM posts \
         WHERE status = 'published' AND id IN ({})",
        list.select(c.dialect(), 1)
    );
    Ok(q_all!(c, Brief, sqlx::AssertSqlSafe(sql), list.param())?)
}

/// A correction to a published post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Correction {
    pub post_id: i64,
    pub slug: String,
    pub title: String,
    pub at: i64,
    pub note: String,
}

/// Corrections made in `[start, end)` to published posts of `lang`, oldest first.
pub async fn corrections_between(
    c: Conn<'_>,
    lang: Lang,
    start: i64,
    end: i64,
) -> Result<Vec<Correction>, ContentError> {
    Ok(q_all!(
        c,
        Correction,
        "SELECT c.post_id, p.slug, p.title, c.corrected_at AS at, c.note FROM corrections c \
         JOIN posts p ON p.id = c.post_id \
         WHERE p.lang = $1 AND p.status = 'published' AND c.corrected_at >= $2 AND c.corrected_at < $3 \
         ORDER BY c.corrected_at, c.id",
        lang,
        start,
        end
    )?)
}

/// The language of post `id` if it is published.
pub async fn published_lang(c: Conn<'_>, id: i64) -> Result<Option<String>, ContentError> {
    Ok(q_opt!(
        c,
        (String,),
        "SELECT lang FROM posts WHERE id = $1 AND status = 'published'",
        id
    )?
    .map(|(l,)| l))
}

/// The id of the post `lang/slug`, whatever its status.
pub async fn id_of(c: Conn<'_>, lang: Lang, slug: &str) -> Result<Option<i64>, ContentError> {
    Ok(q_opt!(
        c,
        (i64,),
        "SELECT id FROM posts WHERE lang = $1 AND slug = $2",
        lang,
        slug
    )?
    .map(|(id,)| id))
}
