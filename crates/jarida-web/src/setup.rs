//! The one-time owner setup: on first start the binary prints a link holding a random token; the form
//! behind it creates the owner account, after which the token is gone. Owns the `users` table until the
//! admin side gets a crate of its own.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use jarida_store::{Db, q_exec, q_opt};
use minijinja::Value;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{App, AppRef};

const TOKEN_KEY: &str = "setup_token_sha256";

pub fn routes() -> Router<AppRef> {
    Router::new().route("/setup/{token}", get(show).post(submit))
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub use jarida_accounts::users::has_owner;

/// How long a setup link works. It is printed at start, so it ends up in the service's log; each
/// start replaces it, creating the owner burns it, and an unused one expires.
pub const SETUP_LINK_SECS: i64 = 24 * 3600;

/// A fresh setup token when no owner exists (each start replaces the previous one, and it expires
/// after [`SETUP_LINK_SECS`]), else `None`.
pub async fn issue_token(db: &Db) -> Result<Option<String>, jarida_store::StoreError> {
    if has_owner(db).await? {
        return Ok(None);
    }
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let token = hex::encode(raw);
    let mut tx = db.begin().await?;
    // An upsert, not delete-then-insert: two processes starting together must not collide.
    q_exec!(
        tx.conn(),
        "INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        TOKEN_KEY,
        format!(
            "{}:{}",
            token_hash(&token),
            time::OffsetDateTime::now_utc().unix_timestamp() + SETUP_LINK_SECS
        )
    )?;
    tx.commit().await?;
    Ok(Some(token))
}

async fn token_valid(db: &Db, token: &str) -> Result<bool, jarida_store::StoreError> {
    if token.len() != 64 {
        return Ok(false);
    }
    let mut c = db.acquire().await?;
    let row: Option<(String,)> = q_opt!(
        c.conn(),
        (String,),
        "SELECT value FROM kv WHERE key = $1",
        TOKEN_KEY
    )?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Ok(row.is_some_and(|(v,)| {
        let (h, expires) = v.split_once(':').unwrap_or((&v, "0"));
        constant_eq(h.as_bytes(), token_hash(token).as_bytes())
            && expires.parse::<i64>().is_ok_and(|e| e > now)
    }))
}

/// Secret comparison whose time does not depend on where the inputs differ.
pub(crate) fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

/// The form's CSRF token: bound to the setup token by our secret, so only a page we served can post.
fn csrf(app: &App, token: &str) -> String {
    app.secret.sign_hex("setup-form", token, 32)
}

#[derive(serde::Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

fn page(app: &App, status: StatusCode, ctx: BTreeMap<&'static str, Value>) -> Response {
    let mut ctx = ctx;
    ctx.insert(
        "site_name",
        Value::from(app.settings().name(app.cfg.default_lang)),
    );
    ctx.insert("css", Value::from(app.theme.css_url.clone()));
    match app.theme.render("setup.html", Value::from(ctx)) {
        Ok(body) => {
            let mut r = (status, body).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "setup template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The page for a setup link that is not (or no longer) valid, or `Ok` to go on.
async fn require_token(app: &App, token: &str) -> Result<(), Response> {
    match token_valid(&app.db, token).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(gone(app)),
        Err(e) => {
            tracing::error!(error = %e, "setup token check failed");
            Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

fn gone(app: &App) -> Response {
    crate::public::error_page(app, app.cfg.default_lang, StatusCode::NOT_FOUND)
}

async fn show(State(app): State<AppRef>, Path(token): Path<String>) -> Response {
    if let Err(r) = require_token(&app, &token).await {
        return r;
    }
    let mut ctx = BTreeMap::new();
    ctx.insert("csrf", Value::from(csrf(&app, &token)));
    ctx.insert("action", Value::from(format!("/setup/{token}")));
    page(&app, StatusCode::OK, ctx)
}

async fn submit(
    State(app): State<AppRef>,
    Path(token): Path<String>,
    Form(f): Form<SetupForm>,
) -> Response {
    if let Err(r) = require_token(&app, &token).await {
        return r;
    }
    if !constant_eq(f.csrf.as_bytes(), csrf(&app, &token).as_bytes()) {
        return (
            StatusCode::FORBIDDEN,
            "The form expired or did not come from this site. Reload the setup page.",
        )
            .into_response();
    }
    let name = f.name.trim().to_string();
    let email = f.email.trim().to_lowercase();
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push("Name: give a name of 1 to 200 characters.".to_string());
    }
    let valid_email = email.len() <= 254
        && email.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if !valid_email {
        errors.push("Email: give an address such as editor@example.org.".to_string());
    }
    let plen = f.password.chars().count();
    if !(12..=1024).contains(&plen) {
        errors.push("Password: use at least 12 characters.".to_string());
    }
    let mut ctx = BTreeMap::new();
    ctx.insert("name", Value::from(name.clone()));
    ctx.insert("email", Value::from(email.clone()));
    if !errors.is_empty() {
        ctx.insert("errors", crate::ser(&errors));
        ctx.insert("csrf", Value::from(csrf(&app, &token)));
        ctx.insert("action", Value::from(format!("/setup/{token}")));
        return page(&app, StatusCode::UNPROCESSABLE_ENTITY, ctx);
    }
    let password = f.password;
    let hash = match jarida_accounts::password::hash(password).await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "hashing the owner's password failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    match create_owner(&app.db, &name, &email, &hash).await {
        Ok(true) => {
            tracing::info!(email, "owner account created");
            ctx.insert("done", Value::from(true));
            page(&app, StatusCode::OK, ctx)
        }
        Ok(false) => gone(&app),
        Err(e) => {
            tracing::error!(error = %e, "creating the owner failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Creates the owner and burns the token in one transaction; false if another request won the race.
async fn create_owner(
    db: &Db,
    name: &str,
    email: &str,
    hash: &str,
) -> Result<bool, jarida_store::StoreError> {
    let mut tx = db.begin().await?;
    let burned = q_exec!(tx.conn(), "DELETE FROM kv WHERE key = $1", TOKEN_KEY)?;
    if burned == 0 {
        return Ok(false);
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if !jarida_accounts::users::create_first_owner(&mut tx, name, email, hash, now).await? {
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}
