//! The HTTP side of Jarida: the public site (pages, feeds, sitemap, plain-text articles, media), the
//! one-time owner setup form, subscriptions (sign-up, confirmation, preferences, one-click
//! unsubscribe), the page cache and the security headers every response carries.
//! Depends on the domain crates; nothing depends on it but the binary.

pub mod admin;
mod api;
pub mod cache;
mod editions;
pub mod error;
mod fast;
mod feeds;
mod hooks;
pub mod page;
mod public;
pub mod server;
pub mod settings;
pub mod setup;
mod site_lang;
pub mod subscribe;
pub mod views;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use jarida_store::Db;
use serde::Serialize;

pub use cache::PageCache;
use jarida_core::Lang;
pub use jarida_theme::{Theme, ThemeError};
pub use settings::SettingsHost;

/// A way to give, shown on the support page.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Provider {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub note: String,
}

/// What the web side needs to know about the site that does not change while it runs; the binary
/// builds it from the configuration. What an owner may change in the admin is in [`Settings`].
#[derive(Debug, Clone)]
pub struct SiteConfig {
    /// Absolute URL of the site, without a trailing slash.
    pub base_url: String,
    pub default_lang: Lang,
    pub per_page: i64,
    /// The newsroom's time zone: times the site shows are in it.
    pub timezone: jiff::tz::TimeZone,
    pub media_dir: PathBuf,
    /// Where mail goes without a relay (erasure removes a reader's files from it).
    pub outbox_dir: PathBuf,
    /// The data folder: reader exports and uploaded imports live under it.
    pub data_dir: PathBuf,
    pub theme_dir: Option<PathBuf>,
    pub cache_max_entries: usize,
    /// Most bytes of pages (all encodings) kept in memory.
    pub cache_max_bytes: usize,
    /// How often each process looks for content changes and scheduled posts that are due.
    pub refresh_every: Duration,
    pub limits: jarida_audience::subscribers::Limits,
    /// Bearer token of the administrative API; `None` turns it off.
    pub api_token: Option<String>,
    /// How long admin sessions live.
    pub admin_sessions: jarida_accounts::sessions::Lifetimes,
    /// Owners and editors must use a second factor.
    pub admin_require_totp: bool,
    /// Request header a reverse proxy puts the client's address in (`X-Forwarded-For`,
    /// `X-Real-IP`); `None` uses the connecting socket.
    pub client_ip_header: Option<String>,
    /// Deadline of a request that reads a body from the public (forms, sign-up API).
    pub request_timeout: Duration,
    /// Relays' webhooks for returned mail ([`hooks`]).
    pub hooks: Vec<jarida_newsletter::bounces::hooks::Hook>,
    /// What returned mail does to readers and editions.
    pub bounce_rules: jarida_newsletter::bounces::Rules,
}

/// What an owner may change in the admin while the site runs: the binary resolves it from the
/// configuration file and the stored settings, and replaces it whole when they change
/// ([`App::apply_settings`]).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Site name and description per language.
    pub names: Vec<(Lang, String)>,
    pub descriptions: Vec<(Lang, String)>,
    /// The logo shown in the site's header and at the top of emails: a URL path of the site.
    pub logo: Option<String>,
    pub providers: Vec<Provider>,
    pub bank_details: String,
    /// Sender of transactional email (confirmations, preference links).
    pub mail_from_name: String,
    pub mail_from_address: String,
    pub mail_reply_to: Option<String>,
    /// The newsletters (for composing editions in the admin and through the API).
    pub newsletters: Vec<jarida_newsletter::Newsletter>,
}

impl Settings {
    pub fn name(&self, lang: Lang) -> &str {
        pick(&self.names, lang)
    }

    pub fn description(&self, lang: Lang) -> &str {
        pick(&self.descriptions, lang)
    }

    /// What email and other non-page parts need to know of the site.
    pub fn site_info(&self, cfg: &SiteConfig) -> jarida_core::SiteInfo {
        jarida_core::SiteInfo {
            base_url: cfg.base_url.clone(),
            names: self.names.clone(),
            default_lang: cfg.default_lang,
        }
    }

    /// Who the site's own emails (confirmations, preference links) come from.
    pub fn sender(&self) -> jarida_notify::Sender {
        jarida_notify::Sender {
            name: self.mail_from_name.clone(),
            address: self.mail_from_address.clone(),
            reply_to: self.mail_reply_to.clone(),
        }
    }
}

fn pick(v: &[(Lang, String)], lang: Lang) -> &str {
    v.iter()
        .find(|(l, _)| *l == lang)
        .or_else(|| v.first())
        .map(|(_, s)| s.as_str())
        .unwrap_or("")
}

/// Everything a request handler reaches.
pub struct App {
    pub db: Db,
    pub cfg: SiteConfig,
    /// What an owner may change while the site runs ([`App::settings`]).
    settings: jarida_core::Live<Settings>,
    /// Applies stored settings in this process; given by the binary, which owns the configuration.
    settings_host: std::sync::OnceLock<Arc<dyn SettingsHost>>,
    /// Loaded once by the binary and shared with the delivery engine.
    pub theme: Arc<Theme>,
    /// Every email the site sends a reader about their subscription.
    pub notify: Arc<jarida_notify::Notifier>,
    pub cache: PageCache,
    /// Key for CSRF tokens and signed links.
    pub secret: jarida_core::Secret,
    /// Transactional email (confirmation and preference links) goes through this queue; the
    /// process that serves the site runs its worker ([`jarida_mail::queue::Queue::run`]).
    pub mail: Arc<jarida_mail::queue::Queue>,
    /// Work that runs after its request was answered (recording sign-ups); a graceful shutdown
    /// waits for it.
    pub after_answer: Arc<Tracker>,
    /// Addresses over their sign-up limit in this window, refused without a database write.
    pub blocked: jarida_audience::throttle::Blocked,
    /// The admin's templates, stylesheet and script.
    pub admin: admin::ui::Ui,
    /// This process's search index (readers' search and the admin's list).
    pub search: jarida_content::search::Engine,
    /// How many posts each admin list filter matched, by content version.
    pub(crate) admin_counts: std::sync::Mutex<std::collections::HashMap<String, (i64, i64)>>,
    /// How many readers each filter of the admin's readers list matched, and when it was counted:
    /// counting a million readers takes a good part of a second, so paging through a filter counts
    /// it once a minute (changes made through this process's admin count again at once).
    pub(crate) reader_counts:
        std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, i64)>>,
    /// The delivery engine, for the admin's edition previews and test copies. Set by the binary
    /// once the app exists ([`App::set_engine`]); whether this process also runs the delivery
    /// workers is the configuration's choice.
    engine: std::sync::OnceLock<Arc<jarida_newsletter::deliver::Engine>>,
    sends: std::sync::atomic::AtomicBool,
    /// Recent samples of (when, messages finished) per sending edition, for the admin's live rate
    /// and time left: counting from the ledger by time would need an index the send path pays for.
    pub(crate) send_samples: std::sync::Mutex<
        std::collections::HashMap<i64, std::collections::VecDeque<(std::time::Instant, i64)>>,
    >,
    /// Page views counted since the last flush ([`views`]).
    pub views: views::Views,
    /// The "too many requests" page per language, rendered once.
    pub(crate) rate_limited_pages: [std::sync::OnceLock<axum::body::Bytes>; Lang::ALL.len()],
    /// SNS's signing certificates, for Amazon SES's webhook (kept under the data folder).
    pub(crate) sns_certificates: jarida_newsletter::bounces::sns::Certificates,
}

/// Counts spawned tasks so that shutdown can wait for them. (tokio-util's `TaskTracker` does this
/// too; this is the 30 lines we need rather than another dependency.)
#[derive(Default)]
pub struct Tracker {
    running: std::sync::atomic::AtomicUsize,
    done: tokio::sync::Notify,
}

struct Running(Arc<Tracker>);

impl Drop for Running {
    fn drop(&mut self) {
        // On completion or panic alike.
        if self
            .0
            .running
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            self.0.done.notify_waiters();
        }
    }
}

impl Tracker {
    pub fn spawn(self: &Arc<Self>, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.running
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let guard = Running(self.clone());
        tokio::spawn(async move {
            let _guard = guard;
            task.await;
        });
    }

    /// Returns once no tracked task is running.
    pub async fn idle(&self) {
        loop {
            // Created before the check: it catches a notification that comes in between.
            let done = self.done.notified();
            if self.running.load(std::sync::atomic::Ordering::Acquire) == 0 {
                return;
            }
            done.await;
        }
    }
}

pub type AppRef = Arc<App>;

impl App {
    /// Gives the admin the delivery engine (the first call wins); `sends` says whether this
    /// process also runs the delivery workers (otherwise a `jarida worker` elsewhere sends).
    pub fn set_engine(&self, engine: Arc<jarida_newsletter::deliver::Engine>, sends: bool) {
        if self.engine.set(engine).is_ok() {
            self.sends
                .store(sends, std::sync::atomic::Ordering::Relaxed);
        }
    }

    pub fn engine(&self) -> Option<&Arc<jarida_newsletter::deliver::Engine>> {
        self.engine.get()
    }

    /// This process runs the delivery workers.
    pub(crate) fn sends(&self) -> bool {
        self.sends.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The settings as they are now.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings.get()
    }

    /// What email and other non-page parts need to know of the site now.
    pub fn site_info(&self) -> jarida_core::SiteInfo {
        self.settings().site_info(&self.cfg)
    }

    /// Takes settings an owner changed: pages are rendered again with them, and the site's own
    /// emails carry them. (The delivery engine is given its part by the binary.)
    pub fn apply_settings(&self, settings: Settings) {
        self.notify
            .update(settings.site_info(&self.cfg), settings.sender());
        self.settings.set(settings);
        self.cache.clear();
    }

    /// Gives the admin the way to check and apply settings (the first call wins).
    pub fn set_settings_host(&self, host: Arc<dyn SettingsHost>) {
        let _ = self.settings_host.set(host);
    }

    pub(crate) fn settings_host(&self) -> Option<&Arc<dyn SettingsHost>> {
        self.settings_host.get()
    }

    pub async fn new(
        db: Db,
        cfg: SiteConfig,
        settings: Settings,
        secret: jarida_core::Secret,
        theme: Arc<Theme>,
        mailer: jarida_mail::Transport,
    ) -> anyhow::Result<AppRef> {
        let notify = Arc::new(jarida_notify::Notifier::new(
            theme.clone(),
            settings.site_info(&cfg),
            settings.sender(),
            secret.clone(),
        ));
        let version = jarida_content::repo::version(db.acquire().await?.conn()).await?;
        let cache = PageCache::new(version, cfg.cache_max_entries, cfg.cache_max_bytes);
        let admin = admin::ui::Ui::new(theme.i18n.clone(), cfg.timezone.clone())
            .map_err(|e| anyhow::anyhow!("admin templates: {e:#}"))?;
        Ok(Arc::new(App {
            admin,
            search: jarida_content::search::Engine::new(),
            admin_counts: Default::default(),
            reader_counts: Default::default(),
            mail: jarida_mail::queue::Queue::new(db.clone(), mailer),
            after_answer: Arc::default(),
            blocked: Default::default(),
            engine: Default::default(),
            sends: Default::default(),
            send_samples: Default::default(),
            views: views::Views::new(&cfg.base_url),
            rate_limited_pages: Default::default(),
            sns_certificates: jarida_newsletter::bounces::sns::Certificates::new(
                cfg.data_dir.join("sns-certificates"),
            ),
            db,
            cfg,
            settings: jarida_core::Live::new(settings),
            settings_host: Default::default(),
            theme,
            notify,
            cache,
            secret,
        }))
    }
}

/// The whole HTTP application.
pub fn router(app: AppRef) -> Router {
    use tower_http::set_header::SetResponseHeaderLayer as Set;
    // `if_not_present`: cached pages carry these headers already (prebuilt with the page, so the
    // hot path copies one header map instead of growing it header by header); every other
    // response gets them here.
    let fixed = |name: &'static str, value: &'static str| {
        Set::if_not_present(
            header::HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    };
    let [csp, nosniff, referrer, frame, coop, permissions] = SECURITY_HEADERS;
    // Plain header layers rather than a middleware function: they add no boxed future to the hot path.
    // Routes that read a body from the public get a deadline, so a client trickling one cannot
    // hold a handler (the header timeout of `server` covers the request head). The page handler
    // reads no body and answers from memory; it stays free of a timer per request.
    let forms = Router::new()
        .merge(setup::routes())
        .merge(subscribe::routes())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            app.cfg.request_timeout,
        ));
    let public = Router::new()
        .merge(forms)
        .fallback(public::handle)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024));
    // The admin's forms carry whole articles: a larger limit than the public's, and a deadline.
    let admin = admin::routes()
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            app.cfg.request_timeout,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            4 * 1024 * 1024,
        ));
    // Only the authenticated import, the admin's uploads and relays' webhooks take large bodies.
    api::routes()
        .merge(hooks::routes(app.cfg.request_timeout))
        .merge(admin::upload_routes())
        .merge(admin)
        .merge(public)
        .layer(fixed(csp.0, csp.1))
        .layer(fixed(nosniff.0, nosniff.1))
        .layer(fixed(referrer.0, referrer.1))
        .layer(fixed(frame.0, frame.1))
        .layer(fixed(coop.0, coop.1))
        .layer(fixed(permissions.0, permissions.1))
        .with_state(app)
}

/// Public pages load nothing from elsewhere (their fonts are the site's own) and run no script at
/// all, so the policy can be this strict. `connect-src 'self'` permits nothing a page does (it has
/// no script); it lets audit tools that fetch `/robots.txt` from the page's context (Lighthouse's
/// SEO check) read it.
const CSP: &str = "default-src 'none'; img-src 'self' data:; style-src 'self'; font-src 'self'; connect-src 'self'; form-action 'self'; \
                   base-uri 'none'; frame-ancestors 'none'";

/// The headers every response carries (names in lower case).
pub(crate) const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    (
        "permissions-policy",
        "interest-cohort=(), browsing-topics=()",
    ),
];

/// Keeps this process's view of the content current: publishes scheduled posts that are due and
/// drops the page cache when another process (or this one) changed content.
pub async fn refresh(app: &App) -> anyhow::Result<()> {
    let n = jarida_content::repo::publish_due(&app.db, time::OffsetDateTime::now_utc()).await?;
    if n > 0 {
        tracing::info!(posts = n, "published scheduled posts");
    }
    let v = jarida_content::repo::version(app.db.acquire().await?.conn()).await?;
    if app.cache.set_version(v) {
        tracing::debug!(version = v, "content changed; page cache cleared");
    }
    // The search index follows here too, so a reader's search rarely waits for it (the first
    // refresh builds it when the site starts).
    app.search.sync_to(&app.db, v).await?;
    Ok(())
}

/// Refreshes this process's view of the content every `cache.refresh_seconds`, until dropped.
pub async fn refresher(app: AppRef) {
    let mut tick = tokio::time::interval(app.cfg.refresh_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = refresh(&app).await {
            tracing::warn!(error = %e, "content refresh failed");
        }
    }
}

/// Any serializable value as a template value.
pub(crate) fn ser<T: Serialize>(v: T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tracker_waits_for_its_tasks_even_when_one_panics() {
        let t = Arc::new(Tracker::default());
        t.idle().await;
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d = done.clone();
        t.spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            d.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        t.spawn(async { panic!("a failing task") });
        tokio::time::timeout(std::time::Duration::from_secs(5), t.idle())
            .await
            .expect("idle once both tasks ended");
        assert!(done.load(std::sync::atomic::Ordering::SeqCst));
    }
}
