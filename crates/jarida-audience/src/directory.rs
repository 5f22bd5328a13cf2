//! The readers list the admin shows: filters, prefix search and pages that stay fast at a million
//! readers, and what one reader's page shows (consent, history, editions received). Pages are read
//! by id from a cursor (keyset), never by offset, so the thousandth page costs what the first does.

use jarida_core::{Lang, SubscriberId};
use jarida_store::{Conn, Db, q_all, sqlx};

use crate::AudienceError;
use crate::subscribers::SubscriberStatus;

/// What the list is narrowed to. Every field is optional; the default lists everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ReaderFilter {
    /// The start of an address, or of a name (an address's start when it holds an `@`).
    pub q: Option<String>,
    pub status: Option<SubscriberStatus>,
    pub lang: Option<Lang>,
    /// Readers of this newsletter.
    pub newsletter: Option<i64>,
    /// Readers brought in by this import.
    pub import: Option<i64>,
    /// Signed up at or after this moment (unix seconds).
    pub joined_from: Option<i64>,
    /// Signed up before this moment.
    pub joined_to: Option<i64>,
}

/// A value bound into the filter's SQL.
#[derive(Debug, Clone)]
enum Arg {
    Int(i64),
    Text(String),
}

/// `LIKE`'s wildcards in `s` escaped (with `\`).
fn like_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl ReaderFilter {
    /// The `WHERE` clause (without the word) and its values, numbered from `$1`. Only the
    /// conditions set appear, so each database can use the index that fits (a `$1 IS NULL OR …`
    /// form hides the address index from SQLite's planner).
    fn clause(&self, d: jarida_store::Dialect) -> (String, Vec<Arg>) {
        let mut parts: Vec<String> = Vec::new();
        let mut args: Vec<Arg> = Vec::new();
        let push = |args: &mut Vec<Arg>, a: Arg| {
            args.push(a);
            format!("${}", args.len())
        };
        if let Some(s) = self.status {
            let p = push(&mut args, Arg::Text(s.as_str().to_string()));
            parts.push(format!("status = {p}"));
        }
        if let Some(l) = self.lang {
            let p = push(&mut args, Arg::Text(l.code().to_string()));
            parts.push(format!("lang = {p}"));
        }
        if let Some(n) = self.newsletter {
            let p = push(&mut args, Arg::Int(n));
            parts.push(format!(
                "id IN (SELECT subscriber_id FROM subscriber_newsletters WHERE newsletter_id = {p})"
            ));
        }
        if let Some(i) = self.import {
            let p = push(&mut args, Arg::Int(i));
            parts.push(format!("import_id = {p}"));
        }
        if let Some(t) = self.joined_from {
            let p = push(&mut args, Arg::Int(t));
            parts.push(format!("created_at >= {p}"));
        }
        if let Some(t) = self.joined_to {
            let p = push(&mut args, Arg::Int(t));
            parts.push(format!("created_at < {p}"));
        }
        if let Some(q) = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            // Addresses are stored lower-cased and compared byte by byte (PostgreSQL's column is
            // `COLLATE "C"`), so a prefix is a range of the unique index.
            let lower = q.to_lowercase();
            let lo = push(&mut args, Arg::Text(lower.clone()));
            let hi = push(&mut args, Arg::Text(format!("{lower}\u{10FFFF}")));
            let range = format!("(email >= {lo} AND email < {hi})");
            if q.contains('@') {
                parts.push(range);
            } else {
                // Names are not indexed (an index would slow every import); the list reads
                // newest first and stops at a page's worth. SQLite's LIKE already ignores ASCII
                // case; PostgreSQL's needs ILIKE.
                let like = match d {
                    jarida_store::Dialect::Sqlite => "LIKE",
                    jarida_store::Dialect::Postgres => "ILIKE",
                };
                let name = push(&mut args, Arg::Text(format!("{}%", like_escaped(q))));
                parts.push(format!("({range} OR name {like} {name} ESCAPE '\\')"));
            }
        }
        let clause = if parts.is_empty() {
            "1 = 1".to_string()
        } else {
            parts.join(" AND ")
        };
        (clause, args)
    }
}

/// A line of the list.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct ReaderRow {
    pub id: SubscriberId,
    pub email: String,
    pub name: String,
    pub lang: Lang,
    pub status: SubscriberStatus,
    pub source: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
}

/// Where a page starts: newest first, then the readers older than a cursor, or (the previous
/// page) newer than one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    First,
    After(SubscriberId),
    Before(SubscriberId),
}

/// A page of the list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReaderPage {
    pub readers: Vec<ReaderRow>,
    /// Whether more follow in the direction asked (older for `First`/`After`, newer for `Before`).
    pub more: bool,
}

async fn fetch<T>(c: Conn<'_>, sql: &str, args: &[Arg]) -> Result<Vec<T>, AudienceError>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let rows = match c {
        Conn::Sqlite(c) => {
            let mut q = sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql));
            for a in args {
                q = match a {
                    Arg::Int(i) => q.bind(*i),
                    Arg::Text(t) => q.bind(t.clone()),
                };
            }
            q.fetch_all(&mut *c).await
        }
        Conn::Postgres(c) => {
            let mut q = sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql));
            for a in args {
                q = match a {
                    Arg::Int(i) => q.bind(*i),
                    Arg::Text(t) => q.bind(t.clone()),
                };
            }
            q.fetch_all(&mut *c).await
        }
    };
    Ok(rows.map_err(jarida_store::StoreError::from)?)
}

/// A page of at most `limit` readers matching `f`.
pub async fn list(
    db: &Db,
    f: &ReaderFilter,
    page: Page,
    limit: i64,
) -> Result<ReaderPage, AudienceError> {
    let mut c = db.acquire().await?;
    let (clause, mut args) = f.clause(c.conn().dialect());
    let (bound, order) = match page {
        Page::First => (String::new(), "DESC"),
        Page::After(id) => {
            args.push(Arg::Int(id.0));
            (format!(" AND id < ${}", args.len()), "DESC")
        }
        Page::Before(id) => {
            args.push(Arg::Int(id.0));
            (format!(" AND id > ${}", args.len()), "ASC")
        }
    };
    args.push(Arg::Int(limit + 1));
    let sql = format!(
        "SELECT id, email, name, lang, status, source, created_at, confirmed_at FROM subscribers \
         WHERE {clause}{bound} ORDER BY id {order} LIMIT ${}",
        args.len()
    );
    let mut readers: Vec<ReaderRow> = fetch(c.conn(), &sql, &args).await?;
    let more = readers.len() as i64 > limit;
    readers.truncate(limit.max(0) as usize);
    if matches!(page, Page::Before(_)) {
        readers.reverse();
    }
    Ok(ReaderPage { readers, more })
}

/// How many readers match `f`.
pub async fn count(db: &Db, f: &ReaderFilter) -> Result<i64, AudienceError> {
    let mut c = db.acquire().await?;
    let (clause, args) = f.clause(c.conn().dialect());
    let sql = format!("SELECT COUNT(*) FROM subscribers WHERE {clause}");
    let rows: Vec<(i64,)> = fetch(c.conn(), &sql, &args).await?;
    Ok(rows.first().map_or(0, |r| r.0))
}

/// An edition a reader was sent, with how it went.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Received {
    pub edition_id: i64,
    pub subject: Option<String>,
    pub lang: String,
    pub state: String,
    pub attempts: i64,
    pub done_at: Option<i64>,
    pub last_reply: Option<String>,
}

/// The editions sent (or being sent) to reader `id`, newest first.
pub async fn received(
    db: &Db,
    id: SubscriberId,
    limit: i64,
) -> Result<Vec<Received>, AudienceError> {
    let mut c = db.acquire().await?;
    Ok(q_all!(
        c.conn(),
        Received,
        "SELECT d.edition_id, (SELECT l.subject FROM edition_langs l WHERE l.edition_id = d.edition_id AND l.lang = d.lang) AS subject, \
         d.lang, d.state, d.attempts, d.done_at, d.last_reply \
         FROM deliveries d WHERE d.subscriber_id = $1 ORDER BY d.edition_id DESC LIMIT $2",
        id,
        limit
    )?)
}

/// The newsletters there are, for the filter's choices.
pub async fn newsletter_names(db: &Db) -> Result<Vec<(i64, String)>, AudienceError> {
    let mut c = db.acquire().await?;
    Ok(q_all!(
        c.conn(),
        (i64, String),
        "SELECT id, name FROM newsletters ORDER BY id"
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_conditions_set_reach_the_sql() {
        let (sql, args) = ReaderFilter::default().clause(jarida_store::Dialect::Sqlite);
        assert_eq!((sql.as_str(), args.len()), ("1 = 1", 0));
        let f = ReaderFilter {
            q: Some("Lina@Ex".into()),
            lang: Some(Lang::Ar),
            ..Default::default()
        };
        let (sql, args) = f.clause(jarida_store::Dialect::Sqlite);
        assert_eq!(sql, "lang = $1 AND (email >= $2 AND email < $3)");
        assert!(matches!(&args[1], Arg::Text(t) if t == "lina@ex"));
        let f = ReaderFilter {
            q: Some("50%_off".into()),
            ..Default::default()
        };
        let (sql, args) = f.clause(jarida_store::Dialect::Postgres);
        assert!(sql.contains("name ILIKE $3"), "{sql}");
        assert!(matches!(&args[2], Arg::Text(t) if t == "50\\%\\_off%"));
    }
}
