//! "Forgot your password?": an address typed on the sign-in page gets, if it has an account, an
//! email with a one-time link (an hour); the answer is the same whether it has one or not, and the
//! requests are throttled per address and per client. Setting the new password ends every session
//! of the account and burns the link.

use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jarida_accounts::links::{self, Link, Purpose};
use jarida_accounts::{audit, password, users};
use jarida_core::Lang;
use minijinja::Value;
use std::net::SocketAddr;

use super::{fail, frame, message, now, page};
use crate::{App, AppRef};

/// How long a reset link works.
pub const RESET_HOURS: i64 = 1;
/// Reset emails per address, and requests per client, per hour.
const PER_ADDRESS: i64 = 3;
const PER_IP: i64 = 20;

#[derive(serde::Deserialize, Default)]
pub struct LangQuery {
    #[serde(default)]
    lang: Option<String>,
}

fn lang_of(app: &App, q: Option<&str>) -> Lang {
    q.and_then(Lang::parse).unwrap_or(app.cfg.default_lang)
}

pub(crate) async fn form(State(app): State<AppRef>, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(&app, q.lang.as_deref());
    let mut ctx = frame(&app, lang, None, app.theme.t(lang, "admin-reset-title"), "");
    ctx.insert(
        "csrf",
        Value::from(app.secret.sign_hex("admin-reset", "request", 32)),
    );
    page(&app, StatusCode::OK, "reset.html", ctx)
}

#[derive(serde::Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

pub(crate) async fn request(
    State(app): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
    Form(f): Form<RequestForm>,
) -> Response {
    let lang = lang_of(&app, q.lang.as_deref());
    if !app.secret.verify_hex("admin-reset", "request", 32, &f.csrf) {
        return super::auth::guest_csrf_failed(&app, lang);
    }
    let email = f.email.trim().to_lowercase();
    let ip = crate::subscribe::signup::client_ip(&app, peer, &headers);
    let sent = message(
        &app,
        lang,
        None,
        StatusCode::OK,
        "admin-reset-title",
        app.theme.t(lang, "admin-reset-sent"),
    );
    let t = now();
    let by_ip = jarida_audience::throttle::hit(
        &app.db,
        &format!(
            "admin-reset-ip:{}",
            jarida_audience::throttle::ip_bucket(&ip)
        ),
        3600,
        t,
    )
    .await;
    let by_address = jarida_audience::throttle::hit(
        &app.db,
        &format!(
            "admin-reset-account:{}",
            jarida_accounts::token_hash(&email)
        ),
        3600,
        t,
    )
    .await;
    match (by_ip, by_address) {
        (Ok(a), Ok(b)) if a <= PER_IP && b <= PER_ADDRESS => {}
        (Ok(_), Ok(_)) => return sent, // over a limit: the same answer, no email
        (Err(e), _) | (_, Err(e)) => return fail(e),
    }
    let user = match app.db.acquire().await {
        Ok(mut c) => users::by_email(c.conn(), &email).await,
        Err(e) => return fail(e),
    };
    let user = match user {
        Ok(u) => u.filter(|u| !u.disabled),
        Err(e) => return fail(e),
    };
    let Some(user) = user else {
        return sent;
    };
    let r: Result<(), String> = async {
        let mut tx = app.db.begin().await.map_err(|e| e.to_string())?;
        let link = Link {
            purpose: Purpose::Reset,
            email: user.email.clone(),
            role: None,
            user_id: Some(user.id),
            created_by: None,
        };
        let token = links::issue(&mut tx, &link, t, RESET_HOURS * 3600)
            .await
            .map_err(|e| e.to_string())?;
        let url = format!(
            "{}/admin/reset/{token}?lang={}",
            app.cfg.base_url, user.lang
        );
        let msg = app.notify.account_link(
            user.lang,
            &jarida_notify::AccountLink {
                reset: true,
                url: &url,
                invited_by: "",
                role: user.role.as_str(),
                hours: RESET_HOURS,
            },
            &user.email,
        );
        let out = app.notify.outgoing(msg).map_err(|e| e.to_string())?;
        jarida_mail::queue::enqueue_in(tx.conn(), &out, t)
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        Ok(())
    }
    .await;
    match r {
        Ok(()) => {
            app.mail.wake();
            sent
        }
        Err(e) => fail(e),
    }
}

fn gone(app: &App, lang: Lang) -> Response {
    message(
        app,
        lang,
        None,
        StatusCode::NOT_FOUND,
        "admin-link-gone-title",
        app.theme.t(lang, "admin-link-gone"),
    )
}

fn choose_page(app: &App, lang: Lang, token: &str, email: &str, error: Option<String>) -> Response {
    let mut ctx = frame(app, lang, None, app.theme.t(lang, "admin-reset-title"), "");
    ctx.insert(
        "csrf",
        Value::from(app.secret.sign_hex("admin-reset", token, 32)),
    );
    ctx.insert(
        "action",
        Value::from(format!("/admin/reset/{token}?lang={lang}")),
    );
    ctx.insert("email", Value::from(email));
    super::form_page(app, "reset-choose.html", ctx, error)
}

async fn peek(app: &App, token: &str) -> Result<Option<Link>, jarida_store::StoreError> {
    let mut tx = app.db.begin().await?;
    links::peek(&mut tx, Purpose::Reset, token, now()).await
}

pub(crate) async fn choose_form(
    State(app): State<AppRef>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = lang_of(&app, q.lang.as_deref());
    match peek(&app, &token).await {
        Ok(Some(l)) => choose_page(&app, lang, &token, &l.email, None),
        Ok(None) => gone(&app, lang),
        Err(e) => fail(e),
    }
}

#[derive(serde::Deserialize)]
pub struct ChooseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn choose(
    State(app): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    Form(f): Form<ChooseForm>,
) -> Response {
    let lang = lang_of(&app, q.lang.as_deref());
    if !app.secret.verify_hex("admin-reset", &token, 32, &f.csrf) {
        return super::auth::guest_csrf_failed(&app, lang);
    }
    let link = match peek(&app, &token).await {
        Ok(Some(l)) => l,
        Ok(None) => return gone(&app, lang),
        Err(e) => return fail(e),
    };
    if let Err(e) = password::check_new(&f.password) {
        return choose_page(&app, lang, &token, &link.email, Some(e.to_string()));
    }
    let hash = match password::hash(f.password.clone()).await {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    let ip = crate::subscribe::signup::client_ip(&app, peer, &headers);
    let r: Result<bool, jarida_store::StoreError> = async {
        let mut tx = app.db.begin().await?;
        let Some(link) = links::take(&mut tx, Purpose::Reset, &token, now()).await? else {
            return Ok(false);
        };
        let Some(id) = link.user_id else {
            return Ok(false);
        };
        users::set_password(&mut tx, id, &hash).await?;
        let who = audit::Actor {
            user_id: Some(id),
            label: link.email.clone(),
            ip,
        };
        audit::record(
            &mut tx,
            &who,
            "user.password-reset",
            &format!("user {id}"),
            "",
            now(),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
    .await;
    match r {
        Ok(true) => message(
            &app,
            lang,
            None,
            StatusCode::OK,
            "admin-reset-title",
            app.theme.t(lang, "admin-reset-done"),
        ),
        Ok(false) => gone(&app, lang),
        Err(e) => fail(e),
    }
}
