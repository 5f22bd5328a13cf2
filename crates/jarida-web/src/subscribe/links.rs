//! The pages behind the links we email: confirmation (confirms on POST, because mail scanners
//! fetch links), preferences behind a signed link, the hour-long data link (download, erase) and
//! RFC 8058 one-click unsubscribe.

use super::*;

pub(super) async fn confirm_page(
    State(app): State<AppRef>,
    SiteLang(lang): SiteLang,
    Path((_, token)): Path<(String, String)>,
) -> Response {
    match subs::check_confirm(&app.db, &token, OffsetDateTime::now_utc()).await {
        Ok(TokenState::Valid(_)) => {
            let name = match subs::confirm_name(&app.db, &token).await {
                Ok(n) => n,
                Err(e) => return internal(&app, lang, e),
            };
            let mut extra = BTreeMap::new();
            extra.insert(
                "form",
                ser(json!({
                    "action": format!("/{lang}/newsletter/confirm/{token}"),
                    "button": app.t(lang, "confirm-button"), "name": "confirm", "value": "1", "hidden": [],
                    "fields": [{ "name": "name", "label": app.t(lang, "signup-name"), "value": name, "autocomplete": "name" }],
                })),
            );
            message(
                &app,
                lang,
                StatusCode::OK,
                &app.t(lang, "confirm-title"),
                vec![app.t(lang, "confirm-text")],
                extra,
            )
        }
        Ok(state) => token_problem(&app, lang, state),
        Err(e) => internal(&app, lang, e),
    }
}

pub(super) async fn confirm_post(
    State(app): State<AppRef>,
    SiteLang(lang): SiteLang,
    Path((_, token)): Path<(String, String)>,
    RawForm(body): RawForm,
) -> Response {
    let fields = url_form(&body);
    let name = fields
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.as_str());
    match subs::confirm(&app.db, &token, OffsetDateTime::now_utc(), name).await {
        Ok(TokenState::Valid(id)) => {
            if let Ok(Some(sub)) = subs::by_id(&app.db, id).await {
                let link = subs::link_token(&app.secret, sub.id, &sub.email);
                if let Err(e) = send(&app, &reader(&sub), ReaderNotice::Welcome).await {
                    tracing::error!(error = %e, "queueing the welcome email failed");
                }
                let mut extra = BTreeMap::new();
                extra.insert("link", ser(json!({ "url": format!("/{lang}/newsletter/manage/{link}"), "label": app.t(lang, "manage-link") })));
                return message(
                    &app,
                    lang,
                    StatusCode::OK,
                    &app.t(lang, "confirmed-title"),
                    vec![app.t(lang, "confirmed-text")],
                    extra,
                );
            }
            message(
                &app,
                lang,
                StatusCode::OK,
                &app.t(lang, "confirmed-title"),
                vec![app.t(lang, "confirmed-text")],
                BTreeMap::new(),
            )
        }
        Ok(state) => token_problem(&app, lang, state),
        Err(e) => internal(&app, lang, e),
    }
}

/// The preference page's CSRF token, bound to the signed link by our secret.
pub(super) fn csrf(app: &App, link: &str) -> String {
    app.secret.sign_hex("manage-form", link, 32)
}

pub(super) async fn manage_view(
    app: &App,
    lang: Lang,
    link: &str,
    sub: &subs::Subscriber,
    notice: Option<String>,
) -> Response {
    let newsletters = match subs::newsletters(&app.db, sub.id).await {
        Ok(n) => n,
        Err(e) => return internal(app, lang, e),
    };
    let meta = Meta::private(app.t(lang, "manage-title"));
    let mut ctx = app.base(lang, meta, Some("newsletter"), None);
    ctx.insert(
        "sub",
        ser(json!({ "email": sub.email, "name": sub.name, "lang": sub.lang })),
    );
    ctx.insert(
        "status_label",
        Value::from(app.t(lang, &format!("status-{}", sub.status))),
    );
    ctx.insert("newsletters", ser(newsletters));
    ctx.insert(
        "action",
        Value::from(format!("/{lang}/newsletter/manage/{link}")),
    );
    ctx.insert("csrf", Value::from(csrf(app, link)));
    ctx.insert("notice", Value::from(notice));
    page(app, "manage.html", StatusCode::OK, ctx)
}

pub(super) async fn manage_page(
    State(app): State<AppRef>,
    SiteLang(lang): SiteLang,
    Path((_, link)): Path<(String, String)>,
) -> Response {
    match linked(&app, lang, &link).await {
        Ok(sub) => manage_view(&app, lang, &link, &sub, None).await,
        Err(r) => r,
    }
}

/// The subscriber a signed link names, or the page saying the link does not work (in `lang`).
pub(super) async fn linked(
    app: &App,
    lang: Lang,
    link: &str,
) -> Result<subs::Subscriber, Response> {
    match subs::from_link(&app.db, &app.secret, link).await {
        Ok(Some(sub)) => Ok(sub),
        Ok(None) => Err(token_problem(app, lang, TokenState::Unknown)),
        Err(e) => Err(internal(app, lang, e)),
    }
}

pub(super) async fn manage_post(
    State(app): State<AppRef>,
    SiteLang(lang): SiteLang,
    Path((_, link)): Path<(String, String)>,
    RawForm(body): RawForm,
) -> Response {
    let (sub, form) = match posted(&app, lang, Link::Preferences, &link, &body).await {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let get = |k: &str| form.get(k);
    let now = OffsetDateTime::now_utc();
    match get("action").as_str() {
        "save" => {
            let new_lang = get("lang");
            let new_lang = Lang::parse(&new_lang)
                .unwrap_or(sub.lang)
                .code()
                .to_string();
            let newsletters: Vec<i64> = form
                .all("newsletter")
                .filter_map(|v| v.parse().ok())
                .collect();
            let p = subs::Preferences {
                name: get("name"),
                lang: new_lang,
                newsletters,
            };
            if let Err(e) = subs::update_preferences(&app.db, sub.id, &p, now).await {
                return internal(&app, lang, e);
            }
            match subs::by_id(&app.db, sub.id).await {
                Ok(Some(s)) => {
                    manage_view(&app, lang, &link, &s, Some(app.t(lang, "manage-saved"))).await
                }
                _ => not_found(&app),
            }
        }
        "unsubscribe" => match subs::unsubscribe(&app.db, sub.id, "preference page", now).await {
            Ok(_) => unsubscribed(&app, lang, &link),
            Err(e) => internal(&app, lang, e),
        },
        "download" | "erase" => send_data_link(&app, lang, &sub, now).await,
        _ => (StatusCode::BAD_REQUEST, "Unknown action.").into_response(),
    }
}

/// Emails the reader a link that works for an hour, on which they can download or erase their
/// data (see [`subs::data_link_token`]). Counted against the address's daily email limit, so a
/// forwarded newsletter cannot be used to flood its reader either.
pub(super) async fn send_data_link(
    app: &App,
    lang: Lang,
    sub: &subs::Subscriber,
    now: OffsetDateTime,
) -> Response {
    let key = format!(
        "mail-to:{}",
        jarida_audience::email::fingerprint(&sub.email)
    );
    match jarida_audience::throttle::hit(&app.db, &key, 86_400, now.unix_timestamp()).await {
        Ok(n) if n > app.cfg.limits.per_address_day => return rate_limited(app, lang),
        Ok(_) => {}
        Err(e) => return internal(app, lang, e),
    }
    let token = subs::data_link_token(
        &app.secret,
        sub.id,
        &sub.email,
        now.unix_timestamp() + subs::DATA_LINK_SECS,
    );
    if let Err(e) = send(app, &reader(sub), ReaderNotice::DataLink { token }).await {
        return internal(app, lang, e);
    }
    app.mail.wake();
    message(
        app,
        lang,
        StatusCode::OK,
        &app.t(lang, "data-sent-title"),
        vec![app.t(lang, "data-sent-text")],
        BTreeMap::new(),
    )
}

/// The page behind an emailed data link: download or erase.
pub(super) async fn data_page(
    State(app): State<AppRef>,
    SiteLang(lang): SiteLang,
    Path((_, token)): Path<(String, String)>,
) -> Response {
    let sub = match data_linked(&app, lang, &token).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let meta = Meta::private(app.t(lang, "data-title"));
    let mut ctx = app.base(lang, meta, Some("newsletter"), None);
    ctx.insert("email", Value::from(sub.email));
    ctx.insert(
        "action",
        Value::from(format!("/{lang}/newsletter/data/{token}")),
    );
    ctx.insert("csrf", Value::from(csrf(&app, &token)));
    page(&app, "data.html", StatusCode::OK, ctx)
}

pub(super) async fn data_linked(
    app: &App,
    lang: Lang,
    token: &str,
) -> Result<subs::Subscriber, Response> {
    match subs::from_data_link(&app.db, &app.secret, token, OffsetDateTime::now_utc()).await {
        Ok(Some(sub)) => Ok(sub),
        Ok(None) => Err(token_problem(app, lang, TokenState::Expired)),
        Err(e) => Err(internal(app, lang, e)),
    }
}

pub(super) async fn data_post(
    State(app): State<AppRef>,
    SiteLang(lang): SiteLang,
    Path((_, token)): Path<(String, String)>,
    RawForm(body): RawForm,
) -> Response {
    let (sub, form) = match posted(&app, lang, Link::Data, &token, &body).await {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let now = OffsetDateTime::now_utc();
    match form.get("action").as_str() {
        "download" => match subs::export_data(&app.db, sub.id).await {
            Ok(data) => {
                let mut r = (
                    StatusCode::OK,
                    serde_json::to_string_pretty(&data).unwrap_or_default(),
                )
                    .into_response();
                let h = r.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                );
                h.insert(
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"my-subscription.json\""),
                );
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                r
            }
            Err(e) => internal(&app, lang, e),
        },
        "erase" => match erase_tracked(&app, sub.id, now).await {
            Ok(()) => message(
                &app,
                lang,
                StatusCode::OK,
                &app.t(lang, "erased-title"),
                vec![app.t(lang, "erased-text")],
                BTreeMap::new(),
            ),
            Err(e) => internal(&app, lang, e),
        },
        _ => (StatusCode::BAD_REQUEST, "Unknown action.").into_response(),
    }
}

/// A form posted behind a signed link, its CSRF token checked. Parsed by hand rather than into a
/// struct because the preference form repeats its `newsletter` field.
pub(super) struct LinkForm {
    fields: Vec<(String, String)>,
}

impl LinkForm {
    fn checked(app: &App, link: &str, body: &[u8]) -> Result<LinkForm, Box<Response>> {
        let form = LinkForm {
            fields: url_form(body),
        };
        if crate::setup::constant_eq(form.get("csrf").as_bytes(), csrf(app, link).as_bytes()) {
            Ok(form)
        } else {
            Err(Box::new(
                (
                    StatusCode::FORBIDDEN,
                    "The form expired or did not come from this site. Reload the page.",
                )
                    .into_response(),
            ))
        }
    }

    fn get(&self, name: &str) -> String {
        self.all(name).next().unwrap_or_default().to_string()
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(super) fn url_form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

pub(super) fn unsubscribed(app: &App, lang: Lang, link: &str) -> Response {
    let mut extra = BTreeMap::new();
    extra.insert("link", ser(json!({ "url": format!("/{lang}/newsletter/manage/{link}"), "label": app.t(lang, "manage-link") })));
    message(
        app,
        lang,
        StatusCode::OK,
        &app.t(lang, "unsubscribed-title"),
        vec![app.t(lang, "unsubscribed-text")],
        extra,
    )
}

/// GET never unsubscribes (link scanners would): it shows a button.
pub(super) async fn unsubscribe_page(
    State(app): State<AppRef>,
    Path(link): Path<String>,
) -> Response {
    match linked(&app, app.cfg.default_lang, &link).await {
        Ok(sub) => {
            let lang = sub.lang;
            let mut extra = BTreeMap::new();
            extra.insert(
                "form",
                ser(json!({ "action": format!("/newsletter/unsubscribe/{link}"), "button": app.t(lang, "unsubscribe-button"), "name": "unsubscribe", "value": "1", "hidden": [] })),
            );
            let text = app.theme.i18n.t(
                lang,
                "unsubscribe-text",
                &[("email", sub.email.clone().into())],
            );
            message(
                &app,
                lang,
                StatusCode::OK,
                &app.t(lang, "unsubscribe-title"),
                vec![text],
                extra,
            )
        }
        Err(r) => r,
    }
}

/// RFC 8058 one-click: a POST with `List-Unsubscribe=One-Click` (or the page's button), no cookie, no
/// CSRF token, no redirect; 200 every time, including when already unsubscribed.
pub(super) async fn unsubscribe_post(
    State(app): State<AppRef>,
    Path(link): Path<String>,
) -> Response {
    let sub = match linked(&app, app.cfg.default_lang, &link).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match subs::unsubscribe(&app.db, sub.id, "one-click", OffsetDateTime::now_utc()).await {
        Ok(_) => unsubscribed(&app, sub.lang, &link),
        Err(e) => internal(&app, sub.lang, e),
    }
}

/// Erases a reader as tracked work: a request cut off (a timeout, a closed connection) must not
/// leave the erasure half-done between the database and the outbox.
async fn erase_tracked(
    app: &App,
    id: jarida_core::SubscriberId,
    now: OffsetDateTime,
) -> Result<(), jarida_newsletter::NewsletterError> {
    let (done, result) = tokio::sync::oneshot::channel();
    let (db, outbox) = (app.db.clone(), app.cfg.outbox_dir.clone());
    app.after_answer.spawn(async move {
        let r = jarida_newsletter::erasure::erase_reader(&db, id, now, &outbox).await;
        let _ = done.send(r);
    });
    result.await.unwrap_or_else(|_| {
        Err(jarida_newsletter::NewsletterError::Invalid(
            "the erasure task ended early".into(),
        ))
    })
}

/// Which signed link a form was posted behind.
#[derive(Clone, Copy)]
pub(super) enum Link {
    /// The preference link every email carries.
    Preferences,
    /// The hour-long data link.
    Data,
}

/// The reader a form posted behind a signed link is about, and the form with its CSRF token
/// checked; or the page that says why not.
async fn posted(
    app: &App,
    lang: Lang,
    kind: Link,
    token: &str,
    body: &[u8],
) -> Result<(subs::Subscriber, LinkForm), Box<Response>> {
    let sub = match kind {
        Link::Preferences => linked(app, lang, token).await,
        Link::Data => data_linked(app, lang, token).await,
    }
    .map_err(Box::new)?;
    let form = LinkForm::checked(app, token, body)?;
    Ok((sub, form))
}
