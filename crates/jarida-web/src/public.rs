//! The public site: one handler parses the path, answers from the page cache when it can, and
//! otherwise renders the page from the database and keeps it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jarida_content::markdown::wrap;
use jarida_content::repo::{self, Filter, Taxonomy};
use jarida_content::{Kind, LANGS, Post, PostSummary, is_rtl};
use minijinja::Value;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::Serialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, Time};

use crate::cache::Cached;
use crate::page::{self, FeedFormat, Page};
use crate::{App, AppRef, feeds};

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

pub(crate) enum Fail {
    NotFound(String),
    Internal(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail::Internal(e.into())
    }
}

pub(crate) type Res = Result<Out, Fail>;

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
    if let Some(page) = app.cache.get(path) {
        return page.respond(headers);
    }
    if let Some(name) = path.strip_prefix("/media/") {
        return media(&app, name, headers).await;
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
            page.respond(headers)
        }
        Ok(Out::Redirect(to)) => redirect(&to),
        Err(Fail::NotFound(lang)) => error_page(&app, &lang, StatusCode::NOT_FOUND),
        Err(Fail::Internal(e)) => {
            tracing::error!(path, error = %format!("{e:#}"), "page failed");
            error_page(
                &app,
                &lang_of(&app, path),
                StatusCode::INTERNAL_SERVER_ERROR,
            )
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

fn lang_of(app: &App, path: &str) -> String {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    if LANGS.contains(&first) {
        first.to_string()
    } else {
        app.cfg.default_lang.clone()
    }
}

fn decode(seg: &str) -> Option<String> {
    percent_decode_str(seg)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

async fn route(app: &App, path: &str) -> Res {
    let nf = || Fail::NotFound(lang_of(app, path));
    let css = &app.theme.css_url["/static/".len()..];
    match page::parse(path, &app.cfg.default_lang, css) {
        Page::Redirect(to) => Ok(Out::Redirect(to)),
        Page::NotFound => Err(nf()),
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

async fn media(app: &App, name: &str, headers: &HeaderMap) -> Response {
    let lang = app.cfg.default_lang.clone();
    let name = match decode(name) {
        Some(n)
            if !n.is_empty() && !n.starts_with('.') && !n.contains('/') && !n.contains('\\') =>
        {
            n
        }
        _ => return error_page(app, &lang, StatusCode::NOT_FOUND),
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
        Err(_) => return error_page(app, &lang, StatusCode::NOT_FOUND),
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
    // An SVG opened on its own is a document that could run script: sandbox it.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    r
}

// ---------------------------------------------------------------------------------------------
// Views: what templates see.

#[derive(Serialize)]
pub(crate) struct Link {
    pub name: String,
    pub url: String,
}

#[derive(Serialize)]
struct Card {
    url: String,
    title: String,
    summary: String,
    cover: Option<String>,
    kind: &'static str,
    kind_label: String,
    kind_url: String,
    published_iso: String,
    published_display: String,
    authors: Vec<Link>,
}

#[derive(Serialize, Default)]
pub(crate) struct Meta {
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) canonical: String,
    pub(crate) alternates: Vec<Alt>,
    pub(crate) x_default: Option<String>,
    pub(crate) og_type: Option<&'static str>,
    pub(crate) image: Option<String>,
    pub(crate) image_alt: Option<String>,
    pub(crate) jsonld: Option<String>,
    pub(crate) published_iso: Option<String>,
    pub(crate) modified_iso: Option<String>,
    pub(crate) kind: Option<&'static str>,
    pub(crate) noindex: bool,
}

impl Meta {
    /// A page for one reader (confirmation, preferences): titled, kept out of search engines.
    pub(crate) fn private(title: String) -> Meta {
        Meta {
            title,
            noindex: true,
            ..Default::default()
        }
    }
}

#[derive(Serialize)]
pub(crate) struct Alt {
    lang: String,
    url: String,
}

#[derive(Serialize)]
struct Pagination {
    page: i64,
    pages: i64,
    newer: Option<String>,
    older: Option<String>,
}

pub(crate) fn iso(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub(crate) fn other_lang(lang: &str) -> &'static str {
    if lang == "ar" { "en" } else { "ar" }
}

impl App {
    pub(crate) fn abs(&self, path: &str) -> String {
        format!("{}{}", self.cfg.base_url, path)
    }

    pub(crate) fn t(&self, lang: &str, key: &str) -> String {
        self.theme.i18n.t(lang, key, &[])
    }

    pub(crate) fn post_url(&self, lang: &str, slug: &str) -> String {
        format!("/{lang}/{}", enc(slug))
    }

    pub(crate) fn authors(&self, lang: &str, names: &[jarida_content::Named]) -> Vec<Link> {
        names
            .iter()
            .map(|a| Link {
                name: a.name.clone(),
                url: format!("/{lang}/authors/{}/", enc(&a.slug)),
            })
            .collect()
    }

    fn card(&self, p: &PostSummary) -> Card {
        Card {
            url: self.post_url(&p.lang, &p.slug),
            title: p.title.clone(),
            summary: p.summary.clone(),
            cover: p.cover.clone(),
            kind: p.kind.as_str(),
            kind_label: self.t(&p.lang, &format!("kind-{}", p.kind.as_str())),
            kind_url: format!("/{}/{}/", p.lang, p.kind.plural()),
            published_iso: iso(p.published_at),
            published_display: self.theme.i18n.date(&p.lang, p.published_at),
            authors: self.authors(&p.lang, &p.authors),
        }
    }

    /// The variables every page template gets. `same_path_other` is this page's path in the other
    /// language when it has one there.
    pub(crate) fn base(
        &self,
        lang: &str,
        mut meta: Meta,
        current: Option<&str>,
        other_path: Option<String>,
    ) -> BTreeMap<&'static str, Value> {
        let other = other_lang(lang);
        let nav = [("home", format!("/{lang}/"), "nav-home")]
            .into_iter()
            .chain(
                Kind::ALL
                    .iter()
                    .map(|k| (k.plural(), format!("/{lang}/{}/", k.plural()), "")),
            )
            .chain([
                ("support", format!("/{lang}/support/"), "nav-support"),
                (
                    "newsletter",
                    format!("/{lang}/newsletter/"),
                    "nav-newsletter",
                ),
            ])
            .map(|(id, url, key)| {
                let key = if key.is_empty() {
                    format!("nav-{id}")
                } else {
                    key.to_string()
                };
                json!({ "url": url, "label": self.t(lang, &key), "current": current == Some(id) })
            })
            .collect::<Vec<_>>();
        if meta.canonical.is_empty() {
            meta.canonical = self.abs(&format!("/{lang}/"));
        }
        let mut m = BTreeMap::new();
        m.insert("lang", Value::from(lang));
        m.insert("dir", Value::from(if is_rtl(lang) { "rtl" } else { "ltr" }));
        m.insert(
            "locale",
            Value::from(if lang == "ar" { "ar_AR" } else { "en_US" }),
        );
        m.insert(
            "site",
            crate::ser(json!({
                "name": self.cfg.name(lang),
                "description": self.cfg.description(lang),
                "base_url": self.cfg.base_url,
            })),
        );
        m.insert("nav", crate::ser(nav));
        m.insert(
            "other_lang",
            crate::ser(json!({
                "code": other,
                "dir": if is_rtl(other) { "rtl" } else { "ltr" },
                "name": self.t(other, "lang-name"),
                "url": other_path.unwrap_or_else(|| format!("/{other}/")),
            })),
        );
        m.insert(
            "feeds",
            crate::ser(json!({
                "rss": format!("/{lang}/feed.xml"),
                "atom": format!("/{lang}/atom.xml"),
                "json": format!("/{lang}/feed.json"),
            })),
        );
        m.insert("assets", crate::ser(json!({ "css": self.theme.css_url })));
        m.insert("home_url", Value::from(format!("/{lang}/")));
        m.insert("support_url", Value::from(format!("/{lang}/support/")));
        m.insert(
            "newsletter_url",
            Value::from(format!("/{lang}/newsletter/")),
        );
        m.insert("archive_url", Value::from(format!("/{lang}/archive/")));
        m.insert("year", Value::from(OffsetDateTime::now_utc().year()));
        m.insert("page", crate::ser(&meta));
        m
    }

    pub(crate) fn html(&self, template: &str, ctx: BTreeMap<&'static str, Value>) -> Res {
        let body = self.theme.render(template, Value::from(ctx))?;
        Ok(Out::Page(Cached::new(
            StatusCode::OK,
            HTML,
            REVALIDATE,
            body.into_bytes(),
        )))
    }

    /// The context of a fixed section page (`/<lang>/<section>/`) that exists in both languages.
    fn section(
        &self,
        lang: &str,
        section: &str,
        title: String,
        description: String,
        current: Option<&str>,
    ) -> BTreeMap<&'static str, Value> {
        let (alternates, x_default) = self.both(|l| format!("/{l}/{section}/"));
        let meta = Meta {
            title,
            description,
            canonical: self.abs(&format!("/{lang}/{section}/")),
            alternates,
            x_default,
            ..Default::default()
        };
        self.base(
            lang,
            meta,
            current,
            Some(format!("/{}/{section}/", other_lang(lang))),
        )
    }

    /// `hreflang` alternates for a path that exists in every language.
    fn both(&self, path_in: impl Fn(&str) -> String) -> (Vec<Alt>, Option<String>) {
        let alts = LANGS
            .iter()
            .map(|l| Alt {
                lang: l.to_string(),
                url: self.abs(&path_in(l)),
            })
            .collect();
        (alts, Some(self.abs(&path_in(&self.cfg.default_lang))))
    }
}

fn paginate(total: i64, page: i64, per: i64, base: &str) -> Result<Pagination, ()> {
    let pages = ((total + per - 1) / per).max(1);
    if page > pages {
        return Err(());
    }
    let at = |n: i64| {
        if n == 1 {
            base.to_string()
        } else {
            format!("{base}page/{n}/")
        }
    };
    Ok(Pagination {
        page,
        pages,
        newer: (page > 1).then(|| at(page - 1)),
        older: (page < pages).then(|| at(page + 1)),
    })
}

// ---------------------------------------------------------------------------------------------
// Pages.

async fn home(app: &App, lang: &str, page: i64) -> Res {
    let per = app.cfg.per_page;
    let featured = if page == 1 {
        let f = Filter {
            lang: lang.into(),
            featured: Some(true),
            ..Default::default()
        };
        repo::list(&app.db, &f, 3, 0).await?.0
    } else {
        Vec::new()
    };
    let skip: Vec<i64> = featured.iter().map(|p| p.id).collect();
    let f = Filter {
        lang: lang.into(),
        ..Default::default()
    };
    let (posts, total) = repo::list(&app.db, &f, per, (page - 1) * per).await?;
    let pagination = paginate(total, page, per, &format!("/{lang}/"))
        .map_err(|_| Fail::NotFound(lang.into()))?;
    let path = |l: &str| {
        if page == 1 {
            format!("/{l}/")
        } else {
            format!("/{l}/page/{page}/")
        }
    };
    let (alternates, x_default) = app.both(path);
    let meta = Meta {
        title: if page == 1 { String::new() } else { app.theme.i18n.t(lang, "page-of", &[("page", page.into()), ("pages", pagination.pages.into())]) },
        description: app.cfg.description(lang).to_string(),
        canonical: app.abs(&path(lang)),
        alternates,
        x_default,
        jsonld: (page == 1).then(|| jsonld(&json!({
            "@context": "https://schema.org",
            "@type": "WebSite",
            "name": app.cfg.name(lang),
            "url": app.abs(&format!("/{lang}/")),
            "inLanguage": lang,
            "publisher": { "@type": "NewsMediaOrganization", "name": app.cfg.name(lang), "url": app.cfg.base_url },
        }))),
        ..Default::default()
    };
    let mut ctx = app.base(lang, meta, Some("home"), Some(path(other_lang(lang))));
    ctx.insert(
        "featured",
        crate::ser(featured.iter().map(|p| app.card(p)).collect::<Vec<_>>()),
    );
    let posts: Vec<Card> = posts
        .iter()
        .filter(|p| !skip.contains(&p.id))
        .map(|p| app.card(p))
        .collect();
    ctx.insert("posts", crate::ser(posts));
    ctx.insert("pagination", crate::ser(pagination));
    app.html("home.html", ctx)
}

struct ListSpec<'a> {
    heading: String,
    base: String,
    filter: Filter,
    current: Option<&'a str>,
    feed_url: Option<String>,
    other_base: Option<String>,
    kind: Option<&'static str>,
    /// A listing whose URL comes from a parameter (a month) is a 404 without posts: otherwise
    /// every made-up month would render, and be cached, as an empty page.
    empty_is_missing: bool,
}

async fn listing(app: &App, lang: &str, spec: ListSpec<'_>, page: i64) -> Res {
    let per = app.cfg.per_page;
    let (posts, total) = repo::list(&app.db, &spec.filter, per, (page - 1) * per).await?;
    if total == 0 && spec.empty_is_missing {
        return Err(Fail::NotFound(lang.into()));
    }
    let pagination =
        paginate(total, page, per, &spec.base).map_err(|_| Fail::NotFound(lang.into()))?;
    let at = |base: &str| {
        if page == 1 {
            base.to_string()
        } else {
            format!("{base}page/{page}/")
        }
    };
    let (alternates, x_default) = match &spec.other_base {
        Some(ob) => {
            let mut v = vec![
                Alt {
                    lang: lang.into(),
                    url: app.abs(&at(&spec.base)),
                },
                Alt {
                    lang: other_lang(lang).into(),
                    url: app.abs(&at(ob)),
                },
            ];
            v.sort_by(|a, b| a.lang.cmp(&b.lang));
            let def = v
                .iter()
                .find(|a| a.lang == app.cfg.default_lang)
                .map(|a| a.url.clone());
            (v, def)
        }
        None => (Vec::new(), None),
    };
    let title = if page == 1 {
        spec.heading.clone()
    } else {
        format!(
            "{} · {}",
            spec.heading,
            app.theme.i18n.t(
                lang,
                "page-of",
                &[("page", page.into()), ("pages", pagination.pages.into())]
            )
        )
    };
    let meta = Meta {
        title,
        canonical: app.abs(&at(&spec.base)),
        alternates,
        x_default,
        kind: spec.kind,
        ..Default::default()
    };
    let mut ctx = app.base(lang, meta, spec.current, spec.other_base.as_deref().map(at));
    ctx.insert("heading", Value::from(spec.heading));
    ctx.insert("total", Value::from(total));
    ctx.insert("feed_url", crate::ser(&spec.feed_url));
    ctx.insert(
        "posts",
        crate::ser(posts.iter().map(|p| app.card(p)).collect::<Vec<_>>()),
    );
    ctx.insert("pagination", crate::ser(pagination));
    app.html("list.html", ctx)
}

async fn kind_list(app: &App, lang: &str, kind: Kind, page: i64) -> Res {
    let spec = ListSpec {
        heading: app.t(lang, &format!("title-{}", kind.plural())),
        base: format!("/{lang}/{}/", kind.plural()),
        filter: Filter {
            lang: lang.into(),
            kind: Some(kind),
            ..Default::default()
        },
        current: Some(kind.plural()),
        feed_url: Some(format!("/{lang}/{}/feed.xml", kind.plural())),
        other_base: Some(format!("/{}/{}/", other_lang(lang), kind.plural())),
        kind: Some(kind.as_str()),
        empty_is_missing: false,
    };
    listing(app, lang, spec, page).await
}

async fn taxonomy(app: &App, lang: &str, tax: &str, slug: &str, page: i64) -> Res {
    let what = if tax == "tags" {
        Taxonomy::Tag
    } else {
        Taxonomy::Author
    };
    let name = repo::name_of(&app.db, what, lang, slug)
        .await?
        .ok_or_else(|| Fail::NotFound(lang.into()))?;
    let (heading, filter) = match what {
        Taxonomy::Tag => (
            app.theme.i18n.t(lang, "tag-title", &[("tag", name.into())]),
            Filter {
                lang: lang.into(),
                tag: Some(slug.into()),
                ..Default::default()
            },
        ),
        Taxonomy::Author => (
            app.theme
                .i18n
                .t(lang, "author-title", &[("author", name.into())]),
            Filter {
                lang: lang.into(),
                author: Some(slug.into()),
                ..Default::default()
            },
        ),
    };
    let spec = ListSpec {
        heading,
        base: format!("/{lang}/{tax}/{}/", enc(slug)),
        filter,
        current: None,
        feed_url: None,
        other_base: None,
        kind: None,
        empty_is_missing: true,
    };
    listing(app, lang, spec, page).await
}

async fn archive_index(app: &App, lang: &str) -> Res {
    let months = repo::months(&app.db, lang).await?;
    let mut ctx = app.section(
        lang,
        "archive",
        app.t(lang, "nav-archive"),
        String::new(),
        None,
    );
    let list: Vec<_> = months
        .iter()
        .map(|(y, m, n)| {
            let count = if lang == "ar" { crate::i18n::arabic_digits(&n.to_string()) } else { n.to_string() };
            json!({ "url": format!("/{lang}/archive/{y}/{m:02}/"), "label": app.theme.i18n.month_year(lang, *y, *m), "count": count })
        })
        .collect();
    ctx.insert("months", crate::ser(list));
    app.html("archive.html", ctx)
}

async fn archive_month(app: &App, lang: &str, year: i32, month: u8, page: i64) -> Res {
    let nf = || Fail::NotFound(lang.into());
    let month = Month::try_from(month).map_err(|_| nf())?;
    let start = Date::from_calendar_date(year, month, 1).map_err(|_| nf())?;
    let end = if month == Month::December {
        Date::from_calendar_date(year + 1, Month::January, 1)
    } else {
        Date::from_calendar_date(year, month.next(), 1)
    }
    .map_err(|_| nf())?;
    let (y, m) = (format!("{year:04}"), format!("{:02}", month as u8));
    let between = (
        start.with_time(Time::MIDNIGHT).assume_utc(),
        end.with_time(Time::MIDNIGHT).assume_utc(),
    );
    let spec = ListSpec {
        heading: app.theme.i18n.month_year(lang, year, month as u8),
        base: format!("/{lang}/archive/{y}/{m}/"),
        filter: Filter {
            lang: lang.into(),
            between: Some(between),
            ..Default::default()
        },
        current: None,
        feed_url: None,
        other_base: Some(format!("/{}/archive/{y}/{m}/", other_lang(lang))),
        kind: None,
        empty_is_missing: true,
    };
    listing(app, lang, spec, page).await
}

fn support(app: &App, lang: &str) -> Res {
    let (title, intro) = (app.t(lang, "support-title"), app.t(lang, "support-intro"));
    let mut ctx = app.section(lang, "support", title, intro, Some("support"));
    ctx.insert(
        "support",
        crate::ser(json!({ "providers": app.cfg.providers, "bank_details": app.cfg.bank_details })),
    );
    app.html("support.html", ctx)
}

async fn newsletter(app: &App, lang: &str) -> Res {
    let (title, pitch) = (
        app.t(lang, "nav-newsletter"),
        app.t(lang, "newsletter-pitch"),
    );
    let mut ctx = app.section(lang, "newsletter", title, pitch, Some("newsletter"));
    ctx.insert("editions", crate::editions::past_links(app, lang).await?);
    ctx.insert(
        "editions_feed",
        Value::from(format!("/{lang}/newsletter/feed.xml")),
    );
    app.html("newsletter.html", ctx)
}

/// JSON for a `<script type="application/ld+json">` block: `<` and `>` are escaped so no string in
/// it can close the element.
fn jsonld(v: &serde_json::Value) -> String {
    serde_json::to_string(v)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

async fn article(app: &App, lang: &str, slug: &str) -> Res {
    let post = repo::published(&app.db, lang, slug)
        .await?
        .ok_or_else(|| Fail::NotFound(lang.into()))?;
    let translations = repo::translations(&app.db, &post).await?;
    let i18n = &app.theme.i18n;
    let url = app.post_url(lang, &post.slug);
    let published = post.published_at.unwrap_or(post.updated_at);
    let modified = post.modified_at();
    let mut alternates: Vec<Alt> = std::iter::once(Alt {
        lang: lang.into(),
        url: app.abs(&url),
    })
    .chain(translations.iter().map(|(l, s)| Alt {
        lang: l.clone(),
        url: app.abs(&app.post_url(l, s)),
    }))
    .collect();
    alternates.sort_by(|a, b| a.lang.cmp(&b.lang));
    let x_default = alternates
        .iter()
        .find(|a| a.lang == app.cfg.default_lang)
        .map(|a| a.url.clone());
    let alternates = if alternates.len() > 1 {
        alternates
    } else {
        Vec::new()
    };
    let other_path = translations
        .iter()
        .find(|(l, _)| l == other_lang(lang))
        .map(|(l, s)| app.post_url(l, s));
    let person = |a: &jarida_content::Named| json!({ "@type": "Person", "name": a.name, "url": app.abs(&format!("/{lang}/authors/{}/", enc(&a.slug))) });
    let based_on: Vec<_> = post
        .sources
        .iter()
        .map(|s| {
            let mut v = json!({ "@type": "CreativeWork", "publisher": { "@type": "Organization", "name": s.publisher } });
            if !s.url.is_empty() {
                v["url"] = json!(s.url);
            }
            if !s.title.is_empty() {
                v["name"] = json!(s.title);
            }
            if !s.authors.is_empty() {
                v["author"] = json!(s.authors.split(',').map(|a| json!({ "@type": "Person", "name": a.trim() })).collect::<Vec<_>>());
            }
            if let Some(d) = &s.date {
                v["datePublished"] = json!(d);
            }
            v
        })
        .collect();
    let cover_abs = post.cover.as_ref().map(|c| {
        if c.starts_with('/') {
            app.abs(c)
        } else {
            c.clone()
        }
    });
    let mut ld = json!({
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": post.title,
        "description": post.summary,
        "inLanguage": lang,
        "url": app.abs(&url),
        "mainEntityOfPage": app.abs(&url),
        "datePublished": iso(published),
        "dateModified": iso(modified),
        "articleSection": app.t(lang, &format!("kind-{}", post.kind.as_str())),
        "wordCount": post.body_text.split_whitespace().count(),
        "author": post.authors.iter().map(person).collect::<Vec<_>>(),
        "publisher": { "@type": "NewsMediaOrganization", "name": app.cfg.name(lang), "url": app.cfg.base_url },
        "keywords": post.tags.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
    });
    if let Some(c) = &cover_abs {
        ld["image"] = json!([c]);
    }
    if !based_on.is_empty() {
        ld["isBasedOn"] = json!(based_on);
        ld["citation"] = json!(based_on);
    }
    if !post.corrections.is_empty() {
        ld["correction"] = json!(post.corrections.iter().map(|c| json!({ "@type": "CorrectionComment", "text": c.note, "datePublished": iso(c.at) })).collect::<Vec<_>>());
    }
    if let Some(k) = &post.translation_key
        && !translations.is_empty()
    {
        ld["workTranslation"] = json!(translations.iter().map(|(l, s)| json!({ "@type": "NewsArticle", "inLanguage": l, "url": app.abs(&app.post_url(l, s)) })).collect::<Vec<_>>());
        let _ = k;
    }
    let meta = Meta {
        title: post.title.clone(),
        description: post.summary.clone(),
        canonical: app.abs(&url),
        alternates,
        x_default,
        og_type: Some("article"),
        image: cover_abs,
        image_alt: post.cover_alt.clone(),
        jsonld: Some(jsonld(&ld)),
        published_iso: Some(iso(published)),
        modified_iso: Some(iso(modified)),
        kind: Some(post.kind.as_str()),
        noindex: false,
    };
    let mut ctx = app.base(lang, meta, Some(post.kind.plural()), other_path);
    let show_modified = modified.unix_timestamp() - published.unix_timestamp() > 3600;
    ctx.insert(
        "post",
        crate::ser(json!({
            "lang": lang,
            "title": post.title,
            "summary": post.summary,
            "kind": post.kind.as_str(),
            "kind_label": app.t(lang, &format!("kind-{}", post.kind.as_str())),
            "kind_url": format!("/{lang}/{}/", post.kind.plural()),
            "authors": app.authors(lang, &post.authors),
            "tags": post.tags.iter().map(|t| Link { name: t.name.clone(), url: format!("/{lang}/tags/{}/", enc(&t.slug)) }).collect::<Vec<_>>(),
            "published_iso": iso(published),
            "published_display": i18n.date(lang, published),
            "modified_iso": iso(modified),
            "modified_display": if show_modified { Some(i18n.date(lang, modified)) } else { None },
            "cover": post.cover,
            "cover_alt": post.cover_alt,
            "html": post.body_html,
            "txt_url": format!("{url}.txt"),
            "sources": post.sources.iter().map(|s| json!({
                "publisher": s.publisher, "authors": s.authors, "title": s.title, "url": s.url, "date": s.date,
                "date_display": s.date.as_deref().and_then(|d| jarida_content::frontmatter::parse_date(d).ok()).map(|d| i18n.date(lang, d)),
            })).collect::<Vec<_>>(),
            "corrections": post.corrections.iter().map(|c| json!({ "iso": iso(c.at), "display": i18n.date(lang, c.at), "note": c.note })).collect::<Vec<_>>(),
        })),
    );
    ctx.insert(
        "translations",
        crate::ser(
            translations
                .iter()
                .map(|(l, s)| json!({ "lang": l, "url": app.post_url(l, s), "dir": if is_rtl(l) { "rtl" } else { "ltr" }, "label": app.t(l, "read-in-this-language") }))
                .collect::<Vec<_>>(),
        ),
    );
    app.html("article.html", ctx)
}

/// The plain-text rendering of an article: what the newsletter's text part is made from.
pub(crate) fn post_text(app: &App, post: &Post) -> String {
    let lang = post.lang.as_str();
    let i18n = &app.theme.i18n;
    let underline = |s: &str, c: char| {
        std::iter::repeat_n(c, s.chars().count().clamp(3, 72)).collect::<String>()
    };
    let mut out = format!("{}\n{}\n\n", post.title, underline(&post.title, '='));
    if !post.summary.is_empty() {
        out.push_str(&wrap(&post.summary, "", ""));
        out.push('\n');
    }
    let mut meta = Vec::new();
    if !post.authors.is_empty() {
        let names: Vec<&str> = post.authors.iter().map(|a| a.name.as_str()).collect();
        meta.push(format!(
            "{} {}",
            app.t(lang, "by"),
            names.join(&app.t(lang, "list-sep"))
        ));
    }
    if let Some(p) = post.published_at {
        meta.push(i18n.date(lang, p));
    }
    if !meta.is_empty() {
        out.push_str(&format!("{}\n", meta.join(" · ")));
    }
    out.push_str(&format!("{}\n\n", app.abs(&app.post_url(lang, &post.slug))));
    if !post.corrections.is_empty() {
        let h = app.t(lang, "corrections-heading");
        out.push_str(&format!("{h}\n{}\n\n", underline(&h, '-')));
        for c in &post.corrections {
            out.push_str(&wrap(
                &format!("{}: {}", i18n.date(lang, c.at), c.note),
                "- ",
                "  ",
            ));
        }
        out.push('\n');
    }
    out.push_str(post.body_text.trim_end());
    out.push_str("\n\n");
    if !post.sources.is_empty() {
        let h = app.t(lang, "sources-heading");
        out.push_str(&format!("{h}\n{}\n\n", underline(&h, '-')));
        for s in &post.sources {
            let mut line = format!("- {}", s.publisher);
            if !s.authors.is_empty() {
                line.push_str(&format!(", {}", s.authors));
            }
            if !s.title.is_empty() {
                line.push_str(&format!(": {}", s.title));
            }
            if let Some(d) = &s.date {
                line.push_str(&format!(" ({d})"));
            }
            out.push_str(&wrap(&line, "- ", "  "));
            if !s.url.is_empty() {
                out.push_str(&format!("  {}\n", s.url));
            }
        }
    }
    out.trim_end().to_string() + "\n"
}

async fn article_text(app: &App, lang: &str, slug: &str) -> Res {
    let post = repo::published(&app.db, lang, slug)
        .await?
        .ok_or_else(|| Fail::NotFound(lang.into()))?;
    Ok(Out::Page(Cached::new(
        StatusCode::OK,
        TEXT,
        REVALIDATE,
        post_text(app, &post).into_bytes(),
    )))
}

/// A 404 or 500 in the site's look. Built without the database, so it works when the database
/// does not.
pub(crate) fn error_page(app: &App, lang: &str, status: StatusCode) -> Response {
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
