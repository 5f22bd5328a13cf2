//! Per-user API tokens: each has a name, a role no higher than its owner's, and is shown once; the
//! table keeps its SHA-256. A request made with one acts as its user with the lower of the token's
//! and the user's current role, so demoting or disabling a user limits or ends their tokens too.

use jarida_store::{Db, StoreError, Tx, q_all, q_exec, q_one, q_opt, sqlx};

use crate::{Role, User, token_hash, users};

/// The prefix every token starts with, so a leaked one is recognisable in logs and scanners.
pub const PREFIX: &str = "jrd_";

/// A token as its owner's account page lists it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// Who a valid token acts as.
#[derive(Debug, Clone)]
pub struct Bearer {
    pub token_id: i64,
    pub name: String,
    pub user: User,
    /// The lower of the token's role and the user's.
    pub role: Role,
}

/// Makes a token for `user_id`; returns its id and the token itself (shown once).
pub async fn create(
    tx: &mut Tx,
    user_id: i64,
    name: &str,
    role: Role,
    now: i64,
) -> Result<(i64, String), StoreError> {
    let token = format!("{PREFIX}{}", crate::new_token());
    let (id,): (i64,) = q_one!(
        tx.conn(),
        (i64,),
        "INSERT INTO api_tokens (user_id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        user_id,
        name,
        role,
        token_hash(&token),
        now
    )?;
    Ok((id, token))
}

/// The live token behind `token`, if any. Notes its use at most once a minute.
pub async fn find(db: &Db, token: &str, now: i64) -> Result<Option<Bearer>, StoreError> {
    if !token.starts_with(PREFIX) || token.len() != PREFIX.len() + 64 {
        return Ok(None);
    }
    let mut c = db.acquire().await?;
    let row: Option<(i64, i64, String, Role, Option<i64>)> = q_opt!(
        c.conn(),
        (i64, i64, String, Role, Option<i64>),
        "SELECT id, user_id, name, role, last_used_at FROM api_tokens WHERE token_hash = $1",
        token_hash(token)
    )?;
    let Some((id, user_id, name, role, used)) = row else {
        return Ok(None);
    };
    let Some(user) = users::by_id(c.conn(), user_id)
        .await?
        .filter(|u| !u.disabled)
    else {
        return Ok(None);
    };
    drop(c);
    if used.is_none_or(|u| now - u >= 60) {
        let mut tx = db.begin().await?;
        q_exec!(
            tx.conn(),
            "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2",
            now,
            id
        )?;
        tx.commit().await?;
    }
    // Roles are ordered from most to least trusted: the larger is the lower.
    let role = role.max(user.role);
    Ok(Some(Bearer {
        token_id: id,
        name,
        user,
        role,
    }))
}

pub async fn list(db: &Db, user_id: i64) -> Result<Vec<TokenInfo>, StoreError> {
    let mut c = db.acquire().await?;
    q_all!(
        c.conn(),
        TokenInfo,
        "SELECT id, name, role, created_at, last_used_at FROM api_tokens WHERE user_id = $1 ORDER BY id",
        user_id
    )
}

/// Revokes one of `user_id`'s tokens; false if it is not theirs.
pub async fn revoke(tx: &mut Tx, user_id: i64, id: i64) -> Result<bool, StoreError> {
    Ok(q_exec!(
        tx.conn(),
        "DELETE FROM api_tokens WHERE id = $1 AND user_id = $2",
        id,
        user_id
    )? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_acts_with_the_lower_role_and_dies_with_its_user() {
        let f = jarida_testing::fresh_db().await;
        let db = &f.db;
        let mut tx = db.begin().await.unwrap();
        users::create_first_owner(&mut tx, "Lina", "lina@example.org", "h", 0)
            .await
            .unwrap();
        let sami = users::create(
            &mut tx,
            "sami@example.org",
            "Sami",
            "h",
            Role::Editor,
            jarida_core::Lang::En,
            0,
        )
        .await
        .unwrap();
        let (_, token) = create(&mut tx, sami, "publishing script", Role::Editor, 0)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(token.starts_with("jrd_"));
        let b = find(db, &token, 10).await.unwrap().unwrap();
        assert_eq!((b.role, b.user.id), (Role::Editor, sami));
        // The database keeps no usable token.
        let stored: Vec<(String,)> = {
            let mut c = db.acquire().await.unwrap();
            q_all!(c.conn(), (String,), "SELECT token_hash FROM api_tokens").unwrap()
        };
        assert!(stored.iter().all(|(h,)| !h.contains(&token[4..])));
        // Demoted: the token follows.
        let mut tx = db.begin().await.unwrap();
        users::set_role(&mut tx, sami, Role::Author, false, 20)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            find(db, &token, 30).await.unwrap().unwrap().role,
            Role::Author
        );
        // Disabled: it opens nothing (set_role also deletes their tokens).
        let mut tx = db.begin().await.unwrap();
        users::set_role(&mut tx, sami, Role::Author, true, 40)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(find(db, &token, 50).await.unwrap().is_none());
        assert!(find(db, "jrd_nope", 50).await.unwrap().is_none());
    }
}
