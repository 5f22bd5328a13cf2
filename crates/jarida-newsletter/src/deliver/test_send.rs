//! Test copies: one language of an edition, as it stands now, sent to a few addresses an editor
//! names, before the readers get it. They go out like the real messages (same relay, headers, DKIM
//! signature) so that what the editor sees in their own mailbox is what readers will see; they are
//! not in the ledger, count in no figure, and carry the links of no reader.

use super::*;

/// At most this many addresses per test: a test is for the newsroom's own mailboxes.
pub const MAX_TEST_ADDRESSES: usize = 5;

/// What became of one test copy.
#[derive(Debug, Clone, Serialize)]
pub struct TestOutcome {
    pub to: String,
    pub ok: bool,
    /// The relay's answer to a refusal, or where the copy was written.
    pub detail: String,
}

impl Engine {
    /// Sends the current content of `lang` of edition `id` to each of `to`, the subject starting
    /// with `marker` (the editor's "[Test]" in the edition's language). Copies go through the first
    /// relay that takes the connection, or into `<outbox>/tests/` when no relay is configured.
    pub async fn send_test(
        &self,
        id: EditionId,
        lang: &str,
        to: &[String],
        marker: &str,
    ) -> Result<Vec<TestOutcome>, NewsletterError> {
        if to.is_empty() || to.len() > MAX_TEST_ADDRESSES {
            return Err(NewsletterError::Invalid(format!(
                "to: give 1 to {MAX_TEST_ADDRESSES} addresses"
            )));
        }
        let mut addresses = Vec::new();
        for a in to {
            let a = jarida_audience::email::normalize(a)
                .map_err(|e| NewsletterError::Invalid(format!("to: {a:?}: {e}")))?;
            addresses.push(a);
        }
        let e = editions::get(&self.db, id).await?;
        let nl = self.newsletter(&e.newsletter)?;
        let parts = editions::parts(&self.db, &e).await?;
        let part = parts.iter().find(|p| p.lang == lang).ok_or_else(|| {
            NewsletterError::Invalid(format!("edition {id} has no language {lang:?}"))
        })?;
        let r = self.renderer.render(&self.site.get(), &nl.name, &e, part)?;
        let subject = format!("{marker} {}", r.subject);
        let prepared = Self::prepare(&[(r.lang.code().to_string(), subject, r.html, r.text)]);
        let builder = self.builder(&e, &nl, Arc::new(prepared));
        // Subscriber 0 is nobody: the copy's unsubscribe and preference links lead to a page
        // saying the link is not valid, rather than acting on a real reader.
        let job = |email: &str| Job {
            row: Claimed {
                subscriber_id: 0,
                lang: lang.to_string(),
                attempts: 0,
                first_try_at: None,
                email: Some(email.to_string()),
                name: None,
                status: Some("active".into()),
                member: Some(0),
            },
            email: email.to_string(),
        };
        if self.cfg.relays.is_empty() {
            let dir = self.cfg.outbox_dir.join("tests");
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(|e| NewsletterError::Invalid(format!("outbox {}: {e}", dir.display())))?;
            let mut out = Vec::new();
            for (i, a) in addresses.iter().enumerate() {
                let bytes = builder.build(&job(a))?;
                let file = dir.join(format!("edition-{}-{}-{i}.eml", id.0, now_millis()));
                let r = tokio::fs::write(&file, &bytes).await;
                out.push(TestOutcome {
                    to: a.clone(),
                    ok: r.is_ok(),
                    detail: match r {
                        Ok(()) => file.display().to_string(),
                        Err(e) => format!("{}: {e}", file.display()),
                    },
                });
            }
            return Ok(out);
        }
        let mut conn = None;
        let mut refusals = Vec::new();
        for relay in &self.cfg.relays {
            match Connection::open(&relay.smtp).await {
                Ok(c) => {
                    conn = Some(c);
                    break;
                }
                Err(e) => refusals.push(format!(
                    "{}:{}: {}",
                    relay.smtp.host,
                    relay.smtp.port,
                    e.reply()
                )),
            }
        }
        let Some(mut conn) = conn else {
            return Ok(addresses
                .iter()
                .map(|a| TestOutcome {
                    to: a.clone(),
                    ok: false,
                    detail: refusals.join("; "),
                })
                .collect());
        };
        let envelope = builder.envelope(0);
        let mut out = Vec::new();
        for a in &addresses {
            let bytes = builder.build(&job(a))?;
            let r = if conn.usable() {
                conn.send(&envelope, a, &bytes).await
            } else {
                Err(SendError::Connection(
                    "the relay closed the connection".into(),
                ))
            };
            out.push(TestOutcome {
                to: a.clone(),
                ok: r.is_ok(),
                detail: match r {
                    Ok(()) => String::new(),
                    Err(e) => e.reply(),
                },
            });
        }
        conn.close().await;
        tracing::info!(edition = %id, lang, copies = out.len(), "test copies sent");
        Ok(out)
    }
}

fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}
