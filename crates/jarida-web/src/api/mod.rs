//! The administrative JSON API, for holders of the API token (and the coming admin UI): the token
//! extractor, the editions (compose, edit, approve, send…) and the subscriber import. Every
//! handler answers errors through [`crate::error::WebError`] as JSON. The public sign-up
//! (`POST /api/v1/subscribers`) is a form like the others and lives in `subscribe`.

pub(crate) mod auth;
mod editions;
mod import;

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
}
