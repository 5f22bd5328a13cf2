//! The emails a reader receives about their subscription (confirmation, preference link, welcome,
//! data link), built from the theme's `email.html` / `email.txt` in the reader's language.

use super::*;

pub(super) fn outgoing(
    app: &App,
    msg: jarida_mail::Message,
) -> Option<jarida_mail::queue::Outgoing> {
    match msg.to_bytes() {
        Ok(body) => Some(jarida_mail::queue::Outgoing {
            envelope_from: app.cfg.mail_from_address.clone(),
            to: msg.to_address,
            body,
        }),
        Err(e) => {
            tracing::error!(error = %e, "building an email failed");
            None
        }
    }
}

pub(super) async fn enqueue(
    app: &App,
    msg: &jarida_mail::Message,
) -> Result<(), jarida_mail::MailError> {
    app.mail
        .enqueue(
            &app.cfg.mail_from_address,
            &msg.to_address,
            &msg.to_bytes()?,
        )
        .await
}

/// One transactional email in the reader's language, HTML and text from the theme's `email.*`.
#[allow(clippy::too_many_arguments)]
pub(super) fn transactional(
    app: &App,
    lang: &str,
    to: &str,
    to_name: &str,
    subject_key: &str,
    text_key: &str,
    button: Option<(&str, String)>,
    unsubscribe: Option<String>,
    subscriber: i64,
) -> Option<jarida_mail::Message> {
    let site = app.cfg.name(lang).to_string();
    let i18n = &app.theme.i18n;
    let subject = i18n
        .t(lang, subject_key, &[("site", site.clone().into())])
        .replace(['\u{2068}', '\u{2069}'], "");
    let manage_url = app.abs(&format!(
        "/{lang}/newsletter/manage/{}",
        subs::link_token(&app.secret, subscriber, to)
    ));
    let mut ctx = BTreeMap::new();
    ctx.insert("lang", Value::from(lang));
    ctx.insert(
        "dir",
        Value::from(if jarida_content::is_rtl(lang) {
            "rtl"
        } else {
            "ltr"
        }),
    );
    ctx.insert("site", Value::from(site.clone()));
    ctx.insert("subject", Value::from(subject.clone()));
    ctx.insert(
        "paragraphs",
        ser(vec![i18n.t(
            lang,
            text_key,
            &[("site", site.clone().into())],
        )]),
    );
    if let Some((label, url)) = &button {
        ctx.insert(
            "button",
            ser(json!({ "label": app.t(lang, label), "url": url })),
        );
    }
    ctx.insert(
        "footer",
        Value::from(i18n.t(lang, "email-footer", &[("site", site.clone().into())])),
    );
    if subject_key != "email-confirm-subject" {
        ctx.insert("manage_url", Value::from(manage_url));
        ctx.insert("manage_label", Value::from(app.t(lang, "manage-link")));
    }
    if let Some(u) = &unsubscribe {
        ctx.insert("unsubscribe_url", Value::from(u.clone()));
        ctx.insert(
            "unsubscribe_label",
            Value::from(app.t(lang, "unsubscribe-button")),
        );
    }
    let ctx = Value::from(ctx);
    let html = app
        .theme
        .render("email.html", ctx.clone())
        .map_err(|e| tracing::error!(error = %e, "email template"))
        .ok()?;
    let text = app
        .theme
        .render("email.txt", ctx)
        .map_err(|e| tracing::error!(error = %e, "email template"))
        .ok()?;
    Some(jarida_mail::Message {
        from_name: app.cfg.mail_from_name.clone(),
        from_address: app.cfg.mail_from_address.clone(),
        to_name: to_name.to_string(),
        to_address: to.to_string(),
        reply_to: app.cfg.mail_reply_to.clone(),
        subject,
        text,
        html: Some(html),
        list_unsubscribe: unsubscribe.into_iter().collect(),
        one_click: true,
        ..Default::default()
    })
}

/// Writes the confirmation email of a reader imported as pending; the import queues it with the
/// reader's token, in the batch's transaction.
pub fn confirmation_composer(app: &AppRef) -> jarida_audience::csv_io::Composer {
    let app = app.clone();
    jarida_audience::csv_io::Composer(std::sync::Arc::new(move |r| {
        let url = app.abs(&format!("/{}/newsletter/confirm/{}", r.lang, r.token));
        let msg = transactional(
            &app,
            &r.lang,
            &r.email,
            "",
            "email-confirm-subject",
            "email-confirm-text",
            Some(("confirm-button", url)),
            None,
            r.id,
        )?;
        outgoing(&app, msg)
    }))
}
