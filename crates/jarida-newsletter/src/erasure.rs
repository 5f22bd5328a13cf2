//! Erasing a reader everywhere at once. The audience crate removes the record and what hangs on it;
//! this adds what the newsletter side holds (relay replies in the delivery ledger quote addresses)
//! and what lies outside the database (outbox files), then checkpoints SQLite's write-ahead log. It
//! lives here because this is the lowest crate that sees every holder.

use std::path::Path;

use jarida_store::{Db, q_all, q_exec};
use time::OffsetDateTime;

use crate::NewsletterError;

/// Erases subscriber `id`: from the database in one transaction (the record and what hangs on it,
/// their queued mail and counters, and the addresses relays quoted in the ledger), then from
/// SQLite's write-ahead log and from the outbox folder.
pub async fn erase_reader(
    db: &Db,
    id: jarida_core::SubscriberId,
    now: OffsetDateTime,
    outbox: &Path,
) -> Result<(), NewsletterError> {
    let mut tx = db.begin().await?;
    let email = erase_reader_in(&mut tx, id, now).await?;
    tx.commit().await?;
    erase_outside(db, id, &email, outbox).await
}

/// The database part of [`erase_reader`], in the caller's transaction (the admin records the
/// erasure in its audit log in the same one). Returns the address, for [`erase_outside`] once the
/// transaction has committed.
pub async fn erase_reader_in(
    tx: &mut jarida_store::Tx,
    id: jarida_core::SubscriberId,
    now: OffsetDateTime,
) -> Result<String, NewsletterError> {
    let email = jarida_audience::subscribers::erase_in(tx, id, now).await?;
    // The ledger keeps its rows (the edition's figures count them) and the relay's reply codes,
    // with any address the relay quoted replaced by a hash.
    let replies: Vec<(i64, String)> = q_all!(
        tx.conn(),
        (i64, String),
        "SELECT edition_id, last_reply FROM deliveries WHERE subscriber_id = $1 AND last_reply IS NOT NULL",
        id
    )?;
    for (edition, reply) in replies {
        let redacted = jarida_mail::redact_addresses(&reply);
        if redacted != reply {
            q_exec!(
                tx.conn(),
                "UPDATE deliveries SET last_reply = $1 WHERE edition_id = $2 AND subscriber_id = $3",
                redacted,
                edition,
                id
            )?;
        }
    }
    Ok(email)
}

/// What [`erase_reader`] removes outside the transaction: SQLite's write-ahead log copy of the
/// deleted rows, the reader's files in the outbox and the reader exports that list them.
pub async fn erase_outside(
    db: &Db,
    id: jarida_core::SubscriberId,
    email: &str,
    outbox: &Path,
) -> Result<(), NewsletterError> {
    if let Err(e) = db.checkpoint().await {
        tracing::warn!(error = %e, "checkpoint after an erasure; housekeeping will do it");
    }
    jarida_mail::forget_outbox(outbox, email, Some(&format!("{id}.eml"))).await?;
    // Reader exports sit beside the outbox in the data folder.
    if let Some(data_dir) = outbox.parent() {
        crate::bulk::forget_exports(data_dir, Some(email))?;
    }
    Ok(())
}
