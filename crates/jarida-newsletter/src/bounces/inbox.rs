//! The built-in receiver's side of returned mail: which recipients it takes (our VERP and
//! unsubscribe addresses on the bounce domain, signatures checked before anything is read) and
//! what it does with a message (the same [`super::ingest`] as the pipe).

use std::future::Future;
use std::pin::Pin;

use jarida_core::Secret;
use jarida_mail::bounce::Token;
use jarida_store::Db;

use super::{Rules, ingest_report, verify};

/// The receiver's [`jarida_mail::receiver::Inbox`].
pub struct BounceInbox {
    pub db: Db,
    pub secret: Secret,
    pub rules: Rules,
    /// The domain of our return paths (lower case).
    pub domain: String,
    /// Where owners' alerts go out.
    pub notifier: std::sync::Arc<jarida_notify::Notifier>,
    pub mail: std::sync::Arc<jarida_mail::queue::Queue>,
}

impl BounceInbox {
    /// The token of a recipient address of ours, when it is one and its signature checks.
    fn ours(&self, rcpt: &str) -> bool {
        let Some((local, domain)) = rcpt.rsplit_once('@') else {
            return false;
        };
        if !domain.eq_ignore_ascii_case(&self.domain) {
            return false;
        }
        let mut t: Vec<Token> = Vec::new();
        jarida_mail::bounce::tokens(rcpt.as_bytes(), &mut t);
        let Some(token) = t.first() else {
            return false;
        };
        // The whole local part must be the token, with nothing around it.
        let canonical = match token {
            Token::Verp {
                edition,
                subscriber,
                signature,
            } => format!("b+{edition}-{subscriber}-{signature}"),
            Token::Unsubscribe {
                edition,
                subscriber,
                signature,
            } => format!("u+{edition}-{subscriber}-{signature}"),
            Token::MessageId { .. } => return false,
        };
        canonical.eq_ignore_ascii_case(local) && verify(&self.secret, token).is_some()
    }
}

impl jarida_mail::receiver::Inbox for BounceInbox {
    fn accepts(&self, rcpt: &str) -> bool {
        self.ours(rcpt)
    }

    fn deliver(
        &self,
        rcpts: Vec<String>,
        raw: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            // Read once; a large message off the async threads (2 MiB with many parts takes a
            // while), a small one in place (handing it to a thread cost a tenth of the rate).
            let report = if raw.len() <= 64 * 1024 {
                jarida_mail::bounce::classify(&raw)
            } else {
                tokio::task::spawn_blocking(move || jarida_mail::bounce::classify(&raw))
                    .await
                    .map_err(|e| e.to_string())?
            };
            for rcpt in rcpts {
                let outcome = ingest_report(
                    &self.db,
                    &self.secret,
                    self.rules,
                    &report,
                    Some(&rcpt),
                    "receiver",
                    time::OffsetDateTime::now_utc(),
                )
                .await
                .map_err(|e| e.to_string())?;
                tracing::debug!(?outcome, "receiver: message taken");
                if let Err(e) =
                    super::alert_owners(&self.db, &self.notifier, &self.mail, &outcome).await
                {
                    tracing::warn!(error = %e, "alerting the owners");
                }
            }
            Ok(())
        })
    }
}
