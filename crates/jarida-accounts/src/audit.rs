//! The audit log: every administrative action, who took it, on what, when and from where. Written
//! in the transaction of the action it records, so the log and the change cannot disagree.

use jarida_store::{Db, StoreError, Tx, q_all, q_exec, q_one, sqlx};

/// Who acted: a signed-in user or the holder of an API token.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<i64>,
    /// The user's name and address at the time (the log outlives accounts), or the token's name.
    pub label: String,
    pub ip: String,
}

/// One line of the log.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    pub at: i64,
    pub user_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub detail: String,
    pub ip: String,
}

/// Records `action` (`post.publish`) on `object` (`post 12`) in the caller's transaction.
pub async fn record(
    tx: &mut Tx,
    who: &Actor,
    action: &str,
    object: &str,
    detail: &str,
    now: i64,
) -> Result<(), StoreError> {
    q_exec!(
        tx.conn(),
        "INSERT INTO audit_log (at, user_id, actor, action, object, detail, ip) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        now,
        who.user_id,
        &who.label,
        action,
        object,
        detail,
        &who.ip
    )?;
    Ok(())
}

/// A page of the log, newest first: entries older than `before` (an id), and whether more follow.
pub async fn page(
    db: &Db,
    before: Option<i64>,
    limit: i64,
) -> Result<(Vec<Entry>, bool), StoreError> {
    let mut c = db.acquire().await?;
    let mut rows: Vec<Entry> = q_all!(
        c.conn(),
        Entry,
        "SELECT id, at, user_id, actor, action, object, detail, ip FROM audit_log \
         WHERE id < $1 ORDER BY id DESC LIMIT $2",
        before.unwrap_or(i64::MAX),
        limit + 1
    )?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

pub async fn count(db: &Db) -> Result<i64, StoreError> {
    let mut c = db.acquire().await?;
    let (n,): (i64,) = q_one!(c.conn(), (i64,), "SELECT COUNT(*) FROM audit_log")?;
    Ok(n)
}
