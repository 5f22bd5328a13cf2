//! User accounts: who they are and what role they hold.

use jarida_store::{Conn, Db, StoreError, Tx, q_all, q_exec, q_one};

/// Whether an owner account exists yet.
pub async fn has_owner(db: &Db) -> Result<bool, StoreError> {
    let mut c = db.acquire().await?;
    owners(c.conn()).await.map(|n| n > 0)
}

async fn owners(c: Conn<'_>) -> Result<i64, StoreError> {
    let (n,): (i64,) = q_one!(c, (i64,), "SELECT COUNT(*) FROM users WHERE role = 'owner'")?;
    Ok(n)
}

/// Creates the first owner, in the caller's transaction (which also burns the setup link); false
/// if an owner exists already (another request won the race).
pub async fn create_first_owner(
    tx: &mut Tx,
    name: &str,
    email: &str,
    password_hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    if owners(tx.conn()).await? > 0 {
        return Ok(false);
    }
    q_exec!(
        tx.conn(),
        "INSERT INTO users (email, name, password_hash, role, created_at) VALUES ($1, $2, $3, 'owner', $4)",
        email,
        name,
        password_hash,
        now
    )?;
    Ok(true)
}

/// Every user's address, oldest account first (who is told that a draft waits).
pub async fn emails(db: &Db) -> Result<Vec<String>, StoreError> {
    let mut c = db.acquire().await?;
    let v: Vec<(String,)> = q_all!(c.conn(), (String,), "SELECT email FROM users ORDER BY id")?;
    Ok(v.into_iter().map(|(e,)| e).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_first_owner() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("t.db")).await.unwrap();
        db.migrate().await.unwrap();
        assert!(!has_owner(&db).await.unwrap());
        let mut tx = db.begin().await.unwrap();
        assert!(
            create_first_owner(&mut tx, "Lina", "lina@example.org", "h", 1)
                .await
                .unwrap()
        );
        assert!(
            !create_first_owner(&mut tx, "Sami", "sami@example.org", "h", 2)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        assert!(has_owner(&db).await.unwrap());
        assert_eq!(emails(&db).await.unwrap(), ["lina@example.org"]);
    }
}
