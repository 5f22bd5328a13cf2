//! Who is asking: the session cookie, the [`Signed`] extractor every admin route starts with, the
//! CSRF token bound to the session, and signing in and out (with the second factor when the
//! account has one). Sign-in is throttled per typed address and per client address, and a wrong
//! password, an unknown account and a disabled one get the same answer after the same work.

use axum::extract::{ConnectInfo, Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jarida_accounts::sessions::{self, Lifetimes, Origin};
use jarida_accounts::{User, audit, totp, users};
use jarida_core::Lang;
use minijinja::Value;
use std::net::SocketAddr;

use super::{frame, message, now, page, redirect};
use crate::{App, AppRef};

/// Sign-in attempts allowed per typed address, and per client address, in [`THROTTLE_WINDOW`].
pub const PER_ACCOUNT: i64 = 10;
pub const PER_IP: i64 = 30;
pub const THROTTLE_WINDOW: i64 = 900;

/// A signed-in user, as every admin handler receives them.
#[derive(Debug, Clone)]
pub struct Signed {
    pub user: User,
    pub session_id: i64,
    /// The token the user's forms carry (and the script sends as `X-CSRF-Token`).
    pub csrf: String,
    pub ip: String,
}

impl Signed {
    pub fn lang(&self) -> Lang {
        self.user.lang
    }

    /// Whether `given` is this session's CSRF token.
    pub fn csrf_ok(&self, given: &str) -> bool {
        crate::setup::constant_eq(given.as_bytes(), self.csrf.as_bytes())
    }

    pub fn actor(&self) -> audit::Actor {
        audit::Actor {
            user_id: Some(self.user.id),
            label: format!("{} <{}>", self.user.name, self.user.email),
            ip: self.ip.clone(),
        }
    }

    pub fn editor(&self) -> jarida_content::editing::Editor {
        jarida_content::editing::Editor {
            user_id: Some(self.user.id),
            label: self.user.name.clone(),
            autosave: false,
        }
    }
}

/// The session cookie's name: with the `__Host-` prefix (which browsers only accept from HTTPS,
/// with `Secure`, `Path=/` and no domain) whenever the site is served over HTTPS.
pub(crate) fn cookie_name(app: &App) -> &'static str {
    if secure(app) {
        "__Host-jarida_session"
    } else {
        "jarida_session"
    }
}

fn pre_cookie_name(app: &App) -> &'static str {
    if secure(app) {
        "__Host-jarida_signin"
    } else {
        "jarida_signin"
    }
}

fn secure(app: &App) -> bool {
    app.cfg.base_url.starts_with("https://")
}

fn set_cookie(app: &App, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if secure(app) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// The value of cookie `name`. The `Cookie` header is `a=b; c=d`: splitting it needs no crate.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` of a new session.
pub(crate) fn session_cookie(app: &App, token: &str) -> HeaderValue {
    set_cookie(app, cookie_name(app), token, lifetimes(app).absolute_secs)
}

pub(crate) fn lifetimes(app: &App) -> Lifetimes {
    app.cfg.admin_sessions
}

fn csrf_for(app: &App, token: &str) -> String {
    app.secret.sign_hex("admin-csrf", token, 32)
}

/// A form posted from another site's page is refused whatever it carries: browsers send
/// `Origin` with every POST, and it must name this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true; // not a browser's cross-site request; the CSRF token still decides
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| !host.is_empty() && rest == host)
}

fn peer_ip(app: &App, parts: &Parts) -> String {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    crate::subscribe::signup::client_ip(app, peer, &parts.headers)
}

/// The language of a page shown before sign-in: `?lang=`, else the browser's first choice if we
/// speak it, else the site's default.
fn guest_lang(app: &App, headers: &HeaderMap, asked: Option<&str>) -> Lang {
    asked
        .and_then(Lang::parse)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|first| first.trim().get(..2))
                .and_then(Lang::parse)
        })
        .unwrap_or(app.cfg.default_lang)
}

impl FromRequestParts<AppRef> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppRef) -> Result<Self, Self::Rejection> {
        let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD);
        if unsafe_method && !same_origin(&parts.headers) {
            return Err(unread(refused(
                app,
                StatusCode::FORBIDDEN,
                "admin-csrf-failed",
            )));
        }
        let token = cookie(&parts.headers, cookie_name(app)).unwrap_or("");
        let found = sessions::find(&app.db, token, lifetimes(app), now())
            .await
            .map_err(super::fail)?;
        let Some(s) = found.filter(|s| !s.pending_mfa) else {
            return Err(if unsafe_method {
                unread(refused(app, StatusCode::UNAUTHORIZED, "admin-signed-out"))
            } else {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/admin/");
                redirect(&format!(
                    "/admin/signin?next={}",
                    percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
                ))
            });
        };
        // An account that must use a second factor and has none yet may only set one up.
        if needs_second_factor(app, &s.user) && parts.uri.path() != "/admin/account" {
            return Err(redirect("/admin/account?totp=required"));
        }
        Ok(Signed {
            csrf: csrf_for(app, token),
            ip: peer_ip(app, parts),
            session_id: s.id,
            user: s.user,
        })
    }
}

/// A refusal sent before the request's body was read: the connection cannot carry another
/// request, and saying so keeps a client from sending one down it.
fn unread(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// Whether the owner's setting requires a second factor of this user and they have none.
fn needs_second_factor(app: &App, u: &User) -> bool {
    app.cfg.admin_require_totp && !u.totp && u.role.can_publish()
}

/// A refusal before we know who asks: in the site's default language.
fn refused(app: &App, status: StatusCode, key: &str) -> Response {
    let lang = app.cfg.default_lang;
    message(
        app,
        lang,
        None,
        status,
        "admin-refused-title",
        app.theme.t(lang, key),
    )
}

/// A form without a session (sign-in, invitation, reset) whose token is wrong, in `lang`.
pub(crate) fn guest_csrf_failed(app: &App, lang: Lang) -> Response {
    message(
        app,
        lang,
        None,
        StatusCode::FORBIDDEN,
        "admin-refused-title",
        app.theme.t(lang, "admin-csrf-failed"),
    )
}

/// A form whose CSRF token is wrong.
pub(crate) fn csrf_failed(app: &App, s: &Signed) -> Response {
    message(
        app,
        s.lang(),
        Some(s),
        StatusCode::FORBIDDEN,
        "admin-refused-title",
        app.theme.t(s.lang(), "admin-csrf-failed"),
    )
}

/// A role that may not do what was asked.
/// The refusal for a request about readers or editions the user may not make: a form without this
/// session's CSRF token (`csrf` is the one a form posted), or a role that does not see readers.
pub(crate) fn readers_refusal(app: &App, s: &Signed, csrf: Option<&str>) -> Option<Response> {
    if csrf.is_some_and(|c| !s.csrf_ok(c)) {
        return Some(csrf_failed(app, s));
    }
    (!s.user.role.can_see_readers()).then(|| forbidden(app, s))
}

pub(crate) fn forbidden(app: &App, s: &Signed) -> Response {
    message(
        app,
        s.lang(),
        Some(s),
        StatusCode::FORBIDDEN,
        "admin-refused-title",
        app.theme.t(s.lang(), "admin-forbidden"),
    )
}

#[derive(serde::Deserialize, Default)]
pub struct SigninQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// Where to go after signing in: only a path of the admin (no open redirect).
fn safe_next(next: &str) -> &str {
    if next.starts_with("/admin/") && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/admin/"
    }
}

pub(crate) async fn signin_form(
    State(app): State<AppRef>,
    headers: HeaderMap,
    Query(q): Query<SigninQuery>,
) -> Response {
    let lang = guest_lang(&app, &headers, q.lang.as_deref());
    let existing = cookie(&headers, pre_cookie_name(&app)).filter(|v| v.len() == 64);
    let pre = existing
        .map(str::to_string)
        .unwrap_or_else(jarida_accounts::new_token);
    let mut ctx = frame(
        &app,
        lang,
        None,
        app.theme.t(lang, "admin-signin-title"),
        "",
    );
    ctx.insert(
        "csrf",
        Value::from(app.secret.sign_hex("admin-signin", &pre, 32)),
    );
    ctx.insert("next", Value::from(safe_next(&q.next)));
    if q.reason.as_deref() == Some("signed-out") {
        ctx.insert(
            "notice",
            Value::from(app.theme.t(lang, "admin-signed-out-notice")),
        );
    }
    let mut r = page(&app, StatusCode::OK, "signin.html", ctx);
    if existing.is_none() {
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&app, pre_cookie_name(&app), &pre, 3600),
        );
    }
    r
}

#[derive(serde::Deserialize)]
pub struct SigninForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    lang: String,
}

/// Counts an attempt against the typed address and the client's; true when either is over.
async fn throttled(app: &App, email: &str, ip: &str) -> Result<bool, Response> {
    let t = now();
    let ip_key = format!(
        "admin-signin-ip:{}",
        jarida_audience::throttle::ip_bucket(ip)
    );
    let acct_key = format!(
        "admin-signin-account:{}",
        jarida_accounts::token_hash(email)
    );
    let by_ip = jarida_audience::throttle::hit(&app.db, &ip_key, THROTTLE_WINDOW, t)
        .await
        .map_err(super::fail)?;
    let by_account = jarida_audience::throttle::hit(&app.db, &acct_key, THROTTLE_WINDOW, t)
        .await
        .map_err(super::fail)?;
    Ok(by_ip > PER_IP || by_account > PER_ACCOUNT)
}

pub(crate) async fn signin(
    State(app): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<SigninForm>,
) -> Response {
    let lang = Lang::parse(&f.lang).unwrap_or(app.cfg.default_lang);
    let pre = cookie(&headers, pre_cookie_name(&app)).unwrap_or("");
    if !same_origin(&headers)
        || pre.len() != 64
        || !app.secret.verify_hex("admin-signin", pre, 32, &f.csrf)
    {
        return message(
            &app,
            lang,
            None,
            StatusCode::FORBIDDEN,
            "admin-refused-title",
            app.theme.t(lang, "admin-signin-expired"),
        );
    }
    let ip = crate::subscribe::signup::client_ip(&app, peer, &headers);
    let email = f.email.trim().to_lowercase();
    let again = |key: &str, status: StatusCode| {
        let mut ctx = frame(
            &app,
            lang,
            None,
            app.theme.t(lang, "admin-signin-title"),
            "",
        );
        ctx.insert("csrf", Value::from(f.csrf.clone()));
        ctx.insert("next", Value::from(safe_next(&f.next)));
        ctx.insert("email", Value::from(email.clone()));
        ctx.insert("error", Value::from(app.theme.t(lang, key)));
        page(&app, status, "signin.html", ctx)
    };
    match throttled(&app, &email, &ip).await {
        Ok(true) => {
            tracing::warn!(ip, "admin sign-in throttled");
            return again("admin-signin-throttled", StatusCode::TOO_MANY_REQUESTS);
        }
        Ok(false) => {}
        Err(r) => return r,
    }
    let creds = match users::credentials(&app.db, &email).await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let ok = jarida_accounts::password::verify(
        f.password.clone(),
        creds.as_ref().map(|c| c.password_hash.clone()),
    )
    .await;
    let Some(creds) = creds.filter(|_| ok) else {
        return again("admin-signin-wrong", StatusCode::UNAUTHORIZED);
    };
    let pending = creds.totp_secret.is_some();
    let from = Origin {
        ip: ip.clone(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
    };
    start_session(&app, &headers, creds.id, pending, &from, &ip, || {
        if pending {
            format!(
                "/admin/signin/code?next={}",
                percent_encoding::utf8_percent_encode(
                    safe_next(&f.next),
                    percent_encoding::NON_ALPHANUMERIC
                )
            )
        } else {
            safe_next(&f.next).to_string()
        }
    })
    .await
}

/// Ends the session the browser had (if any), starts a new one, sets its cookie and records the
/// sign-in when it is complete.
async fn start_session(
    app: &App,
    headers: &HeaderMap,
    user_id: i64,
    pending_mfa: bool,
    from: &Origin,
    ip: &str,
    to: impl FnOnce() -> String,
) -> Response {
    let old = cookie(headers, cookie_name(app)).unwrap_or("");
    if let Ok(Some(s)) = sessions::find(&app.db, old, lifetimes(app), now()).await
        && let Err(e) = sessions::end(&app.db, s.id).await
    {
        return super::fail(e);
    }
    let token = match sessions::create(&app.db, user_id, pending_mfa, from, now()).await {
        Ok(t) => t,
        Err(e) => return super::fail(e),
    };
    if !pending_mfa && let Err(e) = record_signin(app, user_id, ip).await {
        return super::fail(e);
    }
    let mut r = redirect(&to());
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(app, cookie_name(app), &token, lifetimes(app).absolute_secs),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(app, pre_cookie_name(app), "", 0),
    );
    r
}

async fn record_signin(app: &App, user_id: i64, ip: &str) -> Result<(), jarida_store::StoreError> {
    let mut tx = app.db.begin().await?;
    let u = users::by_id(tx.conn(), user_id).await?;
    let who = audit::Actor {
        user_id: Some(user_id),
        label: u
            .map(|u| format!("{} <{}>", u.name, u.email))
            .unwrap_or_default(),
        ip: ip.to_string(),
    };
    audit::record(
        &mut tx,
        &who,
        "session.signin",
        &format!("user {user_id}"),
        "",
        now(),
    )
    .await?;
    tx.commit().await
}

/// The session waiting for its second factor, if the browser has one.
async fn pending(app: &App, headers: &HeaderMap) -> Option<sessions::Session> {
    let token = cookie(headers, cookie_name(app))?;
    sessions::find(&app.db, token, lifetimes(app), now())
        .await
        .ok()
        .flatten()
        .filter(|s| s.pending_mfa)
}

pub(crate) async fn code_form(
    State(app): State<AppRef>,
    headers: HeaderMap,
    Query(q): Query<SigninQuery>,
) -> Response {
    let Some(s) = pending(&app, &headers).await else {
        return redirect("/admin/signin");
    };
    let lang = s.user.lang;
    let token = cookie(&headers, cookie_name(&app)).unwrap_or("");
    let mut ctx = frame(&app, lang, None, app.theme.t(lang, "admin-code-title"), "");
    ctx.insert("csrf", Value::from(csrf_for(&app, token)));
    ctx.insert("next", Value::from(safe_next(&q.next)));
    page(&app, StatusCode::OK, "code.html", ctx)
}

#[derive(serde::Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

pub(crate) async fn code(
    State(app): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> Response {
    let Some(s) = pending(&app, &headers).await else {
        return redirect("/admin/signin");
    };
    let lang = s.user.lang;
    let token = cookie(&headers, cookie_name(&app))
        .unwrap_or("")
        .to_string();
    if !same_origin(&headers)
        || !crate::setup::constant_eq(f.csrf.as_bytes(), csrf_for(&app, &token).as_bytes())
    {
        return refused(&app, StatusCode::FORBIDDEN, "admin-csrf-failed");
    }
    let ip = crate::subscribe::signup::client_ip(&app, peer, &headers);
    let again = |key: &str, status: StatusCode| {
        let mut ctx = frame(&app, lang, None, app.theme.t(lang, "admin-code-title"), "");
        ctx.insert("csrf", Value::from(f.csrf.clone()));
        ctx.insert("next", Value::from(safe_next(&f.next)));
        ctx.insert("error", Value::from(app.theme.t(lang, key)));
        page(&app, status, "code.html", ctx)
    };
    match throttled(&app, &s.user.email, &ip).await {
        Ok(true) => return again("admin-signin-throttled", StatusCode::TOO_MANY_REQUESTS),
        Ok(false) => {}
        Err(r) => return r,
    }
    match totp::check_signin(&app.db, s.user.id, &f.code, now()).await {
        Ok(true) => {}
        Ok(false) => return again("admin-code-wrong", StatusCode::UNAUTHORIZED),
        Err(e) => return super::fail(e),
    }
    let from = Origin {
        ip: ip.clone(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
    };
    // A new session for the completed sign-in: the half-signed one is ended by start_session.
    let next = safe_next(&f.next).to_string();
    start_session(&app, &headers, s.user.id, false, &from, &ip, || next).await
}

#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

pub(crate) async fn signout(
    State(app): State<AppRef>,
    s: Signed,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    if let Err(e) = sessions::end(&app.db, s.session_id).await {
        return super::fail(e);
    }
    let mut r = redirect("/admin/signin?reason=signed-out");
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&app, cookie_name(&app), "", 0),
    );
    r
}

/// A 401 for the script's requests whose session ended.
pub(crate) fn json_refusal(status: StatusCode, reason: &str) -> Response {
    let mut r = (status, axum::Json(serde_json::json!({ "error": reason }))).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
