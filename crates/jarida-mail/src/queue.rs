//! The transactional mail queue: confirmation and preference emails are written to the `mail_queue`
//! table and sent from there by a worker in every `jarida serve` / `jarida worker` process, so that a
//! crash, a restart or a relay outage delays them instead of losing them.
//!
//! Claiming a row pushes its `next_try_at` past a lease: a worker that dies mid-send leaves rows that
//! fall due again by themselves, and several processes share the queue (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, the single writer on SQLite). A message the relay takes is deleted, because its body
//! holds a live confirmation link that is otherwise stored only hashed. A temporary failure (a 4xx
//! reply, a refused connection or login, an unwritable outbox) is retried with a doubling delay for a
//! day; a 5xx reply fails the message for good, and it keeps its error but loses its body.

use std::sync::Arc;
use std::time::Duration;

use jarida_store::{Db, Dialect, q_all, q_exec};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::{MailError, Transport};

/// How long a claimed message is left to its worker before another may take it.
const LEASE_SECS: i64 = 300;
/// How long temporary failures are retried before the message is given up.
const GIVE_UP_SECS: i64 = 86_400;
const CLAIM: i64 = 16;
/// Messages sent at once by one worker: transactional mail opens a connection per message.
const PARALLEL: usize = 4;

/// What one pass over the due messages did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    pub sent: u64,
    pub deferred: u64,
    pub failed: u64,
}

/// A message that failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub recipient: String,
    pub error: String,
    pub attempts: i64,
}

pub struct Queue {
    db: Db,
    transport: Transport,
    wake: Notify,
}

struct Claimed {
    id: i64,
    from: String,
    to: String,
    body: Vec<u8>,
    attempts: i64,
    created_at: i64,
}

impl Queue {
    pub fn new(db: Db, transport: Transport) -> Arc<Queue> {
        Arc::new(Queue {
            db,
            transport,
            wake: Notify::new(),
        })
    }

    /// Stores a message for sending; this process's worker is woken at once.
    pub async fn enqueue(
        &self,
        envelope_from: &str,
        to: &str,
        body: &[u8],
    ) -> Result<(), MailError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut c = self.db.acquire().await?;
        insert(c.conn(), envelope_from, to, body, now).await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Stores several messages (recipient, body) in one transaction.
    pub async fn enqueue_many(
        &self,
        envelope_from: &str,
        msgs: &[(String, Vec<u8>)],
    ) -> Result<(), MailError> {
        if msgs.is_empty() {
            return Ok(());
        }
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut tx = self.db.begin().await?;
        for (to, body) in msgs {
            insert(tx.conn(), envelope_from, to, body, now).await?;
        }
        tx.commit().await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Sends every message due now, each once (a deferred one waits for its next turn), and says
    /// what happened.
    pub async fn drain(&self) -> Result<Drained, MailError> {
        let mut d = Drained::default();
        loop {
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let jobs = self.claim(now).await?;
            if jobs.is_empty() {
                return Ok(d);
            }
            let mut set = tokio::task::JoinSet::new();
            let mut results = Vec::with_capacity(jobs.len());
            for job in jobs {
                if set.len() >= PARALLEL
                    && let Some(r) = set.join_next().await
                {
                    results.push(r.map_err(|e| MailError::Queue(e.to_string()))?);
                }
                let t = self.transport.clone();
                set.spawn(async move {
                    let r = t.send(&job.from, &job.to, &job.body).await;
                    (job, r)
                });
            }
            while let Some(r) = set.join_next().await {
                results.push(r.map_err(|e| MailError::Queue(e.to_string()))?);
            }
            for (job, r) in results {
                self.record(&job, r, &mut d).await?;
            }
        }
    }

    /// Drains the queue whenever a message is enqueued in this process, and every five seconds for
    /// messages from other processes and retries. Never returns.
    pub async fn run(self: Arc<Self>) {
        loop {
            if let Err(e) = self.drain().await {
                tracing::error!(error = %e, "transactional mail queue");
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }

    /// Messages that failed for good, newest first (for the operator and the tests).
    pub async fn failed(&self) -> Result<Vec<Failed>, MailError> {
        let mut c = self.db.acquire().await?;
        let rows: Vec<(String, String, i64)> = q_all!(
            c.conn(),
            (String, String, i64),
            "SELECT recipient, COALESCE(last_error, ''), attempts FROM mail_queue WHERE failed_at IS NOT NULL ORDER BY id DESC"
        )?;
        Ok(rows
            .into_iter()
            .map(|(recipient, error, attempts)| Failed {
                recipient,
                error,
                attempts,
            })
            .collect())
    }

    /// Messages still to be sent (due now or later).
    pub async fn waiting(&self) -> Result<i64, MailError> {
        let mut c = self.db.acquire().await?;
        let (n,): (i64,) = jarida_store::q_one!(
            c.conn(),
            (i64,),
            "SELECT COUNT(*) FROM mail_queue WHERE failed_at IS NULL"
        )?;
        Ok(n)
    }

    async fn claim(&self, now: i64) -> Result<Vec<Claimed>, MailError> {
        let lock = match self.db.dialect() {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let mut tx = self.db.begin().await?;
        type Row = (i64, String, String, Vec<u8>, i64, i64);
        let rows: Vec<Row> = q_all!(
            tx.conn(),
            Row,
            jarida_store::sqlx::AssertSqlSafe(format!(
                "SELECT id, envelope_from, recipient, body, attempts, created_at FROM mail_queue \
                 WHERE failed_at IS NULL AND next_try_at <= $1 ORDER BY next_try_at, id LIMIT $2{lock}"
            )),
            now,
            CLAIM
        )?;
        for (id, ..) in &rows {
            q_exec!(
                tx.conn(),
                "UPDATE mail_queue SET next_try_at = $1, attempts = attempts + 1 WHERE id = $2",
                now + LEASE_SECS,
                *id
            )?;
        }
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(id, from, to, body, attempts, created_at)| Claimed {
                id,
                from,
                to,
                body,
                attempts: attempts + 1,
                created_at,
            })
            .collect())
    }

    async fn record(
        &self,
        job: &Claimed,
        r: Result<(), MailError>,
        d: &mut Drained,
    ) -> Result<(), MailError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut c = self.db.acquire().await?;
        let error = match r {
            Ok(()) => {
                q_exec!(c.conn(), "DELETE FROM mail_queue WHERE id = $1", job.id)?;
                d.sent += 1;
                return Ok(());
            }
            Err(e) => e,
        };
        let permanent = matches!(&error, MailError::Rejected { code, .. } if *code >= 500)
            || matches!(&error, MailError::Build(_));
        if permanent || now - job.created_at >= GIVE_UP_SECS {
            tracing::error!(to = %job.to, attempts = job.attempts, error = %error, "transactional email failed for good");
            q_exec!(
                c.conn(),
                "UPDATE mail_queue SET failed_at = $1, last_error = $2, body = $3 WHERE id = $4",
                now,
                error.to_string(),
                Vec::<u8>::new(),
                job.id
            )?;
            d.failed += 1;
        } else {
            let delay = (60_i64 << (job.attempts - 1).clamp(0, 6)).min(3_600);
            tracing::warn!(to = %job.to, attempts = job.attempts, retry_in_s = delay, error = %error, "transactional email deferred");
            q_exec!(
                c.conn(),
                "UPDATE mail_queue SET next_try_at = $1, last_error = $2 WHERE id = $3",
                now + delay,
                error.to_string(),
                job.id
            )?;
            d.deferred += 1;
        }
        Ok(())
    }
}

async fn insert(
    c: jarida_store::Conn<'_>,
    envelope_from: &str,
    to: &str,
    body: &[u8],
    now: i64,
) -> Result<(), MailError> {
    q_exec!(
        c,
        "INSERT INTO mail_queue (envelope_from, recipient, body, created_at, next_try_at) VALUES ($1, $2, $3, $4, $4)",
        envelope_from,
        to,
        body,
        now
    )?;
    Ok(())
}
