//! `POST /api/v1/subscribers/import`: the CSV import over HTTP for holders of the API token.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jarida_audience::AudienceError;
use jarida_core::Lang;
use serde_json::json;
use time::OffsetDateTime;

use super::auth::ReadersToken;
use crate::AppRef;
use crate::error::{ApiError, WebError};

#[derive(serde::Deserialize)]
pub struct ImportQuery {
    #[serde(default)]
    confirmed: bool,
    #[serde(default)]
    lang: Option<String>,
}

/// `POST /api/v1/subscribers/import?confirmed=truelang=en` with the CSV as the body: the same import
/// as `jarida subscribers import`, answered with its report.
pub(super) async fn import_api(
    // Checked before a byte of the body is read: only the token's holder may send 200 MB.
    _: ReadersToken,
    State(app): State<AppRef>,
    axum::extract::Query(q): axum::extract::Query<ImportQuery>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let lang = match q.lang.as_deref() {
        None => app.cfg.default_lang,
        Some(code) => Lang::parse(code)
            .ok_or_else(|| WebError::invalid("lang", format!("{code:?}: use en or ar")))?,
    };
    let body = match axum::body::to_bytes(req.into_body(), 200 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return Ok((
                StatusCode::PAYLOAD_TOO_LARGE,
                Json(json!({ "error": "body", "reason": "larger than 200 MB or interrupted" })),
            )
                .into_response());
        }
    };
    let opts = jarida_audience::csv_io::ImportOptions {
        confirmed: q.confirmed,
        default_lang: lang.code().to_string(),
        mapping: None,
        confirm_ttl_secs: app.cfg.limits.confirm_ttl_secs,
        confirmation: Some(app.notify.confirmation_composer()),
    };
    let report = match jarida_audience::csv_io::import(
        &app.db,
        &body[..],
        &opts,
        OffsetDateTime::now_utc(),
        |_| {},
    )
    .await
    {
        Ok(r) => r,
        // The file's own fault, with its line: the one error shape the import API adds.
        Err(AudienceError::Csv { line, reason }) => {
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "error": "csv", "line": line, "reason": reason })),
            )
                .into_response());
        }
        Err(e) => return Err(e.into()),
    };
    app.mail.wake();
    let confirmations = report.confirmations;
    Ok(Json(json!({
        "format": report.format,
        "rows": report.rows,
        "imported": report.imported,
        "already_subscribed": report.existing,
        "suppressed": report.suppressed,
        "duplicates": report.duplicates,
        "confirmation_emails": confirmations,
        "error_count": report.error_count,
        "errors": report.errors.iter().map(|(line, reason)| json!({ "line": line, "reason": reason })).collect::<Vec<_>>(),
    }))
    .into_response())
}
