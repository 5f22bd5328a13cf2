//! The settings an owner changes in the admin, as the web side reaches them. The configuration (the
//! file, its defaults, what each key may hold) belongs to the binary, so the admin asks it through
//! [`SettingsHost`]: to check a change before it is stored, to say where a value comes from, to
//! apply what is stored, and for the mail settings (relays and their check, DKIM keys).

use std::future::Future;
use std::pin::Pin;

pub use jarida_mail::probe::{Stage, Step};
pub use jarida_store::settings::Stored;

/// A newsletter's fields an owner may change (`newsletters.<slug>.<field>`), in the form's order.
pub const NEWSLETTER_FIELDS: &[&str] = &[
    "name",
    "cadence",
    "timezone",
    "from_name",
    "from_address",
    "reply_to",
    "langs",
    "fallback",
    "auto_send",
    "editors",
];

/// A boxed future, for the host's async methods (the trait is used as an object).
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A setting the configuration refused: its key and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {why}")]
pub struct SettingError {
    pub key: String,
    pub why: String,
}

/// A relay mail goes through, as the admin shows it (never its password).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RelayInfo {
    /// What it carries: `newsletters`, `site` (confirmations and notices) or both.
    pub carries: String,
    pub host: String,
    pub port: u16,
    pub tls: String,
    pub username: String,
    /// The configuration key it is set under (`mail.smtp_host`, `delivery.relays[0]`).
    pub key: String,
}

/// One DNS record to publish for a DKIM key.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DnsRecord {
    pub algorithm: String,
    /// `<selector>._domainkey.<domain>`.
    pub name: String,
    /// The TXT value.
    pub value: String,
}

/// The DKIM signing set-up.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DkimStatus {
    pub enabled: bool,
    pub domain: String,
    pub selector: String,
    /// The records of the keys signed with now (empty: no key yet).
    pub records: Vec<DnsRecord>,
    /// A rotation in progress: the next selector and its records.
    pub next_selector: String,
    pub next_records: Vec<DnsRecord>,
}

/// What the admin asks of the configuration; the binary implements it.
pub trait SettingsHost: Send + Sync {
    /// The whole configuration with `stored` laid over the file's values, as JSON; the first key
    /// the configuration refuses is named. A key that may not be set in the admin is refused too.
    fn values(&self, stored: &[Stored]) -> Result<serde_json::Value, SettingError>;

    /// Where `key`'s value comes from when nothing is stored for it: the configuration file's
    /// path, `environment` or `default`.
    fn base_source(&self, key: &str) -> String;

    /// Reads the stored settings and applies them in this process: the site, its emails, the
    /// newsletters, the DKIM signer.
    fn reload(&self) -> Pending<'_, Result<(), String>>;

    /// The relays, in the order they are used.
    fn relays(&self) -> Vec<RelayInfo>;

    /// Checks relay `index` (of [`SettingsHost::relays`]) without sending anything; `None` for an
    /// index that is not there.
    fn probe(&self, index: usize) -> Pending<'_, Option<Vec<Step>>>;

    /// The DKIM set-up as it is now.
    fn dkim(&self) -> Result<DkimStatus, String>;

    /// Makes the keys of `selector` (RSA-2048, and Ed25519 when it is on) unless they exist.
    fn dkim_generate(&self, selector: &str) -> Result<(), String>;

    /// Removes the key files of `selector` (a rotation given up). Never those signed with now.
    fn dkim_forget(&self, selector: &str) -> Result<(), String>;
}
