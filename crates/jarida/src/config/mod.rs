//! Configuration: built-in defaults, then `jarida.toml`, then `JARIDA_*` environment variables
//! (nested keys with `__`, e.g. `JARIDA_SITE__NAME_EN`). Every key, its default and where its value came
//! from is printed by `jarida config`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub mod values;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use jarida_core::{EmailAddress, Lang};
use jarida_web::Provider;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Folder for the SQLite database, media, outbox and keys; created on first start.
    pub data_dir: PathBuf,
    /// Address the web server listens on.
    pub listen: String,
    /// Public URL of the site (links in pages, feeds and emails). Empty: `http://<listen>`.
    pub base_url: String,
    /// `postgres://…` to use PostgreSQL. Empty: SQLite at `<data_dir>/jarida.db`.
    pub database_url: String,
    /// Language of `/` and of the x-default alternates: `en` or `ar`.
    pub default_lang: jarida_core::Lang,
    /// Posts per listing page.
    pub per_page: i64,
    /// Log filter (tracing's `EnvFilter` syntax); `RUST_LOG` overrides it.
    pub log: String,
    /// Behind a reverse proxy: the request header holding the client's address (`X-Forwarded-For`,
    /// `X-Real-IP`), used for rate limits and consent records. Empty: the connecting socket.
    pub client_ip_header: String,
    pub site: SiteSection,
    pub support: SupportSection,
    pub cache: CacheSection,
    pub server: ServerSection,
    pub mail: MailSection,
    pub signup: SignupSection,
    pub api: ApiSection,
    pub admin: AdminSection,
    /// Newsletters by slug; `main` is the one the sign-up form subscribes readers to.
    pub newsletters: std::collections::BTreeMap<String, NewsletterSection>,
    pub delivery: DeliverySection,
    pub dkim: DkimSection,
    pub bounces: BouncesSection,
    /// Where each key's value came from (a file's path, `environment`); keys not in it are at their
    /// default. Filled by [`load`]; not configuration itself.
    #[serde(skip)]
    pub sources: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NewsletterSection {
    /// Shown in the email and in `List-Id`. Empty: "<site name> newsletter".
    pub name: String,
    /// When a draft edition is composed: a cron expression (minute hour day-of-month month
    /// day-of-week) in `timezone`. Default: the 1st and the 15th at 09:00.
    pub cadence: values::Cadence,
    /// The newsroom's time zone (IANA name).
    pub timezone: values::Zone,
    /// Sender. Empty: the `mail` section's.
    pub from_name: String,
    #[serde(with = "values::optional_address")]
    pub from_address: Option<EmailAddress>,
    #[serde(with = "values::optional_address")]
    pub reply_to: Option<EmailAddress>,
    /// Languages it is written in.
    pub langs: Vec<Lang>,
    /// Send as soon as composed, without waiting for an editor's approval.
    pub auto_send: bool,
    /// For readers of a language without posts in the period: `other` (the other language's
    /// edition) or `skip` (nothing this time).
    pub fallback: values::FallbackRule,
    /// Addresses told that a draft is ready. Empty: the site's owner and editors.
    pub editors: Vec<EmailAddress>,
}

impl Default for NewsletterSection {
    fn default() -> Self {
        NewsletterSection {
            name: String::new(),
            cadence: "0 9 1,15 * *".parse().expect("the default cadence parses"),
            timezone: "UTC".parse().expect("UTC is a time zone"),
            from_name: String::new(),
            from_address: None,
            reply_to: None,
            langs: Lang::ALL.to_vec(),
            auto_send: false,
            fallback: "other".parse().expect("the default fallback parses"),
            editors: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySection {
    /// Run the delivery workers and the edition scheduler inside `jarida serve`.
    pub enabled: bool,
    /// SMTP relays for newsletters. Empty: the `mail` section's relay, or with none configured,
    /// `<data_dir>/outbox/edition-<id>/`.
    pub relays: Vec<RelaySection>,
    /// Connections to the `mail` section's relay when `relays` is empty. Each connection waits
    /// for the relay's answers (the 354 before the body, the 250 after it) with one message in
    /// flight, so throughput grows with connections until the CPU is busy: 16 measured 11-24% faster
    /// than 8 against a local relay (docs/benchmarks.md).
    pub connections: usize,
    /// Messages per second across the process; 0: no limit.
    pub rate_per_second: u32,
    /// Messages in flight to one recipient domain at a time.
    pub per_domain: usize,
    /// First retry after a 4xx reply, doubled at each attempt.
    pub retry_base_seconds: u64,
    /// A deferred message is given up this long after its first attempt.
    pub retry_horizon_hours: u64,
    /// Rows claimed by a worker stay reserved this long; a crashed worker's rows return after it.
    pub lease_seconds: u64,
    /// Rows claimed at once.
    pub batch: usize,
    /// Seconds between looks for work when idle.
    pub poll_seconds: f64,
    /// Domain of the VERP return path (`b+<token>@<domain>`). Empty: the sender's domain.
    pub bounce_domain: String,
}

impl Default for DeliverySection {
    fn default() -> Self {
        DeliverySection {
            enabled: true,
            relays: Vec::new(),
            connections: 16,
            rate_per_second: 0,
            per_domain: 8,
            retry_base_seconds: 300,
            retry_horizon_hours: 48,
            lease_seconds: 300,
            batch: 500,
            poll_seconds: 5.0,
            bounce_domain: String::new(),
        }
    }
}

/// What comes back for the mail we send: the policy's numbers, and the built-in receiver.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BouncesSection {
    /// Soft bounces (a full mailbox, a temporary refusal) within `soft_days` that make a reader
    /// bounced.
    pub soft_limit: i64,
    /// How long a soft bounce counts.
    pub soft_days: i64,
    /// An edition is judged once this many of its messages went out, and paused when more than
    /// `pause_hard_percent` of them bounced hard (a stale list imported from elsewhere).
    pub pause_after: i64,
    pub pause_hard_percent: f64,
    /// Mail sent to the bounce domain reaches jarida (its receiver, or `jarida bounces ingest`
    /// as the MTA's pipe): newsletters then also offer `mailto:` unsubscribing in
    /// `List-Unsubscribe`. On by itself when `listen` is set.
    pub mailto_unsubscribe: bool,
    /// The built-in receiver's address (`0.0.0.0:25`; the bounce domain's MX points here).
    /// Empty: no receiver. It runs in `jarida serve` and in `jarida worker`.
    pub listen: String,
    /// The name it greets with. Empty: the bounce domain.
    pub hostname: String,
    /// PEM certificate chain and private key: STARTTLS is offered when both are set. Relative
    /// paths are in the data folder.
    pub tls_cert: String,
    pub tls_key: String,
    /// Larger messages are refused.
    pub max_message_kb: usize,
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections one client (an address, an IPv6 /64) holds at once.
    pub max_connections_per_client: usize,
    /// Relays' webhooks for returned mail and complaints, each at
    /// `/hooks/bounces/<relay>/<path_secret>`.
    pub webhooks: WebhooksSection,
    /// A mailbox returned mail is polled from over IMAP.
    pub imap: ImapSection,
}

/// A mailbox polled for returned mail (the bounce address is a mailbox at the newsroom's mail
/// host); an empty `host`: none. `jarida serve` and `jarida worker` poll it (one poll per
/// interval among them); `jarida bounces poll` polls once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ImapSection {
    pub host: String,
    /// 993: TLS from the start; with `starttls`, usually 143.
    pub port: u16,
    pub starttls: bool,
    pub user: String,
    pub password: String,
    pub folder: String,
    /// A folder taken messages are moved to; empty: they are deleted.
    pub processed: String,
    pub every_seconds: u64,
    /// A PEM file of certificates to trust instead of the system's (a server with a private or
    /// self-signed certificate). Relative paths are in the data folder.
    pub ca_file: String,
}

impl Default for ImapSection {
    fn default() -> Self {
        ImapSection {
            host: String::new(),
            port: 993,
            starttls: false,
            user: String::new(),
            password: String::new(),
            folder: "INBOX".into(),
            processed: String::new(),
            every_seconds: 60,
            ca_file: String::new(),
        }
    }
}

/// The relays whose webhooks are taken; a relay left out (or with an empty `path_secret`) has none.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksSection {
    pub mailgun: WebhookSection,
    pub sendgrid: WebhookSection,
    pub postmark: WebhookSection,
    /// Amazon SES through an SNS topic: `key` holds the topic's ARN.
    pub ses: WebhookSection,
}

/// One relay's webhook.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSection {
    /// The secret last part of the webhook's URL (at least 24 letters, digits, `-` or `_`).
    pub path_secret: String,
    /// Mailgun: the HTTP webhook signing key. SendGrid: the signed event webhook's verification
    /// key. Postmark: `user:password`, the basic authentication put in the webhook's URL. SES:
    /// the SNS topic's ARN (several separated by commas).
    pub key: String,
}

impl WebhooksSection {
    /// The webhooks configured.
    pub fn hooks(&self) -> Vec<jarida_newsletter::bounces::hooks::Hook> {
        use jarida_newsletter::bounces::hooks::{Hook, Provider};
        [
            (Provider::Mailgun, &self.mailgun),
            (Provider::SendGrid, &self.sendgrid),
            (Provider::Postmark, &self.postmark),
            (Provider::Ses, &self.ses),
        ]
        .into_iter()
        .filter(|(_, w)| !w.path_secret.is_empty())
        .map(|(provider, w)| Hook {
            provider,
            path: w.path_secret.clone(),
            key: w.key.clone(),
        })
        .collect()
    }
}

impl Default for BouncesSection {
    fn default() -> Self {
        BouncesSection {
            soft_limit: 3,
            soft_days: 7,
            pause_after: 1000,
            pause_hard_percent: 5.0,
            mailto_unsubscribe: false,
            listen: String::new(),
            hostname: String::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
            max_message_kb: 10 * 1024,
            max_connections: 64,
            max_connections_per_client: 8,
            webhooks: WebhooksSection::default(),
            imap: ImapSection::default(),
        }
    }
}

impl BouncesSection {
    pub fn rules(&self) -> jarida_newsletter::bounces::Rules {
        jarida_newsletter::bounces::Rules {
            policy: jarida_audience::bounces::Policy {
                soft_limit: self.soft_limit,
                soft_window: self.soft_days * 86_400,
            },
            pause_after: self.pause_after,
            pause_hard_percent: self.pause_hard_percent,
            mailto_unsubscribe: self.mailto_unsubscribe || !self.listen.is_empty(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RelaySection {
    pub host: String,
    pub port: u16,
    /// `none`, `starttls` or `implicit`.
    pub tls: values::Tls,
    pub username: String,
    pub password: String,
    pub max_connections: usize,
    pub accept_invalid_certs: bool,
}

impl Default for RelaySection {
    fn default() -> Self {
        RelaySection {
            host: String::new(),
            port: 587,
            tls: "starttls".parse().expect("the default TLS mode parses"),
            username: String::new(),
            password: String::new(),
            max_connections: 16,
            accept_invalid_certs: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DkimSection {
    /// Sign newsletters with the keys `jarida dkim generate` made (`<data_dir>/keys/dkim-*.pem`).
    pub enabled: bool,
    /// The signing domain (`d=`). Empty: the sender's domain.
    pub domain: String,
    pub selector: String,
    /// A selector whose keys are made but not yet signed with (a rotation in progress: its DNS
    /// records are published first, then signing switches to it). Set by the admin.
    pub next_selector: String,
    /// Add a second, Ed25519 signature (RFC 8463) when its key exists.
    pub ed25519: bool,
}

impl Default for DkimSection {
    fn default() -> Self {
        DkimSection {
            enabled: true,
            domain: String::new(),
            selector: "jarida".into(),
            next_selector: String::new(),
            ed25519: true,
        }
    }
}

/// The admin's sessions and sign-in rules.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    /// Hours a session may sit unused before it ends.
    pub session_idle_hours: i64,
    /// Days a session lasts at most, however much it is used.
    pub session_max_days: i64,
    /// Owners and editors must turn on two-factor sign-in before they can use the admin.
    pub require_totp: bool,
}

impl Default for AdminSection {
    fn default() -> Self {
        AdminSection {
            session_idle_hours: 24,
            session_max_days: 14,
            require_totp: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSection {
    /// Bearer token for the administrative API (subscriber import). Empty: that API is off.
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MailSection {
    /// Sender name of transactional email. Empty: the English site name.
    pub from_name: String,
    /// Sender address. Empty: `newsletter@<host of base_url>`.
    #[serde(with = "values::optional_address")]
    pub from_address: Option<EmailAddress>,
    #[serde(with = "values::optional_address")]
    pub reply_to: Option<EmailAddress>,
    /// SMTP relay. Empty: messages are written to `<data_dir>/outbox/` as `.eml` files.
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `none`, `starttls` or `implicit`.
    pub smtp_tls: values::Tls,
    pub smtp_username: String,
    pub smtp_password: String,
    /// Accept a relay's self-signed certificate (test relays only).
    pub smtp_accept_invalid_certs: bool,
}

impl Default for MailSection {
    fn default() -> Self {
        MailSection {
            from_name: String::new(),
            from_address: None,
            reply_to: None,
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_tls: "starttls".parse().expect("the default TLS mode parses"),
            smtp_username: String::new(),
            smtp_password: String::new(),
            smtp_accept_invalid_certs: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SignupSection {
    /// Sign-ups accepted from one IP address per hour.
    pub per_ip_per_hour: i64,
    /// Emails one address receives per day however many sign-ups name it.
    pub per_address_per_day: i64,
    /// Hours a confirmation link stays valid.
    pub confirm_hours: i64,
}

impl Default for SignupSection {
    fn default() -> Self {
        SignupSection {
            per_ip_per_hour: 20,
            per_address_per_day: 3,
            confirm_hours: 48,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SiteSection {
    pub name_en: String,
    pub name_ar: String,
    pub description_en: String,
    pub description_ar: String,
    /// The newsroom's time zone (IANA name): the times the site shows (an article's update) are in it.
    pub timezone: values::Zone,
    /// How the interface writes numbers on English pages: `western` or `arabic-indic`.
    pub digits_en: jarida_core::Digits,
    /// How the interface writes numbers on Arabic pages: `arabic-indic` or `western`.
    pub digits_ar: jarida_core::Digits,
    /// The site's icon (SVG, PNG or ICO); a path, relative ones in the data folder. Empty: the theme's.
    pub favicon: String,
    /// The image a shared link to a page without a cover shows (PNG or JPEG, ideally 1200×630).
    /// Empty: the theme's.
    pub social_image: String,
    /// The logo in the site's header and atop emails: an image of the media library
    /// (`/media/…`), usually uploaded in the admin's settings. Empty: the site's name as text.
    pub logo: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SupportSection {
    /// Donation providers shown on the support page: `{ name, url, note }`.
    pub providers: Vec<Provider>,
    /// Bank transfer details, shown as written.
    pub bank_details: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSection {
    /// Most pages kept in memory; past it the least recently used go.
    pub max_pages: usize,
    /// Most megabytes of pages (every encoding) kept in memory; past it the least recently used go.
    pub max_megabytes: usize,
    /// Seconds between checks for content changes and scheduled posts that are due.
    pub refresh_seconds: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./jarida-data"),
            listen: "127.0.0.1:8080".into(),
            base_url: String::new(),
            database_url: String::new(),
            default_lang: jarida_core::Lang::En,
            per_page: 12,
            log: "info".into(),
            client_ip_header: String::new(),
            site: SiteSection::default(),
            support: SupportSection::default(),
            cache: CacheSection::default(),
            server: ServerSection::default(),
            mail: MailSection::default(),
            signup: SignupSection::default(),
            api: ApiSection::default(),
            admin: AdminSection::default(),
            newsletters: [("main".to_string(), NewsletterSection::default())]
                .into_iter()
                .collect(),
            delivery: DeliverySection::default(),
            dkim: DkimSection::default(),
            bounces: BouncesSection::default(),
            sources: Default::default(),
        }
    }
}

impl Default for SiteSection {
    fn default() -> Self {
        SiteSection {
            name_en: "Jarida".into(),
            name_ar: "جريدة".into(),
            description_en: "Independent reporting, supported by readers.".into(),
            description_ar: "صحافة مستقلة يدعمها القرّاء.".into(),
            timezone: "UTC".parse().expect("UTC is a time zone"),
            digits_en: jarida_core::Lang::En.default_digits(),
            digits_ar: jarida_core::Lang::Ar.default_digits(),
            favicon: String::new(),
            social_image: String::new(),
            logo: String::new(),
        }
    }
}

/// What a client may hold of the HTTP server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Seconds a connection may take to send a request's headers (or sit idle) before it is closed.
    pub header_timeout_seconds: u64,
    /// Seconds a form or API request (its body included) may take before it gets a 408.
    pub request_timeout_seconds: u64,
    /// Connections open at once; more wait in the listen queue.
    pub max_connections: usize,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            header_timeout_seconds: 10,
            request_timeout_seconds: 30,
            max_connections: 1024,
        }
    }
}

impl Config {
    pub fn server_limits(&self) -> jarida_web::server::Limits {
        jarida_web::server::Limits {
            header_timeout: std::time::Duration::from_secs(self.server.header_timeout_seconds),
            request_timeout: std::time::Duration::from_secs(self.server.request_timeout_seconds),
            max_connections: self.server.max_connections,
            stall_timeout: std::time::Duration::from_secs(self.server.request_timeout_seconds),
            ..Default::default()
        }
    }
}

impl Default for CacheSection {
    fn default() -> Self {
        CacheSection {
            max_pages: 20_000,
            max_megabytes: 64,
            refresh_seconds: 2,
        }
    }
}

/// A configuration problem: which key, what is wrong. Exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Where configuration is read from.
pub struct Sources {
    pub file: PathBuf,
    /// The file was named explicitly, so it must exist.
    pub explicit: bool,
}

fn figment(src: &Sources) -> Result<Figment, ConfigError> {
    if src.explicit && !src.file.is_file() {
        return Err(ConfigError(format!(
            "file {} does not exist",
            src.file.display()
        )));
    }
    let known = known_env_keys();
    Ok(Figment::from(Serialized::defaults(Config::default()))
        .merge(Toml::file(&src.file))
        .merge(
            Env::prefixed("JARIDA_")
                .split("__")
                .filter(move |k| known.iter().any(|x| x.eq_ignore_ascii_case(k.as_str()))),
        ))
}

/// Dotted keys (`site.name_en`) that environment variables may set; others, such as the test suite's
/// `JARIDA_TEST_DATABASE_URL`, are not configuration.
fn known_env_keys() -> Vec<String> {
    flatten(&toml::Value::try_from(Config::default()).expect("defaults serialize"))
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

pub fn load(src: &Sources) -> Result<Config, ConfigError> {
    let fig = figment(src)?;
    let mut cfg: Config = fig.extract().map_err(|e| {
        let e = e.into_iter().next().map(|e| {
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!("key `{}`: ", e.path.join("."))
            };
            let from = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", source_name(m)))
                .unwrap_or_default();
            format!("{key}{}{from}", e.kind)
        });
        ConfigError(e.unwrap_or_else(|| "unreadable".into()))
    })?;
    // A value that parsed but is out of range is named with the file (or variable) it came from,
    // as a value that did not parse is.
    cfg.validate().map_err(|(key, why)| {
        let from = fig
            .find_metadata(&key)
            .map(|m| format!(" (from {})", source_name(m)))
            .unwrap_or_default();
        ConfigError(format!("key `{key}`: {why}{from}"))
    })?;
    let keys = flatten(&toml::Value::try_from(&cfg).map_err(|e| ConfigError(e.to_string()))?);
    for (key, _) in keys {
        if let Some(m) = fig.find_metadata(&key) {
            let from = source_name(m);
            if from != "default" {
                cfg.sources.insert(key, from);
            }
        }
    }
    Ok(cfg)
}

fn source_name(m: &figment::Metadata) -> String {
    match &m.source {
        Some(figment::Source::File(p)) => p.display().to_string(),
        _ if m.name.contains("environment") => "environment".into(),
        _ => "default".into(),
    }
}

impl Config {
    /// Range and consistency checks of values that parsed; an error names its key.
    pub(crate) fn validate(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, why: String| Err((k.to_string(), why));
        if self.bounces.soft_limit < 1 {
            return bad("bounces.soft_limit", "must be at least 1".into());
        }
        if self.bounces.soft_days < 1 {
            return bad("bounces.soft_days", "must be at least 1".into());
        }
        if !self.bounces.listen.is_empty() && self.bounces.listen.parse::<SocketAddr>().is_err() {
            return bad(
                "bounces.listen",
                format!(
                    "{:?} is not an address such as 0.0.0.0:25",
                    self.bounces.listen
                ),
            );
        }
        if self.bounces.tls_cert.is_empty() != self.bounces.tls_key.is_empty() {
            return bad(
                "bounces.tls_cert",
                "tls_cert and tls_key are set together".into(),
            );
        }
        if self.bounces.max_message_kb == 0
            || self.bounces.max_connections == 0
            || self.bounces.max_connections_per_client == 0
        {
            return bad(
                "bounces.max_message_kb",
                "max_message_kb, max_connections and max_connections_per_client must be above 0"
                    .into(),
            );
        }
        let imap = &self.bounces.imap;
        if !imap.host.is_empty() {
            if imap.user.is_empty() || imap.password.is_empty() {
                return bad(
                    "bounces.imap.user",
                    "user and password are needed with a host".into(),
                );
            }
            if imap.port == 0 || imap.folder.trim().is_empty() {
                return bad(
                    "bounces.imap.port",
                    "port and folder must be set (993 and INBOX by default)".into(),
                );
            }
            if imap.every_seconds < 5 {
                return bad("bounces.imap.every_seconds", "must be at least 5".into());
            }
        }
        for (name, w) in [
            ("mailgun", &self.bounces.webhooks.mailgun),
            ("sendgrid", &self.bounces.webhooks.sendgrid),
            ("postmark", &self.bounces.webhooks.postmark),
            ("ses", &self.bounces.webhooks.ses),
        ] {
            let p = &w.path_secret;
            if p.is_empty() && w.key.is_empty() {
                continue;
            }
            if p.len() < 24
                || !p
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return bad(
                    &format!("bounces.webhooks.{name}.path_secret"),
                    "must be at least 24 letters, digits, - or _ (for example the output of \
                     `openssl rand -hex 16`)"
                        .into(),
                );
            }
            let provider = jarida_newsletter::bounces::hooks::Provider::from_slug(name);
            if let Some(Err(e)) =
                provider.map(|p| jarida_newsletter::bounces::hooks::check_key(p, &w.key))
            {
                return bad(&format!("bounces.webhooks.{name}.key"), e.to_string());
            }
        }
        if !(0.0..=100.0).contains(&self.bounces.pause_hard_percent) {
            return bad(
                "bounces.pause_hard_percent",
                "must be between 0 and 100".into(),
            );
        }
        if self.listen.parse::<SocketAddr>().is_err() {
            return bad(
                "listen",
                format!("{:?} is not an address such as 127.0.0.1:8080", self.listen),
            );
        }
        if !(self.base_url.is_empty()
            || self.base_url.starts_with("http://")
            || self.base_url.starts_with("https://"))
        {
            return bad(
                "base_url",
                format!("{:?} must start with http:// or https://", self.base_url),
            );
        }
        if !self.database_url.is_empty()
            && !["postgres://", "postgresql://", "sqlite://"]
                .iter()
                .any(|p| self.database_url.starts_with(p))
        {
            return bad(
                "database_url",
                "must start with postgres:// or sqlite://".into(),
            );
        }
        for (key, path, exts) in [
            (
                "site.favicon",
                &self.site.favicon,
                &["svg", "png", "ico"][..],
            ),
            (
                "site.social_image",
                &self.site.social_image,
                &["png", "jpg", "jpeg"][..],
            ),
        ] {
            let ext = Path::new(path)
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .unwrap_or_default();
            if !path.is_empty() && !exts.contains(&ext.as_str()) {
                return bad(
                    key,
                    format!("{path:?} is not a file of type {}", exts.join(", ")),
                );
            }
        }
        for (key, name) in [
            ("site.name_en", &self.site.name_en),
            ("site.name_ar", &self.site.name_ar),
        ] {
            if name.trim().is_empty() {
                return bad(key, "must not be empty".into());
            }
        }
        if !(self.site.logo.is_empty() || self.site.logo.starts_with("/media/")) {
            return bad(
                "site.logo",
                format!(
                    "{:?} is not an image of the media library (/media/…)",
                    self.site.logo
                ),
            );
        }
        for (key, sel) in [
            ("dkim.selector", &self.dkim.selector),
            ("dkim.next_selector", &self.dkim.next_selector),
        ] {
            let fine = sel
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !fine || sel.len() > 63 || (key == "dkim.selector" && sel.is_empty()) {
                return bad(
                    key,
                    format!("{sel:?} is not a DNS label (a-z, 0-9, -; at most 63)"),
                );
            }
        }
        if !(1..=100).contains(&self.per_page) {
            return bad(
                "per_page",
                format!("{} is not between 1 and 100", self.per_page),
            );
        }
        if self.cache.refresh_seconds == 0 || self.cache.refresh_seconds > 3600 {
            return bad(
                "cache.refresh_seconds",
                format!("{} is not between 1 and 3600", self.cache.refresh_seconds),
            );
        }
        for (key, v) in [
            (
                "server.header_timeout_seconds",
                self.server.header_timeout_seconds,
            ),
            (
                "server.request_timeout_seconds",
                self.server.request_timeout_seconds,
            ),
        ] {
            if v == 0 || v > 3600 {
                return bad(key, format!("{v} is not between 1 and 3600"));
            }
        }
        if self.server.max_connections == 0 || self.server.max_connections > 1_000_000 {
            return bad(
                "server.max_connections",
                format!(
                    "{} is not between 1 and 1000000",
                    self.server.max_connections
                ),
            );
        }
        if self.cache.max_pages == 0 {
            return bad("cache.max_pages", "must be at least 1".into());
        }
        if self.cache.max_megabytes == 0 || self.cache.max_megabytes > 1 << 20 {
            return bad(
                "cache.max_megabytes",
                format!("{} is not between 1 and 1048576", self.cache.max_megabytes),
            );
        }
        for (i, p) in self.support.providers.iter().enumerate() {
            if !p.url.starts_with("https://") && !p.url.starts_with("http://") {
                return bad(
                    &format!("support.providers[{i}].url"),
                    format!("{:?} must start with https://", p.url),
                );
            }
        }
        if !self.api.token.is_empty() && self.api.token.len() < 32 {
            return bad(
                "api.token",
                "must be at least 32 characters (or empty to turn the API off)".into(),
            );
        }
        for (k, v) in [
            ("admin.session_idle_hours", self.admin.session_idle_hours),
            ("admin.session_max_days", self.admin.session_max_days),
            ("signup.per_ip_per_hour", self.signup.per_ip_per_hour),
            (
                "signup.per_address_per_day",
                self.signup.per_address_per_day,
            ),
            ("signup.confirm_hours", self.signup.confirm_hours),
        ] {
            if v < 1 {
                return bad(k, format!("{v} must be at least 1"));
            }
        }
        for (slug, n) in &self.newsletters {
            let k = |f: &str| format!("newsletters.{slug}.{f}");
            if jarida_content::check_slug(slug).is_err() {
                return bad(
                    &format!("newsletters.{slug}"),
                    "the name must be a slug (a-z, 0-9, -)".into(),
                );
            }
            if n.langs.is_empty() {
                return bad(&k("langs"), "must name at least one language".into());
            }
        }
        if !self.newsletters.contains_key("main") {
            return bad(
                "newsletters",
                "the `main` newsletter cannot be removed (sign-ups join it)".into(),
            );
        }
        for (i, r) in self.delivery.relays.iter().enumerate() {
            let k = |f: &str| format!("delivery.relays[{i}].{f}");
            if r.host.is_empty() {
                return bad(&k("host"), "must not be empty".into());
            }
            if !(1..=100).contains(&r.max_connections) {
                return bad(&k("max_connections"), "must be between 1 and 100".into());
            }
        }
        let d = &self.delivery;
        for (k, v, lo, hi) in [
            ("delivery.connections", d.connections as u64, 1, 100),
            ("delivery.per_domain", d.per_domain as u64, 1, 1000),
            ("delivery.batch", d.batch as u64, 1, 10_000),
            ("delivery.lease_seconds", d.lease_seconds, 1, 86_400),
            (
                "delivery.retry_base_seconds",
                d.retry_base_seconds,
                1,
                86_400,
            ),
            (
                "delivery.retry_horizon_hours",
                d.retry_horizon_hours,
                1,
                24 * 30,
            ),
        ] {
            if !(lo..=hi).contains(&v) {
                return bad(k, format!("{v} is not between {lo} and {hi}"));
            }
        }
        if !(d.poll_seconds > 0.0 && d.poll_seconds <= 3600.0) {
            return bad(
                "delivery.poll_seconds",
                format!("{} is not between 0 and 3600", d.poll_seconds),
            );
        }
        if self.log.parse::<tracing_subscriber::EnvFilter>().is_err() {
            return bad(
                "log",
                format!(
                    "{:?} is not a log filter such as info or jarida=debug",
                    self.log
                ),
            );
        }
        Ok(())
    }

    pub fn base_url(&self) -> String {
        if self.base_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.base_url.trim_end_matches('/').to_string()
        }
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("jarida.db").display())
        } else {
            self.database_url.clone()
        }
    }

    pub fn mail_from_address(&self) -> String {
        if let Some(a) = &self.mail.from_address {
            return a.to_string();
        }
        let host = self
            .base_url()
            .split("://")
            .nth(1)
            .unwrap_or("localhost")
            .split(['/', ':'])
            .next()
            .unwrap_or("localhost")
            .to_string();
        let host = if host.contains('.') && host.parse::<std::net::IpAddr>().is_err() {
            host
        } else {
            "localhost.localdomain".into()
        };
        format!("newsletter@{host}")
    }

    /// Where email goes: the outbox folder until an SMTP relay is configured.
    pub fn mail_transport(&self) -> jarida_mail::Transport {
        if self.mail.smtp_host.is_empty() {
            return jarida_mail::Transport::Outbox(self.data_dir.join("outbox"));
        }
        jarida_mail::Transport::Smtp(jarida_mail::Smtp {
            host: self.mail.smtp_host.clone(),
            port: self.mail.smtp_port,
            tls: *self.mail.smtp_tls.get(),
            username: self.mail.smtp_username.clone(),
            password: self.mail.smtp_password.clone(),
            helo: self
                .mail_from_address()
                .split('@')
                .nth(1)
                .unwrap_or("localhost")
                .to_string(),
            timeout: std::time::Duration::from_secs(30),
            accept_invalid_certs: self.mail.smtp_accept_invalid_certs,
        })
    }

    /// The configured newsletters (their values were parsed on load).
    pub fn newsletters(&self) -> Vec<jarida_newsletter::Newsletter> {
        self.newsletters
            .iter()
            .map(|(slug, n)| jarida_newsletter::Newsletter {
                slug: slug.clone(),
                name: if n.name.is_empty() {
                    format!("{} newsletter", self.site.name_en)
                } else {
                    n.name.clone()
                },
                cadence: n.cadence.get().clone(),
                timezone: n.timezone.get().clone(),
                from_name: if !n.from_name.is_empty() {
                    n.from_name.clone()
                } else if !self.mail.from_name.is_empty() {
                    self.mail.from_name.clone()
                } else {
                    self.site.name_en.clone()
                },
                from_address: match &n.from_address {
                    Some(a) => a.to_string(),
                    None => self.mail_from_address(),
                },
                reply_to: n
                    .reply_to
                    .as_ref()
                    .or(self.mail.reply_to.as_ref())
                    .map(EmailAddress::to_string),
                langs: n.langs.clone(),
                auto_send: n.auto_send,
                fallback: *n.fallback.get(),
                editors: n.editors.iter().map(EmailAddress::to_string).collect(),
            })
            .collect()
    }

    /// The domain readers' notices (confirmations) take their VERP return path on: the bounce
    /// domain when returned mail reaches jarida, else none (they return to the sender).
    pub fn return_domain(&self) -> Option<String> {
        (self.bounces.mailto_unsubscribe || !self.bounces.listen.is_empty())
            .then(|| self.bounce_domain())
    }

    /// The domain of the VERP return paths and unsubscribe addresses.
    pub fn bounce_domain(&self) -> String {
        if self.delivery.bounce_domain.is_empty() {
            self.sender_domain()
        } else {
            self.delivery.bounce_domain.clone()
        }
    }

    fn sender_domain(&self) -> String {
        self.mail_from_address()
            .rsplit('@')
            .next()
            .unwrap_or("localhost")
            .to_string()
    }

    /// The key file of `selector` for `algorithm` (`rsa`, `ed25519`). Keys made before each
    /// selector had files of its own (`keys/dkim-rsa.pem`) still serve the configured selector.
    pub fn dkim_key_path(&self, selector: &str, algorithm: &str) -> PathBuf {
        let keys = self.data_dir.join("keys");
        let own = keys.join(format!("dkim-{selector}-{algorithm}.pem"));
        let legacy = keys.join(format!("dkim-{algorithm}.pem"));
        if !own.exists() && selector == self.dkim.selector && legacy.exists() {
            legacy
        } else {
            own
        }
    }

    /// The DKIM keys of `selector` that exist, each with its own DNS name (one name holds one
    /// key record): RSA at `selector`, Ed25519 at `selector-ed25519`.
    pub fn dkim_keys(
        &self,
        selector: &str,
    ) -> Result<Vec<jarida_mail::dkim::DkimKey>, ConfigError> {
        let mut keys = Vec::new();
        let algs: &[&str] = if self.dkim.ed25519 {
            &["rsa", "ed25519"]
        } else {
            &["rsa"]
        };
        for alg in algs {
            let path = self.dkim_key_path(selector, alg);
            let Ok(pem) = std::fs::read_to_string(&path) else {
                continue;
            };
            let name = match *alg {
                "rsa" => selector.to_string(),
                other => format!("{selector}-{other}"),
            };
            let key = jarida_mail::dkim::DkimKey::from_pem(&pem, &self.dkim_domain(), &name)
                .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
            keys.push(key);
        }
        Ok(keys)
    }

    pub fn dkim_domain(&self) -> String {
        if self.dkim.domain.is_empty() {
            self.sender_domain()
        } else {
            self.dkim.domain.clone()
        }
    }

    /// The DKIM signer, when signing is on and `jarida dkim generate` has made a key.
    pub fn dkim_signer(
        &self,
    ) -> Result<Option<std::sync::Arc<jarida_mail::dkim::DkimSigner>>, ConfigError> {
        if !self.dkim.enabled {
            return Ok(None);
        }
        let keys = self.dkim_keys(&self.dkim.selector)?;
        Ok((!keys.is_empty())
            .then(|| std::sync::Arc::new(jarida_mail::dkim::DkimSigner::new(keys))))
    }

    /// How newsletters are delivered.
    pub fn delivery(&self) -> Result<jarida_newsletter::deliver::DeliveryConfig, ConfigError> {
        let d = &self.delivery;
        let helo = self.sender_domain();
        let mut relays: Vec<jarida_newsletter::deliver::RelayConfig> = d
            .relays
            .iter()
            .map(|r| jarida_newsletter::deliver::RelayConfig {
                smtp: jarida_mail::Smtp {
                    host: r.host.clone(),
                    port: r.port,
                    tls: *r.tls.get(),
                    username: r.username.clone(),
                    password: r.password.clone(),
                    helo: helo.clone(),
                    timeout: std::time::Duration::from_secs(60),
                    accept_invalid_certs: r.accept_invalid_certs,
                },
                max_connections: r.max_connections,
            })
            .collect();
        if relays.is_empty()
            && let jarida_mail::Transport::Smtp(s) = self.mail_transport()
        {
            relays.push(jarida_newsletter::deliver::RelayConfig {
                smtp: s,
                max_connections: d.connections,
            });
        }
        Ok(jarida_newsletter::deliver::DeliveryConfig {
            relays,
            outbox_dir: self.data_dir.join("outbox"),
            rate_per_second: d.rate_per_second,
            per_domain: d.per_domain,
            retry_base: std::time::Duration::from_secs(d.retry_base_seconds),
            retry_horizon: std::time::Duration::from_secs(d.retry_horizon_hours * 3600),
            lease: std::time::Duration::from_secs(d.lease_seconds),
            batch: d.batch,
            bounce_domain: self.bounce_domain(),
            dkim: jarida_core::Live::new(self.dkim_signer()?),
            poll: std::time::Duration::from_secs_f64(d.poll_seconds),
            bounces: self.bounces.rules(),
        })
    }

    pub fn media_dir(&self) -> PathBuf {
        self.data_dir.join("media")
    }

    pub fn theme_dir(&self) -> PathBuf {
        self.data_dir.join("theme")
    }

    /// A path the configuration gives: relative ones are in the data folder.
    /// The mailbox returned mail is polled from, when one is configured.
    pub fn bounce_mailbox(&self) -> Option<jarida_newsletter::bounces::mailbox::Mailbox> {
        let m = &self.bounces.imap;
        (!m.host.is_empty()).then(|| jarida_newsletter::bounces::mailbox::Mailbox {
            host: m.host.clone(),
            port: m.port,
            starttls: m.starttls,
            user: m.user.clone(),
            password: m.password.clone(),
            folder: m.folder.clone(),
            processed: m.processed.clone(),
            every: std::time::Duration::from_secs(m.every_seconds),
            ca_file: (!m.ca_file.is_empty()).then(|| self.data_path(&m.ca_file)),
            max_message_bytes: u32::try_from(self.bounces.max_message_kb * 1024)
                .unwrap_or(u32::MAX),
        })
    }

    pub fn data_path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.data_dir.join(p)
        }
    }
}

fn flatten(v: &toml::Value) -> Vec<(String, toml::Value)> {
    fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<(String, toml::Value)>) {
        match v {
            toml::Value::Table(t) if !t.is_empty() || prefix.is_empty() => {
                for (k, v) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            _ => out.push((prefix.to_string(), v.clone())),
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    out
}

/// Whether a key holds a credential, which `jarida config` never prints (its output ends up in
/// support requests and terminal scrollback).
fn is_secret(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    last == "token" || last == "key" || last.ends_with("password") || last.ends_with("secret")
}

fn show(key: &str, v: &toml::Value) -> String {
    if key == "database_url" {
        jarida_store::redact(&v.to_string())
    } else if is_secret(key) && v.as_str().is_some_and(|t| !t.is_empty()) {
        "\"(set, not shown)\"".into()
    } else {
        masked(v).to_string()
    }
}

/// `v` with every credential inside it hidden: `delivery.relays` is an array of tables whose
/// `password` must not be printed either.
fn masked(v: &toml::Value) -> toml::Value {
    match v {
        toml::Value::Array(a) => toml::Value::Array(a.iter().map(masked).collect()),
        toml::Value::Table(t) => toml::Value::Table(
            t.iter()
                .map(|(k, v)| {
                    let hidden = is_secret(k) && v.as_str().is_some_and(|t| !t.is_empty());
                    let v = if hidden {
                        toml::Value::String("(set, not shown)".into())
                    } else {
                        masked(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The text of `jarida config`: each key's effective value, its default and where it came from,
/// `stored` (the settings changed in the admin) laid over the file's values.
pub fn describe(
    src: &Sources,
    stored: &[jarida_store::settings::Stored],
) -> Result<String, ConfigError> {
    let base = load(src)?;
    let cfg = crate::settings::lay_lenient(&base, stored);
    let eff = flatten(&toml::Value::try_from(&cfg).map_err(|e| ConfigError(e.to_string()))?);
    let def =
        flatten(&toml::Value::try_from(Config::default()).map_err(|e| ConfigError(e.to_string()))?);
    let mut out = String::new();
    for (key, value) in eff {
        let default = def
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| show(&key, v))
            .unwrap_or_default();
        let from = match stored.iter().find(|s| s.key == key) {
            Some(s) => {
                let when = time::OffsetDateTime::from_unix_timestamp(s.updated_at)
                    .ok()
                    .and_then(|t| {
                        t.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_default();
                format!("the admin ({}, {when})", s.updated_by)
            }
            None => base
                .sources
                .get(&key)
                .cloned()
                .unwrap_or_else(|| "default".into()),
        };
        out.push_str(&format!(
            "{key} = {}\n    # default: {default}; from: {from}\n",
            show(&key, &value)
        ));
    }
    out.push_str(&format!(
        "\n# derived\n# base_url -> {}\n# database -> {}\n",
        cfg.base_url(),
        jarida_store::redact(&cfg.database_url())
    ));
    Ok(out)
}

/// `jarida config --print-defaults`: a commented `jarida.toml` with every key at its default.
pub fn defaults_toml() -> String {
    let mut s = String::from(
        "# jarida.toml: every key with its default. JARIDA_<KEY> (and JARIDA_SECTION__KEY) override.\n",
    );
    s.push_str(&toml::to_string(&Config::default()).expect("defaults serialize"));
    s
}

/// Creates the data folder and its parts, readable by the owner only: it holds the database (every
/// reader's address), the outbox (emails with live links) and the keys.
pub fn ensure_dirs(cfg: &Config) -> std::io::Result<()> {
    for d in [
        cfg.data_dir.clone(),
        cfg.media_dir(),
        cfg.data_dir.join("outbox"),
        cfg.data_dir.join("keys"),
    ] {
        std::fs::create_dir_all(&d)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// The process secret (CSRF tokens, signed links): 32 random bytes in `keys/secret.key`, made on
/// first start and readable by the owner only.
pub fn secret(data_dir: &Path) -> std::io::Result<[u8; 32]> {
    let path = data_dir.join("keys").join("secret.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let bytes = hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} is not 64 hex digits", path.display()),
                )
            })?;
        let mut out = [0u8; 32];
        out.copy_from_slice(&bytes);
        return Ok(out);
    }
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(hex::encode(key).as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jarida.toml");
        std::fs::write(&file, "per_page = \"many\"\n").unwrap();
        let e = load(&Sources {
            file: file.clone(),
            explicit: true,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("per_page"), "{e}");
        std::fs::write(&file, "listen = \"nowhere\"\n").unwrap();
        let e = load(&Sources {
            file: file.clone(),
            explicit: true,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("`listen`"), "{e}");
        assert!(e.contains("jarida.toml"), "names the file: {e}");
        std::fs::write(&file, "[site]\nnmae_en = \"x\"\n").unwrap();
        let e = load(&Sources {
            file: file.clone(),
            explicit: true,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("nmae_en"), "{e}");
    }

    #[test]
    fn typed_values_fail_at_load_naming_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jarida.toml");
        let load_err = |text: &str| {
            std::fs::write(&file, text).unwrap();
            load(&Sources {
                file: file.clone(),
                explicit: true,
            })
            .unwrap_err()
            .to_string()
        };
        for (text, key, why) in [
            (
                "[newsletters.main]\ncadence = \"daily\"\n",
                "newsletters.main.cadence",
                "cron",
            ),
            (
                "[newsletters.main]\ntimezone = \"Mars/Base\"\n",
                "newsletters.main.timezone",
                "time zone",
            ),
            (
                "[site]\ntimezone = \"Mars/Base\"\n",
                "site.timezone",
                "time zone",
            ),
            (
                "[site]\ndigits_ar = \"roman\"\n",
                "site.digits_ar",
                "western, arabic-indic",
            ),
            (
                "[site]\nfavicon = \"icon.gif\"\n",
                "site.favicon",
                "svg, png, ico",
            ),
            (
                "[newsletters.main]\nlangs = [\"fr\"]\n",
                "newsletters.main.langs",
                "unknown language",
            ),
            (
                "[newsletters.main]\neditors = [\"boss\"]\n",
                "newsletters.main.editors",
                "not an email",
            ),
            (
                "[newsletters.main]\nfallback = \"maybe\"\n",
                "newsletters.main.fallback",
                "other, skip",
            ),
            (
                "[mail]\nsmtp_tls = \"ssl\"\n",
                "mail.smtp_tls",
                "none, starttls, implicit",
            ),
            (
                "[mail]\nfrom_address = \"news at example\"\n",
                "mail.from_address",
                "not an email",
            ),
            (
                "default_lang = \"fr\"\n",
                "default_lang",
                "unknown language",
            ),
        ] {
            let e = load_err(text);
            assert!(e.contains(key) && e.contains(why), "{text}: {e}");
            assert!(e.contains("jarida.toml"), "names the file: {e}");
        }
        // What loads is what runs: the values reach the program parsed, nothing dropped.
        std::fs::write(
            &file,
            "[mail]\nsmtp_tls = \"implicit\"\nfrom_address = \" News@Example.ORG \"\n\
             [newsletters.weekly]\ncadence = \"0 8 * * 1\"\ntimezone = \"Asia/Amman\"\nlangs = [\"ar\"]\n",
        )
        .unwrap();
        let cfg = load(&Sources {
            file: file.clone(),
            explicit: true,
        })
        .unwrap();
        assert_eq!(*cfg.mail.smtp_tls.get(), jarida_mail::TlsMode::Implicit);
        assert_eq!(cfg.mail_from_address(), "news@example.org");
        let nls = cfg.newsletters();
        assert_eq!(nls.len(), 2, "main and weekly");
        let w = nls.iter().find(|n| n.slug == "weekly").unwrap();
        assert_eq!(w.langs, ["ar"]);
        assert_eq!(w.timezone.iana_name(), Some("Asia/Amman"));
    }

    #[test]
    fn describe_says_where_values_come_from() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jarida.toml");
        std::fs::write(
            &file,
            "per_page = 5\n[site]\nname_en = \"Daily\"\n[[delivery.relays]]\nhost = \"relay.example.net\"\n\
             password = \"hunter2-relay\"\n",
        )
        .unwrap();
        let src = Sources {
            file: file.clone(),
            explicit: true,
        };
        let changed = jarida_store::settings::Stored {
            key: "site.name_ar".into(),
            value: "\"يومية\"".into(),
            updated_at: 1_764_806_400,
            updated_by: "Owner <owner@example.org>".into(),
        };
        let text = describe(&src, std::slice::from_ref(&changed)).unwrap();
        assert!(
            text.contains(&format!(
                "per_page = 5\n    # default: 12; from: {}",
                file.display()
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "name_en = \"Daily\"\n    # default: \"Jarida\"; from: {}",
                file.display()
            )),
            "{text}"
        );
        assert!(
            text.contains(
                "listen = \"127.0.0.1:8080\"\n    # default: \"127.0.0.1:8080\"; from: default"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "site.name_ar = \"يومية\"\n    # default: \"جريدة\"; from: the admin (Owner <owner@example.org>, 2025-12-04T00:00:00Z)"
            ),
            "{text}"
        );
        assert!(
            !text.contains("hunter2"),
            "a relay's password inside the array: {text}"
        );
        assert!(
            text.contains("host = \"relay.example.net\"") && text.contains("(set, not shown)"),
            "{text}"
        );
    }
}
