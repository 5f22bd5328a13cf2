//! `jarida`: the command line. Every command reads the same configuration.

mod cmd_bounces;
mod cmd_editions;
mod cmd_import;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use jarida::config::{self, ConfigError, Sources};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "jarida",
    version,
    about = "Publishing and newsletters for reader-supported newsrooms"
)]
struct Cli {
    /// Configuration file (default: ./jarida.toml when it exists).
    #[arg(long, global = true, env = "JARIDA_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the site (creates ./jarida-data on first start).
    Serve {
        /// Listen on this address instead of the configured one.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Print the effective configuration: every key, its default and where its value came from.
    Config {
        /// Print a jarida.toml with every key at its default instead.
        #[arg(long)]
        print_defaults: bool,
    },
    /// Import posts: a folder of Markdown files with TOML (+++) or YAML (---) front matter
    /// (`jarida import DIR`), or another platform's export (`jarida import wordpress FILE`).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Import {
        /// A folder of Markdown posts.
        #[arg(required = true)]
        dir: Option<PathBuf>,
        #[command(subcommand)]
        from: Option<cmd_import::ImportFrom>,
    },
    /// The search index.
    Search {
        #[command(subcommand)]
        command: SearchCommand,
    },
    /// Old addresses (of an imported site, or any) answered with a permanent redirect.
    Redirects {
        #[command(subcommand)]
        command: cmd_import::RedirectsCommand,
    },
    /// Export every post to a folder in the format `import` reads.
    Export { dir: PathBuf },
    /// Create or update the database schema, then exit.
    Migrate,
    /// Subscriber lists: import and export CSV.
    Subscribers {
        #[command(subcommand)]
        command: SubscribersCommand,
    },
    /// Newsletter editions: compose, edit, approve, schedule, send, pause, resume, cancel.
    Editions {
        #[command(subcommand)]
        command: cmd_editions::EditionsCommand,
    },
    /// Run the delivery workers and the edition scheduler without the web server.
    Worker,
    /// DKIM keys for signing newsletters.
    Dkim {
        #[command(subcommand)]
        command: cmd_editions::DkimCommand,
    },
    /// Returned mail: bounces, complaints and mail to the unsubscribe address.
    Bounces {
        #[command(subcommand)]
        command: cmd_bounces::BouncesCommand,
    },
    /// The transactional mail queue (confirmation, preference and welcome emails).
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
}

#[derive(Subcommand)]
enum MailCommand {
    /// How many emails wait, and those the relay refused for good (kept 30 days).
    Status,
    /// Send the emails that are due now, then exit (`jarida serve` and `jarida worker` do this on
    /// their own).
    Send,
}

#[derive(Subcommand)]
enum SearchCommand {
    /// Index every post again (the index follows every save by itself; this is for after a
    /// restore, or to time it).
    Rebuild,
}

#[derive(Subcommand)]
enum SubscribersCommand {
    /// Import a CSV export (Mailchimp, listmonk, Ghost, Substack are recognized; or use --map).
    Import {
        file: PathBuf,
        /// Import as confirmed, with consent recorded as "imported from X on D". Without it, each new
        /// reader is pending and is sent a confirmation email.
        #[arg(long)]
        confirmed: bool,
        /// Language for rows without one.
        #[arg(long, default_value = "en")]
        lang: String,
        /// Columns by name: email=COLUMN[,name=COLUMN][,lang=COLUMN].
        #[arg(long)]
        map: Option<String>,
    },
    /// Write every subscriber as CSV to a file or standard output.
    Export {
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    // Everything this program writes (database, outbox, keys, exports of subscriber lists) is
    // for its owner alone.
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail and touches no
    // memory. It runs before any thread exists.
    #[cfg(unix)]
    #[allow(unsafe_code)]
    unsafe {
        libc::umask(0o077);
    }
    let cli = Cli::parse();
    let src = Sources {
        explicit: cli.config.is_some(),
        file: cli
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from("jarida.toml")),
    };
    if let Command::Config {
        print_defaults: true,
    } = cli.command
    {
        print!("{}", config::defaults_toml());
        return ExitCode::SUCCESS;
    }
    let cfg = match config::load(&src) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.command, &src, cfg)) {
        Ok(code) => code,
        Err(e) => {
            if let Some(c) = e.downcast_ref::<ConfigError>() {
                eprintln!("error: {c}");
                return ExitCode::from(2);
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cmd: Command, src: &Sources, mut cfg: config::Config) -> anyhow::Result<ExitCode> {
    // Commands run with what owners changed in the admin laid over the file; the server and the
    // worker do this themselves (they also apply later changes), `config` shows both apart.
    if !matches!(
        cmd,
        Command::Config { .. }
            | Command::Serve { .. }
            | Command::Migrate
            | Command::Worker
            | Command::Bounces {
                command: cmd_bounces::BouncesCommand::Classify { .. }
            }
    ) {
        cfg = jarida::effective(&cfg).await?;
    }
    match cmd {
        Command::Config { .. } => {
            let stored = jarida::stored_settings_if_any(&cfg)
                .await
                .unwrap_or_else(|e| {
                    eprintln!("note: the settings changed in the admin are not shown: {e:#}");
                    Vec::new()
                });
            print!("{}", config::describe(src, &stored)?);
        }
        Command::Serve { listen } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            let listener = tokio::net::TcpListener::bind(&cfg.listen)
                .await
                .with_context(|| format!("cannot listen on {}", cfg.listen))?;
            let running = jarida::start(&cfg, listener).await?;
            println!("Jarida is running at {}/", running.app.cfg.base_url);
            if let Some(url) = &running.setup_url {
                println!("Create the owner account (one-time link): {url}");
            }
            // The server drains while delivery hands back what it claimed, within ten seconds.
            running
                .until_stopped(std::time::Duration::from_secs(10))
                .await?;
        }
        Command::Migrate => {
            jarida::open(&cfg).await?;
            println!("database schema is up to date");
        }
        Command::Import {
            from: Some(from), ..
        } => return cmd_import::import_from(from, &cfg).await,
        Command::Redirects { command } => return cmd_import::redirects(command, &cfg).await,
        Command::Search {
            command: SearchCommand::Rebuild,
        } => {
            let db = jarida::open(&cfg).await?;
            let t0 = std::time::Instant::now();
            let n = jarida_content::search::rebuild(&db).await?;
            let stored = t0.elapsed().as_secs_f64();
            // What every serving process does when it starts: build its index from those words.
            let t1 = std::time::Instant::now();
            let engine = jarida_content::search::Engine::new();
            engine.sync(&db).await?;
            let built = t1.elapsed().as_secs_f64();
            let (bytes, segments) = engine.size();
            println!(
                "search index rebuilt: {n} posts' words in {stored:.2} s; a process's index of {} posts built from them in {built:.2} s ({:.1} MB in memory, {segments} segments)",
                engine.len(),
                bytes as f64 / 1e6
            );
        }
        Command::Import { dir, from: None } => {
            let dir = dir.context("name the folder to import")?;
            let db = jarida::open(&cfg).await?;
            let bar = progress_bar();
            let report = jarida_content::folder::import(
                &db,
                &dir,
                &cfg.media_dir(),
                time::OffsetDateTime::now_utc(),
                |done, total, path| {
                    if let Some(b) = &bar {
                        b.set_length(total as u64);
                        b.set_position(done as u64);
                        b.set_message(path.display().to_string());
                    }
                },
            )
            .await?;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            for (path, e) in &report.failed {
                let line = e.line.map(|l| format!(":{l}")).unwrap_or_default();
                eprintln!("{}{line}: {}", dir.join(path).display(), e.reason);
            }
            println!(
                "imported {} new, {} updated, {} unchanged, {} failed",
                report.created,
                report.updated,
                report.unchanged,
                report.failed.len()
            );
            if !report.failed.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Subscribers { command } => return subscribers(command, &cfg).await,
        Command::Editions { command } => return cmd_editions::editions(command, &cfg).await,
        Command::Worker => return cmd_editions::worker(&cfg).await,
        Command::Dkim { command } => return cmd_editions::dkim(command, &cfg),
        Command::Bounces { command } => return cmd_bounces::bounces(command, &cfg).await,
        Command::Mail { command } => {
            let db = jarida::open(&cfg).await?;
            let queue = jarida_mail::queue::Queue::new(db, cfg.mail_transport());
            if let MailCommand::Send = command {
                let d = queue.drain().await?;
                println!(
                    "sent {}, deferred {}, failed {}",
                    d.sent, d.deferred, d.failed
                );
            }
            let failed = queue.failed().await?;
            println!(
                "{} waiting, {} failed",
                queue.waiting().await?,
                failed.len()
            );
            for f in &failed {
                println!(
                    "failed: {} after {} attempts: {}",
                    f.recipient, f.attempts, f.error
                );
            }
        }
        Command::Export { dir } => {
            let db = jarida::open(&cfg).await?;
            let n = jarida_content::folder::export(&db, &dir, &cfg.media_dir()).await?;
            println!("exported {n} posts to {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn subscribers(cmd: SubscribersCommand, cfg: &config::Config) -> anyhow::Result<ExitCode> {
    let db = jarida::open(cfg).await?;
    match cmd {
        SubscribersCommand::Export { output } => {
            let n = match &output {
                Some(path) => {
                    let f = std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    jarida_audience::csv_io::export(&db, std::io::BufWriter::new(f)).await?
                }
                None => jarida_audience::csv_io::export(&db, std::io::stdout().lock()).await?,
            };
            eprintln!("exported {n} subscribers");
            Ok(ExitCode::SUCCESS)
        }
        SubscribersCommand::Import {
            file,
            confirmed,
            lang,
            map,
        } => {
            if !jarida_content::LANGS.contains(&lang.as_str()) {
                eprintln!("error: --lang {lang:?} is not one of en, ar");
                return Ok(ExitCode::from(2));
            }
            let mapping = match map.as_deref().map(parse_map).transpose() {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("error: --map: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let size = std::fs::metadata(&file)
                .with_context(|| format!("reading {}", file.display()))?
                .len();
            let f = std::fs::File::open(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            // Pending readers are sent the confirmation email the site would send them.
            let notifier = if confirmed {
                None
            } else {
                Some(jarida::notifier(cfg, jarida::theme(cfg)?, &cfg.base_url())?)
            };
            let opts = jarida_audience::csv_io::ImportOptions {
                confirmed,
                default_lang: lang,
                mapping,
                confirm_ttl_secs: cfg.signup.confirm_hours * 3600,
                confirmation: notifier.as_ref().map(|n| n.confirmation_composer()),
            };
            let bar = progress_bar();
            let counter = CountingReader {
                inner: std::io::BufReader::with_capacity(1 << 20, f),
                read: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
            };
            let read = counter.read.clone();
            let report = jarida_audience::csv_io::import(
                &db,
                counter,
                &opts,
                time::OffsetDateTime::now_utc(),
                |rows| {
                    if let Some(b) = &bar {
                        b.set_length(size);
                        b.set_position(read.load(std::sync::atomic::Ordering::Relaxed));
                        b.set_message(format!("{rows} rows"));
                    }
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            // The confirmations were queued with their readers; they are sent now, and what the relay
            // defers stays queued for the site's worker (`jarida serve` or `jarida worker`).
            let drained = if notifier.is_some() && report.confirmations > 0 {
                let queue = jarida_mail::queue::Queue::new(db.clone(), cfg.mail_transport());
                Some(queue.drain().await)
            } else {
                None
            };
            for (line, reason) in &report.errors {
                eprintln!("{}:{line}: {reason}", file.display());
            }
            if report.error_count > report.errors.len() as u64 {
                eprintln!(
                    "… and {} more errors",
                    report.error_count - report.errors.len() as u64
                );
            }
            println!(
                "{}: {} rows ({} layout): {} imported{}, {} already subscribed, {} suppressed and skipped, {} duplicates, {} errors",
                file.display(),
                report.rows,
                report.format,
                report.imported,
                match &drained {
                    _ if confirmed => String::new(),
                    Some(Ok(d)) => format!(
                        " ({} confirmation emails queued; the mail queue sent {}, {} deferred for retry, {} refused)",
                        report.confirmations, d.sent, d.deferred, d.failed
                    ),
                    _ => format!(" ({} confirmation emails queued)", report.confirmations),
                },
                report.existing,
                report.suppressed,
                report.duplicates,
                report.error_count - report.duplicates,
            );
            if let Some(Err(e)) = &drained {
                eprintln!("sending the queued emails: {e}; the site's worker will retry them");
            }
            Ok(
                if report.error_count > 0 || matches!(drained, Some(Err(_))) {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                },
            )
        }
    }
}

fn parse_map(s: &str) -> Result<jarida_audience::csv_io::Mapping, String> {
    let mut m = jarida_audience::csv_io::Mapping::default();
    for part in s.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not key=COLUMN"))?;
        let v = v.trim().to_string();
        match k.trim() {
            "email" => m.email = v,
            "name" => m.name = Some(v),
            "lang" => m.lang = Some(v),
            other => return Err(format!("unknown key {other:?}; use email, name, lang")),
        }
    }
    if m.email.is_empty() {
        return Err("email=COLUMN is required".into());
    }
    Ok(m)
}

/// Counts bytes read, for the progress bar.
struct CountingReader<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
    progress_bar_with("{bar:40} {pos}/{len} {wide_msg}")
}

/// A progress bar on a terminal only, so logs and pipes stay clean.
pub(crate) fn progress_bar_with(template: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(0);
    b.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(b)
}
