//! `POST /api/v1/subscribers/import`: the CSV import over HTTP for holders of the API token.

use super::*;

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
    _: crate::api_auth::ApiToken,
    State(app): State<AppRef>,
    axum::extract::Query(q): axum::extract::Query<ImportQuery>,
    req: axum::extract::Request,
) -> Response {
    let lang = match requested_lang(&app, q.lang.as_deref()) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let body = match axum::body::to_bytes(req.into_body(), 200 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                Json(json!({ "error": "body", "reason": "larger than 200 MB or interrupted" })),
            )
                .into_response();
        }
    };
    let opts = jarida_audience::csv_io::ImportOptions {
        confirmed: q.confirmed,
        default_lang: lang.code().to_string(),
        mapping: None,
        confirm_ttl_secs: app.cfg.limits.confirm_ttl_secs,
        confirmation: Some(confirmation_composer(&app)),
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
        Err(AudienceError::Csv { line, reason }) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "error": "csv", "line": line, "reason": reason })),
            )
                .into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "API import failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": "internal" })),
            )
                .into_response();
        }
    };
    app.mail.wake();
    let confirmations = report.confirmations;
    Json(json!({
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
    .into_response()
}
