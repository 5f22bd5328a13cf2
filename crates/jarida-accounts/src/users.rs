//! User accounts: who they are, the role they hold, the language their admin speaks.

use jarida_core::Lang;
use jarida_store::{Conn, Db, StoreError, Tx, q_all, q_exec, q_one, q_opt, sqlx};

use crate::{AccountsError, Role};

/// A person of the newsroom, as every admin page knows them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub lang: Lang,
    /// Two-factor sign-in is on.
    pub totp: bool,
    pub disabled: bool,
    pub created_at: i64,
}

const COLS: &str = "id, email, name, role, lang, totp_secret IS NOT NULL AS totp, \
                    disabled_at IS NOT NULL AS disabled, created_at";

/// Whether an owner account exists yet.
pub async fn has_owner(db: &Db) -> Result<bool, StoreError> {
    let mut c = db.acquire().await?;
    owners(c.conn()).await.map(|n| n > 0)
}

async fn owners(c: Conn<'_>) -> Result<i64, StoreError> {
    let (n,): (i64,) = q_one!(
        c,
        (i64,),
        "SELECT COUNT(*) FROM users WHERE role = 'owner' AND disabled_at IS NULL"
    )?;
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

/// Creates an account (from an accepted invitation) in the caller's transaction.
pub async fn create(
    tx: &mut Tx,
    email: &str,
    name: &str,
    password_hash: &str,
    role: Role,
    lang: Lang,
    now: i64,
) -> Result<i64, AccountsError> {
    let taken: Option<(i64,)> = q_opt!(
        tx.conn(),
        (i64,),
        "SELECT id FROM users WHERE email = $1",
        email
    )?;
    if taken.is_some() {
        return Err(AccountsError::Taken(email.to_string()));
    }
    let (id,): (i64,) = q_one!(
        tx.conn(),
        (i64,),
        "INSERT INTO users (email, name, password_hash, role, lang, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        email,
        name,
        password_hash,
        role,
        lang,
        now
    )?;
    Ok(id)
}

/// Every active user's address, oldest account first (who is told that a draft waits).
pub async fn emails(db: &Db) -> Result<Vec<String>, StoreError> {
    active_emails(db, false).await
}

/// The active owners' addresses (who hears of what threatens delivery).
pub async fn owner_emails(db: &Db) -> Result<Vec<String>, StoreError> {
    active_emails(db, true).await
}

async fn active_emails(db: &Db, owners_only: bool) -> Result<Vec<String>, StoreError> {
    let mut c = db.acquire().await?;
    let v: Vec<(String,)> = q_all!(
        c.conn(),
        (String,),
        "SELECT email FROM users WHERE disabled_at IS NULL AND ($1 = 0 OR role = 'owner') ORDER BY id",
        i64::from(owners_only)
    )?;
    Ok(v.into_iter().map(|(e,)| e).collect())
}

pub async fn by_id(c: Conn<'_>, id: i64) -> Result<Option<User>, StoreError> {
    q_opt!(
        c,
        User,
        sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM users WHERE id = $1")),
        id
    )
}

pub async fn by_email(c: Conn<'_>, email: &str) -> Result<Option<User>, StoreError> {
    q_opt!(
        c,
        User,
        sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM users WHERE email = $1")),
        email
    )
}

/// What signing in checks: the account's id, password hash and TOTP secret, for an active account.
pub struct Credentials {
    pub id: i64,
    pub password_hash: String,
    pub totp_secret: Option<String>,
}

pub async fn credentials(db: &Db, email: &str) -> Result<Option<Credentials>, StoreError> {
    let mut c = db.acquire().await?;
    let row: Option<(i64, String, Option<String>)> = q_opt!(
        c.conn(),
        (i64, String, Option<String>),
        "SELECT id, password_hash, totp_secret FROM users WHERE email = $1 AND disabled_at IS NULL",
        email
    )?;
    Ok(row.map(|(id, password_hash, totp_secret)| Credentials {
        id,
        password_hash,
        totp_secret,
    }))
}

/// The id of the account with `email`, in the caller's transaction.
pub async fn credentials_in(tx: &mut Tx, email: &str) -> Result<i64, StoreError> {
    let (id,): (i64,) = q_one!(
        tx.conn(),
        (i64,),
        "SELECT id FROM users WHERE email = $1",
        email
    )?;
    Ok(id)
}

/// Everyone, owners first, then by name.
pub async fn list(db: &Db) -> Result<Vec<User>, StoreError> {
    let mut c = db.acquire().await?;
    q_all!(
        c.conn(),
        User,
        sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM users ORDER BY CASE role WHEN 'owner' THEN 0 WHEN 'editor' THEN 1 \
             WHEN 'author' THEN 2 ELSE 3 END, name, id"
        ))
    )
}

/// Changes a user's role or disables them, refusing what would leave the site without an active
/// owner.
pub async fn set_role(
    tx: &mut Tx,
    id: i64,
    role: Role,
    disabled: bool,
    now: i64,
) -> Result<(), AccountsError> {
    q_exec!(
        tx.conn(),
        "UPDATE users SET role = $1, disabled_at = CASE WHEN $2 THEN COALESCE(disabled_at, $3) ELSE NULL END WHERE id = $4",
        role,
        disabled,
        now,
        id
    )?;
    if owners(tx.conn()).await? == 0 {
        return Err(AccountsError::Invalid {
            field: "role",
            reason: "the site needs at least one active owner".into(),
        });
    }
    if disabled {
        q_exec!(
            tx.conn(),
            "DELETE FROM admin_sessions WHERE user_id = $1",
            id
        )?;
        q_exec!(tx.conn(), "DELETE FROM api_tokens WHERE user_id = $1", id)?;
    }
    Ok(())
}

pub async fn set_profile(tx: &mut Tx, id: i64, name: &str, lang: Lang) -> Result<(), StoreError> {
    q_exec!(
        tx.conn(),
        "UPDATE users SET name = $1, lang = $2 WHERE id = $3",
        name,
        lang,
        id
    )?;
    Ok(())
}

/// Replaces the password and ends every session of the account: whoever knew the old one is out.
pub async fn set_password(tx: &mut Tx, id: i64, password_hash: &str) -> Result<(), StoreError> {
    q_exec!(
        tx.conn(),
        "UPDATE users SET password_hash = $1 WHERE id = $2",
        password_hash,
        id
    )?;
    q_exec!(
        tx.conn(),
        "DELETE FROM admin_sessions WHERE user_id = $1",
        id
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_first_owner_and_never_none() {
        let f = jarida_testing::fresh_db().await;
        let db = &f.db;
        assert!(!has_owner(db).await.unwrap());
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
        let sami = create(
            &mut tx,
            "sami@example.org",
            "Sami",
            "h",
            Role::Author,
            Lang::Ar,
            3,
        )
        .await
        .unwrap();
        assert!(matches!(
            create(
                &mut tx,
                "sami@example.org",
                "Sami",
                "h",
                Role::Author,
                Lang::Ar,
                3
            )
            .await,
            Err(AccountsError::Taken(_))
        ));
        tx.commit().await.unwrap();
        assert!(has_owner(db).await.unwrap());
        assert_eq!(
            emails(db).await.unwrap(),
            ["lina@example.org", "sami@example.org"]
        );
        let all = list(db).await.unwrap();
        assert_eq!(all[0].role, Role::Owner);
        assert_eq!(
            (all[1].id, all[1].role, all[1].lang),
            (sami, Role::Author, Lang::Ar)
        );

        // Demoting the only owner is refused and changes nothing.
        let lina = all[0].id;
        let mut tx = db.begin().await.unwrap();
        assert!(
            set_role(&mut tx, lina, Role::Editor, false, 5)
                .await
                .is_err()
        );
        drop(tx);
        let mut c = db.acquire().await.unwrap();
        assert_eq!(
            by_id(c.conn(), lina).await.unwrap().unwrap().role,
            Role::Owner
        );
        // A disabled account cannot sign in and is not told about drafts.
        drop(c);
        let mut tx = db.begin().await.unwrap();
        set_role(&mut tx, sami, Role::Author, true, 6)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(credentials(db, "sami@example.org").await.unwrap().is_none());
        assert_eq!(emails(db).await.unwrap(), ["lina@example.org"]);
    }
}
