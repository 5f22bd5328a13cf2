//! Search over posts, for readers (published posts) and editors (every post), in English and
//! Arabic. Each post's words are normalized and stemmed here ([`text`]) when it is saved and kept
//! in `post_terms`; every process matches and ranks them in its own in-memory index
//! ([`engine`]), built from that table and kept current with it, so both databases answer the
//! same way. Snippets are cut here from the post's plain text, so the highlighted words are the
//! reader's own spelling. Owns `post_terms` and `search_state`.

pub mod engine;
pub mod text;

pub use engine::Engine;

use jarida_core::Lang;
use jarida_store::{Conn, Db, Dialect, q_all, q_exec, q_one};
use time::OffsetDateTime;

use crate::repo::reborrow;
use crate::{ContentError, Kind, PostInput};

/// The longest query read (characters); the rest is ignored, and the page says so.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words a query is made of.
const MAX_GROUPS: usize = 12;
/// Results per page.
pub const PER_PAGE: i64 = 10;
/// The last page that can be asked for.
pub const MAX_PAGE: i64 = 50;

/// The text of a post's summary, tags, authors and sources: the index's middle field.
pub fn meta_text(input: &PostInput) -> String {
    let mut meta = input.summary.clone();
    for s in input
        .tags
        .iter()
        .chain(&input.authors)
        .chain(input.sources.iter().map(|s| &s.publisher))
        .chain(input.sources.iter().map(|s| &s.title))
    {
        meta.push('\n');
        meta.push_str(s);
    }
    meta
}

/// Writes a saved post's words, inside the caller's transaction (a new `rev` when they were there
/// already, which tells every process's index to read them again).
pub async fn index_post(
    c: Conn<'_>,
    id: i64,
    title: &str,
    meta: &str,
    body_text: &str,
) -> Result<(), ContentError> {
    let (title, meta, body) = words_of(title, meta, body_text);
    store_words(c, id, &title, &meta, &body).await
}

/// A post's title, middle field and body as the index keeps them.
type Words = (String, String, String);

/// A post's three fields as the index keeps them: its terms, space-separated.
fn words_of(title: &str, meta: &str, body_text: &str) -> Words {
    let join = |t: &str| text::terms(t).join(" ");
    (join(title), join(meta), join(body_text))
}

async fn store_words(
    c: Conn<'_>,
    id: i64,
    title: &str,
    meta: &str,
    body: &str,
) -> Result<(), ContentError> {
    q_exec!(
        c,
        "INSERT INTO post_terms (post_id, title, meta, body) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (post_id) DO UPDATE SET rev = post_terms.rev + 1, title = excluded.title, \
         meta = excluded.meta, body = excluded.body",
        id,
        title,
        meta,
        body
    )?;
    Ok(())
}

/// Posts read at a time by a rebuild.
const REBUILD_PAGE: i64 = 500;

/// Writes the words of a page of posts again, from their rows: three queries for the page, the
/// stemming shared among the machine's cores (most of a rebuild's time), one write per post.
/// Returns the last id read, `None` past the end.
async fn reindex_page(mut c: Conn<'_>, after: i64) -> Result<Option<(i64, u64)>, ContentError> {
    let posts: Vec<(i64, String, String, String, String)> = q_all!(
        reborrow(&mut c),
        (i64, String, String, String, String),
        "SELECT id, title, summary, authors_json, body_text FROM posts WHERE id > $1 ORDER BY id LIMIT $2",
        after,
        REBUILD_PAGE
    )?;
    let Some(last) = posts.last().map(|p| p.0) else {
        return Ok(None);
    };
    let tags: Vec<(i64, String)> = q_all!(
        reborrow(&mut c),
        (i64, String),
        "SELECT post_id, name FROM post_tags WHERE post_id > $1 AND post_id <= $2 ORDER BY post_id",
        after,
        last
    )?;
    let sources: Vec<(i64, String, String)> = q_all!(
        reborrow(&mut c),
        (i64, String, String),
        "SELECT post_id, publisher, title FROM sources WHERE post_id > $1 AND post_id <= $2 ORDER BY post_id",
        after,
        last
    )?;
    let mut extra: std::collections::HashMap<i64, (Vec<String>, Vec<String>)> =
        std::collections::HashMap::new();
    for (id, name) in tags {
        extra.entry(id).or_default().0.push(name);
    }
    for (id, publisher, title) in sources {
        extra.entry(id).or_default().1.extend([publisher, title]);
    }
    // As `meta_text` writes it on save: summary, tags, authors, sources.
    let fields: Vec<(i64, String, String, String)> = posts
        .into_iter()
        .map(|(id, title, summary, authors_json, body)| {
            let (tags, sources) = extra.remove(&id).unwrap_or_default();
            let authors: Vec<String> = serde_json::from_str(&authors_json).unwrap_or_default();
            let mut meta = summary;
            for s in tags.into_iter().chain(authors).chain(sources) {
                meta.push('\n');
                meta.push_str(&s);
            }
            (id, title, meta, body)
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = fields.len().div_ceil(threads).max(1);
    let words: Vec<Vec<(i64, Words)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = fields
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(id, t, m, b)| (*id, words_of(t, m, b)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .map_err(|_| ContentError::Search("a rebuild thread stopped".into()))
            })
            .collect::<Result<_, _>>()
    })?;
    let words: Vec<(i64, Words)> = words.into_iter().flatten().collect();
    let n = words.len() as u64;
    for (id, (title, meta, body)) in words {
        store_words(reborrow(&mut c), id, &title, &meta, &body).await?;
    }
    Ok(Some((last, n)))
}

/// Brings the index up to date when the way words are read changed ([`text::VERSION`]) or posts
/// are missing from it (written before search existed): every post is indexed again, in one
/// transaction (see [`rebuild_in_one`]).
pub async fn ensure_indexed(db: &Db) -> Result<u64, ContentError> {
    let mut c = db.acquire().await?;
    let current = is_current(c.conn()).await?;
    drop(c);
    if current {
        return Ok(0);
    }
    rebuild_in_one(db, false).await
}

/// Whether the index was built under the current word rules and holds every post.
async fn is_current(mut c: Conn<'_>) -> Result<bool, ContentError> {
    let (version,): (i64,) = q_one!(
        reborrow(&mut c),
        (i64,),
        "SELECT version FROM search_state WHERE id = 1"
    )?;
    let (posts,): (i64,) = q_one!(reborrow(&mut c), (i64,), "SELECT COUNT(*) FROM posts")?;
    let (indexed,): (i64,) = q_one!(c, (i64,), "SELECT COUNT(*) FROM post_terms")?;
    Ok(version == text::VERSION && indexed == posts)
}

/// Indexes every post again (`jarida search rebuild`).
pub async fn rebuild(db: &Db) -> Result<u64, ContentError> {
    rebuild_in_one(db, true).await
}

/// The rebuild, in one transaction: searches keep seeing the old index until it commits, and two
/// processes starting at once after an upgrade take turns (the first statement takes the lock,
/// on `search_state`'s row in PostgreSQL and the database's write lock in SQLite); the second then
/// finds the index current and does nothing, unless `always`.
async fn rebuild_in_one(db: &Db, always: bool) -> Result<u64, ContentError> {
    let mut tx = db.begin().await?;
    let lock = match tx.conn().dialect() {
        Dialect::Sqlite => "UPDATE search_state SET version = version WHERE id = 1",
        Dialect::Postgres => "SELECT 1 FROM search_state WHERE id = 1 FOR UPDATE",
    };
    q_exec!(tx.conn(), sqlx::AssertSqlSafe(lock))?;
    if !always && is_current(tx.conn()).await? {
        return Ok(0);
    }
    let mut done = 0u64;
    let mut after = 0i64;
    while let Some((last, n)) = reindex_page(tx.conn(), after).await? {
        done += n;
        after = last;
    }
    q_exec!(
        tx.conn(),
        "UPDATE search_state SET version = $1 WHERE id = 1",
        text::VERSION
    )?;
    // Every process's index reads the posts' new words.
    crate::repo::bump_version(tx.conn()).await?;
    tx.commit().await?;
    Ok(done)
}

/// One part of a query: a word (the last one typed also matches words it starts), or a phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// `also` (for the word being typed) is its folded but unstemmed form: a stemmer reads a
    /// half-typed word as a whole one ("dialys" is stemmed to "diali"), so the prefix is tried both
    /// ways.
    Word {
        term: String,
        prefix: bool,
        also: Option<String>,
    },
    Phrase(Vec<String>),
}

/// A query as read: its parts, and whether the reader's text was cut.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub parts: Vec<Part>,
    pub cut: bool,
}

/// Reads what a reader typed: words, and phrases in double quotes (straight, curly or «guillemets»).
/// The last word, when the reader has not typed past it, also matches longer words.
pub fn parse(q: &str) -> Parsed {
    let cut = q.chars().count() > MAX_QUERY_CHARS;
    let q: String = q.chars().take(MAX_QUERY_CHARS).collect();
    let q = q.replace(['“', '”', '«', '»', '„'], "\"");
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut last_open = false;
    for (i, chunk) in q.split('"').enumerate() {
        quoted = i % 2 == 1;
        let tokens = text::tokens(chunk);
        let terms: Vec<String> = tokens.iter().map(|t| t.term.clone()).collect();
        if quoted {
            match terms.len() {
                0 => {}
                1 => parts.push(Part::Word {
                    term: terms[0].clone(),
                    prefix: false,
                    also: None,
                }),
                _ => parts.push(Part::Phrase(terms)),
            }
            last_open = false;
        } else {
            for t in &tokens {
                let folded = text::normalize(&chunk[t.start..t.end]);
                parts.push(Part::Word {
                    term: t.term.clone(),
                    prefix: false,
                    also: (folded != t.term).then_some(folded),
                });
            }
            last_open = chunk
                .chars()
                .last()
                .is_some_and(|c| !c.is_whitespace() && !c.is_ascii_punctuation());
        }
    }
    let _ = quoted;
    if last_open
        && let Some(Part::Word { term, prefix, .. }) = parts.last_mut()
        && term.chars().count() >= 2
    {
        *prefix = true;
    }
    // Only the word being typed needs its unstemmed form.
    for p in &mut parts {
        if let Part::Word {
            prefix: false,
            also,
            ..
        } = p
        {
            *also = None;
        }
    }
    parts.dedup();
    let cut = cut || parts.len() > MAX_GROUPS;
    parts.truncate(MAX_GROUPS);
    Parsed { parts, cut }
}

/// What to search.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub parsed: Parsed,
    pub kind: Option<Kind>,
    pub year: Option<i32>,
    /// Drafts and scheduled posts too (the admin).
    pub any_status: bool,
    /// 1-based.
    pub page: i64,
}

/// One result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Hit {
    pub id: i64,
    pub lang: Lang,
    pub slug: String,
    pub kind: Kind,
    pub status: String,
    pub title: String,
    /// Title and snippet as HTML: escaped, the matched words in `<mark>`.
    pub title_html: String,
    pub snippet_html: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub published_at: Option<OffsetDateTime>,
}

/// A page of results.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Results {
    pub hits: Vec<Hit>,
    pub total: i64,
    /// No post had every word: these have some of them.
    pub any_word: bool,
}

impl Results {
    /// More than [`COUNT_CAP`] matched: the count shown is the cap, with a "+".
    pub fn capped(&self) -> bool {
        self.total > COUNT_CAP
    }
}

/// Runs a search, the index brought up to date first. Every word is required; when no post has
/// them all, posts with any of them are shown instead (and `any_word` says so).
pub async fn run(engine: &Engine, db: &Db, s: &Search) -> Result<Results, ContentError> {
    if s.parsed.parts.is_empty() {
        return Ok(Results::default());
    }
    engine.sync(db).await?;
    let r = run_with(engine, db, s, true).await?;
    if r.total > 0 || s.parsed.parts.len() == 1 {
        return Ok(r);
    }
    let mut r = run_with(engine, db, s, false).await?;
    r.any_word = r.total > 0;
    Ok(r)
}

/// The posts matching every part of `q` (through the same index readers use, drafts included),
/// by id; none for a query with no words. For the admin's list, which keeps its own order.
pub async fn matching(engine: &Engine, db: &Db, q: &str) -> Result<Vec<i64>, ContentError> {
    let parsed = parse(q);
    if parsed.parts.is_empty() {
        return Ok(Vec::new());
    }
    engine.sync(db).await?;
    engine.matching(&parsed.parts)
}

async fn run_with(
    engine: &Engine,
    db: &Db,
    s: &Search,
    all: bool,
) -> Result<Results, ContentError> {
    let page = s.page.clamp(1, MAX_PAGE);
    let offset = (page - 1) * PER_PAGE;
    let range = s.year.map(|y| {
        (
            year_start(y).unwrap_or(i64::MIN),
            year_start(y + 1).unwrap_or(i64::MAX),
        )
    });
    let filters = engine::Filters {
        kind: s.kind.map(|k| k.as_str()),
        range,
        any_status: s.any_status,
    };
    let (ids, total) = engine.search(
        &s.parsed.parts,
        all,
        &filters,
        offset as usize,
        PER_PAGE as usize,
    )?;
    // The page's posts in one query (their ids as a JSON array), with the words the index
    // keeps for each body, which the snippet reads instead of stemming the body again.
    let mut c = db.acquire().await?;
    let list = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
    let sql = match c.conn().dialect() {
        Dialect::Sqlite => {
            "SELECT p.id, p.lang, p.slug, p.kind, p.status, p.title, p.body_text, p.published_at, t.body \
             FROM posts p JOIN post_terms t ON t.post_id = p.id WHERE p.id IN (SELECT value FROM json_each($1))"
        }
        Dialect::Postgres => {
            "SELECT p.id, p.lang, p.slug, p.kind, p.status, p.title, p.body_text, p.published_at, t.body \
             FROM posts p JOIN post_terms t ON t.post_id = p.id \
             WHERE p.id IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)"
        }
    };
    let rows: Vec<HitRow> = q_all!(c.conn(), HitRow, sqlx::AssertSqlSafe(sql), &list)?;
    let mut by_id: std::collections::HashMap<i64, HitRow> =
        rows.into_iter().map(|r| (r.0, r)).collect();
    let mut hits = Vec::with_capacity(ids.len());
    for id in ids {
        // The index follows the content version; a row changed without moving it (by hand in
        // the database) is still never shown as it no longer is.
        let Some((_, lang, slug, kind, status, title, body, published, terms)) = by_id.remove(&id)
        else {
            continue;
        };
        if !s.any_status && status != "published" {
            continue;
        }
        let (Some(lang), Some(kind)) = (Lang::parse(&lang), Kind::parse(&kind)) else {
            continue;
        };
        hits.push(Hit {
            id,
            lang,
            slug,
            kind,
            status,
            title_html: highlight(&title, &s.parsed.parts),
            snippet_html: snippet_with_terms(&body, &terms, &s.parsed.parts, 32),
            title,
            published_at: published.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()),
        });
    }
    Ok(Results {
        hits,
        total: total as i64,
        any_word: false,
    })
}

/// The first and last years with a published post (for the year filter), as the index last saw
/// them (no query: the index knows every post's date).
pub fn years(engine: &Engine) -> Option<(i32, i32)> {
    let (lo, hi) = engine.published_range()?;
    let year = |t: i64| {
        OffsetDateTime::from_unix_timestamp(t)
            .map(|d| d.year())
            .ok()
    };
    Some((year(lo)?, year(hi)?))
}

/// id, lang, slug, kind, status, title, body_text, published_at, and the body's indexed words.
type HitRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    String,
);

/// The count of results shown stops here; the page says "1,000+".
pub const COUNT_CAP: i64 = 1000;

fn year_start(y: i32) -> Option<i64> {
    let d = time::Date::from_calendar_date(y, time::Month::January, 1).ok()?;
    Some(d.midnight().assume_utc().unix_timestamp())
}

fn matches(term: &str, parts: &[Part]) -> bool {
    parts.iter().any(|p| match p {
        Part::Word {
            term: t,
            prefix,
            also,
        } => {
            if *prefix {
                term.starts_with(t.as_str()) || also.as_deref().is_some_and(|a| term.starts_with(a))
            } else {
                term == t
            }
        }
        Part::Phrase(ts) => ts.iter().any(|t| t == term),
    })
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` escaped, with each word the query matched in `<mark>`.
pub fn highlight(text_in: &str, parts: &[Part]) -> String {
    let toks = text::tokens(text_in);
    let spans: Vec<(usize, usize)> = toks.iter().map(|t| (t.start, t.end)).collect();
    let hit: Vec<bool> = toks.iter().map(|t| matches(&t.term, parts)).collect();
    mark(text_in, &spans, &hit, 0, text_in.len())
}

fn mark(src: &str, spans: &[(usize, usize)], hit: &[bool], from: usize, to: usize) -> String {
    let mut out = String::new();
    let mut at = from;
    for (&(start, end), _) in spans
        .iter()
        .zip(hit)
        .filter(|&(&(s, e), h)| *h && s >= from && e <= to)
    {
        out.push_str(&escape(&src[at..start]));
        out.push_str("<mark>");
        out.push_str(&escape(&src[start..end]));
        out.push_str("</mark>");
        at = end;
    }
    out.push_str(&escape(&src[at..to]));
    out
}

/// The stretch of about `words` words of `body` holding the most matched words, escaped and
/// marked, with an ellipsis where it was cut.
pub fn snippet(body: &str, parts: &[Part], words: usize) -> String {
    let toks = text::tokens(body);
    let spans: Vec<(usize, usize)> = toks.iter().map(|t| (t.start, t.end)).collect();
    let hit: Vec<bool> = toks.iter().map(|t| matches(&t.term, parts)).collect();
    snippet_of(body, &spans, &hit, words)
}

/// [`snippet`] from the words the index keeps for the body (`post_terms.body`, in the body's
/// order): the body is only split, not stemmed again, which was most of a search's time. Should
/// the two disagree (the body saved under other word rules), the body is read again.
pub fn snippet_with_terms(body: &str, terms: &str, parts: &[Part], words: usize) -> String {
    let spans = text::spans(body);
    let terms: Vec<&str> = terms.split(' ').filter(|t| !t.is_empty()).collect();
    if spans.len() != terms.len() {
        return snippet(body, parts, words);
    }
    let hit: Vec<bool> = terms.iter().map(|t| matches(t, parts)).collect();
    snippet_of(body, &spans, &hit, words)
}

fn snippet_of(body: &str, toks: &[(usize, usize)], hit: &[bool], words: usize) -> String {
    if toks.is_empty() {
        return String::new();
    }
    let n = words.min(toks.len());
    let mut best = (0usize, 0usize);
    let mut count = hit[..n].iter().filter(|h| **h).count();
    best.1 = count;
    for i in 1..=toks.len() - n {
        count = count + usize::from(hit[i + n - 1]) - usize::from(hit[i - 1]);
        if count > best.1 {
            best = (i, count);
        }
    }
    // Start a few words before the first match, so it reads in context.
    let first = (best.0..best.0 + n).find(|i| hit[*i]).unwrap_or(best.0);
    let start_tok = first
        .saturating_sub(4)
        .max(best.0.saturating_sub(4))
        .min(toks.len() - n);
    let end_tok = (start_tok + n).min(toks.len());
    let from = if start_tok == 0 { 0 } else { toks[start_tok].0 };
    let to = if end_tok == toks.len() {
        body.len()
    } else {
        toks[end_tok - 1].1
    };
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    out.push_str(mark(body, toks, hit, from, to).trim());
    if to < body.len() {
        out.push('…');
    }
    // The plain text underlines its headings ("Title\n-----") and marks its rules with dashes:
    // in a one-line snippet those are noise.
    out.split_whitespace()
        .filter(|w| {
            !(w.chars().count() >= 3 && w.chars().all(|c| matches!(c, '-' | '=' | '*' | '_')))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ts: &[&str]) -> Vec<String> {
        ts.iter().map(|t| text::term_of(t)).collect()
    }

    #[test]
    fn queries_read_words_phrases_and_the_last_word_typed() {
        let p = parse("water \"field hospital\" gaz");
        assert_eq!(
            p.parts,
            vec![
                Part::Word {
                    term: text::term_of("water"),
                    prefix: false,
                    also: None
                },
                Part::Phrase(words(&["field", "hospital"])),
                Part::Word {
                    term: text::term_of("gaz"),
                    prefix: true,
                    also: None
                },
            ]
        );
        assert!(
            !parse("water ")
                .parts
                .iter()
                .any(|p| matches!(p, Part::Word { prefix: true, .. }))
        );
        assert!(
            parse("«أزمة المياه»")
                .parts
                .iter()
                .all(|p| matches!(p, Part::Phrase(_)))
        );
        assert!(parse("!!! ،،، ...").parts.is_empty());
        assert!(parse(&"word ".repeat(100)).cut || parse(&"word ".repeat(100)).parts.len() == 1);
        assert!(parse(&"a".repeat(500)).cut);
    }

    #[test]
    fn snippets_escape_and_mark_the_reader_words() {
        let parts = parse("hospitals").parts;
        let body =
            "A long text. <script>alert(1)</script> The hospital was full & the hospitals closed.";
        let s = snippet(body, &parts, 12);
        assert!(s.contains("<mark>hospital</mark>"), "{s}");
        assert!(s.contains("<mark>hospitals</mark>"), "{s}");
        assert!(s.contains("&lt;script&gt;") || !s.contains("script"), "{s}");
        assert!(!s.contains("<script>"), "{s}");
        let ar = snippet(
            "قالت الوزارة إن المستشفيات في غزة مكتظة.",
            &parse("مستشفى").parts,
            10,
        );
        assert!(ar.contains("<mark>المستشفيات</mark>"), "{ar}");
        assert_eq!(highlight("<b>", &parts), "&lt;b&gt;");
        for (body, q) in [
            (body, "hospitals"),
            (
                "قالت الوزارة إن المستشفيات في غزة مكتظة. والمياه ـ شحيحة",
                "مستشفى مياه",
            ),
            (
                "Gaza's midwives' clinic; the wives of 2024, ٢٠٢٤.",
                "midwife 2024",
            ),
        ] {
            let parts = parse(q).parts;
            let stored = text::terms(body).join(" ");
            assert_eq!(
                snippet_with_terms(body, &stored, &parts, 8),
                snippet(body, &parts, 8),
                "{body}"
            );
        }
        let underlined = snippet(
            "What changed\n------------\nThe hospital closed.",
            &parts,
            12,
        );
        assert!(!underlined.contains("---"), "{underlined}");
    }
}
