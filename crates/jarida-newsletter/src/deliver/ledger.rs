//! The delivery ledger (`deliveries`): freezing an edition's recipients, claims with leases,
//! outcomes, renewals, hand-backs and reclaiming a dead worker's rows. All of its SQL is here: the
//! claim's statements are built by the store's lease helper from the table's shape ([`LEDGER`]), and
//! what reads readers comes from the audience crate as text to embed.

use super::*;

use jarida_audience::recipients;
use jarida_store::{Due, LeaseQueue, List, Returned};

/// The ledger as the store's lease helper sees it: one part per edition; a claimed row is
/// `sending` until its lease ends, and goes back to `pending` (`skipped` once the edition is
/// cancelled) when given back or when its worker died.
const LEDGER: LeaseQueue = LeaseQueue {
    table: "deliveries",
    alias: "d",
    key: "subscriber_id",
    partition: Some("edition_id"),
    lease_end: "lease_until",
    holder: "claimed_by",
    leased: "state = 'sending'",
    on_claim: ", state = 'sending', first_try_at = COALESCE(first_try_at, $3)",
    returned: Returned::Set(
        "lease_until = NULL, state = CASE WHEN (SELECT status FROM editions \
         WHERE editions.id = deliveries.edition_id) = 'cancelled' THEN 'skipped' ELSE 'pending' END",
    ),
};

impl Engine {
    /// Starts every approved or scheduled edition whose time has come.
    pub async fn start_due(&self, now: OffsetDateTime) -> Result<Vec<EditionId>, NewsletterError> {
        let due: Vec<(EditionId,)> = {
            let mut pc = self.db.acquire().await?;
            q_all!(
                pc.conn(),
                (EditionId,),
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
                    tracing::error!(edition = %id, error = %err, "edition cannot start; back to draft");
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
    pub async fn begin(&self, id: EditionId, now: OffsetDateTime) -> Result<bool, NewsletterError> {
        let e = editions::get(&self.db, id).await?;
        if !matches!(
            e.status,
            editions::EditionStatus::Approved | editions::EditionStatus::Scheduled
        ) {
            return Ok(false);
        }
        let nl = self.newsletter(&e.newsletter)?;
        let site = self.site.get();
        let parts = editions::parts(&self.db, &e).await?;
        let mut rendered = Vec::new();
        for p in &parts {
            let has = !p.items.is_empty() || !p.corrections.is_empty();
            rendered.push((has, self.renderer.render(&site, &nl.name, &e, p)?));
        }
        // Where each reader language is routed: its own edition, the other one, or nowhere.
        let with_content: Vec<&str> = rendered
            .iter()
            .filter(|(has, _)| *has)
            .map(|(_, r)| r.lang.code())
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
        // One statement per language whatever the number of readers; the audience crate writes
        // the part that reads its tables. A segment narrows it to the readers its filter matches
        // now (its values follow the four fixed ones).
        let mut enrol = format!(
            "INSERT INTO deliveries (edition_id, subscriber_id, lang, state) \
             SELECT $1, r.id, $2, 'pending' FROM ({}) r",
            recipients::active_readers_sql(3)
        );
        let mut narrowed = Vec::new();
        if let Some(sid) = e.segment_id {
            let seg = jarida_audience::segments::get(tx.conn(), sid)
                .await?
                .ok_or_else(|| {
                    NewsletterError::Invalid(format!(
                        "edition {id} is limited to segment {sid}, which no longer exists"
                    ))
                })?;
            let (sql, args) = jarida_audience::segments::readers_sql(&seg, tx.conn().dialect(), 5);
            enrol.push_str(&format!(" WHERE r.id IN ({sql})"));
            narrowed = args;
        }
        for reader_lang in jarida_content::LANGS {
            let Some(target) = route(reader_lang) else {
                continue;
            };
            use jarida_store::dynamic::{Arg, execute};
            let mut args = vec![
                Arg::Int(id.0),
                Arg::Text(target.clone()),
                Arg::Int(e.newsletter_id),
                Arg::Text(reader_lang.to_string()),
            ];
            args.extend(narrowed.iter().cloned());
            frozen += execute(tx.conn(), &enrol, &args).await?;
        }
        // The web version of the edition goes live with it.
        jarida_content::repo::bump_version(tx.conn()).await?;
        tx.commit().await?;
        tracing::info!(edition = %id, recipients = frozen, "edition sending");
        Ok(true)
    }

    /// Puts rows whose worker died (lease ran out) back in the queue.
    pub async fn reclaim(&self, now: OffsetDateTime) -> Result<u64, NewsletterError> {
        let mut pc = self.db.acquire().await?;
        let n = LEDGER
            .reclaim(
                pc.conn(),
                now.unix_timestamp(),
                // Only open editions: the index on (edition_id, state) then spares a scan of every
                // delivery ever made.
                "SELECT id FROM editions WHERE status IN ('sending', 'paused', 'cancelled')",
            )
            .await?;
        if n > 0 {
            tracing::warn!(rows = n, "reclaimed deliveries left by a stopped worker");
        }
        Ok(n)
    }

    /// Claims up to `batch` due rows of a sending edition, in index order: an `ORDER BY` would sort
    /// every open row of the edition on each claim, quadratic over a send. Rows of readers who may no longer be
    /// mailed (unsubscribed, bounced, erased, suppressed, left this newsletter) are skipped here, at
    /// send time.
    pub(super) async fn claim(
        &self,
        e: &Edition,
        now: i64,
        batch: usize,
        worker: &str,
    ) -> Result<Vec<Job>, NewsletterError> {
        // One statement locks the rows and reads their readers: the audience crate writes the part
        // that reads its tables (placeholder $4 is the newsletter).
        let reader = recipients::reader_sql("d.subscriber_id", 4);
        let columns = format!(
            "d.subscriber_id, d.lang, d.attempts, d.first_try_at, {}",
            reader.columns
        );
        let due = Due {
            columns: &columns,
            joins: &reader.joins,
            condition: "d.state IN ('pending', 'deferred') AND d.next_try_at <= $1",
            order: "",
        };
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
        let rows: Vec<Claimed> = LEDGER
            .select_due(
                tx.conn(),
                &due,
                now,
                batch as i64,
                Some(e.id.0),
                &[e.newsletter_id],
            )
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let addresses: Vec<&str> = rows.iter().filter_map(|r| r.email.as_deref()).collect();
        let suppressed = recipients::suppressed(tx.conn(), &addresses).await?;
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
                (Some(m), _, _) if suppressed.contains(m) => Some("address suppressed"),
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
        let ids: Vec<i64> = jobs.iter().map(|j| j.row.subscriber_id).collect();
        LEDGER
            .lease(
                tx.conn(),
                Some(e.id.0),
                &ids,
                worker,
                now + self.cfg.lease.as_secs() as i64,
                now,
            )
            .await?;
        tx.commit().await?;
        for j in &mut jobs {
            j.row.attempts += 1;
            j.row.first_try_at.get_or_insert(now);
        }
        Ok(jobs)
    }

    /// Writes the outcomes of a batch.
    pub(super) async fn record(
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
            let sent = List::ints(&sent);
            let sql = format!(
                "UPDATE deliveries SET state = 'sent', done_at = $1, lease_until = NULL, last_reply = NULL \
                 WHERE edition_id = $2 AND state = 'sending' AND claimed_by = $4 AND subscriber_id IN ({})",
                sent.select(tx.conn().dialect(), 3)
            );
            q_exec!(
                tx.conn(),
                jarida_store::sqlx::AssertSqlSafe(sql),
                now,
                e.id,
                sent.param(),
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
                    (DeliveryState::Failed, None, Some(now), gave_up)
                } else {
                    (DeliveryState::Deferred, Some(next), None, reply.clone())
                }
            } else {
                (DeliveryState::Failed, None, Some(now), reply.clone())
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
                // The same record and policy as a bounce that comes back later by mail.
                let ev = jarida_audience::bounces::Evidence {
                    kind: jarida_mail::bounce::Kind::Hard,
                    status: format!("{}.{}.{}", enhanced[0], enhanced[1], enhanced[2]),
                    diagnostic: reply.clone(),
                    source: "smtp".into(),
                    edition: e.id.0,
                    feedback_type: None,
                };
                let decision = jarida_audience::bounces::record_in(
                    &mut tx,
                    jarida_core::SubscriberId(o.subscriber_id),
                    &ev,
                    self.cfg.bounces.policy,
                    now,
                )
                .await?;
                if decision != jarida_audience::bounces::Decision::Repeated {
                    let at = OffsetDateTime::from_unix_timestamp(now)
                        .unwrap_or_else(|_| OffsetDateTime::now_utc());
                    if crate::bounces::pause_if_stale(&mut tx, e.id, self.cfg.bounces, at).await? {
                        tracing::warn!(
                            edition = e.id.0,
                            "edition paused: too many addresses refused"
                        );
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Extends the leases of the rows this worker still holds, so that a slow relay cannot make them
    /// look abandoned to the other workers.
    pub(super) async fn renew(
        &self,
        edition: EditionId,
        worker: &str,
    ) -> Result<u64, NewsletterError> {
        let mut pc = self.db.acquire().await?;
        let until = OffsetDateTime::now_utc().unix_timestamp() + self.cfg.lease.as_secs() as i64;
        Ok(LEDGER
            .extend(pc.conn(), Some(edition.0), worker, until)
            .await?)
    }

    /// Gives back rows claimed but not attempted (the edition was paused or cancelled meanwhile).
    pub(super) async fn release(
        &self,
        edition: EditionId,
        ids: &[i64],
        worker: &str,
    ) -> Result<(), NewsletterError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut tx = self.db.begin().await?;
        LEDGER
            .release(tx.conn(), Some(edition.0), worker, ids, now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks the edition sent when nothing is left open. `true` when it is finished.
    pub(super) async fn finish_if_done(&self, id: EditionId) -> Result<bool, NewsletterError> {
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
            tracing::info!(edition = %id, "edition sent");
        }
        Ok(true)
    }
}
