//! The newsroom's people, for the owner: who has an account and with which role, invitations by
//! email (a one-time link through the mail queue), and the audit log. Accepting an invitation is
//! the one page here a visitor without an account reaches, with the link's token.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jarida_accounts::links::{self, Link, Purpose};
use jarida_accounts::{AccountsError, Role, audit, password, sessions, users};
use jarida_core::{EmailAddress, Lang};
use minijinja::Value;

use super::auth::{csrf_failed, forbidden};
use super::{Signed, fail, frame, message, now, page, redirect};
use crate::{App, AppRef};

/// How long an invitation link works.
pub const INVITE_HOURS: i64 = 72;

async fn users_page(
    app: &App,
    s: &Signed,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let lang = s.lang();
    let (all, invites) = match (
        users::list(&app.db).await,
        links::pending_invitations(&app.db, now()).await,
    ) {
        (Ok(a), Ok(i)) => (a, i),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    let mut ctx = frame(
        app,
        lang,
        Some(s),
        app.theme.t(lang, "admin-users-title"),
        "users",
    );
    ctx.insert("users", crate::ser(&all));
    ctx.insert("invitations", crate::ser(&invites));
    ctx.insert("roles", crate::ser(Role::ALL));
    if let Some(n) = notice {
        ctx.insert("notice", Value::from(n));
    }
    if let Some(e) = error {
        ctx.insert("error", Value::from(e));
    }
    page(app, status, "users.html", ctx)
}

#[derive(serde::Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

pub(crate) async fn users(State(app): State<AppRef>, s: Signed, Query(q): Query<Done>) -> Response {
    if !s.user.role.can_manage_users() {
        return forbidden(&app, &s);
    }
    let notice = q.done.map(|_| app.theme.t(s.lang(), "admin-invited"));
    users_page(&app, &s, StatusCode::OK, notice, None).await
}

#[derive(serde::Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    lang: String,
}

pub(crate) async fn invite(
    State(app): State<AppRef>,
    s: Signed,
    Form(f): Form<InviteForm>,
) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    if !s.user.role.can_manage_users() {
        return forbidden(&app, &s);
    }
    let lang = s.lang();
    let email = match EmailAddress::parse(&f.email) {
        Ok(e) => e,
        Err(e) => {
            return users_page(
                &app,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(format!("{}: {e}", app.theme.t(lang, "admin-email"))),
            )
            .await;
        }
    };
    let Some(role) = Role::parse(&f.role).filter(|r| s.user.role.may_grant(*r)) else {
        return users_page(
            &app,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(app.theme.t(lang, "admin-role-invalid")),
        )
        .await;
    };
    let their_lang = Lang::parse(&f.lang).unwrap_or(lang);
    let r: Result<(), String> = async {
        let mut c = app.db.acquire().await.map_err(|e| e.to_string())?;
        if users::by_email(c.conn(), email.as_str())
            .await
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return Err(AccountsError::Taken(email.to_string()).to_string());
        }
        drop(c);
        let mut tx = app.db.begin().await.map_err(|e| e.to_string())?;
        let link = Link {
            purpose: Purpose::Invite,
            email: email.to_string(),
            role: Some(role),
            user_id: None,
            created_by: Some(s.user.id),
        };
        let token = links::issue(&mut tx, &link, now(), INVITE_HOURS * 3600)
            .await
            .map_err(|e| e.to_string())?;
        let url = format!(
            "{}/admin/invitation/{token}?lang={their_lang}",
            app.cfg.base_url
        );
        let msg = app.notify.account_link(
            their_lang,
            &jarida_notify::AccountLink {
                reset: false,
                url: &url,
                invited_by: &s.user.name,
                role: role.as_str(),
                hours: INVITE_HOURS,
            },
            email.as_str(),
        );
        let out = app.notify.outgoing(msg).map_err(|e| e.to_string())?;
        jarida_mail::queue::enqueue_in(tx.conn(), &out, now())
            .await
            .map_err(|e| e.to_string())?;
        audit::record(
            &mut tx,
            &s.actor(),
            "user.invite",
            email.as_str(),
            role.as_str(),
            now(),
        )
        .await
        .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        Ok(())
    }
    .await;
    match r {
        Ok(()) => {
            app.mail.wake();
            redirect("/admin/users?done=invited")
        }
        Err(e) => users_page(&app, &s, StatusCode::UNPROCESSABLE_ENTITY, None, Some(e)).await,
    }
}

#[derive(serde::Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    disabled: Option<String>,
}

pub(crate) async fn change_role(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    Form(f): Form<RoleForm>,
) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    if !s.user.role.can_manage_users() {
        return forbidden(&app, &s);
    }
    let lang = s.lang();
    let Some(role) = Role::parse(&f.role) else {
        return users_page(
            &app,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(app.theme.t(lang, "admin-role-invalid")),
        )
        .await;
    };
    let disabled = f.disabled.is_some();
    let r: Result<(), AccountsError> = async {
        let mut tx = app.db.begin().await?;
        users::set_role(&mut tx, id, role, disabled, now()).await?;
        let what = if disabled {
            format!("{role}, disabled")
        } else {
            role.to_string()
        };
        audit::record(
            &mut tx,
            &s.actor(),
            "user.role",
            &format!("user {id}"),
            &what,
            now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    match r {
        Ok(()) => redirect("/admin/users"),
        Err(AccountsError::Invalid { reason, .. }) => {
            users_page(
                &app,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(reason),
            )
            .await
        }
        Err(e) => fail(e),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct LangQuery {
    #[serde(default)]
    lang: Option<String>,
}

fn link_gone(app: &App, lang: Lang) -> Response {
    message(
        app,
        lang,
        None,
        StatusCode::NOT_FOUND,
        "admin-link-gone-title",
        app.theme.t(lang, "admin-link-gone"),
    )
}

fn accept_page(
    app: &App,
    lang: Lang,
    token: &str,
    link: &Link,
    error: Option<String>,
    name: &str,
) -> Response {
    let mut ctx = frame(app, lang, None, app.theme.t(lang, "admin-accept-title"), "");
    ctx.insert("email", Value::from(link.email.clone()));
    ctx.insert(
        "role",
        Value::from(link.role.map(|r| r.as_str()).unwrap_or("contributor")),
    );
    ctx.insert(
        "csrf",
        Value::from(app.secret.sign_hex("admin-accept", token, 32)),
    );
    ctx.insert(
        "action",
        Value::from(format!("/admin/invitation/{token}?lang={lang}")),
    );
    ctx.insert("name", Value::from(name));
    super::form_page(app, "accept.html", ctx, error)
}

pub(crate) async fn accept_form(
    State(app): State<AppRef>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = q
        .lang
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or(app.cfg.default_lang);
    let link = async {
        let mut tx = app.db.begin().await?;
        links::peek(&mut tx, Purpose::Invite, &token, now()).await
    }
    .await;
    match link {
        Ok(Some(l)) => accept_page(&app, lang, &token, &l, None, ""),
        Ok(None) => link_gone(&app, lang),
        Err(e) => fail(e),
    }
}

#[derive(serde::Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn accept(
    State(app): State<AppRef>,
    headers: HeaderMap,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    Form(f): Form<AcceptForm>,
) -> Response {
    let lang = q
        .lang
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or(app.cfg.default_lang);
    if !app.secret.verify_hex("admin-accept", &token, 32, &f.csrf) {
        return super::auth::guest_csrf_failed(&app, lang);
    }
    let peeked = async {
        let mut tx = app.db.begin().await?;
        links::peek(&mut tx, Purpose::Invite, &token, now()).await
    }
    .await;
    let link = match peeked {
        Ok(Some(l)) => l,
        Ok(None) => return link_gone(&app, lang),
        Err(e) => return fail(e),
    };
    let name = f.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return accept_page(
            &app,
            lang,
            &token,
            &link,
            Some(app.theme.t(lang, "admin-name-invalid")),
            &name,
        );
    }
    if let Err(e) = password::check_new(&f.password) {
        return accept_page(&app, lang, &token, &link, Some(e.to_string()), &name);
    }
    let hash = match password::hash(f.password.clone()).await {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    let ip = crate::subscribe::signup::client_ip(&app, peer, &headers);
    let r: Result<Option<i64>, AccountsError> = async {
        let mut tx = app.db.begin().await?;
        let Some(link) = links::take(&mut tx, Purpose::Invite, &token, now()).await? else {
            return Ok(None);
        };
        let role = link.role.unwrap_or(Role::Contributor);
        let id = users::create(&mut tx, &link.email, &name, &hash, role, lang, now()).await?;
        let who = audit::Actor {
            user_id: Some(id),
            label: format!("{name} <{}>", link.email),
            ip: ip.clone(),
        };
        audit::record(
            &mut tx,
            &who,
            "user.join",
            &format!("user {id}"),
            role.as_str(),
            now(),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }
    .await;
    match r {
        Ok(Some(id)) => {
            let from = sessions::Origin {
                ip,
                user_agent: headers
                    .get(axum::http::header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string(),
            };
            // Joined: signed in at once, with a session of its own.
            match sessions::create(&app.db, id, false, &from, now()).await {
                Ok(token) => {
                    let mut r = redirect("/admin/account");
                    r.headers_mut().append(
                        axum::http::header::SET_COOKIE,
                        super::auth::session_cookie(&app, &token),
                    );
                    r
                }
                Err(e) => fail(e),
            }
        }
        Ok(None) => link_gone(&app, lang),
        Err(AccountsError::Taken(_)) => link_gone(&app, lang),
        Err(e) => fail(e),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    before: Option<i64>,
}

pub(crate) async fn audit(
    State(app): State<AppRef>,
    s: Signed,
    Query(q): Query<AuditQuery>,
) -> Response {
    if !s.user.role.can_manage_users() {
        return forbidden(&app, &s);
    }
    let (entries, more) = match audit::page(&app.db, q.before, 100).await {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let lang = s.lang();
    let mut ctx = frame(
        &app,
        lang,
        Some(&s),
        app.theme.t(lang, "admin-audit-title"),
        "audit",
    );
    ctx.insert(
        "next_before",
        Value::from(if more {
            entries.last().map(|e| e.id)
        } else {
            None
        }),
    );
    ctx.insert("entries", crate::ser(&entries));
    page(&app, StatusCode::OK, "audit.html", ctx)
}
