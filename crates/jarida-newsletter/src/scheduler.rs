//! The cadence: at each slot a draft edition is composed; it is approved at once for newsletters that
//! auto-send, otherwise the editors are emailed that it waits for them.

use jarida_notify::{Draft, DraftPart, Notifier, Sender};
use jarida_store::Db;
use time::OffsetDateTime;

use crate::editions;
use crate::{Newsletter, NewsletterError};

/// Composes the editions whose cadence slot has come. Returns the new editions' ids.
pub async fn tick(
    db: &Db,
    newsletters: &[Newsletter],
    notifier: &Notifier,
    mail: &jarida_mail::queue::Queue,
    now: OffsetDateTime,
) -> Result<Vec<jarida_core::EditionId>, NewsletterError> {
    let mut made = Vec::new();
    for nl in newsletters {
        let Some(slot) = editions::due_slot(db, nl, now).await? else {
            continue;
        };
        let Ok(slot_time) = OffsetDateTime::from_unix_timestamp(slot) else {
            continue;
        };
        // A second process composing the same slot loses on the unique (newsletter, slot) key.
        let id = match editions::compose(db, nl, &notifier.theme().i18n, slot_time, Some(slot), now)
            .await
        {
            Ok(Some(id)) => id,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(newsletter = %nl.slug, error = %e, "composing the edition of a slot");
                continue;
            }
        };
        made.push(id);
        if nl.auto_send {
            editions::approve(db, id, now).await?;
        } else {
            notify_editors(db, nl, notifier, mail, id).await?;
        }
    }
    Ok(made)
}

/// Tells the editors a draft is ready, through the transactional mail queue, in the newsroom's
/// language. A failure to queue is logged, not fatal: the draft is there.
pub async fn notify_editors(
    db: &Db,
    nl: &Newsletter,
    notifier: &Notifier,
    mail: &jarida_mail::queue::Queue,
    id: jarida_core::EditionId,
) -> Result<(), NewsletterError> {
    let e = editions::get(db, id).await?;
    let to: Vec<String> = if nl.editors.is_empty() {
        jarida_accounts::users::emails(db).await?
    } else {
        nl.editors.clone()
    };
    let parts: Vec<DraftPart> = editions::parts(db, &e)
        .await?
        .iter()
        .map(|p| DraftPart {
            lang: p.lang,
            subject: p.subject.clone(),
            posts: p.items.len(),
            corrections: p.corrections.len(),
        })
        .collect();
    let draft = Draft {
        id,
        number: e.number,
        newsletter: &nl.name,
        parts: &parts,
    };
    let from = Sender {
        name: nl.from_name.clone(),
        address: nl.from_address.clone(),
        reply_to: nl.reply_to.clone(),
    };
    let lang = notifier.site().default_lang;
    for addr in to {
        let queued = match notifier.draft_ready(lang, &draft, &from, &addr) {
            Ok(msg) => match msg.to_bytes() {
                Ok(b) => mail
                    .enqueue(&nl.from_address, &addr, &b)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e.to_string()),
        };
        if let Err(err) = queued {
            tracing::warn!(to = %jarida_mail::addr_hash(&addr), error = %err, "telling an editor about a draft");
        }
    }
    Ok(())
}
