//! The delivery engine: a ledger row per (edition, subscriber), frozen when sending starts, drained by
//! workers in claimed batches over pooled SMTP connections (or into an outbox folder).
//!
//! Crash safety rests on three rules. A row is `sending` only while a worker holds its lease; a row is
//! marked `sent` only after the relay's 250 reply; an edition is marked `sent` only when no row is
//! pending, sending or deferred. A process killed at any moment leaves at most its leased rows in
//! `sending`; when the lease runs out, any worker puts them back to `pending`, so nobody is skipped and
//! only messages that were in flight can go out twice. Claims use `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL (several processes share the work) and `BEGIN IMMEDIATE` on SQLite.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use jarida_mail::bulk::{self, BulkBody};
use jarida_mail::dkim::DkimSigner;
use jarida_mail::relay::{Connection, SendError};
use jarida_store::{Db, Dialect, q_all, q_exec, q_one};
use serde::Serialize;
use sha2::Sha256;
use time::OffsetDateTime;
use tokio::sync::{Semaphore, mpsc, watch};

use crate::editions::{self, Edition};
use crate::render::{Renderer, SLOT_MANAGE, SLOT_UNSUBSCRIBE, SLOTS, SiteInfo};
use crate::{Fallback, Newsletter, NewsletterError};

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
    pub dkim: Option<Arc<DkimSigner>>,
    /// How often an idle worker looks for work.
    pub poll: Duration,
}

impl std::fmt::Debug for DeliveryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryConfig")
            .field("relays", &self.relays.len())
            .field("rate_per_second", &self.rate_per_second)
            .field("dkim", &self.dkim.is_some())
            .finish()
    }
}

/// Everything a worker needs.
pub struct Engine {
    pub db: Db,
    pub cfg: DeliveryConfig,
    pub site: SiteInfo,
    pub secret: Vec<u8>,
    pub newsletters: Vec<Newsletter>,
    pub renderer: Renderer,
    /// Set on a graceful stop: sending halts, rows claimed but not attempted are handed back at
    /// once (not when their lease runs out), and the messages in flight finish and are recorded.
    pub stopping: Arc<std::sync::atomic::AtomicBool>,
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
    pub bounced: i64,
    pub unsubscribed_after: i64,
}

pub async fn figures(db: &Db, edition: i64) -> Result<Figures, NewsletterError> {
    let mut pc = db.acquire().await?;
    let rows: Vec<(String, i64)> = q_all!(
        pc.conn(),
        (String, i64),
        "SELECT state, COUNT(*) FROM deliveries WHERE edition_id = $1 GROUP BY state",
        edition
    )?;
    let mut f = Figures::default();
    for (state, n) in rows {
        f.recipients += n;
        match state.as_str() {
            "pending" => f.pending = n,
            "sending" => f.sending = n,
            "sent" => f.sent = n,
            "deferred" => f.deferred = n,
            "failed" => f.failed = n,
            _ => f.skipped = n,
        }
    }
    (f.bounced,) = q_one!(
        pc.conn(),
        (i64,),
        "SELECT COUNT(*) FROM deliveries WHERE edition_id = $1 AND state = 'failed' AND last_reply LIKE '5__ 5.1.%'",
        edition
    )?;
    (f.unsubscribed_after,) = q_one!(
        pc.conn(),
        (i64,),
        "SELECT COUNT(DISTINCT ev.subscriber_id) FROM subscriber_events ev \
         JOIN deliveries d ON d.subscriber_id = ev.subscriber_id AND d.edition_id = $1 AND d.state = 'sent' \
         WHERE ev.kind = 'unsubscribed' AND ev.at >= d.done_at",
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

fn hmac_hex(secret: &[u8], msg: &str, bytes: usize) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(msg.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..bytes])
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

/// A subquery yielding the elements of a JSON array bound as parameter `$n`. Lists of ids go in as one
/// JSON parameter rather than spliced into the SQL: one SQL text means one prepared statement, where
/// spliced lists made every claim a new statement for sqlx's per-connection cache to keep (memory
/// grew with the size of the send).
fn json_list(db: &Db, n: usize, int: bool) -> String {
    match (db.dialect(), int) {
        (Dialect::Sqlite, _) => format!("SELECT value FROM json_each(${n})"),
        (Dialect::Postgres, true) => {
            format!("SELECT value::bigint FROM jsonb_array_elements_text(${n}::jsonb)")
        }
        (Dialect::Postgres, false) => {
            format!("SELECT value FROM jsonb_array_elements_text(${n}::jsonb)")
        }
    }
}

fn json_of<T: serde::Serialize>(v: &[T]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// The VERP return path of one message; a later bounce names the edition and reader without a lookup.
pub fn verp(secret: &[u8], bounce_domain: &str, edition: i64, subscriber: i64) -> String {
    let t = format!("{edition}-{subscriber}");
    format!(
        "b+{t}-{}@{bounce_domain}",
        hmac_hex(secret, &format!("verp\0{t}"), 8)
    )
}

/// The same Message-ID every time this edition goes to this reader, so a resent message after a crash
/// is recognisable as a duplicate.
pub fn message_id(secret: &[u8], domain: &str, edition: i64, subscriber: i64) -> String {
    let t = format!("e{edition}.s{subscriber}");
    format!(
        "{t}.{}@{domain}",
        hmac_hex(secret, &format!("message-id\0{t}"), 6)
    )
}

impl Engine {
    fn newsletter(&self, slug: &str) -> Result<&Newsletter, NewsletterError> {
        self.newsletters
            .iter()
            .find(|n| n.slug == slug)
            .ok_or_else(|| NewsletterError::NoNewsletter(slug.to_string()))
    }

    /// Starts every approved or scheduled edition whose time has come.
    pub async fn start_due(&self, now: OffsetDateTime) -> Result<Vec<i64>, NewsletterError> {
        let due: Vec<(i64,)> = {
            let mut pc = self.db.acquire().await?;
            q_all!(
                pc.conn(),
                (i64,),
                "SELECT id FROM editions WHERE (status = 'approved' AND (send_at IS NULL OR send_at <= $1)) \
                 OR (status = 'scheduled' AND send_at <= $1) ORDER BY id",
                now.unix_timestamp()
            )?
        };
        let mut started = Vec::new();
        for (id,) in due {
            match self.begin(id, now).await {
                Ok(true) => started.push(id),
                Ok(false) => {}
                // One edition that cannot start must not hold up the others: it goes back to the
                // editors as a draft, with the reason in the log.
                Err(err) => {
                    tracing::error!(edition = id, error = %err, "edition cannot start; back to draft");
                    let mut pc = self.db.acquire().await?;
                    q_exec!(
                        pc.conn(),
                        "UPDATE editions SET status = 'draft', updated_at = $1 \
                         WHERE id = $2 AND status IN ('approved', 'scheduled')",
                        now.unix_timestamp(),
                        id
                    )?;
                }
            }
        }
        Ok(started)
    }

    /// Renders an edition, freezes its recipients into the ledger and marks it sending, all in one
    /// transaction. `false` when another process got there first.
    pub async fn begin(&self, id: i64, now: OffsetDateTime) -> Result<bool, NewsletterError> {
        let e = editions::get(&self.db, id).await?;
        if !matches!(e.status.as_str(), "approved" | "scheduled") {
            return Ok(false);
        }
        let nl = self.newsletter(&e.newsletter)?;
        let parts = editions::parts(&self.db, &e).await?;
        let mut rendered = Vec::new();
        for p in &parts {
            let has = !p.items.is_empty() || !p.corrections.is_empty();
            rendered.push((has, self.renderer.render(&self.site, &nl.name, &e, p)?));
        }
        // Where each reader language is routed: its own edition, the other one, or nowhere.
        let with_content: Vec<&str> = rendered
            .iter()
            .filter(|(has, _)| *has)
            .map(|(_, r)| r.lang.as_str())
            .collect();
        if with_content.is_empty() {
            return Err(NewsletterError::Invalid(format!(
                "edition {id} has no posts and no corrections in any language: nothing to send"
            )));
        }
        let route = |lang: &str| -> Option<String> {
            if with_content.contains(&lang) {
                Some(lang.to_string())
            } else if nl.fallback == Fallback::Other {
                with_content.first().map(|l| l.to_string())
            } else {
                None
            }
        };
        let now_s = now.unix_timestamp();
        let mut tx = self.db.begin().await?;
        let n = q_exec!(
            tx.conn(),
            "UPDATE editions SET status = 'sending', started_at = $1, updated_at = $1 \
             WHERE id = $2 AND status IN ('approved', 'scheduled')",
            now_s,
            id
        )?;
        if n == 0 {
            return Ok(false);
        }
        for (_, r) in &rendered {
            q_exec!(
                tx.conn(),
                "UPDATE edition_langs SET html = $1, text = $2 WHERE edition_id = $3 AND lang = $4",
                &r.html,
                &r.text,
                id,
                &r.lang
            )?;
        }
        let mut frozen = 0;
        for reader_lang in jarida_content::LANGS {
            let Some(target) = route(reader_lang) else {
                continue;
            };
            frozen += q_exec!(
                tx.conn(),
                "INSERT INTO deliveries (edition_id, subscriber_id, lang, state) \
                 SELECT $1, s.id, $2, 'pending' FROM subscribers s \
                 JOIN subscriber_newsletters sn ON sn.subscriber_id = s.id AND sn.newsletter_id = $3 \
                 WHERE s.status = 'active' AND s.lang = $4",
                id,
                &target,
                e.newsletter_id,
                reader_lang.to_string()
            )?;
        }
        // The web version of the edition goes live with it.
        jarida_content::repo::bump_version(tx.conn()).await?;
        tx.commit().await?;
        tracing::info!(edition = id, recipients = frozen, "edition sending");
        Ok(true)
    }

    /// Puts rows whose worker died (lease ran out) back in the queue.
    pub async fn reclaim(&self, now: OffsetDateTime) -> Result<u64, NewsletterError> {
        let mut pc = self.db.acquire().await?;
        let n = q_exec!(
            pc.conn(),
            // Only open editions: the index on (edition_id, state) then spares a scan of every
            // delivery ever made.
            "UPDATE deliveries SET lease_until = NULL, claimed_by = NULL, state = CASE WHEN \
             (SELECT status FROM editions WHERE editions.id = deliveries.edition_id) = 'cancelled' \
             THEN 'skipped' ELSE 'pending' END \
             WHERE edition_id IN (SELECT id FROM editions WHERE status IN ('sending', 'paused', 'cancelled')) \
             AND state = 'sending' AND lease_until < $1",
            now.unix_timestamp()
        )?;
        if n > 0 {
            tracing::warn!(rows = n, "reclaimed deliveries left by a stopped worker");
        }
        Ok(n)
    }

    /// Claims up to `batch` due rows of a sending edition, in index order: an `ORDER BY` would sort
    /// every open row of the edition on each claim, quadratic over a send. Rows of readers who may no longer be
    /// mailed (unsubscribed, bounced, erased, suppressed, left this newsletter) are skipped here, at
    /// send time.
    async fn claim(
        &self,
        e: &Edition,
        now: i64,
        batch: usize,
        worker: &str,
    ) -> Result<Vec<Job>, NewsletterError> {
        let lock = match self.db.dialect() {
            Dialect::Postgres => " FOR UPDATE OF d SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "SELECT d.subscriber_id, d.lang, d.attempts, d.first_try_at, s.email, s.name, s.status, \
             sn.subscriber_id AS member FROM deliveries d \
             LEFT JOIN subscribers s ON s.id = d.subscriber_id \
             LEFT JOIN subscriber_newsletters sn ON sn.subscriber_id = d.subscriber_id AND sn.newsletter_id = $2 \
             WHERE d.edition_id = $1 AND d.state IN ('pending', 'deferred') AND d.next_try_at <= $3 \
             LIMIT $4{lock}"
        );
        let mut tx = self.db.begin().await?;
        let (status,): (String,) = q_one!(
            tx.conn(),
            (String,),
            "SELECT status FROM editions WHERE id = $1",
            e.id
        )?;
        if status != "sending" {
            return Ok(Vec::new());
        }
        let rows: Vec<Claimed> = q_all!(
            tx.conn(),
            Claimed,
            jarida_store::sqlx::AssertSqlSafe(sql),
            e.id,
            e.newsletter_id,
            now,
            batch as i64
        )?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let hashes: Vec<String> = rows
            .iter()
            .filter_map(|r| r.email.as_deref())
            .map(jarida_audience::email::fingerprint)
            .collect();
        let suppressed: std::collections::HashSet<String> = if hashes.is_empty() {
            Default::default()
        } else {
            let v: Vec<(String,)> = q_all!(
                tx.conn(),
                (String,),
                jarida_store::sqlx::AssertSqlSafe(format!(
                    "SELECT email_sha256 FROM suppressions WHERE email_sha256 IN ({})",
                    json_list(&self.db, 1, false)
                )),
                json_of(&hashes)
            )?;
            v.into_iter().map(|(h,)| h).collect()
        };
        let mut jobs = Vec::new();
        let mut skipped: Vec<(i64, &'static str)> = Vec::new();
        for r in rows {
            let why = match (&r.email, r.status.as_deref(), r.member) {
                (None, _, _) => Some("reader erased"),
                (Some(_), Some(s), _) if s != "active" => Some(match s {
                    "unsubscribed" => "reader unsubscribed",
                    "bounced" => "reader bounced",
                    "complained" => "reader complained",
                    _ => "reader not active",
                }),
                (Some(_), _, None) => Some("reader left this newsletter"),
                (Some(m), _, _) if suppressed.contains(&jarida_audience::email::fingerprint(m)) => {
                    Some("address suppressed")
                }
                _ => None,
            };
            match why {
                Some(w) => skipped.push((r.subscriber_id, w)),
                None => {
                    let email = r.email.clone().unwrap_or_default();
                    jobs.push(Job { row: r, email });
                }
            }
        }
        for (sid, why) in &skipped {
            q_exec!(
                tx.conn(),
                "UPDATE deliveries SET state = 'skipped', last_reply = $1, done_at = $2, lease_until = NULL \
                 WHERE edition_id = $3 AND subscriber_id = $4",
                *why,
                now,
                e.id,
                *sid
            )?;
        }
        if !jobs.is_empty() {
            let ids: Vec<i64> = jobs.iter().map(|j| j.row.subscriber_id).collect();
            q_exec!(
                tx.conn(),
                jarida_store::sqlx::AssertSqlSafe(format!(
                    "UPDATE deliveries SET state = 'sending', lease_until = $1, attempts = attempts + 1, \
                     first_try_at = COALESCE(first_try_at, $2), claimed_by = $5 \
                     WHERE edition_id = $3 AND subscriber_id IN ({})",
                    json_list(&self.db, 4, true)
                )),
                now + self.cfg.lease.as_secs() as i64,
                now,
                e.id,
                json_of(&ids),
                worker
            )?;
        }
        tx.commit().await?;
        for j in &mut jobs {
            j.row.attempts += 1;
            j.row.first_try_at.get_or_insert(now);
        }
        Ok(jobs)
    }

    /// Writes the outcomes of a batch.
    async fn record(
        &self,
        e: &Edition,
        outcomes: &[Outcome],
        worker: &str,
    ) -> Result<(), NewsletterError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut tx = self.db.begin().await?;
        let sent: Vec<i64> = outcomes
            .iter()
            .filter(|o| o.result.is_ok())
            .map(|o| o.subscriber_id)
            .collect();
        if !sent.is_empty() {
            q_exec!(
                tx.conn(),
                jarida_store::sqlx::AssertSqlSafe(format!(
                    "UPDATE deliveries SET state = 'sent', done_at = $1, lease_until = NULL, last_reply = NULL \
                     WHERE edition_id = $2 AND state = 'sending' AND claimed_by = $4 AND subscriber_id IN ({})",
                    json_list(&self.db, 3, true)
                )),
                now,
                e.id,
                json_of(&sent),
                worker
            )?;
        }
        for o in outcomes {
            let Err(err) = &o.result else { continue };
            let reply = err.reply();
            let horizon = self.cfg.retry_horizon.as_secs() as i64;
            // (state, next try, done at, reply kept)
            let (state, next, done, kept) = if err.is_transient() {
                let exp = (o.attempts - 1).clamp(0, 20) as i32;
                let delay = (self.cfg.retry_base.as_secs_f64() * 2f64.powi(exp)).ceil() as i64;
                let next = now + delay.max(1);
                if next - o.first_try_at > horizon {
                    let gave_up = format!("gave up after {} attempts: {reply}", o.attempts);
                    ("failed", None, Some(now), gave_up)
                } else {
                    ("deferred", Some(next), None, reply.clone())
                }
            } else {
                ("failed", None, Some(now), reply.clone())
            };
            q_exec!(
                tx.conn(),
                "UPDATE deliveries SET state = $1, next_try_at = COALESCE($2, next_try_at), done_at = $3, \
                 lease_until = NULL, last_reply = $4 \
                 WHERE edition_id = $5 AND subscriber_id = $6 AND state = 'sending' AND claimed_by = $7",
                state,
                next,
                done,
                &kept,
                e.id,
                o.subscriber_id,
                worker
            )?;
            if let SendError::Rejected { enhanced, .. } = err
                && enhanced[0] == 5
                && enhanced[1] == 1
                // Bad address, bad system, bad syntax, moved, null MX: the address itself.
                && matches!(enhanced[2], 1 | 2 | 3 | 6 | 10)
            {
                jarida_audience::subscribers::mark_bounced(&mut tx, o.subscriber_id, &reply, now)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Extends the leases of the rows this worker still holds, so that a slow relay cannot make them
    /// look abandoned to the other workers.
    async fn renew(&self, edition: i64, worker: &str) -> Result<u64, NewsletterError> {
        let mut pc = self.db.acquire().await?;
        let until = OffsetDateTime::now_utc().unix_timestamp() + self.cfg.lease.as_secs() as i64;
        Ok(q_exec!(
            pc.conn(),
            "UPDATE deliveries SET lease_until = $1 \
             WHERE edition_id = $2 AND state = 'sending' AND claimed_by = $3",
            until,
            edition,
            worker
        )?)
    }

    /// Gives back rows claimed but not attempted (the edition was paused or cancelled meanwhile).
    async fn release(
        &self,
        edition: i64,
        ids: &[i64],
        worker: &str,
    ) -> Result<(), NewsletterError> {
        let mut tx = self.db.begin().await?;
        q_exec!(
            tx.conn(),
            jarida_store::sqlx::AssertSqlSafe(format!(
                "UPDATE deliveries SET state = CASE WHEN (SELECT status FROM editions WHERE id = $1) = 'cancelled' \
                 THEN 'skipped' ELSE 'pending' END, lease_until = NULL, attempts = attempts - 1 \
                 WHERE edition_id = $1 AND state = 'sending' AND claimed_by = $3 AND subscriber_id IN ({})",
                json_list(&self.db, 2, true)
            )),
            edition,
            json_of(ids),
            worker
        )?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks the edition sent when nothing is left open. `true` when it is finished.
    async fn finish_if_done(&self, id: i64) -> Result<bool, NewsletterError> {
        let mut tx = self.db.begin().await?;
        let (open,): (i64,) = q_one!(
            tx.conn(),
            (i64,),
            "SELECT COUNT(*) FROM deliveries WHERE edition_id = $1 AND state IN ('pending', 'sending', 'deferred')",
            id
        )?;
        if open > 0 {
            return Ok(false);
        }
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let n = q_exec!(
            tx.conn(),
            "UPDATE editions SET status = 'sent', finished_at = $1, updated_at = $1 WHERE id = $2 AND status = 'sending'",
            now,
            id
        )?;
        tx.commit().await?;
        if n > 0 {
            tracing::info!(edition = id, "edition sent");
        }
        Ok(true)
    }

    fn builder(
        &self,
        e: &Edition,
        nl: &Newsletter,
        prepared: Arc<HashMap<String, Prepared>>,
    ) -> Builder {
        Builder {
            edition_id: e.id,
            edition_number: e.number,
            nl: nl.clone(),
            prepared,
            secret: self.secret.clone(),
            site: self.site.clone(),
            bounce_domain: self.cfg.bounce_domain.clone(),
            dkim: self.cfg.dkim.clone(),
        }
    }

    fn prepare(langs: &[(String, String, String, String)]) -> HashMap<String, Prepared> {
        langs
            .iter()
            .map(|(lang, subject, html, text)| {
                let mut subject_header = Vec::new();
                bulk::text_header(&mut subject_header, "Subject", subject);
                (
                    lang.clone(),
                    Prepared {
                        subject_header,
                        body: BulkBody::new(text, html, SLOTS),
                    },
                )
            })
            .collect()
    }

    /// The message a made-up reader (`reader@example.org`, id 0) would receive: what editors
    /// inspect and what the send benchmark sizes its baseline by. Renders from the current content.
    pub async fn sample_message(&self, id: i64, lang: &str) -> Result<Vec<u8>, NewsletterError> {
        let e = editions::get(&self.db, id).await?;
        let nl = self.newsletter(&e.newsletter)?.clone();
        let parts = editions::parts(&self.db, &e).await?;
        let part = parts.iter().find(|p| p.lang == lang).ok_or_else(|| {
            NewsletterError::Invalid(format!("edition {id} has no language {lang:?}"))
        })?;
        let r = self.renderer.render(&self.site, &nl.name, &e, part)?;
        let prepared = Self::prepare(&[(r.lang.clone(), r.subject, r.html, r.text)]);
        let job = Job {
            row: Claimed {
                subscriber_id: 0,
                lang: lang.to_string(),
                attempts: 0,
                first_try_at: None,
                email: Some("reader@example.org".into()),
                name: Some("Reader".into()),
                status: Some("active".into()),
                member: Some(0),
            },
            email: "reader@example.org".into(),
        };
        self.builder(&e, &nl, Arc::new(prepared)).build(&job)
    }

    /// Works until `stop` turns true: starts due editions, reclaims dead workers' rows and sends.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() || self.is_stopping() {
                return;
            }
            let busy = match self.tick().await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "delivery");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    _ = tokio::time::sleep(self.cfg.poll) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// One round of work; `true` when something was sent (so look again at once).
    pub async fn tick(&self) -> Result<bool, NewsletterError> {
        let now = OffsetDateTime::now_utc();
        self.start_due(now).await?;
        self.reclaim(now).await?;
        let sending = editions::list(&self.db, Some("sending")).await?;
        let mut busy = false;
        for e in sending {
            if self.send_edition(&e, None).await? > 0 {
                busy = true;
            }
        }
        Ok(busy)
    }

    /// Sends claimable rows of one edition until none is due (or `limit` messages went out); returns
    /// how many rows were handled.
    pub async fn send_edition(
        &self,
        e: &Edition,
        progress: Option<&(dyn Fn(&Figures) + Sync)>,
    ) -> Result<u64, NewsletterError> {
        let nl = self.newsletter(&e.newsletter)?.clone();
        let langs: Vec<(String, String, String, String)> = {
            let mut pc = self.db.acquire().await?;
            let v: Vec<(String, String, Option<String>, Option<String>)> = q_all!(
                pc.conn(),
                (String, String, Option<String>, Option<String>),
                "SELECT lang, subject, html, text FROM edition_langs WHERE edition_id = $1",
                e.id
            )?;
            v.into_iter()
                .filter_map(|(l, s, h, t)| Some((l, s, h?, t?)))
                .collect()
        };
        let prepared = Arc::new(Self::prepare(&langs));
        let pool = Arc::new(Pool::new(&self.cfg));
        // Claimed rows wait in the queue at most two batches deep; with a rate limit a batch is a
        // quarter of what the lease allows, so no row can outlive its lease while queued.
        let batch = match self.cfg.rate_per_second {
            0 => self.cfg.batch,
            r => self
                .cfg
                .batch
                .min((u64::from(r) * self.cfg.lease.as_secs() / 4).max(1) as usize),
        };
        let builder = Arc::new(self.builder(e, &nl, prepared));
        let (job_tx, job_rx) = mpsc::channel::<Job>(batch);
        // Bounded: if the database falls behind, senders wait instead of outcomes piling up in memory.
        let (otx, orx) = mpsc::channel(512);
        // A pause or cancel takes effect within half a second.
        let halt = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let halted = || halt.load(std::sync::atomic::Ordering::Relaxed);
        let worker = format!("{:016x}", rand_u64());
        let watch = async {
            let mut renewed = Instant::now();
            let mut polled = Instant::now();
            loop {
                if self.is_stopping() {
                    halt.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                if self.is_stopping() {
                    halt.store(true, std::sync::atomic::Ordering::Relaxed);
                    continue;
                }
                if polled.elapsed() < Duration::from_millis(500) {
                    continue;
                }
                polled = Instant::now();
                if let Ok(cur) = editions::get(&self.db, e.id).await
                    && cur.status != "sending"
                {
                    halt.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                if renewed.elapsed() >= self.cfg.lease / 3 {
                    if let Err(err) = self.renew(e.id, &worker).await {
                        tracing::warn!(error = %err, "renewing delivery leases");
                    }
                    renewed = Instant::now();
                }
            }
        };
        // The next batch is claimed while the previous one is being sent: no gap between batches.
        let holder = worker.as_str();
        let claimer = async move {
            let mut handled = 0u64;
            let mut last_progress = Instant::now();
            while !halted() {
                let jobs = self
                    .claim(e, OffsetDateTime::now_utc().unix_timestamp(), batch, holder)
                    .await?;
                if jobs.is_empty() {
                    break;
                }
                handled += jobs.len() as u64;
                for j in jobs {
                    if job_tx.send(j).await.is_err() {
                        break;
                    }
                }
                if let Some(p) = progress
                    && last_progress.elapsed() >= Duration::from_millis(500)
                {
                    p(&figures(&self.db, e.id).await?);
                    last_progress = Instant::now();
                }
            }
            Ok::<u64, NewsletterError>(handled)
        };
        let work = async {
            tokio::join!(
                claimer,
                pool.send_all(e.id, job_rx, builder, otx, halt.clone()),
                async {
                    // If outcomes cannot be written, stop sending: what goes out unrecorded would
                    // only be sent again once its lease ran out.
                    let r = self.recorder(e, orx, holder).await;
                    if r.is_err() {
                        halt.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    r
                }
            )
        };
        let (handled, unsent, recorded) = tokio::select! {
            r = work => r,
            _ = watch => unreachable!("the watch loops forever"),
        };
        if !unsent.is_empty() {
            self.release(e.id, &unsent, &worker).await?;
        }
        recorded?;
        let handled = handled?;
        pool.close().await;
        self.finish_if_done(e.id).await?;
        Ok(handled)
    }

    /// Writes outcomes as they arrive, at least every 100 ms: what a crash can repeat is bounded by
    /// the messages accepted since the last write, not by the batch.
    async fn recorder(
        &self,
        e: &Edition,
        mut rx: mpsc::Receiver<Outcome>,
        worker: &str,
    ) -> Result<(), NewsletterError> {
        const EVERY: Duration = Duration::from_millis(100);
        let mut buf = Vec::new();
        let mut last = Instant::now();
        loop {
            let wait = EVERY.saturating_sub(last.elapsed());
            let closed = match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(o)) => {
                    buf.push(o);
                    false
                }
                Ok(None) => true,
                Err(_) => false,
            };
            if closed || buf.len() >= 64 || last.elapsed() >= EVERY {
                if !buf.is_empty() {
                    self.record(e, &buf, worker).await?;
                    buf.clear();
                }
                last = Instant::now();
            }
            if closed {
                return Ok(());
            }
        }
    }
}

/// Everything needed to build one reader's message, owned so that sender tasks can share it.
struct Builder {
    edition_id: i64,
    edition_number: i64,
    nl: Newsletter,
    prepared: Arc<HashMap<String, Prepared>>,
    secret: Vec<u8>,
    site: SiteInfo,
    bounce_domain: String,
    dkim: Option<Arc<DkimSigner>>,
}

impl Builder {
    fn envelope(&self, subscriber: i64) -> String {
        verp(
            &self.secret,
            &self.bounce_domain,
            self.edition_id,
            subscriber,
        )
    }

    /// Builds the message of one reader: headers, the spliced body, then the DKIM signature.
    fn build(&self, job: &Job) -> Result<Vec<u8>, NewsletterError> {
        let nl = &self.nl;
        let p = self.prepared.get(&job.row.lang).ok_or_else(|| {
            NewsletterError::Render(format!(
                "edition has no rendering for language {}",
                job.row.lang
            ))
        })?;
        let sid = job.row.subscriber_id;
        let token = jarida_audience::subscribers::link_token(&self.secret, sid, &job.email);
        let unsubscribe = self.site.abs(&format!("/newsletter/unsubscribe/{token}"));
        let manage = self
            .site
            .abs(&format!("/{}/newsletter/manage/{token}", job.row.lang));
        let from_domain = nl.from_address.rsplit('@').next().unwrap_or("localhost");
        let mut m = Vec::with_capacity(p.body.len_hint() + 1024);
        bulk::address_header(&mut m, "From", &nl.from_name, &nl.from_address);
        if let Some(r) = &nl.reply_to {
            bulk::address_header(&mut m, "Reply-To", "", r);
        }
        bulk::address_header(
            &mut m,
            "To",
            job.row.name.as_deref().unwrap_or(""),
            &job.email,
        );
        m.extend_from_slice(&p.subject_header);
        let date = OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default();
        bulk::raw_header(&mut m, "Date", &date);
        bulk::raw_header(
            &mut m,
            "Message-ID",
            &format!(
                "<{}>",
                message_id(&self.secret, from_domain, self.edition_id, sid)
            ),
        );
        bulk::raw_header(&mut m, "MIME-Version", "1.0");
        bulk::raw_header(
            &mut m,
            "List-Id",
            &format!("{} <{}.{from_domain}>", ascii_phrase(&nl.name), nl.slug),
        );
        bulk::raw_header(
            &mut m,
            "List-Unsubscribe",
            // Only the https one-click target: nothing reads mail sent to the bounce domain yet, and
            // advertising an address that goes unread would lose those unsubscribes.
            &format!("<{unsubscribe}>"),
        );
        bulk::raw_header(
            &mut m,
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click",
        );
        bulk::raw_header(
            &mut m,
            "Feedback-ID",
            &format!(
                "{}:{}:{}:jarida",
                self.edition_number, nl.slug, job.row.lang
            ),
        );
        bulk::raw_header(&mut m, "Content-Type", &p.body.content_type());
        m.extend_from_slice(b"\r\n");
        let mut values = [""; SLOTS];
        values[SLOT_UNSUBSCRIBE] = &unsubscribe;
        values[SLOT_MANAGE] = &manage;
        p.body.render(&values, &mut m);
        match &self.dkim {
            Some(s) => s
                .sign(&m, OffsetDateTime::now_utc().unix_timestamp())
                .map_err(|e| NewsletterError::Render(format!("DKIM: {e}"))),
            None => Ok(m),
        }
    }
}

/// A display name fit for `List-Id` (ASCII phrase); non-ASCII names fall back to the slug's owner.
fn ascii_phrase(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ' || *c == '-')
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "Newsletter".into()
    } else {
        format!("\"{clean}\"")
    }
}

/// Where messages go: SMTP connections shared by concurrent senders, or the outbox folder.
struct Pool {
    relays: Vec<RelayConfig>,
    outbox: PathBuf,
    conns: Vec<tokio::sync::Mutex<Option<Connection>>>,
    /// Which relay each connection slot belongs to.
    slot_relay: Vec<usize>,
    per_domain: usize,
    /// Consecutive transient failures per relay: a relay that defers or drops messages is given a
    /// growing pause between messages, so the healthy relays of the pool carry the work.
    strikes: Vec<std::sync::atomic::AtomicU32>,
    domains: Mutex<HashMap<String, Arc<Semaphore>>>,
    pace: Option<Mutex<(Instant, Duration)>>,
}

impl Pool {
    fn new(cfg: &DeliveryConfig) -> Pool {
        let mut slot_relay = Vec::new();
        for (i, r) in cfg.relays.iter().enumerate() {
            for _ in 0..r.max_connections.max(1) {
                slot_relay.push(i);
            }
        }
        Pool {
            relays: cfg.relays.clone(),
            outbox: cfg.outbox_dir.clone(),
            conns: slot_relay
                .iter()
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
            slot_relay,
            strikes: cfg
                .relays
                .iter()
                .map(|_| std::sync::atomic::AtomicU32::new(0))
                .collect(),
            per_domain: cfg.per_domain.max(1),
            domains: Mutex::new(HashMap::new()),
            pace: (cfg.rate_per_second > 0).then(|| {
                Mutex::new((
                    Instant::now(),
                    Duration::from_secs_f64(1.0 / f64::from(cfg.rate_per_second)),
                ))
            }),
        }
    }

    /// Waits for this message's turn under the messages-per-second limit.
    async fn pace(&self) {
        let Some(p) = &self.pace else { return };
        let at = {
            let mut g = p.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let at = g.0.max(now);
            g.0 = at + g.1;
            at
        };
        tokio::time::sleep_until(at.into()).await;
    }

    fn domain_gate(&self, email: &str) -> Arc<Semaphore> {
        let domain = email.rsplit('@').next().unwrap_or("").to_string();
        let mut g = self.domains.lock().unwrap_or_else(|e| e.into_inner());
        g.entry(domain)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_domain)))
            .clone()
    }

    /// Sends what comes through `jobs` until it closes; returns the rows left unattempted when
    /// halted.
    async fn send_all(
        self: &Arc<Self>,
        edition: i64,
        jobs: mpsc::Receiver<Job>,
        builder: Arc<Builder>,
        out: mpsc::Sender<Outcome>,
        halt: Arc<std::sync::atomic::AtomicBool>,
    ) -> Vec<i64> {
        let halted = || halt.load(std::sync::atomic::Ordering::Relaxed);
        let mut jobs = jobs;
        let mut unsent = Vec::new();
        if self.relays.is_empty() {
            let dir = self.outbox.join(format!("edition-{edition}"));
            let made = tokio::fs::create_dir_all(&dir).await;
            while let Some(j) = jobs.recv().await {
                if halted() {
                    unsent.push(j.row.subscriber_id);
                    continue;
                }
                let r = match (&made, builder.build(&j)) {
                    (Err(e), _) => Err(SendError::Connection(format!("outbox: {e}"))),
                    (Ok(()), Ok(b)) => write_eml(&dir, j.row.subscriber_id, &b)
                        .await
                        .map_err(|e| SendError::Connection(format!("outbox: {e}"))),
                    (Ok(()), Err(e)) => Err(SendError::Local(e.to_string())),
                };
                if out.send(outcome(&j, r)).await.is_err() {
                    break;
                }
            }
            return unsent;
        }
        // One task per connection, taking messages from the shared queue. Each builds (and signs) the
        // message it is about to send, and the next one while the relay answers, so at most two
        // messages per connection are in memory and the CPU work spreads over the runtime's threads
        // while connections wait on the network.
        let rx = Arc::new(tokio::sync::Mutex::new(jobs));
        let mut set = tokio::task::JoinSet::new();
        for slot in 0..self.conns.len() {
            let (pool, rx, builder, out, halt) = (
                self.clone(),
                rx.clone(),
                builder.clone(),
                out.clone(),
                halt.clone(),
            );
            set.spawn(async move { pool.sender(slot, &rx, &builder, &out, &halt).await });
        }
        while let Some(held) = set.join_next().await {
            unsent.extend(held.unwrap_or_default());
        }
        // What the senders left in the queue when halted; the claimer stops soon after.
        let mut rx = rx.lock().await;
        while let Some(j) = rx.recv().await {
            unsent.push(j.row.subscriber_id);
        }
        unsent
    }

    /// Sends messages from the queue over connection `slot` until the queue closes or sending is
    /// halted; returns the rows it took but did not attempt.
    async fn sender(
        &self,
        slot: usize,
        rx: &tokio::sync::Mutex<mpsc::Receiver<Job>>,
        builder: &Builder,
        out: &mpsc::Sender<Outcome>,
        halt: &std::sync::atomic::AtomicBool,
    ) -> Vec<i64> {
        let relay = self.slot_relay[slot];
        let halted = || halt.load(std::sync::atomic::Ordering::Relaxed);
        let held = |jobs: &[Option<&Job>]| -> Vec<i64> {
            jobs.iter().flatten().map(|j| j.row.subscriber_id).collect()
        };
        // The next message, built (and signed) while the current one waits for the relay's replies.
        let mut next: Option<(Job, Result<Vec<u8>, NewsletterError>)> = None;
        loop {
            if halted() {
                return held(&[next.as_ref().map(|(j, _)| j)]);
            }
            let (j, built) = match next.take() {
                Some(n) => n,
                None => {
                    let Some(j) = rx.lock().await.recv().await else {
                        return Vec::new();
                    };
                    let b = builder.build(&j);
                    (j, b)
                }
            };
            // The pause comes after taking a message, so an empty queue ends the batch now.
            let strikes = self.strikes[relay].load(std::sync::atomic::Ordering::Relaxed);
            if strikes > 0 {
                let pause = Duration::from_millis(100 << strikes.min(6));
                tokio::time::sleep(pause).await;
            }
            let r = match built {
                Ok(b) => {
                    let gate = self.domain_gate(&j.email);
                    let _permit = gate.acquire().await;
                    self.pace().await;
                    // A pause or cancel that came while this message waited for its turn.
                    if halted() {
                        return held(&[Some(&j)]);
                    }
                    let envelope = builder.envelope(j.row.subscriber_id);
                    let send = self.send_one(slot, &envelope, &j.email, &b);
                    // Only a message already waiting in the queue: waiting for one here would hold
                    // back this message's outcome.
                    let prepare = async {
                        let j = rx.try_lock().ok()?.try_recv().ok()?;
                        let b = builder.build(&j);
                        Some((j, b))
                    };
                    // `biased`: the send goes first, writes its message and waits on the network;
                    // building the next one then fills that wait instead of adding to it.
                    let (r, prepared) = tokio::join!(biased; send, prepare);
                    next = prepared;
                    r
                }
                Err(e) => {
                    tracing::error!(error = %e, "building a message");
                    Err(SendError::Local(e.to_string()))
                }
            };
            match &r {
                Ok(()) => self.strikes[relay].store(0, std::sync::atomic::Ordering::Relaxed),
                // Our own failures say nothing about the relay.
                Err(SendError::Local(_)) => {}
                Err(e) if e.is_transient() => {
                    self.strikes[relay].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(_) => {}
            }
            // The recorder is gone (it failed): stop rather than send what cannot be recorded.
            if out.send(outcome(&j, r)).await.is_err() {
                return held(&[next.as_ref().map(|(j, _)| j)]);
            }
        }
    }

    async fn send_one(
        &self,
        slot: usize,
        from: &str,
        to: &str,
        bytes: &[u8],
    ) -> Result<(), SendError> {
        let mut guard = self.conns[slot].lock().await;
        if guard.is_none() {
            let relay = &self.relays[self.slot_relay[slot]];
            *guard = Some(Connection::open(&relay.smtp).await?);
        }
        let Some(c) = guard.as_mut() else {
            return Err(SendError::Connection("no connection".into()));
        };
        let r = c.send(from, to, bytes).await;
        if let Err(e) = &r {
            tracing::debug!(to = %jarida_mail::addr_hash(to), error = %jarida_mail::redact_addresses(&e.to_string()), "relay refused or failed");
        }
        if matches!(r, Err(SendError::Connection(_))) || !c.usable() {
            *guard = None;
        }
        r
    }

    async fn close(&self) {
        for c in &self.conns {
            if let Some(c) = c.lock().await.take() {
                c.close().await;
            }
        }
    }
}

fn outcome(j: &Job, result: Result<(), SendError>) -> Outcome {
    Outcome {
        subscriber_id: j.row.subscriber_id,
        attempts: j.row.attempts,
        first_try_at: j.row.first_try_at.unwrap_or(0),
        result,
    }
}

/// One `.eml` per reader with a fixed name: writing it again after a crash replaces, never doubles.
async fn write_eml(dir: &std::path::Path, subscriber: i64, bytes: &[u8]) -> std::io::Result<()> {
    let path = dir.join(format!("{subscriber}.eml"));
    let tmp = dir.join(format!(".{subscriber}.eml.tmp"));
    // A full disk leaves no partial file behind: the row is deferred and written whole later.
    let written = match jarida_mail::write_private(&tmp, bytes).await {
        Ok(()) => tokio::fs::rename(&tmp, &path).await,
        Err(e) => Err(e),
    };
    if written.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    written
}
