//! The delivery ledger (`deliveries`): freezing an edition's recipients, claims with leases,
//! outcomes, renewals, hand-backs and reclaiming a dead worker's rows. All of its SQL is here.

use super::*;

impl Engine {
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
    pub(super) async fn claim(
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
    pub(super) async fn renew(&self, edition: i64, worker: &str) -> Result<u64, NewsletterError> {
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
    pub(super) async fn release(
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
    pub(super) async fn finish_if_done(&self, id: i64) -> Result<bool, NewsletterError> {
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
}
