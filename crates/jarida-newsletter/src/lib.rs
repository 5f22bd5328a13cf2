//! The newsletter domain: newsletters and their cadence, editions composed from the site's own posts
//! (per reader language, with a corrections section), the email rendering (MJML through mrml, plus
//! plain text), and the delivery ledger with the workers that drain it crash-safe over SMTP.

pub mod bounces;
pub mod bulk;
pub mod deliver;
pub mod editions;
pub mod erasure;
pub mod render;
pub mod scheduler;

use std::str::FromStr;

/// What a language without posts in the period gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Its readers receive nothing this time.
    Skip,
    /// Its readers receive the edition of the other language.
    Other,
}

impl Fallback {
    pub fn parse(s: &str) -> Option<Fallback> {
        match s {
            "skip" => Some(Fallback::Skip),
            "other" | "other-language" => Some(Fallback::Other),
            _ => None,
        }
    }
}

/// One newsletter as configured.
#[derive(Debug, Clone)]
pub struct Newsletter {
    pub slug: String,
    pub name: String,
    pub cadence: croner::Cron,
    pub timezone: jiff::tz::TimeZone,
    pub from_name: String,
    pub from_address: String,
    pub reply_to: Option<String>,
    pub langs: Vec<jarida_core::Lang>,
    /// Send as soon as composed instead of waiting for an editor's approval.
    pub auto_send: bool,
    pub fallback: Fallback,
    /// Who is told that a draft is ready.
    pub editors: Vec<String>,
}

/// Parses a cron expression (five fields, or six with seconds) with a message fit for a config error.
pub fn parse_cadence(s: &str) -> Result<croner::Cron, String> {
    croner::Cron::from_str(s).map_err(|e| format!("{s:?} is not a cron expression: {e}"))
}

/// Parses an IANA time zone name (`Asia/Amman`, `UTC`).
pub fn parse_timezone(s: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::TimeZone::get(s).map_err(|e| format!("{s:?} is not a time zone: {e}"))
}

#[derive(Debug, thiserror::Error)]
pub enum NewsletterError {
    #[error("no such newsletter: {0}")]
    NoNewsletter(String),
    #[error("no such edition: {0}")]
    NoEdition(jarida_core::EditionId),
    #[error("edition {id} is {status}: {why}")]
    State {
        id: jarida_core::EditionId,
        status: editions::EditionStatus,
        why: &'static str,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("rendering the edition: {0}")]
    Render(String),
    #[error(transparent)]
    Content(#[from] jarida_content::ContentError),
    #[error(transparent)]
    Audience(#[from] jarida_audience::AudienceError),
    #[error(transparent)]
    Mail(#[from] jarida_mail::MailError),
    #[error(transparent)]
    Store(#[from] jarida_store::StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
