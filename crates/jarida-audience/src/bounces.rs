//! What a reader's returned mail does to them: the bounce policy. A hard bounce stops their mail at
//! once; soft bounces count within a window and stop it past a limit; a complaint unsubscribes and
//! suppresses them across newsletters; a refusal for policy (the receiver's verdict on us, not on
//! the address) is recorded and changes nothing for them. Each decision is an event in their
//! history with its evidence, and each report a row of `bounces` (one per reader, edition and
//! kind: a report that comes again changes nothing).

use jarida_core::SubscriberId;
use jarida_mail::bounce::Kind;
use jarida_store::{Tx, q_exec, q_one, q_opt};

use crate::AudienceError;
use crate::subscribers::{event, suppress};

/// The VERP return path of a message to `subscriber` (`edition` 0: mail outside editions, such
/// as a confirmation): a bounce names the edition and the reader without a lookup, and its
/// signature cannot be forged.
pub fn verp(secret: &jarida_core::Secret, domain: &str, edition: i64, subscriber: i64) -> String {
    let t = format!("{edition}-{subscriber}");
    format!("b+{t}-{}@{domain}", secret.sign_hex("verp", &t, 8))
}

/// The unsubscribe address of `subscriber` for `edition` (the `List-Unsubscribe` mailto target;
/// mail to it unsubscribes them).
pub fn unsubscribe_address(
    secret: &jarida_core::Secret,
    domain: &str,
    edition: i64,
    subscriber: i64,
) -> String {
    let t = format!("{edition}-{subscriber}");
    format!(
        "u+{t}-{}@{domain}",
        secret.sign_hex("unsubscribe-mail", &t, 8)
    )
}

/// The numbers of the policy (configuration's `bounces` section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Soft bounces within the window that make a reader bounced.
    pub soft_limit: i64,
    /// How long a soft bounce counts, in seconds (it is forgotten after).
    pub soft_window: i64,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            soft_limit: 3,
            soft_window: 7 * 86_400,
        }
    }
}

/// One report about one message to one reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub kind: Kind,
    /// The enhanced status code, empty when none was given.
    pub status: String,
    /// The server's words (addresses are redacted before they are stored).
    pub diagnostic: String,
    /// Where it came in: `pipe`, `receiver`, `imap`, `webhook:<relay>`, `smtp` (refused while
    /// sending).
    pub source: String,
    /// The edition the message belonged to; 0 for mail outside editions (confirmations).
    pub edition: i64,
    /// ARF's feedback type, for complaints.
    pub feedback_type: Option<String>,
}

/// What [`record_in`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The same report (reader, edition, kind) was recorded before: nothing changed.
    Repeated,
    /// Recorded; the reader's mail goes on (a soft bounce under the limit, a refusal for policy,
    /// or a reader who was already not being mailed).
    Recorded,
    /// The reader is now bounced and no longer mailed.
    Bounced,
    /// The reader complained: unsubscribed from everything and suppressed.
    Complained,
}

/// Records `ev` for reader `id` and applies the policy, in the caller's transaction.
pub async fn record_in(
    tx: &mut Tx,
    id: SubscriberId,
    ev: &Evidence,
    policy: Policy,
    now: i64,
) -> Result<Decision, AudienceError> {
    if matches!(ev.kind, Kind::AutoReply | Kind::Unknown | Kind::Delayed) {
        return Ok(Decision::Repeated);
    }
    let diagnostic = jarida_mail::redact_addresses(&ev.diagnostic);
    let added = q_exec!(
        tx.conn(),
        "INSERT INTO bounces (subscriber_id, edition_id, kind, status, diagnostic, source, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        id,
        ev.edition,
        ev.kind.as_str(),
        &ev.status,
        &diagnostic,
        &ev.source,
        now
    )?;
    if added == 0 {
        return Ok(Decision::Repeated);
    }
    let detail = |extra: serde_json::Value| {
        let mut d = serde_json::json!({
            "kind": ev.kind.as_str(),
            "status": ev.status,
            "reply": diagnostic,
            "source": ev.source,
            "edition": ev.edition,
        });
        if let (Some(o), serde_json::Value::Object(e)) = (d.as_object_mut(), extra) {
            o.extend(e);
        }
        d
    };
    match ev.kind {
        Kind::Hard => {
            event(tx.conn(), id, "bounced", detail(serde_json::json!({})), now).await?;
            Ok(if mark_in(tx, id, now).await? {
                Decision::Bounced
            } else {
                Decision::Recorded
            })
        }
        Kind::Soft => {
            let (n,): (i64,) = q_one!(
                tx.conn(),
                (i64,),
                "SELECT COUNT(*) FROM bounces WHERE subscriber_id = $1 AND kind = 'soft' AND at > $2",
                id,
                now - policy.soft_window
            )?;
            let over = n >= policy.soft_limit;
            event(
                tx.conn(),
                id,
                "soft_bounce",
                detail(serde_json::json!({ "count": n, "limit": policy.soft_limit })),
                now,
            )
            .await?;
            Ok(if over && mark_in(tx, id, now).await? {
                Decision::Bounced
            } else {
                Decision::Recorded
            })
        }
        Kind::Policy => {
            event(tx.conn(), id, "refused", detail(serde_json::json!({})), now).await?;
            Ok(Decision::Recorded)
        }
        Kind::Complaint => {
            let email: Option<(String,)> = q_opt!(
                tx.conn(),
                (String,),
                "SELECT email FROM subscribers WHERE id = $1",
                id
            )?;
            let n = q_exec!(
                tx.conn(),
                "UPDATE subscribers SET status = 'complained', updated_at = $1 WHERE id = $2 AND status <> 'complained'",
                now,
                id
            )?;
            event(
                tx.conn(),
                id,
                "complained",
                detail(serde_json::json!({ "feedback_type": ev.feedback_type })),
                now,
            )
            .await?;
            if let Some((email,)) = email {
                let at = time::OffsetDateTime::from_unix_timestamp(now)
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
                suppress(tx.conn(), &email, "complaint", at).await?;
            }
            Ok(if n > 0 {
                Decision::Complained
            } else {
                Decision::Recorded
            })
        }
        Kind::AutoReply | Kind::Unknown | Kind::Delayed => Ok(Decision::Repeated),
    }
}

/// Marks reader `id` bounced when they were being mailed (or waiting to confirm); whether it
/// changed.
async fn mark_in(tx: &mut Tx, id: SubscriberId, now: i64) -> Result<bool, AudienceError> {
    Ok(q_exec!(
        tx.conn(),
        "UPDATE subscribers SET status = 'bounced', updated_at = $1 WHERE id = $2 AND status IN ('active', 'pending')",
        now,
        id
    )? > 0)
}

/// An edition's returned mail by kind: (hard, soft, policy, complaints).
pub async fn edition_counts(
    c: jarida_store::Conn<'_>,
    edition: i64,
) -> Result<(i64, i64, i64, i64), AudienceError> {
    let rows: Vec<(String, i64)> = jarida_store::q_all!(
        c,
        (String, i64),
        "SELECT kind, COUNT(*) FROM bounces WHERE edition_id = $1 GROUP BY kind",
        edition
    )?;
    let get = |k: &str| rows.iter().find(|r| r.0 == k).map_or(0, |r| r.1);
    Ok((get("hard"), get("soft"), get("policy"), get("complaint")))
}

/// Refusals for policy since `since` (unix seconds): how many, and the last one's words.
pub async fn refusals_since(
    db: &jarida_store::Db,
    since: i64,
) -> Result<(i64, Option<String>), AudienceError> {
    let mut c = db.acquire().await?;
    let (n,): (i64,) = q_one!(
        c.conn(),
        (i64,),
        "SELECT COUNT(*) FROM bounces WHERE kind = 'policy' AND at >= $1",
        since
    )?;
    if n == 0 {
        return Ok((0, None));
    }
    let last: Option<(String,)> = q_opt!(
        c.conn(),
        (String,),
        "SELECT diagnostic FROM bounces WHERE kind = 'policy' AND at >= $1 ORDER BY at DESC, id DESC LIMIT 1",
        since
    )?;
    Ok((n, last.map(|r| r.0)))
}
