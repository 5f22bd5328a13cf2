//! The language a request is in, as an extractor: the first segment of the path (`/ar/newsletter/…`)
//! parsed into a [`Lang`]. A path in no language of the site is refused with the site's 404 page
//! before the handler runs, so handlers never see an unknown language.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use jarida_core::Lang;

use crate::AppRef;

pub struct SiteLang(pub Lang);

impl FromRequestParts<AppRef> for SiteLang {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppRef) -> Result<Self, Self::Rejection> {
        let first = parts
            .uri
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("");
        match Lang::parse(first) {
            Some(l) => Ok(SiteLang(l)),
            None => Err(crate::public::error_page(
                app,
                app.cfg.default_lang,
                StatusCode::NOT_FOUND,
            )),
        }
    }
}
