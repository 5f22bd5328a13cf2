//! The audience domain: who receives the newsletter and on what consent. Subscribers, double opt-in,
//! preferences, unsubscribing, erasure and the suppression list, rate limits on sign-ups, and CSV
//! import and export of subscriber lists.

pub mod bounces;
pub mod csv_io;
pub mod directory;
pub mod email;
pub mod figures;
pub mod recipients;
pub mod segments;
pub mod subscribers;
pub mod throttle;

#[derive(Debug, thiserror::Error)]
pub enum AudienceError {
    #[error("{0}")]
    Email(#[from] email::EmailError),
    #[error("too many requests; try again later")]
    RateLimited,
    #[error("line {line}: {reason}")]
    Csv { line: u64, reason: String },
    #[error("no such subscriber")]
    NotFound,
    #[error("stored data does not read: {0}")]
    Stored(String),
    #[error(transparent)]
    Store(#[from] jarida_store::StoreError),
    #[error(transparent)]
    Mail(#[from] jarida_mail::MailError),
}
