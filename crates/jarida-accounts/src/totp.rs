//! Two-factor sign-in with time-based one-time codes (RFC 6238: SHA-1, six digits, 30-second
//! steps, which every authenticator app reads), and ten one-time recovery codes for a lost phone.
//! A code is accepted one step early or late (clocks drift) and never twice: the last step used
//! is stored. Recovery codes are kept as SHA-256 hashes and burn when used.

use jarida_store::{Db, StoreError, Tx, q_exec, q_opt};
use totp_rs::{Builder, Secret, Totp};

use crate::token_hash;

const STEP: u64 = 30;

/// A fresh 160-bit secret in base32, as authenticator apps take it.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut raw = [0u8; 20];
    rand::rng().fill_bytes(&mut raw);
    Secret::from(raw).to_base32()
}

fn totp(secret_b32: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret_b32).ok()?;
    // SHA-1, six digits, 30 s: the defaults, and what every app expects.
    Builder::new()
        .with_secret(secret)
        .with_step_duration(STEP)
        .with_skew(1)
        .build()
        .ok()
}

/// The `otpauth://` URI an app can be given (as a link or a QR code) for this secret.
pub fn uri(secret_b32: &str, issuer: &str, account: &str) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode as enc};
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits=6&period={STEP}",
        enc(issuer, NON_ALPHANUMERIC),
        enc(account, NON_ALPHANUMERIC),
        enc(issuer, NON_ALPHANUMERIC)
    )
}

/// The code an app shows at `now` (tests, and the enrolment check).
pub fn code_at(secret_b32: &str, now: i64) -> Option<String> {
    totp(secret_b32).map(|t| t.generate(now.max(0) as u64).to_string())
}

/// The time step `code` belongs to, if it is right within a step of `now`.
pub fn matching_step(secret_b32: &str, code: &str, now: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // The library compares within one step either side and says which step matched.
    totp(secret_b32)?
        .check(&code, now.max(0) as u64)
        .map(|s| s as i64)
}

fn normalize_recovery(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Turns two-factor sign-in on with `secret` (which the user proved with a code) and returns ten
/// new recovery codes, shown once.
pub async fn enable(
    tx: &mut Tx,
    user_id: i64,
    secret: &str,
    step: i64,
) -> Result<Vec<String>, StoreError> {
    q_exec!(
        tx.conn(),
        "UPDATE users SET totp_secret = $1, totp_last_step = $2 WHERE id = $3",
        secret,
        step,
        user_id
    )?;
    q_exec!(
        tx.conn(),
        "DELETE FROM recovery_codes WHERE user_id = $1",
        user_id
    )?;
    let mut codes = Vec::new();
    for _ in 0..10 {
        let raw = crate::new_token();
        let code = format!("{}-{}", &raw[..5], &raw[5..10]);
        q_exec!(
            tx.conn(),
            "INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)",
            user_id,
            token_hash(&normalize_recovery(&code))
        )?;
        codes.push(code);
    }
    Ok(codes)
}

pub async fn disable(tx: &mut Tx, user_id: i64) -> Result<(), StoreError> {
    q_exec!(
        tx.conn(),
        "UPDATE users SET totp_secret = NULL, totp_last_step = 0 WHERE id = $1",
        user_id
    )?;
    q_exec!(
        tx.conn(),
        "DELETE FROM recovery_codes WHERE user_id = $1",
        user_id
    )?;
    Ok(())
}

/// Checks the second factor of a sign-in: a current code not used before, or an unused
/// recovery code (which is burnt).
pub async fn check_signin(db: &Db, user_id: i64, code: &str, now: i64) -> Result<bool, StoreError> {
    let mut tx = db.begin().await?;
    let row: Option<(Option<String>, i64)> = q_opt!(
        tx.conn(),
        (Option<String>, i64),
        "SELECT totp_secret, totp_last_step FROM users WHERE id = $1",
        user_id
    )?;
    let Some((Some(secret), last)) = row else {
        return Ok(false);
    };
    if let Some(step) = matching_step(&secret, code, now) {
        if step <= last {
            return Ok(false);
        }
        let n = q_exec!(
            tx.conn(),
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step = $3",
            step,
            user_id,
            last
        )?;
        tx.commit().await?;
        return Ok(n == 1);
    }
    let n = q_exec!(
        tx.conn(),
        "DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2",
        user_id,
        token_hash(&normalize_recovery(code))
    )?;
    tx.commit().await?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vector_and_drift() {
        // RFC 6238 appendix B, SHA-1 key "12345678901234567890" at T = 59: 94287082 (8 digits);
        // six digits are its last six.
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        assert_eq!(code_at(&secret, 59).unwrap(), "287082");
        assert_eq!(matching_step(&secret, "287082", 59), Some(1));
        assert_eq!(
            matching_step(&secret, "287 082", 80),
            Some(1),
            "one step late"
        );
        assert_eq!(matching_step(&secret, "287082", 200), None);
        assert_eq!(matching_step(&secret, "28708", 59), None);
    }

    #[tokio::test]
    async fn codes_work_once_and_recovery_codes_burn() {
        let f = jarida_testing::fresh_db().await;
        let db = &f.db;
        let mut tx = db.begin().await.unwrap();
        crate::users::create_first_owner(&mut tx, "Lina", "lina@example.org", "h", 0)
            .await
            .unwrap();
        let id = crate::users::credentials_in(&mut tx, "lina@example.org")
            .await
            .unwrap();
        let secret = new_secret();
        let codes = enable(&mut tx, id, &secret, 0).await.unwrap();
        tx.commit().await.unwrap();
        let now = 1_800_000_000;
        let code = code_at(&secret, now).unwrap();
        assert!(check_signin(db, id, &code, now).await.unwrap());
        assert!(
            !check_signin(db, id, &code, now + 1).await.unwrap(),
            "replayed"
        );
        assert!(!check_signin(db, id, "000000", now).await.unwrap() || code == "000000");
        assert_eq!(codes.len(), 10);
        assert!(
            check_signin(db, id, &codes[3].to_uppercase(), now)
                .await
                .unwrap()
        );
        assert!(
            !check_signin(db, id, &codes[3], now).await.unwrap(),
            "burnt"
        );
    }
}
