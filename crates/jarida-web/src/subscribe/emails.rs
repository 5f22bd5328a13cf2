//! Handing the notifications a subscription calls for (built by `jarida_notify`) to the mail queue.

use super::*;
use jarida_notify::{Reader, ReaderNotice};

/// The reader a stored subscriber is, for a notification.
pub(super) fn reader(sub: &subs::Subscriber) -> Reader<'_> {
    Reader {
        id: sub.id,
        email: &sub.email,
        name: &sub.name,
        lang: sub.lang,
    }
}

/// Builds `notice` for `to` and queues it now.
pub(super) async fn send(app: &App, to: &Reader<'_>, notice: ReaderNotice) -> Result<(), String> {
    let msg = app
        .notify
        .to_reader(to, &notice)
        .map_err(|e| e.to_string())?;
    let bytes = msg.to_bytes().map_err(|e| e.to_string())?;
    app.mail
        .enqueue(msg.envelope(), &msg.to_address, &bytes)
        .await
        .map_err(|e| e.to_string())
}

/// Builds `notice` for `to` as a row for the queue, for a caller that writes it in its own
/// transaction (the sign-up).
pub(super) fn outgoing(
    app: &App,
    to: &Reader<'_>,
    notice: ReaderNotice,
) -> Option<jarida_mail::queue::Outgoing> {
    match app
        .notify
        .to_reader(to, &notice)
        .and_then(|m| app.notify.outgoing(m))
    {
        Ok(o) => Some(o),
        Err(e) => {
            tracing::error!(error = %e, "building an email failed");
            None
        }
    }
}
