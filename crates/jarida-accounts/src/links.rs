//! One-time account links sent by email: an invitation to join with a role, and a password reset.
//! The link carries a random token; the table keeps its SHA-256 and when it expires. Using a link
//! burns it in the transaction that uses it.

use jarida_store::{StoreError, Tx, q_exec, q_opt};

use crate::{Role, new_token, token_hash};

jarida_core::text_enum! {
    pub enum Purpose {
        Invite = "invite",
        Reset = "reset",
    }
}

/// What a link was made for.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub purpose: Purpose,
    pub email: String,
    /// The role an invitation gives.
    pub role: Option<Role>,
    /// The account a reset is for.
    pub user_id: Option<i64>,
    pub created_by: Option<i64>,
}

/// Makes a link (its token, to put in the email) in the caller's transaction. A new invitation or
/// reset for the same address replaces the earlier ones, so only the newest email works.
pub async fn issue(
    tx: &mut Tx,
    link: &Link,
    now: i64,
    lifetime_secs: i64,
) -> Result<String, StoreError> {
    let token = new_token();
    q_exec!(
        tx.conn(),
        "DELETE FROM account_links WHERE email = $1 AND purpose = $2",
        &link.email,
        link.purpose
    )?;
    q_exec!(
        tx.conn(),
        "INSERT INTO account_links (token_hash, purpose, email, role, user_id, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        token_hash(&token),
        link.purpose,
        &link.email,
        link.role,
        link.user_id,
        link.created_by,
        now,
        now + lifetime_secs
    )?;
    Ok(token)
}

type Row = (Purpose, String, Option<Role>, Option<i64>, Option<i64>);

/// The live link behind `token` for `purpose`, without using it (to show its form).
pub async fn peek(
    tx: &mut Tx,
    purpose: Purpose,
    token: &str,
    now: i64,
) -> Result<Option<Link>, StoreError> {
    if token.len() != 64 {
        return Ok(None);
    }
    let row: Option<Row> = q_opt!(
        tx.conn(),
        Row,
        "SELECT purpose, email, role, user_id, created_by FROM account_links \
         WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3",
        token_hash(token),
        purpose,
        now
    )?;
    Ok(row.map(|(purpose, email, role, user_id, created_by)| Link {
        purpose,
        email,
        role,
        user_id,
        created_by,
    }))
}

/// Uses the link: returns it and deletes it, in the caller's transaction.
pub async fn take(
    tx: &mut Tx,
    purpose: Purpose,
    token: &str,
    now: i64,
) -> Result<Option<Link>, StoreError> {
    let link = peek(tx, purpose, token, now).await?;
    if link.is_some() {
        q_exec!(
            tx.conn(),
            "DELETE FROM account_links WHERE token_hash = $1",
            token_hash(token)
        )?;
    }
    Ok(link)
}

/// Invitations not yet accepted: (address, role, expires at).
pub async fn pending_invitations(
    db: &jarida_store::Db,
    now: i64,
) -> Result<Vec<(String, Role, i64)>, StoreError> {
    let mut c = db.acquire().await?;
    jarida_store::q_all!(
        c.conn(),
        (String, Role, i64),
        "SELECT email, role, expires_at FROM account_links WHERE purpose = 'invite' AND expires_at > $1 \
         ORDER BY created_at DESC",
        now
    )
}

/// Forgets links past their end (housekeeping): an expired invitation or reset only says who was
/// invited or asked, which no one needs once it cannot be used.
pub async fn purge(db: &jarida_store::Db, now: i64) -> Result<u64, StoreError> {
    let mut tx = db.begin().await?;
    let n = q_exec!(
        tx.conn(),
        "DELETE FROM account_links WHERE expires_at <= $1",
        now
    )?;
    tx.commit().await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_link_works_once_until_it_expires_and_the_newest_wins() {
        let f = jarida_testing::fresh_db().await;
        let db = &f.db;
        let invite = Link {
            purpose: Purpose::Invite,
            email: "sami@example.org".into(),
            role: Some(Role::Editor),
            user_id: None,
            created_by: None,
        };
        let mut tx = db.begin().await.unwrap();
        let old = issue(&mut tx, &invite, 0, 100).await.unwrap();
        let new = issue(&mut tx, &invite, 10, 100).await.unwrap();
        assert!(
            peek(&mut tx, Purpose::Invite, &old, 20)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            peek(&mut tx, Purpose::Reset, &new, 20)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            peek(&mut tx, Purpose::Invite, &new, 200)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            take(&mut tx, Purpose::Invite, &new, 20).await.unwrap(),
            Some(invite.clone())
        );
        assert!(
            take(&mut tx, Purpose::Invite, &new, 21)
                .await
                .unwrap()
                .is_none()
        );
        let live = issue(&mut tx, &invite, 30, 100).await.unwrap();
        let reset = Link {
            purpose: Purpose::Reset,
            email: "lina@example.org".into(),
            role: None,
            user_id: None,
            created_by: None,
        };
        issue(&mut tx, &reset, 0, 50).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(purge(db, 60).await.unwrap(), 1, "the ended reset only");
        let mut tx = db.begin().await.unwrap();
        assert!(
            peek(&mut tx, Purpose::Invite, &live, 60)
                .await
                .unwrap()
                .is_some()
        );
        tx.commit().await.unwrap();
    }
}
