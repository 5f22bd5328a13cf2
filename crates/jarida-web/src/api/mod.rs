//! The administrative JSON API, for holders of an API token: the token extractor, posts (what the
//! admin's editor does), the media library, people and the audit log, the editions (compose, edit,
//! approve, send…) and the subscriber import; described at `/api/openapi.json`. Every
//! handler answers errors through [`crate::error::WebError`] as JSON. The public sign-up
//! (`POST /api/v1/subscribers`) is a form like the others and lives in `subscribe`.

pub(crate) mod auth;
mod editions;
mod import;
mod posts;

use axum::Router;
use axum::routing::{get, patch, post};

use crate::AppRef;

/// Routes for holders of the API token. The import reads bodies up to 200 MB, after the token is
/// checked.
pub fn routes() -> Router<AppRef> {
    Router::new()
        .route(
            "/api/v1/editions",
            get(editions::list).post(editions::compose),
        )
        .route("/api/v1/editions/{id}", get(editions::show))
        .route(
            "/api/v1/editions/{id}/languages/{lang}",
            patch(editions::edit),
        )
        .route("/api/v1/editions/{id}/{action}", post(editions::action))
        .route("/api/v1/subscribers/import", post(import::import_api))
        .route("/api/v1/posts", get(posts::list).post(posts::create))
        .route("/api/v1/posts/{id}", get(posts::show).put(posts::update))
        .route("/api/v1/posts/{id}/corrections", post(posts::correct))
        .route("/api/v1/posts/{id}/revisions", get(posts::revisions))
        .route("/api/v1/preview", post(posts::preview))
        .route("/api/v1/media", get(posts::media))
        .route("/api/v1/users", get(posts::users))
        .route("/api/v1/audit", get(posts::audit_log))
        .route("/api/openapi.json", get(openapi))
}

/// The API described (OpenAPI 3.1), written by hand beside the routes; a test calls every path
/// it names and fails if one is not routed.
const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}
