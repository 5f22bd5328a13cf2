//! Taking in what comes back for the mail we send, whatever way it arrives (the built-in SMTP
//! receiver, a pipe from the MTA, a mailbox, a relay's webhook): the message is read by
//! [`jarida_mail::bounce`], the reader found through a token of ours whose signature checks (the
//! VERP return path, our Message-ID, the unsubscribe address), and the bounce policy applied
//! ([`jarida_audience::bounces`]). A forged token, or a report about a message we never sent
//! that reader, changes nothing; a report that comes again changes nothing either. An edition
//! whose first messages bounce hard above a set rate is paused (a stale imported list).

use jarida_audience::bounces::{Decision, Evidence, Policy};
use jarida_core::{EditionId, Secret, SubscriberId};
use jarida_mail::bounce::{Kind, Report, Token};
use jarida_store::{Db, q_one, q_opt};
use time::OffsetDateTime;

use crate::NewsletterError;
use crate::editions::{self, Action};

/// The numbers of the policy (configuration's `bounces` section).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    pub policy: Policy,
    /// An edition is judged once this many of its messages went out…
    pub pause_after: i64,
    /// …and paused when more than this share of them (percent) bounced hard.
    pub pause_hard_percent: f64,
    /// Mail to the bounce domain reaches us, so messages offer a mailto unsubscribe address.
    pub mailto_unsubscribe: bool,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            policy: Policy::default(),
            pause_after: 1000,
            pause_hard_percent: 5.0,
            mailto_unsubscribe: false,
        }
    }
}

pub use jarida_audience::bounces::unsubscribe_address;

/// Whose token this is, if its signature checks: (edition, subscriber).
pub fn verify(secret: &Secret, t: &Token) -> Option<(i64, i64)> {
    match t {
        Token::Verp {
            edition,
            subscriber,
            signature,
        } => secret
            .verify_hex("verp", &format!("{edition}-{subscriber}"), 8, signature)
            .then_some((*edition, *subscriber)),
        Token::MessageId {
            edition,
            subscriber,
            signature,
        } => secret
            .verify_hex(
                "message-id",
                &format!("e{edition}.s{subscriber}"),
                6,
                signature,
            )
            .then_some((*edition, *subscriber)),
        Token::Unsubscribe {
            edition,
            subscriber,
            signature,
        } => secret
            .verify_hex(
                "unsubscribe-mail",
                &format!("{edition}-{subscriber}"),
                8,
                signature,
            )
            .then_some((*edition, *subscriber)),
    }
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Read and acted on (or recorded as seen before).
    Applied {
        kind: Kind,
        subscriber: SubscriberId,
        edition: i64,
        decision: Decision,
        /// The edition was paused by this report.
        paused: bool,
        /// The receiver refused us for policy: the owner must hear of it (the words are here).
        alert: Option<String>,
    },
    /// Mail to an unsubscribe address: the reader is unsubscribed (`false`: they already were).
    Unsubscribed {
        subscriber: SubscriberId,
        changed: bool,
    },
    /// Nothing done, and why (an auto-reply, no token of ours that checks, an unknown reader).
    Ignored(&'static str),
}

/// Takes in one message. `envelope_to` is the address it was delivered to when the way it came
/// knows it (the receiver's RCPT, Postfix's `${recipient}`); `source` names the way.
pub async fn ingest(
    db: &Db,
    secret: &Secret,
    rules: Rules,
    raw: &[u8],
    envelope_to: Option<&str>,
    source: &str,
    now: OffsetDateTime,
) -> Result<Outcome, NewsletterError> {
    let report = jarida_mail::bounce::classify(raw);
    ingest_report(db, secret, rules, &report, envelope_to, source, now).await
}

/// [`ingest`] of a message already read.
pub async fn ingest_report(
    db: &Db,
    secret: &Secret,
    rules: Rules,
    report: &Report,
    envelope_to: Option<&str>,
    source: &str,
    now: OffsetDateTime,
) -> Result<Outcome, NewsletterError> {
    // The address it was sent to decides first: mail to an unsubscribe address is a request,
    // whatever it says (usually nothing); a bounce quoting our List-Unsubscribe header is not.
    let mut addressed: Vec<Token> = Vec::new();
    if let Some(to) = envelope_to {
        jarida_mail::bounce::tokens(to.as_bytes(), &mut addressed);
    } else {
        for to in &report.addressed_to {
            jarida_mail::bounce::tokens(to.as_bytes(), &mut addressed);
        }
    }
    let to_unsubscribe = addressed
        .iter()
        .filter(|t| matches!(t, Token::Unsubscribe { .. }))
        .find_map(|t| verify(secret, t));
    // Mail to an unsubscribe address is that request and nothing else: its body is never read
    // for another reader (a forged report inside must not act on whoever it names).
    if let Some((_, subscriber)) = to_unsubscribe {
        if matches!(
            report.kind,
            Kind::Hard | Kind::Soft | Kind::Delayed | Kind::Policy | Kind::Complaint
        ) {
            return Ok(Outcome::Ignored("a report sent to an unsubscribe address"));
        }
        let id = SubscriberId(subscriber);
        let exists = {
            let mut c = db.acquire().await?;
            q_opt!(
                c.conn(),
                (i64,),
                "SELECT id FROM subscribers WHERE id = $1",
                id
            )?
            .is_some()
        };
        if !exists {
            return Ok(Outcome::Ignored("no such reader"));
        }
        let changed =
            jarida_audience::subscribers::unsubscribe(db, id, "email to List-Unsubscribe", now)
                .await?;
        tracing::info!(reader = subscriber, "unsubscribed by email");
        return Ok(Outcome::Unsubscribed {
            subscriber: id,
            changed,
        });
    }
    if addressed
        .iter()
        .any(|t| matches!(t, Token::Unsubscribe { .. }))
    {
        return Ok(Outcome::Ignored(
            "an unsubscribe address that does not verify",
        ));
    }
    if matches!(report.kind, Kind::AutoReply) {
        return Ok(Outcome::Ignored("an automatic reply"));
    }
    if matches!(report.kind, Kind::Unknown) {
        return Ok(Outcome::Ignored("not a bounce or a complaint"));
    }
    if matches!(report.kind, Kind::Delayed) {
        return Ok(Outcome::Ignored(
            "a delay notice: the message is still being tried",
        ));
    }
    // The reader: every token that verifies must name the same one (tokens of other readers leak
    // through forwarded mail and References headers; a report that mixes them is not trusted),
    // and a VERP address the message was delivered to must be among them.
    let verified: Vec<(i64, i64)> = addressed
        .iter()
        .chain(report.tokens.iter())
        .filter(|t| !matches!(t, Token::Unsubscribe { .. }))
        .filter_map(|t| verify(secret, t))
        .collect();
    let readers: std::collections::BTreeSet<i64> = verified.iter().map(|v| v.1).collect();
    if readers.len() > 1 {
        tracing::warn!(source, "a report naming several readers: ignored");
        return Ok(Outcome::Ignored("tokens of several readers"));
    }
    if envelope_to.is_some()
        && !addressed.is_empty()
        && addressed.iter().all(|t| verify(secret, t).is_none())
    {
        return Ok(Outcome::Ignored("no token of ours that verifies"));
    }
    // The envelope's edition first (a Message-ID of another edition of the same reader may be
    // quoted in it), then the report's.
    let found = verified.first().copied();
    let Some((edition, subscriber)) = found else {
        if !report.tokens.is_empty() || !addressed.is_empty() {
            tracing::warn!(
                source,
                "a report with a token that does not verify: ignored"
            );
        }
        return Ok(Outcome::Ignored("no token of ours that verifies"));
    };
    apply(
        db,
        rules,
        report,
        edition,
        SubscriberId(subscriber),
        source,
        now,
    )
    .await
}

/// A relay's report of one recipient, read from its webhook (whose signature the caller checked):
/// the reader is the one our Message-ID in it names when it carries one that verifies (and it
/// must be the reader at the report's address), else the reader at that address, about the last
/// edition they were sent.
pub async fn ingest_relayed(
    db: &Db,
    secret: &Secret,
    rules: Rules,
    report: &Report,
    source: &str,
    now: OffsetDateTime,
) -> Result<Outcome, NewsletterError> {
    match report.kind {
        Kind::AutoReply => return Ok(Outcome::Ignored("an automatic reply")),
        Kind::Unknown => return Ok(Outcome::Ignored("not a bounce or a complaint")),
        Kind::Delayed => {
            return Ok(Outcome::Ignored(
                "a delay notice: the message is still being tried",
            ));
        }
        _ => {}
    }
    let Some(address) = report.recipient.as_deref() else {
        return Ok(Outcome::Ignored("no recipient"));
    };
    let reader: Option<(i64,)> = {
        let mut c = db.acquire().await?;
        q_opt!(
            c.conn(),
            (i64,),
            "SELECT id FROM subscribers WHERE email = $1",
            jarida_audience::email::normalize(address).unwrap_or_default()
        )?
    };
    let Some((subscriber,)) = reader else {
        return Ok(Outcome::Ignored("no such reader"));
    };
    let verified: Vec<(i64, i64)> = report
        .tokens
        .iter()
        .filter(|t| !matches!(t, Token::Unsubscribe { .. }))
        .filter_map(|t| verify(secret, t))
        .collect();
    if verified.iter().any(|(_, s)| *s != subscriber) {
        tracing::warn!(
            source,
            "a relay's report whose Message-ID names another reader: ignored"
        );
        return Ok(Outcome::Ignored("tokens of another reader"));
    }
    let edition = match verified.first() {
        Some((edition, _)) => *edition,
        None => {
            let mut c = db.acquire().await?;
            let last: Option<(i64,)> = q_opt!(
                c.conn(),
                (i64,),
                "SELECT edition_id FROM deliveries WHERE subscriber_id = $1 \
                 ORDER BY edition_id DESC LIMIT 1",
                subscriber
            )?;
            // None: a confirmation (edition 0), the only other mail a reader is sent.
            last.map_or(0, |(e,)| e)
        }
    };
    apply(
        db,
        rules,
        report,
        edition,
        SubscriberId(subscriber),
        source,
        now,
    )
    .await
}

/// Records what `report` says happened to reader `id`'s message of `edition` (0: a
/// confirmation), once: the policy's decision, and a pause of the edition when it is stale.
async fn apply(
    db: &Db,
    rules: Rules,
    report: &Report,
    edition: i64,
    id: SubscriberId,
    source: &str,
    now: OffsetDateTime,
) -> Result<Outcome, NewsletterError> {
    let now_s = now.unix_timestamp();
    let subscriber = id.0;
    let mut tx = db.begin().await?;
    // A report about an edition this reader was never sent is not about us.
    let known = if edition > 0 {
        q_opt!(
            tx.conn(),
            (i64,),
            "SELECT subscriber_id FROM deliveries WHERE edition_id = $1 AND subscriber_id = $2",
            edition,
            id
        )?
        .is_some()
    } else {
        q_opt!(
            tx.conn(),
            (i64,),
            "SELECT id FROM subscribers WHERE id = $1",
            id
        )?
        .is_some()
    };
    if !known {
        // Nothing was written: dropping the transaction rolls it back.
        return Ok(Outcome::Ignored("no such message"));
    }
    let ev = Evidence {
        kind: report.kind,
        status: report.status.clone().unwrap_or_default(),
        diagnostic: report.diagnostic.clone(),
        source: source.to_string(),
        edition,
        feedback_type: report.feedback_type.clone(),
    };
    let decision =
        jarida_audience::bounces::record_in(&mut tx, id, &ev, rules.policy, now_s).await?;
    let paused = if report.kind == Kind::Hard && decision != Decision::Repeated && edition > 0 {
        pause_if_stale(&mut tx, EditionId(edition), rules, now).await?
    } else {
        false
    };
    tx.commit().await?;
    tracing::info!(
        reader = subscriber,
        edition,
        kind = report.kind.as_str(),
        status = %ev.status,
        ?decision,
        source,
        "returned mail"
    );
    let alert = (report.kind == Kind::Policy && decision != Decision::Repeated)
        .then(|| jarida_mail::redact_addresses(&report.diagnostic));
    if paused {
        tracing::warn!(edition, "edition paused: too many hard bounces");
    }
    Ok(Outcome::Applied {
        kind: report.kind,
        subscriber: id,
        edition,
        decision,
        paused,
        alert,
    })
}

/// Pauses edition `id` when it is going out, returned mail has not paused it before (an editor
/// who resumed it has looked), and its hard bounces passed the rate once enough of it went out;
/// whether it did.
pub(crate) async fn pause_if_stale(
    tx: &mut jarida_store::Tx,
    id: EditionId,
    rules: Rules,
    now: OffsetDateTime,
) -> Result<bool, NewsletterError> {
    let row: Option<(String, Option<i64>)> = q_opt!(
        tx.conn(),
        (String, Option<i64>),
        "SELECT status, bounce_paused_at FROM editions WHERE id = $1",
        id
    )?;
    if !matches!(row, Some((ref status, None)) if status == "sending") {
        return Ok(false);
    }
    let (out,): (i64,) = q_one!(
        tx.conn(),
        (i64,),
        "SELECT COUNT(*) FROM deliveries WHERE edition_id = $1 AND state IN ('sent', 'failed')",
        id
    )?;
    if out < rules.pause_after.max(1) {
        return Ok(false);
    }
    let (hard,): (i64,) = q_one!(
        tx.conn(),
        (i64,),
        "SELECT COUNT(*) FROM bounces WHERE edition_id = $1 AND kind = 'hard'",
        id
    )?;
    if (hard as f64) * 100.0 <= rules.pause_hard_percent * out as f64 {
        return Ok(false);
    }
    editions::act_in(tx, id, Action::Pause, None, now).await?;
    jarida_store::q_exec!(
        tx.conn(),
        "UPDATE editions SET bounce_paused_at = $1 WHERE id = $2",
        now.unix_timestamp(),
        id
    )?;
    Ok(true)
}

/// Tells the owners what `outcome` means for delivery, through the transactional mail queue: a
/// refusal for policy (at most one email a day, the server's words quoted) or an edition paused
/// for its hard bounces. A failure to queue is logged, not fatal: the record is made.
pub async fn alert_owners(
    db: &Db,
    notifier: &jarida_notify::Notifier,
    mail: &jarida_mail::queue::Queue,
    outcome: &Outcome,
) -> Result<(), NewsletterError> {
    let Outcome::Applied {
        edition,
        paused,
        alert,
        ..
    } = outcome
    else {
        return Ok(());
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut alerts: Vec<jarida_notify::Alert<'_>> = Vec::new();
    if let Some(reply) = alert
        && jarida_audience::throttle::hit(db, "alert:refused", 86_400, now).await? == 1
    {
        alerts.push(jarida_notify::Alert::Refused { reply });
    }
    if *paused {
        let e = editions::get(db, EditionId(*edition)).await?;
        let mut c = db.acquire().await?;
        let (out,): (i64,) = q_one!(
            c.conn(),
            (i64,),
            "SELECT COUNT(*) FROM deliveries WHERE edition_id = $1 AND state IN ('sent', 'failed')",
            *edition
        )?;
        let (hard,): (i64,) = q_one!(
            c.conn(),
            (i64,),
            "SELECT COUNT(*) FROM bounces WHERE edition_id = $1 AND kind = 'hard'",
            *edition
        )?;
        alerts.push(jarida_notify::Alert::Paused {
            number: e.number,
            percent: hard as f64 * 100.0 / out.max(1) as f64,
        });
    }
    if alerts.is_empty() {
        return Ok(());
    }
    let lang = notifier.site().default_lang;
    for to in jarida_accounts::users::owner_emails(db).await? {
        for a in &alerts {
            let queued = match notifier.delivery_alert(lang, a, &to) {
                Ok(msg) => match msg.to_bytes() {
                    Ok(b) => mail
                        .enqueue(msg.envelope(), &to, &b)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                },
                Err(e) => Err(e.to_string()),
            };
            if let Err(err) = queued {
                tracing::warn!(error = %err, "alerting an owner about returned mail");
            }
        }
    }
    Ok(())
}

pub mod hooks;
mod inbox;
pub mod mailbox;
pub mod sns;
pub use inbox::BounceInbox;
