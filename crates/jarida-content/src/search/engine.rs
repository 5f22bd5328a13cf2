//! The search index each process holds in memory: a tantivy index over the words `post_terms`
//! keeps for every post (normalized and stemmed already, see [`super::text`], so the index only
//! splits them on spaces), with each post's kind, status and date for the filters.
//!
//! Why in the process and not in the database: ranking is the cost of a search, and a database
//! ranks every post a common word matches (BM25 in FTS5, `ts_rank` over each `tsvector` in
//! PostgreSQL) before it can return the best ten: 10-70 ms a query on SQLite and 80-180 ms on
//! PostgreSQL with 20,000 posts (`bench/search.sh`, session 12). With tantivy's BM25 over its
//! compressed posting lists a whole results page takes 1-2.5 ms on either database, p99 under 8 ms
//! with four readers at once (`docs/benchmarks.md`).
//!
//! The database stays the truth: the index is built from it on first use and brought up to date
//! whenever the content version moves (a post saved, published or deleted by this process or
//! another): the posts whose words (`rev`), status, kind or date differ from what the index holds
//! are read again, and those gone are dropped. Every process of a PostgreSQL deployment keeps its
//! own copy this way, with no file shared between them.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use jarida_store::{Db, q_all};
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{
    Index, IndexReader, IndexWriter, ReloadPolicy, SegmentReader, TantivyDocument, Term,
};

use super::Part;
use crate::ContentError;

/// A word in the title counts ten body words; in the summary, tags, authors or sources four.
const W_TITLE: f32 = 10.0;
const W_META: f32 = 4.0;
/// Words a half-typed word is read as at most (the most frequent of those it starts).
const MAX_EXPANSIONS: usize = 64;
/// The indexing arena: tantivy's minimum for one thread is 15 MB; a little more makes fewer,
/// larger segments when a whole site is indexed at once.
const WRITER_BYTES: usize = 40_000_000;
/// Posts read from the database at a time while (re)indexing.
const PAGE: i64 = 1000;

/// What the index knows of a post beyond its words: when any of it changes, the post is
/// indexed again.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    rev: i64,
    published: bool,
    kind: String,
    at: i64,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    title: Field,
    meta: Field,
    body: Field,
    kind: Field,
    published: Field,
    at: Field,
}

/// This process's search index. Clones share it.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    index: Index,
    reader: IndexReader,
    f: Fields,
    /// The content version the index was last brought up to; `i64::MIN` before it was built.
    version: AtomicI64,
    /// One update at a time; it holds what the index holds of each post.
    state: tokio::sync::Mutex<HashMap<i64, Key>>,
    /// The dates of the first and last published posts (Unix seconds), for the year filter.
    published: Mutex<Option<(i64, i64)>>,
    /// Made by the first update (it starts a thread), used under `state`'s lock only.
    writer: Arc<Mutex<Option<IndexWriter>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("search::Engine")
            .field("version", &self.inner.version.load(Ordering::Relaxed))
            .finish()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

/// A search's filters, as the index applies them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filters<'a> {
    pub kind: Option<&'a str>,
    /// `[from, to)`, in Unix seconds.
    pub range: Option<(i64, i64)>,
    pub any_status: bool,
}

fn engine_error(e: impl std::fmt::Display) -> ContentError {
    ContentError::Search(e.to_string())
}

impl Engine {
    /// An empty index in memory; it fills on the first [`Engine::sync`].
    pub fn new() -> Engine {
        let mut sb = Schema::builder();
        let words = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("whitespace")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let f = Fields {
            id: sb.add_u64_field("id", INDEXED | FAST),
            title: sb.add_text_field("title", words.clone()),
            meta: sb.add_text_field("meta", words.clone()),
            body: sb.add_text_field("body", words),
            kind: sb.add_text_field("kind", STRING),
            published: sb.add_u64_field("published", INDEXED),
            at: sb.add_i64_field("at", INDEXED | FAST),
        };
        let index = Index::create_in_ram(sb.build());
        // Reloaded by hand after each commit: a search never sees half an update.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .expect("a reader over an index in memory");
        Engine {
            inner: Arc::new(Inner {
                index,
                reader,
                f,
                version: AtomicI64::new(i64::MIN),
                state: tokio::sync::Mutex::new(HashMap::new()),
                published: Mutex::new(None),
                writer: Arc::new(Mutex::new(None)),
            }),
        }
    }

    /// The dates of the first and last published posts, as of the last update.
    pub fn published_range(&self) -> Option<(i64, i64)> {
        *self
            .inner
            .published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The index's size in memory (bytes) and its segments.
    pub fn size(&self) -> (u64, usize) {
        let searcher = self.inner.reader.searcher();
        let bytes = searcher
            .space_usage()
            .map(|u| u.total().get_bytes())
            .unwrap_or(0);
        (bytes, searcher.segment_readers().len())
    }

    /// Posts the index holds.
    pub fn len(&self) -> u64 {
        self.inner.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Brings the index up to the database's content: nothing to do (one read of the content
    /// version) unless content changed since the last time. Returns how many posts were indexed.
    pub async fn sync(&self, db: &Db) -> Result<u64, ContentError> {
        let version = crate::repo::version(db.acquire().await?.conn()).await?;
        self.sync_to(db, version).await
    }

    /// [`Engine::sync`] for a caller that has just read the content version (the server's
    /// refresher, for its page cache).
    pub async fn sync_to(&self, db: &Db, version: i64) -> Result<u64, ContentError> {
        if self.inner.version.load(Ordering::Acquire) == version {
            return Ok(0);
        }
        let mut held = self.inner.state.lock().await;
        if self.inner.version.load(Ordering::Acquire) == version {
            return Ok(0);
        }
        // Read after the version: a change committed in between is indexed now and its version
        // seen next time, which only costs a comparison.
        let rows: Vec<(i64, i64, String, String, i64)> = q_all!(
            db.acquire().await?.conn(),
            (i64, i64, String, String, i64),
            "SELECT t.post_id, t.rev, p.status, p.kind, COALESCE(p.published_at, p.updated_at) \
             FROM post_terms t JOIN posts p ON p.id = t.post_id"
        )?;
        let mut now: HashMap<i64, Key> = HashMap::with_capacity(rows.len());
        for (id, rev, status, kind, at) in rows {
            now.insert(
                id,
                Key {
                    rev,
                    published: status == "published",
                    kind,
                    at,
                },
            );
        }
        let gone: Vec<i64> = held
            .keys()
            .filter(|id| !now.contains_key(id))
            .copied()
            .collect();
        let wanted: HashSet<i64> = now
            .iter()
            .filter(|(id, k)| held.get(id) != Some(k))
            .map(|(id, _)| *id)
            .collect();
        let n = wanted.len() as u64;
        if !gone.is_empty() || !wanted.is_empty() {
            let started = std::time::Instant::now();
            if let Err(e) = self.update(db, &held, gone, &wanted, &now).await {
                // What the writer took since its last commit is dropped, and the next update
                // starts the index over rather than trust what it holds.
                held.clear();
                let _ = self
                    .with_writer(|w, _| w.rollback().map(|_| ()).map_err(engine_error))
                    .await;
                return Err(e);
            }
            if n >= 1000 {
                give_back_freed_memory();
            }
            let (bytes, segments) = self.size();
            tracing::info!(
                posts = n,
                held = now.len(),
                ms = started.elapsed().as_millis() as u64,
                mb = bytes / 1_000_000,
                segments,
                "search index updated"
            );
            let range =
                now.values()
                    .filter(|k| k.published)
                    .fold(None, |r: Option<(i64, i64)>, k| {
                        Some(r.map_or((k.at, k.at), |(lo, hi)| (lo.min(k.at), hi.max(k.at))))
                    });
            *self
                .inner
                .published
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = range;
            *held = now;
        }
        self.inner.version.store(version, Ordering::Release);
        Ok(n)
    }

    /// Deletes what is gone or stale, adds what changed, commits and shows it to searches.
    async fn update(
        &self,
        db: &Db,
        held: &HashMap<i64, Key>,
        gone: Vec<i64>,
        wanted: &HashSet<i64>,
        now: &HashMap<i64, Key>,
    ) -> Result<(), ContentError> {
        let fresh = held.is_empty();
        // A post changed is deleted and added again; one never indexed has nothing to delete.
        let stale: Vec<i64> = gone
            .into_iter()
            .chain(wanted.iter().copied().filter(|id| held.contains_key(id)))
            .collect();
        self.with_writer(move |w, f| {
            if fresh {
                w.delete_all_documents().map_err(engine_error)?;
            }
            for id in stale {
                w.delete_term(Term::from_field_u64(f.id, id as u64));
            }
            Ok(())
        })
        .await?;
        self.add_posts(db, wanted, now).await?;
        let reader = self.inner.reader.clone();
        self.with_writer(move |w, _| {
            w.commit().map_err(engine_error)?;
            reader.reload().map_err(engine_error)
        })
        .await
    }

    /// Reads the words of the posts in `wanted` and adds them: one by one when they are few,
    /// otherwise walking the table in pages.
    async fn add_posts(
        &self,
        db: &Db,
        wanted: &HashSet<i64>,
        keys: &HashMap<i64, Key>,
    ) -> Result<(), ContentError> {
        type Row = (i64, String, String, String);
        let mut batch: Vec<TantivyDocument> = Vec::new();
        let f = self.inner.f;
        let doc = |(id, title, meta, body): Row| -> Option<TantivyDocument> {
            let k = keys.get(&id)?;
            let mut d = TantivyDocument::default();
            d.add_u64(f.id, id as u64);
            d.add_text(f.title, &title);
            d.add_text(f.meta, &meta);
            d.add_text(f.body, &body);
            d.add_text(f.kind, &k.kind);
            d.add_u64(f.published, u64::from(k.published));
            d.add_i64(f.at, k.at);
            Some(d)
        };
        if wanted.len() <= 64 {
            for id in wanted {
                let rows: Vec<Row> = q_all!(
                    db.acquire().await?.conn(),
                    Row,
                    "SELECT post_id, title, meta, body FROM post_terms WHERE post_id = $1",
                    id
                )?;
                batch.extend(rows.into_iter().filter_map(doc));
            }
            return self.add(batch).await;
        }
        let mut after = i64::MIN;
        loop {
            let rows: Vec<Row> = q_all!(
                db.acquire().await?.conn(),
                Row,
                "SELECT post_id, title, meta, body FROM post_terms WHERE post_id > $1 ORDER BY post_id LIMIT $2",
                after,
                PAGE
            )?;
            let Some(last) = rows.last().map(|r| r.0) else {
                break;
            };
            after = last;
            let docs: Vec<TantivyDocument> = rows
                .into_iter()
                .filter(|r| wanted.contains(&r.0))
                .filter_map(doc)
                .collect();
            self.add(docs).await?;
        }
        Ok(())
    }

    async fn add(&self, docs: Vec<TantivyDocument>) -> Result<(), ContentError> {
        if docs.is_empty() {
            return Ok(());
        }
        self.with_writer(move |w, _| {
            for d in docs {
                w.add_document(d).map_err(engine_error)?;
            }
            Ok(())
        })
        .await
    }

    /// Runs `work` with the writer (made on first use) on a blocking thread: tantivy's indexing
    /// is CPU work and its commit waits for its indexing thread.
    async fn with_writer(
        &self,
        work: impl FnOnce(&mut IndexWriter, Fields) -> Result<(), ContentError> + Send + 'static,
    ) -> Result<(), ContentError> {
        let slot = self.inner.writer.clone();
        let index = self.inner.index.clone();
        let f = self.inner.f;
        tokio::task::spawn_blocking(move || {
            let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                *slot = Some(
                    index
                        .writer_with_num_threads(1, WRITER_BYTES)
                        .map_err(engine_error)?,
                );
            }
            match slot.as_mut() {
                Some(w) => work(w, f),
                None => Err(engine_error("no index writer")),
            }
        })
        .await
        .map_err(engine_error)?
    }

    /// One page of matching post ids, best first (BM25, title and meta words weighted; newer
    /// first among equals), and how many match in all. `all`: every part must match, otherwise
    /// any.
    pub(crate) fn search(
        &self,
        parts: &[Part],
        all: bool,
        filters: &Filters<'_>,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<i64>, u64), ContentError> {
        let searcher = self.inner.reader.searcher();
        let Some(q) = self.query(&searcher, parts, all, filters) else {
            return Ok((Vec::new(), 0));
        };
        let top = TopDocs::with_limit(limit.max(1))
            .and_offset(offset)
            .tweak_score(move |seg: &SegmentReader| {
                let at = seg
                    .fast_fields()
                    .i64("at")
                    .ok()
                    .map(|c| c.first_or_default_col(0));
                let id = seg
                    .fast_fields()
                    .u64("id")
                    .ok()
                    .map(|c| c.first_or_default_col(0));
                move |doc, score| {
                    (
                        score,
                        at.as_ref().map_or(0, |c| c.get_val(doc)),
                        id.as_ref().map_or(0, |c| c.get_val(doc)),
                    )
                }
            });
        let (hits, total) = searcher.search(&q, &(top, Count)).map_err(engine_error)?;
        Ok((
            hits.into_iter().map(|((_, _, id), _)| id as i64).collect(),
            total as u64,
        ))
    }

    /// Every post matching all the parts, whatever its status (the admin's list filters with
    /// it).
    pub(crate) fn matching(&self, parts: &[Part]) -> Result<Vec<i64>, ContentError> {
        let searcher = self.inner.reader.searcher();
        let filters = Filters {
            any_status: true,
            ..Filters::default()
        };
        let Some(q) = self.query(&searcher, parts, true, &filters) else {
            return Ok(Vec::new());
        };
        let found = searcher
            .search(&q, &DocSetCollector)
            .map_err(engine_error)?;
        let mut ids = Vec::with_capacity(found.len());
        let mut columns = HashMap::new();
        for a in found {
            let col = match columns.entry(a.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(
                    searcher
                        .segment_reader(a.segment_ord)
                        .fast_fields()
                        .u64("id")
                        .map_err(engine_error)?
                        .first_or_default_col(0),
                ),
            };
            ids.push(col.get_val(a.doc_id) as i64);
        }
        ids.sort_unstable();
        Ok(ids)
    }

    fn query(
        &self,
        searcher: &tantivy::Searcher,
        parts: &[Part],
        all: bool,
        filters: &Filters<'_>,
    ) -> Option<Box<dyn Query>> {
        let f = self.inner.f;
        let words: Vec<(Occur, Box<dyn Query>)> = parts
            .iter()
            .map(|p| {
                let occur = if all { Occur::Must } else { Occur::Should };
                (occur, self.part_query(searcher, p))
            })
            .collect();
        if words.is_empty() {
            return None;
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, Box::new(BooleanQuery::new(words)))];
        if !filters.any_status {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_u64(f.published, 1),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        if let Some(kind) = filters.kind {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.kind, kind),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        if let Some((from, to)) = filters.range {
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_i64(f.at, from)),
                    Bound::Excluded(Term::from_field_i64(f.at, to)),
                )),
            ));
        }
        Some(Box::new(BooleanQuery::new(clauses)))
    }

    /// A part of the query over the three fields, each with its weight.
    fn part_query(&self, searcher: &tantivy::Searcher, p: &Part) -> Box<dyn Query> {
        let f = self.inner.f;
        let fields = [(f.title, W_TITLE), (f.meta, W_META), (f.body, 1.0)];
        let per_field = |make: &dyn Fn(Field) -> Box<dyn Query>| -> Box<dyn Query> {
            Box::new(BooleanQuery::new(
                fields
                    .iter()
                    .map(|&(field, w)| {
                        let q: Box<dyn Query> = Box::new(BoostQuery::new(make(field), w));
                        (Occur::Should, q)
                    })
                    .collect(),
            ))
        };
        match p {
            Part::Word {
                term,
                prefix: false,
                ..
            } => per_field(&|field| {
                Box::new(TermQuery::new(
                    Term::from_field_text(field, term),
                    IndexRecordOption::WithFreqs,
                ))
            }),
            Part::Word {
                term,
                prefix: true,
                also,
            } => {
                let words = self.expand(searcher, term, also.as_deref());
                per_field(&|field| {
                    Box::new(BooleanQuery::new(
                        words
                            .iter()
                            .map(|w| {
                                let q: Box<dyn Query> = Box::new(TermQuery::new(
                                    Term::from_field_text(field, w),
                                    IndexRecordOption::WithFreqs,
                                ));
                                (Occur::Should, q)
                            })
                            .collect(),
                    ))
                })
            }
            Part::Phrase(ts) => per_field(&|field| {
                Box::new(PhraseQuery::new(
                    ts.iter().map(|t| Term::from_field_text(field, t)).collect(),
                ))
            }),
        }
    }

    /// The words a half-typed word may become: those the index holds that start with it (or
    /// with its unstemmed form), the most frequent first, at most [`MAX_EXPANSIONS`]. The word
    /// itself always, so a query with no expansion still reads as that word.
    fn expand(&self, searcher: &tantivy::Searcher, term: &str, also: Option<&str>) -> Vec<String> {
        let f = self.inner.f;
        let mut freq: HashMap<String, u64> = HashMap::new();
        for start in std::iter::once(term).chain(also) {
            for seg in searcher.segment_readers() {
                for field in [f.title, f.meta, f.body] {
                    let Ok(inv) = seg.inverted_index(field) else {
                        continue;
                    };
                    let Ok(mut stream) = inv.terms().range().ge(start.as_bytes()).into_stream()
                    else {
                        continue;
                    };
                    let mut seen = 0;
                    while stream.advance() && seen < 2_000 {
                        let key = stream.key();
                        if !key.starts_with(start.as_bytes()) {
                            break;
                        }
                        seen += 1;
                        if let Ok(w) = std::str::from_utf8(key) {
                            *freq.entry(w.to_string()).or_default() +=
                                u64::from(stream.value().doc_freq);
                        }
                    }
                }
            }
        }
        let mut words: Vec<(String, u64)> = freq.into_iter().collect();
        words.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        words.truncate(MAX_EXPANSIONS);
        let mut out: Vec<String> = words.into_iter().map(|(w, _)| w).collect();
        if !out.iter().any(|w| w == term) {
            out.push(term.to_string());
        }
        out
    }
}

/// Returns to the system the memory a large update freed. Building the index holds up to
/// tantivy's queue of 10,000 documents and its indexing arena; glibc keeps what they freed in the
/// arenas of the threads that used them, which left the server at ~200 MB resident for a 20 MB
/// index of 20,000 posts (`bench/search.sh`). `malloc_trim` is glibc's own call for this; no
/// crate wraps it safely, hence the one `unsafe` line.
#[allow(unsafe_code)]
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator; it takes no pointer.
    unsafe {
        libc::malloc_trim(0);
    }
}
