//! The worker: the loop that starts due editions, reclaims dead workers' rows and sends, and one
//! edition's send as a pipeline (claimer -> queue -> senders -> recorder) with leases renewed and
//! a halt seen within 100 ms.

use super::*;

impl Engine {
    pub(super) fn newsletter(&self, slug: &str) -> Result<Newsletter, NewsletterError> {
        self.newsletters
            .get()
            .iter()
            .find(|n| n.slug == slug)
            .cloned()
            .ok_or_else(|| NewsletterError::NoNewsletter(slug.to_string()))
    }

    pub(super) fn builder(
        &self,
        e: &Edition,
        nl: &Newsletter,
        prepared: Arc<HashMap<String, Prepared>>,
    ) -> Builder {
        Builder {
            edition_id: e.id.0,
            edition_number: e.number,
            nl: nl.clone(),
            prepared,
            secret: self.secret.clone(),
            site: (*self.site.get()).clone(),
            bounce_domain: self.cfg.bounce_domain.clone(),
            mailto_unsubscribe: self.cfg.bounces.mailto_unsubscribe,
            dkim: (*self.cfg.dkim.get()).clone(),
        }
    }

    pub(super) fn prepare(langs: &[(String, String, String, String)]) -> HashMap<String, Prepared> {
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
    pub async fn sample_message(
        &self,
        id: EditionId,
        lang: &str,
    ) -> Result<Vec<u8>, NewsletterError> {
        let e = editions::get(&self.db, id).await?;
        let nl = self.newsletter(&e.newsletter)?;
        let parts = editions::parts(&self.db, &e).await?;
        let part = parts.iter().find(|p| p.lang == lang).ok_or_else(|| {
            NewsletterError::Invalid(format!("edition {id} has no language {lang:?}"))
        })?;
        let r = self.renderer.render(&self.site.get(), &nl.name, &e, part)?;
        let prepared = Self::prepare(&[(r.lang.code().to_string(), r.subject, r.html, r.text)]);
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
        let sending = editions::list(&self.db, Some(editions::EditionStatus::Sending)).await?;
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
        let nl = self.newsletter(&e.newsletter)?;
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
                    && cur.status != editions::EditionStatus::Sending
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
                pool.send_all(e.id.0, job_rx, builder, otx, halt.clone()),
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
    pub(super) async fn recorder(
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
