//! The newsroom's admin under `/admin/`: server-rendered pages that work with plain forms and
//! links, enhanced by one small script of our own (live preview, autosave, the editor's toolbar).
//! Every route checks the session and the role on the server ([`auth::Signed`]); every form
//! carries a CSRF token bound to the session; every change and its audit-log line are written in
//! one transaction. Here: routes, the page frame and the answers shared by the pages; `auth`
//! (sessions, sign-in), `posts` (list, editor, publishing, corrections, revisions), `people`
//! (users, invitations, the audit log), `media` (the library), `readers` (readers, segments, bulk
//! jobs), `editions` (the list, an edition's course, the composer and its previews), `settings`
//! (the site, support page, newsletters and mail, stored over the configuration file) and
//! `account` (one's own sessions and profile).

mod account;
pub(crate) mod auth;
mod chart;
mod dashboard;
mod editions;
mod imports;
mod media;
mod people;
mod posts;
mod readers;
mod redirects;
mod reset;
mod settings;
pub mod ui;

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jarida_core::Lang;
use minijinja::Value;

use crate::{App, AppRef};
pub use auth::Signed;
pub(crate) use posts::list_posts;

/// The admin's policy: scripts, styles and images from the site itself, never inline; frames only
/// from the site (the preview of a post); forms post only here.
pub(crate) const ADMIN_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     font-src 'self'; connect-src 'self'; form-action 'self'; frame-src 'self'; base-uri 'none'; frame-ancestors 'none'";

pub fn routes() -> Router<AppRef> {
    Router::new()
        .route("/admin", get(|| async { redirect("/admin/") }))
        .route("/admin/", get(home))
        .route("/admin/static/{file}", get(static_file))
        .route("/admin/signin", get(auth::signin_form).post(auth::signin))
        .route("/admin/signin/code", get(auth::code_form).post(auth::code))
        .route("/admin/signout", post(auth::signout))
        .route("/admin/reset", get(reset::form).post(reset::request))
        .route(
            "/admin/reset/{token}",
            get(reset::choose_form).post(reset::choose),
        )
        .route("/admin/dashboard", get(dashboard::show))
        .route("/admin/posts", get(posts::list))
        .route("/admin/posts/new", get(posts::new_form).post(posts::create))
        .route("/admin/posts/{id}", get(posts::edit_form).post(posts::save))
        .route("/admin/posts/{id}/autosave", post(posts::autosave))
        .route("/admin/posts/{id}/corrections", post(posts::add_correction))
        .route("/admin/posts/{id}/revisions", get(posts::revisions))
        .route("/admin/posts/{id}/side-by-side", get(posts::side_by_side))
        .route(
            "/admin/posts/{id}/revisions/{rev}/restore",
            post(posts::restore),
        )
        .route("/admin/posts/{id}/delete", post(posts::delete))
        .route("/admin/preview", post(posts::preview))
        .route("/admin/account", get(account::show).post(account::update))
        .route(
            "/admin/account/sessions/{id}/end",
            post(account::end_session),
        )
        .route("/admin/account/signout-everywhere", post(account::end_all))
        .route(
            "/admin/account/tokens/{id}/revoke",
            post(account::revoke_token),
        )
        .route("/admin/users", get(people::users).post(people::invite))
        .route("/admin/users/{id}", post(people::change_role))
        .route(
            "/admin/invitation/{token}",
            get(people::accept_form).post(people::accept),
        )
        .route("/admin/audit", get(people::audit))
        .route("/admin/readers", get(readers::list))
        .route(
            "/admin/readers/new",
            get(readers::new_form).post(readers::create),
        )
        .route(
            "/admin/readers/{id}",
            get(readers::show).post(readers::update),
        )
        .route(
            "/admin/readers/{id}/unsubscribe",
            post(readers::unsubscribe),
        )
        .route(
            "/admin/readers/{id}/erase",
            get(readers::erase_form).post(readers::erase),
        )
        .route("/admin/readers/bulk", post(readers::bulk))
        .route("/admin/jobs", get(readers::jobs))
        .route("/admin/jobs/{id}", get(readers::job))
        .route("/admin/jobs/{id}/export.csv", get(imports::export_file))
        .route("/admin/jobs/{id}/refused.csv", get(imports::import_errors))
        .route("/admin/segments", post(readers::save_segment))
        .route("/admin/segments/{id}/delete", post(readers::delete_segment))
        .route(
            "/admin/editions",
            get(editions::list).post(editions::compose),
        )
        .route("/admin/editions/{id}", get(editions::show))
        .route("/admin/editions/{id}/action", post(editions::act))
        .route("/admin/editions/{id}/segment", post(editions::set_segment))
        .route(
            "/admin/editions/{id}/{lang}",
            get(editions::composer).post(editions::save),
        )
        .route(
            "/admin/editions/{id}/{lang}/preview",
            get(editions::preview),
        )
        .route(
            "/admin/editions/{id}/{lang}/test",
            post(editions::send_test),
        )
        .route(
            "/admin/settings",
            get(settings::site).post(settings::save_site),
        )
        .route(
            "/admin/settings/newsletters",
            get(settings::newsletters).post(settings::save_newsletter),
        )
        .route("/admin/settings/mail", get(settings::mail))
        .route("/admin/settings/mail/test", post(settings::test_relay))
        .route("/admin/settings/dkim", post(settings::dkim))
        .route(
            "/admin/redirects",
            get(redirects::list).post(redirects::add),
        )
        .route("/admin/redirects/remove", post(redirects::remove))
        .route("/admin/media/{id}", post(media::update))
        .route("/admin/media/{id}/delete", post(media::delete))
}

/// The upload takes bodies up to twice the largest image accepted: a file a little too large
/// reaches the check that says so in words, rather than a cut connection.
pub fn upload_routes() -> Router<AppRef> {
    let limit = 2 * jarida_content::media::MAX_IMAGE_BYTES as usize;
    // A little over the largest import, for the form's other fields; the handler counts the
    // file's bytes itself and says so in words.
    let import_limit = imports::MAX_UPLOAD_BYTES + 64 * 1024;
    Router::new()
        .route(
            "/admin/media",
            get(media::list).post(
                media::upload
                    .layer(axum::extract::DefaultBodyLimit::max(limit))
                    .layer(tower_http::limit::RequestBodyLimitLayer::new(limit)),
            ),
        )
        .route(
            "/admin/settings/logo",
            post(
                settings::upload_logo
                    .layer(axum::extract::DefaultBodyLimit::max(limit))
                    .layer(tower_http::limit::RequestBodyLimitLayer::new(limit)),
            ),
        )
        .route(
            "/admin/readers/import",
            get(imports::form).post(
                imports::upload
                    .layer(axum::extract::DefaultBodyLimit::max(import_limit))
                    .layer(tower_http::limit::RequestBodyLimitLayer::new(import_limit)),
            ),
        )
}

/// Owners and editors start at the dashboard; authors and contributors at the posts.
async fn home(s: Signed) -> Response {
    if s.user.role.can_see_readers() {
        redirect("/admin/dashboard")
    } else {
        redirect("/admin/posts")
    }
}

async fn static_file(State(app): State<AppRef>, Path(file): Path<String>) -> Response {
    match app.admin.asset(&format!("/admin/static/{file}")) {
        Some(a) => {
            let mut r = Response::new(Body::from(a.bytes));
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(a.content_type),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            r
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A `303 See Other` to a path of ours (never a URL from outside: no open redirect).
pub(crate) fn redirect(path: &str) -> Response {
    let safe = if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') {
        path
    } else {
        "/admin/"
    };
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(safe) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    admin_headers(&mut r);
    r
}

fn admin_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(ADMIN_CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// What every admin template sees: the language and its direction, the signed-in user and the
/// navigation they may use, the CSRF token, the asset URLs.
pub(crate) fn frame(
    app: &App,
    lang: Lang,
    signed: Option<&Signed>,
    title: String,
    section: &str,
) -> BTreeMap<&'static str, Value> {
    let mut ctx = BTreeMap::new();
    ctx.insert("lang", Value::from(lang.code()));
    ctx.insert(
        "dir",
        Value::from(if lang.is_rtl() { "rtl" } else { "ltr" }),
    );
    ctx.insert("title", Value::from(title));
    ctx.insert("section", Value::from(section.to_string()));
    ctx.insert("css", Value::from(app.admin.css.url.clone()));
    ctx.insert("js", Value::from(app.admin.js.url.clone()));
    ctx.insert("site_name", Value::from(app.settings().name(lang)));
    if let Some(s) = signed {
        ctx.insert("me", crate::ser(&s.user));
        ctx.insert("csrf", Value::from(s.csrf.clone()));
        ctx.insert(
            "may_manage_users",
            Value::from(s.user.role.can_manage_users()),
        );
        ctx.insert("may_publish", Value::from(s.user.role.can_publish()));
        ctx.insert(
            "may_see_readers",
            Value::from(s.user.role.can_see_readers()),
        );
    }
    ctx
}

/// An admin page.
pub(crate) fn page(
    app: &App,
    status: StatusCode,
    template: &str,
    ctx: BTreeMap<&'static str, Value>,
) -> Response {
    let body = match app.admin.render(template, Value::from(ctx)) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), template, "admin template failed");
            return internal();
        }
    };
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::public::HTML),
    );
    admin_headers(&mut r);
    r
}

/// A form page, shown again with `error` (and a 422) when its last submission was refused.
pub(crate) fn form_page(
    app: &App,
    template: &str,
    mut ctx: BTreeMap<&'static str, Value>,
    error: Option<String>,
) -> Response {
    let status = match error {
        Some(e) => {
            ctx.insert("error", Value::from(e));
            StatusCode::UNPROCESSABLE_ENTITY
        }
        None => StatusCode::OK,
    };
    page(app, status, template, ctx)
}

/// A short page saying why a request was refused or what happened.
pub(crate) fn message(
    app: &App,
    lang: Lang,
    signed: Option<&Signed>,
    status: StatusCode,
    title_key: &str,
    text: String,
) -> Response {
    let mut ctx = frame(app, lang, signed, app.theme.t(lang, title_key), "");
    ctx.insert("text", Value::from(text));
    page(app, status, "message.html", ctx)
}

pub(crate) fn internal() -> Response {
    let mut r = (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    admin_headers(&mut r);
    r
}

/// Logs an internal failure and answers 500.
pub(crate) fn fail(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "admin request failed");
    internal()
}

pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
