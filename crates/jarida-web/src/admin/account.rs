//! One's own account: name and admin language, password, two-factor sign-in with its recovery
//! codes, and the list of one's sessions with "sign out everywhere".

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jarida_accounts::{Role, audit, password, sessions, tokens, totp, users};
use jarida_core::Lang;
use minijinja::Value;

use super::auth::{CsrfOnly, csrf_failed};
use super::{Signed, fail, frame, now, page, redirect};
use crate::{App, AppRef};

#[derive(serde::Deserialize, Default)]
pub struct AccountQuery {
    #[serde(default)]
    totp: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

/// The secret offered for enrolment travels in the form, signed, until a code proves the app
/// has it: nothing half-enrolled is ever stored.
fn enrol_sig(app: &App, s: &Signed, secret: &str) -> String {
    app.secret
        .sign_hex("admin-totp-enrol", &format!("{}:{secret}", s.user.id), 32)
}

async fn show_with(
    app: &App,
    s: &Signed,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    codes: Option<Vec<String>>,
) -> Response {
    show_full(app, s, status, notice, error, codes, None).await
}

async fn show_full(
    app: &App,
    s: &Signed,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    codes: Option<Vec<String>>,
    new_token: Option<String>,
) -> Response {
    let lang = s.lang();
    let list = match sessions::list(&app.db, s.user.id).await {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let mut ctx = frame(
        app,
        lang,
        Some(s),
        app.theme.t(lang, "admin-account-title"),
        "account",
    );
    ctx.insert("sessions", crate::ser(&list));
    match tokens::list(&app.db, s.user.id).await {
        Ok(t) => ctx.insert("tokens", crate::ser(&t)),
        Err(e) => return fail(e),
    };
    let grantable: Vec<Role> = Role::ALL
        .iter()
        .copied()
        .filter(|r| *r >= s.user.role)
        .collect();
    ctx.insert("token_roles", crate::ser(grantable));
    if let Some(t) = new_token {
        ctx.insert("new_token", Value::from(t));
    }
    ctx.insert("current_session", Value::from(s.session_id));
    ctx.insert(
        "langs",
        crate::ser(Lang::ALL.iter().map(|l| l.code()).collect::<Vec<_>>()),
    );
    if !s.user.totp {
        let secret = totp::new_secret();
        let issuer = app.settings().name(lang).to_string();
        ctx.insert("totp_secret", Value::from(secret.clone()));
        ctx.insert(
            "totp_uri",
            Value::from(totp::uri(&secret, &issuer, &s.user.email)),
        );
        ctx.insert("totp_sig", Value::from(enrol_sig(app, s, &secret)));
    }
    ctx.insert(
        "totp_required",
        Value::from(app.cfg.admin_require_totp && s.user.role.can_publish() && !s.user.totp),
    );
    if let Some(c) = codes {
        ctx.insert("recovery_codes", crate::ser(c));
    }
    if let Some(n) = notice {
        ctx.insert("notice", Value::from(n));
    }
    if let Some(e) = error {
        ctx.insert("error", Value::from(e));
    }
    page(app, status, "account.html", ctx)
}

pub(crate) async fn show(
    State(app): State<AppRef>,
    s: Signed,
    Query(q): Query<AccountQuery>,
) -> Response {
    let lang = s.lang();
    let notice = match q.done.as_deref() {
        Some("everywhere") => Some(app.theme.t(lang, "admin-signed-out-elsewhere")),
        Some(_) => Some(app.theme.t(lang, "admin-saved")),
        None => q
            .totp
            .as_ref()
            .map(|_| app.theme.t(lang, "admin-totp-required")),
    };
    show_with(&app, &s, StatusCode::OK, notice, None, None).await
}

#[derive(serde::Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    totp_secret: String,
    #[serde(default)]
    totp_sig: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    token_name: String,
    #[serde(default)]
    token_role: String,
}

pub(crate) async fn update(
    State(app): State<AppRef>,
    s: Signed,
    Form(f): Form<AccountForm>,
) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    let lang = s.lang();
    let t = now();
    match f.action.as_str() {
        "profile" => {
            let name = f.name.trim();
            if name.is_empty() || name.chars().count() > 200 {
                return show_with(
                    &app,
                    &s,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(app.theme.t(lang, "admin-name-invalid")),
                    None,
                )
                .await;
            }
            let new_lang = Lang::parse(&f.lang).unwrap_or(lang);
            let r: Result<(), jarida_store::StoreError> = async {
                let mut tx = app.db.begin().await?;
                users::set_profile(&mut tx, s.user.id, name, new_lang).await?;
                audit::record(
                    &mut tx,
                    &s.actor(),
                    "user.profile",
                    &format!("user {}", s.user.id),
                    "",
                    t,
                )
                .await?;
                tx.commit().await
            }
            .await;
            match r {
                Ok(()) => redirect("/admin/account?done=profile"),
                Err(e) => fail(e),
            }
        }
        "password" => {
            let creds = match users::credentials(&app.db, &s.user.email).await {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            let ok =
                password::verify(f.current_password.clone(), creds.map(|c| c.password_hash)).await;
            if !ok {
                return show_with(
                    &app,
                    &s,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(app.theme.t(lang, "admin-password-wrong")),
                    None,
                )
                .await;
            }
            if let Err(e) = password::check_new(&f.new_password) {
                return show_with(
                    &app,
                    &s,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(e.to_string()),
                    None,
                )
                .await;
            }
            let hash = match password::hash(f.new_password.clone()).await {
                Ok(h) => h,
                Err(e) => return fail(e),
            };
            let r: Result<(), jarida_store::StoreError> = async {
                let mut tx = app.db.begin().await?;
                // Every session ends with the old password, this one included: sign in again.
                users::set_password(&mut tx, s.user.id, &hash).await?;
                audit::record(
                    &mut tx,
                    &s.actor(),
                    "user.password",
                    &format!("user {}", s.user.id),
                    "",
                    t,
                )
                .await?;
                tx.commit().await
            }
            .await;
            match r {
                Ok(()) => redirect("/admin/signin?reason=signed-out"),
                Err(e) => fail(e),
            }
        }
        "totp-enable" => {
            if s.user.totp
                || !app.secret.verify_hex(
                    "admin-totp-enrol",
                    &format!("{}:{}", s.user.id, f.totp_secret),
                    32,
                    &f.totp_sig,
                )
            {
                return csrf_failed(&app, &s);
            }
            let Some(step) = totp::matching_step(&f.totp_secret, &f.code, t) else {
                return show_with(
                    &app,
                    &s,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(app.theme.t(lang, "admin-code-wrong")),
                    None,
                )
                .await;
            };
            let r: Result<Vec<String>, jarida_store::StoreError> = async {
                let mut tx = app.db.begin().await?;
                let codes = totp::enable(&mut tx, s.user.id, &f.totp_secret, step).await?;
                audit::record(
                    &mut tx,
                    &s.actor(),
                    "user.totp-on",
                    &format!("user {}", s.user.id),
                    "",
                    t,
                )
                .await?;
                tx.commit().await?;
                Ok(codes)
            }
            .await;
            match r {
                Ok(codes) => {
                    let mut me = s.clone();
                    me.user.totp = true;
                    show_with(
                        &app,
                        &me,
                        StatusCode::OK,
                        Some(app.theme.t(lang, "admin-totp-on")),
                        None,
                        Some(codes),
                    )
                    .await
                }
                Err(e) => fail(e),
            }
        }
        "totp-disable" => {
            if app.cfg.admin_require_totp && s.user.role.can_publish() {
                return show_with(
                    &app,
                    &s,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(app.theme.t(lang, "admin-totp-required")),
                    None,
                )
                .await;
            }
            let r: Result<(), jarida_store::StoreError> = async {
                let mut tx = app.db.begin().await?;
                totp::disable(&mut tx, s.user.id).await?;
                audit::record(
                    &mut tx,
                    &s.actor(),
                    "user.totp-off",
                    &format!("user {}", s.user.id),
                    "",
                    t,
                )
                .await?;
                tx.commit().await
            }
            .await;
            match r {
                Ok(()) => redirect("/admin/account?done=totp"),
                Err(e) => fail(e),
            }
        }
        "token-create" => {
            let name = f.token_name.trim();
            // A token never holds more than its user: a role at or below theirs.
            let Some(role) = Role::parse(&f.token_role).filter(|r| *r >= s.user.role) else {
                return show_with(
                    &app,
                    &s,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(app.theme.t(lang, "admin-role-invalid")),
                    None,
                )
                .await;
            };
            if name.is_empty() || name.chars().count() > 100 {
                return show_with(
                    &app,
                    &s,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(app.theme.t(lang, "admin-token-name-invalid")),
                    None,
                )
                .await;
            }
            let r: Result<String, jarida_store::StoreError> = async {
                let mut tx = app.db.begin().await?;
                let (id, token) = tokens::create(&mut tx, s.user.id, name, role, t).await?;
                audit::record(
                    &mut tx,
                    &s.actor(),
                    "token.create",
                    &format!("token {id}"),
                    &format!("{name}, {role}"),
                    t,
                )
                .await?;
                tx.commit().await?;
                Ok(token)
            }
            .await;
            match r {
                Ok(token) => {
                    show_full(
                        &app,
                        &s,
                        StatusCode::OK,
                        Some(app.theme.t(lang, "admin-token-made")),
                        None,
                        None,
                        Some(token),
                    )
                    .await
                }
                Err(e) => fail(e),
            }
        }
        _ => redirect("/admin/account"),
    }
}

pub(crate) async fn revoke_token(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    let r: Result<(), jarida_store::StoreError> = async {
        let mut tx = app.db.begin().await?;
        if tokens::revoke(&mut tx, s.user.id, id).await? {
            audit::record(
                &mut tx,
                &s.actor(),
                "token.revoke",
                &format!("token {id}"),
                "",
                now(),
            )
            .await?;
        }
        tx.commit().await
    }
    .await;
    match r {
        Ok(()) => redirect("/admin/account?done=token"),
        Err(e) => fail(e),
    }
}

pub(crate) async fn end_session(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    match sessions::end_own(&app.db, s.user.id, id).await {
        Ok(_) if id == s.session_id => redirect("/admin/signin?reason=signed-out"),
        Ok(_) => redirect("/admin/account?done=session"),
        Err(e) => fail(e),
    }
}

pub(crate) async fn end_all(
    State(app): State<AppRef>,
    s: Signed,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    let r: Result<(), jarida_store::StoreError> = async {
        sessions::end_all(&app.db, s.user.id, Some(s.session_id)).await?;
        let mut tx = app.db.begin().await?;
        audit::record(
            &mut tx,
            &s.actor(),
            "session.signout-everywhere",
            &format!("user {}", s.user.id),
            "",
            now(),
        )
        .await?;
        tx.commit().await
    }
    .await;
    match r {
        Ok(()) => redirect("/admin/account?done=everywhere"),
        Err(e) => fail(e),
    }
}
