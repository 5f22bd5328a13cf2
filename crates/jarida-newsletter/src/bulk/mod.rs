//! Bulk actions on a readers' filter (unsubscribe, add to or remove from a newsletter, erase,
//! export) and CSV imports uploaded in the admin, as background jobs: a job row holds the filter, the highest reader id when it was made (readers who
//! join later are not swept in), and how far it got. Workers in any process claim a job through the
//! shared lease queue and work it in chunks; each chunk's changes and the job's progress commit
//! together, and only while the worker still holds the lease, so a job survives a restart (another
//! worker resumes after the last chunk committed) and no chunk is applied twice.
//!
//! An export or an import is not worked in committed chunks of changes but as one pass (see
//! [`transfer`]); a worker that dies mid-way leaves the job to the next, which starts it again.
//!
//! It lives here rather than with the readers because erasing must clear what the newsletter side
//! holds too ([`crate::erasure`]).

mod transfer;

pub use transfer::{
    EXPORT_KEPT, ImportSpec, create_import, export_file, forget_exports, forget_old_files,
    upload_dir,
};

use std::path::{Path, PathBuf};
use std::time::Duration;

use jarida_audience::directory::{self, ReaderFilter};
use jarida_audience::subscribers;
use jarida_store::{Db, Due, LeaseQueue, Returned, q_all, q_exec, q_one, q_opt};

use crate::NewsletterError;

jarida_core::text_enum! {
    /// What a job does to each reader its filter matches.
    pub enum Action {
        Unsubscribe = "unsubscribe",
        Add = "add",
        Remove = "remove",
        Erase = "erase",
        /// Writes the readers to a CSV file in the data folder, to download from the job's page.
        Export = "export",
        /// Reads an uploaded CSV file (its options in the job's filter column).
        Import = "import",
    }
}

jarida_core::text_enum! {
    pub enum JobStatus {
        Queued = "queued",
        Running = "running",
        Done = "done",
        Failed = "failed",
    }
}

/// A job, as its page shows it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub action: Action,
    pub filter: String,
    pub newsletter_id: Option<i64>,
    pub status: JobStatus,
    /// Readers the filter matched when the job was made.
    pub total: i64,
    /// Readers looked at so far.
    pub done: i64,
    /// Of those, the ones the action changed (already unsubscribed readers are not).
    pub changed: i64,
    pub error: Option<String>,
    /// An import's report or an export's file, as JSON, once done.
    pub report: Option<String>,
    pub actor: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

const JOB_COLS: &str = "id, action, filter_json AS filter, newsletter_id, status, total, done, changed, error, \
     report_json AS report, actor, created_at, started_at, finished_at";

/// The jobs table as a lease queue: the lease end is the row's due time, so a job whose worker
/// died falls due again when its lease runs out.
const QUEUE: LeaseQueue = LeaseQueue {
    table: "bulk_jobs",
    alias: "j",
    key: "id",
    partition: None,
    lease_end: "next_at",
    holder: "holder",
    leased: "status IN ('queued', 'running')",
    on_claim: ", status = 'running', started_at = COALESCE(started_at, $3)",
    returned: Returned::DueAgain,
};

/// What the workers need besides the database.
#[derive(Clone)]
pub struct Context {
    /// The data folder: the outbox (erasure removes a reader's files there), `exports/` and
    /// `imports/`.
    pub data_dir: PathBuf,
    /// The confirmation email of an import of readers who have not confirmed yet.
    pub composer: Option<jarida_audience::csv_io::Composer>,
    pub confirm_ttl_secs: i64,
}

impl Context {
    fn outbox(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }
}

/// Readers per chunk: one transaction each, small enough that a reader's own request (a sign-up,
/// an unsubscribe) never waits long behind it.
const CHUNK: i64 = 1000;

/// How long a claim holds a job between chunks: a worker that stops for longer loses it.
const LEASE_SECS: i64 = 60;

/// Makes a job for the readers `filter` matches now, in the caller's transaction (the audit line
/// goes in the same one).
pub async fn create(
    tx: &mut jarida_store::Tx,
    action: Action,
    filter: &ReaderFilter,
    newsletter: Option<i64>,
    actor: &str,
    created_by: Option<i64>,
    now: i64,
) -> Result<i64, NewsletterError> {
    if action == Action::Import {
        return Err(NewsletterError::Invalid(
            "action: an import is made from its file (create_import)".into(),
        ));
    }
    if matches!(action, Action::Add | Action::Remove) {
        let Some(nl) = newsletter else {
            return Err(NewsletterError::Invalid(
                "newsletter: adding or removing needs the newsletter".into(),
            ));
        };
        let known: Option<(i64,)> = q_opt!(
            tx.conn(),
            (i64,),
            "SELECT id FROM newsletters WHERE id = $1",
            nl
        )?;
        if known.is_none() {
            return Err(NewsletterError::Invalid(format!(
                "newsletter: there is no newsletter {nl}"
            )));
        }
    }
    let upto = directory::last_id(tx.conn()).await?;
    let total = {
        let (clause, args) = filter.clause(tx.conn().dialect(), 2);
        let mut all = vec![jarida_store::dynamic::Arg::Int(upto)];
        all.extend(args);
        let rows: Vec<(i64,)> = jarida_store::dynamic::fetch_all(
            tx.conn(),
            &format!("SELECT COUNT(*) FROM subscribers WHERE id <= $1 AND {clause}"),
            &all,
        )
        .await?;
        rows.first().map_or(0, |r| r.0)
    };
    let (id,): (i64,) = q_one!(
        tx.conn(),
        (i64,),
        "INSERT INTO bulk_jobs (action, filter_json, newsletter_id, status, total, upto, next_at, actor, created_by, created_at) \
         VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $6) RETURNING id",
        action.as_str(),
        serde_json::to_string(filter).unwrap_or_default(),
        newsletter,
        total,
        upto,
        now,
        actor,
        created_by
    )?;
    Ok(id)
}

/// Job `id`.
pub async fn get(db: &Db, id: i64) -> Result<Option<Job>, NewsletterError> {
    let mut c = db.acquire().await?;
    get_in(c.conn(), id).await
}

/// Job `id`, read through `c` (inside the transaction that made it, say).
pub async fn get_in(c: jarida_store::Conn<'_>, id: i64) -> Result<Option<Job>, NewsletterError> {
    Ok(q_opt!(
        c,
        Job,
        jarida_store::sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLS} FROM bulk_jobs WHERE id = $1"
        )),
        id
    )?)
}

/// The latest jobs, newest first.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<Job>, NewsletterError> {
    let mut c = db.acquire().await?;
    Ok(q_all!(
        c.conn(),
        Job,
        jarida_store::sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLS} FROM bulk_jobs ORDER BY id DESC LIMIT $1"
        )),
        limit
    )?)
}

#[derive(sqlx::FromRow)]
pub(crate) struct Claimed {
    id: i64,
    action: Action,
    filter: String,
    newsletter_id: Option<i64>,
    cursor: i64,
    upto: i64,
    attempts: i64,
}

/// How often a job is tried again after a chunk failed before it is marked failed.
const ATTEMPTS: i64 = 5;

/// Claims one due job for `holder` and works it to the end (or until the lease is lost). Returns
/// whether there was a job.
pub async fn work_one(db: &Db, ctx: &Context, holder: &str) -> Result<bool, NewsletterError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let due = Due {
        columns: "j.id, j.action, j.filter_json AS filter, j.newsletter_id, j.cursor, j.upto, j.attempts",
        joins: "",
        condition: "j.status IN ('queued', 'running') AND j.next_at <= $1",
        order: "ORDER BY j.id",
    };
    let mut jobs: Vec<Claimed> = QUEUE
        .claim(
            db,
            &due,
            now,
            1,
            None,
            holder,
            now + LEASE_SECS,
            |j: &Claimed| j.id,
        )
        .await?;
    let Some(job) = jobs.pop() else {
        return Ok(false);
    };
    if job.action == Action::Import {
        transfer::import(db, ctx, &job, holder).await?;
        return Ok(true);
    }
    let filter: ReaderFilter = match serde_json::from_str(&job.filter) {
        Ok(f) => f,
        Err(e) => {
            finish(
                db,
                job.id,
                holder,
                Some(&format!("its filter does not read: {e}")),
                None,
            )
            .await?;
            return Ok(true);
        }
    };
    tracing::info!(job = job.id, action = %job.action, "bulk job started");
    if job.action == Action::Export {
        transfer::export(db, ctx, &job, &filter, holder).await?;
        return Ok(true);
    }
    let outbox = ctx.outbox();
    let outbox = outbox.as_path();
    let mut cursor = job.cursor;
    loop {
        match chunk(db, outbox, &job, &filter, cursor, holder).await {
            Ok(Some(next)) => cursor = next,
            Ok(None) => {
                finish(db, job.id, holder, None, None).await?;
                tracing::info!(job = job.id, "bulk job done");
                return Ok(true);
            }
            Err(Stop::Lost) => {
                tracing::warn!(job = job.id, "bulk job: lease lost; another worker goes on");
                return Ok(true);
            }
            Err(Stop::Failed(e)) => {
                tracing::warn!(job = job.id, error = %e, attempt = job.attempts, "bulk job chunk rolled back");
                // Claims count attempts: after a few, the failure is the job's, not the moment's.
                if job.attempts + 1 >= ATTEMPTS {
                    finish(db, job.id, holder, Some(&e.to_string()), None).await?;
                } else {
                    let mut tx = db.begin().await?;
                    q_exec!(
                        tx.conn(),
                        "UPDATE bulk_jobs SET next_at = $1, holder = NULL WHERE id = $2 AND holder = $3",
                        time::OffsetDateTime::now_utc().unix_timestamp() + 10 * (job.attempts + 1),
                        job.id,
                        holder
                    )?;
                    tx.commit().await?;
                }
                return Ok(true);
            }
        }
    }
}

/// Why a job's worker stops before the end.
enum Stop {
    /// Another worker holds the job now (this one's lease ran out).
    Lost,
    /// The chunk failed and was rolled back.
    Failed(NewsletterError),
}

/// Applies the action to the next chunk after `cursor` and records the progress, in one
/// transaction that commits only while `holder` still holds the job. The new cursor, or None
/// when nothing is left.
async fn chunk(
    db: &Db,
    outbox: &Path,
    job: &Claimed,
    filter: &ReaderFilter,
    cursor: i64,
    holder: &str,
) -> Result<Option<i64>, Stop> {
    type Chunk = Option<(i64, Vec<(jarida_core::SubscriberId, String)>)>;
    let r: Result<Result<Chunk, ()>, NewsletterError> = async {
            let now = time::OffsetDateTime::now_utc();
            let now_s = now.unix_timestamp();
            let mut tx = db.begin().await?;
            let ids = directory::ids_after(tx.conn(), filter, cursor, job.upto, CHUNK).await?;
            let Some(last) = ids.last().map(|i| i.0) else {
                return Ok(Ok(None));
            };
            let mut erased = Vec::new();
            let changed = match job.action {
                Action::Unsubscribe => {
                    let how = serde_json::json!({ "how": "admin, in bulk", "job": job.id });
                    subscribers::unsubscribe_many(&mut tx, &ids, &how, now_s).await?
                }
                Action::Add => {
                    subscribers::join_many(&mut tx, &ids, job.newsletter_id.unwrap_or(0)).await?
                }
                Action::Remove => {
                    subscribers::leave_many(&mut tx, &ids, job.newsletter_id.unwrap_or(0)).await?
                }
                // Worked by `transfer`, never in chunks here.
                Action::Export | Action::Import => 0,
                Action::Erase => {
                    for id in &ids {
                        let email = crate::erasure::erase_reader_in(&mut tx, *id, now).await?;
                        erased.push((*id, email));
                    }
                    erased.len() as u64
                }
            };
            let held = q_exec!(
                tx.conn(),
                "UPDATE bulk_jobs SET cursor = $1, done = done + $2, changed = changed + $3, next_at = $4 \
                 WHERE id = $5 AND holder = $6",
                last,
                ids.len() as i64,
                changed as i64,
                now_s + LEASE_SECS,
                job.id,
                holder
            )?;
            if held == 0 {
                // Dropping the transaction rolls the chunk back: the job is someone else's now.
                return Ok(Err(()));
            }
            tx.commit().await?;
            Ok(Ok(Some((last, erased))))
        }
        .await;
    match r {
        Ok(Err(())) => Err(Stop::Lost),
        Ok(Ok(None)) => Ok(None),
        Ok(Ok(Some((last, erased)))) => {
            if !erased.is_empty() {
                // What lies outside the database, once per chunk: SQLite's log, then the outbox.
                if let Err(e) = db.checkpoint().await {
                    tracing::warn!(error = %e, "checkpoint after a bulk erasure");
                }
                if let Some(data_dir) = outbox.parent()
                    && let Err(e) = forget_exports(data_dir, None)
                {
                    tracing::warn!(error = %e, "removing exports after a bulk erasure");
                }
                for (id, email) in &erased {
                    if let Err(e) =
                        jarida_mail::forget_outbox(outbox, email, Some(&format!("{id}.eml"))).await
                    {
                        tracing::warn!(error = %e, "removing an erased reader's outbox files");
                    }
                }
            }
            Ok(Some(last))
        }
        Err(e) => Err(Stop::Failed(e)),
    }
}

/// Marks job `id` done (or failed with `error`) with its report, if `holder` still holds it.
async fn finish(
    db: &Db,
    id: i64,
    holder: &str,
    error: Option<&str>,
    report: Option<&serde_json::Value>,
) -> Result<(), NewsletterError> {
    finish_held(db, id, holder, error, report).await.map(|_| ())
}

/// [`finish`], saying whether `holder` still held the job (and so finished it).
async fn finish_held(
    db: &Db,
    id: i64,
    holder: &str,
    error: Option<&str>,
    report: Option<&serde_json::Value>,
) -> Result<bool, NewsletterError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut tx = db.begin().await?;
    let held = q_exec!(
        tx.conn(),
        "UPDATE bulk_jobs SET status = $1, error = $2, finished_at = $3, holder = NULL, \
         report_json = COALESCE($6, report_json) WHERE id = $4 AND holder = $5",
        if error.is_some() { "failed" } else { "done" },
        error,
        now,
        id,
        holder,
        report.map(|r| r.to_string())
    )?;
    tx.commit().await?;
    Ok(held > 0)
}

/// Works jobs as they come, for as long as the process runs (the caller stops it).
pub async fn run(db: Db, ctx: Context, poll: Duration) {
    let holder = format!(
        "bulk-{}-{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    );
    loop {
        match work_one(&db, &ctx, &holder).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "bulk jobs"),
        }
        tokio::time::sleep(poll).await;
    }
}
