//! Subscriptions over HTTP: the sign-up form (no JavaScript needed) and its JSON twin, the confirmation
//! page (confirms on POST, because mail scanners fetch links), the preference page behind a signed
//! link, and RFC 8058 one-click unsubscribe. The rules live in `jarida-audience`; this module turns them
//! into pages and emails.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Form, Json, Path, RawForm, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use jarida_audience::AudienceError;
use jarida_audience::email::EmailError;
use jarida_audience::subscribers::{self as subs, Signup, SignupOutcome, Source, TokenState};
use jarida_content::LANGS;
use minijinja::Value;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::public::{HTML, Meta};
use crate::{App, AppRef, ser};

pub fn routes() -> Router<AppRef> {
    Router::new()
        .route("/{lang}/newsletter/subscribe", post(subscribe_form))
        .route(
            "/{lang}/newsletter/confirm/{token}",
            get(confirm_page).post(confirm_post),
        )
        .route(
            "/{lang}/newsletter/manage/{token}",
            get(manage_page).post(manage_post),
        )
        .route(
            "/{lang}/newsletter/data/{token}",
            get(data_page).post(data_post),
        )
        .route(
            "/newsletter/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe_post),
        )
        .route("/api/v1/subscribers", post(subscribe_api))
}

/// Routes for holders of the API token; they read bodies up to 200 MB, after the token is checked.
pub fn admin_routes() -> Router<AppRef> {
    Router::new().route("/api/v1/subscribers/import", post(import_api))
}

#[derive(serde::Deserialize)]
pub struct ImportQuery {
    #[serde(default)]
    confirmed: bool,
    #[serde(default)]
    lang: Option<String>,
}

/// `POST /api/v1/subscribers/import?confirmed=true&lang=en` with the CSV as the body: the same import
/// as `jarida subscribers import`, answered with its report.
async fn import_api(
    // Checked before a byte of the body is read: only the token's holder may send 200 MB.
    _: crate::api_auth::ApiToken,
    State(app): State<AppRef>,
    axum::extract::Query(q): axum::extract::Query<ImportQuery>,
    req: axum::extract::Request,
) -> Response {
    let lang = q.lang.unwrap_or_else(|| app.cfg.default_lang.clone());
    if !lang_ok(&lang) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": "lang", "reason": "use en or ar" })),
        )
            .into_response();
    }
    let body = match axum::body::to_bytes(req.into_body(), 200 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                Json(json!({ "error": "body", "reason": "larger than 200 MB or interrupted" })),
            )
                .into_response();
        }
    };
    let opts = jarida_audience::csv_io::ImportOptions {
        confirmed: q.confirmed,
        default_lang: lang,
        mapping: None,
        confirm_ttl_secs: app.cfg.limits.confirm_ttl_secs,
        confirmation: Some(confirmation_composer(&app)),
    };
    let report = match jarida_audience::csv_io::import(
        &app.db,
        &body[..],
        &opts,
        OffsetDateTime::now_utc(),
        |_| {},
    )
    .await
    {
        Ok(r) => r,
        Err(AudienceError::Csv { line, reason }) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "error": "csv", "line": line, "reason": reason })),
            )
                .into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "API import failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": "internal" })),
            )
                .into_response();
        }
    };
    app.mail.wake();
    let confirmations = report.confirmations;
    Json(json!({
        "format": report.format,
        "rows": report.rows,
        "imported": report.imported,
        "already_subscribed": report.existing,
        "suppressed": report.suppressed,
        "duplicates": report.duplicates,
        "confirmation_emails": confirmations,
        "error_count": report.error_count,
        "errors": report.errors.iter().map(|(line, reason)| json!({ "line": line, "reason": reason })).collect::<Vec<_>>(),
    }))
    .into_response()
}

fn lang_ok(lang: &str) -> bool {
    LANGS.contains(&lang)
}

/// A page of the site with a heading, paragraphs and optionally a one-button form or a link.
fn message(
    app: &App,
    lang: &str,
    status: StatusCode,
    heading: &str,
    paragraphs: Vec<String>,
    extra: BTreeMap<&'static str, Value>,
) -> Response {
    let meta = Meta::private(heading.to_string());
    let mut ctx = app.base(lang, meta, Some("newsletter"), None);
    ctx.insert("heading", Value::from(heading));
    ctx.insert("paragraphs", ser(paragraphs));
    ctx.extend(extra);
    page(app, "message.html", status, ctx)
}

fn page(
    app: &App,
    template: &str,
    status: StatusCode,
    ctx: BTreeMap<&'static str, Value>,
) -> Response {
    match app.theme.render(template, Value::from(ctx)) {
        Ok(body) => {
            let mut r = (status, body).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(HTML));
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, template, "template failed");
            crate::public::error_page(
                app,
                &app.cfg.default_lang,
                StatusCode::INTERNAL_SERVER_ERROR,
            )
        }
    }
}

fn internal(app: &App, lang: &str, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "subscription request failed");
    crate::public::error_page(app, lang, StatusCode::INTERNAL_SERVER_ERROR)
}

fn not_found(app: &App) -> Response {
    crate::public::error_page(app, &app.cfg.default_lang, StatusCode::NOT_FOUND)
}

/// The consent text shown by the form in `lang`, and a short version tag of its exact wording.
fn wording(app: &App, lang: &str) -> String {
    let text = app.t(lang, "newsletter-consent");
    format!(
        "{lang}:{}",
        &hex::encode(Sha256::digest(text.as_bytes()))[..12]
    )
}

fn email_error_key(e: &EmailError) -> &'static str {
    match e {
        EmailError::Empty => "email-error-empty",
        EmailError::At => "email-error-at",
        EmailError::Local(_) => "email-error-local",
        EmailError::Domain(_) => "email-error-domain",
        EmailError::TooLong => "email-error-long",
    }
}

#[derive(serde::Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    /// The honeypot: hidden from people.
    #[serde(default)]
    website: String,
    #[serde(default)]
    from: String,
}

/// The reader's address: the socket's, or behind a reverse proxy the one it reports. The proxy
/// appends what it saw to whatever the client sent, as the last entry of the last header line (a
/// client may send its own lines and entries first), so only that rightmost entry is trusted.
pub(crate) fn client_ip(app: &App, peer: SocketAddr, headers: &HeaderMap) -> String {
    app.cfg
        .client_ip_header
        .as_deref()
        .and_then(|h| forwarded_ip(headers, h))
        .unwrap_or(peer.ip())
        .to_string()
}

/// The rightmost entry of the last `name` header line, when it is an IP address.
pub fn forwarded_ip(headers: &HeaderMap, name: &str) -> Option<std::net::IpAddr> {
    let last = headers.get_all(name).iter().next_back()?;
    let entry = last.to_str().ok()?.rsplit(',').next()?.trim();
    entry
        .parse::<std::net::IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

fn user_agent(h: &HeaderMap) -> Option<String> {
    h.get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn subscribe_form(
    State(app): State<AppRef>,
    Path(lang): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<SignupForm>,
) -> Response {
    if !lang_ok(&lang) {
        return not_found(&app);
    }
    let sent = |app: &App, email: &str| {
        let text = app.theme.i18n.t(
            &lang,
            "subscribe-sent-text",
            &[("email", email.to_string().into())],
        );
        message(
            app,
            &lang,
            StatusCode::OK,
            &app.t(&lang, "subscribe-sent-title"),
            vec![text],
            BTreeMap::new(),
        )
    };
    if !f.website.is_empty() {
        // A bot filled the honeypot: answer as a person would be answered and do nothing. The page
        // repeats an address only once it is a valid one, so this path cannot put arbitrary text
        // on a page of ours either.
        return match jarida_audience::email::normalize(&f.email) {
            Ok(addr) => sent(&app, &addr),
            Err(e) => invalid_address(&app, &lang, &e),
        };
    }
    let form_url = if same_site(&app.cfg.base_url, &f.from) {
        f.from.clone()
    } else {
        app.abs(&format!("/{lang}/newsletter/"))
    };
    let s = Signup {
        email: f.email.clone(),
        name: f.name,
        lang: lang.clone(),
        source: Source::Form,
        ip: Some(client_ip(&app, peer, &headers)),
        user_agent: user_agent(&headers),
        form_url,
        wording: wording(&app, &lang),
    };
    match subs::admit(
        &app.db,
        &s,
        app.cfg.limits,
        OffsetDateTime::now_utc(),
        &app.blocked,
    )
    .await
    {
        Ok(addr) => {
            let shown = addr.clone();
            record_off_path(&app, s, addr);
            sent(&app, &shown)
        }
        Err(AudienceError::Email(e)) => invalid_address(&app, &lang, &e),
        Err(AudienceError::RateLimited) => message(
            &app,
            &lang,
            StatusCode::TOO_MANY_REQUESTS,
            &app.t(&lang, "rate-limited-title"),
            vec![app.t(&lang, "rate-limited-text")],
            BTreeMap::new(),
        ),
        Err(e) => internal(&app, &lang, e),
    }
}

fn invalid_address(app: &App, lang: &str, e: &EmailError) -> Response {
    let reason = app.t(lang, email_error_key(e));
    let mut extra = BTreeMap::new();
    extra.insert("link", ser(json!({ "url": format!("/{lang}/newsletter/"), "label": app.t(lang, "nav-newsletter") })));
    message(
        app,
        lang,
        StatusCode::UNPROCESSABLE_ENTITY,
        &app.t(lang, "subscribe-invalid-title"),
        vec![reason],
        extra,
    )
}

/// Whether `url` is a page of the site at `base` (same scheme, host and port, and a path under the
/// base's): `https://news.example.evil/` starts with `https://news.example` but is not ours.
pub fn same_site(base: &str, url: &str) -> bool {
    url.strip_prefix(base)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[derive(serde::Deserialize)]
pub struct ApiSignup {
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    lang: Option<String>,
}

async fn subscribe_api(
    State(app): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<ApiSignup>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": "body", "reason": e.body_text() })),
            )
                .into_response();
        }
    };
    let lang = req.lang.unwrap_or_else(|| app.cfg.default_lang.clone());
    if !lang_ok(&lang) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": "lang", "reason": "use en or ar" })),
        )
            .into_response();
    }
    let s = Signup {
        email: req.email,
        name: req.name,
        lang: lang.clone(),
        source: Source::Api,
        ip: Some(client_ip(&app, peer, &headers)),
        user_agent: user_agent(&headers),
        form_url: app.abs("/api/v1/subscribers"),
        wording: wording(&app, &lang),
    };
    match subs::admit(
        &app.db,
        &s,
        app.cfg.limits,
        OffsetDateTime::now_utc(),
        &app.blocked,
    )
    .await
    {
        Ok(addr) => {
            record_off_path(&app, s, addr);
            (
                StatusCode::ACCEPTED,
                Json(json!({ "status": "check-your-email" })),
            )
                .into_response()
        }
        Err(AudienceError::Email(e)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": "email", "reason": e.to_string() })),
        )
            .into_response(),
        Err(AudienceError::RateLimited) => {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, Json(json!({ "error": "rate-limited", "reason": "too many sign-ups from this address; try again in an hour" }))).into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "API sign-up failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": "internal" })),
            )
                .into_response()
        }
    }
}

/// Records an admitted sign-up and queues the email it calls for, after the answer has gone: what
/// happens here depends on whether the address is new, pending, active, bounced or suppressed, and
/// the time the answer takes must not tell which. A failure is logged; the reader, told to check
/// their email, can sign up again.
fn record_off_path(app: &AppRef, s: Signup, addr: String) {
    let app = app.clone();
    app.after_answer.clone().spawn(async move {
        let now = OffsetDateTime::now_utc();
        let compose = |o: &SignupOutcome| compose_for(&app, o);
        match subs::signup(&app.db, &s, &addr, app.cfg.limits, now, compose).await {
            Ok(_) => app.mail.wake(),
            Err(e) => tracing::error!(error = %e, "recording a sign-up failed"),
        }
    });
}

/// The email a sign-up calls for, ready for the queue.
fn compose_for(app: &App, outcome: &SignupOutcome) -> Option<jarida_mail::queue::Outgoing> {
    let msg = match outcome {
        SignupOutcome::Confirm {
            subscriber,
            email,
            lang,
            token,
            ..
        } => {
            let url = app.abs(&format!("/{lang}/newsletter/confirm/{token}"));
            // Nothing typed into the form goes into this email, not even the name: whoever signs up a
            // stranger's address cannot make us carry their words to it.
            transactional(
                app,
                lang,
                email,
                "",
                "email-confirm-subject",
                "email-confirm-text",
                Some(("confirm-button", url)),
                None,
                *subscriber,
            )
        }
        SignupOutcome::AlreadyActive {
            subscriber,
            email,
            name,
            lang,
        } => {
            let url = app.abs(&format!(
                "/{lang}/newsletter/manage/{}",
                subs::link_token(&app.secret, *subscriber, email)
            ));
            transactional(
                app,
                lang,
                email,
                name,
                "email-manage-subject",
                "email-manage-text",
                Some(("manage-link", url)),
                None,
                *subscriber,
            )
        }
        SignupOutcome::Quiet(why) => {
            tracing::info!(why, "sign-up sends no email");
            return None;
        }
    };
    outgoing(app, msg?)
}

fn outgoing(app: &App, msg: jarida_mail::Message) -> Option<jarida_mail::queue::Outgoing> {
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

async fn enqueue(app: &App, msg: &jarida_mail::Message) -> Result<(), jarida_mail::MailError> {
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
fn transactional(
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

fn token_problem(app: &App, lang: &str, state: TokenState) -> Response {
    let text = if state == TokenState::Expired {
        "token-expired-text"
    } else {
        "token-invalid-text"
    };
    let mut extra = BTreeMap::new();
    extra.insert("link", ser(json!({ "url": format!("/{lang}/newsletter/"), "label": app.t(lang, "nav-newsletter") })));
    let status = if state == TokenState::Expired {
        StatusCode::GONE
    } else {
        StatusCode::NOT_FOUND
    };
    message(
        app,
        lang,
        status,
        &app.t(lang, "token-invalid-title"),
        vec![app.t(lang, text)],
        extra,
    )
}

async fn confirm_page(
    State(app): State<AppRef>,
    Path((lang, token)): Path<(String, String)>,
) -> Response {
    if !lang_ok(&lang) {
        return not_found(&app);
    }
    match subs::check_confirm(&app.db, &token, OffsetDateTime::now_utc()).await {
        Ok(TokenState::Valid(_)) => {
            let mut extra = BTreeMap::new();
            extra.insert(
                "form",
                ser(json!({ "action": format!("/{lang}/newsletter/confirm/{token}"), "button": app.t(&lang, "confirm-button"), "name": "confirm", "value": "1", "hidden": [] })),
            );
            message(
                &app,
                &lang,
                StatusCode::OK,
                &app.t(&lang, "confirm-title"),
                vec![app.t(&lang, "confirm-text")],
                extra,
            )
        }
        Ok(state) => token_problem(&app, &lang, state),
        Err(e) => internal(&app, &lang, e),
    }
}

async fn confirm_post(
    State(app): State<AppRef>,
    Path((lang, token)): Path<(String, String)>,
) -> Response {
    if !lang_ok(&lang) {
        return not_found(&app);
    }
    match subs::confirm(&app.db, &token, OffsetDateTime::now_utc()).await {
        Ok(TokenState::Valid(id)) => {
            if let Ok(Some(sub)) = subs::by_id(&app.db, id).await {
                let link = subs::link_token(&app.secret, sub.id, &sub.email);
                let unsub = app.abs(&format!("/newsletter/unsubscribe/{link}"));
                let msg = transactional(
                    &app,
                    &sub.lang,
                    &sub.email,
                    &sub.name,
                    "email-welcome-subject",
                    "email-welcome-text",
                    None,
                    Some(unsub),
                    sub.id,
                );
                if let Some(msg) = msg
                    && let Err(e) = enqueue(&app, &msg).await
                {
                    tracing::error!(error = %e, "queueing the welcome email failed");
                }
                let mut extra = BTreeMap::new();
                extra.insert("link", ser(json!({ "url": format!("/{lang}/newsletter/manage/{link}"), "label": app.t(&lang, "manage-link") })));
                return message(
                    &app,
                    &lang,
                    StatusCode::OK,
                    &app.t(&lang, "confirmed-title"),
                    vec![app.t(&lang, "confirmed-text")],
                    extra,
                );
            }
            message(
                &app,
                &lang,
                StatusCode::OK,
                &app.t(&lang, "confirmed-title"),
                vec![app.t(&lang, "confirmed-text")],
                BTreeMap::new(),
            )
        }
        Ok(state) => token_problem(&app, &lang, state),
        Err(e) => internal(&app, &lang, e),
    }
}

/// The preference page's CSRF token, bound to the signed link by our secret.
fn csrf(app: &App, link: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&app.secret).expect("any key length");
    mac.update(b"manage-form:");
    mac.update(link.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn manage_view(
    app: &App,
    lang: &str,
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

async fn manage_page(
    State(app): State<AppRef>,
    Path((lang, link)): Path<(String, String)>,
) -> Response {
    if !lang_ok(&lang) {
        return not_found(&app);
    }
    match linked(&app, &lang, &link).await {
        Ok(sub) => manage_view(&app, &lang, &link, &sub, None).await,
        Err(r) => r,
    }
}

/// The subscriber a signed link names, or the page saying the link does not work (in `lang`).
async fn linked(app: &App, lang: &str, link: &str) -> Result<subs::Subscriber, Response> {
    match subs::from_link(&app.db, &app.secret, link).await {
        Ok(Some(sub)) => Ok(sub),
        Ok(None) => Err(token_problem(app, lang, TokenState::Unknown)),
        Err(e) => Err(internal(app, lang, e)),
    }
}

async fn manage_post(
    State(app): State<AppRef>,
    Path((lang, link)): Path<(String, String)>,
    RawForm(body): RawForm,
) -> Response {
    if !lang_ok(&lang) {
        return not_found(&app);
    }
    let sub = match linked(&app, &lang, &link).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = match LinkForm::checked(&app, &link, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let get = |k: &str| form.get(k);
    let now = OffsetDateTime::now_utc();
    match get("action").as_str() {
        "save" => {
            let new_lang = get("lang");
            let new_lang = if lang_ok(&new_lang) {
                new_lang
            } else {
                sub.lang.clone()
            };
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
                return internal(&app, &lang, e);
            }
            match subs::by_id(&app.db, sub.id).await {
                Ok(Some(s)) => {
                    manage_view(&app, &lang, &link, &s, Some(app.t(&lang, "manage-saved"))).await
                }
                _ => not_found(&app),
            }
        }
        "unsubscribe" => match subs::unsubscribe(&app.db, sub.id, "preference page", now).await {
            Ok(_) => unsubscribed(&app, &lang, &link),
            Err(e) => internal(&app, &lang, e),
        },
        "download" | "erase" => send_data_link(&app, &lang, &sub, now).await,
        _ => (StatusCode::BAD_REQUEST, "Unknown action.").into_response(),
    }
}

/// Emails the reader a link that works for an hour, on which they can download or erase their
/// data (see [`subs::data_link_token`]). Counted against the address's daily email limit, so a
/// forwarded newsletter cannot be used to flood its reader either.
async fn send_data_link(
    app: &App,
    lang: &str,
    sub: &subs::Subscriber,
    now: OffsetDateTime,
) -> Response {
    let key = format!(
        "mail-to:{}",
        jarida_audience::email::fingerprint(&sub.email)
    );
    match jarida_audience::throttle::hit(&app.db, &key, 86_400, now.unix_timestamp()).await {
        Ok(n) if n > app.cfg.limits.per_address_day => {
            return message(
                app,
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                &app.t(lang, "rate-limited-title"),
                vec![app.t(lang, "rate-limited-text")],
                BTreeMap::new(),
            );
        }
        Ok(_) => {}
        Err(e) => return internal(app, lang, e),
    }
    let token = subs::data_link_token(
        &app.secret,
        sub.id,
        &sub.email,
        now.unix_timestamp() + subs::DATA_LINK_SECS,
    );
    let url = app.abs(&format!("/{}/newsletter/data/{token}", sub.lang));
    let msg = transactional(
        app,
        &sub.lang,
        &sub.email,
        &sub.name,
        "email-data-subject",
        "email-data-text",
        Some(("data-link-button", url)),
        None,
        sub.id,
    );
    let queued = match msg {
        Some(m) => enqueue(app, &m).await.map_err(|e| e.to_string()),
        None => Err("the email could not be built".into()),
    };
    if let Err(e) = queued {
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
async fn data_page(
    State(app): State<AppRef>,
    Path((lang, token)): Path<(String, String)>,
) -> Response {
    if !lang_ok(&lang) {
        return not_found(&app);
    }
    let sub = match data_linked(&app, &lang, &token).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let meta = Meta::private(app.t(&lang, "data-title"));
    let mut ctx = app.base(&lang, meta, Some("newsletter"), None);
    ctx.insert("email", Value::from(sub.email));
    ctx.insert(
        "action",
        Value::from(format!("/{lang}/newsletter/data/{token}")),
    );
    ctx.insert("csrf", Value::from(csrf(&app, &token)));
    page(&app, "data.html", StatusCode::OK, ctx)
}

async fn data_linked(app: &App, lang: &str, token: &str) -> Result<subs::Subscriber, Response> {
    match subs::from_data_link(&app.db, &app.secret, token, OffsetDateTime::now_utc()).await {
        Ok(Some(sub)) => Ok(sub),
        Ok(None) => Err(token_problem(app, lang, TokenState::Expired)),
        Err(e) => Err(internal(app, lang, e)),
    }
}

async fn data_post(
    State(app): State<AppRef>,
    Path((lang, token)): Path<(String, String)>,
    RawForm(body): RawForm,
) -> Response {
    if !lang_ok(&lang) {
        return not_found(&app);
    }
    let sub = match data_linked(&app, &lang, &token).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = match LinkForm::checked(&app, &token, &body) {
        Ok(f) => f,
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
            Err(e) => internal(&app, &lang, e),
        },
        "erase" => match jarida_newsletter::erasure::erase_reader(
            &app.db,
            sub.id,
            now,
            &app.cfg.outbox_dir,
        )
        .await
        {
            Ok(()) => message(
                &app,
                &lang,
                StatusCode::OK,
                &app.t(&lang, "erased-title"),
                vec![app.t(&lang, "erased-text")],
                BTreeMap::new(),
            ),
            Err(e) => internal(&app, &lang, e),
        },
        _ => (StatusCode::BAD_REQUEST, "Unknown action.").into_response(),
    }
}

/// A form posted behind a signed link, its CSRF token checked. Parsed by hand rather than into a
/// struct because the preference form repeats its `newsletter` field.
struct LinkForm {
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

fn url_form(body: &[u8]) -> Vec<(String, String)> {
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

fn unsubscribed(app: &App, lang: &str, link: &str) -> Response {
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
async fn unsubscribe_page(State(app): State<AppRef>, Path(link): Path<String>) -> Response {
    match linked(&app, &app.cfg.default_lang, &link).await {
        Ok(sub) => {
            let lang = sub.lang.clone();
            let mut extra = BTreeMap::new();
            extra.insert(
                "form",
                ser(json!({ "action": format!("/newsletter/unsubscribe/{link}"), "button": app.t(&lang, "unsubscribe-button"), "name": "unsubscribe", "value": "1", "hidden": [] })),
            );
            let text = app.theme.i18n.t(
                &lang,
                "unsubscribe-text",
                &[("email", sub.email.clone().into())],
            );
            message(
                &app,
                &lang,
                StatusCode::OK,
                &app.t(&lang, "unsubscribe-title"),
                vec![text],
                extra,
            )
        }
        Err(r) => r,
    }
}

/// RFC 8058 one-click: a POST with `List-Unsubscribe=One-Click` (or the page's button), no cookie, no
/// CSRF token, no redirect; 200 every time, including when already unsubscribed.
async fn unsubscribe_post(State(app): State<AppRef>, Path(link): Path<String>) -> Response {
    let sub = match linked(&app, &app.cfg.default_lang, &link).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match subs::unsubscribe(&app.db, sub.id, "one-click", OffsetDateTime::now_utc()).await {
        Ok(_) => unsubscribed(&app, &sub.lang, &link),
        Err(e) => internal(&app, &sub.lang, e),
    }
}

/// Property tests over request bodies and headers the public sends. `scripts/fuzz` runs a million
/// cases each; CI proptest's default.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn form_body() -> impl Strategy<Value = String> {
        let part = prop_oneof![
            "[a-z_]{0,8}=[a-zA-Z0-9%+.@_-]{0,20}",
            Just("newsletter=1".to_string()),
            Just("csrf=%".to_string()),
            Just("email=%FF%FE".to_string()),
            Just("=&&=".to_string()),
            ".{0,20}",
        ];
        prop::collection::vec(part, 0..8).prop_map(|p| p.join("&"))
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn fuzz_form_bodies(body in form_body()) {
            let fields = url_form(body.as_bytes());
            prop_assert!(fields.len() <= body.split('&').count());
            let _ = serde_urlencoded::from_str::<SignupForm>(&body);
        }

        #[test]
        fn fuzz_json_bodies(body in prop_oneof![
            ".{0,60}",
            "\\{\"email\": \".{0,20}\", \"lang\": \"[a-z]{0,3}\"\\}",
            "\\{\"items\": \\[[0-9, ]{0,20}\\], \"subject\": \".{0,10}\"\\}",
            "\\{\"at\": \".{0,25}\"\\}",
        ]) {
            let _ = serde_json::from_str::<ApiSignup>(&body);
            let _ = serde_json::from_str::<jarida_newsletter::editions::Edit>(&body);
            let _ = serde_json::from_str::<serde_json::Value>(&body);
        }

        #[test]
        fn fuzz_forwarded_header(lines in prop::collection::vec("[0-9a-f.:, \\[\\]]{0,40}", 0..4)) {
            let mut h = HeaderMap::new();
            for l in &lines {
                if let Ok(v) = HeaderValue::from_str(l) {
                    h.append("x-forwarded-for", v);
                }
            }
            if let Some(ip) = forwarded_ip(&h, "x-forwarded-for") {
                // Only ever the last line's last entry.
                let last = h.get_all("x-forwarded-for").iter().next_back().and_then(|v| v.to_str().ok()).unwrap_or("");
                prop_assert!(last.trim_end().ends_with(&ip.to_string()) || last.contains(']'), "{last} -> {ip}");
            }
        }

        #[test]
        fn fuzz_form_origin(url in prop_oneof![".{0,30}", "https://news\\.example[./a-z:0-9]{0,20}"]) {
            if same_site("https://news.example", &url) {
                prop_assert!(url == "https://news.example" || url.starts_with("https://news.example/"));
            }
        }
    }
}
