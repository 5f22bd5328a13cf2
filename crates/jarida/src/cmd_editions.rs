//! `jarida editions …`, `jarida worker` and `jarida dkim …`: newsletter editions from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use jarida::config::Config;
use jarida_newsletter::deliver::{self, Figures};
use jarida_newsletter::editions::{self, Edit};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Subcommand)]
pub enum EditionsCommand {
    /// Compose a draft edition now from what was published since the previous one.
    Compose {
        #[arg(long, default_value = "main")]
        newsletter: String,
        /// End of the period (RFC 3339); default now.
        #[arg(long)]
        until: Option<String>,
    },
    /// List editions, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
    },
    /// Show an edition: subject, intro, posts and corrections per language, and delivery figures.
    Show {
        id: jarida_core::EditionId,
        #[arg(long)]
        json: bool,
    },
    /// Change one language of a draft.
    Edit {
        id: jarida_core::EditionId,
        #[arg(long)]
        lang: String,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        intro: Option<String>,
        /// Read the introduction from a file.
        #[arg(long, conflicts_with = "intro")]
        intro_file: Option<PathBuf>,
        /// The complete order of posts, by id: 12,7,9.
        #[arg(long, value_delimiter = ',')]
        items: Option<Vec<i64>>,
        /// Add a post (id, slug or lang/slug); repeatable.
        #[arg(long)]
        add: Vec<String>,
        /// Remove a post (id or slug); repeatable.
        #[arg(long)]
        remove: Vec<String>,
    },
    /// Approve a draft: it is sent right away by `jarida serve` or `jarida worker`.
    Approve {
        id: jarida_core::EditionId,
    },
    /// Send at a given time (RFC 3339).
    Schedule {
        id: jarida_core::EditionId,
        #[arg(long)]
        at: String,
    },
    /// Approve (if needed) and send now in the foreground, with a progress bar.
    Send {
        id: jarida_core::EditionId,
    },
    Pause {
        id: jarida_core::EditionId,
    },
    Resume {
        id: jarida_core::EditionId,
    },
    Cancel {
        id: jarida_core::EditionId,
    },
    /// Limit an edition not yet sent to the readers of a saved segment (by name or id), or with
    /// --everyone send it to all the newsletter's readers again.
    Segment {
        id: jarida_core::EditionId,
        #[arg(required_unless_present = "everyone")]
        segment: Option<String>,
        #[arg(long, conflicts_with = "segment")]
        everyone: bool,
    },
    /// Print the email of one language (HTML, or the text part with --text, or the whole message
    /// as sent, headers and DKIM signature included, with --raw).
    Preview {
        id: jarida_core::EditionId,
        #[arg(long, default_value = "en")]
        lang: String,
        #[arg(long)]
        text: bool,
        #[arg(long, conflicts_with = "text")]
        raw: bool,
    },
}

#[derive(Subcommand)]
pub enum DkimCommand {
    /// Create the DKIM keys (RSA-2048, and Ed25519) and print the DNS records to publish.
    Generate {
        /// Replace existing keys.
        #[arg(long)]
        force: bool,
    },
    /// Print the DNS records of the existing keys.
    Show,
}

fn parse_time(s: &str, what: &str) -> anyhow::Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).with_context(|| {
        format!("{what}: {s:?} is not an RFC 3339 time such as 2026-12-01T09:00:00Z")
    })
}

fn when(ts: Option<i64>) -> String {
    ts.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".into())
}

pub async fn editions(cmd: EditionsCommand, cfg: &Config) -> anyhow::Result<ExitCode> {
    let db = jarida::open(cfg).await?;
    // One theme for the engine's renderer and for composing (the edition's default subject).
    let theme = jarida::theme(cfg)?;
    let engine = jarida::engine(cfg, &db, &cfg.base_url(), theme.clone()).await?;
    let now = OffsetDateTime::now_utc();
    match cmd {
        EditionsCommand::Compose { newsletter, until } => {
            let newsletters = engine.newsletters.get();
            let nl = newsletters
                .iter()
                .find(|n| n.slug == newsletter)
                .with_context(|| format!("--newsletter: no newsletter {newsletter:?}"))?;
            let end = match until {
                Some(u) => parse_time(&u, "--until")?,
                None => now,
            };
            anyhow::ensure!(
                end <= now,
                "--until: must not be in the future (posts published before it would be left out)"
            );
            let id = editions::compose(&db, nl, &theme.i18n, end, None, now)
                .await?
                .context("nothing composed")?;
            let e = editions::get(&db, id).await?;
            println!("composed edition {id} (No. {} of {newsletter})", e.number);
            print_parts(&db, &e).await?;
        }
        EditionsCommand::List { status } => {
            let status = status
                .as_deref()
                .map(str::parse::<editions::EditionStatus>)
                .transpose()
                .map_err(|why| anyhow::anyhow!("--status: {why}"))?;
            println!(
                "{:>5} {:<12} {:>4} {:<10} {:<21} {:<21}",
                "id", "newsletter", "no.", "status", "period end", "finished"
            );
            for e in editions::list(&db, status).await? {
                println!(
                    "{:>5} {:<12} {:>4} {:<10} {:<21} {:<21}",
                    e.id,
                    e.newsletter,
                    e.number,
                    e.status,
                    when(Some(e.period_end)),
                    when(e.finished_at)
                );
            }
        }
        EditionsCommand::Show { id, json } => {
            let e = editions::get(&db, id).await?;
            let parts = editions::parts(&db, &e).await?;
            let f = deliver::figures(&db, id).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "edition": e, "languages": parts, "figures": f })
                    )?
                );
            } else {
                println!(
                    "edition {id}: {} No. {}, {}; period {} .. {}; send at {}",
                    e.newsletter,
                    e.number,
                    e.status,
                    when(Some(e.period_start)),
                    when(Some(e.period_end)),
                    when(e.send_at)
                );
                if let Some(sid) = e.segment_id {
                    let mut c = db.acquire().await?;
                    let name = jarida_audience::segments::get(c.conn(), sid)
                        .await?
                        .map_or_else(|| format!("#{sid}"), |s| s.name);
                    println!("  to the readers of segment {name:?}");
                }
                print_parts(&db, &e).await?;
                print_figures(&f);
            }
        }
        EditionsCommand::Edit {
            id,
            lang,
            subject,
            intro,
            intro_file,
            items,
            add,
            remove,
        } => {
            let intro = match intro_file {
                Some(p) => Some(
                    std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?,
                ),
                None => intro,
            };
            let ed = Edit {
                subject,
                intro,
                items,
                add,
                remove,
            };
            editions::edit(&db, id, &lang, &ed, now).await?;
            let e = editions::get(&db, id).await?;
            print_parts(&db, &e).await?;
        }
        EditionsCommand::Approve { id } => {
            editions::approve(&db, id, now).await?;
            println!("edition {id} approved: `jarida serve` or `jarida worker` sends it now");
        }
        EditionsCommand::Schedule { id, at } => {
            let at = parse_time(&at, "--at")?;
            editions::schedule(&db, id, at, now).await?;
            println!(
                "edition {id} scheduled for {}",
                when(Some(at.unix_timestamp()))
            );
        }
        EditionsCommand::Pause { id } => {
            editions::pause(&db, id, now).await?;
            println!("edition {id} paused");
        }
        EditionsCommand::Resume { id } => {
            editions::resume(&db, id, now).await?;
            println!("edition {id} resumed");
        }
        EditionsCommand::Cancel { id } => {
            editions::cancel(&db, id, now).await?;
            println!("edition {id} cancelled");
        }
        EditionsCommand::Segment { id, segment, .. } => {
            let chosen = match segment {
                None => None,
                Some(wanted) => {
                    let all = jarida_audience::segments::list(&db).await?;
                    let found = all
                        .iter()
                        .find(|s| s.name == wanted || s.id.to_string() == wanted)
                        .with_context(|| {
                            let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
                            format!(
                                "segment {wanted:?}: there is no such segment (saved ones: {})",
                                if names.is_empty() {
                                    "none".to_string()
                                } else {
                                    names.join(", ")
                                }
                            )
                        })?;
                    Some(found.clone())
                }
            };
            editions::set_segment(&db, id, chosen.as_ref().map(|s| s.id), now).await?;
            match chosen {
                Some(s) => println!("edition {id} goes to the readers of segment {:?}", s.name),
                None => println!("edition {id} goes to every reader of its newsletter"),
            }
        }
        EditionsCommand::Preview {
            id,
            lang,
            raw: true,
            ..
        } => {
            use std::io::Write;
            let bytes = engine.sample_message(id, &lang).await?;
            std::io::stdout().write_all(&bytes)?;
        }
        EditionsCommand::Preview { id, lang, text, .. } => {
            let e = editions::get(&db, id).await?;
            let parts = editions::parts(&db, &e).await?;
            let part = parts
                .iter()
                .find(|p| p.lang.code() == lang)
                .with_context(|| format!("--lang: edition {id} has no language {lang:?}"))?;
            let newsletters = engine.newsletters.get();
            let nl = newsletters
                .iter()
                .find(|n| n.slug == e.newsletter)
                .with_context(|| {
                    format!("newsletter {:?} is no longer configured", e.newsletter)
                })?;
            let site = engine.site.get();
            let r = engine.renderer.render(&site, &nl.name, &e, part)?;
            let out = if text { r.text } else { r.html };
            let unsub = site.abs("/newsletter/unsubscribe/PREVIEW");
            let manage = site.abs(&format!("/{lang}/newsletter/"));
            print!(
                "{}",
                out.replace(&jarida_mail::bulk::slot(0), &unsub)
                    .replace(&jarida_mail::bulk::slot(1), &manage)
            );
        }
        EditionsCommand::Send { id } => {
            let e = editions::get(&db, id).await?;
            if e.status == editions::EditionStatus::Draft {
                editions::approve(&db, id, now).await?;
            }
            let e = editions::get(&db, id).await?;
            if matches!(e.status.as_str(), "approved" | "scheduled") {
                // Sending now, whatever time it was scheduled for.
                editions::schedule(&db, id, now, now).await?;
                engine.begin(id, now).await?;
            }
            let e = editions::get(&db, id).await?;
            if e.status != editions::EditionStatus::Sending {
                anyhow::bail!("edition {id} is {}: nothing to send", e.status);
            }
            let bar =
                crate::progress_bar_with("{bar:40} {pos}/{len} {per_sec} ETA {eta} {wide_msg}");
            let show = |f: &Figures| {
                if let Some(b) = &bar {
                    b.set_length(f.recipients as u64);
                    b.set_position((f.sent + f.failed + f.skipped) as u64);
                    b.set_message(format!("{} deferred, {} failed", f.deferred, f.failed));
                }
            };
            // Ctrl-C or SIGTERM: stop sending, hand back what was claimed, record what went out.
            let stopping = engine.stopping.clone();
            tokio::spawn(async move {
                jarida::shutdown_signal().await;
                stopping.store(true, std::sync::atomic::Ordering::Relaxed);
            });
            // Until nothing is pending or in flight: rows a killed process held come back when
            // their lease runs out, so a restarted `send` finishes what the dead one started.
            loop {
                engine.reclaim(OffsetDateTime::now_utc()).await?;
                // Figures are counted only for a terminal's progress bar.
                let progress: Option<&(dyn Fn(&Figures) + Sync)> =
                    if bar.is_some() { Some(&show) } else { None };
                engine.send_edition(&e, progress).await?;
                let cur = editions::get(&db, id).await?;
                let f = deliver::figures(&db, id).await?;
                show(&f);
                if cur.status != editions::EditionStatus::Sending || f.pending + f.sending == 0 {
                    break;
                }
                if engine.is_stopping() {
                    eprintln!("stopped; `jarida editions send {id}` (or a worker) carries on");
                    return Ok(ExitCode::from(130));
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            let f = deliver::figures(&db, id).await?;
            print_figures(&f);
            let e = editions::get(&db, id).await?;
            if e.status == editions::EditionStatus::Sent {
                println!("edition {id} sent");
            } else {
                println!(
                    "edition {id} is {}: {} deferred messages are retried by `jarida serve` or `jarida worker`",
                    e.status, f.deferred
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn print_parts(db: &jarida_store::Db, e: &editions::Edition) -> anyhow::Result<()> {
    for p in editions::parts(db, e).await? {
        println!("\n[{}] {}", p.lang, p.subject);
        if !p.intro.is_empty() {
            println!("  intro: {}", p.intro.lines().next().unwrap_or(""));
        }
        for it in &p.items {
            println!(
                "  {:>2}. #{} {} ({}{}) {}",
                it.position + 1,
                it.post_id,
                it.slug,
                it.kind,
                if it.featured { ", featured" } else { "" },
                it.title
            );
        }
        for c in &p.corrections {
            println!("  correction to #{} {}: {}", c.post_id, c.slug, c.note);
        }
    }
    Ok(())
}

fn print_figures(f: &Figures) {
    println!(
        "recipients {} · sent {} · deferred {} · failed {} · bounced {} (soft {}) · refused {} · complaints {} · skipped {} · pending {} · unsubscribed after {}",
        f.recipients,
        f.sent,
        f.deferred,
        f.failed,
        f.bounced,
        f.soft_bounced,
        f.refused,
        f.complaints,
        f.skipped,
        f.pending + f.sending,
        f.unsubscribed_after
    );
}

/// `jarida worker`: delivery and scheduling without the web server (scale-out).
pub async fn worker(file_cfg: &Config) -> anyhow::Result<ExitCode> {
    let db = jarida::open(file_cfg).await?;
    let (version, stored) = jarida::settings::snapshot(&db).await?;
    let effective = jarida::settings::lay_lenient(file_cfg, &stored);
    let cfg = &effective;
    let theme = jarida::theme(cfg)?;
    let notifier = jarida::notifier(cfg, theme.clone(), &cfg.base_url())?;
    let engine = jarida::engine(cfg, &db, &cfg.base_url(), theme).await?;
    // Settings an owner changes in the admin reach the worker's newsletters and signer too.
    let host =
        jarida::settings::Host::new(file_cfg.clone(), db.clone(), cfg.base_url(), cfg.clone());
    host.set_engine(engine.clone());
    host.set_notifier(notifier.clone());
    let mail = jarida_mail::queue::Queue::new(db.clone(), cfg.mail_transport());
    let alerts = mail.clone();
    let mut background = jarida::Background::spawn(
        &db,
        &cfg.data_dir,
        cfg.signup.confirm_hours * 3600,
        Some(engine),
        mail,
        notifier.clone(),
    );
    background.add(jarida::settings::watch(
        host,
        std::time::Duration::from_secs(cfg.cache.refresh_seconds),
        version,
    ));
    if let Some(polling) = jarida::bounce_mailbox(cfg, &db, notifier.clone(), alerts.clone())? {
        background.add(polling);
    }
    if let Some(receiving) = jarida::bounce_receiver(cfg, &db, notifier.clone(), alerts).await? {
        background.add(receiving);
    }
    tracing::info!("delivery worker and transactional mail queue running");
    jarida::shutdown_signal().await;
    tracing::info!("stopping: handing back what was claimed");
    background
        .shutdown(std::time::Duration::from_secs(30))
        .await;
    Ok(ExitCode::SUCCESS)
}

pub fn dkim(cmd: DkimCommand, cfg: &Config) -> anyhow::Result<ExitCode> {
    jarida::config::ensure_dirs(cfg)?;
    if let DkimCommand::Generate { force } = cmd {
        for (alg, make) in [
            ("rsa", jarida_mail::dkim::generate_rsa2048 as fn() -> _),
            ("ed25519", jarida_mail::dkim::generate_ed25519),
        ] {
            let path = cfg.dkim_key_path(&cfg.dkim.selector, alg);
            if path.exists() && !force {
                eprintln!(
                    "{} exists; keeping it (use --force to replace)",
                    path.display()
                );
                continue;
            }
            let pem = make()?;
            jarida::write_private(&path, &pem)?;
            eprintln!("wrote {}", path.display());
        }
    }
    let signer = cfg
        .dkim_signer()?
        .context("no DKIM key: run `jarida dkim generate` (and check dkim.enabled)")?;
    println!("Publish these DNS TXT records, then newsletters are signed with them:\n");
    for k in signer.keys() {
        println!("{}. IN TXT \"{}\"\n", k.dns_name(), k.dns_txt());
    }
    Ok(ExitCode::SUCCESS)
}
