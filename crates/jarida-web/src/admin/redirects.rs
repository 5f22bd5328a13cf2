//! Old addresses (`/admin/redirects`), for editors: those an import from another platform left
//! and any added by hand, each answered by the site with a permanent redirect to a page of this
//! site. Adding and removing are audited.

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jarida_accounts::audit;
use jarida_content::redirects;
use minijinja::Value;

use super::auth::{csrf_failed, forbidden};
use super::{Signed, fail, frame, now, page, redirect};
use crate::{App, AppRef};

/// Rows shown at once; a search narrows them.
const SHOWN: usize = 200;

#[derive(serde::Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    done: Option<String>,
}

async fn list_page(
    app: &App,
    s: &Signed,
    status: StatusCode,
    q: &str,
    typed: (&str, &str),
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let (rows, total) = match redirects::search(&app.db, q, SHOWN).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let lang = s.lang();
    let mut ctx = frame(
        app,
        lang,
        Some(s),
        app.theme.t(lang, "admin-redirects-title"),
        "redirects",
    );
    ctx.insert("rows", crate::ser(&rows));
    ctx.insert("total", Value::from(total));
    ctx.insert("more", Value::from(total > rows.len() as u64));
    ctx.insert("q", Value::from(q));
    ctx.insert("old", Value::from(typed.0));
    ctx.insert("to", Value::from(typed.1));
    if let Some(n) = notice {
        ctx.insert("notice", Value::from(n));
    }
    if let Some(e) = error {
        ctx.insert("error", Value::from(e));
    }
    page(app, status, "redirects.html", ctx)
}

pub(crate) async fn list(
    State(app): State<AppRef>,
    s: Signed,
    Query(q): Query<ListQuery>,
) -> Response {
    if !s.user.role.can_publish() {
        return forbidden(&app, &s);
    }
    let notice = q.done.map(|_| app.theme.t(s.lang(), "admin-saved"));
    list_page(&app, &s, StatusCode::OK, &q.q, ("", ""), notice, None).await
}

#[derive(serde::Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    old: String,
    #[serde(default)]
    to: String,
}

pub(crate) async fn add(State(app): State<AppRef>, s: Signed, Form(f): Form<AddForm>) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    if !s.user.role.can_publish() {
        return forbidden(&app, &s);
    }
    let lang = s.lang();
    let (old, to) = (f.old.trim(), f.to.trim());
    // A whole address pasted from the old site is taken for its path.
    let old_path = old
        .split_once("://")
        .map(|(_, rest)| &rest[rest.find('/').unwrap_or(rest.len())..])
        .unwrap_or(old);
    let (path, query) = match old_path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (old_path, None),
    };
    let refuse = |reason: String| async {
        list_page(
            &app,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
            (old, to),
            None,
            Some(reason),
        )
        .await
    };
    let Some(key) = redirects::key(path, query) else {
        return refuse(app.theme.t(lang, "admin-redirects-bad-old")).await;
    };
    if key == "/" {
        return refuse(app.theme.t(lang, "admin-redirects-bad-old")).await;
    }
    if let Err(reason) = redirects::check_target(to) {
        return refuse(format!(
            "{}: {reason}",
            app.theme.t(lang, "admin-redirects-to")
        ))
        .await;
    }
    let r: Result<(), jarida_content::ContentError> = async {
        let mut tx = app.db.begin().await?;
        redirects::put(
            tx.conn(),
            &key,
            to,
            "editor",
            time::OffsetDateTime::now_utc(),
        )
        .await?;
        audit::record(&mut tx, &s.actor(), "redirect.add", &key, to, now()).await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    match r {
        Ok(()) => redirect("/admin/redirects?done=added"),
        Err(e) => fail(e),
    }
}

#[derive(serde::Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    old: String,
}

pub(crate) async fn remove(
    State(app): State<AppRef>,
    s: Signed,
    Form(f): Form<RemoveForm>,
) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    if !s.user.role.can_publish() {
        return forbidden(&app, &s);
    }
    let r: Result<bool, jarida_content::ContentError> = async {
        let mut tx = app.db.begin().await?;
        let gone = redirects::remove_in(tx.conn(), &f.old).await?;
        if gone {
            audit::record(&mut tx, &s.actor(), "redirect.remove", &f.old, "", now()).await?;
        }
        tx.commit().await?;
        Ok(gone)
    }
    .await;
    match r {
        Ok(_) => redirect("/admin/redirects?done=removed"),
        Err(e) => fail(e),
    }
}
