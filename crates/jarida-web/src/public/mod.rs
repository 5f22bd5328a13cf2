//! The public site: one handler answers from the page cache when it can, and otherwise renders the
//! page `page::parse` names from the database and keeps it. Here: the request flow, redirects and
//! error pages; `view` (what templates see), `lists` (home and listings), `article` (the article
//! and its plain text) and `media` (files under `/media/`).

mod article;
mod lists;
mod media;
mod search;
mod view;

use crate::cache::Cached;
use crate::error::WebError;
use crate::page::{self, FeedFormat, Page};
use crate::{App, AppRef, feeds};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jarida_content::markdown::wrap;
use jarida_content::repo::{self, Filter, Taxonomy};
use jarida_content::{Kind, Post, PostSummary};
use jarida_core::Lang;
use minijinja::Value;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, Time};

use article::*;
use lists::*;
use media::*;
use view::*;
pub(crate) use view::{Link, Meta, iso, other_lang};

pub(crate) const HTML: &str = "text/html; charset=utf-8";

pub(crate) const TEXT: &str = "text/plain; charset=utf-8";

/// Pages may change with any edit: browsers revalidate every time, which the ETag makes cheap.
pub(crate) const REVALIDATE: &str = "no-cache";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one path segment (Arabic slugs and tags become `%D8…`).
pub(crate) fn enc(seg: &str) -> String {
    utf8_percent_encode(seg, SEGMENT).to_string()
}

// Built once per cache miss and moved straight into an Arc: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Out {
    Page(Cached),
    Redirect(String),
}

pub(crate) type Res = Result<Out, WebError>;

pub async fn handle(State(app): State<AppRef>, req: Request) -> Response {
    // The request by reference: the HeaderMap extractor would copy every header on the hot path.
    let (method, uri, headers) = (req.method(), req.uri(), req.headers());
    if method != Method::GET && method != Method::HEAD {
        let mut r = StatusCode::METHOD_NOT_ALLOWED.into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let path = uri.path();
    // A page view, counted where the page is served from the cache or made for it.
    let count = |page: &Cached| {
        if page.page_view && method == Method::GET {
            app.views.hit(
                path,
                uri.query(),
                headers.get(header::USER_AGENT).map(|v| v.as_bytes()),
                headers.get(header::REFERER).map(|v| v.as_bytes()),
            );
        }
    };
    // WordPress's plain permalinks (`/?p=123`) name a post by query, which the page cache ignores.
    if (path == "/" || path == "/index.php")
        && let Some(q) = uri.query()
        && jarida_content::redirects::is_wordpress_query(q)
        && let Some(to) = old_address(&app, path, Some(q)).await
    {
        return moved(&to);
    }
    // Search answers a query string: never from the page cache, never counted as a view.
    if let Some(lang) = path
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix("/search"))
        .and_then(Lang::parse)
    {
        return search::page(&app, lang, uri.query(), headers).await;
    }
    if let Some(page) = app.cache.get(path) {
        count(&page);
        return page.respond(headers);
    }
    if let Some(name) = path.strip_prefix("/media/") {
        return media(&app, name, headers).await;
    }
    // An old address spelled with percent-escapes the site would first respell (WordPress writes
    // Arabic slugs as lower-case `%d8%a3…`): one redirect to its page, not two.
    if path.contains('%')
        && Lang::parse(path.trim_start_matches('/').split('/').next().unwrap_or("")).is_none()
        && let Some(to) = old_address(&app, path, None).await
    {
        return moved(&to);
    }
    let version = app.cache.version();
    match route(&app, path).await {
        Ok(Out::Page(page)) => {
            let page = Arc::new(page);
            app.cache.put(path.to_string(), version, page.clone());
            if page.needs_compression() {
                let (app, path, page) = (app.clone(), path.to_string(), page.clone());
                tokio::task::spawn_blocking(move || {
                    app.cache.put(path, version, Arc::new(page.compressed()));
                });
            }
            count(&page);
            page.respond(headers)
        }
        Ok(Out::Redirect(to)) => redirect(&to),
        Err(e) => {
            if let WebError::Internal(e) = &e {
                tracing::error!(path, error = %format!("{e:#}"), "page failed");
            }
            if matches!(e, WebError::NotFound)
                && let Some(to) = old_address(&app, path, None).await
            {
                return moved(&to);
            }
            let status = match e {
                WebError::NotFound | WebError::NoSuch(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error_page(&app, lang_of(&app, path), status)
        }
    }
}

/// Only ever a path on this site: redirects are built from our own routes, never from input.
fn redirect(to: &str) -> Response {
    let mut r = StatusCode::PERMANENT_REDIRECT.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Where an old address (of an imported site, or one an editor added) now leads. Only asked for
/// what would otherwise be a 404, so the site's own pages always win.
async fn old_address(app: &App, path: &str, query: Option<&str>) -> Option<String> {
    let key = jarida_content::redirects::key(path, query)?;
    match jarida_content::redirects::find(&app.db, &key).await {
        Ok(to) => to,
        Err(e) => {
            tracing::error!(error = %e, "redirect lookup failed");
            None
        }
    }
}

/// A permanent redirect for an old address (301, which every crawler and old browser reads as
/// "moved for good"). The target is a path of this site, checked when it was stored; Arabic
/// slugs are percent-encoded for the header.
fn moved(to: &str) -> Response {
    const KEEP: &AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'<')
        .add(b'>');
    let mut r = StatusCode::MOVED_PERMANENTLY.into_response();
    if jarida_content::redirects::check_target(to).is_ok()
        && let Ok(v) = HeaderValue::from_str(&utf8_percent_encode(to, KEEP).to_string())
    {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

/// The language a path is in (its first segment), else the site's.
pub(crate) fn lang_of(app: &App, path: &str) -> Lang {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    Lang::parse(first).unwrap_or(app.cfg.default_lang)
}

fn decode(seg: &str) -> Option<String> {
    percent_decode_str(seg)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

async fn route(app: &App, path: &str) -> Res {
    if let Some(a) = app.theme.asset_at(path) {
        return Ok(Out::Page(Cached::new(
            StatusCode::OK,
            a.content_type,
            IMMUTABLE,
            a.bytes.to_vec(),
        )));
    }
    // Browsers and feed readers ask for this one by name; it cannot carry a hash, so it revalidates.
    if path == "/favicon.ico"
        && let Some(a) = app.theme.asset("favicon.svg")
    {
        return Ok(Out::Page(Cached::new(
            StatusCode::OK,
            a.content_type,
            "public, max-age=86400",
            a.bytes.to_vec(),
        )));
    }
    let css = &app.theme.css_url["/static/".len()..];
    match page::parse(path, app.cfg.default_lang, css) {
        Page::Redirect(to) => Ok(Out::Redirect(to)),
        Page::NotFound => Err(WebError::NotFound),
        Page::Robots => Ok(Out::Page(robots(app))),
        Page::Sitemap => feeds::sitemap(app).await,
        Page::Stylesheet => Ok(Out::Page(Cached::new(
            StatusCode::OK,
            "text/css; charset=utf-8",
            IMMUTABLE,
            app.theme.css.clone(),
        ))),
        Page::Home { lang, page } => home(app, lang, page).await,
        Page::Feed { lang, kind, format } => {
            let format = match format {
                FeedFormat::Rss => feeds::Format::Rss,
                FeedFormat::Atom => feeds::Format::Atom,
                FeedFormat::Json => feeds::Format::Json,
            };
            feeds::feed(app, lang, kind, format).await
        }
        Page::Support { lang } => support(app, lang),
        Page::Newsletter { lang } => newsletter(app, lang).await,
        Page::EditionsFeed { lang, atom } => crate::editions::feed(app, lang, atom).await,
        Page::Edition { lang, number } => crate::editions::page(app, lang, &number).await,
        Page::ArchiveIndex { lang } => archive_index(app, lang).await,
        Page::ArchiveMonth {
            lang,
            year,
            month,
            page,
        } => archive_month(app, lang, year, month, page).await,
        Page::Kind { lang, kind, page } => kind_list(app, lang, kind, page).await,
        Page::Taxonomy {
            lang,
            tags,
            slug,
            page,
        } => {
            taxonomy(
                app,
                lang,
                if tags { "tags" } else { "authors" },
                &slug,
                page,
            )
            .await
        }
        Page::ArticleText { lang, slug } => article_text(app, lang, &slug).await,
        Page::Article { lang, slug } => article(app, lang, &slug).await,
    }
}

fn robots(app: &App) -> Cached {
    let body = format!(
        "User-agent: *\nAllow: /\nDisallow: /setup/\n\nSitemap: {}/sitemap.xml\n",
        app.cfg.base_url
    );
    Cached::new(StatusCode::OK, TEXT, REVALIDATE, body.into_bytes())
}

/// A 404 or 500 in the site's look. Built without the database, so it works when the database
/// does not.
pub(crate) fn error_page(app: &App, lang: Lang, status: StatusCode) -> Response {
    let (title_key, text_key) = if status == StatusCode::NOT_FOUND {
        ("not-found-title", "not-found-text")
    } else {
        ("error-title", "error-text")
    };
    let meta = Meta {
        title: app.t(lang, title_key),
        noindex: true,
        ..Default::default()
    };
    let mut ctx = app.base(lang, meta, None, None);
    ctx.insert("heading", Value::from(app.t(lang, title_key)));
    ctx.insert("message", Value::from(app.t(lang, text_key)));
    let body = app
        .theme
        .render("error.html", Value::from(ctx))
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "error page template failed");
            format!(
                "<!doctype html><title>{}</title><h1>{}</h1>",
                status.as_u16(),
                status.as_u16()
            )
        });
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(HTML));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
