//! The editions API: list, compose,
//! show with live figures, edit per language, and approve / schedule / send / pause / resume /
//! cancel. Refused edits change nothing and say why (422, 409).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jarida_core::EditionId;
use jarida_newsletter::editions;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::auth::ReadersToken;
use crate::editions::PUBLIC;
use crate::error::{ApiError, WebError};
use crate::{App, AppRef};

type ApiResult = Result<Response, ApiError>;

async fn detail(
    app: &App,
    id: EditionId,
) -> Result<serde_json::Value, jarida_newsletter::NewsletterError> {
    let e = editions::get(&app.db, id).await?;
    let parts = editions::parts(&app.db, &e).await?;
    let figures = jarida_newsletter::deliver::figures(&app.db, id).await?;
    Ok(json!({ "edition": e, "languages": parts, "figures": figures }))
}

/// A JSON body that may be left out entirely.
fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, WebError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| WebError::invalid("body", format!("not the expected JSON: {e}")))
}

#[derive(serde::Deserialize)]
pub(super) struct ListQuery {
    status: Option<String>,
}

pub(super) async fn list(
    _: ReadersToken,
    State(app): State<AppRef>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(
            s.parse::<editions::EditionStatus>()
                .map_err(|why| WebError::invalid("status", why))?,
        ),
    };
    let v = editions::list(&app.db, status).await?;
    Ok(Json(json!({ "editions": v })).into_response())
}

#[derive(serde::Deserialize, Default)]
pub(super) struct ComposeBody {
    newsletter: Option<String>,
    /// RFC 3339; default now.
    until: Option<String>,
}

pub(super) async fn compose(
    _: ReadersToken,
    State(app): State<AppRef>,
    body: axum::body::Bytes,
) -> ApiResult {
    let b: ComposeBody = optional_json(&body)?;
    let slug = b.newsletter.unwrap_or_else(|| PUBLIC.to_string());
    let settings = app.settings();
    let Some(nl) = settings.newsletters.iter().find(|n| n.slug == slug) else {
        return Err(WebError::invalid("newsletter", format!("no newsletter {slug:?}")).into());
    };
    let now = OffsetDateTime::now_utc();
    let until = match b
        .until
        .as_deref()
        .map(|u| OffsetDateTime::parse(u, &Rfc3339))
    {
        None => now,
        Some(Ok(t)) => t,
        Some(Err(_)) => return Err(WebError::invalid("until", "not an RFC 3339 time").into()),
    };
    // A period reaching into the future would leave out posts published before its end.
    if until > now {
        return Err(WebError::invalid("until", "must not be in the future").into());
    }
    match editions::compose(&app.db, nl, &app.theme.i18n, until, None, now).await? {
        Some(id) => Ok((StatusCode::CREATED, Json(detail(&app, id).await?)).into_response()),
        None => Err(WebError::invalid("until", "nothing composed").into()),
    }
}

pub(super) async fn show(
    _: ReadersToken,
    State(app): State<AppRef>,
    Path(id): Path<EditionId>,
) -> ApiResult {
    Ok(Json(detail(&app, id).await?).into_response())
}

pub(super) async fn edit(
    _: ReadersToken,
    State(app): State<AppRef>,
    Path((id, lang)): Path<(EditionId, String)>,
    body: Result<Json<editions::Edit>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let Json(ed) = body.map_err(|e| WebError::invalid("body", e.body_text()))?;
    editions::edit(&app.db, id, &lang, &ed, OffsetDateTime::now_utc()).await?;
    Ok(Json(detail(&app, id).await?).into_response())
}

#[derive(serde::Deserialize, Default)]
pub(super) struct ActionBody {
    /// For `schedule`: RFC 3339.
    at: Option<String>,
    /// For `segment`: the segment's id, or null for every reader.
    segment: Option<jarida_core::SegmentId>,
}

pub(super) async fn action(
    _: ReadersToken,
    State(app): State<AppRef>,
    Path((id, action)): Path<(EditionId, String)>,
    body: axum::body::Bytes,
) -> ApiResult {
    let now = OffsetDateTime::now_utc();
    let b: ActionBody = optional_json(&body)?;
    match action.as_str() {
        "approve" => editions::approve(&app.db, id, now).await?,
        "schedule" => {
            let Some(Ok(at)) = b.at.as_deref().map(|a| OffsetDateTime::parse(a, &Rfc3339)) else {
                return Err(WebError::invalid("at", "an RFC 3339 time is required").into());
            };
            editions::schedule(&app.db, id, at, now).await?
        }
        // Sent by the delivery workers at their next look (a few seconds).
        "send" => editions::schedule(&app.db, id, now, now).await?,
        "pause" => editions::pause(&app.db, id, now).await?,
        "resume" => editions::resume(&app.db, id, now).await?,
        "cancel" => editions::cancel(&app.db, id, now).await?,
        "segment" => editions::set_segment(&app.db, id, b.segment, now).await?,
        _ => {
            return Err(WebError::NoSuch(
                "actions: approve, schedule, send, pause, resume, cancel, segment".into(),
            )
            .into());
        }
    }
    Ok(Json(detail(&app, id).await?).into_response())
}
