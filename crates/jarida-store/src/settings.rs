//! Settings owners changed in the admin, kept over the configuration file: each row is one dotted
//! configuration key (`site.name_en`, `newsletters.main.cadence`) with its value as JSON, who set it
//! and when. The binary lays them over the file's values (which stay the first default); removing a
//! row gives the key back to the file. A version number moves with every change so that each
//! process sharing the database notices and applies it.
//!
//! This is plain storage: which keys may be set, and what a value must look like, is the
//! configuration's business (it checks a change before it is written).

use crate::{Conn, StoreError, Tx, q_all, q_exec, q_one};

/// One stored setting.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Stored {
    pub key: String,
    /// The value as JSON text.
    pub value: String,
    pub updated_at: i64,
    /// Who changed it (the audit log's actor label).
    pub updated_by: String,
}

/// Every stored setting, by key.
pub async fn all(c: Conn<'_>) -> Result<Vec<Stored>, StoreError> {
    q_all!(
        c,
        Stored,
        "SELECT key, value, updated_at, updated_by FROM settings ORDER BY key"
    )
}

/// The number every change moves.
pub async fn version(c: Conn<'_>) -> Result<i64, StoreError> {
    let (v,): (i64,) = q_one!(
        c,
        (i64,),
        "SELECT version FROM settings_version WHERE id = 1"
    )?;
    Ok(v)
}

/// Sets `key` to `value` (JSON text) in the caller's transaction.
pub async fn put_in(
    tx: &mut Tx,
    key: &str,
    value: &str,
    by: &str,
    now: i64,
) -> Result<(), StoreError> {
    q_exec!(
        tx.conn(),
        "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, \
         updated_by = excluded.updated_by",
        key,
        value,
        now,
        by
    )?;
    Ok(())
}

/// Gives `key` back to the configuration file; whether it had been set.
pub async fn remove_in(tx: &mut Tx, key: &str) -> Result<bool, StoreError> {
    Ok(q_exec!(tx.conn(), "DELETE FROM settings WHERE key = $1", key)? > 0)
}

/// Marks the caller's changes for the other processes; call once per transaction that changed
/// settings.
pub async fn bump_in(tx: &mut Tx) -> Result<(), StoreError> {
    q_exec!(
        tx.conn(),
        "UPDATE settings_version SET version = version + 1 WHERE id = 1"
    )?;
    Ok(())
}
