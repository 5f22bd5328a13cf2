//! Returned mail taken from a mailbox over IMAP, for a newsroom whose bounce address is a mailbox at
//! its mail host rather than an MX pointed at jarida: each poll logs in over TLS (implicit, or
//! STARTTLS), reads every message of the folder, takes each in as the pipe does
//! ([`super::ingest_report`]), and then deletes it or moves it to another folder. A message is
//! removed only once it was taken in: when the database fails, it stays for the next poll (taking
//! it twice changes nothing). Several processes may poll: one poll per interval runs, through a
//! counter in the database.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use jarida_core::Secret;
use jarida_store::Db;
use tokio_rustls::rustls;

use super::{Outcome, Rules, alert_owners, ingest_report};

/// A mailbox to poll (configuration `bounces.imap`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub host: String,
    pub port: u16,
    /// Plain connection upgraded with STARTTLS (port 143), rather than TLS from the start (993).
    pub starttls: bool,
    pub user: String,
    pub password: String,
    pub folder: String,
    /// Where taken messages go; empty: they are deleted.
    pub processed: String,
    pub every: Duration,
    /// Extra trusted certificates (PEM), for a server with a private or self-signed one; empty:
    /// the system's roots.
    pub ca_file: Option<PathBuf>,
    /// A larger message is removed unread (a bounce's report is small; the parser reads 2 MiB).
    pub max_message_bytes: u32,
}

/// Why a poll stopped.
#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("connecting to {0}: {1}")]
    Connect(String, String),
    #[error("TLS with {0}: {1}")]
    Tls(String, String),
    #[error("logging in as {0}: {1}")]
    Login(String, String),
    #[error("IMAP: {0}")]
    Imap(#[from] async_imap::error::Error),
    #[error("reading {0}: {1}")]
    Io(String, std::io::Error),
    #[error("taking a message in: {0}")]
    Ingest(#[from] crate::NewsletterError),
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Polled {
    /// Messages read and removed from the folder.
    pub taken: usize,
    /// Of those, the ones that changed a reader or an edition.
    pub acted: usize,
    /// Removed unread for their size.
    pub too_large: usize,
}

/// At most this many messages are taken per poll (the rest wait for the next).
const PER_POLL: usize = 500;
/// A server that stops answering ends the poll after this long.
const DEADLINE: Duration = Duration::from_secs(300);

/// What [`poll`] hands each message to.
pub struct Taker<'a> {
    pub db: &'a Db,
    pub secret: &'a Secret,
    pub rules: Rules,
    pub notifier: &'a jarida_notify::Notifier,
    pub mail: &'a jarida_mail::queue::Queue,
}

fn tls_config(mb: &Mailbox) -> Result<rustls::ClientConfig, MailboxError> {
    let tls = |e: String| MailboxError::Tls(mb.host.clone(), e);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(e.to_string()))?;
    match &mb.ca_file {
        Some(path) => {
            use rustls_pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
                .map_err(|e| tls(format!("{}: {e}", path.display())))?;
            for cert in certs {
                let cert = cert.map_err(|e| tls(format!("{}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| tls(format!("{}: {e}", path.display())))?;
            }
            Ok(builder.with_root_certificates(roots).with_no_client_auth())
        }
        None => Ok(
            rustls_platform_verifier::BuilderVerifierExt::with_platform_verifier(builder)
                .map_err(|e| tls(e.to_string()))?
                .with_no_client_auth(),
        ),
    }
}

type Stream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn connect(mb: &Mailbox) -> Result<async_imap::Client<Stream>, MailboxError> {
    let at = format!("{}:{}", mb.host, mb.port);
    let tcp = tokio::net::TcpStream::connect((mb.host.as_str(), mb.port))
        .await
        .map_err(|e| MailboxError::Connect(at.clone(), e.to_string()))?;
    let name = rustls_pki_types::ServerName::try_from(mb.host.clone())
        .map_err(|e| MailboxError::Tls(mb.host.clone(), e.to_string()))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config(mb)?));
    let tcp = if mb.starttls {
        let mut plain = async_imap::Client::new(tcp);
        plain
            .read_response()
            .await
            .map_err(|e| MailboxError::Io(at.clone(), e))?;
        plain.run_command_and_check_ok("STARTTLS", None).await?;
        plain.into_inner()
    } else {
        tcp
    };
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| MailboxError::Tls(mb.host.clone(), e.to_string()))?;
    let mut client = async_imap::Client::new(tls);
    if !mb.starttls {
        // No greeting follows STARTTLS; with TLS from the start it comes first.
        client
            .read_response()
            .await
            .map_err(|e| MailboxError::Io(at, e))?;
    }
    Ok(client)
}

/// One poll of `mb`: every message of its folder (up to [`PER_POLL`]) taken in and removed.
pub async fn poll(mb: &Mailbox, taker: &Taker<'_>) -> Result<Polled, MailboxError> {
    match tokio::time::timeout(DEADLINE, poll_inner(mb, taker)).await {
        Ok(r) => r,
        Err(_) => Err(MailboxError::Io(
            mb.host.clone(),
            std::io::Error::new(std::io::ErrorKind::TimedOut, "the server stopped answering"),
        )),
    }
}

async fn poll_inner(mb: &Mailbox, taker: &Taker<'_>) -> Result<Polled, MailboxError> {
    let client = connect(mb).await?;
    let mut session = client
        .login(&mb.user, &mb.password)
        .await
        .map_err(|(e, _)| MailboxError::Login(mb.user.clone(), e.to_string()))?;
    session.select(&mb.folder).await?;
    let mut uids: Vec<u32> = session.uid_search("ALL").await?.into_iter().collect();
    uids.sort_unstable();
    uids.truncate(PER_POLL);
    let mut polled = Polled::default();
    // Sizes first, so that a huge message is never fetched whole.
    let mut small: Vec<u32> = Vec::new();
    let mut large: Vec<u32> = Vec::new();
    if !uids.is_empty() {
        let sizes: Vec<_> = session
            .uid_fetch(set_of(&uids), "(UID RFC822.SIZE)")
            .await?
            .try_collect()
            .await?;
        for f in &sizes {
            if let Some(uid) = f.uid {
                if f.size.unwrap_or(0) > mb.max_message_bytes {
                    large.push(uid);
                } else {
                    small.push(uid);
                }
            }
        }
    }
    let mut done: Vec<u32> = Vec::new();
    for chunk in small.chunks(50) {
        let fetched: Vec<_> = session
            .uid_fetch(set_of(chunk), "(UID BODY.PEEK[])")
            .await?
            .try_collect()
            .await?;
        for f in &fetched {
            let (Some(uid), Some(raw)) = (f.uid, f.body()) else {
                continue;
            };
            let report = jarida_mail::bounce::classify(raw);
            // A database that fails stops the poll here: what was taken is removed below, the
            // rest stays for the next poll.
            let outcome = match ingest_report(
                taker.db,
                taker.secret,
                taker.rules,
                &report,
                None,
                "imap",
                time::OffsetDateTime::now_utc(),
            )
            .await
            {
                Ok(o) => o,
                Err(e) => {
                    remove(&mut session, mb, &done).await?;
                    return Err(e.into());
                }
            };
            if matches!(
                outcome,
                Outcome::Applied { .. } | Outcome::Unsubscribed { .. }
            ) {
                polled.acted += 1;
            }
            if let Err(e) = alert_owners(taker.db, taker.notifier, taker.mail, &outcome).await {
                tracing::warn!(error = %e, "alerting the owners");
            }
            done.push(uid);
        }
    }
    if !large.is_empty() {
        tracing::warn!(
            messages = large.len(),
            limit = mb.max_message_bytes,
            "returned mail over the size limit removed unread"
        );
    }
    polled.taken = done.len();
    polled.too_large = large.len();
    done.extend(&large);
    remove(&mut session, mb, &done).await?;
    session.logout().await?;
    Ok(polled)
}

/// `1,5,9`: a UID set.
fn set_of(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Deletes (or moves) the messages `uids` of the selected folder.
async fn remove(
    session: &mut async_imap::Session<Stream>,
    mb: &Mailbox,
    uids: &[u32],
) -> Result<(), MailboxError> {
    if uids.is_empty() {
        return Ok(());
    }
    let set = set_of(uids);
    if !mb.processed.is_empty() {
        session.uid_mv(&set, &mb.processed).await?;
        return Ok(());
    }
    let _: Vec<_> = session
        .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
        .await?
        .try_collect()
        .await?;
    let _: Vec<_> = session.uid_expunge(&set).await?.try_collect().await?;
    Ok(())
}

/// Polls `mb` every `mb.every` until dropped. Among processes sharing the database, the first to
/// count an interval polls in it.
pub async fn run(mb: Mailbox, parts: TakerParts) {
    let every = mb.every.max(Duration::from_secs(5));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match jarida_audience::throttle::hit(&parts.db, "imap-poll", every.as_secs() as i64, now)
            .await
        {
            Ok(1) => {}
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "returned mail: the database is not answering");
                continue;
            }
        }
        let t = Taker {
            db: &parts.db,
            secret: &parts.secret,
            rules: parts.rules,
            notifier: &parts.notifier,
            mail: &parts.mail,
        };
        match poll(&mb, &t).await {
            Ok(p) if p.taken + p.too_large > 0 => {
                tracing::info!(
                    taken = p.taken,
                    acted = p.acted,
                    too_large = p.too_large,
                    "returned mail taken from the mailbox"
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, mailbox = %mb.host, "returned mail: polling the mailbox")
            }
        }
    }
}

/// What [`run`] needs each time (owned, so that the loop can live in the background).
pub struct TakerParts {
    pub db: Db,
    pub secret: Secret,
    pub rules: Rules,
    pub notifier: Arc<jarida_notify::Notifier>,
    pub mail: Arc<jarida_mail::queue::Queue>,
}
