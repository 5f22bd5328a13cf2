//! CSV import and export of subscriber lists. Import recognizes the column layouts of Mailchimp,
//! listmonk, Ghost and Substack exports (or takes a mapping), streams the file, checks every row, and
//! inserts in batches, one transaction per batch: a bad row is reported with its line and never stops
//! the others, and memory stays flat whatever the file's size.

use std::collections::HashSet;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use base64::Engine;
use jarida_store::{Conn, Db, q_all};
use rand::RngCore;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::AudienceError;
use crate::email;
use jarida_mail::queue::Outgoing;

use jarida_store::sqlx;

/// Which column holds what.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    pub email: String,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub lang: Option<String>,
    /// A column that, when true-ish ("false" for Ghost's `subscribed_to_emails`), marks a reader who
    /// left: imported as unsubscribed so that they are never mailed.
    pub unsubscribed: Option<(String, bool)>,
}

/// Writes the confirmation email of a reader imported as pending; it is queued in the same
/// transaction as the reader and their token.
#[derive(Clone)]
pub struct Composer(pub Arc<ComposeFn>);

pub type ComposeFn = dyn Fn(&PendingReader) -> Option<Outgoing> + Send + Sync;

impl std::fmt::Debug for Composer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Composer")
    }
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Import as active with consent recorded as "imported from X on D"; otherwise each new reader is
    /// pending and gets a confirmation email.
    pub confirmed: bool,
    pub default_lang: String,
    /// Overrides layout detection.
    pub mapping: Option<Mapping>,
    pub confirm_ttl_secs: i64,
    /// Required unless `confirmed`.
    pub confirmation: Option<Composer>,
}

/// A reader imported as pending, to be sent a confirmation link.
#[derive(Debug, Clone)]
pub struct PendingReader {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub lang: String,
    pub token: String,
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub format: String,
    pub rows: u64,
    pub imported: u64,
    /// Already subscribers before this import (left as they were).
    pub existing: u64,
    pub suppressed: u64,
    pub duplicates: u64,
    /// (line, reason), the first 10,000; `error_count` has them all.
    pub errors: Vec<(u64, String)>,
    pub error_count: u64,
    /// Confirmation emails queued (imports without `confirmed`).
    pub confirmations: u64,
}

const MAX_ERRORS_KEPT: usize = 10_000;

fn norm(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .replace(['_', '-'], " ")
}

/// Recognizes a known export by its header; returns its name and mapping.
pub fn detect(headers: &[String]) -> Option<(&'static str, Mapping)> {
    let has = |n: &str| headers.iter().find(|h| norm(h) == n).cloned();
    let email = has("email address")
        .or_else(|| has("email"))
        .or_else(|| has("e mail"))?;
    let mut m = Mapping {
        email: email.clone(),
        ..Default::default()
    };
    m.lang = has("language")
        .or_else(|| has("lang"))
        .or_else(|| has("locale"));
    if let (Some(f), l) = (has("first name"), has("last name")) {
        m.first_name = Some(f);
        m.last_name = l;
        return Some(("Mailchimp", m));
    }
    m.name = has("name");
    if let Some(c) = has("subscribed to emails") {
        m.unsubscribed = Some((c, false));
        return Some(("Ghost", m));
    }
    if let Some(c) = has("email disabled") {
        m.unsubscribed = Some((c, true));
        return Some(("Substack", m));
    }
    if has("attributes").is_some() || has("uuid").is_some() {
        return Some(("listmonk", m));
    }
    Some(("CSV", m))
}

/// One reader read from a file.
pub struct Row {
    line: u64,
    email: String,
    name: String,
    lang: String,
    unsubscribed: bool,
}

/// Where each field of a row is, once the header has been read: turns a record into a [`Row`]
/// without touching the database (and so can be tested on any input).
pub struct Columns {
    headers: Vec<String>,
    email: usize,
    name: Option<usize>,
    first_name: Option<usize>,
    last_name: Option<usize>,
    lang: Option<usize>,
    unsubscribed: Option<(usize, bool)>,
}

impl Columns {
    /// Finds the mapped columns in the header; a column the mapping names but the header lacks is
    /// an error on line 1.
    pub fn new(headers: &[String], mapping: &Mapping) -> Result<Columns, AudienceError> {
        let col = |n: &str| -> Result<usize, AudienceError> {
            headers
                .iter()
                .position(|h| h.trim().trim_start_matches('\u{feff}') == n || norm(h) == norm(n))
                .ok_or_else(|| AudienceError::Csv {
                    line: 1,
                    reason: format!("the header has no column {n:?}"),
                })
        };
        let opt = |n: &Option<String>| n.as_deref().map(col).transpose();
        Ok(Columns {
            headers: headers.to_vec(),
            email: col(&mapping.email)?,
            name: opt(&mapping.name)?,
            first_name: opt(&mapping.first_name)?,
            last_name: opt(&mapping.last_name)?,
            lang: opt(&mapping.lang)?,
            unsubscribed: match &mapping.unsubscribed {
                Some((c, when)) => Some((col(c)?, *when)),
                None => None,
            },
        })
    }

    /// The reader a record describes, or why it is refused (for `file:line: reason`).
    pub fn row(
        &self,
        record: &csv::ByteRecord,
        line: u64,
        default_lang: &str,
    ) -> Result<Row, String> {
        if record.len() != self.headers.len() {
            return Err(format!(
                "{} fields where the header has {} (check the quoting)",
                record.len(),
                self.headers.len()
            ));
        }
        let field = |i: usize| -> Result<&str, String> {
            std::str::from_utf8(record.get(i).unwrap_or(b""))
                .map(unneutralize)
                .map_err(|_| {
                    format!(
                        "column {:?} is not UTF-8 text; save the file as UTF-8",
                        self.headers[i]
                    )
                })
        };
        let raw_email = field(self.email)?;
        let email = email::normalize(raw_email).map_err(|e| format!("email {raw_email:?}: {e}"))?;
        let name = match (self.name, self.first_name) {
            (Some(i), _) => field(i)?.trim().to_string(),
            (None, Some(f)) => {
                let last = match self.last_name {
                    Some(l) => field(l)?.trim(),
                    None => "",
                };
                format!("{} {last}", field(f)?.trim()).trim().to_string()
            }
            _ => String::new(),
        };
        let lang = match self.lang {
            Some(i) => {
                let l = field(i)?.trim().to_lowercase();
                let l = l.split(['-', '_']).next().unwrap_or("").to_string();
                if jarida_core::Lang::parse(&l).is_some() {
                    l
                } else {
                    default_lang.to_string()
                }
            }
            None => default_lang.to_string(),
        };
        let unsubscribed = match self.unsubscribed {
            Some((i, when)) => {
                let v = field(i)?.trim().to_lowercase();
                let truthy = matches!(v.as_str(), "true" | "1" | "yes" | "y");
                truthy == when
            }
            None => false,
        };
        Ok(Row {
            line,
            email,
            name: crate::subscribers::clean_text(&name, 200),
            lang,
            unsubscribed,
        })
    }
}

/// Imports a CSV stream. `on_batch` is called after each committed batch with the rows read so far.
pub async fn import<R: Read>(
    db: &Db,
    input: R,
    opts: &ImportOptions,
    now: OffsetDateTime,
    mut on_batch: impl FnMut(u64),
) -> Result<ImportReport, AudienceError> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let headers: Vec<String> = match rdr.byte_headers() {
        Ok(h) => h
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect(),
        Err(e) => {
            return Err(AudienceError::Csv {
                line: 1,
                reason: e.to_string(),
            });
        }
    };
    let (format, mapping) = match &opts.mapping {
        Some(m) => ("CSV (mapped)", m.clone()),
        None => detect(&headers).ok_or_else(|| AudienceError::Csv {
            line: 1,
            reason: format!(
                "no email column: the header has {}; name one with --map email=COLUMN",
                headers
                    .iter()
                    .map(|h| format!("{h:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?,
    };
    let cols = Columns::new(&headers, &mapping)?;

    if !opts.confirmed && opts.confirmation.is_none() {
        return Err(AudienceError::Csv {
            line: 0,
            reason: "an import of unconfirmed readers needs their confirmation email".into(),
        });
    }
    let suppressed = suppression_set(db).await?;
    let mut report = ImportReport {
        format: format.to_string(),
        ..Default::default()
    };
    let wording = format!("imported from {format} on {}", now.date());
    let ctx = Arc::new(begin_import(db, format, wording, opts, now).await?);
    let batch_size = match db.dialect() {
        // Bigger batches on SQLite than the 2,000 of before: each commit rewrites the last,
        // part-filled page of every index it touched, and each batch pays its statements once.
        jarida_store::Dialect::Sqlite => 10_000,
        jarida_store::Dialect::Postgres => 10_000,
    };
    // Batches written at once. SQLite has one writer, so one batch is written while the next is
    // parsed. A PostgreSQL backend inserting rows is the import's bottleneck (jarida's own work is a
    // fraction of it) and uses one core: two batches go to two connections, and each commits only
    // after the batch before it, so batches commit in file order and "appears earlier in the
    // file" is always true of the row it is said of.
    let in_flight = match db.dialect() {
        jarida_store::Dialect::Sqlite => 1,
        jarida_store::Dialect::Postgres => 2,
    };
    let mut batch: Vec<Row> = Vec::with_capacity(batch_size);
    let mut keys: Vec<u128> = Vec::with_capacity(batch_size);
    // Duplicates within a batch are caught here; across batches, by the unique index and the
    // subscriber's `import_id` (see `write_batch`), so memory does not grow with the file. The
    // keys are 128 bits of the address's hash: a collision would make two readers one.
    let mut in_batch: HashSet<u128> = HashSet::with_capacity(batch_size);
    // The keys of the last batch sent to be written, while it may still be in flight.
    let mut sent_keys: HashSet<u128> = HashSet::with_capacity(batch_size);
    let mut writing: std::collections::VecDeque<
        tokio::task::JoinHandle<Result<Written, AudienceError>>,
    > = std::collections::VecDeque::with_capacity(in_flight);
    // The commit of the last batch sent, which the next one waits for before its own.
    let mut last_commit: Option<tokio::sync::oneshot::Receiver<()>> = None;
    let mut record = csv::ByteRecord::new();
    let fail = |report: &mut ImportReport, line: u64, reason: String| {
        report.error_count += 1;
        if report.errors.len() < MAX_ERRORS_KEPT {
            report.errors.push((line, reason));
        }
    };
    let finish = |report: &mut ImportReport, written: Written| {
        report.imported += written.imported;
        report.existing += written.existing;
        for (line, email) in written.duplicates {
            report.duplicates += 1;
            fail(report, line, format!("{email} appears earlier in the file"));
        }
        report.confirmations += written.confirmations;
        written.rows_read
    };
    let mut end = false;
    while !end {
        match rdr.read_byte_record(&mut record) {
            Ok(false) => end = true,
            Ok(true) => 'row: {
                report.rows += 1;
                let line = record.position().map(|p| p.line()).unwrap_or(0);
                let parsed = cols.row(&record, line, &opts.default_lang);
                let row = match parsed {
                    Ok(r) => r,
                    Err(reason) => {
                        fail(&mut report, line, reason);
                        break 'row;
                    }
                };
                let digest = Sha256::digest(row.email.as_bytes());
                if suppressed.contains(&u64::from_be_bytes(
                    digest[..8].try_into().expect("8 bytes"),
                )) {
                    report.suppressed += 1;
                    break 'row;
                }
                let key = u128::from_be_bytes(digest[8..24].try_into().expect("16 bytes"));
                if !in_batch.insert(key) {
                    report.duplicates += 1;
                    fail(
                        &mut report,
                        row.line,
                        format!("{} appears earlier in the file", row.email),
                    );
                    break 'row;
                }
                batch.push(row);
                keys.push(key);
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                report.rows += 1;
                fail(&mut report, line, format!("unreadable CSV: {e}"));
                end = matches!(e.kind(), csv::ErrorKind::Io(_));
            }
        }
        // A full batch goes to be written, and so does the last one.
        let last = end && !batch.is_empty();
        if batch.len() < batch_size && !last {
            continue;
        }
        while writing.len() >= in_flight {
            let w = writing.pop_front().expect("a batch in flight");
            on_batch(finish(&mut report, joined(w.await)?));
        }
        let rows = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
        // An address the batch still in flight also writes is held back until that batch has
        // committed (then it is a duplicate, or was a subscriber before): the two would
        // otherwise wait on each other's uncommitted index entries.
        let (rows, held) = if writing.is_empty() {
            (rows, Vec::new())
        } else {
            let mut fresh = Vec::with_capacity(rows.len());
            let mut held = Vec::new();
            for (row, key) in rows.into_iter().zip(&keys) {
                if sent_keys.contains(key) {
                    held.push(row);
                } else {
                    fresh.push(row);
                }
            }
            (fresh, held)
        };
        keys.clear();
        std::mem::swap(&mut sent_keys, &mut in_batch);
        in_batch.clear();
        let (committed, next_commit) = tokio::sync::oneshot::channel();
        let turn = Turn(last_commit.replace(next_commit));
        writing.push_back(tokio::spawn(write_batch(
            ctx.clone(),
            rows,
            held,
            report.rows,
            turn,
            committed,
        )));
    }
    while let Some(w) = writing.pop_front() {
        on_batch(finish(&mut report, joined(w.await)?));
    }
    let mut c = db.acquire().await?;
    jarida_store::q_exec!(
        c.conn(),
        "UPDATE imports SET rows_read = $1, rows_imported = $2, finished_at = $3 WHERE id = $4",
        report.rows as i64,
        report.imported as i64,
        OffsetDateTime::now_utc().unix_timestamp(),
        ctx.import_id
    )?;
    // A large import leaves PostgreSQL's statistics far behind the table until autovacuum gets to
    // it: planned from them, the admin's filtered readers list was a scan of a million rows
    // (0.36 s) instead of a walk down the primary key (0.2 ms), and a bulk job's chunks likewise.
    // ANALYZE samples the tables (a fraction of a second) so the next query plans from the truth.
    if report.imported > 0 && c.conn().dialect() == jarida_store::Dialect::Postgres {
        jarida_store::q_exec!(c.conn(), "ANALYZE subscribers")?;
        jarida_store::q_exec!(c.conn(), "ANALYZE subscriber_newsletters")?;
    }
    Ok(report)
}

fn joined<T>(
    r: Result<Result<T, AudienceError>, tokio::task::JoinError>,
) -> Result<T, AudienceError> {
    r.map_err(|e| AudienceError::Csv {
        line: 0,
        reason: format!("the import's writer stopped: {e}"),
    })?
}

/// The suppression list as the first 64 bits of each address hash: compact whatever its length.
async fn suppression_set(db: &Db) -> Result<HashSet<u64>, AudienceError> {
    let mut c = db.acquire().await?;
    let rows: Vec<(String,)> =
        q_all!(c.conn(), (String,), "SELECT email_sha256 FROM suppressions")?;
    Ok(rows
        .iter()
        .filter_map(|(h,)| u64::from_str_radix(h.get(..16)?, 16).ok())
        .collect())
}

/// What every batch of one import shares.
struct ImportCtx {
    db: Db,
    import_id: i64,
    newsletter_id: i64,
    confirmed: bool,
    wording: String,
    now_s: i64,
    confirm_ttl_secs: i64,
    confirmation: Option<Composer>,
    /// The highest subscriber id when the import began, then the highest this import wrote.
    last_id: AtomicI64,
    /// PostgreSQL: a batch met an address already subscribed, so later ones look theirs up first.
    seen_taken: AtomicBool,
}

/// Records the import (the "imported" event of every reader it brings in) and picks the newsletter
/// its readers join.
async fn begin_import(
    db: &Db,
    format: &str,
    wording: String,
    opts: &ImportOptions,
    now: OffsetDateTime,
) -> Result<ImportCtx, AudienceError> {
    let now_s = now.unix_timestamp();
    let mut tx = db.begin().await?;
    let (newsletter_id,): (i64,) = jarida_store::q_one!(
        tx.conn(),
        (i64,),
        "SELECT id FROM newsletters ORDER BY id LIMIT 1"
    )?;
    let (import_id,): (i64,) = jarida_store::q_one!(
        tx.conn(),
        (i64,),
        "INSERT INTO imports (format, wording, confirmed, at) VALUES ($1, $2, $3, $4) RETURNING id",
        format,
        &wording,
        opts.confirmed,
        now_s
    )?;
    let (last_id,): (i64,) = jarida_store::q_one!(
        tx.conn(),
        (i64,),
        "SELECT COALESCE(MAX(id), 0) FROM subscribers"
    )?;
    tx.commit().await?;
    Ok(ImportCtx {
        last_id: AtomicI64::new(last_id),
        seen_taken: AtomicBool::new(false),
        db: db.clone(),
        import_id,
        newsletter_id,
        confirmed: opts.confirmed,
        wording,
        now_s,
        confirm_ttl_secs: opts.confirm_ttl_secs,
        confirmation: opts.confirmation.clone(),
    })
}

/// What one written batch adds to the report.
struct Written {
    rows_read: u64,
    imported: u64,
    existing: u64,
    /// (line, address) of rows whose address an earlier batch of this import brought in.
    duplicates: Vec<(u64, String)>,
    confirmations: u64,
}

/// Inserts one batch in one transaction: new subscribers (existing ones are left alone), their
/// newsletter and, for pending readers, a confirmation token and the email that carries it.
/// `held` are rows whose address the batch before also writes (see [`import`]); the transaction
/// commits after that batch's (`turn`), and `committed` tells the next batch it has.
async fn write_batch(
    ctx: Arc<ImportCtx>,
    rows: Vec<Row>,
    held: Vec<Row>,
    rows_read: u64,
    mut turn: Turn,
    committed: tokio::sync::oneshot::Sender<()>,
) -> Result<Written, AudienceError> {
    // In address order, so that two imports sharing addresses take the unique index's locks in the
    // same order and cannot deadlock on PostgreSQL.
    let mut rows = rows;
    rows.sort_unstable_by(|a, b| a.email.cmp(&b.email));
    let batch = Batch {
        rows: &rows,
        held: &held,
        rows_read,
    };
    let mut mode = Insert::Plain;
    loop {
        match write_rows(&ctx, &batch, mode, &mut turn).await? {
            Outcome::Written(written) => {
                // The next batch may be gone already (the import stopped on an error).
                let _ = committed.send(());
                return Ok(written);
            }
            // Someone else wrote one of these addresses between our check and our insert: the
            // batch was rolled back whole and goes again the slow way, which cannot meet that.
            Outcome::Conflict if mode == Insert::Plain => mode = Insert::OnConflict,
            Outcome::Conflict => {
                return Err(AudienceError::Csv {
                    line: rows.first().map_or(0, |r| r.line),
                    reason: "an address of this batch was being written by someone else".into(),
                });
            }
            // Rolled back while the batch before had not committed; it has now.
            Outcome::Again => {}
        }
    }
}

/// One batch as [`write_rows`] writes it.
struct Batch<'a> {
    /// Sorted by address.
    rows: &'a [Row],
    held: &'a [Row],
    rows_read: u64,
}

/// What an attempt at writing a batch came to.
enum Outcome {
    Written(Written),
    /// [`Insert::Plain`] met a concurrent writer of one of the batch's addresses; rolled back.
    Conflict,
    /// The batch before took too long to commit; rolled back (see [`Turn::wait_at_most`]).
    Again,
}

/// The commit of the batch before, which a batch waits for before committing its own; `None`
/// once it has (or for the first batch).
struct Turn(Option<tokio::sync::oneshot::Receiver<()>>);

/// How long a written batch holds its locks waiting for the batch before to commit. That batch
/// cannot wait for this one (they share no address), but it can wait for a third writer (another
/// import) that waits for this one, a cycle PostgreSQL cannot see since our wait is not in the
/// database: past this, this batch rolls back, which breaks any such cycle, and is written again.
const TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Turn {
    /// Waits up to `limit` for the batch before: `false` if it has not committed by then, an error
    /// if it failed (the import stops with its error).
    async fn wait_at_most(&mut self, limit: std::time::Duration) -> Result<bool, AudienceError> {
        let Some(rx) = self.0.as_mut() else {
            return Ok(true);
        };
        match tokio::time::timeout(limit, rx).await {
            Err(_) => Ok(false),
            Ok(r) => {
                self.0 = None;
                r.map(|()| true).map_err(|_| AudienceError::Csv {
                    line: 0,
                    reason: "the batch before this one was not written".into(),
                })
            }
        }
    }

    async fn wait(&mut self) -> Result<(), AudienceError> {
        while !self.wait_at_most(TURN_WAIT).await? {}
        Ok(())
    }
}

/// How PostgreSQL leaves out addresses that are already subscribers.
#[derive(Clone, Copy, PartialEq)]
enum Insert {
    /// The rows go in with `COPY`, leaving out the batch's addresses already in the table (looked
    /// up with one `= ANY` probe of the unique index once a batch has met one). `ON CONFLICT DO NOTHING` doubled the
    /// time of the subscribers insert (speculative insertion: 2.3 s against 1.1 s for 200,000
    /// rows, psql, the development machine), and `COPY` writes a page of rows per WAL record
    /// where `INSERT` writes one per row. A concurrent writer of one of the addresses makes the
    /// `COPY` fail with a unique violation, which rolls the batch back.
    Plain,
    /// `ON CONFLICT DO NOTHING`, for a batch that met such a writer.
    OnConflict,
}

/// Runs `COPY … FROM STDIN` with `data` in the text format; the rows it wrote.
async fn copy_in(
    c: &mut sqlx::PgConnection,
    statement: &str,
    data: Vec<u8>,
) -> Result<u64, sqlx::Error> {
    let mut copy = c.copy_in_raw(statement).await?;
    match copy.send(data).await {
        Ok(_) => copy.finish().await,
        Err(e) => Err(e),
    }
}

/// A value in `COPY … FROM STDIN`'s text format: backslash, tab and line breaks escaped.
fn copy_text(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['\\', '\t', '\n', '\r']) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// SQLite: rows per `INSERT … VALUES` statement. One fixed text, prepared once and kept in the
/// connection's statement cache, binds 2,500 values per run.
const SQLITE_CHUNK: usize = 500;

/// `INSERT INTO subscribers … VALUES` for `n` rows of (email, name, lang, status, confirmed_at),
/// with anonymous placeholders only: sqlx looks each numbered one up by name, a scan per parameter.
fn sqlite_insert_sql(n: usize) -> String {
    let mut sql = String::with_capacity(300 + n * 14);
    sql.push_str(
        "INSERT INTO subscribers (email, name, lang, status, source, consent_at, consent_wording, confirmed_at, created_at, updated_at, import_id) \
         SELECT column1, column2, column3, column4, 'import', ?, ?, column5, ?, ?, ? FROM (VALUES ",
    );
    for i in 0..n {
        sql.push_str(if i > 0 { ",(?,?,?,?,?)" } else { "(?,?,?,?,?)" });
    }
    sql.push_str(") WHERE true ON CONFLICT (email) DO NOTHING");
    sql
}

fn sqlite_chunk_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| sqlite_insert_sql(SQLITE_CHUNK))
}

/// SQLite's page cache while a batch is written, in KiB: the pages a 10,000-row batch touches, with
/// room to spare. Given back before the commit, so a pooled connection does not keep it.
const SQLITE_BATCH_CACHE: i64 = 32 * 1024;

/// Sets this SQLite connection's page cache: `PRAGMA cache_size`'s sign convention (negative in
/// KiB, positive in pages) is kept as SQLite reports it.
async fn sqlite_cache(c: &mut sqlx::SqliteConnection, cache: i64) -> Result<(), AudienceError> {
    sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = {cache}")))
        .execute(&mut *c)
        .await
        .map_err(jarida_store::StoreError::from)?;
    Ok(())
}

/// Writes one batch in one transaction, committed after the batch before.
async fn write_rows(
    ctx: &ImportCtx,
    batch: &Batch<'_>,
    mode: Insert,
    turn: &mut Turn,
) -> Result<Outcome, AudienceError> {
    let rows = batch.rows;
    let now_s = ctx.now_s;
    let import_id = ctx.import_id;
    let nl = ctx.newsletter_id;
    let mut tx = ctx.db.begin().await?;
    let status_of = |r: &Row| {
        if r.unsubscribed {
            "unsubscribed"
        } else if ctx.confirmed {
            "active"
        } else {
            "pending"
        }
    };
    let confirmed_at = ctx.confirmed.then_some(now_s);
    let confirmed_of = |r: &Row| if r.unsubscribed { None } else { confirmed_at };
    // SQLite: the batch goes in as fixed-size `VALUES` statements, each prepared once and reused.
    // The JSON array read by `json_each` that it replaces cost a sixth of SQLite's thread in `perf`
    // (the batch serialized, parsed, each element turned back into text and parsed again by `->>`).
    //
    // SQLite's new rows are found by id rather than with RETURNING: sqlx hands each returned row
    // from its SQLite thread to ours separately, a thread wake-up per reader. Ids only grow
    // (AUTOINCREMENT) and batches of one import are written one after another under the write
    // lock, so this batch's readers are those of this import above the highest id the previous
    // batch left, and the last of them is the last rowid the inserts report.
    let mut sqlite_cache_before = None;
    let (count, inserted): (u64, Vec<(i64, String)>) = match tx.conn() {
        Conn::Sqlite(c) => {
            // A batch dirties more pages than SQLite's default cache (2 MB) holds: it spilled them
            // to the log mid-transaction and read them back for the memberships (`perf`: a sixth
            // of SQLite's thread in pread/pwrite). The batch gets a bigger cache, given back
            // before it commits (see `SQLITE_BATCH_CACHE`).
            let (cache,): (i64,) = sqlx::query_as("PRAGMA cache_size")
                .fetch_one(&mut *c)
                .await
                .map_err(jarida_store::StoreError::from)?;
            sqlite_cache(c, -SQLITE_BATCH_CACHE).await?;
            sqlite_cache_before = Some(cache);
            let above = ctx.last_id.load(Ordering::Relaxed);
            let mut count = 0;
            let mut last = above;
            for chunk in rows.chunks(SQLITE_CHUNK) {
                let odd;
                let sql = if chunk.len() == SQLITE_CHUNK {
                    sqlite_chunk_sql()
                } else {
                    odd = sqlite_insert_sql(chunk.len());
                    odd.as_str()
                };
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .persistent(chunk.len() == SQLITE_CHUNK)
                    .bind(now_s)
                    .bind(&ctx.wording)
                    .bind(now_s)
                    .bind(now_s)
                    .bind(import_id);
                for r in chunk {
                    q = q
                        .bind(&r.email)
                        .bind(&r.name)
                        .bind(&r.lang)
                        .bind(status_of(r))
                        .bind(confirmed_of(r));
                }
                let done = q
                    .execute(&mut *c)
                    .await
                    .map_err(jarida_store::StoreError::from)?;
                if done.rows_affected() > 0 {
                    count += done.rows_affected();
                    last = done.last_insert_rowid();
                }
            }
            sqlx::query(
                "INSERT INTO subscriber_newsletters (subscriber_id, newsletter_id) \
                 SELECT id, ?1 FROM subscribers WHERE id > ?2 AND id <= ?3 AND import_id = ?4",
            )
            .bind(nl)
            .bind(above)
            .bind(last)
            .bind(import_id)
            .execute(&mut *c)
            .await
            .map_err(jarida_store::StoreError::from)?;
            ctx.last_id.store(last, Ordering::Relaxed);
            let inserted = if !ctx.confirmed || count < rows.len() as u64 {
                sqlx::query_as(
                    "SELECT id, email FROM subscribers WHERE id > ?1 AND id <= ?2 AND import_id = ?3",
                )
                .bind(above)
                .bind(last)
                .bind(import_id)
                .fetch_all(&mut *c)
                .await
                .map_err(jarida_store::StoreError::from)?
            } else {
                Vec::new()
            };
            (count, inserted)
        }
        Conn::Postgres(c) if mode == Insert::Plain => {
            // The statistics of a table growing by a million rows lag behind it: planned from
            // them, `email = ANY($1)` was a seq scan of the whole table in every batch (60 ms at
            // 200,000 rows, and growing). An index scan is what it is written for; the setting
            // ends with the transaction.
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut *c)
                .await
                .map_err(jarida_store::StoreError::from)?;
            // Until a batch meets an address already there, none is looked for: a new list is
            // the common case, and the lookup cost a sixth of the batch.
            let taken: Vec<(String,)> = if ctx.seen_taken.load(Ordering::Relaxed) {
                let emails: Vec<&str> = rows.iter().map(|r| r.email.as_str()).collect();
                sqlx::query_as("SELECT email FROM subscribers WHERE email = ANY($1)")
                    .bind(&emails)
                    .fetch_all(&mut *c)
                    .await
                    .map_err(jarida_store::StoreError::from)?
            } else {
                Vec::new()
            };
            let taken: HashSet<&str> = taken.iter().map(|(e,)| e.as_str()).collect();
            let fresh: Vec<&Row> = rows
                .iter()
                .filter(|r| !taken.contains(r.email.as_str()))
                .collect();
            // The ids are drawn first and written with the rows (`COPY` writes the values it is
            // given even to an identity column): the batch's new readers are then known without
            // reading them back, and the memberships go in with one more `COPY`. Batches written
            // at once draw interleaved ids, so no id range could tell them apart.
            let (ids,): (Vec<i64>,) = sqlx::query_as(
                // The sequence's name in a subquery, looked up once: as `nextval`'s argument it
                // was looked up for every id, 6 µs each (more than the whole `COPY` per row).
                "SELECT COALESCE(array_agg(nextval((SELECT pg_get_serial_sequence('subscribers', 'id')::regclass))), '{}') \
                 FROM generate_series(1, $1)",
            )
            .bind(fresh.len() as i64)
            .fetch_one(&mut *c)
            .await
            .map_err(jarida_store::StoreError::from)?;
            if !fresh.is_empty() {
                let mut data = String::with_capacity(fresh.len() * 170);
                let fixed = format!("\timport\t{now_s}\t{}", copy_text(&ctx.wording));
                for (r, id) in fresh.iter().zip(&ids) {
                    use std::fmt::Write as _;
                    let confirmed =
                        confirmed_of(r).map_or_else(|| "\\N".to_string(), |t| t.to_string());
                    // Writing to a String cannot fail.
                    let _ = writeln!(
                        data,
                        "{id}\t{}\t{}\t{}\t{}{fixed}\t{confirmed}\t{now_s}\t{now_s}\t{import_id}",
                        copy_text(&r.email),
                        copy_text(&r.name),
                        copy_text(&r.lang),
                        status_of(r),
                    );
                }
                let copied = copy_in(
                    c,
                    "COPY subscribers (id, email, name, lang, status, source, consent_at, consent_wording, \
                     confirmed_at, created_at, updated_at, import_id) FROM STDIN",
                    data.into_bytes(),
                )
                .await;
                match copied {
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                        ctx.seen_taken.store(true, Ordering::Relaxed);
                        // Dropping the transaction rolls the batch back.
                        return Ok(Outcome::Conflict);
                    }
                    r => r.map_err(jarida_store::StoreError::from)?,
                };
                let mut data = String::with_capacity(ids.len() * 12);
                for id in &ids {
                    use std::fmt::Write as _;
                    let _ = writeln!(data, "{id}\t{nl}");
                }
                copy_in(
                    c,
                    "COPY subscriber_newsletters (subscriber_id, newsletter_id) FROM STDIN",
                    data.into_bytes(),
                )
                .await
                .map_err(jarida_store::StoreError::from)?;
            }
            let inserted: Vec<(i64, String)> = ids
                .iter()
                .zip(&fresh)
                .map(|(id, r)| (*id, r.email.clone()))
                .collect();
            (inserted.len() as u64, inserted)
        }
        Conn::Postgres(c) => {
            let col = |f: &dyn Fn(&Row) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
            let inserted: Vec<(i64, String)> = sqlx::query_as(
                "INSERT INTO subscribers (email, name, lang, status, source, consent_at, consent_wording, confirmed_at, created_at, updated_at, import_id) \
                 SELECT e, n, l, s, 'import', $6, $7, c, $6, $6, $8 \
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[]) AS t(e, n, l, s, c) \
                 ON CONFLICT (email) DO NOTHING RETURNING id, email",
            )
            .bind(col(&|r| &r.email))
            .bind(col(&|r| &r.name))
            .bind(col(&|r| &r.lang))
            .bind(col(&|r| status_of(r)))
            .bind(rows.iter().map(confirmed_of).collect::<Vec<Option<i64>>>())
            .bind(now_s)
            .bind(&ctx.wording)
            .bind(import_id)
            .fetch_all(&mut *c)
            .await
            .map_err(jarida_store::StoreError::from)?;
            let ids: Vec<i64> = inserted.iter().map(|(id, _)| *id).collect();
            sqlx::query("INSERT INTO subscriber_newsletters (subscriber_id, newsletter_id) SELECT unnest($1::int8[]), $2")
                .bind(&ids)
                .bind(nl)
                .execute(&mut *c)
                .await.map_err(jarida_store::StoreError::from)?;
            (inserted.len() as u64, inserted)
        }
    };
    // Addresses already in the table because this import put them there are duplicates in the file;
    // the others were subscribers before it.
    let duplicates = if count < rows.len() as u64 {
        let fresh: HashSet<&str> = inserted.iter().map(|(_, e)| e.as_str()).collect();
        let left: Vec<&str> = rows
            .iter()
            .map(|r| r.email.as_str())
            .filter(|e| !fresh.contains(e))
            .collect();
        imported_by(tx.conn(), import_id, &left).await?
    } else {
        Vec::new()
    };
    let mut confirmations = 0;
    if !ctx.confirmed {
        let by_email: std::collections::HashMap<&str, &Row> =
            rows.iter().map(|r| (r.email.as_str(), r)).collect();
        for (id, email_addr) in &inserted {
            let Some(row) = by_email.get(email_addr.as_str()) else {
                continue;
            };
            if row.unsubscribed {
                continue;
            }
            let mut b = [0u8; 32];
            rand::rng().fill_bytes(&mut b);
            let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
            jarida_store::q_exec!(
                tx.conn(),
                "INSERT INTO subscriber_tokens (token_sha256, subscriber_id, purpose, expires_at) VALUES ($1, $2, 'confirm', $3)",
                hex::encode(Sha256::digest(token.as_bytes())),
                *id,
                now_s + ctx.confirm_ttl_secs
            )?;
            let reader = PendingReader {
                id: *id,
                email: row.email.clone(),
                name: row.name.clone(),
                lang: row.lang.clone(),
                token,
            };
            if let Some(m) = ctx.confirmation.as_ref().and_then(|c| (c.0)(&reader)) {
                jarida_mail::queue::enqueue_in(tx.conn(), &m, now_s).await?;
                confirmations += 1;
            }
        }
    }
    if let (Some(cache), Conn::Sqlite(c)) = (sqlite_cache_before, tx.conn()) {
        sqlite_cache(c, cache).await?;
    }
    // Holding its locks, this batch waits for the one before to commit; one that waits too long
    // lets go of them and is written again (see `TURN_WAIT`).
    if !turn.wait_at_most(TURN_WAIT).await? {
        drop(tx);
        turn.wait().await?;
        return Ok(Outcome::Again);
    }
    // The held rows' addresses were written by the batch before, now committed: by this import
    // (a duplicate) or before it.
    let mut duplicates = duplicates;
    if !batch.held.is_empty() {
        let held: Vec<&str> = batch.held.iter().map(|r| r.email.as_str()).collect();
        duplicates.extend(imported_by(tx.conn(), import_id, &held).await?);
    }
    tx.commit().await?;
    let dup: HashSet<&str> = duplicates.iter().map(String::as_str).collect();
    let mut duplicates: Vec<(u64, String)> = rows
        .iter()
        .chain(batch.held)
        .filter(|r| dup.contains(r.email.as_str()))
        .map(|r| (r.line, r.email.clone()))
        .collect();
    duplicates.sort_unstable();
    Ok(Outcome::Written(Written {
        rows_read: batch.rows_read,
        imported: count,
        existing: (rows.len() + batch.held.len()) as u64 - count - duplicates.len() as u64,
        duplicates,
        confirmations,
    }))
}

/// Which of `emails` the import `import_id` brought in.
async fn imported_by(
    c: Conn<'_>,
    import_id: i64,
    emails: &[&str],
) -> Result<Vec<String>, AudienceError> {
    let rows: Vec<(String,)> = match c {
        Conn::Sqlite(c) => {
            let mut sql = format!(
                "SELECT email FROM subscribers WHERE import_id = {import_id} AND email IN ("
            );
            for i in 0..emails.len() {
                sql.push_str(if i > 0 { ",?" } else { "?" });
            }
            sql.push(')');
            let mut q = sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql)).persistent(false);
            for e in emails {
                q = q.bind(*e);
            }
            q.fetch_all(&mut *c)
                .await
                .map_err(jarida_store::StoreError::from)?
        }
        Conn::Postgres(c) => {
            sqlx::query_as("SELECT email FROM subscribers WHERE import_id = $1 AND email = ANY($2)")
                .bind(import_id)
                .bind(emails)
                .fetch_all(&mut *c)
                .await
                .map_err(jarida_store::StoreError::from)?
        }
    };
    Ok(rows.into_iter().map(|(e,)| e).collect())
}

/// The columns of an export, which [`import`] reads back.
const EXPORT_HEADER: [&str; 8] = [
    "email",
    "name",
    "lang",
    "status",
    "source",
    "created_at",
    "consent_at",
    "confirmed_at",
];

/// A CSV export written in pieces (a background job's chunks of reader ids), in the columns of
/// [`export`].
pub struct Exporter<W: std::io::Write> {
    w: csv::Writer<W>,
}

fn write_err(e: impl std::fmt::Display) -> AudienceError {
    AudienceError::Csv {
        line: 0,
        reason: e.to_string(),
    }
}

impl<W: std::io::Write> Exporter<W> {
    /// Starts the file with its header.
    pub fn new(out: W) -> Result<Exporter<W>, AudienceError> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(EXPORT_HEADER).map_err(write_err)?;
        Ok(Exporter { w })
    }

    /// Writes the readers `ids` (in id order; ids no longer there are left out); how many.
    pub async fn readers(
        &mut self,
        c: jarida_store::Conn<'_>,
        ids: &[jarida_core::SubscriberId],
    ) -> Result<u64, AudienceError> {
        let (Some(lo), Some(hi)) = (ids.iter().map(|i| i.0).min(), ids.iter().map(|i| i.0).max())
        else {
            return Ok(0);
        };
        let list = jarida_store::List::ints(&ids.iter().map(|i| i.0).collect::<Vec<_>>());
        let sql = format!(
            "SELECT id, email, name, lang, status, source, created_at, consent_at, confirmed_at FROM subscribers \
             WHERE id BETWEEN $2 AND $3 AND id IN ({}) ORDER BY id",
            list.select(c.dialect(), 1)
        );
        let rows: Vec<ExportLine> = q_all!(
            c,
            ExportLine,
            sqlx::AssertSqlSafe(sql),
            list.param(),
            lo,
            hi
        )?;
        let n = rows.len() as u64;
        for row in rows {
            self.w.write_record(export_record(row)).map_err(write_err)?;
        }
        Ok(n)
    }

    /// Flushes the file and hands back the writer.
    pub fn finish(self) -> Result<W, AudienceError> {
        self.w.into_inner().map_err(write_err)
    }
}

type ExportLine = (
    i64,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
);

fn export_record(row: ExportLine) -> [String; 8] {
    let ts = |t: Option<i64>| {
        t.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
            .and_then(|d| d.format(&Rfc3339).ok())
            .unwrap_or_default()
    };
    let (_, email, name, lang, status, source, created, consent, confirmed) = row;
    [
        neutralize(email),
        neutralize(name),
        lang,
        status,
        source,
        ts(Some(created)),
        ts(consent),
        ts(confirmed),
    ]
}

/// Writes every subscriber as CSV (`email,name,lang,status,source,created_at,consent_at,confirmed_at`),
/// reading the table in pages so memory stays flat.
pub async fn export<W: std::io::Write>(db: &Db, out: W) -> Result<u64, AudienceError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(EXPORT_HEADER).map_err(write_err)?;
    let mut after = 0i64;
    let mut n = 0u64;
    loop {
        let mut c = db.acquire().await?;
        let rows: Vec<ExportLine> = q_all!(
            c.conn(),
            ExportLine,
            "SELECT id, email, name, lang, status, source, created_at, consent_at, confirmed_at FROM subscribers \
             WHERE id > $1 ORDER BY id LIMIT 5000",
            after
        )?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for row in rows {
            w.write_record(export_record(row)).map_err(write_err)?;
            n += 1;
        }
    }
    w.flush().map_err(write_err)?;
    Ok(n)
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a tab or carriage return
/// that some read as one) gets a leading `'`, which spreadsheets show as text: a reader's name must
/// not become a formula on the operator's machine. [`unneutralize`] undoes it on import, so an
/// export imports back unchanged.
pub fn neutralize(cell: String) -> String {
    // A cell that starts with a quote gets one more, so that the import's undoing of the quote gives
    // back exactly what was exported.
    if is_formula(&cell) || cell.starts_with('\'') {
        format!("'{cell}")
    } else {
        cell
    }
}

fn is_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// Undoes [`neutralize`]: one leading quote goes when what follows it would have been quoted. (A
/// name another tool exported as `'Bob` stays as it is.)
fn unneutralize(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if is_formula(rest) || rest.starts_with('\'') => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(s: &str) -> Vec<String> {
        s.split(',').map(str::to_string).collect()
    }

    #[test]
    fn recognizes_known_exports() {
        let (f, m) = detect(&headers(
            "Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,LANGUAGE",
        ))
        .unwrap();
        assert_eq!(
            (
                f,
                m.email.as_str(),
                m.first_name.as_deref(),
                m.lang.as_deref()
            ),
            (
                "Mailchimp",
                "Email Address",
                Some("First Name"),
                Some("LANGUAGE")
            )
        );
        assert_eq!(
            detect(&headers(
                "uuid,email,name,attributes,status,created_at,updated_at"
            ))
            .unwrap()
            .0,
            "listmonk"
        );
        let (f, m) = detect(&headers(
            "id,email,name,note,subscribed_to_emails,complimentary_plan,labels",
        ))
        .unwrap();
        assert_eq!(f, "Ghost");
        assert_eq!(m.unsubscribed, Some(("subscribed_to_emails".into(), false)));
        assert_eq!(
            detect(&headers(
                "email,active_subscription,expiry,plan,email_disabled,created_at"
            ))
            .unwrap()
            .0,
            "Substack"
        );
        assert!(detect(&headers("name,phone")).is_none());
    }

    #[test]
    fn copy_text_escapes_what_the_copy_format_reads_as_escapes() {
        assert_eq!(copy_text("Lina"), "Lina");
        assert_eq!(copy_text("a\\b\tc\nd\re"), "a\\\\b\\tc\\nd\\re");
        assert_eq!(copy_text("\\N"), "\\\\N", "not read back as NULL");
    }

    #[test]
    fn formula_cells_are_neutralized_and_restored() {
        for cell in ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx"] {
            let out = super::neutralize(cell.to_string());
            assert!(out.starts_with('\''), "{cell}");
            assert_eq!(super::unneutralize(&out), cell);
        }
        assert_eq!(super::neutralize("Lina".into()), "Lina");
        assert_eq!(super::unneutralize("'quoted"), "'quoted");
        for cell in ["''=x", "'x", "'''"] {
            assert_eq!(super::unneutralize(&super::neutralize(cell.into())), cell);
        }
    }
}

/// Property tests over what outsiders hand us: any bytes as a CSV file, any text as an address.
/// `scripts/fuzz` runs them with a million cases each; CI with proptest's default.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn csv_like() -> impl Strategy<Value = Vec<u8>> {
        let cell = prop_oneof![
            "[a-zA-Z0-9._%+@=-]{0,20}",
            "\"[^\"]{0,20}\"",
            "\"([^\"]|\"\"){0,20}\"?",
            ".{0,30}",
            Just("lina@example.org".to_string()),
            Just("ar-SA".to_string()),
            Just("true".to_string()),
        ];
        let row = prop::collection::vec(cell, 0..6).prop_map(|c| c.join(","));
        prop_oneof![
            prop::collection::vec(row, 0..8).prop_map(|rows| {
                let mut s = String::from("Email Address,First Name,Last Name,Language\n");
                s.push_str(&rows.join("\r\n"));
                s.into_bytes()
            }),
            prop::collection::vec(any::<u8>(), 0..400),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn fuzz_csv_rows(bytes in csv_like()) {
            let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(&bytes[..]);
            let Ok(h) = rdr.byte_headers() else { return Ok(()) };
            let headers: Vec<String> = h.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
            let Some((_, mapping)) = detect(&headers) else { return Ok(()) };
            let cols = Columns::new(&headers, &mapping).expect("detected columns exist");
            let mut record = csv::ByteRecord::new();
            while let Ok(true) = rdr.read_byte_record(&mut record) {
                if let Ok(row) = cols.row(&record, 2, "en") {
                    // What is accepted is a normalized address and a known language.
                    prop_assert_eq!(email::normalize(&row.email).ok(), Some(row.email.clone()));
                    prop_assert!(row.lang == "en" || row.lang == "ar");
                    prop_assert!(row.name.chars().count() <= 200);
                }
            }
        }

        #[test]
        fn fuzz_email_addresses(s in prop_oneof![".{0,80}", "[a-zA-Z0-9.+_-]{0,20}@[a-zA-Z0-9.-]{0,30}"]) {
            if let Ok(n) = email::normalize(&s) {
                prop_assert_eq!(email::normalize(&n).ok(), Some(n.clone()), "normalizing is idempotent");
                prop_assert!(n.len() <= 254 && n.contains('@'));
            }
        }

        #[test]
        fn fuzz_spreadsheet_cells(s in ".{0,40}") {
            let out = neutralize(s.clone());
            prop_assert!(!out.starts_with(['=', '+', '-', '@', '\t', '\r']));
            prop_assert_eq!(unneutralize(&out), s.as_str());
        }
    }
}
