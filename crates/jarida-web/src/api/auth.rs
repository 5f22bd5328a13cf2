//! Who calls the administrative API: a per-user API token (`Authorization: Bearer jrd_…`, made on
//! one's account page, acting with the lower of its role and its user's), or the deprecated
//! single `api.token` of the configuration, which acts as an owner. Placed before any body
//! extractor in a handler's arguments, it refuses a request before a byte of its body is read:
//! only a token's holder may make us read (and buffer) a body.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use jarida_accounts::{Role, User, audit, tokens};
use sha2::{Digest, Sha256};

use crate::{App, AppRef};

/// A caller the API accepted, with the role it acts with.
#[derive(Debug, Clone)]
pub struct ApiToken {
    pub role: Role,
    /// Who the audit log names.
    pub actor: audit::Actor,
    /// The user the token belongs to (`None` for the configuration's `api.token`).
    pub user: Option<User>,
}

impl ApiToken {
    pub fn user_id(&self) -> Option<i64> {
        self.user.as_ref().map(|u| u.id)
    }

    /// 403 unless the role may do what `may` asks.
    pub fn require(&self, may: fn(Role) -> bool) -> Result<(), crate::error::ApiError> {
        if may(self.role) {
            Ok(())
        } else {
            Err(crate::error::ApiError(crate::error::WebError::Forbidden))
        }
    }

    pub fn editor(&self) -> jarida_content::editing::Editor {
        jarida_content::editing::Editor {
            user_id: self.user_id(),
            label: self
                .user
                .as_ref()
                .map(|u| u.name.clone())
                .unwrap_or_else(|| "api.token".into()),
            autosave: false,
        }
    }
}

/// A caller allowed to reach readers and editions (editors and owners).
pub struct ReadersToken;

fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
}

fn peer_ip(app: &App, parts: &Parts) -> String {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    crate::subscribe::signup::client_ip(app, peer, &parts.headers)
}

static WARNED: AtomicBool = AtomicBool::new(false);

impl FromRequestParts<AppRef> for ApiToken {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppRef) -> Result<Self, Self::Rejection> {
        let given = bearer(&parts.headers);
        let ip = peer_ip(app, parts);
        if legacy_ok(app, given) {
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "api.token is deprecated: make a per-user API token on the admin's account page"
                );
            }
            return Ok(ApiToken {
                role: Role::Owner,
                actor: audit::Actor {
                    user_id: None,
                    label: "api.token".into(),
                    ip,
                },
                user: None,
            });
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match tokens::find(&app.db, given, now).await {
            Ok(Some(b)) => Ok(ApiToken {
                role: b.role,
                actor: audit::Actor {
                    user_id: Some(b.user.id),
                    label: format!("{} <{}> (token {})", b.user.name, b.user.email, b.name),
                    ip,
                },
                user: Some(b.user),
            }),
            Ok(None) => Err(crate::error::WebError::Unauthorized.json()),
            Err(e) => Err(crate::error::WebError::internal(e).json()),
        }
    }
}

impl FromRequestParts<AppRef> for ReadersToken {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppRef) -> Result<Self, Self::Rejection> {
        let t = ApiToken::from_request_parts(parts, app).await?;
        if t.role.can_see_readers() {
            Ok(ReadersToken)
        } else {
            Err(crate::error::WebError::Forbidden.json())
        }
    }
}

fn legacy_ok(app: &App, given: &str) -> bool {
    let Some(expected) = &app.cfg.api_token else {
        return false;
    };
    // Hashing first makes the comparison's time independent of the lengths too.
    crate::setup::constant_eq(
        &Sha256::digest(given.as_bytes()),
        &Sha256::digest(expected.as_bytes()),
    )
}
