//! Settings an owner changed in the admin, laid over the configuration: the file (and the
//! environment) stay the first default, a stored value wins for the keys the admin may set, and
//! removing it gives the key back to the file. [`Host`] is what the admin reaches through
//! `jarida_web::SettingsHost`: it checks a change against the whole configuration before it is
//! stored, and applies what is stored to this process (the site, its emails, the newsletters, the
//! DKIM signer). [`watch`] applies changes another process made.
//!
//! Why JSON over the configuration's own serialization: the stored values are the configuration's
//! types (a cadence is the text the file would hold), so laying them over is "set this path, then
//! deserialize", and every check the file's values pass (cron, time zone, addresses, ranges) a
//! stored value passes too, with its key named.

use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use jarida_core::{Lang, SiteInfo};
use jarida_store::Db;
use jarida_store::settings::{self, Stored};
use jarida_web::settings::{
    DkimStatus, DnsRecord, NEWSLETTER_FIELDS, Pending, RelayInfo, SettingError, SettingsHost, Step,
};
use jarida_web::{App, Settings};
use serde_json::Value as Json;

use crate::config::{Config, ConfigError};

/// The keys the admin may set, besides a newsletter's fields.
const KEYS: &[&str] = &[
    "site.name_en",
    "site.name_ar",
    "site.description_en",
    "site.description_ar",
    "site.logo",
    "support.providers",
    "support.bank_details",
    "dkim.selector",
    "dkim.next_selector",
];

/// Whether the admin may set `key`. Infrastructure (listen address, database, data folder,
/// relays and their passwords) stays in the configuration file.
pub fn editable(key: &str) -> bool {
    if KEYS.contains(&key) {
        return true;
    }
    match key
        .strip_prefix("newsletters.")
        .and_then(|r| r.split_once('.'))
    {
        Some((slug, field)) => !slug.is_empty() && NEWSLETTER_FIELDS.contains(&field),
        None => false,
    }
}

fn set_path(root: &mut Json, key: &str, value: Json) {
    let mut at = root;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        if !at.is_object() {
            *at = Json::Object(Default::default());
        }
        let Json::Object(map) = at else {
            unreachable!("made an object just above")
        };
        if parts.peek().is_none() {
            map.insert(part.to_string(), value);
            return;
        }
        at = map
            .entry(part.to_string())
            .or_insert_with(|| Json::Object(Default::default()));
    }
}

fn refused(key: &str, why: impl ToString) -> SettingError {
    SettingError {
        key: key.to_string(),
        why: why.to_string(),
    }
}

/// `base` with `stored` laid over it, every value checked: the first bad one is named.
pub fn lay(base: &Config, stored: &[Stored]) -> Result<Config, SettingError> {
    let mut v = serde_json::to_value(base).map_err(|e| refused("", e))?;
    let mut cfg = base.clone();
    for st in stored {
        if !editable(&st.key) {
            return Err(refused(&st.key, "cannot be set in the admin"));
        }
        let value: Json = serde_json::from_str(&st.value).map_err(|e| refused(&st.key, e))?;
        set_path(&mut v, &st.key, value);
        // After each key, so that a refusal names the key that caused it.
        cfg = serde_json::from_value(v.clone()).map_err(|e| refused(&st.key, e))?;
    }
    cfg.sources = base.sources.clone();
    cfg.validate().map_err(|(key, why)| refused(&key, why))?;
    Ok(cfg)
}

/// `base` with every stored value that still passes laid over it; one that no longer does (the
/// configuration file changed under it) is left out with a warning rather than stopping the site.
pub fn lay_lenient(base: &Config, stored: &[Stored]) -> Config {
    let mut kept: Vec<Stored> = Vec::new();
    for st in stored {
        kept.push(st.clone());
        if let Err(e) = lay(base, &kept) {
            tracing::warn!(key = %st.key, error = %e.why, "a setting changed in the admin no longer applies; using the configuration file's");
            kept.pop();
        }
    }
    lay(base, &kept).unwrap_or_else(|_| base.clone())
}

/// The stored settings (none when the table cannot be read: a database older than settings).
pub async fn stored(db: &Db) -> anyhow::Result<Vec<Stored>> {
    let mut c = db.acquire().await?;
    Ok(settings::all(c.conn()).await?)
}

/// The settings version, then the stored settings: a change committed between the two reads moves
/// the version past the one returned, so [`watch`] applies it.
pub async fn snapshot(db: &Db) -> anyhow::Result<(i64, Vec<Stored>)> {
    let mut c = db.acquire().await?;
    let version = settings::version(c.conn()).await?;
    Ok((version, settings::all(c.conn()).await?))
}

/// What the web side may change while it runs, from an effective configuration.
pub fn site_settings(cfg: &Config) -> Settings {
    Settings {
        names: vec![
            (Lang::En, cfg.site.name_en.clone()),
            (Lang::Ar, cfg.site.name_ar.clone()),
        ],
        descriptions: vec![
            (Lang::En, cfg.site.description_en.clone()),
            (Lang::Ar, cfg.site.description_ar.clone()),
        ],
        logo: (!cfg.site.logo.is_empty()).then(|| cfg.site.logo.clone()),
        providers: cfg.support.providers.clone(),
        bank_details: cfg.support.bank_details.clone(),
        mail_from_name: if cfg.mail.from_name.is_empty() {
            cfg.site.name_en.clone()
        } else {
            cfg.mail.from_name.clone()
        },
        mail_from_address: cfg.mail_from_address(),
        mail_reply_to: cfg.mail.reply_to.as_ref().map(|a| a.to_string()),
        newsletters: cfg.newsletters(),
    }
}

/// Makes one DKIM private key, as PEM.
type MakeKey = fn() -> Result<String, jarida_mail::dkim::DkimError>;

/// The configuration's side of the admin's settings, for one process.
pub struct Host {
    /// The file's and the environment's values: what stored settings are laid over.
    base: Config,
    db: Db,
    /// The site's address as this process serves it.
    base_url: String,
    /// The effective configuration last applied.
    current: Mutex<Config>,
    app: OnceLock<Weak<App>>,
    engine: OnceLock<Arc<jarida_newsletter::deliver::Engine>>,
    /// A process without the web app (`jarida worker`) still sends editors' notices.
    notifier: OnceLock<Arc<jarida_notify::Notifier>>,
}

impl Host {
    pub fn new(base: Config, db: Db, base_url: String, current: Config) -> Arc<Host> {
        Arc::new(Host {
            base,
            db,
            base_url,
            current: Mutex::new(current),
            app: OnceLock::new(),
            engine: OnceLock::new(),
            notifier: OnceLock::new(),
        })
    }

    pub fn set_app(&self, app: &Arc<App>) {
        let _ = self.app.set(Arc::downgrade(app));
    }

    pub fn set_engine(&self, engine: Arc<jarida_newsletter::deliver::Engine>) {
        let _ = self.engine.set(engine);
    }

    pub fn set_notifier(&self, n: Arc<jarida_notify::Notifier>) {
        let _ = self.notifier.set(n);
    }

    fn current(&self) -> Config {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn apply(&self, cfg: Config) -> anyhow::Result<()> {
        let settings = site_settings(&cfg);
        let info = SiteInfo {
            base_url: self.base_url.clone(),
            names: settings.names.clone(),
            default_lang: cfg.default_lang,
        };
        let newsletters = settings.newsletters.clone();
        match self.app.get().and_then(Weak::upgrade) {
            Some(app) => app.apply_settings(settings.clone()),
            None => {
                if let Some(n) = self.notifier.get() {
                    n.update(info.clone(), settings.sender());
                }
            }
        }
        if let Some(e) = self.engine.get() {
            e.site.set(info);
            e.newsletters.set(newsletters.clone());
            e.cfg.dkim.set(cfg.dkim_signer()?);
        }
        jarida_newsletter::editions::sync(
            &self.db,
            &newsletters,
            time::OffsetDateTime::now_utc().unix_timestamp(),
        )
        .await?;
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = cfg;
        Ok(())
    }

    /// The relays of the effective configuration with what each needs to be checked.
    fn relay_list(&self) -> Vec<(RelayInfo, jarida_mail::Smtp)> {
        let cfg = self.current();
        let mut out = Vec::new();
        let site = match cfg.mail_transport() {
            jarida_mail::Transport::Smtp(s) => Some(s),
            jarida_mail::Transport::Outbox(_) => None,
        };
        let shown = |s: &jarida_mail::Smtp, carries: &str, key: String| RelayInfo {
            carries: carries.into(),
            host: s.host.clone(),
            port: s.port,
            tls: match s.tls {
                jarida_mail::TlsMode::None => "none",
                jarida_mail::TlsMode::StartTls => "starttls",
                jarida_mail::TlsMode::Implicit => "implicit",
            }
            .into(),
            username: s.username.clone(),
            key,
        };
        if let Ok(d) = cfg.delivery() {
            if cfg.delivery.relays.is_empty() {
                if let Some(s) = site {
                    out.push((shown(&s, "both", "mail.smtp_host".into()), s));
                }
                return out;
            }
            for (i, r) in d.relays.iter().enumerate() {
                out.push((
                    shown(&r.smtp, "newsletters", format!("delivery.relays[{i}]")),
                    r.smtp.clone(),
                ));
            }
        }
        if let Some(s) = site {
            out.push((shown(&s, "site", "mail.smtp_host".into()), s));
        }
        out
    }

    fn key_file(&self, selector: &str, alg: &str) -> std::path::PathBuf {
        self.base
            .data_dir
            .join("keys")
            .join(format!("dkim-{selector}-{alg}.pem"))
    }
}

fn records(keys: &[jarida_mail::dkim::DkimKey]) -> Vec<DnsRecord> {
    keys.iter()
        .map(|k| DnsRecord {
            algorithm: match k.algorithm() {
                jarida_mail::dkim::DkimAlgorithm::RsaSha256 => "RSA-2048".into(),
                jarida_mail::dkim::DkimAlgorithm::Ed25519Sha256 => "Ed25519".into(),
            },
            name: k.dns_name(),
            value: k.dns_txt(),
        })
        .collect()
}

impl SettingsHost for Host {
    fn values(&self, stored: &[Stored]) -> Result<Json, SettingError> {
        let cfg = lay(&self.base, stored)?;
        serde_json::to_value(&cfg).map_err(|e| refused("", e))
    }

    fn base_source(&self, key: &str) -> String {
        self.base
            .sources
            .get(key)
            .cloned()
            .unwrap_or_else(|| "default".into())
    }

    fn reload(&self) -> Pending<'_, Result<(), String>> {
        Box::pin(async move {
            let stored = stored(&self.db).await.map_err(|e| format!("{e:#}"))?;
            let cfg = lay_lenient(&self.base, &stored);
            self.apply(cfg).await.map_err(|e| format!("{e:#}"))
        })
    }

    fn relays(&self) -> Vec<RelayInfo> {
        self.relay_list().into_iter().map(|(i, _)| i).collect()
    }

    fn probe(&self, index: usize) -> Pending<'_, Option<Vec<Step>>> {
        Box::pin(async move {
            let (_, smtp) = self.relay_list().into_iter().nth(index)?;
            let sender = self.current().mail_from_address();
            // A check should say quickly that a relay does not answer, not wait a minute.
            let smtp = jarida_mail::Smtp {
                timeout: smtp.timeout.min(Duration::from_secs(15)),
                ..smtp
            };
            Some(jarida_mail::probe::probe(&smtp, &sender).await)
        })
    }

    fn dkim(&self) -> Result<DkimStatus, String> {
        let cfg = self.current();
        let keys = cfg
            .dkim_keys(&cfg.dkim.selector)
            .map_err(|e: ConfigError| e.to_string())?;
        let next = if cfg.dkim.next_selector.is_empty() {
            Vec::new()
        } else {
            cfg.dkim_keys(&cfg.dkim.next_selector)
                .map_err(|e| e.to_string())?
        };
        Ok(DkimStatus {
            enabled: cfg.dkim.enabled,
            domain: cfg.dkim_domain(),
            selector: cfg.dkim.selector.clone(),
            records: records(&keys),
            next_selector: cfg.dkim.next_selector.clone(),
            next_records: records(&next),
        })
    }

    fn dkim_generate(&self, selector: &str) -> Result<(), String> {
        let cfg = self.current();
        let algs: &[(&str, MakeKey)] = if cfg.dkim.ed25519 {
            &[
                ("rsa", jarida_mail::dkim::generate_rsa2048),
                ("ed25519", jarida_mail::dkim::generate_ed25519),
            ]
        } else {
            &[("rsa", jarida_mail::dkim::generate_rsa2048)]
        };
        for (alg, make) in algs {
            if cfg.dkim_key_path(selector, alg).exists() {
                continue;
            }
            let pem = make().map_err(|e| e.to_string())?;
            crate::write_private(&self.key_file(selector, alg), &pem)
                .map_err(|e| format!("{e:#}"))?;
        }
        Ok(())
    }

    fn dkim_forget(&self, selector: &str) -> Result<(), String> {
        if selector == self.current().dkim.selector {
            return Err("the key signing now is kept".into());
        }
        for alg in ["rsa", "ed25519"] {
            let path = self.key_file(selector, alg);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
        Ok(())
    }
}

/// Applies, every `every`, the settings another process changed since version `seen` (the one
/// [`snapshot`] returned with the settings this process started from).
pub async fn watch(host: Arc<Host>, every: Duration, seen: i64) {
    let version = |db: Db| async move {
        let mut c = db.acquire().await?;
        settings::version(c.conn()).await
    };
    let mut seen = Some(seen);
    loop {
        tokio::time::sleep(every).await;
        match version(host.db.clone()).await {
            Ok(v) if Some(v) != seen => {
                seen = Some(v);
                if let Err(e) = host.reload().await {
                    tracing::warn!(error = %e, "applying changed settings");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "reading the settings version"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(key: &str, value: &str) -> Stored {
        Stored {
            key: key.into(),
            value: value.into(),
            updated_at: 0,
            updated_by: "test".into(),
        }
    }

    #[test]
    fn stored_values_win_and_bad_ones_are_named() {
        let base = Config::default();
        let cfg = lay(
            &base,
            &[
                st("site.name_en", "\"The Paper\""),
                st("newsletters.main.cadence", "\"0 8 * * 1\""),
                st("newsletters.weekly.name", "\"Weekly\""),
            ],
        )
        .unwrap();
        assert_eq!(cfg.site.name_en, "The Paper");
        assert_eq!(cfg.newsletters["main"].cadence.text(), "0 8 * * 1");
        assert_eq!(cfg.newsletters["weekly"].name, "Weekly");
        assert_eq!(cfg.newsletters["weekly"].langs, Lang::ALL.to_vec());

        let e = lay(
            &base,
            &[st("newsletters.main.cadence", "\"every tuesday\"")],
        )
        .unwrap_err();
        assert_eq!(e.key, "newsletters.main.cadence");
        let e = lay(&base, &[st("newsletters.main.from_address", "\"nope\"")]).unwrap_err();
        assert_eq!(e.key, "newsletters.main.from_address");
        assert!(e.why.contains("not an email address"), "{e:?}");
        let e = lay(&base, &[st("site.name_ar", "\"  \"")]).unwrap_err();
        assert_eq!(e.key, "site.name_ar");
        let e = lay(&base, &[st("database_url", "\"postgres://x\"")]).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.why.as_str()),
            ("database_url", "cannot be set in the admin")
        );
        let e = lay(&base, &[st("newsletters.Bad Slug.name", "\"x\"")]).unwrap_err();
        assert_eq!(e.key, "newsletters.Bad Slug");
    }

    #[test]
    fn a_value_that_no_longer_applies_is_left_out_alone() {
        let cfg = lay_lenient(
            &Config::default(),
            &[
                st("site.name_en", "\"Kept\""),
                st("newsletters.main.timezone", "\"Mars/Olympus\""),
            ],
        );
        assert_eq!(cfg.site.name_en, "Kept");
        assert_eq!(cfg.newsletters["main"].timezone.text(), "UTC");
    }

    #[test]
    fn only_what_editors_own_is_editable() {
        for k in [
            "site.name_ar",
            "support.providers",
            "newsletters.main.editors",
            "dkim.selector",
        ] {
            assert!(editable(k), "{k}");
        }
        for k in [
            "listen",
            "database_url",
            "data_dir",
            "mail.smtp_password",
            "delivery.relays",
            "newsletters.main",
            "newsletters.main.secret",
            "api.token",
        ] {
            assert!(!editable(k), "{k}");
        }
    }
}
