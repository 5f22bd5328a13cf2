//! `/media/<name>`: images and files posts use, straight from the media folder (content-addressed
//! names, so immutable caching), with a sandboxing CSP.

use super::*;

pub(super) async fn media(app: &App, name: &str, headers: &HeaderMap) -> Response {
    let lang = app.cfg.default_lang;
    let name = match decode(name) {
        Some(n)
            if !n.is_empty() && !n.starts_with('.') && !n.contains('/') && !n.contains('\\') =>
        {
            n
        }
        _ => return error_page(app, lang, StatusCode::NOT_FOUND),
    };
    // Media names carry a hash of their bytes, so the name is a strong validator.
    let etag = format!("\"{}\"", enc(&name));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(&etag))
    {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            r.headers_mut().insert(header::ETAG, v);
        }
        return r;
    }
    let bytes = match tokio::fs::read(app.cfg.media_dir.join(&name)).await {
        Ok(b) => b,
        Err(_) => return error_page(app, lang, StatusCode::NOT_FOUND),
    };
    let mime = mime_guess::from_path(&name).first_or_octet_stream();
    let mut r = Response::new(Body::from(bytes));
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // An SVG opened on its own is a document that could run script: sandbox it, and make it a
    // download (an <img> still shows it; a browser tab does not open it as a page of ours).
    if name.to_ascii_lowercase().ends_with(".svg") {
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    r
}
