//! Posts as the admin edits them: by id, with an edit version that turns a second editor's stale
//! save into a conflict instead of a silent overwrite, a revision kept at every save (an author's
//! saves within a few minutes share one, so autosave does not bury the history), the admin's
//! list with its filters, and corrections added to a published post.

use jarida_core::Lang;
use jarida_store::{Db, Tx, q_all, q_exec, q_one, q_opt, sqlx};
use time::OffsetDateTime;

use crate::model::*;
use crate::repo;
use crate::{ContentError, markdown};

/// Autosaves by one user closer together than this extend their latest autosaved revision.
pub const REVISION_MERGE_SECS: i64 = 600;

/// A post with what only the admin needs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Editable {
    pub post: Post,
    pub version: i64,
    pub owner_id: Option<i64>,
    pub submitted_at: Option<i64>,
}

/// Who saves.
#[derive(Debug, Clone)]
pub struct Editor {
    pub user_id: Option<i64>,
    pub label: String,
    /// The editor's script saving while they type (not a press of Save).
    pub autosave: bool,
}

impl Editor {
    /// The name a revision shows.
    fn revision_label(&self) -> String {
        if self.autosave {
            format!("{} (autosave)", self.label)
        } else {
            self.label.clone()
        }
    }
}

fn check(input: &PostInput) -> Result<(), ContentError> {
    let bad = |field, reason: &str| {
        Err(ContentError::Invalid {
            field,
            reason: reason.to_string(),
        })
    };
    if input.title.trim().is_empty() {
        return bad("title", "give the post a title");
    }
    if input.title.chars().count() > 300 {
        return bad("title", "keep it under 300 characters");
    }
    if let Err(reason) = check_slug(&input.slug) {
        return Err(ContentError::Invalid {
            field: "slug",
            reason: format!("the slug {reason}"),
        });
    }
    if input.body_md.len() > 2_000_000 {
        return bad("body", "the text is longer than 2 MB");
    }
    if input.summary.chars().count() > 2000 {
        return bad("summary", "keep it under 2,000 characters");
    }
    for (i, s) in input.sources.iter().enumerate() {
        if s.publisher.trim().is_empty() {
            return Err(ContentError::Invalid {
                field: "sources",
                reason: format!("source {} needs a publisher", i + 1),
            });
        }
        if !(s.url.is_empty() || s.url.starts_with("https://") || s.url.starts_with("http://")) {
            return Err(ContentError::Invalid {
                field: "sources",
                reason: format!("source {}: the address must start with https://", i + 1),
            });
        }
    }
    Ok(())
}

async fn slug_free(tx: &mut Tx, lang: Lang, slug: &str, id: i64) -> Result<(), ContentError> {
    let other: Option<(i64,)> = q_opt!(
        tx.conn(),
        (i64,),
        "SELECT id FROM posts WHERE lang = $1 AND slug = $2 AND id <> $3",
        lang,
        slug,
        id
    )?;
    match other {
        Some(_) => Err(ContentError::Invalid {
            field: "slug",
            reason: format!("another {lang} post already has the address /{lang}/{slug}"),
        }),
        None => Ok(()),
    }
}

/// Creates a post owned by `who`, in the caller's transaction.
pub async fn create(
    tx: &mut Tx,
    input: &PostInput,
    who: &Editor,
    now: OffsetDateTime,
) -> Result<i64, ContentError> {
    check(input)?;
    slug_free(tx, input.lang, &input.slug, -1).await?;
    let fp = repo::fingerprint(input);
    let id = repo::write(tx.conn(), None, input, &fp, now).await?.id();
    q_exec!(
        tx.conn(),
        "UPDATE posts SET owner_id = $1 WHERE id = $2",
        who.user_id,
        id
    )?;
    revision(tx, id, 1, who, input, now).await?;
    Ok(id)
}

/// Saves `input` over post `id` if it is still at `version`; returns the new version. The post's
/// corrections are kept whatever `input` holds (they are added one by one, never edited away).
pub async fn update(
    tx: &mut Tx,
    id: i64,
    version: i64,
    input: &PostInput,
    who: &Editor,
    now: OffsetDateTime,
) -> Result<i64, ContentError> {
    check(input)?;
    // A no-op update that matches only the version the editor loaded: on PostgreSQL it also locks
    // the row, so of two saves racing from one version exactly one gets past here.
    let held = q_exec!(
        tx.conn(),
        "UPDATE posts SET version = version WHERE id = $1 AND version = $2",
        id,
        version
    )?;
    if held == 0 {
        let current: Option<(i64,)> = q_opt!(
            tx.conn(),
            (i64,),
            "SELECT version FROM posts WHERE id = $1",
            id
        )?;
        return Err(match current {
            Some((current,)) => ContentError::Conflict { id, current },
            None => ContentError::NoPost(id),
        });
    }
    slug_free(tx, input.lang, &input.slug, id).await?;
    let mut input = input.clone();
    input.corrections = corrections_of(tx, id).await?;
    let fp = repo::fingerprint(&input);
    repo::write(tx.conn(), Some(id), &input, &fp, now).await?;
    revision(tx, id, version + 1, who, &input, now).await?;
    Ok(version + 1)
}

async fn corrections_of(tx: &mut Tx, id: i64) -> Result<Vec<Correction>, ContentError> {
    let rows: Vec<(i64, String)> = q_all!(
        tx.conn(),
        (i64, String),
        "SELECT corrected_at, note FROM corrections WHERE post_id = $1 ORDER BY corrected_at, id",
        id
    )?;
    Ok(rows
        .into_iter()
        .map(|(at, note)| Correction {
            at: OffsetDateTime::from_unix_timestamp(at).unwrap_or(OffsetDateTime::UNIX_EPOCH),
            note,
        })
        .collect())
}

async fn revision(
    tx: &mut Tx,
    post_id: i64,
    version: i64,
    who: &Editor,
    input: &PostInput,
    now: OffsetDateTime,
) -> Result<(), ContentError> {
    let mut snap = input.clone();
    snap.corrections.clear();
    let json = serde_json::to_string(&snap).expect("post input serializes");
    let now = now.unix_timestamp();
    let label = who.revision_label();
    let last: Option<(i64, Option<i64>, i64, String)> = q_opt!(
        tx.conn(),
        (i64, Option<i64>, i64, String),
        "SELECT id, user_id, at, actor FROM post_revisions WHERE post_id = $1 ORDER BY version DESC, id DESC LIMIT 1",
        post_id
    )?;
    match last {
        Some((rid, uid, at, actor))
            if who.autosave
                && actor == label
                && uid == who.user_id
                && now - at < REVISION_MERGE_SECS =>
        {
            q_exec!(
                tx.conn(),
                "UPDATE post_revisions SET version = $1, snapshot = $2 WHERE id = $3",
                version,
                json,
                rid
            )?;
        }
        _ => {
            q_exec!(
                tx.conn(),
                "INSERT INTO post_revisions (post_id, version, at, user_id, actor, snapshot) VALUES ($1, $2, $3, $4, $5, $6)",
                post_id,
                version,
                now,
                who.user_id,
                &label,
                json
            )?;
        }
    }
    Ok(())
}

/// The post with id `id`, in any status.
pub async fn load(db: &Db, id: i64) -> Result<Option<Editable>, ContentError> {
    type Row = (Lang, String, i64, Option<i64>, Option<i64>);
    let row: Option<Row> = q_opt!(
        db.acquire().await?.conn(),
        Row,
        "SELECT lang, slug, version, owner_id, submitted_at FROM posts WHERE id = $1",
        id
    )?;
    let Some((lang, slug, version, owner_id, submitted_at)) = row else {
        return Ok(None);
    };
    Ok(repo::load(db, lang, &slug, false)
        .await?
        .map(|post| Editable {
            post,
            version,
            owner_id,
            submitted_at,
        }))
}

/// The other-language versions of `post` (the posts sharing its translation key), each as the
/// editor would load it.
pub async fn translations(db: &Db, post: &Post) -> Result<Vec<Editable>, ContentError> {
    let Some(key) = &post.translation_key else {
        return Ok(Vec::new());
    };
    let ids: Vec<(i64,)> = q_all!(
        db.acquire().await?.conn(),
        (i64,),
        "SELECT id FROM posts WHERE translation_key = $1 AND id <> $2 ORDER BY lang, id",
        key,
        post.id
    )?;
    let mut out = Vec::with_capacity(ids.len());
    for (id,) in ids {
        if let Some(e) = load(db, id).await? {
            out.push(e);
        }
    }
    Ok(out)
}

/// The editable fields of a stored post, as a save would give them.
pub fn input_of(p: &Post) -> PostInput {
    PostInput {
        lang: p.lang,
        slug: p.slug.clone(),
        translation_key: p.translation_key.clone(),
        kind: p.kind,
        title: p.title.clone(),
        summary: p.summary.clone(),
        body_md: p.body_md.clone(),
        authors: p.authors.iter().map(|a| a.name.clone()).collect(),
        tags: p.tags.iter().map(|t| t.name.clone()).collect(),
        cover: p.cover.clone(),
        cover_alt: p.cover_alt.clone(),
        featured: p.featured,
        status: p.status,
        published_at: p.published_at,
        updated_at: None,
        sources: p.sources.clone(),
        corrections: p.corrections.clone(),
    }
}

/// Marks the post as waiting for an editor (or no longer waiting).
pub async fn set_submitted(tx: &mut Tx, id: i64, at: Option<i64>) -> Result<(), ContentError> {
    q_exec!(
        tx.conn(),
        "UPDATE posts SET submitted_at = $1 WHERE id = $2",
        at,
        id
    )?;
    Ok(())
}

/// Adds a dated correction to a post: it shows on the article and in the feeds at once, and in
/// the next edition's corrections section.
pub async fn add_correction(
    tx: &mut Tx,
    id: i64,
    note: &str,
    at: OffsetDateTime,
) -> Result<(), ContentError> {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 4000 {
        return Err(ContentError::Invalid {
            field: "note",
            reason: "write what was wrong and what is right (up to 4,000 characters)".into(),
        });
    }
    let n = q_exec!(
        tx.conn(),
        "UPDATE posts SET version = version + 1 WHERE id = $1",
        id
    )?;
    if n == 0 {
        return Err(ContentError::NoPost(id));
    }
    q_exec!(
        tx.conn(),
        "INSERT INTO corrections (post_id, corrected_at, note) VALUES ($1, $2, $3)",
        id,
        at.unix_timestamp(),
        note
    )?;
    repo::bump_version(tx.conn()).await?;
    Ok(())
}

/// Deletes a post (and its authors, tags, sources, corrections and revisions).
pub async fn delete(tx: &mut Tx, id: i64) -> Result<bool, ContentError> {
    for table in [
        "post_authors",
        "post_tags",
        "sources",
        "corrections",
        "post_revisions",
    ] {
        q_exec!(
            tx.conn(),
            sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE post_id = $1")),
            id
        )?;
    }
    let n = q_exec!(tx.conn(), "DELETE FROM posts WHERE id = $1", id)?;
    repo::bump_version(tx.conn()).await?;
    Ok(n > 0)
}

/// One revision of a post, as the history lists it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Revision {
    pub id: i64,
    pub version: i64,
    pub at: i64,
    pub actor: String,
}

pub async fn revisions(db: &Db, post_id: i64) -> Result<Vec<Revision>, ContentError> {
    Ok(q_all!(
        db.acquire().await?.conn(),
        Revision,
        "SELECT id, version, at, actor FROM post_revisions WHERE post_id = $1 ORDER BY version DESC, id DESC",
        post_id
    )?)
}

/// What the post said at a revision.
pub async fn revision_input(
    db: &Db,
    post_id: i64,
    revision_id: i64,
) -> Result<Option<PostInput>, ContentError> {
    let row: Option<(String,)> = q_opt!(
        db.acquire().await?.conn(),
        (String,),
        "SELECT snapshot FROM post_revisions WHERE id = $1 AND post_id = $2",
        revision_id,
        post_id
    )?;
    Ok(row.and_then(|(s,)| serde_json::from_str(&s).ok()))
}

/// Which posts the admin's list shows.
#[derive(Debug, Clone, Default)]
pub struct AdminFilter {
    pub lang: Option<Lang>,
    pub kind: Option<Kind>,
    /// `draft`, `scheduled`, `published`, or `submitted` (drafts waiting for an editor).
    pub status: Option<String>,
    pub author: Option<String>,
    pub tag: Option<String>,
    /// Words to search for, through the site's search (title, summary, tags, authors, sources
    /// and body, in any spelling `search::text` folds together).
    pub q: Option<String>,
    /// Only posts this user owns (what authors and contributors see).
    pub owner: Option<i64>,
}

/// A line of the admin's list.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct AdminRow {
    pub id: i64,
    pub lang: Lang,
    pub slug: String,
    pub title: String,
    pub kind: String,
    pub status: String,
    pub published_at: Option<i64>,
    pub updated_at: i64,
    pub owner_id: Option<i64>,
    pub submitted_at: Option<i64>,
    pub translation_key: Option<String>,
    pub authors_json: String,
}

/// A story in the list: the post matched, with its versions in the other languages.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AdminStory {
    pub post: AdminRow,
    pub translations: Vec<AdminRow>,
}

const ADMIN_COLS: &str = "id, lang, slug, title, kind, status, published_at, updated_at, owner_id, submitted_at, \
                          translation_key, authors_json";

/// The list's filter. The words go through the site's search index, the same engine readers
/// use, drafts included: the list keeps its order (most recently changed first) and its cursors,
/// and the index says which posts match (`$6`, their ids as a JSON array).
fn admin_filter(d: jarida_store::Dialect) -> String {
    let words = match d {
        jarida_store::Dialect::Sqlite => "id IN (SELECT value FROM json_each($6))",
        jarida_store::Dialect::Postgres => {
            "id IN (SELECT jsonb_array_elements_text($6::jsonb)::bigint)"
        }
    };
    format!(
        "($1 IS NULL OR lang = $1) AND ($2 IS NULL OR kind = $2) \
     AND ($3 IS NULL OR ($3 = 'submitted' AND status = 'draft' AND submitted_at IS NOT NULL) OR status = $3) \
     AND ($4 IS NULL OR id IN (SELECT post_id FROM post_authors WHERE slug = $4)) \
     AND ($5 IS NULL OR id IN (SELECT post_id FROM post_tags WHERE slug = $5)) \
     AND ($6 IS NULL OR {words}) AND ($7 IS NULL OR owner_id = $7)"
    )
}

/// Where a page of the admin's list starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// After skipping this many (page numbers; the API's `page`).
    Offset(i64),
    /// The posts after this one in the list's order (changed earlier): the next page, read
    /// from the index at that point however deep it is, where an offset reads every row before.
    After(Cursor),
    /// The posts before this one (changed later): the previous page.
    Before(Cursor),
}

/// A post's place in the list's order (most recently changed first), as the pagination links
/// carry it: `<updated_at>.<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub updated_at: i64,
    pub id: i64,
}

impl Cursor {
    pub fn of(row: &AdminRow) -> Cursor {
        Cursor {
            updated_at: row.updated_at,
            id: row.id,
        }
    }

    /// Reads what [`Cursor`]'s `Display` wrote; None for anything else.
    pub fn parse(s: &str) -> Option<Cursor> {
        let (t, id) = s.split_once('.')?;
        Some(Cursor {
            updated_at: t.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.updated_at, self.id)
    }
}

/// A page of the admin's list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AdminPage {
    pub stories: Vec<AdminStory>,
    /// How many posts match the filter in all.
    pub total: i64,
    /// Whether more follow in the direction the page was asked for (older ones for an offset or
    /// [`Position::After`], newer ones for [`Position::Before`]).
    pub more: bool,
}

/// A page of the admin's list, most recently changed first, and how many match in all (counted
/// unless the caller knows it: `known_total`). Each story's translations come along (one query
/// for the page), so the pair shows together.
pub async fn admin_list(
    db: &Db,
    search: &crate::search::Engine,
    f: &AdminFilter,
    limit: i64,
    at: Position,
    known_total: Option<i64>,
) -> Result<AdminPage, ContentError> {
    // Words that are all punctuation match nothing rather than everything.
    let q = match f.q.as_deref().filter(|q| !q.trim().is_empty()) {
        Some(q) => Some(
            serde_json::to_string(&crate::search::matching(search, db, q).await?)
                .unwrap_or_else(|_| "[]".into()),
        ),
        None => None,
    };
    let mut c = db.acquire().await?;
    let filter = admin_filter(c.conn().dialect());
    let kind = f.kind.map(Kind::as_str);
    // One row past the page says whether another page follows. The cursor's comparisons are
    // written so that `updated_at` bounds an index range on both databases.
    let mut rows: Vec<AdminRow> = match at {
        Position::Offset(offset) => q_all!(
            c.conn(),
            AdminRow,
            sqlx::AssertSqlSafe(format!(
                "SELECT {ADMIN_COLS} FROM posts WHERE {filter} ORDER BY updated_at DESC, id DESC LIMIT $8 OFFSET $9"
            )),
            f.lang,
            kind,
            &f.status,
            &f.author,
            &f.tag,
            &q,
            f.owner,
            limit + 1,
            offset.max(0)
        )?,
        Position::After(k) | Position::Before(k) => {
            let (cmp, order) = if matches!(at, Position::After(_)) {
                ('<', "DESC")
            } else {
                ('>', "ASC")
            };
            q_all!(
                c.conn(),
                AdminRow,
                sqlx::AssertSqlSafe(format!(
                    "SELECT {ADMIN_COLS} FROM posts WHERE {filter} AND updated_at {cmp}= $8 AND (updated_at {cmp} $8 OR id {cmp} $9) \
                     ORDER BY updated_at {order}, id {order} LIMIT $10"
                )),
                f.lang,
                kind,
                &f.status,
                &f.author,
                &f.tag,
                &q,
                f.owner,
                k.updated_at,
                k.id,
                limit + 1
            )?
        }
    };
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    if matches!(at, Position::Before(_)) {
        rows.reverse();
    }
    let total = match known_total {
        Some(n) => n,
        None => {
            let (n,): (i64,) = q_one!(
                c.conn(),
                (i64,),
                sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM posts WHERE {filter}")),
                f.lang,
                kind,
                &f.status,
                &f.author,
                &f.tag,
                &q,
                f.owner
            )?;
            n
        }
    };
    let keys: Vec<String> = rows
        .iter()
        .filter_map(|r| r.translation_key.clone())
        .collect();
    let mut others: Vec<AdminRow> = if keys.is_empty() {
        Vec::new()
    } else {
        let list = jarida_store::List::texts(&keys);
        let dialect = c.conn().dialect();
        q_all!(
            c.conn(),
            AdminRow,
            sqlx::AssertSqlSafe(format!(
                "SELECT {ADMIN_COLS} FROM posts WHERE translation_key IN ({}) ORDER BY lang",
                list.select(dialect, 1)
            )),
            list.param()
        )?
    };
    let stories = rows
        .into_iter()
        .map(|post| {
            let translations = match &post.translation_key {
                Some(k) => others
                    .iter()
                    .filter(|o| o.translation_key.as_ref() == Some(k) && o.id != post.id)
                    .cloned()
                    .collect(),
                None => Vec::new(),
            };
            AdminStory { post, translations }
        })
        .collect();
    others.clear();
    Ok(AdminPage {
        stories,
        total,
        more,
    })
}

/// The rendered HTML and plain text of Markdown, as the site would show it.
pub fn preview(md: &str) -> markdown::Rendered {
    markdown::render(md)
}

/// Names already used for authors and tags, most used first (the editor's suggestions).
pub async fn suggestions(db: &Db, table: Taxon, limit: i64) -> Result<Vec<String>, ContentError> {
    let t = match table {
        Taxon::Authors => "post_authors",
        Taxon::Tags => "post_tags",
    };
    let rows: Vec<(String,)> = q_all!(
        db.acquire().await?.conn(),
        (String,),
        sqlx::AssertSqlSafe(format!(
            "SELECT name FROM {t} GROUP BY name ORDER BY COUNT(*) DESC, name LIMIT $1"
        )),
        limit
    )?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

#[derive(Debug, Clone, Copy)]
pub enum Taxon {
    Authors,
    Tags,
}

/// The key that links post `id` with its translations, giving it one (its slug) if it had none.
pub async fn translation_key(tx: &mut Tx, id: i64) -> Result<String, ContentError> {
    let row: Option<(Option<String>, String)> = q_opt!(
        tx.conn(),
        (Option<String>, String),
        "SELECT translation_key, slug FROM posts WHERE id = $1",
        id
    )?;
    let Some((key, slug)) = row else {
        return Err(ContentError::NoPost(id));
    };
    if let Some(k) = key {
        return Ok(k);
    }
    q_exec!(
        tx.conn(),
        "UPDATE posts SET translation_key = $1, version = version + 1 WHERE id = $2",
        &slug,
        id
    )?;
    Ok(slug)
}

/// Keeps what an autosave of a published or scheduled post holds as a revision, without changing
/// what readers see: the editor finds it in the history and restores it when they mean to.
pub async fn autosave_revision(
    tx: &mut Tx,
    id: i64,
    who: &Editor,
    input: &PostInput,
    now: OffsetDateTime,
) -> Result<(), ContentError> {
    let (version,): (i64,) = q_one!(
        tx.conn(),
        (i64,),
        "SELECT version FROM posts WHERE id = $1",
        id
    )?;
    let mut snap = input.clone();
    snap.corrections.clear();
    let json = serde_json::to_string(&snap).expect("post input serializes");
    let label = format!("{} (autosave)", who.label);
    let last: Option<(i64,)> = q_opt!(
        tx.conn(),
        (i64,),
        "SELECT id FROM post_revisions WHERE post_id = $1 AND user_id IS NOT DISTINCT FROM $2 AND actor = $3 \
         AND at > $4 ORDER BY id DESC LIMIT 1",
        id,
        who.user_id,
        &label,
        now.unix_timestamp() - REVISION_MERGE_SECS
    )?;
    match last {
        Some((rid,)) => {
            q_exec!(
                tx.conn(),
                "UPDATE post_revisions SET snapshot = $1, version = $2 WHERE id = $3",
                json,
                version,
                rid
            )?;
        }
        None => {
            q_exec!(
                tx.conn(),
                "INSERT INTO post_revisions (post_id, version, at, user_id, actor, snapshot) VALUES ($1, $2, $3, $4, $5, $6)",
                id,
                version,
                now.unix_timestamp(),
                who.user_id,
                label,
                json
            )?;
        }
    }
    Ok(())
}

/// The lines that differ between two texts, for the revision history: (`-`, `+` or ` `, line).
pub fn diff(old: &str, new: &str) -> Vec<(char, String)> {
    similar::TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|c| {
            let tag = match c.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => ' ',
            };
            (tag, c.value().trim_end_matches('\n').to_string())
        })
        .collect()
}
