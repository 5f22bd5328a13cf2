//! Erasing a reader everywhere at once. The audience crate removes the record and what hangs on it;
//! this adds what the newsletter side holds (relay replies in the delivery ledger quote addresses)
//! and what lies outside the database (outbox files), then checkpoints SQLite's write-ahead log. It
//! lives here because this is the lowest crate that sees every holder.

use std::path::Path;

use jarida_store::{Db, q_all, q_exec};
use time::OffsetDateTime;

use crate::NewsletterError;

/// Erases subscriber `id` from the database, the delivery ledger's replies and the outbox folder.
pub async fn erase_reader(
    db: &Db,
    id: i64,
    now: OffsetDateTime,
    outbox: &Path,
) -> Result<(), NewsletterError> {
    let email = jarida_audience::subscribers::erase(db, id, now).await?;
    // The ledger keeps its rows (the edition's figures count them) and the relay's reply codes,
    // with any address the relay quoted replaced by a hash.
    let mut c = db.acquire().await?;
    let replies: Vec<(i64, String)> = q_all!(
        c.conn(),
        (i64, String),
        "SELECT edition_id, last_reply FROM deliveries WHERE subscriber_id = $1 AND last_reply IS NOT NULL",
        id
    )?;
    for (edition, reply) in replies {
        let redacted = jarida_mail::redact_addresses(&reply);
        if redacted != reply {
            q_exec!(
                c.conn(),
                "UPDATE deliveries SET last_reply = $1 WHERE edition_id = $2 AND subscriber_id = $3",
                redacted,
                edition,
                id
            )?;
        }
    }
    drop(c);
    if let Err(e) = db.checkpoint().await {
        tracing::warn!(error = %e, "checkpoint after an erasure; the next one will do it");
    }
    forget_outbox(outbox, &email, id).await?;
    Ok(())
}

/// Removes a reader's files from the outbox: transactional emails (named with a hash of the
/// address) and each edition's `<id>.eml`.
async fn forget_outbox(outbox: &Path, email: &str, id: i64) -> std::io::Result<()> {
    let suffix = jarida_mail::outbox_suffix(email);
    let edition_file = format!("{id}.eml");
    let mut dirs = match tokio::fs::read_dir(outbox).await {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    while let Some(entry) = dirs.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ft = entry.file_type().await?;
        if ft.is_file() && name.ends_with(&suffix) {
            tokio::fs::remove_file(entry.path()).await?;
        } else if ft.is_dir() && name.starts_with("edition-") {
            match tokio::fs::remove_file(entry.path().join(&edition_file)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}
