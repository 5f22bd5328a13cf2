//! Subscriptions over HTTP. The rules live in `jarida-audience`; this module turns them into pages
//! and emails, one job per file:
//! - `signup`: the sign-up form and its JSON twin (and the client's address behind a proxy);
//! - `links`: the pages behind emailed links (confirm, preferences, data, one-click unsubscribe);
//! - `emails`: handing the notifications those flows send (built by `jarida-notify`) to the queue;
//! - here: the routes and the message pages they share.

mod emails;
mod links;
pub(crate) mod signup;

use crate::public::{HTML, Meta};
use crate::site_lang::SiteLang;
use crate::{App, AppRef, ser};
use axum::Router;
use axum::extract::{ConnectInfo, Form, Json, Path, RawForm, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use jarida_audience::AudienceError;
use jarida_audience::email::EmailError;
use jarida_audience::subscribers::{self as subs, Signup, SignupOutcome, Source, TokenState};
use jarida_core::Lang;
use jarida_notify::{Reader, ReaderNotice};
use minijinja::Value;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use time::OffsetDateTime;

use emails::*;
use links::*;
use signup::*;
pub use signup::{forwarded_ip, same_site};

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

/// The `lang` a JSON client asked for: the site's when absent, refused (422) when unknown.
fn requested_lang(app: &App, asked: Option<&str>) -> Result<Lang, Box<Response>> {
    match asked {
        None => Ok(app.cfg.default_lang),
        Some(code) => Lang::parse(code).ok_or_else(|| {
            Box::new(
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({ "error": "lang", "reason": "use en or ar" })),
                )
                    .into_response(),
            )
        }),
    }
}

/// A page of the site with a heading, paragraphs and optionally a one-button form or a link.
fn message(
    app: &App,
    lang: Lang,
    status: StatusCode,
    heading: &str,
    paragraphs: Vec<String>,
    extra: BTreeMap<&'static str, Value>,
) -> Response {
    let ctx = message_ctx(app, lang, heading, paragraphs, extra);
    page(app, "message.html", status, ctx)
}

fn message_ctx(
    app: &App,
    lang: Lang,
    heading: &str,
    paragraphs: Vec<String>,
    extra: BTreeMap<&'static str, Value>,
) -> BTreeMap<&'static str, Value> {
    let meta = Meta::private(heading.to_string());
    let mut ctx = app.base(lang, meta, Some("newsletter"), None);
    ctx.insert("heading", Value::from(heading));
    ctx.insert("paragraphs", ser(paragraphs));
    ctx.extend(extra);
    ctx
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
            crate::public::error_page(app, app.cfg.default_lang, StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// The "too many requests" page. It is what a flood gets, thousands of times a second, so it is
/// rendered once per language and kept (the theme does not change while the process runs).
fn rate_limited(app: &App, lang: Lang) -> Response {
    let Some(i) = Lang::ALL.iter().position(|l| *l == lang) else {
        return not_found(app);
    };
    let body = app.rate_limited_pages[i].get_or_init(|| {
        let title = app.t(lang, "rate-limited-title");
        let ctx = message_ctx(
            app,
            lang,
            &title,
            vec![app.t(lang, "rate-limited-text")],
            BTreeMap::new(),
        );
        match app.theme.render("message.html", Value::from(ctx)) {
            Ok(b) => axum::body::Bytes::from(b),
            Err(e) => {
                tracing::error!(error = %e, "template failed");
                axum::body::Bytes::from_static(b"Too many requests. Try again in an hour.")
            }
        }
    });
    let mut r = (StatusCode::TOO_MANY_REQUESTS, body.clone()).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(HTML));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
    r
}

fn internal(app: &App, lang: Lang, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "subscription request failed");
    crate::public::error_page(app, lang, StatusCode::INTERNAL_SERVER_ERROR)
}

fn not_found(app: &App) -> Response {
    crate::public::error_page(app, app.cfg.default_lang, StatusCode::NOT_FOUND)
}

fn token_problem(app: &App, lang: Lang, state: TokenState) -> Response {
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
