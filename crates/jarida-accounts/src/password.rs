//! Passwords: argon2id with a random salt per hash. Checking a password for an address that has
//! no account still runs one full verification (against a hash made once per process), so a wrong
//! password and an unknown account take the same time.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::AccountsError;

/// Shortest password accepted.
pub const MIN_LEN: usize = 12;
/// Longest: argon2 takes any length, but a megabyte "password" is only a way to burn our CPU.
pub const MAX_LEN: usize = 1024;

/// Why a new password is refused, if it is.
pub fn check_new(password: &str) -> Result<(), AccountsError> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(AccountsError::Invalid {
            field: "password",
            reason: format!("use at least {MIN_LEN} characters"),
        });
    }
    if n > MAX_LEN {
        return Err(AccountsError::Invalid {
            field: "password",
            reason: format!("use at most {MAX_LEN} characters"),
        });
    }
    Ok(())
}

fn hash_now(password: &str) -> Result<String, AccountsError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    // Argon2::default() is argon2id v19 with OWASP's m=19 MiB, t=2, p=1.
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountsError::Hash(e.to_string()))
}

/// The argon2id hash of `password`, computed off the async threads.
pub async fn hash(password: String) -> Result<String, AccountsError> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| AccountsError::Hash(e.to_string()))?
}

fn dummy() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_now("no account has this password, it only spends the time a check takes")
            .unwrap_or_default()
    })
}

/// Whether `password` matches `stored` (an argon2 PHC string); with `stored` `None` (no such
/// account) the same work is done and the answer is false.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let h = stored.unwrap_or_else(|| dummy().to_string());
        let ok = PasswordHash::new(&h)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && known
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_accounts_never_match() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify("wrong horse battery".into(), Some(h)).await);
        // The dummy's own password does not open an account that does not exist.
        assert!(
            !verify(
                "no account has this password, it only spends the time a check takes".into(),
                None
            )
            .await
        );
        assert!(check_new("short").is_err());
        assert!(check_new("twelve chars").is_ok());
    }
}
