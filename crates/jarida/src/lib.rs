//! The `jarida` program as a library: configuration and the commands, so the integration tests can run
//! the real server in-process on a random port (`main.rs` is only the command-line front).

pub mod config;
pub mod settings;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use config::Config;
use jarida_store::Db;
use jarida_web::{App, AppRef, SiteConfig, Theme};
use tokio::net::TcpListener;

/// Opens the database the configuration names, creating folders and schema as needed.
pub async fn open(cfg: &Config) -> anyhow::Result<Db> {
    config::ensure_dirs(cfg)
        .with_context(|| format!("creating the data folder {}", cfg.data_dir.display()))?;
    let url = cfg.database_url();
    let db = Db::connect(&url)
        .await
        .with_context(|| format!("opening {}", jarida_store::redact(&url)))?;
    db.migrate().await.context("updating the database schema")?;
    // Posts written before search existed, or indexed under older word rules: indexed now, once.
    let n = jarida_content::search::ensure_indexed(&db)
        .await
        .context("building the search index")?;
    if n > 0 {
        tracing::info!(posts = n, "search index rebuilt");
    }
    Ok(db)
}

/// The configuration with the settings changed in the admin laid over it: what every command
/// and the server run with.
pub async fn effective(cfg: &Config) -> anyhow::Result<Config> {
    let db = open(cfg).await?;
    let stored = settings::stored(&db).await?;
    Ok(settings::lay_lenient(cfg, &stored))
}

/// The settings changed in the admin, when the configured database exists already (`jarida
/// config` must not create one to say there is nothing in it).
pub async fn stored_settings_if_any(
    cfg: &Config,
) -> anyhow::Result<Vec<jarida_store::settings::Stored>> {
    let url = cfg.database_url();
    if let Some(path) = url.strip_prefix("sqlite://")
        && !std::path::Path::new(path).exists()
    {
        return Ok(Vec::new());
    }
    let db = Db::connect(&url)
        .await
        .with_context(|| format!("opening {}", jarida_store::redact(&url)))?;
    // A database from before settings existed has no table: nothing was changed in the admin.
    Ok(settings::stored(&db).await.unwrap_or_default())
}

pub fn site_config(cfg: &Config) -> SiteConfig {
    SiteConfig {
        base_url: cfg.base_url(),
        default_lang: cfg.default_lang,
        per_page: cfg.per_page,
        timezone: cfg.site.timezone.get().clone(),
        media_dir: cfg.media_dir(),
        outbox_dir: cfg.data_dir.join("outbox"),
        data_dir: cfg.data_dir.clone(),
        theme_dir: Some(cfg.theme_dir()),
        cache_max_entries: cfg.cache.max_pages,
        cache_max_bytes: cfg.cache.max_megabytes.saturating_mul(1024 * 1024),
        refresh_every: Duration::from_secs(cfg.cache.refresh_seconds),
        request_timeout: Duration::from_secs(cfg.server.request_timeout_seconds),
        api_token: (!cfg.api.token.is_empty()).then(|| cfg.api.token.clone()),
        admin_sessions: jarida_accounts::sessions::Lifetimes {
            idle_secs: cfg.admin.session_idle_hours.saturating_mul(3600),
            absolute_secs: cfg.admin.session_max_days.saturating_mul(86400),
        },
        admin_require_totp: cfg.admin.require_totp,
        client_ip_header: (!cfg.client_ip_header.is_empty())
            .then(|| cfg.client_ip_header.to_lowercase()),
        limits: jarida_audience::subscribers::Limits {
            per_ip_hour: cfg.signup.per_ip_per_hour,
            per_address_day: cfg.signup.per_address_per_day,
            confirm_ttl_secs: cfg.signup.confirm_hours * 3600,
        },
        hooks: cfg.bounces.webhooks.hooks(),
        bounce_rules: cfg.bounces.rules(),
    }
}

/// The site as configured, served at `base_url` (the configured one, or the address bound).
fn site_at(cfg: &Config, base_url: &str) -> SiteConfig {
    let mut site = site_config(cfg);
    site.base_url = base_url.to_string();
    site
}

/// The built-in receiver of returned mail, bound and ready to run, when `bounces.listen` is set.
pub async fn bounce_receiver(
    cfg: &Config,
    db: &jarida_store::Db,
    notifier: Arc<jarida_notify::Notifier>,
    mail: Arc<jarida_mail::queue::Queue>,
) -> anyhow::Result<Option<impl std::future::Future<Output = ()> + Send + 'static>> {
    let b = &cfg.bounces;
    if b.listen.is_empty() {
        return Ok(None);
    }
    let domain = cfg.bounce_domain().to_ascii_lowercase();
    let tls = if b.tls_cert.is_empty() {
        None
    } else {
        let read = |p: &str| {
            let path = cfg.data_path(p);
            std::fs::read(&path).with_context(|| format!("bounces: reading {}", path.display()))
        };
        Some(jarida_mail::receiver::tls_config(
            &read(&b.tls_cert)?,
            &read(&b.tls_key)?,
            &b.tls_cert,
        )?)
    };
    let listener = tokio::net::TcpListener::bind(&b.listen)
        .await
        .with_context(|| format!("bounces: cannot listen on {}", b.listen))?;
    tracing::info!(address = %b.listen, domain = %domain, "receiving returned mail");
    let limits = jarida_mail::receiver::Limits {
        hostname: if b.hostname.is_empty() {
            domain.clone()
        } else {
            b.hostname.clone()
        },
        max_message_bytes: b.max_message_kb * 1024,
        keep_bytes: jarida_mail::bounce::MAX_BYTES,
        max_connections: b.max_connections,
        max_per_client: b.max_connections_per_client,
        idle: Duration::from_secs(60),
        max_recipients: 20,
        tls,
    };
    let inbox = Arc::new(jarida_newsletter::bounces::BounceInbox {
        db: db.clone(),
        secret: secret(cfg)?,
        rules: b.rules(),
        domain,
        notifier,
        mail,
    });
    Ok(Some(jarida_mail::receiver::serve(listener, limits, inbox)))
}

/// Polling the configured mailbox for returned mail, when there is one.
pub fn bounce_mailbox(
    cfg: &Config,
    db: &jarida_store::Db,
    notifier: Arc<jarida_notify::Notifier>,
    mail: Arc<jarida_mail::queue::Queue>,
) -> anyhow::Result<Option<impl std::future::Future<Output = ()> + Send + 'static>> {
    let Some(mb) = cfg.bounce_mailbox() else {
        return Ok(None);
    };
    tracing::info!(host = %mb.host, folder = %mb.folder, "polling a mailbox for returned mail");
    let parts = jarida_newsletter::bounces::mailbox::TakerParts {
        db: db.clone(),
        secret: secret(cfg)?,
        rules: cfg.bounces.rules(),
        notifier,
        mail,
    };
    Ok(Some(jarida_newsletter::bounces::mailbox::run(mb, parts)))
}

/// The site's key (`<data_dir>/keys/secret.key`).
pub fn secret(cfg: &Config) -> anyhow::Result<jarida_core::Secret> {
    let key = config::secret(&cfg.data_dir).context("reading the secret key")?;
    Ok(jarida_core::Secret::new(key))
}

/// The theme of this configuration, loaded once per process and shared by the site and the mail.
pub fn theme(cfg: &Config) -> anyhow::Result<Arc<Theme>> {
    let dir = cfg.theme_dir();
    let mut replace = Vec::new();
    for (key, asset, path) in [
        ("site.favicon", "favicon.svg", &cfg.site.favicon),
        ("site.social_image", "social.png", &cfg.site.social_image),
    ] {
        if path.is_empty() {
            continue;
        }
        let file = cfg.data_path(path);
        let bytes =
            std::fs::read(&file).with_context(|| format!("{key}: reading {}", file.display()))?;
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(asset)
            .to_string();
        replace.push((asset.to_string(), name, bytes));
    }
    let opts = jarida_theme::ThemeOptions {
        digits: vec![
            (jarida_core::Lang::En, cfg.site.digits_en),
            (jarida_core::Lang::Ar, cfg.site.digits_ar),
        ],
        replace,
    };
    Ok(Arc::new(Theme::load_with(Some(&dir), opts).with_context(
        || format!("loading the theme in {}", dir.display()),
    )?))
}

/// The builder of the site's notifications (confirmation links, editors' notices) for this
/// configuration, with the site at `base_url`.
pub fn notifier(
    cfg: &Config,
    theme: Arc<Theme>,
    base_url: &str,
) -> anyhow::Result<Arc<jarida_notify::Notifier>> {
    let site = site_at(cfg, base_url);
    let settings = settings::site_settings(cfg);
    let n = jarida_notify::Notifier::new(
        theme,
        settings.site_info(&site),
        settings.sender(),
        secret(cfg)?,
    );
    n.set_return_domain(cfg.return_domain());
    Ok(Arc::new(n))
}

/// The delivery engine for this configuration.
pub async fn engine(
    cfg: &Config,
    db: &Db,
    base_url: &str,
    theme: Arc<Theme>,
) -> anyhow::Result<Arc<jarida_newsletter::deliver::Engine>> {
    let newsletters = cfg.newsletters();
    jarida_newsletter::editions::sync(
        db,
        &newsletters,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )
    .await
    .context("recording the configured newsletters")?;
    let site = site_at(cfg, base_url);
    Ok(Arc::new(jarida_newsletter::deliver::Engine {
        db: db.clone(),
        cfg: cfg.delivery()?,
        site: jarida_core::Live::new(settings::site_settings(cfg).site_info(&site)),
        secret: secret(cfg)?,
        newsletters: jarida_core::Live::new(newsletters),
        renderer: jarida_newsletter::render::Renderer::new(theme),
        stopping: Default::default(),
    }))
}

/// Writes a file only its owner may read (keys), whole or not at all.
pub fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    // A temporary file left by a crash keeps the mode it was made with: made anew, it is 0600.
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", tmp.display())),
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The background work of a process: delivery, the edition scheduler, the transactional mail queue,
/// bulk actions on readers and housekeeping. [`Background::shutdown`] stops it so that nothing is left claimed.
pub struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    engine: Option<Arc<jarida_newsletter::deliver::Engine>>,
    tasks: tokio::task::JoinSet<()>,
}

impl Background {
    /// Starts the mail queue and housekeeping, and with an engine the delivery workers and the
    /// cadence scheduler.
    pub fn spawn(
        db: &Db,
        data_dir: &std::path::Path,
        confirm_ttl_secs: i64,
        engine: Option<Arc<jarida_newsletter::deliver::Engine>>,
        mail: Arc<jarida_mail::queue::Queue>,
        notifier: Arc<jarida_notify::Notifier>,
    ) -> Background {
        let bulk = jarida_newsletter::bulk::Context {
            data_dir: data_dir.to_path_buf(),
            composer: Some(notifier.confirmation_composer()),
            confirm_ttl_secs,
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        // The mail queue keeps its own leases: a stop between claim and outcome hands the rows
        // back when the lease ends; aborting it at shutdown loses nothing.
        tasks.spawn(until_stopped(stopped.clone(), mail.clone().run()));
        tasks.spawn(until_stopped(
            stopped.clone(),
            housekeeping(db.clone(), data_dir.to_path_buf()),
        ));
        // Bulk actions on readers: stopped mid-chunk, the chunk's transaction rolls back and the
        // job's lease hands it to the next worker.
        tasks.spawn(until_stopped(
            stopped.clone(),
            jarida_newsletter::bulk::run(db.clone(), bulk, Duration::from_secs(1)),
        ));
        if let Some(engine) = &engine {
            tasks.spawn(engine.clone().run(stopped.clone()));
            let engine = engine.clone();
            tasks.spawn(until_stopped(stopped, async move {
                loop {
                    let now = time::OffsetDateTime::now_utc();
                    if let Err(err) = jarida_newsletter::scheduler::tick(
                        &engine.db,
                        &engine.newsletters.get(),
                        &notifier,
                        &mail,
                        now,
                    )
                    .await
                    {
                        tracing::error!(error = %err, "newsletter scheduler");
                    }
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            }));
        }
        Background {
            stop,
            engine,
            tasks,
        }
    }

    /// Adds a task that runs until the stop signal.
    pub fn add(&mut self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        let stopped = self.stop.subscribe();
        self.tasks.spawn(until_stopped(stopped, work));
    }

    /// Stops every task: delivery halts, hands back the rows it claimed but did not attempt, and
    /// records the messages in flight; the others end at their next await. Waits up to `within`.
    pub async fn shutdown(mut self, within: Duration) {
        if let Some(e) = &self.engine {
            e.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let _ = self.stop.send(true);
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(within, all).await.is_err() {
            tracing::warn!("background work did not stop in time; its leases hand rows back");
            self.tasks.abort_all();
        }
    }
}

/// Runs `work` until the stop signal.
async fn until_stopped(
    mut stop: tokio::sync::watch::Receiver<bool>,
    work: impl std::future::Future<Output = ()>,
) {
    tokio::select! {
        _ = work => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

/// Forgets, every hour, what has no reason to be kept (unconfirmed sign-ups past their links, with
/// their outbox files; expired links and their evidence; ended rate-limit windows; reader exports
/// after a day), and truncates
/// SQLite's write-ahead log so deleted rows do not linger in it.
async fn housekeeping(db: Db, data_dir: std::path::PathBuf) {
    let outbox = data_dir.join("outbox");
    loop {
        match jarida_newsletter::bulk::forget_old_files(&data_dir) {
            Ok(0) => {}
            Ok(n) => tracing::info!(files = n, "removed old reader exports and uploads"),
            Err(e) => tracing::warn!(error = %e, "removing old reader exports"),
        }
        match jarida_audience::subscribers::purge_expired(&db, time::OffsetDateTime::now_utc())
            .await
        {
            Ok(p) => {
                for addr in &p.unconfirmed {
                    if let Err(e) = jarida_mail::forget_outbox(&outbox, addr, None).await {
                        tracing::warn!(error = %e, "removing a purged sign-up's outbox files");
                    }
                }
                if p != Default::default() {
                    tracing::info!(
                        unconfirmed = p.unconfirmed.len(),
                        links = p.tokens,
                        rate_limits = p.rate_limits,
                        "purged expired records"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "purging expired records"),
        }
        if let Err(e) = db.checkpoint().await {
            tracing::debug!(error = %e, "hourly checkpoint");
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// Forgets, every hour, the admin's sessions past their idle or absolute lifetime and the account
/// links past their end: neither can be used, and a session row says when and from where someone
/// signed in.
async fn account_housekeeping(db: Db, life: jarida_accounts::sessions::Lifetimes) {
    loop {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match jarida_accounts::sessions::purge(&db, life, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "forgot ended admin sessions"),
            Err(e) => tracing::warn!(error = %e, "purging admin sessions"),
        }
        if let Err(e) = jarida_accounts::links::purge(&db, now).await {
            tracing::warn!(error = %e, "purging account links");
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// A started server: its address, the setup link if no owner exists yet, and the app it serves.
pub struct Running {
    pub addr: SocketAddr,
    pub setup_url: Option<String>,
    pub app: AppRef,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    pub background: Background,
    /// Set by Ctrl-C or SIGTERM (or by hand): the server stops accepting and drains.
    pub stop: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Running {
    /// Waits for the stop signal, then stops the server and the background work together: the
    /// server drains its requests while delivery hands back what it claimed. Returns the server's
    /// result; the background is stopped even when the server failed.
    pub async fn until_stopped(self, within: Duration) -> std::io::Result<()> {
        let mut stopped = self.stop.subscribe();
        let background = self.background;
        let bg = tokio::spawn(async move {
            let _ = stopped.wait_for(|s| *s).await;
            background.shutdown(within).await;
        });
        let served = match self.task.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        };
        // A server that ended on its own (an error) stops the rest too.
        let _ = self.stop.send(true);
        let _ = bg.await;
        // Sign-ups answered just before the signal are recorded (and their emails queued) before
        // the process goes.
        if tokio::time::timeout(within, self.app.after_answer.idle())
            .await
            .is_err()
        {
            tracing::warn!("stopped with sign-ups still being recorded");
        }
        served
    }
}

/// Starts serving on `listener` (bound by the caller, so tests can use port 0).
pub async fn start(file_cfg: &Config, listener: TcpListener) -> anyhow::Result<Running> {
    let db = open(file_cfg).await?;
    // What owners changed in the admin, over the file; read before it is applied, so a change
    // made meanwhile moves the version past it and is applied by the watcher.
    let (version, seen) = settings::snapshot(&db).await?;
    let effective = settings::lay_lenient(file_cfg, &seen);
    let cfg = &effective;
    let secret = config::secret(&cfg.data_dir).context("reading the secret key")?;
    let mut site = site_config(cfg);
    let addr = listener.local_addr()?;
    if cfg.base_url.is_empty() {
        site.base_url = format!("http://{addr}");
    }
    let base = site.base_url.clone();
    let theme = theme(cfg)?;
    let app = App::new(
        db.clone(),
        site,
        settings::site_settings(cfg),
        jarida_core::Secret::new(secret),
        theme.clone(),
        cfg.mail_transport(),
    )
    .await?;
    app.notify.set_return_domain(cfg.return_domain());
    let host = settings::Host::new(file_cfg.clone(), db.clone(), base.clone(), cfg.clone());
    host.set_app(&app);
    app.set_settings_host(host.clone());
    let setup_url = jarida_web::setup::issue_token(&db)
        .await?
        .map(|t| format!("{base}/setup/{t}"));
    // The admin previews and test-sends editions with the engine even where this process does not
    // run the delivery workers (a separate `jarida worker` does).
    let engine = if cfg.delivery.enabled {
        let e = engine(cfg, &db, &base, theme).await?;
        app.set_engine(e.clone(), true);
        host.set_engine(e.clone());
        Some(e)
    } else {
        match engine(cfg, &db, &base, theme).await {
            Ok(e) => {
                host.set_engine(e.clone());
                app.set_engine(e, false)
            }
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "no edition previews in the admin")
            }
        }
        None
    };
    let mut background = Background::spawn(
        &db,
        &cfg.data_dir,
        app.cfg.limits.confirm_ttl_secs,
        engine,
        app.mail.clone(),
        app.notify.clone(),
    );
    background.add(jarida_web::refresher(app.clone()));
    background.add(settings::watch(host, app.cfg.refresh_every, version));
    background.add(jarida_web::views::flusher(
        app.clone(),
        Duration::from_secs(60),
    ));
    background.add(account_housekeeping(db.clone(), app.cfg.admin_sessions));
    if let Some(receiving) = bounce_receiver(cfg, &db, app.notify.clone(), app.mail.clone()).await?
    {
        background.add(receiving);
    }
    if let Some(polling) = bounce_mailbox(cfg, &db, app.notify.clone(), app.mail.clone())? {
        background.add(polling);
    }
    let router = jarida_web::router(app.clone());
    let limits = cfg.server_limits();
    // One stop signal for the server and the background work, so that delivery starts handing
    // back its rows at the signal rather than after the server has drained.
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let stop = Arc::new(stop);
    let on_signal = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = on_signal.send(true);
    });
    let task = tokio::spawn(jarida_web::server::serve(
        listener,
        app.clone(),
        router,
        limits,
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        },
    ));
    Ok(Running {
        addr,
        setup_url,
        app: Arc::clone(&app),
        task,
        background,
        stop,
    })
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
