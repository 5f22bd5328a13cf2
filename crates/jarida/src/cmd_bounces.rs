//! `jarida bounces`: takes in one returned message on standard input, for a Postfix `pipe`
//! transport or an alias (`jarida bounces ingest --recipient ${recipient}`); polls the configured
//! mailbox once (`poll`); says what a message is without acting (`classify`).

use std::io::Read;

use anyhow::Context;
use std::process::ExitCode;

use jarida::config::Config;
use jarida_newsletter::bounces::{Outcome, ingest};

#[derive(clap::Subcommand)]
pub enum BouncesCommand {
    /// Read one message on standard input (a bounce, a complaint, or mail to an unsubscribe
    /// address) and act on it. Exits 0 when the message was read (acted on or not), 75 when the
    /// database could not be reached (the MTA keeps the message and tries again).
    Ingest {
        /// The address the message was delivered to (Postfix's `${recipient}`); without it, the
        /// message's Delivered-To, X-Original-To or To.
        #[arg(long)]
        recipient: Option<String>,
        /// How it came in, kept with the record.
        #[arg(long, default_value = "pipe")]
        source: String,
    },
    /// Say what each message file is (kind, recipient, status, the server's words) without
    /// acting on it: to check a message by hand. `--repeat N` reads them N times and reports the
    /// rate (the benchmark's measure of the classifier alone).
    Classify {
        files: Vec<std::path::PathBuf>,
        #[arg(long, default_value_t = 1)]
        repeat: u32,
    },
    /// Poll the mailbox of `bounces.imap` once: every message taken in, then deleted (or moved
    /// to `bounces.imap.processed`). `jarida serve` and `jarida worker` poll it by themselves.
    Poll,
}

/// The exit code an MTA's pipe reads as "try again later" (sysexits' EX_TEMPFAIL).
const TEMPFAIL: u8 = 75;

pub async fn bounces(cmd: BouncesCommand, cfg: &Config) -> anyhow::Result<ExitCode> {
    let (recipient, source) = match cmd {
        BouncesCommand::Ingest { recipient, source } => (recipient, source),
        BouncesCommand::Classify { files, repeat } => return classify(&files, repeat),
        BouncesCommand::Poll => return poll(cfg).await,
    };
    // Read what the classifier reads; the rest is drained so the MTA's write does not fail.
    let mut raw = Vec::new();
    let mut stdin = std::io::stdin().lock();
    (&mut stdin)
        .take(jarida_mail::bounce::MAX_BYTES as u64)
        .read_to_end(&mut raw)?;
    std::io::copy(&mut stdin, &mut std::io::sink())?;
    let db = match jarida::open(cfg).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(TEMPFAIL));
        }
    };
    let secret = jarida::secret(cfg)?;
    let outcome = match ingest(
        &db,
        &secret,
        cfg.bounces.rules(),
        &raw,
        recipient.as_deref(),
        &source,
        time::OffsetDateTime::now_utc(),
    )
    .await
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(TEMPFAIL));
        }
    };
    // The owners hear of a refusal for policy or a paused edition through the mail queue, which
    // `jarida serve` or `jarida worker` sends.
    let worth_telling = matches!(
        &outcome,
        Outcome::Applied { paused: true, .. } | Outcome::Applied { alert: Some(_), .. }
    );
    let alerted = async {
        if !worth_telling {
            return anyhow::Ok(());
        }
        let theme = jarida::theme(cfg)?;
        let notifier = jarida::notifier(cfg, theme, &cfg.base_url())?;
        let queue = jarida_mail::queue::Queue::new(db.clone(), cfg.mail_transport());
        jarida_newsletter::bounces::alert_owners(&db, &notifier, &queue, &outcome).await?;
        anyhow::Ok(())
    };
    if let Err(e) = alerted.await {
        eprintln!("warning: the owners could not be alerted: {e:#}");
    }
    match outcome {
        Outcome::Applied {
            kind,
            subscriber,
            edition,
            decision,
            paused,
            alert,
        } => {
            println!(
                "{}: reader {} (edition {edition}): {decision:?}{}",
                kind.as_str(),
                subscriber.0,
                if paused { "; edition paused" } else { "" }
            );
            if let Some(words) = alert {
                println!("refused for policy: {words}");
            }
        }
        Outcome::Unsubscribed {
            subscriber,
            changed,
        } => println!(
            "unsubscribed reader {}{}",
            subscriber.0,
            if changed { "" } else { " (already)" }
        ),
        Outcome::Ignored(why) => println!("ignored: {why}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn classify(files: &[std::path::PathBuf], repeat: u32) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let mut messages = Vec::with_capacity(files.len());
    for f in files {
        let raw = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        messages.push((f, raw));
    }
    if repeat <= 1 {
        for (f, raw) in &messages {
            let r = jarida_mail::bounce::classify(raw);
            println!(
                "{}: {} recipient={} status={} tokens={} {}",
                f.display(),
                r.kind.as_str(),
                r.recipient.as_deref().unwrap_or("-"),
                r.status.as_deref().unwrap_or("-"),
                r.tokens.len(),
                r.diagnostic
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let started = std::time::Instant::now();
    let mut acted = 0u64;
    for _ in 0..repeat {
        for (_, raw) in &messages {
            let r = jarida_mail::bounce::classify(std::hint::black_box(raw));
            if !matches!(
                r.kind,
                jarida_mail::bounce::Kind::Unknown | jarida_mail::bounce::Kind::AutoReply
            ) {
                acted += 1;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let n = messages.len() as u64 * u64::from(repeat);
    println!(
        "classified {n} messages in {secs:.3} s: {:.0} per second ({acted} bounces or complaints)",
        n as f64 / secs
    );
    Ok(ExitCode::SUCCESS)
}

/// `jarida bounces poll`.
async fn poll(cfg: &Config) -> anyhow::Result<ExitCode> {
    let Some(mb) = cfg.bounce_mailbox() else {
        anyhow::bail!("no mailbox to poll: set bounces.imap.host (and user, password)");
    };
    let db = jarida::open(cfg).await?;
    let secret = jarida::secret(cfg)?;
    let theme = jarida::theme(cfg)?;
    let notifier = jarida::notifier(cfg, theme, &cfg.base_url())?;
    let queue = jarida_mail::queue::Queue::new(db.clone(), cfg.mail_transport());
    let taker = jarida_newsletter::bounces::mailbox::Taker {
        db: &db,
        secret: &secret,
        rules: cfg.bounces.rules(),
        notifier: &notifier,
        mail: &queue,
    };
    let p = jarida_newsletter::bounces::mailbox::poll(&mb, &taker)
        .await
        .with_context(|| format!("polling {}:{} as {}", mb.host, mb.port, mb.user))?;
    println!(
        "{} taken from {} ({} acted on), {} removed unread for their size",
        p.taken, mb.folder, p.acted, p.too_large
    );
    Ok(ExitCode::SUCCESS)
}
