//! The cadence: at each slot a draft edition is composed; it is approved at once for newsletters that
//! auto-send, otherwise the editors are emailed that it waits for them.

use jarida_store::{Db, q_all};
use time::OffsetDateTime;

use crate::editions;
use crate::render::SiteInfo;
use crate::{Newsletter, NewsletterError};

/// Composes the editions whose cadence slot has come. Returns the new editions' ids.
pub async fn tick(
    db: &Db,
    newsletters: &[Newsletter],
    site: &SiteInfo,
    mail: &jarida_mail::queue::Queue,
    now: OffsetDateTime,
) -> Result<Vec<i64>, NewsletterError> {
    let mut made = Vec::new();
    for nl in newsletters {
        let Some(slot) = editions::due_slot(db, nl, now).await? else {
            continue;
        };
        let Ok(slot_time) = OffsetDateTime::from_unix_timestamp(slot) else {
            continue;
        };
        // A second process composing the same slot loses on the unique (newsletter, slot) key.
        let id = match editions::compose(db, nl, slot_time, Some(slot), now).await {
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
            notify_editors(db, nl, site, mail, id).await?;
        }
    }
    Ok(made)
}

/// Tells the editors a draft is ready, through the transactional mail queue. A failure to queue is
/// logged, not fatal: the draft is there.
pub async fn notify_editors(
    db: &Db,
    nl: &Newsletter,
    site: &SiteInfo,
    mail: &jarida_mail::queue::Queue,
    id: i64,
) -> Result<(), NewsletterError> {
    let e = editions::get(db, id).await?;
    let to: Vec<String> = if nl.editors.is_empty() {
        let mut pc = db.acquire().await?;
        let v: Vec<(String,)> =
            q_all!(pc.conn(), (String,), "SELECT email FROM users ORDER BY id")?;
        v.into_iter().map(|(e,)| e).collect()
    } else {
        nl.editors.clone()
    };
    let parts = editions::parts(db, &e).await?;
    let mut text = format!(
        "Edition {} of {} is ready for review.\n\n",
        e.number, nl.name
    );
    for p in &parts {
        text.push_str(&format!(
            "{}: \"{}\", {} posts, {} corrections\n",
            p.lang,
            p.subject,
            p.items.len(),
            p.corrections.len()
        ));
    }
    text.push_str(&format!(
        "\nReview it with `jarida editions show {id}`, change it with `jarida editions edit {id}`,\n\
         and send it with `jarida editions approve {id}` (or through the API at {}/api/v1/editions/{id}).\n",
        site.base_url
    ));
    for addr in to {
        let msg = jarida_mail::Message {
            from_name: nl.from_name.clone(),
            from_address: nl.from_address.clone(),
            to_address: addr.clone(),
            subject: format!("Draft ready: {} No. {}", nl.name, e.number),
            text: text.clone(),
            ..Default::default()
        };
        let queued = match msg.to_bytes() {
            Ok(b) => mail.enqueue(&nl.from_address, &addr, &b).await,
            Err(e) => Err(e),
        };
        if let Err(err) = queued {
            tracing::warn!(to = %jarida_mail::addr_hash(&addr), error = %err, "telling an editor about a draft");
        }
    }
    Ok(())
}
