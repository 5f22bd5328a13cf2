//! The editions JSON API for holders of the API token (and the coming admin UI): list, compose,
//! show with live figures, edit per language, and approve / schedule / send / pause / resume /
//! cancel. Refused edits change nothing and say why (422, 409).

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use jarida_newsletter::editions;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::api_auth::ApiToken;
use crate::editions::PUBLIC;
use crate::{App, AppRef};

/// Routes for holders of the API token.
pub fn api_routes() -> Router<AppRef> {
    Router::new()
        .route("/api/v1/editions", get(api_list).post(api_compose))
        .route("/api/v1/editions/{id}", get(api_get))
        .route("/api/v1/editions/{id}/languages/{lang}", patch(api_edit))
        .route("/api/v1/editions/{id}/{action}", post(api_action))
}

fn problem(e: jarida_newsletter::NewsletterError) -> Response {
    use jarida_newsletter::NewsletterError as E;
    let (status, kind) = match &e {
        E::NoEdition(_) | E::NoNewsletter(_) => (StatusCode::NOT_FOUND, "not_found"),
        E::State { .. } => (StatusCode::CONFLICT, "state"),
        E::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        _ => {
            tracing::error!(error = %e, "editions API");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    };
    let reason = if status == StatusCode::INTERNAL_SERVER_ERROR {
        "internal error".to_string()
    } else {
        e.to_string()
    };
    (status, Json(json!({ "error": kind, "reason": reason }))).into_response()
}

fn bad(field: &str, reason: String) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({ "error": "invalid", "field": field, "reason": reason })),
    )
        .into_response()
}

async fn detail(
    app: &App,
    id: i64,
) -> Result<serde_json::Value, jarida_newsletter::NewsletterError> {
    let e = editions::get(&app.db, id).await?;
    let parts = editions::parts(&app.db, &e).await?;
    let figures = jarida_newsletter::deliver::figures(&app.db, id).await?;
    Ok(json!({ "edition": e, "languages": parts, "figures": figures }))
}

/// A JSON body that may be left out entirely.
fn optional_json<T: serde::de::DeserializeOwned + Default>(
    body: &[u8],
) -> Result<T, Box<Response>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| Box::new(bad("body", format!("not the expected JSON: {e}"))))
}

#[derive(serde::Deserialize)]
struct ListQuery {
    status: Option<String>,
}

async fn api_list(_: ApiToken, State(app): State<AppRef>, Query(q): Query<ListQuery>) -> Response {
    if let Some(s) = &q.status
        && !editions::STATUSES.contains(&s.as_str())
    {
        return bad(
            "status",
            format!("{s:?} is not one of {}", editions::STATUSES.join(", ")),
        );
    }
    match editions::list(&app.db, q.status.as_deref()).await {
        Ok(v) => Json(json!({ "editions": v })).into_response(),
        Err(e) => problem(e),
    }
}

#[derive(serde::Deserialize, Default)]
struct ComposeBody {
    newsletter: Option<String>,
    /// RFC 3339; default now.
    until: Option<String>,
}

async fn api_compose(_: ApiToken, State(app): State<AppRef>, body: axum::body::Bytes) -> Response {
    let b: ComposeBody = match optional_json(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let slug = b.newsletter.unwrap_or_else(|| PUBLIC.to_string());
    let Some(nl) = app.cfg.newsletters.iter().find(|n| n.slug == slug) else {
        return bad("newsletter", format!("no newsletter {slug:?}"));
    };
    let now = OffsetDateTime::now_utc();
    let until = match b
        .until
        .as_deref()
        .map(|u| OffsetDateTime::parse(u, &Rfc3339))
    {
        None => now,
        Some(Ok(t)) => t,
        Some(Err(_)) => return bad("until", "not an RFC 3339 time".into()),
    };
    // A period reaching into the future would leave out posts published before its end.
    if until > now {
        return bad("until", "must not be in the future".into());
    }
    match editions::compose(&app.db, nl, until, None, now).await {
        Ok(Some(id)) => match detail(&app, id).await {
            Ok(v) => (StatusCode::CREATED, Json(v)).into_response(),
            Err(e) => problem(e),
        },
        Ok(None) => bad("until", "nothing composed".into()),
        Err(e) => problem(e),
    }
}

async fn api_get(_: ApiToken, State(app): State<AppRef>, Path(id): Path<i64>) -> Response {
    match detail(&app, id).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => problem(e),
    }
}

async fn api_edit(
    _: ApiToken,
    State(app): State<AppRef>,
    Path((id, lang)): Path<(i64, String)>,
    body: Result<Json<editions::Edit>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(ed) = match body {
        Ok(b) => b,
        Err(e) => return bad("body", e.body_text()),
    };
    match editions::edit(&app.db, id, &lang, &ed, OffsetDateTime::now_utc()).await {
        Ok(()) => match detail(&app, id).await {
            Ok(v) => Json(v).into_response(),
            Err(e) => problem(e),
        },
        Err(e) => problem(e),
    }
}

#[derive(serde::Deserialize, Default)]
struct ActionBody {
    /// For `schedule`: RFC 3339.
    at: Option<String>,
}

async fn api_action(
    _: ApiToken,
    State(app): State<AppRef>,
    Path((id, action)): Path<(i64, String)>,
    body: axum::body::Bytes,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let b: ActionBody = match optional_json(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let r = match action.as_str() {
        "approve" => editions::approve(&app.db, id, now).await,
        "schedule" => {
            let Some(Ok(at)) = b.at.as_deref().map(|a| OffsetDateTime::parse(a, &Rfc3339)) else {
                return bad("at", "an RFC 3339 time is required".into());
            };
            editions::schedule(&app.db, id, at, now).await
        }
        // Sent by the delivery workers at their next look (a few seconds).
        "send" => editions::schedule(&app.db, id, now, now).await,
        "pause" => editions::pause(&app.db, id, now).await,
        "resume" => editions::resume(&app.db, id, now).await,
        "cancel" => editions::cancel(&app.db, id, now).await,
        _ => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": "not_found", "reason": "actions: approve, schedule, send, pause, resume, cancel" })),
            )
                .into_response();
        }
    };
    match r {
        Ok(()) => match detail(&app, id).await {
            Ok(v) => Json(v).into_response(),
            Err(e) => problem(e),
        },
        Err(e) => problem(e),
    }
}
