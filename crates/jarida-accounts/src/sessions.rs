//! The admin's sign-in sessions, kept in the database so that several processes share them. The
//! cookie holds a random token; the table holds its SHA-256, so a copy of the database opens no
//! session. A session ends when it has been idle too long, when it is too old whatever its use,
//! when its user signs out (here or everywhere), changes password or is disabled.

use jarida_store::{Db, StoreError, q_all, q_exec, q_opt, sqlx};

use crate::{User, new_token, token_hash, users};

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Unused this long, a session ends.
    pub idle_secs: i64,
    /// Used or not, a session ends this long after sign-in.
    pub absolute_secs: i64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        // A reporter writing through an afternoon must not be signed out; a laptop left signed in
        // over a long weekend must be.
        Lifetimes {
            idle_secs: 24 * 3600,
            absolute_secs: 14 * 24 * 3600,
        }
    }
}

/// A session found by its cookie.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub user: User,
    /// Signed in with the password, still owing the second factor: it opens nothing else.
    pub pending_mfa: bool,
    pub created_at: i64,
}

/// One of a user's sessions, as their account page lists it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct SessionInfo {
    pub id: i64,
    pub created_at: i64,
    pub seen_at: i64,
    pub ip: String,
    pub user_agent: String,
}

/// Where a sign-in came from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: String,
    pub user_agent: String,
}

/// Starts a session for `user_id` and returns the cookie's value. A new token every time: a
/// session id planted before sign-in is never the one that comes out.
pub async fn create(
    db: &Db,
    user_id: i64,
    pending_mfa: bool,
    from: &Origin,
    now: i64,
) -> Result<String, StoreError> {
    let token = new_token();
    let ua: String = from.user_agent.chars().take(300).collect();
    let mut tx = db.begin().await?;
    q_exec!(
        tx.conn(),
        "INSERT INTO admin_sessions (token_hash, user_id, created_at, seen_at, ip, user_agent, pending_mfa) \
         VALUES ($1, $2, $3, $3, $4, $5, $6)",
        token_hash(&token),
        user_id,
        now,
        &from.ip,
        ua,
        pending_mfa
    )?;
    tx.commit().await?;
    Ok(token)
}

/// The live session behind a cookie's value, if there is one. Touches `seen_at` at most once a
/// minute, so browsing the admin does not write on every request.
pub async fn find(
    db: &Db,
    token: &str,
    life: Lifetimes,
    now: i64,
) -> Result<Option<Session>, StoreError> {
    if token.len() != 64 {
        return Ok(None);
    }
    let hash = token_hash(token);
    let mut c = db.acquire().await?;
    let row: Option<(i64, i64, i64, i64, bool)> = q_opt!(
        c.conn(),
        (i64, i64, i64, i64, bool),
        "SELECT s.id, s.user_id, s.created_at, s.seen_at, s.pending_mfa FROM admin_sessions s \
         JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND u.disabled_at IS NULL",
        &hash
    )?;
    let Some((id, user_id, created_at, seen_at, pending_mfa)) = row else {
        return Ok(None);
    };
    if now - seen_at > life.idle_secs || now - created_at > life.absolute_secs {
        drop(c);
        end(db, id).await?;
        return Ok(None);
    }
    let Some(user) = users::by_id(c.conn(), user_id).await? else {
        return Ok(None);
    };
    drop(c);
    if now - seen_at >= 60 {
        let mut tx = db.begin().await?;
        q_exec!(
            tx.conn(),
            "UPDATE admin_sessions SET seen_at = $1 WHERE id = $2",
            now,
            id
        )?;
        tx.commit().await?;
    }
    Ok(Some(Session {
        id,
        user,
        pending_mfa,
        created_at,
    }))
}

/// Marks the second factor given: the session now opens the admin.
pub async fn complete_mfa(db: &Db, id: i64) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    q_exec!(
        tx.conn(),
        "UPDATE admin_sessions SET pending_mfa = FALSE WHERE id = $1",
        id
    )?;
    tx.commit().await?;
    Ok(())
}

pub async fn end(db: &Db, id: i64) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    q_exec!(tx.conn(), "DELETE FROM admin_sessions WHERE id = $1", id)?;
    tx.commit().await?;
    Ok(())
}

/// Ends one of `user_id`'s sessions; false when it is not theirs (or already gone).
pub async fn end_own(db: &Db, user_id: i64, id: i64) -> Result<bool, StoreError> {
    let mut tx = db.begin().await?;
    let n = q_exec!(
        tx.conn(),
        "DELETE FROM admin_sessions WHERE id = $1 AND user_id = $2",
        id,
        user_id
    )?;
    tx.commit().await?;
    Ok(n > 0)
}

/// "Sign out everywhere": ends every session of the user but `keep`.
pub async fn end_all(db: &Db, user_id: i64, keep: Option<i64>) -> Result<u64, StoreError> {
    let mut tx = db.begin().await?;
    let n = q_exec!(
        tx.conn(),
        "DELETE FROM admin_sessions WHERE user_id = $1 AND id <> $2",
        user_id,
        keep.unwrap_or(-1)
    )?;
    tx.commit().await?;
    Ok(n)
}

/// A user's live sessions, most recently used first.
pub async fn list(db: &Db, user_id: i64) -> Result<Vec<SessionInfo>, StoreError> {
    let mut c = db.acquire().await?;
    q_all!(
        c.conn(),
        SessionInfo,
        "SELECT id, created_at, seen_at, ip, user_agent FROM admin_sessions WHERE user_id = $1 \
         ORDER BY seen_at DESC, id DESC",
        user_id
    )
}

/// Deletes sessions past their lifetimes (housekeeping); returns how many.
pub async fn purge(db: &Db, life: Lifetimes, now: i64) -> Result<u64, StoreError> {
    let mut tx = db.begin().await?;
    let n = q_exec!(
        tx.conn(),
        "DELETE FROM admin_sessions WHERE seen_at < $1 OR created_at < $2",
        now - life.idle_secs,
        now - life.absolute_secs
    )?;
    tx.commit().await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sessions_end_when_idle_old_or_signed_out_everywhere() {
        let f = jarida_testing::fresh_db().await;
        let db = &f.db;
        let mut tx = db.begin().await.unwrap();
        users::create_first_owner(&mut tx, "Lina", "lina@example.org", "h", 0)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let uid = users::credentials(db, "lina@example.org")
            .await
            .unwrap()
            .unwrap()
            .id;
        let life = Lifetimes {
            idle_secs: 100,
            absolute_secs: 1000,
        };
        let from = Origin {
            ip: "192.0.2.1".into(),
            user_agent: "test".into(),
        };
        let a = create(db, uid, false, &from, 0).await.unwrap();
        let b = create(db, uid, false, &from, 0).await.unwrap();
        assert_ne!(a, b);
        // The database holds no usable token.
        let stored: Vec<(String,)> = {
            let mut c = db.acquire().await.unwrap();
            q_all!(c.conn(), (String,), "SELECT token_hash FROM admin_sessions").unwrap()
        };
        assert!(stored.iter().all(|(h,)| h != &a && h != &b));
        let s = find(db, &a, life, 90).await.unwrap().unwrap();
        assert_eq!(s.user.email, "lina@example.org");
        // Used at 90: still alive at 180, idle past 100 at 300.
        assert!(find(db, &a, life, 180).await.unwrap().is_some());
        assert!(
            find(db, &b, life, 150).await.unwrap().is_none(),
            "b idled out"
        );
        // Absolute lifetime, however busy.
        let mut t = 180;
        while t < 1000 {
            t += 90;
            let alive = find(db, &a, life, t).await.unwrap().is_some();
            assert_eq!(alive, t <= 1000, "at {t}");
        }
        let c1 = create(db, uid, false, &from, 2000).await.unwrap();
        let c2 = create(db, uid, false, &from, 2000).await.unwrap();
        let keep = find(db, &c1, life, 2001).await.unwrap().unwrap().id;
        assert_eq!(list(db, uid).await.unwrap().len(), 2);
        assert_eq!(end_all(db, uid, Some(keep)).await.unwrap(), 1);
        assert!(find(db, &c2, life, 2002).await.unwrap().is_none());
        assert!(find(db, &c1, life, 2002).await.unwrap().is_some());
        assert!(find(db, "not-a-token", life, 2002).await.unwrap().is_none());
    }
}
