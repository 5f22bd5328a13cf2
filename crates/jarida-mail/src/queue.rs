//! The transactional mail queue: confirmation, preference and welcome emails and editors' notices
//! are written to the `mail_queue` table and sent from there by a worker in every `jarida serve` /
//! `jarida worker` process, so that a crash, a restart or a relay outage delays them instead of
//! losing them.
//!
//! A worker claims as many due messages as it sends at once, pushing their `next_try_at` past a
//! lease and naming the claim in `claimed_by`; it records each outcome as the relay answers, only
//! while its claim still holds the row. A worker that dies mid-send leaves rows that fall due again
//! by themselves, and several processes share the queue (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
//! the single writer on SQLite). A message the relay takes is deleted, because its body holds a live
//! confirmation link that is otherwise stored only hashed. Temporary failures (a 4xx reply, a
//! refused connection, login or sender, a policy 5.7.x refusal) are retried with a doubling delay
//! for a day; a 5xx refusal of the recipient or the message fails it for good, keeping its error
//! (for 30 days) but not its body.

use std::sync::Arc;
use std::time::Duration;

use jarida_store::{Db, Due, LeaseQueue, Returned, q_all, q_exec};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::{MailError, Transport};

/// How long a claimed message is left to its worker before another may take it: well over the
/// worst case of one send (each SMTP step has its own timeout, 30 s by default), because a worker
/// claims only as many messages as it sends at once and records each outcome as it comes.
const LEASE_SECS: i64 = 600;
/// The queue as the store's lease helper sees it: a claim pushes `next_try_at` past the lease, so a
/// row whose worker died falls due again by itself.
const QUEUE: LeaseQueue = LeaseQueue {
    table: "mail_queue",
    alias: "q",
    key: "id",
    partition: None,
    lease_end: "next_try_at",
    holder: "claimed_by",
    leased: "failed_at IS NULL",
    on_claim: "",
    returned: Returned::DueAgain,
};
const DUE: Due<'static> = Due {
    columns: "id, envelope_from, recipient, body, attempts, created_at",
    joins: "",
    condition: "failed_at IS NULL AND next_try_at <= $1",
    order: "ORDER BY next_try_at, id",
};
/// How long temporary failures are retried before the message is given up.
const GIVE_UP_SECS: i64 = 86_400;
/// How long a message that failed for good is kept (with its error, without its body).
const KEEP_FAILED_SECS: i64 = 30 * 86_400;
/// Messages sent at once by one worker: transactional mail opens a connection per message.
const PARALLEL: i64 = 4;

/// A message to queue inside the caller's own transaction ([`enqueue_in`]), so that what the message
/// carries (a confirmation token) and the message are written together.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub envelope_from: String,
    pub to: String,
    pub body: Vec<u8>,
}

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

    /// Wakes this process's worker (after messages were queued with [`enqueue_in`]).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Sends every message due now, each once (a deferred one waits for its next turn), and says
    /// what happened. A message can go out twice only if this process dies (or cannot record the
    /// outcome) between the relay's acceptance and the record.
    pub async fn drain(&self) -> Result<Drained, MailError> {
        let mut d = Drained::default();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut c = self.db.acquire().await?;
        q_exec!(
            c.conn(),
            "DELETE FROM mail_queue WHERE failed_at < $1",
            now - KEEP_FAILED_SECS
        )?;
        drop(c);
        loop {
            let claim = format!("{:016x}", rand::random::<u64>());
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let jobs = self.claim(now, &claim).await?;
            if jobs.is_empty() {
                return Ok(d);
            }
            let mut set = tokio::task::JoinSet::new();
            for job in jobs {
                let t = self.transport.clone();
                set.spawn(async move {
                    let r = t.send(&job.from, &job.to, &job.body).await;
                    (job, r)
                });
            }
            while let Some(r) = set.join_next().await {
                let (job, r) = r.map_err(|e| MailError::Queue(e.to_string()))?;
                self.record(&job, &claim, r, &mut d).await?;
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

    async fn claim(&self, now: i64, claim: &str) -> Result<Vec<Claimed>, MailError> {
        type Row = (i64, String, String, Vec<u8>, i64, i64);
        let rows: Vec<Row> = QUEUE
            .claim(
                &self.db,
                &DUE,
                now,
                PARALLEL,
                None,
                claim,
                now + LEASE_SECS,
                |r: &Row| r.0,
            )
            .await?;
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

    /// Writes the outcome of one send, if this claim still holds the row.
    async fn record(
        &self,
        job: &Claimed,
        claim: &str,
        r: Result<(), MailError>,
        d: &mut Drained,
    ) -> Result<(), MailError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut c = self.db.acquire().await?;
        let (n, outcome) = match r {
            Ok(()) => {
                d.sent += 1;
                // The body holds the address and a live link: zeroed, not only unlinked.
                c.conn().secure_delete(true).await?;
                let n = q_exec!(
                    c.conn(),
                    "DELETE FROM mail_queue WHERE id = $1 AND claimed_by = $2",
                    job.id,
                    claim
                )?;
                c.conn().secure_delete(false).await?;
                (n, "sent")
            }
            Err(error) => {
                let permanent = matches!(&error, MailError::Rejected { code, .. } if *code >= 500)
                    || matches!(&error, MailError::Build(_));
                if permanent || now - job.created_at >= GIVE_UP_SECS {
                    tracing::error!(to = %crate::addr_hash(&job.to), attempts = job.attempts, error = %crate::redact_addresses(&error.to_string()), "transactional email failed for good");
                    d.failed += 1;
                    c.conn().secure_delete(true).await?;
                    let n = q_exec!(
                        c.conn(),
                        "UPDATE mail_queue SET failed_at = $1, last_error = $2, body = $3, claimed_by = NULL \
                         WHERE id = $4 AND claimed_by = $5",
                        now,
                        error.to_string(),
                        Vec::<u8>::new(),
                        job.id,
                        claim
                    )?;
                    c.conn().secure_delete(false).await?;
                    (n, "failed")
                } else {
                    let delay = (60_i64 << (job.attempts - 1).clamp(0, 6)).min(3_600);
                    tracing::warn!(to = %crate::addr_hash(&job.to), attempts = job.attempts, retry_in_s = delay, error = %crate::redact_addresses(&error.to_string()), "transactional email deferred");
                    d.deferred += 1;
                    let n = q_exec!(
                        c.conn(),
                        "UPDATE mail_queue SET next_try_at = $1, last_error = $2, claimed_by = NULL \
                         WHERE id = $3 AND claimed_by = $4",
                        now + delay,
                        error.to_string(),
                        job.id,
                        claim
                    )?;
                    (n, "deferred")
                }
            }
        };
        if n == 0 {
            tracing::warn!(to = %crate::addr_hash(&job.to), outcome, "a transactional email's lease ran out before its outcome was recorded; another worker holds it");
        }
        Ok(())
    }
}

/// Forgets every message to `recipient`, waiting or failed (erasure: nothing more goes to an erased
/// reader, and their address does not stay behind in the queue).
pub async fn forget(c: jarida_store::Conn<'_>, recipient: &str) -> Result<u64, MailError> {
    Ok(q_exec!(
        c,
        "DELETE FROM mail_queue WHERE recipient = $1",
        recipient
    )?)
}

/// Queues a message inside the caller's transaction. The worker finds it within five seconds, or at
/// once after [`Queue::wake`].
pub async fn enqueue_in(
    c: jarida_store::Conn<'_>,
    m: &Outgoing,
    now: i64,
) -> Result<(), MailError> {
    insert(c, &m.envelope_from, &m.to, &m.body, now).await
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
