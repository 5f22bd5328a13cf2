//! The delivery engine: a ledger row per (edition, subscriber), frozen when sending starts, drained by
//! workers in claimed batches over pooled SMTP connections (or into an outbox folder).
//!
//! Crash safety rests on three rules. A row is `sending` only while a worker holds its lease; a row is
//! marked `sent` only after the relay's 250 reply; an edition is marked `sent` only when no row is
//! pending, sending or deferred. A process killed at any moment leaves at most its leased rows in
//! `sending`; when the lease runs out, any worker puts them back to `pending`, so nobody is skipped and
//! only messages that were in flight can go out twice. Claims use `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL (several processes share the work) and `BEGIN IMMEDIATE` on SQLite.

mod ledger;
mod message;
mod pool;
mod test_send;
mod worker;

use crate::editions::{self, Edition};
use crate::render::{Renderer, SLOT_MANAGE, SLOT_UNSUBSCRIBE, SLOTS, SiteInfo};
use crate::{Fallback, Newsletter, NewsletterError};
use jarida_core::EditionId;

use jarida_mail::bulk::{self, BulkBody};
use jarida_mail::dkim::DkimSigner;
use jarida_mail::relay::{Connection, SendError};
use jarida_store::{Db, q_all, q_exec, q_one};
use serde::Serialize;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::{Semaphore, mpsc, watch};

use message::*;
pub use message::{message_id, verp};
use pool::*;
pub use test_send::{MAX_TEST_ADDRESSES, TestOutcome};

/// One SMTP relay of the pool.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub smtp: jarida_mail::Smtp,
    pub max_connections: usize,
}

#[derive(Clone)]
pub struct DeliveryConfig {
    /// Empty: messages are written to `<outbox_dir>/edition-<id>/` as `.eml` files.
    pub relays: Vec<RelayConfig>,
    pub outbox_dir: PathBuf,
    /// Messages per second across the process; 0 means no limit.
    pub rate_per_second: u32,
    /// Messages in flight to one recipient domain at a time.
    pub per_domain: usize,
    /// First retry delay after a 4xx reply; doubled on each attempt.
    pub retry_base: Duration,
    /// A deferred message is given up (failed) once this long has passed since its first attempt.
    pub retry_horizon: Duration,
    /// How long a claimed row stays reserved to its worker; a dead worker's rows return after it.
    pub lease: Duration,
    /// Rows claimed at once.
    pub batch: usize,
    /// Domain of the VERP return path (`b+<token>@<domain>`).
    pub bounce_domain: String,
    /// Replaced when an owner rotates the keys in the admin.
    pub dkim: jarida_core::Live<Option<Arc<DkimSigner>>>,
    /// How often an idle worker looks for work.
    pub poll: Duration,
    /// The bounce policy, also for the addresses a relay refuses while sending.
    pub bounces: crate::bounces::Rules,
}

impl std::fmt::Debug for DeliveryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryConfig")
            .field("relays", &self.relays.len())
            .field("rate_per_second", &self.rate_per_second)
            .field("dkim", &self.dkim.get().is_some())
            .finish()
    }
}

/// Everything a worker needs.
pub struct Engine {
    pub db: Db,
    pub cfg: DeliveryConfig,
    /// The site and the newsletters as the settings are now (an owner may change them while it runs).
    pub site: jarida_core::Live<SiteInfo>,
    pub secret: jarida_core::Secret,
    pub newsletters: jarida_core::Live<Vec<Newsletter>>,
    pub renderer: Renderer,
    /// Set on a graceful stop: sending halts, rows claimed but not attempted are handed back at
    /// once (not when their lease runs out), and the messages in flight finish and are recorded.
    pub stopping: Arc<std::sync::atomic::AtomicBool>,
}

jarida_core::text_enum! {
    /// Where one reader's copy of an edition is (`deliveries.state`). The ledger's SQL names these
    /// spellings in its conditions; Rust code reads and writes them through this type.
    pub enum DeliveryState {
        Pending = "pending",
        /// Claimed by a worker, under a lease.
        Sending = "sending",
        Sent = "sent",
        /// Refused for now; tried again at `next_try_at`.
        Deferred = "deferred",
        Failed = "failed",
        /// Left out on purpose (the reader left, the address is suppressed, the edition was
        /// cancelled).
        Skipped = "skipped",
    }
}

/// Counts of an edition's ledger.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Figures {
    pub recipients: i64,
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub deferred: i64,
    pub failed: i64,
    pub skipped: i64,
    /// Hard bounces: refused while sending (5.1.x) or returned later.
    pub bounced: i64,
    /// Soft bounces returned (a full mailbox, a temporary refusal).
    pub soft_bounced: i64,
    /// Refusals for policy (the receiver's verdict on the sender or the content).
    pub refused: i64,
    /// Readers who reported it as spam.
    pub complaints: i64,
    pub unsubscribed_after: i64,
}

pub async fn figures(db: &Db, edition: EditionId) -> Result<Figures, NewsletterError> {
    let mut pc = db.acquire().await?;
    let rows: Vec<(DeliveryState, i64)> = q_all!(
        pc.conn(),
        (DeliveryState, i64),
        "SELECT state, COUNT(*) FROM deliveries WHERE edition_id = $1 GROUP BY state",
        edition
    )?;
    let mut f = Figures::default();
    for (state, n) in rows {
        f.recipients += n;
        match state {
            DeliveryState::Pending => f.pending = n,
            DeliveryState::Sending => f.sending = n,
            DeliveryState::Sent => f.sent = n,
            DeliveryState::Deferred => f.deferred = n,
            DeliveryState::Failed => f.failed = n,
            DeliveryState::Skipped => f.skipped = n,
        }
    }
    (f.bounced, f.soft_bounced, f.refused, f.complaints) =
        jarida_audience::bounces::edition_counts(pc.conn(), edition.0).await?;
    // One query over the ledger; the audience crate writes the part that reads its events.
    let sql = format!(
        "SELECT COUNT(DISTINCT ev.subscriber_id) FROM ({}) ev \
         JOIN deliveries d ON d.subscriber_id = ev.subscriber_id AND d.edition_id = $1 AND d.state = 'sent' \
         WHERE ev.at >= d.done_at",
        jarida_audience::recipients::unsubscriptions_sql()
    );
    (f.unsubscribed_after,) = q_one!(
        pc.conn(),
        (i64,),
        jarida_store::sqlx::AssertSqlSafe(sql),
        edition
    )?;
    Ok(f)
}

/// One claimed row with what is needed to address the message.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Claimed {
    subscriber_id: i64,
    lang: String,
    attempts: i64,
    first_try_at: Option<i64>,
    email: Option<String>,
    name: Option<String>,
    status: Option<String>,
    member: Option<i64>,
}

/// What happened to one message.
#[derive(Debug)]
struct Outcome {
    subscriber_id: i64,
    attempts: i64,
    first_try_at: i64,
    result: Result<(), SendError>,
}

/// A frozen language of the edition being sent, ready for per-reader splicing.
struct Prepared {
    subject_header: Vec<u8>,
    body: BulkBody,
}

struct Job {
    row: Claimed,
    email: String,
}

/// A random id for a worker's claims (no `rand` dependency: the hasher's random keys suffice).
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}
