//! Sending: the relay connections of an edition, pacing and per-domain limits, the outbox folder
//! when there is no relay.

use super::*;

/// Where messages go: SMTP connections shared by concurrent senders, or the outbox folder.
pub(super) struct Pool {
    pub(super) relays: Vec<RelayConfig>,
    pub(super) outbox: PathBuf,
    pub(super) conns: Vec<tokio::sync::Mutex<Option<Connection>>>,
    /// Which relay each connection slot belongs to.
    pub(super) slot_relay: Vec<usize>,
    pub(super) per_domain: usize,
    /// Consecutive transient failures per relay: a relay that defers or drops messages is given a
    /// growing pause between messages, so the healthy relays of the pool carry the work.
    pub(super) strikes: Vec<std::sync::atomic::AtomicU32>,
    pub(super) domains: Mutex<HashMap<String, Arc<Semaphore>>>,
    pub(super) pace: Option<Mutex<(Instant, Duration)>>,
}

impl Pool {
    pub(super) fn new(cfg: &DeliveryConfig) -> Pool {
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
    pub(super) async fn pace(&self) {
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

    pub(super) fn domain_gate(&self, email: &str) -> Arc<Semaphore> {
        let domain = email.rsplit('@').next().unwrap_or("").to_string();
        let mut g = self.domains.lock().unwrap_or_else(|e| e.into_inner());
        g.entry(domain)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_domain)))
            .clone()
    }

    /// Sends what comes through `jobs` until it closes; returns the rows left unattempted when
    /// halted.
    pub(super) async fn send_all(
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
    pub(super) async fn sender(
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

    pub(super) async fn send_one(
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

    pub(super) async fn close(&self) {
        for c in &self.conns {
            if let Some(c) = c.lock().await.take() {
                c.close().await;
            }
        }
    }
}

pub(super) fn outcome(j: &Job, result: Result<(), SendError>) -> Outcome {
    Outcome {
        subscriber_id: j.row.subscriber_id,
        attempts: j.row.attempts,
        first_try_at: j.row.first_try_at.unwrap_or(0),
        result,
    }
}

/// One `.eml` per reader with a fixed name: writing it again after a crash replaces, never doubles.
pub(super) async fn write_eml(
    dir: &std::path::Path,
    subscriber: i64,
    bytes: &[u8],
) -> std::io::Result<()> {
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
