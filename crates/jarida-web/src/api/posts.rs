//! The posts API: what the admin's editor does, for scripts and other tools. The same rules as
//! the pages: authors and contributors see and edit their own drafts only, only editors and
//! owners publish, schedule, unpublish and correct; a save names the version it edits and a
//! stale one is a 409 that changes nothing. Every change is in the audit log.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use jarida_accounts::{Role, audit};
use jarida_content::editing::{self, AdminFilter, Editable};
use jarida_content::{Kind, PostInput, Source, Status};
use jarida_core::Lang;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::auth::ApiToken;
use crate::error::{ApiError, WebError};
use crate::{App, AppRef};

type ApiResult = Result<Response, ApiError>;

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[derive(serde::Deserialize, Default)]
pub(super) struct ListQuery {
    lang: Option<String>,
    kind: Option<String>,
    status: Option<String>,
    author: Option<String>,
    tag: Option<String>,
    q: Option<String>,
    page: Option<i64>,
    after: Option<String>,
}

pub(super) async fn list(
    t: ApiToken,
    State(app): State<AppRef>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let f = AdminFilter {
        lang: q.lang.as_deref().and_then(Lang::parse),
        kind: q.kind.as_deref().and_then(Kind::parse),
        status: q
            .status
            .filter(|v| ["draft", "scheduled", "published", "submitted"].contains(&v.as_str())),
        author: q.author.map(|a| jarida_content::slugify(&a)),
        tag: q.tag.map(|a| jarida_content::slugify(&a)),
        q: q.q,
        owner: (!t.role.can_edit_others()).then(|| t.user_id().unwrap_or(-1)),
    };
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let at = match q.after.as_deref().map(editing::Cursor::parse) {
        Some(Some(k)) => editing::Position::After(k),
        Some(None) => {
            return Err(WebError::invalid(
                "after",
                "is not a cursor from a previous answer's next",
            )
            .into());
        }
        None => editing::Position::Offset((page - 1) * 50),
    };
    let list = crate::admin::list_posts(&app, &f, 50, at).await?;
    let next = list
        .more
        .then(|| {
            list.stories
                .last()
                .map(|s| editing::Cursor::of(&s.post).to_string())
        })
        .flatten();
    Ok(Json(json!({
        "posts": list.stories, "total": list.total, "page": page, "per_page": 50, "next": next,
    }))
    .into_response())
}

/// Whether the caller may see (and with `edit`, change) the post.
fn may(t: &ApiToken, e: &Editable, edit: bool) -> bool {
    let own = e.owner_id.is_some() && e.owner_id == t.user_id();
    if t.role.can_edit_others() {
        return true;
    }
    own && (!edit || e.post.status == Status::Draft)
}

async fn load(app: &App, t: &ApiToken, id: i64, edit: bool) -> Result<Editable, ApiError> {
    match editing::load(&app.db, id).await? {
        Some(e) if may(t, &e, edit) => Ok(e),
        Some(_) => Err(ApiError(WebError::Forbidden)),
        None => Err(ApiError(WebError::NoSuch(format!("no post {id}")))),
    }
}

pub(super) async fn show(t: ApiToken, State(app): State<AppRef>, Path(id): Path<i64>) -> ApiResult {
    let e = load(&app, &t, id, false).await?;
    Ok(Json(json!({ "post": e.post, "version": e.version, "owner_id": e.owner_id, "submitted_at": e.submitted_at }))
        .into_response())
}

/// A post's fields as the API takes them; on an update, what is left out stays as it is.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct PostBody {
    version: Option<i64>,
    lang: Option<Lang>,
    kind: Option<Kind>,
    title: Option<String>,
    slug: Option<String>,
    summary: Option<String>,
    body: Option<String>,
    tags: Option<Vec<String>>,
    authors: Option<Vec<String>>,
    cover: Option<String>,
    cover_alt: Option<String>,
    featured: Option<bool>,
    sources: Option<Vec<Source>>,
    translation_of: Option<i64>,
    /// `save` (the default), `submit`, `publish`, `schedule` (with `publish_at`), `unpublish`.
    action: Option<String>,
    /// RFC 3339.
    publish_at: Option<String>,
}

fn body_of(bytes: &[u8]) -> Result<PostBody, WebError> {
    serde_json::from_slice(bytes)
        .map_err(|e| WebError::invalid("body", format!("not the expected JSON: {e}")))
}

impl PostBody {
    fn apply(self, base: &mut PostInput) {
        if let Some(v) = self.lang {
            base.lang = v;
        }
        if let Some(v) = self.kind {
            base.kind = v;
        }
        if let Some(v) = self.title {
            base.title = v.trim().to_string();
        }
        if let Some(v) = self.slug {
            base.slug = v.trim().to_string();
        }
        if base.slug.is_empty() {
            base.slug = jarida_content::slugify(&base.title);
        }
        if let Some(v) = self.summary {
            base.summary = v;
        }
        if let Some(v) = self.body {
            base.body_md = v;
        }
        if let Some(v) = self.tags {
            base.tags = v;
        }
        if let Some(v) = self.authors {
            base.authors = v;
        }
        if let Some(v) = self.cover {
            base.cover = Some(v).filter(|c| !c.is_empty());
        }
        if let Some(v) = self.cover_alt {
            base.cover_alt = Some(v).filter(|c| !c.is_empty());
        }
        if let Some(v) = self.featured {
            base.featured = v;
        }
        if let Some(v) = self.sources {
            base.sources = v;
        }
    }
}

/// Applies the action to the status, refusing what the role may not do.
fn act(
    t: &ApiToken,
    action: &str,
    publish_at: Option<&str>,
    input: &mut PostInput,
) -> Result<&'static str, WebError> {
    let now = OffsetDateTime::now_utc();
    let publishing = matches!(action, "publish" | "schedule" | "unpublish");
    if publishing && !t.role.can_publish() {
        return Err(WebError::Forbidden);
    }
    Ok(match action {
        "" | "save" => "post.save",
        "submit" => "post.submit",
        "publish" => {
            input.status = Status::Published;
            if input.published_at.is_none_or(|p| p > now) {
                input.published_at = Some(now);
            }
            "post.publish"
        }
        "schedule" => {
            let at = publish_at
                .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
                .filter(|t| *t > now)
                .ok_or_else(|| {
                    WebError::invalid("publish_at", "give a time in the future (RFC 3339)")
                })?;
            input.status = Status::Scheduled;
            input.published_at = Some(at);
            "post.schedule"
        }
        "unpublish" => {
            input.status = Status::Draft;
            "post.unpublish"
        }
        other => {
            return Err(WebError::invalid(
                "action",
                format!("{other:?} is not one of save, submit, publish, schedule, unpublish"),
            ));
        }
    })
}

async fn refresh(app: &App) {
    if let Err(e) = crate::refresh(app).await {
        tracing::warn!(error = %e, "page cache refresh after an edit failed");
    }
}

pub(super) async fn create(
    t: ApiToken,
    State(app): State<AppRef>,
    body: axum::body::Bytes,
) -> ApiResult {
    let b = body_of(&body)?;
    if b.title.as_deref().is_none_or(|s| s.trim().is_empty()) {
        return Err(WebError::invalid("title", "give the post a title").into());
    }
    let action = b.action.clone().unwrap_or_default();
    let publish_at = b.publish_at.clone();
    let translation_of = b.translation_of;
    let mut input = PostInput {
        lang: b.lang.unwrap_or(app.cfg.default_lang),
        slug: String::new(),
        translation_key: None,
        kind: Kind::Report,
        title: String::new(),
        summary: String::new(),
        body_md: String::new(),
        authors: t
            .user
            .as_ref()
            .map(|u| vec![u.name.clone()])
            .unwrap_or_default(),
        tags: Vec::new(),
        cover: None,
        cover_alt: None,
        featured: false,
        status: Status::Draft,
        published_at: None,
        updated_at: None,
        sources: Vec::new(),
        corrections: Vec::new(),
    };
    b.apply(&mut input);
    let what = act(&t, &action, publish_at.as_deref(), &mut input)?;
    let mut tx = app.db.begin().await.map_err(WebError::internal)?;
    if let Some(from) = translation_of {
        input.translation_key = Some(editing::translation_key(&mut tx, from).await?);
    }
    let id = editing::create(&mut tx, &input, &t.editor(), OffsetDateTime::now_utc()).await?;
    if action == "submit" {
        editing::set_submitted(&mut tx, id, Some(now())).await?;
    }
    audit::record(
        &mut tx,
        &t.actor,
        "post.create",
        &format!("post {id}"),
        &input.title,
        now(),
    )
    .await
    .map_err(WebError::internal)?;
    if what != "post.save" {
        audit::record(&mut tx, &t.actor, what, &format!("post {id}"), "", now())
            .await
            .map_err(WebError::internal)?;
    }
    tx.commit().await.map_err(WebError::internal)?;
    refresh(&app).await;
    let mut r = Json(json!({ "id": id, "version": 1 })).into_response();
    *r.status_mut() = axum::http::StatusCode::CREATED;
    Ok(r)
}

pub(super) async fn update(
    t: ApiToken,
    State(app): State<AppRef>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult {
    let b = body_of(&body)?;
    let e = load(&app, &t, id, true).await?;
    let Some(version) = b.version else {
        return Err(
            WebError::invalid("version", "send the version you are editing (from GET)").into(),
        );
    };
    let action = b.action.clone().unwrap_or_default();
    let publish_at = b.publish_at.clone();
    let mut input = editing::input_of(&e.post);
    b.apply(&mut input);
    let what = act(&t, &action, publish_at.as_deref(), &mut input)?;
    let mut tx = app.db.begin().await.map_err(WebError::internal)?;
    let v = editing::update(
        &mut tx,
        id,
        version,
        &input,
        &t.editor(),
        OffsetDateTime::now_utc(),
    )
    .await?;
    match action.as_str() {
        "submit" => editing::set_submitted(&mut tx, id, Some(now())).await?,
        "publish" | "schedule" => editing::set_submitted(&mut tx, id, None).await?,
        _ => {}
    }
    audit::record(
        &mut tx,
        &t.actor,
        what,
        &format!("post {id}"),
        &format!("version {v}"),
        now(),
    )
    .await
    .map_err(WebError::internal)?;
    tx.commit().await.map_err(WebError::internal)?;
    refresh(&app).await;
    Ok(Json(json!({ "id": id, "version": v })).into_response())
}

#[derive(serde::Deserialize)]
pub(super) struct CorrectionBody {
    note: String,
}

pub(super) async fn correct(
    t: ApiToken,
    State(app): State<AppRef>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult {
    t.require(Role::can_publish)?;
    let b: CorrectionBody = serde_json::from_slice(&body)
        .map_err(|e| WebError::invalid("body", format!("not the expected JSON: {e}")))?;
    let mut tx = app.db.begin().await.map_err(WebError::internal)?;
    editing::add_correction(&mut tx, id, &b.note, OffsetDateTime::now_utc()).await?;
    audit::record(
        &mut tx,
        &t.actor,
        "post.correct",
        &format!("post {id}"),
        b.note.trim(),
        now(),
    )
    .await
    .map_err(WebError::internal)?;
    tx.commit().await.map_err(WebError::internal)?;
    refresh(&app).await;
    let mut r = Json(json!({ "id": id })).into_response();
    *r.status_mut() = axum::http::StatusCode::CREATED;
    Ok(r)
}

pub(super) async fn revisions(
    t: ApiToken,
    State(app): State<AppRef>,
    Path(id): Path<i64>,
) -> ApiResult {
    load(&app, &t, id, false).await?;
    let revs = editing::revisions(&app.db, id).await?;
    Ok(Json(json!({ "revisions": revs })).into_response())
}

#[derive(serde::Deserialize)]
pub(super) struct PreviewBody {
    body: String,
}

pub(super) async fn preview(_: ApiToken, body: axum::body::Bytes) -> ApiResult {
    let b: PreviewBody = serde_json::from_slice(&body)
        .map_err(|e| WebError::invalid("body", format!("not the expected JSON: {e}")))?;
    let r = tokio::task::spawn_blocking(move || editing::preview(&b.body))
        .await
        .map_err(WebError::internal)?;
    Ok(Json(json!({ "html": r.html, "text": r.text })).into_response())
}

pub(super) async fn media(_: ApiToken, State(app): State<AppRef>) -> ApiResult {
    let items = jarida_content::library::list(&app.db, None, 500).await?;
    let v: Vec<_> = items
        .iter()
        .map(|i| json!({ "url": i.url(), "item": i }))
        .collect();
    Ok(Json(json!({ "media": v })).into_response())
}

pub(super) async fn audit_log(
    t: ApiToken,
    State(app): State<AppRef>,
    Query(q): Query<AuditQuery>,
) -> ApiResult {
    t.require(Role::can_manage_users)?;
    let (entries, more) = audit::page(&app.db, q.before, 100)
        .await
        .map_err(WebError::internal)?;
    Ok(Json(json!({ "entries": entries, "more": more })).into_response())
}

#[derive(serde::Deserialize, Default)]
pub(super) struct AuditQuery {
    before: Option<i64>,
}

pub(super) async fn users(t: ApiToken, State(app): State<AppRef>) -> ApiResult {
    t.require(Role::can_manage_users)?;
    let all = jarida_accounts::users::list(&app.db)
        .await
        .map_err(WebError::internal)?;
    Ok(Json(json!({ "users": all })).into_response())
}
