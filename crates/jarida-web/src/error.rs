//! The one error type of the web side. A handler says what went wrong ([`WebError`]) and how the
//! client is answered ([`Answer`]): a page in the site's look and the reader's language, or the
//! API's JSON. Internal details are logged, never shown.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jarida_core::Lang;
use serde_json::json;

use crate::App;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    /// Not found, saying what was looked for (the API shows it).
    #[error("{0}")]
    NoSuch(String),
    /// A field of the request is wrong; the reason is shown as is.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The request does not fit the object's state (an edition already sent).
    #[error("{0}")]
    Conflict(String),
    #[error("unauthorized")]
    Unauthorized,
    /// Authenticated, but the role may not do this.
    #[error("forbidden")]
    Forbidden,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// How a failure is shown.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// The site's error page in this language.
    Html(Lang),
    /// `{"error": kind, "reason": …}` for the API.
    Json,
}

impl WebError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> WebError {
        WebError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> WebError {
        WebError::Internal(e.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound | WebError::NoSuch(_) => StatusCode::NOT_FOUND,
            WebError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Unauthorized => StatusCode::UNAUTHORIZED,
            WebError::Forbidden => StatusCode::FORBIDDEN,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn log(&self) {
        if let WebError::Internal(e) = self {
            tracing::error!(error = %format!("{e:#}"), "request failed");
        }
    }

    /// The API's answer.
    pub fn json(self) -> Response {
        self.log();
        let status = self.status();
        let body = match &self {
            WebError::NotFound => json!({ "error": "not_found", "reason": "not found" }),
            WebError::NoSuch(what) => json!({ "error": "not_found", "reason": what }),
            WebError::Invalid { field, reason } => {
                json!({ "error": "invalid", "field": field, "reason": reason })
            }
            WebError::Conflict(reason) => json!({ "error": "state", "reason": reason }),
            WebError::Unauthorized => {
                json!({ "error": "unauthorized", "reason": "send Authorization: Bearer <an API token>" })
            }
            WebError::Forbidden => {
                json!({ "error": "forbidden", "reason": "this token's role may not do this" })
            }
            WebError::Internal(_) => json!({ "error": "internal", "reason": "internal error" }),
        };
        let mut r = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }

    /// The site's page for this failure (404 or 500 for everything else a reader could meet).
    pub fn html(self, app: &App, lang: Lang) -> Response {
        self.log();
        let status = match self {
            WebError::NotFound | WebError::NoSuch(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        crate::public::error_page(app, lang, status)
    }

    pub fn answer(self, app: &App, how: Answer) -> Response {
        match how {
            Answer::Html(lang) => self.html(app, lang),
            Answer::Json => self.json(),
        }
    }
}

impl From<jarida_newsletter::NewsletterError> for WebError {
    fn from(e: jarida_newsletter::NewsletterError) -> WebError {
        use jarida_newsletter::NewsletterError as E;
        match e {
            E::NoEdition(_) | E::NoNewsletter(_) => WebError::NoSuch(e.to_string()),
            E::State { .. } => WebError::Conflict(e.to_string()),
            E::Invalid(reason) => WebError::invalid("body", reason),
            other => WebError::Internal(other.into()),
        }
    }
}

/// A content error shown to an editor: what they typed wrong, a conflict, a missing post; the
/// rest is ours.
impl From<jarida_content::ContentError> for WebError {
    fn from(e: jarida_content::ContentError) -> WebError {
        match e {
            jarida_content::ContentError::Invalid { field, reason } => {
                WebError::invalid(field, reason)
            }
            jarida_content::ContentError::Conflict { id, current } => WebError::Conflict(format!(
                "post {id} was saved by someone else since version you sent; it is now at version {current}"
            )),
            jarida_content::ContentError::NoPost(id) => WebError::NoSuch(format!("no post {id}")),
            other => WebError::internal(other),
        }
    }
}

macro_rules! internal_from {
    ($($t:ty),*) => {$(
        impl From<$t> for WebError {
            fn from(e: $t) -> WebError {
                WebError::Internal(e.into())
            }
        }
    )*};
}
internal_from!(
    jarida_store::StoreError,
    jarida_audience::AudienceError,
    jarida_mail::MailError,
    minijinja::Error,
    serde_json::Error
);

/// An API handler's error: answered as JSON without needing the app.
pub struct ApiError(pub WebError);

impl<E: Into<WebError>> From<E> for ApiError {
    fn from(e: E) -> ApiError {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn json_answers_hide_internals() {
        let r = WebError::internal(anyhow::anyhow!("password=hunter2")).json();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            !text.contains("hunter2") && text.contains("internal"),
            "{text}"
        );
        let r = WebError::invalid("subject", "is empty").json();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let r = WebError::Unauthorized.json();
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
