//! The SQL of the posts domain, one text per query for both databases.

use jarida_core::Lang;
use jarida_store::{Conn, Db, q_all, q_exec, q_one, q_opt};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::ContentError;
use crate::markdown;
use crate::model::*;

#[derive(sqlx::FromRow)]
struct PostRow {
    id: i64,
    lang: Lang,
    slug: String,
    translation_key: Option<String>,
    kind: String,
    title: String,
    summary: String,
    body_md: String,
    body_html: String,
    body_text: String,
    authors_json: String,
    cover: Option<String>,
    cover_alt: Option<String>,
    featured: bool,
    status: String,
    published_at: Option<i64>,
    updated_at: i64,
}

use jarida_store::sqlx;

const POST_COLS: &str = "id, lang, slug, translation_key, kind, title, summary, body_md, body_html, body_text, \
     authors_json, cover, cover_alt, featured, status, published_at, updated_at";

fn ts(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn names(json: &str) -> Vec<Named> {
    serde_json::from_str::<Vec<String>>(json)
        .unwrap_or_default()
        .into_iter()
        .map(|n| Named {
            slug: slugify(&n),
            name: n,
        })
        .collect()
}

impl PostRow {
    fn summary(self) -> PostSummary {
        PostSummary {
            id: self.id,
            kind: Kind::parse(&self.kind).unwrap_or(Kind::News),
            authors: names(&self.authors_json),
            lang: self.lang,
            slug: self.slug,
            title: self.title,
            summary: self.summary,
            cover: self.cover,
            cover_alt: self.cover_alt,
            featured: self.featured,
            published_at: ts(self.published_at.unwrap_or(self.updated_at)),
            updated_at: ts(self.updated_at),
        }
    }
}

/// What saving a post did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Created(i64),
    Updated(i64),
    Unchanged(i64),
}

impl Saved {
    pub fn id(self) -> i64 {
        match self {
            Saved::Created(i) | Saved::Updated(i) | Saved::Unchanged(i) => i,
        }
    }
}

/// Creates or replaces the post with the input's (lang, slug), with its authors, tags, sources and
/// corrections, inside the caller's transaction. An input identical to what is stored writes nothing.
pub async fn save(
    mut c: Conn<'_>,
    input: &PostInput,
    now: OffsetDateTime,
) -> Result<Saved, ContentError> {
    let fingerprint = fingerprint(input);
    let existing: Option<(i64, String)> = q_opt!(
        reborrow(&mut c),
        (i64, String),
        "SELECT id, fingerprint FROM posts WHERE lang = $1 AND slug = $2",
        &input.lang,
        &input.slug
    )?;
    if let Some((id, fp)) = &existing
        && *fp == fingerprint
    {
        return Ok(Saved::Unchanged(*id));
    }
    write(c, existing.map(|(id, _)| id), input, &fingerprint, now).await
}

/// The fingerprint `save` compares: a hash of everything the input says.
pub(crate) fn fingerprint(input: &PostInput) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_vec(input).expect("post input serializes"),
    ))
}

/// Writes `input` over the post `existing` (or as a new post) with its authors, tags, sources and
/// corrections, and bumps the content version. An update also bumps the post's edit version.
pub(crate) async fn write(
    mut c: Conn<'_>,
    existing: Option<i64>,
    input: &PostInput,
    fingerprint: &str,
    now: OffsetDateTime,
) -> Result<Saved, ContentError> {
    let r = markdown::render(&input.body_md);
    let authors_json = serde_json::to_string(&input.authors).expect("strings serialize");
    let published = input.published_at.map(|t| t.unix_timestamp());
    let updated = input
        .updated_at
        .or(if existing.is_some() {
            Some(now)
        } else {
            input.published_at
        })
        .unwrap_or(now);
    let saved = match existing {
        Some(id) => {
            q_exec!(
                reborrow(&mut c),
                "UPDATE posts SET translation_key = $1, kind = $2, title = $3, summary = $4, body_md = $5, \
                 body_html = $6, body_text = $7, authors_json = $8, cover = $9, cover_alt = $10, featured = $11, \
                 status = $12, published_at = $13, updated_at = $14, fingerprint = $15, lang = $17, slug = $18, \
                 version = version + 1 WHERE id = $16",
                &input.translation_key,
                input.kind.as_str(),
                &input.title,
                &input.summary,
                &input.body_md,
                &r.html,
                &r.text,
                &authors_json,
                &input.cover,
                &input.cover_alt,
                input.featured,
                input.status.as_str(),
                published,
                updated.unix_timestamp(),
                fingerprint,
                id,
                &input.lang,
                &input.slug
            )?;
            for table in ["post_authors", "post_tags", "sources", "corrections"] {
                q_exec!(
                    reborrow(&mut c),
                    sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE post_id = $1")),
                    id
                )?;
            }
            Saved::Updated(id)
        }
        None => {
            let (id,): (i64,) = q_one!(
                reborrow(&mut c),
                (i64,),
                "INSERT INTO posts (lang, slug, translation_key, kind, title, summary, body_md, body_html, body_text, \
                 authors_json, cover, cover_alt, featured, status, published_at, updated_at, created_at, fingerprint) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id",
                &input.lang,
                &input.slug,
                &input.translation_key,
                input.kind.as_str(),
                &input.title,
                &input.summary,
                &input.body_md,
                &r.html,
                &r.text,
                &authors_json,
                &input.cover,
                &input.cover_alt,
                input.featured,
                input.status.as_str(),
                published,
                updated.unix_timestamp(),
                now.unix_timestamp(),
                fingerprint
            )?;
            Saved::Created(id)
        }
    };
    let id = saved.id();
    for (i, a) in input.authors.iter().enumerate() {
        q_exec!(
            reborrow(&mut c),
            "INSERT INTO post_authors (post_id, position, name, slug) VALUES ($1, $2, $3, $4)",
            id,
            i as i64,
            a,
            slugify(a)
        )?;
    }
    for (i, t) in input.tags.iter().enumerate() {
        q_exec!(
            reborrow(&mut c),
            "INSERT INTO post_tags (post_id, position, name, slug) VALUES ($1, $2, $3, $4)",
            id,
            i as i64,
            t,
            slugify(t)
        )?;
    }
    for (i, s) in input.sources.iter().enumerate() {
        q_exec!(
            reborrow(&mut c),
            "INSERT INTO sources (post_id, position, publisher, authors, title, url, date) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            id,
            i as i64,
            &s.publisher,
            &s.authors,
            &s.title,
            &s.url,
            &s.date
        )?;
    }
    for k in &input.corrections {
        q_exec!(
            reborrow(&mut c),
            "INSERT INTO corrections (post_id, corrected_at, note) VALUES ($1, $2, $3)",
            id,
            k.at.unix_timestamp(),
            &k.note
        )?;
    }
    crate::search::index_post(
        reborrow(&mut c),
        id,
        &input.title,
        &crate::search::meta_text(input),
        &r.text,
    )
    .await?;
    bump_version(reborrow(&mut c)).await?;
    Ok(saved)
}

/// Lets one `Conn` serve several statements in a row.
pub(crate) fn reborrow<'a>(c: &'a mut Conn<'_>) -> Conn<'a> {
    match c {
        Conn::Sqlite(x) => Conn::Sqlite(x),
        Conn::Postgres(x) => Conn::Postgres(x),
    }
}

/// The content version: changes whenever anything a page shows changes.
pub async fn version(c: Conn<'_>) -> Result<i64, ContentError> {
    let (v,): (i64,) = q_one!(
        c,
        (i64,),
        "SELECT version FROM content_version WHERE id = 1"
    )?;
    Ok(v)
}

pub async fn bump_version(c: Conn<'_>) -> Result<(), ContentError> {
    q_exec!(
        c,
        "UPDATE content_version SET version = version + 1 WHERE id = 1"
    )?;
    Ok(())
}

/// Publishes scheduled posts whose time has come; returns how many went live.
pub async fn publish_due(db: &Db, now: OffsetDateTime) -> Result<u64, ContentError> {
    // Every serving process asks this every few seconds: look first with a read, so the usual answer
    // ("nothing is due") never takes SQLite's write lock.
    let (due,): (i64,) = q_one!(
        db.acquire().await?.conn(),
        (i64,),
        "SELECT COUNT(*) FROM posts WHERE status = 'scheduled' AND published_at <= $1",
        now.unix_timestamp()
    )?;
    if due == 0 {
        return Ok(0);
    }
    let mut tx = db.begin().await?;
    let n = q_exec!(
        tx.conn(),
        "UPDATE posts SET status = 'published' WHERE status = 'scheduled' AND published_at <= $1",
        now.unix_timestamp()
    )?;
    if n > 0 {
        bump_version(tx.conn()).await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// A published post by language and slug, with everything its page shows.
pub async fn published(db: &Db, lang: Lang, slug: &str) -> Result<Option<Post>, ContentError> {
    load(db, lang, slug, true).await
}

/// A post in any status (for export and editing).
pub async fn load(
    db: &Db,
    lang: Lang,
    slug: &str,
    only_published: bool,
) -> Result<Option<Post>, ContentError> {
    let mut pc = db.acquire().await?;
    let sql = format!(
        "SELECT {POST_COLS} FROM posts WHERE lang = $1 AND slug = $2{}",
        if only_published {
            " AND status = 'published'"
        } else {
            ""
        }
    );
    let Some(row) = q_opt!(pc.conn(), PostRow, sqlx::AssertSqlSafe(sql), lang, slug)? else {
        return Ok(None);
    };
    let id = row.id;
    let tags: Vec<(String, String)> = q_all!(
        pc.conn(),
        (String, String),
        "SELECT name, slug FROM post_tags WHERE post_id = $1 ORDER BY position",
        id
    )?;
    #[derive(sqlx::FromRow)]
    struct SrcRow {
        publisher: String,
        authors: String,
        title: String,
        url: String,
        date: Option<String>,
    }
    let sources: Vec<SrcRow> = q_all!(
        pc.conn(),
        SrcRow,
        "SELECT publisher, authors, title, url, date FROM sources WHERE post_id = $1 ORDER BY position",
        id
    )?;
    let corrections: Vec<(i64, String)> = q_all!(
        pc.conn(),
        (i64, String),
        "SELECT corrected_at, note FROM corrections WHERE post_id = $1 ORDER BY corrected_at, id",
        id
    )?;
    Ok(Some(Post {
        id,
        kind: Kind::parse(&row.kind).unwrap_or(Kind::News),
        status: Status::parse(&row.status).unwrap_or(Status::Draft),
        authors: names(&row.authors_json),
        tags: tags
            .into_iter()
            .map(|(name, slug)| Named { name, slug })
            .collect(),
        sources: sources
            .into_iter()
            .map(|s| Source {
                publisher: s.publisher,
                authors: s.authors,
                title: s.title,
                url: s.url,
                date: s.date,
            })
            .collect(),
        corrections: corrections
            .into_iter()
            .map(|(at, note)| Correction { at: ts(at), note })
            .collect(),
        lang: row.lang,
        slug: row.slug,
        translation_key: row.translation_key,
        title: row.title,
        summary: row.summary,
        body_md: row.body_md,
        body_html: row.body_html,
        body_text: row.body_text,
        cover: row.cover,
        cover_alt: row.cover_alt,
        featured: row.featured,
        published_at: row.published_at.map(ts),
        updated_at: ts(row.updated_at),
    }))
}

/// Which published posts a listing shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub lang: Lang,
    pub kind: Option<Kind>,
    pub tag: Option<String>,
    pub author: Option<String>,
    /// Published within `[from, to)`.
    pub between: Option<(OffsetDateTime, OffsetDateTime)>,
    pub featured: Option<bool>,
}

const FILTER_SQL: &str = "status = 'published' AND lang = $1 AND ($2 IS NULL OR kind = $2) \
     AND ($3 IS NULL OR id IN (SELECT post_id FROM post_tags WHERE slug = $3)) \
     AND ($4 IS NULL OR id IN (SELECT post_id FROM post_authors WHERE slug = $4)) \
     AND published_at >= $5 AND published_at < $6 AND ($7 IS NULL OR featured = $7)";

/// One page of a listing, newest first, and the total count.
pub async fn list(
    db: &Db,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<PostSummary>, i64), ContentError> {
    let mut pc = db.acquire().await?;
    let (from, to) = f
        .between
        .map(|(a, b)| (a.unix_timestamp(), b.unix_timestamp()))
        .unwrap_or((i64::MIN, i64::MAX));
    let kind = f.kind.map(Kind::as_str);
    let rows: Vec<PostRow> = q_all!(
        pc.conn(),
        PostRow,
        sqlx::AssertSqlSafe(format!(
            "SELECT {POST_COLS} FROM posts WHERE {FILTER_SQL} ORDER BY published_at DESC, id DESC LIMIT $8 OFFSET $9"
        )),
        &f.lang,
        kind,
        &f.tag,
        &f.author,
        from,
        to,
        f.featured,
        limit,
        offset
    )?;
    let (total,): (i64,) = q_one!(
        pc.conn(),
        (i64,),
        sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM posts WHERE {FILTER_SQL}")),
        &f.lang,
        kind,
        &f.tag,
        &f.author,
        from,
        to,
        f.featured
    )?;
    Ok((rows.into_iter().map(PostRow::summary).collect(), total))
}

/// Full posts for a feed, newest first.
pub async fn latest_full(db: &Db, f: &Filter, limit: i64) -> Result<Vec<Post>, ContentError> {
    let (list, _) = list(db, f, limit, 0).await?;
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        if let Some(p) = published(db, s.lang, &s.slug).await? {
            out.push(p);
        }
    }
    Ok(out)
}

/// The display name behind a tag or author slug, if any published post in `lang` uses it.
pub async fn name_of(
    db: &Db,
    what: Taxonomy,
    lang: Lang,
    slug: &str,
) -> Result<Option<String>, ContentError> {
    let table = match what {
        Taxonomy::Tag => "post_tags",
        Taxonomy::Author => "post_authors",
    };
    let mut pc = db.acquire().await?;
    let row: Option<(String,)> = q_opt!(
        pc.conn(),
        (String,),
        sqlx::AssertSqlSafe(format!(
            "SELECT t.name FROM {table} t JOIN posts p ON p.id = t.post_id \
             WHERE t.slug = $1 AND p.lang = $2 AND p.status = 'published' LIMIT 1"
        )),
        slug,
        lang
    )?;
    Ok(row.map(|r| r.0))
}

#[derive(Debug, Clone, Copy)]
pub enum Taxonomy {
    Tag,
    Author,
}

/// Other-language versions of a story: (lang, slug) of each published translation.
pub async fn translations(db: &Db, post: &Post) -> Result<Vec<(Lang, String)>, ContentError> {
    let Some(key) = &post.translation_key else {
        return Ok(Vec::new());
    };
    let mut pc = db.acquire().await?;
    Ok(q_all!(
        pc.conn(),
        (Lang, String),
        "SELECT lang, slug FROM posts WHERE translation_key = $1 AND id <> $2 AND status = 'published' ORDER BY lang",
        key,
        post.id
    )?)
}

/// Corrections made at or after `since` to published posts, oldest first.
pub async fn corrections_since(
    db: &Db,
    since: OffsetDateTime,
) -> Result<Vec<CorrectionOnPost>, ContentError> {
    let mut pc = db.acquire().await?;
    let rows: Vec<(i64, Lang, String, String, i64, String)> = q_all!(
        pc.conn(),
        (i64, Lang, String, String, i64, String),
        "SELECT c.post_id, p.lang, p.slug, p.title, c.corrected_at, c.note FROM corrections c \
         JOIN posts p ON p.id = c.post_id WHERE c.corrected_at >= $1 AND p.status = 'published' \
         ORDER BY c.corrected_at, c.id",
        since.unix_timestamp()
    )?;
    Ok(rows
        .into_iter()
        .map(|(post_id, lang, slug, title, at, note)| CorrectionOnPost {
            post_id,
            lang,
            slug,
            title,
            at: ts(at),
            note,
        })
        .collect())
}

/// One line of the sitemap.
#[derive(Debug, Clone)]
pub struct SitemapEntry {
    pub lang: Lang,
    pub slug: String,
    pub translation_key: Option<String>,
    pub modified: OffsetDateTime,
}

pub async fn sitemap(db: &Db) -> Result<Vec<SitemapEntry>, ContentError> {
    let mut pc = db.acquire().await?;
    type Row = (Lang, String, Option<String>, i64, Option<i64>);
    let rows: Vec<Row> = q_all!(
        pc.conn(),
        Row,
        "SELECT p.lang, p.slug, p.translation_key, p.updated_at, \
         (SELECT MAX(c.corrected_at) FROM corrections c WHERE c.post_id = p.id) \
         FROM posts p WHERE p.status = 'published' ORDER BY p.published_at DESC, p.id DESC"
    )?;
    Ok(rows
        .into_iter()
        .map(|(lang, slug, translation_key, u, c)| SitemapEntry {
            lang,
            slug,
            translation_key,
            modified: ts(c.map_or(u, |c| c.max(u))),
        })
        .collect())
}

/// (year, month, count) of published posts in `lang`, newest first.
pub async fn months(db: &Db, lang: Lang) -> Result<Vec<(i32, u8, i64)>, ContentError> {
    let mut pc = db.acquire().await?;
    let rows: Vec<(i64,)> = q_all!(
        pc.conn(),
        (i64,),
        "SELECT published_at FROM posts WHERE lang = $1 AND status = 'published' ORDER BY published_at DESC",
        lang
    )?;
    let mut out: Vec<(i32, u8, i64)> = Vec::new();
    for (t,) in rows {
        let d = ts(t);
        let key = (d.year(), d.month() as u8);
        match out.last_mut() {
            Some(last) if (last.0, last.1) == key => last.2 += 1,
            _ => out.push((key.0, key.1, 1)),
        }
    }
    Ok(out)
}

/// Every post in any status, for export: (lang, slug) pairs.
pub async fn all_keys(db: &Db) -> Result<Vec<(Lang, String)>, ContentError> {
    let mut pc = db.acquire().await?;
    Ok(q_all!(
        pc.conn(),
        (Lang, String),
        "SELECT lang, slug FROM posts ORDER BY lang, slug"
    )?)
}
