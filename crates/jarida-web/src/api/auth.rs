//! The administrative API's bearer token as an extractor. Placed before any body extractor in a
//! handler's arguments, it refuses a request before a byte of its body is read: only the token's
//! holder may make us read (and buffer) a body.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use sha2::{Digest, Sha256};

use crate::{App, AppRef};

/// Proof that the request carried `Authorization: Bearer <api.token>`.
pub struct ApiToken;

impl FromRequestParts<AppRef> for ApiToken {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppRef) -> Result<Self, Self::Rejection> {
        if bearer_ok(app, &parts.headers) {
            Ok(ApiToken)
        } else {
            Err(crate::error::WebError::Unauthorized.json())
        }
    }
}

fn bearer_ok(app: &App, headers: &HeaderMap) -> bool {
    let Some(expected) = &app.cfg.api_token else {
        return false;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Hashing first makes the comparison's time independent of the lengths too.
    crate::setup::constant_eq(
        &Sha256::digest(given.as_bytes()),
        &Sha256::digest(expected.as_bytes()),
    )
}
