//! The newsroom's people: user accounts and their roles, passwords (argon2id), the admin's sessions,
//! one-time account links (invitations, password resets) and the audit log of what they did. Every
//! query on those tables lives here; the web side turns them into pages and the JSON API.

pub mod audit;
pub mod links;
pub mod password;
pub mod role;
pub mod sessions;
pub mod tokens;
pub mod totp;
pub mod users;

pub use role::Role;
pub use users::User;

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error(transparent)]
    Store(#[from] jarida_store::StoreError),
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// Another account already has this address.
    #[error("{0} already has an account")]
    Taken(String),
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl From<jarida_store::sqlx::Error> for AccountsError {
    fn from(e: jarida_store::sqlx::Error) -> Self {
        AccountsError::Store(e.into())
    }
}

/// SHA-256 of a token in hex: what the database keeps of every secret it is shown.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A fresh 256-bit random token in hex.
pub fn new_token() -> String {
    use rand::RngCore;
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    hex::encode(raw)
}
