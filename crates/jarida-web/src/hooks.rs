//! Relays' webhooks for returned mail and complaints (`POST /hooks/bounces/<relay>/<secret>`): the
//! request is checked by [`jarida_newsletter::bounces::hooks`] and each event acted on by
//! [`jarida_newsletter::bounces::ingest_relayed`]. A relay retries what is not answered with a
//! success, so a database that is down gets a 503, and a request that fails its check a 401 with
//! nothing read or changed.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jarida_newsletter::bounces::hooks::{self, HookError};
use jarida_newsletter::bounces::sns;
use jarida_newsletter::bounces::{Outcome, alert_owners, ingest_relayed};

use crate::AppRef;

/// The largest body taken: SendGrid batches events, a few hundred KB at most.
const MAX_BODY: usize = 4 * 1024 * 1024;

pub(crate) fn routes(timeout: std::time::Duration) -> Router<AppRef> {
    Router::new()
        .route("/hooks/bounces/{relay}/{secret}", post(take))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
}

/// Whether two secrets are equal, comparing every byte (the path is a credential).
fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

async fn take(
    State(app): State<AppRef>,
    Path((relay, secret)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(hook) = app
        .cfg
        .hooks
        .iter()
        .find(|h| h.provider.slug() == relay && same(&h.path, &secret))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let now = time::OffsetDateTime::now_utc();
    let checked = if hook.provider == hooks::Provider::Ses {
        match sns(&app, hook, &body, now.unix_timestamp()).await {
            Ok(Some(c)) => c,
            Ok(None) => return StatusCode::NO_CONTENT.into_response(),
            Err(r) => return r,
        }
    } else {
        match hooks::read(hook, &header, &body, now.unix_timestamp()) {
            Ok(r) => r,
            Err(e) => return refused(&relay, e),
        }
    };
    // A signature whose body it does not cover is taken once: its row lasts a day past its signed
    // time (housekeeping), and older signatures are refused by their time.
    let nonce_key = checked
        .nonce
        .as_ref()
        .map(|(nonce, at)| (format!("hook:{relay}:{nonce}"), *at));
    if let Some((key, at)) = &nonce_key {
        match jarida_audience::throttle::hit(&app.db, key, 1, *at).await {
            Ok(1) => {}
            Ok(_) => {
                tracing::warn!(relay, "webhook refused: a signature seen before");
                return StatusCode::UNAUTHORIZED.into_response();
            }
            Err(e) => {
                tracing::error!(relay, error = %e, "webhook: remembering its signature failed");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    }
    let reports = checked.reports;
    let source = format!("webhook:{relay}");
    let mut acted = 0;
    for report in &reports {
        let outcome = match ingest_relayed(
            &app.db,
            &app.secret,
            app.cfg.bounce_rules,
            report,
            &source,
            now,
        )
        .await
        {
            Ok(o) => o,
            Err(e) => {
                // The relay sends it again later (what was recorded stays recorded once), so its
                // signature must be taken then.
                if let Some((key, _)) = &nonce_key
                    && let Err(e) = jarida_audience::throttle::forget(&app.db, key).await
                {
                    tracing::warn!(error = %e, "webhook: forgetting its signature");
                }
                tracing::error!(relay, error = %e, "webhook: recording returned mail failed");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        };
        if matches!(outcome, Outcome::Applied { .. }) {
            acted += 1;
        }
        if let Err(e) = alert_owners(&app.db, &app.notify, &app.mail, &outcome).await {
            tracing::warn!(error = %e, "alerting the owners");
        }
    }
    tracing::info!(relay, events = reports.len(), acted, "webhook taken");
    StatusCode::NO_CONTENT.into_response()
}

/// The answer to a request that did not check: 401 when its signature or credentials failed
/// (nothing read), 503 when what checking needs could not be fetched (the relay tries again),
/// 400 otherwise.
fn refused(relay: &str, e: HookError) -> Response {
    match e {
        HookError::Unauthenticated(_) => {
            tracing::warn!(relay, error = %e, "webhook refused: nothing read");
            StatusCode::UNAUTHORIZED.into_response()
        }
        HookError::Fetch(_) => {
            tracing::warn!(relay, error = %e, "webhook: could not check it now");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        HookError::Key(..) | HookError::Malformed(..) => {
            tracing::warn!(relay, error = %e, "webhook refused");
            (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
    }
}

/// An SNS request for Amazon SES: its reports once checked; `None` when it asked for something
/// else, done (a subscription confirmed).
async fn sns(
    app: &AppRef,
    hook: &hooks::Hook,
    body: &[u8],
    now: i64,
) -> Result<Option<hooks::Checked>, Response> {
    let m = sns::envelope(hook, body, now).map_err(|e| refused("ses", e))?;
    let cert = app
        .sns_certificates
        .get(&m.signing_cert_url)
        .await
        .map_err(|e| refused("ses", e))?;
    match sns::read(&m, &cert).map_err(|e| refused("ses", e))? {
        sns::SnsAction::Reports(reports) => Ok(Some(hooks::Checked {
            reports,
            nonce: None,
        })),
        sns::SnsAction::Confirm(url) => {
            sns::confirm(&url).await.map_err(|e| refused("ses", e))?;
            tracing::info!(topic = %m.topic_arn, "SNS subscription confirmed");
            Ok(None)
        }
        sns::SnsAction::Nothing => Ok(None),
    }
}
